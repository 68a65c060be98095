/*
 * settings.c - the settings table: small facts one command leaves for the
 * next.  Synced once committed (kstate_durable()), like the upgrade
 * journal, because the next command trusts them.
 */
#include <string.h>

#include "err.h"
#include "state-int.h"
#include "state_settings.h"

int
kstate_setting_set(struct kstate *st, const char *key, const char *value)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_nonempty(st, "setting key", key)) != KORCH_OK)
		return r;
	/* The same value again writes nothing. */
	if ((r = kstate_query(st, &s, value == NULL ?
	    "DELETE FROM settings WHERE key = ?1" :
	    "INSERT INTO settings (key, value) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
	    " WHERE value IS NOT excluded.value", value == NULL ? "t" : "tt",
	    key, value)) != KORCH_OK)
		goto out;
	if ((r = kstate_step_done(st, s, "recording setting")) != KORCH_OK)
		goto out;
	r = kstate_durable(st);
 out:
	if (r != KORCH_OK) {
		char tmp[sizeof(st->errmsg)];

		memcpy(tmp, st->errmsg, sizeof(tmp));
		kstate_seterr(st, "setting %s: %s", key, tmp);
	}
	sqlite3_finalize(s);
	return r;
}

int
kstate_setting_get(struct kstate *st, const char *key, char **value)
{
	sqlite3_stmt	*s = NULL;
	int		 found, r;

	if ((r = kstate_enter(st)) != KORCH_OK)
		return r;
	if ((r = kstate_need(st, "result pointer", value)) != KORCH_OK)
		return r;
	*value = NULL;
	if ((r = kstate_nonempty(st, "setting key", key)) != KORCH_OK)
		return r;
	if ((r = kstate_query(st, &s, "SELECT value FROM settings"
	    " WHERE key = ?1", "t", key)) == KORCH_OK &&
	    (r = kstate_step_row(st, s, "reading setting", &found)) ==
	    KORCH_OK && found &&
	    (r = kstate_col_strdup(s, 0, value)) != KORCH_OK)
		kstate_seterr(st, "out of memory");
	sqlite3_finalize(s);
	return r;
}
