#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh/agent_image.h"
#include "base/digest.h"
#include "err.h"

/* Defined by the assembler stub the Makefile generates (.incbin). */
extern const uint8_t korch_agent_image[];
extern const uint8_t korch_agent_image_end[];


static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t off = 0;
	ssize_t n;
	int fd, r = KORCH_ERR_SYSTEM;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return KORCH_ERR_SYSTEM;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		goto out;
	if ((buf = malloc((size_t)st.st_size)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	*data = buf;
	*len = off;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int
agent_image_load(struct agent_image *img)
{
	const char *path = getenv("KORCH_AGENT_IMAGE");
	uint8_t *data = NULL;
	size_t len = 0;
	int r;

	memset(img, 0, sizeof(*img));
	if (path != NULL && *path != '\0') {
		if ((r = read_file(path, &data, &len)) != 0)
			return r;
		img->data = data;
		img->len = len;
	} else {
		img->data = korch_agent_image;
		img->len = (size_t)(korch_agent_image_end - korch_agent_image);
	}
	if ((r = sha256_hex(img->data, img->len, img->sha256)) != 0) {
		agent_image_release(img);
		return r;
	}
	return 0;
}

void
agent_image_release(struct agent_image *img)
{
	if (img == NULL)
		return;
	if (img->data != korch_agent_image)
		free((void *)img->data);
	memset(img, 0, sizeof(*img));
}
