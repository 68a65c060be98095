/*
 * template.h - strict variable substitution for playbook templates.
 *
 * The only construct is {{ name }}: optional spaces or tabs inside the
 * braces, name is [A-Za-z0-9_.]+ and is looked up in a vars chain.  There is
 * no logic, no filters and no escaping, on purpose: a template is a file
 * with holes, and every decision lives in the playbook where it can be
 * validated.  A lone "}}" is plain text.
 *
 * Errors are collected, never logged: every undefined variable (once per
 * name, at its first use), every malformed or unclosed "{{".
 */
#ifndef KORCH_TEMPLATE_H
#define KORCH_TEMPLATE_H

#include <stddef.h>

struct diag;
struct vars;

/* Rendered output limit; larger output is KORCH_ERR_TOO_LARGE. */
#define TEMPLATE_MAX_OUT	(16u << 20)

/*
 * Where a template's text comes from, for diagnostics.  A template file
 * has line == 0: positions are computed inside the text.  Text embedded in
 * another file (a playbook argument) gives the line/col where it starts and
 * the field path; every problem in it is reported there, since a quoted or
 * folded YAML scalar does not map back to columns.  context, when not NULL,
 * is appended to each message in parentheses (e.g. "host node1").
 */
struct tmpl_src {
	const char	*file;
	unsigned	 line;
	unsigned	 col;
	const char	*path;
	const char	*context;
};

/*
 * Render text[0..len) with variables from v into a new NUL-terminated
 * string *out (caller frees; *outlen is its length, may be NULL).
 * Returns 0; KORCH_ERR_TEMPLATE with every problem in d; KORCH_ERR_TOO_LARGE
 * (also noted in d); KORCH_ERR_ALLOC.  On error *out is NULL.
 */
int template_render(const char *tmpl_name, const char *text, size_t len,
    const struct vars *v, char **out, size_t *outlen, struct diag *d);
int template_render_src(const struct tmpl_src *src, const char *text,
    size_t len, const struct vars *v, char **out, size_t *outlen,
    struct diag *d);

/* Syntax only (no variables needed): 0 or KORCH_ERR_TEMPLATE with every
 * malformed or unclosed "{{" in d.  For load-time checks. */
int template_check(const struct tmpl_src *src, const char *text, size_t len,
    struct diag *d);

#endif
