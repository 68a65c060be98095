/*
 * query.c - reading state back for `korch status`: runs, hosts, observed
 * rows, per-host outcomes, results, pending restarts and components, as
 * owned arrays; first the row-reading calls upgrade.c's reads share.  Not
 * the hot path: statements are prepared per call and finalized.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "state-int.h"
#include "state_query.h"
#include "state_upgrade.h"

_Static_assert(sizeof(enum kstate_status) == sizeof(int) &&
    sizeof(enum kstate_outcome) == sizeof(int) &&
    sizeof(enum kstate_run_result) == sizeof(int) &&
    sizeof(enum kstate_upgrade_status) == sizeof(int) &&
    sizeof(enum kstate_phase_status) == sizeof(int),
    "KCOL_ENUM fields are written as int");

/* Row s into p, a zeroed struct of row's type.  KORCH_ERR_ALLOC, or
 * KORCH_ERR_STATE for a name not in its list. */
static int
row_decode(const struct kstate_row *row, sqlite3_stmt *s, char *p)
{
	const struct kstate_col	*c;
	int			 i, v;

	for (i = 0; i < (int)row->ncols; i++) {
		c = &row->cols[i];
		switch (c->kind) {
		case KCOL_TEXT:
			if (kstate_col_strdup(s, i, (char **)(p + c->off)) !=
			    KORCH_OK)
				return KORCH_ERR_ALLOC;
			break;
		case KCOL_I64:
			*(int64_t *)(p + c->off) = sqlite3_column_int64(s, i);
			break;
		case KCOL_INT:
			*(int *)(p + c->off) = sqlite3_column_int(s, i);
			break;
		case KCOL_LONG:
			*(long *)(p + c->off) =
			    (long)sqlite3_column_int64(s, i);
			break;
		case KCOL_BOOL:
			*(bool *)(p + c->off) = sqlite3_column_int(s, i) != 0;
			break;
		case KCOL_EXIT:
			*(int *)(p + c->off) = sqlite3_column_type(s, i) ==
			    SQLITE_NULL ? -1 : sqlite3_column_int(s, i);
			break;
		case KCOL_ENUM:
			if ((v = kstate_parse(c->names, (const char *)
			    sqlite3_column_text(s, i))) < 0)
				return KORCH_ERR_STATE;
			*(int *)(p + c->off) = v;
			break;
		}
	}
	return KORCH_OK;
}

/* Step s to the end, decoding each row into a growing array (zeroed
 * before decode).  *out is NULL and *nout 0 when there are no rows.  On
 * failure everything decoded so far is freed. */
