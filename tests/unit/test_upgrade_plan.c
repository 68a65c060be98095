/*
 * test_upgrade_plan.c - the host-free decisions of `korch upgrade` and
 * `korch rollback`: version parsing and ordering, the refusals, the
 * --max-unavailable arithmetic, and the order of the phases over an
 * inventory (snapshot, etcd members, masters, node batches; reversed for a
 * rollback).  Inventories are written as YAML into a temporary directory
 * and loaded with inventory_load, as korch does.
 */
#include "helpers_ctl.h"

/* ---- versions ------------------------------------------------------------ */

static void
expect_kver(const char *s, int major, int minor, int patch)
{
	struct kver v;

	memset(&v, 0x55, sizeof(v));
	if (kver_parse(s, &v) != 0)
		fail_msg("kver_parse(\"%s\") refused a good version", s);
	assert_int_equal(v.major, major);
	assert_int_equal(v.minor, minor);
	assert_int_equal(v.patch, patch);
}

static void
test_kver_parse_good(void **state)
{
	(void)state;
	expect_kver("1.9", 1, 9, -1);
	expect_kver("1.9.11", 1, 9, 11);
	expect_kver("v1.9.11", 1, 9, 11);
	expect_kver("v1.9", 1, 9, -1);
	expect_kver("0.0.0", 0, 0, 0);
	expect_kver("1.10.0", 1, 10, 0);
	expect_kver("01.009.007", 1, 9, 7);	/* leading zeros are digits */
	expect_kver("2.0", 2, 0, -1);
	/* Big, but still an int. */
	expect_kver("1.2.214748364", 1, 2, 214748364);
}

static void
test_kver_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "v", "1", "v1", "1.", "1.9.", ".9", "1..9", "a.b", "1.b",
		"a.9", "1.9.3.4", "1.9x", "1.9.3x", "1.9.x", "1.9 ", " 1.9",
		"V1.9", "vv1.9", "+1.9", "-1.9", "1.-9", "1.9.-1", "1,9",
		"1.9\n", "x1.9",
		/* overflow in each field */
		"99999999999.1", "1.99999999999", "1.9.99999999999",
		"2147483648.0", "1.2147483648", "1.9.2147483648",
		"1.9.99999999999999999999999999999999",
	};
	struct kver v;
	size_t i;

	(void)state;
	for (i = 0; i < TH_LEN(bad); i++)
		if (kver_parse(bad[i], &v) != -1)
			fail_msg("kver_parse(\"%s\") accepted a bad version",
			    bad[i]);
	assert_int_equal(kver_parse(NULL, &v), -1);
}

static int
sign(int x)
{
	return x < 0 ? -1 : x > 0;
}

static void
test_kver_cmp(void **state)
{
	static const struct { const char *a, *b; int want; } t[] = {
		{ "1.9", "1.9", 0 },
		{ "1.9.3", "1.9.3", 0 },
		{ "v1.9.3", "1.9.3", 0 },
		{ "1.9.3", "1.9.11", -1 },	/* numbers, not strings */
		{ "1.9.11", "1.9.3", 1 },
		{ "1.9", "1.9.0", -1 },		/* no patch below every patch */
		{ "1.9", "1.9.11", -1 },
		{ "1.9.0", "1.9", 1 },
		{ "1.8.20", "1.9", -1 },	/* minor before patch */
		{ "1.9", "1.8.20", 1 },
		{ "1.10", "1.9.99", 1 },
		{ "1.99", "2.0", -1 },		/* major before minor */
		{ "2.0", "1.99.99", 1 },
		{ "0.0.0", "0.0", 1 },
	};
	struct kver a, b;
	size_t i;

	(void)state;
	for (i = 0; i < TH_LEN(t); i++) {
		a = th_kver(t[i].a);
		b = th_kver(t[i].b);
		if (sign(kver_cmp(&a, &b)) != t[i].want)
			fail_msg("kver_cmp(%s, %s) = %d, want sign %d", t[i].a,
			    t[i].b, kver_cmp(&a, &b), t[i].want);
		/* and antisymmetric */
		if (sign(kver_cmp(&b, &a)) != -t[i].want)
			fail_msg("kver_cmp(%s, %s) not antisymmetric", t[i].b,
			    t[i].a);
	}
}

