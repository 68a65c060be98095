/*
 * gen_seeds.c - writes seeds made with the real encoders into DIR/TARGET/:
 * for fuzz_wire one per message type (each a greeting line plus frames),
 * for fuzz_agent whole controller sessions, for fuzz_controller whole
 * agent sessions answering fuzz_controller.c's playbook, and for
 * fuzz_lines the envfile/sysctl cases (that target's own byte layout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wire.h"

static const char HASH[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static const char *subdir = "wire";

static int
save(const char *dir, const char *name, struct kbuf *b)
{
	char path[4096];
	FILE *f;
	int ok;

	(void)snprintf(path, sizeof(path), "%s/%s/%s", dir, subdir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(kbuf_ptr(b), 1, kbuf_len(b), f) == kbuf_len(b);
	ok = fclose(f) == 0 && ok;
	kbuf_reset(b);
	return ok ? 0 : -1;
}

static void
greet(struct kbuf *b)
{
	(void)kbuf_putf(b, "%s %d %s\n", KP_GREETING, KP_VERSION, HASH);
}

static void
kv(struct kp_kv *a, const char *k, const char *v)
{
	a->key = (char *)k;
	a->val = (char *)v;
	a->val_len = (uint32_t)strlen(v);
}

/* Controller -> agent: what fuzz_agent reads. */
static int
agent_seeds(const char *dir, struct kbuf *b)
{
	struct kp_start start = { .version = KP_VERSION },
	    check = { .version = KP_VERSION, .flags = KP_START_CHECK_ONLY };
	struct kp_kv a[10];
	struct kp_task t[5];
	struct kp_step st;
	struct kp_blob bl;
	uint32_t req[1] = { 1 }, watch[1] = { 1 };
	int r = 0;

	subdir = "agent";
	kv(&a[0], "path", "/etc/fz/app.conf");
	kv(&a[1], "content", "x=1\n");
	kv(&a[2], "path", "/etc/fz/env");
	kv(&a[3], "key", "A");
	kv(&a[4], "value", "b");
	kv(&a[5], "path", "/usr/bin/fz");
	kv(&a[6], "src_sha256", HASH);
	kv(&a[7], "src_size", "3");
	memset(t, 0, sizeof(t));
	t[0] = (struct kp_task){ 1, (char *)"file", &a[0], 2, NULL, 0 };
	t[1] = (struct kp_task){ 2, (char *)"envfile", &a[2], 3, NULL, 0 };
	t[2] = (struct kp_task){ 3, (char *)"file", &a[5], 3, NULL, 0 };
	t[3] = (struct kp_task){ 7, (char *)"service", &a[2], 1, watch, 1 };
	kv(&a[8], "path", "/etc/hosts");
	kv(&a[9], "dest", "out/hosts");
	t[4] = (struct kp_task){ 9, (char *)"fetch", &a[8], 2, NULL, 0 };
	st = (struct kp_step){ 1, (char *)"base", NULL, 0, t, 2 };

	kp_enc_start(b, 1, &start);
	kp_enc_facts_req(b, 2);
	kp_enc_step(b, 3, &st);
	st = (struct kp_step){ 2, (char *)"blob", req, 1, &t[2], 1 };
	kp_enc_step(b, 4, &st);
	bl = (struct kp_blob){ (char *)HASH, 0, (uint8_t *)"ab", 2, 0 };
	kp_enc_blob(b, 4, &bl);
	bl = (struct kp_blob){ (char *)HASH, 2, (uint8_t *)"c", 1, 1 };
	kp_enc_blob(b, 4, &bl);
	st = (struct kp_step){ 3, (char *)"svc", req, 1, &t[3], 1 };
	kp_enc_step(b, 5, &st);
	kp_enc_bye(b, 6);
	r |= save(dir, "session", b);

	/* Check mode; a fetch (which sends frames of its own). */
	kp_enc_start(b, 1, &check);
	kp_enc_facts_req(b, 2);
	st = (struct kp_step){ 1, (char *)"base", NULL, 0, t, 2 };
	kp_enc_step(b, 3, &st);
	st = (struct kp_step){ 4, (char *)"get", NULL, 0, &t[4], 1 };
	kp_enc_step(b, 8, &st);
	r |= save(dir, "check-fetch", b);

	/* A step pipelined behind one that waits for its content. */
	kp_enc_start(b, 1, &start);
	st = (struct kp_step){ 2, (char *)"blob", NULL, 0, &t[2], 1 };
	kp_enc_step(b, 4, &st);
	st = (struct kp_step){ 3, (char *)"svc", req, 1, &t[3], 1 };
	kp_enc_step(b, 5, &st);
	bl = (struct kp_blob){ (char *)HASH, 0, (uint8_t *)"abc", 3, 1 };
	kp_enc_blob(b, 4, &bl);
	kp_enc_bye(b, 6);
	r |= save(dir, "deferred", b);

	/* Real blob fetch (not check mode), then a wrong-length one. */
	kp_enc_start(b, 1, &start);
	st = (struct kp_step){ 2, (char *)"blob", NULL, 0, &t[2], 1 };
	kp_enc_step(b, 4, &st);
	bl = (struct kp_blob){ (char *)HASH, 0, (uint8_t *)"abc", 3, 1 };
	kp_enc_blob(b, 4, &bl);
	kp_enc_step(b, 7, &st);
	bl = (struct kp_blob){ (char *)HASH, 0, (uint8_t *)"abcd", 4, 1 };
	kp_enc_blob(b, 7, &bl);
	r |= save(dir, "blob", b);
	return r;
}

