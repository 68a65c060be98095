/*
 * pki.c - the PKI handle: opening the directory, the error message every
 * call leaves in it, and the small checks the other pki_*.c files share.
 * See pki.h for the module's contract and pki-int.h for how its files
 * divide the work.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"

/* ---- the handle ----------------------------------------------------------- */

int
pki_open(const char *dir, struct pki **out, char *err, size_t errlen)
{
	struct pki *p = NULL;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || dir == NULL || dir[0] == '\0') {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "pki_open: no directory");
		return KORCH_ERR_INVALID_ARG;
	}
	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->dir = strdup(dir)) == NULL) {
		r = KORCH_ERR_ALLOC;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", dir);
		goto out;
	}
	p->dirfd = -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		r = KORCH_ERR_SYSTEM;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "mkdir %s: %s", dir,
			    strerror(errno));
		goto out;
	}
	if ((p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC))
	    == -1) {
		r = KORCH_ERR_SYSTEM;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "open %s: %s", dir,
			    strerror(errno));
		goto out;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	pki_free(p);
	return r;
}

void
pki_free(struct pki *p)
{
	if (p == NULL)
		return;
	if (p->dirfd != -1)
		close(p->dirfd);
	X509_free(p->ca);
	EVP_PKEY_free(p->cakey);	/* clears the private key */
	free(p->dir);
	free(p);
}

const char *
pki_errmsg(const struct pki *p)
{
	return p != NULL ? p->err : "no pki";
}

/* ---- errors --------------------------------------------------------------- */

void
pki_seterr(struct pki *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* Message "<what>: <OpenSSL's reason>", OpenSSL's queue emptied. */
int
pki_ossl_fail(struct pki *p, const char *what)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown OpenSSL error");
	ERR_clear_error();
	pki_seterr(p, "%s: %s", what, buf);
	return KORCH_ERR_INTERNAL;
}

int
pki_sys_fail(struct pki *p, const char *what, const char *fname)
{
	pki_seterr(p, "%s %s/%s: %s", what, p->dir, fname, strerror(errno));
	return KORCH_ERR_SYSTEM;
}

/* Append to a NUL-terminated buffer, truncating. */
void
pki_append(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (buf == NULL || size == 0)
		return;
	len = strnlen(buf, size);
	if (len >= size - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* ---- small checks --------------------------------------------------------- */

int
pki_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= PKI_NAME_MAX)
			return 0;
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	}
	return 1;
}

/* Non-empty, no control characters. */
int
pki_text_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

void
pki_fmt_time(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "(unknown date)");
}

void
pki_free_secret_n(char *s, size_t n)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, n);
	free(s);
}

void
pki_free_secret(char *s)
{
	if (s != NULL)
		pki_free_secret_n(s, strlen(s));
}
