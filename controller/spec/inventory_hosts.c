/*
 * inventory_hosts.c - the inventory's hosts: list (see inventory.h): each
 * host's fields and roles, then the names and address:port pairs that
 * must be unique across all of them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "spec/inventory-int.h"
#include "spec/yaml_doc.h"

static const char *const host_keys[] = { "name", "address", "port", "user",
	"roles", "vars", NULL };

/* Per-host facts kept only while loading, for duplicate checks. */
struct seen_host {
	const yaml_node_t *name_node;
	const yaml_node_t *addr_node;
	char		  addr_key[INET6_ADDRSTRLEN + 262];	/* addr:port */
};

/* roles: a non-empty sequence of distinct role names. */
static void
load_roles(struct inv_loader *ld, const yaml_node_t *map, const char *path,
    struct inv_host *h)
{
	struct ydoc *y = &ld->y;
	char sub[YDOC_PATHLEN];
	yaml_node_t *n, *it;
	const char *s;
	size_t j, k;

	ydoc_subpath(sub, path, "roles");
	n = ydoc_get(y, map, "roles");
	if (n == NULL) {
		ydoc_bad(y, map, sub, "missing required key 'roles' (every "
		    "host needs at least one role)");
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		ydoc_bad(y, n, sub, "expected a sequence of roles, got %s",
		    diag_yaml_kind(n));
		return;
	}
	if (ydoc_count(n) == 0) {
		ydoc_bad(y, n, sub, "a host needs at least one role");
		return;
	}
	if ((h->roles = calloc(ydoc_count(n), sizeof(*h->roles))) == NULL) {
		y->oom = 1;
		return;
	}
	for (j = 0; j < ydoc_count(n); j++) {
		ydoc_pathf(sub, "%s.roles[%zu]", path, j);
		it = ydoc_item(y, n, j);
		if ((s = ydoc_scalar(it)) == NULL) {
			ydoc_bad(y, it, sub, "expected a role name, got %s",
			    diag_yaml_kind(it));
			continue;
		}
		if (!inventory_role_valid(s) || strcmp(s, "all") == 0) {
			ydoc_bad(y, it, sub, "invalid role '%s' (%s)", s,
			    strcmp(s, "all") == 0 ? "'all' is the selector "
			    "for every host" : "[a-z0-9_-]+");
			continue;
		}
		for (k = 0; k < h->nroles; k++)
			if (strcmp(h->roles[k], s) == 0)
				break;
		if (k < h->nroles) {
			ydoc_bad(y, it, sub, "duplicate role '%s'", s);
			continue;
		}
		if ((h->roles[h->nroles] = ydoc_dup(y, s)) != NULL)
			h->nroles++;
	}
}

static void
load_host(struct inv_loader *ld, const yaml_node_t *map, size_t i,
    struct inv_host *h, struct seen_host *sh)
{
	struct ydoc *y = &ld->y;
	char path[YDOC_PATHLEN], sub[YDOC_PATHLEN];
	char canon[INET6_ADDRSTRLEN + 256];
	yaml_node_t *n;
	const char *s, *err;

