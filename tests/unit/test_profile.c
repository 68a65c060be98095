/*
 * test_profile.c - per-version component profiles: the shipped set
 * (playbooks/profiles: which profile a version picks, the sentence that
 * refuses an uncovered one, roles, versioned components, upgrade steps,
 * defaults and flags per version), inheritance between profiles, every
 * load error with its file:line:column, and flags rendered per host by
 * render_host_vars().
 * Fixtures: the repository's playbooks/ (found from this file's path, as
 * tests/unit/data is; KORCH_TEST_PLAYBOOKS overrides), tests/unit/data/inv/
 * cluster.yaml, and profile directories written to /tmp.
 */
#include "helpers_ctl.h"

#include "spec/profile.h"

/* ---- temporary playbook directories -------------------------------------- */

struct tmp {
	char	dir[128];
};

/* profiles/<name> with text. */
static void
tmp_put(const struct tmp *t, const char *name, const char *text)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/profiles/%s", t->dir, name);
	th_put(NULL, p, text);
}

/* A fresh <tmp>/profiles for each test that writes profiles, removed
 * after it even when it fails. */
static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	char p[256];

	if (t == NULL)
		return -1;
	assert_int_equal(th_mkdtemp(t->dir, sizeof(t->dir),
	    "korch-profile-test"), 0);
	snprintf(p, sizeof(p), "%s/profiles", t->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;

	(void)th_rmtree(t->dir);
	free(t);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

/* A diagnostic in a file ending with file, at line:col, with this path,
 * whose message contains msg; prints the list when missing. */
#define expect_diag th_expect_diag

/* The directory's profiles must not load: KORCH_ERR_PARSE, no set. */
static struct diag *
load_bad(const struct tmp *t)
{
	struct profile_set *ps = (struct profile_set *)1;
	struct diag *d;

	assert_non_null(d = diag_new());
	assert_int_equal(profile_set_load(t->dir, &ps, d), KORCH_ERR_PARSE);
	assert_null(ps);
	assert_true(diag_count(d) > 0);
	return d;
}

/* The directory's profiles must not load, with each of want[0..n) in
 * file, and count diagnostics in all (not checked when count is 0). */
static void
expect_refused_all(const struct tmp *t, const char *file,
    const struct th_want_diag *want, size_t n, size_t count)
{
	struct diag *d = load_bad(t);

	th_expect_diags(d, file, want, n);
	if (count > 0)
		assert_int_equal(diag_count(d), count);
	diag_free(d);
}

/* As expect_refused_all, with one diagnostic at line:col, path, msg. */
static void
expect_refused(const struct tmp *t, const char *file, unsigned line,
    unsigned col, const char *path, const char *msg, size_t count)
{
	const struct th_want_diag want = { line, col, path, msg };

	expect_refused_all(t, file, &want, 1, count);
}

/* profiles/a.yaml as text is refused (see expect_refused). */
struct a_refused {
	const char	*text;
	unsigned	 line, col;
	const char	*path, *msg;
	size_t		 count;
};

static void
expect_a_refused(const struct tmp *t, const struct a_refused *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		tmp_put(t, "a.yaml", r[i].text);
		expect_refused(t, "profiles/a.yaml", r[i].line, r[i].col,
		    r[i].path, r[i].msg, r[i].count);
	}
}

static struct profile_set *
load_good(const char *dir)
{
	struct profile_set *ps = NULL;
	struct diag *d;

	assert_non_null(d = diag_new());
	if (profile_set_load(dir, &ps, d) != 0) {
		diag_print(d, stderr);
		fail_msg("profiles in %s do not load", dir);
	}
	assert_int_equal(diag_count(d), 0);
	assert_non_null(ps);
	diag_free(d);
	return ps;
}

static const struct profile *
pick(const struct profile_set *ps, const char *version)
{
	const struct profile *p;
	char why[512] = "";

	if ((p = profile_pick(ps, version, why, sizeof(why))) == NULL)
		fail_msg("no profile for %s: %s", version, why);
	return p;
}

/* NULL-terminated list l is exactly want (NULL-terminated). */
static void
assert_list(const char *const *l, const char *const *want)
{
	size_t i;

	assert_non_null(l);
	for (i = 0; want[i] != NULL; i++) {
		if (l[i] == NULL)
			fail_msg("list ends at %zu, want '%s'", i, want[i]);
		assert_string_equal(l[i], want[i]);
	}
	if (l[i] != NULL)
		fail_msg("list has an extra '%s' at %zu", l[i], i);
}

/* The run-wide variables run_profile.c gives profile_vars: the bundle's. */
static struct vars *
run_vars(const char *kversion)
{
	struct vars *run;

	assert_non_null(run = vars_new(NULL));
	assert_int_equal(vars_set(run, "bundle.kubernetes_version", kversion),
	    0);
	assert_int_equal(vars_set(run, "bundle.etcd.version", "3.4.13"), 0);
	assert_int_equal(vars_set(run, "bundle.flanneld.version", "0.13.0"),
	    0);
	assert_int_equal(vars_set(run, "bundle.image.pause.ref",
	    "korch.local/pause:3.2"), 0);
	assert_int_equal(vars_set(run, "cluster.name", "test"), 0);
	return run;
}

