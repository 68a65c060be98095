/*
 * test_diag.c - diagnostics: format, order, suggestions, YAML helpers.
 */
#include "helpers_fs.h"

#include "err.h"
#include "base/diag.h"

static void
test_format(void **state)
{
	struct diag *d;
	char buf[256];

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(diag_add(d, "inv.yaml", 3, 7, "hosts[2].roles",
	    "bad %s", "role"), 0);
	assert_int_equal(diag_add(d, "inv.yaml", 0, 0, NULL, "whole file"), 0);
	assert_int_equal(diag_add(d, NULL, 0, 0, "", "bare"), 0);
	assert_int_equal(diag_count(d), 3);
	diag_format(diag_get(d, 0), buf, sizeof(buf));
	assert_string_equal(buf, "inv.yaml:3:7: hosts[2].roles: bad role");
	diag_format(diag_get(d, 1), buf, sizeof(buf));
	assert_string_equal(buf, "inv.yaml: whole file");
	diag_format(diag_get(d, 2), buf, sizeof(buf));
	assert_string_equal(buf, "bare");
	assert_null(diag_get(d, 3));
	/* Truncation is safe and reports the wanted length. */
	assert_int_equal(diag_format(diag_get(d, 0), buf, 5), 38);
	assert_string_equal(buf, "inv.");
	diag_free(d);
	diag_free(NULL);
	assert_int_equal(diag_count(NULL), 0);
	assert_int_equal(diag_add(NULL, "f", 1, 1, NULL, "dropped"), 0);
}

static void
test_print_sorted(void **state)
{
	struct diag *d;
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	assert_non_null(d = diag_new());
	diag_add(d, "b.yaml", 1, 1, NULL, "b1");
	diag_add(d, "a.yaml", 9, 2, "x", "a9");
	diag_add(d, "a.yaml", 2, 5, NULL, "a2c5");
	diag_add(d, "a.yaml", 2, 1, NULL, "a2c1 first");
	diag_add(d, "a.yaml", 2, 1, NULL, "a2c1 second");
	assert_non_null(fp = open_memstream(&out, &len));
	diag_print(d, fp);
	fclose(fp);
	assert_string_equal(out,
	    "a.yaml:2:1: a2c1 first\n"
	    "a.yaml:2:1: a2c1 second\n"
	    "a.yaml:2:5: a2c5\n"
	    "a.yaml:9:2: x: a9\n"
	    "b.yaml:1:1: b1\n");
	/* Printing sorts a copy: diag_get keeps the order added. */
	assert_string_equal(diag_get(d, 0)->msg, "b1");
	free(out);
	diag_free(d);
}

static void
test_suggest(void **state)
{
	static const char *const keys[] = { "name", "port", "address",
		"roles", NULL };

	(void)state;
	assert_string_equal(diag_suggest("nmae", keys), "name");
	assert_string_equal(diag_suggest("prot", keys), "port");
	assert_string_equal(diag_suggest("adress", keys), "address");
	assert_string_equal(diag_suggest("role", keys), "roles");
	assert_null(diag_suggest("zzz", keys));
	assert_null(diag_suggest("", keys));
	assert_null(diag_suggest(NULL, keys));
}

static void
test_yaml_load_errors(void **state)
{
	char path[] = "/tmp/korch-test-diag-XXXXXX";
	yaml_document_t doc;
	struct diag *d;
	FILE *fp;
	int fd;

	(void)state;
	assert_non_null(d = diag_new());
	assert_int_equal(diag_yaml_load("/nonexistent/x.yaml", &doc, d),
	    KORCH_ERR_PARSE);
	assert_int_equal(diag_count(d), 1);
	assert_non_null(strstr(diag_get(d, 0)->msg, "cannot open"));

	/* Two documents in one file. */
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	fputs("a: 1\n---\nb: 2\n", fp);
	fclose(fp);
	assert_int_equal(diag_yaml_load(path, &doc, d), KORCH_ERR_PARSE);
	assert_int_equal(diag_count(d), 2);
	assert_int_equal(diag_get(d, 1)->line, 2);
	assert_non_null(strstr(diag_get(d, 1)->msg, "more than one"));

	/* Empty file. */
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(diag_yaml_load(path, &doc, d), KORCH_ERR_PARSE);
	assert_int_equal(diag_count(d), 3);
	assert_non_null(strstr(diag_get(d, 2)->msg, "empty"));
	unlink(path);
	diag_free(d);
}

TH_MAIN(
	cmocka_unit_test(test_format),
	cmocka_unit_test(test_print_sorted),
	cmocka_unit_test(test_suggest),
	cmocka_unit_test(test_yaml_load_errors),
)
