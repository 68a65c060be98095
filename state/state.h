/*
 * state.h - korch's state database: desired and observed state, runs and the
 * run lock, in one SQLite file.  This module is the only code that talks to
 * SQLite; nothing outside state/ includes <sqlite3.h>.
 *
 * Conventions for every function below:
 *  - Returns KORCH_OK (0) or a negative KORCH_ERR_* code (proto/err.h).  On
 *    error a one-line reason is kept in the handle: kstate_errmsg().  Nothing
 *    here logs.
 *  - Strings passed in are borrowed for the duration of the call only.
 *  - Timestamps are integer milliseconds since the Unix epoch (UTC).
 *  - A handle is used by one thread at a time, and never in a forked child
 *    (open a new one there).
 *  - SQL errors are KORCH_ERR_STATE; a database held busy by another
 *    process past the short busy timeout is KORCH_ERR_LOCKED; a bad argument
 *    (NULL where a value is required, a run id this handle does not hold) is
 *    KORCH_ERR_INVALID_ARG.
 *
 * Typical apply:
 *	kstate_open(path, &st);
 *	kstate_run_begin(st, "apply", argv_text, &run, msg, sizeof(msg));
 *	per loop tick:  kstate_batch_begin(st);
 *	                kstate_record_host / _record_result / ... ;
 *	                kstate_batch_commit(st);
 *	kstate_run_end(st, run, KSTATE_RUN_CONVERGED, 0);
 *	kstate_close(st);
 */
#ifndef KORCH_STATE_H
#define KORCH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kstate;

/* Schema version this build writes (PRAGMA user_version). */
#define KSTATE_SCHEMA_VERSION	3

/* Result of one task on one host.  Names table: kstate_status_name(). */
enum kstate_status {
	KSTATE_OK,
	KSTATE_CHANGED,
	KSTATE_FAILED,
	KSTATE_SKIPPED,
	KSTATE_UNREACHABLE,
};

/* How a run ended (RUNNING while it holds the lock). */
enum kstate_run_result {
	KSTATE_RUN_RUNNING,
	KSTATE_RUN_CONVERGED,
	KSTATE_RUN_FAILED,
	KSTATE_RUN_INTERRUPTED,	/* its process died (set by the next run) */
	KSTATE_RUN_ABORTED,	/* stopped on purpose (signal, pre-flight) */
};

/* One host's outcome in one run. */
enum kstate_outcome {
	KSTATE_HOST_CONVERGED,
	KSTATE_HOST_FAILED,
	KSTATE_HOST_UNREACHABLE,
};

/* Fixed lowercase names as stored in the database ("ok", "converged", ...);
 * "?" for a value out of range.  Never NULL. */
const char *kstate_status_name(enum kstate_status s);
const char *kstate_run_result_name(enum kstate_run_result r);
const char *kstate_outcome_name(enum kstate_outcome o);

/* ---- opening ---- */

/*
 * Where the state lives by default: $KORCH_STATE if set and non-empty, else
 * $XDG_STATE_HOME/korch/state.db (only when $XDG_STATE_HOME is absolute, as
 * the XDG spec says), else $HOME/.local/state/korch/state.db (the home
 * directory from the password database when $HOME is unset).
 * Writes a NUL-terminated path into buf.  KORCH_ERR_TOO_LARGE if it does
 * not fit, KORCH_ERR_NOT_FOUND if no home directory can be found.
 */
int kstate_default_path(char *buf, size_t len);

/*
 * Open (creating if needed) the state database at path.  Missing parent
 * directories are created 0700, a new database file 0600.  Sets WAL
 * journaling, synchronous=NORMAL, foreign keys on and a short busy timeout,
 * then brings the schema up to KSTATE_SCHEMA_VERSION, one migration per
 * transaction (safe against another process opening the same file at once).
 *
 * A database written by a newer korch (user_version above
 * KSTATE_SCHEMA_VERSION) is refused with KORCH_ERR_UNSUPPORTED and left
 * untouched.
 *
 * Like sqlite3_open(): on success and on most failures *out is set, and the
 * caller must kstate_close() it; after a failure the handle serves only
 * kstate_errmsg() and kstate_close().  *out is NULL only when memory for
 * the handle itself could not be had (KORCH_ERR_ALLOC).
 */
int kstate_open(const char *path, struct kstate **out);

