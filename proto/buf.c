/*
 * buf.c - bounded byte buffers and a bounds-checked reader.
 *
 * Invariant (checked at each entry): off + len + 1 <= cap whenever d is
 * set, d[off + len] == '\0', len <= max.  The spare byte is what lets
 * kbuf_cstr() hand out a C string without allocating.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

struct kbuf {
	uint8_t	*d;
	size_t	 off;		/* first unread byte */
	size_t	 len;		/* bytes after off */
	size_t	 cap;		/* allocated size of d */
	size_t	 max;		/* hard limit on len */
	int	 secret;
};

#define KBUF_MIN_ALLOC	256

/* A memset the compiler may not drop even though the memory dies next. */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

static void
wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		wipe_memset(p, 0, n);
}

static int
kbuf_sane(const struct kbuf *b)
{
	if (b == NULL)
		return 0;
	if (b->len > b->max)
		return 0;
	if (b->d == NULL)
		return b->off == 0 && b->len == 0 && b->cap == 0;
	return b->off <= b->cap && b->len < b->cap - b->off;
}

struct kbuf *
kbuf_new(size_t max)
{
	struct kbuf *b;

	/* max + 1 must not wrap when we size the spare NUL byte. */
	if (max >= SIZE_MAX / 2)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = max;
	return b;
}

void
kbuf_free(struct kbuf *b)
{
	if (b == NULL)
		return;
	if (b->secret)
		wipe(b->d, b->cap);
	free(b->d);
	free(b);
}

void
kbuf_set_secret(struct kbuf *b)
{
	if (b != NULL)
		b->secret = 1;
}

size_t
kbuf_len(const struct kbuf *b)
{
	return kbuf_sane(b) ? b->len : 0;
}

size_t
kbuf_max(const struct kbuf *b)
{
	return kbuf_sane(b) ? b->max : 0;
}

const uint8_t *
kbuf_ptr(const struct kbuf *b)
{
	static const uint8_t empty[1];

	if (!kbuf_sane(b) || b->d == NULL)
		return empty;
	return b->d + b->off;
}

const char *
kbuf_cstr(const struct kbuf *b)
{
	return (const char *)kbuf_ptr(b);
}

/*
 * Make room for n more bytes (plus the spare NUL).  Moves unread data to
 * the front before growing.  Secret buffers are never realloc'd, so no
 * stale copy of their contents is left in freed memory.
 */
static int
kbuf_reserve(struct kbuf *b, size_t n)
{
	size_t need, ncap;
	uint8_t *nd;

	if (!kbuf_sane(b))
		return KORCH_ERR_INTERNAL;
	if (n > b->max - b->len)
		return KORCH_ERR_TOO_LARGE;
	need = b->len + n + 1;
	if (b->d != NULL && b->off + need <= b->cap)
		return KORCH_OK;
	if (b->d != NULL && need <= b->cap) {
		memmove(b->d, b->d + b->off, b->len + 1);
		if (b->secret)
			wipe(b->d + b->len + 1, b->off);
		b->off = 0;
		return KORCH_OK;
	}
	ncap = b->cap < KBUF_MIN_ALLOC ? KBUF_MIN_ALLOC : b->cap;
	while (ncap < need)
		ncap = ncap > (b->max + 1) / 2 ? b->max + 1 : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if (ncap < need)
		return KORCH_ERR_INTERNAL;
	if ((nd = malloc(ncap)) == NULL)
		return KORCH_ERR_ALLOC;
	if (b->d != NULL) {
		memcpy(nd, b->d + b->off, b->len + 1);
		if (b->secret)
			wipe(b->d, b->cap);
		free(b->d);
	} else
		nd[0] = '\0';
	b->d = nd;
	b->cap = ncap;
	b->off = 0;
	return KORCH_OK;
}

int
kbuf_put(struct kbuf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return kbuf_sane(b) ? KORCH_OK : KORCH_ERR_INTERNAL;
	if (p == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((r = kbuf_reserve(b, n)) != KORCH_OK)
		return r;
	memcpy(b->d + b->off + b->len, p, n);
	b->len += n;
	b->d[b->off + b->len] = '\0';
	return KORCH_OK;
}

int
kbuf_put_u8(struct kbuf *b, uint8_t v)
{
	return kbuf_put(b, &v, 1);
}

/* v's low n bytes, big-endian. */
static int
put_be(struct kbuf *b, uint64_t v, size_t n)
{
	uint8_t x[8];

	kp_be_put(x, v, n);
	return kbuf_put(b, x, n);
}

int
kbuf_put_u32(struct kbuf *b, uint32_t v)
{
	return put_be(b, v, 4);
}

int
kbuf_put_u64(struct kbuf *b, uint64_t v)
{
	return put_be(b, v, 8);
}

int
kbuf_put_str(struct kbuf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return KORCH_ERR_TOO_LARGE;
	if (n > 0 && p == NULL)
		return KORCH_ERR_INVALID_ARG;
	/* Reserve the whole string first so a failure leaves b unchanged. */
	if (n > SIZE_MAX - 4)
		return KORCH_ERR_TOO_LARGE;
	if ((r = kbuf_reserve(b, 4 + n)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, (uint32_t)n)) != KORCH_OK)
		return r;
	return kbuf_put(b, p, n);
}

