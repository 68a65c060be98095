/*
 * migrations.c - the schema, as an ordered list of migrations.
 *
 * migrations[i] takes a database from user_version i to i + 1 and ends by
 * setting that version itself, so no SQL is ever assembled at run time.
 * Each is applied in its own IMMEDIATE transaction after re-reading the
 * version inside it, so two processes opening a new file at once migrate it
 * once.  Never edit a migration that has shipped; append a new one and bump
 * KSTATE_SCHEMA_VERSION in state.h.
 *
 * Conventions: timestamps INTEGER ms since the epoch; enum-like columns are
 * TEXT with a CHECK listing the names of a list in names.c; ids
 * referencing runs are NULLed (not cascaded) where the row describes a
 * host (or an upgrade) rather than a run.
 */
#include <stddef.h>

#include "err.h"
#include "state-int.h"

static const char *const migrations[] = {
	/* 0 -> 1: runs, hosts, results, observed state, restarts, lock. */
	"CREATE TABLE runs (\n"
	"  id         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  kind       TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),\n"
	"  args       TEXT NOT NULL DEFAULT '',\n"
	"  started_at INTEGER NOT NULL,\n"
	"  ended_at   INTEGER,\n"
	"  result     TEXT NOT NULL DEFAULT 'running' CHECK (result IN\n"
	"    ('running', 'converged', 'failed', 'interrupted', 'aborted')),\n"
	"  exit_code  INTEGER,\n"
	"  pid        INTEGER NOT NULL,\n"
	"  hostname   TEXT NOT NULL,\n"
	"  user       TEXT NOT NULL\n"
	");\n"
	"CREATE INDEX runs_kind ON runs(kind, id);\n"
	"CREATE INDEX runs_running ON runs(result) WHERE result = 'running';\n"

	"CREATE TABLE hosts (\n"
	"  name         TEXT PRIMARY KEY NOT NULL,\n"
	"  address      TEXT,\n"
	"  facts        TEXT,\n"	/* JSON, checked on the way in */
	"  hostkey_fp   TEXT,\n"
	"  last_contact INTEGER,\n"
	"  last_run_id  INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  reachable    INTEGER NOT NULL DEFAULT 0\n"
	"                 CHECK (reachable IN (0, 1)),\n"
	"  last_error   TEXT\n"
	");\n"

	"CREATE TABLE task_results (\n"
	"  run_id      INTEGER NOT NULL\n"
	"                REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  host        TEXT NOT NULL\n"
	"                REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  step        TEXT NOT NULL,\n"
	"  task_key    TEXT NOT NULL,\n"
	"  module      TEXT NOT NULL,\n"
	"  desired_digest TEXT,\n"
	"  status      TEXT NOT NULL CHECK (status IN\n"
	"    ('ok', 'changed', 'failed', 'skipped', 'unreachable')),\n"
	"  changed     INTEGER NOT NULL CHECK (changed IN (0, 1)),\n"
	"  message     TEXT,\n"
	"  diff        TEXT,\n"
	"  started_at  INTEGER NOT NULL,\n"
	"  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),\n"
	"  UNIQUE (run_id, host, task_key)\n"
	");\n"
	"CREATE INDEX task_results_host ON task_results(host, run_id);\n"

	/* status is what the host is: 'ok' (matches digest) or 'failed'. */
	"CREATE TABLE observed (\n"
	"  host       TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  task_key   TEXT NOT NULL,\n"
	"  digest     TEXT,\n"
	"  status     TEXT NOT NULL CHECK (status IN ('ok', 'failed')),\n"
	"  changed_at INTEGER,\n"
	"  ok_at      INTEGER,\n"
	"  run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  PRIMARY KEY (host, task_key)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE pending_restarts (\n"
	"  host      TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  task_key  TEXT NOT NULL,\n"
	"  reason    TEXT NOT NULL DEFAULT '',\n"
	"  since_run INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  since_at  INTEGER NOT NULL,\n"
	"  PRIMARY KEY (host, task_key)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE run_hosts (\n"
	"  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  host    TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  outcome TEXT NOT NULL CHECK (outcome IN\n"
	"    ('converged', 'failed', 'unreachable')),\n"
	"  ok      INTEGER NOT NULL DEFAULT 0 CHECK (ok >= 0),\n"
	"  changed INTEGER NOT NULL DEFAULT 0 CHECK (changed >= 0),\n"
	"  failed  INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),\n"
	"  skipped INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),\n"
	"  error   TEXT,\n"
	"  PRIMARY KEY (run_id, host)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX run_hosts_host ON run_hosts(host);\n"

	/* At most one row: who holds the run lock (the flock is the truth;
	 * this row is for the refusal message and stale-lock takeover). */
	"CREATE TABLE lock (\n"
	"  id         INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  pid        INTEGER NOT NULL,\n"
	"  hostname   TEXT NOT NULL,\n"
	"  started_at INTEGER NOT NULL,\n"
	"  command    TEXT NOT NULL\n"
	");\n"

	"PRAGMA user_version = 1;\n",

	/* 1 -> 2: what runs on each host, component by component (korch
	 * status: desired vs observed version, active or not). */
	"CREATE TABLE components (\n"
	"  host        TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,\n"
	"  component   TEXT NOT NULL,\n"
	"  desired     TEXT,\n"
	"  observed    TEXT NOT NULL,\n"
	"  active      TEXT NOT NULL,\n"
	"  observed_at INTEGER NOT NULL,\n"
	"  run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  PRIMARY KEY (host, component)\n"
	") WITHOUT ROWID;\n"
	"PRAGMA user_version = 2;\n",

	/* 2 -> 3: the upgrade journal (every phase of every host of an
	 * upgrade or rollback, so an interrupted one resumes where it
	 * stopped) and settings (small facts the next command needs).
	 * Upgrades outlive the runs that work on them: run_id is NULLed, and
	 * kstate_run_begin()'s sweep of dead runs never touches this table.
	 * ended_at is set only once the upgrade is done or abandoned (a
	 * failed one is still to be resumed).  A handful of rows per
	 * cluster lifetime: no index beyond the keys. */
	"CREATE TABLE upgrades (\n"
	"  id              INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  kind            TEXT NOT NULL\n"
	"                    CHECK (kind IN ('upgrade', 'rollback')),\n"
	"  from_version    TEXT NOT NULL,\n"
	"  to_version      TEXT NOT NULL,\n"
	"  status          TEXT NOT NULL DEFAULT 'running' CHECK (status IN\n"
	"    ('running', 'failed', 'done', 'abandoned')),\n"
	"  max_unavailable INTEGER NOT NULL CHECK (max_unavailable >= 1),\n"
	"  parent_id       INTEGER REFERENCES upgrades(id),\n"
	"  snapshot        TEXT,\n"
	"  message         TEXT,\n"
	"  started_at      INTEGER NOT NULL,\n"
	"  ended_at        INTEGER,\n"
	"  run_id          INTEGER REFERENCES runs(id) ON DELETE SET NULL\n"
	");\n"

	/* host is not a reference to hosts: the journal is the plan, written
	 * before every host has been contacted, and forgetting a host must
	 * not erase what was done to it.  batch is the node batch (from 1),
	 * 0 for the other phases. */
	"CREATE TABLE upgrade_phases (\n"
	"  upgrade_id   INTEGER NOT NULL\n"
	"                 REFERENCES upgrades(id) ON DELETE CASCADE,\n"
	"  seq          INTEGER NOT NULL CHECK (seq >= 1),\n"
	"  host         TEXT NOT NULL CHECK (length(host) >= 1),\n"
	"  phase        TEXT NOT NULL CHECK (phase IN\n"
	"    ('snapshot', 'etcd', 'master', 'node')),\n"
	"  batch        INTEGER NOT NULL DEFAULT 0\n"
	"                 CHECK (batch >= 0 AND\n"
	"                   (phase = 'node' OR batch = 0)),\n"
	"  status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN\n"
	"    ('pending', 'running', 'done', 'failed')),\n"
	"  from_version TEXT,\n"
	"  to_version   TEXT,\n"
	"  started_at   INTEGER,\n"
	"  ended_at     INTEGER,\n"
	"  attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
	"  message      TEXT,\n"
	"  PRIMARY KEY (upgrade_id, host, phase),\n"
	"  UNIQUE (upgrade_id, seq)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE settings (\n"
	"  key   TEXT PRIMARY KEY NOT NULL CHECK (length(key) >= 1),\n"
	"  value TEXT NOT NULL\n"
	") WITHOUT ROWID;\n"
	"PRAGMA user_version = 3;\n",

	/* 3 -> 4: host key pins (state_hostkey.h).  A fingerprint recorded
	 * before is taken as the pin, pinned when the host was last seen. */
	"ALTER TABLE hosts ADD COLUMN hostkey_type TEXT;\n"
	"ALTER TABLE hosts ADD COLUMN hostkey_pinned_at INTEGER;\n"
	"UPDATE hosts SET hostkey_pinned_at = last_contact\n"
	"  WHERE hostkey_fp IS NOT NULL;\n"
	"PRAGMA user_version = 4;\n",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
    KSTATE_SCHEMA_VERSION, "one migration per schema version");

