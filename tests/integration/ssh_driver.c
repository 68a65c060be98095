/*
 * ssh_driver.c - integration tests for controller/ssh/ (ssh.h) against a
 * throwaway sshd that run.sh starts on 127.0.0.1.
 *
 *     ssh_driver PORT DIR
 *
 * DIR holds what run.sh made: id_ed25519 (authorized), wrong_ed25519 (not
 * authorized), host_ed25519.pub (the sshd's key), other_host.pub (some
 * other key), known_hosts_hashed (the sshd's key, hashed entry), home/
 * (the remote $HOME, which is local here), noise.on (touch to make the
 * login shell print noise).  The "agent" is a fake: a /bin/sh script that
 * greets with the sha256 of its own file and then echoes stdin, so the
 * transport is tested without the real agent.
 *
 * Prints TAP ("ok N - ..."), exits 1 if anything failed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "err.h"
#include "ssh/agent_image.h"
#include "ssh/ssh.h"
#include "wire.h"

static int port;
static const char *dir;
static const char *user;
static const char *shell;
static int ntests, nfailed;
static int deadline_s = 120;

/* ---- TAP ----------------------------------------------------------------- */

static void check(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	ntests++;
	if (!ok)
		nfailed++;
	printf("%s %d - ", ok ? "ok" : "not ok", ntests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- helpers ------------------------------------------------------------- */

static char *
path(const char *name)
{
	static char buf[8][1024];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, 1024, "%s/%s", dir, name);
	return p;
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	int i;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* "SHA256:..." of the key in an OpenSSH .pub file. */
static void
pub_fp(const char *file, char out[64])
{
	char line[4096], *b64, *end;
	unsigned char blob[4096], md[32];
	unsigned int mdlen;
	int n, pad = 0;
	FILE *fp;

	out[0] = '\0';
	if ((fp = fopen(file, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) == NULL) {
		fclose(fp);
		return;
	}
	fclose(fp);
	if ((b64 = strchr(line, ' ')) == NULL)
		return;
	b64++;
	if ((end = strchr(b64, ' ')) != NULL)
		*end = '\0';
	b64[strcspn(b64, "\r\n")] = '\0';
	n = EVP_DecodeBlock(blob, (unsigned char *)b64, (int)strlen(b64));
	if (n < 0)
		return;
	if (strlen(b64) > 0 && b64[strlen(b64) - 1] == '=')
		pad++;
	if (strlen(b64) > 1 && b64[strlen(b64) - 2] == '=')
		pad++;
	EVP_Digest(blob, (size_t)(n - pad), md, &mdlen, EVP_sha256(), NULL);
	memcpy(out, "SHA256:", 7);
	n = EVP_EncodeBlock((unsigned char *)out + 7, md, 32);
	while (n > 0 && out[7 + n - 1] == '=')
		n--;
	out[7 + n] = '\0';
}

static void
write_file(const char *file, const char *text)
{
	FILE *fp = fopen(file, "w");

	if (fp == NULL) {
		perror(file);
		exit(2);
	}
	fputs(text, fp);
	fclose(fp);
}

static int
count_lines(const char *file)
{
	FILE *fp = fopen(file, "r");
	int n = 0, ch;

	if (fp == NULL)
		return -1;
	while ((ch = fgetc(fp)) != EOF)
		if (ch == '\n')
			n++;
	fclose(fp);
	return n;
}

static int
file_contains(const char *file, const char *needle)
{
	char buf[65536];
	size_t n;
	FILE *fp = fopen(file, "r");

	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void
rm_korch_dir(void)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/home/.korch'", dir);
	if (system(cmd) != 0)
		diag("rm failed");
}

/* ---- fake agent images ----------------------------------------------------- */

struct image {
	struct agent_image	 img;
	char			*text;
};

static void
image_make(struct image *im, const char *body)
{
	im->text = strdup(body);
	im->img.data = (const uint8_t *)im->text;
	im->img.len = strlen(im->text);
	sha256_hex(im->text, im->img.len, im->img.sha256);
}

/* The greeting must name the protocol version this korch speaks. */
#define IT_STR(x)	#x
#define IT_XSTR(x)	IT_STR(x)
#define ECHO_AGENT(tag) \
	"#!/bin/sh\n# korch fake agent " tag "\n" \
	"h=$(sha256sum \"$0\" | cut -d' ' -f1)\n" \
	"echo \"KORCH-AGENT-READY " IT_XSTR(KP_VERSION) " $h\"\n" \
	"exec cat\n"

static struct image img_v1, img_v2, img_mute, img_exit, img_badhash;

/* ---- one connection under test --------------------------------------------- */

struct tconn {
	struct ssh_conn		*c;
	struct event_base	*base;
	int			*remaining;
	int			 ready;
	int			 gone;
	int			 err;
	char			 msg[2048];
	int			 uploaded;
	char			 fp[64];
	const uint8_t		*payload;	/* sent on ready, expected back */
	size_t			 payload_len;
	size_t			 got;
	int			 mismatch;
	int			 finish_on_ready;
	int			 pause_test;	/* pause/resume while receiving */
	size_t			 next_pause;
	int			 pauses;
	struct event		*resume;
};

static void
on_ready(struct ssh_conn *c, void *arg)
{
	struct tconn *t = arg;
	const char *fp;

	t->ready = 1;
	t->uploaded = ssh_conn_uploaded(c);
	if ((fp = ssh_conn_hostkey_fp(c)) != NULL)
		snprintf(t->fp, sizeof(t->fp), "%s", fp);
	if (t->payload_len > 0) {
		/* In pieces, to exercise the queue. */
		size_t off = 0, n;

		while (off < t->payload_len) {
			n = t->payload_len - off;
			if (n > 1000003)
				n = 1000003;
			if (ssh_conn_send(c, t->payload + off, n) != 0) {
				t->mismatch = 1;
				break;
			}
			off += n;
		}
	} else if (t->finish_on_ready)
		ssh_conn_finish(c);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tconn *t = arg;

	(void)fd;
	(void)what;
	if (t->c != NULL)
		ssh_conn_pause(t->c, 0);
}

static void
on_data(struct ssh_conn *c, const uint8_t *p, size_t n, void *arg)
{
	struct tconn *t = arg;
	struct timeval tv = { 0, 2000 };

	if (t->got + n > t->payload_len ||
	    memcmp(t->payload + t->got, p, n) != 0)
		t->mismatch = 1;
	t->got += n;
	if (t->got >= t->payload_len) {
		ssh_conn_finish(c);
		return;
	}
	if (t->pause_test && t->got >= t->next_pause) {
		t->next_pause += 512 * 1024;
		t->pauses++;
		ssh_conn_pause(c, 1);
		evtimer_add(t->resume, &tv);
	}
}

static void
on_gone(struct ssh_conn *c, int err, const char *msg, void *arg)
{
	struct tconn *t = arg;

	t->gone = 1;
	t->err = err;
	snprintf(t->msg, sizeof(t->msg), "%s", msg != NULL ? msg : "");
	if (t->fp[0] == '\0' && ssh_conn_hostkey_fp(c) != NULL)
		snprintf(t->fp, sizeof(t->fp), "%s", ssh_conn_hostkey_fp(c));
	ssh_conn_free(c);
	t->c = NULL;
	if (--*t->remaining == 0)
		event_base_loopbreak(t->base);
}

static const struct ssh_conn_cbs cbs = { on_ready, on_data, on_gone };

static struct ssh_target
target(const char *known_hosts)
{
	struct ssh_target tg;

	memset(&tg, 0, sizeof(tg));
	tg.name = "node1";
	tg.address = "127.0.0.1";
	tg.port = port;
	tg.user = user;
	tg.private_key = path("id_ed25519");
	tg.known_hosts = known_hosts;
	tg.connect_timeout_ms = 5000;
	tg.auth_timeout_ms = 20000;
	return tg;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	diag("deadline hit");
	event_base_loopbreak(arg);
}

/* Run n connections (all with target tg and image im) to completion. */
static void
run(struct tconn *ts, int n, const struct ssh_target *tg,
    const struct image *im)
{
	struct event_base *base = event_base_new();
	struct event *deadline = evtimer_new(base, deadline_cb, base);
	struct timeval tv = { deadline_s, 0 };
	int i, r, remaining = n;

	evtimer_add(deadline, &tv);
	for (i = 0; i < n; i++) {
		ts[i].base = base;
		ts[i].remaining = &remaining;
		ts[i].resume = evtimer_new(base, resume_cb, &ts[i]);
		ts[i].next_pause = 512 * 1024;
		r = ssh_conn_start(base, tg, &im->img, &cbs, &ts[i], &ts[i].c);
		if (r != 0) {
			ts[i].gone = 1;
			ts[i].err = r;
			snprintf(ts[i].msg, sizeof(ts[i].msg), "start: %s",
			    korch_strerror(r));
			remaining--;
		}
	}
	if (remaining > 0)
		event_base_dispatch(base);
	for (i = 0; i < n; i++) {
		if (ts[i].c != NULL) {
			ssh_conn_free(ts[i].c);	/* deadline: tear down */
			ts[i].c = NULL;
			if (!ts[i].gone)
				snprintf(ts[i].msg, sizeof(ts[i].msg),
				    "never finished");
		}
		event_free(ts[i].resume);
	}
	event_free(deadline);
	/* Let one-shot cleanups (the DNS reaper) run. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

static int
run1(struct tconn *t, const struct ssh_target *tg, const struct image *im)
{
	run(t, 1, tg, im);
	if (t->err != 0)
		diag("gone: %s: %s", korch_strerror(t->err), t->msg);
	return t->err;
}

static int
is_mode(const char *file, mode_t mode)
{
	struct stat st;

	return stat(file, &st) == 0 && (st.st_mode & 0777) == mode;
}

static char *
agent_path(const struct image *im)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s/home/.korch/agent-%s", dir,
	    im->img.sha256);
	return buf;
}

/* ---- the tests --------------------------------------------------------------- */

static void
t_unknown_then_accept(void)
{
	struct tconn t;
	struct ssh_target tg;
	const char *kh = path("kh_new");
	char want[64];

	unlink(kh);
	pub_fp(path("host_ed25519.pub"), want);
	tg = target(kh);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_UNKNOWN && strstr(t.msg, want) &&
	    strstr(t.msg, "node1 (127.0.0.1:"), "unknown host key refused "
	    "by default, message names the key (%s)", t.msg);
	check(access(kh, F_OK) != 0, "refusal wrote nothing");

	tg.accept_new = 1;
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "accept_new: connects");
	check(count_lines(kh) == 1 && file_contains(kh, "ssh-ed25519 ") &&
	    is_mode(kh, 0600), "accept_new: one line recorded, mode 0600");
	{
		char spec[64];

		snprintf(spec, sizeof(spec), "[127.0.0.1]:%d ssh-ed25519 ",
		    port);
		check(file_contains(kh, spec), "recorded as [addr]:port");
	}
	check(strcmp(t.fp, want) == 0, "fingerprint reported is the "
	    "server's (%s)", t.fp);

	tg.accept_new = 0;
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && count_lines(kh) == 1,
	    "recorded key accepted afterwards, nothing appended");
}

static void
t_upload_cycle(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	static const uint8_t hello[] = "hello agent\n";

	rm_korch_dir();
	memset(&t, 0, sizeof(t));
	t.payload = hello;
	t.payload_len = sizeof(hello) - 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && t.uploaded,
	    "agent uploaded when missing");
	check(t.got == t.payload_len && !t.mismatch, "echo round trip");
	check(is_mode(agent_path(&img_v1), 0700), "agent stored 0700 at "
	    "~/.korch/agent-<sha256>");
	{
		char d[1024];

		snprintf(d, sizeof(d), "%s/home/.korch", dir);
		check(is_mode(d, 0700), "~/.korch is 0700");
	}

	memset(&t, 0, sizeof(t));
	t.payload = hello;
	t.payload_len = sizeof(hello) - 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && !t.uploaded && t.got == t.payload_len,
	    "no upload the second time");

	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v2);
	check(t.err == 0 && t.ready && t.uploaded, "re-upload when the image "
	    "changes");

	/* A damaged copy under v1's name (it is v2's bytes): replaced. */
	{
		FILE *fp = fopen(agent_path(&img_v1), "w");

		if (fp != NULL) {
			fputs(img_v2.text, fp);
			fclose(fp);
		}
		chmod(agent_path(&img_v1), 0700);
	}
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && t.uploaded, "a remote copy whose hash "
	    "differs is replaced");
	check(file_contains(agent_path(&img_v1), "fake agent v1"),
	    "replaced copy has the right content");

	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_badhash);
	check(t.err == KORCH_ERR_HASH_MISMATCH, "upload verified by the "
	    "bootstrap's sha256 (HASH_MISMATCH: %s)", t.msg);
}

