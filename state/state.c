/*
 * state.c - the handle: opening (configuration, then migrations) and
 * closing the state database, its error message, the integrity check and
 * the default path; the statement cache and the small helpers the other
 * files of state/ share.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "state-int.h"

/* Short: the busy handler sleeps on the event loop's thread.  The run lock
 * keeps korch's writers apart and WAL readers never block a writer, so
 * only an opener's migration or an outside sqlite3 shell makes us wait. */
#define KSTATE_BUSY_MS		250
/* Opening a new file races other openers for the switch to WAL, where
 * SQLite answers BUSY at once instead of waiting (two shared locks both
 * wanting exclusive).  Open is not on the event loop, so retry a while. */
#define KSTATE_OPEN_TRIES	100
#define KSTATE_OPEN_RETRY_MS	20
/* UPSERT ... DO UPDATE ... WHERE needs 3.24. */
#define KSTATE_MIN_SQLITE	3024000

static const char *const stmt_sql[KS__COUNT] = {
	[KS_BEGIN] = "BEGIN IMMEDIATE",
	[KS_COMMIT] = "COMMIT",
	[KS_ROLLBACK] = "ROLLBACK",

	/* The same result again updates in place, and not at all when
	 * nothing differs. */
	[KS_RESULT_UPSERT] =
	    "INSERT INTO task_results (run_id, host, step, task_key, module,"
	    "  desired_digest, status, changed, message, diff, started_at,"
	    "  duration_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	    " ON CONFLICT (run_id, host, task_key) DO UPDATE SET"
	    "  step = excluded.step, module = excluded.module,"
	    "  desired_digest = excluded.desired_digest,"
	    "  status = excluded.status, changed = excluded.changed,"
	    "  message = excluded.message, diff = excluded.diff,"
	    "  started_at = excluded.started_at,"
	    "  duration_ms = excluded.duration_ms"
	    " WHERE step IS NOT excluded.step OR module IS NOT excluded.module"
	    "  OR desired_digest IS NOT excluded.desired_digest"
	    "  OR status IS NOT excluded.status"
	    "  OR changed IS NOT excluded.changed"
	    "  OR message IS NOT excluded.message OR diff IS NOT excluded.diff"
	    "  OR started_at IS NOT excluded.started_at"
	    "  OR duration_ms IS NOT excluded.duration_ms",

	/* ?1 host ?2 task_key ?3 digest ?4 status ?5 changed ?6 time ?7 run.
	 * Writes only when the result changed something or digest/status
	 * differ: a converged host costs no writes here. */
	[KS_OBSERVED_UPSERT] =
	    "INSERT INTO observed (host, task_key, digest, status, changed_at,"
	    "  ok_at, run_id)"
	    " VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 THEN ?6 END,"
	    "  CASE WHEN ?4 = 'ok' THEN ?6 END, ?7)"
	    " ON CONFLICT (host, task_key) DO UPDATE SET"
	    "  digest = excluded.digest, status = excluded.status,"
	    "  changed_at = CASE WHEN ?5 THEN ?6 ELSE changed_at END,"
	    "  ok_at = CASE WHEN excluded.status = 'ok' THEN ?6 ELSE ok_at END,"
	    "  run_id = excluded.run_id"
	    " WHERE ?5 OR digest IS NOT excluded.digest"
	    "  OR status IS NOT excluded.status",

	/* ?1 name ?2 address ?3 facts ?4 hostkey ?5 run ?6 reachable ?7 now
	 * ?8 error.  NULL address/facts/hostkey/run keep what is stored. */
	[KS_HOST_UPSERT] =
	    "INSERT INTO hosts (name, address, facts, hostkey_fp, last_contact,"
	    "  last_run_id, reachable, last_error)"
	    " VALUES (?1, ?2, ?3, ?4, CASE WHEN ?6 THEN ?7 END, ?5, ?6, ?8)"
	    " ON CONFLICT (name) DO UPDATE SET"
	    "  address = coalesce(excluded.address, address),"
	    "  facts = coalesce(excluded.facts, facts),"
	    "  hostkey_fp = coalesce(excluded.hostkey_fp, hostkey_fp),"
	    "  last_contact = coalesce(excluded.last_contact, last_contact),"
	    "  last_run_id = coalesce(excluded.last_run_id, last_run_id),"
	    "  reachable = excluded.reachable,"
	    "  last_error = excluded.last_error",

	[KS_RUN_HOST_UPSERT] =
	    "INSERT INTO run_hosts (run_id, host, outcome, ok, changed, failed,"
	    "  skipped, error)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (run_id, host) DO UPDATE SET"
	    "  outcome = CASE outcome WHEN 'converged' THEN excluded.outcome"
	    "    ELSE outcome END,"
	    "  ok = ok + excluded.ok, changed = changed + excluded.changed,"
	    "  failed = failed + excluded.failed,"
	    "  skipped = skipped + excluded.skipped,"
	    "  error = coalesce(excluded.error, error)",

	/* The first reason and run stand until the restart is done. */
	[KS_PENDING_SET] =
	    "INSERT INTO pending_restarts (host, task_key, reason, since_run,"
	    "  since_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (host, task_key) DO NOTHING",
	[KS_COMPONENT_UPSERT] =
	    "INSERT INTO components (host, component, desired, observed,"
	    "  active, observed_at, run_id)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (host, component) DO UPDATE SET"
	    "  desired = excluded.desired, observed = excluded.observed,"
	    "  active = excluded.active, observed_at = excluded.observed_at,"
	    "  run_id = excluded.run_id"
	    " WHERE desired IS NOT excluded.desired"
	    "  OR observed IS NOT excluded.observed"
	    "  OR active IS NOT excluded.active",
	[KS_PENDING_CLEAR] =
	    "DELETE FROM pending_restarts WHERE host = ?1 AND task_key = ?2",
	[KS_PENDING_GET] =
	    "SELECT 1 FROM pending_restarts WHERE host = ?1 AND task_key = ?2",

	/* Not a CHECK in the schema: json_valid() is not "innocuous" in
	 * every SQLite, and we run with trusted_schema off. */
	[KS_JSON_VALID] = "SELECT json_valid(?1)",
};

