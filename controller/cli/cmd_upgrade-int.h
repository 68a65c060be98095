/*
 * cmd_upgrade-int.h - what cmd_upgrade.c (`korch upgrade`, and the
 * command line of both), cmd_rollback.c and cmd_journal.c share.  Each
 * function returns a KX_* exit code, having said what went wrong.
 */
#ifndef KORCH_CMD_UPGRADE_INT_H
#define KORCH_CMD_UPGRADE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cmd_open.h"
#include "cluster/upgrade_plan.h"
#include "state_upgrade.h"

struct kstate_phase_spec;

/* Where the cluster is, as the pre-flight found it. */
struct observed {
	struct kver	 low, high;	/* of Kubernetes' own components */
	int		 have;
	struct kver	 etcd_low;	/* the lowest etcd member's */
	int		 have_etcd;
	int		 etcd_differs;	/* some member runs another etcd */
	int		 behind;	/* some component is not the target */
};

/*
 * Pre-flight on every host; observed versions into ob.  When finishing or
 * undoing entry (0: none), its etcd members whose phase was left running
 * or failed may fail their health check: repairing them is the point.
 */
int journal_preflight(struct cmd_ctx *c, int64_t entry, struct observed *ob);

/*
 * Record a new journal entry (*id), abandoning old (0: none) with reason
 * why in the same transaction.  0 or a KORCH_ERR_* (said), not an exit
 * code.
 */
int journal_new(struct cmd_ctx *c, int64_t old, const char *why,
    const char *kind, const char *from, const char *to, unsigned maxu,
    int64_t parent, const struct kstate_phase_spec *spec, size_t n,
    int64_t *id);

/* Run the journal entry id, record how it ended (the run too), say so. */
int journal_walk(struct cmd_ctx *c, int64_t id);

/* Go on with the unfinished entry c->unf (--plan: show its journal). */
int journal_resume(struct cmd_ctx *c);

/* The --json summary of a run (id: its entry, 0 for none; why: the error,
 * NULL or "" for none) on stdout. */
int journal_json(struct cmd_ctx *c, int64_t run_id, int64_t id, int rc,
    const char *why);

/* `korch rollback` over an opened context (cmd_rollback.c). */
int rollback_run(struct cmd_ctx *c);

#endif
