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

#include "engine/sched.h"

struct option;

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
int cmd_upgrade(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_etcd(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_reset(int argc, char **argv);

extern const char korch_version[];

/*
 * The options every command that runs the engine takes (apply, plan,
 * upgrade, rollback, etcd restore): its getopt table holds
 * CMD_RUN_OPTIONS, its own options are numbered from CMD_O_OWN, and its
 * loop reads them with cmd_run_getopt(), which keeps the shared ones.
 */
enum { CMD_O_OWN = 256, CMD_O_STATE = 1000, CMD_O_PLAYBOOKS, CMD_O_BUNDLE,
    CMD_O_FORKS, CMD_O_ACCEPT, CMD_O_TIMEOUT, CMD_O_JSON, CMD_O_ALL_AT_ONCE };
#define CMD_RUN_OPTIONS \
	{ "state", required_argument, NULL, CMD_O_STATE }, \
	{ "playbooks", required_argument, NULL, CMD_O_PLAYBOOKS }, \
	{ "bundle", required_argument, NULL, CMD_O_BUNDLE }, \
	{ "forks", required_argument, NULL, CMD_O_FORKS }, \
	{ "accept-new-hostkeys", no_argument, NULL, CMD_O_ACCEPT }, \
	{ "step-timeout", required_argument, NULL, CMD_O_TIMEOUT }, \
	{ "json", no_argument, NULL, CMD_O_JSON }, \
	{ "all-at-once", no_argument, NULL, CMD_O_ALL_AT_ONCE }, \
	{ "verbose", no_argument, NULL, 'v' }

struct cmd_run_args {
	const char	*state;		/* NULL: the default state */
	const char	*playbooks;	/* NULL: the default set */
	const char	*bundle;	/* NULL: the inventory's */
	int		 json, verbose;
	int		 all_at_once;	/* no step rolls (playbook serial:) */
	struct sched_opts o;		/* forks, host keys, step timeout */
};

/* Before the first cmd_run_getopt(): r gets the defaults (64 forks,
 * 600 s per step) and getopt starts again at argv[1]. */
void cmd_run_begin(struct cmd_run_args *r);

/*
 * The next of command cmd's own options on its command line (getopt_long()
 * over longopts): its value (optarg holds its argument), after storing in
 * r each of CMD_RUN_OPTIONS met on the way; 0 when the options are over
 * (optind at the first operand); -1 for an unknown option, a missing or
 * bad value (said on stderr, with the command's usage).
 */
int cmd_run_getopt(const char *cmd, int argc, char **argv,
    const struct option *longopts, struct cmd_run_args *r);

/*
 * The one operand left after the options, or NULL when there is none or
 * more than one: said on stderr as "korch <shown>: <none or many>", with
 * cmd's usage.
 */
const char *cmd_operand(const char *cmd, const char *shown, int argc,
    char **argv, const char *none, const char *many);
/* The command line as one string for the run record (malloc'd; NULL on
 * ENOMEM). */
char *cmd_join_args(int argc, char **argv);

/* Print the usage of one command to stderr (on a usage error). */
void cmd_usage(const char *name);

#endif
