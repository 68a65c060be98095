/*
 * digest.c - see digest.h: sha256 through OpenSSL's EVP interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/digest.h"
#include "err.h"
#include "sha256hex.h"

void
digest_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int
sha256_raw(const void *p, size_t n, unsigned char md[SHA256_RAW_SIZE])
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, n, buf, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != SHA256_RAW_SIZE)
		return KORCH_ERR_INTERNAL;
	memcpy(md, buf, SHA256_RAW_SIZE);
	return 0;
}

int
sha256_hex(const void *p, size_t n, char out[SHA256_HEX_SIZE])
{
	unsigned char md[SHA256_RAW_SIZE];
	int r;

	if ((r = sha256_raw(p, n, md)) != 0)
		return r;
	digest_hex(md, sizeof(md), out);
	return 0;
}

int
sha256_file(const char *path, char out[SHA256_HEX_SIZE], uint64_t *size)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	uint64_t total = 0;
	ssize_t n;
	int fd, r = KORCH_ERR_SYSTEM;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return KORCH_ERR_SYSTEM;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = KORCH_ERR_INTERNAL;
			goto out;
		}
		total += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen != SHA256_RAW_SIZE) {
		r = KORCH_ERR_INTERNAL;
		goto out;
	}
	digest_hex(md, SHA256_RAW_SIZE, out);
	if (size != NULL)
		*size = total;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}