static void
t_large_echo(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	size_t n = 8u << 20;
	uint8_t *buf = malloc(n);

	RAND_bytes(buf, (int)n);
	memset(&t, 0, sizeof(t));
	t.payload = buf;
	t.payload_len = n;
	t.pause_test = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.got == n && !t.mismatch, "8 MiB echo round "
	    "trip intact (got %zu)", t.got);
	check(t.pauses > 5, "paused/resumed reading %d times without loss",
	    t.pauses);
	free(buf);
}

static void
t_noise(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	static const uint8_t hello[] = "after the noise\n";

	if (strstr(shell, "bash") == NULL) {
		check(1, "# SKIP login shell %s does not read .bashrc", shell);
		return;
	}
	write_file(path("noise.on"), "1\n");
	memset(&t, 0, sizeof(t));
	t.payload = hello;
	t.payload_len = sizeof(hello) - 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && t.got == t.payload_len && !t.mismatch,
	    "login-shell noise before the greeting is skipped");

	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_exit);
	check(t.err == KORCH_ERR_NO_GREETING &&
	    strstr(t.msg, "Welcome to the noisy host") &&
	    strstr(t.msg, ".bashrc"), "agent exits without greeting: "
	    "NO_GREETING quotes the noise (%s)", t.msg);

	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	tg.auth_timeout_ms = 2500;
	run1(&t, &tg, &img_mute);
	check(t.err == KORCH_ERR_NO_GREETING && strstr(t.msg, "within") &&
	    strstr(t.msg, "Welcome to the noisy host"), "greeting never "
	    "comes: NO_GREETING after the auth timeout (%s)", t.msg);
	unlink(path("noise.on"));
}

