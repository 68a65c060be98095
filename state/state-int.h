/*
 * state-int.h - what the files of state/ share: the handle, the statement
 * cache and small helpers.  Not for use outside state/.
 */
#ifndef KORCH_STATE_INT_H
#define KORCH_STATE_INT_H

#include <sqlite3.h>
#include <stdarg.h>

#include "state.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Statements prepared once (SQLITE_PREPARE_PERSISTENT) and kept for the
 * handle's life: the per-tick path runs these hundreds of times a second.
 * The SQL text for each is in state.c, stmt_sql[].
 */
enum kstate_stmt {
	KS_BEGIN,
	KS_COMMIT,
	KS_ROLLBACK,
	KS_RESULT_UPSERT,
	KS_OBSERVED_UPSERT,
	KS_HOST_UPSERT,
	KS_RUN_HOST_UPSERT,
	KS_PENDING_SET,
	KS_PENDING_CLEAR,
	KS_PENDING_GET,
	KS_JSON_VALID,
	KS_COMPONENT_UPSERT,
	KS__COUNT
};

struct kstate {
	sqlite3		*db;
	char		*path;
	int		 broken;	/* open failed: errmsg and close only */
	int		 in_batch;
	int		 lock_fd;	/* -1 unless a run is held */
	int		 sync_owed;	/* the open batch holds a write that
					 * must be synced when it commits */
	int64_t		 run_id;	/* the held run, 0 when none */
	sqlite3_stmt	*stmt[KS__COUNT];
	char		 errmsg[512];
};

/* ---- state.c ---- */

/* Entry check: st usable.  Clears the message; KORCH_ERR_INVALID_ARG. */
int kstate_enter(struct kstate *st);

void kstate_seterr(struct kstate *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Message "what: sqlite's message", returns the code for rc (BUSY and
 * LOCKED map to KORCH_ERR_LOCKED, NOMEM to KORCH_ERR_ALLOC). */
int kstate_sqlerr(struct kstate *st, int rc, const char *what);

/* Cached statement, reset and with bindings cleared when handed out. */
int kstate_stmt(struct kstate *st, enum kstate_stmt id, sqlite3_stmt **out);
/* Run a statement that returns no rows; resets it either way. */
int kstate_step_done(struct kstate *st, sqlite3_stmt *s, const char *what);
/* The same, with SQLite's code in *rc (to tell one constraint from another). */
int kstate_step_rc(struct kstate *st, sqlite3_stmt *s, const char *what,
    int *rc);

/* Bind text, or NULL when s is NULL. */
int kstate_bind_text(sqlite3_stmt *s, int idx, const char *v);
/* Bind a run id; run_id <= 0 stands for "no run" and is stored as NULL. */
int kstate_bind_run(sqlite3_stmt *s, int idx, int64_t run_id);
/* The error of a failed sqlite3_bind_*(). */
int kstate_bind_err(struct kstate *st);
/* KORCH_ERR_INVALID_ARG with "<what> is required" when v is NULL. */
int kstate_need(struct kstate *st, const char *what, const void *v);
/* The same for a string that must not be empty either. */
int kstate_nonempty(struct kstate *st, const char *what, const char *v);

/* Prepare a one-off statement (finalized by the caller). */
int kstate_prepare(struct kstate *st, const char *sql, sqlite3_stmt **s);

int64_t kstate_now_ms(void);

/* Copy of a text column, NULL for SQL NULL.  KORCH_ERR_ALLOC. */
int kstate_col_strdup(sqlite3_stmt *s, int col, char **out);
/* A text column that must be one of parse's names: its index in *out, or
 * KORCH_ERR_STATE. */
int kstate_col_enum(sqlite3_stmt *s, int col, int (*parse)(const char *),
    int *out);

/* Index of name in names[0..n), -1 when absent or NULL. */
int kstate_name_index(const char *const *names, size_t n, const char *name);
/* names[v], or "?" when v is out of range. */
const char *kstate_name_of(const char *const *names, size_t n, unsigned v);

/* ---- tx.c ---- */

/* Inside a batch do nothing; otherwise open a transaction that
 * kstate_tx_leave() commits (r == 0) or rolls back. */
int kstate_tx_enter(struct kstate *st, int *own);
int kstate_tx_leave(struct kstate *st, int own, int r);

/*
 * Make a write that just committed survive a crash of the machine, not
 * only of the process (synchronous=NORMAL only promises the latter): sync
 * the WAL now, or, inside a batch, when the batch commits.  For the writes
 * a resumed command relies on (the upgrade journal, settings).
 */
int kstate_durable(struct kstate *st);

/* The handle closes: commit an open batch (rolled back if that fails). */
void kstate_batch_close(struct kstate *st);

/* ---- query.c: rows read into owned arrays ---- */

typedef int (*decode_fn)(sqlite3_stmt *, void *);
typedef void (*clear_fn)(void *);
/* Step s to the end, decoding each row into a growing array of esize-byte
 * elements (zeroed before decode).  *out is NULL and *nout 0 when there are
 * no rows.  On failure everything decoded so far is cleared and freed. */
int kstate_collect(struct kstate *st, sqlite3_stmt *s, size_t esize,
    decode_fn decode, clear_fn clear, void **out, size_t *nout);
/* Clear each of v's n esize-byte elements, then free v.  NULL-safe. */
void kstate_free_array(void *v, size_t n, size_t esize, clear_fn clear);

/*
 * A call that returns a list, in two halves around the caller's binding:
 * list_begin does the entry checks (KORCH_ERR_INVALID_ARG for out or n
 * NULL), sets *out NULL and *n 0 and prepares sql into *s (NULL when it
 * fails); list_end collects the rows when r is KORCH_OK, finalizes s
 * either way and returns r or the collection's error.
 */
int kstate_list_begin(struct kstate *st, const char *sql, void **out,
    size_t *n, sqlite3_stmt **s);
int kstate_list_end(struct kstate *st, sqlite3_stmt *s, int r, size_t esize,
    decode_fn decode, clear_fn clear, void **out, size_t *n);

/* The one row of s (bound by the caller, not finalized) as an array of
 * one in *out; KORCH_ERR_NOT_FOUND with message none when there is none. */
int kstate_one(struct kstate *st, sqlite3_stmt *s, const char *none,
    size_t esize, decode_fn decode, clear_fn clear, void **out);

/* ---- the names enums are stored as: text -> enum, -1 when unknown ---- */

int kstate_status_parse(const char *name);		/* record.c */
int kstate_outcome_parse(const char *name);		/* record.c */
int kstate_run_result_parse(const char *name);		/* lock.c */

/* migrations.c: bring the schema to KSTATE_SCHEMA_VERSION. */
int kstate_migrate(struct kstate *st);

/* lock.c: the lock's end when the handle closes with a run held. */
void kstate_lock_close(struct kstate *st);

#endif
