/* test_agent_command.c - argv execution, guards, timeout, output. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "test_agent_helpers.h"

static long long
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
tt_read_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int c, n = 0;

	if (fp == NULL)
		return -1;
	while ((c = fgetc(fp)) != EOF)
		if (c == '\n')
			n++;
	fclose(fp);
	return n;
}

static void
sh_task(struct tt *t, const char *script)
{
	tt_task(t, 1, "command");
	tt_arg(t, "argv", "/bin/sh");
	tt_arg(t, "argv", "-c");
	tt_arg(t, "argv", script);
}

static void
test_creates_guard(void **state)
{
	struct tt *t = *state;
	char marker[512], script[700];

	(void)snprintf(marker, sizeof(marker), "%s", tt_path(t, "done"));
	(void)snprintf(script, sizeof(script), "echo hello; touch %s", marker);
	sh_task(t, script);
	tt_arg(t, "creates", marker);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "would run: /bin/sh -c 'echo hello;"));
	assert_false(tt_exists(marker));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_true(tt_exists(marker));
	assert_string_equal(t->o.diff, "stdout:\nhello\n");
	assert_int_equal(tt_run(t, 0), KP_ST_SKIPPED);
	assert_non_null(strstr(t->o.msg, "exists (creates)"));
	assert_int_equal(tt_run(t, 1), KP_ST_SKIPPED);
}

static void
test_unless_guard(void **state)
{
	struct tt *t = *state;
	char marker[512], script[700];

	(void)snprintf(marker, sizeof(marker), "%s", tt_path(t, "m"));
	(void)snprintf(script, sizeof(script), "touch %s", marker);
	sh_task(t, script);
	tt_arg(t, "unless", "test");
	tt_arg(t, "unless", "-e");
	tt_arg(t, "unless", marker);
	/* the guard runs in check mode too; the command does not */
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_false(tt_exists(marker));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_true(tt_exists(marker));
	assert_int_equal(tt_run(t, 0), KP_ST_SKIPPED);
	assert_non_null(strstr(t->o.msg, "unless guard succeeded"));
	assert_int_equal(tt_run(t, 1), KP_ST_SKIPPED);

	tt_task(t, 1, "command");
	tt_arg(t, "argv", "true");
	tt_arg(t, "unless", "/nonexistent/guard");
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "unless guard"));
}

static void
test_failures(void **state)
{
	struct tt *t = *state;

	sh_task(t, "echo progress; echo 'real problem' >&2; exit 3");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "exit 3: real problem"));
	assert_non_null(strstr(t->o.diff, "stdout:\nprogress\n"));
	assert_non_null(strstr(t->o.diff, "stderr:\nreal problem\n"));

	tt_task(t, 1, "command");
	tt_arg(t, "argv", "/nonexistent/prog");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "cannot run: No such file"));

	sh_task(t, "kill -9 $$");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "signal 9"));

	sh_task(t, "true");
	tt_arg(t, "env", "NOEQUALS");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);

	sh_task(t, "true");
	tt_arg(t, "chdir", tt_path(t, "missing"));
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "chdir"));
}

static int
pid_gone(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	/* reparented and not yet reaped: a zombie is gone enough */
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	return p != NULL && (p = strrchr(buf, ')')) != NULL && p[2] == 'Z';
}

static void
test_timeout_kills_group(void **state)
{
	struct tt *t = *state;
	char pidfile[512], script[700], *s;
	long long t0;
	pid_t pid;
	int i;

	(void)snprintf(pidfile, sizeof(pidfile), "%s", tt_path(t, "pid"));
	(void)snprintf(script, sizeof(script),
	    "sleep 60 & echo $! > %s; wait", pidfile);
	sh_task(t, script);
	tt_arg(t, "timeout", "1");
	t0 = ms_now();
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_true(ms_now() - t0 < 5000);
	assert_non_null(strstr(t->o.msg, "timed out after 1s"));
	s = tt_read(pidfile);
	assert_non_null(s);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	for (i = 0; i < 100 && !pid_gone(pid); i++)
		usleep(20000);
	assert_true(pid_gone(pid));
}

static void
test_env_chdir_changed_when(void **state)
{
	struct tt *t = *state;
	char out[512];

	(void)snprintf(out, sizeof(out), "%s", tt_path(t, "out"));
	sh_task(t, "echo \"$FOO $BAR\" > out; pwd >> out");
	tt_arg(t, "env", "FOO=foo");
	tt_arg(t, "env", "BAR=a=b");
	tt_arg(t, "chdir", tt_save(t, t->dir));
	tt_arg(t, "changed_when", "never");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	{
		char want[700];

		(void)snprintf(want, sizeof(want), "foo a=b\n%s\n", t->dir);
		tt_assert_file(out, want);
	}
}

static void
test_stdin_output_and_daemons(void **state)
{
	struct tt *t = *state;
	long long t0;

	/* stdin is /dev/null, never the agent's protocol stream */
	tt_task(t, 1, "command");
	tt_arg(t, "argv", "cat");
	tt_arg(t, "timeout", "5");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);

	/* lots of output: bounded, the diff says so */
	sh_task(t, "i=0; while [ $i -lt 3000 ]; do "
	    "echo line-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.diff, "earlier output dropped"));
	assert_true(t->o.diff_len < AGENT_DIFF_MAX);
	assert_non_null(strstr(t->o.diff, "[diff truncated]"));

	/* a background child holding stdout does not hold the task */
	sh_task(t, "sleep 5 & echo started");
	t0 = ms_now();
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_true(ms_now() - t0 < 3000);
}

/* retries: a gate that succeeds on the third try; one that never does. */
static void
test_retries(void **state)
{
	struct tt *t = *state;
	char count[512], script[1200];

	(void)snprintf(count, sizeof(count), "%s", tt_path(t, "n"));
	(void)snprintf(script, sizeof(script), "echo x >> %s; "
	    "[ $(wc -l < %s) -ge 3 ]", count, count);
	sh_task(t, script);
	tt_arg(t, "retries", "5");
	tt_arg(t, "delay", "0");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(tt_read_lines(count), 3);

	sh_task(t, "exit 7");
	tt_arg(t, "retries", "2");
	tt_arg(t, "delay", "0");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_non_null(strstr(t->o.msg, "exit 7"));
	assert_non_null(strstr(t->o.msg, "after 3 attempts"));
}

static void
test_fail_module(void **state)
{
	struct tt *t = *state;

	tt_task(t, 1, "fail");
	tt_arg(t, "msg", "unsupported OS: plan9");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_string_equal(t->o.msg, "unsupported OS: plan9");
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_creates_guard,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_unless_guard,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_failures,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_env_chdir_changed_when,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_stdin_output_and_daemons,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_retries,
		    tt_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_fail_module,
		    tt_setup, tt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
