/*
 * test_foreach.c - a task rendered once per item of a comma-separated
 * variable (foreach: { list: VAR, fields: PREFIX }): keys "step/name[item]",
 * {{ item }} and {{ item.F }} per item, `when` per item, ids in order,
 * distinct digests, an empty list, an undefined list, item scoped to its
 * task, and a watch on a foreach task refused at load.
 * Fixtures: tests/unit/data/inv/cluster.yaml, playbooks written to a
 * scratch directory (removed after the last test, whatever failed).
 */
#include "helpers_ctl.h"

#include "wire.h"

#define SHA_PAUSE \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_BUSYBOX \
	"2222222222222222222222222222222222222222222222222222222222222222"

/* Line 1 .. : the playbook most tests render. */
static const char good_pb[] =
    "- name: s\n"
    "  hosts: [all]\n"
    "  tasks:\n"
    "    - name: t\n"
    "      foreach: { list: bundle.images, fields: bundle.image }\n"
    "      file:\n"
    "        path: \"/var/lib/korch/images/{{ item }}.tar\"\n"
    "        mode: \"0600\"\n"
    "        content: \"{{ item.ref }} {{ item.sha256 }} on {{ host.name }}\"\n"
    "    - name: load\n"
    "      foreach: { list: bundle.images, fields: bundle.image }\n"
    "      when: \"item.ref == 'korch.local/pause:3.2'\"\n"
    "      command:\n"
    "        argv: [docker, load, --input, "
    "\"/var/lib/korch/images/{{ item }}.tar\"]\n"
    "        unless: [docker, image, inspect, \"{{ item.ref }}\"]\n"
    "    - name: after\n"
    "      file: { path: /etc/after, content: \"{{ host.name }}\" }\n"
    "- name: u\n"
    "  hosts: [all]\n"
    "  needs: [s]\n"
    "  tasks:\n"
    "    - name: svc\n"
    "      service: { name: x, unit: \"[Service]\\n\", watch: [s/after] }\n";

/* A new playbook directory of one file, text; its path (static). */
static const char *
pb_dir(const char *text)
{
	static char dir[TH_GROUP_DIR_LEN + 16];
	static unsigned n;

	(void)snprintf(dir, sizeof(dir), "%s/%u", th_group_dir(), n++);
	assert_int_equal(mkdir(dir, 0755), 0);
	th_put(dir, "10-s.yaml", text);
	return dir;
}

/* What bundle_vars() gives for a bundle with two images. */
static struct vars *
image_vars(const char *list)
{
	struct vars *v;

	assert_non_null(v = vars_new(NULL));
	if (list != NULL)
		assert_int_equal(vars_set(v, "bundle.images", list), 0);
	assert_int_equal(vars_set(v, "bundle.image.pause.ref",
	    "korch.local/pause:3.2"), 0);
	assert_int_equal(vars_set(v, "bundle.image.pause.sha256", SHA_PAUSE),
	    0);
	assert_int_equal(vars_set(v, "bundle.image.pause.size", "700"), 0);
	assert_int_equal(vars_set(v, "bundle.image.busybox.ref",
	    "korch.local/busybox:1.31"), 0);
	assert_int_equal(vars_set(v, "bundle.image.busybox.sha256",
	    SHA_BUSYBOX), 0);
	assert_int_equal(vars_set(v, "bundle.image.busybox.size", "900"), 0);
	return v;
}

/* A playbook of one file, text, loaded with the test inventory; list is
 * the images' bundle.images. */
static struct th_plan *
fx_load(const char *text, const char *list)
{
	struct th_plan *f = th_plan_open(pb_dir(text), 0);

	assert_int_equal(diag_count(f->d), 0);
	f->extra = image_vars(list);
	return f;
}

/* n1's tasks must not render (KORCH_ERR_TEMPLATE, nothing rendered), with
 * ndiag diagnostics in f->d. */
