/*
 * test_render.c - one host's rendered tasks: per-host values, template
 * files, when, watch ids and watchers, digests (stable, order-free,
 * changing with their inputs), variables, and undefined names.
 * Fixtures: tests/unit/data/inv/cluster.yaml with pb/good, pb/order_*,
 * pb/undefined.
 */
#include "helpers_ctl.h"

#include "modspec.h"
#include "wire.h"

/* The playbook data/pb/<pbname> with the test inventory. */
static struct th_plan *
fx_load(const char *pbname)
{
	return th_plan_open(th_data("pb", pbname), 0);
}

static void
test_master_host(void **state)
{
	static const char *const keys[] = { "base/forward", "base/hosts",
		"etcd/conf", "etcd/2", "etcd/3", "master/echo", "node/big",
		"node/svc", "after-node/1", "late/greet" };
	struct th_plan *f = fx_load("good");
	const struct rendered_task *t;
	const struct rendered_step *rs = NULL;
	struct rendered_host *rh;
	const struct kp_task *w;
	size_t i, k = 0;

	(void)state;
	rh = th_render(f, M1);
	assert_string_equal(rh->name, "m1");
	assert_int_equal(rh->nsteps, 6);
	assert_int_equal(rh->ntasks, 10);
	/* Ids run 1..n in dag order; `node/small` is dropped by when. */
	for (i = 0; i < rh->nsteps; i++)
		for (size_t j = 0; j < rh->steps[i].ntasks; j++, k++) {
			t = &rh->steps[i].tasks[j];
			assert_string_equal(t->key, keys[k]);
			assert_int_equal(t->wire->id, k + 1);
			assert_ptr_equal(t->wire, &rh->steps[i].wire_tasks[j]);
			assert_int_equal(strlen(t->digest), 64);
		}
	assert_null(rendered_host_find(rh, "node/small"));

	t = th_task(rh, "base/hosts");
	assert_string_equal(render_task_arg(t, "content"),
	    "127.0.0.1 localhost\n"
	    "198.18.1.11 m1\n198.18.1.12 n1\n198.18.1.13 n2\n2001:db8::14 e1\n");
	assert_string_equal(render_task_arg(t, "path"), "/etc/hosts.korch");
	t = th_task(rh, "etcd/conf");
	assert_string_equal(render_task_arg(t, "content"),
	    "ETCD_NAME=m1\n"
	    "ETCD_INITIAL_CLUSTER=m1=https://198.18.1.11:2380,"
	    "e1=https://[2001:db8::14]:2380\n"
	    "ETCD_LISTEN_CLIENT_URLS=https://198.18.1.11:2379\n");
	assert_string_equal(render_task_arg(t, "mode"), "0640");
	/* Rendered template content comes after the playbook's arguments,
	 * and only the controller's notify after it. */
	assert_string_equal(t->wire->args[t->wire->nargs - 2].key, "content");
	assert_string_equal(t->wire->args[t->wire->nargs - 1].key,
	    KMS_ARG_NOTIFY);

	/* A REPEAT argument is the same key repeated, in order. */
	t = th_task(rh, "master/echo");
	w = t->wire;
	assert_string_equal(w->module, "command");
	assert_string_equal(w->args[0].key, "argv");
	assert_string_equal(w->args[0].val, "/bin/echo");
	assert_string_equal(w->args[1].key, "argv");
	assert_string_equal(w->args[1].val,
	    "https://198.18.1.11:2379,https://[2001:db8::14]:2379");
	assert_int_equal(w->args[1].val_len, strlen(w->args[1].val));
	assert_string_equal(w->args[2].val, "m1");
	assert_string_equal(render_task_arg(t, "env"), "A=1");

	/* watch names become ids; each watched task knows its watchers. */
	t = th_task(rh, "etcd/2");
	assert_int_equal(t->wire->nwatch, 1);
	assert_int_equal(t->wire->watch[0], 3);
	assert_non_null(render_task_arg(t, "unit"));
	t = th_task(rh, "node/svc");
	assert_int_equal(t->wire->nwatch, 2);	/* big, base/hosts */
	assert_int_equal(t->wire->watch[0], 7);
	assert_int_equal(t->wire->watch[1], 2);
	assert_string_equal(render_task_arg(t, "unit"),
	    "[Service]\nExecStart=/bin/kubelet --hostname=m1\n");
	t = th_task(rh, "etcd/conf");
	assert_int_equal(t->nwatchers, 1);
	assert_string_equal(t->watchers[0], "etcd/2");
	t = th_task(rh, "base/hosts");
	assert_int_equal(t->nwatchers, 1);
	assert_string_equal(t->watchers[0], "node/svc");
	assert_int_equal(th_task(rh, "base/forward")->nwatchers, 0);
	/* ... and names their services to the agent, which marks them on
	 * the host before it runs the task (agent/restart_mark.h). */
	assert_string_equal(render_task_arg(th_task(rh, "etcd/conf"),
	    KMS_ARG_NOTIFY), "etcd");
	assert_string_equal(render_task_arg(th_task(rh, "base/hosts"),
	    KMS_ARG_NOTIFY), "kubelet");
	assert_string_equal(render_task_arg(th_task(rh, "node/big"),
	    KMS_ARG_NOTIFY), "kubelet");
	assert_null(render_task_arg(th_task(rh, "base/forward"),
	    KMS_ARG_NOTIFY));

	/* Host vars override cluster vars. */
	t = th_task(rh, "late/greet");
	assert_string_equal(render_task_arg(t, "content"),
	    "hello-m1 from m1 in test");
	assert_true(th_task(rh, "etcd/3")->verify);

	t = render_find_task(rh, 8, &rs);
	assert_non_null(t);
	assert_string_equal(t->key, "node/svc");
	assert_string_equal(rs->name, "node");
	assert_null(render_find_task(rh, 11, NULL));
	assert_null(render_find_task(rh, 0, NULL));
	rendered_host_free(rh);
	rendered_host_free(NULL);
	th_plan_free(f);
}

