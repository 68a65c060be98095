/*
 * sched.c - the run engine; see sched.h for the shape of a run.
 *
 * All per-host state lives in struct shost; nothing here is global, so two
 * scheds could share a loop.  Side effects on the state database are
 * queued by the I/O callbacks and committed once per loop iteration by a
 * low-priority event (one transaction per tick), never inside an I/O
 * callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "buf.h"
#include "spec/bundle.h"
#include "engine/dag.h"
#include "base/diag.h"
#include "err.h"
#include "engine/fetch.h"
#include "spec/inventory.h"
#include "base/json.h"
#include "spec/playbook.h"
#include "engine/render.h"
#include "engine/report.h"
#include "engine/sched.h"
#include "ssh/ssh_session.h"
#include "state.h"
#include "state_query.h"
#include "state_record.h"
#include "engine/vars.h"
#include "wire.h"
#include "sha256hex.h"

/* Where a host is in its run. */
enum hstate {
	HS_QUEUED,	/* waiting for a free session */
	HS_CONNECTING,	/* ssh up to the agent's greeting */
	HS_STARTING,	/* START + FACTS_REQ sent, waiting for FACTS */
	HS_RUNNING,	/* steps being sent and answered */
	HS_PARKING,	/* blocked on a barrier, session closing to free a slot */
	HS_PARKED,	/* session closed, waits for a barrier and a slot */
	HS_FINISHING,	/* BYE sent, waiting for the agent to exit */
	HS_DONE,	/* every step answered */
	HS_FAILED,	/* lost mid-run, agent error, or a step timed out */
	HS_UNREACHABLE,	/* never got to the agent */
	HS_EXCLUDED,	/* not in --limit */
};

static const char *const hstate_names[] = {
	"queued", "connecting", "starting", "running", "parking", "parked",
	"finishing", "done", "failed", "unreachable", "excluded",
};

/* A (step, host) cell of the DAG. */
enum cell {
	C_NA = 0,	/* the step does not apply to the host */
	C_PENDING,
	C_SENT,
	C_OK,
	C_FAILED,
	C_SKIPPED,	/* a needed step failed */
};

/* One changed or failed task, kept for --json. */
struct task_note {
	char	*key;
	int	 status;
	char	*message;
};

struct shost {
	struct sched		*s;
	size_t			 idx;		/* in the inventory */
	const char		*name;
	enum hstate		 st;
	struct ssh_conn		*conn;
	struct kbuf		*in;		/* partial frames from the agent */
	struct kbuf		*out;		/* frame encoding scratch */
	struct rendered_host	*rh;		/* after FACTS */
	unsigned		 inflight;	/* steps sent, not yet done */
	unsigned		 connects;
	struct report_counts	 c;
	int			 uploaded;
	char			*error;
	char			*facts_json;
	struct event		*step_timer;
	struct event		*blob_timer;	/* tops up a content transfer */
	struct {
		int		 fd;		/* -1: no transfer */
		uint8_t		*buf;
		uint64_t	 off, size;
		uint32_t	 reqid;
		char		 sha256[SHA256_HEX_SIZE];
	}			 blob;
	struct task_note	*notes;
	size_t			 nnotes;
	/* A fetch task's file on its way here (NULL until the first one),
	 * and the step whose fetch the controller failed though the agent
	 * counted it a change (0: none; see on_fetch_result). */
	struct fetch_rx		*fetch;
	uint32_t		 fetch_failed_step;
};

/* A queued side effect on the state database. */
enum rec_kind { R_RESULT, R_HOST, R_RUN_HOST, R_PENDING_SET, R_PENDING_CLEAR,
    R_COMPONENT };

struct rec {
	enum rec_kind	 kind;
	struct rec	*next;
	char		*host, *task_key, *module, *digest, *step;
	char		*message, *diff, *address, *facts, *hostkey;
	int		 status, reachable;
	int64_t		 started_ms, duration_ms;
	struct report_counts c;
	enum kstate_outcome outcome;
};

struct sched {
	const struct inventory	*inv;
	const struct playbook	*pb;
	const struct dag	*dag;
	struct kstate		*st;
	int64_t			 run_id;
	const struct agent_image *img;
	struct sched_opts	 o;
	struct report		*rep;

	struct event_base	*base;
	struct ssh_bastion	*bastion;	/* one session carries every host */
	struct event		*flush_ev;
	struct event		*sigint_ev, *sigterm_ev;
	struct shost		*hosts;
	size_t			 nhosts;
	size_t			 nsteps;
	uint8_t			*cells;		/* nsteps x nhosts */
	unsigned		 active;	/* sessions open */
	int			 stopping;	/* send no more steps */
	int			 fatal_step;	/* an any_errors_fatal step failed */
	int			 interrupted;
	int			 fatal;		/* engine error (state db) */
	char			 fatal_msg[256];
	struct rec		*recs, **recs_tail;
	/* Restarts an earlier run owed (loaded before the loop starts). */
	struct kstate_pending	*pend;
	size_t			 npend;
	struct report_counts	 total;
	unsigned		 cell_gen;	/* bumped when any cell changes */
};

/* Steps travel as their playbook index + 1 (0 means "none" on the wire). */
#define WIRE_STEP_ID(step)	((uint32_t)(step) + 1)

static void host_dispatch(struct shost *);
static void host_fail(struct shost *, enum hstate, int, const char *);
static void sched_pump(struct sched *);
static int host_send(struct shost *);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint8_t *
cell(struct sched *s, size_t step, size_t host)
{
	return &s->cells[step * s->nhosts + host];
}

static void
host_set_state(struct shost *h, enum hstate st)
{
	if (getenv("KORCH_DEBUG") != NULL)
		fprintf(stderr, "debug: %s: %s -> %s\n", h->name,
		    hstate_names[h->st], hstate_names[st]);
	h->st = st;
}

static int
host_in_play(const struct shost *h)
{
	return h->st != HS_FAILED && h->st != HS_UNREACHABLE &&
	    h->st != HS_EXCLUDED;
}