/* ---- shared helpers ---- */

void
kstate_seterr(struct kstate *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
}

int
kstate_sqlerr(struct kstate *st, int rc, const char *what)
{
	kstate_seterr(st, "%s: %s", what, sqlite3_errmsg(st->db));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KORCH_ERR_LOCKED;
	case SQLITE_NOMEM:
		return KORCH_ERR_ALLOC;
	default:
		return KORCH_ERR_STATE;
	}
}

int
kstate_enter(struct kstate *st)
{
	if (st == NULL)
		return KORCH_ERR_INVALID_ARG;
	if (st->broken || st->db == NULL) {
		/* Keep the message that says why the open failed. */
		return KORCH_ERR_INVALID_ARG;
	}
	st->errmsg[0] = '\0';
	/* A run is held exactly when the lock file is. */
	if ((st->run_id != 0) != (st->lock_fd != -1)) {
		kstate_seterr(st, "state handle corrupted");
		return KORCH_ERR_INTERNAL;
	}
	return KORCH_OK;
}

int
kstate_stmt(struct kstate *st, enum kstate_stmt id, sqlite3_stmt **out)
{
	int rc;

	if ((unsigned)id >= KS__COUNT)
		return KORCH_ERR_INTERNAL;
	if (st->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			st->stmt[id] = NULL;
			return kstate_sqlerr(st, rc, "preparing statement");
		}
	} else {
		sqlite3_reset(st->stmt[id]);
		sqlite3_clear_bindings(st->stmt[id]);
	}
	*out = st->stmt[id];
	return KORCH_OK;
}

int
kstate_step_rc(struct kstate *st, sqlite3_stmt *s, const char *what, int *rc)
{
	int r = KORCH_OK;

	*rc = sqlite3_step(s);
	if (*rc != SQLITE_DONE && *rc != SQLITE_ROW)
		r = kstate_sqlerr(st, *rc, what);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

int
kstate_step_done(struct kstate *st, sqlite3_stmt *s, const char *what)
{
	int rc;

	return kstate_step_rc(st, s, what, &rc);
}

int
kstate_prepare(struct kstate *st, const char *sql, sqlite3_stmt **s)
{
	int rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL)) != SQLITE_OK)
		return kstate_sqlerr(st, rc, "preparing query");
	return KORCH_OK;
}

