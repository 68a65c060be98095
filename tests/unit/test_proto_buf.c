/* test_proto_buf.c - bounded buffers and the bounds-checked reader. */
#include "helpers_fs.h"

#include "buf.h"
#include "err.h"

static void
test_put_and_read_back(void **state)
{
	struct kbuf *b = kbuf_new(1024);
	struct kreader r;
	const uint8_t *p;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	size_t n;
	char *s;

	(void)state;
	assert_non_null(b);
	assert_int_equal(kbuf_len(b), 0);
	assert_string_equal(kbuf_cstr(b), "");
	assert_int_equal(kbuf_put_u8(b, 0xab), KORCH_OK);
	assert_int_equal(kbuf_put_u32(b, 0x01020304), KORCH_OK);
	assert_int_equal(kbuf_put_u64(b, 0x1122334455667788ULL), KORCH_OK);
	assert_int_equal(kbuf_put_cstr(b, "hello"), KORCH_OK);
	assert_int_equal(kbuf_put_str(b, "a\0b", 3), KORCH_OK);
	assert_int_equal(kbuf_len(b), 1 + 4 + 8 + 4 + 5 + 4 + 3);
	/* big-endian on the wire */
	assert_int_equal(kbuf_ptr(b)[1], 1);
	assert_int_equal(kbuf_ptr(b)[4], 4);

	kreader_init(&r, kbuf_ptr(b), kbuf_len(b));
	assert_int_equal(kreader_u8(&r, &u8), KORCH_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(kreader_u32(&r, &u32), KORCH_OK);
	assert_int_equal(u32, 0x01020304);
	assert_int_equal(kreader_u64(&r, &u64), KORCH_OK);
	assert_true(u64 == 0x1122334455667788ULL);
	assert_int_equal(kreader_str(&r, &p, &n), KORCH_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);
	assert_int_equal(kreader_strdup(&r, 100, &s, &n), KORCH_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(s, "a\0b", 4);
	free(s);
	assert_int_equal(kreader_left(&r), 0);
	assert_int_equal(kreader_u8(&r, &u8), KORCH_ERR_BAD_FRAME);
	kbuf_free(b);
}

static void
test_limit_is_hard(void **state)
{
	struct kbuf *b = kbuf_new(8);

	(void)state;
	assert_int_equal(kbuf_max(b), 8);
	assert_int_equal(kbuf_put(b, "12345678", 8), KORCH_OK);
	assert_int_equal(kbuf_put_u8(b, 1), KORCH_ERR_TOO_LARGE);
	assert_int_equal(kbuf_len(b), 8);
	assert_string_equal(kbuf_cstr(b), "12345678");
	assert_int_equal(kbuf_consume(b, 3), KORCH_OK);
	assert_string_equal(kbuf_cstr(b), "45678");
	/* room again after consuming: compaction, not growth */
	assert_int_equal(kbuf_put(b, "abc", 3), KORCH_OK);
	assert_string_equal(kbuf_cstr(b), "45678abc");
	/* a string that does not fit leaves nothing behind */
	kbuf_reset(b);
	assert_int_equal(kbuf_put_cstr(b, "12345"), KORCH_ERR_TOO_LARGE);
	assert_int_equal(kbuf_len(b), 0);
	assert_int_equal(kbuf_consume(b, 1), KORCH_ERR_INVALID_ARG);
	kbuf_free(b);
	kbuf_free(NULL);
}

static void
test_putf(void **state)
{
	struct kbuf *b = kbuf_new(16);

	(void)state;
	assert_int_equal(kbuf_putf(b, "%s-%d", "ab", 42), KORCH_OK);
	assert_string_equal(kbuf_cstr(b), "ab-42");
	assert_int_equal(kbuf_putf(b, "%s", "0123456789abcdef"),
	    KORCH_ERR_TOO_LARGE);
	assert_string_equal(kbuf_cstr(b), "ab-42");
	kbuf_free(b);
}

static void
test_poke_and_growth(void **state)
{
	struct kbuf *b = kbuf_new(1 << 20);
	uint8_t big[5000];
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(kbuf_put_u32(b, 0), KORCH_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(kbuf_put(b, big, sizeof(big)), KORCH_OK);
	assert_int_equal(kbuf_poke_u32(b, 0, 0xdeadbeef), KORCH_OK);
	assert_int_equal(kbuf_ptr(b)[0], 0xde);
	assert_int_equal(kbuf_poke_u32(b, kbuf_len(b) - 3, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kbuf_len(b), 4 + 100 * sizeof(big));
	kbuf_set_secret(b);
	kbuf_free(b);
}

static void
test_reader_short_and_strdup_limit(void **state)
{
	const uint8_t claims_long[] = { 0, 0, 0, 10, 'a', 'b' };
	const uint8_t ok[] = { 0, 0, 0, 3, 'a', 'b', 'c' };
	struct kreader r;
	const uint8_t *p;
	uint32_t v;
	size_t n;
	char *s = (char *)1;

	(void)state;
	kreader_init(&r, claims_long, sizeof(claims_long));
	assert_int_equal(kreader_str(&r, &p, &n), KORCH_ERR_BAD_FRAME);
	/* a failed read consumes nothing */
	assert_int_equal(kreader_left(&r), sizeof(claims_long));
	assert_int_equal(kreader_strdup(&r, 100, &s, &n), KORCH_ERR_BAD_FRAME);
	assert_null(s);
	kreader_init(&r, ok, sizeof(ok));
	assert_int_equal(kreader_strdup(&r, 2, &s, &n), KORCH_ERR_TOO_LARGE);
	assert_int_equal(kreader_strdup(&r, 3, &s, &n), KORCH_OK);
	assert_string_equal(s, "abc");
	free(s);
	kreader_init(&r, ok, 3);
	assert_int_equal(kreader_u32(&r, &v), KORCH_ERR_BAD_FRAME);
	kreader_init(&r, NULL, 5);
	assert_int_equal(kreader_left(&r), 0);
}

TH_MAIN(
	cmocka_unit_test(test_put_and_read_back),
	cmocka_unit_test(test_limit_is_hard),
	cmocka_unit_test(test_putf),
	cmocka_unit_test(test_poke_and_growth),
	cmocka_unit_test(test_reader_short_and_strdup_limit),
)
