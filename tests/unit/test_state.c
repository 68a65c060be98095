/*
 * test_state.c - the state database: migrations, recording and queries,
 * observed-state upsert rules, the run lock (with forked holders, live and
 * SIGKILLed), pending restarts, integrity, the default path.
 *
 * Each test gets a fresh directory.  Raw sqlite3 is used here only to look
 * behind the module's back (user_version, journal mode, data_version).
 * Forks happen before the parent opens any connection in that test:
 * SQLite connections must not cross fork().
 */
#include <fcntl.h>

#include "helpers_state.h"
#include "state_hostkey.h"
#include "state_lock.h"
#include "state_query.h"
#include "state_record.h"

static int
fx_setup(void **state)
{
	return th_db_setup(state, "korch-state");
}

static long long
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*s = NULL;
	long long	 v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static mode_t
mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static int64_t
begin_run(struct kstate *st, const char *kind)
{
	return th_begin_run(st, kind, "inventory.yaml");
}

static struct kstate_result
result(int64_t run, const char *host, const char *key, const char *digest,
    enum kstate_status status, int64_t at)
{
	struct kstate_result r = {
		.run_id = run,
		.host = host,
		.step = "etcd",
		.task_key = key,
		.module = "file",
		.desired_digest = digest,
		.status = status,
		.changed = status == KSTATE_CHANGED,
		.message = status == KSTATE_FAILED ? "boom" : NULL,
		.diff = status == KSTATE_CHANGED ? "-a\n+b\n" : NULL,
		.started_at = at,
		.duration_ms = 5,
	};
	return r;
}

static void
record_ok(struct kstate *st, const struct kstate_result *res)
{
	int r = kstate_record_result(st, res);

	if (r != KORCH_OK)
		fail_msg("record_result: %s: %s", korch_strerror(r),
		    kstate_errmsg(st));
}

/* record_ok, which must change want rows (kstate_total_changes). */
static void
record_changes(struct kstate *st, const struct kstate_result *res,
    int64_t want)
{
	int64_t c0 = kstate_total_changes(st);

	record_ok(st, res);
	assert_int_equal(kstate_total_changes(st) - c0, want);
}

/* m1's first observed row has digest (unless NULL), status, changed_at
 * and ok_at (each unless -1). */
static void
expect_m1_obs(struct kstate *st, const char *digest, int status,
    int64_t changed_at, int64_t ok_at)
{
	struct kstate_observed *obs = NULL;
	size_t n = 0;

	assert_int_equal(kstate_observed_list(st, "m1", &obs, &n), KORCH_OK);
	if (digest != NULL)
		assert_string_equal(obs[0].digest, digest);
	if (status != -1)
		assert_int_equal(obs[0].status, status);
	if (changed_at != -1)
		assert_int_equal(obs[0].changed_at, changed_at);
	if (ok_at != -1)
		assert_int_equal(obs[0].ok_at, ok_at);
	kstate_observed_free(obs, n);
}

static const struct kstate_observed *
find_obs(const struct kstate_observed *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].task_key, key) == 0)
			return &v[i];
	return NULL;
}

/* ---- opening and migrations ---- */

static void
test_migrate_fresh_and_reopen(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;
	struct kstate_host *h = NULL;
	char		 path[256], sub[200];
	size_t		 n = 0;

	snprintf(path, sizeof(path), "%s/a/b/state.db", fx->dir);
	st = open_ok(path);
	assert_int_equal(kstate_record_host(st, 0, "m1", "10.0.0.1", NULL,
	    NULL, false, NULL), KORCH_OK);
	kstate_close(st);

	snprintf(sub, sizeof(sub), "%s/a", fx->dir);
	assert_int_equal(mode_of(sub), 0700);
	snprintf(sub, sizeof(sub), "%s/a/b", fx->dir);
	assert_int_equal(mode_of(sub), 0700);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(raw_int(path, "PRAGMA user_version"),
	    KSTATE_SCHEMA_VERSION);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema"
	    " WHERE type = 'table' AND name IN ('runs', 'hosts',"
	    " 'task_results', 'observed', 'pending_restarts', 'run_hosts',"
	    " 'lock')"), 7);

	/* Re-open: nothing to migrate, data kept. */
	st = open_ok(path);
	assert_int_equal(kstate_hosts_list(st, &h, &n), KORCH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].name, "m1");
	kstate_hosts_free(h, n);
	kstate_close(st);
	assert_int_equal(raw_int(path, "PRAGMA user_version"),
	    KSTATE_SCHEMA_VERSION);
}

static void
test_newer_version_refused(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st = NULL;
	char		 sql[64];

	kstate_close(open_ok(fx->path));
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    KSTATE_SCHEMA_VERSION + 1);
	raw_exec(fx->path, sql);

	assert_int_equal(kstate_open(fx->path, &st), KORCH_ERR_UNSUPPORTED);
	assert_non_null(st);
	assert_non_null(strstr(kstate_errmsg(st), "newer"));
	/* A failed handle refuses work but keeps its message. */
	assert_int_equal(kstate_integrity_ok(st), KORCH_ERR_INVALID_ARG);
	assert_non_null(strstr(kstate_errmsg(st), "newer"));
	kstate_close(st);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"),
	    KSTATE_SCHEMA_VERSION + 1);
}

