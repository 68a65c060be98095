/*
 * test_agent_helpers.h - shared scaffolding for the agent's unit tests:
 * a scratch directory and session per test, tasks built from key/value
 * pairs, a task run and what it must end in, and small file helpers on
 * top of helpers_fs.h.  Header-only (static functions) because the build
 * links each tests/unit/test_*.c on its own.
 */
#ifndef KORCH_TEST_AGENT_HELPERS_H
#define KORCH_TEST_AGENT_HELPERS_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include "helpers_fs.h"

#include "agent.h"
#include "err.h"
#include "module.h"
#include "wire.h"

#define TT_MAX_ARGS	64

struct tt {
	struct kp_task	 task;
	struct kp_kv	 kv[TT_MAX_ARGS];
	uint32_t	 watch[8];
	char		 dir[256];	/* scratch directory */
	char		 path[512];	/* scratch path built by tt_path() */
	char		 saved[32][512];	/* tt_save() copies */
	unsigned	 nsaved;
	struct agent_session *s;
	struct agent_outcome o;
};

static inline void
tt_task(struct tt *t, uint32_t id, const char *module)
{
	memset(&t->task, 0, sizeof(t->task));
	memset(t->kv, 0, sizeof(t->kv));
	t->task.id = id;
	t->task.module = (char *)module;
	t->task.args = t->kv;
	t->task.watch = t->watch;
}

static inline void
tt_argn(struct tt *t, const char *key, const char *val, size_t n)
{
	assert_true(t->task.nargs < TT_MAX_ARGS);
	t->kv[t->task.nargs].key = (char *)key;
	t->kv[t->task.nargs].val = (char *)val;
	t->kv[t->task.nargs].val_len = n;
	t->task.nargs++;
}

static inline void
tt_arg(struct tt *t, const char *key, const char *val)
{
	tt_argn(t, key, val, strlen(val));
}

/* A task of module on path (its argument "path"). */
static inline void
tt_task_at(struct tt *t, uint32_t id, const char *module, const char *path)
{
	tt_task(t, id, module);
	tt_arg(t, "path", path);
}

static inline const char *
tt_path(struct tt *t, const char *rel)
{
	(void)snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, rel);
	return t->path;
}

/* A copy that outlives the next tt_path() (args keep pointers). */
static inline const char *
tt_save(struct tt *t, const char *s)
{
	char *d = t->saved[t->nsaved++ % TH_LEN(t->saved)];

	(void)snprintf(d, sizeof(t->saved[0]), "%s", s);
	return d;
}

/* dir/rel in a tt_save() copy, which outlives the next tt_path(). */
static inline const char *
tt_file(struct tt *t, const char *rel)
{
	return tt_save(t, tt_path(t, rel));
}

/* Run the current task; returns the status, outcome in t->o. */
static inline int
tt_run(struct tt *t, int check_only)
{
	int r = agent_module_run(&t->task, t->s, check_only, &t->o);

	assert_int_equal(r, KORCH_OK);
	if (getenv("TT_VERBOSE") != NULL)
		fprintf(stderr, "# %s %s: %s\n%s", t->task.module,
		    kp_status_name(t->o.status), t->o.msg, t->o.diff);
	return t->o.status;
}

/* Run the current task (check mode when check_only): it must end in status,
 * with msg in its message unless msg is NULL. */
static inline void
tt_expect(struct tt *t, int check_only, int status, const char *msg)
{
	assert_int_equal(tt_run(t, check_only), status);
	if (msg != NULL)
		assert_non_null(strstr(t->o.msg, msg));
}

/* As tt_expect, with exactly msg as the message. */
static inline void
tt_expect_msg(struct tt *t, int check_only, int status, const char *msg)
{
	assert_int_equal(tt_run(t, check_only), status);
	assert_string_equal(t->o.msg, msg);
}

/* Nothing left to do: a run and a check-mode run both say OK. */
static inline void
tt_expect_converged(struct tt *t)
{
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(tt_run(t, 1), KP_ST_OK);
}

/* tt_run, and *ms how many milliseconds it took. */
static inline int
tt_run_ms(struct tt *t, int check_only, long long *ms)
{
	struct timespec a, b;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &a);
	st = tt_run(t, check_only);
	clock_gettime(CLOCK_MONOTONIC, &b);
	*ms = (long long)(b.tv_sec - a.tv_sec) * 1000 +
	    (b.tv_nsec - a.tv_nsec) / 1000000;
	return st;
}

static inline int
tt_setup(void **state)
{
	struct tt *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	if (th_mkdtemp(t->dir, sizeof(t->dir), "korch-test") != 0) {
		free(t);
		return -1;
	}
	if ((t->s = agent_session_new(-1, -1)) == NULL) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int
tt_teardown(void **state)
{
	struct tt *t = *state;

	if (t == NULL)
		return 0;
	(void)th_rmtree(t->dir);
	agent_session_free(t->s);
	free(t);
	return 0;
}

/* A test run with a scratch directory and session of its own. */
#define TT_TEST(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)

static inline void
tt_write(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t n = strlen(content);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static inline void
tt_assert_file(const char *path, const char *want)
{
	char *got = th_read(path);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* A run changes path to hold exactly want; the next has nothing to do. */
static inline void
tt_expect_writes(struct tt *t, const char *path, const char *want)
{
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, want);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static inline mode_t
tt_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static inline void
tt_assert_owner(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
}

/* No temp file (".name.korch-XXXXXX") left in dir. */
static inline void
tt_assert_no_tmp(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		assert_null(strstr(de->d_name, ".korch-"));
	closedir(d);
}

/* Modification fingerprint, to prove check mode touched nothing. */
static inline long long
tt_mtime_ns(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return -1;
	return (long long)st.st_mtim.tv_sec * 1000000000LL +
	    st.st_mtim.tv_nsec + (long long)st.st_ino * 7 +
	    (long long)st.st_mode * 13;
}

/* pid is gone: no such process, or a zombie nobody reaped yet (a child
 * of a killed shell, inherited by init). */
static inline int
th_pid_gone(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	return p != NULL && (p = strrchr(buf, ')')) != NULL && p[2] == 'Z';
}

#endif
