/*
 * playbook_path.h - where the default playbook set lives.
 *
 * In order: --playbooks DIR, $KORCH_PLAYBOOKS, then next to the korch
 * binary: <bindir>/../playbooks (a build tree: build/korch) and
 * <bindir>/../share/korch/playbooks (after `make install`).
 */
#ifndef KORCH_PLAYBOOK_PATH_H
#define KORCH_PLAYBOOK_PATH_H

#include <stddef.h>

/* Write the directory into out.  KORCH_ERR_NOT_FOUND when none exists,
 * KORCH_ERR_TOO_LARGE when it does not fit.  argv0 is unused when
 * /proc/self/exe can be read. */
int playbook_dir(const char *given, const char *argv0, char *out,
    size_t len);

#endif
