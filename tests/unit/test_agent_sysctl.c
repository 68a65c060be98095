/* test_agent_sysctl.c - live value (KORCH_AGENT_PROCSYS pointed at a
 * scratch tree) and the persistent sysctl.d line. */
#include "test_agent_helpers.h"

/* The live value of sysctl name is val, in a proc/ tree of the scratch
 * directory the agent is pointed at. */
static void
procsys(struct tt *t, const char *name, const char *val)
{
	char path[600], *p;

	(void)mkdir(tt_path(t, "proc"), 0755);
	(void)snprintf(path, sizeof(path), "%s/proc/%s", t->dir, name);
	for (p = path + strlen(t->dir) + 6; *p != '\0'; p++) {
		if (*p == '.') {
			*p = '\0';
			(void)mkdir(path, 0755);
			*p = '/';
		}
	}
	tt_write(path, val, 0644);
	(void)snprintf(path, sizeof(path), "%s/proc", t->dir);
	assert_int_equal(setenv("KORCH_AGENT_PROCSYS", path, 1), 0);
}

static void
sysctl_task(struct tt *t, const char *name, const char *val, const char *file)
{
	tt_task(t, 1, "sysctl");
	tt_arg(t, "name", name);
	tt_arg(t, "value", val);
	if (file != NULL)
		tt_arg(t, "file", file);
}

static void
test_live_and_file(void **state)
{
	struct tt *t = *state;
	const char *conf = tt_file(t, "k8s.conf");

	procsys(t, "net.ipv4.ip_forward", "0\n");
	tt_write(conf, "# kubernetes\nvm.swappiness = 0\n"
	    "net/ipv4/ip_forward=0\n# net.ipv4.ip_forward = 1\n", 0644);
	sysctl_task(t, "net.ipv4.ip_forward", "1", conf);
	tt_expect(t, 1, KP_ST_CHANGED, "would set");
	tt_assert_file(tt_path(t, "proc/net/ipv4/ip_forward"), "0\n");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(tt_path(t, "proc/net/ipv4/ip_forward"), "1");
	tt_assert_file(conf, "# kubernetes\nvm.swappiness = 0\n"
	    "net.ipv4.ip_forward = 1\n# net.ipv4.ip_forward = 1\n");
	tt_expect_converged(t);
}

static void
test_whitespace_values_and_file_only(void **state)
{
	struct tt *t = *state;
	const char *conf = tt_file(t, "new.conf");

	procsys(t, "net.ipv4.tcp_rmem", "4096\t87380\t6291456\n");
	sysctl_task(t, "net.ipv4.tcp_rmem", "4096 87380  6291456", NULL);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);

	/* live=0: only the file, and a new file is created */
	sysctl_task(t, "vm.max_map_count", "262144", conf);
	tt_arg(t, "live", "0");
	tt_expect_writes(t, conf, "vm.max_map_count = 262144\n");
}

static void
test_missing_entry(void **state)
{
	struct tt *t = *state;
	const char *conf = tt_file(t, "k.conf");

	procsys(t, "net.ipv4.ip_forward", "1\n");
	sysctl_task(t, "net.bridge.bridge-nf-call-iptables", "1", conf);
	tt_expect(t, 0, KP_ST_FAILED, "does not exist");
	tt_arg(t, "missing", "skip");
	tt_expect(t, 0, KP_ST_SKIPPED, "missing=skip");
	assert_false(th_exists(conf));
}

static void
test_bad_names(void **state)
{
	static const struct {
		const char	*name, *value;
	} bad[] = {
		{ "../../etc/passwd", "1" },
		{ "net..x", "1" },
		{ "net.x", "1\n2" },
	};
	struct tt *t = *state;
	size_t i;

	for (i = 0; i < TH_LEN(bad); i++) {
		sysctl_task(t, bad[i].name, bad[i].value, NULL);
		tt_expect(t, 0, KP_ST_FAILED, NULL);
	}
	sysctl_task(t, "net.x", "1", NULL);
	tt_arg(t, "missing", "ignore");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
}

TH_MAIN(
	TT_TEST(test_live_and_file),
	TT_TEST(test_whitespace_values_and_file_only),
	TT_TEST(test_missing_entry),
	TT_TEST(test_bad_names),
)
