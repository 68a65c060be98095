/*
 * mod_sysctl.c - a kernel parameter, live (/proc/sys) and persistent
 * (a "name = value" line in a sysctl.d file).  The live value is compared
 * first so a converged host writes nothing.  KORCH_AGENT_PROCSYS moves
 * /proc/sys for tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "lines.h"
#include "module.h"

#define SYSCTL_FILE_MAX		(1u << 20)
#define SYSCTL_VALUE_MAX	4096

enum { MISSING_FAIL, MISSING_SKIP };
static const char *const missing_names[] = { "fail", "skip", NULL };

static int
valid_name(const char *n)
{
	size_t i, len = strlen(n);

	if (len == 0 || len > 255 || n[0] == '.' || n[len - 1] == '.' ||
	    strstr(n, "..") != NULL)
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= 'A' && n[i] <= 'Z') ||
		    (n[i] >= '0' && n[i] <= '9') || n[i] == '_' ||
		    n[i] == '-' || n[i] == '.'))
			return 0;
	return 1;
}

/* Whitespace runs to one space, trimmed: "4096\t87380" == "4096 87380". */
static void
normalize(const char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int space = 0;

	for (i = 0; i < n && o + 1 < outlen; i++) {
		if (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' ||
		    in[i] == '\r') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < outlen)
			out[o++] = ' ';
		space = 0;
		out[o++] = in[i];
	}
	out[o] = '\0';
}

/* name = value, with dots or slashes, blanks anywhere around "=". */
static int
match_name(const char *line, size_t n, void *arg)
{
	const char *name = arg;
	size_t i = 0, j;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	/* A leading "-" tells systemd-sysctl to ignore a failure. */
	if (i < n && line[i] == '-')
		i++;
	for (j = 0; name[j] != '\0'; j++, i++) {
		if (i >= n)
			return 0;
		if (line[i] != name[j] &&
		    !(name[j] == '.' && line[i] == '/'))
			return 0;
	}
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && line[i] == '=';
}

