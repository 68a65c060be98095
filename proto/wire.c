/*
 * wire.c - frames and message codecs of the controller <-> agent protocol.
 * PROTOCOL.md is the prose version.
 *
 * Encoders build the body in a scratch buffer and append the frame to the
 * caller's buffer in one kp_frame_put(), so a failed encode leaves the
 * caller's buffer as it was.  Decoders start from a zeroed message, and on
 * any error clear what they built, so the caller never owns half a message.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "sha256hex.h"

#define KP_MAX_BODY	(KP_MAX_FRAME - 5)	/* length covers type + reqid */

const char *
kp_status_name(int status)
{
	switch (status) {
	case KP_ST_OK:		return "ok";
	case KP_ST_CHANGED:	return "changed";
	case KP_ST_FAILED:	return "failed";
	case KP_ST_SKIPPED:	return "skipped";
	}
	return "unknown";
}

const char *
kp_type_name(int type)
{
	switch (type) {
	case KP_HELLO:		return "HELLO";
	case KP_START:		return "START";
	case KP_FACTS_REQ:	return "FACTS_REQ";
	case KP_FACTS:		return "FACTS";
	case KP_STEP:		return "STEP";
	case KP_TASK_RESULT:	return "TASK_RESULT";
	case KP_STEP_DONE:	return "STEP_DONE";
	case KP_BLOB_REQ:	return "BLOB_REQ";
	case KP_BLOB:		return "BLOB";
	case KP_ERROR:		return "ERROR";
	case KP_BYE:		return "BYE";
	case KP_FETCH_DATA:	return "FETCH_DATA";
	}
	return "unknown";
}

/* ---- frames ------------------------------------------------------------ */

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
kp_frame_parse(const uint8_t *p, size_t len, struct kp_frame *f,
    size_t *used)
{
	uint32_t flen;

	if (f == NULL || used == NULL || (p == NULL && len > 0))
		return KORCH_ERR_INVALID_ARG;
	if (len < 4)
		return KORCH_ERR_INCOMPLETE;
	flen = get_u32(p);
	if (flen > KP_MAX_FRAME)
		return KORCH_ERR_TOO_LARGE;
	if (flen < KP_HDR_LEN - 4)
		return KORCH_ERR_BAD_FRAME;
	if (len - 4 < flen)
		return KORCH_ERR_INCOMPLETE;
	f->type = p[4];
	f->reqid = get_u32(p + 5);
	f->body = p + KP_HDR_LEN;
	f->body_len = flen - (KP_HDR_LEN - 4);
	*used = 4 + (size_t)flen;
	return KORCH_OK;
}

int
kp_frame_put(struct kbuf *out, uint8_t type, uint32_t reqid,
    const void *body, size_t body_len)
{
	int r;

	if (out == NULL || (body == NULL && body_len > 0))
		return KORCH_ERR_INVALID_ARG;
	if (body_len > KP_MAX_BODY)
		return KORCH_ERR_TOO_LARGE;
	/* All or nothing: check the room before writing the header. */
	if (kbuf_max(out) - kbuf_len(out) < KP_HDR_LEN + body_len)
		return KORCH_ERR_TOO_LARGE;
	if ((r = kbuf_put_u32(out, (uint32_t)(body_len + 5))) != KORCH_OK ||
	    (r = kbuf_put_u8(out, type)) != KORCH_OK ||
	    (r = kbuf_put_u32(out, reqid)) != KORCH_OK ||
	    (r = kbuf_put(out, body, body_len)) != KORCH_OK)
		return r;	/* only on ENOMEM, which cannot strike here */
	return KORCH_OK;
}