static void
t_hostkey_mismatch(void)
{
	struct tconn t;
	struct ssh_target tg;
	char line[8192], other[4096], want[64], got[64];
	FILE *fp;

	fp = fopen(path("other_host.pub"), "r");
	if (fp == NULL || fgets(other, sizeof(other), fp) == NULL) {
		check(0, "read other_host.pub");
		if (fp)
			fclose(fp);
		return;
	}
	fclose(fp);
	other[strcspn(other, "\r\n")] = '\0';
	/* "ssh-ed25519 AAAA... comment" -> line 3 for our host */
	snprintf(line, sizeof(line), "# a comment\n"
	    "unrelated.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvHBGr9"
	    "Cs0kU2ddOMQQ1bYS1wQv5Y1H7mG7JrYy8dHM\n[127.0.0.1]:%d %s\n",
	    port, other);
	write_file(path("kh_bad"), line);
	pub_fp(path("other_host.pub"), want);
	pub_fp(path("host_ed25519.pub"), got);
	tg = target(path("kh_bad"));
	tg.accept_new = 1;	/* never overrides a mismatch */
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	snprintf(line, sizeof(line), "expected %s, got %s", want, got);
	check(t.err == KORCH_ERR_HOSTKEY_MISMATCH && strstr(t.msg, line) &&
	    strstr(t.msg, "line 3") && strstr(t.msg, "node1 (127.0.0.1:"),
	    "host key mismatch refused with both fingerprints and the line "
	    "(%s)", t.msg);
	check(count_lines(path("kh_bad")) == 3, "mismatch: file untouched");

	/* The same key recorded for plain 127.0.0.1 (port 22) must not
	 * count for our port: unknown, not mismatch. */
	snprintf(line, sizeof(line), "127.0.0.1 %s\n", other);
	write_file(path("kh_port22"), line);
	tg = target(path("kh_port22"));
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_UNKNOWN, "an entry for port 22 does "
	    "not apply to another port");

	tg = target(path("known_hosts_hashed"));
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "hashed known_hosts entry matches");
}

