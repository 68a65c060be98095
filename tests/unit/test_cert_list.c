/*
 * test_cert_list.c - the certificate listing behind `korch certs`, the
 * expiry logic behind apply's warnings and `korch status`, and
 * `certs renew`'s re-issue: days left and the window at their edges; a
 * certificate 10 days from its end is inside the 30-day window and
 * warned of with the hosts that hold it and the command that renews it;
 * where the shipped playbooks install each certificate and which
 * services watch it; an expired CA is listed, warned of with the rotation
 * document, and refused for signing; a forced renewal re-issues the
 * named certificate alone.
 */
#include "helpers_ctl.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cluster/cert_list.h"
#include "cluster/cluster_pki.h"
#include "cluster/pki_info.h"

static const char inv_yaml[] =
    "cluster:\n"
    "  name: t\n"
    "  service_cidr: 10.254.0.0/16\n"
    "hosts:\n"
    "  - name: m1\n"
    "    address: 198.18.1.11\n"
    "    roles: [etcd, master]\n"
    "  - name: n1\n"
    "    address: 198.18.1.21\n"
    "    roles: [node]\n";

struct fx {
	char			 dir[64];
	char			 pkidir[96];
	struct inventory	*inv;
	struct playbook		*pb;
	struct dag		*g;
	struct cluster_pki	*cp;
	struct cert_list	*l;
	char			 seen[4096];
};

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct diag *d;
	char path[128];

	assert_non_null(fx);
	assert_int_equal(th_mkdtemp(fx->dir, sizeof(fx->dir), "korch-clist"),
	    0);
	snprintf(fx->pkidir, sizeof(fx->pkidir), "%s/pki", fx->dir);
	snprintf(path, sizeof(path), "%s/inventory.yaml", fx->dir);
	th_put(NULL, path, inv_yaml);
	fx->inv = th_inv_load(path);
	assert_non_null(d = diag_new());
	if (playbook_load(th_playbooks(), &fx->pb, d) != 0 ||
	    dag_build(fx->pb, fx->inv, &fx->g, d) != 0) {
		diag_print(d, stderr);
		fail_msg("the shipped playbooks do not load");
	}
	diag_free(d);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	cert_list_free(fx->l);
	cluster_pki_free(fx->cp);
	dag_free(fx->g);
	playbook_free(fx->pb);
	inventory_free(fx->inv);
	(void)th_rmtree(fx->dir);
	free(fx);
	return 0;
}

static void
report(void *arg, const char *name, const char *why)
{
	struct fx *fx = arg;
	size_t len = strlen(fx->seen);

	snprintf(fx->seen + len, sizeof(fx->seen) - len, "%s=%s\n", name, why);
}

/* cluster_pki_ensure with o (may be NULL), then the list of it. */
static int
load(struct fx *fx, struct cluster_pki_opts *o)
{
	struct cluster_pki_opts def;
	char err[512];
	int r;

	if (o == NULL) {
		memset(&def, 0, sizeof(def));
		o = &def;
	}
	o->report = report;
	o->report_arg = fx;
	fx->seen[0] = '\0';
	cert_list_free(fx->l);
	cluster_pki_free(fx->cp);
	fx->l = NULL;
	fx->cp = NULL;
	if ((r = cluster_pki_ensure(fx->inv, fx->pkidir, o, &fx->cp, err,
	    sizeof(err))) != 0)
		return r;
	if ((r = cert_list_build(fx->pb, fx->g, fx->inv, fx->cp, &fx->l, err,
	    sizeof(err))) != 0)
		fail_msg("cert_list_build: %s", err);
	return 0;
}

static const struct cert_entry *
entry(struct fx *fx, const char *name)
{
	long i = cert_list_find(fx->l, name);

	if (i < 0)
		fail_msg("no certificate %s in the list", name);
	return &fx->l->certs[i];
}

/* The place of path on host h, or NULL. */
static const struct cert_place *
place(struct fx *fx, size_t h, const char *path)
{
	size_t k;

	for (k = 0; k < fx->l->nplaces; k++)
		if (fx->l->places[k].host == h &&
		    strcmp(fx->l->places[k].path, path) == 0)
			return &fx->l->places[k];
	return NULL;
}

