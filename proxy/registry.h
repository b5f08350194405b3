/* registry: the pure client identity table. IP->MAC bindings and MAC->client
 * records with O(1) keyed-hash lookups, a fixed capacity, ageing, and
 * conflict detection (one IP claimed by two MACs), admission-aware eviction
 * and per-source learning limits. See docs/identity.md. */
#ifndef WK_REGISTRY_H
#define WK_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Addresses one client (MAC) may hold at once: at most one IPv4, the rest
 * IPv6 (link-local, SLAAC, privacy). A ninth replaces the least recent. */
#define REGISTRY_MAX_ADDRS 8
/* The shared address pool holds this many addresses per client slot. */
#define REGISTRY_ADDRS_PER_CLIENT 4

struct registry;

/* What registry_new needs. Rates are per second; 0 turns a limit off. */
struct registry_conf {
	unsigned max_clients;		/* client records (>= 1) */
	unsigned neighbour_ttl_s;	/* a binding lives this long after its last claim (>= 1) */
	unsigned conflict_window_s;	/* two MACs on one IP within this is a conflict (0: off) */
	unsigned learn_rate;		/* frames one source (link, Ethernet source) may teach */
	unsigned learn_new_rate;	/* new clients one link may gain from frames */
};

/* One address of a client, as copied out by the lookups. */
struct registry_addr {
	struct wk_ip ip;
	uint32_t link;			/* the LAN interface it was claimed on */
	uint64_t last_seen_ms;		/* last claim of this IP by this MAC */
	bool conflict;			/* a conflict on this IP stands */
	struct wk_mac rival;		/* when conflict: the other claimant */
};

/* A client as copied out by the lookups and the iteration. For
 * registry_lookup_ip, `conflict`/`rival`/`ip_seen_ms`/`held` are those of
 * the asked address; otherwise `conflict` is true if any address is in
 * conflict. addrs[] lists current addresses, never held ones. */
