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
#include "base/digest.h"
#include "base/strlist.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"

/* "IP:<canonical text>" for 4 or 16 address bytes, else "IP:?<hex>". */
static int
name_add_ip(struct strlist *s, const unsigned char *b, size_t n)
{
	char txt[INET6_ADDRSTRLEN + 8], hx[2 * 16 + 1];

	if (n == 4 || n == 16) {
		memcpy(txt, "IP:", 3);
		if (inet_ntop(n == 4 ? AF_INET : AF_INET6, b, txt + 3,
		    sizeof(txt) - 3) == NULL)
			return KORCH_ERR_INTERNAL;
	} else {
		digest_hex(b, n > 16 ? 16 : n, hx);
		snprintf(txt, sizeof(txt), "IP:?%s", hx);
	}
	return strlist_addn(s, txt, strlen(txt));
}

/* "DNS:<lowercase name>". */
static int
name_add_dns(struct strlist *s, const unsigned char *name, size_t n)
{
	char buf[4 + 256];
	size_t i;

	if (n > 253)
		n = 253;
	memcpy(buf, "DNS:", 4);
	for (i = 0; i < n; i++)
		buf[4 + i] = (char)tolower(name[i]);
	return strlist_addn(s, buf, 4 + n);
}

/* ---- a request's names and a certificate's ---------------------------------- */

/* The request's SANs and O values as canonical sets. */
int
pki_req_sets(struct pki *p, const struct pki_req *req, struct strlist *sans,
    struct strlist *orgs)
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
		if ((r = strlist_addn(orgs, req->orgs[i],
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
		if ((r = name_add_dns(sans, (const unsigned char *)s, j))
		    != 0)
			return r;
	}
	for (i = 0; i < req->nips; i++) {
		s = req->ips[i];
		if (s != NULL && inet_pton(AF_INET, s, ip) == 1)
			r = name_add_ip(sans, ip, 4);
		else if (s != NULL && inet_pton(AF_INET6, s, ip) == 1)
			r = name_add_ip(sans, ip, 16);
		else {
			pki_seterr(p, "%s: bad IP address \"%s\"", req->name,
			    s != NULL ? s : "(null)");
			return KORCH_ERR_INVALID_ARG;
		}
		if (r != 0)
			return r;
	}
	strlist_sort_unique(sans);
	strlist_sort_unique(orgs);
	return 0;
}

/* The certificate's SANs as canonical strings. */
int
pki_cert_sans(X509 *x, struct strlist *out)
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
		return crit == -1 ? 0 : strlist_addn(out, "?", 1);
	for (i = 0; r == 0 && i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		v = GENERAL_NAME_get0_value(gn, &type);
		s = v;
		if (type == GEN_DNS)
			r = name_add_dns(out, ASN1_STRING_get0_data(s),
			    (size_t)ASN1_STRING_length(s));
		else if (type == GEN_IPADD)
			r = name_add_ip(out, ASN1_STRING_get0_data(s),
			    (size_t)ASN1_STRING_length(s));
		else {
			snprintf(other, sizeof(other), "OTHER:%d", type);
			r = strlist_addn(out, other, strlen(other));
		}
	}
	GENERAL_NAMES_free(gens);
	strlist_sort_unique(out);
	return r;
}

/* Every value of nid in the name, as UTF-8. */
int
pki_name_values(const X509_NAME *nm, int nid, struct strlist *out)
{
	unsigned char *u = NULL;
	int i = -1, n, r;

	while ((i = X509_NAME_get_index_by_NID(nm, nid, i)) >= 0) {
		n = ASN1_STRING_to_UTF8(&u,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)));
		if (n < 0) {
			ERR_clear_error();
			r = strlist_addn(out, "?", 1);
		} else
			r = strlist_addn(out, (const char *)u, (size_t)n);
		OPENSSL_free(u);
		u = NULL;
		if (r != 0)
			return r;
	}
	return 0;
}
