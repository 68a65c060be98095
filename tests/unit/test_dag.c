/*
 * test_dag.c - the plan: stable topological order, per-host steps,
 * per-step hosts, readiness (the scheduler's barrier rules), and the
 * watch-host check.
 * Fixtures: tests/unit/data/inv/cluster.yaml with pb/good, pb/watch_hosts.
 */
#include "helpers_ctl.h"

static int
setup_pb(void **state, const char *pbname, int want)
{
	*state = th_plan_open(th_data("pb", pbname), want);
	return 0;
}

static int
setup_good(void **state)
{
	return setup_pb(state, "good", 0);
}

static int
teardown(void **state)
{
	th_plan_free(*state);
	return 0;
}

/* Step indexes of the good set, in file order. */
enum { BASE, ETCD, AFTER_NODE, MASTER, NODE, GHOST, LATE, NSTEPS };

static void
expect_list(const size_t *got, size_t n, const size_t *want, size_t wn)
{
	size_t i;

	assert_int_equal(n, wn);
	for (i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
}

static void
test_order(void **state)
{
	struct th_plan *f = *state;
	/* after-node comes early in its file but needs node; ghost has no
	 * needs, yet file order keeps it after every earlier step. */
	static const size_t want[] = { BASE, ETCD, MASTER, NODE, AFTER_NODE,
		GHOST, LATE };
	const size_t *o;
	size_t n;

	assert_int_equal(dag_nsteps(f->g), NSTEPS);
	assert_int_equal(dag_nhosts(f->g), NHOSTS);
	o = dag_order(f->g, &n);
	expect_list(o, n, want, NSTEPS);
}

static void
test_host_steps(void **state)
{
	struct th_plan *f = *state;
	static const size_t m1[] = { BASE, ETCD, MASTER, NODE, AFTER_NODE,
		LATE };
	static const size_t n1[] = { BASE, NODE, AFTER_NODE, LATE };
	static const size_t e1[] = { BASE, ETCD, AFTER_NODE, LATE };
	static const struct { size_t host; const size_t *want; size_t n; }
	    t[] = { { M1, m1, 6 }, { N1, n1, 4 }, { N2, n1, 4 },
	    { E1, e1, 4 } };
	const size_t *s;
	size_t n, i;

	for (i = 0; i < TH_LEN(t); i++) {
		s = dag_host_steps(f->g, t[i].host, &n);
		expect_list(s, n, t[i].want, t[i].n);
	}
	assert_null(dag_host_steps(f->g, NHOSTS, &n));
	assert_int_equal(n, 0);
}

static void
test_step_hosts_and_needs(void **state)
{
	struct th_plan *f = *state;
	static const size_t etcd[] = { M1, E1 };
	static const size_t node[] = { M1, N1, N2 };
	static const size_t late_needs[] = { GHOST };
	const size_t *l;
	size_t n;

	l = dag_step_hosts(f->g, ETCD, &n);
	expect_list(l, n, etcd, 2);
	l = dag_step_hosts(f->g, NODE, &n);
	expect_list(l, n, node, 3);
	(void)dag_step_hosts(f->g, GHOST, &n);
	assert_int_equal(n, 0);
	l = dag_step_needs(f->g, LATE, &n);
	expect_list(l, n, late_needs, 1);
	assert_int_equal(dag_step_nneeds(f->g, BASE), 0);
	assert_int_equal(dag_step_nneeds(f->g, NODE), 1);
	assert_true(dag_applies(f->g, ETCD, E1));
	assert_false(dag_applies(f->g, ETCD, N1));
	assert_false(dag_applies(f->g, NSTEPS, N1));
}

static void
set_all(const struct dag *g, enum dag_status *st, size_t step,
    enum dag_status v)
{
	const size_t *h;
	size_t n, i;

	h = dag_step_hosts(g, step, &n);
	for (i = 0; i < n; i++)
		st[dag_node_index(g, step, h[i])] = v;
}

static void
test_readiness(void **state)
{
	struct th_plan *f = *state;
	const struct dag *g = f->g;
	enum dag_status st[NSTEPS * NHOSTS];

	memset(st, 0, sizeof(st));	/* all DAG_ST_PENDING */
	assert_int_equal(dag_node_ready(g, BASE, N1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, ETCD, M1, st), DAG_WAIT);
	assert_int_equal(dag_node_ready(g, ETCD, N1, st), DAG_NONE);
	/* A need on a step that runs nowhere is met. */
	assert_int_equal(dag_node_ready(g, LATE, N1, st), DAG_READY);

	/* base done on three hosts of four: etcd still waits, on every
	 * host, for the fourth (a cross-host barrier). */
	st[dag_node_index(g, BASE, M1)] = DAG_ST_OK;
	st[dag_node_index(g, BASE, N1)] = DAG_ST_OK;
	st[dag_node_index(g, BASE, E1)] = DAG_ST_OK;
	st[dag_node_index(g, BASE, N2)] = DAG_ST_RUNNING;
	assert_int_equal(dag_node_ready(g, ETCD, M1, st), DAG_WAIT);
	assert_int_equal(dag_node_ready(g, BASE, N2, st), DAG_NONE);
	st[dag_node_index(g, BASE, N2)] = DAG_ST_OK;
	assert_int_equal(dag_node_ready(g, ETCD, M1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, ETCD, E1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_WAIT);

	/* etcd failed on one other host: that host left the barrier, and
	 * master runs where etcd succeeded. */
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_OK;
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_FAILED;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_READY);
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_SKIPPED;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_READY);
	/* etcd failed on master's own host: master can never run there. */
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_FAILED;
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_OK;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_BLOCKED);
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_OK;
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_OK;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_READY);

	/* master failed everywhere it ran (m1 alone): node can never run,
	 * on n1 either, where master does not run. */
	set_all(g, st, MASTER, DAG_ST_FAILED);
	assert_int_equal(dag_node_ready(g, NODE, N1, st), DAG_BLOCKED);
	set_all(g, st, MASTER, DAG_ST_SKIPPED);
	assert_int_equal(dag_node_ready(g, NODE, N1, st), DAG_BLOCKED);

	/* node waits for master everywhere master runs (m1 only). */
	set_all(g, st, MASTER, DAG_ST_OK);
	assert_int_equal(dag_node_ready(g, NODE, N1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, AFTER_NODE, E1, st), DAG_WAIT);
	set_all(g, st, NODE, DAG_ST_OK);
	assert_int_equal(dag_node_ready(g, AFTER_NODE, E1, st), DAG_READY);
}

