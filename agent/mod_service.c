/*
 * mod_service.c - a systemd service: its unit file, enabled, and running.
 *
 * Restarts follow changes and nothing else: a running service restarts
 * only when this task rewrote its unit, when a task it watches changed
 * earlier in this session, when the host holds a restart mark for it (a
 * change made in a session that ended before this task ran:
 * restart_mark.h), or when the controller passes restart=1 (its own
 * record of such a change).  daemon-reload runs only when this task wrote
 * the unit, or with a mark.  systemctl is run from an argv
 * vector; in test builds KORCH_AGENT_SYSTEMCTL points it at a fake.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "module.h"
#include "proc.h"
#include "restart_mark.h"

#define UNIT_MAX		(1u << 20)
#define QUERY_TIMEOUT_MS	30000
#define ACTION_TIMEOUT_MS	300000	/* start of a notify unit can take long */

enum { STATE_STARTED, STATE_STOPPED, STATE_RESTARTED };
static const char *const state_names[] = {
	"started", "stopped", "restarted", NULL
};
/* What a watched change does: restart (the default) or reload. */
static const char *const on_change_names[] = {
	"restart", "reload", NULL
};

struct svc {
	const char		*systemctl;
	char			 unit[300];
	int			 check_only;
	struct agent_outcome	*o;
	struct agent_proc_watch	*watch;		/* the session's */
	char			 did[AGENT_MSG_MAX];
};

/*
 * systemctl VERB [unit].  Returns the exit code (>= 0), or -1 after
 * setting the outcome failed when it could not run or timed out.
 */
static int
systemctl(struct svc *v, const char *verb, int with_unit, unsigned timeout,
    struct agent_proc_result *res)
{
	char *argv[4];
	struct agent_proc p;

	argv[0] = (char *)v->systemctl;
	argv[1] = (char *)verb;
	argv[2] = with_unit ? v->unit : NULL;
	argv[3] = NULL;
	memset(&p, 0, sizeof(p));
	p.argv = argv;
	p.timeout_ms = timeout;
	p.watch = v->watch;
	if (agent_proc_run(&p, res) != KORCH_OK) {
		agent_outcome_set(v->o, KP_ST_FAILED, "cannot run %s: %s",
		    v->systemctl, strerror(errno));
		return -1;
	}
	if (res->exec_errno != 0) {
		agent_outcome_set(v->o, KP_ST_FAILED, "cannot run %s: %s",
		    v->systemctl, strerror(res->exec_errno));
		return -1;
	}
	if (res->session_closed) {
		agent_outcome_set(v->o, KP_ST_FAILED, "systemctl %s %s: killed: "
		    "session closed", verb, with_unit ? v->unit : "");
		return -1;
	}
	if (res->timed_out) {
		agent_outcome_set(v->o, KP_ST_FAILED, "systemctl %s %s timed out "
		    "after %us (killed)", verb, with_unit ? v->unit : "",
		    timeout / 1000);
		return -1;
	}
	return res->code < 0 ? 255 : res->code;
}

/* What a verb did, for the message. */
static const char *
past(const char *verb)
{
	static const char *const pairs[][2] = {
		{ "daemon-reload", "reloaded systemd" }, { "enable", "enabled" },
		{ "disable", "disabled" }, { "start", "started" },
		{ "stop", "stopped" }, { "restart", "restarted" },
		{ "reload", "reloaded" },
	};
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (strcmp(pairs[i][0], verb) == 0)
			return pairs[i][1];
	return verb;
}

