/* ident: who a client is. Ties the ARP/NDP sniffer, the kernel neighbour
 * table and the registry together, tells the registry which MACs are
 * admitted, writes identity audit events, and answers the per-request
 * lookup in O(1) without waiting on the request path (a lookup miss asks
 * the kernel for that one neighbour entry, rate-limited, never waiting). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define TICK_SECS 1
#define MISS_GET_MS 10    /* kernel lookups on misses: 100 a second... */
#define MISS_GET_BURST 100 /* ...and a burst of 100 */
#define SWEEP_MIN 256     /* client slots re-checked for admission per tick... */
#define SWEEP_MAX 16384   /* ...so a full sweep takes about 30 s, within these */

struct ident {
	struct gate *g;
	struct sniff *sniff;
	struct event *tick;
	struct neigh_limit limit;
	int nlfd;       /* rtnetlink socket for single-entry lookups, or -1 */
	int ifindex;
	uint32_t link;  /* the registry link of the LAN (0 without an interface) */
};

/* Write an identity audit event: an address and the MACs involved. */
static void
ident_audit(const char *event, const struct wk_ip *ip, const struct wk_mac *mac,
    const char *other_key, const struct wk_mac *other, const struct wk_ip *other_ip)
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
	if (other_ip) {
		addr_ip_format(other_ip, ips);
		jsonw_str(&j, "other_ip", ips);
	}
	audit_emit(&j);
}

/* Report what one registry change means: audit events, the firewall. */
static void
ident_report(struct ident *id, const struct registry_event *ev)
{
	char ips[WK_IP_STRLEN];

	if (ev->flags & REGISTRY_EV_CONFLICT) {
		addr_ip_format(&ev->ip, ips);
		if (ev->flags & REGISTRY_EV_HELD) {
			/* An admitted client claims a second IPv4: its move waits. */
			log_warn("arp conflict on %s: admitted client's move held", ips);
			ident_audit("arp_conflict", &ev->ip, &ev->mac, NULL, NULL, &ev->old_ip);
		} else {
			log_warn("arp conflict on %s", ips);
			ident_audit("arp_conflict", &ev->ip, &ev->mac, "other_mac", &ev->other,
			    NULL);
		}
	}
	if (ev->flags & REGISTRY_EV_MOVED)
		ident_audit("client_moved", &ev->ip, &ev->mac, NULL, NULL, &ev->old_ip);
	if (ev->flags & (REGISTRY_EV_NEW_ADDR | REGISTRY_EV_MOVED))
		grant_addresses_changed(id->g, &ev->mac);
	if (log_debug_enabled() && (ev->flags & REGISTRY_EV_NEW_ADDR)) {
		char m[WK_MAC_STRLEN];
		addr_ip_format(&ev->ip, ips);
		addr_mac_format(&ev->mac, m);
		log_debug("learned %s is at %s (%s)", ips, m, registry_kind_name(ev->kind));
	}
}

/* Teach the registry one claim and report what changed. A refused or
 * rate-limited claim is counted by the registry and otherwise dropped. */
static void
ident_learn(struct ident *id, const struct wk_ip *ip, const struct wk_mac *mac,
    enum registry_origin origin)
{
	struct registry_claim cl = { .link = id->link, .ip = *ip, .mac = *mac,
	    .origin = origin };
	struct registry_event ev;

	if (registry_learn(id->g->reg, &cl, clock_mono_ms(), &ev) >= 0)
		ident_report(id, &ev);
}

/* A frame taught a binding. Each station's frames are rate-limited
 * first, so neither the table nor the audit log can be flooded by one
 * sender. A frame whose Ethernet source differs from the MAC it
 * advertises is someone speaking for someone else: audit it and do not
 * learn it (docs/identity.md). */
static void
ident_on_frame(const struct arp_binding *b, void *arg)
{
	struct ident *id = arg;

	if (!registry_source_take(id->g->reg, id->link, &b->eth_src, clock_mono_ms()))
		return;
	if (b->flags & ARPFRAME_F_MISMATCH) {
		ident_audit("arp_mismatch", &b->ip, &b->mac, "eth_src", &b->eth_src, NULL);
		return;
	}
	ident_learn(id, &b->ip, &b->mac, REGISTRY_FROM_FRAME);
}

/* One kernel neighbour entry of a dump, and whether to skip it. */
struct seed_item {
	struct neigh_entry e;
	bool skip;
};

