/*
 * dag.h - the plan: which steps run on which hosts, and in what order.
 *
 * Nodes are (step, host) pairs where the step's role selector matches the
 * host.  Steps are ordered topologically by needs; among steps whose order
 * is not constrained, playbook order (file, then position) wins, so the
 * order is stable from run to run.
 *
 * Barrier semantics (the scheduler's, sched.h): a step on a host waits
 * until every step it needs is finished on every host that needed step
 * applies to, and runs when it succeeded on at least one of them and did
 * not fail on this host.  A host where a needed step failed has left that
 * barrier (its own dependents are skipped); a host that leaves the run has
 * its unfinished nodes marked failed by the scheduler, so barriers stop
 * waiting for it.  A needed step that applies to no host, or that the run
 * leaves out, is satisfied.
 *
 * Steps and hosts are named by their index in the playbook and inventory
 * the dag was built from; both must outlive it.
 */
#ifndef KORCH_DAG_H
#define KORCH_DAG_H

#include <stddef.h>

struct diag;
struct inventory;
struct playbook;
struct dag;

/* Status of one node as the scheduler tracks it. */
enum dag_status {
	DAG_ST_PENDING = 0,	/* not started (zeroed arrays start here) */
	DAG_ST_RUNNING,		/* sent to its host's agent, which runs it
				 * before any step sent after it and skips
				 * those if it fails */
	DAG_ST_RUNNING_HELD,	/* sent, but the controller may still fail it
				 * after the agent is done (a fetch's copy is
				 * checked here): its host's later steps wait
				 * for it as other hosts' do */
	DAG_ST_OK,		/* succeeded (ok or changed) */
	DAG_ST_FAILED,		/* failed, or its host left the run */
	DAG_ST_SKIPPED,		/* never ran because a need failed */
	DAG_ST_OUT,		/* not in this run (--limit, a step not
				 * selected): a need on it counts as met */
};

/* Answer of dag_node_ready(). */
enum dag_ready {
	DAG_READY,		/* pending and every need is met: run it */
	DAG_WAIT,		/* pending; some need is not finished yet */
	DAG_BLOCKED,		/* pending; some need failed here, or failed
				 * or was skipped everywhere it ran, so it can
				 * never run: mark it skipped */
	DAG_NONE,		/* not a node (step doesn't apply to host),
				 * or not pending */
};

/*
 * Build the plan.  Returns 0 and *out (free with dag_free); or
 * KORCH_ERR_PARSE with problems in d: a watch on another step's task where
 * that step does not run on every host the watching step runs on;
 * KORCH_ERR_CYCLE (a playbook from playbook_load() has none);
 * KORCH_ERR_ALLOC.
 */
int dag_build(const struct playbook *pb, const struct inventory *inv,
    struct dag **out, struct diag *d);
/* NULL-safe. */
void dag_free(struct dag *g);

size_t dag_nsteps(const struct dag *g);
size_t dag_nhosts(const struct dag *g);

/* Step indexes in topological order (all steps, even those on no host). */
const size_t *dag_order(const struct dag *g, size_t *n);
/* The steps that apply to host, in dag_order() order. */
const size_t *dag_host_steps(const struct dag *g, size_t host, size_t *n);
/* The hosts step applies to, in inventory order. */
const size_t *dag_step_hosts(const struct dag *g, size_t step, size_t *n);
/* The steps step needs directly (deduplicated), and their number. */
const size_t *dag_step_needs(const struct dag *g, size_t step, size_t *n);
size_t dag_step_nneeds(const struct dag *g, size_t step);
/* 1 when (step, host) is a node. */
int dag_applies(const struct dag *g, size_t step, size_t host);

/*
 * Readiness of node (step, host) given every node's status: status has
 * dag_nsteps() * dag_nhosts() entries, indexed by dag_node_index().
 * Entries for non-nodes are ignored.  The needs are taken in turn and the
 * first one not met decides: failed or skipped on host itself, DAG_BLOCKED;
 * else pending or running on another host (or DAG_ST_RUNNING_HELD on this
 * one), DAG_WAIT; else failed or skipped on every host it ran on,
 * DAG_BLOCKED.  A need DAG_ST_RUNNING on host itself is met: send the step
 * after it, requiring it (dag_node_running_needs).  Then a rolling step's
 * place in its roll decides (dag_set_roll).
 */
size_t dag_node_index(const struct dag *g, size_t step, size_t host);
enum dag_ready dag_node_ready(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status);
/*
 * The steps (step, host) needs that are DAG_ST_RUNNING on host, in needs
 * order: the agent runs them first and skips (step, host) if one fails.
 * Stores at most max of them in out; returns how many there are (never
 * more than dag_step_nneeds()).
 */
size_t dag_node_running_needs(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status, size_t *out, size_t max);
/*
 * Make step roll: its hosts (every host it applies to, each once, in roll
 * order) run it at most width at a time, a host waiting until every host
 * width places before it finished the step, and none after a failure
 * (dag_node_ready says DAG_BLOCKED).  n == 0 ends a roll.  0,
 * KORCH_ERR_INVALID_ARG (hosts is not the step's hosts), KORCH_ERR_ALLOC.
 */
int dag_set_roll(struct dag *g, size_t step, unsigned width,
    const size_t *hosts, size_t n);
/* The roll order of step (NULL, *n 0: it does not roll) and its width. */
const size_t *dag_roll(const struct dag *g, size_t step, size_t *n,
    unsigned *width);

/* 1 when a step that step needs failed or was skipped on host itself: the
 * agent then skipped (step, host), whatever it ran of it. */
int dag_node_need_failed(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status);

#endif
