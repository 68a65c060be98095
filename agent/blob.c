/*
 * blob.c - fetching content from the controller by hash.
 *
 * The agent asks only after it found its own copy differs, and streams the
 * chunks straight to the destination's temp file while hashing them, so a
 * large binary never sits in memory.  Only one transfer is outstanding at
 * a time, and it answers the STEP being served (same reqid).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "fdio.h"
#include "sha256.h"


int
agent_blob_fetch(struct agent_session *s, const char *sha256,
    uint64_t size, int fd, char *err, size_t errlen)
{
	struct kp_blob_req req;
	struct kp_blob blob;
	struct kp_frame f;
	struct agent_sha256 c;
	struct kbuf *out = NULL;
	char got_hash[AGENT_SHA256_HEX];
	uint64_t got = 0;
	uint32_t reqid = agent_session_reqid(s);
	int r, task_err = KORCH_OK, last = 0;

	memset(&blob, 0, sizeof(blob));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((out = kbuf_new(256)) == NULL)
		return KORCH_ERR_ALLOC;
	req.sha256 = (char *)sha256;
	if ((r = kp_enc_blob_req(out, reqid, &req)) != KORCH_OK ||
	    (r = agent_session_send(s, out)) != KORCH_OK)
		goto out;
	agent_sha256_init(&c);
	while (!last) {
		if ((r = agent_session_recv_wire(s, &f)) != KORCH_OK)
			goto out;
		/* The controller pipelines steps: one that arrives before
		 * the content waits its turn. */
		if (f.type == KP_STEP || f.type == KP_BYE) {
			if ((r = agent_session_defer(s, &f)) != KORCH_OK)
				goto out;
			continue;
		}
		/* Anything else but the next chunk breaks the stream. */
		if (f.type != KP_BLOB || f.reqid != reqid) {
			r = KORCH_ERR_BAD_FRAME;
			goto out;
		}
		if ((r = kp_dec_blob(&f, &blob)) != KORCH_OK)
			goto out;
		if (strcmp(blob.sha256, sha256) != 0 || blob.offset != got) {
			r = KORCH_ERR_BAD_FRAME;
			goto out;
		}
		agent_sha256_update(&c, blob.data, blob.len);
		got += blob.len;
		last = blob.last;
		if (task_err == KORCH_OK && got > size) {
			task_err = KORCH_ERR_HASH_MISMATCH;
			(void)snprintf(err, errlen, "controller sent more than "
			    "the expected %llu bytes", (unsigned long long)size);
		}
		/* Keep reading after a local failure: the stream must stay
		 * in step for the tasks that follow. */
		if (task_err == KORCH_OK && kp_write_all(fd, blob.data,
		    blob.len) != KORCH_OK) {
			task_err = KORCH_ERR_SYSTEM;
			(void)snprintf(err, errlen, "writing content: %s",
			    strerror(errno));
		}
		kp_blob_clear(&blob);
	}
	r = task_err;
	if (r != KORCH_OK)
		goto out;
	agent_sha256_final_hex(&c, got_hash);
	if (got == 0 && size > 0) {
		r = KORCH_ERR_HASH_MISMATCH;
		(void)snprintf(err, errlen, "controller has no content for "
		    "sha256 %.12s", sha256);
	} else if (got != size) {
		r = KORCH_ERR_HASH_MISMATCH;
		(void)snprintf(err, errlen, "received %llu bytes, expected "
		    "%llu", (unsigned long long)got, (unsigned long long)size);
	} else if (strcmp(got_hash, sha256) != 0) {
		r = KORCH_ERR_HASH_MISMATCH;
		(void)snprintf(err, errlen, "content sha256 %.12s does not "
		    "match %.12s", got_hash, sha256);
	}
out:
	kp_blob_clear(&blob);
	kbuf_free(out);
	return r;
}
