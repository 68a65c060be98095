/*
 * strbuf.h - a growing C string with a sticky error, for writers that
 * append many small pieces (the JSON writer, template output) and check
 * once, at the end, whether all of it went in.
 */
#ifndef KORCH_STRBUF_H
#define KORCH_STRBUF_H

#include <stddef.h>

/* Zero-initialise (max may be set first); the owner frees p. */
struct strbuf {
	char	*p;	/* NUL-terminated once anything was put; NULL before */
	size_t	 len, cap;
	size_t	 max;	/* most bytes it may hold; 0: no limit but memory */
	int	 err;	/* the first failure; later puts do nothing */
};

/* Append n bytes of s (none: nothing changes).  On failure err becomes KORCH_ERR_ALLOC, or
 * KORCH_ERR_TOO_LARGE past max; what was put before stays. */
void strbuf_put(struct strbuf *b, const char *s, size_t n);

#endif
