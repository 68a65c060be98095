/*
 * upgrade_pass.c - the engine passes the phases are made of: a profile
 * slot's steps on some hosts with some variables, the hosts' failures
 * gathered into one message; and the line each phase shows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "spec/profile.h"
#include "engine/report.h"
#include "engine/sched.h"
#include "cluster/run_inputs.h"
#include "cluster/upgrade_run.h"
#include "cluster/upgrade_run-int.h"
#include "engine/vars.h"

/* A message into a caller's buffer; cut short when it does not fit (the
 * messages name paths and hosts, and any prefix of them still helps). */
__attribute__((format(printf, 3, 4)))
void
upg_msgf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* The pass-specific variables on top of the run's (sched host_vars). */
struct pass_vars {
	struct run_inputs	*in;
	const struct vars	*extra;
};

static int
pass_host_vars(void *arg, size_t host, struct vars **out)
{
	/* Every host renders every upgrade step, also those a pass leaves
	 * out: each variable has a value. */
	static const char *const names[] = { "upgrade_snapshot",
	    "upgrade_snapshot_dest", "upgrade_nodes", "upgrade_version",
	    "restore_sha256", "restore_size", "restore_stamp" };
	struct pass_vars *pv = arg;
	size_t i;
	int r;

	if ((r = inputs_host_vars(pv->in, host, out)) != 0)
		return r;
	for (i = 0; r == 0 && i < sizeof(names) / sizeof(names[0]); i++)
		r = vars_set(*out, names[i], "");
	for (i = 0; r == 0 && pv->extra != NULL &&
	    i < vars_count(pv->extra); i++)
		r = vars_set_flags(*out, vars_key(pv->extra, i),
		    vars_value(pv->extra, i), vars_flags_at(pv->extra, i));
	if (r != 0) {
		vars_free(*out);
		*out = NULL;
	}
	return r;
}

/*
 * One engine pass: steps of (pb, dag) on the hosts named in limit.  failed
 * (inventory-sized, may be NULL) gets 1 for each host that did not make
 * it.  0 when every host made it; KORCH_ERR_CONNECT (a host unreachable)
 * or KORCH_ERR_AGENT (a step failed) with "host: reason", a line per host,
 * in why.
 */
static int
pass(const struct upgrade_env *e, const struct playbook *pb,
    const struct dag *dag, const char *const *steps, const char *limit,
    const struct vars *extra, unsigned char *failed, char *why,
    size_t whylen)
{
	struct pass_vars pv = { e->in, extra };
	struct sched_opts o = e->o;
	struct report *rep;
	struct sched *s = NULL;
	const char *msg, *task;
	char err[512];
	size_t i, len;
	int r, unreachable = 0, bad = 0;

	o.steps = steps;
	o.limit = limit;
	o.host_vars = pass_host_vars;
	o.host_vars_arg = &pv;
	o.no_signals = 1;
	why[0] = '\0';
	rep = report_new(e->out ? e->out : stdout, stderr,
	    e->verbose && e->out ? REPORT_VERBOSE : REPORT_JSON,
	    (unsigned)e->inv->nhosts);
	if (rep == NULL)
		return KORCH_ERR_ALLOC;
	err[0] = '\0';
	if ((r = sched_new(e->inv, pb, dag, e->st, e->run_id, e->img, &o, rep,
	    &s, err, sizeof(err))) != 0) {
		upg_msgf(why, whylen, "%s", err[0] ? err : korch_strerror(r));
		report_free(rep);
		return r;
	}
	r = sched_run(s);
	for (i = 0; r == 0 && i < e->inv->nhosts; i++) {
		switch (sched_host_result(s, i, &msg, &task)) {
		case SCHED_HOST_OK:
		case SCHED_HOST_EXCLUDED:
			continue;
		case SCHED_HOST_UNREACHABLE:
			unreachable = 1;
			break;
		case SCHED_HOST_FAILED:
			break;
		}
		bad++;
		if (failed != NULL)
			failed[i] = 1;
		len = strlen(why);
		upg_msgf(why + len, whylen - len, "%s%s: %s%s%s", len ? "\n" :
		    "", e->inv->hosts[i].name, task ? task : "",
		    task ? ": " : "", msg ? msg : "failed");
	}
	sched_free(s);
	report_free(rep);
	if (r != 0)
		return r;
	if (bad == 0)
		return 0;
	return unreachable ? KORCH_ERR_CONNECT : KORCH_ERR_AGENT;
}

/*
 * The slots of the profile (profile.h `steps:`) this file runs, each a
 * list of steps of one playbook set: the cluster's or <playbooks>/upgrade.
 */
