/*
 * conn.c - the life of one connection (struct ssh_conn, see ssh-int.h):
 * creation, the one teardown path, its socket events and timers, and the
 * state machine that steps it.  The states' own work is in the files
 * ssh-int.h lists.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <libssh2.h>
#include <libssh2_sftp.h>

#include "err.h"
#include "ssh/ssh-int.h"

#define SSH_DEF_CONNECT_MS	10000
#define SSH_DEF_AUTH_MS		60000

const char *const ssh_state_names[SS__COUNT] = {
	[SS_INIT]		= "init",
	[SS_RESOLVE]		= "resolve",
	[SS_TUNNEL]		= "tunnel",
	[SS_CONNECT]		= "connect",
	[SS_HANDSHAKE]		= "handshake",
	[SS_AUTH_KEY]		= "auth-key",
	[SS_AUTH_AGENT]		= "auth-agent",
	[SS_EXEC_OPEN]		= "exec-open",
	[SS_EXEC]		= "exec",
	[SS_GREETING]		= "greeting",
	[SS_EXEC_CLOSE]		= "exec-close",
	[SS_SFTP_INIT]		= "sftp-init",
	[SS_SFTP_MKDIR]		= "sftp-mkdir",
	[SS_SFTP_OPEN]		= "sftp-open",
	[SS_SFTP_WRITE]		= "sftp-write",
	[SS_SFTP_CHMOD]		= "sftp-chmod",
	[SS_SFTP_CLOSE]		= "sftp-close",
	[SS_SFTP_UNLINK]	= "sftp-unlink",
	[SS_SFTP_RENAME]	= "sftp-rename",
	[SS_SFTP_CLEANUP]	= "sftp-cleanup",
	[SS_SFTP_SHUTDOWN]	= "sftp-shutdown",
	[SS_RUNNING]		= "running",
	[SS_CLOSING]		= "closing",
	[SS_DISCONNECT]		= "disconnect",
	[SS_BASTION]		= "bastion",
	[SS_GONE]		= "gone",
};

static int ssh_debug = -1;

/* ---- diagnostics -------------------------------------------------------- */

int
ssh_debug_on(void)
{
	const char *v;

	if (ssh_debug < 0) {
		v = getenv("KORCH_DEBUG");
		ssh_debug = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	}
	return ssh_debug;
}

