/*
 * bundle_pick.c - the newest bundle of a wanted version among those in a
 * path (see bundle_pick.h).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec/bundle.h"
#include "cluster/bundle_pick.h"
#include "base/diag.h"
#include "err.h"
#include "cluster/upgrade_plan.h"

struct pick {
	const struct kver *want;
	char		*best;
	struct kver	 best_v;
	char		 best_s[64];
	char		 seen[512];	/* versions looked at, for the error */
};

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

static int
is_bundle_dir(const char *p)
{
	char m[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(m, sizeof(m), "%s/manifest.yaml", p) >= sizeof(m))
		return 0;
	return stat(m, &st) == 0 && S_ISREG(st.st_mode);
}

/* Weigh one bundle.  A bundle that does not load is skipped: a directory of
 * bundles may hold a broken one that is not the one wanted. */
static int
consider(struct pick *pk, const char *path)
{
	struct bundle *b = NULL;
	struct diag *scratch;
	struct kver v;
	size_t len;
	int r;

	if ((scratch = diag_new()) == NULL)
		return KORCH_ERR_ALLOC;
	r = bundle_load(path, &b, scratch);
	diag_free(scratch);
	if (r == KORCH_ERR_ALLOC)
		return r;
	if (r != 0 || kver_parse(b->kubernetes_version, &v) != 0) {
		bundle_free(b);
		return 0;
	}
	len = strlen(pk->seen);
	snprintf(pk->seen + len, sizeof(pk->seen) - len, "%s%s",
	    len ? ", " : "", b->kubernetes_version);
	if (!kver_matches(pk->want, &v) ||
	    (pk->best != NULL && kver_cmp(&v, &pk->best_v) <= 0)) {
		bundle_free(b);
		return 0;
	}
	snprintf(pk->best_s, sizeof(pk->best_s), "%s", b->kubernetes_version);
	bundle_free(b);
	free(pk->best);
	if ((pk->best = strdup(path)) == NULL)
		return KORCH_ERR_ALLOC;
	pk->best_v = v;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every bundle directly inside dir, in name order (so ties are stable). */
static int
scan(struct pick *pk, const char *dir)
{
	DIR *dp;
	struct dirent *e;
	char p[PATH_MAX], twin[PATH_MAX], **names = NULL, **nn;
	size_t n = 0, i;
	int r = 0;

	if ((dp = opendir(dir)) == NULL)
		return KORCH_ERR_PARSE;
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (nn[n] = strdup(e->d_name)) == NULL) {
			names = nn ? nn : names;
			r = KORCH_ERR_ALLOC;
			break;
		}
		names = nn;
		n++;
	}
	closedir(dp);
	if (r == 0 && n > 1)	/* names is NULL when the directory is empty */
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n && r == 0; i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, names[i]) >=
		    sizeof(p))
			continue;
		if (has_suffix(names[i], ".tar.gz")) {
			/* make-bundle and most hands keep both: one load. */
			snprintf(twin, sizeof(twin), "%.*s", (int)(strlen(p) - 7),
			    p);
			if (is_bundle_dir(twin))
				continue;
		} else if (!is_bundle_dir(p))
			continue;
		r = consider(pk, p);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int
bundle_pick(const char *path, const struct kver *want, char **chosen,
    char *ver, size_t verlen, struct diag *d)
{
	struct pick pk;
	struct stat st;
	int r;

	memset(&pk, 0, sizeof(pk));
	pk.want = want;
	*chosen = NULL;
	if (stat(path, &st) != 0) {
		diag_add(d, path, 0, 0, NULL, "no such bundle or directory");
		return KORCH_ERR_PARSE;
	}
	if (S_ISDIR(st.st_mode) && !is_bundle_dir(path))
		r = scan(&pk, path);
	else
		r = consider(&pk, path);
	if (r != 0) {
		free(pk.best);
		if (r == KORCH_ERR_PARSE)
			diag_add(d, path, 0, 0, NULL, "cannot read the "
			    "directory");
		return r;
	}
	if (pk.best == NULL) {
		if (want->patch >= 0)
			diag_add(d, path, 0, 0, NULL, "no bundle for "
			    "Kubernetes %d.%d.%d here (found: %s)",
			    want->major, want->minor, want->patch,
			    pk.seen[0] ? pk.seen : "none");
		else
			diag_add(d, path, 0, 0, NULL, "no bundle for "
			    "Kubernetes %d.%d.x here (found: %s)",
			    want->major, want->minor,
			    pk.seen[0] ? pk.seen : "none");
		return KORCH_ERR_NOT_FOUND;
	}
	snprintf(ver, verlen, "%s", pk.best_s);
	*chosen = pk.best;
	return 0;
}