/* Entries of one neighbour dump, gathered so they can be applied in
 * order of age. */
struct neigh_batch {
	struct seed_item *it;
	size_t n, cap;
};

/* Gather one kernel neighbour entry (the array grows geometrically). */
static void
ident_on_neigh(const struct neigh_entry *e, void *arg)
{
	struct neigh_batch *b = arg;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct seed_item *ni = realloc(b->it, cap * sizeof(*ni));
		if (ni == NULL)
			return;
		b->it = ni;
		b->cap = cap;
	}
	b->it[b->n].e = *e;
	b->it[b->n++].skip = false;
}

/* Oldest first, so that the freshest claim of an address wins. */
static int
ident_age_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct seed_item *)a)->e.age_cs;
	uint32_t y = ((const struct seed_item *)b)->e.age_cs;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* IPv4 entries by interface and MAC, freshest first; the rest after. */
static int
ident_owner_cmp(const void *a, const void *b)
{
	const struct neigh_entry *x = &((const struct seed_item *)a)->e;
	const struct neigh_entry *y = &((const struct seed_item *)b)->e;
	int c;

	if ((x->ip.family == AF_INET) != (y->ip.family == AF_INET))
		return x->ip.family == AF_INET ? -1 : 1;
	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	if ((c = memcmp(x->mac.b, y->mac.b, sizeof(x->mac.b))) != 0)
		return c;
	return x->age_cs < y->age_cs ? -1 : x->age_cs > y->age_cs ? 1 : 0;
}

/* Read the kernel's neighbour table into the registry. The kernel keeps
 * stale entries for addresses a device has left (a DHCP renewal): of a
 * MAC's IPv4 entries on one interface only the freshest is learned (a
 * snapshot is not a move), and entries are learned oldest first so that
 * the freshest claim of an address wins. O(n log n). Returns the number
 * of entries, or -1. */
static int
ident_seed(struct ident *id)
{
	struct neigh_batch b = { 0 };
	int n = neigh_dump(id->ifindex, ident_on_neigh, &b);

	if (n >= 0 && b.n > 0) {
		qsort(b.it, b.n, sizeof(b.it[0]), ident_owner_cmp);
		for (size_t i = 1; i < b.n; i++)
			b.it[i].skip = b.it[i].e.ip.family == AF_INET &&
			    b.it[i - 1].e.ip.family == AF_INET &&
			    b.it[i].e.ifindex == b.it[i - 1].e.ifindex &&
			    addr_mac_equal(&b.it[i].e.mac, &b.it[i - 1].e.mac);
		qsort(b.it, b.n, sizeof(b.it[0]), ident_age_cmp);
		for (size_t i = 0; i < b.n; i++)
			if (!b.it[i].skip)
				ident_learn(id, &b.it[i].e.ip, &b.it[i].e.mac,
				    REGISTRY_FROM_KERNEL);
	}
	free(b.it);
	return n;
}

/* True when mac is admitted now: a trusted allow_mac device or a live
 * session. The registry asks before it evicts or pins a client. */
static bool
ident_admitted(const struct wk_mac *mac, void *arg)
{
	struct gate *g = arg;

	for (size_t i = 0; i < g->conf->n_allow_mac; i++)
		if (addr_mac_equal(&g->conf->allow_mac[i], mac))
			return true;
	return grant_check(g, mac);
}

/* A held move confirmed by the expiry pass: report it like a learn. */
static void
ident_on_settled(const struct registry_event *ev, void *arg)
{
	ident_report(arg, ev);
}

/* Once a second: age stale clients out and settle held moves (both
 * O(what changes)), and re-check a slice of the pins (a session that
 * ended by a path that did not say so, an allow_mac line a reload
 * removed). */
static void
ident_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ident *id = arg;
	unsigned budget = id->g->conf->max_clients / 30;

	(void)fd;
	(void)what;
	if (budget < SWEEP_MIN)
		budget = SWEEP_MIN;
	if (budget > SWEEP_MAX)
		budget = SWEEP_MAX;
	registry_pin_sweep(id->g->reg, budget);
	registry_expire(id->g->reg, clock_mono_ms(), ident_on_settled, id);
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

/* The sniffer's counters for `wicketctl stats`; false without a sniffer
 * (no interface). A small accessor for control.c. */
bool
ident_sniff_stats(struct gate *g, struct sniff_stats *out)
{
	if (g->ident == NULL || g->ident->sniff == NULL)
		return false;
	sniff_get_stats(g->ident->sniff, out);
	return true;
}

