/*
 * cluster_pki.c - the cluster's certificate set in memory: its entries,
 * each host's template variables (only the keys that host uses) and the
 * accessors.  The set is made by cluster_pki_ensure.c; see cluster_pki.h
 * for what is made, for whom, and the variables.
 *
 * Private keys and kubeconfigs (which embed keys) are wiped when the set
 * is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "spec/inventory.h"
#include "cluster/pki.h"
#include "engine/vars.h"
#include "cluster/cluster_pki.h"
#include "cluster/cluster_pki-int.h"

/* ---- entries ------------------------------------------------------------------ */

int
cp_stem(char *buf, size_t size, const char *prefix, const char *hostname)
{
	int n = snprintf(buf, size, "%s%s", prefix, hostname);

	return n < 0 || (size_t)n >= size ? KORCH_ERR_TOO_LARGE : 0;
}

void
cp_entry_clear(struct cp_entry *e)
{
	free(e->name);
	free(e->crt);
	pki_free_secret(e->key);
	free(e->pub);
	pki_free_secret(e->kubeconfig);
	memset(e, 0, sizeof(*e));
}

struct cp_entry *
cp_find(const struct cluster_pki *cp, const char *name)
{
	size_t i;

	for (i = 0; cp != NULL && name != NULL && i < cp->n; i++)
		if (strcmp(cp->e[i].name, name) == 0)
			return &cp->e[i];
	return NULL;
}

void
cluster_pki_free(struct cluster_pki *cp)
{
	size_t i;

	if (cp == NULL)
		return;
	for (i = 0; i < cp->n; i++)
		cp_entry_clear(&cp->e[i]);
	free(cp->e);
	free(cp->server_url);
	free(cp);
}

/* ---- host variables ------------------------------------------------------------ */

/* Set var to val, or fail with KORCH_ERR_NOT_FOUND when val is NULL. */
static int
set(struct vars *out, const char *var, const char *val)
{
	if (val == NULL)
		return KORCH_ERR_NOT_FOUND;
	return vars_set(out, var, val);
}

/* The same for a private key or a kubeconfig that embeds one: a task
 * that renders it is secret (render.c), and its copy is wiped. */
static int
set_secret(struct vars *out, const char *var, const char *val)
{
	if (val == NULL)
		return KORCH_ERR_NOT_FOUND;
	return vars_set_flags(out, var, val, VARS_F_SECRET);
}

/*
 * pki.<prefix>_crt / _key (either skipped when the suffix is NULL) and
 * pki.fp_<prefix> from entry name.
 */
static int
set_pair(struct vars *out, const struct cluster_pki *cp, const char *name,
    const char *prefix, int with_crt, int with_key)
{
	const struct cp_entry *e = cp_find(cp, name);
	char var[96];
	int r;

	if (e == NULL)
		return KORCH_ERR_NOT_FOUND;
	if (with_crt) {
		snprintf(var, sizeof(var), "pki.%s_crt", prefix);
		if ((r = set(out, var, e->crt)) != 0)
			return r;
	}
	if (with_key) {
		snprintf(var, sizeof(var), "pki.%s_key", prefix);
		if ((r = set_secret(out, var, e->key)) != 0)
			return r;
	}
	snprintf(var, sizeof(var), "pki.fp_%s", prefix);
	return set(out, var, e->fp);
}

/* pki.kubeconfig_<prefix> and pki.fp_<prefix> from entry name. */
static int
set_kubeconfig(struct vars *out, const struct cluster_pki *cp,
    const char *name, const char *prefix)
{
	const struct cp_entry *e = cp_find(cp, name);
	char var[96];
	int r;

	if (e == NULL)
		return KORCH_ERR_NOT_FOUND;
	snprintf(var, sizeof(var), "pki.kubeconfig_%s", prefix);
	if ((r = set_secret(out, var, e->kubeconfig)) != 0)
		return r;
	snprintf(var, sizeof(var), "pki.fp_%s", prefix);
	return set(out, var, e->fp);
}

