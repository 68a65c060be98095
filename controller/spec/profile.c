/*
 * profile.c - per-version component profiles (see profile.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/diag.h"
#include "err.h"
#include "spec/profile.h"
#include "engine/template.h"
#include "cluster/upgrade_plan.h"
#include "engine/vars.h"

/* A NULL-terminated list of strings. */
struct strlist {
	char		**v;
	size_t		 n;
};

struct named_list {
	char		*name;
	struct strlist	 l;
};

/* A template as written, with where it was written. */
struct text {
	char		*s;
	unsigned	 line, col;
};

struct pvar {
	char		*key;
	struct text	 val;
};

struct flagset {
	char		*component;
	struct text	*flags;
	size_t		 n;
	unsigned	 line;
};

struct role {
	char		*name;
	struct strlist	 runs, needs;
};

struct profile {
	char			*name;
	char			*file;
	char			*base_name;
	unsigned		 base_line, base_col;
	const struct profile	*base;
	int			 ranged;
	struct kver		 from, to;
	struct role		*roles;
	size_t			 nroles;
	int			 have_roles;
	struct strlist		 versioned;
	int			 have_versioned;
	struct named_list	*steps;
	size_t			 nsteps;
	int			 have_steps;
	struct pvar		*vars;
	size_t			 nvars;
	struct flagset		*flags;
	size_t			 nflags;
};

struct profile_set {
	struct profile	*p;
	size_t		 n;
};

static const char *const empty_list[] = { NULL };

/* ---- loading ------------------------------------------------------------- */

struct ploader {
	yaml_document_t	*doc;
	const char	*file;
	struct diag	*d;
	int		 nbad;
	int		 oom;
};

static yaml_node_t *
node(struct ploader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

__attribute__((format(printf, 4, 5)))
static void
bad(struct ploader *ld, const yaml_node_t *n, const char *path,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_node(ld->d, ld->file, n, path, "%s", msg);
	ld->nbad++;
}

static char *
xdup(struct ploader *ld, const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		ld->oom = 1;
	return p;
}

static void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A sequence of names ([a-z0-9.-]+) into l (always a valid list after). */
static void
load_names(struct ploader *ld, const yaml_node_t *n, const char *path,
    struct strlist *l)
{
	yaml_node_item_t *it;
	const char *s;
	size_t i = 0;

	if (n == NULL || n->type != YAML_SEQUENCE_NODE) {
		bad(ld, n, path, "expected a list of names, got %s",
		    diag_yaml_kind(n));
		n = NULL;
	}
	i = n == NULL ? 0 : (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if ((l->v = calloc(i + 1, sizeof(*l->v))) == NULL) {
		ld->oom = 1;
		return;
	}
	if (n == NULL)
		return;
	for (it = n->data.sequence.items.start, i = 0;
	    it < n->data.sequence.items.top; it++, i++) {
		s = scalar(node(ld, *it));
		if (s == NULL || s[0] == '\0' ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-_") !=
		    strlen(s)) {
			char sub[256];

			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			bad(ld, node(ld, *it), sub, "expected a name "
			    "([a-z0-9._-]+)");
			continue;
		}
		if ((l->v[l->n] = xdup(ld, s)) != NULL)
			l->n++;
	}
}

static int
text_of(struct ploader *ld, const yaml_node_t *n, const char *path,
    const char *what, struct text *t)
{
	const char *s;
	struct tmpl_src src;

	if ((s = scalar(n)) == NULL) {
		bad(ld, n, path, "expected %s (a string), got %s", what,
		    diag_yaml_kind(n));
		return -1;
	}
	memset(&src, 0, sizeof(src));
	src.file = ld->file;
	src.line = (unsigned)n->start_mark.line + 1;
	src.col = (unsigned)n->start_mark.column + 1;
	src.path = path;
	if (template_check(&src, s, strlen(s), ld->d) != 0) {
		ld->nbad++;
		return -1;
	}
	t->line = src.line;
	t->col = src.col;
	return (t->s = xdup(ld, s)) == NULL ? -1 : 0;
}

/*
 * A section that maps names to something: its entries (each key checked
 * once), a new zeroed array of them plus one in *arr (elem bytes each),
 * and their count; -1 when it is not a mapping (reported) or on ENOMEM.
 */
static long
section(struct ploader *ld, const yaml_node_t *n, const char *name,
    const char *expect, size_t elem, void *arr)
{
	size_t cnt;

	if (n->type != YAML_MAPPING_NODE) {
		bad(ld, n, name, "expected %s", expect);
		return -1;
	}
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, n, name,
	    NULL);
	cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if ((*(void **)arr = calloc(cnt + 1, elem)) == NULL) {
		ld->oom = 1;
		return -1;
	}
	return (long)cnt;
}

static void
load_range(struct ploader *ld, const yaml_node_t *n, struct profile *p)
{
	static const char *const keys[] = { "from", "to", NULL };
	struct kver *ends[2] = { &p->from, &p->to };
	const char *names[2] = { "from", "to" }, *s;
	char path[64];
	size_t i;

	if (n->type != YAML_MAPPING_NODE) {
		bad(ld, n, "kubernetes", "expected { from: MINOR, to: MINOR }");
		return;
	}
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, n,
	    "kubernetes", keys);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "kubernetes.%s", names[i]);
		s = scalar(diag_yaml_get(ld->doc, n, names[i]));
		if (s == NULL || kver_parse(s, ends[i]) != 0 ||
		    ends[i]->patch >= 0) {
			bad(ld, diag_yaml_get(ld->doc, n, names[i]) ?
			    diag_yaml_get(ld->doc, n, names[i]) : n, path,
			    "expected a minor version such as \"1.20\"");
			return;
		}
	}
	if (kver_cmp(&p->from, &p->to) > 0) {
		bad(ld, n, "kubernetes", "'from' is above 'to'");
		return;
	}
	p->ranged = 1;
}

