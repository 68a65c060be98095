/*
 * test_state_upgrade.c - schema migration 3 and what it holds: the upgrade
 * journal (upgrades and their phases) and settings.  A database written by
 * the previous release (schema 2) is migrated with its data intact; the
 * journal's lookups, transitions and constraints; journal rows surviving a
 * run that dies (by close and by SIGKILL).
 *
 * Each test gets a fresh directory.  Raw sqlite3 is used only to build old
 * databases and to look behind the module's back.  Forks happen before the
 * parent opens any connection in that test.
 */
#include <time.h>

#include "helpers_state.h"
#include "state_lock.h"
#include "state_query.h"
#include "state_record.h"
#include "state_settings.h"
#include "state_upgrade.h"

/*
 * The schema as korch with KSTATE_SCHEMA_VERSION 2 wrote it: migrations 0
 * and 1 copied verbatim from that release's state/migrations.c.  Frozen on
 * purpose: the test is that today's code opens what that release left.
 */
static const char *const v2_schema[] = {
	/* 0 -> 1: runs, hosts, results, observed state, restarts, lock. */
	"CREATE TABLE runs (\n"
	"  id         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  kind       TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),\n"
	"  args       TEXT NOT NULL DEFAULT '',\n"
	"  started_at INTEGER NOT NULL,\n"
	"  ended_at   INTEGER,\n"
	"  result     TEXT NOT NULL DEFAULT 'running' CHECK (result IN\n"
	"    ('running', 'converged', 'failed', 'interrupted', 'aborted')),\n"
	"  exit_code  INTEGER,\n"
	"  pid        INTEGER NOT NULL,\n"
	"  hostname   TEXT NOT NULL,\n"
	"  user       TEXT NOT NULL\n"
	");\n"
	"CREATE INDEX runs_kind ON runs(kind, id);\n"
	"CREATE INDEX runs_running ON runs(result) WHERE result = 'running';\n"

	"CREATE TABLE hosts (\n"
	"  name         TEXT PRIMARY KEY NOT NULL,\n"
	"  address      TEXT,\n"
	"  facts        TEXT,\n"	/* JSON, checked on the way in */
	"  hostkey_fp   TEXT,\n"
	"  last_contact INTEGER,\n"
	"  last_run_id  INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  reachable    INTEGER NOT NULL DEFAULT 0\n"
	"                 CHECK (reachable IN (0, 1)),\n"
	"  last_error   TEXT\n"
	");\n"

	"CREATE TABLE task_results (\n"
	"  run_id      INTEGER NOT NULL\n"
	"                REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  host        TEXT NOT NULL\n"
	"                REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  step        TEXT NOT NULL,\n"
	"  task_key    TEXT NOT NULL,\n"
	"  module      TEXT NOT NULL,\n"
	"  desired_digest TEXT,\n"
	"  status      TEXT NOT NULL CHECK (status IN\n"
	"    ('ok', 'changed', 'failed', 'skipped', 'unreachable')),\n"
	"  changed     INTEGER NOT NULL CHECK (changed IN (0, 1)),\n"
	"  message     TEXT,\n"
	"  diff        TEXT,\n"
	"  started_at  INTEGER NOT NULL,\n"
	"  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),\n"
	"  UNIQUE (run_id, host, task_key)\n"
	");\n"
	"CREATE INDEX task_results_host ON task_results(host, run_id);\n"

	/* status is what the host is: 'ok' (matches digest) or 'failed'. */
	"CREATE TABLE observed (\n"
	"  host       TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  task_key   TEXT NOT NULL,\n"
	"  digest     TEXT,\n"
	"  status     TEXT NOT NULL CHECK (status IN ('ok', 'failed')),\n"
	"  changed_at INTEGER,\n"
	"  ok_at      INTEGER,\n"
	"  run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  PRIMARY KEY (host, task_key)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE pending_restarts (\n"
	"  host      TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  task_key  TEXT NOT NULL,\n"
	"  reason    TEXT NOT NULL DEFAULT '',\n"
	"  since_run INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  since_at  INTEGER NOT NULL,\n"
	"  PRIMARY KEY (host, task_key)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE run_hosts (\n"
	"  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  host    TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  outcome TEXT NOT NULL CHECK (outcome IN\n"
	"    ('converged', 'failed', 'unreachable')),\n"
	"  ok      INTEGER NOT NULL DEFAULT 0 CHECK (ok >= 0),\n"
	"  changed INTEGER NOT NULL DEFAULT 0 CHECK (changed >= 0),\n"
	"  failed  INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),\n"
	"  skipped INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),\n"
	"  error   TEXT,\n"
	"  PRIMARY KEY (run_id, host)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX run_hosts_host ON run_hosts(host);\n"

	/* At most one row: who holds the run lock (the flock is the truth;
	 * this row is for the refusal message and stale-lock takeover). */
	"CREATE TABLE lock (\n"
	"  id         INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  pid        INTEGER NOT NULL,\n"
	"  hostname   TEXT NOT NULL,\n"
	"  started_at INTEGER NOT NULL,\n"
	"  command    TEXT NOT NULL\n"
	");\n"

	"PRAGMA user_version = 1;\n",

	/* 1 -> 2: what runs on each host, component by component (korch
	 * status: desired vs observed version, active or not). */
	"CREATE TABLE components (\n"
	"  host        TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  component   TEXT NOT NULL,\n"
	"  desired     TEXT,\n"
	"  observed    TEXT NOT NULL,\n"
	"  active      TEXT NOT NULL,\n"
	"  observed_at INTEGER NOT NULL,\n"
	"  run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  PRIMARY KEY (host, component)\n"
	") WITHOUT ROWID;\n"
	"PRAGMA user_version = 2;\n",
};

static int
fx_setup(void **state)
{
	return th_db_setup(state, "korch-upg");
}

/* The text of sql's one row and column, into buf. */
static void
raw_text(const char *path, const char *sql, char *buf, size_t len)
{
	sqlite3		*db;
	sqlite3_stmt	*s = th_raw_row(path, sql, &db);
	const char	*t = (const char *)sqlite3_column_text(s, 0);

	assert_non_null(t);
	assert_true(strlen(t) < len);
	snprintf(buf, len, "%s", t);
	th_raw_done(db, s);
}

