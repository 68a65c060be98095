/*
 * test_bundle.c - the offline bundle: a manifest loads and verifies, every
 * problem is reported with the manifest's line, a wrong sha256 is refused,
 * paths cannot leave the bundle, a .tar.gz works like the directory, and
 * the template variables are named as the playbooks use them.
 */
#include "helpers_ctl.h"

#include "spec/bundle.h"
#include "base/digest.h"

struct fx {
	char	dir[256];
	char	hash_a[65], hash_b[65];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[512];

	if (th_mkdtemp(f->dir, sizeof(f->dir), "korch-bundle-test") != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/bin", f->dir);
	mkdir(p, 0755);
	th_put(f->dir, "bin/kube-apiserver", "apiserver bytes\n");
	th_put(f->dir, "bin/mk-docker-opts.sh", "#!/bin/sh\n");
	sha256_hex("apiserver bytes\n", 16, f->hash_a);
	sha256_hex("#!/bin/sh\n", 10, f->hash_b);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	(void)th_rmtree(f->dir);
	free(f);
	return 0;
}

/* The manifest of two components (lines 4 and 5), the first with hash_a,
 * then extra. */
static void
manifest(struct fx *f, const char *hash_a, const char *extra)
{
	char m[4096];

	snprintf(m, sizeof(m), "bundle: 1\nkubernetes_version: 1.8.15\n"
	    "components:\n"
	    "  - { name: kube-apiserver, version: 1.8.15, arch: amd64, "
	    "path: bin/kube-apiserver, sha256: %s }\n"
	    "  - { name: mk-docker-opts.sh, version: 0.9.1, arch: amd64, "
	    "path: bin/mk-docker-opts.sh, sha256: %s }\n%s", hash_a,
	    f->hash_b, extra);
	th_put(f->dir, "manifest.yaml", m);
}

static void
test_load_verify_vars(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	struct vars *v = vars_new(NULL);

	manifest(f, f->hash_a, "");
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(b->ncomp, 2);
	assert_string_equal(b->kubernetes_version, "1.8.15");
	assert_int_equal(bundle_verify(b, d), 0);
	assert_int_equal(bundle_find(b, "kube-apiserver")->size, 16);
	assert_null(bundle_find(b, "kubelet"));
	assert_int_equal(bundle_vars(b, v), 0);
	assert_string_equal(vars_get(v, "bundle.kube_apiserver.sha256"),
	    f->hash_a);
	assert_string_equal(vars_get(v, "bundle.kube_apiserver.size"), "16");
	assert_string_equal(vars_get(v, "bundle.mk_docker_opts.sh.version"),
	    "0.9.1");
	bundle_free(b);
	vars_free(v);
	diag_free(d);
}

static void
test_wrong_sha_refused(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	char msg[512];

	manifest(f, f->hash_b, "");	/* the other file's hash */
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(bundle_verify(b, d), KORCH_ERR_HASH_MISMATCH);
	assert_int_equal(diag_count(d), 1);
	diag_format(diag_get(d, 0), msg, sizeof(msg));
	assert_non_null(strstr(msg, "manifest.yaml:4:"));
	assert_non_null(strstr(msg, "kube-apiserver 1.8.15: sha256 mismatch"));
	assert_non_null(strstr(msg, f->hash_a));
	bundle_free(b);
	diag_free(d);
}

static void
test_manifest_errors(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	char msg[4096];

	manifest(f, f->hash_a, "  - { name: kube-apiserver, version: 1, path: "
	    "bin/kube-apiserver, sha256: 0000000000000000000000000000000000000"
	    "000000000000000000000000000 }\n"
	    "  - { name: etcd, version: 3, path: bin/etcd, sha256: 00000000000"
	    "00000000000000000000000000000000000000000000000000000 }\n"
	    "  - { name: evil, version: 1, path: ../../etc/passwd, sha256: 000"
	    "0000000000000000000000000000000000000000000000000000000000000 }\n"
	    "  - { name: odd, version: 1, path: bin/x, sha256: abc }\n"
	    "  - { name: odder, version: 1, path: bin/x, sha256: 0, colour: red }\n");
	assert_int_equal(bundle_load(f->dir, &b, d), KORCH_ERR_PARSE);
	assert_null(b);
	th_diag_text(d, msg, sizeof(msg));
	assert_non_null(strstr(msg, "components[5]: sha256 must be 64"));
	assert_non_null(strstr(msg, "'kube-apiserver' is listed twice"));
	assert_non_null(strstr(msg, "bin/etcd: missing from the bundle"));
	assert_non_null(strstr(msg, "../../etc/passwd: not a regular file "
	    "inside the bundle"));
	assert_non_null(strstr(msg, "colour"));
	diag_free(d);

	d = diag_new();
	assert_int_equal(bundle_load("/nonexistent", &b, d), KORCH_ERR_PARSE);
	diag_free(d);
}

static void
test_tarball(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	char tgz[300], parent[256], *slash;
	char *argv[] = { "tar", "-czf", tgz, "-C", parent, NULL, NULL };

	manifest(f, f->hash_a, "");
	snprintf(parent, sizeof(parent), "%s", f->dir);
	slash = strrchr(parent, '/');
	*slash = '\0';
	argv[5] = slash + 1;
	snprintf(tgz, sizeof(tgz), "%s.tar.gz", f->dir);
	th_run(argv);
	assert_int_equal(bundle_load(tgz, &b, d), 0);
	assert_int_equal(bundle_verify(b, d), 0);
	assert_non_null(b->tmpdir);
	bundle_free(b);
	unlink(tgz);
	diag_free(d);
}

/* ---- images: `docker save` archives, pinned like the binaries ----------- */

#define IMG_PAUSE	"pause archive\n"
#define IMG_BUSYBOX	"busybox archive bytes\n"

static void
put_images(struct fx *f, char *hash_pause, char *hash_busybox)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/images", f->dir);
	mkdir(p, 0755);
	th_put(f->dir, "images/pause.tar", IMG_PAUSE);
	th_put(f->dir, "images/busybox.tar", IMG_BUSYBOX);
	sha256_hex(IMG_PAUSE, strlen(IMG_PAUSE), hash_pause);
	sha256_hex(IMG_BUSYBOX, strlen(IMG_BUSYBOX), hash_busybox);
}

