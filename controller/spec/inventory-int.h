/*
 * inventory-int.h - what the inventory loader's files share:
 * inventory.c (the file, its cluster and ssh sections, vars),
 * inventory_hosts.c (the hosts list) and inventory_value.c (what a name,
 * an address or a CIDR may be).  Not for use outside spec/inventory*.c.
 */
#ifndef KORCH_INVENTORY_INT_H
#define KORCH_INVENTORY_INT_H

#include <stddef.h>

#include "spec/yaml_doc.h"

struct inventory;
struct vars;

/* One inventory_load() call. */
struct inv_loader {
	struct ydoc	 y;
	struct inventory *inv;
	char		*basedir;	/* absolute directory of the file */
	/* Where cluster.apiserver_lb and apiserver_vip were (NULL: not
	 * given), for the checks that need the hosts first. */
	const yaml_node_t *lb_node, *vip_node;
};

/* A vars: mapping of scalars into v (map may be NULL: none). */
void inv_load_vars(struct inv_loader *ld, const yaml_node_t *map,
    const char *path, struct vars *v);
/* The hosts: list into ld->inv->hosts, then duplicate names and
 * addresses across it. */
void inv_load_hosts(struct inv_loader *ld, const yaml_node_t *root);

/*
 * Every key and scalar under root through inv_text_check() (vars written
 * as literal blocks multi-line), each problem reported at its line.
 * 0, or -1 when something was reported.
 */
int inv_text_walk(struct inv_loader *ld, const yaml_node_t *root);
/* NULL when s[0..len) is text an inventory may hold, else why not.
 * multiline: newlines and tabs allowed, and a larger size. */
const char *inv_text_check(const char *s, size_t len, int multiline);
/* A printable preview of s[0..len) for a message: non-printable bytes as
 * \xNN, cut at about 60 characters. */
void inv_text_show(char *out, size_t size, const char *s, size_t len);

/* 1 when valid: a cluster name (an RFC 1123 label), a login name, a
 * variable name of the user's ([A-Za-z0-9_]+, no dots). */
int inv_label_valid(const char *s);
int inv_user_valid(const char *s);
int inv_varname_valid(const char *s);
/*
 * Check an address; on success write a canonical form (for duplicate
 * detection) into canon.  Returns an error text or NULL.
 */
const char *inv_address_check(const char *s, char *canon, size_t size);
/* network/prefix with all host bits zero.  Error text in msg, or 0. */
int inv_cidr_check(const char *s, char *msg, size_t size);

#endif
