/*
 * wire.h - the korch controller <-> agent protocol.  PROTOCOL.md beside this
 * file is the prose version; keep them in step.
 *
 * A session starts with the agent printing one text line,
 *     KORCH-AGENT-READY <proto-version> <build-sha256>\n
 * so the controller can skip whatever a login shell printed first.  After
 * that line both directions carry frames:
 *
 *     u32 length   bytes after this field (type + reqid + body), <= KP_MAX_FRAME
 *     u8  type     enum kp_type; numbers are never reused
 *     u32 reqid    the request a reply belongs to (0 when none)
 *     ...  body    the message's fields, big-endian, strings as u32 len + bytes
 *
 * Decoders copy what they keep (NUL-terminated strings), so a decoded
 * message outlives the frame; each kp_*_clear() frees what a decode made and
 * is safe on a zeroed or already-cleared struct.  Decoders reject trailing
 * bytes, counts over the KP_MAX_* limits and truncated bodies with
 * KORCH_ERR_BAD_FRAME; they never read past the frame.
 */
#ifndef KORCH_WIRE_H
#define KORCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "sha256hex.h"

/* 2: FETCH_DATA and the fetch module (an agent still serves 1).
 * 3: START names the controller, and the agent takes the host lock. */
#define KP_VERSION		3
#define KP_VERSION_FETCH	2		/* first version with FETCH_DATA */
#define KP_VERSION_LOCK		3		/* first with START's holder */
#define KP_HOLDER_MAX		4096		/* ctl_host, state: bytes */
#define KP_GREETING		"KORCH-AGENT-READY"
#define KP_GREETING_MAX		256		/* the greeting line's limit */
#define KP_HDR_LEN		9		/* length + type + reqid */
#define KP_MAX_FRAME		(8u << 20)	/* hard limit per frame */
#define KP_MAX_ITEMS		65536		/* list counts in one message */
#define KP_BLOB_CHUNK		(1u << 20)	/* BLOB / FETCH_DATA data per frame */

enum kp_type {
	KP_HELLO	= 1,	/* agent -> ctl: version, build hash */
	KP_START	= 2,	/* ctl -> agent: version chosen, session flags */
	KP_FACTS_REQ	= 3,	/* ctl -> agent */
	KP_FACTS	= 4,	/* agent -> ctl: key/value facts */
	KP_STEP		= 5,	/* ctl -> agent: one step's rendered tasks */
	KP_TASK_RESULT	= 6,	/* agent -> ctl: one task's outcome */
	KP_STEP_DONE	= 7,	/* agent -> ctl: a step finished */
	KP_BLOB_REQ	= 8,	/* agent -> ctl: send me content with this hash */
	KP_BLOB		= 9,	/* ctl -> agent: a chunk of that content */
	KP_ERROR	= 10,	/* either way: fatal to the session */
	KP_BYE		= 11,	/* ctl -> agent: finish and exit */
	KP_FETCH_DATA	= 12,	/* agent -> ctl: a chunk of a file it fetches */
};

/* KP_START flags */
#define KP_START_CHECK_ONLY	0x1u	/* report what would change, change nothing */

/* Task status, in KP_TASK_RESULT */
enum kp_status {
	KP_ST_OK	= 0,	/* already as desired */
	KP_ST_CHANGED	= 1,	/* changed (or would change, in check mode) */
	KP_ST_FAILED	= 2,
	KP_ST_SKIPPED	= 3,	/* a guard said no, or a required step failed */
};
const char *kp_status_name(int status);	/* "ok", "changed", ... */
const char *kp_type_name(int type);	/* "HELLO", ... or "unknown" */

/* One frame, as a view into the caller's memory. */
struct kp_frame {
	uint8_t		 type;
	uint32_t	 reqid;
	const uint8_t	*body;
	size_t		 body_len;
};

/*
 * Find one frame at the start of p[0..len).  On success fills *f (pointing
 * into p) and sets *used to the bytes it covers.  KORCH_ERR_INCOMPLETE when
 * more bytes are needed, KORCH_ERR_TOO_LARGE when the length field exceeds
 * KP_MAX_FRAME (the stream is then unusable), KORCH_ERR_BAD_FRAME when the
 * length is below the header size.
 */
int kp_frame_parse(const uint8_t *p, size_t len, struct kp_frame *f,
    size_t *used);

/* Append a whole frame (header + body) to out. */
int kp_frame_put(struct kbuf *out, uint8_t type, uint32_t reqid,
    const void *body, size_t body_len);

/* Parse the greeting line (without its '\n').  0 and fills the version and
 * a copy of the hash (65 bytes incl. NUL), or KORCH_ERR_BAD_FRAME. */
int kp_greeting_parse(const char *line, size_t len, uint32_t *version,
    char hash[SHA256_HEX_SIZE]);

/* ---- messages ----------------------------------------------------------- */

struct kp_kv {
	char		*key;
	char		*val;		/* NUL-terminated, may hold NULs */
	size_t		 val_len;
};

struct kp_hello {
	uint32_t	 version;
	char		*build_hash;	/* hex sha256 of the agent binary */
	char		*agent_version;
	uint32_t	 caps;
};

/* From version 3 the controller says who it is; with ctl_host non-empty
 * the agent takes the host lock for the session (PROTOCOL.md).  Decoded
 * strings are owned (kp_start_clear); an encoder takes NULL as "". */