/* A TASK_RESULT. */
static void
tr(struct kbuf *b, uint32_t step, uint32_t task, int status, const char *msg)
{
	struct kp_task_result m = { step, task, (uint8_t)status, 5,
	    (char *)msg, (char *)"" };

	kp_enc_task_result(b, 1, &m);
}

static void
sd(struct kbuf *b, uint32_t step, uint32_t ok, uint32_t changed,
    uint32_t failed)
{
	struct kp_step_done m = { step, ok, changed, failed, 0 };

	kp_enc_step_done(b, 1, &m);
}

/* Agent -> controller: what fuzz_controller reads (its first byte sets
 * the read size: 16 -> 257 bytes). */
static int
controller_seeds(const char *dir, struct kbuf *b)
{
	struct kp_hello hello = { KP_VERSION, (char *)HASH, (char *)"0.1.0", 0 };
	struct kp_kv f[3];
	struct kp_facts facts = { f, 3 };
	struct kp_blob_req rq = { (char *)HASH };
	struct kp_fetch_data fd = { 4, 5, 0, (uint8_t *)"abc", 3, 1 };
	struct kp_error err = { KORCH_ERR_BAD_FRAME, (char *)"unexpected STEP" };
	char okmsg[128];
	int r = 0;

	subdir = "controller";
	kv(&f[0], "os.id", "debian");
	kv(&f[1], "kernel", "6.1.0");
	kv(&f[2], "hostname", "node1");
	(void)snprintf(okmsg, sizeof(okmsg), "fetched 3 bytes sha256=%s", HASH);

	(void)kbuf_put(b, "\x10", 1);
	kp_enc_hello(b, 0, &hello);
	kp_enc_facts(b, 0, &facts);
	tr(b, 1, 1, KP_ST_CHANGED, "wrote /etc/fz/app.conf");
	tr(b, 1, 2, KP_ST_OK, "A already set");
	sd(b, 1, 1, 1, 0);
	kp_enc_blob_req(b, 4, &rq);
	fd = (struct kp_fetch_data){ 4, 5, 0, (uint8_t *)"abc", 3, 1 };
	kp_enc_fetch_data(b, 3, &fd);
	tr(b, 4, 5, KP_ST_CHANGED, okmsg);
	fd = (struct kp_fetch_data){ 4, 6, 0, (uint8_t *)"ab", 2, 0 };
	kp_enc_fetch_data(b, 3, &fd);
	fd = (struct kp_fetch_data){ 4, 6, 2, (uint8_t *)"c", 1, 1 };
	kp_enc_fetch_data(b, 3, &fd);
	tr(b, 4, 6, KP_ST_CHANGED, okmsg);
	sd(b, 4, 0, 2, 0);
	tr(b, 2, 3, KP_ST_CHANGED, "wrote /usr/bin/fz");
	sd(b, 2, 0, 1, 0);
	tr(b, 3, 4, KP_ST_CHANGED, "restarted fz");
	sd(b, 3, 0, 1, 0);
	tr(b, 5, 7, KP_ST_OK, "version=3.4.23 active=active");
	sd(b, 5, 1, 0, 0);
	r |= save(dir, "converge", b);

	/* A failure, then the agent gives up; one byte per read. */
	(void)kbuf_put(b, "\x00", 1);
	kp_enc_hello(b, 0, &hello);
	kp_enc_facts(b, 0, &facts);
	tr(b, 1, 1, KP_ST_FAILED, "write /etc/fz/app.conf: No space left");
	tr(b, 1, 2, KP_ST_SKIPPED, "skipped: task 1 failed earlier");
	sd(b, 1, 0, 0, 1);
	fd = (struct kp_fetch_data){ 4, 5, 0, (uint8_t *)"abc", 3, 0 };
	kp_enc_fetch_data(b, 3, &fd);
	tr(b, 4, 5, KP_ST_FAILED, "read /etc/hosts: I/O error");
	kp_enc_error(b, 0, &err);
	r |= save(dir, "fail", b);
	return r;
}

