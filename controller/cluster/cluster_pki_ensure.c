/*
 * cluster_pki_ensure.c - making the Kubernetes certificate set of an
 * inventory: what is issued, with which names, for whom (cluster_pki.h
 * has the list).
 *
 * Everything is made through pki.h in one pass, then read back into
 * memory so rendering many hosts touches no file.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/grow.h"
#include "base/strlist.h"
#include "spec/inventory.h"
#include "cluster/pki.h"
#include "engine/vars.h"
#include "cluster/cluster_pki.h"
#include "cluster/cluster_pki-int.h"

#define APISERVER_PORT	"6443"
/* apiserver_lb local: on a master its own apiserver, on every other host
 * the haproxy in front of all of them, at the same address. */
#define LOCAL_APISERVER_URL	"https://127.0.0.1:" APISERVER_PORT
#define SA_BITS		2048

/* One cluster_pki_ensure() call. */
struct build {
	const struct inventory		*inv;
	struct cluster_pki_opts		 o;	/* defaults applied */
	struct pki			*p;
	struct cluster_pki		*cp;
	char				*err;
	size_t				 errlen;
};

static void berr(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
berr(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->err == NULL || b->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
}

/* ---- SAN lists --------------------------------------------------------------- */

static int
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/* An address or name: into ips when it parses as one, else into dns. */
static int
san_add_addr(struct strlist *dns, struct strlist *ips, const char *s,
    size_t len)
{
	char buf[256];

	if (len >= sizeof(buf))
		return strlist_addn(dns, s, len);	/* pki rejects it by name */
	memcpy(buf, s, len);
	buf[len] = '\0';
	return strlist_addn(is_ip(buf) ? ips : dns, s, len);
}

/* Each non-empty, space-trimmed item of a comma-separated list. */
static int
san_add_csv(struct strlist *dns, struct strlist *ips, const char *csv)
{
	const char *s = csv, *e, *end;
	int r;

	while (s != NULL && *s != '\0') {
		end = strchr(s, ',');
		e = end != NULL ? end : s + strlen(s);
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e > s && (r = san_add_addr(dns, ips, s, (size_t)(e - s)))
		    != 0)
			return r;
		s = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* ---- derived values ---------------------------------------------------------- */

/* network + 1 of an IPv4 or IPv6 CIDR, as text. */
static int
first_service_ip(const char *cidr, char *out, size_t size)
{
	unsigned char a[16];
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	char *end;
	long plen;
	int af, nbytes, i;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(addr))
		return KORCH_ERR_INVALID_ARG;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (inet_pton(AF_INET, addr, a) == 1) {
		af = AF_INET;
		nbytes = 4;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		af = AF_INET6;
		nbytes = 16;
	} else
		return KORCH_ERR_INVALID_ARG;
	plen = strtol(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || plen < 0 ||
	    plen > nbytes * 8 - 2)
		return KORCH_ERR_INVALID_ARG;	/* no room for a host */
	for (i = 0; i < nbytes; i++) {		/* clear the host bits */
		if (i * 8 >= plen)
			a[i] = 0;
		else if (i * 8 + 8 > plen)
			a[i] &= (unsigned char)(0xff << (8 - (plen - i * 8)));
	}
	for (i = nbytes - 1; i >= 0; i--)	/* + 1 */
		if (++a[i] != 0)
			break;
	if (inet_ntop(af, a, out, (socklen_t)size) == NULL)
		return KORCH_ERR_INVALID_ARG;
	return 0;
}

/*
 * The kubeconfig server URL and the host in it (for the apiserver SANs),
 * from the virtual IP (apiserver_lb vip), apiserver_endpoint or the first
 * master.
 */
static int
server_endpoint(struct build *b, const struct inv_host *master, char **url,
    char **host)
{
	const struct inv_cluster *c = &b->inv->cluster;
	const char *ep = vars_get(b->inv->vars, "apiserver_endpoint");
	const char *h, *he, *colon;
	unsigned char v6[16];
	char vip[80];
	size_t hlen;
	int n;

	*url = *host = NULL;
	/* vip: https://VIP:port, the haproxy in front of every master. */
	if (c->apiserver_lb != NULL && strcmp(c->apiserver_lb, "vip") == 0 &&
	    c->apiserver_vip != NULL) {
		v6[0] = inet_pton(AF_INET6, c->apiserver_vip, v6) == 1;
		snprintf(vip, sizeof(vip), v6[0] ? "[%s]:%d" : "%s:%d",
		    c->apiserver_vip, c->apiserver_vip_port);
		ep = vip;
	}
	if (ep == NULL || *ep == '\0') {
		ep = master->address;
		if (inet_pton(AF_INET6, ep, v6) == 1)
			n = asprintf(url, "https://[%s]:%s", ep,
			    APISERVER_PORT);
		else
			n = asprintf(url, "https://%s:%s", ep,
			    APISERVER_PORT);
		if (n < 0 || (*host = strdup(ep)) == NULL)
			goto nomem;
		return 0;
	}

	if (strstr(ep, "://") != NULL) {
		h = strstr(ep, "://") + 3;
		n = asprintf(url, "%s", ep);
	} else if (inet_pton(AF_INET6, ep, v6) == 1) {
		h = ep;
		n = asprintf(url, "https://[%s]:%s", ep, APISERVER_PORT);
	} else if (strchr(ep, ':') != NULL) {
		h = ep;
		n = asprintf(url, "https://%s", ep);
	} else {
		h = ep;
		n = asprintf(url, "https://%s:%s", ep, APISERVER_PORT);
	}
	if (n < 0)
		goto nomem;
	/* The host: [v6] / v6 literal / name or v4, up to :port or /path. */
	if (*h == '[') {
		h++;
		he = strchr(h, ']');
	} else if (inet_pton(AF_INET6, h, v6) == 1)
		he = h + strlen(h);
	else {
		he = h + strcspn(h, "/?#");
		colon = memchr(h, ':', (size_t)(he - h));
		if (colon != NULL)
			he = colon;
	}
	hlen = he != NULL ? (size_t)(he - h) : 0;
	if (hlen == 0) {
		berr(b, "apiserver_endpoint \"%s\": no host in it", ep);
		free(*url);
		*url = NULL;
		return KORCH_ERR_INVALID_ARG;
	}
	if ((*host = strndup(h, hlen)) == NULL)
		goto nomem;
	return 0;
nomem:
	free(*url);
	*url = NULL;
	berr(b, "out of memory");
	return KORCH_ERR_ALLOC;
}

/* With apiserver_lb local every kubeconfig names 127.0.0.1; the
 * endpoint's host stays in the apiserver's SANs. */
static int
local_endpoint(struct build *b)
{
	char *url;

	if (strcmp(b->inv->cluster.apiserver_lb, "local") != 0)
		return 0;
	if ((url = strdup(LOCAL_APISERVER_URL)) == NULL) {
		berr(b, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	free(b->cp->server_url);
	b->cp->server_url = url;
	return 0;
}

/*
 * Read name back from the PKI directory into a new entry: the
 * certificate, the key (with_key), the public key (sa) and fingerprint.
 */
static int
load_entry(struct build *b, const char *name, int with_key, int is_sa)
{
	struct cluster_pki *cp = b->cp;
	struct cp_entry e, *ne;
	int r;

	memset(&e, 0, sizeof(e));
	if ((ne = grow_room(cp->e, cp->n, &cp->cap, sizeof(*ne), 16)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto fail;
	}
	cp->e = ne;
	if ((e.name = strdup(name)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto fail;
	}
	if (is_sa)
		r = pki_read(b->p, name, NULL, &e.key);
	else
		r = pki_read(b->p, name, &e.crt, with_key ? &e.key : NULL);
	if (r != 0 || (is_sa && (r = pki_read_pub(b->p, name, &e.pub)) != 0) ||
	    (r = pki_fingerprint(b->p, name, e.fp)) != 0) {
		berr(b, "%s", pki_errmsg(b->p));
		goto out;
	}
	cp->e[cp->n++] = e;
	return 0;
fail:
	berr(b, "out of memory");
out:
	cp_entry_clear(&e);
	return r;
}

/* 1 when name is one of the certificates asked to be renewed. */
static int
wanted(const struct cluster_pki_opts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nrenew; i++)
		if (o->renew[i] != NULL && strcmp(o->renew[i], name) == 0)
			return 1;
	return 0;
}

/* Ensure one certificate, report a regeneration, read it back. */
static int
issue(struct build *b, const char *name, const char *cn,
    const char *const *orgs, size_t norgs, const struct strlist *dns,
    const struct strlist *ips, unsigned usage)
{
	struct pki_req rq;
	char why[512];
	int regen = 0, r;

	memset(&rq, 0, sizeof(rq));
	rq.name = name;
	rq.cn = cn;
	rq.orgs = orgs;
	rq.norgs = norgs;
	if (dns != NULL) {
		rq.dns = (const char *const *)dns->v;
		rq.ndns = dns->n;
	}
	if (ips != NULL) {
		rq.ips = (const char *const *)ips->v;
		rq.nips = ips->n;
	}
	rq.usage = usage;
	rq.days = b->o.cert_days;
	rq.force = b->o.renew_all || wanted(&b->o, name);
	if (b->o.read_only)
		return load_entry(b, name, 1, 0);
	if ((r = pki_ensure_cert(b->p, &rq, b->o.renew_days, &regen, why,
	    sizeof(why))) != 0) {
		berr(b, "%s", pki_errmsg(b->p));
		return r;
	}
	if (regen && b->o.report != NULL)
		b->o.report(b->o.report_arg, name, why);
	return load_entry(b, name, 1, 0);
}

/* A certificate for one host: H's name and address (+ localhost). */
static int
issue_host(struct build *b, const char *name, const char *cn,
    const char *const *orgs, size_t norgs, const struct inv_host *h,
    int loopback, unsigned usage)
{
	struct strlist dns = { 0 }, ips = { 0 };
	int r;

	if ((r = strlist_add(&dns, h->name)) != 0 ||
	    (r = san_add_addr(&dns, &ips, h->address, strlen(h->address)))
	    != 0 || (loopback && ((r = strlist_add(&dns, "localhost")) != 0 ||
	    (r = strlist_add(&ips, "127.0.0.1")) != 0))) {
		berr(b, "out of memory");
		goto out;
	}
	r = issue(b, name, cn, orgs, norgs, &dns, &ips, usage);
out:
	strlist_free(&dns);
	strlist_free(&ips);
	return r;
}

static int
issue_apiserver(struct build *b, const char *endpoint_host)
{
	const struct inventory *inv = b->inv;
	struct strlist dns = { 0 }, ips = { 0 };
	char svcip[INET6_ADDRSTRLEN], *fqdn = NULL;
	const char *extra;
	size_t i;
	int r;

	if (first_service_ip(inv->cluster.service_cidr, svcip,
	    sizeof(svcip)) != 0) {
		berr(b, "cluster.service_cidr \"%s\": no first address",
		    inv->cluster.service_cidr);
		r = KORCH_ERR_INVALID_ARG;
		goto out;
	}
	if (asprintf(&fqdn, "kubernetes.default.svc.%s",
	    inv->cluster.dns_domain) < 0) {
		fqdn = NULL;
		r = KORCH_ERR_ALLOC;
		goto nomem;
	}
	if ((r = strlist_add(&dns, "kubernetes")) != 0 ||
	    (r = strlist_add(&dns, "kubernetes.default")) != 0 ||
	    (r = strlist_add(&dns, "kubernetes.default.svc")) != 0 ||
	    (r = strlist_add(&dns, fqdn)) != 0 ||
	    (r = strlist_add(&dns, "localhost")) != 0 ||
	    (r = strlist_add(&ips, svcip)) != 0 ||
	    (r = strlist_add(&ips, "127.0.0.1")) != 0 ||
	    (r = san_add_addr(&dns, &ips, endpoint_host,
	    strlen(endpoint_host))) != 0)
		goto nomem;
	for (i = 0; i < inv->nhosts; i++) {
		if (!inventory_host_has_role(&inv->hosts[i], "master"))
			continue;
		if ((r = strlist_add(&dns, inv->hosts[i].name)) != 0 ||
		    (r = san_add_addr(&dns, &ips, inv->hosts[i].address,
		    strlen(inv->hosts[i].address))) != 0)
			goto nomem;
	}
	if ((extra = vars_get(inv->vars, "apiserver_extra_sans")) != NULL &&
	    (r = san_add_csv(&dns, &ips, extra)) != 0)
		goto nomem;
	for (i = 0; i < b->o.nextra_sans; i++) {
		if (b->o.extra_sans[i] == NULL)
			continue;
		if ((r = san_add_csv(&dns, &ips, b->o.extra_sans[i])) != 0)
			goto nomem;
	}
	r = issue(b, "apiserver", "kube-apiserver", NULL, 0, &dns, &ips,
	    PKI_SERVER);
	goto out;
nomem:
	berr(b, "out of memory");
out:
	free(fqdn);
	strlist_free(&dns);
	strlist_free(&ips);
	return r;
}

/* Attach a kubeconfig for user (the certificate's CN) to entry name. */
static int
add_kubeconfig(struct build *b, const char *name, const char *user)
{
	const char *server = b->cp->server_url;
	struct cp_entry *e = cp_find(b->cp, name), *ca = cp_find(b->cp, "ca");
	int r;

	if (e == NULL || ca == NULL) {
		berr(b, "internal: no entry %s", name);
		return KORCH_ERR_INTERNAL;
	}
	r = pki_kubeconfig(b->inv->cluster.name, server, ca->crt,
	    user, e->crt, e->key, &e->kubeconfig);
	if (r != 0)
		berr(b, "kubeconfig for %s (server %s): %s", name,
		    server, korch_strerror(r));
	return r;
}

/* ---- the whole set ----------------------------------------------------------- */

static void
report_created(struct build *b, const char *name, int created)
{
	if (created && b->o.report != NULL)
		b->o.report(b->o.report_arg, name, "created");
}

/* b from the arguments, with the options' defaults; *first_master gets
 * the host whose address the kubeconfigs name by default. */
static int
build_start(struct build *b, const struct inventory *inv,
    const char *pki_dir, const struct cluster_pki_opts *o,
    struct cluster_pki **out, char *err, size_t errlen,
    const struct inv_host **first_master)
{
	size_t i;

	memset(b, 0, sizeof(*b));
	b->err = err;
	b->errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (inv == NULL || pki_dir == NULL || out == NULL) {
		berr(b, "cluster_pki_ensure: NULL argument");
		return KORCH_ERR_INVALID_ARG;
	}
	if (o != NULL)
		b->o = *o;
	if (b->o.renew_days < 0 || b->o.cert_days < 0 || b->o.ca_days < 0 ||
	    (b->o.nextra_sans > 0 && b->o.extra_sans == NULL)) {
		berr(b, "cluster_pki_ensure: bad options");
		return KORCH_ERR_INVALID_ARG;
	}
	if (b->o.renew_days == 0)
		b->o.renew_days = CLUSTER_PKI_RENEW_DAYS;
	if (b->o.cert_days == 0)
		b->o.cert_days = CLUSTER_PKI_CERT_DAYS;
	if (b->o.ca_days == 0)
		b->o.ca_days = CLUSTER_PKI_CA_DAYS;
	b->inv = inv;
	*first_master = NULL;
	for (i = 0; i < inv->nhosts && *first_master == NULL; i++)
		if (inventory_host_has_role(&inv->hosts[i], "master"))
			*first_master = &inv->hosts[i];
	if (*first_master == NULL) {
		berr(b, "no host has the role master: no API server to make "
		    "certificates for");
		return KORCH_ERR_INVALID_ARG;
	}
	return 0;
}

/* The CA and the service-account key: made once, then kept. */
static int
ensure_ca_and_sa(struct build *b)
{
	char *ca_cn = NULL;
	int created = 0, r;

	if (asprintf(&ca_cn, "korch-ca-%s", b->inv->cluster.name) < 0) {
		berr(b, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	/* Read only: the CA is listed as it is, even expired. */
	r = b->o.read_only ? 0 :
	    pki_ensure_ca(b->p, ca_cn, b->o.ca_days, &created);
	free(ca_cn);
	if (r != 0) {
		berr(b, "%s", pki_errmsg(b->p));
		return r;
	}
	report_created(b, "ca", created);
	if ((r = load_entry(b, "ca", 0, 0)) != 0)
		return r;
	if (b->o.read_only)
		return load_entry(b, "sa", 1, 1);
	if ((r = pki_ensure_rsa_key(b->p, "sa", SA_BITS, &created)) != 0) {
		berr(b, "%s", pki_errmsg(b->p));
		return r;
	}
	report_created(b, "sa", created);
	return load_entry(b, "sa", 1, 1);
}

/* Each etcd host's server and peer pairs. */
static int
issue_etcd(struct build *b)
{
	const struct inventory *inv = b->inv;
	const struct inv_host *h;
	char name[PKI_NAME_MAX + 1];
	size_t i, k;
	int r;

	for (i = 0; i < inv->nhosts; i++) {
		h = &inv->hosts[i];
		if (!inventory_host_has_role(h, "etcd"))
			continue;
		/* The server and the peer pair are the same shape. */
		for (k = 0; k < 2; k++) {
			if ((r = cp_stem(name, sizeof(name), k == 0 ?
			    "etcd-server-" : "etcd-peer-", h->name)) != 0) {
				berr(b, "host name %s: too long", h->name);
				return r;
			}
			if ((r = issue_host(b, name, h->name, NULL, 0, h, 1,
			    PKI_SERVER | PKI_CLIENT)) != 0)
				return r;
		}
	}
	return 0;
}

/* The etcd client, the apiserver and the clients of the apiserver on the
 * masters; endpoint_host: the host in the kubeconfigs' URL. */
static int
issue_control_plane(struct build *b, const char *endpoint_host)
{
	static const char *const masters[] = { "system:masters" };
	int r;

	if ((r = issue(b, "etcd-client", "etcd-client", NULL, 0, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue_apiserver(b, endpoint_host)) != 0 ||
	    (r = issue(b, "apiserver-kubelet-client",
	    "kube-apiserver-kubelet-client", masters, 1, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue(b, "admin", "admin", masters, 1, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue(b, "controller-manager",
	    "system:kube-controller-manager", NULL, 0, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue(b, "scheduler", "system:kube-scheduler", NULL, 0,
	    NULL, NULL, PKI_CLIENT)) != 0 ||
	    /* korch's own health probes: in no group, so it can do only
	     * what the cluster grants korch:health (healthz, reading
	     * nodes), never what system:masters can. */
	    (r = issue(b, "health", "korch:health", NULL, 0, NULL, NULL,
	    PKI_CLIENT)) != 0)
		return r;
	return 0;
}

/* Each node's kubelet (with its kubeconfig), then kube-proxy. */
static int
issue_nodes(struct build *b)
{
	static const char *const nodes[] = { "system:nodes" };
	const struct inventory *inv = b->inv;
	const struct inv_host *h;
	char name[PKI_NAME_MAX + 1], cn[PKI_NAME_MAX + 16];
	size_t i;
	int r;

	for (i = 0; i < inv->nhosts; i++) {
		h = &inv->hosts[i];
		if (!inventory_host_has_role(h, "node"))
			continue;
		if ((r = cp_stem(name, sizeof(name), "kubelet-", h->name))
		    != 0 || (r = cp_stem(cn, sizeof(cn), "system:node:",
		    h->name)) != 0) {
			berr(b, "host name %s: too long", h->name);
			return r;
		}
		if ((r = issue_host(b, name, cn, nodes, 1, h, 0,
		    PKI_SERVER | PKI_CLIENT)) != 0)
			return r;
		if ((r = add_kubeconfig(b, name, cn)) != 0)
			return r;
	}
	return issue(b, "kube-proxy", "system:kube-proxy", NULL, 0, NULL,
	    NULL, PKI_CLIENT);
}

/* The kubeconfigs of the clients that are not kubelets. */
static int
add_kubeconfigs(struct build *b)
{
	int r;

	if ((r = add_kubeconfig(b, "admin", "admin")) != 0 ||
	    (r = add_kubeconfig(b, "controller-manager",
	    "system:kube-controller-manager")) != 0 ||
	    (r = add_kubeconfig(b, "scheduler", "system:kube-scheduler"))
	    != 0 ||
	    (r = add_kubeconfig(b, "health", "korch:health")) != 0 ||
	    (r = add_kubeconfig(b, "kube-proxy", "system:kube-proxy")) != 0)
		return r;
	return 0;
}

int
cluster_pki_ensure(const struct inventory *inv, const char *pki_dir,
    const struct cluster_pki_opts *o, struct cluster_pki **out, char *err,
    size_t errlen)
{
	struct build b;
	const struct inv_host *first_master;
	char *host = NULL;
	int r;

	if ((r = build_start(&b, inv, pki_dir, o, out, err, errlen,
	    &first_master)) != 0)
		return r;
	if ((b.cp = calloc(1, sizeof(*b.cp))) == NULL) {
		berr(&b, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if ((r = server_endpoint(&b, first_master, &b.cp->server_url,
	    &host)) != 0 ||
	    (r = local_endpoint(&b)) != 0 ||
	    (r = pki_open(pki_dir, &b.p, err, errlen)) != 0 ||
	    (r = ensure_ca_and_sa(&b)) != 0 ||
	    (r = issue_etcd(&b)) != 0 ||
	    (r = issue_control_plane(&b, host)) != 0 ||
	    (r = issue_nodes(&b)) != 0 ||
	    (r = add_kubeconfigs(&b)) != 0)
		goto out;
	*out = b.cp;
	b.cp = NULL;
	r = 0;
out:
	free(host);
	pki_free(b.p);
	cluster_pki_free(b.cp);
	return r;
}
