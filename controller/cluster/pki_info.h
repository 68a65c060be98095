/*
 * pki_info.h - what an operator wants to know about one X.509
 * certificate (subject, issuer, SANs, serial, validity, fingerprint),
 * read from PEM text, and how close it is to expiring.
 *
 * Used by `korch certs` (the listing), `korch status` (the soonest expiry)
 * and `korch apply` (the warning inside the renewal window).  Nothing here
 * touches a private key.
 */
#ifndef KORCH_PKI_INFO_H
#define KORCH_PKI_INFO_H

#include <stddef.h>
#include <time.h>

#include "base/strlist.h"
#include "sha256hex.h"

/* How close a certificate is to its end, from cert_judge(). */
enum cert_state {
	CERT_OK,	/* more than the window left */
	CERT_RENEW,	/* inside the window: renew it now */
	CERT_EXPIRED,	/* notAfter is past */
};

struct cert_info {
	char		*subject;	/* one line, RFC 2253 ("CN=x,O=y") */
	char		*issuer;
	char		*serial;	/* lowercase hex, no leading zeros */
	struct strlist	 sans;		/* "DNS:x" / "IP:x", sorted */
	time_t		 not_before, not_after;
	int		 is_ca;		/* basicConstraints CA:TRUE */
	char		 sha256[SHA256_HEX_SIZE];	/* of the DER */
};

/*
 * Parse the first certificate of pem (NUL-terminated) into *out (clear
 * it with cert_info_clear, also after an error).  0, KORCH_ERR_PARSE (no
 * certificate in it), KORCH_ERR_ALLOC.
 */
int cert_info_parse(const char *pem, struct cert_info *out);
/* Free what ci holds and zero it; NULL-safe. */
void cert_info_clear(struct cert_info *ci);

/*
 * Whole days from now to not_after, rounded down: 0 on its last day,
 * negative once expired (-1 on the first day after).
 */
long cert_days_left(time_t not_after, time_t now);

/*
 * CERT_EXPIRED when not_after <= now; CERT_RENEW when it falls within
 * window_days days of now (the rule pki_ensure_cert() re-issues by:
 * not_after <= now + window); else CERT_OK.
 */
enum cert_state cert_judge(time_t not_after, time_t now, int window_days);

/* "ok", "renew" or "expired". */
const char *cert_state_name(enum cert_state s);

/* "YYYY-MM-DD HH:MM:SS UTC" into buf. */
void cert_fmt_time(time_t t, char *buf, size_t size);

#endif
