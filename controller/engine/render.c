/*
 * render.c - see render.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "wire.h"
#include "base/diag.h"
#include "modspec.h"
#include "engine/vars.h"
#include "engine/template.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "engine/dag.h"
#include "engine/render.h"
#include "engine/render-int.h"

/* ---- variables ------------------------------------------------------------ */

int
sb_open(struct sbuild *b)
{
	b->p = NULL;
	b->len = 0;
	return (b->fp = open_memstream(&b->p, &b->len)) == NULL ?
	    KORCH_ERR_ALLOC : 0;
}

int
sb_set(struct sbuild *b, struct vars *v, const char *name)
{
	int r;

	r = ferror(b->fp) ? KORCH_ERR_ALLOC : 0;
	if (fclose(b->fp) != 0)
		r = KORCH_ERR_ALLOC;
	b->fp = NULL;
	if (r == 0)
		r = vars_set(v, name, b->p);
	free(b->p);
	b->p = NULL;
	return r;
}

/* Comma-joined names of hosts with role. */
static int
set_role_list(struct vars *v, const struct inventory *inv, const char *role,
    const char *name)
{
	struct sbuild b;
	size_t i;
	int r, n = 0;

	if ((r = sb_open(&b)) != 0)
		return r;
	for (i = 0; i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], role))
			fprintf(b.fp, "%s%s", n++ ? "," : "",
			    inv->hosts[i].name);
	return sb_set(&b, v, name);
}

/*
 * One entry per host with a role, in inventory order: the entries joined
 * by sep, each "<before><name><after>" (no name when before is NULL),
 * then scheme, the address (IPv6 bracketed) and :port.
 */
struct endpoint_list {
	const char	*var, *role, *sep, *before, *after, *scheme;
	int		 port;
	/* Which hosts of the role: every one; those that ran before (the
	 * members a new etcd member joins through); or those plus the new
	 * ones up to this host (the cluster it joins: a run adds new members
	 * one at a time, in inventory order). */
	enum { EL_ALL, EL_PRIOR, EL_JOIN } which;
};

static const struct endpoint_list endpoint_lists[] = {
	/* name=https://addr:2380,... */
	{ "etcd_initial_cluster", "etcd", ",", "", "=", "https://", 2380,
	    EL_ALL },
	/* https://addr:2379,... */
	{ "etcd_endpoints", "etcd", ",", NULL, NULL, "https://", 2379, EL_ALL },
	/* haproxy's backends: "    server NAME ADDR:6443" a line */
	{ "apiserver_lb_servers", "master", "\n", "    server ", " ", "",
	    6443, EL_ALL },
	{ "etcd.join_cluster", "etcd", ",", "", "=", "https://", 2380, EL_JOIN },
	{ "etcd.join_endpoints", "etcd", ",", NULL, NULL, "https://", 2379,
	    EL_PRIOR },
};

/* Is name one of the comma-separated names in list? */
static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; p != NULL && *p != '\0'; p += strcspn(p, ",")) {
		if (*p == ',')
			p++;
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

/* The etcd members that ran before this run (the extra variable
 * prior.etcd, run_prior.h), or "" when none of the inventory's did: a
 * new cluster. */
static const char *
prior_members(const struct inventory *inv, const struct vars *extra)
{
	const char *p = vars_get_local(extra, "prior.etcd");
	size_t i;

	for (i = 0; p != NULL && i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], "etcd") &&
		    in_list(p, inv->hosts[i].name))
			return p;
	return "";
}

static int
endpoint_wanted(const struct endpoint_list *l, const struct inventory *inv,
    size_t i, size_t host_idx, const char *prior)
{
	int ran = in_list(prior, inv->hosts[i].name);

	switch (l->which) {
	case EL_PRIOR:
		return ran || prior[0] == '\0';
	case EL_JOIN:
		return ran || prior[0] == '\0' || i <= host_idx;
	default:
		return 1;
	}
}

static int
set_endpoint_list(struct vars *v, const struct inventory *inv,
    size_t host_idx, const char *prior, const struct endpoint_list *l)
{
	const struct inv_host *h;
	struct sbuild b;
	size_t i;
	int r, n = 0, v6;

	if ((r = sb_open(&b)) != 0)
		return r;
	for (i = 0; i < inv->nhosts; i++) {
		h = &inv->hosts[i];
		if (!inventory_host_has_role(h, l->role) ||
		    !endpoint_wanted(l, inv, i, host_idx, prior))
			continue;
		v6 = strchr(h->address, ':') != NULL;
		fprintf(b.fp, "%s", n++ ? l->sep : "");
		if (l->before != NULL)
			fprintf(b.fp, "%s%s%s", l->before, h->name, l->after);
		fprintf(b.fp, "%s%s%s%s:%d", l->scheme, v6 ? "[" : "",
		    h->address, v6 ? "]" : "", l->port);
	}
	return sb_set(&b, v, l->var);
}

