/*
 * run_inputs.h - what a run derives on the controller before any host is
 * contacted, besides the inventory and playbooks: the offline bundle
 * (loaded and every hash verified), the Kubernetes version's profile and
 * the cluster's PKI (created or reused), turned into template variables.
 */
#ifndef KORCH_RUN_INPUTS_H
#define KORCH_RUN_INPUTS_H

#include <stddef.h>
#include <stdio.h>

struct bundle;
struct cluster_pki;
struct diag;
struct inventory;
struct profile;
struct profile_set;
struct vars;

struct run_inputs {
	struct bundle		*bundle;	/* NULL: no bundle named */
	struct cluster_pki	*pki;		/* NULL: no master in inventory */
	struct vars		*extra;		/* bundle.*, profile, derived */
	const struct inventory	*inv;
	const struct profile_set *profiles;	/* borrowed */
	/* The version's profile (owned by profiles); NULL when the playbook
	 * set has no profiles (a playbook set of one's own). */
	const struct profile	*profile;
};

/*
 * Load the bundle (bundle_path, else the inventory's cluster.bundle, else
 * none), verify every component's sha256, check the inventory's
 * kubernetes_version against it; pick the profile of that version from
 * ps (borrowed, must outlive in) when ps has any, refusing a version no
 * profile covers, and set its defaults and flags; then, when the
 * inventory has a master,
 * make or reuse the cluster's certificates under
 * <dir of state_path>/pki/<cluster name>/ (keys 0600).  Lines about
 * certificates made go to log (NULL: silent).  Problems go to d with
 * KORCH_ERR_PARSE / KORCH_ERR_HASH_MISMATCH; KORCH_ERR_SYSTEM (PKI) with
 * the reason in d too.
 */
int inputs_prepare(const struct inventory *inv, const struct profile_set *ps,
    const char *bundle_path, const char *state_path, FILE *log,
    struct run_inputs *in, struct diag *d);
void inputs_release(struct run_inputs *in);

/* The cluster's PKI directory beside the state: <dir of
 * state_path>/pki/<cluster>.  0 or KORCH_ERR_TOO_LARGE. */
int inputs_pki_dir(const char *state_path, const char *cluster, char *buf,
    size_t len);

/*
 * Before any host is contacted: render every host's tasks without facts
 * and report each `bundle.*` variable a task needs that the bundle (or its
 * absence) does not provide, e.g. a bundle without kubelet.  Tasks whose
 * `when` needs facts cannot be judged yet and are passed over.  0, or
 * KORCH_ERR_PARSE with each missing component in d.
 */
struct playbook;
struct dag;
int inputs_check_bundle(struct run_inputs *in, const struct playbook *pb,
    const struct dag *dag, struct diag *d);

/*
 * sched_opts.host_vars: a new map (the caller frees it) with the run-wide
 * variables (bundle.*, defaults) and the host's own pki.* (arg: the
 * run_inputs).  0 or KORCH_ERR_ALLOC.
 */
int inputs_host_vars(void *arg, size_t host, struct vars **out);

#endif
