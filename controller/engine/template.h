/*
 * template.h - strict variable substitution for playbook templates.
 *
 * The only construct is {{ name }}: optional spaces or tabs inside the
 * braces, name is [A-Za-z0-9_.]+ and is looked up in a vars chain.  There is
 * no logic and no filters, on purpose: a template is a file with holes,
 * and every decision lives in the playbook where it can be validated.  A
 * lone "}}" is plain text.
 *
 * Escaping is automatic, by where the text goes (tmpl_src.ctx; render.c
 * picks it from the task, so an operator never writes it):
 *   TMPL_CTX_ARG      a task argument (an argv element, a path, an env
 *                     file's value, which the agent quotes): as is.
 *   TMPL_CTX_TEXT     a template file (a config, /etc/hosts): as is.
 *   TMPL_CTX_CONTENT  a file task's inline content: as is, and the only
 *                     place a multi-line inventory var may go.
 *   TMPL_CTX_SYSTEMD  a unit file (a service's unit_template, a file
 *                     task's *.service): each whitespace-separated word
 *                     of a value that holds anything but
 *                     [A-Za-z0-9_./:=,+@[]~^-] is double-quoted, with
 *                     \ and " backslashed, % as %% and $ as $$, so that
 *                     systemd reads back exactly the value: no specifier,
 *                     no variable, no lone ';' command separator, no
 *                     quote that joins words.  A value with a newline or
 *                     other control character is refused: no quoting
 *                     keeps it on its line.
 * A VARS_F_UNIT value (flags.<component>, quoted when it was rendered)
 * goes into a unit as it is.
 * An inventory value (VARS_F_USER) with a newline goes only in
 * TMPL_CTX_CONTENT: anywhere else it is an error at the template.
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
enum tmpl_ctx {
	TMPL_CTX_ARG = 0,
	TMPL_CTX_TEXT,
	TMPL_CTX_CONTENT,
	TMPL_CTX_SYSTEMD,
};

struct tmpl_src {
	const char	*file;
	unsigned	 line;
	unsigned	 col;
	const char	*path;
	const char	*context;
	enum tmpl_ctx	 ctx;
	/* When not NULL: gets the VARS_F_* flags of every variable used
	 * ORed in (so a caller knows it rendered a secret). */
	unsigned	*used;
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
