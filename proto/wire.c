/*
 * wire.c - the frames of the controller <-> agent protocol, the greeting
 * line before them, and the names of message types and task statuses.
 * The messages' bodies are wire_enc.c's and wire_dec.c's.  PROTOCOL.md is
 * the prose version.
 */
#include <string.h>

#include "err.h"
#include "wire.h"
#include "wire-int.h"
#include "sha256hex.h"

const char *
kp_status_name(int status)
{
	switch (status) {
	case KP_ST_OK:		return "ok";
	case KP_ST_CHANGED:	return "changed";
	case KP_ST_FAILED:	return "failed";
	case KP_ST_SKIPPED:	return "skipped";
	}
	return "unknown";
}

const char *
kp_type_name(int type)
{
	switch (type) {
	case KP_HELLO:		return "HELLO";
	case KP_START:		return "START";
	case KP_FACTS_REQ:	return "FACTS_REQ";
	case KP_FACTS:		return "FACTS";
	case KP_STEP:		return "STEP";
	case KP_TASK_RESULT:	return "TASK_RESULT";
	case KP_STEP_DONE:	return "STEP_DONE";
	case KP_BLOB_REQ:	return "BLOB_REQ";
	case KP_BLOB:		return "BLOB";
	case KP_ERROR:		return "ERROR";
	case KP_BYE:		return "BYE";
	case KP_FETCH_DATA:	return "FETCH_DATA";
	}
	return "unknown";
}

/* ---- frames ------------------------------------------------------------ */

int
kp_frame_parse(const uint8_t *p, size_t len, struct kp_frame *f,
    size_t *used)
{
	uint32_t flen;

	if (f == NULL || used == NULL || (p == NULL && len > 0))
		return KORCH_ERR_INVALID_ARG;
	if (len < 4)
		return KORCH_ERR_INCOMPLETE;
	flen = (uint32_t)kp_be_get(p, 4);
	if (flen > KP_MAX_FRAME)
		return KORCH_ERR_TOO_LARGE;
	if (flen < KP_HDR_LEN - 4)
		return KORCH_ERR_BAD_FRAME;
	if (len - 4 < flen)
		return KORCH_ERR_INCOMPLETE;
	f->type = p[4];
	f->reqid = (uint32_t)kp_be_get(p + 5, 4);
	f->body = p + KP_HDR_LEN;
	f->body_len = flen - (KP_HDR_LEN - 4);
	*used = 4 + (size_t)flen;
	return KORCH_OK;
}

int
kp_frame_put(struct kbuf *out, uint8_t type, uint32_t reqid,
    const void *body, size_t body_len)
{
	int r;

	if (out == NULL || (body == NULL && body_len > 0))
		return KORCH_ERR_INVALID_ARG;
	if (body_len > KP_MAX_BODY)
		return KORCH_ERR_TOO_LARGE;
	/* All or nothing: check the room before writing the header. */
	if (kbuf_max(out) - kbuf_len(out) < KP_HDR_LEN + body_len)
		return KORCH_ERR_TOO_LARGE;
	if ((r = kbuf_put_u32(out, (uint32_t)(body_len + 5))) != KORCH_OK ||
	    (r = kbuf_put_u8(out, type)) != KORCH_OK ||
	    (r = kbuf_put_u32(out, reqid)) != KORCH_OK ||
	    (r = kbuf_put(out, body, body_len)) != KORCH_OK)
		return r;	/* only on ENOMEM, which cannot strike here */
	return KORCH_OK;
}

static int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
kp_greeting_parse(const char *line, size_t len, uint32_t *version,
    char hash[SHA256_HEX_SIZE])
{
	const size_t glen = sizeof(KP_GREETING) - 1;
	uint64_t v = 0;
	size_t i, ndig;

	if (line == NULL || version == NULL || hash == NULL)
		return KORCH_ERR_INVALID_ARG;
	/* A pty or a Windows-minded sshd may leave a CR before the LF. */
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > KP_GREETING_MAX || len < glen + 1 + 1 + 1 + 64)
		return KORCH_ERR_BAD_FRAME;
	if (memcmp(line, KP_GREETING, glen) != 0 || line[glen] != ' ')
		return KORCH_ERR_BAD_FRAME;
	i = glen + 1;
	for (ndig = 0; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (++ndig > 9)
			return KORCH_ERR_BAD_FRAME;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (ndig == 0 || i >= len || line[i] != ' ')
		return KORCH_ERR_BAD_FRAME;
	i++;
	if (len - i != 64 || !is_lower_hex(line + i, 64))
		return KORCH_ERR_BAD_FRAME;
	*version = (uint32_t)v;
	memcpy(hash, line + i, 64);
	hash[64] = '\0';
	return KORCH_OK;
}
