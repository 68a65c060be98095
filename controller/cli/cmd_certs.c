/*
 * cmd_certs.c - `korch certs [--json]`: every certificate of the cluster,
 * from the controller's store, and the files each host holds it in (as
 * the playbooks install them), with subject, SANs, issuer, serial,
 * not-after and days left.  Contacts no host, takes no lock and writes
 * nothing; `korch certs renew` is cmd_certs_renew.c's.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_certs.h"
#include "cli/cmd_open.h"
#include "cluster/cert_list.h"
#include "cluster/cluster_pki.h"
#include "cluster/run_inputs.h"
#include "err.h"
#include "base/json.h"
#include "spec/inventory.h"

int
certs_window(const struct cert_list *l, size_t i)
{
	return l->certs[i].info.is_ca ? CERTS_CA_WINDOW : CERTS_LEAF_WINDOW;
}

int
certs_load(struct cmd_ctx *c, int quiet, struct cluster_pki **cp,
    struct cert_list **l)
{
	struct cluster_pki_opts po;
	char dir[PATH_MAX], ca[PATH_MAX + 8], err[512];
	int r;

	*cp = NULL;
	*l = NULL;
	if (inventory_count_role(c->inv, "master") == 0)
		return KX_OK;
	if (inputs_pki_dir(c->statepath, c->inv->cluster.name, dir,
	    sizeof(dir)) != 0) {
		fprintf(stderr, "korch: the state's path is too long\n");
		return KX_USAGE;
	}
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	if (access(ca, F_OK) != 0)
		return KX_OK;
	memset(&po, 0, sizeof(po));
	po.read_only = 1;
	if ((r = cluster_pki_ensure(c->inv, dir, &po, cp, err,
	    sizeof(err))) != 0) {
		if (!quiet)
			fprintf(stderr, "korch: %s: %s%s\n", dir, err,
		    r == KORCH_ERR_NOT_FOUND ? " (korch apply makes what is "
		    "missing)" : "");
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	if ((r = cert_list_build(c->pb, c->dag, c->inv, *cp, l, err,
	    sizeof(err))) != 0) {
		if (!quiet)
			fprintf(stderr, "korch: %s: %s\n", dir, err);
		cluster_pki_free(*cp);
		*cp = NULL;
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	return KX_OK;
}

int
certs_warn(const struct cert_list *l, const struct inventory *inv,
    time_t now, FILE *out)
{
	return cert_list_warn(l, inv, now, CERTS_LEAF_WINDOW, CERTS_CA_WINDOW,
	    out);
}

/* ---- output ------------------------------------------------------------------ */

static void
iso_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "?");
}

/* The members every listing of a certificate has. */
static void
json_cert_fields(struct json *j, const struct cert_list *l, size_t i,
    time_t now)
{
	const struct cert_info *ci = &l->certs[i].info;
	char t[32];
	size_t k;

	json_kstr(j, "name", l->certs[i].name);
	json_kstr(j, "subject", ci->subject);
	json_kstr(j, "issuer", ci->issuer);
	json_kstr(j, "serial", ci->serial);
	json_key(j, "sans");
	json_arr_begin(j);
	for (k = 0; k < ci->sans.n; k++)
		json_str(j, ci->sans.v[k]);
	json_arr_end(j);
	iso_time(ci->not_before, t, sizeof(t));
	json_kstr(j, "not_before", t);
	iso_time(ci->not_after, t, sizeof(t));
	json_kstr(j, "not_after", t);
	json_kint(j, "days_left", cert_days_left(ci->not_after, now));
	json_kstr(j, "state", cert_state_name(cert_judge(ci->not_after, now,
	    certs_window(l, i))));
	json_kbool(j, "ca", ci->is_ca);
	json_kstr(j, "sha256", ci->sha256);
}

static void
json_soonest(struct json *j, const char *key, const struct cert_list *l,
    long i, time_t now)
{
	char t[32];

	json_key(j, key);
	if (i < 0) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_kstr(j, "name", l->certs[i].name);
	iso_time(l->certs[i].info.not_after, t, sizeof(t));
	json_kstr(j, "not_after", t);
	json_kint(j, "days_left", cert_days_left(l->certs[i].info.not_after,
	    now));
	json_kstr(j, "state", cert_state_name(cert_judge(
	    l->certs[i].info.not_after, now, certs_window(l, (size_t)i))));
	json_obj_end(j);
}

