/*
 * mod_command.c - run a program (argv, never a shell) unless a guard says
 * it already did its work: creates= (a path it makes) or unless= (an argv
 * that exits 0 when nothing is to do).  Guards also run in check mode, so
 * they must be read-only; the command itself never does.
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
	char last[200];

	if (r->exec_errno != 0) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: cannot run: %s", what,
		    strerror(r->exec_errno));
		return 1;
	}
	if (r->timed_out) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: timed out after %us "
		    "(process group killed)", what, timeout_s);
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

static int
command_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	struct agent_proc_result *res = NULL;
	struct agent_proc p;
	char **argv = NULL, **unless = NULL, **env = NULL, shown[300];
	const char *creates, *dir;
	unsigned long long timeout, retries, delay, attempt;
	size_t n, nunless, nenv, i;
	struct stat st;
	int changed_when;

	if (agent_arg_list(t, "argv", &argv, &n, o) != KORCH_OK ||
	    agent_arg_list(t, "unless", &unless, &nunless, o) != KORCH_OK ||
	    agent_arg_list(t, "env", &env, &nenv, o) != KORCH_OK ||
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
	if (argv[0][0] == '\0') {
		agent_outcome_set(o, KP_ST_FAILED, "argument argv: empty "
		    "program name");
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
		if (res->exec_errno != 0 || res->timed_out) {
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
		if (res->exec_errno != 0 || (res->code == 0 && res->signal == 0
		    && !res->timed_out) || attempt >= retries)
			break;
		sleep((unsigned)delay);
	}
	output_diff(o, "stdout", &res->out);
	output_diff(o, "stderr", &res->err);
	if (run_failed(res, shown, (unsigned)timeout, o)) {
		if (attempt > 0) {
			char why[AGENT_MSG_MAX];

			(void)snprintf(why, sizeof(why), "%s", o->msg);
			agent_outcome_set(o, KP_ST_FAILED, "%s (after %llu "
			    "attempts)", why, attempt + 1);
		}
		goto out;
	}
	agent_outcome_set(o, changed_when == CHANGED_NEVER ? KP_ST_OK :
	    KP_ST_CHANGED, "ran: %s", shown);
out:
	free(res);
	free(argv);
	free(unless);
	free(env);
	return KORCH_OK;
}

const struct agent_module agent_mod_command = {
	.name = "command",
	.flags = 0,
	.run = command_run,
};
