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

int
kstate_collect(struct kstate *st, sqlite3_stmt *s, size_t esize,
    decode_fn decode, clear_fn clear, void **out, size_t *nout)
{
	char	*v = NULL, *nv;
	size_t	 n = 0, cap = 0;
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
		r = decode(s, v + n * esize);
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
	kstate_free_array(v, n, esize, clear);
	return r;
}

void
kstate_free_array(void *v, size_t n, size_t esize, clear_fn clear)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		clear((char *)v + i * esize);
	free(v);
}

int
kstate_list_begin(struct kstate *st, const char *sql, void **out, size_t *n,
    sqlite3_stmt **s)
{
	int r;

	*s = NULL;
	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (out == NULL || n == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	*n = 0;
	return kstate_prepare(st, sql, s);
}

int
kstate_list_end(struct kstate *st, sqlite3_stmt *s, int r, size_t esize,
    decode_fn decode, clear_fn clear, void **out, size_t *n)
{
	if (r == KORCH_OK)
		r = kstate_collect(st, s, esize, decode, clear, out, n);
	sqlite3_finalize(s);
	return r;
}

int
kstate_one(struct kstate *st, sqlite3_stmt *s, const char *none,
    size_t esize, decode_fn decode, clear_fn clear, void **out)
{
	void	*v = NULL;
	size_t	 n = 0;
	int	 r;

	if ((r = kstate_collect(st, s, esize, decode, clear, &v, &n)) !=
	    KORCH_OK)
		return r;
	if (n == 0) {
		kstate_seterr(st, "%s", none);
		return KORCH_ERR_NOT_FOUND;
	}
	*out = v;		/* an array of one, freed as one */
	return KORCH_OK;
}

static int64_t
col_i64(sqlite3_stmt *s, int col)
{
	return sqlite3_column_int64(s, col);	/* NULL reads as 0 */
}

/* ---- runs ---- */

#define RUN_COLS "id, kind, args, started_at, ended_at, result, exit_code," \
	" pid, hostname, user"

static void
run_clear(void *p)
{
	struct kstate_run *run = p;

	free(run->kind);
	free(run->args);
	free(run->hostname);
	free(run->user);
}

static int
run_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_run	*run = p;
	int			 v, r;

	run->id = col_i64(s, 0);
	if ((r = kstate_col_strdup(s, 1, &run->kind)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 2, &run->args)) != KORCH_OK)
		return r;
	run->started_at = col_i64(s, 3);
	run->ended_at = col_i64(s, 4);
	if ((r = kstate_col_enum(s, 5, kstate_run_result_parse, &v)) !=
	    KORCH_OK)
		return r;
	run->result = (enum kstate_run_result)v;
	run->exit_code = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(s, 6);
	run->pid = (long)col_i64(s, 7);
	if ((r = kstate_col_strdup(s, 8, &run->hostname)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 9, &run->user)) != KORCH_OK)
		return r;
	return KORCH_OK;
}

/* One run from s (bound by the caller), or KORCH_ERR_NOT_FOUND. */
static int
run_one(struct kstate *st, sqlite3_stmt *s, const char *what,
    struct kstate_run **out)
{
	return kstate_one(st, s, what, sizeof(struct kstate_run), run_decode,
	    run_clear, (void **)out);
}

int
kstate_run_last(struct kstate *st, const char *kind, struct kstate_run **out)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	if ((r = kstate_prepare(st, "SELECT " RUN_COLS " FROM runs"
	    " WHERE ?1 IS NULL OR kind = ?1 ORDER BY id DESC LIMIT 1", &s)) !=
	    KORCH_OK)
		goto out;
	if (kstate_bind_text(s, 1, kind) != SQLITE_OK) {
		r = kstate_bind_err(st);
		goto out;
	}
	r = run_one(st, s, "no run recorded yet", out);
 out:
	sqlite3_finalize(s);
	return r;
}

int
kstate_run_get(struct kstate *st, int64_t id, struct kstate_run **out)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	if ((r = kstate_prepare(st, "SELECT " RUN_COLS " FROM runs"
	    " WHERE id = ?1", &s)) != KORCH_OK)
		goto out;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK) {
		r = kstate_bind_err(st);
		goto out;
	}
	r = run_one(st, s, "no such run", out);
 out:
	sqlite3_finalize(s);
	return r;
}

void
kstate_run_free(struct kstate_run *run)
{
	kstate_free_array(run, 1, sizeof(*run), run_clear);
}

/*
 * The lists "of one host, or of all when host is NULL": sql selects with
 * ?1 as that host.  Rows decoded into a new array of size-byte structs.
 */