static void
load_roles(struct ploader *ld, const yaml_node_t *n, struct profile *p)
{
	static const char *const keys[] = { "runs", "needs", NULL };
	yaml_node_pair_t *pr;
	yaml_node_t *v, *l;
	struct role *r;
	char path[256];
	const char *k;

	p->have_roles = 1;
	if (section(ld, n, "roles", "a mapping of role -> { runs: [...], "
	    "needs: [...] }", sizeof(*p->roles), &p->roles) < 0)
		return;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		if ((k = scalar(node(ld, pr->key))) == NULL)
			continue;
		v = node(ld, pr->value);
		snprintf(path, sizeof(path), "roles.%s", k);
		if (v->type != YAML_MAPPING_NODE) {
			bad(ld, v, path, "expected { runs: [...], needs: "
			    "[...] }");
			continue;
		}
		ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, v,
		    path, keys);
		r = &p->roles[p->nroles++];
		if ((r->name = xdup(ld, k)) == NULL)
			return;
		snprintf(path, sizeof(path), "roles.%s.runs", k);
		if ((l = diag_yaml_get(ld->doc, v, "runs")) != NULL)
			load_names(ld, l, path, &r->runs);
		else if ((r->runs.v = calloc(1, sizeof(char *))) == NULL)
			ld->oom = 1;
		snprintf(path, sizeof(path), "roles.%s.needs", k);
		if ((l = diag_yaml_get(ld->doc, v, "needs")) != NULL)
			load_names(ld, l, path, &r->needs);
		else if ((r->needs.v = calloc(1, sizeof(char *))) == NULL)
			ld->oom = 1;
	}
}

static void
load_steps(struct ploader *ld, const yaml_node_t *n, struct profile *p)
{
	yaml_node_pair_t *pr;
	char path[256];
	const char *k;

	p->have_steps = 1;
	if (section(ld, n, "steps", "a mapping of slot -> [steps]",
	    sizeof(*p->steps), &p->steps) < 0)
		return;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		if ((k = scalar(node(ld, pr->key))) == NULL)
			continue;
		snprintf(path, sizeof(path), "steps.%s", k);
		if ((p->steps[p->nsteps].name = xdup(ld, k)) == NULL)
			return;
		load_names(ld, node(ld, pr->value), path,
		    &p->steps[p->nsteps++].l);
	}
}

