/*
 * vars.c - see vars.h.
 *
 * A flat array searched linearly: maps hold tens of entries and insertion
 * order is part of the contract, so a hash table would buy nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/grow.h"
#include "engine/vars.h"


struct var {
	char	*key;
	char	*val;
	unsigned flags;		/* VARS_F_* */
};

struct vars {
	const struct vars	*parent;
	struct var		*v;
	size_t			 n;
	size_t			 cap;
};

/* A secret's bytes are wiped before the memory goes back to malloc. */
static void
free_val(struct var *e)
{
	if (e->val != NULL && (e->flags & VARS_F_SECRET))
		explicit_bzero(e->val, strlen(e->val));
	free(e->val);
	e->val = NULL;
}

struct vars *
vars_new(const struct vars *parent)
{
	struct vars *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->parent = parent;
	return v;
}

void
vars_free(struct vars *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		free(v->v[i].key);
		free_val(&v->v[i]);
	}
	free(v->v);
	free(v);
}

static struct var *
find(const struct vars *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i].key, name) == 0)
			return &v->v[i];
	return NULL;
}

int
vars_set_flags(struct vars *v, const char *name, const char *value,
    unsigned flags)
{
	struct var *e, *nv;
	char *k = NULL, *val;

	if (v == NULL || name == NULL || value == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((val = strdup(value)) == NULL)
		return KORCH_ERR_ALLOC;
	if ((e = find(v, name)) != NULL) {
		free_val(e);
		e->val = val;
		e->flags = flags;
		return 0;
	}
	if ((k = strdup(name)) == NULL ||
	    (nv = grow_room(v->v, v->n, &v->cap, sizeof(*nv), 16)) == NULL) {
		free(k);
		if (flags & VARS_F_SECRET)
			explicit_bzero(val, strlen(val));
		free(val);
		return KORCH_ERR_ALLOC;
	}
	v->v = nv;
	v->v[v->n].key = k;
	v->v[v->n].flags = flags;
	v->v[v->n++].val = val;
	return 0;
}

int
vars_set(struct vars *v, const char *name, const char *value)
{
	return vars_set_flags(v, name, value, 0);
}

unsigned
vars_flags(const struct vars *v, const char *name)
{
	const struct var *e;

	for (; v != NULL && name != NULL; v = v->parent)
		if ((e = find(v, name)) != NULL)
			return e->flags;
	return 0;
}

unsigned
vars_flags_at(const struct vars *v, size_t i)
{
	return v == NULL || i >= v->n ? 0 : v->v[i].flags;
}

const char *
vars_get_local(const struct vars *v, const char *name)
{
	const struct var *e;

	if (v == NULL || name == NULL)
		return NULL;
	return (e = find(v, name)) != NULL ? e->val : NULL;
}

const char *
vars_get(const struct vars *v, const char *name)
{
	const char *s;

	for (; v != NULL; v = v->parent)
		if ((s = vars_get_local(v, name)) != NULL)
			return s;
	return NULL;
}

size_t
vars_count(const struct vars *v)
{
	return v == NULL ? 0 : v->n;
}

const char *
vars_key(const struct vars *v, size_t i)
{
	return v == NULL || i >= v->n ? NULL : v->v[i].key;
}

const char *
vars_value(const struct vars *v, size_t i)
{
	return v == NULL || i >= v->n ? NULL : v->v[i].val;
}

const struct vars *
vars_parent(const struct vars *v)
{
	return v == NULL ? NULL : v->parent;
}

int
vars_name_valid(const char *name, size_t len)
{
	size_t i;
	char c;

	if (name == NULL || len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* The names render.c derives from the inventory: what the cluster is,
 * not a setting, so no inventory var may replace one. */
static const char *const reserved[] = { "etcd_hosts", "master_hosts",
	"node_hosts", "etcd_initial_cluster", "etcd_endpoints",
	"apiserver_lb_servers", "hosts_entries", "first_master_address",
	"item", NULL };

int
vars_name_reserved(const char *name)
{
	size_t i;

	for (i = 0; reserved[i] != NULL; i++)
		if (strcmp(name, reserved[i]) == 0)
			return 1;
	return 0;
}
