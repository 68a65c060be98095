/*
 * mod_block.c - a marked block of lines in a file that others also write
 * (/etc/hosts: the distribution's and the cloud's entries stay).  The
 * block runs from "# BEGIN <marker>" to "# END <marker>"; everything
 * outside it is kept byte for byte, and a file without the block gets it
 * at the end.  A BEGIN without its END is refused rather than guessed at:
 * replacing up to the end of the file would drop what someone else wrote.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "fileio.h"
#include "module.h"

#define BLOCK_FILE_MAX	(4u << 20)
#define MARKER_MAX	64

/* A marker is a word: it goes into a comment line of its own. */
static int
valid_marker(const char *m)
{
	size_t n = strlen(m);

	return n >= 1 && n <= MARKER_MAX &&
	    strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* Offset of the line that is exactly want (without its newline) at or
 * after from, or -1. */
static long
find_line(const char *text, size_t len, size_t from, const char *want)
{
	size_t wl = strlen(want), i = from, e;
	const char *nl;

	while (i < len) {
		nl = memchr(text + i, '\n', len - i);
		e = nl != NULL ? (size_t)(nl - text) : len;
		if (e - i == wl && memcmp(text + i, want, wl) == 0)
			return (long)i;
		i = e + 1;
	}
	return -1;
}

/*
 * The new contents: old with its block replaced by (or, without one, old
 * followed by) the block around content.  *out malloc'd.  0; 1 (BEGIN
 * without END, reported in o); KORCH_ERR_ALLOC.
 */
static int
splice(const char *old, size_t old_len, const char *marker,
    const char *content, char **out, size_t *outlen, struct agent_outcome *o,
    const char *path)
{
	char begin[MARKER_MAX + 16], end[MARKER_MAX + 16];
	size_t head, tail, clen = strlen(content);
	long b, e;
	FILE *fp;

	(void)snprintf(begin, sizeof(begin), "# BEGIN %s", marker);
	(void)snprintf(end, sizeof(end), "# END %s", marker);
	/* Content holding a marker line would end the block early on the
	 * next run, and the file would never settle. */
	if (find_line(content, clen, 0, begin) >= 0 ||
	    find_line(content, clen, 0, end) >= 0) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: the block's content "
		    "holds a \"%s\" or \"%s\" line", path, begin, end);
		return 1;
	}
	b = find_line(old, old_len, 0, begin);
	e = b < 0 ? -1 : find_line(old, old_len, (size_t)b, end);
	if (b >= 0 && e < 0) {
		agent_outcome_set(o, KP_ST_FAILED, "%s: \"%s\" has no \"%s\" "
		    "after it; fix the file by hand (korch keeps what is "
		    "outside its block)", path, begin, end);
		return 1;
	}
	if (b < 0) {
		head = tail = old_len;
	} else {
		head = (size_t)b;
		tail = (size_t)e + strlen(end);
		if (tail < old_len && old[tail] == '\n')
			tail++;
	}
	*out = NULL;
	if ((fp = open_memstream(out, outlen)) == NULL)
		return KORCH_ERR_ALLOC;
	fwrite(old, 1, head, fp);
	if (head > 0 && old[head - 1] != '\n')
		fputc('\n', fp);
	fprintf(fp, "%s\n", begin);
	fwrite(content, 1, clen, fp);
	if (clen > 0 && content[clen - 1] != '\n')
		fputc('\n', fp);
	fprintf(fp, "%s\n", end);
	fwrite(old + tail, 1, old_len - tail, fp);
	if (ferror(fp) | (fclose(fp) != 0)) {
		free(*out);
		*out = NULL;
		return KORCH_ERR_ALLOC;
	}
	return 0;
}

static int
block_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o)
{
	const char *path, *marker, *content;
	char *old = NULL, *new = NULL, what[256] = "";
	size_t old_len = 0, new_len = 0;
	struct stat st;
	int r, exists;
	mode_t mode;

	if (agent_arg_path(t, "path", &path, o) != KORCH_OK ||
	    agent_arg_mode(t, "mode", 0644, &mode, o) != KORCH_OK)
		goto out;
	marker = agent_arg_str(t, "marker", "korch");
	content = agent_arg_str(t, "content", "");
	if (!valid_marker(marker)) {
		agent_outcome_set(o, KP_ST_FAILED, "block %s: marker \"%.64s\" "
		    "is not a word ([a-z0-9_.-], at most %d)", path, marker,
		    MARKER_MAX);
		goto out;
	}
	r = agent_read_file(path, BLOCK_FILE_MAX, &old, &old_len, o);
	if (r != KORCH_OK && r != KORCH_ERR_NOT_FOUND)
		goto out;
	exists = r == KORCH_OK;
	if (exists && stat(path, &st) == -1) {
		agent_outcome_set(o, KP_ST_FAILED, "stat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((r = splice(old != NULL ? old : "", old_len, marker, content,
	    &new, &new_len, o, path)) != 0) {
		if (r < 0)
			agent_outcome_set(o, KP_ST_FAILED, "out of memory");
		goto out;
	}
	if (exists && new_len == old_len && memcmp(old, new, old_len) == 0) {
		r = agent_attrs_sync(path, &st, mode, AGENT_ID_NONE,
		    AGENT_ID_NONE, check_only, what, sizeof(what), o);
		if (r == 0)
			agent_outcome_set(o, KP_ST_OK, "%s: block %s up to "
			    "date", path, marker);
		else if (r > 0)
			agent_outcome_set(o, KP_ST_CHANGED, "%s%s: %s",
			    check_only ? "would fix " : "", path, what);
		goto out;
	}
	agent_outcome_diff_text(o, path, old, old_len, new, new_len);
	if (check_only) {
		agent_outcome_set(o, KP_ST_CHANGED, "would update block %s in "
		    "%s%s", marker, path, exists ? "" : " (new file)");
		goto out;
	}
	/* The file is shared: it keeps its owner. */
	if (agent_write_atomic(path, new, new_len, mode,
	    exists ? (long long)st.st_uid : AGENT_ID_NONE,
	    exists ? (long long)st.st_gid : AGENT_ID_NONE, o) != KORCH_OK)
		goto out;
	agent_outcome_set(o, KP_ST_CHANGED, "updated block %s in %s%s", marker,
	    path, exists ? "" : " (new file)");
out:
	free(old);
	free(new);
	return KORCH_OK;
}

const struct agent_module agent_mod_block = {
	.name = "block",
	.flags = 0,
	.run = block_run,
};