/* Everything in the schema but what migration 3 adds, as text. */
#define OLD_SCHEMA_SQL							\
	"SELECT group_concat(type || ' ' || name || ': ' ||"		\
	"  coalesce(sql, ''), char(10)) FROM (SELECT * FROM sqlite_schema" \
	"  WHERE name NOT IN ('upgrades', 'upgrade_phases', 'settings',"  \
	"   'hosts')"		/* schema 4 adds two columns to it */	\
	"   AND name NOT LIKE 'sqlite_autoindex_upgrade%'"		\
	"   AND name NOT LIKE 'sqlite_autoindex_settings%'"		\
	"  ORDER BY type, name)"

/* The extended result code of sql run behind the module's back. */
static int
raw_rc(const char *path, const char *sql)
{
	sqlite3	*db = NULL;
	int	 rc;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_extended_result_codes(db, 1);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL,
	    NULL, NULL), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
begin_run(struct kstate *st, const char *kind)
{
	return th_begin_run(st, kind, "--to 1.9");
}

#define OK(call) do {							\
	int r_ = (call);						\
	if (r_ != KORCH_OK)						\
		fail_msg("%s: %s: %s", #call, korch_strerror(r_),	\
		    kstate_errmsg(st));					\
} while (0)

/* A small cluster's plan: snapshot, etcd, master, two node batches. */
static const struct kstate_phase_spec plan[] = {
	{ "m1", "snapshot", 0, NULL, NULL },
	{ "m1", "etcd", 0, "3.1.10", "3.1.11" },
	{ "m1", "master", 0, "1.8.15", "1.9.11" },
	{ "n1", "node", 1, "1.8.15", "1.9.11" },
	{ "n2", "node", 1, "1.8.15", "1.9.11" },
	{ "n3", "node", 2, "1.8.15", "1.9.11" },
};
#define NPLAN	(sizeof(plan) / sizeof(plan[0]))

static int64_t
create_ok(struct kstate *st, int64_t run, const char *kind, int64_t parent)
{
	int64_t id = 0;

	OK(kstate_upgrade_create(st, run, kind, "1.8.15", "1.9.11", 2,
	    parent, plan, NPLAN, &id));
	assert_true(id > 0);
	return id;
}

static struct kstate_phase *
phase_of(struct kstate_phase *v, size_t n, const char *host,
    const char *phase)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].host, host) == 0 &&
		    strcmp(v[i].phase, phase) == 0)
			return &v[i];
	fail_msg("no phase %s %s", host, phase);
	return NULL;
}

/* ---- migration from the previous release ---- */

/* Build a database as release 2 left it (up to version upto), with a run,
 * hosts, results, observed rows, a restart owed and components. */
static void
make_old_db(const char *path, int upto)
{
	sqlite3	*db = NULL;
	char	*err = NULL;
	int	 i;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < upto; i++)
		if (sqlite3_exec(db, v2_schema[i], NULL, NULL, &err) !=
		    SQLITE_OK)
			fail_msg("old migration %d: %s", i, err);
	if (sqlite3_exec(db,
	    "INSERT INTO runs (kind, args, started_at, ended_at, result,"
	    "  exit_code, pid, hostname, user)"
	    " VALUES ('apply', 'inv.yaml', 1000, 2000, 'converged', 0, 42,"
	    "  'ctl', 'op');"
	    "INSERT INTO hosts (name, address, facts, last_contact,"
	    "  last_run_id, reachable)"
	    " VALUES ('m1', '10.0.0.1', '{\"os\":\"debian\"}', 1500, 1, 1),"
	    "        ('n1', '10.0.0.2', NULL, 1600, 1, 1);"
	    "INSERT INTO task_results (run_id, host, step, task_key, module,"
	    "  desired_digest, status, changed, message, diff, started_at,"
	    "  duration_ms)"
	    " VALUES (1, 'm1', 'etcd', 'file:/etc/a', 'file', 'd1', 'changed',"
	    "  1, NULL, '-a\n+b\n', 1100, 5);"
	    "INSERT INTO observed (host, task_key, digest, status, changed_at,"
	    "  ok_at, run_id) VALUES ('m1', 'file:/etc/a', 'd1', 'ok', 1105,"
	    "  1105, 1);"
	    "INSERT INTO pending_restarts (host, task_key, reason, since_run,"
	    "  since_at) VALUES ('m1', 'svc:etcd', 'cert changed', 1, 1200);"
	    "INSERT INTO run_hosts (run_id, host, outcome, ok, changed)"
	    " VALUES (1, 'm1', 'converged', 3, 1);",
	    NULL, NULL, &err) != SQLITE_OK)
		fail_msg("old data: %s", err);
	if (upto >= 2 && sqlite3_exec(db,
	    "INSERT INTO components (host, component, desired, observed,"
	    "  active, observed_at, run_id) VALUES ('m1', 'kube-apiserver',"
	    "  '1.8.15', '1.8.15', 'active', 1300, 1)",
	    NULL, NULL, &err) != SQLITE_OK)
		fail_msg("old components: %s", err);
	sqlite3_close(db);
}

static void
check_old_data(struct kstate *st)
{
	struct kstate_run	*run = NULL;
	struct kstate_host	*h = NULL;
	struct kstate_observed	*o = NULL;
	struct kstate_task_result *res = NULL;
	struct kstate_run_host	*rh = NULL;
	struct kstate_pending	*p = NULL;
	size_t			 n = 0;

	OK(kstate_run_get(st, 1, &run));
	assert_string_equal(run->kind, "apply");
	assert_string_equal(run->args, "inv.yaml");
	assert_int_equal(run->result, KSTATE_RUN_CONVERGED);
	assert_int_equal(run->ended_at, 2000);
	kstate_run_free(run);

	OK(kstate_hosts_list(st, &h, &n));
	assert_int_equal(n, 2);
	assert_string_equal(h[0].name, "m1");
	assert_string_equal(h[0].facts_json, "{\"os\":\"debian\"}");
	assert_int_equal(h[0].last_run_id, 1);
	assert_string_equal(h[1].name, "n1");
	kstate_hosts_free(h, n);

	OK(kstate_results_list(st, 1, NULL, 0, &res, &n));
	assert_int_equal(n, 1);
	assert_string_equal(res[0].diff, "-a\n+b\n");
	assert_int_equal(res[0].status, KSTATE_CHANGED);
	kstate_results_free(res, n);

	OK(kstate_observed_list(st, NULL, &o, &n));
	assert_int_equal(n, 1);
	assert_int_equal(o[0].ok_at, 1105);
	kstate_observed_free(o, n);

	OK(kstate_run_hosts_list(st, 1, &rh, &n));
	assert_int_equal(n, 1);
	assert_int_equal(rh[0].ok, 3);
	kstate_run_hosts_free(rh, n);

	OK(kstate_pending_restarts_list(st, NULL, &p, &n));
	assert_int_equal(n, 1);
	assert_string_equal(p[0].reason, "cert changed");
	kstate_pending_restarts_free(p, n);
}

