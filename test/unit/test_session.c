/* test_session: cmocka tables for proxy/session.c (grant, hard/idle/quota
 * expiry at their exact edges, revoke, sweep events, capacity) and for the
 * nonce replay cache of proxy/nonce.c (replay, expiry, full, deletion). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nonce.h"
#include "session.h"

#define T0 1700000000ULL

/* A MAC made from a number (unicast, locally administered). */
static struct wk_mac
mac_n(unsigned n)
{
	struct wk_mac m = { { 0x02, 0x00, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
			      (uint8_t)(n >> 8), (uint8_t)n } };
	return m;
}

/* A pointer to a MAC made from a number, for one full expression. */
#define MP(n) (&(struct wk_mac[1]){ mac_n(n) }[0])

/* A table with the given limits and a small capacity. */
static struct session_table *
table_new(uint64_t timeout, uint64_t idle, uint64_t bytes, size_t cap)
{
	struct session_conf c = {
		.timeout = timeout, .idle_timeout = idle, .bytes = bytes,
		.keep_ended = 60, .capacity = cap, .seed = 0x1234,
	};
	struct session_table *tab = session_table_create(&c);

	assert_non_null(tab);
	return tab;
}

/* The reason session_check gives at time t. */
static enum session_reason
reason_at(const struct session_table *tab, const struct wk_mac *m, uint64_t t)
{
	enum session_reason r;
	bool ok = session_check(tab, m, t, &r);

	assert_int_equal(ok, r == SESSION_R_NONE);
	return r;
}

/* One step of a scripted scenario. */
struct step {
	enum { CHECK, ACCOUNT, GRANT, REVOKE } op;
	uint64_t t;            /* seconds after T0 */
	uint64_t arg;          /* bytes or grant seconds */
	enum session_reason want; /* CHECK */
};

/* Run a scenario on one MAC; fail with the step number. */
static void
run_steps(struct session_table *tab, const struct step *s, size_t n)
{
	struct wk_mac m = mac_n(1);

	for (size_t i = 0; i < n; i++) {
		enum session_reason r;
		switch (s[i].op) {
		case CHECK:
			r = reason_at(tab, &m, T0 + s[i].t);
			if (r != s[i].want)
				fail_msg("step %zu at +%llu: %s, want %s", i,
				    (unsigned long long)s[i].t,
				    session_reason_name(r),
				    session_reason_name(s[i].want));
			break;
		case ACCOUNT:
			assert_int_equal(session_account(tab, &m, s[i].arg,
			    T0 + s[i].t), 0);
			break;
		case GRANT:
			assert_non_null(session_grant(tab, &m, T0 + s[i].t,
			    s[i].arg, SESSION_SRC_CTL));
			break;
		case REVOKE:
			assert_int_equal(session_revoke(tab, &m, T0 + s[i].t), 0);
			break;
		}
	}
}

/* Hard expiry: admitted on [start, start+T), refused from start+T. */
static void
test_hard_expiry(void **state)
{
	static const struct step s[] = {
		{ CHECK, 0, 0, SESSION_R_UNKNOWN },
		{ GRANT, 0, 100, 0 },
		{ CHECK, 0, 0, SESSION_R_NONE },
		{ CHECK, 99, 0, SESSION_R_NONE },
		{ CHECK, 100, 0, SESSION_R_TIMEOUT },
		{ CHECK, 101, 0, SESSION_R_TIMEOUT },
		{ ACCOUNT, 100, 10, 0 },         /* traffic does not revive it */
		{ CHECK, 100, 0, SESSION_R_TIMEOUT },
		{ GRANT, 200, 0, 0 },            /* 0: the configured timeout */
		{ CHECK, 200 + 3599, 0, SESSION_R_NONE },
		{ CHECK, 200 + 3600, 0, SESSION_R_TIMEOUT },
		{ GRANT, 300, 1, 0 },            /* re-grant replaces (shorter) */
		{ CHECK, 300, 0, SESSION_R_NONE },
		{ CHECK, 301, 0, SESSION_R_TIMEOUT },
	};
	struct session_table *tab = table_new(3600, 0, 0, 8);
	(void)state;

	run_steps(tab, s, sizeof(s) / sizeof(s[0]));
	session_table_free(tab);
}

/* Idle expiry: last activity + idle is the first refused second; activity
 * pushes it out, but not once the session has gone idle. */