/* profile_vars of the shipped profile for version, with no problem. */
static struct vars *
shipped_vars(const struct profile_set *ps, const char *version)
{
	struct vars *run = run_vars(version), *v;
	struct diag *d = diag_new();

	assert_non_null(v = vars_new(NULL));
	if (profile_vars(pick(ps, version), run, v, d) != 0) {
		diag_print(d, stderr);
		fail_msg("profile_vars for %s failed", version);
	}
	assert_int_equal(diag_count(d), 0);
	vars_free(run);
	diag_free(d);
	return v;
}

static void
assert_has(const char *s, const char *sub)
{
	assert_non_null(s);
	if (strstr(s, sub) == NULL)
		fail_msg("'%s' not in:\n%s", sub, s);
}

static void
assert_lacks(const char *s, const char *sub)
{
	assert_non_null(s);
	if (strstr(s, sub) != NULL)
		fail_msg("'%s' unexpectedly in:\n%s", sub, s);
}

/* Every line break of a flags.* value continues an ExecStart: " \\\n  "
 * before the next flag, and each flag one word. */
static void
assert_exec_lines(const char *s)
{
	const char *p;

	assert_non_null(s);
	assert_true(strncmp(s, "--", 2) == 0);
	for (p = strchr(s, '\n'); p != NULL; p = strchr(p + 1, '\n')) {
		assert_true(p - s >= 2);
		assert_true(p[-1] == '\\' && p[-2] == ' ');
		assert_true(strncmp(p + 1, "  --", 4) == 0);
	}
	assert_true(s[strlen(s) - 1] != '\\');
}

/* ---- the shipped profiles ------------------------------------------------ */

static void
test_shipped_pick(void **state)
{
	struct profile_set *ps = load_good(th_playbooks());
	const struct profile *p;
	char why[512], buf[64], v[32];
	int minor;

	(void)state;
	/* base only serves as a base: three profiles cover versions. */
	assert_int_equal(profile_set_count(ps), 3);
	p = pick(ps, "1.8.15");
	assert_string_equal(profile_name(p), "1.8");
	assert_ptr_equal(pick(ps, "1.9.11"), p);
	assert_ptr_equal(pick(ps, "1.8"), p);
	assert_ptr_equal(pick(ps, "v1.9.0"), p);
	assert_non_null(strstr(profile_file(p), "profiles/1.8.yaml"));
	profile_range(p, buf, sizeof(buf));
	assert_string_equal(buf, "1.8-1.9");
	p = pick(ps, "1.20.2");
	assert_string_equal(profile_name(p), "1.20");
	assert_non_null(strstr(profile_file(p), "profiles/1.20.yaml"));
	profile_range(p, buf, sizeof(buf));
	assert_string_equal(buf, "1.20");

	assert_null(profile_pick(ps, "1.10", why, sizeof(why)));
	assert_string_equal(why, "no profile covers Kubernetes 1.10; this "
	    "korch supports 1.7, 1.8-1.9, 1.20");
	assert_null(profile_pick(ps, "1.21.0", why, sizeof(why)));
	assert_string_equal(why, "no profile covers Kubernetes 1.21.0; this "
	    "korch supports 1.7, 1.8-1.9, 1.20");
	/* 1.7 is its own profile, inheriting 1.8's and dropping what 1.7
	 * lacks. */
	p = pick(ps, "1.7.16");
	assert_string_equal(profile_name(p), "1.7");
	assert_null(profile_pick(ps, "1.6.13", why, sizeof(why)));
	assert_non_null(strstr(why, "1.6.13"));
	assert_null(profile_pick(ps, "2.8.1", why, sizeof(why)));
	/* Not a version at all, and base is not one. */
	assert_null(profile_pick(ps, "base", why, sizeof(why)));
	assert_non_null(strstr(why, "not a Kubernetes version"));
	assert_null(profile_pick(ps, "1.x", why, sizeof(why)));

	/* No minor picks base; only 1.7, 1.8, 1.9 and 1.20 pick anything. */
	for (minor = 0; minor <= 40; minor++) {
		snprintf(v, sizeof(v), "1.%d.3", minor);
		p = profile_pick(ps, v, why, sizeof(why));
		if (minor == 7)
			assert_string_equal(profile_name(p), "1.7");
		else if (minor == 8 || minor == 9)
			assert_string_equal(profile_name(p), "1.8");
		else if (minor == 20)
			assert_string_equal(profile_name(p), "1.20");
		else
			assert_null(p);
		if (p != NULL)
			assert_string_not_equal(profile_name(p), "base");
	}
	/* A short buffer is cut, never overrun. */
	assert_null(profile_pick(ps, "1.10", buf, 12));
	assert_int_equal(strlen(buf), 11);
	profile_set_free(ps);
	profile_set_free(NULL);
}

