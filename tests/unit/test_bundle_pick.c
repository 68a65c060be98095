/*
 * test_bundle_pick.c - which bundle `korch upgrade --to X` takes: the
 * newest matching version among the bundles of a directory (directories
 * and lone .tar.gz files), or the one bundle a path names; broken bundles
 * are skipped, a tarball beside its own directory is not unpacked, and a
 * miss lists the versions seen.  Fixture bundles are written into a
 * temporary directory (sha256 values are not checked by bundle_load).
 */
#include <fcntl.h>

#include "helpers_ctl.h"

#include "cluster/bundle_pick.h"

#define ZEROS \
	"0000000000000000000000000000000000000000000000000000000000000000"

static void
rm_rf(const char *p)
{
	assert_int_equal(th_rmtree(p), 0);
}

static void
put(const char *path, const char *text)
{
	th_put(NULL, path, text);
}

/* The test's own directory of bundles, made fresh for each test. */
struct fx {
	char	dir[256];
};

static int
setup(void **state)
{
	static int n;
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/t%d", th_group_dir(), n++);
	if (mkdir(f->dir, 0755) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	rm_rf(f->dir);
	free(f);
	return 0;
}

/*
 * A bundle directory dir/name for Kubernetes version.  With missing, the
 * manifest names a component file that is not there (a broken bundle).
 */
static void
bundle_at(const char *dir, const char *name, const char *version,
    int missing)
{
	char p[PATH_MAX], m[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/bin", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/bin/kubelet", dir, name);
	put(p, "kubelet bytes\n");
	snprintf(m, sizeof(m), "bundle: 1\nkubernetes_version: %s\n"
	    "components:\n"
	    "  - { name: kubelet, version: %s, arch: amd64, "
	    "path: bin/kubelet, sha256: " ZEROS " }\n%s", version, version,
	    missing ? "  - { name: kube-proxy, version: 1, arch: amd64, "
	    "path: bin/kube-proxy, sha256: " ZEROS " }\n" : "");
	snprintf(p, sizeof(p), "%s/%s/manifest.yaml", dir, name);
	put(p, m);
}

static void
bundle(const char *dir, const char *name, const char *version)
{
	bundle_at(dir, name, version, 0);
}

/* dir/name.tar.gz of the bundle directory dir/name (its top-level folder
 * in the archive); keep says whether the directory stays beside it. */
static void
tarball(const char *dir, const char *name, int keep)
{
	char tgz[PATH_MAX], d[PATH_MAX];
	char *argv[] = { "tar", "-czf", tgz, "-C", (char *)dir, (char *)name,
	    NULL };

	snprintf(tgz, sizeof(tgz), "%s/%s.tar.gz", dir, name);
	th_run(argv);
	if (!keep) {
		snprintf(d, sizeof(d), "%s/%s", dir, name);
		rm_rf(d);
	}
}

/* bundle_pick(path, want) must choose dir-relative name with version. */
static void
expect_pick(const char *path, const char *want, const char *chosen_name,
    const char *chosen_ver)
{
	struct kver w = th_kver(want);
	struct diag *d = diag_new();
	char ver[64], full[PATH_MAX], msg[4096], *chosen = (char *)"junk";
	int r;

	assert_non_null(d);
	memset(ver, 'x', sizeof(ver));
	r = bundle_pick(path, &w, &chosen, ver, sizeof(ver), d);
	if (r != 0) {
		th_diag_text(d, msg, sizeof(msg));
		fail_msg("bundle_pick(%s, %s) = %d: %s", path, want, r, msg);
	}
	assert_int_equal(diag_count(d), 0);
	assert_non_null(chosen);
	if (chosen_name[0] == '/')
		snprintf(full, sizeof(full), "%s", chosen_name);
	else
		snprintf(full, sizeof(full), "%s/%s", path, chosen_name);
	assert_string_equal(chosen, full);
	assert_string_equal(ver, chosen_ver);
	free(chosen);
	diag_free(d);
}

/* bundle_pick(path, want) must fail with rc; the diag text must hold each
 * of the NULL-ended strings that follow. */
static void
expect_miss(const char *path, const char *want, int rc, ...)
{
	struct kver w = th_kver(want);
	struct diag *d = diag_new();
	char ver[64] = "untouched", msg[4096], *chosen = (char *)"junk";
	const char *s;
	va_list ap;

	assert_non_null(d);
	assert_int_equal(bundle_pick(path, &w, &chosen, ver, sizeof(ver), d),
	    rc);
	assert_null(chosen);
	assert_string_equal(ver, "untouched");
	assert_true(diag_count(d) >= 1);
	th_diag_text(d, msg, sizeof(msg));
	va_start(ap, rc);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (strstr(msg, s) == NULL) {
			va_end(ap);
			fail_msg("no '%s' in: %s", s, msg);
		}
	va_end(ap);
	diag_free(d);
}

/* Three bundles whose names sort unlike their versions ("1.9.11" sorts
 * before "1.9.3" as text). */
static void
three(const char *dir)
{
	bundle(dir, "k8s-1.8.15", "1.8.15");
	bundle(dir, "k8s-1.9.11", "1.9.11");
	bundle(dir, "k8s-1.9.3", "1.9.3");
}

/* What bundle_pick takes from three() for a version asked: the newest of
 * a minor, or an exact patch. */
static const struct {
	int		 exact;		/* the version names a patch */
	const char	*want, *name, *version;
} from_three[] = {
	{ 0, "1.9", "k8s-1.9.11", "1.9.11" },
	{ 0, "v1.9", "k8s-1.9.11", "1.9.11" },
	{ 0, "1.8", "k8s-1.8.15", "1.8.15" },
	{ 1, "1.9.3", "k8s-1.9.3", "1.9.3" },
	{ 1, "v1.9.3", "k8s-1.9.3", "1.9.3" },
	{ 1, "1.9.11", "k8s-1.9.11", "1.9.11" },
	{ 1, "1.8.15", "k8s-1.8.15", "1.8.15" },
};

/* Each of from_three whose exact is as given, in f's three() bundles. */
static void
expect_from_three(struct fx *f, int exact)
{
	size_t i;

	three(f->dir);
	for (i = 0; i < TH_LEN(from_three); i++)
		if (from_three[i].exact == exact)
			expect_pick(f->dir, from_three[i].want,
			    from_three[i].name, from_three[i].version);
}

static void
test_newest_of_minor(void **state)
{
	expect_from_three(*state, 0);
}

static void
test_newest_whatever_the_order(void **state)
{
	/* the newest first, last and in the middle of the name order */
	static const struct { const char *a, *b, *c, *newest; } t[] = {
		{ "1.9.20", "1.9.4", "1.9.10", "a" },
		{ "1.9.4", "1.9.20", "1.9.10", "b" },
		{ "1.9.4", "1.9.10", "1.9.20", "c" },
	};
	struct fx *f;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (i > 0) {
			teardown(state);
			setup(state);
		}
		f = *state;
		bundle(f->dir, "a", t[i].a);
		bundle(f->dir, "b", t[i].b);
		bundle(f->dir, "c", t[i].c);
		expect_pick(f->dir, "1.9", t[i].newest, "1.9.20");
	}
}