static int
host_has_session(const struct shost *h)
{
	return h->st == HS_CONNECTING || h->st == HS_STARTING ||
	    h->st == HS_RUNNING || h->st == HS_PARKING ||
	    h->st == HS_FINISHING;
}

/* ---- the state database queue ----------------------------------------- */

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
	free(r);
}

static char *
xstrdup(const char *p)
{
	return p == NULL ? NULL : strdup(p);
}

static struct rec *
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
		return kstate_record_host(s->st, s->run_id, r->host,
		    r->address, r->facts, r->hostkey, r->reachable,
		    r->message);
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
	}
	return KORCH_ERR_INTERNAL;
}

/* One transaction for everything this tick produced. */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	struct rec *r, *next;
	int rc = 0;

	if (s->recs == NULL)
		return;
	if ((rc = kstate_batch_begin(s->st)) == 0) {
		for (r = s->recs; r != NULL && rc == 0; r = r->next)
			rc = rec_apply(s, r);
		if (rc == 0)
			rc = kstate_batch_commit(s->st);
		else
			(void)kstate_batch_rollback(s->st);
	}
	for (r = s->recs; r != NULL; r = next) {
		next = r->next;
		rec_free(r);
	}
	s->recs = NULL;
	s->recs_tail = &s->recs;
	if (rc != 0 && !s->fatal) {
		s->fatal = rc;
		snprintf(s->fatal_msg, sizeof(s->fatal_msg),
		    "cannot record results: %s", kstate_errmsg(s->st));
		event_base_loopbreak(s->base);
	}
}

/* ---- sending ------------------------------------------------------------ */

static int
host_send(struct shost *h)
{
	int r;

	r = ssh_conn_send(h->conn, kbuf_ptr(h->out), kbuf_len(h->out));
	kbuf_reset(h->out);
	return r;
}

/* How long the agent may take to answer START/FACTS or to exit after BYE:
 * a host that went silent (power cut, link gone without a RST) must not
 * hold the run. */
#define CONTROL_TIMEOUT_MS	60000

static void
timer_arm(struct shost *h, int ms)
{
	struct timeval tv;

	if (ms <= 0)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(h->step_timer, &tv);
}

static void
step_timer_arm(struct shost *h)
{
	timer_arm(h, h->s->o.step_timeout_ms);
}

static void
step_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shost *h = arg;
	char msg[128];

	if (h->st == HS_RUNNING)
		snprintf(msg, sizeof(msg), "a step ran longer than %d s",
		    h->s->o.step_timeout_ms / 1000);
	else
		snprintf(msg, sizeof(msg), "the agent did not answer for %d s "
		    "(%s)", CONTROL_TIMEOUT_MS / 1000, hstate_names[h->st]);
	host_fail(h, HS_FAILED, KORCH_ERR_TIMEOUT, msg);
	sched_pump(h->s);
}

/* Does h's rendered step number `step` hold a fetch task? */
static int
step_has_fetch(const struct shost *h, size_t step)
{
	const struct rendered_step *rs;
	size_t i, k;

	for (i = 0; h->rh != NULL && i < h->rh->nsteps; i++) {
		rs = &h->rh->steps[i];
		if (rs->step != step)
			continue;
		for (k = 0; k < rs->ntasks; k++)
			if (strcmp(rs->tasks[k].module, "fetch") == 0)
				return 1;
	}
	return 0;
}

/*
 * Can step rs (a rendered step of h) be sent now?  Returns 1 (yes, with the
 * local in-flight needs appended to req), 0 (wait), or -1 (never: a needed
 * step failed; skip it).
 */
static int
step_ready(struct shost *h, const struct rendered_step *rs, uint32_t *req,
    uint32_t *nreq)
{
	struct sched *s = h->s;
	const size_t *needs;
	size_t nneeds, i, k, n;
	unsigned ok, failed, inplay;
	uint8_t c;

	*nreq = 0;
	needs = dag_step_needs(s->dag, rs->step, &nneeds);
	for (i = 0; i < nneeds; i++) {
		n = needs[i];
		ok = failed = inplay = 0;
		for (k = 0; k < s->nhosts; k++) {
			c = *cell(s, n, k);
			if (c == C_NA)
				continue;
			if (c == C_OK)
				ok++;
			else if (c == C_FAILED || c == C_SKIPPED) {
				failed++;
				if (k == h->idx)
					return -1;
			} else if (host_in_play(&s->hosts[k])) {
				/* Not past a fetch: the controller may
				 * yet fail it (a bad copy), which the
				 * agent would not skip us for. */
				if (k == h->idx && c == C_SENT &&
				    !step_has_fetch(h, n)) {
					/* Same host, in flight: the agent
					 * runs it first and skips us if it
					 * fails. */
					req[(*nreq)++] =
					    WIRE_STEP_ID(n);
					continue;
				}
				inplay++;
			}
		}
		if (inplay > 0)
			return 0;
		if (ok == 0 && failed > 0)
			return -1;
	}
	return 1;
}