static void
test_open_errors(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st = NULL;
	char		 path[256];
	FILE		*f;

	assert_int_equal(kstate_open(NULL, &st), KORCH_ERR_INVALID_ARG);
	kstate_close(st);
	assert_int_equal(kstate_open("x", NULL), KORCH_ERR_INVALID_ARG);

	/* Parent "directory" is a regular file. */
	snprintf(path, sizeof(path), "%s/file", fx->dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/state.db", fx->dir);
	st = NULL;
	assert_int_equal(kstate_open(path, &st), KORCH_ERR_SYSTEM);
	assert_non_null(strstr(kstate_errmsg(st), "not a directory"));
	kstate_close(st);

	/* Garbage in place of a database. */
	assert_non_null(f = fopen(fx->path, "w"));
	fputs("this is not a database, not at all, no no no no no no no no "
	    "no no no no no no no no no no no no no no no no no no no no no\n",
	    f);
	fclose(f);
	st = NULL;
	assert_int_equal(kstate_open(fx->path, &st), KORCH_ERR_STATE);
	assert_true(kstate_errmsg(st)[0] != '\0');
	kstate_close(st);
	assert_string_equal(kstate_errmsg(NULL), "no state handle");
	kstate_close(NULL);
}

static void
test_wal_and_pragmas(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;
	sqlite3		*db;
	sqlite3_stmt	*s;
	char		 wal[200];

	st = open_ok(fx->path);
	begin_run(st, "apply");
	s = th_raw_row(fx->path, "PRAGMA journal_mode", &db);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	th_raw_done(db, s);

	/* The -wal file takes the database's mode. */
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_int_equal(mode_of(wal), 0600);

	/* Foreign keys are on: a result for an unknown host is refused. */
	struct kstate_result res = result(1, "ghost", "t", "d",
	    KSTATE_FAILED, 1000);
	assert_int_equal(kstate_record_result(st, &res), KORCH_ERR_STATE);
	assert_non_null(strstr(kstate_errmsg(st), "ghost"));
	assert_non_null(strstr(kstate_errmsg(st), "FOREIGN KEY"));
	kstate_close(st);
}

/* A state left readable (0644, with its -wal and -shm, by an old korch
 * or a copy) is owner-only again after the next open. */
static void
test_open_forces_0600(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;
	char		 wal[200], shm[200];

	st = open_ok(fx->path);
	begin_run(st, "apply");
	kstate_close(st);
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	snprintf(shm, sizeof(shm), "%s-shm", fx->path);
	close(open(wal, O_CREAT | O_WRONLY, 0644));
	close(open(shm, O_CREAT | O_WRONLY, 0644));
	assert_int_equal(chmod(fx->path, 0644), 0);
	assert_int_equal(chmod(wal, 0644), 0);
	assert_int_equal(chmod(shm, 0644), 0);
	st = open_ok(fx->path);
	assert_int_equal(mode_of(fx->path), 0600);
	assert_int_equal(mode_of(wal), 0600);
	assert_int_equal(mode_of(shm), 0600);
	kstate_close(st);
	/* Reading it (korch status) makes its owner's file private too. */
	assert_int_equal(chmod(fx->path, 0644), 0);
	assert_int_equal(kstate_open_readonly(fx->path, &st), 0);
	assert_int_equal(mode_of(fx->path), 0600);
	kstate_close(st);
}

/* ---- recording and queries ---- */

static void
test_record_query_roundtrip(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_run	*run = NULL;
	struct kstate_host	*hosts = NULL;
	struct kstate_observed	*obs = NULL;
	struct kstate_run_host	*rh = NULL;
	struct kstate_task_result *res = NULL;
	struct kstate_result	 r;
	const struct kstate_observed *o;
	size_t			 n = 0;
	int64_t			 id;

	st = open_ok(fx->path);
	assert_int_equal(kstate_run_last(st, NULL, &run), KORCH_ERR_NOT_FOUND);
	id = begin_run(st, "apply");

	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	assert_int_equal(kstate_record_host(st, id, "m1", "10.0.0.1",
	    "{\"os\":\"debian\",\"cpus\":2}", "SHA256:abc", true, NULL),
	    KORCH_OK);
	assert_int_equal(kstate_record_host(st, id, "n1", "10.0.0.2", NULL,
	    NULL, false, "connect: timed out"), KORCH_OK);
	r = result(id, "m1", "file:/etc/a", "d1", KSTATE_CHANGED, 1000);
	record_ok(st, &r);
	r = result(id, "m1", "svc:etcd", "d2", KSTATE_FAILED, 2000);
	record_ok(st, &r);
	r = result(id, "m1", "pkg:etcd", "d3", KSTATE_OK, 3000);
	record_ok(st, &r);
	r = result(id, "m1", "sysctl:x", "d4", KSTATE_SKIPPED, 4000);
	record_ok(st, &r);
	r = result(id, "n1", "file:/etc/a", "d1", KSTATE_UNREACHABLE, 5000);
	record_ok(st, &r);
	assert_int_equal(kstate_record_run_host(st, id, "m1",
	    KSTATE_HOST_FAILED, 1, 1, 1, 1, "svc:etcd failed"), KORCH_OK);
	assert_int_equal(kstate_record_run_host(st, id, "n1",
	    KSTATE_HOST_UNREACHABLE, 0, 0, 0, 0, "connect: timed out"),
	    KORCH_OK);
	assert_int_equal(kstate_batch_commit(st), KORCH_OK);

	/* Facts must be JSON. */
	assert_int_equal(kstate_record_host(st, id, "m1", NULL, "{nope",
	    NULL, true, NULL), KORCH_ERR_INVALID_ARG);
	assert_non_null(strstr(kstate_errmsg(st), "JSON"));

	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_FAILED, 2),
	    KORCH_OK);

	/* The run. */
	assert_int_equal(kstate_run_last(st, NULL, &run), KORCH_OK);
	assert_int_equal(run->id, id);
	assert_string_equal(run->kind, "apply");
	assert_string_equal(run->args, "inventory.yaml");
	assert_int_equal(run->result, KSTATE_RUN_FAILED);
	assert_int_equal(run->exit_code, 2);
	assert_int_equal(run->pid, getpid());
	assert_true(run->ended_at >= run->started_at && run->started_at > 0);
	assert_non_null(run->hostname);
	assert_non_null(run->user);
	kstate_run_free(run);
	assert_int_equal(kstate_run_last(st, "apply", &run), KORCH_OK);
	kstate_run_free(run);
	assert_int_equal(kstate_run_last(st, "upgrade", &run),
	    KORCH_ERR_NOT_FOUND);
	assert_null(run);
	assert_int_equal(kstate_run_get(st, id, &run), KORCH_OK);
	assert_int_equal(run->id, id);
	kstate_run_free(run);
	assert_int_equal(kstate_run_get(st, id + 100, &run),
	    KORCH_ERR_NOT_FOUND);

	/* Hosts. */
	assert_int_equal(kstate_hosts_list(st, &hosts, &n), KORCH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(hosts[0].name, "m1");
	assert_string_equal(hosts[0].address, "10.0.0.1");
	assert_string_equal(hosts[0].facts_json,
	    "{\"os\":\"debian\",\"cpus\":2}");
	assert_string_equal(hosts[0].hostkey_fp, "SHA256:abc");
	assert_true(hosts[0].reachable);
	assert_true(hosts[0].last_contact > 0);
	assert_int_equal(hosts[0].last_run_id, id);
	assert_null(hosts[0].last_error);
	assert_string_equal(hosts[1].name, "n1");
	assert_false(hosts[1].reachable);
	assert_int_equal(hosts[1].last_contact, 0);
	assert_null(hosts[1].facts_json);
	assert_string_equal(hosts[1].last_error, "connect: timed out");
	kstate_hosts_free(hosts, n);

	/* NULL facts/hostkey keep what is stored; contact only when up. */
	assert_int_equal(kstate_record_host(st, 0, "m1", NULL, NULL, NULL,
	    false, "gone"), KORCH_OK);
	assert_int_equal(kstate_hosts_list(st, &hosts, &n), KORCH_OK);
	assert_string_equal(hosts[0].address, "10.0.0.1");
	assert_string_equal(hosts[0].hostkey_fp, "SHA256:abc");
	assert_non_null(hosts[0].facts_json);
	assert_true(hosts[0].last_contact > 0);
	assert_int_equal(hosts[0].last_run_id, id);
	assert_false(hosts[0].reachable);
	assert_string_equal(hosts[0].last_error, "gone");
	kstate_hosts_free(hosts, n);

	/* Observed: changed and ok are "ok", failed is "failed"; skipped and
	 * unreachable leave nothing. */
	assert_int_equal(kstate_observed_list(st, "m1", &obs, &n), KORCH_OK);
	assert_int_equal(n, 3);
	assert_non_null(o = find_obs(obs, n, "file:/etc/a"));
	assert_int_equal(o->status, KSTATE_OK);
	assert_string_equal(o->digest, "d1");
	assert_int_equal(o->changed_at, 1005);
	assert_int_equal(o->ok_at, 1005);
	assert_int_equal(o->run_id, id);
	assert_non_null(o = find_obs(obs, n, "svc:etcd"));
	assert_int_equal(o->status, KSTATE_FAILED);
	assert_int_equal(o->changed_at, 0);
	assert_int_equal(o->ok_at, 0);
	assert_non_null(o = find_obs(obs, n, "pkg:etcd"));
	assert_int_equal(o->status, KSTATE_OK);
	assert_int_equal(o->changed_at, 0);
	assert_int_equal(o->ok_at, 3005);
	assert_null(find_obs(obs, n, "sysctl:x"));
	kstate_observed_free(obs, n);
	assert_int_equal(kstate_observed_list(st, "n1", &obs, &n), KORCH_OK);
	assert_int_equal(n, 0);
	assert_null(obs);
	assert_int_equal(kstate_observed_list(st, NULL, &obs, &n), KORCH_OK);
	assert_int_equal(n, 3);
	kstate_observed_free(obs, n);

	/* Per-host outcomes. */
	assert_int_equal(kstate_run_hosts_list(st, id, &rh, &n), KORCH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rh[0].host, "m1");
	assert_int_equal(rh[0].outcome, KSTATE_HOST_FAILED);
	assert_int_equal(rh[0].ok + rh[0].changed + rh[0].failed +
	    rh[0].skipped, 4);
	assert_string_equal(rh[0].error, "svc:etcd failed");
	assert_int_equal(rh[1].outcome, KSTATE_HOST_UNREACHABLE);
	kstate_run_hosts_free(rh, n);

	/* Results: only what changed, failed or was unreachable. */
	assert_int_equal(kstate_results_list(st, id, NULL, 0, &res, &n),
	    KORCH_OK);
	assert_int_equal(n, 3);
	assert_string_equal(res[0].host, "m1");
	assert_string_equal(res[0].task_key, "file:/etc/a");
	assert_int_equal(res[0].status, KSTATE_CHANGED);
	assert_true(res[0].changed);
	assert_string_equal(res[0].diff, "-a\n+b\n");
	assert_string_equal(res[0].step, "etcd");
	assert_string_equal(res[0].module, "file");
	assert_string_equal(res[0].desired_digest, "d1");
	assert_int_equal(res[0].started_at, 1000);
	assert_int_equal(res[0].duration_ms, 5);
	assert_string_equal(res[1].task_key, "svc:etcd");
	assert_string_equal(res[1].message, "boom");
	assert_string_equal(res[2].host, "n1");
	assert_int_equal(res[2].status, KSTATE_UNREACHABLE);
	kstate_results_free(res, n);
	assert_int_equal(kstate_results_list(st, id, NULL,
	    KSTATE_RESULTS_FAILED_ONLY, &res, &n), KORCH_OK);
	assert_int_equal(n, 2);
	kstate_results_free(res, n);
	assert_int_equal(kstate_results_list(st, id, "m1",
	    KSTATE_RESULTS_FAILED_ONLY, &res, &n), KORCH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(res[0].task_key, "svc:etcd");
	kstate_results_free(res, n);

	assert_int_equal(kstate_integrity_ok(st), KORCH_OK);
	kstate_close(st);
}

static void
test_record_argument_checks(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_result	 r;
	int64_t			 id;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "a", NULL, NULL,
	    true, NULL), KORCH_OK);
	assert_int_equal(kstate_record_result(st, NULL),
	    KORCH_ERR_INVALID_ARG);
	r = result(id, "m1", NULL, "d", KSTATE_OK, 1);
	assert_int_equal(kstate_record_result(st, &r), KORCH_ERR_INVALID_ARG);
	r = result(id, "m1", "k", "d", (enum kstate_status)42, 1);
	assert_int_equal(kstate_record_result(st, &r), KORCH_ERR_INVALID_ARG);
	r = result(0, "m1", "k", "d", KSTATE_OK, 1);
	assert_int_equal(kstate_record_result(st, &r), KORCH_ERR_INVALID_ARG);
	r = result(id, "m1", "k", "d", KSTATE_OK, 1);
	r.duration_ms = -1;
	assert_int_equal(kstate_record_result(st, &r), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_record_host(st, id, NULL, "a", NULL, NULL,
	    true, NULL), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_record_run_host(st, id, "m1",
	    (enum kstate_outcome)9, 0, 0, 0, 0, NULL), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_record_run_host(st, id, "m1",
	    KSTATE_HOST_CONVERGED, -1, 0, 0, 0, NULL), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_record_run_host(st, id, "m1",
	    KSTATE_HOST_CONVERGED, 1, 0, 0, 0, NULL), KORCH_OK);
	assert_int_equal(kstate_record_run_host(st, id, "m1",
	    KSTATE_HOST_FAILED, 1, 0, 1, 0, "x"), KORCH_OK);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM run_hosts"), 1);
	/* Several passes of one run add up; a failure is not forgotten. */
	assert_int_equal(kstate_record_run_host(st, id, "m1",
	    KSTATE_HOST_CONVERGED, 3, 2, 0, 1, NULL), KORCH_OK);
	assert_int_equal(raw_int(fx->path, "SELECT ok * 1000 + changed * 100 "
	    "+ failed * 10 + skipped FROM run_hosts"), 5211);
	assert_int_equal(raw_int(fx->path, "SELECT outcome = 'failed' AND "
	    "error = 'x' FROM run_hosts"), 1);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_CONVERGED, 0),
	    KORCH_OK);
	kstate_close(st);
}

