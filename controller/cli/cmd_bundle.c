/*
 * cmd_bundle.c - `korch bundle verify PATH`: check an offline bundle (a
 * directory or a .tar.gz) before carrying it into a network without
 * internet: the manifest's fields and every component's sha256.
 */
#include <stdio.h>
#include <string.h>

#include "spec/bundle.h"
#include "cli/cmd.h"
#include "base/diag.h"
#include "err.h"

int
cmd_bundle(int argc, char **argv)
{
	struct bundle *b = NULL;
	struct diag *d = NULL;
	size_t i;
	int r, rc = KX_INTERNAL;

	if (argc != 3 || strcmp(argv[1], "verify") != 0) {
		cmd_usage("bundle");
		return KX_USAGE;
	}
	if ((d = diag_new()) == NULL)
		return KX_INTERNAL;
	if ((r = bundle_load(argv[2], &b, d)) == 0)
		r = bundle_verify(b, d);
	if (r != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: bundle %s does not verify\n", argv[2]);
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto out;
	}
	printf("bundle %s: kubernetes %s, %zu components\n", b->dir,
	    b->kubernetes_version ? b->kubernetes_version : "?", b->ncomp);
	for (i = 0; i < b->ncomp; i++)
		printf("  ok  %-26s %-10s %-6s %10llu  %.16s\n", b->comp[i].name,
		    b->comp[i].version, b->comp[i].arch,
		    (unsigned long long)b->comp[i].size, b->comp[i].sha256);
	rc = KX_OK;
out:
	bundle_free(b);
	diag_free(d);
	return rc;
}
