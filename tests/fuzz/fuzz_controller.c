/*
 * fuzz_controller.c - libFuzzer target for the controller's side of a
 * session, the host -> controller attack surface: whatever an agent (or
 * anything that took over a host) writes after its greeting.
 *
 * The real scheduler runs (controller/engine/sched*.c: frame splitting in
 * conn_data, on_frame for every message type, task results and step ends,
 * restarts owed, components observed, BLOB streaming from a served file,
 * fetch chunks written to a dest in the temp dir, the state database
 * write-behind into a real SQLite file), for a real inventory, playbook
 * and DAG loaded once.  Only the SSH transport (controller/ssh/ except
 * known_hosts.c) is replaced, by the stand-in below, linked instead of it:
 * ssh_conn_start() greets at once, then hands the input to the data
 * callback in chunks (one per loop turn; the first input byte sets their
 * size), then reports the connection gone.  What the controller sends is
 * dropped.  Not reached: libssh2 and the transport's own state machine
 * (fuzz_greeting covers its greeting scanner).
 *
 * Seeds (gen_seeds) answer this file's playbook: steps 1-5, tasks 1-7.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "err.h"
#include "base/diag.h"
#include "engine/dag.h"
#include "engine/report.h"
#include "engine/sched.h"
#include "engine/vars.h"
#include "spec/bundle.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "ssh/agent_image.h"
#include "ssh/ssh.h"
#include "state.h"
#include "state_lock.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

/* sha256("abc"): the content blobs.txt holds. */
#define BLOB_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* ---- the SSH transport's stand-in ---------------------------------------- */

struct ssh_conn {
	struct event		*ev;
	struct ssh_conn_cbs	 cbs;
	void			*arg;
	int			 phase;		/* 0 greet, 1 data, 2 gone */
	int			 finished;	/* BYE: the agent exits */
	int			 in_cb;		/* inside a callback */
	int			 freed;		/* freed by the caller there */
};

static const uint8_t *in_p;	/* the input not delivered yet */
static size_t in_n, in_chunk;

static void
conn_release(struct ssh_conn *c)
{
	event_free(c->ev);
	free(c);
}

static void
conn_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_conn *c = arg;
	const struct timeval now = { 0, 0 };
	size_t n;

	c->in_cb = 1;
	if (c->phase == 0) {
		c->phase = 1;
		c->cbs.ready(c, c->arg);
	} else if (c->phase == 1 && in_n > 0 && !c->finished) {
		n = in_n < in_chunk ? in_n : in_chunk;
		in_p += n;
		in_n -= n;
		c->cbs.data(c, in_p - n, n, c->arg);
	} else {
		c->phase = 2;
		c->cbs.gone(c, c->finished ? 0 : KORCH_ERR_EOF,
		    c->finished ? NULL : "connection closed", c->arg);
	}
	c->in_cb = 0;
	if (c->freed)
		conn_release(c);
	else if (c->phase != 2)
		(void)event_add(c->ev, &now);
}

int
ssh_conn_start(struct event_base *base, const struct ssh_target *t,
    const struct agent_image *img, const struct ssh_conn_cbs *cbs, void *arg,
    struct ssh_conn **out)
{
	const struct timeval now = { 0, 0 };
	struct ssh_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KORCH_ERR_ALLOC;
	if ((c->ev = evtimer_new(base, conn_tick, c)) == NULL) {
		free(c);
		return KORCH_ERR_ALLOC;
	}
	c->cbs = *cbs;
	c->arg = arg;
	(void)event_add(c->ev, &now);
	*out = c;
	return 0;
}

int
ssh_conn_send(struct ssh_conn *c, const void *p, size_t n)
{
	return c->phase == 2 ? KORCH_ERR_EOF : 0;
}

size_t ssh_conn_queued(const struct ssh_conn *c) { return 0; }
void ssh_conn_pause(struct ssh_conn *c, int paused) { }
void ssh_conn_finish(struct ssh_conn *c) { c->finished = 1; }
const char *ssh_conn_hostkey_fp(const struct ssh_conn *c) { return "SHA256:x"; }
const char *ssh_conn_hostkey_type(const struct ssh_conn *c) { return "ssh-ed25519"; }
int ssh_conn_uploaded(const struct ssh_conn *c) { return 0; }
const char *ssh_conn_state(const struct ssh_conn *c) { return "running"; }
int ssh_global_init(void) { return 0; }
void ssh_global_cleanup(void) { }

void
ssh_conn_free(struct ssh_conn *c)
{
	if (c == NULL)
		return;
	if (c->in_cb)
		c->freed = 1;
	else
		conn_release(c);
}

int
ssh_bastion_new(struct event_base *base, const struct ssh_target *bt,
    int max_handshakes, struct ssh_bastion **out)
{
	return KORCH_ERR_INVALID_ARG;	/* the inventory has no bastion */
}

void ssh_bastion_free(struct ssh_bastion *b) { }

/* ---- the run ------------------------------------------------------------- */

static const char inventory[] =
    "cluster:\n"
    "  name: fuzz\n"
    "  kubernetes_version: \"1.20.2\"\n"
    "ssh:\n"
    "  user: root\n"
    "  private_key: ./id_test\n"
    "  known_hosts: ./known_hosts\n"
    "hosts:\n"
    "  - { name: node1, address: 198.18.1.10, roles: [master, etcd] }\n";

