/* test_agent_sha256.c - the agent's own SHA-256 against FIPS 180 vectors,
 * split updates, files, and sha256sum(1) on random data. */
#include "helpers_fs.h"

#include "err.h"
#include "sha256.h"

static void
check(const void *p, size_t n, const char *want)
{
	char hex[AGENT_SHA256_HEX];

	agent_sha256_hex(p, n, hex);
	assert_string_equal(hex, want);
}

static void
test_vectors(void **state)
{
	(void)state;
	check("", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void
test_million_a(void **state)
{
	char hex[AGENT_SHA256_HEX], *a;
	struct agent_sha256 c;
	size_t i;

	(void)state;
	a = malloc(1000000);
	assert_non_null(a);
	memset(a, 'a', 1000000);
	check(a, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* the same in uneven pieces crosses every block boundary case */
	agent_sha256_init(&c);
	for (i = 0; i < 1000000; i += 7)
		agent_sha256_update(&c, a + i, 1000000 - i < 7 ? 1000000 - i : 7);
	agent_sha256_final_hex(&c, hex);
	assert_string_equal(hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

static void
test_padding_edges(void **state)
{
	char hex1[AGENT_SHA256_HEX], hex2[AGENT_SHA256_HEX];
	struct agent_sha256 c;
	uint8_t buf[130];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	/* 55, 56, 63, 64, 65 bytes: the length field's neighbourhood */
	for (n = 0; n <= sizeof(buf); n++) {
		agent_sha256_hex(buf, n, hex1);
		agent_sha256_init(&c);
		for (i = 0; i < n; i++)
			agent_sha256_update(&c, buf + i, 1);
		agent_sha256_final_hex(&c, hex2);
		assert_string_equal(hex1, hex2);
	}
}

static void
test_file_against_sha256sum(void **state)
{
	char path[] = "/tmp/korch-sha-XXXXXX", cmd[128], line[128];
	char hex[AGENT_SHA256_HEX];
	uint8_t data[100000];
	uint64_t size;
	size_t i;
	FILE *p;
	int fd;

	(void)state;
	srand(12345);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	assert_int_equal(agent_sha256_path(path, hex, &size), KORCH_OK);
	assert_int_equal(size, sizeof(data));
	(void)snprintf(cmd, sizeof(cmd), "sha256sum %s 2>/dev/null", path);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fgets(line, sizeof(line), p) != NULL && strlen(line) > 64) {
			line[64] = '\0';
			assert_string_equal(hex, line);
		}
		pclose(p);
	}
	unlink(path);
	assert_int_equal(agent_sha256_path("/nonexistent/x", hex, NULL),
	    KORCH_ERR_SYSTEM);
}

TH_MAIN(
	cmocka_unit_test(test_vectors),
	cmocka_unit_test(test_million_a),
	cmocka_unit_test(test_padding_edges),
	cmocka_unit_test(test_file_against_sha256sum),
)