static void
test_node_host_and_when(void **state)
{
	struct th_plan *f = fx_load("good");
	const struct rendered_task *t;
	struct rendered_host *rh;

	(void)state;
	rh = th_render(f, N1);
	assert_int_equal(rh->nsteps, 4);
	assert_null(rendered_host_find(rh, "etcd/conf"));
	/* flavor defaults to small on n1: the other branch. */
	assert_null(rendered_host_find(rh, "node/big"));
	t = th_task(rh, "node/small");
	assert_int_equal(t->wire->id, 3);
	t = th_task(rh, "node/svc");
	assert_int_equal(t->wire->nwatch, 2);
	assert_int_equal(t->wire->watch[0], 3);
	assert_int_equal(t->wire->watch[1], 2);
	assert_string_equal(render_task_arg(th_task(rh, "late/greet"),
	    "content"), "hi from n1 in test");
	rendered_host_free(rh);

	/* n2 overrides flavor: big. */
	rh = th_render(f, N2);
	assert_non_null(rendered_host_find(rh, "node/big"));
	assert_null(rendered_host_find(rh, "node/small"));
	assert_string_equal(render_task_arg(th_task(rh, "node/big"), "content"),
	    "big n2");
	rendered_host_free(rh);
	th_plan_free(f);
}

static void
test_digests(void **state)
{
	struct th_plan *f = fx_load("good");
	struct rendered_host *a, *b, *c;
	char before[65];

	(void)state;
	a = th_render(f, M1);
	b = th_render(f, M1);
	c = th_render(f, N1);
	/* Stable across renders. */
	for (size_t i = 0; i < a->nsteps; i++)
		for (size_t j = 0; j < a->steps[i].ntasks; j++)
			assert_string_equal(a->steps[i].tasks[j].digest,
			    b->steps[i].tasks[j].digest);
	/* Same desired state on two hosts, same digest; not otherwise. */
	th_same_digest(a, c, "base/forward");
	th_same_digest(a, c, "base/hosts");
	th_other_digest(a, c, "node/svc");
	th_other_digest(a, c, "late/greet");
	assert_string_not_equal(th_task(a, "base/forward")->digest,
	    th_task(a, "base/hosts")->digest);
	strcpy(before, th_task(a, "late/greet")->digest);
	rendered_host_free(b);

	/* Change one input: only the task that uses it changes. */
	assert_int_equal(vars_set(f->inv->hosts[M1].vars, "greeting", "yo"),
	    0);
	b = th_render(f, M1);
	assert_string_not_equal(th_task(b, "late/greet")->digest, before);
	th_same_digest(b, a, "etcd/conf");
	rendered_host_free(a);
	rendered_host_free(b);
	rendered_host_free(c);
	th_plan_free(f);
}

