/* test_agent_hostlock.c - one controller at a time: the host lock refuses
 * another controller naming the holder, is free once the holder's fd is
 * closed (the agent gone), and is taken over from a file naming a dead
 * holder. */
#include "test_agent_helpers.h"
#include "hostlock.h"

static void
start_of(struct kp_start *st, const char *host, uint32_t pid,
    const char *state, uint64_t run)
{
	memset(st, 0, sizeof(*st));
	st->version = KP_VERSION_LOCK;
	st->ctl_host = (char *)host;
	st->ctl_pid = pid;
	st->state = (char *)state;
	st->run_id = run;
}

static void
test_second_controller_refused(void **state)
{
	struct tt *t = *state;
	struct kp_start a, b;
	char why[1024], *text;
	int fa, fb;

	assert_int_equal(setenv("KORCH_AGENT_LOCK", tt_file(t, "lock"), 1), 0);
	start_of(&a, "ctl-a", 1111, "/srv/a.db", 3);
	start_of(&b, "ctl-b", 2222, "/srv/b.db", 9);
	assert_int_equal(agent_hostlock_take(&a, &fa, why, sizeof(why)),
	    KORCH_OK);
	text = th_read(tt_file(t, "lock"));
	assert_non_null(text);
	assert_non_null(strstr(text, "host=ctl-a\npid=1111\nstate=/srv/a.db\n"
	    "run=3\nsince="));
	free(text);
	/* another open file: flock conflicts as between two agents */
	assert_int_equal(agent_hostlock_take(&b, &fb, why, sizeof(why)),
	    KORCH_ERR_LOCKED);
	assert_int_equal(fb, -1);
	assert_non_null(strstr(why, "host locked by korch pid 1111 on ctl-a "
	    "(state /srv/a.db, run 3) since "));
	/* the holder's agent exits: the file still names it, the lock is
	 * free, and the next controller takes it over */
	close(fa);
	assert_int_equal(agent_hostlock_take(&b, &fb, why, sizeof(why)),
	    KORCH_OK);
	text = th_read(tt_file(t, "lock"));
	assert_non_null(strstr(text, "host=ctl-b\npid=2222\n"));
	free(text);
	close(fb);
	unsetenv("KORCH_AGENT_LOCK");
}

/* A controller's strings cannot add lines to the file. */
static void
test_values_one_line(void **state)
{
	struct tt *t = *state;
	struct kp_start a;
	char why[256], *text;
	int fa;

	assert_int_equal(setenv("KORCH_AGENT_LOCK", tt_file(t, "lock"), 1), 0);
	start_of(&a, "evil\npid=1", 5, "/x\ny", 1);
	assert_int_equal(agent_hostlock_take(&a, &fa, why, sizeof(why)),
	    KORCH_OK);
	text = th_read(tt_file(t, "lock"));
	assert_non_null(strstr(text, "host=evil?pid=1\npid=5\nstate=/x?y\n"));
	free(text);
	close(fa);
	unsetenv("KORCH_AGENT_LOCK");
}

TH_MAIN(
	TT_TEST(test_second_controller_refused),
	TT_TEST(test_values_one_line),
)
