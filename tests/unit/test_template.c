/*
 * test_template.c - {{ name }} substitution: values, whitespace, every
 * undefined name with its line, malformed and unclosed references.
 */
#include "helpers_fs.h"

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "engine/template.h"

static struct vars *
sample_vars(void)
{
	struct vars *cluster, *v;

	cluster = vars_new(NULL);
	assert_non_null(cluster);
	assert_int_equal(vars_set(cluster, "cluster.name", "demo"), 0);
	assert_int_equal(vars_set(cluster, "greeting", "hi"), 0);
	v = vars_new(cluster);
	assert_non_null(v);
	assert_int_equal(vars_set(v, "greeting", "hello"), 0);
	assert_int_equal(vars_set(v, "host.name", "node1"), 0);
	assert_int_equal(vars_set(v, "empty", ""), 0);
	return v;
}

static void
free_vars(struct vars *v)
{
	struct vars *parent = (struct vars *)vars_parent(v);

	vars_free(v);
	vars_free(parent);
}

static int
render(const char *text, const struct vars *v, char **out, struct diag *d)
{
	return template_render("t.tmpl", text, strlen(text), v, out, NULL, d);
}

static void
test_vars_chain(void **state)
{
	struct vars *v = sample_vars();

	(void)state;
	assert_string_equal(vars_get(v, "greeting"), "hello");
	assert_string_equal(vars_get(vars_parent(v), "greeting"), "hi");
	assert_string_equal(vars_get(v, "cluster.name"), "demo");
	assert_null(vars_get_local(v, "cluster.name"));
	assert_null(vars_get(v, "nope"));
	/* Replacing keeps the position; order is the order first set. */
	assert_int_equal(vars_set(v, "greeting", "hey"), 0);
	assert_int_equal(vars_count(v), 3);
	assert_string_equal(vars_key(v, 0), "greeting");
	assert_string_equal(vars_value(v, 0), "hey");
	assert_string_equal(vars_key(v, 2), "empty");
	assert_null(vars_key(v, 3));
	assert_int_equal(vars_set(v, NULL, "x"), KORCH_ERR_INVALID_ARG);
	assert_true(vars_name_valid("a.b_C9", 6));
	assert_false(vars_name_valid("a-b", 3));
	free_vars(v);
}

static void
test_substitution(void **state)
{
	struct vars *v = sample_vars();
	struct diag *d = diag_new();
	size_t len = 0;
	char *out = NULL;

	(void)state;
	assert_int_equal(render("{{greeting}}, {{ host.name }}! "
	    "{{\tcluster.name  }}", v, &out, d), 0);
	assert_string_equal(out, "hello, node1! demo");
	free(out);
	/* No references, an empty value, a lone "}}" and "{" are text. */
	assert_int_equal(render("a } }} { b{{empty}}c", v, &out, d), 0);
	assert_string_equal(out, "a } }} { bc");
	free(out);
	assert_int_equal(template_render("t", "", 0, v, &out, &len, d), 0);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);
	/* Values are not re-expanded. */
	assert_int_equal(vars_set(v, "tricky", "{{greeting}}"), 0);
	assert_int_equal(render("[{{tricky}}]", v, &out, d), 0);
	assert_string_equal(out, "[{{greeting}}]");
	free(out);
	assert_int_equal(diag_count(d), 0);
	diag_free(d);
	free_vars(v);
}

static void
test_undefined_all_reported(void **state)
{
	struct vars *v = sample_vars();
	struct diag *d = diag_new();
	const struct diag_entry *e;
	char *out = (char *)1;

	(void)state;
	assert_int_equal(render("line one {{ greeting }}\n"
	    "two {{ missing_a }} and {{ missing_b }}\n"
	    "\n"
	    "  {{missing_a}} again, ünïcode {{ missing_c }}\n", v, &out, d),
	    KORCH_ERR_TEMPLATE);
	assert_null(out);
	/* Each undefined name once, at its first use. */
	assert_int_equal(diag_count(d), 3);
	e = diag_get(d, 0);
	assert_string_equal(e->file, "t.tmpl");
	assert_int_equal(e->line, 2);
	assert_int_equal(e->col, 5);
	assert_string_equal(e->msg, "undefined variable 'missing_a'");
	e = diag_get(d, 1);
	assert_int_equal(e->line, 2);
	assert_int_equal(e->col, 25);
	assert_string_equal(e->msg, "undefined variable 'missing_b'");
	e = diag_get(d, 2);
	assert_int_equal(e->line, 4);
	/* Columns count characters, not bytes. */
	assert_int_equal(e->col, 32);
	assert_string_equal(e->msg, "undefined variable 'missing_c'");
	diag_free(d);
	free_vars(v);
}

static void
test_malformed(void **state)
{
	struct vars *v = sample_vars();
	struct diag *d = diag_new();
	const struct diag_entry *e;
	char *out = NULL;

	(void)state;
	assert_int_equal(render("a {{ }} b {{ x y }} c {{ a-b }}\n"
	    "d {{ greeting }} {{ greeting", v, &out, d), KORCH_ERR_TEMPLATE);
	assert_null(out);
	assert_int_equal(diag_count(d), 4);
	e = diag_get(d, 0);
	assert_int_equal(e->line, 1);
	assert_int_equal(e->col, 3);
	assert_string_equal(e->msg, "expected a variable name in '{{ }}'");
	e = diag_get(d, 1);
	assert_int_equal(e->col, 11);
	assert_non_null(strstr(e->msg, "malformed variable reference"));
	assert_non_null(strstr(e->msg, "'{{ x y }}'"));
	e = diag_get(d, 2);
	assert_int_equal(e->col, 23);
	e = diag_get(d, 3);
	assert_int_equal(e->line, 2);
	assert_int_equal(e->col, 18);
	assert_string_equal(e->msg, "unclosed '{{'");
	diag_free(d);
	free_vars(v);
}

static void
test_check_and_embedded(void **state)
{
	struct vars *v = sample_vars();
	struct diag *d = diag_new();
	struct tmpl_src src = { "pb.yaml", 7, 14, "steps[0].tasks[1].file.path",
		"host node1", TMPL_CTX_ARG, NULL };
	const struct diag_entry *e;
	char *out = NULL;
	const char *t = "/etc/{{ nope }}/{{ host.name }}";

	(void)state;
	/* Syntax only: undefined names are fine. */
	assert_int_equal(template_check(&src, t, strlen(t), d), 0);
	assert_int_equal(template_check(&src, "{{", 2, d),
	    KORCH_ERR_TEMPLATE);
	assert_int_equal(diag_count(d), 1);
	/* Embedded text: reported at the scalar, with path and context. */
	assert_int_equal(template_render_src(&src, t, strlen(t), v, &out, NULL,
	    d), KORCH_ERR_TEMPLATE);
	assert_int_equal(diag_count(d), 2);
	e = diag_get(d, 1);
	assert_string_equal(e->file, "pb.yaml");
	assert_int_equal(e->line, 7);
	assert_int_equal(e->col, 14);
	assert_string_equal(e->path, "steps[0].tasks[1].file.path");
	assert_string_equal(e->msg, "undefined variable 'nope' (host node1)");
	diag_free(d);
	free_vars(v);
}

TH_MAIN(
	cmocka_unit_test(test_vars_chain),
	cmocka_unit_test(test_substitution),
	cmocka_unit_test(test_undefined_all_reported),
	cmocka_unit_test(test_malformed),
	cmocka_unit_test(test_check_and_embedded),
)
