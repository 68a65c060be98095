/*
 * stmt.c - the statements of state/: the cached ones the per-tick path
 * runs (their SQL in stmt_sql[]), preparing one-off ones, binding their
 * arguments, stepping them, and copying a text column out.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "state-int.h"

static const char *const stmt_sql[KS__COUNT] = {
	[KS_BEGIN] = "BEGIN IMMEDIATE",
	[KS_COMMIT] = "COMMIT",
	[KS_ROLLBACK] = "ROLLBACK",

	/* The same result again updates in place, and not at all when
	 * nothing differs. */
	[KS_RESULT_UPSERT] =
	    "INSERT INTO task_results (run_id, host, step, task_key, module,"
	    "  desired_digest, status, changed, message, diff, started_at,"
	    "  duration_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	    " ON CONFLICT (run_id, host, task_key) DO UPDATE SET"
	    "  step = excluded.step, module = excluded.module,"
	    "  desired_digest = excluded.desired_digest,"
	    "  status = excluded.status, changed = excluded.changed,"
	    "  message = excluded.message, diff = excluded.diff,"
	    "  started_at = excluded.started_at,"
	    "  duration_ms = excluded.duration_ms"
	    " WHERE step IS NOT excluded.step OR module IS NOT excluded.module"
	    "  OR desired_digest IS NOT excluded.desired_digest"
	    "  OR status IS NOT excluded.status"
	    "  OR changed IS NOT excluded.changed"
	    "  OR message IS NOT excluded.message OR diff IS NOT excluded.diff"
	    "  OR started_at IS NOT excluded.started_at"
	    "  OR duration_ms IS NOT excluded.duration_ms",

	/* ?1 host ?2 task_key ?3 digest ?4 status ?5 changed ?6 time ?7 run.
	 * Writes only when the result changed something or digest/status
	 * differ: a converged host costs no writes here. */
	[KS_OBSERVED_UPSERT] =
	    "INSERT INTO observed (host, task_key, digest, status, changed_at,"
	    "  ok_at, run_id)"
	    " VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 THEN ?6 END,"
	    "  CASE WHEN ?4 = 'ok' THEN ?6 END, ?7)"
	    " ON CONFLICT (host, task_key) DO UPDATE SET"
	    "  digest = excluded.digest, status = excluded.status,"
	    "  changed_at = CASE WHEN ?5 THEN ?6 ELSE changed_at END,"
	    "  ok_at = CASE WHEN excluded.status = 'ok' THEN ?6 ELSE ok_at END,"
	    "  run_id = excluded.run_id"
	    " WHERE ?5 OR digest IS NOT excluded.digest"
	    "  OR status IS NOT excluded.status",

	/* ?1 name ?2 address ?3 facts ?4 hostkey ?5 run ?6 reachable ?7 now
	 * ?8 error.  NULL address/facts/hostkey/run keep what is stored. */
	/* A host key pin is never replaced here (state_hostkey.h). */
	[KS_HOST_UPSERT] =
	    "INSERT INTO hosts (name, address, facts, hostkey_fp,"
	    "  hostkey_pinned_at, last_contact, last_run_id, reachable,"
	    "  last_error)"
	    " VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 IS NOT NULL THEN ?7 END,"
	    "  CASE WHEN ?6 THEN ?7 END, ?5, ?6, ?8)"
	    " ON CONFLICT (name) DO UPDATE SET"
	    "  address = coalesce(excluded.address, address),"
	    "  facts = coalesce(excluded.facts, facts),"
	    "  hostkey_pinned_at = CASE WHEN hostkey_fp IS NULL"
	    "    THEN excluded.hostkey_pinned_at ELSE hostkey_pinned_at END,"
	    "  hostkey_fp = coalesce(hostkey_fp, excluded.hostkey_fp),"
	    "  last_contact = coalesce(excluded.last_contact, last_contact),"
	    "  last_run_id = coalesce(excluded.last_run_id, last_run_id),"
	    "  reachable = excluded.reachable,"
	    "  last_error = excluded.last_error",

	[KS_RUN_HOST_UPSERT] =
	    "INSERT INTO run_hosts (run_id, host, outcome, ok, changed, failed,"
	    "  skipped, error)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (run_id, host) DO UPDATE SET"
	    "  outcome = CASE outcome WHEN 'converged' THEN excluded.outcome"
	    "    ELSE outcome END,"
	    "  ok = ok + excluded.ok, changed = changed + excluded.changed,"
	    "  failed = failed + excluded.failed,"
	    "  skipped = skipped + excluded.skipped,"
	    "  error = coalesce(excluded.error, error)",

	/* The first reason and run stand until the restart is done. */
	[KS_PENDING_SET] =
	    "INSERT INTO pending_restarts (host, task_key, reason, since_run,"
	    "  since_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (host, task_key) DO NOTHING",
	[KS_COMPONENT_UPSERT] =
	    "INSERT INTO components (host, component, desired, observed,"
	    "  active, observed_at, run_id)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (host, component) DO UPDATE SET"
	    "  desired = excluded.desired, observed = excluded.observed,"
	    "  active = excluded.active, observed_at = excluded.observed_at,"
	    "  run_id = excluded.run_id"
	    " WHERE desired IS NOT excluded.desired"
	    "  OR observed IS NOT excluded.observed"
	    "  OR active IS NOT excluded.active",
	[KS_PENDING_CLEAR] =
	    "DELETE FROM pending_restarts WHERE host = ?1 AND task_key = ?2",
	[KS_PENDING_GET] =
	    "SELECT 1 FROM pending_restarts WHERE host = ?1 AND task_key = ?2",

	/* Not a CHECK in the schema: json_valid() is not "innocuous" in
	 * every SQLite, and we run with trusted_schema off. */
	[KS_JSON_VALID] = "SELECT json_valid(?1)",
};

