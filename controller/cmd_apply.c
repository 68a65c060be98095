/*
 * cmd_apply.c - `korch apply` and `korch plan`: load and validate every
 * input, take the state lock, run the engine, print the recap (or JSON),
 * and turn the outcome into an exit status.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_image.h"
#include "cmd.h"
#include "dag.h"
#include "diag.h"
#include "err.h"
#include "inputs.h"
#include "inventory.h"
#include "json.h"
#include "playbook.h"
#include "playbook_path.h"
#include "report.h"
#include "sched.h"
#include "state.h"

struct apply_args {
	const char	*inventory;
	const char	*state;
	const char	*playbooks;
	const char	*bundle;
	int		 json;
	int		 verbose;
	struct sched_opts o;
};

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

static int
parse_args(const char *cmd, int argc, char **argv, struct apply_args *a)
{
	enum { O_STATE = 256, O_PLAYBOOKS, O_LIMIT, O_FORKS, O_ACCEPT,
	    O_TIMEOUT, O_JSON, O_PLAN, O_BUNDLE };
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, O_STATE },
		{ "playbooks", required_argument, NULL, O_PLAYBOOKS },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "forks", required_argument, NULL, O_FORKS },
		{ "accept-new-hostkeys", no_argument, NULL, O_ACCEPT },
		{ "step-timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "plan", no_argument, NULL, O_PLAN },
		{ "bundle", required_argument, NULL, O_BUNDLE },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned v;
	int c;

	a->o.forks = 64;
	a->o.step_timeout_ms = 600 * 1000;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v", longopts, NULL)) != -1) {
		switch (c) {
		case O_STATE:		a->state = optarg; break;
		case O_PLAYBOOKS:	a->playbooks = optarg; break;
		case O_LIMIT:		a->o.limit = optarg; break;
		case O_ACCEPT:		a->o.accept_new = 1; break;
		case O_JSON:		a->json = 1; break;
		case O_PLAN:		a->o.check_only = 1; break;
		case O_BUNDLE:		a->bundle = optarg; break;
		case 'v':		a->verbose = 1; break;
		case O_FORKS:
			if (parse_uint("--forks", optarg, 10000, &v) != 0)
				return -1;
			a->o.forks = v;
			break;
		case O_TIMEOUT:
			if (parse_uint("--step-timeout", optarg, 86400,
			    &v) != 0)
				return -1;
			a->o.step_timeout_ms = (int)v * 1000;
			break;
		case ':':
			fprintf(stderr, "korch %s: %s needs a value\n", cmd,
			    argv[optind - 1]);
			cmd_usage(cmd);
			return -1;
		default:
			fprintf(stderr, "korch %s: unknown option %s\n", cmd,
			    argv[optind - 1]);
			cmd_usage(cmd);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "korch %s: %s\n", cmd, optind >= argc ?
		    "which inventory? (korch apply INVENTORY)" :
		    "one inventory file only");
		cmd_usage(cmd);
		return -1;
	}
	a->inventory = argv[optind];
	return 0;
}

/* The command line as one string, for the run record. */
static char *
join_args(int argc, char **argv)
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

static int
print_json(const char *kind, int64_t run_id, const struct sched *s,
    unsigned hosts, unsigned failed, unsigned unreachable, int converged)
{
	struct json *j;
	const char *out;
	int r;

	if ((j = json_new()) == NULL)
		return KORCH_ERR_ALLOC;
	json_obj_begin(j);
	json_kstr(j, "command", kind);
	json_kint(j, "run_id", run_id);
	json_kbool(j, "converged", converged);
	json_kint(j, "hosts_total", hosts);
	json_kint(j, "hosts_failed", failed);
	json_kint(j, "hosts_unreachable", unreachable);
	sched_json_hosts(s, j);
	json_obj_end(j);
	if ((r = json_finish(j, &out, NULL)) == 0)
		printf("%s\n", out);
	json_free(j);
	return r;
}

