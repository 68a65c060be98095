/*
 * cert_warn.c - the plain words for a certificate near its end: one line
 * per certificate inside its window, naming it, the hosts that hold it,
 * the days left and what to do (see cert_list.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/cert_list.h"
#include "spec/inventory.h"

/* "expires in N days (DATE)" / "expired N days ago (DATE)". */
void
cert_when_text(time_t na, time_t now, char *buf, size_t size)
{
	char t[40];
	long d = cert_days_left(na, now);

	cert_fmt_time(na, t, sizeof(t));
	if (na <= now)
		snprintf(buf, size, "expired %ld day%s ago (%s)", -d,
		    d == -1 ? "" : "s", t);
	else
		snprintf(buf, size, "expires in %ld day%s (%s)", d,
		    d == 1 ? "" : "s", t);
}

/* Comma-joined names of the hosts holding entry i, into buf. */
static void
holders(const struct cert_list *l, const struct inventory *inv, size_t i,
    char *buf, size_t size)
{
	size_t h, k, off = 0;
	int n;

	buf[0] = '\0';
	for (h = 0; h < inv->nhosts; h++)
		for (k = 0; k < l->nplaces; k++) {
			if (l->places[k].cert != i || l->places[k].host != h)
				continue;
			n = snprintf(buf + off, size - off, "%s%s",
			    off ? "," : "", inv->hosts[h].name);
			if (n < 0 || (size_t)n >= size - off)
				return;
			off += (size_t)n;
			break;
		}
	if (off == 0)
		snprintf(buf, size, "no host");
}

int
cert_list_warn(const struct cert_list *l, const struct inventory *inv,
    time_t now, int leaf_window, int ca_window, FILE *out)
{
	const struct cert_info *ci;
	char when[128], hosts[1024];
	enum cert_state s;
	size_t i;
	int n = 0;

	for (i = 0; l != NULL && i < l->ncerts; i++) {
		ci = &l->certs[i].info;
		if ((s = cert_judge(ci->not_after, now,
		    ci->is_ca ? ca_window : leaf_window)) ==
		    CERT_OK)
			continue;
		cert_when_text(ci->not_after, now, when, sizeof(when));
		holders(l, inv, i, hosts, sizeof(hosts));
		n++;
		if (ci->is_ca && s == CERT_EXPIRED)
			fprintf(out, "korch: warning: the cluster CA (%s, on "
			    "%s) %s: no certificate it signed is trusted any "
			    "more and korch will not sign with it; rotate it "
			    "as %s says (\"Rotating the CA\")\n",
			    l->certs[i].name, hosts, when, CERT_LIST_DOC);
		else if (ci->is_ca)
			fprintf(out, "korch: warning: the cluster CA (%s, on "
			    "%s) %s: certificates issued now would outlive "
			    "it, and korch does not renew a CA by itself; "
			    "plan its rotation as %s says (\"Rotating the "
			    "CA\")\n", l->certs[i].name, hosts, when,
			    CERT_LIST_DOC);
		else
			fprintf(out, "korch: warning: certificate %s (on %s) "
			    "%s, inside the %d-day renewal window; `korch "
			    "certs renew %s` re-issues it and restarts what "
			    "uses it, one host at a time (an apply "
			    "re-issues it too, rolling over etcd and the "
			    "masters)\n", l->certs[i].name, hosts, when,
			    leaf_window, l->certs[i].name);
	}
	return n;
}
