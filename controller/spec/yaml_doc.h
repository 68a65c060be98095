/*
 * yaml_doc.h - what the spec loaders (inventory, playbook, profile,
 * bundle) share to read their YAML files: one open libyaml document, and
 * getters that report a value of the wrong shape through base/diag as
 * "file:line:column: field: message".
 *
 * A loader goes on after a problem so that one run shows every mistake:
 * a getter reports, counts the problem in nbad and answers NULL (or -1),
 * and the caller leaves that field at its default.  Running out of memory
 * sets oom instead of reporting; a loader that sees oom gives up with
 * KORCH_ERR_ALLOC.  Nodes and strings a getter returns belong to the
 * document: they live until ydoc_close().
 *
 * Field paths name the field as the user wrote it (`hosts[2].roles`,
 * 0-based); a path longer than YDOC_PATHLEN is cut, never overrun.
 * Messages are kept whole.
 */
#ifndef KORCH_YAML_DOC_H
#define KORCH_YAML_DOC_H

#include <stddef.h>

#include <yaml.h>

struct diag;

#define YDOC_PATHLEN	256

/* One loader's reading state; set d, then ydoc_open() each file. */
struct ydoc {
	const char	*file;		/* for messages; not owned */
	yaml_document_t	 doc;
	int		 open;		/* doc must be deleted */
	struct diag	*d;
	int		 nbad;		/* problems reported */
	int		 oom;
};

/*
 * Read file's one document (a previous one must be closed).  0; or
 * KORCH_ERR_PARSE with the problem in d and counted; or KORCH_ERR_ALLOC
 * with oom set.  file is kept (not copied) for later messages.
 */
int ydoc_open(struct ydoc *y, const char *file);
/* Free the document (nbad and oom stay).  Safe when not open. */
void ydoc_close(struct ydoc *y);
/* The open document's root node (never NULL: an empty file fails open). */
yaml_node_t *ydoc_root(struct ydoc *y);

/* ---- reporting ----------------------------------------------------------- */

/* One problem at n's position (NULL n: the file, without position). */
void ydoc_bad(struct ydoc *y, const yaml_node_t *n, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* One problem at a position kept from a document since closed. */
void ydoc_bad_at(struct ydoc *y, const char *file, unsigned line,
    unsigned col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* strdup, setting oom when it fails. */
char *ydoc_dup(struct ydoc *y, const char *s);

/* buf (YDOC_PATHLEN bytes) = the formatted path. */
void ydoc_pathf(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* buf (YDOC_PATHLEN bytes) = "path.key", or "key" when path is "". */
void ydoc_subpath(char *buf, const char *path, const char *key);

/* ---- nodes --------------------------------------------------------------- */

/* 1-based line and column of n, as diag prints them; 0 for NULL. */
unsigned ydoc_line(const yaml_node_t *n);
unsigned ydoc_col(const yaml_node_t *n);

/* The node with id, or NULL. */
yaml_node_t *ydoc_node(struct ydoc *y, yaml_node_item_t id);
/* map[key]'s value node; NULL when absent or map is not a mapping. */
yaml_node_t *ydoc_get(struct ydoc *y, const yaml_node_t *map,
    const char *key);
/* Items of a sequence, pairs of a mapping; 0 for anything else. */
size_t ydoc_count(const yaml_node_t *n);
/* The i-th item of a sequence (i < ydoc_count). */
yaml_node_t *ydoc_item(struct ydoc *y, const yaml_node_t *seq, size_t i);
/* The i-th key and value of a mapping (i < ydoc_count); either may be
 * NULL in a broken document. */
void ydoc_pair(struct ydoc *y, const yaml_node_t *map, size_t i,
    yaml_node_t **key, yaml_node_t **val);

/* A scalar's text (a plain null's too: "", "~"), else NULL. */
const char *ydoc_text(const yaml_node_t *n);
/* A scalar's text unless it is a plain null, else NULL. */
const char *ydoc_scalar(const yaml_node_t *n);

/* ---- checking getters (report, then NULL / 0 / -1) ----------------------- */

/*
 * map's keys: scalars, each once, and each one of allowed (NULL-
 * terminated; NULL allows any).  Returns the problems reported.
 */
int ydoc_check_keys(struct ydoc *y, const yaml_node_t *map,
    const char *path, const char *const *allowed);
/* 1 when n is a mapping or NULL (nothing to check), else reported, 0. */
int ydoc_want_map(struct ydoc *y, const yaml_node_t *n,
    const char *path);
/* n as a string (not null, no NUL byte), else reported as "expected
 * <what>, got <kind>" and NULL. */
const char *ydoc_want_str(struct ydoc *y, const yaml_node_t *n,
    const char *path, const char *what);
/* 1 when n is a sequence, else reported as "expected a sequence of
 * <what>, got <kind>" (NULL n too), 0. */
int ydoc_want_seq(struct ydoc *y, const yaml_node_t *n, const char *path,
    const char *what);
/* seq's i-th item as ydoc_want_str() sees it, reported at "path[i]";
 * *at (may be NULL) gets the item's node. */
const char *ydoc_item_str(struct ydoc *y, const yaml_node_t *seq, size_t i,
    const char *path, const char *what, yaml_node_t **at);
/* map[key], or NULL reported as "missing required key" at map, path.key. */
yaml_node_t *ydoc_require(struct ydoc *y, const yaml_node_t *map,
    const char *key, const char *path);
/*
 * map[key] as a string: NULL when absent (reported when required) or not
 * a string (reported).  *at (may be NULL) gets the node, for the caller's
 * own messages and to tell absent from bad.
 */
const char *ydoc_key_str(struct ydoc *y, const yaml_node_t *map,
    const char *key, const char *path, int required, yaml_node_t **at);
/* map[key] as a decimal integer in [lo, hi] into *val (untouched when
 * absent or bad).  -1 when bad (reported), else 0. */
int ydoc_key_int(struct ydoc *y, const yaml_node_t *map, const char *key,
    const char *path, long lo, long hi, int *val);

/* ---- directories --------------------------------------------------------- */

/*
 * The *.yaml names in dir (no dot files), sorted; with regular_only,
 * only regular files.  0 and *names (n strings, free each and the array;
 * NULL when none); KORCH_ERR_SYSTEM with errno when dir cannot be opened;
 * KORCH_ERR_ALLOC.  Nothing is reported: the callers word it.
 */
int ydoc_dir_files(const char *dir, int regular_only, char ***names,
    size_t *n);

#endif
