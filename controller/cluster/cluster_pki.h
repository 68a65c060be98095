/*
 * cluster_pki.h - the Kubernetes cluster's certificate set, derived from
 * the inventory and kept in one PKI directory (see pki.h).
 *
 * Files in the PKI directory (stems; .crt + .key unless noted):
 *   ca                         the cluster CA (EC P-256, self-signed)
 *   sa                         sa.key + sa.pub: RSA 2048, signs and checks
 *                              service-account tokens (1.8 wants RSA)
 *   etcd-server-<H>            per etcd host H: CN H, serverAuth+clientAuth,
 *   etcd-peer-<H>              SANs H, H's address, localhost, 127.0.0.1
 *   etcd-client                CN etcd-client, clientAuth (apiserver,
 *                              flanneld, etcdctl)
 *   apiserver                  CN kube-apiserver, serverAuth; SANs
 *                              kubernetes, kubernetes.default,
 *                              kubernetes.default.svc,
 *                              kubernetes.default.svc.<dns_domain>, the
 *                              first IP of the service CIDR, every master's
 *                              name and address, localhost, 127.0.0.1, the
 *                              apiserver_endpoint host, the cluster var
 *                              apiserver_extra_sans (comma-separated) and
 *                              opts->extra_sans (IP when it parses as one,
 *                              else DNS)
 *   apiserver-kubelet-client   CN kube-apiserver-kubelet-client,
 *                              O system:masters, clientAuth
 *   admin                      CN admin, O system:masters, clientAuth
 *   controller-manager         CN system:kube-controller-manager, clientAuth
 *   scheduler                  CN system:kube-scheduler, clientAuth
 *   health                     CN korch:health, no group, clientAuth: korch's
 *                              health probes (/healthz needs no rights; the
 *                              playbooks grant it reading nodes)
 *   kubelet-<H>                per node host H: CN system:node:H,
 *                              O system:nodes, clientAuth+serverAuth,
 *                              SANs H and H's address
 *   kube-proxy                 CN system:kube-proxy, clientAuth
 * A certificate is made again only when missing, unusable, expiring within
 * renew_days, signed by another CA, or its subject/SANs/usage changed (so a
 * new service CIDR re-issues the apiserver certificate alone).
 *
 * The API server URL in every kubeconfig is https://<first master
 * address>:6443 (IPv6 bracketed), or the cluster var apiserver_endpoint:
 * a URL used as is when it has "://", else a host[:port] to which https://
 * (and :6443 when no port) is added.  Cluster-level vars only (inventory
 * vars:), since one certificate serves every host.  With the inventory's
 * apiserver_lb local it is https://127.0.0.1:6443 on every host: a
 * master's own apiserver, or the haproxy in front of all of them; with
 * vip, https://<apiserver_vip>:<apiserver_vip_port> (the haproxy on the
 * master keepalived gave the address).  The URL's host is a SAN of the
 * apiserver's.
 *
 * Template variables for one host (cluster_pki_host_vars), PEM text unless
 * noted.  Private keys go only to the hosts that use them:
 *   every host:
 *     pki.ca_crt, pki.fp_ca, pki.apiserver_url (the URL above)
 *   hosts with role etcd, master or node (etcdctl, apiserver, flanneld):
 *     pki.etcd_client_crt, pki.etcd_client_key, pki.fp_etcd_client
 *   etcd hosts (their own pair only):
 *     pki.etcd_server_crt, pki.etcd_server_key, pki.fp_etcd_server,
 *     pki.etcd_peer_crt, pki.etcd_peer_key, pki.fp_etcd_peer
 *   masters:
 *     pki.apiserver_crt, pki.apiserver_key, pki.fp_apiserver,
 *     pki.apiserver_kubelet_client_crt, pki.apiserver_kubelet_client_key,
 *     pki.fp_apiserver_kubelet_client,
 *     pki.sa_key, pki.sa_pub, pki.fp_sa,
 *     pki.kubeconfig_admin, pki.fp_admin,
 *     pki.kubeconfig_controller_manager, pki.fp_controller_manager,
 *     pki.kubeconfig_scheduler, pki.fp_scheduler,
 *     pki.health_crt, pki.health_key, pki.fp_health,
 *     pki.kubeconfig_health
 *   node hosts (their own kubelet only):
 *     pki.kubelet_crt, pki.kubelet_key, pki.kubeconfig_kubelet,
 *     pki.fp_kubelet
 *   masters and node hosts:
 *     pki.kubeconfig_kube_proxy, pki.fp_kube_proxy
 * pki.fp_* are lowercase hex SHA-256 of the certificate's DER (sa: of the
 * public key), for digests that restart a service when its certificate
 * changes.  kubeconfig_* embed the CA, the certificate and its key
 * (base64), user = the certificate's CN, context <user>@<cluster name>.
 */
