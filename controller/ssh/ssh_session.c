/*
 * ssh_session.c - one host's SSH connection to its korch-agent, and the
 * bastion that can carry many of them.  See ssh_session.h.
 *
 * Each connection is a state machine (enum ssh_state, changed only in
 * conn_set_state()) stepped by conn_run() whenever its socket is ready, a
 * timer fires or the caller queues work.  conn_step() runs one state's
 * libssh2 call; on EAGAIN the connection waits for exactly the directions
 * libssh2_session_block_directions() reports (curl's ssh_block2waitfor()
 * idea), so nothing blocks the loop and nothing spins.
 *
 * Teardown has one path, conn_fail()/conn_end() -> conn_release(), and the
 * caller hears about it through one gone() callback.  Because the caller
 * may free the connection from inside any callback, every entry from the
 * loop brackets its work with conn_enter()/conn_leave() and checks
 * c->freed after calling out (tmux's proc.c peer pattern).
 *
 * libssh2 non-blocking rule that shapes the pumps below: once a call
 * returned EAGAIN with LIBSSH2_SESSION_BLOCK_OUTBOUND set, a packet is half
 * sent and the next sending call on that session must be the same call
 * again (anything else gets LIBSSH2_ERROR_BAD_USE).  So a pump that sees
 * that stops and resumes with the same operation first.
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/rand.h>

#include "err.h"
#include "ssh/known_hosts.h"
#include "ssh/ssh_session.h"
#include "wire.h"
#include "sha256hex.h"

#define SSH_OUTQ_MAX		(64u << 20)	/* queued for the agent's stdin */
#define SSH_READ_CHUNK		32768
#define SSH_STDERR_MAX		8192		/* agent stderr kept (the tail) */
#define SSH_NOISE_MAX		160		/* first noise line, as quoted */
#define SSH_LINE_MAX		1024		/* greeting search, per line */
#define SSH_UPLOAD_CHUNK	(256u * 1024)
#define SSH_DEF_CONNECT_MS	10000
#define SSH_DEF_AUTH_MS		60000
#define SSH_NEED_AGENT		"KORCH-NEED-AGENT"
#define TUN_BUF			32768		/* per direction, per tunnel */

/* Preferences: modern first.  Unsupported names are dropped by libssh2. */
static const char ssh_kex_pref[] =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,"
    "diffie-hellman-group-exchange-sha256";

struct hostkey_alg {
	int		 type;		/* LIBSSH2_HOSTKEY_TYPE_* */
	const char	*name;
};
static const struct hostkey_alg hostkey_algs[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519,		"ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256,	"ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384,	"ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521,	"ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA,		"ssh-rsa" },
};

enum ssh_state {
	SS_INIT,
	SS_RESOLVE,
	SS_TUNNEL,		/* waiting for a bastion channel */
	SS_CONNECT,
	SS_HANDSHAKE,
	SS_AUTH_KEY,
	SS_AUTH_AGENT,
	SS_EXEC_OPEN,
	SS_EXEC,
	SS_GREETING,
	SS_EXEC_CLOSE,		/* drop the bootstrap before an upload */
	SS_SFTP_INIT,
	SS_SFTP_MKDIR,
	SS_SFTP_OPEN,
	SS_SFTP_WRITE,
	SS_SFTP_CHMOD,
	SS_SFTP_CLOSE,
	SS_SFTP_UNLINK,
	SS_SFTP_RENAME,
	SS_SFTP_CLEANUP,
	SS_SFTP_SHUTDOWN,
	SS_RUNNING,
	SS_CLOSING,
	SS_DISCONNECT,
	SS_BASTION,		/* bastion: authenticated, carrying tunnels */
	SS_GONE,
	SS__COUNT
};