static void
load_vars(struct ploader *ld, const yaml_node_t *n, struct profile *p)
{
	yaml_node_pair_t *pr;
	char path[256];
	const char *k;

	if (section(ld, n, "vars", "a mapping of name -> value",
	    sizeof(*p->vars), &p->vars) < 0)
		return;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		if ((k = scalar(node(ld, pr->key))) == NULL)
			continue;
		snprintf(path, sizeof(path), "vars.%s", k);
		/* Plain names only: a dotted one is korch's own. */
		if (strchr(k, '.') != NULL || !vars_name_valid(k, strlen(k))) {
			bad(ld, node(ld, pr->key), path, "invalid variable "
			    "name '%s' ([A-Za-z0-9_]+)", k);
			continue;
		}
		if (text_of(ld, node(ld, pr->value), path, "a value",
		    &p->vars[p->nvars].val) != 0)
			continue;
		if ((p->vars[p->nvars].key = xdup(ld, k)) == NULL) {
			free(p->vars[p->nvars].val.s);
			return;
		}
		p->nvars++;
	}
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

static void
load_flags(struct ploader *ld, const yaml_node_t *n, struct profile *p)
{
	yaml_node_item_t *it;
	yaml_node_pair_t *pr;
	yaml_node_t *v;
	struct flagset *f;
	char path[256];
	const char *k;
	size_t cnt, i;

	if (section(ld, n, "flags", "a mapping of component -> [flags]",
	    sizeof(*p->flags), &p->flags) < 0)
		return;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		if ((k = scalar(node(ld, pr->key))) == NULL)
			continue;
		v = node(ld, pr->value);
		snprintf(path, sizeof(path), "flags.%s", k);
		if (v->type != YAML_SEQUENCE_NODE) {
			bad(ld, v, path, "expected a list of flags");
			continue;
		}
		f = &p->flags[p->nflags++];
		f->line = (unsigned)v->start_mark.line + 1;
		cnt = (size_t)(v->data.sequence.items.top -
		    v->data.sequence.items.start);
		if ((f->component = xdup(ld, k)) == NULL ||
		    (f->flags = calloc(cnt + 1, sizeof(*f->flags))) == NULL) {
			ld->oom = 1;
			return;
		}
		for (it = v->data.sequence.items.start, i = 0;
		    it < v->data.sequence.items.top; it++, i++) {
			snprintf(path, sizeof(path), "flags.%s[%zu]", k, i);
			if (text_of(ld, node(ld, *it), path, "a flag",
			    &f->flags[f->n]) != 0)
				continue;
			/* A flag is one word of the command line: a space
			 * or a newline would make it two, or a new line of
			 * the unit. */
			if (!one_word(f->flags[f->n].s)) {
				bad(ld, node(ld, *it), path, "a flag is one "
				    "word: no spaces, tabs, newlines or "
				    "backslashes");
				free(f->flags[f->n].s);
				continue;
			}
			f->n++;
		}
	}
}

static void
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

/* One profile file into p; 0, or -1 when it had problems (reported). */
static int
load_file(const char *file, struct profile *p, struct diag *d, int *oom)
{
	static const char *const keys[] = { "profile", "base", "kubernetes",
	    "roles", "versioned", "steps", "vars", "flags", NULL };
	struct ploader ld;
	yaml_document_t doc;
	yaml_node_t *root, *n;
	const char *s;

	memset(&ld, 0, sizeof(ld));
	if (diag_yaml_load(file, &doc, d) != 0)
		return -1;
	ld.doc = &doc;
	ld.file = file;
	ld.d = d;
	if ((p->file = strdup(file)) == NULL) {
		ld.oom = 1;
		goto out;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		bad(&ld, root, "", "expected a mapping (profile: NAME, ...)");
		goto out;
	}
	ld.nbad += diag_yaml_check_keys(d, file, &doc, root, "", keys);
	n = diag_yaml_get(&doc, root, "profile");
	if ((s = scalar(n)) == NULL || s[0] == '\0') {
		bad(&ld, n ? n : root, "profile", "every profile has a name "
		    "(profile: \"1.20\")");
		goto out;
	}
	if ((p->name = xdup(&ld, s)) == NULL)
		goto out;
	if ((n = diag_yaml_get(&doc, root, "base")) != NULL) {
		if ((s = scalar(n)) == NULL)
			bad(&ld, n, "base", "expected a profile name");
		else if ((p->base_name = xdup(&ld, s)) != NULL) {
			p->base_line = (unsigned)n->start_mark.line + 1;
			p->base_col = (unsigned)n->start_mark.column + 1;
		}
	}
	if ((n = diag_yaml_get(&doc, root, "kubernetes")) != NULL)
		load_range(&ld, n, p);
	if ((n = diag_yaml_get(&doc, root, "roles")) != NULL)
		load_roles(&ld, n, p);
	if ((n = diag_yaml_get(&doc, root, "versioned")) != NULL) {
		p->have_versioned = 1;
		load_names(&ld, n, "versioned", &p->versioned);
	}
	if ((n = diag_yaml_get(&doc, root, "steps")) != NULL)
		load_steps(&ld, n, p);
	if ((n = diag_yaml_get(&doc, root, "vars")) != NULL)
		load_vars(&ld, n, p);
	if ((n = diag_yaml_get(&doc, root, "flags")) != NULL)
		load_flags(&ld, n, p);
 out:
	yaml_document_delete(&doc);
	*oom |= ld.oom;
	return ld.nbad > 0 || ld.oom ? -1 : 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct profile *
find(const struct profile_set *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].name, name) == 0)
			return &ps->p[i];
	return NULL;
}

