/*
 * sched_result.c - what the agent's answers mean: each task's result
 * counted, reported, noted for the recap and queued for the state (with the
 * restarts a change makes owed, and the components an observe task saw),
 * and each step's end settling its DAG node.
 */
#ifdef KORCH_TEST_HOOKS
#include <signal.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "err.h"
#include "modspec.h"
#include "wire.h"
#include "engine/render.h"
#include "spec/playbook.h"
#include "engine/sched-int.h"

static void
note_task(struct shost *h, const char *key, int status, const char *msg)
{
	struct task_note *n;

	n = realloc(h->notes, (h->nnotes + 1) * sizeof(*n));
	if (n == NULL)
		return;
	h->notes = n;
	n = &h->notes[h->nnotes];
	n->key = xstrdup(key);
	n->status = status;
	n->message = xstrdup(msg);
	if (n->key != NULL)
		h->nnotes++;
	else
		free(n->message);
}

/*
 * The agent knows tasks by number: a service it restarted says "(task 4
 * changed)".  Say which task that is, in the playbook's words.  Returns
 * msg itself or buf.
 */
static const char *
name_tasks(const struct rendered_host *rh, const char *msg, char *buf,
    size_t len)
{
	const struct rendered_task *w;
	const char *p;
	unsigned id;
	int n = -1;

	/* %n is set only when the whole pattern matched.  Only one-line
	 * messages say it (a diagnosis would not fit buf). */
	if (msg == NULL || strchr(msg, '\n') != NULL ||
	    (p = strstr(msg, "(task ")) == NULL ||
	    sscanf(p, "(task %u changed)%n", &id, &n) != 1 || n < 0 ||
	    (w = render_find_task(rh, id, NULL)) == NULL)
		return msg;
	snprintf(buf, len, "%.*s(%s changed)%s", (int)(p - msg), msg, w->key,
	    p + n);
	return buf;
}

/* An observe task's "version=V active=A": what the host runs, for status. */
static void
record_component(struct shost *h, const struct rendered_task *t,
    const char *msg)
{
	char version[64], active[32];
	struct rec *r;

	if (sscanf(msg, "version=%63s active=%31s", version, active) != 2)
		return;
	if ((r = rec_add(h->s, R_COMPONENT, h->name)) == NULL)
		return;
	r->step = xstrdup(render_task_arg(t, "component"));
	r->digest = xstrdup(render_task_arg(t, "desired"));
	r->message = xstrdup(version);
	r->diff = xstrdup(active);
}

/*
 * A change that a service watches must restart it even if this run
 * dies before the service task runs: remember it until the service
 * task has run.
 */
static void
record_restarts(struct shost *h, const struct rendered_task *t, int status)
{
	struct sched *s = h->s;
	struct rec *r;
	size_t i;

	if (status == KP_ST_CHANGED) {
		for (i = 0; i < t->nwatchers; i++) {
			/* The agent remembers only within its session: a host
			 * parked before the service's step must still restart
			 * it when it comes back. */
			(void)render_task_set_arg(h->rh, t->watchers[i],
			    "restart", "1");
			if ((r = rec_add(s, R_PENDING_SET, h->name)) == NULL)
				return;
			r->task_key = xstrdup(t->watchers[i]);
			r->message = xstrdup(t->key);
		}
	}
	if ((t->mod->flags & KMS_M_RESTARTS) &&
	    (status == KP_ST_OK || status == KP_ST_CHANGED)) {
		if ((r = rec_add(s, R_PENDING_CLEAR, h->name)) == NULL)
			return;
		r->task_key = xstrdup(t->key);
	}
}

/* A result's report line: queued, printed once the tick is committed. */
static void
say_task(struct shost *h, const struct rendered_task *t,
    const struct kp_task_result *m, const char *message, const char *diff)
{
	struct rec *r;

	if ((r = rec_add(h->s, R_SAY, h->name)) == NULL)
		return;
	r->task_key = xstrdup(t->key);
	r->status = m->status;
	r->message = xstrdup(message);
	r->diff = xstrdup(diff);
}

#ifdef KORCH_TEST_HOOKS
/*
 * $KORCH_TEST_DIE_AFTER=HOST:TASK: this process is killed (SIGKILL) the
 * moment HOST reports TASK changed, before anything of it is recorded:
 * the window in which a host has changed and the controller cannot know.
 * Test builds only.
 */
