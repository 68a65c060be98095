/*
 * template.c - see template.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "base/diag.h"
#include "base/strbuf.h"
#include "base/strlist.h"
#include "engine/vars.h"
#include "engine/template.h"

/* Longest variable name; longer is a typo or garbage, not a name. */
#define NAME_MAX_LEN	128

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static void
report(struct diag *d, const struct tmpl_src *src, unsigned line,
    unsigned col, const char *msg, const char *arg)
{
	const char *ctx = src->context;

	if (src->line != 0) {
		line = src->line;
		col = src->col;
	}
	diag_add(d, src->file, line, col, src->path, "%s%s%s%s%s%s%s", msg,
	    arg ? " '" : "", arg ? arg : "", arg ? "'" : "",
	    ctx ? " (" : "", ctx ? ctx : "", ctx ? ")" : "");
}

/* Bytes a unit file reads as themselves, in a word. */
static int
systemd_plain(unsigned char c)
{
	return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("_./:=,+@[]~^-", c) != NULL;
}

/* val into o as systemd reads it back (template.h, TMPL_CTX_SYSTEMD). */
static void
put_systemd(struct strbuf *o, const char *val)
{
	const char *p = val, *w;
	size_t n, k;
	int plain;

	while (*p != '\0') {
		if (*p == ' ' || *p == '\t') {
			strbuf_put(o, p++, 1);
			continue;
		}
		for (w = p, plain = 1; *p != '\0' && *p != ' ' && *p != '\t';
		    p++)
			plain &= systemd_plain((unsigned char)*p);
		n = (size_t)(p - w);
		if (plain) {
			strbuf_put(o, w, n);
			continue;
		}
		strbuf_put(o, "\"", 1);
		for (k = 0; k < n; k++) {
			if (w[k] == '\\' || w[k] == '"')
				strbuf_put(o, "\\", 1);
			else if (w[k] == '%' || w[k] == '$')
				strbuf_put(o, w + k, 1);
			strbuf_put(o, w + k, 1);
		}
		strbuf_put(o, "\"", 1);
	}
}

/* Why val (of a variable with flags) cannot go where src renders, or
 * NULL. */
