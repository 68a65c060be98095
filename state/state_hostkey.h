/*
 * state_hostkey.h - host key pins (state/hostkey.c): the host key each
 * host showed the first time korch reached it, kept in the hosts table.
 *
 * A pin outranks known_hosts: a host whose key is not its pin is refused
 * even when known_hosts was edited to the new key, until the operator
 * forgets the pin (`korch hosts trust HOST`); the next contact then pins
 * what it sees (known_hosts still has to accept it).
 */
#ifndef KORCH_STATE_HOSTKEY_H
#define KORCH_STATE_HOSTKEY_H

#include "state.h"

struct kstate_hostkey {
	char		*host;
	char		*address;	/* the host's address as last recorded */
	char		*key_type;	/* "ssh-ed25519"; NULL for pins
					 * recorded before korch kept it */
	char		*fingerprint;	/* "SHA256:base64" */
	int64_t		 pinned_at;	/* ms since the epoch; 0 unknown */
};

/* host's pin (an owned copy, free with kstate_hostkeys_free(p, 1));
 * KORCH_ERR_NOT_FOUND when it has none. */
int kstate_hostkey_get(struct kstate *st, const char *host,
    struct kstate_hostkey **out);

/* Every pin, by host name (NULL and 0 when none). */
int kstate_hostkeys_list(struct kstate *st, struct kstate_hostkey **out,
    size_t *n);
void kstate_hostkeys_free(struct kstate_hostkey *v, size_t n);

/*
 * Pin fingerprint (of key_type, may be NULL) for host unless a pin is
 * there already: a pin is never replaced here (a pin of the same key
 * without a type gets the type).  The host's row is made when missing.
 * May run inside a batch.
 */
int kstate_hostkey_pin(struct kstate *st, const char *host,
    const char *key_type, const char *fingerprint);

/* Forget host's pin.  *found: 1 when there was one (then *old, when not
 * NULL, is what it was: free with kstate_hostkeys_free(*old, 1)). */
int kstate_hostkey_forget(struct kstate *st, const char *host, int *found,
    struct kstate_hostkey **old);

#endif
