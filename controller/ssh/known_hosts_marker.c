/*
 * known_hosts_marker.c - the known_hosts lines that start with a marker:
 * "@revoked PATTERNS KEYTYPE KEY" (that key must never be accepted for a
 * host the patterns match, even if another line lists it) and
 * "@cert-authority PATTERNS ..." (korch does not check host certificates,
 * so such a host is refused clearly rather than trusted on first use).
 * libssh2's parser knows neither, so they are kept here, beside the
 * libssh2 collections known_hosts.c builds from the other lines.
 *
 * Patterns are OpenSSH's: a comma list of names with '*' and '?'
 * (case-insensitive), "!pattern" to exclude, or one hashed "|1|salt|hash"
 * name.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "base/grow.h"
#include "ssh/known_hosts-int.h"

struct kh_marker {
	enum kh_marker_kind	 kind;
	char			*patterns;
	unsigned char		*key;		/* decoded blob */
	size_t			 keylen;
	int			 line;
};

void
kh_markers_clear(struct kh_markers *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].patterns);
		free(m->v[i].key);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* The next whitespace-separated word of p[0..n) from *i. */
static int
word(const char *p, size_t n, size_t *i, const char **w, size_t *wlen)
{
	while (*i < n && (p[*i] == ' ' || p[*i] == '\t'))
		(*i)++;
	*w = p + *i;
	while (*i < n && p[*i] != ' ' && p[*i] != '\t' && p[*i] != '\r' &&
	    p[*i] != '\n')
		(*i)++;
	*wlen = (size_t)(p + *i - *w);
	return *wlen > 0;
}

static unsigned char *
b64_decode(const char *p, size_t n, size_t *outlen)
{
	unsigned char *out;
	size_t pad = 0;
	int got;

	if (n == 0 || n % 4 != 0 || n > 64 * 1024)
		return NULL;
	if ((out = malloc(n / 4 * 3 + 1)) == NULL)
		return NULL;
	while (pad < 2 && p[n - 1 - pad] == '=')
		pad++;
	got = EVP_DecodeBlock(out, (const unsigned char *)p, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)got - pad;
	return out;
}

int
kh_markers_add(struct kh_markers *m, const char *line, size_t len,
    int lineno)
{
	struct kh_marker *mk, tmp;
	const char *w;
	size_t i = 0, wl;

	memset(&tmp, 0, sizeof(tmp));
	if (!word(line, len, &i, &w, &wl))
		return 0;
	if (wl == 8 && strncasecmp(w, "@revoked", 8) == 0)
		tmp.kind = KH_MARK_REVOKED;
	else if (wl == 15 && strncasecmp(w, "@cert-authority", 15) == 0)
		tmp.kind = KH_MARK_CA;
	else
		return 0;	/* a marker OpenSSH does not know either */
	if (!word(line, len, &i, &w, &wl))
		return 0;
	if ((tmp.patterns = strndup(w, wl)) == NULL)
		return KORCH_ERR_ALLOC;
	/* The key type word, then the key. */
	if (!word(line, len, &i, &w, &wl) || !word(line, len, &i, &w, &wl) ||
	    (tmp.key = b64_decode(w, wl, &tmp.keylen)) == NULL) {
		/* Unreadable: it matches nothing (OpenSSH skips it too). */
		free(tmp.patterns);
		return 0;
	}
	tmp.line = lineno;
	if ((mk = grow_room(m->v, m->n, &m->cap, sizeof(*mk), 4)) == NULL) {
		free(tmp.patterns);
		free(tmp.key);
		return KORCH_ERR_ALLOC;
	}
	m->v = mk;
	m->v[m->n++] = tmp;
	return 0;
}

/* OpenSSH's match_pattern(): '*' and '?', case-insensitive. */
static int
glob(const char *p, size_t pn, const char *s)
{
	size_t i;

	for (i = 0; i < pn; i++, s++) {
		if (p[i] == '*') {
			for (;; s++) {
				if (glob(p + i + 1, pn - i - 1, s))
					return 1;
				if (*s == '\0')
					return 0;
			}
		}
		if (*s == '\0')
			return 0;
		if (p[i] != '?' && tolower_ascii(p[i]) != tolower_ascii(*s))
			return 0;
	}
	return *s == '\0';
}

static int
hashed_match(const char *p, size_t n, const char *hostspec)
{
	const char *bar;
	unsigned char *salt, *hash, md[EVP_MAX_MD_SIZE];
	size_t saltlen = 0, hashlen = 0;
	unsigned int mdlen = 0;
	int ok = 0;

	if (n < 4 || memcmp(p, "|1|", 3) != 0 ||
	    (bar = memchr(p + 3, '|', n - 3)) == NULL)
		return 0;
	salt = b64_decode(p + 3, (size_t)(bar - p - 3), &saltlen);
	hash = b64_decode(bar + 1, (size_t)(p + n - bar - 1), &hashlen);
	if (salt != NULL && hash != NULL && hashlen == 20 &&
	    HMAC(EVP_sha1(), salt, (int)saltlen,
	    (const unsigned char *)hostspec, strlen(hostspec), md, &mdlen) !=
	    NULL && mdlen == 20 && memcmp(md, hash, 20) == 0)
		ok = 1;
	free(salt);
	free(hash);
	return ok;
}

/* OpenSSH's match_hostname(): some pattern matches, no negated one does. */
static int
patterns_match(const char *list, const char *hostspec)
{
	const char *p = list, *e;
	int hit = 0;

	for (; *p != '\0'; p = *e ? e + 1 : e) {
		size_t n;

		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (n == 0)
			continue;
		if (p[0] == '|') {
			if (hashed_match(p, n, hostspec))
				hit = 1;
		} else if (p[0] == '!') {
			if (glob(p + 1, n - 1, hostspec))
				return 0;
		} else if (glob(p, n, hostspec))
			hit = 1;
	}
	return hit;
}

int
kh_markers_find(const struct kh_markers *m, enum kh_marker_kind kind,
    const char *hostspec, const void *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		const struct kh_marker *mk = &m->v[i];

		if (mk->kind != kind)
			continue;
		if (key != NULL && (mk->keylen != keylen ||
		    memcmp(mk->key, key, keylen) != 0))
			continue;
		if (patterns_match(mk->patterns, hostspec))
			return mk->line;
	}
	return 0;
}
