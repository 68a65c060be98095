/*
 * playbook-int.h - what the playbook loader's files share: playbook.c
 * (the directory, its files and steps), playbook_task.c (a step's tasks)
 * and playbook_check.c (the references between steps, checked once all
 * files are read).  Not for use outside spec/playbook*.c.
 */
#ifndef KORCH_PLAYBOOK_INT_H
#define KORCH_PLAYBOOK_INT_H

#include "spec/yaml_doc.h"

struct playbook;
struct pb_step;

/* One playbook_load() call; y is reopened for each file. */
struct pb_loader {
	struct ydoc	 y;
	const char	*dir;
	struct playbook	*pb;
};

/* 1 when s is a valid step or task name ([a-z0-9_-]+). */
int pb_name_valid(const char *s);

/* The sequence seq of tasks (verify: probes) into st->tasks, which has
 * room for them. */
void pb_load_task_list(struct pb_loader *ld, const yaml_node_t *seq,
    const char *path, struct pb_step *st, int verify);

/* Across all steps: duplicate step names, needs (resolved into their
 * step indexes), cycles, watch targets (resolved). */
void pb_check_refs(struct pb_loader *ld);

#endif
