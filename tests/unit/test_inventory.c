/*
 * test_inventory.c - inventory loading: defaults, every kind of error with
 * its exact position and field path, all errors reported in one pass.
 * Fixtures: tests/unit/data/inv/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"

static char datadir[PATH_MAX];

/* Fixtures live beside this file; KORCH_TEST_DATA overrides. */
static void
init_datadir(void)
{
	const char *e = getenv("KORCH_TEST_DATA"), *slash;

	if (e != NULL) {
		snprintf(datadir, sizeof(datadir), "%s", e);
		return;
	}
	slash = strrchr(__FILE__, '/');
	snprintf(datadir, sizeof(datadir), "%.*s/data",
	    slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
}

static const char *
fixture(const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/inv/%s", datadir, name);
	return path;
}

/* Is there a diagnostic at line:col with exactly this path whose message
 * contains msg?  Prints the list when not, to make failures readable. */
static void
expect_diag(const struct diag *d, unsigned line, unsigned col,
    const char *path, const char *msg)
{
	const struct diag_entry *e;
	size_t i;

	for (i = 0; i < diag_count(d); i++) {
		e = diag_get(d, i);
		if (e->line == line && e->col == col &&
		    strcmp(e->path, path) == 0 && strstr(e->msg, msg) != NULL)
			return;
	}
	diag_print(d, stderr);
	fail_msg("no diagnostic %u:%u: %s: ...%s...", line, col, path, msg);
}

static void
test_valid_defaults(void **state)
{
	struct inventory *inv = NULL;
	const struct inv_host *h;
	struct diag *d;
	size_t idx = 99;

	(void)state;
	setenv("HOME", "/home/korch-test", 1);
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("valid_min.yaml"), &inv, d), 0);
	assert_int_equal(diag_count(d), 0);
	assert_string_equal(inv->cluster.name, "mini");
	assert_null(inv->cluster.kubernetes_version);
	assert_null(inv->cluster.bundle);
	assert_string_equal(inv->cluster.pod_cidr, "10.244.0.0/16");
	assert_string_equal(inv->cluster.service_cidr, "10.254.0.0/16");
	assert_string_equal(inv->cluster.dns_domain, "cluster.local");
	assert_string_equal(inv->ssh.user, "root");
	assert_int_equal(inv->ssh.port, 22);
	assert_null(inv->ssh.private_key);
	assert_string_equal(inv->ssh.known_hosts,
	    "/home/korch-test/.ssh/known_hosts");
	assert_int_equal(inv->ssh.become_sudo, 0);
	assert_null(inv->ssh.bastion.address);
	assert_int_equal(inv->ssh.connect_timeout, 10);

	assert_int_equal(inv->nhosts, 2);
	h = &inv->hosts[0];
	assert_string_equal(h->name, "a");
	assert_string_equal(h->address, "198.18.1.11");
	assert_int_equal(h->port, 22);
	assert_string_equal(h->user, "root");
	assert_int_equal(h->nroles, 2);
	assert_string_equal(h->roles[1], "master");
	assert_int_equal(h->line, 4);
	assert_string_equal(inv->hosts[1].address, "node-b.example.com");

	assert_ptr_equal(inventory_find_host(inv, "b", &idx), &inv->hosts[1]);
	assert_int_equal(idx, 1);
	assert_null(inventory_find_host(inv, "c", NULL));
	assert_true(inventory_host_has_role(h, "etcd"));
	assert_true(inventory_host_has_role(h, "all"));
	assert_false(inventory_host_has_role(h, "node"));

	/* Cluster scalars are variables, defaults included. */
	assert_string_equal(vars_get(inv->vars, "cluster.name"), "mini");
	assert_string_equal(vars_get(inv->vars, "cluster.dns_domain"),
	    "cluster.local");
	assert_null(vars_get(inv->vars, "cluster.kubernetes_version"));
	assert_string_equal(vars_get(h->vars, "cluster.pod_cidr"),
	    "10.244.0.0/16");
	inventory_free(inv);
	diag_free(d);
}

static void
test_valid_full(void **state)
{
	struct inventory *inv = NULL;
	const struct inv_host *m1, *n1;
	struct diag *d;
	const char *p;

	(void)state;
	setenv("HOME", "/home/korch-test", 1);
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("valid_full.yaml"), &inv, d),
	    0);
	assert_string_equal(inv->cluster.kubernetes_version, "1.9.2");
	assert_string_equal(inv->cluster.service_cidr, "fd00:10::/108");
	assert_string_equal(inv->cluster.dns_domain, "k8s.example");
	/* Relative paths are made absolute from the inventory's directory. */
	p = inv->cluster.bundle;
	assert_true(p[0] == '/');
	assert_non_null(strstr(p, "/data/inv/bundle"));
	p = inv->ssh.private_key;
	assert_true(p[0] == '/');
	assert_non_null(strstr(p, "/data/inv/id_test"));
	assert_string_equal(inv->ssh.known_hosts, "/home/korch-test/kh");
	assert_string_equal(inv->ssh.user, "ops");
	assert_int_equal(inv->ssh.port, 2222);
	assert_int_equal(inv->ssh.become_sudo, 1);
	assert_int_equal(inv->ssh.connect_timeout, 5);
	assert_string_equal(inv->ssh.bastion.address, "198.18.1.1");
	assert_int_equal(inv->ssh.bastion.port, 2222);
	assert_string_equal(inv->ssh.bastion.user, "ops");

	m1 = &inv->hosts[0];
	n1 = &inv->hosts[1];
	assert_string_equal(m1->address, "2001:db8::11");
	assert_int_equal(m1->port, 2222);
	assert_string_equal(m1->user, "ops");
	assert_int_equal(n1->port, 22);
	assert_string_equal(n1->user, "admin");
	/* Host vars override cluster vars, which are the defaults. */
	assert_string_equal(vars_get(m1->vars, "greeting"), "hello");
	assert_string_equal(vars_get(n1->vars, "greeting"), "hi");
	assert_string_equal(vars_get(n1->vars, "answer"), "42");
	assert_null(vars_get_local(n1->vars, "greeting"));
	assert_string_equal(vars_get(inv->vars, "cluster.bundle"),
	    inv->cluster.bundle);
	inventory_free(inv);
	diag_free(d);
}