static int
vbind(sqlite3_stmt *s, const char *types, va_list ap)
{
	int i, rc = SQLITE_OK;

	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 't':
			rc = kstate_bind_text(s, i + 1,
			    va_arg(ap, const char *));
			break;
		case 'i':
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
			break;
		case 'd':
			rc = sqlite3_bind_int(s, i + 1, va_arg(ap, int));
			break;
		case 'r':
			rc = kstate_bind_run(s, i + 1, va_arg(ap, int64_t));
			break;
		default:
			rc = SQLITE_MISUSE;
		}
	}
	return rc;
}

int
kstate_bind(sqlite3_stmt *s, const char *types, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, types);
	rc = vbind(s, types, ap);
	va_end(ap);
	return rc;
}

int
kstate_vquery(struct kstate *st, sqlite3_stmt **s, const char *sql,
    const char *types, va_list ap)
{
	int r;

	if ((r = kstate_prepare(st, sql, s)) != KORCH_OK)
		return r;
	if (vbind(*s, types, ap) != SQLITE_OK)
		return kstate_bind_err(st);
	return KORCH_OK;
}

int
kstate_query(struct kstate *st, sqlite3_stmt **s, const char *sql,
    const char *types, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, types);
	r = kstate_vquery(st, s, sql, types, ap);
	va_end(ap);
	return r;
}

int
kstate_exec(struct kstate *st, enum kstate_stmt id, const char *what,
    const char *types, ...)
{
	sqlite3_stmt	*s;
	va_list		 ap;
	int		 r, rc;

	if ((r = kstate_stmt(st, id, &s)) != KORCH_OK)
		return r;
	va_start(ap, types);
	rc = vbind(s, types, ap);
	va_end(ap);
	if (rc != SQLITE_OK)
		return kstate_bind_err(st);
	return kstate_step_done(st, s, what);
}

int
kstate_step_row(struct kstate *st, sqlite3_stmt *s, const char *what,
    int *found)
{
	int rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || (rc == SQLITE_DONE && found != NULL)) {
		if (found != NULL)
			*found = rc == SQLITE_ROW;
		return KORCH_OK;
	}
	return kstate_sqlerr(st, rc, what);
}

int
kstate_first(struct kstate *st, const char *sql, const char *what,
    sqlite3_stmt **s, int *found)
{
	int rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL)) != SQLITE_OK)
		return kstate_sqlerr(st, rc, what);
	return kstate_step_row(st, *s, what, found);
}

int
kstate_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
}

int
kstate_bind_run(sqlite3_stmt *s, int idx, int64_t run_id)
{
	if (run_id <= 0)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_int64(s, idx, run_id);
}

int
kstate_bind_err(struct kstate *st)
{
	return kstate_sqlerr(st, sqlite3_errcode(st->db), "binding");
}

int
kstate_need(struct kstate *st, const char *what, const void *v)
{
	if (v != NULL)
		return KORCH_OK;
	kstate_seterr(st, "%s is required", what);
	return KORCH_ERR_INVALID_ARG;
}

int
kstate_nonempty(struct kstate *st, const char *what, const char *v)
{
	return kstate_need(st, what, v != NULL && *v != '\0' ? v : NULL);
}

int64_t
kstate_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
kstate_col_strdup(sqlite3_stmt *s, int col, char **out)
{
	const unsigned char	*t;
	int			 n;

	*out = NULL;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return KORCH_OK;
	t = sqlite3_column_text(s, col);
	n = sqlite3_column_bytes(s, col);
	if (t == NULL || n < 0)
		return KORCH_ERR_ALLOC;
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return KORCH_ERR_ALLOC;
	memcpy(*out, t, (size_t)n);
	(*out)[n] = '\0';
	return KORCH_OK;
}

/* ---- default path ---- */

