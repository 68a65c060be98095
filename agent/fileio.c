/*
 * fileio.c - file operations shared by the modules.
 *
 * Replacement is temp file + fsync + rename + fsync(dir): a reader (or a
 * crash) sees the old file or the new one, never half of either.  Plain
 * rename(2) and mkstemp, nothing newer than a 3.10 kernel offers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "fileio.h"

static int
fail_errno(struct agent_outcome *o, const char *what, const char *path)
{
	int saved = errno;

	agent_outcome_set(o, KP_ST_FAILED, "%s %s: %s", what, path,
	    strerror(saved));
	errno = saved;
	return KORCH_ERR_SYSTEM;
}

int
agent_read_file(const char *path, size_t max, char **out, size_t *len,
    struct agent_outcome *o)
{
	struct stat st;
	char *buf = NULL;
	size_t have = 0;
	ssize_t n;
	int fd = -1, r;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return KORCH_ERR_NOT_FOUND;
		return fail_errno(o, "open", path);
	}
	if (fstat(fd, &st) == -1) {
		r = fail_errno(o, "stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		agent_outcome_set(o, KP_ST_FAILED, "%s is not a regular file",
		    path);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	/* Read to EOF rather than trusting st_size: /proc files report 0. */
	for (;;) {
		if ((n = kp_read(fd, buf + have, max + 1 - have)) < 0) {
			r = fail_errno(o, "read", path);
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max) {
			agent_outcome_set(o, KP_ST_FAILED, "%s is larger than "
			    "%zu bytes", path, max);
			r = KORCH_ERR_TOO_LARGE;
			goto out;
		}
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	buf = NULL;
	r = KORCH_OK;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return r;
}

char *
agent_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *d;

	if (slash == NULL)
		return strdup(".");
	while (slash > path && slash[-1] == '/')
		slash--;
	n = slash == path ? 1 : (size_t)(slash - path);
	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, path, n);
	d[n] = '\0';
	return d;
}

static int
fsync_dir(const char *dir)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	/* Some filesystems refuse fsync on a directory; that is not fatal. */
	if (fsync(fd) == -1 && errno != EINVAL && errno != EROFS)
		r = -1;
	close(fd);
	return r;
}

int
agent_tmp_open(struct agent_tmpfile *tf, const char *target,
    struct agent_outcome *o)
{
	const char *base;
	char *dir = NULL;
	size_t n;
	int r;

	memset(tf, 0, sizeof(*tf));
	tf->fd = -1;
	base = strrchr(target, '/');
	base = base == NULL ? target : base + 1;
	if ((dir = agent_dirname(target)) == NULL ||
	    (tf->target = strdup(target)) == NULL)
		goto nomem;
	n = strlen(dir) + strlen(base) + 32;
	if ((tf->path = malloc(n)) == NULL)
		goto nomem;
	if ((size_t)snprintf(tf->path, n, "%s/.%s.korch-XXXXXX",
	    strcmp(dir, "/") == 0 ? "" : dir, base) >= n) {
		r = KORCH_ERR_INTERNAL;
		agent_outcome_set(o, KP_ST_FAILED, "temp name for %s", target);
		goto out;
	}
	if ((tf->fd = mkostemp(tf->path, O_CLOEXEC)) == -1) {
		r = fail_errno(o, "create temp file for", target);
		free(tf->path);
		tf->path = NULL;
		goto out;
	}
	r = KORCH_OK;
	goto out;
nomem:
	agent_outcome_set(o, KP_ST_FAILED, "out of memory");
	r = KORCH_ERR_ALLOC;
out:
	free(dir);
	if (r != KORCH_OK)
		agent_tmp_abort(tf);
	return r;
}

int
agent_tmp_write(struct agent_tmpfile *tf, const void *p, size_t n,
    struct agent_outcome *o)
{
	if (kp_write_all(tf->fd, p, n) != KORCH_OK)
		return fail_errno(o, "write", tf->path);
	return KORCH_OK;
}

