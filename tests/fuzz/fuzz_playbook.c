/*
 * fuzz_playbook.c - libFuzzer target for the playbook loader
 * (controller/spec/playbook*.c): step and task shapes, module arguments
 * against proto/modspec.c, needs/watch references, template references.
 * The loader reads a directory, so each input becomes its only YAML file,
 * next to a templates/ link to the real playbooks/templates so that
 * `template:` and `unit_template:` of the seeds (the shipped playbooks)
 * resolve and get syntax-checked too.
 */
#include <stdint.h>

#include "err.h"
#include "base/diag.h"
#include "spec/playbook.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static void
setup(void)
{
	const char *top = getenv("KORCH_TOP");
	char link[512], target[512];

	(void)snprintf(target, sizeof(target), "%s/playbooks/templates",
	    top != NULL ? top : ".");
	(void)snprintf(link, sizeof(link), "%s/templates", fz_tmpdir());
	if (symlink(target, link) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct playbook *pb = NULL;
	struct diag *d;
	char path[512];
	int r;

	if (!ready) {
		setup();
		ready = 1;
	}
	fz_put("50-fuzz.yaml", data, size, path, sizeof(path));
	if ((d = diag_new()) == NULL)
		return 0;
	r = playbook_load(fz_tmpdir(), &pb, d);
	if (r == 0)
		CHECK(pb != NULL);
	else
		CHECK(pb == NULL && (r == KORCH_ERR_ALLOC ||
		    diag_count(d) > 0));
	playbook_free(pb);
	diag_free(d);
	return 0;
}
