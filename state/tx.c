/*
 * tx.c - transactions: the caller's batches (one per loop tick), the own
 * transaction a call opens outside a batch, and making a committed write
 * durable by syncing the WAL.
 */
#include "err.h"
#include "state-int.h"

/*
 * fsync the WAL through SQLite's own handle on it, which is what a commit
 * does under synchronous=FULL.  Not PRAGMA synchronous: SQLite refuses to
 * change it inside a transaction, and a batch is one.  Not an open() of
 * "<path>-wal" of our own either: SQLite owns that file's name and life,
 * and closing a descriptor drops the process's POSIX locks on the file.
 * The first sync of a new WAL also syncs its directory (the unix VFS does
 * that on its own).
 */
static int
sync_wal(struct kstate *st)
{
	sqlite3_file	*f = NULL;
	int		 rc;

	rc = sqlite3_file_control(st->db, "main",
	    SQLITE_FCNTL_JOURNAL_POINTER, &f);
	if (rc != SQLITE_OK)
		return kstate_sqlerr(st, rc, "finding the WAL to sync");
	if (f == NULL || f->pMethods == NULL) {
		/* Open WAL mode always has one after a write. */
		kstate_seterr(st, "%s: no WAL file to sync", st->path);
		return KORCH_ERR_INTERNAL;
	}
	if ((rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL)) != SQLITE_OK) {
		kstate_seterr(st, "%s: committed, but syncing the WAL failed "
		    "(error %d): a machine crash may lose the write",
		    st->path, rc);
		return KORCH_ERR_STATE;
	}
	return KORCH_OK;
}

int
kstate_durable(struct kstate *st)
{
	if (st->in_batch) {
		st->sync_owed = 1;
		return KORCH_OK;
	}
	return sync_wal(st);
}

/* Run the cached statement id (BEGIN, COMMIT, ROLLBACK). */
static int
exec_stmt(struct kstate *st, enum kstate_stmt id, const char *what)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_stmt(st, id, &s)) != KORCH_OK)
		return r;
	return kstate_step_done(st, s, what);
}

static void
rollback_quiet(struct kstate *st)
{
	sqlite3_stmt *s;

	if (sqlite3_get_autocommit(st->db))
		return;		/* SQLite already rolled back */
	if (kstate_stmt(st, KS_ROLLBACK, &s) == KORCH_OK) {
		sqlite3_step(s);
		sqlite3_reset(s);
	}
}

int
kstate_tx_enter(struct kstate *st, int *own)
{
	int r;

	*own = 0;
	if (st->in_batch || !sqlite3_get_autocommit(st->db))
		return KORCH_OK;
	if ((r = exec_stmt(st, KS_BEGIN, "beginning transaction")) != KORCH_OK)
		return r;
	*own = 1;
	return KORCH_OK;
}

int
kstate_tx_leave(struct kstate *st, int own, int r)
{
	if (!own)
		return r;
	if (r == KORCH_OK)
		r = exec_stmt(st, KS_COMMIT, "committing");
	if (r != KORCH_OK)
		rollback_quiet(st);
	return r;
}

/* The handle closes: an open batch is committed (reported results are
 * never dropped), or rolled back when that fails. */
void
kstate_batch_close(struct kstate *st)
{
	if (!st->in_batch)
		return;
	if (exec_stmt(st, KS_COMMIT, "committing") != KORCH_OK)
		rollback_quiet(st);
	else if (st->sync_owed)
		(void)sync_wal(st);
	st->in_batch = 0;
	st->sync_owed = 0;
}

/* ---- batches ---- */

int
kstate_batch_begin(struct kstate *st)
{
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (st->in_batch || !sqlite3_get_autocommit(st->db)) {
		kstate_seterr(st, "a batch is already open");
		return KORCH_ERR_INVALID_ARG;
	}
	if ((r = exec_stmt(st, KS_BEGIN, "beginning batch")) != KORCH_OK)
		return r;
	st->in_batch = 1;
	return KORCH_OK;
}

int
kstate_batch_commit(struct kstate *st)
{
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (!st->in_batch) {
		kstate_seterr(st, "no batch is open");
		return KORCH_ERR_INVALID_ARG;
	}
	if (sqlite3_get_autocommit(st->db)) {
		st->in_batch = 0;
		st->sync_owed = 0;
		kstate_seterr(st, "the batch was rolled back after an error");
		return KORCH_ERR_STATE;
	}
	if ((r = exec_stmt(st, KS_COMMIT, "committing batch")) != KORCH_OK)
		return r;
	st->in_batch = 0;
	if (st->sync_owed) {
		st->sync_owed = 0;
		return sync_wal(st);
	}
	return KORCH_OK;
}

int
kstate_batch_rollback(struct kstate *st)
{
	/* Not kstate_enter(): the message of the failure that led here
	 * stays readable after the rollback. */
	if (st == NULL || st->broken || st->db == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (!st->in_batch) {
		kstate_seterr(st, "no batch is open");
		return KORCH_ERR_INVALID_ARG;
	}
	st->in_batch = 0;
	st->sync_owed = 0;
	if (sqlite3_get_autocommit(st->db))
		return KORCH_OK;
	return exec_stmt(st, KS_ROLLBACK, "rolling back batch");
}
