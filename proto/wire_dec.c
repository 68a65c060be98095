/*
 * wire_dec.c - decoding each message of the controller <-> agent protocol
 * from a frame, and freeing what a decode made.  PROTOCOL.md is the prose
 * version.
 *
 * Decoders start from a zeroed message, and on any error clear what they
 * built, so the caller never owns half a message.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "wire-int.h"
#include "sha256hex.h"

/* ---- decoding helpers -------------------------------------------------- */

/* Every failure inside a body is a bad frame, except running out of memory. */
static int
bad(int r)
{
	return r == KORCH_OK || r == KORCH_ERR_ALLOC ? r : KORCH_ERR_BAD_FRAME;
}

/* The start of a decoder: the message m (size bytes) zeroed, and a reader
 * over the body of f, which must be of that type. */
static int
dec_begin(const struct kp_frame *f, uint8_t type, void *m, size_t size,
    struct kreader *r)
{
	if (m == NULL)
		return KORCH_ERR_INVALID_ARG;
	memset(m, 0, size);
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

static void *(*const volatile kv_memset)(void *, int, size_t) = memset;

/* A task's arguments may hold a private key (a secret file's content):
 * every value is wiped before it goes back to malloc. */
static void
kvs_free(struct kp_kv *kv, uint32_t n)
{
	uint32_t i;

	if (kv == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(kv[i].key);
		if (kv[i].val != NULL)
			kv_memset(kv[i].val, 0, kv[i].val_len);
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

	if ((e = dec_begin(f, KP_HELLO, m, sizeof(*m), &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->version))) != KORCH_OK ||
	    (e = get_cstr(&r, &m->build_hash)) != KORCH_OK ||
	    (e = get_cstr(&r, &m->agent_version)) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->caps))) != KORCH_OK ||
	    (e = dec_end(&r)) != KORCH_OK)
		goto out;
	if (!sha256_hex_valid(m->build_hash))
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

	if ((e = dec_begin(f, KP_START, m, sizeof(*m), &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->version))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->flags))) != KORCH_OK)
		goto out;
	/* The layout is the version's: a version-2 START has no holder. */
	if (m->version >= KP_VERSION_LOCK &&
	    ((e = get_cstr(&r, &m->ctl_host)) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->ctl_pid))) != KORCH_OK ||
	    (e = get_cstr(&r, &m->state)) != KORCH_OK ||
	    (e = bad(kreader_u64(&r, &m->run_id))) != KORCH_OK))
		goto out;
	if ((e = dec_end(&r)) != KORCH_OK)
		goto out;
	if (m->version >= KP_VERSION_LOCK && (strlen(m->ctl_host) >
	    KP_HOLDER_MAX || strlen(m->state) > KP_HOLDER_MAX))
		e = KORCH_ERR_BAD_FRAME;
out:
	if (e != KORCH_OK)
		kp_start_clear(m);
	return e;
}

int
kp_dec_facts(const struct kp_frame *f, struct kp_facts *m)
{
	struct kreader r;
	int e;

	if ((e = dec_begin(f, KP_FACTS, m, sizeof(*m), &r)) != KORCH_OK)
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

	if ((e = dec_begin(f, KP_STEP, m, sizeof(*m), &r)) != KORCH_OK)
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

	if ((e = dec_begin(f, KP_TASK_RESULT, m, sizeof(*m), &r)) != KORCH_OK)
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

	if ((e = dec_begin(f, KP_STEP_DONE, m, sizeof(*m), &r)) != KORCH_OK)
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
	if (!sha256_hex_valid(*out)) {
		free(*out);
		*out = NULL;
		return KORCH_ERR_BAD_FRAME;
	}
	return KORCH_OK;
}

/*
 * The rest of a BLOB or FETCH_DATA body once its offset is read: the data,
 * the last flag and the end.  *data is a new copy (freed by the message's
 * clear, also on error).
 */
static int
get_chunk(struct kreader *r, uint64_t offset, uint8_t **data, uint32_t *len,
    uint8_t *last)
{
	const uint8_t *p;
	size_t n;
	int e;

	if ((e = bad(kreader_str(r, &p, &n))) != KORCH_OK)
		return e;
	/* The chunk limit keeps a receiver's buffer bounded, whatever the
	 * frame limit allows. */
	if (n > KP_BLOB_CHUNK)
		return KORCH_ERR_BAD_FRAME;
	/* Never NULL, even for an empty chunk, so callers need no case. */
	if ((*data = malloc(n > 0 ? n : 1)) == NULL)
		return KORCH_ERR_ALLOC;
	if (n > 0)
		memcpy(*data, p, n);
	*len = (uint32_t)n;
	if ((e = bad(kreader_u8(r, last))) != KORCH_OK ||
	    (e = dec_end(r)) != KORCH_OK)
		return e;
	if (*last > 1 || offset > UINT64_MAX - *len)
		return KORCH_ERR_BAD_FRAME;
	return KORCH_OK;
}

int
kp_dec_blob_req(const struct kp_frame *f, struct kp_blob_req *m)
{
	struct kreader r;
	int e;

	if ((e = dec_begin(f, KP_BLOB_REQ, m, sizeof(*m), &r)) != KORCH_OK)
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
	int e;

	if ((e = dec_begin(f, KP_BLOB, m, sizeof(*m), &r)) != KORCH_OK)
		return e;
	if ((e = get_hash(&r, &m->sha256)) != KORCH_OK ||
	    (e = bad(kreader_u64(&r, &m->offset))) != KORCH_OK ||
	    (e = get_chunk(&r, m->offset, &m->data, &m->len, &m->last)) !=
	    KORCH_OK)
		kp_blob_clear(m);
	return e;
}

int
kp_dec_error(const struct kp_frame *f, struct kp_error *m)
{
	struct kreader r;
	uint32_t code;
	int e;

	if ((e = dec_begin(f, KP_ERROR, m, sizeof(*m), &r)) != KORCH_OK)
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
	int e;

	if ((e = dec_begin(f, KP_FETCH_DATA, m, sizeof(*m), &r)) != KORCH_OK)
		return e;
	if ((e = bad(kreader_u32(&r, &m->step_id))) != KORCH_OK ||
	    (e = bad(kreader_u32(&r, &m->task_id))) != KORCH_OK ||
	    (e = bad(kreader_u64(&r, &m->offset))) != KORCH_OK ||
	    (e = get_chunk(&r, m->offset, &m->data, &m->len, &m->last)) !=
	    KORCH_OK)
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
kp_start_clear(struct kp_start *m)
{
	if (m == NULL)
		return;
	free(m->ctl_host);
	free(m->state);
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