static void
test_idle_expiry(void **state)
{
	static const struct step s[] = {
		{ GRANT, 0, 1000, 0 },
		{ CHECK, 29, 0, SESSION_R_NONE },
		{ CHECK, 30, 0, SESSION_R_IDLE },
		{ ACCOUNT, 20, 0, 0 },           /* a request at +20 */
		{ CHECK, 49, 0, SESSION_R_NONE },
		{ CHECK, 50, 0, SESSION_R_IDLE },
		{ ACCOUNT, 49, 100, 0 },
		{ CHECK, 78, 0, SESSION_R_NONE },
		{ ACCOUNT, 10, 0, 0 },           /* an older timestamp: no effect */
		{ CHECK, 78, 0, SESSION_R_NONE },
		{ CHECK, 79, 0, SESSION_R_IDLE },
		{ ACCOUNT, 79, 0, 0 },           /* too late: stays idle */
		{ CHECK, 79, 0, SESSION_R_IDLE },
		{ CHECK, 85, 0, SESSION_R_IDLE },
		{ GRANT, 90, 1000, 0 },
		{ CHECK, 119, 0, SESSION_R_NONE },
	};
	struct session_table *tab = table_new(3600, 30, 0, 8);
	(void)state;

	run_steps(tab, s, sizeof(s) / sizeof(s[0]));
	session_table_free(tab);
}

/* Quota: refused once bytes >= session_bytes; a new grant resets it. */
static void
test_quota(void **state)
{
	static const struct step s[] = {
		{ GRANT, 0, 1000, 0 },
		{ ACCOUNT, 1, 999, 0 },
		{ CHECK, 1, 0, SESSION_R_NONE },
		{ ACCOUNT, 2, 1, 0 },
		{ CHECK, 2, 0, SESSION_R_QUOTA },
		{ GRANT, 3, 1000, 0 },
		{ CHECK, 3, 0, SESSION_R_NONE },
		{ ACCOUNT, 4, UINT64_MAX, 0 },   /* saturates, no wrap */
		{ ACCOUNT, 4, UINT64_MAX, 0 },
		{ CHECK, 4, 0, SESSION_R_QUOTA },
		{ GRANT, 5, 10, 0 },             /* timeout wins over quota */
		{ ACCOUNT, 6, 5000, 0 },
		{ CHECK, 15, 0, SESSION_R_TIMEOUT },
	};
	struct session_table *tab = table_new(3600, 0, 1000, 8);
	const struct session *x;
	struct wk_mac m = mac_n(1);
	(void)state;

	run_steps(tab, s, sizeof(s) / sizeof(s[0]));
	x = session_find(tab, &m);
	assert_non_null(x);
	assert_int_equal(x->bytes, 5000);
	session_table_free(tab);
}

