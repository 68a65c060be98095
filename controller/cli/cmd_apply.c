/*
 * cmd_apply.c - `korch apply` and `korch plan`: open every input and the
 * state lock (cmd_open.h), prepare and guard the run, run the engine,
 * print the recap (or JSON), and turn the outcome into an exit status.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spec/bundle.h"
#include "cli/cmd.h"
#include "cli/cmd_certs.h"
#include "cli/cmd_open.h"
#include "cluster/cert_list.h"
#include "cluster/cluster_pki.h"
#include "engine/dag.h"
#include "base/diag.h"
#include "err.h"
#include "spec/inventory.h"
#include "base/json.h"
#include "engine/report.h"
#include "cluster/run_inputs.h"
#include "engine/sched.h"
#include "state.h"
#include "state_lock.h"
#include "state_upgrade.h"
#include "state_settings.h"
#include "cluster/upgrade_view.h"

static int
parse_args(const char *cmd, int argc, char **argv, struct ctx_args *a)
{
	enum { O_LIMIT = CMD_O_OWN, O_PLAN };
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "plan", no_argument, NULL, O_PLAN },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	cmd_run_begin(&a->r);
	while ((c = cmd_run_getopt(cmd, argc, argv, longopts, &a->r)) > 0) {
		switch (c) {
		case O_LIMIT:		a->r.o.limit = optarg; break;
		case O_PLAN:		a->r.o.check_only = 1; break;
		}
	}
	if (c < 0 || (a->inventory = cmd_operand(cmd, cmd, argc, argv,
	    "which inventory? (korch apply INVENTORY)",
	    "one inventory file only")) == NULL)
		return -1;
	return 0;
}

static int
print_json(const char *kind, int64_t run_id, const struct sched *s,
    unsigned hosts, unsigned failed, unsigned unreachable, int converged)
{
	struct json *j;
	const char *out;
	int r;

	if ((j = json_new()) == NULL)
		return KORCH_ERR_ALLOC;
	json_obj_begin(j);
	json_kstr(j, "command", kind);
	json_kint(j, "run_id", run_id);
	json_kbool(j, "converged", converged);
	json_kint(j, "hosts_total", hosts);
	json_kint(j, "hosts_failed", failed);
	json_kint(j, "hosts_unreachable", unreachable);
	sched_json_hosts(s, j);
	json_obj_end(j);
	if ((r = json_finish(j, &out, NULL)) == 0)
		printf("%s\n", out);
	json_free(j);
	return r;
}

/*
 * apply must not undo an upgrade behind the operator's back: refused
 * while one is unfinished, and while the inventory names another version
 * than the one an upgrade or rollback left the cluster on.
 */
int
apply_guard_upgrades(struct kstate *st, const struct inventory *inv,
    const char *version)
{
	struct kstate_upgrade *u = NULL;
	char *ver = NULL, pos[512];
	int r;

	if ((r = kstate_upgrade_unfinished(st, &u)) == 0) {
		upgrade_view_position(st, u, pos, sizeof(pos));
		fprintf(stderr, "korch: refused: %s is unfinished; finish it "
		    "with `korch %s` first (apply would mix versions); "
		    "nothing was changed\n", pos, u->kind);
		kstate_upgrade_free(u);
		return KX_USAGE;
	}
	if (r != KORCH_ERR_NOT_FOUND ||
	    kstate_setting_get(st, "cluster_version", &ver) != 0) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(st));
		return KX_INTERNAL;
	}
	if (ver != NULL && (version == NULL || strcmp(ver, version) != 0)) {
		fprintf(stderr, "korch: refused: the cluster runs Kubernetes %s "
		    "(set by korch upgrade or rollback) but %s %s %s; apply "
		    "would move every host at once.  Set kubernetes_version: "
		    "\"%s\" and that version's bundle in it, or change "
		    "versions with `korch upgrade`; nothing was changed\n", ver,
		    inv->path, version ? "and its bundle say" : "names no "
		    "version", version ? version : "", ver);
		free(ver);
		return KX_USAGE;
	}
	free(ver);
	return KX_OK;
}

