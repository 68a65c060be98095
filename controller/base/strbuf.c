/*
 * strbuf.c - see strbuf.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/strbuf.h"

void
strbuf_put(struct strbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->err != 0 || n == 0)
		return;
	if (b->max != 0 && n > b->max - b->len) {
		b->err = KORCH_ERR_TOO_LARGE;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1) {
			if (ncap > SIZE_MAX / 2) {
				b->err = KORCH_ERR_TOO_LARGE;
				return;
			}
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = KORCH_ERR_ALLOC;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