static void
test_migrate_from_v2(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_component	*c = NULL;
	struct kstate_upgrade	*u = NULL;
	char			*v = NULL;
	char			 before[8192], after[8192];
	size_t			 n = 0;
	int64_t			 id, run;

	make_old_db(fx->path, 2);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 2);
	raw_text(fx->path, OLD_SCHEMA_SQL, before, sizeof(before));
	assert_non_null(strstr(before, "CREATE TABLE components"));

	st = open_ok(fx->path);
	kstate_close(st);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 4);
	assert_int_equal(KSTATE_SCHEMA_VERSION, 4);
	/* 3 -> 4: the host key pin's type and time, beside hostkey_fp. */
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM"
	    " pragma_table_info('hosts') WHERE name IN ('hostkey_fp',"
	    " 'hostkey_type', 'hostkey_pinned_at')"), 3);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM sqlite_schema"
	    " WHERE type = 'table' AND name IN ('upgrades', 'upgrade_phases',"
	    " 'settings')"), 3);
	/* Every old table and index is still there, word for word. */
	raw_text(fx->path, OLD_SCHEMA_SQL, after, sizeof(after));
	assert_string_equal(after, before);

	st = open_ok(fx->path);
	check_old_data(st);
	OK(kstate_components_list(st, "m1", &c, &n));
	assert_int_equal(n, 1);
	assert_string_equal(c[0].desired, "1.8.15");
	kstate_components_free(c, n);
	assert_int_equal(kstate_upgrade_unfinished(st, &u),
	    KORCH_ERR_NOT_FOUND);
	assert_null(u);
	OK(kstate_setting_get(st, "cluster_version", &v));
	assert_null(v);

	/* The new tables work on the migrated file, with its old runs. */
	run = begin_run(st, "upgrade");
	assert_int_equal(run, 2);
	id = create_ok(st, run, "upgrade", 0);
	OK(kstate_phase_set(st, id, "m1", "snapshot", KSTATE_PH_RUNNING,
	    NULL));
	OK(kstate_setting_set(st, "cluster_version", "1.8.15"));
	OK(kstate_run_end(st, run, KSTATE_RUN_CONVERGED, 0));
	OK(kstate_integrity_ok(st));
	kstate_close(st);

	st = open_ok(fx->path);
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->id, id);
	assert_int_equal(u->run_id, run);
	kstate_upgrade_free(u);
	OK(kstate_setting_get(st, "cluster_version", &v));
	assert_string_equal(v, "1.8.15");
	free(v);
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

/* Several steps at once: a schema 1 file (before components) goes to the
 * newest. */
static void
test_migrate_from_v1(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_component	*c = NULL;
	size_t			 n = 0;

	make_old_db(fx->path, 1);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 1);
	st = open_ok(fx->path);
	check_old_data(st);
	OK(kstate_components_list(st, NULL, &c, &n));
	assert_int_equal(n, 0);
	OK(kstate_integrity_ok(st));
	kstate_close(st);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"),
	    KSTATE_SCHEMA_VERSION);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM sqlite_schema"
	    " WHERE type = 'table' AND name IN ('components', 'upgrades',"
	    " 'upgrade_phases', 'settings')"), 4);
}

/* ---- creating and listing ---- */

