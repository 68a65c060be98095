/*
 * hostlock.h - one controller drives a host at a time.
 *
 * The agent of a session whose START names its controller (protocol 3)
 * takes flock(LOCK_EX) on a lock file and holds it for its lifetime, so a
 * dead agent (its controller killed, its session gone) releases it with no
 * cleanup: a stale lock file is simply taken over.  The file names the
 * holder (controller host, pid, state path, run id, since when) so a
 * refused controller can say who holds the host.
 *
 * The file: $KORCH_AGENT_LOCK when set (tests, which share one machine),
 * else /var/lib/korch/lock as root (the directory made 0700 and required
 * to be root's and not writable by others), else "lock" beside the
 * agent's own binary (~/.korch/lock).
 */
#ifndef KORCH_AGENT_HOSTLOCK_H
#define KORCH_AGENT_HOSTLOCK_H

#include <stddef.h>

#include "wire.h"

/* The same controller (one command's passes) may find the previous
 * session's agent still exiting: it is waited for this long. */
#define AGENT_HOSTLOCK_SAME_WAIT_MS	10000

/*
 * Take the host lock for st's controller.  KORCH_OK with *fd the held lock
 * (the caller closes it to release; close-on-exec); KORCH_ERR_LOCKED when
 * another controller holds it, why saying "host locked by korch pid N on
 * HOST (state PATH, run R) since T"; KORCH_ERR_SYSTEM when the file cannot
 * be had, why naming it and the error.
 */
int agent_hostlock_take(const struct kp_start *st, int *fd, char *why,
    size_t whylen);

/* The lock file's path into buf (see above); KORCH_ERR_TOO_LARGE or
 * KORCH_ERR_SYSTEM when it cannot be found. */
int agent_hostlock_path(char *buf, size_t len);

/* NAME beside the lock file (/var/lib/korch/NAME as root): where the
 * agent keeps what it remembers of the host between sessions. */
int agent_state_path(const char *name, char *buf, size_t len);

#endif
