/*
 * cmd_upgrade.c - `korch upgrade`: decide what is to be done (resume the
 * unfinished entry, or start a new one), refuse what must not happen
 * before any host changes, plan the phases, write the journal, and walk
 * it (cmd_journal.c).  The command line of `korch rollback` too, whose
 * own steps are cmd_rollback.c's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/bundle.h"
#include "cli/cmd.h"
#include "cli/cmd_target.h"
#include "cli/cmd_upgrade-int.h"
#include "spec/inventory.h"
#include "base/json.h"
#include "spec/profile.h"
#include "state.h"
#include "state_query.h"
#include "state_upgrade.h"
#include "cluster/upgrade_view.h"
#include "cluster/upgrade_plan.h"

static int
parse_args(const char *cmd, int argc, char **argv, struct ctx_args *a)
{
	enum { O_TO = CMD_O_OWN, O_INV, O_MAXU, O_PLAN, O_DOWN, O_ABANDON };
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

	cmd_run_begin(&a->r);
	while ((c = cmd_run_getopt(cmd, argc, argv, longopts, &a->r)) > 0) {
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
		}
	}
	if (c < 0)
		return -1;
	if (optind != argc) {
		fprintf(stderr, "korch %s: unexpected argument %s\n", cmd,
		    argv[optind]);
		cmd_usage(cmd);
		return -1;
	}
	return 0;
}

/* ---- where the cluster is ----------------------------------------------- */

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

/* ---- korch upgrade ------------------------------------------------------ */

/* --to and --max-unavailable: the version asked for (*want, when --to
 * says) and the nodes drained at once (*maxu). */
static int
upgrade_args(struct cmd_ctx *c, struct kver *want, unsigned *maxu)
{
	size_t nodes = inventory_count_role(c->inv, "node");
	char why[512];
	int rc;

	if (c->a.to == NULL && (c->unf == NULL ||
	    strcmp(c->unf->kind, "upgrade") != 0 || c->a.abandon)) {
		fprintf(stderr, "korch upgrade: to which version? --to 1.9 "
		    "(the newest 1.9.x in the bundle) or --to 1.9.3\n");
		return KX_USAGE;
	}
	if (c->a.to != NULL && kver_parse(c->a.to, want) != 0) {
		fprintf(stderr, "korch upgrade: --to wants a version like 1.9 "
		    "or 1.9.3, not '%s'\n", c->a.to);
		return KX_USAGE;
	}
	/* Before any bundle is looked for: a version korch cannot
	 * configure is refused as such. */
	if (c->a.to != NULL && (rc = ctx_check_profile(c, c->a.to)) != KX_OK)
		return rc;
	if (c->a.max_unavail != NULL && upgrade_max_unavailable(
	    c->a.max_unavail, nodes, maxu, why, sizeof(why)) != 0) {
		fprintf(stderr, "korch upgrade: %s\n", why);
		return KX_USAGE;
	}
	return KX_OK;
}

/*
 * With an unfinished entry: go on with it (*resume, *want its very
 * version) when it is an upgrade to what --to asks, start over with
 * --abandon, else refuse.
 */
static int
upgrade_resumes(struct cmd_ctx *c, struct kver *want, int *resume)
{
	struct kver was;
	char pos[512];

	*resume = 0;
	if (c->unf == NULL)
		return KX_OK;
	upgrade_view_position(c->st, c->unf, pos, sizeof(pos));
	(void)kver_parse(c->unf->to_version, &was);
	if (strcmp(c->unf->kind, "upgrade") == 0 && !c->a.abandon &&
	    (c->a.to == NULL || kver_matches(want, &was)))
		*resume = 1;
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
	if (*resume) {
		/* The very version it was going to, not a newer patch. */
		(void)kver_parse(c->unf->to_version, want);
		if (c->a.max_unavail != NULL && !c->a.r.json)
			fprintf(stderr, "korch: note: resuming keeps the "
			    "batches already recorded\n");
	}
	return KX_OK;
}

