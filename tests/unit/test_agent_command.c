/* test_agent_command.c - argv execution, guards, timeout, output. */
#include <errno.h>
#include <signal.h>

#include "test_agent_helpers.h"

/* How many lines path holds; -1 when it cannot be read. */
static int
lines_in(const char *path)
{
	char *s = th_read(path), *p;
	int n = 0;

	if (s == NULL)
		return -1;
	for (p = strchr(s, '\n'); p != NULL; p = strchr(p + 1, '\n'))
		n++;
	free(s);
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

/* A script task that fails until its third run, counting its runs in the
 * file count; script (len bytes) holds the script for the task's life. */
static void
third_try_task(struct tt *t, const char *count, char *script, size_t len)
{
	(void)snprintf(script, len, "echo x >> %s; [ $(wc -l < %s) -ge 3 ]",
	    count, count);
	sh_task(t, script);
}

/* Up to n more attempts, with no pause between them. */
static void
retry(struct tt *t, const char *n)
{
	tt_arg(t, "retries", n);
	tt_arg(t, "delay", "0");
}

/* script (len bytes): after prefix, a sleep in the background whose pid
 * goes to pidfile, waited for. */
static void
sleeper(char *script, size_t len, const char *prefix, const char *pidfile)
{
	(void)snprintf(script, len, "%ssleep 60 & echo $! > %s; wait", prefix,
	    pidfile);
}

/* The task fails, well within five seconds (its timeout is 1 s). */
static void
expect_fails_fast(struct tt *t)
{
	long long ms;

	assert_int_equal(tt_run_ms(t, 0, &ms), KP_ST_FAILED);
	assert_true(ms < 5000);
}

static void
test_creates_guard(void **state)
{
	struct tt *t = *state;
	const char *marker = tt_file(t, "done");
	char script[700];

	(void)snprintf(script, sizeof(script), "echo hello; touch %s", marker);
	sh_task(t, script);
	tt_arg(t, "creates", marker);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "would run: /bin/sh -c 'echo hello;"));
	assert_false(th_exists(marker));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_true(th_exists(marker));
	assert_string_equal(t->o.diff, "stdout:\nhello\n");
	tt_expect(t, 0, KP_ST_SKIPPED, "exists (creates)");
	assert_int_equal(tt_run(t, 1), KP_ST_SKIPPED);
}

static void
test_unless_guard(void **state)
{
	struct tt *t = *state;
	const char *marker = tt_file(t, "m");
	char script[700];

	(void)snprintf(script, sizeof(script), "touch %s", marker);
	sh_task(t, script);
	tt_arg(t, "unless", "test");
	tt_arg(t, "unless", "-e");
	tt_arg(t, "unless", marker);
	/* the guard runs in check mode too; the command does not */
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_false(th_exists(marker));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_true(th_exists(marker));
	tt_expect(t, 0, KP_ST_SKIPPED, "unless guard succeeded");
	assert_int_equal(tt_run(t, 1), KP_ST_SKIPPED);

	tt_task(t, 1, "command");
	tt_arg(t, "argv", "true");
	tt_arg(t, "unless", "/nonexistent/guard");
	tt_expect(t, 1, KP_ST_FAILED, "unless guard");
}

static void
test_failures(void **state)
{
	struct tt *t = *state;

	sh_task(t, "echo progress; echo 'real problem' >&2; exit 3");
	tt_expect(t, 0, KP_ST_FAILED, "exit 3: real problem");
	assert_non_null(strstr(t->o.diff, "stdout:\nprogress\n"));
	assert_non_null(strstr(t->o.diff, "stderr:\nreal problem\n"));

	tt_task(t, 1, "command");
	tt_arg(t, "argv", "/nonexistent/prog");
	tt_expect(t, 0, KP_ST_FAILED, "cannot run: No such file");

	sh_task(t, "kill -9 $$");
	tt_expect(t, 0, KP_ST_FAILED, "signal 9");

	sh_task(t, "true");
	tt_arg(t, "env", "NOEQUALS");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);

	sh_task(t, "true");
	tt_arg(t, "chdir", tt_path(t, "missing"));
	tt_expect(t, 0, KP_ST_FAILED, "chdir");
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

/* The pid the script wrote to pidfile is gone (killed with its process
 * group) within two seconds. */
static void
assert_pid_gone(const char *pidfile)
{
	char *s = th_read(pidfile);
	pid_t pid;
	int i;

	assert_non_null(s);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	for (i = 0; i < 100 && !pid_gone(pid); i++)
		usleep(20000);
	assert_true(pid_gone(pid));
}

