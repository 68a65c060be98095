/*
 * err.h - korch's one error vocabulary, shared by controller and agent.
 *
 * Functions return 0 (KORCH_OK) or a negative KORCH_ERR_* code.  Codes are
 * never reused or renumbered: the agent sends them over the wire in
 * KP_ERROR frames.  korch_strerror() turns a code into a fixed string; the
 * caller that gives up adds context (host, file, line) when it logs.
 */
#ifndef KORCH_ERR_H
#define KORCH_ERR_H

#define KORCH_OK                     0
#define KORCH_ERR_INTERNAL          -1  /* a bug: invariant violated */
#define KORCH_ERR_ALLOC             -2  /* out of memory */
#define KORCH_ERR_INCOMPLETE        -3  /* need more input bytes (not fatal) */
#define KORCH_ERR_TOO_LARGE         -4  /* over a hard size limit */
#define KORCH_ERR_BAD_FRAME         -5  /* malformed frame or message body */
#define KORCH_ERR_VERSION           -6  /* protocol version not supported */
#define KORCH_ERR_SYSTEM            -7  /* a system call failed; see errno */
#define KORCH_ERR_TIMEOUT           -8
#define KORCH_ERR_HOSTKEY_MISMATCH  -9  /* known_hosts has a different key */
#define KORCH_ERR_HOSTKEY_UNKNOWN  -10  /* host not in known_hosts */
#define KORCH_ERR_AUTH             -11  /* authentication refused */
#define KORCH_ERR_CONNECT          -12  /* TCP connect failed */
#define KORCH_ERR_RESOLVE          -13  /* name resolution failed */
#define KORCH_ERR_NO_GREETING      -14  /* agent never printed its greeting */
#define KORCH_ERR_PARSE            -15  /* bad input file (inventory, playbook) */
#define KORCH_ERR_INVALID_ARG      -16  /* bad argument to a function/module */
#define KORCH_ERR_LOCKED           -17  /* state held by another run */
#define KORCH_ERR_STATE            -18  /* SQLite error */
#define KORCH_ERR_NOT_FOUND        -19
#define KORCH_ERR_EOF              -20  /* peer closed the stream */
#define KORCH_ERR_AGENT            -21  /* agent reported a failure */
#define KORCH_ERR_SSH              -22  /* libssh2 protocol error */
#define KORCH_ERR_CYCLE            -23  /* dependency cycle */
#define KORCH_ERR_TEMPLATE         -24  /* template rendering error */
#define KORCH_ERR_HASH_MISMATCH    -25  /* content hash did not verify */
#define KORCH_ERR_UNSUPPORTED      -26  /* feature/module/OS not supported */
#define KORCH_ERR_INTERRUPTED      -27  /* stopped by a signal */
#define KORCH_ERR_SUDO             -28  /* sudo -n refused (password needed?) */

/* Fixed text for a code; never NULL, never allocates. */
const char *korch_strerror(int code);

#endif
