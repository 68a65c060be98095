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

/* One sysctl task: its arguments, then what comparing found. */
struct sysctl_job {
	const char	*name, *file;
	int		 live, missing;
	char		 want[SYSCTL_VALUE_MAX], cur[SYSCTL_VALUE_MAX];
	char		*live_path, *raw;	/* /proc/sys file, its text */
	size_t		 raw_len;
	char		*old, *new, *line, *dir;	/* sysctl.d file */
	size_t		 old_len, new_len;
	int		 live_diff, file_diff, file_exists;
	struct stat	 st;		/* of the file, when it exists */
};

/* The arguments, checked; KORCH_OK or the task failed (o says why). */
static int
job_args(struct sysctl_job *j, const struct kp_task *t,
    struct agent_outcome *o)
{
	const char *val;

	if (agent_arg_bool(t, "live", 1, &j->live, o) != KORCH_OK ||
	    agent_arg_enum(t, "missing", missing_names, MISSING_FAIL,
	    &j->missing, o) != KORCH_OK)
		return KORCH_ERR_INVALID_ARG;
	j->name = agent_arg_str(t, "name", "");
	val = agent_arg_str(t, "value", "");
	j->file = agent_arg_str(t, "file", NULL);
	if (!valid_name(j->name)) {
		agent_outcome_set(o, KP_ST_FAILED,
		    "sysctl: bad name \"%.64s\"", j->name);
		return KORCH_ERR_INVALID_ARG;
	}
	if (strpbrk(val, "\n\r") != NULL ||
	    strlen(val) >= sizeof(j->want)) {
		agent_outcome_set(o, KP_ST_FAILED, "sysctl %s: bad value",
		    j->name);
		return KORCH_ERR_INVALID_ARG;
	}
	if (j->file != NULL && agent_arg_path(t, "file", &j->file, o) !=
	    KORCH_OK)
		return KORCH_ERR_INVALID_ARG;
	normalize(val, strlen(val), j->want, sizeof(j->want));
	return KORCH_OK;
}

/* The kernel's value now, normalized into j->cur. */
static int
live_read(struct sysctl_job *j, struct agent_outcome *o)
{
	int r;

	free(j->raw);
	j->raw = NULL;
	if ((r = agent_read_file(j->live_path, SYSCTL_VALUE_MAX - 1, &j->raw,
	    &j->raw_len, o)) != KORCH_OK)
		return r;
	normalize(j->raw, j->raw_len, j->cur, sizeof(j->cur));
	return KORCH_OK;
}

/* Compare the live value; a parameter this kernel lacks fails the task
 * or, with missing=skip, skips it. */
