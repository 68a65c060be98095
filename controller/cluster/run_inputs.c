/*
 * run_inputs.c - what a run prepares on the controller before any host is
 * contacted, in order: the bundle (run_bundle.c), the profile's and the
 * derived variables (run_profile.c), the PKI (run_pki.c); and each host's
 * variables from them.  See run_inputs.h.
 */
#include <stdio.h>
#include <string.h>

#include "spec/bundle.h"
#include "cluster/cluster_pki.h"
#include "err.h"
#include "cluster/run_inputs.h"
#include "cluster/run_inputs-int.h"
#include "spec/inventory.h"
#include "engine/vars.h"

/*
 * repo_allow_unsigned: true (cluster-wide or on some hosts) turns off the
 * package repositories' signature check (playbooks/20-repos.yaml): said
 * on every run, on log, so nobody forgets it is on.
 */
static void
warn_unsigned(const struct inventory *inv, FILE *log)
{
	const char *v;
	size_t i, n = 0;

	for (i = 0; i < inv->nhosts; i++)
		if ((v = vars_get(inv->hosts[i].vars,
		    "repo_allow_unsigned")) != NULL && strcmp(v, "true") == 0)
			n++;
	if (n > 0)
		fprintf(log != NULL ? log : stderr, "korch: warning: repo_allow_unsigned is true on "
		    "%zu of %zu hosts: their package repositories are used "
		    "without a signature check (set repo_key instead)\n", n,
		    inv->nhosts);
}

int
inputs_prepare(const struct inventory *inv, const struct profile_set *ps,
    const char *bundle_path, const char *state_path, FILE *log,
    struct run_inputs *in, struct diag *d)
{
	int r;

	memset(in, 0, sizeof(*in));
	in->inv = inv;
	in->profiles = ps;
	warn_unsigned(inv, log);
	if ((in->extra = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = inputs_load_bundle(inv, bundle_path, in, d)) != 0 ||
	    (r = inputs_profile_vars(inv, in, d)) != 0)
		return r;
	if (inventory_count_role(inv, "master") == 0)
		return 0;
	return inputs_open_pki(inv, state_path, log, in, d);
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
		r = vars_set_flags(v, vars_key(in->extra, i),
		    vars_value(in->extra, i), vars_flags_at(in->extra, i));
	if (r == 0 && in->pki != NULL)
		r = cluster_pki_host_vars(in->pki, in->inv, host, v);
	if (r != 0) {
		vars_free(v);
		return r;
	}
	*out = v;
	return 0;
}
