/*
 * render.h - one host's desired state: its steps' tasks with every value
 * filled in for that host, ready to encode as KP_STEP frames.
 *
 * Variables a template sees (the convention is in vars.h), highest
 * precedence first:
 *   host vars:                 the host's vars: in the inventory
 *   cluster vars:              the cluster's vars: (defaults)
 *   derived, per inventory:
 *     host.name, host.address, host.roles (comma-joined)
 *     etcd_hosts, master_hosts, node_hosts  comma-joined host names with
 *                                the role etcd / master / node
 *     etcd_initial_cluster       name=https://addr:2380,... (etcd hosts)
 *     etcd_endpoints             https://addr:2379,...
 *     hosts_entries              "address name" per inventory host, one a
 *                                line, no trailing newline (for /etc/hosts)
 *     first_master_address       address of the first master; undefined
 *                                when there is no master
 *     host.first_etcd, host.first_master  "yes" on the first host with
 *                                that role, else "no"
 *     host.is_etcd, host.is_master, host.is_node  "yes" when the host has
 *                                that role, else "no"
 *     apiserver_lb_servers       the load balancer's backends: an haproxy
 *                                "server NAME ADDR:6443" line per master,
 *                                indented 4, no trailing newline
 *     etcd.member_new            "yes" on an etcd host that is not yet a
 *                                member: not in the extra variable
 *                                prior.etcd (run_prior.h), or every etcd
 *                                host when no member ran before
 *     etcd.cluster_state         "new" when no etcd host ran before (a new
 *                                cluster), else "existing"
 *     etcd.join_cluster          the --initial-cluster of a member that
 *                                joins now: the members that ran before
 *                                and the new ones up to this host, in
 *                                inventory order (a run adds new members
 *                                one at a time, in that order); every
 *                                etcd host for a new cluster
 *     etcd.join_endpoints        client URLs of the members that ran
 *                                before (every etcd host for a new one)
 *     etcd.peer_url              this host's https://addr:2380
 *     lb.haproxy, lb.keepalived  "yes" when this host runs it for the
 *                                apiserver_lb mode (render_lb.c), else "no"
 *     lb.bind, lb.url            the host's haproxy: its bind address and
 *                                its own URL (127.0.0.1); "" without one
 *     lb.vip_priority            keepalived's priority: 200 on the first
 *                                master, one less on each next one
 *     lb.vip_peers               the other masters' addresses, one a line
 *                                indented 8, no trailing newline
 *     lb.source                  bundle (the run has a bundle) or distro
 *     facts.<key>                each fact the agent reported
 *     facts.os_family            debian, redhat or unsupported
 *   run-wide (extra):          bundle.<component>.sha256|size|version,
 *                                bundle.images, bundle.image.<name>.*,
 *                                bundle.packages, bundle.package.<name>.*,
 *                                pki.* (see cluster_pki.h), the profile's
 *                                defaults, and flags.<component> (the
 *                                profile's flags, rendered last: profile.h)
 *   cluster.<key>:             the inventory's cluster scalars
 * IPv6 addresses are bracketed inside URLs.
 */
#ifndef KORCH_RENDER_H
#define KORCH_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "sha256hex.h"

struct dag;
struct diag;
struct kp_task;
struct kms_module;
struct inventory;
struct playbook;
struct vars;

/* Everything below is read-only, owned by its rendered_host. */
struct rendered_task {
	/* What the agent gets: wire->id (1..n over the host's tasks, in
	 * order), wire->module, wire->args (as written; a REPEAT argument
	 * is the same key repeated; a rendered template comes last as
	 * content / unit), wire->watch (ids of watched tasks earlier on
	 * this host; ones dropped by `when` are left out).  Points into the
	 * step's wire_tasks. */
	struct kp_task	*wire;
	char		*key;		/* "step/name" or "step/N" (pb_task.key) */
	const char	*module;	/* == wire->module */
	const struct kms_module *mod;	/* its spec: key on mod->flags */
	int		 verify;
	size_t		 task;		/* index in the playbook step's tasks */
	/* sha256 (lowercase hex) of the module and its arguments sorted by
	 * name: the task's desired state.  watch and key are not in it. */
	char		 digest[SHA256_HEX_SIZE];
	/* Keys of this host's tasks that watch this one (the services to
	 * restart when it changes). */
	char		**watchers;
	size_t		 nwatchers;
};

struct rendered_step {
	size_t		 step;		/* index in the playbook */
	char		*name;		/* a copy, so it can go in a kp_step */
	struct rendered_task *tasks;	/* tasks whose `when` held */
	struct kp_task	*wire_tasks;	/* the same, as kp_step.tasks wants */
	size_t		 ntasks;
};

struct rendered_host {
	size_t		 host;		/* index in the inventory */
	const char	*name;
	struct rendered_step *steps;	/* the host's steps in dag order, each
					 * even when every task was omitted */
	size_t		 nsteps;
	size_t		 ntasks;	/* total; ids run 1..ntasks */
};

/*
 * The variables for host host_idx (see above): one new map the caller
 * frees, referring to nothing else.  facts may be NULL; only its local
 * entries are used.  extra (may be NULL): variables the controller derives
 * for this run and host, named with dots so no user variable can shadow
 * them (bundle.<component>.sha256, pki.ca_crt, ...); its local entries are
 * copied as they are, but for flags.<component> (profile.h): those are
 * templates, rendered last against the host's variables.  0,
 * KORCH_ERR_TEMPLATE (a problem in a flag, reported in d; NULL d: dropped),
 * KORCH_ERR_INVALID_ARG or KORCH_ERR_ALLOC.
 */
int render_host_vars(const struct inventory *inv, size_t host_idx,
    const struct vars *facts, const struct vars *extra, struct vars **out,
    struct diag *d);

/*
 * Render every task of every step that applies to host host_idx: argument
 * values and template files through template.h, `when` evaluated (a false
 * condition drops the task; an undefined variable is an error), watch
 * names turned into ids, digests computed.  Returns 0 and *out (free with
 * rendered_host_free); KORCH_ERR_TEMPLATE with every problem in d (each
 * names the host); KORCH_ERR_INVALID_ARG; KORCH_ERR_ALLOC.
 */
int render_host_tasks(const struct playbook *pb, const struct dag *g,
    const struct inventory *inv, size_t host_idx, const struct vars *facts,
    const struct vars *extra, struct rendered_host **out, struct diag *d);
/* NULL-safe. */
void rendered_host_free(struct rendered_host *rh);

/* The task with key, or NULL. */
const struct rendered_task *rendered_host_find(const struct rendered_host *rh,
    const char *key);
/* The task with wire id id, or NULL; *rs (may be NULL) gets its step. */
const struct rendered_task *render_find_task(const struct rendered_host *rh,
    uint32_t id, const struct rendered_step **rs);
/*
 * Set an argument of the task with key (replacing one the playbook gave),
 * after rendering and outside its digest: run-time facts that are not
 * desired state, e.g. restart=1 for a service whose watched change an
 * earlier run, or an earlier session of this run, made.
 * KORCH_ERR_NOT_FOUND (no such task), KORCH_ERR_ALLOC.
 */
int render_task_set_arg(struct rendered_host *rh, const char *key,
    const char *name, const char *value);

/* The first value of argument name, or NULL. */
const char *render_task_arg(const struct rendered_task *t, const char *name);

#endif
