/*
 * upgrade_run.c - pre-flight and phases of an upgrade or rollback, each
 * an engine pass limited to some steps on some hosts (see upgrade_run.h;
 * the passes are in upgrade_pass.c): the etcd snapshot, an etcd member, a
 * master, a batch of nodes, and the walk of the journal that runs them.
 */
#include <errno.h>
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
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "spec/profile.h"
#include "engine/report.h"
#include "cluster/run_inputs.h"
#include "engine/sched.h"
#include "state.h"
#include "state_lock.h"
#include "state_query.h"
#include "state_upgrade.h"
#include "cluster/upgrade_plan.h"
#include "cluster/upgrade_run.h"
#include "cluster/upgrade_run-int.h"
#include "engine/vars.h"

int
upgrade_preflight(const struct upgrade_env *e, const unsigned char *lenient,
    char *why, size_t whylen)
{
	unsigned char *failed;
	char *members = NULL;
	size_t *idx = NULL, i, n = 0;
	int r;

	/* Every host: reachable, and what it runs now. */
	if ((r = upg_pass_slot(e, "preflight-observe", NULL, NULL, NULL, why,
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
	if ((members = upg_join_names(e->inv, idx, n, NULL)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	r = upg_pass_slot(e, "preflight-health", members, NULL, failed, why,
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
		upg_msgf(note, notelen, "not checked here: no etcdctl in the "
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
		upg_msgf(note, notelen, "not checked here: %s cannot run on "
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
		upg_msgf(note, notelen, "not checked here: the bundle's "
		    "etcdctl is for another machine");
		return 0;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (off > 0 && (buf[off - 1] == '\n' || buf[off - 1] == ' '))
			buf[--off] = '\0';
		upg_msgf(note, notelen, "etcdctl snapshot status %s: %s", path,
		    buf);
		return KORCH_ERR_HASH_MISMATCH;
	}
	upg_msgf(note, notelen, "checked with etcdctl snapshot status");
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
	r = upg_pass_slot(e, "snapshot", e->inv->hosts[host].name, v, NULL, msg,
	    msglen);
	vars_free(v);
	if (r != 0)
		return r;
	if (stat(dest, &sb) != 0 || sb.st_size == 0) {
		upg_msgf(msg, msglen, "the snapshot did not arrive at %s",
		    dest);
		return KORCH_ERR_AGENT;
	}
	if ((r = upgrade_check_snapshot(e, dest, note, sizeof(note))) != 0) {
		upg_msgf(msg, msglen, "%s", note);
		return KORCH_ERR_AGENT;
	}
	if ((r = kstate_upgrade_set_snapshot(e->st, id, dest)) != 0) {
		upg_msgf(msg, msglen, "%s", kstate_errmsg(e->st));
		return r;
	}
	upg_msgf(msg, msglen, "%s (%lld bytes; %s)", dest,
	    (long long)sb.st_size, note);
	return 0;
}

static int
phase_etcd(const struct upgrade_env *e, size_t host, char *msg,
    size_t msglen)
{
	const char *name = e->inv->hosts[host].name;
	int r;

	if ((r = upg_pass_slot(e, "etcd-swap", name, NULL, NULL, msg,
	    msglen)) != 0)
		return r;
	return upg_pass_slot(e, "etcd-gate", name, NULL, NULL, msg, msglen);
}

static int
phase_master(const struct upgrade_env *e, size_t host, char *msg,
    size_t msglen)
{
	return upg_pass_slot(e, "master-swap", e->inv->hosts[host].name, NULL,
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
		upg_msgf(msg, msglen, "no master in the inventory to drain "
		    "nodes through");
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	r = KORCH_ERR_ALLOC;
	if ((v = vars_new(NULL)) == NULL ||
	    (names = upg_join_names(e->inv, idx, n, NULL)) == NULL)
		goto out;
	if ((r = vars_set(v, "upgrade_nodes", names)) != 0 ||
	    (r = vars_set(v, "upgrade_version", version ? version : "")) != 0)
		goto out;
	if ((r = upg_pass_slot(e, "node-drain", fm->name, v, NULL, msg,
	    msglen)) != 0)
		goto out;
	r = upg_pass_slot(e, "node-swap", names, NULL, failed, msg, msglen);
	if (r != 0 && r != KORCH_ERR_AGENT && r != KORCH_ERR_CONNECT)
		goto out;
	/* The nodes that made it go back to work even when another did not. */
	free(names);
	if ((names = upg_join_names(e->inv, idx, n, failed)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (names[0] == '\0')
		goto out;
	if ((r2 = vars_set(v, "upgrade_nodes", names)) != 0) {
		r = r2;
		goto out;
	}
	r2 = upg_pass_slot(e, "node-gate", fm->name, v, NULL, err, sizeof(err));
	if (r2 != 0) {
		for (i = 0; i < n; i++)
			failed[idx[i]] = 1;
		if (r == 0)
			upg_msgf(msg, msglen, "%s", err);
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

/*
 * One walk of the journal: the entry's phases and what a batch runs.
 * shortcut: a host found on the target version may be passed over.  sel
 * (ph-sized) marks the phases that run now, idx[0..nb) their hosts.
 */
struct walk {
	const struct upgrade_env *e;
	int64_t			 id;
	struct kstate_phase	*ph;
	size_t			 n;
	int			 shortcut;
	unsigned char		*failed;	/* inventory-sized */
	unsigned char		*sel;
	size_t			*idx;
	size_t			 nb;
};

/* The end of the batch that starts at i: a node batch is the run of
 * phases sharing its number, any other phase is one. */
static size_t
batch_end(const struct walk *w, size_t i, int kind)
{
	size_t j;

	for (j = i + 1; kind == UPG_NODE && j < w->n &&
	    strcmp(w->ph[j].phase, "node") == 0 &&
	    w->ph[j].batch == w->ph[i].batch; j++)
		;
	return j;
}

/*
 * Which phases of [i, j) run now (sel, idx, nb): not those done, nor those
 * recorded done here because their host is already on the target version.
 * 0, or KORCH_ERR_INVALID_ARG (a host the inventory no longer has) with
 * the reason in why.
 */
static int
batch_select(struct walk *w, size_t i, size_t j, int kind, char *why,
    size_t whylen)
{
	const struct upgrade_env *e = w->e;
	struct kstate_phase *ph = w->ph;
	size_t k, h;

	w->nb = 0;
	for (k = i; k < j; k++) {
		w->sel[k] = 0;
		if (ph[k].status == KSTATE_PH_DONE)
			continue;
		if (inventory_find_host(e->inv, ph[k].host, &h) == NULL) {
			upg_msgf(why, whylen, "the journal names %s, "
			    "which the inventory no longer has", ph[k].host);
			return KORCH_ERR_INVALID_ARG;
		}
		if (w->shortcut && ph[k].status == KSTATE_PH_PENDING &&
		    kind >= 0 && already_there(e, ph[k].host, kind)) {
			(void)kstate_phase_set(e->st, w->id, ph[k].host,
			    ph[k].phase, KSTATE_PH_DONE,
			    "already on the target version");
			upg_say_phase(e, ph[k].seq, ph[k].seq, w->n,
			    ph[k].phase, ph[k].host, "already on the target "
			    "version");
			continue;
		}
		w->sel[k] = 1;
		w->idx[w->nb++] = h;
	}
	return 0;
}

/* The work of a phase of kind on the selected hosts; msg says what
 * happened (and why not). */
static int
run_kind(struct walk *w, int kind, const char *phase, char *msg,
    size_t msglen)
{
	switch (kind) {
	case UPG_SNAPSHOT:
		return phase_snapshot(w->e, w->id, w->idx[0], msg, msglen);
	case UPG_ETCD:
		return phase_etcd(w->e, w->idx[0], msg, msglen);
	case UPG_MASTER:
		return phase_master(w->e, w->idx[0], msg, msglen);
	case UPG_NODE:
		return phase_nodes(w->e, w->idx, w->nb, w->failed, msg, msglen);
	default:
		upg_msgf(msg, msglen, "unknown phase %s", phase);
		return KORCH_ERR_INVALID_ARG;
	}
}

/* Every selected host of [i, j) recorded done or failed, as r and
 * failed[] say (a snapshot keeps its message: where it went). */
static void
batch_record(struct walk *w, size_t i, size_t j, int kind, int r,
    const char *msg)
{
	size_t k, nb;
	int bad;

	for (k = i, nb = 0; k < j; k++) {
		if (!w->sel[k])
			continue;
		bad = r != 0 && (kind != UPG_NODE || w->failed[w->idx[nb]]);
		nb++;
		(void)kstate_phase_set(w->e->st, w->id, w->ph[k].host,
		    w->ph[k].phase, bad ? KSTATE_PH_FAILED : KSTATE_PH_DONE,
		    bad || kind == UPG_SNAPSHOT ? msg : NULL);
	}
}

/*
 * The selected phases of [i, j) as one: recorded running, run, recorded
 * done or failed, with a line before and after.  0, or KORCH_ERR_AGENT /
 * KORCH_ERR_CONNECT with "<phase> phase on <names>: <reason>" in why; a
 * state error as is.
 */
static int
batch_run(struct walk *w, size_t i, size_t j, int kind, const char *names,
    char *why, size_t whylen)
{
	const struct upgrade_env *e = w->e;
	struct kstate_phase *ph = w->ph;
	struct timespec t0;
	char msg[2048], line[2300];
	size_t k;
	int r;

	for (k = i; k < j; k++)
		if (w->sel[k] && (r = kstate_phase_set(e->st, w->id,
		    ph[k].host, ph[k].phase, KSTATE_PH_RUNNING, NULL)) != 0) {
			upg_msgf(why, whylen, "%s", kstate_errmsg(e->st));
			return r;
		}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	upg_say_phase(e, ph[i].seq, ph[j - 1].seq, w->n, ph[i].phase,
	    names, NULL);
	memset(w->failed, 0, e->inv->nhosts + 1);
	msg[0] = '\0';
	r = run_kind(w, kind, ph[i].phase, msg, sizeof(msg));
	/* Record every host of the phase before anything else. */
	batch_record(w, i, j, kind, r, msg);
	snprintf(line, sizeof(line), "%s  %.1fs", r == 0 ?
	    (kind == UPG_SNAPSHOT ? msg : "done") : "FAILED",
	    upg_secs_since(&t0));
	upg_say_phase(e, ph[i].seq, ph[j - 1].seq, w->n, ph[i].phase,
	    names, line);
	if (r != 0) {
		upg_msgf(why, whylen, "%s phase on %s: %s", ph[i].phase,
		    names, msg[0] ? msg : korch_strerror(r));
		if (r != KORCH_ERR_CONNECT)
			r = KORCH_ERR_AGENT;
	}
	return r;
}

int
upgrade_run_phases(const struct upgrade_env *e, int64_t id, char *why,
    size_t whylen)
{
	struct kstate_upgrade *u = NULL;
	struct walk w;
	size_t i, j;
	char *names = NULL;
	int kind, r = 0;

	memset(&w, 0, sizeof(w));
	w.e = e;
	w.id = id;
	why[0] = '\0';
	if ((r = kstate_upgrade_get(e->st, id, &u)) != 0 ||
	    (r = kstate_phases_list(e->st, id, &w.ph, &w.n)) != 0) {
		upg_msgf(why, whylen, "%s", kstate_errmsg(e->st));
		kstate_upgrade_free(u);
		return r;
	}
	/* Only an upgrade may pass over a host found on the target version:
	 * a rollback's hosts were moved by korch, maybe halfway (a unit
	 * rewritten, not yet restarted; a node drained, not yet swapped), and
	 * the phase's own steps are what puts that right. */
	w.shortcut = strcmp(u->kind, "upgrade") == 0;
	kstate_upgrade_free(u);
	if ((w.failed = calloc(e->inv->nhosts + 1, 1)) == NULL ||
	    (w.idx = calloc(w.n + 1, sizeof(*w.idx))) == NULL ||
	    (w.sel = calloc(w.n + 1, 1)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < w.n; i = j) {
		kind = upgrade_phase_kind(w.ph[i].phase);
		j = batch_end(&w, i, kind);
		if ((r = batch_select(&w, i, j, kind, why, whylen)) != 0)
			goto out;
		if (w.nb == 0)
			continue;
		free(names);
		if ((names = upg_join_names(e->inv, w.idx, w.nb, NULL))
		    == NULL) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		if (*e->stop) {
			r = KORCH_ERR_INTERRUPTED;
			break;
		}
		if ((r = batch_run(&w, i, j, kind, names, why, whylen)) != 0)
			break;
	}
out:
	kstate_phases_free(w.ph, w.n);
	free(names);
	free(w.failed);
	free(w.idx);
	free(w.sel);
	return r;
}
