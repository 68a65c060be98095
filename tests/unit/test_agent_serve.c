/* test_agent_serve.c - the serve loop end to end: frames in, frames out.
 * One test forks the agent and plays the controller interactively over a
 * socketpair; the others queue the controller's frames up front. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "test_agent_helpers.h"
#include "sha256.h"

static const char SELF[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* ---- a minimal controller ------------------------------------------------ */

struct ctl {
	int		 fd;		/* controller end */
	struct kbuf	*in;
	struct kbuf	*out;
};

static void
ctl_init(struct ctl *c, int fd)
{
	c->fd = fd;
	c->in = kbuf_new(KP_MAX_FRAME + 65536);
	c->out = kbuf_new(KP_MAX_FRAME + 65536);
	assert_non_null(c->in);
	assert_non_null(c->out);
}

static void
ctl_free(struct ctl *c)
{
	kbuf_free(c->in);
	kbuf_free(c->out);
}

static void
ctl_flush(struct ctl *c)
{
	const uint8_t *p = kbuf_ptr(c->out);
	size_t n = kbuf_len(c->out);
	ssize_t w;

	while (n > 0) {
		w = write(c->fd, p, n);
		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
	kbuf_reset(c->out);
}

static int
ctl_fill(struct ctl *c)
{
	uint8_t buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n <= 0)
		return -1;
	assert_int_equal(kbuf_put(c->in, buf, (size_t)n), KORCH_OK);
	return 0;
}

static void
ctl_greeting(struct ctl *c, char hash[65])
{
	const char *nl;
	uint32_t v;

	while ((nl = memchr(kbuf_ptr(c->in), '\n', kbuf_len(c->in))) == NULL)
		assert_int_equal(ctl_fill(c), 0);
	assert_int_equal(kp_greeting_parse(kbuf_cstr(c->in),
	    (size_t)(nl - kbuf_cstr(c->in)), &v, hash), KORCH_OK);
	assert_int_equal(v, KP_VERSION);
	kbuf_consume(c->in, (size_t)(nl - kbuf_cstr(c->in)) + 1);
}

/* The next frame, copied so it survives the next read. */
static uint8_t *
ctl_frame(struct ctl *c, struct kp_frame *f)
{
	size_t used;
	uint8_t *copy;
	int r;

	while ((r = kp_frame_parse(kbuf_ptr(c->in), kbuf_len(c->in), f,
	    &used)) == KORCH_ERR_INCOMPLETE)
		assert_int_equal(ctl_fill(c), 0);
	assert_int_equal(r, KORCH_OK);
	copy = malloc(used);
	memcpy(copy, kbuf_ptr(c->in), used);
	f->body = copy + KP_HDR_LEN;
	kbuf_consume(c->in, used);
	return copy;
}

/* ctl_frame, and the frame must be of type with reqid. */
static uint8_t *
ctl_expect(struct ctl *c, struct kp_frame *f, uint8_t type, uint32_t reqid)
{
	uint8_t *mem = ctl_frame(c, f);

	assert_int_equal(f->type, type);
	assert_int_equal(f->reqid, reqid);
	return mem;
}

static void
ctl_start(struct ctl *c, uint32_t flags)
{
	struct kp_start st = { .version = KP_VERSION, .flags = flags };

	assert_int_equal(kp_enc_start(c->out, 1, &st), KORCH_OK);
}

/* ---- steps ---------------------------------------------------------------- */

struct stepb {
	struct kp_step	 step;
	struct kp_task	 tasks[8];
	struct kp_kv	 kv[8][8];
	uint32_t	 req[4];
	uint32_t	 watch[8][4];
};

/* Step id, which requires step requires (0: none). */
static void
sb_init(struct stepb *b, uint32_t id, const char *name, uint32_t requires)
{
	memset(b, 0, sizeof(*b));
	b->step.id = id;
	b->step.name = (char *)name;
	b->step.tasks = b->tasks;
	b->step.requires = b->req;
	if (requires != 0) {
		b->req[0] = requires;
		b->step.nrequires = 1;
	}
}

