/*
 * facts.c - what the controller needs to know about a host before it
 * renders its tasks.  Every key is always present so the controller can
 * rely on the set; a fact the host does not offer is "".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"

#define FACT_FILE_MAX	16384

enum fact {
	F_OS_ID, F_OS_VERSION, F_KERNEL, F_ARCH, F_INIT, F_HOSTNAME, F_CPUS,
	F_MEM_TOTAL_KB, F_BOOT_ID, F_AGENT_VERSION
};
#define NFACTS	(F_AGENT_VERSION + 1)

static const char *const fact_keys[NFACTS] = {
	[F_OS_ID] = "os_id", [F_OS_VERSION] = "os_version",
	[F_KERNEL] = "kernel", [F_ARCH] = "arch", [F_INIT] = "init",
	[F_HOSTNAME] = "hostname", [F_CPUS] = "cpus",
	[F_MEM_TOTAL_KB] = "mem_total_kb", [F_BOOT_ID] = "boot_id",
	[F_AGENT_VERSION] = "agent_version",
};

/* Small text file into buf, NUL-terminated; "" when unreadable. */
static void
slurp(const char *path, char *buf, size_t len)
{
	size_t n = 0;
	FILE *f;

	buf[0] = '\0';
	if ((f = fopen(path, "re")) == NULL)
		return;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void
trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' ||
	    s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* KEY=value from os-release text, unquoted, into val. */
static void
os_release_get(const char *text, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key), n;
	const char *p = text, *v, *end;

	val[0] = '\0';
	while (*p != '\0') {
		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 &&
		    p[klen] == '=') {
			v = p + klen + 1;
			n = (size_t)(end - v);
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') &&
			    v[n - 1] == v[0]) {
				v++;
				n -= 2;
			}
			(void)snprintf(val, len, "%.*s", (int)n, v);
			return;
		}
		p = *end == '\0' ? end : end + 1;
	}
}

static void
mem_total(char *val, size_t len)
{
	char buf[FACT_FILE_MAX];
	const char *p;

	val[0] = '\0';
	slurp("/proc/meminfo", buf, sizeof(buf));
	if ((p = strstr(buf, "MemTotal:")) == NULL)
		return;
	p += strlen("MemTotal:");
	while (*p == ' ' || *p == '\t')
		p++;
	(void)snprintf(val, len, "%.*s", (int)strspn(p, "0123456789"), p);
}

static void
fact_value(enum fact f, const struct utsname *u, const char *osr,
    char *val, size_t len)
{
	struct stat st;
	long n;

	val[0] = '\0';
	switch (f) {
	case F_OS_ID:
		os_release_get(osr, "ID", val, len);
		break;
	case F_OS_VERSION:
		os_release_get(osr, "VERSION_ID", val, len);
		break;
	case F_KERNEL:
		(void)snprintf(val, len, "%s", u->release);
		break;
	case F_ARCH:
		(void)snprintf(val, len, "%s", u->machine);
		break;
	case F_INIT:
		(void)snprintf(val, len, "%s",
		    stat("/run/systemd/system", &st) == 0 &&
		    S_ISDIR(st.st_mode) ? "systemd" : "other");
		break;
	case F_HOSTNAME:
		(void)snprintf(val, len, "%s", u->nodename);
		break;
	case F_CPUS:
		if ((n = sysconf(_SC_NPROCESSORS_ONLN)) > 0)
			(void)snprintf(val, len, "%ld", n);
		break;
	case F_MEM_TOTAL_KB:
		mem_total(val, len);
		break;
	case F_BOOT_ID:
		slurp("/proc/sys/kernel/random/boot_id", val, len);
		trim(val);
		break;
	case F_AGENT_VERSION:
		(void)snprintf(val, len, "%s", KORCH_AGENT_VERSION);
		break;
	}
}

int
agent_facts_collect(struct kp_facts *out)
{
	struct utsname u;
	char osr[FACT_FILE_MAX], val[256];
	struct kp_kv *kv = NULL;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if (uname(&u) == -1)
		memset(&u, 0, sizeof(u));
	slurp("/etc/os-release", osr, sizeof(osr));
	if (osr[0] == '\0')
		slurp("/usr/lib/os-release", osr, sizeof(osr));
	if ((kv = calloc(NFACTS, sizeof(*kv))) == NULL)
		return KORCH_ERR_ALLOC;
	for (i = 0; i < NFACTS; i++) {
		fact_value((enum fact)i, &u, osr, val, sizeof(val));
		kv[i].key = strdup(fact_keys[i]);
		kv[i].val = strdup(val);
		if (kv[i].key == NULL || kv[i].val == NULL) {
			r = KORCH_ERR_ALLOC;
			goto out;
		}
		kv[i].val_len = strlen(val);
	}
	out->kv = kv;
	out->n = NFACTS;
	kv = NULL;
	r = KORCH_OK;
out:
	if (kv != NULL) {
		out->kv = kv;
		out->n = NFACTS;
		kp_facts_clear(out);
	}
	return r;
}
