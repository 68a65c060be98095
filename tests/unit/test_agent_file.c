/* test_agent_file.c - the file module: inline and by-hash content, mode
 * and owner, parents, secrets, check mode. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "test_agent_helpers.h"
#include "sha256.h"

static void
file_task(struct tt *t, const char *path, const char *content)
{
	tt_task_at(t, 1, "file", path);
	if (content != NULL)
		tt_arg(t, "content", content);
}

static void
test_inline_converges(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "a.conf");
	long long m;

	file_task(t, path, "one\ntwo\n");
	/* check mode first: would create, creates nothing */
	tt_expect(t, 1, KP_ST_CHANGED, "would create");
	assert_false(th_exists(path));
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "one\ntwo\n");
	assert_int_equal(tt_mode(path), 0644);
	assert_non_null(strstr(t->o.diff, "+one\n+two\n"));
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_string_equal(t->o.diff, "");
	assert_int_equal(tt_run(t, 1), KP_ST_OK);

	/* new content: check mode reports and leaves the file alone */
	file_task(t, path, "one\nTWO\n");
	m = tt_mtime_ns(path);
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_non_null(strstr(t->o.diff, "-two\n+TWO\n"));
	assert_non_null(strstr(t->o.diff, " one\n"));
	assert_int_equal(tt_mtime_ns(path), m);
	tt_assert_file(path, "one\ntwo\n");
	tt_expect_writes(t, path, "one\nTWO\n");
	tt_assert_no_tmp(t->dir);
}

static void
test_mode_only(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "m");
	long long m;

	tt_write(path, "same", 0600);
	file_task(t, path, "same");
	tt_arg(t, "mode", "0640");
	m = tt_mtime_ns(path);
	tt_expect(t, 1, KP_ST_CHANGED, "mode 0600 -> 0640");
	assert_int_equal(tt_mtime_ns(path), m);
	tt_expect(t, 0, KP_ST_CHANGED, "content up to date");
	assert_int_equal(tt_mode(path), 0640);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static void
test_owner(void **state)
{
	struct tt *t = *state;
	const char *path;

	if (geteuid() != 0)
		skip();
	path = tt_file(t, "o");
	file_task(t, path, "x");
	tt_arg(t, "uid", "1");
	tt_arg(t, "gid", "2");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_owner(path, 1, 2);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	/* New content without uid/gid: the file is the task's, as a new
	 * one would be (the agent's user), not the old owner's. */
	file_task(t, path, "y");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_owner(path, 0, 0);
}

/* A key file that someone else owned before (uid 65534, 0644): root's
 * and 0600 after, whether its content changed or not. */
static void
test_secret_owner(void **state)
{
	struct tt *t = *state;
	const char *path;

	if (geteuid() != 0)
		skip();
	path = tt_file(t, "k.key");
	tt_write(path, "old-key\n", 0644);
	assert_int_equal(chown(path, 65534, 65534), 0);
	file_task(t, path, "new-key\n");
	tt_arg(t, "secret", "1");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_owner(path, 0, 0);
	assert_int_equal(tt_mode(path), 0600);
	tt_assert_file(path, "new-key\n");
	/* Same content, handed back to 65534: fixed again. */
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_owner(path, 0, 0);
	assert_int_equal(tt_mode(path), 0600);
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
}

static void
test_parents(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "d1/d2/f");

	file_task(t, path, "x");
	tt_expect(t, 0, KP_ST_FAILED, "parents=1");
	tt_expect(t, 1, KP_ST_CHANGED, "does not exist yet");
	tt_arg(t, "parents", "1");
	tt_expect_writes(t, path, "x");
}

static void
test_secret(void **state)
{
	struct tt *t = *state;
	const char *path = tt_file(t, "ca.key");

	tt_write(path, "old-secret\n", 0600);
	file_task(t, path, "new-secret\n");
	tt_arg(t, "secret", "1");
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	/* The whole diff: not a line of either content, not a size. */
	assert_string_equal(t->o.diff, "secret changed");
	assert_null(strstr(t->o.msg, "new-secret"));
	/* secrets default to 0600 */
	assert_int_equal(tt_mode(path), 0600);
	tt_assert_file(path, "new-secret\n");
}

