/*
 * fs.c - see fs.h.
 */
#include <sys/stat.h>

#include "base/fs.h"

int
fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
