/*
 * state_lock.h - runs and the run lock (state/lock.c): a run is what one
 * korch command records; the lock keeps two from running at once.
 */
#ifndef KORCH_STATE_LOCK_H
#define KORCH_STATE_LOCK_H

#include "state.h"

/* How a run ended (RUNNING while it holds the lock). */
enum kstate_run_result {
	KSTATE_RUN_RUNNING,
	KSTATE_RUN_CONVERGED,
	KSTATE_RUN_FAILED,
	KSTATE_RUN_INTERRUPTED,	/* its process died (set by the next run) */
	KSTATE_RUN_ABORTED,	/* stopped on purpose (signal, pre-flight) */
};

/* Fixed lowercase name as stored in the database ("running",
 * "converged", ...); "?" for a value out of range.  Never NULL. */
const char *kstate_run_result_name(enum kstate_run_result r);

/*
 * Start a run: take the run lock, record the run as RUNNING, and write the
 * lock row (run id, pid, hostname, start, command = kind + " " + args).
 * kind: short lowercase word ("apply", "plan", "upgrade", ...); args: the
 * command line as text, may be NULL.
 *
 * The lock is flock(LOCK_EX) on the side file "<path>.lock" (mode 0600),
 * held open until kstate_run_end()/kstate_close(); the kernel drops it when
 * the process dies.  Never delete that file by hand while a run is going.
 *
 * Another live run holds the lock: KORCH_ERR_LOCKED, and holder_msg (and
 * kstate_errmsg()) names it: run id, kind, pid, host, user, start time and
 * command.  A lock row left by a dead process is taken over: every run
 * still marked RUNNING becomes INTERRUPTED, and holder_msg says which run
 * was taken over (it is "" when there was none).  holder_msg may be NULL.
 * A handle holds at most one run (a second begin is KORCH_ERR_INVALID_ARG).
 */
int kstate_run_begin(struct kstate *st, const char *kind, const char *args,
    int64_t *run_id, char *holder_msg, size_t holder_len);

/*
 * End the run this handle holds: commits an open batch, records ended_at,
 * result (not RUNNING) and exit_code, deletes the lock row and releases the
 * lock.  When the database update fails the lock is kept (retry, or
 * kstate_close() releases it and the next run marks this one INTERRUPTED).
 */
int kstate_run_end(struct kstate *st, int64_t run_id,
    enum kstate_run_result result, int exit_code);

#endif
