/* test_proto_wire.c - frames, every message's round trip, malformed input,
 * and the greeting line. */
#include "helpers_fs.h"

#include "buf.h"
#include "err.h"
#include "wire.h"

static const char HASH[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/* Encode with enc into a fresh buffer, parse the one frame back. */
static struct kbuf *
one_frame(struct kbuf *b, uint8_t type, uint32_t reqid, struct kp_frame *f)
{
	size_t used;

	assert_int_equal(kp_frame_parse(kbuf_ptr(b), kbuf_len(b), f, &used),
	    KORCH_OK);
	assert_int_equal(used, kbuf_len(b));
	assert_int_equal(f->type, type);
	assert_int_equal(f->reqid, reqid);
	return b;
}

static void
test_frame_header(void **state)
{
	struct kbuf *b = kbuf_new(KP_MAX_FRAME + 16);
	struct kp_frame f;
	size_t used, i;

	(void)state;
	assert_int_equal(kp_frame_put(b, KP_BYE, 7, "xy", 2), KORCH_OK);
	assert_int_equal(kbuf_len(b), KP_HDR_LEN + 2);
	/* length counts type + reqid + body */
	assert_int_equal(kbuf_ptr(b)[3], 7);
	for (i = 0; i < kbuf_len(b); i++)
		assert_int_equal(kp_frame_parse(kbuf_ptr(b), i, &f, &used),
		    KORCH_ERR_INCOMPLETE);
	one_frame(b, KP_BYE, 7, &f);
	assert_int_equal(f.body_len, 2);
	assert_memory_equal(f.body, "xy", 2);
	kbuf_free(b);
}

static void
test_frame_limits(void **state)
{
	uint8_t over[KP_HDR_LEN] = { 0 }, under[KP_HDR_LEN] = { 0 };
	uint32_t big = KP_MAX_FRAME + 1;
	struct kbuf *small = kbuf_new(KP_HDR_LEN + 3);
	struct kbuf *b = kbuf_new(KP_MAX_FRAME + 64);
	struct kp_frame f;
	uint8_t *body;
	size_t used;

	(void)state;
	over[0] = big >> 24;
	over[1] = big >> 16;
	over[2] = big >> 8;
	over[3] = big;
	assert_int_equal(kp_frame_parse(over, 4, &f, &used),
	    KORCH_ERR_TOO_LARGE);
	under[3] = 4;
	assert_int_equal(kp_frame_parse(under, sizeof(under), &f, &used),
	    KORCH_ERR_BAD_FRAME);
	/* all or nothing when the out buffer is too small */
	assert_int_equal(kp_frame_put(small, KP_BYE, 0, "abcd", 4),
	    KORCH_ERR_TOO_LARGE);
	assert_int_equal(kbuf_len(small), 0);
	/* the largest legal body is accepted, one more byte is not */
	body = calloc(1, KP_MAX_FRAME);
	assert_non_null(body);
	assert_int_equal(kp_frame_put(b, KP_BYE, 0, body, KP_MAX_FRAME - 5),
	    KORCH_OK);
	assert_int_equal(kp_frame_parse(kbuf_ptr(b), kbuf_len(b), &f, &used),
	    KORCH_OK);
	kbuf_reset(b);
	assert_int_equal(kp_frame_put(b, KP_BYE, 0, body, KP_MAX_FRAME - 4),
	    KORCH_ERR_TOO_LARGE);
	free(body);
	kbuf_free(small);
	kbuf_free(b);
}

static void
test_hello_start_roundtrip(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_hello h = { 1, (char *)HASH, (char *)"0.1.0", 5 }, h2;
	struct kp_start s = { .version = 1, .flags = KP_START_CHECK_ONLY }, s2;
	struct kp_start s3 = { .version = KP_VERSION_LOCK, .ctl_host =
	    (char *)"ctl1", .ctl_pid = 4242, .state = (char *)"/srv/s.db",
	    .run_id = 7 };
	struct kp_frame f;

	(void)state;
	assert_int_equal(kp_enc_hello(b, 0, &h), KORCH_OK);
	one_frame(b, KP_HELLO, 0, &f);
	assert_int_equal(kp_dec_hello(&f, &h2), KORCH_OK);
	assert_int_equal(h2.version, 1);
	assert_string_equal(h2.build_hash, HASH);
	assert_string_equal(h2.agent_version, "0.1.0");
	assert_int_equal(h2.caps, 5);
	kp_hello_clear(&h2);
	kp_hello_clear(&h2);	/* twice is fine */

	kbuf_reset(b);
	assert_int_equal(kp_enc_start(b, 3, &s), KORCH_OK);
	one_frame(b, KP_START, 3, &f);
	assert_int_equal(kp_dec_start(&f, &s2), KORCH_OK);
	assert_int_equal(s2.version, 1);
	assert_int_equal(s2.flags, KP_START_CHECK_ONLY);
	assert_null(s2.ctl_host);	/* version 1: no holder */
	kp_start_clear(&s2);
	/* version 3 names the controller for the host lock */
	kbuf_reset(b);
	assert_int_equal(kp_enc_start(b, 4, &s3), KORCH_OK);
	one_frame(b, KP_START, 4, &f);
	assert_int_equal(kp_dec_start(&f, &s2), KORCH_OK);
	assert_string_equal(s2.ctl_host, "ctl1");
	assert_int_equal(s2.ctl_pid, 4242);
	assert_string_equal(s2.state, "/srv/s.db");
	assert_int_equal(s2.run_id, 7);
	kp_start_clear(&s2);
	kp_start_clear(&s2);
	/* a version-3 START cut after its flags is malformed */
	f.body_len = 8;
	assert_int_equal(kp_dec_start(&f, &s2), KORCH_ERR_BAD_FRAME);
	assert_null(s2.ctl_host);
	one_frame(b, KP_START, 4, &f);
	/* wrong decoder for the frame */
	assert_int_equal(kp_dec_hello(&f, &h2), KORCH_ERR_BAD_FRAME);
	assert_null(h2.build_hash);
	kbuf_free(b);
}

static void
test_facts_roundtrip(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_kv kv[3] = {
		{ (char *)"os_id", (char *)"debian", 6 },
		{ (char *)"empty", (char *)"", 0 },
		{ (char *)"bin", (char *)"a\0b", 3 },
	};
	struct kp_facts m = { kv, 3 }, m2;
	struct kp_frame f;

	(void)state;
	assert_int_equal(kp_enc_facts_req(b, 9), KORCH_OK);
	one_frame(b, KP_FACTS_REQ, 9, &f);
	assert_int_equal(f.body_len, 0);
	kbuf_reset(b);
	assert_int_equal(kp_enc_facts(b, 9, &m), KORCH_OK);
	one_frame(b, KP_FACTS, 9, &f);
	assert_int_equal(kp_dec_facts(&f, &m2), KORCH_OK);
	assert_int_equal(m2.n, 3);
	assert_string_equal(m2.kv[0].key, "os_id");
	assert_string_equal(m2.kv[0].val, "debian");
	assert_string_equal(m2.kv[1].val, "");
	assert_int_equal(m2.kv[2].val_len, 3);
	assert_memory_equal(m2.kv[2].val, "a\0b", 4);
	kp_facts_clear(&m2);
	kbuf_free(b);
}

static void
make_step(struct kp_step *st, struct kp_task *tasks, struct kp_kv *args,
    uint32_t *req, uint32_t *watch)
{
	memset(st, 0, sizeof(*st));
	memset(tasks, 0, 2 * sizeof(*tasks));
	args[0].key = (char *)"argv";
	args[0].val = (char *)"/bin/true";
	args[0].val_len = 9;
	args[1].key = (char *)"argv";
	args[1].val = (char *)"x y";
	args[1].val_len = 3;
	req[0] = 1;
	req[1] = 2;
	watch[0] = 11;
	tasks[0].id = 10;
	tasks[0].module = (char *)"command";
	tasks[0].args = args;
	tasks[0].nargs = 2;
	tasks[1].id = 12;
	tasks[1].module = (char *)"service";
	tasks[1].watch = watch;
	tasks[1].nwatch = 1;
	st->id = 3;
	st->name = (char *)"etcd";
	st->requires = req;
	st->nrequires = 2;
	st->tasks = tasks;
	st->ntasks = 2;
}

static void
test_step_roundtrip(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_task tasks[2];
	struct kp_kv args[2];
	uint32_t req[2], watch[1];
	struct kp_step st, st2;
	struct kp_frame f;

	(void)state;
	make_step(&st, tasks, args, req, watch);
	assert_int_equal(kp_enc_step(b, 42, &st), KORCH_OK);
	one_frame(b, KP_STEP, 42, &f);
	assert_int_equal(kp_dec_step(&f, &st2), KORCH_OK);
	assert_int_equal(st2.id, 3);
	assert_string_equal(st2.name, "etcd");
	assert_int_equal(st2.nrequires, 2);
	assert_int_equal(st2.requires[1], 2);
	assert_int_equal(st2.ntasks, 2);
	assert_int_equal(st2.tasks[0].id, 10);
	assert_string_equal(st2.tasks[0].module, "command");
	assert_int_equal(st2.tasks[0].nargs, 2);
	assert_string_equal(st2.tasks[0].args[1].val, "x y");
	assert_int_equal(st2.tasks[0].nwatch, 0);
	assert_string_equal(kp_task_arg(&st2.tasks[0], "argv")->val,
	    "/bin/true");
	assert_null(kp_task_arg(&st2.tasks[0], "nope"));
	assert_int_equal(st2.tasks[1].nwatch, 1);
	assert_int_equal(st2.tasks[1].watch[0], 11);
	assert_int_equal(st2.tasks[1].nargs, 0);
	kp_step_clear(&st2);
	kbuf_free(b);
}

static void
test_result_done_roundtrip(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_task_result tr = { 3, 10, KP_ST_CHANGED, 1234,
	    (char *)"wrote /etc/x", (char *)"--- a\n+++ b\n" }, tr2;
	struct kp_step_done d = { 3, 1, 2, 3, 4 }, d2;
	struct kp_frame f;

	(void)state;
	assert_int_equal(kp_enc_task_result(b, 5, &tr), KORCH_OK);
	one_frame(b, KP_TASK_RESULT, 5, &f);
	assert_int_equal(kp_dec_task_result(&f, &tr2), KORCH_OK);
	assert_int_equal(tr2.step_id, 3);
	assert_int_equal(tr2.task_id, 10);
	assert_int_equal(tr2.status, KP_ST_CHANGED);
	assert_int_equal(tr2.duration_ms, 1234);
	assert_string_equal(tr2.message, "wrote /etc/x");
	assert_string_equal(tr2.diff, "--- a\n+++ b\n");
	kp_task_result_clear(&tr2);

	kbuf_reset(b);
	assert_int_equal(kp_enc_step_done(b, 5, &d), KORCH_OK);
	one_frame(b, KP_STEP_DONE, 5, &f);
	assert_int_equal(kp_dec_step_done(&f, &d2), KORCH_OK);
	assert_memory_equal(&d, &d2, sizeof(d));

	/* an unknown status is refused both ways */
	tr.status = 4;
	assert_int_equal(kp_enc_task_result(b, 5, &tr),
	    KORCH_ERR_INVALID_ARG);
	kbuf_free(b);
}

static void
test_blob_error_bye_roundtrip(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_blob_req rq = { (char *)HASH }, rq2;
	struct kp_blob bl = { (char *)HASH, 4096, (uint8_t *)"\0data", 5, 1 },
	    bl2;
	struct kp_error e = { KORCH_ERR_VERSION, (char *)"no" }, e2;
	struct kp_frame f;

	(void)state;
	assert_int_equal(kp_enc_blob_req(b, 8, &rq), KORCH_OK);
	one_frame(b, KP_BLOB_REQ, 8, &f);
	assert_int_equal(kp_dec_blob_req(&f, &rq2), KORCH_OK);
	assert_string_equal(rq2.sha256, HASH);
	kp_blob_req_clear(&rq2);

	kbuf_reset(b);
	assert_int_equal(kp_enc_blob(b, 8, &bl), KORCH_OK);
	one_frame(b, KP_BLOB, 8, &f);
	assert_int_equal(kp_dec_blob(&f, &bl2), KORCH_OK);
	assert_string_equal(bl2.sha256, HASH);
	assert_true(bl2.offset == 4096);
	assert_int_equal(bl2.len, 5);
	assert_memory_equal(bl2.data, "\0data", 5);
	assert_int_equal(bl2.last, 1);
	kp_blob_clear(&bl2);

	/* an empty chunk still has a data pointer */
	bl.len = 0;
	bl.data = NULL;
	kbuf_reset(b);
	assert_int_equal(kp_enc_blob(b, 8, &bl), KORCH_OK);
	one_frame(b, KP_BLOB, 8, &f);
	assert_int_equal(kp_dec_blob(&f, &bl2), KORCH_OK);
	assert_non_null(bl2.data);
	assert_int_equal(bl2.len, 0);
	kp_blob_clear(&bl2);

	kbuf_reset(b);
	assert_int_equal(kp_enc_error(b, 0, &e), KORCH_OK);
	one_frame(b, KP_ERROR, 0, &f);
	assert_int_equal(kp_dec_error(&f, &e2), KORCH_OK);
	assert_int_equal(e2.code, KORCH_ERR_VERSION);
	assert_string_equal(e2.message, "no");
	kp_error_clear(&e2);

	kbuf_reset(b);
	assert_int_equal(kp_enc_bye(b, 77), KORCH_OK);
	one_frame(b, KP_BYE, 77, &f);
	assert_int_equal(f.body_len, 0);
	kbuf_free(b);
}

/* Every strict prefix of a valid body, and the body plus a trailing byte,
 * must be refused as a bad frame without leaking or crashing. */
static void
test_truncated_and_trailing(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_task tasks[2];
	struct kp_kv args[2];
	uint32_t req[2], watch[1];
	struct kp_step st, st2;
	struct kp_frame f, g;
	uint8_t *copy;
	size_t i;

	(void)state;
	make_step(&st, tasks, args, req, watch);
	assert_int_equal(kp_enc_step(b, 1, &st), KORCH_OK);
	one_frame(b, KP_STEP, 1, &f);
	for (i = 0; i < f.body_len; i++) {
		g = f;
		g.body_len = i;
		assert_int_equal(kp_dec_step(&g, &st2), KORCH_ERR_BAD_FRAME);
		assert_null(st2.tasks);
		assert_null(st2.name);
	}
	copy = malloc(f.body_len + 1);
	memcpy(copy, f.body, f.body_len);
	copy[f.body_len] = 0;
	g = f;
	g.body = copy;
	g.body_len = f.body_len + 1;
	assert_int_equal(kp_dec_step(&g, &st2), KORCH_ERR_BAD_FRAME);
	free(copy);
	kbuf_free(b);
}

static void
test_bad_counts_and_fields(void **state)
{
	/* FACTS claiming 70000 pairs (over KP_MAX_ITEMS) */
	const uint8_t too_many[] = { 0, 1, 0x11, 0x70 };
	/* FACTS claiming 1000 pairs in 4 bytes */
	const uint8_t huge_claim[] = { 0, 0, 0x03, 0xe8, 0, 0, 0, 0 };
	/* HELLO with a build hash that is not hex */
	uint8_t bad_hash[4 + 4 + 64 + 4 + 4];
	/* TASK_RESULT with status 9 */
	const uint8_t bad_status[] = { 0, 0, 0, 1, 0, 0, 0, 2, 9, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0 };
	/* ERROR with a NUL inside the message */
	const uint8_t nul_msg[] = { 0, 0, 0, 1, 0, 0, 0, 3, 'a', 0, 'b' };
	/* BLOB with a chunk over KP_BLOB_CHUNK claimed */
	struct kp_facts facts;
	struct kp_hello hello;
	struct kp_task_result tr;
	struct kp_error err;
	struct kp_start st;
	struct kp_frame f;

	(void)state;
	f.reqid = 0;
	f.type = KP_FACTS;
	f.body = too_many;
	f.body_len = sizeof(too_many);
	assert_int_equal(kp_dec_facts(&f, &facts), KORCH_ERR_BAD_FRAME);
	f.body = huge_claim;
	f.body_len = sizeof(huge_claim);
	assert_int_equal(kp_dec_facts(&f, &facts), KORCH_ERR_BAD_FRAME);
	assert_null(facts.kv);

	memset(bad_hash, 0, sizeof(bad_hash));
	bad_hash[3] = 1;
	bad_hash[7] = 64;
	memset(bad_hash + 8, 'Z', 64);
	f.type = KP_HELLO;
	f.body = bad_hash;
	f.body_len = sizeof(bad_hash);
	assert_int_equal(kp_dec_hello(&f, &hello), KORCH_ERR_BAD_FRAME);
	memset(bad_hash + 8, 'a', 64);
	assert_int_equal(kp_dec_hello(&f, &hello), KORCH_OK);
	kp_hello_clear(&hello);

	f.type = KP_TASK_RESULT;
	f.body = bad_status;
	f.body_len = sizeof(bad_status);
	assert_int_equal(kp_dec_task_result(&f, &tr), KORCH_ERR_BAD_FRAME);

	f.type = KP_ERROR;
	f.body = nul_msg;
	f.body_len = sizeof(nul_msg);
	assert_int_equal(kp_dec_error(&f, &err), KORCH_ERR_BAD_FRAME);
	assert_null(err.message);

	f.type = KP_START;
	f.body = nul_msg;
	f.body_len = 4;
	assert_int_equal(kp_dec_start(&f, &st), KORCH_ERR_BAD_FRAME);
	/* every decoder refuses a frame of another type */
	f.type = 99;
	assert_int_equal(kp_dec_start(&f, &st), KORCH_ERR_BAD_FRAME);
	assert_int_equal(kp_dec_error(&f, &err), KORCH_ERR_BAD_FRAME);
	assert_string_equal(kp_type_name(99), "unknown");
	assert_string_equal(kp_type_name(KP_STEP), "STEP");
	assert_string_equal(kp_status_name(KP_ST_SKIPPED), "skipped");
}

static void
test_blob_bad_chunks(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_blob bl = { (char *)HASH, 0, (uint8_t *)"x", 1, 0 }, bl2;
	struct kp_frame f;
	uint8_t *body;

	(void)state;
	assert_int_equal(kp_enc_blob(b, 1, &bl), KORCH_OK);
	one_frame(b, KP_BLOB, 1, &f);
	body = malloc(f.body_len);
	memcpy(body, f.body, f.body_len);
	f.body = body;
	/* last flag must be 0 or 1 */
	body[f.body_len - 1] = 2;
	assert_int_equal(kp_dec_blob(&f, &bl2), KORCH_ERR_BAD_FRAME);
	body[f.body_len - 1] = 1;
	/* chunk length claimed beyond KP_BLOB_CHUNK */
	body[4 + 64 + 8] = 0x7f;
	assert_int_equal(kp_dec_blob(&f, &bl2), KORCH_ERR_BAD_FRAME);
	assert_null(bl2.data);
	free(body);
	kbuf_free(b);
}

static void
test_fetch_data_roundtrip(void **state)
{
	struct kbuf *b = kbuf_new(2u << 20);
	struct kp_fetch_data d, d2;
	struct kp_blob bl;
	struct kp_frame f;
	uint8_t *chunk;
	size_t i;

	(void)state;
	assert_string_equal(kp_type_name(KP_FETCH_DATA), "FETCH_DATA");
	assert_int_equal(KP_FETCH_DATA, 12);
	/* a full chunk of binary data at a large offset */
	chunk = malloc(KP_BLOB_CHUNK);
	for (i = 0; i < KP_BLOB_CHUNK; i++)
		chunk[i] = (uint8_t)(i * 7 + (i >> 9));
	memset(&d, 0, sizeof(d));
	d.step_id = 3;
	d.task_id = 17;
	d.offset = 5ULL << 32;
	d.data = chunk;
	d.len = KP_BLOB_CHUNK;
	d.last = 0;
	assert_int_equal(kp_enc_fetch_data(b, 9, &d), KORCH_OK);
	one_frame(b, KP_FETCH_DATA, 9, &f);
	assert_int_equal(kp_dec_fetch_data(&f, &d2), KORCH_OK);
	assert_int_equal(d2.step_id, 3);
	assert_int_equal(d2.task_id, 17);
	assert_true(d2.offset == 5ULL << 32);
	assert_int_equal(d2.len, KP_BLOB_CHUNK);
	assert_memory_equal(d2.data, chunk, KP_BLOB_CHUNK);
	assert_int_equal(d2.last, 0);
	kp_fetch_data_clear(&d2);
	kp_fetch_data_clear(&d2);	/* twice is fine */

	/* the empty last chunk of an empty file still has a data pointer */
	kbuf_reset(b);
	d.offset = 0;
	d.data = NULL;
	d.len = 0;
	d.last = 1;
	assert_int_equal(kp_enc_fetch_data(b, 9, &d), KORCH_OK);
	one_frame(b, KP_FETCH_DATA, 9, &f);
	assert_int_equal(kp_dec_fetch_data(&f, &d2), KORCH_OK);
	assert_non_null(d2.data);
	assert_int_equal(d2.len, 0);
	assert_int_equal(d2.last, 1);
	kp_fetch_data_clear(&d2);
	/* wrong decoder for the frame, and the wrong frame for this one */
	assert_int_equal(kp_dec_blob(&f, &bl), KORCH_ERR_BAD_FRAME);
	f.type = KP_BLOB;
	assert_int_equal(kp_dec_fetch_data(&f, &d2), KORCH_ERR_BAD_FRAME);
	assert_null(d2.data);

	/* the encoder refuses what a decoder would */
	kbuf_reset(b);
	d.data = chunk;
	d.len = KP_BLOB_CHUNK + 1;
	assert_int_equal(kp_enc_fetch_data(b, 9, &d), KORCH_ERR_INVALID_ARG);
	d.len = 1;
	d.last = 2;
	assert_int_equal(kp_enc_fetch_data(b, 9, &d), KORCH_ERR_INVALID_ARG);
	d.last = 0;
	d.offset = UINT64_MAX;
	assert_int_equal(kp_enc_fetch_data(b, 9, &d), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kbuf_len(b), 0);
	free(chunk);
	kbuf_free(b);
}

/* Every strict prefix of a body and a trailing byte are bad frames; so are
 * a chunk over KP_BLOB_CHUNK, a last flag over 1 and an offset that would
 * wrap. */
static void
test_fetch_data_bad(void **state)
{
	struct kbuf *b = kbuf_new(4096);
	struct kp_fetch_data d = { 1, 2, 4096, (uint8_t *)"\0abc", 4, 1 }, d2;
	struct kp_frame f, g;
	uint8_t *body;
	size_t i;

	(void)state;
	assert_int_equal(kp_enc_fetch_data(b, 5, &d), KORCH_OK);
	one_frame(b, KP_FETCH_DATA, 5, &f);
	for (i = 0; i < f.body_len; i++) {
		g = f;
		g.body_len = i;
		assert_int_equal(kp_dec_fetch_data(&g, &d2),
		    KORCH_ERR_BAD_FRAME);
		assert_null(d2.data);
	}
	body = malloc(f.body_len + 1);
	memcpy(body, f.body, f.body_len);
	body[f.body_len] = 0;
	g = f;
	g.body = body;
	g.body_len = f.body_len + 1;
	assert_int_equal(kp_dec_fetch_data(&g, &d2), KORCH_ERR_BAD_FRAME);
	assert_null(d2.data);
	g.body_len = f.body_len;
	assert_int_equal(kp_dec_fetch_data(&g, &d2), KORCH_OK);
	assert_memory_equal(d2.data, "\0abc", 4);
	kp_fetch_data_clear(&d2);
	/* last must be 0 or 1 */
	body[f.body_len - 1] = 2;
	assert_int_equal(kp_dec_fetch_data(&g, &d2), KORCH_ERR_BAD_FRAME);
	body[f.body_len - 1] = 1;
	/* an offset where offset + len would wrap */
	memset(body + 8, 0xff, 8);
	assert_int_equal(kp_dec_fetch_data(&g, &d2), KORCH_ERR_BAD_FRAME);
	memset(body + 8, 0, 8);
	/* a chunk length claimed beyond KP_BLOB_CHUNK */
	body[16] = 0x00;
	body[17] = 0x10;
	body[18] = 0x00;
	body[19] = 0x01;
	assert_int_equal(kp_dec_fetch_data(&g, &d2), KORCH_ERR_BAD_FRAME);
	assert_null(d2.data);
	free(body);
	kbuf_free(b);
}

/* A real oversized chunk, well within the frame limit, is refused. */
static void
test_fetch_data_oversized(void **state)
{
	struct kbuf *b = kbuf_new(KP_MAX_FRAME + 64);
	struct kbuf *body = kbuf_new(KP_MAX_FRAME);
	struct kp_fetch_data d;
	struct kp_frame f;
	uint8_t *big;

	(void)state;
	big = calloc(1, KP_BLOB_CHUNK + 1);
	assert_int_equal(kbuf_put_u32(body, 1), KORCH_OK);
	assert_int_equal(kbuf_put_u32(body, 2), KORCH_OK);
	assert_int_equal(kbuf_put_u64(body, 0), KORCH_OK);
	assert_int_equal(kbuf_put_str(body, big, KP_BLOB_CHUNK + 1), KORCH_OK);
	assert_int_equal(kbuf_put_u8(body, 1), KORCH_OK);
	assert_int_equal(kp_frame_put(b, KP_FETCH_DATA, 1, kbuf_ptr(body),
	    kbuf_len(body)), KORCH_OK);
	one_frame(b, KP_FETCH_DATA, 1, &f);
	assert_int_equal(kp_dec_fetch_data(&f, &d), KORCH_ERR_BAD_FRAME);
	assert_null(d.data);
	free(big);
	kbuf_free(body);
	kbuf_free(b);
}

static void
test_greeting(void **state)
{
	char line[400], hash[65];
	uint32_t v;

	(void)state;
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY 1 %s", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_OK);
	assert_int_equal(v, 1);
	assert_string_equal(hash, HASH);
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY 12 %s\r", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_OK);
	assert_int_equal(v, 12);

	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY  1 %s", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY x %s", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY 1 %.63s", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY 1 %sa", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY 1 %s", HASH);
	line[30] = 'G';
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	(void)snprintf(line, sizeof(line), "Last login: Mon 1 %s", HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	(void)snprintf(line, sizeof(line), "KORCH-AGENT-READY 9999999999 %s",
	    HASH);
	assert_int_equal(kp_greeting_parse(line, strlen(line), &v, hash),
	    KORCH_ERR_BAD_FRAME);
	assert_int_equal(kp_greeting_parse("", 0, &v, hash),
	    KORCH_ERR_BAD_FRAME);
}

TH_MAIN(
	cmocka_unit_test(test_frame_header),
	cmocka_unit_test(test_frame_limits),
	cmocka_unit_test(test_hello_start_roundtrip),
	cmocka_unit_test(test_facts_roundtrip),
	cmocka_unit_test(test_step_roundtrip),
	cmocka_unit_test(test_result_done_roundtrip),
	cmocka_unit_test(test_blob_error_bye_roundtrip),
	cmocka_unit_test(test_truncated_and_trailing),
	cmocka_unit_test(test_bad_counts_and_fields),
	cmocka_unit_test(test_blob_bad_chunks),
	cmocka_unit_test(test_fetch_data_roundtrip),
	cmocka_unit_test(test_fetch_data_bad),
	cmocka_unit_test(test_fetch_data_oversized),
	cmocka_unit_test(test_greeting),
)