/* manifest()'s two components (lines 4 and 5), then images: on line 6
 * and its entries from line 7. */
static void
image_manifest(struct fx *f, const char *images)
{
	char extra[2100];

	snprintf(extra, sizeof(extra), "images:\n%.2048s", images);
	manifest(f, f->hash_a, extra);
}

static void
test_images_load_vars(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	struct vars *v = vars_new(NULL);
	const struct bundle_component *c;
	char hp[65], hb[65], m[1024];

	put_images(f, hp, hb);
	snprintf(m, sizeof(m),
	    "  - { name: pause, ref: \"korch.local/pause:3.2\", "
	    "path: images/pause.tar, sha256: %s }\n"
	    "  - { name: busybox, ref: korch.local/library/busybox:1.31, "
	    "path: images/busybox.tar, sha256: %s }\n", hp, hb);
	image_manifest(f, m);
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(diag_count(d), 0);
	assert_int_equal(b->ncomp, 4);
	assert_int_equal(bundle_verify(b, d), 0);

	/* An image is never a binary, and the other way round. */
	assert_null(bundle_find(b, "pause"));
	assert_null(bundle_find(b, "busybox"));
	assert_null(bundle_find_image(b, "kube-apiserver"));
	assert_null(bundle_find_image(b, "nope"));
	assert_null(bundle_find_image(NULL, "pause"));
	assert_non_null(bundle_find(b, "kube-apiserver"));
	assert_non_null(c = bundle_find_image(b, "pause"));
	assert_string_equal(c->name, "pause");
	assert_string_equal(c->ref, "korch.local/pause:3.2");
	assert_string_equal(c->sha256, hp);
	assert_int_equal(c->size, strlen(IMG_PAUSE));
	assert_int_equal(c->line, 7);
	assert_non_null(strstr(c->path, "/images/pause.tar"));
	assert_true(c->path[0] == '/');
	assert_non_null(c = bundle_find_image(b, "busybox"));
	assert_string_equal(c->ref, "korch.local/library/busybox:1.31");
	assert_int_equal(c->line, 8);
	assert_null(bundle_find(b, "kube-apiserver")->ref);

	assert_int_equal(bundle_vars(b, v), 0);
	snprintf(m, sizeof(m), "%zu", strlen(IMG_PAUSE));
	{
		const struct th_want_var want[] = {
			/* The manifest's order, for a foreach. */
			{ "bundle.images", "pause,busybox" },
			{ "bundle.image.pause.ref", "korch.local/pause:3.2" },
			{ "bundle.image.pause.sha256", hp },
			{ "bundle.image.pause.size", m },
			{ "bundle.image.busybox.ref",
			    "korch.local/library/busybox:1.31" },
			{ "bundle.image.busybox.sha256", hb },
			/* Images stay out of the binaries' names. */
			{ "bundle.pause.sha256", NULL },
			{ "bundle.pause.version", NULL },
			{ "bundle.image.pause.version", NULL },
			{ "bundle.image.kube_apiserver.sha256", NULL },
			{ "bundle.kube_apiserver.sha256", f->hash_a },
		};

		th_expect_vars(v, want, TH_LEN(want));
	}
	bundle_free(b);
	vars_free(v);
	diag_free(d);
}

