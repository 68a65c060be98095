/*
 * serve.c - the agent's side of a session: greet, HELLO, then answer
 * frames one at a time with blocking reads.  One process serves one
 * session, so there is nothing to multiplex; a task that runs for minutes
 * simply holds the loop, while proc.c watches the input for a hangup (the
 * session's watch), so a controller that goes away takes its commands'
 * process groups with it.
 *
 * Any frame that breaks the protocol ends the session: the agent sends
 * ERROR with the reason and stops, because guessing at a peer's intent is
 * how a config tool changes the wrong thing.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "err.h"
#include "hostlock.h"
#include "module.h"

/* OK and skipped results of a step wait in the output buffer (see
 * send_result) while less than OUT_HOLD bytes are pending, so the buffer
 * must hold that much plus one whole frame. */
#define OUT_HOLD	(64u * 1024)
#define OUT_MAX		(KP_MAX_FRAME + 64 + OUT_HOLD)

enum serve_phase {
	PHASE_HELLO,		/* waiting for START */
	PHASE_RUNNING,		/* FACTS_REQ, STEP, BYE */
};

static int
send_error(struct agent_session *s, uint32_t reqid, int code,
    const char *msg)
{
	struct kp_error e;
	struct kbuf *out;
	int r;

	if ((out = kbuf_new(4096)) == NULL)
		return KORCH_ERR_ALLOC;
	e.code = code;
	e.message = (char *)msg;
	if ((r = kp_enc_error(out, reqid, &e)) == KORCH_OK)
		r = agent_session_send(s, out);
	kbuf_free(out);
	return r;
}

static int
greet(struct agent_session *s, struct kbuf *out, const char *self_hash)
{
	struct kp_hello h;
	int r;

	if ((r = kbuf_putf(out, "%s %d %s\n", KP_GREETING, KP_VERSION,
	    self_hash)) != KORCH_OK)
		return r;
	memset(&h, 0, sizeof(h));
	h.version = KP_VERSION;
	h.build_hash = (char *)self_hash;
	h.agent_version = (char *)KORCH_AGENT_VERSION;
	h.caps = 0;
	if ((r = kp_enc_hello(out, 0, &h)) != KORCH_OK)
		return r;
	return agent_session_send(s, out);
}

static int
do_start(struct agent_session *s, const struct kp_frame *f, char *why,
    size_t whylen)
{
	struct kp_start st;
	int r, fd;

	if ((r = kp_dec_start(f, &st)) != KORCH_OK) {
		(void)snprintf(why, whylen, "malformed START");
		return r;
	}
	if (st.version < 1 || st.version > KP_VERSION) {
		(void)snprintf(why, whylen, "protocol version %u not supported "
		    "(agent speaks 1..%d)", st.version, KP_VERSION);
		r = KORCH_ERR_VERSION;
		goto out;
	}
	/* A controller that names itself drives the host: one at a time. */
	if (st.version >= KP_VERSION_LOCK && st.ctl_host[0] != '\0') {
		if ((r = agent_hostlock_take(&st, &fd, why, whylen)) !=
		    KORCH_OK)
			goto out;
		agent_session_hold_lock(s, fd);
	}
	agent_session_set_check_only(s, (st.flags & KP_START_CHECK_ONLY) != 0);
	agent_session_set_version(s, st.version);
	r = KORCH_OK;
out:
	kp_start_clear(&st);
	return r;
}

static int
do_facts(struct agent_session *s, struct kbuf *out, uint32_t reqid)
{
	struct kp_facts facts;
	int r;

	memset(&facts, 0, sizeof(facts));
	if ((r = agent_facts_collect(&facts)) != KORCH_OK)
		goto out;
	if ((r = kp_enc_facts(out, reqid, &facts)) != KORCH_OK)
		goto out;
	r = agent_session_send(s, out);
out:
	kp_facts_clear(&facts);
	return r;
}

