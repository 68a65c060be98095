/*
 * ssh-int.h - what the files of controller/ssh/ share behind ssh.h: the
 * connection's state machine, struct ssh_conn, and each file's entry
 * points.  Nothing outside controller/ssh/ includes it.
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
 * libssh2 non-blocking rule that shapes the pumps (pump.c, bastion.c): once
 * a call returned EAGAIN with LIBSSH2_SESSION_BLOCK_OUTBOUND set, a packet
 * is half sent and the next sending call on that session must be the same
 * call again (anything else gets LIBSSH2_ERROR_BAD_USE).  So a pump that
 * sees that stops and resumes with the same operation first.
 *
 * The files, in the order a connection meets them:
 *   conn.c     lifetime, events and timers, the state machine
 *   connect.c  name resolution (a shared evdns base) and TCP connect
 *   auth.c     SSH session setup, handshake, host key check, user auth
 *   boot.c     the agent's start command and its greeting
 *   upload.c   the agent's upload over SFTP when the host lacks it
 *   pump.c     the running agent: stdin queue, stdout, exit
 *   errtail.c  the agent's stderr kept for messages
 *   bastion.c  the jump host carrying many connections as channels
 *   ssh.c      the public API (ssh.h)
 */
#ifndef KORCH_SSH_INT_H
#define KORCH_SSH_INT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/util.h>
#include <libssh2.h>
#include <libssh2_sftp.h>

#include "sha256hex.h"
#include "ssh/known_hosts.h"
#include "ssh/ssh.h"

#define SSH_READ_CHUNK		32768
#define SSH_STDERR_MAX		8192		/* agent stderr kept (the tail) */
#define SSH_NOISE_MAX		160		/* first noise line, as quoted */
#define SSH_LINE_MAX		1024		/* greeting search, per line */

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

/* What conn_step() tells conn_run(). */
enum step {
	STEP_NEXT,		/* progress: step again */
	STEP_WAIT_SSH,		/* libssh2 said EAGAIN: wait for its directions */
	STEP_WAIT_CONNECT,	/* TCP connect in progress: wait writable */
	STEP_IDLE,		/* nothing to do until someone kicks us */
	STEP_STOP,		/* gone (or freed) */
};

enum conn_mode { MODE_AGENT, MODE_BASTION };

struct resolve_req;
struct dns_ref;
struct tunnel;

/* A socket's read and write events, and which of them are armed. */
struct io_watch {
	struct event		*ev_rd;
	struct event		*ev_wr;
	int			 want_rd;
	int			 want_wr;
};

/* One of a connection's timers (created once); when it fires the
 * connection fails with "<which> timeout after <ms> ms". */
struct conn_timer {
	struct event		*ev;
	struct ssh_conn		*c;
	const char		*which;		/* "connect", "auth", "overall" */
	int			 ms;
};

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
	char			*pin_fp;	/* the state's pin, or NULL */
	char			*pin_type;	/* its key type, or NULL */
	int			 port;
	int			 accept_new;
	int			 become_sudo;
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
	struct io_watch		 io;
	struct event		*ev_kick;
	struct conn_timer	 connect_timer;
	struct conn_timer	 auth_timer;
	struct conn_timer	 overall_timer;

	/* libssh2. */
	LIBSSH2_SESSION		*ssh;
	LIBSSH2_AGENT		*agent;
	struct libssh2_agent_publickey *ident;
	int			 idents_tried;
	LIBSSH2_CHANNEL		*chan;
	LIBSSH2_SFTP		*sftp;
	LIBSSH2_SFTP_HANDLE	*sfh;
	char			 fp[KH_FP_MAX];
	int			 hostkey_type;	/* LIBSSH2_HOSTKEY_TYPE_* */

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
	char			 boot_err[SSH_NOISE_MAX * 2 + 1];

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

/* The state's name, for debug output and ssh_conn_state(). */
const char *conn_state_name(enum ssh_state s);

/*
 * conn.c: diagnostics.  ssh_dbg() writes to stderr only under $KORCH_DEBUG;
 * ssh_errmsg() is libssh2's last error (static text, never NULL).
 */
