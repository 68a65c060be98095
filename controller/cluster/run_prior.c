/*
 * run_prior.c - which hosts a step's services already run on (the state's
 * observed rows), as prior.<step> variables and as rolling orders.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "modspec.h"
#include "state_query.h"
#include "engine/dag.h"
#include "engine/vars.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "cluster/run_prior.h"

static int
step_has_service(const struct pb_step *st)
{
	size_t t;

	for (t = 0; t < st->ntasks; t++)
		if (st->tasks[t].mod->flags & KMS_M_RESTARTS)
			return 1;
	return 0;
}

static const struct kstate_observed *
find_row(const struct kstate_observed *rows, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].task_key, key) == 0)
			return &rows[i];
	return NULL;
}

/* Every service task of st is observed ok on the host of rows. */
static bool
ran_before(const struct pb_step *st, const struct kstate_observed *rows,
    size_t n)
{
	const struct kstate_observed *o;
	size_t t;

	for (t = 0; t < st->ntasks; t++) {
		if (!(st->tasks[t].mod->flags & KMS_M_RESTARTS))
			continue;
		o = find_row(rows, n, st->tasks[t].key);
		if (o == NULL || o->status != KSTATE_OK)
			return false;
	}
	return true;
}

/* prior[host] for step s, as a variable, and the roll. */
static int
apply_step(const struct playbook *pb, size_t s, const struct inventory *inv,
    struct dag *dag, const bool *prior, struct vars *extra, int roll)
{
	const struct pb_step *st = &pb->steps[s];
	const size_t *hosts;
	size_t nh, i, n = 0, *order = NULL;
	char name[256], *list = NULL;
	size_t len = 0;
	FILE *fp;
	int r, any = 0;

	if ((fp = open_memstream(&list, &len)) == NULL)
		return KORCH_ERR_ALLOC;
	hosts = dag_step_hosts(dag, s, &nh);
	for (i = 0; i < nh; i++)
		if (prior[hosts[i]])
			fprintf(fp, "%s%s", any++ ? "," : "",
			    inv->hosts[hosts[i]].name);
	if (fclose(fp) != 0) {
		free(list);
		return KORCH_ERR_ALLOC;
	}
	if ((size_t)snprintf(name, sizeof(name), "prior.%s", st->name) >=
	    sizeof(name))
		r = KORCH_ERR_TOO_LARGE;
	else
		r = vars_set(extra, name, list);
	free(list);
	/* --all-at-once ends the rolls, but not where a host is new: new
	 * etcd members must still join one after the other. */
	if (r != 0 || st->serial == 0 || !any || (!roll && (size_t)any == nh))
		return r;
	if ((order = malloc((nh + 1) * sizeof(*order))) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < nh; i++)
		if (prior[hosts[i]])
			order[n++] = hosts[i];
	for (i = 0; i < nh; i++)
		if (!prior[hosts[i]])
			order[n++] = hosts[i];
	r = dag_set_roll(dag, s, st->serial, order, n);
	free(order);
	return r;
}

int
prior_apply(struct kstate *st, const struct playbook *pb,
    const struct inventory *inv, struct dag *dag, struct vars *extra,
    int roll)
{
	struct kstate_observed *rows;
	size_t s, h, n, nh = inv->nhosts;
	bool *prior;
	int r = 0;

	if ((prior = calloc(pb->nsteps * nh + 1, sizeof(*prior))) == NULL)
		return KORCH_ERR_ALLOC;
	/* One query per host: a fleet of a thousand hosts asks a thousand
	 * times, not once per step too. */
	for (h = 0; st != NULL && h < nh && r == 0; h++) {
		rows = NULL;
		n = 0;
		if ((r = kstate_observed_list(st, inv->hosts[h].name, &rows,
		    &n)) != 0)
			break;
		for (s = 0; s < pb->nsteps; s++)
			if (dag_applies(dag, s, h) &&
			    step_has_service(&pb->steps[s]))
				prior[s * nh + h] = ran_before(&pb->steps[s],
				    rows, n);
		kstate_observed_free(rows, n);
	}
	for (s = 0; s < pb->nsteps && r == 0; s++)
		if (step_has_service(&pb->steps[s]))
			r = apply_step(pb, s, inv, dag, prior + s * nh, extra,
			    roll);
	free(prior);
	return r;
}
