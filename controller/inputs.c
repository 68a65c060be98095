#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "cluster_pki.h"
#include "diag.h"
#include "err.h"
#include "inputs.h"
#include "inventory.h"
#include "vars.h"

static void
pki_report(void *arg, const char *name, const char *why)
{
	FILE *log = arg;

	if (log != NULL)
		fprintf(log, "pki: %s: %s\n", name, why);
}

static int
has_master(const struct inventory *inv)
{
	size_t i;

	for (i = 0; i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], "master"))
			return 1;
	return 0;
}

int
inputs_prepare(const struct inventory *inv, const char *bundle_path,
    const char *state_path, FILE *log, struct run_inputs *in,
    struct diag *d)
{
	struct cluster_pki_opts po;
	char dir[PATH_MAX], pkidir[PATH_MAX], err[512];
	int r;

	memset(in, 0, sizeof(*in));
	in->inv = inv;
	if ((in->extra = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	if (bundle_path == NULL)
		bundle_path = inv->cluster.bundle;
	if (bundle_path != NULL) {
		if ((r = bundle_load(bundle_path, &in->bundle, d)) != 0)
			return r;
		if ((r = bundle_verify(in->bundle, d)) != 0)
			return r;
		if (inv->cluster.kubernetes_version != NULL &&
		    in->bundle->kubernetes_version != NULL &&
		    strcmp(inv->cluster.kubernetes_version,
		    in->bundle->kubernetes_version) != 0) {
			diag_add(d, inv->path, 0, 0, "cluster.kubernetes_version",
			    "the inventory asks for %s but the bundle %s holds "
			    "%s", inv->cluster.kubernetes_version,
			    in->bundle->dir, in->bundle->kubernetes_version);
			return KORCH_ERR_PARSE;
		}
		if ((r = bundle_vars(in->bundle, in->extra)) != 0)
			return r;
	}
	if (!has_master(inv))
		return 0;
	/* Beside the state: the CA key is as precious as the state. */
	snprintf(dir, sizeof(dir), "%s", state_path);
	if (snprintf(pkidir, sizeof(pkidir), "%s/pki/%s", dirname(dir),
	    inv->cluster.name) >= (int)sizeof(pkidir))
		return KORCH_ERR_TOO_LARGE;
	memset(&po, 0, sizeof(po));
	po.report = pki_report;
	po.report_arg = log;
	if ((r = cluster_pki_ensure(inv, pkidir, &po, &in->pki, err,
	    sizeof(err))) != 0) {
		diag_add(d, pkidir, 0, 0, NULL, "certificates: %s", err);
		return r;
	}
	return 0;
}

void
inputs_release(struct run_inputs *in)
{
	if (in == NULL)
		return;
	bundle_free(in->bundle);
	cluster_pki_free(in->pki);
	vars_free(in->extra);
	memset(in, 0, sizeof(*in));
}

int
inputs_host_vars(void *arg, size_t host, struct vars *v)
{
	struct run_inputs *in = arg;

	if (in->pki == NULL)
		return 0;
	return cluster_pki_host_vars(in->pki, in->inv, host, v);
}
