/*
 * profile.h - what korch knows about each Kubernetes minor range, as data:
 * every .yaml file in <playbooks>/profiles.  A profile says which
 * components each role runs and needs from the bundle, which of them carry
 * the Kubernetes version, the steps each upgrade phase runs, the defaults
 * the playbooks read, and every component's command-line flags.  The C
 * code names none of these; adding a Kubernetes minor is a new profile
 * file.  profile_runs, _needs, _versioned and _steps take a NULL profile
 * (none: a playbook set of one's own) and answer "nothing".
 *
 *   profile: "1.20"                # required, unique
 *   base: base                     # optional: a profile to inherit from
 *   kubernetes: { from: "1.20", to: "1.20" }   # minors covered; a profile
 *                                  # without it only serves as a base
 *   roles:                         # role -> components
 *     master: { runs: [kube-apiserver], needs: [kubectl] }
 *   versioned: [kube-apiserver, kubectl]   # carry the Kubernetes version
 *   steps:                         # slot -> playbook steps, in order
 *     master-swap: [master, master-health, observe-master]
 *   vars:                          # defaults for the playbooks (plain
 *     admission_plugins: "..."     # names: the inventory overrides them);
 *                                  # values may use run-wide variables
 *                                  # (bundle.*, cluster.*)
 *   flags:                         # component -> flags, each a template
 *     kube-apiserver:              # rendered per host; the playbooks see
 *       - "--advertise-address={{ host.address }}"   # flags.kube_apiserver
 *
 * A section a profile leaves out comes from its base; vars merge (the
 * profile's own win), flags are taken per component.
 */
#ifndef KORCH_PROFILE_H
#define KORCH_PROFILE_H

#include <stddef.h>

struct diag;
struct vars;
struct profile;
struct profile_set;

/*
 * Load every *.yaml in <playbooks_dir>/profiles.  A playbook set without
 * that directory has no profiles: 0 and an empty set.  Returns 0 and *out
 * (free with profile_set_free); KORCH_ERR_PARSE with every problem in d
 * (file:line:column); KORCH_ERR_ALLOC.
 */
int profile_set_load(const char *playbooks_dir, struct profile_set **out,
    struct diag *d);
/* NULL-safe. */
void profile_set_free(struct profile_set *ps);
/* Number of profiles that cover a version (bases only are not counted). */
size_t profile_set_count(const struct profile_set *ps);

/*
 * The profile covering Kubernetes version (major.minor[.patch]), or NULL
 * with a sentence in why naming the supported ranges ("no profile covers
 * Kubernetes 1.10; this korch supports 1.7, 1.8-1.9, 1.20").  The profile is
 * owned by the set.
 */
const struct profile *profile_pick(const struct profile_set *ps,
    const char *version, char *why, size_t whylen);

/* "1.20" */
const char *profile_name(const struct profile *p);
/* The file it was read from. */
const char *profile_file(const struct profile *p);
/* "1.8-1.9", "1.20" */
void profile_range(const struct profile *p, char *buf, size_t len);

/*
 * The components role runs (observed by `korch status`, swapped by its
 * upgrade phase) and the further ones it needs from the bundle: NULL-
 * terminated lists owned by the profile; an empty list for a role the
 * profile does not name.
 */
const char *const *profile_runs(const struct profile *p, const char *role);
const char *const *profile_needs(const struct profile *p, const char *role);
/* 1 when component carries the Kubernetes version (kube-apiserver), 0 when
 * it has its own (etcd, flanneld). */
int profile_versioned(const struct profile *p, const char *component);
/* The playbook steps of slot (NULL-terminated), or NULL when the profile
 * has no such slot. */
const char *const *profile_steps(const struct profile *p, const char *slot);

/*
 * Set the profile's defaults into v, each rendered against run (the run-
 * wide variables: bundle.*, cluster.*), and flags.<component> ('-' as '_')
 * to the component's flags joined as continuation lines of a unit's
 * ExecStart, still templates: render_host_vars() renders them per host;
 * profile.line.flags.<component> says on which line of profile.file the
 * list is written.  profile.name is set too.  0; KORCH_ERR_TEMPLATE with the problems in d;
 * KORCH_ERR_ALLOC.
 */
int profile_vars(const struct profile *p, const struct vars *run,
    struct vars *v, struct diag *d);

#endif