int ssh_debug_on(void);
void ssh_dbg(const struct ssh_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *ssh_errmsg(LIBSSH2_SESSION *s);
void conn_set_state(struct ssh_conn *c, enum ssh_state s);

/*
 * conn.c: lifetime.  conn_new() copies t into a new connection in SS_INIT
 * (KORCH_ERR_INVALID_ARG or KORCH_ERR_ALLOC: nothing allocated);
 * conn_begin() arms its timers and takes the first step from the loop;
 * conn_destroy() frees it all, at once.  conn_enter()/conn_leave()
 * bracket work that calls out; conn_leave() returns 1 when c was freed
 * meanwhile and is now gone.  conn_release() drops everything on the
 * network (idempotent); conn_end()/conn_fail() release and tell gone()
 * once (err 0: a clean end).
 */
int conn_new(struct event_base *base, const struct ssh_target *t,
    enum conn_mode mode, struct ssh_conn **out);
void conn_begin(struct ssh_conn *c);
void conn_destroy(struct ssh_conn *c);
void conn_enter(struct ssh_conn *c);
int conn_leave(struct ssh_conn *c);
void conn_release(struct ssh_conn *c);
void conn_end(struct ssh_conn *c, int err, const char *msg);
void conn_fail(struct ssh_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * conn.c: events and timers.  An io_watch starts zeroed; io_watch_new()
 * returns KORCH_ERR_ALLOC with nothing held.  conn_set_fd() makes fd the
 * connection's socket, closed by conn_release(); on KORCH_ERR_ALLOC the
 * caller closes fd and resets c->fd.
 * conn_kick() steps c soon, from the loop, never from inside the caller.
 */
int io_watch_new(struct io_watch *w, struct event_base *base, int fd,
    event_callback_fn cb, void *arg);
void io_watch_want(struct io_watch *w, int rd, int wr);
void io_watch_free(struct io_watch *w);
void conn_io_cb(evutil_socket_t fd, short what, void *arg);
void conn_kick(struct ssh_conn *c);
int conn_set_fd(struct ssh_conn *c, int fd);
/* Arm t for its ms from now (again, if it was armed). */
void conn_timer_start(struct conn_timer *t);

/*
 * The states' steps, each called by conn_step() for its states.  A step
 * that fails calls conn_fail() and returns STEP_STOP.
 */
/* conn.c: the end of a step that is done with the channel: free it (again
 * after EAGAIN), then go on to next. */
enum step conn_chan_free(struct ssh_conn *c, enum ssh_state next);
/* connect.c; resolve_release() is conn_release()'s part. */
enum step step_init(struct ssh_conn *c);
enum step step_resolve(struct ssh_conn *c);
enum step step_connect(struct ssh_conn *c);
void resolve_release(struct ssh_conn *c);

/* auth.c; conn_connected(): the socket is up (TCP or a bastion's
 * channel), start the SSH session.  hostkey_type_name(): "ssh-ed25519"
 * for LIBSSH2_HOSTKEY_TYPE_ED25519, ... ("unknown"). */
const char *hostkey_type_name(int type);
void conn_connected(struct ssh_conn *c);
enum step step_handshake(struct ssh_conn *c);
enum step step_auth_key(struct ssh_conn *c);
enum step step_auth_agent(struct ssh_conn *c);

/* boot.c; boot_prepare(): the agent's path and start command for c->img
 * (only KORCH_ERR_ALLOC).  boot_script(): the constant sh script the
 * command runs (become: the root one), for docs and tests. */
int boot_prepare(struct ssh_conn *c);
const char *boot_script(int become);
enum step step_exec_open(struct ssh_conn *c);
enum step step_exec(struct ssh_conn *c);
enum step step_greeting(struct ssh_conn *c);

/* upload.c; step_sftp() runs every SS_SFTP_* state. */
enum step step_exec_close(struct ssh_conn *c);
enum step step_sftp(struct ssh_conn *c);

/* pump.c */
enum step step_running(struct ssh_conn *c);
enum step step_closing(struct ssh_conn *c);
enum step step_disconnect(struct ssh_conn *c);

/*
 * errtail.c.  ssh_printable(): n bytes of s as one NUL-terminated line
 * in out.  stderr_summary(): the kept stderr tail as one line.
 * drain_stderr*(): read stderr until libssh2 has none; the last read's
 * result (0 or LIBSSH2_ERROR_*), *got counts the bytes.
 */
void ssh_printable(char *out, size_t outlen, const char *s, size_t n);
void stderr_summary(const struct ssh_conn *c, char *out, size_t outlen);
ssize_t drain_stderr_n(struct ssh_conn *c, size_t *got);
ssize_t drain_stderr(struct ssh_conn *c);
int stderr_has(const struct ssh_conn *c, const char *needle);

/*
 * bastion.c: what a host behind a bastion and the bastion's own session
 * call.  tunnel_wait() is a host's SS_INIT step; tunnel_detach() lets go
 * of its tunnel (conn_release); bastion_settled() frees its handshake
 * slot once authenticated; bastion_attach() queues it (ssh_conn_start:
 * 0, KORCH_ERR_ALLOC, KORCH_ERR_EOF when the bastion is being freed).
 * bastion_pump() is the bastion session's SS_BASTION step;
 * bastion_busy() says whether its socket must be watched;
 * bastion_drop_tunnels() forgets the channels its session frees.
 */
enum step tunnel_wait(struct ssh_conn *c);
void tunnel_detach(struct tunnel *t);
void bastion_settled(struct tunnel *t);
int bastion_attach(struct ssh_bastion *b, struct ssh_conn *c);
enum step bastion_pump(struct ssh_conn *bc);
int bastion_busy(const struct ssh_bastion *b);
void bastion_drop_tunnels(struct ssh_bastion *b);

#endif
