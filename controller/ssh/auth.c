/*
 * auth.c - from a connected socket to an authenticated SSH session: the
 * algorithm preferences (host key types known_hosts already records for
 * this host first), the handshake, the host key check against
 * known_hosts, and user authentication with a key file or ssh-agent.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libssh2.h>

#include "err.h"
#include "ssh/ssh-int.h"

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

const char *
hostkey_type_name(int type)
{
	size_t i;

	for (i = 0; i < sizeof(hostkey_algs) / sizeof(hostkey_algs[0]); i++)
		if (hostkey_algs[i].type == type)
			return hostkey_algs[i].name;
	return type == LIBSSH2_HOSTKEY_TYPE_DSS ? "ssh-dss" : "unknown";
}

/* Build the host key preference: the pinned type first, then the types
 * known_hosts has for us, then the rest. */
static int
hostkey_pref(struct ssh_conn *c, char *out, size_t outlen)
{
	unsigned known = 0, pinned = 0;
	size_t i, o = 0;
	int pass, n;

	if (kh_known_types(c->known_hosts, c->hostspec, &known) != 0)
		return KORCH_ERR_SYSTEM;
	for (i = 0; c->pin_type != NULL &&
	    i < sizeof(hostkey_algs) / sizeof(hostkey_algs[0]); i++)
		if (strcmp(hostkey_algs[i].name, c->pin_type) == 0)
			pinned = 1u << hostkey_algs[i].type;
	out[0] = '\0';
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < sizeof(hostkey_algs) / sizeof(hostkey_algs[0]);
		    i++) {
			unsigned bit = 1u << hostkey_algs[i].type;
			int which = (pinned & bit) ? 0 : (known & bit) ? 1 : 2;

			if (which != pass)
				continue;
			n = snprintf(out + o, outlen - o, "%s%s", o ? "," : "",
			    hostkey_algs[i].name);
			if (n < 0 || (size_t)n >= outlen - o)
				return KORCH_ERR_INTERNAL;
			o += (size_t)n;
		}
	return 0;
}

/* The names of the key types in mask (1 << LIBSSH2_HOSTKEY_TYPE_*). */
static void
type_names(unsigned mask, char *out, size_t outlen)
{
	size_t i, o = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < sizeof(hostkey_algs) / sizeof(hostkey_algs[0]); i++) {
		if (!(mask & (1u << hostkey_algs[i].type)))
			continue;
		n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "",
		    hostkey_algs[i].name);
		if (n < 0 || (size_t)n >= outlen - o)
			return;
		o += (size_t)n;
	}
	if (mask & (1u << LIBSSH2_HOSTKEY_TYPE_DSS))
		snprintf(out + o, outlen - o, "%sssh-dss", o ? ", " : "");
}

