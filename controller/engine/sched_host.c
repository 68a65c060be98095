/*
 * sched_host.c - one host's session, from connect to BYE: its states and
 * timers, START and FACTS (then its tasks rendered with those facts), the
 * frames the agent sends, the connection's end, and leaving the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "err.h"
#include "wire.h"
#include "base/diag.h"
#include "base/json.h"
#include "engine/fetch.h"
#include "engine/render.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "ssh/ssh.h"
#include "state_hostkey.h"
#include "engine/sched-int.h"

const char *const hstate_names[] = {
	"queued", "connecting", "starting", "running", "parking", "parked",
	"finishing", "done", "failed", "unreachable", "excluded",
};

void
host_set_state(struct shost *h, enum hstate st)
{
	if (getenv("KORCH_DEBUG") != NULL)
		fprintf(stderr, "debug: %s: %s -> %s\n", h->name,
		    hstate_names[h->st], hstate_names[st]);
	h->st = st;
}

int
host_has_session(const struct shost *h)
{
	return h->st == HS_CONNECTING || h->st == HS_STARTING ||
	    h->st == HS_RUNNING || h->st == HS_PARKING ||
	    h->st == HS_FINISHING;
}

int
host_send(struct shost *h)
{
	int r;

	r = ssh_conn_send(h->conn, kbuf_ptr(h->out), kbuf_len(h->out));
	kbuf_reset(h->out);
	return r;
}

void
timer_arm(struct shost *h, int ms)
{
	struct timeval tv;

	if (ms <= 0)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(h->step_timer, &tv);
}

void
step_timer_arm(struct shost *h)
{
	timer_arm(h, h->s->o.step_timeout_ms);
}

void
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

/* BYE: the agent exits, and conn_gone() moves h from st (finishing or
 * parking) to done or parked. */
void
host_bye(struct shost *h, enum hstate st)
{
	if (kp_enc_bye(h->out, 0) == 0)
		(void)host_send(h);
	ssh_conn_finish(h->conn);
	host_set_state(h, st);
	timer_arm(h, CONTROL_TIMEOUT_MS);
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
		/* Pinned the first time (never replaced: state_hostkey.h). */
		r->hostkey = xstrdup(ssh_conn_hostkey_fp(h->conn));
		r->hostkey_type = xstrdup(ssh_conn_hostkey_type(h->conn));
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
		on_fetch_step_done(h, &sd);
		on_step_done(h, &sd);
		return 0;
	case KP_BLOB_REQ:
		return send_blob(h, f);
	case KP_FETCH_DATA:
		return on_fetch_data(h, f);
	case KP_ERROR:
		if ((r = kp_dec_error(f, &er)) != 0)
			return r;
		/* The host lock's refusal names its holder: said as is. */
		snprintf(msg, sizeof(msg), "%s%s", er.code == KORCH_ERR_LOCKED ?
		    "" : "agent error: ", er.message);
		kp_error_clear(&er);
		host_fail(h, HS_FAILED, KORCH_ERR_AGENT, msg);
		return 0;
	}
	return KORCH_ERR_BAD_FRAME;
}

static void
conn_ready(struct ssh_conn *c, void *arg)
{
	struct shost *h = arg;
	struct kp_start start;
	char host[256];
	int r;

	h->uploaded |= ssh_conn_uploaded(c);
	memset(&start, 0, sizeof(start));
	start.version = KP_VERSION;
	start.flags = h->s->o.check_only ? KP_START_CHECK_ONLY : 0;
	/* A run that changes the host holds its lock (plan only looks). */
	if (!h->s->o.check_only && h->s->o.state_path != NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		start.ctl_host = host;
		start.ctl_pid = (uint32_t)getpid();
		start.state = (char *)h->s->o.state_path;
		start.run_id = (uint64_t)h->s->run_id;
	}
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

void
host_connect(struct shost *h)
{
	struct sched *s = h->s;
	const struct inventory *inv = s->inv;
	const struct inv_host *ih = &inv->hosts[h->idx];
	struct ssh_target t;
	struct kstate_hostkey *pin = NULL;
	int r;

	/* The pin, read afresh: `korch hosts trust` may run between runs,
	 * never during one (the state's lock). */
	r = s->st != NULL ? kstate_hostkey_get(s->st, ih->name, &pin) :
	    KORCH_ERR_NOT_FOUND;
	if (r != 0 && r != KORCH_ERR_NOT_FOUND) {
		host_set_state(h, HS_CONNECTING);
		host_fail(h, HS_UNREACHABLE, r, "cannot read the host key pin "
		    "from the state");
		return;
	}
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
	if (pin != NULL) {
		t.pinned_fp = pin->fingerprint;
		t.pinned_type = pin->key_type;
	}
	h->connects++;
	host_set_state(h, HS_CONNECTING);
	s->active++;
	r = ssh_conn_start(s->base, &t, s->img, &conn_cbs, h, &h->conn);
	kstate_hostkeys_free(pin, pin != NULL ? 1 : 0);
	if (r != 0) {
		s->active--;
		host_fail(h, HS_UNREACHABLE, r, korch_strerror(r));
	}
}

void
host_fail(struct shost *h, enum hstate st, int err, const char *msg)
{
	struct sched *s = h->s;
	struct rec *r;
	size_t i;
	enum dag_status *c;

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
		if (*c == DAG_ST_PENDING || *c == DAG_ST_RUNNING ||
		    *c == DAG_ST_RUNNING_HELD)
			*c = DAG_ST_FAILED;
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

int
host_pending_steps(struct shost *h)
{
	size_t i;

	for (i = 0; i < h->s->nsteps; i++)
		if (*cell(h->s, i, h->idx) == DAG_ST_PENDING)
			return 1;
	return 0;
}
