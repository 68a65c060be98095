/*
 * dag.c - see dag.h.
 *
 * Playbooks have tens of steps and inventories hundreds of hosts, so the
 * plan is a dense step x host matrix plus index lists; the quadratic
 * topological sort below is cheaper than any cleverness at that size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/diag.h"
#include "modspec.h"
#include "spec/inventory.h"
#include "spec/playbook.h"
#include "engine/dag.h"

struct idxlist {
	size_t	*v;
	size_t	 n;
};

struct dag {
	size_t		 nsteps;
	size_t		 nhosts;
	unsigned char	*applies;	/* [step * nhosts + host] */
	size_t		*order;		/* nsteps */
	struct idxlist	*host_steps;	/* nhosts */
	struct idxlist	*step_hosts;	/* nsteps */
	struct idxlist	*needs;		/* nsteps */
	/* Rolling steps (dag_set_roll): the step's hosts in roll order, at
	 * most roll_width[step] at a time; n == 0: not rolling. */
	struct idxlist	*roll;		/* nsteps */
	unsigned	*roll_width;	/* nsteps */
};

static int
step_matches(const struct pb_step *s, const struct inv_host *h)
{
	size_t i;

	if (s->all)
		return 1;
	for (i = 0; i < s->nroles; i++)
		if (inventory_host_has_role(h, s->roles[i]))
			return 1;
	return 0;
}

/* Kahn's algorithm, always taking the lowest-numbered ready step. */
static int
topo_sort(struct dag *g)
{
	size_t *left = NULL, done = 0, i, j, k;
	unsigned char *placed = NULL;
	int r = KORCH_ERR_ALLOC;

	if ((left = calloc(g->nsteps + 1, sizeof(*left))) == NULL ||
	    (placed = calloc(g->nsteps + 1, 1)) == NULL)
		goto out;
	for (i = 0; i < g->nsteps; i++)
		left[i] = g->needs[i].n;
	while (done < g->nsteps) {
		for (i = 0; i < g->nsteps; i++)
			if (!placed[i] && left[i] == 0)
				break;
		if (i == g->nsteps) {
			r = KORCH_ERR_CYCLE;
			goto out;
		}
		placed[i] = 1;
		g->order[done++] = i;
		/* Every step that needs i has one need fewer. */
		for (j = 0; j < g->nsteps; j++)
			for (k = 0; k < g->needs[j].n; k++)
				if (g->needs[j].v[k] == i)
					left[j]--;
	}
	r = 0;
 out:
	free(left);
	free(placed);
	return r;
}

static int
build_needs(struct dag *g, const struct playbook *pb)
{
	const struct pb_step *s;
	size_t i, j, k, t;

	for (i = 0; i < g->nsteps; i++) {
		s = &pb->steps[i];
		if ((g->needs[i].v = calloc(s->nneeds + 1,
		    sizeof(size_t))) == NULL)
			return KORCH_ERR_ALLOC;
		for (j = 0; j < s->nneeds; j++) {
			t = s->needs[j].step;
			if (t >= g->nsteps)
				return KORCH_ERR_INTERNAL;
			for (k = 0; k < g->needs[i].n; k++)
				if (g->needs[i].v[k] == t)
					break;
			if (k == g->needs[i].n)
				g->needs[i].v[g->needs[i].n++] = t;
		}
	}
	return 0;
}

static int
build_lists(struct dag *g)
{
	size_t s, h, i;

	for (s = 0; s < g->nsteps; s++)
		if ((g->step_hosts[s].v = calloc(g->nhosts + 1,
		    sizeof(size_t))) == NULL)
			return KORCH_ERR_ALLOC;
	for (h = 0; h < g->nhosts; h++)
		if ((g->host_steps[h].v = calloc(g->nsteps + 1,
		    sizeof(size_t))) == NULL)
			return KORCH_ERR_ALLOC;
	for (s = 0; s < g->nsteps; s++)
		for (h = 0; h < g->nhosts; h++)
			if (g->applies[s * g->nhosts + h])
				g->step_hosts[s].v[g->step_hosts[s].n++] = h;
	for (i = 0; i < g->nsteps; i++) {
		s = g->order[i];
		for (h = 0; h < g->nhosts; h++)
			if (g->applies[s * g->nhosts + h])
				g->host_steps[h].v[g->host_steps[h].n++] = s;
	}
	return 0;
}

/*
 * A watch on another step's task only means something on hosts where that
 * step ran: the watching step must not reach hosts the watched one misses.
 */
static int
check_watch_hosts(const struct dag *g, const struct playbook *pb,
    const struct inventory *inv, struct diag *d)
{
	const struct pb_step *s;
	const struct pb_task *t;
	const struct pb_watch *w;
	char path[300];
	size_t si, ti, wi, h;
	int nbad = 0;

	for (si = 0; si < g->nsteps; si++) {
		s = &pb->steps[si];
		for (ti = 0; ti < s->ntasks; ti++) {
			t = &s->tasks[ti];
			for (wi = 0; wi < t->nwatch; wi++) {
				w = &t->watch[wi];
				if (w->step == si)
					continue;
				for (h = 0; h < g->nhosts; h++) {
					if (!g->applies[si * g->nhosts + h] ||
					    g->applies[w->step * g->nhosts + h])
						continue;
					snprintf(path, sizeof(path),
					    "%s.%s.watch[%zu]", t->path,
					    t->mod->name, wi);
					diag_add(d, s->file, w->line, w->col,
					    path, "watch target '%s' does "
					    "not run on host '%s', where step "
					    "'%s' runs", w->name,
					    inv->hosts[h].name, s->name);
					nbad++;
					break;
				}
			}
		}
	}
	return nbad ? KORCH_ERR_PARSE : 0;
}