static const char *
misplaced(const struct tmpl_src *src, const char *val, unsigned flags)
{
	const char *p;

	if (src->ctx == TMPL_CTX_SYSTEMD && (flags & VARS_F_UNIT))
		return NULL;
	if (src->ctx == TMPL_CTX_SYSTEMD) {
		for (p = val; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return "holds a newline or a control character, "
				    "which a unit file cannot quote";
		return NULL;
	}
	if (src->ctx == TMPL_CTX_CONTENT || !(flags & VARS_F_USER))
		return NULL;
	if ((flags & VARS_F_MULTILINE) || strchr(val, '\n') != NULL)
		return "is multi-line, which only a file task's content: may "
		    "hold";
	return NULL;
}

/*
 * One pass does both jobs: with v == NULL and o == NULL it only checks the
 * syntax.  Returns 0 or KORCH_ERR_TEMPLATE / TOO_LARGE / ALLOC.
 */
static int
scan(const struct tmpl_src *src, const char *text, size_t len,
    const struct vars *v, struct strbuf *o, struct diag *d)
{
	struct strlist seen = { 0 };	/* names reported undefined, once each */
	char name[NAME_MAX_LEN + 1], shown[48], msg[NAME_MAX_LEN + 128];
	const char *val, *close, *why;
	unsigned flags;
	unsigned line = 1, col = 1, sline, scol;
	size_t i = 0, j, lit = 0, ns, ne, k;
	int bad = 0;

	while (i < len) {
		if (!(text[i] == '{' && i + 1 < len && text[i + 1] == '{')) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)text[i] & 0xc0) != 0x80)
				col++;	/* columns count UTF-8 characters */
			i++;
			continue;
		}
		if (o != NULL)
			strbuf_put(o, text + lit, i - lit);
		sline = line;
		scol = col;
		close = memmem(text + i + 2, len - i - 2, "}}", 2);
		if (close == NULL) {
			report(d, src, sline, scol, "unclosed '{{'", NULL);
			bad = 1;
			lit = i = len;
			break;
		}
		j = i + 2;
		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		ns = j;
		while (j < len && is_name_char(text[j]))
			j++;
		ne = j;
		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		if (text + j != close || ne == ns || ne - ns > NAME_MAX_LEN) {
			k = (size_t)(close - text) + 2 - i;
			if (k > sizeof(shown) - 4) {
				memcpy(shown, text + i, sizeof(shown) - 4);
				memcpy(shown + sizeof(shown) - 4, "...", 4);
			} else {
				memcpy(shown, text + i, k);
				shown[k] = '\0';
			}
			for (k = 0; shown[k] != '\0'; k++)
				if (shown[k] == '\n' || shown[k] == '\t')
					shown[k] = ' ';
			report(d, src, sline, scol, ne == ns ?
			    "expected a variable name in" :
			    "malformed variable reference (names are "
			    "[A-Za-z0-9_.]+)", shown);
			bad = 1;
		} else {
			memcpy(name, text + ns, ne - ns);
			name[ne - ns] = '\0';
			if (o != NULL) {
				if ((val = vars_get(v, name)) != NULL) {
					flags = vars_flags(v, name);
					if (src->used != NULL)
						*src->used |= flags;
					if ((why = misplaced(src, val,
					    flags)) != NULL) {
						snprintf(msg, sizeof(msg),
						    "the value of '%s' %s", name,
						    why);
						report(d, src, sline, scol, msg,
						    NULL);
						bad = 1;
					} else if (src->ctx == TMPL_CTX_SYSTEMD &&
					    !(flags & VARS_F_UNIT))
						put_systemd(o, val);
					else
						strbuf_put(o, val, strlen(val));
				} else if (!strlist_has(&seen, name)) {
					report(d, src, sline, scol,
					    "undefined variable", name);
					/* On ENOMEM the name may be reported
					 * twice; harmless. */
					(void)strlist_add(&seen, name);
					bad = 1;
				} else
					bad = 1;
			}
		}
		/* Continue after "}}", keeping line/col in step. */
		for (k = i; k < (size_t)(close - text) + 2; k++) {
			if (text[k] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)text[k] & 0xc0) != 0x80)
				col++;
		}
		i = lit = (size_t)(close - text) + 2;
	}
	if (o != NULL)
		strbuf_put(o, text + lit, len - lit);
	strlist_free(&seen);
	if (o != NULL && o->err == KORCH_ERR_TOO_LARGE)
		diag_add(d, src->file, src->line, src->col, src->path,
		    "rendered output exceeds %u bytes", TEMPLATE_MAX_OUT);
	if (o != NULL && o->err != 0)
		return o->err;
	return bad ? KORCH_ERR_TEMPLATE : 0;
}

int
template_check(const struct tmpl_src *src, const char *text, size_t len,
    struct diag *d)
{
	if (src == NULL || (text == NULL && len > 0))
		return KORCH_ERR_INVALID_ARG;
	return scan(src, text, len, NULL, NULL, d);
}

int
template_render_src(const struct tmpl_src *src, const char *text, size_t len,
    const struct vars *v, char **out, size_t *outlen, struct diag *d)
{
	struct strbuf o = { .max = TEMPLATE_MAX_OUT };
	int r;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (src == NULL || (text == NULL && len > 0))
		return KORCH_ERR_INVALID_ARG;
	if ((r = scan(src, text, len, v, &o, d)) != 0)
		goto out;
	/* An empty template renders to "", not NULL. */
	if (o.p == NULL && (o.p = strdup("")) == NULL) {
		r = KORCH_ERR_ALLOC;
		goto out;
	}
	*out = o.p;
	if (outlen != NULL)
		*outlen = o.len;
	o.p = NULL;
 out:
	free(o.p);
	return r;
}

int
template_render(const char *tmpl_name, const char *text, size_t len,
    const struct vars *v, char **out, size_t *outlen, struct diag *d)
{
	struct tmpl_src src = { tmpl_name, 0, 0, NULL, NULL, TMPL_CTX_TEXT,
	    NULL };

	return template_render_src(&src, text, len, v, out, outlen, d);
}