static const char *const ssh_state_names[SS__COUNT] = {
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

/* What conn_step() tells conn_run(). */
enum step {
	STEP_NEXT,		/* progress: step again */
	STEP_WAIT_SSH,		/* libssh2 said EAGAIN: wait for its directions */
	STEP_WAIT_CONNECT,	/* TCP connect in progress: wait writable */
	STEP_IDLE,		/* nothing to do until someone kicks us */
	STEP_STOP,		/* gone (or freed) */
};

enum conn_mode { MODE_AGENT, MODE_BASTION };

enum greet { GREET_MORE, GREET_FOUND, GREET_NEED };

struct resolve_req;
struct dns_ref;
struct tunnel;

struct ssh_conn {
	struct event_base	*base;
	enum conn_mode		 mode;
	enum ssh_state		 state;

	/* The target, copied. */
	char			*name;
	char			*address;
	char			*user;
	char			*private_key;
	char			*public_key;	/* private + ".pub" if present */
	char			*known_hosts;
	int			 port;
	int			 accept_new;
	int			 become_sudo;
	int			 connect_ms;
	int			 auth_ms;
	int			 overall_ms;
	struct ssh_bastion	*via;		/* carried by this bastion */
	struct ssh_bastion	*self_bastion;	/* MODE_BASTION: our owner */
	char			*where;		/* "node2 (198.18.1.12:22)" */
	char			 hostspec[KH_HOSTSPEC_MAX];

	const struct agent_image *img;
	struct ssh_conn_cbs	 cbs;
	void			*arg;
	char			*boot_cmd;

	/* Resolve and connect. */
	struct dns_ref		*dns;
	struct resolve_req	*rr;
	int			 resolve_err;
	struct evutil_addrinfo	*ai;
	struct evutil_addrinfo	*ai_next;
	int			 ai_tried;
	char			 connect_err[160];
	struct tunnel		*tun;
	int			 fd;

	/* Events, created once (io events once per socket). */
	struct event		*ev_rd;
	struct event		*ev_wr;
	int			 want_rd;
	int			 want_wr;
	struct event		*ev_kick;
	struct event		*connect_timer;
	struct event		*auth_timer;
	struct event		*overall_timer;

	/* libssh2. */
	LIBSSH2_SESSION		*ssh;
	LIBSSH2_AGENT		*agent;
	struct libssh2_agent_publickey *ident;
	int			 idents_tried;
	LIBSSH2_CHANNEL		*chan;
	LIBSSH2_SFTP		*sftp;
	LIBSSH2_SFTP_HANDLE	*sfh;
	char			 fp[KH_FP_MAX];

	/* Agent start and upload. */
	char			 tmp_path[160];
	char			 final_path[128];
	size_t			 up_off;
	int			 uploaded;
	int			 replace_target;
	int			 rename_failed;
	char			 line[SSH_LINE_MAX];
	size_t			 line_len;
	int			 line_long;
	char			 noise_first[SSH_NOISE_MAX + 1];
	size_t			 noise_lines;
	uint32_t		 greet_ver;
	char			 greet_hash[SHA256_HEX_SIZE];

	/* Running. */
	struct evbuffer		*outq;		/* to the agent's stdin */
	struct evbuffer		*inq;		/* from stdout, not delivered */
	int			 paused;
	int			 finishing;
	int			 eof_sent;
	int			 remote_eof;
	char			 errtail[SSH_STDERR_MAX];
	size_t			 errlen;
	int			 errcut;

	/* Lifetime. */
	int			 busy;
	int			 freed;
	int			 gone_called;
};

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
	struct event		*ev_rd;
	struct event		*ev_wr;
	int			 want_rd;
	int			 want_wr;
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

static int ssh_debug = -1;

static void conn_run(struct ssh_conn *);
static void conn_kick(struct ssh_conn *);
static void conn_release(struct ssh_conn *);
static void conn_fail(struct ssh_conn *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_connected(struct ssh_conn *);
static void tunnel_detach(struct tunnel *);
static void bastion_kick(struct ssh_bastion *);
static void bastion_settled(struct tunnel *);
static void bastion_drop_tunnels(struct ssh_bastion *);
static enum step bastion_pump(struct ssh_conn *);
static int bastion_attach(struct ssh_bastion *, struct ssh_conn *);
static int bastion_busy(const struct ssh_bastion *);

/* ---- small helpers ------------------------------------------------------ */

static int
debug_on(void)
{
	const char *v;

	if (ssh_debug < 0) {
		v = getenv("KORCH_DEBUG");
		ssh_debug = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	}
	return ssh_debug;
}

static void dbg(const struct ssh_conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
dbg(const struct ssh_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (!debug_on())
		return;
	fprintf(stderr, "korch: ssh %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The one place a connection changes state. */
static void
conn_set_state(struct ssh_conn *c, enum ssh_state s)
{
	if (c->state == s)
		return;
	dbg(c, "%s -> %s", ssh_state_names[c->state], ssh_state_names[s]);
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


/* Copy s into out as one printable line (control bytes become '?'). */
static void
printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = (ch == '\t') ? ' ' :
		    (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[o] = '\0';
}

static const char *
ssh_errmsg(LIBSSH2_SESSION *s)
{
	char *m = NULL;
	int len = 0;

	if (s == NULL)
		return "no session";
	libssh2_session_last_error(s, &m, &len, 0);
	return m != NULL && *m != '\0' ? m : "unknown libssh2 error";
}

static const char *
sftp_errmsg(LIBSSH2_SFTP *sftp)
{
	switch (sftp != NULL ? libssh2_sftp_last_error(sftp) : 0) {
	case LIBSSH2_FX_NO_SUCH_FILE:		return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED:	return "permission denied";
	case LIBSSH2_FX_FAILURE:		return "failure";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:	return "file exists";
	case LIBSSH2_FX_WRITE_PROTECT:		return "read-only file system";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:	return "no space left";
	case LIBSSH2_FX_QUOTA_EXCEEDED:		return "quota exceeded";
	case LIBSSH2_FX_NO_SUCH_PATH:		return "no such path";
	case LIBSSH2_FX_NOT_A_DIRECTORY:	return "not a directory";
	default:				return "SFTP error";
	}
}

static const char *
hostkey_type_name(int type)
{
	size_t i;

	for (i = 0; i < sizeof(hostkey_algs) / sizeof(hostkey_algs[0]); i++)
		if (hostkey_algs[i].type == type)
			return hostkey_algs[i].name;
	return type == LIBSSH2_HOSTKEY_TYPE_DSS ? "ssh-dss" : "unknown";
}

/* The tail of the agent's stderr as one line, for messages. */
static void
stderr_summary(const struct ssh_conn *c, char *out, size_t outlen)
{
	size_t start = 0, end = c->errlen, i, o = 0;

	while (end > 0 && (c->errtail[end - 1] == '\n' ||
	    c->errtail[end - 1] == '\r' || c->errtail[end - 1] == ' '))
		end--;
	if (end > 600)
		start = end - 600;
	if (outlen == 0)
		return;
	if (start > 0 || c->errcut) {
		o = (size_t)snprintf(out, outlen, "...");
		if (o >= outlen)
			o = outlen - 1;
	}
	for (i = start; i < end && o + 4 < outlen; i++) {
		unsigned char ch = (unsigned char)c->errtail[i];

		if (ch == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else
			out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[o] = '\0';
}

static void
stderr_collect(struct ssh_conn *c, const char *p, size_t n)
{
	size_t keep;

	if (n >= sizeof(c->errtail)) {
		p += n - sizeof(c->errtail) / 2;
		n = sizeof(c->errtail) / 2;
		c->errlen = 0;
		c->errcut = 1;
	}
	if (c->errlen + n > sizeof(c->errtail)) {
		keep = sizeof(c->errtail) / 2;
		if (keep > c->errlen)
			keep = c->errlen;
		memmove(c->errtail, c->errtail + c->errlen - keep, keep);
		c->errlen = keep;
		c->errcut = 1;
	}
	memcpy(c->errtail + c->errlen, p, n);
	c->errlen += n;
}

/* ---- the evdns base, shared per event base ------------------------------ */

/*
 * One evdns_base per event_base, shared by the connections that need a
 * name resolved and by requests still in flight.  It is freed from a
 * zero-delay one-shot event once nothing refers to it, never from inside
 * an evdns callback.  A resolve whose connection went away is not
 * cancelled (cancelling leaves evdns callbacks pending that would outlive
 * a freed evdns_base); it finishes on its own and is dropped.
 */
struct dns_ref {
	struct dns_ref		*next;
	struct event_base	*base;
	struct evdns_base	*dns;
	int			 refs;
	int			 reaping;
};
static struct dns_ref *dns_refs;

struct resolve_req {
	struct ssh_conn		*c;		/* NULL once orphaned */
	struct dns_ref		*ref;
};

static struct dns_ref *
dns_get(struct event_base *base)
{
	struct dns_ref *d;

	for (d = dns_refs; d != NULL; d = d->next)
		if (d->base == base) {
			d->refs++;
			return d;
		}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base = base;
	d->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->dns == NULL) {
		free(d);
		return NULL;
	}
	d->refs = 1;
	d->next = dns_refs;
	dns_refs = d;
	return d;
}

static void
dns_reap(evutil_socket_t fd, short what, void *arg)
{
	struct dns_ref *d = arg, **pp;

	(void)fd;
	(void)what;
	d->reaping = 0;
	if (d->refs > 0)
		return;
	for (pp = &dns_refs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	evdns_base_free(d->dns, 0);
	free(d);
}

static void
dns_put(struct dns_ref *d)
{
	struct timeval zero = { 0, 0 };

	if (d == NULL || --d->refs > 0 || d->reaping)
		return;
	if (event_base_once(d->base, -1, EV_TIMEOUT, dns_reap, d, &zero) == 0)
		d->reaping = 1;
}

static void
resolve_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct resolve_req *rr = arg;
	struct ssh_conn *c = rr->c;

	if (c == NULL) {
		/* The connection is gone: drop the answer. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
	} else {
		c->rr = NULL;
		c->ai = res;
		c->resolve_err = result;
		if (result == 0 && res == NULL)
			c->resolve_err = EVUTIL_EAI_FAIL;
		conn_kick(c);	/* never call out from inside evdns */
	}
	dns_put(rr->ref);
	free(rr);
}

/* ---- lifetime ----------------------------------------------------------- */

static void
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

static void
conn_enter(struct ssh_conn *c)
{
	c->busy++;
}

/* Returns 1 when c was destroyed. */
static int
conn_leave(struct ssh_conn *c)
{
	if (--c->busy == 0 && c->freed) {
		conn_destroy(c);
		return 1;
	}
	return 0;
}

static void
conn_io_free(struct ssh_conn *c)
{
	if (c->ev_rd != NULL)
		event_free(c->ev_rd);
	if (c->ev_wr != NULL)
		event_free(c->ev_wr);
	c->ev_rd = c->ev_wr = NULL;
	c->want_rd = c->want_wr = 0;
}

/*
 * Free everything the connection holds on the network.  Idempotent.  The
 * socket is shut down first so libssh2's own cleanup (which may try to
 * send a close) fails at once instead of waiting.
 */
static void
conn_release(struct ssh_conn *c)
{
	if (c->rr != NULL) {
		c->rr->c = NULL;	/* orphan; resolve_cb drops it */
		c->rr = NULL;
	}
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
	conn_io_free(c);
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
	if (c->dns != NULL) {
		dns_put(c->dns);
		c->dns = NULL;
	}
}

/*
 * The one "gone" path: release, then tell the caller once.  err 0 is a
 * clean end.
 */
static void
conn_end(struct ssh_conn *c, int err, const char *msg)
{
	if (c->state == SS_GONE)
		return;
	conn_enter(c);
	conn_release(c);
	conn_set_state(c, SS_GONE);
	if (err != 0)
		dbg(c, "gone: %s", msg);
	if (!c->freed && !c->gone_called && c->cbs.gone != NULL) {
		c->gone_called = 1;
		c->cbs.gone(c, err, msg, c->arg);
	}
	conn_leave(c);
}

static void
conn_fail(struct ssh_conn *c, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_end(c, err, msg);
}

/* ---- events -------------------------------------------------------------- */

static void
conn_want(struct ssh_conn *c, int rd, int wr)
{
	if (c->ev_rd == NULL)
		return;
	if (rd != c->want_rd) {
		if (rd)
			event_add(c->ev_rd, NULL);
		else
			event_del(c->ev_rd);
		c->want_rd = rd;
	}
	if (wr != c->want_wr) {
		if (wr)
			event_add(c->ev_wr, NULL);
		else
			event_del(c->ev_wr);
		c->want_wr = wr;
	}
}

static void timer_start(struct event *, int);

static void
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
		timer_start(c->connect_timer, c->connect_ms);
	conn_enter(c);
	conn_run(c);
	conn_leave(c);
}

static void
conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_io_cb(fd, what, arg);
}

static void
conn_kick(struct ssh_conn *c)
{
	if (c->ev_kick != NULL && !c->freed && c->state != SS_GONE)
		event_active(c->ev_kick, EV_TIMEOUT, 1);
}

static int
conn_set_fd(struct ssh_conn *c, int fd)
{
	conn_io_free(c);
	c->fd = fd;
	c->ev_rd = event_new(c->base, fd, EV_READ | EV_PERSIST, conn_io_cb, c);
	c->ev_wr = event_new(c->base, fd, EV_WRITE | EV_PERSIST, conn_io_cb, c);
	if (c->ev_rd == NULL || c->ev_wr == NULL) {
		conn_io_free(c);
		return KORCH_ERR_ALLOC;
	}
	return 0;
}

static void
timer_start(struct event *ev, int ms)
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
	conn_want(c, rd, wr);
}

/* ---- resolve and connect ------------------------------------------------- */

static int
numeric_addr(const char *a)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return evutil_inet_pton(AF_INET, a, buf) == 1 ||
	    evutil_inet_pton(AF_INET6, a, buf) == 1;
}

static enum step
step_init(struct ssh_conn *c)
{
	struct evutil_addrinfo hints;
	struct resolve_req *rr;
	struct evdns_getaddrinfo_request *req;
	char port[16];
	int r;

	if (c->via != NULL) {
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
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%d", c->port);
	if (numeric_addr(c->address)) {
		/* IP literal: no lookup, nothing can block. */
		hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
		r = evutil_getaddrinfo(c->address, port, &hints, &c->ai);
		if (r != 0) {
			conn_fail(c, KORCH_ERR_RESOLVE, "%s: bad address: %s",
			    c->where, evutil_gai_strerror(r));
			return STEP_STOP;
		}
		c->ai_next = c->ai;
		conn_set_state(c, SS_CONNECT);
		return STEP_NEXT;
	}
	if ((c->dns = dns_get(c->base)) == NULL ||
	    (rr = calloc(1, sizeof(*rr))) == NULL) {
		conn_fail(c, KORCH_ERR_ALLOC, "%s: cannot start name "
		    "resolution", c->where);
		return STEP_STOP;
	}
	rr->c = c;
	rr->ref = c->dns;
	c->dns->refs++;		/* the request holds its own reference */
	c->rr = rr;
	conn_set_state(c, SS_RESOLVE);
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	req = evdns_getaddrinfo(c->dns->dns, c->address, port, &hints,
	    resolve_cb, rr);
	(void)req;	/* answered now (rr freed) or later; never cancelled */
	return c->rr == NULL ? STEP_NEXT : STEP_IDLE;
}

static enum step
step_resolve(struct ssh_conn *c)
{
	if (c->rr != NULL)
		return STEP_IDLE;
	if (c->resolve_err != 0) {
		conn_fail(c, KORCH_ERR_RESOLVE, "cannot resolve the address "
		    "of %s: %s", c->where, evutil_gai_strerror(c->resolve_err));
		return STEP_STOP;
	}
	c->ai_next = c->ai;
	conn_set_state(c, SS_CONNECT);
	return STEP_NEXT;
}

static void
note_connect_err(struct ssh_conn *c, const struct evutil_addrinfo *ai, int e)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *a = NULL;

	if (ai->ai_family == AF_INET)
		a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
	else if (ai->ai_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
	if (a != NULL)
		evutil_inet_ntop(ai->ai_family, a, host, sizeof(host));
	snprintf(c->connect_err, sizeof(c->connect_err), "%s (%s)",
	    strerror(e), host);
}

static enum step
step_connect(struct ssh_conn *c)
{
	struct evutil_addrinfo *ai;
	socklen_t len;
	int fd, e = 0;

	if (c->fd >= 0) {
		/* Woken by writability: did the connect work? */
		len = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
			e = errno;
		if (e == 0) {
			conn_connected(c);
			return c->state == SS_GONE ? STEP_STOP : STEP_NEXT;
		}
		note_connect_err(c, c->ai_next, e);
		conn_io_free(c);
		close(c->fd);
		c->fd = -1;
		c->ai_next = c->ai_next->ai_next;
	}
	while ((ai = c->ai_next) != NULL) {
		c->ai_tried++;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			note_connect_err(c, ai, errno);
			c->ai_next = ai->ai_next;
			continue;
		}
		if (conn_set_fd(c, fd) != 0) {
			close(fd);
			c->fd = -1;
			conn_fail(c, KORCH_ERR_ALLOC, "%s: out of memory",
			    c->where);
			return STEP_STOP;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			conn_connected(c);
			return c->state == SS_GONE ? STEP_STOP : STEP_NEXT;
		}
		if (errno == EINPROGRESS)
			return STEP_WAIT_CONNECT;
		note_connect_err(c, ai, errno);
		conn_io_free(c);
		close(fd);
		c->fd = -1;
		c->ai_next = ai->ai_next;
	}
	conn_fail(c, KORCH_ERR_CONNECT, "cannot connect to %s: %s%s",
	    c->where, c->connect_err[0] ? c->connect_err : "no address",
	    c->ai_tried > 1 ? " (and every other address)" : "");
	return STEP_STOP;
}

/* Build the host key preference: types known_hosts has for us first. */
static int
hostkey_pref(struct ssh_conn *c, char *out, size_t outlen)
{
	unsigned known = 0;
	size_t i, o = 0;
	int pass, n;

	if (kh_known_types(c->known_hosts, c->hostspec, &known) != 0)
		return KORCH_ERR_SYSTEM;
	out[0] = '\0';
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < sizeof(hostkey_algs) / sizeof(hostkey_algs[0]);
		    i++) {
			int isknown = (known >> hostkey_algs[i].type) & 1;

			if (isknown != (pass == 0))
				continue;
			n = snprintf(out + o, outlen - o, "%s%s", o ? "," : "",
			    hostkey_algs[i].name);
			if (n < 0 || (size_t)n >= outlen - o)
				return KORCH_ERR_INTERNAL;
			o += (size_t)n;
		}
	return 0;
}

/* TCP (or the bastion's channel) is up: start the SSH session. */
static void
conn_connected(struct ssh_conn *c)
{
	char pref[256];
	int one = 1;

	if (c->via == NULL)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (hostkey_pref(c, pref, sizeof(pref)) != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot read known_hosts file "
		    "%s: %s", c->known_hosts, strerror(errno));
		return;
	}
	c->ssh = libssh2_session_init_ex(NULL, NULL, NULL, c);
	if (c->ssh == NULL) {
		conn_fail(c, KORCH_ERR_ALLOC, "%s: cannot create an SSH "
		    "session", c->where);
		return;
	}
	libssh2_session_set_blocking(c->ssh, 0);
	if (libssh2_session_method_pref(c->ssh, LIBSSH2_METHOD_KEX,
	    ssh_kex_pref) != 0 ||
	    libssh2_session_method_pref(c->ssh, LIBSSH2_METHOD_HOSTKEY,
	    pref) != 0) {
		conn_fail(c, KORCH_ERR_SSH, "%s: cannot set SSH algorithm "
		    "preferences: %s", c->where, ssh_errmsg(c->ssh));
		return;
	}
	conn_set_state(c, SS_HANDSHAKE);
}

/* ---- handshake, host key, auth ------------------------------------------ */

static int
check_hostkey(struct ssh_conn *c)
{
	const char *key, *sha;
	struct kh_result res;
	size_t len = 0;
	int type = 0, line = 0;

	key = libssh2_session_hostkey(c->ssh, &len, &type);
	if (key == NULL) {
		conn_fail(c, KORCH_ERR_SSH, "%s did not present a host key",
		    c->where);
		return -1;
	}
	sha = libssh2_hostkey_hash(c->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (sha != NULL)
		kh_fp_from_sha256((const unsigned char *)sha, c->fp);
	else
		kh_fp_from_blob(key, len, c->fp);
	if (kh_check(c->known_hosts, c->hostspec, key, len, type,
	    &res) != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot read known_hosts file "
		    "%s: %s", c->known_hosts, strerror(errno));
		return -1;
	}
	switch (res.status) {
	case KH_MATCH:
		dbg(c, "host key %s matches %s line %d", c->fp,
		    c->known_hosts, res.line);
		return 0;
	case KH_MISMATCH:
		conn_fail(c, KORCH_ERR_HOSTKEY_MISMATCH, "host key for %s does "
		    "not match known_hosts: expected %s, got %s (%s line %d); "
		    "if the host was reinstalled, remove that line", c->where,
		    res.expected_fp, c->fp, c->known_hosts, res.line);
		return -1;
	case KH_UNKNOWN:
		break;
	}
	if (!c->accept_new) {
		conn_fail(c, KORCH_ERR_HOSTKEY_UNKNOWN, "host key for %s is not "
		    "in known_hosts %s (the host offered %s %s); check it and "
		    "add it, or allow recording new host keys (accept_new)",
		    c->where, c->known_hosts, hostkey_type_name(type), c->fp);
		return -1;
	}
	if (kh_add(c->known_hosts, c->hostspec, key, len, type, &line) != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot record the host key of "
		    "%s in %s: %s", c->where, c->known_hosts, strerror(errno));
		return -1;
	}
	dbg(c, "recorded new host key %s %s as %s line %d",
	    hostkey_type_name(type), c->fp, c->known_hosts, line);
	return 0;
}

