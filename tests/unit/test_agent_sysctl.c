/* test_agent_sysctl.c - live value (KORCH_AGENT_PROCSYS pointed at a
 * scratch tree) and the persistent sysctl.d line. */
#include "test_agent_helpers.h"

static void
procsys(struct tt *t, const char *name, const char *val)
{
	char path[600], *p;

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

static char *
live(struct tt *t, const char *rel)
{
	char path[600];

	(void)snprintf(path, sizeof(path), "%s/proc/%s", t->dir, rel);
	return th_read(path);
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
	char conf[512], *v;

	(void)mkdir(tt_path(t, "proc"), 0755);
	procsys(t, "net.ipv4.ip_forward", "0\n");
	(void)snprintf(conf, sizeof(conf), "%s", tt_path(t, "k8s.conf"));
	tt_write(conf, "# kubernetes\nvm.swappiness = 0\n"
	    "net/ipv4/ip_forward=0\n# net.ipv4.ip_forward = 1\n", 0644);
	sysctl_task(t, "net.ipv4.ip_forward", "1", conf);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "would set"));
	v = live(t, "net/ipv4/ip_forward");
	assert_string_equal(v, "0\n");
	free(v);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	v = live(t, "net/ipv4/ip_forward");
	assert_string_equal(v, "1");
	free(v);
	tt_assert_file(conf, "# kubernetes\nvm.swappiness = 0\n"
	    "net.ipv4.ip_forward = 1\n# net.ipv4.ip_forward = 1\n");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(tt_run(t, 1), KP_ST_OK);
}

static void
test_whitespace_values_and_file_only(void **state)
{
	struct tt *t = *state;
	char conf[512];

	(void)mkdir(tt_path(t, "proc"), 0755);
	procsys(t, "net.ipv4.tcp_rmem", "4096\t87380\t6291456\n");
	sysctl_task(t, "net.ipv4.tcp_rmem", "4096 87380  6291456", NULL);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);

	/* live=0: only the file, and a new file is created */
	(void)snprintf(conf, sizeof(conf), "%s", tt_path(t, "new.conf"));
	sysctl_task(t, "vm.max_map_count", "262144", conf);
	tt_arg(t, "live", "0");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(conf, "vm.max_map_count = 262144\n");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static void
test_missing_entry(void **state)
{
	struct tt *t = *state;
	char conf[512];

	(void)mkdir(tt_path(t, "proc"), 0755);
	procsys(t, "net.ipv4.ip_forward", "1\n");
	(void)snprintf(conf, sizeof(conf), "%s", tt_path(t, "k.conf"));
	sysctl_task(t, "net.bridge.bridge-nf-call-iptables", "1", conf);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "does not exist"));
	tt_arg(t, "missing", "skip");
	assert_int_equal(tt_run(t, 0), KP_ST_SKIPPED);
	assert_non_null(strstr(t->o.msg, "missing=skip"));
	assert_false(th_exists(conf));
}

static void
test_bad_names(void **state)
{
	struct tt *t = *state;

	sysctl_task(t, "../../etc/passwd", "1", NULL);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	sysctl_task(t, "net..x", "1", NULL);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	sysctl_task(t, "net.x", "1\n2", NULL);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	sysctl_task(t, "net.x", "1", NULL);
	tt_arg(t, "missing", "ignore");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_live_and_file,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_whitespace_values_and_file_only,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_missing_entry,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_names,
		    tt_setup, tt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
