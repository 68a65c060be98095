/*
 * cmd_args.c - command-line helpers every subcommand shares.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"

static int
parse_uint(const char *opt, const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v == 0 || v > max) {
		fprintf(stderr, "korch: %s wants a number from 1 to %u, "
		    "not '%s'\n", opt, max, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

char *
cmd_join_args(int argc, char **argv)
{
	size_t len = 1, off = 0;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		memcpy(s + off, argv[i], n);
		off += n;
		s[off++] = ' ';
	}
	s[off ? off - 1 : 0] = '\0';
	return s;
}

void
cmd_run_begin(struct cmd_run_args *r)
{
	memset(r, 0, sizeof(*r));
	r->o.forks = 64;
	r->o.step_timeout_ms = 600 * 1000;
	optind = 1;
	opterr = 0;
}

/* getopt_long()'s value c (argument arg), not one of the command's own:
 * 0 when it was one of CMD_RUN_OPTIONS (stored in r), else -1. */
static int
run_option(const char *cmd, int c, const char *arg, char **argv,
    struct cmd_run_args *r)
{
	unsigned v;

	switch (c) {
	case CMD_O_STATE:	r->state = arg; return 0;
	case CMD_O_PLAYBOOKS:	r->playbooks = arg; return 0;
	case CMD_O_BUNDLE:	r->bundle = arg; return 0;
	case CMD_O_ACCEPT:	r->o.accept_new = 1; return 0;
	case CMD_O_JSON:	r->json = 1; return 0;
	case CMD_O_ALL_AT_ONCE:	r->all_at_once = 1; return 0;
	case 'v':		r->verbose = 1; return 0;
	case CMD_O_FORKS:
		if (parse_uint("--forks", arg, 10000, &v) != 0)
			return -1;
		r->o.forks = v;
		return 0;
	case CMD_O_TIMEOUT:
		if (parse_uint("--step-timeout", arg, 86400, &v) != 0)
			return -1;
		r->o.step_timeout_ms = (int)v * 1000;
		return 0;
	case ':':
		fprintf(stderr, "korch %s: %s needs a value\n", cmd,
		    argv[optind - 1]);
		break;
	default:
		fprintf(stderr, "korch %s: unknown option %s\n", cmd,
		    argv[optind - 1]);
		break;
	}
	cmd_usage(cmd);
	return -1;
}

int
cmd_run_getopt(const char *cmd, int argc, char **argv,
    const struct option *longopts, struct cmd_run_args *r)
{
	int c;

	while ((c = getopt_long(argc, argv, ":v", longopts, NULL)) != -1) {
		if (c >= CMD_O_OWN && c < CMD_O_STATE)
			return c;
		if (run_option(cmd, c, optarg, argv, r) != 0)
			return -1;
	}
	return 0;
}

const char *
cmd_operand(const char *cmd, const char *shown, int argc, char **argv,
    const char *none, const char *many)
{
	if (optind == argc - 1)
		return argv[optind];
	fprintf(stderr, "korch %s: %s\n", shown, optind >= argc ? none : many);
	cmd_usage(cmd);
	return NULL;
}