static void
test_images_none_and_names(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	struct vars *v = vars_new(NULL);
	char hp[65], hb[65], m[1024];

	/* No images: an empty list, so a foreach renders nothing. */
	manifest(f, f->hash_a, "");
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_null(bundle_find_image(b, "pause"));
	assert_int_equal(bundle_vars(b, v), 0);
	assert_string_equal(vars_get(v, "bundle.images"), "");
	bundle_free(b);
	vars_free(v);
	th_put(f->dir, "manifest.yaml",
	    "bundle: 1\ncomponents: []\nimages: []\n");
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(b->ncomp, 0);
	bundle_free(b);

	/* '-' as '_', in the list and the fields alike; a binary and an
	 * image may share a name. */
	put_images(f, hp, hb);
	snprintf(m, sizeof(m),
	    "  - { name: kube-dns, ref: \"korch.local/kube-dns:1.14\", "
	    "path: images/pause.tar, sha256: %s }\n"
	    "  - { name: kube-apiserver, ref: \"korch.local/kube-apiserver:"
	    "v1.8.15\", path: images/busybox.tar, sha256: %s }\n", hp, hb);
	image_manifest(f, m);
	v = vars_new(NULL);
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(diag_count(d), 0);
	assert_int_equal(bundle_vars(b, v), 0);
	{
		const struct th_want_var want[] = {
			{ "bundle.images", "kube_dns,kube_apiserver" },
			{ "bundle.image.kube_dns.ref",
			    "korch.local/kube-dns:1.14" },
			{ "bundle.image.kube_apiserver.sha256", hb },
			{ "bundle.kube_apiserver.sha256", f->hash_a },
			{ "bundle.kube_apiserver.version", "1.8.15" },
		};

		th_expect_vars(v, want, TH_LEN(want));
	}
	assert_null(bundle_find(b, "kube-apiserver")->ref);
	assert_non_null(bundle_find_image(b, "kube-apiserver")->ref);
	assert_ptr_not_equal(bundle_find(b, "kube-apiserver"),
	    bundle_find_image(b, "kube-apiserver"));
	bundle_free(b);
	vars_free(v);
	diag_free(d);
}

/* An image whose manifest entry is refused, with where and why. */
static void
expect_image_refused(struct fx *f, const char *entry, const char *want)
{
	struct bundle *b = (struct bundle *)1;
	struct diag *d = diag_new();
	char msg[4096];

	image_manifest(f, entry);
	assert_int_equal(bundle_load(f->dir, &b, d), KORCH_ERR_PARSE);
	assert_null(b);
	th_diag_text(d, msg, sizeof(msg));
	if (strstr(msg, want) == NULL)
		fail_msg("no '%s' in:\n%s", want, msg);
	diag_free(d);
}

