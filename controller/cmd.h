/*
 * cmd.h - korch's subcommands.  Each lives in its own cmd_<name>.c and is
 * listed in main.c's table; the dispatcher handles `help` and `--help`.
 */
#ifndef KORCH_CMD_H
#define KORCH_CMD_H

/* Exit codes, documented in `korch help` and README.md. */
#define KX_OK		0	/* converged / nothing to do */
#define KX_USAGE	1	/* bad command line or bad input file */
#define KX_HOSTS	2	/* some hosts failed or were unreachable */
#define KX_LOCKED	3	/* the state is held by another run */
#define KX_INTERNAL	4	/* state database or internal error */
#define KX_INTERRUPTED	130	/* stopped by Ctrl-C / SIGTERM */

struct korch_cmd {
	const char	*name;
	const char	*usage;		/* one line: arguments after the name */
	const char	*summary;	/* one line */
	const char	*help;		/* the options, already formatted */
	int		(*exec)(int argc, char **argv);
};

int cmd_apply(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_bundle(int argc, char **argv);

extern const char korch_version[];

/* Print the usage of one command to stderr (on a usage error). */
void cmd_usage(const char *name);

#endif
