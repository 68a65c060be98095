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

/* sha256 of p[0..n) into out (65 bytes).  KORCH_ERR_INTERNAL. */
int sha256_hex(const void *p, size_t n, char out[SHA256_HEX_SIZE]);

/* sha256 and size of a file, streamed.  KORCH_ERR_SYSTEM (errno set),
 * KORCH_ERR_ALLOC. */
int sha256_file(const char *path, char out[SHA256_HEX_SIZE], uint64_t *size);

#endif
