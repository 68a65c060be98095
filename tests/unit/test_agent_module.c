/* test_agent_module.c - the dispatcher's argument checks, the module table
 * against the shared spec, outcomes and diffs, facts. */
#include "test_agent_helpers.h"

static void
test_table_matches_spec(void **state)
{
	const struct kms_module *m;
	size_t n = 0;

	(void)state;
	for (m = kms_all(); m->name != NULL; m++, n++) {
		assert_non_null(agent_module_find(m->name));
		assert_string_equal(agent_module_find(m->name)->name, m->name);
	}
	assert_int_equal(n, 12);
	assert_null(agent_module_find("shell"));
	assert_null(agent_module_find(NULL));
}

static void
test_dispatcher_rejects(void **state)
{
	struct tt *t = *state;

	tt_task(t, 1, "copy");
	tt_expect(t, 0, KP_ST_FAILED, "unknown module \"copy\"");

	tt_task(t, 1, "absent");
	tt_expect(t, 0, KP_ST_FAILED, "missing required argument path");

	tt_task_at(t, 1, "absent", tt_path(t, "x"));
	tt_arg(t, "force", "1");
	tt_expect(t, 0, KP_ST_FAILED, "unknown argument \"force\"");

	tt_task_at(t, 1, "absent", tt_path(t, "x"));
	tt_arg(t, "path", tt_path(t, "y"));
	tt_expect(t, 0, KP_ST_FAILED, "more than once");

	tt_task(t, 1, "absent");
	tt_argn(t, "path", "/tmp/a\0b", 8);
	tt_expect(t, 0, KP_ST_FAILED, "NUL");

	tt_task_at(t, 1, "absent", tt_path(t, "x"));
	tt_arg(t, "recursive", "yes");
	tt_expect(t, 0, KP_ST_FAILED, "must be 0 or 1");

	/* argv repeats, a list: fine */
	tt_task(t, 1, "command");
	tt_arg(t, "argv", "true");
	tt_arg(t, "argv", "x");
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);

	tt_task(t, 1, NULL);
	assert_int_equal(tt_run(t, 0), KP_ST_FAILED);
}

static void
test_outcome_bounds(void **state)
{
	struct agent_outcome o;
	char big[3000];
	int i;

	(void)state;
	agent_outcome_init(&o);
	assert_int_equal(o.status, KP_ST_OK);
	agent_outcome_set(&o, KP_ST_FAILED, "two\nlines\tand\x01" "ctl");
	assert_string_equal(o.msg, "two lines and ctl");
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	agent_outcome_set(&o, KP_ST_FAILED, "%s", big);
	assert_int_equal(strlen(o.msg), AGENT_MSG_MAX - 1);
	for (i = 0; i < 10; i++)
		agent_outcome_diff(&o, "%s\n", big);
	assert_true(o.diff_full);
	assert_int_equal(strlen(o.diff), o.diff_len);
	assert_true(o.diff_len < AGENT_DIFF_MAX);
	assert_non_null(strstr(o.diff, "[diff truncated]\n"));
}

static void
test_diff_hunks(void **state)
{
	struct agent_outcome o;
	const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n";
	const char *b = "1\nTWO\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n";

	(void)state;
	agent_outcome_init(&o);
	agent_outcome_diff_text(&o, "f", a, strlen(a), b, strlen(b));
	assert_string_equal(o.diff, "--- f\n+++ f\n"
	    "@@ -1,5 +1,5 @@\n 1\n-2\n+TWO\n 3\n 4\n 5\n"
	    "@@ -13,3 +13,4 @@\n 13\n 14\n 15\n+16\n");

	agent_outcome_init(&o);
	agent_outcome_diff_text(&o, "f", NULL, 0, "a\nb", 3);
	assert_string_equal(o.diff, "--- f\n+++ f\n@@ -0,0 +1,2 @@\n+a\n+b\n");

	agent_outcome_init(&o);
	agent_outcome_diff_text(&o, "f", "a\nb\n", 4, "", 0);
	assert_string_equal(o.diff, "--- f\n+++ f\n@@ -1,2 +0,0 @@\n-a\n-b\n");

	agent_outcome_init(&o);
	agent_outcome_diff_text(&o, "f", "x\0y", 3, "x", 1);
	assert_non_null(strstr(o.diff, "binary"));
}

static void
test_facts(void **state)
{
	static const char *const keys[] = { "os_id", "os_version", "kernel",
	    "arch", "init", "hostname", "cpus", "mem_total_kb", "boot_id",
	    "agent_version" };
	struct kp_facts f;
	size_t i;

	(void)state;
	assert_int_equal(agent_facts_collect(&f), KORCH_OK);
	assert_int_equal(f.n, sizeof(keys) / sizeof(keys[0]));
	for (i = 0; i < f.n; i++) {
		assert_string_equal(f.kv[i].key, keys[i]);
		assert_int_equal(strlen(f.kv[i].val), f.kv[i].val_len);
	}
	/* what every Linux host has */
	assert_true(f.kv[2].val_len > 0);	/* kernel */
	assert_true(f.kv[3].val_len > 0);	/* arch */
	assert_true(atoi(f.kv[6].val) > 0);	/* cpus */
	assert_true(atol(f.kv[7].val) > 0);	/* mem_total_kb */
	assert_int_equal(f.kv[8].val_len, 36);	/* boot_id, a UUID */
	assert_string_equal(f.kv[9].val, KORCH_AGENT_VERSION);
	kp_facts_clear(&f);
}

TH_MAIN(
	cmocka_unit_test(test_table_matches_spec),
	TT_TEST(test_dispatcher_rejects),
	cmocka_unit_test(test_outcome_bounds),
	cmocka_unit_test(test_diff_hunks),
	cmocka_unit_test(test_facts),
)
