/*
 * vars.h - template variables: an ordered string -> string map with an
 * optional parent for lookups (a host's vars fall back to the cluster's).
 *
 * Naming convention (the one place it is written down; examples/demo and
 * render.h follow it):
 *   cluster.<key>   every scalar of the inventory's cluster: section
 *                   (cluster.name, cluster.pod_cidr, ...)
 *   <name>          free-form variables: the cluster's vars: are defaults,
 *                   a host's vars: override them.  User names have no dots,
 *                   so they can never shadow the dotted names korch makes.
 *   host.<key>      the host being rendered (host.name, host.address,
 *                   host.roles)
 *   facts.<key>     what the agent reported about the host
 *   derived         etcd_hosts, master_hosts, node_hosts,
 *                   etcd_initial_cluster, etcd_endpoints, hosts_entries,
 *                   first_master_address, apiserver_lb_servers (see
 *                   render.h).  Reserved: an inventory var of one of
 *                   these names is refused where it is loaded
 *                   (render_reserved_name()); the apiserver address is
 *                   overridden with apiserver_endpoint instead.
 *
 * Keys and values are copied in; returned strings are owned by the map and
 * valid until the entry is replaced or the map freed.
 */
#ifndef KORCH_VARS_H
#define KORCH_VARS_H

#include <stddef.h>

struct vars;

/* New empty map whose lookups fall back to parent (borrowed: it must
 * outlive this map; NULL for none).  NULL on ENOMEM. */
struct vars *vars_new(const struct vars *parent);
/* NULL-safe; does not free the parent. */
void vars_free(struct vars *v);

/* Set name to value (both copied).  An existing local entry keeps its
 * position and gets the new value.  0 or KORCH_ERR_ALLOC (map unchanged),
 * KORCH_ERR_INVALID_ARG for NULL arguments. */
int vars_set(struct vars *v, const char *name, const char *value);

/*
 * What a value is, beyond its text; carried with it when the render
 * copies maps (render.c), replaced with it by every set.
 *   VARS_F_SECRET     a private key, a kubeconfig with one, a token: a
 *                     task that renders it is secret (render.c), and
 *                     its bytes are wiped when replaced or freed.
 *   VARS_F_USER       from the inventory: may reach only what its
 *                     template context allows (template.h).
 *   VARS_F_MULTILINE  an inventory value declared multi-line (a YAML
 *                     literal block, '|'): file content only.
 */
#define VARS_F_SECRET		0x1u
#define VARS_F_USER		0x2u
#define VARS_F_MULTILINE	0x4u
/*   VARS_F_UNIT       text made for a unit file (flags.<component>: the
 *                     profile's ExecStart lines, each value in them
 *                     quoted for systemd when they were rendered): put
 *                     into a unit as it is. */
#define VARS_F_UNIT		0x8u
int vars_set_flags(struct vars *v, const char *name, const char *value,
    unsigned flags);
/* Flags of name as vars_get() finds it (0 when undefined); of local
 * entry i. */
unsigned vars_flags(const struct vars *v, const char *name);
unsigned vars_flags_at(const struct vars *v, size_t i);

/* The value of name here or in the nearest parent that has it; NULL when
 * no map in the chain has it. */
const char *vars_get(const struct vars *v, const char *name);
/* Same, this map only. */
const char *vars_get_local(const struct vars *v, const char *name);

/* Local entries in the order first set: i in [0, vars_count(v)). */
size_t vars_count(const struct vars *v);
const char *vars_key(const struct vars *v, size_t i);
const char *vars_value(const struct vars *v, size_t i);
const struct vars *vars_parent(const struct vars *v);

/* 1 when name is a well-formed variable name: [A-Za-z0-9_.]+ */
int vars_name_valid(const char *name, size_t len);
/* 1 when name is one of the derived names above (or foreach's item),
 * which no inventory var may set. */
int vars_name_reserved(const char *name);

#endif
