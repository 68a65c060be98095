/*
 * lock.c - runs and the run lock: beginning and ending a run.
 *
 * The lock itself is flock(LOCK_EX) on "<state>.lock", a side file that is
 * never deleted: the kernel owns it, so it dies with its process (crash,
 * SIGKILL, reboot) and no stale lock can outlive its holder.  It is a side
 * file rather than the database because SQLite takes its own POSIX locks on
 * the database, which any close() of that file would drop.
 *
 * The `lock` row only describes the holder (for the refusal message).  If
 * we get the flock and a row is still there, its process died: that run and
 * any other still marked running become `interrupted`.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "state-int.h"
#include "state_lock.h"

#define KSTATE_KIND_MAX		32

const char *
kstate_run_result_name(enum kstate_run_result r)
{
	return kstate_name(KN_RUN_RESULT, (unsigned)r);
}

static const char holder_sql[] =
    "SELECT l.run_id, r.kind, l.pid, l.hostname, l.started_at, l.command,"
    "  r.user"
    " FROM lock l LEFT JOIN runs r ON r.id = l.run_id WHERE l.id = 1";

struct holder {
	long long	 run_id;
	char		 kind[KSTATE_KIND_MAX + 1];
	long		 pid;
	char		 hostname[256];
	int64_t		 started_at;
	char		 command[256];
	char		 user[64];
};

struct identity {
	long		 pid;
	char		 hostname[256];
	char		 user[64];
};

static void
copy_col(sqlite3_stmt *s, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(buf, len, "%s", t != NULL ? (const char *)t : "?");
}

/* *found = 0 when there is no lock row. */
static int
read_holder(struct kstate *st, struct holder *h, int *found)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	*found = 0;
	memset(h, 0, sizeof(*h));
	if ((r = kstate_first(st, holder_sql, "reading lock", &s, found)) ==
	    KORCH_OK && *found) {
		h->run_id = sqlite3_column_int64(s, 0);
		copy_col(s, 1, h->kind, sizeof(h->kind));
		h->pid = (long)sqlite3_column_int64(s, 2);
		copy_col(s, 3, h->hostname, sizeof(h->hostname));
		h->started_at = sqlite3_column_int64(s, 4);
		copy_col(s, 5, h->command, sizeof(h->command));
		copy_col(s, 6, h->user, sizeof(h->user));
	}
	sqlite3_finalize(s);
	return r;
}

static void
fmt_time(int64_t ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld ms", (long long)ms);
}

static void
describe(const struct holder *h, char *buf, size_t len)
{
	char when[64];

	fmt_time(h->started_at, when, sizeof(when));
	snprintf(buf, len, "run %lld (%s, pid %ld on %s by %s, started %s: "
	    "\"%s\")", h->run_id, h->kind, h->pid, h->hostname, h->user, when,
	    h->command);
}

static void
identity_get(struct identity *id)
{
	struct passwd	 pw, *pwp = NULL;
	char		 pwbuf[4096];

	id->pid = (long)getpid();
	if (gethostname(id->hostname, sizeof(id->hostname)) == -1)
		snprintf(id->hostname, sizeof(id->hostname), "?");
	id->hostname[sizeof(id->hostname) - 1] = '\0';
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 &&
	    pwp != NULL && pwp->pw_name != NULL)
		snprintf(id->user, sizeof(id->user), "%s", pwp->pw_name);
	else
		snprintf(id->user, sizeof(id->user), "uid %lu",
		    (unsigned long)geteuid());
}

/* The refusal message: who holds the lock, as far as the row tells. */
static void
refused(struct kstate *st, const struct identity *me, char *msg, size_t len)
{
	struct holder	 h;
	char		 who[1024];
	int		 found;

	if (read_holder(st, &h, &found) != KORCH_OK) {
		snprintf(msg, len, "%s is locked by another korch run (%s)",
		    st->path, st->errmsg);
		return;
	}
	if (!found) {
		snprintf(msg, len, "%s is locked by another korch process "
		    "that has not recorded its run yet", st->path);
		return;
	}
	describe(&h, who, sizeof(who));
	if (strcmp(h.hostname, me->hostname) == 0 && h.pid > 0 &&
	    kill((pid_t)h.pid, 0) == -1 && errno == ESRCH) {
		/* The row is stale; the live holder is taking it over. */
		snprintf(msg, len, "%s is locked by another korch process "
		    "(taking over from %s, which died)", st->path, who);
		return;
	}
	snprintf(msg, len, "%s is locked by %s", st->path, who);
}

