/*
 * run_prior.h - what already runs, from the state: for each step with a
 * service, the hosts where that service converged in an earlier run.  It
 * decides two things a run must know before any host is contacted: which
 * steps roll (playbook `serial:`), and whether a host joins a cluster that
 * exists (an etcd member added to running ones) or starts a new one.
 */
#ifndef KORCH_RUN_PRIOR_H
#define KORCH_RUN_PRIOR_H

struct dag;
struct inventory;
struct kstate;
struct playbook;
struct vars;

/*
 * For every step of pb with a service task: set prior.<step> in extra to
 * the comma-joined names of the hosts (in inventory order) whose service
 * tasks of that step are all recorded converged (observed ok) in st; and
 * when the step has serial: N and any of its hosts is such a host, make it
 * roll in dag: those hosts first, then the others, each group in inventory
 * order.  A step that ran nowhere yet (a first install) does not roll,
 * nor, when roll is 0 (--all-at-once), one that ran on all its hosts.  st may be NULL (nothing
 * ran).  0, KORCH_ERR_ALLOC, or the state's error.
 */
int prior_apply(struct kstate *st, const struct playbook *pb,
    const struct inventory *inv, struct dag *dag, struct vars *extra,
    int roll);

#endif
