/* test_agent_hash_cache.c - a big file's hash comes from the cache while
 * its stat is unchanged, and from its content once anything wrote it. */
#include "test_agent_helpers.h"

#include "hash_cache.h"

#define BIG	(AGENT_HASH_CACHE_MIN + 4096)

static void
write_fill(const char *path, size_t n, int c)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	tt_write(path, p, 0644);
	free(p);
}

/* tt_write writes a C string: a big file of one byte value. */
static void
big_file(const char *path, int c)
{
	FILE *f = fopen(path, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < BIG; i++)
		assert_int_not_equal(fputc(c, f), EOF);
	assert_int_equal(fclose(f), 0);
}

static void
hash_of(const char *path, char hex[AGENT_SHA256_HEX], uint64_t *size)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(agent_sha256_cached(path, &st, hex, size), KORCH_OK);
}

/* The cache file with every hash replaced by bogus: what the next lookup
 * says shows whether it read the file or the cache. */
static void
poison(const char *cache, const char *bogus)
{
	char *text = th_read(cache), *p;

	assert_non_null(text);
	for (p = text; (p = strchr(p, '\n')) != NULL; p++)
		memcpy(p - (AGENT_SHA256_HEX - 1), bogus, AGENT_SHA256_HEX - 1);
	tt_write(cache, text, 0600);
	free(text);
}

static void
test_cached_until_written(void **state)
{
	struct tt *t = *state;
	const char *big = tt_save(t, tt_path(t, "big.bin"));
	const char *cache = tt_save(t, tt_path(t, "hashes"));
	char want[AGENT_SHA256_HEX], got[AGENT_SHA256_HEX], bogus[AGENT_SHA256_HEX];
	uint64_t size = 0;
	int fd;

	(void)snprintf(bogus, sizeof(bogus), "%064d", 0);
	setenv("KORCH_AGENT_LOCK", tt_path(t, "lock"), 1);
	big_file(big, 'a');
	assert_int_equal(agent_sha256_path(big, want, NULL), KORCH_OK);

	/* just written: hashed, not entered (its ctime is too fresh) */
	hash_of(big, got, &size);
	assert_string_equal(got, want);
	assert_int_equal(size, BIG);
	assert_false(th_exists(cache));

	/* settled: entered, then answered from the cache */
	sleep(2);
	hash_of(big, got, &size);
	assert_string_equal(got, want);
	assert_true(th_exists(cache));
	poison(cache, bogus);
	hash_of(big, got, &size);
	assert_string_equal(got, bogus);
	assert_int_equal(size, BIG);

	/* one byte rewritten in place, same size: read again */
	assert_true((fd = open(big, O_WRONLY)) >= 0);
	assert_int_equal(pwrite(fd, "b", 1, 0), 1);
	assert_int_equal(close(fd), 0);
	assert_int_equal(agent_sha256_path(big, want, NULL), KORCH_OK);
	hash_of(big, got, &size);
	assert_string_equal(got, want);

	/* a small file never goes through the cache */
	write_fill(tt_path(t, "small"), 100, 'x');
	sleep(2);
	poison(cache, bogus);
	hash_of(tt_path(t, "small"), got, &size);
	assert_int_equal(size, 100);
	assert_string_not_equal(got, bogus);

	/* a damaged cache costs a hash, nothing else */
	tt_write(cache, "garbage\nmore garbage", 0600);
	hash_of(big, got, &size);
	assert_string_equal(got, want);
}

TH_MAIN(
	TT_TEST(test_cached_until_written),
)
