/*
 * boot.c - starting the agent: the one constant command line that runs
 * it (or says it is missing or wrong), and the search for its greeting in
 * stdout, past whatever the login shell prints first.  When the agent is
 * missing or another build, upload.c puts it there and the start is tried
 * again.
 *
 * Who checks what (proto/PROTOCOL.md, "Trust"): the bootstrap, not the
 * agent, hashes the file it is about to run, so a file that only claims
 * to be the agent is never run.  Without become the agent runs as the SSH
 * user from ~/.korch, which must be the user's and writable by no one
 * else.  With become, root copies ~/.korch/agent-<sha256> into the
 * root-only /var/lib/korch/agent/, hashes THAT copy (which no other user
 * can change between the hash and the exec) and runs it only when it is
 * the build asked for.
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

#define SSH_NEED_AGENT		"KORCH-NEED-AGENT"	/* no copy: upload */
#define SSH_BAD_AGENT		"KORCH-BAD-AGENT"	/* wrong bytes: replace */
#define SSH_BOOT_ERROR		"KORCH-BOOT-ERROR "	/* refused: why */

enum greet { GREET_MORE, GREET_FOUND, GREET_NEED, GREET_BAD, GREET_ERROR };

/*
 * The two bootstrap scripts, run by /bin/sh as `sh -c SCRIPT korch-boot
 * SHA256 HOME`.  Constant text: the build hash and the remote user's own
 * $HOME are argv words, never part of the script, and the hash is checked
 * again here (64 lowercase hex) because a sudoers rule may let the user
 * run this very command with a hash of their choosing.  One line, without
 * single quotes, backslashes or '!', so that every login shell (sh, bash,
 * zsh, csh, fish) hands it to sh unchanged inside single quotes.
 */
#define BOOT_COMMON \
	"umask 077; s=$1; h=$2; " \
	"bad() { echo \"" SSH_BOOT_ERROR "$*\"; exit 1; }; " \
	"[ ${#s} -eq 64 ] && [ -z \"$(printf %s \"$s\" | tr -d 0-9a-f)\" ] " \
	"|| bad \"bad build hash\"; " \
	"command -v sha256sum >/dev/null || bad \"no sha256sum on this host " \
	"(install coreutils)\"; " \
	"is() { [ \"$(sha256sum < \"$1\" | cut -c1-64)\" = \"$s\" ]; }; "

/* As the SSH user: ~/.korch and the agent must be the user's and writable
 * by no one else (nor may the home directory be, as sshd's StrictModes
 * wants), else someone else could swap the agent. */
static const char boot_user[] =
	BOOT_COMMON
	"u=$(id -u); d=$h/.korch; a=$d/agent-$s; "
	"mine() { set -- \"$1\" $(stat -L -c \"%u %a\" \"$1\") || return 1; "
	"[ \"$2\" = \"$u\" ] && [ $(( 0$3 & 022 )) -eq 0 ]; }; "
	"set -- $(stat -L -c \"%u %a\" \"$h\"); "
	"{ [ \"$1\" = \"$u\" ] || [ \"$1\" = 0 ]; } && [ $(( 0$2 & 022 )) -eq 0 ] "
	"|| bad \"the home directory $h is writable by others than uid $u: "
	"fix its owner and mode (chmod go-w)\"; "
	"[ -e \"$d\" ] || { echo " SSH_NEED_AGENT "; exit 0; }; "
	"[ -d \"$d\" ] && mine \"$d\" || bad \"$d must be a directory owned by "
	"uid $u and writable only by it (chmod 0700 $d)\"; "
	"[ -e \"$a\" ] || { echo " SSH_NEED_AGENT "; exit 0; }; "
	"[ -f \"$a\" ] && mine \"$a\" || bad \"$a must be a file owned by uid $u "
	"and writable only by it\"; "
	"is \"$a\" || { echo " SSH_BAD_AGENT "; exit 0; }; "
	"exec \"$a\" serve";

/* As root (through sudo): the agent runs only from root's own copy,
 * hashed right before it is run. */
