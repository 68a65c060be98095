/*
 * mod_envfile.c - one KEY=value line in a shell-style environment file
 * (under /etc/sysconfig or /etc/default, a systemd EnvironmentFile=),
 * keeping every other line and comment.  Later duplicates of the key are dropped:
 * in a shell the last assignment wins, and we want ours to be the one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "fileio.h"
#include "lines.h"
#include "module.h"

#define ENVFILE_MAX	(1u << 20)

enum { QUOTE_AUTO, QUOTE_ALWAYS, QUOTE_NEVER };
static const char *const quote_names[] = { "auto", "always", "never", NULL };

/* Characters that need no quoting in a shell or systemd word. */
static const char safe_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    "_./:,@%+-";

static int
valid_key(const char *k)
{
	size_t i;

	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') ||
	    k[0] == '_'))
		return 0;
	for (i = 1; k[i] != '\0'; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') ||
		    (k[i] >= 'a' && k[i] <= 'z') ||
		    (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return i <= 128;
}

/* KEY=value, quoted as asked; malloc'd. */
static char *
render(const char *key, const char *val, int quote)
{
	size_t n = strlen(key) + 2 * strlen(val) + 4, o;
	const char *p;
	char *line;

	if (quote == QUOTE_AUTO)
		quote = val[0] != '\0' && strspn(val, safe_chars) ==
		    strlen(val) ? QUOTE_NEVER : QUOTE_ALWAYS;
	if ((line = malloc(n)) == NULL)
		return NULL;
	o = (size_t)snprintf(line, n, "%s=", key);
	if (quote == QUOTE_ALWAYS)
		line[o++] = '"';
	for (p = val; *p != '\0'; p++) {
		/* Inside double quotes these four keep their meaning. */
		if (quote == QUOTE_ALWAYS && strchr("\\\"$`", *p) != NULL)
			line[o++] = '\\';
		line[o++] = *p;
	}
	if (quote == QUOTE_ALWAYS)
		line[o++] = '"';
	line[o] = '\0';
	return line;
}

/* [blanks][export blanks]KEY[blanks]= */
static int
match_key(const char *line, size_t n, void *arg)
{
	const char *key = arg;
	size_t klen = strlen(key), i = 0;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (n - i > 7 && strncmp(line + i, "export", 6) == 0 &&
	    (line[i + 6] == ' ' || line[i + 6] == '\t')) {
		i += 7;
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
	}
	if (n - i < klen + 1 || strncmp(line + i, key, klen) != 0)
		return 0;
	i += klen;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && line[i] == '=';
}

static int
envfile_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	const char *path, *key, *val;
	char *line = NULL, *old = NULL, *new = NULL, *dir = NULL;
	char what[256] = "";
	size_t old_len = 0, new_len = 0;
	struct stat st;
	int quote, exists, r;
	mode_t mode;

	if (agent_arg_path(t, "path", &path, o) != KORCH_OK ||
	    agent_arg_mode(t, "mode", 0644, &mode, o) != KORCH_OK ||
	    agent_arg_enum(t, "quote", quote_names, QUOTE_AUTO, &quote,
	    o) != KORCH_OK)
		goto out;
	key = agent_arg_str(t, "key", "");
	val = agent_arg_str(t, "value", "");
	if (!valid_key(key)) {
		agent_outcome_set(o, KP_ST_FAILED, "envfile %s: key \"%.64s\" is "
		    "not a variable name", path, key);
		goto out;
	}
	if (strpbrk(val, "\n\r") != NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "envfile %s: value of %s "
		    "spans lines", path, key);
		goto out;
	}
	if ((line = render(key, val, quote)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		goto out;
	}
	r = agent_read_file(path, ENVFILE_MAX, &old, &old_len, o);
	if (r != KORCH_OK && r != KORCH_ERR_NOT_FOUND)
		goto out;
	exists = r == KORCH_OK;
	if (!exists) {
		if ((dir = agent_dirname(path)) == NULL ||
		    stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			agent_outcome_set(o, KP_ST_FAILED, "envfile %s: "
			    "directory %s does not exist", path,
			    dir != NULL ? dir : "?");
			goto out;
		}
	} else if (stat(path, &st) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (agent_lines_set(old != NULL ? old : "", old_len, match_key,
	    (void *)key, line, &new, &new_len) != KORCH_OK) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		goto out;
	}

	if (exists && new_len == old_len && memcmp(old, new, old_len) == 0) {
		r = agent_attrs_sync(path, &st, mode, AGENT_ID_NONE,
		    AGENT_ID_NONE, check_only, what, sizeof(what), o);
		if (r == 0)
			agent_outcome_set(o, KP_ST_OK, "%s: %s already set",
			    path, key);
		else if (r > 0)
			agent_outcome_set(o, KP_ST_CHANGED, "%s%s: %s",
			    check_only ? "would fix " : "", path, what);
		goto out;
	}
	agent_outcome_diff_text(o, path, old, old_len, new, new_len);
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would set %s in %s%s", key,
		    path, exists ? "" : " (new file)");
		goto out;
	}
	if (agent_write_atomic(path, new, new_len, mode,
	    exists ? (long long)st.st_uid : AGENT_ID_NONE,
	    exists ? (long long)st.st_gid : AGENT_ID_NONE, o) != KORCH_OK)
		goto out;
	agent_outcome_set(o, KP_ST_CHANGED, "set %s in %s%s", key, path,
	    exists ? "" : " (new file)");
out:
	free(line);
	free(old);
	free(new);
	free(dir);
	return KORCH_OK;
}

const struct agent_module agent_mod_envfile = {
	.name = "envfile",
	.flags = 0,
	.run = envfile_run,
};
