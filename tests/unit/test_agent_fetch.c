/* test_agent_fetch.c - the fetch module: the FETCH_DATA frames it writes
 * on the session's output reassemble to the file, and every refusal
 * (missing, not regular, symlink, max_size, check mode, version 1) sends
 * nothing.  The session's output is a scratch file, so a multi-megabyte
 * transfer needs no reader running alongside. */
#include <errno.h>
#include <sys/stat.h>

#include "test_agent_helpers.h"
#include "sha256.h"

#define MIB	(1u << 20)

struct fx {
	struct tt	*t;
	int		 out_fd;
	char		 out_path[512];
	char		 src[512];
	char		 dest[512];
};

static int
fx_setup(void **state)
{
	struct fx *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	if (tt_setup(state) != 0) {
		free(x);
		return -1;
	}
	x->t = *state;
	*state = x;
	(void)snprintf(x->out_path, sizeof(x->out_path), "%s/frames.out",
	    x->t->dir);
	x->out_fd = open(x->out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (x->out_fd == -1)
		return -1;
	agent_session_free(x->t->s);
	if ((x->t->s = agent_session_new(-1, x->out_fd)) == NULL)
		return -1;
	agent_session_set_reqid(x->t->s, 42);
	agent_session_set_step_id(x->t->s, 7);
	(void)snprintf(x->src, sizeof(x->src), "%s/snapshot.db", x->t->dir);
	(void)snprintf(x->dest, sizeof(x->dest), "%s/ctl/backup/snap.db",
	    x->t->dir);
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *x = *state;

	if (x == NULL)
		return 0;
	if (x->out_fd > 0)
		close(x->out_fd);
	*state = x->t;
	free(x);
	return tt_teardown(state);
}

static void
fetch_task(struct fx *x, const char *path)
{
	tt_task_at(x->t, 5, "fetch", path);
	tt_arg(x->t, "dest", x->dest);
}

/* Deterministic bytes that are not a short repeating pattern. */
static uint8_t *
make_data(size_t n)
{
	uint8_t *p = malloc(n > 0 ? n : 1);
	uint32_t v = 2463534242u;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		v ^= v << 13;
		v ^= v >> 17;
		v ^= v << 5;
		p[i] = (uint8_t)v;
	}
	return p;
}

static void
write_bytes(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;
	ssize_t w;

	assert_true(fd >= 0);
	while (off < n) {
		w = write(fd, p + off, n - off);
		assert_true(w > 0);
		off += (size_t)w;
	}
	close(fd);
}

/* Everything the module wrote so far (and empty the output). */
static uint8_t *
take_output(struct fx *x, size_t *len)
{
	struct stat st;
	uint8_t *p;
	ssize_t r;

	assert_int_equal(fstat(x->out_fd, &st), 0);
	*len = (size_t)st.st_size;
	p = malloc(*len > 0 ? *len : 1);
	assert_non_null(p);
	r = pread(x->out_fd, p, *len, 0);
	assert_int_equal(r, (ssize_t)*len);
	assert_int_equal(ftruncate(x->out_fd, 0), 0);
	assert_true(lseek(x->out_fd, 0, SEEK_SET) == 0);
	return p;
}

static void
assert_no_output(struct fx *x)
{
	size_t n;
	uint8_t *p = take_output(x, &n);

	assert_int_equal(n, 0);
	free(p);
}

/*
 * Parse the output as FETCH_DATA frames of task 5 in step 7 with reqid 42:
 * contiguous offsets, at most KP_BLOB_CHUNK each, `last` on the final one
 * only.  Returns the reassembled bytes; *nframes gets the frame count.
 */
