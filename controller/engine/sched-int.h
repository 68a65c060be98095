/*
 * sched-int.h - private to the scheduler's files (sched*.c): the run's and
 * each host's state, and what one of those files calls in another.
 *
 * All per-host state lives in struct shost; nothing is global, so two
 * scheds could share a loop.  Side effects on the state database are
 * queued by the I/O callbacks and committed once per loop iteration by a
 * low-priority event (one transaction per tick), never inside an I/O
 * callback (sched_record.c).
 *
 *   sched.c           setting up, running and freeing a run; signals
 *   sched_dispatch.c  what runs next: steps ready in the DAG, hosts to
 *                     start, hosts to park
 *   sched_host.c      one host's session: connect, START/FACTS, render,
 *                     frames from the agent, timers, BYE, failure
 *   sched_result.c    task results and step ends: counts, notes, restarts
 *                     owed, components observed
 *   sched_content.c   content to the agent (BLOB) and from it (fetch)
 *   sched_record.c    the state database write-behind queue
 *   sched_outcome.c   after the run: outcome, recap and --json hosts
 */
#ifndef KORCH_SCHED_INT_H
#define KORCH_SCHED_INT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/util.h>

#include "engine/dag.h"
#include "engine/report.h"
#include "engine/sched.h"
#include "sha256hex.h"
#include "state.h"
#include "state_record.h"
#include "state_query.h"

struct event;
struct event_base;
struct fetch_rx;
struct kbuf;
struct kp_frame;
struct kp_step_done;
struct kp_task_result;
struct rendered_host;
struct ssh_bastion;
struct ssh_conn;

/* Where a host is in its run. */
enum hstate {
	HS_QUEUED,	/* waiting for a free session */
	HS_CONNECTING,	/* ssh up to the agent's greeting */
	HS_STARTING,	/* START + FACTS_REQ sent, waiting for FACTS */
	HS_RUNNING,	/* steps being sent and answered */
	HS_PARKING,	/* blocked on a barrier, session closing to free a slot */
	HS_PARKED,	/* session closed, waits for a barrier and a slot */
	HS_FINISHING,	/* BYE sent, waiting for the agent to exit */
	HS_DONE,	/* every step answered */
	HS_FAILED,	/* lost mid-run, agent error, or a step timed out */
	HS_UNREACHABLE,	/* never got to the agent */
	HS_EXCLUDED,	/* not in --limit */
};

/* The names --json and KORCH_DEBUG show, by enum hstate. */
extern const char *const hstate_names[];

/* One changed or failed task, kept for --json. */
struct task_note {
	char	*key;
	int	 status;
	char	*message;
};

struct shost {
	struct sched		*s;
	size_t			 idx;		/* in the inventory */
	const char		*name;
	enum hstate		 st;
	struct ssh_conn		*conn;
	struct kbuf		*in;		/* partial frames from the agent */
	struct kbuf		*out;		/* frame encoding scratch */
	struct rendered_host	*rh;		/* after FACTS */
	unsigned		 inflight;	/* steps sent, not yet done */
	unsigned		 connects;
	struct report_counts	 c;
	int			 uploaded;
	char			*error;
	char			*facts_json;
	struct event		*step_timer;
	struct event		*blob_timer;	/* tops up a content transfer */
	struct {
		int		 fd;		/* -1: no transfer */
		uint8_t		*buf;
		uint64_t	 off, size;
		uint32_t	 reqid;
		char		 sha256[SHA256_HEX_SIZE];
	}			 blob;
	struct task_note	*notes;
	size_t			 nnotes;
	/* A fetch task's file on its way here (NULL until the first one),
	 * and the step whose fetch the controller failed though the agent
	 * counted it a change (0: none; see on_fetch_result). */
	struct fetch_rx		*fetch;
	uint32_t		 fetch_failed_step;
};

/* A queued side effect on the state database. */
/* R_SAY is no row: a task's report line, printed once the rows queued
 * before it are committed, so nothing is shown done that a crash could
 * still lose. */
enum rec_kind { R_RESULT, R_HOST, R_RUN_HOST, R_PENDING_SET, R_PENDING_CLEAR,
    R_COMPONENT, R_SAY };

struct rec {
	enum rec_kind	 kind;
	struct rec	*next;
	char		*host, *task_key, *module, *digest, *step;
	char		*message, *diff, *address, *facts, *hostkey;
	char		*hostkey_type;
	int		 status, reachable;
	int64_t		 started_ms, duration_ms;
	struct report_counts c;
	enum kstate_outcome outcome;
};

struct sched {
	const struct inventory	*inv;
	const struct playbook	*pb;
	const struct dag	*dag;
	struct kstate		*st;
	int64_t			 run_id;
	const struct agent_image *img;
	struct sched_opts	 o;
	struct report		*rep;