int
dag_build(const struct playbook *pb, const struct inventory *inv,
    struct dag **out, struct diag *d)
{
	struct dag *g = NULL;
	size_t s, h;
	int r = KORCH_ERR_ALLOC;

	*out = NULL;
	if (pb == NULL || inv == NULL)
		return KORCH_ERR_INVALID_ARG;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		goto out;
	g->nsteps = pb->nsteps;
	g->nhosts = inv->nhosts;
	if ((g->applies = calloc(g->nsteps * g->nhosts + 1, 1)) == NULL ||
	    (g->order = calloc(g->nsteps + 1, sizeof(size_t))) == NULL ||
	    (g->host_steps = calloc(g->nhosts + 1,
	    sizeof(struct idxlist))) == NULL ||
	    (g->step_hosts = calloc(g->nsteps + 1,
	    sizeof(struct idxlist))) == NULL ||
	    (g->needs = calloc(g->nsteps + 1, sizeof(struct idxlist))) == NULL ||
	    (g->roll = calloc(g->nsteps + 1, sizeof(struct idxlist))) == NULL ||
	    (g->roll_width = calloc(g->nsteps + 1, sizeof(unsigned))) == NULL)
		goto out;
	for (s = 0; s < g->nsteps; s++)
		for (h = 0; h < g->nhosts; h++)
			g->applies[s * g->nhosts + h] =
			    (unsigned char)step_matches(&pb->steps[s],
			    &inv->hosts[h]);
	if ((r = build_needs(g, pb)) != 0 ||
	    (r = topo_sort(g)) != 0 ||
	    (r = build_lists(g)) != 0 ||
	    (r = check_watch_hosts(g, pb, inv, d)) != 0)
		goto out;
	*out = g;
	g = NULL;
 out:
	dag_free(g);
	return r;
}

void
dag_free(struct dag *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; g->host_steps != NULL && i < g->nhosts; i++)
		free(g->host_steps[i].v);
	for (i = 0; g->step_hosts != NULL && i < g->nsteps; i++)
		free(g->step_hosts[i].v);
	for (i = 0; g->needs != NULL && i < g->nsteps; i++)
		free(g->needs[i].v);
	for (i = 0; g->roll != NULL && i < g->nsteps; i++)
		free(g->roll[i].v);
	free(g->roll);
	free(g->roll_width);
	free(g->host_steps);
	free(g->step_hosts);
	free(g->needs);
	free(g->order);
	free(g->applies);
	free(g);
}

size_t
dag_nsteps(const struct dag *g)
{
	return g == NULL ? 0 : g->nsteps;
}

size_t
dag_nhosts(const struct dag *g)
{
	return g == NULL ? 0 : g->nhosts;
}

const size_t *
dag_order(const struct dag *g, size_t *n)
{
	*n = g == NULL ? 0 : g->nsteps;
	return g == NULL ? NULL : g->order;
}

static const size_t *
list(const struct idxlist *l, size_t i, size_t max, size_t *n)
{
	if (l == NULL || i >= max) {
		*n = 0;
		return NULL;
	}
	*n = l[i].n;
	return l[i].v;
}

const size_t *
dag_host_steps(const struct dag *g, size_t host, size_t *n)
{
	return list(g ? g->host_steps : NULL, host, g ? g->nhosts : 0, n);
}

const size_t *
dag_step_hosts(const struct dag *g, size_t step, size_t *n)
{
	return list(g ? g->step_hosts : NULL, step, g ? g->nsteps : 0, n);
}

const size_t *
dag_step_needs(const struct dag *g, size_t step, size_t *n)
{
	return list(g ? g->needs : NULL, step, g ? g->nsteps : 0, n);
}

size_t
dag_step_nneeds(const struct dag *g, size_t step)
{
	size_t n;

	(void)dag_step_needs(g, step, &n);
	return n;
}

int
dag_applies(const struct dag *g, size_t step, size_t host)
{
	if (g == NULL || step >= g->nsteps || host >= g->nhosts)
		return 0;
	return g->applies[step * g->nhosts + host];
}

size_t
dag_node_index(const struct dag *g, size_t step, size_t host)
{
	return step * g->nhosts + host;
}

/* Where need n of (step, host) stands: DAG_READY (met), DAG_WAIT or
 * DAG_BLOCKED, by the rules in dag.h. */
