/*
 * fdio.h - whole writes to a blocking file descriptor, for both programs
 * (the agent's frames and files, the controller's fetched copies,
 * certificates and known_hosts).
 */
#ifndef KORCH_FDIO_H
#define KORCH_FDIO_H

#include <stddef.h>

/*
 * Write all n bytes of p to fd, going on after short writes and EINTR.
 * KORCH_OK, or KORCH_ERR_SYSTEM with errno saying why (some bytes may
 * have been written).
 */
int kp_write_all(int fd, const void *p, size_t n);

#endif