#ifndef KORCH_CLUSTER_PKI_H
#define KORCH_CLUSTER_PKI_H

#include <stddef.h>

struct inventory;
struct vars;
struct cluster_pki;

#define CLUSTER_PKI_RENEW_DAYS	30
#define CLUSTER_PKI_CERT_DAYS	365
#define CLUSTER_PKI_CA_DAYS	3650

struct cluster_pki_opts {
	int		 renew_days;	/* 0: CLUSTER_PKI_RENEW_DAYS */
	int		 cert_days;	/* 0: CLUSTER_PKI_CERT_DAYS */
	int		 ca_days;	/* 0: CLUSTER_PKI_CA_DAYS (new CA only) */
	const char *const *extra_sans;	/* more apiserver SANs (IP or DNS) */
	size_t		 nextra_sans;
	/*
	 * Called (when not NULL) once for each key or certificate made by
	 * this call, in the order made: name is the file stem, why the
	 * reason ("created" for the CA and sa; pki_ensure_cert()'s reasons
	 * otherwise).  Both strings are valid only during the call.
	 */
	void		(*report)(void *arg, const char *name, const char *why);
	void		*report_arg;
	/*
	 * Read only (listings): nothing is made or written; a missing CA,
	 * sa key or certificate is KORCH_ERR_NOT_FOUND ("apply first"),
	 * and one that would be re-issued is loaded as it is.
	 */
	int		 read_only;
	/*
	 * Re-issue these leaf certificates (file stems) even when they
	 * still satisfy their request (`korch certs renew`), or every leaf
	 * with renew_all; reported with the reason "renewed on request".
	 * The CA and the sa key are never forced.
	 */
	const char *const *renew;
	size_t		 nrenew;
	int		 renew_all;
};

/*
 * Load or make every certificate the inventory needs in pki_dir (created
 * 0700 when missing), then read them all into *out (free with
 * cluster_pki_free).  o may be NULL (defaults).  Returns 0, or
 * KORCH_ERR_INVALID_ARG (no master, bad service CIDR, a bad extra SAN or
 * endpoint, a negative option), KORCH_ERR_TOO_LARGE (a host name too long
 * for a file stem), KORCH_ERR_NOT_FOUND / KORCH_ERR_PARSE (an
 * unusable CA or sa key that korch will not replace by itself),
 * KORCH_ERR_SYSTEM, KORCH_ERR_ALLOC, KORCH_ERR_INTERNAL, with a message in
 * err (*out NULL).  Certificates made before a failure stay on disk.
 */
int cluster_pki_ensure(const struct inventory *inv, const char *pki_dir,
    const struct cluster_pki_opts *o, struct cluster_pki **out, char *err,
    size_t errlen);
/* NULL-safe; wipes every key and kubeconfig held in memory. */
void cluster_pki_free(struct cluster_pki *cp);

/*
 * Set host host_idx's variables (list above) in out, a map the caller
 * owns; inv must be the inventory cp was made from.  Values are copies.
 * 0; KORCH_ERR_INVALID_ARG (NULL, index out of range);
 * KORCH_ERR_NOT_FOUND (a host cp has no certificate for: another
 * inventory); KORCH_ERR_TOO_LARGE (host name); KORCH_ERR_ALLOC.  On error
 * out may hold some of the variables.  vars does not wipe freed values:
 * free out soon after rendering.
 */
int cluster_pki_host_vars(const struct cluster_pki *cp,
    const struct inventory *inv, size_t host_idx, struct vars *out);

/* The API server URL the kubeconfigs use; owned by cp. */
const char *cluster_pki_server_url(const struct cluster_pki *cp);
/* Entries (file stems) in the order made: i in [0, cluster_pki_count). */
size_t cluster_pki_count(const struct cluster_pki *cp);
const char *cluster_pki_name(const struct cluster_pki *cp, size_t i);
/* The fingerprint (see pki.fp_*) of entry name, or NULL; owned by cp. */
const char *cluster_pki_fp(const struct cluster_pki *cp, const char *name);
/* The certificate PEM of entry name (NULL for sa or unknown); owned by cp. */
const char *cluster_pki_cert(const struct cluster_pki *cp, const char *name);

#endif