static void
test_timeout_kills_group(void **state)
{
	struct tt *t = *state;
	const char *pidfile = tt_file(t, "pid");
	char script[700];

	sleeper(script, sizeof(script), "", pidfile);
	sh_task(t, script);
	tt_arg(t, "timeout", "1");
	expect_fails_fast(t);
	assert_non_null(strstr(t->o.msg, "killed: timeout after 1s "
	    "(process group killed)"));
	assert_pid_gone(pidfile);
}

static void
test_env_chdir_changed_when(void **state)
{
	struct tt *t = *state;
	const char *out = tt_file(t, "out");

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
	long long ms;

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
	assert_int_equal(tt_run_ms(t, 0, &ms), KP_ST_CHANGED);
	assert_true(ms < 3000);
}

/* retries: a gate that succeeds on the third try; one that never does. */
static void
test_retries(void **state)
{
	struct tt *t = *state;
	const char *count = tt_file(t, "n");
	char script[1200];

	third_try_task(t, count, script, sizeof(script));
	retry(t, "5");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(lines_in(count), 3);

	sh_task(t, "exit 7");
	retry(t, "2");
	tt_expect(t, 0, KP_ST_FAILED, "exit 7");
	assert_non_null(strstr(t->o.msg, "after 3 attempts"));
}

/* ---- diagnose: run once when the command failed for good --------------- */

static void
diag_sh(struct tt *t, const char *script)
{
	tt_arg(t, "diagnose", "/bin/sh");
	tt_arg(t, "diagnose", "-c");
	tt_arg(t, "diagnose", script);
}

/* s is valid UTF-8 (the controller's JSON would otherwise say U+FFFD). */
static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int i, len;

	while (*p != '\0') {
		len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0)
			return 0;
		for (i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += len;
	}
	return 1;
}

static void
test_diagnose_appended(void **state)
{
	struct tt *t = *state;
	const char *nl, *body;

	sh_task(t, "echo 'curl: (7) refused' >&2; exit 7");
	tt_arg(t, "delay", "0");
	/* stdout and stderr in the order written; control bytes made safe */
	diag_sh(t, "echo \"Active: failed\"; echo \"Error: [service-account-"
	    "issuer is a required flag]\" >&2; printf \"esc\\033[31m\\r\\n\"");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	/* the first line is the command's failure, as without diagnose */
	nl = strchr(t->o.msg, '\n');
	assert_non_null(nl);
	assert_true(nl - t->o.msg < AGENT_MSG_MAX);
	assert_int_equal(strncmp(t->o.msg, "/bin/sh -c ", 11), 0);
	assert_non_null(strstr(t->o.msg, "exit 7: curl: (7) refused\n"));
	assert_int_equal(strncmp(nl, "\n--- diagnosis: /bin/sh -c 'echo "
	    "\"Active: failed\"; ", 37), 0);
	body = strstr(nl, "' ---\n");
	assert_non_null(body);
	assert_string_equal(body, "' ---\n"
	    "Active: failed\n"
	    "Error: [service-account-issuer is a required flag]\n"
	    "esc [31m");
	/* the diff is still the command's own output */
	assert_string_equal(t->o.diff, "stderr:\ncurl: (7) refused\n");

	/* its own failure shows in the note and masks nothing */
	sh_task(t, "exit 3");
	tt_arg(t, "diagnose", "/nonexistent/diag");
	tt_expect(t, 0, KP_ST_FAILED, "exit 3\n--- diagnosis (cannot run: "
	    "No such file or directory): /nonexistent/diag ---\n(no output)");

	sh_task(t, "exit 3");
	diag_sh(t, "echo partial; exit 4");
	tt_expect(t, 0, KP_ST_FAILED, "exit 3\n--- diagnosis (exit 4): ");
	assert_non_null(strstr(t->o.msg, " ---\npartial"));

	/* a command that cannot even start is diagnosed too */
	tt_task(t, 1, "command");
	tt_arg(t, "argv", "/nonexistent/prog");
	tt_arg(t, "diagnose", "echo");
	tt_arg(t, "diagnose", "looked");
	tt_expect(t, 0, KP_ST_FAILED, "cannot run: No such file");
	assert_non_null(strstr(t->o.msg, "\n--- diagnosis: echo looked ---\n"
	    "looked"));

	/* an empty program name is a bad argument, caught before running */
	sh_task(t, "exit 1");
	tt_arg(t, "diagnose", "");
	tt_expect_msg(t, 0, KP_ST_FAILED,
	    "argument diagnose: empty program name");
}

