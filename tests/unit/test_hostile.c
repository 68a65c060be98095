/*
 * test_hostile.c - hostile values: a table of values an attacker who owns
 * one inventory value would try (quotes, $(...), backticks, ;, |,
 * newlines, CR, NUL, ../, 64 KB strings, bidi overrides, zero-width and
 * overlong UTF-8, terminal escapes...), each put in every string field of
 * the inventory and in a var.  Each must be refused with the file and the
 * field's line, in a message that is safe to print; or load and render
 * inert: a unit file systemd reads back as exactly the value's words, no
 * new line in any file, no '..' in a path the agent would follow.
 */
#include "helpers_ctl.h"

#include <sys/stat.h>

#include "engine/template.h"
#include "wire.h"

struct hv {
	const char	*s;
	size_t		 n;	/* 0: strlen(s) */
};

#define HV(x)	{ x, sizeof(x) - 1 }
#define CANARY	"/tmp/korch-canary"

static const struct hv hostile[] = {
	HV("'"), HV("\""), HV("it's \"quoted\""),
	HV("$(touch " CANARY ")"), HV("`touch " CANARY "`"),
	HV("; touch " CANARY), HV("x;touch " CANARY), HV("| touch " CANARY),
	HV("&& touch " CANARY), HV("x || touch " CANARY),
	HV("--x\nExecStartPre=/bin/touch " CANARY),
	HV("--x\r\nExecStartPre=/bin/touch " CANARY), HV("a\rb"), HV("\n"),
	HV("a\0b"), HV("\0"),
	HV("../../../../etc/cron.d/korch"), HV(".."), HV("../x"),
	HV("a/../../b"), HV("/etc/shadow"),
	HV("${PATH}"), HV("$PATH"), HV("$$"), HV("%n %h %%"), HV("%"),
	HV("\\"), HV("a\\"), HV("\\n"), HV("\\\n"),
	HV("--x ; /bin/touch " CANARY),
	HV("\" ExecStartPre=\"/bin/touch " CANARY),
	HV("' ExecStartPre='/bin/touch " CANARY),
	HV("\xe2\x80\xae" "evil"),		/* U+202E RTL override */
	HV("a\xe2\x80\x8b" "b"),		/* U+200B zero-width space */
	HV("\xef\xbb\xbf" "bom"),		/* U+FEFF */
	HV("\xe2\x81\xa6" "iso"),		/* U+2066 LRI */
	HV("a\xe2\x80\xa8" "b"),		/* U+2028 line separator */
	HV("a\xc2\x85" "b"),			/* U+0085 NEL (C1) */
	HV("\xc0\xaf"),				/* overlong '/' */
	HV("\xc0\x80"),				/* overlong NUL */
	HV("\xe0\x80\xaf"),			/* overlong '/', 3 bytes */
	HV("\xf0\x80\x80\xaf"),			/* overlong '/', 4 bytes */
	HV("\x80"), HV("\xff"), HV("\xed\xa0\x80"),	/* surrogate */
	HV("\xf4\x90\x80\x80"),			/* above U+10FFFF */
	HV("\x1b[31mred\x1b[0m"), HV("a\tb"), HV("a\vb"), HV("a\fb"),
	HV("a\x7f" "b"), HV("\x01"),
	HV("#comment"), HV("[Service]"), HV("x = y"), HV("{{ pki.ca_key }}"),
	HV("*"), HV("~root"), HV("-rf /"), HV("$((1+1))"),
	HV("'; DROP TABLE hosts; --"), HV("<script>"), HV("%00"),
	HV("caf\xc3\xa9"), HV("\xf0\x9f\x90\xb3"),	/* é, whale: fine */
	HV(""), HV(" "), HV("a b  c"),
};
#define NHOSTILE	(sizeof(hostile) / sizeof(hostile[0]))

/* The 64 KB one and the limit's edges, made at run time. */
static char big64k[65536 + 1], at_limit[4096 + 1], over_limit[4097 + 1];

static void
make_big(void)
{
	memset(big64k, 'A', sizeof(big64k) - 1);
	memset(at_limit, 'B', sizeof(at_limit) - 1);
	memset(over_limit, 'C', sizeof(over_limit) - 1);
}