static int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
kp_greeting_parse(const char *line, size_t len, uint32_t *version,
    char hash[SHA256_HEX_SIZE])
{
	const size_t glen = sizeof(KP_GREETING) - 1;
	uint64_t v = 0;
	size_t i, ndig;

	if (line == NULL || version == NULL || hash == NULL)
		return KORCH_ERR_INVALID_ARG;
	/* A pty or a Windows-minded sshd may leave a CR before the LF. */
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > KP_GREETING_MAX || len < glen + 1 + 1 + 1 + 64)
		return KORCH_ERR_BAD_FRAME;
	if (memcmp(line, KP_GREETING, glen) != 0 || line[glen] != ' ')
		return KORCH_ERR_BAD_FRAME;
	i = glen + 1;
	for (ndig = 0; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (++ndig > 9)
			return KORCH_ERR_BAD_FRAME;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (ndig == 0 || i >= len || line[i] != ' ')
		return KORCH_ERR_BAD_FRAME;
	i++;
	if (len - i != 64 || !is_lower_hex(line + i, 64))
		return KORCH_ERR_BAD_FRAME;
	*version = (uint32_t)v;
	memcpy(hash, line + i, 64);
	hash[64] = '\0';
	return KORCH_OK;
}

/* ---- encoding helpers -------------------------------------------------- */

static struct kbuf *
body_new(void)
{
	return kbuf_new(KP_MAX_BODY);
}

static int
body_finish(struct kbuf *out, uint8_t type, uint32_t reqid, struct kbuf *b)
{
	return kp_frame_put(out, type, reqid, kbuf_ptr(b), kbuf_len(b));
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

/* ---- encoders ---------------------------------------------------------- */

int
kp_enc_hello(struct kbuf *out, uint32_t reqid, const struct kp_hello *m)
{
	struct kbuf *b = NULL;
	int r;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = kbuf_put_u32(b, m->version)) != KORCH_OK ||
	    (r = kbuf_put_cstr(b, m->build_hash)) != KORCH_OK ||
	    (r = kbuf_put_cstr(b, m->agent_version)) != KORCH_OK ||
	    (r = kbuf_put_u32(b, m->caps)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_HELLO, reqid, b);
out:
	kbuf_free(b);
	return r;
}

int
kp_enc_start(struct kbuf *out, uint32_t reqid, const struct kp_start *m)
{
	uint8_t x[8];

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	x[0] = (uint8_t)(m->version >> 24);
	x[1] = (uint8_t)(m->version >> 16);
	x[2] = (uint8_t)(m->version >> 8);
	x[3] = (uint8_t)m->version;
	x[4] = (uint8_t)(m->flags >> 24);
	x[5] = (uint8_t)(m->flags >> 16);
	x[6] = (uint8_t)(m->flags >> 8);
	x[7] = (uint8_t)m->flags;
	return kp_frame_put(out, KP_START, reqid, x, sizeof(x));
}

int
kp_enc_facts_req(struct kbuf *out, uint32_t reqid)
{
	return kp_frame_put(out, KP_FACTS_REQ, reqid, NULL, 0);
}

int
kp_enc_facts(struct kbuf *out, uint32_t reqid, const struct kp_facts *m)
{
	struct kbuf *b = NULL;
	int r;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = put_kvs(b, m->kv, m->n)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_FACTS, reqid, b);
out:
	kbuf_free(b);
	return r;
}

int
kp_enc_step(struct kbuf *out, uint32_t reqid, const struct kp_step *m)
{
	struct kbuf *b = NULL;
	const struct kp_task *t;
	uint32_t i;
	int r;

	if (m == NULL || m->ntasks > KP_MAX_ITEMS ||
	    (m->ntasks > 0 && m->tasks == NULL))
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
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
	r = body_finish(out, KP_STEP, reqid, b);
out:
	kbuf_free(b);
	return r;
}

int
kp_enc_task_result(struct kbuf *out, uint32_t reqid,
    const struct kp_task_result *m)
{
	struct kbuf *b = NULL;
	int r;

	if (m == NULL || m->status > KP_ST_SKIPPED)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = kbuf_put_u32(b, m->step_id)) != KORCH_OK ||
	    (r = kbuf_put_u32(b, m->task_id)) != KORCH_OK ||
	    (r = kbuf_put_u8(b, m->status)) != KORCH_OK ||
	    (r = kbuf_put_u32(b, m->duration_ms)) != KORCH_OK ||
	    (r = kbuf_put_cstr(b, m->message)) != KORCH_OK ||
	    (r = kbuf_put_cstr(b, m->diff)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_TASK_RESULT, reqid, b);
