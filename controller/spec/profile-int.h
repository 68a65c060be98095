/*
 * profile-int.h - a profile as loaded, shared by profile_load.c (one
 * file's YAML into a struct profile) and profile.c (the set, its checks,
 * the queries).  Not for use outside spec/profile*.c.
 */
#ifndef KORCH_PROFILE_INT_H
#define KORCH_PROFILE_INT_H

#include <stddef.h>

#include "base/strlist.h"
#include "cluster/upgrade_plan.h"

struct diag;

struct named_list {
	char		*name;
	struct strlist	 l;
};

/* A template as written, with where it was written. */
struct text {
	char		*s;
	unsigned	 line, col;
};

struct pvar {
	char		*key;
	struct text	 val;
};

struct flagset {
	char		*component;
	struct text	*flags;
	size_t		 n;
	unsigned	 line;
};

struct role {
	char		*name;
	struct strlist	 runs, needs;
};

struct profile {
	char			*name;
	char			*file;
	char			*base_name;
	unsigned		 base_line, base_col;
	const struct profile	*base;
	int			 ranged;
	struct kver		 from, to;
	struct role		*roles;
	size_t			 nroles;
	int			 have_roles;
	struct strlist		 versioned;
	int			 have_versioned;
	struct named_list	*steps;
	size_t			 nsteps;
	int			 have_steps;
	struct pvar		*vars;
	size_t			 nvars;
	struct flagset		*flags;
	size_t			 nflags;
};

struct profile_set {
	struct profile	*p;
	size_t		 n;
};

/*
 * Load one profile file into p (zeroed by the caller).  0; or -1 when it
 * had problems (reported in d) or memory ran out (*oom set); either way
 * p is to be released.
 */
int profile_load_file(const char *file, struct profile *p, struct diag *d,
    int *oom);
/* Free what p holds and zero it. */
void profile_release(struct profile *p);

#endif
