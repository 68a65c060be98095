/*
 * upgrade_run-int.h - what the files of upgrade_run.h share; not for use
 * outside controller/cluster/upgrade_*.c (and day2_run.c, whose passes
 * are the same).  upgrade_pass.c has the engine passes and the phase
 * lines, upgrade_run.c the phases and the journal walk,
 * upgrade_restore.c `korch etcd restore`.
 */
#ifndef KORCH_UPGRADE_RUN_INT_H
#define KORCH_UPGRADE_RUN_INT_H

#include <stddef.h>
#include <time.h>

struct inventory;
struct upgrade_env;
struct vars;

/* A message into a caller's buffer; cut short when it does not fit (the
 * messages name paths and hosts, and any prefix of them still helps). */
void upg_msgf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * One engine pass over the steps of the profile's slot (profile.h
 * `steps:`) on the hosts named in limit (comma-separated; NULL: all),
 * with extra (may be NULL) on top of each host's variables.  failed
 * (inventory-sized, may be NULL) gets 1 for each host that did not make
 * it.  0 when every host made it; KORCH_ERR_CONNECT (a host unreachable)
 * or KORCH_ERR_AGENT (a step failed) with "host: reason", a line per host,
 * in why; KORCH_ERR_INVALID_ARG for a slot the profile does not fill.
 */
int upg_pass_slot(const struct upgrade_env *e, const char *slot,
    const char *limit, const struct vars *extra, unsigned char *failed,
    char *why, size_t whylen);

/* Comma-joined names of the hosts in idx[0..n) not marked in skip (may be
 * NULL), as a new string ("" when every one is skipped); NULL on ENOMEM. */
char *upg_join_names(const struct inventory *inv, const size_t *idx,
    size_t n, const unsigned char *skip);

/*
 * One line per phase: "  [3/5] node     node2   done  7.6s" ([3-4/5] for
 * a batch).  On a terminal the line shows first with "..." while the
 * phase runs (what == NULL), then is rewritten with the outcome.  Nothing
 * when e->out is NULL.
 */
void upg_say_phase(const struct upgrade_env *e, int first, int last,
    size_t total, const char *phase, const char *hosts, const char *what);

/* Seconds since t0 (CLOCK_MONOTONIC). */
double upg_secs_since(const struct timespec *t0);

#endif