static enum step
step_handshake(struct ssh_conn *c)
{
	int r;

	r = libssh2_session_handshake(c->ssh, c->fd);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r != 0) {
		if (r == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
		    r == LIBSSH2_ERROR_SOCKET_RECV ||
		    r == LIBSSH2_ERROR_BANNER_RECV)
			conn_fail(c, KORCH_ERR_SSH, "%s closed the connection "
			    "during the SSH handshake (%s): not an SSH server, "
			    "or sshd refused us (MaxStartups, tcp wrappers)?",
			    c->where, ssh_errmsg(c->ssh));
		else
			conn_fail(c, KORCH_ERR_SSH, "SSH handshake with %s "
			    "failed: %s", c->where, ssh_errmsg(c->ssh));
		return STEP_STOP;
	}
	if (check_hostkey(c) != 0)
		return STEP_STOP;
	evtimer_del(c->connect_timer);
	timer_start(c->auth_timer, c->auth_ms);
	conn_set_state(c, c->private_key != NULL ? SS_AUTH_KEY :
	    SS_AUTH_AGENT);
	return STEP_NEXT;
}

static enum step
auth_done(struct ssh_conn *c)
{
	if (c->agent != NULL) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
		c->agent = NULL;
		c->ident = NULL;
	}
	dbg(c, "authenticated as %s", c->user);
	if (c->tun != NULL)
		bastion_settled(c->tun);
	if (c->mode == MODE_BASTION) {
		evtimer_del(c->auth_timer);
		conn_set_state(c, SS_BASTION);
	} else
		conn_set_state(c, SS_EXEC_OPEN);
	return STEP_NEXT;
}

