/*
 * cmd_journal.c - what `korch upgrade` and `korch rollback` share once
 * they know what to do: the pre-flight on every host and the versions it
 * observed, a new journal entry recorded, and the walk of an entry (new or
 * resumed) with how it ended said and recorded (see cmd_upgrade-int.h).
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
#include "base/json.h"
#include "spec/profile.h"
#include "state.h"
#include "state_lock.h"
#include "state_query.h"
#include "state_upgrade.h"
#include "state_settings.h"
#include "cluster/upgrade_view.h"
#include "cluster/upgrade_plan.h"
#include "cluster/upgrade_run.h"

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

int
journal_json(struct cmd_ctx *c, int64_t run_id, int64_t id, int rc,
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
		(void)upgrade_view_json(c->st, u, j);
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
int
journal_walk(struct cmd_ctx *c, int64_t id)
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
		return journal_json(c, run_id, id, rc, why), rc;
	if (kstate_upgrade_get(c->st, id, &u) == 0) {
		upgrade_view_position(c->st, u, pos, sizeof(pos));
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
int
journal_resume(struct cmd_ctx *c)
{
	char pos[512];

	upgrade_view_position(c->st, c->unf, pos, sizeof(pos));
	if (!c->a.r.json)
		printf("korch %s: resuming %s\n", c->kind, pos);
	if (c->a.plan) {
		(void)upgrade_view_print(c->st, c->unf, 1, stdout);
		return KX_OK;
	}
	return journal_walk(c, c->unf->id);
}

/*
 * Pre-flight on every host; observed versions into ob.  When finishing or
 * undoing entry (0: none), its etcd members whose phase was left running
 * or failed may fail their health check: repairing them is the point.
 * Exit code.
 */
int
journal_preflight(struct cmd_ctx *c, int64_t entry, struct observed *ob)
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
int
journal_new(struct cmd_ctx *c, int64_t old, const char *why, const char *kind,
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