/* The first required step that failed, or NULL. */
static const char *
failed_requirement(struct agent_session *s, const struct kp_step *st,
    uint32_t *which)
{
	const char *name;
	uint32_t i;

	for (i = 0; i < st->nrequires; i++) {
		if ((name = agent_session_step_failed(s, st->requires[i])) !=
		    NULL) {
			*which = st->requires[i];
			return name;
		}
	}
	return NULL;
}

static int
send_result(struct agent_session *s, struct kbuf *out, uint32_t reqid,
    uint32_t step_id, const struct kp_task *t, const struct agent_outcome *o,
    long long ms, struct kp_step_done *done)
{
	struct kp_task_result tr;
	int r;

	memset(&tr, 0, sizeof(tr));
	tr.step_id = step_id;
	tr.task_id = t->id;
	tr.status = (uint8_t)o->status;
	tr.duration_ms = ms < 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)ms;
	tr.message = (char *)o->msg;
	tr.diff = (char *)o->diff;
	switch (o->status) {
	case KP_ST_OK:		done->ok++;		break;
	case KP_ST_CHANGED:	done->changed++;	break;
	case KP_ST_FAILED:	done->failed++;		break;
	default:		done->skipped++;	break;
	}
	if ((r = kp_enc_task_result(out, reqid, &tr)) != KORCH_OK)
		return r;
	/*
	 * A change or a failure goes out at once: the controller records a
	 * change that a service watches as a pending restart the moment it
	 * hears of it, so a run cut off later still restarts the service.
	 * An OK or skipped result changes nothing anyone waits for: it rides
	 * with the next write (the step's STEP_DONE at the latest).  A no-op
	 * step is then one write, one SSH packet, instead of one per task.
	 */
	if ((o->status == KP_ST_OK || o->status == KP_ST_SKIPPED) &&
	    kbuf_len(out) < OUT_HOLD)
		return KORCH_OK;
	return agent_session_send(s, out);
}

/*
 * Results held back by send_result must go out before a module that sends
 * frames of its own runs: the controller takes a fetch's data as belonging
 * to the task after the last result it has seen.
 */
static int
flush_for(struct agent_session *s, struct kbuf *out, const struct kp_task *t)
{
	const struct agent_module *m = agent_module_find(t->module);

	if (m == NULL || !(m->flags & AGENT_MOD_SENDS) || kbuf_len(out) == 0)
		return KORCH_OK;
	return agent_session_send(s, out);
}

static int
do_step(struct agent_session *s, struct kbuf *out, const struct kp_frame *f,
    char *why, size_t whylen)
{
	struct agent_outcome o;
	struct kp_step_done done;
	struct kp_step st;
	const char *req_name;
	uint32_t req_id = 0, i, failed_task = 0;
	long long t0;
	int r, failed = 0;

	if ((r = kp_dec_step(f, &st)) != KORCH_OK) {
		(void)snprintf(why, whylen, "malformed STEP");
		return r;
	}
	memset(&done, 0, sizeof(done));
	done.step_id = st.id;
	agent_session_set_reqid(s, f->reqid);
	agent_session_set_step_id(s, st.id);
	req_name = failed_requirement(s, &st, &req_id);
	for (i = 0; i < st.ntasks; i++) {
		const struct kp_task *t = &st.tasks[i];

		agent_outcome_init(&o);
		t0 = agent_now_ms();
		if (req_name != NULL) {
			agent_outcome_set(&o, KP_ST_SKIPPED, "skipped: required "
			    "step %u%s%s%s failed", req_id, *req_name ? " (" :
			    "", req_name, *req_name ? ")" : "");
		} else if (failed) {
			agent_outcome_set(&o, KP_ST_SKIPPED, "skipped: task %u "
			    "failed earlier in this step", failed_task);
		} else {
			if ((r = flush_for(s, out, t)) != KORCH_OK)
				goto out;
			r = agent_module_run(t, s, agent_session_check_only(s),
			    &o);
			if (r != KORCH_OK) {
				(void)snprintf(why, whylen, "task %u: %s", t->id,
				    korch_strerror(r));
				goto out;
			}
		}
		if (o.status == KP_ST_FAILED && !failed) {
			failed = 1;
			failed_task = t->id;
		}
		if (o.status == KP_ST_CHANGED &&
		    (r = agent_session_mark_changed(s, t->id)) != KORCH_OK)
			goto out;
		r = send_result(s, out, f->reqid, st.id, t, &o,
		    agent_now_ms() - t0, &done);
		/* The controller went away while the task ran (its children
		 * are killed): say so in case it still reads, and stop. */
		if (agent_session_closed(s)) {
			(void)agent_session_send(s, out);
			r = KORCH_ERR_EOF;
			goto out;
		}
		if (r != KORCH_OK)
			goto out;
	}
	/* A skipped-because-required step fails its own dependents too. */
	if ((failed || req_name != NULL) &&
	    (r = agent_session_mark_failed(s, st.id, st.name)) != KORCH_OK)
		goto out;
	if ((r = kp_enc_step_done(out, f->reqid, &done)) != KORCH_OK)
		goto out;
	r = agent_session_send(s, out);
out:
	kp_step_clear(&st);
	return r;
}

