/*
 * test_agent_observe.c - the observe module: a component's version from
 * its --version output (stdout or stderr), its unit's state through
 * systemctl (a stand-in script here), the binary the unit's main process
 * runs preferred over the one asked about, and "none" for a missing one.
 */
#include <signal.h>
#include <sys/wait.h>

#include "test_agent_helpers.h"

/* A fake systemctl: is-active prints $DIR/active; show prints MainPID. */
static void
fake_systemctl(struct tt *t, const char *active, long mainpid)
{
	char script[1024], path[600];

	(void)snprintf(path, sizeof(path), "%s/systemctl", t->dir);
	(void)snprintf(script, sizeof(script), "#!/bin/sh\n"
	    "case $1 in\n"
	    "is-active) echo %s; [ %s = active ] ;;\n"
	    "show) echo %ld ;;\n"
	    "esac\n", active, active, mainpid);
	tt_write(path, script, 0755);
	setenv("KORCH_AGENT_SYSTEMCTL", path, 1);
}

static void
observe_task(struct tt *t, const char *bin, const char *flag)
{
	tt_task(t, 1, "observe");
	tt_arg(t, "component", "thing");
	tt_arg(t, "argv", bin);
	tt_arg(t, "argv", flag);
	tt_arg(t, "unit", "thing");
}

static void
test_version_and_state(void **state)
{
	struct tt *t = *state;
	char bin[600];

	(void)snprintf(bin, sizeof(bin), "%s/kube-thing", t->dir);
	tt_write(bin, "#!/bin/sh\necho Kubernetes v1.8.15\n", 0755);
	fake_systemctl(t, "active", 0);
	observe_task(t, bin, "--version");
	tt_expect_msg(t, 0, KP_ST_OK, "version=1.8.15 active=active");
	/* read-only: the same in check mode */
	tt_expect_msg(t, 1, KP_ST_OK, "version=1.8.15 active=active");

	/* flanneld prints its version on stderr */
	tt_write(bin, "#!/bin/sh\necho v0.9.1 >&2\n", 0755);
	fake_systemctl(t, "inactive", 0);
	tt_expect_msg(t, 0, KP_ST_OK, "version=0.9.1 active=inactive");
}

static void
test_missing_binary(void **state)
{
	struct tt *t = *state;

	fake_systemctl(t, "inactive", 0);
	observe_task(t, "/nonexistent/kube-thing", "--version");
	tt_expect_msg(t, 0, KP_ST_OK, "version=none active=inactive");
}

/* After an upgrade installed 1.9 beside 1.8 but before the restart, the
 * running process still runs 1.8: that is what status must say. */
static void
test_running_binary_wins(void **state)
{
	struct tt *t = *state;
	char old[600], new[600], cmd[1300];
	pid_t pid;

	(void)snprintf(old, sizeof(old), "%s/old-kube-thing", t->dir);
	(void)snprintf(new, sizeof(new), "%s/kube-thing", t->dir);
	assert_int_equal(mkdir(old, 0755), 0);
	(void)snprintf(old + strlen(old), sizeof(old) - strlen(old),
	    "/kube-thing");
	tt_write(old, "#!/bin/sh\n[ \"$1\" = --version ] && { echo v1.8.15; "
	    "exit 0; }\nexec sleep 30\n", 0755);
	tt_write(new, "#!/bin/sh\necho v1.9.11\n", 0755);
	(void)snprintf(cmd, sizeof(cmd), "%s", old);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(cmd, cmd, "serve", (char *)NULL);
		_exit(127);
	}
	usleep(200000);	/* the shell has exec'd sleep with its own argv */
	fake_systemctl(t, "active", (long)pid);
	observe_task(t, new, "--version");
	/* /proc/PID/cmdline of the main process: "sleep 30"; no match, so
	 * the asked binary is used. */
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_string_equal(t->o.msg, "version=1.9.11 active=active");

	/* A process whose command line names the old binary (an interpreter
	 * running a script, as a stand-in runs under python3). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "sleep 30; :", old,
		    (char *)NULL);
		_exit(127);
	}
	usleep(200000);
	fake_systemctl(t, "active", (long)pid);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_string_equal(t->o.msg, "version=1.8.15 active=active");
}

/* holder: yes: the command prints a Lease's holder ("<host>_<id>"), and
 * the host is what is reported; nobody, or a failed command, is "none". */
static void
test_lease_holder(void **state)
{
	struct tt *t = *state;
	char bin[600];

	(void)snprintf(bin, sizeof(bin), "%s/kubectl", t->dir);
	tt_write(bin, "#!/bin/sh\nprintf node2_0a1b-2c3d\n", 0755);
	tt_task(t, 1, "observe");
	tt_arg(t, "component", "leader/kube-scheduler");
	tt_arg(t, "holder", "yes");
	tt_arg(t, "argv", bin);
	tt_expect_msg(t, 0, KP_ST_OK, "version=node2 active=none");
	tt_write(bin, "#!/bin/sh\nexit 0\n", 0755);
	tt_expect_msg(t, 0, KP_ST_OK, "version=none active=none");
	tt_write(bin, "#!/bin/sh\necho 'Error from server (NotFound)'; exit 1\n",
	    0755);
	tt_expect_msg(t, 0, KP_ST_OK, "version=none active=none");
	/* Not a host name before the '_': not taken for one. */
	tt_write(bin, "#!/bin/sh\necho 'lease/x_y'\n", 0755);
	tt_expect_msg(t, 0, KP_ST_OK, "version=none active=none");
}

TH_MAIN(
	TT_TEST(test_version_and_state),
	TT_TEST(test_lease_holder),
	TT_TEST(test_missing_binary),
	TT_TEST(test_running_binary_wins),
)
