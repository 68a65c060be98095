/*
 * pki_kubeconfig.c - a kubeconfig (YAML) embedding a CA, a client
 * certificate and its key (see pki_kubeconfig in pki.h).  The key's base64
 * copy and the result are wiped when freed, as every key is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "cluster/pki.h"
#include "cluster/pki-int.h"

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
	return pki_text_valid(s) && strchr(s, '"') == NULL &&
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
	pki_free_secret_n(buf, size);
	free(ca64);
	free(crt64);
	pki_free_secret_n(key64, keylen);
	return r;
}