/* Not on success, not in check mode, not before the last retry. */
static void
test_diagnose_only_when_failed(void **state)
{
	struct tt *t = *state;
	const char *ran, *count;
	char script[1200], dscript[700];

	ran = tt_file(t, "diagnosed");
	(void)snprintf(dscript, sizeof(dscript), "echo x >> %s; echo why",
	    ran);

	sh_task(t, "true");
	diag_sh(t, dscript);
	tt_expect_msg(t, 0, KP_ST_CHANGED, "ran: /bin/sh -c true");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);	/* would run */
	assert_false(th_exists(ran));

	sh_task(t, "false");
	diag_sh(t, dscript);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_false(th_exists(ran));

	/* succeeds on the third of five attempts: never diagnosed */
	count = tt_file(t, "n");
	third_try_task(t, count, script, sizeof(script));
	retry(t, "4");
	diag_sh(t, dscript);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(lines_in(count), 3);
	assert_false(th_exists(ran));

	/* fails all three attempts: diagnosed once, after the last */
	sh_task(t, "exit 7");
	retry(t, "2");
	diag_sh(t, dscript);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_int_equal(lines_in(ran), 1);
	assert_non_null(strstr(t->o.msg, "exit 7 (after 3 attempts)\n--- "
	    "diagnosis: "));
	assert_non_null(strstr(t->o.msg, " ---\nwhy"));

	/* a skipped command (creates, unless) is not a failure */
	sh_task(t, "exit 1");
	tt_arg(t, "unless", "true");
	diag_sh(t, dscript);
	assert_int_equal(tt_run(t, 0), KP_ST_SKIPPED);
	assert_int_equal(lines_in(ran), 1);
}

/* The last AGENT_NOTE_LINES lines, at most AGENT_NOTE_BYTES, on a
 * character boundary. */
static void
test_diagnose_bounded(void **state)
{
	struct tt *t = *state;
	char want[2048], tail[64];
	const char *body;
	size_t n, len;
	int i;

	sh_task(t, "exit 1");
	diag_sh(t, "i=0; while [ $i -lt 100 ]; do echo diag-line-$i; "
	    "i=$((i+1)); done; echo; echo");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	body = strstr(t->o.msg, " ---\n");
	assert_non_null(body);
	len = (size_t)snprintf(want, sizeof(want), " ---\n[earlier output "
	    "dropped]");
	for (i = 100 - AGENT_NOTE_LINES; i < 100; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len,
		    "\ndiag-line-%d", i);
	assert_true(len < sizeof(want));
	assert_string_equal(body, want);

	/* no more than that: whole, nothing said dropped */
	sh_task(t, "exit 1");
	(void)snprintf(want, sizeof(want), "i=0; while [ $i -lt %d ]; do "
	    "echo l-$i; i=$((i+1)); done", AGENT_NOTE_LINES);
	diag_sh(t, want);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	assert_null(strstr(t->o.msg, "dropped"));
	assert_non_null(strstr(t->o.msg, " ---\nl-0\nl-1\n"));

	/* ten long lines of two-byte characters: cut by bytes, never
	 * inside a character */
	sh_task(t, "exit 1");
	diag_sh(t, "i=0; while [ $i -lt 10 ]; do j=0; while [ $j -lt 300 ]; "
	    "do printf '\303\251'; j=$((j+1)); done; echo; i=$((i+1)); done");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	body = strstr(t->o.msg, "[earlier output dropped]\n");
	assert_non_null(body);
	body += strlen("[earlier output dropped]\n");
	n = strlen(body);
	assert_true(n <= AGENT_NOTE_BYTES);
	assert_true(n > AGENT_NOTE_BYTES - 2);
	assert_true(valid_utf8(t->o.msg));
	assert_true(strlen(t->o.msg) < sizeof(t->o.msg));

	/* more than the capture holds: still the tail, still bounded */
	sh_task(t, "exit 1");
	diag_sh(t, "i=0; while [ $i -lt 5000 ]; do echo x-$i; i=$((i+1)); "
	    "done");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
	(void)snprintf(tail, sizeof(tail), "[earlier output dropped]\nx-%d\n",
	    5000 - AGENT_NOTE_LINES);
	assert_non_null(strstr(t->o.msg, tail));
	n = strlen(t->o.msg);
	assert_true(n > 6 && strcmp(t->o.msg + n - 7, "\nx-4999") == 0);

	/* a long argv: the title line is cut, on a character boundary */
	{
		char big[1200];
		size_t k;

		for (k = 0; k + 2 < sizeof(big); k += 2)
			memcpy(big + k, "\303\251", 2);
		big[k] = '\0';
		sh_task(t, "exit 1");
		tt_arg(t, "diagnose", "echo");
		tt_arg(t, "diagnose", big);
		assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
		assert_true(valid_utf8(t->o.msg));
		body = strstr(t->o.msg, "\n--- diagnosis: echo ");
		assert_non_null(body);
		assert_true(strchr(body + 1, '\n') - body < AGENT_NOTE_TITLE + 16);
	}
}

