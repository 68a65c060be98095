/*
 * wire_enc.c - encoding each message of the controller <-> agent protocol
 * into a frame.  PROTOCOL.md is the prose version.
 *
 * Encoders build the body in a scratch buffer and append the frame to the
 * caller's buffer in one kp_frame_put(), so a failed encode leaves the
 * caller's buffer as it was.
 */
#include <string.h>

#include "err.h"
#include "wire.h"
#include "wire-int.h"

/* ---- encoding helpers -------------------------------------------------- */

/* The start of an encoder: KORCH_ERR_INVALID_ARG when the message is bad,
 * else a new scratch body in *b. */
static int
body_begin(int bad, struct kbuf **b)
{
	if (bad)
		return KORCH_ERR_INVALID_ARG;
	if ((*b = kbuf_new(KP_MAX_BODY)) == NULL)
		return KORCH_ERR_ALLOC;
	return KORCH_OK;
}

/* The end of an encoder: when its fields went in (r is KORCH_OK), append
 * the frame of body b to out; free b either way. */
static int
body_end(struct kbuf *out, uint8_t type, uint32_t reqid, struct kbuf *b,
    int r)
{
	if (r == KORCH_OK)
		r = kp_frame_put(out, type, reqid, kbuf_ptr(b), kbuf_len(b));
	kbuf_free(b);
	return r;
}

/*
 * A value with val_len 0 but a non-empty C string is sent as that string:
 * callers building arguments from C strings need not count them.  A value
 * that may hold NULs must set val_len.
 */
static int
put_kvs(struct kbuf *b, const struct kp_kv *kv, uint32_t n)
{
	uint32_t i;
	int r;

	if (n > KP_MAX_ITEMS || (n > 0 && kv == NULL))
		return KORCH_ERR_INVALID_ARG;
	if ((r = kbuf_put_u32(b, n)) != KORCH_OK)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = kbuf_put_cstr(b, kv[i].key)) != KORCH_OK)
			return r;
		if (kv[i].val != NULL && kv[i].val_len == 0)
			r = kbuf_put_cstr(b, kv[i].val);
		else
			r = kbuf_put_str(b, kv[i].val, kv[i].val_len);
		if (r != KORCH_OK)
			return r;
	}
	return KORCH_OK;
}

static int
put_u32s(struct kbuf *b, const uint32_t *v, uint32_t n)
{
	uint32_t i;
	int r;

	if (n > KP_MAX_ITEMS || (n > 0 && v == NULL))
		return KORCH_ERR_INVALID_ARG;
	if ((r = kbuf_put_u32(b, n)) != KORCH_OK)
		return r;
	for (i = 0; i < n; i++)
		if ((r = kbuf_put_u32(b, v[i])) != KORCH_OK)
			return r;
	return KORCH_OK;
}

/* A hash the agent can look up: 64 characters (the decoder checks more). */
static int
bad_hash(const char *h)
{
	return h == NULL || strlen(h) != 64;
}

/* ---- encoders ---------------------------------------------------------- */

int
kp_enc_hello(struct kbuf *out, uint32_t reqid, const struct kp_hello *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL, &b)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, m->version)) == KORCH_OK &&
	    (r = kbuf_put_cstr(b, m->build_hash)) == KORCH_OK &&
	    (r = kbuf_put_cstr(b, m->agent_version)) == KORCH_OK)
		r = kbuf_put_u32(b, m->caps);
	return body_end(out, KP_HELLO, reqid, b, r);
}

int
kp_enc_start(struct kbuf *out, uint32_t reqid, const struct kp_start *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL, &b)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, m->version)) == KORCH_OK &&
	    (r = kbuf_put_u32(b, m->flags)) == KORCH_OK &&
	    m->version >= KP_VERSION_LOCK &&
	    (r = kbuf_put_cstr(b, m->ctl_host != NULL ? m->ctl_host : "")) ==
	    KORCH_OK &&
	    (r = kbuf_put_u32(b, m->ctl_pid)) == KORCH_OK &&
	    (r = kbuf_put_cstr(b, m->state != NULL ? m->state : "")) ==
	    KORCH_OK)
		r = kbuf_put_u64(b, m->run_id);
	return body_end(out, KP_START, reqid, b, r);
}

int
kp_enc_facts_req(struct kbuf *out, uint32_t reqid)
{
	return kp_frame_put(out, KP_FACTS_REQ, reqid, NULL, 0);
}

int
kp_enc_facts(struct kbuf *out, uint32_t reqid, const struct kp_facts *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL, &b)) != KORCH_OK)
		return r;
	r = put_kvs(b, m->kv, m->n);
	return body_end(out, KP_FACTS, reqid, b, r);
}

