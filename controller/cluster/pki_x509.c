/*
 * pki_x509.c - making a key and a certificate: the CA profile
 * (self-signed, CA:TRUE) and the leaf profile (CA:FALSE, extendedKeyUsage,
 * subjectAltName), with a random 128-bit serial and notBefore a little in
 * the past for clocks that lag.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"

/* ---- making certificates ------------------------------------------------- */

static int
add_ext(struct pki *p, X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return pki_ossl_fail(p, OBJ_nid2sn(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ok != 1)
		return pki_ossl_fail(p, OBJ_nid2sn(nid));
	return 0;
}

/* subjectAltName from "DNS:x" / "IP:x" strings. */
static int
add_sans(struct pki *p, X509 *x, const struct strlist *sans)
{
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	ASN1_OCTET_STRING *ip = NULL;
	size_t i;
	int r;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < sans->n; i++) {
		if ((gn = GENERAL_NAME_new()) == NULL) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		if (strncmp(sans->v[i], "DNS:", 4) == 0) {
			if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
			    ASN1_STRING_set(ia5, sans->v[i] + 4, -1) != 1) {
				r = pki_ossl_fail(p, "subjectAltName DNS");
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
			ia5 = NULL;
		} else {
			if ((ip = a2i_IPADDRESS(sans->v[i] + 3)) == NULL) {
				r = pki_ossl_fail(p, "subjectAltName IP");
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
			ip = NULL;
		}
		if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		gn = NULL;
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) != 1) {
		r = pki_ossl_fail(p, "subjectAltName");
		goto out;
	}
	r = 0;
out:
	ASN1_IA5STRING_free(ia5);
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return r;
}

/* The extensions of the CA profile (is_ca) or of the leaf profile, with
 * usage and sans. */
static int
add_profile(struct pki *p, X509 *x, X509 *issuer, int is_ca, unsigned usage,
    const struct strlist *sans)
{
	X509V3_CTX ctx;
	char eku[64] = "";
	int r;

	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (is_ca) {
		if ((r = add_ext(p, x, &ctx, NID_basic_constraints,
		    "critical,CA:TRUE")) != 0 ||
		    (r = add_ext(p, x, &ctx, NID_key_usage,
		    "critical,keyCertSign,cRLSign,digitalSignature")) != 0 ||
		    (r = add_ext(p, x, &ctx, NID_subject_key_identifier,
		    "hash")) != 0)
			return r;
	} else {
		if (usage & PKI_SERVER)
			pki_append(eku, sizeof(eku), "serverAuth");
		if (usage & PKI_CLIENT)
			pki_append(eku, sizeof(eku), "%sclientAuth",
			    eku[0] ? "," : "");
		if ((r = add_ext(p, x, &ctx, NID_basic_constraints,
		    "critical,CA:FALSE")) != 0 ||
		    (r = add_ext(p, x, &ctx, NID_key_usage,
		    "critical,digitalSignature,keyEncipherment")) != 0 ||
		    (r = add_ext(p, x, &ctx, NID_ext_key_usage, eku)) != 0 ||
		    (r = add_ext(p, x, &ctx, NID_subject_key_identifier,
		    "hash")) != 0 ||
		    (r = add_ext(p, x, &ctx, NID_authority_key_identifier,
		    "keyid:always")) != 0)
			return r;
		if (sans != NULL && sans->n > 0 &&
		    (r = add_sans(p, x, sans)) != 0)
			return r;
	}
	return 0;
}

/*
 * A certificate for key, signed by issuer/issuer_key, or self-signed when
 * issuer is NULL (then issuer_key must be key).  is_ca: the CA profile;
 * else the leaf profile with usage and sans.
 */
int
pki_build_cert(struct pki *p, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    const char *cn, const struct strlist *orgs, const struct strlist *sans,
    unsigned usage, int days, int is_ca, X509 **out)
{
	X509 *x = NULL;
	X509_NAME *nm = NULL;
	BIGNUM *bn = NULL;
	size_t i;
	int r;

	*out = NULL;
	if ((x = X509_new()) == NULL || (nm = X509_NAME_new()) == NULL ||
	    (bn = BN_new()) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (X509_set_version(x, 2) != 1) {
		r = pki_ossl_fail(p, "X509_set_version");
		goto out;
	}
	/* 128 random bits; a zero serial is not allowed. */
	do {
		if (BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
		    != 1) {
			r = pki_ossl_fail(p, "serial number");
			goto out;
		}
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		r = pki_ossl_fail(p, "serial number");
		goto out;
	}
	for (i = 0; orgs != NULL && i < orgs->n; i++) {
		if (X509_NAME_add_entry_by_NID(nm, NID_organizationName,
		    MBSTRING_UTF8, (const unsigned char *)orgs->v[i], -1, -1,
		    0) != 1) {
			r = pki_ossl_fail(p, "subject O");
			goto out;
		}
	}
	if (X509_NAME_add_entry_by_NID(nm, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		r = pki_ossl_fail(p, "subject CN");
		goto out;
	}
	if (X509_set_subject_name(x, nm) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : nm) != 1) {
		r = pki_ossl_fail(p, "X509 names");
		goto out;
	}
	if (X509_gmtime_adj(X509_getm_notBefore(x), -PKI_SKEW) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL) {
		r = pki_ossl_fail(p, "validity");
		goto out;
	}
	if (X509_set_pubkey(x, key) != 1) {
		r = pki_ossl_fail(p, "X509_set_pubkey");
		goto out;
	}

	if ((r = add_profile(p, x, issuer, is_ca, usage, sans)) != 0)
		goto out;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		r = pki_ossl_fail(p, "signing certificate");
		goto out;
	}
	*out = x;
	x = NULL;
	r = 0;
out:
	BN_free(bn);
	X509_NAME_free(nm);
	X509_free(x);
	return r;
}

int
pki_gen_ec(struct pki *p, EVP_PKEY **out)
{
	if ((*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return pki_ossl_fail(p, "generating EC P-256 key");
	return 0;
}
