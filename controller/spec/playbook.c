/*
 * playbook.c - see playbook.h.
 *
 * Two passes: each file is walked once while its YAML document is open
 * (shape, modules, arguments, templates), then the whole set is checked
 * for what needs every step at once: duplicate names, needs, cycles and
 * watch targets.  Positions for the second pass are kept in the structs.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "err.h"
#include "modspec.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "engine/template.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "fdio.h"

#define PATHLEN	256

struct loader {
	const char	*dir;
	struct diag	*d;
	struct playbook	*pb;
	const char	*file;		/* the file being walked */
	yaml_document_t	*doc;
	int		 nbad;
	int		 oom;
};

static const char *const step_keys[] = { "name", "hosts", "needs", "tasks",
	"verify", "any_errors_fatal", NULL };

static void bad_at(struct loader *, const char *, unsigned, unsigned,
    const char *, const char *, ...) __attribute__((format(printf, 6, 7)));
static void bad(struct loader *, const yaml_node_t *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));
static void pathf(char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
bad_at(struct loader *ld, const char *file, unsigned line, unsigned col,
    const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(ld->d, file, line, col, path, "%s", msg);
	ld->nbad++;
}

static void
bad(struct loader *ld, const yaml_node_t *n, const char *path,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_node(ld->d, ld->file, n, path, "%s", msg);
	ld->nbad++;
}

/* Field paths are for messages: a very long one is cut, never overrun. */
static void
pathf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATHLEN, fmt, ap);
	va_end(ap);
}

static char *
xdup(struct loader *ld, const char *s)
{
	char *c;

	if ((c = strdup(s)) == NULL)
		ld->oom = 1;
	return c;
}

static yaml_node_t *
node(struct loader *ld, yaml_node_item_t id)
{
	return yaml_document_get_node(ld->doc, id);
}

static unsigned
line_of(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

static unsigned
col_of(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.column + 1 : 0;
}

static const char *
scalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE || diag_yaml_is_null(n))
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* A non-empty scalar without NUL bytes, else reported and NULL. */
static const char *
want_scalar(struct loader *ld, const yaml_node_t *n, const char *path,
    const char *what)
{
	const char *s;

	if ((s = scalar(n)) == NULL) {
		bad(ld, n, path, "expected %s, got %s", what,
		    diag_yaml_kind(n));
		return NULL;
	}
	if (strlen(s) != n->data.scalar.length) {
		bad(ld, n, path, "value contains a NUL byte");
		return NULL;
	}
	return s;
}

static size_t
seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
}

/* Names: steps, tasks. */
static int
name_valid(const char *s)
{
	return inventory_role_valid(s);
}

/* ---- files ---------------------------------------------------------------- */

