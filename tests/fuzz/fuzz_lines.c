/*
 * fuzz_lines.c - libFuzzer target for the envfile and sysctl line
 * editors and korch's marked block (agent/mod_envfile.c, mod_sysctl.c,
 * lines.c, mod_block.c): a file's text with one "KEY=value" / "name =
 * value" line, or a block (marker KEY, content VALUE), to set.
 *
 * The real modules run, through the real dispatcher (agent_module_run,
 * so arguments are checked against proto/modspec.c first), on a file in
 * a private temp directory; sysctl's /proc/sys is a temp tree too
 * (KORCH_AGENT_PROCSYS, the modules' test hook).  Input layout:
 *
 *   byte 0    bit 0: sysctl (else envfile); bit 1: check mode;
 *             bits 2-3: envfile quote (auto/always/never/none given);
 *             bit 4: sysctl live=true (the live file holds "0");
 *             bit 5: block (else as bit 0 says)
 *   then      KEY NUL VALUE NUL FILE-TEXT (missing parts are "")
 *
 * A run that changed the file must leave it converged: the same task run
 * again reports ok and changes nothing.
 */
#include <sys/stat.h>

#include <stdint.h>

#include "err.h"
#include "module.h"
#include "wire.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) __builtin_trap(); } while (0)

static const char *const quotes[] = { "auto", "always", "never", NULL };

static void
setup(void)
{
	char p[512];

	(void)snprintf(p, sizeof(p), "%s/procsys", fz_tmpdir());
	(void)mkdir(p, 0700);
	if (setenv("KORCH_AGENT_PROCSYS", p, 1) != 0)
		abort();
	(void)snprintf(p, sizeof(p), "%s/procsys/net", fz_tmpdir());
	(void)mkdir(p, 0700);
	(void)snprintf(p, sizeof(p), "%s/procsys/net/ipv4", fz_tmpdir());
	(void)mkdir(p, 0700);
	fz_put("procsys/net/ipv4/ip_forward", "0\n", 2, p, sizeof(p));
}

static void
kv(struct kp_kv *a, const char *k, const char *v, size_t n)
{
	a->key = (char *)k;
	a->val = (char *)v;
	a->val_len = (uint32_t)n;
}

/* The next NUL-terminated part of the input, copied. */
static char *
part(const uint8_t **p, size_t *n)
{
	const uint8_t *z = memchr(*p, '\0', *n);
	size_t len = z != NULL ? (size_t)(z - *p) : *n;
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, *p, len);
	s[len] = '\0';
	*p += z != NULL ? len + 1 : len;
	*n -= z != NULL ? len + 1 : len;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct agent_outcome *o;
	struct kp_kv args[4];
	struct kp_task t;
	char path[512];
	char *key, *val;
	unsigned flags;
	int check;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	check = (flags & 2) != 0;
	key = part(&data, &size);
	val = part(&data, &size);
	if (flags & 16)	/* as the kernel had it before */
		fz_put("procsys/net/ipv4/ip_forward", "0\n", 2, path,
		    sizeof(path));
	fz_put("target.conf", data, size, path, sizeof(path));
	memset(&t, 0, sizeof(t));
	t.id = 1;
	t.args = args;
	if (flags & 32) {
		t.module = (char *)"block";
		kv(&args[0], "path", path, strlen(path));
		kv(&args[1], "marker", key, strlen(key));
		kv(&args[2], "content", val, strlen(val));
		t.nargs = 3;
	} else if (flags & 1) {
		t.module = (char *)"sysctl";
		kv(&args[0], "name", key, strlen(key));
		kv(&args[1], "value", val, strlen(val));
		kv(&args[2], "file", path, strlen(path));
		if (flags & 16)
			kv(&args[3], "live", "true", 4);
		else
			kv(&args[3], "live", "false", 5);
		t.nargs = 4;
	} else {
		t.module = (char *)"envfile";
		kv(&args[0], "path", path, strlen(path));
		kv(&args[1], "key", key, strlen(key));
		kv(&args[2], "value", val, strlen(val));
		t.nargs = 3;
		if (((flags >> 2) & 3) < 3) {
			kv(&args[3], "quote", quotes[(flags >> 2) & 3],
			    strlen(quotes[(flags >> 2) & 3]));
			t.nargs = 4;
		}
	}
	if ((o = malloc(sizeof(*o))) == NULL)
		abort();
	CHECK(agent_module_run(&t, NULL, check, o) == KORCH_OK);
	CHECK(o->status >= KP_ST_OK && o->status <= KP_ST_SKIPPED);
	if (o->status == KP_ST_CHANGED && !check) {
		/* Converged: once more is a no-op (live "0" was written). */
		CHECK(agent_module_run(&t, NULL, 1, o) == KORCH_OK);
		CHECK(o->status == KP_ST_OK);
	}
	free(o);
	free(key);
	free(val);
	return 0;
}
