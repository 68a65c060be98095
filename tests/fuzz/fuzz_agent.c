/*
 * fuzz_agent.c - libFuzzer target for the agent's session: the input is
 * what a controller sends (frames, any order, any content), read by the
 * real serve loop (agent/serve.c), session and deferral buffer
 * (agent/session.c), blob transfer (agent/blob.c), facts (agent/facts.c,
 * which only reads /proc and /etc) and module dispatcher with its argument
 * checks against proto/modspec.c (agent/module.c).  The agent's replies go
 * to /dev/null.
 *
 * The agent runs as root and its modules change the host, so the module
 * handlers (agent/mod_*.c) are NOT linked here: this file defines the
 * module table's entries with the real names, flags and binary-argument
 * lists, and handlers that touch nothing: `file` with src_sha256 fetches
 * the blob (to /dev/null) as the real one does, `fetch` sends a
 * FETCH_DATA frame of its own, and every other module reports ok,
 * changed, failed or skipped (by task id) with a message and a diff made
 * of its arguments.  The handlers themselves are fuzzed where they parse
 * (fuzz_lines for envfile and sysctl) and tested in tests/unit/.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "module.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static const char SELF[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static int devnull = -1;

static int
stub_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	static const int st[] = { KP_ST_OK, KP_ST_CHANGED, KP_ST_FAILED,
	    KP_ST_SKIPPED };
	const char *a = t->nargs > 0 ? t->args[0].val : "";
	const char *b = t->nargs > 1 ? t->args[1].val : "";

	agent_outcome_set(o, st[t->id % 4], "%s %s: %s", t->module,
	    check_only ? "(check)" : "", a);
	if (o->status == KP_ST_FAILED)
		agent_outcome_note(o, "args", b, strlen(b), t->id & 16);
	if (o->status == KP_ST_CHANGED)
		agent_outcome_diff_text(o, a, a, strlen(a), b, strlen(b));
	return KORCH_OK;
}

static int
stub_file(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	const char *sha = agent_arg_str(t, "src_sha256", NULL);
	unsigned long long size;
	char err[256];
	int r;

	if (sha == NULL || check_only)
		return stub_run(t, s, check_only, o);
	if (agent_arg_uint(t, "src_size", 0, UINT64_MAX, &size, o) !=
	    KORCH_OK)
		return KORCH_OK;
	r = agent_blob_fetch(s, sha, size, devnull, err, sizeof(err));
	if (r == KORCH_ERR_HASH_MISMATCH || r == KORCH_ERR_SYSTEM) {
		agent_outcome_set(o, KP_ST_FAILED, "%s", err);
		return KORCH_OK;
	}
	if (r != KORCH_OK)
		return r;
	agent_outcome_set(o, KP_ST_CHANGED, "wrote %s", sha);
	return KORCH_OK;
}

static int
stub_fetch(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	struct kp_fetch_data d;
	struct kbuf *out;
	int r;

	if ((out = kbuf_new(4096)) == NULL)
		return KORCH_ERR_ALLOC;
	memset(&d, 0, sizeof(d));
	d.step_id = agent_session_step_id(s);
	d.task_id = t->id;
	d.data = (uint8_t *)"abc";
	d.len = 3;
	d.last = 1;
	if ((r = kp_enc_fetch_data(out, agent_session_reqid(s), &d)) ==
	    KORCH_OK)
		r = agent_session_send(s, out);
	kbuf_free(out);
	agent_outcome_set(o, KP_ST_CHANGED, "fetched 3 bytes sha256=%s", SELF);
	return r;
}

static const char *const file_binary[] = { "content", NULL };

#define STUB(id, nm, fl, fn) \
	const struct agent_module id = { .name = nm, .flags = fl, .run = fn }
const struct agent_module agent_mod_file = { .name = "file", .flags = 0,
    .binary = file_binary, .run = stub_file };
STUB(agent_mod_directory, "directory", 0, stub_run);
STUB(agent_mod_absent, "absent", 0, stub_run);
STUB(agent_mod_envfile, "envfile", 0, stub_run);
STUB(agent_mod_block, "block", 0, stub_run);
STUB(agent_mod_sysctl, "sysctl", 0, stub_run);
STUB(agent_mod_service, "service", 0, stub_run);
STUB(agent_mod_command, "command", 0, stub_run);
STUB(agent_mod_probe, "probe", AGENT_MOD_READONLY, stub_run);
STUB(agent_mod_fail, "fail", AGENT_MOD_READONLY, stub_run);
STUB(agent_mod_observe, "observe", AGENT_MOD_READONLY, stub_run);
STUB(agent_mod_fetch, "fetch", AGENT_MOD_SENDS, stub_fetch);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_session *s;
	int in, r;

	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY |
	    O_CLOEXEC)) < 0)
		abort();
	/* A file the session reads to its end, as a pipe the peer closed. */
	if ((in = memfd_create("fuzz-agent-in", MFD_CLOEXEC)) < 0)
		abort();
	if (size > 0 && write(in, data, size) != (ssize_t)size)
		abort();
	if (lseek(in, 0, SEEK_SET) != 0)
		abort();
	if ((s = agent_session_new(in, devnull)) == NULL)
		abort();
	r = agent_serve(s, SELF);
	CHECK(r <= 0);
	agent_session_free(s);
	(void)close(in);
	return 0;
}