static void
test_kver_matches(void **state)
{
	static const struct { const char *want, *have; int m; } t[] = {
		{ "1.9", "1.9.11", 1 },
		{ "1.9", "1.9.0", 1 },
		{ "1.9", "1.9", 1 },
		{ "1.9", "1.8.15", 0 },
		{ "1.9", "1.10.1", 0 },
		{ "1.9", "2.9.1", 0 },
		{ "1.9.3", "1.9.3", 1 },
		{ "v1.9.3", "1.9.3", 1 },
		{ "1.9.3", "1.9.11", 0 },
		{ "1.9.3", "1.9", 0 },		/* a patch wanted, none had */
		{ "1.9.3", "1.8.3", 0 },
		{ "1.9.3", "2.9.3", 0 },
	};
	struct kver w, h;
	size_t i;

	(void)state;
	for (i = 0; i < TH_LEN(t); i++) {
		w = th_kver(t[i].want);
		h = th_kver(t[i].have);
		if (kver_matches(&w, &h) != t[i].m)
			fail_msg("kver_matches(want %s, have %s) != %d",
			    t[i].want, t[i].have, t[i].m);
	}
}

/* ---- refusals ------------------------------------------------------------ */

/* The refusal of from -> to (0 when allowed), its text in why. */
static int
refusal(const char *from, const char *to, int allow_down, char *why,
    size_t len)
{
	struct kver f = th_kver(from), t = th_kver(to);

	strcpy(why, "untouched");
	return upgrade_refusal(&f, &t, allow_down, why, len);
}

/* from -> to is refused (allow_down as given), for a reason that says each
 * of the NULL-ended strings that follow. */
static void
expect_refusal(const char *from, const char *to, int allow_down, ...)
{
	char why[512];
	const char *s;
	va_list ap;

	assert_int_not_equal(refusal(from, to, allow_down, why, sizeof(why)),
	    0);
	va_start(ap, allow_down);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (strstr(why, s) == NULL) {
			va_end(ap);
			fail_msg("%s -> %s: no '%s' in: %s", from, to, s, why);
		}
	va_end(ap);
}

/* from -> to is allowed (allow_down as given). */
static void
expect_allowed(const char *from, const char *to, int allow_down)
{
	char why[512];

	assert_int_equal(refusal(from, to, allow_down, why, sizeof(why)), 0);
}

static void
test_refusal_skip_minor(void **state)
{
	(void)state;
	/* 1.8: the step to take first */
	expect_refusal("1.7.16", "1.9.11", 0, "1.7", "1.9", "1.8", "first",
	    NULL);
	/* allow_downgrade does not allow skipping forward */
	expect_refusal("1.7.16", "1.9.11", 1, "1.8", NULL);
	/* without patches too, and two minors ahead names the next one */
	expect_refusal("1.7", "1.10", 0, "1.8", NULL);
}

