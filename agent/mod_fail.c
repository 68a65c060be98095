/*
 * mod_fail.c - fail with the playbook's message.  With `when:` it is a
 * pre-flight check ("unsupported OS"), reported in the operator's words
 * rather than as a command's exit status.
 */
#include "err.h"
#include "module.h"

static int
fail_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	agent_outcome_set(o, KP_ST_FAILED, "%s", agent_arg_str(t, "msg", ""));
	return KORCH_OK;
}

const struct agent_module agent_mod_fail = {
	.name = "fail",
	.flags = AGENT_MOD_READONLY,
	.run = fail_run,
};
