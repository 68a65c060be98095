/*
 * modspec.h - the agent's task modules and their arguments, one table used
 * by both programs: the controller rejects unknown modules and arguments
 * when it loads a playbook, and the agent checks again before it runs a
 * task (it never trusts the controller).
 */
#ifndef KORCH_MODSPEC_H
#define KORCH_MODSPEC_H

#include <stddef.h>

#define KMS_REPEAT	0x1u	/* argument may be given more than once (a list) */
#define KMS_REQUIRED	0x2u

/* fetch's max_size when none is given (2 GiB): the agent refuses bigger
 * files and the controller refuses to receive more, so a wrong path (a
 * disk image, a growing log) cannot fill the controller's disk. */
#define KMS_FETCH_MAX_DEFAULT	(2ULL << 30)

/*
 * An argument of every module that the controller alone adds (a playbook
 * cannot write it): the services, space-separated, that watch this task.
 * The agent marks them for restart on the host before the task runs and
 * takes the marks back when it changed nothing (agent/restart_mark.h).
 */
#define KMS_ARG_NOTIFY		"notify"

struct kms_arg {
	const char	*name;
	unsigned	 flags;
};

/*
 * What a module does beyond running on its host, for the controller to key
 * on (never its name): kms_module.flags.
 */
/* Sends its file to the controller (FETCH_DATA), which checks the copy and
 * may fail the task after the agent counted it ok or changed. */
#define KMS_M_STREAMS_TO_CONTROLLER	0x1u
/* Reports what runs on the host ("version=V active=A" when ok): a
 * component's state, not a result of its own. */
#define KMS_M_OBSERVES			0x2u
/* Restarts what it manages when a task it watches changes (takes
 * `watch:`); once it has run, a restart an earlier run owed is paid. */
#define KMS_M_RESTARTS			0x4u
/* `template:` may give its `content` (a template file). */
#define KMS_M_CONTENT_TEMPLATE		0x8u
/* `unit_template:` may give its `unit` (a template file). */
#define KMS_M_UNIT_TEMPLATE		0x10u
/* May be one of a step's `verify:` entries. */
#define KMS_M_VERIFIES			0x20u

struct kms_module {
	const char		*name;
	const struct kms_arg	*args;	/* terminated by { NULL, 0 } */
	const char		*help;
	unsigned		 flags;	/* KMS_M_* */
};

/* NULL when there is no such module. */
const struct kms_module *kms_find(const char *module);
/* NULL when the module has no such argument. */
const struct kms_arg *kms_find_arg(const struct kms_module *m, const char *arg);
/* All modules, terminated by an entry with name NULL. */
const struct kms_module *kms_all(void);

#endif