static void
test_refusal_one_minor_allowed(void **state)
{
	static const char *const ok[][2] = {
		{ "1.8.15", "1.9.11" },
		{ "1.8", "1.9" },
		{ "1.8.15", "1.9" },
		{ "1.9.3", "1.10.0" },
		/* patch upgrades within a minor */
		{ "1.8.15", "1.8.20" },
		/* equal is allowed (nothing to do is the caller's call) */
		{ "1.9.11", "1.9.11" },
		{ "1.9", "1.9" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < TH_LEN(ok); i++)
		expect_allowed(ok[i][0], ok[i][1], 0);
}

static void
test_refusal_downgrade(void **state)
{
	char why[512];

	(void)state;
	expect_refusal("1.9.11", "1.8.15", 0, "downgrade", "1.9.11", "1.8.15",
	    "--allow-downgrade", NULL);
	expect_allowed("1.9.11", "1.8.15", 1);
	/* a patch downgrade is a downgrade too */
	expect_refusal("1.8.20", "1.8.15", 0, "downgrade", NULL);
	expect_allowed("1.8.20", "1.8.15", 1);
	/* versions without a patch are not shown with a bogus "-1" */
	assert_int_not_equal(refusal("1.9", "1.8", 0, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "downgrade"));
	assert_null(strstr(why, "-1"));
	assert_non_null(strstr(why, "1.9"));
	assert_non_null(strstr(why, "1.8"));
}

static void
test_refusal_major(void **state)
{
	(void)state;
	expect_refusal("1.9.11", "2.0.0", 0, "major", "1.9", "2.0", NULL);
	expect_refusal("1.9.11", "2.0.0", 1, NULL);
	expect_refusal("2.0", "1.9", 1, "major", NULL);
	/* major 1 -> 2 with the same minor is still a major change */
	expect_refusal("1.9", "2.9", 0, "major", NULL);
}

static void
test_refusal_small_buffer(void **state)
{
	struct kver f = th_kver("1.7.16"), t = th_kver("1.9.11");
	char why[8];

	(void)state;
	memset(why, 'x', sizeof(why));
	assert_int_not_equal(upgrade_refusal(&f, &t, 0, why, sizeof(why)), 0);
	assert_int_equal(strlen(why), sizeof(why) - 1);	/* truncated, ended */
}

/* ---- --max-unavailable --------------------------------------------------- */

static void
expect_maxu(const char *s, size_t nnodes, unsigned want)
{
	char err[256] = "";
	unsigned out = 12345;

	if (upgrade_max_unavailable(s, nnodes, &out, err, sizeof(err)) != 0)
		fail_msg("max-unavailable '%s' of %zu refused: %s", s, nnodes,
		    err);
	if (out != want)
		fail_msg("max-unavailable '%s' of %zu = %u, want %u", s,
		    nnodes, out, want);
}

static void
test_max_unavailable_good(void **state)
{
	(void)state;
	expect_maxu("1", 3, 1);
	expect_maxu("2", 3, 2);
	expect_maxu("3", 3, 3);
	expect_maxu("10", 3, 3);	/* at most every node */
	expect_maxu("50%", 3, 1);	/* 1.5 rounded down */
	expect_maxu("50%", 4, 2);
	expect_maxu("100%", 4, 4);
	expect_maxu("25%", 10, 2);
	expect_maxu("1%", 3, 1);	/* rounded down to 0, at least 1 */
	expect_maxu("99%", 100, 99);
	expect_maxu("100000", 7, 7);
	/* no nodes: 1 */
	expect_maxu("1", 0, 1);
	expect_maxu("50%", 0, 1);
	expect_maxu("100%", 0, 1);
	expect_maxu("10", 0, 1);
}

static void
test_max_unavailable_bad(void **state)
{
	static const char *const bad[] = {
		"0", "0%", "-1", "x", "101%", "%", "1.5", "", " 1", "1 ",
		"+1", "1%%", "50%x", "2x", "1e3", "0x10", "-0", "100001",
		"99999999999999999999999999",
	};
	char err[256];
	unsigned out;
	size_t i;

	(void)state;
	for (i = 0; i < TH_LEN(bad); i++) {
		err[0] = '\0';
		out = 777;
		if (upgrade_max_unavailable(bad[i], 3, &out, err,
		    sizeof(err)) != -1)
			fail_msg("max-unavailable '%s' accepted (%u)", bad[i],
			    out);
		if (strstr(err, "--max-unavailable") == NULL)
			fail_msg("max-unavailable '%s': no message: '%s'",
			    bad[i], err);
		if (strstr(err, bad[i]) == NULL)
			fail_msg("max-unavailable '%s': message does not "
			    "quote it: '%s'", bad[i], err);
		assert_int_equal(out, 777);	/* untouched */
	}
}

/* ---- phase names --------------------------------------------------------- */

static void
test_phase_names(void **state)
{
	static const enum upg_phase_kind k[] = { UPG_SNAPSHOT, UPG_ETCD,
		UPG_MASTER, UPG_NODE };
	static const char *const names[] = { "snapshot", "etcd", "master",
		"node" };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_string_equal(upgrade_phase_name(k[i]), names[i]);
		assert_int_equal(upgrade_phase_kind(names[i]), (int)k[i]);
		assert_int_equal(upgrade_phase_kind(upgrade_phase_name(k[i])),
		    (int)k[i]);
	}
	assert_int_equal(upgrade_phase_kind("bogus"), -1);
	assert_int_equal(upgrade_phase_kind(""), -1);
	assert_int_equal(upgrade_phase_kind("Node"), -1);
	assert_int_equal(upgrade_phase_kind("nodes"), -1);
	assert_int_equal(upgrade_phase_kind("?"), -1);
	assert_non_null(upgrade_phase_name((enum upg_phase_kind)42));
	assert_int_equal(upgrade_phase_kind(
	    upgrade_phase_name((enum upg_phase_kind)42)), -1);
}

