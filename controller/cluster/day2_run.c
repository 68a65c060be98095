/*
 * day2_run.c - the engine passes of `korch remove` and `korch reset` (see
 * day2_run.h): which profile slot runs on which hosts, with which
 * variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "spec/inventory.h"
#include "cluster/day2_run.h"
#include "cluster/upgrade_run.h"
#include "cluster/upgrade_run-int.h"
#include "engine/vars.h"

/* Tries of a pre-flight health check and of the gate after a member
 * leaves (2 s apart). */
#define PREFLIGHT_TRIES	"3"
#define GATE_TRIES	"30"

/* The variables of remove.yaml and reset.yaml, every one set on every
 * pass (each host renders every step of the set). */
static struct vars *
day2_vars(const char *host, int dead, const char *tries, int purge)
{
	struct vars *v = vars_new(NULL);

	if (v == NULL || vars_set(v, "day2_host", host ? host : "") != 0 ||
	    vars_set(v, "day2_dead", dead ? "yes" : "no") != 0 ||
	    vars_set(v, "day2_retries", tries) != 0 ||
	    vars_set(v, "reset_purge", purge ? "yes" : "no") != 0) {
		vars_free(v);
		return NULL;
	}
	return v;
}

/* One pass of slot on the hosts marked in on (inventory-sized); failed as
 * upg_pass_slot's.  Nothing marked: nothing to do. */
static int
pass_on(const struct upgrade_env *e, const char *slot,
    const unsigned char *on, const struct vars *v, unsigned char *failed,
    char *why, size_t whylen)
{
	size_t *idx, i, k = 0, n = e->inv->nhosts;
	char *limit;
	int r;

	if ((idx = calloc(n ? n : 1, sizeof(*idx))) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < n; i++)
		if (on[i])
			idx[k++] = i;
	limit = k ? upg_join_names(e->inv, idx, k, NULL) : NULL;
	free(idx);
	if (k == 0)
		return 0;
	if (limit == NULL)
		return KORCH_ERR_ALLOC;
	r = upg_pass_slot(e, slot, limit, v, failed, why, whylen);
	free(limit);
	return r;
}

/* pass_on() for one host. */
static int
pass_one(const struct upgrade_env *e, const char *slot, size_t host,
    const struct vars *v, char *why, size_t whylen)
{
	unsigned char *on;
	int r;

	if ((on = calloc(e->inv->nhosts, 1)) == NULL)
		return KORCH_ERR_ALLOC;
	on[host] = 1;
	r = pass_on(e, slot, on, v, NULL, why, whylen);
	free(on);
	return r;
}

int
day2_remove_preflight(const struct upgrade_env *e, struct day2_host *h,
    int dead, char *why, size_t whylen)
{
	size_t n = e->inv->nhosts, i;
	unsigned char *on, *failed;
	struct vars *v;
	char err[2048];
	long m = -1;
	int r, node = 0;

	why[0] = '\0';
	on = calloc(n, 1);
	failed = calloc(n, 1);
	v = day2_vars(NULL, dead, PREFLIGHT_TRIES, 0);
	if (on == NULL || failed == NULL || v == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (h[i].removed)
			continue;
		if (h[i].target)
			node |= (h[i].roles & DAY2_NODE) != 0;
		on[i] = h[i].target ? !dead : (h[i].roles & DAY2_ETCD) != 0;
	}
	if (node && (m = day2_pick(h, n, DAY2_MASTER)) >= 0)
		on[m] = 1;
	/* A failure here is an answer (an unhealthy member), not an end. */
	r = pass_on(e, "remove-preflight", on, v, failed, err, sizeof(err));
	if (r != 0 && r != KORCH_ERR_AGENT && r != KORCH_ERR_CONNECT)
		goto out;
	r = 0;
	for (i = 0; i < n; i++) {
		if ((h[i].roles & DAY2_ETCD) && !h[i].removed)
			h[i].healthy = on[i] && !failed[i];
		if (!on[i] || !failed[i] || (!h[i].target &&
		    (h[i].roles & DAY2_ETCD) && (long)i != m))
			continue;
		upg_msgf(why, whylen, "%s did not answer the pre-flight "
		    "check:\n%s\n%s", h[i].name, err, h[i].target ?
		    "If the host is gone for good, remove it with --dead "
		    "(it is not contacted then)." : "Bring it back first.");
		r = 1;
		goto out;
	}
	if (m >= 0 && (r = pass_one(e, "remove-api", (size_t)m, v, err,
	    sizeof(err))) != 0) {
		if (r == KORCH_ERR_AGENT || r == KORCH_ERR_CONNECT) {
			upg_msgf(why, whylen, "the Kubernetes API does not "
			    "answer through %s:\n%s", h[m].name, err);
			r = 1;
		}
	}
 out:
	vars_free(v);
	free(on);
	free(failed);
	return r;
}

