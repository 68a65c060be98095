/*
 * lines.h - set one "key = value" style line in a text file's contents,
 * keeping every other line and comment as it was (envfile, sysctl).
 */
#ifndef KORCH_AGENT_LINES_H
#define KORCH_AGENT_LINES_H

#include <stddef.h>

/* Does this line (without its newline) set the key we manage? */
typedef int (*agent_line_match_fn)(const char *line, size_t n, void *arg);

/*
 * New contents: the first matching line replaced by line, later matching
 * lines dropped, or line appended when none matched.  *out is malloc'd and
 * NUL-terminated.  KORCH_ERR_ALLOC or KORCH_OK.
 */
int agent_lines_set(const char *text, size_t len, agent_line_match_fn match,
    void *arg, const char *line, char **out, size_t *outlen);

#endif
