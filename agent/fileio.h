/*
 * fileio.h - the file operations modules share: bounded reads, atomic
 * replacement (temp file in the same directory, fsync, rename, fsync of
 * the directory), creating parents, and bringing mode/owner in line.
 *
 * Failures set the outcome to failed with a message naming the path and
 * return a negative KORCH_ERR_*, so a module can simply stop.
 */
#ifndef KORCH_AGENT_FILEIO_H
#define KORCH_AGENT_FILEIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "module.h"

/* Whole regular file into a malloc'd NUL-terminated buffer of at most max
 * bytes.  KORCH_ERR_NOT_FOUND when missing (o untouched), else o is set. */
int agent_read_file(const char *path, size_t max, char **out, size_t *len,
    struct agent_outcome *o);

/* A temp file beside target, for content to be renamed over it. */
struct agent_tmpfile {
	int	 fd;
	char	*path;
	char	*target;
};
#define AGENT_TMPFILE_INIT	{ -1, NULL, NULL }
int agent_tmp_open(struct agent_tmpfile *tf, const char *target,
    struct agent_outcome *o);
int agent_tmp_write(struct agent_tmpfile *tf, const void *p, size_t n,
    struct agent_outcome *o);
/* Set mode and owner (AGENT_ID_NONE leaves it), fsync, rename over the
 * target, fsync the directory.  The tmpfile is finished either way. */
int agent_tmp_commit(struct agent_tmpfile *tf, mode_t mode, long long uid,
    long long gid, struct agent_outcome *o);
/* Remove the temp file; safe after commit, after a failed open and on
 * AGENT_TMPFILE_INIT. */
void agent_tmp_abort(struct agent_tmpfile *tf);

/* Open + write + commit in one. */
int agent_write_atomic(const char *path, const void *p, size_t n,
    mode_t mode, long long uid, long long gid, struct agent_outcome *o);

/* The directory part of path, malloc'd ("/" for "/x"). */
char *agent_dirname(const char *path);
/* mkdir -p of dir; new directories get mode (umask ignored). */
int agent_mkdirs(const char *dir, mode_t mode, struct agent_outcome *o);

/*
 * Compare st's mode bits and owner with the desired ones and, unless
 * check_only, fix them.  Appends "mode 0600 -> 0644" / "owner 0:0 -> 1:1"
 * to what (a buffer of whatlen bytes).  Returns 1 when something differed,
 * 0 when not, negative on failure.
 */
int agent_attrs_sync(const char *path, const struct stat *st, mode_t mode,
    long long uid, long long gid, int check_only, char *what, size_t whatlen,
    struct agent_outcome *o);

/* Append to a fixed buffer, "; "-separated, truncating quietly. */
void agent_strlcat_sep(char *dst, size_t len, const char *s);

#endif