static int
set_first(struct vars *v, const struct inventory *inv, size_t host_idx,
    const char *role, const char *name)
{
	size_t i;

	return vars_set(v, name, inventory_first_with_role(inv, role, &i) !=
	    NULL && i == host_idx ? "yes" : "no");
}

static int
set_has_role(struct vars *v, const struct inv_host *h, const char *role,
    const char *name)
{
	return vars_set(v, name, inventory_host_has_role(h, role) ? "yes" :
	    "no");
}

/* Whether this host joins a running etcd cluster (render.h). */
static int
set_etcd_member(struct vars *v, const struct inv_host *h, const char *prior)
{
	int v6 = strchr(h->address, ':') != NULL, r;
	char url[300];

	(void)snprintf(url, sizeof(url), "https://%s%s%s:2380", v6 ? "[" : "",
	    h->address, v6 ? "]" : "");
	if ((r = vars_set(v, "etcd.peer_url", url)) != 0 ||
	    (r = vars_set(v, "etcd.cluster_state", prior[0] == '\0' ? "new" :
	    "existing")) != 0)
		return r;
	return vars_set(v, "etcd.member_new", inventory_host_has_role(h,
	    "etcd") && !in_list(prior, h->name) ? "yes" : "no");
}

static int
set_derived(struct vars *v, const struct inventory *inv, size_t host_idx,
    const struct vars *extra)
{
	const struct inv_host *h = &inv->hosts[host_idx], *m;
	const char *prior = prior_members(inv, extra);
	struct sbuild b;
	size_t i;
	int r;

	if ((r = vars_set(v, "host.name", h->name)) != 0 ||
	    (r = vars_set(v, "host.address", h->address)) != 0)
		return r;
	if ((r = sb_open(&b)) != 0)
		return r;
	for (i = 0; i < h->nroles; i++)
		fprintf(b.fp, "%s%s", i ? "," : "", h->roles[i]);
	if ((r = sb_set(&b, v, "host.roles")) != 0 ||
	    (r = set_role_list(v, inv, "etcd", "etcd_hosts")) != 0 ||
	    (r = set_role_list(v, inv, "master", "master_hosts")) != 0 ||
	    (r = set_role_list(v, inv, "node", "node_hosts")) != 0)
		return r;
	for (i = 0; i < sizeof(endpoint_lists) / sizeof(endpoint_lists[0]);
	    i++)
		if ((r = set_endpoint_list(v, inv, host_idx, prior,
		    &endpoint_lists[i])) != 0)
			return r;
	if ((r = set_etcd_member(v, h, prior)) != 0)
		return r;
	if ((r = sb_open(&b)) != 0)
		return r;
	for (i = 0; i < inv->nhosts; i++)
		fprintf(b.fp, "%s%s %s", i ? "\n" : "", inv->hosts[i].address,
		    inv->hosts[i].name);
	if ((r = sb_set(&b, v, "hosts_entries")) != 0)
		return r;
	/* host.first_<role>: "yes" on the first host of a role, so a step can
	 * do a cluster-wide thing once (write flannel's config into etcd). */
	if ((r = set_first(v, inv, host_idx, "etcd", "host.first_etcd")) != 0 ||
	    (r = set_first(v, inv, host_idx, "master",
	    "host.first_master")) != 0 ||
	    (r = set_has_role(v, h, "etcd", "host.is_etcd")) != 0 ||
	    (r = set_has_role(v, h, "master", "host.is_master")) != 0 ||
	    (r = set_has_role(v, h, "node", "host.is_node")) != 0)
		return r;
	if ((r = render_lb_vars(v, inv, host_idx)) != 0)
		return r;
	if ((m = inventory_first_with_role(inv, "master", NULL)) != NULL)
		return vars_set(v, "first_master_address", m->address);
	return 0;
}

static int
copy_local(struct vars *dst, const struct vars *src, const char *prefix)
{
	char *name = NULL;
	size_t i;
	int r = 0;

	for (i = 0; i < vars_count(src) && r == 0; i++) {
		if (prefix == NULL) {
			r = vars_set_flags(dst, vars_key(src, i),
			    vars_value(src, i), vars_flags_at(src, i));
			continue;
		}
		if (asprintf(&name, "%s%s", prefix, vars_key(src, i)) < 0)
			return KORCH_ERR_ALLOC;
		/* Facts are what a host says: untrusted like the
		 * inventory's values. */
		r = vars_set_flags(dst, name, vars_value(src, i),
		    vars_flags_at(src, i) | VARS_F_USER);
		free(name);
	}
	return r;
}

