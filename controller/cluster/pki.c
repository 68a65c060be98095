/*
 * pki.c - a directory of X.509 certificates and keys.  See pki.h.
 *
 * Files are reached through a descriptor on the directory (openat,
 * renameat), so a long or changing path cannot redirect a write, and every
 * file is written to a hidden temporary name with its final mode and then
 * renamed over the old one.  A certificate's key is written before the
 * certificate: if korch dies between the two, the next run sees a key that
 * does not match and makes both again.
 *
 * Private keys only pass through memory that is wiped before it is freed:
 * secure-heap BIOs (OpenSSL clears those on free), read buffers and base64
 * buffers cleansed by hand.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "fdio.h"
#include "cluster/pki.h"
#include "sha256hex.h"

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

/* A sorted, duplicate-free list of strings (SANs as "DNS:x" / "IP:x",
 * subject O values). */
struct strset {
	char		**v;
	size_t		 n, cap;
};

/* ---- errors --------------------------------------------------------------- */

static void seterr(struct pki *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
seterr(struct pki *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* Message "<what>: <OpenSSL's reason>", OpenSSL's queue emptied. */
static int
ossl_fail(struct pki *p, const char *what)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown OpenSSL error");
	ERR_clear_error();
	seterr(p, "%s: %s", what, buf);
	return KORCH_ERR_INTERNAL;
}

static int
sys_fail(struct pki *p, const char *what, const char *fname)
{
	seterr(p, "%s %s/%s: %s", what, p->dir, fname, strerror(errno));
	return KORCH_ERR_SYSTEM;
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append to a NUL-terminated buffer, truncating. */
static void
append(char *buf, size_t size, const char *fmt, ...)
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

/* ---- small helpers -------------------------------------------------------- */

static int
name_valid(const char *s)
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
static int
text_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static void
fmt_time(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "(unknown date)");
}

static void
free_secret_n(char *s, size_t n)
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
		free_secret_n(s, strlen(s));
}

/* ---- string sets ------------------------------------------------------------ */

static void
strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
strset_addn(struct strset *s, const char *str, size_t len)
{
	char **nv, *c;
	size_t ncap;

	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 8;
		if ((nv = realloc(s->v, ncap * sizeof(*nv))) == NULL)
			return KORCH_ERR_ALLOC;
		s->v = nv;
		s->cap = ncap;
	}
	if ((c = strndup(str, len)) == NULL)
		return KORCH_ERR_ALLOC;
	s->v[s->n++] = c;
	return 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates. */
static void
strset_finish(struct strset *s)
{
	size_t i, j;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmpstr);
	for (i = 1, j = 0; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[j]) == 0)
			free(s->v[i]);
		else
			s->v[++j] = s->v[i];
	}
	s->n = j + 1;
}

static int
strset_has(const struct strset *s, const char *str)
{
	return s->n > 0 && bsearch(&str, s->v, s->n, sizeof(*s->v),
	    cmpstr) != NULL;
}

