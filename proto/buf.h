/*
 * buf.h - bounded byte buffers and a bounds-checked reader, shared by the
 * controller and the agent.
 *
 * A kbuf grows on demand up to a hard maximum fixed at creation; any write
 * past it fails with KORCH_ERR_TOO_LARGE and leaves the buffer unchanged.
 * Integers are written big-endian.  Strings are a u32 length then bytes
 * (no NUL on the wire).
 *
 * A kreader reads from memory it does not own.  Short input is reported as
 * KORCH_ERR_INCOMPLETE (for a frame) or KORCH_ERR_BAD_FRAME (inside a
 * message body); a reader never reads past its end and never aborts.
 */
#ifndef KORCH_BUF_H
#define KORCH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct kbuf;

/* New empty buffer that may hold at most max bytes.  NULL on ENOMEM. */
struct kbuf *kbuf_new(size_t max);
/* NULL-safe; wipes the contents first when kbuf_set_secret() was called. */
void kbuf_free(struct kbuf *b);
void kbuf_set_secret(struct kbuf *b);

size_t kbuf_len(const struct kbuf *b);
size_t kbuf_max(const struct kbuf *b);
/* Pointer to the first unread byte; valid until the next write/consume. */
const uint8_t *kbuf_ptr(const struct kbuf *b);
/* NUL-terminated view of the contents (a NUL is kept after the data,
 * not counted in kbuf_len).  Valid until the next write/consume. */
const char *kbuf_cstr(const struct kbuf *b);

int kbuf_put(struct kbuf *b, const void *p, size_t n);
int kbuf_put_u8(struct kbuf *b, uint8_t v);
int kbuf_put_u32(struct kbuf *b, uint32_t v);
int kbuf_put_u64(struct kbuf *b, uint64_t v);
/* u32 length + bytes. */
int kbuf_put_str(struct kbuf *b, const void *p, size_t n);
int kbuf_put_cstr(struct kbuf *b, const char *s);
/* printf-style append, truncation is an error (KORCH_ERR_TOO_LARGE). */
int kbuf_putf(struct kbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Overwrite 4 bytes at offset off (used to patch a frame length). */
int kbuf_poke_u32(struct kbuf *b, size_t off, uint32_t v);

/* Drop n bytes from the front (n > len is KORCH_ERR_INVALID_ARG). */
int kbuf_consume(struct kbuf *b, size_t n);
void kbuf_reset(struct kbuf *b);

/* v's low n bytes (n at most 8) at p, big-endian; and back. */
void kp_be_put(uint8_t *p, uint64_t v, size_t n);
uint64_t kp_be_get(const uint8_t *p, size_t n);

/* A read cursor over borrowed memory. */
struct kreader {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

void kreader_init(struct kreader *r, const void *p, size_t len);
size_t kreader_left(const struct kreader *r);
int kreader_u8(struct kreader *r, uint8_t *v);
int kreader_u32(struct kreader *r, uint32_t *v);
int kreader_u64(struct kreader *r, uint64_t *v);
int kreader_bytes(struct kreader *r, size_t n, const uint8_t **p);
/* u32 length + bytes; *p points into the reader's memory (not NUL-ended). */
int kreader_str(struct kreader *r, const uint8_t **p, size_t *n);
/* Same, but returns a malloc'd NUL-terminated copy in *out (caller frees).
 * Rejects lengths over max with KORCH_ERR_TOO_LARGE. */
int kreader_strdup(struct kreader *r, size_t max, char **out, size_t *n);

#endif