static int
has_service(const struct cert_place *p, const char *svc)
{
	size_t i;

	for (i = 0; p != NULL && i < p->nservices; i++)
		if (strcmp(p->services[i], svc) == 0)
			return 1;
	return 0;
}

/* The warnings as text. */
static void
warnings(struct fx *fx, time_t now, char *buf, size_t len, int *n)
{
	FILE *f;

	memset(buf, 0, len);
	assert_non_null(f = fmemopen(buf, len, "w"));
	*n = cert_list_warn(fx->l, fx->inv, now, 30, 365, f);
	fclose(f);
	buf[len - 1] = '\0';
}

/* ---- the arithmetic ------------------------------------------------------- */

static void
test_days_and_window(void **state)
{
	const time_t now = 1800000000, day = 86400;

	(void)state;
	assert_int_equal(cert_days_left(now + 10 * day, now), 10);
	assert_int_equal(cert_days_left(now + 10 * day - 1, now), 9);
	assert_int_equal(cert_days_left(now + 1, now), 0);
	assert_int_equal(cert_days_left(now, now), 0);
	assert_int_equal(cert_days_left(now - 1, now), -1);
	assert_int_equal(cert_days_left(now - day, now), -1);
	assert_int_equal(cert_days_left(now - day - 1, now), -2);
	assert_int_equal(cert_judge(now + 10 * day, now, 30), CERT_RENEW);
	assert_int_equal(cert_judge(now + 30 * day, now, 30), CERT_RENEW);
	assert_int_equal(cert_judge(now + 30 * day + 1, now, 30), CERT_OK);
	assert_int_equal(cert_judge(now + 365 * day, now, 30), CERT_OK);
	assert_int_equal(cert_judge(now + 1, now, 30), CERT_RENEW);
	assert_int_equal(cert_judge(now, now, 30), CERT_EXPIRED);
	assert_int_equal(cert_judge(now - day, now, 30), CERT_EXPIRED);
	assert_string_equal(cert_state_name(CERT_RENEW), "renew");
	assert_string_equal(cert_state_name(CERT_EXPIRED), "expired");
}

/* ---- the listing ------------------------------------------------------------- */

static void
test_where_installed(void **state)
{
	struct fx *fx = *state;
	const struct cert_entry *api, *ca;
	const struct cert_place *p;
	char buf[4096];
	time_t now = time(NULL);
	int n;

	assert_int_equal(load(fx, NULL), 0);
	api = entry(fx, "apiserver");
	assert_string_equal(api->info.subject, "CN=kube-apiserver");
	assert_string_equal(api->info.issuer, "CN=korch-ca-t");
	assert_true(strlist_has(&api->info.sans, "IP:10.254.0.1"));
	assert_true(strlist_has(&api->info.sans, "DNS:m1"));
	assert_false(api->info.is_ca);
	assert_string_equal(api->info.sha256,
	    cluster_pki_fp(fx->cp, "apiserver"));
	assert_in_range(cert_days_left(api->info.not_after, now), 363, 365);
	ca = entry(fx, "ca");
	assert_true(ca->info.is_ca);
	assert_int_equal(cert_list_soonest(fx->l, 1), cert_list_find(fx->l,
	    "ca"));
	assert_int_equal(cert_list_find(fx->l, "sa"), -1);	/* no cert */

	/* The master holds the apiserver's, watched by kube-apiserver. */
	p = place(fx, 0, "/etc/kubernetes/pki/apiserver.crt");
	assert_non_null(p);
	assert_string_equal(fx->l->certs[p->cert].name, "apiserver");
	assert_false(p->kubeconfig);
	assert_true(has_service(p, "kube-apiserver"));
	assert_false(has_service(p, "kubelet"));
	p = place(fx, 0, "/etc/etcd/pki/server.crt");
	assert_non_null(p);
	assert_string_equal(fx->l->certs[p->cert].name, "etcd-server-m1");
	assert_true(has_service(p, "etcd"));
	p = place(fx, 0, "/etc/kubernetes/scheduler.kubeconfig");
	assert_non_null(p);
	assert_true(p->kubeconfig);
	assert_string_equal(fx->l->certs[p->cert].name, "scheduler");
	assert_true(has_service(p, "kube-scheduler"));
	/* The CA file two steps install is one place, with both's users. */
	p = place(fx, 0, "/etc/kubernetes/pki/ca.crt");
	assert_non_null(p);
	assert_true(has_service(p, "kube-apiserver"));
	assert_true(has_service(p, "flanneld"));

	/* The node: its own kubelet's, never the apiserver's. */
	assert_null(place(fx, 1, "/etc/kubernetes/pki/apiserver.crt"));
	p = place(fx, 1, "/etc/kubernetes/pki/kubelet.crt");
	assert_non_null(p);
	assert_string_equal(fx->l->certs[p->cert].name, "kubelet-n1");
	assert_true(has_service(p, "kubelet"));
	p = place(fx, 1, "/etc/kubernetes/kube-proxy.kubeconfig");
	assert_non_null(p);
	assert_true(has_service(p, "kube-proxy"));

	/* A year left: nothing to say. */
	warnings(fx, now, buf, sizeof(buf), &n);
	assert_int_equal(n, 0);
	assert_string_equal(buf, "");
}

