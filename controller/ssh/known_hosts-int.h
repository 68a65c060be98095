/*
 * known_hosts-int.h - what known_hosts.c and known_hosts_marker.c share:
 * the marker lines (@revoked, @cert-authority) of one file.
 */
#ifndef KORCH_KNOWN_HOSTS_INT_H
#define KORCH_KNOWN_HOSTS_INT_H

#include <stddef.h>

enum kh_marker_kind { KH_MARK_REVOKED, KH_MARK_CA };

struct kh_marker;
struct kh_markers {
	struct kh_marker	*v;
	size_t			 n, cap;
};

/* Keep line (it starts with '@'; lineno for messages) when it is a
 * marker we know with a key we can read; others are skipped.  0 or
 * KORCH_ERR_ALLOC. */
int kh_markers_add(struct kh_markers *m, const char *line, size_t len,
    int lineno);
void kh_markers_clear(struct kh_markers *m);

/* The line of the first marker of kind whose patterns match hostspec
 * (and whose key is key[0..keylen), unless key is NULL); 0 if none. */
int kh_markers_find(const struct kh_markers *m, enum kh_marker_kind kind,
    const char *hostspec, const void *key, size_t keylen);

static inline int
tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

#endif