/* Names, bases (no cycles), overlapping ranges. */
static int
check_set(struct profile_set *ps, struct diag *d)
{
	const struct profile *b;
	struct profile *p, *q;
	size_t i, j, hops;
	int nbad = 0;

	for (i = 0; i < ps->n; i++) {
		p = &ps->p[i];
		for (j = 0; j < i; j++)
			if (strcmp(ps->p[j].name, p->name) == 0) {
				diag_add(d, p->file, 0, 0, "profile", "profile "
				    "'%s' is also defined in %s", p->name,
				    ps->p[j].file);
				nbad++;
			}
		if (p->base_name == NULL)
			continue;
		if ((p->base = find(ps, p->base_name)) == NULL) {
			diag_add(d, p->file, p->base_line, p->base_col, "base",
			    "no profile named '%s'", p->base_name);
			nbad++;
		}
	}
	for (i = 0; nbad == 0 && i < ps->n; i++) {
		for (b = ps->p[i].base, hops = 0; b != NULL && hops <= ps->n;
		    b = b->base)
			hops++;
		if (b != NULL) {
			diag_add(d, ps->p[i].file, ps->p[i].base_line,
			    ps->p[i].base_col, "base", "profile '%s' inherits "
			    "from itself (through its bases)", ps->p[i].name);
			nbad++;
		}
	}
	for (i = 0; i < ps->n; i++) {
		p = &ps->p[i];
		for (j = i + 1; p->ranged && j < ps->n; j++) {
			q = &ps->p[j];
			if (!q->ranged || kver_cmp(&p->to, &q->from) < 0 ||
			    kver_cmp(&q->to, &p->from) < 0)
				continue;
			diag_add(d, q->file, 0, 0, "kubernetes", "profiles "
			    "'%s' and '%s' (%s) cover the same minor versions",
			    q->name, p->name, p->file);
			nbad++;
		}
	}
	return nbad;
}

int
profile_set_load(const char *playbooks_dir, struct profile_set **out,
    struct diag *d)
{
	struct profile_set *ps = NULL;
	struct dirent *e;
	char dir[PATH_MAX], file[PATH_MAX], **names = NULL, **nn;
	size_t n = 0, i, len;
	DIR *dp = NULL;
	int r = KORCH_ERR_ALLOC, oom = 0, nbad = 0;

	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return KORCH_ERR_ALLOC;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/profiles", playbooks_dir) >=
	    sizeof(dir)) {
		r = KORCH_ERR_TOO_LARGE;
		goto out;
	}
	if ((dp = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			*out = ps;
			return 0;
		}
		diag_add(d, dir, 0, 0, NULL, "cannot read: %s",
		    strerror(errno));
		r = KORCH_ERR_PARSE;
		goto out;
	}
	while ((e = readdir(dp)) != NULL) {
		len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 ||
		    strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		if ((nn = reallocarray(names, n + 1, sizeof(*names))) == NULL)
			goto out;
		names = nn;
		if ((names[n] = strdup(e->d_name)) == NULL)
			goto out;
		n++;
	}
	/* An empty profiles/ leaves names NULL, which qsort may not get. */
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	if ((ps->p = calloc(n + 1, sizeof(*ps->p))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(file, sizeof(file), "%s/%s", dir,
		    names[i]) >= sizeof(file)) {
			diag_add(d, dir, 0, 0, NULL, "%s: path too long",
			    names[i]);
			nbad++;
			continue;
		}
		if (load_file(file, &ps->p[ps->n], d, &oom) != 0) {
			profile_release(&ps->p[ps->n]);
			nbad++;
			continue;
		}
		ps->n++;
	}
	if (oom)
		goto out;
	r = KORCH_ERR_PARSE;
	if (nbad > 0 || check_set(ps, d) > 0)
		goto out;
	*out = ps;
	ps = NULL;
	r = 0;
 out:
	if (dp != NULL)
		closedir(dp);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	profile_set_free(ps);
	return r;
}

