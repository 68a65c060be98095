/*
 * sched_record.c - the state database write-behind queue: the I/O
 * callbacks queue what happened (results, hosts, restarts owed, components
 * seen) and a low-priority event commits the whole tick in one transaction
 * after every I/O callback of the tick has run.  The tick's report lines
 * wait in the same queue and are printed after the commit: what the
 * operator saw done is in the state even after a kill -9.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "err.h"
#include "wire.h"
#include "engine/sched-int.h"
#include "state_hostkey.h"
#include "state_lock.h"
#include "state_record.h"

static void
rec_free(struct rec *r)
{
	if (r == NULL)
		return;
	free(r->host);
	free(r->task_key);
	free(r->module);
	free(r->digest);
	free(r->step);
	free(r->message);
	free(r->diff);
	free(r->address);
	free(r->facts);
	free(r->hostkey);
	free(r->hostkey_type);
	free(r);
}

void
rec_free_list(struct rec *r)
{
	struct rec *next;

	for (; r != NULL; r = next) {
		next = r->next;
		rec_free(r);
	}
}

struct rec *
rec_add(struct sched *s, enum rec_kind kind, const char *host)
{
	struct rec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->host = strdup(host)) == NULL) {
		free(r);
		s->fatal = KORCH_ERR_ALLOC;
		return NULL;
	}
	r->kind = kind;
	*s->recs_tail = r;
	s->recs_tail = &r->next;
	/* Commit at the end of this loop iteration, after the I/O. */
	if (!event_pending(s->flush_ev, EV_TIMEOUT, NULL))
		event_active(s->flush_ev, EV_TIMEOUT, 0);
	return r;
}

static int
rec_apply(struct sched *s, const struct rec *r)
{
	struct kstate_result kr;
	int rc;

	switch (r->kind) {
	case R_RESULT:
		memset(&kr, 0, sizeof(kr));
		kr.run_id = s->run_id;
		kr.host = r->host;
		kr.step = r->step;
		kr.task_key = r->task_key;
		kr.module = r->module;
		kr.desired_digest = r->digest;
		kr.status = (enum kstate_status)r->status;
		kr.changed = r->status == KP_ST_CHANGED;
		kr.message = r->message;
		kr.diff = r->diff;
		kr.started_at = r->started_ms;
		kr.duration_ms = r->duration_ms;
		return kstate_record_result(s->st, &kr);
	case R_HOST:
		if ((rc = kstate_record_host(s->st, s->run_id, r->host,
		    r->address, r->facts, NULL, r->reachable,
		    r->message)) != 0 || r->hostkey == NULL)
			return rc;
		return kstate_hostkey_pin(s->st, r->host, r->hostkey_type,
		    r->hostkey);
	case R_RUN_HOST:
		return kstate_record_run_host(s->st, s->run_id, r->host,
		    r->outcome, r->c.ok, r->c.changed, r->c.failed,
		    r->c.skipped, r->message);
	case R_PENDING_SET:
		return kstate_pending_restart_set(s->st, r->host, r->task_key,
		    r->message, s->run_id);
	case R_PENDING_CLEAR:
		return kstate_pending_restart_clear(s->st, r->host,
		    r->task_key);
	case R_COMPONENT:
		/* step: component, digest: desired, message: observed,
		 * diff: active (a rec's fields, reused). */
		return kstate_record_component(s->st, s->run_id, r->host,
		    r->step, r->digest, r->message, r->diff);
	case R_SAY:
		return KORCH_OK;
	}
	return KORCH_ERR_INTERNAL;
}

/* One transaction for everything this tick produced. */
void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	struct rec *r;
	int rc = 0, rows = 0;

	if (s->recs == NULL)
		return;
	for (r = s->recs; r != NULL; r = r->next)
		rows += r->kind != R_SAY;
	if (rows > 0 && (rc = kstate_batch_begin(s->st)) == 0) {
		for (r = s->recs; r != NULL && rc == 0; r = r->next)
			rc = rec_apply(s, r);
		if (rc == 0)
			rc = kstate_batch_commit(s->st);
		else
			(void)kstate_batch_rollback(s->st);
	}
	/* Shown even when the commit failed: the hosts did it, and the run
	 * stops saying the state could not record it. */
	for (r = s->recs; r != NULL; r = r->next)
		if (r->kind == R_SAY && r->task_key != NULL)
			report_task(s->rep, r->host, r->task_key, r->status,
			    r->message, r->diff);
	rec_free_list(s->recs);
	s->recs = NULL;
	s->recs_tail = &s->recs;
	if (rc != 0 && !s->fatal) {
		s->fatal = rc;
		snprintf(s->fatal_msg, sizeof(s->fatal_msg),
		    "cannot record results: %s", kstate_errmsg(s->st));
		event_base_loopbreak(s->base);
	}
}
