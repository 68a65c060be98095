/*
 * gen_seeds.c - writes one seed file per message type (each a greeting
 * line plus a frame) into the directory given, for fuzz_wire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wire.h"

static const char HASH[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static int
save(const char *dir, const char *name, struct kbuf *b)
{
	char path[4096];
	FILE *f;
	int ok;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
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

int
main(int argc, char **argv)
{
	struct kbuf *b = kbuf_new(1 << 20);
	struct kp_hello hello = { 1, (char *)HASH, (char *)"0.1.0", 0 };
	struct kp_start start = { .version = 1, .flags = KP_START_CHECK_ONLY };
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
	kbuf_free(b);
	return r == 0 ? 0 : 1;
}