static const char playbook[] =
    "- name: base\n"
    "  hosts: [all]\n"
    "  tasks:\n"
    "    - name: conf\n"
    "      file: { path: /etc/fz/app.conf, content: \"x={{ host.name }}\\n\" }\n"
    "    - name: env\n"
    "      envfile: { path: /etc/fz/env, key: A, value: b }\n"
    "- name: blob\n"
    "  hosts: [all]\n"
    "  needs: [base]\n"
    "  tasks:\n"
    "    - name: bin\n"
    "      file: { path: /usr/bin/fz, src_sha256: " BLOB_SHA ", src_size: \"3\" }\n"
    "- name: svc\n"
    "  hosts: [all]\n"
    "  needs: [base]\n"
    "  tasks:\n"
    "    - name: unit\n"
    "      service: { name: fz, unit: \"[Service]\\nExecStart=/bin/true\\n\","
    " watch: [base/conf, base/env] }\n"
    "- name: get\n"
    "  hosts: [all]\n"
    "  tasks:\n"
    "    - name: hosts\n"
    "      fetch: { path: /etc/hosts, dest: \"{{ dest }}\", max_size: \"65536\" }\n"
    "    - name: more\n"
    "      fetch: { path: /etc/passwd, dest: \"{{ dest }}.2\" }\n"
    "- name: obs\n"
    "  hosts: [all]\n"
    "  needs: [svc]\n"
    "  tasks:\n"
    "    - name: etcd\n"
    "      observe: { component: etcd, argv: [etcd, --version], unit: etcd }\n";

static struct inventory *inv;
static struct playbook *pb;
static struct dag *dag;
static struct kstate *st;
static FILE *sink;
static struct bundle_component blob;
static char dest[512];
static unsigned long runs;

static int
host_vars(void *arg, size_t host, struct vars **out)
{
	if ((*out = vars_new(NULL)) == NULL)
		return KORCH_ERR_ALLOC;
	return vars_set(*out, "dest", dest);
}

static void
setup(void)
{
	struct diag *d = diag_new();
	char p[512], pbdir[512];

	fz_put("id_test", "", 0, p, sizeof(p));
	fz_put("inventory.yaml", inventory, sizeof(inventory) - 1, p,
	    sizeof(p));
	if (d == NULL || inventory_load(p, &inv, d) != 0)
		goto fail;
	(void)snprintf(pbdir, sizeof(pbdir), "%s/pb", fz_tmpdir());
	if (mkdir(pbdir, 0700) != 0)
		goto fail;
	fz_put("pb/10-fuzz.yaml", playbook, sizeof(playbook) - 1, p,
	    sizeof(p));
	if (playbook_load(pbdir, &pb, d) != 0 ||
	    dag_build(pb, inv, &dag, d) != 0)
		goto fail;
	fz_put("blob.txt", "abc", 3, p, sizeof(p));
	blob.kind = BUNDLE_BINARY;
	blob.name = (char *)"fz";
	blob.path = strdup(p);
	memcpy(blob.sha256, BLOB_SHA, sizeof(blob.sha256));
	blob.size = 3;
	(void)snprintf(dest, sizeof(dest), "%s/fetched/hosts", fz_tmpdir());
	(void)snprintf(p, sizeof(p), "%s/state.db", fz_tmpdir());
	if (kstate_open(p, &st) != 0)
		goto fail;
	/* FUZZ_VERBOSE=1: the report on stderr, to see what an input did. */
	if (getenv("FUZZ_VERBOSE") != NULL)
		sink = stderr;
	else if ((sink = fopen("/dev/null", "we")) == NULL)
		goto fail;
	diag_free(d);
	return;
fail:
	if (d != NULL)
		diag_print(d, stderr);
	fprintf(stderr, "fuzz_controller: setup failed\n");
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agent_image img = { (const uint8_t *)"", 0,
	    BLOB_SHA };
	struct sched_opts o;
	struct report *rep;
	struct sched *s = NULL;
	char msg[512];
	int64_t run_id = 0;
	int r;

	if (inv == NULL)
		setup();
	if (size < 1)
		return 0;
	in_chunk = (size_t)data[0] * (size_t)data[0] + 1;
	in_p = data + 1;
	in_n = size - 1;
	memset(&o, 0, sizeof(o));
	o.check_only = size > 1 && (data[1] & 1);
	o.no_signals = 1;
	o.host_vars = host_vars;
	o.extra_blobs = &blob;
	o.nextra_blobs = 1;
	if (kstate_run_begin(st, "apply", "fuzz", &run_id, msg,
	    sizeof(msg)) != 0)
		abort();
	if ((rep = report_new(sink, sink, 0, (unsigned)inv->nhosts)) == NULL)
		abort();
	r = sched_new(inv, pb, dag, st, run_id, &img, &o, rep, &s, msg,
	    sizeof(msg));
	CHECK(r == 0);
	r = sched_run(s);
	/* Nothing an agent says may break the engine (the state database). */
	CHECK(r == 0);
	sched_free(s);
	report_free(rep);
	CHECK(kstate_run_end(st, run_id, KSTATE_RUN_FAILED, 1) == 0);
	/* Whatever was recorded left the database sound. */
	if (++runs % 128 == 0 && kstate_integrity_ok(st) != 0) {
		fprintf(stderr, "fuzz_controller: %s\n", kstate_errmsg(st));
		__builtin_trap();
	}
	return 0;
}
