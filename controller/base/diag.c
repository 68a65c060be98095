/*
 * diag.c - see diag.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/diag.h"
#include "base/grow.h"

/* A mistake repeated in a generated file should not eat all memory. */
#define DIAG_MAX_ENTRIES	10000

struct diag {
	struct diag_entry	*v;
	size_t			 n;
	size_t			 cap;
	size_t			 lost;	/* added but not stored (ENOMEM, cap) */
};

struct diag *
diag_new(void)
{
	return calloc(1, sizeof(struct diag));
}

void
diag_free(struct diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		free((char *)d->v[i].file);
		free((char *)d->v[i].path);
		free((char *)d->v[i].msg);
	}
	free(d->v);
	free(d);
}

static int diag_vadd(struct diag *, const char *, unsigned, unsigned,
    const char *, const char *, va_list) __attribute__((format(printf, 6, 0)));

static int
diag_vadd(struct diag *d, const char *file, unsigned line, unsigned col,
    const char *path, const char *fmt, va_list ap)
{
	struct diag_entry e, *nv;
	int r = KORCH_ERR_ALLOC, len;
	char *msg = NULL;

	memset(&e, 0, sizeof(e));
	if (d == NULL)
		return 0;
	if (d->n >= DIAG_MAX_ENTRIES) {
		r = KORCH_ERR_TOO_LARGE;
		goto out;
	}
	if ((len = vasprintf(&msg, fmt, ap)) < 0) {
		msg = NULL;
		goto out;
	}
	if ((e.file = strdup(file != NULL ? file : "")) == NULL ||
	    (e.path = strdup(path != NULL ? path : "")) == NULL)
		goto out;
	e.line = line;
	e.col = col;
	e.msg = msg;
	if ((nv = grow_room(d->v, d->n, &d->cap, sizeof(*nv), 16)) == NULL)
		goto out;
	d->v = nv;
	d->v[d->n++] = e;
	return 0;
 out:
	free((char *)e.file);
	free((char *)e.path);
	free(msg);
	d->lost++;
	return r;
}

int
diag_add(struct diag *d, const char *file, unsigned line, unsigned col,
    const char *path, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd(d, file, line, col, path, fmt, ap);
	va_end(ap);
	return r;
}

size_t
diag_count(const struct diag *d)
{
	return d == NULL ? 0 : d->n + d->lost;
}

const struct diag_entry *
diag_get(const struct diag *d, size_t i)
{
	if (d == NULL || i >= d->n)
		return NULL;
	return &d->v[i];
}

size_t
diag_format(const struct diag_entry *e, char *buf, size_t size)
{
	char pos[64] = "";
	int n;

	if (e->line > 0)
		snprintf(pos, sizeof(pos), "%u:%u:", e->line, e->col);
	n = snprintf(buf, size, "%s%s%s%s%s%s%s",
	    e->file, *e->file ? ":" : "", pos, *e->file || *pos ? " " : "",
	    e->path, *e->path ? ": " : "", e->msg);
	return n < 0 ? 0 : (size_t)n;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct diag_entry *x = *(const struct diag_entry *const *)a;
	const struct diag_entry *y = *(const struct diag_entry *const *)b;
	int c;

	if ((c = strcmp(x->file, y->file)) != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	/* qsort is not stable: the array order (order added) breaks ties. */
	return x < y ? -1 : x > y;
}

void
diag_print(const struct diag *d, FILE *fp)
{
	const struct diag_entry **order = NULL;
	char line[1024];
	size_t i;

	if (d == NULL)
		return;
	/* Sort pointers, not entries: diag_get() keeps the order added. */
	if (d->n > 0 &&
	    (order = calloc(d->n, sizeof(*order))) != NULL) {
		for (i = 0; i < d->n; i++)
			order[i] = &d->v[i];
		qsort(order, d->n, sizeof(*order), entry_cmp);
	}
	for (i = 0; i < d->n; i++) {
		diag_format(order != NULL ? order[i] : &d->v[i], line,
		    sizeof(line));
		fprintf(fp, "%s\n", line);
	}
	if (d->lost > 0)
		fprintf(fp, "(%zu more problems not shown)\n", d->lost);
	free(order);
}

/*
 * Edit distance counting a swap of neighbours as one edit (optimal string
 * alignment): "nmae" is one typo away from "name", not two.  Long words
 * are never "near misses".
 */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, cost, v;
	size_t rows[3][65], *pp, *prev, *cur, *tmp;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	pp = rows[0];
	prev = rows[1];
	cur = rows[2];
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] != b[j - 1];
			v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		tmp = pp;
		pp = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[lb];
}

const char *
diag_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, dist, limit;

	if (word == NULL || candidates == NULL)
		return NULL;
	/* One edit per three letters, at most two: "prot" -> "port" but not
	 * "foo" -> "bar". */
	limit = strlen(word) / 3;
	if (limit > 2)
		limit = 2;
	if (limit < 1)
		limit = 1;
	for (; *candidates != NULL; candidates++) {
		dist = edit_distance(word, *candidates);
		if (dist <= limit && dist < bestd) {
			bestd = dist;
			best = *candidates;
		}
	}
	return best;
}

