/*
 * sched_outcome.c - after sched_run(): how the run and each host fared,
 * the recap lines, and the per-host summary for --json.
 */
#include <stddef.h>

#include "wire.h"
#include "base/json.h"
#include "spec/inventory.h"
#include "engine/sched-int.h"

void
sched_outcome(const struct sched *s, unsigned *hosts, unsigned *failed,
    unsigned *unreachable, unsigned *changed)
{
	const struct shost *h;
	size_t i;

	*hosts = *failed = *unreachable = *changed = 0;
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		(*hosts)++;
		*changed += h->c.changed;
		if (h->st == HS_UNREACHABLE)
			(*unreachable)++;
		else if (h->st != HS_DONE || h->c.failed > 0)
			(*failed)++;
	}
}

enum sched_host_result
sched_host_result(const struct sched *s, size_t host, const char **why,
    const char **task)
{
	const struct shost *h = &s->hosts[host];
	size_t k;

	*why = *task = NULL;
	if (h->st == HS_EXCLUDED)
		return SCHED_HOST_EXCLUDED;
	if (h->st == HS_DONE && h->c.failed == 0)
		return SCHED_HOST_OK;
	*why = h->error;
	for (k = 0; k < h->nnotes && *why == NULL; k++)
		if (h->notes[k].status == KP_ST_FAILED) {
			*why = h->notes[k].message;
			*task = h->notes[k].key;
		}
	return h->st == HS_UNREACHABLE ? SCHED_HOST_UNREACHABLE :
	    SCHED_HOST_FAILED;
}

void
sched_recap(const struct sched *s)
{
	const struct shost *h;
	size_t i, k;

	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		report_recap_host(s->rep, h->name, &h->c,
		    h->st == HS_UNREACHABLE, h->error);
		/* Why, under it: the end of the output is where one looks. */
		if (h->error != NULL)
			report_recap_failure(s->rep, NULL, h->error);
		for (k = 0; k < h->nnotes; k++)
			if (h->notes[k].status == KP_ST_FAILED)
				report_recap_failure(s->rep, h->notes[k].key,
				    h->notes[k].message);
	}
}

void
sched_json_hosts(const struct sched *s, struct json *j)
{
	const struct shost *h;
	size_t i, k;

	json_key(j, "hosts");
	json_arr_begin(j);
	for (i = 0; i < s->nhosts; i++) {
		h = &s->hosts[i];
		if (h->st == HS_EXCLUDED)
			continue;
		json_obj_begin(j);
		json_kstr(j, "name", h->name);
		json_kstr(j, "address", s->inv->hosts[i].address);
		json_kint(j, "ok", h->c.ok);
		json_kint(j, "changed", h->c.changed);
		json_kint(j, "failed", h->c.failed);
		json_kint(j, "skipped", h->c.skipped);
		json_kbool(j, "unreachable", h->st == HS_UNREACHABLE);
		json_kstr(j, "state", hstate_names[h->st]);
		json_kstr(j, "error", h->error);
		json_kbool(j, "agent_uploaded", h->uploaded);
		json_key(j, "tasks");
		json_arr_begin(j);
		for (k = 0; k < h->nnotes; k++) {
			json_obj_begin(j);
			json_kstr(j, "task", h->notes[k].key);
			json_kstr(j, "status",
			    kp_status_name(h->notes[k].status));
			json_kstr(j, "message", h->notes[k].message);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
}
