/*
 * fdio.c - whole writes to a blocking file descriptor (see fdio.h).
 */
#include <errno.h>
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
