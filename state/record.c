/*
 * record.c - what the scheduler writes while a run goes: task results,
 * observed state, hosts, per-host outcomes, pending restarts and
 * components, and the names their enums are stored as.  All of it through
 * cached statements; one transaction per loop tick (a batch).
 */
#include <string.h>

#include "err.h"
#include "state-int.h"
#include "state_record.h"

/* The schema's CHECK lists (migration 1) say the same. */
static const char *const status_names[] = {
	[KSTATE_OK] = "ok",
	[KSTATE_CHANGED] = "changed",
	[KSTATE_FAILED] = "failed",
	[KSTATE_SKIPPED] = "skipped",
	[KSTATE_UNREACHABLE] = "unreachable",
};

static const char *const outcome_names[] = {
	[KSTATE_HOST_CONVERGED] = "converged",
	[KSTATE_HOST_FAILED] = "failed",
	[KSTATE_HOST_UNREACHABLE] = "unreachable",
};

const char *
kstate_status_name(enum kstate_status s)
{
	return kstate_name_of(status_names, NELEM(status_names), (unsigned)s);
}

const char *
kstate_outcome_name(enum kstate_outcome o)
{
	return kstate_name_of(outcome_names, NELEM(outcome_names), (unsigned)o);
}

int
kstate_status_parse(const char *name)
{
	return kstate_name_index(status_names, NELEM(status_names), name);
}

int
kstate_outcome_parse(const char *name)
{
	return kstate_name_index(outcome_names, NELEM(outcome_names), name);
}

int
kstate_record_result(struct kstate *st, const struct kstate_result *res)
{
	sqlite3_stmt	*s;
	const char	*obs_status;
	int64_t		 started, at;
	int		 changed, log_it, observe, own = 0, r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "result", res)) != KORCH_OK ||
	    (r = kstate_need(st, "host", res->host)) != KORCH_OK ||
	    (r = kstate_need(st, "step", res->step)) != KORCH_OK ||
	    (r = kstate_need(st, "task key", res->task_key)) != KORCH_OK ||
	    (r = kstate_need(st, "module", res->module)) != KORCH_OK)
		return r;
	if (kstate_status_parse(kstate_status_name(res->status)) < 0 ||
	    res->duration_ms < 0 || res->run_id <= 0) {
		kstate_seterr(st, "bad result for %s %s (status %d, run %lld, "
		    "duration %lld)", res->host, res->task_key,
		    (int)res->status, (long long)res->run_id,
		    (long long)res->duration_ms);
		return KORCH_ERR_INVALID_ARG;
	}
	changed = res->changed || res->status == KSTATE_CHANGED;
	started = res->started_at != 0 ? res->started_at : kstate_now_ms();
	at = started + res->duration_ms;
	log_it = changed || res->status == KSTATE_FAILED ||
	    res->status == KSTATE_UNREACHABLE;
	observe = res->status == KSTATE_OK || res->status == KSTATE_CHANGED ||
	    res->status == KSTATE_FAILED;
	obs_status = res->status == KSTATE_FAILED ? "failed" : "ok";

	/* Two statements need a transaction of their own outside a batch;
	 * one is atomic by itself. */
	if (log_it && observe && (r = kstate_tx_enter(st, &own)) != KORCH_OK)
		return r;

	if (log_it) {
		if ((r = kstate_stmt(st, KS_RESULT_UPSERT, &s)) != KORCH_OK)
			goto out;
		if (sqlite3_bind_int64(s, 1, res->run_id) ||
		    kstate_bind_text(s, 2, res->host) ||
		    kstate_bind_text(s, 3, res->step) ||
		    kstate_bind_text(s, 4, res->task_key) ||
		    kstate_bind_text(s, 5, res->module) ||
		    kstate_bind_text(s, 6, res->desired_digest) ||
		    kstate_bind_text(s, 7, kstate_status_name(res->status)) ||
		    sqlite3_bind_int(s, 8, changed) ||
		    kstate_bind_text(s, 9, res->message) ||
		    kstate_bind_text(s, 10, res->diff) ||
		    sqlite3_bind_int64(s, 11, started) ||
		    sqlite3_bind_int64(s, 12, res->duration_ms)) {
			r = kstate_bind_err(st);
			goto out;
		}
		if ((r = kstate_step_done(st, s, "recording result")) !=
		    KORCH_OK)
			goto out;
	}
	if (observe) {
		if ((r = kstate_stmt(st, KS_OBSERVED_UPSERT, &s)) != KORCH_OK)
			goto out;
		if (kstate_bind_text(s, 1, res->host) ||
		    kstate_bind_text(s, 2, res->task_key) ||
		    kstate_bind_text(s, 3, res->desired_digest) ||
		    kstate_bind_text(s, 4, obs_status) ||
		    sqlite3_bind_int(s, 5, changed) ||
		    sqlite3_bind_int64(s, 6, at) ||
		    sqlite3_bind_int64(s, 7, res->run_id)) {
			r = kstate_bind_err(st);
			goto out;
		}
		if ((r = kstate_step_done(st, s, "recording observed state")) !=
		    KORCH_OK)
			goto out;
	}
	r = KORCH_OK;
 out:
	if (r != KORCH_OK) {
		/* Say which result it was. */
		char tmp[sizeof(st->errmsg)];

		memcpy(tmp, st->errmsg, sizeof(tmp));
		kstate_seterr(st, "%s %s: %s", res->host, res->task_key, tmp);
	}
	return kstate_tx_leave(st, own, r);
}