/* A verb that changes something; in check mode only recorded. */
static int
act(struct svc *v, const char *verb, int with_unit, const char *why)
{
	struct agent_proc_result *res;
	char last[200], note[300];
	int code;

	(void)snprintf(note, sizeof(note), "%s%s%s%s", v->check_only ?
	    "would " : "", v->check_only ? verb : past(verb),
	    why != NULL ? " " : "", why != NULL ? why : "");
	agent_strlcat_sep(v->did, sizeof(v->did), note);
	if (v->check_only)
		return 0;
	if ((res = malloc(sizeof(*res))) == NULL) {
		agent_outcome_set(v->o, KP_ST_FAILED, "out of memory");
		return -1;
	}
	code = systemctl(v, verb, with_unit, ACTION_TIMEOUT_MS, res);
	if (code > 0) {
		agent_proc_last_line(&res->err, last, sizeof(last));
		if (last[0] == '\0')
			agent_proc_last_line(&res->out, last, sizeof(last));
		agent_outcome_set(v->o, KP_ST_FAILED, "systemctl %s %s failed "
		    "(exit %d): %s", verb, with_unit ? v->unit : "", code, last);
		code = -1;
	}
	free(res);
	return code;
}

/* is-enabled / is-active: 1 yes, 0 no, -1 could not ask. */
static int
query(struct svc *v, const char *verb, char *out, size_t outlen)
{
	struct agent_proc_result *res;
	int code;

	if ((res = malloc(sizeof(*res))) == NULL) {
		agent_outcome_set(v->o, KP_ST_FAILED, "out of memory");
		return -1;
	}
	code = systemctl(v, verb, 1, QUERY_TIMEOUT_MS, res);
	if (out != NULL)
		agent_proc_last_line(&res->out, out, outlen);
	free(res);
	return code < 0 ? -1 : code == 0;
}

/* Unit file: 1 when it (would) change, 0 when current, -1 on failure. */
static int
sync_unit(struct svc *v, const char *dir, const struct kp_kv *unit)
{
	char *old = NULL, path[4400], why[512];
	size_t old_len = 0;
	int r, ret = -1, created;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, v->unit) >=
	    sizeof(path)) {
		agent_outcome_set(v->o, KP_ST_FAILED, "unit path too long");
		return -1;
	}
	r = agent_read_file(path, UNIT_MAX, &old, &old_len, v->o);
	if (r != KORCH_OK && r != KORCH_ERR_NOT_FOUND)
		goto out;
	if (r == KORCH_OK && old_len == unit->val_len &&
	    memcmp(old, unit->val, old_len) == 0) {
		ret = 0;
		goto out;
	}
	agent_outcome_diff_text(v->o, path, old, old_len, unit->val,
	    unit->val_len);
	agent_strlcat_sep(v->did, sizeof(v->did), v->check_only ?
	    "would write unit file" : "wrote unit file");
	/* Marked first: a session that ends between this write and the
	 * restart leaves the restart owed, not forgotten. */
	if (!v->check_only && agent_restart_mark(v->unit, &created, why,
	    sizeof(why)) != KORCH_OK) {
		agent_outcome_set(v->o, KP_ST_FAILED, "cannot mark %s for "
		    "restart: %s", v->unit, why);
		goto out;
	}
	if (!v->check_only && agent_write_atomic(path, unit->val,
	    unit->val_len, 0644, AGENT_ID_NONE, AGENT_ID_NONE, v->o) !=
	    KORCH_OK)
		goto out;
	ret = 1;
out:
	free(old);
	return ret;
}