static void
test_ten_days_left(void **state)
{
	struct fx *fx = *state;
	struct cluster_pki_opts o;
	const struct cert_entry *api;
	char buf[8192];
	time_t now = time(NULL);
	int n;

	memset(&o, 0, sizeof(o));
	o.cert_days = 10;
	o.renew_days = 1;
	assert_int_equal(load(fx, &o), 0);
	api = entry(fx, "apiserver");
	assert_in_range(cert_days_left(api->info.not_after, now), 9, 10);
	assert_int_equal(cert_judge(api->info.not_after, now, 30), CERT_RENEW);
	assert_int_equal(cert_judge(entry(fx, "ca")->info.not_after, now, 365),
	    CERT_OK);
	warnings(fx, now, buf, sizeof(buf), &n);
	/* Every leaf (13 of them), not the CA. */
	assert_int_equal(n, (int)fx->l->ncerts - 1);
	assert_non_null(strstr(buf, "korch: warning: certificate apiserver "
	    "(on m1) expires in "));
	assert_non_null(strstr(buf, "`korch certs renew apiserver`"));
	assert_non_null(strstr(buf, "certificate kubelet-n1 (on n1) expires"));
	assert_non_null(strstr(buf, "certificate etcd-client (on m1,n1)"));
	assert_null(strstr(buf, "cluster CA"));

	/* apply's own rule re-issues them with the 30-day window. */
	assert_int_equal(load(fx, NULL), 0);
	assert_non_null(strstr(fx->seen, "apiserver=expires on "));
	assert_in_range(cert_days_left(entry(fx, "apiserver")->info.not_after,
	    now), 363, 365);
}

/* ---- renew -------------------------------------------------------------------- */

static void
test_renew_named(void **state)
{
	struct fx *fx = *state;
	struct cluster_pki_opts o;
	static const char *const names[] = { "apiserver", "kubelet-n1" };
	char api[128], kubelet[128], admin[128], ca[128];

	assert_int_equal(load(fx, NULL), 0);
	snprintf(api, sizeof(api), "%s", entry(fx, "apiserver")->info.serial);
	snprintf(kubelet, sizeof(kubelet), "%s",
	    entry(fx, "kubelet-n1")->info.serial);
	snprintf(admin, sizeof(admin), "%s", entry(fx, "admin")->info.serial);
	snprintf(ca, sizeof(ca), "%s", entry(fx, "ca")->info.serial);
	memset(&o, 0, sizeof(o));
	o.renew = names;
	o.nrenew = 2;
	assert_int_equal(load(fx, &o), 0);
	assert_string_equal(fx->seen, "apiserver=renewed on request\n"
	    "kubelet-n1=renewed on request\n");
	assert_string_not_equal(entry(fx, "apiserver")->info.serial, api);
	assert_string_not_equal(entry(fx, "kubelet-n1")->info.serial, kubelet);
	assert_string_equal(entry(fx, "admin")->info.serial, admin);
	assert_string_equal(entry(fx, "ca")->info.serial, ca);
	assert_string_equal(entry(fx, "apiserver")->info.issuer,
	    "CN=korch-ca-t");

	/* Every leaf, never the CA. */
	memset(&o, 0, sizeof(o));
	o.renew_all = 1;
	assert_int_equal(load(fx, &o), 0);
	assert_non_null(strstr(fx->seen, "admin=renewed on request\n"));
	assert_null(strstr(fx->seen, "ca="));
	assert_string_not_equal(entry(fx, "admin")->info.serial, admin);
	assert_string_equal(entry(fx, "ca")->info.serial, ca);

	/* Read only: nothing re-issued. */
	memset(&o, 0, sizeof(o));
	o.read_only = 1;
	o.renew_all = 1;
	snprintf(admin, sizeof(admin), "%s", entry(fx, "admin")->info.serial);
	assert_int_equal(load(fx, &o), 0);
	assert_string_equal(fx->seen, "");
	assert_string_equal(entry(fx, "admin")->info.serial, admin);
}

