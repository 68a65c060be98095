/*
 * known_hosts.c - cached OpenSSH known_hosts files, checked through
 * libssh2's knownhost API.  See known_hosts.h.
 *
 * Why not libssh2_knownhost_readfile(): it stops at the first line it
 * cannot parse (an @cert-authority marker is enough) and it forgets line
 * numbers, which an operator needs to fix a mismatch.  So we read the file
 * ourselves and hand libssh2 one line at a time with
 * libssh2_knownhost_readline(), remembering which entries each line made.
 *
 * Why the host is passed to libssh2_knownhost_checkp() pre-formatted with
 * port -1: given a port, libssh2 also falls back to the bare host name, so
 * a key recorded for the sshd on port 22 would be reported as a mismatch
 * for a different sshd on port 2222 of the same address.  OpenSSH looks up
 * "[addr]:port" only, and so do we.
 *
 * The cache is process-wide (one parse per path, shared by every
 * connection of the run) and lives until kh_cache_flush().
 *
 * Why an index: libssh2_knownhost_checkp() walks every entry of its
 * collection, and a connection asks seven times (six key-type probes for
 * the host key preference, then the check), so one collection for the whole
 * file costs O(hosts x entries) per run: about 10^9 comparisons for 10,000
 * hosts, and an HMAC-SHA1 per hashed entry per probe.  So each plain host
 * name gets a small collection of its own (a hash table by name), and a
 * hashed entry ("|1|salt|hash") is kept aside and matched against a host
 * name once, the first time that name is looked up (one HMAC per hashed
 * entry per host, not seven); the entries that match are added to that
 * name's collection, written with the plain name.  A name's collection
 * holds its plain lines in file order, then its hashed ones.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "fdio.h"
#include "base/digest.h"
#include "base/grow.h"
#include "ssh/known_hosts.h"
#include "ssh/known_hosts-int.h"

struct kh_map {
	const void	*node;		/* libssh2's entry (ext->node) */
	int		 line;
};

/* One libssh2 collection and the file line of each of its entries. */
struct kh_coll {
	LIBSSH2_KNOWNHOSTS	*kh;
	struct libssh2_knownhost *last;	/* last entry already mapped */
	struct kh_map		*map;
	size_t			 nmap, capmap;
};

/* Everything the file says about one host name (a hash table slot). */
struct kh_bucket {
	char			*name;		/* NULL: free slot */
	int			 resolved;	/* hashed entries matched */
	int			 last_line;	/* last line fed (dedup) */
	struct kh_coll		 c;
};

/* A "|1|salt|hash keytype key [comment]" line, matched on demand. */
struct kh_hashed {
	unsigned char		 salt[64];
	int			 saltlen;
	unsigned char		 hash[20];
	char			*rest;		/* " keytype key [comment]" */
	int			 line;
};

struct kh_file {
	struct kh_file		*next;
	char			*path;
	int			 loaded;
	int			 exists;
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtime;
	int			 nlines;	/* lines in the file */
	int			 ends_nl;	/* empty or ends with '\n' */
	/* libssh2 wants a session to allocate through; this one never
	 * connects and outlives every real session. */
	LIBSSH2_SESSION		*sess;
	struct kh_bucket	*tab;		/* open addressing, by name */
	size_t			 tabcap, tabused;
	struct kh_hashed	*hashed;
	size_t			 nhashed, caphashed;
	struct kh_markers	 markers;	/* @revoked, @cert-authority */
};

static struct kh_file *kh_cache;

int
kh_hostspec(const char *address, int port, char *out, size_t outlen)
{
	int n;

	if (port == 22)
		n = snprintf(out, outlen, "%s", address);
	else
		n = snprintf(out, outlen, "[%s]:%d", address, port);
	if (n < 0 || (size_t)n >= outlen)
		return KORCH_ERR_TOO_LARGE;
	return 0;
}