/* ---- phases -------------------------------------------------------------- */

/* Load an inventory whose hosts: section is hosts_yaml. */
static struct inventory *
inv_from(const char *hosts_yaml)
{
	struct inventory *inv;
	char path[PATH_MAX], text[8192];
	int n;

	snprintf(path, sizeof(path), "%s/inventory.yaml", th_group_dir());
	n = snprintf(text, sizeof(text), "cluster:\n  name: test\n"
	    "  kubernetes_version: \"1.8.15\"\nhosts:\n%s", hosts_yaml);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	th_put(NULL, path, text);
	inv = th_inv_load(path);
	assert_int_equal(unlink(path), 0);
	return inv;
}

/* Each host its own address: the inventory refuses duplicates. */
#define HOST(name, roles) \
	"  - name: " name "\n    address: " name ".example.test\n" \
	"    roles: " roles "\n"

/* upgrade_phases(inv, flags, maxu) gives the phases want spells, in order:
 * "KIND HOST" each ("KIND HOST/BATCH" for a node batch), ", " between. */
static void
expect_phases(const struct inventory *inv, unsigned flags, unsigned maxu,
    const char *want)
{
	struct upg_phase *p = NULL;
	char got[1024];
	size_t n = 999, i, off = 0;

	assert_int_equal(upgrade_phases(inv, flags, maxu, &p, &n), 0);
	got[0] = '\0';
	for (i = 0; i < n; i++) {
		assert_true(p[i].host < inv->nhosts);
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s %s",
		    i > 0 ? ", " : "", upgrade_phase_name(p[i].kind),
		    inv->hosts[p[i].host].name);
		if (p[i].batch != 0)
			off += (size_t)snprintf(got + off, sizeof(got) - off,
			    "/%d", p[i].batch);
		assert_true(off < sizeof(got));
	}
	free(p);
	if (strcmp(got, want) != 0)
		fail_msg("flags %#x max %u: phases\n  %s\nwant\n  %s", flags,
		    maxu, got, want);
}

/* node1: etcd+master; node2..4: node */
static const char small[] =
    HOST("node1", "[etcd, master]")
    HOST("node2", "[node]")
    HOST("node3", "[node]")
    HOST("node4", "[node]");

