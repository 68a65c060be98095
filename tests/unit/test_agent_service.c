/* test_agent_service.c - the service module against a fake systemctl
 * that records its argv and keeps unit state in files. */
#include "test_agent_helpers.h"

static const char fake[] =
    "#!/bin/sh\n"
    "D=%s\n"
    "echo \"$*\" >> $D/log\n"
    "case \"$1\" in\n"
    "is-enabled) [ -f $D/enabled-$2 ] && { echo enabled; exit 0; }\n"
    "    echo disabled; exit 1;;\n"
    "is-active) [ -f $D/active-$2 ] && { echo active; exit 0; }\n"
    "    echo inactive; exit 3;;\n"
    "enable) touch $D/enabled-$2;;\n"
    "disable) rm -f $D/enabled-$2;;\n"
    "start|restart) if [ -f $D/fail-start ]; then\n"
    "    echo \"Job for $2 failed. See journalctl -xe\" >&2; exit 1; fi\n"
    "    touch $D/active-$2;;\n"
    "stop) rm -f $D/active-$2;;\n"
    "esac\n"
    "exit 0\n";

/* What every run asks systemctl first. */
#define QUERIES "is-enabled etcd.service\nis-active etcd.service\n"

static const char unit1[] = "[Unit]\nDescription=etcd\n\n[Service]\n"
    "ExecStart=/usr/bin/etcd\n\n[Install]\nWantedBy=multi-user.target\n";
static const char unit2[] = "[Unit]\nDescription=etcd\n\n[Service]\n"
    "ExecStart=/usr/bin/etcd --debug\n\n[Install]\n"
    "WantedBy=multi-user.target\n";

static int
svc_setup(void **state)
{
	struct tt *t;
	char script[4096], path[600];

	if (tt_setup(state) != 0)
		return -1;
	t = *state;
	(void)snprintf(script, sizeof(script), fake, t->dir);
	(void)snprintf(path, sizeof(path), "%s/systemctl", t->dir);
	tt_write(path, script, 0755);
	setenv("KORCH_AGENT_SYSTEMCTL", path, 1);
	(void)snprintf(path, sizeof(path), "%s/units", t->dir);
	(void)mkdir(path, 0755);
	/* Restart marks go beside the lock: this test's directory. */
	(void)snprintf(path, sizeof(path), "%s/lock", t->dir);
	setenv("KORCH_AGENT_LOCK", path, 1);
	return 0;
}

/* The log since the last call, then cleared. */
static char *
calls(struct tt *t)
{
	char path[600], *s;

	(void)snprintf(path, sizeof(path), "%s/log", t->dir);
	s = th_read(path);
	(void)unlink(path);
	return s != NULL ? s : strdup("");
}

static void
assert_calls(struct tt *t, const char *want)
{
	char *got = calls(t);

	assert_string_equal(got, want);
	free(got);
}

/* Run the task (check mode when check_only): it must end in status, having
 * called systemctl with exactly want. */
static void
expect_calls(struct tt *t, int check_only, int status, const char *want)
{
	assert_int_equal(tt_run(t, check_only), status);
	assert_calls(t, want);
}

/* The fake etcd.service is enabled and running. */
static void
svc_enabled_active(struct tt *t)
{
	tt_write(tt_path(t, "enabled-etcd.service"), "", 0644);
	tt_write(tt_path(t, "active-etcd.service"), "", 0644);
}

static void
svc_task(struct tt *t, uint32_t id, const char *unit)
{
	tt_task(t, id, "service");
	tt_arg(t, "name", "etcd");
	tt_arg(t, "unit_dir", tt_save(t, tt_path(t, "units")));
	if (unit != NULL)
		tt_arg(t, "unit", unit);
}

/* Task id's etcd.service installed from unit1 and running, the calls
 * that took forgotten. */
static void
svc_installed(struct tt *t, uint32_t id)
{
	svc_task(t, id, unit1);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	free(calls(t));
}

static void
test_new_unit_then_converged(void **state)
{
	struct tt *t = *state;

	svc_task(t, 1, unit1);
	/* check mode: queries only, nothing written */
	tt_expect(t, 1, KP_ST_CHANGED, "would write unit file");
	assert_non_null(strstr(t->o.msg, "would start"));
	assert_calls(t, QUERIES);
	assert_false(th_exists(tt_path(t, "units/etcd.service")));

	expect_calls(t, 0, KP_ST_CHANGED,
	    "daemon-reload\nis-enabled etcd.service\n"
	    "enable etcd.service\nis-active etcd.service\nstart etcd.service\n");
	tt_assert_file(tt_path(t, "units/etcd.service"), unit1);
	assert_non_null(strstr(t->o.diff, "+ExecStart=/usr/bin/etcd\n"));

	/* converged: no reload, no restart */
	expect_calls(t, 0, KP_ST_OK, QUERIES);
	expect_calls(t, 1, KP_ST_OK, QUERIES);
}

