/*
 * fuzz_template.c - libFuzzer target for the template engine
 * (controller/engine/template.c): the input is a template's text, checked
 * and rendered against a two-level vars chain (host over cluster), as a
 * template file (positions computed in the text) and as text embedded in
 * a playbook field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/diag.h"
#include "engine/template.h"
#include "engine/vars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static struct vars *cluster, *host;

static void
setup(void)
{
	if ((cluster = vars_new(NULL)) == NULL ||
	    (host = vars_new(cluster)) == NULL ||
	    vars_set(cluster, "cluster.name", "demo") != 0 ||
	    vars_set(cluster, "greeting", "hi {{ nested }}") != 0 ||
	    vars_set(cluster, "bundle.etcd.version", "3.4.23") != 0 ||
	    vars_set(host, "greeting", "hello") != 0 ||
	    vars_set(host, "host.name", "node1") != 0 ||
	    vars_set(host, "empty", "") != 0 ||
	    vars_set(host, "item", "a,b") != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tmpl_src embedded = { "pb.yaml", 12, 7,
	    "steps[0].tasks[1].file.content", "host node1", TMPL_CTX_ARG,
	    NULL };
	/* A unit file: values are quoted for systemd. */
	const struct tmpl_src unit = { "x.service.tmpl", 1, 1, "", NULL,
	    TMPL_CTX_SYSTEMD, NULL };
	const char *text = (const char *)data;
	struct diag *d;
	char *out = NULL;
	size_t outlen = 0;
	int r;

	if (cluster == NULL)
		setup();
	if ((d = diag_new()) == NULL)
		return 0;
	r = template_check(&embedded, text, size, d);
	CHECK(r == 0 || r == KORCH_ERR_TEMPLATE || r == KORCH_ERR_ALLOC);
	CHECK(r != KORCH_ERR_TEMPLATE || diag_count(d) > 0);
	diag_free(d);

	if ((d = diag_new()) == NULL)
		return 0;
	r = template_render("t.tmpl", text, size, host, &out, &outlen, d);
	if (r == 0) {
		/* A NUL in the text is content like any other byte. */
		CHECK(out != NULL && out[outlen] == '\0');
	} else {
		CHECK(out == NULL && diag_count(d) > 0);
	}
	free(out);
	out = NULL;
	diag_free(d);

	if ((d = diag_new()) == NULL)
		return 0;
	r = template_render_src(&embedded, text, size, host, &out, NULL, d);
	CHECK(r != 0 || out != NULL);
	free(out);
	out = NULL;
	diag_free(d);

	if ((d = diag_new()) == NULL)
		return 0;
	r = template_render_src(&unit, text, size, host, &out, NULL, d);
	CHECK(r != 0 || out != NULL);
	free(out);
	diag_free(d);
	return 0;
}