static void
test_phases_small_snapshot(void **state)
{
	static const char w[] =
	    "snapshot node1, master node1, node node2/1, node node3/2, "
	    "node node4/3";
	static const char nosnap[] =
	    "master node1, node node2/1, node node3/2, node node4/3";
	static const char etcd[] =
	    "snapshot node1, etcd node1, master node1, node node2/1, "
	    "node node3/2, node node4/3";
	struct inventory *inv = inv_from(small);

	(void)state;
	expect_phases(inv, UPG_PLAN_SNAPSHOT, 1, w);
	expect_phases(inv, UPG_PLAN_SNAPSHOT, 0, w);	/* 0 is 1 */
	expect_phases(inv, 0, 1, nosnap);
	expect_phases(inv, UPG_PLAN_SNAPSHOT | UPG_PLAN_ETCD, 1, etcd);
	inventory_free(inv);
}

static void
test_phases_batches(void **state)
{
	static const char two[] =
	    "snapshot node1, master node1, node node2/1, node node3/1, "
	    "node node4/2";
	static const char all[] =
	    "snapshot node1, master node1, node node2/1, node node3/1, "
	    "node node4/1";
	struct inventory *inv = inv_from(small);

	(void)state;
	expect_phases(inv, UPG_PLAN_SNAPSHOT, 2, two);
	expect_phases(inv, UPG_PLAN_SNAPSHOT, 3, all);
	expect_phases(inv, UPG_PLAN_SNAPSHOT, 50, all);
	inventory_free(inv);
}

/* three etcd members, two masters (one of them also etcd), nodes */
static const char ha[] =
    HOST("e1", "[etcd]")
    HOST("m1", "[master, etcd]")
    HOST("n1", "[node]")
    HOST("e3", "[etcd]")
    HOST("m2", "[master]")
    HOST("n2", "[node]")
    HOST("n3", "[node]");

static void
test_phases_etcd(void **state)
{
	static const char w[] =
	    "snapshot e1, etcd e1, etcd m1, etcd e3, master m1, master m2, "
	    "node n1/1, node n2/1, node n3/2";
	static const char noetcd[] =
	    "snapshot e1, master m1, master m2, node n1/1, node n2/1, "
	    "node n3/2";
	struct inventory *inv = inv_from(ha);

	(void)state;
	expect_phases(inv, UPG_PLAN_SNAPSHOT | UPG_PLAN_ETCD, 2, w);
	expect_phases(inv, UPG_PLAN_SNAPSHOT, 2, noetcd);
	inventory_free(inv);
}

static void
test_phases_reverse(void **state)
{
	/* upgrade with max 2 was: n1 n2 | n3 */
	static const char w[] =
	    "node n3/1, node n2/2, node n1/2, master m2, master m1, etcd e3, "
	    "etcd m1, etcd e1";
	static const char one[] =
	    "node n3/1, node n2/2, node n1/3, master m2, master m1";
	static const char all[] =
	    "node n3/1, node n2/1, node n1/1, master m2, master m1";
	struct inventory *inv = inv_from(ha);

	(void)state;
	/* no snapshot on the way back, even when asked */
	expect_phases(inv, UPG_PLAN_REVERSE | UPG_PLAN_ETCD |
	    UPG_PLAN_SNAPSHOT, 2, w);
	expect_phases(inv, UPG_PLAN_REVERSE | UPG_PLAN_ETCD, 2, w);
	expect_phases(inv, UPG_PLAN_REVERSE, 1, one);
	expect_phases(inv, UPG_PLAN_REVERSE | UPG_PLAN_SNAPSHOT, 3, all);
	inventory_free(inv);
}

/* a master and four nodes */
#define M_ABCD \
	HOST("m", "[master]") \
	HOST("a", "[node]") \
	HOST("b", "[node]") \
	HOST("c", "[node]") \
	HOST("d", "[node]")