static void
t_auth_fail(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));

	tg.private_key = path("wrong_ed25519");
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_AUTH && strstr(t.msg, "wrong_ed25519"),
	    "wrong key: AUTH (%s)", t.msg);

	tg.private_key = path("id_nopub");
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "private key without a .pub beside it");

	tg.private_key = path("does-not-exist");
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_AUTH && strstr(t.msg, "does-not-exist"),
	    "missing key file: AUTH (%s)", t.msg);
}

static void
t_ssh_agent(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	const char *sock = getenv("IT_AGENT_SOCK");

	tg.private_key = NULL;
	unsetenv("SSH_AUTH_SOCK");
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_AUTH && strstr(t.msg, "SSH_AUTH_SOCK"),
	    "no key and no ssh-agent: AUTH (%s)", t.msg);
	if (sock == NULL) {
		check(1, "# SKIP no ssh-agent");
		return;
	}
	setenv("SSH_AUTH_SOCK", sock, 1);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "ssh-agent: second identity accepted "
	    "after the first is refused");
	unsetenv("SSH_AUTH_SOCK");
}

static int
listen_socket(int backlog, int *out_port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		perror("listen");
		exit(2);
	}
	*out_port = ntohs(sin.sin_port);
	return fd;
}

static void
t_connect_failures(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	int fd, p, fill[8], i, nfill = 0;
	struct sockaddr_in sin;

	/* Refused: a port nobody listens on. */
	fd = listen_socket(1, &p);
	close(fd);
	tg.port = p;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_CONNECT && strstr(t.msg, "refused"),
	    "connection refused: CONNECT (%s)", t.msg);

	/* Accepts TCP but never says a word: handshake timeout. */
	fd = listen_socket(16, &p);
	tg.port = p;
	tg.connect_timeout_ms = 1500;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_TIMEOUT && strstr(t.msg, "handshake") &&
	    strstr(t.msg, "1500 ms"), "silent server: TIMEOUT in the "
	    "handshake (%s)", t.msg);
	close(fd);

	/* A full accept queue drops SYNs: the TCP connect itself hangs. */
	fd = listen_socket(0, &p);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)p);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
		nfill++;
	}
	usleep(100000);
	tg.port = p;
	tg.connect_timeout_ms = 1500;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_TIMEOUT && (strstr(t.msg, "TCP connect") ||
	    strstr(t.msg, "handshake")), "unanswered connect: TIMEOUT (%s)",
	    t.msg);
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	close(fd);
}