struct client_ident {
	struct wk_mac mac;
	bool randomised;		/* locally administered MAC (U/L bit) */
	bool pinned;			/* admitted: never evicted for a stranger */
	bool conflict;
	bool held;			/* lookup_ip: an admitted client's unconfirmed move */
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

/* Negative results of registry_learn: nothing was stored. */
#define REGISTRY_UNUSABLE	(-1)	/* unspecified/multicast IP, non-unicast MAC */
#define REGISTRY_FULL		(-2)	/* no room without evicting an admitted client */
#define REGISTRY_LIMITED	(-3)	/* over the link's new-client rate */

/* Detail flags in struct registry_event.flags; several may be set. */
#define REGISTRY_EV_NEW_CLIENT	0x01u	/* the MAC was not known */
#define REGISTRY_EV_NEW_ADDR	0x02u	/* the IP was not bound to this MAC */
#define REGISTRY_EV_MOVED	0x04u	/* the MAC's previous IPv4 was released */
#define REGISTRY_EV_CONFLICT	0x08u	/* a conflict started on this IP */
#define REGISTRY_EV_IN_CONFLICT	0x10u	/* a conflict stands on this IP after the learn */
#define REGISTRY_EV_TAKEOVER	0x20u	/* the IP was held by ev.other, silent > window */
#define REGISTRY_EV_EVICTED	0x40u	/* ev.evicted (LRU client) was dropped for room */
#define REGISTRY_EV_ADDR_DROPPED 0x80u	/* the MAC's least recent address was dropped */
#define REGISTRY_EV_HELD	0x100u	/* an admitted client's move to ip is held (ev.old_ip) */

/* What one registry_learn call changed. */
struct registry_event {
	enum registry_kind kind;
	unsigned flags;			/* REGISTRY_EV_* */
	uint32_t link;			/* where the claim was seen */
	struct wk_ip ip;		/* the learned address */
	struct wk_mac mac;		/* the learned MAC */
	struct wk_mac other;		/* CONFLICT / IN_CONFLICT: the rival; TAKEOVER: previous holder */
	struct wk_ip old_ip;		/* MOVED / HELD: the IPv4 the MAC leaves */
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
	uint64_t conflicts;		/* conflicts started (held moves included) */
	uint64_t takeovers;
	uint64_t evictions;		/* clients dropped because the table was full */
	uint64_t expired;		/* clients aged out */
	uint64_t addrs_dropped;		/* addresses dropped for a per-client or pool limit */
	uint64_t refused;		/* sightings refused: no room but admitted clients */
	uint64_t rate_limited;		/* frames over their source's or link's rate */
	uint64_t pinned;		/* current admitted (pinned) client records */
	uint64_t held;			/* moves of admitted clients held, then confirmed or not */
};

/* Where a claim comes from: frames are rate-limited, kernel entries not. */
enum registry_origin { REGISTRY_FROM_FRAME, REGISTRY_FROM_KERNEL };

/* One claim "mac has ip on link". */
struct registry_claim {
	uint32_t link;			/* LAN interface (ifindex), 0 with a single LAN */
	struct wk_ip ip;
	struct wk_mac mac;
	enum registry_origin origin;
};

/* Create a table (see struct registry_conf). All memory is allocated
 * here. NULL on error. */
struct registry *registry_new(const struct registry_conf *rc);
void registry_free(struct registry *reg);

/* Record a claim at now_ms (a monotonic clock). Returns the enum
 * registry_kind (>= 0) and fills *ev if ev is not NULL, or one of the
 * negative REGISTRY_UNUSABLE / _FULL / _LIMITED (nothing stored). */
int registry_learn(struct registry *reg, const struct registry_claim *cl,
    uint64_t now_ms, struct registry_event *ev);

/* Charge one frame from Ethernet source src on link to its source's
 * token bucket; false (and counted in rate_limited) when it is over
 * learn_rate. Frames are charged before they are parsed into claims, so a
 * chatty or spoofing station cannot flood the table or the audit log.
 * State is a fixed table: a busy source keeps its slot. */
bool registry_source_take(struct registry *reg, uint32_t link,
    const struct wk_mac *src, uint64_t now_ms);

/* Whether a MAC is admitted (has a live session or is trusted): asked
 * when a client record is created and before an eviction, so admission
 * decided elsewhere is never lost. NULL: only registry_pin counts. */
typedef bool (*registry_admitted_fn)(const struct wk_mac *mac, void *arg);
void registry_set_admitted(struct registry *reg, registry_admitted_fn fn, void *arg);

/* Mark a client admitted (pinned: never evicted for a stranger, its
 * bindings only change when seen consistently) or not. False when the MAC
 * has no record (it is asked about when it is first seen). */
bool registry_pin(struct registry *reg, const struct wk_mac *mac, bool pinned);

/* Re-ask registry_admitted_fn about up to budget client slots, resuming
 * where the last call stopped, and fix pins that went stale (a session
 * that ended without registry_pin). Returns how many changed. */
unsigned registry_pin_sweep(struct registry *reg, unsigned budget);

/* The client currently bound to ip on link. False when unknown or aged
 * out. A true result with out->conflict set means the identity is
 * ambiguous: fail closed. */
bool registry_lookup_ip(struct registry *reg, uint32_t link, const struct wk_ip *ip,
    uint64_t now_ms, struct client_ident *out);

/* The client record of mac. False when unknown or aged out. */
bool registry_lookup_mac(struct registry *reg, const struct wk_mac *mac,
    uint64_t now_ms, struct client_ident *out);

/* Forget a MAC and all its addresses; false when it was not known. */
bool registry_forget_mac(struct registry *reg, const struct wk_mac *mac);

/* Drop clients not seen for neighbour_ttl, O(expired), and settle held
 * moves whose old address has been quiet for a window, O(held): each
 * settled move is reported to cb (may be NULL) as a REGISTRY_MOVED event.
 * Returns how many clients were dropped. */
typedef void (*registry_event_cb)(const struct registry_event *ev, void *arg);
unsigned registry_expire(struct registry *reg, uint64_t now_ms,
    registry_event_cb cb, void *arg);

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

/* SipHash-2-4 of in[0..len) under key, and a random key for it: the hash
 * of every table keyed by client-chosen addresses (limiter.c uses it too). */
uint64_t registry_hash(const uint8_t key[16], const uint8_t *in, size_t len);
void registry_hash_key(uint8_t key[16]);

/* A short name for a kind ("new", "moved", ...). */
const char *registry_kind_name(enum registry_kind kind);

#endif
