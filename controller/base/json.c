#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/json.h"
#include "base/strbuf.h"

struct json {
	struct strbuf	 b;	/* its err is the writer's sticky error */
	int	 depth;
	/* Per level: does the next item need a comma, are we after a key? */
	unsigned char	need_comma[JSON_MAX_DEPTH + 1];
	int	 after_key;
};

struct json *
json_new(void)
{
	return calloc(1, sizeof(struct json));
}

void
json_free(struct json *j)
{
	if (j == NULL)
		return;
	free(j->b.p);
	free(j);
}

static void
put(struct json *j, const char *p, size_t n)
{
	strbuf_put(&j->b, p, n);
}

/* Comma handling before any value (or key). */
static void
sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->need_comma[j->depth])
		put(j, ",", 1);
	j->need_comma[j->depth] = 1;
}

static void
open_level(struct json *j, char c)
{
	sep(j);
	put(j, &c, 1);
	if (j->depth >= JSON_MAX_DEPTH) {
		j->b.err = KORCH_ERR_TOO_LARGE;
		return;
	}
	j->depth++;
	j->need_comma[j->depth] = 0;
}

static void
close_level(struct json *j, char c)
{
	if (j->depth == 0 || j->after_key) {
		j->b.err = KORCH_ERR_INTERNAL;
		return;
	}
	j->depth--;
	put(j, &c, 1);
}

void json_obj_begin(struct json *j) { open_level(j, '{'); }
void json_obj_end(struct json *j)   { close_level(j, '}'); }
void json_arr_begin(struct json *j) { open_level(j, '['); }
void json_arr_end(struct json *j)   { close_level(j, ']'); }

/* Length of a valid UTF-8 sequence at p (max n bytes), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and out-of-range code points. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void
put_escaped(struct json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t i = 0, run, l;

	put(j, "\"", 1);
	while (i < n) {
		/* Copy runs of plain bytes at once. */
		run = i;
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 &&
		    p[run] != '"' && p[run] != '\\')
			run++;
		put(j, s + i, run - i);
		i = run;
		if (i >= n)
			break;
		switch (p[i]) {
		case '"':  put(j, "\\\"", 2); i++; continue;
		case '\\': put(j, "\\\\", 2); i++; continue;
		case '\n': put(j, "\\n", 2); i++; continue;
		case '\r': put(j, "\\r", 2); i++; continue;
		case '\t': put(j, "\\t", 2); i++; continue;
		}
		if (p[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			put(j, esc, 6);
			i++;
			continue;
		}
		if ((l = utf8_len(p + i, n - i)) == 0) {
			put(j, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		put(j, s + i, l);
		i += l;
	}
	put(j, "\"", 1);
}

void
json_key(struct json *j, const char *key)
{
	sep(j);
	put_escaped(j, key, strlen(key));
	put(j, ":", 1);
	j->after_key = 1;
}

void
json_strn(struct json *j, const char *s, size_t n)
{
	sep(j);
	put_escaped(j, s, n);
}

void
json_str(struct json *j, const char *s)
{
	if (s == NULL) {
		json_null(j);
		return;
	}
	json_strn(j, s, strlen(s));
}

void
json_int(struct json *j, int64_t v)
{
	char num[32];
	int n;

	sep(j);
	n = snprintf(num, sizeof(num), "%" PRId64, v);
	put(j, num, (size_t)n);
}

void
json_bool(struct json *j, int v)
{
	sep(j);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void
json_null(struct json *j)
{
	sep(j);
	put(j, "null", 4);
}

void
json_raw(struct json *j, const char *text)
{
	if (text == NULL || *text == '\0') {
		json_null(j);
		return;
	}
	sep(j);
	put(j, text, strlen(text));
}

void json_kstr(struct json *j, const char *k, const char *s) { json_key(j, k); json_str(j, s); }
void json_kint(struct json *j, const char *k, int64_t v) { json_key(j, k); json_int(j, v); }
void json_kbool(struct json *j, const char *k, int v) { json_key(j, k); json_bool(j, v); }

int
json_finish(struct json *j, const char **out, size_t *len)
{
	if (j->b.err)
		return j->b.err;
	if (j->depth != 0 || j->after_key || j->b.p == NULL)
		return KORCH_ERR_INTERNAL;
	*out = j->b.p;
	if (len != NULL)
		*len = j->b.len;
	return 0;
}