void
ssh_dbg(const struct ssh_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (!ssh_debug_on())
		return;
	fprintf(stderr, "korch: ssh %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The one place a connection changes state. */
void
conn_set_state(struct ssh_conn *c, enum ssh_state s)
{
	if (c->state == s)
		return;
	ssh_dbg(c, "%s -> %s", ssh_state_names[c->state], ssh_state_names[s]);
	c->state = s;
}

static const char *
state_phase(enum ssh_state s)
{
	switch (s) {
	case SS_INIT:
	case SS_RESOLVE:	return "name resolution";
	case SS_TUNNEL:		return "opening a channel through the bastion";
	case SS_CONNECT:	return "TCP connect";
	case SS_HANDSHAKE:	return "SSH handshake (no SSH banner or key "
				    "exchange from the server)";
	case SS_AUTH_KEY:
	case SS_AUTH_AGENT:	return "authentication";
	case SS_EXEC_OPEN:
	case SS_EXEC:
	case SS_GREETING:	return "agent start";
	case SS_EXEC_CLOSE:
	case SS_SFTP_INIT:
	case SS_SFTP_MKDIR:
	case SS_SFTP_OPEN:
	case SS_SFTP_WRITE:
	case SS_SFTP_CHMOD:
	case SS_SFTP_CLOSE:
	case SS_SFTP_UNLINK:
	case SS_SFTP_RENAME:
	case SS_SFTP_CLEANUP:
	case SS_SFTP_SHUTDOWN:	return "agent upload";
	default:		return "the agent session";
	}
}

const char *
ssh_errmsg(LIBSSH2_SESSION *s)
{
	char *m = NULL;
	int len = 0;

	if (s == NULL)
		return "no session";
	libssh2_session_last_error(s, &m, &len, 0);
	return m != NULL && *m != '\0' ? m : "unknown libssh2 error";
}

/* ---- lifetime ----------------------------------------------------------- */

void
conn_destroy(struct ssh_conn *c)
{
	conn_release(c);
	if (c->ev_kick != NULL)
		event_free(c->ev_kick);
	if (c->connect_timer != NULL)
		event_free(c->connect_timer);
	if (c->auth_timer != NULL)
		event_free(c->auth_timer);
	if (c->overall_timer != NULL)
		event_free(c->overall_timer);
	if (c->outq != NULL)
		evbuffer_free(c->outq);
	if (c->inq != NULL)
		evbuffer_free(c->inq);
	free(c->name);
	free(c->address);
	free(c->user);
	free(c->private_key);
	free(c->public_key);
	free(c->known_hosts);
	free(c->where);
	free(c->boot_cmd);
	free(c);
}

void
conn_enter(struct ssh_conn *c)
{
	c->busy++;
}

/* Returns 1 when c was destroyed. */
int
conn_leave(struct ssh_conn *c)
{
	if (--c->busy == 0 && c->freed) {
		conn_destroy(c);
		return 1;
	}
	return 0;
}

/*
 * Free everything the connection holds on the network.  Idempotent.  The
 * socket is shut down first so libssh2's own cleanup (which may try to
 * send a close) fails at once instead of waiting.
 */
void
conn_release(struct ssh_conn *c)
{
	resolve_release(c);
	if (c->ai != NULL) {
		evutil_freeaddrinfo(c->ai);
		c->ai = c->ai_next = NULL;
	}
	if (c->ev_kick != NULL)
		event_del(c->ev_kick);
	if (c->connect_timer != NULL)
		evtimer_del(c->connect_timer);
	if (c->auth_timer != NULL)
		evtimer_del(c->auth_timer);
	if (c->overall_timer != NULL)
		evtimer_del(c->overall_timer);
	io_watch_free(&c->io);
	if (c->mode == MODE_BASTION && c->self_bastion != NULL)
		bastion_drop_tunnels(c->self_bastion);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (c->ssh != NULL) {
		/* Socket is down: nothing below can wait; cap it anyway. */
		libssh2_session_set_blocking(c->ssh, 1);
		libssh2_session_set_timeout(c->ssh, 100);
		if (c->sfh != NULL)
			libssh2_sftp_close_handle(c->sfh);
		if (c->sftp != NULL)
			libssh2_sftp_shutdown(c->sftp);
		if (c->chan != NULL)
			libssh2_channel_free(c->chan);
		if (c->agent != NULL) {
			libssh2_agent_disconnect(c->agent);
			libssh2_agent_free(c->agent);
		}
		libssh2_session_free(c->ssh);
	}
	c->sfh = NULL;
	c->sftp = NULL;
	c->chan = NULL;
	c->agent = NULL;
	c->ident = NULL;
	c->ssh = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->tun != NULL)
		tunnel_detach(c->tun);
}

/*
 * The one "gone" path: release, then tell the caller once.  err 0 is a
 * clean end.
 */
void
conn_end(struct ssh_conn *c, int err, const char *msg)
{
	if (c->state == SS_GONE)
		return;
	conn_enter(c);
	conn_release(c);
	conn_set_state(c, SS_GONE);
	if (err != 0)
		ssh_dbg(c, "gone: %s", msg);
	if (!c->freed && !c->gone_called && c->cbs.gone != NULL) {
		c->gone_called = 1;
		c->cbs.gone(c, err, msg, c->arg);
	}
	conn_leave(c);
}

void
conn_fail(struct ssh_conn *c, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_end(c, err, msg);
}

/* ---- events and timers -------------------------------------------------- */

/* Arm exactly the directions asked for; a socket without events yet is
 * left alone. */
void
io_watch_want(struct io_watch *w, int rd, int wr)
{
	if (w->ev_rd == NULL)
		return;
	if (rd != w->want_rd) {
		if (rd)
			event_add(w->ev_rd, NULL);
		else
			event_del(w->ev_rd);
		w->want_rd = rd;
	}
	if (wr != w->want_wr) {
		if (wr)
			event_add(w->ev_wr, NULL);
		else
			event_del(w->ev_wr);
		w->want_wr = wr;
	}
}

/* Both events for fd, neither armed.  KORCH_ERR_ALLOC: w holds none. */
int
io_watch_new(struct io_watch *w, struct event_base *base, int fd,
    event_callback_fn cb, void *arg)
{
	w->ev_rd = event_new(base, fd, EV_READ | EV_PERSIST, cb, arg);
	w->ev_wr = event_new(base, fd, EV_WRITE | EV_PERSIST, cb, arg);
	if (w->ev_rd == NULL || w->ev_wr == NULL) {
		io_watch_free(w);
		return KORCH_ERR_ALLOC;
	}
	return 0;
}

void
io_watch_free(struct io_watch *w)
{
	if (w->ev_rd != NULL)
		event_free(w->ev_rd);
	if (w->ev_wr != NULL)
		event_free(w->ev_wr);
	w->ev_rd = w->ev_wr = NULL;
	w->want_rd = w->want_wr = 0;
}

int
conn_set_fd(struct ssh_conn *c, int fd)
{
	io_watch_free(&c->io);
	c->fd = fd;
	return io_watch_new(&c->io, c->base, fd, conn_io_cb, c);
}

void
ssh_timer_start(struct event *ev, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static void
conn_timeout(struct ssh_conn *c, const char *which, int ms)
{
	char err[700];

	conn_enter(c);
	if (c->state == SS_GREETING || c->state == SS_EXEC ||
	    c->state == SS_EXEC_OPEN) {
		stderr_summary(c, err, sizeof(err));
		if (c->noise_first[0] != '\0')
			conn_fail(c, KORCH_ERR_NO_GREETING, "no greeting from "
			    "the korch agent on %s within %d ms; before it the "
			    "remote side printed \"%s\" (%zu line%s) -- is the "
			    "login shell printing to stdout? (.bashrc)%s%s",
			    c->where, ms, c->noise_first, c->noise_lines,
			    c->noise_lines == 1 ? "" : "s",
			    *err ? "; stderr: " : "", err);
		else
			conn_fail(c, KORCH_ERR_NO_GREETING, "no greeting from "
			    "the korch agent on %s within %d ms (no output at "
			    "all)%s%s", c->where, ms,
			    *err ? "; stderr: " : "", err);
	} else if (c->state == SS_HANDSHAKE && c->via == NULL)
		conn_fail(c, KORCH_ERR_TIMEOUT, "%s: %s timeout after %d ms "
		    "during the SSH handshake: the port accepts connections "
		    "but no SSH banner or key exchange arrived", c->where,
		    which, ms);
	else
		conn_fail(c, KORCH_ERR_TIMEOUT, "%s: %s timeout after %d ms "
		    "during %s", c->where, which, ms, state_phase(c->state));
	conn_leave(c);
}

static void
connect_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_conn *c = arg;

	(void)fd;
	(void)what;
	conn_timeout(c, "connect", c->connect_ms);
}

static void
auth_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_conn *c = arg;

	(void)fd;
	(void)what;
	conn_timeout(c, "auth", c->auth_ms);
}

