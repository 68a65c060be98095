/*
 * cluster_pki.c - the Kubernetes certificate set of an inventory.  See
 * cluster_pki.h for what is made, for whom, and the variables.
 *
 * Everything is made through pki.h in one pass, then read back into
 * memory so rendering many hosts touches no file.  Private keys and
 * kubeconfigs (which embed keys) are wiped when the set is freed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "spec/inventory.h"
#include "cluster/pki.h"
#include "engine/vars.h"
#include "cluster/cluster_pki.h"
#include "sha256hex.h"

#define APISERVER_PORT	"6443"
#define SA_BITS		2048

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

/* Owned strings (SAN lists). */
struct strlist {
	char		**v;
	size_t		 n, cap;
};

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

/* ---- string lists ----------------------------------------------------------- */

static void
sl_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
sl_addn(struct strlist *l, const char *s, size_t len)
{
	char **nv;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 16;
		if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL)
			return KORCH_ERR_ALLOC;
		l->v = nv;
		l->cap = ncap;
	}
	if ((l->v[l->n] = strndup(s, len)) == NULL)
		return KORCH_ERR_ALLOC;
	l->n++;
	return 0;
}

static int
sl_add(struct strlist *l, const char *s)
{
	return sl_addn(l, s, strlen(s));
}

static int
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/* An address or name: into ips when it parses as one, else into dns. */
static int
sl_add_addr(struct strlist *dns, struct strlist *ips, const char *s,
    size_t len)
{
	char buf[256];

	if (len >= sizeof(buf))
		return sl_addn(dns, s, len);	/* pki rejects it by name */
	memcpy(buf, s, len);
	buf[len] = '\0';
	return sl_addn(is_ip(buf) ? ips : dns, s, len);
}

