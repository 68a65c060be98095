/*
 * cmd_certs.h - what the files of `korch certs` share (cmd_certs.c: the
 * listing; cmd_certs_renew.c: `korch certs renew`; cmd_certs_expiry.c:
 * the expiry warnings and summary that apply and status show).
 */
#ifndef KORCH_CMD_CERTS_H
#define KORCH_CMD_CERTS_H

#include <stdio.h>
#include <time.h>

#include "cluster/cert_list.h"
#include "cluster/cluster_pki.h"

struct cert_list;
struct cmd_ctx;
struct inventory;
struct json;

/* A leaf inside this many days is re-issued by apply (and warned of). */
#define CERTS_LEAF_WINDOW	CLUSTER_PKI_RENEW_DAYS
/* A CA inside this many days would be outlived by a leaf issued now:
 * time to plan its rotation (docs/CERTIFICATES.md). */
#define CERTS_CA_WINDOW		CLUSTER_PKI_CERT_DAYS
#define CERTS_DOC		CERT_LIST_DOC

/* The window of entry i (its CA's or a leaf's). */
int certs_window(const struct cert_list *l, size_t i);

/*
 * What c has open (inventory, playbooks, state path), the store read
 * without writing anything: *cp and *l (free with cluster_pki_free,
 * cert_list_free).  KX_OK with both NULL when the cluster has no
 * certificates yet (no master, or never applied); else a KX_* code,
 * said on stderr unless quiet.
 */
int certs_load(struct cmd_ctx *c, int quiet, struct cluster_pki **cp,
    struct cert_list **l);

/* apply, before it prepares the run, and the listing: the warnings
 * (cert_list_warn) with korch's windows. */
int certs_warn(const struct cert_list *l, const struct inventory *inv,
    time_t now, FILE *out);

/*
 * status: the soonest expiring leaf and the CA of every cluster whose
 * PKI is beside state_path, read from the store (no host contacted), as
 * text lines on out, or (j != NULL) as the "certificates" member of an
 * object being written.  Nothing when there is no store.
 */
void certs_status(const char *state_path, time_t now, FILE *out,
    struct json *j);

/* `korch certs renew ...`: argv[0] is "renew". */
int certs_renew(int argc, char **argv);

#endif