static int
live_compare(struct sysctl_job *j, struct agent_outcome *o)
{
	const char *procsys;
	size_t n, i;
	int r;

	procsys = "/proc/sys";
#ifdef KORCH_TEST_HOOKS
	/* Test builds only: where a release agent writes as root is not
	 * its environment's to choose. */
	if (getenv("KORCH_AGENT_PROCSYS") != NULL &&
	    *getenv("KORCH_AGENT_PROCSYS") != '\0')
		procsys = getenv("KORCH_AGENT_PROCSYS");
#endif
	n = strlen(procsys) + strlen(j->name) + 2;
	if ((j->live_path = malloc(n)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	(void)snprintf(j->live_path, n, "%s/%s", procsys, j->name);
	for (i = strlen(procsys) + 1; j->live_path[i] != '\0'; i++)
		if (j->live_path[i] == '.')
			j->live_path[i] = '/';
	r = live_read(j, o);
	if (r == KORCH_ERR_NOT_FOUND) {
		if (j->missing == MISSING_SKIP)
			agent_outcome_set(o, KP_ST_SKIPPED, "%s does not "
			    "exist on this kernel (module not loaded?); "
			    "skipped as missing=skip", j->live_path);
		else
			agent_outcome_set(o, KP_ST_FAILED, "%s does not "
			    "exist on this kernel (module not loaded?)",
			    j->live_path);
		return r;
	}
	if (r != KORCH_OK)
		return r;
	j->live_diff = strcmp(j->cur, j->want) != 0;
	if (j->live_diff)
		agent_outcome_diff(o, "--- %s\n+++ %s\n-%s\n+%s\n",
		    j->live_path, j->live_path, j->cur, j->want);
	return KORCH_OK;
}

/* Compare the file: j->new is its text with our line set. */
static int
file_compare(struct sysctl_job *j, struct agent_outcome *o)
{
	size_t n;
	int r;

	n = strlen(j->name) + strlen(j->want) + 4;
	if ((j->line = malloc(n)) == NULL) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	(void)snprintf(j->line, n, "%s = %s", j->name, j->want);
	r = agent_read_file(j->file, SYSCTL_FILE_MAX, &j->old, &j->old_len, o);
	if (r != KORCH_OK && r != KORCH_ERR_NOT_FOUND)
		return r;
	j->file_exists = r == KORCH_OK;
	if (!j->file_exists && ((j->dir = agent_dirname(j->file)) == NULL ||
	    stat(j->dir, &j->st) == -1 || !S_ISDIR(j->st.st_mode))) {
		agent_outcome_set(o, KP_ST_FAILED, "sysctl %s: directory "
		    "of %s does not exist", j->name, j->file);
		return KORCH_ERR_NOT_FOUND;
	}
	if (j->file_exists && stat(j->file, &j->st) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", j->file,
		    strerror(errno));
		return KORCH_ERR_SYSTEM;
	}
	if (agent_lines_set(j->old != NULL ? j->old : "", j->old_len,
	    match_name, (void *)j->name, j->line, &j->new, &j->new_len) !=
	    KORCH_OK) {
		agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		return KORCH_ERR_ALLOC;
	}
	j->file_diff = !j->file_exists || j->new_len != j->old_len ||
	    memcmp(j->old, j->new, j->old_len) != 0;
	if (j->file_diff)
		agent_outcome_diff_text(o, j->file, j->old, j->old_len, j->new,
		    j->new_len);
	return KORCH_OK;
}

/* Make both as wanted: the file first (a value that only lives until
 * reboot is a trap), then the kernel, read back to be sure. */
static int
job_apply(struct sysctl_job *j, struct agent_outcome *o)
{
	if (j->file_diff && agent_write_atomic(j->file, j->new, j->new_len,
	    j->file_exists ? j->st.st_mode & 07777 : 0644,
	    j->file_exists ? (long long)j->st.st_uid : AGENT_ID_NONE,
	    j->file_exists ? (long long)j->st.st_gid : AGENT_ID_NONE, o) !=
	    KORCH_OK)
		return KORCH_ERR_SYSTEM;
	if (!j->live_diff)
		return KORCH_OK;
	if (write_live(j->live_path, j->want, o) != KORCH_OK ||
	    live_read(j, o) != KORCH_OK)
		return KORCH_ERR_SYSTEM;
	if (strcmp(j->cur, j->want) != 0) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: kernel reports "
		    "\"%s\" after writing \"%s\"", j->name, j->cur, j->want);
		return KORCH_ERR_SYSTEM;
	}
	return KORCH_OK;
}

static int
sysctl_run(const struct kp_task *t, struct agent_session *s, int check_only,
    struct agent_outcome *o)
{
	struct sysctl_job j;
	char did[256] = "";

	memset(&j, 0, sizeof(j));
	if (job_args(&j, t, o) != KORCH_OK ||
	    (j.live && live_compare(&j, o) != KORCH_OK) ||
	    (j.file != NULL && file_compare(&j, o) != KORCH_OK))
		goto out;
	if (!j.live_diff && !j.file_diff) {
		agent_outcome_set(o, KP_ST_OK, "%s = %s", j.name, j.want);
		goto out;
	}
	if (j.file_diff)
		agent_strlcat_sep(did, sizeof(did), j.file);
	if (j.live_diff)
		agent_strlcat_sep(did, sizeof(did), "live");
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would set %s = %s (%s)",
		    j.name, j.want, did);
		goto out;
	}
	if (job_apply(&j, o) != KORCH_OK)
		goto out;
	agent_outcome_set(o, KP_ST_CHANGED, "set %s = %s (%s)", j.name,
	    j.want, did);
out:
	free(j.live_path);
	free(j.raw);
	free(j.old);
	free(j.new);
	free(j.line);
	free(j.dir);
	return KORCH_OK;
}

const struct agent_module agent_mod_sysctl = {
	.name = "sysctl",
	.flags = 0,
	.run = sysctl_run,
};