static int
strset_equal(const struct strset *a, const struct strset *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/* "IP:<canonical text>" for 4 or 16 address bytes, else "IP:?<hex>". */
static int
strset_add_ip(struct strset *s, const unsigned char *b, size_t n)
{
	char txt[INET6_ADDRSTRLEN + 8], hx[2 * 16 + 1];

	if (n == 4 || n == 16) {
		memcpy(txt, "IP:", 3);
		if (inet_ntop(n == 4 ? AF_INET : AF_INET6, b, txt + 3,
		    sizeof(txt) - 3) == NULL)
			return KORCH_ERR_INTERNAL;
	} else {
		hex(b, n > 16 ? 16 : n, hx);
		snprintf(txt, sizeof(txt), "IP:?%s", hx);
	}
	return strset_addn(s, txt, strlen(txt));
}

/* "DNS:<lowercase name>". */
static int
strset_add_dns(struct strset *s, const unsigned char *name, size_t n)
{
	char buf[4 + 256];
	size_t i;

	if (n > 253)
		n = 253;
	memcpy(buf, "DNS:", 4);
	for (i = 0; i < n; i++)
		buf[4 + i] = (char)tolower(name[i]);
	return strset_addn(s, buf, 4 + n);
}

/* ---- files ---------------------------------------------------------------- */

/*
 * Read fname (in the PKI dir) whole, NUL-terminated.  secret: the buffer
 * is wiped on every error path, and a key file group/other can read is
 * narrowed to 0600 first.  KORCH_ERR_NOT_FOUND when missing.
 */
static int
read_file(struct pki *p, const char *fname, int secret, char **out,
    size_t *lenp)
{
	struct stat st;
	size_t len;
	int fd, r;

	*out = NULL;
	if ((fd = openat(p->dirfd, fname, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			seterr(p, "%s/%s: missing", p->dir, fname);
			return KORCH_ERR_NOT_FOUND;
		}
		return sys_fail(p, "open", fname);
	}
	if (secret && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 077) != 0 && fchmod(fd, 0600) == -1) {
		r = sys_fail(p, "chmod", fname);
		close(fd);
		return r;
	}
	r = kp_read_fd(fd, PKI_FILE_MAX, out, &len);
	close(fd);
	switch (r) {
	case KORCH_OK:
		if (lenp != NULL)
			*lenp = len;
		return 0;
	case KORCH_ERR_INVALID_ARG:
		seterr(p, "%s/%s: not a regular file", p->dir, fname);
		return r;
	case KORCH_ERR_TOO_LARGE:
		seterr(p, "%s/%s: larger than %d bytes", p->dir, fname,
		    PKI_FILE_MAX);
		return r;
	case KORCH_ERR_SYSTEM:
		return sys_fail(p, "read", fname);
	default:
		return r;
	}
}

/* Write fname atomically with mode: a new hidden file, fsync, rename. */
static int
write_file(struct pki *p, const char *fname, const char *data, size_t len,
    mode_t mode)
{
	char tmp[PKI_NAME_MAX + 64];
	unsigned char rnd[8];
	char rhex[2 * sizeof(rnd) + 1];
	int fd = -1, tries, made = 0, r;

	for (tries = 0;; tries++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			r = ossl_fail(p, "random temporary name");
			goto out;
		}
		hex(rnd, sizeof(rnd), rhex);
		snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", fname, rhex);
		fd = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1)
			break;
		if (errno != EEXIST || tries >= 8) {
			r = sys_fail(p, "create", tmp);
			goto out;
		}
	}
	made = 1;
	/* The umask may have taken bits off a 0644 certificate. */
	if (fchmod(fd, mode) == -1) {
		r = sys_fail(p, "chmod", tmp);
		goto out;
	}
	if (kp_write_all(fd, data, len) != KORCH_OK) {
		r = sys_fail(p, "write", tmp);
		goto out;
	}
	if (fsync(fd) == -1) {
		r = sys_fail(p, "fsync", tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = sys_fail(p, "close", tmp);
		goto out;
	}
	fd = -1;
	if (renameat(p->dirfd, tmp, p->dirfd, fname) == -1) {
		r = sys_fail(p, "rename to", fname);
		goto out;
	}
	made = 0;
	/* Some file systems cannot fsync a directory; that is no error. */
	if (fsync(p->dirfd) == -1 && errno != EINVAL && errno != EROFS) {
		r = sys_fail(p, "fsync", ".");
		goto out;
	}
	r = 0;
out:
	if (fd != -1)
		close(fd);
	if (made)
		unlinkat(p->dirfd, tmp, 0);
	return r;
}

/* ---- PEM <-> objects ---------------------------------------------------- */

