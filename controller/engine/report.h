/*
 * report.h - what an operator sees while a run goes and after it: one line
 * per changed or failed task (every task with --verbose), a live progress
 * line on a terminal, and a recap per host.  With --json nothing goes to
 * stdout but the summary object (built by the caller); progress is off.
 *
 * Colors only when the stream is a terminal and NO_COLOR is unset
 * (https://no-color.org).  The report never fails the run: output errors
 * are ignored.
 */
#ifndef KORCH_REPORT_H
#define KORCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct report;

struct report_counts {
	unsigned	ok, changed, failed, skipped;
};

#define REPORT_VERBOSE	0x1u
#define REPORT_JSON	0x2u	/* quiet: the caller prints JSON */
#define REPORT_CHECK	0x4u	/* plan: "would change", diffs shown */

/* NULL on ENOMEM.  out is where lines go (stdout), err for progress. */
struct report *report_new(FILE *out, FILE *err, unsigned flags,
    unsigned nhosts);
void report_free(struct report *r);
/* Width of the host-name column (the longest name). */
void report_set_name_width(struct report *r, int width);

/* A header line: what is being run. */
void report_begin(struct report *r, const char *what, int64_t run_id,
    unsigned nhosts, unsigned nsteps);
/* One task's outcome (status is enum kp_status).  A message of several
 * lines (a failed command's diagnosis) prints its later lines indented;
 * every line of it is cleaned of control characters. */
void report_task(struct report *r, const char *host, const char *task_key,
    int status, const char *message, const char *diff);
/* A host reached its end; error is NULL when it finished its steps. */
void report_host_done(struct report *r, const char *host, int unreachable,
    const char *error);
/* Update the live line (on a terminal only; cheap to call often). */
void report_progress(struct report *r, unsigned done, unsigned running,
    const struct report_counts *total);
/* The recap: a header (the live line wiped first), one line per host,
 * then a verdict line. */
void report_recap_header(struct report *r);
void report_recap_host(struct report *r, const char *host,
    const struct report_counts *c, int unreachable, const char *error);
/* Under a host's recap line: why it failed (task NULL: the host's own
 * error), every line of message shown as report_task shows it. */
void report_recap_failure(struct report *r, const char *task,
    const char *message);
void report_verdict(struct report *r, const char *text, int good);
/* ms since the epoch as local time, "2026-11-22 01:04:10" (the time of
 * day alone unless with_date); "-" for 0. */
void report_fmt_time(int64_t ms, int with_date, char *buf, size_t len);
/* A task's message as report_task prints it, without color, ending the
 * line: later lines after indent spaces, control characters as '?'. */
void report_write_message(FILE *f, const char *msg, int indent);
/* Wipe the live line before other output goes to the terminal. */
void report_clear_line(struct report *r);

#endif