/* What later commands find without being told: the inventory applied
 * (upgrade, rollback) and, once converged, the version it runs. */
static int
remember(struct kstate *st, const char *inventory, const char *version,
    int converged)
{
	char abs[PATH_MAX];
	int r;

	if (realpath(inventory, abs) == NULL)
		return 0;
	if ((r = kstate_setting_set(st, "inventory", abs)) != 0)
		return r;
	if (converged && version != NULL)
		r = kstate_setting_set(st, "cluster_version", version);
	return r;
}

/* A warning on stderr for each certificate of the store inside its
 * renewal window; a store korch cannot read yet is apply's to fix. */
static void
apply_warn_certs(struct cmd_ctx *c)
{
	struct cluster_pki *cp = NULL;
	struct cert_list *l = NULL;

	if (certs_load(c, 1, &cp, &l) == KX_OK && l != NULL)
		(void)certs_warn(l, c->inv, time(NULL), stderr);
	cert_list_free(l);
	cluster_pki_free(cp);
}

/* Under the lock, before any host is contacted: the inputs prepared and
 * checked against the playbooks, the guard against undoing an upgrade,
 * and the engine's options.  *version: what this apply deploys. */
static int
apply_inputs(struct cmd_ctx *c, const char **version)
{
	struct sched_opts *o = &c->a.r.o;
	int r;

	/* Before they are re-issued: what is near its end, said plainly. */
	apply_warn_certs(c);
	/* Under the lock: two runs must not both make certificates. */
	/* Certificates made are news even with --json: stderr. */
	if ((r = ctx_prepare(c, c->a.r.bundle, stderr)) != KX_OK)
		return r;
	/* The version this apply deploys: as the inventory says, else as its
	 * bundle holds. */
	*version = c->inv->cluster.kubernetes_version;
	if (*version == NULL && c->in.bundle != NULL)
		*version = c->in.bundle->kubernetes_version;
	if (!o->check_only &&
	    (r = apply_guard_upgrades(c->st, c->inv, *version)) != KX_OK)
		return r;
	if ((r = inputs_check_bundle(&c->in, c->pb, c->dag, c->d)) != 0) {
		diag_print(c->d, stderr);
		fprintf(stderr, "korch: the playbooks need what the bundle "
		    "lacks; nothing was changed\n");
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	o->bundle = c->in.bundle;
	o->host_vars = inputs_host_vars;
	o->host_vars_arg = &c->in;
	return KX_OK;
}

/* One run of the engine over what is open, and what came of it. */
struct apply_run {
	struct report	*rep;
	struct sched	*s;
	const char	*version;
	unsigned	 hosts, failed, unreach, changed;
	enum kstate_run_result result;
};

/* The recap and the verdict of a run that ended (r: sched_run()'s
 * 0 or KORCH_ERR_INTERRUPTED), what later commands are to find in the
 * state, the JSON summary.  Exit code. */
static int
apply_verdict(struct cmd_ctx *c, struct apply_run *ar, int r)
{
	char msg[1024];
	int rc, check_only = c->a.r.o.check_only;
	unsigned hosts = ar->hosts, failed = ar->failed, unreach = ar->unreach,
	    changed = ar->changed;

	report_recap_header(ar->rep);
	sched_recap(ar->s);
	if (r == KORCH_ERR_INTERRUPTED) {
		rc = KX_INTERRUPTED;
		ar->result = KSTATE_RUN_ABORTED;
		snprintf(msg, sizeof(msg), "interrupted: run again to finish");
	} else if (failed + unreach > 0) {
		rc = KX_HOSTS;
		snprintf(msg, sizeof(msg), "%s: %u of %u hosts %s; %u failed, "
		    "%u unreachable", check_only ? "plan incomplete" :
		    "not converged", hosts - failed - unreach, hosts,
		    check_only ? "checked" : "converged", failed, unreach);
	} else {
		rc = KX_OK;
		ar->result = KSTATE_RUN_CONVERGED;
		if (check_only)
			snprintf(msg, sizeof(msg), "plan: %u change%s pending "
			    "on %u host%s", changed, changed == 1 ? "" : "s",
			    hosts, hosts == 1 ? "" : "s");
		else
			snprintf(msg, sizeof(msg), "converged: %u host%s, "
			    "%u change%s", hosts, hosts == 1 ? "" : "s",
			    changed, changed == 1 ? "" : "s");
	}
	report_verdict(ar->rep, msg, rc == KX_OK);
	if (!check_only && remember(c->st, c->a.inventory, ar->version,
	    rc == KX_OK) != 0)
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
	if (c->a.r.json)
		(void)print_json(c->kind, c->run_id, ar->s, hosts, failed,
		    unreach, rc == KX_OK);
	return rc;
}

/* The report, the scheduler, the run.  Exit code. */
static int
apply_engine(struct cmd_ctx *c, struct apply_run *ar)
{
	struct inventory *inv = c->inv;
	char msg[1024], what[PATH_MAX + 64];
	size_t i;
	int r, width = 4;

	ar->rep = report_new(stdout, stderr, (c->a.r.json ? REPORT_JSON : 0) |
	    (c->a.r.verbose ? REPORT_VERBOSE : 0) |
	    (c->a.r.o.check_only ? REPORT_CHECK : 0), (unsigned)inv->nhosts);
	if (ar->rep == NULL)
		return KX_INTERNAL;
	for (i = 0; i < inv->nhosts; i++)
		if ((int)strlen(inv->hosts[i].name) > width)
			width = (int)strlen(inv->hosts[i].name);
	report_set_name_width(ar->rep, width);
	msg[0] = '\0';
	if ((r = sched_new(inv, c->pb, c->dag, c->st, c->run_id, &c->img,
	    &c->a.r.o, ar->rep, &ar->s, msg, sizeof(msg))) != 0) {
		fprintf(stderr, "korch: %s\n", msg[0] ? msg : korch_strerror(r));
		return r == KORCH_ERR_INVALID_ARG ? KX_USAGE : KX_INTERNAL;
	}
	snprintf(what, sizeof(what), "korch %s %s", c->kind, c->a.inventory);
	report_begin(ar->rep, what, c->run_id, (unsigned)inv->nhosts,
	    (unsigned)dag_nsteps(c->dag));
	r = sched_run(ar->s);
	sched_outcome(ar->s, &ar->hosts, &ar->failed, &ar->unreach,
	    &ar->changed);
	if (r != 0 && r != KORCH_ERR_INTERRUPTED)
		return KX_INTERNAL;
	return apply_verdict(c, ar, r);
}

static int
run(const char *kind, int argc, char **argv, int check_only)
{
	struct cmd_ctx c;
	struct apply_run ar;
	int rc;

	memset(&ar, 0, sizeof(ar));
	ar.result = KSTATE_RUN_FAILED;
	if ((rc = ctx_init(&c, kind, argc, argv)) != KX_OK)
		return ctx_finish(&c, rc);
	if (parse_args(kind, argc, argv, &c.a) != 0)
		return ctx_finish(&c, KX_USAGE);
	c.a.r.o.check_only |= check_only;
	if (c.a.r.o.check_only)
		c.kind = "plan";
	/* Every input is loaded and checked before any host is contacted. */
	if ((rc = ctx_open(&c, argv, CTX_OPEN_NEW_STATE)) == KX_OK &&
	    (rc = apply_inputs(&c, &ar.version)) == KX_OK)
		rc = apply_engine(&c, &ar);
	/* Once the lock is held, a run that went wrong is a failed one. */
	ctx_end_run(&c, ar.result, rc);
	sched_free(ar.s);
	report_free(ar.rep);
	return ctx_finish(&c, rc);
}

int
cmd_apply(int argc, char **argv)
{
	return run("apply", argc, argv, 0);
}

int
cmd_plan(int argc, char **argv)
{
	return run("plan", argc, argv, 1);
}
