/* test_fetch.c - the controller's end of a fetch (controller/fetch.c):
 * chunks written through to <dest>.part, the copy kept only when whole and
 * matching the agent's sha256, every other ending leaving neither dest nor
 * .part, and a broken stream refused. */
#include <errno.h>

#include "helpers_fs.h"

#include "base/digest.h"
#include "err.h"
#include "engine/fetch.h"
#include "wire.h"

struct fx {
	char		 dir[256];
	char		 dest[512];
	char		 part[520];
	struct fetch_rx	*rx;
};

static int
setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return -1;
	if (th_mkdtemp(x->dir, sizeof(x->dir), "korch-fetch") != 0 ||
	    (x->rx = fetch_rx_new()) == NULL) {
		free(x);
		return -1;
	}
	(void)snprintf(x->dest, sizeof(x->dest), "%s/backups/h1/snap.db",
	    x->dir);
	(void)snprintf(x->part, sizeof(x->part), "%s.part", x->dest);
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *x = *state;

	fetch_rx_free(x->rx);
	(void)th_rmtree(x->dir);
	free(x);
	return 0;
}

static int
chunk(struct fx *x, uint32_t task, uint64_t off, const void *p, size_t n,
    int last, const char *max)
{
	struct kp_fetch_data d;

	memset(&d, 0, sizeof(d));
	d.step_id = 2;
	d.task_id = task;
	d.offset = off;
	d.data = (uint8_t *)p;
	d.len = (uint32_t)n;
	d.last = (uint8_t)last;
	return fetch_rx_data(x->rx, &d, x->dest, max);
}

/* A result as the agent sends it; the caller clears it. */
static void
result(struct kp_task_result *m, uint32_t task, int status, const char *msg)
{
	memset(m, 0, sizeof(*m));
	m->step_id = 2;
	m->task_id = task;
	m->status = (uint8_t)status;
	m->message = strdup(msg);
	m->diff = strdup("");
}

static void
ok_result(struct kp_task_result *m, uint32_t task, const void *p, size_t n)
{
	char hex[65], msg[128];

	assert_int_equal(sha256_hex(p, n, hex), 0);
	(void)snprintf(msg, sizeof(msg), "fetched %zu bytes sha256=%s", n, hex);
	result(m, task, KP_ST_CHANGED, msg);
}

static uint8_t *
make_data(size_t n)
{
	uint8_t *p = malloc(n);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + (i >> 11));
	return p;
}

/* Neither the copy nor its .part is left. */
static void
expect_no_copy(struct fx *x)
{
	assert_false(th_exists(x->dest));
	assert_false(th_exists(x->part));
}

/* m, received for x->dest, must become a failure whose message holds
 * want; the caller clears m. */
static void
expect_failed(struct fx *x, struct kp_task_result *m, const char *want)
{
	assert_int_equal(fetch_rx_result(x->rx, x->dest, m), 0);
	assert_int_equal(m->status, KP_ST_FAILED);
	assert_non_null(strstr(m->message, want));
}

/* expect_failed, and nothing is left of the copy; m is cleared. */
static void
expect_refused(struct fx *x, struct kp_task_result *m, const char *want)
{
	expect_failed(x, m, want);
	kp_task_result_clear(m);
	expect_no_copy(x);
}

