/*
 * cmd_ctx.h - what `korch upgrade`, `korch rollback` and `korch etcd
 * restore` load before they touch a host: the state (and its lock), the
 * inventory the last apply used, both playbook sets, a bundle of the
 * version wanted, and the cluster's PKI.  Shared by those commands only.
 */
#ifndef KORCH_CMD_CTX_H
#define KORCH_CMD_CTX_H

#include <limits.h>
#include <stdint.h>

#include "cli/cmd.h"
#include "cluster/inputs.h"
#include "engine/sched.h"
#include "ssh/ssh_session.h"
#include "state_lock.h"

struct dag;
struct diag;
struct inventory;
struct kver;
struct playbook;
struct upgrade_env;

struct ctx_args {
	const char	*to;
	const char	*inventory;
	const char	*max_unavail;
	int		 plan, allow_downgrade, abandon, yes;
	struct cmd_run_args r;
};

/* Everything one command loads; ctx_init() to ctx_finish(). */
struct cmd_ctx {
	const char	*kind;		/* "upgrade", "rollback", "restore" */
	struct ctx_args	 a;
	char		 statepath[PATH_MAX];
	char		 invpath[PATH_MAX];
	char		 pbdir[PATH_MAX];
	char		 upbdir[PATH_MAX + 16];
	char		 backups[PATH_MAX];
	struct diag	*d;
	struct kstate	*st;
	int64_t		 run_id;	/* 0 once ended */
	struct inventory *inv;
	struct playbook	*pb, *upb;
	struct profile_set *profiles;	/* <pbdir>/profiles */
	struct dag	*dag, *udag;
	struct agent_image img;
	int		 have_img;
	struct run_inputs in;
	char		*bundle_path;
	char		 target[64];	/* the version the bundle holds */
	char		*inv_version;	/* as the inventory file says */
	struct kstate_upgrade *unf;	/* the unfinished entry, or NULL */
	struct kstate_upgrade *undo;	/* rollback: the upgrade undone */
	char		*args;
};

/* Each returns a KX_* exit code, having said what went wrong on stderr. */

/* A context for command kind (argv[0] is the command's name, argv[-1]
 * korch's): the command line kept for the run record. */
int ctx_init(struct cmd_ctx *c, const char *kind, int argc, char **argv);

/* Open the state (it must exist), load the inventory (--inventory, else
 * the one the last apply recorded), both playbook sets and the profiles,
 * take the run lock, and find the unfinished upgrade or rollback
 * (c->unf). */
int ctx_open(struct cmd_ctx *c, char **argv);

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

/* End the run with its real result now (NULL-safe; once). */
void ctx_end_run(struct cmd_ctx *c, enum kstate_run_result res, int rc);

/* End a run still held as rc says (converged for KX_OK, else aborted),
 * free everything, and return rc. */
int ctx_finish(struct cmd_ctx *c, int rc);

#endif
