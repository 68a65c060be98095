/*
 * test_inventory.c - inventory loading: defaults, every kind of error with
 * its exact position and field path, all errors reported in one pass.
 * Fixtures: tests/unit/data/inv/.
 */
#include "helpers_ctl.h"

static const char *
fixture(const char *name)
{
	return th_data("inv", name);
}

/* A diagnostic at line:col with exactly this path whose message contains
 * msg (prints the list when not, to make failures readable). */
static void
expect_diag(const struct diag *d, unsigned line, unsigned col,
    const char *path, const char *msg)
{
	(void)th_expect_diag(d, NULL, line, col, path, msg);
}

/* data/inv/<name> must be refused; its diagnostics. */
static struct diag *
load_refused(const char *name)
{
	struct inventory *inv = NULL;
	struct diag *d;

	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture(name), &inv, d),
	    KORCH_ERR_PARSE);
	return d;
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
	static const struct th_want_diag want[] = {
		{ 2, 9, "cluster.name", "invalid cluster name 'Demo_1'" },
		{ 3, 13, "cluster.pod_cidr",
		    "host bits are set in '10.244.1.0/16' "
		    "(the network is 10.244.0.0/16)" },
		{ 4, 17, "cluster.service_cidr",
		    "prefix length must be 0-32, got '33'" },
		{ 5, 3, "cluster.nmae",
		    "unknown key 'nmae' (did you mean 'name'?)" },
		{ 8, 5, "cluster.vars.bad.var", "variable names" },
		{ 10, 3, "ssh.prot", "(did you mean 'port'?)" },
		{ 11, 9, "ssh.port", "between 1 and 65535, got 70000" },
		{ 12, 11, "ssh.become", "only 'sudo'" },
		{ 17, 11, "hosts[1].name",
		    "duplicate host name 'master' (first at line 14)" },
		{ 18, 14, "hosts[1].address",
		    "duplicate address and port 198.18.1.11:22 "
		    "(first at line 15)" },
		{ 19, 12, "hosts[1].roles",
		    "expected a sequence of roles, got a scalar" },
		{ 20, 11, "hosts[2].name", "invalid host name '-bad-'" },
		{ 21, 14, "hosts[2].address", "malformed IPv4 address" },
		{ 22, 12, "hosts[2].roles", "at least one role" },
		{ 23, 5, "hosts[3].roles", "missing required key 'roles'" },
		{ 24, 14, "hosts[3].address", "malformed IPv6 address" },
		{ 25, 11, "hosts[3].port", "expected an integer, got 'abc'" },
		{ 27, 14, "hosts[4].address",
		    "not an IP address or an RFC 1123 host name" },
		{ 28, 13, "hosts[4].roles[0]", "invalid role 'Node'" },
		{ 29, 11, "hosts[4].vars",
		    "expected a mapping, got a sequence" },
	};
	struct inventory *inv = (struct inventory *)1;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("errors.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	assert_null(inv);
	th_expect_diags(d, NULL, want, TH_LEN(want));
	assert_int_equal(diag_count(d), 20);
	diag_free(d);
}

static void
test_syntax_error(void **state)
{
	struct diag *d;

	(void)state;
	d = load_refused("syntax.yaml");
	assert_int_equal(diag_count(d), 1);
	expect_diag(d, 6, 10, "", "YAML syntax error: did not find expected "
	    "',' or ']'");
	assert_non_null(strstr(diag_get(d, 0)->msg, "started at line 5"));
	diag_free(d);
}

static void
test_empty_hosts(void **state)
{
	struct diag *d;

	(void)state;
	d = load_refused("empty_hosts.yaml");
	expect_diag(d, 2, 8, "hosts", "the hosts list is empty");
	assert_int_equal(diag_count(d), 1);
	diag_free(d);
}

static void
test_wrong_shapes(void **state)
{
	static const struct th_want_diag want[] = {
		{ 1, 10, "cluster", "expected a mapping, got a sequence" },
		{ 2, 6, "ssh", "expected a mapping, got a scalar" },
		{ 4, 3, "hosts",
		    "expected a sequence of hosts, got a mapping" },
		{ 5, 1, "extra", "unknown key 'extra'" },
	};
	struct diag *d;

	(void)state;
	d = load_refused("shapes.yaml");
	th_expect_diags(d, NULL, want, TH_LEN(want));
	assert_int_equal(diag_count(d), 4);
	diag_free(d);
}

