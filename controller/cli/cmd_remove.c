/*
 * cmd_remove.c - `korch remove HOST... [--dead] [--yes]`: take hosts out
 * of the cluster for good.  Nodes are drained and deleted from
 * Kubernetes, etcd members removed through a healthy member, the hosts'
 * services stopped and disabled (not with --dead: the host is gone and is
 * not contacted).  What is refused is refused before anything changes
 * (cluster/day2_plan.h); each host done is marked removed in the state
 * and forgotten there, so `status` and later runs leave it out, and every
 * other command refuses an inventory that still names it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "cli/cmd_day2.h"
#include "cli/cmd_target.h"
#include "cluster/day2_run.h"
#include "cluster/upgrade_run.h"
#include "err.h"
#include "spec/inventory.h"
#include "state.h"
#include "state_record.h"

static int
parse_args(int argc, char **argv, struct ctx_args *a, int *dead)
{
	enum { O_INV = CMD_O_OWN, O_YES, O_DEAD };
	static const struct option longopts[] = {
		{ "inventory", required_argument, NULL, O_INV },
		{ "yes", no_argument, NULL, O_YES },
		{ "dead", no_argument, NULL, O_DEAD },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	cmd_run_begin(&a->r);
	while ((c = cmd_run_getopt("remove", argc, argv, longopts, &a->r)) >
	    0) {
		switch (c) {
		case O_INV:	a->inventory = optarg; break;
		case O_YES:	a->yes = 1; break;
		case O_DEAD:	*dead = 1; break;
		}
	}
	if (c < 0)
		return -1;
	if (optind >= argc) {
		fprintf(stderr, "korch remove: which hosts? (korch remove "
		    "HOST... [--dead] [--yes])\n");
		cmd_usage("remove");
		return -1;
	}
	return 0;
}

/* What will happen to h[i], on one line. */
static void
say_plan(const struct day2_host *h, size_t n, size_t i, int dead)
{
	long m = day2_pick(h, n, DAY2_MASTER), e = day2_pick(h, n, DAY2_ETCD);

	printf("  %s:", h[i].name);
	if (h[i].roles & DAY2_NODE)
		printf(" %s and delete the Node (kubectl on %s);",
		    dead ? "cordon" : "cordon, drain", m >= 0 ? h[m].name : "?");
	if (h[i].roles & DAY2_ETCD)
		printf(" etcd member remove (through %s);",
		    e >= 0 ? h[e].name : "?");
	printf(" %s\n", dead ? "not contacted (--dead)" :
	    "stop and disable its services");
}

/* With apiserver_lb none every kubeconfig names the first master (or the
 * operator's apiserver_endpoint): removing it cuts the others off until
 * an apply names the next one. */
static void
say_first_master(const struct cmd_ctx *c, const struct day2_host *h)
{
	size_t first;

	if (c->inv->cluster.apiserver_lb != NULL &&
	    strcmp(c->inv->cluster.apiserver_lb, "none") != 0)
		return;
	if (inventory_first_with_role(c->inv, "master", &first) == NULL ||
	    !h[first].target || h[first].removed)
		return;
	printf("  note: %s is the first master, which every kubeconfig names "
	    "(apiserver_lb: none)\n  unless apiserver_endpoint is set: apply "
	    "right after, without %s in the inventory,\n  to point them at "
	    "the next master\n", h[first].name, h[first].name);
}

/* The parts that took time, e.g. "node 23.1s, stop 1.2s". */
static void
say_done(const struct day2_host *h, const struct day2_times *t,
    const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("removed %s in %.1fs (", h->name,
	    (double)(now.tv_sec - t0->tv_sec) +
	    (double)(now.tv_nsec - t0->tv_nsec) / 1e9);
	if (t->node > 0)
		printf("drain and delete %.1fs, ", t->node);
	if (t->member > 0)
		printf("member remove %.1fs, etcd health %.1fs, ", t->member,
		    t->gate);
	if (t->stop > 0)
		printf("stop %.1fs", t->stop);
	else
		printf("not contacted");
	printf(")\n");
}

/* Mark h->name removed and forget what the state knew of it. */
static int
record(struct cmd_ctx *c, const struct day2_host *h, int dead)
{
	if (day2_mark_removed(c->st, h->name, dead) != 0 ||
	    kstate_host_forget(c->st, h->name) != 0) {
		fprintf(stderr, "korch: state: %s (%s was removed from the "
		    "cluster, but the state does not say so)\n",
		    kstate_errmsg(c->st), h->name);
		return KX_INTERNAL;
	}
	return KX_OK;
}