static void
test_create_and_list(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_upgrade	*u = NULL;
	struct kstate_phase	*ph = NULL;
	size_t			 n = 0, i;
	int64_t			 run, id, id2, t0, t1;

	st = open_ok(fx->path);
	run = begin_run(st, "upgrade");
	t0 = now_ms();
	id = create_ok(st, run, "upgrade", 0);
	t1 = now_ms();

	OK(kstate_upgrade_get(st, id, &u));
	assert_int_equal(u->id, id);
	assert_string_equal(u->kind, "upgrade");
	assert_string_equal(u->from_version, "1.8.15");
	assert_string_equal(u->to_version, "1.9.11");
	assert_int_equal(u->status, KSTATE_UPG_RUNNING);
	assert_int_equal(u->max_unavailable, 2);
	assert_int_equal(u->parent_id, 0);
	assert_null(u->snapshot);
	assert_null(u->message);
	assert_true(u->started_at >= t0 && u->started_at <= t1);
	assert_int_equal(u->ended_at, 0);
	assert_int_equal(u->run_id, run);
	kstate_upgrade_free(u);
	kstate_upgrade_free(NULL);

	/* The plan, in execution order, all pending. */
	OK(kstate_phases_list(st, id, &ph, &n));
	assert_int_equal(n, NPLAN);
	for (i = 0; i < n; i++) {
		assert_int_equal(ph[i].upgrade_id, id);
		assert_int_equal(ph[i].seq, (int)i + 1);
		assert_string_equal(ph[i].host, plan[i].host);
		assert_string_equal(ph[i].phase, plan[i].phase);
		assert_int_equal(ph[i].batch, plan[i].batch);
		assert_int_equal(ph[i].status, KSTATE_PH_PENDING);
		assert_int_equal(ph[i].attempts, 0);
		assert_int_equal(ph[i].started_at, 0);
		assert_int_equal(ph[i].ended_at, 0);
		assert_null(ph[i].message);
	}
	assert_null(ph[0].from_version);
	assert_null(ph[0].to_version);
	assert_string_equal(ph[1].from_version, "3.1.10");
	assert_string_equal(ph[5].to_version, "1.9.11");
	kstate_phases_free(ph, n);
	kstate_phases_free(NULL, 0);

	/* Order is by seq, not by key: a plan whose hosts sort backwards. */
	{
		static const struct kstate_phase_spec rev[] = {
			{ "z9", "node", 1, NULL, NULL },
			{ "m1", "node", 1, NULL, NULL },
			{ "a0", "node", 2, NULL, NULL },
		};

		OK(kstate_upgrade_create(st, run, "rollback", "1.9.11",
		    "1.8.15", 1, id, rev, 3, &id2));
		assert_true(id2 > id);
		OK(kstate_phases_list(st, id2, &ph, &n));
		assert_int_equal(n, 3);
		assert_string_equal(ph[0].host, "z9");
		assert_string_equal(ph[1].host, "m1");
		assert_string_equal(ph[2].host, "a0");
		assert_int_equal(ph[2].seq, 3);
		kstate_phases_free(ph, n);
		OK(kstate_upgrade_get(st, id2, &u));
		assert_string_equal(u->kind, "rollback");
		assert_int_equal(u->parent_id, id);
		kstate_upgrade_free(u);
	}

	/* No phases at all; no run. */
	OK(kstate_upgrade_create(st, 0, "upgrade", "1.9.11", "1.9.12", 1, 0,
	    NULL, 0, &id2));
	OK(kstate_phases_list(st, id2, &ph, &n));
	assert_int_equal(n, 0);
	assert_null(ph);
	OK(kstate_upgrade_get(st, id2, &u));
	assert_int_equal(u->run_id, 0);
	kstate_upgrade_free(u);

	assert_int_equal(kstate_upgrade_get(st, 999, &u), KORCH_ERR_NOT_FOUND);
	assert_null(u);
	OK(kstate_phases_list(st, 999, &ph, &n));
	assert_int_equal(n, 0);
	OK(kstate_run_end(st, run, KSTATE_RUN_CONVERGED, 0));
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

static void
test_create_argument_checks(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;
	struct kstate_phase_spec bad[2];
	int64_t		 run, id = 7;

	st = open_ok(fx->path);
	run = begin_run(st, "upgrade");
#define CREATE(kind, from, to, mu, parent, p, n)			\
	kstate_upgrade_create(st, run, kind, from, to, mu, parent, p, n, &id)

	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, plan, NPLAN),
	    KORCH_OK);
	assert_int_equal(CREATE("downgrade", "1.8", "1.9", 1, 0, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(id, 0);
	assert_non_null(strstr(kstate_errmsg(st), "rollback"));
	assert_int_equal(CREATE(NULL, "1.8", "1.9", 1, 0, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(CREATE("upgrade", NULL, "1.9", 1, 0, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(CREATE("upgrade", "1.8", "", 1, 0, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 0, 0, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, -1, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, NULL, 1),
	    KORCH_ERR_INVALID_ARG);
	/* A rollback names what it undoes, and that must exist. */
	assert_int_equal(CREATE("rollback", "1.9", "1.8", 1, 0, plan, 1),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(CREATE("rollback", "1.9", "1.8", 1, 999, plan, 1),
	    KORCH_ERR_NOT_FOUND);
	assert_non_null(strstr(kstate_errmsg(st), "999"));

	bad[0] = plan[0];
	bad[1] = plan[1];
	bad[1].phase = "kubelet";
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, bad, 2),
	    KORCH_ERR_INVALID_ARG);
	assert_non_null(strstr(kstate_errmsg(st), "kubelet"));
	bad[1].phase = NULL;
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, bad, 2),
	    KORCH_ERR_INVALID_ARG);
	bad[1] = plan[1];
	bad[1].host = "";
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, bad, 2),
	    KORCH_ERR_INVALID_ARG);
	bad[1] = plan[1];
	bad[1].batch = 3;		/* only node phases have batches */
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, bad, 2),
	    KORCH_ERR_INVALID_ARG);
	bad[1] = plan[3];
	bad[1].batch = -1;
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, bad, 2),
	    KORCH_ERR_INVALID_ARG);

	/* The same (host, phase) twice: refused, and nothing of it kept. */
	bad[1] = plan[0];
	assert_int_equal(CREATE("upgrade", "1.8", "1.9", 1, 0, bad, 2),
	    KORCH_ERR_INVALID_ARG);
	assert_non_null(strstr(kstate_errmsg(st), "m1 snapshot"));
	assert_non_null(strstr(kstate_errmsg(st), "twice"));
	assert_int_equal(id, 0);

	/* An unknown run: the foreign key says no, atomically too. */
	assert_int_equal(kstate_upgrade_create(st, run + 50, "upgrade", "1.8",
	    "1.9", 1, 0, plan, 1, &id), KORCH_ERR_STATE);
	assert_non_null(strstr(kstate_errmsg(st), "FOREIGN KEY"));
	assert_int_equal(kstate_upgrade_create(st, run, "upgrade", "1.8",
	    "1.9", 1, 0, plan, 1, NULL), KORCH_ERR_INVALID_ARG);
#undef CREATE
	assert_int_equal(kstate_upgrade_create(NULL, run, "upgrade", "1.8",
	    "1.9", 1, 0, plan, 1, &id), KORCH_ERR_INVALID_ARG);

	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM upgrades"),
	    1);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM upgrade_phases"), NPLAN);
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

/* ---- phase transitions ---- */

