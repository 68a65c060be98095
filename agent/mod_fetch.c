/*
 * mod_fetch.c - copy a file from the host to the controller (an etcd
 * snapshot before an upgrade, say).  The content travels as FETCH_DATA
 * frames on the session's output, at most KP_BLOB_CHUNK bytes each, read
 * and hashed a chunk at a time so a large file never sits in memory.  The
 * task result then says
 *     fetched <size> bytes sha256=<hex>
 * and the controller, which wrote the chunks to <dest>.part, compares that
 * hash with the bytes it received before it renames the copy into place.
 *
 * It changes nothing on the host, but it is not a read-only module: in
 * check mode it reports what it would send and sends nothing.  `dest` is
 * the controller's; the agent only checks it looks like a path, so a typo
 * fails before any byte moves.
 *
 * The size is taken when the file is opened and exactly that many bytes
 * are sent: a file that shrinks or grows meanwhile fails the task (a
 * snapshot is only useful whole), and only a complete, unchanged file
 * gets its last chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "module.h"
#include "sha256.h"

/* Fill buf with up to n bytes; fewer only at end of file.  -1 on error. */
static ssize_t
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = kp_read(fd, buf + got, n - got)) < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Open path for reading as a regular file, without following a final
 * symlink and without blocking on a FIFO (O_NONBLOCK, cleared once we
 * know it is a regular file).  -1 with o set on failure.
 */
static int
open_regular(const char *path, struct stat *st, struct agent_outcome *o)
{
	int fd, fl;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			agent_outcome_set(o, KP_ST_FAILED, "%s: is a symbolic "
			    "link (fetch does not follow it)", path);
		else
			agent_outcome_set(o, KP_ST_FAILED, "%s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: not a regular file",
		    path);
		close(fd);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* send_file's "the task failed, o says why": not a KORCH_ERR_* code, which
 * would mean the session broke. */
#define FILE_FAILED	1

/*
 * Send size bytes of fd as FETCH_DATA frames.  KORCH_OK with the hex
 * digest in hex; FILE_FAILED with o set when the file misbehaves (the
 * controller drops what it got when the failed result arrives); a negative
 * KORCH_ERR_* when the session itself broke (a write to the controller).
 */
static int
send_file(struct agent_session *s, const struct kp_task *t,
    const char *path, int fd, uint64_t size, char hex[AGENT_SHA256_HEX],
    struct agent_outcome *o)
{
	struct agent_sha256 c;
	struct kp_fetch_data d;
	struct kbuf *out = NULL;
	uint8_t *buf = NULL, extra;
	uint64_t off = 0;
	size_t want;
	ssize_t n;
	int r;

	if ((buf = malloc(KP_BLOB_CHUNK)) == NULL ||
	    (out = kbuf_new(KP_BLOB_CHUNK + 64)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		r = FILE_FAILED;
		goto out;
	}
	agent_sha256_init(&c);
	/* One frame even for an empty file: the controller creates the
	 * copy on the first chunk and needs a last one. */
	do {
		want = size - off < KP_BLOB_CHUNK ? (size_t)(size - off) :
		    KP_BLOB_CHUNK;
		if ((n = read_full(fd, buf, want)) < 0) {
			agent_outcome_set(o, KP_ST_FAILED, "%s: read: %s", path,
			    strerror(errno));
			r = FILE_FAILED;
			goto out;
		}
		if ((size_t)n < want) {
			agent_outcome_set(o, KP_ST_FAILED, "%s: shrank while "
			    "being read (%llu of %llu bytes)", path,
			    (unsigned long long)(off + (uint64_t)n),
			    (unsigned long long)size);
			r = FILE_FAILED;
			goto out;
		}
		agent_sha256_update(&c, buf, want);
		/* Before the last chunk goes out, make sure it is the last:
		 * a file still being written must not pass as complete. */
		if (off + want == size &&
		    (n = read_full(fd, &extra, 1)) != 0) {
			agent_outcome_set(o, KP_ST_FAILED, "%s: %s", path,
			    n < 0 ? strerror(errno) : "grew while being read");
			r = FILE_FAILED;
			goto out;
		}
		memset(&d, 0, sizeof(d));
		d.step_id = agent_session_step_id(s);
		d.task_id = t->id;
		d.offset = off;
		d.data = buf;
		d.len = (uint32_t)want;
		d.last = off + want == size;
		/* An encoder failure leaves nothing half-sent: the stream
		 * is in step and only this task fails. */
		if ((r = kp_enc_fetch_data(out, agent_session_reqid(s),
		    &d)) != KORCH_OK) {
			agent_outcome_set(o, KP_ST_FAILED, "encoding a chunk: "
			    "%s", korch_strerror(r));
			r = FILE_FAILED;
			goto out;
		}
		if ((r = agent_session_send(s, out)) != KORCH_OK)
			goto out;
		off += want;
	} while (off < size);
	agent_sha256_final_hex(&c, hex);
	r = KORCH_OK;
out:
	kbuf_free(out);
	free(buf);
	return r;
}

static int
fetch_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	char hex[AGENT_SHA256_HEX];
	unsigned long long max;
	const char *path, *dest;
	struct stat st;
	uint64_t size;
	int fd, r;

	if (agent_arg_path(t, "path", &path, o) != KORCH_OK ||
	    agent_arg_path(t, "dest", &dest, o) != KORCH_OK ||
	    agent_arg_uint(t, "max_size", KMS_FETCH_MAX_DEFAULT, UINT64_MAX,
	    &max, o) != KORCH_OK)
		return KORCH_OK;
	/* A controller that chose version 1 would not know the frames. */
	if (agent_session_version(s) < KP_VERSION_FETCH) {
		agent_outcome_set(o, KP_ST_FAILED, "fetch needs protocol "
		    "version %d; this session speaks %u", KP_VERSION_FETCH,
		    agent_session_version(s));
		return KORCH_OK;
	}
	if ((fd = open_regular(path, &st, o)) == -1)
		return KORCH_OK;
	size = (uint64_t)st.st_size;
	if (size > max) {
		agent_outcome_set(o, KP_ST_FAILED, "%s is %llu bytes, over "
		    "max_size %llu", path, (unsigned long long)size, max);
		close(fd);
		return KORCH_OK;
	}
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would fetch %llu bytes "
		    "from %s", (unsigned long long)size, path);
		close(fd);
		return KORCH_OK;
	}
	r = send_file(s, t, path, fd, size, hex, o);
	close(fd);
	if (r == FILE_FAILED)
		return KORCH_OK;	/* o says why; the session is fine */
	if (r != KORCH_OK)
		return r;
	agent_outcome_set(o, KP_ST_CHANGED, "fetched %llu bytes sha256=%s",
	    (unsigned long long)size, hex);
	return KORCH_OK;
}

const struct agent_module agent_mod_fetch = {
	.name = "fetch",
	.flags = AGENT_MOD_SENDS,
	.run = fetch_run,
};