/* ---- YAML documents ------------------------------------------------------ */

/*
 * libyaml's reader (bad UTF-8, a control character) knows only the byte
 * offset: the line and column are counted here, so the message points at
 * the value like every other.
 */
static void
reader_error(struct diag *d, const char *path, FILE *fp,
    const yaml_parser_t *p)
{
	unsigned line = 1, col = 1;
	size_t off;
	int c;

	rewind(fp);
	for (off = 0; off < p->problem_offset && (c = getc(fp)) != EOF;
	    off++) {
		if (c == '\n') {
			line++;
			col = 1;
		} else if ((c & 0xc0) != 0x80)
			col++;
	}
	if (p->problem_value != -1)
		diag_add(d, path, line, col, NULL, "not valid UTF-8 text: %s "
		    "(byte 0x%02x)", p->problem ? p->problem : "error",
		    (unsigned)p->problem_value & 0xffu);
	else
		diag_add(d, path, line, col, NULL, "not valid UTF-8 text: %s",
		    p->problem ? p->problem : "error");
}

int
diag_yaml_load(const char *path, yaml_document_t *doc, struct diag *d)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	FILE *fp = NULL;
	int r = KORCH_ERR_PARSE, have_parser = 0, have_doc = 0;

	memset(doc, 0, sizeof(*doc));
	if ((fp = fopen(path, "rb")) == NULL) {
		diag_add(d, path, 0, 0, NULL, "cannot open: %s",
		    strerror(errno));
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	have_parser = 1;
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, doc))
		goto syntax;
	have_doc = 1;
	if (yaml_document_get_root_node(doc) == NULL) {
		diag_add(d, path, 0, 0, NULL, "file is empty");
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra))
		goto syntax;
	if (yaml_document_get_root_node(&extra) != NULL) {
		diag_add(d, path, extra.start_mark.line + 1,
		    extra.start_mark.column + 1, NULL,
		    "more than one YAML document in the file");
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);
	r = 0;
	goto out;
 syntax:
	if (parser.error == YAML_MEMORY_ERROR) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (parser.error == YAML_READER_ERROR) {
		reader_error(d, path, fp, &parser);
		goto out;
	}
	if (parser.context != NULL)
		diag_add(d, path, parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1, NULL,
		    "YAML syntax error: %s %s (started at line %zu)",
		    parser.problem ? parser.problem : "error", parser.context,
		    parser.context_mark.line + 1);
	else
		diag_add(d, path, parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1, NULL,
		    "YAML syntax error: %s",
		    parser.problem ? parser.problem : "error");
 out:
	if (r != 0 && have_doc) {
		yaml_document_delete(doc);
		memset(doc, 0, sizeof(*doc));
	}
	if (have_parser)
		yaml_parser_delete(&parser);
	if (fp != NULL)
		fclose(fp);
	return r;
}

int
diag_node(struct diag *d, const char *file, const yaml_node_t *node,
    const char *path, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd(d, file, node ? node->start_mark.line + 1 : 0,
	    node ? node->start_mark.column + 1 : 0, path, fmt, ap);
	va_end(ap);
	return r;
}

int
diag_yaml_is_null(const yaml_node_t *node)
{
	const char *v;

	if (node == NULL || node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)node->data.scalar.value;
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

const char *
diag_yaml_kind(const yaml_node_t *node)
{
	if (node == NULL)
		return "nothing";
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		return diag_yaml_is_null(node) ? "an empty value" : "a scalar";
	default:
		return "nothing";
	}
}

int
diag_yaml_check_keys(struct diag *d, const char *file, yaml_document_t *doc,
    const yaml_node_t *map, const char *path, const char *const *allowed)
{
	yaml_node_pair_t *p, *q;
	yaml_node_t *k, *k2;
	const char *key, *hint;
	const char *const *a;
	char sub[512];
	int bad = 0, known;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return 0;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(doc, p->key);
		if (k == NULL || k->type != YAML_SCALAR_NODE) {
			diag_node(d, file, k, path, "a key must be a scalar");
			bad++;
			continue;
		}
		key = (const char *)k->data.scalar.value;
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
		    key);
		/* YAML forbids duplicate keys but libyaml does not check. */
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			k2 = yaml_document_get_node(doc, q->key);
			if (k2 != NULL && k2->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)k2->data.scalar.value,
			    key) == 0) {
				diag_node(d, file, k, sub,
				    "duplicate key (first at line %zu)",
				    k2->start_mark.line + 1);
				bad++;
				break;
			}
		}
		if (allowed == NULL)
			continue;
		known = 0;
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				known = 1;
		if (known)
			continue;
		if ((hint = diag_suggest(key, allowed)) != NULL)
			diag_node(d, file, k, sub,
			    "unknown key '%s' (did you mean '%s'?)", key, hint);
		else
			diag_node(d, file, k, sub, "unknown key '%s'", key);
		bad++;
	}
	return bad;
}

yaml_node_t *
diag_yaml_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(doc, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}