void
kh_fp_from_sha256(const unsigned char digest[32], char out[KH_FP_MAX])
{
	size_t n;

	memcpy(out, "SHA256:", 7);
	n = (size_t)EVP_EncodeBlock((unsigned char *)out + 7, digest, 32);
	while (n > 0 && out[7 + n - 1] == '=')
		n--;
	out[7 + n] = '\0';
}

int
kh_fp_from_blob(const void *blob, size_t len, char out[KH_FP_MAX])
{
	unsigned char md[SHA256_RAW_SIZE];
	int r = sha256_raw(blob, len, md);

	if (r == 0)
		kh_fp_from_sha256(md, out);
	return r;
}

/* Map a libssh2 host key type to its knownhost key bits. */
static int
kh_keybits(int key_type)
{
	switch (key_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:	return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:				return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

static void
kh_coll_clear(struct kh_coll *c)
{
	if (c->kh != NULL)
		libssh2_knownhost_free(c->kh);
	free(c->map);
	memset(c, 0, sizeof(*c));
}

static void
kh_file_clear(struct kh_file *f)
{
	size_t i;

	for (i = 0; i < f->tabcap; i++) {
		free(f->tab[i].name);
		kh_coll_clear(&f->tab[i].c);
	}
	free(f->tab);
	for (i = 0; i < f->nhashed; i++)
		free(f->hashed[i].rest);
	free(f->hashed);
	kh_markers_clear(&f->markers);
	if (f->sess != NULL)
		libssh2_session_free(f->sess);
	f->tab = NULL;
	f->tabcap = f->tabused = 0;
	f->hashed = NULL;
	f->nhashed = f->caphashed = 0;
	f->sess = NULL;
	f->loaded = 0;
	f->nlines = 0;
	f->ends_nl = 1;
	f->exists = 0;
}

static void
kh_file_free(struct kh_file *f)
{
	if (f == NULL)
		return;
	kh_file_clear(f);
	free(f->path);
	free(f);
}

/* Record the entries libssh2 added since c->last as coming from line. */
static int
kh_map_new_entries(struct kh_coll *c, int line)
{
	struct libssh2_knownhost *ext;
	struct kh_map *m;

	while (libssh2_knownhost_get(c->kh, &ext, c->last) == 0) {
		if ((m = grow_room(c->map, c->nmap, &c->capmap, sizeof(*m),
		    4)) == NULL)
			return KORCH_ERR_ALLOC;
		c->map = m;
		c->map[c->nmap].node = ext->node;
		c->map[c->nmap].line = line;
		c->nmap++;
		c->last = ext;
	}
	return 0;
}

static int
kh_line_of(const struct kh_coll *c, const struct libssh2_knownhost *ext)
{
	size_t i;

	for (i = 0; ext != NULL && i < c->nmap; i++)
		if (c->map[i].node == ext->node)
			return c->map[i].line;
	return 0;
}

/* Hand one line to a collection; lines libssh2 cannot parse are skipped. */
static int
kh_coll_feed(struct kh_file *f, struct kh_coll *c, const char *line,
    size_t len, int lineno)
{
	if (c->kh == NULL && (c->kh = libssh2_knownhost_init(f->sess)) == NULL)
		return KORCH_ERR_ALLOC;
	if (libssh2_knownhost_readline(c->kh, line, len,
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
		return 0;
	return kh_map_new_entries(c, lineno);
}

static uint64_t
kh_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ull;
	}
	return h;
}

static int
kh_tab_grow(struct kh_file *f)
{
	struct kh_bucket *old = f->tab, *nt, *b;
	size_t oldcap = f->tabcap, cap = oldcap ? oldcap * 2 : 64, i, j;

	if ((nt = calloc(cap, sizeof(*nt))) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < oldcap; i++) {
		if (old[i].name == NULL)
			continue;
		j = kh_hash(old[i].name, strlen(old[i].name)) & (cap - 1);
		for (b = &nt[j]; b->name != NULL; b = &nt[j])
			j = (j + 1) & (cap - 1);
		*b = old[i];
	}
	free(old);
	f->tab = nt;
	f->tabcap = cap;
	return 0;
}

/* The bucket for name[0..n), made (empty) when create is set; NULL when
 * there is none (or no memory: *err says). */
static struct kh_bucket *
kh_bucket_get(struct kh_file *f, const char *name, size_t n, int create,
    int *err)
{
	struct kh_bucket *b;
	size_t j;

	*err = 0;
	if (f->tabcap > 0) {
		j = kh_hash(name, n) & (f->tabcap - 1);
		for (b = &f->tab[j]; b->name != NULL; b = &f->tab[j]) {
			/* Not strncmp: a NUL inside name[0..n) (a known_hosts
			 * line may hold one) would end the comparison early
			 * and send b->name[n] past a shorter name. */
			if (strlen(b->name) == n && memcmp(b->name, name, n) == 0)
				return b;
			j = (j + 1) & (f->tabcap - 1);
		}
	}
	if (!create)
		return NULL;
	if ((f->tabused + 1) * 10 > f->tabcap * 7 &&
	    (*err = kh_tab_grow(f)) != 0)
		return NULL;
	j = kh_hash(name, n) & (f->tabcap - 1);
	for (b = &f->tab[j]; b->name != NULL; b = &f->tab[j])
		j = (j + 1) & (f->tabcap - 1);
	if ((b->name = strndup(name, n)) == NULL) {
		*err = KORCH_ERR_ALLOC;
		return NULL;
	}
	f->tabused++;
	return b;
}

/* base64 of exactly outlen bytes (with or without padding); 0 or -1. */
static int
kh_b64_exact(const char *p, size_t n, unsigned char *out, int outlen)
{
	unsigned char tmp[96];
	size_t pad = 0;
	int got;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(tmp))
		return -1;
	while (pad < 2 && p[n - 1 - pad] == '=')
		pad++;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)p, (int)n);
	if (got < 0 || got - (int)pad != outlen)
		return -1;
	memcpy(out, tmp, (size_t)outlen);
	return 0;
}

