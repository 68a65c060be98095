/*
 * playbook_task.c - one step's tasks and verify probes (see playbook.h):
 * the module key, its arguments as proto/modspec.h describes them, the
 * controller's extras (template, unit_template, watch), and when: and
 * foreach:.  Template files are read and syntax-checked here, while the
 * step's document is open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "err.h"
#include "fdio.h"
#include "modspec.h"
#include "base/diag.h"
#include "engine/template.h"
#include "engine/vars.h"
#include "spec/playbook.h"
#include "spec/playbook-int.h"
#include "spec/yaml_doc.h"

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

/* "var == value" / "var != value"; value may be quoted. */
static void
parse_cond(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct pb_when *w)
{
	const char *s, *p, *op, *v, *e;
	size_t vlen;

	if ((s = ydoc_want_str(y, n, path, "a condition like 'var == value'"))
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
		y->oom = 1;
	}
	return;
 syntax:
	ydoc_bad(y, n, path, "expected a condition like 'var == value' or "
	    "'var != value', got '%s'", s);
}

/* One condition, or a list of them that must all hold. */
static void
parse_when(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct pb_task *t)
{
	char sub[YDOC_PATHLEN];
	size_t cnt = 1, i;

	if (n->type == YAML_SEQUENCE_NODE)
		cnt = ydoc_count(n);
	if ((t->when = calloc(cnt + 1, sizeof(*t->when))) == NULL) {
		y->oom = 1;
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		parse_cond(y, n, path, &t->when[0]);
		t->nwhen = t->when[0].var != NULL;
		return;
	}
	for (i = 0; i < cnt; i++) {
		ydoc_pathf(sub, "%s[%zu]", path, i);
		parse_cond(y, ydoc_item(y, n, i), sub, &t->when[t->nwhen]);
		if (t->when[t->nwhen].var != NULL)
			t->nwhen++;
	}
}

/* A template file named in the playbook: relative, inside templates/. */
static void
load_template(struct pb_loader *ld, const yaml_node_t *n, const char *path,
    struct pb_task *t, const char *arg)
{
	struct ydoc *y = &ld->y;
	struct tmpl_src src;
	const char *s;
	int r;

	/* A repeated key (reported as a duplicate by ydoc_check_keys): the
	 * first one is kept, not leaked. */
	if (t->tmpl_arg != NULL)
		return;
	if ((s = ydoc_want_str(y, n, path, "a template file name")) == NULL)
		return;
	if (s[0] == '/' || strcmp(s, "..") == 0 || strncmp(s, "../", 3) == 0 ||
	    strstr(s, "/../") != NULL ||
	    (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0)) {
		ydoc_bad(y, n, path, "template '%s' must be a relative path "
		    "inside %s/templates", s, ld->dir);
		return;
	}
	if ((t->tmpl_arg = ydoc_dup(y, arg)) == NULL ||
	    (t->tmpl_file = ydoc_dup(y, s)) == NULL)
		return;
	if (asprintf(&t->tmpl_path, "%s/templates/%s", ld->dir, s) < 0) {
		t->tmpl_path = NULL;
		y->oom = 1;
		return;
	}
	r = read_file(t->tmpl_path, &t->tmpl_text, &t->tmpl_len);
	if (r == KORCH_ERR_ALLOC) {
		y->oom = 1;
		return;
	}
	if (r == KORCH_ERR_TOO_LARGE) {
		ydoc_bad(y, n, path, "template file '%s' is larger than %u "
		    "bytes", t->tmpl_path, TEMPLATE_MAX_OUT);
		return;
	}
	if (r != 0) {
		ydoc_bad(y, n, path, "template file '%s' cannot be read: %s",
		    t->tmpl_path, strerror(errno));
		return;
	}
	memset(&src, 0, sizeof(src));
	src.file = t->tmpl_path;
	if (template_check(&src, t->tmpl_text, t->tmpl_len, y->d) != 0)
		y->nbad++;
}

