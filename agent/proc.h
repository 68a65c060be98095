/*
 * proc.h - run a program from an argv vector (never a shell), with a
 * timeout, its own process group, stdin from /dev/null, and stdout/stderr
 * captured up to a bound (the tail is kept: that is where errors are).
 *
 * Nothing the agent starts outlives the session that asked for it: while
 * a child runs, the session's input is watched (struct agent_proc_watch),
 * and when the controller goes away, or the child's timeout passes, the
 * child's whole process group gets SIGTERM, then SIGKILL after
 * AGENT_PROC_GRACE_MS.  The child also gets SIGKILL if the agent dies.
 */
#ifndef KORCH_AGENT_PROC_H
#define KORCH_AGENT_PROC_H

#include <stddef.h>

#define AGENT_PROC_CAP	8192
/* SIGTERM to SIGKILL: long enough for a clean exit, short enough that a
 * host is free of the session's work within seconds. */
#define AGENT_PROC_GRACE_MS	2000

/*
 * The session's input, watched while a child runs.  pump is called when fd
 * is readable or hung up; it keeps what it reads (frames the controller
 * pipelines) and returns AGENT_WATCH_MORE, AGENT_WATCH_FULL (no room:
 * only a hangup is watched for until the child ends) or AGENT_WATCH_GONE
 * (the peer closed: the child is killed).  closed is set once pump said
 * GONE; then no further child is started.  Owned by the session.
 */
enum { AGENT_WATCH_MORE, AGENT_WATCH_FULL, AGENT_WATCH_GONE };
struct agent_proc_watch {
	int	 fd;
	int	(*pump)(void *arg);
	void	*arg;
	int	 closed;
};

struct agent_proc {
	char *const	*argv;		/* argv[0] is looked up in PATH */
	char *const	*env;		/* extra KEY=VALUE entries, or NULL */
	const char	*dir;		/* chdir first, or NULL */
	unsigned	 timeout_ms;	/* 0: none */
	int		 merge_err;	/* stderr into stdout: one stream, in
					 * the order it was written */
	struct agent_proc_watch *watch;	/* the session's input, or NULL */
};

struct agent_proc_output {
	char	 buf[AGENT_PROC_CAP + 1];
	size_t	 len;
	int	 dropped;		/* the head was dropped to keep the tail */
};

struct agent_proc_result {
	int			 code;		/* exit status, or -1 */
	int			 signal;	/* terminating signal, or 0 */
	int			 timed_out;	/* killed at its timeout */
	int			 session_closed; /* killed: the controller
						 * went away (or never ran) */
	int			 exec_errno;	/* exec failed with this errno */
	struct agent_proc_output out, err;
};

/* KORCH_OK when the child ran (whatever it returned), and when it was not
 * started because p->watch is closed (session_closed set); KORCH_ERR_SYSTEM
 * when it could not be started (errno set). */
int agent_proc_run(const struct agent_proc *p, struct agent_proc_result *r);
/* Sleep ms while watching w (NULL: plain sleep).  1 when the session
 * closed meanwhile (return at once), else 0. */
int agent_proc_pause(struct agent_proc_watch *w, unsigned ms);
/* "killed: session closed" / "killed: timeout after Ns" / "" for a result
 * that was not killed by the agent, into dst. */
void agent_proc_killed_str(const struct agent_proc_result *r,
    unsigned timeout_s, char *dst, size_t len);
/* The last non-empty line of an output, for one-line messages. */
void agent_proc_last_line(const struct agent_proc_output *out, char *dst,
    size_t len);
/* argv joined with spaces, quoting words that need it, truncated. */
void agent_proc_argv_str(char *const *argv, char *dst, size_t len);

/* systemctl to run: /bin/systemctl, else /usr/bin/systemctl.  Test
 * builds (-DKORCH_TEST_HOOKS) take $KORCH_AGENT_SYSTEMCTL first. */
const char *agent_systemctl_path(void);

#endif
