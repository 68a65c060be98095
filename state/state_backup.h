/*
 * state_backup.h - a copy of the state taken at the start of every run
 * that changes it, so a damaged file (refused at open, state.h) has a way
 * back that loses at most the last run.
 */
#ifndef KORCH_STATE_BACKUP_H
#define KORCH_STATE_BACKUP_H

#include <stddef.h>

#include "state.h"

/*
 * Copy the database into "<path>.bak" (KSTATE_BACKUP_SUFFIX), mode 0600:
 * first a full integrity check (kstate_integrity_ok: a subtly damaged
 * file must not replace a good backup), then sqlite3_backup into
 * "<path>.bak.tmp", fsync, the previous .bak renamed to ".bak.1", the new
 * one renamed into place and the directory synced.  A failure (the disk
 * full, say) leaves the previous backups as they were and removes the
 * temp file; kstate_errmsg() names the file and the error.  bak (may be
 * NULL) gets the backup's path.
 */
int kstate_backup(struct kstate *st, char *bak, size_t baklen);

#endif