void
profile_set_free(struct profile_set *ps)
{
	size_t i;

	if (ps == NULL)
		return;
	for (i = 0; i < ps->n; i++)
		profile_release(&ps->p[i]);
	free(ps->p);
	free(ps);
}

size_t
profile_set_count(const struct profile_set *ps)
{
	size_t i, n = 0;

	for (i = 0; ps != NULL && i < ps->n; i++)
		n += ps->p[i].ranged;
	return n;
}

/* ---- queries ------------------------------------------------------------- */

void
profile_range(const struct profile *p, char *buf, size_t len)
{
	if (!p->ranged)
		snprintf(buf, len, "none");
	else if (kver_cmp(&p->from, &p->to) == 0)
		snprintf(buf, len, "%d.%d", p->from.major, p->from.minor);
	else
		snprintf(buf, len, "%d.%d-%d.%d", p->from.major, p->from.minor,
		    p->to.major, p->to.minor);
}

static int
cmp_from(const void *a, const void *b)
{
	const struct profile *x = *(const struct profile *const *)a;
	const struct profile *y = *(const struct profile *const *)b;

	return kver_cmp(&x->from, &y->from);
}

const struct profile *
profile_pick(const struct profile_set *ps, const char *version, char *why,
    size_t whylen)
{
	const struct profile **sorted = NULL;
	struct kver k, minor;
	char range[64];
	size_t i, n = 0, off;

	if (kver_parse(version, &k) != 0) {
		snprintf(why, whylen, "'%s' is not a Kubernetes version "
		    "(major.minor.patch)", version);
		return NULL;
	}
	minor = (struct kver){ k.major, k.minor, -1 };
	for (i = 0; ps != NULL && i < ps->n; i++)
		if (ps->p[i].ranged && kver_cmp(&ps->p[i].from, &minor) <= 0 &&
		    kver_cmp(&minor, &ps->p[i].to) <= 0)
			return &ps->p[i];
	off = (size_t)snprintf(why, whylen, "no profile covers Kubernetes %s; "
	    "this korch supports ", version);
	if (ps != NULL && (sorted = calloc(ps->n + 1, sizeof(*sorted))) != NULL) {
		for (i = 0; i < ps->n; i++)
			if (ps->p[i].ranged)
				sorted[n++] = &ps->p[i];
		qsort(sorted, n, sizeof(*sorted), cmp_from);
	}
	for (i = 0; i < n && off < whylen; i++) {
		profile_range(sorted[i], range, sizeof(range));
		off += (size_t)snprintf(why + off, whylen - off, "%s%s",
		    i ? ", " : "", range);
	}
	if (n == 0 && off < whylen)
		snprintf(why + off, whylen - off, "no version (no profiles in "
		    "the playbooks)");
	free(sorted);
	return NULL;
}

const char *
profile_name(const struct profile *p)
{
	return p->name;
}

const char *
profile_file(const struct profile *p)
{
	return p->file;
}

static const struct role *
find_role(const struct profile *p, const char *role)
{
	size_t i;

	while (p != NULL && !p->have_roles)
		p = p->base;
	for (i = 0; p != NULL && i < p->nroles; i++)
		if (strcmp(p->roles[i].name, role) == 0)
			return &p->roles[i];
	return NULL;
}

const char *const *
profile_runs(const struct profile *p, const char *role)
{
	const struct role *r = find_role(p, role);

	return r != NULL ? (const char *const *)r->runs.v : empty_list;
}

const char *const *
profile_needs(const struct profile *p, const char *role)
{
	const struct role *r = find_role(p, role);

	return r != NULL ? (const char *const *)r->needs.v : empty_list;
}

