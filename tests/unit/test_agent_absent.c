/* test_agent_absent.c - the absent module. */
#include "test_agent_helpers.h"

static void
test_file_and_symlink(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "f"), *link, *target;

	tt_write(path, "x", 0644);
	tt_task_at(t, 1, "absent", path);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_true(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(path));
	tt_expect_converged(t);

	/* a symlink goes, what it points to stays */
	target = tt_file(t, "target");
	tt_write(target, "keep", 0644);
	link = tt_file(t, "link");
	assert_int_equal(symlink(target, link), 0);
	tt_task_at(t, 1, "absent", link);
	tt_expect(t, 0, KP_ST_CHANGED, "symlink");
	assert_false(th_exists(link));
	tt_assert_file(target, "keep");
}

static void
test_directories(void **state)
{
	struct tt *t = *state;
	const char *dir = tt_file(t, "tree"), *outside = tt_file(t, "outside");
	char link[600];

	assert_int_equal(mkdir(dir, 0755), 0);
	tt_task_at(t, 1, "absent", dir);
	/* empty directory: no recursive needed */
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(dir));

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(tt_path(t, "tree/sub"), 0755), 0);
	tt_write(tt_path(t, "tree/sub/f"), "x", 0644);
	assert_int_equal(mkdir(outside, 0755), 0);
	tt_write(tt_path(t, "outside/keep"), "k", 0644);
	/* a link inside the tree must not lead the removal out of it */
	(void)snprintf(link, sizeof(link), "%s/sub/escape", dir);
	assert_int_equal(symlink(outside, link), 0);

	tt_expect(t, 0, KP_ST_FAILED, "recursive=1");
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
	static const char *const roots[] = { "/", "//", "/tmp/../etc" };
	struct tt *t = *state;
	size_t i;

	for (i = 0; i < TH_LEN(roots); i++) {
		tt_task_at(t, 1, "absent", roots[i]);
		tt_expect(t, 1, KP_ST_FAILED, NULL);
	}
}

TH_MAIN(
	TT_TEST(test_file_and_symlink),
	TT_TEST(test_directories),
	TT_TEST(test_refuses_root),
)
