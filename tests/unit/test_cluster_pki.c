/*
 * test_cluster_pki.c - the cluster's certificate set from an inventory:
 * the apiserver's SANs (first service IP, every master, extra SANs, the
 * endpoint), kubelet and etcd certificates, what a changed service CIDR
 * re-issues (the apiserver certificate alone), and which host gets which
 * private key.
 *
 * Each test writes its inventory into a fresh directory and keeps the PKI
 * directory beside it.
 */
#include <arpa/inet.h>
#include <dirent.h>

#include "helpers_ctl.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cluster/cluster_pki.h"

#define INV_HEAD \
	"cluster:\n" \
	"  name: t\n"
#define INV_HOSTS \
	"hosts:\n" \
	"  - name: m1\n" \
	"    address: 198.18.1.11\n" \
	"    roles: [etcd, master]\n" \
	"  - name: m2\n" \
	"    address: \"2001:db8::12\"\n" \
	"    roles: [master]\n" \
	"  - name: e2\n" \
	"    address: 198.18.1.13\n" \
	"    roles: [etcd]\n" \
	"  - name: n1\n" \
	"    address: 198.18.1.21\n" \
	"    roles: [node]\n" \
	"  - name: n2\n" \
	"    address: n2.example.com\n" \
	"    roles: [node]\n" \
	"  - name: lb1\n" \
	"    address: 198.18.1.31\n" \
	"    roles: [lb]\n"

static const char inv_base[] = INV_HEAD
    "  apiserver_lb: none\n"
    "  service_cidr: 10.254.0.0/16\n"
    "  vars:\n"
    "    apiserver_extra_sans: \" api.example.com, 203.0.113.10 ,\"\n"
    INV_HOSTS;

static const char inv_new_cidr[] = INV_HEAD
    "  apiserver_lb: none\n"
    "  service_cidr: 10.96.0.0/12\n"
    "  vars:\n"
    "    apiserver_extra_sans: \" api.example.com, 203.0.113.10 ,\"\n"
    INV_HOSTS;

static const char inv_endpoint[] = INV_HEAD
    "  dns_domain: k8s.example\n"
    "  vars:\n"
    "    apiserver_endpoint: https://lb.example.com:8443\n"
    INV_HOSTS;

static const char inv_local_lb[] = INV_HEAD
    "  apiserver_lb: local\n"
    "  vars:\n"
    "    apiserver_endpoint: https://lb.example.com:8443\n"
    INV_HOSTS;

static const char inv_vip_lb[] = INV_HEAD
    "  apiserver_lb: vip\n"
    "  apiserver_vip: 198.18.1.250\n"
    INV_HOSTS;

static const char inv_no_master[] = INV_HEAD
    "hosts:\n"
    "  - name: n1\n"
    "    address: 198.18.1.21\n"
    "    roles: [node]\n";

struct fx {
	char			 dir[64];
	char			 pkidir[96];
	struct inventory	*inv;
	struct cluster_pki	*cp;
	/* What the report callback saw: "name=why" lines. */
	char			 seen[16384];
	int			 nseen;
};

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(th_mkdtemp(fx->dir, sizeof(fx->dir), "korch-cpki"),
	    0);
	snprintf(fx->pkidir, sizeof(fx->pkidir), "%s/pki", fx->dir);
	setenv("HOME", fx->dir, 1);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	cluster_pki_free(fx->cp);
	inventory_free(fx->inv);
	(void)th_rmtree(fx->dir);
	free(fx);
	return 0;
}

/* Write yaml as the inventory and load it (replacing any loaded one). */
static void
load_inv(struct fx *fx, const char *yaml)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/inventory.yaml", fx->dir);
	th_put(NULL, path, yaml);
	inventory_free(fx->inv);
	fx->inv = NULL;		/* for the teardown, should the load fail */
	fx->inv = th_inv_load(path);
}

static void
report(void *arg, const char *name, const char *why)
{
	struct fx *fx = arg;
	size_t len = strlen(fx->seen);

	snprintf(fx->seen + len, sizeof(fx->seen) - len, "%s=%s\n", name,
	    why);
	fx->nseen++;
}

