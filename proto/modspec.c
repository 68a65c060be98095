/*
 * modspec.c - the module table modspec.h describes: each module's
 * arguments, one line of help, and the behaviour flags the controller keys on.
 */
#include <string.h>

#include "modspec.h"

#define REQ KMS_REQUIRED
#define REP KMS_REPEAT

static const struct kms_arg file_args[] = {
	{ "path", REQ }, { "content", 0 }, { "src_sha256", 0 },
	{ "src_size", 0 }, { "mode", 0 }, { "uid", 0 }, { "gid", 0 },
	{ "secret", 0 }, { "parents", 0 }, { NULL, 0 }
};
static const struct kms_arg directory_args[] = {
	{ "path", REQ }, { "mode", 0 }, { "uid", 0 }, { "gid", 0 },
	{ "parents", 0 }, { NULL, 0 }
};
static const struct kms_arg absent_args[] = {
	{ "path", REQ }, { "recursive", 0 }, { NULL, 0 }
};
static const struct kms_arg envfile_args[] = {
	{ "path", REQ }, { "key", REQ }, { "value", REQ }, { "mode", 0 },
	{ "quote", 0 }, { NULL, 0 }
};
static const struct kms_arg block_args[] = {
	{ "path", REQ }, { "content", 0 }, { "marker", 0 }, { "mode", 0 },
	{ NULL, 0 }
};
static const struct kms_arg sysctl_args[] = {
	{ "name", REQ }, { "value", REQ }, { "file", 0 }, { "live", 0 },
	{ "missing", 0 }, { NULL, 0 }
};
static const struct kms_arg service_args[] = {
	{ "name", REQ }, { "unit", 0 }, { "unit_dir", 0 }, { "enabled", 0 },
	{ "state", 0 }, { "restart", 0 }, { "on_change", 0 }, { NULL, 0 }
};
static const struct kms_arg command_args[] = {
	{ "argv", REQ | REP }, { "creates", 0 }, { "unless", REP },
	{ "chdir", 0 }, { "env", REP }, { "timeout", 0 },
	{ "changed_when", 0 }, { "retries", 0 }, { "delay", 0 },
	{ "diagnose", REP }, { NULL, 0 }
};
static const struct kms_arg probe_args[] = {
	{ "kind", REQ }, { "host", 0 }, { "port", REQ }, { "path", 0 },
	{ "expect_status", 0 }, { "retries", 0 }, { "interval_ms", 0 },
	{ "deadline", 0 }, { NULL, 0 }
};

static const struct kms_arg fail_args[] = {
	{ "msg", REQ }, { NULL, 0 }
};

static const struct kms_arg observe_args[] = {
	{ "component", REQ }, { "argv", REQ | REP }, { "unit", 0 },
	{ "desired", 0 }, { "holder", 0 }, { NULL, 0 }
};

/* dest is the controller's: the agent checks it is a path but never uses it. */
static const struct kms_arg fetch_args[] = {
	{ "path", REQ }, { "dest", REQ }, { "max_size", 0 }, { NULL, 0 }
};

static const struct kms_module modules[] = {
	{ "file", file_args, "a file's content, mode and owner",
	    KMS_M_CONTENT_TEMPLATE },
	{ "directory", directory_args, "a directory with mode and owner", 0 },
	{ "absent", absent_args, "a path that must not exist", 0 },
	{ "envfile", envfile_args, "one KEY=value line in a sysconfig-style file",
	    0 },
	{ "block", block_args, "a marked block of lines in a shared file "
	    "(/etc/hosts)", KMS_M_CONTENT_TEMPLATE },
	{ "sysctl", sysctl_args, "a kernel parameter, persisted and live", 0 },
	{ "service", service_args, "a systemd unit: file, enabled, running",
	    KMS_M_RESTARTS | KMS_M_UNIT_TEMPLATE },
	{ "command", command_args, "run an argv vector, with guards", 0 },
	{ "probe", probe_args, "wait for a TCP port or HTTP URL",
	    KMS_M_VERIFIES },
	{ "observe", observe_args, "report a component's version and state",
	    KMS_M_OBSERVES },
	{ "fail", fail_args, "fail with a message (with when: a pre-flight check)",
	    0 },
	{ "fetch", fetch_args, "copy a file from the host to dest on the controller",
	    KMS_M_STREAMS_TO_CONTROLLER },
	{ NULL, NULL, NULL, 0 }
};

const struct kms_module *
kms_all(void)
{
	return modules;
}

const struct kms_module *
kms_find(const char *module)
{
	const struct kms_module *m;

	if (module == NULL)
		return NULL;
	for (m = modules; m->name != NULL; m++)
		if (strcmp(m->name, module) == 0)
			return m;
	return NULL;
}

const struct kms_arg *
kms_find_arg(const struct kms_module *m, const char *arg)
{
	const struct kms_arg *a;

	if (m == NULL || arg == NULL)
		return NULL;
	for (a = m->args; a->name != NULL; a++)
		if (strcmp(a->name, arg) == 0)
			return a;
	return NULL;
}