static uint8_t *
reassemble(struct fx *x, size_t *total, size_t *nframes)
{
	struct kp_fetch_data d;
	struct kp_frame f;
	uint8_t *out, *all, *data = NULL;
	size_t len, pos = 0, used;
	uint64_t off = 0;
	int last = 0;

	all = take_output(x, &len);
	*nframes = 0;
	out = malloc(1);
	assert_non_null(out);
	while (pos < len) {
		assert_false(last);	/* nothing after the last chunk */
		assert_int_equal(kp_frame_parse(all + pos, len - pos, &f,
		    &used), KORCH_OK);
		assert_int_equal(f.type, KP_FETCH_DATA);
		assert_int_equal(f.reqid, 42);
		assert_int_equal(kp_dec_fetch_data(&f, &d), KORCH_OK);
		assert_int_equal(d.step_id, 7);
		assert_int_equal(d.task_id, 5);
		assert_true(d.offset == off);
		assert_true(d.len <= KP_BLOB_CHUNK);
		data = realloc(out, (size_t)off + d.len + 1);
		assert_non_null(data);
		out = data;
		memcpy(out + off, d.data, d.len);
		off += d.len;
		last = d.last;
		kp_fetch_data_clear(&d);
		pos += used;
		(*nframes)++;
	}
	assert_true(*nframes == 0 || last);
	free(all);
	*total = (size_t)off;
	return out;
}

static void
test_streams_and_reassembles(void **state)
{
	struct fx *x = *state;
	const size_t n = 5 * MIB / 2;	/* two full chunks and a half */
	char hex[AGENT_SHA256_HEX], want[256];
	uint8_t *data, *got;
	size_t total, nframes;

	data = make_data(n);
	write_bytes(x->src, data, n);
	agent_sha256_hex(data, n, hex);
	fetch_task(x, x->src);
	assert_int_equal(tt_run(x->t, 0), KP_ST_CHANGED);
	(void)snprintf(want, sizeof(want), "fetched %zu bytes sha256=%s", n,
	    hex);
	assert_string_equal(x->t->o.msg, want);
	got = reassemble(x, &total, &nframes);
	assert_int_equal(nframes, 3);
	assert_int_equal(total, n);
	assert_memory_equal(got, data, n);
	free(got);
	/* the agent never writes to dest: that is the controller's path */
	assert_false(th_exists(x->dest));

	/* exactly one chunk's worth: one full frame, marked last */
	write_bytes(x->src, data, KP_BLOB_CHUNK);
	assert_int_equal(tt_run(x->t, 0), KP_ST_CHANGED);
	got = reassemble(x, &total, &nframes);
	assert_int_equal(nframes, 1);
	assert_int_equal(total, KP_BLOB_CHUNK);
	assert_memory_equal(got, data, KP_BLOB_CHUNK);
	free(got);
	free(data);
}

static void
test_empty_file(void **state)
{
	struct fx *x = *state;
	char hex[AGENT_SHA256_HEX], want[256];
	size_t total, nframes;
	uint8_t *got;

	write_bytes(x->src, (const uint8_t *)"", 0);
	agent_sha256_hex("", 0, hex);
	fetch_task(x, x->src);
	assert_int_equal(tt_run(x->t, 0), KP_ST_CHANGED);
	(void)snprintf(want, sizeof(want), "fetched 0 bytes sha256=%s", hex);
	assert_string_equal(x->t->o.msg, want);
	/* one empty frame with last = 1, so the controller sees an end */
	got = reassemble(x, &total, &nframes);
	assert_int_equal(nframes, 1);
	assert_int_equal(total, 0);
	free(got);
}

static void
test_missing_file(void **state)
{
	struct fx *x = *state;
	char want[600];

	fetch_task(x, tt_path(x->t, "no-such-snapshot.db"));
	assert_int_equal(tt_run(x->t, 0), KP_ST_FAILED);
	(void)snprintf(want, sizeof(want), "%s: No such file or directory",
	    x->t->path);
	assert_string_equal(x->t->o.msg, want);
	assert_no_output(x);
	/* a plan says so too */
	tt_expect_msg(x->t, 1, KP_ST_FAILED, want);
	assert_no_output(x);
}

