/*
 * bastion.c - the bastion (jump host): one SSH session to it carries every
 * host's connection as a direct-tcpip channel.  libssh2 needs a socket per
 * session, so each host gets one end of a socketpair and the bastion
 * shuttles bytes between the other end and the channel.  At most
 * max_handshakes tunnels are opening or handshaking at once; the rest
 * queue in request order.
 *
 * libssh2 keeps one channel-open in flight per session, so opens are
 * serialised; a target that never answers holds the queue head until the
 * bastion's sshd gives up connecting to it.
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libssh2.h>

#include "err.h"
#include "ssh/ssh-int.h"

#define TUN_BUF			32768		/* per direction, per tunnel */

enum tun_state { TUN_QUEUED, TUN_OPENING, TUN_OPEN, TUN_CLOSING };
enum tun_op { OP_NONE, OP_OPEN, OP_WRITE, OP_EOF, OP_READ, OP_CLOSE };

struct tunnel {
	TAILQ_ENTRY(tunnel)	 entry;
	struct ssh_bastion	*b;
	struct ssh_conn		*host;		/* NULL once the host let go */
	enum tun_state		 state;
	int			 handshaking;
	char			*address;
	int			 port;
	LIBSSH2_CHANNEL		*chan;
	int			 fd;		/* our end of the socketpair */
	struct io_watch		 io;
	uint8_t			 tc[TUN_BUF];	/* socketpair -> channel */
	size_t			 tc_off, tc_len;
	uint8_t			 tf[TUN_BUF];	/* channel -> socketpair */
	size_t			 tf_off, tf_len;
	int			 fd_eof;
	int			 chan_eof;
	int			 eof_sent;
	int			 fd_shut;
};

struct ssh_bastion {
	struct ssh_conn		*conn;
	int			 max_handshakes;
	int			 handshaking;
	TAILQ_HEAD(tunnel_list, tunnel) tunnels;
	struct tunnel		*opening;
	struct tunnel		*stuck;
	enum tun_op		 stuck_op;
	int			 progress;	/* bytes moved this pass */
	int			 dead;		/* the session itself failed */
	int			 gone_err;
	char			*gone_msg;
	int			 freeing;
};

/* ---- tunnels ------------------------------------------------------------ */

static void
tunnel_io_free(struct tunnel *t)
{
	io_watch_free(&t->io);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static void
tunnel_free(struct tunnel *t)
{
	struct ssh_bastion *b = t->b;

	TAILQ_REMOVE(&b->tunnels, t, entry);
	if (b->opening == t)
		b->opening = NULL;
	if (b->stuck == t)
		b->stuck = NULL;
	if (t->handshaking)
		b->handshaking--;
	if (t->host != NULL)
		t->host->tun = NULL;
	tunnel_io_free(t);
	free(t->address);
	free(t);
}

static void
bastion_kick(struct ssh_bastion *b)
{
	if (b != NULL && b->conn != NULL && b->conn->state == SS_BASTION)
		conn_kick(b->conn);
}

/* SS_INIT of a host behind a bastion: wait for its channel, or say why
 * the bastion cannot give one. */
enum step
tunnel_wait(struct ssh_conn *c)
{
	if (c->tun == NULL) {
		conn_fail(c, c->via->gone_err ? c->via->gone_err :
		    KORCH_ERR_EOF, "%s: via bastion: %s", c->where,
		    c->via->gone_msg ? c->via->gone_msg :
		    "the bastion connection is closed");
		return STEP_STOP;
	}
	conn_set_state(c, SS_TUNNEL);
	bastion_kick(c->via);
	return STEP_IDLE;	/* the bastion calls us back */
}

/* The host no longer uses its tunnel (it is gone or freed). */
void
tunnel_detach(struct tunnel *t)
{
	struct ssh_bastion *b = t->b;

	if (t->host != NULL)
		t->host->tun = NULL;
	t->host = NULL;
	if (t->handshaking) {
		t->handshaking = 0;
		b->handshaking--;
	}
	switch (t->state) {
	case TUN_QUEUED:
		tunnel_free(t);
		break;
	case TUN_OPENING:
		break;		/* closed when the open completes */
	case TUN_OPEN:
		t->state = TUN_CLOSING;
		tunnel_io_free(t);
		break;
	case TUN_CLOSING:
		break;
	}
	bastion_kick(b);
}

/* The host authenticated: its handshake slot is free again. */
void
bastion_settled(struct tunnel *t)
{
	if (t->handshaking) {
		t->handshaking = 0;
		t->b->handshaking--;
		bastion_kick(t->b);
	}
}

static void
tunnel_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	conn_io_cb(fd, what, t->b->conn);
}

