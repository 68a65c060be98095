/*
 * upgrade.c - the upgrade journal (upgrades, upgrade_phases).
 *
 * These are the writes a resumed command trusts, so each one is synced
 * once committed (kstate_durable()), where the per-tick recording settles
 * for synchronous=NORMAL.  A few writes per phase of a host, never the
 * hot path: statements are prepared per call and finalized.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "state-int.h"
#include "state_upgrade.h"

/* Savepoint name; fixed, so no SQL is ever assembled at run time. */
#define SP_BEGIN	"SAVEPOINT kstate_upgrade"
#define SP_RELEASE	"RELEASE kstate_upgrade"
#define SP_UNDO		"ROLLBACK TO kstate_upgrade; RELEASE kstate_upgrade"

/*
 * All or nothing for a write of several statements: an own transaction
 * outside a batch, a savepoint inside one (where kstate_tx_enter() does
 * nothing, and a half-written plan would otherwise commit with the batch).
 * *mode: 0 nothing to end, 1 own transaction, 2 savepoint.
 */
static int
atomic_enter(struct kstate *st, int *mode)
{
	int own = 0, rc, r;

	*mode = 0;
	if (!st->in_batch) {
		if ((r = kstate_tx_enter(st, &own)) != KORCH_OK)
			return r;
		*mode = own;
		return KORCH_OK;
	}
	if ((rc = sqlite3_exec(st->db, SP_BEGIN, NULL, NULL, NULL)) !=
	    SQLITE_OK)
		return kstate_sqlerr(st, rc, "starting savepoint");
	*mode = 2;
	return KORCH_OK;
}

static int
atomic_leave(struct kstate *st, int mode, int r)
{
	char	tmp[sizeof(st->errmsg)];
	int	rc;

	if (mode != 2)
		return kstate_tx_leave(st, mode, r);
	if (r == KORCH_OK) {
		if ((rc = sqlite3_exec(st->db, SP_RELEASE, NULL, NULL, NULL)) ==
		    SQLITE_OK)
			return KORCH_OK;
		r = kstate_sqlerr(st, rc, "releasing savepoint");
	}
	/* Undo this call's writes, keep the batch's others and the message
	 * that says what went wrong.  After an I/O error SQLite may have
	 * rolled back the whole batch already; batch_commit reports that. */
	if (!sqlite3_get_autocommit(st->db)) {
		memcpy(tmp, st->errmsg, sizeof(tmp));
		(void)sqlite3_exec(st->db, SP_UNDO, NULL, NULL, NULL);
		memcpy(st->errmsg, tmp, sizeof(tmp));
	}
	return r;
}

/* ---- creating ---- */

static int
spec_check(struct kstate *st, const struct kstate_phase_spec *p, size_t i)
{
	const char *host = p->host != NULL ? p->host : "(null)";

	if (p->host == NULL || *p->host == '\0') {
		kstate_seterr(st, "phase %zu: host is required", i + 1);
		return KORCH_ERR_INVALID_ARG;
	}
	if (kstate_parse(KN_PHASE, p->phase) < 0) {
		kstate_seterr(st, "phase %zu (%s): unknown phase \"%s\"",
		    i + 1, host, p->phase != NULL ? p->phase : "(null)");
		return KORCH_ERR_INVALID_ARG;
	}
	if (p->batch < 0 || (p->batch != 0 && strcmp(p->phase, "node") != 0)) {
		kstate_seterr(st, "phase %zu (%s %s): bad batch %d (only node "
		    "phases have one)", i + 1, host, p->phase, p->batch);
		return KORCH_ERR_INVALID_ARG;
	}
	return KORCH_OK;
}