int
agent_tmp_commit(struct agent_tmpfile *tf, mode_t mode, long long uid,
    long long gid, struct agent_outcome *o)
{
	char *dir = NULL;
	int r;

	if (tf->fd == -1 || tf->path == NULL)
		return KORCH_ERR_INTERNAL;
	if ((uid != AGENT_ID_NONE || gid != AGENT_ID_NONE) &&
	    fchown(tf->fd, uid == AGENT_ID_NONE ? (uid_t)-1 : (uid_t)uid,
	    gid == AGENT_ID_NONE ? (gid_t)-1 : (gid_t)gid) == -1) {
		r = fail_errno(o, "chown", tf->target);
		goto out;
	}
	/* After chown, which may clear set-id bits. */
	if (fchmod(tf->fd, mode) == -1) {
		r = fail_errno(o, "chmod", tf->target);
		goto out;
	}
	if (fsync(tf->fd) == -1) {
		r = fail_errno(o, "fsync", tf->target);
		goto out;
	}
	if (close(tf->fd) == -1) {
		tf->fd = -1;
		r = fail_errno(o, "close", tf->target);
		goto out;
	}
	tf->fd = -1;
	if (rename(tf->path, tf->target) == -1) {
		r = fail_errno(o, "rename onto", tf->target);
		goto out;
	}
	free(tf->path);
	tf->path = NULL;
	if ((dir = agent_dirname(tf->target)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (fsync_dir(dir) == -1) {
		r = fail_errno(o, "fsync directory", dir);
		goto out;
	}
	r = KORCH_OK;
out:
	free(dir);
	agent_tmp_abort(tf);
	return r;
}

void
agent_tmp_abort(struct agent_tmpfile *tf)
{
	int saved = errno;

	if (tf == NULL)
		return;
	if (tf->fd >= 0)
		close(tf->fd);
	tf->fd = -1;
	if (tf->path != NULL)
		(void)unlink(tf->path);
	free(tf->path);
	free(tf->target);
	tf->path = NULL;
	tf->target = NULL;
	errno = saved;
}

int
agent_write_atomic(const char *path, const void *p, size_t n, mode_t mode,
    long long uid, long long gid, struct agent_outcome *o)
{
	struct agent_tmpfile tf;
	int r;

	if ((r = agent_tmp_open(&tf, path, o)) != KORCH_OK)
		return r;
	if ((r = agent_tmp_write(&tf, p, n, o)) != KORCH_OK) {
		agent_tmp_abort(&tf);
		return r;
	}
	return agent_tmp_commit(&tf, mode, uid, gid, o);
}

int
agent_mkdirs(const char *dir, mode_t mode, struct agent_outcome *o)
{
	struct stat st;
	char *parent = NULL;
	int r;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return KORCH_OK;
		agent_outcome_set(o, KP_ST_FAILED, "%s exists and is not a "
		    "directory", dir);
		return KORCH_ERR_INVALID_ARG;
	}
	if (errno != ENOENT)
		return fail_errno(o, "stat", dir);
	if ((parent = agent_dirname(dir)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	/* Depth is bounded by the path length limit checked on arguments. */
	if (strcmp(parent, dir) != 0 &&
	    (r = agent_mkdirs(parent, 0755, o)) != KORCH_OK)
		goto out;
	if (mkdir(dir, mode) == -1 && errno != EEXIST) {
		r = fail_errno(o, "mkdir", dir);
		goto out;
	}
	/* mkdir applied the umask; the caller asked for exactly mode. */
	if (chmod(dir, mode) == -1) {
		r = fail_errno(o, "chmod", dir);
		goto out;
	}
	r = KORCH_OK;
out:
	free(parent);
	return r;
}

void
agent_strlcat_sep(char *dst, size_t len, const char *s)
{
	size_t have = strnlen(dst, len);

	if (have + 1 >= len)
		return;
	(void)snprintf(dst + have, len - have, "%s%s", have > 0 ? "; " : "",
	    s);
}

int
agent_attrs_sync(const char *path, const struct stat *st, mode_t mode,
    long long uid, long long gid, int check_only, char *what, size_t whatlen,
    struct agent_outcome *o)
{
	int chown_needed, chmod_needed;
	char line[96];

	chown_needed = (uid != AGENT_ID_NONE && (uid_t)uid != st->st_uid) ||
	    (gid != AGENT_ID_NONE && (gid_t)gid != st->st_gid);
	chmod_needed = (st->st_mode & 07777) != mode;
	if (chown_needed) {
		(void)snprintf(line, sizeof(line), "owner %u:%u -> %lld:%lld",
		    (unsigned)st->st_uid, (unsigned)st->st_gid,
		    uid == AGENT_ID_NONE ? (long long)st->st_uid : uid,
		    gid == AGENT_ID_NONE ? (long long)st->st_gid : gid);
		agent_strlcat_sep(what, whatlen, line);
	}
	if (chmod_needed) {
		(void)snprintf(line, sizeof(line), "mode %04o -> %04o",
		    (unsigned)(st->st_mode & 07777), (unsigned)mode);
		agent_strlcat_sep(what, whatlen, line);
	}
	if (check_only || (!chown_needed && !chmod_needed))
		return chown_needed || chmod_needed;
	if (chown_needed && chown(path, uid == AGENT_ID_NONE ? (uid_t)-1 :
	    (uid_t)uid, gid == AGENT_ID_NONE ? (gid_t)-1 : (gid_t)gid) == -1)
		return fail_errno(o, "chown", path);
	/* Always after chown: chown clears set-id bits. */
	if ((chmod_needed || chown_needed) && chmod(path, mode) == -1)
		return fail_errno(o, "chmod", path);
	return 1;
}