static void
test_binary_inline_and_symlink(void **state)
{
	struct tt *t = *state;
	const char *path, *link;
	struct stat st;

	path = tt_file(t, "bin");
	tt_task_at(t, 1, "file", path);
	tt_argn(t, "content", "a\0b", 3);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_non_null(strstr(t->o.diff, "binary"));
	assert_int_equal(tt_run(t, 0), KP_ST_OK);

	link = tt_file(t, "link");
	assert_int_equal(symlink(path, link), 0);
	file_task(t, link, "x");
	tt_expect(t, 0, KP_ST_FAILED, "symlink");
}

static void
test_bad_args(void **state)
{
	struct tt *t = *state;

	file_task(t, "relative/path", "x");
	tt_expect(t, 0, KP_ST_FAILED, "absolute");
	file_task(t, tt_path(t, "f"), NULL);
	tt_expect(t, 0, KP_ST_FAILED, "exactly one");
	file_task(t, tt_path(t, "f"), "x");
	tt_arg(t, "mode", "0999");
	tt_expect(t, 0, KP_ST_FAILED, "mode");
	file_task(t, tt_path(t, "f"), NULL);
	tt_arg(t, "src_sha256", "abc");
	tt_arg(t, "src_size", "3");
	tt_expect(t, 0, KP_ST_FAILED, "src_sha256");
}

/* ---- content by hash, over a socketpair standing in for the controller */

struct ctl {
	int		 sv[2];		/* [0] agent side, [1] controller side */
	struct kbuf	*in;
};

static void
ctl_open(struct tt *t, struct ctl *c)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    c->sv), 0);
	c->in = kbuf_new(1 << 20);
	agent_session_free(t->s);
	t->s = agent_session_new(c->sv[0], c->sv[0]);
	agent_session_set_reqid(t->s, 77);
}

static void
ctl_close(struct ctl *c)
{
	int status;

	while (wait(&status) > 0)
		assert_int_equal(status, 0);
	close(c->sv[0]);
	close(c->sv[1]);
	kbuf_free(c->in);
}

/* Queue the blob as chunks of at most chunk bytes. */
static void
ctl_send_blob(struct ctl *c, const char *hash, const char *data, size_t n,
    size_t chunk)
{
	struct kbuf *b = kbuf_new(1 << 20);
	struct kp_blob bl;
	size_t off = 0;

	do {
		memset(&bl, 0, sizeof(bl));
		bl.sha256 = (char *)hash;
		bl.offset = off;
		bl.len = (uint32_t)(n - off < chunk ? n - off : chunk);
		bl.data = (uint8_t *)data + off;
		off += bl.len;
		bl.last = off == n;
		assert_int_equal(kp_enc_blob(b, 77, &bl), KORCH_OK);
	} while (off < n);
	/* More than a socket buffer holds: a child writes while we read. */
	if (fork() == 0) {
		const uint8_t *p = kbuf_ptr(b);
		size_t left = kbuf_len(b);
		ssize_t w;

		while (left > 0 && (w = write(c->sv[1], p, left)) > 0) {
			p += w;
			left -= (size_t)w;
		}
		_exit(left == 0 ? 0 : 1);
	}
	kbuf_free(b);
}