static int
create_check(struct kstate *st, const char *kind, const char *from,
    const char *to, int max_unavailable, int64_t parent_id,
    const struct kstate_phase_spec *phases, size_t n)
{
	size_t	i;
	int	r;

	if (kstate_parse(KN_UPGRADE_KIND, kind) < 0) {
		kstate_seterr(st, "upgrade kind must be \"upgrade\" or "
		    "\"rollback\"");
		return KORCH_ERR_INVALID_ARG;
	}
	if ((r = kstate_nonempty(st, "from version", from)) != KORCH_OK ||
	    (r = kstate_nonempty(st, "to version", to)) != KORCH_OK)
		return r;
	if (max_unavailable < 1) {
		kstate_seterr(st, "max unavailable must be at least 1 (got "
		    "%d)", max_unavailable);
		return KORCH_ERR_INVALID_ARG;
	}
	if (parent_id < 0 || (parent_id == 0 && strcmp(kind, "rollback") ==
	    0)) {
		kstate_seterr(st, "a rollback names the upgrade it undoes "
		    "(parent %lld)", (long long)parent_id);
		return KORCH_ERR_INVALID_ARG;
	}
	/* seq is an int. */
	if ((n > 0 && phases == NULL) || n > INT_MAX) {
		kstate_seterr(st, "bad phase list (%zu phases)", n);
		return KORCH_ERR_INVALID_ARG;
	}
	for (i = 0; i < n; i++)
		if ((r = spec_check(st, &phases[i], i)) != KORCH_OK)
			return r;
	return KORCH_OK;
}

static int
parent_exists(struct kstate *st, int64_t parent_id)
{
	sqlite3_stmt	*s = NULL;
	int		 found, r;

	if ((r = kstate_query(st, &s, "SELECT 1 FROM upgrades WHERE id = ?1",
	    "i", parent_id)) == KORCH_OK &&
	    (r = kstate_step_row(st, s, "reading upgrade", &found)) ==
	    KORCH_OK && !found) {
		kstate_seterr(st, "no upgrade %lld to roll back",
		    (long long)parent_id);
		r = KORCH_ERR_NOT_FOUND;
	}
	sqlite3_finalize(s);
	return r;
}

static int
insert_phases(struct kstate *st, int64_t uid,
    const struct kstate_phase_spec *phases, size_t n)
{
	sqlite3_stmt	*s = NULL;
	char		 tmp[sizeof(st->errmsg)];
	size_t		 i;
	int		 rc, r;

	if ((r = kstate_prepare(st, "INSERT INTO upgrade_phases (upgrade_id,"
	    " seq, host, phase, batch, from_version, to_version)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &s)) != KORCH_OK)
		goto out;
	for (i = 0; i < n; i++) {
		const struct kstate_phase_spec *p = &phases[i];

		if (sqlite3_bind_int64(s, 1, uid) ||
		    sqlite3_bind_int(s, 2, (int)i + 1) ||
		    kstate_bind_text(s, 3, p->host) ||
		    kstate_bind_text(s, 4, p->phase) ||
		    sqlite3_bind_int(s, 5, p->batch) ||
		    kstate_bind_text(s, 6, p->from_version) ||
		    kstate_bind_text(s, 7, p->to_version)) {
			r = kstate_bind_err(st);
			goto out;
		}
		if ((r = kstate_step_rc(st, s, "recording phase", &rc)) ==
		    KORCH_OK)
			continue;
		/* The only key a valid spec can break is (host, phase). */
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
			kstate_seterr(st, "phase %zu: %s %s is listed twice",
			    i + 1, p->host, p->phase);
			r = KORCH_ERR_INVALID_ARG;
		} else {
			memcpy(tmp, st->errmsg, sizeof(tmp));
			kstate_seterr(st, "phase %zu (%s %s): %s", i + 1,
			    p->host, p->phase, tmp);
		}
		goto out;
	}
	r = KORCH_OK;
 out:
	sqlite3_finalize(s);
	return r;
}

int
kstate_upgrade_create(struct kstate *st, int64_t run_id, const char *kind,
    const char *from, const char *to, int max_unavailable, int64_t parent_id,
    const struct kstate_phase_spec *phases, size_t n, int64_t *id)
{
	sqlite3_stmt	*s = NULL;
	int64_t		 uid = 0;
	int		 mode = 0, r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "upgrade id pointer", id)) != KORCH_OK)
		return r;
	*id = 0;
	if ((r = create_check(st, kind, from, to, max_unavailable, parent_id,
	    phases, n)) != KORCH_OK)
		return r;

	if ((r = atomic_enter(st, &mode)) != KORCH_OK)
		return r;
	if (parent_id > 0 && (r = parent_exists(st, parent_id)) != KORCH_OK)
		goto out;
	if ((r = kstate_query(st, &s, "INSERT INTO upgrades (kind,"
	    " from_version, to_version, status, max_unavailable, parent_id,"
	    " started_at, run_id) VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6,"
	    " ?7)", "tttdrir", kind, from, to, max_unavailable, parent_id,
	    kstate_now_ms(), run_id)) != KORCH_OK)
		goto out;
	if ((r = kstate_step_done(st, s, "recording upgrade")) != KORCH_OK)
		goto out;
	uid = sqlite3_last_insert_rowid(st->db);
	r = insert_phases(st, uid, phases, n);
 out:
	sqlite3_finalize(s);
	if ((r = atomic_leave(st, mode, r)) != KORCH_OK)
		return r;
	/* Recorded: the id is the caller's even if the sync fails. */
	*id = uid;
	return kstate_durable(st);
}