static void
test_shipped_roles(void **state)
{
	static const char *const master[] = { "kube-apiserver",
	    "kube-controller-manager", "kube-scheduler", "kube-proxy",
	    "flanneld", NULL };
	static const char *const node[] = { "kubelet", "kube-proxy",
	    "flanneld", NULL };
	static const char *const etcd[] = { "etcd", NULL };
	static const char *const kubectl[] = { "kubectl", NULL };
	static const char *const etcdctl[] = { "etcdctl", NULL };
	static const char *const none[] = { NULL };
	static const char *const versions[] = { "1.7.16", "1.8.15", "1.9.11",
	    "1.20.2" };
	struct profile_set *ps = load_good(th_playbooks());
	const struct profile *p;
	size_t i;

	(void)state;
	/* From base, the same for every version. */
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		p = pick(ps, versions[i]);
		assert_list(profile_runs(p, "master"), master);
		assert_list(profile_needs(p, "master"), kubectl);
		assert_list(profile_runs(p, "etcd"), etcd);
		assert_list(profile_needs(p, "etcd"), etcdctl);
		assert_list(profile_runs(p, "node"), node);
		assert_list(profile_needs(p, "node"), none);
		/* A role the profile does not name: an empty list. */
		assert_list(profile_runs(p, "bastion"), none);
		assert_list(profile_needs(p, "bastion"), none);
	}
	/* No profile (a playbook set of one's own): nothing. */
	assert_list(profile_runs(NULL, "master"), none);
	assert_list(profile_needs(NULL, "etcd"), none);
	assert_int_equal(profile_versioned(NULL, "kubelet"), 0);
	assert_null(profile_steps(NULL, "node-swap"));
	profile_set_free(ps);
}

static void
test_shipped_versioned_steps(void **state)
{
	/* A phase installs before it restarts: the binaries of the new
	 * version go in first, then the services move to them. */
	static const char *const node_swap[] = { "node-install",
	    "proxy-install", "flannel", "node", "proxy", "observe-node", NULL };
	static const char *const master_swap[] = { "master-install",
	    "proxy-install", "flannel", "master", "master-health", "proxy",
	    "observe-master", NULL };
	static const char *const versions[] = { "1.8.15", "1.20.2" };
	struct profile_set *ps = load_good(th_playbooks());
	const struct profile *p;
	const char *const *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		p = pick(ps, versions[i]);
		assert_int_equal(profile_versioned(p, "kubelet"), 1);
		assert_int_equal(profile_versioned(p, "kube-apiserver"), 1);
		assert_int_equal(profile_versioned(p, "kubectl"), 1);
		assert_int_equal(profile_versioned(p, "kube-proxy"), 1);
		assert_int_equal(profile_versioned(p, "etcd"), 0);
		assert_int_equal(profile_versioned(p, "etcdctl"), 0);
		assert_int_equal(profile_versioned(p, "flanneld"), 0);
		assert_int_equal(profile_versioned(p, "nope"), 0);

		assert_non_null(s = profile_steps(p, "node-swap"));
		assert_string_equal(s[0], "node-install");
		assert_list(s, node_swap);
		assert_list(profile_steps(p, "master-swap"), master_swap);
		assert_non_null(s = profile_steps(p, "snapshot"));
		assert_string_equal(s[0], "etcd-snapshot");
		assert_null(s[1]);
		assert_null(profile_steps(p, "nope"));
		assert_null(profile_steps(p, ""));
	}
	profile_set_free(ps);
}

static void
test_shipped_vars_1_20(void **state)
{
	static const struct th_want_var defaults[] = {
		/* Rendered against the run-wide variables. */
		{ "kube_bin_dir", "/opt/kubernetes/1.20.2/bin" },
		{ "etcd_bin_dir", "/opt/etcd/3.4.13/bin" },
		{ "flannel_bin_dir", "/opt/flannel/0.13.0/bin" },
		{ "pod_infra_image", "korch.local/pause:3.2" },
		/* base's, where 1.20 says nothing; 1.20's own where it does. */
		{ "authorization_mode", "Node,RBAC" },
		{ "cgroup_driver", "systemd" },
		{ "docker_extra_opts", "" },
		{ "admission_plugins", "NodeRestriction" },
		{ "kubelet_config", "v1beta1" },
	};
	struct profile_set *ps = load_good(th_playbooks());
	struct vars *v = shipped_vars(ps, "1.20.2");
	const char *f, *want;

	(void)state;
	assert_string_equal(vars_get(v, "profile.name"), "1.20");
	assert_non_null(strstr(vars_get(v, "profile.file"),
	    "profiles/1.20.yaml"));
	th_expect_vars(v, defaults, TH_LEN(defaults));

	f = vars_get(v, "flags.kube_apiserver");
	assert_has(f, "--service-account-issuer=");
	assert_has(f, "--service-account-signing-key-file=");
	assert_has(f, "--enable-admission-plugins={{ admission_plugins }}");
	assert_lacks(f, "--admission-control");
	assert_lacks(f, "--enable-swagger-ui");
	/* Still templates: render_host_vars renders them per host. */
	assert_has(f, "--advertise-address={{ host.address }}");
	assert_exec_lines(f);

	f = vars_get(v, "flags.kubelet");
	assert_has(f, "--config=");
	assert_lacks(f, "--require-kubeconfig");
	assert_lacks(f, "--allow-privileged");
	assert_exec_lines(f);

	/* Joined as continuation lines, in the profile's order. */
	f = vars_get(v, "flags.kube_scheduler");
	want = "--bind-address=127.0.0.1 \\\n  --address=127.0.0.1 \\\n  "
	    "--kubeconfig=";
	assert_true(strncmp(f, want, strlen(want)) == 0);
	assert_exec_lines(vars_get(v, "flags.kube_controller_manager"));
	assert_exec_lines(vars_get(v, "flags.kube_proxy"));
	/* '-' as '_' in the name: no flags.kube-apiserver. */
	assert_null(vars_get(v, "flags.kube-apiserver"));
	vars_free(v);
	profile_set_free(ps);
}

