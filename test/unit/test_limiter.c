/* test_limiter: the per-client limiter as tables of steps (admit, answer,
 * release at given times) with the verdict each must give -- connection
 * caps by IP and by MAC, both token buckets, shedding from the heaviest
 * client when the gate is full, and the bounded record table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "limiter.h"

#define NSLOT 64
#define NONE (-1)

enum op { ADMIT, ANSWER, RELEASE, END };

/* One step: a client (ip, mac or NULL) does op at t_ms; `slot` names the
 * connection; `want` is the verdict (ADMIT) or 1/0 (ANSWER); `victim` the
 * slot shed (released at once, as the gate does). */
struct step {
	enum op op;
	const char *ip, *mac;
	uint64_t t_ms;
	bool full;
	int slot;
	int want;
	int victim;
};

/* One scenario: its bounds and its steps. */
struct scenario {
	const char *name;
	uint32_t max_total;
	struct limiter_conf conf;
	struct step steps[40];
};

#define A(ip, mac, t, full, slot, want, victim) \
	{ ADMIT, ip, mac, t, full, slot, want, victim }
#define ANS(slot, t, want) { ANSWER, NULL, NULL, t, false, slot, want, NONE }
#define REL(slot) { RELEASE, NULL, NULL, 0, false, slot, 0, NONE }
#define M1 "02:00:00:00:00:01"
#define M2 "02:00:00:00:00:02"
#define NOLIMIT(n) { n, 0, 1, 0, 1 }

