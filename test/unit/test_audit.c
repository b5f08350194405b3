/* test_audit: the audit record format -- field set, RFC 3339 timestamps,
 * escaping of control and non-ASCII bytes, null for unknown values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

/* A request record, byte for byte: every field, escaping and null. */
static void
test_request_line(void **state)
{
	char buf[AUDIT_LINE_MAX];
	struct audit_req r = {
		.ts_ms = 1795000000123LL,
		.client_ip = "10.99.0.10",
		.mac = NULL,
		.dst = "10.98.0.2:80",
		.method = "GET",
		.host = "a\"b\\c\x01\x7f\xe9",
		.path = "/p\n",
		.verdict = "deny",
		.reason = "unknown_mac",
		.status = 511,
		.bytes_in = 10,
		.bytes_out = 20,
		.ms = 3,
	};
	size_t n = audit_format_request(buf, sizeof(buf), &r);
	static const char want[] =
	    "{\"ts\":\"2026-11-18T11:06:40.123Z\",\"event\":\"request\","
	    "\"client_ip\":\"10.99.0.10\",\"interface\":null,\"mac\":null,\"mac_random\":false,"
	    "\"dst\":\"10.98.0.2:80\",\"method\":\"GET\","
	    "\"host\":\"a\\\"b\\\\c\\u0001\\u007f\\u00e9\",\"path\":\"/p\\u000a\","
	    "\"verdict\":\"deny\",\"reason\":\"unknown_mac\",\"status\":511,"
	    "\"upstream_status\":null,\"bytes_in\":10,\"bytes_out\":20,\"ms\":3}\n";

	(void)state;
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, n);
	r.iface = "br-lan.20";
	n = audit_format_request(buf, sizeof(buf), &r);
	assert_non_null(strstr(buf, "\"client_ip\":\"10.99.0.10\",\"interface\":\"br-lan.20\",\"mac\":null,"));
}

/* The connection's members formatted once (audit_format_who, as txn.c
 * keeps them) give the line byte for byte, for every kind of member; a
 * fragment that does not fit is 0. */
static void
test_who_fragment(void **state)
{
	static const struct { const char *iface, *mac; bool random; } rows[] = {
		{ NULL, NULL, false },
		{ "br-lan.20", "02:99:00:00:00:0a", true },
		{ "odd\"if\x01", "02:99:00:00:00:0b", false },
	};
	char plain[AUDIT_LINE_MAX], viawho[AUDIT_LINE_MAX], who[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct audit_req r = {
			.ts_ms = 1795000000123LL, .client_ip = "fd99::10",
			.iface = rows[i].iface, .mac = rows[i].mac,
			.mac_random = rows[i].random, .dst = "[fd98::2]:80",
			.method = "GET", .host = "h", .path = "/p", .verdict = "deny",
			.reason = "no_session", .status = 511, .bytes_in = 1, .bytes_out = 2,
		};
		size_t n = audit_format_request(plain, sizeof(plain), &r), m;

		r.who_len = audit_format_who(who, sizeof(who), &r);
		assert_true(r.who_len > 0);
		r.who = who;
		r.client_ip = r.dst = "wrong"; /* not read with a fragment */
		m = audit_format_request(viawho, sizeof(viawho), &r);
		assert_int_equal(m, n);
		assert_memory_equal(viawho, plain, n);
	}
	{
		struct audit_req r = { .client_ip = "10.99.0.10", .dst = "10.98.0.2:80" };
		assert_int_equal(audit_format_who(who, 40, &r), 0);
	}
}

/* A record that does not fit is reported as 0, never cut mid-object. */
static void
test_overflow(void **state)
{
	char buf[64];
	struct audit_req r = { .client_ip = "x", .dst = "y", .method = "GET",
		.path = "/", .verdict = "deny", .reason = "r" };

	(void)state;
	assert_int_equal(audit_format_request(buf, sizeof(buf), &r), 0);
}

/* Lines of one pass go out with one write; a pipe that takes only part
 * of them gets whole lines, the line it took in part is finished first in
 * the next pass, and nothing is lost or torn; a full queue drops whole
 * lines and counts them. */
static void
test_batch_to_small_pipe(void **state)
{
	char dir[] = "/tmp/wk-audit-XXXXXX", path[64], line[128], got[65536];
	struct audit_stats st;
	size_t want_len = 0, got_len = 0;
	static char want[65536];
	int rd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_int_equal(audit_open(path), 0);
	(void)fcntl(rd, F_SETPIPE_SZ, 4096);
	for (int i = 0; i < 100; i++) {
		int n = snprintf(line, sizeof(line), "{\"n\":%d,\"pad\":\"%060d\"}\n", i, i);
		audit_write(line, (size_t)n);
		memcpy(want + want_len, line, (size_t)n);
		want_len += (size_t)n;
	}
	for (int pass = 0; pass < 100 && got_len < want_len; pass++) {
		ssize_t n;
		audit_flush();
		while ((n = read(rd, got + got_len, sizeof(got) - got_len)) > 0)
			got_len += (size_t)n;
	}
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	audit_get_stats(&st);
	assert_int_equal(st.queued, 100);
	assert_int_equal(st.written, 100);
	assert_int_equal(st.dropped, 0);
	/* nobody reads: the queue fills, the lines beyond it are dropped whole */
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof(line), "{\"n\":%d,\"pad\":\"%060d\"}\n", i, i);
		audit_write(line, (size_t)n);
	}
	audit_flush();
	audit_get_stats(&st);
	assert_true(st.dropped > 0);
	assert_true(st.queued - st.written - st.dropped <= AUDIT_BATCH / 80);
	audit_close();
	close(rd);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_who_fragment),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_batch_to_small_pipe),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