static void
test_shipped_vars_1_8(void **state)
{
	struct profile_set *ps = load_good(th_playbooks());
	struct vars *v = shipped_vars(ps, "1.8.15");
	const char *f;

	(void)state;
	assert_string_equal(vars_get(v, "profile.name"), "1.8");
	assert_string_equal(vars_get(v, "kube_bin_dir"),
	    "/opt/kubernetes/1.8.15/bin");
	assert_string_equal(vars_get(v, "kubelet_config"), "flags");
	assert_has(vars_get(v, "admission_plugins"), "NamespaceLifecycle");

	f = vars_get(v, "flags.kubelet");
	assert_has(f, "--require-kubeconfig");
	assert_has(f, "--anonymous-auth=false");
	assert_lacks(f, "--config=");
	assert_exec_lines(f);
	f = vars_get(v, "flags.kube_apiserver");
	assert_has(f, "--admission-control={{ admission_plugins }}");
	assert_lacks(f, "--enable-admission-plugins");
	assert_lacks(f, "--service-account-issuer");
	assert_exec_lines(f);
	vars_free(v);

	/* Versions of one profile differ only in what they render. */
	v = shipped_vars(ps, "1.9.11");
	assert_string_equal(vars_get(v, "profile.name"), "1.8");
	assert_string_equal(vars_get(v, "kube_bin_dir"),
	    "/opt/kubernetes/1.9.11/bin");
	vars_free(v);
	profile_set_free(ps);
}

/* 1.7 is 1.8 less what 1.7 lacks: the kubelet's --fail-swap-on (1.8) and
 * RBAC v1 (1.8); the rest, and 1.8's defaults, it inherits. */
static void
test_shipped_vars_1_7(void **state)
{
	struct profile_set *ps = load_good(th_playbooks());
	struct vars *v = shipped_vars(ps, "1.7.16");
	const char *f;

	(void)state;
	assert_string_equal(vars_get(v, "profile.name"), "1.7");
	assert_has(vars_get(v, "admission_plugins"), "NodeRestriction");
	f = vars_get(v, "flags.kubelet");
	assert_has(f, "--require-kubeconfig");
	assert_has(f, "--anonymous-auth=false");
	assert_lacks(f, "--fail-swap-on");
	assert_exec_lines(f);
	f = vars_get(v, "flags.kube_apiserver");
	assert_has(f, "--admission-control={{ admission_plugins }}");
	assert_lacks(f, "--runtime-config");
	f = vars_get(v, "flags.kube_proxy");
	assert_has(f, "--proxy-mode=iptables");
	vars_free(v);
	profile_set_free(ps);
}

/* The line base.yaml sets name on, and the column its value starts. */
static void
line_of(const char *file, const char *name, unsigned *line, unsigned *col)
{
	char buf[1024];
	size_t len = strlen(name);
	unsigned n = 0;
	const char *p;
	FILE *fp;

	assert_non_null(fp = fopen(file, "r"));
	*line = 0;
	*col = 0;
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		n++;
		p = buf + strspn(buf, " ");
		if (strncmp(p, name, len) == 0 && p[len] == ':') {
			p += len + 1;
			p += strspn(p, " ");
			*line = n;
			*col = (unsigned)(p - buf) + 1;
			break;
		}
	}
	fclose(fp);
	assert_true(*line > 0);
}

static void
test_shipped_var_undefined(void **state)
{
	struct profile_set *ps = load_good(th_playbooks());
	struct vars *run, *v;
	struct diag *d = diag_new();
	const struct diag_entry *e;
	char file[PATH_MAX + 32], msg[1024];
	unsigned line, col;

	(void)state;
	/* A bundle without the pause image. */
	assert_non_null(run = vars_new(NULL));
	assert_int_equal(vars_set(run, "bundle.kubernetes_version", "1.20.2"),
	    0);
	assert_int_equal(vars_set(run, "bundle.etcd.version", "3.4.13"), 0);
	assert_int_equal(vars_set(run, "bundle.flanneld.version", "0.13.0"),
	    0);
	assert_non_null(v = vars_new(NULL));
	assert_int_equal(profile_vars(pick(ps, "1.20.2"), run, v, d),
	    KORCH_ERR_TEMPLATE);
	snprintf(file, sizeof(file), "%s/profiles/base.yaml", th_playbooks());
	line_of(file, "pod_infra_image", &line, &col);
	e = expect_diag(d, "profiles/base.yaml", line, col,
	    "vars.pod_infra_image", "bundle.image.pause.ref");
	diag_format(e, msg, sizeof(msg));
	snprintf(file, sizeof(file), "base.yaml:%u:%u: ", line, col);
	assert_has(msg, file);
	/* The others are still rendered (every problem is reported). */
	assert_int_equal(diag_count(d), 1);
	vars_free(v);
	vars_free(run);
	diag_free(d);
	profile_set_free(ps);
}

/* ---- flags rendered per host --------------------------------------------- */

