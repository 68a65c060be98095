/*
 * helpers_ctl.h - fixtures of the controller's unit tests: where their
 * data lives (tests/unit/data and the shipped playbooks/), diagnostics
 * looked up by their place, variables by name, an inventory that must
 * load, a plan (the test inventory, a playbook and their dag), what it
 * renders for a host and the digests it gives, a playbook that must be
 * refused, and fixture versions.  Header-only (static inline) because
 * the Makefile links each tests/unit/test_*.c on its own.
 */
#ifndef KORCH_TEST_HELPERS_CTL_H
#define KORCH_TEST_HELPERS_CTL_H

#include <limits.h>

#include "helpers_fs.h"

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "engine/dag.h"
#include "engine/render.h"
#include "cluster/upgrade_plan.h"

/* ---- where the data is --------------------------------------------------- */

/* buf is $env when set, else rel from this header's directory (tests are
 * run from the repository's root, and __FILE__ is the path the compiler
 * was given); done once, buf keeps it. */
static inline const char *
th_dir(char *buf, size_t len, const char *env, const char *rel)
{
	const char *e = getenv(env), *slash = strrchr(__FILE__, '/');

	if (buf[0] != '\0')
		return buf;
	if (e != NULL)
		(void)snprintf(buf, len, "%s", e);
	else
		(void)snprintf(buf, len, "%.*s/%s",
		    slash ? (int)(slash - __FILE__) : 1,
		    slash ? __FILE__ : ".", rel);
	return buf;
}

/* tests/unit/data; KORCH_TEST_DATA overrides. */
static inline const char *
th_datadir(void)
{
	static char dir[PATH_MAX];

	return th_dir(dir, sizeof(dir), "KORCH_TEST_DATA", "data");
}

/* The shipped playbooks/ two levels up; KORCH_TEST_PLAYBOOKS overrides. */
static inline const char *
th_playbooks(void)
{
	static char dir[PATH_MAX];

	return th_dir(dir, sizeof(dir), "KORCH_TEST_PLAYBOOKS",
	    "../../playbooks");
}

/* <data>/sub/name, e.g. th_data("inv", "cluster.yaml"); in one of four
 * static buffers, so a few can be held at once. */
static inline const char *
th_data(const char *sub, const char *name)
{
	static char path[4][PATH_MAX + 64];
	static unsigned next;
	char *p = path[next++ % 4];

	(void)snprintf(p, sizeof(path[0]), "%s/%s/%s", th_datadir(), sub,
	    name);
	return p;
}

/* ---- diagnostics --------------------------------------------------------- */

/* The diagnostic at line:col with exactly this path whose message contains
 * msg, in a file whose name ends with file (any file when file is NULL).
 * When there is none, all of d is printed and the test fails. */
static inline const struct diag_entry *
th_expect_diag(const struct diag *d, const char *file, unsigned line,
    unsigned col, const char *path, const char *msg)
{
	const struct diag_entry *e;
	size_t i, fl = file != NULL ? strlen(file) : 0, el;

	for (i = 0; i < diag_count(d); i++) {
		e = diag_get(d, i);
		if (file != NULL) {
			el = strlen(e->file);
			if (el < fl || strcmp(e->file + el - fl, file) != 0)
				continue;
		}
		if (e->line == line && e->col == col &&
		    strcmp(e->path, path) == 0 && strstr(e->msg, msg) != NULL)
			return e;
	}
	diag_print(d, stderr);
	if (file != NULL)
		fail_msg("no diagnostic %s:%u:%u: %s: ...%s...", file, line,
		    col, path, msg);
	else
		fail_msg("no diagnostic %u:%u: %s: ...%s...", line, col, path,
		    msg);
	return NULL;
}

/* A diagnostic a test expects (see th_expect_diag). */
struct th_want_diag {
	unsigned	 line, col;
	const char	*path;
	const char	*msg;
};

/* Each of want[0..n) is in d, in a file ending with file (any file when
 * file is NULL). */
static inline void
th_expect_diags(const struct diag *d, const char *file,
    const struct th_want_diag *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		(void)th_expect_diag(d, file, want[i].line, want[i].col,
		    want[i].path, want[i].msg);
}