static int
lines_seed(const char *dir, const char *name, const char *p, size_t n)
{
	struct kbuf *b = kbuf_new(4096);
	int r;

	if (b == NULL || kbuf_put(b, p, n) != KORCH_OK)
		return -1;
	r = save(dir, name, b);
	kbuf_free(b);
	return r;
}

#define LSEED(name, lit)	lines_seed(dir, name, lit, sizeof(lit) - 1)

/* fuzz_lines: flags, KEY NUL VALUE NUL file text. */
static int
lines_seeds(const char *dir, struct kbuf *b)
{
	int r = 0;

	subdir = "lines";
	r |= LSEED("envfile", "\x00OPTIONS\0--color red\0# the options\n"
	    "OPTIONS=old\nexport OPTIONS = x\nB=1\n");
	r |= LSEED("envfile-always", "\x04A\0x \"$y\"\0A=1\nA=2\n# A=3");
	r |= LSEED("envfile-never", "\x0aPATH_X\0/a:/b\0\n\n  PATH_X\t= z\r\n");
	r |= LSEED("envfile-new", "\x0cK\0\0");
	r |= LSEED("sysctl", "\x01net.ipv4.ip_forward\0001\0# keep\n"
	    "net/ipv4/ip_forward=0\n-net.ipv4.ip_forward = 0\n");
	r |= LSEED("sysctl-live", "\x11net.ipv4.ip_forward\0001\0"
	    "net.ipv4.ip_forward = 1\n");
	r |= LSEED("sysctl-check", "\x03net.core.rmem_max\0004096\t87380\0"
	    "net.core.rmem_max = 4096 87380");
	return r;
}

/* Encodes one frame whose value v holds n bytes; its whole length. */
typedef size_t (*big_fn)(struct kbuf *b, char *v, size_t n);

static size_t
big_facts(struct kbuf *b, char *v, size_t n)
{
	struct kp_kv f = { (char *)"os.pretty_name", v, (uint32_t)n };
	struct kp_facts facts = { &f, 1 };
	size_t before = kbuf_len(b);

	return kp_enc_facts(b, 0, &facts) == KORCH_OK ? kbuf_len(b) - before :
	    0;
}

static size_t
big_step(struct kbuf *b, char *v, size_t n)
{
	struct kp_kv a[2] = { { (char *)"path", (char *)"/etc/big", 8 },
	    { (char *)"content", v, (uint32_t)n } };
	struct kp_task t = { 1, (char *)"file", a, 2, NULL, 0 };
	struct kp_step st = { 1, (char *)"big", NULL, 0, &t, 1 };
	size_t before = kbuf_len(b);

	return kp_enc_step(b, 3, &st) == KORCH_OK ? kbuf_len(b) - before : 0;
}

/* After what b holds, a frame of exactly 4 + KP_MAX_FRAME bytes. */
static int
put_biggest(struct kbuf *b, big_fn fn, char *v)
{
	struct kbuf *m = kbuf_new(1 << 20);
	size_t n = 1024, len;

	len = m != NULL ? fn(m, v, n) : 0;
	kbuf_free(m);
	if (len == 0)
		return -1;
	n += 4 + (size_t)KP_MAX_FRAME - len;
	return fn(b, v, n) == 4 + (size_t)KP_MAX_FRAME ? 0 : -1;
}

