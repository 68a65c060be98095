/*
 * test_pki.c - the PKI directory: CA creation and reuse, every extension of
 * a leaf certificate read back with OpenSSL, chain verification, the
 * reasons for regeneration (missing, SANs, subject, expiring, new CA),
 * file modes, the RSA key pair and kubeconfigs.
 *
 * Each test gets a fresh directory; the PKI directory inside it does not
 * exist yet, so pki_open() creates it.
 */
#include <arpa/inet.h>
#include <time.h>

#include "helpers_fs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "cluster/pki.h"

struct fx {
	char		 dir[64];
	char		 pkidir[96];
	struct pki	*p;
};

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	assert_non_null(fx);
	assert_int_equal(th_mkdtemp(fx->dir, sizeof(fx->dir), "korch-pki"), 0);
	snprintf(fx->pkidir, sizeof(fx->pkidir), "%s/pki", fx->dir);
	assert_int_equal(pki_open(fx->pkidir, &fx->p, err, sizeof(err)), 0);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	pki_free(fx->p);
	(void)th_rmtree(fx->dir);
	free(fx);
	return 0;
}

static void
reopen(struct fx *fx)
{
	char err[256];

	pki_free(fx->p);
	fx->p = NULL;
	assert_int_equal(pki_open(fx->pkidir, &fx->p, err, sizeof(err)), 0);
}

static mode_t
file_mode(struct fx *fx, const char *file)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", fx->pkidir, file);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
rm_file(struct fx *fx, const char *file)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", fx->pkidir, file);
	assert_int_equal(unlink(path), 0);
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	assert_non_null(b);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

static X509 *
read_cert(struct fx *fx, const char *name)
{
	char *pem = NULL;
	X509 *x;

	assert_int_equal(pki_read(fx->p, name, &pem, NULL), 0);
	x = pem_cert(pem);
	free(pem);
	return x;
}

static void
ensure_ca(struct fx *fx, int expect_created)
{
	int created = -1;

	assert_int_equal(pki_ensure_ca(fx->p, "test-ca", 3650, &created), 0);
	assert_int_equal(created, expect_created);
}

static const char *const k_dns[] = { "kubernetes", "kubernetes.default",
    "Node-1.Example.COM" };
static const char *const k_ips[] = { "10.254.0.1", "127.0.0.1",
    "2001:db8::11" };
static const char *const k_orgs[] = { "system:masters" };

static struct pki_req
base_req(void)
{
	struct pki_req rq = {
		.name = "server", .cn = "kube-apiserver",
		.orgs = k_orgs, .norgs = 1,
		.dns = k_dns, .ndns = 3,
		.ips = k_ips, .nips = 3,
		.usage = PKI_SERVER | PKI_CLIENT, .days = 365,
	};
	return rq;
}

/* Ensure rq; check regenerated and that why contains want (when set). */
static void
ensure(struct fx *fx, const struct pki_req *rq, int renew, int expect_regen,
    const char *want)
{
	char why[512];
	int regen = -1, r;

	r = pki_ensure_cert(fx->p, rq, renew, &regen, why, sizeof(why));
	if (r != 0)
		fail_msg("pki_ensure_cert: %d %s", r, pki_errmsg(fx->p));
	if (regen != expect_regen)
		fail_msg("regenerated %d, want %d (why: %s)", regen,
		    expect_regen, why);
	if (!expect_regen)
		assert_string_equal(why, "");
	if (want != NULL && strstr(why, want) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", why, want);
}

static void
fp(struct fx *fx, const char *name, char out[65])
{
	assert_int_equal(pki_fingerprint(fx->p, name, out), 0);
	assert_int_equal(strlen(out), 64);
}

/* 1 when leaf verifies against ca (current time). */
static int
verifies(X509 *ca, X509 *leaf)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *c = X509_STORE_CTX_new();
	int ok;

	assert_non_null(st);
	assert_non_null(c);
	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(c, st, leaf, NULL), 1);
	ok = X509_verify_cert(c) == 1;
	X509_STORE_CTX_free(c);
	X509_STORE_free(st);
	return ok;
}

