/*
 * helpers_state.h - fixtures of the state database's unit tests: a fresh
 * directory per test with the database's path in it, a handle that must
 * open, a run that must begin, raw sqlite3 to look behind the module's
 * back, and a forked holder killed for good.  Header-only (static inline)
 * because the Makefile links each tests/unit/test_*.c on its own.
 */
#ifndef KORCH_TEST_HELPERS_STATE_H
#define KORCH_TEST_HELPERS_STATE_H

#include <signal.h>
#include <sqlite3.h>

#include "helpers_fs.h"

#include "err.h"
#include "state.h"
#include "state_lock.h"

struct fx {
	char	dir[64];
	char	path[128];	/* dir/state.db, not created yet */
};

/* A fresh $TMPDIR/<name>-XXXXXX for one test, as *state. */
static inline int
th_db_setup(void **state, const char *name)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(th_mkdtemp(fx->dir, sizeof(fx->dir), name), 0);
	(void)snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
	*state = fx;
	return 0;
}

static inline int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	(void)th_rmtree(fx->dir);
	free(fx);
	return 0;
}

/* kstate_open(path), which must succeed; the caller closes it. */
static inline struct kstate *
open_ok(const char *path)
{
	struct kstate	*st = NULL;
	int		 r;

	r = kstate_open(path, &st);
	if (r != KORCH_OK)
		fail_msg("kstate_open: %s: %s", korch_strerror(r),
		    kstate_errmsg(st));
	return st;
}

/* A run of kind with args, which must begin; its id. */
static inline int64_t
th_begin_run(struct kstate *st, const char *kind, const char *args)
{
	int64_t	id = 0;
	char	msg[512];
	int	r;

	r = kstate_run_begin(st, kind, args, &id, msg, sizeof(msg));
	if (r != KORCH_OK)
		fail_msg("run_begin: %s: %s", korch_strerror(r),
		    kstate_errmsg(st));
	assert_true(id > 0);
	return id;
}

/* sql's first row, on a connection of its own (*db): the statement is
 * stepped onto a row, which there must be.  th_raw_done closes both. */
static inline sqlite3_stmt *
th_raw_row(const char *path, const char *sql, sqlite3 **db)
{
	sqlite3_stmt *s = NULL;

	*db = NULL;
	assert_int_equal(sqlite3_open(path, db), SQLITE_OK);
	if (sqlite3_prepare_v2(*db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(*db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	return s;
}

static inline void
th_raw_done(sqlite3 *db, sqlite3_stmt *s)
{
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* The integer of sql's one row and column. */
static inline long long
raw_int(const char *path, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*s = th_raw_row(path, sql, &db);
	long long	 v = sqlite3_column_int64(s, 0);

	th_raw_done(db, s);
	return v;
}

/* sql, which must succeed, on a connection of its own. */
static inline void
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db = NULL;
	char	*err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* SIGKILL pid and reap it: it must die of the signal. */
static inline void
th_kill_reap(pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
}

#endif
