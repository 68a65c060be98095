/*
 * fdio.c - reads and writes that survive signals, whole files, parent
 * directories (see fdio.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"

int
kp_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return KORCH_ERR_SYSTEM;
		c += w;
		n -= (size_t)w;
	}
	return KORCH_OK;
}

ssize_t
kp_read(int fd, void *p, size_t n)
{
	ssize_t r;

	while ((r = read(fd, p, n)) == -1 && errno == EINTR)
		;
	return r;
}

int
kp_read_fd(int fd, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t size, got = 0;
	ssize_t n;
	int saved;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &st) == -1)
		return KORCH_ERR_SYSTEM;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return KORCH_ERR_INVALID_ARG;
	}
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		errno = EFBIG;
		return KORCH_ERR_TOO_LARGE;
	}
	size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL)
		return KORCH_ERR_ALLOC;
	/* A file that shrinks while read ends early; one that grows is
	 * read up to the size fstat saw. */
	while (got < size) {
		if ((n = kp_read(fd, buf + got, size - got)) == -1) {
			saved = errno;
			explicit_bzero(buf, got);
			free(buf);
			errno = saved;
			return KORCH_ERR_SYSTEM;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return KORCH_OK;
}

int
kp_mkdir_parents(const char *path, char *failed, size_t len)
{
	char buf[PATH_MAX];
	struct stat st;
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return KORCH_ERR_SYSTEM;
	}
	for (p = strchr(buf + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(buf, 0700) == -1) {
			if (errno != EEXIST || stat(buf, &st) == -1)
				goto fail;
			if (!S_ISDIR(st.st_mode)) {
				errno = ENOTDIR;
				goto fail;
			}
		}
		*p = '/';
	}
	return KORCH_OK;
fail:
	if (failed != NULL)
		(void)snprintf(failed, len, "%s", buf);
	return KORCH_ERR_SYSTEM;
}