static int
run(const char *kind, int argc, char **argv, int check_only)
{
	struct apply_args a;
	struct inventory *inv = NULL;
	struct playbook *pb = NULL;
	struct dag *dag = NULL;
	struct diag *d = NULL;
	struct kstate *st = NULL;
	struct report *rep = NULL;
	struct sched *s = NULL;
	struct agent_image img;
	struct run_inputs in;
	char statepath[PATH_MAX], pbdir[PATH_MAX], msg[1024], what[PATH_MAX + 64];
	char *args = NULL;
	int64_t run_id = 0;
	unsigned hosts, failed, unreach, changed;
	size_t i;
	int r, rc = KX_INTERNAL, width = 4, have_img = 0;
	enum kstate_run_result result = KSTATE_RUN_FAILED;

	memset(&a, 0, sizeof(a));
	memset(&in, 0, sizeof(in));
	/* Before getopt permutes argv: the run record keeps what was typed. */
	if ((args = join_args(argc + 1, argv - 1)) == NULL)
		return KX_INTERNAL;
	if (parse_args(kind, argc, argv, &a) != 0) {
		free(args);
		return KX_USAGE;
	}
	a.o.check_only |= check_only;
	if (a.o.check_only) {
		kind = "plan";
		check_only = 1;
	}

	/* Every input is loaded and checked before any host is contacted. */
	if ((d = diag_new()) == NULL)
		goto out;
	if ((r = inventory_load(a.inventory, &inv, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: %s: not valid, nothing was changed\n",
		    a.inventory);
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto out;
	}
	if (playbook_dir(a.playbooks, argv[-1], pbdir, sizeof(pbdir)) != 0) {
		fprintf(stderr, "korch: cannot find the playbooks; name them "
		    "with --playbooks DIR\n");
		rc = KX_USAGE;
		goto out;
	}
	if ((r = playbook_load(pbdir, &pb, d)) != 0 ||
	    (r = dag_build(pb, inv, &dag, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: %s: not valid, nothing was changed\n",
		    pbdir);
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto out;
	}
	if (a.state != NULL)
		snprintf(statepath, sizeof(statepath), "%s", a.state);
	else if (kstate_default_path(statepath, sizeof(statepath)) != 0) {
		fprintf(stderr, "korch: no home directory for the state; "
		    "use --state FILE\n");
		rc = KX_USAGE;
		goto out;
	}
	if ((r = agent_image_load(&img)) != 0) {
		fprintf(stderr, "korch: cannot load the agent binary: %s\n",
		    korch_strerror(r));
		goto out;
	}
	have_img = 1;

	if ((r = kstate_open(statepath, &st)) != 0) {
		fprintf(stderr, "korch: state %s: %s\n", statepath,
		    kstate_errmsg(st));
		goto out;
	}
	msg[0] = '\0';
	if ((r = kstate_run_begin(st, kind, args, &run_id, msg,
	    sizeof(msg))) != 0) {
		if (r == KORCH_ERR_LOCKED) {
			fprintf(stderr, "korch: another korch run holds the "
			    "state %s:\n  %s\nWait for it to finish; nothing "
			    "was changed.\n", statepath, msg);
			rc = KX_LOCKED;
		} else
			fprintf(stderr, "korch: state %s: %s\n", statepath,
			    kstate_errmsg(st));
		goto out;
	}
	if (msg[0] != '\0' && !a.json)
		fprintf(stderr, "korch: note: %s\n", msg);
	/* Under the lock: two runs must not both make certificates. */
	/* Certificates made are news even with --json: stderr. */
	if ((r = inputs_prepare(inv, a.bundle, statepath, stderr, &in,
	    d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: %s; nothing was changed\n",
		    r == KORCH_ERR_HASH_MISMATCH ? "the bundle does not verify" :
		    "cannot prepare the run");
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto end;
	}
	if ((r = inputs_check_bundle(&in, pb, dag, d)) != 0) {
		diag_print(d, stderr);
		fprintf(stderr, "korch: the playbooks need what the bundle "
		    "lacks; nothing was changed\n");
		rc = r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
		goto end;
	}
	a.o.bundle = in.bundle;
	a.o.host_vars = inputs_host_vars;
	a.o.host_vars_arg = &in;

	rep = report_new(stdout, stderr, (a.json ? REPORT_JSON : 0) |
	    (a.verbose ? REPORT_VERBOSE : 0) |
	    (a.o.check_only ? REPORT_CHECK : 0), (unsigned)inv->nhosts);
	if (rep == NULL)
		goto end;
	for (i = 0; i < inv->nhosts; i++)
		if ((int)strlen(inv->hosts[i].name) > width)
			width = (int)strlen(inv->hosts[i].name);
	report_set_name_width(rep, width);
	msg[0] = '\0';
	if ((r = sched_new(inv, pb, dag, st, run_id, &img, &a.o, rep, &s, msg,
	    sizeof(msg))) != 0) {
		fprintf(stderr, "korch: %s\n", msg[0] ? msg : korch_strerror(r));
		if (r == KORCH_ERR_INVALID_ARG)
			rc = KX_USAGE;
		goto end;
	}
	snprintf(what, sizeof(what), "korch %s %s", kind, a.inventory);
	report_begin(rep, what, run_id, (unsigned)inv->nhosts,
	    (unsigned)dag_nsteps(dag));
	r = sched_run(s);
	sched_outcome(s, &hosts, &failed, &unreach, &changed);
	if (r != 0 && r != KORCH_ERR_INTERRUPTED)
		goto end;
	report_recap_header(rep);
	sched_recap(s);
	if (r == KORCH_ERR_INTERRUPTED) {
		rc = KX_INTERRUPTED;
		result = KSTATE_RUN_ABORTED;
		snprintf(msg, sizeof(msg), "interrupted: run again to finish");
	} else if (failed + unreach > 0) {
		rc = KX_HOSTS;
		snprintf(msg, sizeof(msg), "%s: %u of %u hosts %s; %u failed, "
		    "%u unreachable", check_only ? "plan incomplete" :
		    "not converged", hosts - failed - unreach, hosts,
		    check_only ? "checked" : "converged", failed, unreach);
	} else {
		rc = KX_OK;
		result = KSTATE_RUN_CONVERGED;
		if (a.o.check_only)
			snprintf(msg, sizeof(msg), "plan: %u change%s pending "
			    "on %u host%s", changed, changed == 1 ? "" : "s",
			    hosts, hosts == 1 ? "" : "s");
		else
			snprintf(msg, sizeof(msg), "converged: %u host%s, "
			    "%u change%s", hosts, hosts == 1 ? "" : "s",
			    changed, changed == 1 ? "" : "s");
	}
	report_verdict(rep, msg, rc == KX_OK);
	if (a.json)
		(void)print_json(kind, run_id, s, hosts, failed, unreach,
		    rc == KX_OK);
end:
	if (kstate_run_end(st, run_id, result, rc) != 0)
		fprintf(stderr, "korch: cannot record the end of the run: "
		    "%s\n", kstate_errmsg(st));
out:
	sched_free(s);
	report_free(rep);
	kstate_close(st);
	if (have_img)
		agent_image_release(&img);
	inputs_release(&in);
	dag_free(dag);
	playbook_free(pb);
	inventory_free(inv);
	diag_free(d);
	free(args);
	return rc;
}

int
cmd_apply(int argc, char **argv)
{
	return run("apply", argc, argv, 0);
}

int
cmd_plan(int argc, char **argv)
{
	return run("plan", argc, argv, 1);
}
