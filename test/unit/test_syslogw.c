/* test_syslogw: the audit_syslog datagram -- facility names and codes, the
 * RFC 3164 header (priority, local time, tag and pid), and a line too long
 * for one datagram refused rather than cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "conf.h"
#include "syslogw.h"

/* Names map to their RFC 5424 codes; anything else is refused. */
static void
test_facilities(void **state)
{
	static const struct {
		const char *name;
		int code;
	} rows[] = {
		{ "user", 1 }, { "daemon", 3 }, { "auth", 4 }, { "authpriv", 10 },
		{ "local0", 16 }, { "local3", 19 }, { "local7", 23 },
		{ "local8", -1 }, { "kern", -1 }, { "none", -1 }, { "", -1 }, { "LOCAL0", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (conf_syslog_facility(rows[i].name) != rows[i].code)
			fail_msg("%s: %d", rows[i].name, conf_syslog_facility(rows[i].name));
}

/* The exact datagram, in UTC so that the test does not depend on the zone. */
static void
test_format(void **state)
{
	static const char line[] = "{\"ts\":\"2026-03-04T05:06:07.089Z\",\"event\":\"request\"}";
	char buf[256];
	size_t n;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	/* 2026-03-04T05:06:07.089Z */
	n = syslogw_format(buf, sizeof(buf), 19, INT64_C(1772600767089), "wicket-audit", 42,
	    line, strlen(line));
	buf[n] = '\0';
	assert_string_equal(buf, "<158>Mar  4 05:06:07 wicket-audit[42]: " "{\"ts\":\"2026-03-04T05:06:07.089Z\",\"event\":\"request\"}");
	/* day of month with two digits, another facility */
	n = syslogw_format(buf, sizeof(buf), 3, INT64_C(1798675200000), "t", 1, "x", 1);
	buf[n] = '\0';
	assert_string_equal(buf, "<30>Dec 31 00:00:00 t[1]: x");
	/* no room: refused, never cut */
	assert_int_equal(syslogw_format(buf, 40, 19, 0, "wicket-audit", 42, line, strlen(line)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facilities),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests_name("syslogw", tests, NULL, NULL);
}
