/* test_agent_absent.c - the absent module. */
#include "test_agent_helpers.h"

static void
absent_task(struct tt *t, const char *path)
{
	tt_task(t, 1, "absent");
	tt_arg(t, "path", path);
}

static void
test_file_and_symlink(void **state)
{
	struct tt *t = *state;
	char path[512], link[512], target[512];

	(void)snprintf(path, sizeof(path), "%s", tt_path(t, "f"));
	tt_write(path, "x", 0644);
	absent_task(t, path);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_true(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(tt_run(t, 1), KP_ST_OK);

	/* a symlink goes, what it points to stays */
	(void)snprintf(target, sizeof(target), "%s", tt_path(t, "target"));
	tt_write(target, "keep", 0644);
	(void)snprintf(link, sizeof(link), "%s", tt_path(t, "link"));
	assert_int_equal(symlink(target, link), 0);
	absent_task(t, link);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "symlink"));
	assert_false(th_exists(link));
	tt_assert_file(target, "keep");
}

static void
test_directories(void **state)
{
	struct tt *t = *state;
	char dir[512], outside[512], link[600];

	(void)snprintf(dir, sizeof(dir), "%s", tt_path(t, "tree"));
	assert_int_equal(mkdir(dir, 0755), 0);
	absent_task(t, dir);
	/* empty directory: no recursive needed */
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(dir));

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(tt_path(t, "tree/sub"), 0755), 0);
	tt_write(tt_path(t, "tree/sub/f"), "x", 0644);
	(void)snprintf(outside, sizeof(outside), "%s", tt_path(t, "outside"));
	assert_int_equal(mkdir(outside, 0755), 0);
	tt_write(tt_path(t, "outside/keep"), "k", 0644);
	/* a link inside the tree must not lead the removal out of it */
	(void)snprintf(link, sizeof(link), "%s/sub/escape", dir);
	assert_int_equal(symlink(outside, link), 0);

	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "recursive=1"));
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
	tt_arg(t, "recursive", "1");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_true(th_exists(dir));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(dir));
	assert_true(th_exists(tt_path(t, "outside/keep")));
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static void
test_refuses_root(void **state)
{
	struct tt *t = *state;

	absent_task(t, "/");
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
	absent_task(t, "//");
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
	absent_task(t, "/tmp/../etc");
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_and_symlink,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_directories,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_refuses_root,
		    tt_setup, tt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
