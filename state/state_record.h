/*
 * state_record.h - what the scheduler writes while a run goes
 * (state/record.c): task results, observed state, hosts, per-host outcomes,
 * pending restarts and components.  Cheap enough for every result; group
 * a loop tick's calls in a batch (state.h).
 */
#ifndef KORCH_STATE_RECORD_H
#define KORCH_STATE_RECORD_H

#include "state.h"

/* Result of one task on one host.  Names table: kstate_status_name(). */
enum kstate_status {
	KSTATE_OK,
	KSTATE_CHANGED,
	KSTATE_FAILED,
	KSTATE_SKIPPED,
	KSTATE_UNREACHABLE,
};

/* Fixed lowercase name as stored in the database ("ok", "changed", ...);
 * "?" for a value out of range.  Never NULL. */
const char *kstate_status_name(enum kstate_status s);

struct kstate_result {
	int64_t		 run_id;
	const char	*host;		/* required, and recorded */
	const char	*step;		/* required */
	const char	*task_key;	/* required; unique within a host */
	const char	*module;	/* required */
	const char	*desired_digest;	/* may be NULL */
	enum kstate_status status;
	bool		 changed;	/* the host was modified (also a failed
					 * task that changed something);
					 * status CHANGED implies it */
	const char	*message;	/* may be NULL */
	const char	*diff;		/* may be NULL */
	int64_t		 started_at;	/* 0: now */
	int64_t		 duration_ms;
};

/*
 * Record one task result; cheap to call for every result, ok ones included:
 *  - task_results gets a row only for a result that changed something, failed
 *    or found its host unreachable (the run's log of what happened).  The
 *    same (run, host, task_key) recorded again updates that row in place,
 *    and writes nothing when every field is the same.
 *  - observed (what the host is known to be) is upserted for ok, changed and
 *    failed results, only when something differs: CHANGED is stored as
 *    status "ok" (the host now matches the digest), changed_at moves only
 *    when the result changed something, ok_at is when it last became ok.
 *    An identical ok result writes nothing.  SKIPPED and UNREACHABLE say
 *    nothing about the host and leave observed alone.
 * The result's time is started_at + duration_ms.
 */
int kstate_record_result(struct kstate *st, const struct kstate_result *r);

/*
 * Upsert a host.  address, facts_json (must be valid JSON), hostkey_fp: NULL
 * keeps the stored value (invalid JSON facts: KORCH_ERR_INVALID_ARG).
 * last_contact becomes now when reachable.
 * error: NULL clears last_error.  run_id <= 0: not in a run.
 */
int kstate_record_host(struct kstate *st, int64_t run_id, const char *name,
    const char *address, const char *facts_json, const char *hostkey_fp,
    bool reachable, const char *error);

/*
 * Forget host name: its row and, with it, everything recorded about it
 * (results, observed rows, components, pending restarts, per-run
 * outcomes).  For a host `korch remove` or `korch reset` took out of the
 * cluster; a host not recorded is not an error.  Synced once committed.
 */
int kstate_host_forget(struct kstate *st, const char *name);

/* One host's outcome in one run. */
enum kstate_outcome {
	KSTATE_HOST_CONVERGED,
	KSTATE_HOST_FAILED,
	KSTATE_HOST_UNREACHABLE,
};

/* Its name as stored ("converged", ...), as kstate_status_name(). */
const char *kstate_outcome_name(enum kstate_outcome o);

/* A host's outcome and counts in a run (error may be NULL).  Recorded
 * again in the same run (an upgrade is several engine passes), the counts
 * add up, a failed or unreachable outcome stays, and the newest error
 * wins. */
int kstate_record_run_host(struct kstate *st, int64_t run_id,
    const char *host, enum kstate_outcome outcome, int ok, int changed,
    int failed, int skipped, const char *error);

/*
 * A service (task_key) on host must be restarted because something it
 * watches changed in run_id; record it in the same batch as that result so a
 * crash cannot separate them.  Setting an already pending restart keeps the
 * first reason and run.  Clearing one that is not pending is not an error.
 */
int kstate_pending_restart_set(struct kstate *st, const char *host,
    const char *task_key, const char *reason, int64_t run_id);
int kstate_pending_restart_clear(struct kstate *st, const char *host,
    const char *task_key);
int kstate_pending_restart_get(struct kstate *st, const char *host,
    const char *task_key, bool *pending);

/*
 * What a host runs: component (e.g. "kube-apiserver"), the version the
 * inventory wants (desired, may be NULL), the version the binary reports
 * (observed, "none" when absent) and its unit's state (active).  Writes
 * only when something differs from the stored row (observed_at is when it
 * last did).
 */
int kstate_record_component(struct kstate *st, int64_t run_id,
    const char *host, const char *component, const char *desired,
    const char *observed, const char *active);

#endif
