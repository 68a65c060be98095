/*
 * inventory.c - see inventory.h.  The file, its cluster and ssh
 * sections and vars: mappings; the hosts list is inventory_hosts.c, what
 * each field may hold inventory_value.c.
 *
 * The loader walks libyaml's document tree once, checking every field it
 * knows and reporting every problem, then checks what needs all hosts at
 * once (duplicates).  A field that is wrong is left at its default so the
 * walk can go on; the half-built inventory is thrown away if anything was
 * reported.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "spec/inventory-int.h"
#include "spec/yaml_doc.h"

static const char *const top_keys[] = { "cluster", "ssh", "hosts", NULL };
static const char *const cluster_keys[] = { "name", "kubernetes_version",
	"pod_cidr", "service_cidr", "dns_domain", "apiserver_lb", "apiserver_vip",
	"apiserver_vip_port", "bundle", "vars", NULL };
static const char *const lb_modes[] = { "none", "local", "vip", "external",
	NULL };
static const char *const ssh_keys[] = { "user", "port", "private_key",
	"known_hosts", "become", "bastion", "connect_timeout", NULL };
static const char *const bastion_keys[] = { "address", "port", "user",
	NULL };

/* An inventory value: untrusted text wherever it is rendered. */
static void
setvar(struct inv_loader *ld, struct vars *v, const char *k, const char *val)
{
	if (vars_set_flags(v, k, val, VARS_F_USER) != 0)
		ld->y.oom = 1;
}

/* "~" / "~/x" -> $HOME; relative -> under the inventory's directory. */
static char *
resolve_path(struct inv_loader *ld, const yaml_node_t *n, const char *path,
    const char *s)
{
	struct ydoc *y = &ld->y;
	const char *home, *rest;
	struct passwd *pw;
	char *out = NULL;

	if (s[0] == '~') {
		if (s[1] != '\0' && s[1] != '/') {
			ydoc_bad(y, n, path, "'~user' paths are not supported; "
			    "use '~/' or an absolute path");
			return NULL;
		}
		if ((home = getenv("HOME")) == NULL || *home == '\0') {
			pw = getpwuid(getuid());
			home = pw != NULL ? pw->pw_dir : NULL;
		}
		if (home == NULL) {
			ydoc_bad(y, n, path, "cannot expand '~': no home "
			    "directory");
			return NULL;
		}
		rest = s + 1;
		if (asprintf(&out, "%s%s", home, rest) < 0)
			goto oom;
		return out;
	}
	if (s[0] == '/')
		return ydoc_dup(y, s);
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	if (asprintf(&out, "%s/%s", ld->basedir, s) < 0)
		goto oom;
	return out;
 oom:
	y->oom = 1;
	return NULL;
}

void
inv_load_vars(struct inv_loader *ld, const yaml_node_t *map,
    const char *path, struct vars *v)
{
	struct ydoc *y = &ld->y;
	yaml_node_t *k, *val;
	char sub[YDOC_PATHLEN];
	const char *key;
	size_t i;

	if (map == NULL || !ydoc_want_map(y, map, path))
		return;
	/* Any key is allowed; this reports duplicates and non-scalars. */
	ydoc_check_keys(y, map, path, NULL);
	for (i = 0; i < ydoc_count(map); i++) {
		ydoc_pair(y, map, i, &k, &val);
		if ((key = ydoc_text(k)) == NULL)
			continue;	/* reported by check_keys */
		ydoc_subpath(sub, path, key);
		if (!inv_varname_valid(key)) {
			ydoc_bad(y, k, sub, "variable names are [A-Za-z0-9_]+");
			continue;
		}
		if (val == NULL || val->type != YAML_SCALAR_NODE) {
			ydoc_bad(y, val, sub, "expected a scalar value, got %s",
			    diag_yaml_kind(val));
			continue;
		}
		if (diag_yaml_is_null(val)) {
			ydoc_bad(y, val, sub, "empty value (write '' for an "
			    "empty string)");
			continue;
		}
		if (vars_name_reserved(key)) {
			ydoc_bad(y, k, sub, "'%s' is derived from the hosts "
			    "list and cannot be set (to point hosts at a load "
			    "balancer, set apiserver_endpoint)", key);
			continue;
		}
		/* Text checks: inv_text_walk, before any field is read. */
		if (vars_set_flags(v, key, (const char *)val->data.scalar.value,
		    VARS_F_USER | (val->data.scalar.style ==
		    YAML_LITERAL_SCALAR_STYLE ? VARS_F_MULTILINE : 0)) != 0)
			y->oom = 1;
	}
}