static int
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_ca_create_reuse(void **state)
{
	struct fx *fx = *state;
	char fp1[65], fp2[65];
	BASIC_CONSTRAINTS *bc;
	struct stat st;
	X509 *ca;

	assert_int_equal(stat(fx->pkidir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	ensure_ca(fx, 1);
	assert_int_equal(file_mode(fx, "ca.key"), 0600);
	fp(fx, "ca", fp1);

	ca = read_cert(fx, "ca");
	assert_int_equal(X509_check_ca(ca), 1);
	assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
	bc = X509_get_ext_d2i(ca, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(ext_critical(ca, NID_basic_constraints));
	assert_true(ext_critical(ca, NID_key_usage));
	assert_int_equal(X509_get_key_usage(ca),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE);
	assert_non_null(X509_get0_subject_key_id(ca));
	X509_free(ca);

	/* Same process, then a fresh pki: both reuse it. */
	ensure_ca(fx, 0);
	reopen(fx);
	ensure_ca(fx, 0);
	fp(fx, "ca", fp2);
	assert_string_equal(fp1, fp2);
}

static void
test_ca_partial_refused(void **state)
{
	struct fx *fx = *state;

	ensure_ca(fx, 1);
	rm_file(fx, "ca.key");
	reopen(fx);
	assert_int_equal(pki_ensure_ca(fx->p, "test-ca", 3650, NULL),
	    KORCH_ERR_NOT_FOUND);
	assert_non_null(strstr(pki_errmsg(fx->p), "ca.key is missing"));
	/* No certificate can be made without a CA. */
	{
		struct pki_req rq = base_req();

		assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, NULL, NULL,
		    0), KORCH_ERR_INVALID_ARG);
	}
}

static void
test_leaf_extensions(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gn;
	const ASN1_STRING *s;
	BASIC_CONSTRAINTS *bc;
	BIGNUM *serial;
	X509 *x, *ca;
	char txt[64], *seen[8];
	int i, type, nseen = 0, day, sec;
	void *v;

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, "missing");
	assert_int_equal(file_mode(fx, "server.key"), 0600);
	assert_int_equal(file_mode(fx, "server.crt"), 0644);
	x = read_cert(fx, "server");
	ca = read_cert(fx, "ca");

	/* Subject: O then CN. */
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, txt, sizeof(txt)), (int)strlen("kube-apiserver"));
	assert_string_equal(txt, "kube-apiserver");
	X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_organizationName, txt, sizeof(txt));
	assert_string_equal(txt, "system:masters");

	/* Every SAN, parsed back. */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 6);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		v = GENERAL_NAME_get0_value(gn, &type);
		s = v;
		if (type == GEN_DNS)
			snprintf(txt, sizeof(txt), "DNS:%.*s",
			    ASN1_STRING_length(s),
			    (const char *)ASN1_STRING_get0_data(s));
		else {
			assert_int_equal(type, GEN_IPADD);
			memcpy(txt, "IP:", 3);
			assert_non_null(inet_ntop(ASN1_STRING_length(s) == 4 ?
			    AF_INET : AF_INET6, ASN1_STRING_get0_data(s),
			    txt + 3, sizeof(txt) - 3));
		}
		assert_true(nseen < 8);
		assert_non_null(seen[nseen++] = strdup(txt));
	}
	GENERAL_NAMES_free(gens);
	{
		static const char *const want[] = { "DNS:kubernetes",
		    "DNS:kubernetes.default", "DNS:node-1.example.com",
		    "IP:10.254.0.1", "IP:127.0.0.1", "IP:2001:db8::11" };
		size_t w;
		int j, found;

		for (w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
			for (j = 0, found = 0; j < nseen; j++)
				found |= strcmp(seen[j], want[w]) == 0;
			if (!found)
				fail_msg("SAN %s missing", want[w]);
		}
		for (j = 0; j < nseen; j++)
			free(seen[j]);
	}

	/* Key usage, extended key usage, basic constraints. */
	assert_int_equal(X509_get_key_usage(x),
	    KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_true(ext_critical(x, NID_key_usage));
	assert_int_equal(X509_get_extended_key_usage(x),
	    XKU_SSL_SERVER | XKU_SSL_CLIENT);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_check_ca(x), 0);

	/* Key identifiers: AKI is the CA's SKI. */
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
	    X509_get0_subject_key_id(ca)), 0);

	/* Validity: now - 5 min .. now + 365 days (a minute's slack). */
	assert_int_equal(ASN1_TIME_diff(&day, &sec, NULL,
	    X509_get0_notBefore(x)), 1);
	assert_int_equal(day, 0);
	assert_in_range(sec, -300 - 60, -300 + 60);
	assert_int_equal(ASN1_TIME_diff(&day, &sec, NULL,
	    X509_get0_notAfter(x)), 1);
	assert_in_range(day * 86400 + sec, 365 * 86400 - 60, 365 * 86400 + 60);

	/* A random serial of about 128 bits (fails with p = 2^-64). */
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(serial);
	assert_in_range(BN_num_bits(serial), 65, 128);
	BN_free(serial);

	/* EC P-256 key in the traditional PEM form. */
	{
		char *key = NULL;

		assert_int_equal(pki_read(fx->p, "server", NULL, &key), 0);
		assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----"));
		pki_free_secret(key);
	}
	X509_free(x);
	X509_free(ca);
}

