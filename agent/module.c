/*
 * module.c - the module table and the dispatcher.  The dispatcher checks
 * every argument against the module's spec (proto/modspec.c, shared with
 * the controller) before the handler runs, so handlers only ever see names
 * they know, each at most once unless it is a list, and without NUL bytes
 * unless the module allows them.
 */
#include <string.h>

#include "err.h"
#include "module.h"

static const struct agent_module *const modules[] = {
	&agent_mod_file,
	&agent_mod_directory,
	&agent_mod_absent,
	&agent_mod_envfile,
	&agent_mod_block,
	&agent_mod_sysctl,
	&agent_mod_service,
	&agent_mod_command,
	&agent_mod_probe,
	&agent_mod_fail,
	&agent_mod_observe,
	&agent_mod_fetch,
};

const struct agent_module *
agent_module_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		if (strcmp(modules[i]->name, name) == 0)
			return modules[i];
	return NULL;
}

static int
may_hold_nul(const struct agent_module *m, const char *key)
{
	size_t i;

	for (i = 0; m->binary != NULL && m->binary[i] != NULL; i++)
		if (strcmp(m->binary[i], key) == 0)
			return 1;
	return 0;
}

static int
check_args(const struct agent_module *m, const struct kp_task *t,
    struct agent_outcome *o)
{
	const struct kms_module *spec;
	const struct kms_arg *a;
	uint32_t i, j;

	if ((spec = kms_find(m->name)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "module %s has no argument "
		    "spec", m->name);
		return KORCH_ERR_INTERNAL;
	}

	for (i = 0; i < t->nargs; i++) {
		const struct kp_kv *kv = &t->args[i];

		if (kv->key == NULL || kv->val == NULL)
			goto bad;
		if ((a = kms_find_arg(spec, kv->key)) == NULL) {
			agent_outcome_set(o, KP_ST_FAILED, "module %s: unknown "
			    "argument \"%.64s\"", m->name, kv->key);
			return KORCH_ERR_INVALID_ARG;
		}
		if (!may_hold_nul(m, kv->key) &&
		    strlen(kv->val) != kv->val_len) {
			agent_outcome_set(o, KP_ST_FAILED, "module %s: argument "
			    "%s holds a NUL byte", m->name, kv->key);
			return KORCH_ERR_INVALID_ARG;
		}
		if (a->flags & KMS_REPEAT)
			continue;
		for (j = 0; j < i; j++) {
			if (strcmp(t->args[j].key, kv->key) == 0) {
				agent_outcome_set(o, KP_ST_FAILED, "module %s: "
				    "argument %s given more than once",
				    m->name, kv->key);
				return KORCH_ERR_INVALID_ARG;
			}
		}
	}
	for (a = spec->args; a->name != NULL; a++) {
		if ((a->flags & KMS_REQUIRED) &&
		    kp_task_arg(t, a->name) == NULL) {
			agent_outcome_set(o, KP_ST_FAILED, "module %s: missing "
			    "required argument %s", m->name, a->name);
			return KORCH_ERR_INVALID_ARG;
		}
	}
	return KORCH_OK;
bad:
	agent_outcome_set(o, KP_ST_FAILED, "module %s: malformed argument",
	    m->name);
	return KORCH_ERR_INVALID_ARG;
}

int
agent_module_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	const struct agent_module *m;

	agent_outcome_init(o);
	if (t == NULL || t->module == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "task has no module");
		return KORCH_OK;
	}
	if ((m = agent_module_find(t->module)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "unknown module \"%.64s\"",
		    t->module);
		return KORCH_OK;
	}
	if (check_args(m, t, o) != KORCH_OK)
		return KORCH_OK;
	if (m->flags & AGENT_MOD_READONLY)
		check_only = 0;
	return m->run(t, s, check_only, o);
}
