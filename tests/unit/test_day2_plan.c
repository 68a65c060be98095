/*
 * test_day2_plan.c - the host-free decisions of `korch remove` and `korch
 * reset` (cluster/day2_plan.h): the last master, the last etcd member,
 * etcd's quorum counted from the members' health, --purge-data on a
 * member still in the cluster, and the host the work goes through.
 * Each case is one line: the hosts as "name/roles/flags" (roles: e etcd,
 * m master, n node; flags: t target, r removed, h healthy), the expected
 * verdict, and a piece of the reason that must be said.
 */
#include "helpers_fs.h"

#include "cluster/day2_plan.h"

/* Parse "e1/em/th n1/n/t ..." into h (at most 16 hosts); the count. */
static size_t
hosts(const char *spec, struct day2_host *h, char names[][16])
{
	char buf[512], *save = NULL, *tok, *roles, *flags;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, " ", &save); tok != NULL && n < 16;
	    tok = strtok_r(NULL, " ", &save), n++) {
		memset(&h[n], 0, sizeof(h[n]));
		roles = strchr(tok, '/');
		assert_non_null(roles);
		*roles++ = '\0';
		flags = strchr(roles, '/');
		assert_non_null(flags);
		*flags++ = '\0';
		snprintf(names[n], 16, "%s", tok);
		h[n].name = names[n];
		h[n].roles = (strchr(roles, 'e') ? DAY2_ETCD : 0) |
		    (strchr(roles, 'm') ? DAY2_MASTER : 0) |
		    (strchr(roles, 'n') ? DAY2_NODE : 0);
		h[n].target = strchr(flags, 't') != NULL;
		h[n].removed = strchr(flags, 'r') != NULL;
		h[n].healthy = strchr(flags, 'h') != NULL;
	}
	return n;
}

enum which { REMOVE, QUORUM, RESET, RESET_PURGE };

struct tcase {
	enum which	 which;
	const char	*hosts;
	int		 refused;
	const char	*says;	/* in the reason (refused only) */
};

