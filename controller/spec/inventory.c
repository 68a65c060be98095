/*
 * inventory.c - see inventory.h.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "err.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"

#define PATHLEN	256

struct loader {
	const char	*file;
	yaml_document_t	*doc;
	struct diag	*d;
	struct inventory *inv;
	char		*basedir;	/* absolute directory of the file */
	int		 nbad;		/* problems reported */
	int		 oom;
};

static const char *const top_keys[] = { "cluster", "ssh", "hosts", NULL };
static const char *const cluster_keys[] = { "name", "kubernetes_version",
	"pod_cidr", "service_cidr", "dns_domain", "bundle", "vars", NULL };
static const char *const ssh_keys[] = { "user", "port", "private_key",
	"known_hosts", "become", "bastion", "connect_timeout", NULL };
static const char *const bastion_keys[] = { "address", "port", "user",
	NULL };
static const char *const host_keys[] = { "name", "address", "port", "user",
	"roles", "vars", NULL };

static void bad(struct loader *, const yaml_node_t *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

static void
bad(struct loader *ld, const yaml_node_t *n, const char *path,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_node(ld->d, ld->file, n, path, "%s", msg);
	ld->nbad++;
}

static char *
xdup(struct loader *ld, const char *s)
{
	char *c;

	if ((c = strdup(s)) == NULL)
		ld->oom = 1;
	return c;
}

static void
setvar(struct loader *ld, struct vars *v, const char *k, const char *val)
{
	int r;

	if ((r = vars_set(v, k, val)) != 0)
		ld->oom = 1;
}

static yaml_node_t *
node(struct loader *ld, yaml_node_item_t id)
{
	return yaml_document_get_node(ld->doc, id);
}

/* Field paths are for messages: a very long one is cut, never overrun.
 * (vsnprintf, because gcc's truncation warning is noise here.) */
static void pathf(char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
pathf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATHLEN, fmt, ap);
	va_end(ap);
}

static void
subpath(char *buf, const char *path, const char *key)
{
	pathf(buf, "%s%s%s", path, *path ? "." : "", key);
}

/* n must be a mapping (a missing n is fine: nothing to check). */
static int
want_mapping(struct loader *ld, const yaml_node_t *n, const char *path)
{
	if (n == NULL || n->type == YAML_MAPPING_NODE)
		return 1;
	bad(ld, n, path, "expected a mapping, got %s", diag_yaml_kind(n));
	return 0;
}

/*
 * The string value of map[key]: NULL when absent (reported when required)
 * or malformed (reported).  *at gets the node for later messages.
 */
static const char *
get_str(struct loader *ld, const yaml_node_t *map, const char *key,
    const char *path, int required, yaml_node_t **at)
{
	char p[PATHLEN];
	yaml_node_t *n;

	subpath(p, path, key);
	n = diag_yaml_get(ld->doc, map, key);
	if (at != NULL)
		*at = n;
	if (n == NULL) {
		if (required)
			bad(ld, map, p, "missing required key '%s'", key);
		return NULL;
	}
	if (n->type != YAML_SCALAR_NODE || diag_yaml_is_null(n)) {
		bad(ld, n, p, "expected a string, got %s", diag_yaml_kind(n));
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) !=
	    n->data.scalar.length) {
		bad(ld, n, p, "value contains a NUL byte");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* map[key] as an integer in [lo, hi]; *val untouched when absent/bad.
 * Returns -1 when the value is bad (reported), else 0. */
static int
get_int(struct loader *ld, const yaml_node_t *map, const char *key,
    const char *path, long lo, long hi, int *val)
{
	char p[PATHLEN], *end;
	yaml_node_t *n;
	const char *s;
	long v;

	if ((s = get_str(ld, map, key, path, 0, &n)) == NULL)
		return n != NULL ? -1 : 0;
	subpath(p, path, key);
	errno = 0;
	v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0) {
		bad(ld, n, p, "expected an integer, got '%s'", s);
		return -1;
	}
	if (v < lo || v > hi) {
		bad(ld, n, p, "must be between %ld and %ld, got %ld", lo, hi,
		    v);
		return -1;
	}
	*val = (int)v;
	return 0;
}

int
inventory_role_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-'))
			return 0;
	return 1;
}