/*
 * Close the handle; NULL-safe.  An open batch is committed (reported results
 * are never dropped).  A run still held is ended as KSTATE_RUN_INTERRUPTED
 * and its lock released.  Finalizes every statement.
 */
void kstate_close(struct kstate *st);

/* Reason for the last error on this handle ("" after a success).  Owned by
 * the handle, valid until its next call.  Never NULL, also for st NULL. */
const char *kstate_errmsg(const struct kstate *st);

/* PRAGMA integrity_check and foreign_key_check.  0 when both are clean,
 * KORCH_ERR_STATE with the first problems in kstate_errmsg() otherwise. */
int kstate_integrity_ok(struct kstate *st);

/* Diagnostics and tests: rows changed by this handle since it was opened
 * (sqlite3_total_changes).  Lets a test prove that an identical upsert
 * wrote nothing. */
int64_t kstate_total_changes(struct kstate *st);

/* ---- runs and the run lock ---- */

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

/* ---- recording (the scheduler's hot path) ---- */

/*
 * One transaction per loop tick.  Recording calls outside a batch commit
 * on their own.  Nested begin is KORCH_ERR_INVALID_ARG.  A failed record
 * call leaves the batch open with its other writes intact.  When commit
 * fails the batch stays open (retry, or roll back); when SQLite itself had
 * to roll it back after an I/O error, commit reports KORCH_ERR_STATE and the
 * batch is closed.  A successful rollback keeps kstate_errmsg() as it was,
 * so the failure that led to it can still be read.  A batch holding an
 * upgrade journal or settings write syncs the WAL when it commits (see
 * "the upgrade journal"); a failed sync is reported with the batch
 * committed and closed.
 */
int kstate_batch_begin(struct kstate *st);
int kstate_batch_commit(struct kstate *st);
int kstate_batch_rollback(struct kstate *st);

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

/* ---- the upgrade journal ----
 *
 * `korch upgrade` (and its rollback) records every phase of every host
 * before and after doing it, so an interrupted one resumes exactly where
 * it stopped.  An upgrade row is the plan and its state; its phases are
 * the steps in execution order (seq 1..n).  Upgrades are not runs: a run
 * that dies becomes INTERRUPTED, its upgrade stays as it was (RUNNING)
 * for the next run to find with kstate_upgrade_unfinished().
 *
 * Every write below commits on its own, or with the batch it is in like
 * the recording calls, and is durable once committed: the WAL is synced
 * (at once, or when the batch commits), so not even a crash of the
 * machine loses it.  A sync that fails after the commit is reported as
 * KORCH_ERR_STATE although the write is in the database.
 */

/* Names as stored: "running", "failed", "done", "abandoned". */
enum kstate_upgrade_status {
	KSTATE_UPG_RUNNING,
	KSTATE_UPG_FAILED,	/* stopped on an error; to be resumed */
	KSTATE_UPG_DONE,
	KSTATE_UPG_ABANDONED,	/* given up on purpose (e.g. rolled back) */
};

/* Names as stored: "pending", "running", "done", "failed". */
enum kstate_phase_status {
	KSTATE_PH_PENDING,
	KSTATE_PH_RUNNING,
	KSTATE_PH_DONE,
	KSTATE_PH_FAILED,
};

/* Fixed names as stored; "?" for a value out of range.  Never NULL. */
const char *kstate_upgrade_status_name(enum kstate_upgrade_status s);
const char *kstate_phase_status_name(enum kstate_phase_status s);

/* One phase of the plan. */
struct kstate_phase_spec {
	const char	*host;		/* required */
	const char	*phase;		/* "snapshot", "etcd", "master" or
					 * "node" */
	int		 batch;		/* node batch (>= 1 by convention);
					 * must be 0 for the other phases */
	const char	*from_version;	/* may be NULL */
	const char	*to_version;	/* may be NULL */
};

/*
 * Record a new upgrade and its plan in one transaction (a savepoint inside
 * a batch: all or nothing either way): the upgrade row, status RUNNING,
 * started now, and one PENDING phase per spec with seq = position + 1.
 * kind: "upgrade" or "rollback"; from and to: versions, required;
 * max_unavailable >= 1; parent_id: the upgrade a rollback undoes (required
 * for a rollback, KORCH_ERR_NOT_FOUND when there is no such upgrade), 0
 * for none; run_id <= 0: not in a run.  phases may be NULL when n is 0.
 * A (host, phase) listed twice is KORCH_ERR_INVALID_ARG.  *id is the new
 * upgrade's id, 0 when nothing was recorded.  Does not look at other
 * upgrades: whether one may start while another is unfinished is the
 * caller's to decide.
 */
