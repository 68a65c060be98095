/*
 * test_render.c - one host's rendered tasks: per-host values, template
 * files, when, watch ids and watchers, digests (stable, order-free,
 * changing with their inputs), variables, and undefined names.
 * Fixtures: tests/unit/data/inv/cluster.yaml with pb/good, pb/order_*,
 * pb/undefined.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "wire.h"
#include "base/diag.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "engine/dag.h"
#include "engine/render.h"

static char datadir[PATH_MAX];

/* Fixtures live beside this file; KORCH_TEST_DATA overrides. */
static void
init_datadir(void)
{
	const char *e = getenv("KORCH_TEST_DATA"), *slash;

	if (e != NULL) {
		snprintf(datadir, sizeof(datadir), "%s", e);
		return;
	}
	slash = strrchr(__FILE__, '/');
	snprintf(datadir, sizeof(datadir), "%.*s/data",
	    slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
}

struct fx {
	struct diag		*d;
	struct inventory	*inv;
	struct playbook		*pb;
	struct dag		*g;
};

static struct fx *
fx_load(const char *pbname)
{
	char path[PATH_MAX + 64];
	struct fx *f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	assert_non_null(f->d = diag_new());
	snprintf(path, sizeof(path), "%s/inv/cluster.yaml", datadir);
	assert_int_equal(inventory_load(path, &f->inv, f->d), 0);
	snprintf(path, sizeof(path), "%s/pb/%s", datadir, pbname);
	assert_int_equal(playbook_load(path, &f->pb, f->d), 0);
	assert_int_equal(dag_build(f->pb, f->inv, &f->g, f->d), 0);
	return f;
}

static void
fx_free(struct fx *f)
{
	dag_free(f->g);
	playbook_free(f->pb);
	inventory_free(f->inv);
	diag_free(f->d);
	free(f);
}

static struct rendered_host *
render(struct fx *f, size_t host)
{
	struct rendered_host *rh = NULL;

	assert_int_equal(render_host_tasks(f->pb, f->g, f->inv, host, NULL, NULL,
	    &rh, f->d), 0);
	assert_int_equal(diag_count(f->d), 0);
	return rh;
}

static const struct rendered_task *
task(const struct rendered_host *rh, const char *key)
{
	const struct rendered_task *t = rendered_host_find(rh, key);

	if (t == NULL)
		fail_msg("no task %s on %s", key, rh->name);
	return t;
}

enum { M1, N1, N2, E1 };

static void
test_master_host(void **state)
{
	static const char *const keys[] = { "base/forward", "base/hosts",
		"etcd/conf", "etcd/2", "etcd/3", "master/echo", "node/big",
		"node/svc", "after-node/1", "late/greet" };
	struct fx *f = fx_load("good");
	const struct rendered_task *t;
	const struct rendered_step *rs = NULL;
	struct rendered_host *rh;
	const struct kp_task *w;
	size_t i, k = 0;

	(void)state;
	rh = render(f, M1);
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

	t = task(rh, "base/hosts");
	assert_string_equal(render_task_arg(t, "content"),
	    "127.0.0.1 localhost\n"
	    "198.18.1.11 m1\n198.18.1.12 n1\n198.18.1.13 n2\n2001:db8::14 e1\n");
	assert_string_equal(render_task_arg(t, "path"), "/etc/hosts.korch");
	t = task(rh, "etcd/conf");
	assert_string_equal(render_task_arg(t, "content"),
	    "ETCD_NAME=m1\n"
	    "ETCD_INITIAL_CLUSTER=m1=https://198.18.1.11:2380,"
	    "e1=https://[2001:db8::14]:2380\n"
	    "ETCD_LISTEN_CLIENT_URLS=https://198.18.1.11:2379\n");
	assert_string_equal(render_task_arg(t, "mode"), "0640");
	/* Rendered template content comes last. */
	assert_string_equal(t->wire->args[t->wire->nargs - 1].key, "content");

	/* A REPEAT argument is the same key repeated, in order. */
	t = task(rh, "master/echo");
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
	t = task(rh, "etcd/2");
	assert_int_equal(t->wire->nwatch, 1);
	assert_int_equal(t->wire->watch[0], 3);
	assert_non_null(render_task_arg(t, "unit"));
	t = task(rh, "node/svc");
	assert_int_equal(t->wire->nwatch, 2);	/* big, base/hosts */
	assert_int_equal(t->wire->watch[0], 7);
	assert_int_equal(t->wire->watch[1], 2);
	assert_string_equal(render_task_arg(t, "unit"),
	    "[Service]\nExecStart=/bin/kubelet --hostname=m1\n");
	t = task(rh, "etcd/conf");
	assert_int_equal(t->nwatchers, 1);
	assert_string_equal(t->watchers[0], "etcd/2");
	t = task(rh, "base/hosts");
	assert_int_equal(t->nwatchers, 1);
	assert_string_equal(t->watchers[0], "node/svc");
	assert_int_equal(task(rh, "base/forward")->nwatchers, 0);

	/* Host vars override cluster vars. */
	t = task(rh, "late/greet");
	assert_string_equal(render_task_arg(t, "content"),
	    "hello-m1 from m1 in test");
	assert_true(task(rh, "etcd/3")->verify);

	t = render_find_task(rh, 8, &rs);
	assert_non_null(t);
	assert_string_equal(t->key, "node/svc");
	assert_string_equal(rs->name, "node");
	assert_null(render_find_task(rh, 11, NULL));
	assert_null(render_find_task(rh, 0, NULL));
	rendered_host_free(rh);
	rendered_host_free(NULL);
	fx_free(f);
}

static void
test_node_host_and_when(void **state)
{
	struct fx *f = fx_load("good");
	const struct rendered_task *t;
	struct rendered_host *rh;

	(void)state;
	rh = render(f, N1);
	assert_int_equal(rh->nsteps, 4);
	assert_null(rendered_host_find(rh, "etcd/conf"));
	/* flavor defaults to small on n1: the other branch. */
	assert_null(rendered_host_find(rh, "node/big"));
	t = task(rh, "node/small");
	assert_int_equal(t->wire->id, 3);
	t = task(rh, "node/svc");
	assert_int_equal(t->wire->nwatch, 2);
	assert_int_equal(t->wire->watch[0], 3);
	assert_int_equal(t->wire->watch[1], 2);
	assert_string_equal(render_task_arg(task(rh, "late/greet"),
	    "content"), "hi from n1 in test");
	rendered_host_free(rh);

	/* n2 overrides flavor: big. */
	rh = render(f, N2);
	assert_non_null(rendered_host_find(rh, "node/big"));
	assert_null(rendered_host_find(rh, "node/small"));
	assert_string_equal(render_task_arg(task(rh, "node/big"), "content"),
	    "big n2");
	rendered_host_free(rh);
	fx_free(f);
}

static void
test_digests(void **state)
{
	struct fx *f = fx_load("good");
	struct rendered_host *a, *b, *c;
	char before[65];

	(void)state;
	a = render(f, M1);
	b = render(f, M1);
	c = render(f, N1);
	/* Stable across renders. */
	for (size_t i = 0; i < a->nsteps; i++)
		for (size_t j = 0; j < a->steps[i].ntasks; j++)
			assert_string_equal(a->steps[i].tasks[j].digest,
			    b->steps[i].tasks[j].digest);
	/* Same desired state on two hosts, same digest; not otherwise. */
	assert_string_equal(task(a, "base/forward")->digest,
	    task(c, "base/forward")->digest);
	assert_string_equal(task(a, "base/hosts")->digest,
	    task(c, "base/hosts")->digest);
	assert_string_not_equal(task(a, "node/svc")->digest,
	    task(c, "node/svc")->digest);
	assert_string_not_equal(task(a, "late/greet")->digest,
	    task(c, "late/greet")->digest);
	assert_string_not_equal(task(a, "base/forward")->digest,
	    task(a, "base/hosts")->digest);
	strcpy(before, task(a, "late/greet")->digest);
	rendered_host_free(b);

	/* Change one input: only the task that uses it changes. */
	assert_int_equal(vars_set(f->inv->hosts[M1].vars, "greeting", "yo"),
	    0);
	b = render(f, M1);
	assert_string_not_equal(task(b, "late/greet")->digest, before);
	assert_string_equal(task(b, "etcd/conf")->digest,
	    task(a, "etcd/conf")->digest);
	rendered_host_free(a);
	rendered_host_free(b);
	rendered_host_free(c);
	fx_free(f);
}

/* Argument order in the file doesn't matter; the order of a list does. */
static void
test_digest_canonical(void **state)
{
	struct fx *fa = fx_load("order_a"), *fb = fx_load("order_b");
	struct rendered_host *a = render(fa, N1), *b = render(fb, N1);

	(void)state;
	assert_string_equal(task(a, "s/f")->digest, task(b, "s/f")->digest);
	assert_string_not_equal(task(a, "s/cmd")->digest,
	    task(b, "s/cmd")->digest);
	rendered_host_free(a);
	rendered_host_free(b);
	fx_free(fa);
	fx_free(fb);
}

static void
test_host_vars(void **state)
{
	struct fx *f = fx_load("good");
	struct vars *facts, *v = NULL;

	(void)state;
	assert_non_null(facts = vars_new(NULL));
	assert_int_equal(vars_set(facts, "os_id", "debian"), 0);
	assert_int_equal(render_host_vars(f->inv, E1, facts, NULL, &v, NULL), 0);
	assert_string_equal(vars_get(v, "host.name"), "e1");
	assert_string_equal(vars_get(v, "host.address"), "2001:db8::14");
	assert_string_equal(vars_get(v, "host.roles"), "etcd");
	assert_string_equal(vars_get(v, "etcd_hosts"), "m1,e1");
	assert_string_equal(vars_get(v, "master_hosts"), "m1");
	assert_string_equal(vars_get(v, "node_hosts"), "n1,n2");
	assert_string_equal(vars_get(v, "etcd_endpoints"),
	    "https://198.18.1.11:2379,https://[2001:db8::14]:2379");
	assert_string_equal(vars_get(v, "first_master_address"),
	    "198.18.1.11");
	assert_string_equal(vars_get(v, "facts.os_id"), "debian");
	assert_string_equal(vars_get(v, "cluster.name"), "test");
	assert_string_equal(vars_get(v, "cluster.kubernetes_version"),
	    "1.8.15");
	assert_string_equal(vars_get(v, "greeting"), "hi");
	assert_null(vars_get(v, "os_id"));
	assert_null(vars_parent(v));
	vars_free(v);

	/* A user variable overrides a derived one (e.g. a VIP). */
	assert_int_equal(vars_set(f->inv->hosts[N1].vars,
	    "first_master_address", "198.18.1.100"), 0);
	assert_int_equal(render_host_vars(f->inv, N1, NULL, NULL, &v, NULL), 0);
	assert_string_equal(vars_get(v, "first_master_address"),
	    "198.18.1.100");
	vars_free(v);
	assert_int_equal(render_host_vars(f->inv, 99, NULL, NULL, &v, NULL),
	    KORCH_ERR_INVALID_ARG);
	vars_free(facts);
	fx_free(f);
}

static void
test_undefined(void **state)
{
	struct fx *f = fx_load("undefined");
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
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_host),
		cmocka_unit_test(test_node_host_and_when),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_digest_canonical),
		cmocka_unit_test(test_host_vars),
		cmocka_unit_test(test_undefined),
	};

	init_datadir();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
