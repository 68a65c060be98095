/*
 * mod_file.c - a regular file with given content, mode and owner.
 *
 * Content comes inline (content=) or by hash (src_sha256= + src_size=):
 * then the agent hashes its own copy first and asks the controller for
 * the bytes only when they differ, which is what keeps a rerun over
 * hundreds of hosts from moving binaries again.
 *
 * A secret (secret=1: the controller sets it on every task that renders
 * a key or a token) is written owner-only, owned by the task's owner
 * even where the old file was someone else's, its diff is "secret
 * changed" and its bytes are wiped from the session's buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "module.h"
#include "hash_cache.h"
#include "sha256.h"
#include "sha256hex.h"

#define FILE_DIFF_READ_MAX	(1u << 20)

/* Inline content is any bytes, NULs included. */
static const char *const file_binary[] = { "content", NULL };

struct file_want {
	const char		*path;
	const struct kp_kv	*content;	/* or NULL: fetched by hash */
	char			 sha[AGENT_SHA256_HEX];
	unsigned long long	 size;
	mode_t			 mode;
	long long		 uid, gid;
	int			 secret, parents;
};


static int
file_args_get(const struct kp_task *t, struct file_want *w,
    struct agent_outcome *o)
{
	const char *src;

	memset(w, 0, sizeof(*w));
	if (agent_arg_path(t, "path", &w->path, o) != KORCH_OK ||
	    agent_arg_bool(t, "secret", 0, &w->secret, o) != KORCH_OK ||
	    agent_arg_bool(t, "parents", 0, &w->parents, o) != KORCH_OK ||
	    agent_arg_id(t, "uid", &w->uid, o) != KORCH_OK ||
	    agent_arg_id(t, "gid", &w->gid, o) != KORCH_OK)
		return KORCH_ERR_INVALID_ARG;
	/* Secrets default to owner-only: a forgotten mode must not leak. */
	if (agent_arg_mode(t, "mode", w->secret ? 0600 : 0644, &w->mode,
	    o) != KORCH_OK)
		return KORCH_ERR_INVALID_ARG;
	w->content = kp_task_arg(t, "content");
	src = agent_arg_str(t, "src_sha256", NULL);
	if ((w->content == NULL) == (src == NULL)) {
		agent_outcome_set(o, KP_ST_FAILED, "file %s: give exactly one "
		    "of content or src_sha256", w->path);
		return KORCH_ERR_INVALID_ARG;
	}
	if (w->content != NULL) {
		if (kp_task_arg(t, "src_size") != NULL) {
			agent_outcome_set(o, KP_ST_FAILED, "file %s: src_size "
			    "goes with src_sha256", w->path);
			return KORCH_ERR_INVALID_ARG;
		}
		agent_sha256_hex(w->content->val, w->content->val_len, w->sha);
		w->size = w->content->val_len;
		return KORCH_OK;
	}
	if (!sha256_hex_valid(src)) {
		agent_outcome_set(o, KP_ST_FAILED, "file %s: src_sha256 must "
		    "be 64 lowercase hex digits", w->path);
		return KORCH_ERR_INVALID_ARG;
	}
	(void)snprintf(w->sha, sizeof(w->sha), "%s", src);
	if (kp_task_arg(t, "src_size") == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "file %s: src_sha256 needs "
		    "src_size", w->path);
		return KORCH_ERR_INVALID_ARG;
	}
	return agent_arg_uint(t, "src_size", 0, (1ULL << 48), &w->size, o);
}

static void
file_diff(const struct file_want *w, int exists, const char *old_sha,
    unsigned long long old_size, struct agent_outcome *o)
{
	struct agent_outcome ignore;
	char *old = NULL;
	size_t old_len = 0;

	/* Not even the path's old size: the whole diff is these words. */
	if (w->secret) {
		agent_outcome_diff(o, "secret changed");
		return;
	}
	if (w->content == NULL) {
		if (exists)
			agent_outcome_diff(o, "--- %s (sha256 %.12s, %llu "
			    "bytes)\n", w->path, old_sha, old_size);
		else
			agent_outcome_diff(o, "--- /dev/null\n");
		agent_outcome_diff(o, "+++ %s (sha256 %.12s, %llu bytes)\n",
		    w->path, w->sha, w->size);
		return;
	}
	if (exists && old_size <= FILE_DIFF_READ_MAX &&
	    agent_read_file(w->path, FILE_DIFF_READ_MAX, &old, &old_len,
	    &ignore) != KORCH_OK) {
		old = NULL;
		old_len = 0;
	}
	agent_outcome_diff_text(o, w->path, old, old_len, w->content->val,
	    w->content->val_len);
	free(old);
}