static void
test_observed_upsert_semantics(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_observed	*obs = NULL;
	struct kstate_task_result *res = NULL;
	struct kstate_result	 r;
	sqlite3			*db = NULL;
	long long		 dv;
	int64_t			 id, c0;
	size_t			 n = 0;
	int			 i;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "a", NULL, NULL,
	    true, NULL), KORCH_OK);

	/* First sight, ok: observed written, never changed. */
	r = result(id, "m1", "k", "d1", KSTATE_OK, 1000);
	record_changes(st, &r, 1);

	/* Identical ok again: no write at all, not even the timestamps. */
	r.started_at = 2000;
	record_changes(st, &r, 0);
	assert_int_equal(kstate_observed_list(st, "m1", &obs, &n), KORCH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(obs[0].changed_at, 0);
	assert_int_equal(obs[0].ok_at, 1005);
	kstate_observed_free(obs, n);

	/* A batch of a converged host's results commits nothing: another
	 * connection sees no new data version. */
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	dv = db_int(db, "PRAGMA data_version");
	c0 = kstate_total_changes(st);
	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	for (i = 0; i < 100; i++) {
		r.started_at = 3000 + i;
		record_ok(st, &r);
	}
	assert_int_equal(kstate_batch_commit(st), KORCH_OK);
	assert_int_equal(kstate_total_changes(st) - c0, 0);
	assert_int_equal(db_int(db, "PRAGMA data_version"), dv);

	/* Changed with a new digest: changed_at and ok_at move. */
	r = result(id, "m1", "k", "d2", KSTATE_CHANGED, 4000);
	record_ok(st, &r);
	assert_true(db_int(db, "PRAGMA data_version") != dv);
	expect_m1_obs(st, "d2", KSTATE_OK, 4005, 4005);

	/* The next run finds it ok: nothing to write (changed is stored as
	 * ok), changed_at stays. */
	r = result(id, "m1", "k", "d2", KSTATE_OK, 5000);
	record_changes(st, &r, 0);

	/* Same digest, but something changed it back: changed_at moves. */
	r = result(id, "m1", "k", "d2", KSTATE_CHANGED, 6000);
	record_ok(st, &r);
	expect_m1_obs(st, NULL, -1, 6005, -1);

	/* Fails at a new digest: status failed, changed_at and ok_at stay. */
	r = result(id, "m1", "k", "d3", KSTATE_FAILED, 7000);
	record_ok(st, &r);
	expect_m1_obs(st, "d3", KSTATE_FAILED, 6005, 6005);

	/* Fails the same way again: the failure is logged in task_results,
	 * observed is not rewritten. */
	r.message = "boom again";
	record_changes(st, &r, 1);

	/* A failure that changed something moves changed_at only. */
	r = result(id, "m1", "k", "d3", KSTATE_FAILED, 8000);
	r.changed = true;
	record_ok(st, &r);
	expect_m1_obs(st, NULL, KSTATE_FAILED, 8005, 6005);

	/* Then ok at that digest without change: ok_at moves, changed_at
	 * stays. */
	r = result(id, "m1", "k", "d3", KSTATE_OK, 9000);
	record_ok(st, &r);
	expect_m1_obs(st, NULL, KSTATE_OK, 8005, 9005);

	/* Unreachable and skipped leave observed alone (the second writes
	 * only the log). */
	r = result(id, "m1", "k", "d9", KSTATE_SKIPPED, 10000);
	record_changes(st, &r, 0);
	r = result(id, "m1", "k", "d9", KSTATE_UNREACHABLE, 11000);
	record_changes(st, &r, 1);
	expect_m1_obs(st, "d3", KSTATE_OK, -1, -1);

	/* One task_results row for (run, host, key): the latest. */
	assert_int_equal(kstate_results_list(st, id, "m1", 0, &res, &n),
	    KORCH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(res[0].status, KSTATE_UNREACHABLE);
	kstate_results_free(res, n);

	sqlite3_close(db);
	kstate_close(st);
}

static void
test_duplicate_result_upsert(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_task_result *res = NULL;
	struct kstate_result	 r;
	int64_t			 id;
	size_t			 n = 0;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "a", NULL, NULL,
	    true, NULL), KORCH_OK);
	r = result(id, "m1", "k", "d1", KSTATE_FAILED, 1000);
	record_ok(st, &r);
	record_changes(st, &r, 0);		/* the very same again */
	assert_int_equal(kstate_results_list(st, id, NULL, 0, &res, &n),
	    KORCH_OK);
	assert_int_equal(n, 1);
	kstate_results_free(res, n);

	r.message = "second try";		/* same key, new content */
	record_ok(st, &r);
	assert_int_equal(kstate_results_list(st, id, NULL, 0, &res, &n),
	    KORCH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(res[0].message, "second try");
	kstate_results_free(res, n);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM task_results"), 1);

	/* A different run gets its own row. */
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_FAILED, 2),
	    KORCH_OK);
	id = begin_run(st, "apply");
	r.run_id = id;
	record_ok(st, &r);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM task_results"), 2);
	kstate_close(st);
}

