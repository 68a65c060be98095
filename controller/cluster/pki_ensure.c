/*
 * pki_ensure.c - what is kept and what is made again: the CA (never
 * replaced by itself), the RSA service-account key (never replaced by
 * itself either) and the leaf certificates (re-issued whenever they no
 * longer satisfy the request, with the reason why).
 *
 * A certificate's key is written before the certificate: if korch dies
 * between the two, the next run sees a key that does not match and makes
 * both again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"

/* ---- the CA and the RSA key ---------------------------------------------- */

int
pki_ensure_ca(struct pki *p, const char *cn, int days, int *created)
{
	X509 *ca = NULL;
	EVP_PKEY *key = NULL;
	char date[64];
	int rc, rk, r;

	if (created != NULL)
		*created = 0;
	if (p == NULL)
		return KORCH_ERR_INVALID_ARG;
	p->err[0] = '\0';
	if (!pki_text_valid(cn) || days <= 0) {
		pki_seterr(p, "CA: bad common name or validity");
		return KORCH_ERR_INVALID_ARG;
	}
	rc = pki_load_cert(p, PKI_CA_NAME, &ca);
	if (rc != 0 && rc != KORCH_ERR_NOT_FOUND) {
		r = rc;
		goto out;
	}
	rk = pki_load_key(p, PKI_CA_NAME, &key);
	if (rk != 0 && rk != KORCH_ERR_NOT_FOUND) {
		r = rk;
		goto out;
	}
	if (rc == KORCH_ERR_NOT_FOUND && rk == KORCH_ERR_NOT_FOUND) {
		if ((r = pki_gen_ec(p, &key)) != 0 ||
		    (r = pki_build_cert(p, key, NULL, key, cn, NULL, NULL, 0,
		    days, 1, &ca)) != 0 ||
		    (r = pki_save_pem(p, PEM_KEY, PKI_CA_NAME, key)) != 0 ||
		    (r = pki_save_pem(p, PEM_CERT, PKI_CA_NAME, ca)) != 0)
			goto out;
		if (created != NULL)
			*created = 1;
	} else if (rc != 0 || rk != 0) {
		pki_seterr(p, "%s/ca.%s exists but ca.%s is missing; remove it "
		    "to create a new CA (every certificate will be re-issued)",
		    p->dir, rc == 0 ? "crt" : "key", rc == 0 ? "key" : "crt");
		r = KORCH_ERR_NOT_FOUND;
		goto out;
	} else {
		if (X509_check_private_key(ca, key) != 1) {
			ERR_clear_error();
			pki_seterr(p, "%s/ca.key does not match ca.crt",
			    p->dir);
			r = KORCH_ERR_PARSE;
			goto out;
		}
		if (X509_check_ca(ca) < 1 ||
		    X509_check_issued(ca, ca) != X509_V_OK) {
			ERR_clear_error();
			pki_seterr(p, "%s/ca.crt is not a self-signed CA "
			    "certificate", p->dir);
			r = KORCH_ERR_PARSE;
			goto out;
		}
		if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(ca),
		    time(NULL)) <= 0) {
			pki_fmt_time(X509_get0_notAfter(ca), date,
			    sizeof(date));
			pki_seterr(p, "%s/ca.crt expired on %s: nothing it "
			    "signed is trusted any more; rotate the CA as "
			    "docs/CERTIFICATES.md says (a new CA means every "
			    "certificate is re-issued and every service "
			    "restarted)", p->dir, date);
			r = KORCH_ERR_INVALID_ARG;
			goto out;
		}
	}
	X509_free(p->ca);
	EVP_PKEY_free(p->cakey);
	p->ca = ca;
	p->cakey = key;
	ca = NULL;
	key = NULL;
	r = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(key);
	return r;
}

