/*
 * cmd_day2.h - what `korch remove` and `korch reset` share with each other
 * and with every command that opens the cluster (cmd_open.c): the mark a
 * removal leaves in the state (a setting "removed/<host>": when, and
 * whether the host was dead), the table of hosts the decisions read
 * (day2_plan.h), and the question asked before anything changes.
 */
#ifndef KORCH_CMD_DAY2_H
#define KORCH_CMD_DAY2_H

#include <stddef.h>

#include "cluster/day2_plan.h"

struct inventory;
struct kstate;

/* Record that host was removed now (dead: without contacting it).
 * KORCH_OK or the state's KORCH_ERR_*. */
int day2_mark_removed(struct kstate *st, const char *host, int dead);
/* 1 when host carries a removal mark (when: its UTC date, "YYYY-MM-DD
 * HH:MM UTC", into when), 0 when not, <0 on a state error. */
int day2_removed(struct kstate *st, const char *host, char *when,
    size_t whenlen);
/* Drop host's mark (none: nothing to do).  KORCH_OK or KORCH_ERR_*. */
int day2_clear_removed(struct kstate *st, const char *host);

/*
 * The hosts of inv as day2_plan.h's table (malloc'd, inv->nhosts rows;
 * names borrowed from inv), removal marks read from st; targets not yet
 * marked.  NULL with *err set to a KORCH_ERR_*.
 */
struct day2_host *day2_table(const struct inventory *inv, struct kstate *st,
    int *err);

/*
 * Mark the hosts named in argv[0..argc) as targets.  An unknown name is
 * said on stderr (naming the inventory) and makes it fail; a name given
 * twice counts once.  0, or -1.
 */
int day2_mark_targets(struct day2_host *h, const struct inventory *inv,
    const char *invpath, int argc, char **argv);

/*
 * The question before a destructive command: with yes, go on; on a
 * terminal, ask `question [y/N]` on stdout and read stdin; else refuse,
 * saying that --yes is needed.  1 to go on, 0 not to (said on stderr).
 */
int day2_confirm(int yes, const char *question);

/*
 * Refuse a command (apply, plan, upgrade, ...) whose inventory still
 * names a removed host: said on stderr with the inventory's file and
 * line and the two ways out.  KX_OK, KX_USAGE, or KX_INTERNAL.
 */
int day2_refuse_removed(const struct inventory *inv, const char *invpath,
    struct kstate *st);

#endif