/* The largest frame each side may send, into DIR/big-TARGET/: run.sh runs
 * them once each (as seeds they would make every mutation 8 MiB long). */
static int
big_seeds(const char *dir)
{
	struct kbuf *b = kbuf_new(KP_MAX_FRAME + 4096);
	struct kp_hello hello = { KP_VERSION, (char *)HASH, (char *)"0.1.0", 0 };
	struct kp_start start = { .version = KP_VERSION };
	char *v = malloc(KP_MAX_FRAME);
	int r = 0;

	if (b == NULL || v == NULL)
		return -1;
	memset(v, 'x', KP_MAX_FRAME);
	subdir = "big-wire";
	greet(b);
	r |= put_biggest(b, big_facts, v);
	r |= save(dir, "big-facts", b);
	subdir = "big-controller";
	(void)kbuf_put(b, "\xff", 1);
	kp_enc_hello(b, 0, &hello);
	r |= put_biggest(b, big_facts, v);
	r |= save(dir, "big-facts", b);
	subdir = "big-agent";
	kp_enc_start(b, 1, &start);
	r |= put_biggest(b, big_step, v);
	kp_enc_bye(b, 4);
	r |= save(dir, "big-step", b);
	kbuf_free(b);
	free(v);
	return r;
}

int
main(int argc, char **argv)
{
	struct kbuf *b = kbuf_new(1 << 20);
	struct kp_hello hello = { 1, (char *)HASH, (char *)"0.1.0", 0 };
	struct kp_start start = { .version = KP_VERSION, .flags = KP_START_CHECK_ONLY };
	struct kp_kv kv[3] = {
		{ (char *)"path", (char *)"/etc/sysconfig/flanneld", 23 },
		{ (char *)"argv", (char *)"systemctl", 9 },
		{ (char *)"content", (char *)"a\0b", 3 },
	};
	struct kp_facts facts = { kv, 2 };
	uint32_t req[2] = { 1, 2 }, watch[1] = { 7 };
	struct kp_task tasks[2] = {
		{ 7, (char *)"file", kv, 3, NULL, 0 },
		{ 8, (char *)"service", kv, 1, watch, 1 },
	};
	struct kp_step step = { 3, (char *)"flannel", req, 2, tasks, 2 };
	struct kp_task_result tr = { 3, 7, KP_ST_CHANGED, 12,
	    (char *)"wrote /etc/x", (char *)"--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n" };
	struct kp_step_done done = { 3, 1, 1, 0, 0 };
	struct kp_blob_req rq = { (char *)HASH };
	struct kp_blob blob = { (char *)HASH, 0, (uint8_t *)"abc", 3, 1 };
	struct kp_error err = { KORCH_ERR_BAD_FRAME, (char *)"malformed STEP" };
	struct kp_fetch_data fd = { 3, 7, 0, (uint8_t *)"snap", 4, 1 };
	const char *dir;
	int r = 0;

	if (argc != 2 || b == NULL)
		return 2;
	dir = argv[1];
	subdir = "wire";
	greet(b);
	kp_enc_hello(b, 0, &hello);
	r |= save(dir, "hello", b);
	greet(b);
	kp_enc_start(b, 1, &start);
	kp_enc_facts_req(b, 2);
	kp_enc_facts(b, 2, &facts);
	r |= save(dir, "start-facts", b);
	kp_enc_step(b, 3, &step);
	r |= save(dir, "step", b);
	kp_enc_task_result(b, 3, &tr);
	kp_enc_step_done(b, 3, &done);
	r |= save(dir, "result-done", b);
	kp_enc_blob_req(b, 3, &rq);
	kp_enc_blob(b, 3, &blob);
	r |= save(dir, "blob", b);
	kp_enc_fetch_data(b, 3, &fd);
	kp_enc_task_result(b, 3, &tr);
	r |= save(dir, "fetch", b);
	kp_enc_error(b, 0, &err);
	kp_enc_bye(b, 9);
	r |= save(dir, "error-bye", b);
	r |= agent_seeds(dir, b);
	r |= controller_seeds(dir, b);
	r |= lines_seeds(dir, b);
	r |= big_seeds(dir);
	kbuf_free(b);
	return r == 0 ? 0 : 1;
}
