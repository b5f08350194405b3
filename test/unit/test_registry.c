/* test_registry: table tests of the pure client registry. Each scenario is
 * a script of learns, lookups, expiries and counter checks at given times:
 * learn, move, conflict (within/outside the window, extension, clearing),
 * ageing, capacity and eviction, several IPv6 per MAC, randomised MACs,
 * admission-aware eviction and refusal, held moves and contested
 * addresses of admitted clients, links, and the learning rate limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry.h"

enum op {
	END = 0,
	LEARN,		/* ip mac at t: want kind (or -1), flags all set, noflags none set */
	LOOKUP_IP,	/* ip at t: want mac (NULL: not found), conflict, rival */
	LOOKUP_MAC,	/* mac at t: want found (n = naddrs, or -1 not found), randomised */
	EXPIRE,		/* at t: want n removed */
	STAT_CLIENTS,	/* want n */
	STAT_ADDRS,
	STAT_EVICTIONS,
	STAT_CONFLICTS,
	STAT_MOVES,
	STAT_TAKEOVERS,
	FORGET,		/* mac: want n (1 known, 0 not) */
	COUNT,		/* at t: registry_foreach sees n clients */
	STAT_REFUSED,
	STAT_LIMITED,
	STAT_PINNED,
	STAT_HELD,
	STAT_NEW,
	PIN,		/* registry_pin(mac, want) must find the MAC */
	PINNED,		/* mac at t: want its pinned flag (0/1) */
	ADMIT,		/* the admission callback says yes for mac from now on */
	UNADMIT,	/* ... and no */
	SWEEP,		/* registry_pin_sweep(all): want n changed */
	SRC,		/* registry_source_take(link, mac, t): want 0/1 */
};

/* One step of a scenario. */
struct step {
	enum op op;
	uint64_t t;
	const char *ip;
	const char *mac;
	int want;		/* kind, count, or found */
	unsigned flags;		/* LEARN: must be set */
	unsigned noflags;	/* LEARN: must be clear */
	const char *other;	/* LEARN: ev.other; LOOKUP_IP: want mac */
	int conflict;		/* LOOKUP_IP: conflict; LOOKUP_MAC: randomised */
	const char *rival;	/* LOOKUP_IP: rival when in conflict */
	uint32_t link;		/* LEARN, LOOKUP_IP, SRC */
	int frame;		/* LEARN: from a frame (rate-limited) */
	const char *old;	/* LEARN: ev.old_ip */
	int held;		/* LOOKUP_IP: want held */
	int settled;		/* EXPIRE: want n held moves settled */
};

struct scenario {
	const char *name;
	unsigned max_clients;
	unsigned ttl_s;
	unsigned window_s;
	struct step steps[28];
	unsigned src_rate, new_rate;	/* learn_rate, learn_new_rate (0: off) */
};

#define A "00:11:22:33:44:0a"
#define B "00:11:22:33:44:0b"
#define C "00:11:22:33:44:0c"
#define D "00:11:22:33:44:0d"
#define E "00:11:22:33:44:1e"
#define F "00:11:22:33:44:1f"
#define RND "02:11:22:33:44:0e"

#define L(t_, ip_, mac_, kind_, ...) { .op = LEARN, .t = (t_), .ip = (ip_), .mac = (mac_), .want = (kind_), __VA_ARGS__ }
#define IP(t_, ip_, mac_, conf_, ...) { .op = LOOKUP_IP, .t = (t_), .ip = (ip_), .other = (mac_), .conflict = (conf_), __VA_ARGS__ }
#define MAC(t_, mac_, n_, ...) { .op = LOOKUP_MAC, .t = (t_), .mac = (mac_), .want = (n_), __VA_ARGS__ }
#define ST(op_, n_) { .op = (op_), .want = (n_) }
#define MACOP(op_, t_, mac_, n_) { .op = (op_), .t = (t_), .mac = (mac_), .want = (n_) }
#define HELD 1