out:
	kbuf_free(b);
	return r;
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
	for (i = 0; i < 5; i++) {
		x[4 * i] = (uint8_t)(v[i] >> 24);
		x[4 * i + 1] = (uint8_t)(v[i] >> 16);
		x[4 * i + 2] = (uint8_t)(v[i] >> 8);
		x[4 * i + 3] = (uint8_t)v[i];
	}
	return kp_frame_put(out, KP_STEP_DONE, reqid, x, sizeof(x));
}

int
kp_enc_blob_req(struct kbuf *out, uint32_t reqid,
    const struct kp_blob_req *m)
{
	struct kbuf *b = NULL;
	int r;

	if (m == NULL || m->sha256 == NULL || strlen(m->sha256) != 64)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = kbuf_put_cstr(b, m->sha256)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_BLOB_REQ, reqid, b);
out:
	kbuf_free(b);
	return r;
}

int
kp_enc_blob(struct kbuf *out, uint32_t reqid, const struct kp_blob *m)
{
	struct kbuf *b = NULL;
	int r;

	if (m == NULL || m->sha256 == NULL || strlen(m->sha256) != 64 ||
	    m->len > KP_BLOB_CHUNK || (m->len > 0 && m->data == NULL) ||
	    m->last > 1)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = kbuf_put_cstr(b, m->sha256)) != KORCH_OK ||
	    (r = kbuf_put_u64(b, m->offset)) != KORCH_OK ||
	    (r = kbuf_put_str(b, m->data, m->len)) != KORCH_OK ||
	    (r = kbuf_put_u8(b, m->last)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_BLOB, reqid, b);
out:
	kbuf_free(b);
	return r;
}

int
kp_enc_error(struct kbuf *out, uint32_t reqid, const struct kp_error *m)
{
	struct kbuf *b = NULL;
	int r;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = kbuf_put_u32(b, (uint32_t)m->code)) != KORCH_OK ||
	    (r = kbuf_put_cstr(b, m->message)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_ERROR, reqid, b);
out:
	kbuf_free(b);
	return r;
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
	struct kbuf *b = NULL;
	int r;

	if (m == NULL || m->len > KP_BLOB_CHUNK ||
	    (m->len > 0 && m->data == NULL) || m->last > 1 ||
	    m->offset > UINT64_MAX - m->len)
		return KORCH_ERR_INVALID_ARG;
	if ((b = body_new()) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = kbuf_put_u32(b, m->step_id)) != KORCH_OK ||
	    (r = kbuf_put_u32(b, m->task_id)) != KORCH_OK ||
	    (r = kbuf_put_u64(b, m->offset)) != KORCH_OK ||
	    (r = kbuf_put_str(b, m->data, m->len)) != KORCH_OK ||
	    (r = kbuf_put_u8(b, m->last)) != KORCH_OK)
		goto out;
	r = body_finish(out, KP_FETCH_DATA, reqid, b);
out:
	kbuf_free(b);
	return r;
}

/* ---- decoding helpers -------------------------------------------------- */

/* Every failure inside a body is a bad frame, except running out of memory. */
static int
bad(int r)
{
	return r == KORCH_OK || r == KORCH_ERR_ALLOC ? r : KORCH_ERR_BAD_FRAME;
}

static int
dec_begin(const struct kp_frame *f, uint8_t type, struct kreader *r)
{
	if (f == NULL || (f->body == NULL && f->body_len > 0))
		return KORCH_ERR_INVALID_ARG;
	if (f->type != type || f->body_len > KP_MAX_BODY)
		return KORCH_ERR_BAD_FRAME;
	kreader_init(r, f->body, f->body_len);
	return KORCH_OK;
}