/* From the lowest version the hosts run (fromv, as text) to the target:
 * refused when that is a downgrade or a skip, or etcd's rules say no. */
static int
refuse_versions(struct cmd_ctx *c, const struct observed *ob, char *fromv,
    size_t len)
{
	struct kver want, from;
	char why[512];

	if (!ob->have) {
		fprintf(stderr, "korch: refused: no host reports a Kubernetes "
		    "version; apply the cluster first\n");
		return KX_USAGE;
	}
	from = ob->low;
	kver_str(&from, fromv, len);
	(void)kver_parse(c->target, &want);
	if (upgrade_refusal(&from, &want, c->a.allow_downgrade, why,
	    sizeof(why)) != 0 || (kver_cmp(&ob->high, &want) > 0 &&
	    !c->a.allow_downgrade && snprintf(why, sizeof(why), "some hosts "
	    "already run a newer version than %s; use --allow-downgrade if "
	    "you mean it", c->target) > 0)) {
		fprintf(stderr, "korch: refused: %s; nothing was changed\n",
		    why);
		return KX_USAGE;
	}
	return refuse_etcd_skew(c, ob);
}

/* A new upgrade from fromv: its phases (--plan: shown), recorded in the
 * journal (abandoning the unfinished one), walked. */
static int
start_upgrade(struct cmd_ctx *c, const struct observed *ob,
    const char *fromv, unsigned maxu)
{
	struct upg_phase *p = NULL;
	struct kstate_phase_spec *spec = NULL;
	unsigned flags;
	size_t n = 0, i;
	int64_t id = 0;
	int rc;

	flags = UPG_PLAN_SNAPSHOT | (ob->etcd_differs ? UPG_PLAN_ETCD : 0);
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
	rc = journal_new(c, c->unf ? c->unf->id : 0, "abandoned by --abandon",
	    "upgrade", fromv, c->target, maxu, 0, spec, n, &id);
	free(p);
	free(spec);
	if (rc != 0)
		return KX_INTERNAL;
	if (!c->a.r.json)
		printf("korch upgrade #%lld: %s -> %s, %zu phases, at most %u "
		    "node%s at a time\n", (long long)id, fromv, c->target, n,
		    maxu, maxu == 1 ? "" : "s");
	return journal_walk(c, id);
}

static int
upgrade(struct cmd_ctx *c)
{
	struct observed ob;
	struct kver want;
	char fromv[64];
	unsigned maxu = 1;
	int rc, resume = 0;

	if ((rc = upgrade_args(c, &want, &maxu)) != KX_OK ||
	    (rc = upgrade_resumes(c, &want, &resume)) != KX_OK)
		return rc;
	if ((rc = ctx_pick_bundle(c, &want)) != KX_OK ||
	    (rc = ctx_inputs(c)) != KX_OK ||
	    (rc = journal_preflight(c, resume ? c->unf->id : 0, &ob)) != KX_OK)
		return rc;
	if (resume)
		return journal_resume(c);
	if ((rc = refuse_versions(c, &ob, fromv, sizeof(fromv))) != KX_OK)
		return rc;
	if (!ob.behind) {
		if (!c->a.r.json)
			printf("korch upgrade: every host already runs %s; "
			    "nothing to do\n", c->target);
		if (c->a.r.json)
			journal_json(c, c->run_id, 0, KX_OK, NULL);
		return KX_OK;
	}
	return start_upgrade(c, &ob, fromv, maxu);
}

static int
run(const char *kind, int argc, char **argv)
{
	struct cmd_ctx c;
	int rc;

	if ((rc = ctx_init(&c, kind, argc, argv)) != KX_OK ||
	    parse_args(kind, argc, argv, &c.a) != 0)
		return ctx_finish(&c, rc != KX_OK ? rc : KX_USAGE);
	rc = ctx_open(&c, argv, CTX_OPEN_UPGRADE);
	if (rc == KX_OK)
		rc = strcmp(kind, "rollback") == 0 ? rollback_run(&c) : upgrade(&c);
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
