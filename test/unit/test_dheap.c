/* test_dheap: the deadline heap against a brute-force model -- random
 * inserts, moves (earlier and later) and removals, and items popped in
 * deadline order with their position fields kept right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dheap.h"

#define N 500

struct item {
	uint32_t pos;
	uint64_t at; /* model: 0 = not in the heap */
};

/* A pseudo-random value (xorshift), for a reproducible run. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Random operations, then everything popped in order. */
static void
test_against_model(void **state)
{
	static struct item it[N];
	struct dheap h = { 0 };
	uint32_t seed = 7;
	uint64_t now, last = 0;
	size_t in = 0;

	(void)state;
	memset(it, 0, sizeof(it));
	for (int op = 0; op < 200000; op++) {
		struct item *x = &it[rnd(&seed) % N];
		if (rnd(&seed) % 4 == 0) {
			if (x->at)
				in--;
			dheap_remove(&h, &x->pos);
			x->at = 0;
		} else {
			uint64_t at = 1 + rnd(&seed) % 100000;
			if (!x->at)
				in++;
			assert_int_equal(dheap_set(&h, &x->pos, at, x), 0);
			x->at = at;
		}
		assert_int_equal(h.n, in);
		for (uint32_t i = 0; i < h.n; i++)
			assert_int_equal(*h.v[i].pos, i + 1);
	}
	/* pop: non-decreasing deadlines, each the item's own */
	now = 100000;
	for (struct item *x; (x = dheap_pop_due(&h, now)) != NULL; in--) {
		assert_true(x->at >= last);
		assert_int_equal(x->pos, 0);
		last = x->at;
		x->at = 0;
	}
	assert_int_equal(in, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(it[i].at, 0);
	/* nothing due before the first deadline */
	assert_int_equal(dheap_set(&h, &it[0].pos, 50, &it[0]), 0);
	assert_null(dheap_pop_due(&h, 49));
	assert_int_equal(dheap_first(&h), 50);
	assert_ptr_equal(dheap_pop_due(&h, 50), &it[0]);
	assert_int_equal(dheap_first(&h), 0);
	dheap_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
	};
	return cmocka_run_group_tests_name("dheap", tests, NULL, NULL);
}
