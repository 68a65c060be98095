/*
 * json.h - a small streaming JSON writer for --json output and the facts
 * blob kept in state.  It only writes: korch never parses JSON.
 *
 * The writer tracks nesting so commas come out right; strings are escaped
 * per RFC 8259 (control characters as \u00XX, invalid UTF-8 bytes replaced
 * by U+FFFD so the output is always valid).  Errors (allocation, nesting
 * past JSON_MAX_DEPTH, unbalanced end) are sticky: json_finish() reports
 * them once.
 */
#ifndef KORCH_JSON_H
#define KORCH_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json;

/* New writer appending to an internal buffer.  NULL on ENOMEM. */
struct json *json_new(void);
void json_free(struct json *j);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
/* Inside an object: the next value's key. */
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *s);	/* NULL writes null */
void json_strn(struct json *j, const char *s, size_t n);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);

/* A value that is already JSON, written as is (korch's own output only,
 * e.g. the facts object kept in state); NULL writes null. */
void json_raw(struct json *j, const char *text);

/* Key + value shorthands. */
void json_kstr(struct json *j, const char *key, const char *s);
void json_kint(struct json *j, const char *key, int64_t v);
void json_kbool(struct json *j, const char *key, int v);

/* 0 and the NUL-terminated text (owned by j) when the document is complete
 * and nothing failed; else a KORCH_ERR_* and *out untouched. */
int json_finish(struct json *j, const char **out, size_t *len);

#endif
