/*
 * state_upgrade.h - the upgrade journal (state/upgrade.c): upgrades and
 * their phases, written before and after each step so a resumed upgrade
 * knows where it stopped.
 */
#ifndef KORCH_STATE_UPGRADE_H
#define KORCH_STATE_UPGRADE_H

#include "state.h"

/*
 * `korch upgrade` (and its rollback) records every phase of every host
 * before and after doing it, so an interrupted one resumes exactly where
 * it stopped.  An upgrade row is the plan and its state; its phases are
 * the steps in execution order (seq 1..n).  Upgrades are not runs: a run
 * that dies becomes INTERRUPTED, its upgrade stays as it was (RUNNING)
 * for the next run to find with kstate_upgrade_unfinished().
 *
 * Every write below commits on its own, or with the batch it is in like
 * the recording calls, and is durable once committed: the WAL is synced
 * (at once, or when the batch commits), so not even a crash of the
 * machine loses it.  A sync that fails after the commit is reported as
 * KORCH_ERR_STATE although the write is in the database.
 */

/* Names as stored: "running", "failed", "done", "abandoned". */
enum kstate_upgrade_status {
	KSTATE_UPG_RUNNING,
	KSTATE_UPG_FAILED,	/* stopped on an error; to be resumed */
	KSTATE_UPG_DONE,
	KSTATE_UPG_ABANDONED,	/* given up on purpose (e.g. rolled back) */
};

/* Fixed names as stored; "?" for a value out of range.  Never NULL. */
const char *kstate_upgrade_status_name(enum kstate_upgrade_status s);

/* One phase of the plan. */
struct kstate_phase_spec {
	const char	*host;		/* required */
	const char	*phase;		/* "snapshot", "etcd", "master" or
					 * "node" */
	int		 batch;		/* node batch (>= 1 by convention);
					 * must be 0 for the other phases */
	const char	*from_version;	/* may be NULL */
	const char	*to_version;	/* may be NULL */
};

/*
 * Record a new upgrade and its plan in one transaction (a savepoint inside
 * a batch: all or nothing either way): the upgrade row, status RUNNING,
 * started now, and one PENDING phase per spec with seq = position + 1.
 * kind: "upgrade" or "rollback"; from and to: versions, required;
 * max_unavailable >= 1; parent_id: the upgrade a rollback undoes (required
 * for a rollback, KORCH_ERR_NOT_FOUND when there is no such upgrade), 0
 * for none; run_id <= 0: not in a run.  phases may be NULL when n is 0.
 * A (host, phase) listed twice is KORCH_ERR_INVALID_ARG.  *id is the new
 * upgrade's id, 0 when nothing was recorded.  Does not look at other
 * upgrades: whether one may start while another is unfinished is the
 * caller's to decide.
 */
int kstate_upgrade_create(struct kstate *st, int64_t run_id,
    const char *kind, const char *from, const char *to, int max_unavailable,
    int64_t parent_id, const struct kstate_phase_spec *phases, size_t n,
    int64_t *id);

struct kstate_upgrade {
	int64_t		 id;
	char		*kind;		/* "upgrade" or "rollback" */
	char		*from_version;
	char		*to_version;
	enum kstate_upgrade_status status;
	int		 max_unavailable;
	int64_t		 parent_id;	/* 0: none */
	char		*snapshot;	/* etcd snapshot on the controller */
	char		*message;
	int64_t		 started_at;
	int64_t		 ended_at;	/* 0 until done or abandoned */
	int64_t		 run_id;	/* run that last worked on it; 0 */
};

/* Upgrade id; KORCH_ERR_NOT_FOUND when there is none.  *out is NULL on
 * error.  Release with kstate_upgrade_free(). */
int kstate_upgrade_get(struct kstate *st, int64_t id,
    struct kstate_upgrade **out);
/* The newest upgrade or rollback that is unfinished (RUNNING or FAILED);
 * KORCH_ERR_NOT_FOUND when none is. */
int kstate_upgrade_unfinished(struct kstate *st,
    struct kstate_upgrade **out);
/* The newest of that kind ("upgrade", "rollback"; NULL: either), whatever
 * its status; KORCH_ERR_NOT_FOUND when there is none. */
int kstate_upgrade_last(struct kstate *st, const char *kind,
    struct kstate_upgrade **out);
void kstate_upgrade_free(struct kstate_upgrade *u);

/*
 * Set an upgrade's status and message (NULL clears it); run_id > 0 becomes
 * the run that last worked on it (<= 0 keeps the stored one).  ended_at
 * becomes now for DONE and ABANDONED, and is cleared for RUNNING and
 * FAILED.  DONE and ABANDONED are final: setting another status afterwards
 * is KORCH_ERR_INVALID_ARG (the same one again only updates message and
 * run, ended_at stays).  KORCH_ERR_NOT_FOUND when there is no such upgrade.
 */
int kstate_upgrade_set_status(struct kstate *st, int64_t id,
    enum kstate_upgrade_status s, const char *message, int64_t run_id);

/* The etcd snapshot taken for it (path on the controller; NULL clears).
 * KORCH_ERR_NOT_FOUND when there is no such upgrade. */
int kstate_upgrade_set_snapshot(struct kstate *st, int64_t id,
    const char *path);

/* Names as stored: "pending", "running", "done", "failed". */
enum kstate_phase_status {
	KSTATE_PH_PENDING,
	KSTATE_PH_RUNNING,
	KSTATE_PH_DONE,
	KSTATE_PH_FAILED,
};

/* Its names, as kstate_upgrade_status_name(). */
const char *kstate_phase_status_name(enum kstate_phase_status s);

struct kstate_phase {
	int64_t		 upgrade_id;
	int		 seq;		/* execution order, 1..n */
	char		*host;
	char		*phase;
	int		 batch;
	enum kstate_phase_status status;
	char		*from_version;	/* NULL when not given */
	char		*to_version;	/* NULL when not given */
	char		*message;
	int64_t		 started_at;	/* 0: not started */
	int64_t		 ended_at;	/* 0: not ended */
	int		 attempts;	/* times set RUNNING */
};

/*
 * Move a phase (host, phase of upgrade_id) to status s:
 *  - RUNNING: started_at = now, attempts + 1, ended_at cleared;
 *  - DONE, FAILED: ended_at = now (started_at stays, 0 for a phase that
 *    was found done without running);
 *  - PENDING: started_at and ended_at cleared (attempts stay).
 * message is stored as given for every status, NULL clearing it: RUNNING
 * with NULL drops the last failure's message.  Any move is allowed (a
 * resumed upgrade reruns a phase left RUNNING).  KORCH_ERR_NOT_FOUND when
 * the upgrade has no such phase.
 */
int kstate_phase_set(struct kstate *st, int64_t upgrade_id,
    const char *host, const char *phase, enum kstate_phase_status s,
    const char *message);

/* The phases of an upgrade, by seq (NULL and 0 when it has none). */
int kstate_phases_list(struct kstate *st, int64_t upgrade_id,
    struct kstate_phase **out, size_t *n);
void kstate_phases_free(struct kstate_phase *v, size_t n);

#endif
