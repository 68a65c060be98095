/*
 * profile_load.c - one profile file into a struct profile (see
 * profile.h for the format): the sections, each checked as read, with
 * every problem at its file:line:column.  The set's checks (names, bases,
 * ranges) are profile.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/diag.h"
#include "base/strlist.h"
#include "spec/profile.h"
#include "spec/profile-int.h"
#include "spec/yaml_doc.h"
#include "engine/template.h"
#include "engine/vars.h"

/* A sequence of names ([a-z0-9.-]+) into l (always a valid list after). */
static void
load_names(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct strlist *l)
{
	yaml_node_t *it;
	const char *s;
	size_t i;

	if (n == NULL || n->type != YAML_SEQUENCE_NODE) {
		ydoc_bad(y, n, path, "expected a list of names, got %s",
		    diag_yaml_kind(n));
		n = NULL;
	}
	if (strlist_reserve(l, ydoc_count(n)) != 0) {
		y->oom = 1;
		return;
	}
	for (i = 0; i < ydoc_count(n); i++) {
		it = ydoc_item(y, n, i);
		s = ydoc_text(it);
		if (s == NULL || s[0] == '\0' ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-_") !=
		    strlen(s)) {
			char sub[YDOC_PATHLEN];

			ydoc_pathf(sub, "%s[%zu]", path, i);
			ydoc_bad(y, it, sub, "expected a name ([a-z0-9._-]+)");
			continue;
		}
		if (strlist_add(l, s) != 0)
			y->oom = 1;
	}
}

static int
text_of(struct ydoc *y, const yaml_node_t *n, const char *path,
    const char *what, struct text *t)
{
	const char *s;
	struct tmpl_src src;

	if ((s = ydoc_text(n)) == NULL) {
		ydoc_bad(y, n, path, "expected %s (a string), got %s", what,
		    diag_yaml_kind(n));
		return -1;
	}
	memset(&src, 0, sizeof(src));
	src.file = y->file;
	src.line = ydoc_line(n);
	src.col = ydoc_col(n);
	src.path = path;
	if (template_check(&src, s, strlen(s), y->d) != 0) {
		y->nbad++;
		return -1;
	}
	t->line = src.line;
	t->col = src.col;
	return (t->s = ydoc_dup(y, s)) == NULL ? -1 : 0;
}

/*
 * One entry of a section: key k (node kn) with value v, reported at path
 * ("<section>.<k>", YDOC_PATHLEN bytes the entry may reuse).  0 to go on
 * with the next entry, -1 to stop (memory ran out).
 */
typedef int entry_fn(struct ydoc *y, yaml_node_t *kn, yaml_node_t *v,
    const char *k, char *path, struct profile *p);

/*
 * A section that maps names to something: a new zeroed array of its
 * entries plus one in *arr (elem bytes each), then each entry with a
 * text key (each key checked once) to entry().  Not a mapping: reported.
 */
static void
load_section(struct ydoc *y, const yaml_node_t *n, const char *name,
    const char *expect, size_t elem, void *arr, entry_fn *entry,
    struct profile *p)
{
	yaml_node_t *kn, *v;
	char path[YDOC_PATHLEN];
	const char *k;
	size_t i;

	if (n->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, n, name, "expected %s", expect);
		return;
	}
	ydoc_check_keys(y, n, name, NULL);
	if ((*(void **)arr = calloc(ydoc_count(n) + 1, elem)) == NULL) {
		y->oom = 1;
		return;
	}
	for (i = 0; i < ydoc_count(n); i++) {
		ydoc_pair(y, n, i, &kn, &v);
		if ((k = ydoc_text(kn)) == NULL)
			continue;
		ydoc_pathf(path, "%s.%s", name, k);
		if (entry(y, kn, v, k, path, p) != 0)
			return;
	}
}

