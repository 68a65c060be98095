/*
 * boot.c - starting the agent: the one constant command line that runs
 * it (or prints KORCH-NEED-AGENT when this build is not on the host), and
 * the search for its greeting in stdout, past whatever the login shell
 * prints first.  When the agent is missing or another build, upload.c
 * puts it there and the start is tried again.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <libssh2.h>

#include "err.h"
#include "ssh/agent_image.h"
#include "ssh/ssh-int.h"
#include "wire.h"

#define SSH_NEED_AGENT		"KORCH-NEED-AGENT"

enum greet { GREET_MORE, GREET_FOUND, GREET_NEED };

/*
 * The command that starts the agent, or says it is missing.  Only
 * KORCH_ERR_ALLOC.
 */
int
boot_prepare(struct ssh_conn *c)
{
	const struct agent_image *img = c->img;

	/* Constant but for the build hash (64 hex digits, checked by
	 * ssh_conn_start): nothing from the inventory reaches the remote
	 * shell. */
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
		return KORCH_ERR_ALLOC;
	}
	return 0;
}

enum step
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

enum step
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

/* ---- the greeting ------------------------------------------------------- */

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
		ssh_printable(c->noise_first, sizeof(c->noise_first), p + i,
		    n - i > SSH_NOISE_MAX ? SSH_NOISE_MAX : n - i);
	if (ssh_debug_on()) {
		char tmp[SSH_NOISE_MAX + 1];

		ssh_printable(tmp, sizeof(tmp), p, n > SSH_NOISE_MAX ?
		    SSH_NOISE_MAX : n);
		ssh_dbg(c, "login noise: %s", tmp);
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
		ssh_dbg(c, "remote agent is build %.12s, want %.12s: replacing",
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
	evtimer_del(c->auth_timer.ev);
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

enum step
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