/* foreach: { list: VAR, fields: PREFIX } */
static void
parse_foreach(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct pb_task *t)
{
	static const char *const keys[] = { "list", "fields", NULL };
	const char *list, *fields;

	if (n->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, n, path, "expected { list: VARIABLE, fields: "
		    "PREFIX }");
		return;
	}
	ydoc_check_keys(y, n, path, keys);
	list = ydoc_scalar(ydoc_get(y, n, "list"));
	fields = ydoc_scalar(ydoc_get(y, n, "fields"));
	if (list == NULL || fields == NULL ||
	    !vars_name_valid(list, strlen(list)) ||
	    !vars_name_valid(fields, strlen(fields))) {
		ydoc_bad(y, n, path, "foreach needs list: and fields:, each a "
		    "variable name");
		return;
	}
	if ((t->foreach_list = ydoc_dup(y, list)) == NULL ||
	    (t->foreach_fields = ydoc_dup(y, fields)) == NULL)
		return;
}

static void
load_watch(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct pb_task *t)
{
	yaml_node_t *it;
	const char *s;
	size_t i;

	/* A repeated watch: key is reported as a duplicate by
	 * ydoc_check_keys; the first list stands (a second one would be
	 * counted on top of the first in a new, smaller array). */
	if (t->watch != NULL)
		return;
	if (!ydoc_want_seq(y, n, path, "task names"))
		return;
	if ((t->watch = calloc(ydoc_count(n) + 1, sizeof(*t->watch))) == NULL) {
		y->oom = 1;
		return;
	}
	for (i = 0; i < ydoc_count(n); i++) {
		if ((s = ydoc_item_str(y, n, i, path, "a task name", &it)) ==
		    NULL)
			continue;
		if ((t->watch[t->nwatch].name = ydoc_dup(y, s)) == NULL)
			return;
		t->watch[t->nwatch].line = ydoc_line(it);
		t->watch[t->nwatch].col = ydoc_col(it);
		t->nwatch++;
	}
}

/* One module argument: a scalar, or a sequence of scalars if REPEAT. */
static void
load_arg(struct ydoc *y, const struct kms_arg *spec, const yaml_node_t *v,
    const char *path, struct pb_task *t)
{
	struct pb_arg *a = &t->args[t->nargs];
	struct tmpl_src src;
	yaml_node_t *it;
	char sub[YDOC_PATHLEN];
	const char *s;
	size_t i, cnt;

	cnt = v->type == YAML_SEQUENCE_NODE ? ydoc_count(v) : 1;
	if (v->type == YAML_MAPPING_NODE) {
		ydoc_bad(y, v, path, "expected a scalar%s, got a mapping",
		    spec->flags & KMS_REPEAT ? " or a sequence" : "");
		return;
	}
	if (v->type == YAML_SEQUENCE_NODE && !(spec->flags & KMS_REPEAT)) {
		ydoc_bad(y, v, path, "argument '%s' takes one value, not a "
		    "list", spec->name);
		return;
	}
	if (cnt == 0) {
		ydoc_bad(y, v, path, "argument '%s' has an empty list",
		    spec->name);
		return;
	}
	if ((a->vals = calloc(cnt, sizeof(*a->vals))) == NULL ||
	    (a->name = ydoc_dup(y, spec->name)) == NULL) {
		y->oom = 1;
		return;
	}
	a->list = v->type == YAML_SEQUENCE_NODE;
	t->nargs++;
	for (i = 0; i < cnt; i++) {
		if (v->type == YAML_SEQUENCE_NODE) {
			it = ydoc_item(y, v, i);
			ydoc_pathf(sub, "%s[%zu]", path, i);
		} else {
			it = (yaml_node_t *)v;
			ydoc_pathf(sub, "%s", path);
		}
		if (it != NULL && it->type == YAML_SCALAR_NODE &&
		    diag_yaml_is_null(it)) {
			ydoc_bad(y, it, sub, "empty value (write \"\" for an "
			    "empty string)");
			continue;
		}
		if ((s = ydoc_want_str(y, it, sub, "a scalar")) == NULL)
			continue;
		memset(&src, 0, sizeof(src));
		src.file = y->file;
		src.line = ydoc_line(it);
		src.col = ydoc_col(it);
		src.path = sub;
		if (template_check(&src, s, strlen(s), y->d) != 0)
			y->nbad++;
		if ((a->vals[a->nvals].text = ydoc_dup(y, s)) == NULL)
			return;
		a->vals[a->nvals].line = ydoc_line(it);
		a->vals[a->nvals].col = ydoc_col(it);
		a->nvals++;
	}
}

