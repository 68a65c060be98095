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

#include "bundle.h"
#include "digest.h"
#include "diag.h"
#include "err.h"
#include "vars.h"

extern char **environ;


static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

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
	struct stat st;
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
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
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

static const char *
scalar(const yaml_node_t *n)
{
	return (n != NULL && n->type == YAML_SCALAR_NODE) ?
	    (const char *)n->data.scalar.value : NULL;
}

/* One components[i] entry. */
static void
load_component(struct bundle *b, yaml_document_t *doc, yaml_node_t *item,
    size_t i, struct diag *d)
{
	static const char *const keys[] = { "name", "version", "arch",
	    "path", "sha256", NULL };
	struct bundle_component *c = &b->comp[b->ncomp];
	const char *name, *version, *arch, *path, *sha;
	char ppath[64], full[PATH_MAX], *real = NULL;
	struct stat st;
	size_t k;

	snprintf(ppath, sizeof(ppath), "components[%zu]", i);
	if (item->type != YAML_MAPPING_NODE) {
		diag_node(d, b->manifest, item, ppath, "expected a mapping, "
		    "found a %s", diag_yaml_kind(item));
		return;
	}
	if (diag_yaml_check_keys(d, b->manifest, doc, item, ppath, keys) > 0)
		return;
	name = scalar(diag_yaml_get(doc, item, "name"));
	version = scalar(diag_yaml_get(doc, item, "version"));
	arch = scalar(diag_yaml_get(doc, item, "arch"));
	path = scalar(diag_yaml_get(doc, item, "path"));
	sha = scalar(diag_yaml_get(doc, item, "sha256"));
	if (name == NULL || version == NULL || path == NULL || sha == NULL) {
		diag_node(d, b->manifest, item, ppath, "every component needs "
		    "name, version, path and sha256");
		return;
	}
	for (k = 0; k < b->ncomp; k++)
		if (strcmp(b->comp[k].name, name) == 0) {
			diag_node(d, b->manifest, item, ppath, "component "
			    "'%s' is listed twice (first on line %u)", name,
			    b->comp[k].line);
			return;
		}
	if (!is_hex64(sha)) {
		diag_node(d, b->manifest, diag_yaml_get(doc, item, "sha256"),
		    ppath, "sha256 must be 64 lowercase hex digits");
		return;
	}
	snprintf(full, sizeof(full), "%s/%s", b->dir, path);
	/* A path must stay inside the bundle: it names what is uploaded. */
	if ((real = realpath(full, NULL)) == NULL ||
	    strncmp(real, b->dir, strlen(b->dir)) != 0 ||
	    real[strlen(b->dir)] != '/' || stat(real, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		diag_node(d, b->manifest, diag_yaml_get(doc, item, "path"),
		    ppath, "%s: %s", path, real == NULL ? "missing from the "
		    "bundle" : "not a regular file inside the bundle");
		free(real);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->path = real;
	c->name = strdup(name);
	c->version = strdup(version);
	c->arch = strdup(arch ? arch : "amd64");
	memcpy(c->sha256, sha, 65);
	c->size = (uint64_t)st.st_size;
	c->line = (unsigned)item->start_mark.line + 1;
	b->ncomp++;
}

int
bundle_load(const char *path, struct bundle **out, struct diag *d)
{
	static const char *const keys[] = { "bundle", "kubernetes_version",
	    "components", NULL };
	struct bundle *b = NULL;
	yaml_document_t doc;
	yaml_node_t *root, *comps, *n;
	yaml_node_item_t *it;
	const char *v;
	char m[PATH_MAX];
	size_t len, i = 0;
	int r = KORCH_ERR_ALLOC, have_doc = 0, bad;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KORCH_ERR_ALLOC;
	len = strlen(path);
	if (!is_dir(path) && len > 7 &&
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
	if ((r = diag_yaml_load(b->manifest, &doc, d)) != 0)
		goto out;
	have_doc = 1;
	r = KORCH_ERR_PARSE;
	root = yaml_document_get_root_node(&doc);
	if (root->type != YAML_MAPPING_NODE) {
		diag_node(d, b->manifest, root, "", "expected a mapping");
		goto out;
	}
	bad = diag_yaml_check_keys(d, b->manifest, &doc, root, "", keys);
	n = diag_yaml_get(&doc, root, "bundle");
	if ((v = scalar(n)) == NULL || strcmp(v, "1") != 0) {
		diag_node(d, b->manifest, n ? n : root, "bundle",
		    "this korch reads bundle format 1 (bundle: 1)");
		bad++;
	}
	if ((v = scalar(diag_yaml_get(&doc, root, "kubernetes_version"))))
		b->kubernetes_version = strdup(v);
	comps = diag_yaml_get(&doc, root, "components");
	if (comps == NULL || comps->type != YAML_SEQUENCE_NODE) {
		diag_node(d, b->manifest, comps ? comps : root, "components",
		    "expected a list of components");
		goto out;
	}
	len = (size_t)(comps->data.sequence.items.top -
	    comps->data.sequence.items.start);
	if ((b->comp = calloc(len + 1, sizeof(*b->comp))) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	for (it = comps->data.sequence.items.start;
	    it < comps->data.sequence.items.top; it++, i++)
		load_component(b, &doc, yaml_document_get_node(&doc, *it), i,
		    d);
	if (bad > 0 || b->ncomp != len)
		goto out;
	*out = b;
	b = NULL;
	r = 0;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	bundle_free(b);
	return r;
}

void
bundle_free(struct bundle *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->ncomp; i++) {
		free(b->comp[i].name);
		free(b->comp[i].version);
		free(b->comp[i].arch);
		free(b->comp[i].path);
	}
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
	char hex[65];
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

const struct bundle_component *
bundle_find(const struct bundle *b, const char *name)
{
	size_t i;

	for (i = 0; b != NULL && i < b->ncomp; i++)
		if (strcmp(b->comp[i].name, name) == 0)
			return &b->comp[i];
	return NULL;
}

/* bundle.<name>.<what>, with '-' as '_': template names have no '-'. */
static void
var_name(char *key, size_t len, const char *name, const char *what)
{
	char *p;

	snprintf(key, len, "bundle.%s.%s", name, what);
	for (p = key; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
}

int
bundle_vars(const struct bundle *b, struct vars *v)
{
	char key[256], num[32];
	size_t i;
	int r = 0;

	if (b->kubernetes_version != NULL)
		r = vars_set(v, "bundle.kubernetes_version",
		    b->kubernetes_version);
	for (i = 0; i < b->ncomp && r == 0; i++) {
		var_name(key, sizeof(key), b->comp[i].name, "sha256");
		if ((r = vars_set(v, key, b->comp[i].sha256)) != 0)
			break;
		var_name(key, sizeof(key), b->comp[i].name, "size");
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)b->comp[i].size);
		if ((r = vars_set(v, key, num)) != 0)
			break;
		var_name(key, sizeof(key), b->comp[i].name, "version");
		r = vars_set(v, key, b->comp[i].version);
	}
	return r;
}