/* Each non-empty, space-trimmed item of a comma-separated list. */
static int
sl_add_csv(struct strlist *dns, struct strlist *ips, const char *csv)
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
		if (e > s && (r = sl_add_addr(dns, ips, s, (size_t)(e - s)))
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
 * from apiserver_endpoint or the first master.
 */
static int
server_endpoint(struct build *b, const struct inv_host *master, char **url,
    char **host)
{
	const char *ep = vars_get(b->inv->vars, "apiserver_endpoint");
	const char *h, *he, *colon;
	unsigned char v6[16];
	size_t hlen;
	int n;

	*url = *host = NULL;
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

/* buf = prefix + host name; 0, or KORCH_ERR_TOO_LARGE (never truncated,
 * so two long names cannot collide). */
static int
stem(char *buf, size_t size, const char *prefix, const char *hostname)
{
	int n = snprintf(buf, size, "%s%s", prefix, hostname);

	return n < 0 || (size_t)n >= size ? KORCH_ERR_TOO_LARGE : 0;
}

/* ---- entries ------------------------------------------------------------------ */

static void
entry_clear(struct cp_entry *e)
{
	free(e->name);
	free(e->crt);
	pki_free_secret(e->key);
	free(e->pub);
	pki_free_secret(e->kubeconfig);
	memset(e, 0, sizeof(*e));
}

static struct cp_entry *
find(const struct cluster_pki *cp, const char *name)
{
	size_t i;

	for (i = 0; i < cp->n; i++)
		if (strcmp(cp->e[i].name, name) == 0)
			return &cp->e[i];
	return NULL;
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
	size_t ncap;
	int r;

	memset(&e, 0, sizeof(e));
	if (cp->n == cp->cap) {
		ncap = cp->cap ? cp->cap * 2 : 16;
		if ((ne = realloc(cp->e, ncap * sizeof(*ne))) == NULL) {
			r = KORCH_ERR_ALLOC;
			goto fail;
		}
		cp->e = ne;
		cp->cap = ncap;
	}
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
	entry_clear(&e);
	return r;
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

	if ((r = sl_add(&dns, h->name)) != 0 ||
	    (r = sl_add_addr(&dns, &ips, h->address, strlen(h->address)))
	    != 0 || (loopback && ((r = sl_add(&dns, "localhost")) != 0 ||
	    (r = sl_add(&ips, "127.0.0.1")) != 0))) {
		berr(b, "out of memory");
		goto out;
	}
	r = issue(b, name, cn, orgs, norgs, &dns, &ips, usage);
out:
	sl_free(&dns);
	sl_free(&ips);
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
	if ((r = sl_add(&dns, "kubernetes")) != 0 ||
	    (r = sl_add(&dns, "kubernetes.default")) != 0 ||
	    (r = sl_add(&dns, "kubernetes.default.svc")) != 0 ||
	    (r = sl_add(&dns, fqdn)) != 0 ||
	    (r = sl_add(&dns, "localhost")) != 0 ||
	    (r = sl_add(&ips, svcip)) != 0 ||
	    (r = sl_add(&ips, "127.0.0.1")) != 0 ||
	    (r = sl_add_addr(&dns, &ips, endpoint_host,
	    strlen(endpoint_host))) != 0)
		goto nomem;
	for (i = 0; i < inv->nhosts; i++) {
		if (!inventory_host_has_role(&inv->hosts[i], "master"))
			continue;
		if ((r = sl_add(&dns, inv->hosts[i].name)) != 0 ||
		    (r = sl_add_addr(&dns, &ips, inv->hosts[i].address,
		    strlen(inv->hosts[i].address))) != 0)
			goto nomem;
	}
	if ((extra = vars_get(inv->vars, "apiserver_extra_sans")) != NULL &&
	    (r = sl_add_csv(&dns, &ips, extra)) != 0)
		goto nomem;
	for (i = 0; i < b->o.nextra_sans; i++) {
		if (b->o.extra_sans[i] == NULL)
			continue;
		if ((r = sl_add_csv(&dns, &ips, b->o.extra_sans[i])) != 0)
			goto nomem;
	}
	r = issue(b, "apiserver", "kube-apiserver", NULL, 0, &dns, &ips,
	    PKI_SERVER);
	goto out;
nomem:
	berr(b, "out of memory");
out:
	free(fqdn);
	sl_free(&dns);
	sl_free(&ips);
	return r;
}

/* Attach a kubeconfig for user (the certificate's CN) to entry name. */
static int
add_kubeconfig(struct build *b, const char *name, const char *user)
{
	struct cp_entry *e = find(b->cp, name), *ca = find(b->cp, "ca");
	int r;

	if (e == NULL || ca == NULL) {
		berr(b, "internal: no entry %s", name);
		return KORCH_ERR_INTERNAL;
	}
	r = pki_kubeconfig(b->inv->cluster.name, b->cp->server_url, ca->crt,
	    user, e->crt, e->key, &e->kubeconfig);
	if (r != 0)
		berr(b, "kubeconfig for %s (server %s): %s", name,
		    b->cp->server_url, korch_strerror(r));
	return r;
}

/* ---- the whole set ----------------------------------------------------------- */

static void
report_created(struct build *b, const char *name, int created)
{
	if (created && b->o.report != NULL)
		b->o.report(b->o.report_arg, name, "created");
}

int
cluster_pki_ensure(const struct inventory *inv, const char *pki_dir,
    const struct cluster_pki_opts *o, struct cluster_pki **out, char *err,
    size_t errlen)
{
	static const char *const masters[] = { "system:masters" };
	static const char *const nodes[] = { "system:nodes" };
	struct build b;
	const struct inv_host *h, *first_master = NULL;
	char name[PKI_NAME_MAX + 1], cn[PKI_NAME_MAX + 16], *host = NULL;
	char *ca_cn = NULL;
	size_t i, k;
	int created = 0, r;

	memset(&b, 0, sizeof(b));
	b.err = err;
	b.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (inv == NULL || pki_dir == NULL || out == NULL) {
		berr(&b, "cluster_pki_ensure: NULL argument");
		return KORCH_ERR_INVALID_ARG;
	}
	if (o != NULL)
		b.o = *o;
	if (b.o.renew_days < 0 || b.o.cert_days < 0 || b.o.ca_days < 0 ||
	    (b.o.nextra_sans > 0 && b.o.extra_sans == NULL)) {
		berr(&b, "cluster_pki_ensure: bad options");
		return KORCH_ERR_INVALID_ARG;
	}
	if (b.o.renew_days == 0)
		b.o.renew_days = CLUSTER_PKI_RENEW_DAYS;
	if (b.o.cert_days == 0)
		b.o.cert_days = CLUSTER_PKI_CERT_DAYS;
	if (b.o.ca_days == 0)
		b.o.ca_days = CLUSTER_PKI_CA_DAYS;
	b.inv = inv;
	for (i = 0; i < inv->nhosts && first_master == NULL; i++)
		if (inventory_host_has_role(&inv->hosts[i], "master"))
			first_master = &inv->hosts[i];
	if (first_master == NULL) {
		berr(&b, "no host has the role master: no API server to make "
		    "certificates for");
		return KORCH_ERR_INVALID_ARG;
	}

	if ((b.cp = calloc(1, sizeof(*b.cp))) == NULL) {
		berr(&b, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if ((r = server_endpoint(&b, first_master, &b.cp->server_url,
	    &host)) != 0)
		goto out;
	if ((r = pki_open(pki_dir, &b.p, err, errlen)) != 0)
		goto out;

	if (asprintf(&ca_cn, "korch-ca-%s", inv->cluster.name) < 0) {
		ca_cn = NULL;
		berr(&b, "out of memory");
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if ((r = pki_ensure_ca(b.p, ca_cn, b.o.ca_days, &created)) != 0) {
		berr(&b, "%s", pki_errmsg(b.p));
		goto out;
	}
	report_created(&b, "ca", created);
	if ((r = load_entry(&b, "ca", 0, 0)) != 0)
		goto out;
	if ((r = pki_ensure_rsa_key(b.p, "sa", SA_BITS, &created)) != 0) {
		berr(&b, "%s", pki_errmsg(b.p));
		goto out;
	}
	report_created(&b, "sa", created);
	if ((r = load_entry(&b, "sa", 1, 1)) != 0)
		goto out;

	for (i = 0; i < inv->nhosts; i++) {
		h = &inv->hosts[i];
		if (!inventory_host_has_role(h, "etcd"))
			continue;
		/* The server and the peer pair are the same shape. */
		for (k = 0; k < 2; k++) {
			if ((r = stem(name, sizeof(name), k == 0 ?
			    "etcd-server-" : "etcd-peer-", h->name)) != 0) {
				berr(&b, "host name %s: too long", h->name);
				goto out;
			}
			if ((r = issue_host(&b, name, h->name, NULL, 0, h, 1,
			    PKI_SERVER | PKI_CLIENT)) != 0)
				goto out;
		}
	}
	if ((r = issue(&b, "etcd-client", "etcd-client", NULL, 0, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue_apiserver(&b, host)) != 0 ||
	    (r = issue(&b, "apiserver-kubelet-client",
	    "kube-apiserver-kubelet-client", masters, 1, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue(&b, "admin", "admin", masters, 1, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue(&b, "controller-manager",
	    "system:kube-controller-manager", NULL, 0, NULL, NULL,
	    PKI_CLIENT)) != 0 ||
	    (r = issue(&b, "scheduler", "system:kube-scheduler", NULL, 0,
	    NULL, NULL, PKI_CLIENT)) != 0 ||
	    /* korch's own health probes: in no group, so it can do only
	     * what the cluster grants korch:health (healthz, reading
	     * nodes), never what system:masters can. */
	    (r = issue(&b, "health", "korch:health", NULL, 0, NULL, NULL,
	    PKI_CLIENT)) != 0)
		goto out;
	for (i = 0; i < inv->nhosts; i++) {
		h = &inv->hosts[i];
		if (!inventory_host_has_role(h, "node"))
			continue;
		if ((r = stem(name, sizeof(name), "kubelet-", h->name)) != 0 ||
		    (r = stem(cn, sizeof(cn), "system:node:", h->name)) != 0) {
			berr(&b, "host name %s: too long", h->name);
			goto out;
		}
		if ((r = issue_host(&b, name, cn, nodes, 1, h, 0,
		    PKI_SERVER | PKI_CLIENT)) != 0)
			goto out;
		if ((r = add_kubeconfig(&b, name, cn)) != 0)
			goto out;
	}
	if ((r = issue(&b, "kube-proxy", "system:kube-proxy", NULL, 0, NULL,
	    NULL, PKI_CLIENT)) != 0)
		goto out;

	if ((r = add_kubeconfig(&b, "admin", "admin")) != 0 ||
	    (r = add_kubeconfig(&b, "controller-manager",
	    "system:kube-controller-manager")) != 0 ||
	    (r = add_kubeconfig(&b, "scheduler", "system:kube-scheduler"))
	    != 0 ||
	    (r = add_kubeconfig(&b, "health", "korch:health")) != 0 ||
	    (r = add_kubeconfig(&b, "kube-proxy", "system:kube-proxy")) != 0)
		goto out;
	*out = b.cp;
	b.cp = NULL;
	r = 0;
out:
	free(ca_cn);
	free(host);
	pki_free(b.p);
	cluster_pki_free(b.cp);
	return r;
}

void
cluster_pki_free(struct cluster_pki *cp)
{
	size_t i;

	if (cp == NULL)
		return;
	for (i = 0; i < cp->n; i++)
		entry_clear(&cp->e[i]);
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

/*
 * pki.<prefix>_crt / _key (either skipped when the suffix is NULL) and
 * pki.fp_<prefix> from entry name.
 */
static int
set_pair(struct vars *out, const struct cluster_pki *cp, const char *name,
    const char *prefix, int with_crt, int with_key)
{
	const struct cp_entry *e = find(cp, name);
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
		if ((r = set(out, var, e->key)) != 0)
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
	const struct cp_entry *e = find(cp, name);
	char var[96];
	int r;

	if (e == NULL)
		return KORCH_ERR_NOT_FOUND;
	snprintf(var, sizeof(var), "pki.kubeconfig_%s", prefix);
	if ((r = set(out, var, e->kubeconfig)) != 0)
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
		if ((r = stem(name, sizeof(name), "etcd-server-", h->name))
		    != 0 ||
		    (r = set_pair(out, cp, name, "etcd_server", 1, 1)) != 0 ||
		    (r = stem(name, sizeof(name), "etcd-peer-", h->name))
		    != 0 ||
		    (r = set_pair(out, cp, name, "etcd_peer", 1, 1)) != 0)
			return r;
	}
	if (master) {
		if ((sa = find(cp, "sa")) == NULL)
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
		if ((r = stem(name, sizeof(name), "kubelet-", h->name)) != 0 ||
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
	const struct cp_entry *e;

	if (cp == NULL || name == NULL || (e = find(cp, name)) == NULL)
		return NULL;
	return e->fp;
}

const char *
cluster_pki_cert(const struct cluster_pki *cp, const char *name)
{
	const struct cp_entry *e;

	if (cp == NULL || name == NULL || (e = find(cp, name)) == NULL)
		return NULL;
	return e->crt;
}
