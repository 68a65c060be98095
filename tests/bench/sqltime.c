/*
 * sqltime.so - the benchmark's measure of the time korch spends in SQLite.
 *
 * LD_PRELOAD'ed into `korch apply` by tests/bench/bench.py (never part of
 * the product).  It wraps the SQLite calls that do work (open, prepare,
 * step, reset, finalize, exec, close: every query and every commit with its
 * fsync happens inside one of them) and adds up their wall time and the
 * calling thread's CPU time; a call made from inside another wrapped call is
 * not counted twice.  At exit it appends one line to $KORCH_SQLTIME:
 *
 *     calls=N wall_ns=N cpu_ns=N
 *
 * Built by bench.py:  cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC
 *                     -o sqltime.so sqltime.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static unsigned long long n_calls, wall_ns, cpu_ns;
static int depth;
static pid_t owner; /* a forked child's copy of the counters is not ours */

__attribute__((constructor)) static void start(void)
{
	owner = getpid();
}

static unsigned long long ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	    (unsigned long long)ts.tv_nsec;
}

struct span {
	unsigned long long w, c;
};

static struct span enter(void)
{
	struct span s = { 0, 0 };

	if (depth++ == 0) {
		s.w = ns(CLOCK_MONOTONIC);
		s.c = ns(CLOCK_THREAD_CPUTIME_ID);
	}
	return s;
}

static void leave(struct span s)
{
	if (--depth == 0) {
		wall_ns += ns(CLOCK_MONOTONIC) - s.w;
		cpu_ns += ns(CLOCK_THREAD_CPUTIME_ID) - s.c;
		n_calls++;
	}
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "sqltime: no %s\n", name);
		abort();
	}
	return f;
}

/* Each wrapper: look the real function up once, time the call. */
#define WRAP(ret, name, params, args)                                  \
	ret name params                                                \
	{                                                              \
		static ret (*real) params;                             \
		struct span s;                                         \
		ret r;                                                 \
		if (real == NULL)                                      \
			*(void **)&real = next(#name);                 \
		s = enter();                                           \
		r = real args;                                         \
		leave(s);                                              \
		return r;                                              \
	}

WRAP(int, sqlite3_open, (const char *f, sqlite3 **db), (f, db))
WRAP(int, sqlite3_open_v2, (const char *f, sqlite3 **db, int fl, const char *v),
    (f, db, fl, v))
WRAP(int, sqlite3_close, (sqlite3 *db), (db))
WRAP(int, sqlite3_close_v2, (sqlite3 *db), (db))
WRAP(int, sqlite3_exec, (sqlite3 *db, const char *sql,
    int (*cb)(void *, int, char **, char **), void *arg, char **err),
    (db, sql, cb, arg, err))
WRAP(int, sqlite3_prepare_v2, (sqlite3 *db, const char *sql, int n,
    sqlite3_stmt **st, const char **tail), (db, sql, n, st, tail))
WRAP(int, sqlite3_prepare_v3, (sqlite3 *db, const char *sql, int n,
    unsigned int fl, sqlite3_stmt **st, const char **tail),
    (db, sql, n, fl, st, tail))
WRAP(int, sqlite3_step, (sqlite3_stmt *st), (st))
WRAP(int, sqlite3_reset, (sqlite3_stmt *st), (st))
WRAP(int, sqlite3_finalize, (sqlite3_stmt *st), (st))

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("KORCH_SQLTIME");
	FILE *f;

	if (getpid() != owner || path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "calls=%llu wall_ns=%llu cpu_ns=%llu\n", n_calls, wall_ns,
	    cpu_ns);
	fclose(f);
}
