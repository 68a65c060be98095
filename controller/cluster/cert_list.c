/*
 * cert_list.c - the cluster's certificates and the files that hold them
 * on each host, found in the playbooks (see cert_list.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/diag.h"
#include "base/grow.h"
#include "cluster/cert_list.h"
#include "cluster/cluster_pki.h"
#include "engine/dag.h"
#include "engine/render.h"
#include "engine/template.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "modspec.h"
#include "spec/playbook.h"

struct lctx {
	const struct playbook	*pb;
	const struct inventory	*inv;
	const struct cluster_pki *cp;
	struct cert_list	*l;
	size_t			 cap;
	char			*err;
	size_t			 errlen;
};

static void lerr(struct lctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
lerr(struct lctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err == NULL || c->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

static void
place_clear(struct cert_place *p)
{
	size_t i;

	free(p->path);
	free(p->task);
	for (i = 0; i < p->nservices; i++)
		free(p->services[i]);
	free(p->services);
	memset(p, 0, sizeof(*p));
}

void
cert_list_free(struct cert_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->ncerts; i++) {
		free(l->certs[i].name);
		cert_info_clear(&l->certs[i].info);
	}
	for (i = 0; i < l->nplaces; i++)
		place_clear(&l->places[i]);
	free(l->certs);
	free(l->places);
	free(l);
}

long
cert_list_find(const struct cert_list *l, const char *name)
{
	size_t i;

	for (i = 0; l != NULL && name != NULL && i < l->ncerts; i++)
		if (strcmp(l->certs[i].name, name) == 0)
			return (long)i;
	return -1;
}

long
cert_list_soonest(const struct cert_list *l, int ca)
{
	long best = -1;
	size_t i;

	for (i = 0; l != NULL && i < l->ncerts; i++) {
		if (!l->certs[i].info.is_ca != !ca)
			continue;
		if (best < 0 || l->certs[i].info.not_after <
		    l->certs[best].info.not_after)
			best = (long)i;
	}
	return best;
}

/* ---- the store -------------------------------------------------------------- */

static int
load_certs(struct lctx *c)
{
	size_t i, n = cluster_pki_count(c->cp);
	const char *name, *pem;
	struct cert_entry *e;
	int r;

	if ((c->l->certs = calloc(n ? n : 1, sizeof(*c->l->certs))) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		name = cluster_pki_name(c->cp, i);
		if ((pem = cluster_pki_cert(c->cp, name)) == NULL)
			continue;	/* sa: a key pair, no certificate */
		e = &c->l->certs[c->l->ncerts];
		if ((e->name = strdup(name)) == NULL)
			return KORCH_ERR_ALLOC;
		c->l->ncerts++;
		if ((r = cert_info_parse(pem, &e->info)) != 0) {
			lerr(c, "certificate %s of the store: %s", name,
			    r == KORCH_ERR_PARSE ? "does not parse" :
			    korch_strerror(r));
			return r;
		}
	}
	return 0;
}

/* ---- the playbooks ------------------------------------------------------------ */

static const struct pb_arg *
task_arg(const struct pb_task *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nargs; i++)
		if (strcmp(t->args[i].name, name) == 0 && t->args[i].nvals > 0)
			return &t->args[i];
	return NULL;
}

/*
 * The certificate a content template installs: the first {{ pki.X_crt }}
 * or {{ pki.kubeconfig_X }} in it, as the store entry whose fingerprint is
 * the host's pki.fp_X.  -1 when none.
 */
static long
content_cert(struct lctx *c, const char *text, const struct vars *v,
    int *kubeconfig)
{
	const char *p = text, *s, *e, *fp;
	char var[128];
	size_t n, i;

	while ((p = strstr(p, "{{")) != NULL) {
		for (s = p + 2; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s; isalnum((unsigned char)*e) || *e == '_' ||
		    *e == '.'; e++)
			;
		p = e;
		n = (size_t)(e - s);
		if (n < 5 || n >= sizeof(var) || strncmp(s, "pki.", 4) != 0)
			continue;
		*kubeconfig = 0;
		if (n > 8 && strncmp(s + n - 4, "_crt", 4) == 0)
			snprintf(var, sizeof(var), "pki.fp_%.*s",
			    (int)(n - 8), s + 4);
		else if (n > 15 && strncmp(s + 4, "kubeconfig_", 11) == 0) {
			snprintf(var, sizeof(var), "pki.fp_%.*s",
			    (int)(n - 15), s + 15);
			*kubeconfig = 1;
		} else
			continue;
		if ((fp = vars_get(v, var)) == NULL)
			continue;
		for (i = 0; i < c->l->ncerts; i++)
			if (strcmp(c->l->certs[i].info.sha256, fp) == 0)
				return (long)i;
	}
	return -1;
}

/* 1 when every condition of t holds with v; 0 when one does not or
 * cannot be judged here (a fact: only the host knows). */
static int
when_holds(const struct pb_task *t, const struct vars *v)
{
	const char *val;
	size_t i;

	for (i = 0; i < t->nwhen; i++) {
		if ((val = vars_get(v, t->when[i].var)) == NULL)
			return 0;
		if ((strcmp(val, t->when[i].val) == 0) == t->when[i].neg)
			return 0;
	}
	return 1;
}