static const struct scenario scenarios[] = {
	{ "connections per IP", 100, NOLIMIT(3), {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 1, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 2, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 3, LIMITER_CONNS, NONE),
		A("10.0.0.2", NULL, 0, false, 4, LIMITER_OK, NONE),
		REL(1),
		A("10.0.0.1", NULL, 0, false, 5, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 6, LIMITER_CONNS, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "connections per MAC across addresses", 100, NOLIMIT(2), {
		A("10.0.0.1", M1, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.2", M1, 0, false, 1, LIMITER_OK, NONE),
		A("fd00::3", M1, 0, false, 2, LIMITER_CONNS, NONE),
		A("fd00::3", NULL, 0, false, 3, LIMITER_OK, NONE),
		A("10.0.0.2", M2, 0, false, 4, LIMITER_OK, NONE),
		A("10.0.0.2", M2, 0, false, 5, LIMITER_CONNS, NONE), /* IP 10.0.0.2 holds 2 */
		REL(0),
		A("fd00::3", M1, 0, false, 6, LIMITER_OK, NONE), /* M1 and fd00::3 hold 1 each */
		A("10.0.0.1", M1, 0, false, 7, LIMITER_CONNS, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "families are distinct keys", 100, NOLIMIT(1), {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("::ffff:10.0.0.1", NULL, 0, false, 1, LIMITER_OK, NONE),
		A("a00:1::", NULL, 0, false, 2, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 3, LIMITER_CONNS, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "connect rate: burst, refill, refused attempts count", 100,
	  { 2, 2, 3, 0, 1 }, {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 1, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 2, LIMITER_CONNS, NONE), /* took the 3rd token */
		A("10.0.0.1", NULL, 0, false, 3, LIMITER_RATE, NONE),
		A("10.0.0.2", NULL, 0, false, 4, LIMITER_OK, NONE),   /* its own bucket */
		REL(0),
		A("10.0.0.1", NULL, 499, false, 5, LIMITER_RATE, NONE),
		A("10.0.0.1", NULL, 500, false, 6, LIMITER_OK, NONE), /* 2/s: one per 500 ms */
		A("10.0.0.1", NULL, 500, false, 7, LIMITER_RATE, NONE),
		REL(6), REL(1),
		A("10.0.0.1", NULL, 60000, false, 8, LIMITER_OK, NONE), /* full again: 3, no more */
		A("10.0.0.1", NULL, 60000, false, 9, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 60000, false, 10, LIMITER_CONNS, NONE),
		A("10.0.0.1", NULL, 60000, false, 11, LIMITER_RATE, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "connect rate by MAC across addresses", 100, { 50, 1, 2, 0, 1 }, {
		A("10.0.0.1", M1, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.2", M1, 0, false, 1, LIMITER_OK, NONE),
		A("10.0.0.3", M1, 0, false, 2, LIMITER_RATE, NONE),
		A("10.0.0.3", NULL, 0, false, 3, LIMITER_OK, NONE),
		A("10.0.0.3", M1, 1000, false, 4, LIMITER_OK, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "answer rate: shared by a client's connections", 100, { 50, 0, 1, 1, 2 }, {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 1, LIMITER_OK, NONE),
		A("10.0.0.2", M1, 0, false, 2, LIMITER_OK, NONE),
		A("10.0.0.3", M1, 0, false, 3, LIMITER_OK, NONE),
		ANS(0, 0, 1), ANS(1, 0, 1), ANS(0, 0, 0), ANS(1, 10, 0),
		ANS(0, 999, 0), ANS(1, 1000, 1), ANS(0, 1000, 0),
		ANS(2, 0, 1), ANS(3, 0, 1), ANS(2, 0, 0), ANS(3, 500, 0),
		ANS(3, 1000, 1),
		ANS(0, 100000, 1), ANS(0, 100000, 1), ANS(0, 100000, 0), /* burst 2 */
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "rate 0 is no limit", 100, { 1000, 0, 1, 0, 1 }, {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 1, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 2, LIMITER_OK, NONE),
		ANS(0, 0, 1), ANS(0, 0, 1), ANS(0, 0, 1), ANS(0, 0, 1),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "full: the heaviest gives way until counts are fair", 6, NOLIMIT(10), {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 1, false, 1, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 2, false, 2, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 3, false, 3, LIMITER_OK, NONE),
		A("10.0.0.2", NULL, 4, false, 4, LIMITER_OK, NONE),
		A("10.0.0.3", NULL, 5, true, 5, LIMITER_SHED, 0),  /* A's oldest */
		A("10.0.0.1", NULL, 6, true, 6, LIMITER_FULL, NONE), /* A is the heaviest */
		A("10.0.0.2", NULL, 7, true, 7, LIMITER_SHED, 1),  /* A 3 vs B 1 */
		A("10.0.0.3", NULL, 8, true, 8, LIMITER_FULL, NONE), /* 2,2 vs 1: fair enough */
		A("10.0.0.4", NULL, 9, true, 9, LIMITER_SHED, 4),  /* 0 vs 2: B reached 2 first */
		A("10.0.0.5", NULL, 9, true, 10, LIMITER_SHED, 2), /* then A's oldest */
		A("10.0.0.6", NULL, 9, true, 11, LIMITER_FULL, NONE), /* everyone holds 1 */
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "full: a MAC on several addresses counts as one client", 100, NOLIMIT(10), {
		A("10.0.0.1", M1, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", M1, 0, false, 1, LIMITER_OK, NONE),
		A("fd00::1", M1, 0, false, 2, LIMITER_OK, NONE),
		A("fd00::2", M1, 0, false, 3, LIMITER_OK, NONE),
		A("10.0.0.9", NULL, 0, false, 4, LIMITER_OK, NONE),
		A("10.0.0.9", NULL, 0, false, 5, LIMITER_OK, NONE),
		A("10.0.0.9", NULL, 0, false, 6, LIMITER_OK, NONE),
		A("10.0.0.8", NULL, 0, true, 7, LIMITER_SHED, 0), /* M1: 4 > 10.0.0.9: 3 */
		A("10.0.0.8", NULL, 0, true, 8, LIMITER_SHED, 4), /* 3 vs 3: the first found */
		A("fd00::2", M1, 0, true, 9, LIMITER_FULL, NONE), /* M1 3 is the heaviest */
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "full to the last hold: a shed still admits", 3, NOLIMIT(10), {
		A("10.0.0.1", NULL, 0, false, 0, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 1, LIMITER_OK, NONE),
		A("10.0.0.1", NULL, 0, false, 2, LIMITER_OK, NONE),
		A("10.0.0.2", NULL, 0, true, 3, LIMITER_SHED, 0),
		A("10.0.0.3", NULL, 0, true, 4, LIMITER_SHED, 1),
		A("10.0.0.4", NULL, 0, true, 5, LIMITER_FULL, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
	{ "full with nothing held: refused", 100, NOLIMIT(10), {
		A("10.0.0.1", NULL, 0, true, 0, LIMITER_FULL, NONE),
		{ END, NULL, NULL, 0, false, 0, 0, NONE } } },
};

/* Run one scenario's steps against a fresh limiter. */
static void
run(const struct scenario *sc)
{
	struct limiter *l = limiter_new(sc->max_total, &sc->conf);
	uint32_t holds[NSLOT];
	int owners[NSLOT];

	assert_non_null(l);
	for (int i = 0; i < NSLOT; i++) {
		holds[i] = UINT32_MAX;
		owners[i] = i;
	}
	for (int n = 0; sc->steps[n].op != END; n++) {
		const struct step *s = &sc->steps[n];
		char where[160];
		snprintf(where, sizeof(where), "%s, step %d", sc->name, n);
		if (s->op == ADMIT) {
			struct wk_ip ip;
			struct wk_mac mac;
			void *victim = (void *)1;
			assert_int_equal(addr_ip_parse(s->ip, &ip), 0);
			if (s->mac)
				assert_int_equal(addr_mac_parse(s->mac, &mac), 0);
			enum limiter_verdict v = limiter_admit(l, &ip, s->mac ? &mac : NULL,
			    s->t_ms, s->full, &owners[s->slot], &holds[s->slot], &victim);
			if ((int)v != s->want)
				fail_msg("%s: verdict %s, want %s", where, limiter_verdict_name(v),
				    limiter_verdict_name((enum limiter_verdict)s->want));
			if (s->victim == NONE) {
				if (victim != NULL)
					fail_msg("%s: unexpected victim %d", where, *(int *)victim);
			} else {
				if (victim == NULL || *(int *)victim != s->victim)
					fail_msg("%s: victim %d, want %d", where,
					    victim ? *(int *)victim : -1, s->victim);
				limiter_release(l, holds[s->victim]);
				holds[s->victim] = UINT32_MAX;
			}
			if (v != LIMITER_OK && v != LIMITER_SHED && holds[s->slot] != UINT32_MAX)
				fail_msg("%s: a hold for a refused connection", where);
		} else if (s->op == ANSWER) {
			bool ok = limiter_answer(l, holds[s->slot], s->t_ms);
			if ((int)ok != s->want)
				fail_msg("%s: answer %d, want %d", where, ok, s->want);
		} else {
			limiter_release(l, holds[s->slot]);
			holds[s->slot] = UINT32_MAX;
		}
	}
	limiter_free(l);
}

/* Every scenario of the table. */
static void
test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i]);
}

/* An IPv4 address from a counter. */
static void
ip_n(uint32_t n, struct wk_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	ip->u.v4.s_addr = htonl(0x0a000000u | n);
}

/* Many clients passing through: the table stays bounded, idle records are
 * recycled least recently used first, and a client holding a connection
 * (its count and its buckets) is never forgotten. */
static void
test_bounded_table(void **state)
{
	const struct limiter_conf conf = { 1, 1, 1, 1, 1 };
	struct limiter *l = limiter_new(4, &conf);
	struct limiter_stats st;
	struct wk_ip ip, keep;
	uint32_t hold, h2, kept;
	void *victim;
	int owner = 0;

	(void)state;
	assert_non_null(l);
	ip_n(1, &keep);
	assert_int_equal(limiter_admit(l, &keep, NULL, 0, false, &owner, &kept, &victim), LIMITER_OK);
	assert_true(limiter_answer(l, kept, 0));
	for (uint32_t n = 2; n < 20000; n++) {
		ip_n(n, &ip);
		assert_int_equal(limiter_admit(l, &ip, NULL, n, false, &owner, &hold, &victim),
		    LIMITER_OK);
		limiter_release(l, hold);
		limiter_stats(l, &st);
		assert_true(st.clients <= 2 * 4 + 1024);
	}
	limiter_stats(l, &st);
	assert_int_equal(st.holds, 1);
	assert_true(st.evicted > 10000);
	/* The held client kept its count and its spent answer bucket. */
	assert_int_equal(limiter_admit(l, &keep, NULL, 20000, false, &owner, &h2, &victim),
	    LIMITER_CONNS);
	assert_false(limiter_answer(l, kept, 0));
	/* A recently refused client is remembered: its bucket stays spent. */
	ip_n(19999, &ip);
	assert_int_equal(limiter_admit(l, &ip, NULL, 19999, false, &owner, &h2, &victim),
	    LIMITER_RATE);
	limiter_release(l, kept);
	limiter_stats(l, &st);
	assert_int_equal(st.holds, 0);
	limiter_free(l);
}

/* limiter_take: a token bucket per address without connections -- the
 * burst at once, then the rate; one address's flood leaves another's
 * bucket full; many addresses keep the table bounded. */
static void
test_take_per_address(void **state)
{
	const struct limiter_conf conf = { .max_conns = 1, .connect_rate = 2,
		.connect_burst = 4 };
	struct limiter *l = limiter_new(1, &conf);
	struct limiter_stats st;
	struct wk_ip flooder, other, ip;
	int n = 0;

	(void)state;
	assert_non_null(l);
	ip_n(1, &flooder);
	ip_n(2, &other);
	for (int i = 0; i < 100; i++) /* 100 at t=0: the burst only */
		n += limiter_take(l, &flooder, 0);
	assert_int_equal(n, 4);
	assert_true(limiter_take(l, &other, 0)); /* not charged for the flooder */
	n = 0;
	for (uint64_t t = 1; t <= 1000; t++) /* one second later: 2 more */
		n += limiter_take(l, &flooder, t);
	assert_int_equal(n, 2);
	for (int i = 0; i < 4; i++) /* 3 left + 2 refilled, capped at the burst */
		assert_true(limiter_take(l, &other, 1000));
	assert_false(limiter_take(l, &other, 1000));
	/* 20,000 addresses passing through: bounded, recycled oldest first */
	for (uint32_t a = 3; a < 20003; a++) {
		ip_n(a, &ip);
		assert_true(limiter_take(l, &ip, 2000));
	}
	limiter_stats(l, &st);
	assert_true(st.clients <= 2 + 1024);
	assert_true(st.evicted > 18000);
	assert_int_equal(st.holds, 0);
	limiter_free(l);
}

/* Touching a client's idle record (even a refused attempt) makes it the
 * most recently used, so a client that keeps trying keeps its spent
 * bucket while quieter ones are recycled. */
static void
test_lru_refresh(void **state)
{
	const struct limiter_conf conf = { 1, 1, 1, 1, 1 };
	struct limiter *l = limiter_new(1, &conf); /* 2 + 1024 records */
	struct limiter_stats st;
	struct wk_ip ip, x;
	uint32_t hold;
	void *victim;
	int owner = 0;

	(void)state;
	assert_non_null(l);
	ip_n(1, &x);
	assert_int_equal(limiter_admit(l, &x, NULL, 0, false, &owner, &hold, &victim), LIMITER_OK);
	limiter_release(l, hold);
	for (uint32_t n = 2; n < 2 + 1024; n++) {
		ip_n(n, &ip);
		assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner, &hold, &victim), LIMITER_OK);
		limiter_release(l, hold);
	}
	assert_int_equal(limiter_admit(l, &x, NULL, 0, false, &owner, &hold, &victim), LIMITER_RATE);
	for (uint32_t n = 5000; n < 5100; n++) {
		ip_n(n, &ip);
		assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner, &hold, &victim), LIMITER_OK);
		limiter_release(l, hold);
	}
	limiter_stats(l, &st);
	assert_int_equal(st.evicted, 99);
	assert_int_equal(limiter_admit(l, &x, NULL, 0, false, &owner, &hold, &victim), LIMITER_RATE);
	ip_n(2, &ip); /* the oldest of the others went */
	assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner, &hold, &victim), LIMITER_OK);
	limiter_free(l);
}

/* A reload: lower bursts clamp spent buckets, a larger gate grows the
 * tables with the connections held. */
static void
test_configure(void **state)
{
	struct limiter_conf conf = { 10, 1, 100, 1, 100 };
	struct limiter *l = limiter_new(2, &conf);
	struct limiter_stats st;
	struct wk_ip ip;
	uint32_t h[8];
	void *victim;
	int owner[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

	(void)state;
	assert_non_null(l);
	ip_n(7, &ip);
	assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner[0], &h[0], &victim), LIMITER_OK);
	assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner[1], &h[1], &victim), LIMITER_OK);
	/* A gate of two has two holds and one for a shed in progress. */
	assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner[2], &h[2], &victim), LIMITER_OK);
	assert_int_equal(limiter_admit(l, &ip, NULL, 0, false, &owner[3], &h[3], &victim), LIMITER_FULL);
	limiter_release(l, h[2]);
	conf.answer_burst = 1;
	conf.connect_burst = 1;
	assert_int_equal(limiter_configure(l, 8, &conf), 0);
	assert_true(limiter_answer(l, h[0], 0));
	assert_false(limiter_answer(l, h[1], 0)); /* clamped to the new burst */
	for (int i = 2; i < 4; i++)
		assert_int_equal(limiter_admit(l, &ip, NULL, 1000 * (uint64_t)i, false,
		    &owner[i], &h[i], &victim), LIMITER_OK);
	limiter_stats(l, &st);
	assert_int_equal(st.holds, 4);
	assert_int_equal(st.heaviest, 4);
	assert_ptr_equal(limiter_heaviest(l), &owner[0]);
	limiter_release(l, h[0]);
	assert_ptr_equal(limiter_heaviest(l), &owner[1]);
	for (int i = 1; i < 4; i++)
		limiter_release(l, h[i]);
	assert_null(limiter_heaviest(l));
	assert_int_equal(limiter_configure(l, 0, &conf), -1);
	/* an uncounted hold is not limited and releases nothing */
	assert_true(limiter_answer(l, UINT32_MAX, 0));
	limiter_release(l, UINT32_MAX);
	limiter_free(l);
	assert_null(limiter_new(0, &conf));
	/* no limiter (freed first at shutdown): the shell's calls are no-ops */
	limiter_bind(NULL, 0, &owner[0]);
	assert_true(limiter_answer(NULL, 0, 0));
	limiter_release(NULL, 0);
	limiter_free(NULL);
}

/* Counts above the last count list still find the heaviest client. */
static void
test_many_connections(void **state)
{
	const struct limiter_conf conf = { 100000, 0, 1, 0, 1 };
	struct limiter *l = limiter_new(2000, &conf);
	struct wk_ip a, b, c;
	uint32_t h;
	void *victim;
	int oa = 1, ob = 2, oc = 3;

	(void)state;
	assert_non_null(l);
	ip_n(1, &a);
	ip_n(2, &b);
	ip_n(3, &c);
	for (int i = 0; i < 600; i++)
		assert_int_equal(limiter_admit(l, &a, NULL, 0, false, &oa, &h, &victim), LIMITER_OK);
	for (int i = 0; i < 900; i++)
		assert_int_equal(limiter_admit(l, &b, NULL, 0, false, &ob, &h, &victim), LIMITER_OK);
	assert_int_equal(limiter_admit(l, &c, NULL, 0, true, &oc, &h, &victim), LIMITER_SHED);
	assert_ptr_equal(victim, &ob);
	limiter_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_bounded_table),
		cmocka_unit_test(test_lru_refresh),
		cmocka_unit_test(test_take_per_address),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_many_connections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
