/*
 * fuzz_bundle.c - libFuzzer target for the bundle manifest
 * (controller/spec/bundle.c): the input is DIR/manifest.yaml in a private
 * temp directory that holds two small files (bin/etcd, images/pause.tar)
 * a manifest can name.  A manifest that loads is verified (hashing what
 * it names) and turned into bundle.* vars, as `korch apply` does.
 */
#include <sys/stat.h>

#include <stdint.h>

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/bundle.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static void
setup(void)
{
	char p[512];

	(void)snprintf(p, sizeof(p), "%s/bin", fz_tmpdir());
	(void)mkdir(p, 0700);
	(void)snprintf(p, sizeof(p), "%s/images", fz_tmpdir());
	(void)mkdir(p, 0700);
	fz_put("bin/etcd", "etcd\n", 5, p, sizeof(p));
	fz_put("images/pause.tar", "pause", 5, p, sizeof(p));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct bundle *b = NULL;
	struct vars *v;
	struct diag *d;
	char path[512];
	int r;

	if (!ready) {
		setup();
		ready = 1;
	}
	fz_put("manifest.yaml", data, size, path, sizeof(path));
	if ((d = diag_new()) == NULL)
		return 0;
	r = bundle_load(fz_tmpdir(), &b, d);
	if (r == 0) {
		CHECK(b != NULL);
		(void)bundle_verify(b, d);
		(void)bundle_find(b, "etcd");
		(void)bundle_find_image(b, "pause");
		(void)bundle_find_package(b, "haproxy");
		if ((v = vars_new(NULL)) != NULL) {
			(void)bundle_vars(b, v);
			vars_free(v);
		}
	} else {
		CHECK(b == NULL && (r == KORCH_ERR_ALLOC || diag_count(d) > 0));
	}
	bundle_free(b);
	diag_free(d);
	return 0;
}
