/*
 * upgrade_plan.h - the decisions of `korch upgrade` and `korch rollback`
 * that need no host: version arithmetic, the refusals, the ordered phases
 * (etcd members, then masters, then node batches) and the batch size.
 * Pure functions over the inventory, so they are unit-tested alone.
 */
#ifndef KORCH_UPGRADE_PLAN_H
#define KORCH_UPGRADE_PLAN_H

#include <stddef.h>

struct inventory;

/* A Kubernetes-style version: "1.9", "1.9.11", "v1.9.11".  patch is -1
 * when the text has none (a request for the newest 1.9.x). */
struct kver {
	int	major, minor, patch;
};

/* 0, or -1 when s is not major.minor[.patch] (digits only, optional 'v'). */
int kver_parse(const char *s, struct kver *v);
/* <0, 0, >0 like strcmp; a missing patch sorts below every patch. */
int kver_cmp(const struct kver *a, const struct kver *b);
/* 1 when have is what want asks for: same major.minor, and the same patch
 * when want names one. */
int kver_matches(const struct kver *want, const struct kver *have);

/*
 * Why going from `from` to `to` is refused, as a sentence into why, or 0
 * when it is allowed: a skipped minor version ("1.7 -> 1.9: upgrade one
 * minor version at a time: first to 1.8"), another major version, or a
 * downgrade unless allow_downgrade.  Equal versions are allowed (nothing
 * to do is the caller's call).
 */
int upgrade_refusal(const struct kver *from, const struct kver *to,
    int allow_downgrade, char *why, size_t whylen);

/*
 * --max-unavailable: "N" (nodes) or "P%" (of nnodes, rounded down, at
 * least 1).  0 and *out in 1..nnodes (1 when there are no nodes), or -1
 * with the reason in err.
 */
int upgrade_max_unavailable(const char *s, size_t nnodes, unsigned *out,
    char *err, size_t errlen);

/* The phases, in the order they run. */
enum upg_phase_kind {
	UPG_SNAPSHOT,	/* etcd snapshot to the controller */
	UPG_ETCD,	/* one etcd member */
	UPG_MASTER,	/* one master's control plane */
	UPG_NODE,	/* one node (nodes of a batch share `batch`) */
};

struct upg_phase {
	enum upg_phase_kind	 kind;
	size_t			 host;	/* inventory index */
	int			 batch;	/* 1.. for nodes, 0 otherwise */
};

/* The inventory role whose hosts a phase moves ("etcd", "master",
 * "node"; NULL for the snapshot): what it swaps is what the profile says
 * that role runs (profile_runs()). */
const char *upgrade_phase_role(enum upg_phase_kind k);

/* "snapshot", "etcd", "master", "node"; and back (-1: unknown). */
const char *upgrade_phase_name(enum upg_phase_kind k);
int upgrade_phase_kind(const char *name);

#define UPG_PLAN_ETCD		0x1u	/* etcd's version changes */
#define UPG_PLAN_SNAPSHOT	0x2u	/* start with a snapshot */
#define UPG_PLAN_REVERSE	0x4u	/* rollback: nodes, masters, etcd */

/*
 * The phases for inv: [snapshot on the first etcd host], [each etcd host],
 * each master, then the nodes in batches of max_unavail (inventory order).
 * A rollback (UPG_PLAN_REVERSE) walks the same list backwards, batches
 * renumbered from 1.  *out is a new array (free()) of *n phases.
 * 0 or KORCH_ERR_ALLOC.
 */
int upgrade_phases(const struct inventory *inv, unsigned flags,
    unsigned max_unavail, struct upg_phase **out, size_t *n);

#endif