static void
test_batches(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_result	 r;
	int64_t			 id;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_batch_commit(st), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_batch_rollback(st), KORCH_ERR_INVALID_ARG);

	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	assert_int_equal(kstate_batch_begin(st), KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_record_host(st, id, "m1", "a", NULL, NULL,
	    true, NULL), KORCH_OK);
	assert_int_equal(kstate_batch_commit(st), KORCH_OK);

	/* Rolled back: gone. */
	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	r = result(id, "m1", "k1", "d", KSTATE_CHANGED, 1);
	record_ok(st, &r);
	r = result(id, "nohost", "k1", "d", KSTATE_CHANGED, 1);
	assert_int_equal(kstate_record_result(st, &r), KORCH_ERR_STATE);
	assert_int_equal(kstate_batch_rollback(st), KORCH_OK);
	/* The reason survives the rollback. */
	assert_non_null(strstr(kstate_errmsg(st), "nohost"));
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM task_results"), 0);

	/* A failed statement inside a batch does not lose the others. */
	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	r = result(id, "m1", "k2", "d", KSTATE_CHANGED, 1);
	record_ok(st, &r);
	r = result(id, "nohost", "k3", "d", KSTATE_CHANGED, 1);
	assert_int_equal(kstate_record_result(st, &r), KORCH_ERR_STATE);
	assert_int_equal(kstate_batch_commit(st), KORCH_OK);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM task_results"), 1);

	/* run_end commits an open batch. */
	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	r = result(id, "m1", "k4", "d", KSTATE_CHANGED, 1);
	record_ok(st, &r);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_CONVERGED, 0),
	    KORCH_OK);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM task_results"), 2);

	/* Close commits an open batch, too. */
	id = begin_run(st, "apply");
	assert_int_equal(kstate_batch_begin(st), KORCH_OK);
	r = result(id, "m1", "k5", "d", KSTATE_CHANGED, 1);
	record_ok(st, &r);
	kstate_close(st);
	assert_int_equal(raw_int(fx->path,
	    "SELECT count(*) FROM task_results"), 3);
}