/* cluster_pki_ensure with the report callback; fx->cp replaced. */
static void
ensure(struct fx *fx)
{
	struct cluster_pki_opts o;
	char err[512];
	int r;

	memset(&o, 0, sizeof(o));
	o.report = report;
	o.report_arg = fx;
	fx->seen[0] = '\0';
	fx->nseen = 0;
	cluster_pki_free(fx->cp);
	fx->cp = NULL;
	r = cluster_pki_ensure(fx->inv, fx->pkidir, &o, &fx->cp, err,
	    sizeof(err));
	if (r != 0)
		fail_msg("cluster_pki_ensure: %d %s", r, err);
}

static X509 *
cert(struct fx *fx, const char *name)
{
	const char *pem = cluster_pki_cert(fx->cp, name);
	BIO *b;
	X509 *x;

	if (pem == NULL)
		fail_msg("no certificate %s", name);
	assert_non_null(b = BIO_new_mem_buf(pem, -1));
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

/* The SANs as one string: " DNS:a IP:b ... " in certificate order. */
static void
sans(X509 *x, char *out, size_t size)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	const ASN1_STRING *s;
	char ip[INET6_ADDRSTRLEN];
	size_t len;
	int i, type;
	void *v;

	snprintf(out, size, " ");
	for (i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
		v = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
		s = v;
		len = strlen(out);
		if (type == GEN_DNS)
			snprintf(out + len, size - len, "DNS:%.*s ",
			    ASN1_STRING_length(s),
			    (const char *)ASN1_STRING_get0_data(s));
		else if (type == GEN_IPADD) {
			assert_non_null(inet_ntop(ASN1_STRING_length(s) == 4 ?
			    AF_INET : AF_INET6, ASN1_STRING_get0_data(s), ip,
			    sizeof(ip)));
			snprintf(out + len, size - len, "IP:%s ", ip);
		}
	}
	GENERAL_NAMES_free(g);
}

static void
expect_sans(X509 *x, const char *const *want, size_t nwant, size_t total)
{
	char all[4096], one[300];
	size_t i, count = 0;
	const char *p;

	sans(x, all, sizeof(all));
	for (i = 0; i < nwant; i++) {
		snprintf(one, sizeof(one), " %s ", want[i]);
		if (strstr(all, one) == NULL)
			fail_msg("SAN %s missing from [%s]", want[i], all);
	}
	/* Entries are space-separated (IPv6 addresses hold colons). */
	for (p = all + 1; *p != '\0'; p++)
		count += *p == ' ';
	if (total > 0 && count != total)
		fail_msg("%zu SANs, want %zu: [%s]", count, total, all);
}

