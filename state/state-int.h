/*
 * state-int.h - what the files of state/ share: the handle, the statement
 * cache and small helpers.  Not for use outside state/.
 */
#ifndef KORCH_STATE_INT_H
#define KORCH_STATE_INT_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>

#include "state.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Statements prepared once (SQLITE_PREPARE_PERSISTENT) and kept for the
 * handle's life: the per-tick path runs these hundreds of times a second.
 * The SQL text for each is in stmt.c, stmt_sql[].
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
	int		 readonly;	/* kstate_open_readonly() */
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

/* KORCH_ERR_INVALID_ARG with "<what> is required" when v is NULL. */
int kstate_need(struct kstate *st, const char *what, const void *v);
/* The same for a string that must not be empty either. */
int kstate_nonempty(struct kstate *st, const char *what, const char *v);

int64_t kstate_now_ms(void);

/* ---- stmt.c ---- */

/* Cached statement, reset and with bindings cleared when handed out. */
int kstate_stmt(struct kstate *st, enum kstate_stmt id, sqlite3_stmt **out);
/* Run cached statement id with its arguments bound as kstate_bind()
 * says: kstate_stmt(), then kstate_step_done(). */
int kstate_exec(struct kstate *st, enum kstate_stmt id, const char *what,
    const char *types, ...);
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

/* Prepare a one-off statement (finalized by the caller). */
int kstate_prepare(struct kstate *st, const char *sql, sqlite3_stmt **s);
/*
 * Bind ?1, ?2, ... of s from the arguments as types says, one letter
 * each: 't' const char * (NULL binds NULL), 'i' int64_t, 'd' int, 'r' an
 * int64_t id where <= 0 stands for none (bound as NULL).  Stops at the
 * first failure; SQLite's code.
 */
int kstate_bind(sqlite3_stmt *s, const char *types, ...);
/* kstate_prepare(), then kstate_bind() (its failure: kstate_bind_err()).
 * *s is the caller's to finalize, also on error. */
int kstate_query(struct kstate *st, sqlite3_stmt **s, const char *sql,
    const char *types, ...);
int kstate_vquery(struct kstate *st, sqlite3_stmt **s, const char *sql,
    const char *types, va_list ap);
/*
 * Step the one-off statement s once: *found 1 when it gave a row, 0 when
 * it gave none; found NULL means it must give one, none being an error
 * like any other.  Errors say what.
 */
int kstate_step_row(struct kstate *st, sqlite3_stmt *s, const char *what,
    int *found);
/* Prepare sql (without parameters) and step it once as kstate_step_row()
 * does; a failure of either says what.  *s as for kstate_query(). */
int kstate_first(struct kstate *st, const char *sql, const char *what,
    sqlite3_stmt **s, int *found);

/* Copy of a text column, NULL for SQL NULL.  KORCH_ERR_ALLOC. */
int kstate_col_strdup(sqlite3_stmt *s, int col, char **out);

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

/* ---- names.c: the names enums are stored as ---- */

enum kstate_names {
	KN_STATUS,		/* enum kstate_status */
	KN_OUTCOME,		/* enum kstate_outcome */
	KN_RUN_RESULT,		/* enum kstate_run_result */
	KN_UPGRADE_STATUS,	/* enum kstate_upgrade_status */
	KN_PHASE_STATUS,	/* enum kstate_phase_status */
	KN_UPGRADE_KIND,	/* "upgrade", "rollback" */
	KN_PHASE,		/* "snapshot", "etcd", "master", "node" */
	KN__COUNT
};

/* The name of v in list, or "?" when v is out of range.  Never NULL. */
const char *kstate_name(enum kstate_names list, unsigned v);
/* The value list names name, or -1 when it names none (or name is NULL). */
int kstate_parse(enum kstate_names list, const char *name);

/* ---- query.c: rows read into owned arrays ---- */

/* How a column lands in its field. */
enum kstate_col_kind {
	KCOL_TEXT,	/* char *: an owned copy, NULL for SQL NULL */
	KCOL_I64,	/* int64_t; NULL reads as 0 (so for the others) */
	KCOL_INT,	/* int */
	KCOL_LONG,	/* long */
	KCOL_BOOL,	/* bool: nonzero */
	KCOL_EXIT,	/* int, -1 for SQL NULL (an exit code not known yet) */
	KCOL_ENUM,	/* an enum stored by name: its index in a names list */
};

struct kstate_col {
	enum kstate_col_kind	 kind;
	size_t			 off;	/* of the field in the row's struct */
	enum kstate_names	 names;	/* KCOL_ENUM */
};

/* A row type: its struct, and a field for each column the SELECT lists,
 * in that order.  Every char * of the struct is a KCOL_TEXT field. */
struct kstate_row {
	size_t			 size;
	const struct kstate_col	*cols;
	size_t			 ncols;
};

/* Fields of struct kstate_<type>, and the row type of such a table. */
#define KCOL(type, kind, field) \
	{ KCOL_##kind, offsetof(struct kstate_##type, field), KN__COUNT }
#define KENUM(type, field, names) \
	{ KCOL_ENUM, offsetof(struct kstate_##type, field), names }
#define KROW(type, cols) \
	{ sizeof(struct kstate_##type), cols, NELEM(cols) }

/*
 * The rows sql gives, with its arguments bound as kstate_bind() says, as
 * a new array of row's structs in *out and its length in *n (NULL and 0
 * when there are none).  Entry checks first (out or n NULL:
 * KORCH_ERR_INVALID_ARG); on failure everything decoded so far is freed.
 * none: for a call that returns one row (an array of one), the message of
 * the KORCH_ERR_NOT_FOUND that no row is; NULL for a list.
 */
int kstate_read(struct kstate *st, const struct kstate_row *row,
    const char *none, const char *sql, void **out, size_t *n,
    const char *types, ...);
/* Free each of v's n elements' text fields, then v.  NULL-safe. */
void kstate_free_rows(const struct kstate_row *row, void *v, size_t n);

/* migrations.c: bring the schema to KSTATE_SCHEMA_VERSION. */
int kstate_migrate(struct kstate *st);

/* lock.c: the lock's end when the handle closes with a run held. */
void kstate_lock_close(struct kstate *st);

#endif