/* A diagnosis that hangs is killed with its process group, at 10 s or the
 * task's timeout when shorter; the task still says why it failed. */
static void
test_diagnose_hangs(void **state)
{
	struct tt *t = *state;
	const char *pidfile = tt_file(t, "dpid");
	char script[700];

	sleeper(script, sizeof(script), "echo looking; ", pidfile);
	sh_task(t, "echo 'refused' >&2; exit 7");
	tt_arg(t, "timeout", "1");
	diag_sh(t, script);
	expect_fails_fast(t);
	assert_int_equal(strncmp(t->o.msg, "/bin/sh -c ", 11), 0);
	assert_non_null(strstr(t->o.msg, "exit 7: refused\n--- diagnosis "
	    "(killed: timeout after 1s, process group killed): /bin/sh -c "));
	assert_non_null(strstr(t->o.msg, " ---\nlooking"));
	assert_pid_gone(pidfile);

	/* the command's own timeout is its failure; the diagnosis follows */
	sh_task(t, "sleep 30");
	tt_arg(t, "timeout", "1");
	tt_arg(t, "diagnose", "echo");
	tt_arg(t, "diagnose", "still down");
	expect_fails_fast(t);
	assert_non_null(strstr(t->o.msg, "killed: timeout after 1s (process "
	    "group killed)\n--- diagnosis: echo 'still down' ---\nstill down"));
}

/* The note itself: tail, sanitising, room. */
static void
test_outcome_note(void **state)
{
	struct agent_outcome o;
	static char big[3 * AGENT_NOTE_BYTES];

	(void)state;
	agent_outcome_init(&o);
	agent_outcome_set(&o, KP_ST_FAILED, "failed");
	agent_outcome_note(&o, "t\001itle\nx", "a\tb\x7f\n\nc\n\n", 9, 0);
	assert_string_equal(o.msg, "failed\n--- t itle x ---\na b \n\nc");
	agent_outcome_set(&o, KP_ST_FAILED, "again");
	assert_string_equal(o.msg, "again");	/* set drops the note */
	agent_outcome_note(&o, "empty", "", 0, 1);
	assert_string_equal(o.msg, "again\n--- empty ---\n"
	    "[earlier output dropped]\n(no output)");
	memset(big, 'y', sizeof(big) - 1);
	/* a full headline and a huge note still fit, with their NUL */
	memset(big, 'm', AGENT_MSG_MAX * 2);
	agent_outcome_set(&o, KP_ST_FAILED, "%.*s", AGENT_MSG_MAX * 2, big);
	agent_outcome_note(&o, big, big, sizeof(big) - 1, 0);
	assert_true(strlen(o.msg) < sizeof(o.msg));
	assert_true(strlen(o.msg) > AGENT_MSG_MAX - 1 + AGENT_NOTE_BYTES);
}

static void
test_fail_module(void **state)
{
	struct tt *t = *state;

	tt_task(t, 1, "fail");
	tt_arg(t, "msg", "unsupported OS: plan9");
	tt_expect_msg(t, 0, KP_ST_FAILED, "unsupported OS: plan9");
	assert_int_equal(tt_run(t, 1), KP_ST_FAILED);
}

TH_MAIN(
	TT_TEST(test_creates_guard),
	TT_TEST(test_unless_guard),
	TT_TEST(test_failures),
	TT_TEST(test_timeout_kills_group),
	TT_TEST(test_env_chdir_changed_when),
	TT_TEST(test_stdin_output_and_daemons),
	TT_TEST(test_retries),
	TT_TEST(test_diagnose_appended),
	TT_TEST(test_diagnose_only_when_failed),
	TT_TEST(test_diagnose_bounded),
	TT_TEST(test_diagnose_hangs),
	cmocka_unit_test(test_outcome_note),
	TT_TEST(test_fail_module),
)