static size_t
hv_len(const struct hv *v)
{
	return v->n != 0 || v->s[0] == '\0' ? v->n : strlen(v->s);
}

/*
 * Every string field of an inventory, as one line of a template: @ is
 * where the value goes (a YAML double-quoted scalar).  The rest makes a
 * valid inventory.
 */
static const char *const fields[] = {
	"cluster.name", "cluster.kubernetes_version", "cluster.pod_cidr",
	"cluster.service_cidr", "cluster.dns_domain", "cluster.apiserver_lb",
	"cluster.bundle", "cluster.vars.h", "ssh.user", "ssh.port",
	"ssh.private_key", "ssh.known_hosts", "ssh.become",
	"ssh.connect_timeout", "ssh.bastion.address", "ssh.bastion.port",
	"ssh.bastion.user", "hosts[0].name", "hosts[0].address",
	"hosts[0].port", "hosts[0].user", "hosts[0].roles[0]",
	"hosts[0].vars.h", "cluster.vars.<key>", "hosts[0].vars.<key>",
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/* The value as a YAML double-quoted scalar: controls escaped (NUL as
 * \0), bytes >= 0x80 raw, so that bad UTF-8 reaches the reader. */
static void
put_yaml(FILE *f, const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		/* NEL, LS and PS are line breaks to YAML, which would fold
		 * them raw: escaped, they reach the loader as they are. */
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85) {
			fputs("\\N", f);
			i++;
			continue;
		}
		if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0xa8 ||
		    (unsigned char)s[i + 2] == 0xa9)) {
			fputs((unsigned char)s[i + 2] == 0xa8 ? "\\L" : "\\P",
			    f);
			i += 2;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == 0)
			fputs("\\0", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Write the inventory with value v in field fi to path; the line the
 * field is on. */
static unsigned
write_inv(const char *path, size_t fi, const char *v, size_t n)
{
	const char *fld = fields[fi];
	unsigned line = 0, l = 0;
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
#define LINE(key, text) do {						\
	l++;								\
	if (strcmp(fld, key) == 0) {					\
		line = l;						\
		fprintf(f, "%s", text);					\
		put_yaml(f, v, n);					\
		fputc('\n', f);						\
	} else								\
		fprintf(f, "%s%s\n", text, dflt);			\
} while (0)
	{
		const char *dflt;

		l++; fputs("cluster:\n", f);
		dflt = "h"; LINE("cluster.name", "  name: ");
		dflt = "\"1.20.2\""; LINE("cluster.kubernetes_version",
		    "  kubernetes_version: ");
		dflt = "10.244.0.0/16"; LINE("cluster.pod_cidr", "  pod_cidr: ");
		dflt = "10.254.0.0/16"; LINE("cluster.service_cidr",
		    "  service_cidr: ");
		dflt = "cluster.local"; LINE("cluster.dns_domain",
		    "  dns_domain: ");
		dflt = "none"; LINE("cluster.apiserver_lb", "  apiserver_lb: ");
		dflt = "/"; LINE("cluster.bundle", "  bundle: ");
		l++; fputs("  vars:\n", f);
		dflt = "plain"; LINE("cluster.vars.h", "    h: ");
		l++;
		if (strcmp(fld, "cluster.vars.<key>") == 0) {
			line = l;
			fputs("    ", f);
			put_yaml(f, v, n);
			fputs(": x\n", f);
		} else
			fputs("    other: x\n", f);
		l++; fputs("ssh:\n", f);
		dflt = "root"; LINE("ssh.user", "  user: ");
		dflt = "22"; LINE("ssh.port", "  port: ");
		dflt = "/dev/null"; LINE("ssh.private_key", "  private_key: ");
		dflt = "/tmp/kh"; LINE("ssh.known_hosts", "  known_hosts: ");
		dflt = "sudo"; LINE("ssh.become", "  become: ");
		dflt = "10"; LINE("ssh.connect_timeout", "  connect_timeout: ");
		l++; fputs("  bastion:\n", f);
		dflt = "198.18.6.1"; LINE("ssh.bastion.address", "    address: ");
		dflt = "22"; LINE("ssh.bastion.port", "    port: ");
		dflt = "ops"; LINE("ssh.bastion.user", "    user: ");
		l++; fputs("hosts:\n", f);
		dflt = "node1"; LINE("hosts[0].name", "  - name: ");
		dflt = "198.18.6.11"; LINE("hosts[0].address", "    address: ");
		dflt = "22"; LINE("hosts[0].port", "    port: ");
		dflt = "ops"; LINE("hosts[0].user", "    user: ");
		l++; fputs("    roles:\n", f);
		dflt = "node"; LINE("hosts[0].roles[0]", "      - ");
		l++; fputs("    vars:\n", f);
		/* The host's h would hide the cluster's. */
		dflt = "plain"; LINE("hosts[0].vars.h",
		    strcmp(fld, "hosts[0].vars.h") == 0 ? "      h: " :
		    "      hh: ");
		l++;
		if (strcmp(fld, "hosts[0].vars.<key>") == 0) {
			line = l;
			fputs("      ", f);
			put_yaml(f, v, n);
			fputs(": x\n", f);
		} else
			fputs("      other: x\n", f);
	}
#undef LINE
	assert_int_equal(fclose(f), 0);
	assert_int_not_equal(line, 0);
	return line;
}