int
inventory_hostname_valid(const char *s)
{
	size_t total = 0, label = 0;
	char prev = '.';

	if (s == NULL || *s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++, total++) {
		if (*s == '.') {
			if (label == 0 || prev == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*s) && isascii(*s)) {
			if (++label > 63)
				return 0;
		} else if (*s == '-') {
			if (label == 0)
				return 0;
			label++;
		} else
			return 0;
		prev = *s;
	}
	return label > 0 && prev != '-';
}

/* A label like a cluster name: lowercase, digits, inner hyphens. */
static int
label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-'))
			return 0;
	return 1;
}

/* A login name: conservative POSIX portable set, no leading '-'. */
static int
user_valid(const char *s)
{
	if (*s == '\0' || *s == '-' || strlen(s) > 32)
		return 0;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) && isascii(*s)) &&
		    *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

/* [A-Za-z0-9_]+: no dots, so user names never shadow korch's namespaces. */
static int
varname_valid(const char *s)
{
	return vars_name_valid(s, strlen(s)) && strchr(s, '.') == NULL;
}

/*
 * Check an address; on success write a canonical form (for duplicate
 * detection) into canon.  Returns an error text or NULL.
 */
static const char *
address_check(const char *s, char *canon, size_t size)
{
	unsigned char bin[16];
	const char *p;
	size_t i;

	if (*s == '\0')
		return "empty address";
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, bin) != 1)
			return "malformed IPv6 address";
		inet_ntop(AF_INET6, bin, canon, size);
		return NULL;
	}
	for (p = s; *p != '\0' && (isdigit((unsigned char)*p) || *p == '.');
	    p++)
		;
	if (*p == '\0') {
		/* Only digits and dots: an IPv4 literal or a mistake, never a
		 * host name (a name can't be all numeric). */
		if (inet_pton(AF_INET, s, bin) != 1)
			return "malformed IPv4 address";
		inet_ntop(AF_INET, bin, canon, size);
		return NULL;
	}
	if (!inventory_hostname_valid(s))
		return "malformed address: not an IP address or an RFC 1123 "
		    "host name";
	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		canon[i] = (char)tolower((unsigned char)s[i]);
	canon[i] = '\0';
	return NULL;
}

/* network/prefix with all host bits zero.  Error text in msg, or 0. */
static int
cidr_check(const char *s, char *msg, size_t size)
{
	unsigned char bin[16], net[16];
	char addr[INET6_ADDRSTRLEN + 1], shown[INET6_ADDRSTRLEN + 1], *end;
	const char *slash;
	long prefix;
	int af, bits, i, hostbits = 0;

	if ((slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof(addr)) {
		snprintf(msg, size, "expected network/prefix, got '%s'", s);
		return -1;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	bits = af == AF_INET6 ? 128 : 32;
	if (inet_pton(af, addr, bin) != 1) {
		snprintf(msg, size, "malformed network address '%s'", addr);
		return -1;
	}
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (!isdigit((unsigned char)slash[1]) || *end != '\0' ||
	    errno != 0 || prefix < 0 || prefix > bits) {
		snprintf(msg, size, "prefix length must be 0-%d, got '%s'",
		    bits, slash + 1);
		return -1;
	}
	for (i = 0; i < bits / 8; i++) {
		int keep = (int)prefix - i * 8;
		unsigned char mask = keep >= 8 ? 0xff :
		    keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));

		net[i] = bin[i] & mask;
		if (net[i] != bin[i])
			hostbits = 1;
	}
	if (hostbits) {
		inet_ntop(af, net, shown, sizeof(shown));
		snprintf(msg, size, "host bits are set in '%s' (the network "
		    "is %s/%ld)", s, shown, prefix);
		return -1;
	}
	return 0;
}

/* "~" / "~/x" -> $HOME; relative -> under the inventory's directory. */
static char *
resolve_path(struct loader *ld, const yaml_node_t *n, const char *path,
    const char *s)
{
	const char *home, *rest;
	struct passwd *pw;
	char *out = NULL;

	if (s[0] == '~') {
		if (s[1] != '\0' && s[1] != '/') {
			bad(ld, n, path, "'~user' paths are not supported; "
			    "use '~/' or an absolute path");
			return NULL;
		}
		if ((home = getenv("HOME")) == NULL || *home == '\0') {
			pw = getpwuid(getuid());
			home = pw != NULL ? pw->pw_dir : NULL;
		}
		if (home == NULL) {
			bad(ld, n, path, "cannot expand '~': no home directory");
			return NULL;
		}
		rest = s + 1;
		if (asprintf(&out, "%s%s", home, rest) < 0)
			goto oom;
		return out;
	}
	if (s[0] == '/')
		return xdup(ld, s);
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	if (asprintf(&out, "%s/%s", ld->basedir, s) < 0)
		goto oom;
	return out;
 oom:
	ld->oom = 1;
	return NULL;
}

