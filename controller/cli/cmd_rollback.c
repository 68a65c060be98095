/*
 * cmd_rollback.c - `korch rollback`: which upgrade it undoes, what etcd
 * forbids, the phases of the hosts that upgrade moved (its order
 * backwards), recorded and walked like an upgrade (cmd_journal.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/bundle.h"
#include "cli/cmd.h"
#include "cli/cmd_target.h"
#include "cli/cmd_upgrade-int.h"
#include "err.h"
#include "spec/inventory.h"
#include "spec/profile.h"
#include "state.h"
#include "state_lock.h"
#include "state_query.h"
#include "state_upgrade.h"
#include "cluster/upgrade_plan.h"

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

/*
 * Which upgrade the rollback undoes (c->undo): the one a stopped rollback
 * was undoing (*id: that rollback's entry, to finish), the stopped or
 * failed upgrade, else the last one, unless it was rolled back already
 * or abandoned.
 */
static int
rollback_which(struct cmd_ctx *c, int64_t *id)
{
	struct kstate_upgrade *last = NULL;
	int r;

	if (c->unf != NULL && strcmp(c->unf->kind, "rollback") == 0) {
		/* Finish the rollback that was stopped. */
		if ((r = kstate_upgrade_get(c->st, c->unf->parent_id,
		    &c->undo)) != 0) {
			fprintf(stderr, "korch: state: %s\n",
			    kstate_errmsg(c->st));
			return KX_INTERNAL;
		}
		*id = c->unf->id;
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
	return KX_OK;
}

int
rollback_run(struct cmd_ctx *c)
{
	struct observed ob;
	struct kver want;
	struct kstate_phase_spec *spec = NULL;
	size_t n = 0, i;
	int64_t id = 0;
	int rc, r;

	if ((rc = rollback_which(c, &id)) != KX_OK)
		return rc;
	if (kver_parse(c->undo->from_version, &want) != 0) {
		fprintf(stderr, "korch: upgrade #%lld came from '%s', which "
		    "is not a version\n", (long long)c->undo->id,
		    c->undo->from_version);
		return KX_INTERNAL;
	}
	if ((rc = ctx_pick_bundle(c, &want)) != KX_OK ||
	    (rc = ctx_inputs(c)) != KX_OK ||
	    (rc = refuse_etcd_downgrade(c)) != KX_OK ||
	    (rc = journal_preflight(c, id > 0 ? id : c->undo->id, &ob)) != KX_OK)
		return rc;
	if (id > 0)
		return journal_resume(c);
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
	r = journal_new(c, c->undo->status == KSTATE_UPG_RUNNING ||
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
	return journal_walk(c, id);
}