/* Argument order in the file doesn't matter; the order of a list does. */
static void
test_digest_canonical(void **state)
{
	struct th_plan *fa = fx_load("order_a"), *fb = fx_load("order_b");
	struct rendered_host *a = th_render(fa, N1), *b = th_render(fb, N1);

	(void)state;
	th_same_digest(a, b, "s/f");
	th_other_digest(a, b, "s/cmd");
	rendered_host_free(a);
	rendered_host_free(b);
	th_plan_free(fa);
	th_plan_free(fb);
}

static void
test_host_vars(void **state)
{
	static const struct th_want_var e1[] = {
		{ "host.name", "e1" },
		{ "host.address", "2001:db8::14" },
		{ "host.roles", "etcd" },
		{ "etcd_hosts", "m1,e1" },
		{ "master_hosts", "m1" },
		{ "node_hosts", "n1,n2" },
		{ "etcd_endpoints",
		    "https://198.18.1.11:2379,https://[2001:db8::14]:2379" },
		{ "etcd_initial_cluster", "m1=https://198.18.1.11:2380,"
		    "e1=https://[2001:db8::14]:2380" },
		{ "first_master_address", "198.18.1.11" },
		{ "host.is_etcd", "yes" },
		{ "host.is_master", "no" },
		{ "host.is_node", "no" },
		{ "apiserver_lb_servers", "    server m1 198.18.1.11:6443" },
		{ "cluster.apiserver_lb", "none" },
		{ "facts.os_id", "debian" },
		{ "cluster.name", "test" },
		{ "cluster.kubernetes_version", "1.8.15" },
		{ "greeting", "hi" },
		{ "os_id", NULL },
	};
	struct th_plan *f = fx_load("good");
	struct vars *facts, *v = NULL;

	(void)state;
	assert_non_null(facts = vars_new(NULL));
	assert_int_equal(vars_set(facts, "os_id", "debian"), 0);
	assert_int_equal(render_host_vars(f->inv, E1, facts, NULL, &v, NULL), 0);
	th_expect_vars(v, e1, TH_LEN(e1));
	assert_null(vars_parent(v));
	vars_free(v);

	/* A derived name is the cluster's: even a map that has one (the
	 * loader refuses it: test_hostile) does not override it. */
	assert_int_equal(vars_set(f->inv->hosts[N1].vars,
	    "first_master_address", "198.18.1.100"), 0);
	assert_int_equal(render_host_vars(f->inv, N1, NULL, NULL, &v, NULL), 0);
	assert_string_equal(vars_get(v, "first_master_address"),
	    "198.18.1.11");
	vars_free(v);
	assert_int_equal(render_host_vars(f->inv, 99, NULL, NULL, &v, NULL),
	    KORCH_ERR_INVALID_ARG);
	vars_free(facts);
	th_plan_free(f);
}

/* lb.* for one host of data/inv/<inv>: render_host_vars with an extra
 * map that has bundle.packages when bundle is set. */
