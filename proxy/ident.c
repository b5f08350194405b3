/* ident: who a client is. Ties the ARP/NDP sniffer, the kernel neighbour
 * table and the registry together, writes identity audit events, and
 * answers the per-request lookup in O(1) without I/O on the request path
 * (a lookup miss may trigger one rate-limited neighbour dump). */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "arpframe.h"
#include "audit.h"
#include "clock.h"
#include "gate.h"
#include "grant.h"
#include "log.h"
#include "neigh.h"
#include "radius.h"
#include "registry.h"
#include "sniff.h"

#define EXPIRE_SECS 10
#define MISS_DUMP_MS 1000 /* at most one neighbour dump per second on misses */

struct ident {
	struct gate *g;
	struct sniff *sniff;
	struct event *expire;
	struct neigh_limit limit;
	int ifindex;
};

/* Write an identity audit event: an address and the MACs involved. */
static void
ident_audit(const char *event, const struct wk_ip *ip, const struct wk_mac *mac,
    const char *other_key, const struct wk_mac *other)
{
	char line[AUDIT_LINE_MAX], ips[WK_IP_STRLEN], m[WK_MAC_STRLEN];
	struct jsonw j;

	audit_begin(&j, line, sizeof(line), clock_wall_ms(), event);
	addr_ip_format(ip, ips);
	jsonw_str(&j, "ip", ips);
	addr_mac_format(mac, m);
	jsonw_str(&j, "mac", m);
	if (other) {
		addr_mac_format(other, m);
		jsonw_str(&j, other_key, m);
	}
	audit_emit(&j);
}

/* Teach the registry one binding and report what changed. */
static void
ident_learn(struct ident *id, const struct wk_ip *ip, const struct wk_mac *mac)
{
	struct registry_event ev;
	int k = registry_learn(id->g->reg, ip, mac, clock_mono_ms(), &ev);

	if (k < 0)
		return;
	if (ev.flags & REGISTRY_EV_CONFLICT) {
		char ips[WK_IP_STRLEN];
		addr_ip_format(ip, ips);
		log_warn("arp conflict on %s", ips);
		ident_audit("arp_conflict", ip, mac, "other_mac", &ev.other);
	}
	if (ev.flags & REGISTRY_EV_MOVED)
		ident_audit("client_moved", ip, mac, NULL, NULL);
	if (ev.flags & (REGISTRY_EV_NEW_ADDR | REGISTRY_EV_MOVED))
		grant_addresses_changed(id->g, mac);
	if (log_debug_enabled() && (ev.flags & REGISTRY_EV_NEW_ADDR)) {
		char ips[WK_IP_STRLEN], m[WK_MAC_STRLEN];
		addr_ip_format(ip, ips);
		addr_mac_format(mac, m);
		log_debug("learned %s is at %s (%s)", ips, m, registry_kind_name(ev.kind));
	}
}

/* A frame taught a binding. A frame whose Ethernet source differs from
 * the MAC it advertises is someone speaking for someone else: audit it
 * and do not learn it (docs/identity.md). */
static void
ident_on_frame(const struct arp_binding *b, void *arg)
{
	struct ident *id = arg;

	if (b->flags & ARPFRAME_F_MISMATCH) {
		ident_audit("arp_mismatch", &b->ip, &b->mac, "eth_src", &b->eth_src);
		return;
	}
	ident_learn(id, &b->ip, &b->mac);
}

/* Entries of one neighbour dump, gathered so they can be applied in
 * order of age. */
struct neigh_batch {
	struct neigh_entry *e;
	size_t n, cap;
};

/* Gather one kernel neighbour entry (the array grows geometrically). */
static void
ident_on_neigh(const struct neigh_entry *e, void *arg)
{
	struct neigh_batch *b = arg;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct neigh_entry *ne = realloc(b->e, cap * sizeof(*ne));
		if (ne == NULL)
			return;
		b->e = ne;
		b->cap = cap;
	}
	b->e[b->n++] = *e;
}

/* Oldest first, so that the freshest claim of an address wins. */
static int
ident_age_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct neigh_entry *)a)->age_cs;
	uint32_t y = ((const struct neigh_entry *)b)->age_cs;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Read the kernel's neighbour table into the registry. The kernel keeps
 * stale entries for addresses a device has left (a DHCP renewal), so
 * entries are learned oldest first and the current address wins.
 * Returns the number of entries, or -1. */
