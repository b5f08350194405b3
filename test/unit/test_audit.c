/* test_audit: the audit record format -- field set, RFC 3339 timestamps,
 * escaping of control and non-ASCII bytes, null for unknown values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
