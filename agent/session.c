/*
 * session.c - one controller session: the frame stream and what the
 * agent remembers between steps (changed tasks, failed steps).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "fdio.h"
#include "proc.h"

#define READ_CHUNK	65536

struct failed_step {
	uint32_t	 id;
	char		*name;
};

struct agent_session {
	int			 in_fd;
	int			 out_fd;
	struct kbuf		*in;
	size_t			 in_used;	/* bytes of the last frame */
	/* Frames that arrived while a blob was being fetched (the
	 * controller pipelines steps), served before reading more. */
	struct kbuf		*deferred;
	size_t			 def_used;
	int			 check_only;
	uint32_t		 reqid;
	uint32_t		 step_id;
	uint32_t		 version;
	uint32_t		*changed;
	size_t			 nchanged, changed_cap;
	struct failed_step	*failed;
	size_t			 nfailed, failed_cap;
	/* The input watched while a child runs (proc.h); its closed flag
	 * is the session's: the controller is gone. */
	struct agent_proc_watch	 watch;
	int			 lock_fd;	/* the host lock, or -1 */
};

static int pump(void *arg);

struct agent_session *
agent_session_new(int in_fd, int out_fd)
{
	struct agent_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->version = KP_VERSION;
	s->lock_fd = -1;
	s->watch.fd = in_fd;
	s->watch.pump = pump;
	s->watch.arg = s;
	if ((s->in = kbuf_new(KP_MAX_FRAME + 4 + READ_CHUNK)) == NULL ||
	    (s->deferred = kbuf_new(AGENT_DEFERRED_MAX)) == NULL) {
		kbuf_free(s->in);
		free(s);
		return NULL;
	}
	/* Steps arrive here with secret files' content in them. */
	kbuf_set_secret(s->in);
	kbuf_set_secret(s->deferred);
	return s;
}

void
agent_session_free(struct agent_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->lock_fd != -1)
		close(s->lock_fd);
	kbuf_free(s->in);
	kbuf_free(s->deferred);
	free(s->changed);
	for (i = 0; i < s->nfailed; i++)
		free(s->failed[i].name);
	free(s->failed);
	free(s);
}

int
agent_session_send(struct agent_session *s, struct kbuf *frames)
{
	if (kp_write_all(s->out_fd, kbuf_ptr(frames), kbuf_len(frames)) !=
	    KORCH_OK)
		return KORCH_ERR_SYSTEM;
	kbuf_reset(frames);
	return KORCH_OK;
}

/* Drop the frame handed out last from b (*used bytes), then parse the
 * next whole frame at its front into f and note its size in *used. */
static int
next_frame(struct kbuf *b, size_t *used, struct kp_frame *f)
{
	size_t n;
	int r;

	if (*used > 0) {
		if ((r = kbuf_consume(b, *used)) != KORCH_OK)
			return r;
		*used = 0;
	}
	if ((r = kp_frame_parse(kbuf_ptr(b), kbuf_len(b), f, &n)) == KORCH_OK)
		*used = n;
	return r;
}

int
agent_session_recv_wire(struct agent_session *s, struct kp_frame *f)
{
	uint8_t chunk[READ_CHUNK];
	ssize_t n;
	int r;

	for (;;) {
		/* Frames that came before the hangup are not served: nobody
		 * is left to hear what they did. */
		if (s->watch.closed)
			return KORCH_ERR_EOF;
		if ((r = next_frame(s->in, &s->in_used, f)) !=
		    KORCH_ERR_INCOMPLETE)
			return r;
		if ((n = kp_read(s->in_fd, chunk, sizeof(chunk))) < 0)
			return KORCH_ERR_SYSTEM;
		if (n == 0)
			return kbuf_len(s->in) == 0 ? KORCH_ERR_EOF :
			    KORCH_ERR_BAD_FRAME;
		/* Cannot overflow: a parsed length is at most KP_MAX_FRAME
		 * and we only read while a frame is incomplete. */
		if ((r = kbuf_put(s->in, chunk, (size_t)n)) != KORCH_OK)
			return r;
	}
}

/*
 * Called by proc.c while a child runs: keep what the controller sent
 * (pipelined steps, read later by recv) and notice when it hangs up.  The
 * last frame handed out stays in the buffer, which may move: its body is
 * not used after it was decoded.
 */
