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

struct kms_arg {
	const char	*name;
	unsigned	 flags;
};

struct kms_module {
	const char		*name;
	const struct kms_arg	*args;	/* terminated by { NULL, 0 } */
	const char		*help;
};

/* NULL when there is no such module. */
const struct kms_module *kms_find(const char *module);
/* NULL when the module has no such argument. */
const struct kms_arg *kms_find_arg(const struct kms_module *m, const char *arg);
/* All modules, terminated by an entry with name NULL. */
const struct kms_module *kms_all(void);

#endif