static void
load_module(struct pb_loader *ld, const yaml_node_t *map, const char *path,
    struct pb_task *t)
{
	struct ydoc *y = &ld->y;
	const struct kms_module *m = t->mod;
	const struct kms_arg *spec;
	const char *cands[32], *key, *hint;
	yaml_node_t *k, *v;
	char sub[YDOC_PATHLEN];
	size_t n = 0, i;
	int content_tmpl = (m->flags & KMS_M_CONTENT_TEMPLATE) != 0;
	int unit_tmpl = (m->flags & KMS_M_UNIT_TEMPLATE) != 0;
	int watches = (m->flags & KMS_M_RESTARTS) != 0;

	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, map, path, "expected a mapping of arguments, got "
		    "%s", diag_yaml_kind(map));
		return;
	}
	for (spec = m->args; spec->name != NULL && n < 28; spec++)
		cands[n++] = spec->name;
	if (content_tmpl)
		cands[n++] = "template";
	if (unit_tmpl)
		cands[n++] = "unit_template";
	if (watches)
		cands[n++] = "watch";
	cands[n] = NULL;
	/* Duplicates and non-scalar keys; unknown ones are reported below
	 * with a module-specific message. */
	ydoc_check_keys(y, map, path, NULL);
	if ((t->args = calloc(ydoc_count(map) + 1, sizeof(*t->args))) ==
	    NULL) {
		y->oom = 1;
		return;
	}
	for (i = 0; i < ydoc_count(map); i++) {
		ydoc_pair(y, map, i, &k, &v);
		if ((key = ydoc_scalar(k)) == NULL || v == NULL)
			continue;
		ydoc_pathf(sub, "%s.%s", path, key);
		if (content_tmpl && strcmp(key, "template") == 0) {
			load_template(ld, v, sub, t, "content");
			continue;
		}
		if (unit_tmpl && strcmp(key, "unit_template") == 0) {
			load_template(ld, v, sub, t, "unit");
			continue;
		}
		if (watches && strcmp(key, "watch") == 0) {
			load_watch(y, v, sub, t);
			continue;
		}
		if ((spec = kms_find_arg(m, key)) == NULL) {
			if (strcmp(key, "watch") == 0 ||
			    strcmp(key, "template") == 0 ||
			    strcmp(key, "unit_template") == 0)
				ydoc_bad(y, k, sub, "'%s' is not available for "
				    "module '%s'", key, m->name);
			else if ((hint = diag_suggest(key, cands)) != NULL)
				ydoc_bad(y, k, sub, "unknown argument '%s' for "
				    "module '%s' (did you mean '%s'?)", key,
				    m->name, hint);
			else
				ydoc_bad(y, k, sub, "unknown argument '%s' for "
				    "module '%s'", key, m->name);
			continue;
		}
		load_arg(y, spec, v, sub, t);
	}
	for (spec = m->args; spec->name != NULL; spec++) {
		if (!(spec->flags & KMS_REQUIRED) ||
		    ydoc_get(y, map, spec->name) != NULL)
			continue;
		ydoc_bad(y, map, path, "missing required argument '%s' for "
		    "module '%s'", spec->name, m->name);
	}
	if (t->tmpl_arg != NULL &&
	    ydoc_get(y, map, t->tmpl_arg) != NULL)
		ydoc_bad(y, ydoc_get(y, map, t->tmpl_arg), path,
		    "give '%s' or '%s', not both", t->tmpl_arg,
		    content_tmpl ? "template" : "unit_template");
}

/*
 * The task's one module key into t->mod (its key and value into *modkey
 * and *modval); every other key but name, when and foreach is reported.
 * Returns how many unknown module keys were reported.
 */
static int
find_module(struct ydoc *y, const yaml_node_t *map, const char *path,
    struct pb_task *t, yaml_node_t **modkey, yaml_node_t **modval)
{
	const struct kms_module *m, *all;
	const char *cands[32], *key, *hint;
	yaml_node_t *k, *v;
	char sub[YDOC_PATHLEN];
	size_t nc = 0, i;
	int nmods = 0, nunknown = 0;

