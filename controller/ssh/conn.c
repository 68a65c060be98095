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

/* The phases timeout messages name (states[] below). */
#define PH_RESOLVE	"name resolution"
#define PH_AUTH		"authentication"
#define PH_START	"agent start"
#define PH_UPLOAD	"agent upload"
#define PH_SESSION	"the agent session"

static enum step
step_idle(struct ssh_conn *c)
{
	return STEP_IDLE;
}

/*
 * Each state: its name (debug output, ssh_conn_state()), the phase a
 * timeout message names, and what conn_step() runs in it (NULL: stop).
 */
static const struct {
	const char	*name;
	const char	*phase;
	enum step	(*step)(struct ssh_conn *);
} states[SS__COUNT] = {
	[SS_INIT]		= { "init", PH_RESOLVE, step_init },
	[SS_RESOLVE]		= { "resolve", PH_RESOLVE, step_resolve },
	[SS_TUNNEL]		= { "tunnel", "opening a channel through the "
				    "bastion", step_idle },
	[SS_CONNECT]		= { "connect", "TCP connect", step_connect },
	[SS_HANDSHAKE]		= { "handshake", "SSH handshake (no SSH banner "
				    "or key exchange from the server)",
				    step_handshake },
	[SS_AUTH_KEY]		= { "auth-key", PH_AUTH, step_auth_key },
	[SS_AUTH_AGENT]		= { "auth-agent", PH_AUTH, step_auth_agent },
	[SS_EXEC_OPEN]		= { "exec-open", PH_START, step_exec_open },
	[SS_EXEC]		= { "exec", PH_START, step_exec },
	[SS_GREETING]		= { "greeting", PH_START, step_greeting },
	[SS_EXEC_CLOSE]		= { "exec-close", PH_UPLOAD, step_exec_close },
	[SS_SFTP_INIT]		= { "sftp-init", PH_UPLOAD, step_sftp },
	[SS_SFTP_MKDIR]		= { "sftp-mkdir", PH_UPLOAD, step_sftp },
	[SS_SFTP_OPEN]		= { "sftp-open", PH_UPLOAD, step_sftp },
	[SS_SFTP_WRITE]		= { "sftp-write", PH_UPLOAD, step_sftp },
	[SS_SFTP_CHMOD]		= { "sftp-chmod", PH_UPLOAD, step_sftp },
	[SS_SFTP_CLOSE]		= { "sftp-close", PH_UPLOAD, step_sftp },
	[SS_SFTP_UNLINK]	= { "sftp-unlink", PH_UPLOAD, step_sftp },
	[SS_SFTP_RENAME]	= { "sftp-rename", PH_UPLOAD, step_sftp },
	[SS_SFTP_CLEANUP]	= { "sftp-cleanup", PH_UPLOAD, step_sftp },
	[SS_SFTP_SHUTDOWN]	= { "sftp-shutdown", PH_UPLOAD, step_sftp },
	[SS_RUNNING]		= { "running", PH_SESSION, step_running },
	[SS_CLOSING]		= { "closing", PH_SESSION, step_closing },
	[SS_DISCONNECT]		= { "disconnect", PH_SESSION, step_disconnect },
	[SS_BASTION]		= { "bastion", PH_SESSION, bastion_pump },
	[SS_GONE]		= { "gone", PH_SESSION, NULL },
};

const char *
conn_state_name(enum ssh_state s)
{
	return states[s].name;
}

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
	ssh_dbg(c, "%s -> %s", conn_state_name(c->state), conn_state_name(s));
	c->state = s;
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

static void
timer_stop(struct conn_timer *t)
{
	if (t->ev != NULL)
		evtimer_del(t->ev);
}

static void
timer_free(struct conn_timer *t)
{
	if (t->ev != NULL)
		event_free(t->ev);
}

void
conn_destroy(struct ssh_conn *c)
{
	conn_release(c);
	if (c->ev_kick != NULL)
		event_free(c->ev_kick);
	timer_free(&c->connect_timer);
	timer_free(&c->auth_timer);
	timer_free(&c->overall_timer);
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
	free(c->pin_fp);
	free(c->pin_type);
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
	timer_stop(&c->connect_timer);
	timer_stop(&c->auth_timer);
	timer_stop(&c->overall_timer);
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

/* Arm or disarm ev as want says; *armed is what it is now. */
static void
event_want(struct event *ev, int want, int *armed)
{
	if (want == *armed)
		return;
	if (want)
		event_add(ev, NULL);
	else
		event_del(ev);
	*armed = want;
}

/* Arm exactly the directions asked for; a socket without events yet is
 * left alone. */
void
io_watch_want(struct io_watch *w, int rd, int wr)
{
	if (w->ev_rd == NULL)
		return;
	event_want(w->ev_rd, rd, &w->want_rd);
	event_want(w->ev_wr, wr, &w->want_wr);
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
conn_timer_start(struct conn_timer *t)
{
	struct timeval tv;

	tv.tv_sec = t->ms / 1000;
	tv.tv_usec = (t->ms % 1000) * 1000;
	evtimer_add(t->ev, &tv);
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
		    "during %s", c->where, which, ms, states[c->state].phase);
	conn_leave(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_timer *t = arg;

	(void)fd;
	(void)what;
	conn_timeout(t->c, t->which, t->ms);
}

/* t's event, its ms already set.  0 on ENOMEM. */
static int
timer_new(struct ssh_conn *c, struct conn_timer *t, const char *which)
{
	t->c = c;
	t->which = which;
	t->ev = evtimer_new(c->base, conn_timer_cb, t);
	return t->ev != NULL;
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

enum step
conn_chan_free(struct ssh_conn *c, enum ssh_state next)
{
	if (libssh2_channel_free(c->chan) == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	c->chan = NULL;
	conn_set_state(c, next);
	return STEP_NEXT;
}

static enum step
conn_step(struct ssh_conn *c)
{
	if (c->state >= SS__COUNT || states[c->state].step == NULL)
		return STEP_STOP;
	return states[c->state].step(c);
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
		conn_timer_start(&c->connect_timer);
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
	c->pin_fp = dup_or_null(t->pinned_fp, &bad);
	c->pin_type = dup_or_null(t->pinned_fp != NULL ? t->pinned_type :
	    NULL, &bad);
	c->port = t->port;
	c->accept_new = t->accept_new;
	c->become_sudo = t->become_sudo;
	c->connect_timer.ms = t->connect_timeout_ms > 0 ?
	    t->connect_timeout_ms : SSH_DEF_CONNECT_MS;
	c->auth_timer.ms = t->auth_timeout_ms > 0 ? t->auth_timeout_ms :
	    SSH_DEF_AUTH_MS;
	c->overall_timer.ms = t->overall_timeout_ms > 0 ?
	    t->overall_timeout_ms : 0;
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
	c->outq = evbuffer_new();
	c->inq = evbuffer_new();
	if (c->ev_kick == NULL || !timer_new(c, &c->connect_timer, "connect") ||
	    !timer_new(c, &c->auth_timer, "auth") ||
	    !timer_new(c, &c->overall_timer, "overall") ||
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
		conn_timer_start(&c->connect_timer);
	if (c->overall_timer.ms > 0)
		conn_timer_start(&c->overall_timer);
	conn_kick(c);
}
