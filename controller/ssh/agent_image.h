/*
 * agent_image.h - the korch-agent binary that korch uploads to hosts.
 *
 * korch carries its agent inside itself (linked in by the Makefile), so the
 * tool is one file.  Only in test builds (make TEST_HOOKS=1, which defines
 * KORCH_TEST_HOOKS) does $KORCH_AGENT_IMAGE name another file to use
 * instead; a release korch ignores it.
 */
#ifndef KORCH_AGENT_IMAGE_H
#define KORCH_AGENT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "sha256hex.h"

/* The agent binary to run on hosts; sha256 is its lowercase hex digest. */
struct agent_image {
	const uint8_t	*data;
	size_t		 len;
	char		 sha256[SHA256_HEX_SIZE];
};

/*
 * Fill *img with the agent binary and its sha256.  The bytes are either
 * built in (static) or, in a test build, read from $KORCH_AGENT_IMAGE, in which case the
 * caller releases them with agent_image_release().  Errors: KORCH_ERR_SYSTEM
 * (file unreadable), KORCH_ERR_ALLOC.
 */
int agent_image_load(struct agent_image *img);
void agent_image_release(struct agent_image *img);

#endif