static struct vars *
lb_vars(const char *inv_name, size_t host, int bundle)
{
	struct inventory *inv = NULL;
	struct vars *extra, *v = NULL;
	struct diag *d;

	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(th_data("inv", inv_name), &inv, d), 0);
	assert_non_null(extra = vars_new(NULL));
	if (bundle)
		assert_int_equal(vars_set(extra, "bundle.packages", "haproxy"),
		    0);
	assert_int_equal(render_host_vars(inv, host, NULL, extra, &v, d), 0);
	vars_free(extra);
	inventory_free(inv);
	diag_free(d);
	return v;
}

/* Who runs what for apiserver_lb: local puts haproxy on the hosts that
 * are not masters; vip puts haproxy and keepalived on the masters, each
 * with its own priority and the other masters as its VRRP peers. */
static void
test_lb_vars(void **state)
{
	static const struct th_want_var local_master[] = {
		{ "lb.haproxy", "no" }, { "lb.keepalived", "no" },
		{ "lb.source", "distro" },
	};
	static const struct th_want_var local_node[] = {
		{ "lb.haproxy", "yes" }, { "lb.keepalived", "no" },
		{ "lb.bind", "127.0.0.1:6443" },
		{ "lb.url", "https://127.0.0.1:6443" },
		{ "lb.source", "bundle" },
	};
	static const struct th_want_var vip_first[] = {
		{ "lb.haproxy", "yes" }, { "lb.keepalived", "yes" },
		{ "lb.bind", ":9443" }, { "lb.url", "https://127.0.0.1:9443" },
		{ "lb.vip_priority", "200" },
		{ "lb.vip_peers", "        198.18.1.12\n        198.18.1.13" },
		{ "cluster.apiserver_vip", "198.18.1.250" },
	};
	static const struct th_want_var vip_third[] = {
		{ "lb.keepalived", "yes" }, { "lb.vip_priority", "198" },
		{ "lb.vip_peers", "        198.18.1.11\n        198.18.1.12" },
	};
	static const struct th_want_var vip_node[] = {
		{ "lb.haproxy", "no" }, { "lb.keepalived", "no" },
		{ "lb.bind", "" },
	};
	struct vars *v;

	(void)state;
	th_expect_vars(v = lb_vars("lb_default.yaml", 0, 0), local_master,
	    TH_LEN(local_master));
	vars_free(v);
	th_expect_vars(v = lb_vars("lb_default.yaml", 2, 1), local_node,
	    TH_LEN(local_node));
	vars_free(v);
	th_expect_vars(v = lb_vars("lb_vip.yaml", 0, 1), vip_first,
	    TH_LEN(vip_first));
	vars_free(v);
	th_expect_vars(v = lb_vars("lb_vip.yaml", 2, 1), vip_third,
	    TH_LEN(vip_third));
	vars_free(v);
	th_expect_vars(v = lb_vars("lb_vip.yaml", 3, 1), vip_node,
	    TH_LEN(vip_node));
	vars_free(v);
}

/* A member joins the etcd cluster through those that ran before
 * (prior.etcd); a new cluster starts whole. */
