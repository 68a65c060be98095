/*
 * sched.h - the engine of apply and plan: one libevent loop drives every
 * host's SSH session, sends each host the steps that are ready in the DAG,
 * and commits every result to the state database as it arrives.
 *
 * Per host: connect (at most `forks` sessions at once) -> START -> FACTS ->
 * render that host's tasks -> send every step whose needs are met (steps
 * whose needs are still running on this same host are pipelined with
 * `requires`, so a host without cross-host barriers gets its whole step
 * list in one round trip) -> results stream back -> BYE.
 *
 * A host that fails or cannot be reached leaves the play: barriers stop
 * waiting for it, and a step whose needed step failed everywhere it ran is
 * skipped (the rules are dag.h's, dag_node_ready()).  A host that waits on a barrier while others wait for a free
 * session is parked (its session closed) and reconnected later, so a small
 * --forks never deadlocks.
 */
#ifndef KORCH_SCHED_H
#define KORCH_SCHED_H

#include <stdint.h>

struct inventory;
struct playbook;
struct dag;
struct kstate;
struct agent_image;
struct report;
struct json;

struct bundle;
struct bundle_component;
struct vars;

struct sched_opts {
	unsigned	 forks;
	int		 check_only;	/* plan: the agent changes nothing */
	int		 accept_new;	/* --accept-new-hostkeys */
	int		 step_timeout_ms;
	const char	*limit;		/* comma-separated host names, or NULL */
	const struct bundle *bundle;	/* content served to agents, or NULL */
	/* The controller's variables for one host (bundle.*, pki.*, ...) as
	 * a new map the engine frees, or NULL: none. */
	int		(*host_vars)(void *arg, size_t host, struct vars **out);
	void		*host_vars_arg;
	/* Only these steps (names, NULL-terminated; NULL: every step).  A
	 * need on a step left out counts as met: the caller vouches for it
	 * (an upgrade phase runs the master step alone on one host). */
	const char *const *steps;
	/* Content served besides the bundle's (an etcd snapshot to
	 * restore), matched by sha256 like the bundle's. */
	const struct bundle_component *extra_blobs;
	size_t		 nextra_blobs;
	/* Leave SIGINT/SIGTERM to the caller (who stops between runs). */
	int		 no_signals;
	/* The state file of the run, or NULL: a run that changes hosts
	 * names itself (host, pid, this path, its run id) in START, and
	 * each agent takes its host's lock for it. */
	const char	*state_path;
};

struct sched;

/*
 * Set up a run over every host of inv (or those named by opts->limit).  All
 * inputs are borrowed and must outlive the sched.  Errors: KORCH_ERR_ALLOC,
 * KORCH_ERR_INVALID_ARG (limit names an unknown host; *msg explains).
 */
int sched_new(const struct inventory *inv, const struct playbook *pb,
    const struct dag *dag, struct kstate *st, int64_t run_id,
    const struct agent_image *img, const struct sched_opts *opts,
    struct report *rep, struct sched **out, char *msg, size_t msglen);
void sched_free(struct sched *s);

/*
 * Run the loop until every host is finished (or SIGINT/SIGTERM: the first
 * stops sending new steps and waits for running ones, the second stops at
 * once).  Returns 0 when the loop ran (host failures are results, not
 * errors), KORCH_ERR_INTERRUPTED when stopped by a signal, or another
 * KORCH_ERR_* when the engine itself failed (e.g. the state database).
 */
int sched_run(struct sched *s);

/* After sched_run: how many hosts failed / were unreachable / took part. */
void sched_outcome(const struct sched *s, unsigned *hosts, unsigned *failed,
    unsigned *unreachable, unsigned *changed_tasks);

enum sched_host_result {
	SCHED_HOST_OK,		/* every step it ran succeeded */
	SCHED_HOST_FAILED,
	SCHED_HOST_UNREACHABLE,
	SCHED_HOST_EXCLUDED,	/* not in the run */
};

/* After sched_run: how host (inventory index) fared.  When it failed:
 * *why is the host's error, or else the message of its first failed task
 * and *task that task's key (else NULL).  Both valid until sched_free(). */
enum sched_host_result sched_host_result(const struct sched *s, size_t host,
    const char **why, const char **task);

/* After sched_run: print the recap lines through the report. */
void sched_recap(const struct sched *s);

/* After sched_run: the per-host summary as a JSON "hosts" array. */
void sched_json_hosts(const struct sched *s, struct json *j);

#endif
