/*
 * sched_dispatch.c - what runs next: each running host gets every step
 * that is ready in the DAG (dag_node_ready) in its order, a step whose
 * needs failed is skipped, queued and parked hosts are started while
 * sessions are free, and a host that only waits on a barrier is parked
 * when another waits for a session.
 */
#include <string.h>

#include <event2/event.h>

#include "buf.h"
#include "modspec.h"
#include "wire.h"
#include "engine/render.h"
#include "engine/sched-int.h"

/* The most needs a STEP frame may require (kp_step.requires). */
#define MAX_REQUIRES	256

/* Mark a step skipped on h without sending it. */
static void
step_skip(struct shost *h, const struct rendered_step *rs)
{
	struct sched *s = h->s;
	struct rec *r;
	size_t i;

	*cell(s, rs->step, h->idx) = DAG_ST_SKIPPED;
	s->cell_gen++;
	for (i = 0; i < rs->ntasks; i++) {
		h->c.skipped++;
		s->total.skipped++;
		report_task(s->rep, h->name, rs->tasks[i].key, KP_ST_SKIPPED,
		    "a needed step failed", NULL);
		if (s->o.check_only)
			continue;
		if ((r = rec_add(s, R_RESULT, h->name)) == NULL)
			return;
		r->step = xstrdup(rs->name);
		r->task_key = xstrdup(rs->tasks[i].key);
		r->module = xstrdup(rs->tasks[i].module);
		r->digest = xstrdup(rs->tasks[i].digest);
		r->status = KP_ST_SKIPPED;
		r->message = xstrdup("a needed step failed");
		r->started_ms = now_ms();
	}
}

/* Does step rs hold a task that streams to the controller? */
static int
step_streams_to_controller(const struct rendered_step *rs)
{
	size_t k;

	for (k = 0; k < rs->ntasks; k++)
		if (rs->tasks[k].mod->flags & KMS_M_STREAMS_TO_CONTROLLER)
			return 1;
	return 0;
}

/* dag_node_ready() for h's step rs; a step that needs more steps than a
 * STEP frame may require is skipped. */
static enum dag_ready
node_ready(const struct shost *h, const struct rendered_step *rs)
{
	if (dag_step_nneeds(h->s->dag, rs->step) > MAX_REQUIRES)
		return DAG_BLOCKED;
	return dag_node_ready(h->s->dag, rs->step, h->idx, h->s->cells);
}

/* Send step rs to h, requiring the steps it needs that are in flight on h
 * (the agent runs them first and skips rs if one fails). */
static int
step_send(struct shost *h, const struct rendered_step *rs)
{
	struct sched *s = h->s;
	struct kp_step ks;
	size_t need[MAX_REQUIRES], n, k;
	uint32_t req[MAX_REQUIRES];
	int r;

	n = dag_node_running_needs(s->dag, rs->step, h->idx, s->cells, need,
	    MAX_REQUIRES);
	for (k = 0; k < n && k < MAX_REQUIRES; k++)
		req[k] = WIRE_STEP_ID(need[k]);
	memset(&ks, 0, sizeof(ks));
	ks.id = WIRE_STEP_ID(rs->step);
	ks.name = rs->name;
	ks.requires = req;
	ks.nrequires = (uint32_t)k;
	ks.tasks = rs->wire_tasks;
	ks.ntasks = (uint32_t)rs->ntasks;
	if ((r = kp_enc_step(h->out, ks.id, &ks)) != 0 ||
	    (r = host_send(h)) != 0) {
		kbuf_reset(h->out);
		return r;
	}
	/* Nothing is pipelined past a fetch: the controller may yet fail it
	 * (a bad copy), which the agent would not skip the next step for. */
	*cell(s, rs->step, h->idx) = step_streams_to_controller(rs) ?
	    DAG_ST_RUNNING_HELD : DAG_ST_RUNNING;
	s->cell_gen++;
	if (h->inflight++ == 0)
		step_timer_arm(h);
	return 0;
}

/* Send every step of h that is ready, in order, stopping at the first one
 * that must wait (the agent runs steps in the order it gets them). */
void
host_dispatch(struct shost *h)
{
	struct sched *s = h->s;
	const struct rendered_step *rs;
	enum dag_ready ready;
	size_t i;
	int r;

	if (h->st != HS_RUNNING || h->rh == NULL)
		return;
	for (i = 0; i < h->rh->nsteps && !s->stopping; i++) {
		rs = &h->rh->steps[i];
		if (*cell(s, rs->step, h->idx) != DAG_ST_PENDING)
			continue;
		ready = node_ready(h, rs);
		if (ready == DAG_BLOCKED) {
			step_skip(h, rs);
			continue;
		}
		if (ready != DAG_READY)
			break;
		if ((r = step_send(h, rs)) != 0) {
			host_fail(h, HS_FAILED, r, "cannot send a step");
			return;
		}
	}
	if (h->inflight > 0)
		return;
	/* Nothing in flight: finished, or waiting on another host. */
	if (!host_pending_steps(h) || s->stopping)
		host_bye(h, HS_FINISHING);
}

/* Has a parked host a step it could run (or skip) now? */
static int
host_has_ready(struct shost *h)
{
	const struct rendered_step *rs;
	size_t i;

	for (i = 0; i < h->rh->nsteps; i++) {
		rs = &h->rh->steps[i];
		if (*cell(h->s, rs->step, h->idx) != DAG_ST_PENDING)
			continue;
		return node_ready(h, rs) != DAG_WAIT;
	}
	return 0;
}

static int
host_waiting_on_barrier(const struct shost *h)
{
	return h->st == HS_RUNNING && h->inflight == 0;
}

/*
 * After anything changed: release barriers, start queued hosts while
 * sessions are free, park blocked hosts if someone waits for a session,
 * and end the loop when nobody has anything left.
 */
void
sched_pump(struct sched *s)
{
	struct shost *h;
	size_t i;
	unsigned done = 0, queued = 0, running = 0;
	int progress;

	if (s->fatal)
		return;
	do {
		progress = 0;
		for (i = 0; i < s->nhosts; i++) {
			h = &s->hosts[i];
			if (h->st == HS_RUNNING) {
				unsigned gen = s->cell_gen;
				enum hstate bst = h->st;

				host_dispatch(h);
				if (s->cell_gen != gen || h->st != bst)
					progress = 1;
			}
		}
		for (i = 0; i < s->nhosts && !s->stopping; i++) {
			h = &s->hosts[i];
			if ((h->st == HS_QUEUED || (h->st == HS_PARKED &&
			    host_has_ready(h))) && s->active < s->o.forks) {
				host_connect(h);
				progress = 1;
			}
		}
	} while (progress);

	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_QUEUED || h->st == HS_PARKED)
			queued++;
		else if (host_has_session(h))
			running++;
		else
			done++;
	}
	/* Free a session for a queued host: park one that only waits. */
	if (queued > 0 && s->active >= s->o.forks) {
		for (i = 0; i < s->nhosts; i++) {
			h = &s->hosts[i];
			if (host_waiting_on_barrier(h)) {
				host_bye(h, HS_PARKING);
				break;
			}
		}
	}
	report_progress(s->rep, done, running, &s->total);
	if (running == 0 && (queued == 0 || s->stopping))
		event_base_loopexit(s->base, NULL);
}