/* Mark a step skipped on h without sending it. */
static void
step_skip(struct shost *h, const struct rendered_step *rs)
{
	struct sched *s = h->s;
	struct rec *r;
	size_t i;

	*cell(s, rs->step, h->idx) = C_SKIPPED;
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

/* Send every step of h that is ready, in order, stopping at the first one
 * that must wait (the agent runs steps in the order it gets them). */
static void
host_dispatch(struct shost *h)
{
	struct sched *s = h->s;
	const struct rendered_step *rs;
	struct kp_step ks;
	uint32_t req[256], nreq;
	size_t i;
	int ready, r;

	if (h->st != HS_RUNNING || h->rh == NULL)
		return;
	for (i = 0; i < h->rh->nsteps && !s->stopping; i++) {
		rs = &h->rh->steps[i];
		if (*cell(s, rs->step, h->idx) != C_PENDING)
			continue;
		if (dag_step_nneeds(s->dag, rs->step) > 256)
			ready = -1;
		else
			ready = step_ready(h, rs, req, &nreq);
		if (ready < 0) {
			step_skip(h, rs);
			continue;
		}
		if (ready == 0)
			break;
		memset(&ks, 0, sizeof(ks));
		ks.id = WIRE_STEP_ID(rs->step);
		ks.name = rs->name;
		ks.requires = req;
		ks.nrequires = nreq;
		ks.tasks = rs->wire_tasks;
		ks.ntasks = (uint32_t)rs->ntasks;
		if ((r = kp_enc_step(h->out, ks.id, &ks)) != 0 ||
		    (r = host_send(h)) != 0) {
			kbuf_reset(h->out);
			host_fail(h, HS_FAILED, r, "cannot send a step");
			return;
		}
		*cell(s, rs->step, h->idx) = C_SENT;
		s->cell_gen++;
		if (h->inflight++ == 0)
			step_timer_arm(h);
	}
	if (h->inflight > 0)
		return;
	/* Nothing in flight: finished, or waiting on another host. */
	for (i = 0; i < h->rh->nsteps; i++)
		if (*cell(s, h->rh->steps[i].step, h->idx) == C_PENDING)
			break;
	if (i == h->rh->nsteps || s->stopping) {
		if (kp_enc_bye(h->out, 0) == 0)
			(void)host_send(h);
		ssh_conn_finish(h->conn);
		host_set_state(h, HS_FINISHING);
		timer_arm(h, CONTROL_TIMEOUT_MS);
	}
}

/* ---- results ------------------------------------------------------------ */

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

static void
on_task_result(struct shost *h, const struct kp_task_result *m)
{
	struct sched *s = h->s;
	const struct rendered_task *t;
	const struct rendered_step *rs;
	const char *message;
	char named[512];
	struct rec *r;
	size_t i;

	if ((t = render_find_task(h->rh, m->task_id, &rs)) == NULL) {
		host_fail(h, HS_FAILED, KORCH_ERR_BAD_FRAME,
		    "agent reported an unknown task");
		return;
	}
	switch (m->status) {
	case KP_ST_OK:		h->c.ok++; s->total.ok++; break;
	case KP_ST_CHANGED:	h->c.changed++; s->total.changed++; break;
	case KP_ST_FAILED:	h->c.failed++; s->total.failed++; break;
	default:		h->c.skipped++; s->total.skipped++; break;
	}
	message = name_tasks(h->rh, m->message, named, sizeof(named));
	report_task(s->rep, h->name, t->key, m->status, message, m->diff);
	if (m->status == KP_ST_CHANGED || m->status == KP_ST_FAILED)
		note_task(h, t->key, m->status, message);

	if (strcmp(t->wire->module, "observe") == 0 &&
	    m->status == KP_ST_OK) {
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
	r->diff = xstrdup(m->diff);
	r->duration_ms = m->duration_ms;
	r->started_ms = now_ms() - m->duration_ms;
	/*
	 * A change that a service watches must restart it even if this run
	 * dies before the service task runs: remember it until the service
	 * task has run.
	 */
	if (m->status == KP_ST_CHANGED) {
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
	if (strcmp(t->wire->module, "service") == 0 &&
	    (m->status == KP_ST_OK || m->status == KP_ST_CHANGED)) {
		if ((r = rec_add(s, R_PENDING_CLEAR, h->name)) == NULL)
			return;
		r->task_key = xstrdup(t->key);
	}
}

/* Did a step that `step` needs fail on h itself?  Then the agent skipped
 * `step` whole, and for barriers that counts as failed. */
static int
local_need_failed(struct shost *h, size_t step)
{
	const size_t *needs;
	size_t n, i;
	uint8_t c;

	needs = dag_step_needs(h->s->dag, step, &n);
	for (i = 0; i < n; i++) {
		c = *cell(h->s, needs[i], h->idx);
		if (c == C_FAILED || c == C_SKIPPED)
			return 1;
	}
	return 0;
}

/* Has a parked host a step it could run now? */
static int
host_has_ready(struct shost *h)
{
	const struct rendered_step *rs;
	uint32_t req[256], nreq;
	size_t i;

	for (i = 0; i < h->rh->nsteps; i++) {
		rs = &h->rh->steps[i];
		if (*cell(h->s, rs->step, h->idx) != C_PENDING)
			continue;
		if (dag_step_nneeds(h->s->dag, rs->step) > 256)
			return 1;	/* dispatch will skip it */
		return step_ready(h, rs, req, &nreq) != 0;
	}
	return 0;
}

static void
on_step_done(struct shost *h, const struct kp_step_done *m)
{
	struct sched *s = h->s;
	size_t step;

	step = (size_t)m->step_id - 1;
	if (m->step_id == 0 || step >= s->nsteps ||
	    *cell(s, step, h->idx) != C_SENT) {
		host_fail(h, HS_FAILED, KORCH_ERR_BAD_FRAME,
		    "agent finished a step it was not sent");
		return;
	}
	*cell(s, step, h->idx) = m->failed > 0 ? C_FAILED :
	    local_need_failed(h, step) ? C_SKIPPED : C_OK;
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

static char *
facts_to_json(const struct kp_facts *f)
{
	struct json *j;
	const char *out;
	char *res = NULL;
	uint32_t i;

	if ((j = json_new()) == NULL)
		return NULL;
	json_obj_begin(j);
	for (i = 0; i < f->n; i++)
		json_kstr(j, f->kv[i].key, f->kv[i].val);
	json_obj_end(j);
	if (json_finish(j, &out, NULL) == 0)
		res = strdup(out);
	json_free(j);
	return res;
}

static void
on_facts(struct shost *h, const struct kp_facts *f)
{
	struct sched *s = h->s;
	struct diag *d = NULL;
	struct vars *facts = NULL, *extra = NULL;
	struct rec *r;
	char msg[512];
	uint32_t i;
	int rc;

	free(h->facts_json);
	h->facts_json = facts_to_json(f);
	if ((r = rec_add(s, R_HOST, h->name)) != NULL) {
		r->address = xstrdup(s->inv->hosts[h->idx].address);
		r->facts = xstrdup(h->facts_json);
		r->hostkey = xstrdup(ssh_conn_hostkey_fp(h->conn));
		r->reachable = 1;
	}
	evtimer_del(h->step_timer);
	if (h->rh != NULL) {
		/* A parked host came back: its tasks are already rendered. */
		host_set_state(h, HS_RUNNING);
		host_dispatch(h);
		return;
	}
	if ((facts = vars_new(NULL)) == NULL || (d = diag_new()) == NULL) {
		rc = KORCH_ERR_ALLOC;
		goto fail;
	}
	for (i = 0; i < f->n; i++)
		if ((rc = vars_set(facts, f->kv[i].key, f->kv[i].val)) != 0)
			goto fail;
	if (s->o.host_vars != NULL &&
	    (rc = s->o.host_vars(s->o.host_vars_arg, h->idx, &extra)) != 0)
		goto fail;
	rc = render_host_tasks(s->pb, s->dag, s->inv, h->idx, facts, extra,
	    &h->rh, d);
	if (rc != 0)
		goto fail;
	for (i = 0; i < s->npend; i++)
		if (strcmp(s->pend[i].host, h->name) == 0)
			(void)render_task_set_arg(h->rh, s->pend[i].task_key,
			    "restart", "1");
	vars_free(facts);
	vars_free(extra);
	diag_free(d);
	host_set_state(h, HS_RUNNING);
	host_dispatch(h);
	return;
fail:
	if (d != NULL && diag_count(d) > 0)
		(void)diag_format(diag_get(d, 0), msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "cannot render tasks: %s",
		    korch_strerror(rc));
	vars_free(facts);
	vars_free(extra);
	diag_free(d);
	host_fail(h, HS_FAILED, rc, msg);
}

/*
 * The agent wants content it lacks (a bundle binary): stream the file as
 * BLOB chunks, a few at a time, topping the session's queue up as it
 * drains (a short timer checks), so a 100 MB kube-apiserver neither sits
 * in memory whole nor holds the loop.  Content korch does not have gets
 * one empty last chunk, and the agent fails that task with a clear message.
 */
#define BLOB_QUEUE_HIGH	(4u << 20)

static void
blob_end(struct shost *h)
{
	if (h->blob.fd != -1)
		close(h->blob.fd);
	h->blob.fd = -1;
	free(h->blob.buf);
	h->blob.buf = NULL;
	if (h->blob_timer != NULL)
		evtimer_del(h->blob_timer);
}

static int
blob_pump(struct shost *h)
{
	struct timeval tv = { 0, 2000 };
	struct kp_blob b;
	ssize_t n;
	int r;

	while (h->blob.fd != -1 && ssh_conn_queued(h->conn) < BLOB_QUEUE_HIGH) {
		n = read(h->blob.fd, h->blob.buf, KP_BLOB_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			n = 0;	/* the agent sees a short blob and fails */
		memset(&b, 0, sizeof(b));
		b.sha256 = h->blob.sha256;
		b.offset = h->blob.off;
		b.data = h->blob.buf;
		b.len = (uint32_t)n;
		b.last = n == 0 || h->blob.off + (uint64_t)n >= h->blob.size;
		if ((r = kp_enc_blob(h->out, h->blob.reqid, &b)) != 0 ||
		    (r = host_send(h)) != 0) {
			kbuf_reset(h->out);
			blob_end(h);
			return r;
		}
		h->blob.off += (uint64_t)n;
		if (b.last)
			blob_end(h);
	}
	if (h->blob.fd != -1)
		evtimer_add(h->blob_timer, &tv);
	return 0;
}

static void
blob_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shost *h = arg;
	int r;

	if (!host_has_session(h)) {
		blob_end(h);
		return;
	}
	if ((r = blob_pump(h)) != 0) {
		host_fail(h, HS_FAILED, r, "cannot send content to the agent");
		sched_pump(h->s);
	}
}

static int
send_blob(struct shost *h, const struct kp_frame *f)
{
	const struct bundle_component *c = NULL;
	struct kp_blob_req req;
	struct kp_blob b;
	size_t i;
	int r;

	memset(&req, 0, sizeof(req));
	if ((r = kp_dec_blob_req(f, &req)) != 0)
		return r;
	if (h->blob.fd != -1) {
		/* The agent asks for one blob at a time. */
		kp_blob_req_clear(&req);
		return KORCH_ERR_BAD_FRAME;
	}
	for (i = 0; h->s->o.bundle != NULL && i < h->s->o.bundle->ncomp; i++)
		if (strcmp(h->s->o.bundle->comp[i].sha256, req.sha256) == 0)
			c = &h->s->o.bundle->comp[i];
	for (i = 0; c == NULL && i < h->s->o.nextra_blobs; i++)
		if (strcmp(h->s->o.extra_blobs[i].sha256, req.sha256) == 0)
			c = &h->s->o.extra_blobs[i];
	if (c == NULL || (h->blob.buf = malloc(KP_BLOB_CHUNK)) == NULL ||
	    (h->blob.fd = open(c->path, O_RDONLY | O_CLOEXEC)) == -1) {
		blob_end(h);
		memset(&b, 0, sizeof(b));
		b.sha256 = req.sha256;
		b.last = 1;
		r = kp_enc_blob(h->out, f->reqid, &b);
		if (r == 0)
			r = host_send(h);
		kbuf_reset(h->out);
		kp_blob_req_clear(&req);
		return r;
	}
	snprintf(h->blob.sha256, sizeof(h->blob.sha256), "%s", c->sha256);
	h->blob.off = 0;
	h->blob.size = c->size;
	h->blob.reqid = f->reqid;
	kp_blob_req_clear(&req);
	return blob_pump(h);
}

/*
 * A chunk of a fetch task's file, written through to <dest>.part by
 * fetch.c.  Only a fetch task of a step in flight here may send one, and
 * never in a plan (the agent sends nothing in check mode).
 */
static int
on_fetch_data(struct shost *h, const struct kp_frame *f)
{
	const struct rendered_task *t;
	const struct rendered_step *rs = NULL;
	struct kp_fetch_data d;
	int r;

	if ((h->st != HS_RUNNING && h->st != HS_PARKING) ||
	    h->s->o.check_only)
		return KORCH_ERR_BAD_FRAME;
	if ((r = kp_dec_fetch_data(f, &d)) != 0)
		return r;
	t = render_find_task(h->rh, d.task_id, &rs);
	if (t == NULL || strcmp(t->module, "fetch") != 0 ||
	    WIRE_STEP_ID(rs->step) != d.step_id ||
	    *cell(h->s, rs->step, h->idx) != C_SENT)
		r = KORCH_ERR_BAD_FRAME;
	else if (h->fetch == NULL && (h->fetch = fetch_rx_new()) == NULL)
		r = KORCH_ERR_ALLOC;
	else
		r = fetch_rx_data(h->fetch, &d, render_task_arg(t, "dest"),
		    render_task_arg(t, "max_size"));
	kp_fetch_data_clear(&d);
	return r;
}

/*
 * Before a TASK_RESULT is recorded: a fetch task's copy is kept only when
 * whole and matching the sha256 the agent reports, else fetch.c turns the
 * result into failed.  The agent still counts that task a change, so its
 * STEP_DONE is corrected (on_frame); the step's dependents were held back
 * (step_ready), so none of them ran.
 */
static int
on_fetch_result(struct shost *h, struct kp_task_result *tr)
{
	const struct rendered_task *t = NULL;
	const char *dest = NULL;
	int was = tr->status, r;

	if (h->rh != NULL)
		t = render_find_task(h->rh, tr->task_id, NULL);
	if (t != NULL && strcmp(t->module, "fetch") == 0 &&
	    !h->s->o.check_only)
		dest = render_task_arg(t, "dest");
	if (h->fetch == NULL) {
		if (dest == NULL)
			return 0;	/* never a transfer: nothing to check */
		if ((h->fetch = fetch_rx_new()) == NULL)
			return KORCH_ERR_ALLOC;
	}
	if ((r = fetch_rx_result(h->fetch, dest, tr)) != 0)
		return r;
	if (was != KP_ST_FAILED && tr->status == KP_ST_FAILED)
		h->fetch_failed_step = tr->step_id;
	return 0;
}

/* Decode and handle one frame; KORCH_ERR_* ends the host. */
static int
on_frame(struct shost *h, const struct kp_frame *f)
{
	struct kp_hello hello;
	struct kp_facts facts;
	struct kp_task_result tr;
	struct kp_step_done sd;
	struct kp_error er;
	char msg[512];
	int r;

	memset(&hello, 0, sizeof(hello));
	memset(&facts, 0, sizeof(facts));
	memset(&tr, 0, sizeof(tr));
	memset(&er, 0, sizeof(er));
	switch (f->type) {
	case KP_HELLO:
		if ((r = kp_dec_hello(f, &hello)) != 0)
			return r;
		if (hello.version != KP_VERSION) {
			snprintf(msg, sizeof(msg), "agent speaks protocol %u, "
			    "korch speaks %u", hello.version, KP_VERSION);
			kp_hello_clear(&hello);
			host_fail(h, HS_FAILED, KORCH_ERR_VERSION, msg);
			return 0;
		}
		kp_hello_clear(&hello);
		return 0;
	case KP_FACTS:
		if (h->st != HS_STARTING)
			return KORCH_ERR_BAD_FRAME;
		if ((r = kp_dec_facts(f, &facts)) != 0)
			return r;
		on_facts(h, &facts);
		kp_facts_clear(&facts);
		return 0;
	case KP_TASK_RESULT:
		if (h->st != HS_RUNNING && h->st != HS_FINISHING &&
		    h->st != HS_PARKING)
			return KORCH_ERR_BAD_FRAME;
		if ((r = kp_dec_task_result(f, &tr)) != 0)
			return r;
		if ((r = on_fetch_result(h, &tr)) != 0) {
			kp_task_result_clear(&tr);
			return r;
		}
		on_task_result(h, &tr);
		kp_task_result_clear(&tr);
		return 0;
	case KP_STEP_DONE:
		if ((r = kp_dec_step_done(f, &sd)) != 0)
			return r;
		/* A fetch the controller failed fails its step, whatever
		 * the agent counted. */
		if (h->fetch_failed_step != 0 &&
		    sd.step_id == h->fetch_failed_step) {
			sd.failed++;
			if (sd.changed > 0)
				sd.changed--;
			h->fetch_failed_step = 0;
		}
		on_step_done(h, &sd);
		return 0;
	case KP_BLOB_REQ:
		return send_blob(h, f);
	case KP_FETCH_DATA:
		return on_fetch_data(h, f);
	case KP_ERROR:
		if ((r = kp_dec_error(f, &er)) != 0)
			return r;
		snprintf(msg, sizeof(msg), "agent error: %s", er.message);
		kp_error_clear(&er);
		host_fail(h, HS_FAILED, KORCH_ERR_AGENT, msg);
		return 0;
	}
	return KORCH_ERR_BAD_FRAME;
}

/* ---- connection callbacks ------------------------------------------------ */

static void
conn_ready(struct ssh_conn *c, void *arg)
{
	struct shost *h = arg;
	struct kp_start start;
	int r;

	h->uploaded |= ssh_conn_uploaded(c);
	start.version = KP_VERSION;
	start.flags = h->s->o.check_only ? KP_START_CHECK_ONLY : 0;
	if ((r = kp_enc_start(h->out, 0, &start)) != 0 ||
	    (r = kp_enc_facts_req(h->out, 0)) != 0 ||
	    (r = host_send(h)) != 0) {
		kbuf_reset(h->out);
		host_fail(h, HS_FAILED, r, "cannot start the agent session");
		sched_pump(h->s);
		return;
	}
	host_set_state(h, HS_STARTING);
	timer_arm(h, CONTROL_TIMEOUT_MS);
}

static void
conn_data(struct ssh_conn *c, const uint8_t *p, size_t n, void *arg)
{
	struct shost *h = arg;
	struct kp_frame f;
	size_t used;
	char msg[160];
	int r;

	if ((r = kbuf_put(h->in, p, n)) != 0) {
		host_fail(h, HS_FAILED, r, "agent sent more than a frame");
		sched_pump(h->s);
		return;
	}
	while (host_has_session(h)) {
		memset(&f, 0, sizeof(f));
		r = kp_frame_parse(kbuf_ptr(h->in), kbuf_len(h->in), &f,
		    &used);
		if (r == KORCH_ERR_INCOMPLETE)
			break;
		if (r == 0)
			r = on_frame(h, &f);
		if (r != 0) {
			snprintf(msg, sizeof(msg), "bad message from agent "
			    "(%s, frame type %s)", korch_strerror(r),
			    kp_type_name(f.type));
			host_fail(h, HS_FAILED, r, msg);
			break;
		}
		if (host_has_session(h) || h->st == HS_DONE)
			(void)kbuf_consume(h->in, used);
	}
	sched_pump(h->s);
}

static void
conn_gone(struct ssh_conn *c, int err, const char *msg, void *arg)
{
	struct shost *h = arg;
	struct sched *s = h->s;

	ssh_conn_free(h->conn);
	h->conn = NULL;
	s->active--;
	blob_end(h);
	fetch_rx_abort(h->fetch);	/* a copy cut short is no copy */
	h->fetch_failed_step = 0;
	kbuf_reset(h->in);
	evtimer_del(h->step_timer);
	switch (h->st) {
	case HS_FINISHING:
		host_set_state(h, HS_DONE);
		break;
	case HS_PARKING:
		host_set_state(h, HS_PARKED);
		break;
	case HS_CONNECTING:
		/* Never reached the agent: unreachable; but a parked host
		 * coming back has already changed things: failed. */
		host_fail(h, h->rh != NULL ? HS_FAILED : HS_UNREACHABLE,
		    err ? err : KORCH_ERR_EOF, msg ? msg : "connection closed");
		break;
	default:
		host_fail(h, HS_FAILED, err ? err : KORCH_ERR_EOF,
		    msg && *msg ? msg : "the agent exited unexpectedly");
		break;
	}
	sched_pump(s);
}

static const struct ssh_conn_cbs conn_cbs = {
	conn_ready, conn_data, conn_gone
};

static void
host_connect(struct shost *h)
{
	struct sched *s = h->s;
	const struct inventory *inv = s->inv;
	const struct inv_host *ih = &inv->hosts[h->idx];
	struct ssh_target t;
	int r;

	memset(&t, 0, sizeof(t));
	t.name = ih->name;
	t.address = ih->address;
	t.port = ih->port;
	t.user = ih->user;
	t.private_key = inv->ssh.private_key;
	t.known_hosts = inv->ssh.known_hosts;
	t.accept_new = s->o.accept_new;
	t.become_sudo = inv->ssh.become_sudo;
	t.connect_timeout_ms = inv->ssh.connect_timeout * 1000;
	t.auth_timeout_ms = inv->ssh.connect_timeout * 1000 + 60000;
	t.bastion = s->bastion;
	h->connects++;
	host_set_state(h, HS_CONNECTING);
	s->active++;
	r = ssh_conn_start(s->base, &t, s->img, &conn_cbs, h, &h->conn);
	if (r != 0) {
		s->active--;
		host_fail(h, HS_UNREACHABLE, r, korch_strerror(r));
	}
}

/* ---- the whole run ------------------------------------------------------- */

static void
host_fail(struct shost *h, enum hstate st, int err, const char *msg)
{
	struct sched *s = h->s;
	struct rec *r;
	size_t i;
	uint8_t *c;

	if (h->st == HS_FAILED || h->st == HS_UNREACHABLE)
		return;
	/* A host that never ran anything is unreachable, whatever broke. */
	if (h->rh == NULL && st == HS_FAILED &&
	    (h->st == HS_CONNECTING || h->st == HS_STARTING))
		st = h->st == HS_CONNECTING ? HS_UNREACHABLE : HS_FAILED;
	free(h->error);
	h->error = xstrdup(msg);
	if (h->conn != NULL) {
		ssh_conn_free(h->conn);
		h->conn = NULL;
		s->active--;
	}
	blob_end(h);
	fetch_rx_abort(h->fetch);
	evtimer_del(h->step_timer);
	host_set_state(h, st);
	/* Everything it had not finished is failed: barriers stop waiting. */
	for (i = 0; i < s->nsteps; i++) {
		c = cell(s, i, h->idx);
		if (*c == C_PENDING || *c == C_SENT)
			*c = C_FAILED;
	}
	h->inflight = 0;
	report_host_done(s->rep, h->name, st == HS_UNREACHABLE, msg);
	if ((r = rec_add(s, R_HOST, h->name)) != NULL) {
		r->address = xstrdup(s->inv->hosts[h->idx].address);
		r->reachable = st != HS_UNREACHABLE;
		r->message = xstrdup(msg);
		r->hostkey = NULL;
	}
	(void)err;
}

static int
host_pending_steps(struct shost *h)
{
	size_t i;

	for (i = 0; i < h->s->nsteps; i++)
		if (*cell(h->s, i, h->idx) == C_PENDING)
			return 1;
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
static void
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
				if (kp_enc_bye(h->out, 0) == 0)
					(void)host_send(h);
				ssh_conn_finish(h->conn);
				host_set_state(h, HS_PARKING);
				timer_arm(h, CONTROL_TIMEOUT_MS);
				break;
			}
		}
	}
	report_progress(s->rep, done, running, &s->total);
	if (running == 0 && (queued == 0 || s->stopping))
		event_base_loopexit(s->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sched *s = arg;

	s->interrupted = 1;
	if (s->stopping) {
		event_base_loopbreak(s->base);
		return;
	}
	s->stopping = 1;
	report_clear_line(s->rep);
	fprintf(stderr, "korch: %s: finishing the running steps "
	    "(again to stop at once)\n", sig == SIGINT ? "interrupt" :
	    "terminated");
	sched_pump(s);
}

static int
limit_has(const char *limit, const char *name)
{
	const char *p = limit, *e;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		e = strchr(p, ',');
		if ((size_t)(e ? e - p : (ptrdiff_t)strlen(p)) == n &&
		    strncmp(p, name, n) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

static int
step_selected(const char *const *steps, const char *name)
{
	if (steps == NULL)
		return 1;
	for (; *steps != NULL; steps++)
		if (strcmp(*steps, name) == 0)
			return 1;
	return 0;
}

int
sched_new(const struct inventory *inv, const struct playbook *pb,
    const struct dag *dag, struct kstate *st, int64_t run_id,
    const struct agent_image *img, const struct sched_opts *opts,
    struct report *rep, struct sched **out, char *msg, size_t msglen)
{
	struct sched *s;
	struct shost *h;
	const char *p, *e;
	size_t i, k;
	int r = KORCH_ERR_ALLOC;

	*out = NULL;
	if (opts->limit != NULL && strspn(opts->limit, ",") ==
	    strlen(opts->limit)) {
		snprintf(msg, msglen, "--limit names no host");
		return KORCH_ERR_INVALID_ARG;
	}
	/* Every name in --limit must be a host: a typo must not silently
	 * converge nothing. */
	for (p = opts->limit; p != NULL && *p != '\0'; p = e ? e + 1 : NULL) {
		e = strchr(p, ',');
		for (k = 0; k < inv->nhosts; k++) {
			size_t n = e ? (size_t)(e - p) : strlen(p);
			if (strlen(inv->hosts[k].name) == n &&
			    strncmp(inv->hosts[k].name, p, n) == 0)
				break;
		}
		if (k == inv->nhosts) {
			snprintf(msg, msglen, "--limit names a host that is "
			    "not in the inventory: %.*s",
			    (int)(e ? e - p : (ptrdiff_t)strlen(p)), p);
			return KORCH_ERR_INVALID_ARG;
		}
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return KORCH_ERR_ALLOC;
	s->inv = inv;
	s->pb = pb;
	s->dag = dag;
	s->st = st;
	s->run_id = run_id;
	s->img = img;
	s->o = *opts;
	if (s->o.forks == 0)
		s->o.forks = 64;
	s->rep = rep;
	s->recs_tail = &s->recs;
	s->nhosts = inv->nhosts;
	s->nsteps = dag_nsteps(dag);
	if ((s->base = event_base_new()) == NULL ||
	    event_base_priority_init(s->base, 3) != 0)
		goto fail;
	if (inv->ssh.bastion.address != NULL) {
		struct ssh_target bt;

		memset(&bt, 0, sizeof(bt));
		bt.name = "bastion";
		bt.address = inv->ssh.bastion.address;
		bt.port = inv->ssh.bastion.port;
		bt.user = inv->ssh.bastion.user;
		bt.private_key = inv->ssh.private_key;
		bt.known_hosts = inv->ssh.known_hosts;
		bt.accept_new = opts->accept_new;
		bt.connect_timeout_ms = inv->ssh.connect_timeout * 1000;
		bt.auth_timeout_ms = inv->ssh.connect_timeout * 1000 + 30000;
		/* sshd's MaxStartups defaults to 10: stay under it. */
		if ((r = ssh_bastion_new(s->base, &bt, 8, &s->bastion)) != 0) {
			snprintf(msg, msglen, "bastion %s: %s",
			    bt.address, korch_strerror(r));
			goto fail;
		}
		r = KORCH_ERR_ALLOC;
	}
	/* I/O events get the middle priority (libevent's default): the
	 * flush, lowest, runs after every I/O callback of the tick. */
	if ((s->flush_ev = event_new(s->base, -1, 0, flush_cb, s)) == NULL ||
	    event_priority_set(s->flush_ev, 2) != 0)
		goto fail;
	if ((s->sigint_ev = evsignal_new(s->base, SIGINT, signal_cb, s)) ==
	    NULL || (s->sigterm_ev = evsignal_new(s->base, SIGTERM,
	    signal_cb, s)) == NULL)
		goto fail;
	if ((s->hosts = calloc(s->nhosts ? s->nhosts : 1,
	    sizeof(*s->hosts))) == NULL)
		goto fail;
	if ((s->cells = calloc(s->nsteps * s->nhosts + 1, 1)) == NULL)
		goto fail;
	if ((r = kstate_pending_restarts_list(st, NULL, &s->pend,
	    &s->npend)) != 0) {
		snprintf(msg, msglen, "%s", kstate_errmsg(st));
		goto fail;
	}
	r = KORCH_ERR_ALLOC;
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		h->s = s;
		h->idx = i;
		h->blob.fd = -1;
		h->name = inv->hosts[i].name;
		if ((h->in = kbuf_new(KP_MAX_FRAME + KP_HDR_LEN + 4)) == NULL ||
		    (h->out = kbuf_new(64u << 20)) == NULL ||
		    (h->step_timer = evtimer_new(s->base, step_timer_cb,
		    h)) == NULL ||
		    (h->blob_timer = evtimer_new(s->base, blob_timer_cb,
		    h)) == NULL)
			goto fail;
		if (opts->limit != NULL && !limit_has(opts->limit, h->name)) {
			h->st = HS_EXCLUDED;
			continue;
		}
		for (k = 0; k < s->nsteps; k++)
			if (dag_applies(dag, k, i) &&
			    step_selected(opts->steps, pb->steps[k].name))
				*cell(s, k, i) = C_PENDING;
	}
	*out = s;
	return 0;
fail:
	sched_free(s);
	return r;
}

void
sched_free(struct sched *s)
{
	struct shost *h;
	struct rec *r, *next;
	size_t i, k;

	if (s == NULL)
		return;
	for (i = 0; s->hosts != NULL && i < s->nhosts; i++) {
		h = &s->hosts[i];
		ssh_conn_free(h->conn);
		kbuf_free(h->in);
		kbuf_free(h->out);
		if (h->step_timer != NULL)
			event_free(h->step_timer);
		if (h->s != NULL)	/* initialised */
			blob_end(h);
		fetch_rx_free(h->fetch);
		if (h->blob_timer != NULL)
			event_free(h->blob_timer);
		rendered_host_free(h->rh);
		free(h->error);
		free(h->facts_json);
		for (k = 0; k < h->nnotes; k++) {
			free(h->notes[k].key);
			free(h->notes[k].message);
		}
		free(h->notes);
	}
	for (r = s->recs; r != NULL; r = next) {
		next = r->next;
		rec_free(r);
	}
	/* After its hosts: they ride on it. */
	ssh_bastion_free(s->bastion);
	free(s->hosts);
	free(s->cells);
	kstate_pending_restarts_free(s->pend, s->npend);
	if (s->flush_ev != NULL)
		event_free(s->flush_ev);
	if (s->sigint_ev != NULL)
		event_free(s->sigint_ev);
	if (s->sigterm_ev != NULL)
		event_free(s->sigterm_ev);
	if (s->base != NULL)
		event_base_free(s->base);
	free(s);
}

int
sched_run(struct sched *s)
{
	struct shost *h;
	struct rec *r;
	size_t i;
	enum kstate_outcome outcome;

	if (!s->o.no_signals) {
		event_add(s->sigint_ev, NULL);
		event_add(s->sigterm_ev, NULL);
	}
	sched_pump(s);
	if (!s->fatal)
		event_base_dispatch(s->base);
	/* Interrupted at once, or the engine broke: whoever still runs is
	 * cut off, and says so in the state. */
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (host_has_session(h) || h->st == HS_QUEUED ||
		    h->st == HS_PARKED)
			host_fail(h, HS_FAILED, KORCH_ERR_INTERRUPTED,
			    h->st == HS_QUEUED ? "not started: interrupted" :
			    "interrupted");
	}
	/* A host stopped early (Ctrl-C, a fatal pre-flight failure) has
	 * steps it never ran: it did not converge. */
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_DONE && host_pending_steps(h))
			host_fail(h, HS_FAILED, 0, s->fatal_step ?
			    "not converged: a pre-flight step failed" :
			    "not converged: the run was interrupted");
	}
	for (i = 0; i < s->nhosts && !s->fatal; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		outcome = h->st == HS_UNREACHABLE ? KSTATE_HOST_UNREACHABLE :
		    (h->st == HS_FAILED || h->c.failed) ? KSTATE_HOST_FAILED :
		    KSTATE_HOST_CONVERGED;
		if ((r = rec_add(s, R_RUN_HOST, h->name)) == NULL)
			break;
		r->outcome = outcome;
		r->c = h->c;
		r->message = xstrdup(h->error);
	}
	flush_cb(-1, 0, s);
	event_del(s->sigint_ev);
	event_del(s->sigterm_ev);
	if (s->fatal) {
		fprintf(stderr, "korch: %s\n", s->fatal_msg[0] ?
		    s->fatal_msg : korch_strerror(s->fatal));
		return s->fatal;
	}
	return s->interrupted ? KORCH_ERR_INTERRUPTED : 0;
}

void
sched_outcome(const struct sched *s, unsigned *hosts, unsigned *failed,
    unsigned *unreachable, unsigned *changed)
{
	const struct shost *h;
	size_t i;

	*hosts = *failed = *unreachable = *changed = 0;
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		(*hosts)++;
		*changed += h->c.changed;
		if (h->st == HS_UNREACHABLE)
			(*unreachable)++;
		else if (h->st != HS_DONE || h->c.failed > 0)
			(*failed)++;
	}
}