int
kp_enc_step(struct kbuf *out, uint32_t reqid, const struct kp_step *m)
{
	struct kbuf *b;
	const struct kp_task *t;
	uint32_t i;
	int r;

	if ((r = body_begin(m == NULL || m->ntasks > KP_MAX_ITEMS ||
	    (m->ntasks > 0 && m->tasks == NULL), &b)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, m->id)) != KORCH_OK ||
	    (r = kbuf_put_cstr(b, m->name)) != KORCH_OK ||
	    (r = put_u32s(b, m->requires, m->nrequires)) != KORCH_OK ||
	    (r = kbuf_put_u32(b, m->ntasks)) != KORCH_OK)
		goto out;
	for (i = 0; i < m->ntasks; i++) {
		t = &m->tasks[i];
		if ((r = kbuf_put_u32(b, t->id)) != KORCH_OK ||
		    (r = kbuf_put_cstr(b, t->module)) != KORCH_OK ||
		    (r = put_kvs(b, t->args, t->nargs)) != KORCH_OK ||
		    (r = put_u32s(b, t->watch, t->nwatch)) != KORCH_OK)
			goto out;
	}
out:
	return body_end(out, KP_STEP, reqid, b, r);
}

int
kp_enc_task_result(struct kbuf *out, uint32_t reqid,
    const struct kp_task_result *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL || m->status > KP_ST_SKIPPED, &b)) !=
	    KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, m->step_id)) == KORCH_OK &&
	    (r = kbuf_put_u32(b, m->task_id)) == KORCH_OK &&
	    (r = kbuf_put_u8(b, m->status)) == KORCH_OK &&
	    (r = kbuf_put_u32(b, m->duration_ms)) == KORCH_OK &&
	    (r = kbuf_put_cstr(b, m->message)) == KORCH_OK)
		r = kbuf_put_cstr(b, m->diff);
	return body_end(out, KP_TASK_RESULT, reqid, b, r);
}

int
kp_enc_step_done(struct kbuf *out, uint32_t reqid,
    const struct kp_step_done *m)
{
	uint32_t v[5];
	uint8_t x[20];
	size_t i;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	v[0] = m->step_id;
	v[1] = m->ok;
	v[2] = m->changed;
	v[3] = m->failed;
	v[4] = m->skipped;
	for (i = 0; i < 5; i++)
		kp_be_put(x + 4 * i, v[i], 4);
	return kp_frame_put(out, KP_STEP_DONE, reqid, x, sizeof(x));
}

int
kp_enc_blob_req(struct kbuf *out, uint32_t reqid,
    const struct kp_blob_req *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL || bad_hash(m->sha256), &b)) != KORCH_OK)
		return r;
	r = kbuf_put_cstr(b, m->sha256);
	return body_end(out, KP_BLOB_REQ, reqid, b, r);
}

int
kp_enc_blob(struct kbuf *out, uint32_t reqid, const struct kp_blob *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL || bad_hash(m->sha256) ||
	    m->len > KP_BLOB_CHUNK || (m->len > 0 && m->data == NULL) ||
	    m->last > 1, &b)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_cstr(b, m->sha256)) == KORCH_OK &&
	    (r = kbuf_put_u64(b, m->offset)) == KORCH_OK &&
	    (r = kbuf_put_str(b, m->data, m->len)) == KORCH_OK)
		r = kbuf_put_u8(b, m->last);
	return body_end(out, KP_BLOB, reqid, b, r);
}

int
kp_enc_error(struct kbuf *out, uint32_t reqid, const struct kp_error *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL, &b)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, (uint32_t)m->code)) == KORCH_OK)
		r = kbuf_put_cstr(b, m->message);
	return body_end(out, KP_ERROR, reqid, b, r);
}

int
kp_enc_bye(struct kbuf *out, uint32_t reqid)
{
	return kp_frame_put(out, KP_BYE, reqid, NULL, 0);
}

int
kp_enc_fetch_data(struct kbuf *out, uint32_t reqid,
    const struct kp_fetch_data *m)
{
	struct kbuf *b;
	int r;

	if ((r = body_begin(m == NULL || m->len > KP_BLOB_CHUNK ||
	    (m->len > 0 && m->data == NULL) || m->last > 1 ||
	    m->offset > UINT64_MAX - m->len, &b)) != KORCH_OK)
		return r;
	if ((r = kbuf_put_u32(b, m->step_id)) == KORCH_OK &&
	    (r = kbuf_put_u32(b, m->task_id)) == KORCH_OK &&
	    (r = kbuf_put_u64(b, m->offset)) == KORCH_OK &&
	    (r = kbuf_put_str(b, m->data, m->len)) == KORCH_OK)
		r = kbuf_put_u8(b, m->last);
	return body_end(out, KP_FETCH_DATA, reqid, b, r);
}