static int
write_live(const char *path, const char *val, struct agent_outcome *o)
{
	size_t n = strlen(val);
	ssize_t w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "open %s: %s", path,
		    strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	/* /proc/sys takes the value in one write. */
	w = write(fd, val, n);
	if (w < 0 || (size_t)w != n) {
		agent_outcome_set(o, KP_ST_FAILED, "write %s: %s", path,
		    w < 0 ? strerror(errno) : "short write");
		close(fd);
		return KORCH_ERR_SYSTEM;
	}
	if (close(fd) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "write %s: %s", path,
		    strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	return KORCH_OK;
}

static int
sysctl_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	const char *name, *val, *file, *procsys;
	char want[SYSCTL_VALUE_MAX], cur[SYSCTL_VALUE_MAX], *live_path = NULL;
	char *raw = NULL, *old = NULL, *new = NULL, *line = NULL, *dir = NULL;
	char did[256] = "";
	size_t raw_len, old_len = 0, new_len = 0, n, i;
	int live, missing, live_diff = 0, file_diff = 0, file_exists = 0, r;
	struct stat st;

	if (agent_arg_bool(t, "live", 1, &live, o) != KORCH_OK ||
	    agent_arg_enum(t, "missing", missing_names, MISSING_FAIL, &missing,
	    o) != KORCH_OK)
		goto out;
	name = agent_arg_str(t, "name", "");
	val = agent_arg_str(t, "value", "");
	file = agent_arg_str(t, "file", NULL);
	if (!valid_name(name)) {
		agent_outcome_set(o, KP_ST_FAILED, "sysctl: bad name \"%.64s\"",
		    name);
		goto out;
	}
	if (strpbrk(val, "\n\r") != NULL || strlen(val) >= sizeof(want)) {
		agent_outcome_set(o, KP_ST_FAILED, "sysctl %s: bad value", name);
		goto out;
	}
	if (file != NULL && agent_arg_path(t, "file", &file, o) != KORCH_OK)
		goto out;
	normalize(val, strlen(val), want, sizeof(want));

	if (live) {
		if ((procsys = getenv("KORCH_AGENT_PROCSYS")) == NULL ||
		    *procsys == '\0')
			procsys = "/proc/sys";
		n = strlen(procsys) + strlen(name) + 2;
		if ((live_path = malloc(n)) == NULL) {
			agent_outcome_set(o, KP_ST_FAILED, "out of memory");
			goto out;
		}
		(void)snprintf(live_path, n, "%s/%s", procsys, name);
		for (i = strlen(procsys) + 1; live_path[i] != '\0'; i++)
			if (live_path[i] == '.')
				live_path[i] = '/';
		r = agent_read_file(live_path, SYSCTL_VALUE_MAX - 1, &raw,
		    &raw_len, o);
		if (r == KORCH_ERR_NOT_FOUND) {
			if (missing == MISSING_SKIP)
				agent_outcome_set(o, KP_ST_SKIPPED, "%s does not "
				    "exist on this kernel (module not loaded?); "
				    "skipped as missing=skip", live_path);
			else
				agent_outcome_set(o, KP_ST_FAILED, "%s does not "
				    "exist on this kernel (module not loaded?)",
				    live_path);
			goto out;
		}
		if (r != KORCH_OK)
			goto out;
		normalize(raw, raw_len, cur, sizeof(cur));
		live_diff = strcmp(cur, want) != 0;
		if (live_diff)
			agent_outcome_diff(o, "--- %s\n+++ %s\n-%s\n+%s\n",
			    live_path, live_path, cur, want);
	}

	if (file != NULL) {
		n = strlen(name) + strlen(want) + 4;
		if ((line = malloc(n)) == NULL) {
			agent_outcome_set(o, KP_ST_FAILED, "out of memory");
			goto out;
		}
		(void)snprintf(line, n, "%s = %s", name, want);
		r = agent_read_file(file, SYSCTL_FILE_MAX, &old, &old_len, o);
		if (r != KORCH_OK && r != KORCH_ERR_NOT_FOUND)
			goto out;
		file_exists = r == KORCH_OK;
		if (!file_exists && ((dir = agent_dirname(file)) == NULL ||
		    stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))) {
			agent_outcome_set(o, KP_ST_FAILED, "sysctl %s: directory "
			    "of %s does not exist", name, file);
			goto out;
		}
		if (file_exists && stat(file, &st) == -1) {
			agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", file,
			    strerror(errno));
			goto out;
		}
		if (agent_lines_set(old != NULL ? old : "", old_len,
		    match_name, (void *)name, line, &new, &new_len) !=
		    KORCH_OK) {
			agent_outcome_set(o, KP_ST_FAILED, "out of memory");
			goto out;
		}
		file_diff = !file_exists || new_len != old_len ||
		    memcmp(old, new, old_len) != 0;
		if (file_diff)
			agent_outcome_diff_text(o, file, old, old_len, new,
			    new_len);
	}

	if (!live_diff && !file_diff) {
		agent_outcome_set(o, KP_ST_OK, "%s = %s", name, want);
		goto out;
	}
	if (file_diff)
		agent_strlcat_sep(did, sizeof(did), file);
	if (live_diff)
		agent_strlcat_sep(did, sizeof(did), "live");
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would set %s = %s (%s)",
		    name, want, did);
		goto out;
	}
	/* Persist first: a value that only lives until reboot is a trap. */
	if (file_diff && agent_write_atomic(file, new, new_len,
	    file_exists ? st.st_mode & 07777 : 0644,
	    file_exists ? (long long)st.st_uid : AGENT_ID_NONE,
	    file_exists ? (long long)st.st_gid : AGENT_ID_NONE, o) != KORCH_OK)
		goto out;
	if (live_diff) {
		if (write_live(live_path, want, o) != KORCH_OK)
			goto out;
		free(raw);
		raw = NULL;
		if (agent_read_file(live_path, SYSCTL_VALUE_MAX - 1, &raw,
		    &raw_len, o) != KORCH_OK)
			goto out;
		normalize(raw, raw_len, cur, sizeof(cur));
		if (strcmp(cur, want) != 0) {
			agent_outcome_set(o, KP_ST_FAILED, "%s: kernel reports "
			    "\"%s\" after writing \"%s\"", name, cur, want);
			goto out;
		}
	}
	agent_outcome_set(o, KP_ST_CHANGED, "set %s = %s (%s)", name, want,
	    did);
out:
	free(live_path);
	free(raw);
	free(old);
	free(new);
	free(line);
	free(dir);
	return KORCH_OK;
}

const struct agent_module agent_mod_sysctl = {
	.name = "sysctl",
	.flags = 0,
	.run = sysctl_run,
};