/* Read a whole (template) file, at most TEMPLATE_MAX_OUT bytes. */
static int
read_file(const char *path, char **text, size_t *len)
{
	int fd, r;

	*text = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return KORCH_ERR_SYSTEM;
	r = kp_read_fd(fd, TEMPLATE_MAX_OUT, text, len);
	close(fd);
	return r == KORCH_ERR_INVALID_ARG ? KORCH_ERR_SYSTEM : r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted *.yaml names in dir (regular files, no dot files). */
static int
list_files(struct loader *ld)
{
	struct playbook *pb = ld->pb;
	struct dirent *de;
	struct stat st;
	DIR *dp = NULL;
	char **nv, *full = NULL;
	size_t n;
	int r = KORCH_ERR_PARSE;

	if ((dp = opendir(ld->dir)) == NULL) {
		bad_at(ld, ld->dir, 0, 0, NULL, "cannot open playbook "
		    "directory: %s", strerror(errno));
		goto out;
	}
	while ((de = readdir(dp)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 ||
		    strcmp(de->d_name + n - 5, ".yaml") != 0)
			continue;
		free(full);
		if (asprintf(&full, "%s/%s", ld->dir, de->d_name) < 0) {
			full = NULL;
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((nv = reallocarray(pb->files, pb->nfiles + 1,
		    sizeof(*nv))) == NULL) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		pb->files = nv;
		pb->files[pb->nfiles++] = full;
		full = NULL;
	}
	if (pb->nfiles == 0) {
		bad_at(ld, ld->dir, 0, 0, NULL, "no *.yaml step files in the "
		    "playbook directory");
		goto out;
	}
	/* Full paths share the dir prefix, so this sorts by file name. */
	qsort(pb->files, pb->nfiles, sizeof(*pb->files), cmp_str);
	r = 0;
 out:
	free(full);
	if (dp != NULL)
		closedir(dp);
	return r;
}

/* ---- tasks ---------------------------------------------------------------- */

/* "var == value" / "var != value"; value may be quoted. */
static void
parse_cond(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_when *w)
{
	const char *s, *p, *op, *v, *e;
	size_t vlen;

	if ((s = want_scalar(ld, n, path, "a condition like 'var == value'"))
	    == NULL)
		return;
	p = s + strspn(s, " \t");
	op = p + strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.");
	if (op == p)
		goto syntax;
	v = op + strspn(op, " \t");
	if (strncmp(v, "==", 2) != 0 && strncmp(v, "!=", 2) != 0)
		goto syntax;
	w->neg = v[0] == '!';
	v += 2;
	v += strspn(v, " \t");
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	vlen = (size_t)(e - v);
	if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && e[-1] == v[0]) {
		v++;
		vlen -= 2;
	} else if (vlen == 0 || strpbrk(v, "\"'") != NULL)
		goto syntax;
	if ((w->var = strndup(p, (size_t)(op - p))) == NULL ||
	    (w->val = strndup(v, vlen)) == NULL) {
		free(w->var);
		w->var = NULL;
		ld->oom = 1;
	}
	return;
 syntax:
	bad(ld, n, path, "expected a condition like 'var == value' or "
	    "'var != value', got '%s'", s);
}

/* One condition, or a list of them that must all hold. */
static void
parse_when(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_task *t)
{
	yaml_node_item_t *it;
	char sub[PATHLEN];
	size_t cnt = 1, i = 0;

	if (n->type == YAML_SEQUENCE_NODE)
		cnt = (size_t)(n->data.sequence.items.top -
		    n->data.sequence.items.start);
	if ((t->when = calloc(cnt + 1, sizeof(*t->when))) == NULL) {
		ld->oom = 1;
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		parse_cond(ld, n, path, &t->when[0]);
		t->nwhen = t->when[0].var != NULL;
		return;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		pathf(sub, "%s[%zu]", path, i);
		parse_cond(ld, yaml_document_get_node(ld->doc, *it), sub,
		    &t->when[t->nwhen]);
		if (t->when[t->nwhen].var != NULL)
			t->nwhen++;
	}
}

/* A template file named in the playbook: relative, inside templates/. */
static void
load_template(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_task *t, const char *arg)
{
	struct tmpl_src src;
	const char *s;
	int r;

	if ((s = want_scalar(ld, n, path, "a template file name")) == NULL)
		return;
	if (s[0] == '/' || strcmp(s, "..") == 0 || strncmp(s, "../", 3) == 0 ||
	    strstr(s, "/../") != NULL ||
	    (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0)) {
		bad(ld, n, path, "template '%s' must be a relative path inside "
		    "%s/templates", s, ld->dir);
		return;
	}
	if ((t->tmpl_arg = xdup(ld, arg)) == NULL ||
	    (t->tmpl_file = xdup(ld, s)) == NULL)
		return;
	if (asprintf(&t->tmpl_path, "%s/templates/%s", ld->dir, s) < 0) {
		t->tmpl_path = NULL;
		ld->oom = 1;
		return;
	}
	r = read_file(t->tmpl_path, &t->tmpl_text, &t->tmpl_len);
	if (r == KORCH_ERR_ALLOC) {
		ld->oom = 1;
		return;
	}
	if (r == KORCH_ERR_TOO_LARGE) {
		bad(ld, n, path, "template file '%s' is larger than %u bytes",
		    t->tmpl_path, TEMPLATE_MAX_OUT);
		return;
	}
	if (r != 0) {
		bad(ld, n, path, "template file '%s' cannot be read: %s",
		    t->tmpl_path, strerror(errno));
		return;
	}
	memset(&src, 0, sizeof(src));
	src.file = t->tmpl_path;
	if (template_check(&src, t->tmpl_text, t->tmpl_len, ld->d) != 0)
		ld->nbad++;
}

/* foreach: { list: VAR, fields: PREFIX } */
static void
parse_foreach(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_task *t)
{
	static const char *const keys[] = { "list", "fields", NULL };
	const char *list, *fields;

	if (n->type != YAML_MAPPING_NODE) {
		bad(ld, n, path, "expected { list: VARIABLE, fields: PREFIX }");
		return;
	}
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, n, path,
	    keys);
	list = scalar(diag_yaml_get(ld->doc, n, "list"));
	fields = scalar(diag_yaml_get(ld->doc, n, "fields"));
	if (list == NULL || fields == NULL ||
	    !vars_name_valid(list, strlen(list)) ||
	    !vars_name_valid(fields, strlen(fields))) {
		bad(ld, n, path, "foreach needs list: and fields:, each a "
		    "variable name");
		return;
	}
	if ((t->foreach_list = xdup(ld, list)) == NULL ||
	    (t->foreach_fields = xdup(ld, fields)) == NULL)
		return;
}