/* Tell a host its tunnel failed (from the loop, under its guard). */
static void
tunnel_fail_host(struct tunnel *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tunnel_fail_host(struct tunnel *t, int err, const char *fmt, ...)
{
	struct ssh_conn *h = t->host;
	char msg[1024];
	va_list ap;

	if (h == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->host = NULL;
	h->tun = NULL;
	conn_enter(h);
	conn_end(h, err, msg);
	conn_leave(h);
}

/* The channel is open: give the host its socket. */
static int
tunnel_opened(struct tunnel *t, LIBSSH2_CHANNEL *chan)
{
	struct ssh_bastion *b = t->b;
	struct ssh_conn *h = t->host;
	int sv[2];

	t->chan = chan;
	if (h == NULL) {
		t->state = TUN_CLOSING;
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0) {
		t->state = TUN_CLOSING;
		tunnel_fail_host(t, KORCH_ERR_SYSTEM, "%s: socketpair: %s",
		    h->where, strerror(errno));
		return 0;
	}
	t->fd = sv[1];
	t->state = TUN_OPEN;
	if (io_watch_new(&t->io, b->conn->base, t->fd, tunnel_io_cb,
	    t) != 0 || conn_set_fd(h, sv[0]) != 0) {
		h->fd = -1;
		close(sv[0]);
		t->state = TUN_CLOSING;
		tunnel_io_free(t);
		tunnel_fail_host(t, KORCH_ERR_ALLOC, "%s: out of memory",
		    h->where);
		return 0;
	}
	conn_enter(h);
	conn_connected(h);
	conn_kick(h);
	conn_leave(h);
	return 0;
}

/* ---- the pump ----------------------------------------------------------- */

/* 1 if the last libssh2 call left a half-sent packet (ssh-int.h). */
static int
bastion_stuck(struct ssh_bastion *b, struct tunnel *t, enum tun_op op)
{
	if (libssh2_session_block_directions(b->conn->ssh) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND) {
		b->stuck = t;
		b->stuck_op = op;
		return 1;
	}
	return 0;
}

/* A closing tunnel: close and free its channel, then the tunnel itself.
 * Returns 1 when the session is stuck (t lives on), else 0 (t is freed). */
static int
tunnel_close(struct ssh_bastion *b, struct tunnel *t)
{
	int r;

	if (t->chan != NULL) {
		r = libssh2_channel_close(t->chan);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return bastion_stuck(b, t, OP_CLOSE);
		r = libssh2_channel_free(t->chan);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return bastion_stuck(b, t, OP_CLOSE);
		t->chan = NULL;
	}
	tunnel_free(t);
	return 0;
}

/* socketpair -> tc, as much as fits. */
static void
tunnel_fill(struct ssh_bastion *b, struct tunnel *t)
{
	ssize_t n;

	if (t->tc_off > 0 && t->tc_len > 0 && t->tc_off > TUN_BUF / 2) {
		memmove(t->tc, t->tc + t->tc_off, t->tc_len);
		t->tc_off = 0;
	} else if (t->tc_len == 0)
		t->tc_off = 0;
	while (!t->fd_eof && t->tc_off + t->tc_len < TUN_BUF) {
		n = read(t->fd, t->tc + t->tc_off + t->tc_len,
		    TUN_BUF - t->tc_off - t->tc_len);
		if (n > 0) {
			t->tc_len += (size_t)n;
			b->progress = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			t->fd_eof = 1;
		else if (errno == EAGAIN)
			break;
	}
}

/*
 * tc -> channel, then the host's EOF once tc is empty.  A retry (first
 * other than OP_NONE) does only the operation that was cut short.
 * Returns 1 when the session is stuck, -1 when the channel broke, else 0.
 */
static int
tunnel_send(struct ssh_bastion *b, struct tunnel *t, enum tun_op first)
{
	ssize_t n;
	int r;

	if (first == OP_NONE || first == OP_WRITE) {
		while (t->tc_len > 0) {
			n = libssh2_channel_write(t->chan,
			    (const char *)t->tc + t->tc_off, t->tc_len);
			if (n > 0) {
				t->tc_off += (size_t)n;
				t->tc_len -= (size_t)n;
				b->progress = 1;
				continue;
			}
			if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
				if (bastion_stuck(b, t, OP_WRITE))
					return 1;
				break;
			}
			return -1;
		}
	}
	if ((first == OP_NONE || first == OP_EOF) && t->fd_eof &&
	    t->tc_len == 0 && !t->eof_sent) {
		r = libssh2_channel_send_eof(t->chan);
		if (r == LIBSSH2_ERROR_EAGAIN) {
			if (bastion_stuck(b, t, OP_EOF))
				return 1;
		} else if (r != 0)
			return -1;
		else
			t->eof_sent = 1;
	}
	return 0;
}

/*
 * channel -> tf -> socketpair, until one side would block: bytes libssh2
 * already buffered raise no socket event, so do not leave any behind
 * while the socketpair can take them.  Then the channel's EOF, as a
 * shutdown of the host's socket.  Returns 1 when the session is stuck,
 * -1 when the channel broke, else 0.
 */
static int
tunnel_recv(struct ssh_bastion *b, struct tunnel *t)
{
	ssize_t n;

 again:
	if (t->tf_len == 0)
		t->tf_off = 0;
	while (!t->chan_eof && t->tf_off + t->tf_len < TUN_BUF) {
		n = libssh2_channel_read(t->chan,
		    (char *)t->tf + t->tf_off + t->tf_len,
		    TUN_BUF - t->tf_off - t->tf_len);
		if (n > 0) {
			t->tf_len += (size_t)n;
			b->progress = 1;
			continue;
		}
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if (bastion_stuck(b, t, OP_READ))
				return 1;
			break;
		}
		if (n < 0)
			return -1;
		if (libssh2_channel_eof(t->chan))
			t->chan_eof = 1;
		break;
	}
	while (t->tf_len > 0 && t->fd >= 0) {
		n = write(t->fd, t->tf + t->tf_off, t->tf_len);
		if (n > 0) {
			t->tf_off += (size_t)n;
			t->tf_len -= (size_t)n;
		} else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			break;
		else {
			t->tf_len = 0;	/* host end closed */
			t->fd_eof = 1;
		}
	}
	if (t->tf_len == 0 && t->tf_off > 0 && !t->chan_eof && t->fd >= 0)
		goto again;	/* the buffer was full: read on */
	if (t->chan_eof && t->tf_len == 0 && !t->fd_shut && t->fd >= 0) {
		shutdown(t->fd, SHUT_WR);
		t->fd_shut = 1;
	}
	return 0;
}

/* A channel call failed.  Returns 1 when it was the whole session (the
 * bastion is dead), else closes the tunnel as tunnel_close() does. */
static int
tunnel_broken(struct ssh_bastion *b, struct tunnel *t)
{
	switch (libssh2_session_last_errno(b->conn->ssh)) {
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_BAD_USE:
		b->dead = 1;	/* not this channel: the whole session */
		return 1;
	default:
		break;
	}
	t->state = TUN_CLOSING;
	tunnel_io_free(t);
	return tunnel_close(b, t);
}

/*
 * Move bytes for one tunnel, first resuming the operation a stuck session
 * cut short (first; OP_NONE: none).  Returns 1 when the session is stuck.
 * t may be freed on return.
 */
static int
tunnel_pump(struct ssh_bastion *b, struct tunnel *t, enum tun_op first)
{
	int r;

	if (t->state == TUN_CLOSING)
		return tunnel_close(b, t);
	if (t->state != TUN_OPEN)
		return 0;
	/* socketpair -> tc, unless a retry must come first */
	if (first == OP_NONE)
		tunnel_fill(b, t);
	if ((r = tunnel_send(b, t, first)) == 0)
		r = tunnel_recv(b, t);
	if (r < 0)
		return tunnel_broken(b, t);
	if (r > 0)
		return 1;
	if (t->fd_eof && t->eof_sent && (t->chan_eof || t->host == NULL)) {
		t->state = TUN_CLOSING;
		tunnel_io_free(t);
		return tunnel_close(b, t);
	}
	io_watch_want(&t->io, !t->fd_eof && t->tc_off + t->tc_len < TUN_BUF,
	    t->tf_len > 0);
	return 0;
}

/* Start or continue the one channel-open libssh2 allows in flight. */
static int
bastion_open_next(struct ssh_bastion *b)
{
	LIBSSH2_CHANNEL *chan;
	struct tunnel *t;
	int e;

	for (;;) {
		if (b->opening == NULL) {
			if (b->handshaking >= b->max_handshakes)
				return 0;
			TAILQ_FOREACH(t, &b->tunnels, entry)
				if (t->state == TUN_QUEUED)
					break;
			if (t == NULL)
				return 0;
			t->state = TUN_OPENING;
			t->handshaking = 1;
			b->handshaking++;
			b->opening = t;
			if (t->host != NULL)
				conn_timer_start(&t->host->connect_timer);
		}
		t = b->opening;
		chan = libssh2_channel_direct_tcpip_ex(b->conn->ssh,
		    t->address, t->port, "127.0.0.1", 22);
		if (chan == NULL) {
			e = libssh2_session_last_errno(b->conn->ssh);
			if (e == LIBSSH2_ERROR_EAGAIN)
				return bastion_stuck(b, t, OP_OPEN);
			b->opening = NULL;
			t->state = TUN_CLOSING;
			if (t->host != NULL)
				tunnel_fail_host(t, KORCH_ERR_CONNECT, "bastion "
				    "%s cannot reach %s: %s", b->conn->where,
				    t->host->where, ssh_errmsg(b->conn->ssh));
			tunnel_free(t);
			continue;
		}
		b->opening = NULL;
		tunnel_opened(t, chan);
	}
}

/*
 * Bytes left in the bastion's socket that no tunnel could take (its host
 * paused, its buffer full) would wake a level-triggered loop forever.  A
 * zero-length channel read makes libssh2 pull them into its own queue,
 * which each channel's SSH window bounds.  Returns 1 if it read.
 */
static int
bastion_drain(struct ssh_bastion *b)
{
	struct tunnel *t;
	char dummy[1];
	int avail = 0;

	if (b->stuck != NULL || b->conn->fd < 0 ||
	    ioctl(b->conn->fd, FIONREAD, &avail) != 0 || avail <= 0)
		return 0;
	TAILQ_FOREACH(t, &b->tunnels, entry)
		if (t->state == TUN_OPEN && t->chan != NULL) {
			(void)libssh2_channel_read(t->chan, dummy, 0);
			return 1;
		}
	return 0;
}

enum step
bastion_pump(struct ssh_conn *bc)
{
	struct ssh_bastion *b = bc->self_bastion;
	struct tunnel *t, *next;
	enum tun_op op;

	if (b->stuck != NULL) {
		t = b->stuck;
		op = b->stuck_op;
		b->stuck = NULL;
		if (op == OP_OPEN) {
			if (bastion_open_next(b))
				goto out;
		} else if (tunnel_pump(b, t, op))
			goto out;
	}
	if (bastion_open_next(b))
		goto out;
	/*
	 * Reading one channel makes libssh2 read the socket for all of them,
	 * and bytes it queued for a tunnel already pumped this pass raise no
	 * event: pass again until nothing moves.
	 */
	for (;;) {
		do {
			b->progress = 0;
			for (t = TAILQ_FIRST(&b->tunnels); t != NULL;
			    t = next) {
				next = TAILQ_NEXT(t, entry);
				if (tunnel_pump(b, t, OP_NONE))
					goto out;
			}
		} while (b->progress);
		if (!bastion_drain(b))
			break;
	}
 out:
	if (b->dead) {
		conn_fail(bc, KORCH_ERR_EOF, "connection to bastion %s lost: %s",
		    bc->where, ssh_errmsg(bc->ssh));
		return STEP_STOP;
	}
	return STEP_WAIT_SSH;
}

/* Is the bastion carrying (or opening) any channel?  With none, nothing
 * reads its socket, so it must not be watched (an EOF would spin); a dead
 * session shows up at the next channel open. */
int
bastion_busy(const struct ssh_bastion *b)
{
	const struct tunnel *t;

	if (b->stuck != NULL || b->opening != NULL)
		return 1;
	TAILQ_FOREACH(t, &b->tunnels, entry)
		if (t->state == TUN_OPEN || t->state == TUN_CLOSING)
			return 1;
	return 0;
}

/* The bastion's session is going away: its channels go with it. */
void
bastion_drop_tunnels(struct ssh_bastion *b)
{
	struct tunnel *t;

	b->opening = NULL;
	b->stuck = NULL;
	TAILQ_FOREACH(t, &b->tunnels, entry) {
		t->chan = NULL;		/* libssh2_session_free frees them */
		tunnel_io_free(t);
		if (t->state == TUN_OPENING || t->state == TUN_OPEN)
			t->state = TUN_CLOSING;
	}
}

/* ---- the bastion's own session ------------------------------------------ */

static void
bastion_fail_all(struct ssh_bastion *b, int err, const char *msg)
{
	struct tunnel *t;

	while ((t = TAILQ_FIRST(&b->tunnels)) != NULL) {
		if (t->host != NULL)
			tunnel_fail_host(t, err, "%s: via bastion: %s",
			    t->host->where, msg);
		tunnel_free(t);
	}
}

static void
bastion_gone_cb(struct ssh_conn *c, int err, const char *msg, void *arg)
{
	struct ssh_bastion *b = arg;

	(void)c;
	b->gone_err = err != 0 ? err : KORCH_ERR_EOF;
	free(b->gone_msg);
	b->gone_msg = strdup(msg != NULL ? msg : "bastion connection closed");
	bastion_fail_all(b, b->gone_err, b->gone_msg != NULL ? b->gone_msg :
	    "bastion connection closed");
}

/* Called by ssh_conn_start for a host that goes through b. */
int
bastion_attach(struct ssh_bastion *b, struct ssh_conn *c)
{
	struct tunnel *t;

	if (b->freeing)
		return KORCH_ERR_EOF;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->address = strdup(c->address)) == NULL) {
		free(t);
		return KORCH_ERR_ALLOC;
	}
	t->b = b;
	t->host = c;
	t->port = c->port;
	t->fd = -1;
	t->state = TUN_QUEUED;
	if (b->conn == NULL || b->conn->state == SS_GONE) {
		/* Already failed: tunnel_wait tells the host from the loop. */
		free(t->address);
		free(t);
		return 0;
	}
	TAILQ_INSERT_TAIL(&b->tunnels, t, entry);
	c->tun = t;
	return 0;
}

