/*
 * fetch.c - receiving a fetch task's file; see fetch.h.
 *
 * The chunks are written through to <dest>.part as they arrive and hashed
 * on the way (OpenSSL, incrementally), so a 2 GiB snapshot costs one chunk
 * of memory and no second read of the copy.  Only a complete transfer whose
 * hash matches the agent's, fsynced, is renamed to dest: whoever finds
 * dest can trust it is whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "fdio.h"
#include "engine/fetch.h"
#include "modspec.h"
#include "wire.h"
#include "sha256hex.h"

#define PART_SUFFIX	".part"
#define WHY_MAX		400

struct fetch_rx {
	int		 open;		/* a transfer is under way */
	int		 fd;		/* the .part; -1 after a local failure */
	int		 created;	/* we created the .part: ours to remove */
	uint32_t	 step_id, task_id;
	uint64_t	 off, max;
	int		 last;		/* the last chunk arrived */
	char		*dest, *part;
	EVP_MD_CTX	*md;
	char		 err[WHY_MAX];	/* first local failure, "" if none */
};

struct fetch_rx *
fetch_rx_new(void)
{
	struct fetch_rx *rx;

	if ((rx = calloc(1, sizeof(*rx))) == NULL)
		return NULL;
	rx->fd = -1;
	if ((rx->md = EVP_MD_CTX_new()) == NULL) {
		free(rx);
		return NULL;
	}
	return rx;
}

/* End the transfer; remove the .part unless keep (it was renamed). */
static void
rx_end(struct fetch_rx *rx, int keep)
{
	if (rx->fd != -1)
		(void)close(rx->fd);
	if (!keep && rx->created && rx->part != NULL)
		(void)unlink(rx->part);
	free(rx->dest);
	free(rx->part);
	rx->dest = rx->part = NULL;
	rx->fd = -1;
	rx->open = rx->created = rx->last = 0;
	rx->off = 0;
	rx->err[0] = '\0';
}

void
fetch_rx_abort(struct fetch_rx *rx)
{
	if (rx != NULL && rx->open)
		rx_end(rx, 0);
}

void
fetch_rx_free(struct fetch_rx *rx)
{
	if (rx == NULL)
		return;
	fetch_rx_abort(rx);
	EVP_MD_CTX_free(rx->md);
	free(rx);
}

uint32_t
fetch_rx_open_task(const struct fetch_rx *rx)
{
	return rx != NULL && rx->open ? rx->task_id : 0;
}

/* The copy failed locally ("<what><path>: <errno text>"): say why once,
 * and stop writing. */
static void
rx_fail(struct fetch_rx *rx, const char *what, const char *path, int e)
{
	if (rx->err[0] == '\0')
		(void)snprintf(rx->err, sizeof(rx->err), "%s%.300s: %s", what,
		    path, strerror(e));
	if (rx->fd != -1) {
		(void)close(rx->fd);
		rx->fd = -1;
	}
	if (rx->created) {
		(void)unlink(rx->part);
		rx->created = 0;
	}
}

/* An absolute path naming a file, without "." or ".." components: the
 * playbook's author means one place, and .part must sit beside it. */
static int
dest_ok(const char *d)
{
	const char *p;
	size_t n;

	if (d == NULL || d[0] != '/' || (n = strlen(d)) >= 4096 - 8 ||
	    d[n - 1] == '/')
		return 0;
	for (p = d; (p = strchr(p, '/')) != NULL; p++)
		if (strncmp(p, "/./", 3) == 0 || strncmp(p, "/../", 4) == 0 ||
		    strcmp(p, "/.") == 0 || strcmp(p, "/..") == 0)
			return 0;
	return 1;
}