/*
 * facts.os_family: which packaging world a host lives in, so playbooks can
 * say `when: facts.os_family == redhat` once instead of listing every
 * distribution.  "unsupported" for anything else (a pre-flight check
 * fails on it).  Nothing is set before facts are known.
 */
static int
set_os_family(struct vars *v, const char *os_id)
{
	static const char *const debian[] = { "debian", "ubuntu", "raspbian",
	    NULL };
	static const char *const redhat[] = { "centos", "rhel", "rocky",
	    "almalinux", "fedora", "ol", NULL };
	const char *family = "unsupported";
	size_t i;

	if (os_id == NULL)
		return 0;
	for (i = 0; debian[i] != NULL; i++)
		if (strcmp(os_id, debian[i]) == 0)
			family = "debian";
	for (i = 0; redhat[i] != NULL; i++)
		if (strcmp(os_id, redhat[i]) == 0)
			family = "redhat";
	return vars_set(v, "facts.os_family", family);
}

/*
 * flags.<component> arrive as templates (profile.h): a component's flags
 * name the host's address and the cluster's ranges, so they are rendered
 * here, last, against everything else the host sees.
 */
static int
render_flags(struct vars *v, struct diag *d)
{
	struct tmpl_src src;
	char where[300], ctx[300], *out;
	const char *line;
	unsigned used;
	size_t i;
	int r, bad = 0;

	snprintf(ctx, sizeof(ctx), "host %s", vars_get(v, "host.name"));
	for (i = 0; i < vars_count(v); i++) {
		if (strncmp(vars_key(v, i), "flags.", 6) != 0)
			continue;
		snprintf(where, sizeof(where), "profile.line.%s", vars_key(v, i));
		line = vars_get(v, where);
		memset(&src, 0, sizeof(src));
		src.file = vars_get(v, "profile.file");
		/* The list's line: a problem is reported there, not at a
		 * position inside the joined text. */
		src.line = line != NULL ? (unsigned)strtoul(line, NULL, 10) : 0;
		src.col = src.line != 0;
		src.path = vars_key(v, i);
		src.context = ctx;
		/* Flags are ExecStart lines: each value in them is quoted
		 * for systemd here, and the lines go into the unit as they
		 * are (VARS_F_UNIT). */
		src.ctx = TMPL_CTX_SYSTEMD;
		used = 0;
		src.used = &used;
		r = template_render_src(&src, vars_value(v, i),
		    strlen(vars_value(v, i)), v, &out, NULL, d);
		if (r == KORCH_ERR_TEMPLATE || r == KORCH_ERR_TOO_LARGE) {
			bad = 1;
			continue;
		}
		if (r != 0)
			return r;
		/* Same key: replaced in place, so i stays valid.  It carries
		 * what it was made of (a user's value, a secret). */
		r = vars_set_flags(v, vars_key(v, i), out,
		    (used & VARS_F_SECRET) | VARS_F_UNIT);
		free(out);
		if (r != 0)
			return r;
	}
	return bad ? KORCH_ERR_TEMPLATE : 0;
}

int
render_host_vars(const struct inventory *inv, size_t host_idx,
    const struct vars *facts, const struct vars *extra, struct vars **out,
    struct diag *d)
{
	struct vars *v = NULL;
	int r = KORCH_ERR_ALLOC;

	*out = NULL;
	if (inv == NULL || host_idx >= inv->nhosts)
		return KORCH_ERR_INVALID_ARG;
	if ((v = vars_new(NULL)) == NULL)
		goto out;
	/* One flat map, lowest precedence first: later sets win.  The
	 * derived names come last: the loader refuses them as inventory
	 * vars (vars_name_reserved), and a map built some other way must
	 * not replace them either. */
	if ((r = copy_local(v, facts, "facts.")) != 0 ||
	    (r = set_os_family(v, vars_get_local(facts, "os_id"))) != 0 ||
	    (r = copy_local(v, extra, NULL)) != 0 ||
	    (r = copy_local(v, inv->vars, NULL)) != 0 ||
	    (r = copy_local(v, inv->hosts[host_idx].vars, NULL)) != 0 ||
	    (r = set_derived(v, inv, host_idx, extra)) != 0 ||
	    (r = render_flags(v, d)) != 0)
		goto out;
	*out = v;
	v = NULL;
 out:
	vars_free(v);
	return r;
}

/* ---- tasks ---------------------------------------------------------------- */

static int
cmp_kv(const void *a, const void *b)
{
	const struct kp_kv *x = *(const struct kp_kv *const *)a;
	const struct kp_kv *y = *(const struct kp_kv *const *)b;
	int c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	/* Repeated values keep their order: argv order is meaning. */
	return x < y ? -1 : x > y;
}

