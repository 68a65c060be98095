/*
 * render-int.h - what the renderer's files share: render.c (a host's
 * variables and tasks) and render_lb.c (how the host reaches the
 * apiservers).  Not for use outside engine/render*.c.
 */
#ifndef KORCH_RENDER_INT_H
#define KORCH_RENDER_INT_H

#include <stddef.h>
#include <stdio.h>

struct inventory;
struct vars;

/*
 * A string built with stdio: open_memstream grows it, and one check at
 * close time covers every write.
 */
struct sbuild {
	FILE	*fp;
	char	*p;
	size_t	 len;
};

/* 0, or KORCH_ERR_ALLOC. */
int sb_open(struct sbuild *b);
/* Close b, and set name to its string in v (b is empty after, whatever
 * is returned).  0, or KORCH_ERR_ALLOC. */
int sb_set(struct sbuild *b, struct vars *v, const char *name);

/* The lb.* variables of host host_idx (render.h) into v, which already
 * holds the run's and the inventory's.  0, or KORCH_ERR_ALLOC. */
int render_lb_vars(struct vars *v, const struct inventory *inv,
    size_t host_idx);

#endif
