/*
 * cmd_upgrade.c - `korch upgrade` and `korch rollback`: decide what is to
 * be done (resume the unfinished entry, or start a new one), refuse what
 * must not happen before any host changes, write the journal, and walk
 * it (upgrade_run.h).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/bundle.h"
#include "cli/cmd.h"
#include "cli/cmd_ctx.h"
#include "engine/dag.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/inputs.h"
#include "spec/inventory.h"
#include "base/json.h"
#include "spec/playbook.h"
#include "spec/profile.h"
#include "state.h"
#include "state_lock.h"
#include "state_query.h"
#include "state_settings.h"
#include "state_upgrade.h"
#include "cluster/upgrade_journal.h"
#include "cluster/upgrade_plan.h"
#include "cluster/upgrade_run.h"
#include "engine/vars.h"

static int
parse_args(const char *cmd, int argc, char **argv, struct ctx_args *a)
{
	enum { O_TO = 256, O_INV, O_MAXU, O_PLAN, O_DOWN, O_ABANDON };
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "inventory", required_argument, NULL, O_INV },
		{ "max-unavailable", required_argument, NULL, O_MAXU },
		{ "plan", no_argument, NULL, O_PLAN },
		{ "allow-downgrade", no_argument, NULL, O_DOWN },
		{ "abandon", no_argument, NULL, O_ABANDON },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c, rollback = strcmp(cmd, "rollback") == 0;

	cmd_run_defaults(&a->r);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v", longopts, NULL)) != -1) {
		if (rollback && (c == O_TO || c == O_DOWN || c == O_ABANDON ||
		    c == O_MAXU)) {
			fprintf(stderr, "korch rollback: --to, "
			    "--max-unavailable, --allow-downgrade and --abandon "
			    "are upgrade options (a rollback returns to the "
			    "version the upgrade came from)\n");
			cmd_usage(cmd);
			return -1;
		}
		switch (c) {
		case O_TO:		a->to = optarg; break;
		case O_INV:		a->inventory = optarg; break;
		case O_MAXU:		a->max_unavail = optarg; break;
		case O_PLAN:		a->plan = 1; break;
		case O_DOWN:		a->allow_downgrade = 1; break;
		case O_ABANDON:		a->abandon = 1; break;
		default:
			if (cmd_run_option(cmd, c, optarg, argv, &a->r) != 0)
				return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "korch %s: unexpected argument %s\n", cmd,
		    argv[optind]);
		cmd_usage(cmd);
		return -1;
	}
	return 0;
}

/* ---- where the cluster is ----------------------------------------------- */

struct observed {
	struct kver	 low, high;	/* of Kubernetes' own components */
	int		 have;
	struct kver	 etcd_low;	/* the lowest etcd member's */
	int		 have_etcd;
	int		 etcd_differs;	/* some member runs another etcd */
	int		 behind;	/* some component is not the target */
};

/*
 * etcd's own rules: its members move one minor version at a time (each
 * member joins a cluster whose version is the lowest member's), and never
 * back a minor version.  From the versions the pre-flight observed.
 */
static int
refuse_etcd_skew(struct cmd_ctx *c, const struct observed *ob)
{
	const char *const *etcd = profile_runs(c->in.profile, "etcd");
	const struct bundle_component *bc;
	struct kver to;
	char why[512];

	for (; ob->have_etcd && *etcd != NULL; etcd++) {
		if ((bc = bundle_find(c->in.bundle, *etcd)) == NULL ||
		    kver_parse(bc->version, &to) != 0)
			continue;
		if (upgrade_refusal(&ob->etcd_low, &to, c->a.allow_downgrade &&
		    to.major == ob->etcd_low.major &&
		    to.minor == ob->etcd_low.minor, why, sizeof(why)) == 0)
			continue;
		fprintf(stderr, "korch: refused: %s %s (the bundle's) from "
		    "%d.%d.%d: %s; nothing was changed\n", *etcd, bc->version,
		    ob->etcd_low.major, ob->etcd_low.minor,
		    ob->etcd_low.patch, why);
		return KX_USAGE;
	}
	return KX_OK;
}

/*
 * etcd never goes back a minor version in place: a member that ran 3.5
 * has written 3.5's data, which 3.4 refuses.  Judged from what the hosts
 * last reported (the state), before any host is contacted.
 */