static int
hash_field(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	unsigned char len[4];

	/* Length-prefixed, so ("ab","c") and ("a","bc") differ. */
	len[0] = (unsigned char)(n >> 24);
	len[1] = (unsigned char)(n >> 16);
	len[2] = (unsigned char)(n >> 8);
	len[3] = (unsigned char)n;
	return EVP_DigestUpdate(ctx, len, 4) == 1 &&
	    EVP_DigestUpdate(ctx, p, n) == 1 ? 0 : KORCH_ERR_INTERNAL;
}

/* sha256 over "korch-task-1", the module, then sorted key/value pairs. */
static int
task_digest(struct rendered_task *t)
{
	const struct kp_task *w = t->wire;
	const struct kp_kv **sorted = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx = NULL;
	uint32_t j;
	int r = KORCH_ERR_ALLOC;

	if ((sorted = calloc(w->nargs + 1, sizeof(*sorted))) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	for (j = 0; j < w->nargs; j++)
		sorted[j] = &w->args[j];
	qsort(sorted, w->nargs, sizeof(*sorted), cmp_kv);
	r = KORCH_ERR_INTERNAL;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    hash_field(ctx, "korch-task-1", 12) != 0 ||
	    hash_field(ctx, w->module, strlen(w->module)) != 0)
		goto out;
	for (j = 0; j < w->nargs; j++)
		if (hash_field(ctx, sorted[j]->key,
		    strlen(sorted[j]->key)) != 0 ||
		    hash_field(ctx, sorted[j]->val, sorted[j]->val_len) != 0)
			goto out;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (i = 0; i < mdlen; i++)
		snprintf(t->digest + 2 * i, 3, "%02x", md[i]);
	r = 0;
 out:
	EVP_MD_CTX_free(ctx);
	free(sorted);
	return r;
}

/* Per-render state. */
struct rctx {
	const struct playbook	*pb;
	const struct inv_host	*host;
	const struct vars	*v;
	struct diag		*d;
	uint32_t		**ids;	/* [step][task] -> id; 0: not rendered */
	uint32_t		 next_id;
	char			 context[300];
	int			 nbad;
	unsigned		 used;	/* VARS_F_* of what this task used */
};

/* 1 when the task's condition holds (or it has none), 0 when not, -1 when
 * it can't be decided (reported). */
static int
when_holds(struct rctx *c, const struct pb_task *t)
{
	char path[300];
	const char *val;
	size_t i;

	for (i = 0; i < t->nwhen; i++) {
		if ((val = vars_get(c->v, t->when[i].var)) == NULL) {
			snprintf(path, sizeof(path), "%s.when", t->path);
			diag_add(c->d, t->file, t->line, t->col, path,
			    "undefined variable '%s' (%s)", t->when[i].var,
			    c->context);
			c->nbad++;
			return -1;
		}
		if ((strcmp(val, t->when[i].val) == 0) == t->when[i].neg)
			return 0;
	}
	return 1;
}

/*
 * Template problems are counted in c->nbad and do not stop rendering, so
 * every one is reported; only ENOMEM and bugs stop it (returned).
 */
static int
counted(struct rctx *c, int r)
{
	if (r == KORCH_ERR_TEMPLATE || r == KORCH_ERR_TOO_LARGE) {
		c->nbad++;
		return 0;
	}
	return r;
}

/* The first value of argument name as written (unrendered), or NULL. */
static const char *
pb_task_arg_text(const struct pb_task *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nargs; i++)
		if (strcmp(t->args[i].name, name) == 0 && t->args[i].nvals > 0)
			return t->args[i].vals[0].text;
	return NULL;
}

/* A unit file by its name: what systemd parses (template.h). */
static int
is_unit_path(const char *path)
{
	static const char *const sfx[] = { ".service", ".socket", ".timer",
	    ".mount", ".path", ".target", ".conf", NULL };
	size_t n, k, i;

	if (path == NULL)
		return 0;
	n = strlen(path);
	for (i = 0; sfx[i] != NULL; i++) {
		k = strlen(sfx[i]);
		if (n > k && strcmp(path + n - k, sfx[i]) == 0 &&
		    (strcmp(sfx[i], ".conf") != 0 ||
		    strstr(path, "/systemd/") != NULL))
			return 1;
	}
	return 0;
}

/* Where argument name of t lands (template.h). */
static enum tmpl_ctx
arg_ctx(const struct pb_task *t, const char *name)
{
	if (strcmp(t->mod->name, "file") == 0 && strcmp(name, "content") == 0)
		return is_unit_path(pb_task_arg_text(t, "path")) ?
		    TMPL_CTX_SYSTEMD : TMPL_CTX_CONTENT;
	if (strcmp(t->mod->name, "service") == 0 && strcmp(name, "unit") == 0)
		return TMPL_CTX_SYSTEMD;
	return TMPL_CTX_ARG;
}

