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
	(void)vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
	/* One line, printable: the message lands in logs and recaps. */
	for (p = o->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
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
