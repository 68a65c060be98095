/*
 * proc.c - run one program and wait for it, bounded in time and output.
 *
 * The child gets its own session (so a timeout can kill everything it
 * started by process group), stdin from /dev/null (stdin of the agent is
 * the protocol stream), default SIGPIPE handling, and the agent's
 * environment plus the task's entries.  An exec failure travels back over
 * a close-on-exec pipe, so "not found" is an error message, not exit 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "proc.h"

#define DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SLICE_MS	50	/* how often to look for the child's exit */
#define DRAIN_MS	200	/* output wait after it exited */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
child(const struct agent_proc *p, int outfd, int errfd, int reportfd)
{
	struct sigaction sa;
	sigset_t none;
	int fd, e;
	size_t i;

	(void)setsid();
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

int
agent_proc_run(const struct agent_proc *p, struct agent_proc_result *r)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
	struct pollfd pfd[2];
	long long start, deadline = 0, exited_at = 0;
	int status, e, ret, alive = 1, nopen, timeout, i, saved;
	char buf[READ_SIZE];
	ssize_t n;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	if (p == NULL || p->argv == NULL || p->argv[0] == NULL) {
		errno = EINVAL;
		return KORCH_ERR_SYSTEM;
	}
	if (pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1 ||
	    pipe2(rep, O_CLOEXEC) == -1) {
		ret = KORCH_ERR_SYSTEM;
		goto out;
	}
	if ((pid = fork()) == -1) {
		ret = KORCH_ERR_SYSTEM;
		goto out;
	}
	if (pid == 0)
		child(p, outp[1], errp[1], rep[1]);
	close(outp[1]);
	close(errp[1]);
	close(rep[1]);
	outp[1] = errp[1] = rep[1] = -1;

	/* Blocks until exec succeeded (EOF) or failed (an errno). */
	do
		n = read(rep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		r->exec_errno = e;
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		ret = KORCH_OK;
		goto out;
	}

	start = now_ms();
	if (p->timeout_ms > 0)
		deadline = start + p->timeout_ms;
	pfd[0].fd = outp[0];
	pfd[1].fd = errp[0];
	for (;;) {
		nopen = 0;
		for (i = 0; i < 2; i++) {
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			if (pfd[i].fd != -1)
				nopen++;
		}
		if (alive && waitpid(pid, &status, WNOHANG) == pid) {
			set_status(r, status);
			alive = 0;
			exited_at = now_ms();
		}
		if (nopen == 0 && !alive)
			break;
		/*
		 * A daemon the command left behind may hold the pipes open
		 * forever: once the child is gone, wait briefly, then stop.
		 */
		if (!alive && now_ms() - exited_at > DRAIN_MS)
			break;
		if (alive && deadline != 0 && now_ms() >= deadline) {
			r->timed_out = 1;
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 &&
			    errno == EINTR)
				;
			set_status(r, status);
			alive = 0;
			exited_at = now_ms();
			continue;
		}
		timeout = SLICE_MS;
		if (nopen == 0) {
			/* Nothing to read; just wait for the exit. */
			(void)poll(NULL, 0, timeout);
			continue;
		}
		if (poll(pfd, 2, timeout) == -1) {
			if (errno == EINTR)
				continue;
			ret = KORCH_ERR_SYSTEM;
			saved = errno;
			if (alive) {
				(void)kill(-pid, SIGKILL);
				(void)waitpid(pid, &status, 0);
			}
			errno = saved;
			goto out;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				if (i == 0)
					outp[0] = -1;
				else
					errp[0] = -1;
				pfd[i].fd = -1;
				continue;
			}
			out_add(i == 0 ? &r->out : &r->err, buf, (size_t)n);
		}
	}
	ret = KORCH_OK;
out:
	saved = errno;
	for (i = 0; i < 2; i++) {
		if (outp[i] != -1)
			close(outp[i]);
		if (errp[i] != -1)
			close(errp[i]);
		if (rep[i] != -1)
			close(rep[i]);
	}
	errno = saved;
	return ret;
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
	const char *p = getenv("KORCH_AGENT_SYSTEMCTL");

	if (p != NULL && *p != '\0')
		return p;
	if (access("/bin/systemctl", X_OK) == 0)
		return "/bin/systemctl";
	return "/usr/bin/systemctl";
}