static void
load_range(struct ydoc *y, const yaml_node_t *n, struct profile *p)
{
	static const char *const keys[] = { "from", "to", NULL };
	struct kver *ends[2] = { &p->from, &p->to };
	const char *names[2] = { "from", "to" }, *s;
	char path[64];
	size_t i;

	if (n->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, n, "kubernetes", "expected { from: MINOR, to: "
		    "MINOR }");
		return;
	}
	ydoc_check_keys(y, n, "kubernetes", keys);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "kubernetes.%s", names[i]);
		s = ydoc_text(ydoc_get(y, n, names[i]));
		if (s == NULL || kver_parse(s, ends[i]) != 0 ||
		    ends[i]->patch >= 0) {
			ydoc_bad(y, ydoc_get(y, n, names[i]) ?
			    ydoc_get(y, n, names[i]) : n, path,
			    "expected a minor version such as \"1.20\"");
			return;
		}
	}
	if (kver_cmp(&p->from, &p->to) > 0) {
		ydoc_bad(y, n, "kubernetes", "'from' is above 'to'");
		return;
	}
	p->ranged = 1;
}

/* roles.<k>: { runs: [names], needs: [names] }. */
static int
role_entry(struct ydoc *y, yaml_node_t *kn, yaml_node_t *v, const char *k,
    char *path, struct profile *p)
{
	static const char *const keys[] = { "runs", "needs", NULL };
	yaml_node_t *l;
	struct role *r;

	if (v->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, v, path, "expected { runs: [...], needs: "
		    "[...] }");
		return 0;
	}
	ydoc_check_keys(y, v, path, keys);
	r = &p->roles[p->nroles++];
	if ((r->name = ydoc_dup(y, k)) == NULL)
		return -1;
	ydoc_pathf(path, "roles.%s.runs", k);
	if ((l = ydoc_get(y, v, "runs")) != NULL)
		load_names(y, l, path, &r->runs);
	else if (strlist_reserve(&r->runs, 0) != 0)
		y->oom = 1;
	ydoc_pathf(path, "roles.%s.needs", k);
	if ((l = ydoc_get(y, v, "needs")) != NULL)
		load_names(y, l, path, &r->needs);
	else if (strlist_reserve(&r->needs, 0) != 0)
		y->oom = 1;
	return 0;
}

/* steps.<k>: [names]. */
static int
steps_entry(struct ydoc *y, yaml_node_t *kn, yaml_node_t *v, const char *k,
    char *path, struct profile *p)
{
	if ((p->steps[p->nsteps].name = ydoc_dup(y, k)) == NULL)
		return -1;
	load_names(y, v, path, &p->steps[p->nsteps++].l);
	return 0;
}

/* vars.<k>: a template. */
static int
var_entry(struct ydoc *y, yaml_node_t *kn, yaml_node_t *v, const char *k,
    char *path, struct profile *p)
{
	/* Plain names only: a dotted one is korch's own. */
	if (strchr(k, '.') != NULL || !vars_name_valid(k, strlen(k))) {
		ydoc_bad(y, kn, path, "invalid variable name '%s' "
		    "([A-Za-z0-9_]+)", k);
		return 0;
	}
	if (text_of(y, v, path, "a value", &p->vars[p->nvars].val) != 0)
		return 0;
	if ((p->vars[p->nvars].key = ydoc_dup(y, k)) == NULL) {
		free(p->vars[p->nvars].val.s);
		return -1;
	}
	p->nvars++;
	return 0;
}

/* 1 when s, outside its {{ holes }}, has no space, tab, newline or
 * backslash. */
static int
one_word(const char *s)
{
	const char *end;

	while (*s != '\0') {
		if (s[0] == '{' && s[1] == '{' &&
		    (end = strstr(s + 2, "}}")) != NULL) {
			s = end + 2;
			continue;
		}
		if (strchr(" \t\r\n\\", *s) != NULL)
			return 0;
		s++;
	}
	return 1;
}

/* flags.<k>: [flags], each one word. */
static int
flags_entry(struct ydoc *y, yaml_node_t *kn, yaml_node_t *v, const char *k,
    char *path, struct profile *p)
{
	yaml_node_t *it;
	struct flagset *f;
	size_t j;

	if (v->type != YAML_SEQUENCE_NODE) {
		ydoc_bad(y, v, path, "expected a list of flags");
		return 0;
	}
	f = &p->flags[p->nflags++];
	f->line = ydoc_line(v);
	if ((f->component = ydoc_dup(y, k)) == NULL ||
	    (f->flags = calloc(ydoc_count(v) + 1, sizeof(*f->flags))) == NULL) {
		y->oom = 1;
		return -1;
	}
	for (j = 0; j < ydoc_count(v); j++) {
		it = ydoc_item(y, v, j);
		ydoc_pathf(path, "flags.%s[%zu]", k, j);
		if (text_of(y, it, path, "a flag", &f->flags[f->n]) != 0)
			continue;
		/* A flag is one word of the command line: a space or a
		 * newline would make it two, or a new line of the unit. */
		if (!one_word(f->flags[f->n].s)) {
			ydoc_bad(y, it, path, "a flag is one word: no spaces, "
			    "tabs, newlines or backslashes");
			free(f->flags[f->n].s);
			continue;
		}
		f->n++;
	}
	return 0;
}