/* ---- runs and the lock ---- */

static void
test_run_begin_end_rules(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_run	*run = NULL;
	char			 lpath[200], msg[256];
	int64_t			 id, id2;

	st = open_ok(fx->path);
	assert_int_equal(kstate_run_begin(st, "Apply!", NULL, &id, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_run_begin(st, "", NULL, &id, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_run_begin(st, "plan", NULL, &id, msg,
	    sizeof(msg)), KORCH_OK);
	assert_string_equal(msg, "");
	snprintf(lpath, sizeof(lpath), "%s.lock", fx->path);
	assert_int_equal(mode_of(lpath), 0600);
	assert_int_equal(raw_int(fx->path, "SELECT run_id FROM lock"), id);
	assert_int_equal(raw_int(fx->path,
	    "SELECT command = 'plan' FROM lock"), 1);

	/* One run per handle. */
	assert_int_equal(kstate_run_begin(st, "apply", NULL, &id2, NULL, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_run_end(st, id + 1, KSTATE_RUN_CONVERGED, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_RUNNING, 0),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_ABORTED, 130),
	    KORCH_OK);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_ABORTED, 130),
	    KORCH_ERR_INVALID_ARG);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM lock"), 0);

	/* Another handle in the same process conflicts, too. */
	id2 = begin_run(st, "upgrade");
	assert_true(id2 > id);
	{
		struct kstate *other = open_ok(fx->path);
		int64_t x = 0;

		assert_int_equal(kstate_run_begin(other, "apply", NULL, &x,
		    msg, sizeof(msg)), KORCH_ERR_LOCKED);
		assert_non_null(strstr(msg, "upgrade"));
		assert_string_equal(kstate_errmsg(other), msg);
		assert_int_equal(x, 0);
		kstate_close(other);
	}
	assert_int_equal(kstate_run_end(st, id2, KSTATE_RUN_CONVERGED, 0),
	    KORCH_OK);
	assert_int_equal(kstate_run_get(st, id, &run), KORCH_OK);
	assert_int_equal(run->result, KSTATE_RUN_ABORTED);
	assert_int_equal(run->exit_code, 130);
	assert_string_equal(run->args, "");
	kstate_run_free(run);

	/* Closing with a run held ends it as interrupted and unlocks. */
	id = begin_run(st, "apply");
	kstate_close(st);
	st = open_ok(fx->path);
	assert_int_equal(kstate_run_get(st, id, &run), KORCH_OK);
	assert_int_equal(run->result, KSTATE_RUN_INTERRUPTED);
	assert_int_equal(run->exit_code, -1);
	assert_true(run->ended_at > 0);
	kstate_run_free(run);
	id2 = begin_run(st, "apply");
	kstate_close(st);
}

/* Child: take the lock, say 'R' (or 'E') on ready, then wait for a byte on
 * go (or for SIGKILL), end the run and exit.  Returns once the child holds
 * the lock. */
static pid_t
spawn_holder(const char *path, int *ready_fd, int *go_fd)
{
	int	ready[2], go[2];
	pid_t	pid;
	char	got = 0;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kstate	*cst = NULL;
		int64_t		 id = 0;
		char		 c = 'E';
		int		 code = 1;

		close(ready[0]);
		close(go[1]);
		if (kstate_open(path, &cst) == KORCH_OK &&
		    kstate_run_begin(cst, "apply",
		    "--forks 50 inventory.yaml", &id, NULL, 0) == KORCH_OK)
			c = 'R';
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		if (c == 'R' && read(go[0], &c, 1) == 1 &&
		    kstate_run_end(cst, id, KSTATE_RUN_CONVERGED, 0) ==
		    KORCH_OK)
			code = 0;
		kstate_close(cst);
		_exit(code);
	}
	close(ready[1]);
	close(go[0]);
	*ready_fd = ready[0];
	*go_fd = go[1];
	assert_int_equal(read(*ready_fd, &got, 1), 1);
	assert_int_equal(got, 'R');
	return pid;
}

