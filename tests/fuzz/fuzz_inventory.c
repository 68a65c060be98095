/*
 * fuzz_inventory.c - libFuzzer target for the inventory loader
 * (controller/spec/inventory*.c over libyaml).  The loader takes a path,
 * so each input is written to inventory.yaml in a private temp directory
 * that also holds the relative files an inventory names (id_test,
 * bundle/).  A load that fails must say why; one that succeeds must hold
 * together (every host named, its vars readable).
 */
#include <sys/stat.h>

#include <stdint.h>

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static void
setup(void)
{
	char p[512];

	fz_put("id_test", "", 0, p, sizeof(p));
	(void)snprintf(p, sizeof(p), "%s/bundle", fz_tmpdir());
	(void)mkdir(p, 0700);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct inventory *inv = NULL;
	struct diag *d;
	char path[512];
	size_t i;
	int r;

	if (!ready) {
		setup();
		ready = 1;
	}
	fz_put("inventory.yaml", data, size, path, sizeof(path));
	if ((d = diag_new()) == NULL)
		return 0;
	r = inventory_load(path, &inv, d);
	if (r == 0) {
		CHECK(inv != NULL);
		for (i = 0; i < inv->nhosts; i++) {
			CHECK(inv->hosts[i].name != NULL);
			(void)inventory_host_has_role(&inv->hosts[i], "master");
		}
		for (i = 0; inv->vars != NULL && i < vars_count(inv->vars); i++)
			CHECK(vars_get(inv->vars, vars_key(inv->vars, i)) !=
			    NULL);
	} else {
		CHECK(inv == NULL);
		CHECK(r == KORCH_ERR_ALLOC || diag_count(d) > 0);
	}
	inventory_free(inv);
	diag_free(d);
	return 0;
}