static void
test_phase_transitions(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_phase	*ph = NULL, *p;
	size_t			 n = 0;
	int64_t			 run, id, t0, t1, started;

	st = open_ok(fx->path);
	run = begin_run(st, "upgrade");
	id = create_ok(st, run, "upgrade", 0);

	/* Running: started now, first attempt. */
	t0 = now_ms();
	OK(kstate_phase_set(st, id, "m1", "etcd", KSTATE_PH_RUNNING, NULL));
	t1 = now_ms();
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "m1", "etcd");
	assert_int_equal(p->status, KSTATE_PH_RUNNING);
	assert_int_equal(p->attempts, 1);
	assert_true(p->started_at >= t0 && p->started_at <= t1);
	assert_int_equal(p->ended_at, 0);
	assert_null(p->message);
	started = p->started_at;
	/* Nothing else moved. */
	assert_int_equal(phase_of(ph, n, "m1", "snapshot")->status,
	    KSTATE_PH_PENDING);
	kstate_phases_free(ph, n);

	/* Failed: ended now, the message kept, started stays. */
	usleep(3000);
	OK(kstate_phase_set(st, id, "m1", "etcd", KSTATE_PH_FAILED,
	    "etcd did not come back healthy"));
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "m1", "etcd");
	assert_int_equal(p->status, KSTATE_PH_FAILED);
	assert_int_equal(p->attempts, 1);
	assert_int_equal(p->started_at, started);
	assert_true(p->ended_at > started);
	assert_string_equal(p->message, "etcd did not come back healthy");
	kstate_phases_free(ph, n);

	/* Retried: second attempt, end and message cleared. */
	usleep(3000);
	OK(kstate_phase_set(st, id, "m1", "etcd", KSTATE_PH_RUNNING, NULL));
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "m1", "etcd");
	assert_int_equal(p->status, KSTATE_PH_RUNNING);
	assert_int_equal(p->attempts, 2);
	assert_true(p->started_at > started);
	assert_int_equal(p->ended_at, 0);
	assert_null(p->message);
	started = p->started_at;
	kstate_phases_free(ph, n);

	/* Done, without a message. */
	OK(kstate_phase_set(st, id, "m1", "etcd", KSTATE_PH_DONE, NULL));
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "m1", "etcd");
	assert_int_equal(p->status, KSTATE_PH_DONE);
	assert_int_equal(p->attempts, 2);
	assert_int_equal(p->started_at, started);
	assert_true(p->ended_at >= started);
	assert_null(p->message);
	kstate_phases_free(ph, n);

	/* Back to pending: times cleared, the count of attempts stays. */
	OK(kstate_phase_set(st, id, "m1", "etcd", KSTATE_PH_PENDING, NULL));
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "m1", "etcd");
	assert_int_equal(p->status, KSTATE_PH_PENDING);
	assert_int_equal(p->attempts, 2);
	assert_int_equal(p->started_at, 0);
	assert_int_equal(p->ended_at, 0);
	kstate_phases_free(ph, n);

	/* Found done without running (already on the version). */
	OK(kstate_phase_set(st, id, "n3", "node", KSTATE_PH_DONE,
	    "already on the target version"));
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "n3", "node");
	assert_int_equal(p->status, KSTATE_PH_DONE);
	assert_int_equal(p->attempts, 0);
	assert_int_equal(p->started_at, 0);
	assert_true(p->ended_at > 0);
	assert_string_equal(p->message, "already on the target version");
	kstate_phases_free(ph, n);

	/* Unknown phase, host or upgrade; bad arguments. */
	assert_int_equal(kstate_phase_set(st, id, "m1", "node",
	    KSTATE_PH_RUNNING, NULL), KORCH_ERR_NOT_FOUND);
	assert_non_null(strstr(kstate_errmsg(st), "m1 node"));
	assert_int_equal(kstate_phase_set(st, id, "ghost", "etcd",
	    KSTATE_PH_RUNNING, NULL), KORCH_ERR_NOT_FOUND);
	assert_int_equal(kstate_phase_set(st, id + 1, "m1", "etcd",
	    KSTATE_PH_RUNNING, NULL), KORCH_ERR_NOT_FOUND);
	assert_int_equal(kstate_phase_set(st, id, NULL, "etcd",
	    KSTATE_PH_RUNNING, NULL), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_phase_set(st, id, "m1", NULL,
	    KSTATE_PH_RUNNING, NULL), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_phase_set(st, id, "m1", "etcd",
	    (enum kstate_phase_status)7, NULL), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_phase_set(st, id, "m1", "etcd",
	    (enum kstate_phase_status)-1, NULL), KORCH_ERR_INVALID_ARG);
	/* None of that touched the row. */
	OK(kstate_phases_list(st, id, &ph, &n));
	p = phase_of(ph, n, "m1", "etcd");
	assert_int_equal(p->status, KSTATE_PH_PENDING);
	assert_int_equal(p->attempts, 2);
	kstate_phases_free(ph, n);

	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

/* ---- lookups and upgrade status ---- */

