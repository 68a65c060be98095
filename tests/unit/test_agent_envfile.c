/* test_agent_envfile.c - one KEY=value line, everything else kept. */
#include "test_agent_helpers.h"

static void
env_task(struct tt *t, const char *path, const char *key, const char *val)
{
	tt_task(t, 1, "envfile");
	tt_arg(t, "path", path);
	tt_arg(t, "key", key);
	tt_arg(t, "value", val);
}

static const char sysconfig[] =
    "# /etc/sysconfig/docker\n"
    "\n"
    "# Modify these options if you want to change the way the docker daemon runs\n"
    "OPTIONS='--selinux-enabled'\n"
    "#OPTIONS=\"--commented\"\n"
    "DOCKER_CERT_PATH=/etc/docker\n"
    "OPTIONS=duplicate\n"
    "  # indented comment\n"
    "LAST=1";

static void
test_replace_preserving_others(void **state)
{
	struct tt *t = *state;
	const char *path;
	long long m;

	path = tt_file(t, "docker");
	tt_write(path, sysconfig, 0640);
	env_task(t, path, "OPTIONS", "--selinux-enabled=false");
	m = tt_mtime_ns(path);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_int_equal(tt_mtime_ns(path), m);
	assert_non_null(strstr(t->o.diff,
	    "-OPTIONS='--selinux-enabled'\n+OPTIONS=\"--selinux-enabled=false\"\n"));
	tt_arg(t, "mode", "0640");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path,
	    "# /etc/sysconfig/docker\n"
	    "\n"
	    "# Modify these options if you want to change the way the docker daemon runs\n"
	    "OPTIONS=\"--selinux-enabled=false\"\n"
	    "#OPTIONS=\"--commented\"\n"
	    "DOCKER_CERT_PATH=/etc/docker\n"
	    "  # indented comment\n"
	    "LAST=1");
	assert_int_equal(tt_mode(path), 0640);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(tt_run(t, 1), KP_ST_OK);
	tt_assert_no_tmp(t->dir);
}

static void
test_append_and_create(void **state)
{
	struct tt *t = *state;
	const char *path;

	path = tt_file(t, "flanneld");
	env_task(t, path, "FLANNEL_ETCD_ENDPOINTS", "http://10.1.10.101:2379");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_false(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "FLANNEL_ETCD_ENDPOINTS=http://10.1.10.101:2379\n");
	assert_int_equal(tt_mode(path), 0644);
	env_task(t, path, "FLANNEL_ETCD_PREFIX", "/flannel/network");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "FLANNEL_ETCD_ENDPOINTS=http://10.1.10.101:2379\n"
	    "FLANNEL_ETCD_PREFIX=/flannel/network\n");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	/* a file without a final newline gets one before the new line */
	tt_write(path, "A=1", 0644);
	env_task(t, path, "B", "2");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "A=1\nB=2\n");
}

static void
test_quoting(void **state)
{
	struct tt *t = *state;
	const char *path;

	path = tt_file(t, "q");
	env_task(t, path, "A", "has space $HOME \"q\" `x` \\");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "A=\"has space \\$HOME \\\"q\\\" \\`x\\` \\\\\"\n");
	env_task(t, path, "B", "plain");
	tt_arg(t, "quote", "always");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	env_task(t, path, "C", "a b");
	tt_arg(t, "quote", "never");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	env_task(t, path, "D", "");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "A=\"has space \\$HOME \\\"q\\\" \\`x\\` \\\\\"\n"
	    "B=\"plain\"\nC=a b\nD=\"\"\n");
	/* export prefix and blanks before '=' are recognised */
	tt_write(path, "export KUBE_LOG=1\nKUBE_X =2\n", 0644);
	env_task(t, path, "KUBE_LOG", "2");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	env_task(t, path, "KUBE_X", "3");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "KUBE_LOG=2\nKUBE_X=3\n");
}

static void
test_bad_input(void **state)
{
	struct tt *t = *state;

	env_task(t, tt_path(t, "x"), "1BAD", "v");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	env_task(t, tt_path(t, "x"), "K", "two\nlines");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	env_task(t, tt_path(t, "x"), "K", "v");
	tt_arg(t, "quote", "sometimes");
	tt_expect(t, 0, KP_ST_FAILED, "auto|always|never");
	env_task(t, tt_path(t, "nodir/x"), "K", "v");
	tt_expect(t, 0, KP_ST_FAILED, "does not exist");
}

TH_MAIN(
	TT_TEST(test_replace_preserving_others),
	TT_TEST(test_append_and_create),
	TT_TEST(test_quoting),
	TT_TEST(test_bad_input),
)
