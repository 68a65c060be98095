/* test_agent_proc.c - the agent's children die with the session: while a
 * command runs, the session's input is watched; a hangup kills the
 * command's process group (SIGTERM, SIGKILL after the grace), and frames
 * the controller pipelined meanwhile are kept. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_agent_helpers.h"
#include "proc.h"

struct pipe_session {
	int	 wfd;		/* the controller's end, or -1 */
	pid_t	 closer;	/* holds wfd, exits after a delay */
};

/* Replace t's session by one reading a pipe; the controller's end is
 * closed after close_ms (by a child holding it), or kept in ps->wfd when
 * close_ms is negative. */
static void
pipe_session(struct tt *t, struct pipe_session *ps, int close_ms)
{
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	agent_session_free(t->s);
	t->s = agent_session_new(fds[0], -1);
	assert_non_null(t->s);
	ps->wfd = -1;
	ps->closer = -1;
	if (close_ms < 0) {
		ps->wfd = fds[1];
		return;
	}
	if ((ps->closer = fork()) == 0) {
		usleep((useconds_t)close_ms * 1000);
		_exit(0);
	}
	assert_true(ps->closer > 0);
	close(fds[1]);
}

static void
pipe_session_end(struct pipe_session *ps)
{
	if (ps->wfd != -1)
		close(ps->wfd);
	if (ps->closer > 0)
		(void)waitpid(ps->closer, NULL, 0);
}

static void
sh_task(struct tt *t, const char *script)
{
	tt_task(t, 1, "command");
	tt_arg(t, "argv", "/bin/sh");
	tt_arg(t, "argv", "-c");
	tt_arg(t, "argv", script);
}

/* The pid in pidfile, waiting for the script to write it. */
static pid_t
read_pid(const char *pidfile)
{
	char *s;
	pid_t pid;
	int i;

	for (i = 0; i < 200; i++) {
		if ((s = th_read(pidfile)) != NULL && *s != '\0') {
			pid = (pid_t)atoi(s);
			free(s);
			return pid;
		}
		free(s);
		usleep(10000);
	}
	fail_msg("%s never written", pidfile);
	return -1;
}

/* Killed: gone within a second (reaping by init may lag). */
static void
assert_gone(pid_t pid)
{
	int i;

	for (i = 0; i < 50 && !th_pid_gone(pid); i++)
		usleep(20000);
	assert_true(th_pid_gone(pid));
}

static void
expect_content(const char *path, const char *want)
{
	char *s = th_read(path);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

/* A command with no timeout outlives nothing: the controller hangs up,
 * the command's group (a background sleep too) is killed, the task says
 * so. */
static void
test_hangup_kills_group(void **state)
{
	struct tt *t = *state;
	struct pipe_session ps;
	char script[600];
	long long ms;

	(void)snprintf(script, sizeof(script), "sleep 300 & echo $! > %s; "
	    "wait", tt_file(t, "pid"));
	pipe_session(t, &ps, 300);
	sh_task(t, script);
	tt_arg(t, "timeout", "0");
	assert_int_equal(tt_run_ms(t, 0, &ms), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "killed: session closed (process "
	    "group killed)"));
	print_message("# hangup to group gone: %lld ms (hangup at 300 ms)\n",
	    ms);
	assert_gone(read_pid(tt_file(t, "pid")));
	assert_true(agent_session_closed(t->s));
	/* nothing more runs in a closed session */
	sh_task(t, "touch ran");
	tt_arg(t, "chdir", tt_save(t, t->dir));
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "killed: session closed"));
	assert_int_equal(access(tt_path(t, "ran"), F_OK), -1);
	pipe_session_end(&ps);
}

/* SIGTERM first: a command that cleans up on it gets to. */
static void
test_term_first(void **state)
{
	struct tt *t = *state;
	struct pipe_session ps;
	char script[600];

	(void)snprintf(script, sizeof(script), "trap 'echo cleaned > %s; "
	    "exit 0' TERM; echo $$ > %s; while :; do sleep 0.1; done",
	    tt_file(t, "clean"), tt_file(t, "pid"));
	pipe_session(t, &ps, 300);
	sh_task(t, script);
	tt_arg(t, "timeout", "0");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "killed: session closed"));
	expect_content(tt_file(t, "clean"), "cleaned\n");
	pipe_session_end(&ps);
}

/* A command that ignores SIGTERM gets SIGKILL once the grace is over. */
static void
test_kill_after_grace(void **state)
{
	struct tt *t = *state;
	struct pipe_session ps;
	char script[600];
	long long ms;
	pid_t pid;

	(void)snprintf(script, sizeof(script), "trap '' TERM; sleep 300 & "
	    "echo $! > %s; wait", tt_file(t, "pid"));
	pipe_session(t, &ps, 300);
	sh_task(t, script);
	tt_arg(t, "timeout", "0");
	assert_int_equal(tt_run_ms(t, 0, &ms), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "killed: session closed"));
	pid = read_pid(tt_file(t, "pid"));
	assert_gone(pid);
	/* it did wait for the grace: SIGTERM alone did nothing */
	assert_true(ms >= 300 + AGENT_PROC_GRACE_MS - 100);
	pipe_session_end(&ps);
}

/* Frames the controller sends while a command runs are kept for the
 * serve loop, and do not stop the command. */
static void
test_pipelined_frames_kept(void **state)
{
	struct tt *t = *state;
	struct pipe_session ps;
	struct kbuf *b = kbuf_new(4096);
	struct kp_frame f;

	assert_non_null(b);
	pipe_session(t, &ps, -1);
	assert_int_equal(kp_enc_bye(b, 42), KORCH_OK);
	assert_int_equal(write(ps.wfd, kbuf_ptr(b), kbuf_len(b)),
	    (ssize_t)kbuf_len(b));
	sh_task(t, "sleep 0.5; echo done");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(agent_session_closed(t->s));
	assert_int_equal(agent_session_recv(t->s, &f), KORCH_OK);
	assert_int_equal(f.type, KP_BYE);
	assert_int_equal(f.reqid, 42);
	close(ps.wfd);
	ps.wfd = -1;
	assert_int_equal(agent_session_recv(t->s, &f), KORCH_ERR_EOF);
	kbuf_free(b);
	pipe_session_end(&ps);
}

/* A retry loop's pause ends with the session too. */
static void
test_retry_pause_watched(void **state)
{
	struct tt *t = *state;
	struct pipe_session ps;
	long long ms;

	pipe_session(t, &ps, 300);
	sh_task(t, "exit 1");
	tt_arg(t, "retries", "100");
	tt_arg(t, "delay", "60");
	assert_int_equal(tt_run_ms(t, 0, &ms), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "killed: session closed"));
	assert_true(ms < 60000);
	pipe_session_end(&ps);
}

/* The timeout kills with SIGTERM first as well. */
static void
test_timeout_term_first(void **state)
{
	struct tt *t = *state;
	char script[600];

	(void)snprintf(script, sizeof(script), "trap 'echo cleaned > %s; "
	    "exit 0' TERM; while :; do sleep 0.1; done", tt_file(t, "clean"));
	sh_task(t, script);
	tt_arg(t, "timeout", "1");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "killed: timeout after 1s"));
	expect_content(tt_file(t, "clean"), "cleaned\n");
}

TH_MAIN(
	TT_TEST(test_hangup_kills_group),
	TT_TEST(test_term_first),
	TT_TEST(test_kill_after_grace),
	TT_TEST(test_pipelined_frames_kept),
	TT_TEST(test_retry_pause_watched),
	TT_TEST(test_timeout_term_first),
)