static struct kp_task *
sb_task(struct stepb *b, uint32_t id, const char *module)
{
	struct kp_task *t = &b->tasks[b->step.ntasks];

	t->id = id;
	t->module = (char *)module;
	t->args = b->kv[b->step.ntasks];
	t->watch = b->watch[b->step.ntasks];
	b->step.ntasks++;
	return t;
}

static void
sb_arg(struct kp_task *t, const char *k, const char *v)
{
	t->args[t->nargs].key = (char *)k;
	t->args[t->nargs].val = (char *)v;
	t->args[t->nargs].val_len = strlen(v);
	t->nargs++;
}

/* A command task running argv0 alone. */
static struct kp_task *
sb_cmd(struct stepb *b, uint32_t id, const char *argv0)
{
	struct kp_task *t = sb_task(b, id, "command");

	sb_arg(t, "argv", argv0);
	return t;
}

static void
expect_result(struct ctl *c, uint32_t reqid, uint32_t step, uint32_t task,
    int status, const char *msg_part)
{
	struct kp_task_result tr;
	struct kp_frame f;
	uint8_t *mem = ctl_expect(c, &f, KP_TASK_RESULT, reqid);

	assert_int_equal(kp_dec_task_result(&f, &tr), KORCH_OK);
	if (getenv("TT_VERBOSE") != NULL)
		fprintf(stderr, "# task %u %s: %s\n", tr.task_id,
		    kp_status_name(tr.status), tr.message);
	assert_int_equal(tr.step_id, step);
	assert_int_equal(tr.task_id, task);
	assert_int_equal(tr.status, status);
	if (msg_part != NULL)
		assert_non_null(strstr(tr.message, msg_part));
	kp_task_result_clear(&tr);
	free(mem);
}

static void
expect_done(struct ctl *c, uint32_t reqid, uint32_t step, uint32_t ok,
    uint32_t changed, uint32_t failed, uint32_t skipped)
{
	struct kp_step_done d;
	struct kp_frame f;
	uint8_t *mem = ctl_expect(c, &f, KP_STEP_DONE, reqid);

	assert_int_equal(kp_dec_step_done(&f, &d), KORCH_OK);
	assert_int_equal(d.step_id, step);
	assert_int_equal(d.ok, ok);
	assert_int_equal(d.changed, changed);
	assert_int_equal(d.failed, failed);
	assert_int_equal(d.skipped, skipped);
	free(mem);
}

static void
expect_error(struct ctl *c, int code, const char *part)
{
	struct kp_error e;
	struct kp_frame f;
	uint8_t *mem = ctl_frame(c, &f);

	assert_int_equal(f.type, KP_ERROR);
	assert_int_equal(kp_dec_error(&f, &e), KORCH_OK);
	if (getenv("TT_VERBOSE") != NULL)
		fprintf(stderr, "# error %d: %s\n", e.code, e.message);
	assert_int_equal(e.code, code);
	assert_non_null(strstr(e.message, part));
	kp_error_clear(&e);
	free(mem);
}

static void
expect_hello(struct ctl *c)
{
	struct kp_hello h;
	struct kp_frame f;
	uint8_t *mem;
	char hash[65];

	ctl_greeting(c, hash);
	assert_string_equal(hash, SELF);
	mem = ctl_frame(c, &f);
	assert_int_equal(f.type, KP_HELLO);
	assert_int_equal(kp_dec_hello(&f, &h), KORCH_OK);
	assert_int_equal(h.version, KP_VERSION);
	assert_string_equal(h.build_hash, SELF);
	assert_string_equal(h.agent_version, KORCH_AGENT_VERSION);
	kp_hello_clear(&h);
	free(mem);
}

/*
 * Queue everything in c->out, run the agent in this process until it
 * returns, then leave its output in c->in.  The agent writes to a file so
 * no socket buffer can fill up while nobody reads.
 */