static void
expect_n1_refused(struct th_plan *f, size_t ndiag)
{
	struct rendered_host *rh = (struct rendered_host *)1;

	assert_int_equal(render_host_tasks(f->pb, f->g, f->inv, N1, NULL,
	    f->extra, &rh, f->d), KORCH_ERR_TEMPLATE);
	assert_null(rh);
	assert_int_equal(diag_count(f->d), ndiag);
}

/* The values of argument key of t, in order, joined with ' '. */
static void
args_of(const struct rendered_task *t, const char *key, char *buf,
    size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < t->wire->nargs && off < len; i++)
		if (strcmp(t->wire->args[i].key, key) == 0)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    off ? " " : "", t->wire->args[i].val);
}

static void
test_loaded(void **state)
{
	struct th_plan *f = fx_load(good_pb, "pause,busybox");
	const struct pb_task *t;

	(void)state;
	t = &f->pb->steps[0].tasks[0];
	assert_string_equal(t->key, "s/t");
	assert_string_equal(t->foreach_list, "bundle.images");
	assert_string_equal(t->foreach_fields, "bundle.image");
	assert_null(f->pb->steps[0].tasks[2].foreach_list);
	assert_null(f->pb->steps[0].tasks[2].foreach_fields);
	th_plan_free(f);
}

static void
test_two_items(void **state)
{
	static const char *const keys[] = { "s/t[pause]", "s/t[busybox]",
	    "s/load[pause]", "s/after" };
	struct th_plan *f = fx_load(good_pb, "pause,busybox");
	const struct rendered_task *a, *b;
	struct rendered_host *rh;
	const struct rendered_step *s;
	char buf[512];
	size_t i;

	(void)state;
	rh = th_render(f, N1);
	assert_int_equal(rh->nsteps, 2);
	s = &rh->steps[0];
	assert_string_equal(s->name, "s");
	/* The items in the list's order, each task's items together; when
	 * dropped load[busybox]. */
	assert_int_equal(s->ntasks, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(s->tasks[i].key, keys[i]);
		assert_int_equal(s->tasks[i].wire->id, i + 1);
		assert_ptr_equal(s->tasks[i].wire, &s->wire_tasks[i]);
		assert_int_equal(strlen(s->tasks[i].digest), 64);
	}
	assert_int_equal(s->tasks[0].task, 0);
	assert_int_equal(s->tasks[1].task, 0);
	assert_int_equal(s->tasks[2].task, 1);
	assert_int_equal(s->tasks[3].task, 2);
	assert_int_equal(rh->ntasks, 5);
	assert_null(rendered_host_find(rh, "s/load[busybox]"));
	assert_null(rendered_host_find(rh, "s/t"));

	a = th_task(rh, "s/t[pause]");
	b = th_task(rh, "s/t[busybox]");
	assert_string_equal(a->module, "file");
	assert_string_equal(render_task_arg(a, "path"),
	    "/var/lib/korch/images/pause.tar");
	assert_string_equal(render_task_arg(a, "content"),
	    "korch.local/pause:3.2 " SHA_PAUSE " on n1");
	assert_string_equal(render_task_arg(a, "mode"), "0600");
	assert_string_equal(render_task_arg(b, "path"),
	    "/var/lib/korch/images/busybox.tar");
	assert_string_equal(render_task_arg(b, "content"),
	    "korch.local/busybox:1.31 " SHA_BUSYBOX " on n1");
	/* Different desired states, different digests. */
	assert_string_not_equal(a->digest, b->digest);

	a = th_task(rh, "s/load[pause]");
	assert_string_equal(a->module, "command");
	args_of(a, "argv", buf, sizeof(buf));
	assert_string_equal(buf, "docker load --input "
	    "/var/lib/korch/images/pause.tar");
	args_of(a, "unless", buf, sizeof(buf));
	assert_string_equal(buf, "docker image inspect korch.local/pause:3.2");

	/* A later task watching a plain task still gets its id. */
	a = th_task(rh, "u/svc");
	assert_int_equal(a->wire->id, 5);
	assert_int_equal(a->wire->nwatch, 1);
	assert_int_equal(a->wire->watch[0], 4);
	assert_int_equal(th_task(rh, "s/after")->nwatchers, 1);
	assert_int_equal(th_task(rh, "s/t[pause]")->nwatchers, 0);
	rendered_host_free(rh);

	/* The same items on another host: the host's own values. */
	rh = th_render(f, M1);
	assert_string_equal(render_task_arg(th_task(rh, "s/t[busybox]"),
	    "content"), "korch.local/busybox:1.31 " SHA_BUSYBOX " on m1");
	rendered_host_free(rh);
	th_plan_free(f);
}

