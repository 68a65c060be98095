/*
 * upgrade_run.h - the phases of an upgrade or rollback, each run through
 * the engine (sched.h) on the hosts it concerns and recorded in the
 * journal (state_upgrade.h: upgrades, upgrade_phases) before and after it runs.
 *
 * A phase is a few engine passes, each limited to some steps on some
 * hosts: the cluster's own steps (etcd, master, flannel, node) rendered
 * with the target version's bundle, and the upgrade steps of
 * <playbooks>/upgrade (etcd-snapshot, etcd-cluster-health, drain,
 * uncordon).  Every step is check-then-apply, so a phase found `running`
 * after a crash is simply run again: what is already in place reports ok,
 * what is missing is done, and the health gates decide.
 */
#ifndef KORCH_UPGRADE_RUN_H
#define KORCH_UPGRADE_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/sched.h"

struct agent_image;
struct dag;
struct inventory;
struct kstate;
struct playbook;
struct run_inputs;

struct upgrade_env {
	const struct inventory	*inv;	/* its version: the target's */
	const struct playbook	*pb;	/* the cluster's steps */
	const struct dag	*dag;
	const struct playbook	*upb;	/* <playbooks>/upgrade */
	const struct dag	*udag;
	struct kstate		*st;
	int64_t			 run_id;
	const struct agent_image *img;
	struct run_inputs	*in;	/* the target's bundle and PKI */
	struct sched_opts	 o;	/* forks, timeouts, host keys */
	const char		*backup_dir;	/* snapshots on the controller */
	FILE			*out;	/* phase lines; NULL: quiet (--json) */
	int			 verbose;	/* every task of every pass */
	/* Set from a signal handler: stop before the next phase. */
	volatile sig_atomic_t	*stop;
};

/*
 * Every step list the phases run comes from the target's profile (its
 * `steps:` slots): each slot must name steps of one playbook set, the
 * cluster's or <playbooks>/upgrade.  0, or KORCH_ERR_INVALID_ARG with the
 * first problem in why.  Before any host is contacted.
 */
int upgrade_check_slots(const struct upgrade_env *e, char *why,
    size_t whylen);

/*
 * One engine pass of every step of the cluster's playbooks (what apply
 * runs) on the hosts named in limit (comma-separated): how `korch certs
 * renew` installs new certificates a host at a time, the restarts
 * following the files that changed.  failed and the result as for the
 * phases: 0, KORCH_ERR_CONNECT or KORCH_ERR_AGENT with "host: reason"
 * lines in why.
 */
int upgrade_pass_all(const struct upgrade_env *e, const char *limit,
    unsigned char *failed, char *why, size_t whylen);

/*
 * Pre-flight: every host (of the whole inventory) reachable, every etcd
 * member healthy, and each host's components observed into the state
 * (`components`), so the caller can read where the cluster is.  A host
 * marked in lenient (inventory-sized, may be NULL) may fail its checks
 * but not be unreachable: an etcd member an earlier attempt left broken
 * is what resuming or rolling back must repair.  0 when
 * all is well; KORCH_ERR_CONNECT (a host unreachable) or KORCH_ERR_AGENT
 * (a check failed) with the hosts and reasons in why; another KORCH_ERR_*
 * when the engine broke.
 */
int upgrade_preflight(const struct upgrade_env *e,
    const unsigned char *lenient, char *why, size_t whylen);

/*
 * Run the unfinished phases of journal entry id in order (done ones are
 * skipped; a node batch runs as one).  A pending phase whose host already
 * reports the target version of its components is recorded done without
 * running.  Stops at the first failed phase (recorded failed, with its
 * message, and the entry failed) or when *e->stop is set (the entry stays
 * unfinished).  Returns 0 when every phase is done, KORCH_ERR_AGENT or
 * KORCH_ERR_CONNECT (why names the phase, the host and the reason),
 * KORCH_ERR_INTERRUPTED, or another KORCH_ERR_*.  The caller records how
 * the entry ended.
 */
int upgrade_run_phases(const struct upgrade_env *e, int64_t id, char *why,
    size_t whylen);

/*
 * The bundle's etcdctl runs `snapshot status` on path, here on the
 * controller: a second opinion beside the member's.  A bundle built for
 * another architecture cannot run here; that is said in note, not failed.
 * 0 (note says how it was checked) or KORCH_ERR_HASH_MISMATCH (note says
 * what etcdctl found wrong); KORCH_ERR_SYSTEM.
 */
int upgrade_check_snapshot(const struct upgrade_env *e, const char *path,
    char *note, size_t notelen);

/*
 * `korch etcd restore`: stop the apiservers, rebuild every etcd member
 * from snap (served to the hosts as a blob; the old data directory kept
 * as /var/lib/korch/restore/etcd.before-<stamp>), start the members, wait
 * for cluster health, write flannel's network config again (a v3
 * snapshot has no v2 keys), start the apiservers and wait for /healthz.
 * Stops at the first failure: 0, or KORCH_ERR_CONNECT / KORCH_ERR_AGENT
 * with the hosts and reasons in why.
 */
struct bundle_component;
int upgrade_restore(const struct upgrade_env *e,
    const struct bundle_component *snap, const char *stamp, char *why,
    size_t whylen);

#endif
