/*
 * errtail.c - the agent's stderr, kept for the operator's messages: the
 * tail of it that a connection holds (SSH_STDERR_MAX), drained from the
 * channel so it never fills the window, and remote text turned into one
 * printable line.
 */
#include <stdio.h>
#include <string.h>

#include <libssh2.h>

#include "ssh/ssh-int.h"

/* Copy s into out as one printable line (control bytes become '?'). */
void
ssh_printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = (ch == '\t') ? ' ' :
		    (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[o] = '\0';
}

/* The tail of the agent's stderr as one line, for messages. */
void
stderr_summary(const struct ssh_conn *c, char *out, size_t outlen)
{
	size_t start = 0, end = c->errlen, i, o = 0;

	while (end > 0 && (c->errtail[end - 1] == '\n' ||
	    c->errtail[end - 1] == '\r' || c->errtail[end - 1] == ' '))
		end--;
	if (end > 600)
		start = end - 600;
	if (outlen == 0)
		return;
	if (start > 0 || c->errcut) {
		o = (size_t)snprintf(out, outlen, "...");
		if (o >= outlen)
			o = outlen - 1;
	}
	for (i = start; i < end && o + 4 < outlen; i++) {
		unsigned char ch = (unsigned char)c->errtail[i];

		if (ch == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else
			out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[o] = '\0';
}

static void
stderr_collect(struct ssh_conn *c, const char *p, size_t n)
{
	size_t keep;

	if (n >= sizeof(c->errtail)) {
		p += n - sizeof(c->errtail) / 2;
		n = sizeof(c->errtail) / 2;
		c->errlen = 0;
		c->errcut = 1;
	}
	if (c->errlen + n > sizeof(c->errtail)) {
		keep = sizeof(c->errtail) / 2;
		if (keep > c->errlen)
			keep = c->errlen;
		memmove(c->errtail, c->errtail + c->errlen - keep, keep);
		c->errlen = keep;
		c->errcut = 1;
	}
	memcpy(c->errtail + c->errlen, p, n);
	c->errlen += n;
}

/* Read the agent's stderr until libssh2 has no more; *got counts. */
ssize_t
drain_stderr_n(struct ssh_conn *c, size_t *got)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = libssh2_channel_read_stderr(c->chan, buf, sizeof(buf));
		if (n <= 0)
			return n;
		stderr_collect(c, buf, (size_t)n);
		*got += (size_t)n;
	}
}

ssize_t
drain_stderr(struct ssh_conn *c)
{
	size_t got = 0;

	return drain_stderr_n(c, &got);
}

int
stderr_has(const struct ssh_conn *c, const char *needle)
{
	return memmem(c->errtail, c->errlen, needle, strlen(needle)) != NULL;
}
