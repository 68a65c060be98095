/*
 * upgrade_run.c - pre-flight and phases of an upgrade or rollback, each
 * an engine pass limited to some steps on some hosts (see upgrade_run.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spec/bundle.h"
#include "err.h"
#include "cluster/inputs.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "spec/profile.h"
#include "engine/report.h"
#include "engine/sched.h"
#include "state.h"
#include "state_query.h"
#include "state_upgrade.h"
#include "cluster/upgrade_plan.h"
#include "cluster/upgrade_run.h"
#include "engine/vars.h"

/* A message into a caller's buffer; cut short when it does not fit (the
 * messages name paths and hosts, and any prefix of them still helps). */
__attribute__((format(printf, 3, 4)))
static void
msgf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* The pass-specific variables on top of the run's (sched host_vars). */
struct pass_vars {
	struct run_inputs	*in;
	const struct vars	*extra;
};

static int
pass_host_vars(void *arg, size_t host, struct vars **out)
{
	/* Every host renders every upgrade step, also those a pass leaves
	 * out: each variable has a value. */
	static const char *const names[] = { "upgrade_snapshot",
	    "upgrade_snapshot_dest", "upgrade_nodes", "upgrade_version",
	    "restore_sha256", "restore_size", "restore_stamp" };
	struct pass_vars *pv = arg;
	size_t i;
	int r;

	if ((r = inputs_host_vars(pv->in, host, out)) != 0)
		return r;
	for (i = 0; r == 0 && i < sizeof(names) / sizeof(names[0]); i++)
		r = vars_set(*out, names[i], "");
	for (i = 0; r == 0 && pv->extra != NULL &&
	    i < vars_count(pv->extra); i++)
		r = vars_set(*out, vars_key(pv->extra, i),
		    vars_value(pv->extra, i));
	if (r != 0) {
		vars_free(*out);
		*out = NULL;
	}
	return r;
}

/*
 * One engine pass: steps of (pb, dag) on the hosts named in limit.  failed
 * (inventory-sized, may be NULL) gets 1 for each host that did not make
 * it.  0 when every host made it; KORCH_ERR_CONNECT (a host unreachable)
 * or KORCH_ERR_AGENT (a step failed) with "host: reason", a line per host,
 * in why.
 */
static int
pass(const struct upgrade_env *e, const struct playbook *pb,
    const struct dag *dag, const char *const *steps, const char *limit,
    const struct vars *extra, unsigned char *failed, char *why,
    size_t whylen)
{
	struct pass_vars pv = { e->in, extra };
	struct sched_opts o = e->o;
	struct report *rep;
	struct sched *s = NULL;
	const char *msg, *task;
	char err[512];
	size_t i, len;
	int r, unreachable = 0, bad = 0;

	o.steps = steps;
	o.limit = limit;
	o.host_vars = pass_host_vars;
	o.host_vars_arg = &pv;
	o.no_signals = 1;
	why[0] = '\0';
	rep = report_new(e->out ? e->out : stdout, stderr,
	    e->verbose && e->out ? REPORT_VERBOSE : REPORT_JSON,
	    (unsigned)e->inv->nhosts);
	if (rep == NULL)
		return KORCH_ERR_ALLOC;
	err[0] = '\0';
	if ((r = sched_new(e->inv, pb, dag, e->st, e->run_id, e->img, &o, rep,
	    &s, err, sizeof(err))) != 0) {
		msgf(why, whylen, "%s", err[0] ? err : korch_strerror(r));
		report_free(rep);
		return r;
	}
	r = sched_run(s);
	for (i = 0; r == 0 && i < e->inv->nhosts; i++) {
		switch (sched_host_result(s, i, &msg, &task)) {
		case SCHED_HOST_OK:
		case SCHED_HOST_EXCLUDED:
			continue;
		case SCHED_HOST_UNREACHABLE:
			unreachable = 1;
			break;
		case SCHED_HOST_FAILED:
			break;
		}
		bad++;
		if (failed != NULL)
			failed[i] = 1;
		len = strlen(why);
		msgf(why + len, whylen - len, "%s%s: %s%s%s", len ? "\n" :
		    "", e->inv->hosts[i].name, task ? task : "",
		    task ? ": " : "", msg ? msg : "failed");
	}
	sched_free(s);
	report_free(rep);
	if (r != 0)
		return r;
	if (bad == 0)
		return 0;
	return unreachable ? KORCH_ERR_CONNECT : KORCH_ERR_AGENT;
}

