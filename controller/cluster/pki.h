/*
 * pki.h - a directory of X.509 certificates and keys, made and checked with
 * OpenSSL (no openssl(1), no cfssl).
 *
 * A PKI directory (created 0700) holds PEM pairs <name>.crt / <name>.key,
 * with ca.crt / ca.key the self-signed CA that signs every other pair, and
 * bare key pairs <name>.key / <name>.pub (pki_ensure_rsa_key).  Keys are
 * written 0600 through a temporary file and rename(), so a reader never
 * sees half a key and a key is never group- or world-readable (an existing
 * key file found more open is narrowed to 0600 when read).
 *
 * Key types: EC P-256 for the CA and every certificate (fast; Go's TLS in
 * etcd 3.x and Kubernetes 1.8 accepts it), RSA only where Kubernetes 1.8
 * needs it (the service-account signing key).  Private keys are written in
 * the "traditional" PEM forms (EC PRIVATE KEY / RSA PRIVATE KEY), the ones
 * cfssl writes and every Kubernetes 1.8 key parser reads.
 *
 * Errors: functions return 0 or a negative KORCH_ERR_* code.  pki_open()
 * fills the caller's buffer; later calls leave their message in the pki,
 * read with pki_errmsg().  Nothing here logs or prints key material.
 *
 * Names (file stems) are [A-Za-z0-9._-]+, at most PKI_NAME_MAX bytes, not
 * starting with '.'.
 */
#ifndef KORCH_PKI_H
#define KORCH_PKI_H

#include <stddef.h>

#include "sha256hex.h"

#define PKI_NAME_MAX	200	/* + ".crt", temp-file decorations < NAME_MAX */

/* pki_req.usage bits: the extendedKeyUsage. */
#define PKI_SERVER	0x1u	/* serverAuth */
#define PKI_CLIENT	0x2u	/* clientAuth */

struct pki;

/* What a certificate must say.  Everything is borrowed for the call. */
struct pki_req {
	const char		*name;	/* file stem: <name>.crt, <name>.key */
	const char		*cn;	/* subject CN; non-empty */
	const char *const	*orgs;	/* subject O values (Kubernetes groups) */
	size_t			 norgs;
	const char *const	*dns;	/* subjectAltName DNS names */
	size_t			 ndns;
	const char *const	*ips;	/* subjectAltName IPs (v4 or v6 text) */
	size_t			 nips;
	unsigned		 usage;	/* PKI_SERVER | PKI_CLIENT, non-zero */
	int			 days;	/* validity, > 0 */
	int			 force;	/* re-issue even when it satisfies */
};

/*
 * Open (creating it 0700 when missing, parent must exist) the PKI
 * directory dir.  Returns 0 and *out (free with pki_free); or
 * KORCH_ERR_SYSTEM (cannot create/open, not a directory),
 * KORCH_ERR_INVALID_ARG, KORCH_ERR_ALLOC, with a message in err.
 */
int pki_open(const char *dir, struct pki **out, char *err, size_t errlen);
/* NULL-safe; wipes the CA key. */
void pki_free(struct pki *p);

/* The message of the last failed call on p ("" when none); owned by p. */
const char *pki_errmsg(const struct pki *p);

/*
 * Load ca.crt + ca.key, or create them when both are missing: a
 * self-signed EC P-256 CA with subject CN cn, valid days days,
 * basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign,
 * digitalSignature (both critical), subjectKeyIdentifier.  *created (may be
 * NULL) is 1 when made now.  An existing CA is kept whatever its CN and
 * validity period.  Must be called before pki_ensure_cert().  Refuses to
 * replace a CA it cannot use, since a new CA invalidates every certificate
 * the cluster trusts (the operator removes both files to start over):
 * KORCH_ERR_NOT_FOUND (one of the pair missing), KORCH_ERR_PARSE
 * (unreadable, not a self-signed CA, key not matching),
 * KORCH_ERR_INVALID_ARG (expired, bad cn/days).  Also KORCH_ERR_SYSTEM,
 * KORCH_ERR_ALLOC, KORCH_ERR_INTERNAL (OpenSSL failed).
 */
int pki_ensure_ca(struct pki *p, const char *cn, int days, int *created);