static void
test_unfinished_and_last(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_upgrade	*u = NULL;
	int64_t			 run, run2, u1, u2, r3, ended;

	st = open_ok(fx->path);
	assert_int_equal(kstate_upgrade_unfinished(st, &u),
	    KORCH_ERR_NOT_FOUND);
	assert_null(u);
	assert_int_equal(kstate_upgrade_last(st, NULL, &u),
	    KORCH_ERR_NOT_FOUND);
	assert_int_equal(kstate_upgrade_last(st, "upgrade", &u),
	    KORCH_ERR_NOT_FOUND);
	assert_int_equal(kstate_upgrade_last(st, "sideways", &u),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_upgrade_unfinished(st, NULL),
	    KORCH_ERR_INVALID_ARG);

	run = begin_run(st, "upgrade");
	u1 = create_ok(st, run, "upgrade", 0);
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->id, u1);
	kstate_upgrade_free(u);

	/* Failed is unfinished: still found, no end time. */
	OK(kstate_upgrade_set_status(st, u1, KSTATE_UPG_FAILED,
	    "master phase on m1: timed out", 0));
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->id, u1);
	assert_int_equal(u->status, KSTATE_UPG_FAILED);
	assert_int_equal(u->ended_at, 0);
	assert_string_equal(u->message, "master phase on m1: timed out");
	assert_int_equal(u->run_id, run);	/* <= 0 keeps the run */
	kstate_upgrade_free(u);
	OK(kstate_run_end(st, run, KSTATE_RUN_FAILED, 1));

	/* Resumed by another run: running, message cleared, run moves. */
	run2 = begin_run(st, "upgrade");
	OK(kstate_upgrade_set_status(st, u1, KSTATE_UPG_RUNNING, NULL, run2));
	OK(kstate_upgrade_get(st, u1, &u));
	assert_int_equal(u->status, KSTATE_UPG_RUNNING);
	assert_null(u->message);
	assert_int_equal(u->run_id, run2);
	assert_int_equal(u->ended_at, 0);
	kstate_upgrade_free(u);

	/* The snapshot path; NULL clears; unknown upgrade. */
	OK(kstate_upgrade_set_snapshot(st, u1,
	    "/var/lib/korch/snapshots/etcd-1.db"));
	OK(kstate_upgrade_get(st, u1, &u));
	assert_string_equal(u->snapshot, "/var/lib/korch/snapshots/etcd-1.db");
	kstate_upgrade_free(u);
	OK(kstate_upgrade_set_snapshot(st, u1, NULL));
	OK(kstate_upgrade_get(st, u1, &u));
	assert_null(u->snapshot);
	kstate_upgrade_free(u);
	OK(kstate_upgrade_set_snapshot(st, u1, "/snap/1.db"));
	assert_int_equal(kstate_upgrade_set_snapshot(st, 999, "/x"),
	    KORCH_ERR_NOT_FOUND);

	/* Done: no longer unfinished, ended. */
	OK(kstate_upgrade_set_status(st, u1, KSTATE_UPG_DONE, NULL, run2));
	assert_int_equal(kstate_upgrade_unfinished(st, &u),
	    KORCH_ERR_NOT_FOUND);
	OK(kstate_upgrade_last(st, "upgrade", &u));
	assert_int_equal(u->id, u1);
	assert_int_equal(u->status, KSTATE_UPG_DONE);
	assert_true(u->ended_at >= u->started_at && u->ended_at > 0);
	assert_string_equal(u->snapshot, "/snap/1.db");
	ended = u->ended_at;
	kstate_upgrade_free(u);

	/* Done is final; setting it again keeps the first end. */
	assert_int_equal(kstate_upgrade_set_status(st, u1, KSTATE_UPG_RUNNING,
	    NULL, run2), KORCH_ERR_INVALID_ARG);
	assert_non_null(strstr(kstate_errmsg(st), "done"));
	assert_int_equal(kstate_upgrade_set_status(st, u1,
	    KSTATE_UPG_ABANDONED, NULL, run2), KORCH_ERR_INVALID_ARG);
	usleep(3000);
	OK(kstate_upgrade_set_status(st, u1, KSTATE_UPG_DONE, "all 6 phases",
	    0));
	OK(kstate_upgrade_get(st, u1, &u));
	assert_int_equal(u->ended_at, ended);
	assert_string_equal(u->message, "all 6 phases");
	kstate_upgrade_free(u);

	/* Abandoned is finished too. */
	u2 = create_ok(st, run2, "upgrade", 0);
	OK(kstate_upgrade_set_status(st, u2, KSTATE_UPG_ABANDONED,
	    "operator gave up", 0));
	assert_int_equal(kstate_upgrade_unfinished(st, &u),
	    KORCH_ERR_NOT_FOUND);
	OK(kstate_upgrade_get(st, u2, &u));
	assert_true(u->ended_at > 0);
	kstate_upgrade_free(u);
	assert_int_equal(kstate_upgrade_set_status(st, u2, KSTATE_UPG_FAILED,
	    NULL, 0), KORCH_ERR_INVALID_ARG);

	/* A failed upgrade and a running rollback of it: the newest
	 * unfinished is the rollback. */
	u2 = create_ok(st, run2, "upgrade", 0);
	OK(kstate_upgrade_set_status(st, u2, KSTATE_UPG_FAILED, "node n2",
	    0));
	r3 = create_ok(st, run2, "rollback", u2);
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->id, r3);
	assert_string_equal(u->kind, "rollback");
	assert_int_equal(u->parent_id, u2);
	kstate_upgrade_free(u);
	OK(kstate_upgrade_last(st, "upgrade", &u));
	assert_int_equal(u->id, u2);
	kstate_upgrade_free(u);
	OK(kstate_upgrade_last(st, "rollback", &u));
	assert_int_equal(u->id, r3);
	kstate_upgrade_free(u);
	OK(kstate_upgrade_last(st, NULL, &u));
	assert_int_equal(u->id, r3);
	kstate_upgrade_free(u);
	/* The rollback done, the failed upgrade is the unfinished one. */
	OK(kstate_upgrade_set_status(st, r3, KSTATE_UPG_DONE, NULL, 0));
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->id, u2);
	kstate_upgrade_free(u);

	/* Bad arguments. */
	assert_int_equal(kstate_upgrade_set_status(st, 999, KSTATE_UPG_DONE,
	    NULL, 0), KORCH_ERR_NOT_FOUND);
	assert_int_equal(kstate_upgrade_set_status(st, u2,
	    (enum kstate_upgrade_status)9, NULL, 0), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_upgrade_set_status(st, u2, KSTATE_UPG_RUNNING,
	    NULL, run2 + 10), KORCH_ERR_STATE);	/* no such run */
	OK(kstate_upgrade_get(st, u2, &u));
	assert_int_equal(u->status, KSTATE_UPG_FAILED);
	kstate_upgrade_free(u);

	OK(kstate_run_end(st, run2, KSTATE_RUN_CONVERGED, 0));
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

/* ---- the journal and runs that die ---- */

/* The run sweep (kstate_run_begin marking dead runs interrupted) and a
 * close with a run held leave upgrades alone. */
static void
test_upgrade_outlives_its_run(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_upgrade	*u = NULL;
	struct kstate_run	*r = NULL;
	int64_t			 run, run2, id;

	st = open_ok(fx->path);
	run = begin_run(st, "upgrade");
	id = create_ok(st, run, "upgrade", 0);
	OK(kstate_phase_set(st, id, "m1", "snapshot", KSTATE_PH_RUNNING,
	    NULL));
	kstate_close(st);		/* the run ends interrupted */

	st = open_ok(fx->path);
	OK(kstate_run_get(st, run, &r));
	assert_int_equal(r->result, KSTATE_RUN_INTERRUPTED);
	kstate_run_free(r);
	run2 = begin_run(st, "upgrade");
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->id, id);
	assert_int_equal(u->status, KSTATE_UPG_RUNNING);
	assert_int_equal(u->ended_at, 0);
	assert_int_equal(u->run_id, run);
	kstate_upgrade_free(u);
	OK(kstate_run_end(st, run2, KSTATE_RUN_CONVERGED, 0));
	kstate_close(st);
}

