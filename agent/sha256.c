/*
 * sha256.c - SHA-256 after FIPS 180-4, written for size rather than speed:
 * the agent hashes its own binary and the files it manages, both small
 * next to the network transfer they can save.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "sha256.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)	((x) >> (n) | (x) << (32 - (n)))

static void
compress(uint32_t h[8], const uint8_t blk[64])
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)blk[4 * i] << 24 |
		    (uint32_t)blk[4 * i + 1] << 16 |
		    (uint32_t)blk[4 * i + 2] << 8 | (uint32_t)blk[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + w[i - 7] +
		    (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ w[i - 15] >> 3) +
		    (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ w[i - 2] >> 10);
	/* Eight named words, rotated by assignment: a memmove(s + 1, s, 28)
	 * per round is an overlapping backward copy, which musl does with
	 * `std; rep movsb` -- slow enough that hashing the agent's own 137 KB
	 * at every start cost more CPU than the rest of a no-op run. */
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void
agent_sha256_init(struct agent_sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->nbytes = 0;
	c->fill = 0;
}

void
agent_sha256_update(struct agent_sha256 *c, const void *p, size_t n)
{
	const uint8_t *in = p;
	size_t take;

	c->nbytes += n;
	while (n > 0) {
		if (c->fill == 0 && n >= 64) {
			compress(c->h, in);
			in += 64;
			n -= 64;
			continue;
		}
		take = 64 - c->fill < n ? 64 - c->fill : n;
		memcpy(c->block + c->fill, in, take);
		c->fill += take;
		in += take;
		n -= take;
		if (c->fill == 64) {
			compress(c->h, c->block);
			c->fill = 0;
		}
	}
}

void
agent_sha256_final(struct agent_sha256 *c, uint8_t out[AGENT_SHA256_LEN])
{
	uint64_t bits = c->nbytes * 8;
	int i;

	c->block[c->fill++] = 0x80;
	if (c->fill > 56) {
		memset(c->block + c->fill, 0, 64 - c->fill);
		compress(c->h, c->block);
		c->fill = 0;
	}
	memset(c->block + c->fill, 0, 56 - c->fill);
	for (i = 0; i < 8; i++)
		c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(c->h, c->block);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
}

void
agent_sha256_final_hex(struct agent_sha256 *c, char hex[AGENT_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t d[AGENT_SHA256_LEN];
	int i;

	agent_sha256_final(c, d);
	for (i = 0; i < AGENT_SHA256_LEN; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 0xf];
	}
	hex[64] = '\0';
}

void
agent_sha256_hex(const void *p, size_t n, char hex[AGENT_SHA256_HEX])
{
	struct agent_sha256 c;

	agent_sha256_init(&c);
	agent_sha256_update(&c, p, n);
	agent_sha256_final_hex(&c, hex);
}

int
agent_sha256_fd(int fd, char hex[AGENT_SHA256_HEX], uint64_t *size)
{
	struct agent_sha256 c;
	uint8_t buf[16384];
	ssize_t n;

	agent_sha256_init(&c);
	for (;;) {
		if ((n = kp_read(fd, buf, sizeof(buf))) < 0)
			return KORCH_ERR_SYSTEM;
		if (n == 0)
			break;
		agent_sha256_update(&c, buf, (size_t)n);
	}
	if (size != NULL)
		*size = c.nbytes;
	agent_sha256_final_hex(&c, hex);
	return KORCH_OK;
}

int
agent_sha256_path(const char *path, char hex[AGENT_SHA256_HEX],
    uint64_t *size)
{
	int fd, r, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return KORCH_ERR_SYSTEM;
	r = agent_sha256_fd(fd, hex, size);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}
