/*
 * lines.c - replace one logical line in a config file's text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lines.h"

int
agent_lines_set(const char *text, size_t len, agent_line_match_fn match,
    void *arg, const char *line, char **out, size_t *outlen)
{
	size_t llen = strlen(line), i = 0, n, o = 0;
	const char *nl;
	int done = 0;
	char *buf;

	*out = NULL;
	*outlen = 0;
	/* Never longer than the old text plus the new line and two '\n'. */
	if (len > SIZE_MAX - llen - 3 ||
	    (buf = malloc(len + llen + 3)) == NULL)
		return KORCH_ERR_ALLOC;
	while (i < len) {
		nl = memchr(text + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - (text + i)) : len - i;
		if (match(text + i, n, arg)) {
			if (!done) {
				memcpy(buf + o, line, llen);
				o += llen;
				buf[o++] = '\n';
				done = 1;
			}
		} else {
			memcpy(buf + o, text + i, n);
			o += n;
			if (nl != NULL)
				buf[o++] = '\n';
		}
		i += n + (nl != NULL ? 1 : 0);
	}
	if (!done) {
		if (o > 0 && buf[o - 1] != '\n')
			buf[o++] = '\n';
		memcpy(buf + o, line, llen);
		o += llen;
		buf[o++] = '\n';
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return KORCH_OK;
}
