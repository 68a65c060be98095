/*
 * cmd_etcd.c - `korch etcd restore SNAPSHOT --yes`: put every etcd member
 * back to a snapshot (the one `korch upgrade` copied to the controller, or
 * any other), the apiservers stopped meanwhile.  Destructive by nature:
 * without --yes it only says what it would do.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "spec/bundle.h"
#include "cli/cmd.h"
#include "cli/cmd_target.h"
#include "base/diag.h"
#include "base/digest.h"
#include "err.h"
#include "spec/inventory.h"
#include "cluster/upgrade_plan.h"
#include "cluster/upgrade_run.h"
#include "state_settings.h"
#include "state_upgrade.h"
#include "state_lock.h"

static int
parse_args(int argc, char **argv, struct ctx_args *a, const char **snap)
{
	enum { O_INV = CMD_O_OWN, O_YES };
	static const struct option longopts[] = {
		{ "inventory", required_argument, NULL, O_INV },
		{ "yes", no_argument, NULL, O_YES },
		CMD_RUN_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	cmd_run_begin(&a->r);
	while ((c = cmd_run_getopt("etcd", argc, argv, longopts, &a->r)) > 0) {
		switch (c) {
		case O_INV:		a->inventory = optarg; break;
		case O_YES:		a->yes = 1; break;
		}
	}
	if (c < 0 || (*snap = cmd_operand("etcd", "etcd restore", argc, argv,
	    "which snapshot? (korch etcd restore SNAPSHOT --yes)",
	    "one snapshot file only")) == NULL)
		return -1;
	return 0;
}

static int
restore(struct cmd_ctx *c, const char *path)
{
	struct bundle_component snap;
	struct upgrade_env e;
	struct kver want;
	struct stat sb;
	char abs[PATH_MAX], note[512], why[4096], stamp[32], *ver = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int r, rc;

	if (realpath(path, abs) == NULL || stat(abs, &sb) != 0 ||
	    !S_ISREG(sb.st_mode) || sb.st_size == 0) {
		fprintf(stderr, "korch: %s: not a snapshot file (missing, "
		    "empty or not a regular file)\n", path);
		return KX_USAGE;
	}
	if (inventory_count_role(c->inv, "etcd") == 0) {
		fprintf(stderr, "korch: %s has no etcd hosts\n", c->invpath);
		return KX_USAGE;
	}
	if (c->unf != NULL) {
		fprintf(stderr, "korch: refused: %s #%lld is unfinished; "
		    "finish it (or roll it back) before restoring etcd\n",
		    c->unf->kind, (long long)c->unf->id);
		return KX_USAGE;
	}
	/* The bundle of the version the cluster runs: its etcdctl. */
	if (kstate_setting_get(c->st, "cluster_version", &ver) != 0) {
		fprintf(stderr, "korch: state: %s\n", kstate_errmsg(c->st));
		return KX_INTERNAL;
	}
	r = kver_parse(ver ? ver : c->inv->cluster.kubernetes_version, &want);
	free(ver);
	if (r != 0) {
		fprintf(stderr, "korch: which version does the cluster run? "
		    "Apply it first\n");
		return KX_USAGE;
	}
	if ((rc = ctx_pick_bundle(c, &want)) != KX_OK ||
	    (rc = ctx_inputs(c)) != KX_OK)
		return rc;
	ctx_env(c, &e);
	if (upgrade_check_snapshot(&e, abs, note, sizeof(note)) != 0) {
		fprintf(stderr, "korch: refused: %s\n", note);
		return KX_USAGE;
	}
	memset(&snap, 0, sizeof(snap));
	snap.name = "etcd-snapshot";
	snap.path = abs;
	if (sha256_file(abs, snap.sha256, &snap.size) != 0) {
		fprintf(stderr, "korch: %s: cannot read it\n", abs);
		return KX_USAGE;
	}
	if (!c->a.yes) {
		printf("korch etcd restore would replace the data of every etcd "
		    "member (%zu) with\n  %s (%llu bytes, %s)\n"
		    "The apiservers (%zu) stop meanwhile; what etcd holds now is "
		    "kept on each member\nas /var/lib/korch/restore/"
		    "etcd.before-<time>.  Writes since the snapshot are lost.\n"
		    "Run again with --yes to do it.\n", inventory_count_role(c->inv,
		    "etcd"), abs, (unsigned long long)snap.size, note,
		    inventory_count_role(c->inv, "master"));
		return KX_USAGE;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	printf("korch etcd restore: %s (%s)\n", abs, note);
	/* Stopping halfway would leave the apiservers down: the first
	 * Ctrl-C is noted, the restore goes on; a second one kills. */
	ctx_catch_signals(1);
	r = upgrade_restore(&e, &snap, stamp, why, sizeof(why));
	ctx_catch_signals(0);
	if (r != 0) {
		fprintf(stderr, "korch: etcd restore FAILED: %s\nThe data etcd "
		    "held before is kept as /var/lib/korch/restore/"
		    "etcd.before-%s on the members that got that far.\n",
		    why[0] ? why : korch_strerror(r), stamp);
		rc = r == KORCH_ERR_AGENT || r == KORCH_ERR_CONNECT ?
		    KX_HOSTS : KX_INTERNAL;
		ctx_end_run(c, KSTATE_RUN_FAILED, rc);
		return rc;
	}
	printf("etcd restored from %s; the apiservers answer again.  The "
	    "previous data is kept as /var/lib/korch/restore/etcd.before-%s "
	    "on each member.\n", abs, stamp);
	return KX_OK;
}

int
cmd_etcd(int argc, char **argv)
{
	struct cmd_ctx c;
	const char *snap = NULL;
	int rc;

	if (argc < 2 || strcmp(argv[1], "restore") != 0) {
		fprintf(stderr, "korch etcd: %s\n", argc < 2 ? "which action? "
		    "(korch etcd restore SNAPSHOT --yes)" : "unknown action; "
		    "the one there is: restore");
		cmd_usage("etcd");
		return KX_USAGE;
	}
	if ((rc = ctx_init(&c, "etcd-restore", argc, argv)) != KX_OK ||
	    parse_args(argc - 1, argv + 1, &c.a, &snap) != 0)
		return ctx_finish(&c, rc != KX_OK ? rc : KX_USAGE);
	rc = ctx_open(&c, argv, CTX_OPEN_UPGRADE);
	if (rc == KX_OK)
		rc = restore(&c, snap);
	return ctx_finish(&c, rc);
}