/* Missing parent: created with parents=1, a failure otherwise. */
static int
file_parent(const struct file_want *w, int check_only, char *note,
    size_t notelen, struct agent_outcome *o)
{
	struct stat st;
	char *dir;
	int r = KORCH_OK;

	if ((dir = agent_dirname(w->path)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		goto out;
	if (check_only) {
		/* An earlier task of this run may create it. */
		(void)snprintf(note, notelen, " (parent %s does not exist yet)",
		    dir);
		goto out;
	}
	if (!w->parents) {
		agent_outcome_set(o, KP_ST_FAILED, "parent directory %s does "
		    "not exist (set parents=1 to create it)", dir);
		r = KORCH_ERR_NOT_FOUND;
		goto out;
	}
	r = agent_mkdirs(dir, 0755, o);
out:
	free(dir);
	return r;
}

static int
file_write(const struct file_want *w, struct agent_session *s,
    long long uid, long long gid, struct agent_outcome *o)
{
	struct agent_tmpfile tf = AGENT_TMPFILE_INIT;
	char err[256];
	int r;

	if ((r = agent_tmp_open(&tf, w->path, o)) != KORCH_OK)
		return KORCH_OK;
	if (w->content != NULL) {
		r = agent_tmp_write(&tf, w->content->val, w->content->val_len,
		    o);
		if (r != KORCH_OK) {
			r = KORCH_OK;
			goto out;
		}
	} else {
		r = agent_blob_fetch(s, w->sha, w->size, tf.fd, err,
		    sizeof(err));
		if (r == KORCH_ERR_HASH_MISMATCH || r == KORCH_ERR_SYSTEM) {
			agent_outcome_set(o, KP_ST_FAILED, "%s: %s", w->path,
			    err);
			r = KORCH_OK;
			goto out;
		}
		if (r != KORCH_OK)
			goto out;	/* the session broke */
	}
	(void)agent_tmp_commit(&tf, w->mode, uid, gid, o);
	r = KORCH_OK;
out:
	agent_tmp_abort(&tf);
	return r;
}

static int
file_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	struct file_want w;
	struct stat st;
	char old_sha[AGENT_SHA256_HEX] = "", what[256] = "", note[300] = "";
	uint64_t old_size = 0;
	long long uid, gid;
	int exists, r;

	if (file_args_get(t, &w, o) != KORCH_OK)
		return KORCH_OK;
	if (lstat(w.path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			agent_outcome_set(o, KP_ST_FAILED, "%s is a symlink; "
			    "remove it first (module absent)", w.path);
			return KORCH_OK;
		}
		if (!S_ISREG(st.st_mode)) {
			agent_outcome_set(o, KP_ST_FAILED, "%s exists and is not "
			    "a regular file", w.path);
			return KORCH_OK;
		}
		if (agent_sha256_cached(w.path, &st, old_sha, &old_size) !=
		    KORCH_OK) {
			agent_outcome_set(o, KP_ST_FAILED, "read %s: %s", w.path,
			    strerror(errno));
			return KORCH_OK;
		}
		exists = 1;
	} else if (errno == ENOENT) {
		exists = 0;
	} else {
		agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", w.path,
		    strerror(errno));
		return KORCH_OK;
	}

	/* A secret up to date is still fixed to the task's owner. */
	if (w.secret && w.uid == AGENT_ID_NONE)
		w.uid = (long long)geteuid();
	if (w.secret && w.gid == AGENT_ID_NONE)
		w.gid = (long long)getegid();
	if (exists && old_size == w.size && strcmp(old_sha, w.sha) == 0) {
		r = agent_attrs_sync(w.path, &st, w.mode, w.uid, w.gid,
		    check_only, what, sizeof(what), o);
		if (r < 0)
			return KORCH_OK;
		if (r == 0)
			agent_outcome_set(o, KP_ST_OK, "%s up to date", w.path);
		else
			agent_outcome_set(o, KP_ST_CHANGED, "%s%s: content up "
			    "to date, %s", check_only ? "would fix " : "",
			    w.path, what);
		return KORCH_OK;
	}

	if (!exists && file_parent(&w, check_only, note, sizeof(note),
	    o) != KORCH_OK)
		return KORCH_OK;
	file_diff(&w, exists, old_sha, old_size, o);
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would %s %s (%llu bytes)%s",
		    exists ? "rewrite" : "create", w.path, w.size, note);
		return KORCH_OK;
	}
	/* A replaced file is the task's, as a new one would be: its owner
	 * (the agent's user when the task names none, root under become),
	 * never whoever owned the old file, who could read a key written
	 * into it otherwise. */
	uid = w.uid == AGENT_ID_NONE && exists ? (long long)geteuid() : w.uid;
	gid = w.gid == AGENT_ID_NONE && exists ? (long long)getegid() : w.gid;
	agent_outcome_set(o, KP_ST_CHANGED, "%s %s (%llu bytes)",
	    exists ? "rewrote" : "created", w.path, w.size);
	return file_write(&w, s, uid, gid, o);
}

const struct agent_module agent_mod_file = {
	.name = "file",
	.flags = 0,
	.binary = file_binary,
	.run = file_run,
};