static int
refuse_etcd_downgrade(struct cmd_ctx *c)
{
	const char *const *etcd = profile_runs(c->in.profile, "etcd");
	const struct bundle_component *bc;
	struct kstate_component *v = NULL;
	struct kver was, back;
	size_t n = 0, i;
	int bad = 0;

	if (kstate_components_list(c->st, NULL, &v, &n) != 0)
		return KX_OK;	/* the pre-flight reads it again */
	for (; *etcd != NULL; etcd++) {
		if ((bc = bundle_find(c->in.bundle, *etcd)) == NULL ||
		    kver_parse(bc->version, &back) != 0)
			continue;
		for (i = 0; i < n; i++) {
			if (strcmp(v[i].component, *etcd) != 0 ||
			    v[i].observed == NULL ||
			    kver_parse(v[i].observed, &was) != 0 ||
			    (was.major == back.major && was.minor <= back.minor)
			    || was.major < back.major)
				continue;
			if (bad++ == 0)
				fprintf(stderr, "korch: refused: etcd does not "
				    "go back a minor version in place (a member "
				    "that ran %d.%d wrote data %d.%d cannot "
				    "read):\n", was.major, was.minor, back.major,
				    back.minor);
			fprintf(stderr, "  %s runs %s %s; the rollback would "
			    "start %s %s\n", v[i].host, *etcd, v[i].observed,
			    *etcd, bc->version);
		}
	}
	kstate_components_free(v, n);
	if (bad == 0)
		return KX_OK;
	fprintf(stderr, "To go back, restore the snapshot upgrade #%lld took "
	    "before it changed anything:\n  korch etcd restore %s --yes\n"
	    "Nothing was changed.\n", (long long)c->undo->id,
	    c->undo->snapshot != NULL ? c->undo->snapshot :
	    "<the snapshot in the state's backups/>");
	return KX_USAGE;
}

static int
in_list(const char *const *l, const char *s)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, s) == 0)
			return 1;
	return 0;
}