/* How many BLOB_REQ frames the agent sent (non-blocking drain). */
static int
ctl_count_reqs(struct ctl *c, const char *hash)
{
	struct kp_blob_req rq;
	struct kp_frame f;
	uint8_t buf[4096];
	size_t used;
	ssize_t n;
	int count = 0;

	while ((n = recv(c->sv[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		assert_int_equal(kbuf_put(c->in, buf, (size_t)n), KORCH_OK);
	while (kp_frame_parse(kbuf_ptr(c->in), kbuf_len(c->in), &f,
	    &used) == KORCH_OK) {
		assert_int_equal(f.type, KP_BLOB_REQ);
		assert_int_equal(f.reqid, 77);
		assert_int_equal(kp_dec_blob_req(&f, &rq), KORCH_OK);
		assert_string_equal(rq.sha256, hash);
		kp_blob_req_clear(&rq);
		kbuf_consume(c->in, used);
		count++;
	}
	return count;
}

static void
blob_task(struct tt *t, const char *path, const char *hash, size_t size)
{
	char sz[32];

	(void)snprintf(sz, sizeof(sz), "%zu", size);
	tt_task_at(t, 5, "file", path);
	tt_arg(t, "src_sha256", hash);
	/* tt_arg keeps the pointer: keep the size string alive */
	t->kv[t->task.nargs].key = (char *)"src_size";
	t->kv[t->task.nargs].val = strdup(sz);
	t->kv[t->task.nargs].val_len = strlen(sz);
	t->task.nargs++;
}

static void
blob_task_free(struct tt *t)
{
	free(t->kv[2].val);
}

static void
test_blob_fetched_only_when_different(void **state)
{
	struct tt *t = *state;
	const char *path;
	char hash[AGENT_SHA256_HEX], *data;
	const size_t n = 300000;
	struct ctl c;
	size_t i;

	data = malloc(n);
	for (i = 0; i < n; i++)
		data[i] = (char)(i * 31);
	agent_sha256_hex(data, n, hash);
	path = tt_file(t, "kubelet");
	ctl_open(t, &c);
	blob_task(t, path, hash, n);
	tt_arg(t, "mode", "0755");

	/* check mode never asks for content */
	assert_int_equal(tt_run(t, 1), KP_ST_CHANGED);
	assert_int_equal(ctl_count_reqs(&c, hash), 0);

	ctl_send_blob(&c, hash, data, n, 65536);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	assert_int_equal(ctl_count_reqs(&c, hash), 1);
	assert_int_equal(tt_mode(path), 0755);
	{
		char got[AGENT_SHA256_HEX];

		assert_int_equal(agent_sha256_path(path, got, NULL), KORCH_OK);
		assert_string_equal(got, hash);
	}
	/* second run: the hash matches, nothing is requested */
	assert_int_equal(tt_run(t, 0), KP_ST_OK);
	assert_int_equal(ctl_count_reqs(&c, hash), 0);
	blob_task_free(t);
	ctl_close(&c);
	free(data);
}

static void
test_blob_mismatch_fails_and_keeps_old(void **state)
{
	struct tt *t = *state;
	const char *path;
	char hash[AGENT_SHA256_HEX];
	struct ctl c;

	agent_sha256_hex("right", 5, hash);
	path = tt_file(t, "f");
	tt_write(path, "old", 0644);
	ctl_open(t, &c);
	blob_task(t, path, hash, 5);
	/* the controller sends other bytes of the same size */
	ctl_send_blob(&c, hash, "wrong", 5, 2);
	tt_expect(t, 0, KP_ST_FAILED, "does not match");
	tt_assert_file(path, "old");
	tt_assert_no_tmp(t->dir);
	/* a controller without the content answers with one empty chunk */
	ctl_send_blob(&c, hash, "", 0, 1);
	tt_expect(t, 0, KP_ST_FAILED, "no content");
	tt_assert_file(path, "old");
	/* the stream stayed in step: a correct transfer now works */
	ctl_send_blob(&c, hash, "right", 5, 3);
	assert_int_equal(tt_run(t, 0), KP_ST_CHANGED);
	tt_assert_file(path, "right");
	assert_int_equal(ctl_count_reqs(&c, hash), 3);
	blob_task_free(t);
	ctl_close(&c);
}

static void
test_blob_broken_stream_is_fatal(void **state)
{
	struct tt *t = *state;
	const char *path;
	char hash[AGENT_SHA256_HEX], other[AGENT_SHA256_HEX];
	struct ctl c;

	agent_sha256_hex("right", 5, hash);
	agent_sha256_hex("other", 5, other);
	path = tt_file(t, "f");
	ctl_open(t, &c);
	blob_task(t, path, hash, 5);
	/* a chunk of another blob: the session cannot go on */
	ctl_send_blob(&c, other, "other", 5, 5);
	assert_int_equal(agent_module_run(&t->task, t->s, 0, &t->o),
	    KORCH_ERR_BAD_FRAME);
	assert_false(th_exists(path));
	blob_task_free(t);
	ctl_close(&c);
}

TH_MAIN(
	TT_TEST(test_inline_converges),
	TT_TEST(test_mode_only),
	TT_TEST(test_owner),
	TT_TEST(test_parents),
	TT_TEST(test_secret),
	TT_TEST(test_secret_owner),
	TT_TEST(test_binary_inline_and_symlink),
	TT_TEST(test_bad_args),
	TT_TEST(test_blob_fetched_only_when_different),
	TT_TEST(test_blob_mismatch_fails_and_keeps_old),
	TT_TEST(test_blob_broken_stream_is_fatal),
)
