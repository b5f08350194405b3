/* test_addr: the address formatters the audit line uses (written by hand,
 * without printf) give exactly what inet_ntop and printf give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "addr.h"

/* A pseudo-random 32-bit value (xorshift), for reproducible tables. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* IPv6: zero runs of every length at every place, embedded IPv4, and
 * random groups, each compared with inet_ntop (RFC 5952). */
static void
test_ipv6_like_inet_ntop(void **state)
{
	uint32_t seed = 12345;
	char want[INET6_ADDRSTRLEN], got[WK_IP_STRLEN];
	struct wk_ip ip = { .family = AF_INET6 };

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint8_t *b = ip.u.v6.s6_addr;
		for (int k = 0; k < 8; k++) {
			uint32_t r = rnd(&seed);
			/* mostly zero groups, some small, some full */
			unsigned v = (r & 3) == 0 ? r >> 16 : (r & 3) == 1 ? (r >> 8) & 0xf : 0;
			b[2 * k] = (uint8_t)(v >> 8);
			b[2 * k + 1] = (uint8_t)v;
		}
		if (i % 7 == 0) { /* ::ffff:a.b.c.d and ::a.b.c.d */
			memset(b, 0, 10);
			b[10] = b[11] = (i % 14 == 0) ? 0xff : 0;
		}
		assert_non_null(inet_ntop(AF_INET6, b, want, sizeof(want)));
		addr_ip_format(&ip, got);
		assert_string_equal(got, want);
	}
}

/* IPv4 and MAC against printf, and the socket-address forms. */
static void
test_v4_mac_sa(void **state)
{
	uint32_t seed = 99;
	char want[64], got[WK_SA_STRLEN];
	struct wk_ip ip = { .family = AF_INET };
	struct wk_mac m;
	union wk_sockaddr sa;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint32_t r = rnd(&seed);
		if (i % 3 == 0)
			r &= 0x0f0f0f0f;
		memcpy(&ip.u.v4, &r, 4);
		assert_non_null(inet_ntop(AF_INET, &ip.u.v4, want, sizeof(want)));
		addr_ip_format(&ip, got);
		assert_string_equal(got, want);
		for (int k = 0; k < 6; k++)
			m.b[k] = (uint8_t)(rnd(&seed) >> 8);
		snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x",
		    m.b[0], m.b[1], m.b[2], m.b[3], m.b[4], m.b[5]);
		addr_mac_format(&m, got);
		assert_string_equal(got, want);
	}
	assert_int_equal(addr_hostport_parse("10.0.0.1:80", &sa), 0);
	addr_sa_format(&sa.sa, got);
	assert_string_equal(got, "10.0.0.1:80");
	addr_sa_url_host(&sa.sa, got);
	assert_string_equal(got, "10.0.0.1");
	assert_int_equal(addr_hostport_parse("[fd00::1]:65535", &sa), 0);
	addr_sa_format(&sa.sa, got);
	assert_string_equal(got, "[fd00::1]:65535");
	addr_sa_url_host(&sa.sa, got);
	assert_string_equal(got, "[fd00::1]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv6_like_inet_ntop),
		cmocka_unit_test(test_v4_mac_sa),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