static int
json_check(struct kstate *st, const char *host, const char *json)
{
	sqlite3_stmt	*s;
	int		 rc, r, valid = 0;

	if ((r = kstate_stmt(st, KS_JSON_VALID, &s)) != KORCH_OK)
		return r;
	if (kstate_bind_text(s, 1, json))
		return kstate_bind_err(st);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		valid = sqlite3_column_int(s, 0);
		r = KORCH_OK;
	} else
		r = kstate_sqlerr(st, rc, "checking facts");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (r == KORCH_OK && !valid) {
		kstate_seterr(st, "%s: facts are not valid JSON", host);
		r = KORCH_ERR_INVALID_ARG;
	}
	return r;
}

int
kstate_record_host(struct kstate *st, int64_t run_id, const char *name,
    const char *address, const char *facts_json, const char *hostkey_fp,
    bool reachable, const char *error)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "host name", name)) != KORCH_OK)
		return r;
	if (facts_json != NULL && (r = json_check(st, name, facts_json)) !=
	    KORCH_OK)
		return r;
	if ((r = kstate_stmt(st, KS_HOST_UPSERT, &s)) != KORCH_OK)
		return r;
	if (kstate_bind_text(s, 1, name) ||
	    kstate_bind_text(s, 2, address) ||
	    kstate_bind_text(s, 3, facts_json) ||
	    kstate_bind_text(s, 4, hostkey_fp) ||
	    kstate_bind_run(s, 5, run_id) ||
	    sqlite3_bind_int(s, 6, reachable ? 1 : 0) ||
	    sqlite3_bind_int64(s, 7, kstate_now_ms()) ||
	    kstate_bind_text(s, 8, error))
		return kstate_bind_err(st);
	return kstate_step_done(st, s, "recording host");
}