int
ssh_bastion_new(struct event_base *base, const struct ssh_target *t,
    int max_handshakes, struct ssh_bastion **out)
{
	static const struct ssh_conn_cbs cbs = { NULL, NULL, bastion_gone_cb };
	struct ssh_bastion *b;
	int r;

	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	if (t == NULL || t->bastion != NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KORCH_ERR_ALLOC;
	TAILQ_INIT(&b->tunnels);
	b->max_handshakes = max_handshakes > 0 ? max_handshakes : 8;
	if ((r = conn_new(base, t, MODE_BASTION, &b->conn)) != 0) {
		free(b);
		return r;
	}
	b->conn->self_bastion = b;
	b->conn->cbs = cbs;
	b->conn->arg = b;
	conn_begin(b->conn);
	*out = b;
	return 0;
}

void
ssh_bastion_free(struct ssh_bastion *b)
{
	if (b == NULL)
		return;
	b->freeing = 1;
	if (b->conn != NULL && b->conn->state != SS_GONE) {
		b->conn->cbs.gone = NULL;
		conn_release(b->conn);	/* drops the tunnels' channels */
	}
	bastion_fail_all(b, KORCH_ERR_EOF, "the bastion connection was closed");
	if (b->conn != NULL) {
		b->conn->self_bastion = NULL;
		ssh_conn_free(b->conn);
	}
	free(b->gone_msg);
	free(b);
}
