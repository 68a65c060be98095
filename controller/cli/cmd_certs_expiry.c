/*
 * cmd_certs_expiry.c - what apply and status say about certificates
 * ending: apply warns of each one inside its window before it prepares
 * the run, status shows the soonest end from the store (see
 * cmd_certs.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_certs.h"
#include "cluster/cert_list.h"
#include "cluster/pki_info.h"
#include "base/json.h"
#include "err.h"
#include "fdio.h"
#include "spec/inventory.h"

#define CRT_MAX	(1024 * 1024)

/* "expires in N days (DATE)" / "expired N days ago (DATE)". */
static void
when_text(time_t na, time_t now, char *buf, size_t size)
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
certs_warn(const struct cert_list *l, const struct inventory *inv,
    time_t now, FILE *out)
{
	const struct cert_info *ci;
	char when[128], hosts[1024];
	enum cert_state s;
	size_t i;
	int n = 0;

	for (i = 0; l != NULL && i < l->ncerts; i++) {
		ci = &l->certs[i].info;
		if ((s = cert_judge(ci->not_after, now, certs_window(l, i))) ==
		    CERT_OK)
			continue;
		when_text(ci->not_after, now, when, sizeof(when));
		holders(l, inv, i, hosts, sizeof(hosts));
		n++;
		if (ci->is_ca && s == CERT_EXPIRED)
			fprintf(out, "korch: warning: the cluster CA (%s, on "
			    "%s) %s: no certificate it signed is trusted any "
			    "more and korch will not sign with it; rotate it "
			    "as %s says (\"Rotating the CA\")\n",
			    l->certs[i].name, hosts, when, CERTS_DOC);
		else if (ci->is_ca)
			fprintf(out, "korch: warning: the cluster CA (%s, on "
			    "%s) %s: certificates issued now would outlive "
			    "it, and korch does not renew a CA by itself; "
			    "plan its rotation as %s says (\"Rotating the "
			    "CA\")\n", l->certs[i].name, hosts, when,
			    CERTS_DOC);
		else
			fprintf(out, "korch: warning: certificate %s (on %s) "
			    "%s, inside the %d-day renewal window; `korch "
			    "certs renew %s` re-issues it and restarts what "
			    "uses it, one master at a time (an apply "
			    "re-issues it too, restarting every master at "
			    "once)\n", l->certs[i].name, hosts, when,
			    CERTS_LEAF_WINDOW, l->certs[i].name);
	}
	return n;
}

/* ---- status: from the store alone ------------------------------------------ */

struct soonest {
	char		 name[256];
	time_t		 not_after;
	int		 have;
};

/* The soonest leaf and the CA of one cluster's store directory. */
static void
scan_store(const char *dir, struct soonest *leaf, struct soonest *ca)
{
	struct cert_info ci;
	struct soonest *s;
	struct dirent *de;
	char *pem;
	size_t n, len;
	DIR *d;
	int dfd, fd;

	memset(leaf, 0, sizeof(*leaf));
	memset(ca, 0, sizeof(*ca));
	if ((d = opendir(dir)) == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || de->d_name[0] == '.' ||
		    strcmp(de->d_name + n - 4, ".crt") != 0)
			continue;
		if ((fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC |
		    O_NOFOLLOW)) == -1)
			continue;
		pem = NULL;
		memset(&ci, 0, sizeof(ci));
		if (kp_read_fd(fd, CRT_MAX, &pem, &len) == 0 &&
		    cert_info_parse(pem, &ci) == 0) {
			s = ci.is_ca ? ca : leaf;
			if (!s->have || ci.not_after < s->not_after) {
				s->have = 1;
				s->not_after = ci.not_after;
				snprintf(s->name, sizeof(s->name), "%.*s",
				    (int)(n - 4), de->d_name);
			}
		}
		cert_info_clear(&ci);
		free(pem);
		close(fd);
	}
	closedir(d);
}

static void
json_one(struct json *j, const char *key, const struct soonest *s,
    int window, time_t now)
{
	char t[40];

	json_key(j, key);
	if (!s->have) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_kstr(j, "name", s->name);
	cert_fmt_time(s->not_after, t, sizeof(t));
	json_kstr(j, "not_after", t);
	json_kint(j, "days_left", cert_days_left(s->not_after, now));
	json_kstr(j, "state", cert_state_name(cert_judge(s->not_after, now,
	    window)));
	json_obj_end(j);
}

static void
text_one(FILE *out, const char *what, const struct soonest *s, int window,
    time_t now, const char *advice)
{
	char when[128];

	if (!s->have)
		return;
	when_text(s->not_after, now, when, sizeof(when));
	fprintf(out, "  %s %s %s", what, s->name, when);
	if (cert_judge(s->not_after, now, window) != CERT_OK)
		fprintf(out, "  <- %s", advice);
	fprintf(out, "\n");
}

void
certs_status(const char *state_path, time_t now, FILE *out, struct json *j)
{
	struct soonest leaf, ca;
	struct dirent *de;
	char dir[PATH_MAX], pki[PATH_MAX], sub[PATH_MAX * 2];
	DIR *d;
	int any = 0;

	snprintf(dir, sizeof(dir), "%s", state_path);
	snprintf(pki, sizeof(pki), "%s/pki", dirname(dir));
	if (j != NULL) {
		json_key(j, "certificates");
		json_arr_begin(j);
	}
	if ((d = opendir(pki)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", pki, de->d_name);
			scan_store(sub, &leaf, &ca);
			if (!leaf.have && !ca.have)
				continue;
			if (j != NULL) {
				json_obj_begin(j);
				json_kstr(j, "cluster", de->d_name);
				json_one(j, "soonest", &leaf,
				    CERTS_LEAF_WINDOW, now);
				json_one(j, "ca", &ca, CERTS_CA_WINDOW, now);
				json_obj_end(j);
				continue;
			}
			if (!any++)
				fprintf(out, "certificates (korch certs lists "
				    "them all):\n");
			fprintf(out, "  cluster %s:\n", de->d_name);
			text_one(out, "  soonest", &leaf, CERTS_LEAF_WINDOW,
			    now, "renew: korch certs renew --all");
			text_one(out, "  CA     ", &ca, CERTS_CA_WINDOW, now,
			    "rotate it: see " CERTS_DOC);
		}
		closedir(d);
	}
	if (j != NULL)
		json_arr_end(j);
	else if (any)
		fprintf(out, "\n");
}