static void
test_reuse(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	static const char *const dns_perm[] = { "node-1.example.com",
	    "kubernetes.default", "kubernetes", "kubernetes" };
	static const char *const ips_perm[] = { "2001:DB8:0::11",
	    "127.0.0.1", "10.254.0.1" };
	char fp1[65], fp2[65];

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, NULL);
	fp(fx, "server", fp1);
	ensure(fx, &rq, 30, 0, NULL);
	/* Order, case, duplicates and IPv6 spelling do not matter. */
	rq.dns = dns_perm;
	rq.ndns = 4;
	rq.ips = ips_perm;
	reopen(fx);
	ensure_ca(fx, 0);
	ensure(fx, &rq, 30, 0, NULL);
	fp(fx, "server", fp2);
	assert_string_equal(fp1, fp2);
}

static void
test_chain(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	struct pki *other = NULL;
	char dir[160], err[256], *pem = NULL;
	X509 *ca, *leaf, *ca2;

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, NULL);
	ca = read_cert(fx, "ca");
	leaf = read_cert(fx, "server");
	assert_true(verifies(ca, leaf));

	snprintf(dir, sizeof(dir), "%s/other", fx->dir);
	assert_int_equal(pki_open(dir, &other, err, sizeof(err)), 0);
	assert_int_equal(pki_ensure_ca(other, "other-ca", 30, NULL), 0);
	assert_int_equal(pki_read(other, "ca", &pem, NULL), 0);
	ca2 = pem_cert(pem);
	assert_false(verifies(ca2, leaf));
	assert_true(verifies(ca, leaf));

	free(pem);
	pki_free(other);
	X509_free(ca);
	X509_free(ca2);
	X509_free(leaf);
}

static void
test_regen_sans(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	static const char *const ips2[] = { "10.96.0.1", "127.0.0.1",
	    "2001:db8::11" };
	static const char *const dns2[] = { "kubernetes", "kubernetes.default",
	    "Node-1.Example.COM", "lb.example.com" };
	char fp1[65], fp2[65], why[512];
	int regen;

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, NULL);
	fp(fx, "server", fp1);
	rq.ips = ips2;
	ensure(fx, &rq, 30, 1, "SANs changed: +IP:10.96.0.1 -IP:10.254.0.1");
	fp(fx, "server", fp2);
	assert_string_not_equal(fp1, fp2);
	ensure(fx, &rq, 30, 0, NULL);
	rq.dns = dns2;
	rq.ndns = 4;
	assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, &regen, why,
	    sizeof(why)), 0);
	assert_int_equal(regen, 1);
	assert_string_equal(why, "SANs changed: +DNS:lb.example.com");
}

static void
test_regen_subject_usage(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	static const char *const orgs2[] = { "system:nodes", "extra" };

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, NULL);
	rq.cn = "system:node:n1";
	ensure(fx, &rq, 30, 1, "subject changed: CN \"kube-apiserver\" -> "
	    "\"system:node:n1\"");
	rq.orgs = orgs2;
	rq.norgs = 2;
	ensure(fx, &rq, 30, 1, "O [system:masters] -> [extra,system:nodes]");
	ensure(fx, &rq, 30, 0, NULL);
	rq.usage = PKI_CLIENT;
	ensure(fx, &rq, 30, 1, "usage changed");
	ensure(fx, &rq, 30, 0, NULL);
}