/* Never prompt for a pass phrase: our keys have none. */
static int
no_pass(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Copy what b holds into a new NUL-terminated buffer. */
static int
bio_take(struct pki *p, BIO *b, char **out, size_t *lenp)
{
	char *data = NULL, *s;
	long n;

	n = BIO_get_mem_data(b, &data);
	if (n <= 0 || data == NULL)
		return ossl_fail(p, "PEM encoding");
	if ((s = malloc((size_t)n + 1)) == NULL)
		return KORCH_ERR_ALLOC;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	*lenp = (size_t)n;
	return 0;
}

enum pem_kind {
	PEM_KEY,	/* traditional EC/RSA PRIVATE KEY; *out is a secret */
	PEM_CERT,
	PEM_PUB,
};

/* The PEM text of obj (an EVP_PKEY or an X509, as kind says). */
static int
to_pem(struct pki *p, enum pem_kind kind, void *obj, char **out,
    size_t *lenp)
{
	static const char *const what[] = { "encoding private key",
	    "encoding certificate", "encoding public key" };
	BIO *b = NULL;
	int ok = 0, r;

	/* Keys only ever pass through secure memory. */
	if ((b = BIO_new(kind == PEM_KEY ? BIO_s_secmem() : BIO_s_mem())) ==
	    NULL) {
		r = ossl_fail(p, "BIO_new");
		goto out;
	}
	switch (kind) {
	case PEM_KEY:
		ok = PEM_write_bio_PrivateKey_traditional(b, obj, NULL, NULL,
		    0, NULL, NULL);
		break;
	case PEM_CERT:
		ok = PEM_write_bio_X509(b, obj);
		break;
	case PEM_PUB:
		ok = PEM_write_bio_PUBKEY(b, obj);
		break;
	}
	if (ok != 1) {
		r = ossl_fail(p, what[kind]);
		goto out;
	}
	r = bio_take(p, b, out, lenp);
out:
	BIO_free(b);
	return r;
}

/*
 * Load <stem><ext> and parse it as a certificate (ext ".crt"), a private
 * key (".key") or a public key (".pub").  KORCH_ERR_NOT_FOUND when
 * missing, KORCH_ERR_PARSE when not PEM of that kind.
 */
static int
load_pem(struct pki *p, const char *stem, const char *ext, void **out)
{
	char fname[PKI_NAME_MAX + 8], *text = NULL;
	size_t len = 0;
	BIO *b = NULL;
	void *obj = NULL;
	int secret = strcmp(ext, ".key") == 0, r;

	*out = NULL;
	snprintf(fname, sizeof(fname), "%s%s", stem, ext);
	if ((r = read_file(p, fname, secret, &text, &len)) != 0)
		goto out;
	if ((b = BIO_new_mem_buf(text, (int)len)) == NULL) {
		r = ossl_fail(p, "BIO_new_mem_buf");
		goto out;
	}
	if (strcmp(ext, ".crt") == 0)
		obj = PEM_read_bio_X509(b, NULL, no_pass, NULL);
	else if (secret)
		obj = PEM_read_bio_PrivateKey(b, NULL, no_pass, NULL);
	else
		obj = PEM_read_bio_PUBKEY(b, NULL, no_pass, NULL);
	if (obj == NULL) {
		ossl_fail(p, "PEM");
		seterr(p, "%s/%s: not a PEM %s", p->dir, fname,
		    ext[1] == 'c' ? "certificate" : ext[1] == 'k' ?
		    "private key" : "public key");
		r = KORCH_ERR_PARSE;
		goto out;
	}
	*out = obj;
	r = 0;
out:
	BIO_free(b);
	if (secret)
		free_secret_n(text, len);
	else
		free(text);
	return r;
}

static int
load_cert(struct pki *p, const char *name, X509 **out)
{
	void *obj = NULL;
	int r = load_pem(p, name, ".crt", &obj);

	*out = obj;
	return r;
}

static int
load_key(struct pki *p, const char *name, EVP_PKEY **out)
{
	void *obj = NULL;
	int r = load_pem(p, name, ".key", &obj);

	*out = obj;
	return r;
}

static int
load_pub(struct pki *p, const char *name, EVP_PKEY **out)
{
	void *obj = NULL;
	int r = load_pem(p, name, ".pub", &obj);

	*out = obj;
	return r;
}

/* <name>.key (0600) or <name>.crt (0644) from a key or a certificate. */
static int
save_pem(struct pki *p, enum pem_kind kind, const char *name, void *obj)
{
	char fname[PKI_NAME_MAX + 8], *pem = NULL;
	size_t len = 0;
	int r;

	snprintf(fname, sizeof(fname), "%s%s", name,
	    kind == PEM_KEY ? ".key" : ".crt");
	if ((r = to_pem(p, kind, obj, &pem, &len)) != 0)
		goto out;
	r = write_file(p, fname, pem, len, kind == PEM_KEY ? 0600 : 0644);
out:
	free_secret_n(pem, len);	/* harmless for a certificate */
	return r;
}

/* ---- making certificates ------------------------------------------------- */

static int
add_ext(struct pki *p, X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return ossl_fail(p, OBJ_nid2sn(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ok != 1)
		return ossl_fail(p, OBJ_nid2sn(nid));
	return 0;
}

/* subjectAltName from "DNS:x" / "IP:x" strings. */
static int
add_sans(struct pki *p, X509 *x, const struct strset *sans)
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
				r = ossl_fail(p, "subjectAltName DNS");
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
			ia5 = NULL;
		} else {
			if ((ip = a2i_IPADDRESS(sans->v[i] + 3)) == NULL) {
				r = ossl_fail(p, "subjectAltName IP");
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
		r = ossl_fail(p, "subjectAltName");
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

/*
 * A certificate for key, signed by issuer/issuer_key, or self-signed when
 * issuer is NULL (then issuer_key must be key).  is_ca: the CA profile;
 * else the leaf profile with usage and sans.
 */
static int
build_cert(struct pki *p, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    const char *cn, const struct strset *orgs, const struct strset *sans,
    unsigned usage, int days, int is_ca, X509 **out)
{
	X509 *x = NULL;
	X509_NAME *nm = NULL;
	BIGNUM *bn = NULL;
	X509V3_CTX ctx;
	char eku[64] = "";
	size_t i;
	int r;

	*out = NULL;
	if ((x = X509_new()) == NULL || (nm = X509_NAME_new()) == NULL ||
	    (bn = BN_new()) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (X509_set_version(x, 2) != 1) {
		r = ossl_fail(p, "X509_set_version");
		goto out;
	}
	/* 128 random bits; a zero serial is not allowed. */
	do {
		if (BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
		    != 1) {
			r = ossl_fail(p, "serial number");
			goto out;
		}
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		r = ossl_fail(p, "serial number");
		goto out;
	}
	for (i = 0; orgs != NULL && i < orgs->n; i++) {
		if (X509_NAME_add_entry_by_NID(nm, NID_organizationName,
		    MBSTRING_UTF8, (const unsigned char *)orgs->v[i], -1, -1,
		    0) != 1) {
			r = ossl_fail(p, "subject O");
			goto out;
		}
	}
	if (X509_NAME_add_entry_by_NID(nm, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		r = ossl_fail(p, "subject CN");
		goto out;
	}
	if (X509_set_subject_name(x, nm) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : nm) != 1) {
		r = ossl_fail(p, "X509 names");
		goto out;
	}
	if (X509_gmtime_adj(X509_getm_notBefore(x), -PKI_SKEW) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL) {
		r = ossl_fail(p, "validity");
		goto out;
	}
	if (X509_set_pubkey(x, key) != 1) {
		r = ossl_fail(p, "X509_set_pubkey");
		goto out;
	}

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
			goto out;
	} else {
		if (usage & PKI_SERVER)
			append(eku, sizeof(eku), "serverAuth");
		if (usage & PKI_CLIENT)
			append(eku, sizeof(eku), "%sclientAuth",
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
			goto out;
		if (sans != NULL && sans->n > 0 &&
		    (r = add_sans(p, x, sans)) != 0)
			goto out;
	}
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		r = ossl_fail(p, "signing certificate");
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

static int
gen_ec(struct pki *p, EVP_PKEY **out)
{
	if ((*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return ossl_fail(p, "generating EC P-256 key");
	return 0;
}

/* ---- pki objects ------------------------------------------------------------ */

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
	if (!text_valid(cn) || days <= 0) {
		seterr(p, "CA: bad common name or validity");
		return KORCH_ERR_INVALID_ARG;
	}
	rc = load_cert(p, PKI_CA_NAME, &ca);
	if (rc != 0 && rc != KORCH_ERR_NOT_FOUND) {
		r = rc;
		goto out;
	}
	rk = load_key(p, PKI_CA_NAME, &key);
	if (rk != 0 && rk != KORCH_ERR_NOT_FOUND) {
		r = rk;
		goto out;
	}
	if (rc == KORCH_ERR_NOT_FOUND && rk == KORCH_ERR_NOT_FOUND) {
		if ((r = gen_ec(p, &key)) != 0 ||
		    (r = build_cert(p, key, NULL, key, cn, NULL, NULL, 0,
		    days, 1, &ca)) != 0 ||
		    (r = save_pem(p, PEM_KEY, PKI_CA_NAME, key)) != 0 ||
		    (r = save_pem(p, PEM_CERT, PKI_CA_NAME, ca)) != 0)
			goto out;
		if (created != NULL)
			*created = 1;
	} else if (rc != 0 || rk != 0) {
		seterr(p, "%s/ca.%s exists but ca.%s is missing; remove it to "
		    "create a new CA (every certificate will be re-issued)",
		    p->dir, rc == 0 ? "crt" : "key", rc == 0 ? "key" : "crt");
		r = KORCH_ERR_NOT_FOUND;
		goto out;
	} else {
		if (X509_check_private_key(ca, key) != 1) {
			ERR_clear_error();
			seterr(p, "%s/ca.key does not match ca.crt", p->dir);
			r = KORCH_ERR_PARSE;
			goto out;
		}
		if (X509_check_ca(ca) < 1 ||
		    X509_check_issued(ca, ca) != X509_V_OK) {
			ERR_clear_error();
			seterr(p, "%s/ca.crt is not a self-signed CA "
			    "certificate", p->dir);
			r = KORCH_ERR_PARSE;
			goto out;
		}
		if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(ca),
		    time(NULL)) <= 0) {
			fmt_time(X509_get0_notAfter(ca), date, sizeof(date));
			seterr(p, "%s/ca.crt expired on %s; remove ca.crt and "
			    "ca.key to create a new CA", p->dir, date);
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
	if (!name_valid(name) || bits < 2048 || bits > 16384) {
		seterr(p, "RSA key: bad name or size");
		return KORCH_ERR_INVALID_ARG;
	}
	r = load_key(p, name, &key);
	if (r == KORCH_ERR_NOT_FOUND) {
		if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)bits)) == NULL) {
			r = ossl_fail(p, "generating RSA key");
			goto out;
		}
		if ((r = save_pem(p, PEM_KEY, name, key)) != 0)
			goto out;
		if (created != NULL)
			*created = 1;
	} else if (r != 0)
		goto out;
	else if (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) < bits) {
		seterr(p, "%s/%s.key: not an RSA key of at least %d bits; "
		    "remove it to create a new one", p->dir, name, bits);
		r = KORCH_ERR_PARSE;
		goto out;
	}
	if ((r = to_pem(p, PEM_PUB, key, &pub, &publen)) != 0)
		goto out;
	snprintf(fname, sizeof(fname), "%s.pub", name);
	r = read_file(p, fname, 0, &old, &oldlen);
	if (r != 0 && r != KORCH_ERR_NOT_FOUND)
		goto out;
	if (r == KORCH_ERR_NOT_FOUND || oldlen != publen ||
	    memcmp(old, pub, publen) != 0) {
		if ((r = write_file(p, fname, pub, publen, 0644)) != 0)
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

/* ---- checking an existing certificate ------------------------------------- */

/* The request's SANs and O values as canonical sets. */
static int
req_sets(struct pki *p, const struct pki_req *req, struct strset *sans,
    struct strset *orgs)
{
	unsigned char ip[16];
	const char *s;
	size_t i, j;
	int r;

	for (i = 0; i < req->norgs; i++) {
		if (!text_valid(req->orgs[i])) {
			seterr(p, "%s: bad subject O", req->name);
			return KORCH_ERR_INVALID_ARG;
		}
		if ((r = strset_addn(orgs, req->orgs[i],
		    strlen(req->orgs[i]))) != 0)
			return r;
	}
	for (i = 0; i < req->ndns; i++) {
		s = req->dns[i];
		for (j = 0; s != NULL && s[j] != '\0'; j++)
			if (!isalnum((unsigned char)s[j]) && s[j] != '.' &&
			    s[j] != '-' && s[j] != '_' && s[j] != '*')
				break;
		if (s == NULL || j == 0 || s[j] != '\0' || j > 253) {
			seterr(p, "%s: bad DNS name \"%s\"", req->name,
			    s != NULL ? s : "(null)");
			return KORCH_ERR_INVALID_ARG;
		}
		if ((r = strset_add_dns(sans, (const unsigned char *)s, j))
		    != 0)
			return r;
	}
	for (i = 0; i < req->nips; i++) {
		s = req->ips[i];
		if (s != NULL && inet_pton(AF_INET, s, ip) == 1)
			r = strset_add_ip(sans, ip, 4);
		else if (s != NULL && inet_pton(AF_INET6, s, ip) == 1)
			r = strset_add_ip(sans, ip, 16);
		else {
			seterr(p, "%s: bad IP address \"%s\"", req->name,
			    s != NULL ? s : "(null)");
			return KORCH_ERR_INVALID_ARG;
		}
		if (r != 0)
			return r;
	}
	strset_finish(sans);
	strset_finish(orgs);
	return 0;
}

/* The certificate's SANs as canonical strings. */
static int
cert_sans(X509 *x, struct strset *out)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gn;
	const ASN1_STRING *s;
	char other[32];
	void *v;
	int i, type, crit = -1, r = 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	ERR_clear_error();
	if (gens == NULL)
		return crit == -1 ? 0 : strset_addn(out, "?", 1);
	for (i = 0; r == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		v = GENERAL_NAME_get0_value(gn, &type);
		s = v;
		if (type == GEN_DNS)
			r = strset_add_dns(out, ASN1_STRING_get0_data(s),
			    (size_t)ASN1_STRING_length(s));
		else if (type == GEN_IPADD)
			r = strset_add_ip(out, ASN1_STRING_get0_data(s),
			    (size_t)ASN1_STRING_length(s));
		else {
			snprintf(other, sizeof(other), "OTHER:%d", type);
			r = strset_addn(out, other, strlen(other));
		}
	}
	GENERAL_NAMES_free(gens);
	strset_finish(out);
	return r;
}

/* Every value of nid in the name, as UTF-8. */
static int
name_values(const X509_NAME *nm, int nid, struct strset *out)
{
	unsigned char *u = NULL;
	int i = -1, n, r;

	while ((i = X509_NAME_get_index_by_NID(nm, nid, i)) >= 0) {
		n = ASN1_STRING_to_UTF8(&u,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)));
		if (n < 0) {
			ERR_clear_error();
			r = strset_addn(out, "?", 1);
		} else
			r = strset_addn(out, (const char *)u, (size_t)n);
		OPENSSL_free(u);
		u = NULL;
		if (r != 0)
			return r;
	}
	return 0;
}

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
cert_ok(struct pki *p, const struct pki_req *req, const struct strset *want_sans,
    const struct strset *want_orgs, X509 *x, EVP_PKEY *key, int renew_days,
    char *why, size_t whylen)
{
	struct strset sans = { 0 }, cns = { 0 }, orgs = { 0 };
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
		append(why, whylen, "key does not match certificate");
		r = 0;
		goto out;
	}
	if ((s = signed_by_ca(p, x)) != 1) {
		if (s < 0) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		append(why, whylen, "not signed by the current CA");
		r = 0;
		goto out;
	}
	if (ASN1_TIME_cmp_time_t(na, now + (time_t)renew_days * 86400) <= 0) {
		fmt_time(na, date, sizeof(date));
		append(why, whylen, "%s on %s",
		    ASN1_TIME_cmp_time_t(na, now) <= 0 ? "expired" : "expires",
		    date);
		r = 0;
		goto out;
	}

	/* The rest are all reported together. */
	if ((r = name_values(X509_get_subject_name(x), NID_commonName, &cns))
	    != 0 || (r = name_values(X509_get_subject_name(x),
	    NID_organizationName, &orgs)) != 0 ||
	    (r = cert_sans(x, &sans)) != 0)
		goto out;
	strset_finish(&orgs);
	if (cns.n != 1 || strcmp(cns.v[0], req->cn) != 0) {
		append(why, whylen, "subject changed: CN \"%s\" -> \"%s\"",
		    cns.n > 0 ? cns.v[0] : "", req->cn);
		sep = "; ";
	}
	if (!strset_equal(&orgs, want_orgs)) {
		append(why, whylen, "%ssubject changed: O [", sep);
		for (i = 0; i < orgs.n; i++)
			append(why, whylen, "%s%s", i ? "," : "", orgs.v[i]);
		append(why, whylen, "] -> [");
		for (i = 0; i < want_orgs->n; i++)
			append(why, whylen, "%s%s", i ? "," : "",
			    want_orgs->v[i]);
		append(why, whylen, "]");
		sep = "; ";
	}
	if (!strset_equal(&sans, want_sans)) {
		append(why, whylen, "%sSANs changed:", sep);
		for (i = 0; i < want_sans->n; i++)
			if (!strset_has(&sans, want_sans->v[i]))
				append(why, whylen, " +%s", want_sans->v[i]);
		for (i = 0; i < sans.n; i++)
			if (!strset_has(want_sans, sans.v[i]))
				append(why, whylen, " -%s", sans.v[i]);
		sep = "; ";
	}
	xku = X509_get_extended_key_usage(x);
	if ((xku & XKU_SSL_SERVER) && xku != UINT32_MAX)
		have_usage |= PKI_SERVER;
	if ((xku & XKU_SSL_CLIENT) && xku != UINT32_MAX)
		have_usage |= PKI_CLIENT;
	if (have_usage != req->usage) {
		append(why, whylen, "%susage changed", sep);
		sep = "; ";
	}
	r = sep[0] == '\0';
