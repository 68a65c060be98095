/*
 * pki-int.h - what the files of the pki module share; not for use outside
 * controller/cluster/pki*.c (the contract is pki.h).
 *
 *   pki.c             the handle (pki_open, pki_free), its error message,
 *                     the small checks every file uses
 *   pki_names.c       SANs and subject O values as canonical string sets:
 *                     from a request, from a certificate
 *   pki_store.c       the directory's files, PEM to and from objects,
 *                     pki_read, pki_read_pub, pki_fingerprint
 *   pki_x509.c        making a key, building and signing a certificate
 *   pki_ensure.c      keeping or making again: the CA, the RSA key, a
 *                     leaf certificate checked against its request
 *   pki_kubeconfig.c  the kubeconfig writer
 *
 * Private keys only pass through memory that is wiped before it is freed:
 * secure-heap BIOs (OpenSSL clears those on free), read buffers and base64
 * buffers cleansed by hand (pki_free_secret_n).
 *
 * Functions that take a pki leave their message in it (pki_seterr) and
 * return 0 or a negative KORCH_ERR_*, as the public ones do.
 */
#ifndef KORCH_PKI_INT_H
#define KORCH_PKI_INT_H

#include <sys/types.h>

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/strlist.h"

struct pki_req;

#define PKI_FILE_MAX	(1024 * 1024)	/* no PEM file of ours is near this */
#define PKI_SKEW	(5 * 60)	/* notBefore = now - this */
#define PKI_CA_NAME	"ca"

struct pki {
	char		*dir;
	int		 dirfd;
	X509		*ca;		/* NULL until pki_ensure_ca() */
	EVP_PKEY	*cakey;
	char		 err[512];
};

/* ---- pki.c: errors and small checks ---- */

/* p's message, truncated to fit. */
void pki_seterr(struct pki *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Message "<what>: <OpenSSL's reason>", OpenSSL's queue emptied;
 * returns KORCH_ERR_INTERNAL. */
int pki_ossl_fail(struct pki *p, const char *what);
/* Message "<what> <dir>/<fname>: <strerror(errno)>"; returns
 * KORCH_ERR_SYSTEM. */
int pki_sys_fail(struct pki *p, const char *what, const char *fname);
/* Append to a NUL-terminated buffer, truncating; buf may be NULL. */
void pki_append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A file stem: [A-Za-z0-9._-]{1,PKI_NAME_MAX}, not starting with '.'. */
int pki_name_valid(const char *s);
/* Non-empty, no control characters. */
int pki_text_valid(const char *s);
/* "YYYY-MM-DD HH:MM:SS UTC", or "(unknown date)". */
void pki_fmt_time(const ASN1_TIME *t, char *buf, size_t size);
/* Wipe n bytes of s and free it; NULL-safe. */
void pki_free_secret_n(char *s, size_t n);

/* ---- pki_names.c: canonical string sets ---- */

/*
 * A certificate's names as a strlist (base/strlist.h) that
 * strlist_sort_unique() has made a set: SANs as "DNS:x" / "IP:x",
 * subject O values.  Such sets compare with strlist_equal().
 */

/* The request's SANs and O values as finished sets (KORCH_ERR_INVALID_ARG
 * for a bad O, DNS name or IP, with the message in p). */
int pki_req_sets(struct pki *p, const struct pki_req *req,
    struct strlist *sans, struct strlist *orgs);
/* The certificate's SANs ("?" when the extension does not parse). */
int pki_cert_sans(X509 *x, struct strlist *out);
/* Every value of nid in the name, as UTF-8 (not finished). */
int pki_name_values(const X509_NAME *nm, int nid, struct strlist *out);

/* ---- pki_store.c: files and PEM ---- */

enum pem_kind {
	PEM_KEY,	/* traditional EC/RSA PRIVATE KEY; *out is a secret */
	PEM_CERT,
	PEM_PUB,
};

/*
 * Read fname (in the PKI dir) whole, NUL-terminated.  secret: the buffer
 * is wiped on every error path, and a key file group/other can read is
 * narrowed to 0600 first.  KORCH_ERR_NOT_FOUND when missing.
 */
int pki_read_file(struct pki *p, const char *fname, int secret, char **out,
    size_t *lenp);
/* Write fname atomically with mode: a new hidden file, fsync, rename. */
int pki_write_file(struct pki *p, const char *fname, const char *data,
    size_t len, mode_t mode);
/* The PEM text of obj (an EVP_PKEY or an X509, as kind says); a PEM_KEY
 * text is a secret (free with pki_free_secret_n). */
int pki_to_pem(struct pki *p, enum pem_kind kind, void *obj, char **out,
    size_t *lenp);
/* <name>.crt / <name>.key parsed: KORCH_ERR_NOT_FOUND when missing,
 * KORCH_ERR_PARSE when not PEM of that kind. */
int pki_load_cert(struct pki *p, const char *name, X509 **out);
int pki_load_key(struct pki *p, const char *name, EVP_PKEY **out);
/* <name>.key (0600) or <name>.crt (0644) from a key or a certificate. */
int pki_save_pem(struct pki *p, enum pem_kind kind, const char *name,
    void *obj);

/* ---- pki_x509.c: making keys and certificates ---- */

/*
 * A certificate for key, signed by issuer/issuer_key, or self-signed when
 * issuer is NULL (then issuer_key must be key).  is_ca: the CA profile;
 * else the leaf profile with usage and sans.  orgs and sans may be NULL.
 */
int pki_build_cert(struct pki *p, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key, const char *cn, const struct strlist *orgs,
    const struct strlist *sans, unsigned usage, int days, int is_ca,
    X509 **out);
/* A new EC P-256 key. */
int pki_gen_ec(struct pki *p, EVP_PKEY **out);

#endif
