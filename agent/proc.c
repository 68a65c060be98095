/*
 * proc.c - run one program and wait for it, bounded in time and output.
 *
 * The child gets its own session (so a timeout or a closed session can
 * kill everything it started by process group), stdin from /dev/null
 * (stdin of the agent is the protocol stream), default SIGPIPE handling,
 * SIGKILL when the agent dies, and the agent's environment plus the task's
 * entries.  An exec failure travels back over a close-on-exec pipe, so
 * "not found" is an error message, not exit 127.
 *
 * While it runs, the session's input is polled with its pipes: a
 * controller that disconnects (EOF on the agent's stdin) must not leave
 * root work running on the host with nobody to report to.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "proc.h"

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SLICE_MS	50	/* how often to look for the child's exit */
#define DRAIN_MS	200	/* output wait after it exited */

#define READ_SIZE	4096
_Static_assert(READ_SIZE <= AGENT_PROC_CAP, "a read must fit the capture");

/* Append n <= AGENT_PROC_CAP bytes, dropping the oldest to keep the tail. */
static void
out_add(struct agent_proc_output *o, const char *p, size_t n)
{
	size_t drop;

	if (o->len + n > AGENT_PROC_CAP) {
		drop = o->len + n - AGENT_PROC_CAP;
		memmove(o->buf, o->buf + drop, o->len - drop);
		o->len -= drop;
		o->dropped = 1;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* Runs in the child; only returns by _exit. */
static void
child(const struct agent_proc *p, int outfd, int errfd, int reportfd,
    pid_t agent)
{
	struct sigaction sa;
	sigset_t none;
	int fd, e;
	size_t i;

	(void)setsid();
	/* The agent killed outright cannot kill the group: the kernel does
	 * it for the leader at least.  The agent may be gone already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != agent)
		_exit(127);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(p->merge_err ? outfd : errfd, 2) == -1)
		goto fail;
	/* Descriptors opened without O_CLOEXEC (by a library, say). */
	for (fd = 3; fd < 1024; fd++)
		if (fd != reportfd)
			(void)close(fd);
	if (p->dir != NULL && chdir(p->dir) == -1)
		goto fail;
	for (i = 0; p->env != NULL && p->env[i] != NULL; i++)
		if (putenv(p->env[i]) != 0)
			goto fail;
	if (getenv("PATH") == NULL && setenv("PATH", DEFAULT_PATH, 1) != 0)
		goto fail;
	execvp(p->argv[0], p->argv);
fail:
	e = errno;
	(void)!write(reportfd, &e, sizeof(e));
	_exit(127);
}

static void
set_status(struct agent_proc_result *r, int status)
{
	if (WIFEXITED(status))
		r->code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->signal = WTERMSIG(status);
}

/* The child's pipes: its stdout, its stderr, and the exec report. */
struct pipes {
	int	 out[2], err[2], rep[2];
};

static void
pipes_close(struct pipes *pp)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (pp->out[i] != -1)
			close(pp->out[i]);
		if (pp->err[i] != -1)
			close(pp->err[i]);
		if (pp->rep[i] != -1)
			close(pp->rep[i]);
	}
}

/* Fork the child; the parent keeps the pipes' read ends. */
static int
start(const struct agent_proc *p, struct pipes *pp, pid_t *pid)
{
	pid_t self = getpid();

	if (pipe2(pp->out, O_CLOEXEC) == -1 ||
	    pipe2(pp->err, O_CLOEXEC) == -1 ||
	    pipe2(pp->rep, O_CLOEXEC) == -1)
		return KORCH_ERR_SYSTEM;
	if ((*pid = fork()) == -1)
		return KORCH_ERR_SYSTEM;
	if (*pid == 0)
		child(p, pp->out[1], pp->err[1], pp->rep[1], self);
	close(pp->out[1]);
	close(pp->err[1]);
	close(pp->rep[1]);
	pp->out[1] = pp->err[1] = pp->rep[1] = -1;
	return KORCH_OK;
}

/* Blocks until exec succeeded (EOF: 0) or failed (an errno: 1, the child
 * reaped). */
