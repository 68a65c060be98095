/*
 * mod_directory.c - a directory with a given mode and owner.
 * A symlink to a directory counts as the directory (a data dir moved to a
 * bigger disk is a common, deliberate setup).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "fileio.h"
#include "module.h"

static int
directory_create(const char *path, mode_t mode, long long uid,
    long long gid, int parents, int check_only, struct agent_outcome *o)
{
	struct stat st;
	char *parent = NULL;
	char what[256] = "";
	int r = KORCH_OK;

	if ((parent = agent_dirname(path)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	if (!parents && !(stat(parent, &st) == 0 && S_ISDIR(st.st_mode))) {
		agent_outcome_set(o, KP_ST_FAILED, "parent directory %s does "
		    "not exist (parents=0)", parent);
		goto out;
	}
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would create %s (mode "
		    "%04o)", path, (unsigned)mode);
		goto out;
	}
	if (agent_mkdirs(path, mode, o) != KORCH_OK)
		goto out;
	if (stat(path, &st) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (agent_attrs_sync(path, &st, mode, uid, gid, 0, what, sizeof(what),
	    o) < 0)
		goto out;
	agent_outcome_set(o, KP_ST_CHANGED, "created %s (mode %04o)", path,
	    (unsigned)mode);
out:
	if (o->status == KP_ST_CHANGED)
		agent_outcome_diff(o, "--- /dev/null\n+++ %s/\n", path);
	free(parent);
	return r;
}

static int
directory_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	const char *path;
	struct stat st;
	char what[256] = "";
	long long uid, gid;
	mode_t mode;
	int parents, r;

	if (agent_arg_path(t, "path", &path, o) != KORCH_OK ||
	    agent_arg_mode(t, "mode", 0755, &mode, o) != KORCH_OK ||
	    agent_arg_id(t, "uid", &uid, o) != KORCH_OK ||
	    agent_arg_id(t, "gid", &gid, o) != KORCH_OK ||
	    agent_arg_bool(t, "parents", 1, &parents, o) != KORCH_OK)
		return KORCH_OK;
	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", path,
			    strerror(errno));
			return KORCH_OK;
		}
		(void)directory_create(path, mode, uid, gid, parents,
		    check_only, o);
		return KORCH_OK;
	}
	if (!S_ISDIR(st.st_mode)) {
		agent_outcome_set(o, KP_ST_FAILED, "%s exists and is not a "
		    "directory", path);
		return KORCH_OK;
	}
	r = agent_attrs_sync(path, &st, mode, uid, gid, check_only, what,
	    sizeof(what), o);
	if (r < 0)
		return KORCH_OK;
	if (r == 0)
		agent_outcome_set(o, KP_ST_OK, "%s up to date", path);
	else
		agent_outcome_set(o, KP_ST_CHANGED, "%s%s: %s",
		    check_only ? "would fix " : "", path, what);
	return KORCH_OK;
}

const struct agent_module agent_mod_directory = {
	.name = "directory",
	.flags = 0,
	.run = directory_run,
};