/* Value i of an argument, rendered; problems are reported at the value. */
static int
render_value(struct rctx *c, const struct pb_task *t, const struct pb_arg *a,
    size_t i, struct kp_kv *kv)
{
	const struct pb_val *val = &a->vals[i];
	struct tmpl_src src;
	char path[300];

	if ((kv->key = strdup(a->name)) == NULL)
		return KORCH_ERR_ALLOC;
	if (a->list)
		snprintf(path, sizeof(path), "%s.%s.%s[%zu]", t->path,
		    t->mod->name, a->name, i);
	else
		snprintf(path, sizeof(path), "%s.%s.%s", t->path,
		    t->mod->name, a->name);
	memset(&src, 0, sizeof(src));
	src.file = t->file;
	src.line = val->line;
	src.col = val->col;
	src.path = path;
	src.context = c->context;
	src.ctx = arg_ctx(t, a->name);
	src.used = &c->used;
	return counted(c, template_render_src(&src, val->text,
	    strlen(val->text), c->v, &kv->val, &kv->val_len, c->d));
}

/* A template file, rendered into content / unit. */
static int
render_file(struct rctx *c, const struct pb_task *t, struct kp_kv *kv)
{
	struct tmpl_src src;
	char ctx[600];

	if ((kv->key = strdup(t->tmpl_arg)) == NULL)
		return KORCH_ERR_ALLOC;
	snprintf(ctx, sizeof(ctx), "%s, task %s", c->context, t->key);
	memset(&src, 0, sizeof(src));
	src.file = t->tmpl_path;
	src.context = ctx;
	src.used = &c->used;
	if (strcmp(t->tmpl_arg, "unit") == 0 ||
	    is_unit_path(pb_task_arg_text(t, "path")))
		src.ctx = TMPL_CTX_SYSTEMD;
	else
		src.ctx = TMPL_CTX_TEXT;
	return counted(c, template_render_src(&src, t->tmpl_text, t->tmpl_len,
	    c->v, &kv->val, &kv->val_len, c->d));
}

/*
 * A task that rendered a secret (a private key, a kubeconfig with one, a
 * token) is secret without the playbook saying so: secret=1 is part of
 * its arguments, so of its digest, and the agent hides the content and
 * writes it owner-only.  Only a file can keep one: anywhere else it would
 * be on a command line, in an environment or in a unit, which ps, logs
 * and the journal show.  w->args has room for one more (render_task).
 */
static int
secret_task(struct rctx *c, const struct pb_task *t, struct kp_task *w)
{
	struct kp_kv *kv;
	uint32_t i;

	if (strcmp(t->mod->name, "file") != 0) {
		diag_add(c->d, t->file, t->line, t->col, t->path, "a %s task "
		    "cannot hold a secret (a private key or token would show "
		    "in ps, logs or the journal): write it with a file task "
		    "and pass its path (%s)", t->mod->name, c->context);
		c->nbad++;
		return 0;
	}
	for (i = 0; i < w->nargs; i++)
		if (strcmp(w->args[i].key, "secret") == 0) {
			if (strcmp(w->args[i].val, "1") == 0)
				return 0;
			diag_add(c->d, t->file, t->line, t->col, t->path,
			    "this task writes a secret: secret: \"%s\" is not "
			    "allowed (%s)", w->args[i].val, c->context);
			c->nbad++;
			return 0;
		}
	kv = &w->args[w->nargs];
	if ((kv->key = strdup("secret")) == NULL ||
	    (kv->val = strdup("1")) == NULL)
		return KORCH_ERR_ALLOC;
	kv->val_len = 1;
	w->nargs++;
	return 0;
}

static int
render_task(struct rctx *c, size_t si, size_t ti, const char *item,
    struct rendered_task *rt)
{
	const struct pb_task *t = &c->pb->steps[si].tasks[ti];
	struct kp_task *w = rt->wire;
	size_t i, j, n = 0;
	uint32_t id;
	int r;

