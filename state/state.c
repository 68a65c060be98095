/*
 * state.c - the handle: opening (configuration, then migrations) and
 * closing the state database, its error message, the integrity check and
 * the default path, and the entry checks the other files of state/ share.
 * Statements are stmt.c's.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
	/* SQLite says "disk I/O error" for a full disk it meets creating
	 * its -shm: the operator needs to hear the cause. */
	if ((rc & 0xff) == SQLITE_FULL || (((rc & 0xff) == SQLITE_IOERR ||
	    (rc & 0xff) == SQLITE_CANTOPEN) &&
	    sqlite3_system_errno(st->db) == ENOSPC)) {
		kstate_seterr(st, "%s: %s: the file system holding %s is full "
		    "(no space left on device)", what, sqlite3_errmsg(st->db),
		    st->path != NULL ? st->path : "the state");
		return KORCH_ERR_STATE;
	}
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

	if (st->readonly) {
		sqlite3_extended_result_codes(st->db, 1);
		sqlite3_busy_timeout(st->db, KSTATE_BUSY_MS);
		return KORCH_OK;
	}

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

/* Is rc SQLite saying the file is not a sound database? */
static int
is_damage(int rc)
{
	return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/*
 * The file is damaged: say so, naming it and the way back.  The backup
 * is a whole database; the damaged file's -wal and -shm must go with it,
 * or SQLite would replay the old log onto the restored copy.
 */
static int
damaged(struct kstate *st, const char *why)
{
	char bak[4096];
	int have;

	(void)snprintf(bak, sizeof(bak), "%s%s", st->path, KSTATE_BACKUP_SUFFIX);
	have = access(bak, R_OK) == 0;
	if (have)
		kstate_seterr(st, "%s is damaged (%s); nothing was changed. "
		    "Restore the backup made at the start of the last "
		    "mutating run: cp %s %s && rm -f %s-wal %s-shm", st->path,
		    why, bak, st->path, st->path, st->path);
	else
		kstate_seterr(st, "%s is damaged (%s) and there is no backup "
		    "(%s); nothing was changed. Move the file aside to start "
		    "a new state", st->path, why, bak);
	return KORCH_ERR_STATE;
}

/* The first problem quick_check reported, on one line, without the
 * "*** in database main ***" header SQLite puts before it. */
static void
first_problem(const char *t, char *dst, size_t len)
{
	const char *hdr = "*** in database main ***";
	size_t i;

	if (t == NULL)
		t = "?";
	if (strncmp(t, hdr, strlen(hdr)) == 0)
		t += strlen(hdr);
	while (*t == '\n' || *t == ' ')
		t++;
	(void)snprintf(dst, len, "%s", *t != '\0' ? t : "?");
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == '\n' || dst[i] == '\r')
			dst[i] = ' ';
}

/* PRAGMA quick_check: pages, records and freelist, without the index
 * cross-check (kstate_integrity_ok does that, before a backup). */
static int
quick_check(struct kstate *st)
{
	sqlite3_stmt		*s = NULL;
	const unsigned char	*t;
	char			 first[200];
	int			 rc, r = KORCH_OK;

	first[0] = '\0';
	rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(3)", -1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		t = sqlite3_column_text(s, 0);
		if (first[0] == '\0' && (t == NULL || strcmp((const char *)t,
		    "ok") != 0))
			first_problem((const char *)t, first, sizeof(first));
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = is_damage(rc) ? damaged(st, sqlite3_errmsg(st->db)) :
		    kstate_sqlerr(st, rc, "quick_check");
	else if (first[0] != '\0')
		r = damaged(st, first);
	sqlite3_finalize(s);
	return r;
}

/* The schema version of a file opened read-only: it cannot be migrated,
 * so it must be this build's. */
static int
readonly_schema(struct kstate *st)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, v = -1, r = KORCH_OK;

	if ((rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s,
	    NULL)) == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (v < 0)
		r = is_damage(rc) ? damaged(st, sqlite3_errmsg(st->db)) :
		    kstate_sqlerr(st, rc, st->path);
	else if (v > KSTATE_SCHEMA_VERSION) {
		kstate_seterr(st, "%s was written by a newer korch (schema %d, "
		    "this one knows up to %d)", st->path, v,
		    KSTATE_SCHEMA_VERSION);
		r = KORCH_ERR_UNSUPPORTED;
	} else if (v < KSTATE_SCHEMA_VERSION) {
		kstate_seterr(st, "%s has schema %d and is read-only here; "
		    "run korch with write access once to bring it to %d",
		    st->path, v, KSTATE_SCHEMA_VERSION);
		r = KORCH_ERR_READONLY_SCHEMA;
	}
	return r;
}

static int open_handle(const char *path, int readonly, struct kstate **out);

/*
 * A WAL database read by someone who may not create its -shm (a read-only
 * directory): SQLite cannot share the WAL index.  With no WAL content to
 * read (its -wal absent or empty: korch's last writer closed cleanly),
 * the file alone is the whole database and opening it immutable is exact.
 * 1 when that is the case and it was reopened so.
 */