static void
test_image_errors(void **state)
{
	struct fx *f = *state;
	char hp[65], hb[65], m[2048];

	put_images(f, hp, hb);
	/* A ref a command line would read as two words, or as a flag. */
	snprintf(m, sizeof(m), "  - { name: pause, ref: \"korch.local/pause "
	    "3.2\", path: images/pause.tar, sha256: %s }\n", hp);
	expect_image_refused(f, m, "manifest.yaml:7:");
	expect_image_refused(f, m, "'korch.local/pause 3.2' is not an image "
	    "reference");
	expect_image_refused(f, m, "images[0]");
	snprintf(m, sizeof(m), "  - { name: pause, path: images/pause.tar, "
	    "sha256: %s,\n      ref: \"-korch.local/pause:3.2\" }\n", hp);
	expect_image_refused(f, m, "manifest.yaml:8:12: images[0]: "
	    "'-korch.local/pause:3.2' is not an image reference");
	snprintf(m, sizeof(m), "  - { name: pause, ref: \"--help\", "
	    "path: images/pause.tar, sha256: %s }\n", hp);
	expect_image_refused(f, m, "'--help' is not an image reference");
	/* Others a shell or a path would misread; a ref has a tag. */
	snprintf(m, sizeof(m), "  - { name: pause, ref: \"korch.local/pause:"
	    "3.2;rm\", path: images/pause.tar, sha256: %s }\n", hp);
	expect_image_refused(f, m, "is not an image reference");
	snprintf(m, sizeof(m), "  - { name: pause, ref: korch.local/pause, "
	    "path: images/pause.tar, sha256: %s }\n", hp);
	expect_image_refused(f, m, "is not an image reference");
	snprintf(m, sizeof(m), "  - { name: pause, ref: \"\", "
	    "path: images/pause.tar, sha256: %s }\n", hp);
	expect_image_refused(f, m, "is not an image reference");

	/* Listed twice. */
	snprintf(m, sizeof(m),
	    "  - { name: pause, ref: \"korch.local/pause:3.2\", "
	    "path: images/pause.tar, sha256: %s }\n"
	    "  - { name: pause, ref: \"korch.local/pause:3.1\", "
	    "path: images/busybox.tar, sha256: %s }\n", hp, hb);
	expect_image_refused(f, m, "manifest.yaml:8:");
	expect_image_refused(f, m, "image 'pause' is listed twice (first on "
	    "line 7)");

	/* No ref; a binary's key; a missing archive; a bad sha256. */
	snprintf(m, sizeof(m), "  - { name: pause, path: images/pause.tar, "
	    "sha256: %s }\n", hp);
	expect_image_refused(f, m, "every image needs name, ref, path and "
	    "sha256");
	snprintf(m, sizeof(m), "  - { name: pause, ref: \"korch.local/pause:"
	    "3.2\", version: \"3.2\", path: images/pause.tar, sha256: %s }\n",
	    hp);
	expect_image_refused(f, m, "unknown key 'version'");
	snprintf(m, sizeof(m), "  - { name: pause, ref: \"korch.local/pause:"
	    "3.2\", path: images/nope.tar, sha256: %s }\n", hp);
	expect_image_refused(f, m, "images/nope.tar: missing from the bundle");
	expect_image_refused(f, "  - { name: pause, ref: \"korch.local/pause:"
	    "3.2\", path: images/pause.tar, sha256: abc }\n",
	    "sha256 must be 64");
	expect_image_refused(f, "  pause\n", "expected a list of images");
	expect_image_refused(f, "  - pause\n", "images[0]: expected a mapping");
}

static void
test_image_wrong_sha(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	char hp[65], hb[65], m[1024], msg[1024];

	put_images(f, hp, hb);
	/* busybox's archive under pause's hash. */
	snprintf(m, sizeof(m),
	    "  - { name: pause, ref: \"korch.local/pause:3.2\", "
	    "path: images/pause.tar, sha256: %s }\n"
	    "  - { name: busybox, ref: \"korch.local/busybox:1.31\", "
	    "path: images/busybox.tar, sha256: %s }\n", hp, hp);
	image_manifest(f, m);
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(bundle_verify(b, d), KORCH_ERR_HASH_MISMATCH);
	assert_int_equal(diag_count(d), 1);
	diag_format(diag_get(d, 0), msg, sizeof(msg));
	assert_non_null(strstr(msg, "manifest.yaml:8:"));
	assert_non_null(strstr(msg, "busybox"));
	assert_non_null(strstr(msg, "sha256 mismatch"));
	assert_non_null(strstr(msg, hb));
	bundle_free(b);
	diag_free(d);
}

/* ---- packages: distribution packages, installed in the manifest's order -- */

#define DEB_LUA		"liblua deb\n"
#define DEB_HAPROXY	"haproxy deb\n"

