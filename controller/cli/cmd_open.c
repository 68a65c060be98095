/*
 * cmd_open.c - how apply, plan, upgrade, rollback and etcd restore open
 * their inputs, the state and its run lock before any host is contacted,
 * and how they close them (see cmd_open.h).  Every step says what failed
 * on stderr and returns the exit code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/agent_image.h"
#include "cli/cmd.h"
#include "cli/cmd_open.h"
#include "cli/cmd_day2.h"
#include "engine/dag.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/run_inputs.h"
#include "cluster/run_prior.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "spec/playbook_path.h"
#include "spec/profile.h"
#include "state.h"
#include "state_lock.h"
#include "state_upgrade.h"
#include "state_settings.h"
#include "state_backup.h"

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
	free(c->inv_saved);
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

/* The inventory or the playbooks at path did not load: said after the
 * diagnostics that say why. */
static int
not_valid(struct cmd_ctx *c, const char *path, int r)
{
	diag_print(c->d, stderr);
	fprintf(stderr, "korch: %s: not valid, nothing was changed\n", path);
	return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
}

static int
state_path(struct cmd_ctx *c)
{
	if (c->a.r.state != NULL)
		snprintf(c->statepath, sizeof(c->statepath), "%s", c->a.r.state);
	else if (kstate_default_path(c->statepath, sizeof(c->statepath)) !=
	    0) {
		fprintf(stderr, "korch: no home directory for the state; use "
		    "--state FILE\n");
		return KX_USAGE;
	}
	return KX_OK;
}

/* Only apply makes a state: elsewhere a typo in --state must not look
 * like a cluster never applied. */
