/*
 * upgrade_plan.c - version arithmetic, refusals and phase order of an
 * upgrade or rollback (see upgrade_plan.h).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "spec/inventory.h"
#include "cluster/upgrade_plan.h"

/* One decimal field; *p moves past it.  -1 when there are no digits. */
static int
field(const char **p)
{
	long v = 0;

	if (!isdigit((unsigned char)**p))
		return -1;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v > INT_MAX / 10)
			return -1;
		(*p)++;
	}
	return (int)v;
}

int
kver_parse(const char *s, struct kver *v)
{
	const char *p = s;

	if (s == NULL)
		return -1;
	if (*p == 'v')
		p++;
	v->patch = -1;
	if ((v->major = field(&p)) < 0 || *p++ != '.' ||
	    (v->minor = field(&p)) < 0)
		return -1;
	if (*p == '.') {
		p++;
		if ((v->patch = field(&p)) < 0)
			return -1;
	}
	return *p == '\0' ? 0 : -1;
}

int
kver_cmp(const struct kver *a, const struct kver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

int
kver_matches(const struct kver *want, const struct kver *have)
{
	return want->major == have->major && want->minor == have->minor &&
	    (want->patch < 0 || want->patch == have->patch);
}

int
upgrade_refusal(const struct kver *from, const struct kver *to,
    int allow_downgrade, char *why, size_t whylen)
{
	if (from->major != to->major) {
		snprintf(why, whylen, "%d.%d -> %d.%d changes the major "
		    "version; korch upgrades within one major version",
		    from->major, from->minor, to->major, to->minor);
		return -1;
	}
	if (to->minor > from->minor + 1) {
		snprintf(why, whylen, "%d.%d -> %d.%d skips a minor version; "
		    "Kubernetes and etcd support one minor version at a time: "
		    "upgrade to %d.%d first", from->major, from->minor, to->major,
		    to->minor, from->major, from->minor + 1);
		return -1;
	}
	if (kver_cmp(to, from) < 0 && !allow_downgrade) {
		char f[40] = "", t[40] = "";

		/* A missing patch (-1) is not shown. */
		if (from->patch >= 0)
			snprintf(f, sizeof(f), ".%d", from->patch);
		if (to->patch >= 0)
			snprintf(t, sizeof(t), ".%d", to->patch);
		snprintf(why, whylen, "%d.%d%s -> %d.%d%s is a downgrade; "
		    "use `korch rollback` to undo an upgrade, or "
		    "--allow-downgrade if you mean it", from->major,
		    from->minor, f, to->major, to->minor, t);
		return -1;
	}
	return 0;
}

int
upgrade_max_unavailable(const char *s, size_t nnodes, unsigned *out,
    char *err, size_t errlen)
{
	char *end;
	unsigned long v;
	int pct;

	v = strtoul(s, &end, 10);
	pct = *end == '%';
	if (!isdigit((unsigned char)*s) || end[pct] != '\0' || v == 0 ||
	    (pct && v > 100) || v > 100000) {
		snprintf(err, errlen, "--max-unavailable wants a number of "
		    "nodes (1, 2, ...) or a percentage (25%%), not '%s'", s);
		return -1;
	}
	if (pct)
		v = v * nnodes / 100;
	if (v == 0 || nnodes == 0)
		v = 1;
	else if (v > nnodes)
		v = nnodes;
	*out = (unsigned)v;
	return 0;
}

const char *
upgrade_phase_role(enum upg_phase_kind k)
{
	switch (k) {
	case UPG_ETCD:		return "etcd";
	case UPG_MASTER:	return "master";
	case UPG_NODE:		return "node";
	default:		return NULL;
	}
}

static const char *const phase_names[] = {
	"snapshot", "etcd", "master", "node",
};

const char *
upgrade_phase_name(enum upg_phase_kind k)
{
	return (unsigned)k < sizeof(phase_names) / sizeof(phase_names[0]) ?
	    phase_names[k] : "?";
}

int
upgrade_phase_kind(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
		if (strcmp(phase_names[i], name) == 0)
			return (int)i;
	return -1;
}

int
upgrade_phases(const struct inventory *inv, unsigned flags,
    unsigned max_unavail, struct upg_phase **out, size_t *n)
{
	struct upg_phase *v, t;
	size_t i, k = 0, nnode = 0, first_etcd;

	*out = NULL;
	*n = 0;
	if ((v = calloc(inv->nhosts * 3 + 1, sizeof(*v))) == NULL)
		return KORCH_ERR_ALLOC;
	if (max_unavail == 0)
		max_unavail = 1;
	if ((flags & UPG_PLAN_SNAPSHOT) && !(flags & UPG_PLAN_REVERSE) &&
	    inventory_first_with_role(inv, "etcd", &first_etcd) != NULL)
		v[k++] = (struct upg_phase){ UPG_SNAPSHOT, first_etcd, 0 };
	for (i = 0; (flags & UPG_PLAN_ETCD) && i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], "etcd"))
			v[k++] = (struct upg_phase){ UPG_ETCD, i, 0 };
	for (i = 0; i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], "master"))
			v[k++] = (struct upg_phase){ UPG_MASTER, i, 0 };
	for (i = 0; i < inv->nhosts; i++)
		if (inventory_host_has_role(&inv->hosts[i], "node")) {
			v[k++] = (struct upg_phase){ UPG_NODE, i,
			    (int)(nnode / max_unavail) + 1 };
			nnode++;
		}
	if (flags & UPG_PLAN_REVERSE) {
		for (i = 0; i < k / 2; i++) {
			t = v[i];
			v[i] = v[k - 1 - i];
			v[k - 1 - i] = t;
		}
		/* Batches keep their members, numbered in the new order. */
		for (i = 0; i < k; i++)
			if (v[i].kind == UPG_NODE)
				v[i].batch = (int)((nnode - 1) / max_unavail) +
				    2 - v[i].batch;
	}
	*out = v;
	*n = k;
	return 0;
}
