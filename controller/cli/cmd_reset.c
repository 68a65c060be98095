/*
 * cmd_reset.c - `korch reset HOST...|--all --yes [--purge-data]`: stop
 * and remove what korch installed on hosts (playbooks/day2/reset.yaml),
 * their data too with --purge-data, so that they can be applied again
 * from scratch.  Every task is skipped once done: a second reset changes
 * nothing.  A reset host is forgotten by the state and loses its removal
 * mark (cmd_day2.h): the next apply takes it as a new host.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_day2.h"
#include "cli/cmd_target.h"
#include "cluster/day2_run.h"
#include "cluster/upgrade_run.h"
#include "err.h"
#include "spec/inventory.h"
#include "state.h"
#include "state_query.h"
#include "state_record.h"

struct reset_args {
	int	all, purge;
};

static int
parse_args(int argc, char **argv, struct ctx_args *a, struct reset_args *ra)
{
	enum { O_INV = CMD_O_OWN, O_YES, O_ALL, O_PURGE };
	static const struct option longopts[] = {
		{ "inventory", required_argument, NULL, O_INV },
		{ "yes", no_argument, NULL, O_YES },
		{ "all", no_argument, NULL, O_ALL },
		{ "purge-data", no_argument, NULL, O_PURGE },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	cmd_run_begin(&a->r);
	while ((c = cmd_run_getopt("reset", argc, argv, longopts, &a->r)) >
	    0) {
		switch (c) {
		case O_INV:	a->inventory = optarg; break;
		case O_YES:	a->yes = 1; break;
		case O_ALL:	ra->all = 1; break;
		case O_PURGE:	ra->purge = 1; break;
		}
	}
	if (c < 0)
		return -1;
	if ((optind >= argc) == !ra->all) {
		fprintf(stderr, "korch reset: %s\n", ra->all ? "--all or "
		    "host names, not both" : "which hosts? (korch reset "
		    "HOST...|--all --yes [--purge-data])");
		cmd_usage("reset");
		return -1;
	}
	return 0;
}

/* The tasks this run changed on host (its results in the state). */
static int
changed_on(struct cmd_ctx *c, const char *host, size_t *changed)
{
	struct kstate_task_result *v = NULL;
	size_t n = 0, i;

	*changed = 0;
	if (kstate_results_list(c->st, c->run_id, host, 0, &v, &n) != 0)
		return -1;
	for (i = 0; i < n; i++)
		*changed += v[i].changed;
	kstate_results_free(v, n);
	return 0;
}

static int
run(struct cmd_ctx *c, const struct reset_args *ra, int argc, char **argv)
{
	struct upgrade_env e;
	struct day2_host *h;
	char why[8192], q[256];
	size_t i, k = 0, n = c->inv->nhosts, changed;
	int r, rc = KX_OK;

	if ((h = day2_table(c->inv, c->st, &r)) == NULL) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	for (i = 0; ra->all && i < n; i++)
		h[i].target = 1;
	if (!ra->all && day2_mark_targets(h, c->inv, c->invpath, argc,
	    argv) != 0) {
		rc = KX_USAGE;
		goto out;
	}
	if (day2_reset_refusal(h, n, ra->purge, why, sizeof(why)) != 0) {
		fprintf(stderr, "korch: refused: %s; nothing was changed\n",
		    why);
		rc = KX_USAGE;
		goto out;
	}
	printf("korch reset:");
	for (i = 0; i < n; i++)
		if (h[i].target)
			printf("%s%s", k++ ? ", " : " ", h[i].name);
	printf("\n  stop korch's services, delete its units, binaries, "
	    "configuration and\n  certificates%s\n",
	    ra->purge ? ", and the etcd and docker data (--purge-data)" :
	    " (etcd and docker data kept)");
	for (i = 0; !ra->all && i < n; i++)
		if (h[i].target && !h[i].removed)
			printf("  note: %s is still in the cluster (not "
			    "removed): %s\n", h[i].name, h[i].roles &
			    (DAY2_ETCD | DAY2_MASTER) ? "the others keep "
			    "counting on it until it is applied again" :
			    "its Node stays NotReady until it is applied "
			    "again");
	fflush(stdout);
	snprintf(q, sizeof(q), "Reset %zu host%s?", k, k == 1 ? "" : "s");
	if (!day2_confirm(c->a.yes, q)) {
		rc = KX_USAGE;
		goto out;
	}
	if ((rc = ctx_prepare(c, NULL, NULL)) != KX_OK)
		goto out;
	ctx_env(c, &e);
	e.out = NULL;
	if ((r = day2_reset(&e, h, ra->purge, why, sizeof(why))) != 0) {
		fprintf(stderr, "korch: reset FAILED:\n%s\nFix it and run the "
		    "same command again: what was done is skipped.\n",
		    why[0] ? why : korch_strerror(r));
		rc = r == KORCH_ERR_AGENT || r == KORCH_ERR_CONNECT ?
		    KX_HOSTS : KX_INTERNAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *name = h[i].name;

		if (!h[i].target)
			continue;
		if (changed_on(c, name, &changed) != 0 ||
		    day2_clear_removed(c->st, name) != 0 ||
		    kstate_host_forget(c->st, name) != 0) {
			fprintf(stderr, "korch: state: %s\n",
			    kstate_errmsg(c->st));
			rc = KX_INTERNAL;
			goto out;
		}
		if (changed == 0)
			printf("%s: nothing left to reset\n", name);
		else
			printf("%s: reset (%zu task%s changed)\n", name,
			    changed, changed == 1 ? "" : "s");
	}
 out:
	free(h);
	return rc;
}

int
cmd_reset(int argc, char **argv)
{
	struct reset_args ra = { 0, 0 };
	struct cmd_ctx c;
	int rc, first;

	if ((rc = ctx_init(&c, "reset", argc, argv)) != KX_OK ||
	    parse_args(argc, argv, &c.a, &ra) != 0)
		return ctx_finish(&c, rc != KX_OK ? rc : KX_USAGE);
	first = optind;
	rc = ctx_open(&c, argv, CTX_OPEN_DAY2);
	if (rc == KX_OK)
		rc = run(&c, &ra, argc - first, argv + first);
	return ctx_finish(&c, rc);
}
