/*
 * fetch.h - the controller's end of a fetch task: FETCH_DATA chunks from
 * one host's agent written straight through to <dest>.part, then, when the
 * task's TASK_RESULT arrives, checked against the sha256 the agent reports
 * and renamed to <dest>.
 *
 * One struct fetch_rx per host session.  An agent runs one task at a time,
 * so at most one transfer is open; a chunk or result of another task while
 * one is open is a protocol error.  Nothing but the current chunk is ever
 * in memory.
 *
 * Failures of the copy itself (dest unusable, disk full, hash mismatch) are
 * remembered while the remaining chunks are read and dropped, and turn the
 * task's result into failed; a broken stream (offset gap, data after the
 * last chunk, more than max_size) is KORCH_ERR_BAD_FRAME and ends the
 * session.  Every way a transfer ends without success removes the .part.
 */
#ifndef KORCH_FETCH_H
#define KORCH_FETCH_H

#include <stdint.h>

struct kp_fetch_data;
struct kp_task_result;
struct fetch_rx;

/* NULL on ENOMEM. */
struct fetch_rx *fetch_rx_new(void);
/* NULL-safe; aborts an open transfer first. */
void fetch_rx_free(struct fetch_rx *rx);

/*
 * One chunk of the task's file.  dest is the task's `dest` argument,
 * max_size its `max_size` argument (NULL: KMS_FETCH_MAX_DEFAULT).  The first
 * chunk (offset 0) creates dest's missing parent directories (0700) and
 * <dest>.part (0600, truncated).  0, KORCH_ERR_BAD_FRAME (stream broken:
 * the caller ends the session) or KORCH_ERR_ALLOC.
 */
int fetch_rx_data(struct fetch_rx *rx, const struct kp_fetch_data *m,
    const char *dest, const char *max_size);

/*
 * A TASK_RESULT arrived.  dest is the task's `dest` when it is a fetch
 * task whose copy counts (not in check mode), else NULL.
 *  - Status ok/changed with dest: the transfer must be complete; the file
 *    is fsynced, its bytes' sha256 compared with the `sha256=<hex>` in the
 *    message, and <dest>.part renamed to dest.  On any failure m becomes
 *    failed with a message saying why (the .part is removed).
 *  - Any other status: an open transfer of the task is dropped.
 * 0, KORCH_ERR_BAD_FRAME (a transfer of another task is still open) or
 * KORCH_ERR_ALLOC.
 */
int fetch_rx_result(struct fetch_rx *rx, const char *dest,
    struct kp_task_result *m);

/* The session ended: drop an open transfer (and its .part).  NULL-safe. */
void fetch_rx_abort(struct fetch_rx *rx);

/* The task id of the open transfer, or 0 when none. */
uint32_t fetch_rx_open_task(const struct fetch_rx *rx);

#endif
