/*
 * day2_plan.c - the refusals of `korch remove` and `korch reset` and the
 * choice of the host the work goes through (see day2_plan.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster/day2_plan.h"

/* Append to why (cut short when it does not fit). */
__attribute__((format(printf, 3, 4)))
static void
addf(char *why, size_t whylen, const char *fmt, ...)
{
	size_t len = strlen(why);
	va_list ap;

	if (len + 1 >= whylen)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why + len, whylen - len, fmt, ap);
	va_end(ap);
}

/* The names of the hosts with role in the set sel says (the targets, or
 * the unhealthy ones that stay), ", "-joined
 * after what is in why already. */
enum { SEL_TARGET, SEL_UNHEALTHY };
static void
add_names(const struct day2_host *h, size_t n, unsigned role, int sel,
    char *why, size_t whylen)
{
	size_t i;
	int k = 0;

	for (i = 0; i < n; i++) {
		if (!(h[i].roles & role) || h[i].removed)
			continue;
		if (sel == SEL_TARGET ? !h[i].target :
		    h[i].target || h[i].healthy)
			continue;
		addf(why, whylen, "%s%s", k++ ? ", " : "", h[i].name);
	}
}

/* Members with role not removed; of them, targets. */
static void
count(const struct day2_host *h, size_t n, unsigned role, size_t *live,
    size_t *targets)
{
	size_t i;

	*live = *targets = 0;
	for (i = 0; i < n; i++) {
		if (!(h[i].roles & role) || h[i].removed)
			continue;
		(*live)++;
		*targets += h[i].target != 0;
	}
}

int
day2_remove_refusal(const struct day2_host *h, size_t n, char *why,
    size_t whylen)
{
	size_t live, tg, i, any = 0;

	why[0] = '\0';
	for (i = 0; i < n; i++)
		any += h[i].target && !h[i].removed;
	if (any == 0) {
		addf(why, whylen, "no host to remove");
		return 1;
	}
	count(h, n, DAY2_MASTER, &live, &tg);
	if (live > 0 && tg == live) {
		addf(why, whylen, "removing ");
		add_names(h, n, DAY2_MASTER, SEL_TARGET, why, whylen);
		addf(why, whylen, " would leave the cluster without a master "
		    "(%s the last); add another master first", live == 1 ?
		    "it is" : "they are");
		return 1;
	}
	count(h, n, DAY2_ETCD, &live, &tg);
	if (live > 0 && tg == live) {
		addf(why, whylen, "removing ");
		add_names(h, n, DAY2_ETCD, SEL_TARGET, why, whylen);
		addf(why, whylen, " would leave etcd without a member (the "
		    "cluster's data); add another member first");
		return 1;
	}
	/* Nodes leave Kubernetes through a master's kubectl. */
	for (i = 0; day2_pick(h, n, DAY2_MASTER) < 0 && i < n; i++)
		if (h[i].target && !h[i].removed && (h[i].roles & DAY2_NODE)) {
			addf(why, whylen, "%s is a node, and there is no master "
			    "to delete it from Kubernetes through", h[i].name);
			return 1;
		}
	return 0;
}

int
day2_quorum_refusal(const struct day2_host *h, size_t n, char *why,
    size_t whylen)
{
	size_t live, tg, stay_ok = 0, need, i;

	why[0] = '\0';
	count(h, n, DAY2_ETCD, &live, &tg);
	if (tg == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((h[i].roles & DAY2_ETCD) && !h[i].removed &&
		    !h[i].target && h[i].healthy)
			stay_ok++;
	need = live / 2 + 1;
	if (stay_ok >= need)
		return 0;
	addf(why, whylen, "etcd has %zu members; removing ", live);
	add_names(h, n, DAY2_ETCD, SEL_TARGET, why, whylen);
	addf(why, whylen, " leaves %zu healthy of the %zu a quorum of %zu "
	    "needs", stay_ok, need, live);
	if (stay_ok + tg < live) {
		/* Some member that stays did not answer. */
		addf(why, whylen, " (not healthy: ");
		add_names(h, n, DAY2_ETCD, SEL_UNHEALTHY, why, whylen);
		addf(why, whylen, "; bring it back first)");
	} else
		addf(why, whylen, "; remove one member at a time");
	return 1;
}

int
day2_reset_refusal(const struct day2_host *h, size_t n, int purge,
    char *why, size_t whylen)
{
	size_t live, tg, i;

	why[0] = '\0';
	if (!purge)
		return 0;
	count(h, n, DAY2_ETCD, &live, &tg);
	if (tg == 0 || tg == live)
		return 0;
	for (i = 0; i < n; i++) {
		if (!(h[i].roles & DAY2_ETCD) || h[i].removed || !h[i].target)
			continue;
		addf(why, whylen, "%s is still a member of etcd: --purge-data "
		    "would delete its data while the other members count on "
		    "it; `korch remove %s` first (or reset every member)",
		    h[i].name, h[i].name);
		return 1;
	}
	return 0;
}

long
day2_pick(const struct day2_host *h, size_t n, unsigned role)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((h[i].roles & role) && !h[i].removed && !h[i].target &&
		    (role != DAY2_ETCD || h[i].healthy))
			return (long)i;
	return -1;
}
