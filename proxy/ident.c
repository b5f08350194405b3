/* ident: who a client is. Ties the ARP/NDP sniffer, the kernel neighbour
 * table and the registry together, tells the registry which MACs are
 * admitted, writes identity audit events, and answers the per-request
 * lookup in O(1) without waiting on the request path (a lookup miss asks
 * the kernel for that one neighbour entry, rate-limited, never waiting). */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

#define NO_LINK UINT32_MAX /* a connection from none of our interfaces */

struct ident;

/* One LAN interface: its sniffer; its ifindex is the registry link of
 * what is learned on it, so the same IP on two interfaces is two
 * bindings. */
struct ident_if {
	struct ident *id;
	char name[CONF_IFNAME];
	int ifindex;
	struct sniff *sniff;
};

struct ident {
	struct gate *g;
	struct ident_if ifs[CONF_MAX_IFACES];
	size_t nifs;    /* 0: no sniffer, everything on link 0 */
	struct event *tick;
	struct neigh_limit limit;
	int nlfd;       /* rtnetlink socket for single-entry lookups, or -1 */
};

/* The configured interface with this ifindex, or NULL. */
static const struct ident_if *
ident_if_of(const struct ident *id, int ifindex)
{
	for (size_t i = 0; i < id->nifs; i++)
		if (id->ifs[i].ifindex == ifindex)
			return &id->ifs[i];
	return NULL;
}

/* The registry link of a kernel entry or connection on ifindex: 0
 * without interfaces; the interface itself when it is one of ours (or
 * the only one, for a socket that cannot tell); else NO_LINK. */
static uint32_t
ident_link_of(const struct ident *id, int ifindex)
{
	if (id->nifs == 0)
		return 0;
	if (ident_if_of(id, ifindex) != NULL)
		return (uint32_t)ifindex;
	if (ifindex == 0 && id->nifs == 1)
		return (uint32_t)id->ifs[0].ifindex;
	return NO_LINK;
}

/* Write an identity audit event: an address, its interface and the MACs
 * involved. */