enum sched_host_result
sched_host_result(const struct sched *s, size_t host, const char **why,
    const char **task)
{
	const struct shost *h = &s->hosts[host];
	size_t k;

	*why = *task = NULL;
	if (h->st == HS_EXCLUDED)
		return SCHED_HOST_EXCLUDED;
	if (h->st == HS_DONE && h->c.failed == 0)
		return SCHED_HOST_OK;
	*why = h->error;
	for (k = 0; k < h->nnotes && *why == NULL; k++)
		if (h->notes[k].status == KP_ST_FAILED) {
			*why = h->notes[k].message;
			*task = h->notes[k].key;
		}
	return h->st == HS_UNREACHABLE ? SCHED_HOST_UNREACHABLE :
	    SCHED_HOST_FAILED;
}

void
sched_recap(const struct sched *s)
{
	const struct shost *h;
	size_t i, k;

	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		report_recap_host(s->rep, h->name, &h->c,
		    h->st == HS_UNREACHABLE, h->error);
		/* Why, under it: the end of the output is where one looks. */
		if (h->error != NULL)
			report_recap_failure(s->rep, NULL, h->error);
		for (k = 0; k < h->nnotes; k++)
			if (h->notes[k].status == KP_ST_FAILED)
				report_recap_failure(s->rep, h->notes[k].key,
				    h->notes[k].message);
	}
}

void
sched_json_hosts(const struct sched *s, struct json *j)
{
	const struct shost *h;
	size_t i, k;

	json_key(j, "hosts");
	json_arr_begin(j);
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		json_obj_begin(j);
		json_kstr(j, "name", h->name);
		json_kstr(j, "address", s->inv->hosts[i].address);
		json_kint(j, "ok", h->c.ok);
		json_kint(j, "changed", h->c.changed);
		json_kint(j, "failed", h->c.failed);
		json_kint(j, "skipped", h->c.skipped);
		json_kbool(j, "unreachable", h->st == HS_UNREACHABLE);
		json_kstr(j, "state", hstate_names[h->st]);
		json_kstr(j, "error", h->error);
		json_kbool(j, "agent_uploaded", h->uploaded);
		json_key(j, "tasks");
		json_arr_begin(j);
		for (k = 0; k < h->nnotes; k++) {
			json_obj_begin(j);
			json_kstr(j, "task", h->notes[k].key);
			json_kstr(j, "status",
			    kp_status_name(h->notes[k].status));
			json_kstr(j, "message", h->notes[k].message);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
}
