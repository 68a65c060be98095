/*
 * proc.h - run a program from an argv vector (never a shell), with a
 * timeout, its own process group, stdin from /dev/null, and stdout/stderr
 * captured up to a bound (the tail is kept: that is where errors are).
 */
#ifndef KORCH_AGENT_PROC_H
#define KORCH_AGENT_PROC_H

#include <stddef.h>

#define AGENT_PROC_CAP	8192

struct agent_proc {
	char *const	*argv;		/* argv[0] is looked up in PATH */
	char *const	*env;		/* extra KEY=VALUE entries, or NULL */
	const char	*dir;		/* chdir first, or NULL */
	unsigned	 timeout_ms;	/* 0: none */
	int		 merge_err;	/* stderr into stdout: one stream, in
					 * the order it was written */
};

struct agent_proc_output {
	char	 buf[AGENT_PROC_CAP + 1];
	size_t	 len;
	int	 dropped;		/* the head was dropped to keep the tail */
};

struct agent_proc_result {
	int			 code;		/* exit status, or -1 */
	int			 signal;	/* terminating signal, or 0 */
	int			 timed_out;
	int			 exec_errno;	/* exec failed with this errno */
	struct agent_proc_output out, err;
};

/* KORCH_OK when the child ran (whatever it returned); KORCH_ERR_SYSTEM when
 * it could not be started (errno set). */
int agent_proc_run(const struct agent_proc *p, struct agent_proc_result *r);
/* The last non-empty line of an output, for one-line messages. */
void agent_proc_last_line(const struct agent_proc_output *out, char *dst,
    size_t len);
/* argv joined with spaces, quoting words that need it, truncated. */
void agent_proc_argv_str(char *const *argv, char *dst, size_t len);

/* systemctl to run: /bin/systemctl, else /usr/bin/systemctl.  Test
 * builds (-DKORCH_TEST_HOOKS) take $KORCH_AGENT_SYSTEMCTL first. */
const char *agent_systemctl_path(void);

#endif