/* Nothing a terminal would act on in any message: no control byte, no
 * bidi or zero-width character. */
static void
expect_printable(const struct diag *d)
{
	char buf[4096];
	size_t i, k, n;

	for (i = 0; i < diag_count(d); i++) {
		n = diag_format(diag_get(d, i), buf, sizeof(buf));
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		for (k = 0; k < n; k++) {
			unsigned char c = (unsigned char)buf[k];

			if ((c < 0x20 && c != '\n') || c == 0x7f)
				fail_msg("message %zu has byte 0x%02x: %s", i,
				    c, buf);
			if (c == 0xe2 && k + 2 < n &&
			    (unsigned char)buf[k + 1] == 0x80 &&
			    (unsigned char)buf[k + 2] >= 0x8b &&
			    (unsigned char)buf[k + 2] <= 0xaf)
				fail_msg("message %zu has an invisible "
				    "character: %s", i, buf);
		}
	}
}

/* ---- a systemd reader, enough to tell what ExecStart= means ---------- */

/*
 * The argv systemd makes of an ExecStart= value: specifiers (only %% is
 * allowed here), words split on blanks, double and single quotes, C
 * escapes, no lone ';', and $$ for '$' ($VAR would expand).  -1 when the
 * line means more than words.
 */
static int
systemd_words(const char *line, char words[][8192], size_t max, size_t *n)
{
	char buf[70000], *o;
	const char *p;
	size_t b = 0, w = 0, k, len;
	int quoted;

	for (p = line; *p != '\0'; p++) {
		if (*p == '%') {
			if (p[1] != '%')
				return -1;	/* a specifier */
			p++;
		}
		if (b + 1 >= sizeof(buf))
			return -1;
		buf[b++] = *p;
	}
	buf[b] = '\0';
	p = buf;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (p[0] == ';' && (p[1] == '\0' || p[1] == ' ' ||
		    p[1] == '\t'))
			return -1;	/* a second command */
		if (w == max)
			return -1;
		o = words[w];
		len = 0;
		quoted = 0;
		while (*p != '\0' && (quoted || (*p != ' ' && *p != '\t'))) {
			if (len + 2 >= 8192)
				return -1;
			if (!quoted && (*p == '"' || *p == '\'')) {
				quoted = *p++;
				continue;
			}
			if (quoted && *p == quoted) {
				quoted = 0;
				p++;
				continue;
			}
			if (*p == '\\' && quoted != '\'') {
				p++;
				if (*p != '\\' && *p != '"' && *p != '\'')
					return -1;	/* another escape */
			}
			o[len++] = *p++;
		}
		if (quoted)
			return -1;
		o[len] = '\0';
		/* $$ is '$'; any other '$' is a variable. */
		for (k = 0; o[k] != '\0'; k++) {
			if (o[k] != '$')
				continue;
			if (o[k + 1] != '$')
				return -1;
			memmove(o + k, o + k + 1, strlen(o + k));
		}
		w++;
	}
	*n = w;
	return 0;
}

