/*
 * fdio.h - whole reads and writes of files, and their parent directories,
 * for both programs (the agent's frames and files, the controller's
 * fetched copies, certificates, templates, known_hosts and state).
 */
#ifndef KORCH_FDIO_H
#define KORCH_FDIO_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Write all n bytes of p to fd, going on after short writes and EINTR.
 * KORCH_OK, or KORCH_ERR_SYSTEM with errno saying why (some bytes may
 * have been written).
 */
int kp_write_all(int fd, const void *p, size_t n);

/* read(2), retried when a signal interrupts it: the bytes read, 0 at the
 * end of the file, or -1 with errno. */
ssize_t kp_read(int fd, void *p, size_t n);

/*
 * Read the regular file open on fd whole, at most max bytes, into *out:
 * NUL-terminated (not counted in *len), the caller frees it.  Nothing is
 * returned on an error, and what was read is wiped first (the file may
 * hold a key).  KORCH_OK; KORCH_ERR_INVALID_ARG (not a regular file,
 * errno EINVAL), KORCH_ERR_TOO_LARGE (EFBIG), KORCH_ERR_ALLOC,
 * KORCH_ERR_SYSTEM (errno set).
 * fd stays open.
 */
int kp_read_fd(int fd, size_t max, char **out, size_t *len);

/*
 * mkdir -p of path's parent directory; directories made are 0700 (what
 * korch keeps there holds secrets; an operator widens it on purpose).
 * KORCH_OK, or KORCH_ERR_SYSTEM with errno (ENOTDIR when a part is not a
 * directory) and the failing directory in failed[0..len) (may be NULL).
 */
int kp_mkdir_parents(const char *path, char *failed, size_t len);

#endif
