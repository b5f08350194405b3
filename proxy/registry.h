/* registry: the pure client identity table. IP->MAC bindings and MAC->client
 * records with O(1) keyed-hash lookups, a fixed capacity, ageing, and
 * conflict detection (one IP claimed by two MACs). See docs/identity.md. */
#ifndef WK_REGISTRY_H
#define WK_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* Addresses one client (MAC) may hold at once: at most one IPv4, the rest
 * IPv6 (link-local, SLAAC, privacy). A ninth replaces the least recent. */
#define REGISTRY_MAX_ADDRS 8
/* The shared address pool holds this many addresses per client slot. */
#define REGISTRY_ADDRS_PER_CLIENT 4

struct registry;

/* One address of a client, as copied out by the lookups. */
struct registry_addr {
	struct wk_ip ip;
	uint64_t last_seen_ms;		/* last claim of this IP by this MAC */
	bool conflict;			/* a conflict on this IP stands */
	struct wk_mac rival;		/* when conflict: the other claimant */
};

/* A client as copied out by the lookups and the iteration. For
 * registry_lookup_ip, `conflict`/`rival`/`ip_seen_ms` are those of the
 * asked address; otherwise `conflict` is true if any address is in conflict. */
struct client_ident {
	struct wk_mac mac;
	bool randomised;		/* locally administered MAC (U/L bit) */
	bool conflict;
	struct wk_mac rival;
	uint64_t first_seen_ms;		/* first sighting of the MAC */
	uint64_t last_seen_ms;		/* last claim of any address by the MAC */
	uint64_t ip_seen_ms;		/* lookup_ip: last claim of that IP */
	unsigned naddrs;		/* current (not aged) addresses */
	struct registry_addr addrs[REGISTRY_MAX_ADDRS];
};

/* The main outcome of registry_learn, most important first. */
enum registry_kind {
	REGISTRY_REFRESH = 0,	/* known MAC, known IP: timestamps only */
	REGISTRY_NEW,		/* first sighting of this MAC */
	REGISTRY_ADDED,		/* known MAC, an additional (IPv6) address */
	REGISTRY_MOVED,		/* known MAC, its IPv4 address changed (ev.old_ip) */
	REGISTRY_CONFLICT,	/* a conflict on this IP starts (ev.other) */
};

/* Detail flags in struct registry_event.flags; several may be set. */
#define REGISTRY_EV_NEW_CLIENT	0x01u	/* the MAC was not known */
#define REGISTRY_EV_NEW_ADDR	0x02u	/* the IP was not bound to this MAC */
#define REGISTRY_EV_MOVED	0x04u	/* the MAC's previous IPv4 was released */
#define REGISTRY_EV_CONFLICT	0x08u	/* a conflict started on this IP */
#define REGISTRY_EV_IN_CONFLICT	0x10u	/* a conflict stands on this IP after the learn */
#define REGISTRY_EV_TAKEOVER	0x20u	/* the IP was held by ev.other, silent > window */
#define REGISTRY_EV_EVICTED	0x40u	/* ev.evicted (LRU client) was dropped for room */
#define REGISTRY_EV_ADDR_DROPPED 0x80u	/* the MAC's least recent address was dropped */

/* What one registry_learn call changed. */
struct registry_event {
	enum registry_kind kind;
	unsigned flags;			/* REGISTRY_EV_* */
	struct wk_ip ip;		/* the learned address */
	struct wk_mac mac;		/* the learned MAC */
	struct wk_mac other;		/* CONFLICT / IN_CONFLICT: the rival; TAKEOVER: previous holder */
	struct wk_ip old_ip;		/* MOVED: the IPv4 the MAC left */
	struct wk_mac evicted;		/* EVICTED: the client dropped for room */
};

/* Counters, cumulative since registry_new except the first two. */
struct registry_stats {
	unsigned clients;		/* current client records */
	unsigned addrs;			/* current IP bindings */
	unsigned max_clients;
	uint64_t learned;		/* accepted registry_learn calls */
	uint64_t rejected;		/* registry_learn calls with an unusable IP/MAC */
	uint64_t new_clients;
	uint64_t moves;
	uint64_t conflicts;		/* conflicts started */
	uint64_t takeovers;
	uint64_t evictions;		/* clients dropped because the table was full */
	uint64_t expired;		/* clients aged out */
	uint64_t addrs_dropped;		/* addresses dropped for a per-client or pool limit */
};

/* Create a table for at most max_clients MACs (>= 1); bindings age out
 * neighbour_ttl_s seconds (>= 1) after their last claim; two MACs claiming
 * one IP within conflict_window_s seconds is a conflict (0 disables
 * conflict detection). All memory is allocated here. NULL on error. */
struct registry *registry_new(unsigned max_clients, unsigned neighbour_ttl_s,
    unsigned conflict_window_s);
void registry_free(struct registry *reg);

/* Record that `mac` claims `ip` at now_ms (a monotonic clock). Returns the
 * enum registry_kind (>= 0) and fills *ev if ev is not NULL; -1 when the IP
 * (unspecified, multicast, broadcast) or MAC (not unicast) is unusable. */
int registry_learn(struct registry *reg, const struct wk_ip *ip,
    const struct wk_mac *mac, uint64_t now_ms, struct registry_event *ev);

/* The client currently bound to ip. False when unknown or aged out. A true
 * result with out->conflict set means the identity is ambiguous: fail closed. */
bool registry_lookup_ip(struct registry *reg, const struct wk_ip *ip,
    uint64_t now_ms, struct client_ident *out);

/* The client record of mac. False when unknown or aged out. */
bool registry_lookup_mac(struct registry *reg, const struct wk_mac *mac,
    uint64_t now_ms, struct client_ident *out);

/* Forget a MAC and all its addresses; false when it was not known. */
bool registry_forget_mac(struct registry *reg, const struct wk_mac *mac);

/* Drop clients not seen for neighbour_ttl; O(expired). Returns how many. */
unsigned registry_expire(struct registry *reg, uint64_t now_ms);

/* Random-access iteration: copy the next live client at or after slot
 * *cursor into *out and advance *cursor past it. Start with *cursor = 0;
 * false at the end. Safe across learns between calls (paged listing); a
 * client learned meanwhile may or may not be returned. */
bool registry_next(struct registry *reg, unsigned *cursor, uint64_t now_ms,
    struct client_ident *out);

/* Call cb for every live client; a non-zero return from cb stops the walk
 * and is returned. cb must not modify the registry. */
typedef int (*registry_cb)(const struct client_ident *c, void *arg);
int registry_foreach(struct registry *reg, uint64_t now_ms, registry_cb cb, void *arg);

void registry_stats(const struct registry *reg, struct registry_stats *out);

/* A short name for a kind ("new", "moved", ...). */
const char *registry_kind_name(enum registry_kind kind);

#endif