static void
test_not_regular(void **state)
{
	struct fx *x = *state;
	const char *dir, *fifo, *link;

	/* a directory */
	dir = tt_file(x->t, "d");
	assert_int_equal(mkdir(dir, 0700), 0);
	fetch_task(x, dir);
	tt_expect(x->t, 0, KP_ST_FAILED, "not a regular file");
	assert_no_output(x);

	/* a FIFO without a writer: refused, and the open must not block */
	fifo = tt_file(x->t, "fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fetch_task(x, fifo);
	tt_expect(x->t, 0, KP_ST_FAILED, "not a regular file");
	assert_no_output(x);

	/* a symlink to a regular file is not followed */
	write_bytes(x->src, (const uint8_t *)"secret", 6);
	link = tt_file(x->t, "link");
	assert_int_equal(symlink(x->src, link), 0);
	fetch_task(x, link);
	tt_expect(x->t, 0, KP_ST_FAILED, "symbolic link");
	assert_no_output(x);

	/* /dev/null is a character device */
	fetch_task(x, "/dev/null");
	tt_expect(x->t, 0, KP_ST_FAILED, "not a regular file");
	assert_no_output(x);
}

static void
test_max_size(void **state)
{
	struct fx *x = *state;
	size_t total, nframes;
	uint8_t *data, *got;

	data = make_data(1000);
	write_bytes(x->src, data, 1000);
	fetch_task(x, x->src);
	tt_arg(x->t, "max_size", "999");
	tt_expect(x->t, 0, KP_ST_FAILED, "is 1000 bytes, over max_size "
	    "999");
	assert_no_output(x);
	/* a plan reports it as well */
	assert_int_equal(tt_run(x->t, 1), KP_ST_FAILED);
	assert_no_output(x);

	/* exactly max_size is fine */
	fetch_task(x, x->src);
	tt_arg(x->t, "max_size", "1000");
	assert_int_equal(tt_run(x->t, 0), KP_ST_CHANGED);
	got = reassemble(x, &total, &nframes);
	assert_int_equal(total, 1000);
	assert_memory_equal(got, data, 1000);
	free(got);

	/* not a number */
	fetch_task(x, x->src);
	tt_arg(x->t, "max_size", "-1");
	tt_expect(x->t, 0, KP_ST_FAILED, "max_size");
	assert_no_output(x);
	free(data);
}

static void
test_check_mode_sends_nothing(void **state)
{
	struct fx *x = *state;
	const size_t n = 5 * MIB / 2;
	char want[700];
	uint8_t *data;

	data = make_data(n);
	write_bytes(x->src, data, n);
	fetch_task(x, x->src);
	assert_int_equal(tt_run(x->t, 1), KP_ST_CHANGED);
	(void)snprintf(want, sizeof(want), "would fetch %zu bytes from %s", n,
	    x->src);
	assert_string_equal(x->t->o.msg, want);
	assert_no_output(x);
	assert_false(th_exists(x->dest));
	free(data);
}

static void
test_bad_args(void **state)
{
	struct fx *x = *state;

	write_bytes(x->src, (const uint8_t *)"x", 1);
	fetch_task(x, "relative/snap.db");
	tt_expect(x->t, 0, KP_ST_FAILED, "absolute");

	tt_task_at(x->t, 5, "fetch", x->src);
	tt_expect(x->t, 0, KP_ST_FAILED, "missing required argument dest");

	tt_task_at(x->t, 5, "fetch", x->src);
	tt_arg(x->t, "dest", "backup/snap.db");
	tt_expect(x->t, 0, KP_ST_FAILED, "argument dest");

	fetch_task(x, x->src);
	tt_arg(x->t, "owner", "root");
	tt_expect(x->t, 0, KP_ST_FAILED, "unknown argument");
	assert_no_output(x);
}

/* A session the controller started at version 1 knows no FETCH_DATA. */
static void
test_version_1_session(void **state)
{
	struct fx *x = *state;

	write_bytes(x->src, (const uint8_t *)"x", 1);
	agent_session_set_version(x->t->s, 1);
	fetch_task(x, x->src);
	tt_expect(x->t, 0, KP_ST_FAILED, "protocol version 2");
	assert_no_output(x);
	agent_session_set_version(x->t->s, KP_VERSION);
	assert_int_equal(tt_run(x->t, 0), KP_ST_CHANGED);
}

/*
 * Through the serve loop: START, a STEP with an OK task then a fetch task,
 * BYE queued in a file.  The frames carry the STEP's reqid and id, and
 * come after the earlier task's result (which the loop would otherwise
 * hold back) and before the fetch's own; under a version-1 START the task
 * fails and sends nothing.
 */
static void
serve_once(struct fx *x, uint32_t version, int *nfetch, int *status)
{
	struct kp_task task[2];
	struct kp_kv kv[2], dkv[2];
	struct kp_step st;
	struct kp_start start = { .version = version };
	struct kp_task_result tr;
	struct kp_fetch_data d;
	struct agent_session *s;
	struct kp_frame f;
	struct kbuf *in;
	char in_path[512];
	uint8_t *out;
	const char *nl;
	size_t len, pos, used;
	int in_fd, dir_ok = 0;

	in = kbuf_new(1 << 20);
	memset(task, 0, sizeof(task));
	memset(kv, 0, sizeof(kv));
	memset(dkv, 0, sizeof(dkv));
	/* the scratch directory is 0700 already: an OK result */
	dkv[0].key = (char *)"path";
	dkv[0].val = x->t->dir;
	dkv[1].key = (char *)"mode";
	dkv[1].val = (char *)"0700";
	task[0].id = 8;
	task[0].module = (char *)"directory";
	task[0].args = dkv;
	task[0].nargs = 2;
	kv[0].key = (char *)"path";
	kv[0].val = x->src;
	kv[1].key = (char *)"dest";
	kv[1].val = x->dest;
	task[1].id = 9;
	task[1].module = (char *)"fetch";
	task[1].args = kv;
	task[1].nargs = 2;
	memset(&st, 0, sizeof(st));
	st.id = 4;
	st.name = (char *)"backup";
	st.tasks = task;
	st.ntasks = 2;
	assert_int_equal(kp_enc_start(in, 1, &start), KORCH_OK);
	assert_int_equal(kp_enc_step(in, 33, &st), KORCH_OK);
	assert_int_equal(kp_enc_bye(in, 34), KORCH_OK);
	(void)snprintf(in_path, sizeof(in_path), "%s/frames.in", x->t->dir);
	write_bytes(in_path, kbuf_ptr(in), kbuf_len(in));
	kbuf_free(in);
	in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
	assert_true(in_fd >= 0);
	s = agent_session_new(in_fd, x->out_fd);
	assert_non_null(s);
	assert_int_equal(agent_serve(s,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
	    KORCH_OK);
	agent_session_free(s);
	close(in_fd);

	out = take_output(x, &len);
	nl = memchr(out, '\n', len);
	assert_non_null(nl);
	pos = (size_t)((const uint8_t *)nl - out) + 1;
	*nfetch = 0;
	*status = -1;
	while (pos < len) {
		assert_int_equal(kp_frame_parse(out + pos, len - pos, &f,
		    &used), KORCH_OK);
		if (f.type == KP_FETCH_DATA) {
			/* after the earlier task's result, before its own */
			assert_true(dir_ok);
			assert_int_equal(*status, -1);
			assert_int_equal(f.reqid, 33);
			assert_int_equal(kp_dec_fetch_data(&f, &d), KORCH_OK);
			assert_int_equal(d.step_id, 4);
			assert_int_equal(d.task_id, 9);
			kp_fetch_data_clear(&d);
			(*nfetch)++;
		} else if (f.type == KP_TASK_RESULT) {
			assert_int_equal(kp_dec_task_result(&f, &tr), KORCH_OK);
			if (tr.task_id == 8) {
				assert_int_equal(tr.status, KP_ST_OK);
				dir_ok = 1;
			} else {
				assert_int_equal(tr.task_id, 9);
				*status = tr.status;
			}
			kp_task_result_clear(&tr);
		}
		pos += used;
	}
	free(out);
}

static void
test_through_serve(void **state)
{
	struct fx *x = *state;
	uint8_t *data;
	int nfetch, status;

	data = make_data(3 * MIB / 2);
	write_bytes(x->src, data, 3 * MIB / 2);
	serve_once(x, KP_VERSION, &nfetch, &status);
	assert_int_equal(nfetch, 2);
	assert_int_equal(status, KP_ST_CHANGED);
	serve_once(x, 1, &nfetch, &status);
	assert_int_equal(nfetch, 0);
	assert_int_equal(status, KP_ST_FAILED);
	free(data);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
TH_MAIN(
	T(test_streams_and_reassembles),
	T(test_empty_file),
	T(test_missing_file),
	T(test_not_regular),
	T(test_max_size),
	T(test_check_mode_sends_nothing),
	T(test_bad_args),
	T(test_version_1_session),
	T(test_through_serve),
)