static enum step
step_auth_key(struct ssh_conn *c)
{
	int r;

	r = libssh2_userauth_publickey_fromfile_ex(c->ssh, c->user,
	    (unsigned)strlen(c->user), c->public_key, c->private_key, NULL);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r == 0)
		return auth_done(c);
	if (r == LIBSSH2_ERROR_FILE)
		conn_fail(c, KORCH_ERR_AUTH, "cannot use private key %s for %s: "
		    "%s (passphrase-protected keys need ssh-agent: leave "
		    "private_key unset)", c->private_key, c->where,
		    ssh_errmsg(c->ssh));
	else
		conn_fail(c, KORCH_ERR_AUTH, "%s refused key %s for user %s: %s",
		    c->where, c->private_key, c->user, ssh_errmsg(c->ssh));
	return STEP_STOP;
}

/*
 * ssh-agent: libssh2 talks to the agent's unix socket with blocking I/O
 * (connect, list, sign).  That is a local socket answering in
 * microseconds, so we accept the short block; the SSH side of the
 * exchange stays non-blocking.
 */
static enum step
step_auth_agent(struct ssh_conn *c)
{
	struct libssh2_agent_publickey *next = NULL;
	int r;

	if (c->agent == NULL) {
		if (getenv("SSH_AUTH_SOCK") == NULL) {
			conn_fail(c, KORCH_ERR_AUTH, "no private_key given for "
			    "%s and no ssh-agent to ask ($SSH_AUTH_SOCK is not "
			    "set)", c->where);
			return STEP_STOP;
		}
		if ((c->agent = libssh2_agent_init(c->ssh)) == NULL) {
			conn_fail(c, KORCH_ERR_ALLOC, "%s: cannot start the "
			    "ssh-agent client", c->where);
			return STEP_STOP;
		}
		if (libssh2_agent_connect(c->agent) != 0 ||
		    libssh2_agent_list_identities(c->agent) != 0) {
			conn_fail(c, KORCH_ERR_AUTH, "cannot use ssh-agent at "
			    "$SSH_AUTH_SOCK for %s: %s", c->where,
			    ssh_errmsg(c->ssh));
			return STEP_STOP;
		}
		r = libssh2_agent_get_identity(c->agent, &c->ident, NULL);
		if (r != 0) {
			conn_fail(c, KORCH_ERR_AUTH, "ssh-agent has no keys to "
			    "log in to %s as %s", c->where, c->user);
			return STEP_STOP;
		}
	}
	r = libssh2_agent_userauth(c->agent, c->user, c->ident);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r == 0)
		return auth_done(c);
	c->idents_tried++;
	if (libssh2_agent_get_identity(c->agent, &next, c->ident) != 0) {
		conn_fail(c, KORCH_ERR_AUTH, "%s refused all %d key%s from "
		    "ssh-agent for user %s", c->where, c->idents_tried,
		    c->idents_tried == 1 ? "" : "s", c->user);
		return STEP_STOP;
	}
	c->ident = next;
	return STEP_NEXT;
}