int
kstate_stmt(struct kstate *st, enum kstate_stmt id, sqlite3_stmt **out)
{
	int rc;

	if ((unsigned)id >= KS__COUNT)
		return KORCH_ERR_INTERNAL;
	if (st->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			st->stmt[id] = NULL;
			return kstate_sqlerr(st, rc, "preparing statement");
		}
	} else {
		sqlite3_reset(st->stmt[id]);
		sqlite3_clear_bindings(st->stmt[id]);
	}
	*out = st->stmt[id];
	return KORCH_OK;
}

int
kstate_step_rc(struct kstate *st, sqlite3_stmt *s, const char *what, int *rc)
{
	int r = KORCH_OK;

	*rc = sqlite3_step(s);
	if (*rc != SQLITE_DONE && *rc != SQLITE_ROW)
		r = kstate_sqlerr(st, *rc, what);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

int
kstate_step_done(struct kstate *st, sqlite3_stmt *s, const char *what)
{
	int rc;

	return kstate_step_rc(st, s, what, &rc);
}

int
kstate_prepare(struct kstate *st, const char *sql, sqlite3_stmt **s)
{
	int rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL)) != SQLITE_OK)
		return kstate_sqlerr(st, rc, "preparing query");
	return KORCH_OK;
}

/* kstate_bind() with its arguments in ap; a letter it does not know is
 * SQLITE_MISUSE (a bug of the caller's). */
static int
vbind(sqlite3_stmt *s, const char *types, va_list ap)
{
	int i, rc = SQLITE_OK;

	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 't':
			rc = kstate_bind_text(s, i + 1,
			    va_arg(ap, const char *));
			break;
		case 'i':
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
			break;
		case 'd':
			rc = sqlite3_bind_int(s, i + 1, va_arg(ap, int));
			break;
		case 'r':
			rc = kstate_bind_run(s, i + 1, va_arg(ap, int64_t));
			break;
		default:
			rc = SQLITE_MISUSE;
		}
	}
	return rc;
}

int
kstate_bind(sqlite3_stmt *s, const char *types, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, types);
	rc = vbind(s, types, ap);
	va_end(ap);
	return rc;
}

int
kstate_vquery(struct kstate *st, sqlite3_stmt **s, const char *sql,
    const char *types, va_list ap)
{
	int r;

	if ((r = kstate_prepare(st, sql, s)) != KORCH_OK)
		return r;
	if (vbind(*s, types, ap) != SQLITE_OK)
		return kstate_bind_err(st);
	return KORCH_OK;
}

int
kstate_query(struct kstate *st, sqlite3_stmt **s, const char *sql,
    const char *types, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, types);
	r = kstate_vquery(st, s, sql, types, ap);
	va_end(ap);
	return r;
}

int
kstate_exec(struct kstate *st, enum kstate_stmt id, const char *what,
    const char *types, ...)
{
	sqlite3_stmt	*s;
	va_list		 ap;
	int		 r, rc;

	if ((r = kstate_stmt(st, id, &s)) != KORCH_OK)
		return r;
	va_start(ap, types);
	rc = vbind(s, types, ap);
	va_end(ap);
	if (rc != SQLITE_OK)
		return kstate_bind_err(st);
	return kstate_step_done(st, s, what);
}

int
kstate_step_row(struct kstate *st, sqlite3_stmt *s, const char *what,
    int *found)
{
	int rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || (rc == SQLITE_DONE && found != NULL)) {
		if (found != NULL)
			*found = rc == SQLITE_ROW;
		return KORCH_OK;
	}
	return kstate_sqlerr(st, rc, what);
}

int
kstate_first(struct kstate *st, const char *sql, const char *what,
    sqlite3_stmt **s, int *found)
{
	int rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL)) != SQLITE_OK)
		return kstate_sqlerr(st, rc, what);
	return kstate_step_row(st, *s, what, found);
}

int
kstate_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
}

int
kstate_bind_run(sqlite3_stmt *s, int idx, int64_t run_id)
{
	if (run_id <= 0)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_int64(s, idx, run_id);
}

int
kstate_bind_err(struct kstate *st)
{
	return kstate_sqlerr(st, sqlite3_errcode(st->db), "binding");
}

int
kstate_col_strdup(sqlite3_stmt *s, int col, char **out)
{
	const unsigned char	*t;
	int			 n;

	*out = NULL;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return KORCH_OK;
	t = sqlite3_column_text(s, col);
	n = sqlite3_column_bytes(s, col);
	if (t == NULL || n < 0)
		return KORCH_ERR_ALLOC;
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return KORCH_ERR_ALLOC;
	memcpy(*out, t, (size_t)n);
	(*out)[n] = '\0';
	return KORCH_OK;
}