static void
test_host_flags(void **state)
{
	struct inventory *inv = th_inv_load(th_data("inv", "cluster.yaml"));
	struct vars *extra, *v = NULL;
	struct diag *d = diag_new();
	const struct diag_entry *e;

	(void)state;
	assert_non_null(extra = vars_new(NULL));
	assert_int_equal(vars_set(extra, "flags.x",
	    "--a={{ host.address }} \\\n  --b"), 0);
	assert_int_equal(vars_set(extra, "flags.y", "--name={{ host.name }}"
	    " \\\n  --greet={{ greeting }} --cluster={{ cluster.name }}"), 0);
	assert_int_equal(render_host_vars(inv, N1, NULL, extra, &v, d), 0);
	assert_int_equal(diag_count(d), 0);
	assert_string_equal(vars_get(v, "flags.x"),
	    "--a=198.18.1.12 \\\n  --b");
	/* Against everything the host sees, inventory vars included. */
	assert_string_equal(vars_get(v, "flags.y"),
	    "--name=n1 \\\n  --greet=hi --cluster=test");
	vars_free(v);
	assert_int_equal(render_host_vars(inv, M1, NULL, extra, &v, d), 0);
	assert_string_equal(vars_get(v, "flags.x"),
	    "--a=198.18.1.11 \\\n  --b");
	assert_string_equal(vars_get(v, "flags.y"),
	    "--name=m1 \\\n  --greet=hello-m1 --cluster=test");
	vars_free(v);
	/* The extra map itself is left as it was. */
	assert_string_equal(vars_get(extra, "flags.x"),
	    "--a={{ host.address }} \\\n  --b");

	/* An undefined variable in a flag: reported, naming the flag. */
	assert_int_equal(vars_set(extra, "profile.file", "/p/1.20.yaml"), 0);
	assert_int_equal(vars_set(extra, "flags.x", "--a={{ nosuch }}"), 0);
	v = (struct vars *)1;
	assert_int_equal(render_host_vars(inv, N1, NULL, extra, &v, d),
	    KORCH_ERR_TEMPLATE);
	assert_null(v);
	assert_int_equal(diag_count(d), 1);
	e = diag_get(d, 0);
	assert_string_equal(e->path, "flags.x");
	assert_string_equal(e->file, "/p/1.20.yaml");
	assert_has(e->msg, "nosuch");
	assert_has(e->msg, "n1");
	diag_free(d);

	/* Every bad flag is reported; a NULL diag drops them. */
	d = diag_new();
	assert_int_equal(vars_set(extra, "flags.y", "--b={{ other }}"), 0);
	assert_int_equal(render_host_vars(inv, N1, NULL, extra, &v, d),
	    KORCH_ERR_TEMPLATE);
	assert_int_equal(diag_count(d), 2);
	assert_string_equal(diag_get(d, 1)->path, "flags.y");
	assert_string_equal(diag_get(d, 1)->file, "/p/1.20.yaml");
	assert_has(diag_get(d, 1)->msg, "other");
	assert_int_equal(render_host_vars(inv, N1, NULL, extra, &v, NULL),
	    KORCH_ERR_TEMPLATE);
	assert_null(v);
	diag_free(d);
	vars_free(extra);
	inventory_free(inv);
}

/* The shipped 1.20 flags, from profile_vars through render_host_vars, the
 * way run_profile.c and render.c chain them. */
static void
test_shipped_flags_per_host(void **state)
{
	struct profile_set *ps = load_good(th_playbooks());
	struct inventory *inv = th_inv_load(th_data("inv", "cluster.yaml"));
	struct vars *extra = shipped_vars(ps, "1.20.2"), *v = NULL;
	struct diag *d = diag_new();
	const char *f;

	(void)state;
	assert_int_equal(render_host_vars(inv, M1, NULL, extra, &v, d), 0);
	assert_int_equal(diag_count(d), 0);
	f = vars_get(v, "flags.kube_apiserver");
	assert_has(f, "--advertise-address=198.18.1.11 \\\n");
	assert_has(f, "--service-account-issuer=https://kubernetes.default."
	    "svc.cluster.local \\\n");
	assert_has(f, "--etcd-servers=https://198.18.1.11:2379,"
	    "https://[2001:db8::14]:2379 \\\n");
	assert_has(f, "--service-cluster-ip-range=10.254.0.0/16 \\\n");
	assert_has(f, "--enable-admission-plugins=NodeRestriction \\\n");
	assert_lacks(f, "{{");
	assert_exec_lines(f);
	vars_free(v);

	assert_int_equal(render_host_vars(inv, N1, NULL, extra, &v, d), 0);
	f = vars_get(v, "flags.kubelet");
	assert_has(f, "--node-ip=198.18.1.12 \\\n");
	assert_has(f, "--hostname-override=n1 \\\n");
	assert_has(f, "--pod-infra-container-image=korch.local/pause:3.2");
	assert_lacks(f, "{{");
	vars_free(v);

	/* The inventory overrides a profile default, and the flags see it. */
	assert_int_equal(vars_set(inv->hosts[M1].vars, "admission_plugins",
	    "NodeRestriction,AlwaysPullImages"), 0);
	assert_int_equal(render_host_vars(inv, M1, NULL, extra, &v, d), 0);
	assert_string_equal(vars_get(v, "admission_plugins"),
	    "NodeRestriction,AlwaysPullImages");
	assert_has(vars_get(v, "flags.kube_apiserver"),
	    "--enable-admission-plugins=NodeRestriction,AlwaysPullImages");
	vars_free(v);
	assert_int_equal(diag_count(d), 0);
	diag_free(d);
	vars_free(extra);
	inventory_free(inv);
	profile_set_free(ps);
}

/* ---- inheritance, in a profile set of our own ---------------------------- */

