/* test_registry: table tests of the pure client registry. Each scenario is
 * a script of learns, lookups, expiries and counter checks at given times:
 * learn, move, conflict (within/outside the window, extension, clearing),
 * ageing, capacity and eviction, several IPv6 per MAC, randomised MACs. */
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
};

struct scenario {
	const char *name;
	unsigned max_clients;
	unsigned ttl_s;
	unsigned window_s;
	struct step steps[24];
};

#define A "00:11:22:33:44:0a"
#define B "00:11:22:33:44:0b"
#define C "00:11:22:33:44:0c"
#define D "00:11:22:33:44:0d"
#define RND "02:11:22:33:44:0e"

#define L(t_, ip_, mac_, kind_, ...) { .op = LEARN, .t = (t_), .ip = (ip_), .mac = (mac_), .want = (kind_), __VA_ARGS__ }
#define IP(t_, ip_, mac_, conf_, ...) { .op = LOOKUP_IP, .t = (t_), .ip = (ip_), .other = (mac_), .conflict = (conf_), __VA_ARGS__ }
#define MAC(t_, mac_, n_, ...) { .op = LOOKUP_MAC, .t = (t_), .mac = (mac_), .want = (n_), __VA_ARGS__ }
#define ST(op_, n_) { .op = (op_), .want = (n_) }

