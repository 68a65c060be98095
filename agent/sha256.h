/*
 * sha256.h - SHA-256 (FIPS 180-4) for the agent, which links no crypto
 * library.  The context lives on the caller's stack: hashing a file is a
 * hot, short-lived use where an allocation would only add a failure path.
 */
#ifndef KORCH_AGENT_SHA256_H
#define KORCH_AGENT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_SHA256_LEN	32
#define AGENT_SHA256_HEX	65	/* 64 hex digits + NUL */

struct agent_sha256 {
	uint32_t	h[8];
	uint64_t	nbytes;
	uint8_t		block[64];
	size_t		fill;
};

void agent_sha256_init(struct agent_sha256 *c);
void agent_sha256_update(struct agent_sha256 *c, const void *p, size_t n);
void agent_sha256_final(struct agent_sha256 *c, uint8_t out[AGENT_SHA256_LEN]);
/* Final, as lowercase hex. */
void agent_sha256_final_hex(struct agent_sha256 *c, char hex[AGENT_SHA256_HEX]);

/* One-shot digest of memory, as hex. */
void agent_sha256_hex(const void *p, size_t n, char hex[AGENT_SHA256_HEX]);

/*
 * Digest of everything readable from fd (from its current offset), as hex;
 * *size gets the byte count when not NULL.  KORCH_ERR_SYSTEM with errno set
 * when a read fails.
 */
int agent_sha256_fd(int fd, char hex[AGENT_SHA256_HEX], uint64_t *size);
/* Same for a path (opened read-only, following symlinks). */
int agent_sha256_path(const char *path, char hex[AGENT_SHA256_HEX],
    uint64_t *size);

#endif