int
agent_serve(struct agent_session *s, const char *self_hash)
{
	enum serve_phase phase = PHASE_HELLO;
	struct kbuf *out = NULL;
	struct kp_frame f;
	char why[256];
	uint32_t reqid = 0;
	int r;

	why[0] = '\0';
	if (s == NULL || self_hash == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((out = kbuf_new(OUT_MAX)) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = greet(s, out, self_hash)) != KORCH_OK)
		goto out;
	for (;;) {
		r = agent_session_recv(s, &f);
		if (r == KORCH_ERR_EOF) {
			r = KORCH_OK;	/* the controller hung up */
			goto out;
		}
		if (r != KORCH_OK) {
			(void)snprintf(why, sizeof(why), "reading frame: %s",
			    korch_strerror(r));
			goto fatal;
		}
		reqid = f.reqid;
		if (f.type == KP_BYE) {
			r = KORCH_OK;
			goto out;
		}
		/* The controller gave up; answering would only add noise. */
		if (f.type == KP_ERROR) {
			r = KORCH_ERR_EOF;
			goto out;
		}
		if (phase == PHASE_HELLO) {
			if (f.type != KP_START) {
				r = KORCH_ERR_BAD_FRAME;
				(void)snprintf(why, sizeof(why), "expected START,"
				    " got %s (%u)", kp_type_name(f.type), f.type);
				goto fatal;
			}
			if ((r = do_start(s, &f, why, sizeof(why))) != KORCH_OK)
				goto fatal;
			phase = PHASE_RUNNING;
			continue;
		}
		switch (f.type) {
		case KP_FACTS_REQ:
			if (f.body_len != 0) {
				r = KORCH_ERR_BAD_FRAME;
				(void)snprintf(why, sizeof(why), "FACTS_REQ has "
				    "a body");
				goto fatal;
			}
			r = do_facts(s, out, f.reqid);
			break;
		case KP_STEP:
			r = do_step(s, out, &f, why, sizeof(why));
			break;
		default:
			r = KORCH_ERR_BAD_FRAME;
			(void)snprintf(why, sizeof(why), "unexpected %s (%u)",
			    kp_type_name(f.type), f.type);
			break;
		}
		if (r == KORCH_ERR_EOF) {
			r = KORCH_OK;	/* hung up while a task ran */
			goto out;
		}
		if (r != KORCH_OK)
			goto fatal;
	}
fatal:
	if (why[0] == '\0')
		(void)snprintf(why, sizeof(why), "%s", korch_strerror(r));
	(void)send_error(s, reqid, r, why);
out:
	kbuf_free(out);
	return r;
}