/* A vars: mapping of scalars into v. */
static void
load_vars(struct loader *ld, const yaml_node_t *map, const char *path,
    struct vars *v)
{
	yaml_node_pair_t *p;
	yaml_node_t *k, *val;
	char sub[PATHLEN];
	const char *key;

	if (map == NULL || !want_mapping(ld, map, path))
		return;
	/* Any key is allowed; this reports duplicates and non-scalars. */
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map, path,
	    NULL);
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = node(ld, p->key);
		val = node(ld, p->value);
		if (k == NULL || k->type != YAML_SCALAR_NODE)
			continue;	/* reported by check_keys */
		key = (const char *)k->data.scalar.value;
		subpath(sub, path, key);
		if (!varname_valid(key)) {
			bad(ld, k, sub, "variable names are [A-Za-z0-9_]+");
			continue;
		}
		if (val == NULL || val->type != YAML_SCALAR_NODE) {
			bad(ld, val, sub, "expected a scalar value, got %s",
			    diag_yaml_kind(val));
			continue;
		}
		if (diag_yaml_is_null(val)) {
			bad(ld, val, sub, "empty value (write '' for an empty "
			    "string)");
			continue;
		}
		if (strlen((const char *)val->data.scalar.value) !=
		    val->data.scalar.length) {
			bad(ld, val, sub, "value contains a NUL byte");
			continue;
		}
		setvar(ld, v, key, (const char *)val->data.scalar.value);
	}
}

static void
load_cluster(struct loader *ld, const yaml_node_t *root)
{
	struct inv_cluster *c = &ld->inv->cluster;
	yaml_node_t *map, *n;
	struct stat st;
	const char *s;
	char msg[256];

	map = diag_yaml_get(ld->doc, root, "cluster");
	if (map == NULL) {
		bad(ld, root, "cluster", "missing required key 'cluster'");
		return;
	}
	if (!want_mapping(ld, map, "cluster"))
		return;
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map,
	    "cluster", cluster_keys);
	if ((s = get_str(ld, map, "name", "cluster", 1, &n)) != NULL) {
		if (!label_valid(s))
			bad(ld, n, "cluster.name", "invalid cluster name '%s' "
			    "(lowercase letters, digits and inner '-', at "
			    "most 63)", s);
		else
			c->name = xdup(ld, s);
	}
	if ((s = get_str(ld, map, "kubernetes_version", "cluster", 0, &n))) {
		if (strspn(s, "0123456789.") != strlen(s) ||
		    !isdigit((unsigned char)s[0]) ||
		    !isdigit((unsigned char)s[strlen(s) - 1]) ||
		    strstr(s, "..") != NULL)
			bad(ld, n, "cluster.kubernetes_version", "expected a "
			    "version like 1.8.15, got '%s'", s);
		else
			c->kubernetes_version = xdup(ld, s);
	}
	if ((s = get_str(ld, map, "pod_cidr", "cluster", 0, &n)) != NULL) {
		if (cidr_check(s, msg, sizeof(msg)) != 0)
			bad(ld, n, "cluster.pod_cidr", "%s", msg);
		else {
			free(c->pod_cidr);
			c->pod_cidr = xdup(ld, s);
		}
	}
	if ((s = get_str(ld, map, "service_cidr", "cluster", 0, &n))) {
		if (cidr_check(s, msg, sizeof(msg)) != 0)
			bad(ld, n, "cluster.service_cidr", "%s", msg);
		else {
			free(c->service_cidr);
			c->service_cidr = xdup(ld, s);
		}
	}
	if ((s = get_str(ld, map, "dns_domain", "cluster", 0, &n)) != NULL) {
		if (!inventory_hostname_valid(s))
			bad(ld, n, "cluster.dns_domain", "malformed domain "
			    "'%s'", s);
		else {
			free(c->dns_domain);
			c->dns_domain = xdup(ld, s);
		}
	}
	if ((s = get_str(ld, map, "bundle", "cluster", 0, &n)) != NULL &&
	    (c->bundle = resolve_path(ld, n, "cluster.bundle", s)) != NULL) {
		if (stat(c->bundle, &st) != 0)
			bad(ld, n, "cluster.bundle", "cannot use '%s': %s",
			    c->bundle, strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			bad(ld, n, "cluster.bundle", "'%s' is not a directory",
			    c->bundle);
	}
	/* Cluster vars: are read after the cluster.* names are set, in
	 * inventory_load, so that the order of vars is stable. */
}