static const char boot_root[] =
	BOOT_COMMON
	"[ \"$(id -u)\" = 0 ] || bad \"sudo did not make us root\"; "
	"P=/var/lib/korch; R=$P/agent; a=$R/agent-$s; "
	"[ -d $P ] || mkdir -m 0755 $P || bad \"cannot create $P\"; "
	"[ -d $R ] || mkdir -m 0700 $R || bad \"cannot create $R\"; "
	"for x in $P $R; do set -- $(stat -c \"%u %a %F\" $x); "
	"[ \"$1\" = 0 ] && [ $(( 0$2 & 022 )) -eq 0 ] && [ \"$3\" = directory ] "
	"|| bad \"$x must be a directory owned by root and writable only by "
	"it, or another user could swap the agent root runs: fix it "
	"(chown root: $x; chmod go-w $x)\"; done; "
	"chmod 0700 $R || bad \"cannot chmod $R\"; "
	"if [ -f \"$a\" ] && is \"$a\"; then exec \"$a\" serve; fi; "
	"c=$h/.korch/agent-$s; "
	"[ -f \"$c\" ] || { echo " SSH_NEED_AGENT "; exit 0; }; "
	"t=$R/.in-$$; rm -f \"$t\"; "
	"head -c 268435456 < \"$c\" > \"$t\" || { rm -f \"$t\"; "
	"bad \"cannot copy $c into $R\"; }; "
	"is \"$t\" || { rm -f \"$t\"; echo " SSH_BAD_AGENT "; exit 0; }; "
	"chmod 0700 \"$t\" && mv -f \"$t\" \"$a\" || { rm -f \"$t\"; "
	"bad \"cannot install the agent in $R\"; }; "
	"exec \"$a\" serve";

const char *
boot_script(int become)
{
	return become ? boot_root : boot_user;
}

/*
 * The command that starts the agent, or says it is missing.  Only
 * KORCH_ERR_ALLOC.
 */
int
boot_prepare(struct ssh_conn *c)
{
	const struct agent_image *img = c->img;

	/* The upload's target, relative to the SFTP home. */
	snprintf(c->final_path, sizeof(c->final_path), ".korch/agent-%s",
	    img->sha256);
	/*
	 * Run by the login shell itself: `exec`, single quotes and "$HOME"
	 * mean the same in sh, bash, zsh, csh and fish.  Constant but for
	 * the build hash (64 hex digits, checked by ssh_conn_start):
	 * nothing from the inventory reaches the remote shell.
	 */
	if (asprintf(&c->boot_cmd, "exec %s/bin/sh -c '%s' korch-boot %s "
	    "\"$HOME\"", c->become_sudo ? "sudo -n " : "",
	    boot_script(c->become_sudo), img->sha256) < 0) {
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
		if (len == sizeof(SSH_BAD_AGENT) - 1 &&
		    memcmp(line, SSH_BAD_AGENT, len) == 0)
			return GREET_BAD;
		m = memmem(line, len, SSH_BOOT_ERROR, sizeof(SSH_BOOT_ERROR) -
		    1);
		if (m != NULL) {
			m += sizeof(SSH_BOOT_ERROR) - 1;
			ssh_printable(c->boot_err, sizeof(c->boot_err), m,
			    len - (size_t)(m - line));
			return GREET_ERROR;
		}
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

/*
 * The bootstrap said the agent is missing (NEED), not the build asked for
 * (BAD: replace it) or refused to run it (ERROR).  After an upload either
 * of the first two means the upload did not take.
 */
static enum step
greet_boot(struct ssh_conn *c, enum greet g)
{
	if (g == GREET_ERROR) {
		conn_fail(c, KORCH_ERR_AGENT, "refusing to start the agent on "
		    "%s as %s%s: %s", c->where, c->user, c->become_sudo ?
		    " through sudo" : "", c->boot_err);
		return STEP_STOP;
	}
	if (c->uploaded && g == GREET_BAD) {
		conn_fail(c, KORCH_ERR_HASH_MISMATCH, "the agent uploaded to "
		    "%s does not hash to build %.12s: the upload was damaged "
		    "or the image's hash is wrong", c->where, c->img->sha256);
		return STEP_STOP;
	}
	if (c->uploaded) {
		conn_fail(c, KORCH_ERR_AGENT, "uploaded the agent to %s but %s "
		    "is still not there%s", c->where, c->final_path,
		    c->rename_failed ? " (renaming the upload into place "
		    "failed)" : "");
		return STEP_STOP;
	}
	if (g == GREET_BAD) {
		ssh_dbg(c, "the agent copy on the host is not build %.12s: "
		    "replacing it", c->img->sha256);
		c->replace_target = 1;
	}
	conn_set_state(c, SS_EXEC_CLOSE);
	return STEP_NEXT;
}

/* The bootstrap ended before greeting. */
static enum step
greet_eof(struct ssh_conn *c)
{
	char err[700];
	enum greet g;

	if (c->line_len > 0 && (g = greet_line(c)) != GREET_MORE &&
	    g != GREET_FOUND) {
		c->line_len = 0;
		return greet_boot(c, g);
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
	if (g != GREET_MORE)
		return greet_boot(c, g);
	return STEP_NEXT;
 fail:
	conn_fail(c, KORCH_ERR_EOF, "%s: connection lost while starting the "
	    "agent: %s", c->where, ssh_errmsg(c->ssh));
	return STEP_STOP;
}