/* Keep a hashed line aside; one that does not parse is skipped. */
static int
kh_hashed_add(struct kh_file *f, const char *host, size_t hlen,
    const char *rest, size_t rlen, int lineno)
{
	struct kh_hashed *h;
	const char *salt, *bar;
	size_t slen;
	int saltlen;

	/* |1|base64(salt)|base64(HMAC-SHA1(salt, name)) */
	if (hlen < 4 || memcmp(host, "|1|", 3) != 0)
		return 0;
	salt = host + 3;
	if ((bar = memchr(salt, '|', hlen - 3)) == NULL)
		return 0;
	slen = (size_t)(bar - salt);
	if ((h = grow_room(f->hashed, f->nhashed, &f->caphashed, sizeof(*h),
	    16)) == NULL)
		return KORCH_ERR_ALLOC;
	f->hashed = h;
	h = &f->hashed[f->nhashed];
	memset(h, 0, sizeof(*h));
	/* OpenSSH salts are 20 bytes; accept what fits. */
	for (saltlen = 1; saltlen <= (int)sizeof(h->salt); saltlen++)
		if (kh_b64_exact(salt, slen, h->salt, saltlen) == 0)
			break;
	if (saltlen > (int)sizeof(h->salt) ||
	    kh_b64_exact(bar + 1, hlen - 3 - slen - 1, h->hash, 20) != 0)
		return 0;
	h->saltlen = saltlen;
	if ((h->rest = strndup(rest, rlen)) == NULL)
		return KORCH_ERR_ALLOC;
	h->line = lineno;
	f->nhashed++;
	return 0;
}

