/*
 * strlist.h - a growing list of owned strings: SAN lists, profile name
 * lists, names already reported.  The array stays NULL-terminated once
 * anything is allocated, so v can be handed out as a const char *const *
 * list.
 */
#ifndef KORCH_STRLIST_H
#define KORCH_STRLIST_H

#include <stddef.h>

/* Zero-initialise; free with strlist_free(). */
struct strlist {
	char		**v;	/* v[n] == NULL when v != NULL */
	size_t		 n, cap;
};

/* Make room for n more strings (v is allocated after, even for n == 0).
 * 0 or KORCH_ERR_ALLOC. */
int strlist_reserve(struct strlist *l, size_t n);
/* Append a copy of s (strlist_addn: of its first len bytes).  0 or
 * KORCH_ERR_ALLOC, l unchanged. */
int strlist_add(struct strlist *l, const char *s);
int strlist_addn(struct strlist *l, const char *s, size_t len);
/* Whether s is in l (a linear search: the lists are short). */
int strlist_has(const struct strlist *l, const char *s);
/* Sort (strcmp order) and drop duplicates. */
void strlist_sort_unique(struct strlist *l);
/* Whether a and b hold the same strings in the same order. */
int strlist_equal(const struct strlist *a, const struct strlist *b);
/* Free every string and the array; l is zeroed, ready for reuse. */
void strlist_free(struct strlist *l);

#endif