static void
test_complete_copy(void **state)
{
	struct fx *x = *state;
	const size_t n = 2 * KP_BLOB_CHUNK + 1234;
	struct kp_task_result m;
	char got[65], want[65];
	uint8_t *data = make_data(n);
	struct stat st;
	uint64_t size;

	assert_int_equal(chunk(x, 5, 0, data, KP_BLOB_CHUNK, 0, NULL), 0);
	/* written through: the bytes are on disk before the end */
	assert_int_equal(stat(x->part, &st), 0);
	assert_int_equal(st.st_size, KP_BLOB_CHUNK);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_false(th_exists(x->dest));
	assert_int_equal(chunk(x, 5, KP_BLOB_CHUNK, data + KP_BLOB_CHUNK,
	    KP_BLOB_CHUNK, 0, NULL), 0);
	assert_int_equal(chunk(x, 5, 2 * KP_BLOB_CHUNK,
	    data + 2 * KP_BLOB_CHUNK, 1234, 1, NULL), 0);
	assert_int_equal(fetch_rx_open_task(x->rx), 5);
	ok_result(&m, 5, data, n);
	assert_int_equal(fetch_rx_result(x->rx, x->dest, &m), 0);
	assert_int_equal(m.status, KP_ST_CHANGED);
	assert_non_null(strstr(m.message, "fetched"));
	kp_task_result_clear(&m);
	assert_int_equal(fetch_rx_open_task(x->rx), 0);
	assert_false(th_exists(x->part));
	assert_int_equal(sha256_file(x->dest, got, &size), 0);
	assert_int_equal(sha256_hex(data, n, want), 0);
	assert_string_equal(got, want);
	assert_true(size == n);
	assert_int_equal(stat(x->dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the parents it made are the operator's only */
	*strrchr(x->dest, '/') = '\0';
	assert_int_equal(stat(x->dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(data);
}

/* A second fetch to the same dest replaces the copy; a stale .part with a
 * loose mode is truncated and tightened. */
static void
test_replace_and_stale_part(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;
	struct stat st;
	char got[65], want[65];
	FILE *f;

	assert_int_equal(chunk(x, 5, 0, "old", 3, 1, NULL), 0);
	ok_result(&m, 5, "old", 3);
	assert_int_equal(fetch_rx_result(x->rx, x->dest, &m), 0);
	assert_int_equal(m.status, KP_ST_CHANGED);
	kp_task_result_clear(&m);

	f = fopen(x->part, "w");
	assert_non_null(f);
	fputs("stale stale stale stale", f);
	fclose(f);
	assert_int_equal(chmod(x->part, 0644), 0);
	assert_int_equal(chunk(x, 6, 0, "new!", 4, 1, NULL), 0);
	assert_int_equal(stat(x->part, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ok_result(&m, 6, "new!", 4);
	assert_int_equal(fetch_rx_result(x->rx, x->dest, &m), 0);
	assert_int_equal(m.status, KP_ST_CHANGED);
	kp_task_result_clear(&m);
	assert_int_equal(sha256_file(x->dest, got, NULL), 0);
	assert_int_equal(sha256_hex("new!", 4, want), 0);
	assert_string_equal(got, want);
}

static void
test_empty_file(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;
	struct stat st;

	assert_int_equal(chunk(x, 5, 0, "", 0, 1, NULL), 0);
	ok_result(&m, 5, "", 0);
	assert_int_equal(fetch_rx_result(x->rx, x->dest, &m), 0);
	assert_int_equal(m.status, KP_ST_CHANGED);
	kp_task_result_clear(&m);
	assert_int_equal(stat(x->dest, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void
test_mismatch_fails(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;

	assert_int_equal(chunk(x, 5, 0, "abcdef", 6, 1, NULL), 0);
	ok_result(&m, 5, "abcdeX", 6);	/* the agent read other bytes */
	expect_failed(x, &m, "sha256");
	assert_non_null(strstr(m.message, x->dest));
	kp_task_result_clear(&m);
	expect_no_copy(x);

	/* a result without a sha256 is no proof either */
	assert_int_equal(chunk(x, 5, 0, "abc", 3, 1, NULL), 0);
	result(&m, 5, KP_ST_CHANGED, "fetched 3 bytes");
	expect_refused(x, &m, "no sha256");
}

static void
test_incomplete_or_missing_transfer(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;

	/* changed without any data */
	ok_result(&m, 5, "abc", 3);
	expect_failed(x, &m, "no data");
	kp_task_result_clear(&m);

	/* changed without the last chunk */
	assert_int_equal(chunk(x, 5, 0, "abc", 3, 0, NULL), 0);
	ok_result(&m, 5, "abc", 3);
	expect_refused(x, &m, "incomplete");
}

/* The agent failed (the file shrank, say) after some chunks: the .part
 * goes, the result stands as it is. */
static void
test_failed_task_removes_part(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;

	assert_int_equal(chunk(x, 5, 0, "abc", 3, 0, NULL), 0);
	assert_true(th_exists(x->part));
	result(&m, 5, KP_ST_FAILED, "/var/snap.db: shrank while being read");
	assert_int_equal(fetch_rx_result(x->rx, x->dest, &m), 0);
	assert_int_equal(m.status, KP_ST_FAILED);
	assert_string_equal(m.message, "/var/snap.db: shrank while being read");
	kp_task_result_clear(&m);
	expect_no_copy(x);
	assert_int_equal(fetch_rx_open_task(x->rx), 0);
}

static void
test_abort_removes_part(void **state)
{
	struct fx *x = *state;

	assert_int_equal(chunk(x, 5, 0, "abc", 3, 0, NULL), 0);
	assert_true(th_exists(x->part));
	fetch_rx_abort(x->rx);
	expect_no_copy(x);
	fetch_rx_abort(x->rx);	/* twice is fine */
	fetch_rx_abort(NULL);
	/* and a new transfer can start */
	assert_int_equal(chunk(x, 6, 0, "abc", 3, 0, NULL), 0);
	assert_int_equal(fetch_rx_open_task(x->rx), 6);
	/* freeing with a transfer open removes it too (teardown frees) */
}

static void
test_broken_stream(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;

	/* the first chunk must be at offset 0 */
	assert_int_equal(chunk(x, 5, 3, "abc", 3, 0, NULL),
	    KORCH_ERR_BAD_FRAME);
	assert_false(th_exists(x->part));
	assert_int_equal(chunk(x, 5, 0, "abc", 3, 0, NULL), 0);
	/* a gap, an overlap */
	assert_int_equal(chunk(x, 5, 4, "d", 1, 0, NULL), KORCH_ERR_BAD_FRAME);
	assert_int_equal(chunk(x, 5, 2, "d", 1, 0, NULL), KORCH_ERR_BAD_FRAME);
	/* another task while this one is open */
	assert_int_equal(chunk(x, 6, 3, "d", 1, 0, NULL), KORCH_ERR_BAD_FRAME);
	result(&m, 6, KP_ST_OK, "ok");
	assert_int_equal(fetch_rx_result(x->rx, NULL, &m), KORCH_ERR_BAD_FRAME);
	kp_task_result_clear(&m);
	/* nothing after the last chunk */
	assert_int_equal(chunk(x, 5, 3, "d", 1, 1, NULL), 0);
	assert_int_equal(chunk(x, 5, 4, "e", 1, 0, NULL), KORCH_ERR_BAD_FRAME);
	fetch_rx_abort(x->rx);
	assert_false(th_exists(x->part));

	/* beyond max_size */
	assert_int_equal(chunk(x, 7, 0, "abcd", 4, 0, "5"), 0);
	assert_int_equal(chunk(x, 7, 4, "ef", 2, 1, "5"), KORCH_ERR_BAD_FRAME);
	fetch_rx_abort(x->rx);
	assert_int_equal(chunk(x, 8, 0, "abcde", 5, 1, "5"), 0);
	fetch_rx_abort(x->rx);
	assert_false(th_exists(x->part));
}

/* The controller cannot write the copy: the chunks are still taken (the
 * stream stays in step) and the result becomes failed, saying why. */
static void
test_unwritable_dest(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;
	char blocker[300];
	FILE *f;

	/* a file where dest's parent directory should be */
	(void)snprintf(blocker, sizeof(blocker), "%s/backups", x->dir);
	f = fopen(blocker, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(chunk(x, 5, 0, "abc", 3, 0, NULL), 0);
	assert_int_equal(chunk(x, 5, 3, "def", 3, 1, NULL), 0);
	ok_result(&m, 5, "abcdef", 6);
	expect_failed(x, &m, "failed");
	assert_non_null(strstr(m.message, "Not a directory"));
	kp_task_result_clear(&m);
	assert_int_equal(fetch_rx_open_task(x->rx), 0);
}

static void
test_bad_dest(void **state)
{
	struct fx *x = *state;
	static const char *const bad[] = { "relative/snap.db", "/", "/tmp/",
	    "/tmp/../etc/passwd", "/tmp/./x", "/tmp/x/..", "" };
	struct kp_task_result m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(x->dest, sizeof(x->dest), "%s", bad[i]);
		assert_int_equal(chunk(x, 5, 0, "abc", 3, 1, NULL), 0);
		ok_result(&m, 5, "abc", 3);
		expect_failed(x, &m, "absolute");
		kp_task_result_clear(&m);
	}
}

/* A result of a task that is not a fetch (dest NULL) passes untouched. */
static void
test_other_tasks_untouched(void **state)
{
	struct fx *x = *state;
	struct kp_task_result m;

	result(&m, 3, KP_ST_CHANGED, "wrote /etc/x");
	assert_int_equal(fetch_rx_result(x->rx, NULL, &m), 0);
	assert_int_equal(m.status, KP_ST_CHANGED);
	assert_string_equal(m.message, "wrote /etc/x");
	kp_task_result_clear(&m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
TH_MAIN(
	T(test_complete_copy),
	T(test_replace_and_stale_part),
	T(test_empty_file),
	T(test_mismatch_fails),
	T(test_incomplete_or_missing_transfer),
	T(test_failed_task_removes_part),
	T(test_abort_removes_part),
	T(test_broken_stream),
	T(test_unwritable_dest),
	T(test_bad_dest),
	T(test_other_tasks_untouched),
)
