/*
 * test_report.c - what an operator sees of a task's message: the failure
 * line, the recap and --json, for a message of several lines (a failed
 * command's diagnosis), with control characters kept off the terminal and
 * colors only on a terminal without NO_COLOR.
 */
#include <fcntl.h>
#include <poll.h>
#include <termios.h>

#include "helpers_fs.h"

#include "base/json.h"
#include "engine/report.h"
#include "wire.h"

/* What a failed health gate with a diagnosis reports, with a terminal
 * escape, a carriage return and a C1 CSI (U+009B) that must not pass. */
static const char gate_msg[] =
    "curl --fail https://127.0.0.1:6443/healthz: exit 7 (after 61 attempts)\n"
    "--- diagnosis: /bin/sh -c '...' korch-diagnose kube-apiserver ---\n"
    "Active: activating (auto-restart) (Result: exit-code)\n"
    "Error: [service-account-issuer is a required flag]\033[2J\r\n"
    "tab\there \xc2\x9b" "31m caf\xc3\xa9\n";

/* The whole of what went to f, malloc'd. */
static char *
slurp(FILE *f)
{
	char *buf;
	long n;

	assert_int_equal(fflush(f), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	assert_non_null(buf = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	return buf;
}

/* Scratch stand-ins for stdout and stderr, a test's *state. */
struct outs {
	FILE	*out, *err;
};

static int
outs_teardown(void **state)
{
	struct outs *o = *state;

	if (o->out != NULL)
		fclose(o->out);
	if (o->err != NULL)
		fclose(o->err);
	free(o);
	return 0;
}

static int
outs_setup(void **state)
{
	struct outs *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return -1;
	*state = o;
	o->out = tmpfile();
	o->err = tmpfile();
	if (o->out == NULL || o->err == NULL) {
		(void)outs_teardown(state);
		return -1;
	}
	return 0;
}

/* gate_msg's lines after its first, as a report indents them under it. */
#define GATE_NOTE_INDENTED \
	"      --- diagnosis: /bin/sh -c '...' korch-diagnose " \
	"kube-apiserver ---\n" \
	"      Active: activating (auto-restart) (Result: exit-code)\n" \
	"      Error: [service-account-issuer is a required flag]?[2J?\n" \
	"      tab\there ?31m caf\xc3\xa9\n"

static void
test_task_lines(void **state)
{
	struct outs *o = *state;
	struct report *r;
	char *got;

	assert_non_null(r = report_new(o->out, o->err, 0, 1));
	report_task(r, "m1", "master-health/healthz", KP_ST_FAILED, gate_msg,
	    "stderr:\ncurl: (7) Failed to connect\n");
	/* one-line messages print as they always did */
	report_task(r, "m1", "base/conf", KP_ST_CHANGED, "replaced", NULL);
	report_task(r, "m1", "base/ok", KP_ST_OK, "hidden unless -v", NULL);
	report_host_done(r, "n1", 1, "connect: refused\033]0;title\a");
	got = slurp(o->out);
	assert_string_equal(got,
	    "m1       FAILED       master-health/healthz: curl --fail "
	    "https://127.0.0.1:6443/healthz: exit 7 (after 61 attempts)\n"
	    GATE_NOTE_INDENTED
	    "      stderr:\n"
	    "      curl: (7) Failed to connect\n"
	    "m1       changed      base/conf: replaced\n"
	    "n1       UNREACHABLE  connect: refused?]0;title?\n");
	free(got);
	report_free(r);
}

static void
test_recap_lines(void **state)
{
	struct report_counts c = { 40, 2, 1, 12 };
	struct outs *o = *state;
	struct report *r;
	char *got;

	assert_non_null(r = report_new(o->out, o->err, 0, 2));
	report_set_name_width(r, 6);
	report_recap_header(r);
	report_recap_host(r, "m1", &c, 0, NULL);
	report_recap_failure(r, "master-health/healthz", gate_msg);
	report_recap_failure(r, "x/y", "");
	report_recap_host(r, "n1", &c, 1, "gone");
	report_recap_failure(r, NULL, "ssh: connection refused");
	got = slurp(o->out);
	assert_string_equal(got,
	    "\nRECAP\n"
	    "  m1     ok=40   changed=2    failed=1   skipped=12  "
	    "unreachable=0\n"
	    "    master-health/healthz: curl --fail "
	    "https://127.0.0.1:6443/healthz: exit 7 (after 61 attempts)\n"
	    GATE_NOTE_INDENTED
	    "    x/y: failed\n"
	    "  n1     ok=40   changed=2    failed=1   skipped=12  "
	    "unreachable=1\n"
	    "    ssh: connection refused\n");
	free(got);
	report_free(r);

	/* --json: nothing on stdout but what the caller prints */
	rewind(o->out);
	assert_non_null(r = report_new(o->out, o->err, REPORT_JSON, 1));
	report_task(r, "m1", "t", KP_ST_FAILED, gate_msg, NULL);
	report_recap_host(r, "m1", &c, 0, NULL);
	report_recap_failure(r, "t", gate_msg);
	assert_int_equal(ftell(o->out), 0);
	report_free(r);
}

static void
test_write_message(void **state)
{
	FILE *f = tmpfile();
	char *got;

	(void)state;
	assert_non_null(f);
	report_write_message(f, "one", 2);
	report_write_message(f, "a\nb\n", 2);
	report_write_message(f, "", 2);
	report_write_message(f, NULL, 2);
	report_write_message(f, "x\n\ny\x7f", 4);
	got = slurp(f);
	assert_string_equal(got, "one\na\n  b\n\n\nx\n\n    y?\n");
	free(got);
	fclose(f);
}

/* The message field of --json keeps every line, escaped. */
static void
test_json_message(void **state)
{
	struct json *j;
	const char *doc;

	(void)state;
	assert_non_null(j = json_new());
	json_obj_begin(j);
	json_kstr(j, "message", gate_msg);
	json_kstr(j, "bad", "x\xff\xc3" "y");
	json_obj_end(j);
	assert_int_equal(json_finish(j, &doc, NULL), 0);
	assert_string_equal(doc,
	    "{\"message\":\"curl --fail https://127.0.0.1:6443/healthz: exit 7 "
	    "(after 61 attempts)\\n"
	    "--- diagnosis: /bin/sh -c '...' korch-diagnose kube-apiserver ---\\n"
	    "Active: activating (auto-restart) (Result: exit-code)\\n"
	    "Error: [service-account-issuer is a required flag]\\u001b[2J\\r\\n"
	    "tab\\there \xc2\x9b" "31m caf\xc3\xa9\\n\","
	    "\"bad\":\"x\xef\xbf\xbd\xef\xbf\xbdy\"}");
	json_free(j);
}

/* ---- on a terminal: colors, unless NO_COLOR ----------------------------- */

struct pty {
	int	 master, slave;
	FILE	*out;
};

static void
pty_open(struct pty *p)
{
	struct termios tio;
	const char *name;

	p->master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(p->master >= 0);
	assert_int_equal(grantpt(p->master), 0);
	assert_int_equal(unlockpt(p->master), 0);
	assert_non_null(name = ptsname(p->master));
	p->slave = open(name, O_RDWR | O_NOCTTY);
	assert_true(p->slave >= 0);
	/* Bytes as written: no "\n" -> "\r\n". */
	assert_int_equal(tcgetattr(p->slave, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(p->slave, TCSANOW, &tio), 0);
	assert_non_null(p->out = fdopen(p->slave, "w"));
}

/* Everything written so far, malloc'd. */
static char *
pty_read(struct pty *p)
{
	struct pollfd pfd = { .fd = p->master, .events = POLLIN };
	size_t len = 0, cap = 65536;
	char *buf;
	ssize_t n;

	assert_int_equal(fflush(p->out), 0);
	assert_non_null(buf = calloc(1, cap));
	while (len + 1 < cap && poll(&pfd, 1, 200) == 1) {
		if ((n = read(p->master, buf + len, cap - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static void
pty_close(struct pty *p)
{
	fclose(p->out);
	close(p->master);
}

static char *
on_terminal(const char *no_color)
{
	struct report_counts c = { 1, 0, 1, 0 };
	struct report *r;
	struct pty p;
	FILE *err = tmpfile();
	char *got;

	assert_non_null(err);
	if (no_color != NULL)
		assert_int_equal(setenv("NO_COLOR", no_color, 1), 0);
	else
		assert_int_equal(unsetenv("NO_COLOR"), 0);
	pty_open(&p);
	assert_non_null(r = report_new(p.out, err, 0, 1));
	report_task(r, "m1", "master-health/healthz", KP_ST_FAILED, gate_msg,
	    NULL);
	report_recap_host(r, "m1", &c, 0, NULL);
	report_recap_failure(r, "master-health/healthz", gate_msg);
	got = pty_read(&p);
	report_free(r);
	pty_close(&p);
	fclose(err);
	(void)unsetenv("NO_COLOR");
	return got;
}

static void
test_terminal_colors(void **state)
{
	char *got;

	(void)state;
	got = on_terminal(NULL);
	assert_non_null(strstr(got, "\033[31mFAILED      \033[0m "
	    "master-health/healthz: curl"));
	assert_non_null(strstr(got, "\n      \033[36m--- diagnosis: /bin/sh "
	    "-c '...' korch-diagnose kube-apiserver ---\033[0m\n"));
	assert_non_null(strstr(got, "\n    \033[31mmaster-health/healthz"
	    "\033[0m: curl"));
	/* the host's own escapes never pass, colors or not */
	assert_null(strstr(got, "\033[2J"));
	assert_null(strstr(got, "\xc2\x9b"));
	free(got);

	got = on_terminal("1");
	assert_null(strchr(got, '\033'));
	assert_non_null(strstr(got, "\n      --- diagnosis: /bin/sh -c '...' "
	    "korch-diagnose kube-apiserver ---\n"));
	assert_non_null(strstr(got, "\n    master-health/healthz: curl"));
	free(got);
}

TH_MAIN(
	cmocka_unit_test_setup_teardown(test_task_lines, outs_setup,
	    outs_teardown),
	cmocka_unit_test_setup_teardown(test_recap_lines, outs_setup,
	    outs_teardown),
	cmocka_unit_test(test_write_message),
	cmocka_unit_test(test_json_message),
	cmocka_unit_test(test_terminal_colors),
)