/* A process killed right after its journal calls returned: everything it
 * recorded is there for the next one. */
static void
test_journal_survives_sigkill(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_upgrade	*u = NULL;
	struct kstate_phase	*ph = NULL;
	struct kstate_run	*r = NULL;
	char			*v = NULL, c = 0, msg[1024];
	size_t			 n = 0;
	int			 ready[2];
	int64_t			 run;
	pid_t			 pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kstate	*cst = NULL;
		int64_t		 cid = 0, crun = 0;

		close(ready[0]);
		c = 'E';
		if (kstate_open(fx->path, &cst) == KORCH_OK &&
		    kstate_run_begin(cst, "upgrade", NULL, &crun, NULL, 0) ==
		    KORCH_OK &&
		    kstate_upgrade_create(cst, crun, "upgrade", "1.8.15",
		    "1.9.11", 1, 0, plan, NPLAN, &cid) == KORCH_OK &&
		    kstate_upgrade_set_snapshot(cst, cid, "/snap/a.db") ==
		    KORCH_OK &&
		    kstate_phase_set(cst, cid, "m1", "snapshot",
		    KSTATE_PH_DONE, "/snap/a.db") == KORCH_OK &&
		    kstate_batch_begin(cst) == KORCH_OK &&
		    kstate_phase_set(cst, cid, "m1", "etcd",
		    KSTATE_PH_RUNNING, NULL) == KORCH_OK &&
		    kstate_setting_set(cst, "inventory", "/srv/inv.yaml") ==
		    KORCH_OK &&
		    kstate_batch_commit(cst) == KORCH_OK)
			c = 'R';
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		pause();		/* until SIGKILL */
		_exit(3);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'R');
	th_kill_reap(pid);
	close(ready[0]);

	st = open_ok(fx->path);
	assert_int_equal(kstate_run_begin(st, "upgrade", NULL, &run, msg,
	    sizeof(msg)), KORCH_OK);
	assert_non_null(strstr(msg, "took over"));
	OK(kstate_run_get(st, 1, &r));
	assert_int_equal(r->result, KSTATE_RUN_INTERRUPTED);
	kstate_run_free(r);
	OK(kstate_upgrade_unfinished(st, &u));
	assert_int_equal(u->status, KSTATE_UPG_RUNNING);
	assert_string_equal(u->snapshot, "/snap/a.db");
	assert_int_equal(u->run_id, 1);
	OK(kstate_phases_list(st, u->id, &ph, &n));
	assert_int_equal(n, NPLAN);
	assert_int_equal(ph[0].status, KSTATE_PH_DONE);
	assert_int_equal(ph[1].status, KSTATE_PH_RUNNING);
	assert_int_equal(ph[1].attempts, 1);
	assert_int_equal(ph[2].status, KSTATE_PH_PENDING);
	kstate_phases_free(ph, n);
	kstate_upgrade_free(u);
	OK(kstate_setting_get(st, "inventory", &v));
	assert_string_equal(v, "/srv/inv.yaml");
	free(v);
	OK(kstate_run_end(st, run, KSTATE_RUN_CONVERGED, 0));
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

/* ---- batches ---- */

static void
test_journal_in_batches(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_phase	*ph = NULL;
	struct kstate_phase_spec dup[2];
	char			*v = NULL;
	size_t			 n = 0;
	int64_t			 run, id, id2 = 5;

	st = open_ok(fx->path);
	run = begin_run(st, "upgrade");
	id = create_ok(st, run, "upgrade", 0);

	/* Rolled back with its batch. */
	OK(kstate_batch_begin(st));
	OK(kstate_phase_set(st, id, "n1", "node", KSTATE_PH_RUNNING, NULL));
	OK(kstate_setting_set(st, "k", "v"));
	OK(kstate_batch_rollback(st));
	OK(kstate_phases_list(st, id, &ph, &n));
	assert_int_equal(phase_of(ph, n, "n1", "node")->attempts, 0);
	kstate_phases_free(ph, n);
	OK(kstate_setting_get(st, "k", &v));
	assert_null(v);

	/* A bad plan inside a batch leaves nothing of itself, and the
	 * batch's other writes stand. */
	dup[0] = plan[3];
	dup[1] = plan[3];
	OK(kstate_batch_begin(st));
	OK(kstate_phase_set(st, id, "n1", "node", KSTATE_PH_RUNNING, NULL));
	assert_int_equal(kstate_upgrade_create(st, run, "upgrade", "1.8",
	    "1.9", 1, 0, dup, 2, &id2), KORCH_ERR_INVALID_ARG);
	assert_int_equal(id2, 0);
	assert_non_null(strstr(kstate_errmsg(st), "twice"));
	OK(kstate_phase_set(st, id, "n2", "node", KSTATE_PH_RUNNING, NULL));
	OK(kstate_upgrade_create(st, run, "upgrade", "1.8", "1.9", 1, 0,
	    dup, 1, &id2));
	OK(kstate_batch_commit(st));
	assert_true(id2 > id);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM upgrades"),
	    2);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM"
	    " upgrade_phases WHERE status = 'running'"), 2);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM"
	    " upgrade_phases"), NPLAN + 1);

	OK(kstate_run_end(st, run, KSTATE_RUN_CONVERGED, 0));
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

/* ---- the schema's own checks ---- */

