/*
 * ssh.h - the SSH transport: one host's SSH connection to its korch-agent,
 * driven by a libevent loop with non-blocking libssh2, and the bastion
 * (jump host) that can carry many of them.
 *
 * A connection walks a state machine: resolve -> connect -> handshake ->
 * host-key check -> auth -> start agent (upload it first when the remote
 * copy is missing or its hash differs) -> wait for the agent's greeting ->
 * running.  Nothing in here ever blocks the loop: every libssh2 call that
 * returns EAGAIN parks the connection until its socket is ready in the
 * directions libssh2_session_block_directions() reports.
 *
 * The remote command line is a constant (it names only the agent's
 * content-addressed path, derived from the agent build, never from
 * inventory values); parameters travel inside frames.
 *
 * Ownership: the caller owns the ssh_conn and frees it with ssh_conn_free(),
 * which may be called from any callback except that it must be the last
 * thing the callback does with the connection.
 */
#ifndef KORCH_SSH_H
#define KORCH_SSH_H

#include <stddef.h>
#include <stdint.h>

struct agent_image;	/* ssh/agent_image.h */
struct event_base;
struct ssh_conn;
struct ssh_bastion;

struct ssh_target {
	const char	*name;		/* inventory name, for messages */
	const char	*address;	/* host name or IP literal */
	int		 port;
	const char	*user;
	const char	*private_key;	/* path; NULL: use ssh-agent ($SSH_AUTH_SOCK) */
	const char	*known_hosts;	/* path; required */
	int		 accept_new;	/* record unknown host keys (never mismatches,
					 * never a new key type for a host
					 * known_hosts or the pin knows) */
	/* The host key pinned for this host (the state's), or NULL: a host
	 * offering any other key is refused whatever known_hosts says.
	 * pinned_type ("ssh-ed25519", may be NULL) is asked for first. */
	const char	*pinned_fp;
	const char	*pinned_type;
	int		 become_sudo;	/* start the agent through `sudo -n` */
	int		 connect_timeout_ms;	/* TCP connect; then SSH handshake,
						 * restarted by every packet */
	int		 auth_timeout_ms;	/* auth + agent start/upload */
	struct ssh_bastion *bastion;	/* NULL: connect directly */
	/* Added by the transport: whole connection, start to exit; 0: no
	 * limit.  connect/auth timeouts <= 0 mean 10 s / 60 s. */
	int		 overall_timeout_ms;
};

struct ssh_conn_cbs {
	/* The agent printed its greeting: frames may be sent from now on. */
	void	(*ready)(struct ssh_conn *c, void *arg);
	/* Bytes from the agent's stdout after the greeting line. */
	void	(*data)(struct ssh_conn *c, const uint8_t *p, size_t n, void *arg);
	/* Called exactly once when the connection is over, cleanly (err == 0,
	 * the agent exited) or not (err is KORCH_ERR_*, msg says what
	 * happened in words fit for the operator, e.g. both fingerprints on a
	 * host-key mismatch).  No callback follows it. */
	void	(*gone)(struct ssh_conn *c, int err, const char *msg, void *arg);
};

/* Once per process, before anything else (libssh2_init):
 * KORCH_ERR_INTERNAL if libssh2 cannot start.  ssh_global_cleanup(): once,
 * after the last connection is freed. */
int ssh_global_init(void);
void ssh_global_cleanup(void);

/*
 * Start connecting to t (copied; the image is borrowed and must outlive the
 * connection).  Returns 0 and *out, or a KORCH_ERR_* (nothing allocated).
 * Failures after this call arrive through cbs->gone.
 */
int ssh_conn_start(struct event_base *base, const struct ssh_target *t,
    const struct agent_image *img, const struct ssh_conn_cbs *cbs, void *arg,
    struct ssh_conn **out);

/* Queue bytes for the agent's stdin (copied).  KORCH_ERR_EOF if gone or
 * finishing, KORCH_ERR_TOO_LARGE past 64 MiB queued, KORCH_ERR_ALLOC. */
int ssh_conn_send(struct ssh_conn *c, const void *p, size_t n);

/* Bytes queued for the agent's stdin and not yet written (a sender of
 * large content waits for this to fall before queuing more). */
size_t ssh_conn_queued(const struct ssh_conn *c);

/* Stop reading from the agent (backpressure) / resume. */
void ssh_conn_pause(struct ssh_conn *c, int paused);

/* Send EOF on the agent's stdin once the queue drains; gone() follows when
 * the agent has exited. */
void ssh_conn_finish(struct ssh_conn *c);

/* Tear down now (no callback).  NULL-safe. */
void ssh_conn_free(struct ssh_conn *c);

/* "SHA256:base64" of the host key, once known (owned by c); else NULL.
 * ssh_conn_hostkey_type(): its type ("ssh-ed25519"), or NULL. */
const char *ssh_conn_hostkey_fp(const struct ssh_conn *c);
const char *ssh_conn_hostkey_type(const struct ssh_conn *c);
/* 1 when this connection uploaded the agent. */
int ssh_conn_uploaded(const struct ssh_conn *c);
/* Name of the current state, for logs and --json. */
const char *ssh_conn_state(const struct ssh_conn *c);

/*
 * A bastion (jump host): ONE SSH session to it carries every host whose
 * ssh_target.bastion points at it, each as a direct-tcpip channel.  At most
 * max_handshakes hosts (<= 0: 8) are opening or authenticating through it
 * at once, so a burst of hosts never trips the bastion's limits; the rest
 * wait in order (their connect timeout starts when their turn comes).
 * bastion_target->bastion must be NULL and its known_hosts/key settings
 * are the bastion's own.  Starts connecting at once; if it fails, every
 * host using it gets gone() with the bastion's message.
 *
 * ssh_bastion_free: tears it down; hosts still using it get gone()
 * (KORCH_ERR_EOF).  Free it after its hosts, and not from inside an
 * ssh_conn callback.  NULL-safe.
 */
int ssh_bastion_new(struct event_base *base,
    const struct ssh_target *bastion_target, int max_handshakes,
    struct ssh_bastion **out);
void ssh_bastion_free(struct ssh_bastion *b);

#endif