static int
service_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	const char *name, *dir;
	const struct kp_kv *unit;
	struct svc v;
	char why[64] = "", state_out[64], err[512];
	int enabled, state, restart, reload, watched = 0, unit_changed = 0;
	int marked;
	int active, on;
	uint32_t i;

	memset(&v, 0, sizeof(v));
	v.o = o;
	v.check_only = check_only;
	v.watch = agent_session_watch(s);
	v.systemctl = agent_systemctl_path();
	if (agent_arg_bool(t, "enabled", 1, &enabled, o) != KORCH_OK ||
	    agent_arg_bool(t, "restart", 0, &restart, o) != KORCH_OK ||
	    agent_arg_enum(t, "state", state_names, STATE_STARTED, &state,
	    o) != KORCH_OK ||
	    agent_arg_enum(t, "on_change", on_change_names, 0, &reload,
	    o) != KORCH_OK)
		return KORCH_OK;
	name = agent_arg_str(t, "name", "");
	if (agent_unit_name(name, v.unit, sizeof(v.unit)) != KORCH_OK) {
		agent_outcome_set(o, KP_ST_FAILED, "service: bad unit name "
		    "\"%.64s\"", name);
		return KORCH_OK;
	}
	/* A change made for it in a session that ended before this task
	 * ran (restart_mark.h). */
	marked = !check_only && agent_restart_marked(v.unit);
	dir = agent_arg_str(t, "unit_dir", "/etc/systemd/system");
	if (dir[0] != '/') {
		agent_outcome_set(o, KP_ST_FAILED, "service %s: unit_dir must be "
		    "absolute", v.unit);
		return KORCH_OK;
	}

	if ((unit = kp_task_arg(t, "unit")) != NULL) {
		if ((unit_changed = sync_unit(&v, dir, unit)) < 0)
			return KORCH_OK;
		/* Marked: an earlier session may have written the unit and
		 * ended before systemd read it. */
		if ((unit_changed || marked) &&
		    act(&v, "daemon-reload", 0, NULL) < 0)
			return KORCH_OK;
	}

	if ((on = query(&v, "is-enabled", state_out, sizeof(state_out))) < 0)
		return KORCH_OK;
	if (enabled && !on && act(&v, "enable", 1, NULL) < 0)
		return KORCH_OK;
	/* "static" and friends also answer 0 but cannot be disabled. */
	if (!enabled && on && strcmp(state_out, "enabled") == 0 &&
	    act(&v, "disable", 1, NULL) < 0)
		return KORCH_OK;

	if ((active = query(&v, "is-active", NULL, 0)) < 0)
		return KORCH_OK;
	if (state == STATE_STOPPED) {
		if (active && act(&v, "stop", 1, NULL) < 0)
			return KORCH_OK;
	} else if (!active) {
		if (act(&v, "start", 1, NULL) < 0)
			return KORCH_OK;
	} else {
		for (i = 0; i < t->nwatch; i++) {
			if (agent_session_task_changed(s, t->watch[i])) {
				(void)snprintf(why, sizeof(why), "(task %u "
				    "changed)", t->watch[i]);
				watched = 1;
				break;
			}
		}
		if (why[0] == '\0' && unit_changed)
			(void)snprintf(why, sizeof(why), "(unit changed)");
		/* A restart, as restart=1: the mark may be for a unit
		 * file that a reload would not read. */
		if (why[0] == '\0' && marked)
			(void)snprintf(why, sizeof(why), "(changed in an "
			    "earlier session)");
		if (why[0] == '\0' && restart)
			(void)snprintf(why, sizeof(why), "(restart=1)");
		if (why[0] == '\0' && state == STATE_RESTARTED)
			(void)snprintf(why, sizeof(why), "(state=restarted)");
		/* A watched change reloads when the task says so (haproxy:
		 * no connection dropped); anything else restarts. */
		if (why[0] != '\0' && act(&v, reload && watched ? "reload" :
		    "restart", 1, why) < 0)
			return KORCH_OK;
	}

	/* Started, restarted or stopped as asked: it runs what is on disk
	 * now, and owes no restart any more. */
	if (!check_only && agent_restart_unmark(v.unit, err, sizeof(err)) !=
	    KORCH_OK) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: cannot clear its "
		    "restart mark: %s", v.unit, err);
		return KORCH_OK;
	}
	if (v.did[0] == '\0')
		agent_outcome_set(o, KP_ST_OK, "%s %s, %s", v.unit,
		    state == STATE_STOPPED ? "stopped" : "active",
		    enabled ? "enabled" : "not enabled");
	else
		agent_outcome_set(o, KP_ST_CHANGED, "%s: %s", v.unit, v.did);
	return KORCH_OK;
}

const struct agent_module agent_mod_service = {
	.name = "service",
	.flags = 0,
	.run = service_run,
};
