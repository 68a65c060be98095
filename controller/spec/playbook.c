/*
 * playbook.c - see playbook.h.  The directory, its files and their
 * steps; a step's tasks are playbook_task.c.
 *
 * Two passes: each file is walked once while its YAML document is open
 * (shape, modules, arguments, templates), then the whole set is checked
 * for what needs every step at once (playbook_check.c): duplicate names,
 * needs, cycles and watch targets.  Positions for the second pass are
 * kept in the structs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "err.h"
#include "base/diag.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "spec/playbook-int.h"
#include "spec/yaml_doc.h"

static const char *const step_keys[] = { "name", "hosts", "needs", "tasks",
	"verify", "any_errors_fatal", "serial", NULL };

/* Names: steps, tasks. */
int
pb_name_valid(const char *s)
{
	return inventory_role_valid(s);
}

/* The sorted *.yaml files in dir (regular files, no dot files). */
static int
list_files(struct pb_loader *ld)
{
	struct playbook *pb = ld->pb;
	char **names;
	size_t n, i;
	int r;

	r = ydoc_dir_files(ld->dir, 1, &names, &n);
	if (r == KORCH_ERR_SYSTEM) {
		ydoc_bad_at(&ld->y, ld->dir, 0, 0, NULL, "cannot open playbook "
		    "directory: %s", strerror(errno));
		return KORCH_ERR_PARSE;
	}
	if (r != 0)
		return r;
	if (n == 0) {
		ydoc_bad_at(&ld->y, ld->dir, 0, 0, NULL, "no *.yaml step files "
		    "in the playbook directory");
		return KORCH_ERR_PARSE;
	}
	if ((pb->files = calloc(n, sizeof(*pb->files))) == NULL)
		r = KORCH_ERR_ALLOC;
	for (i = 0; r == 0 && i < n; i++) {
		if (asprintf(&pb->files[i], "%s/%s", ld->dir, names[i]) < 0)
			r = KORCH_ERR_ALLOC;
		else
			pb->nfiles++;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* ---- steps --------------------------------------------------------------- */

static void
load_hosts_sel(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct pb_step *st)
{
	yaml_node_t *it;
	const char *s;
	size_t i;

	if (n == NULL) {
		ydoc_bad(y, NULL, path, "missing");
		return;
	}
	if ((s = ydoc_scalar(n)) != NULL && strcmp(s, "all") == 0) {
		st->all = 1;
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE || ydoc_count(n) == 0) {
		ydoc_bad(y, n, path, "expected 'all' or a non-empty sequence "
		    "of roles, got %s", diag_yaml_kind(n));
		return;
	}
	if ((st->roles = calloc(ydoc_count(n), sizeof(*st->roles))) == NULL) {
		y->oom = 1;
		return;
	}
	for (i = 0; i < ydoc_count(n); i++) {
		if ((s = ydoc_item_str(y, n, i, path, "a role name", &it)) ==
		    NULL)
			continue;
		if (strcmp(s, "all") == 0) {
			st->all = 1;
			continue;
		}
		if (!inventory_role_valid(s)) {
			char sub[YDOC_PATHLEN];

			ydoc_pathf(sub, "%s[%zu]", path, i);
			ydoc_bad(y, it, sub, "invalid role '%s' ([a-z0-9_-]+)",
			    s);
			continue;
		}
		if ((st->roles[st->nroles] = ydoc_dup(y, s)) == NULL)
			return;
		st->nroles++;
	}
}

static void
load_needs(struct ydoc *y, const yaml_node_t *n, const char *path,
    struct pb_step *st)
{
	yaml_node_t *it;
	const char *s;
	size_t i;

	if (!ydoc_want_seq(y, n, path, "step names"))
		return;
	if ((st->needs = calloc(ydoc_count(n) + 1, sizeof(*st->needs))) ==
	    NULL) {
		y->oom = 1;
		return;
	}
	for (i = 0; i < ydoc_count(n); i++) {
		if ((s = ydoc_item_str(y, n, i, path, "a step name", &it)) ==
		    NULL)
			continue;
		if ((st->needs[st->nneeds].name = ydoc_dup(y, s)) == NULL)
			return;
		st->needs[st->nneeds].line = ydoc_line(it);
		st->needs[st->nneeds].col = ydoc_col(it);
		st->nneeds++;
	}
}

/* tasks: then verify:, at least one entry between them. */
static void
load_step_tasks(struct pb_loader *ld, const yaml_node_t *map,
    const char *path, struct pb_step *st)
{
	struct ydoc *y = &ld->y;
	yaml_node_t *tasks, *verify;
	char sub[YDOC_PATHLEN];
	size_t cnt = 0;

	tasks = ydoc_get(y, map, "tasks");
	verify = ydoc_get(y, map, "verify");
	if (tasks != NULL && tasks->type == YAML_SEQUENCE_NODE)
		cnt += ydoc_count(tasks);
	if (verify != NULL && verify->type == YAML_SEQUENCE_NODE)
		cnt += ydoc_count(verify);
	if (cnt == 0 && (tasks == NULL || tasks->type == YAML_SEQUENCE_NODE) &&
	    (verify == NULL || verify->type == YAML_SEQUENCE_NODE)) {
		ydoc_bad(y, map, path, "a step needs at least one task or "
		    "verify probe");
		return;
	}
	if ((st->tasks = calloc(cnt + 1, sizeof(*st->tasks))) == NULL) {
		y->oom = 1;
		return;
	}
	ydoc_pathf(sub, "%s.tasks", path);
	if (tasks != NULL)
		pb_load_task_list(ld, tasks, sub, st, 0);
	ydoc_pathf(sub, "%s.verify", path);
	if (verify != NULL)
		pb_load_task_list(ld, verify, sub, st, 1);
}

/* serial: N, 1 <= N <= PB_SERIAL_MAX. */
static void
load_serial(struct ydoc *y, yaml_node_t *n, const char *path, const char *s,
    struct pb_step *st)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    v < 1 || v > PB_SERIAL_MAX) {
		ydoc_bad(y, n, path, "expected a number of hosts from 1 to %u, "
		    "not '%s'", PB_SERIAL_MAX, s);
		return;
	}
	st->serial = (unsigned)v;
}