static void
test_refusals(void **state)
{
	static const struct tcase cases[] = {
		/* The last master; another master makes it fine. */
		{ REMOVE, "m1/em/t n1/n/", 1, "without a master (it is the last)" },
		{ REMOVE, "m1/em/t m2/em/t e3/e/ n1/n/", 1, "removing m1, m2 would leave the cluster without a master (they are the last)" },
		{ REMOVE, "m1/em/t m2/em/ e3/e/ n1/n/", 0, NULL },
		/* A master removed earlier does not count. */
		{ REMOVE, "m1/m/r m2/m/t n1/n/", 1, "without a master" },
		/* Every etcd member. */
		{ REMOVE, "m1/m/ e1/e/t", 1, "etcd without a member" },
		{ REMOVE, "m1/m/ e1/e/t e2/e/t", 1, "removing e1, e2 would leave etcd without a member" },
		/* Nothing to remove: every target already removed. */
		{ REMOVE, "m1/em/ n1/n/tr", 1, "no host to remove" },
		/* Nodes alone: fine while a master stays. */
		{ REMOVE, "m1/em/ n1/n/t n2/n/t", 0, NULL },
		{ REMOVE, "e1/e/ n1/n/t", 1, "no master to delete it from Kubernetes through" },
		/* Quorum: 2 of 3 at once. */
		{ QUORUM, "e1/em/h e2/em/th e3/e/th", 1, "etcd has 3 members; removing e2, e3 leaves 1 healthy of the 2 a quorum of 3 needs; remove one member at a time" },
		/* One of 3, all healthy; a dead one (never healthy) of 3. */
		{ QUORUM, "e1/em/h e2/em/h e3/e/th", 0, NULL },
		{ QUORUM, "e1/em/h e2/em/h e3/e/t", 0, NULL },
		/* One of 3 while another is unhealthy. */
		{ QUORUM, "e1/em/h e2/em/ e3/e/th", 1, "leaves 1 healthy of the 2 a quorum of 3 needs (not healthy: e2; bring it back first)" },
		/* 2 of 5, the rest healthy: 3 of 5 is a quorum. */
		{ QUORUM, "e1/e/h e2/e/h e3/e/h e4/e/th e5/e/th", 0, NULL },
		{ QUORUM, "e1/e/h e2/e/h e3/e/ e4/e/th e5/e/th", 1, "etcd has 5 members; removing e4, e5 leaves 2 healthy of the 3 a quorum of 5 needs (not healthy: e3;" },
		/* A member removed earlier is not one of the members now: 2 left,
		 * one of them removed would leave 1 of 2 (refused). */
		{ QUORUM, "e1/e/h e2/e/th e3/e/r", 1, "etcd has 2 members; removing e2 leaves 1 healthy of the 2" },
		/* Removing no member: nothing to count. */
		{ QUORUM, "e1/em/ n1/n/t", 0, NULL },
		/* reset --purge-data on a member still in the cluster. */
		{ RESET_PURGE, "e1/em/h e2/e/t e3/e/", 1, "e2 is still a member of etcd: --purge-data would delete its data while the other members count on it; `korch remove e2` first (or reset every member)" },
		{ RESET_PURGE, "e1/em/ e2/e/tr e3/e/", 0, NULL },
		{ RESET_PURGE, "e1/em/t e2/e/t e3/e/t n1/n/t", 0, NULL },
		{ RESET_PURGE, "e1/em/ n1/n/t", 0, NULL },
		{ RESET, "e1/em/h e2/e/t e3/e/", 0, NULL },
	};
	struct day2_host h[16];
	char names[16][16], why[512];
	size_t i, n;
	int r = 0;

	(void)state;
	for (i = 0; i < TH_LEN(cases); i++) {
		n = hosts(cases[i].hosts, h, names);
		memset(why, 'x', sizeof(why));
		switch (cases[i].which) {
		case REMOVE:
			r = day2_remove_refusal(h, n, why, sizeof(why));
			break;
		case QUORUM:
			r = day2_quorum_refusal(h, n, why, sizeof(why));
			break;
		case RESET:
		case RESET_PURGE:
			r = day2_reset_refusal(h, n, cases[i].which ==
			    RESET_PURGE, why, sizeof(why));
			break;
		}
		if (r != cases[i].refused)
			fail_msg("case %zu (%s): %s, expected %s (%s)", i,
			    cases[i].hosts, r ? "refused" : "allowed",
			    cases[i].refused ? "refused" : "allowed", why);
		if (r == 0 && why[0] != '\0')
			fail_msg("case %zu: allowed, yet says '%s'", i, why);
		if (r && strstr(why, cases[i].says) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, why,
			    cases[i].says);
	}
}

/* A reason longer than the buffer is cut, never overrun. */
static void
test_small_buffer(void **state)
{
	struct day2_host h[16];
	char names[16][16], why[24];

	(void)state;
	memset(why, 'x', sizeof(why));
	assert_int_equal(day2_quorum_refusal(h, hosts("e1/e/h e2/e/th e3/e/th",
	    h, names), why, 12), 1);
	assert_int_equal(strlen(why), 11);
	assert_int_equal(why[12], 'x');
}

static void
test_pick(void **state)
{
	static const struct {
		const char	*hosts;
		unsigned	 role;
		long		 want;
	} cases[] = {
		/* The first master that stays. */
		{ "m1/em/t m2/em/ n1/n/t", DAY2_MASTER, 1 },
		{ "m1/em/ m2/em/ n1/n/t", DAY2_MASTER, 0 },
		{ "m1/m/r m2/m/ n1/n/t", DAY2_MASTER, 1 },
		{ "m1/m/t n1/n/", DAY2_MASTER, -1 },
		/* The first healthy member that stays. */
		{ "e1/e/ e2/e/h e3/e/th", DAY2_ETCD, 1 },
		{ "e1/e/th e2/e/ e3/e/h", DAY2_ETCD, 2 },
		{ "e1/e/t e2/e/ e3/e/", DAY2_ETCD, -1 },
		{ "e1/e/rh e2/e/t e3/e/h", DAY2_ETCD, 2 },
	};
	struct day2_host h[16];
	char names[16][16];
	size_t i, n;
	long got;

	(void)state;
	for (i = 0; i < TH_LEN(cases); i++) {
		n = hosts(cases[i].hosts, h, names);
		if ((got = day2_pick(h, n, cases[i].role)) != cases[i].want)
			fail_msg("case %zu (%s): picked %ld, not %ld", i,
			    cases[i].hosts, got, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