/* ---- changing ---- */

/* Status of upgrade id into *status; KORCH_ERR_NOT_FOUND. */
static int
upgrade_status_read(struct kstate *st, int64_t id, int *status)
{
	sqlite3_stmt	*s = NULL;
	int		 found, r;

	if ((r = kstate_query(st, &s, "SELECT status FROM upgrades"
	    " WHERE id = ?1", "i", id)) != KORCH_OK ||
	    (r = kstate_step_row(st, s, "reading upgrade", &found)) !=
	    KORCH_OK)
		goto out;
	if (!found) {
		kstate_seterr(st, "no upgrade %lld", (long long)id);
		r = KORCH_ERR_NOT_FOUND;
	} else if ((*status = kstate_parse(KN_UPGRADE_STATUS, (const char *)
	    sqlite3_column_text(s, 0))) < 0) {
		kstate_seterr(st, "upgrade %lld: unexpected status in state "
		    "database", (long long)id);
		r = KORCH_ERR_STATE;
	}
 out:
	sqlite3_finalize(s);
	return r;
}

static int
final_status(int s)
{
	return s == KSTATE_UPG_DONE || s == KSTATE_UPG_ABANDONED;
}

/* Run s, an UPDATE of one row, and make it durable.  KORCH_ERR_NOT_FOUND,
 * with the message left to the caller, when it matched no row. */
static int
update_durable(struct kstate *st, sqlite3_stmt *s, const char *what)
{
	int r;

	if ((r = kstate_step_done(st, s, what)) != KORCH_OK)
		return r;
	if (sqlite3_changes(st->db) == 0)
		return KORCH_ERR_NOT_FOUND;
	return kstate_durable(st);
}

const char *
kstate_upgrade_status_name(enum kstate_upgrade_status s)
{
	return kstate_name(KN_UPGRADE_STATUS, (unsigned)s);
}

