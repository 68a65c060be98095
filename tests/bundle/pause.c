/*
 * pause.c - korch's own pause program for the test bundles' pause image:
 * the process that holds a pod's namespaces.  It waits for signals and
 * nothing else: SIGINT and SIGTERM end it (exit 0), SIGCHLD reaps any
 * child that was reparented to it (it is PID 1 of the pod's PID namespace
 * when the pod shares one).  Written for korch's tests; the real cluster's
 * bundle uses the one built from the Kubernetes source (tests/kube/build).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	sigset_t set;
	int sig;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		puts("korch test pause");
		return 0;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	/* Taken synchronously: no handler can race the wait. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return 1;
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 1;
		if (sig == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			continue;
		}
		return 0;
	}
}
