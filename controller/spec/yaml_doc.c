/*
 * yaml_doc.c - see yaml_doc.h: the document, problem reporting, node
 * getters, then the *.yaml files of a directory.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "err.h"
#include "base/diag.h"
#include "spec/yaml_doc.h"

int
ydoc_open(struct ydoc *y, const char *file)
{
	int r;

	y->file = file;
	if ((r = diag_yaml_load(file, &y->doc, y->d)) != 0) {
		if (r == KORCH_ERR_ALLOC)
			y->oom = 1;
		else
			y->nbad++;
		return r;
	}
	y->open = 1;
	return 0;
}

void
ydoc_close(struct ydoc *y)
{
	if (y->open)
		yaml_document_delete(&y->doc);
	y->open = 0;
}

yaml_node_t *
ydoc_root(struct ydoc *y)
{
	return yaml_document_get_root_node(&y->doc);
}

/* ---- reporting ----------------------------------------------------------- */

/*
 * The message is formatted here, whole, because diag has no va_list
 * entry point; should that fail, diag still counts the problem.
 */
static void ydoc_vbad(struct ydoc *, const char *, unsigned, unsigned,
    const char *, const char *, va_list)
    __attribute__((format(printf, 6, 0)));

static void
ydoc_vbad(struct ydoc *y, const char *file, unsigned line, unsigned col,
    const char *path, const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	diag_add(y->d, file, line, col, path, "%s",
	    msg != NULL ? msg : "(out of memory)");
	free(msg);
	y->nbad++;
}

void
ydoc_bad(struct ydoc *y, const yaml_node_t *n, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_vbad(y, y->file, ydoc_line(n), ydoc_col(n), path, fmt, ap);
	va_end(ap);
}

void
ydoc_bad_at(struct ydoc *y, const char *file, unsigned line, unsigned col,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_vbad(y, file, line, col, path, fmt, ap);
	va_end(ap);
}

char *
ydoc_dup(struct ydoc *y, const char *s)
{
	char *c;

	if ((c = strdup(s)) == NULL)
		y->oom = 1;
	return c;
}

/* (vsnprintf, because gcc's truncation warning is noise here.) */
void
ydoc_pathf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, YDOC_PATHLEN, fmt, ap);
	va_end(ap);
}

void
ydoc_subpath(char *buf, const char *path, const char *key)
{
	ydoc_pathf(buf, "%s%s%s", path, *path ? "." : "", key);
}

/* ---- nodes --------------------------------------------------------------- */

unsigned
ydoc_line(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

unsigned
ydoc_col(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.column + 1 : 0;
}

yaml_node_t *
ydoc_node(struct ydoc *y, yaml_node_item_t id)
{
	return yaml_document_get_node(&y->doc, id);
}

yaml_node_t *
ydoc_get(struct ydoc *y, const yaml_node_t *map, const char *key)
{
	return diag_yaml_get(&y->doc, map, key);
}

size_t
ydoc_count(const yaml_node_t *n)
{
	if (n == NULL)
		return 0;
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top -
		    n->data.sequence.items.start);
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top -
		    n->data.mapping.pairs.start);
	return 0;
}

yaml_node_t *
ydoc_item(struct ydoc *y, const yaml_node_t *seq, size_t i)
{
	return ydoc_node(y, seq->data.sequence.items.start[i]);
}

void
ydoc_pair(struct ydoc *y, const yaml_node_t *map, size_t i,
    yaml_node_t **key, yaml_node_t **val)
{
	const yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];

	*key = ydoc_node(y, p->key);
	*val = ydoc_node(y, p->value);
}