	w->id = ++c->next_id;
	c->ids[si][ti] = w->id;
	c->used = 0;
	rt->verify = t->verify;
	rt->task = ti;
	for (i = 0; i < t->nargs; i++)
		n += t->args[i].nvals;
	if (item != NULL) {
		if (asprintf(&rt->key, "%s[%s]", t->key, item) < 0)
			rt->key = NULL;
	} else
		rt->key = strdup(t->key);
	if (rt->key == NULL ||
	    (w->module = strdup(t->mod->name)) == NULL ||
	    (w->args = calloc(n + 2, sizeof(*w->args))) == NULL ||
	    (w->watch = calloc(t->nwatch + 1, sizeof(*w->watch))) == NULL)
		return KORCH_ERR_ALLOC;
	rt->module = w->module;
	rt->mod = t->mod;
	for (i = 0; i < t->nargs; i++)
		for (j = 0; j < t->args[i].nvals; j++)
			if ((r = render_value(c, t, &t->args[i], j,
			    &w->args[w->nargs++])) != 0)
				return r;
	if (t->tmpl_arg != NULL &&
	    (r = render_file(c, t, &w->args[w->nargs++])) != 0)
		return r;
	if ((c->used & VARS_F_SECRET) && (r = secret_task(c, t, w)) != 0)
		return r;
	for (i = 0; i < t->nwatch; i++) {
		/* dag_build() made sure the watched step runs here; id 0
		 * means its `when` dropped it, so it can't change. */
		if (c->ids[t->watch[i].step] == NULL)
			return KORCH_ERR_INTERNAL;
		if ((id = c->ids[t->watch[i].step][t->watch[i].task]) != 0)
			w->watch[w->nwatch++] = id;
	}
	return 0;
}

/* The items of a foreach task, in *out (a copy the caller frees; NULL
 * when its list variable is undefined, which is reported), *n of them. */
static int
foreach_items(struct rctx *c, const struct pb_task *t, char **out, size_t *n)
{
	const char *list, *p;
	char path[300];

	*out = NULL;
	*n = 0;
	if ((list = vars_get(c->v, t->foreach_list)) == NULL) {
		snprintf(path, sizeof(path), "%s.foreach", t->path);
		diag_add(c->d, t->file, t->line, t->col, path,
		    "undefined variable '%s' (%s)", t->foreach_list,
		    c->context);
		c->nbad++;
		return 0;
	}
	if ((*out = strdup(list)) == NULL)
		return KORCH_ERR_ALLOC;
	for (p = list; *p != '\0'; p++)
		*n += *p == ',';
	*n += 1;
	return 0;
}

/* The task's variables for one item: item, and item.<f> for every
 * <fields>.<item>.<f> (v is one flat map: render_host_vars). */
static struct vars *
item_vars(const struct vars *v, const struct pb_task *t, const char *item)
{
	struct vars *iv;
	char *prefix = NULL, *name = NULL;
	size_t i, plen;
	int r;

	if ((iv = vars_new(v)) == NULL)
		return NULL;
	if (asprintf(&prefix, "%s.%s.", t->foreach_fields, item) < 0) {
		vars_free(iv);
		return NULL;
	}
	plen = strlen(prefix);
	r = vars_set(iv, "item", item);
	for (i = 0; r == 0 && i < vars_count(v); i++) {
		if (strncmp(vars_key(v, i), prefix, plen) != 0)
			continue;
		if (asprintf(&name, "item.%s", vars_key(v, i) + plen) < 0) {
			r = KORCH_ERR_ALLOC;
			break;
		}
		r = vars_set_flags(iv, name, vars_value(v, i),
		    vars_flags_at(v, i));
		free(name);
	}
	free(prefix);
	if (r != 0) {
		vars_free(iv);
		return NULL;
	}
	return iv;
}

/* Task ti once (item NULL), or for one item, when its `when` holds. */
static int
render_one(struct rctx *c, size_t si, size_t ti, const char *item,
    struct rendered_step *rs)
{
	const struct vars *saved = c->v;
	struct vars *iv = NULL;
	struct rendered_task *rt;
	int r = 0;

	if (item != NULL) {
		if ((iv = item_vars(c->v, &c->pb->steps[si].tasks[ti],
		    item)) == NULL)
			return KORCH_ERR_ALLOC;
		c->v = iv;
	}
	if (when_holds(c, &c->pb->steps[si].tasks[ti]) == 1) {
		rt = &rs->tasks[rs->ntasks];
		rt->wire = &rs->wire_tasks[rs->ntasks];
		rs->ntasks++;
		r = render_task(c, si, ti, item, rt);
	}
	c->v = saved;
	vars_free(iv);
	return r;
}

