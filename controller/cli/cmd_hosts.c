/*
 * cmd_hosts.c - `korch hosts [--json]`: the host key each host is pinned
 * to; `korch hosts trust HOST`: forget one pin, so the next run pins the
 * key the host shows then (known_hosts must still accept it).  Neither
 * contacts a host.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "err.h"
#include "base/json.h"
#include "engine/report.h"
#include "state.h"
#include "state_hostkey.h"

static int
list_text(const struct kstate_hostkey *v, size_t n)
{
	char when[32];
	size_t i;

	if (n == 0) {
		printf("no host keys pinned yet (korch pins each host's key "
		    "the first time it reaches it)\n");
		return KX_OK;
	}
	printf("%-16s %-18s %-20s %-51s %s\n", "HOST", "ADDRESS", "KEY TYPE",
	    "FINGERPRINT", "PINNED AT");
	for (i = 0; i < n; i++) {
		report_fmt_time(v[i].pinned_at, 1, when, sizeof(when));
		printf("%-16s %-18s %-20s %-51s %s\n", v[i].host,
		    v[i].address != NULL ? v[i].address : "-",
		    v[i].key_type != NULL ? v[i].key_type : "-",
		    v[i].fingerprint, when);
	}
	return KX_OK;
}

static int
list_json(const char *path, const struct kstate_hostkey *v, size_t n)
{
	struct json *j;
	const char *out;
	size_t i;
	int r;

	if ((j = json_new()) == NULL)
		return KX_INTERNAL;
	json_obj_begin(j);
	json_kstr(j, "state", path);
	json_key(j, "hosts");
	json_arr_begin(j);
	for (i = 0; i < n; i++) {
		json_obj_begin(j);
		json_kstr(j, "host", v[i].host);
		json_kstr(j, "address", v[i].address);
		json_kstr(j, "key_type", v[i].key_type);
		json_kstr(j, "fingerprint", v[i].fingerprint);
		json_kint(j, "pinned_at_ms", v[i].pinned_at);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
	if ((r = json_finish(j, &out, NULL)) == 0)
		printf("%s\n", out);
	json_free(j);
	return r == 0 ? KX_OK : KX_INTERNAL;
}

static int
trust(struct kstate *st, const char *path, const char *host)
{
	struct kstate_hostkey *old = NULL;
	int found = 0;

	if (kstate_hostkey_forget(st, host, &found, &old) != 0) {
		fprintf(stderr, "korch: state %s: %s\n", path,
		    kstate_errmsg(st));
		return KX_INTERNAL;
	}
	if (!found) {
		fprintf(stderr, "korch hosts trust: no host key is pinned for "
		    "%s in %s (see `korch hosts`); nothing to do\n", host,
		    path);
		return KX_USAGE;
	}
	printf("forgot the pinned host key of %s (%s %s); the next run pins "
	    "the key the host shows then, if known_hosts accepts it\n", host,
	    old->key_type != NULL ? old->key_type : "key", old->fingerprint);
	kstate_hostkeys_free(old, 1);
	return KX_OK;
}

int
cmd_hosts(int argc, char **argv)
{
	enum { O_STATE = 256, O_JSON };
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, O_STATE },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 }
	};
	struct kstate_hostkey *v = NULL;
	struct kstate *st = NULL;
	char path[PATH_MAX];
	const char *state = NULL, *host = NULL;
	size_t n = 0;
	int c, json = 0, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_STATE:	state = optarg; break;
		case O_JSON:	json = 1; break;
		default:
			fprintf(stderr, "korch hosts: unknown option %s\n",
			    argv[optind - 1]);
			cmd_usage("hosts");
			return KX_USAGE;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "trust") != 0 ||
		    argc - optind != 2 || json) {
			fprintf(stderr, "korch hosts: expected no argument, or "
			    "`trust HOST`\n");
			cmd_usage("hosts");
			return KX_USAGE;
		}
		host = argv[optind + 1];
	}
	if (state != NULL)
		snprintf(path, sizeof(path), "%s", state);
	else if (kstate_default_path(path, sizeof(path)) != 0) {
		fprintf(stderr, "korch: no home directory; use --state FILE\n");
		return KX_USAGE;
	}
	if (access(path, F_OK) != 0) {
		fprintf(stderr, "korch: no state at %s (run 'korch apply "
		    "INVENTORY' first, or name it with --state)\n", path);
		return KX_USAGE;
	}
	if (kstate_open(path, &st) != 0) {
		fprintf(stderr, "korch: state %s: %s\n", path,
		    kstate_errmsg(st));
		kstate_close(st);
		return KX_INTERNAL;
	}
	if (host != NULL)
		rc = trust(st, path, host);
	else if (kstate_hostkeys_list(st, &v, &n) != 0) {
		fprintf(stderr, "korch: state %s: %s\n", path,
		    kstate_errmsg(st));
		rc = KX_INTERNAL;
	} else
		rc = json ? list_json(path, v, n) : list_text(v, n);
	kstate_hostkeys_free(v, n);
	kstate_close(st);
	return rc;
}