/* One part of a removal, timed into *secs; the part's name leads why. */
static int
part(const struct upgrade_env *e, const char *label, const char *slot,
    const unsigned char *on, const struct vars *v, double *secs, char *why,
    size_t whylen)
{
	struct timespec t0;
	char err[2048];
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pass_on(e, slot, on, v, NULL, err, sizeof(err));
	*secs = upg_secs_since(&t0);
	if (r != 0)
		upg_msgf(why, whylen, "%s: %s", label, err);
	return r;
}

int
day2_remove_host(const struct upgrade_env *e, const struct day2_host *h,
    size_t n, size_t i, int dead, struct day2_times *t, char *why,
    size_t whylen)
{
	unsigned char *on;
	struct vars *v, *gv = NULL;
	long via;
	size_t k;
	int r = 0;

	memset(t, 0, sizeof(*t));
	why[0] = '\0';
	on = calloc(n, 1);
	v = day2_vars(h[i].name, dead, PREFLIGHT_TRIES, 0);
	if (on == NULL || v == NULL ||
	    (gv = day2_vars(h[i].name, dead, GATE_TRIES, 0)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if ((h[i].roles & DAY2_NODE) &&
	    (via = day2_pick(h, n, DAY2_MASTER)) >= 0) {
		on[via] = 1;
		r = part(e, "drain and delete the node", "remove-node", on, v,
		    &t->node, why, whylen);
		on[via] = 0;
	}
	if (r == 0 && (h[i].roles & DAY2_ETCD) &&
	    (via = day2_pick(h, n, DAY2_ETCD)) >= 0) {
		on[via] = 1;
		r = part(e, "etcd member remove", "remove-member", on, v,
		    &t->member, why, whylen);
		on[via] = 0;
		/* Every member that stays, and answered before, answers. */
		for (k = 0; r == 0 && k < n; k++)
			on[k] = (h[k].roles & DAY2_ETCD) && !h[k].removed &&
			    !h[k].target && h[k].healthy;
		if (r == 0)
			r = part(e, "etcd health after the removal",
			    "remove-etcd-health", on, gv, &t->gate, why,
			    whylen);
		memset(on, 0, n);
	}
	if (r == 0 && !dead) {
		on[i] = 1;
		r = part(e, "stop its services", "remove-stop", on, v,
		    &t->stop, why, whylen);
	}
 out:
	vars_free(v);
	vars_free(gv);
	free(on);
	return r;
}

int
day2_reset(const struct upgrade_env *e, const struct day2_host *h,
    int purge, char *why, size_t whylen)
{
	struct vars *v = day2_vars(NULL, 0, PREFLIGHT_TRIES, purge);
	unsigned char *on = calloc(e->inv->nhosts ? e->inv->nhosts : 1, 1);
	size_t i;
	int r = KORCH_ERR_ALLOC;

	why[0] = '\0';
	if (v != NULL && on != NULL) {
		for (i = 0; i < e->inv->nhosts; i++)
			on[i] = h[i].target != 0;
		/* Nothing is removed from under a running service. */
		if ((r = pass_on(e, "reset-stop", on, v, NULL, why,
		    whylen)) == 0)
			r = pass_on(e, "reset-files", on, v, NULL, why,
			    whylen);
	}
	vars_free(v);
	free(on);
	return r;
}
