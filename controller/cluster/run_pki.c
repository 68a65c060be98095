/*
 * run_pki.c - a run's certificates: the cluster's PKI directory beside the
 * state (<dir of state>/pki/<cluster name>/), made or reused through
 * cluster_pki.h, each certificate made reported on the run's log.
 */
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cluster/cluster_pki.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/run_inputs.h"
#include "cluster/run_inputs-int.h"
#include "spec/inventory.h"

static void
pki_report(void *arg, const char *name, const char *why)
{
	FILE *log = arg;

	if (log != NULL)
		fprintf(log, "pki: %s: %s\n", name, why);
}

int
inputs_pki_dir(const char *state_path, const char *cluster, char *buf,
    size_t len)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", state_path);
	if ((size_t)snprintf(buf, len, "%s/pki/%s", dirname(dir), cluster) >=
	    len)
		return KORCH_ERR_TOO_LARGE;
	return 0;
}

int
inputs_open_pki(const struct inventory *inv, const char *state_path,
    FILE *log, struct run_inputs *in, struct diag *d)
{
	struct cluster_pki_opts po;
	char dir[PATH_MAX], pkidir[PATH_MAX], err[512];
	int r;

	/* Beside the state: the CA key is as precious as the state. */
	snprintf(dir, sizeof(dir), "%s", state_path);
	if (snprintf(pkidir, sizeof(pkidir), "%s/pki", dirname(dir)) >=
	    (int)sizeof(pkidir))
		return KORCH_ERR_TOO_LARGE;
	if (mkdir(pkidir, 0700) == -1 && errno != EEXIST) {
		diag_add(d, pkidir, 0, 0, NULL, "cannot create: %s",
		    strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", pkidir, inv->cluster.name) >=
	    (int)sizeof(dir))
		return KORCH_ERR_TOO_LARGE;
	memset(&po, 0, sizeof(po));
	po.report = pki_report;
	po.report_arg = log;
	if ((r = cluster_pki_ensure(inv, dir, &po, &in->pki, err,
	    sizeof(err))) != 0) {
		diag_add(d, dir, 0, 0, NULL, "certificates: %s", err);
		return r;
	}
	return 0;
}
