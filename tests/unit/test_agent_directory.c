/* test_agent_directory.c - the directory module. */
#include "test_agent_helpers.h"

static void
test_create_converge(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "a/b/c");
	struct stat st;

	tt_task_at(t, 1, "directory", path);
	tt_arg(t, "mode", "0750");
	tt_expect(t, 1, KP_ST_CHANGED, "would create");
	assert_false(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(tt_mode(path), 0750);
	/* intermediate directories get 0755 */
	assert_int_equal(tt_mode(tt_path(t, "a")), 0755);
	tt_expect_converged(t);
}

static void
test_mode_fix_and_check(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "d");

	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0700), 0);
	tt_task_at(t, 1, "directory", path);
	tt_expect(t, 1, KP_ST_CHANGED, "mode 0700 -> 0755");
	assert_int_equal(tt_mode(path), 0700);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(tt_mode(path), 0755);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static void
test_no_parents_and_not_a_dir(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "file");

	tt_task_at(t, 1, "directory", tt_path(t, "x/y"));
	tt_arg(t, "parents", "0");
	tt_expect(t, 0, KP_ST_FAILED, "does not exist");
	tt_write(path, "x", 0644);
	tt_task_at(t, 1, "directory", path);
	tt_expect(t, 0, KP_ST_FAILED, "not a directory");
}

static void
test_owner(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "owned");

	if (geteuid() != 0)
		skip();
	tt_task_at(t, 1, "directory", path);
	tt_arg(t, "uid", "3");
	tt_arg(t, "gid", "4");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_owner(path, 3, 4);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(chown(path, 0, 0), 0);
	tt_expect(t, 1, KP_ST_CHANGED, "owner 0:0 -> 3:4");
}

TH_MAIN(
	TT_TEST(test_create_converge),
	TT_TEST(test_mode_fix_and_check),
	TT_TEST(test_no_parents_and_not_a_dir),
	TT_TEST(test_owner),
)