static int
collect(struct kstate *st, sqlite3_stmt *s, const struct kstate_row *row,
    void **out, size_t *nout)
{
	char	*v = NULL, *nv;
	size_t	 n = 0, cap = 0, esize = row->size;
	int	 rc, r;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;

			if (ncap > SIZE_MAX / esize ||
			    (nv = realloc(v, ncap * esize)) == NULL) {
				kstate_seterr(st, "out of memory");
				r = KORCH_ERR_ALLOC;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		memset(v + n * esize, 0, esize);
		r = row_decode(row, s, v + n * esize);
		n++;	/* a half-decoded element is cleared too */
		if (r != KORCH_OK) {
			kstate_seterr(st, r == KORCH_ERR_ALLOC ?
			    "out of memory" : "unexpected value in state "
			    "database");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = kstate_sqlerr(st, rc, "reading state");
		goto out;
	}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	r = KORCH_OK;
 out:
	kstate_free_rows(row, v, n);
	return r;
}

void
kstate_free_rows(const struct kstate_row *row, void *v, size_t n)
{
	char	*p;
	size_t	 i, c;

	for (i = 0; v != NULL && i < n; i++) {
		p = (char *)v + i * row->size;
		for (c = 0; c < row->ncols; c++)
			if (row->cols[c].kind == KCOL_TEXT)
				free(*(char **)(p + row->cols[c].off));
	}
	free(v);
}

int
kstate_read(struct kstate *st, const struct kstate_row *row,
    const char *none, const char *sql, void **out, size_t *n,
    const char *types, ...)
{
	sqlite3_stmt	*s = NULL;
	va_list		 ap;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (out == NULL || n == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	*n = 0;
	va_start(ap, types);
	r = kstate_vquery(st, &s, sql, types, ap);
	va_end(ap);
	if (r == KORCH_OK)
		r = collect(st, s, row, out, n);
	sqlite3_finalize(s);
	if (r == KORCH_OK && *n == 0 && none != NULL) {
		kstate_seterr(st, "%s", none);
		r = KORCH_ERR_NOT_FOUND;
	}
	return r;
}

/* ---- runs ---- */

#define RUN_COLS "id, kind, args, started_at, ended_at, result, exit_code," \
	" pid, hostname, user"

static const struct kstate_col run_cols[] = {
	KCOL(run, I64, id), KCOL(run, TEXT, kind), KCOL(run, TEXT, args),
	KCOL(run, I64, started_at), KCOL(run, I64, ended_at),
	KENUM(run, result, KN_RUN_RESULT), KCOL(run, EXIT, exit_code),
	KCOL(run, LONG, pid), KCOL(run, TEXT, hostname),
	KCOL(run, TEXT, user),
};
static const struct kstate_row run_row = KROW(run, run_cols);

int
kstate_run_last(struct kstate *st, const char *kind, struct kstate_run **out)
{
	size_t n;

	return kstate_read(st, &run_row, "no run recorded yet",
	    "SELECT " RUN_COLS " FROM runs"
	    " WHERE ?1 IS NULL OR kind = ?1 ORDER BY id DESC LIMIT 1",
	    (void **)out, &n, "t", kind);
}

int
kstate_run_get(struct kstate *st, int64_t id, struct kstate_run **out)
{
	size_t n;

	return kstate_read(st, &run_row, "no such run", "SELECT " RUN_COLS
	    " FROM runs WHERE id = ?1", (void **)out, &n, "i", id);
}

void
kstate_run_free(struct kstate_run *run)
{
	kstate_free_rows(&run_row, run, 1);
}

/* ---- hosts ---- */

static const struct kstate_col host_cols[] = {
	KCOL(host, TEXT, name), KCOL(host, TEXT, address),
	KCOL(host, TEXT, facts_json), KCOL(host, TEXT, hostkey_fp),
	KCOL(host, I64, last_contact), KCOL(host, I64, last_run_id),
	KCOL(host, BOOL, reachable), KCOL(host, TEXT, last_error),
};
static const struct kstate_row host_row = KROW(host, host_cols);

int
kstate_hosts_list(struct kstate *st, struct kstate_host **out, size_t *n)
{
	return kstate_read(st, &host_row, NULL, "SELECT name, address, facts,"
	    " hostkey_fp, last_contact, last_run_id, reachable, last_error"
	    " FROM hosts ORDER BY name", (void **)out, n, "");
}

void
kstate_hosts_free(struct kstate_host *v, size_t n)
{
	kstate_free_rows(&host_row, v, n);
}

/* ---- observed ---- */

static const struct kstate_col observed_cols[] = {
	KCOL(observed, TEXT, host), KCOL(observed, TEXT, task_key),
	KCOL(observed, TEXT, digest), KENUM(observed, status, KN_STATUS),
	KCOL(observed, I64, changed_at), KCOL(observed, I64, ok_at),
	KCOL(observed, I64, run_id),
};
static const struct kstate_row observed_row = KROW(observed, observed_cols);

int
kstate_observed_list(struct kstate *st, const char *host,
    struct kstate_observed **out, size_t *n)
{
	return kstate_read(st, &observed_row, NULL, "SELECT host, task_key,"
	    " digest, status, changed_at, ok_at, run_id FROM observed"
	    " WHERE ?1 IS NULL OR host = ?1 ORDER BY host, task_key",
	    (void **)out, n, "t", host);
}

void
kstate_observed_free(struct kstate_observed *v, size_t n)
{
	kstate_free_rows(&observed_row, v, n);
}

/* ---- per-host outcomes of a run ---- */

static const struct kstate_col run_host_cols[] = {
	KCOL(run_host, I64, run_id), KCOL(run_host, TEXT, host),
	KENUM(run_host, outcome, KN_OUTCOME), KCOL(run_host, INT, ok),
	KCOL(run_host, INT, changed), KCOL(run_host, INT, failed),
	KCOL(run_host, INT, skipped), KCOL(run_host, TEXT, error),
};
static const struct kstate_row run_host_row = KROW(run_host, run_host_cols);

int
kstate_run_hosts_list(struct kstate *st, int64_t run_id,
    struct kstate_run_host **out, size_t *n)
{
	return kstate_read(st, &run_host_row, NULL, "SELECT run_id, host,"
	    " outcome, ok, changed, failed, skipped, error FROM run_hosts"
	    " WHERE run_id = ?1 ORDER BY host", (void **)out, n, "i", run_id);
}

void
kstate_run_hosts_free(struct kstate_run_host *v, size_t n)
{
	kstate_free_rows(&run_host_row, v, n);
}

/* ---- task results ---- */

static const struct kstate_col result_cols[] = {
	KCOL(task_result, I64, run_id), KCOL(task_result, TEXT, host),
	KCOL(task_result, TEXT, step), KCOL(task_result, TEXT, task_key),
	KCOL(task_result, TEXT, module),
	KCOL(task_result, TEXT, desired_digest),
	KENUM(task_result, status, KN_STATUS),
	KCOL(task_result, BOOL, changed), KCOL(task_result, TEXT, message),
	KCOL(task_result, TEXT, diff), KCOL(task_result, I64, started_at),
	KCOL(task_result, I64, duration_ms),
};
static const struct kstate_row result_row = KROW(task_result, result_cols);

int
kstate_results_list(struct kstate *st, int64_t run_id, const char *host,
    int flags, struct kstate_task_result **out, size_t *n)
{
	return kstate_read(st, &result_row, NULL,
	    "SELECT run_id, host, step, task_key, module, desired_digest,"
	    " status, changed, message, diff, started_at, duration_ms"
	    " FROM task_results"
	    " WHERE run_id = ?1 AND (?2 IS NULL OR host = ?2)"
	    "  AND (?3 = 0 OR status IN ('failed', 'unreachable'))"
	    " ORDER BY host, started_at, task_key", (void **)out, n, "itd",
	    run_id, host, (flags & KSTATE_RESULTS_FAILED_ONLY) != 0);
}

void
kstate_results_free(struct kstate_task_result *v, size_t n)
{
	kstate_free_rows(&result_row, v, n);
}

/* ---- pending restarts ---- */

static const struct kstate_col pending_cols[] = {
	KCOL(pending, TEXT, host), KCOL(pending, TEXT, task_key),
	KCOL(pending, TEXT, reason), KCOL(pending, I64, since_run),
	KCOL(pending, I64, since_at),
};
static const struct kstate_row pending_row = KROW(pending, pending_cols);

int
kstate_pending_restarts_list(struct kstate *st, const char *host,
    struct kstate_pending **out, size_t *n)
{
	return kstate_read(st, &pending_row, NULL, "SELECT host, task_key,"
	    " reason, since_run, since_at FROM pending_restarts"
	    " WHERE ?1 IS NULL OR host = ?1 ORDER BY host, task_key",
	    (void **)out, n, "t", host);
}

void
kstate_pending_restarts_free(struct kstate_pending *v, size_t n)
{
	kstate_free_rows(&pending_row, v, n);
}

/* ---- components ---- */

static const struct kstate_col component_cols[] = {
	KCOL(component, TEXT, host), KCOL(component, TEXT, component),
	KCOL(component, TEXT, desired), KCOL(component, TEXT, observed),
	KCOL(component, TEXT, active), KCOL(component, I64, observed_at),
	KCOL(component, I64, run_id),
};
static const struct kstate_row component_row =
    KROW(component, component_cols);

int
kstate_components_list(struct kstate *st, const char *host,
    struct kstate_component **out, size_t *n)
{
	return kstate_read(st, &component_row, NULL, "SELECT host, component,"
	    " desired, observed, active, observed_at, run_id FROM components"
	    " WHERE ?1 IS NULL OR host = ?1 ORDER BY host, component",
	    (void **)out, n, "t", host);
}

void
kstate_components_free(struct kstate_component *v, size_t n)
{
	kstate_free_rows(&component_row, v, n);
}
