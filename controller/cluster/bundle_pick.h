/*
 * bundle_pick.h - which offline bundle holds the version an upgrade asks
 * for.  `korch upgrade --to 1.9` takes the newest 1.9.x among the bundles
 * it is shown: a bundle (directory or .tar.gz) named with --bundle, or
 * every bundle inside a directory of bundles (its bundle directories
 * and *.tar.gz files; a tarball beside a directory of the same name is the
 * same bundle and is not unpacked).
 */
#ifndef KORCH_BUNDLE_PICK_H
#define KORCH_BUNDLE_PICK_H

#include <stddef.h>

struct diag;
struct kver;

/*
 * Look through path (a bundle, or a directory of bundles) for the newest
 * bundle whose kubernetes_version matches want.  0 and *chosen (a new
 * string: the bundle's path) and its version in ver; KORCH_ERR_NOT_FOUND
 * with the versions seen listed in d; KORCH_ERR_PARSE when path is not
 * readable; KORCH_ERR_ALLOC.
 */
int bundle_pick(const char *path, const struct kver *want, char **chosen,
    char *ver, size_t verlen, struct diag *d);

#endif