static const char *const slots[] = {
	"preflight-observe", "preflight-health", "snapshot", "etcd-swap",
	"etcd-gate", "master-swap", "node-drain", "node-swap", "node-gate",
	"restore-stop", "restore-members", "restore-member-health",
	"restore-cluster-health", "restore-network", "restore-start",
	"restore-ready", NULL,
};

/* The steps of slot and the playbook set that holds them; 0, or
 * KORCH_ERR_INVALID_ARG with the reason in why. */
static int
slot_steps(const struct upgrade_env *e, const char *slot,
    const char *const **steps, const struct playbook **pb,
    const struct dag **dag, char *why, size_t whylen)
{
	const char *const *st = profile_steps(e->in->profile, slot), *const *s;
	int in_pb = 0;

	if (st == NULL || st[0] == NULL) {
		upg_msgf(why, whylen, "%s: the profile names no steps for "
		    "'%s' (steps.%s)", e->in->profile ?
		    profile_file(e->in->profile) : "no profile", slot, slot);
		return KORCH_ERR_INVALID_ARG;
	}
	for (s = st; *s != NULL; s++) {
		in_pb = playbook_find_step(e->pb, *s) >= 0;
		if (in_pb != (playbook_find_step(e->pb, st[0]) >= 0) ||
		    (!in_pb && playbook_find_step(e->upb, *s) < 0)) {
			upg_msgf(why, whylen, "%s: steps.%s: '%s' is not a "
			    "step of %s", profile_file(e->in->profile), slot,
			    *s,
			    in_pb || s == st ? "the playbooks or their "
			    "upgrade/ set" : "the same playbook set as the "
			    "slot's first step");
			return KORCH_ERR_INVALID_ARG;
		}
	}
	*steps = st;
	*pb = in_pb ? e->pb : e->upb;
	*dag = in_pb ? e->dag : e->udag;
	return 0;
}

int
upgrade_check_slots(const struct upgrade_env *e, char *why, size_t whylen)
{
	const struct playbook *pb;
	const struct dag *dag;
	const char *const *st;
	size_t i;
	int r;

	for (i = 0; slots[i] != NULL; i++)
		if ((r = slot_steps(e, slots[i], &st, &pb, &dag, why,
		    whylen)) != 0)
			return r;
	return 0;
}

/* pass() over the steps of a profile slot. */
int
upg_pass_slot(const struct upgrade_env *e, const char *slot, const char *limit,
    const struct vars *extra, unsigned char *failed, char *why,
    size_t whylen)
{
	const struct playbook *pb;
	const struct dag *dag;
	const char *const *st;
	int r;

	if ((r = slot_steps(e, slot, &st, &pb, &dag, why, whylen)) != 0)
		return r;
	return pass(e, pb, dag, st, limit, extra, failed, why, whylen);
}

int
upgrade_pass_all(const struct upgrade_env *e, const char *limit,
    unsigned char *failed, char *why, size_t whylen)
{
	return pass(e, e->pb, e->dag, NULL, limit, NULL, failed, why, whylen);
}

/* Comma-joined names of the hosts in idx[0..n) not marked in skip, as a
 * new string ("" when every one is skipped); NULL on ENOMEM. */
char *
upg_join_names(const struct inventory *inv, const size_t *idx, size_t n,
    const unsigned char *skip)
{
	size_t i, len = 1, off = 0, k;
	char *out;

	for (i = 0; i < n; i++)
		len += strlen(inv->hosts[idx[i]].name) + 1;
	if ((out = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (skip != NULL && skip[idx[i]])
			continue;
		if (off > 0)
			out[off++] = ',';
		k = strlen(inv->hosts[idx[i]].name);
		memcpy(out + off, inv->hosts[idx[i]].name, k);
		off += k;
	}
	out[off] = '\0';
	return out;
}

double
upg_secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * One line per phase: "  [3/5] node     node2   done  7.6s" ([3-4/5] for
 * a batch).  On a terminal the line shows first with "..." while the
 * phase runs (what == NULL), then is rewritten with the outcome.
 */
void
upg_say_phase(const struct upgrade_env *e, int first, int last, size_t total,
    const char *phase, const char *hosts, const char *what)
{
	char pos[32];
	int tty;

	if (e->out == NULL)
		return;
	tty = isatty(fileno(e->out));
	if (what == NULL && !tty)
		return;
	if (first == last)
		snprintf(pos, sizeof(pos), "[%d/%zu]", first, total);
	else
		snprintf(pos, sizeof(pos), "[%d-%d/%zu]", first, last, total);
	fprintf(e->out, "%s  %-8s %-8s %-20s %s%s", tty ? "\r\033[K" : "", pos,
	    phase, hosts, what ? what : "...", what ? "\n" : "");
	fflush(e->out);
}
