/*
 * upgrade_view.c - the journal of an upgrade or rollback shown: as
 * JSON, as a summary with a line per phase, as a few words for a refusal
 * (see upgrade_view.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "engine/report.h"
#include "state.h"
#include "state_upgrade.h"
#include "cluster/upgrade_view.h"

int
upgrade_view_json(struct kstate *st, const struct kstate_upgrade *u,
    struct json *j)
{
	struct kstate_phase *ph = NULL;
	size_t n = 0, i, done = 0;
	int r;

	if ((r = kstate_phases_list(st, u->id, &ph, &n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		done += ph[i].status == KSTATE_PH_DONE;
	json_obj_begin(j);
	json_kint(j, "id", u->id);
	json_kstr(j, "kind", u->kind);
	json_kstr(j, "from", u->from_version);
	json_kstr(j, "to", u->to_version);
	json_kstr(j, "status", kstate_upgrade_status_name(u->status));
	json_kint(j, "max_unavailable", u->max_unavailable);
	if (u->parent_id > 0)
		json_kint(j, "undoes", u->parent_id);
	json_kstr(j, "snapshot", u->snapshot);
	json_kstr(j, "message", u->message);
	json_kint(j, "started_at_ms", u->started_at);
	json_kint(j, "ended_at_ms", u->ended_at);
	json_kint(j, "phases_total", (int64_t)n);
	json_kint(j, "phases_done", (int64_t)done);
	json_key(j, "phases");
	json_arr_begin(j);
	for (i = 0; i < n; i++) {
		json_obj_begin(j);
		json_kint(j, "seq", ph[i].seq);
		json_kstr(j, "phase", ph[i].phase);
		json_kstr(j, "host", ph[i].host);
		json_kint(j, "batch", ph[i].batch);
		json_kstr(j, "status", kstate_phase_status_name(ph[i].status));
		json_kstr(j, "from", ph[i].from_version);
		json_kstr(j, "to", ph[i].to_version);
		json_kint(j, "attempts", ph[i].attempts);
		json_kint(j, "started_at_ms", ph[i].started_at);
		json_kint(j, "ended_at_ms", ph[i].ended_at);
		json_kstr(j, "message", ph[i].message);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
	kstate_phases_free(ph, n);
	return 0;
}

/* "  message" on the rest of a table's line: one line per host joined
 * with "; ". */
static void
print_message(FILE *out, const char *m)
{
	if (m != NULL)
		fputs("  ", out);
	for (; m != NULL && *m != '\0'; m++)
		if (*m == '\n')
			fputs("; ", out);
		else
			fputc(*m, out);
	fputc('\n', out);
}

int
upgrade_view_print(struct kstate *st, const struct kstate_upgrade *u,
    int all, FILE *out)
{
	struct kstate_phase *ph = NULL;
	size_t n = 0, i, done = 0;
	char t[32];
	int r;

	if ((r = kstate_phases_list(st, u->id, &ph, &n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		done += ph[i].status == KSTATE_PH_DONE;
	fprintf(out, "%s #%lld %s -> %s: %s; %zu of %zu phases done\n",
	    u->kind, (long long)u->id, u->from_version, u->to_version,
	    kstate_upgrade_status_name(u->status), done, n);
	if (u->snapshot != NULL)
		fprintf(out, "  etcd snapshot: %s\n", u->snapshot);
	if (u->message != NULL)
		print_message(out, u->message);
	for (i = 0; i < n; i++) {
		if (!all && ph[i].status == KSTATE_PH_DONE)
			continue;
		report_fmt_time(ph[i].status == KSTATE_PH_RUNNING ?
		    ph[i].started_at : ph[i].ended_at, 0, t, sizeof(t));
		fprintf(out, "  %2d %-8s %-16s %-7s %s", ph[i].seq,
		    ph[i].phase, ph[i].host,
		    kstate_phase_status_name(ph[i].status), t);
		print_message(out, ph[i].message);
	}
	kstate_phases_free(ph, n);
	return 0;
}

void
upgrade_view_position(struct kstate *st, const struct kstate_upgrade *u,
    char *buf, size_t len)
{
	struct kstate_phase *ph = NULL;
	size_t n = 0, i, done = 0;
	const struct kstate_phase *at = NULL;

	if (kstate_phases_list(st, u->id, &ph, &n) != 0)
		n = 0;
	for (i = 0; i < n; i++) {
		if (ph[i].status == KSTATE_PH_DONE)
			done++;
		else if (at == NULL)
			at = &ph[i];
	}
	if (at != NULL)
		snprintf(buf, len, "%s #%lld to %s, %s at the %s phase on %s "
		    "(%zu of %zu phases done)", u->kind, (long long)u->id,
		    u->to_version, at->status == KSTATE_PH_PENDING ?
		    "next" : "stopped", at->phase, at->host, done, n);
	else
		snprintf(buf, len, "%s #%lld to %s (%zu of %zu phases done)",
		    u->kind, (long long)u->id, u->to_version, done, n);
	kstate_phases_free(ph, n);
}