/*
 * The slots of the profile (profile.h `steps:`) this file runs, each a
 * list of steps of one playbook set: the cluster's or <playbooks>/upgrade.
 */
static const char *const slots[] = {
	"preflight-observe", "preflight-health", "snapshot", "etcd-swap",
	"etcd-gate", "master-swap", "node-drain", "node-swap", "node-gate",
	"restore-stop", "restore-members", "restore-member-health",
	"restore-cluster-health", "restore-network", "restore-start",
	"restore-ready", NULL,
};

/* The steps of slot and the playbook set that holds them; 0, or
 * KORCH_ERR_INVALID_ARG with the reason in why. */
static int
slot_steps(const struct upgrade_env *e, const char *slot,
    const char *const **steps, const struct playbook **pb,
    const struct dag **dag, char *why, size_t whylen)
{
	const char *const *st = profile_steps(e->in->profile, slot), *const *s;
	int in_pb = 0;

	if (st == NULL || st[0] == NULL) {
		msgf(why, whylen, "%s: the profile names no steps for '%s' "
		    "(steps.%s)", e->in->profile ? profile_file(e->in->profile) :
		    "no profile", slot, slot);
		return KORCH_ERR_INVALID_ARG;
	}
	for (s = st; *s != NULL; s++) {
		in_pb = playbook_find_step(e->pb, *s) >= 0;
		if (in_pb != (playbook_find_step(e->pb, st[0]) >= 0) ||
		    (!in_pb && playbook_find_step(e->upb, *s) < 0)) {
			msgf(why, whylen, "%s: steps.%s: '%s' is not a step "
			    "of %s", profile_file(e->in->profile), slot, *s,
			    in_pb || s == st ? "the playbooks or their "
			    "upgrade/ set" : "the same playbook set as the "
			    "slot's first step");
			return KORCH_ERR_INVALID_ARG;
		}
	}
	*steps = st;
	*pb = in_pb ? e->pb : e->upb;
	*dag = in_pb ? e->dag : e->udag;
	return 0;
}

int
upgrade_check_slots(const struct upgrade_env *e, char *why, size_t whylen)
{
	const struct playbook *pb;
	const struct dag *dag;
	const char *const *st;
	size_t i;
	int r;

	for (i = 0; slots[i] != NULL; i++)
		if ((r = slot_steps(e, slots[i], &st, &pb, &dag, why,
		    whylen)) != 0)
			return r;
	return 0;
}

/* pass() over the steps of a profile slot. */
static int
pass_slot(const struct upgrade_env *e, const char *slot, const char *limit,
    const struct vars *extra, unsigned char *failed, char *why,
    size_t whylen)
{
	const struct playbook *pb;
	const struct dag *dag;
	const char *const *st;
	int r;

	if ((r = slot_steps(e, slot, &st, &pb, &dag, why, whylen)) != 0)
		return r;
	return pass(e, pb, dag, st, limit, extra, failed, why, whylen);
}

/* Comma-joined names of the hosts in idx[0..n) not marked in skip, as a
 * new string ("" when every one is skipped); NULL on ENOMEM. */
