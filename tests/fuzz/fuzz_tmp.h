/*
 * fuzz_tmp.h - what the file-reading fuzz targets share: one private
 * temporary directory per fuzzer process (removed at exit), and writing
 * the input into a file there, since the loaders take a path.
 */
#ifndef KORCH_FUZZ_TMP_H
#define KORCH_FUZZ_TMP_H

#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[256];

static int
fz_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static void
fz_cleanup(void)
{
	if (fz_dir[0] != '\0')
		(void)nftw(fz_dir, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directory, made on the first call; aborts when it cannot be. */
static const char *
fz_tmpdir(void)
{
	const char *base;

	if (fz_dir[0] != '\0')
		return fz_dir;
	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	(void)snprintf(fz_dir, sizeof(fz_dir), "%s/korch-fuzz.XXXXXX", base);
	if (mkdtemp(fz_dir) == NULL)
		abort();
	atexit(fz_cleanup);
	return fz_dir;
}

/* dir/name := data[0..n); its path in out. */
static void
fz_put(const char *name, const void *data, size_t n, char *out, size_t outlen)
{
	int fd;

	(void)snprintf(out, outlen, "%s/%s", fz_tmpdir(), name);
	if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		abort();
	if (n > 0 && write(fd, data, n) != (ssize_t)n)
		abort();
	(void)close(fd);
}

#endif
