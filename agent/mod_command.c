/*
 * mod_command.c - run a program (argv, never a shell) unless a guard says
 * it already did its work: creates= (a path it makes) or unless= (an argv
 * that exits 0 when nothing is to do).  Guards also run in check mode, so
 * they must be read-only; the command itself never does.
 *
 * diagnose= (an argv, like argv) runs once when the command has failed for
 * good, after its last retry: a health gate that never came up says why
 * ("systemctl status X; journalctl -u X").  Its output (stdout and stderr
 * as one stream) is added to the failure's message; its own failure only
 * shows there, the task's status and first line stay the command's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "module.h"
#include "proc.h"

/* A diagnosis reads a journal: it gets this long (or the task's timeout
 * when shorter), then its process group is killed. */
#define DIAG_TIMEOUT_S	10

enum { CHANGED_ALWAYS, CHANGED_NEVER };
static const char *const changed_names[] = { "always", "never", NULL };

static void
output_diff(struct agent_outcome *o, const char *label,
    const struct agent_proc_output *out)
{
	if (out->len == 0)
		return;
	agent_outcome_diff(o, "%s:%s\n", label, out->dropped ?
	    " [earlier output dropped]" : "");
	agent_outcome_diff_raw(o, out->buf, out->len);
	if (out->buf[out->len - 1] != '\n')
		agent_outcome_diff_raw(o, "\n", 1);
}

/* Why a run failed, in one line; 0 when it exited 0. */
static int
run_failed(const struct agent_proc_result *r, const char *what,
    unsigned timeout_s, struct agent_outcome *o)
{
	char last[200], killed[64];

	if (r->session_closed) {
		agent_proc_killed_str(r, timeout_s, killed, sizeof(killed));
		agent_outcome_set(o, KP_ST_FAILED, "%s: %s (process group "
		    "killed)", what, killed);
		return 1;
	}
	if (r->exec_errno != 0) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: cannot run: %s", what,
		    strerror(r->exec_errno));
		return 1;
	}
	if (r->timed_out) {
		agent_proc_killed_str(r, timeout_s, killed, sizeof(killed));
		agent_outcome_set(o, KP_ST_FAILED, "%s: %s (process group "
		    "killed)", what, killed);
		return 1;
	}
	if (r->signal != 0) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: killed by signal %d",
		    what, r->signal);
		return 1;
	}
	if (r->code != 0) {
		agent_proc_last_line(&r->err, last, sizeof(last));
		if (last[0] == '\0')
			agent_proc_last_line(&r->out, last, sizeof(last));
		agent_outcome_set(o, KP_ST_FAILED, "%s: exit %d%s%s", what,
		    r->code, last[0] != '\0' ? ": " : "", last);
		return 1;
	}
	return 0;
}

/*
 * The command failed for good: run diag with the command's environment and
 * directory, and add what it printed to o's message.  res is scratch.
 */
static void
diagnose(char **diag, const struct agent_proc *cmd, unsigned timeout_s,
    struct agent_proc_result *res, struct agent_outcome *o)
{
	struct agent_proc p = *cmd;
	char shown[160], how[80], killed[48], title[AGENT_NOTE_TITLE];
	unsigned secs = timeout_s != 0 && timeout_s < DIAG_TIMEOUT_S ?
	    timeout_s : DIAG_TIMEOUT_S;

	p.argv = diag;
	p.timeout_ms = secs * 1000;
	p.merge_err = 1;
	agent_proc_argv_str(diag, shown, sizeof(shown));
	how[0] = '\0';
	if (agent_proc_run(&p, res) != KORCH_OK)
		(void)snprintf(how, sizeof(how), " (cannot start: %s)",
		    strerror(errno));
	else if (res->exec_errno != 0)
		(void)snprintf(how, sizeof(how), " (cannot run: %s)",
		    strerror(res->exec_errno));
	else if (res->timed_out || res->session_closed) {
		agent_proc_killed_str(res, secs, killed, sizeof(killed));
		(void)snprintf(how, sizeof(how), " (%s, process group "
		    "killed)", killed);
	}
	else if (res->signal != 0)
		(void)snprintf(how, sizeof(how), " (killed by signal %d)",
		    res->signal);
	else if (res->code != 0)
		(void)snprintf(how, sizeof(how), " (exit %d)", res->code);
	(void)snprintf(title, sizeof(title), "diagnosis%s: %s", how, shown);
	agent_outcome_note(o, title, res->out.buf, res->out.len,
	    res->out.dropped);
}

