/*
 * agent.h - korch-agent's session, serve loop, blob transfer and facts.
 *
 * One agent process serves one controller session over a pair of file
 * descriptors (stdin/stdout under SSH; a socketpair in tests).  All
 * per-session state lives in struct agent_session, never in globals, so
 * tests can run several sessions in one process.
 */
#ifndef KORCH_AGENT_H
#define KORCH_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

#define KORCH_AGENT_VERSION	"0.1.0"

struct agent_session;
struct agent_proc_watch;

/* A session reading frames from in_fd and writing to out_fd (not owned:
 * never closed by the session).  NULL on ENOMEM. */
struct agent_session *agent_session_new(int in_fd, int out_fd);
void agent_session_free(struct agent_session *s);	/* NULL-safe */

/* Write every byte of frames to out_fd, then empty it. */
int agent_session_send(struct agent_session *s, struct kbuf *frames);
/* Block for the next whole frame; f points into the session's buffer and
 * stays valid until the next call.  KORCH_ERR_EOF on EOF at a frame
 * boundary, KORCH_ERR_BAD_FRAME on EOF inside a frame or a bad length. */
int agent_session_recv(struct agent_session *s, struct kp_frame *f);
/*
 * The same, but straight from the wire, past any deferred frames: for a
 * blob fetch, which must see the controller's BLOB chunks while steps it
 * already sent wait.  agent_session_defer() keeps a copy of such a frame
 * (at most AGENT_DEFERRED_MAX bytes of them, else KORCH_ERR_TOO_LARGE);
 * agent_session_recv() returns deferred frames first, in order.
 */
#define AGENT_DEFERRED_MAX	(64u << 20)
int agent_session_recv_wire(struct agent_session *s, struct kp_frame *f);
int agent_session_defer(struct agent_session *s, const struct kp_frame *f);

/*
 * The session's input as proc.h watches it while a child runs: every
 * agent_proc_run() of a module passes it, so the child's group is killed
 * when the controller goes away.  Owned by the session.  Once the
 * controller is gone, agent_session_closed() is 1 and recv and recv_wire
 * return KORCH_ERR_EOF, also for frames still buffered.
 */
struct agent_proc_watch *agent_session_watch(struct agent_session *s);
int agent_session_closed(const struct agent_session *s);

/* The host lock (hostlock.h) the session holds: fd is owned from here on
 * and closed (the lock released) when the session is freed. */
void agent_session_hold_lock(struct agent_session *s, int fd);

/* Check-only mode (from START) applies to every step of the session. */
void agent_session_set_check_only(struct agent_session *s, int on);
int agent_session_check_only(const struct agent_session *s);
/* The STEP request being served; BLOB_REQ frames carry it. */
void agent_session_set_reqid(struct agent_session *s, uint32_t reqid);
uint32_t agent_session_reqid(const struct agent_session *s);
/* That STEP's id: a module sending frames of its own (FETCH_DATA) names
 * its task by step and task id. */
void agent_session_set_step_id(struct agent_session *s, uint32_t step_id);
uint32_t agent_session_step_id(const struct agent_session *s);
/* The protocol version START chose; KP_VERSION until then.  Modules that
 * send messages a version introduced check it. */
void agent_session_set_version(struct agent_session *s, uint32_t version);
uint32_t agent_session_version(const struct agent_session *s);

/* Tasks that reported changed (or would-change in check mode). */
int agent_session_mark_changed(struct agent_session *s, uint32_t task_id);
int agent_session_task_changed(const struct agent_session *s,
    uint32_t task_id);
/* Steps that failed, or were skipped because a step they require failed. */
int agent_session_mark_failed(struct agent_session *s, uint32_t step_id,
    const char *name);
/* The failed step's name ("" when it had none), or NULL when not failed. */
const char *agent_session_step_failed(const struct agent_session *s,
    uint32_t step_id);

/*
 * The serve loop: greeting line and HELLO, then START, then FACTS_REQ /
 * STEP until BYE.  0 on BYE or EOF between frames; on a protocol error it
 * sends ERROR and returns the negative code.
 */
int agent_serve(struct agent_session *s, const char *self_hash);

/*
 * Ask the controller for content by hash (BLOB_REQ) and write it to fd,
 * verifying size and sha256.  KORCH_OK when verified.  A failure of this
 * task only (KORCH_ERR_HASH_MISMATCH, KORCH_ERR_SYSTEM writing fd) puts a
 * reason in err and leaves the stream in sync; any other negative code
 * means the session cannot go on.
 */
int agent_blob_fetch(struct agent_session *s, const char *sha256,
    uint64_t size, int fd, char *err, size_t errlen);

/* Facts about this host as key/value pairs; free with kp_facts_clear(). */
int agent_facts_collect(struct kp_facts *out);

#endif