/* A rolling step: at most width hosts at a time, in the roll's order, and
 * nothing after a failure; its needs still come first. */
static void
test_roll(void **state)
{
	struct th_plan *f = *state;
	struct dag *g = f->g;
	enum dag_status st[NSTEPS * NHOSTS];
	static const size_t order[] = { N2, M1, E1, N1 };
	static const size_t bad[] = { N2, M1, E1, E1 };
	const size_t *got;
	size_t n;
	unsigned w;

	memset(st, 0, sizeof(st));
	assert_int_equal(dag_set_roll(g, BASE, 1, bad, 4),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(dag_set_roll(g, BASE, 1, order, 3),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(dag_set_roll(g, BASE, 0, order, 4),
	    KORCH_ERR_INVALID_ARG);
	assert_null(dag_roll(g, BASE, &n, NULL));
	assert_int_equal(dag_set_roll(g, BASE, 1, order, 4), 0);
	got = dag_roll(g, BASE, &n, &w);
	expect_list(got, n, order, 4);
	assert_int_equal(w, 1);

	assert_int_equal(dag_node_ready(g, BASE, N2, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, BASE, M1, st), DAG_WAIT);
	assert_int_equal(dag_node_ready(g, BASE, N1, st), DAG_WAIT);
	st[dag_node_index(g, BASE, N2)] = DAG_ST_RUNNING;
	assert_int_equal(dag_node_ready(g, BASE, M1, st), DAG_WAIT);
	st[dag_node_index(g, BASE, N2)] = DAG_ST_OK;
	assert_int_equal(dag_node_ready(g, BASE, M1, st), DAG_READY);
	/* E1 waits for every host before it, not just the one before. */
	assert_int_equal(dag_node_ready(g, BASE, E1, st), DAG_WAIT);
	/* A host out of the run does not hold the roll up. */
	st[dag_node_index(g, BASE, M1)] = DAG_ST_OUT;
	assert_int_equal(dag_node_ready(g, BASE, E1, st), DAG_READY);
	/* A failure stops the roll behind it. */
	st[dag_node_index(g, BASE, M1)] = DAG_ST_FAILED;
	assert_int_equal(dag_node_ready(g, BASE, E1, st), DAG_BLOCKED);
	assert_int_equal(dag_node_ready(g, BASE, N1, st), DAG_BLOCKED);

	/* Two at a time: the third waits for the first only. */
	memset(st, 0, sizeof(st));
	assert_int_equal(dag_set_roll(g, BASE, 2, order, 4), 0);
	assert_int_equal(dag_node_ready(g, BASE, N2, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, BASE, M1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, BASE, E1, st), DAG_WAIT);
	st[dag_node_index(g, BASE, N2)] = DAG_ST_OK;
	assert_int_equal(dag_node_ready(g, BASE, E1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, BASE, N1, st), DAG_WAIT);
	/* A failure inside the window stops the hosts behind it too. */
	st[dag_node_index(g, BASE, E1)] = DAG_ST_RUNNING;
	st[dag_node_index(g, BASE, M1)] = DAG_ST_FAILED;
	assert_int_equal(dag_node_ready(g, BASE, N1, st), DAG_BLOCKED);
	st[dag_node_index(g, BASE, M1)] = DAG_ST_PENDING;
	st[dag_node_index(g, BASE, E1)] = DAG_ST_PENDING;

	/* The roll ends; the needs of a rolling step still come first. */
	assert_int_equal(dag_set_roll(g, BASE, 1, order, 0), 0);
	assert_int_equal(dag_node_ready(g, BASE, N1, st), DAG_READY);
	got = dag_step_hosts(g, ETCD, &n);
	assert_int_equal(dag_set_roll(g, ETCD, 1, got, n), 0);
	memset(st, 0, sizeof(st));
	assert_int_equal(dag_node_ready(g, ETCD, M1, st), DAG_WAIT);
}

/* What the scheduler adds: nodes left out of the run, a need in flight on
 * the node's own host (pipelined, unless the controller holds it), and a
 * need that failed on the node's own host. */
static void
test_readiness_run(void **state)
{
	struct th_plan *f = *state;
	const struct dag *g = f->g;
	enum dag_status st[NSTEPS * NHOSTS];
	size_t need[4];

	memset(st, 0, sizeof(st));
	/* base left out on n2 (--limit) and done elsewhere: met. */
	set_all(g, st, BASE, DAG_ST_OK);
	st[dag_node_index(g, BASE, N2)] = DAG_ST_OUT;
	assert_int_equal(dag_node_ready(g, ETCD, M1, st), DAG_READY);
	assert_int_equal(dag_node_ready(g, BASE, N2, st), DAG_NONE);
	/* Left out everywhere (a step not selected): met as well. */
	set_all(g, st, BASE, DAG_ST_OUT);
	assert_int_equal(dag_node_ready(g, ETCD, M1, st), DAG_READY);
	assert_int_equal(dag_node_running_needs(g, ETCD, M1, st, need, 4), 0);

	/* etcd done on e1 and in flight on m1: master on m1 may follow it
	 * at once, requiring it. */
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_OK;
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_RUNNING;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_READY);
	assert_int_equal(dag_node_running_needs(g, MASTER, M1, st, need, 4),
	    1);
	assert_int_equal(need[0], ETCD);
	assert_int_equal(dag_node_running_needs(g, MASTER, M1, st, need, 0),
	    1);
	/* ...but not when the controller holds it (a fetch). */
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_RUNNING_HELD;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_WAIT);
	assert_int_equal(dag_node_running_needs(g, MASTER, M1, st, need, 4),
	    0);
	/* In flight on another host: a barrier, held or not. */
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_OK;
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_RUNNING;
	assert_int_equal(dag_node_ready(g, MASTER, M1, st), DAG_WAIT);
	assert_int_equal(dag_node_running_needs(g, MASTER, M1, st, need, 4),
	    0);

	/* Whether a need failed on the node's own host. */
	st[dag_node_index(g, ETCD, E1)] = DAG_ST_FAILED;
	assert_false(dag_node_need_failed(g, MASTER, M1, st));
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_SKIPPED;
	assert_true(dag_node_need_failed(g, MASTER, M1, st));
	st[dag_node_index(g, ETCD, M1)] = DAG_ST_FAILED;
	assert_true(dag_node_need_failed(g, MASTER, M1, st));
	/* node on n1 needs master, which does not run on n1. */
	set_all(g, st, MASTER, DAG_ST_FAILED);
	assert_false(dag_node_need_failed(g, NODE, N1, st));
	assert_false(dag_node_need_failed(g, BASE, N1, st));
}