/* A string that must be a C string: no NUL inside. */
static int
get_cstr(struct kreader *r, char **out)
{
	size_t n;
	int e;

	if ((e = kreader_strdup(r, KP_MAX_BODY, out, &n)) != KORCH_OK)
		return bad(e);
	if (strlen(*out) != n) {
		free(*out);
		*out = NULL;
		return KORCH_ERR_BAD_FRAME;
	}
	return KORCH_OK;
}

/*
 * A list count, checked against the limit and against the bytes left so a
 * small frame cannot make us allocate for a huge claimed count.
 */
static int
get_count(struct kreader *r, size_t min_item, uint32_t *n)
{
	int e;

	if ((e = kreader_u32(r, n)) != KORCH_OK)
		return bad(e);
	if (*n > KP_MAX_ITEMS || (size_t)*n > kreader_left(r) / min_item)
		return KORCH_ERR_BAD_FRAME;
	return KORCH_OK;
}

static void
kvs_free(struct kp_kv *kv, uint32_t n)
{
	uint32_t i;

	if (kv == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].val);
	}
	free(kv);
}

static int
get_kvs(struct kreader *r, struct kp_kv **out, uint32_t *nout)
{
	struct kp_kv *kv = NULL;
	uint32_t n = 0, i = 0;
	int e;

	if ((e = get_count(r, 8, &n)) != KORCH_OK)
		goto out;
	if (n > 0 && (kv = calloc(n, sizeof(*kv))) == NULL) {
		e = KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((e = get_cstr(r, &kv[i].key)) != KORCH_OK)
			goto out;
		if ((e = kreader_strdup(r, KP_MAX_BODY, &kv[i].val,
		    &kv[i].val_len)) != KORCH_OK) {
			e = bad(e);
			goto out;
		}
	}
	e = KORCH_OK;
out:
	if (e != KORCH_OK) {
		kvs_free(kv, i + (i < n ? 1 : 0));
		kv = NULL;
		n = 0;
	}
	*out = kv;
	*nout = n;
	return e;
}

static int
get_u32s(struct kreader *r, uint32_t **out, uint32_t *nout)
{
	uint32_t *v = NULL, n = 0, i;
	int e;

	*out = NULL;
	*nout = 0;
	if ((e = get_count(r, 4, &n)) != KORCH_OK)
		return e;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		if ((e = kreader_u32(r, &v[i])) != KORCH_OK) {
			free(v);
			return bad(e);
		}
	}
	*out = v;
	*nout = n;
	return KORCH_OK;
}

static int
dec_end(struct kreader *r)
{
	return kreader_left(r) == 0 ? KORCH_OK : KORCH_ERR_BAD_FRAME;
}

/* ---- decoders ---------------------------------------------------------- */

int
kp_dec_hello(const struct kp_frame *f, struct kp_hello *m)
{
	struct kreader r;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_HELLO, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->version))) != KORCH_OK ||
	    (e = get_cstr(&r, &m->build_hash)) != KORCH_OK ||
	    (e = get_cstr(&r, &m->agent_version)) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->caps))) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		goto out;
	if (strlen(m->build_hash) != 64 ||
	    !is_lower_hex(m->build_hash, 64))
		e = KORCH_ERR_BAD_FRAME;
out:
	if (e != KORCH_OK)
		kp_hello_clear(m);
	return e;
}

int
kp_dec_start(const struct kp_frame *f, struct kp_start *m)
{
	struct kreader r;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_START, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->version))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->flags))) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		memset(m, 0, sizeof(*m));
	return e;
}

int
kp_dec_facts(const struct kp_frame *f, struct kp_facts *m)
{
	struct kreader r;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_FACTS, &r)) != KORCH_OK)
		return e;
	if ((e = get_kvs(&r, &m->kv, &m->n)) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		kp_facts_clear(m);
	return e;
}