/* ---- agent start --------------------------------------------------------- */

static enum step
step_exec_open(struct ssh_conn *c)
{
	c->chan = libssh2_channel_open_session(c->ssh);
	if (c->chan == NULL) {
		if (libssh2_session_last_errno(c->ssh) == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		conn_fail(c, KORCH_ERR_SSH, "%s: cannot open a session channel: "
		    "%s", c->where, ssh_errmsg(c->ssh));
		return STEP_STOP;
	}
	conn_set_state(c, SS_EXEC);
	return STEP_NEXT;
}

static enum step
step_exec(struct ssh_conn *c)
{
	int r;

	r = libssh2_channel_exec(c->chan, c->boot_cmd);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r != 0) {
		conn_fail(c, KORCH_ERR_SSH, "%s: cannot start the agent "
		    "bootstrap command: %s", c->where, ssh_errmsg(c->ssh));
		return STEP_STOP;
	}
	c->line_len = 0;
	c->line_long = 0;
	conn_set_state(c, SS_GREETING);
	return STEP_NEXT;
}

static void
note_noise(struct ssh_conn *c, const char *p, size_t n)
{
	size_t i = 0;

	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == n)
		return;
	c->noise_lines++;
	if (c->noise_first[0] == '\0')
		printable(c->noise_first, sizeof(c->noise_first), p + i,
		    n - i > SSH_NOISE_MAX ? SSH_NOISE_MAX : n - i);
	if (debug_on()) {
		char tmp[SSH_NOISE_MAX + 1];

		printable(tmp, sizeof(tmp), p, n > SSH_NOISE_MAX ?
		    SSH_NOISE_MAX : n);
		dbg(c, "login noise: %s", tmp);
	}
}

/* A whole line of the bootstrap's stdout. */
static enum greet
greet_line(struct ssh_conn *c)
{
	const char *line = c->line, *m;
	size_t len = c->line_len, glen = sizeof(KP_GREETING) - 1;
	uint32_t ver;
	char hash[SHA256_HEX_SIZE];

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (!c->line_long) {
		/* The marker may follow noise that had no newline. */
		m = memmem(line, len, KP_GREETING " ", glen + 1);
		if (m != NULL && kp_greeting_parse(m,
		    len - (size_t)(m - line), &ver, hash) == 0) {
			if (m > line)
				note_noise(c, line, (size_t)(m - line));
			c->greet_ver = ver;
			memcpy(c->greet_hash, hash, sizeof(c->greet_hash));
			return GREET_FOUND;
		}
		if (len == sizeof(SSH_NEED_AGENT) - 1 &&
		    memcmp(line, SSH_NEED_AGENT, len) == 0)
			return GREET_NEED;
	}
	note_noise(c, line, len);
	return GREET_MORE;
}

static enum greet
greet_feed(struct ssh_conn *c, const char *p, size_t n, size_t *used)
{
	enum greet g;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (c->line_len < sizeof(c->line))
				c->line[c->line_len++] = p[i];
			else
				c->line_long = 1;
			continue;
		}
		g = greet_line(c);
		c->line_len = 0;
		c->line_long = 0;
		if (g != GREET_MORE) {
			*used = i + 1;
			return g;
		}
	}
	*used = n;
	return GREET_MORE;
}

/* Read the agent's stderr until libssh2 has no more; *got counts. */
static ssize_t
drain_stderr_n(struct ssh_conn *c, size_t *got)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = libssh2_channel_read_stderr(c->chan, buf, sizeof(buf));
		if (n <= 0)
			return n;
		stderr_collect(c, buf, (size_t)n);
		*got += (size_t)n;
	}
}

static ssize_t
drain_stderr(struct ssh_conn *c)
{
	size_t got = 0;

	return drain_stderr_n(c, &got);
}

static int
stderr_has(const struct ssh_conn *c, const char *needle)
{
	return memmem(c->errtail, c->errlen, needle, strlen(needle)) != NULL;
}

