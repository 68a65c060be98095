/*
 * run_bundle.c - a run's offline bundle: loaded, every component's hash
 * verified, its version checked against the inventory's and its bundle.*
 * variables set; and, before any host is contacted, whether it holds every
 * component the tasks name.
 */
#include <string.h>

#include "spec/bundle.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/run_inputs.h"
#include "cluster/run_inputs-int.h"
#include "spec/inventory.h"
#include "engine/render.h"
#include "engine/vars.h"

/*
 * apiserver_lb local and vip install their load balancer from the bundle
 * when the run has one (else from the distribution): refused before any
 * host is contacted when a package is not there.  local runs haproxy on
 * every host that is not a master, vip haproxy and keepalived on every
 * master.
 */
static int
check_lb_packages(const struct inventory *inv, const struct bundle *b,
    struct diag *d)
{
	static const char *const pkgs[] = { "haproxy", "keepalived" };
	const char *mode = inv->cluster.apiserver_lb;
	int vip = strcmp(mode, "vip") == 0, master;
	size_t i, k;

	if (strcmp(mode, "local") != 0 && !vip)
		return 0;
	for (i = 0; i < inv->nhosts; i++) {
		master = inventory_host_has_role(&inv->hosts[i], "master");
		if (master == vip)
			break;
	}
	if (i == inv->nhosts)
		return 0;
	for (k = 0; k < (vip ? 2u : 1u); k++) {
		if (bundle_find_package(b, pkgs[k]) != NULL)
			continue;
		diag_add(d, inv->path, 0, 0, "cluster.apiserver_lb", "%s runs "
		    "%s on %s and every other %s, but the bundle %s has no %s "
		    "package (packages:; tests/bundle/make-bundle --lb adds "
		    "Debian's; or set apiserver_lb: none)", mode, pkgs[k],
		    inv->hosts[i].name, vip ? "master" : "host that is not a "
		    "master", b->dir, pkgs[k]);
		return KORCH_ERR_PARSE;
	}
	return 0;
}

int
inputs_load_bundle(const struct inventory *inv, const char *bundle_path,
    struct run_inputs *in, struct diag *d)
{
	int r;

	if (bundle_path == NULL)
		bundle_path = inv->cluster.bundle;
	if (bundle_path == NULL)
		return 0;
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
	if ((r = check_lb_packages(inv, in->bundle, d)) != 0)
		return r;
	return bundle_vars(in->bundle, in->extra);
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
