/*
 * cmd_certs_renew.c - `korch certs renew [--all|NAME...]`: re-issue leaf
 * certificates from the same CA, then install them a host at a time with
 * apply's own steps, so only the services that watch a changed file
 * restart (the playbooks' `watch:` lists): the masters one at a time
 * first (with apiserver_lb local, or an endpoint over all masters, the
 * API stays up), then the other etcd members, then the other hosts, each
 * one's health gates passed before the next begins.
 *
 * The CA is never renewed here: a new CA invalidates every certificate
 * the cluster trusts, and its rotation is a procedure of its own
 * (docs/CERTIFICATES.md).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "cli/cmd_certs.h"
#include "cli/cmd_open.h"
#include "cli/cmd_target.h"
#include "cluster/cert_list.h"
#include "cluster/cluster_pki.h"
#include "cluster/run_inputs.h"
#include "cluster/upgrade_run.h"
#include "base/diag.h"
#include "base/json.h"
#include "base/strlist.h"
#include "err.h"
#include "spec/bundle.h"
#include "spec/inventory.h"

struct renew {
	struct cmd_ctx	 c;
	int		 all;
	struct strlist	 names;		/* the leaves to re-issue */
	struct cluster_pki *cp0;	/* the store before */
	struct cert_list *before, *after;
	size_t		*order;		/* hosts to visit, in order */
	size_t		 norder;
};