	struct event_base	*base;
	struct ssh_bastion	*bastion;	/* one session carries every host */
	struct event		*flush_ev;
	struct event		*sigint_ev, *sigterm_ev;
	struct shost		*hosts;
	size_t			 nhosts;
	size_t			 nsteps;
	/* Every (step, host) node's status, indexed as dag_node_index()
	 * (nsteps x nhosts; DAG_ST_OUT where the run leaves it out). */
	enum dag_status		*cells;
	unsigned		 active;	/* sessions open */
	int			 stopping;	/* send no more steps */
	int			 fatal_step;	/* an any_errors_fatal step failed */
	int			 interrupted;
	int			 fatal;		/* engine error (state db) */
	char			 fatal_msg[256];
	struct rec		*recs, **recs_tail;
	/* Restarts an earlier run owed (loaded before the loop starts). */
	struct kstate_pending	*pend;
	size_t			 npend;
	struct report_counts	 total;
	unsigned		 cell_gen;	/* bumped when any cell changes */
};

/* Steps travel as their playbook index + 1 (0 means "none" on the wire). */
#define WIRE_STEP_ID(step)	((uint32_t)(step) + 1)

/* How long the agent may take to answer START/FACTS or to exit after BYE:
 * a host that went silent (power cut, link gone without a RST) must not
 * hold the run. */
#define CONTROL_TIMEOUT_MS	60000

static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline enum dag_status *
cell(struct sched *s, size_t step, size_t host)
{
	return &s->cells[step * s->nhosts + host];
}

/* Sent to its host and not answered yet. */
static inline int
cell_sent(enum dag_status st)
{
	return st == DAG_ST_RUNNING || st == DAG_ST_RUNNING_HELD;
}

static inline char *
xstrdup(const char *p)
{
	return p == NULL ? NULL : strdup(p);
}

/* ---- sched_record.c: the state database queue ---- */

/* A new record of kind for host, queued for this tick's commit, or NULL
 * (out of memory: s->fatal is set).  The queue owns it and every string
 * the caller puts in it. */
struct rec *rec_add(struct sched *s, enum rec_kind kind, const char *host);
/* Frees a list of records (NULL-safe). */
void rec_free_list(struct rec *r);
/* The flush event: commits the queue in one transaction; on failure sets
 * s->fatal and breaks the loop. */
void flush_cb(evutil_socket_t fd, short what, void *arg);

/* ---- sched_dispatch.c: what runs next ---- */

/* Send every step of h that is ready; BYE when it has nothing left. */
void host_dispatch(struct shost *h);
/* After anything changed: dispatch, start, park, or end the loop. */
void sched_pump(struct sched *s);

/* ---- sched_host.c: one host's session ---- */

void host_set_state(struct shost *h, enum hstate st);
int host_has_session(const struct shost *h);
/* Sends what h->out holds and empties it; KORCH_ERR_* from the session. */
int host_send(struct shost *h);
/* (Re)arms h's step timer for ms (nothing when ms <= 0). */
void timer_arm(struct shost *h, int ms);
void step_timer_arm(struct shost *h);
void step_timer_cb(evutil_socket_t fd, short what, void *arg);
/* Opens h's session (counted in s->active); unreachable when it cannot. */
void host_connect(struct shost *h);
/* h leaves the run in state st (failed or unreachable) saying msg; its
 * unfinished nodes become DAG_ST_FAILED.  Once only. */
void host_fail(struct shost *h, enum hstate st, int err, const char *msg);
/* Has h a step it has not run (pending)? */
int host_pending_steps(struct shost *h);
/* Says BYE and closes h's session; h is in st (HS_FINISHING or
 * HS_PARKING) until the agent has exited. */
void host_bye(struct shost *h, enum hstate st);

/* ---- sched_result.c: what the agent's results mean ---- */

void on_task_result(struct shost *h, const struct kp_task_result *m);
void on_step_done(struct shost *h, const struct kp_step_done *m);

/* ---- sched_content.c: content to and from the agent ---- */

/* Ends h's BLOB transfer, if any (idempotent). */
void blob_end(struct shost *h);
void blob_timer_cb(evutil_socket_t fd, short what, void *arg);
/* A BLOB_REQ: start streaming the content asked for. */
int send_blob(struct shost *h, const struct kp_frame *f);
/* A FETCH_DATA chunk; a TASK_RESULT before it is recorded; a STEP_DONE
 * before it counts (a fetch the controller failed fails its step).
 * KORCH_ERR_* ends the host. */
int on_fetch_data(struct shost *h, const struct kp_frame *f);
int on_fetch_result(struct shost *h, struct kp_task_result *tr);
void on_fetch_step_done(struct shost *h, struct kp_step_done *sd);

#endif