/* cluster.<key>, a CIDR, over the default in *dst. */
static void
load_cidr(struct ydoc *y, const yaml_node_t *map, const char *key,
    char **dst)
{
	char path[YDOC_PATHLEN], msg[256];
	yaml_node_t *n;
	const char *s;

	if ((s = ydoc_key_str(y, map, key, "cluster", 0, &n)) == NULL)
		return;
	ydoc_subpath(path, "cluster", key);
	if (inv_cidr_check(s, msg, sizeof(msg)) != 0)
		ydoc_bad(y, n, path, "%s", msg);
	else {
		free(*dst);
		*dst = ydoc_dup(y, s);
	}
}

/* 1 when s is an IPv4 or IPv6 literal (not a DNS name). */
static int
is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static void
load_cluster(struct inv_loader *ld, const yaml_node_t *root)
{
	struct inv_cluster *c = &ld->inv->cluster;
	struct ydoc *y = &ld->y;
	yaml_node_t *map, *n;
	struct stat st;
	char canon[64];
	const char *s, *err;
	size_t i;

	if ((map = ydoc_require(y, root, "cluster", "")) == NULL ||
	    !ydoc_want_map(y, map, "cluster"))
		return;
	ydoc_check_keys(y, map, "cluster", cluster_keys);
	if ((s = ydoc_key_str(y, map, "name", "cluster", 1, &n)) != NULL) {
		if (!inv_label_valid(s))
			ydoc_bad(y, n, "cluster.name", "invalid cluster name "
			    "'%s' (lowercase letters, digits and inner '-', at "
			    "most 63)", s);
		else
			c->name = ydoc_dup(y, s);
	}
	if ((s = ydoc_key_str(y, map, "kubernetes_version", "cluster", 0,
	    &n))) {
		if (strspn(s, "0123456789.") != strlen(s) ||
		    !isdigit((unsigned char)s[0]) ||
		    !isdigit((unsigned char)s[strlen(s) - 1]) ||
		    strstr(s, "..") != NULL)
			ydoc_bad(y, n, "cluster.kubernetes_version", "expected "
			    "a version like 1.8.15, got '%s'", s);
		else
			c->kubernetes_version = ydoc_dup(y, s);
	}
	load_cidr(y, map, "pod_cidr", &c->pod_cidr);
	load_cidr(y, map, "service_cidr", &c->service_cidr);
	if ((s = ydoc_key_str(y, map, "dns_domain", "cluster", 0, &n))) {
		if (!inventory_hostname_valid(s))
			ydoc_bad(y, n, "cluster.dns_domain", "malformed domain "
			    "'%s'", s);
		else {
			free(c->dns_domain);
			c->dns_domain = ydoc_dup(y, s);
		}
	}
	if ((s = ydoc_key_str(y, map, "apiserver_lb", "cluster", 0, &n))) {
		for (i = 0; lb_modes[i] != NULL && strcmp(s, lb_modes[i]) != 0;
		    i++)
			;
		if (lb_modes[i] == NULL)
			ydoc_bad(y, n, "cluster.apiserver_lb", "expected none, "
			    "local, vip or external, got '%s'", s);
		else {
			c->apiserver_lb = ydoc_dup(y, s);
			ld->lb_node = n;
		}
	}
	if ((s = ydoc_key_str(y, map, "apiserver_vip", "cluster", 0, &n))) {
		if ((err = inv_address_check(s, canon, sizeof(canon))) != NULL)
			ydoc_bad(y, n, "cluster.apiserver_vip", "%s", err);
		else if (!is_ip_literal(s))
			ydoc_bad(y, n, "cluster.apiserver_vip", "expected an "
			    "IPv4 or IPv6 address (keepalived holds it), got "
			    "'%s'", s);
		else {
			c->apiserver_vip = ydoc_dup(y, s);
			ld->vip_node = n;
		}
	}
	(void)ydoc_key_int(y, map, "apiserver_vip_port", "cluster", 1, 65535,
	    &c->apiserver_vip_port);
	if ((s = ydoc_key_str(y, map, "bundle", "cluster", 0, &n)) != NULL &&
	    (c->bundle = resolve_path(ld, n, "cluster.bundle", s)) != NULL) {
		if (stat(c->bundle, &st) != 0)
			ydoc_bad(y, n, "cluster.bundle", "cannot use '%s': %s",
			    c->bundle, strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			ydoc_bad(y, n, "cluster.bundle", "'%s' is not a "
			    "directory", c->bundle);
	}
	/* Cluster vars: are read after the cluster.* names are set, in
	 * inventory_load, so that the order of vars is stable. */
}

static void
load_ssh(struct inv_loader *ld, const yaml_node_t *root)
{
	struct inv_ssh *ssh = &ld->inv->ssh;
	struct ydoc *y = &ld->y;
	yaml_node_t *map, *bmap, *n;
	const char *s;
	char *p;

	map = ydoc_get(y, root, "ssh");
	if (map == NULL || !ydoc_want_map(y, map, "ssh"))
		return;
	ydoc_check_keys(y, map, "ssh", ssh_keys);
	if ((s = ydoc_key_str(y, map, "user", "ssh", 0, &n)) != NULL) {
		if (!inv_user_valid(s))
			ydoc_bad(y, n, "ssh.user", "invalid user name '%s'", s);
		else if ((p = ydoc_dup(y, s)) != NULL) {
			free(ssh->user);
			ssh->user = p;
		}
	}
	(void)ydoc_key_int(y, map, "port", "ssh", 1, 65535, &ssh->port);
	(void)ydoc_key_int(y, map, "connect_timeout", "ssh", 1, 3600,
	    &ssh->connect_timeout);
	if ((s = ydoc_key_str(y, map, "private_key", "ssh", 0, &n)) != NULL &&
	    (ssh->private_key = resolve_path(ld, n, "ssh.private_key", s)) &&
	    access(ssh->private_key, R_OK) != 0)
		ydoc_bad(y, n, "ssh.private_key", "cannot read '%s': %s",
		    ssh->private_key, strerror(errno));
	if ((s = ydoc_key_str(y, map, "known_hosts", "ssh", 0, &n)) != NULL &&
	    (p = resolve_path(ld, n, "ssh.known_hosts", s)) != NULL) {
		free(ssh->known_hosts);
		ssh->known_hosts = p;
	}
	if ((s = ydoc_key_str(y, map, "become", "ssh", 0, &n)) != NULL) {
		if (strcmp(s, "sudo") != 0)
			ydoc_bad(y, n, "ssh.become", "only 'sudo' is "
			    "supported, got '%s'", s);
		else
			ssh->become_sudo = 1;
	}
	bmap = ydoc_get(y, map, "bastion");
	if (bmap == NULL || !ydoc_want_map(y, bmap, "ssh.bastion"))
		return;
	ydoc_check_keys(y, bmap, "ssh.bastion", bastion_keys);
	if ((s = ydoc_key_str(y, bmap, "address", "ssh.bastion", 1, &n))) {
		char canon[INET6_ADDRSTRLEN + 256];
		const char *err = inv_address_check(s, canon, sizeof(canon));

		if (err != NULL)
			ydoc_bad(y, n, "ssh.bastion.address", "%s: '%s'", err,
			    s);
		else
			ssh->bastion.address = ydoc_dup(y, s);
	}
	(void)ydoc_key_int(y, bmap, "port", "ssh.bastion", 1, 65535,
	    &ssh->bastion.port);
	if ((s = ydoc_key_str(y, bmap, "user", "ssh.bastion", 0, &n))) {
		if (!inv_user_valid(s))
			ydoc_bad(y, n, "ssh.bastion.user", "invalid user name "
			    "'%s'", s);
		else
			ssh->bastion.user = ydoc_dup(y, s);
	}
}

/* Defaults, set before loading so that each field overrides its own. */
static int
set_defaults(struct inv_loader *ld)
{
	struct inventory *inv = ld->inv;
	struct ydoc *y = &ld->y;

	inv->ssh.port = 22;
	inv->ssh.connect_timeout = 10;
	inv->ssh.user = ydoc_dup(y, "root");
	inv->cluster.pod_cidr = ydoc_dup(y, "10.244.0.0/16");
	inv->cluster.service_cidr = ydoc_dup(y, "10.254.0.0/16");
	inv->cluster.dns_domain = ydoc_dup(y, "cluster.local");
	inv->cluster.apiserver_vip_port = 8443;
	inv->ssh.known_hosts = resolve_path(ld, NULL, "ssh.known_hosts",
	    "~/.ssh/known_hosts");
	if ((inv->vars = vars_new(NULL)) == NULL)
		y->oom = 1;
	return y->oom ? KORCH_ERR_ALLOC : 0;
}

/* Bastion port/user default to the ssh section's, known only after it. */
static void
finish_ssh(struct inv_loader *ld)
{
	struct inv_ssh *ssh = &ld->inv->ssh;

	if (ssh->bastion.address == NULL)
		return;
	if (ssh->bastion.port == 0)
		ssh->bastion.port = ssh->port;
	if (ssh->bastion.user == NULL && ssh->user != NULL)
		ssh->bastion.user = ydoc_dup(&ld->y, ssh->user);
}

static void
cluster_vars(struct inv_loader *ld)
{
	const struct inv_cluster *c = &ld->inv->cluster;
	struct vars *v = ld->inv->vars;

	if (c->name != NULL)
		setvar(ld, v, "cluster.name", c->name);
	if (c->kubernetes_version != NULL)
		setvar(ld, v, "cluster.kubernetes_version",
		    c->kubernetes_version);
	setvar(ld, v, "cluster.pod_cidr", c->pod_cidr);
	setvar(ld, v, "cluster.service_cidr", c->service_cidr);
	setvar(ld, v, "cluster.dns_domain", c->dns_domain);
	if (c->bundle != NULL)
		setvar(ld, v, "cluster.bundle", c->bundle);
}

/*
 * How hosts reach the apiservers, once the hosts are known: by default an
 * haproxy on every host with 2+ masters (kubespray's local load balancer),
 * the operator's apiserver_endpoint when one is set, else the one master.
 * Then what each mode needs, reported at the apiserver_lb line.
 */
static void
finish_lb(struct inv_loader *ld)
{
	struct inv_cluster *c = &ld->inv->cluster;
	struct ydoc *y = &ld->y;
	const char *ep = vars_get_local(ld->inv->vars, "apiserver_endpoint");
	const yaml_node_t *at = ld->lb_node;
	size_t i;

	if (c->apiserver_lb == NULL && y->nbad == 0)
		c->apiserver_lb = ydoc_dup(y, ep != NULL ? "external" :
		    inventory_count_role(ld->inv, "master") >= 2 ? "local" :
		    "none");
	if (c->apiserver_lb == NULL)
		return;		/* reported */
	if (strcmp(c->apiserver_lb, "external") == 0 && ep == NULL)
		ydoc_bad(y, at, "cluster.apiserver_lb", "external needs the "
		    "load balancer's address: set the cluster var "
		    "apiserver_endpoint (host[:port] or a URL)");
	if (strcmp(c->apiserver_lb, "vip") == 0) {
		if (c->apiserver_vip == NULL)
			ydoc_bad(y, at, "cluster.apiserver_lb", "vip needs "
			    "cluster.apiserver_vip, the address keepalived "
			    "holds on the masters");
		if (ep != NULL)
			ydoc_bad(y, at, "cluster.apiserver_lb", "vip names the "
			    "endpoint itself (https://apiserver_vip:"
			    "apiserver_vip_port): drop the var "
			    "apiserver_endpoint, or use external");
		if (inventory_count_role(ld->inv, "master") == 0)
			ydoc_bad(y, at, "cluster.apiserver_lb", "vip needs at "
			    "least one master to hold the address");
	} else if (c->apiserver_vip != NULL)
		ydoc_bad(y, ld->vip_node, "cluster.apiserver_vip", "only used "
		    "with apiserver_lb: vip (it is %s)", c->apiserver_lb);
	for (i = 0; c->apiserver_vip != NULL && i < ld->inv->nhosts; i++)
		if (ld->inv->hosts[i].address != NULL &&
		    strcmp(ld->inv->hosts[i].address, c->apiserver_vip) == 0)
			ydoc_bad(y, ld->vip_node, "cluster.apiserver_vip",
			    "%s is host %s's own address: the virtual IP must "
			    "be a free one", c->apiserver_vip,
			    ld->inv->hosts[i].name);
	setvar(ld, ld->inv->vars, "cluster.apiserver_lb", c->apiserver_lb);
	if (c->apiserver_vip != NULL) {
		char port[8];

		snprintf(port, sizeof(port), "%d", c->apiserver_vip_port);
		setvar(ld, ld->inv->vars, "cluster.apiserver_vip",
		    c->apiserver_vip);
		setvar(ld, ld->inv->vars, "cluster.apiserver_vip_port", port);
	}
}

int
inventory_load(const char *path, struct inventory **out, struct diag *d)
{
	struct inv_loader ld;
	struct ydoc *y = &ld.y;
	yaml_node_t *root, *cmap;
	char *tmp = NULL, *real = NULL;
	int r;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	y->d = d;
	if ((r = ydoc_open(y, path)) != 0)
		return r;
	r = KORCH_ERR_ALLOC;
	if ((ld.inv = calloc(1, sizeof(*ld.inv))) == NULL ||
	    (ld.inv->path = strdup(path)) == NULL ||
	    (tmp = strdup(path)) == NULL)
		goto out;
	/* realpath: relative paths in the file must not depend on the cwd
	 * of whoever uses the inventory later. */
	if ((real = realpath(dirname(tmp), NULL)) != NULL)
		ld.basedir = real;
	else
		ld.basedir = dirname(tmp);
	if (set_defaults(&ld) != 0)
		goto out;

	root = ydoc_root(y);
	if (root->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, root, "", "expected a mapping with cluster, ssh "
		    "and hosts, got %s", diag_yaml_kind(root));
		r = KORCH_ERR_PARSE;
		goto out;
	}
	/* Bad bytes first, and alone: the field loaders quote values in
	 * their messages, and these must not reach a terminal. */
	if (inv_text_walk(&ld, root) != 0) {
		r = y->oom ? KORCH_ERR_ALLOC : KORCH_ERR_PARSE;
		goto out;
	}
	ydoc_check_keys(y, root, "", top_keys);
	load_cluster(&ld, root);
	cluster_vars(&ld);
	cmap = ydoc_get(y, root, "cluster");
	if (cmap != NULL && cmap->type == YAML_MAPPING_NODE)
		inv_load_vars(&ld, ydoc_get(y, cmap, "vars"), "cluster.vars",
		    ld.inv->vars);
	load_ssh(&ld, root);
	finish_ssh(&ld);
	inv_load_hosts(&ld, root);
	finish_lb(&ld);
	if (y->oom)
		goto out;
	if (y->nbad > 0) {
		r = KORCH_ERR_PARSE;
		goto out;
	}
	*out = ld.inv;
	ld.inv = NULL;
	r = 0;
 out:
	inventory_free(ld.inv);
	ydoc_close(y);
	free(real);
	free(tmp);
	return r;
}

