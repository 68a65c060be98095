/*
 * mod_probe.c - wait until something answers: a TCP port accepts, or an
 * HTTP GET returns the expected status.  Plain HTTP/1.0 over a socket (no
 * TLS in the agent); health endpoints on localhost are enough to gate the
 * next step.  Read-only, so it probes in check mode too.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "module.h"

#define ATTEMPT_MS	5000	/* one connect + request */
#define HTTP_HEAD_MAX	1024

enum { KIND_TCP, KIND_HTTP };
static const char *const kind_names[] = { "tcp", "http", NULL };

struct probe {
	int			 kind;
	const char		*host;
	const char		*port;
	const char		*path;
	unsigned long long	 expect;
};

static void
sleep_ms(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Wait for fd to be ready for events until deadline (ms); 0 or errno. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int n;

	for (;;) {
		if ((left = deadline - agent_now_ms()) <= 0)
			return ETIMEDOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno;
		if (n > 0)
			return 0;
	}
}

static int
connect_one(const struct addrinfo *ai, long long deadline, int *out)
{
	socklen_t len = sizeof(int);
	int fd, e = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto fail;
		}
		if ((e = wait_fd(fd, POLLOUT, deadline)) != 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			e = errno;
		if (e != 0)
			goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return e;
}

/* HTTP GET, status line checked; 0 or a reason in err. */
static int
http_check(int fd, const struct probe *p, long long deadline, char *err,
    size_t errlen)
{
	char req[1024], head[HTTP_HEAD_MAX + 1], *eol;
	size_t have = 0, sent = 0, n;
	unsigned status;
	ssize_t w;
	int e;

	n = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n"
	    "User-Agent: korch-agent/" KORCH_AGENT_VERSION "\r\n"
	    "Connection: close\r\n\r\n", p->path, p->host);
	if (n >= sizeof(req)) {
		(void)snprintf(err, errlen, "request too long");
		return -1;
	}
	while (sent < n) {
		if ((e = wait_fd(fd, POLLOUT, deadline)) != 0)
			goto syserr;
		w = send(fd, req + sent, n - sent, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			e = errno;
			goto syserr;
		}
		sent += (size_t)w;
	}
	while (have < HTTP_HEAD_MAX) {
		head[have] = '\0';
		if (memchr(head, '\n', have) != NULL)
			break;
		if ((e = wait_fd(fd, POLLIN, deadline)) != 0)
			goto syserr;
		w = recv(fd, head + have, HTTP_HEAD_MAX - have, 0);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			e = errno;
			goto syserr;
		}
		if (w == 0)
			break;
		have += (size_t)w;
	}
	head[have] = '\0';
	if ((eol = strpbrk(head, "\r\n")) != NULL)
		*eol = '\0';
	/* "HTTP/1.x NNN": the status is three digits after the space. */
	if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
	    strspn(head + 9, "0123456789") != 3) {
		(void)snprintf(err, errlen, "not an HTTP response: \"%.40s\"",
		    head);
		return -1;
	}
	status = (unsigned)(head[9] - '0') * 100 +
	    (unsigned)(head[10] - '0') * 10 + (unsigned)(head[11] - '0');
	if (status != p->expect) {
		(void)snprintf(err, errlen, "status %u, want %llu", status,
		    p->expect);
		return -1;
	}
	return 0;
syserr:
	(void)snprintf(err, errlen, "%s", strerror(e));
	return -1;
}

/* One attempt; 0 when the target answered as wanted. */
static int
attempt(const struct probe *p, long long deadline, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, e = 0, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(p->host, p->port, &hints, &res)) != 0) {
		(void)snprintf(err, errlen, "resolve %s: %s", p->host,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if ((e = connect_one(ai, deadline, &fd)) == 0)
			break;
	freeaddrinfo(res);
	if (fd == -1) {
		(void)snprintf(err, errlen, "connect: %s", strerror(e != 0 ? e :
		    EHOSTUNREACH));
		return -1;
	}
	r = p->kind == KIND_HTTP ? http_check(fd, p, deadline, err, errlen) : 0;
	close(fd);
	return r;
}

static int
probe_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	unsigned long long port, retries, interval, deadline_s, i;
	long long start, end = 0, until;
	char err[256] = "no attempt made", target[300];
	struct probe p;

	memset(&p, 0, sizeof(p));
	if (agent_arg_enum(t, "kind", kind_names, KIND_TCP, &p.kind,
	    o) != KORCH_OK ||
	    agent_arg_uint(t, "port", 0, 65535, &port, o) != KORCH_OK ||
	    agent_arg_uint(t, "expect_status", 200, 999, &p.expect,
	    o) != KORCH_OK ||
	    agent_arg_uint(t, "retries", 30, 100000, &retries, o) != KORCH_OK ||
	    agent_arg_uint(t, "interval_ms", 1000, 3600000, &interval,
	    o) != KORCH_OK ||
	    agent_arg_uint(t, "deadline", 0, 86400, &deadline_s, o) != KORCH_OK)
		return KORCH_OK;
	p.host = agent_arg_str(t, "host", "127.0.0.1");
	p.port = agent_arg_str(t, "port", "0");
	p.path = agent_arg_str(t, "path", "/");
	if (port == 0 || p.host[0] == '\0' ||
	    strpbrk(p.host, " \t\r\n/") != NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "probe: bad host or port");
		return KORCH_OK;
	}
	if (p.path[0] != '/' || strpbrk(p.path, " \t\r\n") != NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "probe: path must start with "
		    "/ and hold no blanks");
		return KORCH_OK;
	}
	if (p.kind == KIND_HTTP)
		(void)snprintf(target, sizeof(target), "http://%s:%s%s", p.host,
		    p.port, p.path);
	else
		(void)snprintf(target, sizeof(target), "tcp %s:%s", p.host,
		    p.port);
	if (retries == 0)
		retries = 1;
	start = agent_now_ms();
	if (deadline_s > 0)
		end = start + (long long)deadline_s * 1000;
	for (i = 1; i <= retries; i++) {
		until = agent_now_ms() + ATTEMPT_MS;
		if (end != 0 && until > end)
			until = end;
		if (attempt(&p, until, err, sizeof(err)) == 0) {
			agent_outcome_set(o, KP_ST_OK, "%s answered (attempt "
			    "%llu, %lld ms)", target, i,
			    agent_now_ms() - start);
			return KORCH_OK;
		}
		if (i == retries || (end != 0 &&
		    agent_now_ms() + (long long)interval >= end))
			break;
		sleep_ms((long long)interval);
	}
	agent_outcome_set(o, KP_ST_FAILED, "%s: %s (after %llu attempt%s, "
	    "%lld ms)", target, err, i > retries ? retries : i,
	    i == 1 ? "" : "s", agent_now_ms() - start);
	return KORCH_OK;
}

const struct agent_module agent_mod_probe = {
	.name = "probe",
	.flags = AGENT_MOD_READONLY,
	.run = probe_run,
};
