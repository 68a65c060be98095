/*
 * pki_info.c - a certificate's public facts for listings, and how close
 * it is to its end (see pki_info.h).  Part of the pki module: the SAN
 * set is pki_names.c's, so a listing and a renewal decision read the
 * same names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "base/digest.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"
#include "cluster/pki_info.h"

/* A name as one RFC 2253 line, malloc'd. */
static char *
name_line(const X509_NAME *nm)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)
	    >= 0 && (n = BIO_get_mem_data(b, &data)) >= 0)
		out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

/* ASN1_TIME as time_t (0 when it does not convert). */
static time_t
asn1_time_t(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static char *
serial_hex(const X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h, *out = NULL, *p;

	if (bn == NULL)
		return NULL;
	if ((h = BN_bn2hex(bn)) != NULL) {
		/* BN_bn2hex pads to whole bytes: "05ab" is 5ab. */
		for (p = h; p[0] == '0' && p[1] != '\0'; p++)
			;
		if ((out = strdup(p)) != NULL)
			for (p = out; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'F')
					*p = (char)(*p - 'A' + 'a');
		OPENSSL_free(h);
	}
	BN_free(bn);
	return out;
}

int
cert_info_parse(const char *pem, struct cert_info *out)
{
	unsigned char *der = NULL;
	X509 *x = NULL;
	BIO *b;
	int len, r;

	memset(out, 0, sizeof(*out));
	if (pem == NULL)
		return KORCH_ERR_PARSE;
	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		return KORCH_ERR_ALLOC;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (x == NULL)
		return KORCH_ERR_PARSE;
	r = KORCH_ERR_ALLOC;
	if ((out->subject = name_line(X509_get_subject_name(x))) == NULL ||
	    (out->issuer = name_line(X509_get_issuer_name(x))) == NULL ||
	    (out->serial = serial_hex(x)) == NULL ||
	    pki_cert_sans(x, &out->sans) != 0)
		goto out;
	out->not_before = asn1_time_t(X509_get0_notBefore(x));
	out->not_after = asn1_time_t(X509_get0_notAfter(x));
	out->is_ca = X509_check_ca(x) >= 1;
	if ((len = i2d_X509(x, &der)) <= 0 ||
	    (r = sha256_hex(der, (size_t)len, out->sha256)) != 0) {
		r = r != 0 ? r : KORCH_ERR_INTERNAL;
		goto out;
	}
	r = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	ERR_clear_error();
	return r;
}

void
cert_info_clear(struct cert_info *ci)
{
	if (ci == NULL)
		return;
	free(ci->subject);
	free(ci->issuer);
	free(ci->serial);
	strlist_free(&ci->sans);
	memset(ci, 0, sizeof(*ci));
}

long
cert_days_left(time_t not_after, time_t now)
{
	long long d = (long long)not_after - (long long)now;

	/* Rounded down, also below zero: a day past expiry is -1. */
	if (d >= 0)
		return (long)(d / 86400);
	return (long)(-((-d + 86399) / 86400));
}

enum cert_state
cert_judge(time_t not_after, time_t now, int window_days)
{
	if (not_after <= now)
		return CERT_EXPIRED;
	if ((long long)not_after <= (long long)now +
	    (long long)window_days * 86400)
		return CERT_RENEW;
	return CERT_OK;
}

const char *
cert_state_name(enum cert_state s)
{
	switch (s) {
	case CERT_OK:		return "ok";
	case CERT_RENEW:	return "renew";
	case CERT_EXPIRED:	return "expired";
	}
	return "?";
}

void
cert_fmt_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "(unknown date)");
}
