/*
 * restart_mark.c - restarts a host owes (restart_mark.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "hostlock.h"
#include "restart_mark.h"

static const char *const unit_suffixes[] = {
	".service", ".socket", ".timer", ".target", ".mount", ".path", NULL
};

static int
valid_unit_name(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len < 256 && n[0] != '-' && n[0] != '.' &&
	    strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789:_.@-\\") == len;
}

static int
has_suffix(const char *n)
{
	size_t len = strlen(n), sl, i;

	for (i = 0; unit_suffixes[i] != NULL; i++) {
		sl = strlen(unit_suffixes[i]);
		if (len > sl && strcmp(n + len - sl, unit_suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

int
agent_unit_name(const char *name, char *unit, size_t len)
{
	int w;

	if (name == NULL || !valid_unit_name(name))
		return KORCH_ERR_INVALID_ARG;
	w = snprintf(unit, len, "%s%s", name, has_suffix(name) ? "" :
	    ".service");
	return w < 0 || (size_t)w >= len ? KORCH_ERR_INVALID_ARG : KORCH_OK;
}

/* The marks' directory (made when mkdir_it) and unit's mark in path. */
static int
mark_path(const char *unit, int mkdir_it, char *path, size_t len,
    char *why, size_t whylen)
{
	size_t n;
	int w;

	if (agent_state_path("restart", path, len) != KORCH_OK) {
		(void)snprintf(why, whylen, "cannot find the agent's state "
		    "directory");
		return KORCH_ERR_SYSTEM;
	}
	/* Beside the lock, whose directory hostlock.c has checked is
	 * root's alone. */
	if (mkdir_it && mkdir(path, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	n = strlen(path);
	w = snprintf(path + n, len - n, "/%s", unit);
	if (w < 0 || (size_t)w >= len - n) {
		(void)snprintf(why, whylen, "restart mark path too long");
		return KORCH_ERR_TOO_LARGE;
	}
	return KORCH_OK;
}

int
agent_restart_mark(const char *unit, int *created, char *why,
    size_t whylen)
{
	char path[PATH_MAX];
	int fd, r;

	*created = 0;
	if ((r = mark_path(unit, 1, path, sizeof(path), why, whylen)) != 0)
		return r;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		if (errno == EEXIST)
			return KORCH_OK;
		(void)snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	(void)close(fd);
	*created = 1;
	return KORCH_OK;
}

int
agent_restart_marked(const char *unit)
{
	char path[PATH_MAX], why[64];
	struct stat st;

	return mark_path(unit, 0, path, sizeof(path), why, sizeof(why)) ==
	    KORCH_OK && lstat(path, &st) == 0;
}

int
agent_restart_unmark(const char *unit, char *why, size_t whylen)
{
	char path[PATH_MAX];
	int r;

	if ((r = mark_path(unit, 0, path, sizeof(path), why, whylen)) != 0)
		return r;
	if (unlink(path) == -1 && errno != ENOENT) {
		(void)snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	return KORCH_OK;
}