static void
ident_audit(const struct ident *id, uint32_t link, const char *event,
    const struct wk_ip *ip, const struct wk_mac *mac, const char *other_key,
    const struct wk_mac *other, const struct wk_ip *other_ip)
{
	char line[AUDIT_LINE_MAX], ips[WK_IP_STRLEN], m[WK_MAC_STRLEN];
	const struct ident_if *ifp = ident_if_of(id, (int)link);
	struct jsonw j;

	audit_begin(&j, line, sizeof(line), clock_wall_ms(), event);
	addr_ip_format(ip, ips);
	jsonw_str(&j, "ip", ips);
	jsonw_str(&j, "interface", ifp != NULL ? ifp->name : NULL);
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
			ident_audit(id, ev->link, "arp_conflict", &ev->ip, &ev->mac, NULL, NULL,
			    &ev->old_ip);
		} else {
			log_warn("arp conflict on %s", ips);
			ident_audit(id, ev->link, "arp_conflict", &ev->ip, &ev->mac, "other_mac",
			    &ev->other, NULL);
		}
	}
	if (ev->flags & REGISTRY_EV_MOVED)
		ident_audit(id, ev->link, "client_moved", &ev->ip, &ev->mac, NULL, NULL,
		    &ev->old_ip);
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
ident_learn(struct ident *id, uint32_t link, const struct wk_ip *ip,
    const struct wk_mac *mac, enum registry_origin origin)
{
	struct registry_claim cl = { .link = link, .ip = *ip, .mac = *mac,
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
	struct ident_if *ifp = arg;
	struct ident *id = ifp->id;
	uint32_t link = (uint32_t)ifp->ifindex;

	if (!registry_source_take(id->g->reg, link, &b->eth_src, clock_mono_ms()))
		return;
	if (b->flags & ARPFRAME_F_MISMATCH) {
		ident_audit(id, link, "arp_mismatch", &b->ip, &b->mac, "eth_src",
		    &b->eth_src, NULL);
		return;
	}
	ident_learn(id, link, &b->ip, &b->mac, REGISTRY_FROM_FRAME);
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
	int n = neigh_dump(id->nifs == 1 ? id->ifs[0].ifindex : 0, ident_on_neigh, &b);

	if (n >= 0 && b.n > 0) {
		qsort(b.it, b.n, sizeof(b.it[0]), ident_owner_cmp);
		for (size_t i = 1; i < b.n; i++)
			b.it[i].skip = b.it[i].e.ip.family == AF_INET &&
			    b.it[i - 1].e.ip.family == AF_INET &&
			    b.it[i].e.ifindex == b.it[i - 1].e.ifindex &&
			    addr_mac_equal(&b.it[i].e.mac, &b.it[i - 1].e.mac);
		qsort(b.it, b.n, sizeof(b.it[0]), ident_age_cmp);
		for (size_t i = 0; i < b.n; i++) {
			uint32_t link = ident_link_of(id, b.it[i].e.ifindex);
			if (!b.it[i].skip && link != NO_LINK)
				ident_learn(id, link, &b.it[i].e.ip, &b.it[i].e.mac,
				    REGISTRY_FROM_KERNEL);
		}
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

/* Every configured interface exists (what ident_start needs before it
 * opens the sniffers; `wicketd -n` checks the same). 0, or -1 with a
 * reason in err. */
int
ident_conf_check(const struct wk_conf *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n_interface; i++) {
		if (if_nametoindex(c->interface[i]) == 0) {
			snprintf(err, errlen, "%s: no such interface", c->interface[i]);
			return -1;
		}
	}
	return 0;
}

/* The sniffers' counters for `wicketctl stats`, summed over the LAN
 * interfaces (capturing: how many capture now); false without a sniffer
 * (no interface). A small accessor for control.c. */
bool
ident_sniff_stats(struct gate *g, struct sniff_stats *out)
{
	struct sniff_stats one;

	if (g->ident == NULL || g->ident->nifs == 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->inbound_only = 1;
	for (size_t i = 0; i < g->ident->nifs; i++) {
		sniff_get_stats(g->ident->ifs[i].sniff, &one);
		out->seen += one.seen;
		out->learned += one.learned;
		out->ignored += one.ignored;
		out->malformed += one.malformed;
		out->mismatch += one.mismatch;
		out->snapped += one.snapped;
		out->errors += one.errors;
		out->reopens += one.reopens;
		out->kernel_drops += one.kernel_drops;
		out->capturing += one.capturing;
		out->inbound_only &= one.inbound_only;
	}
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
	for (size_t i = 0; i < c->n_interface; i++) {
		struct ident_if *ifp = &id->ifs[id->nifs++];

		ifp->id = id;
		snprintf(ifp->name, sizeof(ifp->name), "%s", c->interface[i]);
		ifp->ifindex = (int)if_nametoindex(c->interface[i]);
		ifp->sniff = sniff_open(g->base, ifp->name, ident_on_frame, ifp, err,
		    sizeof(err));
		if (ifp->sniff == NULL) {
			log_err("sniffer on %s: %s", ifp->name, err);
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
	ident_learn(id, link, &e.ip, &e.mac, REGISTRY_FROM_KERNEL);
	return true;
}

/* The per-request identity: the client's MAC and whether its address is
 * in conflict. A miss asks the kernel for that one entry, rate-limited. */
void
ident_identify(struct gate *g, struct policy_in *in)
{
	struct client_ident ci;
	uint64_t now = clock_mono_ms();
	uint32_t link = ident_link_of(g->ident, in->ifindex);
	bool found = link != NO_LINK &&
	    registry_lookup_ip(g->reg, link, &in->client, now, &ci);

	if (!found && link != NO_LINK && ident_kernel_lookup(g->ident, link, &in->client, now))
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

/* The client bound to ip on the first LAN interface that has it
 * (wicketctl show IP, per-address counters). */
bool
ident_lookup_ip(struct gate *g, const struct wk_ip *ip, uint64_t now,
    struct client_ident *out)
{
	const struct ident *id = g->ident;

	if (g->reg == NULL || id == NULL)
		return false;
	if (id->nifs == 0)
		return registry_lookup_ip(g->reg, 0, ip, now, out);
	for (size_t i = 0; i < id->nifs; i++)
		if (registry_lookup_ip(g->reg, (uint32_t)id->ifs[i].ifindex, ip, now, out))
			return true;
	return false;
}

/* The client bound to ip on the interface a connection came in on
 * (ifindex from ident_accepted); false when unknown there. */
bool
ident_lookup_ip_on(struct gate *g, int ifindex, const struct wk_ip *ip, uint64_t now,
    struct client_ident *out)
{
	uint32_t link;

	if (g->reg == NULL || g->ident == NULL)
		return false;
	link = ident_link_of(g->ident, ifindex);
	return link != NO_LINK && registry_lookup_ip(g->reg, link, ip, now, out);
}

/* The name of LAN interface ifindex, or NULL. */
const char *
ident_ifname(struct gate *g, int ifindex)
{
	const struct ident_if *ifp;

	if (g->ident == NULL)
		return NULL;
	ifp = ident_if_of(g->ident, ifindex);
	if (ifp == NULL && ifindex == 0 && g->ident->nifs == 1)
		ifp = &g->ident->ifs[0];
	return ifp != NULL ? ifp->name : NULL;
}

/* The local address a pktinfo record names (IP_PKTOPTIONS: the
 * socket's own bound address; IPV6_2292PKTOPTIONS: the destination of
 * the segment it kept), with the listener's port, into local; false when
 * it names none (an IPv6 socket that kept no segment reports a sticky
 * or the peer's address, which is not ours). */
static bool
ident_pktinfo_local(const struct cmsghdr *cm, const struct sockaddr *peer,
    uint16_t port, union wk_sockaddr *local, int *ifindex)
{
	memset(local, 0, sizeof(*local));
	if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
	    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
		struct in_pktinfo pi;
		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		*ifindex = pi.ipi_ifindex;
		local->sin.sin_family = AF_INET;
		local->sin.sin_addr = pi.ipi_addr;
		local->sin.sin_port = htons(port);
		return peer->sa_family == AF_INET && pi.ipi_addr.s_addr != INADDR_ANY;
	}
	if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
	    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
		const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)(const void *)peer;
		struct in6_pktinfo pi;
		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		*ifindex = (int)pi.ipi6_ifindex;
		local->sin6.sin6_family = AF_INET6;
		local->sin6.sin6_addr = pi.ipi6_addr;
		local->sin6.sin6_port = htons(port);
		if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			local->sin6.sin6_scope_id = pi.ipi6_ifindex;
		return peer->sa_family == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED(&pi.ipi6_addr) &&
		    !IN6_IS_ADDR_V4MAPPED(&pi.ipi6_addr) &&
		    memcmp(&pi.ipi6_addr, &p6->sin6_addr, sizeof(pi.ipi6_addr)) != 0;
	}
	return false;
}

/* What the kernel's record of an accepted socket says, asked once at
 * accept and handed on (listener.c, tls.c): the interface it came in on
 * and its local address (with `port`, its listener's). The interface:
 * `bound`, the device its listener is bound to (several LAN interfaces,
 * SO_BINDTODEVICE: the accepted socket inherits the binding); none to ask
 * for without interfaces (every connection is on link 0); else the one
 * the kernel kept for IP_PKTOPTIONS (listener_bind asks for it with
 * IP_PKTINFO / IPV6_RECVPKTINFO): the interface of the segment that
 * completed the handshake, whose record also names the local address
 * (IPv4 always), so no getsockname is needed (port 0: the caller does
 * not know its listener's port). Returns the ifindex (0 when nothing
 * says), or -1 when the local address cannot be had. */
int
ident_accepted(struct gate *g, int fd, const struct sockaddr *peer, int bound,
    uint16_t port, union wk_sockaddr *local)
{
	union {
		struct cmsghdr align;
		uint8_t b[256];
	} cbuf;
	socklen_t len = sizeof(cbuf.b), llen = sizeof(*local);
	struct msghdr mh;
	struct cmsghdr *cm;
	int ifindex = bound > 0 ? bound : 0;

	if (bound <= 0 && g->ident != NULL && g->ident->nifs > 0 &&
	    (peer->sa_family == AF_INET6 ?
		getsockopt(fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, cbuf.b, &len) :
		getsockopt(fd, IPPROTO_IP, IP_PKTOPTIONS, cbuf.b, &len)) == 0) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = len;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
			if (ident_pktinfo_local(cm, peer, port, local, &ifindex) && port != 0)
				return ifindex;
	}
	if (getsockname(fd, &local->sa, &llen) != 0)
		return -1;
	return ifindex;
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
		for (size_t i = 0; i < id->nifs; i++)
			sniff_close(id->ifs[i].sniff);
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
