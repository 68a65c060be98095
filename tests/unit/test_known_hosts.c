/*
 * test_known_hosts.c - known_hosts lookups (controller/known_hosts.c):
 * plain, comma lists, hashed entries, [addr]:port, line numbers, appends,
 * reloads, and a file of 20,000 hosts looked up host by host.
 */
#include <time.h>

#include <libssh2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "helpers_fs.h"

#include "err.h"
#include "ssh/known_hosts.h"

#define ED	LIBSSH2_HOSTKEY_TYPE_ED25519
#define EC	LIBSSH2_HOSTKEY_TYPE_ECDSA_256

struct key {
	unsigned char	 blob[64];
	size_t		 len;
	char		 b64[96];
};

static void
put_str(unsigned char *p, size_t *o, const void *s, size_t n)
{
	p[(*o)++] = (unsigned char)(n >> 24);
	p[(*o)++] = (unsigned char)(n >> 16);
	p[(*o)++] = (unsigned char)(n >> 8);
	p[(*o)++] = (unsigned char)n;
	memcpy(p + *o, s, n);
	*o += n;
}

/* A syntactically fine ssh-ed25519 (or ECDSA-named) blob, seed-numbered. */
static void
key_make(struct key *k, const char *type, unsigned seed)
{
	unsigned char pub[32];
	size_t i;

	for (i = 0; i < sizeof(pub); i++)
		pub[i] = (unsigned char)(seed * 131 + i * 7 + (seed >> 8));
	k->len = 0;
	put_str(k->blob, &k->len, type, strlen(type));
	put_str(k->blob, &k->len, pub, 16);
	EVP_EncodeBlock((unsigned char *)k->b64, k->blob, (int)k->len);
}

/* "|1|salt|hash" for name, as OpenSSH's HashKnownHosts writes it. */
static void
hashed_name(const char *name, unsigned seed, char *out, size_t outlen)
{
	unsigned char salt[20], md[20];
	unsigned int mdlen = 0;
	char s64[40], h64[40];
	size_t i;

	for (i = 0; i < sizeof(salt); i++)
		salt[i] = (unsigned char)(seed * 17 + i);
	HMAC(EVP_sha1(), salt, sizeof(salt), (const unsigned char *)name,
	    strlen(name), md, &mdlen);
	EVP_EncodeBlock((unsigned char *)s64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)h64, md, sizeof(md));
	snprintf(out, outlen, "|1|%s|%s", s64, h64);
}

static char *
tmp_path(char *buf, size_t len)
{
	int fd;

	snprintf(buf, len, "/tmp/korch-kh-test.XXXXXX");
	fd = mkstemp(buf);
	assert_true(fd >= 0);
	close(fd);
	return buf;
}

static void
expect(const char *path, const char *host, const struct key *k, int type,
    enum kh_status status, int line)
{
	struct kh_result res;

	assert_int_equal(kh_check(path, host, k->blob, k->len, type, &res), 0);
	if (res.status != status || res.line != line)
		fail_msg("%s: status %d line %d, want status %d line %d", host,
		    res.status, res.line, status, line);
}