static void
test_digests_per_item(void **state)
{
	struct th_plan *f = fx_load(good_pb, "pause,busybox");
	struct rendered_host *a, *b;
	char before[65];

	(void)state;
	a = th_render(f, N1);
	b = th_render(f, N1);
	th_same_digest(a, b, "s/t[pause]");
	th_same_digest(a, b, "s/t[busybox]");
	strcpy(before, th_task(a, "s/t[busybox]")->digest);
	rendered_host_free(b);

	/* Change one item's field: only that item's task changes. */
	assert_int_equal(vars_set(f->extra, "bundle.image.busybox.sha256",
	    SHA_PAUSE), 0);
	b = th_render(f, N1);
	assert_string_not_equal(th_task(b, "s/t[busybox]")->digest, before);
	th_same_digest(b, a, "s/t[pause]");
	rendered_host_free(a);
	rendered_host_free(b);

	/* The list's order is the render order. */
	assert_int_equal(vars_set(f->extra, "bundle.images", "busybox,pause"),
	    0);
	a = th_render(f, N1);
	assert_string_equal(a->steps[0].tasks[0].key, "s/t[busybox]");
	assert_string_equal(a->steps[0].tasks[1].key, "s/t[pause]");
	rendered_host_free(a);
	th_plan_free(f);
}

/* With bundle.images list, n1's first step has ntasks tasks, first and
 * second the first two. */
static void
expect_first_step(struct th_plan *f, const char *list, size_t ntasks,
    const char *first, const char *second)
{
	struct rendered_host *rh;

	assert_int_equal(vars_set(f->extra, "bundle.images", list), 0);
	rh = th_render(f, N1);
	assert_int_equal(rh->steps[0].ntasks, ntasks);
	assert_string_equal(rh->steps[0].tasks[0].key, first);
	assert_string_equal(rh->steps[0].tasks[1].key, second);
	rendered_host_free(rh);
}

static void
test_empty_list(void **state)
{
	struct th_plan *f = fx_load(good_pb, "");
	struct rendered_host *rh;
	const struct rendered_step *s;

	(void)state;
	rh = th_render(f, N1);
	s = &rh->steps[0];
	assert_int_equal(s->ntasks, 1);
	assert_string_equal(s->tasks[0].key, "s/after");
	assert_int_equal(s->tasks[0].wire->id, 1);
	assert_int_equal(rh->ntasks, 2);
	assert_int_equal(th_task(rh, "u/svc")->wire->watch[0], 1);
	rendered_host_free(rh);

	/* One item; empty items in the list are skipped. */
	expect_first_step(f, "pause", 3, "s/t[pause]", "s/load[pause]");
	expect_first_step(f, ",busybox,", 2, "s/t[busybox]", "s/after");
	th_plan_free(f);
}

static void
test_undefined_list(void **state)
{
	struct th_plan *f = fx_load(good_pb, NULL);
	const struct diag_entry *e;
	size_t i;

	(void)state;
	/* Once per foreach task, at the task, naming the list and host. */
	expect_n1_refused(f, 2);
	e = diag_get(f->d, 0);
	assert_string_equal(e->path, "steps[0].tasks[0].foreach");
	assert_int_equal(e->line, 4);
	assert_string_equal(e->msg, "undefined variable 'bundle.images' "
	    "(host n1)");
	assert_non_null(strstr(e->file, "10-s.yaml"));
	e = diag_get(f->d, 1);
	assert_string_equal(e->path, "steps[0].tasks[1].foreach");
	assert_int_equal(e->line, 10);
	for (i = 0; i < diag_count(f->d); i++)
		assert_non_null(strstr(diag_get(f->d, i)->msg,
		    "bundle.images"));
	th_plan_free(f);
}