static void
test_checks_refuse_bad_rows(void **state)
{
	static const struct { const char *sql; int rc; } refused[] = {
		{ "UPDATE upgrades SET status = 'paused' WHERE id = 1",
		    SQLITE_CONSTRAINT_CHECK },
		{ "UPDATE upgrades SET kind = 'downgrade' WHERE id = 1",
		    SQLITE_CONSTRAINT_CHECK },
		{ "UPDATE upgrades SET max_unavailable = 0 WHERE id = 1",
		    SQLITE_CONSTRAINT_CHECK },
		{ "UPDATE upgrades SET status = NULL WHERE id = 1",
		    SQLITE_CONSTRAINT_NOTNULL },
		{ "UPDATE upgrade_phases"
		    " SET status = 'skipped' WHERE upgrade_id = 1 AND seq = 1",
		    SQLITE_CONSTRAINT_CHECK },
		{ "UPDATE upgrade_phases"
		    " SET phase = 'kubelet' WHERE upgrade_id = 1 AND seq = 1",
		    SQLITE_CONSTRAINT_CHECK },
		{ "UPDATE upgrade_phases"
		    " SET batch = 2 WHERE upgrade_id = 1 AND phase = 'master'",
		    SQLITE_CONSTRAINT_CHECK },
		{ "UPDATE upgrade_phases"
		    " SET attempts = -1 WHERE upgrade_id = 1 AND seq = 1",
		    SQLITE_CONSTRAINT_CHECK },
		/* seq is unique within an upgrade. */
		{ "UPDATE upgrade_phases"
		    " SET seq = 2 WHERE upgrade_id = 1 AND seq = 1",
		    SQLITE_CONSTRAINT_UNIQUE },
		/* Phases belong to an upgrade; a parent must exist. */
		{ "INSERT INTO upgrade_phases (upgrade_id, seq, host, phase)"
		    " VALUES (9, 1, 'm1', 'etcd')",
		    SQLITE_CONSTRAINT_FOREIGNKEY },
		{ "UPDATE upgrades SET parent_id = 9 WHERE id = 1",
		    SQLITE_CONSTRAINT_FOREIGNKEY },
		{ "INSERT INTO settings (key, value) VALUES ('k', NULL)",
		    SQLITE_CONSTRAINT_NOTNULL },
	};
	struct fx		*fx = *state;
	struct kstate		*st;
	size_t			 i;
	int64_t			 id;
	int			 rc;

	st = open_ok(fx->path);
	id = create_ok(st, 0, "upgrade", 0);
	kstate_close(st);
	assert_int_equal(id, 1);

	/* Whatever writes the file, the CHECKs hold. */
	for (i = 0; i < TH_LEN(refused); i++) {
		rc = raw_rc(fx->path, refused[i].sql);
		if (rc != refused[i].rc)
			fail_msg("%s: %d, want %d", refused[i].sql, rc,
			    refused[i].rc);
	}

	/* A value the checks were told to ignore is reported, not
	 * guessed at: quick_check at open finds it, naming the file, before
	 * any reader could meet it. */
	raw_exec(fx->path, "PRAGMA ignore_check_constraints = ON;"
	    "UPDATE upgrades SET status = 'paused' WHERE id = 1;"
	    "UPDATE upgrade_phases SET status = 'skipped' WHERE seq = 2");
	assert_int_equal(kstate_open(fx->path, &st), KORCH_ERR_STATE);
	assert_non_null(strstr(kstate_errmsg(st), "is damaged (CHECK "
	    "constraint failed"));
	assert_non_null(strstr(kstate_errmsg(st), fx->path));
	kstate_close(st);
}

/* ---- settings ---- */

static void
test_settings(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;
	char		*v = (char *)"untouched";
	int64_t		 c0;

	st = open_ok(fx->path);
	OK(kstate_setting_get(st, "inventory", &v));
	assert_null(v);

	OK(kstate_setting_set(st, "inventory", "/srv/inv.yaml"));
	OK(kstate_setting_set(st, "cluster_version", "1.8.15"));
	OK(kstate_setting_get(st, "inventory", &v));
	assert_string_equal(v, "/srv/inv.yaml");
	free(v);

	/* Overwrite; the same value again writes nothing. */
	OK(kstate_setting_set(st, "cluster_version", "1.9.11"));
	c0 = kstate_total_changes(st);
	OK(kstate_setting_set(st, "cluster_version", "1.9.11"));
	assert_int_equal(kstate_total_changes(st), c0);
	OK(kstate_setting_get(st, "cluster_version", &v));
	assert_string_equal(v, "1.9.11");
	free(v);

	/* Empty is a value; NULL removes the key. */
	OK(kstate_setting_set(st, "note", ""));
	OK(kstate_setting_get(st, "note", &v));
	assert_string_equal(v, "");
	free(v);
	OK(kstate_setting_set(st, "note", NULL));
	OK(kstate_setting_get(st, "note", &v));
	assert_null(v);
	OK(kstate_setting_set(st, "never-set", NULL));

	assert_int_equal(kstate_setting_set(st, NULL, "x"),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_setting_set(st, "", "x"),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_setting_get(st, NULL, &v),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_setting_get(st, "inventory", NULL),
	    KORCH_ERR_INVALID_ARG);
	kstate_close(st);

	/* Kept across handles. */
	st = open_ok(fx->path);
	OK(kstate_setting_get(st, "inventory", &v));
	assert_string_equal(v, "/srv/inv.yaml");
	free(v);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM settings"),
	    2);
	OK(kstate_integrity_ok(st));
	kstate_close(st);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(kstate_upgrade_status_name(KSTATE_UPG_RUNNING),
	    "running");
	assert_string_equal(kstate_upgrade_status_name(KSTATE_UPG_FAILED),
	    "failed");
	assert_string_equal(kstate_upgrade_status_name(KSTATE_UPG_DONE),
	    "done");
	assert_string_equal(kstate_upgrade_status_name(KSTATE_UPG_ABANDONED),
	    "abandoned");
	assert_string_equal(kstate_upgrade_status_name(
	    (enum kstate_upgrade_status)4), "?");
	assert_string_equal(kstate_phase_status_name(KSTATE_PH_PENDING),
	    "pending");
	assert_string_equal(kstate_phase_status_name(KSTATE_PH_RUNNING),
	    "running");
	assert_string_equal(kstate_phase_status_name(KSTATE_PH_DONE),
	    "done");
	assert_string_equal(kstate_phase_status_name(KSTATE_PH_FAILED),
	    "failed");
	assert_string_equal(kstate_phase_status_name(
	    (enum kstate_phase_status)-1), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
		T(test_migrate_from_v2),
		T(test_migrate_from_v1),
		T(test_create_and_list),
		T(test_create_argument_checks),
		T(test_phase_transitions),
		T(test_unfinished_and_last),
		T(test_upgrade_outlives_its_run),
		T(test_journal_survives_sigkill),
		T(test_journal_in_batches),
		T(test_checks_refuse_bad_rows),
		T(test_settings),
		cmocka_unit_test(test_names),
#undef T
	};

	return cmocka_run_group_tests_name("state_upgrade", tests, NULL,
	    NULL);
}
