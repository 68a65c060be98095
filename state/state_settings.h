/*
 * state_settings.h - settings (state/settings.c): small facts one command
 * leaves for the next (the inventory the last apply used, the cluster's
 * version), durable like the upgrade journal (state_upgrade.h).
 */
#ifndef KORCH_STATE_SETTINGS_H
#define KORCH_STATE_SETTINGS_H

#include "state.h"

/* Set key (non-empty) to value; value NULL removes the key.  Writing the
 * value already stored changes nothing. */
int kstate_setting_set(struct kstate *st, const char *key,
    const char *value);
/* *value is a new string (free()), or NULL, with KORCH_OK, when the key is
 * not set. */
int kstate_setting_get(struct kstate *st, const char *key, char **value);

#endif