static void
die_after(const struct shost *h, const struct rendered_task *t, int status)
{
	const char *e = getenv("KORCH_TEST_DIE_AFTER"), *colon;

	if (e == NULL || status != KP_ST_CHANGED ||
	    (colon = strchr(e, ':')) == NULL)
		return;
	if (strncmp(e, h->name, (size_t)(colon - e)) == 0 &&
	    h->name[colon - e] == '\0' && strcmp(colon + 1, t->key) == 0)
		(void)raise(SIGKILL);
}
#endif

void
on_task_result(struct shost *h, const struct kp_task_result *m)
{
	struct sched *s = h->s;
	const struct rendered_task *t;
	const struct rendered_step *rs;
	const char *message, *diff, *s2;
	char named[512];
	struct rec *r;

	if ((t = render_find_task(h->rh, m->task_id, &rs)) == NULL) {
		host_fail(h, HS_FAILED, KORCH_ERR_BAD_FRAME,
		    "agent reported an unknown task");
		return;
	}
#ifdef KORCH_TEST_HOOKS
	die_after(h, t, m->status);
#endif
	switch (m->status) {
	case KP_ST_OK:		h->c.ok++; s->total.ok++; break;
	case KP_ST_CHANGED:	h->c.changed++; s->total.changed++; break;
	case KP_ST_FAILED:	h->c.failed++; s->total.failed++; break;
	default:		h->c.skipped++; s->total.skipped++; break;
	}
	message = name_tasks(h->rh, m->message, named, sizeof(named));
	/* Whatever the agent sent: a secret's diff is these two words, in
	 * the live view, the JSON and the database alike. */
	diff = m->diff;
	if (diff != NULL && *diff != '\0' &&
	    (s2 = render_task_arg(t, "secret")) != NULL && strcmp(s2, "1") == 0)
		diff = "secret changed";
	say_task(h, t, m, message, diff);
	if (m->status == KP_ST_CHANGED || m->status == KP_ST_FAILED)
		note_task(h, t->key, m->status, message);

	if ((t->mod->flags & KMS_M_OBSERVES) && m->status == KP_ST_OK) {
		record_component(h, t, m->message);
		return;
	}
	/* A plan's "would change" says nothing about the hosts. */
	if (s->o.check_only)
		return;
	if ((r = rec_add(s, R_RESULT, h->name)) == NULL)
		return;
	r->step = xstrdup(rs->name);
	r->task_key = xstrdup(t->key);
	r->module = xstrdup(t->wire->module);
	r->digest = xstrdup(t->digest);
	r->status = m->status;
	r->message = xstrdup(message);
	r->diff = xstrdup(diff);
	r->duration_ms = m->duration_ms;
	r->started_ms = now_ms() - m->duration_ms;
	record_restarts(h, t, m->status);
}

void
on_step_done(struct shost *h, const struct kp_step_done *m)
{
	struct sched *s = h->s;
	size_t step;

	step = (size_t)m->step_id - 1;
	if (m->step_id == 0 || step >= s->nsteps ||
	    !cell_sent(*cell(s, step, h->idx))) {
		host_fail(h, HS_FAILED, KORCH_ERR_BAD_FRAME,
		    "agent finished a step it was not sent");
		return;
	}
	/* A step it needs failed here: the agent skipped it whole, which
	 * blocks its dependents as a failure does. */
	*cell(s, step, h->idx) = m->failed > 0 ? DAG_ST_FAILED :
	    dag_node_need_failed(s->dag, step, h->idx, s->cells) ?
	    DAG_ST_SKIPPED : DAG_ST_OK;
	s->cell_gen++;
	if (m->failed > 0 && s->pb->steps[step].any_errors_fatal &&
	    !s->stopping) {
		/* A pre-flight check failed: nothing else may change. */
		s->stopping = 1;
		s->fatal_step = 1;
		report_clear_line(s->rep);
		fprintf(stderr, "korch: step %s failed on %s and is marked "
		    "any_errors_fatal: stopping the run\n",
		    s->pb->steps[step].name, h->name);
	}
	if (h->inflight > 0)
		h->inflight--;
	/* The timer times each step: the next one in flight starts now. */
	if (h->inflight == 0)
		evtimer_del(h->step_timer);
	else
		step_timer_arm(h);
	sched_pump(s);
}
