/*
 * inventory_value.c - what each inventory field may hold: role, host,
 * cluster and user names, variable names, addresses and CIDRs.  Plain
 * string checks, no YAML: the loader reports what these reject.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vars.h"
#include "spec/inventory.h"
#include "spec/inventory-int.h"

/* 1 when s is all lowercase letters, digits and the bytes of extra. */
static int
lower_digits_only(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    strchr(extra, *s) != NULL))
			return 0;
	return 1;
}

int
inventory_role_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	return lower_digits_only(s, "_-");
}

int
inventory_hostname_valid(const char *s)
{
	size_t total = 0, label = 0;
	char prev = '.';

	if (s == NULL || *s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++, total++) {
		if (*s == '.') {
			if (label == 0 || prev == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*s) && isascii(*s)) {
			if (++label > 63)
				return 0;
		} else if (*s == '-') {
			if (label == 0)
				return 0;
			label++;
		} else
			return 0;
		prev = *s;
	}
	return label > 0 && prev != '-';
}

/* A label like a cluster name: lowercase, digits, inner hyphens. */
int
inv_label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	return lower_digits_only(s, "-");
}

/* A login name: conservative POSIX portable set, no leading '-' or '.'
 * (".." is no one's name, and a name may end up in a path). */
int
inv_user_valid(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == '.' || strlen(s) > 32)
		return 0;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) && isascii(*s)) &&
		    *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

/* [A-Za-z0-9_]+: no dots, so user names never shadow korch's namespaces. */
int
inv_varname_valid(const char *s)
{
	return vars_name_valid(s, strlen(s)) && strchr(s, '.') == NULL;
}

/*
 * Check an address; on success write a canonical form (for duplicate
 * detection) into canon.  Returns an error text or NULL.
 */
const char *
inv_address_check(const char *s, char *canon, size_t size)
{
	unsigned char bin[16];
	const char *p;
	size_t i;

	if (*s == '\0')
		return "empty address";
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, bin) != 1)
			return "malformed IPv6 address";
		inet_ntop(AF_INET6, bin, canon, size);
		return NULL;
	}
	for (p = s; *p != '\0' && (isdigit((unsigned char)*p) || *p == '.');
	    p++)
		;
	if (*p == '\0') {
		/* Only digits and dots: an IPv4 literal or a mistake, never a
		 * host name (a name can't be all numeric). */
		if (inet_pton(AF_INET, s, bin) != 1)
			return "malformed IPv4 address";
		inet_ntop(AF_INET, bin, canon, size);
		return NULL;
	}
	if (!inventory_hostname_valid(s))
		return "malformed address: not an IP address or an RFC 1123 "
		    "host name";
	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		canon[i] = (char)tolower((unsigned char)s[i]);
	canon[i] = '\0';
	return NULL;
}

/* network/prefix with all host bits zero.  Error text in msg, or 0. */
int
inv_cidr_check(const char *s, char *msg, size_t size)
{
	unsigned char bin[16], net[16];
	char addr[INET6_ADDRSTRLEN + 1], shown[INET6_ADDRSTRLEN + 1], *end;
	const char *slash;
	long prefix;
	int af, bits, i, hostbits = 0;

	if ((slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof(addr)) {
		snprintf(msg, size, "expected network/prefix, got '%s'", s);
		return -1;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	bits = af == AF_INET6 ? 128 : 32;
	if (inet_pton(af, addr, bin) != 1) {
		snprintf(msg, size, "malformed network address '%s'", addr);
		return -1;
	}
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (!isdigit((unsigned char)slash[1]) || *end != '\0' ||
	    errno != 0 || prefix < 0 || prefix > bits) {
		snprintf(msg, size, "prefix length must be 0-%d, got '%s'",
		    bits, slash + 1);
		return -1;
	}
	for (i = 0; i < bits / 8; i++) {
		int keep = (int)prefix - i * 8;
		unsigned char mask = keep >= 8 ? 0xff :
		    keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));

		net[i] = bin[i] & mask;
		if (net[i] != bin[i])
			hostbits = 1;
	}
	if (hostbits) {
		inet_ntop(af, net, shown, sizeof(shown));
		snprintf(msg, size, "host bits are set in '%s' (the network "
		    "is %s/%ld)", s, shown, prefix);
		return -1;
	}
	return 0;
}