static int
list_by_host(struct kstate *st, const char *sql, const char *host,
    size_t size, decode_fn decode, clear_fn clear, void **out, size_t *n)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_list_begin(st, sql, out, n, &s)) != KORCH_OK)
		return r;
	if (kstate_bind_text(s, 1, host) != SQLITE_OK)
		r = kstate_bind_err(st);
	return kstate_list_end(st, s, r, size, decode, clear, out, n);
}

/* ---- hosts ---- */

static void
host_clear(void *p)
{
	struct kstate_host *h = p;

	free(h->name);
	free(h->address);
	free(h->facts_json);
	free(h->hostkey_fp);
	free(h->last_error);
}

static int
host_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_host	*h = p;
	int			 r;

	if ((r = kstate_col_strdup(s, 0, &h->name)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 1, &h->address)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 2, &h->facts_json)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 3, &h->hostkey_fp)) != KORCH_OK)
		return r;
	h->last_contact = col_i64(s, 4);
	h->last_run_id = col_i64(s, 5);
	h->reachable = sqlite3_column_int(s, 6) != 0;
	return kstate_col_strdup(s, 7, &h->last_error);
}

int
kstate_hosts_list(struct kstate *st, struct kstate_host **out, size_t *n)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_list_begin(st, "SELECT name, address, facts,"
	    " hostkey_fp, last_contact, last_run_id, reachable, last_error"
	    " FROM hosts ORDER BY name", (void **)out, n, &s)) != KORCH_OK)
		return r;
	return kstate_list_end(st, s, r, sizeof(**out), host_decode,
	    host_clear, (void **)out, n);
}

void
kstate_hosts_free(struct kstate_host *v, size_t n)
{
	kstate_free_array(v, n, sizeof(*v), host_clear);
}

/* ---- observed ---- */

static void
observed_clear(void *p)
{
	struct kstate_observed *o = p;

	free(o->host);
	free(o->task_key);
	free(o->digest);
}

static int
observed_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_observed	*o = p;
	int			 v, r;

	if ((r = kstate_col_strdup(s, 0, &o->host)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 1, &o->task_key)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 2, &o->digest)) != KORCH_OK)
		return r;
	if ((r = kstate_col_enum(s, 3, kstate_status_parse, &v)) != KORCH_OK)
		return r;
	o->status = (enum kstate_status)v;
	o->changed_at = col_i64(s, 4);
	o->ok_at = col_i64(s, 5);
	o->run_id = col_i64(s, 6);
	return KORCH_OK;
}

int
kstate_observed_list(struct kstate *st, const char *host,
    struct kstate_observed **out, size_t *n)
{
	return list_by_host(st, "SELECT host, task_key, digest, status,"
	    " changed_at, ok_at, run_id FROM observed"
	    " WHERE ?1 IS NULL OR host = ?1 ORDER BY host, task_key", host,
	    sizeof(**out), observed_decode, observed_clear, (void **)out, n);
}

void
kstate_observed_free(struct kstate_observed *v, size_t n)
{
	kstate_free_array(v, n, sizeof(*v), observed_clear);
}

/* ---- per-host outcomes of a run ---- */

static void
run_host_clear(void *p)
{
	struct kstate_run_host *h = p;

	free(h->host);
	free(h->error);
}

static int
run_host_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_run_host	*h = p;
	int			 v, r;

	h->run_id = col_i64(s, 0);
	if ((r = kstate_col_strdup(s, 1, &h->host)) != KORCH_OK)
		return r;
	if ((r = kstate_col_enum(s, 2, kstate_outcome_parse, &v)) != KORCH_OK)
		return r;
	h->outcome = (enum kstate_outcome)v;
	h->ok = sqlite3_column_int(s, 3);
	h->changed = sqlite3_column_int(s, 4);
	h->failed = sqlite3_column_int(s, 5);
	h->skipped = sqlite3_column_int(s, 6);
	return kstate_col_strdup(s, 7, &h->error);
}

int
kstate_run_hosts_list(struct kstate *st, int64_t run_id,
    struct kstate_run_host **out, size_t *n)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_list_begin(st, "SELECT run_id, host, outcome, ok,"
	    " changed, failed, skipped, error FROM run_hosts"
	    " WHERE run_id = ?1 ORDER BY host", (void **)out, n, &s)) !=
	    KORCH_OK)
		return r;
	if (sqlite3_bind_int64(s, 1, run_id) != SQLITE_OK)
		r = kstate_bind_err(st);
	return kstate_list_end(st, s, r, sizeof(**out), run_host_decode,
	    run_host_clear, (void **)out, n);
}

void
kstate_run_hosts_free(struct kstate_run_host *v, size_t n)
{
	kstate_free_array(v, n, sizeof(*v), run_host_clear);
}

