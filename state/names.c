/*
 * names.c - the names the state database stores enums as, one list per
 * enum in the enum's order, and the two lookups the other files of state/
 * use.  The schema's CHECK lists (migrations.c) say the same.
 */
#include <string.h>

#include "state-int.h"
#include "state_lock.h"
#include "state_record.h"
#include "state_upgrade.h"

#define NAMES_MAX	5	/* the longest list */

/* Each list ends at its first NULL. */
static const char *const names[KN__COUNT][NAMES_MAX + 1] = {
	[KN_STATUS] = { [KSTATE_OK] = "ok", [KSTATE_CHANGED] = "changed",
	    [KSTATE_FAILED] = "failed", [KSTATE_SKIPPED] = "skipped",
	    [KSTATE_UNREACHABLE] = "unreachable" },
	[KN_OUTCOME] = { [KSTATE_HOST_CONVERGED] = "converged",
	    [KSTATE_HOST_FAILED] = "failed",
	    [KSTATE_HOST_UNREACHABLE] = "unreachable" },
	[KN_RUN_RESULT] = { [KSTATE_RUN_RUNNING] = "running",
	    [KSTATE_RUN_CONVERGED] = "converged",
	    [KSTATE_RUN_FAILED] = "failed",
	    [KSTATE_RUN_INTERRUPTED] = "interrupted",
	    [KSTATE_RUN_ABORTED] = "aborted" },
	[KN_UPGRADE_STATUS] = { [KSTATE_UPG_RUNNING] = "running",
	    [KSTATE_UPG_FAILED] = "failed", [KSTATE_UPG_DONE] = "done",
	    [KSTATE_UPG_ABANDONED] = "abandoned" },
	[KN_PHASE_STATUS] = { [KSTATE_PH_PENDING] = "pending",
	    [KSTATE_PH_RUNNING] = "running", [KSTATE_PH_DONE] = "done",
	    [KSTATE_PH_FAILED] = "failed" },
	/* Not enums of the API: the upgrade journal's kind and phase. */
	[KN_UPGRADE_KIND] = { "upgrade", "rollback" },
	[KN_PHASE] = { "snapshot", "etcd", "master", "node" },
};

const char *
kstate_name(enum kstate_names list, unsigned v)
{
	/* The lists have no holes: past the last name is NULL. */
	if (v > NAMES_MAX || names[list][v] == NULL)
		return "?";
	return names[list][v];
}

int
kstate_parse(enum kstate_names list, const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; names[list][i] != NULL; i++)
		if (strcmp(names[list][i], name) == 0)
			return i;
	return -1;
}
