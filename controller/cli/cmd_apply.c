/*
 * cmd_apply.c - `korch apply` and `korch plan`: load and validate every
 * input, take the state lock, run the engine, print the recap (or JSON),
 * and turn the outcome into an exit status.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/agent_image.h"
#include "spec/bundle.h"
#include "cli/cmd.h"
#include "engine/dag.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/inputs.h"
#include "spec/inventory.h"
#include "base/json.h"
#include "spec/playbook.h"
#include "spec/profile.h"
#include "spec/playbook_path.h"
#include "engine/report.h"
#include "engine/sched.h"
#include "state.h"
#include "state_lock.h"
#include "state_settings.h"
#include "state_upgrade.h"
#include "cluster/upgrade_journal.h"

struct apply_args {
	const char	*inventory;
	struct cmd_run_args r;
};

static int
parse_args(const char *cmd, int argc, char **argv, struct apply_args *a)
{
	enum { O_LIMIT = 256, O_PLAN };
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "plan", no_argument, NULL, O_PLAN },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	cmd_run_defaults(&a->r);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v", longopts, NULL)) != -1) {
		switch (c) {
		case O_LIMIT:		a->r.o.limit = optarg; break;
		case O_PLAN:		a->r.o.check_only = 1; break;
		default:
			if (cmd_run_option(cmd, c, optarg, argv, &a->r) != 0)
				return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "korch %s: %s\n", cmd, optind >= argc ?
		    "which inventory? (korch apply INVENTORY)" :
		    "one inventory file only");
		cmd_usage(cmd);
		return -1;
	}
	a->inventory = argv[optind];
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
static int
guard_upgrades(struct kstate *st, const struct inventory *inv,
    const char *version)
{
	struct kstate_upgrade *u = NULL;
	char *ver = NULL, pos[512];
	int r;

	if ((r = kstate_upgrade_unfinished(st, &u)) == 0) {
		upgrade_journal_position(st, u, pos, sizeof(pos));
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

static int
run(const char *kind, int argc, char **argv, int check_only)
{
	struct apply_args a;
	struct inventory *inv = NULL;
	struct playbook *pb = NULL;
	struct profile_set *profiles = NULL;
	struct dag *dag = NULL;
	struct diag *d = NULL;
	struct kstate *st = NULL;
	struct report *rep = NULL;
	struct sched *s = NULL;
	struct agent_image img;
	struct run_inputs in;
	char statepath[PATH_MAX], pbdir[PATH_MAX], msg[1024], what[PATH_MAX + 64];
	char *args = NULL;
	const char *version = NULL;
	int64_t run_id = 0;
	unsigned hosts, failed, unreach, changed;
	size_t i;
	int r, rc = KX_INTERNAL, width = 4, have_img = 0;
	enum kstate_run_result result = KSTATE_RUN_FAILED;

	memset(&a, 0, sizeof(a));
	memset(&in, 0, sizeof(in));
	/* Before getopt permutes argv: the run record keeps what was typed. */
	if ((args = cmd_join_args(argc + 1, argv - 1)) == NULL)
		return KX_INTERNAL;
	if (parse_args(kind, argc, argv, &a) != 0) {
		free(args);
		return KX_USAGE;
	}
	a.r.o.check_only |= check_only;
	if (a.r.o.check_only) {
		kind = "plan";
		check_only = 1;
	}

	/* Every input is loaded and checked before any host is contacted. */
	if ((d = diag_new()) == NULL)
		goto out;
	if ((r = inventory_load(a.inventory, &inv, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: %s: not valid, nothing was changed\n",
		    a.inventory);
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto out;
	}
	if (playbook_dir(a.r.playbooks, argv[-1], pbdir, sizeof(pbdir)) != 0) {
		fprintf(stderr, "korch: cannot find the playbooks; name them "
		    "with --playbooks DIR\n");
		rc = KX_USAGE;
		goto out;
	}
	if ((r = playbook_load(pbdir, &pb, d)) != 0 ||
	    (r = profile_set_load(pbdir, &profiles, d)) != 0 ||
	    (r = dag_build(pb, inv, &dag, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: %s: not valid, nothing was changed\n",
		    pbdir);
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto out;
	}
	if (a.r.state != NULL)
		snprintf(statepath, sizeof(statepath), "%s", a.r.state);
	else if (kstate_default_path(statepath, sizeof(statepath)) != 0) {
		fprintf(stderr, "korch: no home directory for the state; "
		    "use --state FILE\n");
		rc = KX_USAGE;
		goto out;
	}
	if ((r = agent_image_load(&img)) != 0) {
		fprintf(stderr, "korch: cannot load the agent binary: %s\n",
		    korch_strerror(r));
		goto out;
	}
	have_img = 1;

	if ((r = kstate_open(statepath, &st)) != 0) {
		fprintf(stderr, "korch: state %s: %s\n", statepath,
		    kstate_errmsg(st));
		goto out;
	}
	msg[0] = '\0';
	if ((r = kstate_run_begin(st, kind, args, &run_id, msg,
	    sizeof(msg))) != 0) {
		if (r == KORCH_ERR_LOCKED) {
			fprintf(stderr, "korch: another korch run holds the "
			    "state %s:\n  %s\nWait for it to finish; nothing "
			    "was changed.\n", statepath, msg);
			rc = KX_LOCKED;
		} else
			fprintf(stderr, "korch: state %s: %s\n", statepath,
			    kstate_errmsg(st));
		goto out;
	}
	if (msg[0] != '\0' && !a.r.json)
		fprintf(stderr, "korch: note: %s\n", msg);
	/* Under the lock: two runs must not both make certificates. */
	/* Certificates made are news even with --json: stderr. */
	if ((r = inputs_prepare(inv, profiles, a.r.bundle, statepath, stderr,
	    &in, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: %s; nothing was changed\n",
		    r == KORCH_ERR_HASH_MISMATCH ? "the bundle does not verify" :
		    "cannot prepare the run");
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto end;
	}
	/* The version this apply deploys: as the inventory says, else as its
	 * bundle holds. */
	version = inv->cluster.kubernetes_version;
	if (version == NULL && in.bundle != NULL)
		version = in.bundle->kubernetes_version;
	if (!check_only && (r = guard_upgrades(st, inv, version)) != KX_OK) {
		rc = r;
		goto end;
	}
	if ((r = inputs_check_bundle(&in, pb, dag, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: the playbooks need what the bundle "
		    "lacks; nothing was changed\n");
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto end;
	}
	a.r.o.bundle = in.bundle;
	a.r.o.host_vars = inputs_host_vars;
	a.r.o.host_vars_arg = &in;

	rep = report_new(stdout, stderr, (a.r.json ? REPORT_JSON : 0) |
	    (a.r.verbose ? REPORT_VERBOSE : 0) |
	    (a.r.o.check_only ? REPORT_CHECK : 0), (unsigned)inv->nhosts);
	if (rep == NULL)
		goto end;
	for (i = 0; i < inv->nhosts; i++)
		if ((int)strlen(inv->hosts[i].name) > width)
			width = (int)strlen(inv->hosts[i].name);
	report_set_name_width(rep, width);
	msg[0] = '\0';
	if ((r = sched_new(inv, pb, dag, st, run_id, &img, &a.r.o, rep, &s, msg,
	    sizeof(msg))) != 0) {
		fprintf(stderr, "korch: %s\n", msg[0] ? msg : korch_strerror(r));
		if (r == KORCH_ERR_INVALID_ARG)
			rc = KX_USAGE;
		goto end;
	}
	snprintf(what, sizeof(what), "korch %s %s", kind, a.inventory);
	report_begin(rep, what, run_id, (unsigned)inv->nhosts,
	    (unsigned)dag_nsteps(dag));
	r = sched_run(s);
	sched_outcome(s, &hosts, &failed, &unreach, &changed);
	if (r != 0 && r != KORCH_ERR_INTERRUPTED)
		goto end;
	report_recap_header(rep);
	sched_recap(s);
	if (r == KORCH_ERR_INTERRUPTED) {
		rc = KX_INTERRUPTED;
		result = KSTATE_RUN_ABORTED;
		snprintf(msg, sizeof(msg), "interrupted: run again to finish");
	} else if (failed + unreach > 0) {
		rc = KX_HOSTS;
		snprintf(msg, sizeof(msg), "%s: %u of %u hosts %s; %u failed, "
		    "%u unreachable", check_only ? "plan incomplete" :
		    "not converged", hosts - failed - unreach, hosts,
		    check_only ? "checked" : "converged", failed, unreach);
	} else {
		rc = KX_OK;
		result = KSTATE_RUN_CONVERGED;
		if (a.r.o.check_only)
			snprintf(msg, sizeof(msg), "plan: %u change%s pending "
			    "on %u host%s", changed, changed == 1 ? "" : "s",
			    hosts, hosts == 1 ? "" : "s");
		else
			snprintf(msg, sizeof(msg), "converged: %u host%s, "
			    "%u change%s", hosts, hosts == 1 ? "" : "s",
			    changed, changed == 1 ? "" : "s");
	}
	report_verdict(rep, msg, rc == KX_OK);
	if (!check_only && remember(st, a.inventory, version, rc == KX_OK) != 0)
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(st));
	if (a.r.json)
		(void)print_json(kind, run_id, s, hosts, failed, unreach,
		    rc == KX_OK);
end:
	if (kstate_run_end(st, run_id, result, rc) != 0)
		fprintf(stderr, "korch: cannot record the end of the run: "
		    "%s\n", kstate_errmsg(st));
out:
	sched_free(s);
	report_free(rep);
	kstate_close(st);
	if (have_img)
		agent_image_release(&img);
	inputs_release(&in);
	dag_free(dag);
	playbook_free(pb);
	profile_set_free(profiles);
	inventory_free(inv);
	diag_free(d);
	free(args);
	return rc;
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