static void
load_ssh(struct loader *ld, const yaml_node_t *root)
{
	struct inv_ssh *ssh = &ld->inv->ssh;
	yaml_node_t *map, *bmap, *n;
	const char *s;
	char *p;

	map = diag_yaml_get(ld->doc, root, "ssh");
	if (map == NULL || !want_mapping(ld, map, "ssh"))
		return;
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map, "ssh",
	    ssh_keys);
	if ((s = get_str(ld, map, "user", "ssh", 0, &n)) != NULL) {
		if (!user_valid(s))
			bad(ld, n, "ssh.user", "invalid user name '%s'", s);
		else if ((p = xdup(ld, s)) != NULL) {
			free(ssh->user);
			ssh->user = p;
		}
	}
	(void)get_int(ld, map, "port", "ssh", 1, 65535, &ssh->port);
	(void)get_int(ld, map, "connect_timeout", "ssh", 1, 3600,
	    &ssh->connect_timeout);
	if ((s = get_str(ld, map, "private_key", "ssh", 0, &n)) != NULL &&
	    (ssh->private_key = resolve_path(ld, n, "ssh.private_key", s)) &&
	    access(ssh->private_key, R_OK) != 0)
		bad(ld, n, "ssh.private_key", "cannot read '%s': %s",
		    ssh->private_key, strerror(errno));
	if ((s = get_str(ld, map, "known_hosts", "ssh", 0, &n)) != NULL &&
	    (p = resolve_path(ld, n, "ssh.known_hosts", s)) != NULL) {
		free(ssh->known_hosts);
		ssh->known_hosts = p;
	}
	if ((s = get_str(ld, map, "become", "ssh", 0, &n)) != NULL) {
		if (strcmp(s, "sudo") != 0)
			bad(ld, n, "ssh.become", "only 'sudo' is supported, "
			    "got '%s'", s);
		else
			ssh->become_sudo = 1;
	}
	bmap = diag_yaml_get(ld->doc, map, "bastion");
	if (bmap == NULL || !want_mapping(ld, bmap, "ssh.bastion"))
		return;
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, bmap,
	    "ssh.bastion", bastion_keys);
	if ((s = get_str(ld, bmap, "address", "ssh.bastion", 1, &n))) {
		char canon[INET6_ADDRSTRLEN + 256];
		const char *err = address_check(s, canon, sizeof(canon));

		if (err != NULL)
			bad(ld, n, "ssh.bastion.address", "%s: '%s'", err, s);
		else
			ssh->bastion.address = xdup(ld, s);
	}
	(void)get_int(ld, bmap, "port", "ssh.bastion", 1, 65535,
	    &ssh->bastion.port);
	if ((s = get_str(ld, bmap, "user", "ssh.bastion", 0, &n)) != NULL) {
		if (!user_valid(s))
			bad(ld, n, "ssh.bastion.user", "invalid user name "
			    "'%s'", s);
		else
			ssh->bastion.user = xdup(ld, s);
	}
}

/* Per-host facts kept only while loading, for duplicate checks. */
struct seen_host {
	const yaml_node_t *name_node;
	const yaml_node_t *addr_node;
	char		  addr_key[INET6_ADDRSTRLEN + 262];	/* addr:port */
};

static void
load_host(struct loader *ld, const yaml_node_t *map, size_t i,
    struct inv_host *h, struct seen_host *sh)
{
	char path[PATHLEN], sub[PATHLEN], canon[INET6_ADDRSTRLEN + 256];
	yaml_node_t *n, *it;
	yaml_node_item_t *item;
	const char *s, *err;
	size_t j, k;