/* The blank-separated words of s. */
static size_t
plain_words(const char *s, char words[][8192], size_t max)
{
	size_t w = 0, len;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || w == max)
			return w;
		len = strcspn(s, " \t");
		assert_true(len < 8192);
		memcpy(words[w], s, len);
		words[w++][len] = '\0';
		s += len;
	}
}

static size_t
count_nl(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += s[i] == '\n';
	return c;
}

static char got[64][8192], want[64][8192];

/* What the value of h renders to in every place: inert. */
static void
expect_inert(const struct rendered_host *rh, const char *v)
{
	const struct rendered_task *t;
	const char *unit, *conf, *path, *ln;
	size_t ng = 0, nw, i;
	char line[70000];

	t = th_task(rh, "h/unit");
	assert_non_null(unit = render_task_arg(t, "unit"));
	/* The template's 6 lines, no more: no new directive. */
	assert_int_equal(count_nl(unit, strlen(unit)), 6);
	assert_non_null(ln = strstr(unit, "\nExecStart="));
	ln += strlen("\nExecStart=");
	assert_true(strcspn(ln, "\n") < sizeof(line));
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(ln, "\n"), ln);
	if (systemd_words(line, got, 64, &ng) != 0)
		fail_msg("ExecStart=%s is not words only (value '%s')", line,
		    v);
	nw = plain_words(v, want, 63);
	assert_int_equal(ng, nw + 1);
	assert_string_equal(got[0], "/bin/echo");
	for (i = 0; i < nw; i++)
		assert_string_equal(got[i + 1], want[i]);
	/* Description= reads specifiers too. */
	assert_non_null(ln = strstr(unit, "Description="));
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(ln, "\n"), ln);
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '%') {
			assert_int_equal(line[i + 1], '%');
			i++;
		}

	t = th_task(rh, "h/conf");
	assert_non_null(conf = render_task_arg(t, "content"));
	assert_int_equal(count_nl(conf, strlen(conf)), 2);
	assert_non_null(strstr(conf, v));

	assert_string_equal(render_task_arg(th_task(rh, "h/env"), "value"), v);
	t = th_task(rh, "h/argv");
	assert_int_equal(t->wire->nargs, 2);
	assert_string_equal(t->wire->args[1].key, "argv");
	assert_string_equal(t->wire->args[1].val, v);
	assert_string_equal(render_task_arg(th_task(rh, "h/content"),
	    "content"), v);
	/* The path: inside /srv/korch-hostile/d/, or with a '..' the agent
	 * refuses (agent_arg_path; test_agent_file). */
	assert_non_null(path = render_task_arg(th_task(rh, "h/path"), "path"));
	assert_int_equal(strncmp(path, "/srv/korch-hostile/d/", 21), 0);
	if (strstr(v, "..") == NULL)
		assert_null(strstr(path, "/../"));
}

/* Load the inventory at path; when it loads, render the hostile
 * playbook and check the value is inert.  Returns 1 when it loaded. */
static int
load_render(const char *path, const char *v, size_t n, unsigned line,
    const char *field, struct playbook *pb)
{
	struct inventory *inv = NULL;
	struct rendered_host *rh = NULL;
	struct dag *g = NULL;
	struct diag *d;
	const struct diag_entry *e;
	size_t i;
	int r, found = 0;

	assert_non_null(d = diag_new());
	r = inventory_load(path, &inv, d);
	if (r != 0) {
		assert_int_equal(r, KORCH_ERR_PARSE);
		assert_true(diag_count(d) > 0);
		for (i = 0; i < diag_count(d); i++) {
			e = diag_get(d, i);
			if (e->file != NULL && strcmp(e->file, path) == 0 &&
			    e->line == line)
				found = 1;
		}
		if (!found) {
			diag_print(d, stderr);
			fail_msg("%s: refused, but not at line %u", field,
			    line);
		}
		expect_printable(d);
		diag_free(d);
		return 0;
	}
	/* Loaded: only where the value is free text. */
	if (strncmp(field, "cluster.vars.h", 14) == 0 ||
	    strncmp(field, "hosts[0].vars.h", 15) == 0) {
		assert_string_equal(vars_get(inv->hosts[0].vars, "h"), v);
		assert_int_equal(strlen(v), n);
		assert_int_equal(dag_build(pb, inv, &g, d), 0);
		if (render_host_tasks(pb, g, inv, 0, NULL, NULL, &rh, d) != 0) {
			diag_print(d, stderr);
			fail_msg("value '%s' loaded but does not render", v);
		}
		expect_inert(rh, v);
		rendered_host_free(rh);
		dag_free(g);
	} else if (strcmp(field, "ssh.known_hosts") != 0 &&
	    strcmp(field, "ssh.private_key") != 0 &&
	    strcmp(field, "cluster.bundle") != 0)
		/* Only the controller's own paths may be free text: they are
		 * opened here, never rendered or sent to a host. */
		fail_msg("%s: '%s' was accepted", field, v);
	inventory_free(inv);
	diag_free(d);
	return 1;
}

