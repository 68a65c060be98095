/*
 * known_hosts.h - OpenSSH known_hosts lookups for the SSH transport, on top
 * of libssh2's knownhost API.
 *
 * Host names are looked up the way OpenSSH writes them: "addr" for port 22,
 * "[addr]:port" otherwise (plain or hashed "|1|salt|hash" entries).  Each
 * file is parsed once per process and cached by path; the cache is checked
 * against the file's inode, size and mtime on every call, so an edit made
 * by someone else is picked up while 256 connections to one file share one
 * parse.  Appends made through kh_add() update the cache in place.
 *
 * Nothing here logs.  Functions return 0 or a KORCH_ERR_* code; on
 * KORCH_ERR_SYSTEM errno says why.  "@revoked" lines are honoured (a
 * revoked key is refused even where another line lists it) and
 * "@cert-authority" lines are recognised so the caller can refuse such a
 * host clearly: korch does not check host certificates.  Other lines
 * libssh2 cannot parse are skipped, not fatal.
 */
#ifndef KORCH_KNOWN_HOSTS_H
#define KORCH_KNOWN_HOSTS_H

#include <stddef.h>

/* "SHA256:" + 43 base64 characters + NUL, with room to spare. */
#define KH_FP_MAX	64
/* "[" + address + "]:" + port + NUL. */
#define KH_HOSTSPEC_MAX	300

enum kh_status {
	KH_MATCH	= 0,
	KH_UNKNOWN	= 1,	/* no entry for this host and key type */
	KH_MISMATCH	= 2,	/* an entry for this host and key type, other key */
	KH_REVOKED	= 3,	/* the key is @revoked for this host */
	KH_CERT_AUTHORITY = 4,	/* no key listed, but a @cert-authority
				 * line names the host */
};

struct kh_result {
	enum kh_status	 status;
	int		 line;		/* file line of the matching,
					 * mismatching, @revoked or
					 * @cert-authority entry; 0 if none */
	char		 expected_fp[KH_FP_MAX]; /* on KH_MISMATCH */
};

/* "addr" for port 22, "[addr]:port" otherwise.  KORCH_ERR_TOO_LARGE if it
 * does not fit. */
int kh_hostspec(const char *address, int port, char *out, size_t outlen);

/* OpenSSH-style "SHA256:<base64, no padding>" of a SHA-256 digest, or of a
 * key blob. */
void kh_fp_from_sha256(const unsigned char digest[32], char out[KH_FP_MAX]);
int kh_fp_from_blob(const void *blob, size_t len, char out[KH_FP_MAX]);

/*
 * Look up hostspec with a host key of libssh2 type key_type
 * (LIBSSH2_HOSTKEY_TYPE_*).  A missing file means every host is unknown.
 */
int kh_check(const char *path, const char *hostspec, const void *key,
    size_t keylen, int key_type, struct kh_result *r);

/*
 * Bitmask of (1 << LIBSSH2_HOSTKEY_TYPE_*) for the key types path already
 * records for hostspec, so the handshake can prefer those.
 */
int kh_known_types(const char *path, const char *hostspec, unsigned *mask);

/*
 * Append "hostspec keytype base64" as one line (O_APPEND, mode 0600 when
 * created) and record it in the cache.  *line gets its line number.
 */
int kh_add(const char *path, const char *hostspec, const void *key,
    size_t keylen, int key_type, int *line);

/* Drop every cached file (ssh_global_cleanup calls it). */
void kh_cache_flush(void);

#endif
