/*
 * outcome.c - what a task reports: a status, a one-line message, and a
 * bounded diff.  Bounded because results travel in frames and land in the
 * controller's database; a few KB say enough about what changed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "module.h"

static const char trunc_note[] = "\n[diff truncated]\n";

void
agent_outcome_init(struct agent_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->status = KP_ST_OK;
}

void
agent_outcome_set(struct agent_outcome *o, int status, const char *fmt, ...)
{
	va_list ap;
	char *p;

	o->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(o->msg, AGENT_MSG_MAX, fmt, ap);
	va_end(ap);
	/* One line, printable: the message lands in logs and recaps. */
	for (p = o->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* A byte that continues a UTF-8 sequence: no cut may land on one. */
static int
utf8_cont(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

/* n, or less, so that s[0..n) does not end inside a UTF-8 sequence. */
static size_t
utf8_clip(const char *s, size_t n)
{
	size_t i = n, need;
	unsigned char c;

	while (i > 0 && n - i < 3 && utf8_cont(s[i - 1]))
		i--;
	if (i == 0)
		return n;
	c = (unsigned char)s[i - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return n - (i - 1) < need ? i - 1 : n;
}

/* Append n bytes at o->msg + *len, control characters (but the newline
 * when keep_nl) as spaces; stops at the end of msg. */
static void
note_put(struct agent_outcome *o, size_t *len, const char *p, size_t n,
    int keep_nl)
{
	const size_t cap = sizeof(o->msg) - 1;
	unsigned char c;
	size_t i;

	for (i = 0; i < n && *len < cap; i++) {
		c = (unsigned char)p[i];
		if ((c < 0x20 && !(keep_nl && c == '\n')) || c == 0x7f)
			c = ' ';
		o->msg[(*len)++] = (char)c;
	}
	o->msg[*len] = '\0';
}

/* Where the tail of text[0..n) starts: at most `lines` lines and `max`
 * bytes, on a character boundary.  text does not end in a newline. */
static size_t
tail_start(const char *text, size_t n, unsigned lines, size_t max)
{
	size_t start = n;
	unsigned seen = 0;

	while (start > 0 && n - start < max) {
		if (text[start - 1] == '\n' && ++seen == lines)
			break;
		start--;
	}
	while (start < n && utf8_cont(text[start]))
		start++;
	return start;
}

void
agent_outcome_note(struct agent_outcome *o, const char *title,
    const char *text, size_t n, int head_dropped)
{
	static const char dropped[] = "\n[earlier output dropped]";
	const size_t cap = sizeof(o->msg) - 1;
	size_t len = strlen(o->msg), tn = strlen(title), room, start;

	/* The caller's title may have been cut by a snprintf already. */
	tn = utf8_clip(title, tn > AGENT_NOTE_TITLE ? AGENT_NOTE_TITLE : tn);
	/* The title line, the dropped line and a newline must fit. */
	if (len + tn + 9 + sizeof(dropped) + 1 > cap)
		return;
	room = cap - (len + tn + 9 + sizeof(dropped) + 1);
	if (room > AGENT_NOTE_BYTES)
		room = AGENT_NOTE_BYTES;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
	    text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	start = tail_start(text, n, AGENT_NOTE_LINES, room);
	note_put(o, &len, "\n--- ", 5, 1);
	note_put(o, &len, title, tn, 0);
	note_put(o, &len, " ---", 4, 0);
	if (head_dropped || start > 0)
		note_put(o, &len, dropped, sizeof(dropped) - 1, 1);
	note_put(o, &len, "\n", 1, 1);
	if (start == n)
		note_put(o, &len, "(no output)", 11, 0);
	else
		note_put(o, &len, text + start, n - start, 1);
}

/*
 * While not full, diff_len stays within limit, which leaves room for the
 * truncation note and the NUL.
 */
void
agent_outcome_diff_raw(struct agent_outcome *o, const char *p, size_t n)
{
	const size_t limit = sizeof(o->diff) - sizeof(trunc_note);
	size_t keep;

	if (o->diff_full || n == 0)
		return;
	keep = limit - o->diff_len;
	if (n <= keep) {
		memcpy(o->diff + o->diff_len, p, n);
		o->diff_len += n;
		o->diff[o->diff_len] = '\0';
		return;
	}
	memcpy(o->diff + o->diff_len, p, keep);
	o->diff_len += keep;
	memcpy(o->diff + o->diff_len, trunc_note, sizeof(trunc_note));
	o->diff_len += sizeof(trunc_note) - 1;
	o->diff_full = 1;
}

void
agent_outcome_diff(struct agent_outcome *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	agent_outcome_diff_raw(o, line, (size_t)n);
}
