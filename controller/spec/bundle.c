/*
 * bundle.c - see bundle.h: a bundle directory or tarball found and
 * unpacked, its manifest read and checked (components, images, packages),
 * hashes verified, and the template variables it gives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml.h>

#include "spec/bundle.h"
#include "spec/yaml_doc.h"
#include "base/digest.h"
#include "base/diag.h"
#include "base/fs.h"
#include "err.h"
#include "engine/vars.h"
#include "sha256hex.h"

extern char **environ;

/* Unpack a tarball into a new private directory with tar(1): an argv
 * vector, never a shell. */
static int
untar(const char *tarball, char **tmpdir, struct diag *d)
{
	char tmpl[] = "/tmp/korch-bundle.XXXXXX";
	char *argv[] = { "tar", "-xzf", (char *)tarball, "-C", tmpl,
	    "--no-same-owner", NULL };
	pid_t pid;
	int status;

	if (mkdtemp(tmpl) == NULL) {
		diag_add(d, tarball, 0, 0, NULL, "cannot make a temporary "
		    "directory: %s", strerror(errno));
		return KORCH_ERR_PARSE;
	}
	argv[4] = tmpl;
	if (posix_spawnp(&pid, "tar", NULL, NULL, argv, environ) != 0) {
		diag_add(d, tarball, 0, 0, NULL, "cannot run tar to unpack "
		    "the bundle");
		rmdir(tmpl);
		return KORCH_ERR_PARSE;
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if ((*tmpdir = strdup(tmpl)) == NULL)
		return KORCH_ERR_ALLOC;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		diag_add(d, tarball, 0, 0, NULL, "tar could not unpack the "
		    "bundle");
		return KORCH_ERR_PARSE;
	}
	return 0;
}

/* Remove the unpacked tree (rm -r, as an argv vector). */
static void
remove_tree(const char *dir)
{
	char *argv[] = { "rm", "-rf", "--", (char *)dir, NULL };
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
}

/* The bundle's own directory: DIR, or the only subdirectory of DIR when
 * DIR has no manifest (a tarball with a top-level folder).  NULL if none. */
static char *
find_root(const char *dir)
{
	char p[PATH_MAX], *only = NULL;
	struct dirent *e;
	DIR *dp;
	int n = 0;

	snprintf(p, sizeof(p), "%s/manifest.yaml", dir);
	if (access(p, F_OK) == 0)
		return realpath(dir, NULL);
	if ((dp = opendir(dir)) == NULL)
		return NULL;
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (fs_is_dir(p)) {
			n++;
			free(only);
			only = realpath(p, NULL);
		}
	}
	closedir(dp);
	if (n != 1) {
		free(only);
		return NULL;
	}
	return only;
}

static void
component_release(struct bundle_component *c)
{
	free(c->name);
	free(c->version);
	free(c->arch);
	free(c->path);
	free(c->ref);
	memset(c, 0, sizeof(*c));
}

/* An image reference: registry/name:tag, nothing a command line or a
 * path could read as more than one word. */
static int
ref_valid(const char *s)
{
	return s[0] != '\0' && s[0] != '-' && strlen(s) < 256 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-/:@") ==
	    strlen(s) && strchr(s, ':') != NULL;
}

/* A distribution package's name or version: of chars, starting with a
 * letter or digit, so no path or command line reads it as an option or
 * as more than one word. */
static int
pkg_word_valid(const char *s, const char *chars)
{
	size_t n = strlen(s);

	return n > 0 && n < 128 && strchr("+-.~:", s[0]) == NULL &&
	    strspn(s, chars) == n;
}

static const char *const kind_list[] = { "components", "images",
    "packages" };
static const char *const kind_what[] = { "component", "image", "package" };