void
inventory_free(struct inventory *inv)
{
	size_t i, j;

	if (inv == NULL)
		return;
	for (i = 0; i < inv->nhosts; i++) {
		struct inv_host *h = &inv->hosts[i];

		free(h->name);
		free(h->address);
		free(h->user);
		for (j = 0; j < h->nroles; j++)
			free(h->roles[j]);
		free(h->roles);
		vars_free(h->vars);
	}
	free(inv->hosts);
	free(inv->cluster.name);
	free(inv->cluster.kubernetes_version);
	free(inv->cluster.pod_cidr);
	free(inv->cluster.service_cidr);
	free(inv->cluster.dns_domain);
	free(inv->cluster.apiserver_lb);
	free(inv->cluster.apiserver_vip);
	free(inv->cluster.bundle);
	free(inv->ssh.user);
	free(inv->ssh.private_key);
	free(inv->ssh.known_hosts);
	free(inv->ssh.bastion.address);
	free(inv->ssh.bastion.user);
	vars_free(inv->vars);
	free(inv->path);
	free(inv);
}

const struct inv_host *
inventory_find_host(const struct inventory *inv, const char *name,
    size_t *idx)
{
	size_t i;

	if (inv == NULL || name == NULL)
		return NULL;
	for (i = 0; i < inv->nhosts; i++) {
		if (inv->hosts[i].name != NULL &&
		    strcmp(inv->hosts[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &inv->hosts[i];
		}
	}
	return NULL;
}

int
inventory_host_has_role(const struct inv_host *h, const char *role)
{
	size_t i;

	if (h == NULL || role == NULL)
		return 0;
	if (strcmp(role, "all") == 0)
		return 1;
	for (i = 0; i < h->nroles; i++)
		if (strcmp(h->roles[i], role) == 0)
			return 1;
	return 0;
}

size_t
inventory_count_role(const struct inventory *inv, const char *role)
{
	size_t i, n = 0;

	for (i = 0; i < inv->nhosts; i++)
		n += inventory_host_has_role(&inv->hosts[i], role) != 0;
	return n;
}

const struct inv_host *
inventory_first_with_role(const struct inventory *inv, const char *role,
    size_t *idx)
{
	size_t i;

	for (i = 0; i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], role)) {
			if (idx != NULL)
				*idx = i;
			return &inv->hosts[i];
		}
	return NULL;
}
