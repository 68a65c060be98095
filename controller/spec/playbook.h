/*
 * playbook.h - the cluster's steps as data, loaded from a directory of
 * YAML files and validated whole: every mistake with file:line:column.
 *
 * Every *.yaml file directly in the directory is read, in name order; each
 * holds a sequence of steps, or a mapping whose only key is `steps:` with
 * that sequence.  Step names are unique across all files.
 *
 *   - name: config                 # required, [a-z0-9_-]+
 *     hosts: [all]                 # required: roles, or "all" / [all]; a
 *                                  # host matches if it has any listed role
 *     needs: [sysctl]              # optional: steps that must succeed on
 *                                  # every host they apply to first
 *     serial: 1                    # optional: a rolling step (see
 *                                  # pb_step.serial)
 *     tasks:                       # tasks and/or verify, at least one
 *       - name: app-config         # optional, [a-z0-9_-]+, unique in step
 *         when: "var == value"     # optional; also "!="; value may be quoted;
 *                                  # a list of conditions must all hold
 *         foreach: { list: bundle.images, fields: bundle.image }
 *                                  # optional: the task
 *                                  # once per item of the comma-separated
 *                                  # variable `list`, with {{ item }} and
 *                                  # {{ item.F }} = <fields>.<item>.F; no
 *                                  # task may watch it
 *         file: { path: /etc/x, template: app.conf.tmpl, mode: "0644" }
 *       - service: { name: x, unit_template: x.service.tmpl,
 *                    watch: [app-config, other-step/task] }
 *     verify:                      # optional probes, after the tasks
 *       - probe: { kind: tcp, port: 8080 }
 *
 * A task has exactly one module key (proto/modspec.h) whose value maps
 * argument names to scalars, or to sequences of scalars for KMS_REPEAT
 * arguments.  Argument values may use {{ variables }} (template.h); they
 * are rendered per host by render.h.  Extras handled by the controller:
 *   template: FILE       file only: content from <dir>/templates/FILE
 *   unit_template: FILE  service only: unit from <dir>/templates/FILE
 *   watch: [names]       service only: restart when one of these tasks
 *                        changed in this run; a name is a task of the same
 *                        step that comes earlier, or step/task of a step
 *                        this one needs (directly or not)
 * Template files are read and syntax-checked at load time.
 */
#ifndef KORCH_PLAYBOOK_H
#define KORCH_PLAYBOOK_H

#include <stddef.h>

struct diag;
struct kms_module;

/* Everything below is read-only after playbook_load(). */

/* One value as written (it may hold {{ variables }}). */
struct pb_val {
	char		*text;
	unsigned	 line, col;	/* for messages */
};

/* One argument; a REPEAT argument may have several values. */
struct pb_arg {
	char		*name;
	struct pb_val	*vals;
	size_t		 nvals;
	int		 list;		/* written as a sequence */
};

/* A watch target: as written, and resolved. */
struct pb_watch {
	char		*name;
	size_t		 step;		/* index in playbook steps */
	size_t		 task;		/* index in that step's tasks */
	unsigned	 line, col;
};

/* A needed step: as written, and resolved. */
struct pb_need {
	char		*name;
	size_t		 step;		/* index in playbook steps */
	unsigned	 line, col;
};

struct pb_when {
	char		*var;
	char		*val;
	int		 neg;		/* 1 for != */
};

struct pb_task {
	char		*name;		/* NULL when unnamed */
	char		*key;		/* "step/name", or "step/N" (1-based) */
	const struct kms_module *mod;
	struct pb_arg	*args;		/* module arguments, without extras */
	size_t		 nargs;
	char		*tmpl_arg;	/* "content" or "unit"; NULL: none */
	char		*tmpl_file;	/* as written, relative to templates/ */
	char		*tmpl_path;	/* <dir>/templates/<file> */
	char		*tmpl_text;	/* the template file's bytes */
	size_t		 tmpl_len;
	struct pb_watch	*watch;
	size_t		 nwatch;
	struct pb_when	*when;		/* all must hold; none: always */
	size_t		 nwhen;
	/* foreach: the task once per item of the comma-separated variable
	 * foreach_list, keyed "step/name[item]", seeing item (the item) and
	 * item.<f> for every variable <foreach_fields>.<item>.<f>.  NULL:
	 * once. */
	char		*foreach_list;
	char		*foreach_fields;
	int		 verify;	/* from the step's verify: list */
	const char	*file;		/* the step's file (owned by playbook) */
	char		*path;		/* e.g. "steps[2].tasks[0]" */
	unsigned	 line, col;
};

struct pb_step {
	char		*name;
	int		 all;		/* hosts: all */
	char		**roles;	/* when !all */
	size_t		 nroles;
	struct pb_need	*needs;
	size_t		 nneeds;
	/* A failure on any host stops the whole run before later steps
	 * change anything (pre-flight checks). */
	int		 any_errors_fatal;
	/* Rolling: at most serial hosts run the step at a time, each after
	 * the ones before it finished the whole step (its own health check
	 * is its last task); the roll stops at the first failure.  0: every
	 * host at once.  The caller decides when a step rolls
	 * (dag_set_roll): a first install, where no host ran it yet, starts
	 * every host together, since a new etcd cluster needs its members
	 * up at once. */
	unsigned	 serial;
	struct pb_task	*tasks;		/* tasks, then verify probes */
	size_t		 ntasks;
	const char	*file;		/* owned by the playbook */
	char		*path;		/* e.g. "steps[2]" */
	unsigned	 line, col;	/* of the step's name */
};

#define PB_SERIAL_MAX	1000u

struct playbook {
	char		*dir;
	char		**files;	/* the *.yaml files read, sorted */
	size_t		 nfiles;
	struct pb_step	*steps;		/* file order, then order in file */
	size_t		 nsteps;
};

/*
 * Load every *.yaml in dir.  Returns 0 and *out (free with
 * playbook_free); or KORCH_ERR_PARSE with every problem in d, including a
 * cycle in needs named as "a -> b -> a" (*out NULL); or KORCH_ERR_ALLOC.
 */
int playbook_load(const char *dir, struct playbook **out, struct diag *d);
/* NULL-safe. */
void playbook_free(struct playbook *pb);

/* Index of the step named name, or -1. */
long playbook_find_step(const struct playbook *pb, const char *name);
/* Index of the task named name within step s, or -1. */
long playbook_find_task(const struct pb_step *s, const char *name);

#endif
