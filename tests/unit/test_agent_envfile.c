/* test_agent_envfile.c - one KEY=value line, everything else kept. */
#include "test_agent_helpers.h"

static void
env_task(struct tt *t, const char *path, const char *key, const char *val)
{
	tt_task_at(t, 1, "envfile", path);
	tt_arg(t, "key", key);
	tt_arg(t, "value", val);
}

/* key=val goes into path (quoted as quote says, unless NULL). */
static void
env_changes(struct tt *t, const char *path, const char *key, const char *val,
    const char *quote)
{
	env_task(t, path, key, val);
	if (quote != NULL)
		tt_arg(t, "quote", quote);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
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
	const char *path = tt_file(t, "docker");
	long long m;

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
	const char *path = tt_file(t, "flanneld");

	env_task(t, path, "FLANNEL_ETCD_ENDPOINTS", "http://10.1.10.101:2379");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_false(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "FLANNEL_ETCD_ENDPOINTS=http://10.1.10.101:2379\n");
	assert_int_equal(tt_mode(path), 0644);
	env_task(t, path, "FLANNEL_ETCD_PREFIX", "/flannel/network");
	tt_expect_writes(t, path,
	    "FLANNEL_ETCD_ENDPOINTS=http://10.1.10.101:2379\n"
	    "FLANNEL_ETCD_PREFIX=/flannel/network\n");
	/* a file without a final newline gets one before the new line */
	tt_write(path, "A=1", 0644);
	env_changes(t, path, "B", "2", NULL);
	tt_assert_file(path, "A=1\nB=2\n");
}

static void
test_quoting(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "q");

	env_changes(t, path, "A", "has space $HOME \"q\" `x` \\", NULL);
	tt_assert_file(path, "A=\"has space \\$HOME \\\"q\\\" \\`x\\` \\\\\"\n");
	env_changes(t, path, "B", "plain", "always");
	env_changes(t, path, "C", "a b", "never");
	env_changes(t, path, "D", "", NULL);
	tt_assert_file(path, "A=\"has space \\$HOME \\\"q\\\" \\`x\\` \\\\\"\n"
	    "B=\"plain\"\nC=a b\nD=\"\"\n");
	/* export prefix and blanks before '=' are recognised */
	tt_write(path, "export KUBE_LOG=1\nKUBE_X =2\n", 0644);
	env_changes(t, path, "KUBE_LOG", "2", NULL);
	env_changes(t, path, "KUBE_X", "3", NULL);
	tt_assert_file(path, "KUBE_LOG=2\nKUBE_X=3\n");
}

static void
test_bad_input(void **state)
{
	static const struct {
		const char	*rel, *key, *val;
		const char	*quote;		/* NULL: not given */
		const char	*msg;		/* NULL: not checked */
	} bad[] = {
		{ "x", "1BAD", "v", NULL, NULL },
		{ "x", "K", "two\nlines", NULL, NULL },
		{ "x", "K", "v", "sometimes", "auto|always|never" },
		{ "nodir/x", "K", "v", NULL, "does not exist" },
	};
	struct tt *t = *state;
	size_t i;

	for (i = 0; i < TH_LEN(bad); i++) {
		env_task(t, tt_path(t, bad[i].rel), bad[i].key, bad[i].val);
		if (bad[i].quote != NULL)
			tt_arg(t, "quote", bad[i].quote);
		tt_expect(t, 0, KP_ST_FAILED, bad[i].msg);
	}
}

TH_MAIN(
	TT_TEST(test_replace_preserving_others),
	TT_TEST(test_append_and_create),
	TT_TEST(test_quoting),
	TT_TEST(test_bad_input),
)