	pathf(path, "hosts[%zu]", i);
	h->line = map->start_mark.line + 1;
	if ((h->vars = vars_new(ld->inv->vars)) == NULL)
		ld->oom = 1;
	if (!want_mapping(ld, map, path))
		return;
	ld->nbad += diag_yaml_check_keys(ld->d, ld->file, ld->doc, map, path,
	    host_keys);
	if ((s = get_str(ld, map, "name", path, 1, &n)) != NULL) {
		subpath(sub, path, "name");
		if (!inventory_hostname_valid(s))
			bad(ld, n, sub, "invalid host name '%s' (letters, "
			    "digits, inner '-', dot-separated labels)", s);
		else {
			h->name = xdup(ld, s);
			sh->name_node = n;
		}
	}
	if ((s = get_str(ld, map, "address", path, 1, &n)) != NULL) {
		subpath(sub, path, "address");
		if ((err = address_check(s, canon, sizeof(canon))) != NULL)
			bad(ld, n, sub, "%s: '%s'", err, s);
		else {
			h->address = xdup(ld, s);
			sh->addr_node = n;
		}
	}
	h->port = ld->inv->ssh.port;
	/* A bad port would make a false duplicate: leave the address out. */
	if (get_int(ld, map, "port", path, 1, 65535, &h->port) == 0 &&
	    h->address != NULL)
		snprintf(sh->addr_key, sizeof(sh->addr_key), "%s:%d", canon,
		    h->port);
	if ((s = get_str(ld, map, "user", path, 0, &n)) != NULL) {
		subpath(sub, path, "user");
		if (!user_valid(s))
			bad(ld, n, sub, "invalid user name '%s'", s);
		else
			h->user = xdup(ld, s);
	}
	if (h->user == NULL && ld->inv->ssh.user != NULL)
		h->user = xdup(ld, ld->inv->ssh.user);

	subpath(sub, path, "roles");
	n = diag_yaml_get(ld->doc, map, "roles");
	if (n == NULL)
		bad(ld, map, sub, "missing required key 'roles' (every host "
		    "needs at least one role)");
	else if (n->type != YAML_SEQUENCE_NODE)
		bad(ld, n, sub, "expected a sequence of roles, got %s",
		    diag_yaml_kind(n));
	else if (n->data.sequence.items.top == n->data.sequence.items.start)
		bad(ld, n, sub, "a host needs at least one role");
	else {
		size_t cnt = (size_t)(n->data.sequence.items.top -
		    n->data.sequence.items.start);

		if ((h->roles = calloc(cnt, sizeof(*h->roles))) == NULL) {
			ld->oom = 1;
			return;
		}
		for (item = n->data.sequence.items.start, j = 0;
		    item < n->data.sequence.items.top; item++, j++) {
			pathf(sub, "%s.roles[%zu]", path, j);
			it = node(ld, *item);
			if (it == NULL || it->type != YAML_SCALAR_NODE ||
			    diag_yaml_is_null(it)) {
				bad(ld, it, sub, "expected a role name, got %s",
				    diag_yaml_kind(it));
				continue;
			}
			s = (const char *)it->data.scalar.value;
			if (!inventory_role_valid(s) ||
			    strcmp(s, "all") == 0) {
				bad(ld, it, sub, "invalid role '%s' (%s)", s,
				    strcmp(s, "all") == 0 ? "'all' is the "
				    "selector for every host" : "[a-z0-9_-]+");
				continue;
			}
			for (k = 0; k < h->nroles; k++)
				if (strcmp(h->roles[k], s) == 0)
					break;
			if (k < h->nroles) {
				bad(ld, it, sub, "duplicate role '%s'", s);
				continue;
			}
			if ((h->roles[h->nroles] = xdup(ld, s)) != NULL)
				h->nroles++;
		}
	}
	subpath(sub, path, "vars");
	if (h->vars != NULL)
		load_vars(ld, diag_yaml_get(ld->doc, map, "vars"), sub,
		    h->vars);
}