static void
overall_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_conn *c = arg;

	(void)fd;
	(void)what;
	conn_timeout(c, "overall", c->overall_ms);
}

/* Interest after a step, from libssh2's block directions. */
static void
conn_rearm(struct ssh_conn *c, enum step st)
{
	int dirs, rd = 0, wr = 0;

	switch (st) {
	case STEP_WAIT_CONNECT:
		wr = 1;
		break;
	case STEP_WAIT_SSH:
		dirs = c->ssh != NULL ?
		    libssh2_session_block_directions(c->ssh) : 0;
		rd = (dirs & LIBSSH2_SESSION_BLOCK_INBOUND) != 0;
		wr = (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
		if (c->state == SS_RUNNING && !c->paused)
			rd = 1;		/* data may come at any time */
		if (c->state == SS_BASTION)
			rd = bastion_busy(c->self_bastion);
		if (!rd && !wr && c->state != SS_BASTION)
			rd = 1;
		break;
	default:
		break;
	}
	io_watch_want(&c->io, rd, wr);
}

/* ---- the state machine -------------------------------------------------- */

static enum step
conn_step(struct ssh_conn *c)
{
	switch (c->state) {
	case SS_INIT:		return step_init(c);
	case SS_RESOLVE:	return step_resolve(c);
	case SS_TUNNEL:		return STEP_IDLE;
	case SS_CONNECT:	return step_connect(c);
	case SS_HANDSHAKE:	return step_handshake(c);
	case SS_AUTH_KEY:	return step_auth_key(c);
	case SS_AUTH_AGENT:	return step_auth_agent(c);
	case SS_EXEC_OPEN:	return step_exec_open(c);
	case SS_EXEC:		return step_exec(c);
	case SS_GREETING:	return step_greeting(c);
	case SS_EXEC_CLOSE:	return step_exec_close(c);
	case SS_SFTP_INIT:
	case SS_SFTP_MKDIR:
	case SS_SFTP_OPEN:
	case SS_SFTP_WRITE:
	case SS_SFTP_CHMOD:
	case SS_SFTP_CLOSE:
	case SS_SFTP_UNLINK:
	case SS_SFTP_RENAME:
	case SS_SFTP_CLEANUP:
	case SS_SFTP_SHUTDOWN:	return step_sftp(c);
	case SS_RUNNING:	return step_running(c);
	case SS_CLOSING:	return step_closing(c);
	case SS_DISCONNECT:	return step_disconnect(c);
	case SS_BASTION:	return bastion_pump(c);
	case SS_GONE:
	case SS__COUNT:
		break;
	}
	return STEP_STOP;
}

static void
conn_run(struct ssh_conn *c)
{
	enum step st;

	do {
		if (c->freed || c->state == SS_GONE)
			return;
		st = conn_step(c);
	} while (st == STEP_NEXT);
	if (!c->freed && c->state != SS_GONE && st != STEP_STOP)
		conn_rearm(c, st);
}

void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_conn *c = arg;

	(void)fd;
	/*
	 * During the handshake the connect timeout counts silence, not
	 * total time: a server that answers is alive, however long a
	 * loaded controller (or a loaded host) takes to get through the
	 * key exchange.  Hundreds of handshakes that start together all
	 * finish late when CPUs are shared; none of them is unreachable.
	 */
	if ((what & EV_READ) && c->state == SS_HANDSHAKE)
		ssh_timer_start(c->connect_timer, c->connect_ms);
	conn_enter(c);
	conn_run(c);
	conn_leave(c);
}