static const struct scenario scenarios[] = {
	{ .name = "learn and refresh", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW, .flags = REGISTRY_EV_NEW_CLIENT | REGISTRY_EV_NEW_ADDR),
		L(500, "10.0.0.5", A, REGISTRY_REFRESH, .noflags = ~0u),
		IP(600, "10.0.0.5", A, 0),
		IP(600, "10.0.0.6", NULL, 0),
		IP(600, "2001:db8::5", NULL, 0),
		MAC(600, A, 1, .conflict = 0),
		MAC(600, B, -1),
		ST(STAT_CLIENTS, 1), ST(STAT_ADDRS, 1),
	} },
	{ .name = "unusable addresses are rejected", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "0.0.0.0", A, -1),
		L(0, "255.255.255.255", A, -1),
		L(0, "224.0.0.251", A, -1),
		L(0, "::", A, -1),
		L(0, "ff02::1", A, -1),
		L(0, "10.0.0.5", "01:00:5e:00:00:01", -1),
		L(0, "10.0.0.5", "00:00:00:00:00:00", -1),
		L(0, "10.0.0.5", "ff:ff:ff:ff:ff:ff", -1),
		ST(STAT_CLIENTS, 0), ST(STAT_ADDRS, 0),
	} },
	{ .name = "ipv4 move keeps the client, releases the old address", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.6", A, REGISTRY_MOVED, .flags = REGISTRY_EV_MOVED | REGISTRY_EV_NEW_ADDR),
		IP(1000, "10.0.0.5", NULL, 0),
		IP(1000, "10.0.0.6", A, 0),
		MAC(1000, A, 1),
		/* DHCP hands the released address to another client at once. */
		L(2000, "10.0.0.5", B, REGISTRY_NEW, .noflags = REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT | REGISTRY_EV_TAKEOVER),
		IP(2000, "10.0.0.5", B, 0),
		ST(STAT_MOVES, 1), ST(STAT_CONFLICTS, 0),
	} },
	{ .name = "conflict within the window, cleared after it", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.7", B, REGISTRY_NEW),
		L(2000, "10.0.0.5", B, REGISTRY_CONFLICT, .flags = REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT | REGISTRY_EV_MOVED, .other = A),
		IP(2000, "10.0.0.5", B, 1, .rival = A),
		IP(11999, "10.0.0.5", B, 1, .rival = A),
		IP(12000, "10.0.0.5", B, 0),
		MAC(3000, A, 0),	/* A lost the address to the last claimer */
		ST(STAT_CONFLICTS, 1),
	} },
	{ .name = "claim outside the window is a takeover", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(10000, "10.0.0.5", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT, .other = A),
		IP(10000, "10.0.0.5", B, 0),
		MAC(10000, A, 0),
		ST(STAT_CONFLICTS, 0), ST(STAT_TAKEOVERS, 1),
	} },
	{ .name = "window edge: 9999 ms is a conflict", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(9999, "10.0.0.5", B, REGISTRY_CONFLICT),
	} },
	{ .name = "victim answers back: conflict extended, one event", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),
		L(5000, "10.0.0.5", A, REGISTRY_ADDED, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_CONFLICT, .other = B),
		IP(5000, "10.0.0.5", A, 1, .rival = B),
		IP(14999, "10.0.0.5", A, 1),
		IP(15000, "10.0.0.5", A, 0),
		ST(STAT_CONFLICTS, 1),
	} },
	{ .name = "conflict ends while only one claimant remains", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT),
		L(6000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),	/* A still within 10 s: extends to 16000 */
		L(12000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),	/* A silent for 12 s: no extension */
		IP(15999, "10.0.0.5", B, 1),
		IP(16000, "10.0.0.5", B, 0),
		L(16000, "10.0.0.5", B, REGISTRY_REFRESH, .noflags = ~0u),
	} },
	{ .name = "a new conflict after the old one cleared is reported", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT),
		L(30000, "10.0.0.5", A, REGISTRY_ADDED, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_IN_CONFLICT),
		L(31000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),
		ST(STAT_CONFLICTS, 2),
	} },
	{ .name = "a third mac joins a standing conflict", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT),
		L(2000, "10.0.0.5", C, REGISTRY_NEW, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_CONFLICT, .other = B),
		IP(2000, "10.0.0.5", C, 1, .rival = B),
		ST(STAT_CONFLICTS, 1), ST(STAT_CLIENTS, 3),
	} },
	{ .name = "window 0 disables conflicts", .max_clients = 16, .ttl_s = 60, .window_s = 0, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1, "10.0.0.5", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_IN_CONFLICT),
		IP(1, "10.0.0.5", B, 0),
	} },
	{ .name = "ipv6 conflict", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "2001:db8::5", A, REGISTRY_NEW),
		L(100, "2001:db8::5", B, REGISTRY_CONFLICT, .other = A),
		IP(100, "2001:db8::5", B, 1, .rival = A),
	} },
	{ .name = "bindings age out after the ttl", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		IP(59999, "10.0.0.5", A, 0),
		IP(60000, "10.0.0.5", NULL, 0),
		MAC(60000, A, -1),
		{ .op = EXPIRE, .t = 59999, .want = 0 },
		{ .op = EXPIRE, .t = 60000, .want = 1 },
		ST(STAT_CLIENTS, 0), ST(STAT_ADDRS, 0),
	} },
	{ .name = "expiry takes the oldest clients only", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(30000, "10.0.0.6", B, REGISTRY_NEW),
		L(40000, "2001:db8::6", B, REGISTRY_ADDED),
		{ .op = EXPIRE, .t = 60000, .want = 1 },
		IP(60000, "10.0.0.6", B, 0),
		{ .op = COUNT, .t = 60000, .want = 1 },
		{ .op = EXPIRE, .t = 89999, .want = 0 },
		IP(89999, "10.0.0.6", B, 0),
		IP(90000, "10.0.0.6", NULL, 0),	/* aged even before expire runs */
		IP(90000, "2001:db8::6", B, 0),	/* its IPv6 was seen later */
		{ .op = EXPIRE, .t = 100000, .want = 1 },
		ST(STAT_CLIENTS, 0), ST(STAT_ADDRS, 0),
	} },
	{ .name = "a stale client returning starts over", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(70000, "10.0.0.5", A, REGISTRY_NEW, .noflags = REGISTRY_EV_MOVED | REGISTRY_EV_TAKEOVER),
		IP(70000, "10.0.0.5", A, 0),
		ST(STAT_CLIENTS, 1), ST(STAT_ADDRS, 1),
	} },
	{ .name = "stale address of a live client is replaced, not a conflict", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "2001:db8::5", A, REGISTRY_NEW),
		L(50000, "10.0.0.9", A, REGISTRY_ADDED),
		L(65000, "2001:db8::5", B, REGISTRY_NEW, .noflags = REGISTRY_EV_CONFLICT | REGISTRY_EV_TAKEOVER),
		MAC(65000, A, 1),
	} },
	{ .name = "capacity: the least recently seen client is evicted", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(1, "10.0.0.2", B, REGISTRY_NEW),
		L(2, "10.0.0.1", A, REGISTRY_REFRESH),
		L(3, "10.0.0.3", C, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED, .other = NULL),
		IP(3, "10.0.0.2", NULL, 0),
		IP(3, "10.0.0.1", A, 0),
		IP(3, "10.0.0.3", C, 0),
		L(4, "10.0.0.4", D, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(4, "10.0.0.1", NULL, 0),
		ST(STAT_CLIENTS, 2), ST(STAT_EVICTIONS, 2), ST(STAT_ADDRS, 2),
	} },
	{ .name = "several ipv6 and one ipv4 per mac", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "fe80::211:22ff:fe33:440a", A, REGISTRY_NEW),
		L(1, "2001:db8::a", A, REGISTRY_ADDED, .flags = REGISTRY_EV_NEW_ADDR),
		L(2, "2001:db8::b", A, REGISTRY_ADDED),
		L(3, "10.0.0.10", A, REGISTRY_ADDED),
		MAC(4, A, 4),
		IP(4, "fe80::211:22ff:fe33:440a", A, 0),
		IP(4, "2001:db8::b", A, 0),
		L(5, "10.0.0.11", A, REGISTRY_MOVED),
		MAC(5, A, 4),
		IP(5, "10.0.0.10", NULL, 0),
		IP(5, "2001:db8::a", A, 0),
		ST(STAT_ADDRS, 4), ST(STAT_CLIENTS, 1),
	} },
	{ .name = "per-mac address cap drops the least recent", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "2001:db8::1", A, REGISTRY_NEW),
		L(1, "2001:db8::2", A, REGISTRY_ADDED),
		L(2, "2001:db8::3", A, REGISTRY_ADDED),
		L(3, "2001:db8::4", A, REGISTRY_ADDED),
		L(4, "2001:db8::5", A, REGISTRY_ADDED),
		L(5, "2001:db8::6", A, REGISTRY_ADDED),
		L(6, "2001:db8::7", A, REGISTRY_ADDED),
		L(7, "2001:db8::1", A, REGISTRY_REFRESH),
		L(8, "2001:db8::8", A, REGISTRY_ADDED, .noflags = REGISTRY_EV_ADDR_DROPPED),
		L(9, "2001:db8::9", A, REGISTRY_ADDED, .flags = REGISTRY_EV_ADDR_DROPPED),
		IP(9, "2001:db8::2", NULL, 0),
		IP(9, "2001:db8::1", A, 0),
		MAC(9, A, REGISTRY_MAX_ADDRS),
	} },
	{ .name = "address pool full: evicts another client, not the learner", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "2001:db8::1", A, REGISTRY_NEW),
		L(1, "2001:db8::2", A, REGISTRY_ADDED),
		L(2, "2001:db8::3", A, REGISTRY_ADDED),
		L(3, "2001:db8::4", A, REGISTRY_ADDED),
		L(4, "2001:db8::5", A, REGISTRY_ADDED),
		L(5, "2001:db8::6", A, REGISTRY_ADDED),
		L(6, "2001:db8::7", A, REGISTRY_ADDED),
		L(7, "2001:db8::8", A, REGISTRY_ADDED),
		L(8, "10.0.0.2", B, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(8, "10.0.0.2", B, 0),
		MAC(8, A, -1),
		ST(STAT_ADDRS, 1), ST(STAT_CLIENTS, 1),
	} },
	{ .name = "single client table: cap equals the pool", .max_clients = 1, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "2001:db8::1", A, REGISTRY_NEW),
		L(1, "2001:db8::2", A, REGISTRY_ADDED),
		L(2, "2001:db8::3", A, REGISTRY_ADDED),
		L(3, "2001:db8::4", A, REGISTRY_ADDED),
		L(4, "2001:db8::5", A, REGISTRY_ADDED, .flags = REGISTRY_EV_ADDR_DROPPED),
		L(5, "10.0.0.1", B, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		MAC(5, B, 1),
		ST(STAT_ADDRS, 1),
	} },
	{ .name = "randomised flag", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", RND, REGISTRY_NEW),
		L(0, "10.0.0.6", A, REGISTRY_NEW),
		MAC(1, RND, 1, .conflict = 1),
		MAC(1, A, 1, .conflict = 0),
	} },
	{ .name = "eviction never takes an admitted client", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1, "10.0.0.2", B, REGISTRY_NEW),
		L(2, "10.0.0.3", C, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(2, "10.0.0.1", A, 0),	/* least recently seen, but admitted */
		IP(2, "10.0.0.2", NULL, 0),
		L(3, "10.0.0.4", D, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(3, "10.0.0.3", NULL, 0),
		IP(3, "10.0.0.1", A, 0),
		ST(STAT_EVICTIONS, 2), ST(STAT_PINNED, 1), ST(STAT_REFUSED, 0),
	} },
	{ .name = "a table full of admitted clients refuses new sightings", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(1, "10.0.0.2", B, REGISTRY_NEW),
		MACOP(ADMIT, 1, A, 0), MACOP(ADMIT, 1, B, 0),
		MACOP(PIN, 1, A, 1), MACOP(PIN, 1, B, 1),
		L(2, "10.0.0.3", C, REGISTRY_FULL),
		L(3, "10.0.0.4", D, REGISTRY_FULL),
		IP(3, "10.0.0.3", NULL, 0),
		IP(3, "10.0.0.1", A, 0), IP(3, "10.0.0.2", B, 0),
		L(4, "10.0.0.1", A, REGISTRY_REFRESH),	/* known clients still refresh */
		ST(STAT_REFUSED, 2), ST(STAT_EVICTIONS, 0), ST(STAT_CLIENTS, 2), ST(STAT_NEW, 2),
		/* A's session ends: room again, and A is the one to go. */
		MACOP(UNADMIT, 5, A, 0), MACOP(PIN, 5, A, 0),
		L(6, "10.0.0.3", C, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(6, "10.0.0.1", NULL, 0), IP(6, "10.0.0.2", B, 0),
		ST(STAT_PINNED, 1),
	} },
	{ .name = "admitted before it is seen: pinned at the first sighting", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		MACOP(ADMIT, 0, A, 0),
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		MACOP(PINNED, 0, A, 1),
		L(1, "10.0.0.2", B, REGISTRY_NEW),
		MACOP(PINNED, 1, B, 0),
		L(2, "10.0.0.3", C, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(2, "10.0.0.1", A, 0), IP(2, "10.0.0.2", NULL, 0),
	} },
	{ .name = "a missed pin is caught before the eviction", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(1, "10.0.0.2", B, REGISTRY_NEW),
		MACOP(ADMIT, 1, A, 0),		/* admitted, but nobody called registry_pin */
		L(2, "10.0.0.3", C, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(2, "10.0.0.1", A, 0), IP(2, "10.0.0.2", NULL, 0),
		MACOP(PINNED, 2, A, 1),
	} },
	{ .name = "a stale pin does not refuse a newcomer", .max_clients = 2, .ttl_s = 60, .window_s = 10, .steps = {
		MACOP(ADMIT, 0, A, 0), MACOP(ADMIT, 0, B, 0),
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(1, "10.0.0.2", B, REGISTRY_NEW),
		ST(STAT_PINNED, 2),
		MACOP(UNADMIT, 1, A, 0),	/* the session ended without registry_pin */
		L(2, "10.0.0.3", C, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(2, "10.0.0.1", NULL, 0), IP(2, "10.0.0.2", B, 0),
		L(3, "10.0.0.4", D, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		IP(3, "10.0.0.3", NULL, 0), IP(3, "10.0.0.2", B, 0),
	} },
	{ .name = "the sweep fixes stale and missed pins", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		MACOP(ADMIT, 0, A, 0),
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(0, "10.0.0.2", B, REGISTRY_NEW),
		L(0, "10.0.0.3", C, REGISTRY_NEW),
		MACOP(UNADMIT, 1, A, 0), MACOP(ADMIT, 1, B, 0),
		MACOP(SWEEP, 1, NULL, 2),
		MACOP(PINNED, 1, A, 0), MACOP(PINNED, 1, B, 1), MACOP(PINNED, 1, C, 0),
		MACOP(SWEEP, 1, NULL, 0),
		ST(STAT_PINNED, 1),
	} },
	{ .name = "pins keep both lists in age order for expiry", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(10000, "10.0.0.2", B, REGISTRY_NEW),
		L(20000, "10.0.0.3", C, REGISTRY_NEW),
		MACOP(PIN, 20000, C, 1), MACOP(PIN, 20000, A, 1), MACOP(PIN, 20000, B, 1),
		MACOP(PIN, 20000, B, 0),
		{ .op = EXPIRE, .t = 60000, .want = 1 },	/* A, the oldest pinned */
		MACOP(PINNED, 60000, C, 1),
		{ .op = EXPIRE, .t = 70000, .want = 1 },	/* B, unpinned again */
		{ .op = EXPIRE, .t = 80000, .want = 1 },
		ST(STAT_CLIENTS, 0), ST(STAT_PINNED, 0),
	} },
	{ .name = "forged claim of an admitted client's address: conflict, the binding stays", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT, .flags = REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT,
		  .noflags = REGISTRY_EV_NEW_CLIENT | REGISTRY_EV_TAKEOVER, .other = A),
		IP(1000, "10.0.0.5", A, 1, .rival = B),
		MAC(1000, A, 1),
		MAC(1000, B, -1),		/* the forger got no record */
		L(2000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_CONFLICT),
		IP(11999, "10.0.0.5", A, 1),
		IP(12000, "10.0.0.5", A, 0),	/* the forgery stopped: recovered */
		ST(STAT_CONFLICTS, 1), ST(STAT_TAKEOVERS, 0),
	} },
	{ .name = "the admitted holder answering keeps the conflict standing", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),
		L(5000, "10.0.0.5", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT, .other = B),
		L(14999, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),
		IP(14999, "10.0.0.5", A, 1, .rival = B),
		L(20000, "10.0.0.5", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),
		IP(29999, "10.0.0.5", A, 1),
		IP(30000, "10.0.0.5", A, 0),
		ST(STAT_CONFLICTS, 1),
	} },
	{ .name = "a claimant seen consistently for a window takes a silent holder's address", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(20000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),	/* A silent, but admitted */
		IP(20000, "10.0.0.5", A, 1, .rival = B),
		L(29999, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),
		L(30000, "10.0.0.5", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_IN_CONFLICT, .other = A),
		IP(30000, "10.0.0.5", B, 0),
		MAC(30000, A, 0),
		ST(STAT_TAKEOVERS, 1), ST(STAT_CONFLICTS, 1),
	} },
	{ .name = "a forger against a holder that keeps answering never gets the address", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),
		L(6000, "10.0.0.5", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),
		L(11000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_TAKEOVER),
		L(15000, "10.0.0.5", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),
		L(21000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_TAKEOVER),
		IP(21000, "10.0.0.5", A, 1, .rival = B),
		/* The forgery stops at 21 s; A's answer at 24 s still contradicts it. */
		L(24000, "10.0.0.5", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),
		IP(33999, "10.0.0.5", A, 1),
		IP(34000, "10.0.0.5", A, 0),
		ST(STAT_TAKEOVERS, 0), ST(STAT_CONFLICTS, 1),
	} },
	{ .name = "an admitted holder whose session ended is an ordinary holder again", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(20000, "10.0.0.5", B, REGISTRY_CONFLICT),
		MACOP(PIN, 20000, A, 0),
		L(40000, "10.0.0.5", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .other = A),
		IP(40000, "10.0.0.5", B, 0),
	} },
	{ .name = "a held move of an admitted client commits once the old address is quiet", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.6", A, REGISTRY_CONFLICT, .flags = REGISTRY_EV_HELD | REGISTRY_EV_IN_CONFLICT,
		  .noflags = REGISTRY_EV_MOVED, .old = "10.0.0.5", .other = A),
		IP(1000, "10.0.0.5", A, 0),		/* never silently moved away */
		IP(1000, "10.0.0.6", A, 1, .held = 1),	/* not yet the client's: fails closed */
		MAC(1000, A, 1),
		L(5000, "10.0.0.6", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_HELD | REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_CONFLICT),
		L(10000, "10.0.0.6", A, REGISTRY_MOVED, .flags = REGISTRY_EV_MOVED, .noflags = REGISTRY_EV_HELD | REGISTRY_EV_IN_CONFLICT, .old = "10.0.0.5"),
		IP(10000, "10.0.0.5", NULL, 0),
		IP(10000, "10.0.0.6", A, 0, .held = 0),
		MAC(10000, A, 1),
		ST(STAT_MOVES, 1), ST(STAT_HELD, 1),
	} },
	{ .name = "a held move is settled by expiry, delayed while the old address is claimed", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.6", A, REGISTRY_CONFLICT, .flags = REGISTRY_EV_HELD),
		L(8000, "10.0.0.5", A, REGISTRY_REFRESH, .noflags = REGISTRY_EV_IN_CONFLICT),
		L(12000, "10.0.0.6", A, REGISTRY_REFRESH, .flags = REGISTRY_EV_HELD),
		{ .op = EXPIRE, .t = 17999, .want = 0, .settled = 0 },
		IP(17999, "10.0.0.6", A, 1, .held = 1),
		{ .op = EXPIRE, .t = 18000, .want = 0, .settled = 1 },
		IP(18000, "10.0.0.6", A, 0),
		IP(18000, "10.0.0.5", NULL, 0),
		ST(STAT_MOVES, 1),
	} },
	{ .name = "a newer move replaces a held one; an unadmitted client moves at once", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.6", A, REGISTRY_CONFLICT, .flags = REGISTRY_EV_HELD),
		L(2000, "10.0.0.7", A, REGISTRY_CONFLICT, .flags = REGISTRY_EV_HELD),
		IP(2000, "10.0.0.6", NULL, 0),
		IP(2000, "10.0.0.7", A, 1, .held = 1),
		ST(STAT_ADDRS, 2),
		MACOP(PIN, 3000, A, 0),
		L(3000, "10.0.0.7", A, REGISTRY_MOVED, .old = "10.0.0.5"),
		IP(3000, "10.0.0.5", NULL, 0),
	} },
	{ .name = "another MAC claiming a held address takes it (held moves are not protected)", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1000, "10.0.0.6", A, REGISTRY_CONFLICT, .flags = REGISTRY_EV_HELD),
		L(2000, "10.0.0.6", B, REGISTRY_CONFLICT, .other = A),
		IP(2000, "10.0.0.6", B, 1, .held = 0),
		IP(2000, "10.0.0.5", A, 0),
		{ .op = EXPIRE, .t = 30000, .want = 0, .settled = 0 },
	} },
	{ .name = "an admitted client at its address cap keeps its addresses", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "2001:db8::1", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1, "2001:db8::2", A, REGISTRY_ADDED),
		L(2, "2001:db8::3", A, REGISTRY_ADDED),
		L(3, "2001:db8::4", A, REGISTRY_ADDED),
		L(4, "2001:db8::5", A, REGISTRY_ADDED),
		L(5, "2001:db8::6", A, REGISTRY_ADDED),
		L(6, "2001:db8::7", A, REGISTRY_ADDED),
		L(7, "2001:db8::8", A, REGISTRY_ADDED),
		L(8, "2001:db8::9", A, REGISTRY_FULL),
		IP(8, "2001:db8::1", A, 0),
		IP(8, "2001:db8::9", NULL, 0),
		ST(STAT_REFUSED, 1), ST(STAT_ADDRS, 8),
	} },
	{ .name = "window 0: no protection, every change is a takeover", .max_clients = 16, .ttl_s = 60, .window_s = 0, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		MACOP(PIN, 0, A, 1),
		L(1, "10.0.0.6", A, REGISTRY_MOVED, .noflags = REGISTRY_EV_HELD, .old = "10.0.0.5"),
		L(2, "10.0.0.6", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .other = A),
		IP(2, "10.0.0.6", B, 0),
	} },
	{ .name = "the same IP on two links is two clients", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.5", A, REGISTRY_NEW, .link = 3),
		L(1, "10.0.0.5", B, REGISTRY_NEW, .link = 7, .noflags = REGISTRY_EV_CONFLICT | REGISTRY_EV_TAKEOVER),
		IP(2, "10.0.0.5", A, 0, .link = 3),
		IP(2, "10.0.0.5", B, 0, .link = 7),
		IP(2, "10.0.0.5", NULL, 0, .link = 0),
		L(3, "10.0.0.6", A, REGISTRY_ADDED, .link = 7, .noflags = REGISTRY_EV_MOVED),	/* one IPv4 per link */
		MAC(3, A, 2),
		L(4, "10.0.0.7", A, REGISTRY_MOVED, .link = 7, .old = "10.0.0.6"),
		IP(4, "10.0.0.5", A, 0, .link = 3),
		ST(STAT_CLIENTS, 2), ST(STAT_CONFLICTS, 0),
	} },
	{ .name = "new clients from frames are limited per link", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW, .frame = 1, .link = 1),
		L(0, "10.0.0.2", B, REGISTRY_NEW, .frame = 1, .link = 1),
		L(0, "10.0.0.3", C, REGISTRY_NEW, .frame = 1, .link = 1),
		L(0, "10.0.0.4", D, REGISTRY_NEW, .frame = 1, .link = 1),
		L(0, "10.0.0.5", E, REGISTRY_LIMITED, .frame = 1, .link = 1),
		IP(0, "10.0.0.5", NULL, 0, .link = 1),
		L(0, "10.0.0.5", E, REGISTRY_NEW, .frame = 1, .link = 2),	/* its own budget */
		L(0, "10.0.0.6", F, REGISTRY_NEW, .link = 1),	/* kernel entries are not limited */
		L(0, "10.0.0.1", A, REGISTRY_REFRESH, .frame = 1, .link = 1),	/* known: not charged */
		L(499, "10.0.0.7", RND, REGISTRY_LIMITED, .frame = 1, .link = 1),
		L(500, "10.0.0.7", RND, REGISTRY_NEW, .frame = 1, .link = 1),
		ST(STAT_LIMITED, 2), ST(STAT_CLIENTS, 7),
	}, .new_rate = 2 },
	{ .name = "frames are limited per source", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		{ .op = SRC, .t = 0, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 0, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 0, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 0, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 0, .mac = A, .link = 1, .want = 0 },
		{ .op = SRC, .t = 499, .mac = A, .link = 1, .want = 0 },
		{ .op = SRC, .t = 500, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 500, .mac = A, .link = 1, .want = 0 },
		{ .op = SRC, .t = 10000, .mac = A, .link = 1, .want = 1 },	/* refilled to the burst */
		{ .op = SRC, .t = 10000, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 10000, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 10000, .mac = A, .link = 1, .want = 1 },
		{ .op = SRC, .t = 10000, .mac = A, .link = 1, .want = 0 },
		ST(STAT_LIMITED, 4),
	}, .src_rate = 2 },
	{ .name = "forget and iterate", .max_clients = 16, .ttl_s = 60, .window_s = 10, .steps = {
		L(0, "10.0.0.1", A, REGISTRY_NEW),
		L(0, "10.0.0.2", B, REGISTRY_NEW),
		L(0, "10.0.0.3", C, REGISTRY_NEW),
		{ .op = COUNT, .t = 1, .want = 3 },
		{ .op = FORGET, .mac = B, .want = 1 },
		{ .op = FORGET, .mac = B, .want = 0 },
		IP(1, "10.0.0.2", NULL, 0),
		{ .op = COUNT, .t = 1, .want = 2 },
		ST(STAT_CLIENTS, 2), ST(STAT_ADDRS, 2),
	} },
};