	ydoc_pathf(path, "hosts[%zu]", i);
	h->line = map->start_mark.line + 1;
	if ((h->vars = vars_new(ld->inv->vars)) == NULL)
		y->oom = 1;
	if (!ydoc_want_map(y, map, path))
		return;
	ydoc_check_keys(y, map, path, host_keys);
	if ((s = ydoc_key_str(y, map, "name", path, 1, &n)) != NULL) {
		ydoc_subpath(sub, path, "name");
		if (!inventory_hostname_valid(s))
			ydoc_bad(y, n, sub, "invalid host name '%s' (letters, "
			    "digits, inner '-', dot-separated labels)", s);
		else {
			h->name = ydoc_dup(y, s);
			sh->name_node = n;
		}
	}
	if ((s = ydoc_key_str(y, map, "address", path, 1, &n)) != NULL) {
		ydoc_subpath(sub, path, "address");
		if ((err = inv_address_check(s, canon, sizeof(canon))) != NULL)
			ydoc_bad(y, n, sub, "%s: '%s'", err, s);
		else {
			h->address = ydoc_dup(y, s);
			sh->addr_node = n;
		}
	}
	h->port = ld->inv->ssh.port;
	/* A bad port would make a false duplicate: leave the address out. */
	if (ydoc_key_int(y, map, "port", path, 1, 65535, &h->port) == 0 &&
	    h->address != NULL)
		snprintf(sh->addr_key, sizeof(sh->addr_key), "%s:%d", canon,
		    h->port);
	if ((s = ydoc_key_str(y, map, "user", path, 0, &n)) != NULL) {
		ydoc_subpath(sub, path, "user");
		if (!inv_user_valid(s))
			ydoc_bad(y, n, sub, "invalid user name '%s'", s);
		else
			h->user = ydoc_dup(y, s);
	}
	if (h->user == NULL && ld->inv->ssh.user != NULL)
		h->user = ydoc_dup(y, ld->inv->ssh.user);

	load_roles(ld, map, path, h);
	if (y->oom)
		return;
	ydoc_subpath(sub, path, "vars");
	if (h->vars != NULL)
		inv_load_vars(ld, ydoc_get(y, map, "vars"), sub, h->vars);
}

/* Duplicates are reported at the later entry, naming the first. */
static void
check_duplicates(struct inv_loader *ld, const struct seen_host *seen,
    size_t cnt)
{
	struct inventory *inv = ld->inv;
	struct ydoc *y = &ld->y;
	char sub[YDOC_PATHLEN];
	size_t i, j;

	for (i = 0; i < cnt; i++) {
		for (j = 0; j < i; j++) {
			if (seen[i].name_node != NULL &&
			    seen[j].name_node != NULL &&
			    strcmp(inv->hosts[i].name,
			    inv->hosts[j].name) == 0) {
				ydoc_pathf(sub, "hosts[%zu].name", i);
				ydoc_bad(y, seen[i].name_node, sub, "duplicate "
				    "host name '%s' (first at line %zu)",
				    inv->hosts[i].name,
				    seen[j].name_node->start_mark.line + 1);
				break;
			}
		}
		for (j = 0; j < i; j++) {
			if (seen[i].addr_node != NULL &&
			    seen[j].addr_node != NULL &&
			    strcmp(seen[i].addr_key, seen[j].addr_key) == 0) {
				ydoc_pathf(sub, "hosts[%zu].address", i);
				ydoc_bad(y, seen[i].addr_node, sub, "duplicate "
				    "address and port %s (first at line %zu)",
				    seen[i].addr_key,
				    seen[j].addr_node->start_mark.line + 1);
				break;
			}
		}
	}
}

void
inv_load_hosts(struct inv_loader *ld, const yaml_node_t *root)
{
	struct inventory *inv = ld->inv;
	struct ydoc *y = &ld->y;
	struct seen_host *seen = NULL;
	yaml_node_t *seq;
	size_t cnt, i;

	if ((seq = ydoc_require(y, root, "hosts", "")) == NULL)
		return;
	if (seq->type != YAML_SEQUENCE_NODE) {
		ydoc_bad(y, seq, "hosts", "expected a sequence of hosts, got "
		    "%s", diag_yaml_kind(seq));
		return;
	}
	if ((cnt = ydoc_count(seq)) == 0) {
		ydoc_bad(y, seq, "hosts", "the hosts list is empty");
		return;
	}
	if ((inv->hosts = calloc(cnt, sizeof(*inv->hosts))) == NULL ||
	    (seen = calloc(cnt, sizeof(*seen))) == NULL) {
		y->oom = 1;
		goto out;
	}
	for (i = 0; i < cnt; i++) {
		inv->nhosts++;
		load_host(ld, ydoc_item(y, seq, i), i, &inv->hosts[i],
		    &seen[i]);
	}
	check_duplicates(ld, seen, cnt);
 out:
	free(seen);
}
