/*
 * cert_list.h - every certificate of the cluster and where it is installed:
 * the controller's PKI store (cluster_pki.h) read back as facts
 * (pki_info.h), and, per host, the files the playbooks install it to.
 *
 * Where a certificate goes is the playbooks' knowledge, not korch's: a
 * `file` task whose content is a certificate variable ({{ pki.X_crt }}) or
 * a kubeconfig ({{ pki.kubeconfig_X }}) installs the store entry whose
 * fingerprint is that host's pki.fp_X.  The services that `watch:` such a
 * task are the ones that must restart when that certificate is renewed.
 * A task whose `when` needs facts (which only a host reports) is left out:
 * the listing is made without contacting any host.
 */
#ifndef KORCH_CERT_LIST_H
#define KORCH_CERT_LIST_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "cluster/pki_info.h"

struct cluster_pki;
struct dag;
struct inventory;
struct playbook;

/* One certificate of the store (not the sa key pair: no certificate). */
struct cert_entry {
	char		*name;		/* file stem in the store */
	struct cert_info info;
};

/* One file on one host that holds a certificate. */
struct cert_place {
	size_t		 host;		/* inventory index */
	char		*path;		/* on the host */
	size_t		 cert;		/* index in cert_list.certs */
	int		 kubeconfig;	/* embedded (client-certificate-data) */
	char		*task;		/* the playbook task key */
	char		**services;	/* units that watch the task */
	size_t		 nservices;
};

struct cert_list {
	struct cert_entry *certs;	/* the store's order (cluster_pki) */
	size_t		 ncerts;
	struct cert_place *places;	/* inventory order, then playbook */
	size_t		 nplaces;
};

/*
 * Build the list of cp (made from inv) and where pb (with its dag over
 * inv) installs each one.  *out is freed with cert_list_free.  0;
 * KORCH_ERR_PARSE (a store certificate that does not parse),
 * KORCH_ERR_ALLOC, with a message in err.
 */
int cert_list_build(const struct playbook *pb, const struct dag *dag,
    const struct inventory *inv, const struct cluster_pki *cp,
    struct cert_list **out, char *err, size_t errlen);
/* NULL-safe. */
void cert_list_free(struct cert_list *l);

/* Index of the entry called name, or -1. */
long cert_list_find(const struct cert_list *l, const char *name);

/*
 * The certificate that ends first among those that are CAs (ca != 0) or
 * leaves (ca == 0): its index, or -1 when there is none.
 */
long cert_list_soonest(const struct cert_list *l, int ca);

/* Where the CA's rotation is described, for the messages. */
#define CERT_LIST_DOC	"docs/CERTIFICATES.md"

/*
 * One warning line on out for each certificate of l inside its window
 * (leaf_window days for leaves, ca_window for a CA): its name, the hosts
 * of inv holding it, the days left or since it expired, and the command
 * that renews it; for a CA, the rotation procedure's document.  Returns
 * how many lines were written.
 */
int cert_list_warn(const struct cert_list *l, const struct inventory *inv,
    time_t now, int leaf_window, int ca_window, FILE *out);

/* "expires in N days (DATE)" or "expired N days ago (DATE)". */
void cert_when_text(time_t not_after, time_t now, char *buf, size_t size);

#endif
