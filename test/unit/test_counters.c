/* test_counters: the per-element counter deltas as a table of reads --
 * each a list of element values, complete or failing part way, or a
 * forget after a flush or a revocation -- with the growth each element
 * must be billed: nothing twice, nothing lost, whole values after a
 * re-add. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "counters.h"

enum op { READ, FAIL, FORGET_ALL, FORGET_MAC, END };

/* One element value: a pair (mac n, ip n) or a reply address (ip n). */
struct val {
	bool pair, uncounted;
	int mac, ip;
	uint64_t bytes, packets;
};

/* What one element must be billed after a read. */
struct bill {
	bool pair;
	int mac, ip;
	uint64_t bytes, packets;
};

/* One step: a read of these values (READ: complete; FAIL: the read of the
 * sets failed after staging them), or a forget; the bills it must give,
 * and commit's result for a READ. */
struct step {
	enum op op;
	struct val v[6];
	struct bill want[6];
	int counted;
	int mac; /* FORGET_MAC */
};

struct scenario {
	const char *name;
	struct step steps[10];
};

/* The MAC numbered n. */
static struct wk_mac
mac_n(int n)
{
	struct wk_mac m = { { 0x02, 0, 0, 0, 0, (uint8_t)n } };
	return m;
}

/* The address 10.99.0.n. */
static struct wk_ip
ip_n(int n)
{
	struct wk_ip ip;

	memset(&ip, 0, sizeof(ip));
	ip.family = AF_INET;
	ip.u.v4.s_addr = htonl(0x0a630000u | (uint32_t)n);
	return ip;
}

/* The bills of one commit. */
struct got {
	struct bill b[16];
	size_t n;
};

/* counters_delta_cb: record a bill. */
static void
on_delta(const struct firewall_count *e, uint64_t bytes, uint64_t packets,
    void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 16);
	g->b[g->n].pair = e->pair;
	g->b[g->n].mac = e->pair ? e->mac.b[5] : 0;
	g->b[g->n].ip = (int)(ntohl(e->ip.u.v4.s_addr) & 0xff);
	g->b[g->n].bytes = bytes;
	g->b[g->n].packets = packets;
	g->n++;
}

/* Find a bill for pair/mac/ip in got, or NULL. */
static const struct bill *
got_find(const struct got *g, bool pair, int mac, int ip)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->b[i].pair == pair && g->b[i].mac == (pair ? mac : 0) &&
		    g->b[i].ip == ip)
			return &g->b[i];
	return NULL;
}

#define P(m, i, b, p) { .pair = true, .mac = (m), .ip = (i), .bytes = (b), .packets = (p) }
#define D(i, b, p) { .pair = false, .ip = (i), .bytes = (b), .packets = (p) }

static const struct scenario scenarios[] = {
	{ "new elements bill their whole value, then the growth", {
		{ READ, { P(1, 10, 100, 2), D(10, 5000, 5) }, { P(1, 10, 100, 2),
		  D(10, 5000, 5) }, 2, 0 },
		{ READ, { P(1, 10, 150, 3), D(10, 5000, 5) }, { P(1, 10, 50, 1) }, 2, 0 },
		{ .op = END } } },
	{ "a read failing part way bills nothing, the next one all of it once", {
		{ READ, { P(1, 10, 100, 1) }, { P(1, 10, 100, 1) }, 1, 0 },
		/* the pair set was read (200), the reply set failed */
		{ FAIL, { P(1, 10, 200, 2) }, { { 0 } }, 0, 0 },
		{ READ, { P(1, 10, 210, 3), D(10, 70, 1) }, { P(1, 10, 110, 2),
		  D(10, 70, 1) }, 2, 0 },
		{ .op = END } } },
	{ "re-added smaller: its whole value is new", {
		{ READ, { P(1, 10, 1000, 10) }, { P(1, 10, 1000, 10) }, 1, 0 },
		{ READ, { P(1, 10, 30, 1) }, { P(1, 10, 30, 1) }, 1, 0 },
		{ .op = END } } },
	{ "after a flush every element restarts at zero: whole values, even "
	  "above the old ones", {
		{ READ, { P(1, 10, 1000, 10), D(10, 400, 4) }, { P(1, 10, 1000, 10),
		  D(10, 400, 4) }, 2, 0 },
		{ .op = FORGET_ALL },
		/* a busy second after the reconcile: more than before the flush */
		{ READ, { P(1, 10, 1500, 15), D(10, 900, 9) }, { P(1, 10, 1500, 15),
		  D(10, 900, 9) }, 2, 0 },
		{ .op = END } } },
	{ "a revocation forgets that MAC's pairs and their reply addresses only", {
		{ READ, { P(1, 10, 1000, 10), D(10, 400, 4), P(2, 11, 500, 5),
		  D(11, 200, 2) }, { P(1, 10, 1000, 10), D(10, 400, 4),
		  P(2, 11, 500, 5), D(11, 200, 2) }, 4, 0 },
		{ .op = FORGET_MAC, .mac = 1 },
		/* MAC 1 admitted again at once and busy: counted from zero */
		{ READ, { P(1, 10, 1200, 12), D(10, 600, 6), P(2, 11, 510, 6),
		  D(11, 200, 2) }, { P(1, 10, 1200, 12), D(10, 600, 6),
		  P(2, 11, 10, 1) }, 4, 0 },
		{ .op = END } } },
	{ "elements without a counter are not counted", {
		{ READ, { { .pair = true, .uncounted = true, .mac = 1, .ip = 10,
		  .bytes = 99 } }, { { 0 } }, 0, 0 },
		{ .op = END } } },
	{ "an element gone and back counts again from its value", {
		{ READ, { P(1, 10, 100, 1), P(2, 11, 100, 1) }, { P(1, 10, 100, 1),
		  P(2, 11, 100, 1) }, 2, 0 },
		{ READ, { P(2, 11, 100, 1) }, { { 0 } }, 1, 0 },
		{ READ, { P(1, 10, 120, 2), P(2, 11, 100, 1) }, { P(1, 10, 120, 2) }, 2, 0 },
		{ .op = END } } },
};