static void
t_resolve(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("kh_localhost"));

	unlink(path("kh_localhost"));
	tg.address = "localhost";
	tg.accept_new = 1;
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "host name resolved without blocking "
	    "(evdns) and connected");
}

static void
t_sudo(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	static const uint8_t hello[] = "as root\n";

	tg.become_sudo = 1;
	memset(&t, 0, sizeof(t));
	t.payload = hello;
	t.payload_len = sizeof(hello) - 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && t.got == t.payload_len,
	    "become_sudo: agent started through sudo -n");

	write_file(path("sudo.deny"), "1\n");
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_SUDO && strstr(t.msg, "password") &&
	    strstr(t.msg, "NOPASSWD"), "sudo wants a password: SUDO (%s)",
	    t.msg);
	unlink(path("sudo.deny"));
}

static void
t_overall(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));

	tg.overall_timeout_ms = 1500;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_mute);
	check(t.err == KORCH_ERR_NO_GREETING || (t.err == KORCH_ERR_TIMEOUT &&
	    strstr(t.msg, "overall")), "overall timeout ends a hung agent "
	    "start (%s)", t.msg);

	/* Past the greeting, the overall limit still holds. */
	tg.overall_timeout_ms = 2000;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);	/* ready, then nobody finishes */
	check(t.err == KORCH_ERR_TIMEOUT && strstr(t.msg, "overall") &&
	    t.ready, "overall timeout also bounds a running session (%s)",
	    t.msg);
}

/* The real agent, when run.sh found a build of it: greeting interop. */
static void
t_real_agent(const char *file)
{
	struct image im;
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	FILE *fp = fopen(file, "rb");
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) <= 0) {
		check(0, "read %s", file);
		if (fp)
			fclose(fp);
		return;
	}
	rewind(fp);
	im.text = malloc((size_t)n);
	if (fread(im.text, 1, (size_t)n, fp) != (size_t)n) {
		check(0, "read %s", file);
		fclose(fp);
		free(im.text);
		return;
	}
	fclose(fp);
	im.img.data = (const uint8_t *)im.text;
	im.img.len = (size_t)n;
	sha256_hex(im.text, im.img.len, im.img.sha256);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run(&t, 1, &tg, &im);
	check(t.ready && t.uploaded, "real korch-agent (%ld bytes) uploaded "
	    "and greeted with its own hash (%s)", n, t.msg);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run(&t, 1, &tg, &im);
	check(t.ready && !t.uploaded, "real korch-agent reused the second "
	    "time (%s)", t.msg);
	free(im.text);
}

static void
t_concurrent(int n)
{
	struct tconn *ts = calloc((size_t)n, sizeof(*ts));
	struct ssh_target tg = target(path("known_hosts"));
	size_t len = 64 * 1024;
	uint8_t *buf = malloc(len);
	int i, ok = 0;

	RAND_bytes(buf, (int)len);
	for (i = 0; i < n; i++) {
		ts[i].payload = buf;
		ts[i].payload_len = len;
	}
	run(ts, n, &tg, &img_v1);
	for (i = 0; i < n; i++) {
		if (ts[i].err == 0 && ts[i].got == len && !ts[i].mismatch)
			ok++;
		else if (ok + 3 > i)
			diag("conn %d: %s", i, ts[i].msg);
	}
	check(ok == n, "%d concurrent connections in one loop: %d ok", n, ok);
	free(ts);
	free(buf);
}

static void
t_concurrent_upload(int n)
{
	struct tconn *ts = calloc((size_t)n, sizeof(*ts));
	struct ssh_target tg = target(path("known_hosts"));
	int i, ok = 0, up = 0;

	rm_korch_dir();
	for (i = 0; i < n; i++)
		ts[i].finish_on_ready = 1;
	run(ts, n, &tg, &img_v1);
	for (i = 0; i < n; i++) {
		if (ts[i].err == 0 && ts[i].ready)
			ok++;
		else
			diag("conn %d: %s", i, ts[i].msg);
		up += ts[i].uploaded;
	}
	check(ok == n && up >= 1, "%d concurrent first contacts racing to "
	    "upload: %d ok, %d uploads", n, ok, up);
	free(ts);
}