static void
test_lock_refused_while_held(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_run	*run = NULL;
	char			 msg[1024], want[64], host[256];
	int			 rfd, gfd, status;
	int64_t			 id = 0;
	pid_t			 pid;

	pid = spawn_holder(fx->path, &rfd, &gfd);

	st = open_ok(fx->path);
	assert_int_equal(kstate_run_begin(st, "apply", "x.yaml", &id, msg,
	    sizeof(msg)), KORCH_ERR_LOCKED);
	assert_int_equal(id, 0);
	/* The message names the holder: run, kind, pid, host, start,
	 * command. */
	assert_non_null(strstr(msg, "run 1 "));
	assert_non_null(strstr(msg, "(apply,"));
	snprintf(want, sizeof(want), "pid %ld ", (long)pid);
	assert_non_null(strstr(msg, want));
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	assert_non_null(strstr(msg, host));
	assert_non_null(strstr(msg, "started 20"));
	assert_non_null(strstr(msg, "apply --forks 50 inventory.yaml"));
	assert_non_null(strstr(msg, fx->path));
	assert_string_equal(kstate_errmsg(st), msg);

	/* Holder ends normally: the lock is free, no takeover. */
	assert_int_equal(write(gfd, "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(rfd);
	close(gfd);

	assert_int_equal(kstate_run_begin(st, "apply", "x.yaml", &id, msg,
	    sizeof(msg)), KORCH_OK);
	assert_int_equal(id, 2);
	assert_string_equal(msg, "");
	assert_int_equal(kstate_run_get(st, 1, &run), KORCH_OK);
	assert_int_equal(run->result, KSTATE_RUN_CONVERGED);
	assert_int_equal(run->pid, pid);
	kstate_run_free(run);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_CONVERGED, 0),
	    KORCH_OK);
	kstate_close(st);
}

static void
test_stale_lock_taken_over(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_run	*run = NULL;
	char			 msg[1024];
	int			 rfd, gfd;
	int64_t			 id = 0;
	pid_t			 pid;

	pid = spawn_holder(fx->path, &rfd, &gfd);
	th_kill_reap(pid);
	close(rfd);
	close(gfd);

	/* The row is still there, but the kernel dropped the flock. */
	assert_int_equal(raw_int(fx->path, "SELECT run_id FROM lock"), 1);
	st = open_ok(fx->path);
	assert_int_equal(kstate_run_begin(st, "apply", "x.yaml", &id, msg,
	    sizeof(msg)), KORCH_OK);
	assert_int_equal(id, 2);
	assert_non_null(strstr(msg, "took over"));
	assert_non_null(strstr(msg, "run 1 "));
	assert_int_equal(kstate_run_get(st, 1, &run), KORCH_OK);
	assert_int_equal(run->result, KSTATE_RUN_INTERRUPTED);
	assert_true(run->ended_at > 0);
	kstate_run_free(run);
	assert_int_equal(raw_int(fx->path, "SELECT run_id FROM lock"), 2);
	assert_int_equal(kstate_run_end(st, id, KSTATE_RUN_CONVERGED, 0),
	    KORCH_OK);
	assert_int_equal(kstate_integrity_ok(st), KORCH_OK);
	kstate_close(st);
}

/* Several processes open a new state file and start a run at the same
 * moment: the schema is created once and exactly one run gets the lock. */
#define RACERS	6

static void
test_lock_race(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;
	pid_t		 pids[RACERS];
	int		 ready[2], go[2], i, status, won = 0, lost = 0;
	char		 c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] != 0)
			continue;
		struct kstate	*cst = NULL;
		int64_t		 id = 0;
		int		 r;

		close(ready[0]);
		close(go[1]);
		c = 'O';
		if (kstate_open(fx->path, &cst) == KORCH_OK) {
			r = kstate_run_begin(cst, "apply", NULL, &id, NULL, 0);
			c = r == KORCH_OK ? 'R' : r == KORCH_ERR_LOCKED ? 'L' :
			    'E';
		}
		if (c == 'O' || c == 'E')
			fprintf(stderr, "racer: %s\n", kstate_errmsg(cst));
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		(void)read(go[0], &c, 1);	/* EOF: parent is done */
		kstate_close(cst);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(read(ready[0], &c, 1), 1);
		if (c == 'R')
			won++;
		else if (c == 'L')
			lost++;
		else
			fail_msg("racer reported '%c'", c);
	}
	assert_int_equal(won, 1);
	assert_int_equal(lost, RACERS - 1);
	close(go[1]);
	close(ready[0]);
	for (i = 0; i < RACERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM runs"), 1);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM lock"), 0);
	st = open_ok(fx->path);
	assert_int_equal(kstate_integrity_ok(st), KORCH_OK);
	kstate_close(st);
}

/* ---- pending restarts ---- */

