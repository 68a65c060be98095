/*
 * upgrade_restore.c - `korch etcd restore` (see upgrade_restore in
 * upgrade_run.h): the profile's restore-* slots in order, the snapshot
 * served to the hosts as a blob.
 */
#include <stdio.h>
#include <time.h>

#include "spec/bundle.h"
#include "err.h"
#include "engine/sched.h"
#include "cluster/upgrade_run.h"
#include "cluster/upgrade_run-int.h"
#include "engine/vars.h"

int
upgrade_restore(const struct upgrade_env *e,
    const struct bundle_component *snap, const char *stamp, char *why,
    size_t whylen)
{
	/* In order: what the line says, and the profile's slot. */
	static const struct {
		const char	*label, *what, *slot;
	} plan[] = {
		{ "stop", "apiservers", "restore-stop" },
		{ "restore", "etcd members", "restore-members" },
		{ "health", "etcd members", "restore-member-health" },
		{ "health", "etcd cluster", "restore-cluster-health" },
		{ "flannel", "network config", "restore-network" },
		{ "start", "apiservers", "restore-start" },
		{ "health", "apiservers", "restore-ready" },
	};
	const size_t n = sizeof(plan) / sizeof(plan[0]);
	struct upgrade_env ee = *e;
	struct timespec t0;
	struct vars *v;
	char size[32], line[64];
	size_t i;
	int r = 0;

	if ((v = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)snap->size);
	if ((r = vars_set(v, "restore_sha256", snap->sha256)) != 0 ||
	    (r = vars_set(v, "restore_size", size)) != 0 ||
	    (r = vars_set(v, "restore_stamp", stamp)) != 0) {
		vars_free(v);
		return r;
	}
	ee.o.extra_blobs = snap;
	ee.o.nextra_blobs = 1;
	for (i = 0; i < n && r == 0; i++) {
		upg_say_phase(e, (int)i + 1, (int)i + 1, n, plan[i].label,
		    plan[i].what, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = upg_pass_slot(&ee, plan[i].slot, NULL, v, NULL, why,
		    whylen);
		snprintf(line, sizeof(line), "%s  %.1fs", r == 0 ? "done" :
		    "FAILED", upg_secs_since(&t0));
		upg_say_phase(e, (int)i + 1, (int)i + 1, n, plan[i].label,
		    plan[i].what, line);
	}
	vars_free(v);
	return r;
}