static int
rx_begin(struct fetch_rx *rx, const struct kp_fetch_data *m,
    const char *dest, uint64_t max_size)
{
	char dir[4096];
	size_t n;

	rx->open = 1;
	rx->step_id = m->step_id;
	rx->task_id = m->task_id;
	rx->max = max_size;
	if (EVP_DigestInit_ex(rx->md, EVP_sha256(), NULL) != 1)
		return KORCH_ERR_ALLOC;
	if (!dest_ok(dest)) {
		(void)snprintf(rx->err, sizeof(rx->err), "dest must be an "
		    "absolute file path without . or .. (got \"%.200s\")",
		    dest != NULL ? dest : "");
		return KORCH_OK;
	}
	n = strlen(dest) + sizeof(PART_SUFFIX);
	if ((rx->dest = strdup(dest)) == NULL ||
	    (rx->part = malloc(n)) == NULL)
		return KORCH_ERR_ALLOC;
	(void)snprintf(rx->part, n, "%s%s", dest, PART_SUFFIX);
	if (kp_mkdir_parents(rx->part, dir, sizeof(dir)) != KORCH_OK) {
		rx_fail(rx, "creating ", dir, errno);
		return KORCH_OK;
	}
	/* O_NOFOLLOW: a symlink planted at the .part must not redirect
	 * where the bytes go. */
	rx->fd = open(rx->part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (rx->fd == -1) {
		rx_fail(rx, "", rx->part, errno);
		return KORCH_OK;
	}
	rx->created = 1;
	/* A stale .part kept its old mode through O_TRUNC. */
	if (fchmod(rx->fd, 0600) == -1)
		rx_fail(rx, "", rx->part, errno);
	return KORCH_OK;
}


/*
 * max_size as the agent reads it (digits only).  The agent fails a task
 * whose value it cannot read before sending anything, so the default here
 * only ever stands in for an absent argument.
 */
static uint64_t
parse_max(const char *v)
{
	unsigned long long x;
	char *end;

	if (v == NULL || *v == '\0' || strspn(v, "0123456789") != strlen(v))
		return KMS_FETCH_MAX_DEFAULT;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return KMS_FETCH_MAX_DEFAULT;
	return (uint64_t)x;
}

int
fetch_rx_data(struct fetch_rx *rx, const struct kp_fetch_data *m,
    const char *dest, const char *max_size)
{
	int r;

	if (rx == NULL || m == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (!rx->open) {
		if (m->offset != 0)
			return KORCH_ERR_BAD_FRAME;
		if ((r = rx_begin(rx, m, dest, parse_max(max_size))) !=
		    KORCH_OK) {
			rx_end(rx, 0);
			return r;
		}
	} else if (m->task_id != rx->task_id || m->step_id != rx->step_id ||
	    rx->last || m->offset != rx->off) {
		return KORCH_ERR_BAD_FRAME;
	}
	/* The agent checks max_size before it sends; more means it broke
	 * its word, and the controller's disk is what is at stake. */
	if (m->len > rx->max - rx->off)
		return KORCH_ERR_BAD_FRAME;
	/* After a local failure the chunks are still counted (the stream
	 * must stay in step) but go nowhere. */
	if (rx->fd != -1) {
		if (EVP_DigestUpdate(rx->md, m->data, m->len) != 1)
			return KORCH_ERR_ALLOC;
		if (kp_write_all(rx->fd, m->data, m->len) != KORCH_OK)
			rx_fail(rx, "writing ", rx->part, errno);
	}
	rx->off += m->len;
	rx->last = m->last;
	return KORCH_OK;
}

/* The 64 hex digits after "sha256=" in msg, NUL-terminated into out. */
static int
msg_sha256(const char *msg, char out[SHA256_HEX_SIZE])
{
	const char *p;
	size_t i;

	if (msg == NULL || (p = strstr(msg, "sha256=")) == NULL)
		return -1;
	p += 7;
	for (i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return -1;
	if (p[64] != '\0' && p[64] != ' ')
		return -1;
	memcpy(out, p, 64);
	out[64] = '\0';
	return 0;
}

static int
digest_hex(EVP_MD_CTX *md, char out[SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
}

/* Make the rename itself durable; the data already is (fsync before it).
 * Best effort: dest is complete either way, and failing the task now
 * would leave a good copy behind a "failed". */
static void
fsync_parent(const char *path)
{
	char dir[4096];
	char *slash;
	int fd;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL)
		return;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	(void)close(fd);
}

/* Finish a transfer the agent says succeeded: why gets the reason it
 * cannot be kept, or stays "". */
static void
rx_commit(struct fetch_rx *rx, const struct kp_task_result *m, char *why,
    size_t len)
{
	char want[SHA256_HEX_SIZE], got[SHA256_HEX_SIZE];

	if (!rx->open) {
		(void)snprintf(why, len, "the agent sent no data");
		return;
	}
	if (!rx->last) {
		(void)snprintf(why, len, "transfer incomplete: %llu bytes and "
		    "no last chunk", (unsigned long long)rx->off);
		return;
	}
	if (rx->err[0] != '\0') {
		(void)snprintf(why, len, "%s", rx->err);
		return;
	}
	if (msg_sha256(m->message, want) != 0) {
		(void)snprintf(why, len, "the agent's result carries no "
		    "sha256=");
		return;
	}
	if (digest_hex(rx->md, got) != 0) {
		(void)snprintf(why, len, "cannot compute sha256");
		return;
	}
	if (strcmp(got, want) != 0) {
		(void)snprintf(why, len, "sha256 of the %llu bytes received is "
		    "%.12s, the agent read %.12s", (unsigned long long)rx->off,
		    got, want);
		return;
	}
	if (fsync(rx->fd) == -1) {
		(void)snprintf(why, len, "fsync %.300s: %s", rx->part,
		    strerror(errno));
		return;
	}
	if (rename(rx->part, rx->dest) == -1) {
		(void)snprintf(why, len, "rename to %.300s: %s", rx->dest,
		    strerror(errno));
		return;
	}
	fsync_parent(rx->dest);
}

int
fetch_rx_result(struct fetch_rx *rx, const char *dest,
    struct kp_task_result *m)
{
	char why[WHY_MAX], msg[512], *p, *nm;
	int ok;

	if (rx == NULL || m == NULL)
		return KORCH_ERR_INVALID_ARG;
	/* The agent runs one task at a time: a transfer still open when
	 * another task reports was never finished. */
	if (rx->open && (rx->task_id != m->task_id ||
	    rx->step_id != m->step_id))
		return KORCH_ERR_BAD_FRAME;
	ok = m->status == KP_ST_OK || m->status == KP_ST_CHANGED;
	if (dest == NULL || !ok) {
		fetch_rx_abort(rx);
		return KORCH_OK;
	}
	why[0] = '\0';
	rx_commit(rx, m, why, sizeof(why));
	if (why[0] == '\0') {
		rx_end(rx, 1);
		return KORCH_OK;
	}
	fetch_rx_abort(rx);
	(void)snprintf(msg, sizeof(msg), "fetch to %.200s failed: %s", dest,
	    why);
	/* The message is one line, whatever dest holds. */
	for (p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if ((nm = strdup(msg)) == NULL)
		return KORCH_ERR_ALLOC;
	free(m->message);
	m->message = nm;
	m->status = KP_ST_FAILED;
	return KORCH_OK;
}