out:
	strset_free(&sans);
	strset_free(&cns);
	strset_free(&orgs);
	return r;
}

int
pki_ensure_cert(struct pki *p, const struct pki_req *req, int renew_days,
    int *regenerated, char *why, size_t whylen)
{
	struct strset sans = { 0 }, orgs = { 0 };
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
	if (req == NULL || !name_valid(req->name) ||
	    strcmp(req->name, PKI_CA_NAME) == 0) {
		seterr(p, "certificate name \"%.*s\": not [A-Za-z0-9._-]{1,%d} "
		    "or reserved", PKI_NAME_MAX, req != NULL &&
		    req->name != NULL ? req->name : "(null)", PKI_NAME_MAX);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if (!text_valid(req->cn) || req->usage == 0 ||
	    (req->usage & ~(PKI_SERVER | PKI_CLIENT)) || req->days <= 0 ||
	    renew_days < 0 || renew_days > 36500) {
		seterr(p, "certificate %s: bad CN, usage or validity",
		    req->name);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if (p->ca == NULL) {
		seterr(p, "certificate %s: no CA loaded", req->name);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = req_sets(p, req, &sans, &orgs)) != 0)
		goto out;

	r = load_cert(p, req->name, &x);
	if (r == KORCH_ERR_NOT_FOUND)
		append(reason, sizeof(reason), "missing");
	else if (r == KORCH_ERR_PARSE)
		append(reason, sizeof(reason), "unreadable: %s", p->err);
	else if (r != 0)
		goto out;
	if (r == 0) {
		r = load_key(p, req->name, &key);
		if (r == KORCH_ERR_NOT_FOUND)
			append(reason, sizeof(reason), "key missing");
		else if (r == KORCH_ERR_PARSE)
			append(reason, sizeof(reason), "unreadable: %s",
			    p->err);
		else if (r != 0)
			goto out;
	}
	if (x != NULL && key != NULL) {
		r = cert_ok(p, req, &sans, &orgs, x, key, renew_days, reason,
		    sizeof(reason));
		if (r < 0)
			goto out;
		if (r == 1) {
			r = 0;
			goto out;
		}
	}

	if ((r = gen_ec(p, &nkey)) != 0 ||
	    (r = build_cert(p, nkey, p->ca, p->cakey, req->cn, &orgs, &sans,
	    req->usage, req->days, 0, &nx)) != 0 ||
	    (r = save_pem(p, PEM_KEY, req->name, nkey)) != 0 ||
	    (r = save_pem(p, PEM_CERT, req->name, nx)) != 0)
		goto out;
	if (regenerated != NULL)
		*regenerated = 1;
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	p->err[0] = '\0';
	r = 0;
out:
	strset_free(&sans);
	strset_free(&orgs);
	X509_free(x);
	X509_free(nx);
	EVP_PKEY_free(key);
	EVP_PKEY_free(nkey);
	return r;
}

/* ---- reading ------------------------------------------------------------ */

int
pki_read(struct pki *p, const char *name, char **cert_pem, char **key_pem)
{
	char fname[PKI_NAME_MAX + 8], *c = NULL, *k = NULL;
	int r;

	if (cert_pem != NULL)
		*cert_pem = NULL;
	if (key_pem != NULL)
		*key_pem = NULL;
	if (p == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (!name_valid(name)) {
		seterr(p, "bad name");
		return KORCH_ERR_INVALID_ARG;
	}
	if (cert_pem != NULL) {
		snprintf(fname, sizeof(fname), "%s.crt", name);
		if ((r = read_file(p, fname, 0, &c, NULL)) != 0)
			goto out;
	}
	if (key_pem != NULL) {
		snprintf(fname, sizeof(fname), "%s.key", name);
		if ((r = read_file(p, fname, 1, &k, NULL)) != 0)
			goto out;
	}
	if (cert_pem != NULL)
		*cert_pem = c;
	if (key_pem != NULL)
		*key_pem = k;
	c = k = NULL;
	r = 0;
out:
	free(c);
	pki_free_secret(k);
	return r;
}

int
pki_read_pub(struct pki *p, const char *name, char **pub_pem)
{
	char fname[PKI_NAME_MAX + 8];

	if (pub_pem != NULL)
		*pub_pem = NULL;
	if (p == NULL || pub_pem == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (!name_valid(name)) {
		seterr(p, "bad name");
		return KORCH_ERR_INVALID_ARG;
	}
	snprintf(fname, sizeof(fname), "%s.pub", name);
	return read_file(p, fname, 0, pub_pem, NULL);
}

int
pki_fingerprint(struct pki *p, const char *name, char out[SHA256_HEX_SIZE])
{
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n, r;

	if (out != NULL)
		out[0] = '\0';
	if (p == NULL || out == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (!name_valid(name)) {
		seterr(p, "bad name");
		return KORCH_ERR_INVALID_ARG;
	}
	r = load_cert(p, name, &x);
	if (r == KORCH_ERR_NOT_FOUND)
		r = load_pub(p, name, &pub);
	if (r != 0)
		goto out;
	n = x != NULL ? i2d_X509(x, &der) : i2d_PUBKEY(pub, &der);
	if (n <= 0) {
		r = ossl_fail(p, "DER encoding");
		goto out;
	}
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		r = ossl_fail(p, "SHA-256");
		goto out;
	}
	hex(md, mdlen, out);
	r = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(pub);
	return r;
}

/* ---- kubeconfig ------------------------------------------------------------ */

/* base64 (one line) of s; a secret's copy is wiped by the caller. */
static char *
b64(const char *s, size_t *lenp)
{
	size_t n = strlen(s), outlen;
	char *out;

	if (n > PKI_FILE_MAX)
		return NULL;
	outlen = 4 * ((n + 2) / 3) + 1;
	if ((out = malloc(outlen)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
	    (int)n);
	*lenp = outlen;
	return out;
}

/* Goes between YAML double quotes as is. */
static int
quotable(const char *s)
{
	return text_valid(s) && strchr(s, '"') == NULL &&
	    strchr(s, '\\') == NULL;
}

int
pki_kubeconfig(const char *cluster, const char *server_url,
    const char *ca_pem, const char *user, const char *cert_pem,
    const char *key_pem, char **out)
{
	char *ca64 = NULL, *crt64 = NULL, *key64 = NULL, *buf = NULL;
	size_t calen = 0, crtlen = 0, keylen = 0, size = 0;
	int n, r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || !quotable(cluster) || !quotable(server_url) ||
	    !quotable(user) || ca_pem == NULL || ca_pem[0] == '\0' ||
	    cert_pem == NULL || cert_pem[0] == '\0' || key_pem == NULL ||
	    key_pem[0] == '\0')
		return KORCH_ERR_INVALID_ARG;
	if (strlen(ca_pem) > PKI_FILE_MAX || strlen(cert_pem) > PKI_FILE_MAX ||
	    strlen(key_pem) > PKI_FILE_MAX)
		return KORCH_ERR_TOO_LARGE;
	if ((ca64 = b64(ca_pem, &calen)) == NULL ||
	    (crt64 = b64(cert_pem, &crtlen)) == NULL ||
	    (key64 = b64(key_pem, &keylen)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
#define KUBECONFIG_FMT \
	"apiVersion: v1\n" \
	"kind: Config\n" \
	"clusters:\n" \
	"- name: \"%s\"\n" \
	"  cluster:\n" \
	"    certificate-authority-data: %s\n" \
	"    server: \"%s\"\n" \
	"users:\n" \
	"- name: \"%s\"\n" \
	"  user:\n" \
	"    client-certificate-data: %s\n" \
	"    client-key-data: %s\n" \
	"contexts:\n" \
	"- name: \"%s@%s\"\n" \
	"  context:\n" \
	"    cluster: \"%s\"\n" \
	"    user: \"%s\"\n" \
	"current-context: \"%s@%s\"\n" \
	"preferences: {}\n"
	n = snprintf(NULL, 0, KUBECONFIG_FMT, cluster, ca64, server_url,
	    user, crt64, key64, user, cluster, cluster, user, user, cluster);
	if (n < 0) {
		r = KORCH_ERR_TOO_LARGE;
		goto out;
	}
	size = (size_t)n + 1;
	if ((buf = malloc(size)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (snprintf(buf, size, KUBECONFIG_FMT, cluster, ca64, server_url,
	    user, crt64, key64, user, cluster, cluster, user, user, cluster)
	    != n) {
		r = KORCH_ERR_INTERNAL;
		goto out;
	}
#undef KUBECONFIG_FMT
	*out = buf;
	buf = NULL;
	r = 0;
out:
	free_secret_n(buf, size);
	free(ca64);
	free(crt64);
	free_secret_n(key64, keylen);
	return r;
}
