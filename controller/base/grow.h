/*
 * grow.h - room for one more element in a growing array, the one way
 * korch's lists grow (doubling, so appending n elements costs O(n)).
 */
#ifndef KORCH_GROW_H
#define KORCH_GROW_H

#include <stddef.h>

/*
 * The array v (n elements of size bytes, capacity *cap) with room for an
 * element at index n: v itself while there is room, else v reallocated to
 * twice the capacity (first, at least 1, when it is 0) and *cap updated.  NULL when
 * memory ran out: v and *cap are untouched and v stays the caller's.
 */
void *grow_room(void *v, size_t n, size_t *cap, size_t size, size_t first);

#endif
