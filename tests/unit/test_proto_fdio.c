/* kp_write_all: every byte arrives through a pipe whose reader takes
 * small pieces (so writes come back short), and a broken pipe is an
 * error with errno set. */
#include <signal.h>

#include "helpers_fs.h"

#include "err.h"
#include "fdio.h"

#define LEN	(1u << 20)

static void
test_all_bytes_arrive(void **state)
{
	uint8_t *buf, *got;
	size_t off = 0, i;
	ssize_t n;
	pid_t pid;
	int pfd[2], st;

	(void)state;
	buf = malloc(LEN);
	got = malloc(LEN);
	assert_non_null(buf);
	assert_non_null(got);
	for (i = 0; i < LEN; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		_exit(kp_write_all(pfd[1], buf, LEN) == KORCH_OK ? 0 : 1);
	}
	assert_true(pid > 0);
	close(pfd[1]);
	/* Small reads: the writer's pipe fills, its writes go short. */
	while ((n = read(pfd[0], got + off, off + 1000 < LEN ? 1000 :
	    LEN - off)) > 0)
		off += (size_t)n;
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(off, LEN);
	assert_memory_equal(buf, got, LEN);
	free(buf);
	free(got);
}

static void
test_broken_pipe(void **state)
{
	int pfd[2];
	char b[4096];

	(void)state;
	memset(b, 'x', sizeof(b));
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(pfd), 0);
	close(pfd[0]);
	errno = 0;
	assert_int_equal(kp_write_all(pfd[1], b, sizeof(b)),
	    KORCH_ERR_SYSTEM);
	assert_int_equal(errno, EPIPE);
	close(pfd[1]);
	assert_int_equal(kp_write_all(-1, b, 1), KORCH_ERR_SYSTEM);
	assert_int_equal(errno, EBADF);
	assert_int_equal(kp_write_all(-1, b, 0), KORCH_OK);
}

TH_MAIN(
	cmocka_unit_test(test_all_bytes_arrive),
	cmocka_unit_test(test_broken_pipe),
)