static void
test_phases_reverse_batches(void **state)
{
	/* 5 nodes by 2: forward a b | c d | e; back: e | d c | b a */
	static const char w[] =
	    "node e/1, node d/2, node c/2, node b/3, node a/3, master m";
	static const char fwd[] =
	    "master m, node a/1, node b/1, node c/2, node d/2, node e/3";
	/* 4 nodes by 2: a b | c d; back: d c | b a */
	static const char even[] =
	    "node d/1, node c/1, node b/2, node a/2, master m";
	struct inventory *inv = inv_from(M_ABCD HOST("e", "[node]"));

	(void)state;
	expect_phases(inv, 0, 2, fwd);
	expect_phases(inv, UPG_PLAN_REVERSE, 2, w);
	inventory_free(inv);
	inv = inv_from(M_ABCD);
	expect_phases(inv, UPG_PLAN_REVERSE, 2, even);
	inventory_free(inv);
}

static void
test_phases_master_and_node(void **state)
{
	/* one host doing everything, and one node */
	static const char up[] =
	    "snapshot allin, etcd allin, master allin, node allin/1, node w/2";
	static const char down[] =
	    "node w/1, node allin/2, master allin, etcd allin";
	struct inventory *inv = inv_from(
	    HOST("allin", "[etcd, node, master]")
	    HOST("w", "[node]"));

	(void)state;
	expect_phases(inv, UPG_PLAN_SNAPSHOT | UPG_PLAN_ETCD, 1, up);
	expect_phases(inv, UPG_PLAN_REVERSE | UPG_PLAN_ETCD |
	    UPG_PLAN_SNAPSHOT, 1, down);
	inventory_free(inv);
}

static void
test_phases_no_etcd_no_nodes(void **state)
{
	/* no etcd host: no snapshot, no etcd phase; no nodes: no batches */
	static const char w[] = "master m1, master m2";
	static const char r[] = "master m2, master m1";
	struct inventory *inv = inv_from(
	    HOST("m1", "[master]")
	    HOST("lb", "[loadbalancer]")
	    HOST("m2", "[master]"));

	(void)state;
	expect_phases(inv, UPG_PLAN_SNAPSHOT | UPG_PLAN_ETCD, 1, w);
	expect_phases(inv, UPG_PLAN_REVERSE | UPG_PLAN_ETCD, 3, r);
	inventory_free(inv);
}

static void
test_phases_nothing(void **state)
{
	struct inventory *inv = inv_from(HOST("lb", "[loadbalancer]"));
	struct upg_phase *p = NULL;
	size_t n = 7;

	(void)state;
	assert_int_equal(upgrade_phases(inv, UPG_PLAN_SNAPSHOT | UPG_PLAN_ETCD,
	    1, &p, &n), 0);
	assert_int_equal(n, 0);
	free(p);
	p = NULL;
	assert_int_equal(upgrade_phases(inv, UPG_PLAN_REVERSE, 1, &p, &n), 0);
	assert_int_equal(n, 0);
	free(p);
	inventory_free(inv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kver_parse_good),
		cmocka_unit_test(test_kver_parse_bad),
		cmocka_unit_test(test_kver_cmp),
		cmocka_unit_test(test_kver_matches),
		cmocka_unit_test(test_refusal_skip_minor),
		cmocka_unit_test(test_refusal_one_minor_allowed),
		cmocka_unit_test(test_refusal_downgrade),
		cmocka_unit_test(test_refusal_major),
		cmocka_unit_test(test_refusal_small_buffer),
		cmocka_unit_test(test_max_unavailable_good),
		cmocka_unit_test(test_max_unavailable_bad),
		cmocka_unit_test(test_phase_names),
		cmocka_unit_test(test_phases_small_snapshot),
		cmocka_unit_test(test_phases_batches),
		cmocka_unit_test(test_phases_etcd),
		cmocka_unit_test(test_phases_reverse),
		cmocka_unit_test(test_phases_reverse_batches),
		cmocka_unit_test(test_phases_master_and_node),
		cmocka_unit_test(test_phases_no_etcd_no_nodes),
		cmocka_unit_test(test_phases_nothing),
	};

	return cmocka_run_group_tests(tests, th_group_setup,
	    th_group_teardown);
}
