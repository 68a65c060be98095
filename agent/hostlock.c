/*
 * hostlock.c - the host lock (hostlock.h): flock on a file that names its
 * holder as "key=value" lines.  The kernel owns the lock, the file's text
 * only says who has it: a file left by a dead agent is unlocked, and the
 * next agent overwrites its text.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "hostlock.h"

#define ROOT_DIR	"/var/lib/korch"
#define HOLDER_MAX	(2 * KP_HOLDER_MAX + 256)

int
agent_hostlock_path(char *buf, size_t len)
{
#ifdef KORCH_TEST_HOOKS
	/* Tests sharing one machine; a release agent never reads it: root
	 * would create and truncate whatever path the environment names. */
	const char *e = getenv("KORCH_AGENT_LOCK");
#else
	const char *e = NULL;
#endif
	char self[PATH_MAX], *slash;
	ssize_t n;
	int w;

	if (e != NULL && *e == '/')
		w = snprintf(buf, len, "%s", e);
	else if (geteuid() == 0)
		w = snprintf(buf, len, "%s/lock", ROOT_DIR);
	else {
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <=
		    0)
			return KORCH_ERR_SYSTEM;
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) == NULL)
			return KORCH_ERR_SYSTEM;
		*slash = '\0';
		w = snprintf(buf, len, "%s/lock", self);
	}
	return w < 0 || (size_t)w >= len ? KORCH_ERR_TOO_LARGE : KORCH_OK;
}

int
agent_state_path(const char *name, char *buf, size_t len)
{
	char *slash;
	size_t room;
	int r, w;

	if ((r = agent_hostlock_path(buf, len)) != KORCH_OK)
		return r;
	if ((slash = strrchr(buf, '/')) == NULL)
		return KORCH_ERR_SYSTEM;
	room = len - (size_t)(slash - buf);
	w = snprintf(slash, room, "/%s", name);
	return w < 0 || (size_t)w >= room ? KORCH_ERR_TOO_LARGE : KORCH_OK;
}

/* /var/lib/korch must be root's alone: anyone who can write it could
 * swap the lock file for one that never blocks. */
static int
root_dir(const char *path, char *why, size_t whylen)
{
	struct stat st;

	if (strncmp(path, ROOT_DIR "/", sizeof(ROOT_DIR)) != 0)
		return KORCH_OK;
	if (mkdir("/var/lib", 0755) == -1 && errno != EEXIST)
		goto sys;
	if (mkdir(ROOT_DIR, 0700) == -1 && errno != EEXIST)
		goto sys;
	if (lstat(ROOT_DIR, &st) == -1)
		goto sys;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		(void)snprintf(why, whylen, "%s: not a directory owned by root "
		    "and writable by root alone; refusing to lock there",
		    ROOT_DIR);
		return KORCH_ERR_SYSTEM;
	}
	return KORCH_OK;
sys:
	(void)snprintf(why, whylen, "%s: %s", ROOT_DIR, strerror(errno));
	return KORCH_ERR_SYSTEM;
}

/* Control characters of a controller's strings become '?' in the file,
 * so one value stays one line. */
static void
put_value(char *dst, size_t len, const char *v)
{
	size_t i;

	(void)snprintf(dst, len, "%s", v != NULL ? v : "");
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

static int
write_holder(int fd, const struct kp_start *st)
{
	char host[KP_HOLDER_MAX + 1], state[KP_HOLDER_MAX + 1], since[32];
	char *text;
	struct tm tm;
	time_t now = time(NULL);
	int n, r = KORCH_OK;

	if ((text = malloc(HOLDER_MAX)) == NULL)
		return KORCH_ERR_ALLOC;
	put_value(host, sizeof(host), st->ctl_host);
	put_value(state, sizeof(state), st->state);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(since, sizeof(since), "%lld", (long long)now);
	n = snprintf(text, HOLDER_MAX, "host=%s\npid=%u\nstate=%s\nrun=%llu\n"
	    "since=%s\nagent_pid=%ld\n", host, st->ctl_pid, state,
	    (unsigned long long)st->run_id, since, (long)getpid());
	if (n < 0 || n >= HOLDER_MAX || ftruncate(fd, 0) == -1 ||
	    pwrite(fd, text, (size_t)n, 0) != n)
		r = KORCH_ERR_SYSTEM;
	free(text);
	return r;
}

/* The value of key in the holder's text, into dst ("?" when absent). */
static void
holder_value(const char *text, const char *key, char *dst, size_t len)
{
	size_t kl = strlen(key);
	const char *p = text, *end;

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 :
	    NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			p += kl + 1;
			end = strchr(p, '\n');
			(void)snprintf(dst, len, "%.*s", (int)(end != NULL ?
			    end - p : (ptrdiff_t)strlen(p)), p);
			return;
		}
	}
	(void)snprintf(dst, len, "?");
}

