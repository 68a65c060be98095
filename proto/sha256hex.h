/*
 * sha256hex.h - how korch writes a sha256 on the wire, in the state and in
 * bundles: 64 lowercase hex digits.  Shared by the controller and the agent.
 */
#ifndef KORCH_SHA256HEX_H
#define KORCH_SHA256HEX_H

/* A buffer for one: the 64 digits and the NUL. */
#define SHA256_HEX_SIZE	65

/* 1 when s is exactly 64 lowercase hex digits, else 0.  s is NUL-terminated. */
int sha256_hex_valid(const char *s);

#endif