static void
t_bastion(int n, int cap)
{
	struct tconn *ts = calloc((size_t)n, sizeof(*ts));
	struct ssh_target bt = target(path("known_hosts")), tg;
	struct event_base *base = event_base_new();
	struct ssh_bastion *b = NULL;
	struct event *deadline = evtimer_new(base, deadline_cb, base);
	struct timeval tv = { deadline_s, 0 };
	size_t len = 256 * 1024, bigsz = 4u << 20;
	uint8_t *buf = malloc(len), *big = malloc(bigsz);
	int i, r, ok = 0, remaining = n;

	RAND_bytes(buf, (int)len);
	RAND_bytes(big, (int)bigsz);
	bt.name = "bastion";
	r = ssh_bastion_new(base, &bt, cap, &b);
	check(r == 0, "bastion created");
	tg = target(path("known_hosts"));
	tg.bastion = b;
	evtimer_add(deadline, &tv);
	for (i = 0; i < n; i++) {
		ts[i].base = base;
		ts[i].remaining = &remaining;
		ts[i].resume = evtimer_new(base, resume_cb, &ts[i]);
		ts[i].next_pause = 512 * 1024;
		ts[i].payload = buf;
		ts[i].payload_len = len;
		if (i == 0) {
			/* One big, paused-and-resumed stream among them. */
			ts[i].payload = big;
			ts[i].payload_len = bigsz;
			ts[i].pause_test = 1;
		}
		r = ssh_conn_start(base, &tg, &img_v1.img, &cbs, &ts[i],
		    &ts[i].c);
		if (r != 0) {
			remaining--;
			ts[i].err = r;
		}
	}
	if (remaining > 0)
		event_base_dispatch(base);
	for (i = 0; i < n; i++) {
		if (ts[i].err == 0 && ts[i].got == ts[i].payload_len &&
		    !ts[i].mismatch && ts[i].gone)
			ok++;
		else if (i < 3 || ok + 3 > i)
			diag("via bastion %d: got %zu/%zu ready %d: %s", i,
			    ts[i].got, len, ts[i].ready, ts[i].msg);
		if (ts[i].c != NULL)
			ssh_conn_free(ts[i].c);
		event_free(ts[i].resume);
	}
	check(ok == n, "%d hosts through one bastion session (at most %d "
	    "handshakes at once): %d ok", n, cap, ok);
	check(ts[0].pauses > 3, "a paused host behind the bastion resumes "
	    "intact (%d pauses)", ts[0].pauses);
	ssh_bastion_free(b);
	event_free(deadline);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	free(buf);
	free(big);
	free(ts);

	/* A bastion that cannot be reached fails its hosts clearly. */
	{
		struct tconn t;
		int fd, p;

		base = event_base_new();
		fd = listen_socket(1, &p);
		close(fd);
		bt.port = p;
		r = ssh_bastion_new(base, &bt, cap, &b);
		tg.bastion = b;
		memset(&t, 0, sizeof(t));
		remaining = 1;
		t.base = base;
		t.remaining = &remaining;
		t.resume = evtimer_new(base, resume_cb, &t);
		r = ssh_conn_start(base, &tg, &img_v1.img, &cbs, &t, &t.c);
		if (r == 0)
			event_base_dispatch(base);
		check(t.err == KORCH_ERR_CONNECT && strstr(t.msg, "bastion") &&
		    strstr(t.msg, "refused"), "unreachable bastion: hosts get "
		    "CONNECT (%s)", t.msg);
		if (t.c != NULL)
			ssh_conn_free(t.c);
		event_free(t.resume);
		ssh_bastion_free(b);
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}
}


/* ---- trust: host key pins, @revoked, @cert-authority, new key types ------ */

static void
t_pin(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	char real[64], other[64];

	pub_fp(path("host_ed25519.pub"), real);
	pub_fp(path("other_host.pub"), other);
	tg.pinned_fp = real;
	tg.pinned_type = "ssh-ed25519";
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "the pinned key connects");

	/* known_hosts says yes, the pin says no: the pin wins. */
	tg.pinned_fp = other;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_MISMATCH && strstr(t.msg, other) &&
	    strstr(t.msg, real) && strstr(t.msg, "korch hosts trust node1"),
	    "a key other than the pin is refused though known_hosts lists it "
	    "(%s)", t.msg);
	tg.accept_new = 1;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_MISMATCH, "accept_new does not "
	    "override a pin");
}

