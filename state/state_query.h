/*
 * state_query.h - reading state back for `korch status` (state/query.c):
 * runs, hosts, observed rows, per-host outcomes, results, pending restarts
 * and components.  The enums of their fields are state_lock.h's and
 * state_record.h's.
 */
#ifndef KORCH_STATE_QUERY_H
#define KORCH_STATE_QUERY_H

#include "state.h"
#include "state_lock.h"
#include "state_record.h"

/*
 * Each returns owned copies: a single struct or an array of *n structs (NULL
 * and 0 when there are no rows), released with the matching _free function
 * (NULL-safe).  Optional text fields are NULL when not recorded; optional
 * times and ids are 0.
 */

struct kstate_run {
	int64_t		 id;
	char		*kind;
	char		*args;
	int64_t		 started_at;
	int64_t		 ended_at;	/* 0 while running */
	enum kstate_run_result result;
	int		 exit_code;	/* -1 until ended */
	long		 pid;
	char		*hostname;
	char		*user;
};

/* The newest run (of that kind, when kind is not NULL), or run id.
 * KORCH_ERR_NOT_FOUND when there is none. */
int kstate_run_last(struct kstate *st, const char *kind,
    struct kstate_run **out);
int kstate_run_get(struct kstate *st, int64_t id, struct kstate_run **out);
void kstate_run_free(struct kstate_run *run);

struct kstate_host {
	char		*name;
	char		*address;
	char		*facts_json;
	char		*hostkey_fp;
	int64_t		 last_contact;
	int64_t		 last_run_id;
	bool		 reachable;
	char		*last_error;
};

/* Every host, by name. */
int kstate_hosts_list(struct kstate *st, struct kstate_host **out,
    size_t *n);
void kstate_hosts_free(struct kstate_host *v, size_t n);

struct kstate_run_host {
	int64_t		 run_id;
	char		*host;
	enum kstate_outcome outcome;
	int		 ok, changed, failed, skipped;
	char		*error;
};

/* Per-host outcomes of a run, by host. */
int kstate_run_hosts_list(struct kstate *st, int64_t run_id,
    struct kstate_run_host **out, size_t *n);
void kstate_run_hosts_free(struct kstate_run_host *v, size_t n);

struct kstate_task_result {
	int64_t		 run_id;
	char		*host;
	char		*step;
	char		*task_key;
	char		*module;
	char		*desired_digest;
	enum kstate_status status;
	bool		 changed;
	char		*message;
	char		*diff;
	int64_t		 started_at;
	int64_t		 duration_ms;
};

#define KSTATE_RESULTS_FAILED_ONLY	0x1	/* failed and unreachable */

/* Recorded results of a run (of one host when host is not NULL), by host
 * then start time. */
int kstate_results_list(struct kstate *st, int64_t run_id, const char *host,
    int flags, struct kstate_task_result **out, size_t *n);
void kstate_results_free(struct kstate_task_result *v, size_t n);

struct kstate_observed {
	char		*host;
	char		*task_key;
	char		*digest;
	enum kstate_status status;	/* KSTATE_OK or KSTATE_FAILED */
	int64_t		 changed_at;	/* 0: never changed by korch */
	int64_t		 ok_at;
	int64_t		 run_id;	/* run that last wrote the row */
};

struct kstate_pending {
	char		*host;
	char		*task_key;
	char		*reason;
	int64_t		 since_run;
	int64_t		 since_at;
};

struct kstate_component {
	char		*host;
	char		*component;
	char		*desired;	/* NULL when not known */
	char		*observed;
	char		*active;
	int64_t		 observed_at;
	int64_t		 run_id;
};

/*
 * What is known of host, or of every host when host is NULL, by host:
 * observed rows and pending restarts then by task key, components then by
 * component.
 */
int kstate_observed_list(struct kstate *st, const char *host,
    struct kstate_observed **out, size_t *n);
int kstate_pending_restarts_list(struct kstate *st, const char *host,
    struct kstate_pending **out, size_t *n);
int kstate_components_list(struct kstate *st, const char *host,
    struct kstate_component **out, size_t *n);
void kstate_observed_free(struct kstate_observed *v, size_t n);
void kstate_pending_restarts_free(struct kstate_pending *v, size_t n);
void kstate_components_free(struct kstate_component *v, size_t n);

#endif
