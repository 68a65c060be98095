/*
 * playbook_check.c - the checks that need every step at once, after each
 * file was parsed (playbook.c): unique step names, needs resolved to
 * steps, no cycles among them, watch targets resolved to earlier tasks of
 * this step or of a step it needs.  Positions come from the structs: the
 * documents are closed by now.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modspec.h"
#include "base/diag.h"
#include "spec/playbook.h"
#include "spec/playbook-int.h"
#include "spec/yaml_doc.h"

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
step_names(struct pb_loader *ld)
{
	const struct playbook *pb = ld->pb;
	const char **v;
	size_t i, n = 0;

	if ((v = calloc(pb->nsteps + 1, sizeof(*v))) == NULL) {
		ld->y.oom = 1;
		return NULL;
	}
	for (i = 0; i < pb->nsteps; i++)
		if (pb->steps[i].name != NULL)
			v[n++] = pb->steps[i].name;
	return v;
}

static void
check_names_and_needs(struct pb_loader *ld)
{
	struct ydoc *y = &ld->y;
	struct playbook *pb = ld->pb;
	const char **names, *hint;
	char sub[YDOC_PATHLEN];
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
			ydoc_pathf(sub, "%s.name", s->path);
			ydoc_bad_at(y, s->file, s->line, s->col, sub,
			    "duplicate step name '%s' (first at %s:%u)",
			    s->name, pb->steps[idx].file, pb->steps[idx].line);
		}
		for (j = 0; j < s->nneeds; j++) {
			struct pb_need *nd = &s->needs[j];

			ydoc_pathf(sub, "%s.needs[%zu]", s->path, j);
			if ((idx = playbook_find_step(pb, nd->name)) >= 0) {
				nd->step = (size_t)idx;
				continue;
			}
			nd->step = SIZE_MAX;
			hint = diag_suggest(nd->name, names);
			ydoc_bad_at(y, s->file, nd->line, nd->col, sub,
			    "unknown step '%s'%s%s%s", nd->name,
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
find_cycles(struct pb_loader *ld, size_t s, unsigned char *color,
    size_t *stack, size_t depth)
{
	struct ydoc *y = &ld->y;
	struct playbook *pb = ld->pb;
	struct pb_step *st = &pb->steps[s];
	char text[1024], sub[YDOC_PATHLEN];
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
		ydoc_pathf(sub, "%s.needs[%zu]", st->path, j);
		ydoc_bad_at(y, st->file, st->needs[j].line, st->needs[j].col,
		    sub, "dependency cycle: %s", text);
	}
	color[s] = 2;
}

static void
check_cycles(struct pb_loader *ld)
{
	struct playbook *pb = ld->pb;
	unsigned char *color = NULL;
	size_t *stack = NULL, i;

	if ((color = calloc(pb->nsteps + 1, 1)) == NULL ||
	    (stack = calloc(pb->nsteps + 1, sizeof(*stack))) == NULL) {
		ld->y.oom = 1;
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
resolve_watch(struct pb_loader *ld, size_t si, size_t ti, struct pb_watch *w,
    unsigned char *seen)
{
	struct ydoc *y = &ld->y;
	struct playbook *pb = ld->pb;
	struct pb_step *s = &pb->steps[si];
	struct pb_task *t = &s->tasks[ti];
	const char *slash, *tname;
	char sub[YDOC_PATHLEN], *sname = NULL;
	long ws, wt;
	size_t i;

	ydoc_pathf(sub, "%s.%s.watch[%zu]", t->path,
	    t->mod ? t->mod->name : "?", (size_t)(w - t->watch));
	if ((slash = strchr(w->name, '/')) != NULL) {
		if ((sname = strndup(w->name, (size_t)(slash - w->name))) ==
		    NULL) {
			y->oom = 1;
			return;
		}
		tname = slash + 1;
		ws = playbook_find_step(pb, sname);
	} else {
		tname = w->name;
		ws = (long)si;
	}
	if (ws < 0) {
		ydoc_bad_at(y, s->file, w->line, w->col, sub, "watch target "
		    "'%s': unknown step '%s'", w->name, sname);
		goto out;
	}
	if ((wt = playbook_find_task(&pb->steps[ws], tname)) < 0) {
		ydoc_bad_at(y, s->file, w->line, w->col, sub, "watch target "
		    "'%s': step '%s' has no task named '%s'", w->name,
		    pb->steps[ws].name, tname);
		goto out;
	}
	if (pb->steps[ws].tasks[wt].foreach_list != NULL) {
		ydoc_bad_at(y, s->file, w->line, w->col, sub, "watch target "
		    "'%s' runs once per item (foreach): watch a single task",
		    w->name);
		goto out;
	}
	if ((size_t)ws == si && (size_t)wt >= ti) {
		ydoc_bad_at(y, s->file, w->line, w->col, sub, "watch target "
		    "'%s' must come before this task", w->name);
		goto out;
	}
	if ((size_t)ws != si) {
		for (i = 0; i < pb->nsteps; i++)
			seen[i] = 0;
		if (!needs_step(pb, si, (size_t)ws, seen)) {
			ydoc_bad_at(y, s->file, w->line, w->col, sub, "watch "
			    "target '%s' is in step '%s', which step '%s' does "
			    "not need (directly or through other steps)",
			    w->name, pb->steps[ws].name, s->name);
			goto out;
		}
	}
	w->step = (size_t)ws;
	w->task = (size_t)wt;
 out:
	free(sname);
}

static void
check_watches(struct pb_loader *ld)
{
	struct playbook *pb = ld->pb;
	unsigned char *seen;
	size_t i, j, k;

	if ((seen = calloc(pb->nsteps + 1, 1)) == NULL) {
		ld->y.oom = 1;
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

void
pb_check_refs(struct pb_loader *ld)
{
	check_names_and_needs(ld);
	check_cycles(ld);
	check_watches(ld);
}