int
kstate_upgrade_set_status(struct kstate *st, int64_t id,
    enum kstate_upgrade_status status, const char *message, int64_t run_id)
{
	sqlite3_stmt	*s = NULL;
	int		 own = 0, cur = -1, r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (kstate_parse(KN_UPGRADE_STATUS,
	    kstate_upgrade_status_name(status)) < 0) {
		kstate_seterr(st, "bad upgrade status %d", (int)status);
		return KORCH_ERR_INVALID_ARG;
	}
	/* Read and write in one transaction, so the finality check holds. */
	if ((r = kstate_tx_enter(st, &own)) != KORCH_OK)
		return r;
	if ((r = upgrade_status_read(st, id, &cur)) != KORCH_OK)
		goto out;
	if (final_status(cur) && cur != (int)status) {
		kstate_seterr(st, "upgrade %lld is %s already; it cannot "
		    "become %s", (long long)id,
		    kstate_upgrade_status_name((enum kstate_upgrade_status)cur),
		    kstate_upgrade_status_name(status));
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	/* ?2 is one of the CHECK's names; coalesce keeps the first end of a
	 * final status set again. */
	if ((r = kstate_query(st, &s, "UPDATE upgrades SET status = ?2,"
	    " message = ?3, run_id = coalesce(?4, run_id),"
	    " ended_at = CASE WHEN ?2 IN ('done', 'abandoned')"
	    "  THEN coalesce(ended_at, ?5) END"
	    " WHERE id = ?1", "ittri", id, kstate_upgrade_status_name(status),
	    message, run_id, kstate_now_ms())) == KORCH_OK)
		r = kstate_step_done(st, s, "recording upgrade status");
 out:
	sqlite3_finalize(s);
	if ((r = kstate_tx_leave(st, own, r)) != KORCH_OK)
		return r;
	return kstate_durable(st);
}

int
kstate_upgrade_set_snapshot(struct kstate *st, int64_t id, const char *path)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_query(st, &s, "UPDATE upgrades SET snapshot = ?2"
	    " WHERE id = ?1", "it", id, path)) == KORCH_OK &&
	    (r = update_durable(st, s, "recording snapshot")) ==
	    KORCH_ERR_NOT_FOUND)
		kstate_seterr(st, "no upgrade %lld", (long long)id);
	sqlite3_finalize(s);
	return r;
}

const char *
kstate_phase_status_name(enum kstate_phase_status s)
{
	return kstate_name(KN_PHASE_STATUS, (unsigned)s);
}

int
kstate_phase_set(struct kstate *st, int64_t upgrade_id, const char *host,
    const char *phase, enum kstate_phase_status status, const char *message)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "host name", host)) != KORCH_OK ||
	    (r = kstate_need(st, "phase", phase)) != KORCH_OK)
		return r;
	if (kstate_parse(KN_PHASE_STATUS,
	    kstate_phase_status_name(status)) < 0) {
		kstate_seterr(st, "%s %s: bad phase status %d", host, phase,
		    (int)status);
		return KORCH_ERR_INVALID_ARG;
	}
	/* One statement: atomic by itself.  ?4 is one of the CHECK's names,
	 * ?6 now. */
	if ((r = kstate_query(st, &s, "UPDATE upgrade_phases SET status = ?4,"
	    " message = ?5,"
	    " started_at = CASE ?4 WHEN 'running' THEN ?6"
	    "  WHEN 'pending' THEN NULL ELSE started_at END,"
	    " ended_at = CASE WHEN ?4 IN ('done', 'failed') THEN ?6 END,"
	    " attempts = attempts + (?4 = 'running')"
	    " WHERE upgrade_id = ?1 AND host = ?2 AND phase = ?3", "itttti",
	    upgrade_id, host, phase, kstate_phase_status_name(status), message,
	    kstate_now_ms())) == KORCH_OK &&
	    (r = update_durable(st, s, "recording phase")) ==
	    KORCH_ERR_NOT_FOUND)
		kstate_seterr(st, "upgrade %lld has no phase %s %s",
		    (long long)upgrade_id, host, phase);
	sqlite3_finalize(s);
	return r;
}

/* ---- reading ---- */

#define UPGRADE_COLS "id, kind, from_version, to_version, status," \
	" max_unavailable, parent_id, snapshot, message, started_at," \
	" ended_at, run_id"

