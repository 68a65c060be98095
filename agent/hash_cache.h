/*
 * hash_cache.h - the sha256 of a big file that has not changed since the
 * agent last hashed it, without reading it again.
 *
 * A run on a converged host would otherwise read and hash every binary
 * and image it holds (about a gigabyte on a Kubernetes master) at its
 * start, on every host at once: CPU that the cluster's own services need
 * during a rolling restart.  As git's index does, an entry is keyed by what
 * stat(2) says of the file: device, inode, size, mtime and ctime.  Any
 * write to a file moves its ctime, and no one but the clock can set it
 * back, so a file whose stat matches has the content that was hashed.  A
 * file changed within the clock's granularity of its hashing could keep
 * its ctime, so a file is entered only once its ctime is over a second
 * old.
 *
 * Entries live in one small file beside the host lock (hostlock.h):
 * /var/lib/korch/hashes as root.  It is a cache: a damaged or missing file
 * only costs a hash.
 */
#ifndef KORCH_AGENT_HASH_CACHE_H
#define KORCH_AGENT_HASH_CACHE_H

#include <sys/stat.h>

#include <stdint.h>

#include "sha256.h"

/* Files smaller than this are hashed every time (cheaper than a lookup). */
#define AGENT_HASH_CACHE_MIN	(1u << 20)

/*
 * The sha256 of path (a regular file; st its stat, from the caller's lstat)
 * into hex and its size into *size, from the cache when st matches an
 * entry, else by reading it (and entering it).  As agent_sha256_path():
 * KORCH_ERR_SYSTEM with errno set when it cannot be read.
 */
int agent_sha256_cached(const char *path, const struct stat *st,
    char hex[AGENT_SHA256_HEX], uint64_t *size);

#endif
