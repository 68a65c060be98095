#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/report.h"
#include "wire.h"

struct report {
	FILE		*out, *err;
	unsigned	 flags;
	unsigned	 nhosts;
	int		 color;		/* on out */
	int		 live;		/* progress line on err */
	int		 line_shown;
	struct timespec	 last_draw;
	struct timespec	 start;
	int		 name_width;
};

#define C_RESET	"\033[0m"
#define C_GREEN	"\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED	"\033[31m"
#define C_CYAN	"\033[36m"
#define C_DIM	"\033[2m"
#define C_BOLD	"\033[1m"

/* Where a message's later lines start: under the diff lines. */
#define MSG_INDENT	6

static int
use_color(FILE *f)
{
	const char *nc = getenv("NO_COLOR");

	if (nc != NULL && *nc != '\0')
		return 0;
	return isatty(fileno(f));
}

struct report *
report_new(FILE *out, FILE *err, unsigned flags, unsigned nhosts)
{
	struct report *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->out = out;
	r->err = err;
	r->flags = flags;
	r->nhosts = nhosts;
	r->color = !(flags & REPORT_JSON) && use_color(out);
	r->live = !(flags & REPORT_JSON) && isatty(fileno(err));
	r->name_width = 8;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	return r;
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	report_clear_line(r);
	free(r);
}

static const char *
col(const struct report *r, const char *c)
{
	return r->color ? c : "";
}

void
report_clear_line(struct report *r)
{
	if (r->line_shown) {
		fputs("\r\033[K", r->err);
		fflush(r->err);
		r->line_shown = 0;
	}
}

void
report_begin(struct report *r, const char *what, int64_t run_id,
    unsigned nhosts, unsigned nsteps)
{
	if (r->flags & REPORT_JSON)
		return;
	fprintf(r->out, "%s%s%s: %u host%s, %u step%s (run %lld)\n",
	    col(r, C_BOLD), what, col(r, C_RESET), nhosts,
	    nhosts == 1 ? "" : "s", nsteps, nsteps == 1 ? "" : "s",
	    (long long)run_id);
	fflush(r->out);
}

/*
 * Text from a host goes to a terminal: no escape sequences through.  C0
 * controls but the tab, DEL, and the C1 controls as UTF-8 (U+0080 to
 * U+009F: some terminals obey U+009B as CSI) each become one '?'.
 */
static void
put_clean(FILE *f, const char *p, size_t n)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == 0xc2 && i + 1 < n && (unsigned char)p[i + 1] >= 0x80 &&
		    (unsigned char)p[i + 1] <= 0x9f) {
			fputc('?', f);
			i++;
			continue;
		}
		fputc((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c, f);
	}
}

/*
 * A message: its first line where the cursor is, every later line (a
 * failed command's diagnosis) on a line of its own after indent spaces,
 * section lines ("--- diagnosis: ... ---") in cyan when color is on.
 * Ends the line.
 */
static void
write_message(FILE *f, int color, const char *msg, int indent)
{
	const char *p = msg != NULL ? msg : "", *nl;
	int first = 1, head;
	size_t n;

	for (;;) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		head = !first && color && n >= 4 && strncmp(p, "--- ", 4) == 0;
		if (!first && n > 0)
			fprintf(f, "%*s", indent, "");
		if (head)
			fputs(C_CYAN, f);
		put_clean(f, p, n);
		if (head)
			fputs(C_RESET, f);
		fputc('\n', f);
		first = 0;
		/* A trailing newline ends the message, not an empty line. */
		if (nl == NULL || nl[1] == '\0')
			break;
		p = nl + 1;
	}
}

void
report_write_message(FILE *f, const char *msg, int indent)
{
	write_message(f, 0, msg, indent);
}