static int
render_step(struct rctx *c, size_t si, struct rendered_step *rs)
{
	const struct pb_step *s = &c->pb->steps[si];
	char **items, *it, *next;
	size_t ti, k, total = 0;
	int r = 0;

	rs->step = si;
	if ((items = calloc(s->ntasks + 1, sizeof(*items))) == NULL)
		return KORCH_ERR_ALLOC;
	for (ti = 0; ti < s->ntasks; ti++) {
		if (s->tasks[ti].foreach_list == NULL) {
			total++;
			continue;
		}
		if ((r = foreach_items(c, &s->tasks[ti], &items[ti],
		    &k)) != 0)
			break;
		total += k;
	}
	if (r == 0 && ((rs->name = strdup(s->name)) == NULL ||
	    (rs->tasks = calloc(total + 1, sizeof(*rs->tasks))) == NULL ||
	    (rs->wire_tasks = calloc(total + 1,
	    sizeof(*rs->wire_tasks))) == NULL))
		r = KORCH_ERR_ALLOC;
	for (ti = 0; r == 0 && ti < s->ntasks; ti++) {
		if (s->tasks[ti].foreach_list == NULL) {
			r = render_one(c, si, ti, NULL, rs);
			continue;
		}
		next = items[ti];
		while (r == 0 && (it = strsep(&next, ",")) != NULL)
			if (*it != '\0')
				r = render_one(c, si, ti, it, rs);
	}
	for (ti = 0; ti < s->ntasks; ti++)
		free(items[ti]);
	free(items);
	return r;
}

/*
 * Watched task wt names its watcher t's service in its notify argument, so
 * that the agent marks the service for restart on the host before wt
 * changes anything (agent/restart_mark.h): the restart is owed even when
 * this run dies before it learns of the change.
 */
static int
notify_add(struct rendered_host *rh, const struct rendered_task *wt,
    const struct rendered_task *t)
{
	const struct kp_kv *name = kp_task_arg(t->wire, "name");
	const struct kp_kv *old = kp_task_arg(wt->wire, KMS_ARG_NOTIFY);
	char *v;
	int r;

	if (name == NULL)
		return 0;
	if (old == NULL)
		return render_task_set_arg(rh, wt->key, KMS_ARG_NOTIFY,
		    name->val);
	if (asprintf(&v, "%s %s", old->val, name->val) < 0)
		return KORCH_ERR_ALLOC;
	r = render_task_set_arg(rh, wt->key, KMS_ARG_NOTIFY, v);
	free(v);
	return r;
}

/* Digests, each watched task's list of watchers, and its notify. */
static int
finish(struct rendered_host *rh)
{
	struct rendered_task **by_id = NULL, *t, *wt;
	char **nv;
	size_t i, j, k;
	int r = KORCH_ERR_ALLOC;

	if ((by_id = calloc(rh->ntasks + 1, sizeof(*by_id))) == NULL)
		goto out;
	for (i = 0; i < rh->nsteps; i++) {
		for (j = 0; j < rh->steps[i].ntasks; j++) {
			t = &rh->steps[i].tasks[j];
			by_id[t->wire->id] = t;
			if ((r = task_digest(t)) != 0)
				goto out;
			/* Watched ids are earlier, so already in by_id. */
			for (k = 0; k < t->wire->nwatch; k++) {
				wt = by_id[t->wire->watch[k]];
				r = KORCH_ERR_INTERNAL;
				if (wt == NULL)
					goto out;
				r = KORCH_ERR_ALLOC;
				if ((nv = reallocarray(wt->watchers,
				    wt->nwatchers + 1, sizeof(*nv))) == NULL)
					goto out;
				wt->watchers = nv;
				if ((nv[wt->nwatchers] = strdup(t->key)) == NULL)
					goto out;
				wt->nwatchers++;
				if ((r = notify_add(rh, wt, t)) != 0)
					goto out;
			}
		}
	}
	r = 0;
 out:
	free(by_id);
	return r;
}

int
render_host_tasks(const struct playbook *pb, const struct dag *g,
    const struct inventory *inv, size_t host_idx, const struct vars *facts,
    const struct vars *extra, struct rendered_host **out, struct diag *d)
{
	struct rendered_host *rh = NULL;
	struct vars *v = NULL;
	struct rctx c;
	const size_t *steps;
	size_t nsteps, i;
	int r;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	if (pb == NULL || g == NULL || inv == NULL ||
	    host_idx >= inv->nhosts || dag_nsteps(g) != pb->nsteps ||
	    dag_nhosts(g) != inv->nhosts)
		return KORCH_ERR_INVALID_ARG;
	if ((r = render_host_vars(inv, host_idx, facts, extra, &v, d)) != 0)
		return r;
	c.pb = pb;
	c.host = &inv->hosts[host_idx];
	c.v = v;
	c.d = d;
	snprintf(c.context, sizeof(c.context), "host %s", c.host->name);
	steps = dag_host_steps(g, host_idx, &nsteps);
	r = KORCH_ERR_ALLOC;
	if ((rh = calloc(1, sizeof(*rh))) == NULL ||
	    (rh->steps = calloc(nsteps + 1, sizeof(*rh->steps))) == NULL ||
	    (c.ids = calloc(pb->nsteps + 1, sizeof(*c.ids))) == NULL)
		goto out;
	rh->host = host_idx;
	rh->name = c.host->name;
	for (i = 0; i < nsteps; i++)
		if ((c.ids[steps[i]] = calloc(pb->steps[steps[i]].ntasks + 1,
		    sizeof(uint32_t))) == NULL)
			goto out;
	for (i = 0; i < nsteps; i++) {
		rh->nsteps++;
		if ((r = render_step(&c, steps[i], &rh->steps[i])) != 0)
			goto out;
	}
	rh->ntasks = c.next_id;
	r = KORCH_ERR_TEMPLATE;
	if (c.nbad > 0)
		goto out;
	if ((r = finish(rh)) != 0)
		goto out;
	*out = rh;
	rh = NULL;
 out:
	for (i = 0; c.ids != NULL && i < pb->nsteps; i++)
		free(c.ids[i]);
	free(c.ids);
	rendered_host_free(rh);
	vars_free(v);
	return r;
}

