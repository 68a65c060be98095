/*
 * pump.c - the running agent: bytes the caller queued go to its stdin,
 * its stdout goes to the caller (unless paused: backpressure), its stderr
 * is kept (errtail.c); then its exit status, and the SSH disconnect.
 */
#include <string.h>

#include <event2/buffer.h>
#include <libssh2.h>

#include "err.h"
#include "ssh/ssh-int.h"

static int
outbound_blocked(const struct ssh_conn *c)
{
	return (libssh2_session_block_directions(c->ssh) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

/* Hand stdout bytes to the caller; 1 if we must stop (freed, gone,
 * paused). */
static int
deliver(struct ssh_conn *c, const uint8_t *p, size_t n)
{
	if (c->cbs.data != NULL)
		c->cbs.data(c, p, n, c->arg);
	return c->freed || c->state == SS_GONE || c->paused;
}

/*
 * Queued input for the agent, then EOF once the caller finished and the
 * queue is empty.  Returns 1 to wait for the socket, -1 when the
 * connection is lost, 0 to go on (possibly with bytes still queued: the
 * channel's window is full).
 */
static int
pump_stdin(struct ssh_conn *c)
{
	struct evbuffer_iovec v;
	ssize_t n;
	int r;

	while (evbuffer_get_length(c->outq) > 0) {
		if (evbuffer_peek(c->outq, -1, NULL, &v, 1) < 1)
			break;
		n = libssh2_channel_write(c->chan, v.iov_base, v.iov_len);
		if (n > 0) {
			evbuffer_drain(c->outq, (size_t)n);
			continue;
		}
		if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
			if (outbound_blocked(c))
				return 1;	/* retry this first */
			break;		/* window full */
		}
		return -1;
	}
	if (c->finishing && !c->eof_sent &&
	    evbuffer_get_length(c->outq) == 0) {
		r = libssh2_channel_send_eof(c->chan);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return 1;
		if (r != 0)
			return -1;
		c->eof_sent = 1;
	}
	return 0;
}

enum step
step_running(struct ssh_conn *c)
{
	uint8_t buf[SSH_READ_CHUNK];
	size_t got;
	ssize_t n;
	int r;

	/* 1. Queued input for the agent. */
	if ((r = pump_stdin(c)) < 0)
		goto lost;
	if (r > 0)
		return STEP_WAIT_SSH;

	/* 2. stderr, always, so it cannot fill the window.  Reading either
	 * stream makes libssh2 read the socket and queue the other's bytes
	 * with no event to tell us: loop until neither yields. */
 again:
	got = 0;
	n = drain_stderr_n(c, &got);
	if (n == LIBSSH2_ERROR_EAGAIN && outbound_blocked(c))
		return STEP_WAIT_SSH;
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
		goto lost;

	/* 3. stdout, unless the caller paused us (backpressure: unread
	 * data stays in libssh2 and the SSH window closes). */
	if (c->paused)
		goto idle;
	while (evbuffer_get_length(c->inq) > 0) {
		size_t len = evbuffer_get_length(c->inq);
		uint8_t *p = evbuffer_pullup(c->inq, -1);
		int stop;

		/* Detach first: the callback may queue or free. */
		if (len > sizeof(buf))
			len = sizeof(buf);
		memcpy(buf, p, len);
		evbuffer_drain(c->inq, len);
		stop = deliver(c, buf, len);
		if (c->freed || c->state == SS_GONE)
			return STEP_STOP;
		if (stop)
			goto idle;
	}
	for (;;) {
		n = libssh2_channel_read(c->chan, (char *)buf, sizeof(buf));
		if (n > 0) {
			if (deliver(c, buf, (size_t)n)) {
				if (c->freed || c->state == SS_GONE)
					return STEP_STOP;
				goto idle;
			}
			continue;
		}
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if (outbound_blocked(c))
				return STEP_WAIT_SSH;
			if (got > 0)
				goto again;
			break;
		}
		if (n < 0)
			goto lost;
		if (libssh2_channel_eof(c->chan)) {
			c->remote_eof = 1;
			conn_set_state(c, SS_CLOSING);
			return STEP_NEXT;
		}
		break;
	}
	return STEP_WAIT_SSH;
 idle:
	if (evbuffer_get_length(c->outq) > 0 ||
	    (c->finishing && !c->eof_sent))
		return STEP_WAIT_SSH;
	return STEP_IDLE;
 lost:
	conn_fail(c, KORCH_ERR_EOF, "connection to %s lost: %s", c->where,
	    ssh_errmsg(c->ssh));
	return STEP_STOP;
}

enum step
step_closing(struct ssh_conn *c)
{
	char *sig = NULL, err[700], signame[32] = "";
	size_t siglen = 0;
	int r, status;

	(void)drain_stderr(c);
	r = libssh2_channel_close(c->chan);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	r = libssh2_channel_wait_closed(c->chan);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	status = libssh2_channel_get_exit_status(c->chan);
	libssh2_channel_get_exit_signal(c->chan, &sig, &siglen, NULL, NULL,
	    NULL, NULL);
	if (sig != NULL) {
		ssh_printable(signame, sizeof(signame), sig, siglen);
		libssh2_free(c->ssh, sig);
	}
	stderr_summary(c, err, sizeof(err));
	if (signame[0] != '\0') {
		conn_fail(c, KORCH_ERR_AGENT, "the korch agent on %s was killed "
		    "by SIG%s%s%s", c->where, signame,
		    *err ? "; stderr: " : "", err);
		return STEP_STOP;
	}
	if (status != 0) {
		conn_fail(c, KORCH_ERR_AGENT, "the korch agent on %s exited "
		    "with status %d%s%s", c->where, status,
		    *err ? "; stderr: " : "", err);
		return STEP_STOP;
	}
	return conn_chan_free(c, SS_DISCONNECT);
}

enum step
step_disconnect(struct ssh_conn *c)
{
	int r;

	r = libssh2_session_disconnect(c->ssh, "korch: done");
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	conn_end(c, 0, "the agent exited");
	return STEP_STOP;
}