static void
expect_subject(X509 *x, const char *cn, const char *o)
{
	char buf[256];
	X509_NAME *nm = X509_get_subject_name(x);

	assert_true(X509_NAME_get_text_by_NID(nm, NID_commonName, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf, cn);
	if (o == NULL)
		assert_int_equal(X509_NAME_get_index_by_NID(nm,
		    NID_organizationName, -1), -1);
	else {
		assert_true(X509_NAME_get_text_by_NID(nm,
		    NID_organizationName, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, o);
	}
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_apiserver_sans(void **state)
{
	struct fx *fx = *state;
	static const char *const want[] = {
		"DNS:kubernetes", "DNS:kubernetes.default",
		"DNS:kubernetes.default.svc",
		"DNS:kubernetes.default.svc.cluster.local",
		"DNS:localhost", "DNS:m1", "DNS:m2", "DNS:api.example.com",
		"IP:10.254.0.1", "IP:127.0.0.1", "IP:198.18.1.11",
		"IP:2001:db8::12", "IP:203.0.113.10",
	};
	X509 *x;

	load_inv(fx, inv_base);
	ensure(fx);
	x = cert(fx, "apiserver");
	expect_sans(x, want, sizeof(want) / sizeof(want[0]),
	    sizeof(want) / sizeof(want[0]));
	expect_subject(x, "kube-apiserver", NULL);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	X509_free(x);
	assert_string_equal(cluster_pki_server_url(fx->cp),
	    "https://198.18.1.11:6443");
}

static void
test_endpoint(void **state)
{
	struct fx *fx = *state;
	static const char *const want[] = { "DNS:lb.example.com",
	    "DNS:kubernetes.default.svc.k8s.example", "IP:10.254.0.1" };
	struct vars *v;
	X509 *x;

	load_inv(fx, inv_endpoint);
	ensure(fx);
	assert_string_equal(cluster_pki_server_url(fx->cp),
	    "https://lb.example.com:8443");
	x = cert(fx, "apiserver");
	expect_sans(x, want, 3, 0);
	X509_free(x);
	assert_non_null(v = vars_new(NULL));
	assert_int_equal(cluster_pki_host_vars(fx->cp, fx->inv, 0, v), 0);
	assert_non_null(strstr(vars_get(v, "pki.kubeconfig_admin"),
	    "server: \"https://lb.example.com:8443\""));
	vars_free(v);
}

/* Every host's pki.apiserver_url and every kubeconfig it gets name url
 * (each kind of kubeconfig seen at least once). */
static void
expect_kubeconfigs_name(struct fx *fx, const char *url)
{
	static const char *const kc[] = { "pki.kubeconfig_admin",
	    "pki.kubeconfig_controller_manager", "pki.kubeconfig_scheduler",
	    "pki.kubeconfig_health", "pki.kubeconfig_kube_proxy",
	    "pki.kubeconfig_kubelet" };
	char server[128];
	struct vars *v;
	size_t i, h, seen = 0;

	(void)snprintf(server, sizeof(server), "server: \"%s\"", url);
	for (h = 0; h < fx->inv->nhosts; h++) {
		assert_non_null(v = vars_new(NULL));
		assert_int_equal(cluster_pki_host_vars(fx->cp, fx->inv, h, v),
		    0);
		assert_string_equal(vars_get(v, "pki.apiserver_url"), url);
		for (i = 0; i < sizeof(kc) / sizeof(kc[0]); i++) {
			if (vars_get(v, kc[i]) == NULL)
				continue;
			seen++;
			assert_non_null(strstr(vars_get(v, kc[i]), server));
		}
		vars_free(v);
	}
	assert_true(seen >= 6);
}

/* apiserver_lb vip: every kubeconfig names the virtual IP's haproxy
 * port, and the address is a SAN (a client checks it). */
static void
test_vip_lb(void **state)
{
	struct fx *fx = *state;
	static const char *const want[] = { "IP:198.18.1.250",
	    "IP:198.18.1.11" };
	X509 *x;

	load_inv(fx, inv_vip_lb);
	ensure(fx);
	assert_string_equal(cluster_pki_server_url(fx->cp),
	    "https://198.18.1.250:8443");
	x = cert(fx, "apiserver");
	expect_sans(x, want, 2, 0);
	X509_free(x);
	expect_kubeconfigs_name(fx, "https://198.18.1.250:8443");
}

/* apiserver_lb local: every kubeconfig names 127.0.0.1 (a master's own
 * apiserver, elsewhere the haproxy); the endpoint stays a SAN. */
static void
test_local_lb(void **state)
{
	struct fx *fx = *state;
	static const char *const want[] = { "DNS:lb.example.com",
	    "IP:127.0.0.1" };
	X509 *x;

	load_inv(fx, inv_local_lb);
	ensure(fx);
	assert_string_equal(cluster_pki_server_url(fx->cp),
	    "https://127.0.0.1:6443");
	x = cert(fx, "apiserver");
	expect_sans(x, want, 2, 0);
	X509_free(x);
	expect_kubeconfigs_name(fx, "https://127.0.0.1:6443");
}

static void
test_component_certs(void **state)
{
	struct fx *fx = *state;
	static const char *const n1[] = { "DNS:n1", "IP:198.18.1.21" };
	static const char *const n2[] = { "DNS:n2", "DNS:n2.example.com" };
	static const char *const e2[] = { "DNS:e2", "IP:198.18.1.13",
	    "DNS:localhost", "IP:127.0.0.1" };
	static const struct { const char *name, *cn, *o; uint32_t xku; }
	    certs[] = {
		{ "kubelet-n1", "system:node:n1", "system:nodes",
		    XKU_SSL_SERVER | XKU_SSL_CLIENT },
		{ "kubelet-n2", "system:node:n2", "system:nodes",
		    XKU_SSL_SERVER | XKU_SSL_CLIENT },
		{ "etcd-server-e2", "e2", NULL,
		    XKU_SSL_SERVER | XKU_SSL_CLIENT },
		{ "etcd-peer-m1", "m1", NULL,
		    XKU_SSL_SERVER | XKU_SSL_CLIENT },
		{ "etcd-client", "etcd-client", NULL, XKU_SSL_CLIENT },
		{ "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
		    "system:masters", XKU_SSL_CLIENT },
		{ "admin", "admin", "system:masters", XKU_SSL_CLIENT },
		{ "controller-manager", "system:kube-controller-manager",
		    NULL, XKU_SSL_CLIENT },
		{ "scheduler", "system:kube-scheduler", NULL,
		    XKU_SSL_CLIENT },
		{ "kube-proxy", "system:kube-proxy", NULL, XKU_SSL_CLIENT },
	};
	size_t i;
	X509 *x;

	load_inv(fx, inv_base);
	ensure(fx);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		x = cert(fx, certs[i].name);
		expect_subject(x, certs[i].cn, certs[i].o);
		assert_int_equal(X509_get_extended_key_usage(x),
		    certs[i].xku);
		X509_free(x);
	}
	x = cert(fx, "kubelet-n1");
	expect_sans(x, n1, 2, 2);
	X509_free(x);
	x = cert(fx, "kubelet-n2");
	expect_sans(x, n2, 2, 2);
	X509_free(x);
	x = cert(fx, "etcd-server-e2");
	expect_sans(x, e2, 4, 4);
	X509_free(x);
	/* Only the hosts with the role get one. */
	assert_null(cluster_pki_cert(fx->cp, "kubelet-m1"));
	assert_null(cluster_pki_cert(fx->cp, "etcd-server-n1"));
	assert_null(cluster_pki_cert(fx->cp, "etcd-server-m2"));
	assert_non_null(cluster_pki_fp(fx->cp, "sa"));

	/* The first run reports everything it made. */
	assert_non_null(strstr(fx->seen, "ca=created\n"));
	assert_non_null(strstr(fx->seen, "sa=created\n"));
	assert_non_null(strstr(fx->seen, "kubelet-n2=missing\n"));
	assert_int_equal(fx->nseen, (int)cluster_pki_count(fx->cp));
}

static void
test_service_cidr_change(void **state)
{
	struct fx *fx = *state;
	static const char *const want[] = { "IP:10.96.0.1" };
	char (*fps)[65];
	size_t i, n;
	X509 *x;

	load_inv(fx, inv_base);
	ensure(fx);
	n = cluster_pki_count(fx->cp);
	assert_true(n > 10);
	assert_non_null(fps = calloc(n, sizeof(*fps)));
	for (i = 0; i < n; i++)
		snprintf(fps[i], sizeof(fps[i]), "%s",
		    cluster_pki_fp(fx->cp, cluster_pki_name(fx->cp, i)));

	/* Same inventory: nothing is made, nothing changes. */
	ensure(fx);
	assert_int_equal(fx->nseen, 0);
	assert_int_equal(cluster_pki_count(fx->cp), n);
	for (i = 0; i < n; i++)
		assert_string_equal(fps[i], cluster_pki_fp(fx->cp,
		    cluster_pki_name(fx->cp, i)));

	/* New service CIDR: the apiserver certificate alone. */
	load_inv(fx, inv_new_cidr);
	ensure(fx);
	assert_int_equal(fx->nseen, 1);
	assert_string_equal(fx->seen,
	    "apiserver=SANs changed: +IP:10.96.0.1 -IP:10.254.0.1\n");
	for (i = 0; i < n; i++) {
		const char *name = cluster_pki_name(fx->cp, i);

		if (strcmp(name, "apiserver") == 0)
			assert_string_not_equal(fps[i],
			    cluster_pki_fp(fx->cp, name));
		else if (strcmp(fps[i], cluster_pki_fp(fx->cp, name)) != 0)
			fail_msg("%s changed", name);
	}
	x = cert(fx, "apiserver");
	expect_sans(x, want, 1, 13);
	X509_free(x);
	free(fps);
}

/* Keys a host may get, by role. */
static int
var_allowed(const char *var, int etcd, int master, int node)
{
	if (strcmp(var, "pki.etcd_client_key") == 0)
		return etcd || master || node;
	if (strncmp(var, "pki.etcd_server_", 16) == 0 ||
	    strncmp(var, "pki.etcd_peer_", 14) == 0)
		return etcd;
	if (strncmp(var, "pki.apiserver_key", 17) == 0 ||
	    strncmp(var, "pki.apiserver_kubelet_client_key", 32) == 0 ||
	    strcmp(var, "pki.sa_key") == 0 ||
	    strcmp(var, "pki.kubeconfig_admin") == 0 ||
	    strcmp(var, "pki.kubeconfig_controller_manager") == 0 ||
	    strcmp(var, "pki.kubeconfig_scheduler") == 0 ||
	    strcmp(var, "pki.health_key") == 0 ||
	    strcmp(var, "pki.kubeconfig_health") == 0)
		return master;
	if (strcmp(var, "pki.kubelet_key") == 0 ||
	    strcmp(var, "pki.kubeconfig_kubelet") == 0)
		return node;
	/* kube-proxy runs on the masters too. */
	if (strcmp(var, "pki.kubeconfig_kube_proxy") == 0)
		return master || node;
	return 1;
}

static void
test_host_vars(void **state)
{
	struct fx *fx = *state;
	struct vars *hv[6];
	const struct inv_host *h;
	const char *k, *val;
	size_t i, j, m;
	DIR *dp;
	struct dirent *de;
	struct stat st;
	char path[512];
	int etcd, master, node, nkeys;

	load_inv(fx, inv_base);
	ensure(fx);
	assert_int_equal(fx->inv->nhosts, 6);
	for (i = 0; i < fx->inv->nhosts; i++) {
		assert_non_null(hv[i] = vars_new(NULL));
		assert_int_equal(cluster_pki_host_vars(fx->cp, fx->inv, i,
		    hv[i]), 0);
	}
	for (i = 0; i < fx->inv->nhosts; i++) {
		h = &fx->inv->hosts[i];
		etcd = inventory_host_has_role(h, "etcd");
		master = inventory_host_has_role(h, "master");
		node = inventory_host_has_role(h, "node");
		assert_non_null(vars_get(hv[i], "pki.ca_crt"));
		assert_non_null(vars_get(hv[i], "pki.fp_ca"));
		for (j = 0; j < vars_count(hv[i]); j++) {
			k = vars_key(hv[i], j);
			assert_true(vars_name_valid(k, strlen(k)));
			if (!var_allowed(k, etcd, master, node))
				fail_msg("%s got %s", h->name, k);
			val = vars_value(hv[i], j);
			/* No other host's own key may appear here. */
			for (m = 0; m < fx->inv->nhosts; m++) {
				const char *own[] = { "pki.etcd_server_key",
				    "pki.etcd_peer_key", "pki.kubelet_key",
				    "pki.kubeconfig_kubelet" };
				size_t q;
				const char *ov;

				if (m == i)
					continue;
				for (q = 0; q < 4; q++) {
					ov = vars_get(hv[m], own[q]);
					if (ov != NULL && strstr(val, ov))
						fail_msg("%s has %s's %s",
						    h->name,
						    fx->inv->hosts[m].name,
						    own[q]);
				}
			}
		}
		/* ... and what each role needs is there. */
		if (etcd) {
			assert_non_null(vars_get(hv[i], "pki.etcd_server_key"));
			assert_non_null(vars_get(hv[i], "pki.etcd_peer_crt"));
			assert_non_null(vars_get(hv[i], "pki.fp_etcd_server"));
		}
		if (master) {
			assert_non_null(vars_get(hv[i], "pki.apiserver_key"));
			assert_non_null(vars_get(hv[i], "pki.sa_key"));
			assert_non_null(vars_get(hv[i], "pki.sa_pub"));
			assert_non_null(vars_get(hv[i],
			    "pki.kubeconfig_controller_manager"));
			assert_non_null(vars_get(hv[i],
			    "pki.kubeconfig_scheduler"));
			assert_non_null(vars_get(hv[i],
			    "pki.kubeconfig_admin"));
			assert_non_null(vars_get(hv[i],
			    "pki.apiserver_kubelet_client_key"));
		}
		if (node) {
			assert_non_null(vars_get(hv[i], "pki.kubelet_key"));
			assert_non_null(vars_get(hv[i],
			    "pki.kubeconfig_kube_proxy"));
			snprintf(path, sizeof(path),
			    "current-context: \"system:node:%s@t\"", h->name);
			assert_non_null(strstr(vars_get(hv[i],
			    "pki.kubeconfig_kubelet"), path));
		}
		if (etcd || master || node)
			assert_non_null(vars_get(hv[i],
			    "pki.etcd_client_key"));
	}
	/* lb1 has no Kubernetes role: the CA and the URL, no key. */
	assert_int_equal(vars_count(hv[5]), 3);
	assert_string_equal(vars_get(hv[5], "pki.apiserver_url"),
	    "https://198.18.1.11:6443");
	/* Each etcd host gets its own pair. */
	assert_string_not_equal(vars_get(hv[0], "pki.etcd_server_crt"),
	    vars_get(hv[2], "pki.etcd_server_crt"));
	assert_string_equal(vars_get(hv[0], "pki.fp_etcd_server"),
	    cluster_pki_fp(fx->cp, "etcd-server-m1"));
	assert_string_equal(vars_get(hv[3], "pki.fp_kubelet"),
	    cluster_pki_fp(fx->cp, "kubelet-n1"));
	for (i = 0; i < fx->inv->nhosts; i++)
		vars_free(hv[i]);

	/* Every key on disk is 0600; so is the directory. */
	assert_int_equal(stat(fx->pkidir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_non_null(dp = opendir(fx->pkidir));
	nkeys = 0;
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 4 || strcmp(de->d_name + len - 4, ".key") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->pkidir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		if ((st.st_mode & 07777) != 0600)
			fail_msg("%s mode %o", de->d_name,
			    (unsigned)(st.st_mode & 07777));
		nkeys++;
	}
	closedir(dp);
	assert_int_equal(nkeys, (int)cluster_pki_count(fx->cp));

	/* A host index past the end, an inventory with another host. */
	assert_non_null(hv[0] = vars_new(NULL));
	assert_int_equal(cluster_pki_host_vars(fx->cp, fx->inv, 6, hv[0]),
	    KORCH_ERR_INVALID_ARG);
	vars_free(hv[0]);
}

static void
test_no_master(void **state)
{
	struct fx *fx = *state;
	struct cluster_pki *cp = (struct cluster_pki *)1;
	char err[256];

	load_inv(fx, inv_no_master);
	assert_int_equal(cluster_pki_ensure(fx->inv, fx->pkidir, NULL, &cp,
	    err, sizeof(err)), KORCH_ERR_INVALID_ARG);
	assert_null(cp);
	assert_non_null(strstr(err, "master"));
}

static void
test_bad_extra_san(void **state)
{
	struct fx *fx = *state;
	struct cluster_pki_opts o;
	struct cluster_pki *cp = NULL;
	static const char *const extra[] = { "good.example.com",
	    "bad name!" };
	char err[256];

	load_inv(fx, inv_base);
	memset(&o, 0, sizeof(o));
	o.extra_sans = extra;
	o.nextra_sans = 2;
	assert_int_equal(cluster_pki_ensure(fx->inv, fx->pkidir, &o, &cp,
	    err, sizeof(err)), KORCH_ERR_INVALID_ARG);
	assert_null(cp);
	assert_non_null(strstr(err, "bad name!"));
	/* The good one lands in the certificate. */
	o.nextra_sans = 1;
	assert_int_equal(cluster_pki_ensure(fx->inv, fx->pkidir, &o, &cp,
	    err, sizeof(err)), 0);
	{
		static const char *const want[] = { "DNS:good.example.com" };
		X509 *x;

		fx->cp = cp;
		x = cert(fx, "apiserver");
		expect_sans(x, want, 1, 14);
		X509_free(x);
	}
}

TH_MAIN(
	cmocka_unit_test_setup_teardown(test_apiserver_sans,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_endpoint,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_vip_lb, fx_setup,
	    fx_teardown),
	cmocka_unit_test_setup_teardown(test_local_lb,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_component_certs,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_service_cidr_change,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_host_vars,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_no_master,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_bad_extra_san,
	    fx_setup, fx_teardown),
)