static char *
join_names(const struct inventory *inv, const size_t *idx, size_t n,
    const unsigned char *skip)
{
	size_t i, len = 1, off = 0, k;
	char *out;

	for (i = 0; i < n; i++)
		len += strlen(inv->hosts[idx[i]].name) + 1;
	if ((out = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (skip != NULL && skip[idx[i]])
			continue;
		if (off > 0)
			out[off++] = ',';
		k = strlen(inv->hosts[idx[i]].name);
		memcpy(out + off, inv->hosts[idx[i]].name, k);
		off += k;
	}
	out[off] = '\0';
	return out;
}

int
upgrade_preflight(const struct upgrade_env *e, const unsigned char *lenient,
    char *why, size_t whylen)
{
	unsigned char *failed;
	char *members = NULL;
	size_t *idx = NULL, i, n = 0;
	int r;

	/* Every host: reachable, and what it runs now. */
	if ((r = pass_slot(e, "preflight-observe", NULL, NULL, NULL, why,
	    whylen)) != 0)
		return r;
	if ((failed = calloc(e->inv->nhosts + 1, 1)) == NULL ||
	    (idx = calloc(e->inv->nhosts + 1, sizeof(*idx))) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < e->inv->nhosts; i++)
		if (inventory_host_has_role(&e->inv->hosts[i], "etcd"))
			idx[n++] = i;
	if (n == 0)
		goto out;
	if ((members = join_names(e->inv, idx, n, NULL)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	r = pass_slot(e, "preflight-health", members, NULL, failed, why,
	    whylen);
	if (r == KORCH_ERR_AGENT && lenient != NULL) {
		for (i = 0; i < e->inv->nhosts; i++)
			if (failed[i] && !lenient[i])
				break;
		if (i == e->inv->nhosts) {
			r = 0;
			why[0] = '\0';
		}
	}
out:
	free(members);
	free(idx);
	free(failed);
	return r;
}

/* ---- phases ------------------------------------------------------------- */

int
upgrade_check_snapshot(const struct upgrade_env *e, const char *path,
    char *note, size_t notelen)
{
	const struct bundle_component *c;
	char *argv[] = { NULL, "--write-out", "table", "snapshot", "status",
	    (char *)path, NULL };
	char *envp[] = { "ETCDCTL_API=3", "PATH=/usr/bin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char buf[1024];
	int pfd[2], status;
	ssize_t n;
	size_t off = 0;
	pid_t pid;

	note[0] = '\0';
	if (e->in->bundle == NULL ||
	    (c = bundle_find(e->in->bundle, "etcdctl")) == NULL) {
		msgf(note, notelen, "not checked here: no etcdctl in the "
		    "bundle");
		return 0;
	}
	argv[0] = c->path;
	if (pipe(pfd) != 0)
		return KORCH_ERR_SYSTEM;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	posix_spawn_file_actions_addclose(&fa, pfd[1]);
	/* Its own process group: the operator's first Ctrl-C asks korch to
	 * stop after this phase, and must not kill the check midway. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	status = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (status != 0) {
		close(pfd[0]);
		msgf(note, notelen, "not checked here: %s cannot run on "
		    "this machine (%s)", c->path, strerror(status));
		return 0;
	}
	while ((n = read(pfd[0], buf + off, sizeof(buf) - 1 - off)) > 0 ||
	    (n < 0 && errno == EINTR))
		if (n > 0)
			off += (size_t)n;
	buf[off] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
		msgf(note, notelen, "not checked here: the bundle's "
		    "etcdctl is for another machine");
		return 0;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (off > 0 && (buf[off - 1] == '\n' || buf[off - 1] == ' '))
			buf[--off] = '\0';
		msgf(note, notelen, "etcdctl snapshot status %s: %s", path,
		    buf);
		return KORCH_ERR_HASH_MISMATCH;
	}
	msgf(note, notelen, "checked with etcdctl snapshot status");
	return 0;
}

static int
phase_snapshot(const struct upgrade_env *e, int64_t id, size_t host,
    char *msg, size_t msglen)
{
	struct vars *v;
	struct stat sb;
	char remote[128], dest[PATH_MAX], stamp[32], note[256];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(remote, sizeof(remote), "/var/lib/korch/backup/"
	    "etcd-upgrade-%lld.db", (long long)id);
	if ((size_t)snprintf(dest, sizeof(dest), "%s/etcd-%s-upgrade-%lld-%s.db",
	    e->backup_dir, e->inv->hosts[host].name, (long long)id, stamp) >=
	    sizeof(dest))
		return KORCH_ERR_TOO_LARGE;
	if ((v = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	if ((r = vars_set(v, "upgrade_snapshot", remote)) != 0 ||
	    (r = vars_set(v, "upgrade_snapshot_dest", dest)) != 0) {
		vars_free(v);
		return r;
	}
	r = pass_slot(e, "snapshot", e->inv->hosts[host].name, v, NULL, msg,
	    msglen);
	vars_free(v);
	if (r != 0)
		return r;
	if (stat(dest, &sb) != 0 || sb.st_size == 0) {
		msgf(msg, msglen, "the snapshot did not arrive at %s", dest);
		return KORCH_ERR_AGENT;
	}
	if ((r = upgrade_check_snapshot(e, dest, note, sizeof(note))) != 0) {
		msgf(msg, msglen, "%s", note);
		return KORCH_ERR_AGENT;
	}
	if ((r = kstate_upgrade_set_snapshot(e->st, id, dest)) != 0) {
		msgf(msg, msglen, "%s", kstate_errmsg(e->st));
		return r;
	}
	msgf(msg, msglen, "%s (%lld bytes; %s)", dest,
	    (long long)sb.st_size, note);
	return 0;
}

static int
phase_etcd(const struct upgrade_env *e, size_t host, char *msg,
    size_t msglen)
{
	const char *name = e->inv->hosts[host].name;
	int r;

	if ((r = pass_slot(e, "etcd-swap", name, NULL, NULL, msg,
	    msglen)) != 0)
		return r;
	return pass_slot(e, "etcd-gate", name, NULL, NULL, msg, msglen);
}

static int
phase_master(const struct upgrade_env *e, size_t host, char *msg,
    size_t msglen)
{
	return pass_slot(e, "master-swap", e->inv->hosts[host].name, NULL,
	    NULL, msg, msglen);
}

/*
 * A batch of nodes: drain them all, swap, wait Ready on the new kubelet,
 * uncordon.  failed[] marks the nodes that did not make it (every one of
 * them when the failure was not one host's); a node whose swap failed
 * stays cordoned (it runs nothing new until it is fixed and the upgrade
 * is run again).
 */
static int
phase_nodes(const struct upgrade_env *e, const size_t *idx, size_t n,
    unsigned char *failed, char *msg, size_t msglen)
{
	const char *version = e->in->bundle->kubernetes_version;
	struct vars *v = NULL;
	char *names = NULL, err[1024];
	const struct inv_host *fm;
	int r, r2, some = 0;
	size_t i;

	if ((fm = inventory_first_with_role(e->inv, "master",
	    NULL)) == NULL) {
		msgf(msg, msglen, "no master in the inventory to drain "
		    "nodes through");
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	r = KORCH_ERR_ALLOC;
	if ((v = vars_new(NULL)) == NULL ||
	    (names = join_names(e->inv, idx, n, NULL)) == NULL)
		goto out;
	if ((r = vars_set(v, "upgrade_nodes", names)) != 0 ||
	    (r = vars_set(v, "upgrade_version", version ? version : "")) != 0)
		goto out;
	if ((r = pass_slot(e, "node-drain", fm->name, v, NULL, msg,
	    msglen)) != 0)
		goto out;
	r = pass_slot(e, "node-swap", names, NULL, failed, msg, msglen);
	if (r != 0 && r != KORCH_ERR_AGENT && r != KORCH_ERR_CONNECT)
		goto out;
	/* The nodes that made it go back to work even when another did not. */
	free(names);
	if ((names = join_names(e->inv, idx, n, failed)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (names[0] == '\0')
		goto out;
	if ((r2 = vars_set(v, "upgrade_nodes", names)) != 0) {
		r = r2;
		goto out;
	}
	r2 = pass_slot(e, "node-gate", fm->name, v, NULL, err, sizeof(err));
	if (r2 != 0) {
		for (i = 0; i < n; i++)
			failed[idx[i]] = 1;
		if (r == 0)
			msgf(msg, msglen, "%s", err);
		r = r == 0 ? r2 : r;
	}
out:
	/* A failure no host was named for counts against all of them. */
	for (i = 0; r != 0 && i < n; i++)
		some |= failed[idx[i]];
	for (i = 0; r != 0 && !some && i < n; i++)
		failed[idx[i]] = 1;
	free(names);
	vars_free(v);
	return r;
}

/* ---- the journal walk --------------------------------------------------- */

/* 1 when host already runs the target version of every component the
 * phase moves (as the pre-flight just observed), and each is active. */
static int
already_there(const struct upgrade_env *e, const char *host,
    enum upg_phase_kind k)
{
	const char *role = upgrade_phase_role(k);
	const char *const *want = role == NULL ? NULL :
	    profile_runs(e->in->profile, role);
	const struct bundle_component *bc;
	struct kstate_component *c = NULL;
	size_t n = 0, i, found = 0, need = 0;
	int good = 1;

	if (want == NULL || kstate_components_list(e->st, host, &c, &n) != 0)
		return 0;
	for (; *want != NULL; want++) {
		need++;
		bc = bundle_find(e->in->bundle, *want);
		for (i = 0; i < n; i++) {
			if (strcmp(c[i].component, *want) != 0)
				continue;
			found++;
			if (bc == NULL || c[i].observed == NULL ||
			    strcmp(c[i].observed, bc->version) != 0 ||
			    c[i].active == NULL ||
			    strcmp(c[i].active, "active") != 0)
				good = 0;
		}
	}
	kstate_components_free(c, n);
	return good && found == need;
}

static double
secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * One line per phase: "  [3/5] node     node2   done  7.6s" ([3-4/5] for
 * a batch).  On a terminal the line shows first with "..." while the
 * phase runs (what == NULL), then is rewritten with the outcome.
 */
static void
say_phase(const struct upgrade_env *e, int first, int last, size_t total,
    const char *phase, const char *hosts, const char *what)
{
	char pos[32];
	int tty;

	if (e->out == NULL)
		return;
	tty = isatty(fileno(e->out));
	if (what == NULL && !tty)
		return;
	if (first == last)
		snprintf(pos, sizeof(pos), "[%d/%zu]", first, total);
	else
		snprintf(pos, sizeof(pos), "[%d-%d/%zu]", first, last, total);
	fprintf(e->out, "%s  %-8s %-8s %-20s %s%s", tty ? "\r\033[K" : "", pos,
	    phase, hosts, what ? what : "...", what ? "\n" : "");
	fflush(e->out);
}

int
upgrade_run_phases(const struct upgrade_env *e, int64_t id, char *why,
    size_t whylen)
{
	struct kstate_phase *ph = NULL;
	struct kstate_upgrade *u = NULL;
	struct timespec t0;
	unsigned char *failed = NULL, *sel = NULL;
	size_t *idx = NULL;
	size_t n = 0, i, j, k, nb;
	char msg[2048], line[2300], *names = NULL;
	int kind, r = 0, shortcut;

	why[0] = '\0';
	if ((r = kstate_upgrade_get(e->st, id, &u)) != 0 ||
	    (r = kstate_phases_list(e->st, id, &ph, &n)) != 0) {
		msgf(why, whylen, "%s", kstate_errmsg(e->st));
		kstate_upgrade_free(u);
		return r;
	}
	/* Only an upgrade may pass over a host found on the target version:
	 * a rollback's hosts were moved by korch, maybe halfway (a unit
	 * rewritten, not yet restarted; a node drained, not yet swapped), and
	 * the phase's own steps are what puts that right. */
	shortcut = strcmp(u->kind, "upgrade") == 0;
	kstate_upgrade_free(u);
	if ((failed = calloc(e->inv->nhosts + 1, 1)) == NULL ||
	    (idx = calloc(n + 1, sizeof(*idx))) == NULL ||
	    (sel = calloc(n + 1, 1)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i = j) {
		kind = upgrade_phase_kind(ph[i].phase);
		/* A node batch: the run of phases sharing its number. */
		for (j = i + 1; kind == UPG_NODE && j < n &&
		    strcmp(ph[j].phase, "node") == 0 &&
		    ph[j].batch == ph[i].batch; j++)
			;
		nb = 0;
		for (k = i; k < j; k++) {
			size_t h;

			sel[k] = 0;
			if (ph[k].status == KSTATE_PH_DONE)
				continue;
			if (inventory_find_host(e->inv, ph[k].host, &h) ==
			    NULL) {
				msgf(why, whylen, "the journal names %s, "
				    "which the inventory no longer has",
				    ph[k].host);
				r = KORCH_ERR_INVALID_ARG;
				goto out;
			}
			if (shortcut && ph[k].status == KSTATE_PH_PENDING &&
			    kind >= 0 &&
			    already_there(e, ph[k].host, kind)) {
				(void)kstate_phase_set(e->st, id, ph[k].host,
				    ph[k].phase, KSTATE_PH_DONE,
				    "already on the target version");
				say_phase(e, ph[k].seq, ph[k].seq, n,
				    ph[k].phase, ph[k].host, "already on the "
				    "target version");
				continue;
			}
			sel[k] = 1;
			idx[nb++] = h;
		}
		if (nb == 0)
			continue;
		free(names);
		if ((names = join_names(e->inv, idx, nb, NULL)) == NULL) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		if (*e->stop) {
			r = KORCH_ERR_INTERRUPTED;
			break;
		}
		for (k = i; k < j; k++)
			if (sel[k] && (r = kstate_phase_set(e->st, id, ph[k].host,
			    ph[k].phase, KSTATE_PH_RUNNING, NULL)) != 0) {
				msgf(why, whylen, "%s",
				    kstate_errmsg(e->st));
				goto out;
			}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		say_phase(e, ph[i].seq, ph[j - 1].seq, n, ph[i].phase, names,
		    NULL);
		memset(failed, 0, e->inv->nhosts + 1);
		msg[0] = '\0';
		switch (kind) {
		case UPG_SNAPSHOT:
			r = phase_snapshot(e, id, idx[0], msg, sizeof(msg));
			break;
		case UPG_ETCD:
			r = phase_etcd(e, idx[0], msg, sizeof(msg));
			break;
		case UPG_MASTER:
			r = phase_master(e, idx[0], msg, sizeof(msg));
			break;
		case UPG_NODE:
			r = phase_nodes(e, idx, nb, failed, msg, sizeof(msg));
			break;
		default:
			msgf(msg, sizeof(msg), "unknown phase %s",
			    ph[i].phase);
			r = KORCH_ERR_INVALID_ARG;
		}
		/* Record every host of the phase before anything else. */
		for (k = i, nb = 0; k < j; k++) {
			int bad;

			if (!sel[k])
				continue;
			bad = r != 0 && (kind != UPG_NODE ||
			    failed[idx[nb]]);
			nb++;
			(void)kstate_phase_set(e->st, id, ph[k].host,
			    ph[k].phase, bad ? KSTATE_PH_FAILED :
			    KSTATE_PH_DONE, bad || kind == UPG_SNAPSHOT ?
			    msg : NULL);
		}
		snprintf(line, sizeof(line), "%s  %.1fs", r == 0 ?
		    (kind == UPG_SNAPSHOT ? msg : "done") : "FAILED",
		    secs_since(&t0));
		say_phase(e, ph[i].seq, ph[j - 1].seq, n, ph[i].phase, names,
		    line);
		if (r != 0) {
			msgf(why, whylen, "%s phase on %s: %s",
			    ph[i].phase, names, msg[0] ? msg :
			    korch_strerror(r));
			if (r != KORCH_ERR_CONNECT)
				r = KORCH_ERR_AGENT;
			break;
		}
	}
out:
	kstate_phases_free(ph, n);
	free(names);
	free(failed);
	free(idx);
	free(sel);
	return r;
}

int
upgrade_restore(const struct upgrade_env *e,
    const struct bundle_component *snap, const char *stamp, char *why,
    size_t whylen)
{
	/* In order: what the line says, and the profile's slot. */
	static const struct {
		const char	*label, *what, *slot;
	} plan[] = {
		{ "stop", "apiservers", "restore-stop" },
		{ "restore", "etcd members", "restore-members" },
		{ "health", "etcd members", "restore-member-health" },
		{ "health", "etcd cluster", "restore-cluster-health" },
		{ "flannel", "network config", "restore-network" },
		{ "start", "apiservers", "restore-start" },
		{ "health", "apiservers", "restore-ready" },
	};
	const size_t n = sizeof(plan) / sizeof(plan[0]);
	struct upgrade_env ee = *e;
	struct timespec t0;
	struct vars *v;
	char size[32], line[64];
	size_t i;
	int r = 0;

	if ((v = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)snap->size);
	if ((r = vars_set(v, "restore_sha256", snap->sha256)) != 0 ||
	    (r = vars_set(v, "restore_size", size)) != 0 ||
	    (r = vars_set(v, "restore_stamp", stamp)) != 0) {
		vars_free(v);
		return r;
	}
	ee.o.extra_blobs = snap;
	ee.o.nextra_blobs = 1;
	for (i = 0; i < n && r == 0; i++) {
		say_phase(e, (int)i + 1, (int)i + 1, n, plan[i].label,
		    plan[i].what, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = pass_slot(&ee, plan[i].slot, NULL, v, NULL, why, whylen);
		snprintf(line, sizeof(line), "%s  %.1fs", r == 0 ? "done" :
		    "FAILED", secs_since(&t0));
		say_phase(e, (int)i + 1, (int)i + 1, n, plan[i].label,
		    plan[i].what, line);
	}
	vars_free(v);
	return r;
}