static void
test_regen_expiring(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	char fp1[65], fp2[65];

	ensure_ca(fx, 1);
	rq.days = 1;
	ensure(fx, &rq, 0, 1, "missing");
	/* Not within a 0-day window, within a 30-day one. */
	ensure(fx, &rq, 0, 0, NULL);
	fp(fx, "server", fp1);
	rq.days = 365;
	ensure(fx, &rq, 30, 1, "expires on ");
	fp(fx, "server", fp2);
	assert_string_not_equal(fp1, fp2);
	ensure(fx, &rq, 30, 0, NULL);
}

static void
test_regen_new_ca(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	X509 *ca, *leaf;

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, NULL);
	rm_file(fx, "ca.crt");
	rm_file(fx, "ca.key");
	reopen(fx);
	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, "not signed by the current CA");
	ensure(fx, &rq, 30, 0, NULL);
	ca = read_cert(fx, "ca");
	leaf = read_cert(fx, "server");
	assert_true(verifies(ca, leaf));
	X509_free(ca);
	X509_free(leaf);
}

static void
test_regen_damaged(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	char path[160];
	FILE *f;

	ensure_ca(fx, 1);
	ensure(fx, &rq, 30, 1, NULL);
	rm_file(fx, "server.key");
	ensure(fx, &rq, 30, 1, "key missing");
	snprintf(path, sizeof(path), "%s/server.crt", fx->pkidir);
	assert_non_null(f = fopen(path, "w"));
	fputs("garbage\n", f);
	fclose(f);
	ensure(fx, &rq, 30, 1, "unreadable");
	ensure(fx, &rq, 30, 0, NULL);

	/* A key from another pair: mismatch. */
	{
		struct pki_req other = base_req();
		char src[160], dst[160];

		other.name = "other";
		ensure(fx, &other, 30, 1, NULL);
		snprintf(src, sizeof(src), "%s/other.key", fx->pkidir);
		snprintf(dst, sizeof(dst), "%s/server.key", fx->pkidir);
		assert_int_equal(rename(src, dst), 0);
		ensure(fx, &rq, 30, 1, "key does not match certificate");
	}

	/* A key file someone opened up is narrowed back to 0600. */
	snprintf(path, sizeof(path), "%s/server.key", fx->pkidir);
	assert_int_equal(chmod(path, 0644), 0);
	ensure(fx, &rq, 30, 0, NULL);
	assert_int_equal(file_mode(fx, "server.key"), 0600);
}