/* Sort one line into the index. */
static int
kh_feed_line(struct kh_file *f, const char *line, size_t len, int lineno)
{
	struct kh_bucket *b;
	const char *host, *name, *e;
	size_t i = 0, hlen, tlen;
	int r;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '\n' || line[i] == '\r' ||
	    line[i] == '#')
		return 0;
	if (line[i] == '@')
		return kh_markers_add(&f->markers, line + i, len - i, lineno);
	line += i;
	len -= i;
	/* The newline stays in what libssh2 gets: its parser looks one byte
	 * past the length it is given for a newline to drop. */
	tlen = len;
	while (tlen > 0 && (line[tlen - 1] == '\n' || line[tlen - 1] == '\r'))
		tlen--;
	host = line;
	for (hlen = 0; hlen < tlen && line[hlen] != ' ' &&
	    line[hlen] != '\t'; hlen++)
		;
	if (hlen == tlen)
		return 0;	/* no key: libssh2 would skip it too */
	if (host[0] == '|')
		return kh_hashed_add(f, host, hlen, line + hlen, tlen - hlen,
		    lineno);
	/* "name[,name...]": the whole line goes to each name's bucket. */
	for (name = host; name < host + hlen; name = e + 1) {
		if ((e = memchr(name, ',', (size_t)(host + hlen - name))) ==
		    NULL)
			e = host + hlen;
		if (e == name)
			continue;
		if ((b = kh_bucket_get(f, name, (size_t)(e - name), 1, &r)) ==
		    NULL)
			return r;
		if (b->last_line == lineno)
			continue;	/* "a,a key": once is enough */
		b->last_line = lineno;
		if ((r = kh_coll_feed(f, &b->c, line, len, lineno)) != 0)
			return r;
	}
	return 0;
}

/*
 * The bucket for hostspec with the file's hashed entries for it matched
 * in; NULL with *err == 0 when the file says nothing about hostspec.
 */
static struct kh_bucket *
kh_lookup(struct kh_file *f, const char *hostspec, int *err)
{
	struct kh_bucket *b;
	struct kh_hashed *h;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char *line;
	size_t i, n = strlen(hostspec), rl;
	int r;

	*err = 0;
	if ((b = kh_bucket_get(f, hostspec, n, f->nhashed > 0, err)) == NULL)
		return NULL;
	if (b->resolved)
		return b;
	for (i = 0; i < f->nhashed; i++) {
		h = &f->hashed[i];
		mdlen = 0;
		if (HMAC(EVP_sha1(), h->salt, h->saltlen,
		    (const unsigned char *)hostspec, n, md, &mdlen) == NULL ||
		    mdlen != 20 || memcmp(md, h->hash, 20) != 0)
			continue;
		rl = strlen(h->rest);
		if ((line = malloc(n + rl + 1)) == NULL) {
			*err = KORCH_ERR_ALLOC;
			return NULL;
		}
		memcpy(line, hostspec, n);
		memcpy(line + n, h->rest, rl + 1);
		r = kh_coll_feed(f, &b->c, line, n + rl, h->line);
		free(line);
		if (r != 0) {
			*err = r;
			return NULL;
		}
	}
	b->resolved = 1;
	return b;
}

/* The file as it is now (st), to notice when it changes under the cache. */
static void
kh_file_stamp(struct kh_file *f, const struct stat *st)
{
	f->exists = 1;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
}