/* Build the registry, seed it from the kernel and start the sniffer. */
int
ident_start(struct gate *g)
{
	const struct wk_conf *c = g->conf;
	struct timeval tv = { TICK_SECS, 0 };
	struct registry_conf rc = {
		.max_clients = c->max_clients,
		.neighbour_ttl_s = c->neighbour_ttl,
		.conflict_window_s = c->conflict_window,
		.learn_rate = c->learn_rate,
		.learn_new_rate = c->learn_new_rate,
	};
	struct ident *id = calloc(1, sizeof(*id));
	char err[256];
	int n;

	if (id == NULL)
		return -1;
	g->ident = id;
	id->g = g;
	id->limit.interval_ms = MISS_GET_MS;
	id->limit.burst = MISS_GET_BURST;
	id->nlfd = neigh_socket();
	if (id->nlfd < 0)
		log_warn("rtnetlink: %s; lookup misses fail closed", strerror(errno));
	g->reg = registry_new(&rc);
	id->tick = event_new(g->base, -1, EV_PERSIST, ident_on_tick, id);
	if (g->reg == NULL || id->tick == NULL || event_add(id->tick, &tv) < 0) {
		log_err("cannot create the client registry");
		goto fail;
	}
	registry_set_admitted(g->reg, ident_admitted, g);
	if (ident_conf_check(c, err, sizeof(err)) < 0) {
		log_err("interface %s", err);
		goto fail;
	}
	if (c->interface[0] != '\0') {
		id->ifindex = (int)if_nametoindex(c->interface);
		id->link = (uint32_t)id->ifindex;
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

/* A lookup miss: ask the kernel for its entry of ip (the router resolved
 * the client to answer its SYN, so a connected client has one) and learn
 * it. One non-blocking request and its already-queued answer: no dump,
 * no wait on the loop. False when there is nothing to learn. */
static bool
ident_kernel_lookup(struct ident *id, uint32_t link, const struct wk_ip *ip, uint64_t now)
{
	struct neigh_entry e;
	int rc;

	if (id->nlfd < 0 || !neigh_limit_take(&id->limit, now))
		return false;
	rc = neigh_get(id->nlfd, (int)link, ip, &e);
	if (rc < 0 && errno == EOPNOTSUPP) {
		log_warn("kernel has no single-entry neighbour lookups (Linux < 4.20); "
		    "lookup misses fail closed");
		(void)close(id->nlfd);	/* read-only socket: nothing is lost */
		id->nlfd = -1;
	}
	if (rc <= 0)
		return false;
	ident_learn(id, &e.ip, &e.mac, REGISTRY_FROM_KERNEL);
	return true;
}

/* The per-request identity: the client's MAC and whether its address is
 * in conflict. A miss asks the kernel for that one entry, rate-limited. */
void
ident_identify(struct gate *g, struct policy_in *in)
{
	struct client_ident ci;
	uint64_t now = clock_mono_ms();
	uint32_t link = g->ident->link;
	bool found = registry_lookup_ip(g->reg, link, &in->client, now, &ci);

	if (!found && ident_kernel_lookup(g->ident, link, &in->client, now))
		found = registry_lookup_ip(g->reg, link, &in->client, now, &ci);
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

/* The client bound to ip on any LAN interface (wicketctl show IP). */
bool
ident_lookup_ip(struct gate *g, const struct wk_ip *ip, uint64_t now,
    struct client_ident *out)
{
	if (g->reg == NULL || g->ident == NULL)
		return false;
	return registry_lookup_ip(g->reg, g->ident->link, ip, now, out);
}

/* A MAC's admission changed (grant.c: admitted, or its session ended):
 * pin or unpin its registry record to match. */
void
ident_admission_changed(struct gate *g, const struct wk_mac *mac)
{
	if (g->reg != NULL)
		registry_pin(g->reg, mac, ident_admitted(mac, g));
}

/* Stop the sniffer and free the registry. */
void
ident_stop(struct gate *g)
{
	struct ident *id = g->ident;

	if (id) {
		if (id->sniff)
			sniff_close(id->sniff);
		if (id->tick)
			event_free(id->tick);
		if (id->nlfd >= 0)
			(void)close(id->nlfd);	/* read-only socket */
		free(id);
	}
	if (g->reg)
		registry_free(g->reg);
	g->ident = NULL;
	g->reg = NULL;
	g->identify = NULL;
}