static void
test_unit_change_restarts(void **state)
{
	struct tt *t = *state;

	svc_installed(t, 1);
	svc_task(t, 1, unit2);
	tt_expect(t, 1, KP_ST_CHANGED, "would restart (unit changed)");
	assert_calls(t, QUERIES);
	tt_assert_file(tt_path(t, "units/etcd.service"), unit1);
	expect_calls(t, 0, KP_ST_CHANGED,
	    "daemon-reload\nis-enabled etcd.service\n"
	    "is-active etcd.service\nrestart etcd.service\n");
	expect_calls(t, 0, KP_ST_OK, QUERIES);
}

static void
test_watch_and_restart_flag(void **state)
{
	struct tt *t = *state;
	char *c;

	svc_installed(t, 9);

	/* a watched task that did not change: nothing */
	svc_task(t, 9, unit1);
	t->watch[0] = 5;
	t->watch[1] = 6;
	t->task.nwatch = 2;
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	c = calls(t);
	assert_null(strstr(c, "restart"));
	free(c);

	/* one of them changed earlier in the session: restart */
	assert_int_equal(agent_session_mark_changed(t->s, 6), KORCH_OK);
	tt_expect(t, 0, KP_ST_CHANGED, "task 6 changed");
	assert_calls(t, QUERIES "restart etcd.service\n");

	/* restart=1 from the controller */
	svc_task(t, 9, NULL);
	tt_arg(t, "restart", "1");
	expect_calls(t, 0, KP_ST_CHANGED, QUERIES "restart etcd.service\n");
	/* a service that is not running is started, not restarted */
	unlink(tt_path(t, "active-etcd.service"));
	expect_calls(t, 0, KP_ST_CHANGED, QUERIES "start etcd.service\n");
}

/* on_change: reload turns a watched change into a reload; a restart the
 * controller owes stays a restart. */
static void
test_watch_reload(void **state)
{
	struct tt *t = *state;

	svc_installed(t, 9);

	svc_task(t, 9, NULL);
	tt_arg(t, "on_change", "reload");
	t->watch[0] = 6;
	t->task.nwatch = 1;
	assert_int_equal(agent_session_mark_changed(t->s, 6), KORCH_OK);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.msg, "reloaded (task 6 changed)"));
	assert_calls(t, "is-enabled etcd.service\nis-active etcd.service\n"
	    "reload etcd.service\n");

	svc_task(t, 9, NULL);
	tt_arg(t, "on_change", "reload");
	tt_arg(t, "restart", "1");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_calls(t, "is-enabled etcd.service\nis-active etcd.service\n"
	    "restart etcd.service\n");

	svc_task(t, 9, NULL);
	tt_arg(t, "on_change", "sometimes");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
}

static void
test_stop_disable_restarted(void **state)
{
	struct tt *t = *state;

	svc_task(t, 1, NULL);
	svc_enabled_active(t);
	tt_arg(t, "enabled", "0");
	tt_arg(t, "state", "stopped");
	expect_calls(t, 0, KP_ST_CHANGED,
	    "is-enabled etcd.service\ndisable etcd.service\n"
	    "is-active etcd.service\nstop etcd.service\n");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);

	svc_task(t, 1, NULL);
	tt_arg(t, "state", "restarted");
	svc_enabled_active(t);
	free(calls(t));
	expect_calls(t, 0, KP_ST_CHANGED, QUERIES "restart etcd.service\n");
}

static void
test_failures(void **state)
{
	struct tt *t = *state;

	svc_task(t, 1, NULL);
	tt_write(tt_path(t, "fail-start"), "", 0644);
	tt_expect(t, 0, KP_ST_FAILED, "systemctl start etcd.service failed "
	    "(exit 1): Job for etcd.service failed");

	svc_task(t, 1, NULL);
	tt_arg(t, "state", "running");
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);

	tt_task(t, 1, "service");
	tt_arg(t, "name", "../etc/passwd");
	tt_expect(t, 0, KP_ST_FAILED, "bad unit name");

	setenv("KORCH_AGENT_SYSTEMCTL", "/nonexistent/systemctl", 1);
	svc_task(t, 1, NULL);
	tt_expect(t, 1, KP_ST_FAILED, "cannot run");
}

static void
test_suffix_kept(void **state)
{
	struct tt *t = *state;

	tt_task(t, 1, "service");
	tt_arg(t, "name", "docker.socket");
	expect_calls(t, 0, KP_ST_CHANGED,
	    "is-enabled docker.socket\nenable docker.socket\n"
	    "is-active docker.socket\nstart docker.socket\n");
}