void
rendered_host_free(struct rendered_host *rh)
{
	struct rendered_step *rs;
	struct rendered_task *t;
	size_t i, j, k;
	int secret;

	if (rh == NULL)
		return;
	for (i = 0; i < rh->nsteps; i++) {
		rs = &rh->steps[i];
		for (j = 0; j < rs->ntasks; j++) {
			t = &rs->tasks[j];
			free(t->key);
			for (k = 0; k < t->nwatchers; k++)
				free(t->watchers[k]);
			free(t->watchers);
			/* A secret task's content is a key. */
			secret = render_task_arg(t, "secret") != NULL;
			for (k = 0; k < t->wire->nargs; k++) {
				free(t->wire->args[k].key);
				if (t->wire->args[k].val != NULL && secret)
					explicit_bzero(t->wire->args[k].val,
					    t->wire->args[k].val_len);
				free(t->wire->args[k].val);
			}
			free(t->wire->args);
			free(t->wire->watch);
			free(t->wire->module);
		}
		free(rs->tasks);
		free(rs->wire_tasks);
		free(rs->name);
	}
	free(rh->steps);
	free(rh);
}

const struct rendered_task *
rendered_host_find(const struct rendered_host *rh, const char *key)
{
	size_t i, j;

	if (rh == NULL || key == NULL)
		return NULL;
	for (i = 0; i < rh->nsteps; i++)
		for (j = 0; j < rh->steps[i].ntasks; j++)
			if (strcmp(rh->steps[i].tasks[j].key, key) == 0)
				return &rh->steps[i].tasks[j];
	return NULL;
}

const struct rendered_task *
render_find_task(const struct rendered_host *rh, uint32_t id,
    const struct rendered_step **rs)
{
	const struct rendered_step *s;
	size_t i;

	if (rh == NULL)
		return NULL;
	/* Ids are consecutive in step order: find the step that holds id. */
	for (i = 0; i < rh->nsteps; i++) {
		s = &rh->steps[i];
		if (s->ntasks == 0 || id < s->wire_tasks[0].id ||
		    id > s->wire_tasks[s->ntasks - 1].id)
			continue;
		if (rs != NULL)
			*rs = s;
		return &s->tasks[id - s->wire_tasks[0].id];
	}
	return NULL;
}

const char *
render_task_arg(const struct rendered_task *t, const char *name)
{
	const struct kp_kv *kv;

	if (t == NULL || (kv = kp_task_arg(t->wire, name)) == NULL)
		return NULL;
	return kv->val;
}

int
render_task_set_arg(struct rendered_host *rh, const char *key,
    const char *name, const char *value)
{
	const struct rendered_task *ct;
	struct kp_task *w;
	struct kp_kv *nargs;
	char *k = NULL, *v;
	uint32_t i;

	if (rh == NULL || (ct = rendered_host_find(rh, key)) == NULL)
		return KORCH_ERR_NOT_FOUND;
	w = ct->wire;
	if ((v = strdup(value)) == NULL)
		return KORCH_ERR_ALLOC;
	/* Set, not add: the agent refuses an argument given twice. */
	for (i = 0; i < w->nargs; i++) {
		if (strcmp(w->args[i].key, name) == 0) {
			free(w->args[i].val);
			w->args[i].val = v;
			w->args[i].val_len = strlen(v);
			return 0;
		}
	}
	if ((k = strdup(name)) == NULL ||
	    (nargs = reallocarray(w->args, w->nargs + 1,
	    sizeof(*w->args))) == NULL) {
		free(k);
		free(v);
		return KORCH_ERR_ALLOC;
	}
	w->args = nargs;
	w->args[w->nargs].key = k;
	w->args[w->nargs].val = v;
	w->args[w->nargs].val_len = strlen(v);
	w->nargs++;
	return 0;
}