static int
pump(void *arg)
{
	struct agent_session *s = arg;
	uint8_t chunk[READ_CHUNK];
	size_t room = kbuf_max(s->in) - kbuf_len(s->in);
	ssize_t n;

	if (room == 0)
		return AGENT_WATCH_FULL;
	n = read(s->in_fd, chunk, room < sizeof(chunk) ? room : sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return AGENT_WATCH_MORE;
	if (n <= 0)
		return AGENT_WATCH_GONE;
	if (kbuf_put(s->in, chunk, (size_t)n) != KORCH_OK)
		return AGENT_WATCH_GONE;
	return AGENT_WATCH_MORE;
}

void
agent_session_hold_lock(struct agent_session *s, int fd)
{
	if (s->lock_fd != -1)
		close(s->lock_fd);
	s->lock_fd = fd;
}

struct agent_proc_watch *
agent_session_watch(struct agent_session *s)
{
	return &s->watch;
}

int
agent_session_closed(const struct agent_session *s)
{
	return s->watch.closed;
}

int
agent_session_recv(struct agent_session *s, struct kp_frame *f)
{
	int r;

	if (s->watch.closed)
		return KORCH_ERR_EOF;
	r = next_frame(s->deferred, &s->def_used, f);
	if (r == KORCH_ERR_INCOMPLETE && kbuf_len(s->deferred) == 0)
		return agent_session_recv_wire(s, f);
	/* Only whole frames are deferred. */
	return r == KORCH_ERR_INCOMPLETE ? KORCH_ERR_INTERNAL : r;
}

int
agent_session_defer(struct agent_session *s, const struct kp_frame *f)
{
	return kp_frame_put(s->deferred, f->type, f->reqid, f->body,
	    f->body_len);
}

/* Check-only mode, from START. */

void
agent_session_set_check_only(struct agent_session *s, int on)
{
	s->check_only = on != 0;
}

int
agent_session_check_only(const struct agent_session *s)
{
	return s->check_only;
}

/* The STEP being served and the protocol version: the serve loop sets
 * them, modules that send frames of their own read them. */

void
agent_session_set_reqid(struct agent_session *s, uint32_t reqid)
{
	s->reqid = reqid;
}

void
agent_session_set_step_id(struct agent_session *s, uint32_t step_id)
{
	s->step_id = step_id;
}

void
agent_session_set_version(struct agent_session *s, uint32_t version)
{
	s->version = version;
}

uint32_t
agent_session_reqid(const struct agent_session *s)
{
	return s->reqid;
}

uint32_t
agent_session_step_id(const struct agent_session *s)
{
	return s->step_id;
}

uint32_t
agent_session_version(const struct agent_session *s)
{
	return s->version;
}

/* Room for one more of n items in p; the (possibly moved) array, or NULL. */
static void *
grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return p;
	ncap = *cap == 0 ? 64 : *cap * 2;
	if (ncap > SIZE_MAX / size)
		return NULL;
	if ((np = realloc(p, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return np;
}

int
agent_session_mark_changed(struct agent_session *s, uint32_t task_id)
{
	uint32_t *v;

	if (agent_session_task_changed(s, task_id))
		return KORCH_OK;
	if ((v = grow(s->changed, &s->changed_cap, s->nchanged,
	    sizeof(*v))) == NULL)
		return KORCH_ERR_ALLOC;
	s->changed = v;
	s->changed[s->nchanged++] = task_id;
	return KORCH_OK;
}

int
agent_session_task_changed(const struct agent_session *s, uint32_t task_id)
{
	size_t i;

	for (i = 0; i < s->nchanged; i++)
		if (s->changed[i] == task_id)
			return 1;
	return 0;
}

int
agent_session_mark_failed(struct agent_session *s, uint32_t step_id,
    const char *name)
{
	struct failed_step *v;
	char *copy;

	if (agent_session_step_failed(s, step_id) != NULL)
		return KORCH_OK;
	if ((copy = strdup(name != NULL ? name : "")) == NULL)
		return KORCH_ERR_ALLOC;
	if ((v = grow(s->failed, &s->failed_cap, s->nfailed,
	    sizeof(*v))) == NULL) {
		free(copy);
		return KORCH_ERR_ALLOC;
	}
	s->failed = v;
	s->failed[s->nfailed].id = step_id;
	s->failed[s->nfailed].name = copy;
	s->nfailed++;
	return KORCH_OK;
}

const char *
agent_session_step_failed(const struct agent_session *s, uint32_t step_id)
{
	size_t i;

	for (i = 0; i < s->nfailed; i++)
		if (s->failed[i].id == step_id)
			return s->failed[i].name;
	return NULL;
}
