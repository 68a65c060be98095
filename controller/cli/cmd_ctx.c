/*
 * cmd_ctx.c - what upgrade, rollback and etcd restore load before they
 * touch a host (see cmd_ctx.h).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/agent_image.h"
#include "spec/bundle.h"
#include "cluster/bundle_pick.h"
#include "cli/cmd.h"
#include "cli/cmd_ctx.h"
#include "engine/dag.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/inputs.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "spec/playbook_path.h"
#include "spec/profile.h"
#include "state.h"
#include "state_lock.h"
#include "state_settings.h"
#include "state_upgrade.h"
#include "cluster/upgrade_plan.h"
#include "cluster/upgrade_run.h"
#include "engine/vars.h"

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	static const char msg[] = "\nkorch: stopping once what runs now is "
	    "finished and recorded (again to stop at once; the next run "
	    "re-checks it)\n";

	if (stop_requested) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_requested = 1;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

void
ctx_catch_signals(int on)
{
	static struct sigaction old_int, old_term;
	struct sigaction sa;

	if (!on) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		return;
	}
	stop_requested = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
}

int
ctx_init(struct cmd_ctx *c, const char *kind, int argc, char **argv)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	/* Before getopt permutes argv: the run record keeps what was typed. */
	if ((c->args = cmd_join_args(argc + 1, argv - 1)) == NULL ||
	    (c->d = diag_new()) == NULL)
		return KX_INTERNAL;
	return KX_OK;
}

int
ctx_finish(struct cmd_ctx *c, int rc)
{
	ctx_end_run(c, rc == KX_OK ? KSTATE_RUN_CONVERGED :
	    KSTATE_RUN_ABORTED, rc);
	kstate_upgrade_free(c->unf);
	kstate_upgrade_free(c->undo);
	kstate_close(c->st);
	if (c->have_img)
		agent_image_release(&c->img);
	inputs_release(&c->in);
	dag_free(c->dag);
	dag_free(c->udag);
	playbook_free(c->pb);
	playbook_free(c->upb);
	profile_set_free(c->profiles);
	inventory_free(c->inv);
	diag_free(c->d);
	free(c->bundle_path);
	free(c->inv_version);
	free(c->args);
	return rc;
}

void
ctx_end_run(struct cmd_ctx *c, enum kstate_run_result res, int rc)
{
	if (c->run_id > 0 && kstate_run_end(c->st, c->run_id, res, rc) != 0)
		fprintf(stderr, "korch: cannot record the end of the run: "
		    "%s\n", kstate_errmsg(c->st));
	c->run_id = 0;
}

