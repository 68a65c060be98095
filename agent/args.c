/*
 * args.c - reading task arguments.  Every value arrives as a string from
 * the controller, which validates too; the agent checks again because a
 * bad value must end as a clear task failure, never as a surprise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "module.h"

const char *
agent_arg_str(const struct kp_task *t, const char *key, const char *def)
{
	const struct kp_kv *kv = kp_task_arg(t, key);

	return kv != NULL ? kv->val : def;
}

static int
invalid(struct agent_outcome *o, const char *key, const char *why,
    const char *val)
{
	agent_outcome_set(o, KP_ST_FAILED, "argument %s: %s (got \"%.64s\")",
	    key, why, val);
	return KORCH_ERR_INVALID_ARG;
}

int
agent_arg_bool(const struct kp_task *t, const char *key, int def, int *out,
    struct agent_outcome *o)
{
	const char *v = agent_arg_str(t, key, NULL);

	if (v == NULL)
		*out = def;
	else if (strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "0") == 0)
		*out = 0;
	else
		return invalid(o, key, "must be 0 or 1", v);
	return KORCH_OK;
}

/* Digits only in the given base: strtoull alone accepts "-1", " 1", "+1". */
static int
parse_ull(const char *v, int base, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long x;
	const char *p;
	char *end;

	if (*v == '\0')
		return -1;
	for (p = v; *p != '\0'; p++)
		if (*p < '0' || *p > (base == 8 ? '7' : '9'))
			return -1;
	errno = 0;
	x = strtoull(v, &end, base);
	if (errno != 0 || *end != '\0' || x > max)
		return -1;
	*out = x;
	return 0;
}

int
agent_arg_uint(const struct kp_task *t, const char *key,
    unsigned long long def, unsigned long long max, unsigned long long *out,
    struct agent_outcome *o)
{
	const char *v = agent_arg_str(t, key, NULL);

	if (v == NULL) {
		*out = def;
		return KORCH_OK;
	}
	if (parse_ull(v, 10, max, out) != 0)
		return invalid(o, key, "not a number in range", v);
	return KORCH_OK;
}

int
agent_arg_mode(const struct kp_task *t, const char *key, mode_t def,
    mode_t *out, struct agent_outcome *o)
{
	const char *v = agent_arg_str(t, key, NULL);
	unsigned long long x;

	if (v == NULL) {
		*out = def;
		return KORCH_OK;
	}
	if (strlen(v) > 5 || parse_ull(v, 8, 07777, &x) != 0)
		return invalid(o, key, "not an octal mode (e.g. 0644)", v);
	*out = (mode_t)x;
	return KORCH_OK;
}

int
agent_arg_id(const struct kp_task *t, const char *key, long long *out,
    struct agent_outcome *o)
{
	const char *v = agent_arg_str(t, key, NULL);
	unsigned long long x;

	*out = AGENT_ID_NONE;
	if (v == NULL)
		return KORCH_OK;
	/* (uid_t)-1 means "no change" to chown, so it is not a valid id. */
	if (parse_ull(v, 10, 0xfffffffeULL, &x) != 0)
		return invalid(o, key, "not a numeric id", v);
	*out = (long long)x;
	return KORCH_OK;
}

int
agent_arg_enum(const struct kp_task *t, const char *key,
    const char *const *choices, int def, int *out, struct agent_outcome *o)
{
	const char *v = agent_arg_str(t, key, NULL);
	char want[128];
	int i;

	if (v == NULL) {
		*out = def;
		return KORCH_OK;
	}
	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(v, choices[i]) == 0) {
			*out = i;
			return KORCH_OK;
		}
	}
	want[0] = '\0';
	for (i = 0; choices[i] != NULL; i++) {
		if (i > 0)
			(void)strncat(want, "|", sizeof(want) - strlen(want) - 1);
		(void)strncat(want, choices[i], sizeof(want) - strlen(want) - 1);
	}
	agent_outcome_set(o, KP_ST_FAILED, "argument %s: must be %s "
	    "(got \"%.64s\")", key, want, v);
	return KORCH_ERR_INVALID_ARG;
}

int
agent_arg_path(const struct kp_task *t, const char *key, const char **out,
    struct agent_outcome *o)
{
	const char *v = agent_arg_str(t, key, NULL);
	size_t n;

	if (v == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "argument %s is required",
		    key);
		return KORCH_ERR_INVALID_ARG;
	}
	n = strlen(v);
	if (v[0] != '/')
		return invalid(o, key, "must be an absolute path", v);
	if (n >= 4096)
		return invalid(o, key, "path too long", v);
	if (strspn(v, "/") == n)
		return invalid(o, key, "refusing to manage /", v);
	/* ".." would let a rendered path escape the place it names. */
	if (strstr(v, "/../") != NULL || (n >= 3 &&
	    strcmp(v + n - 3, "/..") == 0))
		return invalid(o, key, "must not contain ..", v);
	*out = v;
	return KORCH_OK;
}

int
agent_arg_list(const struct kp_task *t, const char *key, char ***out,
    size_t *n, struct agent_outcome *o)
{
	char **v;
	size_t count = 0, i;

	*out = NULL;
	*n = 0;
	for (i = 0; i < t->nargs; i++)
		if (strcmp(t->args[i].key, key) == 0)
			count++;
	if ((v = calloc(count + 1, sizeof(*v))) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	for (i = 0, count = 0; i < t->nargs; i++)
		if (strcmp(t->args[i].key, key) == 0)
			v[count++] = t->args[i].val;
	*out = v;
	*n = count;
	return KORCH_OK;
}