static int
exec_failed(struct pipes *pp, pid_t pid, struct agent_proc_result *r)
{
	ssize_t n;
	int e, status;

	do
		n = read(pp->rep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(e))
		return 0;
	r->exec_errno = e;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return 1;
}

/* Read what is ready; a pipe at EOF (or failing) is closed. */
static void
read_ready(struct pollfd pfd[2], struct pipes *pp, struct agent_proc_result *r)
{
	char buf[READ_SIZE];
	ssize_t n;
	int i;

	for (i = 0; i < 2; i++) {
		if (pfd[i].fd == -1 || pfd[i].revents == 0)
			continue;
		n = read(pfd[i].fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			close(pfd[i].fd);
			if (i == 0)
				pp->out[0] = -1;
			else
				pp->err[0] = -1;
			pfd[i].fd = -1;
			continue;
		}
		out_add(i == 0 ? &r->out : &r->err, buf, (size_t)n);
	}
}

/*
 * Stop the child's whole group and reap the child: SIGTERM, up to
 * AGENT_PROC_GRACE_MS for the leader to go, then SIGKILL to whatever is
 * left of the group (the number stays the group's while any member
 * lives, so this never hits a stranger).
 */
static void
kill_group(pid_t pid, struct agent_proc_result *r)
{
	long long until = agent_now_ms() + AGENT_PROC_GRACE_MS;
	int status = 0, gone = 0;
	pid_t w;

	(void)kill(-pid, SIGTERM);
	(void)kill(pid, SIGTERM);
	while (!gone && agent_now_ms() < until) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR))
			gone = 1;
		else
			(void)poll(NULL, 0, 20);
	}
	(void)kill(-pid, SIGKILL);
	if (!gone) {
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	set_status(r, status);
}

/* The watch said what it read; 1 when the session is gone. */
static int
watch_ready(struct agent_proc_watch *w, struct pollfd *pfd, int *full)
{
	int v;

	if (pfd->revents == 0)
		return 0;
	if (*full && (pfd->revents & POLLIN) && !(pfd->revents &
	    (POLLHUP | POLLERR)))
		return 0;
	/* Full and hung up: nothing more can be read, the peer is gone. */
	v = *full ? AGENT_WATCH_GONE : w->pump(w->arg);
	if (v == AGENT_WATCH_FULL)
		*full = 1;
	if (v == AGENT_WATCH_GONE) {
		w->closed = 1;
		return 1;
	}
	return 0;
}

/* Capture the child's output until it exited and its pipes are drained,
 * killing its group at its deadline or when the session closes. */
static int
collect(const struct agent_proc *p, pid_t pid, struct pipes *pp,
    struct agent_proc_result *r)
{
	struct agent_proc_watch *w = p->watch;
	struct pollfd pfd[3];
	long long start, deadline = 0, exited_at = 0;
	int status, alive = 1, nopen, i, saved, full = 0;

	start = agent_now_ms();
	if (p->timeout_ms > 0)
		deadline = start + p->timeout_ms;
	pfd[0].fd = pp->out[0];
	pfd[1].fd = pp->err[0];
	pfd[2].fd = w != NULL && !w->closed ? w->fd : -1;
	for (;;) {
		nopen = 0;
		for (i = 0; i < 3; i++) {
			pfd[i].events = i == 2 && full ? 0 : POLLIN;
			pfd[i].revents = 0;
			if (i < 2 && pfd[i].fd != -1)
				nopen++;
		}
		if (alive && waitpid(pid, &status, WNOHANG) == pid) {
			set_status(r, status);
			alive = 0;
			exited_at = agent_now_ms();
		}
		if (nopen == 0 && !alive)
			break;
		/*
		 * A daemon the command left behind may hold the pipes open
		 * forever: once the child is gone, wait briefly, then stop.
		 */
		if (!alive && agent_now_ms() - exited_at > DRAIN_MS)
			break;
		if (alive && deadline != 0 && agent_now_ms() >= deadline) {
			r->timed_out = 1;
			kill_group(pid, r);
			alive = 0;
			exited_at = agent_now_ms();
			continue;
		}
		/* Once the child is gone only its output matters. */
		if (!alive)
			pfd[2].fd = -1;
		if (poll(pfd, 3, SLICE_MS) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			if (alive)
				kill_group(pid, r);
			errno = saved;
			return KORCH_ERR_SYSTEM;
		}
		read_ready(pfd, pp, r);
		if (pfd[2].fd != -1 && watch_ready(w, &pfd[2], &full)) {
			pfd[2].fd = -1;
			if (alive) {
				r->session_closed = 1;
				kill_group(pid, r);
				alive = 0;
				exited_at = agent_now_ms();
			}
		}
	}
	return KORCH_OK;
}