/* ---- task results ---- */

static void
result_clear(void *p)
{
	struct kstate_task_result *t = p;

	free(t->host);
	free(t->step);
	free(t->task_key);
	free(t->module);
	free(t->desired_digest);
	free(t->message);
	free(t->diff);
}

static int
result_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_task_result	*t = p;
	int				 v, r;

	t->run_id = col_i64(s, 0);
	if ((r = kstate_col_strdup(s, 1, &t->host)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 2, &t->step)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 3, &t->task_key)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 4, &t->module)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 5, &t->desired_digest)) != KORCH_OK)
		return r;
	if ((r = kstate_col_enum(s, 6, kstate_status_parse, &v)) != KORCH_OK)
		return r;
	t->status = (enum kstate_status)v;
	t->changed = sqlite3_column_int(s, 7) != 0;
	if ((r = kstate_col_strdup(s, 8, &t->message)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 9, &t->diff)) != KORCH_OK)
		return r;
	t->started_at = col_i64(s, 10);
	t->duration_ms = col_i64(s, 11);
	return KORCH_OK;
}

int
kstate_results_list(struct kstate *st, int64_t run_id, const char *host,
    int flags, struct kstate_task_result **out, size_t *n)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_list_begin(st, "SELECT run_id, host, step, task_key,"
	    " module, desired_digest, status, changed, message, diff,"
	    " started_at, duration_ms FROM task_results"
	    " WHERE run_id = ?1 AND (?2 IS NULL OR host = ?2)"
	    "  AND (?3 = 0 OR status IN ('failed', 'unreachable'))"
	    " ORDER BY host, started_at, task_key", (void **)out, n, &s)) !=
	    KORCH_OK)
		return r;
	if (sqlite3_bind_int64(s, 1, run_id) ||
	    kstate_bind_text(s, 2, host) ||
	    sqlite3_bind_int(s, 3, (flags & KSTATE_RESULTS_FAILED_ONLY) != 0))
		r = kstate_bind_err(st);
	return kstate_list_end(st, s, r, sizeof(**out), result_decode,
	    result_clear, (void **)out, n);
}

void
kstate_results_free(struct kstate_task_result *v, size_t n)
{
	kstate_free_array(v, n, sizeof(*v), result_clear);
}

/* ---- pending restarts ---- */

static void
pending_clear(void *p)
{
	struct kstate_pending *pr = p;

	free(pr->host);
	free(pr->task_key);
	free(pr->reason);
}

static int
pending_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_pending	*pr = p;
	int			 r;

	if ((r = kstate_col_strdup(s, 0, &pr->host)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 1, &pr->task_key)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 2, &pr->reason)) != KORCH_OK)
		return r;
	pr->since_run = col_i64(s, 3);
	pr->since_at = col_i64(s, 4);
	return KORCH_OK;
}

int
kstate_pending_restarts_list(struct kstate *st, const char *host,
    struct kstate_pending **out, size_t *n)
{
	return list_by_host(st, "SELECT host, task_key, reason,"
	    " since_run, since_at FROM pending_restarts"
	    " WHERE ?1 IS NULL OR host = ?1 ORDER BY host, task_key", host,
	    sizeof(**out), pending_decode, pending_clear, (void **)out, n);
}

void
kstate_pending_restarts_free(struct kstate_pending *v, size_t n)
{
	kstate_free_array(v, n, sizeof(*v), pending_clear);
}

/* ---- components ---- */

static void
component_clear(void *p)
{
	struct kstate_component *c = p;

	free(c->host);
	free(c->component);
	free(c->desired);
	free(c->observed);
	free(c->active);
}

static int
component_decode(sqlite3_stmt *s, void *p)
{
	struct kstate_component	*c = p;
	int			 r;

	if ((r = kstate_col_strdup(s, 0, &c->host)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 1, &c->component)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 2, &c->desired)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 3, &c->observed)) != KORCH_OK ||
	    (r = kstate_col_strdup(s, 4, &c->active)) != KORCH_OK)
		return r;
	c->observed_at = col_i64(s, 5);
	c->run_id = col_i64(s, 6);
	return KORCH_OK;
}

int
kstate_components_list(struct kstate *st, const char *host,
    struct kstate_component **out, size_t *n)
{
	return list_by_host(st, "SELECT host, component, desired,"
	    " observed, active, observed_at, run_id FROM components"
	    " WHERE ?1 IS NULL OR host = ?1 ORDER BY host, component", host,
	    sizeof(**out), component_decode, component_clear, (void **)out, n);
}

void
kstate_components_free(struct kstate_component *v, size_t n)
{
	kstate_free_array(v, n, sizeof(*v), component_clear);
}
