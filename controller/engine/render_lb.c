/*
 * render_lb.c - how one host reaches the apiservers (the inventory's
 * cluster.apiserver_lb), as the lb.* variables the load balancer's tasks
 * and templates read (playbooks/36-apiserver-lb.yaml):
 *   local: an haproxy on 127.0.0.1:6443 on every host that is not a
 *          master (a master's own apiserver is at that address);
 *   vip:   on every master an haproxy on apiserver_vip_port over all the
 *          masters, and keepalived holding the virtual IP in front of
 *          them;
 *   none, external: nothing on the hosts.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "engine/vars.h"
#include "engine/render-int.h"
#include "spec/inventory.h"

/* keepalived's priority of the first master; each next one is one less,
 * so the order of the inventory decides who holds the address first. */
#define VIP_PRIORITY_FIRST	200

static int
set_yes(struct vars *v, const char *name, int yes)
{
	return vars_set(v, name, yes ? "yes" : "no");
}

/* Every other master's address, one a line (keepalived's unicast_peer
 * block): VRRP by unicast, since clouds and many switches drop its
 * multicast. */
static int
set_vip_peers(struct vars *v, const struct inventory *inv, size_t host_idx)
{
	struct sbuild b;
	size_t i;
	int r, n = 0;

	if ((r = sb_open(&b)) != 0)
		return r;
	for (i = 0; i < inv->nhosts; i++)
		if (i != host_idx &&
		    inventory_host_has_role(&inv->hosts[i], "master"))
			fprintf(b.fp, "%s        %s", n++ ? "\n" : "",
			    inv->hosts[i].address);
	return sb_set(&b, v, "lb.vip_peers");
}

int
render_lb_vars(struct vars *v, const struct inventory *inv, size_t host_idx)
{
	const char *mode = inv->cluster.apiserver_lb != NULL ?
	    inv->cluster.apiserver_lb : "none";
	int master = inventory_host_has_role(&inv->hosts[host_idx], "master");
	int local = strcmp(mode, "local") == 0, vip = strcmp(mode, "vip") == 0;
	char bind[32], url[48], prio[16];
	size_t i, rank = 0;
	int haproxy, r;

	bind[0] = url[0] = '\0';
	haproxy = (local && !master) || (vip && master);
	if (haproxy && local) {
		snprintf(bind, sizeof(bind), "127.0.0.1:6443");
		snprintf(url, sizeof(url), "https://127.0.0.1:6443");
	} else if (haproxy) {
		/* Every address: the virtual one comes and goes. */
		snprintf(bind, sizeof(bind), ":%d",
		    inv->cluster.apiserver_vip_port);
		snprintf(url, sizeof(url), "https://127.0.0.1:%d",
		    inv->cluster.apiserver_vip_port);
	}
	for (i = 0; i < host_idx; i++)
		rank += inventory_host_has_role(&inv->hosts[i], "master");
	snprintf(prio, sizeof(prio), "%zu", rank < VIP_PRIORITY_FIRST ?
	    VIP_PRIORITY_FIRST - rank : 1);
	if ((r = set_yes(v, "lb.haproxy", haproxy)) != 0 ||
	    (r = set_yes(v, "lb.keepalived", vip && master)) != 0 ||
	    (r = vars_set(v, "lb.bind", bind)) != 0 ||
	    (r = vars_set(v, "lb.url", url)) != 0 ||
	    (r = vars_set(v, "lb.vip_priority", prio)) != 0 ||
	    /* The packages: the bundle's when the run has one (its check
	     * refused one without haproxy), else the distribution's. */
	    (r = vars_set(v, "lb.source", vars_get(v, "bundle.packages") !=
	    NULL ? "bundle" : "distro")) != 0)
		return r;
	return set_vip_peers(v, inv, host_idx);
}
