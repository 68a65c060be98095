/*
 * main.c - korch-agent's entry point.  Kept thin: everything testable
 * lives in agent_serve() and the modules.
 *
 *   korch-agent serve      speak the protocol on stdin/stdout
 *   korch-agent version    print the agent version and its own sha256
 *
 * The bootstrap (controller/ssh/boot.c) hashes this file before running
 * it; what the agent checks itself is only a second line of defence: as
 * root it refuses to run from a file or directory another user could
 * change, so an old or hand-made start command that runs it as root from
 * a user's home fails loudly instead of working by luck.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "sha256.h"

static int
self_hash(char hex[AGENT_SHA256_HEX])
{
	if (agent_sha256_path("/proc/self/exe", hex, NULL) != KORCH_OK) {
		perror("korch-agent: cannot hash /proc/self/exe");
		return -1;
	}
	return 0;
}

/* As root: 0 when path (and, the first time, its directory) is root's
 * and writable by no one else; else -1, said on stderr. */
static int
root_owned(const char *path, int with_dir)
{
	char dir[PATH_MAX];
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "korch-agent: cannot stat %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		fprintf(stderr, "korch-agent: refusing to run as root from "
		    "%s: it is owned by uid %u with mode %04o, so another user "
		    "could swap what root runs (korch installs the agent "
		    "under /var/lib/korch/agent for become)\n", path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (!with_dir)
		return 0;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	return root_owned(dirname(dir), 0);
}

static int
self_check(void)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (geteuid() != 0)
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		perror("korch-agent: cannot read /proc/self/exe");
		return -1;
	}
	exe[n] = '\0';
	return root_owned(exe, 1);
}

static int
cmd_serve(void)
{
	struct agent_session *s;
	char hex[AGENT_SHA256_HEX];
	int r;

	/* A gone controller must show up as EPIPE, not kill us mid-write. */
	(void)signal(SIGPIPE, SIG_IGN);
	/* Files we create get exactly the modes tasks ask for (modules
	 * chmod anyway; this keeps temp files and new dirs predictable). */
	(void)umask(022);
	if (self_check() != 0)
		return 3;
	if (self_hash(hex) != 0)
		return 1;
	if ((s = agent_session_new(0, 1)) == NULL) {
		fprintf(stderr, "korch-agent: out of memory\n");
		return 1;
	}
	r = agent_serve(s, hex);
	agent_session_free(s);
	if (r != KORCH_OK) {
		fprintf(stderr, "korch-agent: session ended: %s\n",
		    korch_strerror(r));
		return 2;
	}
	return 0;
}

static int
cmd_version(void)
{
	char hex[AGENT_SHA256_HEX];

	if (self_hash(hex) != 0)
		return 1;
	printf("korch-agent %s protocol %d sha256 %s\n", KORCH_AGENT_VERSION,
	    KP_VERSION, hex);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve();
	if (argc == 2 && strcmp(argv[1], "version") == 0)
		return cmd_version();
	fprintf(stderr, "usage: korch-agent serve | version\n");
	return 64;
}
