/*
 * record.c - what the scheduler writes while a run goes: task results,
 * observed state, hosts, per-host outcomes, pending restarts and
 * components, and the names of their enums (from names.c's lists).  All
 * of it through cached statements; one transaction per loop tick (a
 * batch).
 */
#include <string.h>

#include "err.h"
#include "state-int.h"
#include "state_record.h"

const char *
kstate_status_name(enum kstate_status s)
{
	return kstate_name(KN_STATUS, (unsigned)s);
}

int
kstate_record_result(struct kstate *st, const struct kstate_result *res)
{
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
	if (kstate_parse(KN_STATUS, kstate_status_name(res->status)) < 0 ||
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

	if (log_it && (r = kstate_exec(st, KS_RESULT_UPSERT,
	    "recording result", "ittttttdttii", res->run_id, res->host,
	    res->step, res->task_key, res->module, res->desired_digest,
	    kstate_status_name(res->status), changed, res->message, res->diff,
	    started, res->duration_ms)) != KORCH_OK)
		goto out;
	if (observe && (r = kstate_exec(st, KS_OBSERVED_UPSERT,
	    "recording observed state", "ttttdii", res->host, res->task_key,
	    res->desired_digest, obs_status, changed, at, res->run_id)) !=
	    KORCH_OK)
		goto out;
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

/* The entry checks of a call about a host. */
static int
host_enter(struct kstate *st, const char *host)
{
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	return kstate_need(st, "host name", host);
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
	int r;

	if ((r = host_enter(st, name)) != KORCH_OK)
		return r;
	if (facts_json != NULL && (r = json_check(st, name, facts_json)) !=
	    KORCH_OK)
		return r;
	return kstate_exec(st, KS_HOST_UPSERT, "recording host", "ttttrdit",
	    name, address, facts_json, hostkey_fp, run_id, reachable ? 1 : 0,
	    kstate_now_ms(), error);
}

const char *
kstate_outcome_name(enum kstate_outcome o)
{
	return kstate_name(KN_OUTCOME, (unsigned)o);
}

int
kstate_record_run_host(struct kstate *st, int64_t run_id, const char *host,
    enum kstate_outcome outcome, int ok, int changed, int failed,
    int skipped, const char *error)
{
	int r;

	if ((r = host_enter(st, host)) != KORCH_OK)
		return r;
	if (kstate_parse(KN_OUTCOME, kstate_outcome_name(outcome)) < 0 ||
	    run_id <= 0 || ok < 0 || changed < 0 || failed < 0 ||
	    skipped < 0) {
		kstate_seterr(st, "bad outcome for %s", host);
		return KORCH_ERR_INVALID_ARG;
	}
	return kstate_exec(st, KS_RUN_HOST_UPSERT, "recording host outcome",
	    "ittddddt", run_id, host, kstate_outcome_name(outcome), ok, changed,
	    failed, skipped, error);
}

/* The entry checks of a pending restart call. */
static int
pending_enter(struct kstate *st, const char *host, const char *task_key)
{
	int r;

	if ((r = host_enter(st, host)) != KORCH_OK)
		return r;
	return kstate_need(st, "task key", task_key);
}

int
kstate_pending_restart_set(struct kstate *st, const char *host,
    const char *task_key, const char *reason, int64_t run_id)
{
	int r;

	if ((r = pending_enter(st, host, task_key)) != KORCH_OK)
		return r;
	return kstate_exec(st, KS_PENDING_SET, "recording pending restart",
	    "tttri", host, task_key, reason != NULL ? reason : "", run_id,
	    kstate_now_ms());
}

int
kstate_pending_restart_clear(struct kstate *st, const char *host,
    const char *task_key)
{
	int r;

	if ((r = pending_enter(st, host, task_key)) != KORCH_OK)
		return r;
	return kstate_exec(st, KS_PENDING_CLEAR, "clearing pending restart",
	    "tt", host, task_key);
}

int
kstate_pending_restart_get(struct kstate *st, const char *host,
    const char *task_key, bool *pending)
{
	sqlite3_stmt	*s;
	int		 rc, r;

	if ((r = pending_enter(st, host, task_key)) != KORCH_OK ||
	    (r = kstate_stmt(st, KS_PENDING_GET, &s)) != KORCH_OK)
		return r;
	if (kstate_bind(s, "tt", host, task_key) != SQLITE_OK)
		return kstate_bind_err(st);
	if ((r = kstate_need(st, "result pointer", pending)) != KORCH_OK)
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
	int r;

	if ((r = host_enter(st, host)) != KORCH_OK ||
	    (r = kstate_need(st, "component", component)) != KORCH_OK ||
	    (r = kstate_need(st, "observed version", observed)) != KORCH_OK ||
	    (r = kstate_need(st, "active state", active)) != KORCH_OK)
		return r;
	return kstate_exec(st, KS_COMPONENT_UPSERT, "recording a component",
	    "tttttir", host, component, desired, observed, active,
	    kstate_now_ms(), run_id);
}

int
kstate_host_forget(struct kstate *st, const char *name)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK ||
	    (r = kstate_nonempty(st, "host name", name)) != KORCH_OK)
		return r;
	/* The host's rows elsewhere go with it (ON DELETE CASCADE). */
	if ((r = kstate_query(st, &s, "DELETE FROM hosts WHERE name = ?1",
	    "t", name)) == KORCH_OK &&
	    (r = kstate_step_done(st, s, "forgetting host")) == KORCH_OK)
		r = kstate_durable(st);
	sqlite3_finalize(s);
	return r;
}