static const struct kstate_col upgrade_cols[] = {
	KCOL(upgrade, I64, id), KCOL(upgrade, TEXT, kind),
	KCOL(upgrade, TEXT, from_version), KCOL(upgrade, TEXT, to_version),
	KENUM(upgrade, status, KN_UPGRADE_STATUS),
	KCOL(upgrade, INT, max_unavailable), KCOL(upgrade, I64, parent_id),
	KCOL(upgrade, TEXT, snapshot), KCOL(upgrade, TEXT, message),
	KCOL(upgrade, I64, started_at), KCOL(upgrade, I64, ended_at),
	KCOL(upgrade, I64, run_id),
};
static const struct kstate_row upgrade_row = KROW(upgrade, upgrade_cols);

/* The entry checks of a read of one upgrade; *out NULL. */
static int
upgrade_out(struct kstate *st, struct kstate_upgrade **out)
{
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "result pointer", out)) != KORCH_OK)
		return r;
	*out = NULL;
	return KORCH_OK;
}

int
kstate_upgrade_get(struct kstate *st, int64_t id, struct kstate_upgrade **out)
{
	size_t	n;
	int	r;

	if ((r = upgrade_out(st, out)) != KORCH_OK)
		return r;
	return kstate_read(st, &upgrade_row, "no such upgrade",
	    "SELECT " UPGRADE_COLS " FROM upgrades WHERE id = ?1",
	    (void **)out, &n, "i", id);
}

int
kstate_upgrade_unfinished(struct kstate *st, struct kstate_upgrade **out)
{
	size_t	n;
	int	r;

	if ((r = upgrade_out(st, out)) != KORCH_OK)
		return r;
	return kstate_read(st, &upgrade_row, "no unfinished upgrade",
	    "SELECT " UPGRADE_COLS " FROM upgrades"
	    " WHERE status IN ('running', 'failed') ORDER BY id DESC LIMIT 1",
	    (void **)out, &n, "");
}

int
kstate_upgrade_last(struct kstate *st, const char *kind,
    struct kstate_upgrade **out)
{
	size_t	n;
	int	r;

	if ((r = upgrade_out(st, out)) != KORCH_OK)
		return r;
	if (kind != NULL && kstate_parse(KN_UPGRADE_KIND, kind) < 0) {
		kstate_seterr(st, "upgrade kind must be \"upgrade\" or "
		    "\"rollback\"");
		return KORCH_ERR_INVALID_ARG;
	}
	return kstate_read(st, &upgrade_row, "no upgrade recorded yet",
	    "SELECT " UPGRADE_COLS " FROM upgrades"
	    " WHERE ?1 IS NULL OR kind = ?1 ORDER BY id DESC LIMIT 1",
	    (void **)out, &n, "t", kind);
}

void
kstate_upgrade_free(struct kstate_upgrade *u)
{
	kstate_free_rows(&upgrade_row, u, 1);
}

static const struct kstate_col phase_cols[] = {
	KCOL(phase, I64, upgrade_id), KCOL(phase, INT, seq),
	KCOL(phase, TEXT, host), KCOL(phase, TEXT, phase),
	KCOL(phase, INT, batch), KENUM(phase, status, KN_PHASE_STATUS),
	KCOL(phase, TEXT, from_version), KCOL(phase, TEXT, to_version),
	KCOL(phase, TEXT, message), KCOL(phase, I64, started_at),
	KCOL(phase, I64, ended_at), KCOL(phase, INT, attempts),
};
static const struct kstate_row phase_row = KROW(phase, phase_cols);

int
kstate_phases_list(struct kstate *st, int64_t upgrade_id,
    struct kstate_phase **out, size_t *n)
{
	return kstate_read(st, &phase_row, NULL,
	    "SELECT upgrade_id, seq, host, phase, batch, status, from_version,"
	    " to_version, message, started_at, ended_at, attempts"
	    " FROM upgrade_phases WHERE upgrade_id = ?1 ORDER BY seq",
	    (void **)out, n, "i", upgrade_id);
}

void
kstate_phases_free(struct kstate_phase *v, size_t n)
{
	kstate_free_rows(&phase_row, v, n);
}
