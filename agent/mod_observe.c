/*
 * mod_observe.c - what is running, for `korch status`: a component's
 * version (from its own --version output) and whether its unit is active.
 * Read-only, so it runs the same in check mode, and it never fails a step:
 * a missing binary is an observation ("version=none"), not an error.
 *
 * With holder: yes the command prints who holds a leader-election lease
 * ("<host>_<id>", as kube-controller-manager and kube-scheduler name
 * themselves) and the host's name is reported in the version's place.
 *
 * The message is machine-read by the controller:
 *     version=<v> active=<active|inactive|failed|...|none>
 */
#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "module.h"
#include "proc.h"

/* The first token that looks like a version (v1.8.15, 3.4.23) in text. */
static void
find_version(const char *text, char *out, size_t len)
{
	const char *p = text, *e;

	snprintf(out, len, "unknown");
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) ||
		    (p > text && (isalnum((unsigned char)p[-1]) &&
		    p[-1] != 'v')))
			continue;
		for (e = p; isdigit((unsigned char)*e) || *e == '.'; e++)
			;
		/* At least major.minor. */
		if (memchr(p, '.', (size_t)(e - p)) == NULL)
			continue;
		while (e > p && e[-1] == '.')
			e--;
		snprintf(out, len, "%.*s", (int)(e - p), p);
		return;
	}
}

/* The host part of a lease holder's identity: up to '_', a host name's
 * characters only; "none" when nobody holds it. */
static void
find_holder(const char *text, char *out, size_t len)
{
	size_t n = 0;

	while (n + 1 < len && (isalnum((unsigned char)text[n]) ||
	    text[n] == '-' || text[n] == '.'))
		n++;
	if (n == 0 || (text[n] != '_' && text[n] != '\0' && text[n] != '\n'))
		snprintf(out, len, "none");
	else
		snprintf(out, len, "%.*s", (int)n, text);
}

/*
 * The binary the unit's main process runs, when it has the same name as
 * the one asked about: after an upgrade installed a new version but before
 * the restart, status must show the old one.  Looked for in the whole
 * command line, since an interpreter may come first (#!/usr/bin/python3).
 */
static void
running_binary(const char *unit, const char *want, struct agent_proc_result *res,
    struct agent_proc_watch *watch, char *out, size_t len)
{
	char *const show[] = { (char *)agent_systemctl_path(), "show", "-p",
	    "MainPID", "--value", (char *)unit, NULL };
	struct agent_proc p;
	char path[64], cmd[4096], line[32];
	const char *base, *wbase, *a;
	ssize_t n;
	int fd;

	out[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.argv = show;
	p.timeout_ms = 10000;
	p.watch = watch;
	if (agent_proc_run(&p, res) != KORCH_OK || res->code != 0)
		return;
	agent_proc_last_line(&res->out, line, sizeof(line));
	if (atoi(line) <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", atoi(line));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return;
	cmd[n] = '\0';
	wbase = strrchr(want, '/') ? strrchr(want, '/') + 1 : want;
	for (a = cmd; a < cmd + n; a += strlen(a) + 1) {
		base = strrchr(a, '/') ? strrchr(a, '/') + 1 : a;
		if (a[0] == '/' && strcmp(base, wbase) == 0) {
			snprintf(out, len, "%s", a);
			return;
		}
	}
}

static int
observe_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	struct agent_proc_result *res = NULL;
	struct agent_proc p;
	char **argv = NULL, version[64], active[32], both[2 * 256 + 2];
	char running[4096];
	char *const isactive[] = { (char *)agent_systemctl_path(),
	    "is-active", (char *)agent_arg_str(t, "unit", ""), NULL };
	const char *unit = agent_arg_str(t, "unit", NULL);
	size_t n, i;

	if (agent_arg_list(t, "argv", &argv, &n, o) != KORCH_OK)
		goto out;
	if ((res = malloc(sizeof(*res))) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		goto out;
	}
	if (unit != NULL) {
		running_binary(unit, argv[0], res, agent_session_watch(s),
		    running, sizeof(running));
		if (running[0] != '\0')
			argv[0] = running;
	}
	memset(&p, 0, sizeof(p));
	p.argv = argv;
	p.timeout_ms = 10000;
	p.watch = agent_session_watch(s);
	snprintf(version, sizeof(version), "none");
	if (agent_proc_run(&p, res) == KORCH_OK && res->exec_errno == 0) {
		/* flanneld prints its version on stderr. */
		snprintf(both, sizeof(both), "%.256s\n%.256s", res->out.buf,
		    res->err.buf);
		if (strcmp(agent_arg_str(t, "holder", "no"), "yes") == 0) {
			if (res->code == 0)
				find_holder(res->out.buf, version,
				    sizeof(version));
		} else
			find_version(both, version, sizeof(version));
	}
	snprintf(active, sizeof(active), "none");
	if (unit != NULL) {
		memset(&p, 0, sizeof(p));
		p.argv = isactive;
		p.timeout_ms = 10000;
		p.watch = agent_session_watch(s);
		if (agent_proc_run(&p, res) == KORCH_OK &&
		    res->exec_errno == 0) {
			agent_proc_last_line(&res->out, active,
			    sizeof(active));
			for (i = 0; active[i] != '\0'; i++)
				if (!islower((unsigned char)active[i]) &&
				    active[i] != '-')
					active[i] = '\0';
			if (active[0] == '\0')
				snprintf(active, sizeof(active), "unknown");
		}
	}
	agent_outcome_set(o, KP_ST_OK, "version=%s active=%s", version,
	    active);
out:
	free(res);
	free(argv);
	return KORCH_OK;
}

const struct agent_module agent_mod_observe = {
	.name = "observe",
	.flags = AGENT_MOD_READONLY,
	.run = observe_run,
};
