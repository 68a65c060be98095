/*
 * pki_store.c - the files of the PKI directory: read and written whole,
 * through the directory's descriptor, and turned to and from OpenSSL
 * objects as PEM; pki_read, pki_read_pub and pki_fingerprint.
 *
 * Files are reached through a descriptor on the directory (openat,
 * renameat), so a long or changing path cannot redirect a write, and every
 * file is written to a hidden temporary name with its final mode and then
 * renamed over the old one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "err.h"
#include "fdio.h"
#include "base/digest.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"
#include "sha256hex.h"

/* ---- files ---------------------------------------------------------------- */

/*
 * Read fname (in the PKI dir) whole, NUL-terminated.  secret: the buffer
 * is wiped on every error path, and a key file group/other can read is
 * narrowed to 0600 first.  KORCH_ERR_NOT_FOUND when missing.
 */
int
pki_read_file(struct pki *p, const char *fname, int secret, char **out,
    size_t *lenp)
{
	struct stat st;
	size_t len;
	int fd, r;

	*out = NULL;
	if ((fd = openat(p->dirfd, fname, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			pki_seterr(p, "%s/%s: missing", p->dir, fname);
			return KORCH_ERR_NOT_FOUND;
		}
		return pki_sys_fail(p, "open", fname);
	}
	if (secret && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 077) != 0 && fchmod(fd, 0600) == -1) {
		r = pki_sys_fail(p, "chmod", fname);
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
		pki_seterr(p, "%s/%s: not a regular file", p->dir, fname);
		return r;
	case KORCH_ERR_TOO_LARGE:
		pki_seterr(p, "%s/%s: larger than %d bytes", p->dir, fname,
		    PKI_FILE_MAX);
		return r;
	case KORCH_ERR_SYSTEM:
		return pki_sys_fail(p, "read", fname);
	default:
		return r;
	}
}

