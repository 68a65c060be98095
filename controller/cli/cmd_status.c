/*
 * cmd_status.c - `korch status`: what the state database knows, without
 * contacting any host: the last run, every host's last contact and
 * outcome, failures, pending restarts, and (--all) every observed task.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_certs.h"
#include "err.h"
#include "base/json.h"
#include "engine/report.h"
#include "state.h"
#include "state_lock.h"
#include "state_record.h"
#include "state_query.h"
#include "state_upgrade.h"
#include "cluster/upgrade_view.h"

struct status_data {
	struct kstate_run	*run;
	struct kstate_host	*hosts;
	size_t			 nhosts;
	struct kstate_run_host	*rh;
	size_t			 nrh;
	struct kstate_task_result *fails;
	size_t			 nfails;
	struct kstate_pending	*pend;
	size_t			 npend;
	struct kstate_observed	*obs;
	size_t			 nobs;
	struct kstate_component	*comp;
	size_t			 ncomp;
	/* The unfinished upgrade or rollback, else the newest one. */
	struct kstate_upgrade	*upg;
	int			 upg_unfinished;
};

/* Who leads the components that elect a leader: observe rows named
 * "leader/<component>", whose observed value is the holder's host. */
#define LEADER_PREFIX	"leader/"

static int
is_leader_row(const struct kstate_component *c)
{
	return strncmp(c->component, LEADER_PREFIX, strlen(LEADER_PREFIX)) == 0;
}

/* 1 when row k is the newest observation of its leader (every master
 * observes it; the newest one wins). */
static int
leader_newest(const struct status_data *sd, size_t k)
{
	const struct kstate_component *c = &sd->comp[k], *o;
	size_t i;

	if (!is_leader_row(c))
		return 0;
	for (i = 0; i < sd->ncomp; i++) {
		o = &sd->comp[i];
		if (i != k && strcmp(o->component, c->component) == 0 &&
		    (o->observed_at > c->observed_at ||
		    (o->observed_at == c->observed_at && i < k)))
			return 0;
	}
	return 1;
}

static const struct kstate_run_host *
find_rh(const struct status_data *sd, const char *host)
{
	size_t i;

	for (i = 0; i < sd->nrh; i++)
		if (strcmp(sd->rh[i].host, host) == 0)
			return &sd->rh[i];
	return NULL;
}

/* The run's host errors and failed tasks, under one header. */
static void
print_problems(const struct status_data *sd)
{
	size_t i;
	int header = 0;

	for (i = 0; i < sd->nrh; i++) {
		if (sd->rh[i].error == NULL)
			continue;
		if (!header++)
			printf("\nproblems in run #%lld:\n",
			    (long long)sd->run->id);
		printf("  %s: %s: %s\n", sd->rh[i].host,
		    kstate_outcome_name(sd->rh[i].outcome),
		    sd->rh[i].error);
	}
	for (i = 0; i < sd->nfails; i++) {
		if (!header++)
			printf("\nproblems in run #%lld:\n",
			    (long long)sd->run->id);
		printf("  %s: %s %s: ", sd->fails[i].host,
		    sd->fails[i].task_key,
		    kstate_status_name(sd->fails[i].status));
		/* A gate's diagnosis is several lines: indented,
		 * and cleaned of control characters. */
		report_write_message(stdout, sd->fails[i].message ?
		    sd->fails[i].message : "", 4);
	}
}

