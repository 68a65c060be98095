/*
 * day2_plan.h - the decisions of `korch remove` and `korch reset` that
 * need no host: which removals are refused (the last master, the last
 * etcd member, losing etcd's quorum, a reset that would strand a
 * member), and which hosts the work goes through.  Pure functions over a
 * table of the inventory's hosts, so they are unit-tested alone.
 */
#ifndef KORCH_DAY2_PLAN_H
#define KORCH_DAY2_PLAN_H

#include <stddef.h>

/* Roles, as bits. */
enum { DAY2_ETCD = 1, DAY2_MASTER = 2, DAY2_NODE = 4 };

/* One inventory host as the decisions see it. */
struct day2_host {
	const char	*name;		/* borrowed */
	unsigned	 roles;		/* DAY2_* */
	int		 removed;	/* removed by an earlier `korch remove` */
	int		 target;	/* named on this command line */
	int		 healthy;	/* etcd: answered its own /health */
};

/*
 * What `korch remove` refuses before any host is contacted: no target, a
 * target already removed is not one (the caller says so); removing the
 * last master while there are masters, or every etcd member.  0, or 1
 * with the reason (naming hosts) in why.
 */
int day2_remove_refusal(const struct day2_host *h, size_t n, char *why,
    size_t whylen);

/*
 * etcd's quorum, once every member's health is known (healthy set for
 * the members that answered; a --dead target never does): the members
 * that stay and are healthy must be a majority of the members there are
 * now (removed ones not counted), so the cluster keeps its quorum even if
 * every member being removed stopped at once.  This refuses 2 of 3 at
 * once, and any member of 3 while another is unhealthy.  No etcd target:
 * 0.  0, or 1 with the reason in why (the counts and the unhealthy
 * members).
 */
int day2_quorum_refusal(const struct day2_host *h, size_t n, char *why,
    size_t whylen);

/*
 * What `korch reset` refuses: --purge-data on an etcd member still in the
 * cluster (not removed) unless every such member is reset with it (a
 * whole cluster wiped): the others would keep a member that can never
 * come back.  0, or 1 with the reason in why.
 */
int day2_reset_refusal(const struct day2_host *h, size_t n, int purge,
    char *why, size_t whylen);

/* The first host (table order) with role that stays (not removed, not a
 * target) and, for DAY2_ETCD, is healthy: where kubectl or etcdctl runs.
 * Its index, or -1 when there is none. */
long day2_pick(const struct day2_host *h, size_t n, unsigned role);

#endif