int
kp_dec_step(const struct kp_frame *f, struct kp_step *m)
{
	struct kreader r;
	struct kp_task *t;
	uint32_t n;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_STEP, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->id))) != KORCH_OK ||
	    (e = get_cstr(&r, &m->name)) != KORCH_OK ||
	    (e = get_u32s(&r, &m->requires, &m->nrequires)) != KORCH_OK)
		goto out;
	/* A task is at least id + module + nargs + nwatch. */
	if ((e = get_count(&r, 16, &n)) != KORCH_OK)
		goto out;
	if (n > 0 && (m->tasks = calloc(n, sizeof(*m->tasks))) == NULL) {
		e = KORCH_ERR_ALLOC;
		goto out;
	}
	for (m->ntasks = 0; m->ntasks < n; m->ntasks++) {
		t = &m->tasks[m->ntasks];
		if ((e = bad(kreader_u32(&r, &t->id))) != KORCH_OK ||
		    (e = get_cstr(&r, &t->module)) != KORCH_OK ||
		    (e = get_kvs(&r, &t->args, &t->nargs)) != KORCH_OK ||
		    (e = get_u32s(&r, &t->watch, &t->nwatch)) != KORCH_OK) {
			m->ntasks++;	/* so clear frees the partial task */
			goto out;
		}
	}
	e = dec_end(&r);
out:
	if (e != KORCH_OK)
		kp_step_clear(m);
	return e;
}

int
kp_dec_task_result(const struct kp_frame *f, struct kp_task_result *m)
{
	struct kreader r;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_TASK_RESULT, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->step_id))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->task_id))) != KORCH_OK ||
	    (e = bad(kreader_u8(&r, &m->status))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->duration_ms))) != KORCH_OK ||
	    (e = get_cstr(&r, &m->message)) != KORCH_OK ||
	    (e = get_cstr(&r, &m->diff)) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		goto out;
	if (m->status > KP_ST_SKIPPED)
		e = KORCH_ERR_BAD_FRAME;
out:
	if (e != KORCH_OK)
		kp_task_result_clear(m);
	return e;
}

int
kp_dec_step_done(const struct kp_frame *f, struct kp_step_done *m)
{
	struct kreader r;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_STEP_DONE, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->step_id))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->ok))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->changed))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->failed))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->skipped))) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		memset(m, 0, sizeof(*m));
	return e;
}

static int
get_hash(struct kreader *r, char **out)
{
	int e;

	if ((e = get_cstr(r, out)) != KORCH_OK)
		return e;
	if (strlen(*out) != 64 || !is_lower_hex(*out, 64)) {
		free(*out);
		*out = NULL;
		return KORCH_ERR_BAD_FRAME;
	}
	return KORCH_OK;
}

int
kp_dec_blob_req(const struct kp_frame *f, struct kp_blob_req *m)
{
	struct kreader r;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_BLOB_REQ, &r)) != KORCH_OK)
		return e;
	if ((e = get_hash(&r, &m->sha256)) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		kp_blob_req_clear(m);
	return e;
}

int
kp_dec_blob(const struct kp_frame *f, struct kp_blob *m)
{
	struct kreader r;
	const uint8_t *p;
	size_t n;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_BLOB, &r)) != KORCH_OK)
		return e;
	if ((e = get_hash(&r, &m->sha256)) != KORCH_OK ||
	    (e = bad(kreader_u64(&r, &m->offset))) != KORCH_OK ||
	    (e = bad(kreader_str(&r, &p, &n))) != KORCH_OK)
		goto out;
	if (n > KP_BLOB_CHUNK) {
		e = KORCH_ERR_BAD_FRAME;
		goto out;
	}
	/* Never NULL, even for an empty chunk, so callers need no case. */
	if ((m->data = malloc(n > 0 ? n : 1)) == NULL) {
		e = KORCH_ERR_ALLOC;
		goto out;
	}
	if (n > 0)
		memcpy(m->data, p, n);
	m->len = (uint32_t)n;
	if ((e = bad(kreader_u8(&r, &m->last))) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		goto out;
	if (m->last > 1 || m->offset > UINT64_MAX - m->len)
		e = KORCH_ERR_BAD_FRAME;
out:
	if (e != KORCH_OK)
		kp_blob_clear(m);
	return e;
}

