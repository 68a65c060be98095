/*
 * cmd_day2.c - removal marks, the decisions' host table, the question
 * before a destructive command, and the refusal of an inventory that
 * still names a removed host (see cmd_day2.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_day2.h"
#include "err.h"
#include "spec/inventory.h"
#include "state.h"
#include "state_settings.h"

/* The setting's key: "removed/" and the host's name. */
static int
mark_key(const char *host, char *key, size_t keylen)
{
	return (size_t)snprintf(key, keylen, "removed/%s", host) >= keylen ?
	    KORCH_ERR_TOO_LARGE : KORCH_OK;
}

int
day2_mark_removed(struct kstate *st, const char *host, int dead)
{
	char key[512], val[64];

	if (mark_key(host, key, sizeof(key)) != KORCH_OK)
		return KORCH_ERR_TOO_LARGE;
	snprintf(val, sizeof(val), "%lld %s", (long long)time(NULL),
	    dead ? "dead" : "live");
	return kstate_setting_set(st, key, val);
}

int
day2_removed(struct kstate *st, const char *host, char *when,
    size_t whenlen)
{
	char key[512], *val = NULL;
	long long secs = 0;
	struct tm tm;
	time_t t;
	int r;

	if ((r = mark_key(host, key, sizeof(key))) != KORCH_OK ||
	    (r = kstate_setting_get(st, key, &val)) != KORCH_OK)
		return r;
	if (val == NULL)
		return 0;
	if (when != NULL && whenlen > 0) {
		(void)sscanf(val, "%lld", &secs);
		t = (time_t)secs;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, whenlen, "%Y-%m-%d %H:%M UTC", &tm) == 0)
			snprintf(when, whenlen, "an unknown date");
	}
	free(val);
	return 1;
}

int
day2_clear_removed(struct kstate *st, const char *host)
{
	char key[512];

	if (mark_key(host, key, sizeof(key)) != KORCH_OK)
		return KORCH_ERR_TOO_LARGE;
	return kstate_setting_set(st, key, NULL);
}

struct day2_host *
day2_table(const struct inventory *inv, struct kstate *st, int *err)
{
	static const struct { const char *name; unsigned bit; } roles[] = {
		{ "etcd", DAY2_ETCD }, { "master", DAY2_MASTER },
		{ "node", DAY2_NODE },
	};
	struct day2_host *h;
	size_t i, k;
	int r;

	if ((h = calloc(inv->nhosts ? inv->nhosts : 1, sizeof(*h))) == NULL) {
		*err = KORCH_ERR_ALLOC;
		return NULL;
	}
	for (i = 0; i < inv->nhosts; i++) {
		h[i].name = inv->hosts[i].name;
		for (k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
			if (inventory_host_has_role(&inv->hosts[i],
			    roles[k].name))
				h[i].roles |= roles[k].bit;
		if ((r = day2_removed(st, h[i].name, NULL, 0)) < 0) {
			free(h);
			*err = r;
			return NULL;
		}
		h[i].removed = r;
	}
	return h;
}

int
day2_mark_targets(struct day2_host *h, const struct inventory *inv,
    const char *invpath, int argc, char **argv)
{
	size_t idx;
	int i, bad = 0;

	for (i = 0; i < argc; i++) {
		if (inventory_find_host(inv, argv[i], &idx) == NULL) {
			fprintf(stderr, "korch: %s: no host named '%s'\n",
			    invpath, argv[i]);
			bad = 1;
			continue;
		}
		h[idx].target = 1;
	}
	return bad ? -1 : 0;
}

int
day2_confirm(int yes, const char *question)
{
	char line[32];

	if (yes)
		return 1;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "korch: not a terminal to ask on: run again "
		    "with --yes to do it; nothing was changed\n");
		return 0;
	}
	printf("%s [y/N] ", question);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) != NULL &&
	    (strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0))
		return 1;
	fprintf(stderr, "korch: not confirmed; nothing was changed\n");
	return 0;
}

int
day2_refuse_removed(const struct inventory *inv, const char *invpath,
    struct kstate *st)
{
	char when[64];
	size_t i;
	int r, bad = 0;

	for (i = 0; i < inv->nhosts; i++) {
		const struct inv_host *h = &inv->hosts[i];

		if ((r = day2_removed(st, h->name, when, sizeof(when))) < 0) {
			fprintf(stderr, "korch: state: %s\n",
			    kstate_errmsg(st));
			return KX_INTERNAL;
		}
		if (r == 0)
			continue;
		fprintf(stderr, "%s:%u: hosts: host %s was removed by `korch "
		    "remove` on %s; delete it from %s (line %u), or wipe it "
		    "with `korch reset %s --yes` (--purge-data too for an "
		    "etcd member) and the next apply adds it back as a new "
		    "host\n", invpath, h->line, h->name, when, invpath,
		    h->line, h->name);
		bad = 1;
	}
	if (bad)
		fprintf(stderr, "korch: the inventory names removed hosts; "
		    "nothing was changed\n");
	return bad ? KX_USAGE : KX_OK;
}