static int
open_state(struct cmd_ctx *c, unsigned flags)
{
	if (!(flags & CTX_OPEN_NEW_STATE) && access(c->statepath, F_OK) != 0) {
		fprintf(stderr, "korch: no state at %s: apply the cluster "
		    "first (or name the state with --state FILE)\n",
		    c->statepath);
		return KX_USAGE;
	}
	if (kstate_open(c->statepath, &c->st) != 0) {
		fprintf(stderr, "korch: state %s: %s\nnothing was changed.\n",
		    c->statepath, kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	return KX_OK;
}

/* --inventory, else the one the last apply recorded in the state. */
static int
find_inventory(struct cmd_ctx *c)
{
	if (c->a.inventory != NULL) {
		c->invpath = c->a.inventory;
		return KX_OK;
	}
	if (kstate_setting_get(c->st, "inventory", &c->inv_saved) != 0 ||
	    c->inv_saved == NULL) {
		fprintf(stderr, "korch: the state %s does not say "
		    "which inventory was applied; name it with "
		    "--inventory FILE\n", c->statepath);
		return KX_USAGE;
	}
	c->invpath = c->inv_saved;
	return KX_OK;
}

static int
open_inventory(struct cmd_ctx *c)
{
	int r;

	if ((r = inventory_load(c->invpath, &c->inv, c->d)) != 0)
		return not_valid(c, c->invpath, r);
	return KX_OK;
}

/* The playbooks, their profiles and DAG (and the upgrade set's). */
static int
open_playbooks(struct cmd_ctx *c, char **argv, unsigned flags)
{
	int r;

	if (playbook_dir(c->a.r.playbooks, argv[-1], c->pbdir,
	    sizeof(c->pbdir)) != 0) {
		fprintf(stderr, "korch: cannot find the playbooks; name them "
		    "with --playbooks DIR\n");
		return KX_USAGE;
	}
	if ((r = playbook_load(c->pbdir, &c->pb, c->d)) != 0 ||
	    (r = profile_set_load(c->pbdir, &c->profiles, c->d)) != 0 ||
	    (r = dag_build(c->pb, c->inv, &c->dag, c->d)) != 0)
		return not_valid(c, c->pbdir, r);
	if (!(flags & (CTX_OPEN_UPGRADE | CTX_OPEN_DAY2)))
		return KX_OK;
	snprintf(c->upbdir, sizeof(c->upbdir), "%s/%s", c->pbdir,
	    flags & CTX_OPEN_DAY2 ? "day2" : "upgrade");
	if ((r = playbook_load(c->upbdir, &c->upb, c->d)) != 0 ||
	    (r = dag_build(c->upb, c->inv, &c->udag, c->d)) != 0)
		return not_valid(c, c->upbdir, r);
	return KX_OK;
}

static int
open_agent(struct cmd_ctx *c)
{
	int r;

	if ((r = agent_image_load(&c->img)) != 0) {
		fprintf(stderr, "korch: cannot load the agent binary: %s\n",
		    korch_strerror(r));
		return KX_INTERNAL;
	}
	c->have_img = 1;
	return KX_OK;
}

/* The run lock: a run of c->kind begins in the state. */
static int
take_lock(struct cmd_ctx *c)
{
	char msg[1024];
	int r;

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
	return KX_OK;
}

/* Plan (apply's or upgrade's) only looks: no backup, no host lock. */
static int
mutating(const struct cmd_ctx *c)
{
	return !c->a.plan && !c->a.r.o.check_only &&
	    strcmp(c->kind, "plan") != 0;
}

/*
 * A run that changes the state starts with a backup of it, so the next
 * damage loses one run at most; and its agents lock their hosts in its
 * name (the state's full path says which state, on this machine).
 */
static int
begin_mutating(struct cmd_ctx *c)
{
	char bak[PATH_MAX + 8];

	if (!mutating(c))
		return KX_OK;
	if (realpath(c->statepath, c->statereal) == NULL)
		snprintf(c->statereal, sizeof(c->statereal), "%s",
		    c->statepath);
	c->a.r.o.state_path = c->statereal;
	if (kstate_backup(c->st, bak, sizeof(bak)) != 0) {
		fprintf(stderr, "korch: cannot back up the state before "
		    "changing it: %s\nnothing was changed; free space or fix "
		    "the state's directory and run again\n",
		    kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	return KX_OK;
}

int
ctx_open(struct cmd_ctx *c, char **argv, unsigned flags)
{
	int r;

	if (flags & CTX_OPEN_NEW_STATE) {
		/* Every input is checked before the state is touched. */
		if ((r = find_inventory(c)) != KX_OK ||
		    (r = open_inventory(c)) != KX_OK ||
		    (r = open_playbooks(c, argv, flags)) != KX_OK ||
		    (r = state_path(c)) != KX_OK ||
		    (r = open_agent(c)) != KX_OK ||
		    (r = open_state(c, flags)) != KX_OK)
			return r;
	} else if ((r = state_path(c)) != KX_OK ||
	    (r = open_state(c, flags)) != KX_OK ||
	    (r = find_inventory(c)) != KX_OK ||
	    (r = open_inventory(c)) != KX_OK ||
	    (r = open_playbooks(c, argv, flags)) != KX_OK ||
	    (r = open_agent(c)) != KX_OK)
		return r;
	/* A removed host comes back only through `korch reset`: what the
	 * others know of it (etcd's members, the Nodes) is gone. */
	if (!(flags & CTX_OPEN_DAY2) &&
	    (r = day2_refuse_removed(c->inv, c->invpath, c->st)) != KX_OK)
		return r;
	/* Reading commands (korch certs) take no lock and change nothing. */
	if (!(flags & CTX_OPEN_NO_LOCK) && ((r = take_lock(c)) != KX_OK ||
	    (r = begin_mutating(c)) != KX_OK))
		return r;
	if (!(flags & (CTX_OPEN_UPGRADE | CTX_OPEN_DAY2)))
		return KX_OK;
	r = kstate_upgrade_unfinished(c->st, &c->unf);
	if (r != 0 && r != KORCH_ERR_NOT_FOUND) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	return KX_OK;
}

int
ctx_prepare(struct cmd_ctx *c, const char *bundle, FILE *out)
{
	int r;

	if ((r = inputs_prepare(c->inv, c->profiles, bundle, c->statepath,
	    out, &c->in, c->d)) != 0) {
		diag_print(c->d, stderr);
		fprintf(stderr, "korch: %s; nothing was changed\n",
		    r == KORCH_ERR_HASH_MISMATCH ? "the bundle does not verify" :
		    "cannot prepare the run");
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	if ((r = prior_apply(c->st, c->pb, c->inv, c->dag, c->in.extra,
	    !c->a.r.all_at_once)) != 0) {
		fprintf(stderr, "korch: state %s: cannot read what runs "
		    "already: %s\n", c->statepath, r == KORCH_ERR_STATE ?
		    kstate_errmsg(c->st) : korch_strerror(r));
		return KX_INTERNAL;
	}
	return KX_OK;
}