static void
test_lookups(void **state)
{
	struct key k[10], ec;
	char path[64], h3[128], h5[128], fp[KH_FP_MAX];
	struct kh_result res;
	unsigned mask;
	FILE *fp_out;
	int i, line;

	(void)state;
	for (i = 0; i < 10; i++)
		key_make(&k[i], "ssh-ed25519", (unsigned)i + 1);
	key_make(&ec, "ecdsa-sha2-nistp256", 99);
	hashed_name("10.0.0.3", 3, h3, sizeof(h3));
	hashed_name("10.0.0.5", 5, h5, sizeof(h5));
	tmp_path(path, sizeof(path));
	assert_non_null(fp_out = fopen(path, "w"));
	fprintf(fp_out, "# a comment\n");				/* 1 */
	fprintf(fp_out, "10.0.0.1 ssh-ed25519 %s\n", k[1].b64);		/* 2 */
	fprintf(fp_out, "a.example,10.0.0.2 ssh-ed25519 %s c\n", k[2].b64); /* 3 */
	fprintf(fp_out, "%s ssh-ed25519 %s\n", h3, k[3].b64);		/* 4 */
	fprintf(fp_out, "[10.0.0.4]:2222 ssh-ed25519 %s\n", k[4].b64);	/* 5 */
	fprintf(fp_out, "10.0.0.4 ssh-ed25519 %s\n", k[5].b64);		/* 6 */
	fprintf(fp_out, "@cert-authority *.ca.example ssh-ed25519 %s\n", k[6].b64); /* 7 */
	fprintf(fp_out, "10.0.0.1 ecdsa-sha2-nistp256 %s\n", ec.b64);	/* 8 */
	fprintf(fp_out, "10.0.0.5 ssh-ed25519 %s\n", k[8].b64);		/* 9 */
	fprintf(fp_out, "%s ssh-ed25519 %s\n", h5, k[7].b64);		/* 10 */
	fprintf(fp_out, "\n   \n");					/* 11, 12 */
	fprintf(fp_out, "10.0.0.6 ssh-ed25519 %s", k[9].b64);		/* 13, no \n */
	fclose(fp_out);

	expect(path, "10.0.0.1", &k[1], ED, KH_MATCH, 2);
	expect(path, "10.0.0.1", &k[2], ED, KH_MISMATCH, 2);
	assert_int_equal(kh_check(path, "10.0.0.1", k[2].blob, k[2].len, ED,
	    &res), 0);
	kh_fp_from_blob(k[1].blob, k[1].len, fp);
	assert_string_equal(res.expected_fp, fp);
	expect(path, "10.0.0.1", &ec, EC, KH_MATCH, 8);
	assert_int_equal(kh_known_types(path, "10.0.0.1", &mask), 0);
	assert_int_equal(mask, (1u << ED) | (1u << EC));

	expect(path, "a.example", &k[2], ED, KH_MATCH, 3);
	expect(path, "10.0.0.2", &k[2], ED, KH_MATCH, 3);
	expect(path, "10.0.0.3", &k[3], ED, KH_MATCH, 4);	/* hashed */
	expect(path, "10.0.0.3", &k[1], ED, KH_MISMATCH, 4);
	assert_int_equal(kh_known_types(path, "10.0.0.3", &mask), 0);
	assert_int_equal(mask, 1u << ED);
	/* A port's entry is the port's only: no fallback to port 22's. */
	expect(path, "[10.0.0.4]:2222", &k[4], ED, KH_MATCH, 5);
	expect(path, "[10.0.0.4]:2222", &k[5], ED, KH_MISMATCH, 5);
	expect(path, "10.0.0.4", &k[5], ED, KH_MATCH, 6);
	/* Plain and hashed lines for one host: either key matches. */
	expect(path, "10.0.0.5", &k[8], ED, KH_MATCH, 9);
	expect(path, "10.0.0.5", &k[7], ED, KH_MATCH, 10);
	expect(path, "10.0.0.6", &k[9], ED, KH_MATCH, 13);
	/* A host only a CA line names; unknown hosts are unknown. */
	expect(path, "h.CA.example", &k[6], ED, KH_CERT_AUTHORITY, 7);
	expect(path, "*", &k[6], ED, KH_UNKNOWN, 0);
	expect(path, "10.0.0.9", &k[1], ED, KH_UNKNOWN, 0);
	expect(path, "10.0.0", &k[1], ED, KH_UNKNOWN, 0);
	assert_int_equal(kh_known_types(path, "10.0.0.9", &mask), 0);
	assert_int_equal(mask, 0);

	/* An append lands on the next line (after the missing newline) and
	 * is found at once, before and after a reload. */
	assert_int_equal(kh_add(path, "10.0.0.9", k[0].blob, k[0].len, ED,
	    &line), 0);
	assert_int_equal(line, 14);
	expect(path, "10.0.0.9", &k[0], ED, KH_MATCH, 14);
	kh_cache_flush();
	expect(path, "10.0.0.9", &k[0], ED, KH_MATCH, 14);
	expect(path, "10.0.0.6", &k[9], ED, KH_MATCH, 13);

	/* Someone else rewrites the file: the next lookup sees it. */
	assert_non_null(fp_out = fopen(path, "w"));
	fprintf(fp_out, "10.0.0.1 ssh-ed25519 %s\n", k[2].b64);
	fclose(fp_out);
	expect(path, "10.0.0.1", &k[2], ED, KH_MATCH, 1);
	expect(path, "10.0.0.3", &k[3], ED, KH_UNKNOWN, 0);
	kh_cache_flush();
	unlink(path);
	/* No file: nothing is known. */
	expect(path, "10.0.0.1", &k[2], ED, KH_UNKNOWN, 0);
	kh_cache_flush();
}

