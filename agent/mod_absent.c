/*
 * mod_absent.c - make sure nothing is at a path.  Removes a file, a
 * symlink (never what it points to) or an empty directory; a directory
 * tree only with recursive=1, walked with *at() calls and O_NOFOLLOW so a
 * symlink inside the tree can never lead the removal elsewhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "module.h"

/* Empty the directory open at dfd (which this function closes). */
static int
empty_tree(int dfd)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, r = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	while (r == 0) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				r = -1;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			r = -1;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd(d), de->d_name, 0) == -1)
				r = -1;
			continue;
		}
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 || empty_tree(fd) == -1 ||
		    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == -1)
			r = -1;
	}
	closedir(d);
	return r;
}

static int
dir_is_empty(const char *path)
{
	struct dirent *de;
	int empty = 1;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

static int
absent_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	const char *path, *kind;
	struct stat st;
	int recursive, empty, fd;

	if (agent_arg_path(t, "path", &path, o) != KORCH_OK ||
	    agent_arg_bool(t, "recursive", 0, &recursive, o) != KORCH_OK)
		return KORCH_OK;
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			agent_outcome_set(o, KP_ST_OK, "%s already absent", path);
		else
			agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", path,
			    strerror(errno));
		return KORCH_OK;
	}
	kind = S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ?
	    "symlink" : "file";
	if (S_ISDIR(st.st_mode) && !recursive) {
		if ((empty = dir_is_empty(path)) == -1) {
			agent_outcome_set(o, KP_ST_FAILED, "read %s: %s", path,
			    strerror(errno));
			return KORCH_OK;
		}
		if (!empty) {
			agent_outcome_set(o, KP_ST_FAILED, "directory %s is not "
			    "empty (set recursive=1 to remove the tree)", path);
			return KORCH_OK;
		}
	}
	agent_outcome_diff(o, "--- %s%s\n+++ /dev/null\n", path,
	    S_ISDIR(st.st_mode) ? "/" : "");
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would remove %s %s", kind,
		    path);
		return KORCH_OK;
	}
	if (S_ISDIR(st.st_mode)) {
		if (recursive) {
			fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
			if (fd == -1 || empty_tree(fd) == -1) {
				agent_outcome_set(o, KP_ST_FAILED, "remove tree "
				    "%s: %s", path, strerror(errno));
				return KORCH_OK;
			}
		}
		if (rmdir(path) == -1) {
			agent_outcome_set(o, KP_ST_FAILED, "rmdir %s: %s", path,
			    strerror(errno));
			return KORCH_OK;
		}
	} else if (unlink(path) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "unlink %s: %s", path,
		    strerror(errno));
		return KORCH_OK;
	}
	agent_outcome_set(o, KP_ST_CHANGED, "removed %s %s", kind, path);
	return KORCH_OK;
}

const struct agent_module agent_mod_absent = {
	.name = "absent",
	.flags = 0,
	.run = absent_run,
};