/* Parse a MAC or fail the test. */
static struct wk_mac
mac_of(const char *s)
{
	struct wk_mac m;

	assert_int_equal(addr_mac_parse(s, &m), 0);
	return m;
}

/* Parse an IP or fail the test. */
static struct wk_ip
ip_of(const char *s)
{
	struct wk_ip ip;

	assert_int_equal(addr_ip_parse(s, &ip), 0);
	return ip;
}

/* Counting callback for registry_foreach. */
static int
count_cb(const struct client_ident *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

/* The MACs the fake admission callback says yes to. */
struct admitted_set {
	struct wk_mac m[8];
	unsigned n;
};

/* The admission callback of the scenarios. */
static bool
admitted_cb(const struct wk_mac *mac, void *arg)
{
	const struct admitted_set *a = arg;

	for (unsigned i = 0; i < a->n; i++)
		if (addr_mac_equal(&a->m[i], mac))
			return true;
	return false;
}

/* Counts the held moves registry_expire settles. */
static void
settled_cb(const struct registry_event *ev, void *arg)
{
	assert_int_equal(ev->kind, REGISTRY_MOVED);
	(*(int *)arg)++;
}

/* The value of a counter named by op. */
static uint64_t
stat_of(const struct registry_stats *st, enum op op)
{
	switch (op) {
	case STAT_CLIENTS: return st->clients;
	case STAT_ADDRS: return st->addrs;
	case STAT_EVICTIONS: return st->evictions;
	case STAT_CONFLICTS: return st->conflicts;
	case STAT_MOVES: return st->moves;
	case STAT_TAKEOVERS: return st->takeovers;
	case STAT_REFUSED: return st->refused;
	case STAT_LIMITED: return st->rate_limited;
	case STAT_PINNED: return st->pinned;
	case STAT_HELD: return st->held;
	case STAT_NEW: return st->new_clients;
	default: return UINT64_MAX;
	}
}

/* A claim from a step. */
static struct registry_claim
claim_of(const struct step *s)
{
	struct registry_claim cl = {
		.link = s->link,
		.ip = ip_of(s->ip),
		.mac = mac_of(s->mac),
		.origin = s->frame ? REGISTRY_FROM_FRAME : REGISTRY_FROM_KERNEL,
	};

	return cl;
}

/* Run one step of a scenario against reg. */
static void
run_step(struct registry *reg, struct admitted_set *adm, const char *name, unsigned n,
    const struct step *s)
{
	struct registry_event ev;
	struct registry_claim cl;
	struct client_ident ci;
	struct registry_stats st;
	struct wk_ip ip;
	struct wk_mac mac, want;
	int rc, count;
	bool found;

	switch (s->op) {
	case LEARN:
		cl = claim_of(s);
		rc = registry_learn(reg, &cl, s->t, &ev);
		if (rc != s->want)
			fail_msg("%s step %u: learn %s %s -> %d, want %d", name, n, s->ip, s->mac, rc, s->want);
		if (rc < 0)
			break;
		if ((ev.flags & s->flags) != s->flags || (ev.flags & s->noflags) != 0)
			fail_msg("%s step %u: flags %#x (need %#x, forbid %#x)", name, n,
			    ev.flags, s->flags, s->noflags);
		assert_int_equal((int)ev.kind, rc);
		assert_true(addr_ip_equal(&ev.ip, &cl.ip) && addr_mac_equal(&ev.mac, &cl.mac));
		assert_int_equal(ev.link, cl.link);
		if (s->other != NULL) {
			want = mac_of(s->other);
			if (!addr_mac_equal(&ev.other, &want))
				fail_msg("%s step %u: ev.other differs", name, n);
		}
		if (s->old != NULL) {
			ip = ip_of(s->old);
			if (!addr_ip_equal(&ev.old_ip, &ip))
				fail_msg("%s step %u: ev.old_ip differs", name, n);
		}
		break;
	case LOOKUP_IP:
		ip = ip_of(s->ip);
		found = registry_lookup_ip(reg, s->link, &ip, s->t, &ci);
		if (found != (s->other != NULL))
			fail_msg("%s step %u: lookup %s found=%d", name, n, s->ip, found);
		if (!found)
			break;
		want = mac_of(s->other);
		if (!addr_mac_equal(&ci.mac, &want) || ci.conflict != (s->conflict != 0))
			fail_msg("%s step %u: lookup %s wrong mac or conflict=%d", name, n,
			    s->ip, ci.conflict);
		if (ci.held != (s->held != 0))
			fail_msg("%s step %u: lookup %s held=%d", name, n, s->ip, ci.held);
		if (s->rival != NULL) {
			want = mac_of(s->rival);
			assert_true(addr_mac_equal(&ci.rival, &want));
		}
		assert_true(ci.last_seen_ms >= ci.ip_seen_ms && ci.first_seen_ms <= ci.last_seen_ms);
		break;
	case LOOKUP_MAC:
		mac = mac_of(s->mac);
		found = registry_lookup_mac(reg, &mac, s->t, &ci);
		if (found != (s->want >= 0))
			fail_msg("%s step %u: lookup mac %s found=%d", name, n, s->mac, found);
		if (!found)
			break;
		if ((int)ci.naddrs != s->want || ci.randomised != (s->conflict != 0))
			fail_msg("%s step %u: %s has %u addrs randomised=%d", name, n, s->mac,
			    ci.naddrs, ci.randomised);
		break;
	case EXPIRE:
		count = 0;
		assert_int_equal(registry_expire(reg, s->t, settled_cb, &count), s->want);
		if (count != s->settled)
			fail_msg("%s step %u: %d held moves settled, want %d", name, n, count, s->settled);
		break;
	case FORGET:
		mac = mac_of(s->mac);
		assert_int_equal(registry_forget_mac(reg, &mac), s->want);
		break;
	case COUNT:
		count = 0;
		assert_int_equal(registry_foreach(reg, s->t, count_cb, &count), 0);
		assert_int_equal(count, s->want);
		break;
	case PIN:
		mac = mac_of(s->mac);
		if (!registry_pin(reg, &mac, s->want != 0))
			fail_msg("%s step %u: pin %s: not found", name, n, s->mac);
		break;
	case PINNED:
		mac = mac_of(s->mac);
		if (!registry_lookup_mac(reg, &mac, s->t, &ci) || ci.pinned != (s->want != 0))
			fail_msg("%s step %u: %s pinned != %d", name, n, s->mac, s->want);
		break;
	case ADMIT:
		assert_true(adm->n < 8);
		adm->m[adm->n++] = mac_of(s->mac);
		break;
	case UNADMIT:
		mac = mac_of(s->mac);
		for (unsigned i = 0; i < adm->n; i++)
			if (addr_mac_equal(&adm->m[i], &mac))
				adm->m[i] = adm->m[--adm->n];
		break;
	case SWEEP:
		assert_int_equal(registry_pin_sweep(reg, 1u << 20), s->want);
		break;
	case SRC:
		mac = mac_of(s->mac);
		if (registry_source_take(reg, s->link, &mac, s->t) != (s->want != 0))
			fail_msg("%s step %u: source %s at %llu: want %d", name, n, s->mac,
			    (unsigned long long)s->t, s->want);
		break;
	case END:
		break;
	default:
		registry_stats(reg, &st);
		if (stat_of(&st, s->op) != (uint64_t)s->want)
			fail_msg("%s step %u: counter %d is %llu, want %d", name, n, s->op,
			    (unsigned long long)stat_of(&st, s->op), s->want);
		break;
	}
}

/* A registry with the given sizes and rates; fails the test on error. */
static struct registry *
reg_new(unsigned max, unsigned ttl, unsigned window, unsigned src_rate, unsigned new_rate)
{
	struct registry_conf rc = { max, ttl, window, src_rate, new_rate };
	struct registry *reg = registry_new(&rc);

	assert_non_null(reg);
	return reg;
}

/* Every scenario, step by step, on a fresh registry. */
static void
test_registry_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *sc = &scenarios[i];
		struct registry *reg = reg_new(sc->max_clients, sc->ttl_s, sc->window_s,
		    sc->src_rate, sc->new_rate);
		struct admitted_set adm = { .n = 0 };

		registry_set_admitted(reg, admitted_cb, &adm);
		for (unsigned n = 0; n < 28 && sc->steps[n].op != END; n++)
			run_step(reg, &adm, sc->name, n, &sc->steps[n]);
		registry_free(reg);
	}
}