/* One components[i], images[i] or packages[i] entry. */
static void
load_component(struct bundle *b, struct ydoc *y, yaml_node_t *item,
    size_t i, enum bundle_kind kind)
{
	static const char *const ckeys[] = { "name", "version", "arch",
	    "path", "sha256", NULL };
	static const char *const ikeys[] = { "name", "ref", "arch", "path",
	    "sha256", NULL };
	struct bundle_component *c = &b->comp[b->ncomp];
	const char *name, *version, *arch, *path, *sha, *ref = NULL;
	const char *what = kind_what[kind];
	char ppath[64], full[PATH_MAX], *real = NULL;
	struct stat st;
	size_t k;

	snprintf(ppath, sizeof(ppath), "%s[%zu]", kind_list[kind], i);
	if (item->type != YAML_MAPPING_NODE) {
		ydoc_bad(y, item, ppath, "expected a mapping, found a %s",
		    diag_yaml_kind(item));
		return;
	}
	if (ydoc_check_keys(y, item, ppath, kind == BUNDLE_IMAGE ? ikeys :
	    ckeys) > 0)
		return;
	name = ydoc_text(ydoc_get(y, item, "name"));
	version = ydoc_text(ydoc_get(y, item, "version"));
	arch = ydoc_text(ydoc_get(y, item, "arch"));
	path = ydoc_text(ydoc_get(y, item, "path"));
	sha = ydoc_text(ydoc_get(y, item, "sha256"));
	if (kind == BUNDLE_IMAGE) {
		ref = ydoc_text(ydoc_get(y, item, "ref"));
		version = ref;
	}
	if (name == NULL || version == NULL || path == NULL || sha == NULL) {
		ydoc_bad(y, item, ppath, kind == BUNDLE_IMAGE ? "every image "
		    "needs name, ref, path and sha256" : "every %s needs name, "
		    "version, path and sha256", what);
		return;
	}
	if (kind == BUNDLE_IMAGE && !ref_valid(ref)) {
		ydoc_bad(y, ydoc_get(y, item, "ref"), ppath, "'%s' is not an "
		    "image reference (registry/name:tag, [a-z0-9._-/:@])",
		    ref);
		return;
	}
	/* A binary's name and version make its path on the host
	 * (/opt/<name>/<version>/bin, ExecStart=): one path component each,
	 * nothing a unit file or a shell reads as more. */
	if (kind == BUNDLE_BINARY && (!pkg_word_valid(name,
	    "abcdefghijklmnopqrstuvwxyz0123456789_.+-") ||
	    !pkg_word_valid(version, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-"))) {
		ydoc_bad(y, item, ppath, "component '%s' version '%s': a name "
		    "is [a-z0-9_.+-] and a version [A-Za-z0-9._+~-], each "
		    "starting with a letter or digit", name, version);
		return;
	}
	if (arch != NULL && !pkg_word_valid(arch,
	    "abcdefghijklmnopqrstuvwxyz0123456789_")) {
		ydoc_bad(y, ydoc_get(y, item, "arch"), ppath, "arch '%s' is "
		    "not [a-z0-9_]", arch);
		return;
	}
	if (kind == BUNDLE_PACKAGE && (!pkg_word_valid(name,
	    "abcdefghijklmnopqrstuvwxyz0123456789+.-") ||
	    !pkg_word_valid(version, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~:-"))) {
		ydoc_bad(y, item, ppath, "'%s' '%s' is not a package name and "
		    "version ([a-z0-9+.-] and [A-Za-z0-9.+~:-])", name,
		    version);
		return;
	}
	for (k = 0; k < b->ncomp; k++)
		if (strcmp(b->comp[k].name, name) == 0 &&
		    b->comp[k].kind == kind) {
			ydoc_bad(y, item, ppath, "%s '%s' is listed twice "
			    "(first on line %u)", what, name, b->comp[k].line);
			return;
		}
	if (!sha256_hex_valid(sha)) {
		ydoc_bad(y, ydoc_get(y, item, "sha256"), ppath, "sha256 must "
		    "be 64 lowercase hex digits");
		return;
	}
	snprintf(full, sizeof(full), "%s/%s", b->dir, path);
	/* A path must stay inside the bundle: it names what is uploaded. */
	if ((real = realpath(full, NULL)) == NULL ||
	    strncmp(real, b->dir, strlen(b->dir)) != 0 ||
	    real[strlen(b->dir)] != '/' || stat(real, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		ydoc_bad(y, ydoc_get(y, item, "path"), ppath, "%s: %s", path,
		    real == NULL ? "missing from the bundle" : "not a regular "
		    "file inside the bundle");
		free(real);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->path = real;
	c->name = strdup(name);
	c->version = strdup(version);
	c->arch = strdup(arch ? arch : "amd64");
	c->ref = ref != NULL ? strdup(ref) : NULL;
	memcpy(c->sha256, sha, SHA256_HEX_SIZE);
	c->size = (uint64_t)st.st_size;
	c->line = ydoc_line(item);
	if (c->name == NULL || c->version == NULL || c->arch == NULL ||
	    (ref != NULL && c->ref == NULL)) {
		ydoc_bad(y, item, ppath, "out of memory");
		component_release(c);
		return;
	}
	b->ncomp++;
}

/* DIR/manifest.yaml into b->comp; 0, KORCH_ERR_PARSE (reported in d) or
 * KORCH_ERR_ALLOC. */
static int
read_manifest(struct bundle *b, struct diag *d)
{
	static const char *const keys[] = { "bundle", "kubernetes_version",
	    "components", "images", "packages", NULL };
	struct ydoc y;
	yaml_node_t *root, *list[3], *n;
	const char *v;
	size_t total = 0, i;
	int r, k;

	memset(&y, 0, sizeof(y));
	y.d = d;
	if ((r = ydoc_open(&y, b->manifest)) != 0)
		return r;
	r = KORCH_ERR_PARSE;
	root = ydoc_root(&y);
	if (root->type != YAML_MAPPING_NODE) {
		ydoc_bad(&y, root, "", "expected a mapping");
		goto out;
	}
	ydoc_check_keys(&y, root, "", keys);
	n = ydoc_get(&y, root, "bundle");
	if ((v = ydoc_text(n)) == NULL || strcmp(v, "1") != 0)
		ydoc_bad(&y, n ? n : root, "bundle", "this korch reads bundle "
		    "format 1 (bundle: 1)");
	n = ydoc_get(&y, root, "kubernetes_version");
	if ((v = ydoc_text(n)) != NULL) {
		/* It names directories and is compared as a version. */
		if (strspn(v, "0123456789.") != strlen(v) || v[0] == '.' ||
		    v[0] == '\0' || strstr(v, "..") != NULL ||
		    v[strlen(v) - 1] == '.')
			ydoc_bad(&y, n, "kubernetes_version", "expected a "
			    "version like 1.20.2, got '%s'", v);
		else
			b->kubernetes_version = strdup(v);
	}
	for (k = BUNDLE_BINARY; k <= BUNDLE_PACKAGE; k++) {
		list[k] = ydoc_get(&y, root, kind_list[k]);
		if ((list[k] == NULL && k == BUNDLE_BINARY) ||
		    (list[k] != NULL && list[k]->type != YAML_SEQUENCE_NODE)) {
			ydoc_bad(&y, list[k] ? list[k] : root, kind_list[k],
			    "expected a list of %s", kind_list[k]);
			goto out;
		}
		total += ydoc_count(list[k]);
	}
	if ((b->comp = calloc(total + 1, sizeof(*b->comp))) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (k = BUNDLE_BINARY; k <= BUNDLE_PACKAGE; k++)
		for (i = 0; i < ydoc_count(list[k]); i++)
			load_component(b, &y, ydoc_item(&y, list[k], i), i,
			    (enum bundle_kind)k);
	if (y.nbad == 0 && b->ncomp == total)
		r = 0;
 out:
	ydoc_close(&y);
	return r;
}

int
bundle_load(const char *path, struct bundle **out, struct diag *d)
{
	struct bundle *b = NULL;
	char m[PATH_MAX];
	size_t len;
	int r = KORCH_ERR_ALLOC;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KORCH_ERR_ALLOC;
	len = strlen(path);
	if (!fs_is_dir(path) && len > 7 &&
	    strcmp(path + len - 7, ".tar.gz") == 0) {
		if ((r = untar(path, &b->tmpdir, d)) != 0)
			goto out;
		b->dir = find_root(b->tmpdir);
	} else
		b->dir = find_root(path);
	r = KORCH_ERR_PARSE;
	if (b->dir == NULL) {
		diag_add(d, path, 0, 0, NULL, "not a bundle: no manifest.yaml "
		    "(a directory, or a .tar.gz of one)");
		goto out;
	}
	snprintf(m, sizeof(m), "%s/manifest.yaml", b->dir);
	if ((b->manifest = strdup(m)) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	if ((r = read_manifest(b, d)) != 0)
		goto out;
	*out = b;
	b = NULL;
 out:
	bundle_free(b);
	return r;
}

void
bundle_free(struct bundle *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->ncomp; i++)
		component_release(&b->comp[i]);
	free(b->comp);
	if (b->tmpdir != NULL)
		remove_tree(b->tmpdir);
	free(b->tmpdir);
	free(b->dir);
	free(b->manifest);
	free(b->kubernetes_version);
	free(b);
}

int
bundle_verify(const struct bundle *b, struct diag *d)
{
	char hex[SHA256_HEX_SIZE];
	uint64_t size;
	size_t i;
	int r = 0;

	for (i = 0; i < b->ncomp; i++) {
		if (sha256_file(b->comp[i].path, hex, &size) != 0) {
			diag_add(d, b->manifest, b->comp[i].line, 0, NULL,
			    "%s: cannot read %s: %s", b->comp[i].name,
			    b->comp[i].path, strerror(errno));
			r = KORCH_ERR_SYSTEM;
			continue;
		}
		if (strcmp(hex, b->comp[i].sha256) != 0) {
			diag_add(d, b->manifest, b->comp[i].line, 0, NULL,
			    "%s %s: sha256 mismatch: manifest says %s, the "
			    "file is %s", b->comp[i].name, b->comp[i].version,
			    b->comp[i].sha256, hex);
			if (r == 0)
				r = KORCH_ERR_HASH_MISMATCH;
		}
	}
	return r;
}

static const struct bundle_component *
find_kind(const struct bundle *b, enum bundle_kind kind, const char *name)
{
	size_t i;

	for (i = 0; b != NULL && i < b->ncomp; i++)
		if (b->comp[i].kind == kind && strcmp(b->comp[i].name, name) == 0)
			return &b->comp[i];
	return NULL;
}

const struct bundle_component *
bundle_find(const struct bundle *b, const char *name)
{
	return find_kind(b, BUNDLE_BINARY, name);
}

const struct bundle_component *
bundle_find_image(const struct bundle *b, const char *name)
{
	return find_kind(b, BUNDLE_IMAGE, name);
}

const struct bundle_component *
bundle_find_package(const struct bundle *b, const char *name)
{
	return find_kind(b, BUNDLE_PACKAGE, name);
}

/* A component's name as template names spell it: '-' as '_' (a
 * package's '.' and '+' too: its name is also a file name on the host). */
static void
ident(char *out, size_t len, const struct bundle_component *c)
{
	char *p;

	snprintf(out, len, "%s", c->name);
	for (p = out; *p != '\0'; p++)
		if (*p == '-' || (c->kind == BUNDLE_PACKAGE &&
		    (*p == '.' || *p == '+')))
			*p = '_';
}

/* Append id to the comma-joined list *list; 0 or KORCH_ERR_ALLOC. */
static int
list_add(char **list, size_t *len, const char *id)
{
	size_t add = strlen(id) + 2;
	char *n;

	if ((n = realloc(*list, *len + add)) == NULL)
		return KORCH_ERR_ALLOC;
	*list = n;
	*len += (size_t)snprintf(n + *len, add, "%s%s", *len ? "," : "", id);
	return 0;
}

/* bundle.<prefix><id>.<field> = val. */
static int
set_field(struct vars *v, const char *prefix, const char *id,
    const char *field, const char *val)
{
	char key[320];

	snprintf(key, sizeof(key), "bundle.%s%s.%s", prefix, id, field);
	return vars_set(v, key, val);
}

int
bundle_vars(const struct bundle *b, struct vars *v)
{
	static const char *const prefix[] = { "", "image.", "package." };
	const struct bundle_component *c;
	char id[256], num[32], *list[3] = { NULL, NULL, NULL };
	size_t i, len[3] = { 0, 0, 0 };
	int r = 0;

	if (b->kubernetes_version != NULL)
		r = vars_set(v, "bundle.kubernetes_version",
		    b->kubernetes_version);
	for (i = 0; i < b->ncomp && r == 0; i++) {
		c = &b->comp[i];
		ident(id, sizeof(id), c);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)c->size);
		if ((r = set_field(v, prefix[c->kind], id, "sha256",
		    c->sha256)) != 0 ||
		    (r = set_field(v, prefix[c->kind], id, "size", num)) != 0)
			break;
		if (c->kind == BUNDLE_IMAGE)
			r = set_field(v, prefix[c->kind], id, "ref", c->ref);
		else
			r = set_field(v, prefix[c->kind], id, "version",
			    c->version);
		if (r == 0 && c->kind == BUNDLE_PACKAGE)
			r = set_field(v, prefix[c->kind], id, "name", c->name);
		/* The lists a foreach walks, named as the fields are. */
		if (r == 0 && c->kind != BUNDLE_BINARY)
			r = list_add(&list[c->kind], &len[c->kind], id);
	}
	if (r == 0)
		r = vars_set(v, "bundle.images", list[BUNDLE_IMAGE] != NULL ?
		    list[BUNDLE_IMAGE] : "");
	if (r == 0)
		r = vars_set(v, "bundle.packages", list[BUNDLE_PACKAGE] != NULL ?
		    list[BUNDLE_PACKAGE] : "");
	free(list[BUNDLE_IMAGE]);
	free(list[BUNDLE_PACKAGE]);
	return r;
}