const char *
ydoc_text(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

const char *
ydoc_scalar(const yaml_node_t *n)
{
	return diag_yaml_is_null(n) ? NULL : ydoc_text(n);
}

/* ---- checking getters ---------------------------------------------------- */

int
ydoc_check_keys(struct ydoc *y, const yaml_node_t *map, const char *path,
    const char *const *allowed)
{
	int n;

	n = diag_yaml_check_keys(y->d, y->file, &y->doc, map, path, allowed);
	y->nbad += n;
	return n;
}

int
ydoc_want_map(struct ydoc *y, const yaml_node_t *n, const char *path)
{
	if (n == NULL || n->type == YAML_MAPPING_NODE)
		return 1;
	ydoc_bad(y, n, path, "expected a mapping, got %s", diag_yaml_kind(n));
	return 0;
}

const char *
ydoc_want_str(struct ydoc *y, const yaml_node_t *n, const char *path,
    const char *what)
{
	const char *s;

	if ((s = ydoc_scalar(n)) == NULL) {
		ydoc_bad(y, n, path, "expected %s, got %s", what,
		    diag_yaml_kind(n));
		return NULL;
	}
	if (strlen(s) != n->data.scalar.length) {
		ydoc_bad(y, n, path, "value contains a NUL byte");
		return NULL;
	}
	return s;
}

int
ydoc_want_seq(struct ydoc *y, const yaml_node_t *n, const char *path,
    const char *what)
{
	if (n != NULL && n->type == YAML_SEQUENCE_NODE)
		return 1;
	ydoc_bad(y, n, path, "expected a sequence of %s, got %s", what,
	    diag_yaml_kind(n));
	return 0;
}

const char *
ydoc_item_str(struct ydoc *y, const yaml_node_t *seq, size_t i,
    const char *path, const char *what, yaml_node_t **at)
{
	char sub[YDOC_PATHLEN];
	yaml_node_t *n;

	n = ydoc_item(y, seq, i);
	if (at != NULL)
		*at = n;
	ydoc_pathf(sub, "%s[%zu]", path, i);
	return ydoc_want_str(y, n, sub, what);
}

yaml_node_t *
ydoc_require(struct ydoc *y, const yaml_node_t *map, const char *key,
    const char *path)
{
	char p[YDOC_PATHLEN];
	yaml_node_t *n;

	if ((n = ydoc_get(y, map, key)) == NULL) {
		ydoc_subpath(p, path, key);
		ydoc_bad(y, map, p, "missing required key '%s'", key);
	}
	return n;
}

const char *
ydoc_key_str(struct ydoc *y, const yaml_node_t *map, const char *key,
    const char *path, int required, yaml_node_t **at)
{
	char p[YDOC_PATHLEN];
	yaml_node_t *n;

	n = required ? ydoc_require(y, map, key, path) : ydoc_get(y, map, key);
	if (at != NULL)
		*at = n;
	if (n == NULL)
		return NULL;
	ydoc_subpath(p, path, key);
	return ydoc_want_str(y, n, p, "a string");
}

int
ydoc_key_int(struct ydoc *y, const yaml_node_t *map, const char *key,
    const char *path, long lo, long hi, int *val)
{
	char p[YDOC_PATHLEN], *end;
	yaml_node_t *n;
	const char *s;
	long v;

	if ((s = ydoc_key_str(y, map, key, path, 0, &n)) == NULL)
		return n != NULL ? -1 : 0;
	ydoc_subpath(p, path, key);
	errno = 0;
	v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0) {
		ydoc_bad(y, n, p, "expected an integer, got '%s'", s);
		return -1;
	}
	if (v < lo || v > hi) {
		ydoc_bad(y, n, p, "must be between %ld and %ld, got %ld", lo,
		    hi, v);
		return -1;
	}
	*val = (int)v;
	return 0;
}

/* ---- directories --------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_yaml_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n >= 6 && strcmp(name + n - 5, ".yaml") == 0;
}

int
ydoc_dir_files(const char *dir, int regular_only, char ***names, size_t *n)
{
	struct dirent *de;
	struct stat st;
	DIR *dp;
	char **nv, *full = NULL;
	int r = KORCH_ERR_ALLOC;

	*names = NULL;
	*n = 0;
	if ((dp = opendir(dir)) == NULL)
		return KORCH_ERR_SYSTEM;
	while ((de = readdir(dp)) != NULL) {
		if (!is_yaml_name(de->d_name))
			continue;
		if (regular_only) {
			free(full);
			if (asprintf(&full, "%s/%s", dir, de->d_name) < 0) {
				full = NULL;
				goto out;
			}
			if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
		}
		if ((nv = reallocarray(*names, *n + 1, sizeof(*nv))) == NULL)
			goto out;
		*names = nv;
		if ((nv[*n] = strdup(de->d_name)) == NULL)
			goto out;
		(*n)++;
	}
	/* No names leaves *names NULL, which qsort may not get. */
	if (*n > 0)
		qsort(*names, *n, sizeof(**names), cmp_str);
	r = 0;
 out:
	free(full);
	closedir(dp);
	if (r != 0) {
		while (*n > 0)
			free((*names)[--*n]);
		free(*names);
		*names = NULL;
	}
	return r;
}
