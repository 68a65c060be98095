/*
 * cluster_pki-int.h - the in-memory certificate set, shared by the two
 * files of the cluster_pki module (the contract is cluster_pki.h):
 * cluster_pki_ensure.c makes the set, cluster_pki.c holds it and hands
 * out each host's variables.
 */
#ifndef KORCH_CLUSTER_PKI_INT_H
#define KORCH_CLUSTER_PKI_INT_H

#include <stddef.h>

#include "sha256hex.h"

/* One file stem of the PKI directory, read back into memory. */
struct cp_entry {
	char		*name;		/* file stem */
	char		*crt;		/* PEM; NULL for sa */
	char		*key;		/* PEM, secret; NULL for ca */
	char		*pub;		/* PEM; sa only */
	char		*kubeconfig;	/* secret; NULL when none */
	char		 fp[SHA256_HEX_SIZE];
};

struct cluster_pki {
	struct cp_entry	*e;
	size_t		 n, cap;
	char		*server_url;
};

/* Wipe and free what e holds; e is zeroed. */
void cp_entry_clear(struct cp_entry *e);
/* The entry of file stem name, or NULL (also for a NULL cp or name);
 * owned by cp. */
struct cp_entry *cp_find(const struct cluster_pki *cp, const char *name);
/* buf = prefix + host name; 0, or KORCH_ERR_TOO_LARGE (never truncated,
 * so two long names cannot collide). */
int cp_stem(char *buf, size_t size, const char *prefix,
    const char *hostname);

#endif