static void
test_exact_patch(void **state)
{
	expect_from_three(*state, 1);
}

static void
test_not_found_lists_versions(void **state)
{
	struct fx *f = *state;

	three(f->dir);
	expect_miss(f->dir, "1.10", KORCH_ERR_NOT_FOUND, "1.10.x", "found:",
	    "1.8.15", "1.9.3", "1.9.11", f->dir, NULL);
	expect_miss(f->dir, "1.9.4", KORCH_ERR_NOT_FOUND, "1.9.4", "1.8.15",
	    "1.9.3", "1.9.11", NULL);
	expect_miss(f->dir, "2.9", KORCH_ERR_NOT_FOUND, "2.9.x", NULL);
}

static void
test_path_is_a_bundle(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	three(f->dir);
	snprintf(p, sizeof(p), "%s/k8s-1.9.3", f->dir);
	/* only this one is looked at, though a newer 1.9 is beside it */
	expect_pick(p, "1.9", p, "1.9.3");
	expect_pick(p, "1.9.3", p, "1.9.3");
	expect_miss(p, "1.9.11", KORCH_ERR_NOT_FOUND, "found: 1.9.3", NULL);
	expect_miss(p, "1.8", KORCH_ERR_NOT_FOUND, "1.8.x", "found: 1.9.3",
	    NULL);
}

static void
test_path_is_a_broken_bundle(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	bundle_at(f->dir, "bad", "1.9.3", 1);
	snprintf(p, sizeof(p), "%s/bad", f->dir);
	expect_miss(p, "1.9", KORCH_ERR_NOT_FOUND, "found: none", NULL);
	/* a plain file that is no bundle */
	snprintf(p, sizeof(p), "%s/notes.txt", f->dir);
	put(p, "hello\n");
	expect_miss(p, "1.9", KORCH_ERR_NOT_FOUND, "found: none", NULL);
}