static void
print_text(struct kstate *st, const char *path, const struct status_data *sd,
    int all)
{
	const struct kstate_run *run = sd->run;
	const struct kstate_run_host *rh;
	char t1[32], t2[32];
	size_t i, n;
	int w = 4;

	printf("state: %s\n", path);
	if (run == NULL) {
		printf("no runs recorded yet\n");
		return;
	}
	report_fmt_time(run->started_at, 1, t1, sizeof(t1));
	printf("last run: #%lld %s, %s", (long long)run->id, run->kind,
	    kstate_run_result_name(run->result));
	if (run->ended_at > 0)
		printf(" (exit %d), started %s, took %.1fs", run->exit_code, t1,
		    (double)(run->ended_at - run->started_at) / 1000.0);
	else
		printf(", started %s, pid %ld on %s", t1, run->pid,
		    run->hostname ? run->hostname : "?");
	printf("\n  %s\n\n", run->args ? run->args : "");
	certs_status(path, time(NULL), stdout, NULL);
	if (sd->upg != NULL) {
		/* In progress: every phase, so the hosts done are seen. */
		(void)upgrade_view_print(st, sd->upg, sd->upg_unfinished ||
		    all, stdout);
		if (sd->upg_unfinished)
			printf("  run `korch %s` again to go on\n",
			    sd->upg->kind);
		printf("\n");
	}

	for (i = 0; i < sd->nhosts; i++)
		if ((int)strlen(sd->hosts[i].name) > w)
			w = (int)strlen(sd->hosts[i].name);
	printf("%-*s  %-15s  %-9s  %-19s  %-11s  %4s %4s %4s %4s\n", w, "HOST",
	    "ADDRESS", "REACHABLE", "LAST CONTACT", "LAST RUN", "OK", "CHG",
	    "FAIL", "SKIP");
	for (i = 0; i < sd->nhosts; i++) {
		rh = find_rh(sd, sd->hosts[i].name);
		report_fmt_time(sd->hosts[i].last_contact, 1, t2, sizeof(t2));
		printf("%-*s  %-15s  %-9s  %-19s  %-11s", w, sd->hosts[i].name,
		    sd->hosts[i].address ? sd->hosts[i].address : "-",
		    sd->hosts[i].reachable ? "yes" : "NO", t2,
		    rh ? kstate_outcome_name(rh->outcome) : "(not in run)");
		if (rh)
			printf("  %4d %4d %4d %4d", rh->ok, rh->changed,
			    rh->failed, rh->skipped);
		printf("\n");
	}
	print_problems(sd);
	if (sd->ncomp > 0) {
		printf("\n%-*s  %-24s %-10s %-10s %s\n", w, "HOST", "COMPONENT",
		    "DESIRED", "OBSERVED", "ACTIVE");
		for (i = 0; i < sd->ncomp; i++) {
			const struct kstate_component *c = &sd->comp[i];
			int drift = c->desired != NULL &&
			    strcmp(c->desired, c->observed) != 0;

			if (is_leader_row(c))
				continue;
			printf("%-*s  %-24s %-10s %-10s %s%s\n", w, c->host,
			    c->component, c->desired ? c->desired : "-",
			    c->observed, c->active, drift ? "  (differs)" : "");
		}
	}
	for (i = 0, n = 0; i < sd->ncomp; i++) {
		const struct kstate_component *c = &sd->comp[i];

		if (!leader_newest(sd, i))
			continue;
		if (n++ == 0)
			printf("\nleaders (as the last run saw them):\n");
		report_fmt_time(c->observed_at, 1, t2, sizeof(t2));
		printf("  %-24s %s%s  (asked on %s, %s)\n", c->component +
		    strlen(LEADER_PREFIX), strcmp(c->observed, "none") == 0 ?
		    "no leader" : "on ", strcmp(c->observed, "none") == 0 ?
		    "" : c->observed, c->host, t2);
	}
	if (sd->npend > 0) {
		printf("\npending restarts (done by the next apply):\n");
		for (i = 0; i < sd->npend; i++)
			printf("  %s: %s (changed: %s)\n", sd->pend[i].host,
			    sd->pend[i].task_key, sd->pend[i].reason ?
			    sd->pend[i].reason : "?");
	}
	if (all && sd->nobs > 0) {
		printf("\nobserved tasks:\n");
		for (i = 0; i < sd->nobs; i++) {
			report_fmt_time(sd->obs[i].changed_at, 1, t2, sizeof(t2));
			printf("  %-*s  %-40s %-6s last changed %s\n", w,
			    sd->obs[i].host, sd->obs[i].task_key,
			    kstate_status_name(sd->obs[i].status), t2);
		}
	}
}

