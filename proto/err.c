#include "err.h"

const char *
korch_strerror(int code)
{
	switch (code) {
	case KORCH_OK:			return "success";
	case KORCH_ERR_INTERNAL:	return "internal error";
	case KORCH_ERR_ALLOC:		return "out of memory";
	case KORCH_ERR_INCOMPLETE:	return "incomplete input";
	case KORCH_ERR_TOO_LARGE:	return "size limit exceeded";
	case KORCH_ERR_BAD_FRAME:	return "malformed message";
	case KORCH_ERR_VERSION:		return "unsupported protocol version";
	case KORCH_ERR_SYSTEM:		return "system call failed";
	case KORCH_ERR_TIMEOUT:		return "timed out";
	case KORCH_ERR_HOSTKEY_MISMATCH: return "host key mismatch";
	case KORCH_ERR_HOSTKEY_UNKNOWN:	return "host key not known";
	case KORCH_ERR_AUTH:		return "authentication failed";
	case KORCH_ERR_CONNECT:		return "connection failed";
	case KORCH_ERR_RESOLVE:		return "name resolution failed";
	case KORCH_ERR_NO_GREETING:	return "agent did not greet";
	case KORCH_ERR_PARSE:		return "parse error";
	case KORCH_ERR_INVALID_ARG:	return "invalid argument";
	case KORCH_ERR_LOCKED:		return "state is locked by another run";
	case KORCH_ERR_STATE:		return "state database error";
	case KORCH_ERR_NOT_FOUND:	return "not found";
	case KORCH_ERR_EOF:		return "connection closed";
	case KORCH_ERR_AGENT:		return "agent error";
	case KORCH_ERR_SSH:		return "ssh protocol error";
	case KORCH_ERR_CYCLE:		return "dependency cycle";
	case KORCH_ERR_TEMPLATE:	return "template error";
	case KORCH_ERR_HASH_MISMATCH:	return "hash mismatch";
	case KORCH_ERR_UNSUPPORTED:	return "not supported";
	case KORCH_ERR_INTERRUPTED:	return "interrupted";
	case KORCH_ERR_SUDO:		return "sudo refused";
	}
	return "unknown error";
}