int kstate_upgrade_create(struct kstate *st, int64_t run_id,
    const char *kind, const char *from, const char *to, int max_unavailable,
    int64_t parent_id, const struct kstate_phase_spec *phases, size_t n,
    int64_t *id);

struct kstate_upgrade {
	int64_t		 id;
	char		*kind;		/* "upgrade" or "rollback" */
	char		*from_version;
	char		*to_version;
	enum kstate_upgrade_status status;
	int		 max_unavailable;
	int64_t		 parent_id;	/* 0: none */
	char		*snapshot;	/* etcd snapshot on the controller */
	char		*message;
	int64_t		 started_at;
	int64_t		 ended_at;	/* 0 until done or abandoned */
	int64_t		 run_id;	/* run that last worked on it; 0 */
};

/* Upgrade id; KORCH_ERR_NOT_FOUND when there is none.  *out is NULL on
 * error.  Release with kstate_upgrade_free(). */
int kstate_upgrade_get(struct kstate *st, int64_t id,
    struct kstate_upgrade **out);
/* The newest upgrade or rollback that is unfinished (RUNNING or FAILED);
 * KORCH_ERR_NOT_FOUND when none is. */
int kstate_upgrade_unfinished(struct kstate *st,
    struct kstate_upgrade **out);
/* The newest of that kind ("upgrade", "rollback"; NULL: either), whatever
 * its status; KORCH_ERR_NOT_FOUND when there is none. */
int kstate_upgrade_last(struct kstate *st, const char *kind,
    struct kstate_upgrade **out);
void kstate_upgrade_free(struct kstate_upgrade *u);

/*
 * Set an upgrade's status and message (NULL clears it); run_id > 0 becomes
 * the run that last worked on it (<= 0 keeps the stored one).  ended_at
 * becomes now for DONE and ABANDONED, and is cleared for RUNNING and
 * FAILED.  DONE and ABANDONED are final: setting another status afterwards
 * is KORCH_ERR_INVALID_ARG (the same one again only updates message and
 * run, ended_at stays).  KORCH_ERR_NOT_FOUND when there is no such upgrade.
 */
int kstate_upgrade_set_status(struct kstate *st, int64_t id,
    enum kstate_upgrade_status s, const char *message, int64_t run_id);

/* The etcd snapshot taken for it (path on the controller; NULL clears).
 * KORCH_ERR_NOT_FOUND when there is no such upgrade. */
int kstate_upgrade_set_snapshot(struct kstate *st, int64_t id,
    const char *path);

struct kstate_phase {
	int64_t		 upgrade_id;
	int		 seq;		/* execution order, 1..n */
	char		*host;
	char		*phase;
	int		 batch;
	enum kstate_phase_status status;
	char		*from_version;	/* NULL when not given */
	char		*to_version;	/* NULL when not given */
	char		*message;
	int64_t		 started_at;	/* 0: not started */
	int64_t		 ended_at;	/* 0: not ended */
	int		 attempts;	/* times set RUNNING */
};

/*
 * Move a phase (host, phase of upgrade_id) to status s:
 *  - RUNNING: started_at = now, attempts + 1, ended_at cleared;
 *  - DONE, FAILED: ended_at = now (started_at stays, 0 for a phase that
 *    was found done without running);
 *  - PENDING: started_at and ended_at cleared (attempts stay).
 * message is stored as given for every status, NULL clearing it: RUNNING
 * with NULL drops the last failure's message.  Any move is allowed (a
 * resumed upgrade reruns a phase left RUNNING).  KORCH_ERR_NOT_FOUND when
 * the upgrade has no such phase.
 */
int kstate_phase_set(struct kstate *st, int64_t upgrade_id,
    const char *host, const char *phase, enum kstate_phase_status s,
    const char *message);

/* The phases of an upgrade, by seq (NULL and 0 when it has none). */
int kstate_phases_list(struct kstate *st, int64_t upgrade_id,
    struct kstate_phase **out, size_t *n);
void kstate_phases_free(struct kstate_phase *v, size_t n);

/* ---- settings ----
 *
 * Small facts one command leaves for the next (the inventory the last
 * apply used, the cluster's version), durable like the journal.
 */