/* A watch on a step that skips some of the watcher's hosts is refused. */
static void
test_watch_hosts(void **state)
{
	struct th_plan *f;

	setup_pb(state, "watch_hosts", KORCH_ERR_PARSE);
	f = *state;
	assert_null(f->g);
	assert_int_equal(diag_count(f->d), 1);
	assert_int_equal(diag_get(f->d, 0)->line, 10);
	assert_int_equal(diag_get(f->d, 0)->col, 35);
	assert_string_equal(diag_get(f->d, 0)->path,
	    "steps[1].tasks[0].service.watch[0]");
	assert_string_equal(diag_get(f->d, 0)->msg, "watch target 'conf/f' "
	    "does not run on host 'n1', where step 'svc' runs");
	teardown(state);
}

TH_MAIN(
	cmocka_unit_test_setup_teardown(test_order, setup_good,
	    teardown),
	cmocka_unit_test_setup_teardown(test_host_steps, setup_good,
	    teardown),
	cmocka_unit_test_setup_teardown(test_step_hosts_and_needs,
	    setup_good, teardown),
	cmocka_unit_test_setup_teardown(test_readiness, setup_good,
	    teardown),
	cmocka_unit_test_setup_teardown(test_readiness_run,
	    setup_good, teardown),
	cmocka_unit_test_setup_teardown(test_roll, setup_good, teardown),
	cmocka_unit_test(test_watch_hosts),
)
