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
#include "fdio.h"

/* Defined by the assembler stub the Makefile generates (.incbin). */
extern const uint8_t korch_agent_image[];
extern const uint8_t korch_agent_image_end[];


/* An agent binary given by path: at most this, a sanity bound. */
#define AGENT_IMAGE_MAX	(256u << 20)

static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	char *buf;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return KORCH_ERR_SYSTEM;
	r = kp_read_fd(fd, AGENT_IMAGE_MAX, &buf, len);
	close(fd);
	if (r != KORCH_OK)
		return r;
	if (*len == 0) {
		free(buf);
		errno = EINVAL;
		return KORCH_ERR_SYSTEM;
	}
	*data = (uint8_t *)buf;
	return 0;
}

int
agent_image_load(struct agent_image *img)
{
	const char *path = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	int r;

#ifdef KORCH_TEST_HOOKS
	/* Test builds only: a release korch uploads nothing but the agent
	 * it was built with, whatever its environment says. */
	path = getenv("KORCH_AGENT_IMAGE");
#endif
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
