/*
 * hash_cache.c - sha256 of unchanged big files (hash_cache.h).
 *
 * The cache file holds one line per file:
 *   DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS SHA256
 * at most CACHE_MAX of them, the newest last.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "hash_cache.h"
#include "hostlock.h"
#include "module.h"

#define CACHE_MAX	512
#define LINE_MAX_LEN	256
#define SETTLE_NS	1000000000LL	/* a second: see hash_cache.h */

/* One entry's key as it is written. */
static int
key_of(const struct stat *st, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%ju %ju %jd %jd %ld %jd %ld ",
	    (uintmax_t)st->st_dev, (uintmax_t)st->st_ino,
	    (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
	    (long)st->st_mtim.tv_nsec, (intmax_t)st->st_ctim.tv_sec,
	    (long)st->st_ctim.tv_nsec);

	return w < 0 || (size_t)w >= len ? -1 : 0;
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The cache's text (NUL-terminated, malloc'd) or NULL. */
static char *
cache_read(const char *path)
{
	struct agent_outcome *o;
	char *text = NULL;
	size_t len;

	if ((o = malloc(sizeof(*o))) == NULL)
		return NULL;
	agent_outcome_init(o);
	if (agent_read_file(path, (size_t)CACHE_MAX * LINE_MAX_LEN, &text,
	    &len, o) != KORCH_OK)
		text = NULL;
	free(o);
	return text;
}

/* The entry for key in text: its hash into hex. */
static int
cache_find(const char *text, const char *key, char hex[AGENT_SHA256_HEX])
{
	size_t klen = strlen(key);
	const char *p, *nl;

	for (p = text; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (strncmp(p, key, klen) == 0 && nl != NULL &&
		    (size_t)(nl - p) == klen + AGENT_SHA256_HEX - 1) {
			memcpy(hex, p + klen, AGENT_SHA256_HEX - 1);
			hex[AGENT_SHA256_HEX - 1] = '\0';
			return 1;
		}
	}
	return 0;
}

/* Write text's entries but those of st's inode, then key's, keeping the
 * newest CACHE_MAX.  Failures are ignored: it is a cache. */
static void
cache_put(const char *path, const char *text, const struct stat *st,
    const char *key, const char *hex)
{
	char inode[64], *out, *q;
	const char *p, *nl;
	struct agent_outcome *o;
	size_t kept = 0, skip, ilen;

	(void)snprintf(inode, sizeof(inode), "%ju %ju ",
	    (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
	ilen = strlen(inode);
	if (text == NULL)
		text = "";
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		if (strncmp(p, inode, ilen) != 0)
			kept++;
	/* The oldest kept lines beyond CACHE_MAX - 1 go. */
	skip = kept >= CACHE_MAX ? kept - (CACHE_MAX - 1) : 0;
	if ((out = malloc(strlen(text) + LINE_MAX_LEN)) == NULL)
		return;
	q = out;
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		if (strncmp(p, inode, ilen) == 0)
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		memcpy(q, p, (size_t)(nl - p) + 1);
		q += nl - p + 1;
	}
	q += snprintf(q, LINE_MAX_LEN, "%s%s\n", key, hex);
	if ((o = malloc(sizeof(*o))) != NULL) {
		agent_outcome_init(o);
		(void)agent_write_atomic(path, out, (size_t)(q - out), 0600,
		    AGENT_ID_NONE, AGENT_ID_NONE, o);
		free(o);
	}
	free(out);
}

/* Is st's ctime over SETTLE_NS in the past? */
static int
settled(const struct stat *st)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 0;
	return (long long)(now.tv_sec - st->st_ctim.tv_sec) * 1000000000LL +
	    (now.tv_nsec - st->st_ctim.tv_nsec) > SETTLE_NS;
}

int
agent_sha256_cached(const char *path, const struct stat *st,
    char hex[AGENT_SHA256_HEX], uint64_t *size)
{
	/* A key leaves room for the hash and newline on its line. */
	char cpath[PATH_MAX], key[LINE_MAX_LEN - AGENT_SHA256_HEX - 1];
	char *text = NULL;
	struct stat before, after;
	int fd, r, saved;

	if ((uint64_t)st->st_size < AGENT_HASH_CACHE_MIN ||
	    agent_state_path("hashes", cpath, sizeof(cpath)) != KORCH_OK ||
	    key_of(st, key, sizeof(key)) != 0)
		return agent_sha256_path(path, hex, size);
	if ((text = cache_read(cpath)) != NULL && cache_find(text, key, hex)) {
		free(text);
		*size = (uint64_t)st->st_size;
		return KORCH_OK;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		saved = errno;
		free(text);
		errno = saved;
		return KORCH_ERR_SYSTEM;
	}
	/* Entered under the stat of what was read, unchanged throughout. */
	if (fstat(fd, &before) != 0) {
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	if ((r = agent_sha256_fd(fd, hex, size)) != KORCH_OK)
		goto out;
	if (fstat(fd, &after) == 0 && same_stat(&before, &after) &&
	    *size == (uint64_t)after.st_size && settled(&after) &&
	    key_of(&after, key, sizeof(key)) == 0)
		cache_put(cpath, text, &after, key, hex);
out:
	saved = errno;
	(void)close(fd);
	free(text);
	errno = saved;
	return r;
}