static void
load_watch(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_task *t)
{
	yaml_node_item_t *item;
	yaml_node_t *it;
	char sub[PATHLEN];
	const char *s;
	size_t i;

	if (n->type != YAML_SEQUENCE_NODE) {
		bad(ld, n, path, "expected a sequence of task names, got %s",
		    diag_yaml_kind(n));
		return;
	}
	if ((t->watch = calloc(seq_len(n) + 1, sizeof(*t->watch))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (item = n->data.sequence.items.start, i = 0;
	    item < n->data.sequence.items.top; item++, i++) {
		it = node(ld, *item);
		pathf(sub, "%s[%zu]", path, i);
		if ((s = want_scalar(ld, it, sub, "a task name")) == NULL)
			continue;
		if ((t->watch[t->nwatch].name = xdup(ld, s)) == NULL)
			return;
		t->watch[t->nwatch].line = line_of(it);
		t->watch[t->nwatch].col = col_of(it);
		t->nwatch++;
	}
}

/* One module argument: a scalar, or a sequence of scalars if REPEAT. */
static void
load_arg(struct loader *ld, const struct kms_arg *spec, const yaml_node_t *v,
    const char *path, struct pb_task *t)
{
	struct pb_arg *a = &t->args[t->nargs];
	struct tmpl_src src;
	yaml_node_item_t *item;
	yaml_node_t *it;
	char sub[PATHLEN];
	const char *s;
	size_t i, cnt;

	cnt = v->type == YAML_SEQUENCE_NODE ? seq_len(v) : 1;
	if (v->type == YAML_MAPPING_NODE) {
		bad(ld, v, path, "expected a scalar%s, got a mapping",
		    spec->flags & KMS_REPEAT ? " or a sequence" : "");
		return;
	}
	if (v->type == YAML_SEQUENCE_NODE && !(spec->flags & KMS_REPEAT)) {
		bad(ld, v, path, "argument '%s' takes one value, not a list",
		    spec->name);
		return;
	}
	if (cnt == 0) {
		bad(ld, v, path, "argument '%s' has an empty list", spec->name);
		return;
	}
	if ((a->vals = calloc(cnt, sizeof(*a->vals))) == NULL ||
	    (a->name = xdup(ld, spec->name)) == NULL) {
		ld->oom = 1;
		return;
	}
	a->list = v->type == YAML_SEQUENCE_NODE;
	t->nargs++;
	for (i = 0; i < cnt; i++) {
		if (v->type == YAML_SEQUENCE_NODE) {
			item = v->data.sequence.items.start + i;
			it = node(ld, *item);
			pathf(sub, "%s[%zu]", path, i);
		} else {
			it = (yaml_node_t *)v;
			pathf(sub, "%s", path);
		}
		if (it != NULL && it->type == YAML_SCALAR_NODE &&
		    diag_yaml_is_null(it)) {
			bad(ld, it, sub, "empty value (write \"\" for an empty "
			    "string)");
			continue;
		}
		if ((s = want_scalar(ld, it, sub, "a scalar")) == NULL)
			continue;
		memset(&src, 0, sizeof(src));
		src.file = ld->file;
		src.line = line_of(it);
		src.col = col_of(it);
		src.path = sub;
		if (template_check(&src, s, strlen(s), ld->d) != 0)
			ld->nbad++;
		if ((a->vals[a->nvals].text = xdup(ld, s)) == NULL)
			return;
		a->vals[a->nvals].line = line_of(it);
		a->vals[a->nvals].col = col_of(it);
		a->nvals++;
	}
}

static void
load_module(struct loader *ld, const yaml_node_t *map, const char *path,
    struct pb_task *t)
{
	const struct kms_module *m = t->mod;
	const struct kms_arg *spec;
	const char *cands[32], *key, *hint;
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	char sub[PATHLEN];
	size_t n = 0, cnt;
	int is_file = strcmp(m->name, "file") == 0;
	int is_service = strcmp(m->name, "service") == 0;

	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		bad(ld, map, path, "expected a mapping of arguments, got %s",
		    diag_yaml_kind(map));
		return;
	}
	for (spec = m->args; spec->name != NULL && n < 28; spec++)
		cands[n++] = spec->name;
	if (is_file)
		cands[n++] = "template";
	if (is_service) {
		cands[n++] = "unit_template";
		cands[n++] = "watch";
	}
	cands[n] = NULL;
	/* Duplicates and non-scalar keys; unknown ones are reported below
	 * with a module-specific message. */
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map, path,
	    NULL);
	cnt = (size_t)(map->data.mapping.pairs.top -
	    map->data.mapping.pairs.start);
	if ((t->args = calloc(cnt + 1, sizeof(*t->args))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = node(ld, p->key);
		v = node(ld, p->value);
		if ((key = scalar(k)) == NULL || v == NULL)
			continue;
		pathf(sub, "%s.%s", path, key);
		if (is_file && strcmp(key, "template") == 0) {
			load_template(ld, v, sub, t, "content");
			continue;
		}
		if (is_service && strcmp(key, "unit_template") == 0) {
			load_template(ld, v, sub, t, "unit");
			continue;
		}
		if (is_service && strcmp(key, "watch") == 0) {
			load_watch(ld, v, sub, t);
			continue;
		}
		if ((spec = kms_find_arg(m, key)) == NULL) {
			if (strcmp(key, "watch") == 0 ||
			    strcmp(key, "template") == 0 ||
			    strcmp(key, "unit_template") == 0)
				bad(ld, k, sub, "'%s' is not available for "
				    "module '%s'", key, m->name);
			else if ((hint = diag_suggest(key, cands)) != NULL)
				bad(ld, k, sub, "unknown argument '%s' for "
				    "module '%s' (did you mean '%s'?)", key,
				    m->name, hint);
			else
				bad(ld, k, sub, "unknown argument '%s' for "
				    "module '%s'", key, m->name);
			continue;
		}
		load_arg(ld, spec, v, sub, t);
	}
	for (spec = m->args; spec->name != NULL; spec++) {
		if (!(spec->flags & KMS_REQUIRED) ||
		    diag_yaml_get(ld->doc, map, spec->name) != NULL)
			continue;
		bad(ld, map, path, "missing required argument '%s' for module "
		    "'%s'", spec->name, m->name);
	}
	if (t->tmpl_arg != NULL &&
	    diag_yaml_get(ld->doc, map, t->tmpl_arg) != NULL)
		bad(ld, diag_yaml_get(ld->doc, map, t->tmpl_arg), path,
		    "give '%s' or '%s', not both", t->tmpl_arg,
		    is_file ? "template" : "unit_template");
}

static void
load_task(struct loader *ld, const yaml_node_t *map, const char *path,
    struct pb_step *st, int verify)
{
	struct pb_task *t = &st->tasks[st->ntasks];
	const struct kms_module *m, *all;
	const char *cands[32], *key, *hint, *s;
	yaml_node_pair_t *p;
	yaml_node_t *k, *modkey = NULL, *modval = NULL, *n;
	char sub[PATHLEN];
	size_t nc = 0;
	int nmods = 0, nunknown = 0;

	st->ntasks++;
	t->verify = verify;
	t->file = st->file;
	t->line = line_of(map);
	t->col = col_of(map);
	if ((t->path = xdup(ld, path)) == NULL)
		return;
	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		bad(ld, map, path, "expected a task (a mapping with one module "
		    "key), got %s", diag_yaml_kind(map));
		return;
	}
	cands[nc++] = "name";
	cands[nc++] = "when";
	cands[nc++] = "foreach";
	for (all = kms_all(); all->name != NULL && nc < 31; all++)
		cands[nc++] = all->name;
	cands[nc] = NULL;
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map, path,
	    NULL);
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = node(ld, p->key);
		if ((key = scalar(k)) == NULL)
			continue;
		pathf(sub, "%s.%s", path, key);
		if (strcmp(key, "name") == 0 || strcmp(key, "when") == 0 ||
		    strcmp(key, "foreach") == 0)
			continue;
		if ((m = kms_find(key)) == NULL) {
			if ((hint = diag_suggest(key, cands)) != NULL)
				bad(ld, k, sub, "unknown module '%s' (did you "
				    "mean '%s'?)", key, hint);
			else
				bad(ld, k, sub, "unknown module '%s'", key);
			nunknown++;
			continue;
		}
		if (++nmods > 1) {
			bad(ld, k, sub, "a task has exactly one module; this "
			    "one also has '%s'", t->mod->name);
			continue;
		}
		t->mod = m;
		modkey = k;
		modval = node(ld, p->value);
	}
	if ((n = diag_yaml_get(ld->doc, map, "name")) != NULL) {
		pathf(sub, "%s.name", path);
		if ((s = want_scalar(ld, n, sub, "a task name")) != NULL) {
			if (!name_valid(s))
				bad(ld, n, sub, "invalid task name '%s' "
				    "([a-z0-9_-]+)", s);
			else
				t->name = xdup(ld, s);
		}
	}
	if ((n = diag_yaml_get(ld->doc, map, "when")) != NULL) {
		pathf(sub, "%s.when", path);
		parse_when(ld, n, sub, t);
	}
	if ((n = diag_yaml_get(ld->doc, map, "foreach")) != NULL) {
		pathf(sub, "%s.foreach", path);
		parse_foreach(ld, n, sub, t);
	}
	if (t->mod == NULL) {
		/* An unknown module key was reported already. */
		if (nunknown == 0)
			bad(ld, map, path, "task has no module (one of: file, "
			    "directory, absent, envfile, sysctl, service, "
			    "command, probe)");
		return;
	}
	if (verify && strcmp(t->mod->name, "probe") != 0) {
		pathf(sub, "%s.%s", path, t->mod->name);
		bad(ld, modkey, sub, "verify entries must be probe tasks, not "
		    "'%s'", t->mod->name);
	}
	pathf(sub, "%s.%s", path, t->mod->name);
	load_module(ld, modval, sub, t);
}