static int
parse_args(int argc, char **argv, struct renew *rw)
{
	enum { O_INV = CMD_O_OWN, O_ALL };
	static const struct option longopts[] = {
		{ "inventory", required_argument, NULL, O_INV },
		{ "all", no_argument, NULL, O_ALL },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int o;

	cmd_run_begin(&rw->c.a.r);
	while ((o = cmd_run_getopt("certs", argc, argv, longopts,
	    &rw->c.a.r)) > 0) {
		switch (o) {
		case O_INV:	rw->c.a.inventory = optarg; break;
		case O_ALL:	rw->all = 1; break;
		}
	}
	if (o < 0)
		return -1;
	for (; optind < argc; optind++)
		if (strlist_add(&rw->names, argv[optind]) != 0)
			return -1;
	if (rw->all == (rw->names.n > 0)) {
		fprintf(stderr, "korch certs renew: %s\n", rw->all ? "--all "
		    "or names, not both" : "which certificates? (--all, or "
		    "names as `korch certs` lists them)");
		cmd_usage("certs");
		return -1;
	}
	return 0;
}

/* The names asked for exist and are leaves; --all: every leaf. */
static int
check_names(struct renew *rw)
{
	const struct cert_list *l = rw->before;
	size_t i;
	long k;
	int bad = 0;

	if (rw->all) {
		for (i = 0; i < l->ncerts; i++)
			if (!l->certs[i].info.is_ca &&
			    strlist_add(&rw->names, l->certs[i].name) != 0)
				return KX_INTERNAL;
		return KX_OK;
	}
	for (i = 0; i < rw->names.n; i++) {
		if ((k = cert_list_find(l, rw->names.v[i])) < 0) {
			fprintf(stderr, "korch certs renew: %s: no such "
			    "certificate in cluster %s (`korch certs` lists "
			    "them)\n", rw->names.v[i],
			    rw->c.inv->cluster.name);
			bad++;
		} else if (l->certs[k].info.is_ca) {
			fprintf(stderr, "korch certs renew: %s is the CA: "
			    "korch does not renew a CA (a new one invalidates "
			    "every certificate the cluster trusts); rotating "
			    "it is a procedure of its own, see %s\n",
			    rw->names.v[i], CERTS_DOC);
			bad++;
		}
	}
	strlist_sort_unique(&rw->names);
	return bad ? KX_USAGE : KX_OK;
}

/* Hosts holding a renewed certificate: masters, then the other etcd
 * members, then the rest, each group in inventory order. */
static int
plan_hosts(struct renew *rw)
{
	const struct inventory *inv = rw->c.inv;
	const struct cert_list *l = rw->after;
	unsigned char *need;
	size_t h, k, g;
	int master, etcd;

	if ((need = calloc(inv->nhosts + 1, 1)) == NULL ||
	    (rw->order = calloc(inv->nhosts + 1, sizeof(*rw->order))) == NULL) {
		free(need);
		return KX_INTERNAL;
	}
	for (k = 0; k < l->nplaces; k++)
		if (strlist_has(&rw->names, l->certs[l->places[k].cert].name))
			need[l->places[k].host] = 1;
	for (g = 0; g < 3; g++)
		for (h = 0; h < inv->nhosts; h++) {
			master = inventory_host_has_role(&inv->hosts[h],
			    "master");
			etcd = inventory_host_has_role(&inv->hosts[h], "etcd");
			if (need[h] && ((g == 0 && master) ||
			    (g == 1 && !master && etcd) ||
			    (g == 2 && !master && !etcd)))
				rw->order[rw->norder++] = h;
		}
	free(need);
	return KX_OK;
}

static void
pki_said(void *arg, const char *name, const char *why)
{
	FILE *out = arg;

	if (out != NULL)
		fprintf(out, "pki: %s: %s\n", name, why);
}

/* Re-issue the names in the store; c->in.pki and rw->after from it. */
static int
reissue(struct renew *rw)
{
	struct cmd_ctx *c = &rw->c;
	struct cluster_pki_opts po;
	struct cluster_pki *cp = NULL;
	char dir[PATH_MAX], err[512];
	int r;

	if (inputs_pki_dir(c->statepath, c->inv->cluster.name, dir,
	    sizeof(dir)) != 0)
		return KX_USAGE;
	memset(&po, 0, sizeof(po));
	po.renew = (const char *const *)rw->names.v;
	po.nrenew = rw->names.n;
	po.report = pki_said;
	po.report_arg = c->a.r.json ? stderr : stdout;
	if ((r = cluster_pki_ensure(c->inv, dir, &po, &cp, err,
	    sizeof(err))) != 0) {
		fprintf(stderr, "korch: %s: %s; the hosts were not "
		    "touched\n", dir, err);
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	cluster_pki_free(c->in.pki);
	c->in.pki = cp;
	if ((r = cert_list_build(c->pb, c->dag, c->inv, cp, &rw->after, err,
	    sizeof(err))) != 0) {
		fprintf(stderr, "korch: %s: %s\n", dir, err);
		return KX_INTERNAL;
	}
	return KX_OK;
}

/* "apiserver, admin" / "kube-apiserver, kubelet" of host h's renewed
 * files, into buf. */
static void
host_what(const struct renew *rw, size_t h, int services, char *buf,
    size_t size)
{
	const struct cert_list *l = rw->after;
	const struct cert_place *p;
	struct strlist seen = { 0 };
	size_t k, i, off = 0;
	const char *s;
	int n;

	buf[0] = '\0';
	for (k = 0; k < l->nplaces; k++) {
		p = &l->places[k];
		if (p->host != h ||
		    !strlist_has(&rw->names, l->certs[p->cert].name))
			continue;
		for (i = 0; i < (services ? p->nservices : 1); i++) {
			s = services ? p->services[i] : l->certs[p->cert].name;
			if (strlist_has(&seen, s) || strlist_add(&seen, s) != 0)
				continue;
			n = snprintf(buf + off, size - off, "%s%s",
			    off ? "," : "", s);
			if (n < 0 || (size_t)n >= size - off)
				goto out;
			off += (size_t)n;
		}
	}
out:
	strlist_free(&seen);
	if (buf[0] == '\0')
		snprintf(buf, size, "-");
}

static double
secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The hosts a pass each; stops at the first that fails. */
static int
install(struct renew *rw, double *took, size_t *done)
{
	struct cmd_ctx *c = &rw->c;
	struct upgrade_env e;
	struct timespec t0;
	FILE *out = c->a.r.json ? stderr : stdout;
	char certs[1024], svcs[1024], why[4096];
	const char *name;
	size_t i;
	int r;

	ctx_env(c, &e);
	e.out = c->a.r.verbose ? out : NULL;
	for (i = 0; i < rw->norder; i++) {
		name = c->inv->hosts[rw->order[i]].name;
		if (*e.stop) {
			fprintf(stderr, "korch: stopped before %s; run the "
			    "same command's hosts again with `korch certs "
			    "renew` or `korch apply`\n", name);
			return KX_INTERRUPTED;
		}
		host_what(rw, rw->order[i], 0, certs, sizeof(certs));
		host_what(rw, rw->order[i], 1, svcs, sizeof(svcs));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = upgrade_pass_all(&e, name, NULL, why, sizeof(why));
		took[i] = secs_since(&t0);
		fprintf(out, "  [%zu/%zu] %-10s %s  (restarts what uses them: "
		    "%s)  %s %.1fs\n", i + 1, rw->norder, name, certs, svcs,
		    r == 0 ? "done" : "FAILED", took[i]);
		fflush(out);
		if (r != 0) {
			fprintf(stderr, "korch: certs renew stopped at %s:\n"
			    "%s\nThe new certificates are in the store; the "
			    "hosts after %s still hold the old ones, which stay "
			    "valid until they expire.  Fix %s, then run the "
			    "same `korch certs renew` again (it re-issues "
			    "once more and installs host by host).\n", name,
			    why[0] ? why : korch_strerror(r), name, name);
			return r == KORCH_ERR_AGENT || r == KORCH_ERR_CONNECT ?
			    KX_HOSTS : KX_INTERNAL;
		}
		(*done)++;
	}
	return KX_OK;
}

static void
summary(struct renew *rw, const double *took, size_t done, int rc)
{
	const struct cert_list *b = rw->before, *a = rw->after;
	char t[40];
	struct json *j;
	const char *js;
	size_t i;
	long kb, ka;

	if (!rw->c.a.r.json) {
		printf("\n");
		for (i = 0; i < rw->names.n; i++) {
			kb = cert_list_find(b, rw->names.v[i]);
			ka = cert_list_find(a, rw->names.v[i]);
			if (kb < 0 || ka < 0)
				continue;
			cert_fmt_time(a->certs[ka].info.not_after, t,
			    sizeof(t));
			printf("  %-28s serial %s -> %s, until %s\n",
			    rw->names.v[i], b->certs[kb].info.serial,
			    a->certs[ka].info.serial, t);
		}
		printf("%s: %zu certificate%s renewed, %zu of %zu host%s "
		    "done\n", rc == KX_OK ? "renewed" : "NOT finished",
		    rw->names.n, rw->names.n == 1 ? "" : "s", done,
		    rw->norder, rw->norder == 1 ? "" : "s");
		return;
	}
	if ((j = json_new()) == NULL)
		return;
	json_obj_begin(j);
	json_kstr(j, "command", "certs-renew");
	json_kbool(j, "done", rc == KX_OK);
	json_key(j, "renewed");
	json_arr_begin(j);
	for (i = 0; i < rw->names.n; i++) {
		kb = cert_list_find(b, rw->names.v[i]);
		ka = cert_list_find(a, rw->names.v[i]);
		if (kb < 0 || ka < 0)
			continue;
		json_obj_begin(j);
		json_kstr(j, "name", rw->names.v[i]);
		json_kstr(j, "old_serial", b->certs[kb].info.serial);
		json_kstr(j, "serial", a->certs[ka].info.serial);
		cert_fmt_time(a->certs[ka].info.not_after, t, sizeof(t));
		json_kstr(j, "not_after", t);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "hosts");
	json_arr_begin(j);
	for (i = 0; i < rw->norder; i++) {
		json_obj_begin(j);
		json_kstr(j, "name", rw->c.inv->hosts[rw->order[i]].name);
		json_kbool(j, "done", i < done);
		json_kint(j, "ms", i <= done ? (int64_t)(took[i] * 1000) : 0);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
	if (json_finish(j, &js, NULL) == 0)
		printf("%s\n", js);
	json_free(j);
}

/* Under the lock: everything checked, then re-issued, then installed. */
static int
renew(struct renew *rw)
{
	struct cmd_ctx *c = &rw->c;
	const char *version;
	double *took = NULL;
	size_t done = 0;
	int rc, r;

	if ((rc = certs_load(c, 0, &rw->cp0, &rw->before)) != KX_OK)
		return rc;
	if (rw->before == NULL) {
		fprintf(stderr, "korch: cluster %s has no certificates yet: "
		    "korch apply makes them\n", c->inv->cluster.name);
		return KX_USAGE;
	}
	if ((rc = check_names(rw)) != KX_OK ||
	    (rc = ctx_prepare(c, c->a.r.bundle, c->a.r.json ? NULL :
	    stderr)) != KX_OK)
		return rc;
	version = c->inv->cluster.kubernetes_version;
	if (version == NULL && c->in.bundle != NULL)
		version = c->in.bundle->kubernetes_version;
	if ((rc = apply_guard_upgrades(c->st, c->inv, version)) != KX_OK)
		return rc;
	if ((r = inputs_check_bundle(&c->in, c->pb, c->dag, c->d)) != 0) {
		diag_print(c->d, stderr);
		fprintf(stderr, "korch: the playbooks need what the bundle "
		    "lacks; nothing was changed\n");
		return r == KORCH_ERR_ALLOC ? KX_INTERNAL : KX_USAGE;
	}
	if ((rc = reissue(rw)) != KX_OK || (rc = plan_hosts(rw)) != KX_OK)
		return rc;
	if ((took = calloc(rw->norder + 1, sizeof(*took))) == NULL)
		return KX_INTERNAL;
	if (!c->a.r.json)
		printf("korch certs renew: %zu certificate%s re-issued from "
		    "the same CA; installing on %zu host%s, one at a time, "
		    "masters first\n", rw->names.n, rw->names.n == 1 ? "" : "s",
		    rw->norder, rw->norder == 1 ? "" : "s");
	ctx_catch_signals(1);
	rc = install(rw, took, &done);
	ctx_catch_signals(0);
	summary(rw, took, done, rc);
	free(took);
	if (rc != KX_OK)
		ctx_end_run(c, rc == KX_INTERRUPTED ? KSTATE_RUN_ABORTED :
		    KSTATE_RUN_FAILED, rc);
	return rc;
}

int
certs_renew(int argc, char **argv)
{
	struct renew rw;
	int rc;

	memset(&rw, 0, sizeof(rw));
	if ((rc = ctx_init(&rw.c, "certs-renew", argc, argv)) == KX_OK &&
	    parse_args(argc, argv, &rw) != 0)
		rc = KX_USAGE;
	if (rc == KX_OK && (rc = ctx_open(&rw.c, argv, 0)) == KX_OK)
		rc = renew(&rw);
	strlist_free(&rw.names);
	cert_list_free(rw.before);
	cert_list_free(rw.after);
	cluster_pki_free(rw.cp0);
	free(rw.order);
	return ctx_finish(&rw.c, rc);
}
