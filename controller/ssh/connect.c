/*
 * connect.c - reaching the host: resolve its name (through an evdns base
 * shared per event base) or take its IP literal, then connect over TCP,
 * trying each address in turn.  A host behind a bastion skips all of this
 * (bastion.c gives it a socket).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "err.h"
#include "ssh/ssh-int.h"

/* ---- the evdns base, shared per event base ------------------------------ */

/*
 * One evdns_base per event_base, shared by the connections that need a
 * name resolved and by requests still in flight.  It is freed from a
 * zero-delay one-shot event once nothing refers to it, never from inside
 * an evdns callback.  A resolve whose connection went away is not
 * cancelled (cancelling leaves evdns callbacks pending that would outlive
 * a freed evdns_base); it finishes on its own and is dropped.
 */
struct dns_ref {
	struct dns_ref		*next;
	struct event_base	*base;
	struct evdns_base	*dns;
	int			 refs;
	int			 reaping;
};
static struct dns_ref *dns_refs;

struct resolve_req {
	struct ssh_conn		*c;		/* NULL once orphaned */
	struct dns_ref		*ref;
};

static struct dns_ref *
dns_get(struct event_base *base)
{
	struct dns_ref *d;

	for (d = dns_refs; d != NULL; d = d->next)
		if (d->base == base) {
			d->refs++;
			return d;
		}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base = base;
	d->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->dns == NULL) {
		free(d);
		return NULL;
	}
	d->refs = 1;
	d->next = dns_refs;
	dns_refs = d;
	return d;
}

static void
dns_reap(evutil_socket_t fd, short what, void *arg)
{
	struct dns_ref *d = arg, **pp;

	(void)fd;
	(void)what;
	d->reaping = 0;
	if (d->refs > 0)
		return;
	for (pp = &dns_refs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	evdns_base_free(d->dns, 0);
	free(d);
}

static void
dns_put(struct dns_ref *d)
{
	struct timeval zero = { 0, 0 };

	if (d == NULL || --d->refs > 0 || d->reaping)
		return;
	if (event_base_once(d->base, -1, EV_TIMEOUT, dns_reap, d, &zero) == 0)
		d->reaping = 1;
}

static void
resolve_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct resolve_req *rr = arg;
	struct ssh_conn *c = rr->c;

	if (c == NULL) {
		/* The connection is gone: drop the answer. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
	} else {
		c->rr = NULL;
		c->ai = res;
		c->resolve_err = result;
		if (result == 0 && res == NULL)
			c->resolve_err = EVUTIL_EAI_FAIL;
		conn_kick(c);	/* never call out from inside evdns */
	}
	dns_put(rr->ref);
	free(rr);
}

/* The connection lets go of name resolution.  A request still in flight
 * is orphaned, not cancelled: resolve_cb drops its answer. */
void
resolve_release(struct ssh_conn *c)
{
	if (c->rr != NULL) {
		c->rr->c = NULL;	/* orphan; resolve_cb drops it */
		c->rr = NULL;
	}
	if (c->dns != NULL) {
		dns_put(c->dns);
		c->dns = NULL;
	}
}

/* ---- resolve and connect ------------------------------------------------ */

static int
numeric_addr(const char *a)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return evutil_inet_pton(AF_INET, a, buf) == 1 ||
	    evutil_inet_pton(AF_INET6, a, buf) == 1;
}

enum step
step_init(struct ssh_conn *c)
{
	struct evutil_addrinfo hints;
	struct resolve_req *rr;
	struct evdns_getaddrinfo_request *req;
	char port[16];
	int r;

	if (c->via != NULL)
		return tunnel_wait(c);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%d", c->port);
	if (numeric_addr(c->address)) {
		/* IP literal: no lookup, nothing can block. */
		hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
		r = evutil_getaddrinfo(c->address, port, &hints, &c->ai);
		if (r != 0) {
			conn_fail(c, KORCH_ERR_RESOLVE, "%s: bad address: %s",
			    c->where, evutil_gai_strerror(r));
			return STEP_STOP;
		}
		c->ai_next = c->ai;
		conn_set_state(c, SS_CONNECT);
		return STEP_NEXT;
	}
	if ((c->dns = dns_get(c->base)) == NULL ||
	    (rr = calloc(1, sizeof(*rr))) == NULL) {
		conn_fail(c, KORCH_ERR_ALLOC, "%s: cannot start name "
		    "resolution", c->where);
		return STEP_STOP;
	}
	rr->c = c;
	rr->ref = c->dns;
	c->dns->refs++;		/* the request holds its own reference */
	c->rr = rr;
	conn_set_state(c, SS_RESOLVE);
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	req = evdns_getaddrinfo(c->dns->dns, c->address, port, &hints,
	    resolve_cb, rr);
	(void)req;	/* answered now (rr freed) or later; never cancelled */
	return c->rr == NULL ? STEP_NEXT : STEP_IDLE;
}

enum step
step_resolve(struct ssh_conn *c)
{
	if (c->rr != NULL)
		return STEP_IDLE;
	if (c->resolve_err != 0) {
		conn_fail(c, KORCH_ERR_RESOLVE, "cannot resolve the address "
		    "of %s: %s", c->where, evutil_gai_strerror(c->resolve_err));
		return STEP_STOP;
	}
	c->ai_next = c->ai;
	conn_set_state(c, SS_CONNECT);
	return STEP_NEXT;
}

static void
note_connect_err(struct ssh_conn *c, const struct evutil_addrinfo *ai, int e)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *a = NULL;

	if (ai->ai_family == AF_INET)
		a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
	else if (ai->ai_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
	if (a != NULL)
		evutil_inet_ntop(ai->ai_family, a, host, sizeof(host));
	snprintf(c->connect_err, sizeof(c->connect_err), "%s (%s)",
	    strerror(e), host);
}

enum step
step_connect(struct ssh_conn *c)
{
	struct evutil_addrinfo *ai;
	socklen_t len;
	int fd, e = 0;

	if (c->fd >= 0) {
		/* Woken by writability: did the connect work? */
		len = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
			e = errno;
		if (e == 0) {
			conn_connected(c);
			return c->state == SS_GONE ? STEP_STOP : STEP_NEXT;
		}
		note_connect_err(c, c->ai_next, e);
		io_watch_free(&c->io);
		close(c->fd);
		c->fd = -1;
		c->ai_next = c->ai_next->ai_next;
	}
	while ((ai = c->ai_next) != NULL) {
		c->ai_tried++;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			note_connect_err(c, ai, errno);
			c->ai_next = ai->ai_next;
			continue;
		}
		if (conn_set_fd(c, fd) != 0) {
			close(fd);
			c->fd = -1;
			conn_fail(c, KORCH_ERR_ALLOC, "%s: out of memory",
			    c->where);
			return STEP_STOP;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			conn_connected(c);
			return c->state == SS_GONE ? STEP_STOP : STEP_NEXT;
		}
		if (errno == EINPROGRESS)
			return STEP_WAIT_CONNECT;
		note_connect_err(c, ai, errno);
		io_watch_free(&c->io);
		close(fd);
		c->fd = -1;
		c->ai_next = ai->ai_next;
	}
	conn_fail(c, KORCH_ERR_CONNECT, "cannot connect to %s: %s%s",
	    c->where, c->connect_err[0] ? c->connect_err : "no address",
	    c->ai_tried > 1 ? " (and every other address)" : "");
	return STEP_STOP;
}
