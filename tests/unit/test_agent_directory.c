/* test_agent_directory.c - the directory module. */
#include "test_agent_helpers.h"

static void
dir_task(struct tt *t, const char *path)
{
	tt_task(t, 1, "directory");
	tt_arg(t, "path", path);
}

static void
test_create_converge(void **state)
{
	struct tt *t = *state;
	char path[512];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s", tt_path(t, "a/b/c"));
	dir_task(t, path);
	tt_arg(t, "mode", "0750");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "would create"));
	assert_false(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(tt_mode(path), 0750);
	/* intermediate directories get 0755 */
	assert_int_equal(tt_mode(tt_path(t, "a")), 0755);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(tt_run(t, 1), KP_ST_OK);
}

static void
test_mode_fix_and_check(void **state)
{
	struct tt *t = *state;
	char path[512];

	(void)snprintf(path, sizeof(path), "%s", tt_path(t, "d"));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0700), 0);
	dir_task(t, path);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "mode 0700 -> 0755"));
	assert_int_equal(tt_mode(path), 0700);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(tt_mode(path), 0755);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static void
test_no_parents_and_not_a_dir(void **state)
{
	struct tt *t = *state;
	char path[512];

	dir_task(t, tt_path(t, "x/y"));
	tt_arg(t, "parents", "0");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "does not exist"));
	(void)snprintf(path, sizeof(path), "%s", tt_path(t, "file"));
	tt_write(path, "x", 0644);
	dir_task(t, path);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "not a directory"));
}

static void
test_owner(void **state)
{
	struct tt *t = *state;
	struct stat st;
	char path[512];

	if (geteuid() != 0)
		skip();
	(void)snprintf(path, sizeof(path), "%s", tt_path(t, "owned"));
	dir_task(t, path);
	tt_arg(t, "uid", "3");
	tt_arg(t, "gid", "4");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 3);
	assert_int_equal(st.st_gid, 4);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "owner 0:0 -> 3:4"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_converge,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_mode_fix_and_check,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_no_parents_and_not_a_dir,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_owner,
		    tt_setup, tt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