static enum dag_ready
need_ready(const struct dag *g, size_t n, size_t host,
    const enum dag_status *status)
{
	const struct idxlist *hs = &g->step_hosts[n];
	unsigned ok = 0, failed = 0, waiting = 0;
	size_t j;

	for (j = 0; j < hs->n; j++) {
		switch (status[dag_node_index(g, n, hs->v[j])]) {
		case DAG_ST_OUT:
			break;
		case DAG_ST_OK:
			ok++;
			break;
		case DAG_ST_FAILED:
		case DAG_ST_SKIPPED:
			if (hs->v[j] == host)
				return DAG_BLOCKED;
			failed++;
			break;
		case DAG_ST_RUNNING:
			/* Same host, in flight: the agent runs it first and
			 * skips the step if it fails. */
			if (hs->v[j] == host)
				break;
			waiting++;
			break;
		case DAG_ST_PENDING:
		case DAG_ST_RUNNING_HELD:
			waiting++;
			break;
		}
	}
	if (waiting > 0)
		return DAG_WAIT;
	return ok == 0 && failed > 0 ? DAG_BLOCKED : DAG_READY;
}

/*
 * A rolling step waits on this host until every host at least width
 * places before it in the roll has finished the step; a failure there
 * stops the roll.  A host out of the run counts as done.
 */
static enum dag_ready
roll_ready(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status)
{
	const struct idxlist *l = &g->roll[step];
	enum dag_status st;
	size_t pos, i;
	int wait = 0;

	for (pos = 0; pos < l->n && l->v[pos] != host; pos++)
		;
	if (pos == l->n)
		return DAG_READY;
	/* Any failure before this host stops it, even one inside its window;
	 * only those width places back or more must have finished. */
	for (i = 0; i < pos; i++) {
		st = status[dag_node_index(g, step, l->v[i])];
		if (st == DAG_ST_FAILED || st == DAG_ST_SKIPPED)
			return DAG_BLOCKED;
		if (i + g->roll_width[step] <= pos && st != DAG_ST_OK &&
		    st != DAG_ST_OUT)
			wait = 1;
	}
	return wait ? DAG_WAIT : DAG_READY;
}

enum dag_ready
dag_node_ready(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status)
{
	const struct idxlist *nd;
	enum dag_ready r;
	size_t i;

	if (!dag_applies(g, step, host) ||
	    status[dag_node_index(g, step, host)] != DAG_ST_PENDING)
		return DAG_NONE;
	nd = &g->needs[step];
	for (i = 0; i < nd->n; i++)
		if ((r = need_ready(g, nd->v[i], host, status)) != DAG_READY)
			return r;
	return roll_ready(g, step, host, status);
}

int
dag_set_roll(struct dag *g, size_t step, unsigned width, const size_t *hosts,
    size_t n)
{
	struct idxlist *l;
	unsigned char *seen;
	size_t i;

	if (g == NULL || step >= g->nsteps || width == 0 ||
	    (n != 0 && n != g->step_hosts[step].n))
		return KORCH_ERR_INVALID_ARG;
	for (i = 0; i < n; i++)
		if (hosts[i] >= g->nhosts || !dag_applies(g, step, hosts[i]))
			return KORCH_ERR_INVALID_ARG;
	/* n of the step's n hosts, so a repeat means one is missing. */
	if ((seen = calloc(g->nhosts + 1, 1)) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < n && !seen[hosts[i]]; i++)
		seen[hosts[i]] = 1;
	free(seen);
	if (i < n)
		return KORCH_ERR_INVALID_ARG;
	l = &g->roll[step];
	free(l->v);
	l->v = NULL;
	l->n = 0;
	if (n == 0)
		return 0;
	if ((l->v = malloc(n * sizeof(*l->v))) == NULL)
		return KORCH_ERR_ALLOC;
	memcpy(l->v, hosts, n * sizeof(*l->v));
	l->n = n;
	g->roll_width[step] = width;
	return 0;
}

const size_t *
dag_roll(const struct dag *g, size_t step, size_t *n, unsigned *width)
{
	*n = g->roll[step].n;
	if (width != NULL)
		*width = g->roll_width[step];
	return g->roll[step].v;
}

size_t
dag_node_running_needs(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status, size_t *out, size_t max)
{
	const struct idxlist *nd;
	size_t i, n = 0;

	if (!dag_applies(g, step, host))
		return 0;
	nd = &g->needs[step];
	for (i = 0; i < nd->n; i++) {
		if (!dag_applies(g, nd->v[i], host) ||
		    status[dag_node_index(g, nd->v[i], host)] !=
		    DAG_ST_RUNNING)
			continue;
		if (n < max)
			out[n] = nd->v[i];
		n++;
	}
	return n;
}

int
dag_node_need_failed(const struct dag *g, size_t step, size_t host,
    const enum dag_status *status)
{
	const struct idxlist *nd;
	enum dag_status st;
	size_t i;

	if (!dag_applies(g, step, host))
		return 0;
	nd = &g->needs[step];
	for (i = 0; i < nd->n; i++) {
		if (!dag_applies(g, nd->v[i], host))
			continue;
		st = status[dag_node_index(g, nd->v[i], host)];
		if (st == DAG_ST_FAILED || st == DAG_ST_SKIPPED)
			return 1;
	}
	return 0;
}