/* TCP (or the bastion's channel) is up: start the SSH session. */
void
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
	unsigned known = 0;
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
	c->hostkey_type = type;
	if (kh_check(c->known_hosts, c->hostspec, key, len, type,
	    &res) != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot read known_hosts file "
		    "%s: %s", c->known_hosts, strerror(errno));
		return -1;
	}
	if (res.status == KH_REVOKED) {
		conn_fail(c, KORCH_ERR_HOSTKEY_MISMATCH, "host key of %s (%s "
		    "%s) is revoked (@revoked, %s line %d): refusing it",
		    c->where, hostkey_type_name(type), c->fp, c->known_hosts,
		    res.line);
		return -1;
	}
	/* The pin holds whatever known_hosts says: an attacker who can
	 * edit known_hosts (or an operator who ran ssh-keyscan) cannot
	 * swap the key without `korch hosts trust`. */
	if (c->pin_fp != NULL && strcmp(c->pin_fp, c->fp) != 0) {
		conn_fail(c, KORCH_ERR_HOSTKEY_MISMATCH, "host key of %s "
		    "changed: korch pinned %s %s when it first reached the "
		    "host, and the host now offers %s %s; a pin holds even "
		    "when known_hosts lists the new key.  If the host was "
		    "reinstalled and this is its new key, run `korch hosts "
		    "trust %s`, then run again", c->where, c->pin_type != NULL ?
		    c->pin_type : "key", c->pin_fp, hostkey_type_name(type),
		    c->fp, c->name);
		return -1;
	}
	switch (res.status) {
	case KH_MATCH:
		ssh_dbg(c, "host key %s matches %s line %d", c->fp,
		    c->known_hosts, res.line);
		return 0;
	case KH_MISMATCH:
		conn_fail(c, KORCH_ERR_HOSTKEY_MISMATCH, "host key for %s does "
		    "not match known_hosts: expected %s, got %s (%s line %d); "
		    "if the host was reinstalled, remove that line", c->where,
		    res.expected_fp, c->fp, c->known_hosts, res.line);
		return -1;
	case KH_CERT_AUTHORITY:
		conn_fail(c, KORCH_ERR_HOSTKEY_UNKNOWN, "known_hosts %s line "
		    "%d trusts a certificate authority (@cert-authority) for "
		    "%s, but korch does not check host certificates: list the "
		    "host's own key (%s %s, once checked) in known_hosts",
		    c->known_hosts, res.line, c->where,
		    hostkey_type_name(type), c->fp);
		return -1;
	case KH_REVOKED:
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
	/* A host known_hosts knows by another key type offers this one
	 * only if it lost that key -- or if it is not the host. */
	if (kh_known_types(c->known_hosts, c->hostspec, &known) != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot read known_hosts file "
		    "%s: %s", c->known_hosts, strerror(errno));
		return -1;
	}
	if (known != 0) {
		char names[128];

		type_names(known, names, sizeof(names));
		conn_fail(c, KORCH_ERR_HOSTKEY_UNKNOWN, "host %s offered a %s "
		    "key (%s), but known_hosts %s has its %s key: "
		    "--accept-new-hostkeys never adds a key of another type "
		    "for a known host.  If the host really changed its keys, "
		    "check the new one and put it in known_hosts yourself",
		    c->where, hostkey_type_name(type), c->fp, c->known_hosts,
		    names);
		return -1;
	}
	if (kh_add(c->known_hosts, c->hostspec, key, len, type, &line) != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot record the host key of "
		    "%s in %s: %s", c->where, c->known_hosts, strerror(errno));
		return -1;
	}
	ssh_dbg(c, "recorded new host key %s %s as %s line %d",
	    hostkey_type_name(type), c->fp, c->known_hosts, line);
	return 0;
}

enum step
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
	evtimer_del(c->connect_timer.ev);
	conn_timer_start(&c->auth_timer);
	conn_set_state(c, c->private_key != NULL ? SS_AUTH_KEY :
	    SS_AUTH_AGENT);
	return STEP_NEXT;
}

/*
 * The server went away while we authenticated (sshd's LoginGraceTime,
 * MaxStartups, a crash or restart): that is no refused key, and saying
 * it was sends the operator to check authorized_keys for nothing.
 */
static int
auth_dropped(struct ssh_conn *c, int r)
{
	ssize_t n = 1;
	char b;

	/* libssh2 reports a peer gone mid-auth as a socket error, or (the
	 * publickey exchange) as an unverified key: ask the socket. */
	if (c->fd >= 0)
		n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r != LIBSSH2_ERROR_SOCKET_DISCONNECT &&
	    r != LIBSSH2_ERROR_SOCKET_RECV && r != LIBSSH2_ERROR_SOCKET_SEND &&
	    r != LIBSSH2_ERROR_SOCKET_TIMEOUT && n != 0 &&
	    !(n < 0 && (errno == ECONNRESET || errno == EPIPE)))
		return 0;
	conn_fail(c, KORCH_ERR_SSH, "%s closed the connection during "
	    "authentication (%s): sshd dropped the login (LoginGraceTime, "
	    "MaxStartups, a restart?); run again once it takes logins",
	    c->where, ssh_errmsg(c->ssh));
	return 1;
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
	ssh_dbg(c, "authenticated as %s", c->user);
	if (c->tun != NULL)
		bastion_settled(c->tun);
	if (c->mode == MODE_BASTION) {
		evtimer_del(c->auth_timer.ev);
		conn_set_state(c, SS_BASTION);
	} else
		conn_set_state(c, SS_EXEC_OPEN);
	return STEP_NEXT;
}

enum step
step_auth_key(struct ssh_conn *c)
{
	int r;

	r = libssh2_userauth_publickey_fromfile_ex(c->ssh, c->user,
	    (unsigned)strlen(c->user), c->public_key, c->private_key, NULL);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r == 0)
		return auth_done(c);
	if (auth_dropped(c, r))
		return STEP_STOP;
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
enum step
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
	if (auth_dropped(c, r))
		return STEP_STOP;
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