/* Every diagnostic of d formatted, one a line, into buf (cut to fit). */
static inline void
th_diag_text(const struct diag *d, char *buf, size_t len)
{
	char line[1024];
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < diag_count(d) && used < len; i++) {
		diag_format(diag_get(d, i), line, sizeof(line));
		n = snprintf(buf + used, len - used, "%s\n", line);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* ---- variables ----------------------------------------------------------- */

/* A variable a test expects: its value, or unset when value is NULL. */
struct th_want_var {
	const char	*name;
	const char	*value;
};

/* Each of want[0..n) is so in v. */
static inline void
th_expect_vars(const struct vars *v, const struct th_want_var *want,
    size_t n)
{
	const char *got;
	size_t i;

	for (i = 0; i < n; i++) {
		got = vars_get(v, want[i].name);
		if (want[i].value == NULL && got != NULL)
			fail_msg("%s is '%s', want it unset", want[i].name,
			    got);
		if (want[i].value != NULL &&
		    (got == NULL || strcmp(got, want[i].value) != 0))
			fail_msg("%s is '%s', want '%s'", want[i].name,
			    got != NULL ? got : "(unset)", want[i].value);
	}
}

/* ---- inventories --------------------------------------------------------- */

/* The inventory at path, which must load (the caller frees it); its
 * diagnostics are printed when it does not. */
static inline struct inventory *
th_inv_load(const char *path)
{
	struct inventory *inv = NULL;
	struct diag *d;
	int r;

	assert_non_null(d = diag_new());
	r = inventory_load(path, &inv, d);
	if (r != 0)
		diag_print(d, stderr);
	diag_free(d);
	if (r != 0)
		fail_msg("inventory %s does not load", path);
	return inv;
}

/* ---- plans: the test inventory, a playbook, their dag -------------------- */

struct th_plan {
	struct diag		*d;	/* what loading and rendering said */
	struct inventory	*inv;	/* data/inv/cluster.yaml */
	struct playbook		*pb;
	struct dag		*g;	/* NULL when dag_build refused */
	struct vars		*extra;	/* run-wide variables; th_plan_free
					 * frees them */
};

/* Hosts of data/inv/cluster.yaml, in its order. */
enum { M1, N1, N2, E1, NHOSTS };

/* data/inv/cluster.yaml with the playbook directory pbdir, which must load;
 * dag_build must return want.  Free with th_plan_free. */
static inline struct th_plan *
th_plan_open(const char *pbdir, int want)
{
	struct th_plan *f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	assert_non_null(f->d = diag_new());
	assert_int_equal(inventory_load(th_data("inv", "cluster.yaml"),
	    &f->inv, f->d), 0);
	if (playbook_load(pbdir, &f->pb, f->d) != 0) {
		diag_print(f->d, stderr);
		fail_msg("playbook %s does not load", pbdir);
	}
	assert_int_equal(dag_build(f->pb, f->inv, &f->g, f->d), want);
	return f;
}

static inline void
th_plan_free(struct th_plan *f)
{
	vars_free(f->extra);
	dag_free(f->g);
	playbook_free(f->pb);
	inventory_free(f->inv);
	diag_free(f->d);
	free(f);
}

/* The tasks of host, rendered with f->extra; must render without a
 * diagnostic.  The caller frees the result. */
static inline struct rendered_host *
th_render(struct th_plan *f, size_t host)
{
	struct rendered_host *rh = NULL;

	if (render_host_tasks(f->pb, f->g, f->inv, host, NULL, f->extra, &rh,
	    f->d) != 0) {
		diag_print(f->d, stderr);
		fail_msg("render failed");
	}
	assert_int_equal(diag_count(f->d), 0);
	return rh;
}

/* rh's task key, which must be there. */
static inline const struct rendered_task *
th_task(const struct rendered_host *rh, const char *key)
{
	const struct rendered_task *t = rendered_host_find(rh, key);

	if (t == NULL)
		fail_msg("no task %s on %s", key, rh->name);
	return t;
}

/* Task key has the same digest in a and in b. */
static inline void
th_same_digest(const struct rendered_host *a, const struct rendered_host *b,
    const char *key)
{
	assert_string_equal(th_task(a, key)->digest, th_task(b, key)->digest);
}

/* Task key has a digest in b other than its digest in a. */
static inline void
th_other_digest(const struct rendered_host *a, const struct rendered_host *b,
    const char *key)
{
	assert_string_not_equal(th_task(a, key)->digest,
	    th_task(b, key)->digest);
}

/* The playbook directory pbdir must be refused: KORCH_ERR_PARSE and no
 * playbook.  Its diagnostics (the caller frees them). */
static inline struct diag *
th_pb_refused(const char *pbdir)
{
	struct playbook *pb = (struct playbook *)1;
	struct diag *d;

	assert_non_null(d = diag_new());
	assert_int_equal(playbook_load(pbdir, &pb, d), KORCH_ERR_PARSE);
	assert_null(pb);
	return d;
}

/* ---- versions ------------------------------------------------------------ */

/* A version the fixture knows to be good. */
static inline struct kver
th_kver(const char *s)
{
	struct kver v;

	if (kver_parse(s, &v) != 0)
		fail_msg("fixture version '%s' does not parse", s);
	return v;
}

#endif
