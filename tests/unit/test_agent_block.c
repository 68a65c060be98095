/* test_agent_block.c - korch's marked block in a shared file (/etc/hosts):
 * everything outside it kept byte for byte. */
#include "test_agent_helpers.h"

static void
block_task(struct tt *t, const char *path, const char *content)
{
	tt_task_at(t, 1, "block", path);
	tt_arg(t, "content", content);
}

static const char distro[] =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "# added by the cloud\n"
    "203.0.113.7 metadata.internal";	/* no final newline */

static void
test_append_then_replace(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "hosts");

	tt_write(path, distro, 0644);
	block_task(t, path, "198.18.1.11 node1\n198.18.1.12 node2");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);	/* check only */
	tt_assert_file(path, distro);
	block_task(t, path, "198.18.1.11 node1\n198.18.1.12 node2");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path,
	    "127.0.0.1\tlocalhost\n"
	    "::1\tlocalhost ip6-localhost ip6-loopback\n"
	    "# added by the cloud\n"
	    "203.0.113.7 metadata.internal\n"
	    "# BEGIN korch\n"
	    "198.18.1.11 node1\n"
	    "198.18.1.12 node2\n"
	    "# END korch\n");
	block_task(t, path, "198.18.1.11 node1\n198.18.1.12 node2");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);

	/* Someone adds a line after the block; a host joins the cluster. */
	tt_write(path,
	    "127.0.0.1\tlocalhost\n"
	    "# BEGIN korch\n"
	    "198.18.1.11 node1\n"
	    "# END korch\n"
	    "10.9.9.9 backup\n", 0644);
	block_task(t, path, "198.18.1.11 node1\n198.18.1.13 node3\n");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.diff, "+198.18.1.13 node3\n"));
	tt_assert_file(path,
	    "127.0.0.1\tlocalhost\n"
	    "# BEGIN korch\n"
	    "198.18.1.11 node1\n"
	    "198.18.1.13 node3\n"
	    "# END korch\n"
	    "10.9.9.9 backup\n");
	assert_int_equal(tt_mode(path), 0644);
}

static void
test_new_file_and_marker(void **state)
{
	struct tt *t = *state;
	const char *path = tt_path(t, "fresh");

	block_task(t, path, "a");
	tt_arg(t, "marker", "korch-lb");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "# BEGIN korch-lb\na\n# END korch-lb\n");
	/* Another marker's block is a different block. */
	block_task(t, path, "b");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "# BEGIN korch-lb\na\n# END korch-lb\n"
	    "# BEGIN korch\nb\n# END korch\n");
}

static void
test_refusals(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "broken");
	static const char broken[] = "x\n# BEGIN korch\n1.2.3.4 a\nkept\n";

	tt_write(path, broken, 0644);
	block_task(t, path, "5.6.7.8 b");
	tt_expect(t, 0, KP_ST_FAILED, "has no \"# END korch\"");
	tt_assert_file(path, broken);
	/* Content that would end the block early on the next run. */
	block_task(t, path, "a\n# END korch\nb");
	tt_expect(t, 0, KP_ST_FAILED, "holds a \"# BEGIN korch\" or");
	tt_assert_file(path, broken);
	block_task(t, path, "y");
	tt_arg(t, "marker", "two words");
	tt_expect(t, 0, KP_ST_FAILED, "not a word");
	tt_assert_file(path, broken);
}

TH_MAIN(
	TT_TEST(test_append_then_replace),
	TT_TEST(test_new_file_and_marker),
	TT_TEST(test_refusals),
)
