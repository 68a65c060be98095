/*
 * ssh.c - the SSH transport's public API (ssh.h): starting a connection,
 * the caller's side of its stdin/stdout, and teardown.  The connection
 * itself is conn.c and the files ssh-int.h lists; the bastion's API is in
 * bastion.c.
 */
#include <stddef.h>

#include <event2/buffer.h>
#include <libssh2.h>

#include "err.h"
#include "ssh/agent_image.h"
#include "ssh/ssh-int.h"

#define SSH_OUTQ_MAX		(64u << 20)	/* queued for the agent's stdin */

int
ssh_global_init(void)
{
	return libssh2_init(0) == 0 ? 0 : KORCH_ERR_INTERNAL;
}

void
ssh_global_cleanup(void)
{
	kh_cache_flush();
	libssh2_exit();
}

int
ssh_conn_start(struct event_base *base, const struct ssh_target *t,
    const struct agent_image *img, const struct ssh_conn_cbs *cbs, void *arg,
    struct ssh_conn **out)
{
	struct ssh_conn *c;
	int r;

	if (out == NULL)
		return KORCH_ERR_INVALID_ARG;
	*out = NULL;
	if (img == NULL || cbs == NULL || img->data == NULL ||
	    img->len == 0 || !sha256_hex_valid(img->sha256))
		return KORCH_ERR_INVALID_ARG;
	if ((r = conn_new(base, t, MODE_AGENT, &c)) != 0)
		return r;
	c->img = img;
	c->cbs = *cbs;
	c->arg = arg;
	if ((r = boot_prepare(c)) != 0) {
		conn_destroy(c);
		return r;
	}
	if (c->via != NULL && (r = bastion_attach(c->via, c)) != 0) {
		conn_destroy(c);
		return r;
	}
	conn_begin(c);
	*out = c;
	return 0;
}

int
ssh_conn_send(struct ssh_conn *c, const void *p, size_t n)
{
	if (c == NULL || c->freed || c->state == SS_GONE || c->remote_eof)
		return KORCH_ERR_EOF;
	if (c->finishing)
		return KORCH_ERR_EOF;	/* EOF already promised */
	if (n == 0)
		return 0;
	if (n > SSH_OUTQ_MAX - evbuffer_get_length(c->outq))
		return KORCH_ERR_TOO_LARGE;
	if (evbuffer_add(c->outq, p, n) != 0)
		return KORCH_ERR_ALLOC;
	if (c->state == SS_RUNNING)
		conn_kick(c);
	return 0;
}

size_t
ssh_conn_queued(const struct ssh_conn *c)
{
	if (c == NULL || c->freed || c->outq == NULL)
		return 0;
	return evbuffer_get_length(c->outq);
}

void
ssh_conn_pause(struct ssh_conn *c, int paused)
{
	if (c == NULL || c->freed)
		return;
	paused = paused != 0;
	if (c->paused == paused)
		return;
	c->paused = paused;
	if (c->state == SS_RUNNING) {
		if (paused)
			io_watch_want(&c->io, 0, c->io.want_wr);
		else
			conn_kick(c);	/* libssh2 may hold data already */
	}
}

void
ssh_conn_finish(struct ssh_conn *c)
{
	if (c == NULL || c->freed || c->finishing)
		return;
	c->finishing = 1;
	if (c->state == SS_RUNNING)
		conn_kick(c);
}

void
ssh_conn_free(struct ssh_conn *c)
{
	if (c == NULL || c->freed)
		return;
	c->freed = 1;
	conn_release(c);
	if (c->state != SS_GONE)
		conn_set_state(c, SS_GONE);
	if (c->busy == 0)
		conn_destroy(c);
	/* else conn_leave() destroys it when the stack unwinds */
}

const char *
ssh_conn_hostkey_fp(const struct ssh_conn *c)
{
	return c != NULL && c->fp[0] != '\0' ? c->fp : NULL;
}

const char *
ssh_conn_hostkey_type(const struct ssh_conn *c)
{
	return c != NULL && c->fp[0] != '\0' ?
	    hostkey_type_name(c->hostkey_type) : NULL;
}

int
ssh_conn_uploaded(const struct ssh_conn *c)
{
	return c != NULL && c->uploaded;
}

const char *
ssh_conn_state(const struct ssh_conn *c)
{
	if (c == NULL || c->state >= SS__COUNT)
		return "none";
	return conn_state_name(c->state);
}
