/*
 * fuzz_wire.c - libFuzzer target for the wire format.
 *
 * The input is treated as what a peer might send: a greeting line, then a
 * stream of frames.  Every frame is handed to every decoder (with its type
 * forced to match), so each decoder sees every body; a message that
 * decodes is encoded again and must decode to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static struct kbuf *scratch;

/* Encode, parse the frame back, return it (pointing into scratch). */
static void
reparse(struct kp_frame *g)
{
	size_t used;

	CHECK(kp_frame_parse(kbuf_ptr(scratch), kbuf_len(scratch), g,
	    &used) == KORCH_OK);
	CHECK(used == kbuf_len(scratch));
}

static void
kvs_equal(const struct kp_kv *a, const struct kp_kv *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		CHECK(strcmp(a[i].key, b[i].key) == 0);
		CHECK(a[i].val_len == b[i].val_len);
		CHECK(memcmp(a[i].val, b[i].val, a[i].val_len) == 0);
	}
}

static void
step_roundtrip(const struct kp_step *m)
{
	struct kp_step m2;
	struct kp_frame g;
	uint32_t i;

	kbuf_reset(scratch);
	/* What decoded must encode: it is no bigger than it was. */
	CHECK(kp_enc_step(scratch, 1, m) == KORCH_OK);
	reparse(&g);
	CHECK(kp_dec_step(&g, &m2) == KORCH_OK);
	CHECK(m2.id == m->id && m2.ntasks == m->ntasks &&
	    m2.nrequires == m->nrequires);
	CHECK(strcmp(m2.name, m->name) == 0);
	for (i = 0; i < m->ntasks; i++) {
		CHECK(m2.tasks[i].id == m->tasks[i].id);
		CHECK(strcmp(m2.tasks[i].module, m->tasks[i].module) == 0);
		CHECK(m2.tasks[i].nargs == m->tasks[i].nargs);
		CHECK(m2.tasks[i].nwatch == m->tasks[i].nwatch);
		kvs_equal(m2.tasks[i].args, m->tasks[i].args,
		    m->tasks[i].nargs);
		if (m->tasks[i].nwatch > 0)
			CHECK(memcmp(m2.tasks[i].watch, m->tasks[i].watch,
			    m->tasks[i].nwatch * sizeof(uint32_t)) == 0);
	}
	kp_step_clear(&m2);
}

static void
all_decoders(const struct kp_frame *f)
{
	struct kp_frame g = *f, h;
	struct kp_hello hello, hello2;
	struct kp_start start;
	struct kp_facts facts, facts2;
	struct kp_step step;
	struct kp_task_result tr, tr2;
	struct kp_step_done done, done2;
	struct kp_blob_req rq, rq2;
	struct kp_blob blob, blob2;
	struct kp_error err, err2;
	struct kp_fetch_data fd, fd2;

	g.type = KP_HELLO;
	if (kp_dec_hello(&g, &hello) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_hello(scratch, 0, &hello) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_hello(&h, &hello2) == KORCH_OK);
		CHECK(strcmp(hello.build_hash, hello2.build_hash) == 0);
		CHECK(strcmp(hello.agent_version, hello2.agent_version) == 0);
		CHECK(hello.version == hello2.version &&
		    hello.caps == hello2.caps);
		kp_hello_clear(&hello2);
	}
	kp_hello_clear(&hello);

	g.type = KP_START;
	(void)kp_dec_start(&g, &start);
	kp_start_clear(&start);

	g.type = KP_FACTS;
	if (kp_dec_facts(&g, &facts) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_facts(scratch, 0, &facts) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_facts(&h, &facts2) == KORCH_OK);
		CHECK(facts.n == facts2.n);
		kvs_equal(facts.kv, facts2.kv, facts.n);
		kp_facts_clear(&facts2);
	}
	kp_facts_clear(&facts);

	g.type = KP_STEP;
	if (kp_dec_step(&g, &step) == KORCH_OK) {
		step_roundtrip(&step);
		if (step.ntasks > 0)
			(void)kp_task_arg(&step.tasks[0], "path");
	}
	kp_step_clear(&step);

	g.type = KP_TASK_RESULT;
	if (kp_dec_task_result(&g, &tr) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_task_result(scratch, 0, &tr) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_task_result(&h, &tr2) == KORCH_OK);
		CHECK(strcmp(tr.message, tr2.message) == 0 &&
		    strcmp(tr.diff, tr2.diff) == 0 && tr.status == tr2.status);
		kp_task_result_clear(&tr2);
	}
	kp_task_result_clear(&tr);

	g.type = KP_STEP_DONE;
	if (kp_dec_step_done(&g, &done) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_step_done(scratch, 0, &done) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_step_done(&h, &done2) == KORCH_OK);
		CHECK(memcmp(&done, &done2, sizeof(done)) == 0);
	}

	g.type = KP_BLOB_REQ;
	if (kp_dec_blob_req(&g, &rq) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_blob_req(scratch, 0, &rq) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_blob_req(&h, &rq2) == KORCH_OK);
		CHECK(strcmp(rq.sha256, rq2.sha256) == 0);
		kp_blob_req_clear(&rq2);
	}
	kp_blob_req_clear(&rq);

	g.type = KP_BLOB;
	if (kp_dec_blob(&g, &blob) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_blob(scratch, 0, &blob) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_blob(&h, &blob2) == KORCH_OK);
		CHECK(blob.len == blob2.len && blob.offset == blob2.offset &&
		    blob.last == blob2.last);
		CHECK(memcmp(blob.data, blob2.data, blob.len) == 0);
		kp_blob_clear(&blob2);
	}
	kp_blob_clear(&blob);

	g.type = KP_ERROR;
	if (kp_dec_error(&g, &err) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_error(scratch, 0, &err) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_error(&h, &err2) == KORCH_OK);
		CHECK(err.code == err2.code &&
		    strcmp(err.message, err2.message) == 0);
		kp_error_clear(&err2);
	}
	kp_error_clear(&err);

	g.type = KP_FETCH_DATA;
	if (kp_dec_fetch_data(&g, &fd) == KORCH_OK) {
		kbuf_reset(scratch);
		CHECK(kp_enc_fetch_data(scratch, 0, &fd) == KORCH_OK);
		reparse(&h);
		CHECK(kp_dec_fetch_data(&h, &fd2) == KORCH_OK);
		CHECK(fd.step_id == fd2.step_id && fd.task_id == fd2.task_id &&
		    fd.offset == fd2.offset && fd.len == fd2.len &&
		    fd.last == fd2.last);
		CHECK(memcmp(fd.data, fd2.data, fd.len) == 0);
		kp_fetch_data_clear(&fd2);
	}
	kp_fetch_data_clear(&fd);

	(void)kp_type_name(f->type);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_frame f;
	const uint8_t *nl;
	char hash[65];
	uint32_t version;
	size_t used;
	int r;

	if (scratch == NULL && (scratch = kbuf_new(KP_MAX_FRAME + 64)) == NULL)
		return 0;
	/* Like the controller: a greeting line first, if there is one. */
	if ((nl = memchr(data, '\n', size < KP_GREETING_MAX + 1 ? size :
	    KP_GREETING_MAX + 1)) != NULL) {
		(void)kp_greeting_parse((const char *)data,
		    (size_t)(nl - data), &version, hash);
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	while (size > 0) {
		r = kp_frame_parse(data, size, &f, &used);
		if (r != KORCH_OK)
			break;
		CHECK(used >= KP_HDR_LEN && used <= size);
		CHECK(f.body_len == used - KP_HDR_LEN);
		all_decoders(&f);
		data += used;
		size -= used;
	}
	return 0;
}
