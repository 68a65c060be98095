/*
 * sched_content.c - content between the controller and an agent: the
 * bundle's files streamed to the agent as BLOB chunks when it asks, and a
 * fetch task's file streamed back (FETCH_DATA, written by fetch.c) and
 * checked before its result counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "err.h"
#include "modspec.h"
#include "wire.h"
#include "engine/fetch.h"
#include "engine/render.h"
#include "spec/bundle.h"
#include "ssh/ssh.h"
#include "engine/sched-int.h"

/*
 * The agent wants content it lacks (a bundle binary): stream the file as
 * BLOB chunks, a few at a time, topping the session's queue up as it
 * drains (a short timer checks), so a 100 MB kube-apiserver neither sits
 * in memory whole nor holds the loop.  Content korch does not have gets
 * one empty last chunk, and the agent fails that task with a clear message.
 */
#define BLOB_QUEUE_HIGH	(4u << 20)

void
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

void
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

int
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
int
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
	if (t == NULL || !(t->mod->flags & KMS_M_STREAMS_TO_CONTROLLER) ||
	    WIRE_STEP_ID(rs->step) != d.step_id ||
	    !cell_sent(*cell(h->s, rs->step, h->idx)))
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
 * STEP_DONE is corrected (on_fetch_step_done); the step's dependents were
 * held back (DAG_ST_RUNNING_HELD), so none of them ran.
 */
int
on_fetch_result(struct shost *h, struct kp_task_result *tr)
{
	const struct rendered_task *t = NULL;
	const char *dest = NULL;
	int was = tr->status, r;

	if (h->rh != NULL)
		t = render_find_task(h->rh, tr->task_id, NULL);
	if (t != NULL && (t->mod->flags & KMS_M_STREAMS_TO_CONTROLLER) &&
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

/* A fetch the controller failed fails its step, whatever the agent
 * counted. */
void
on_fetch_step_done(struct shost *h, struct kp_step_done *sd)
{
	if (h->fetch_failed_step != 0 &&
	    sd->step_id == h->fetch_failed_step) {
		sd->failed++;
		if (sd->changed > 0)
			sd->changed--;
		h->fetch_failed_step = 0;
	}
}