int
cluster_pki_host_vars(const struct cluster_pki *cp,
    const struct inventory *inv, size_t host_idx, struct vars *out)
{
	const struct inv_host *h;
	const struct cp_entry *sa;
	char name[PKI_NAME_MAX + 1];
	int etcd, master, node, r;

	if (cp == NULL || inv == NULL || out == NULL || host_idx >= inv->nhosts)
		return KORCH_ERR_INVALID_ARG;
	h = &inv->hosts[host_idx];
	etcd = inventory_host_has_role(h, "etcd");
	master = inventory_host_has_role(h, "master");
	node = inventory_host_has_role(h, "node");

	if ((r = set_pair(out, cp, "ca", "ca", 1, 0)) != 0 ||
	    (r = set(out, "pki.apiserver_url", cp->server_url)) != 0)
		return r;
	if ((etcd || master || node) &&
	    (r = set_pair(out, cp, "etcd-client", "etcd_client", 1, 1)) != 0)
		return r;
	if (etcd) {
		if ((r = cp_stem(name, sizeof(name), "etcd-server-", h->name))
		    != 0 ||
		    (r = set_pair(out, cp, name, "etcd_server", 1, 1)) != 0 ||
		    (r = cp_stem(name, sizeof(name), "etcd-peer-", h->name))
		    != 0 ||
		    (r = set_pair(out, cp, name, "etcd_peer", 1, 1)) != 0)
			return r;
	}
	if (master) {
		if ((sa = cp_find(cp, "sa")) == NULL)
			return KORCH_ERR_NOT_FOUND;
		if ((r = set_pair(out, cp, "apiserver", "apiserver", 1, 1))
		    != 0 ||
		    (r = set_pair(out, cp, "apiserver-kubelet-client",
		    "apiserver_kubelet_client", 1, 1)) != 0 ||
		    (r = set_pair(out, cp, "sa", "sa", 0, 1)) != 0 ||
		    (r = set(out, "pki.sa_pub", sa->pub)) != 0 ||
		    (r = set_kubeconfig(out, cp, "admin", "admin")) != 0 ||
		    (r = set_kubeconfig(out, cp, "controller-manager",
		    "controller_manager")) != 0 ||
		    (r = set_kubeconfig(out, cp, "scheduler", "scheduler"))
		    != 0 ||
		    (r = set_pair(out, cp, "health", "health", 1, 1)) != 0 ||
		    (r = set_kubeconfig(out, cp, "health", "health")) != 0)
			return r;
	}
	if (node) {
		if ((r = cp_stem(name, sizeof(name), "kubelet-", h->name))
		    != 0 ||
		    (r = set_pair(out, cp, name, "kubelet", 1, 1)) != 0 ||
		    (r = set_kubeconfig(out, cp, name, "kubelet")) != 0)
			return r;
	}
	/* kube-proxy runs on the masters too. */
	if ((master || node) &&
	    (r = set_kubeconfig(out, cp, "kube-proxy", "kube_proxy")) != 0)
		return r;
	return 0;
}

/* ---- accessors ---------------------------------------------------------------- */

const char *
cluster_pki_server_url(const struct cluster_pki *cp)
{
	return cp != NULL ? cp->server_url : NULL;
}

size_t
cluster_pki_count(const struct cluster_pki *cp)
{
	return cp != NULL ? cp->n : 0;
}

const char *
cluster_pki_name(const struct cluster_pki *cp, size_t i)
{
	return cp != NULL && i < cp->n ? cp->e[i].name : NULL;
}

const char *
cluster_pki_fp(const struct cluster_pki *cp, const char *name)
{
	const struct cp_entry *e = cp_find(cp, name);

	return e != NULL ? e->fp : NULL;
}

const char *
cluster_pki_cert(const struct cluster_pki *cp, const char *name)
{
	const struct cp_entry *e = cp_find(cp, name);

	return e != NULL ? e->crt : NULL;
}