static void
load_hosts(struct loader *ld, const yaml_node_t *root)
{
	struct inventory *inv = ld->inv;
	struct seen_host *seen = NULL;
	yaml_node_item_t *item;
	yaml_node_t *seq, *n;
	char sub[PATHLEN];
	size_t cnt, i, j;

	seq = diag_yaml_get(ld->doc, root, "hosts");
	if (seq == NULL) {
		bad(ld, root, "hosts", "missing required key 'hosts'");
		return;
	}
	if (seq->type != YAML_SEQUENCE_NODE) {
		bad(ld, seq, "hosts", "expected a sequence of hosts, got %s",
		    diag_yaml_kind(seq));
		return;
	}
	cnt = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	if (cnt == 0) {
		bad(ld, seq, "hosts", "the hosts list is empty");
		return;
	}
	if ((inv->hosts = calloc(cnt, sizeof(*inv->hosts))) == NULL ||
	    (seen = calloc(cnt, sizeof(*seen))) == NULL) {
		ld->oom = 1;
		goto out;
	}
	for (item = seq->data.sequence.items.start, i = 0;
	    item < seq->data.sequence.items.top; item++, i++) {
		n = node(ld, *item);
		inv->nhosts++;
		load_host(ld, n, i, &inv->hosts[i], &seen[i]);
	}
	/* Duplicates are reported at the later entry, naming the first. */
	for (i = 0; i < cnt; i++) {
		for (j = 0; j < i; j++) {
			if (seen[i].name_node != NULL &&
			    seen[j].name_node != NULL &&
			    strcmp(inv->hosts[i].name,
			    inv->hosts[j].name) == 0) {
				pathf(sub, "hosts[%zu].name", i);
				bad(ld, seen[i].name_node, sub, "duplicate host "
				    "name '%s' (first at line %zu)",
				    inv->hosts[i].name,
				    seen[j].name_node->start_mark.line + 1);
				break;
			}
		}
		for (j = 0; j < i; j++) {
			if (seen[i].addr_node != NULL &&
			    seen[j].addr_node != NULL &&
			    strcmp(seen[i].addr_key, seen[j].addr_key) == 0) {
				pathf(sub, "hosts[%zu].address", i);
				bad(ld, seen[i].addr_node, sub, "duplicate "
				    "address and port %s (first at line %zu)",
				    seen[i].addr_key,
				    seen[j].addr_node->start_mark.line + 1);
				break;
			}
		}
	}
 out:
	free(seen);
}

/* Defaults, set before loading so that each field overrides its own. */
static int
set_defaults(struct loader *ld)
{
	struct inventory *inv = ld->inv;

	inv->ssh.port = 22;
	inv->ssh.connect_timeout = 10;
	inv->ssh.user = xdup(ld, "root");
	inv->cluster.pod_cidr = xdup(ld, "10.244.0.0/16");
	inv->cluster.service_cidr = xdup(ld, "10.254.0.0/16");
	inv->cluster.dns_domain = xdup(ld, "cluster.local");
	inv->ssh.known_hosts = resolve_path(ld, NULL, "ssh.known_hosts",
	    "~/.ssh/known_hosts");
	if ((inv->vars = vars_new(NULL)) == NULL)
		ld->oom = 1;
	return ld->oom ? KORCH_ERR_ALLOC : 0;
}

/* Bastion port/user default to the ssh section's, known only after it. */
static void
finish_ssh(struct loader *ld)
{
	struct inv_ssh *ssh = &ld->inv->ssh;

	if (ssh->bastion.address == NULL)
		return;
	if (ssh->bastion.port == 0)
		ssh->bastion.port = ssh->port;
	if (ssh->bastion.user == NULL && ssh->user != NULL)
		ssh->bastion.user = xdup(ld, ssh->user);
}

static void
cluster_vars(struct loader *ld)
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

int
inventory_load(const char *path, struct inventory **out, struct diag *d)
{
	struct loader ld;
	yaml_document_t doc;
	yaml_node_t *root, *cmap;
	char *tmp = NULL, *real = NULL;
	int r;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	memset(&doc, 0, sizeof(doc));
	ld.file = path;
	ld.doc = &doc;
	ld.d = d;
	if ((r = diag_yaml_load(path, &doc, d)) != 0)
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

	root = yaml_document_get_root_node(&doc);
	if (root->type != YAML_MAPPING_NODE) {
		bad(&ld, root, "", "expected a mapping with cluster, ssh and "
		    "hosts, got %s", diag_yaml_kind(root));
		r = KORCH_ERR_PARSE;
		goto out;
	}
	ld.nbad += diag_yaml_check_keys(d, path, &doc, root, "", top_keys);
	load_cluster(&ld, root);
	cluster_vars(&ld);
	cmap = diag_yaml_get(&doc, root, "cluster");
	if (cmap != NULL && cmap->type == YAML_MAPPING_NODE)
		load_vars(&ld, diag_yaml_get(&doc, cmap, "vars"),
		    "cluster.vars", ld.inv->vars);
	load_ssh(&ld, root);
	finish_ssh(&ld);
	load_hosts(&ld, root);
	if (ld.oom)
		goto out;
	if (ld.nbad > 0) {
		r = KORCH_ERR_PARSE;
		goto out;
	}
	*out = ld.inv;
	ld.inv = NULL;
	r = 0;
 out:
	inventory_free(ld.inv);
	yaml_document_delete(&doc);
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
