/*
 * hostkey.c - host key pins, in the hosts table's hostkey_fp,
 * hostkey_type and hostkey_pinned_at columns.  See state_hostkey.h.
 */
#include <string.h>

#include "err.h"
#include "state-int.h"
#include "state_hostkey.h"

static const struct kstate_col pin_cols[] = {
	KCOL(hostkey, TEXT, host), KCOL(hostkey, TEXT, address),
	KCOL(hostkey, TEXT, key_type), KCOL(hostkey, TEXT, fingerprint),
	KCOL(hostkey, I64, pinned_at),
};
static const struct kstate_row pin_row = KROW(hostkey, pin_cols);

#define PIN_SELECT "SELECT name, address, hostkey_type, hostkey_fp," \
	" hostkey_pinned_at FROM hosts WHERE hostkey_fp IS NOT NULL"

int
kstate_hostkey_get(struct kstate *st, const char *host,
    struct kstate_hostkey **out)
{
	size_t n = 0;

	if (host == NULL)
		return KORCH_ERR_INVALID_ARG;
	return kstate_read(st, &pin_row, "no host key pinned",
	    PIN_SELECT " AND name = ?1", (void **)out, &n, "t", host);
}

int
kstate_hostkeys_list(struct kstate *st, struct kstate_hostkey **out,
    size_t *n)
{
	return kstate_read(st, &pin_row, NULL, PIN_SELECT " ORDER BY name",
	    (void **)out, n, "");
}

void
kstate_hostkeys_free(struct kstate_hostkey *v, size_t n)
{
	kstate_free_rows(&pin_row, v, n);
}

int
kstate_hostkey_pin(struct kstate *st, const char *host, const char *key_type,
    const char *fingerprint)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = kstate_enter(st)) != KORCH_OK ||
	    (r = kstate_nonempty(st, "host name", host)) != KORCH_OK ||
	    (r = kstate_nonempty(st, "fingerprint", fingerprint)) != KORCH_OK)
		return r;
	/* The WHERE keeps a pin: only a host without one gets this key. */
	if ((r = kstate_query(st, &s,
	    "INSERT INTO hosts (name, hostkey_fp, hostkey_type,"
	    "  hostkey_pinned_at) VALUES (?1, ?2, ?3, ?4)"
	    " ON CONFLICT (name) DO UPDATE SET"
	    "  hostkey_type = excluded.hostkey_type,"
	    "  hostkey_pinned_at = CASE WHEN hostkey_fp IS NULL"
	    "    THEN excluded.hostkey_pinned_at"
	    "    ELSE coalesce(hostkey_pinned_at, excluded.hostkey_pinned_at)"
	    "    END,"
	    "  hostkey_fp = excluded.hostkey_fp"
	    " WHERE hostkey_fp IS NULL OR (hostkey_fp = excluded.hostkey_fp"
	    "  AND hostkey_type IS NULL)", "ttti", host, fingerprint,
	    key_type, kstate_now_ms())) == KORCH_OK)
		r = kstate_step_done(st, s, "pinning the host key");
	sqlite3_finalize(s);
	return r;
}

int
kstate_hostkey_forget(struct kstate *st, const char *host, int *found,
    struct kstate_hostkey **old)
{
	struct kstate_hostkey *pin = NULL;
	sqlite3_stmt *s = NULL;
	int r;

	*found = 0;
	if (old != NULL)
		*old = NULL;
	if ((r = kstate_enter(st)) != KORCH_OK ||
	    (r = kstate_nonempty(st, "host name", host)) != KORCH_OK)
		return r;
	r = kstate_hostkey_get(st, host, &pin);
	if (r == KORCH_ERR_NOT_FOUND)
		return KORCH_OK;
	if (r != KORCH_OK)
		return r;
	if ((r = kstate_query(st, &s, "UPDATE hosts SET hostkey_fp = NULL,"
	    " hostkey_type = NULL, hostkey_pinned_at = NULL WHERE name = ?1",
	    "t", host)) == KORCH_OK &&
	    (r = kstate_step_done(st, s, "forgetting the host key")) ==
	    KORCH_OK)
		r = kstate_durable(st);
	sqlite3_finalize(s);
	if (r == KORCH_OK) {
		*found = 1;
		if (old != NULL) {
			*old = pin;
			pin = NULL;
		}
	}
	kstate_hostkeys_free(pin, pin != NULL ? 1 : 0);
	return r;
}
