/* test_state_backup.c - the state checked at open, backed up before a
 * mutating run, and read-only opens. */
#include <fcntl.h>
#include <sys/stat.h>

#include "helpers_fs.h"
#include "helpers_state.h"
#include "state_backup.h"

static int
setup(void **state)
{
	return th_db_setup(state, "korch-bak");
}

/* Pages 2 and 3 of path overwritten with bytes that are no b-tree. */
static void
clobber(const char *path)
{
	unsigned char junk[8192];
	size_t i;
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096), sizeof(junk));
	close(fd);
}

static void
test_backup_then_damage(void **state)
{
	struct fx *fx = *state;
	struct kstate *st;
	char bak[256], want[512];
	struct stat sb;
	int i;

	st = open_ok(fx->path);
	for (i = 0; i < 30; i++)	/* a few pages of runs */
		assert_int_equal(kstate_run_end(st, th_begin_run(st, "apply",
		    "korch apply a-rather-long-argument-to-fill-the-pages"),
		    KSTATE_RUN_CONVERGED, 0), KORCH_OK);
	assert_int_equal(kstate_backup(st, bak, sizeof(bak)), KORCH_OK);
	(void)snprintf(want, sizeof(want), "%s.bak", fx->path);
	assert_string_equal(bak, want);
	assert_int_equal(stat(bak, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* a second backup keeps the first as .bak.1 */
	assert_int_equal(kstate_backup(st, NULL, 0), KORCH_OK);
	(void)snprintf(want, sizeof(want), "%s.bak.1", fx->path);
	assert_int_equal(access(want, F_OK), 0);
	(void)snprintf(want, sizeof(want), "%s.bak.tmp", fx->path);
	assert_int_equal(access(want, F_OK), -1);
	kstate_close(st);

	clobber(fx->path);
	assert_int_equal(kstate_open(fx->path, &st), KORCH_ERR_STATE);
	(void)snprintf(want, sizeof(want), "%s is damaged", fx->path);
	assert_non_null(strstr(kstate_errmsg(st), want));
	(void)snprintf(want, sizeof(want), "cp %s %s", bak, fx->path);
	assert_non_null(strstr(kstate_errmsg(st), want));
	kstate_close(st);
	assert_int_equal(kstate_open_readonly(fx->path, &st), KORCH_ERR_STATE);
	assert_non_null(strstr(kstate_errmsg(st), "is damaged"));
	kstate_close(st);

	/* the backup is a whole database with every run */
	st = open_ok(bak);
	assert_int_equal(kstate_integrity_ok(st), KORCH_OK);
	kstate_close(st);
}

static void
test_readonly(void **state)
{
	struct fx *fx = *state;
	struct kstate *st;
	int64_t id;

	st = open_ok(fx->path);
	kstate_close(st);
	assert_int_equal(chmod(fx->path, 0444), 0);
	assert_int_equal(kstate_open_readonly(fx->path, &st), KORCH_OK);
	/* nothing can be recorded through it */
	assert_int_not_equal(kstate_run_begin(st, "apply", NULL, &id, NULL,
	    0), KORCH_OK);
	kstate_close(st);
	/* and it never creates a state */
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(kstate_open_readonly(fx->path, &st),
	    KORCH_ERR_SYSTEM);
	kstate_close(st);
	assert_int_equal(access(fx->path, F_OK), -1);
}

TH_MAIN(
	cmocka_unit_test_setup_teardown(test_backup_then_damage, setup,
	    fx_teardown),
	cmocka_unit_test_setup_teardown(test_readonly, setup, fx_teardown),
)