static void
test_inheritance(void **state)
{
	static const char *const runs[] = { "a", "b", NULL };
	static const char *const slot[] = { "s1", "s2", NULL };
	struct profile_set *ps;
	const struct profile *child, *gc;
	struct vars *run, *v;
	struct diag *d = diag_new();
	struct tmp *t = *state;
	char why[256], buf[32];

	tmp_put(t, "root.yaml",
	    "profile: root\n"
	    "roles:\n"
	    "  r: { runs: [a, b] }\n"
	    "versioned: [a]\n"
	    "steps:\n"
	    "  slot: [s1, s2]\n"
	    "vars:\n"
	    "  one: \"1\"\n"
	    "  two: \"{{ cluster.name }}-root\"\n"
	    "flags:\n"
	    "  comp-x: [--x1]\n"
	    "  comp-y: [--y1, \"--y2={{ host.name }}\"]\n");
	tmp_put(t, "child.yaml",
	    "profile: child\n"
	    "base: root\n"
	    "kubernetes: { from: \"1.30\", to: \"1.31\" }\n"
	    "vars:\n"
	    "  two: child\n"
	    "flags:\n"
	    "  comp-x: [\"--x2={{ host.address }}\"]\n");
	tmp_put(t, "gc.yaml",
	    "profile: gc\n"
	    "base: child\n"
	    "kubernetes: { from: \"1.32\", to: \"1.32\" }\n"
	    "versioned: [b]\n"
	    "vars: { three: \"{{ bundle.kubernetes_version }}\" }\n");
	tmp_put(t, "README", "not a profile: no .yaml\n");
	ps = load_good(t->dir);
	assert_int_equal(profile_set_count(ps), 2);
	child = pick(ps, "1.31.4");
	gc = pick(ps, "1.32.0");
	assert_string_equal(profile_name(child), "child");
	assert_string_equal(profile_name(gc), "gc");
	profile_range(child, buf, sizeof(buf));
	assert_string_equal(buf, "1.30-1.31");
	assert_null(profile_pick(ps, "1.29.1", why, sizeof(why)));
	assert_string_equal(why, "no profile covers Kubernetes 1.29.1; this "
	    "korch supports 1.30-1.31, 1.32");

	/* Sections left out come from the base, through two levels... */
	assert_list(profile_runs(gc, "r"), runs);
	assert_list(profile_steps(gc, "slot"), slot);
	assert_int_equal(profile_versioned(child, "a"), 1);
	/* ...but a section a profile gives replaces its base's. */
	assert_int_equal(profile_versioned(gc, "b"), 1);
	assert_int_equal(profile_versioned(gc, "a"), 0);

	/* vars merge, the profile's own winning; flags per component. */
	run = run_vars("1.32.0");
	assert_non_null(v = vars_new(NULL));
	assert_int_equal(profile_vars(gc, run, v, d), 0);
	assert_string_equal(vars_get(v, "one"), "1");
	assert_string_equal(vars_get(v, "two"), "child");
	assert_string_equal(vars_get(v, "three"), "1.32.0");
	assert_string_equal(vars_get(v, "flags.comp_x"),
	    "--x2={{ host.address }}");
	assert_string_equal(vars_get(v, "flags.comp_y"),
	    "--y1 \\\n  --y2={{ host.name }}");
	assert_string_equal(vars_get(v, "profile.name"), "gc");
	vars_free(v);
	assert_non_null(v = vars_new(NULL));
	assert_int_equal(profile_vars(child, run, v, d), 0);
	assert_null(vars_get(v, "three"));
	assert_string_equal(vars_get(v, "two"), "child");
	vars_free(v);
	assert_int_equal(diag_count(d), 0);
	vars_free(run);
	profile_set_free(ps);

	/* An undefined variable in a var: its file:line:column. */
	tmp_put(t, "gc.yaml",
	    "profile: gc\n"
	    "base: child\n"
	    "kubernetes: { from: \"1.32\", to: \"1.32\" }\n"
	    "vars:\n"
	    "  three: \"x-{{ nosuch.thing }}\"\n");
	ps = load_good(t->dir);
	run = run_vars("1.32.0");
	assert_non_null(v = vars_new(NULL));
	assert_int_equal(profile_vars(pick(ps, "1.32"), run, v, d),
	    KORCH_ERR_TEMPLATE);
	expect_diag(d, "profiles/gc.yaml", 5, 10, "vars.three",
	    "nosuch.thing");
	assert_int_equal(diag_count(d), 1);
	vars_free(v);
	vars_free(run);
	profile_set_free(ps);
	diag_free(d);
}

/* ---- load errors --------------------------------------------------------- */

static void
test_no_profiles(void **state)
{
	struct profile_set *ps = NULL;
	struct diag *d = diag_new();
	struct tmp *t = *state;
	char p[256], why[256];

	/* A playbook set without profiles/: an empty set. */
	snprintf(p, sizeof(p), "%s/profiles", t->dir);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(profile_set_load(t->dir, &ps, d), 0);
	assert_non_null(ps);
	assert_int_equal(diag_count(d), 0);
	assert_int_equal(profile_set_count(ps), 0);
	assert_null(profile_pick(ps, "1.8.15", why, sizeof(why)));
	assert_non_null(strstr(why, "no profile covers Kubernetes 1.8.15"));
	profile_set_free(ps);

	/* An empty profiles/ too. */
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(profile_set_load(t->dir, &ps, d), 0);
	assert_int_equal(profile_set_count(ps), 0);
	assert_null(profile_pick(ps, "1.20", why, sizeof(why)));
	profile_set_free(ps);
	/* Only a base: nothing to pick. */
	tmp_put(t, "base.yaml", "profile: base\nvars: { a: b }\n");
	ps = load_good(t->dir);
	assert_int_equal(profile_set_count(ps), 0);
	assert_null(profile_pick(ps, "1.20", why, sizeof(why)));
	profile_set_free(ps);
	assert_null(profile_pick(NULL, "1.20", why, sizeof(why)));
	assert_int_equal(profile_set_count(NULL), 0);
	diag_free(d);
}

