/*
 * fuzz_greeting.c - libFuzzer target for the greeting scanner
 * (controller/ssh/boot.c): the search for "KORCH-AGENT-READY <ver> <hash>"
 * or "KORCH-NEED-AGENT" in the bootstrap's stdout, past login-shell noise,
 * lines longer than the line buffer, CRs and a marker that follows noise
 * without a newline.
 *
 * boot.c is compiled into this target (its scanner is static) and the
 * rest of the controller is linked as usual; the connection is a zeroed
 * struct ssh_conn that only the scanner's fields are used of.  The input's
 * first byte sets the read size, so lines are split across reads the way
 * SSH channel reads split them.  What is reached: greet_feed, greet_line,
 * note_noise, kp_greeting_parse, ssh_printable.  Not reached: the libssh2
 * reads and the state changes after a greeting (conn.c's machine, which
 * needs a live session).
 */
#include "../../controller/ssh/boot.c"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static void
found(const struct ssh_conn *c)
{
	size_t i;

	CHECK(strlen(c->greet_hash) == SHA256_HEX_SIZE - 1);
	for (i = 0; i < SHA256_HEX_SIZE - 1; i++)
		CHECK(strchr("0123456789abcdef", c->greet_hash[i]) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssh_conn *c;
	size_t chunk, n, used;
	enum greet g;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] * 16 + 1;
	data++;
	size--;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return 0;
	while (size > 0) {
		n = size < chunk ? size : chunk;
		g = greet_feed(c, (const char *)data, n, &used);
		CHECK(used >= 1 && used <= n);
		CHECK(c->line_len <= sizeof(c->line));
		if (g == GREET_FOUND)
			found(c);
		/* What follows a greeting is frames; scan on anyway. */
		data += used;
		size -= used;
	}
	/* The bootstrap ended: its last line without a newline counts. */
	if (c->line_len > 0 && greet_line(c) == GREET_FOUND)
		found(c);
	CHECK(strlen(c->noise_first) <= SSH_NOISE_MAX);
	free(c);
	return 0;
}