static int
reopen_immutable(struct kstate *st)
{
	char wal[4096], uri[3 * 4096 + 32];
	const char *p;
	struct stat sb;
	size_t o, i;
	int ec = sqlite3_errcode(st->db) & 0xff;

	if (ec != SQLITE_READONLY && ec != SQLITE_CANTOPEN)
		return 0;
	(void)snprintf(wal, sizeof(wal), "%s-wal", st->path);
	if (stat(wal, &sb) == 0 && sb.st_size > 0)
		return 0;
	o = (size_t)snprintf(uri, sizeof(uri), "file:");
	for (p = st->path; *p != '\0' && o + 4 < sizeof(uri); p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			o += (size_t)snprintf(uri + o, sizeof(uri) - o, "%%%02X",
			    (unsigned char)*p);
		else
			uri[o++] = *p;
	}
	(void)snprintf(uri + o, sizeof(uri) - o, "?immutable=1");
	for (i = 0; i < KS__COUNT; i++) {
		sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
	sqlite3_close(st->db);
	st->db = NULL;
	return sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK;
}

/*
 * The state holds every task's result and the run log: owner-only, even
 * where an older korch, a restore or a hand-made copy left it readable.
 * fd, or path+suffix when fd is -1 (a missing -wal / -shm is fine: SQLite
 * makes them with the database's mode).
 */
static int
force_private(struct kstate *st, int fd, const char *path, const char *sfx)
{
	char name[PATH_MAX];
	struct stat sb;
	int own = -1, r = KORCH_OK;

	if (fd == -1) {
		if ((size_t)snprintf(name, sizeof(name), "%s%s", path, sfx) >=
		    sizeof(name))
			return KORCH_OK;
		if ((own = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NOCTTY)) == -1)
			return KORCH_OK;
		fd = own;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 07777) != 0600 &&
	    fchmod(fd, 0600) == -1) {
		kstate_seterr(st, "%s%s is mode %04o and cannot be made 0600: "
		    "%s", path, sfx, (unsigned)(sb.st_mode & 07777),
		    strerror(errno));
		r = KORCH_ERR_SYSTEM;
	}
	if (own != -1)
		close(own);
	return r;
}

int
kstate_open(const char *path, struct kstate **out)
{
	return open_handle(path, 0, out);
}

int
kstate_open_readonly(const char *path, struct kstate **out)
{
	return open_handle(path, 1, out);
}

static int
open_handle(const char *path, int readonly, struct kstate **out)
{
	struct kstate	*st;
	struct stat	 sb;
	int		 fd, rc, r, tries, reopened = 0;

	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((*out = st = calloc(1, sizeof(*st))) == NULL)
		return KORCH_ERR_ALLOC;
	st->lock_fd = -1;
	st->broken = 1;
	st->readonly = readonly;
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
	if (readonly) {
		/* Never created, never written: status on a file it may not
		 * write, in a directory it may not write either. */
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
			kstate_seterr(st, "%s: %s", path, strerror(errno));
			r = KORCH_ERR_SYSTEM;
			goto out;
		}
		/* Its owner reading it still makes it private (fchmod needs
		 * no write access); anyone else's file is only read. */
		if (fstat(fd, &sb) == 0 && sb.st_uid == geteuid()) {
			(void)force_private(st, fd, path, "");
			(void)force_private(st, -1, path, "-wal");
			(void)force_private(st, -1, path, "-shm");
			st->errmsg[0] = '\0';
		}
		close(fd);
	} else {
		if ((r = make_parent(st, path)) != KORCH_OK)
			goto out;
		/* Create it ourselves so it is 0600 whatever SQLite's
		 * default; its -wal and -shm files take the database file's
		 * mode. */
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
		    0600)) == -1) {
			kstate_seterr(st, "%s: %s", path, strerror(errno));
			r = KORCH_ERR_SYSTEM;
			goto out;
		}
		r = force_private(st, fd, path, "");
		close(fd);
		if (r != KORCH_OK || (r = force_private(st, -1, path,
		    "-wal")) != KORCH_OK || (r = force_private(st, -1, path,
		    "-shm")) != KORCH_OK)
			goto out;
	}
	rc = sqlite3_open_v2(path, &st->db, (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (st->db == NULL) {
			kstate_seterr(st, "%s: out of memory", path);
			r = KORCH_ERR_ALLOC;
		} else
			r = kstate_sqlerr(st, rc, path);
		goto out;
	}
	/* Damage is found before anything is written: a migration or a
	 * run on a broken file could spread it. */
	for (tries = 0; ; tries++) {
		if ((r = configure(st)) == KORCH_OK &&
		    (r = quick_check(st)) == KORCH_OK)
			r = readonly ? readonly_schema(st) : kstate_migrate(st);
		if (r != KORCH_OK && readonly && !reopened &&
		    (reopened = reopen_immutable(st)))
			continue;
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
