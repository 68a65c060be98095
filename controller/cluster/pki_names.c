/*
 * pki_names.c - the names a certificate carries, as sorted canonical
 * string sets ("DNS:x" lowercase, "IP:x" in inet_ntop form, subject O
 * values), so that a request and an existing certificate compare by value
 * and in any order.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"

/* ---- string sets ------------------------------------------------------------ */

void
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
void
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

int
strset_has(const struct strset *s, const char *str)
{
	return s->n > 0 && bsearch(&str, s->v, s->n, sizeof(*s->v),
	    cmpstr) != NULL;
}

int
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
		pki_hex(b, n > 16 ? 16 : n, hx);
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

/* ---- a request's names and a certificate's ---------------------------------- */

/* The request's SANs and O values as canonical sets. */
int
pki_req_sets(struct pki *p, const struct pki_req *req, struct strset *sans,
    struct strset *orgs)
{
	unsigned char ip[16];
	const char *s;
	size_t i, j;
	int r;

	for (i = 0; i < req->norgs; i++) {
		if (!pki_text_valid(req->orgs[i])) {
			pki_seterr(p, "%s: bad subject O", req->name);
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
			pki_seterr(p, "%s: bad DNS name \"%s\"", req->name,
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
			pki_seterr(p, "%s: bad IP address \"%s\"", req->name,
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
int
pki_cert_sans(X509 *x, struct strset *out)
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
int
pki_name_values(const X509_NAME *nm, int nid, struct strset *out)
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