static int
ident_seed(struct ident *id)
{
	struct neigh_batch b = { 0 };
	int n = neigh_dump(id->ifindex, ident_on_neigh, &b);

	if (n >= 0 && b.n > 0) {
		qsort(b.e, b.n, sizeof(b.e[0]), ident_age_cmp);
		for (size_t i = 0; i < b.n; i++)
			ident_learn(id, &b.e[i].ip, &b.e[i].mac);
	}
	free(b.e);
	return n;
}

/* Age stale bindings out. */
static void
ident_on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct ident *id = arg;

	(void)fd;
	(void)what;
	registry_expire(id->g->reg, clock_mono_ms());
}

/* The configured interface exists (what ident_start needs before it
 * opens the sniffer; `wicketd -n` checks the same). 0, or -1 with a
 * reason in err. */
int
ident_conf_check(const struct wk_conf *c, char *err, size_t errlen)
{
	if (c->interface[0] != '\0' && if_nametoindex(c->interface) == 0) {
		snprintf(err, errlen, "%s: no such interface", c->interface);
		return -1;
	}
	return 0;
}

/* Build the registry, seed it from the kernel and start the sniffer. */
int
ident_start(struct gate *g)
{
	const struct wk_conf *c = g->conf;
	struct timeval tv = { EXPIRE_SECS, 0 };
	struct ident *id = calloc(1, sizeof(*id));
	char err[256];
	int n;

	if (id == NULL)
		return -1;
	id->g = g;
	id->limit.interval_ms = MISS_DUMP_MS;
	g->reg = registry_new(c->max_clients, c->neighbour_ttl, c->conflict_window);
	id->expire = event_new(g->base, -1, EV_PERSIST, ident_on_expire, id);
	if (g->reg == NULL || id->expire == NULL || event_add(id->expire, &tv) < 0) {
		log_err("cannot create the client registry");
		goto fail;
	}
	g->ident = id;
	if (ident_conf_check(c, err, sizeof(err)) < 0) {
		log_err("interface %s", err);
		goto fail;
	}
	if (c->interface[0] != '\0') {
		id->ifindex = (int)if_nametoindex(c->interface);
		id->sniff = sniff_open(g->base, c->interface, ident_on_frame, id, err,
		    sizeof(err));
		if (id->sniff == NULL) {
			log_err("sniffer on %s: %s", c->interface, err);
			goto fail;
		}
	}
	n = ident_seed(id);
	if (n < 0)
		log_warn("neighbour table dump failed; learning from traffic only");
	else
		log_info("seeded %d clients from the kernel neighbour table", n);
	g->identify = ident_identify;
	return 0;
fail:
	ident_stop(g);
	return -1;
}

/* The per-request identity: the client's MAC and whether its address is
 * in conflict. A miss may refresh from the kernel table, rate-limited. */
void
ident_identify(struct gate *g, struct policy_in *in)
{
	struct client_ident ci;
	uint64_t now = clock_mono_ms();
	bool found = registry_lookup_ip(g->reg, &in->client, now, &ci);

	if (!found && neigh_limit_take(&g->ident->limit, now) &&
	    ident_seed(g->ident) > 0)
		found = registry_lookup_ip(g->reg, &in->client, now, &ci);
	in->mac = NULL;
	in->mac_conflict = false;
	in->mac_random = false;
	in->session_admitted = false;
	if (!found)
		return;
	in->mac_buf = ci.mac;
	in->mac = &in->mac_buf;
	in->mac_conflict = ci.conflict;
	in->mac_random = ci.randomised;
	in->session_admitted = grant_check(g, &in->mac_buf);
	if (!in->session_admitted)
		radius_sighted(g, &in->mac_buf); /* MAC auth; cached, rate-limited */
}

/* Stop the sniffer and free the registry. */
void
ident_stop(struct gate *g)
{
	struct ident *id = g->ident;

	if (id) {
		if (id->sniff)
			sniff_close(id->sniff);
		if (id->expire)
			event_free(id->expire);
		free(id);
	}
	if (g->reg)
		registry_free(g->reg);
	g->ident = NULL;
	g->reg = NULL;
	g->identify = NULL;
}
