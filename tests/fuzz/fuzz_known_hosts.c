/*
 * fuzz_known_hosts.c - libFuzzer target for the known_hosts parser and
 * lookups (controller/ssh/known_hosts.c over libssh2's knownhost API).
 * The input is the file: each run writes it to a private temp file, looks
 * a few host specs up (plain, [addr]:port, a comma list member, a hashed
 * name), appends one entry with kh_add (the fuzzed file may lack its last
 * newline) and looks that entry up again, which must then match.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libssh2.h>

#include "err.h"
#include "ssh/known_hosts.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)
#define ED	LIBSSH2_HOSTKEY_TYPE_ED25519

/* string "ssh-ed25519", string 32 bytes: a well-formed key blob. */
static const unsigned char key[] = {
	0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9',
	0, 0, 0, 32,
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static const char *const specs[] = {
	"198.18.1.10", "[198.18.1.10]:2222", "node1", "node2.example.com",
	"[::1]:22", "fuzz-added",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_result res;
	char path[512];
	unsigned mask;
	size_t i;
	int line = 0, r;

	fz_put("known_hosts", data, size, path, sizeof(path));
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		memset(&res, 0, sizeof(res));
		r = kh_check(path, specs[i], key, sizeof(key), ED, &res);
		if (r == 0 && res.status == KH_MISMATCH)
			CHECK(strncmp(res.expected_fp, "SHA256:", 7) == 0 ||
			    strcmp(res.expected_fp, "(unreadable key)") == 0);
		(void)kh_known_types(path, specs[i], &mask);
	}
	r = kh_add(path, "fuzz-added", key, sizeof(key), ED, &line);
	if (r == 0) {
		memset(&res, 0, sizeof(res));
		CHECK(kh_check(path, "fuzz-added", key, sizeof(key), ED,
		    &res) == 0);
		/* An earlier line for the name with another key wins. */
		CHECK(res.status == KH_MATCH || res.status == KH_MISMATCH);
	}
	/* Same size and mtime next time would hit the cache. */
	kh_cache_flush();
	return 0;
}
