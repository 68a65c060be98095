/*
 * backup.c - the state's backup (state_backup.h): sqlite3_backup into a
 * temp file, then renames, so a crash at any moment leaves a whole .bak
 * (the old one or the new one) and never half a file under that name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "state-int.h"
#include "state_backup.h"

#define PATH_LEN	4096

/* fsync path (a file, or with O_DIRECTORY its directory). */
static int
sync_path(const char *path, int flags)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | flags)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* The directory of path, for syncing the renames. */
static void
dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		(void)snprintf(dir, len, ".");
	else if (slash == path)
		(void)snprintf(dir, len, "/");
	else
		(void)snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* sqlite3_backup of st's main database into the file tmp (made 0600). */
static int
copy_into(struct kstate *st, const char *tmp)
{
	sqlite3_backup	*b;
	sqlite3		*dst = NULL;
	int		 fd, rc;

	(void)unlink(tmp);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		kstate_seterr(st, "backup %s: %s", tmp, strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	close(fd);
	if ((rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL)) != SQLITE_OK)
		goto fail;
	if ((b = sqlite3_backup_init(dst, "main", st->db, "main")) == NULL) {
		rc = sqlite3_errcode(dst);
		goto fail;
	}
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	    rc == SQLITE_LOCKED)
		sqlite3_sleep(20);
	(void)sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		goto fail;
	/* A copy of a WAL database is one too: leave no -wal beside it. */
	if ((rc = sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
	    NULL, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_close(dst)) != SQLITE_OK) {
		dst = NULL;
		goto fail;
	}
	if (sync_path(tmp, 0) != 0) {
		kstate_seterr(st, "backup %s: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		return KORCH_ERR_SYSTEM;
	}
	return KORCH_OK;
fail:
	kstate_seterr(st, "backup %s: %s", tmp, dst != NULL ?
	    sqlite3_errmsg(dst) : sqlite3_errstr(rc));
	if (dst != NULL)
		(void)sqlite3_close(dst);
	(void)unlink(tmp);
	return (rc & 0xff) == SQLITE_FULL ? KORCH_ERR_SYSTEM : KORCH_ERR_STATE;
}

int
kstate_backup(struct kstate *st, char *bak_out, size_t baklen)
{
	char bak[PATH_LEN], old[PATH_LEN + 4], tmp[PATH_LEN + 8];
	char dir[PATH_LEN], why[sizeof(st->errmsg)];
	int r, n;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	n = snprintf(bak, sizeof(bak), "%s%s", st->path, KSTATE_BACKUP_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(bak)) {
		kstate_seterr(st, "%s: path too long for a backup", st->path);
		return KORCH_ERR_TOO_LARGE;
	}
	(void)snprintf(old, sizeof(old), "%s.1", bak);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", bak);
	if (bak_out != NULL && baklen > 0)
		(void)snprintf(bak_out, baklen, "%s", bak);
	if ((r = kstate_integrity_ok(st)) != KORCH_OK) {
		(void)snprintf(why, sizeof(why), "%s", kstate_errmsg(st));
		kstate_seterr(st, "%s fails its integrity check (%s); not "
		    "replacing the backup %s with it", st->path, why, bak);
		return r;
	}
	if ((r = copy_into(st, tmp)) != KORCH_OK)
		return r;
	/* The previous backup is kept as .bak.1 by a second link, so .bak
	 * names a whole copy at every moment: rename() replaces it last. */
	if ((unlink(old) == -1 && errno != ENOENT) ||
	    (link(bak, old) == -1 && errno != ENOENT) ||
	    rename(tmp, bak) == -1) {
		kstate_seterr(st, "backup %s: %s", bak, strerror(errno));
		(void)unlink(tmp);
		return KORCH_ERR_SYSTEM;
	}
	dir_of(st->path, dir, sizeof(dir));
	(void)sync_path(dir, O_DIRECTORY);
	return KORCH_OK;
}