/* The bootstrap ended before greeting. */
static enum step
greet_eof(struct ssh_conn *c)
{
	char err[700];

	if (c->line_len > 0 && greet_line(c) == GREET_NEED) {
		c->line_len = 0;
		conn_set_state(c, SS_EXEC_CLOSE);
		return STEP_NEXT;
	}
	stderr_summary(c, err, sizeof(err));
	if (c->become_sudo && stderr_has(c, "sudo:")) {
		if (stderr_has(c, "password is required") ||
		    stderr_has(c, "terminal is required"))
			conn_fail(c, KORCH_ERR_SUDO, "sudo on %s wants a "
			    "password for %s (sudo -n said: %s); give the user "
			    "passwordless sudo (NOPASSWD) or turn become_sudo "
			    "off", c->where, c->user, err);
		else
			conn_fail(c, KORCH_ERR_SUDO, "sudo on %s refused to "
			    "start the agent as root: %s", c->where, err);
		return STEP_STOP;
	}
	if (c->noise_first[0] != '\0')
		conn_fail(c, KORCH_ERR_NO_GREETING, "no greeting from the "
		    "korch agent on %s: the command ended after printing "
		    "\"%s\" (%zu line%s) -- is the login shell printing to "
		    "stdout? (.bashrc)%s%s", c->where, c->noise_first,
		    c->noise_lines, c->noise_lines == 1 ? "" : "s",
		    *err ? "; stderr: " : "", err);
	else
		conn_fail(c, KORCH_ERR_NO_GREETING, "no greeting from the "
		    "korch agent on %s: the command ended without output%s%s",
		    c->where, *err ? "; stderr: " : "", err);
	return STEP_STOP;
}

static enum step
greet_found(struct ssh_conn *c, const char *rest, size_t restlen)
{
	if (strcmp(c->greet_hash, c->img->sha256) != 0) {
		if (c->uploaded) {
			conn_fail(c, KORCH_ERR_HASH_MISMATCH, "the agent "
			    "uploaded to %s reports build %.12s, expected "
			    "%.12s: the upload was damaged or the image's "
			    "hash is wrong", c->where, c->greet_hash,
			    c->img->sha256);
			return STEP_STOP;
		}
		dbg(c, "remote agent is build %.12s, want %.12s: replacing",
		    c->greet_hash, c->img->sha256);
		c->replace_target = 1;
		conn_set_state(c, SS_EXEC_CLOSE);
		return STEP_NEXT;
	}
	if (c->greet_ver != KP_VERSION) {
		conn_fail(c, KORCH_ERR_VERSION, "the agent on %s speaks "
		    "protocol %u, this korch speaks %d", c->where,
		    c->greet_ver, KP_VERSION);
		return STEP_STOP;
	}
	evtimer_del(c->auth_timer);
	if (restlen > 0 && evbuffer_add(c->inq, rest, restlen) != 0) {
		conn_fail(c, KORCH_ERR_ALLOC, "%s: out of memory", c->where);
		return STEP_STOP;
	}
	conn_set_state(c, SS_RUNNING);
	if (c->cbs.ready != NULL)
		c->cbs.ready(c, c->arg);
	if (c->freed || c->state == SS_GONE)
		return STEP_STOP;
	return STEP_NEXT;
}

