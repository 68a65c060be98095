/*
 * grow.c - see grow.h.
 */
#include <stdlib.h>

#include "base/grow.h"

void *
grow_room(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	for (ncap = *cap ? *cap * 2 : first; ncap <= n; ncap *= 2)
		;
	if ((nv = reallocarray(v, ncap, size)) == NULL)
		return NULL;
	*cap = ncap;
	return nv;
}