/* item and item.* exist only inside their task, and a field an item lacks
 * is an undefined variable. */
static void
test_item_scope(void **state)
{
	static const char pb[] =
	    "- name: s\n"
	    "  hosts: [all]\n"
	    "  tasks:\n"
	    "    - name: t\n"
	    "      foreach: { list: bundle.images, fields: bundle.image }\n"
	    "      file: { path: \"/i/{{ item }}\", content: \"{{ item.ref }}\" }\n"
	    "    - name: after\n"
	    "      file: { path: /etc/after, content: \"{{ item }}\" }\n"
	    "    - name: other\n"
	    "      foreach: { list: bundle.images, fields: bundle.nothing }\n"
	    "      file: { path: \"/o/{{ item }}\", content: \"{{ item.ref }}\" }\n";
	static const struct th_want_var unset[] = {
		{ "item", NULL },
		{ "item.ref", NULL },
	};
	struct th_plan *f = fx_load(pb, "pause,busybox");
	const struct diag_entry *e;
	struct vars *v = NULL;

	(void)state;
	/* after's item; other's item.ref, once per item. */
	expect_n1_refused(f, 3);
	e = diag_get(f->d, 0);
	assert_string_equal(e->path, "steps[0].tasks[1].file.content");
	assert_string_equal(e->msg, "undefined variable 'item' (host n1)");
	/* other: item.ref for each item, the fields prefix matching none. */
	e = diag_get(f->d, 1);
	assert_string_equal(e->path, "steps[0].tasks[2].file.content");
	assert_non_null(strstr(e->msg, "item.ref"));
	/* And the host's variables never hold item. */
	assert_int_equal(render_host_vars(f->inv, N1, NULL, f->extra, &v,
	    NULL), 0);
	th_expect_vars(v, unset, TH_LEN(unset));
	vars_free(v);
	th_plan_free(f);
}

/* when: on item.* decides per item, and fields of other items do not
 * leak in. */
static void
test_when_per_item(void **state)
{
	static const char pb[] =
	    "- name: s\n"
	    "  hosts: [all]\n"
	    "  tasks:\n"
	    "    - name: big\n"
	    "      foreach: { list: bundle.images, fields: bundle.image }\n"
	    "      when: [\"item.size != 700\", \"host.name == n1\"]\n"
	    "      command: { argv: [/bin/echo, \"{{ item }}\", "
	    "\"{{ item.size }}\"] }\n"
	    "    - name: named\n"
	    "      foreach: { list: bundle.images, fields: bundle.image }\n"
	    "      when: item == pause\n"
	    "      command: { argv: [/bin/echo, \"{{ item.ref }}\"] }\n";
	struct th_plan *f = fx_load(pb, "pause,busybox");
	struct rendered_host *rh;
	char buf[256];

	(void)state;
	rh = th_render(f, N1);
	assert_int_equal(rh->ntasks, 2);
	args_of(th_task(rh, "s/big[busybox]"), "argv", buf, sizeof(buf));
	assert_string_equal(buf, "/bin/echo busybox 900");
	args_of(th_task(rh, "s/named[pause]"), "argv", buf, sizeof(buf));
	assert_string_equal(buf, "/bin/echo korch.local/pause:3.2");
	assert_null(rendered_host_find(rh, "s/big[pause]"));
	assert_null(rendered_host_find(rh, "s/named[busybox]"));
	rendered_host_free(rh);
	/* A host the second condition drops. */
	rh = th_render(f, N2);
	assert_int_equal(rh->ntasks, 1);
	assert_null(rendered_host_find(rh, "s/big[busybox]"));
	rendered_host_free(rh);
	th_plan_free(f);
}

