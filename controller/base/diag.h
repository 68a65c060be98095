/*
 * diag.h - diagnostics collected while loading and checking input files.
 *
 * Parsers never log: they add one diagnostic per mistake and go on, so the
 * operator sees every mistake at once.  The caller that gives up prints the
 * list once, each as
 *
 *     file:line:column: path: message
 *
 * with 1-based line and column as an editor shows them, and path naming the
 * field (`hosts[2].roles`, 0-based indexes).  An empty path is left out, and
 * so are line and column when they are 0 (a problem with a whole file).
 *
 * A diag never fails its caller: when memory runs out the entry is counted
 * but lost, and diag_print() says so.  So callers can add without checking,
 * and diag_count() stays a reliable "was anything wrong" test.
 *
 * The YAML helpers below report against libyaml document nodes, so the
 * inventory and playbook loaders share one way of naming positions.
 */
#ifndef KORCH_DIAG_H
#define KORCH_DIAG_H

#include <stdio.h>
#include <stddef.h>

#include <yaml.h>

struct diag;

/* One diagnostic; read-only, owned by its diag. */
struct diag_entry {
	const char	*file;		/* "" when unknown */
	unsigned	 line;		/* 1-based; 0: no position */
	unsigned	 col;		/* 1-based; 0: no position */
	const char	*path;		/* "" when none */
	const char	*msg;
};

/* New empty list; NULL on ENOMEM. */
struct diag *diag_new(void);
/* NULL-safe. */
void diag_free(struct diag *d);

/*
 * Add one diagnostic; file, path and the message are copied.  NULL d is
 * allowed (the diagnostic is dropped), NULL file/path mean "".  Returns 0,
 * or KORCH_ERR_ALLOC (the entry is still counted; see above).
 */
int diag_add(struct diag *d, const char *file, unsigned line, unsigned col,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Number of diagnostics added (including any lost to ENOMEM); 0 for NULL. */
size_t diag_count(const struct diag *d);
/* The i-th diagnostic in the order added, or NULL when i is out of range. */
const struct diag_entry *diag_get(const struct diag *d, size_t i);

/* Format one entry as "file:line:col: path: message" into buf (always
 * NUL-terminated, truncated to size).  Returns the length it wanted. */
size_t diag_format(const struct diag_entry *e, char *buf, size_t size);

/* Print all, one a line, sorted by file, line and column (equal positions
 * keep the order added).  Does nothing for NULL d. */
void diag_print(const struct diag *d, FILE *fp);

/*
 * The candidate closest to word by edit distance, when it is close enough
 * to be a likely typo (for "did you mean"), else NULL.  candidates ends
 * with NULL.
 */
const char *diag_suggest(const char *word, const char *const *candidates);

/* ---- YAML documents ------------------------------------------------------ */

/*
 * Load the first YAML document of path into doc (which the caller then
 * deletes with yaml_document_delete()).  Returns 0; or KORCH_ERR_PARSE with
 * the syntax error (libyaml's mark) or an open error in d, and doc left
 * empty (no delete needed).  A second document in the stream is an error.
 */
int diag_yaml_load(const char *path, yaml_document_t *doc, struct diag *d);

/* Diagnostic at node's start (NULL node: no position). */
int diag_node(struct diag *d, const char *file, const yaml_node_t *node,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "mapping", "sequence", "scalar" or "null" (a plain empty/~/null scalar). */
const char *diag_yaml_kind(const yaml_node_t *node);
/* 1 when node is a plain null scalar ("", "~", "null"). */
int diag_yaml_is_null(const yaml_node_t *node);

/*
 * Check a mapping's keys: each must be a scalar, appear once and be one of
 * allowed (NULL-terminated).  Reports every offending key (with "did you
 * mean" when a near miss) at the key's position, path "<path>.<key>".
 * Returns the number of problems reported.
 */
int diag_yaml_check_keys(struct diag *d, const char *file,
    yaml_document_t *doc, const yaml_node_t *map, const char *path,
    const char *const *allowed);

/* The value node for key in map, or NULL (map must be a mapping). */
yaml_node_t *diag_yaml_get(yaml_document_t *doc, const yaml_node_t *map,
    const char *key);

#endif