/*
 * Load <name>.key (an RSA key of at least bits bits) or create it, and
 * (re)write <name>.pub (PEM SubjectPublicKeyInfo) when missing or not
 * matching.  *created (may be NULL) is 1 when the key was made now.  An
 * unreadable or too small existing key is an error (KORCH_ERR_PARSE),
 * never silently replaced: service-account tokens signed with it would
 * stop working.  Also KORCH_ERR_INVALID_ARG, KORCH_ERR_SYSTEM,
 * KORCH_ERR_ALLOC, KORCH_ERR_INTERNAL.
 */
int pki_ensure_rsa_key(struct pki *p, const char *name, int bits,
    int *created);

/*
 * Make sure <name>.crt / <name>.key exist and satisfy req.  The existing
 * pair is kept when: both files parse, the key matches the certificate,
 * the certificate verifies against the current CA (X509_verify_cert), it
 * does not expire within renew_days days, and its subject CN, O set, SAN
 * set (DNS case-insensitive, IPs by value; order-insensitive) and
 * extendedKeyUsage equal the request's.  Otherwise a new key and
 * certificate are made (random 128-bit serial, notBefore now - 5 min,
 * keyUsage digitalSignature+keyEncipherment critical, extendedKeyUsage,
 * basicConstraints CA:FALSE, subjectAltName when any, authority and
 * subject key identifiers).  *regenerated (may be NULL) is 1 then, and why
 * (may be NULL; always NUL-terminated, "" when kept) says why: "missing",
 * "unreadable: ...", "key does not match certificate",
 * "not signed by the current CA", "expires on DATE" / "expired on DATE",
 * "subject changed: ...", "SANs changed: +IP:a -DNS:b", "usage changed".
 * req->force re-issues a pair that satisfies it too ("renewed on
 * request").
 * Errors: KORCH_ERR_INVALID_ARG (bad request, no CA loaded),
 * KORCH_ERR_SYSTEM, KORCH_ERR_ALLOC, KORCH_ERR_INTERNAL.
 */
int pki_ensure_cert(struct pki *p, const struct pki_req *req, int renew_days,
    int *regenerated, char *why, size_t whylen);

/*
 * Read <name>.crt into *cert_pem and <name>.key into *key_pem (either
 * pointer may be NULL to skip that file), NUL-terminated, malloc'd.  The
 * caller frees the certificate with free() and the key with
 * pki_free_secret().  On error both outputs are NULL.  KORCH_ERR_NOT_FOUND
 * (missing), KORCH_ERR_TOO_LARGE, KORCH_ERR_SYSTEM, KORCH_ERR_ALLOC.
 */
int pki_read(struct pki *p, const char *name, char **cert_pem,
    char **key_pem);
/* Same for <name>.pub (from pki_ensure_rsa_key); free with free(). */
int pki_read_pub(struct pki *p, const char *name, char **pub_pem);

/* Wipe (OPENSSL_cleanse) and free a NUL-terminated secret; NULL-safe. */
void pki_free_secret(char *s);

/*
 * out gets the lowercase hex SHA-256 of the DER of <name>.crt, or when
 * there is no <name>.crt, of the DER public key in <name>.pub.  For digest
 * inputs: it changes exactly when the certificate (or key) does.
 * KORCH_ERR_NOT_FOUND, KORCH_ERR_PARSE, KORCH_ERR_SYSTEM, KORCH_ERR_ALLOC.
 */
int pki_fingerprint(struct pki *p, const char *name, char out[SHA256_HEX_SIZE]);

/*
 * A kubeconfig (YAML) with one cluster (name cluster, server server_url,
 * certificate-authority-data), one user (name user, client-certificate-data,
 * client-key-data) and one context "<user>@<cluster>" that is the
 * current-context; the data fields are base64 of the PEM texts given.
 * Strings are double-quoted in the YAML.  *out is malloc'd and holds the
 * private key: free it with pki_free_secret().  KORCH_ERR_INVALID_ARG
 * (NULL, empty or a string with control characters), KORCH_ERR_TOO_LARGE,
 * KORCH_ERR_ALLOC.
 */
int pki_kubeconfig(const char *cluster, const char *server_url,
    const char *ca_pem, const char *user, const char *cert_pem,
    const char *key_pem, char **out);

#endif
