/*
 * upgrade_view.h - the journal of an upgrade or rollback (kept in the
 * state: state.h) as the operator reads it: `korch upgrade`'s summary and
 * `korch status`, as text and as JSON.
 */
#ifndef KORCH_UPGRADE_VIEW_H
#define KORCH_UPGRADE_VIEW_H

#include <stdint.h>
#include <stdio.h>

struct json;
struct kstate;
struct kstate_upgrade;

/* The entry and its phases as one JSON object value (the caller wrote
 * the key, if any).  0, or a KORCH_ERR_* from the state. */
int upgrade_view_json(struct kstate *st, const struct kstate_upgrade *u,
    struct json *j);

/* "upgrade #3 1.8.15 -> 1.9.11: failed; 4 of 6 phases done", then one
 * line per phase that is not done (all phases when all is set). */
int upgrade_view_print(struct kstate *st, const struct kstate_upgrade *u,
    int all, FILE *out);

/* Where an unfinished entry stands, in a few words for a refusal:
 * "upgrade #3 to 1.9.11, stopped at the node phase on node3 (4 of 6
 * phases done)". */
void upgrade_view_position(struct kstate *st,
    const struct kstate_upgrade *u, char *buf, size_t len);

#endif