static enum step
step_greeting(struct ssh_conn *c)
{
	char buf[SSH_READ_CHUNK];
	enum greet g;
	size_t used;
	ssize_t n;

	n = drain_stderr(c);
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
		goto fail;
	n = libssh2_channel_read(c->chan, buf, sizeof(buf));
	if (n == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (n < 0)
		goto fail;
	if (n == 0) {
		if (libssh2_channel_eof(c->chan)) {
			(void)drain_stderr(c);
			return greet_eof(c);
		}
		return STEP_WAIT_SSH;
	}
	g = greet_feed(c, buf, (size_t)n, &used);
	if (g == GREET_FOUND)
		return greet_found(c, buf + used, (size_t)n - used);
	if (g == GREET_NEED) {
		if (c->uploaded) {
			conn_fail(c, KORCH_ERR_AGENT, "uploaded the agent to "
			    "%s but %s is still not there or not executable%s",
			    c->where, c->final_path, c->rename_failed ?
			    " (renaming the upload into place failed)" :
			    " (is the home directory mounted noexec?)");
			return STEP_STOP;
		}
		conn_set_state(c, SS_EXEC_CLOSE);
	}
	return STEP_NEXT;
 fail:
	conn_fail(c, KORCH_ERR_EOF, "%s: connection lost while starting the "
	    "agent: %s", c->where, ssh_errmsg(c->ssh));
	return STEP_STOP;
}

/* ---- agent upload --------------------------------------------------------- */

static enum step
step_exec_close(struct ssh_conn *c)
{
	int r;

	r = libssh2_channel_close(c->chan);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	r = libssh2_channel_free(c->chan);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	c->chan = NULL;
	conn_set_state(c, SS_SFTP_INIT);
	return STEP_NEXT;
}

static enum step
step_sftp(struct ssh_conn *c)
{
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	unsigned char rnd[8];
	size_t left;
	ssize_t n;
	int r;

	switch (c->state) {
	case SS_SFTP_INIT:
		c->sftp = libssh2_sftp_init(c->ssh);
		if (c->sftp == NULL) {
			if (libssh2_session_last_errno(c->ssh) ==
			    LIBSSH2_ERROR_EAGAIN)
				return STEP_WAIT_SSH;
			conn_fail(c, KORCH_ERR_SSH, "cannot start SFTP on %s to "
			    "upload the agent: %s (is the sftp subsystem "
			    "enabled in sshd_config?)", c->where,
			    ssh_errmsg(c->ssh));
			return STEP_STOP;
		}
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			conn_fail(c, KORCH_ERR_INTERNAL, "no randomness");
			return STEP_STOP;
		}
		snprintf(c->tmp_path, sizeof(c->tmp_path),
		    "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", c->final_path,
		    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
		    rnd[7]);
		c->up_off = 0;
		conn_set_state(c, SS_SFTP_MKDIR);
		return STEP_NEXT;
	case SS_SFTP_MKDIR:
		r = libssh2_sftp_mkdir_ex(c->sftp, ".korch", 6, 0700);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		/* Already there is fine (OpenSSH says "failure" for it);
		 * anything really wrong shows up at open. */
		conn_set_state(c, SS_SFTP_OPEN);
		return STEP_NEXT;
	case SS_SFTP_OPEN:
		c->sfh = libssh2_sftp_open_ex(c->sftp, c->tmp_path,
		    (unsigned)strlen(c->tmp_path), LIBSSH2_FXF_WRITE |
		    LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC | LIBSSH2_FXF_EXCL,
		    0700, LIBSSH2_SFTP_OPENFILE);
		if (c->sfh == NULL) {
			if (libssh2_session_last_errno(c->ssh) ==
			    LIBSSH2_ERROR_EAGAIN)
				return STEP_WAIT_SSH;
			conn_fail(c, KORCH_ERR_SYSTEM, "cannot create %s in the "
			    "home directory of %s on %s: %s", c->tmp_path,
			    c->user, c->where, sftp_errmsg(c->sftp));
			return STEP_STOP;
		}
		conn_set_state(c, SS_SFTP_WRITE);
		return STEP_NEXT;
	case SS_SFTP_WRITE:
		while (c->up_off < c->img->len) {
			left = c->img->len - c->up_off;
			if (left > SSH_UPLOAD_CHUNK)
				left = SSH_UPLOAD_CHUNK;
			n = libssh2_sftp_write(c->sfh,
			    (const char *)c->img->data + c->up_off, left);
			if (n == LIBSSH2_ERROR_EAGAIN)
				return STEP_WAIT_SSH;
			if (n < 0) {
				conn_fail(c, KORCH_ERR_SYSTEM, "uploading the "
				    "agent to %s failed at byte %zu: %s",
				    c->where, c->up_off, sftp_errmsg(c->sftp));
				return STEP_STOP;
			}
			c->up_off += (size_t)n;
		}
		conn_set_state(c, SS_SFTP_CHMOD);
		return STEP_NEXT;
	case SS_SFTP_CHMOD:
		/* Mode 0700 whatever the server's umask did to open(). */
		memset(&attrs, 0, sizeof(attrs));
		attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
		attrs.permissions = 0700;
		r = libssh2_sftp_fsetstat(c->sfh, &attrs);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		if (r != 0) {
			conn_fail(c, KORCH_ERR_SYSTEM, "cannot make the agent "
			    "on %s executable: %s", c->where,
			    sftp_errmsg(c->sftp));
			return STEP_STOP;
		}
		conn_set_state(c, SS_SFTP_CLOSE);
		return STEP_NEXT;
	case SS_SFTP_CLOSE:
		r = libssh2_sftp_close_handle(c->sfh);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		c->sfh = NULL;
		if (r != 0) {
			conn_fail(c, KORCH_ERR_SYSTEM, "writing the agent to %s "
			    "failed on close: %s", c->where,
			    sftp_errmsg(c->sftp));
			return STEP_STOP;
		}
		conn_set_state(c, c->replace_target ? SS_SFTP_UNLINK :
		    SS_SFTP_RENAME);
		return STEP_NEXT;
	case SS_SFTP_UNLINK:
		/* A damaged copy sits at the final name; SFTP v3 rename does
		 * not overwrite. */
		r = libssh2_sftp_unlink_ex(c->sftp, c->final_path,
		    (unsigned)strlen(c->final_path));
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		conn_set_state(c, SS_SFTP_RENAME);
		return STEP_NEXT;
	case SS_SFTP_RENAME:
		r = libssh2_sftp_rename_ex(c->sftp, c->tmp_path,
		    (unsigned)strlen(c->tmp_path), c->final_path,
		    (unsigned)strlen(c->final_path),
		    LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
		    LIBSSH2_SFTP_RENAME_NATIVE);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		if (r != 0) {
			/* Most likely another run put the same build there
			 * first; the greeting will tell. */
			dbg(c, "rename %s -> %s: %s", c->tmp_path,
			    c->final_path, sftp_errmsg(c->sftp));
			c->rename_failed = 1;
			conn_set_state(c, SS_SFTP_CLEANUP);
		} else
			conn_set_state(c, SS_SFTP_SHUTDOWN);
		return STEP_NEXT;
	case SS_SFTP_CLEANUP:
		r = libssh2_sftp_unlink_ex(c->sftp, c->tmp_path,
		    (unsigned)strlen(c->tmp_path));
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		conn_set_state(c, SS_SFTP_SHUTDOWN);
		return STEP_NEXT;
	case SS_SFTP_SHUTDOWN:
		r = libssh2_sftp_shutdown(c->sftp);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		c->sftp = NULL;
		c->uploaded = 1;
		dbg(c, "uploaded %zu bytes to %s", c->img->len, c->final_path);
		conn_set_state(c, SS_EXEC_OPEN);
		return STEP_NEXT;
	default:
		conn_fail(c, KORCH_ERR_INTERNAL, "bad SFTP state");
		return STEP_STOP;
	}
}

/* ---- running ------------------------------------------------------------- */

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

static enum step
step_running(struct ssh_conn *c)
{
	uint8_t buf[SSH_READ_CHUNK];
	struct evbuffer_iovec v;
	size_t got;
	ssize_t n;
	int r;

	/* 1. Queued input for the agent. */
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
				return STEP_WAIT_SSH;	/* retry this first */
			break;				/* window full */
		}
		goto lost;
	}
	if (c->finishing && !c->eof_sent &&
	    evbuffer_get_length(c->outq) == 0) {
		r = libssh2_channel_send_eof(c->chan);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		if (r != 0)
			goto lost;
		c->eof_sent = 1;
	}

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

static enum step
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
		printable(signame, sizeof(signame), sig, siglen);
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
	r = libssh2_channel_free(c->chan);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	c->chan = NULL;
	conn_set_state(c, SS_DISCONNECT);
	return STEP_NEXT;
}

static enum step
step_disconnect(struct ssh_conn *c)
{
	int r;

	r = libssh2_session_disconnect(c->ssh, "korch: done");
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	conn_end(c, 0, "the agent exited");
	return STEP_STOP;
}

/* ---- the state machine --------------------------------------------------- */

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

/* ---- public API ----------------------------------------------------------- */

int
ssh_global_init(void)
{
	return libssh2_init(0) == 0 ? 0 : KORCH_ERR_INTERNAL;
}

void
ssh_global_cleanup(void)
{
	kh_cache_flush();
	libssh2_exit();
}

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

static int
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
static void
conn_begin(struct ssh_conn *c)
{
	if (c->via == NULL)
		timer_start(c->connect_timer, c->connect_ms);
	if (c->overall_ms > 0)
		timer_start(c->overall_timer, c->overall_ms);
	conn_kick(c);
}

int
ssh_conn_start(struct event_base *base, const struct ssh_target *t,
    const struct agent_image *img, const struct ssh_conn_cbs *cbs, void *arg,
    struct ssh_conn **out)
{
	struct ssh_conn *c;
	int r;

	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	if (img == NULL || cbs == NULL || img->data == NULL ||
	    img->len == 0 || !sha256_hex_valid(img->sha256))
		return KORCH_ERR_INVALID_ARG;
	if ((r = conn_new(base, t, MODE_AGENT, &c)) != 0)
		return r;
	c->img = img;
	c->cbs = *cbs;
	c->arg = arg;
	/* Constant but for the build hash (64 hex digits, checked above):
	 * nothing from the inventory reaches the remote shell. */
	snprintf(c->final_path, sizeof(c->final_path), ".korch/agent-%s",
	    img->sha256);
	/*
	 * Run by the login shell itself, no `sh -c` around it: one exec
	 * (the agent) instead of two per host and run.  `test`, `&&`, `;`,
	 * `exec` and "$HOME" mean the same in sh, bash, zsh, csh and fish.
	 */
	if (asprintf(&c->boot_cmd, "test -x \"$HOME/.korch/agent-%s\" && "
	    "exec %s\"$HOME/.korch/agent-%s\" serve; echo " SSH_NEED_AGENT,
	    img->sha256, c->become_sudo ? "sudo -n " : "", img->sha256) < 0) {
		c->boot_cmd = NULL;
		conn_destroy(c);
		return KORCH_ERR_ALLOC;
	}
	if (c->via != NULL && (r = bastion_attach(c->via, c)) != 0) {
		conn_destroy(c);
		return r;
	}
	conn_begin(c);
	*out = c;
	return 0;
}