/* The state, the inventory it was applied from, the playbooks, the lock. */
int
ctx_open(struct cmd_ctx *c, char **argv)
{
	char *v = NULL, msg[1024];
	int r;

	if (c->a.r.state != NULL)
		snprintf(c->statepath, sizeof(c->statepath), "%s", c->a.r.state);
	else if (kstate_default_path(c->statepath, sizeof(c->statepath)) !=
	    0) {
		fprintf(stderr, "korch: no home directory for the state; use "
		    "--state FILE\n");
		return KX_USAGE;
	}
	if (access(c->statepath, F_OK) != 0) {
		fprintf(stderr, "korch: no state at %s: apply the cluster "
		    "first (or name the state with --state FILE)\n",
		    c->statepath);
		return KX_USAGE;
	}
	if ((r = kstate_open(c->statepath, &c->st)) != 0) {
		fprintf(stderr, "korch: state %s: %s\n", c->statepath,
		    kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	if (c->a.inventory == NULL) {
		if (kstate_setting_get(c->st, "inventory", &v) != 0 ||
		    v == NULL) {
			fprintf(stderr, "korch: the state %s does not say "
			    "which inventory was applied; name it with "
			    "--inventory FILE\n", c->statepath);
			free(v);
			return KX_USAGE;
		}
		snprintf(c->invpath, sizeof(c->invpath), "%s", v);
		free(v);
	} else
		snprintf(c->invpath, sizeof(c->invpath), "%s", c->a.inventory);
	if ((r = inventory_load(c->invpath, &c->inv, c->d)) != 0) {
		diag_print(c->d, stderr);
		fprintf(stderr, "korch: %s: not valid, nothing was changed\n",
		    c->invpath);
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	if (playbook_dir(c->a.r.playbooks, argv[-1], c->pbdir,
	    sizeof(c->pbdir)) != 0) {
		fprintf(stderr, "korch: cannot find the playbooks; name them "
		    "with --playbooks DIR\n");
		return KX_USAGE;
	}
	snprintf(c->upbdir, sizeof(c->upbdir), "%s/upgrade", c->pbdir);
	if ((r = playbook_load(c->pbdir, &c->pb, c->d)) != 0 ||
	    (r = profile_set_load(c->pbdir, &c->profiles, c->d)) != 0 ||
	    (r = dag_build(c->pb, c->inv, &c->dag, c->d)) != 0 ||
	    (r = playbook_load(c->upbdir, &c->upb, c->d)) != 0 ||
	    (r = dag_build(c->upb, c->inv, &c->udag, c->d)) != 0) {
		diag_print(c->d, stderr);
		fprintf(stderr, "korch: %s: not valid, nothing was changed\n",
		    c->pb == NULL || c->profiles == NULL || c->dag == NULL ?
		    c->pbdir : c->upbdir);
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	if ((r = agent_image_load(&c->img)) != 0) {
		fprintf(stderr, "korch: cannot load the agent binary: %s\n",
		    korch_strerror(r));
		return KX_INTERNAL;
	}
	c->have_img = 1;
	msg[0] = '\0';
	if ((r = kstate_run_begin(c->st, c->a.plan ? "plan" : c->kind,
	    c->args, &c->run_id, msg, sizeof(msg))) != 0) {
		c->run_id = 0;
		if (r == KORCH_ERR_LOCKED) {
			fprintf(stderr, "korch: another korch run holds the "
			    "state %s:\n  %s\nWait for it to finish; nothing "
			    "was changed.\n", c->statepath, msg);
			return KX_LOCKED;
		}
		fprintf(stderr, "korch: state %s: %s\n", c->statepath,
		    kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	if (msg[0] != '\0' && !c->a.r.json)
		fprintf(stderr, "korch: note: %s\n", msg);
	r = kstate_upgrade_unfinished(c->st, &c->unf);
	if (r != 0 && r != KORCH_ERR_NOT_FOUND) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	return KX_OK;
}

/* Where bundles for another version are looked for: --bundle, else the
 * directory holding the inventory's bundle. */
int
ctx_pick_bundle(struct cmd_ctx *c, const struct kver *want)
{
	char dir[PATH_MAX];
	const char *where = c->a.r.bundle;
	int r;

	if (where == NULL) {
		if (c->inv->cluster.bundle == NULL) {
			fprintf(stderr, "korch: which bundle holds the new "
			    "version? Name it (or a directory of bundles) "
			    "with --bundle PATH\n");
			return KX_USAGE;
		}
		snprintf(dir, sizeof(dir), "%s", c->inv->cluster.bundle);
		where = dirname(dir);
	}
	r = bundle_pick(where, want, &c->bundle_path, c->target,
	    sizeof(c->target), c->d);
	if (r != 0) {
		diag_print(c->d, stderr);
		if (r == KORCH_ERR_NOT_FOUND)
			fprintf(stderr, "korch: no bundle for the version "
			    "asked for%s; nothing was changed\n", c->a.r.bundle ?
			    "" : " beside the inventory's bundle (name one "
			    "with --bundle PATH)");
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	return KX_OK;
}

int
ctx_check_profile(struct cmd_ctx *c, const char *version)
{
	char why[512];

	if (profile_set_count(c->profiles) == 0 ||
	    profile_pick(c->profiles, version, why, sizeof(why)) != NULL)
		return KX_OK;
	fprintf(stderr, "korch: %s; nothing was changed\n", why);
	return KX_USAGE;
}

/* What one role runs and needs, in the bundle, at the target version for
 * the components that carry it: the number of problems, each said. */
static int
check_role(struct cmd_ctx *c, const char *role)
{
	const struct profile *p = c->in.profile;
	const char *const *lists[2], *const *name;
	const struct bundle_component *bc;
	size_t k;
	int bad = 0;

	lists[0] = profile_runs(p, role);
	lists[1] = profile_needs(p, role);
	for (k = 0; k < 2; k++)
		for (name = lists[k]; *name != NULL; name++) {
			if ((bc = bundle_find(c->in.bundle, *name)) == NULL) {
				fprintf(stderr, "korch: %s: the bundle has no "
				    "%s for Kubernetes %s\n",
				    c->in.bundle->manifest, *name, c->target);
				bad++;
			} else if (profile_versioned(p, *name) &&
			    strcmp(bc->version, c->target) != 0) {
				fprintf(stderr, "%s:%u: korch: %s is version "
				    "%s, not %s like the bundle\n",
				    c->in.bundle->manifest, bc->line, *name,
				    bc->version, c->target);
				bad++;
			}
		}
	return bad;
}

/* Every role of the inventory, as the profile says (check_role). */
static int
ctx_check_bundle(struct cmd_ctx *c)
{
	const struct inv_host *h;
	size_t i, k, prev;
	int bad = 0, seen;

	for (i = 0; c->in.profile != NULL && i < c->inv->nhosts; i++) {
		h = &c->inv->hosts[i];
		for (k = 0; k < h->nroles; k++) {
			/* Once a role: its first host's. */
			for (seen = 0, prev = 0; prev < i && !seen; prev++)
				seen = inventory_host_has_role(
				    &c->inv->hosts[prev], h->roles[k]);
			if (!seen)
				bad += check_role(c, h->roles[k]);
		}
	}
	if (bad > 0) {
		fprintf(stderr, "korch: the bundle for %s is incomplete; "
		    "nothing was changed\n", c->target);
		return KX_USAGE;
	}
	return KX_OK;
}

/* The inventory at the target version, the bundle loaded and verified,
 * the PKI reused. */
int
ctx_inputs(struct cmd_ctx *c)
{
	struct upgrade_env e;
	char dir[PATH_MAX], why[1024];
	int r;

	free(c->inv_version);
	c->inv_version = c->inv->cluster.kubernetes_version;
	if ((c->inv->cluster.kubernetes_version = strdup(c->target)) == NULL ||
	    vars_set(c->inv->vars, "cluster.kubernetes_version", c->target) !=
	    0)
		return KX_INTERNAL;
	if ((r = inputs_prepare(c->inv, c->profiles, c->bundle_path,
	    c->statepath, c->a.r.json ? NULL : stderr, &c->in, c->d)) != 0) {
		diag_print(c->d, stderr);
		fprintf(stderr, "korch: %s; nothing was changed\n",
		    r == KORCH_ERR_HASH_MISMATCH ? "the bundle does not verify" :
		    "cannot prepare the run");
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	if ((r = ctx_check_bundle(c)) != KX_OK)
		return r;
	ctx_env(c, &e);
	if (upgrade_check_slots(&e, why, sizeof(why)) != 0) {
		fprintf(stderr, "korch: %s; nothing was changed\n", why);
		return KX_USAGE;
	}
	snprintf(dir, sizeof(dir), "%s", c->statepath);
	if ((size_t)snprintf(c->backups, sizeof(c->backups), "%s/backups/%s",
	    dirname(dir), c->inv->cluster.name) >= sizeof(c->backups)) {
		fprintf(stderr, "korch: the state's path is too long\n");
		return KX_USAGE;
	}
	return KX_OK;
}

void
ctx_env(struct cmd_ctx *c, struct upgrade_env *e)
{
	memset(e, 0, sizeof(*e));
	e->inv = c->inv;
	e->pb = c->pb;
	e->dag = c->dag;
	e->upb = c->upb;
	e->udag = c->udag;
	e->st = c->st;
	e->run_id = c->run_id;
	e->img = &c->img;
	e->in = &c->in;
	e->o = c->a.r.o;
	e->o.bundle = c->in.bundle;
	e->backup_dir = c->backups;
	e->out = c->a.r.json ? NULL : stdout;
	e->verbose = c->a.r.verbose;
	e->stop = &stop_requested;
}