/* Host key pins: the first key stays, trust forgets it, the next pins. */
static void
test_hostkey_pins(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_hostkey	*p = NULL, *old = NULL;
	size_t			 n = 0;
	int			 found = -1;
	int64_t			 id;

	st = open_ok(fx->path);
	assert_int_equal(kstate_hostkey_get(st, "m1", &p), KORCH_ERR_NOT_FOUND);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "10.0.0.1", NULL,
	    NULL, true, NULL), KORCH_OK);
	assert_int_equal(kstate_hostkey_pin(st, "m1", "ssh-ed25519",
	    "SHA256:first"), KORCH_OK);
	/* A second key, and the generic upsert, never replace the pin. */
	assert_int_equal(kstate_hostkey_pin(st, "m1", "ssh-rsa",
	    "SHA256:second"), KORCH_OK);
	assert_int_equal(kstate_record_host(st, id, "m1", NULL, NULL,
	    "SHA256:third", true, NULL), KORCH_OK);
	assert_int_equal(kstate_hostkey_get(st, "m1", &p), KORCH_OK);
	assert_string_equal(p->fingerprint, "SHA256:first");
	assert_string_equal(p->key_type, "ssh-ed25519");
	assert_string_equal(p->address, "10.0.0.1");
	assert_true(p->pinned_at > 0);
	kstate_hostkeys_free(p, 1);
	/* A host never seen is made by its pin. */
	assert_int_equal(kstate_hostkey_pin(st, "n1", NULL, "SHA256:n"),
	    KORCH_OK);
	assert_int_equal(kstate_hostkeys_list(st, &p, &n), KORCH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].host, "m1");
	assert_string_equal(p[1].host, "n1");
	assert_null(p[1].key_type);
	kstate_hostkeys_free(p, n);
	/* The same key again fills in a missing type. */
	assert_int_equal(kstate_hostkey_pin(st, "n1", "ssh-ed25519",
	    "SHA256:n"), KORCH_OK);
	assert_int_equal(kstate_hostkey_get(st, "n1", &p), KORCH_OK);
	assert_string_equal(p->key_type, "ssh-ed25519");
	kstate_hostkeys_free(p, 1);

	assert_int_equal(kstate_hostkey_forget(st, "m1", &found, &old),
	    KORCH_OK);
	assert_int_equal(found, 1);
	assert_string_equal(old->fingerprint, "SHA256:first");
	kstate_hostkeys_free(old, 1);
	assert_int_equal(kstate_hostkey_get(st, "m1", &p), KORCH_ERR_NOT_FOUND);
	assert_int_equal(kstate_hostkey_forget(st, "m1", &found, NULL),
	    KORCH_OK);
	assert_int_equal(found, 0);
	assert_int_equal(kstate_hostkey_forget(st, "nobody", &found, NULL),
	    KORCH_OK);
	assert_int_equal(found, 0);
	assert_int_equal(kstate_hostkey_pin(st, "m1", "ssh-ed25519",
	    "SHA256:new"), KORCH_OK);
	assert_int_equal(kstate_hostkey_get(st, "m1", &p), KORCH_OK);
	assert_string_equal(p->fingerprint, "SHA256:new");
	kstate_hostkeys_free(p, 1);
	assert_int_equal(kstate_hostkey_pin(st, "", "x", "SHA256:x"),
	    KORCH_ERR_INVALID_ARG);
	kstate_close(st);
}

static void
test_pending_restarts(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_pending	*p = NULL;
	size_t			 n = 0;
	bool			 pending = true;
	int64_t			 id, id2;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "a", NULL, NULL,
	    true, NULL), KORCH_OK);
	assert_int_equal(kstate_pending_restart_get(st, "m1", "svc:etcd",
	    &pending), KORCH_OK);
	assert_false(pending);

	assert_int_equal(kstate_pending_restart_set(st, "m1", "svc:etcd",
	    "file:/etc/etcd.conf changed", id), KORCH_OK);
	/* The run dies before the restart. */
	kstate_close(st);

	st = open_ok(fx->path);
	id2 = begin_run(st, "apply");
	assert_int_equal(kstate_pending_restart_get(st, "m1", "svc:etcd",
	    &pending), KORCH_OK);
	assert_true(pending);
	/* Setting again keeps the first reason and run. */
	assert_int_equal(kstate_pending_restart_set(st, "m1", "svc:etcd",
	    "cert changed", id2), KORCH_OK);
	assert_int_equal(kstate_pending_restarts_list(st, "m1", &p, &n),
	    KORCH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].task_key, "svc:etcd");
	assert_string_equal(p[0].reason, "file:/etc/etcd.conf changed");
	assert_int_equal(p[0].since_run, id);
	assert_true(p[0].since_at > 0);
	kstate_pending_restarts_free(p, n);

	assert_int_equal(kstate_pending_restart_clear(st, "m1", "svc:etcd"),
	    KORCH_OK);
	assert_int_equal(kstate_pending_restart_get(st, "m1", "svc:etcd",
	    &pending), KORCH_OK);
	assert_false(pending);
	assert_int_equal(kstate_pending_restart_clear(st, "m1", "svc:etcd"),
	    KORCH_OK);
	assert_int_equal(kstate_pending_restarts_list(st, NULL, &p, &n),
	    KORCH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(kstate_pending_restart_set(st, "nohost", "svc:x",
	    NULL, id2), KORCH_ERR_STATE);
	assert_int_equal(kstate_pending_restart_get(st, "m1", NULL,
	    &pending), KORCH_ERR_INVALID_ARG);
	kstate_close(st);
}

/* ---- integrity, names, default path ---- */

static void
test_integrity(void **state)
{
	struct fx	*fx = *state;
	struct kstate	*st;

	st = open_ok(fx->path);
	assert_int_equal(kstate_integrity_ok(st), KORCH_OK);
	assert_string_equal(kstate_errmsg(st), "");
	kstate_close(st);

	/* Sneak in an orphan behind the module's back. */
	raw_exec(fx->path, "PRAGMA foreign_keys = OFF;"
	    "INSERT INTO observed (host, task_key, digest, status)"
	    " VALUES ('ghost', 'k', 'd', 'ok')");
	st = open_ok(fx->path);
	assert_int_equal(kstate_integrity_ok(st), KORCH_ERR_STATE);
	assert_non_null(strstr(kstate_errmsg(st), "observed"));
	assert_non_null(strstr(kstate_errmsg(st), "hosts"));
	kstate_close(st);
	assert_int_equal(kstate_integrity_ok(NULL), KORCH_ERR_INVALID_ARG);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(kstate_status_name(KSTATE_OK), "ok");
	assert_string_equal(kstate_status_name(KSTATE_UNREACHABLE),
	    "unreachable");
	assert_string_equal(kstate_status_name((enum kstate_status)99), "?");
	assert_string_equal(kstate_run_result_name(KSTATE_RUN_INTERRUPTED),
	    "interrupted");
	assert_string_equal(kstate_outcome_name(KSTATE_HOST_UNREACHABLE),
	    "unreachable");
	assert_string_equal(kstate_outcome_name((enum kstate_outcome)-1),
	    "?");
}