static int
serve_queued(struct tt *t, struct ctl *c, int close_input)
{
	char outpath[600];
	int sv[2], outfd, r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	c->fd = sv[1];
	ctl_flush(c);
	if (close_input)
		shutdown(sv[1], SHUT_WR);
	(void)snprintf(outpath, sizeof(outpath), "%s/agent-out", t->dir);
	outfd = open(outpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(outfd >= 0);
	agent_session_free(t->s);
	t->s = agent_session_new(sv[0], outfd);
	r = agent_serve(t->s, SELF);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(lseek(outfd, 0, SEEK_SET), 0);
	c->fd = outfd;
	while (ctl_fill(c) == 0)
		;
	close(outfd);
	c->fd = -1;
	return r;
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_interactive_session(void **state)
{
	struct tt *t = *state;
	char path[512], blob_path[512], hash[AGENT_SHA256_HEX], size[16];
	struct kp_blob_req rq;
	struct kp_facts facts;
	struct kp_blob bl;
	struct kp_frame f;
	struct stepb sb;
	struct kp_task *k;
	struct ctl c;
	uint8_t *mem;
	int sv[2], status;
	uint32_t i;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	if ((pid = fork()) == 0) {
		struct agent_session *s = agent_session_new(sv[0], sv[0]);

		close(sv[1]);
		_exit(agent_serve(s, SELF) == KORCH_OK ? 0 : 1);
	}
	close(sv[0]);
	ctl_init(&c, sv[1]);
	expect_hello(&c);

	ctl_start(&c, 0);
	assert_int_equal(kp_enc_facts_req(c.out, 2), KORCH_OK);
	ctl_flush(&c);
	mem = ctl_expect(&c, &f, KP_FACTS, 2);
	assert_int_equal(kp_dec_facts(&f, &facts), KORCH_OK);
	assert_int_equal(facts.n, 10);
	for (i = 0; i < facts.n; i++)
		if (strcmp(facts.kv[i].key, "agent_version") == 0)
			assert_string_equal(facts.kv[i].val,
			    KORCH_AGENT_VERSION);
	kp_facts_clear(&facts);
	free(mem);

	/* one step: inline file, content by hash, a command */
	(void)snprintf(path, sizeof(path), "%s/inline", t->dir);
	(void)snprintf(blob_path, sizeof(blob_path), "%s/blob", t->dir);
	agent_sha256_hex("blob content\n", 13, hash);
	(void)snprintf(size, sizeof(size), "13");
	sb_init(&sb, 1, "files", 0);
	k = sb_task(&sb, 10, "file");
	sb_arg(k, "path", path);
	sb_arg(k, "content", "x=1\n");
	k = sb_task(&sb, 11, "file");
	sb_arg(k, "path", blob_path);
	sb_arg(k, "src_sha256", hash);
	sb_arg(k, "src_size", size);
	sb_cmd(&sb, 12, "true");
	assert_int_equal(kp_enc_step(c.out, 3, &sb.step), KORCH_OK);
	ctl_flush(&c);

	expect_result(&c, 3, 1, 10, KP_ST_CHANGED, "created");
	mem = ctl_expect(&c, &f, KP_BLOB_REQ, 3);
	assert_int_equal(kp_dec_blob_req(&f, &rq), KORCH_OK);
	assert_string_equal(rq.sha256, hash);
	kp_blob_req_clear(&rq);
	free(mem);
	memset(&bl, 0, sizeof(bl));
	bl.sha256 = hash;
	bl.data = (uint8_t *)"blob ";
	bl.len = 5;
	assert_int_equal(kp_enc_blob(c.out, 3, &bl), KORCH_OK);
	bl.offset = 5;
	bl.data = (uint8_t *)"content\n";
	bl.len = 8;
	bl.last = 1;
	assert_int_equal(kp_enc_blob(c.out, 3, &bl), KORCH_OK);
	ctl_flush(&c);
	expect_result(&c, 3, 1, 11, KP_ST_CHANGED, "created");
	expect_result(&c, 3, 1, 12, KP_ST_CHANGED, "ran: true");
	expect_done(&c, 3, 1, 0, 3, 0, 0);
	tt_assert_file(path, "x=1\n");
	tt_assert_file(blob_path, "blob content\n");

	/* the same step again: converged, no transfer */
	assert_int_equal(kp_enc_step(c.out, 4, &sb.step), KORCH_OK);
	ctl_flush(&c);
	expect_result(&c, 4, 1, 10, KP_ST_OK, NULL);
	expect_result(&c, 4, 1, 11, KP_ST_OK, NULL);
	expect_result(&c, 4, 1, 12, KP_ST_CHANGED, NULL);
	expect_done(&c, 4, 1, 2, 1, 0, 0);

	assert_int_equal(kp_enc_bye(c.out, 5), KORCH_OK);
	ctl_flush(&c);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sv[1]);
	ctl_free(&c);
}

static void
test_failure_skips(void **state)
{
	struct tt *t = *state;
	struct stepb sb;
	struct kp_task *k;
	struct ctl c;

	ctl_init(&c, -1);
	ctl_start(&c, 0);
	/* step 1: the second task fails, the third is skipped */
	sb_init(&sb, 1, "etcd", 0);
	sb_cmd(&sb, 1, "true");
	sb_cmd(&sb, 2, "false");
	sb_cmd(&sb, 3, "true");
	assert_int_equal(kp_enc_step(c.out, 10, &sb.step), KORCH_OK);
	/* step 2 requires 1: skipped whole */
	sb_init(&sb, 2, "flannel", 1);
	sb_cmd(&sb, 4, "true");
	assert_int_equal(kp_enc_step(c.out, 11, &sb.step), KORCH_OK);
	/* step 3 requires 2, which was skipped because 1 failed */
	sb_init(&sb, 3, "docker", 2);
	sb_cmd(&sb, 5, "true");
	sb_task(&sb, 6, "nosuchmodule");
	assert_int_equal(kp_enc_step(c.out, 12, &sb.step), KORCH_OK);
	/* step 4 requires nothing that failed: runs; bad module fails */
	sb_init(&sb, 4, "other", 99);
	sb_cmd(&sb, 7, "true");
	sb_task(&sb, 8, "nosuchmodule");
	k = sb_cmd(&sb, 9, "true");
	sb_arg(k, "bogus", "1");
	assert_int_equal(kp_enc_step(c.out, 13, &sb.step), KORCH_OK);
	assert_int_equal(kp_enc_bye(c.out, 14), KORCH_OK);

	assert_int_equal(serve_queued(t, &c, 0), KORCH_OK);
	expect_hello(&c);
	expect_result(&c, 10, 1, 1, KP_ST_CHANGED, NULL);
	expect_result(&c, 10, 1, 2, KP_ST_FAILED, "exit 1");
	expect_result(&c, 10, 1, 3, KP_ST_SKIPPED, "task 2 failed earlier");
	expect_done(&c, 10, 1, 0, 1, 1, 1);
	expect_result(&c, 11, 2, 4, KP_ST_SKIPPED, "required step 1 (etcd) "
	    "failed");
	expect_done(&c, 11, 2, 0, 0, 0, 1);
	expect_result(&c, 12, 3, 5, KP_ST_SKIPPED, "required step 2 (flannel)");
	expect_result(&c, 12, 3, 6, KP_ST_SKIPPED, "required step 2");
	expect_done(&c, 12, 3, 0, 0, 0, 2);
	expect_result(&c, 13, 4, 7, KP_ST_CHANGED, NULL);
	expect_result(&c, 13, 4, 8, KP_ST_FAILED, "unknown module");
	expect_result(&c, 13, 4, 9, KP_ST_SKIPPED, "task 8 failed");
	expect_done(&c, 13, 4, 0, 1, 1, 1);
	assert_int_equal(kbuf_len(c.in), 0);
	ctl_free(&c);
}

static void
test_check_only_and_watch(void **state)
{
	struct tt *t = *state;
	char path[512], sysctl[600], log[600], *got;
	struct stepb sb;
	struct kp_task *k;
	struct ctl c;

	/* a fake systemctl that only logs: the service looks active */
	(void)snprintf(log, sizeof(log), "%s/log", t->dir);
	(void)snprintf(sysctl, sizeof(sysctl), "%s/systemctl", t->dir);
	{
		char script[1200];

		(void)snprintf(script, sizeof(script), "#!/bin/sh\n"
		    "echo \"$*\" >> %s\nexit 0\n", log);
		tt_write(sysctl, script, 0755);
	}
	setenv("KORCH_AGENT_SYSTEMCTL", sysctl, 1);
	(void)snprintf(path, sizeof(path), "%s/flanneld", t->dir);

	for (int check = 1; check >= 0; check--) {
		ctl_init(&c, -1);
		ctl_start(&c, check ? KP_START_CHECK_ONLY : 0);
		sb_init(&sb, 1, "config", 0);
		k = sb_task(&sb, 20, "envfile");
		sb_arg(k, "path", path);
		sb_arg(k, "key", "FLANNEL_ETCD");
		sb_arg(k, "value", "http://10.1.10.101:2379");
		assert_int_equal(kp_enc_step(c.out, 1, &sb.step), KORCH_OK);
		sb_init(&sb, 2, "service", 0);
		k = sb_task(&sb, 21, "service");
		sb_arg(k, "name", "flanneld");
		k->watch[0] = 20;
		k->nwatch = 1;
		assert_int_equal(kp_enc_step(c.out, 2, &sb.step), KORCH_OK);
		assert_int_equal(kp_enc_bye(c.out, 3), KORCH_OK);
		assert_int_equal(serve_queued(t, &c, 0), KORCH_OK);
		expect_hello(&c);
		expect_result(&c, 1, 1, 20, KP_ST_CHANGED, check ?
		    "would set" : "set FLANNEL_ETCD");
		expect_done(&c, 1, 1, 0, 1, 0, 0);
		expect_result(&c, 2, 2, 21, KP_ST_CHANGED, check ?
		    "would restart (task 20 changed)" :
		    "restarted (task 20 changed)");
		expect_done(&c, 2, 2, 0, 1, 0, 0);
		assert_int_equal(th_exists(path), !check);
		got = th_read(log);
		assert_non_null(got);
		assert_string_equal(got, check ?
		    "is-enabled flanneld.service\nis-active flanneld.service\n" :
		    "is-enabled flanneld.service\nis-active flanneld.service\n"
		    "restart flanneld.service\n");
		free(got);
		unlink(log);
		ctl_free(&c);
	}
}

static void
test_protocol_errors(void **state)
{
	/* A frame of type (bytes as they are when type is 0), the error the
	 * agent answers it with and ends on, and what that says. */
	static const struct {
		uint8_t		 type;
		const char	*body;
		size_t		 len;
		int		 code;
		const char	*msg;
	} bad[] = {
		/* unknown frame type after START */
		{ 200, NULL, 0, KORCH_ERR_BAD_FRAME,
		    "unexpected unknown (200)" },
		/* a BLOB nobody asked for */
		{ KP_BLOB, NULL, 0, KORCH_ERR_BAD_FRAME, "unexpected BLOB" },
		/* a STEP whose body does not parse */
		{ KP_STEP, "\0\0\0\1", 4, KORCH_ERR_BAD_FRAME,
		    "malformed STEP" },
		/* a length over the limit */
		{ 0, "\x7f\0\0\0\x05", 5, KORCH_ERR_TOO_LARGE, "size limit" },
		/* EOF in the middle of a frame */
		{ 0, "\0\0\0\x20\x05\0", 6, KORCH_ERR_BAD_FRAME,
		    "reading frame" },
	};
	struct tt *t = *state;
	struct kp_start st = { .version = KP_VERSION + 1 };
	char unsupported[64];
	struct ctl c;
	size_t i;

	/* STEP before START */
	ctl_init(&c, -1);
	assert_int_equal(kp_enc_facts_req(c.out, 1), KORCH_OK);
	assert_int_equal(serve_queued(t, &c, 1), KORCH_ERR_BAD_FRAME);
	expect_hello(&c);
	expect_error(&c, KORCH_ERR_BAD_FRAME, "expected START, got FACTS_REQ");
	ctl_free(&c);

	/* a version the agent does not speak */
	ctl_init(&c, -1);
	assert_int_equal(kp_enc_start(c.out, 1, &st), KORCH_OK);
	assert_int_equal(serve_queued(t, &c, 1), KORCH_ERR_VERSION);
	expect_hello(&c);
	(void)snprintf(unsupported, sizeof(unsupported), "version %d not "
	    "supported", KP_VERSION + 1);
	expect_error(&c, KORCH_ERR_VERSION, unsupported);
	ctl_free(&c);

	/* after START: what the agent cannot read ends the session */
	for (i = 0; i < TH_LEN(bad); i++) {
		ctl_init(&c, -1);
		ctl_start(&c, 0);
		if (bad[i].type != 0)
			assert_int_equal(kp_frame_put(c.out, bad[i].type, 5,
			    bad[i].body, bad[i].len), KORCH_OK);
		else
			assert_int_equal(kbuf_put(c.out, bad[i].body,
			    bad[i].len), KORCH_OK);
		assert_int_equal(serve_queued(t, &c, 1), bad[i].code);
		expect_hello(&c);
		expect_error(&c, bad[i].code, bad[i].msg);
		ctl_free(&c);
	}

	/* the controller's ERROR ends the session without a reply */
	ctl_init(&c, -1);
	ctl_start(&c, 0);
	{
		struct kp_error e = { KORCH_ERR_INTERRUPTED, (char *)"stop" };

		assert_int_equal(kp_enc_error(c.out, 0, &e), KORCH_OK);
	}
	assert_int_equal(serve_queued(t, &c, 0), KORCH_ERR_EOF);
	expect_hello(&c);
	assert_int_equal(kbuf_len(c.in), 0);
	ctl_free(&c);

	/* EOF between frames is a normal end */
	ctl_init(&c, -1);
	ctl_start(&c, KP_START_CHECK_ONLY);
	assert_int_equal(serve_queued(t, &c, 1), KORCH_OK);
	expect_hello(&c);
	assert_int_equal(kbuf_len(c.in), 0);
	ctl_free(&c);
}

/* The controller goes away while a step's command (no timeout) runs: the
 * agent kills the command's group and ends the session; the pipelined step
 * behind it never runs. */
static void
test_hangup_mid_step(void **state)
{
	struct tt *t = *state;
	char script[600], pidfile[512], later[512], *s;
	struct stepb sb;
	struct kp_task *k;
	struct ctl c;
	int sv[2], status, i;
	pid_t pid, sleeper = 0;

	(void)snprintf(pidfile, sizeof(pidfile), "%s/pid", t->dir);
	(void)snprintf(later, sizeof(later), "%s/later", t->dir);
	(void)snprintf(script, sizeof(script), "sleep 300 & echo $! > %s; "
	    "wait", pidfile);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	if ((pid = fork()) == 0) {
		struct agent_session *as = agent_session_new(sv[0], sv[0]);

		/* as main.c: a gone controller is EPIPE */
		(void)signal(SIGPIPE, SIG_IGN);
		close(sv[1]);
		_exit(agent_serve(as, SELF) == KORCH_OK ? 0 : 1);
	}
	close(sv[0]);
	ctl_init(&c, sv[1]);
	expect_hello(&c);
	ctl_start(&c, 0);
	sb_init(&sb, 1, "long", 0);
	k = sb_cmd(&sb, 10, "/bin/sh");
	sb_arg(k, "argv", "-c");
	sb_arg(k, "argv", script);
	sb_arg(k, "timeout", "0");
	assert_int_equal(kp_enc_step(c.out, 2, &sb.step), KORCH_OK);
	sb_init(&sb, 2, "later", 0);
	k = sb_task(&sb, 20, "file");
	sb_arg(k, "path", later);
	sb_arg(k, "content", "x\n");
	assert_int_equal(kp_enc_step(c.out, 3, &sb.step), KORCH_OK);
	ctl_flush(&c);
	for (i = 0; i < 500 && sleeper <= 0; i++) {
		if ((s = th_read(pidfile)) != NULL)
			sleeper = (pid_t)atoi(s);
		free(s);
		if (sleeper <= 0)
			usleep(10000);
	}
	assert_true(sleeper > 0);
	close(sv[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* killed, maybe not yet reaped by whoever inherited it */
	for (i = 0; i < 100 && !th_pid_gone(sleeper); i++)
		usleep(20000);
	assert_true(th_pid_gone(sleeper));
	assert_int_equal(access(later, F_OK), -1);
	ctl_free(&c);
}

TH_MAIN(
	TT_TEST(test_interactive_session),
	TT_TEST(test_failure_skips),
	TT_TEST(test_check_only_and_watch),
	TT_TEST(test_protocol_errors),
	TT_TEST(test_hangup_mid_step),
)