void
profile_release(struct profile *p)
{
	size_t i, j;

	free(p->name);
	free(p->file);
	free(p->base_name);
	for (i = 0; i < p->nroles; i++) {
		free(p->roles[i].name);
		strlist_free(&p->roles[i].runs);
		strlist_free(&p->roles[i].needs);
	}
	free(p->roles);
	strlist_free(&p->versioned);
	for (i = 0; i < p->nsteps; i++) {
		free(p->steps[i].name);
		strlist_free(&p->steps[i].l);
	}
	free(p->steps);
	for (i = 0; i < p->nvars; i++) {
		free(p->vars[i].key);
		free(p->vars[i].val.s);
	}
	free(p->vars);
	for (i = 0; i < p->nflags; i++) {
		free(p->flags[i].component);
		for (j = 0; j < p->flags[i].n; j++)
			free(p->flags[i].flags[j].s);
		free(p->flags[i].flags);
	}
	free(p->flags);
	memset(p, 0, sizeof(*p));
}

int
profile_load_file(const char *file, struct profile *p, struct diag *d,
    int *oom)
{
	static const char *const keys[] = { "profile", "base", "kubernetes",
	    "roles", "versioned", "steps", "vars", "flags", NULL };
	struct ydoc yd, *y = &yd;
	yaml_node_t *root, *n;
	const char *s;

	memset(&yd, 0, sizeof(yd));
	yd.d = d;
	/* (Running out of memory here is counted as a problem, not oom.) */
	if (ydoc_open(y, file) != 0)
		return -1;
	if ((p->file = strdup(file)) == NULL) {
		y->oom = 1;
		goto out;
	}
	root = ydoc_root(y);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, root, "", "expected a mapping (profile: NAME, "
		    "...)");
		goto out;
	}
	ydoc_check_keys(y, root, "", keys);
	n = ydoc_get(y, root, "profile");
	if ((s = ydoc_text(n)) == NULL || s[0] == '\0') {
		ydoc_bad(y, n ? n : root, "profile", "every profile has a name "
		    "(profile: \"1.20\")");
		goto out;
	}
	if ((p->name = ydoc_dup(y, s)) == NULL)
		goto out;
	if ((n = ydoc_get(y, root, "base")) != NULL) {
		if ((s = ydoc_text(n)) == NULL)
			ydoc_bad(y, n, "base", "expected a profile name");
		else if ((p->base_name = ydoc_dup(y, s)) != NULL) {
			p->base_line = ydoc_line(n);
			p->base_col = ydoc_col(n);
		}
	}
	if ((n = ydoc_get(y, root, "kubernetes")) != NULL)
		load_range(y, n, p);
	if ((n = ydoc_get(y, root, "roles")) != NULL) {
		p->have_roles = 1;
		load_section(y, n, "roles", "a mapping of role -> { runs: "
		    "[...], needs: [...] }", sizeof(*p->roles), &p->roles,
		    role_entry, p);
	}
	if ((n = ydoc_get(y, root, "versioned")) != NULL) {
		p->have_versioned = 1;
		load_names(y, n, "versioned", &p->versioned);
	}
	if ((n = ydoc_get(y, root, "steps")) != NULL) {
		p->have_steps = 1;
		load_section(y, n, "steps", "a mapping of slot -> [steps]",
		    sizeof(*p->steps), &p->steps, steps_entry, p);
	}
	if ((n = ydoc_get(y, root, "vars")) != NULL)
		load_section(y, n, "vars", "a mapping of name -> value",
		    sizeof(*p->vars), &p->vars, var_entry, p);
	if ((n = ydoc_get(y, root, "flags")) != NULL)
		load_section(y, n, "flags", "a mapping of component -> [flags]",
		    sizeof(*p->flags), &p->flags, flags_entry, p);
 out:
	ydoc_close(y);
	*oom |= y->oom;
	return y->nbad > 0 || y->oom ? -1 : 0;
}
