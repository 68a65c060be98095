/*
 * cmd_target.h - what `korch upgrade`, `korch rollback` and `korch etcd
 * restore` add to an opened command (cmd_open.h): the bundle of the
 * version they move the cluster to, the inputs at that version, and the
 * engine environment over it all, stopped between phases by a signal.
 */
#ifndef KORCH_CMD_TARGET_H
#define KORCH_CMD_TARGET_H

#include "cli/cmd_open.h"

struct kver;
struct upgrade_env;

/* Each returns a KX_* exit code, having said what went wrong on stderr. */

/* Choose the bundle of version want: --bundle (a bundle or a directory
 * of bundles), else the directory holding the inventory's bundle. */
int ctx_pick_bundle(struct cmd_ctx *c, const struct kver *want);

/* Refuse a version no profile covers (before any bundle is looked for),
 * saying which are. */
int ctx_check_profile(struct cmd_ctx *c, const char *version);
/* Set the inventory to the chosen bundle's version, load and verify the
 * bundle (every component the inventory's roles need, as its profile
 * says), reuse the PKI. */
int ctx_inputs(struct cmd_ctx *c);

/* An engine environment over everything loaded (upgrade_run.h); its stop
 * flag is set by ctx_catch_signals()'s handler. */
void ctx_env(struct cmd_ctx *c, struct upgrade_env *e);

/* From now on the first SIGINT/SIGTERM asks to stop between phases, the
 * second kills; on = 0 restores what was there. */
void ctx_catch_signals(int on);

#endif