/* Set key (non-empty) to value; value NULL removes the key.  Writing the
 * value already stored changes nothing. */
int kstate_setting_set(struct kstate *st, const char *key,
    const char *value);
/* *value is a new string (free()), or NULL, with KORCH_OK, when the key is
 * not set. */
int kstate_setting_get(struct kstate *st, const char *key, char **value);

/* ---- queries (korch status) ----
 *
 * Each returns owned copies: a single struct or an array of *n structs (NULL
 * and 0 when there are no rows), released with the matching _free function
 * (NULL-safe).  Optional text fields are NULL when not recorded; optional
 * times and ids are 0.
 */

struct kstate_run {
	int64_t		 id;
	char		*kind;
	char		*args;
	int64_t		 started_at;
	int64_t		 ended_at;	/* 0 while running */
	enum kstate_run_result result;
	int		 exit_code;	/* -1 until ended */
	long		 pid;
	char		*hostname;
	char		*user;
};

/* The newest run (of that kind, when kind is not NULL), or run id.
 * KORCH_ERR_NOT_FOUND when there is none. */
int kstate_run_last(struct kstate *st, const char *kind,
    struct kstate_run **out);
int kstate_run_get(struct kstate *st, int64_t id, struct kstate_run **out);
void kstate_run_free(struct kstate_run *run);

struct kstate_host {
	char		*name;
	char		*address;
	char		*facts_json;
	char		*hostkey_fp;
	int64_t		 last_contact;
	int64_t		 last_run_id;
	bool		 reachable;
	char		*last_error;
};

/* Every host, by name. */
int kstate_hosts_list(struct kstate *st, struct kstate_host **out,
    size_t *n);
void kstate_hosts_free(struct kstate_host *v, size_t n);

struct kstate_observed {
	char		*host;
	char		*task_key;
	char		*digest;
	enum kstate_status status;	/* KSTATE_OK or KSTATE_FAILED */
	int64_t		 changed_at;	/* 0: never changed by korch */
	int64_t		 ok_at;
	int64_t		 run_id;	/* run that last wrote the row */
};

/* Observed rows of host (all hosts when NULL), by host then task key. */
int kstate_observed_list(struct kstate *st, const char *host,
    struct kstate_observed **out, size_t *n);
void kstate_observed_free(struct kstate_observed *v, size_t n);

struct kstate_run_host {
	int64_t		 run_id;
	char		*host;
	enum kstate_outcome outcome;
	int		 ok, changed, failed, skipped;
	char		*error;
};

/* Per-host outcomes of a run, by host. */
int kstate_run_hosts_list(struct kstate *st, int64_t run_id,
    struct kstate_run_host **out, size_t *n);
void kstate_run_hosts_free(struct kstate_run_host *v, size_t n);

struct kstate_task_result {
	int64_t		 run_id;
	char		*host;
	char		*step;
	char		*task_key;
	char		*module;
	char		*desired_digest;
	enum kstate_status status;
	bool		 changed;
	char		*message;
	char		*diff;
	int64_t		 started_at;
	int64_t		 duration_ms;
};

#define KSTATE_RESULTS_FAILED_ONLY	0x1	/* failed and unreachable */

/* Recorded results of a run (of one host when host is not NULL), by host
 * then start time. */
int kstate_results_list(struct kstate *st, int64_t run_id, const char *host,
    int flags, struct kstate_task_result **out, size_t *n);
void kstate_results_free(struct kstate_task_result *v, size_t n);

struct kstate_pending {
	char		*host;
	char		*task_key;
	char		*reason;
	int64_t		 since_run;
	int64_t		 since_at;
};

/* Pending restarts of host (all hosts when NULL), by host then task key. */
int kstate_pending_restarts_list(struct kstate *st, const char *host,
    struct kstate_pending **out, size_t *n);
void kstate_pending_restarts_free(struct kstate_pending *v, size_t n);

struct kstate_component {
	char		*host;
	char		*component;
	char		*desired;	/* NULL when not known */
	char		*observed;
	char		*active;
	int64_t		 observed_at;
	int64_t		 run_id;
};

/* Components of host (all hosts when NULL), by host then component. */
int kstate_components_list(struct kstate *st, const char *host,
    struct kstate_component **out, size_t *n);
void kstate_components_free(struct kstate_component *v, size_t n);

#endif