static void
test_duplicates_and_ranges(void **state)
{
	static const struct th_want_diag want[] = {
		{ 3, 3, "cluster.name", "duplicate key (first at line 2)" },
		{ 7, 11, "hosts[0].port", "between 1 and 65535, got 0" },
		{ 8, 19, "hosts[0].roles[1]", "duplicate role 'node'" },
	};
	struct diag *d;

	(void)state;
	d = load_refused("dupkey.yaml");
	th_expect_diags(d, NULL, want, TH_LEN(want));
	/* A bad port is not also reported as a duplicate address. */
	assert_int_equal(diag_count(d), 3);
	diag_free(d);
}

static void
test_missing_file(void **state)
{
	struct diag *d;

	(void)state;
	d = load_refused("nope.yaml");
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

/* How hosts reach the apiservers: none with one master, local with two
 * or more, external when the operator names an endpoint; a bad value is
 * refused where it stands. */
static void
test_apiserver_lb(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("valid_min.yaml"), &inv, d), 0);
	assert_string_equal(inv->cluster.apiserver_lb, "none");
	assert_string_equal(vars_get(inv->vars, "cluster.apiserver_lb"),
	    "none");
	inventory_free(inv);
	assert_int_equal(inventory_load(fixture("lb_local.yaml"), &inv, d), 0);
	assert_string_equal(inv->cluster.apiserver_lb, "local");
	assert_string_equal(vars_get(inv->vars, "cluster.apiserver_lb"),
	    "local");
	inventory_free(inv);
	assert_int_equal(inventory_load(fixture("lb_default.yaml"), &inv, d),
	    0);
	assert_string_equal(vars_get(inv->vars, "cluster.apiserver_lb"),
	    "local");
	inventory_free(inv);
	assert_int_equal(inventory_load(fixture("lb_endpoint.yaml"), &inv, d),
	    0);
	assert_string_equal(vars_get(inv->vars, "cluster.apiserver_lb"),
	    "external");
	inventory_free(inv);
	inv = NULL;
	assert_int_equal(inventory_load(fixture("lb_bad.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	assert_null(inv);
	th_expect_diag(d, "lb_bad.yaml", 3, 17, "cluster.apiserver_lb",
	    "expected none, local, vip or external, got 'haproxy'");
	diag_free(d);
}

/* vip: the address and port become cluster vars; what it needs is
 * checked against the hosts, each problem at its line. */
static void
test_apiserver_vip(void **state)
{
	struct inventory *inv = NULL;
	struct diag *d;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("lb_vip.yaml"), &inv, d), 0);
	assert_string_equal(inv->cluster.apiserver_vip, "198.18.1.250");
	assert_int_equal(inv->cluster.apiserver_vip_port, 9443);
	assert_string_equal(vars_get(inv->vars, "cluster.apiserver_vip"),
	    "198.18.1.250");
	assert_string_equal(vars_get(inv->vars, "cluster.apiserver_vip_port"),
	    "9443");
	inventory_free(inv);
	inv = NULL;

	assert_int_equal(inventory_load(fixture("lb_vip_bad.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	assert_null(inv);
	th_expect_diag(d, "lb_vip_bad.yaml", 5, 23, "cluster.apiserver_vip_port",
	    "");
	th_expect_diag(d, "lb_vip_bad.yaml", 3, 17, "cluster.apiserver_lb",
	    "vip names the endpoint itself");
	th_expect_diag(d, "lb_vip_bad.yaml", 4, 18, "cluster.apiserver_vip",
	    "is host b's own address");
	diag_free(d);

	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("lb_vip_missing.yaml"), &inv,
	    d), KORCH_ERR_PARSE);
	th_expect_diag(d, "lb_vip_missing.yaml", 3, 17, "cluster.apiserver_lb",
	    "vip needs cluster.apiserver_vip");
	diag_free(d);

	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(fixture("lb_external.yaml"), &inv, d),
	    KORCH_ERR_PARSE);
	th_expect_diag(d, "lb_external.yaml", 4, 18, "cluster.apiserver_vip",
	    "expected an IPv4 or IPv6 address");
	th_expect_diag(d, "lb_external.yaml", 3, 17, "cluster.apiserver_lb",
	    "external needs the load balancer's address");
	diag_free(d);
}

TH_MAIN(
	cmocka_unit_test(test_valid_defaults),
	cmocka_unit_test(test_valid_full),
	cmocka_unit_test(test_apiserver_lb),
	cmocka_unit_test(test_apiserver_vip),
	cmocka_unit_test(test_all_errors_at_once),
	cmocka_unit_test(test_syntax_error),
	cmocka_unit_test(test_empty_hosts),
	cmocka_unit_test(test_wrong_shapes),
	cmocka_unit_test(test_duplicates_and_ranges),
	cmocka_unit_test(test_missing_file),
	cmocka_unit_test(test_validators),
)
