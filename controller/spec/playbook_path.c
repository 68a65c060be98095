/*
 * playbook_path.c - see playbook_path.h: the playbook directory from the
 * command line, the environment, or the korch binary's own location.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "base/fs.h"
#include "spec/playbook_path.h"

static int
put(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s", a, b);

	return (n < 0 || (size_t)n >= len) ? KORCH_ERR_TOO_LARGE : 0;
}

int
playbook_dir(const char *given, const char *argv0, char *out, size_t len)
{
	static const char *const rel[] = {
		"/../playbooks", "/../share/korch/playbooks"
	};
	char exe[PATH_MAX], *slash;
	const char *env = getenv("KORCH_PLAYBOOKS");
	ssize_t n;
	size_t i;
	int r;

	if (given != NULL)
		return put(out, len, given, "");
	if (env != NULL && *env != '\0')
		return put(out, len, env, "");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		if (argv0 == NULL || realpath(argv0, exe) == NULL)
			return KORCH_ERR_NOT_FOUND;
	} else
		exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return KORCH_ERR_NOT_FOUND;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char *real;

		if ((r = put(out, len, exe, rel[i])) != 0)
			return r;
		if (!fs_is_dir(out))
			continue;
		/* Messages name the files: no "bin/../" in them. */
		if ((real = realpath(out, NULL)) != NULL) {
			r = put(out, len, real, "");
			free(real);
		}
		return r;
	}
	return KORCH_ERR_NOT_FOUND;
}