int
pki_ensure_rsa_key(struct pki *p, const char *name, int bits, int *created)
{
	EVP_PKEY *key = NULL;
	char fname[PKI_NAME_MAX + 8], *pub = NULL, *old = NULL;
	size_t publen = 0, oldlen = 0;
	int r;

	if (created != NULL)
		*created = 0;
	if (p == NULL)
		return KORCH_ERR_INVALID_ARG;
	p->err[0] = '\0';
	if (!pki_name_valid(name) || bits < 2048 || bits > 16384) {
		pki_seterr(p, "RSA key: bad name or size");
		return KORCH_ERR_INVALID_ARG;
	}
	r = pki_load_key(p, name, &key);
	if (r == KORCH_ERR_NOT_FOUND) {
		if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)bits)) == NULL) {
			r = pki_ossl_fail(p, "generating RSA key");
			goto out;
		}
		if ((r = pki_save_pem(p, PEM_KEY, name, key)) != 0)
			goto out;
		if (created != NULL)
			*created = 1;
	} else if (r != 0)
		goto out;
	else if (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) < bits) {
		pki_seterr(p, "%s/%s.key: not an RSA key of at least %d bits; "
		    "remove it to create a new one", p->dir, name, bits);
		r = KORCH_ERR_PARSE;
		goto out;
	}
	if ((r = pki_to_pem(p, PEM_PUB, key, &pub, &publen)) != 0)
		goto out;
	snprintf(fname, sizeof(fname), "%s.pub", name);
	r = pki_read_file(p, fname, 0, &old, &oldlen);
	if (r != 0 && r != KORCH_ERR_NOT_FOUND)
		goto out;
	if (r == KORCH_ERR_NOT_FOUND || oldlen != publen ||
	    memcmp(old, pub, publen) != 0) {
		if ((r = pki_write_file(p, fname, pub, publen, 0644)) != 0)
			goto out;
	}
	p->err[0] = '\0';
	r = 0;
out:
	free(old);
	free(pub);
	EVP_PKEY_free(key);
	return r;
}

/* ---- a leaf certificate ---------------------------------------------------- */

