/*
 * test_bundle.c - the offline bundle: a manifest loads and verifies, every
 * problem is reported with the manifest's line, a wrong sha256 is refused,
 * paths cannot leave the bundle, a .tar.gz works like the directory, and
 * the template variables are named as the playbooks use them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bundle.h"
#include "diag.h"
#include "digest.h"
#include "err.h"
#include "vars.h"

struct fx {
	char	dir[256];
	char	hash_a[65], hash_b[65];
};

static void
put(const char *dir, const char *name, const char *text)
{
	char p[512];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[512];

	snprintf(f->dir, sizeof(f->dir), "/tmp/korch-bundle-test.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/bin", f->dir);
	mkdir(p, 0755);
	put(f->dir, "bin/kube-apiserver", "apiserver bytes\n");
	put(f->dir, "bin/mk-docker-opts.sh", "#!/bin/sh\n");
	sha256_hex("apiserver bytes\n", 16, f->hash_a);
	sha256_hex("#!/bin/sh\n", 10, f->hash_b);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "rm", "-rf", f->dir, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp("rm", argv);
		_exit(1);
	}
	waitpid(pid, NULL, 0);
	free(f);
	return 0;
}

static void
manifest(struct fx *f, const char *hash_a, const char *extra)
{
	char m[2048];

	snprintf(m, sizeof(m), "bundle: 1\nkubernetes_version: 1.8.15\n"
	    "components:\n"
	    "  - { name: kube-apiserver, version: 1.8.15, arch: amd64, "
	    "path: bin/kube-apiserver, sha256: %s }\n"
	    "  - { name: mk-docker-opts.sh, version: 0.9.1, arch: amd64, "
	    "path: bin/mk-docker-opts.sh, sha256: %s }\n%s", hash_a,
	    f->hash_b, extra);
	put(f->dir, "manifest.yaml", m);
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
	char msg[4096] = "", line[512];
	size_t i;

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
	for (i = 0; i < diag_count(d); i++) {
		diag_format(diag_get(d, i), line, sizeof(line));
		strncat(msg, line, sizeof(msg) - strlen(msg) - 2);
		strcat(msg, "\n");
	}
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
	pid_t pid;
	int st;

	manifest(f, f->hash_a, "");
	snprintf(parent, sizeof(parent), "%s", f->dir);
	slash = strrchr(parent, '/');
	*slash = '\0';
	argv[5] = slash + 1;
	snprintf(tgz, sizeof(tgz), "%s.tar.gz", f->dir);
	pid = fork();
	if (pid == 0) {
		execvp("tar", argv);
		_exit(1);
	}
	waitpid(pid, &st, 0);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(bundle_load(tgz, &b, d), 0);
	assert_int_equal(bundle_verify(b, d), 0);
	assert_non_null(b->tmpdir);
	bundle_free(b);
	unlink(tgz);
	diag_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_verify_vars, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_sha_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tarball, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
