#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/bundle.h"
#include "cluster/cluster_pki.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/inputs.h"
#include "spec/inventory.h"
#include "spec/profile.h"
#include "engine/render.h"
#include "engine/vars.h"

static void
pki_report(void *arg, const char *name, const char *why)
{
	FILE *log = arg;

	if (log != NULL)
		fprintf(log, "pki: %s: %s\n", name, why);
}

/* The n-th address of an IPv4 CIDR (cluster DNS is the 10th of the service
 * range by convention); "" when it is not IPv4. */
static void
cidr_nth(const char *cidr, unsigned n, char *out, size_t len)
{
	char net[INET_ADDRSTRLEN];
	struct in_addr a;
	const char *slash;

	out[0] = '\0';
	if (cidr == NULL || (slash = strchr(cidr, '/')) == NULL ||
	    (size_t)(slash - cidr) >= sizeof(net))
		return;
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = '\0';
	if (inet_pton(AF_INET, net, &a) != 1)
		return;
	a.s_addr = htonl(ntohl(a.s_addr) + n);
	inet_ntop(AF_INET, &a, out, (socklen_t)len);
}

/*
 * What korch derives from the inventory for the cluster playbooks, as
 * plain names so the inventory's vars override them.  Everything a
 * Kubernetes version decides is in the profile (profile.h).
 */
static int
set_derived(const struct inventory *inv, struct vars *v)
{
	char buf[64];
	size_t masters = inventory_count_role(inv, "master");
	int r;

	snprintf(buf, sizeof(buf), "%zu", masters ? masters : 1);
	if ((r = vars_set(v, "apiserver_count", buf)) != 0)
		return r;
	cidr_nth(inv->cluster.service_cidr, 10, buf, sizeof(buf));
	if (buf[0] != '\0' && (r = vars_set(v, "cluster_dns", buf)) != 0)
		return r;
	return 0;
}

/* The profile for the version this run deploys: the bundle's, else the
 * inventory's.  0, or KORCH_ERR_PARSE with the reason in d. */
static int
pick_profile(const struct inventory *inv, struct run_inputs *in,
    struct diag *d)
{
	const char *version = NULL, *from = inv->path;
	char why[512];

	if (in->bundle == NULL) {
		diag_add(d, inv->path, 0, 0, "cluster.bundle", "the cluster "
		    "playbooks install from an offline bundle: name it with "
		    "cluster.bundle or --bundle");
		return KORCH_ERR_PARSE;
	}
	if (in->bundle->kubernetes_version != NULL) {
		version = in->bundle->kubernetes_version;
		from = in->bundle->manifest;
	} else
		version = inv->cluster.kubernetes_version;
	if (version == NULL) {
		diag_add(d, inv->path, 0, 0, "cluster.kubernetes_version",
		    "the cluster playbooks need a Kubernetes version: set "
		    "cluster.kubernetes_version, or name a bundle that says "
		    "it (cluster.bundle or --bundle)");
		return KORCH_ERR_PARSE;
	}
	if ((in->profile = profile_pick(in->profiles, version, why,
	    sizeof(why))) == NULL) {
		diag_add(d, from, 0, 0, "kubernetes_version", "%s", why);
		return KORCH_ERR_PARSE;
	}
	return 0;
}

/* The profile's defaults and flags, rendered against the run-wide
 * variables (bundle.*, cluster.*). */
static int
set_profile(const struct inventory *inv, struct run_inputs *in,
    struct diag *d)
{
	struct vars *run;
	size_t i;
	int r = 0;

	if ((run = vars_new(inv->vars)) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < vars_count(in->extra) && r == 0; i++)
		r = vars_set(run, vars_key(in->extra, i),
		    vars_value(in->extra, i));
	if (r == 0)
		r = profile_vars(in->profile, run, in->extra, d);
	vars_free(run);
	return r == KORCH_ERR_TEMPLATE ? KORCH_ERR_PARSE : r;
}

int
inputs_prepare(const struct inventory *inv, const struct profile_set *ps,
    const char *bundle_path, const char *state_path, FILE *log,
    struct run_inputs *in, struct diag *d)
{
	struct cluster_pki_opts po;
	char dir[PATH_MAX], pkidir[PATH_MAX], err[512];
	int r;

	memset(in, 0, sizeof(*in));
	in->inv = inv;
	in->profiles = ps;
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
	if ((r = set_derived(inv, in->extra)) != 0)
		return r;
	if (profile_set_count(ps) > 0 &&
	    ((r = pick_profile(inv, in, d)) != 0 ||
	    (r = set_profile(inv, in, d)) != 0))
		return r;
	if (inventory_count_role(inv, "master") == 0)
		return 0;
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
inputs_host_vars(void *arg, size_t host, struct vars **out)
{
	struct run_inputs *in = arg;
	struct vars *v;
	size_t i;
	int r = 0;

	*out = NULL;
	if ((v = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < vars_count(in->extra) && r == 0; i++)
		r = vars_set(v, vars_key(in->extra, i), vars_value(in->extra, i));
	if (r == 0 && in->pki != NULL)
		r = cluster_pki_host_vars(in->pki, in->inv, host, v);
	if (r != 0) {
		vars_free(v);
		return r;
	}
	*out = v;
	return 0;
}

int
inputs_check_bundle(struct run_inputs *in, const struct playbook *pb,
    const struct dag *dag, struct diag *d)
{
	const struct diag_entry *e;
	struct rendered_host *rh = NULL;
	struct diag *scratch = NULL;
	struct vars *extra = NULL;
	const char *name;
	size_t i, k;
	int r = 0, bad = 0;

	for (i = 0; i < in->inv->nhosts && r == 0; i++) {
		if ((scratch = diag_new()) == NULL) {
			r = KORCH_ERR_ALLOC;
			break;
		}
		r = inputs_host_vars(in, i, &extra);
		if (r == 0 && render_host_tasks(pb, dag, in->inv, i, NULL,
		    extra, &rh, scratch) == KORCH_ERR_ALLOC)
			r = KORCH_ERR_ALLOC;
		/* Only what the bundle should have provided is an error
		 * now; facts arrive later. */
		for (k = 0; k < diag_count(scratch); k++) {
			e = diag_get(scratch, k);
			if ((name = strstr(e->msg, "'bundle.")) == NULL)
				continue;
			diag_add(d, e->file, e->line, e->col, e->path,
			    "%s; the bundle %s", e->msg, in->bundle == NULL ?
			    "is not named (cluster.bundle or --bundle)" :
			    "has no such component");
			bad++;
		}
		rendered_host_free(rh);
		rh = NULL;
		vars_free(extra);
		extra = NULL;
		diag_free(scratch);
		scratch = NULL;
		/* One host's report says it all for the rest. */
		if (bad > 0)
			break;
	}
	rendered_host_free(rh);
	vars_free(extra);
	diag_free(scratch);
	if (r != 0)
		return r;
	return bad > 0 ? KORCH_ERR_PARSE : 0;
}
