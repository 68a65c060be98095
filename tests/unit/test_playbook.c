/*
 * test_playbook.c - playbook loading: the shape of a good set, and every
 * kind of mistake with its file:line:column and path.
 * Fixtures: tests/unit/data/pb/.
 */
#include "helpers_ctl.h"

#include "modspec.h"

static const char *
pbdir(const char *name)
{
	return th_data("pb", name);
}

/* A diagnostic in a file ending with file, at line:col, with this path,
 * whose message contains msg; prints the list when missing. */
#define expect_diag th_expect_diag

static struct diag *
load_bad(const char *name)
{
	return th_pb_refused(pbdir(name));
}

static void
test_good(void **state)
{
	static const char *const names[] = { "base", "etcd", "after-node",
		"master", "node", "ghost", "late" };
	const struct pb_step *s;
	const struct pb_task *t;
	struct playbook *pb = NULL;
	struct diag *d;
	size_t i;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(playbook_load(pbdir("good"), &pb, d), 0);
	assert_int_equal(diag_count(d), 0);
	/* README.txt and templates/ are not step files. */
	assert_int_equal(pb->nfiles, 2);
	assert_int_equal(pb->nsteps, 7);
	for (i = 0; i < 7; i++)
		assert_string_equal(pb->steps[i].name, names[i]);
	assert_int_equal(playbook_find_step(pb, "node"), 4);
	assert_int_equal(playbook_find_step(pb, "nope"), -1);

	s = &pb->steps[0];
	assert_true(s->all);
	assert_int_equal(s->line, 2);
	s = &pb->steps[1];
	assert_false(s->all);
	assert_int_equal(s->nroles, 1);
	assert_string_equal(s->roles[0], "etcd");
	assert_int_equal(s->nneeds, 1);
	assert_string_equal(s->needs[0].name, "base");
	assert_int_equal(s->needs[0].step, 0);
	/* Tasks, then verify probes; unnamed ones keyed by position. */
	assert_int_equal(s->ntasks, 3);
	t = &s->tasks[0];
	assert_string_equal(t->key, "etcd/conf");
	assert_string_equal(t->mod->name, "file");
	assert_string_equal(t->tmpl_arg, "content");
	assert_string_equal(t->tmpl_file, "etcd.conf.tmpl");
	assert_non_null(strstr(t->tmpl_path, "/pb/good/templates/etcd.conf.tmpl"));
	assert_memory_equal(t->tmpl_text, "ETCD_NAME=", 10);
	assert_int_equal(t->nargs, 2);	/* path, mode; template is extra */
	t = &s->tasks[1];
	assert_string_equal(t->key, "etcd/2");
	assert_string_equal(t->tmpl_arg, "unit");
	assert_int_equal(t->nwatch, 1);
	assert_int_equal(t->watch[0].step, 1);
	assert_int_equal(t->watch[0].task, 0);
	assert_false(t->verify);
	t = &s->tasks[2];
	assert_string_equal(t->key, "etcd/3");
	assert_true(t->verify);
	assert_string_equal(t->mod->name, "probe");

	/* A REPEAT argument: a list keeps its order, a scalar is one. */
	t = &pb->steps[3].tasks[0];
	assert_string_equal(t->args[0].name, "argv");
	assert_true(t->args[0].list);
	assert_int_equal(t->args[0].nvals, 3);
	assert_string_equal(t->args[0].vals[1].text, "{{ etcd_endpoints }}");
	assert_int_equal(t->args[0].vals[1].line, 9);
	assert_int_equal(t->args[0].vals[1].col, 29);
	assert_string_equal(t->args[2].name, "env");
	assert_false(t->args[2].list);
	assert_int_equal(t->args[2].nvals, 1);

	/* when, both operators, quoted value. */
	s = &pb->steps[4];
	assert_int_equal(s->nroles, 2);
	assert_int_equal(s->tasks[0].nwhen, 1);
	assert_string_equal(s->tasks[0].when[0].var, "flavor");
	assert_string_equal(s->tasks[0].when[0].val, "big");
	assert_false(s->tasks[0].when[0].neg);
	assert_string_equal(s->tasks[1].when[0].val, "big");
	assert_true(s->tasks[1].when[0].neg);
	/* watch in the same step and step/task in a needed step. */
	t = &s->tasks[2];
	assert_int_equal(t->nwatch, 3);
	assert_int_equal(t->watch[1].step, 4);
	assert_int_equal(t->watch[1].task, 1);
	assert_int_equal(t->watch[2].step, 0);
	assert_int_equal(t->watch[2].task, 1);
	assert_string_equal(t->args[1].vals[0].text,
	    "[Service]\nExecStart=/bin/kubelet --hostname={{ host.name }}\n");
	assert_int_equal(playbook_find_task(s, "svc"), 2);
	assert_int_equal(playbook_find_task(s, "nope"), -1);

	playbook_free(pb);
	playbook_free(NULL);
	diag_free(d);
}