/* Load a playbook that must be refused; its diagnostics. */
static struct diag *
load_bad(const char *text)
{
	struct diag *d = th_pb_refused(pb_dir(text));

	assert_true(diag_count(d) > 0);
	return d;
}

static const struct diag_entry *
find_msg(const struct diag *d, const char *msg)
{
	size_t i;

	for (i = 0; i < diag_count(d); i++)
		if (strstr(diag_get(d, i)->msg, msg) != NULL)
			return diag_get(d, i);
	diag_print(d, stderr);
	fail_msg("no diagnostic ...%s...", msg);
	return NULL;
}

/* Lines 1-6: step s with a foreach task t. */
#define STEP_S_FOREACH_T \
	"- name: s\n" \
	"  hosts: [all]\n" \
	"  tasks:\n" \
	"    - name: t\n" \
	"      foreach: { list: bundle.images, fields: bundle.image }\n" \
	"      file: { path: \"/i/{{ item }}\", content: x }\n"

static void
test_watch_refused(void **state)
{
	const struct diag_entry *e;
	struct diag *d;

	(void)state;
	d = load_bad(STEP_S_FOREACH_T
	    "    - service: { name: x, unit: \"[Service]\\n\", watch: [t] }\n");
	e = find_msg(d, "runs once per item (foreach)");
	assert_non_null(strstr(e->msg, "watch target 't'"));
	assert_int_equal(e->line, 7);
	assert_int_equal(diag_count(d), 1);
	diag_free(d);

	/* From another step too. */
	d = load_bad(STEP_S_FOREACH_T
	    "- name: u\n"
	    "  hosts: [all]\n"
	    "  needs: [s]\n"
	    "  tasks:\n"
	    "    - service: { name: x, unit: \"[Service]\\n\", watch: [s/t] }\n");
	e = find_msg(d, "runs once per item (foreach)");
	assert_int_equal(e->line, 11);
	diag_free(d);
}

static void
test_foreach_shape(void **state)
{
	struct diag *d;

	(void)state;
	d = load_bad(
	    "- name: s\n"
	    "  hosts: [all]\n"
	    "  tasks:\n"
	    "    - name: a\n"
	    "      foreach: bundle.images\n"
	    "      file: { path: /a, content: x }\n"
	    "    - name: b\n"
	    "      foreach: { list: bundle.images }\n"
	    "      file: { path: /b, content: x }\n"
	    "    - name: c\n"
	    "      foreach: { list: \"bad name\", fields: x }\n"
	    "      file: { path: /c, content: x }\n"
	    "    - name: d\n"
	    "      foreach: { list: x, fields: y, colour: red }\n"
	    "      file: { path: /d, content: x }\n"
	    "    - name: e\n"
	    "      foreahc: { list: x, fields: y }\n"
	    "      file: { path: /e, content: x }\n");
	assert_string_equal(find_msg(d, "expected { list: VARIABLE, fields: "
	    "PREFIX }")->path, "steps[0].tasks[0].foreach");
	assert_int_equal(find_msg(d, "expected { list: VARIABLE")->line, 5);
	assert_string_equal(find_msg(d, "foreach needs list: and fields:")->path,
	    "steps[0].tasks[1].foreach");
	assert_int_equal(find_msg(d, "foreach needs list: and fields:")->line,
	    8);
	assert_string_equal(find_msg(d, "unknown key 'colour'")->path,
	    "steps[0].tasks[3].foreach.colour");
	assert_non_null(find_msg(d, "'foreahc'"));
	diag_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loaded),
		cmocka_unit_test(test_two_items),
		cmocka_unit_test(test_digests_per_item),
		cmocka_unit_test(test_empty_list),
		cmocka_unit_test(test_undefined_list),
		cmocka_unit_test(test_item_scope),
		cmocka_unit_test(test_when_per_item),
		cmocka_unit_test(test_watch_refused),
		cmocka_unit_test(test_foreach_shape),
	};

	return cmocka_run_group_tests(tests, th_group_setup,
	    th_group_teardown);
}