/* buf = dir + suffix, or KORCH_ERR_TOO_LARGE. */
static int
put_path(char *buf, size_t len, const char *dir, const char *suffix)
{
	int n;

	n = snprintf(buf, len, "%s%s", dir, suffix);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return KORCH_ERR_TOO_LARGE;
	}
	return KORCH_OK;
}

int
kstate_default_path(char *buf, size_t len)
{
	struct passwd	 pw, *pwp = NULL;
	char		 pwbuf[4096];
	const char	*e;

	if (buf == NULL || len == 0)
		return KORCH_ERR_INVALID_ARG;
	if ((e = getenv("KORCH_STATE")) != NULL && *e != '\0')
		return put_path(buf, len, e, "");
	if ((e = getenv("XDG_STATE_HOME")) != NULL && *e == '/')
		return put_path(buf, len, e, "/korch/state.db");
	if ((e = getenv("HOME")) == NULL || *e == '\0') {
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) !=
		    0 || pwp == NULL || pwp->pw_dir == NULL ||
		    *pwp->pw_dir == '\0') {
			buf[0] = '\0';
			return KORCH_ERR_NOT_FOUND;
		}
		e = pwp->pw_dir;
	}
	return put_path(buf, len, e, "/.local/state/korch/state.db");
}

/* ---- open / close ---- */