static int
observe(struct cmd_ctx *c, struct observed *ob)
{
	struct kstate_component *v = NULL;
	const struct bundle_component *bc;
	struct kver k;
	size_t n = 0, i;
	int r;

	memset(ob, 0, sizeof(*ob));
	if ((r = kstate_components_list(c->st, NULL, &v, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (inventory_find_host(c->inv, v[i].host, NULL) == NULL ||
		    v[i].observed == NULL)
			continue;
		bc = bundle_find(c->in.bundle, v[i].component);
		if (bc != NULL && strcmp(bc->version, v[i].observed) != 0) {
			ob->behind = 1;
			if (in_list(profile_runs(c->in.profile, "etcd"),
			    v[i].component))
				ob->etcd_differs = 1;
		}
		if (in_list(profile_runs(c->in.profile, "etcd"),
		    v[i].component) && kver_parse(v[i].observed, &k) == 0 &&
		    (!ob->have_etcd || kver_cmp(&k, &ob->etcd_low) < 0)) {
			ob->etcd_low = k;
			ob->have_etcd = 1;
		}
		if (!profile_versioned(c->in.profile, v[i].component) ||
		    kver_parse(v[i].observed, &k) != 0)
			continue;
		if (!ob->have || kver_cmp(&k, &ob->low) < 0)
			ob->low = k;
		if (!ob->have || kver_cmp(&k, &ob->high) > 0)
			ob->high = k;
		ob->have = 1;
	}
	kstate_components_free(v, n);
	return 0;
}

static void
kver_str(const struct kver *v, char *buf, size_t len)
{
	if (v->patch >= 0)
		snprintf(buf, len, "%d.%d.%d", v->major, v->minor, v->patch);
	else
		snprintf(buf, len, "%d.%d", v->major, v->minor);
}

/* ---- the plan ----------------------------------------------------------- */

/* "kubelet 1.8.15 -> 1.9.11, kube-proxy ..." for one host's phase. */
static void
describe_swap(struct cmd_ctx *c, const char *host, const char *phase,
    char *buf, size_t len)
{
	int kind = upgrade_phase_kind(phase);
	const char *role = kind < 0 ? NULL :
	    upgrade_phase_role((enum upg_phase_kind)kind);
	const char *const *w = role == NULL ? NULL :
	    profile_runs(c->in.profile, role);
	struct kstate_component *v = NULL;
	const struct bundle_component *bc;
	const char *was;
	size_t n = 0, i, off;

	buf[0] = '\0';
	if (w == NULL) {
		if ((size_t)snprintf(buf, len, "etcd snapshot, copied to "
		    "%s/", c->backups) >= len)
			buf[0] = '\0';
		return;
	}
	(void)kstate_components_list(c->st, host, &v, &n);
	for (; *w != NULL; w++) {
		if ((bc = bundle_find(c->in.bundle, *w)) == NULL)
			continue;
		for (i = 0, was = "?"; i < n; i++)
			if (strcmp(v[i].component, *w) == 0 &&
			    v[i].observed != NULL)
				was = v[i].observed;
		off = strlen(buf);
		if (strcmp(was, bc->version) == 0)
			snprintf(buf + off, len - off, "%s%s %s (kept)",
			    off ? ", " : "", *w, bc->version);
		else
			snprintf(buf + off, len - off, "%s%s %s%s%s",
			    off ? ", " : "", *w, was, *was ? " -> " : "",
			    bc->version);
	}
	kstate_components_free(v, n);
	if (strcmp(phase, "node") == 0) {
		off = strlen(buf);
		snprintf(buf + off, len - off, "; drained first, uncordoned "
		    "when Ready");
	}
}

static void
print_plan(struct cmd_ctx *c, const char *from, const struct upg_phase *p,
    size_t n, unsigned maxu)
{
	size_t i, nodes = inventory_count_role(c->inv, "node");
	size_t masters = inventory_count_role(c->inv, "master");
	char what[1024];

	printf("korch %s --plan: %s -> %s (bundle %s)\n", c->kind, from,
	    c->target, c->bundle_path);
	for (i = 0; i < n; i++) {
		describe_swap(c, c->inv->hosts[p[i].host].name,
		    upgrade_phase_name(p[i].kind), what, sizeof(what));
		if (p[i].kind == UPG_NODE)
			printf("  %2zu. %-8s %-16s batch %d: %s\n", i + 1,
			    upgrade_phase_name(p[i].kind),
			    c->inv->hosts[p[i].host].name, p[i].batch, what);
		else
			printf("  %2zu. %-8s %-16s %s\n", i + 1,
			    upgrade_phase_name(p[i].kind),
			    c->inv->hosts[p[i].host].name, what);
	}
	for (i = 0; i < n && p[i].kind != UPG_ETCD; i++)
		;
	printf("at worst down at once: %s1 of %zu master%s, %u of %zu node%s "
	    "(%zu%%)\n", i < n ? "1 etcd member (while its own phase runs), " :
	    "no etcd member (etcd keeps its version), ",
	    masters, masters == 1 ? "" : "s", maxu, nodes,
	    nodes == 1 ? "" : "s", nodes ? (size_t)maxu * 100 / nodes : 0);
}

static void
print_plan_json(struct cmd_ctx *c, const char *from,
    const struct upg_phase *p, size_t n, unsigned maxu)
{
	struct json *j;
	const char *out;
	char what[1024];
	size_t i;

	if ((j = json_new()) == NULL)
		return;
	json_obj_begin(j);
	json_kstr(j, "command", c->kind);
	json_kbool(j, "plan", 1);
	json_kstr(j, "from", from);
	json_kstr(j, "to", c->target);
	json_kstr(j, "bundle", c->bundle_path);
	json_kint(j, "max_unavailable", maxu);
	json_kint(j, "masters_down_at_most", inventory_count_role(c->inv, "master") ?
	    1 : 0);
	json_kint(j, "nodes_down_at_most", inventory_count_role(c->inv, "node") ?
	    maxu : 0);
	json_key(j, "phases");
	json_arr_begin(j);
	for (i = 0; i < n; i++) {
		describe_swap(c, c->inv->hosts[p[i].host].name,
		    upgrade_phase_name(p[i].kind), what, sizeof(what));
		json_obj_begin(j);
		json_kint(j, "seq", (int64_t)i + 1);
		json_kstr(j, "phase", upgrade_phase_name(p[i].kind));
		json_kstr(j, "host", c->inv->hosts[p[i].host].name);
		json_kint(j, "batch", p[i].batch);
		json_kstr(j, "swaps", what);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
	if (json_finish(j, &out, NULL) == 0)
		printf("%s\n", out);
	json_free(j);
}

/* ---- the walk ----------------------------------------------------------- */

static int
finish_json(struct cmd_ctx *c, int64_t run_id, int64_t id, int rc,
    const char *why)
{
	struct kstate_upgrade *u = NULL;
	struct json *j;
	const char *out;

	if ((j = json_new()) == NULL)
		return KORCH_ERR_ALLOC;
	json_obj_begin(j);
	json_kstr(j, "command", c->kind);
	json_kint(j, "run_id", run_id);
	json_kint(j, "exit_code", rc);
	json_kstr(j, "error", why && *why ? why : NULL);
	json_key(j, "upgrade");
	if (id > 0 && kstate_upgrade_get(c->st, id, &u) == 0)
		(void)upgrade_journal_json(c->st, u, j);
	else
		json_null(j);
	json_obj_end(j);
	if (json_finish(j, &out, NULL) == 0)
		printf("%s\n", out);
	json_free(j);
	kstate_upgrade_free(u);
	return 0;
}

/* Each line of text (hosts' reasons, one per line), indented. */
static void
print_indented(FILE *f, const char *text)
{
	const char *e;

	for (; *text != '\0'; text = *e ? e + 1 : e) {
		e = strchrnul(text, '\n');
		fprintf(f, "  %.*s\n", (int)(e - text), text);
	}
}

/* Run the journal entry id, record how it ended, say so.  Exit code. */
static int
walk(struct cmd_ctx *c, int64_t id)
{
	struct upgrade_env e;
	struct kstate_upgrade *u = NULL;
	char why[4096], pos[512];
	int64_t run_id;
	int r, rc;

	ctx_env(c, &e);
	ctx_catch_signals(1);
	r = upgrade_run_phases(&e, id, why, sizeof(why));
	ctx_catch_signals(0);
	if (r == 0) {
		rc = KX_OK;
		if (kstate_upgrade_set_status(c->st, id, KSTATE_UPG_DONE, NULL,
		    c->run_id) != 0 || kstate_setting_set(c->st,
		    "cluster_version", c->target) != 0) {
			fprintf(stderr, "korch: state: %s\n",
			    kstate_errmsg(c->st));
			rc = KX_INTERNAL;
		}
	} else if (r == KORCH_ERR_INTERRUPTED) {
		rc = KX_INTERRUPTED;
		(void)kstate_upgrade_set_status(c->st, id, KSTATE_UPG_RUNNING,
		    "stopped by a signal between phases", c->run_id);
	} else if (r == KORCH_ERR_AGENT || r == KORCH_ERR_CONNECT) {
		rc = KX_HOSTS;
		(void)kstate_upgrade_set_status(c->st, id, KSTATE_UPG_FAILED,
		    why, c->run_id);
	} else {
		rc = KX_INTERNAL;
		(void)kstate_upgrade_set_status(c->st, id, KSTATE_UPG_FAILED,
		    why, c->run_id);
	}
	run_id = c->run_id;
	ctx_end_run(c, rc == KX_OK ? KSTATE_RUN_CONVERGED : rc ==
	    KX_INTERRUPTED ? KSTATE_RUN_ABORTED : KSTATE_RUN_FAILED, rc);
	if (c->a.r.json)
		return finish_json(c, run_id, id, rc, why), rc;
	if (kstate_upgrade_get(c->st, id, &u) == 0) {
		upgrade_journal_position(c->st, u, pos, sizeof(pos));
		if (rc == KX_OK) {
			printf("%s done: every host on %s", c->kind, c->target);
			if (u->snapshot != NULL)
				printf(" (etcd snapshot: %s)", u->snapshot);
			printf("\n");
			if (c->inv_version == NULL ||
			    strcmp(c->inv_version, c->target) != 0)
				printf("korch: now set kubernetes_version: "
				    "\"%s\" and its bundle in %s, so that "
				    "apply keeps this version\n", c->target,
				    c->invpath);
		} else if (rc == KX_INTERRUPTED)
			printf("%s stopped: %s\nRun the same command again to "
			    "go on.\n", c->kind, pos);
		else
		{
			printf("%s FAILED: %s\n", c->kind, pos);
			print_indented(stdout, why);
			printf("Fix that and run the same command again: done "
			    "phases are not redone.%s\n",
			    strcmp(c->kind, "upgrade") == 0 ? " `korch "
			    "rollback` undoes what moved." : "");
		}
	}
	kstate_upgrade_free(u);
	return rc;
}

/* Go on with the unfinished entry c->unf (--plan: show its journal). */
static int
resume_entry(struct cmd_ctx *c)
{
	char pos[512];

	upgrade_journal_position(c->st, c->unf, pos, sizeof(pos));
	if (!c->a.r.json)
		printf("korch %s: resuming %s\n", c->kind, pos);
	if (c->a.plan) {
		(void)upgrade_journal_print(c->st, c->unf, 1, stdout);
		return KX_OK;
	}
	return walk(c, c->unf->id);
}

/*
 * Pre-flight on every host; observed versions into ob.  When finishing or
 * undoing entry (0: none), its etcd members whose phase was left running
 * or failed may fail their health check: repairing them is the point.
 * Exit code.
 */
static int
preflight(struct cmd_ctx *c, int64_t entry, struct observed *ob)
{
	struct upgrade_env e;
	struct kstate_phase *ph = NULL;
	unsigned char *lenient;
	char why[4096];
	size_t n = 0, i, h;
	int r;

	if ((lenient = calloc(c->inv->nhosts + 1, 1)) == NULL)
		return KX_INTERNAL;
	if (entry > 0 && kstate_phases_list(c->st, entry, &ph, &n) == 0)
		for (i = 0; i < n; i++)
			if (strcmp(ph[i].phase, "etcd") == 0 &&
			    (ph[i].status == KSTATE_PH_RUNNING ||
			    ph[i].status == KSTATE_PH_FAILED) &&
			    inventory_find_host(c->inv, ph[i].host, &h) != NULL)
				lenient[h] = 1;
	kstate_phases_free(ph, n);
	ctx_env(c, &e);
	if (e.out != NULL) {
		fprintf(e.out, "korch %s: checking %zu hosts...\n", c->kind,
		    c->inv->nhosts);
		fflush(e.out);
	}
	r = upgrade_preflight(&e, lenient, why, sizeof(why));
	free(lenient);
	if (r == KORCH_ERR_CONNECT || r == KORCH_ERR_AGENT) {
		fprintf(stderr, "korch: %s refused: %s\n", c->kind,
		    r == KORCH_ERR_CONNECT ? "a host cannot be reached" :
		    "etcd is not healthy");
		print_indented(stderr, why);
		fprintf(stderr, "nothing was changed\n");
		return KX_HOSTS;
	}
	if (r != 0) {
		fprintf(stderr, "korch: %s\n", why[0] ? why :
		    korch_strerror(r));
		return KX_INTERNAL;
	}
	if (observe(c, ob) != 0) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	return KX_OK;
}

/*
 * Record a new journal entry, abandoning old (0: none) in the same
 * transaction: a crash between the two must not leave an abandoned
 * upgrade with nothing to finish or undo it.
 */
static int
new_entry(struct cmd_ctx *c, int64_t old, const char *why, const char *kind,
    const char *from, const char *to, unsigned maxu, int64_t parent,
    const struct kstate_phase_spec *spec, size_t n, int64_t *id)
{
	int r;

	if ((r = kstate_batch_begin(c->st)) != 0)
		return r;
	if (old > 0)
		r = kstate_upgrade_set_status(c->st, old, KSTATE_UPG_ABANDONED,
		    why, c->run_id);
	if (r == 0)
		r = kstate_upgrade_create(c->st, c->run_id, kind, from, to,
		    (int)maxu, parent, spec, n, id);
	if (r == 0)
		r = kstate_batch_commit(c->st);
	if (r != 0) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		(void)kstate_batch_rollback(c->st);
	}
	return r;
}

/* ---- korch upgrade ------------------------------------------------------ */

static int
upgrade(struct cmd_ctx *c)
{
	struct observed ob;
	struct kver want, from;
	struct upg_phase *p = NULL;
	struct kstate_phase_spec *spec = NULL;
	char fromv[64], why[512], pos[512];
	unsigned maxu = 1, flags;
	size_t n = 0, i, nodes = inventory_count_role(c->inv, "node");
	int64_t id = 0;
	int rc, resume = 0;

	if (c->a.to == NULL && (c->unf == NULL ||
	    strcmp(c->unf->kind, "upgrade") != 0 || c->a.abandon)) {
		fprintf(stderr, "korch upgrade: to which version? --to 1.9 "
		    "(the newest 1.9.x in the bundle) or --to 1.9.3\n");
		return KX_USAGE;
	}
	if (c->a.to != NULL && kver_parse(c->a.to, &want) != 0) {
		fprintf(stderr, "korch upgrade: --to wants a version like 1.9 "
		    "or 1.9.3, not '%s'\n", c->a.to);
		return KX_USAGE;
	}
	/* Before any bundle is looked for: a version korch cannot
	 * configure is refused as such. */
	if (c->a.to != NULL && (rc = ctx_check_profile(c, c->a.to)) != KX_OK)
		return rc;
	if (c->a.max_unavail != NULL && upgrade_max_unavailable(
	    c->a.max_unavail, nodes, &maxu, why, sizeof(why)) != 0) {
		fprintf(stderr, "korch upgrade: %s\n", why);
		return KX_USAGE;
	}
	if (c->unf != NULL) {
		struct kver was;

		upgrade_journal_position(c->st, c->unf, pos, sizeof(pos));
		(void)kver_parse(c->unf->to_version, &was);
		if (strcmp(c->unf->kind, "upgrade") == 0 && !c->a.abandon &&
		    (c->a.to == NULL || kver_matches(&want, &was)))
			resume = 1;
		else if (!c->a.abandon) {
			fprintf(stderr, "korch: refused: %s is unfinished.\n"
			    "Finish it with `korch %s%s%s`, or start over with "
			    "--abandon (hosts already moved stay where they "
			    "are); nothing was changed\n", pos, c->unf->kind,
			    strcmp(c->unf->kind, "upgrade") == 0 ? " --to " :
			    "", strcmp(c->unf->kind, "upgrade") == 0 ?
			    c->unf->to_version : "");
			return KX_USAGE;
		}
	}
	if (resume) {
		/* The very version it was going to, not a newer patch. */
		(void)kver_parse(c->unf->to_version, &want);
		if (c->a.max_unavail != NULL && !c->a.r.json)
			fprintf(stderr, "korch: note: resuming keeps the "
			    "batches already recorded\n");
	}
	if ((rc = ctx_pick_bundle(c, &want)) != KX_OK ||
	    (rc = ctx_inputs(c)) != KX_OK ||
	    (rc = preflight(c, resume ? c->unf->id : 0, &ob)) != KX_OK)
		return rc;
	if (resume)
		return resume_entry(c);
	if (!ob.have) {
		fprintf(stderr, "korch: refused: no host reports a Kubernetes "
		    "version; apply the cluster first\n");
		return KX_USAGE;
	}
	from = ob.low;
	kver_str(&from, fromv, sizeof(fromv));
	(void)kver_parse(c->target, &want);
	if (upgrade_refusal(&from, &want, c->a.allow_downgrade, why,
	    sizeof(why)) != 0 || (kver_cmp(&ob.high, &want) > 0 &&
	    !c->a.allow_downgrade && snprintf(why, sizeof(why), "some hosts "
	    "already run a newer version than %s; use --allow-downgrade if "
	    "you mean it", c->target) > 0)) {
		fprintf(stderr, "korch: refused: %s; nothing was changed\n",
		    why);
		return KX_USAGE;
	}
	if ((rc = refuse_etcd_skew(c, &ob)) != KX_OK)
		return rc;
	if (!ob.behind) {
		if (!c->a.r.json)
			printf("korch upgrade: every host already runs %s; "
			    "nothing to do\n", c->target);
		if (c->a.r.json)
			finish_json(c, c->run_id, 0, KX_OK, NULL);
		return KX_OK;
	}
	flags = UPG_PLAN_SNAPSHOT | (ob.etcd_differs ? UPG_PLAN_ETCD : 0);
	if (upgrade_phases(c->inv, flags, maxu, &p, &n) != 0)
		return KX_INTERNAL;
	if (c->a.plan) {
		if (c->a.r.json)
			print_plan_json(c, fromv, p, n, maxu);
		else
			print_plan(c, fromv, p, n, maxu);
		free(p);
		return KX_OK;
	}
	if ((spec = calloc(n + 1, sizeof(*spec))) == NULL) {
		free(p);
		return KX_INTERNAL;
	}
	for (i = 0; i < n; i++) {
		spec[i].host = c->inv->hosts[p[i].host].name;
		spec[i].phase = upgrade_phase_name(p[i].kind);
		spec[i].batch = p[i].batch;
		spec[i].from_version = fromv;
		spec[i].to_version = c->target;
	}
	rc = new_entry(c, c->unf ? c->unf->id : 0, "abandoned by --abandon",
	    "upgrade", fromv, c->target, maxu, 0, spec, n, &id);
	free(p);
	free(spec);
	if (rc != 0)
		return KX_INTERNAL;
	if (!c->a.r.json)
		printf("korch upgrade #%lld: %s -> %s, %zu phases, at most %u "
		    "node%s at a time\n", (long long)id, fromv, c->target, n,
		    maxu, maxu == 1 ? "" : "s");
	return walk(c, id);
}

/* ---- korch rollback ----------------------------------------------------- */

/*
 * The rollback's phases: the upgrade's order backwards (nodes in batches,
 * masters, etcd members; upgrade_phases()), keeping the hosts whose phase
 * the upgrade started (running, failed or done): those are the ones that
 * may have moved.  spec[].host points into the inventory.
 */
static int
rollback_phases(struct cmd_ctx *c, struct kstate_phase_spec **out,
    size_t *nout)
{
	struct kstate_phase *ph = NULL;
	struct kstate_phase_spec *spec = NULL;
	struct upg_phase *p = NULL;
	unsigned flags = UPG_PLAN_REVERSE;
	size_t n = 0, np = 0, i, k, m = 0;
	int r;

	*out = NULL;
	*nout = 0;
	if ((r = kstate_phases_list(c->st, c->undo->id, &ph, &n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		if (strcmp(ph[i].phase, "etcd") == 0)
			flags |= UPG_PLAN_ETCD;
	if ((r = upgrade_phases(c->inv, flags,
	    (unsigned)c->undo->max_unavailable, &p, &np)) != 0 ||
	    (spec = calloc(np + 1, sizeof(*spec))) == NULL) {
		r = r ? r : KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < np; i++) {
		const char *host = c->inv->hosts[p[i].host].name;
		const char *phase = upgrade_phase_name(p[i].kind);

		for (k = 0; k < n; k++)
			if (strcmp(ph[k].host, host) == 0 &&
			    strcmp(ph[k].phase, phase) == 0 &&
			    ph[k].status != KSTATE_PH_PENDING)
				break;
		if (k == n)
			continue;
		spec[m].host = host;
		spec[m].phase = phase;
		spec[m].batch = p[i].batch;
		spec[m].from_version = c->undo->to_version;
		spec[m].to_version = c->undo->from_version;
		m++;
	}
	*out = spec;
	*nout = m;
	spec = NULL;
out:
	free(spec);
	free(p);
	kstate_phases_free(ph, n);
	return r;
}

static int
rollback(struct cmd_ctx *c)
{
	struct observed ob;
	struct kver want;
	struct kstate_phase_spec *spec = NULL;
	struct kstate_upgrade *last = NULL;
	size_t n = 0, i;
	int64_t id = 0;
	int rc, r;

	if (c->unf != NULL && strcmp(c->unf->kind, "rollback") == 0) {
		/* Finish the rollback that was stopped. */
		if ((r = kstate_upgrade_get(c->st, c->unf->parent_id,
		    &c->undo)) != 0) {
			fprintf(stderr, "korch: state: %s\n",
			    kstate_errmsg(c->st));
			return KX_INTERNAL;
		}
		id = c->unf->id;
	} else if (c->unf != NULL) {
		c->undo = c->unf;	/* a stopped or failed upgrade */
		c->unf = NULL;
	} else {
		r = kstate_upgrade_last(c->st, "upgrade", &c->undo);
		if (r == KORCH_ERR_NOT_FOUND) {
			fprintf(stderr, "korch: nothing to roll back: no "
			    "upgrade is recorded in %s\n", c->statepath);
			return KX_USAGE;
		}
		if (r != 0) {
			fprintf(stderr, "korch: state: %s\n",
			    kstate_errmsg(c->st));
			return KX_INTERNAL;
		}
		if (kstate_upgrade_last(c->st, "rollback", &last) == 0 &&
		    last->parent_id == c->undo->id) {
			fprintf(stderr, "korch: nothing to roll back: upgrade "
			    "#%lld (%s -> %s) was rolled back by #%lld\n",
			    (long long)c->undo->id, c->undo->from_version,
			    c->undo->to_version, (long long)last->id);
			kstate_upgrade_free(last);
			return KX_USAGE;
		}
		kstate_upgrade_free(last);
		if (c->undo->status == KSTATE_UPG_ABANDONED) {
			fprintf(stderr, "korch: nothing to roll back: the last "
			    "upgrade (#%lld) was abandoned\n",
			    (long long)c->undo->id);
			return KX_USAGE;
		}
	}
	if (kver_parse(c->undo->from_version, &want) != 0) {
		fprintf(stderr, "korch: upgrade #%lld came from '%s', which "
		    "is not a version\n", (long long)c->undo->id,
		    c->undo->from_version);
		return KX_INTERNAL;
	}
	if ((rc = ctx_pick_bundle(c, &want)) != KX_OK ||
	    (rc = ctx_inputs(c)) != KX_OK ||
	    (rc = refuse_etcd_downgrade(c)) != KX_OK ||
	    (rc = preflight(c, id > 0 ? id : c->undo->id, &ob)) != KX_OK)
		return rc;
	if (id > 0)
		return resume_entry(c);
	if ((r = rollback_phases(c, &spec, &n)) != 0) {
		fprintf(stderr, "korch: %s\n", r == KORCH_ERR_ALLOC ?
		    korch_strerror(r) : kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	if (n == 0) {
		free(spec);
		fprintf(stderr, "korch: nothing to roll back: upgrade #%lld "
		    "moved no host\n", (long long)c->undo->id);
		return KX_USAGE;
	}
	if (c->a.plan) {
		printf("korch rollback --plan: %s -> %s (undoes upgrade "
		    "#%lld; bundle %s)\n", c->undo->to_version,
		    c->undo->from_version, (long long)c->undo->id,
		    c->bundle_path);
		for (i = 0; i < n; i++)
			printf("  %2zu. %-8s %s\n", i + 1, spec[i].phase,
			    spec[i].host);
		free(spec);
		return KX_OK;
	}
	/* A stopped upgrade must not be resumed over its own rollback. */
	r = new_entry(c, c->undo->status == KSTATE_UPG_RUNNING ||
	    c->undo->status == KSTATE_UPG_FAILED ? c->undo->id : 0,
	    "rolled back", "rollback", c->undo->to_version,
	    c->undo->from_version, (unsigned)c->undo->max_unavailable,
	    c->undo->id, spec, n, &id);
	free(spec);
	if (r != 0)
		return KX_INTERNAL;
	if (!c->a.r.json)
		printf("korch rollback #%lld: %s -> %s (undoes upgrade #%lld), "
		    "%zu phases\n", (long long)id, c->undo->to_version,
		    c->undo->from_version, (long long)c->undo->id, n);
	return walk(c, id);
}

static int
run(const char *kind, int argc, char **argv)
{
	struct cmd_ctx c;
	int rc;

	if ((rc = ctx_init(&c, kind, argc, argv)) != KX_OK ||
	    parse_args(kind, argc, argv, &c.a) != 0)
		return ctx_finish(&c, rc != KX_OK ? rc : KX_USAGE);
	rc = ctx_open(&c, argv);
	if (rc == KX_OK)
		rc = strcmp(kind, "rollback") == 0 ? rollback(&c) : upgrade(&c);
	return ctx_finish(&c, rc);
}

int
cmd_upgrade(int argc, char **argv)
{
	return run("upgrade", argc, argv);
}

int
cmd_rollback(int argc, char **argv)
{
	return run("rollback", argc, argv);
}