static void
test_broken_bundles_skipped(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	bundle(f->dir, "good", "1.9.3");
	/* newer, but a component file is missing */
	bundle_at(f->dir, "missing-file", "1.9.20", 1);
	/* newer, but the manifest is not YAML */
	bundle(f->dir, "syntax", "1.9.21");
	snprintf(p, sizeof(p), "%s/syntax/manifest.yaml", f->dir);
	put(p, "bundle: 1\nkubernetes_version: [1.9.21\n");
	/* loads, but its version is no version */
	bundle(f->dir, "noversion", "latest");
	/* a newer one in a format this korch does not read */
	bundle(f->dir, "format2", "1.9.22");
	snprintf(p, sizeof(p), "%s/format2/manifest.yaml", f->dir);
	put(p, "bundle: 2\nkubernetes_version: 1.9.22\ncomponents: []\n");
	/* a manifest.yaml that is a directory is not a bundle */
	snprintf(p, sizeof(p), "%s/odd", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/odd/manifest.yaml", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	expect_pick(f->dir, "1.9", "good", "1.9.3");
	/* the broken ones are not listed as seen */
	expect_miss(f->dir, "1.10", KORCH_ERR_NOT_FOUND, "(found: 1.9.3)",
	    NULL);
}

static void
test_only_bundles_directly_inside(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	/* hidden entries, plain files, directories without a manifest and
	 * bundles nested deeper are not bundles of this directory */
	bundle(f->dir, ".hidden", "1.9.30");
	snprintf(p, sizeof(p), "%s/deeper", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	bundle(p, "k8s-1.9.31", "1.9.31");
	snprintf(p, sizeof(p), "%s/README", f->dir);
	put(p, "bundles live here\n");
	snprintf(p, sizeof(p), "%s/empty", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	expect_miss(f->dir, "1.9", KORCH_ERR_NOT_FOUND, "found: none", NULL);
	bundle(f->dir, "k8s-1.9.2", "1.9.2");
	expect_pick(f->dir, "1.9", "k8s-1.9.2", "1.9.2");
}

static void
test_empty_directory(void **state)
{
	struct fx *f = *state;

	expect_miss(f->dir, "1.9", KORCH_ERR_NOT_FOUND, "1.9.x",
	    "found: none", NULL);
	expect_miss(f->dir, "1.9.3", KORCH_ERR_NOT_FOUND, "1.9.3",
	    "found: none", NULL);
}

static void
test_same_version_twice(void **state)
{
	struct fx *f = *state;

	/* a tie keeps the first in name order */
	bundle(f->dir, "b-copy", "1.9.3");
	bundle(f->dir, "a-orig", "1.9.3");
	expect_pick(f->dir, "1.9", "a-orig", "1.9.3");
	expect_pick(f->dir, "1.9.3", "a-orig", "1.9.3");
}

/* Run bundle_pick with stderr going to a file; return that file's size
 * (what tar would have said had it been run on a bad tarball). */
static long
pick_quietly(const char *path, const char *want, char **chosen, char *ver,
    size_t verlen, int *rc)
{
	char errf[PATH_MAX];
	struct kver w = th_kver(want);
	struct diag *d = diag_new();
	struct stat st;
	int saved, fd;

	assert_non_null(d);
	snprintf(errf, sizeof(errf), "%s.stderr", path);
	assert_true((fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >=
	    0);
	fflush(stderr);
	assert_true((saved = dup(2)) >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	*rc = bundle_pick(path, &w, chosen, ver, verlen, d);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_int_equal(stat(errf, &st), 0);
	assert_int_equal(unlink(errf), 0);
	diag_free(d);
	return (long)st.st_size;
}

static void
test_twin_tarball_not_unpacked(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], sub[512], ver[64], *chosen = NULL;
	int rc;

	bundle(f->dir, "k8s-1.9.3", "1.9.3");
	/* garbage: tar(1) would complain on stderr were it unpacked */
	snprintf(p, sizeof(p), "%s/k8s-1.9.3.tar.gz", f->dir);
	put(p, "this is not a gzip file\n");
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(pick_quietly(f->dir, "1.9", &chosen, ver,
	    sizeof(ver), &rc), 0);
	assert_int_equal(rc, 0);
	snprintf(p, sizeof(p), "%s/k8s-1.9.3", f->dir);
	assert_string_equal(chosen, p);
	assert_string_equal(ver, "1.9.3");
	free(chosen);
	chosen = NULL;

	/* the check is real: the same garbage alone is tried, and fails */
	snprintf(p, sizeof(p), "%s/lone.tar.gz", sub);
	put(p, "this is not a gzip file\n");
	assert_true(pick_quietly(sub, "1.9", &chosen, ver, sizeof(ver),
	    &rc) > 0);
	assert_int_equal(rc, KORCH_ERR_NOT_FOUND);
	assert_null(chosen);
}

static void
test_twin_tarball_newer_ignored(void **state)
{
	struct fx *f = *state;
	char tmp[512], from[PATH_MAX], to[PATH_MAX];

	/* k8s-1.9.3.tar.gz actually holds 1.9.11 (made, then the directory
	 * renamed under it and a 1.9.3 directory put in its place): were it
	 * unpacked it would win */
	snprintf(tmp, sizeof(tmp), "%s/stage", f->dir);
	assert_int_equal(mkdir(tmp, 0755), 0);
	bundle(tmp, "k8s-1.9.3", "1.9.11");
	tarball(tmp, "k8s-1.9.3", 0);
	snprintf(from, sizeof(from), "%s/k8s-1.9.3.tar.gz", tmp);
	snprintf(to, sizeof(to), "%s/k8s-1.9.3.tar.gz", f->dir);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(rmdir(tmp), 0);
	bundle(f->dir, "k8s-1.9.3", "1.9.3");
	expect_pick(f->dir, "1.9", "k8s-1.9.3", "1.9.3");
	expect_miss(f->dir, "1.9.11", KORCH_ERR_NOT_FOUND, "found: 1.9.3)",
	    NULL);
	/* without its twin directory the tarball counts */
	snprintf(from, sizeof(from), "%s/k8s-1.9.3", f->dir);
	rm_rf(from);
	expect_pick(f->dir, "1.9", "k8s-1.9.3.tar.gz", "1.9.11");
}

static void
test_lone_tarball(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	bundle(f->dir, "k8s-1.9.3", "1.9.3");
	bundle(f->dir, "k8s-1.9.11", "1.9.11");
	tarball(f->dir, "k8s-1.9.11", 0);	/* only the .tar.gz is left */
	expect_pick(f->dir, "1.9", "k8s-1.9.11.tar.gz", "1.9.11");
	expect_pick(f->dir, "1.9.3", "k8s-1.9.3", "1.9.3");
	expect_miss(f->dir, "1.10", KORCH_ERR_NOT_FOUND, "1.9.3", "1.9.11",
	    NULL);
	/* a tarball named by itself */
	snprintf(p, sizeof(p), "%s/k8s-1.9.11.tar.gz", f->dir);
	expect_pick(p, "1.9", p, "1.9.11");
	expect_miss(p, "1.8", KORCH_ERR_NOT_FOUND, "found: 1.9.11", NULL);
}

static void
test_nonexistent_path(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/no-such-bundle", f->dir);
	expect_miss(p, "1.9", KORCH_ERR_PARSE, p, "no such bundle", NULL);
	snprintf(p, sizeof(p), "%s/no-such-bundle.tar.gz", f->dir);
	expect_miss(p, "1.9", KORCH_ERR_PARSE, p, NULL);
}

static void
test_short_ver_buffer(void **state)
{
	struct fx *f = *state;
	struct kver w = th_kver("1.9");
	struct diag *d = diag_new();
	char ver[8], *chosen = NULL;

	bundle(f->dir, "long", "1.9.123456");
	memset(ver, 'x', sizeof(ver));
	assert_int_equal(bundle_pick(f->dir, &w, &chosen, ver, 5, d), 0);
	assert_string_equal(ver, "1.9.");	/* truncated, terminated */
	assert_int_equal(ver[5], 'x');		/* and no further */
	free(chosen);
	diag_free(d);
}

int
main(void)
{
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_newest_of_minor),
		T(test_newest_whatever_the_order),
		T(test_exact_patch),
		T(test_not_found_lists_versions),
		T(test_path_is_a_bundle),
		T(test_path_is_a_broken_bundle),
		T(test_broken_bundles_skipped),
		T(test_only_bundles_directly_inside),
		T(test_empty_directory),
		T(test_same_version_twice),
		T(test_twin_tarball_not_unpacked),
		T(test_twin_tarball_newer_ignored),
		T(test_lone_tarball),
		T(test_nonexistent_path),
		T(test_short_ver_buffer),
	};
#undef T

	return cmocka_run_group_tests(tests, th_group_setup,
	    th_group_teardown);
}