static void
test_etcd_membership(void **state)
{
	static const struct th_want_var fresh[] = {
		{ "etcd.member_new", "yes" },
		{ "etcd.cluster_state", "new" },
		{ "etcd.join_cluster", "m1=https://198.18.1.11:2380,"
		    "e1=https://[2001:db8::14]:2380" },
		{ "etcd.join_endpoints",
		    "https://198.18.1.11:2379,https://[2001:db8::14]:2379" },
		{ "etcd.peer_url", "https://[2001:db8::14]:2380" },
	};
	static const struct th_want_var joins[] = {
		{ "etcd.member_new", "yes" },
		{ "etcd.cluster_state", "existing" },
		{ "etcd.join_cluster", "m1=https://198.18.1.11:2380,"
		    "e1=https://[2001:db8::14]:2380" },
		{ "etcd.join_endpoints", "https://198.18.1.11:2379" },
	};
	static const struct th_want_var member[] = {
		{ "etcd.member_new", "no" },
		{ "etcd.cluster_state", "existing" },
		{ "etcd.join_endpoints", "https://198.18.1.11:2379" },
	};
	struct th_plan *f = fx_load("good");
	struct vars *extra, *v = NULL;

	(void)state;
	assert_non_null(extra = vars_new(NULL));
	assert_int_equal(render_host_vars(f->inv, E1, NULL, extra, &v, NULL), 0);
	th_expect_vars(v, fresh, TH_LEN(fresh));
	vars_free(v);
	/* Members no longer in the inventory don't make a cluster. */
	assert_int_equal(vars_set(extra, "prior.etcd", "gone,n1"), 0);
	assert_int_equal(render_host_vars(f->inv, E1, NULL, extra, &v, NULL), 0);
	th_expect_vars(v, fresh, TH_LEN(fresh));
	vars_free(v);
	assert_int_equal(vars_set(extra, "prior.etcd", "m1"), 0);
	assert_int_equal(render_host_vars(f->inv, E1, NULL, extra, &v, NULL), 0);
	th_expect_vars(v, joins, TH_LEN(joins));
	vars_free(v);
	assert_int_equal(render_host_vars(f->inv, M1, NULL, extra, &v, NULL), 0);
	th_expect_vars(v, member, TH_LEN(member));
	vars_free(v);
	/* Not an etcd host: never a new member. */
	assert_int_equal(render_host_vars(f->inv, N1, NULL, extra, &v, NULL), 0);
	assert_string_equal(vars_get(v, "etcd.member_new"), "no");
	vars_free(v);
	vars_free(extra);
	th_plan_free(f);
}

static void
test_undefined(void **state)
{
	struct th_plan *f = fx_load("undefined");
	struct rendered_host *rh = (struct rendered_host *)1;
	const struct diag_entry *e;

	(void)state;
	assert_int_equal(render_host_tasks(f->pb, f->g, f->inv, N1, NULL, NULL, &rh,
	    f->d), KORCH_ERR_TEMPLATE);
	assert_null(rh);
	/* Every problem, each at its place, naming the host. */
	assert_int_equal(diag_count(f->d), 4);
	e = diag_get(f->d, 0);
	assert_int_equal(e->line, 4);
	assert_string_equal(e->path, "steps[0].tasks[0].when");
	assert_string_equal(e->msg, "undefined variable 'nosuchvar' (host n1)");
	e = diag_get(f->d, 1);
	assert_int_equal(e->line, 8);
	assert_int_equal(e->col, 21);
	assert_string_equal(e->path, "steps[0].tasks[1].file.path");
	assert_string_equal(e->msg, "undefined variable 'host.nope' (host n1)");
	e = diag_get(f->d, 2);
	assert_non_null(strstr(e->file, "undefined/templates/t.tmpl"));
	assert_int_equal(e->line, 2);
	assert_int_equal(e->col, 5);
	assert_string_equal(e->msg, "undefined variable 'missing_one' (host "
	    "n1, task s/f)");
	e = diag_get(f->d, 3);
	assert_int_equal(e->line, 9);
	assert_int_equal(e->col, 36);
	assert_string_equal(e->path, "steps[0].tasks[2].command.argv[1]");
	assert_int_equal(render_host_tasks(f->pb, f->g, f->inv, 9, NULL, NULL, &rh,
	    f->d), KORCH_ERR_INVALID_ARG);
	th_plan_free(f);
}

TH_MAIN(
	cmocka_unit_test(test_master_host),
	cmocka_unit_test(test_node_host_and_when),
	cmocka_unit_test(test_digests),
	cmocka_unit_test(test_digest_canonical),
	cmocka_unit_test(test_host_vars),
	cmocka_unit_test(test_lb_vars),
	cmocka_unit_test(test_etcd_membership),
	cmocka_unit_test(test_undefined),
)