int
ssh_conn_send(struct ssh_conn *c, const void *p, size_t n)
{
	if (c == NULL || c->freed || c->state == SS_GONE || c->remote_eof)
		return KORCH_ERR_EOF;
	if (c->finishing)
		return KORCH_ERR_EOF;	/* EOF already promised */
	if (n == 0)
		return 0;
	if (n > SSH_OUTQ_MAX - evbuffer_get_length(c->outq))
		return KORCH_ERR_TOO_LARGE;
	if (evbuffer_add(c->outq, p, n) != 0)
		return KORCH_ERR_ALLOC;
	if (c->state == SS_RUNNING)
		conn_kick(c);
	return 0;
}

size_t
ssh_conn_queued(const struct ssh_conn *c)
{
	if (c == NULL || c->freed || c->outq == NULL)
		return 0;
	return evbuffer_get_length(c->outq);
}

void
ssh_conn_pause(struct ssh_conn *c, int paused)
{
	if (c == NULL || c->freed)
		return;
	paused = paused != 0;
	if (c->paused == paused)
		return;
	c->paused = paused;
	if (c->state == SS_RUNNING) {
		if (paused)
			conn_want(c, 0, c->want_wr);
		else
			conn_kick(c);	/* libssh2 may hold data already */
	}
}

void
ssh_conn_finish(struct ssh_conn *c)
{
	if (c == NULL || c->freed || c->finishing)
		return;
	c->finishing = 1;
	if (c->state == SS_RUNNING)
		conn_kick(c);
}

void
ssh_conn_free(struct ssh_conn *c)
{
	if (c == NULL || c->freed)
		return;
	c->freed = 1;
	conn_release(c);
	if (c->state != SS_GONE)
		conn_set_state(c, SS_GONE);
	if (c->busy == 0)
		conn_destroy(c);
	/* else conn_leave() destroys it when the stack unwinds */
}

const char *
ssh_conn_hostkey_fp(const struct ssh_conn *c)
{
	return c != NULL && c->fp[0] != '\0' ? c->fp : NULL;
}

int
ssh_conn_uploaded(const struct ssh_conn *c)
{
	return c != NULL && c->uploaded;
}

const char *
ssh_conn_state(const struct ssh_conn *c)
{
	if (c == NULL || c->state >= SS__COUNT)
		return "none";
	return ssh_state_names[c->state];
}

/* ---- bastion --------------------------------------------------------------- */

/*
 * One SSH session to the bastion carries every host's connection as a
 * direct-tcpip channel.  libssh2 needs a socket per session, so each host
 * gets one end of a socketpair and the bastion shuttles bytes between the
 * other end and the channel.  At most max_handshakes tunnels are opening
 * or handshaking at once; the rest queue in request order.
 *
 * libssh2 keeps one channel-open in flight per session, so opens are
 * serialised; a target that never answers holds the queue head until the
 * bastion's sshd gives up connecting to it.
 */
static void
tunnel_io_free(struct tunnel *t)
{
	if (t->ev_rd != NULL)
		event_free(t->ev_rd);
	if (t->ev_wr != NULL)
		event_free(t->ev_wr);
	t->ev_rd = t->ev_wr = NULL;
	t->want_rd = t->want_wr = 0;
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

/* The host no longer uses its tunnel (it is gone or freed). */
static void
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
static void
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

static void
tunnel_want(struct tunnel *t, int rd, int wr)
{
	if (t->ev_rd == NULL)
		return;
	if (rd != t->want_rd) {
		if (rd)
			event_add(t->ev_rd, NULL);
		else
			event_del(t->ev_rd);
		t->want_rd = rd;
	}
	if (wr != t->want_wr) {
		if (wr)
			event_add(t->ev_wr, NULL);
		else
			event_del(t->ev_wr);
		t->want_wr = wr;
	}
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
	t->ev_rd = event_new(b->conn->base, t->fd, EV_READ | EV_PERSIST,
	    tunnel_io_cb, t);
	t->ev_wr = event_new(b->conn->base, t->fd, EV_WRITE | EV_PERSIST,
	    tunnel_io_cb, t);
	t->state = TUN_OPEN;
	if (t->ev_rd == NULL || t->ev_wr == NULL ||
	    conn_set_fd(h, sv[0]) != 0) {
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

/* 1 if the last libssh2 call left a half-sent packet (see top). */
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

/* Move bytes for one tunnel.  Returns 1 when the session is stuck. */
static int
tunnel_pump(struct ssh_bastion *b, struct tunnel *t, enum tun_op first)
{
	ssize_t n;
	int r;

	if (t->state == TUN_CLOSING) {
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
	if (t->state != TUN_OPEN)
		return 0;

	/* socketpair -> tc, unless a retry must come first */
	if (first == OP_NONE) {
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
	/* tc -> channel */
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
			goto broken;
		}
	}
	if ((first == OP_NONE || first == OP_EOF) && t->fd_eof &&
	    t->tc_len == 0 && !t->eof_sent) {
		r = libssh2_channel_send_eof(t->chan);
		if (r == LIBSSH2_ERROR_EAGAIN) {
			if (bastion_stuck(b, t, OP_EOF))
				return 1;
		} else if (r != 0)
			goto broken;
		else
			t->eof_sent = 1;
	}
	/* channel -> tf -> socketpair, until one side would block: bytes
	 * libssh2 already buffered raise no socket event, so do not leave
	 * any behind while the socketpair can take them. */
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
			goto broken;
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
	if (t->tf_len == 0 && t->tf_off > 0 && !t->chan_eof && t->fd >= 0) {
		first = OP_NONE;
		goto again;	/* the buffer was full: read on */
	}
	if (t->chan_eof && t->tf_len == 0 && !t->fd_shut && t->fd >= 0) {
		shutdown(t->fd, SHUT_WR);
		t->fd_shut = 1;
	}
	if (t->fd_eof && t->eof_sent && (t->chan_eof || t->host == NULL)) {
		t->state = TUN_CLOSING;
		tunnel_io_free(t);
		return tunnel_pump(b, t, OP_NONE);
	}
	tunnel_want(t, !t->fd_eof && t->tc_off + t->tc_len < TUN_BUF,
	    t->tf_len > 0);
	return 0;
 broken:
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
	return tunnel_pump(b, t, OP_NONE);
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
				timer_start(t->host->connect_timer,
				    t->host->connect_ms);
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

static enum step
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
static int
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
static void
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
static int
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
		/* Already failed: step_init tells the host from the loop. */
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