/* 1 when x was issued and signed by the current CA (time not checked). */
static int
signed_by_ca(struct pki *p, X509 *x)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *vctx = NULL;
	int ok = 0;

	if (X509_check_issued(p->ca, x) != X509_V_OK)
		goto out;
	if ((st = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(st, p->ca) != 1 ||
	    (vctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(vctx, st, x, NULL) != 1) {
		ok = -1;
		goto out;
	}
	/* Expiry is judged separately, with the renewal window. */
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_NO_CHECK_TIME);
	ok = X509_verify_cert(vctx) == 1;
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

/*
 * Does the existing pair satisfy the request?  1 yes, 0 no (reason in
 * why), or a negative error.
 */
static int
cert_ok(struct pki *p, const struct pki_req *req,
    const struct strlist *want_sans, const struct strlist *want_orgs, X509 *x,
    EVP_PKEY *key, int renew_days, char *why, size_t whylen)
{
	struct strlist sans = { 0 }, cns = { 0 }, orgs = { 0 };
	const ASN1_TIME *na = X509_get0_notAfter(x);
	char date[64];
	const char *sep = "";
	time_t now = time(NULL);
	uint32_t xku;
	unsigned have_usage = 0;
	size_t i;
	int r, s;

	if (X509_check_private_key(x, key) != 1) {
		ERR_clear_error();
		pki_append(why, whylen, "key does not match certificate");
		r = 0;
		goto out;
	}
	if ((s = signed_by_ca(p, x)) != 1) {
		if (s < 0) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		pki_append(why, whylen, "not signed by the current CA");
		r = 0;
		goto out;
	}
	if (ASN1_TIME_cmp_time_t(na, now + (time_t)renew_days * 86400) <= 0) {
		pki_fmt_time(na, date, sizeof(date));
		pki_append(why, whylen, "%s on %s",
		    ASN1_TIME_cmp_time_t(na, now) <= 0 ? "expired" : "expires",
		    date);
		r = 0;
		goto out;
	}

	/* The rest are all reported together. */
	if ((r = pki_name_values(X509_get_subject_name(x), NID_commonName,
	    &cns)) != 0 || (r = pki_name_values(X509_get_subject_name(x),
	    NID_organizationName, &orgs)) != 0 ||
	    (r = pki_cert_sans(x, &sans)) != 0)
		goto out;
	strlist_sort_unique(&orgs);
	if (cns.n != 1 || strcmp(cns.v[0], req->cn) != 0) {
		pki_append(why, whylen, "subject changed: CN \"%s\" -> \"%s\"",
		    cns.n > 0 ? cns.v[0] : "", req->cn);
		sep = "; ";
	}
	if (!strlist_equal(&orgs, want_orgs)) {
		pki_append(why, whylen, "%ssubject changed: O [", sep);
		for (i = 0; i < orgs.n; i++)
			pki_append(why, whylen, "%s%s", i ? "," : "",
			    orgs.v[i]);
		pki_append(why, whylen, "] -> [");
		for (i = 0; i < want_orgs->n; i++)
			pki_append(why, whylen, "%s%s", i ? "," : "",
			    want_orgs->v[i]);
		pki_append(why, whylen, "]");
		sep = "; ";
	}
	if (!strlist_equal(&sans, want_sans)) {
		pki_append(why, whylen, "%sSANs changed:", sep);
		for (i = 0; i < want_sans->n; i++)
			if (!strlist_has(&sans, want_sans->v[i]))
				pki_append(why, whylen, " +%s",
				    want_sans->v[i]);
		for (i = 0; i < sans.n; i++)
			if (!strlist_has(want_sans, sans.v[i]))
				pki_append(why, whylen, " -%s", sans.v[i]);
		sep = "; ";
	}
	xku = X509_get_extended_key_usage(x);
	if ((xku & XKU_SSL_SERVER) && xku != UINT32_MAX)
		have_usage |= PKI_SERVER;
	if ((xku & XKU_SSL_CLIENT) && xku != UINT32_MAX)
		have_usage |= PKI_CLIENT;
	if (have_usage != req->usage) {
		pki_append(why, whylen, "%susage changed", sep);
		sep = "; ";
	}
	r = sep[0] == '\0';
out:
	strlist_free(&sans);
	strlist_free(&cns);
	strlist_free(&orgs);
	return r;
}

int
pki_ensure_cert(struct pki *p, const struct pki_req *req, int renew_days,
    int *regenerated, char *why, size_t whylen)
{
	struct strlist sans = { 0 }, orgs = { 0 };
	X509 *x = NULL, *nx = NULL;
	EVP_PKEY *key = NULL, *nkey = NULL;
	char reason[512] = "";
	int r;

	if (regenerated != NULL)
		*regenerated = 0;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (p == NULL)
		return KORCH_ERR_INVALID_ARG;
	p->err[0] = '\0';
	if (req == NULL || !pki_name_valid(req->name) ||
	    strcmp(req->name, PKI_CA_NAME) == 0) {
		pki_seterr(p, "certificate name \"%.*s\": not "
		    "[A-Za-z0-9._-]{1,%d} or reserved", PKI_NAME_MAX,
		    req != NULL && req->name != NULL ? req->name : "(null)",
		    PKI_NAME_MAX);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if (!pki_text_valid(req->cn) || req->usage == 0 ||
	    (req->usage & ~(PKI_SERVER | PKI_CLIENT)) || req->days <= 0 ||
	    renew_days < 0 || renew_days > 36500) {
		pki_seterr(p, "certificate %s: bad CN, usage or validity",
		    req->name);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if (p->ca == NULL) {
		pki_seterr(p, "certificate %s: no CA loaded", req->name);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = pki_req_sets(p, req, &sans, &orgs)) != 0)
		goto out;

	r = pki_load_cert(p, req->name, &x);
	if (r == KORCH_ERR_NOT_FOUND)
		pki_append(reason, sizeof(reason), "missing");
	else if (r == KORCH_ERR_PARSE)
		pki_append(reason, sizeof(reason), "unreadable: %s", p->err);
	else if (r != 0)
		goto out;
	if (r == 0) {
		r = pki_load_key(p, req->name, &key);
		if (r == KORCH_ERR_NOT_FOUND)
			pki_append(reason, sizeof(reason), "key missing");
		else if (r == KORCH_ERR_PARSE)
			pki_append(reason, sizeof(reason), "unreadable: %s",
			    p->err);
		else if (r != 0)
			goto out;
	}
	if (x != NULL && key != NULL) {
		r = cert_ok(p, req, &sans, &orgs, x, key, renew_days, reason,
		    sizeof(reason));
		if (r < 0)
			goto out;
		if (r == 1 && !req->force) {
			r = 0;
			goto out;
		}
		if (r == 1)
			pki_append(reason, sizeof(reason),
			    "renewed on request");
	}

	if ((r = pki_gen_ec(p, &nkey)) != 0 ||
	    (r = pki_build_cert(p, nkey, p->ca, p->cakey, req->cn, &orgs, &sans,
	    req->usage, req->days, 0, &nx)) != 0 ||
	    (r = pki_save_pem(p, PEM_KEY, req->name, nkey)) != 0 ||
	    (r = pki_save_pem(p, PEM_CERT, req->name, nx)) != 0)
		goto out;
	if (regenerated != NULL)
		*regenerated = 1;
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	p->err[0] = '\0';
	r = 0;
out:
	strlist_free(&sans);
	strlist_free(&orgs);
	X509_free(x);
	X509_free(nx);
	EVP_PKEY_free(key);
	EVP_PKEY_free(nkey);
	return r;
}