/* Revoke ends an admitted session at once, only once. */
static void
test_revoke(void **state)
{
	static const struct step s[] = {
		{ GRANT, 0, 100, 0 },
		{ CHECK, 10, 0, SESSION_R_NONE },
		{ REVOKE, 10, 0, 0 },
		{ CHECK, 10, 0, SESSION_R_REVOKED },
		{ CHECK, 11, 0, SESSION_R_REVOKED },
		{ ACCOUNT, 11, 5, 0 },
		{ CHECK, 11, 0, SESSION_R_REVOKED },
		{ GRANT, 12, 100, 0 },
		{ CHECK, 12, 0, SESSION_R_NONE },
	};
	struct session_table *tab = table_new(3600, 0, 0, 8);
	struct wk_mac m = mac_n(1), u = mac_n(2);
	const struct session *x;
	(void)state;

	run_steps(tab, s, sizeof(s) / sizeof(s[0]));
	assert_int_equal(session_revoke(tab, &u, T0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(session_revoke(tab, &m, T0 + 13), 0);
	x = session_find(tab, &m);
	assert_int_equal(x->state, SESSION_REVOKED);
	assert_int_equal(x->reason, SESSION_R_REVOKED);
	assert_int_equal(x->ended, T0 + 13);
	assert_int_equal(session_revoke(tab, &m, T0 + 14), -1);
	assert_int_equal(session_account(tab, &u, 1, T0), -1);
	session_table_free(tab);
}

/* Events collected by the sweep callback. */
struct events {
	unsigned n;
	struct {
		unsigned mac;
		enum session_event ev;
		enum session_reason reason;
	} e[16];
};

/* Sweep callback: record (last MAC byte, event, reason). */
static void
on_event(const struct session *s, enum session_event ev, void *arg)
{
	struct events *evs = arg;

	assert_true(evs->n < 16);
	assert_int_equal(s->state, SESSION_EXPIRED);
	evs->e[evs->n].mac = s->mac.b[5];
	evs->e[evs->n].ev = ev;
	evs->e[evs->n].reason = s->reason;
	evs->n++;
}

/* The sweep reports each session once at its exact edge, with the right
 * event, and drops ended sessions after keep_ended. */
static void
test_expire_sweep(void **state)
{
	struct session_table *tab = table_new(3600, 50, 1000, 16);
	struct wk_mac a = mac_n(1), b = mac_n(2), c = mac_n(3), d = mac_n(4);
	struct events ev;
	(void)state;

	assert_non_null(session_grant(tab, &a, T0, 40, SESSION_SRC_CTL));
	assert_non_null(session_grant(tab, &b, T0, 3600, SESSION_SRC_SPLASH));
	assert_non_null(session_grant(tab, &c, T0, 3600, SESSION_SRC_SIGNED));
	assert_non_null(session_grant(tab, &d, T0, SESSION_FOREVER,
	    SESSION_SRC_CONFIG));
	assert_int_equal(session_account(tab, &c, 1000, T0 + 10), 0);
	assert_int_equal(session_account(tab, &d, 1000000, T0 + 10), 0);
	/* At +10: c is over quota. */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(session_expire(tab, T0 + 10, on_event, &ev), 1);
	assert_int_equal(ev.e[0].mac, 3);
	assert_int_equal(ev.e[0].ev, SESSION_EV_QUOTA);
	assert_int_equal(ev.e[0].reason, SESSION_R_QUOTA);
	assert_int_equal(session_account(tab, &b, 1, T0 + 39), 0);
	/* At +39 nothing; at +40 a times out (hard, before idle at +50). */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(session_expire(tab, T0 + 39, on_event, &ev), 0);
	assert_int_equal(session_expire(tab, T0 + 40, on_event, &ev), 1);
	assert_int_equal(ev.e[0].mac, 1);
	assert_int_equal(ev.e[0].ev, SESSION_EV_EXPIRE);
	assert_int_equal(ev.e[0].reason, SESSION_R_TIMEOUT);
	/* Ended sessions stay keep_ended (60 s) for `show`, then go: c ended
	 * at +10 is still there at +69 and gone at +70. */
	assert_int_equal(session_count(tab), 4);
	assert_int_equal(session_count_admitted(tab), 2);
	assert_int_equal(session_expire(tab, T0 + 69, on_event, &ev), 0);
	assert_non_null(session_find(tab, &c));
	assert_int_equal(session_find(tab, &c)->state, SESSION_EXPIRED);
	assert_false(session_check(tab, &c, T0 + 69, NULL));
	assert_int_equal(session_expire(tab, T0 + 70, on_event, &ev), 0);
	assert_null(session_find(tab, &c));
	assert_int_equal(session_count(tab), 3);
	/* b was active at +39: idle at +89, not before; d (config) never. */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(session_expire(tab, T0 + 88, on_event, &ev), 0);
	assert_int_equal(session_expire(tab, T0 + 89, on_event, &ev), 1);
	assert_int_equal(ev.e[0].mac, 2);
	assert_int_equal(ev.e[0].ev, SESSION_EV_EXPIRE);
	assert_int_equal(ev.e[0].reason, SESSION_R_IDLE);
	assert_int_equal(session_find(tab, &b)->ended, T0 + 89);
	assert_non_null(session_find(tab, &a));
	assert_int_equal(session_expire(tab, T0 + 99, NULL, NULL), 0);
	assert_non_null(session_find(tab, &a));
	assert_int_equal(session_expire(tab, T0 + 100, NULL, NULL), 0);
	assert_null(session_find(tab, &a));
	assert_non_null(session_find(tab, &b));
	assert_int_equal(session_expire(tab, T0 + 149, NULL, NULL), 0);
	assert_null(session_find(tab, &b));
	assert_int_equal(session_expire(tab, T0 + 10000, NULL, NULL), 0);
	assert_int_equal(session_count(tab), 1);
	assert_int_equal(session_count_admitted(tab), 1);
	assert_true(session_check(tab, &d, UINT64_MAX - 1, NULL));
	session_table_free(tab);
}

/* Capacity is a hard bound: admitted sessions are never pushed out; an
 * ended one is reused first (the longest ended). */
static void
test_capacity(void **state)
{
	struct session_table *tab = table_new(3600, 0, 0, 4);
	struct wk_mac m[6];
	(void)state;

	for (unsigned i = 0; i < 6; i++)
		m[i] = mac_n(i + 1);
	for (unsigned i = 0; i < 4; i++)
		assert_non_null(session_grant(tab, &m[i], T0, 100,
		    SESSION_SRC_CTL));
	errno = 0;
	assert_null(session_grant(tab, &m[4], T0, 100, SESSION_SRC_CTL));
	assert_int_equal(errno, ENOSPC);
	/* Re-granting a present MAC needs no room. */
	assert_non_null(session_grant(tab, &m[0], T0 + 1, 100, SESSION_SRC_CTL));
	assert_int_equal(session_revoke(tab, &m[2], T0 + 5), 0);
	assert_int_equal(session_revoke(tab, &m[1], T0 + 6), 0);
	assert_non_null(session_grant(tab, &m[4], T0 + 7, 100, SESSION_SRC_CTL));
	assert_null(session_find(tab, &m[2]));   /* ended first: evicted */
	assert_non_null(session_find(tab, &m[1]));
	assert_non_null(session_grant(tab, &m[5], T0 + 8, 100, SESSION_SRC_CTL));
	assert_null(session_find(tab, &m[1]));
	assert_null(session_grant(tab, &m[2], T0 + 9, 100, SESSION_SRC_CTL));
	assert_int_equal(session_count(tab), 4);
	assert_int_equal(session_count_admitted(tab), 4);
	session_table_free(tab);
}

/* Bad MACs, bad settings, overflowing grant lengths, names. */
static void
test_edges(void **state)
{
	struct session_conf bad = { .timeout = 0, .capacity = 4 };
	struct session_table *tab = table_new(3600, 0, 0, 4);
	struct wk_mac zero = { { 0 } }, mcast = { { 0x01, 0, 0x5e, 0, 0, 1 } };
	struct wk_mac m = mac_n(9);
	const struct session *s;
	enum session_source src;
	enum session_state st;
	enum session_reason r;
	(void)state;

	assert_null(session_table_create(&bad));
	bad.timeout = 1;
	bad.capacity = 0;
	assert_null(session_table_create(&bad));
	assert_null(session_grant(tab, &zero, T0, 10, SESSION_SRC_CTL));
	assert_int_equal(errno, EINVAL);
	assert_null(session_grant(tab, &mcast, T0, 10, SESSION_SRC_CTL));
	s = session_grant(tab, &m, UINT64_MAX - 5, 10, SESSION_SRC_CTL);
	assert_non_null(s);
	assert_int_equal(s->expires, SESSION_FOREVER);
	s = session_grant(tab, &m, T0, SESSION_FOREVER - 1, SESSION_SRC_CTL);
	assert_int_equal(s->expires, SESSION_FOREVER);
	assert_int_equal(s->start, T0);
	assert_int_equal(s->state, SESSION_ADMITTED);
	assert_int_equal(s->source, SESSION_SRC_CTL);
	assert_true(session_check(tab, &m, UINT64_MAX, NULL));
	/* Reload: new limits apply to existing sessions; capacity stays. */
	bad.timeout = 10;
	bad.idle_timeout = 5;
	bad.capacity = 1000;
	assert_int_equal(session_configure(tab, &bad), 0);
	assert_false(session_check(tab, &m, T0 + 5, &r));
	assert_int_equal(r, SESSION_R_IDLE);
	bad.timeout = 0;
	assert_int_equal(session_configure(tab, &bad), -1);
	for (int i = 0; i <= SESSION_REVOKED; i++) {
		assert_int_equal(session_state_parse(session_state_name(
		    (enum session_state)i), &st), 0);
		assert_int_equal(st, i);
	}
	for (int i = 0; i <= SESSION_SRC_CONFIG; i++) {
		assert_int_equal(session_source_parse(session_source_name(
		    (enum session_source)i), &src), 0);
		assert_int_equal(src, i);
	}
	for (int i = 0; i <= SESSION_R_REVOKED; i++) {
		assert_int_equal(session_reason_parse(session_reason_name(
		    (enum session_reason)i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_int_equal(session_source_parse("web", &src), -1);
	assert_string_equal(session_source_name(SESSION_SRC_SIGNED), "signed");
	session_table_free(tab);
}

/* Iteration callback: count sessions and check they are the granted ones. */
static void
count_cb(const struct session *s, void *arg)
{
	unsigned *seen = arg;

	assert_true(s->mac.b[5] >= 1 && s->mac.b[5] <= 50);
	seen[s->mac.b[5]]++;
}

/* A deterministic PRNG for the stress tests. */
static uint64_t
rng(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Random grants, forgets and lookups against a reference array: the open
 * addressing with backward-shift deletion never loses or invents a MAC. */
static void
test_table_stress(void **state)
{
	enum { N = 700, CAP = 512 };
	static bool ref[N];
	struct session_table *tab = table_new(3600, 0, 0, CAP);
	unsigned seen[51] = { 0 };
	size_t count = 0;
	uint64_t x = 88172645463325252ULL;
	(void)state;

	memset(ref, 0, sizeof(ref));
	for (int step = 0; step < 200000; step++) {
		unsigned k = (unsigned)(rng(&x) % N);
		struct wk_mac m = mac_n(k + 1);
		switch (rng(&x) % 3) {
		case 0:
			if (session_grant(tab, &m, T0, 100, SESSION_SRC_CTL) != NULL) {
				if (!ref[k])
					count++;
				ref[k] = true;
			} else {
				assert_false(ref[k]);
				assert_int_equal(count, CAP);
			}
			break;
		case 1:
			assert_int_equal(session_forget(tab, &m), ref[k] ? 0 : -1);
			if (ref[k])
				count--;
			ref[k] = false;
			break;
		default:
			assert_int_equal(session_find(tab, &m) != NULL, ref[k]);
			break;
		}
		assert_int_equal(session_count(tab), count);
	}
	for (unsigned k = 0; k < N; k++) {
		struct wk_mac m = mac_n(k + 1);
		assert_int_equal(session_check(tab, &m, T0, NULL), ref[k]);
	}
	session_table_free(tab);

	/* Iteration visits each session exactly once. */
	tab = table_new(3600, 0, 0, 64);
	for (unsigned i = 1; i <= 50; i++) {
		struct wk_mac m = mac_n(i);
		assert_non_null(session_grant(tab, &m, T0, 100, SESSION_SRC_CTL));
	}
	session_foreach(tab, count_cb, seen);
	for (unsigned i = 1; i <= 50; i++)
		assert_int_equal(seen[i], 1);
	session_table_free(tab);
}

/* Nonces: first use OK, replay refused while the grant lives, accepted
 * again only once until has passed; invalid input. */
static void
test_nonce_replay(void **state)
{
	static const struct {
		const char *nonce;
		uint64_t until, now;
		enum nonce_result want;
	} t[] = {
		{ "abcdefgh", T0 + 100, T0, NONCE_OK },
		{ "abcdefgh", T0 + 100, T0, NONCE_REPLAY },
		{ "abcdefgh", T0 + 500, T0 + 50, NONCE_REPLAY },
		{ "abcdefgh", T0 + 100, T0 + 99, NONCE_REPLAY },
		{ "abcdefgh", T0 + 300, T0 + 100, NONCE_OK },
		{ "abcdefgh", T0 + 300, T0 + 299, NONCE_REPLAY },
		{ "ABCDEFGH", T0 + 100, T0, NONCE_OK },
		{ "abcdefg", T0 + 100, T0, NONCE_INVALID },
		{ "abcdefgh!", T0 + 100, T0, NONCE_INVALID },
		{ "zzzzzzzz", T0, T0, NONCE_INVALID },
		{ "zzzzzzzz", T0 - 1, T0, NONCE_INVALID },
	};
	struct nonce_cache *nc = nonce_cache_create(8, 42);
	(void)state;

	assert_non_null(nc);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum nonce_result r = nonce_use(nc, t[i].nonce, t[i].until,
		    t[i].now);
		if (r != t[i].want)
			fail_msg("case %zu: %s want %s", i, nonce_result_str(r),
			    nonce_result_str(t[i].want));
	}
	assert_true(nonce_seen(nc, "abcdefgh", T0 + 299));
	assert_false(nonce_seen(nc, "abcdefgh", T0 + 300));
	assert_false(nonce_seen(nc, "zzzzzzzz", T0));
	assert_int_equal(nonce_count(nc), 2);
	assert_int_equal(nonce_forget(nc, "abcdefgh"), 0);
	assert_int_equal(nonce_forget(nc, "abcdefgh"), -1);
	assert_int_equal(nonce_use(nc, "abcdefgh", T0 + 300, T0 + 200), NONCE_OK);
	nonce_cache_free(nc);
	assert_null(nonce_cache_create(0, 0));
}

/* Full of unexpired nonces: refuse (fail closed); once some expire, the
 * sweep inside nonce_use makes room. */
static void
test_nonce_full(void **state)
{
	struct nonce_cache *nc = nonce_cache_create(4, 1);
	char n[16];
	(void)state;

	for (int i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "nonce-%04d", i);
		assert_int_equal(nonce_use(nc, n, T0 + 10 + (uint64_t)i, T0),
		    NONCE_OK);
	}
	assert_int_equal(nonce_capacity(nc), 4);
	assert_int_equal(nonce_use(nc, "nonce-9999", T0 + 100, T0), NONCE_FULL);
	assert_int_equal(nonce_use(nc, "nonce-9999", T0 + 100, T0 + 9),
	    NONCE_FULL);
	/* A replay is still a replay when full. */
	assert_int_equal(nonce_use(nc, "nonce-0003", T0 + 100, T0 + 9),
	    NONCE_REPLAY);
	/* At T0+10 nonce-0000 has expired: room for exactly one. */
	assert_int_equal(nonce_use(nc, "nonce-9999", T0 + 100, T0 + 10),
	    NONCE_OK);
	assert_false(nonce_seen(nc, "nonce-0000", T0));
	assert_int_equal(nonce_use(nc, "nonce-9998", T0 + 100, T0 + 10),
	    NONCE_FULL);
	assert_int_equal(nonce_expire(nc, T0 + 13), 3);
	assert_int_equal(nonce_count(nc), 1);
	nonce_cache_free(nc);
}

/* foreach callback: count entries. */
static void
nonce_count_cb(const char *nonce, uint64_t until, void *arg)
{
	size_t *n = arg;

	assert_true(strlen(nonce) >= 8);
	assert_true(until > T0);
	(*n)++;
}

/* Random use/forget/expire against a reference: no nonce lost or invented
 * by backward-shift deletion, and sweeps remove exactly the expired. */
static void
test_nonce_stress(void **state)
{
	enum { N = 600, CAP = 400 };
	static uint64_t ref[N]; /* until, 0 = absent */
	struct nonce_cache *nc = nonce_cache_create(CAP, 99);
	uint64_t x = 0x9e3779b97f4a7c15ULL, now = T0;
	size_t n = 0;
	char s[16];
	(void)state;

	memset(ref, 0, sizeof(ref));
	for (int step = 0; step < 100000; step++) {
		unsigned k = (unsigned)(rng(&x) % N);
		snprintf(s, sizeof(s), "n-%08u", k);
		switch (rng(&x) % 8) {
		case 0: {
			/* An expired entry may already have been swept by a
			 * nonce_use that found the cache full. */
			int rc = nonce_forget(nc, s);
			if (ref[k] > now)
				assert_int_equal(rc, 0);
			else if (ref[k] == 0)
				assert_int_equal(rc, -1);
			ref[k] = 0;
			break;
		}
		case 1:
			now++;
			if (rng(&x) % 16 == 0) {
				size_t live = 0;
				(void)nonce_expire(nc, now);
				for (unsigned j = 0; j < N; j++) {
					if (ref[j] <= now)
						ref[j] = 0;
					else
						live++;
				}
				assert_int_equal(nonce_count(nc), live);
			}
			break;
		default: {
			uint64_t until = now + 1 + rng(&x) % 50;
			enum nonce_result r = nonce_use(nc, s, until, now);
			if (ref[k] > now) {
				assert_int_equal(r, NONCE_REPLAY);
			} else if (r == NONCE_OK) {
				ref[k] = until;
			} else {
				assert_int_equal(r, NONCE_FULL);
			}
			break;
		}
		}
		assert_int_equal(nonce_seen(nc, s, now), ref[k] > now);
	}
	for (unsigned k = 0; k < N; k++) {
		snprintf(s, sizeof(s), "n-%08u", k);
		assert_int_equal(nonce_seen(nc, s, now), ref[k] > now);
	}
	nonce_foreach(nc, nonce_count_cb, &n);
	assert_int_equal(n, nonce_count(nc));
	nonce_cache_free(nc);
}

/* Run the session and nonce tests. */
/* A session's own limits (RADIUS Idle-Timeout, volume, Session-Timeout
 * from a CoA) override the table's, at their exact edges. */
static void
test_session_own_limits(void **state)
{
	struct session_table *tab = table_new(600, 0, 0, 16);
	struct wk_mac a = mac_n(1), b = mac_n(2);
	enum session_reason r;

	(void)state;
	assert_non_null(session_grant(tab, &a, T0, 600, SESSION_SRC_RADIUS));
	assert_non_null(session_grant(tab, &b, T0, 600, SESSION_SRC_RADIUS));
	assert_int_equal(session_set_limits(tab, &a, T0 + 100, 10, 1000), 0);
	assert_int_equal(session_account(tab, &a, 999, T0 + 5), 0);
	assert_true(session_check(tab, &a, T0 + 14, NULL));
	assert_false(session_check(tab, &a, T0 + 15, &r));
	assert_int_equal(r, SESSION_R_IDLE);
	assert_int_equal(session_account(tab, &a, 1, T0 + 6), 0);
	assert_false(session_check(tab, &a, T0 + 7, &r));
	assert_int_equal(r, SESSION_R_QUOTA);
	/* b keeps the table's (no idle, no quota) limits. */
	assert_int_equal(session_account(tab, &b, 1u << 30, T0 + 5), 0);
	assert_true(session_check(tab, &b, T0 + 599, NULL));
	/* A new hard end, earlier or later. */
	assert_int_equal(session_set_limits(tab, &b, T0 + 50, 0, 0), 0);
	assert_true(session_check(tab, &b, T0 + 49, NULL));
	assert_false(session_check(tab, &b, T0 + 50, &r));
	assert_int_equal(r, SESSION_R_TIMEOUT);
	assert_string_equal(session_source_name(SESSION_SRC_RADIUS), "radius");
	/* Only admitted sessions take limits; a new grant clears them. */
	assert_int_equal(session_revoke(tab, &b, T0 + 1), 0);
	assert_int_equal(session_set_limits(tab, &b, T0 + 50, 0, 0), -1);
	assert_non_null(session_grant(tab, &a, T0 + 20, 600, SESSION_SRC_RADIUS));
	assert_int_equal(session_find(tab, &a)->idle_limit, 0);
	session_table_free(tab);
}

/* session_prepare builds the new session aside: the table (and an
 * admitted session the MAC already has) is untouched until
 * session_restore applies it, so a grant the disk refuses changes nothing. */
static void
test_prepare_leaves_table(void **state)
{
	struct session_table *tab = table_new(3600, 0, 0, 16);
	struct wk_mac m = mac_n(1), bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct session ns;
	const struct session *s;

	(void)state;
	assert_non_null(session_grant(tab, &m, T0, 100, SESSION_SRC_CTL));
	assert_int_equal(session_prepare(tab, &m, T0 + 10, 500, SESSION_SRC_SPLASH,
	    &ns), 0);
	assert_int_equal(ns.expires, T0 + 510);
	assert_int_equal(ns.source, SESSION_SRC_SPLASH);
	s = session_find(tab, &m);
	assert_int_equal(s->expires, T0 + 100);
	assert_int_equal(s->source, SESSION_SRC_CTL);
	assert_true(session_check(tab, &m, T0 + 99, NULL));
	assert_int_equal(session_restore(tab, &ns), 0);
	assert_int_equal(session_find(tab, &m)->expires, T0 + 510);
	assert_int_equal(session_prepare(tab, &bcast, T0, 1, SESSION_SRC_CTL, &ns), -1);
	assert_int_equal(errno, EINVAL);
	/* A table full of admitted sessions: prepare refuses, an ended one
	 * would make room. */
	for (unsigned i = 2; i <= 16; i++)
		assert_non_null(session_grant(tab, MP(i),
		    T0, 100, SESSION_SRC_CTL));
	m = mac_n(99);
	assert_false(session_can_hold(tab, &m));
	assert_int_equal(session_prepare(tab, &m, T0, 1, SESSION_SRC_CTL, &ns), -1);
	assert_int_equal(errno, ENOSPC);
	assert_true(session_can_hold(tab, MP(5)));
	assert_int_equal(session_revoke(tab, MP(5), T0), 0);
	assert_true(session_can_hold(tab, &m));
	assert_int_equal(session_prepare(tab, &m, T0, 1, SESSION_SRC_CTL, &ns), 0);
	assert_int_equal(session_restore(tab, &ns), 0);
	assert_null(session_find(tab, MP(5)));
	session_table_free(tab);
}

/* session_shift moves times between the session clock and wall time,
 * keeping "no end" and "still admitted" as they are. */
static void
test_shift(void **state)
{
	struct session s = { .start = 1000, .expires = 1600, .last_seen = 1200,
			     .ended = 0 };

	(void)state;
	session_shift(&s, 5000);
	assert_int_equal(s.start, 6000);
	assert_int_equal(s.expires, 6600);
	assert_int_equal(s.last_seen, 6200);
	assert_int_equal(s.ended, 0);
	session_shift(&s, -5000);
	assert_int_equal(s.start, 1000);
	s.expires = SESSION_FOREVER;
	s.ended = 1500;
	session_shift(&s, -2000);
	assert_int_equal(s.start, 1); /* clamped */
	assert_true(s.expires == SESSION_FOREVER);
	assert_int_equal(s.ended, 1);
}

/* admit_per_minute per MAC and per address: the next admission in the
 * window is refused with the seconds left; the window then reopens. */
static void
test_admission_rate(void **state)
{
	struct session_conf c = { .timeout = 3600, .keep_ended = 60,
		.capacity = 64, .seed = 7, .admit_per_minute = 3 };
	struct session_table *tab = session_table_create(&c);
	struct wk_mac m = mac_n(1);
	struct wk_ip a, b;
	uint64_t retry = 0;

	(void)state;
	assert_int_equal(addr_ip_parse("10.0.0.5", &a), 0);
	assert_int_equal(addr_ip_parse("10.0.0.6", &b), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(session_rate_ok(tab, &m, &a, T0 + i, &retry));
		assert_non_null(session_grant(tab, &m, T0 + i, 100, SESSION_SRC_SPLASH));
		session_admitted(tab, &m, &a, T0 + i);
	}
	assert_false(session_rate_ok(tab, &m, &b, T0 + 10, &retry));
	assert_int_equal(retry, 50);
	assert_true(session_rate_ok(tab, &m, &b, T0 + 60, &retry));
	/* The address's own window: three other MACs from a, then a fourth. */
	for (unsigned i = 0; i < 3; i++) {
		struct wk_mac o = mac_n(10 + i);
		assert_true(session_rate_ok(tab, &o, &a, T0 + 70, &retry));
		assert_non_null(session_grant(tab, &o, T0 + 70, 100, SESSION_SRC_SPLASH));
		session_admitted(tab, &o, &a, T0 + 70);
	}
	m = mac_n(20);
	assert_false(session_rate_ok(tab, &m, &a, T0 + 71, &retry));
	assert_true(session_rate_ok(tab, &m, &b, T0 + 71, &retry));
	assert_true(session_rate_ok(tab, &m, NULL, T0 + 71, &retry));
	session_table_free(tab);
}

/* A host cycling MACs from one address: with splash_per_addr 2, each new
 * splash MAC names the oldest live one to end; other addresses and other
 * sources are not touched. */
static void
test_addr_excess(void **state)
{
	struct session_conf c = { .timeout = 3600, .keep_ended = 60,
		.capacity = 64, .seed = 7, .splash_per_addr = 2 };
	struct session_table *tab = session_table_create(&c);
	struct wk_mac out[SESSION_ADDR_RING], m;
	struct wk_ip a, b;

	(void)state;
	assert_int_equal(addr_ip_parse("10.0.0.5", &a), 0);
	assert_int_equal(addr_ip_parse("fd00::5", &b), 0);
	for (unsigned i = 1; i <= 40; i++) {
		size_t n;
		m = mac_n(i);
		n = session_addr_excess(tab, &a, &m, out, SESSION_ADDR_RING);
		if (i <= 2)
			assert_int_equal(n, 0);
		else {
			assert_int_equal(n, 1);
			assert_true(addr_mac_equal(&out[0], MP(i - 2)));
			assert_int_equal(session_revoke(tab, &out[0], T0 + i), 0);
		}
		assert_non_null(session_grant(tab, &m, T0 + i, 100, SESSION_SRC_SPLASH));
		session_admitted(tab, &m, &a, T0 + i);
	}
	assert_int_equal(session_count_admitted(tab), 2);
	/* The same MAC again is not its own excess; another address counts
	 * apart; a ctl session from a is never named. */
	assert_int_equal(session_addr_excess(tab, &a, &m, out, SESSION_ADDR_RING), 0);
	m = mac_n(100);
	assert_int_equal(session_addr_excess(tab, &b, &m, out, SESSION_ADDR_RING), 0);
	assert_non_null(session_grant(tab, &m, T0, 100, SESSION_SRC_CTL));
	session_admitted(tab, &m, &a, T0 + 50);
	m = mac_n(101);
	assert_int_equal(session_addr_excess(tab, &a, &m, out, SESSION_ADDR_RING), 1);
	assert_true(addr_mac_equal(&out[0], MP(39)));
	session_table_free(tab);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_own_limits),
		cmocka_unit_test(test_hard_expiry),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_expire_sweep),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_prepare_leaves_table),
		cmocka_unit_test(test_shift),
		cmocka_unit_test(test_admission_rate),
		cmocka_unit_test(test_addr_excess),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_table_stress),
		cmocka_unit_test(test_nonce_replay),
		cmocka_unit_test(test_nonce_full),
		cmocka_unit_test(test_nonce_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