static void
t_markers(void)
{
	struct tconn t;
	struct ssh_target tg;
	char line[16384], host[2048], ec[2048], before[16384];
	FILE *fp;

	fp = fopen(path("host_ed25519.pub"), "r");
	if (fp == NULL || fgets(host, sizeof(host), fp) == NULL) {
		check(0, "read host_ed25519.pub");
		if (fp)
			fclose(fp);
		return;
	}
	fclose(fp);
	host[strcspn(host, "\r\n")] = '\0';
	fp = fopen(path("other_ecdsa.pub"), "r");
	if (fp == NULL || fgets(ec, sizeof(ec), fp) == NULL) {
		check(0, "read other_ecdsa.pub");
		if (fp)
			fclose(fp);
		return;
	}
	fclose(fp);
	ec[strcspn(ec, "\r\n")] = '\0';

	/* Listed and revoked: revoked wins. */
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s\n@revoked "
	    "*.example,[127.0.0.1]:* %s\n", port, host, host);
	write_file(path("kh_revoked"), line);
	tg = target(path("kh_revoked"));
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_MISMATCH && strstr(t.msg,
	    "revoked") && strstr(t.msg, "line 2"), "a key both listed and "
	    "@revoked is refused (%s)", t.msg);
	/* A revocation for other hosts only ("!" excludes us) does not. */
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s\n@revoked "
	    "*,![127.0.0.1]:%d %s\n", port, host, port, host);
	write_file(path("kh_revoked"), line);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready, "a revocation whose patterns exclude "
	    "the host does not apply");

	/* Only a CA for the host: refused clearly, nothing recorded. */
	snprintf(line, sizeof(line), "@cert-authority [127.0.0.1]:%d %s\n",
	    port, ec);
	write_file(path("kh_ca"), line);
	tg = target(path("kh_ca"));
	tg.accept_new = 1;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_UNKNOWN && strstr(t.msg,
	    "@cert-authority") && strstr(t.msg, "line 1") &&
	    count_lines(path("kh_ca")) == 1, "a host known only through "
	    "@cert-authority is refused clearly, even with accept_new (%s)",
	    t.msg);

	/* known_hosts has an ECDSA key for us; sshd offers ed25519. */
	snprintf(line, sizeof(line), "[127.0.0.1]:%d %s\n", port, ec);
	write_file(path("kh_newtype"), line);
	snprintf(before, sizeof(before), "%s", line);
	tg = target(path("kh_newtype"));
	tg.accept_new = 1;
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_HOSTKEY_UNKNOWN && strstr(t.msg,
	    "never adds a key of another type") && strstr(t.msg,
	    "ecdsa-sha2-nistp256") && count_lines(path("kh_newtype")) == 1 &&
	    file_contains(path("kh_newtype"), before), "accept_new does not "
	    "add a new key type for a host known_hosts knows (%s)", t.msg);
}

/* ---- trust: what root runs, what ~/.korch may be ---------------------- */

#define CANARY_AGENT(sha) \
	"#!/bin/sh\ntouch \"$HOME/../canary\"\n" \
	"echo \"KORCH-AGENT-READY " IT_XSTR(KP_VERSION) " " sha "\"\n" \
	"exec cat\n"

/* Put an impostor at ~/.korch/agent-<v1's hash>: the right greeting, and
 * a canary file beside the home directory. */
static void
swap_agent(void)
{
	char body[512];

	snprintf(body, sizeof(body), CANARY_AGENT("%s"), img_v1.img.sha256);
	write_file(agent_path(&img_v1), body);
	chmod(agent_path(&img_v1), 0700);
}