static void
test_overlap(void **state)
{
	static const struct th_want_diag overlap[] = {
		{ 0, 0, "kubernetes", "profiles 'b' and 'a'" },
		{ 0, 0, "kubernetes", "cover the same minor versions" },
	};
	struct profile_set *ps;
	struct tmp *t = *state;

	tmp_put(t, "a.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.8\", to: \"1.10\" }\n");
	tmp_put(t, "b.yaml", "profile: b\n"
	    "kubernetes: { from: \"1.10\", to: \"1.11\" }\n");
	expect_refused_all(t, "profiles/b.yaml", overlap, TH_LEN(overlap), 1);

	/* One inside the other. */
	tmp_put(t, "b.yaml", "profile: b\n"
	    "kubernetes: { from: \"1.9\", to: \"1.9\" }\n");
	expect_refused(t, "profiles/b.yaml", 0, 0, "kubernetes",
	    "cover the same minor versions", 0);

	/* Next to each other is fine. */
	tmp_put(t, "b.yaml", "profile: b\n"
	    "kubernetes: { from: \"1.11\", to: \"1.12\" }\n");
	ps = load_good(t->dir);
	assert_int_equal(profile_set_count(ps), 2);
	assert_string_equal(profile_name(pick(ps, "1.10.1")), "a");
	assert_string_equal(profile_name(pick(ps, "1.11.1")), "b");
	profile_set_free(ps);

	/* The same name twice. */
	tmp_put(t, "b.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.11\", to: \"1.12\" }\n");
	expect_refused(t, "profiles/b.yaml", 0, 0, "profile",
	    "profile 'a' is also defined in", 0);
}

static void
test_bases(void **state)
{
	/* profiles/a.yaml, b.yaml and c.yaml as given (NULL: as they were)
	 * are refused at a.yaml's base, line 2, at col with msg, count
	 * diagnostics in all (0: not counted). */
	static const struct {
		const char	*a, *b, *c;
		unsigned	 col;
		const char	*msg;
		size_t		 count;
	} cases[] = {
		{ "profile: a\n"
		    "base: nope\n"
		    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n", NULL, NULL,
		    7, "no profile named 'nope'", 1 },
		/* a -> b -> a: one cycle, reported once: at the first
		 * profile in it. */
		{ "profile: a\n"
		    "base: b\n"
		    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n",
		    "profile: b\n"
		    "base:   a\n", NULL,
		    7, "inherits from itself", 1 },
		/* b -> a -> b: the same, whichever file comes first. */
		{ "profile: a\n"
		    "base:   b\n",
		    "profile: b\n"
		    "base: a\n"
		    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n", NULL,
		    9, "inherits from itself", 0 },
		/* a -> a */
		{ "profile: a\n"
		    "base: a\n",
		    "profile: b\n", NULL,
		    7, "inherits from itself", 1 },
		/* A cycle above a good profile: c -> a -> b -> a */
		{ "profile: a\nbase: b\n",
		    "profile: b\nbase: a\n",
		    "profile: c\nbase: a\n"
		    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n",
		    7, "inherits from itself", 0 },
	};
	struct tmp *t = *state;
	size_t i;

	for (i = 0; i < TH_LEN(cases); i++) {
		if (cases[i].a != NULL)
			tmp_put(t, "a.yaml", cases[i].a);
		if (cases[i].b != NULL)
			tmp_put(t, "b.yaml", cases[i].b);
		if (cases[i].c != NULL)
			tmp_put(t, "c.yaml", cases[i].c);
		expect_refused(t, "profiles/a.yaml", 2, cases[i].col, "base",
		    cases[i].msg, cases[i].count);
	}
}

static void
test_flags_one_word(void **state)
{
	static const struct th_want_diag one_word[] = {
		{ 5, 7, "flags.kubelet[0]", "a flag is one word" },
		{ 7, 7, "flags.kubelet[2]", "a flag is one word" },
		{ 8, 7, "flags.kubelet[3]", "a flag is one word" },
		{ 9, 7, "flags.kubelet[4]", "a flag is one word" },
	};
	struct profile_set *ps;
	struct vars *run, *v;
	struct diag *d;
	struct tmp *t = *state;

	tmp_put(t, "a.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n"
	    "flags:\n"
	    "  kubelet:\n"
	    "    - \"--a=b c\"\n"
	    "    - \"--node-ip={{ host.address }}\"\n"
	    "    - \"--x={{host.name}}\\tz\"\n"
	    "    - \"--y=\\\\\"\n"
	    "    - \"--z={{ a }} {{ b }}\"\n"
	    "    - --ok={{ x }}\n");
	/* The spaces inside {{ host.address }} are the template's. */
	expect_refused_all(t, "profiles/a.yaml", one_word, TH_LEN(one_word), 4);

	/* A malformed template in a flag, at load. */
	tmp_put(t, "a.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n"
	    "flags:\n"
	    "  kubelet: [\"--a={{ host.address\"]\n");
	d = load_bad(t);
	assert_int_equal(diag_get(d, 0)->line, 4);
	diag_free(d);

	tmp_put(t, "a.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n"
	    "flags:\n"
	    "  kubelet:\n"
	    "    - \"--node-ip={{ host.address }}\"\n"
	    "    - \"--name={{host.name}}\"\n");
	ps = load_good(t->dir);
	run = run_vars("1.8.1");
	assert_non_null(v = vars_new(NULL));
	assert_non_null(d = diag_new());
	assert_int_equal(profile_vars(pick(ps, "1.8.1"), run, v, d), 0);
	assert_string_equal(vars_get(v, "flags.kubelet"),
	    "--node-ip={{ host.address }} \\\n  --name={{host.name}}");
	vars_free(v);
	vars_free(run);
	diag_free(d);
	profile_set_free(ps);
}