static void
test_table(void **state)
{
	char dir[] = "/tmp/korch-hostile.XXXXXX", path[PATH_MAX];
	struct playbook *pb = NULL;
	struct diag *d;
	struct hv extra[3];
	size_t fi, vi, nv = NHOSTILE + 3, loaded = 0, refused = 0, n;
	const char *v;
	unsigned line;

	(void)state;
	make_big();
	extra[0].s = big64k; extra[0].n = sizeof(big64k) - 1;
	extra[1].s = at_limit; extra[1].n = sizeof(at_limit) - 1;
	extra[2].s = over_limit; extra[2].n = sizeof(over_limit) - 1;
	assert_true(nv >= 50);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inventory.yaml", dir);
	assert_non_null(d = diag_new());
	if (playbook_load(th_data("pb", "hostile"), &pb, d) != 0) {
		diag_print(d, stderr);
		fail_msg("pb/hostile does not load");
	}
	for (fi = 0; fi < NFIELDS; fi++) {
		for (vi = 0; vi < nv; vi++) {
			const struct hv *h = vi < NHOSTILE ? &hostile[vi] :
			    &extra[vi - NHOSTILE];

			v = h->s;
			n = hv_len(h);
			line = write_inv(path, fi, v, n);
			if (load_render(path, v, n, line, fields[fi], pb))
				loaded++;
			else
				refused++;
		}
	}
	printf("# %zu values x %zu fields: %zu refused at their line, %zu "
	    "loaded and rendered inert\n", nv, NFIELDS, refused, loaded);
	/* The vars' verdicts, spelled out for a few. */
	playbook_free(pb);
	diag_free(d);
	unlink(path);
	rmdir(dir);
}

/* What each kind of value does as a var: a few verdicts by name. */
static int
var_loads(const char *v, size_t n)
{
	char dir[] = "/tmp/korch-hostile.XXXXXX", path[PATH_MAX];
	struct inventory *inv = NULL;
	struct diag *d;
	int r;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inventory.yaml", dir);
	(void)write_inv(path, 7, v, n);	/* cluster.vars.h */
	assert_string_equal(fields[7], "cluster.vars.h");
	assert_non_null(d = diag_new());
	r = inventory_load(path, &inv, d);
	inventory_free(inv);
	diag_free(d);
	unlink(path);
	rmdir(dir);
	return r == 0;
}

static void
test_verdicts(void **state)
{
	(void)state;
	make_big();
	assert_true(var_loads("$(touch x)", 10));
	assert_true(var_loads("a;b", 3));
	assert_true(var_loads("caf\xc3\xa9", 5));
	assert_true(var_loads(at_limit, sizeof(at_limit) - 1));
	assert_false(var_loads(over_limit, sizeof(over_limit) - 1));
	assert_false(var_loads(big64k, sizeof(big64k) - 1));
	assert_false(var_loads("a\nb", 3));
	assert_false(var_loads("a\rb", 3));
	assert_false(var_loads("a\0b", 3));
	assert_false(var_loads("a\tb", 3));
	assert_false(var_loads("\xe2\x80\xae", 3));
	assert_false(var_loads("\xe2\x80\x8b", 3));
	assert_false(var_loads("\xc0\xaf", 2));
	assert_false(var_loads("\x1b[31m", 5));
}