int
kbuf_put_cstr(struct kbuf *b, const char *s)
{
	if (s == NULL)
		s = "";
	return kbuf_put_str(b, s, strlen(s));
}

int
kbuf_putf(struct kbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	if (fmt == NULL)
		return KORCH_ERR_INVALID_ARG;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KORCH_ERR_INVALID_ARG;
	if ((r = kbuf_reserve(b, (size_t)n)) != KORCH_OK)
		return r;
	va_start(ap, fmt);
	r = vsnprintf((char *)b->d + b->off + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (r != n) {
		b->d[b->off + b->len] = '\0';
		return KORCH_ERR_INTERNAL;
	}
	b->len += (size_t)n;
	return KORCH_OK;
}

int
kbuf_poke_u32(struct kbuf *b, size_t off, uint32_t v)
{
	if (!kbuf_sane(b))
		return KORCH_ERR_INTERNAL;
	if (off > b->len || b->len - off < 4)
		return KORCH_ERR_INVALID_ARG;
	kp_be_put(b->d + b->off + off, v, 4);
	return KORCH_OK;
}

int
kbuf_consume(struct kbuf *b, size_t n)
{
	if (!kbuf_sane(b))
		return KORCH_ERR_INTERNAL;
	if (n > b->len)
		return KORCH_ERR_INVALID_ARG;
	if (n == 0)
		return KORCH_OK;
	if (b->secret)
		wipe(b->d + b->off, n);
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
	b->d[b->off + b->len] = '\0';
	return KORCH_OK;
}

void
kbuf_reset(struct kbuf *b)
{
	if (!kbuf_sane(b) || b->d == NULL)
		return;
	if (b->secret)
		wipe(b->d, b->cap);
	b->off = 0;
	b->len = 0;
	b->d[0] = '\0';
}

void
kp_be_put(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

uint64_t
kp_be_get(const uint8_t *p, size_t n)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

/* ---- reader ------------------------------------------------------------ */

void
kreader_init(struct kreader *r, const void *p, size_t len)
{
	if (r == NULL)
		return;
	r->p = p;
	r->len = p == NULL ? 0 : len;
	r->off = 0;
}

size_t
kreader_left(const struct kreader *r)
{
	if (r == NULL || r->off > r->len)
		return 0;
	return r->len - r->off;
}

int
kreader_bytes(struct kreader *r, size_t n, const uint8_t **p)
{
	if (r == NULL || p == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (r->off > r->len)
		return KORCH_ERR_INTERNAL;
	if (n > r->len - r->off)
		return KORCH_ERR_BAD_FRAME;
	*p = r->p + r->off;
	r->off += n;
	return KORCH_OK;
}

/* The next n bytes as a big-endian number, into the n-byte integer at v
 * (when v is not NULL). */
static int
get_be(struct kreader *r, size_t n, void *v)
{
	const uint8_t *p;
	uint64_t x;
	int e;

	if ((e = kreader_bytes(r, n, &p)) != KORCH_OK || v == NULL)
		return e;
	x = kp_be_get(p, n);
	if (n == 1)
		*(uint8_t *)v = (uint8_t)x;
	else if (n == 4)
		*(uint32_t *)v = (uint32_t)x;
	else
		*(uint64_t *)v = x;
	return KORCH_OK;
}

int
kreader_u8(struct kreader *r, uint8_t *v)
{
	return get_be(r, 1, v);
}

int
kreader_u32(struct kreader *r, uint32_t *v)
{
	return get_be(r, 4, v);
}

int
kreader_u64(struct kreader *r, uint64_t *v)
{
	return get_be(r, 8, v);
}

int
kreader_str(struct kreader *r, const uint8_t **p, size_t *n)
{
	struct kreader save;
	uint32_t len;
	int e;

	if (r == NULL || p == NULL || n == NULL)
		return KORCH_ERR_INVALID_ARG;
	save = *r;
	if ((e = kreader_u32(r, &len)) != KORCH_OK)
		return e;
	if ((e = kreader_bytes(r, len, p)) != KORCH_OK) {
		*r = save;
		return e;
	}
	*n = len;
	return KORCH_OK;
}

int
kreader_strdup(struct kreader *r, size_t max, char **out, size_t *n)
{
	struct kreader save;
	const uint8_t *p;
	size_t len;
	char *s;
	int e;

	if (r == NULL || out == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	save = *r;
	if ((e = kreader_str(r, &p, &len)) != KORCH_OK)
		return e;
	if (len > max) {
		*r = save;
		return KORCH_ERR_TOO_LARGE;
	}
	if ((s = malloc(len + 1)) == NULL) {
		*r = save;
		return KORCH_ERR_ALLOC;
	}
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	if (n != NULL)
		*n = len;
	return KORCH_OK;
}
