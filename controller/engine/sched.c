/*
 * sched.c - the run engine; see sched.h for the shape of a run and
 * sched-int.h for how its files divide it.  This one sets a run up, runs
 * the loop (with its signals), records how each host ended, and frees it.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "buf.h"
#include "err.h"
#include "wire.h"
#include "engine/fetch.h"
#include "engine/render.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "ssh/ssh.h"
#include "engine/sched-int.h"
#include "state_lock.h"
#include "state_record.h"
#include "state_query.h"

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

/* Every name in --limit must be a host: a typo must not silently
 * converge nothing. */
static int
limit_check(const struct inventory *inv, const char *limit, char *msg,
    size_t msglen)
{
	const char *p, *e;
	size_t k;

	if (limit != NULL && strspn(limit, ",") == strlen(limit)) {
		snprintf(msg, msglen, "--limit names no host");
		return KORCH_ERR_INVALID_ARG;
	}
	for (p = limit; p != NULL && *p != '\0'; p = e ? e + 1 : NULL) {
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
	return 0;
}

/* The inventory's bastion, when it names one: one session carries every
 * host's. */
static int
bastion_open(struct sched *s, char *msg, size_t msglen)
{
	const struct inventory *inv = s->inv;
	struct ssh_target bt;
	int r;

	if (inv->ssh.bastion.address == NULL)
		return 0;
	memset(&bt, 0, sizeof(bt));
	bt.name = "bastion";
	bt.address = inv->ssh.bastion.address;
	bt.port = inv->ssh.bastion.port;
	bt.user = inv->ssh.bastion.user;
	bt.private_key = inv->ssh.private_key;
	bt.known_hosts = inv->ssh.known_hosts;
	bt.accept_new = s->o.accept_new;
	bt.connect_timeout_ms = inv->ssh.connect_timeout * 1000;
	bt.auth_timeout_ms = inv->ssh.connect_timeout * 1000 + 30000;
	/* sshd's MaxStartups defaults to 10: stay under it. */
	if ((r = ssh_bastion_new(s->base, &bt, 8, &s->bastion)) != 0)
		snprintf(msg, msglen, "bastion %s: %s",
		    bt.address, korch_strerror(r));
	return r;
}

/* Each host's buffers and timers, and its nodes in this run pending (the
 * rest DAG_ST_OUT).  0 or KORCH_ERR_ALLOC. */
static int
hosts_init(struct sched *s)
{
	struct shost *h;
	size_t i, k;

	for (i = 0; i < s->nsteps * s->nhosts; i++)
		s->cells[i] = DAG_ST_OUT;
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		h->s = s;
		h->idx = i;
		h->blob.fd = -1;
		h->name = s->inv->hosts[i].name;
		if ((h->in = kbuf_new(KP_MAX_FRAME + KP_HDR_LEN + 4)) == NULL ||
		    (h->out = kbuf_new(64u << 20)) == NULL ||
		    (h->step_timer = evtimer_new(s->base, step_timer_cb,
		    h)) == NULL ||
		    (h->blob_timer = evtimer_new(s->base, blob_timer_cb,
		    h)) == NULL)
			return KORCH_ERR_ALLOC;
		/* Step frames carry the hosts' private keys. */
		kbuf_set_secret(h->out);
		kbuf_set_secret(h->in);
		if (s->o.limit != NULL && !limit_has(s->o.limit, h->name)) {
			h->st = HS_EXCLUDED;
			continue;
		}
		for (k = 0; k < s->nsteps; k++)
			if (dag_applies(s->dag, k, i) &&
			    step_selected(s->o.steps, s->pb->steps[k].name))
				*cell(s, k, i) = DAG_ST_PENDING;
	}
	return 0;
}

int
sched_new(const struct inventory *inv, const struct playbook *pb,
    const struct dag *dag, struct kstate *st, int64_t run_id,
    const struct agent_image *img, const struct sched_opts *opts,
    struct report *rep, struct sched **out, char *msg, size_t msglen)
{
	struct sched *s;
	int r;

	*out = NULL;
	if ((r = limit_check(inv, opts->limit, msg, msglen)) != 0)
		return r;
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
	r = KORCH_ERR_ALLOC;
	if ((s->base = event_base_new()) == NULL ||
	    event_base_priority_init(s->base, 3) != 0)
		goto fail;
	if ((r = bastion_open(s, msg, msglen)) != 0)
		goto fail;
	r = KORCH_ERR_ALLOC;
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
	if ((s->cells = calloc(s->nsteps * s->nhosts + 1,
	    sizeof(*s->cells))) == NULL)
		goto fail;
	if ((r = kstate_pending_restarts_list(st, NULL, &s->pend,
	    &s->npend)) != 0) {
		snprintf(msg, msglen, "%s", kstate_errmsg(st));
		goto fail;
	}
	if ((r = hosts_init(s)) != 0)
		goto fail;
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
	rec_free_list(s->recs);
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