	cands[nc++] = "name";
	cands[nc++] = "when";
	cands[nc++] = "foreach";
	for (all = kms_all(); all->name != NULL && nc < 31; all++)
		cands[nc++] = all->name;
	cands[nc] = NULL;
	for (i = 0; i < ydoc_count(map); i++) {
		ydoc_pair(y, map, i, &k, &v);
		if ((key = ydoc_scalar(k)) == NULL)
			continue;
		ydoc_pathf(sub, "%s.%s", path, key);
		if (strcmp(key, "name") == 0 || strcmp(key, "when") == 0 ||
		    strcmp(key, "foreach") == 0)
			continue;
		if ((m = kms_find(key)) == NULL) {
			if ((hint = diag_suggest(key, cands)) != NULL)
				ydoc_bad(y, k, sub, "unknown module '%s' (did "
				    "you mean '%s'?)", key, hint);
			else
				ydoc_bad(y, k, sub, "unknown module '%s'", key);
			nunknown++;
			continue;
		}
		if (++nmods > 1) {
			ydoc_bad(y, k, sub, "a task has exactly one module; "
			    "this one also has '%s'", t->mod->name);
			continue;
		}
		t->mod = m;
		*modkey = k;
		*modval = v;
	}
	return nunknown;
}

static void
load_task(struct pb_loader *ld, const yaml_node_t *map, const char *path,
    struct pb_step *st, int verify)
{
	struct ydoc *y = &ld->y;
	struct pb_task *t = &st->tasks[st->ntasks];
	yaml_node_t *modkey = NULL, *modval = NULL, *n;
	char sub[YDOC_PATHLEN];
	const char *s;
	int nunknown;

	st->ntasks++;
	t->verify = verify;
	t->file = st->file;
	t->line = ydoc_line(map);
	t->col = ydoc_col(map);
	if ((t->path = ydoc_dup(y, path)) == NULL)
		return;
	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, map, path, "expected a task (a mapping with one "
		    "module key), got %s", diag_yaml_kind(map));
		return;
	}
	ydoc_check_keys(y, map, path, NULL);
	nunknown = find_module(y, map, path, t, &modkey, &modval);
	if ((n = ydoc_get(y, map, "name")) != NULL) {
		ydoc_pathf(sub, "%s.name", path);
		if ((s = ydoc_want_str(y, n, sub, "a task name")) != NULL) {
			if (!pb_name_valid(s))
				ydoc_bad(y, n, sub, "invalid task name '%s' "
				    "([a-z0-9_-]+)", s);
			else
				t->name = ydoc_dup(y, s);
		}
	}
	if ((n = ydoc_get(y, map, "when")) != NULL) {
		ydoc_pathf(sub, "%s.when", path);
		parse_when(y, n, sub, t);
	}
	if ((n = ydoc_get(y, map, "foreach")) != NULL) {
		ydoc_pathf(sub, "%s.foreach", path);
		parse_foreach(y, n, sub, t);
	}
	if (t->mod == NULL) {
		/* An unknown module key was reported already. */
		if (nunknown == 0)
			ydoc_bad(y, map, path, "task has no module (one of: "
			    "file, directory, absent, envfile, sysctl, "
			    "service, command, probe)");
		return;
	}
	if (verify && !(t->mod->flags & KMS_M_VERIFIES)) {
		ydoc_pathf(sub, "%s.%s", path, t->mod->name);
		ydoc_bad(y, modkey, sub, "verify entries must be probe tasks, "
		    "not '%s'", t->mod->name);
	}
	ydoc_pathf(sub, "%s.%s", path, t->mod->name);
	load_module(ld, modval, sub, t);
}

void
pb_load_task_list(struct pb_loader *ld, const yaml_node_t *seq,
    const char *path, struct pb_step *st, int verify)
{
	struct ydoc *y = &ld->y;
	char sub[YDOC_PATHLEN];
	size_t i;

	if (!ydoc_want_seq(y, seq, path, "tasks"))
		return;
	for (i = 0; i < ydoc_count(seq); i++) {
		ydoc_pathf(sub, "%s[%zu]", path, i);
		load_task(ld, ydoc_item(y, seq, i), sub, st, verify);
	}
}