/* @revoked: wins over a listing, by pattern, negation and hashed name. */
static void
test_revoked(void **state)
{
	struct key k[4];
	char path[64], h2[128];
	FILE *fp_out;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		key_make(&k[i], "ssh-ed25519", (unsigned)i + 40);
	hashed_name("10.0.0.2", 2, h2, sizeof(h2));
	tmp_path(path, sizeof(path));
	assert_non_null(fp_out = fopen(path, "w"));
	fprintf(fp_out, "10.0.0.1,10.0.0.2,[10.0.0.3]:22 ssh-ed25519 %s\n",
	    k[0].b64);						/* 1 */
	fprintf(fp_out, "@revoked 10.0.0.? ssh-ed25519 %s\n", k[0].b64); /* 2 */
	fprintf(fp_out, "10.1.0.1 ssh-ed25519 %s\n", k[1].b64);	/* 3 */
	fprintf(fp_out, "@REVOKED *,!10.1.0.1 ssh-ed25519 %s\n", k[1].b64); /* 4 */
	fprintf(fp_out, "10.2.0.1 ssh-ed25519 %s\n", k[2].b64);	/* 5 */
	fprintf(fp_out, "@revoked %s ssh-ed25519 %s\n", h2, k[2].b64);	/* 6 */
	fprintf(fp_out, "@revoked 10.3.0.1 ssh-ed25519 !!notbase64\n");	/* 7 */
	fprintf(fp_out, "10.3.0.1 ssh-ed25519 %s\n", k[3].b64);	/* 8 */
	fclose(fp_out);

	expect(path, "10.0.0.1", &k[0], ED, KH_REVOKED, 2);
	expect(path, "10.0.0.2", &k[0], ED, KH_REVOKED, 2);
	/* '?' is one character: the [addr]:port form does not match. */
	expect(path, "[10.0.0.3]:22", &k[0], ED, KH_MATCH, 1);
	/* Revoked for everyone but 10.1.0.1. */
	expect(path, "10.1.0.1", &k[1], ED, KH_MATCH, 3);
	expect(path, "10.9.9.9", &k[1], ED, KH_REVOKED, 4);
	/* A hashed pattern matches its own name only. */
	expect(path, "10.0.0.2", &k[2], ED, KH_REVOKED, 6);
	expect(path, "10.2.0.1", &k[2], ED, KH_MATCH, 5);
	/* An unreadable revocation matches nothing. */
	expect(path, "10.3.0.1", &k[3], ED, KH_MATCH, 8);
	kh_cache_flush();
	unlink(path);
}

/* 10.x.y.z, the i-th plain host of a big file. */
static void
plain_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
}

/* A new file at path of n plain hosts, each with an ed25519 key ked
 * (line 2i+1) and an ECDSA key kec (line 2i+2), both made here; left open
 * for more. */
static FILE *
big_file(char *path, size_t len, int n, struct key *ked, struct key *kec)
{
	char name[64];
	FILE *fp;
	int i;

	key_make(ked, "ssh-ed25519", 7);
	key_make(kec, "ecdsa-sha2-nistp256", 8);
	tmp_path(path, len);
	assert_non_null(fp = fopen(path, "w"));
	for (i = 0; i < n; i++) {
		plain_name(name, sizeof(name), i);
		fprintf(fp, "%s ssh-ed25519 %s\n", name, ked->b64);
		fprintf(fp, "%s ecdsa-sha2-nistp256 %s\n", name, kec->b64);
	}
	return fp;
}

/* Plain host i looked up the way a connection does: the key types, then
 * the check. */
static void
lookup_plain(const char *path, int i, const struct key *ked)
{
	char name[64];
	unsigned mask;

	plain_name(name, sizeof(name), i);
	assert_int_equal(kh_known_types(path, name, &mask), 0);
	assert_int_equal(mask, (1u << ED) | (1u << EC));
	expect(path, name, ked, ED, KH_MATCH, 2 * i + 1);
}

static double
seconds(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) +
	    (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * 20,000 plain hosts (two key types each), each looked up the way a
 * connection does: the key types, then the check.  A one-collection
 * file made that 20,000 x 7 walks of 40,000 entries; indexed, it is
 * instant.  Then 500 hashed hosts: every name looked up costs one HMAC
 * per hashed entry (as in OpenSSH), so only some of them.
 */
static void
test_many_hosts(void **state)
{
	enum { NPLAIN = 20000, NHASHED = 500 };
	struct key ked, kec;
	char path[64], name[64], hn[128];
	struct timespec t0, t1;
	FILE *fp;
	int i;

	(void)state;
	fp = big_file(path, sizeof(path), NPLAIN, &ked, &kec);
	for (i = 0; i < NHASHED; i++) {
		snprintf(name, sizeof(name), "[172.16.%d.%d]:2022", i >> 8,
		    i & 255);
		hashed_name(name, (unsigned)i, hn, sizeof(hn));
		fprintf(fp, "%s ssh-ed25519 %s\n", hn, ked.b64);
	}
	fclose(fp);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NPLAIN; i += i < 100 ? 1 : 97)
		lookup_plain(path, i, &ked);
	for (i = 0; i < NHASHED; i += 31) {
		snprintf(name, sizeof(name), "[172.16.%d.%d]:2022", i >> 8,
		    i & 255);
		expect(path, name, &ked, ED, KH_MATCH, 2 * NPLAIN + i + 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("# with %d hashed entries: %.2f s\n", NHASHED,
	    seconds(&t0, &t1));
	kh_cache_flush();
	unlink(path);
}

static void
test_many_plain_hosts(void **state)
{
	enum { NPLAIN = 20000 };
	struct key ked, kec;
	char path[64];
	struct timespec t0, t1;
	FILE *fp;
	int i;

	(void)state;
	fp = big_file(path, sizeof(path), NPLAIN, &ked, &kec);
	fclose(fp);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NPLAIN; i++)
		lookup_plain(path, i, &ked);
	expect(path, "10.255.0.1", &ked, ED, KH_UNKNOWN, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("# %d plain hosts looked up in %.2f s\n", NPLAIN,
	    seconds(&t0, &t1));
	kh_cache_flush();
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_many_plain_hosts),
		cmocka_unit_test(test_many_hosts),
	};

	libssh2_init(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