static int
print_json(const struct cmd_ctx *c, const struct cert_list *l, time_t now)
{
	const struct cert_place *p;
	struct json *j;
	const char *out;
	size_t h, i, k;
	int r;

	if ((j = json_new()) == NULL)
		return KORCH_ERR_ALLOC;
	json_obj_begin(j);
	json_kstr(j, "cluster", c->inv->cluster.name);
	json_kint(j, "renew_window_days", CERTS_LEAF_WINDOW);
	json_kint(j, "ca_window_days", CERTS_CA_WINDOW);
	json_soonest(j, "soonest", l, cert_list_soonest(l, 0), now);
	json_soonest(j, "ca", l, cert_list_soonest(l, 1), now);
	json_key(j, "certificates");
	json_arr_begin(j);
	for (i = 0; l != NULL && i < l->ncerts; i++) {
		json_obj_begin(j);
		json_cert_fields(j, l, i, now);
		json_key(j, "hosts");
		json_arr_begin(j);
		for (h = 0; h < c->inv->nhosts; h++)
			for (k = 0; k < l->nplaces; k++)
				if (l->places[k].cert == i &&
				    l->places[k].host == h) {
					json_str(j, c->inv->hosts[h].name);
					break;
				}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "hosts");
	json_arr_begin(j);
	for (h = 0; h < c->inv->nhosts; h++) {
		json_obj_begin(j);
		json_kstr(j, "name", c->inv->hosts[h].name);
		json_key(j, "certificates");
		json_arr_begin(j);
		for (k = 0; l != NULL && k < l->nplaces; k++) {
			if ((p = &l->places[k])->host != h)
				continue;
			json_obj_begin(j);
			json_kstr(j, "path", p->path);
			json_kbool(j, "kubeconfig", p->kubeconfig);
			json_cert_fields(j, l, p->cert, now);
			json_key(j, "services");
			json_arr_begin(j);
			for (i = 0; i < p->nservices; i++)
				json_str(j, p->services[i]);
			json_arr_end(j);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
	if ((r = json_finish(j, &out, NULL)) == 0)
		printf("%s\n", out);
	json_free(j);
	return r;
}

static void
print_text(const struct cmd_ctx *c, const struct cert_list *l, time_t now)
{
	const struct cert_info *ci;
	const struct cert_place *p;
	char t[40];
	size_t h, i, k;
	int w = 4;

	for (i = 0; i < l->ncerts; i++)
		if ((int)strlen(l->certs[i].name) > w)
			w = (int)strlen(l->certs[i].name);
	printf("certificates of cluster %s (leaves are renewed within %d "
	    "days of their end; a CA within %d is reported)\n\n",
	    c->inv->cluster.name, CERTS_LEAF_WINDOW, CERTS_CA_WINDOW);
	printf("%-*s  %-23s  %5s  %-7s  %s\n", w, "NAME", "NOT AFTER", "DAYS",
	    "STATE", "SUBJECT; ISSUER; SANS");
	for (i = 0; i < l->ncerts; i++) {
		ci = &l->certs[i].info;
		cert_fmt_time(ci->not_after, t, sizeof(t));
		printf("%-*s  %-23s  %5ld  %-7s  %s; issuer %s", w,
		    l->certs[i].name, t, cert_days_left(ci->not_after, now),
		    cert_state_name(cert_judge(ci->not_after, now,
		    certs_window(l, i))), ci->subject, ci->issuer);
		for (k = 0; k < ci->sans.n; k++)
			printf("%s%s", k == 0 ? "; " : ",", ci->sans.v[k]);
		printf("\n");
	}
	for (h = 0; h < c->inv->nhosts; h++) {
		printf("\n%s:\n", c->inv->hosts[h].name);
		for (k = 0; k < l->nplaces; k++) {
			if ((p = &l->places[k])->host != h)
				continue;
			ci = &l->certs[p->cert].info;
			printf("  %-*s  %5ld days  %s%s", w,
			    l->certs[p->cert].name,
			    cert_days_left(ci->not_after, now), p->path,
			    p->kubeconfig ? " (kubeconfig)" : "");
			for (i = 0; i < p->nservices; i++)
				printf("%s%s", i == 0 ? "  used by " : ", ",
				    p->services[i]);
			printf("\n");
		}
	}
	i = (size_t)cert_list_soonest(l, 0);
	if (l->ncerts > 0 && cert_list_soonest(l, 0) >= 0) {
		cert_fmt_time(l->certs[i].info.not_after, t, sizeof(t));
		printf("\nsoonest: %s on %s (%ld days)\n", l->certs[i].name, t,
		    cert_days_left(l->certs[i].info.not_after, now));
	}
	(void)certs_warn(l, c->inv, now, stdout);
}

/* ---- the command --------------------------------------------------------------- */

static int
list(int argc, char **argv)
{
	enum { O_INV = CMD_O_OWN };
	static const struct option longopts[] = {
		{ "inventory", required_argument, NULL, O_INV },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx c;
	struct cluster_pki *cp = NULL;
	struct cert_list *l = NULL;
	time_t now = time(NULL);
	int o, rc;

	if ((rc = ctx_init(&c, "certs", argc, argv)) != KX_OK)
		return ctx_finish(&c, rc);
	cmd_run_begin(&c.a.r);
	while ((o = cmd_run_getopt("certs", argc, argv, longopts, &c.a.r)) > 0)
		if (o == O_INV)
			c.a.inventory = optarg;
	if (o < 0)
		return ctx_finish(&c, KX_USAGE);
	if (optind != argc) {
		fprintf(stderr, "korch certs: unexpected argument %s (the "
		    "action there is: renew)\n", argv[optind]);
		cmd_usage("certs");
		return ctx_finish(&c, KX_USAGE);
	}
	if ((rc = ctx_open(&c, argv, CTX_OPEN_NO_LOCK)) != KX_OK ||
	    (rc = certs_load(&c, 0, &cp, &l)) != KX_OK)
		goto out;
	if (l == NULL && !c.a.r.json) {
		printf("cluster %s has no certificates yet (korch apply makes "
		    "them)\n", c.inv->cluster.name);
		goto out;
	}
	if (c.a.r.json)
		rc = print_json(&c, l, now) == 0 ? KX_OK : KX_INTERNAL;
	else
		print_text(&c, l, now);
out:
	cert_list_free(l);
	cluster_pki_free(cp);
	return ctx_finish(&c, rc);
}

int
cmd_certs(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "renew") == 0)
		return certs_renew(argc - 1, argv + 1);
	return list(argc, argv);
}
