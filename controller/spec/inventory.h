/*
 * inventory.h - the cluster's hosts and how to reach them, loaded from one
 * YAML file and validated whole before anything is contacted.
 *
 *   cluster:                       # required
 *     name: demo                   # required, [a-z0-9-]+ (RFC 1123 label)
 *     kubernetes_version: "1.8.15" # optional, digits and dots
 *     pod_cidr: 10.244.0.0/16      # default 10.244.0.0/16, host bits zero
 *     service_cidr: 10.254.0.0/16  # default 10.254.0.0/16
 *     dns_domain: cluster.local    # default cluster.local
 *     apiserver_lb: local          # how hosts reach the apiservers:
 *                                  # local (the default with 2+ masters:
 *                                  # each master its own apiserver, every
 *                                  # other host an haproxy on
 *                                  # 127.0.0.1:6443 over all masters);
 *                                  # vip (keepalived holds apiserver_vip
 *                                  # on the masters, in front of an
 *                                  # haproxy on each over all masters);
 *                                  # external (the var apiserver_endpoint,
 *                                  # the default when it is set); none
 *                                  # (the default with one master: it)
 *     apiserver_vip: 198.18.0.250  # vip only, required: a free IP literal
 *     apiserver_vip_port: 8443     # vip only; default 8443, 1-65535
 *     bundle: ./bundle             # optional directory, must exist
 *     vars: { key: value }         # scalars; defaults for host vars
 *   ssh:                           # optional
 *     user: root                   # default root
 *     port: 22                     # default 22, 1-65535
 *     private_key: ~/.ssh/id       # optional (else ssh-agent), must be readable
 *     known_hosts: ~/.ssh/known_hosts   # default ~/.ssh/known_hosts
 *     become: sudo                 # optional, only "sudo"
 *     bastion: { address: A, port: 22, user: ops }  # optional; port and
 *                                  # user default to ssh.port / ssh.user
 *     connect_timeout: 10          # seconds, 1-3600, default 10
 *   hosts:                         # required, non-empty
 *     - name: node1                # required, RFC 1123 host name, unique
 *       address: 198.18.1.11       # required: IPv4/IPv6 literal or DNS name
 *       port: 22                   # optional, default ssh.port
 *       user: ops                  # optional, default ssh.user
 *       roles: [etcd, master]      # required, non-empty, [a-z0-9_-]+
 *       vars: { key: value }       # optional scalars; override cluster vars
 *
 * Paths (private_key, known_hosts, bundle) have "~" expanded to $HOME and
 * are made relative to the inventory file's directory, then absolute.
 * Variable names (vars: keys) are [A-Za-z0-9_]+; see vars.h for the
 * whole naming convention.  The names korch derives (vars.h) are refused.
 *
 * Every key and scalar is text an inventory may hold (inventory_text.c):
 * no control character, newline or CR, valid UTF-8 only, no bidi or
 * zero-width character, at most 4096 bytes; a var written as a literal
 * block ('|') may span lines (1 MiB), for a file's content only
 * (template.h).  Such problems are reported first and alone.
 */
#ifndef KORCH_INVENTORY_H
#define KORCH_INVENTORY_H

#include <stddef.h>

struct diag;
struct vars;

/* Everything below is read-only after inventory_load(). */
struct inv_host {
	char		*name;
	char		*address;
	int		 port;		/* effective: host's, else ssh.port */
	char		*user;		/* effective: host's, else ssh.user */
	char		**roles;
	size_t		 nroles;
	struct vars	*vars;		/* host vars; parent: inventory vars */
	unsigned	 line;		/* where the host's entry starts */
};

struct inv_bastion {
	char		*address;	/* NULL: no bastion */
	int		 port;
	char		*user;
};

struct inv_ssh {
	char		*user;
	int		 port;
	char		*private_key;	/* absolute; NULL: use ssh-agent */
	char		*known_hosts;	/* absolute */
	int		 become_sudo;
	struct inv_bastion bastion;
	int		 connect_timeout;	/* seconds */
};

struct inv_cluster {
	char		*name;
	char		*kubernetes_version;	/* NULL when not given */
	char		*pod_cidr;
	char		*service_cidr;
	char		*dns_domain;
	char		*apiserver_lb;		/* none, local, vip, external */
	char		*apiserver_vip;		/* vip: the address; else NULL */
	int		 apiserver_vip_port;	/* vip: haproxy's port there */
	char		*bundle;		/* absolute; NULL when not given */
};

struct inventory {
	char			*path;		/* as given to inventory_load */
	struct inv_cluster	 cluster;
	struct inv_ssh		 ssh;
	struct inv_host		*hosts;		/* in file order */
	size_t			 nhosts;
	/* cluster.<key> for every cluster scalar, then the cluster's vars:
	 * (bare names).  No parent. */
	struct vars		*vars;
};

/*
 * Load and validate path.  Returns 0 and *out (free with inventory_free);
 * or KORCH_ERR_PARSE with every problem found in d (*out NULL), or
 * KORCH_ERR_ALLOC.
 */
int inventory_load(const char *path, struct inventory **out, struct diag *d);
/* NULL-safe. */
void inventory_free(struct inventory *inv);

/* The host named name, or NULL.  *idx (may be NULL) gets its index. */
const struct inv_host *inventory_find_host(const struct inventory *inv,
    const char *name, size_t *idx);
/* 1 when h has role (or role is "all"), else 0. */
int inventory_host_has_role(const struct inv_host *h, const char *role);
/* How many hosts have role. */
size_t inventory_count_role(const struct inventory *inv, const char *role);
/* The first host (in file order) with role, or NULL.  *idx (may be NULL)
 * gets its index. */
const struct inv_host *inventory_first_with_role(const struct inventory *inv,
    const char *role, size_t *idx);

/* Validators shared with the playbook loader; 1 when valid. */
int inventory_role_valid(const char *s);	/* [a-z0-9_-]+ */
int inventory_hostname_valid(const char *s);	/* RFC 1123 host name */

#endif
