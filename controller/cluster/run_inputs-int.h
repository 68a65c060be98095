/*
 * run_inputs-int.h - the steps of inputs_prepare (run_inputs.h), one file
 * each; not for use outside controller/cluster/run_*.c.  Each returns 0 or
 * a KORCH_ERR_* with the problem in d, as inputs_prepare does, and leaves
 * what it made in in (inputs_release frees it).
 */
#ifndef KORCH_RUN_INPUTS_INT_H
#define KORCH_RUN_INPUTS_INT_H

#include <stdio.h>

struct diag;
struct inventory;
struct run_inputs;

/* run_bundle.c: load and verify the bundle (bundle_path, else the
 * inventory's cluster.bundle, else none) and set its bundle.* variables
 * in in->extra. */
int inputs_load_bundle(const struct inventory *inv, const char *bundle_path,
    struct run_inputs *in, struct diag *d);

/* run_profile.c: the derived variables, then (when in->profiles has any)
 * the version's profile, its defaults and flags, into in->extra. */
int inputs_profile_vars(const struct inventory *inv, struct run_inputs *in,
    struct diag *d);

/* run_pki.c: make or reuse the cluster's certificates beside state_path
 * into in->pki, a line per certificate made on log (NULL: silent). */
int inputs_open_pki(const struct inventory *inv, const char *state_path,
    FILE *log, struct run_inputs *in, struct diag *d);

#endif