struct kp_start {
	uint32_t	 version;
	uint32_t	 flags;		/* KP_START_* */
	char		*ctl_host;	/* the controller's hostname */
	uint32_t	 ctl_pid;
	char		*state;		/* its state file */
	uint64_t	 run_id;	/* its run in that state */
};

struct kp_facts {
	struct kp_kv	*kv;
	uint32_t	 n;
};

/*
 * A task: a module name and its arguments as an ordered key/value list.
 * A list argument is the same key repeated (argv for command).  watch names
 * task ids of this session whose change should restart a service.
 */
struct kp_task {
	uint32_t	 id;
	char		*module;
	struct kp_kv	*args;
	uint32_t	 nargs;
	uint32_t	*watch;
	uint32_t	 nwatch;
};

/*
 * A step: its tasks run in order; the agent stops at the first failed task
 * and reports the rest as skipped.  requires lists step ids sent earlier in
 * this session: if any of them failed, this step is skipped whole.
 */
struct kp_step {
	uint32_t	 id;
	char		*name;
	uint32_t	*requires;
	uint32_t	 nrequires;
	struct kp_task	*tasks;
	uint32_t	 ntasks;
};

struct kp_task_result {
	uint32_t	 step_id;
	uint32_t	 task_id;
	uint8_t		 status;	/* enum kp_status */
	uint32_t	 duration_ms;
	char		*message;	/* one line */
	char		*diff;		/* short unified-style diff, may be "" */
};

struct kp_step_done {
	uint32_t	 step_id;
	uint32_t	 ok, changed, failed, skipped;
};

struct kp_blob_req {
	char		*sha256;	/* hex */
};

struct kp_blob {
	char		*sha256;
	uint64_t	 offset;
	uint8_t		*data;
	uint32_t	 len;		/* <= KP_BLOB_CHUNK */
	uint8_t		 last;
};

struct kp_error {
	int32_t		 code;		/* KORCH_ERR_* */
	char		*message;
};

/*
 * A chunk of a file a fetch task sends to the controller.  Offsets run
 * contiguously from 0; the final chunk (possibly empty) has last = 1; the
 * task's TASK_RESULT follows and carries the sha256.
 */
struct kp_fetch_data {
	uint32_t	 step_id;
	uint32_t	 task_id;
	uint64_t	 offset;
	uint8_t		*data;
	uint32_t	 len;		/* <= KP_BLOB_CHUNK */
	uint8_t		 last;		/* 0 or 1 */
};

/* Encoders append one whole frame to out. */
int kp_enc_hello(struct kbuf *out, uint32_t reqid, const struct kp_hello *m);
int kp_enc_start(struct kbuf *out, uint32_t reqid, const struct kp_start *m);
int kp_enc_facts_req(struct kbuf *out, uint32_t reqid);
int kp_enc_facts(struct kbuf *out, uint32_t reqid, const struct kp_facts *m);
int kp_enc_step(struct kbuf *out, uint32_t reqid, const struct kp_step *m);
int kp_enc_task_result(struct kbuf *out, uint32_t reqid,
    const struct kp_task_result *m);
int kp_enc_step_done(struct kbuf *out, uint32_t reqid,
    const struct kp_step_done *m);
int kp_enc_blob_req(struct kbuf *out, uint32_t reqid,
    const struct kp_blob_req *m);
int kp_enc_blob(struct kbuf *out, uint32_t reqid, const struct kp_blob *m);
int kp_enc_error(struct kbuf *out, uint32_t reqid, const struct kp_error *m);
int kp_enc_bye(struct kbuf *out, uint32_t reqid);
int kp_enc_fetch_data(struct kbuf *out, uint32_t reqid,
    const struct kp_fetch_data *m);

/* Decoders: f->type must match (else KORCH_ERR_BAD_FRAME). */
int kp_dec_hello(const struct kp_frame *f, struct kp_hello *m);
int kp_dec_start(const struct kp_frame *f, struct kp_start *m);
int kp_dec_facts(const struct kp_frame *f, struct kp_facts *m);
int kp_dec_step(const struct kp_frame *f, struct kp_step *m);
int kp_dec_task_result(const struct kp_frame *f, struct kp_task_result *m);
int kp_dec_step_done(const struct kp_frame *f, struct kp_step_done *m);
int kp_dec_blob_req(const struct kp_frame *f, struct kp_blob_req *m);
int kp_dec_blob(const struct kp_frame *f, struct kp_blob *m);
int kp_dec_error(const struct kp_frame *f, struct kp_error *m);
int kp_dec_fetch_data(const struct kp_frame *f, struct kp_fetch_data *m);

void kp_hello_clear(struct kp_hello *m);
void kp_start_clear(struct kp_start *m);
void kp_facts_clear(struct kp_facts *m);
void kp_step_clear(struct kp_step *m);
void kp_task_result_clear(struct kp_task_result *m);
void kp_blob_req_clear(struct kp_blob_req *m);
void kp_blob_clear(struct kp_blob *m);
void kp_error_clear(struct kp_error *m);
void kp_fetch_data_clear(struct kp_fetch_data *m);

/* Look up an argument: first value of key, or NULL. */
const struct kp_kv *kp_task_arg(const struct kp_task *t, const char *key);

#endif
