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
 * This header is the handle: opening, closing, errors and batches.  What
 * is done with it has a header each, which includes this one:
 *	state_lock.h	runs and the run lock
 *	state_record.h	recording results, hosts and restarts (hot path)
 *	state_query.h	reading runs, hosts, results back (korch status)
 *	state_upgrade.h	the upgrade journal
 *	state_settings.h small facts one command leaves for the next
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
#define KSTATE_SCHEMA_VERSION	4

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
 * Both opens run PRAGMA quick_check before anything is written.  A damaged
 * file (quick_check not ok, or SQLite finding a corrupt page or no
 * database at all) is refused with KORCH_ERR_STATE and a message naming
 * the file and how to restore KSTATE_BACKUP_SUFFIX (state_backup.h), or
 * saying there is no backup.
 */
#define KSTATE_BACKUP_SUFFIX	".bak"

/*
 * Open an existing state for reading only (korch status): never created,
 * migrated or written, so a read-only file or directory serves.  A file
 * of an older schema is KORCH_ERR_READONLY_SCHEMA (the caller may open it
 * read-write instead, which migrates it); a newer one
 * KORCH_ERR_UNSUPPORTED.  Recording calls on the handle fail.  Closing
 * and errors as kstate_open().
 */
#define KORCH_ERR_READONLY_SCHEMA	KORCH_ERR_VERSION
int kstate_open_readonly(const char *path, struct kstate **out);

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

/* ---- batches ---- */

/*
 * One transaction per loop tick.  Recording calls outside a batch commit
 * on their own.  Nested begin is KORCH_ERR_INVALID_ARG.  A failed record
 * call leaves the batch open with its other writes intact.  When commit
 * fails the batch stays open (retry, or roll back); when SQLite itself had
 * to roll it back after an I/O error, commit reports KORCH_ERR_STATE and the
 * batch is closed.  A successful rollback keeps kstate_errmsg() as it was,
 * so the failure that led to it can still be read.  A batch holding an
 * upgrade journal or settings write syncs the WAL when it commits (see
 * state_upgrade.h); a failed sync is reported with the batch
 * committed and closed.
 */
int kstate_batch_begin(struct kstate *st);
int kstate_batch_commit(struct kstate *st);
int kstate_batch_rollback(struct kstate *st);

#endif