static int
read_version(struct kstate *st, int *version)
{
	sqlite3_stmt	*s = NULL;
	int		 r;

	if ((r = kstate_first(st, "PRAGMA user_version",
	    "reading schema version", &s, NULL)) == KORCH_OK)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return r;
}

static int
exec(struct kstate *st, const char *sql, const char *what)
{
	int rc;

	rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return kstate_sqlerr(st, rc, what);
	return KORCH_OK;
}

static int
too_new(struct kstate *st, int version)
{
	kstate_seterr(st, "%s: state schema version %d is newer than this "
	    "korch knows (%d); use a newer korch", st->path, version,
	    KSTATE_SCHEMA_VERSION);
	return KORCH_ERR_UNSUPPORTED;
}

int
kstate_migrate(struct kstate *st)
{
	int	 version, after, r, in_tx = 0;

	if ((r = read_version(st, &version)) != KORCH_OK)
		goto out;
	if (version > KSTATE_SCHEMA_VERSION) {
		r = too_new(st, version);
		goto out;
	}
	while (version < KSTATE_SCHEMA_VERSION) {
		if ((r = exec(st, "BEGIN IMMEDIATE", "starting migration")) !=
		    KORCH_OK)
			goto out;
		in_tx = 1;
		/* Someone else may have migrated while we waited. */
		if ((r = read_version(st, &version)) != KORCH_OK)
			goto out;
		if (version > KSTATE_SCHEMA_VERSION) {
			r = too_new(st, version);
			goto out;
		}
		if (version == KSTATE_SCHEMA_VERSION)
			break;
		if (version < 0) {
			kstate_seterr(st, "%s: bad schema version %d", st->path,
			    version);
			r = KORCH_ERR_STATE;
			goto out;
		}
		if ((r = exec(st, migrations[version], "applying migration")) !=
		    KORCH_OK) {
			kstate_seterr(st, "%s: migration to schema version "
			    "%d: %s", st->path, version + 1,
			    sqlite3_errmsg(st->db));
			goto out;
		}
		if ((r = read_version(st, &after)) != KORCH_OK)
			goto out;
		if (after != version + 1) {
			kstate_seterr(st, "migration %d set version %d",
			    version, after);
			r = KORCH_ERR_INTERNAL;
			goto out;
		}
		r = exec(st, "COMMIT", "committing migration");
		if (r != KORCH_OK)
			goto out;
		in_tx = 0;
		version = after;
	}
	r = KORCH_OK;
 out:
	if (in_tx) {
		if (r == KORCH_OK)
			r = exec(st, "COMMIT", "committing migration");
		if (r != KORCH_OK && !sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}