/* mkdir -p of path's directory; new directories are 0700. */
static int
make_parent(struct kstate *st, const char *path)
{
	char failed[512];

	if (kp_mkdir_parents(path, failed, sizeof(failed)) != KORCH_OK) {
		if (errno == ENOTDIR)
			kstate_seterr(st, "%s: not a directory", failed);
		else
			kstate_seterr(st, "creating %s: %s", failed,
			    strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	return KORCH_OK;
}

/* Query a pragma that answers with one text row. */
static int
pragma_text(struct kstate *st, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt		*s = NULL;
	const unsigned char	*t;
	int			 r;

	if ((r = kstate_first(st, sql, sql, &s, NULL)) == KORCH_OK) {
		t = sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
	}
	sqlite3_finalize(s);
	return r;
}

static int
configure(struct kstate *st)
{
	char	 v[32];
	int	 rc, r;

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, KSTATE_BUSY_MS);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
	/* WAL is kept in the file: only a new database needs switching. */
	if ((r = pragma_text(st, "PRAGMA journal_mode", v, sizeof(v))) !=
	    KORCH_OK)
		return r;
	if (strcasecmp(v, "wal") != 0 && (r = pragma_text(st,
	    "PRAGMA journal_mode = WAL", v, sizeof(v))) != KORCH_OK)
		return r;
	if (strcasecmp(v, "wal") != 0) {
		kstate_seterr(st, "%s: cannot use WAL journaling (got %s); is "
		    "it on a network file system?", st->path, v);
		return KORCH_ERR_STATE;
	}
	rc = sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return kstate_sqlerr(st, rc, "configuring");
	if ((r = pragma_text(st, "PRAGMA foreign_keys", v, sizeof(v))) !=
	    KORCH_OK)
		return r;
	if (strcmp(v, "1") != 0) {
		kstate_seterr(st, "this SQLite has no foreign key support");
		return KORCH_ERR_UNSUPPORTED;
	}
	return KORCH_OK;
}

int
kstate_open(const char *path, struct kstate **out)
{
	struct kstate	*st;
	int		 fd, rc, r, tries;

	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((*out = st = calloc(1, sizeof(*st))) == NULL)
		return KORCH_ERR_ALLOC;
	st->lock_fd = -1;
	st->broken = 1;
	if (path == NULL || *path == '\0') {
		kstate_seterr(st, "no state path");
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if ((st->path = strdup(path)) == NULL) {
		kstate_seterr(st, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if (sqlite3_libversion_number() < KSTATE_MIN_SQLITE) {
		kstate_seterr(st, "SQLite %s is too old (3.24 or newer needed)",
		    sqlite3_libversion());
		r = KORCH_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = make_parent(st, path)) != KORCH_OK)
		goto out;
	/* Create it ourselves so it is 0600 whatever SQLite's default; its
	 * -wal and -shm files take the database file's mode. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600)) == -1) {
		kstate_seterr(st, "%s: %s", path, strerror(errno));
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	close(fd);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (st->db == NULL) {
			kstate_seterr(st, "%s: out of memory", path);
			r = KORCH_ERR_ALLOC;
		} else
			r = kstate_sqlerr(st, rc, path);
		goto out;
	}
	for (tries = 0; ; tries++) {
		if ((r = configure(st)) == KORCH_OK)
			r = kstate_migrate(st);
		if (r != KORCH_ERR_LOCKED || tries == KSTATE_OPEN_TRIES)
			break;
		sqlite3_sleep(KSTATE_OPEN_RETRY_MS);
	}
	if (r != KORCH_OK)
		goto out;
	st->broken = 0;
	r = KORCH_OK;
 out:
	return r;
}

void
kstate_close(struct kstate *st)
{
	size_t i;

	if (st == NULL)
		return;
	if (st->db != NULL && !st->broken) {
		kstate_batch_close(st);
		kstate_lock_close(st);
	}
	for (i = 0; i < KS__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db != NULL)
		sqlite3_close(st->db);
	if (st->lock_fd != -1)
		close(st->lock_fd);
	free(st->path);
	free(st);
}

const char *
kstate_errmsg(const struct kstate *st)
{
	if (st == NULL)
		return "no state handle";
	return st->errmsg;
}

int64_t
kstate_total_changes(struct kstate *st)
{
	if (st == NULL || st->db == NULL)
		return 0;
	return sqlite3_total_changes(st->db);
}

/* ---- integrity ---- */

/* The problems found so far, in the message: its length, and whether
 * there is one. */
struct problems {
	size_t	off;
	int	bad;
};

static void problem(struct kstate *, struct problems *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* One more problem, "; " after those before, as far as the message has
 * room. */
static void
problem(struct kstate *st, struct problems *p, const char *fmt, ...)
{
	va_list ap;

	p->bad = 1;
	if (p->off < sizeof(st->errmsg))
		p->off += (size_t)snprintf(st->errmsg + p->off,
		    sizeof(st->errmsg) - p->off, "%s", p->off ? "; " : "");
	if (p->off < sizeof(st->errmsg)) {
		va_start(ap, fmt);
		p->off += (size_t)vsnprintf(st->errmsg + p->off,
		    sizeof(st->errmsg) - p->off, fmt, ap);
		va_end(ap);
	}
}

static void
integrity_row(struct kstate *st, sqlite3_stmt *s, struct problems *p)
{
	const char *t = (const char *)sqlite3_column_text(s, 0);

	if (t == NULL || strcmp(t, "ok") != 0)
		problem(st, p, "%s", t != NULL ? t : "?");
}

static void
foreign_key_row(struct kstate *st, sqlite3_stmt *s, struct problems *p)
{
	problem(st, p, "%s row %lld refers to a missing %s row",
	    (const char *)sqlite3_column_text(s, 0),
	    (long long)sqlite3_column_int64(s, 1),
	    (const char *)sqlite3_column_text(s, 2));
}

/* Run sql, a PRAGMA that lists problems, handing each row to row(). */
static int
check(struct kstate *st, const char *sql, const char *what,
    void (*row)(struct kstate *, sqlite3_stmt *, struct problems *),
    struct problems *p)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, r = KORCH_OK;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
		r = kstate_sqlerr(st, rc, what);
	else {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			row(st, s, p);
		if (rc != SQLITE_DONE)
			r = kstate_sqlerr(st, rc, what);
	}
	sqlite3_finalize(s);
	return r;
}

int
kstate_integrity_ok(struct kstate *st)
{
	struct problems	p = { 0, 0 };
	int		r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = check(st, "PRAGMA integrity_check(10)", "integrity check",
	    integrity_row, &p)) != KORCH_OK ||
	    (r = check(st, "PRAGMA foreign_key_check", "foreign key check",
	    foreign_key_row, &p)) != KORCH_OK)
		return r;
	return p.bad ? KORCH_ERR_STATE : KORCH_OK;
}