/* Stage the values of a step. */
static void
stage(struct counters *c, const struct step *st)
{
	for (size_t k = 0; k < 6 && (st->v[k].mac || st->v[k].ip); k++) {
		struct firewall_count fc = { .pair = st->v[k].pair,
			.counted = !st->v[k].uncounted, .mac = mac_n(st->v[k].mac),
			.ip = ip_n(st->v[k].ip), .packets = st->v[k].packets,
			.bytes = st->v[k].bytes };
		if (!fc.pair)
			memset(&fc.mac, 0, sizeof(fc.mac));
		counters_stage(&fc, c);
	}
}

/* Run every scenario step by step. */
static void
test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *sc = &scenarios[i];
		struct counters *c = counters_new();

		assert_non_null(c);
		for (size_t s = 0; sc->steps[s].op != END; s++) {
			const struct step *st = &sc->steps[s];
			struct got got = { .n = 0 };
			size_t nwant = 0;
			int rc;

			switch (st->op) {
			case FORGET_ALL:
				counters_forget_all(c);
				continue;
			case FORGET_MAC: {
				struct wk_mac m = mac_n(st->mac);
				counters_forget_mac(c, &m);
				continue;
			}
			case FAIL:
				counters_begin(c);
				stage(c, st);
				counters_abort(c);
				continue;
			default:
				break;
			}
			counters_begin(c);
			stage(c, st);
			rc = counters_commit(c, on_delta, &got);
			if (rc != st->counted)
				fail_msg("%s, step %zu: commit %d, want %d", sc->name, s, rc,
				    st->counted);
			for (size_t k = 0; k < 6 && (st->want[k].mac || st->want[k].ip); k++) {
				const struct bill *w = &st->want[k];
				const struct bill *b = got_find(&got, w->pair, w->mac, w->ip);
				nwant++;
				if (b == NULL || b->bytes != w->bytes || b->packets != w->packets)
					fail_msg("%s, step %zu: element %zu billed %llu/%llu, want "
					    "%llu/%llu", sc->name, s, k,
					    b ? (unsigned long long)b->bytes : 0ULL,
					    b ? (unsigned long long)b->packets : 0ULL,
					    (unsigned long long)w->bytes,
					    (unsigned long long)w->packets);
			}
			if (got.n != nwant)
				fail_msg("%s, step %zu: %zu bills, want %zu", sc->name, s,
				    got.n, nwant);
		}
		counters_free(c);
	}
}

/* counters_delta_cb: add up the bytes billed. */
static void
count_bytes(const struct firewall_count *e, uint64_t bytes, uint64_t packets,
    void *arg)
{
	(void)e;
	(void)packets;
	*(uint64_t *)arg += bytes;
}

/* Thousands of elements: the staging table grows, every one is billed
 * once, and a second identical read bills nothing. */
static void
test_many_elements(void **state)
{
	struct counters *c = counters_new();
	struct got *none = calloc(1, sizeof(*none));
	uint64_t total = 0;
	int rc;
	(void)state;

	assert_non_null(c);
	for (int round = 0; round < 2; round++) {
		counters_begin(c);
		for (int i = 0; i < 5000; i++) {
			struct firewall_count fc = { .pair = true, .counted = true,
				.mac = mac_n(i & 0xff), .ip = ip_n(0), .bytes = 10,
				.packets = 1 };
			fc.mac.b[4] = (uint8_t)(i >> 8);
			counters_stage(&fc, c);
		}
		total = 0;
		rc = counters_commit(c, round == 0 ? count_bytes : on_delta,
		    round == 0 ? (void *)&total : (void *)none);
		assert_int_equal(rc, 5000);
		if (round == 0)
			assert_int_equal(total, 50000);
		else
			assert_int_equal(none->n, 0);
	}
	free(none);
	counters_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_many_elements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
