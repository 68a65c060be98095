/*
 * cmd_certs_expiry.c - what status says about certificates ending: the
 * soonest end from the store alone (see cmd_certs.h; apply's warnings are
 * cert_list_warn()'s).
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

static void
iso_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "?");
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
	iso_time(s->not_after, t, sizeof(t));
	json_kstr(j, "not_after", t);
	json_kint(j, "days_left", cert_days_left(s->not_after, now));
	json_kstr(j, "state", cert_state_name(cert_judge(s->not_after, now,
	    window)));
	json_obj_end(j);
}

static void
text_one(FILE *out, const char *what, const struct soonest *s, int window,
    time_t now, const char *advice, int name_it)
{
	char when[128];

	if (!s->have)
		return;
	cert_when_text(s->not_after, now, when, sizeof(when));
	fprintf(out, "  %s %s %s", what, s->name, when);
	if (cert_judge(s->not_after, now, window) != CERT_OK)
		fprintf(out, "  <- %s%s", advice, name_it ? s->name : "");
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
			    now, "renew: korch certs renew ", 1);
			text_one(out, "  CA     ", &ca, CERTS_CA_WINDOW, now,
			    "rotate it: see " CERTS_DOC, 0);
		}
		closedir(d);
	}
	if (j != NULL)
		json_arr_end(j);
	else if (any)
		fprintf(out, "\n");
}
