/* test_log: the rate limiter of repeated log lines -- a burst per window
 * passes, the rest are counted and reported with the next line that
 * passes, and a clock that steps back starts a new window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

/* One call at now_ms: whether it passes and, if so, the count it reports. */
struct row {
	uint64_t now_ms;
	bool pass;
	uint64_t dropped;
};

/* A burst of 3 per 1000 ms, through every edge of the window. */
static void
test_rate_table(void **state)
{
	static const struct row rows[] = {
		{ 5000, true, 0 }, { 5000, true, 0 }, { 5001, true, 0 },
		{ 5002, false, 0 }, { 5999, false, 0 },     /* 3 per window */
		{ 6000, true, 2 },                          /* new window: 2 were dropped */
		{ 6001, true, 0 }, { 6002, true, 0 }, { 6003, false, 0 },
		{ 9000, true, 1 },                          /* a long pause: a fresh window */
		{ 100, true, 0 },                           /* clock stepped back: new window */
		{ 101, true, 0 }, { 102, true, 0 }, { 103, false, 0 },
	};
	struct log_rate r = LOG_RATE(3, 1000);

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t dropped = 99;
		bool pass = log_rate_pass(&r, rows[i].now_ms, &dropped);
		if (pass != rows[i].pass)
			fail_msg("row %zu (t=%llu): pass %d, want %d", i,
			    (unsigned long long)rows[i].now_ms, pass, rows[i].pass);
		if (pass && dropped != rows[i].dropped)
			fail_msg("row %zu: dropped %llu, want %llu", i,
			    (unsigned long long)dropped, (unsigned long long)rows[i].dropped);
	}
}

/* A flood of a million lines in one window lets the burst through only. */
static void
test_rate_flood(void **state)
{
	struct log_rate r = LOG_RATE(5, 10000);
	uint64_t dropped = 0;
	unsigned passed = 0;

	(void)state;
	for (unsigned i = 0; i < 1000000; i++)
		passed += log_rate_pass(&r, 1000 + i / 1000, &dropped);
	assert_int_equal(passed, 5);
	assert_true(log_rate_pass(&r, 1000 + 10000, &dropped));
	assert_int_equal(dropped, 1000000 - 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_table),
		cmocka_unit_test(test_rate_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