static void
print_diff(struct report *r, const char *diff)
{
	const char *p = diff, *nl;
	const char *c;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		c = "";
		if (*p == '+')
			c = col(r, C_GREEN);
		else if (*p == '-')
			c = col(r, C_RED);
		else if (*p == '@')
			c = col(r, C_CYAN);
		fprintf(r->out, "      %s", c);
		put_clean(r->out, p, nl ? (size_t)(nl - p) : strlen(p));
		fprintf(r->out, "%s\n", *c ? col(r, C_RESET) : "");
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

void
report_task(struct report *r, const char *host, const char *task_key,
    int status, const char *message, const char *diff)
{
	const char *word, *c;

	if (r->flags & REPORT_JSON)
		return;
	if (!(r->flags & REPORT_VERBOSE) && status != KP_ST_CHANGED &&
	    status != KP_ST_FAILED)
		return;
	switch (status) {
	case KP_ST_OK:
		word = "ok";
		c = C_GREEN;
		break;
	case KP_ST_CHANGED:
		word = (r->flags & REPORT_CHECK) ? "would change" : "changed";
		c = C_YELLOW;
		break;
	case KP_ST_FAILED:
		word = "FAILED";
		c = C_RED;
		break;
	default:
		word = "skipped";
		c = C_DIM;
		break;
	}
	report_clear_line(r);
	fprintf(r->out, "%-*s %s%-12s%s %s%s", r->name_width, host,
	    col(r, c), word, col(r, C_RESET), task_key,
	    message && *message ? ": " : "");
	write_message(r->out, r->color, message, MSG_INDENT);
	if (diff != NULL && *diff != '\0' &&
	    ((r->flags & (REPORT_CHECK | REPORT_VERBOSE)) ||
	    status == KP_ST_FAILED))
		print_diff(r, diff);
	fflush(r->out);
}

void
report_host_done(struct report *r, const char *host, int unreachable,
    const char *error)
{
	if ((r->flags & REPORT_JSON) || error == NULL)
		return;
	report_clear_line(r);
	fprintf(r->out, "%-*s %s%-12s%s ", r->name_width, host,
	    col(r, C_RED), unreachable ? "UNREACHABLE" : "FAILED",
	    col(r, C_RESET));
	write_message(r->out, r->color, error, MSG_INDENT);
	fflush(r->out);
}

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void
report_progress(struct report *r, unsigned done, unsigned running,
    const struct report_counts *t)
{
	struct timespec now;

	if (!r->live)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* Redraw at most ten times a second: a terminal is slow. */
	if (r->line_shown && elapsed(&r->last_draw, &now) < 0.1 &&
	    done < r->nhosts)
		return;
	r->last_draw = now;
	fprintf(r->err, "\r\033[K[%5.1fs] hosts %u/%u done, %u running | "
	    "ok %u  changed %u  failed %u  skipped %u",
	    elapsed(&r->start, &now), done, r->nhosts, running, t->ok,
	    t->changed, t->failed, t->skipped);
	fflush(r->err);
	r->line_shown = 1;
}

void
report_recap_header(struct report *r)
{
	if (r->flags & REPORT_JSON)
		return;
	report_clear_line(r);
	fprintf(r->out, "\n%sRECAP%s\n", col(r, C_BOLD), col(r, C_RESET));
}

void
report_recap_host(struct report *r, const char *host,
    const struct report_counts *c, int unreachable, const char *error)
{
	const char *hc;

	if (r->flags & REPORT_JSON)
		return;
	report_clear_line(r);
	hc = (unreachable || c->failed || error) ? C_RED :
	    c->changed ? C_YELLOW : C_GREEN;
	fprintf(r->out, "  %s%-*s%s ok=%-4u %schanged=%-4u%s %sfailed=%-3u%s "
	    "skipped=%-3u %sunreachable=%d%s\n",
	    col(r, hc), r->name_width, host, col(r, C_RESET), c->ok,
	    c->changed ? col(r, C_YELLOW) : "", c->changed,
	    c->changed ? col(r, C_RESET) : "",
	    c->failed ? col(r, C_RED) : "", c->failed,
	    c->failed ? col(r, C_RESET) : "", c->skipped,
	    unreachable ? col(r, C_RED) : "", unreachable ? 1 : 0,
	    unreachable ? col(r, C_RESET) : "");
}

void
report_recap_failure(struct report *r, const char *task, const char *message)
{
	if (r->flags & REPORT_JSON)
		return;
	fputs("    ", r->out);
	if (task != NULL)
		fprintf(r->out, "%s%s%s: ", col(r, C_RED), task,
		    col(r, C_RESET));
	write_message(r->out, r->color, message != NULL && *message != '\0' ?
	    message : "failed", MSG_INDENT);
}

void
report_verdict(struct report *r, const char *text, int good)
{
	struct timespec now;

	if (r->flags & REPORT_JSON)
		return;
	report_clear_line(r);
	clock_gettime(CLOCK_MONOTONIC, &now);
	fprintf(r->out, "%s%s%s (%.1fs)\n", col(r, good ? C_GREEN : C_RED),
	    text, col(r, C_RESET), elapsed(&r->start, &now));
	fflush(r->out);
}


void
report_set_name_width(struct report *r, int width)
{
	if (width > 0 && width < 64)
		r->name_width = width;
}

void
report_fmt_time(int64_t ms, int with_date, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S",
	    &tm) == 0)
		snprintf(buf, len, "-");
}