int
kp_dec_error(const struct kp_frame *f, struct kp_error *m)
{
	struct kreader r;
	uint32_t code;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_ERROR, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &code))) != KORCH_OK ||
	    (e = get_cstr(&r, &m->message)) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		goto out;
	m->code = (int32_t)code;
out:
	if (e != KORCH_OK)
		kp_error_clear(m);
	return e;
}

int
kp_dec_fetch_data(const struct kp_frame *f, struct kp_fetch_data *m)
{
	struct kreader r;
	const uint8_t *p;
	size_t n;
	int e;

	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if ((e = dec_begin(f, KP_FETCH_DATA, &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->step_id))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->task_id))) != KORCH_OK ||
	    (e = bad(kreader_u64(&r, &m->offset))) != KORCH_OK ||
	    (e = bad(kreader_str(&r, &p, &n))) != KORCH_OK)
		goto out;
	/* The chunk limit keeps a receiver's buffer bounded, whatever the
	 * frame limit allows. */
	if (n > KP_BLOB_CHUNK) {
		e = KORCH_ERR_BAD_FRAME;
		goto out;
	}
	/* Never NULL, even for an empty chunk, so callers need no case. */
	if ((m->data = malloc(n > 0 ? n : 1)) == NULL) {
		e = KORCH_ERR_ALLOC;
		goto out;
	}
	if (n > 0)
		memcpy(m->data, p, n);
	m->len = (uint32_t)n;
	if ((e = bad(kreader_u8(&r, &m->last))) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		goto out;
	if (m->last > 1 || m->offset > UINT64_MAX - m->len)
		e = KORCH_ERR_BAD_FRAME;
out:
	if (e != KORCH_OK)
		kp_fetch_data_clear(m);
	return e;
}

/* ---- clear ------------------------------------------------------------- */

void
kp_hello_clear(struct kp_hello *m)
{
	if (m == NULL)
		return;
	free(m->build_hash);
	free(m->agent_version);
	memset(m, 0, sizeof(*m));
}

void
kp_facts_clear(struct kp_facts *m)
{
	if (m == NULL)
		return;
	kvs_free(m->kv, m->n);
	memset(m, 0, sizeof(*m));
}

void
kp_step_clear(struct kp_step *m)
{
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; m->tasks != NULL && i < m->ntasks; i++) {
		free(m->tasks[i].module);
		kvs_free(m->tasks[i].args, m->tasks[i].nargs);
		free(m->tasks[i].watch);
	}
	free(m->tasks);
	free(m->name);
	free(m->requires);
	memset(m, 0, sizeof(*m));
}

void
kp_task_result_clear(struct kp_task_result *m)
{
	if (m == NULL)
		return;
	free(m->message);
	free(m->diff);
	memset(m, 0, sizeof(*m));
}

void
kp_blob_req_clear(struct kp_blob_req *m)
{
	if (m == NULL)
		return;
	free(m->sha256);
	memset(m, 0, sizeof(*m));
}

void
kp_blob_clear(struct kp_blob *m)
{
	if (m == NULL)
		return;
	free(m->sha256);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

void
kp_error_clear(struct kp_error *m)
{
	if (m == NULL)
		return;
	free(m->message);
	memset(m, 0, sizeof(*m));
}

void
kp_fetch_data_clear(struct kp_fetch_data *m)
{
	if (m == NULL)
		return;
	free(m->data);
	memset(m, 0, sizeof(*m));
}

const struct kp_kv *
kp_task_arg(const struct kp_task *t, const char *key)
{
	uint32_t i;

	if (t == NULL || key == NULL || t->args == NULL)
		return NULL;
	for (i = 0; i < t->nargs; i++)
		if (t->args[i].key != NULL && strcmp(t->args[i].key, key) == 0)
			return &t->args[i];
	return NULL;
}