/* A new session, as the next run's agent has. */
static void
next_session(struct tt *t)
{
	agent_session_free(t->s);
	assert_non_null(t->s = agent_session_new(-1, -1));
}

/*
 * A watched change whose session ends before the service's task runs (the
 * controller killed, the host cut off) still restarts the service in the
 * next session, which knows nothing of it: the watched task's notify
 * marked the service on the host first.  A watched task that changed
 * nothing leaves no mark.
 */
static void
test_mark_outlives_session(void **state)
{
	struct tt *t = *state;
	const char *conf = tt_save(t, tt_path(t, "etcd.conf"));

	svc_installed(t, 9);

	/* unchanged: the mark it made is taken back */
	tt_write(conf, "a=1\n", 0644);
	tt_task_at(t, 3, "file", conf);
	tt_arg(t, "content", "a=1\n");
	tt_arg(t, KMS_ARG_NOTIFY, "etcd other.service");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_false(th_exists(tt_path(t, "restart/etcd.service")));
	assert_false(th_exists(tt_path(t, "restart/other.service")));
	/* check mode marks nothing */
	tt_task_at(t, 3, "file", conf);
	tt_arg(t, "content", "a=2\n");
	tt_arg(t, KMS_ARG_NOTIFY, "etcd");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_false(th_exists(tt_path(t, "restart/etcd.service")));
	/* changed: marked, and the session ends there */
	tt_task_at(t, 3, "file", conf);
	tt_arg(t, "content", "a=2\n");
	tt_arg(t, KMS_ARG_NOTIFY, "etcd other.service");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_true(th_exists(tt_path(t, "restart/etcd.service")));
	assert_true(th_exists(tt_path(t, "restart/other.service")));

	next_session(t);
	/* the rerun: the file is current, the mark made before stays */
	tt_task_at(t, 3, "file", conf);
	tt_arg(t, "content", "a=2\n");
	tt_arg(t, KMS_ARG_NOTIFY, "etcd");
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	svc_task(t, 9, unit1);
	t->watch[0] = 3;
	t->task.nwatch = 1;
	tt_expect(t, 1, KP_ST_OK, NULL);	/* check mode: no mark read */
	free(calls(t));
	tt_expect(t, 0, KP_ST_CHANGED, "(changed in an earlier session)");
	assert_calls(t, "daemon-reload\n" QUERIES "restart etcd.service\n");
	assert_false(th_exists(tt_path(t, "restart/etcd.service")));
	expect_calls(t, 0, KP_ST_OK, QUERIES);

	/* a bad name in notify fails the task before it changes anything */
	tt_task_at(t, 3, "file", conf);
	tt_arg(t, "content", "a=3\n");
	tt_arg(t, KMS_ARG_NOTIFY, "../etc/passwd");
	tt_expect(t, 0, KP_ST_FAILED, "notify: not a list");
	tt_assert_file(conf, "a=2\n");
}

/* The service's own unit file: written in a session that ended before
 * the restart, the next session reloads systemd and restarts. */
static void
test_unit_written_then_session_ends(void **state)
{
	struct tt *t = *state;

	svc_installed(t, 1);
	/* as the kill leaves it: unit2 on disk, marked, etcd not restarted */
	tt_write(tt_path(t, "units/etcd.service"), unit2, 0644);
	(void)mkdir(tt_path(t, "restart"), 0700);
	tt_write(tt_path(t, "restart/etcd.service"), "", 0600);

	next_session(t);
	svc_task(t, 1, unit2);
	expect_calls(t, 0, KP_ST_CHANGED, "daemon-reload\n" QUERIES
	    "restart etcd.service\n");
	assert_false(th_exists(tt_path(t, "restart/etcd.service")));
	/* a unit rewrite that completes leaves no mark */
	svc_task(t, 1, unit1);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(tt_path(t, "restart/etcd.service")));
	/* a service stopped as asked owes nothing either */
	tt_write(tt_path(t, "restart/etcd.service"), "", 0600);
	svc_task(t, 1, NULL);
	tt_arg(t, "state", "stopped");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_false(th_exists(tt_path(t, "restart/etcd.service")));
}

#define T(f) cmocka_unit_test_setup_teardown(f, svc_setup, tt_teardown)
TH_MAIN(
	T(test_new_unit_then_converged),
	T(test_unit_change_restarts),
	T(test_watch_and_restart_flag),
	T(test_watch_reload),
	T(test_stop_disable_restarted),
	T(test_failures),
	T(test_suffix_kept),
	T(test_mark_outlives_session),
	T(test_unit_written_then_session_ends),
)