int
kstate_record_run_host(struct kstate *st, int64_t run_id, const char *host,
    enum kstate_outcome outcome, int ok, int changed, int failed,
    int skipped, const char *error)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "host name", host)) != KORCH_OK)
		return r;
	if (kstate_outcome_parse(kstate_outcome_name(outcome)) < 0 ||
	    run_id <= 0 || ok < 0 || changed < 0 || failed < 0 ||
	    skipped < 0) {
		kstate_seterr(st, "bad outcome for %s", host);
		return KORCH_ERR_INVALID_ARG;
	}
	if ((r = kstate_stmt(st, KS_RUN_HOST_UPSERT, &s)) != KORCH_OK)
		return r;
	if (sqlite3_bind_int64(s, 1, run_id) ||
	    kstate_bind_text(s, 2, host) ||
	    kstate_bind_text(s, 3, kstate_outcome_name(outcome)) ||
	    sqlite3_bind_int(s, 4, ok) ||
	    sqlite3_bind_int(s, 5, changed) ||
	    sqlite3_bind_int(s, 6, failed) ||
	    sqlite3_bind_int(s, 7, skipped) ||
	    kstate_bind_text(s, 8, error))
		return kstate_bind_err(st);
	return kstate_step_done(st, s, "recording host outcome");
}

/* Entry checks of a pending restart call, and its statement with host
 * and task key bound as ?1 and ?2. */
static int
pending_stmt(struct kstate *st, enum kstate_stmt id, const char *host,
    const char *task_key, sqlite3_stmt **s)
{
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "host name", host)) != KORCH_OK ||
	    (r = kstate_need(st, "task key", task_key)) != KORCH_OK)
		return r;
	if ((r = kstate_stmt(st, id, s)) != KORCH_OK)
		return r;
	if (kstate_bind_text(*s, 1, host) || kstate_bind_text(*s, 2, task_key))
		return kstate_bind_err(st);
	return KORCH_OK;
}

int
kstate_pending_restart_set(struct kstate *st, const char *host,
    const char *task_key, const char *reason, int64_t run_id)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = pending_stmt(st, KS_PENDING_SET, host, task_key, &s)) !=
	    KORCH_OK)
		return r;
	if (kstate_bind_text(s, 3, reason != NULL ? reason : "") ||
	    kstate_bind_run(s, 4, run_id) ||
	    sqlite3_bind_int64(s, 5, kstate_now_ms()))
		return kstate_bind_err(st);
	return kstate_step_done(st, s, "recording pending restart");
}

int
kstate_pending_restart_clear(struct kstate *st, const char *host,
    const char *task_key)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = pending_stmt(st, KS_PENDING_CLEAR, host, task_key, &s)) !=
	    KORCH_OK)
		return r;
	return kstate_step_done(st, s, "clearing pending restart");
}

int
kstate_pending_restart_get(struct kstate *st, const char *host,
    const char *task_key, bool *pending)
{
	sqlite3_stmt	*s;
	int		 rc, r;

	if ((r = pending_stmt(st, KS_PENDING_GET, host, task_key, &s)) !=
	    KORCH_OK ||
	    (r = kstate_need(st, "result pointer", pending)) != KORCH_OK)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*pending = rc == SQLITE_ROW;
		r = KORCH_OK;
	} else
		r = kstate_sqlerr(st, rc, "reading pending restart");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

int
kstate_record_component(struct kstate *st, int64_t run_id, const char *host,
    const char *component, const char *desired, const char *observed,
    const char *active)
{
	sqlite3_stmt	*s;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "host name", host)) != KORCH_OK ||
	    (r = kstate_need(st, "component", component)) != KORCH_OK ||
	    (r = kstate_need(st, "observed version", observed)) != KORCH_OK ||
	    (r = kstate_need(st, "active state", active)) != KORCH_OK)
		return r;
	if ((r = kstate_stmt(st, KS_COMPONENT_UPSERT, &s)) != KORCH_OK)
		return r;
	if (kstate_bind_text(s, 1, host) ||
	    kstate_bind_text(s, 2, component) ||
	    kstate_bind_text(s, 3, desired) ||
	    kstate_bind_text(s, 4, observed) ||
	    kstate_bind_text(s, 5, active) ||
	    sqlite3_bind_int64(s, 6, kstate_now_ms()) ||
	    kstate_bind_run(s, 7, run_id))
		return kstate_bind_err(st);
	return kstate_step_done(st, s, "recording a component");
}