/* One host of the JSON: what the state knows of it and its last run. */
static void
json_host(struct json *j, const struct status_data *sd,
    const struct kstate_host *h)
{
	const struct kstate_run_host *rh;
	size_t k;

	json_obj_begin(j);
	json_kstr(j, "name", h->name);
	json_kstr(j, "address", h->address);
	json_kbool(j, "reachable", h->reachable);
	json_kint(j, "last_contact_ms", h->last_contact);
	json_kstr(j, "hostkey", h->hostkey_fp);
	json_kstr(j, "error", h->last_error);
	json_key(j, "facts");
	json_raw(j, h->facts_json);
	rh = find_rh(sd, h->name);
	json_key(j, "last_run");
	if (rh == NULL)
		json_null(j);
	else {
		json_obj_begin(j);
		json_kstr(j, "outcome", kstate_outcome_name(rh->outcome));
		json_kint(j, "ok", rh->ok);
		json_kint(j, "changed", rh->changed);
		json_kint(j, "failed", rh->failed);
		json_kint(j, "skipped", rh->skipped);
		json_kbool(j, "unreachable",
		    rh->outcome == KSTATE_HOST_UNREACHABLE);
		json_kstr(j, "error", rh->error);
		json_obj_end(j);
	}
	json_key(j, "components");
	json_arr_begin(j);
	for (k = 0; k < sd->ncomp; k++) {
		if (strcmp(sd->comp[k].host, h->name) != 0 ||
		    is_leader_row(&sd->comp[k]))
			continue;
		json_obj_begin(j);
		json_kstr(j, "name", sd->comp[k].component);
		json_kstr(j, "desired", sd->comp[k].desired);
		json_kstr(j, "observed", sd->comp[k].observed);
		json_kstr(j, "active", sd->comp[k].active);
		json_kint(j, "observed_at_ms", sd->comp[k].observed_at);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "tasks");
	json_arr_begin(j);
	for (k = 0; k < sd->nobs; k++) {
		if (strcmp(sd->obs[k].host, h->name) != 0)
			continue;
		json_obj_begin(j);
		json_kstr(j, "task", sd->obs[k].task_key);
		json_kstr(j, "status", kstate_status_name(sd->obs[k].status));
		json_kstr(j, "digest", sd->obs[k].digest);
		json_kint(j, "changed_at_ms", sd->obs[k].changed_at);
		json_kint(j, "run_id", sd->obs[k].run_id);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static int
print_json(struct kstate *st, const char *path, const struct status_data *sd)
{
	struct json *j;
	const char *out;
	size_t i;
	int r;

	if ((j = json_new()) == NULL)
		return KORCH_ERR_ALLOC;
	json_obj_begin(j);
	json_kstr(j, "state", path);
	json_key(j, "last_run");
	if (sd->run == NULL)
		json_null(j);
	else {
		json_obj_begin(j);
		json_kint(j, "id", sd->run->id);
		json_kstr(j, "kind", sd->run->kind);
		json_kstr(j, "args", sd->run->args);
		json_kstr(j, "result", kstate_run_result_name(sd->run->result));
		json_kint(j, "exit_code", sd->run->exit_code);
		json_kint(j, "started_at_ms", sd->run->started_at);
		json_kint(j, "ended_at_ms", sd->run->ended_at);
		json_obj_end(j);
	}
	json_key(j, "hosts");
	json_arr_begin(j);
	for (i = 0; i < sd->nhosts; i++)
		json_host(j, sd, &sd->hosts[i]);
	json_arr_end(j);
	json_key(j, "upgrade");
	if (sd->upg == NULL || upgrade_view_json(st, sd->upg, j) != 0)
		json_null(j);
	json_kbool(j, "upgrade_unfinished", sd->upg_unfinished);
	json_key(j, "failures");
	json_arr_begin(j);
	for (i = 0; i < sd->nfails; i++) {
		json_obj_begin(j);
		json_kstr(j, "host", sd->fails[i].host);
		json_kstr(j, "task", sd->fails[i].task_key);
		json_kstr(j, "status", kstate_status_name(sd->fails[i].status));
		json_kstr(j, "message", sd->fails[i].message);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "leaders");
	json_arr_begin(j);
	for (i = 0; i < sd->ncomp; i++) {
		if (!leader_newest(sd, i))
			continue;
		json_obj_begin(j);
		json_kstr(j, "component", sd->comp[i].component +
		    strlen(LEADER_PREFIX));
		json_kstr(j, "host", strcmp(sd->comp[i].observed, "none") == 0 ?
		    NULL : sd->comp[i].observed);
		json_kstr(j, "asked_on", sd->comp[i].host);
		json_kint(j, "observed_at_ms", sd->comp[i].observed_at);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "pending_restarts");
	json_arr_begin(j);
	for (i = 0; i < sd->npend; i++) {
		json_obj_begin(j);
		json_kstr(j, "host", sd->pend[i].host);
		json_kstr(j, "task", sd->pend[i].task_key);
		json_kstr(j, "reason", sd->pend[i].reason);
		json_obj_end(j);
	}
	json_arr_end(j);
	certs_status(path, time(NULL), NULL, j);
	json_obj_end(j);
	if ((r = json_finish(j, &out, NULL)) == 0)
		printf("%s\n", out);
	json_free(j);
	return r;
}

int
cmd_status(int argc, char **argv)
{
	enum { O_STATE = 256, O_JSON, O_ALL };
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, O_STATE },
		{ "json", no_argument, NULL, O_JSON },
		{ "all", no_argument, NULL, O_ALL },
		{ NULL, 0, NULL, 0 }
	};
	struct status_data sd;
	struct kstate *st = NULL;
	char path[PATH_MAX];
	const char *state = NULL;
	int c, json = 0, all = 0, r, rc = KX_INTERNAL;

	memset(&sd, 0, sizeof(sd));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_STATE:	state = optarg; break;
		case O_JSON:	json = 1; break;
		case O_ALL:	all = 1; break;
		default:
			fprintf(stderr, "korch status: unknown option %s\n",
			    argv[optind - 1]);
			cmd_usage("status");
			return KX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "korch status: unexpected argument %s\n",
		    argv[optind]);
		cmd_usage("status");
		return KX_USAGE;
	}
	if (state != NULL)
		snprintf(path, sizeof(path), "%s", state);
	else if (kstate_default_path(path, sizeof(path)) != 0) {
		fprintf(stderr, "korch: no home directory; use --state FILE\n");
		return KX_USAGE;
	}
	/* status never creates a state: a typo in --state must not look
	 * like an empty cluster. */
	if (access(path, F_OK) != 0) {
		fprintf(stderr, "korch: no state at %s (run 'korch apply "
		    "INVENTORY' first, or name it with --state)\n", path);
		return KX_USAGE;
	}
	/* Only reading: a read-only file or directory serves.  A state of
	 * an older schema is migrated when it can be written. */
	if ((r = kstate_open_readonly(path, &st)) == KORCH_ERR_READONLY_SCHEMA
	    && access(path, W_OK) == 0) {
		kstate_close(st);
		r = kstate_open(path, &st);
	}
	if (r != 0) {
		fprintf(stderr, "korch: state %s: %s\n", path,
		    kstate_errmsg(st));
		goto out;
	}
	r = kstate_run_last(st, NULL, &sd.run);
	if (r != 0 && r != KORCH_ERR_NOT_FOUND)
		goto dberr;
	if ((r = kstate_hosts_list(st, &sd.hosts, &sd.nhosts)) != 0 ||
	    (r = kstate_observed_list(st, NULL, &sd.obs, &sd.nobs)) != 0 ||
	    (r = kstate_components_list(st, NULL, &sd.comp, &sd.ncomp)) != 0 ||
	    (r = kstate_pending_restarts_list(st, NULL, &sd.pend,
	    &sd.npend)) != 0)
		goto dberr;
	if (sd.run != NULL &&
	    ((r = kstate_run_hosts_list(st, sd.run->id, &sd.rh,
	    &sd.nrh)) != 0 || (r = kstate_results_list(st, sd.run->id, NULL,
	    KSTATE_RESULTS_FAILED_ONLY, &sd.fails, &sd.nfails)) != 0))
		goto dberr;
	if ((r = kstate_upgrade_unfinished(st, &sd.upg)) == 0)
		sd.upg_unfinished = 1;
	else if (r == KORCH_ERR_NOT_FOUND &&
	    (r = kstate_upgrade_last(st, NULL, &sd.upg)) == KORCH_ERR_NOT_FOUND)
		r = 0;
	if (r != 0)
		goto dberr;
	if (json)
		r = print_json(st, path, &sd);
	else
		print_text(st, path, &sd, all);
	rc = r == 0 ? KX_OK : KX_INTERNAL;
	goto out;
dberr:
	fprintf(stderr, "korch: state %s: %s\n", path, kstate_errmsg(st));
out:
	kstate_run_free(sd.run);
	kstate_hosts_free(sd.hosts, sd.nhosts);
	kstate_run_hosts_free(sd.rh, sd.nrh);
	kstate_results_free(sd.fails, sd.nfails);
	kstate_pending_restarts_free(sd.pend, sd.npend);
	kstate_observed_free(sd.obs, sd.nobs);
	kstate_components_free(sd.comp, sd.ncomp);
	kstate_upgrade_free(sd.upg);
	kstate_close(st);
	return rc;
}
