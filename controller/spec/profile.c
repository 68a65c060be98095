/*
 * profile.c - per-version component profiles (see profile.h): the set of
 * .yaml files in <playbooks>/profiles and what needs all of them (unique
 * names, bases, ranges that do not overlap), then the queries and
 * variables.  One file's YAML is read by profile_load.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "err.h"
#include "spec/profile.h"
#include "spec/profile-int.h"
#include "spec/yaml_doc.h"
#include "engine/template.h"
#include "cluster/upgrade_plan.h"
#include "engine/vars.h"

static const char *const empty_list[] = { NULL };

/* ---- the set ------------------------------------------------------------- */

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
	char dir[PATH_MAX], file[PATH_MAX], **names = NULL;
	size_t n = 0, i;
	int r = KORCH_ERR_ALLOC, oom = 0, nbad = 0;

	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return KORCH_ERR_ALLOC;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/profiles", playbooks_dir) >=
	    sizeof(dir)) {
		r = KORCH_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = ydoc_dir_files(dir, 0, &names, &n)) == KORCH_ERR_SYSTEM) {
		if (errno == ENOENT) {
			*out = ps;
			return 0;
		}
		diag_add(d, dir, 0, 0, NULL, "cannot read: %s",
		    strerror(errno));
		r = KORCH_ERR_PARSE;
		goto out;
	}
	if (r != 0)
		goto out;
	r = KORCH_ERR_ALLOC;
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
		if (profile_load_file(file, &ps->p[ps->n], d, &oom) != 0) {
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
	while (p != NULL && !p->have_versioned)
		p = p->base;
	return p != NULL && strlist_has(&p->versioned, component);
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
