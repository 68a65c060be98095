/*
 * module.c - the module table and the dispatcher.  The dispatcher checks
 * every argument against the module's spec (proto/modspec.c, shared with
 * the controller) before the handler runs, so handlers only ever see names
 * they know, each at most once unless it is a list, and without NUL bytes
 * unless the module allows them.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "module.h"
#include "restart_mark.h"

/* The most services one task's notify may name. */
#define NOTIFY_MAX	16
#define PATH_MAX_WHY	512

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
		if (strcmp(kv->key, KMS_ARG_NOTIFY) == 0)
			continue;
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

/* The units a task's notify names, each marked (restart_mark.h) before
 * the task may change what they watch. */
struct notify {
	char	unit[NOTIFY_MAX][300];
	int	created[NOTIFY_MAX];
	size_t	n;
};

static int
notify_mark(const struct kp_task *t, struct notify *nf,
    struct agent_outcome *o)
{
	const struct kp_kv *kv = kp_task_arg(t, KMS_ARG_NOTIFY);
	char name[300], why[PATH_MAX_WHY];
	const char *p, *e;
	size_t len;

	nf->n = 0;
	for (p = kv != NULL ? kv->val : ""; *p != '\0'; p = e) {
		p += strspn(p, " ");
		if (*p == '\0')
			break;
		len = strcspn(p, " ");
		e = p + len;
		if (len >= sizeof(name) || nf->n == NOTIFY_MAX)
			goto bad;
		memcpy(name, p, len);
		name[len] = '\0';
		if (agent_unit_name(name, nf->unit[nf->n],
		    sizeof(nf->unit[nf->n])) != KORCH_OK)
			goto bad;
		if (agent_restart_mark(nf->unit[nf->n], &nf->created[nf->n],
		    why, sizeof(why)) != KORCH_OK) {
			agent_outcome_set(o, KP_ST_FAILED, "cannot mark %s for "
			    "restart: %s", nf->unit[nf->n], why);
			return -1;
		}
		nf->n++;
	}
	return 0;
bad:
	agent_outcome_set(o, KP_ST_FAILED, "notify: not a list of at most %d "
	    "unit names", NOTIFY_MAX);
	return -1;
}

/* A task that changed nothing owes no restart: take back its marks. */
static void
notify_settle(const struct notify *nf, const struct agent_outcome *o)
{
	char why[PATH_MAX_WHY];
	size_t i;

	if (o->status != KP_ST_OK && o->status != KP_ST_SKIPPED)
		return;
	for (i = 0; i < nf->n; i++)
		if (nf->created[i])
			(void)agent_restart_unmark(nf->unit[i], why,
			    sizeof(why));
}

int
agent_module_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	const struct agent_module *m;
	struct notify nf;
	int r;

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
		return m->run(t, s, 0, o);
	if (check_only)
		return m->run(t, s, 1, o);
	if (notify_mark(t, &nf, o) != 0)
		return KORCH_OK;
	r = m->run(t, s, 0, o);
	notify_settle(&nf, o);
	return r;
}
