/*
 * restart_mark.h - restarts a host owes, kept on the host.
 *
 * A change that a service watches must restart it even when the session
 * that made the change ends before the service's task runs: the controller
 * killed between the change and its record, the host parked, the network
 * gone.  The host itself is the only place that always sees the change, so
 * the agent marks the service there before the change is made, and the
 * service's task restarts a marked service and then clears the mark.  A
 * mark made for a task that then changed nothing is taken back.
 *
 * Marks are empty files named for the unit in a directory beside the host
 * lock (hostlock.h): /var/lib/korch/restart as root.
 */
#ifndef KORCH_AGENT_RESTART_MARK_H
#define KORCH_AGENT_RESTART_MARK_H

#include <stddef.h>

#include "modspec.h"	/* KMS_ARG_NOTIFY: the marks a task makes */

/*
 * A service name as systemd's unit name into unit ("etcd" ->
 * "etcd.service"; a name with a unit suffix is kept).  KORCH_OK, or
 * KORCH_ERR_INVALID_ARG for a name that is not a plain unit name (no
 * slash, no leading dash or dot).
 */
int agent_unit_name(const char *name, char *unit, size_t len);

/* Mark unit (a unit name): *created is 1 when this call made the mark, 0
 * when it was there already.  KORCH_ERR_SYSTEM with why set when the mark
 * cannot be made. */
int agent_restart_mark(const char *unit, int *created, char *why,
    size_t whylen);
/* 1 when unit is marked. */
int agent_restart_marked(const char *unit);
/* Clear unit's mark; KORCH_ERR_SYSTEM with why set when it stays. */
int agent_restart_unmark(const char *unit, char *why, size_t whylen);

#endif