/* Task names are unique in a step; keys name unnamed tasks by their
 * 1-based position. */
static void
name_tasks(struct ydoc *y, struct pb_step *st)
{
	char sub[YDOC_PATHLEN];
	size_t j, k;

	for (j = 0; j < st->ntasks; j++) {
		struct pb_task *t = &st->tasks[j];

		for (k = 0; t->name != NULL && k < j; k++) {
			if (st->tasks[k].name != NULL &&
			    strcmp(st->tasks[k].name, t->name) == 0) {
				ydoc_pathf(sub, "%s.name", t->path);
				ydoc_bad_at(y, y->file, t->line, t->col, sub,
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
			y->oom = 1;
	}
}

static void
load_step(struct pb_loader *ld, const yaml_node_t *map, size_t i,
    struct pb_step *st)
{
	struct ydoc *y = &ld->y;
	yaml_node_t *n;
	char path[YDOC_PATHLEN], sub[YDOC_PATHLEN];
	const char *s;

	ydoc_pathf(path, "steps[%zu]", i);
	st->line = ydoc_line(map);
	st->col = ydoc_col(map);
	if ((st->path = ydoc_dup(y, path)) == NULL)
		return;
	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, map, path, "expected a step (a mapping), got %s",
		    diag_yaml_kind(map));
		return;
	}
	ydoc_check_keys(y, map, path, step_keys);
	ydoc_pathf(sub, "%s.name", path);
	if ((n = ydoc_require(y, map, "name", path)) != NULL &&
	    (s = ydoc_want_str(y, n, sub, "a step name")) != NULL) {
		if (!pb_name_valid(s))
			ydoc_bad(y, n, sub, "invalid step name '%s' "
			    "([a-z0-9_-]+)", s);
		else {
			st->name = ydoc_dup(y, s);
			st->line = ydoc_line(n);
			st->col = ydoc_col(n);
		}
	}
	ydoc_pathf(sub, "%s.hosts", path);
	n = ydoc_get(y, map, "hosts");
	if (n == NULL)
		ydoc_bad(y, map, sub, "missing required key 'hosts' (a list "
		    "of roles, or all)");
	else
		load_hosts_sel(y, n, sub, st);
	ydoc_pathf(sub, "%s.needs", path);
	if ((n = ydoc_get(y, map, "needs")) != NULL)
		load_needs(y, n, sub, st);
	ydoc_pathf(sub, "%s.any_errors_fatal", path);
	if ((n = ydoc_get(y, map, "any_errors_fatal")) != NULL &&
	    (s = ydoc_want_str(y, n, sub, "true or false")) != NULL) {
		if (strcmp(s, "true") == 0)
			st->any_errors_fatal = 1;
		else if (strcmp(s, "false") != 0)
			ydoc_bad(y, n, sub, "expected true or false, not '%s'",
			    s);
	}
	ydoc_pathf(sub, "%s.serial", path);
	if ((n = ydoc_get(y, map, "serial")) != NULL &&
	    (s = ydoc_want_str(y, n, sub, "a number of hosts")) != NULL)
		load_serial(y, n, sub, s, st);
	load_step_tasks(ld, map, path, st);
	name_tasks(y, st);
}

/* One file's steps, appended to ld->pb->steps. */
static int
load_file(struct pb_loader *ld, const char *file)
{
	static const char *const file_keys[] = { "steps", NULL };
	struct playbook *pb = ld->pb;
	struct ydoc *y = &ld->y;
	yaml_node_t *root, *seq;
	struct pb_step *nv;
	size_t i, cnt;

	if (ydoc_open(y, file) != 0)
		return y->oom ? KORCH_ERR_ALLOC : 0;
	root = ydoc_root(y);
	seq = root;
	if (root->type == YAML_MAPPING_NODE) {
		ydoc_check_keys(y, root, "", file_keys);
		if ((seq = ydoc_require(y, root, "steps", "")) == NULL)
			goto out;
	}
	if (!ydoc_want_seq(y, seq, seq == root ? "" : "steps", "steps (or a "
	    "mapping with steps:)"))
		goto out;
	cnt = ydoc_count(seq);
	if (cnt == 0)
		goto out;
	if ((nv = reallocarray(pb->steps, pb->nsteps + cnt,
	    sizeof(*nv))) == NULL) {
		y->oom = 1;
		goto out;
	}
	pb->steps = nv;
	memset(pb->steps + pb->nsteps, 0, cnt * sizeof(*nv));
	for (i = 0; i < cnt; i++) {
		pb->steps[pb->nsteps].file = file;
		pb->nsteps++;
		load_step(ld, ydoc_item(y, seq, i), i,
		    &pb->steps[pb->nsteps - 1]);
	}
 out:
	ydoc_close(y);
	return y->oom ? KORCH_ERR_ALLOC : 0;
}

int
playbook_load(const char *dir, struct playbook **out, struct diag *d)
{
	struct pb_loader ld;
	size_t i;
	int r = KORCH_ERR_ALLOC;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.dir = dir;
	ld.y.d = d;
	if ((ld.pb = calloc(1, sizeof(*ld.pb))) == NULL ||
	    (ld.pb->dir = strdup(dir)) == NULL)
		goto out;
	if ((r = list_files(&ld)) != 0)
		goto out;
	for (i = 0; i < ld.pb->nfiles; i++)
		if ((r = load_file(&ld, ld.pb->files[i])) != 0)
			goto out;
	if (ld.pb->nsteps == 0 && ld.y.nbad == 0)
		ydoc_bad_at(&ld.y, dir, 0, 0, NULL, "the playbook has no "
		    "steps");
	pb_check_refs(&ld);
	r = KORCH_ERR_ALLOC;
	if (ld.y.oom)
		goto out;
	r = KORCH_ERR_PARSE;
	if (ld.y.nbad > 0)
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
