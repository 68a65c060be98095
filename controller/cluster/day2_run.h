/*
 * day2_run.h - `korch remove` and `korch reset` on the hosts: engine
 * passes (the upgrade's, upgrade_run-int.h) over the steps of
 * <playbooks>/day2, which the profile's remove-* and reset-* slots name.
 * The environment is an upgrade_env whose side playbook set (upb, udag)
 * is <playbooks>/day2.  What is refused is day2_plan.h's; what the state
 * records is the caller's.
 */
#ifndef KORCH_DAY2_RUN_H
#define KORCH_DAY2_RUN_H

#include <stddef.h>

#include "cluster/day2_plan.h"

struct upgrade_env;

/*
 * Pre-flight of a removal; h is inventory-sized (day2_plan.h), targets
 * marked.  Every host korch will contact answers (the live targets, the
 * etcd members but dead targets, the master kubectl runs on); each etcd
 * member's health is set in h (a few tries); the API answers through the
 * master (when a node is removed).  Changes nothing.  0; 1 when a host
 * that must answer did not (the reason, naming it, in why: a live target
 * that cannot be reached is what --dead is for); a KORCH_ERR_* when the
 * engine broke.
 */
int day2_remove_preflight(const struct upgrade_env *e, struct day2_host *h,
    int dead, char *why, size_t whylen);

/* How long each part of one host's removal took, in seconds (0 when it
 * did not apply). */
struct day2_times {
	double	node, member, gate, stop;
};

/*
 * Remove target h[i]: a node is cordoned, drained (not when dead) and
 * deleted through the first master that stays; an etcd member is removed
 * through the first healthy member that stays, then every member that
 * stays answers /health; unless dead, every korch service on the host is
 * stopped and disabled.  Each part is skipped on the host once done, so a
 * removal stopped halfway finishes when run again.  0, or
 * KORCH_ERR_AGENT / KORCH_ERR_CONNECT with the part and the reason in
 * why.
 */
int day2_remove_host(const struct upgrade_env *e, const struct day2_host *h,
    size_t n, size_t i, int dead, struct day2_times *t, char *why,
    size_t whylen);

/*
 * Reset the targets of h (inventory-sized): every korch service stopped
 * and disabled, then what korch installed removed (the data too when
 * purge).  0, or KORCH_ERR_AGENT / KORCH_ERR_CONNECT with the hosts and
 * reasons in why.
 */
int day2_reset(const struct upgrade_env *e, const struct day2_host *h,
    int purge, char *why, size_t whylen);

#endif