static void
load_task_list(struct loader *ld, const yaml_node_t *seq, const char *path,
    struct pb_step *st, int verify)
{
	yaml_node_item_t *item;
	char sub[PATHLEN];
	size_t i;

	if (seq->type != YAML_SEQUENCE_NODE) {
		bad(ld, seq, path, "expected a sequence of tasks, got %s",
		    diag_yaml_kind(seq));
		return;
	}
	for (item = seq->data.sequence.items.start, i = 0;
	    item < seq->data.sequence.items.top; item++, i++) {
		pathf(sub, "%s[%zu]", path, i);
		load_task(ld, node(ld, *item), sub, st, verify);
	}
}

/* ---- steps ---------------------------------------------------------------- */

static void
load_hosts_sel(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_step *st)
{
	yaml_node_item_t *item;
	yaml_node_t *it;
	char sub[PATHLEN];
	const char *s;
	size_t i;

	if (n == NULL) {
		bad(ld, NULL, path, "missing");
		return;
	}
	if ((s = scalar(n)) != NULL && strcmp(s, "all") == 0) {
		st->all = 1;
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE || seq_len(n) == 0) {
		bad(ld, n, path, "expected 'all' or a non-empty sequence of "
		    "roles, got %s", diag_yaml_kind(n));
		return;
	}
	if ((st->roles = calloc(seq_len(n), sizeof(*st->roles))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (item = n->data.sequence.items.start, i = 0;
	    item < n->data.sequence.items.top; item++, i++) {
		it = node(ld, *item);
		pathf(sub, "%s[%zu]", path, i);
		if ((s = want_scalar(ld, it, sub, "a role name")) == NULL)
			continue;
		if (strcmp(s, "all") == 0) {
			st->all = 1;
			continue;
		}
		if (!inventory_role_valid(s)) {
			bad(ld, it, sub, "invalid role '%s' ([a-z0-9_-]+)", s);
			continue;
		}
		if ((st->roles[st->nroles] = xdup(ld, s)) == NULL)
			return;
		st->nroles++;
	}
}

static void
load_needs(struct loader *ld, const yaml_node_t *n, const char *path,
    struct pb_step *st)
{
	yaml_node_item_t *item;
	yaml_node_t *it;
	char sub[PATHLEN];
	const char *s;
	size_t i;

	if (n->type != YAML_SEQUENCE_NODE) {
		bad(ld, n, path, "expected a sequence of step names, got %s",
		    diag_yaml_kind(n));
		return;
	}
	if ((st->needs = calloc(seq_len(n) + 1, sizeof(*st->needs))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (item = n->data.sequence.items.start, i = 0;
	    item < n->data.sequence.items.top; item++, i++) {
		it = node(ld, *item);
		pathf(sub, "%s[%zu]", path, i);
		if ((s = want_scalar(ld, it, sub, "a step name")) == NULL)
			continue;
		if ((st->needs[st->nneeds].name = xdup(ld, s)) == NULL)
			return;
		st->needs[st->nneeds].line = line_of(it);
		st->needs[st->nneeds].col = col_of(it);
		st->nneeds++;
	}
}

static void
load_step(struct loader *ld, const yaml_node_t *map, size_t i,
    struct pb_step *st)
{
	yaml_node_t *n, *tasks, *verify;
	char path[PATHLEN], sub[PATHLEN];
	const char *s;
	size_t cnt = 0, j, k;

	pathf(path, "steps[%zu]", i);
	st->line = line_of(map);
	st->col = col_of(map);
	if ((st->path = xdup(ld, path)) == NULL)
		return;
	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		bad(ld, map, path, "expected a step (a mapping), got %s",
		    diag_yaml_kind(map));
		return;
	}
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map, path,
	    step_keys);
	pathf(sub, "%s.name", path);
	if ((n = diag_yaml_get(ld->doc, map, "name")) == NULL)
		bad(ld, map, sub, "missing required key 'name'");
	else if ((s = want_scalar(ld, n, sub, "a step name")) != NULL) {
		if (!name_valid(s))
			bad(ld, n, sub, "invalid step name '%s' "
			    "([a-z0-9_-]+)", s);
		else {
			st->name = xdup(ld, s);
			st->line = line_of(n);
			st->col = col_of(n);
		}
	}
	pathf(sub, "%s.hosts", path);
	n = diag_yaml_get(ld->doc, map, "hosts");
	if (n == NULL)
		bad(ld, map, sub, "missing required key 'hosts' (a list of "
		    "roles, or all)");
	else
		load_hosts_sel(ld, n, sub, st);
	pathf(sub, "%s.needs", path);
	if ((n = diag_yaml_get(ld->doc, map, "needs")) != NULL)
		load_needs(ld, n, sub, st);
	pathf(sub, "%s.any_errors_fatal", path);
	if ((n = diag_yaml_get(ld->doc, map, "any_errors_fatal")) != NULL &&
	    (s = want_scalar(ld, n, sub, "true or false")) != NULL) {
		if (strcmp(s, "true") == 0)
			st->any_errors_fatal = 1;
		else if (strcmp(s, "false") != 0)
			bad(ld, n, sub, "expected true or false, not '%s'", s);
	}

	tasks = diag_yaml_get(ld->doc, map, "tasks");
	verify = diag_yaml_get(ld->doc, map, "verify");
	if (tasks != NULL && tasks->type == YAML_SEQUENCE_NODE)
		cnt += seq_len(tasks);
	if (verify != NULL && verify->type == YAML_SEQUENCE_NODE)
		cnt += seq_len(verify);
	if (cnt == 0 && (tasks == NULL || tasks->type == YAML_SEQUENCE_NODE) &&
	    (verify == NULL || verify->type == YAML_SEQUENCE_NODE)) {
		bad(ld, map, path, "a step needs at least one task or verify "
		    "probe");
		return;
	}
	if ((st->tasks = calloc(cnt + 1, sizeof(*st->tasks))) == NULL) {
		ld->oom = 1;
		return;
	}
	pathf(sub, "%s.tasks", path);
	if (tasks != NULL)
		load_task_list(ld, tasks, sub, st, 0);
	pathf(sub, "%s.verify", path);
	if (verify != NULL)
		load_task_list(ld, verify, sub, st, 1);

	/* Task names are unique in a step; keys name unnamed tasks by
	 * their 1-based position. */
	for (j = 0; j < st->ntasks; j++) {
		struct pb_task *t = &st->tasks[j];

		for (k = 0; t->name != NULL && k < j; k++) {
			if (st->tasks[k].name != NULL &&
			    strcmp(st->tasks[k].name, t->name) == 0) {
				pathf(sub, "%s.name", t->path);
				bad_at(ld, ld->file, t->line, t->col, sub,
				    "duplicate task name '%s' in step (first "
				    "at line %u)", t->name, st->tasks[k].line);
				break;
			}
		}
		if (st->name == NULL)
			continue;
		if (t->name != NULL) {
			if (asprintf(&t->key, "%s/%s", st->name, t->name) < 0)
				t->key = NULL;
		} else if (asprintf(&t->key, "%s/%zu", st->name, j + 1) < 0)
			t->key = NULL;
		if (t->key == NULL)
			ld->oom = 1;
	}
}

static int
load_file(struct loader *ld, const char *file)
{
	struct playbook *pb = ld->pb;
	yaml_document_t doc;
	yaml_node_t *root, *seq;
	yaml_node_item_t *item;
	struct pb_step *nv;
	size_t i, cnt;
	int r;
	static const char *const file_keys[] = { "steps", NULL };

	ld->file = file;
	ld->doc = &doc;
	if ((r = diag_yaml_load(file, &doc, ld->d)) != 0) {
		if (r == KORCH_ERR_ALLOC)
			return r;
		ld->nbad++;
		return 0;
	}
	root = yaml_document_get_root_node(&doc);
	seq = root;
	if (root->type == YAML_MAPPING_NODE) {
		ld->nbad += diag_yaml_check_keys(ld->d, file, &doc, root, "",
		    file_keys);
		if ((seq = diag_yaml_get(&doc, root, "steps")) == NULL) {
			bad(ld, root, "steps", "missing required key 'steps'");
			goto out;
		}
	}
	if (seq->type != YAML_SEQUENCE_NODE) {
		bad(ld, seq, seq == root ? "" : "steps", "expected a sequence "
		    "of steps (or a mapping with steps:), got %s",
		    diag_yaml_kind(seq));
		goto out;
	}
	cnt = seq_len(seq);
	if (cnt == 0)
		goto out;
	if ((nv = reallocarray(pb->steps, pb->nsteps + cnt,
	    sizeof(*nv))) == NULL) {
		ld->oom = 1;
		goto out;
	}
	pb->steps = nv;
	memset(pb->steps + pb->nsteps, 0, cnt * sizeof(*nv));
	for (item = seq->data.sequence.items.start, i = 0;
	    item < seq->data.sequence.items.top; item++, i++) {
		pb->steps[pb->nsteps].file = file;
		pb->nsteps++;
		load_step(ld, node(ld, *item), i, &pb->steps[pb->nsteps - 1]);
	}
 out:
	yaml_document_delete(&doc);
	ld->doc = NULL;
	return ld->oom ? KORCH_ERR_ALLOC : 0;
}

/* ---- the whole set -------------------------------------------------------- */

long
playbook_find_step(const struct playbook *pb, const char *name)
{
	size_t i;

	if (pb == NULL || name == NULL)
		return -1;
	for (i = 0; i < pb->nsteps; i++)
		if (pb->steps[i].name != NULL &&
		    strcmp(pb->steps[i].name, name) == 0)
			return (long)i;
	return -1;
}

long
playbook_find_task(const struct pb_step *s, const char *name)
{
	size_t i;

	if (s == NULL || name == NULL)
		return -1;
	for (i = 0; i < s->ntasks; i++)
		if (s->tasks[i].name != NULL &&
		    strcmp(s->tasks[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Step names as a NULL-terminated list, for suggestions. */
static const char **
step_names(struct loader *ld)
{
	const struct playbook *pb = ld->pb;
	const char **v;
	size_t i, n = 0;

	if ((v = calloc(pb->nsteps + 1, sizeof(*v))) == NULL) {
		ld->oom = 1;
		return NULL;
	}
	for (i = 0; i < pb->nsteps; i++)
		if (pb->steps[i].name != NULL)
			v[n++] = pb->steps[i].name;
	return v;
}

static void
check_names_and_needs(struct loader *ld)
{
	struct playbook *pb = ld->pb;
	const char **names, *hint;
	char sub[PATHLEN];
	size_t i, j;
	long idx;

	if ((names = step_names(ld)) == NULL)
		return;
	for (i = 0; i < pb->nsteps; i++) {
		struct pb_step *s = &pb->steps[i];

		if (s->name == NULL)
			continue;
		idx = playbook_find_step(pb, s->name);
		if (idx >= 0 && (size_t)idx < i) {
			pathf(sub, "%s.name", s->path);
			bad_at(ld, s->file, s->line, s->col, sub, "duplicate "
			    "step name '%s' (first at %s:%u)", s->name,
			    pb->steps[idx].file, pb->steps[idx].line);
		}
		for (j = 0; j < s->nneeds; j++) {
			struct pb_need *nd = &s->needs[j];

			pathf(sub, "%s.needs[%zu]", s->path, j);
			if ((idx = playbook_find_step(pb, nd->name)) >= 0) {
				nd->step = (size_t)idx;
				continue;
			}
			nd->step = SIZE_MAX;
			hint = diag_suggest(nd->name, names);
			bad_at(ld, s->file, nd->line, nd->col, sub, "unknown "
			    "step '%s'%s%s%s", nd->name,
			    hint ? " (did you mean '" : "", hint ? hint : "",
			    hint ? "'?)" : "");
		}
	}
	free(names);
}

/*
 * Depth-first search for cycles; color 1 = on the stack.  Each back edge
 * is one cycle, reported once at the needs entry that closes it.
 */
static void
find_cycles(struct loader *ld, size_t s, unsigned char *color,
    size_t *stack, size_t depth)
{
	struct playbook *pb = ld->pb;
	struct pb_step *st = &pb->steps[s];
	char text[1024], sub[PATHLEN];
	size_t j, k, t, off;

	color[s] = 1;
	stack[depth] = s;
	for (j = 0; j < st->nneeds; j++) {
		t = st->needs[j].step;
		if (t == SIZE_MAX)
			continue;
		if (color[t] == 0) {
			find_cycles(ld, t, color, stack, depth + 1);
			continue;
		}
		if (color[t] != 1)
			continue;
		for (k = 0; stack[k] != t; k++)
			;
		off = 0;
		text[0] = '\0';
		for (; k <= depth && off < sizeof(text); k++)
			off += (size_t)snprintf(text + off, sizeof(text) - off,
			    "%s -> ", pb->steps[stack[k]].name);
		if (off < sizeof(text))
			snprintf(text + off, sizeof(text) - off, "%s",
			    pb->steps[t].name);
		pathf(sub, "%s.needs[%zu]", st->path, j);
		bad_at(ld, st->file, st->needs[j].line, st->needs[j].col, sub,
		    "dependency cycle: %s", text);
	}
	color[s] = 2;
}

static void
check_cycles(struct loader *ld)
{
	struct playbook *pb = ld->pb;
	unsigned char *color = NULL;
	size_t *stack = NULL, i;

	if ((color = calloc(pb->nsteps + 1, 1)) == NULL ||
	    (stack = calloc(pb->nsteps + 1, sizeof(*stack))) == NULL) {
		ld->oom = 1;
		goto out;
	}
	for (i = 0; i < pb->nsteps; i++)
		if (color[i] == 0 && pb->steps[i].name != NULL)
			find_cycles(ld, i, color, stack, 0);
 out:
	free(color);
	free(stack);
}

/* 1 when step from needs step to, directly or not. */
static int
needs_step(const struct playbook *pb, size_t from, size_t to,
    unsigned char *seen)
{
	const struct pb_step *s = &pb->steps[from];
	size_t j, t;

	if (seen[from])
		return 0;
	seen[from] = 1;
	for (j = 0; j < s->nneeds; j++) {
		t = s->needs[j].step;
		if (t == SIZE_MAX)
			continue;
		if (t == to || needs_step(pb, t, to, seen))
			return 1;
	}
	return 0;
}

static void
resolve_watch(struct loader *ld, size_t si, size_t ti, struct pb_watch *w,
    unsigned char *seen)
{
	struct playbook *pb = ld->pb;
	struct pb_step *s = &pb->steps[si];
	struct pb_task *t = &s->tasks[ti];
	const char *slash, *tname;
	char sub[PATHLEN], *sname = NULL;
	long ws, wt;
	size_t i;

	pathf(sub, "%s.%s.watch[%zu]", t->path, t->mod ? t->mod->name : "?",
	    (size_t)(w - t->watch));
	if ((slash = strchr(w->name, '/')) != NULL) {
		if ((sname = strndup(w->name, (size_t)(slash - w->name))) ==
		    NULL) {
			ld->oom = 1;
			return;
		}
		tname = slash + 1;
		ws = playbook_find_step(pb, sname);
	} else {
		tname = w->name;
		ws = (long)si;
	}
	if (ws < 0) {
		bad_at(ld, s->file, w->line, w->col, sub, "watch target '%s': "
		    "unknown step '%s'", w->name, sname);
		goto out;
	}
	if ((wt = playbook_find_task(&pb->steps[ws], tname)) < 0) {
		bad_at(ld, s->file, w->line, w->col, sub, "watch target '%s': "
		    "step '%s' has no task named '%s'", w->name,
		    pb->steps[ws].name, tname);
		goto out;
	}
	if (pb->steps[ws].tasks[wt].foreach_list != NULL) {
		bad_at(ld, s->file, w->line, w->col, sub, "watch target '%s' "
		    "runs once per item (foreach): watch a single task",
		    w->name);
		goto out;
	}
	if ((size_t)ws == si && (size_t)wt >= ti) {
		bad_at(ld, s->file, w->line, w->col, sub, "watch target '%s' "
		    "must come before this task", w->name);
		goto out;
	}
	if ((size_t)ws != si) {
		for (i = 0; i < pb->nsteps; i++)
			seen[i] = 0;
		if (!needs_step(pb, si, (size_t)ws, seen)) {
			bad_at(ld, s->file, w->line, w->col, sub, "watch target "
			    "'%s' is in step '%s', which step '%s' does not "
			    "need (directly or through other steps)", w->name,
			    pb->steps[ws].name, s->name);
			goto out;
		}
	}
	w->step = (size_t)ws;
	w->task = (size_t)wt;
 out:
	free(sname);
}

static void
check_watches(struct loader *ld)
{
	struct playbook *pb = ld->pb;
	unsigned char *seen;
	size_t i, j, k;

	if ((seen = calloc(pb->nsteps + 1, 1)) == NULL) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < pb->nsteps; i++) {
		if (pb->steps[i].name == NULL)
			continue;
		for (j = 0; j < pb->steps[i].ntasks; j++)
			for (k = 0; k < pb->steps[i].tasks[j].nwatch; k++)
				resolve_watch(ld, i, j,
				    &pb->steps[i].tasks[j].watch[k], seen);
	}
	free(seen);
}

int
playbook_load(const char *dir, struct playbook **out, struct diag *d)
{
	struct loader ld;
	size_t i;
	int r = KORCH_ERR_ALLOC;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.dir = dir;
	ld.d = d;
	if ((ld.pb = calloc(1, sizeof(*ld.pb))) == NULL ||
	    (ld.pb->dir = strdup(dir)) == NULL)
		goto out;
	if ((r = list_files(&ld)) != 0)
		goto out;
	for (i = 0; i < ld.pb->nfiles; i++)
		if ((r = load_file(&ld, ld.pb->files[i])) != 0)
			goto out;
	if (ld.pb->nsteps == 0 && ld.nbad == 0)
		bad_at(&ld, dir, 0, 0, NULL, "the playbook has no steps");
	check_names_and_needs(&ld);
	check_cycles(&ld);
	check_watches(&ld);
	r = KORCH_ERR_ALLOC;
	if (ld.oom)
		goto out;
	r = KORCH_ERR_PARSE;
	if (ld.nbad > 0)
		goto out;
	*out = ld.pb;
	ld.pb = NULL;
	r = 0;
 out:
	playbook_free(ld.pb);
	return r;
}

static void
task_free(struct pb_task *t)
{
	size_t i, j;

	free(t->name);
	free(t->key);
	for (i = 0; i < t->nargs; i++) {
		free(t->args[i].name);
		for (j = 0; j < t->args[i].nvals; j++)
			free(t->args[i].vals[j].text);
		free(t->args[i].vals);
	}
	free(t->args);
	free(t->foreach_list);
	free(t->foreach_fields);
	free(t->tmpl_arg);
	free(t->tmpl_file);
	free(t->tmpl_path);
	free(t->tmpl_text);
	for (i = 0; i < t->nwatch; i++)
		free(t->watch[i].name);
	free(t->watch);
	for (i = 0; i < t->nwhen; i++) {
		free(t->when[i].var);
		free(t->when[i].val);
	}
	free(t->when);
	free(t->path);
}

void
playbook_free(struct playbook *pb)
{
	size_t i, j;

	if (pb == NULL)
		return;
	for (i = 0; i < pb->nsteps; i++) {
		struct pb_step *s = &pb->steps[i];

		free(s->name);
		for (j = 0; j < s->nroles; j++)
			free(s->roles[j]);
		free(s->roles);
		for (j = 0; j < s->nneeds; j++)
			free(s->needs[j].name);
		free(s->needs);
		for (j = 0; j < s->ntasks; j++)
			task_free(&s->tasks[j]);
		free(s->tasks);
		free(s->path);
	}
	free(pb->steps);
	for (i = 0; i < pb->nfiles; i++)
		free(pb->files[i]);
	free(pb->files);
	free(pb->dir);
	free(pb);
}
