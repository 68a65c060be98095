/* sha256hex.c - see sha256hex.h. */
#include "sha256hex.h"

int
sha256_hex_valid(const char *s)
{
	int i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}
