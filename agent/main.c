/*
 * main.c - korch-agent's entry point.  Kept thin: everything testable
 * lives in agent_serve() and the modules.
 *
 *   korch-agent serve      speak the protocol on stdin/stdout
 *   korch-agent version    print the agent version and its own sha256
 */
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