static void
t_swapped(void)
{
	struct tconn t;
	struct ssh_target tg = target(path("known_hosts"));
	char root_copy[256], korch[1024];
	struct stat st;

	snprintf(korch, sizeof(korch), "%s/home/.korch", dir);
	snprintf(root_copy, sizeof(root_copy), "/var/lib/korch/agent/agent-%s",
	    img_v1.img.sha256);

	/* Without become: ~/.korch writable by others is refused. */
	rm_korch_dir();
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	swap_agent();
	chmod(korch, 0777);
	unlink(path("canary"));
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_AGENT && strstr(t.msg, "refusing") &&
	    strstr(t.msg, "must be a directory owned by uid") &&
	    access(path("canary"), F_OK) != 0, "a world-writable ~/.korch "
	    "is refused, nothing run (%s)", t.msg);
	chmod(korch, 0700);
	chmod(agent_path(&img_v1), 0777);
	memset(&t, 0, sizeof(t));
	run1(&t, &tg, &img_v1);
	check(t.err == KORCH_ERR_AGENT && strstr(t.msg, "must be a file "
	    "owned by uid") && access(path("canary"), F_OK) != 0,
	    "a world-writable agent file is refused (%s)", t.msg);
	chmod(agent_path(&img_v1), 0700);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && t.uploaded &&
	    access(path("canary"), F_OK) != 0, "without become an impostor "
	    "with the right greeting is not run: its hash is wrong, the "
	    "agent is uploaded again");

	if (geteuid() != 0) {
		check(1, "# SKIP become: the stand-in sudo makes root only "
		    "when the suite runs as root");
		return;
	}
	/* With become: root's own copy, hashed before each exec. */
	tg.become_sudo = 1;
	unlink(root_copy);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && stat(root_copy, &st) == 0 &&
	    st.st_uid == 0 && (st.st_mode & 07777) == 0700,
	    "become: the agent runs from a root-owned 0700 copy in "
	    "/var/lib/korch/agent");
	swap_agent();
	chmod(korch, 0777);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && !t.uploaded &&
	    access(path("canary"), F_OK) != 0, "become: ops' copy swapped "
	    "and ~/.korch world-writable: root runs its own copy, not the "
	    "impostor");
	chmod(korch, 0700);
	unlink(root_copy);
	memset(&t, 0, sizeof(t));
	t.finish_on_ready = 1;
	run1(&t, &tg, &img_v1);
	check(t.err == 0 && t.ready && t.uploaded &&
	    access(path("canary"), F_OK) != 0 && stat(root_copy, &st) == 0,
	    "become, no root copy, impostor in ~/.korch: root hashes its "
	    "copy, refuses it, and the agent is uploaded again");
	unlink(root_copy);
	rmdir("/var/lib/korch/agent");	/* only when we made it empty */
	rmdir("/var/lib/korch");
}

int
main(int argc, char **argv)
{
	struct passwd *pw;
	const char *only;

	if (argc != 3) {
		fprintf(stderr, "usage: ssh_driver PORT DIR\n");
		return 2;
	}
	port = atoi(argv[1]);
	dir = argv[2];
	only = getenv("SSH_DRIVER_ONLY");
	if (getenv("SSH_DRIVER_DEADLINE") != NULL)
		deadline_s = atoi(getenv("SSH_DRIVER_DEADLINE"));
	if ((pw = getpwuid(getuid())) == NULL)
		return 2;
	user = strdup(pw->pw_name);
	shell = strdup(pw->pw_shell != NULL ? pw->pw_shell : "");
	if (ssh_global_init() != 0)
		return 2;

	image_make(&img_v1, ECHO_AGENT("v1"));
	image_make(&img_v2, ECHO_AGENT("v2"));
	image_make(&img_mute, "#!/bin/sh\necho 'starting up...'\nexec cat\n");
	image_make(&img_exit, "#!/bin/sh\necho 'agent: cannot start' >&2\n"
	    "exit 3\n");
	image_make(&img_badhash, ECHO_AGENT("badhash"));
	memset(img_badhash.img.sha256, 'a', 64);	/* a lie */

#define RUN(name, call) \
	do { if (only == NULL || strstr(only, name)) { call; } } while (0)
	RUN("hostkey", t_unknown_then_accept());
	RUN("upload", t_upload_cycle());
	RUN("echo", t_large_echo());
	RUN("noise", t_noise());
	RUN("mismatch", t_hostkey_mismatch());
	RUN("auth", t_auth_fail());
	RUN("agentauth", t_ssh_agent());
	RUN("connect", t_connect_failures());
	RUN("resolve", t_resolve());
	RUN("sudo", t_sudo());
	RUN("pin", t_pin());
	RUN("markers", t_markers());
	RUN("swapped", t_swapped());
	RUN("timeout", t_overall());
	if (getenv("KORCH_AGENT_BIN") != NULL)
		RUN("real", t_real_agent(getenv("KORCH_AGENT_BIN")));
	RUN("concurrent", t_concurrent(60));
	RUN("race", t_concurrent_upload(20));
	RUN("bastion", t_bastion(24, 4));

	ssh_global_cleanup();
	free(img_v1.text);
	free(img_v2.text);
	free(img_mute.text);
	free(img_exit.text);
	free(img_badhash.text);
	free((char *)user);
	free((char *)shell);
	printf("1..%d\n", ntests);
	printf("%d passed, %d failed\n", ntests - nfailed, nfailed);
	return nfailed ? 1 : 0;
}