static void
test_packages(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	struct diag *d = diag_new();
	struct vars *v = vars_new(NULL);
	const struct bundle_component *c;
	char hl[SHA256_HEX_SIZE], hh[SHA256_HEX_SIZE], m[2048], p[512];

	snprintf(p, sizeof(p), "%s/debs", f->dir);
	mkdir(p, 0755);
	th_put(f->dir, "debs/lua.deb", DEB_LUA);
	th_put(f->dir, "debs/haproxy.deb", DEB_HAPROXY);
	sha256_hex(DEB_LUA, strlen(DEB_LUA), hl);
	sha256_hex(DEB_HAPROXY, strlen(DEB_HAPROXY), hh);
	snprintf(m, sizeof(m), " []\npackages:\n"
	    "  - { name: liblua5.3-0, version: 5.3.6-2, path: debs/lua.deb, "
	    "sha256: %s }\n"
	    "  - { name: haproxy, version: \"2.6.12-1+deb12u4\", "
	    "path: debs/haproxy.deb, sha256: %s }\n", hl, hh);
	image_manifest(f, m);
	assert_int_equal(bundle_load(f->dir, &b, d), 0);
	assert_int_equal(diag_count(d), 0);
	assert_int_equal(b->ncomp, 4);
	assert_int_equal(bundle_verify(b, d), 0);
	/* A package is neither a binary nor an image. */
	assert_null(bundle_find(b, "haproxy"));
	assert_null(bundle_find_image(b, "haproxy"));
	assert_null(bundle_find_package(b, "kube-apiserver"));
	assert_non_null(c = bundle_find_package(b, "haproxy"));
	assert_int_equal(c->kind, BUNDLE_PACKAGE);
	assert_string_equal(c->version, "2.6.12-1+deb12u4");
	assert_null(c->ref);

	assert_int_equal(bundle_vars(b, v), 0);
	/* The manifest's order is the install order; the names as file
	 * and variable names spell them. */
	assert_string_equal(vars_get(v, "bundle.packages"),
	    "liblua5_3_0,haproxy");
	assert_string_equal(vars_get(v, "bundle.package.liblua5_3_0.name"),
	    "liblua5.3-0");
	assert_string_equal(vars_get(v,
	    "bundle.package.liblua5_3_0.version"), "5.3.6-2");
	assert_string_equal(vars_get(v, "bundle.package.haproxy.sha256"), hh);
	assert_string_equal(vars_get(v, "bundle.package.haproxy.size"), "12");
	assert_string_equal(vars_get(v, "bundle.images"), "");
	assert_null(vars_get(v, "bundle.haproxy.sha256"));
	bundle_free(b);
	b = NULL;
	vars_free(v);

	/* A name or version a command line could misread is refused. */
	snprintf(m, sizeof(m), " []\npackages:\n"
	    "  - { name: -haproxy, version: 1, path: debs/haproxy.deb, "
	    "sha256: %s }\n"
	    "  - { name: haproxy, version: \"1 2\", path: debs/haproxy.deb, "
	    "sha256: %s }\n"
	    "  - { name: lua, version: 1, path: debs/lua.deb, sha256: %s }\n"
	    "  - { name: lua, version: 2, path: debs/lua.deb, sha256: %s }\n",
	    hh, hh, hl, hl);
	image_manifest(f, m);
	assert_int_equal(bundle_load(f->dir, &b, d), KORCH_ERR_PARSE);
	assert_null(b);
	th_expect_diag(d, "manifest.yaml", 9, 5, "packages[0]", "'-haproxy' '1' "
	    "is not a package name and version");
	th_expect_diag(d, "manifest.yaml", 10, 5, "packages[1]", "'haproxy' '1 2' "
	    "is not a package name and version");
	th_expect_diag(d, "manifest.yaml", 12, 5, "packages[3]", "package 'lua' "
	    "is listed twice (first on line 11)");
	diag_free(d);
}

TH_MAIN(
	cmocka_unit_test_setup_teardown(test_load_verify_vars, setup,
	    teardown),
	cmocka_unit_test_setup_teardown(test_wrong_sha_refused, setup,
	    teardown),
	cmocka_unit_test_setup_teardown(test_manifest_errors, setup,
	    teardown),
	cmocka_unit_test_setup_teardown(test_tarball, setup, teardown),
	cmocka_unit_test_setup_teardown(test_images_load_vars, setup,
	    teardown),
	cmocka_unit_test_setup_teardown(test_images_none_and_names, setup,
	    teardown),
	cmocka_unit_test_setup_teardown(test_image_errors, setup,
	    teardown),
	cmocka_unit_test_setup_teardown(test_packages, setup, teardown),
	cmocka_unit_test_setup_teardown(test_image_wrong_sha, setup,
	    teardown),
)