static int
kind_ok(const char *kind)
{
	size_t i, n;

	if (kind == NULL || (n = strlen(kind)) == 0 || n > KSTATE_KIND_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '-' ||
		    kind[i] == '_'))
			return 0;
	return 1;
}

/* With the flock held: retire whatever a dead holder left, insert the run
 * and the lock row, in one transaction. */
static int
record_start(struct kstate *st, const struct identity *me, const char *kind,
    const char *args, int64_t *run_id, char *note, size_t note_len)
{
	sqlite3_stmt	*upd = NULL, *del = NULL, *ins = NULL, *lck = NULL;
	struct holder	 h;
	char		 who[1024];
	int64_t		 now = kstate_now_ms(), id;
	int		 own = 0, found, stale, r;

	if ((r = kstate_tx_enter(st, &own)) != KORCH_OK)
		goto out;
	if ((r = read_holder(st, &h, &found)) != KORCH_OK)
		goto out;
	if ((r = kstate_prepare(st, "UPDATE runs SET result = 'interrupted',"
	    " ended_at = coalesce(ended_at, ?1) WHERE result = 'running'",
	    &upd)) != KORCH_OK ||
	    (r = kstate_prepare(st, "DELETE FROM lock", &del)) != KORCH_OK ||
	    (r = kstate_prepare(st, "INSERT INTO runs (kind, args, started_at,"
	    " pid, hostname, user) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &ins)) !=
	    KORCH_OK ||
	    (r = kstate_prepare(st, "INSERT INTO lock (id, run_id, pid,"
	    " hostname, started_at, command) VALUES (1, ?1, ?2, ?3, ?4,"
	    " ?5 || CASE WHEN ?6 = '' THEN '' ELSE ' ' || ?6 END)", &lck)) !=
	    KORCH_OK)
		goto out;

	if (sqlite3_bind_int64(upd, 1, now) != SQLITE_OK) {
		r = kstate_bind_err(st);
		goto out;
	}
	if ((r = kstate_step_done(st, upd, "retiring stale runs")) != KORCH_OK)
		goto out;
	stale = sqlite3_changes(st->db);
	if ((r = kstate_step_done(st, del, "clearing lock")) != KORCH_OK)
		goto out;

	if (sqlite3_bind_text(ins, 1, kind, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(ins, 2, args, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(ins, 3, now) ||
	    sqlite3_bind_int64(ins, 4, me->pid) ||
	    sqlite3_bind_text(ins, 5, me->hostname, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(ins, 6, me->user, -1, SQLITE_STATIC)) {
		r = kstate_bind_err(st);
		goto out;
	}
	if ((r = kstate_step_done(st, ins, "recording run")) != KORCH_OK)
		goto out;
	id = sqlite3_last_insert_rowid(st->db);

	if (sqlite3_bind_int64(lck, 1, id) ||
	    sqlite3_bind_int64(lck, 2, me->pid) ||
	    sqlite3_bind_text(lck, 3, me->hostname, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(lck, 4, now) ||
	    sqlite3_bind_text(lck, 5, kind, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(lck, 6, args, -1, SQLITE_STATIC)) {
		r = kstate_bind_err(st);
		goto out;
	}
	if ((r = kstate_step_done(st, lck, "writing lock")) != KORCH_OK)
		goto out;

	if (found) {
		describe(&h, who, sizeof(who));
		snprintf(note, note_len, "took over the lock of %s, whose "
		    "process is gone; marked it interrupted", who);
	} else if (stale > 0)
		snprintf(note, note_len, "marked %d unfinished run%s "
		    "interrupted", stale, stale == 1 ? "" : "s");
	*run_id = id;
	r = KORCH_OK;
 out:
	sqlite3_finalize(upd);
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	sqlite3_finalize(lck);
	return kstate_tx_leave(st, own, r);
}

int
kstate_run_begin(struct kstate *st, const char *kind, const char *args,
    int64_t *run_id, char *holder_msg, size_t holder_len)
{
	struct identity	 me;
	char		*lpath = NULL, msg[1536];
	size_t		 n;
	int64_t		 id = 0;
	int		 fd = -1, r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	msg[0] = '\0';
	if (holder_msg != NULL && holder_len > 0)
		holder_msg[0] = '\0';
	if (run_id == NULL || !kind_ok(kind)) {
		kstate_seterr(st, "run kind must be 1-%d lowercase letters",
		    KSTATE_KIND_MAX);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if (args == NULL)
		args = "";
	if (st->run_id != 0 || st->in_batch) {
		kstate_seterr(st, "this handle already holds run %lld or has "
		    "a batch open", (long long)st->run_id);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	identity_get(&me);

	n = strlen(st->path) + sizeof(".lock");
	if ((lpath = malloc(n)) == NULL) {
		kstate_seterr(st, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	snprintf(lpath, n, "%s.lock", st->path);
	if ((fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600)) == -1) {
		kstate_seterr(st, "%s: %s", lpath, strerror(errno));
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			refused(st, &me, msg, sizeof(msg));
			kstate_seterr(st, "%s", msg);
			if (holder_msg != NULL && holder_len > 0)
				snprintf(holder_msg, holder_len, "%s", msg);
			r = KORCH_ERR_LOCKED;
			goto out;
		}
		kstate_seterr(st, "locking %s: %s", lpath, strerror(errno));
		r = KORCH_ERR_SYSTEM;
		goto out;
	}
	if ((r = record_start(st, &me, kind, args, &id, msg, sizeof(msg))) !=
	    KORCH_OK)
		goto out;
	st->lock_fd = fd;
	fd = -1;
	st->run_id = id;
	*run_id = id;
	if (holder_msg != NULL && holder_len > 0)
		snprintf(holder_msg, holder_len, "%s", msg);
	r = KORCH_OK;
 out:
	if (fd != -1)
		close(fd);	/* drops the flock if we took it */
	free(lpath);
	return r;
}

static void
release(struct kstate *st)
{
	if (st->lock_fd != -1) {
		/* LOCK_UN first: a forked child sharing the descriptor must not
		 * keep the lock alive. */
		flock(st->lock_fd, LOCK_UN);
		close(st->lock_fd);
	}
	st->lock_fd = -1;
	st->run_id = 0;
}

/* End run id with result; with own transaction unless in one. */
static int
record_end(struct kstate *st, int64_t id, const char *result, int exit_code,
    int has_exit)
{
	sqlite3_stmt	*upd = NULL, *del = NULL;
	int		 own = 0, r;

	if ((r = kstate_tx_enter(st, &own)) != KORCH_OK)
		goto out;
	if ((r = kstate_prepare(st, "UPDATE runs SET ended_at = ?1,"
	    " result = ?2, exit_code = ?3 WHERE id = ?4", &upd)) != KORCH_OK ||
	    (r = kstate_prepare(st, "DELETE FROM lock WHERE run_id = ?1",
	    &del)) != KORCH_OK)
		goto out;
	if (sqlite3_bind_int64(upd, 1, kstate_now_ms()) ||
	    sqlite3_bind_text(upd, 2, result, -1, SQLITE_STATIC) ||
	    (has_exit ? sqlite3_bind_int(upd, 3, exit_code) :
	    sqlite3_bind_null(upd, 3)) ||
	    sqlite3_bind_int64(upd, 4, id) ||
	    sqlite3_bind_int64(del, 1, id)) {
		r = kstate_bind_err(st);
		goto out;
	}
	if ((r = kstate_step_done(st, upd, "ending run")) != KORCH_OK ||
	    (r = kstate_step_done(st, del, "releasing lock")) != KORCH_OK)
		goto out;
	r = KORCH_OK;
 out:
	sqlite3_finalize(upd);
	sqlite3_finalize(del);
	return kstate_tx_leave(st, own, r);
}

int
kstate_run_end(struct kstate *st, int64_t run_id,
    enum kstate_run_result result, int exit_code)
{
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if (st->run_id == 0 || run_id != st->run_id) {
		kstate_seterr(st, "run %lld is not held by this handle",
		    (long long)run_id);
		return KORCH_ERR_INVALID_ARG;
	}
	if (result == KSTATE_RUN_RUNNING ||
	    kstate_parse(KN_RUN_RESULT, kstate_run_result_name(result)) < 0) {
		kstate_seterr(st, "bad run result %d", (int)result);
		return KORCH_ERR_INVALID_ARG;
	}
	if (st->in_batch && (r = kstate_batch_commit(st)) != KORCH_OK)
		return r;
	if ((r = record_end(st, run_id, kstate_run_result_name(result),
	    exit_code, 1)) != KORCH_OK)
		return r;
	release(st);
	return KORCH_OK;
}

void
kstate_lock_close(struct kstate *st)
{
	if (st->run_id != 0)
		(void)record_end(st, st->run_id,
		    kstate_run_result_name(KSTATE_RUN_INTERRUPTED), 0, 0);
	release(st);
}