/* ---- an expired CA ------------------------------------------------------------- */

/* Replace the store's CA with one that ended a day ago. */
static void
expire_ca(struct fx *fx)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	char path[160];
	FILE *f;

	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -400L * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), -86400L);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"korch-ca-t", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/ca.crt", fx->pkidir);
	assert_non_null(f = fopen(path, "w"));
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/ca.key", fx->pkidir);
	assert_non_null(f = fopen(path, "w"));
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_expired_ca(void **state)
{
	struct fx *fx = *state;
	struct cluster_pki_opts o;
	const struct cert_entry *ca;
	char buf[8192], err[512];
	struct cluster_pki *cp = NULL;
	time_t now = time(NULL);
	int n;

	assert_int_equal(load(fx, NULL), 0);
	expire_ca(fx);

	/* Listed as it is, reported plainly. */
	memset(&o, 0, sizeof(o));
	o.read_only = 1;
	assert_int_equal(load(fx, &o), 0);
	ca = entry(fx, "ca");
	assert_true(ca->info.is_ca);
	assert_int_equal(cert_judge(ca->info.not_after, now, 365),
	    CERT_EXPIRED);
	assert_int_equal(cert_days_left(ca->info.not_after, now), -1);
	warnings(fx, now, buf, sizeof(buf), &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(buf, "korch: warning: the cluster CA (ca, on "
	    "m1,n1) expired 1 day ago"));
	assert_non_null(strstr(buf, "docs/CERTIFICATES.md"));

	/* Nothing is signed with it: apply stops, naming the procedure. */
	assert_int_equal(cluster_pki_ensure(fx->inv, fx->pkidir, NULL, &cp,
	    err, sizeof(err)), KORCH_ERR_INVALID_ARG);
	assert_null(cp);
	assert_non_null(strstr(err, "ca.crt expired on "));
	assert_non_null(strstr(err, "docs/CERTIFICATES.md"));
}

static void
test_ca_near_end(void **state)
{
	struct fx *fx = *state;
	struct cluster_pki_opts o;
	char buf[8192];
	time_t now = time(NULL);
	int n;

	/* A CA of 200 days: a leaf issued now (365 days) would outlive it. */
	memset(&o, 0, sizeof(o));
	o.ca_days = 200;
	assert_int_equal(load(fx, &o), 0);
	warnings(fx, now, buf, sizeof(buf), &n);
	assert_int_equal(n, 1);
	assert_true(strstr(buf, "the cluster CA (ca, on m1,n1) expires in "
	    "200 days") != NULL || strstr(buf, "the cluster CA (ca, on m1,n1) "
	    "expires in 199 days") != NULL);
	assert_non_null(strstr(buf, "would outlive it"));
	assert_non_null(strstr(buf, "docs/CERTIFICATES.md"));
}

TH_MAIN(
	cmocka_unit_test(test_days_and_window),
	cmocka_unit_test_setup_teardown(test_where_installed,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_ten_days_left,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_renew_named,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_expired_ca,
	    fx_setup, fx_teardown),
	cmocka_unit_test_setup_teardown(test_ca_near_end,
	    fx_setup, fx_teardown),
)