/* command's diagnose: a REPEAT argument like argv, values as written. */
static void
test_diagnose_arg(void **state)
{
	static const char *const want[] = { "/bin/sh", "-c",
		"systemctl status --no-pager --lines=0 \"$1\" | head -n 5; "
		"journalctl -u \"$1\" -n 20 --no-pager -o cat",
		"korch-diagnose", "kube-apiserver" };
	const struct pb_task *t;
	const struct pb_arg *a = NULL;
	struct playbook *pb = NULL;
	struct diag *d;
	size_t i;

	(void)state;
	assert_non_null(kms_find_arg(kms_find("command"), "diagnose"));
	assert_true(kms_find_arg(kms_find("command"), "diagnose")->flags &
	    KMS_REPEAT);
	assert_non_null(d = diag_new());
	assert_int_equal(playbook_load(pbdir("diagnose"), &pb, d), 0);
	assert_int_equal(diag_count(d), 0);
	t = &pb->steps[0].tasks[0];
	assert_string_equal(t->key, "master-health/healthz");
	for (i = 0; i < t->nargs; i++)
		if (strcmp(t->args[i].name, "diagnose") == 0)
			a = &t->args[i];
	assert_non_null(a);
	assert_true(a->list);
	assert_int_equal(a->nvals, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(a->vals[i].text, want[i]);
	/* one word is a one-item list; values are templates */
	t = &pb->steps[0].tasks[1];
	assert_string_equal(t->args[1].name, "diagnose");
	assert_false(t->args[1].list);
	assert_int_equal(t->args[1].nvals, 1);
	assert_string_equal(t->args[1].vals[0].text, "{{ host.name }}");
	playbook_free(pb);
	diag_free(d);
}

static void
test_bad_modules(void **state)
{
	static const struct th_want_diag want[] = {
		{ 4, 7, "steps[0].tasks[0].flie",
		    "unknown module 'flie' (did you mean 'file'?)" },
		{ 5, 25, "steps[0].tasks[1].file.mdoe",
		    "unknown argument 'mdoe' for module 'file' "
		    "(did you mean 'mode'?)" },
		{ 6, 13, "steps[0].tasks[2].file",
		    "missing required argument 'path' for module 'file'" },
		{ 7, 23, "steps[0].tasks[3].sysctl.name",
		    "takes one value, not a list" },
		{ 9, 7, "steps[0].tasks[4].directory",
		    "exactly one module; this one also has 'file'" },
		{ 10, 7, "steps[0].tasks[5]", "task has no module" },
		{ 11, 34, "steps[0].tasks[6].file",
		    "give 'content' or 'template', not both" },
		{ 11, 47, "steps[0].tasks[6].file.template",
		    "templates/t.tmpl' cannot be read" },
		{ 12, 25, "steps[0].tasks[7].file.watch",
		    "'watch' is not available for module 'file'" },
		{ 13, 13, "steps[0].tasks[8].when",
		    "expected a condition like 'var == value'" },
		{ 17, 7, "steps[0].tasks[10].name",
		    "duplicate task name 'dup' in step (first at line 15)" },
		{ 19, 24, "steps[0].tasks[11].command.argv", "empty list" },
		{ 20, 16, "steps[0].tasks[12].service",
		    "expected a mapping of arguments, got a sequence" },
		{ 22, 7, "steps[0].verify[0].command",
		    "verify entries must be probe tasks" },
		{ 23, 3, "steps[1].hosts", "missing required key 'hosts'" },
		{ 23, 3, "steps[1]", "at least one task" },
		{ 23, 9, "steps[1].name", "invalid step name 'Bad_Name'" },
	};
	struct diag *d;

	(void)state;
	d = load_bad("bad_modules");
	th_expect_diags(d, "bad_modules/10-mods.yaml", want, TH_LEN(want));
	assert_int_equal(diag_count(d), 17);
	diag_free(d);
}

static void
test_bad_references(void **state)
{
	static const struct th_want_diag want[] = {
		{ 5, 35, "steps[0].tasks[0].file.template",
		    "templates/missing.tmpl' cannot be read" },
		{ 6, 35, "steps[0].tasks[1].file.template",
		    "'../escape.tmpl' must be a relative path inside" },
		{ 8, 35, "steps[0].tasks[3].service.watch[0]",
		    "watch target 'nosuch': step 'alpha' has no task named "
		    "'nosuch'" },
		{ 8, 43, "steps[0].tasks[3].service.watch[1]",
		    "watch target 'later' must come before this task" },
		{ 8, 50, "steps[0].tasks[3].service.watch[2]",
		    "'beta/conf' is in step 'beta', which step 'alpha' does "
		    "not need" },
		{ 8, 61, "steps[0].tasks[3].service.watch[3]",
		    "watch target 'zeta/conf': unknown step 'zeta'" },
		{ 8, 72, "steps[0].tasks[3].service.watch[4]",
		    "'gamma/conf' is in step 'gamma'" },
		{ 13, 11, "steps[1].needs[0]",
		    "unknown step 'alpah' (did you mean 'alpha'?)" },
		{ 16, 34, "steps[1].tasks[0].file.content", "unclosed '{{'" },
	};
	struct diag *d;

	(void)state;
	d = load_bad("bad_refs");
	th_expect_diags(d, "bad_refs/10-a.yaml", want, TH_LEN(want));
	expect_diag(d, "bad_refs/templates/broken.tmpl", 2, 3, "",
	    "unclosed '{{'");
	expect_diag(d, "bad_refs/20-b.yaml", 6, 9, "steps[1].name",
	    "duplicate step name 'alpha' (first at ");
	assert_int_equal(diag_count(d), 11);
	diag_free(d);
}

/* serial: a number of hosts, or a file:line error. */
static void
test_serial(void **state)
{
	const char *f = "serial/10-serial.yaml";
	struct diag *d;

	(void)state;
	d = load_bad("serial");
	expect_diag(d, f, 8, 11, "steps[1].serial", "expected a number of "
	    "hosts from 1 to 1000, not '0'");
	expect_diag(d, f, 13, 11, "steps[2].serial", "not 'one'");
	assert_int_equal(diag_count(d), 2);
	diag_free(d);
}

static void
test_cycles_named(void **state)
{
	const char *f = "cycle/10-cycle.yaml";
	struct diag *d;

	(void)state;
	d = load_bad("cycle");
	/* a needs c needs b needs a; reported where the cycle closes. */
	expect_diag(d, f, 7, 11, "steps[1].needs[0]", "dependency cycle: "
	    "a -> c -> b -> a");
	expect_diag(d, f, 15, 11, "steps[3].needs[0]", "dependency cycle: "
	    "d -> d");
	/* e needs a: downstream of a cycle, not part of one. */
	assert_int_equal(diag_count(d), 2);
	diag_free(d);
}

static void
test_empty_and_missing_dir(void **state)
{
	struct diag *d;

	(void)state;
	d = load_bad("empty");
	assert_int_equal(diag_count(d), 1);
	assert_non_null(strstr(diag_get(d, 0)->msg, "no *.yaml step files"));
	diag_free(d);
	d = load_bad("does-not-exist");
	assert_int_equal(diag_count(d), 1);
	assert_non_null(strstr(diag_get(d, 0)->msg, "cannot open playbook "
	    "directory"));
	diag_free(d);
}

/* A syntax error in one file does not hide mistakes in the others. */
static void
test_syntax_and_more(void **state)
{
	struct diag *d;

	(void)state;
	d = load_bad("syntax");
	expect_diag(d, "syntax/10-broken.yaml", 3, 8, "", "YAML syntax error");
	expect_diag(d, "syntax/20-ok-but-bad.yaml", 5, 45,
	    "steps[0].tasks[0].absent.force", "unknown argument 'force' for "
	    "module 'absent'");
	expect_diag(d, "syntax/20-ok-but-bad.yaml", 6, 1, "stages",
	    "unknown key 'stages'");
	assert_int_equal(diag_count(d), 3);
	diag_free(d);
}

TH_MAIN(
	cmocka_unit_test(test_good),
	cmocka_unit_test(test_diagnose_arg),
	cmocka_unit_test(test_bad_modules),
	cmocka_unit_test(test_bad_references),
	cmocka_unit_test(test_serial),
	cmocka_unit_test(test_cycles_named),
	cmocka_unit_test(test_empty_and_missing_dir),
	cmocka_unit_test(test_syntax_and_more),
)