/* The systemd quoting, exactly. */
static void
test_systemd_quoting(void **state)
{
	static const struct { const char *v, *unit_line; } cases[] = {
		{ "--a --b=1", "ExecStart=/bin/echo --a --b=1" },
		{ "$(id)", "ExecStart=/bin/echo \"$$(id)\"" },
		{ "a;b ;", "ExecStart=/bin/echo \"a;b\" \";\"" },
		{ "50% ${X}", "ExecStart=/bin/echo \"50%%\" \"$${X}\"" },
		{ "\"q\" \\", "ExecStart=/bin/echo \"\\\"q\\\"\" \"\\\\\"" },
		{ "[::1]:80", "ExecStart=/bin/echo [::1]:80" },
	};
	struct tmpl_src src = { "h.service.tmpl", 0, 0, NULL, NULL,
	    TMPL_CTX_SYSTEMD, NULL };
	const char *text = "ExecStart=/bin/echo {{ h }}";
	struct vars *v;
	struct diag *d;
	char *out = NULL;
	size_t i;

	(void)state;
	assert_non_null(d = diag_new());
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(v = vars_new(NULL));
		assert_int_equal(vars_set_flags(v, "h", cases[i].v,
		    VARS_F_USER), 0);
		assert_int_equal(template_render_src(&src, text, strlen(text),
		    v, &out, NULL, d), 0);
		assert_string_equal(out, cases[i].unit_line);
		free(out);
		vars_free(v);
	}
	/* A newline cannot be quoted in a unit: refused, even from the
	 * controller's own variables. */
	assert_non_null(v = vars_new(NULL));
	assert_int_equal(vars_set(v, "h", "a\nExecStartPre=/bin/true"), 0);
	assert_int_equal(template_render_src(&src, text, strlen(text), v,
	    &out, NULL, d), KORCH_ERR_TEMPLATE);
	assert_null(out);
	assert_non_null(strstr(diag_get(d, 0)->msg, "a unit file cannot "
	    "quote"));
	vars_free(v);
	diag_free(d);
}

/* A var written as a '|' block is multi-line, for a file's content
 * only; a derived name cannot be set. */
static void
test_multiline_and_reserved(void **state)
{
	char dir[] = "/tmp/korch-hostile.XXXXXX", path[PATH_MAX];
	struct inventory *inv = NULL;
	struct rendered_host *rh = NULL;
	struct playbook *pb = NULL;
	struct dag *g = NULL;
	struct diag *d;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inventory.yaml", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("cluster:\n  name: h\n  vars:\n    h: |\n      line one\n"
	    "      line two\nhosts:\n  - name: node1\n    address: "
	    "198.18.6.11\n    roles: [node]\n", f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(path, &inv, d), 0);
	assert_string_equal(vars_get(inv->vars, "h"), "line one\nline two\n");
	assert_int_equal(playbook_load(th_data("pb", "hostile"), &pb, d), 0);
	assert_int_equal(dag_build(pb, inv, &g, d), 0);
	/* Everywhere but the content: refused, at the place. */
	assert_int_equal(render_host_tasks(pb, g, inv, 0, NULL, NULL, &rh, d),
	    KORCH_ERR_TEMPLATE);
	(void)th_expect_diag(d, "h.service.tmpl", 2, 27, "",
	    "a unit file cannot quote");
	(void)th_expect_diag(d, "h.conf.tmpl", 2, 7, "",
	    "is multi-line, which only a file task's content");
	(void)th_expect_diag(d, "10-h.yaml", 12, 63,
	    "steps[0].tasks[2].envfile.value", "is multi-line");
	(void)th_expect_diag(d, "10-h.yaml", 14, 36,
	    "steps[0].tasks[3].command.argv[1]", "is multi-line");
	/* ... and not reported for the content task. */
	{
		size_t i;

		for (i = 0; i < diag_count(d); i++)
			assert_null(strstr(diag_get(d, i)->path,
			    "tasks[5]"));
	}
	dag_free(g);
	inventory_free(inv);
	inv = NULL;
	diag_free(d);

	/* A quoted "a\nb" is not a declaration. */
	assert_non_null(f = fopen(path, "w"));
	fputs("cluster:\n  name: h\n  vars:\n    h: \"a\\nb\"\n"
	    "    etcd_endpoints: https://evil:2379\nhosts:\n  - name: node1\n"
	    "    address: 198.18.6.11\n    roles: [node]\n    vars:\n"
	    "      first_master_address: 198.18.6.66\n", f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(path, &inv, d), KORCH_ERR_PARSE);
	(void)th_expect_diag(d, NULL, 4, 8, "cluster.vars.h",
	    "contains a newline");
	/* Text problems come alone; the names are checked once they pass. */
	diag_free(d);
	assert_non_null(f = fopen(path, "w"));
	fputs("cluster:\n  name: h\n  vars:\n"
	    "    etcd_endpoints: https://evil:2379\nhosts:\n  - name: node1\n"
	    "    address: 198.18.6.11\n    roles: [node]\n    vars:\n"
	    "      first_master_address: 198.18.6.66\n", f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(d = diag_new());
	assert_int_equal(inventory_load(path, &inv, d), KORCH_ERR_PARSE);
	(void)th_expect_diag(d, NULL, 4, 5, "cluster.vars.etcd_endpoints",
	    "derived from the hosts list and cannot be set");
	(void)th_expect_diag(d, NULL, 10, 7,
	    "hosts[0].vars.first_master_address", "cannot be set");
	diag_free(d);
	playbook_free(pb);
	unlink(path);
	rmdir(dir);
}