/* Every mistake in one file, each with its position and path. */
static void
test_all_errors_at_once(void **state)
{
	struct inventory *inv = (struct inventory *)1;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("errors.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	assert_null(inv);
	expect_diag(d, 2, 9, "cluster.name", "invalid cluster name 'Demo_1'");
	expect_diag(d, 3, 13, "cluster.pod_cidr", "host bits are set in "
	    "'10.244.1.0/16' (the network is 10.244.0.0/16)");
	expect_diag(d, 4, 17, "cluster.service_cidr", "prefix length must "
	    "be 0-32, got '33'");
	expect_diag(d, 5, 3, "cluster.nmae", "unknown key 'nmae' (did you "
	    "mean 'name'?)");
	expect_diag(d, 8, 5, "cluster.vars.bad.var", "variable names");
	expect_diag(d, 10, 3, "ssh.prot", "(did you mean 'port'?)");
	expect_diag(d, 11, 9, "ssh.port", "between 1 and 65535, got 70000");
	expect_diag(d, 12, 11, "ssh.become", "only 'sudo'");
	expect_diag(d, 17, 11, "hosts[1].name", "duplicate host name 'master' "
	    "(first at line 14)");
	expect_diag(d, 18, 14, "hosts[1].address", "duplicate address and "
	    "port 198.18.1.11:22 (first at line 15)");
	expect_diag(d, 19, 12, "hosts[1].roles", "expected a sequence of "
	    "roles, got a scalar");
	expect_diag(d, 20, 11, "hosts[2].name", "invalid host name '-bad-'");
	expect_diag(d, 21, 14, "hosts[2].address", "malformed IPv4 address");
	expect_diag(d, 22, 12, "hosts[2].roles", "at least one role");
	expect_diag(d, 23, 5, "hosts[3].roles", "missing required key "
	    "'roles'");
	expect_diag(d, 24, 14, "hosts[3].address", "malformed IPv6 address");
	expect_diag(d, 25, 11, "hosts[3].port", "expected an integer, got "
	    "'abc'");
	expect_diag(d, 27, 14, "hosts[4].address", "not an IP address or an "
	    "RFC 1123 host name");
	expect_diag(d, 28, 13, "hosts[4].roles[0]", "invalid role 'Node'");
	expect_diag(d, 29, 11, "hosts[4].vars", "expected a mapping, got a "
	    "sequence");
	assert_int_equal(diag_count(d), 20);
	diag_free(d);
}

static void
test_syntax_error(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("syntax.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	assert_int_equal(diag_count(d), 1);
	expect_diag(d, 6, 10, "", "YAML syntax error: did not find expected "
	    "',' or ']'");
	assert_non_null(strstr(diag_get(d, 0)->msg, "started at line 5"));
	diag_free(d);
}

static void
test_empty_hosts(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("empty_hosts.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	expect_diag(d, 2, 8, "hosts", "the hosts list is empty");
	assert_int_equal(diag_count(d), 1);
	diag_free(d);
}

static void
test_wrong_shapes(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("shapes.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	expect_diag(d, 1, 10, "cluster", "expected a mapping, got a sequence");
	expect_diag(d, 2, 6, "ssh", "expected a mapping, got a scalar");
	expect_diag(d, 4, 3, "hosts", "expected a sequence of hosts, got a "
	    "mapping");
	expect_diag(d, 5, 1, "extra", "unknown key 'extra'");
	assert_int_equal(diag_count(d), 4);
	diag_free(d);
}

static void
test_duplicates_and_ranges(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("dupkey.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	expect_diag(d, 3, 3, "cluster.name", "duplicate key (first at line "
	    "2)");
	expect_diag(d, 7, 11, "hosts[0].port", "between 1 and 65535, got 0");
	expect_diag(d, 8, 19, "hosts[0].roles[1]", "duplicate role 'node'");
	/* A bad port is not also reported as a duplicate address. */
	assert_int_equal(diag_count(d), 3);
	diag_free(d);
}

static void
test_missing_file(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("nope.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	assert_int_equal(diag_count(d), 1);
	assert_non_null(strstr(diag_get(d, 0)->msg, "cannot open"));
	diag_free(d);
}

static void
test_validators(void **state)
{
	(void)state;
	assert_true(inventory_hostname_valid("node1"));
	assert_true(inventory_hostname_valid("a.b-c.example"));
	assert_false(inventory_hostname_valid("a..b"));
	assert_false(inventory_hostname_valid("a-"));
	assert_false(inventory_hostname_valid("-a"));
	assert_false(inventory_hostname_valid("a_b"));
	assert_false(inventory_hostname_valid(""));
	assert_false(inventory_hostname_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));	/* 64-char label */
	assert_true(inventory_role_valid("kube-node_2"));
	assert_false(inventory_role_valid("Node"));
	assert_false(inventory_role_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_defaults),
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_empty_hosts),
		cmocka_unit_test(test_wrong_shapes),
		cmocka_unit_test(test_duplicates_and_ranges),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_validators),
	};

	init_datadir();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
