/*
 * inventory_text.c - what any text of the inventory may hold, whatever
 * its field: one walk over every key and scalar of the document before
 * the fields are read.
 *
 * Every value korch takes from an inventory ends up inside something
 * with structure (a unit file, an env file, a path, a log line, the
 * operator's terminal), so bytes that mean structure there are refused
 * here, at their line: newlines and every other control character, bytes
 * that are not UTF-8 (overlong forms included), and the invisible
 * Unicode that makes a text read differently from what it is (bidi
 * overrides, zero-width characters, line separators).  The one
 * exception is a var written as a YAML literal block ('|'): that is
 * declared multi-line, for a file's content (template.h keeps it there).
 */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "base/diag.h"
#include "spec/inventory-int.h"
#include "spec/yaml_doc.h"

/* Longest one-line value; a path or an option list fits, a file does
 * not (a multi-line var is for that). */
#define TEXT_LINE_MAX		4096
#define TEXT_MULTILINE_MAX	(1u << 20)

/* Invisible or direction-changing code points (Trojan Source). */
static int
deceptive(unsigned long c)
{
	return (c >= 0x80 && c <= 0x9f) ||	/* C1 controls */
	    c == 0x061c ||			/* Arabic letter mark */
	    (c >= 0x200b && c <= 0x200f) ||	/* zero-width, LRM, RLM */
	    (c >= 0x2028 && c <= 0x202e) ||	/* separators, embeddings */
	    (c >= 0x2060 && c <= 0x206f) ||	/* joiners, isolates */
	    c == 0xfeff ||			/* BOM, zero-width nbsp */
	    (c >= 0xfff9 && c <= 0xfffb);	/* interlinear annotation */
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left) and its
 * code point in *cp, or 0 when it is malformed, overlong or a
 * surrogate. */
static size_t
utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2; c = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; c = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; c = s[0] & 0x07; min = 0x10000;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

const char *
inv_text_check(const char *s, size_t len, int multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t i = 0, k;

	if (strlen(s) != len)
		return "contains a NUL byte";
	if (len > (multiline ? TEXT_MULTILINE_MAX : TEXT_LINE_MAX))
		return multiline ? "is longer than 1 MiB" : "is longer than "
		    "4096 bytes (a file's content goes in a multi-line var: "
		    "'|')";
	while (i < len) {
		if ((k = utf8_seq(p + i, len - i, &c)) == 0)
			return "is not valid UTF-8 (or uses an overlong form)";
		if (c == '\n' && !multiline)
			return "contains a newline (only a var written as a "
			    "literal block, '|', may span lines)";
		if (c == '\r')
			return "contains a carriage return";
		if ((c < 0x20 && c != '\n' && !(c == '\t' && multiline)) ||
		    c == 0x7f)
			return "contains a control character";
		if (deceptive(c))
			return "contains an invisible or direction-changing "
			    "Unicode character";
		i += k;
	}
	return NULL;
}

void
inv_text_show(char *out, size_t size, const char *s, size_t len)
{
	size_t o = 0, i;
	unsigned char c;

	if (size == 0)
		return;
	for (i = 0; i < len && o + 8 < size; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		if (o >= 60 && i + 1 < len) {
			snprintf(out + o, size - o, "...");
			return;
		}
	}
	out[o < size ? o : size - 1] = '\0';
}

/* path is where node sits; vars: 1 under a vars: mapping. */
static void
walk(struct inv_loader *ld, const yaml_node_t *n, const char *path, int vars,
    int depth)
{
	struct ydoc *y = &ld->y;
	char sub[YDOC_PATHLEN], shown[80];
	const yaml_node_t *k, *v;
	const char *err, *key;
	yaml_node_t *kk, *vv;
	size_t i, len;
	int ml;

	if (n == NULL || depth > 16)
		return;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		len = n->data.scalar.length;
		ml = vars && n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE;
		if ((err = inv_text_check((const char *)n->data.scalar.value,
		    len, ml)) != NULL) {
			inv_text_show(shown, sizeof(shown),
			    (const char *)n->data.scalar.value, len);
			ydoc_bad(y, n, path, "value %s: \"%s\"", err, shown);
		}
		break;
	case YAML_SEQUENCE_NODE:
		for (i = 0; i < ydoc_count(n); i++) {
			ydoc_pathf(sub, "%s[%zu]", path, i);
			walk(ld, ydoc_item(y, n, i), sub, 0, depth + 1);
		}
		break;
	case YAML_MAPPING_NODE:
		for (i = 0; i < ydoc_count(n); i++) {
			ydoc_pair(y, n, i, &kk, &vv);
			k = kk;
			v = vv;
			if (k == NULL || k->type != YAML_SCALAR_NODE)
				continue;	/* the field loaders say so */
			len = k->data.scalar.length;
			key = (const char *)k->data.scalar.value;
			if ((err = inv_text_check(key, len, 0)) != NULL) {
				inv_text_show(shown, sizeof(shown), key, len);
				ydoc_bad(y, k, path, "key %s: \"%s\"", err,
				    shown);
				continue;
			}
			ydoc_subpath(sub, path, key);
			walk(ld, v, sub, vars || strcmp(key, "vars") == 0,
			    depth + 1);
		}
		break;
	default:
		break;
	}
}

int
inv_text_walk(struct inv_loader *ld, const yaml_node_t *root)
{
	int before = ld->y.nbad;

	walk(ld, root, "", 0, 0);
	return ld->y.nbad > before ? -1 : 0;
}
