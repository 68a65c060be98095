/*
 * cmd_open.h - how a command that runs the engine (apply, plan, upgrade,
 * rollback, etcd restore) opens what it works on before any host is
 * contacted: the state and its run lock, the inventory, the playbooks and
 * their DAG, the profiles and the agent binary, all held in one struct
 * cmd_ctx from ctx_init() to ctx_finish().  What upgrade, rollback and
 * etcd restore add on top (the bundle of another version) is
 * cmd_target.h's.
 */
#ifndef KORCH_CMD_OPEN_H
#define KORCH_CMD_OPEN_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cmd.h"
#include "cluster/run_inputs.h"
#include "engine/sched.h"
#include "ssh/agent_image.h"
#include "state.h"
#include "state_lock.h"
#include "state_upgrade.h"

struct dag;
struct diag;
struct inventory;
struct playbook;

/* The command line; each command sets what it takes. */
struct ctx_args {
	const char	*to;
	const char	*inventory;	/* apply's argument, else --inventory */
	const char	*max_unavail;
	int		 plan, allow_downgrade, abandon, yes;
	struct cmd_run_args r;
};

/* Everything one command loads; ctx_init() to ctx_finish(). */
struct cmd_ctx {
	const char	*kind;		/* "apply", "plan", "upgrade", ... */
	struct ctx_args	 a;
	char		*args;		/* the command line, for the run */
	struct diag	*d;
	/* ctx_open()'s */
	char		 statepath[PATH_MAX];
	char		 statereal[PATH_MAX];	/* its full path: host locks
						 * name it */
	struct kstate	*st;
	int64_t		 run_id;	/* 0 once ended */
	const char	*invpath;	/* a.inventory, else inv_saved */
	char		*inv_saved;	/* the inventory the state names */
	struct inventory *inv;
	char		 pbdir[PATH_MAX];
	char		 upbdir[PATH_MAX + 16];
	struct playbook	*pb, *upb;	/* upb, udag: CTX_OPEN_UPGRADE or _DAY2 */
	struct profile_set *profiles;	/* <pbdir>/profiles */
	struct dag	*dag, *udag;
	struct agent_image img;
	int		 have_img;
	struct kstate_upgrade *unf;	/* the unfinished entry, or NULL */
	/* ctx_prepare()'s */
	struct run_inputs in;
	/* cmd_target.h's: the version a command moves the cluster to */
	char		*bundle_path;
	char		 target[64];	/* the version the bundle holds */
	char		*inv_version;	/* as the inventory file says */
	char		 backups[PATH_MAX];
	struct kstate_upgrade *undo;	/* rollback: the upgrade undone */
};

/* Each returns a KX_* exit code, having said what went wrong on stderr. */

/* A context for command kind (argv[0] is the command's name, argv[-1]
 * korch's): the command line kept for the run record.  ctx_finish() it
 * even when this fails. */
int ctx_init(struct cmd_ctx *c, const char *kind, int argc, char **argv);

/* What ctx_open() opens besides the state, the inventory, the playbooks,
 * the profiles, the agent binary and the run lock. */
enum {
	/*
	 * apply and plan: the state is created when there is none, and the
	 * inventory (a.inventory, required) and the playbooks are loaded and
	 * checked before the state is touched.  Without it the state must
	 * exist and is opened first: it names the inventory (the one the last
	 * apply used) when --inventory does not.
	 */
	CTX_OPEN_NEW_STATE	= 1 << 0,
	/* The upgrade playbooks (<pbdir>/upgrade) and their DAG too, and the
	 * unfinished upgrade or rollback (c->unf). */
	CTX_OPEN_UPGRADE	= 1 << 1,
	/* Read-only commands (korch certs): no run lock, no run recorded. */
	CTX_OPEN_NO_LOCK	= 1 << 2,
	/* remove and reset: <pbdir>/day2 as the side set (upb, udag) instead
	 * of upgrade/, and the unfinished upgrade (c->unf); an inventory
	 * naming removed hosts is not refused (every other command refuses
	 * it, cmd_day2.h). */
	CTX_OPEN_DAY2		= 1 << 3,
};

/* Open what flags (CTX_OPEN_*) say and take the run lock, recorded as a
 * run of c->kind ("plan" with a.plan). */
int ctx_open(struct cmd_ctx *c, char **argv, unsigned flags);

/* inputs_prepare() over what is open: bundle (NULL: the inventory's),
 * progress and certificates made said on out (NULL: not said). */
int ctx_prepare(struct cmd_ctx *c, const char *bundle, FILE *out);

/* apply's guard (cmd_apply.c), for the commands that run apply's steps:
 * refused (KX_USAGE, said on stderr) while an upgrade is unfinished or
 * when version is not the one an upgrade or rollback left the cluster
 * on. */
int apply_guard_upgrades(struct kstate *st, const struct inventory *inv,
    const char *version);

/* End the run with its real result now (NULL-safe; once). */
void ctx_end_run(struct cmd_ctx *c, enum kstate_run_result res, int rc);

/* End a run still held as rc says (converged for KX_OK, else aborted),
 * free everything, and return rc. */
int ctx_finish(struct cmd_ctx *c, int rc);

#endif