/* Bad parameters are refused; NULL is harmless where documented. */
static void
test_registry_params(void **state)
{
	struct registry_conf bad[] = {
		{ 0, 60, 10, 0, 0 }, { 16, 0, 10, 0, 0 }, { 1u << 30, 60, 10, 0, 0 },
		{ 16, 60, 10, 2000000, 0 }, { 16, 60, 10, 0, 2000000 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(registry_new(&bad[i]));
	assert_null(registry_new(NULL));
	registry_free(NULL);
	assert_int_equal(registry_learn(NULL, NULL, 0, NULL), REGISTRY_UNUSABLE);
	assert_false(registry_pin(NULL, NULL, true));
	assert_int_equal(registry_pin_sweep(NULL, 10), 0);
	assert_false(registry_source_take(NULL, 0, NULL, 0));
	assert_string_equal(registry_kind_name(REGISTRY_CONFLICT), "conflict");
	assert_string_equal(registry_kind_name(REGISTRY_MOVED), "moved");
}

/* A table at its capacity: every client is found, one more evicts exactly
 * one, the paged iteration visits each client once. */
static void
test_registry_full_table(void **state)
{
	enum { N = 100000 };
	struct registry *reg = reg_new(N, 300, 10, 0, 0);
	struct registry_stats st;
	struct client_ident ci;
	unsigned cursor = 0, seen = 0;

	(void)state;
	assert_non_null(reg);
	for (uint32_t i = 0; i < N; i++) {
		struct wk_ip ip = { .family = AF_INET };
		struct wk_mac mac = { { 0x00, 0x16, 0x3e, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i } };
		struct registry_claim cl = { .ip = ip, .mac = mac };

		cl.ip.u.v4.s_addr = htonl(0x0a000000u + i + 1);
		assert_int_equal(registry_learn(reg, &cl, 1000 + i / 100, NULL), REGISTRY_NEW);
	}
	for (uint32_t i = 0; i < N; i++) {
		struct wk_ip ip = { .family = AF_INET };

		ip.u.v4.s_addr = htonl(0x0a000000u + i + 1);
		assert_true(registry_lookup_ip(reg, 0, &ip, 5000, &ci));
		assert_int_equal(ci.mac.b[5], (uint8_t)i);
	}
	while (registry_next(reg, &cursor, 5000, &ci))
		seen++;
	assert_int_equal(seen, N);
	{
		struct wk_ip ip = { .family = AF_INET };
		struct wk_mac mac = { { 0x00, 0x16, 0x3f, 0, 0, 1 } };
		struct registry_event ev;
		struct registry_claim cl = { .ip = ip, .mac = mac };

		cl.ip.u.v4.s_addr = htonl(0x0b000001u);
		assert_int_equal(registry_learn(reg, &cl, 6000, &ev), REGISTRY_NEW);
		assert_true(ev.flags & REGISTRY_EV_EVICTED);
		assert_int_equal(ev.evicted.b[5], 0);	/* client 0 was least recent */
	}
	registry_stats(reg, &st);
	assert_int_equal(st.clients, N);
	assert_int_equal(st.evictions, 1);
	registry_free(reg);
}

/* A random unicast, locally administered MAC from a xorshift state. */
static struct wk_mac
flood_mac(uint64_t *x)
{
	struct wk_mac m;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	for (int i = 0; i < 6; i++)
		m.b[i] = (uint8_t)(*x >> (8 * i));
	m.b[0] = (uint8_t)((m.b[0] & 0xfc) | 0x02);
	return m;
}

/* The admitted MACs of the flood test: 00:16:3e:00:00:xx, xx < n. */
static bool
flood_admitted(const struct wk_mac *mac, void *arg)
{
	unsigned n = *(const unsigned *)arg;

	return mac->b[0] == 0x00 && mac->b[1] == 0x16 && mac->b[2] == 0x3e &&
	    mac->b[3] == 0 && mac->b[4] == 0 && mac->b[5] < n;
}

/* Learn one claim of admitted client i (10.1.0.i). */
static int
flood_learn_admitted(struct registry *reg, unsigned i, uint64_t t)
{
	struct registry_claim cl = { .ip = { .family = AF_INET },
	    .mac = { { 0x00, 0x16, 0x3e, 0, 0, (uint8_t)i } } };

	cl.ip.u.v4.s_addr = htonl(0x0a010000u + i);
	return registry_learn(reg, &cl, t, NULL);
}

/* The e2e flood in miniature: a stream of invented MACs (the sender MAC
 * of each frame, as a mismatch check would pass) against a table holding
 * admitted clients. The admitted stay; the strangers churn the rest; a
 * table full of admitted clients refuses them and counts; the per-link
 * limit bounds how many are stored at all. */
static void
test_registry_flood(void **state)
{
	unsigned nadm = 100;
	struct registry *reg = reg_new(1024, 300, 10, 0, 0);
	struct registry_stats st;
	struct client_ident ci;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	registry_set_admitted(reg, flood_admitted, &nadm);
	for (unsigned i = 0; i < nadm; i++)
		assert_int_equal(flood_learn_admitted(reg, i, 0), REGISTRY_NEW);
	for (unsigned i = 0; i < 200000; i++) {
		struct registry_claim cl = { .ip = { .family = AF_INET }, .mac = flood_mac(&x),
		    .origin = REGISTRY_FROM_FRAME };

		cl.ip.u.v4.s_addr = htonl(0x0a640000u + (i & 0xffff));
		assert_true(registry_learn(reg, &cl, 1 + i / 10, NULL) >= 0);
	}
	for (unsigned i = 0; i < nadm; i++) {
		struct wk_ip ip = { .family = AF_INET };

		ip.u.v4.s_addr = htonl(0x0a010000u + i);
		assert_true(registry_lookup_ip(reg, 0, &ip, 20001, &ci));
		assert_true(ci.pinned && !ci.conflict && ci.mac.b[5] == i);
	}
	registry_stats(reg, &st);
	assert_int_equal(st.evictions, 200000 - (1024 - nadm));
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.pinned, nadm);
	registry_free(reg);

	/* Full of admitted clients: every stranger is refused and counted. */
	nadm = 16;
	reg = reg_new(16, 300, 10, 0, 0);
	registry_set_admitted(reg, flood_admitted, &nadm);
	for (unsigned i = 0; i < nadm; i++)
		assert_int_equal(flood_learn_admitted(reg, i, 0), REGISTRY_NEW);
	for (unsigned i = 0; i < 10000; i++) {
		struct registry_claim cl = { .ip = { .family = AF_INET }, .mac = flood_mac(&x),
		    .origin = REGISTRY_FROM_FRAME };

		cl.ip.u.v4.s_addr = htonl(0x0a640000u + i);
		assert_int_equal(registry_learn(reg, &cl, 1 + i / 10, NULL), REGISTRY_FULL);
	}
	registry_stats(reg, &st);
	assert_int_equal(st.refused, 10000);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.clients, 16);
	for (unsigned i = 0; i < nadm; i++)
		assert_true(flood_learn_admitted(reg, i, 2000) == REGISTRY_REFRESH);
	registry_free(reg);

	/* 20 s at 2,500 frames per second against learn_new_rate 100: at
	 * most 100 per second (+ the 2 s burst) are stored. */
	nadm = 0;
	reg = reg_new(4096, 300, 10, 0, 100);
	for (unsigned i = 0; i < 50000; i++) {
		struct registry_claim cl = { .ip = { .family = AF_INET }, .mac = flood_mac(&x),
		    .origin = REGISTRY_FROM_FRAME };
		int rc;

		cl.ip.u.v4.s_addr = htonl(0x0a640000u + i);
		rc = registry_learn(reg, &cl, 1000 + (uint64_t)i * 20000 / 50000, NULL);
		assert_true(rc == REGISTRY_NEW || rc == REGISTRY_LIMITED);
	}
	registry_stats(reg, &st);
	assert_true(st.new_clients <= 100 * 20 + 200 + 1);
	assert_true(st.new_clients >= 100 * 20);
	assert_int_equal(st.rate_limited, 50000 - st.new_clients);
	registry_free(reg);
}