static int
command_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	struct agent_proc_result *res = NULL;
	struct agent_proc p;
	char **argv = NULL, **unless = NULL, **env = NULL, **diag = NULL;
	char shown[300];
	const char *creates, *dir;
	unsigned long long timeout, retries, delay, attempt;
	size_t n, nunless, nenv, ndiag, i;
	struct stat st;
	int changed_when;

	if (agent_arg_list(t, "argv", &argv, &n, o) != KORCH_OK ||
	    agent_arg_list(t, "unless", &unless, &nunless, o) != KORCH_OK ||
	    agent_arg_list(t, "env", &env, &nenv, o) != KORCH_OK ||
	    agent_arg_list(t, "diagnose", &diag, &ndiag, o) != KORCH_OK ||
	    agent_arg_uint(t, "timeout", 300, 86400, &timeout, o) != KORCH_OK ||
	    agent_arg_uint(t, "retries", 0, 100000, &retries, o) != KORCH_OK ||
	    agent_arg_uint(t, "delay", 2, 3600, &delay, o) != KORCH_OK ||
	    agent_arg_enum(t, "changed_when", changed_names, CHANGED_ALWAYS,
	    &changed_when, o) != KORCH_OK)
		goto out;
	for (i = 0; i < nenv; i++) {
		if (env[i][0] == '=' || strchr(env[i], '=') == NULL) {
			agent_outcome_set(o, KP_ST_FAILED, "argument env: "
			    "\"%.64s\" is not KEY=VALUE", env[i]);
			goto out;
		}
	}
	if (argv[0][0] == '\0' || (ndiag > 0 && diag[0][0] == '\0')) {
		agent_outcome_set(o, KP_ST_FAILED, "argument %s: empty "
		    "program name", argv[0][0] == '\0' ? "argv" : "diagnose");
		goto out;
	}
	if ((dir = agent_arg_str(t, "chdir", NULL)) != NULL &&
	    (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))) {
		agent_outcome_set(o, KP_ST_FAILED, "chdir %s: not a directory",
		    dir);
		goto out;
	}
	agent_proc_argv_str(argv, shown, sizeof(shown));

	if ((creates = agent_arg_str(t, "creates", NULL)) != NULL &&
	    lstat(creates, &st) == 0) {
		agent_outcome_set(o, KP_ST_SKIPPED, "%s exists (creates)",
		    creates);
		goto out;
	}
	if ((res = malloc(sizeof(*res))) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.watch = agent_session_watch(s);
	p.env = env;
	p.dir = dir;
	p.timeout_ms = (unsigned)timeout * 1000;
	if (nunless > 0) {
		p.argv = unless;
		if (unless[0][0] == '\0' || agent_proc_run(&p, res) !=
		    KORCH_OK) {
			agent_outcome_set(o, KP_ST_FAILED, "unless guard: "
			    "cannot run: %s", unless[0][0] == '\0' ?
			    "empty program name" : strerror(errno));
			goto out;
		}
		if (res->exec_errno != 0 || res->timed_out ||
		    res->session_closed) {
			(void)run_failed(res, "unless guard", (unsigned)timeout,
			    o);
			goto out;
		}
		if (res->code == 0) {
			agent_outcome_set(o, KP_ST_SKIPPED, "unless guard "
			    "succeeded; not running %s", shown);
			goto out;
		}
	}
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would run: %s", shown);
		goto out;
	}
	p.argv = argv;
	/* retries: a health gate waits for a service to come up, e.g.
	 * `curl --fail https://127.0.0.1:2379/health`. */
	for (attempt = 0;; attempt++) {
		if (agent_proc_run(&p, res) != KORCH_OK) {
			agent_outcome_set(o, KP_ST_FAILED, "%s: cannot start: "
			    "%s", shown, strerror(errno));
			goto out;
		}
		if (res->exec_errno != 0 || res->session_closed ||
		    (res->code == 0 && res->signal == 0 && !res->timed_out) ||
		    attempt >= retries)
			break;
		/* A retry loop waits for the controller as a command does. */
		if (agent_proc_pause(p.watch, (unsigned)delay * 1000)) {
			res->session_closed = 1;
			break;
		}
	}
	output_diff(o, "stdout", &res->out);
	output_diff(o, "stderr", &res->err);
	if (run_failed(res, shown, (unsigned)timeout, o)) {
		if (attempt > 0) {
			char why[AGENT_MSG_MAX];

			(void)snprintf(why, sizeof(why), "%.*s",
			    (int)sizeof(why) - 1, o->msg);
			agent_outcome_set(o, KP_ST_FAILED, "%s (after %llu "
			    "attempts)", why, attempt + 1);
		}
		if (ndiag > 0 && !res->session_closed)
			diagnose(diag, &p, (unsigned)timeout, res, o);
		goto out;
	}
	agent_outcome_set(o, changed_when == CHANGED_NEVER ? KP_ST_OK :
	    KP_ST_CHANGED, "ran: %s", shown);
out:
	free(res);
	free(argv);
	free(unless);
	free(env);
	free(diag);
	return KORCH_OK;
}

const struct agent_module agent_mod_command = {
	.name = "command",
	.flags = 0,
	.run = command_run,
};