static void
test_shape_errors(void **state)
{
	static const struct th_want_diag dotted[] = {
		{ 4, 3, "vars.bundle.kubernetes_version",
		    "invalid variable name 'bundle.kubernetes_version'" },
		{ 6, 3, "vars.bad-name", "invalid variable name 'bad-name'" },
	};
	/* 'from' above 'to'; a patch version; no minor at all; no name. */
	static const struct a_refused one[] = {
		{ "profile: a\n"
		    "kubernetes: { from: \"1.20\", to: \"1.8\" }\n",
		    2, 13, "kubernetes", "'from' is above 'to'", 1 },
		{ "profile: a\n"
		    "kubernetes: { from: \"1.8.1\", to: \"1.8\" }\n",
		    2, 21, "kubernetes.from", "expected a minor version", 0 },
		{ "profile: a\n"
		    "kubernetes: { from: \"1.8\", til: \"1.9\" }\n",
		    2, 28, "kubernetes.til", "unknown key 'til'", 0 },
		{ "base: x\n", 1, 1, "profile", "every profile has a name", 0 },
	};
	/* A role that is not a mapping; a component that is not a name;
	 * flags that are not a list. */
	static const struct th_want_diag shapes[] = {
		{ 3, 11, "roles.master", "expected { runs" },
		{ 4, 18, "roles.node.runs[0]", "expected a name" },
		{ 4, 40, "roles.node.extra", "unknown key 'extra'" },
		{ 6, 12, "flags.kubelet", "expected a list of flags" },
	};
	struct diag *d;
	struct tmp *t = *state;
	char msg[512];

	/* A dotted variable name is korch's own. */
	tmp_put(t, "a.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n"
	    "vars:\n"
	    "  bundle.kubernetes_version: \"1.99\"\n"
	    "  ok_name: fine\n"
	    "  bad-name: x\n");
	expect_refused_all(t, "profiles/a.yaml", dotted, TH_LEN(dotted), 2);

	/* An unknown top-level key, with where it is. */
	tmp_put(t, "a.yaml", "profile: a\n"
	    "kubernetes: { from: \"1.8\", to: \"1.8\" }\n"
	    "colour: red\n"
	    "  \n"
	    "flgas: {}\n");
	d = load_bad(t);
	expect_diag(d, "profiles/a.yaml", 3, 1, "colour", "unknown key "
	    "'colour'");
	expect_diag(d, "profiles/a.yaml", 5, 1, "flgas", "did you mean "
	    "'flags'");
	diag_format(diag_get(d, 0), msg, sizeof(msg));
	assert_non_null(strstr(msg, "profiles/a.yaml:3:1: "));
	diag_free(d);

	expect_a_refused(t, one, TH_LEN(one));
	tmp_put(t, "a.yaml", "profile: a\n"
	    "roles:\n"
	    "  master: [kube-apiserver]\n"
	    "  node: { runs: [Kubelet], needs: [x], extra: [y] }\n"
	    "flags:\n"
	    "  kubelet: --one\n");
	expect_refused_all(t, "profiles/a.yaml", shapes, TH_LEN(shapes), 0);

	/* Not YAML. */
	tmp_put(t, "a.yaml", "profile: [a\n");
	d = load_bad(t);
	diag_free(d);
}

TH_MAIN(
	cmocka_unit_test(test_shipped_pick),
	cmocka_unit_test(test_shipped_roles),
	cmocka_unit_test(test_shipped_versioned_steps),
	cmocka_unit_test(test_shipped_vars_1_20),
	cmocka_unit_test(test_shipped_vars_1_8),
	cmocka_unit_test(test_shipped_vars_1_7),
	cmocka_unit_test(test_shipped_var_undefined),
	cmocka_unit_test(test_host_flags),
	cmocka_unit_test(test_shipped_flags_per_host),
	cmocka_unit_test_setup_teardown(test_inheritance, tmp_setup,
	    tmp_teardown),
	cmocka_unit_test_setup_teardown(test_no_profiles, tmp_setup,
	    tmp_teardown),
	cmocka_unit_test_setup_teardown(test_overlap, tmp_setup,
	    tmp_teardown),
	cmocka_unit_test_setup_teardown(test_bases, tmp_setup,
	    tmp_teardown),
	cmocka_unit_test_setup_teardown(test_flags_one_word, tmp_setup,
	    tmp_teardown),
	cmocka_unit_test_setup_teardown(test_shape_errors, tmp_setup,
	    tmp_teardown),
)
