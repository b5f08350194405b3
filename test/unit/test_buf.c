/* test_buf: the one byte buffer -- appends across growth and compaction
 * keep every byte in order, consuming the last byte frees the memory, and
 * reserve/commit write in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

/* Random appends and consumes against a flat model of the queue. */
static void
test_queue_model(void **state)
{
	static char model[1 << 20];
	struct wk_buf b = { 0 };
	size_t mlen = 0, peak = 0;
	uint32_t s = 1;
	unsigned char next = 0;

	(void)state;
	for (int op = 0; op < 20000; op++) {
		s = s * 1103515245 + 12345;
		size_t n = (s >> 8) % 3000;
		if ((s >> 4) % 3 != 0 && mlen + n < sizeof(model)) {
			char tmp[3000];
			for (size_t i = 0; i < n; i++)
				tmp[i] = (char)next++;
			assert_int_equal(buf_append(&b, tmp, n), 0);
			memcpy(model + mlen, tmp, n);
			mlen += n;
		} else {
			if (n > mlen)
				n = mlen;
			buf_consume(&b, n);
			memmove(model, model + n, mlen - n);
			mlen -= n;
		}
		assert_int_equal(buf_len(&b), mlen);
		if (mlen > peak)
			peak = mlen;
		if (mlen > 0) {
			assert_memory_equal(buf_data(&b), model, mlen);
		} else {
			assert_null(b.data); /* empty: no memory held */
			peak = 0;
		}
		/* the allocation follows the most queued since it was last empty */
		assert_true(b.cap <= 2 * peak + 256);
	}
	buf_free(&b);
}

/* reserve + commit, and consuming everything releases the allocation. */
static void
test_reserve_commit(void **state)
{
	struct wk_buf b = { 0 };
	char *p;

	(void)state;
	p = buf_reserve(&b, 10);
	assert_non_null(p);
	memcpy(p, "0123456789", 10);
	buf_commit(&b, 4);
	assert_int_equal(buf_len(&b), 4);
	assert_memory_equal(buf_data(&b), "0123", 4);
	buf_consume(&b, 1);
	assert_memory_equal(buf_data(&b), "123", 3);
	buf_consume(&b, 100);
	assert_int_equal(buf_len(&b), 0);
	assert_null(b.data);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_null(b.data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_model),
		cmocka_unit_test(test_reserve_commit),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