int
profile_versioned(const struct profile *p, const char *component)
{
	size_t i;

	while (p != NULL && !p->have_versioned)
		p = p->base;
	for (i = 0; p != NULL && i < p->versioned.n; i++)
		if (strcmp(p->versioned.v[i], component) == 0)
			return 1;
	return 0;
}

const char *const *
profile_steps(const struct profile *p, const char *slot)
{
	size_t i;

	while (p != NULL && !p->have_steps)
		p = p->base;
	for (i = 0; p != NULL && i < p->nsteps; i++)
		if (strcmp(p->steps[i].name, slot) == 0)
			return (const char *const *)p->steps[i].l.v;
	return NULL;
}

/* ---- variables ----------------------------------------------------------- */

static int
set_vars(const struct profile *p, const struct vars *run, struct vars *v,
    struct diag *d)
{
	struct tmpl_src src;
	char path[256], *out;
	size_t i;
	int r, bad = 0;

	/* The base's first, so the profile's own win. */
	if (p->base != NULL && (r = set_vars(p->base, run, v, d)) != 0) {
		if (r != KORCH_ERR_TEMPLATE)
			return r;
		bad = 1;
	}
	for (i = 0; i < p->nvars; i++) {
		snprintf(path, sizeof(path), "vars.%s", p->vars[i].key);
		memset(&src, 0, sizeof(src));
		src.file = p->file;
		src.line = p->vars[i].val.line;
		src.col = p->vars[i].val.col;
		src.path = path;
		r = template_render_src(&src, p->vars[i].val.s,
		    strlen(p->vars[i].val.s), run, &out, NULL, d);
		if (r == KORCH_ERR_TEMPLATE || r == KORCH_ERR_TOO_LARGE) {
			bad = 1;
			continue;
		}
		if (r != 0)
			return r;
		r = vars_set(v, p->vars[i].key, out);
		free(out);
		if (r != 0)
			return r;
	}
	return bad ? KORCH_ERR_TEMPLATE : 0;
}

static const struct flagset *
find_flags(const struct profile *p, const char *component)
{
	size_t i;

	for (; p != NULL; p = p->base)
		for (i = 0; i < p->nflags; i++)
			if (strcmp(p->flags[i].component, component) == 0)
				return &p->flags[i];
	return NULL;
}

/* flags.<component>: "--a \\\n  --b", the lines of an ExecStart. */
static int
set_flags(const struct profile *top, const struct profile *p, struct vars *v)
{
	static const char sep[] = " \\\n  ";
	const struct flagset *f;
	char key[256], lkey[300], line[16], *s;
	size_t i, j, len, off, n;
	int r;

	if (p->base != NULL && (r = set_flags(top, p->base, v)) != 0)
		return r;
	for (i = 0; i < p->nflags; i++) {
		/* A component the profile itself lists wins over its base's. */
		if ((f = find_flags(top, p->flags[i].component)) != &p->flags[i])
			continue;
		for (len = 1, j = 0; j < f->n; j++)
			len += strlen(f->flags[j].s) + sizeof(sep) - 1;
		if ((s = malloc(len)) == NULL)
			return KORCH_ERR_ALLOC;
		for (off = 0, j = 0; j < f->n; j++) {
			if (j > 0) {
				memcpy(s + off, sep, sizeof(sep) - 1);
				off += sizeof(sep) - 1;
			}
			n = strlen(f->flags[j].s);
			memcpy(s + off, f->flags[j].s, n);
			off += n;
		}
		s[off] = '\0';
		snprintf(key, sizeof(key), "flags.%s", f->component);
		for (j = 6; key[j] != '\0'; j++)
			if (key[j] == '-')
				key[j] = '_';
		r = vars_set(v, key, s);
		free(s);
		if (r != 0)
			return r;
		/* Where the list is written, for render's messages. */
		snprintf(line, sizeof(line), "%u", f->line);
		snprintf(lkey, sizeof(lkey), "profile.line.%s", key);
		if ((r = vars_set(v, lkey, line)) != 0)
			return r;
	}
	return 0;
}

int
profile_vars(const struct profile *p, const struct vars *run, struct vars *v,
    struct diag *d)
{
	int r;

	if ((r = vars_set(v, "profile.name", p->name)) != 0 ||
	    (r = vars_set(v, "profile.file", p->file)) != 0)
		return r;
	if ((r = set_flags(p, p, v)) != 0)
		return r;
	return set_vars(p, run, v, d);
}
