/*
 * run_profile.c - the variables a run's Kubernetes version brings: the
 * profile of that version (its defaults and flags, rendered against the
 * run-wide variables) and what korch derives from the inventory
 * (apiserver_count, cluster_dns).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "spec/bundle.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/run_inputs.h"
#include "cluster/run_inputs-int.h"
#include "spec/inventory.h"
#include "spec/profile.h"
#include "engine/vars.h"

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
		r = vars_set_flags(run, vars_key(in->extra, i),
		    vars_value(in->extra, i), vars_flags_at(in->extra, i));
	if (r == 0)
		r = profile_vars(in->profile, run, in->extra, d);
	vars_free(run);
	return r == KORCH_ERR_TEMPLATE ? KORCH_ERR_PARSE : r;
}

int
inputs_profile_vars(const struct inventory *inv, struct run_inputs *in,
    struct diag *d)
{
	int r;

	if ((r = set_derived(inv, in->extra)) != 0)
		return r;
	if (profile_set_count(in->profiles) > 0 &&
	    ((r = pick_profile(inv, in, d)) != 0 ||
	    (r = set_profile(inv, in, d)) != 0))
		return r;
	return 0;
}
