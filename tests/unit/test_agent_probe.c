/* test_agent_probe.c - tcp and http probes against sockets the test
 * opens itself, and a closed port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "test_agent_helpers.h"

static int
listener(char *port, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	(void)snprintf(port, len, "%u", ntohs(sin.sin_port));
	return fd;
}

/* A child that answers every connection with status line reply. */
static pid_t
http_server(int fd, const char *reply)
{
	char buf[2048];
	pid_t pid;
	int c;

	if ((pid = fork()) != 0)
		return pid;
	for (;;) {
		if ((c = accept(fd, NULL, NULL)) == -1)
			_exit(1);
		(void)!read(c, buf, sizeof(buf));
		(void)!write(c, reply, strlen(reply));
		close(c);
	}
}

static void
server_stop(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void
probe_task(struct tt *t, const char *kind, const char *port)
{
	tt_task(t, 1, "probe");
	tt_arg(t, "kind", kind);
	tt_arg(t, "port", port);
}

/* Up to retries attempts, interval_ms apart. */
static void
probe_retries(struct tt *t, const char *retries, const char *interval_ms)
{
	tt_arg(t, "retries", retries);
	tt_arg(t, "interval_ms", interval_ms);
}

static void
test_tcp_open_and_closed(void **state)
{
	struct tt *t = *state;
	char port[16];
	int fd;

	fd = listener(port, sizeof(port));
	probe_task(t, "tcp", port);
	tt_expect(t, 0, KP_ST_OK, "answered (attempt 1");
	/* read-only: probes in check mode too */
	assert_int_equal(tt_run(t, 1), KP_ST_OK);
	close(fd);

	probe_task(t, "tcp", port);
	probe_retries(t, "3", "10");
	tt_expect(t, 0, KP_ST_FAILED, "Connection refused");
	assert_non_null(strstr(t->o.msg, "after 3 attempts"));
}

static void
test_http_status(void **state)
{
	struct tt *t = *state;
	char port[16];
	pid_t pid;
	int fd;

	fd = listener(port, sizeof(port));
	pid = http_server(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	probe_task(t, "http", port);
	tt_arg(t, "path", "/healthz");
	tt_expect(t, 0, KP_ST_OK, "/healthz answered");
	server_stop(pid);

	pid = http_server(fd, "HTTP/1.0 503 Service Unavailable\r\n\r\n");
	probe_task(t, "http", port);
	probe_retries(t, "2", "10");
	tt_expect(t, 0, KP_ST_FAILED, "status 503, want 200");
	probe_task(t, "http", port);
	tt_arg(t, "expect_status", "503");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	server_stop(pid);

	pid = http_server(fd, "SSH-2.0-OpenSSH_9.2\r\n");
	probe_task(t, "http", port);
	tt_arg(t, "retries", "1");
	tt_expect(t, 0, KP_ST_FAILED, "not an HTTP response");
	server_stop(pid);
	close(fd);
}

static void
test_deadline_and_bad_args(void **state)
{
	struct tt *t = *state;
	struct timespec a, b;
	char port[16];
	int fd;

	fd = listener(port, sizeof(port));
	close(fd);
	probe_task(t, "tcp", port);
	probe_retries(t, "1000", "50");
	tt_arg(t, "deadline", "1");
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 4);

	probe_task(t, "udp", "53");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	probe_task(t, "tcp", "70000");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	probe_task(t, "http", "80");
	tt_arg(t, "path", "/x\r\nHost: evil");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	probe_task(t, "tcp", "80");
	tt_arg(t, "host", "no-such-host.invalid");
	tt_arg(t, "retries", "1");
	tt_expect(t, 0, KP_ST_FAILED, "resolve");
}

TH_MAIN(
	TT_TEST(test_tcp_open_and_closed),
	TT_TEST(test_http_status),
	TT_TEST(test_deadline_and_bad_args),
)