/* A task that renders a secret is secret; one that cannot hold it is
 * refused. */
static void
test_auto_secret(void **state)
{
	char dir[] = "/tmp/korch-hostile.XXXXXX", pbdir[PATH_MAX + 16];
	char path[PATH_MAX + 64];
	struct th_plan *f;
	struct rendered_host *rh = NULL;
	struct playbook *pb = NULL;
	struct dag *g = NULL;
	struct vars *extra;
	struct diag *d;
	const struct rendered_task *t;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pbdir, sizeof(pbdir), "%s", dir);
	snprintf(path, sizeof(path), "%s/10-s.yaml", dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("- name: s\n  hosts: [all]\n  tasks:\n"
	    "    - name: key\n"
	    "      file: { path: /etc/k.key, content: \"{{ pki.x_key }}\" }\n"
	    "    - name: crt\n"
	    "      file: { path: /etc/k.crt, content: \"{{ pki.x_crt }}\" }\n",
	    fp);
	assert_int_equal(fclose(fp), 0);
	f = th_plan_open(pbdir, 0);
	assert_non_null(f->extra = extra = vars_new(NULL));
	assert_int_equal(vars_set_flags(extra, "pki.x_key",
	    "-----BEGIN EC PRIVATE KEY-----\nx\n", VARS_F_SECRET), 0);
	assert_int_equal(vars_set(extra, "pki.x_crt", "crt"), 0);
	rh = th_render(f, M1);
	t = th_task(rh, "s/key");
	assert_non_null(render_task_arg(t, "secret"));
	assert_string_equal(render_task_arg(t, "secret"), "1");
	assert_null(render_task_arg(th_task(rh, "s/crt"), "secret"));
	rendered_host_free(rh);

	/* In a command's argv it would be in ps: refused. */
	assert_non_null(fp = fopen(path, "w"));
	fputs("- name: s\n  hosts: [all]\n  tasks:\n"
	    "    - name: leak\n"
	    "      command: { argv: [/bin/echo, \"{{ pki.x_key }}\"] }\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_non_null(d = diag_new());
	assert_int_equal(playbook_load(pbdir, &pb, d), 0);
	assert_int_equal(dag_build(pb, f->inv, &g, d), 0);
	assert_int_equal(render_host_tasks(pb, g, f->inv, M1, NULL, extra, &rh,
	    d), KORCH_ERR_TEMPLATE);
	(void)th_expect_diag(d, "10-s.yaml", 4, 7, "steps[0].tasks[0]",
	    "a command task cannot hold a secret");
	dag_free(g);
	playbook_free(pb);
	diag_free(d);
	th_plan_free(f);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_systemd_quoting),
		cmocka_unit_test(test_multiline_and_reserved),
		cmocka_unit_test(test_auto_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