/* Write fname atomically with mode: a new hidden file, fsync, rename. */
int
pki_write_file(struct pki *p, const char *fname, const char *data, size_t len,
    mode_t mode)
{
	char tmp[PKI_NAME_MAX + 64];
	unsigned char rnd[8];
	char rhex[2 * sizeof(rnd) + 1];
	int fd = -1, tries, made = 0, r;

	for (tries = 0;; tries++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			r = pki_ossl_fail(p, "random temporary name");
			goto out;
		}
		digest_hex(rnd, sizeof(rnd), rhex);
		snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", fname, rhex);
		fd = openat(p->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1)
			break;
		if (errno != EEXIST || tries >= 8) {
			r = pki_sys_fail(p, "create", tmp);
			goto out;
		}
	}
	made = 1;
	/* The umask may have taken bits off a 0644 certificate. */
	if (fchmod(fd, mode) == -1) {
		r = pki_sys_fail(p, "chmod", tmp);
		goto out;
	}
	if (kp_write_all(fd, data, len) != KORCH_OK) {
		r = pki_sys_fail(p, "write", tmp);
		goto out;
	}
	if (fsync(fd) == -1) {
		r = pki_sys_fail(p, "fsync", tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = pki_sys_fail(p, "close", tmp);
		goto out;
	}
	fd = -1;
	if (renameat(p->dirfd, tmp, p->dirfd, fname) == -1) {
		r = pki_sys_fail(p, "rename to", fname);
		goto out;
	}
	made = 0;
	/* Some file systems cannot fsync a directory; that is no error. */
	if (fsync(p->dirfd) == -1 && errno != EINVAL && errno != EROFS) {
		r = pki_sys_fail(p, "fsync", ".");
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
		return pki_ossl_fail(p, "PEM encoding");
	if ((s = malloc((size_t)n + 1)) == NULL)
		return KORCH_ERR_ALLOC;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*out = s;
	*lenp = (size_t)n;
	return 0;
}

/* The PEM text of obj (an EVP_PKEY or an X509, as kind says). */
int
pki_to_pem(struct pki *p, enum pem_kind kind, void *obj, char **out,
    size_t *lenp)
{
	static const char *const what[] = { "encoding private key",
	    "encoding certificate", "encoding public key" };
	BIO *b = NULL;
	int ok = 0, r;

	/* Keys only ever pass through secure memory. */
	if ((b = BIO_new(kind == PEM_KEY ? BIO_s_secmem() : BIO_s_mem())) ==
	    NULL) {
		r = pki_ossl_fail(p, "BIO_new");
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
		r = pki_ossl_fail(p, what[kind]);
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
	if ((r = pki_read_file(p, fname, secret, &text, &len)) != 0)
		goto out;
	if ((b = BIO_new_mem_buf(text, (int)len)) == NULL) {
		r = pki_ossl_fail(p, "BIO_new_mem_buf");
		goto out;
	}
	if (strcmp(ext, ".crt") == 0)
		obj = PEM_read_bio_X509(b, NULL, no_pass, NULL);
	else if (secret)
		obj = PEM_read_bio_PrivateKey(b, NULL, no_pass, NULL);
	else
		obj = PEM_read_bio_PUBKEY(b, NULL, no_pass, NULL);
	if (obj == NULL) {
		pki_ossl_fail(p, "PEM");
		pki_seterr(p, "%s/%s: not a PEM %s", p->dir, fname,
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
		pki_free_secret_n(text, len);
	else
		free(text);
	return r;
}

int
pki_load_cert(struct pki *p, const char *name, X509 **out)
{
	void *obj = NULL;
	int r = load_pem(p, name, ".crt", &obj);

	*out = obj;
	return r;
}

int
pki_load_key(struct pki *p, const char *name, EVP_PKEY **out)
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
int
pki_save_pem(struct pki *p, enum pem_kind kind, const char *name, void *obj)
{
	char fname[PKI_NAME_MAX + 8], *pem = NULL;
	size_t len = 0;
	int r;

	snprintf(fname, sizeof(fname), "%s%s", name,
	    kind == PEM_KEY ? ".key" : ".crt");
	if ((r = pki_to_pem(p, kind, obj, &pem, &len)) != 0)
		goto out;
	r = pki_write_file(p, fname, pem, len, kind == PEM_KEY ? 0600 : 0644);
out:
	pki_free_secret_n(pem, len);	/* harmless for a certificate */
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
	if (!pki_name_valid(name)) {
		pki_seterr(p, "bad name");
		return KORCH_ERR_INVALID_ARG;
	}
	if (cert_pem != NULL) {
		snprintf(fname, sizeof(fname), "%s.crt", name);
		if ((r = pki_read_file(p, fname, 0, &c, NULL)) != 0)
			goto out;
	}
	if (key_pem != NULL) {
		snprintf(fname, sizeof(fname), "%s.key", name);
		if ((r = pki_read_file(p, fname, 1, &k, NULL)) != 0)
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
	if (!pki_name_valid(name)) {
		pki_seterr(p, "bad name");
		return KORCH_ERR_INVALID_ARG;
	}
	snprintf(fname, sizeof(fname), "%s.pub", name);
	return pki_read_file(p, fname, 0, pub_pem, NULL);
}

int
pki_fingerprint(struct pki *p, const char *name, char out[SHA256_HEX_SIZE])
{
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char *der = NULL;
	int n, r;

	if (out != NULL)
		out[0] = '\0';
	if (p == NULL || out == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (!pki_name_valid(name)) {
		pki_seterr(p, "bad name");
		return KORCH_ERR_INVALID_ARG;
	}
	r = pki_load_cert(p, name, &x);
	if (r == KORCH_ERR_NOT_FOUND)
		r = load_pub(p, name, &pub);
	if (r != 0)
		goto out;
	n = x != NULL ? i2d_X509(x, &der) : i2d_PUBKEY(pub, &der);
	if (n <= 0)
		r = pki_ossl_fail(p, "DER encoding");
	else if (sha256_hex(der, (size_t)n, out) != 0)
		r = pki_ossl_fail(p, "SHA-256");
	else
		r = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(pub);
	return r;
}
