/*
 * module.h - task modules: the const table that describes them, the
 * outcome they fill, and the argument helpers they share.
 *
 * Argument names come from proto/modspec.c, the one table the controller
 * checks playbooks against too.  agent_module_run() looks the module up,
 * rejects unknown, missing, repeated or NUL-holding arguments against that
 * spec, and only then calls the handler.  Handlers check before they change anything and
 * in check-only mode change nothing (AGENT_MOD_READONLY modules, which
 * never change anything, run the same either way).
 *
 * A handler returns KORCH_OK whenever the outcome says what happened,
 * including failure; a negative code means the session itself broke (the
 * blob stream, say) and the serve loop must stop.
 */
#ifndef KORCH_AGENT_MODULE_H
#define KORCH_AGENT_MODULE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "agent.h"
#include "modspec.h"
#include "wire.h"

#define AGENT_MSG_MAX		512	/* the first line, with its NUL */
#define AGENT_DIFF_MAX		4096
/* A note (agent_outcome_note) keeps at most this much of its text, and
 * the message has room for one note after its first line. */
#define AGENT_NOTE_LINES	30	/* a status head and a journal's 20 */
#define AGENT_NOTE_BYTES	4096
#define AGENT_NOTE_TITLE	256
#define AGENT_NOTE_MAX		(AGENT_NOTE_BYTES + AGENT_NOTE_TITLE + 64)

struct agent_outcome {
	int	 status;		/* enum kp_status */
	/* One line of at most AGENT_MSG_MAX - 1 bytes, then the notes. */
	char	 msg[AGENT_MSG_MAX + AGENT_NOTE_MAX];
	char	 diff[AGENT_DIFF_MAX];	/* NUL-terminated, may be "" */
	size_t	 diff_len;
	int	 diff_full;		/* truncated; later appends dropped */
};

void agent_outcome_init(struct agent_outcome *o);
/* Set status and message; the message is folded onto one line of at most
 * AGENT_MSG_MAX - 1 bytes (and any note is dropped). */
void agent_outcome_set(struct agent_outcome *o, int status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Add lines to a failure's message: "\n--- title ---", then the tail of
 * text (its last AGENT_NOTE_LINES lines, at most AGENT_NOTE_BYTES bytes,
 * cut on a UTF-8 character boundary), "[earlier output dropped]" first
 * when anything was cut or head_dropped says the text is a tail already,
 * "(no output)" when there is none.  Control characters other than the
 * newline become spaces, as in agent_outcome_set.  What does not fit in
 * msg is dropped from the front of text.
 */
void agent_outcome_note(struct agent_outcome *o, const char *title,
    const char *text, size_t n, int head_dropped);
/* Append to the diff; past AGENT_DIFF_MAX it ends with a truncation note. */
void agent_outcome_diff(struct agent_outcome *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void agent_outcome_diff_raw(struct agent_outcome *o, const char *p, size_t n);
/* A unified-style diff of two texts (binary or huge input: a summary). */
void agent_outcome_diff_text(struct agent_outcome *o, const char *label,
    const char *a, size_t alen, const char *b, size_t blen);

/* ---- the module table ---------------------------------------------------- */

#define AGENT_MOD_READONLY	0x1u	/* changes nothing: same in check mode */
/* Sends frames of its own while it runs (fetch's FETCH_DATA): the serve
 * loop sends the results it holds back first, so the controller sees a
 * step's frames in task order. */
#define AGENT_MOD_SENDS		0x2u

typedef int (*agent_module_fn)(const struct kp_task *t,
    struct agent_session *s, int check_only, struct agent_outcome *o);

struct agent_module {
	const char		*name;		/* as in modspec */
	unsigned		 flags;		/* AGENT_MOD_* */
	const char *const	*binary;	/* args that may hold NUL bytes,
						 * NULL-terminated; or NULL */
	agent_module_fn		 run;
};

extern const struct agent_module agent_mod_file;
extern const struct agent_module agent_mod_directory;
extern const struct agent_module agent_mod_absent;
extern const struct agent_module agent_mod_envfile;
extern const struct agent_module agent_mod_block;
extern const struct agent_module agent_mod_sysctl;
extern const struct agent_module agent_mod_service;
extern const struct agent_module agent_mod_command;
extern const struct agent_module agent_mod_probe;
extern const struct agent_module agent_mod_fail;
extern const struct agent_module agent_mod_observe;
extern const struct agent_module agent_mod_fetch;

const struct agent_module *agent_module_find(const char *name);
/* Validate t's arguments against its module and run it; see above. */
int agent_module_run(const struct kp_task *t, struct agent_session *s,
    int check_only, struct agent_outcome *o);

/* ---- argument helpers ---------------------------------------------------- */
/*
 * Each returns KORCH_OK, or KORCH_ERR_INVALID_ARG after setting o to
 * failed with a message naming the argument.  An absent optional argument
 * yields the default.
 */
#define AGENT_ID_NONE	(-1LL)	/* uid/gid not given: leave as is */

const char *agent_arg_str(const struct kp_task *t, const char *key,
    const char *def);
int agent_arg_bool(const struct kp_task *t, const char *key, int def,
    int *out, struct agent_outcome *o);
int agent_arg_uint(const struct kp_task *t, const char *key,
    unsigned long long def, unsigned long long max,
    unsigned long long *out, struct agent_outcome *o);
int agent_arg_mode(const struct kp_task *t, const char *key, mode_t def,
    mode_t *out, struct agent_outcome *o);
int agent_arg_id(const struct kp_task *t, const char *key, long long *out,
    struct agent_outcome *o);
/* Index into choices (a NULL-terminated list); def when absent. */
int agent_arg_enum(const struct kp_task *t, const char *key,
    const char *const *choices, int def, int *out, struct agent_outcome *o);
/* A required absolute path, not "/", without "/../" tricks. */
int agent_arg_path(const struct kp_task *t, const char *key,
    const char **out, struct agent_outcome *o);
/* Every value of a repeated key as a NULL-terminated array of pointers
 * into t (free the array only); *n gets the count. */
int agent_arg_list(const struct kp_task *t, const char *key, char ***out,
    size_t *n, struct agent_outcome *o);

#endif
