/*
 * wire-int.h - what the files of the wire format (wire.c, wire_enc.c,
 * wire_dec.c) share.  Not for use outside them.
 */
#ifndef KORCH_WIRE_INT_H
#define KORCH_WIRE_INT_H

#include "wire.h"

#define KP_MAX_BODY	(KP_MAX_FRAME - 5)	/* length covers type + reqid */

#endif