struct holder {
	char	 host[KP_HOLDER_MAX + 1], pid[24], state[KP_HOLDER_MAX + 1];
	char	 run[24], since[32];
};

static void
read_holder(int fd, struct holder *h)
{
	char *text;
	ssize_t n;

	if ((text = malloc(HOLDER_MAX + 1)) == NULL ||
	    (n = pread(fd, text, HOLDER_MAX, 0)) < 0)
		n = 0;
	if (text != NULL)
		text[n] = '\0';
	holder_value(text != NULL ? text : "", "host", h->host,
	    sizeof(h->host));
	holder_value(text != NULL ? text : "", "pid", h->pid, sizeof(h->pid));
	holder_value(text != NULL ? text : "", "state", h->state,
	    sizeof(h->state));
	holder_value(text != NULL ? text : "", "run", h->run, sizeof(h->run));
	holder_value(text != NULL ? text : "", "since", h->since,
	    sizeof(h->since));
	free(text);
}

/* The holder is this very controller run (its previous pass). */
static int
same_controller(const struct holder *h, const struct kp_start *st)
{
	char pid[24], run[24], host[KP_HOLDER_MAX + 1];

	put_value(host, sizeof(host), st->ctl_host);
	(void)snprintf(pid, sizeof(pid), "%u", st->ctl_pid);
	(void)snprintf(run, sizeof(run), "%llu",
	    (unsigned long long)st->run_id);
	return strcmp(h->host, host) == 0 && strcmp(h->pid, pid) == 0 &&
	    strcmp(h->run, run) == 0;
}

int
agent_hostlock_take(const struct kp_start *st, int *fd, char *why,
    size_t whylen)
{
	char path[PATH_MAX];
	struct holder *h = NULL;
	long long until = 0;
	int lfd = -1, r;

	*fd = -1;
	if ((r = agent_hostlock_path(path, sizeof(path))) != KORCH_OK) {
		(void)snprintf(why, whylen, "cannot place the host lock: %s",
		    korch_strerror(r));
		return KORCH_ERR_SYSTEM;
	}
	if ((r = root_dir(path, why, whylen)) != KORCH_OK)
		return r;
	if ((lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY, 0600)) == -1) {
		(void)snprintf(why, whylen, "host lock %s: %s", path,
		    strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	if ((h = malloc(sizeof(*h))) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto fail;
	}
	while (flock(lfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			(void)snprintf(why, whylen, "host lock %s: %s", path,
			    strerror(errno));
			r = KORCH_ERR_SYSTEM;
			goto fail;
		}
		read_holder(lfd, h);
		if (until == 0 && same_controller(h, st))
			until = agent_now_ms() + AGENT_HOSTLOCK_SAME_WAIT_MS;
		if (until != 0 && agent_now_ms() < until) {
			(void)poll(NULL, 0, 50);
			continue;
		}
		(void)snprintf(why, whylen, "host locked by korch pid %s on %s "
		    "(state %s, run %s) since %s; wait for that run to end "
		    "(the lock goes with its session)", h->pid, h->host,
		    h->state, h->run, h->since);
		r = KORCH_ERR_LOCKED;
		goto fail;
	}
	if ((r = write_holder(lfd, st)) != KORCH_OK) {
		(void)snprintf(why, whylen, "host lock %s: writing the holder: "
		    "%s", path, r == KORCH_ERR_ALLOC ? "out of memory" :
		    strerror(errno));
		goto fail;
	}
	free(h);
	*fd = lfd;
	return KORCH_OK;
fail:
	free(h);
	close(lfd);
	return r;
}