/* Per-source limits: a busy source stays limited however many other
 * sources a flood invents (it keeps its slot), and other sources are
 * not affected by it (collisions aside: the key is random). */
static void
test_registry_sources(void **state)
{
	struct registry *reg = reg_new(1024, 300, 10, 2, 0);
	struct wk_mac busy = { { 0x00, 0x16, 0x3e, 1, 2, 3 } };
	struct registry_stats st;
	uint64_t x = 12345;
	unsigned ok = 0;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_true(registry_source_take(reg, 1, &busy, 100));
	assert_false(registry_source_take(reg, 1, &busy, 100));
	for (unsigned i = 0; i < 100; i++) {
		struct wk_mac m = flood_mac(&x);
		ok += registry_source_take(reg, 1, &m, 100);
	}
	assert_true(ok >= 95);
	for (unsigned i = 0; i < 100000; i++) {
		struct wk_mac m = flood_mac(&x);
		(void)registry_source_take(reg, 1, &m, 200);
	}
	assert_false(registry_source_take(reg, 1, &busy, 200));
	assert_true(registry_source_take(reg, 1, &busy, 600));	/* its own refill */
	registry_stats(reg, &st);
	assert_true(st.rate_limited >= 2);
	registry_free(reg);
}

/* Run the registry tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_scenarios),
		cmocka_unit_test(test_registry_params),
		cmocka_unit_test(test_registry_full_table),
		cmocka_unit_test(test_registry_flood),
		cmocka_unit_test(test_registry_sources),
	};

	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