static int
run(struct cmd_ctx *c, int dead, int argc, char **argv)
{
	struct upgrade_env e;
	struct day2_host *h;
	struct day2_times t;
	struct timespec t0;
	char why[8192], when[64];
	size_t i, n = c->inv->nhosts, left = 0;
	int r, rc = KX_OK;

	if (c->unf != NULL) {
		fprintf(stderr, "korch: refused: %s #%lld is unfinished; "
		    "finish it (or roll it back) before removing hosts; "
		    "nothing was changed\n", c->unf->kind,
		    (long long)c->unf->id);
		return KX_USAGE;
	}
	if ((h = day2_table(c->inv, c->st, &r)) == NULL) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	if (day2_mark_targets(h, c->inv, c->invpath, argc, argv) != 0) {
		free(h);
		return KX_USAGE;
	}
	for (i = 0; i < n; i++) {
		if (h[i].target && h[i].removed &&
		    day2_removed(c->st, h[i].name, when, sizeof(when)) > 0)
			printf("%s was removed already (%s); nothing to do for "
			    "it\n", h[i].name, when);
		left += h[i].target && !h[i].removed;
	}
	if (left == 0) {
		free(h);
		return KX_OK;
	}
	if (day2_remove_refusal(h, n, why, sizeof(why)) != 0) {
		fprintf(stderr, "korch: refused: %s; nothing was changed\n",
		    why);
		free(h);
		return KX_USAGE;
	}
	if ((rc = ctx_prepare(c, NULL, NULL)) != KX_OK) {
		free(h);
		return rc;
	}
	ctx_env(c, &e);
	e.out = NULL;	/* one line per host, said here */
	r = day2_remove_preflight(&e, h, dead, why, sizeof(why));
	if (r != 0) {
		fprintf(stderr, "korch: %s%s\nNothing was changed.\n",
		    r == 1 ? "refused: " : "", r == 1 ? why :
		    korch_strerror(r));
		free(h);
		return r == 1 ? KX_HOSTS : KX_INTERNAL;
	}
	if (day2_quorum_refusal(h, n, why, sizeof(why)) != 0) {
		fprintf(stderr, "korch: refused: %s; nothing was changed\n",
		    why);
		free(h);
		return KX_USAGE;
	}
	printf("korch remove:\n");
	for (i = 0; i < n; i++)
		if (h[i].target && !h[i].removed)
			say_plan(h, n, i, dead);
	say_first_master(c, h);
	fflush(stdout);
	if (!day2_confirm(c->a.yes, "Remove these hosts from the cluster?")) {
		free(h);
		return KX_USAGE;
	}
	for (i = 0; i < n && rc == KX_OK; i++) {
		if (!h[i].target || h[i].removed)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = day2_remove_host(&e, h, n, i, dead, &t, why, sizeof(why));
		if (r != 0) {
			fprintf(stderr, "korch: removing %s FAILED: %s\nFix it "
			    "and run the same command again: what was done is "
			    "skipped.\n", h[i].name, why[0] ? why :
			    korch_strerror(r));
			rc = r == KORCH_ERR_AGENT || r == KORCH_ERR_CONNECT ?
			    KX_HOSTS : KX_INTERNAL;
			break;
		}
		if ((rc = record(c, &h[i], dead)) != KX_OK)
			break;
		h[i].removed = 1;
		say_done(&h[i], &t, &t0);
	}
	for (i = 0; rc == KX_OK && i < n; i++)
		if (h[i].target)
			printf("Now delete %s from %s (line %u): every other "
			    "command refuses an inventory that names it.\n",
			    h[i].name, c->invpath, c->inv->hosts[i].line);
	free(h);
	return rc;
}

int
cmd_remove(int argc, char **argv)
{
	struct cmd_ctx c;
	int rc, dead = 0, first;

	if ((rc = ctx_init(&c, "remove", argc, argv)) != KX_OK ||
	    parse_args(argc, argv, &c.a, &dead) != 0)
		return ctx_finish(&c, rc != KX_OK ? rc : KX_USAGE);
	first = optind;
	rc = ctx_open(&c, argv, CTX_OPEN_DAY2);
	if (rc == KX_OK)
		rc = run(&c, dead, argc - first, argv + first);
	return ctx_finish(&c, rc);
}