static const struct scenario scenarios[] = {
	{ "learn and refresh", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW, .flags = REGISTRY_EV_NEW_CLIENT | REGISTRY_EV_NEW_ADDR),
		L(500, "10.0.0.5", A, REGISTRY_REFRESH, .noflags = ~0u),
		IP(600, "10.0.0.5", A, 0),
		IP(600, "10.0.0.6", NULL, 0),
		IP(600, "2001:db8::5", NULL, 0),
		MAC(600, A, 1, .conflict = 0),
		MAC(600, B, -1),
		ST(STAT_CLIENTS, 1), ST(STAT_ADDRS, 1),
	} },
	{ "unusable addresses are rejected", 16, 60, 10, {
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
	{ "ipv4 move keeps the client, releases the old address", 16, 60, 10, {
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
	{ "conflict within the window, cleared after it", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.7", B, REGISTRY_NEW),
		L(2000, "10.0.0.5", B, REGISTRY_CONFLICT, .flags = REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT | REGISTRY_EV_MOVED, .other = A),
		IP(2000, "10.0.0.5", B, 1, .rival = A),
		IP(11999, "10.0.0.5", B, 1, .rival = A),
		IP(12000, "10.0.0.5", B, 0),
		MAC(3000, A, 0),	/* A lost the address to the last claimer */
		ST(STAT_CONFLICTS, 1),
	} },
	{ "claim outside the window is a takeover", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(10000, "10.0.0.5", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_CONFLICT | REGISTRY_EV_IN_CONFLICT, .other = A),
		IP(10000, "10.0.0.5", B, 0),
		MAC(10000, A, 0),
		ST(STAT_CONFLICTS, 0), ST(STAT_TAKEOVERS, 1),
	} },
	{ "window edge: 9999 ms is a conflict", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(9999, "10.0.0.5", B, REGISTRY_CONFLICT),
	} },
	{ "victim answers back: conflict extended, one event", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),
		L(5000, "10.0.0.5", A, REGISTRY_ADDED, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_CONFLICT, .other = B),
		IP(5000, "10.0.0.5", A, 1, .rival = B),
		IP(14999, "10.0.0.5", A, 1),
		IP(15000, "10.0.0.5", A, 0),
		ST(STAT_CONFLICTS, 1),
	} },
	{ "conflict ends while only one claimant remains", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT),
		L(6000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),	/* A still within 10 s: extends to 16000 */
		L(12000, "10.0.0.5", B, REGISTRY_REFRESH, .flags = REGISTRY_EV_IN_CONFLICT),	/* A silent for 12 s: no extension */
		IP(15999, "10.0.0.5", B, 1),
		IP(16000, "10.0.0.5", B, 0),
		L(16000, "10.0.0.5", B, REGISTRY_REFRESH, .noflags = ~0u),
	} },
	{ "a new conflict after the old one cleared is reported", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT),
		L(30000, "10.0.0.5", A, REGISTRY_ADDED, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_IN_CONFLICT),
		L(31000, "10.0.0.5", B, REGISTRY_CONFLICT, .other = A),
		ST(STAT_CONFLICTS, 2),
	} },
	{ "a third mac joins a standing conflict", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1000, "10.0.0.5", B, REGISTRY_CONFLICT),
		L(2000, "10.0.0.5", C, REGISTRY_NEW, .flags = REGISTRY_EV_IN_CONFLICT, .noflags = REGISTRY_EV_CONFLICT, .other = B),
		IP(2000, "10.0.0.5", C, 1, .rival = B),
		ST(STAT_CONFLICTS, 1), ST(STAT_CLIENTS, 3),
	} },
	{ "window 0 disables conflicts", 16, 60, 0, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(1, "10.0.0.5", B, REGISTRY_NEW, .flags = REGISTRY_EV_TAKEOVER, .noflags = REGISTRY_EV_IN_CONFLICT),
		IP(1, "10.0.0.5", B, 0),
	} },
	{ "ipv6 conflict", 16, 60, 10, {
		L(0, "2001:db8::5", A, REGISTRY_NEW),
		L(100, "2001:db8::5", B, REGISTRY_CONFLICT, .other = A),
		IP(100, "2001:db8::5", B, 1, .rival = A),
	} },
	{ "bindings age out after the ttl", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		IP(59999, "10.0.0.5", A, 0),
		IP(60000, "10.0.0.5", NULL, 0),
		MAC(60000, A, -1),
		{ .op = EXPIRE, .t = 59999, .want = 0 },
		{ .op = EXPIRE, .t = 60000, .want = 1 },
		ST(STAT_CLIENTS, 0), ST(STAT_ADDRS, 0),
	} },
	{ "expiry takes the oldest clients only", 16, 60, 10, {
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
	{ "a stale client returning starts over", 16, 60, 10, {
		L(0, "10.0.0.5", A, REGISTRY_NEW),
		L(70000, "10.0.0.5", A, REGISTRY_NEW, .noflags = REGISTRY_EV_MOVED | REGISTRY_EV_TAKEOVER),
		IP(70000, "10.0.0.5", A, 0),
		ST(STAT_CLIENTS, 1), ST(STAT_ADDRS, 1),
	} },
	{ "stale address of a live client is replaced, not a conflict", 16, 60, 10, {
		L(0, "2001:db8::5", A, REGISTRY_NEW),
		L(50000, "10.0.0.9", A, REGISTRY_ADDED),
		L(65000, "2001:db8::5", B, REGISTRY_NEW, .noflags = REGISTRY_EV_CONFLICT | REGISTRY_EV_TAKEOVER),
		MAC(65000, A, 1),
	} },
	{ "capacity: the least recently seen client is evicted", 2, 60, 10, {
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
	{ "several ipv6 and one ipv4 per mac", 16, 60, 10, {
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
	{ "per-mac address cap drops the least recent", 16, 60, 10, {
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
	{ "address pool full: evicts another client, not the learner", 2, 60, 10, {
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
	{ "single client table: cap equals the pool", 1, 60, 10, {
		L(0, "2001:db8::1", A, REGISTRY_NEW),
		L(1, "2001:db8::2", A, REGISTRY_ADDED),
		L(2, "2001:db8::3", A, REGISTRY_ADDED),
		L(3, "2001:db8::4", A, REGISTRY_ADDED),
		L(4, "2001:db8::5", A, REGISTRY_ADDED, .flags = REGISTRY_EV_ADDR_DROPPED),
		L(5, "10.0.0.1", B, REGISTRY_NEW, .flags = REGISTRY_EV_EVICTED),
		MAC(5, B, 1),
		ST(STAT_ADDRS, 1),
	} },
	{ "randomised flag", 16, 60, 10, {
		L(0, "10.0.0.5", RND, REGISTRY_NEW),
		L(0, "10.0.0.6", A, REGISTRY_NEW),
		MAC(1, RND, 1, .conflict = 1),
		MAC(1, A, 1, .conflict = 0),
	} },
	{ "forget and iterate", 16, 60, 10, {
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
	default: return UINT64_MAX;
	}
}

/* Run one step of a scenario against reg. */
static void
run_step(struct registry *reg, const char *name, unsigned n, const struct step *s)
{
	struct registry_event ev;
	struct client_ident ci;
	struct registry_stats st;
	struct wk_ip ip;
	struct wk_mac mac, want;
	int rc, count;
	bool found;

	switch (s->op) {
	case LEARN:
		ip = ip_of(s->ip);
		mac = mac_of(s->mac);
		rc = registry_learn(reg, &ip, &mac, s->t, &ev);
		if (rc != s->want)
			fail_msg("%s step %u: learn %s %s -> %d, want %d", name, n, s->ip, s->mac, rc, s->want);
		if (rc < 0)
			break;
		if ((ev.flags & s->flags) != s->flags || (ev.flags & s->noflags) != 0)
			fail_msg("%s step %u: flags %#x (need %#x, forbid %#x)", name, n,
			    ev.flags, s->flags, s->noflags);
		assert_int_equal((int)ev.kind, rc);
		assert_true(addr_ip_equal(&ev.ip, &ip) && addr_mac_equal(&ev.mac, &mac));
		if (s->other != NULL) {
			want = mac_of(s->other);
			if (!addr_mac_equal(&ev.other, &want))
				fail_msg("%s step %u: ev.other differs", name, n);
		}
		break;
	case LOOKUP_IP:
		ip = ip_of(s->ip);
		found = registry_lookup_ip(reg, &ip, s->t, &ci);
		if (found != (s->other != NULL))
			fail_msg("%s step %u: lookup %s found=%d", name, n, s->ip, found);
		if (!found)
			break;
		want = mac_of(s->other);
		if (!addr_mac_equal(&ci.mac, &want) || ci.conflict != (s->conflict != 0))
			fail_msg("%s step %u: lookup %s wrong mac or conflict=%d", name, n,
			    s->ip, ci.conflict);
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
		assert_int_equal(registry_expire(reg, s->t), s->want);
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

/* Every scenario, step by step, on a fresh registry. */
static void
test_registry_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *sc = &scenarios[i];
		struct registry *reg = registry_new(sc->max_clients, sc->ttl_s, sc->window_s);

		assert_non_null(reg);
		for (unsigned n = 0; n < 24 && sc->steps[n].op != END; n++)
			run_step(reg, sc->name, n, &sc->steps[n]);
		registry_free(reg);
	}
}

/* Bad parameters are refused; NULL is harmless where documented. */
static void
test_registry_params(void **state)
{
	(void)state;
	assert_null(registry_new(0, 60, 10));
	assert_null(registry_new(16, 0, 10));
	assert_null(registry_new(1u << 30, 60, 10));
	registry_free(NULL);
	assert_string_equal(registry_kind_name(REGISTRY_CONFLICT), "conflict");
	assert_string_equal(registry_kind_name(REGISTRY_MOVED), "moved");
}

/* A table at its capacity: every client is found, one more evicts exactly
 * one, the paged iteration visits each client once. */
static void
test_registry_full_table(void **state)
{
	enum { N = 100000 };
	struct registry *reg = registry_new(N, 300, 10);
	struct registry_stats st;
	struct client_ident ci;
	unsigned cursor = 0, seen = 0;

	(void)state;
	assert_non_null(reg);
	for (uint32_t i = 0; i < N; i++) {
		struct wk_ip ip = { .family = AF_INET };
		struct wk_mac mac = { { 0x00, 0x16, 0x3e, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i } };

		ip.u.v4.s_addr = htonl(0x0a000000u + i + 1);
		assert_int_equal(registry_learn(reg, &ip, &mac, 1000 + i / 100, NULL), REGISTRY_NEW);
	}
	for (uint32_t i = 0; i < N; i++) {
		struct wk_ip ip = { .family = AF_INET };

		ip.u.v4.s_addr = htonl(0x0a000000u + i + 1);
		assert_true(registry_lookup_ip(reg, &ip, 5000, &ci));
		assert_int_equal(ci.mac.b[5], (uint8_t)i);
	}
	while (registry_next(reg, &cursor, 5000, &ci))
		seen++;
	assert_int_equal(seen, N);
	{
		struct wk_ip ip = { .family = AF_INET };
		struct wk_mac mac = { { 0x00, 0x16, 0x3f, 0, 0, 1 } };
		struct registry_event ev;

		ip.u.v4.s_addr = htonl(0x0b000001u);
		assert_int_equal(registry_learn(reg, &ip, &mac, 6000, &ev), REGISTRY_NEW);
		assert_true(ev.flags & REGISTRY_EV_EVICTED);
		assert_int_equal(ev.evicted.b[5], 0);	/* client 0 was least recent */
	}
	registry_stats(reg, &st);
	assert_int_equal(st.clients, N);
	assert_int_equal(st.evictions, 1);
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
	};

	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
