/*
 * helpers_fs.h - scratch files for the unit tests: a fresh directory under
 * $TMPDIR (or /tmp) for a test or a group of them, removed with all it
 * holds; a file written, read back or looked for; a program run to
 * success; a test program's main.  Plain libc, so the agent's tests and
 * the controller's share it; header-only (static inline) because the
 * Makefile links each tests/unit/test_*.c on its own.
 */
#ifndef KORCH_TEST_HELPERS_FS_H
#define KORCH_TEST_HELPERS_FS_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* The number of elements of array a. */
#define TH_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* A test program's main: the cmocka tests given (cmocka_unit_test(...),
 * ...), run as one group. */
#define TH_MAIN(...)							\
int									\
main(void)								\
{									\
	const struct CMUnitTest tests[] = { __VA_ARGS__ };		\
									\
	return cmocka_run_group_tests(tests, NULL, NULL);		\
}

/* dir becomes a new directory $TMPDIR/<name>-XXXXXX; 0, or -1 (errno)
 * when it cannot be made, so a setup can fail instead of asserting. */
static inline int
th_mkdtemp(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	n = snprintf(dir, len, "%s/%s-XXXXXX", tmp != NULL ? tmp : "/tmp",
	    name);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int
th_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* rm -rf path, never following a link out of it: 0 when nothing is left
 * (nothing was there is fine too), else -1. */
static inline int
th_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, th_rm_cb, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* dir/name (or name alone when dir is NULL) holds exactly text. */
static inline void
th_put(const char *dir, const char *name, const char *text)
{
	char p[4096];
	FILE *fp;

	if (dir != NULL)
		(void)snprintf(p, sizeof(p), "%s/%s", dir, name);
	else
		(void)snprintf(p, sizeof(p), "%s", name);
	assert_non_null(fp = fopen(p, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* The whole file, malloc'd and NUL-terminated (the caller frees it);
 * NULL when it cannot be opened. */
static inline char *
th_read(const char *path)
{
	char *buf;
	long n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Anything at path, a dangling link too. */
static inline int
th_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* One scratch directory for a whole group of tests: th_group_setup makes
 * it (named after the test program), th_group_teardown removes it with
 * all it holds; cmocka runs that whatever failed. */
enum { TH_GROUP_DIR_LEN = 128 };

static inline char *
th_group_dir(void)
{
	static char dir[TH_GROUP_DIR_LEN];

	return dir;
}

static inline int
th_group_setup(void **state)
{
	(void)state;
	return th_mkdtemp(th_group_dir(), TH_GROUP_DIR_LEN,
	    program_invocation_short_name);
}

static inline int
th_group_teardown(void **state)
{
	(void)state;
	return th_rmtree(th_group_dir());
}

/* Run argv (searched in $PATH) and expect it to exit 0. */
static inline void
th_run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#endif