static void
conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_io_cb(fd, what, arg);
}

void
conn_kick(struct ssh_conn *c)
{
	if (c->ev_kick != NULL && !c->freed && c->state != SS_GONE)
		event_active(c->ev_kick, EV_TIMEOUT, 1);
}

/* ---- creation ----------------------------------------------------------- */

static char *
dup_or_null(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

int
conn_new(struct event_base *base, const struct ssh_target *t,
    enum conn_mode mode, struct ssh_conn **out)
{
	struct ssh_conn *c;
	struct stat st;
	int bad = 0, r;

	*out = NULL;
	if (base == NULL || t == NULL || t->address == NULL ||
	    *t->address == '\0' || t->user == NULL || *t->user == '\0' ||
	    t->known_hosts == NULL || t->port <= 0 || t->port > 65535)
		return KORCH_ERR_INVALID_ARG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KORCH_ERR_ALLOC;
	c->base = base;
	c->mode = mode;
	c->state = SS_INIT;
	c->fd = -1;
	c->name = dup_or_null(t->name != NULL ? t->name : t->address, &bad);
	c->address = dup_or_null(t->address, &bad);
	c->user = dup_or_null(t->user, &bad);
	c->private_key = dup_or_null(t->private_key, &bad);
	c->known_hosts = dup_or_null(t->known_hosts, &bad);
	c->port = t->port;
	c->accept_new = t->accept_new;
	c->become_sudo = t->become_sudo;
	c->connect_ms = t->connect_timeout_ms > 0 ? t->connect_timeout_ms :
	    SSH_DEF_CONNECT_MS;
	c->auth_ms = t->auth_timeout_ms > 0 ? t->auth_timeout_ms :
	    SSH_DEF_AUTH_MS;
	c->overall_ms = t->overall_timeout_ms > 0 ? t->overall_timeout_ms : 0;
	c->via = t->bastion;
	if (bad)
		goto nomem;
	if (c->private_key != NULL) {
		if (asprintf(&c->public_key, "%s.pub", c->private_key) < 0) {
			c->public_key = NULL;
			goto nomem;
		}
		if (stat(c->public_key, &st) != 0) {
			free(c->public_key);
			c->public_key = NULL;	/* libssh2 derives it */
		}
	}
	if (strchr(c->address, ':') != NULL)
		r = asprintf(&c->where, "%s ([%s]:%d)", c->name, c->address,
		    c->port);
	else
		r = asprintf(&c->where, "%s (%s:%d)", c->name, c->address,
		    c->port);
	if (r < 0) {
		c->where = NULL;
		goto nomem;
	}
	if (kh_hostspec(c->address, c->port, c->hostspec,
	    sizeof(c->hostspec)) != 0) {
		conn_destroy(c);
		return KORCH_ERR_INVALID_ARG;
	}
	c->ev_kick = event_new(base, -1, 0, conn_kick_cb, c);
	c->connect_timer = evtimer_new(base, connect_timer_cb, c);
	c->auth_timer = evtimer_new(base, auth_timer_cb, c);
	c->overall_timer = evtimer_new(base, overall_timer_cb, c);
	c->outq = evbuffer_new();
	c->inq = evbuffer_new();
	if (c->ev_kick == NULL || c->connect_timer == NULL ||
	    c->auth_timer == NULL || c->overall_timer == NULL ||
	    c->outq == NULL || c->inq == NULL)
		goto nomem;
	*out = c;
	return 0;
 nomem:
	conn_destroy(c);
	return KORCH_ERR_ALLOC;
}

/* Arm the timers and take the first step from the loop, so no callback
 * ever runs inside ssh_conn_start(). */
void
conn_begin(struct ssh_conn *c)
{
	if (c->via == NULL)
		ssh_timer_start(c->connect_timer, c->connect_ms);
	if (c->overall_ms > 0)
		ssh_timer_start(c->overall_timer, c->overall_ms);
	conn_kick(c);
}