static void
test_rsa_key(void **state)
{
	struct fx *fx = *state;
	char fp1[65], fp2[65], *key = NULL, *pub = NULL;
	EVP_PKEY *pk;
	BIO *b;
	int created = -1;

	assert_int_equal(pki_ensure_rsa_key(fx->p, "sa", 2048, &created), 0);
	assert_int_equal(created, 1);
	assert_int_equal(file_mode(fx, "sa.key"), 0600);
	assert_int_equal(file_mode(fx, "sa.pub"), 0644);
	fp(fx, "sa", fp1);
	assert_int_equal(pki_read(fx->p, "sa", NULL, &key), 0);
	assert_non_null(strstr(key, "-----BEGIN RSA PRIVATE KEY-----"));
	assert_non_null(b = BIO_new_mem_buf(key, -1));
	assert_non_null(pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL));
	assert_true(EVP_PKEY_is_a(pk, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
	EVP_PKEY_free(pk);
	BIO_free(b);
	pki_free_secret(key);

	/* Reuse; a lost .pub is rewritten from the key. */
	rm_file(fx, "sa.pub");
	reopen(fx);
	assert_int_equal(pki_ensure_rsa_key(fx->p, "sa", 2048, &created), 0);
	assert_int_equal(created, 0);
	assert_int_equal(pki_read_pub(fx->p, "sa", &pub), 0);
	assert_non_null(strstr(pub, "-----BEGIN PUBLIC KEY-----"));
	free(pub);
	fp(fx, "sa", fp2);
	assert_string_equal(fp1, fp2);

	/* Asking for more bits than it has is an error, not a new key. */
	assert_int_equal(pki_ensure_rsa_key(fx->p, "sa", 4096, NULL),
	    KORCH_ERR_PARSE);
	fp(fx, "sa", fp2);
	assert_string_equal(fp1, fp2);
}

/* The base64 value after "key: " in the YAML, decoded. */
static char *
yaml_b64(const char *yaml, const char *key)
{
	const char *s = strstr(yaml, key), *e;
	unsigned char *out;
	size_t n;
	int len;

	assert_non_null(s);
	s += strlen(key);
	e = strchr(s, '\n');
	assert_non_null(e);
	n = (size_t)(e - s);
	assert_non_null(out = malloc(n + 1));
	len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	assert_true(len >= 0);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (n > 0 && s[n - 1] == '=') {
		n--;
		len--;
	}
	out[len] = '\0';
	return (char *)out;
}

static void
test_kubeconfig(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	char *ca = NULL, *crt = NULL, *key = NULL, *kc = NULL, *d;

	ensure_ca(fx, 1);
	rq.name = "admin";
	rq.cn = "admin";
	rq.ndns = rq.nips = 0;
	rq.usage = PKI_CLIENT;
	ensure(fx, &rq, 30, 1, NULL);
	assert_int_equal(pki_read(fx->p, "ca", &ca, NULL), 0);
	assert_int_equal(pki_read(fx->p, "admin", &crt, &key), 0);
	assert_int_equal(pki_kubeconfig("demo", "https://10.0.0.1:6443", ca,
	    "admin", crt, key, &kc), 0);

	assert_non_null(strstr(kc, "server: \"https://10.0.0.1:6443\"\n"));
	assert_non_null(strstr(kc, "current-context: \"admin@demo\"\n"));
	assert_non_null(strstr(kc, "- name: \"admin@demo\"\n"));
	d = yaml_b64(kc, "client-certificate-data: ");
	assert_string_equal(d, crt);
	free(d);
	d = yaml_b64(kc, "certificate-authority-data: ");
	assert_string_equal(d, ca);
	free(d);
	d = yaml_b64(kc, "client-key-data: ");
	assert_string_equal(d, key);
	pki_free_secret(d);

	pki_free_secret(kc);
	kc = (char *)1;
	assert_int_equal(pki_kubeconfig("demo", "https://x\"y", ca, "admin",
	    crt, key, &kc), KORCH_ERR_INVALID_ARG);
	assert_null(kc);
	assert_int_equal(pki_kubeconfig("demo", "https://x", ca, "",
	    crt, key, &kc), KORCH_ERR_INVALID_ARG);
	free(ca);
	free(crt);
	pki_free_secret(key);
}

static void
test_bad_args(void **state)
{
	struct fx *fx = *state;
	struct pki_req rq = base_req();
	static const char *const bad_ip[] = { "10.0.0.300" };
	static const char *const bad_dns[] = { "a b" };
	char *c = (char *)1, out[65];

	ensure_ca(fx, 1);
	rq.name = "../x";
	assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, NULL, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	rq.name = "ca";
	assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, NULL, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	rq = base_req();
	rq.ips = bad_ip;
	rq.nips = 1;
	assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, NULL, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_non_null(strstr(pki_errmsg(fx->p), "10.0.0.300"));
	rq = base_req();
	rq.dns = bad_dns;
	rq.ndns = 1;
	assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, NULL, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	rq = base_req();
	rq.usage = 0;
	assert_int_equal(pki_ensure_cert(fx->p, &rq, 30, NULL, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(pki_read(fx->p, "nope", &c, NULL),
	    KORCH_ERR_NOT_FOUND);
	assert_null(c);
	assert_int_equal(pki_fingerprint(fx->p, "nope", out),
	    KORCH_ERR_NOT_FOUND);
	pki_free_secret(NULL);
	pki_free(NULL);
}

TH_MAIN(
	cmocka_unit_test_setup_teardown(test_ca_create_reuse,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_ca_partial_refused,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_leaf_extensions,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_reuse,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_chain,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_regen_sans,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_regen_subject_usage,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_regen_expiring,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_regen_new_ca,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_regen_damaged,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_rsa_key,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_kubeconfig,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_bad_args,
	    fx_setup, fx_teardown),
)