int
agent_proc_run(const struct agent_proc *p, struct agent_proc_result *r)
{
	struct pipes pp = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int ret, saved;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	if (p == NULL || p->argv == NULL || p->argv[0] == NULL) {
		errno = EINVAL;
		return KORCH_ERR_SYSTEM;
	}
	if (p->watch != NULL && p->watch->closed) {
		r->session_closed = 1;
		return KORCH_OK;
	}
	if ((ret = start(p, &pp, &pid)) == KORCH_OK &&
	    !exec_failed(&pp, pid, r))
		ret = collect(p, pid, &pp, r);
	saved = errno;
	pipes_close(&pp);
	errno = saved;
	return ret;
}

int
agent_proc_pause(struct agent_proc_watch *w, unsigned ms)
{
	long long until = agent_now_ms() + ms, left;
	struct pollfd pfd;
	int full = 0;

	for (;;) {
		if (w != NULL && w->closed)
			return 1;
		if ((left = until - agent_now_ms()) <= 0)
			return 0;
		pfd.fd = w != NULL ? w->fd : -1;
		pfd.events = full ? 0 : POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, left > SLICE_MS ? SLICE_MS : (int)left) > 0 &&
		    w != NULL && watch_ready(w, &pfd, &full))
			return 1;
	}
}

void
agent_proc_killed_str(const struct agent_proc_result *r, unsigned timeout_s,
    char *dst, size_t len)
{
	if (len == 0)
		return;
	if (r->session_closed)
		(void)snprintf(dst, len, "killed: session closed");
	else if (r->timed_out)
		(void)snprintf(dst, len, "killed: timeout after %us",
		    timeout_s);
	else
		dst[0] = '\0';
}

void
agent_proc_last_line(const struct agent_proc_output *out, char *dst,
    size_t len)
{
	size_t end = out->len, start;

	if (len == 0)
		return;
	while (end > 0 && (out->buf[end - 1] == '\n' ||
	    out->buf[end - 1] == '\r' || out->buf[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && out->buf[start - 1] != '\n')
		start--;
	(void)snprintf(dst, len, "%.*s", (int)(end - start), out->buf + start);
}

/* Shell-style, for messages only (never executed): quote words that need
 * it, writing an embedded ' as '\''. */
void
agent_proc_argv_str(char *const *argv, char *dst, size_t len)
{
	size_t i, o = 0;
	const char *a;
	int quote;

	if (len == 0)
		return;
#define PUT(c)	do { if (o + 1 < len) dst[o++] = (c); } while (0)
	for (i = 0; argv != NULL && argv[i] != NULL; i++) {
		a = argv[i];
		quote = *a == '\0' || strpbrk(a, " \t\n'\"\\$`*?;&|<>()#~") != NULL;
		if (i > 0)
			PUT(' ');
		if (quote)
			PUT('\'');
		for (; *a != '\0'; a++) {
			if (*a == '\'') {
				PUT('\'');
				PUT('\\');
				PUT('\'');
			}
			PUT(*a);
		}
		if (quote)
			PUT('\'');
	}
#undef PUT
	dst[o] = '\0';
}

const char *
agent_systemctl_path(void)
{
#ifdef KORCH_TEST_HOOKS
	/* Test builds only: a release agent runs as root and must not let
	 * its environment choose what it executes. */
	const char *p = getenv("KORCH_AGENT_SYSTEMCTL");

	if (p != NULL && *p != '\0')
		return p;
#endif
	if (access("/bin/systemctl", X_OK) == 0)
		return "/bin/systemctl";
	return "/usr/bin/systemctl";
}