static void
test_default_path(void **state)
{
	char	buf[256], small[8];
	char	*home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	(void)state;
	setenv("KORCH_STATE", "/srv/korch.db", 1);
	setenv("XDG_STATE_HOME", "/xdg", 1);
	setenv("HOME", "/home/op", 1);
	assert_int_equal(kstate_default_path(buf, sizeof(buf)), KORCH_OK);
	assert_string_equal(buf, "/srv/korch.db");

	setenv("KORCH_STATE", "", 1);
	assert_int_equal(kstate_default_path(buf, sizeof(buf)), KORCH_OK);
	assert_string_equal(buf, "/xdg/korch/state.db");

	unsetenv("KORCH_STATE");
	setenv("XDG_STATE_HOME", "relative/dir", 1);	/* ignored */
	assert_int_equal(kstate_default_path(buf, sizeof(buf)), KORCH_OK);
	assert_string_equal(buf, "/home/op/.local/state/korch/state.db");

	unsetenv("XDG_STATE_HOME");
	assert_int_equal(kstate_default_path(buf, sizeof(buf)), KORCH_OK);
	assert_string_equal(buf, "/home/op/.local/state/korch/state.db");
	assert_int_equal(kstate_default_path(small, sizeof(small)),
	    KORCH_ERR_TOO_LARGE);
	assert_string_equal(small, "");
	assert_int_equal(kstate_default_path(NULL, 0), KORCH_ERR_INVALID_ARG);

	/* No $HOME: the password database. */
	unsetenv("HOME");
	assert_int_equal(kstate_default_path(buf, sizeof(buf)), KORCH_OK);
	assert_non_null(strstr(buf, "/.local/state/korch/state.db"));

	if (home != NULL)
		setenv("HOME", home, 1);
	free(home);
}

/* Components: recorded, listed, and an identical observation writes
 * nothing (a no-op run must not touch the database). */
static void
test_components(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_component	*c = NULL;
	size_t			 n = 0;
	int64_t			 id, before;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "a", NULL, NULL,
	    true, NULL), KORCH_OK);
	assert_int_equal(kstate_record_component(st, id, "m1",
	    "kube-apiserver", "1.8.15", "1.8.15", "active"), KORCH_OK);
	assert_int_equal(kstate_record_component(st, id, "m1", "etcd", NULL,
	    "none", "inactive"), KORCH_OK);
	before = kstate_total_changes(st);
	assert_int_equal(kstate_record_component(st, id, "m1",
	    "kube-apiserver", "1.8.15", "1.8.15", "active"), KORCH_OK);
	assert_int_equal(kstate_total_changes(st), before);
	assert_int_equal(kstate_record_component(st, id, "m1",
	    "kube-apiserver", "1.9.11", "1.8.15", "active"), KORCH_OK);
	assert_int_equal(kstate_total_changes(st), before + 1);
	assert_int_equal(kstate_components_list(st, "m1", &c, &n), KORCH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].component, "etcd");
	assert_null(c[0].desired);
	assert_string_equal(c[0].observed, "none");
	assert_string_equal(c[1].component, "kube-apiserver");
	assert_string_equal(c[1].desired, "1.9.11");
	assert_string_equal(c[1].observed, "1.8.15");
	assert_string_equal(c[1].active, "active");
	kstate_components_free(c, n);
	assert_int_equal(kstate_components_list(st, "nope", &c, &n), KORCH_OK);
	assert_int_equal(n, 0);
	assert_null(c);
	kstate_close(st);
}

/* A host forgotten (korch remove, korch reset) takes every row about it
 * along; the other hosts keep theirs; forgetting it again is no error. */
static void
test_host_forget(void **state)
{
	struct fx		*fx = *state;
	struct kstate		*st;
	struct kstate_host	*h = NULL;
	struct kstate_result	 r;
	size_t			 n = 0;
	int64_t			 id;

	st = open_ok(fx->path);
	id = begin_run(st, "apply");
	assert_int_equal(kstate_record_host(st, id, "m1", "10.0.0.1", NULL,
	    NULL, true, NULL), KORCH_OK);
	assert_int_equal(kstate_record_host(st, id, "n1", "10.0.0.2", NULL,
	    NULL, true, NULL), KORCH_OK);
	r = result(id, "m1", "file:/etc/a", "d1", KSTATE_CHANGED, 1000);
	record_ok(st, &r);
	r = result(id, "n1", "file:/etc/a", "d1", KSTATE_CHANGED, 1000);
	record_ok(st, &r);
	assert_int_equal(kstate_record_run_host(st, id, "n1",
	    KSTATE_HOST_CONVERGED, 1, 1, 0, 0, NULL), KORCH_OK);
	assert_int_equal(kstate_pending_restart_set(st, "n1", "svc:kubelet",
	    "unit changed", id), KORCH_OK);
	assert_int_equal(kstate_host_forget(st, "n1"), KORCH_OK);
	assert_int_equal(kstate_hosts_list(st, &h, &n), KORCH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].name, "m1");
	kstate_hosts_free(h, n);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM observed "
	    "WHERE host = 'n1'") + raw_int(fx->path, "SELECT count(*) FROM "
	    "task_results WHERE host = 'n1'") + raw_int(fx->path, "SELECT "
	    "count(*) FROM run_hosts WHERE host = 'n1'") + raw_int(fx->path,
	    "SELECT count(*) FROM pending_restarts WHERE host = 'n1'"), 0);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM observed "
	    "WHERE host = 'm1'"), 1);
	assert_int_equal(kstate_host_forget(st, "n1"), KORCH_OK);
	assert_int_equal(kstate_host_forget(st, ""), KORCH_ERR_INVALID_ARG);
	kstate_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
		T(test_migrate_fresh_and_reopen),
		T(test_newer_version_refused),
		T(test_open_errors),
		T(test_wal_and_pragmas),
		T(test_open_forces_0600),
		T(test_record_query_roundtrip),
		T(test_record_argument_checks),
		T(test_observed_upsert_semantics),
		T(test_duplicate_result_upsert),
		T(test_batches),
		T(test_run_begin_end_rules),
		T(test_lock_refused_while_held),
		T(test_stale_lock_taken_over),
		T(test_lock_race),
		T(test_hostkey_pins),
		T(test_pending_restarts),
		T(test_components),
		T(test_integrity),
		T(test_host_forget),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_default_path),
#undef T
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
