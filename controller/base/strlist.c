/*
 * strlist.c - see strlist.h.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/grow.h"
#include "base/strlist.h"

int
strlist_reserve(struct strlist *l, size_t n)
{
	char **nv;

	if (l->v != NULL && l->cap - l->n > n)
		return 0;
	if ((nv = reallocarray(l->v, l->n + n + 1, sizeof(*nv))) == NULL)
		return KORCH_ERR_ALLOC;
	nv[l->n] = NULL;
	l->v = nv;
	l->cap = l->n + n + 1;
	return 0;
}

int
strlist_addn(struct strlist *l, const char *s, size_t len)
{
	char **nv, *c;

	/* Room for the string and the NULL after it. */
	if ((nv = grow_room(l->v, l->n + 1, &l->cap, sizeof(*nv), 8)) == NULL)
		return KORCH_ERR_ALLOC;
	l->v = nv;
	l->v[l->n] = NULL;	/* new when the array was */
	if ((c = strndup(s, len)) == NULL)
		return KORCH_ERR_ALLOC;
	l->v[l->n++] = c;
	l->v[l->n] = NULL;
	return 0;
}

int
strlist_add(struct strlist *l, const char *s)
{
	return strlist_addn(l, s, strlen(s));
}

int
strlist_has(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
strlist_sort_unique(struct strlist *l)
{
	size_t i, j;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmpstr);
	for (i = 1, j = 0; i < l->n; i++) {
		if (strcmp(l->v[i], l->v[j]) == 0)
			free(l->v[i]);
		else
			l->v[++j] = l->v[i];
	}
	l->n = j + 1;
	l->v[l->n] = NULL;
}

int
strlist_equal(const struct strlist *a, const struct strlist *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