static int
kh_file_load(struct kh_file *f)
{
	struct stat st;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0, lineno = 0, last_nl = 1;

	kh_file_clear(f);
	if ((f->sess = libssh2_session_init()) == NULL) {
		kh_file_clear(f);
		return KORCH_ERR_ALLOC;
	}
	f->loaded = 1;
	if ((fp = fopen(f->path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;	/* no file: nothing is known */
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	if (fstat(fileno(fp), &st) != 0) {
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	kh_file_stamp(f, &st);
	while ((n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		last_nl = line[n - 1] == '\n';
		if ((r = kh_feed_line(f, line, (size_t)n, lineno)) != 0)
			goto out;
	}
	if (ferror(fp)) {
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	f->nlines = lineno;
	f->ends_nl = last_nl;
 out:
	free(line);
	if (fp != NULL) {
		int saved = errno;

		fclose(fp);
		errno = saved;
	}
	if (r != 0)
		kh_file_clear(f);
	return r;
}

/* The cached parse of path, (re)loaded when the file changed. */
static int
kh_get(const char *path, struct kh_file **out)
{
	struct kh_file *f;
	struct stat st;
	int r, have;

	for (f = kh_cache; f != NULL; f = f->next)
		if (strcmp(f->path, path) == 0)
			break;
	have = stat(path, &st) == 0;
	if (!have && errno != ENOENT)
		return KORCH_ERR_SYSTEM;
	if (f != NULL && f->loaded) {
		if (!have && !f->exists) {
			*out = f;
			return 0;
		}
		if (have && f->exists && f->dev == st.st_dev &&
		    f->ino == st.st_ino && f->size == st.st_size &&
		    f->mtime.tv_sec == st.st_mtim.tv_sec &&
		    f->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			*out = f;
			return 0;
		}
	}
	if (f == NULL) {
		if ((f = calloc(1, sizeof(*f))) == NULL ||
		    (f->path = strdup(path)) == NULL) {
			free(f);
			return KORCH_ERR_ALLOC;
		}
		f->next = kh_cache;
		kh_cache = f;
	}
	if ((r = kh_file_load(f)) != 0)
		return r;
	*out = f;
	return 0;
}

/* Decode a base64 key as stored in an entry and fingerprint it. */
static int
kh_fp_from_b64(const char *b64, char out[KH_FP_MAX])
{
	size_t len = strlen(b64), pad = 0;
	unsigned char *blob;
	int n, r;

	if (len == 0 || len % 4 != 0)
		return KORCH_ERR_PARSE;
	if ((blob = malloc(len / 4 * 3 + 1)) == NULL)
		return KORCH_ERR_ALLOC;
	n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(blob);
		return KORCH_ERR_PARSE;
	}
	while (pad < 2 && len > pad && b64[len - 1 - pad] == '=')
		pad++;
	r = kh_fp_from_blob(blob, (size_t)n - pad, out);
	free(blob);
	return r;
}

int
kh_check(const char *path, const char *hostspec, const void *key,
    size_t keylen, int key_type, struct kh_result *res)
{
	struct libssh2_knownhost *ext = NULL;
	struct kh_bucket *b;
	struct kh_file *f;
	int r;

	memset(res, 0, sizeof(*res));
	res->status = KH_UNKNOWN;
	if ((r = kh_get(path, &f)) != 0)
		return r;
	/* Revoked wins over any line that lists the key. */
	if ((res->line = kh_markers_find(&f->markers, KH_MARK_REVOKED,
	    hostspec, key, keylen)) != 0) {
		res->status = KH_REVOKED;
		return 0;
	}
	if ((b = kh_lookup(f, hostspec, &r)) == NULL || b->c.kh == NULL) {
		if (r == 0 && (res->line = kh_markers_find(&f->markers,
		    KH_MARK_CA, hostspec, NULL, 0)) != 0)
			res->status = KH_CERT_AUTHORITY;
		return r;
	}
	r = libssh2_knownhost_checkp(b->c.kh, hostspec, -1, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    kh_keybits(key_type), &ext);
	switch (r) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		res->status = KH_MATCH;
		res->line = kh_line_of(&b->c, ext);
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		res->status = KH_MISMATCH;
		res->line = kh_line_of(&b->c, ext);
		if (ext == NULL || ext->key == NULL ||
		    kh_fp_from_b64(ext->key, res->expected_fp) != 0)
			snprintf(res->expected_fp, sizeof(res->expected_fp),
			    "(unreadable key)");
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if ((res->line = kh_markers_find(&f->markers, KH_MARK_CA,
		    hostspec, NULL, 0)) != 0)
			res->status = KH_CERT_AUTHORITY;
		return 0;
	default:
		return KORCH_ERR_ALLOC;
	}
}

int
kh_known_types(const char *path, const char *hostspec, unsigned *mask)
{
	static const int types[] = {
		LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_HOSTKEY_TYPE_ECDSA_256,
		LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_HOSTKEY_TYPE_ECDSA_521,
		LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_HOSTKEY_TYPE_DSS,
	};
	struct kh_bucket *b;
	struct kh_file *f;
	size_t i;
	int r;

	*mask = 0;
	if ((r = kh_get(path, &f)) != 0)
		return r;
	if ((b = kh_lookup(f, hostspec, &r)) == NULL || b->c.kh == NULL)
		return r;
	/* A key that cannot match: a MISMATCH answer means the file has an
	 * entry for this host with this key type. */
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		r = libssh2_knownhost_checkp(b->c.kh, hostspec, -1, "AAAA", 4,
		    LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		    LIBSSH2_KNOWNHOST_KEYENC_BASE64 | kh_keybits(types[i]),
		    NULL);
		if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			*mask |= 1u << types[i];
	}
	return 0;
}

/* The key type name at the start of an SSH key blob ("ssh-ed25519"). */
static int
kh_blob_type(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
	uint32_t n;
	size_t i;

	if (len < 4)
		return KORCH_ERR_PARSE;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3];
	if (n == 0 || n >= outlen || n > len - 4)
		return KORCH_ERR_PARSE;
	for (i = 0; i < n; i++) {
		unsigned char ch = blob[4 + i];

		if (ch <= ' ' || ch >= 0x7f)
			return KORCH_ERR_PARSE;
		out[i] = (char)ch;
	}
	out[n] = '\0';
	return 0;
}


int
kh_add(const char *path, const char *hostspec, const void *key,
    size_t keylen, int key_type, int *line)
{
	struct kh_file *f;
	struct stat st;
	char tname[64], *buf = NULL, *b64 = NULL;
	size_t blen, hlen, tlen, b64len, n = 0;
	off_t before;
	int r, fd = -1, lineno;

	(void)key_type;	/* the blob names its own type */
	*line = 0;
	if ((r = kh_blob_type(key, keylen, tname, sizeof(tname))) != 0)
		return r;
	if (keylen > 64 * 1024 || strpbrk(hostspec, " \t\r\n#") != NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((r = kh_get(path, &f)) != 0)
		return r;
	b64len = 4 * ((keylen + 2) / 3);
	hlen = strlen(hostspec);
	tlen = strlen(tname);
	blen = 1 + hlen + 1 + tlen + 1 + b64len + 2;
	if ((b64 = malloc(b64len + 1)) == NULL ||
	    (buf = malloc(blen)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, key, (int)keylen);
	if (f->exists && !f->ends_nl)
		buf[n++] = '\n';	/* the last line had no newline */
	memcpy(buf + n, hostspec, hlen);
	n += hlen;
	buf[n++] = ' ';
	memcpy(buf + n, tname, tlen);
	n += tlen;
	buf[n++] = ' ';
	memcpy(buf + n, b64, b64len);
	n += b64len;
	buf[n++] = '\n';

	before = f->exists ? f->size : 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	/* One write: the line lands whole or not at all in practice. */
	if ((r = kp_write_all(fd, buf, n)) != 0)
		goto out;
	if (fstat(fd, &st) != 0) {
		r = KORCH_ERR_SYSTEM;
		goto out;
	}

	/* Keep the cache in step with what we wrote, unless someone else
	 * wrote too: then the next lookup rereads the file. */
	lineno = f->nlines + 1;
	if (st.st_size != before + (off_t)n) {
		kh_file_clear(f);	/* stale: reload on next use */
		*line = 0;
		r = 0;
		goto out;
	}
	if ((r = kh_feed_line(f, buf + (buf[0] == '\n'), n - (buf[0] == '\n'),
	    lineno)) != 0) {
		kh_file_clear(f);
		goto out;
	}
	kh_file_stamp(f, &st);
	f->nlines = lineno;
	f->ends_nl = 1;
	*line = lineno;
 out:
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	free(buf);
	free(b64);
	return r;
}

void
kh_cache_flush(void)
{
	struct kh_file *f;

	while ((f = kh_cache) != NULL) {
		kh_cache = f->next;
		kh_file_free(f);
	}
}
