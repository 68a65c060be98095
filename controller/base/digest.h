/*
 * digest.h - sha256 as korch names content: lowercase hex, 64 digits.
 * The agent has its own implementation (it links no OpenSSL); both are
 * tested against the same vectors.
 */
#ifndef KORCH_DIGEST_H
#define KORCH_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "sha256hex.h"

#define SHA256_RAW_SIZE	32

/* sha256 of p[0..n) into out (65 bytes).  KORCH_ERR_INTERNAL. */
int sha256_hex(const void *p, size_t n, char out[SHA256_HEX_SIZE]);
/* The same as 32 bytes, for encodings other than hex.  KORCH_ERR_INTERNAL. */
int sha256_raw(const void *p, size_t n, unsigned char md[SHA256_RAW_SIZE]);
/* Lowercase hex of in[0..n) into out (2 * n + 1 bytes). */
void digest_hex(const unsigned char *in, size_t n, char *out);

/* sha256 and size of a file, streamed.  KORCH_ERR_SYSTEM (errno set),
 * KORCH_ERR_ALLOC. */
int sha256_file(const char *path, char out[SHA256_HEX_SIZE], uint64_t *size);

#endif
