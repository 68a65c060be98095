/*
 * main.c - korch's entry point: find the subcommand in the table and run
 * it.  Everything else lives in cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "ssh/agent_image.h"
#include "cli/cmd.h"
#include "ssh/ssh.h"

#ifndef KORCH_VERSION
#define KORCH_VERSION "0.1.0"
#endif
const char korch_version[] = KORCH_VERSION;

static int cmd_version(int, char **);
static int cmd_help(int, char **);

#define COMMON_RUN_OPTS \
"  --state FILE          state database (default: $KORCH_STATE, else\n" \
"                        $XDG_STATE_HOME/korch/state.db, else\n" \
"                        ~/.local/state/korch/state.db)\n" \
"  --playbooks DIR       playbook set (default: the cluster playbooks)\n" \
"  --bundle PATH         offline bundle, a directory or .tar.gz (default:\n" \
"                        the inventory's cluster.bundle)\n" \
"  --limit HOST,...      only these hosts (others are not contacted)\n" \
"  --forks N             concurrent SSH sessions (default 64)\n" \
"  --accept-new-hostkeys record host keys not yet in known_hosts\n" \
"  --step-timeout SECS   give up on a host whose step runs longer (default 600)\n" \
"  --all-at-once         no rolling: steps with serial: change every host\n" \
"                        together (a CA rotation; docs/CERTIFICATES.md)\n" \
"  --json                one JSON summary on stdout, no progress\n" \
"  -v, --verbose         show every task, not only changes and failures\n"

static const struct korch_cmd commands[] = {
	{ "apply", "INVENTORY [options]",
	  "converge every host in the inventory",
	  COMMON_RUN_OPTS
	  "  --plan                the same as `korch plan`: check, change nothing\n",
	  cmd_apply },
	{ "plan", "INVENTORY [options]",
	  "show what apply would change, per host and task, with diffs",
	  COMMON_RUN_OPTS, cmd_plan },
	{ "status", "[--state FILE] [--json]",
	  "desired vs observed state from the state database (no host contacted)",
	  "  --state FILE          state database (see apply)\n"
	  "  --json                machine-readable output\n"
	  "  --all                 list every task, not only failures\n",
	  cmd_status },
	{ "upgrade", "--to VERSION [options]",
	  "rolling upgrade of the applied cluster; run again to resume",
	  "  --to VERSION          1.9 (the newest 1.9.x found) or 1.9.3; may be\n"
	  "                        left out to resume the unfinished upgrade\n"
	  "  --bundle PATH         the new version's bundle, or a directory of\n"
	  "                        bundles (default: beside the inventory's bundle)\n"
	  "  --inventory FILE      default: the one the last apply used\n"
	  "  --max-unavailable N   nodes drained at once: N or P% (default 1)\n"
	  "  --plan                print the phases and what each swaps; change nothing\n"
	  "  --allow-downgrade     allow a lower version than the cluster runs\n"
	  "  --abandon             give up the unfinished upgrade and start this one\n"
	  "  --state FILE, --playbooks DIR, --forks N, --accept-new-hostkeys,\n"
	  "  --step-timeout SECS, --json, -v        as for apply\n"
	  "Order: etcd snapshot to the controller; etcd members one by one (when\n"
	  "etcd's version changes); masters one by one (healthz gate); nodes in\n"
	  "batches (drain, swap, Ready, uncordon).  Ctrl-C stops after the\n"
	  "current phase is recorded.\n",
	  cmd_upgrade },
	{ "rollback", "[options]",
	  "return the hosts the last upgrade moved to their previous version",
	  "  --bundle PATH         the previous version's bundle, or a directory of\n"
	  "                        bundles (default: beside the inventory's bundle)\n"
	  "  --inventory FILE, --plan, --state FILE, --playbooks DIR, --forks N,\n"
	  "  --accept-new-hostkeys, --step-timeout SECS, --json, -v  as for upgrade\n"
	  "Nodes first, then masters, then etcd members, with the same gates.\n"
	  "The etcd data is not rolled back: see `korch etcd restore`.\n",
	  cmd_rollback },
	{ "etcd", "restore SNAPSHOT --yes [options]",
	  "put every etcd member back to a snapshot (apiservers stopped meanwhile)",
	  "  --yes                 do it (without: say what would happen)\n"
	  "  --bundle PATH         bundle of the cluster's version (its etcdctl)\n"
	  "  --inventory FILE, --state FILE, --playbooks DIR, --forks N,\n"
	  "  --accept-new-hostkeys, --step-timeout SECS, -v  as for upgrade\n"
	  "The snapshot is checked with etcdctl first; each member keeps its\n"
	  "previous data as /var/lib/korch/restore/etcd.before-<time>.\n",
	  cmd_etcd },
	{ "hosts", "[--state FILE] [--json] | trust HOST [--state FILE]",
	  "the host key pinned for each host; trust HOST forgets one pin",
	  "  --state FILE          state database (see apply)\n"
	  "  --json                machine-readable output\n"
	  "korch pins the host key it sees the first time it reaches a host and\n"
	  "refuses any other key for that host afterwards, even when known_hosts\n"
	  "was changed to it.  After a host was really reinstalled, check its new\n"
	  "key, put it in known_hosts, then `korch hosts trust HOST`: the next run\n"
	  "pins the new key.\n",
	  cmd_hosts },
	{ "certs", "[renew --all|NAME...] [options]",
	  "list every certificate per host with its expiry; renew leaf certificates",
	  "  (no action)           list the store's certificates and the files each\n"
	  "                        host holds them in (no host contacted, no lock)\n"
	  "  renew --all|NAME...   re-issue leaf certificates from the same CA and\n"
	  "                        install them a host at a time (masters first, one\n"
	  "                        at a time): only what uses them restarts\n"
	  "  --inventory FILE      default: the one the last apply used\n"
	  "  --json                machine-readable output\n"
	  "  --state FILE, --playbooks DIR, --bundle PATH, --forks N,\n"
	  "  --accept-new-hostkeys, --step-timeout SECS, -v  as for apply\n"
	  "The CA is never renewed by korch: see docs/CERTIFICATES.md.\n",
	  cmd_certs },
	{ "remove", "HOST... [--dead] [--yes] [options]",
	  "take hosts out of the cluster: drain and delete nodes, remove etcd members",
	  "  --dead                the hosts are gone: do not contact them (no drain;\n"
	  "                        the Node is deleted, the etcd member removed)\n"
	  "  --yes                 do not ask (without it, and no terminal: refused)\n"
	  "  --inventory FILE, --state FILE, --playbooks DIR, --bundle PATH,\n"
	  "  --forks N, --accept-new-hostkeys, --step-timeout SECS, -v  as for upgrade\n"
	  "Refused, with nothing changed: the last master, the last etcd member, or\n"
	  "members whose removal leaves fewer healthy members than a quorum of the\n"
	  "members there are now (2 of 3 at once; one while another is unhealthy).\n"
	  "Then delete the hosts from the inventory: other commands refuse it until\n"
	  "then (or `korch reset HOST --yes` wipes a host so apply adds it back).\n",
	  cmd_remove },
	{ "reset", "HOST...|--all [--yes] [--purge-data] [options]",
	  "stop and delete what korch installed on hosts, so they can be applied afresh",
	  "  --all                 every host of the inventory\n"
	  "  --purge-data          the etcd and docker data too (refused for an etcd\n"
	  "                        member still in the cluster: `korch remove` it first)\n"
	  "  --yes                 do not ask (without it, and no terminal: refused)\n"
	  "  --inventory FILE, --state FILE, --playbooks DIR, --bundle PATH,\n"
	  "  --forks N, --accept-new-hostkeys, --step-timeout SECS, -v  as for upgrade\n"
	  "Units, binaries, configuration and certificates go; distribution packages\n"
	  "stay.  Running it again changes nothing.\n",
	  cmd_reset },
	{ "bundle", "verify PATH",
	  "check an offline bundle's manifest and every sha256", "",
	  cmd_bundle },
	{ "version", "", "print korch's version and its agent's build hash",
	  "", cmd_version },
	{ "help", "[COMMAND]", "show help for korch or one command", "",
	  cmd_help },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct korch_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
print_cmd_help(FILE *f, const struct korch_cmd *c)
{
	fprintf(f, "usage: korch %s %s\n\n%s.\n", c->name, c->usage,
	    c->summary);
	if (*c->help != '\0')
		fprintf(f, "\noptions:\n%s", c->help);
}

void
cmd_usage(const char *name)
{
	const struct korch_cmd *c = find_cmd(name);

	if (c != NULL)
		fprintf(stderr, "usage: korch %s %s\n"
		    "Try 'korch help %s' for more.\n", c->name, c->usage,
		    c->name);
}

static void
print_main_help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: korch COMMAND [ARGS]\n\n"
	    "korch stands up and upgrades Kubernetes clusters on plain Linux "
	    "hosts over SSH.\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nexit status:\n"
	    "  0    converged (plan: checked; status: shown)\n"
	    "  1    bad command line or invalid input file\n"
	    "  2    some hosts failed or were unreachable\n"
	    "  3    the state is locked by another korch run\n"
	    "  4    state database or internal error\n"
	    "  130  interrupted (Ctrl-C)\n\n"
	    "Output is colored on a terminal unless NO_COLOR is set.\n"
	    "Run 'korch help COMMAND' for a command's options.\n");
}

static int
cmd_help(int argc, char **argv)
{
	const struct korch_cmd *c;

	if (argc < 2) {
		print_main_help(stdout);
		return KX_OK;
	}
	if ((c = find_cmd(argv[1])) == NULL) {
		fprintf(stderr, "korch: no such command: %s\n", argv[1]);
		return KX_USAGE;
	}
	print_cmd_help(stdout, c);
	return KX_OK;
}

/* Every host's session is a socket (two through a bastion): take the
 * whole hard limit of file descriptors, not the soft 1024. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	const struct korch_cmd *c;
	int i, r;

	if (argc < 2) {
		print_main_help(stderr);
		return KX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv);
	if ((c = find_cmd(argv[1])) == NULL) {
		fprintf(stderr, "korch: '%s' is not a korch command. "
		    "See 'korch help'.\n", argv[1]);
		return KX_USAGE;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			print_cmd_help(stdout, c);
			return KX_OK;
		}
	}
	raise_fd_limit();
	if (ssh_global_init() != 0) {
		fprintf(stderr, "korch: cannot initialise libssh2\n");
		return KX_INTERNAL;
	}
	r = c->exec(argc - 1, argv + 1);
	ssh_global_cleanup();
	return r;
}

static int
cmd_version(int argc, char **argv)
{
	struct agent_image img;

	printf("korch %s\n", korch_version);
#ifdef KORCH_TEST_HOOKS
	/* The suites read this line to know which flavour they test. */
	printf("test build: honours $KORCH_AGENT_IMAGE, not for production\n");
#endif
	if (agent_image_load(&img) == 0) {
		printf("agent %s (%zu bytes)\n", img.sha256, img.len);
		agent_image_release(&img);
	}
	return KX_OK;
}