/* The names of the services of step s that watch task ti of step ts. */
static int
add_watchers(struct lctx *c, const struct dag *dag, size_t host,
    size_t ts, size_t ti, struct cert_place *pl)
{
	const size_t *steps;
	const struct pb_task *t;
	const struct pb_arg *nm;
	char **nv;
	size_t ns, k, i, w;

	steps = dag_host_steps(dag, host, &ns);
	for (k = 0; k < ns; k++) {
		for (i = 0; i < c->pb->steps[steps[k]].ntasks; i++) {
			t = &c->pb->steps[steps[k]].tasks[i];
			for (w = 0; w < t->nwatch; w++)
				if (t->watch[w].step == ts &&
				    t->watch[w].task == ti)
					break;
			if (w == t->nwatch ||
			    (nm = task_arg(t, "name")) == NULL)
				continue;
			if ((nv = realloc(pl->services, (pl->nservices + 1) *
			    sizeof(*nv))) == NULL)
				return KORCH_ERR_ALLOC;
			pl->services = nv;
			if ((nv[pl->nservices] = strdup(nm->vals[0].text))
			    == NULL)
				return KORCH_ERR_ALLOC;
			pl->nservices++;
		}
	}
	return 0;
}

/* Each file task of host's steps that installs a certificate. */
static int
host_places(struct lctx *c, const struct dag *dag, size_t host,
    const struct vars *v)
{
	const struct pb_task *t;
	const struct pb_arg *content, *path;
	struct cert_place pl, *np;
	const size_t *steps;
	struct diag *scratch;
	size_t ns, k, i, j;
	long ci;
	int kc = 0, r = 0, dup;

	steps = dag_host_steps(dag, host, &ns);
	for (k = 0; k < ns && r == 0; k++) {
		for (i = 0; i < c->pb->steps[steps[k]].ntasks && r == 0; i++) {
			t = &c->pb->steps[steps[k]].tasks[i];
			if (t->mod == NULL || strcmp(t->mod->name, "file") != 0 ||
			    t->foreach_list != NULL ||
			    (content = task_arg(t, "content")) == NULL ||
			    (path = task_arg(t, "path")) == NULL ||
			    (ci = content_cert(c, content->vals[0].text, v,
			    &kc)) < 0 || !when_holds(t, v))
				continue;
			memset(&pl, 0, sizeof(pl));
			pl.host = host;
			pl.cert = (size_t)ci;
			pl.kubeconfig = kc;
			if ((scratch = diag_new()) == NULL)
				return KORCH_ERR_ALLOC;
			r = template_render("path", path->vals[0].text,
			    strlen(path->vals[0].text), v, &pl.path, NULL,
			    scratch);
			diag_free(scratch);
			if (r == KORCH_ERR_TEMPLATE) {
				r = 0;	/* a path from facts: not known here */
				continue;
			}
			/* Two steps may install the same file (the CA for
			 * flanneld and for the apiserver): listed once. */
			for (j = 0, dup = 0; r == 0 && j < c->l->nplaces; j++)
				dup |= c->l->places[j].host == host &&
				    strcmp(c->l->places[j].path, pl.path) == 0;
			if (r == 0 && dup) {
				for (j = 0; j < c->l->nplaces; j++)
					if (c->l->places[j].host == host &&
					    strcmp(c->l->places[j].path,
					    pl.path) == 0)
						r = add_watchers(c, dag, host,
						    steps[k], i,
						    &c->l->places[j]);
				place_clear(&pl);
				continue;
			}
			if (r == 0 && ((pl.task = strdup(t->key)) == NULL))
				r = KORCH_ERR_ALLOC;
			if (r == 0)
				r = add_watchers(c, dag, host, steps[k], i, &pl);
			if (r == 0 && (np = grow_room(c->l->places,
			    c->l->nplaces, &c->cap, sizeof(*np), 16)) == NULL)
				r = KORCH_ERR_ALLOC;
			if (r != 0) {
				place_clear(&pl);
				break;
			}
			c->l->places = np;
			c->l->places[c->l->nplaces++] = pl;
		}
	}
	return r;
}

int
cert_list_build(const struct playbook *pb, const struct dag *dag,
    const struct inventory *inv, const struct cluster_pki *cp,
    struct cert_list **out, char *err, size_t errlen)
{
	struct lctx c;
	struct vars *pv = NULL, *v = NULL;
	size_t h;
	int r = KORCH_ERR_ALLOC;

	memset(&c, 0, sizeof(c));
	c.pb = pb;
	c.inv = inv;
	c.cp = cp;
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*out = NULL;
	if ((c.l = calloc(1, sizeof(*c.l))) == NULL ||
	    (r = load_certs(&c)) != 0)
		goto fail;
	for (h = 0; h < inv->nhosts; h++) {
		if ((pv = vars_new(NULL)) == NULL) {
			r = KORCH_ERR_ALLOC;
			goto fail;
		}
		if ((r = cluster_pki_host_vars(cp, inv, h, pv)) != 0 ||
		    (r = render_host_vars(inv, h, NULL, pv, &v, NULL)) != 0 ||
		    (r = host_places(&c, dag, h, v)) != 0) {
			lerr(&c, "host %s: %s", inv->hosts[h].name,
			    korch_strerror(r));
			goto fail;
		}
		vars_free(v);
		vars_free(pv);
		v = pv = NULL;
	}
	*out = c.l;
	return 0;
fail:
	if (err != NULL && errlen > 0 && err[0] == '\0')
		lerr(&c, "%s", korch_strerror(r));
	vars_free(v);
	vars_free(pv);
	cert_list_free(c.l);
	return r != 0 ? r : KORCH_ERR_ALLOC;
}
