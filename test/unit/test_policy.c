/* test_policy: the per-request decision table -- gate pages, walled
 * garden, allow_ip, allow_mac, sessions, conflicts and probes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

/* One row: inputs and the expected verdict and reason. */
struct row {
	const char *name;
	const char *client, *dst;
	uint16_t port;
	bool gate, mac_known, conflict, session;
	const char *mac;
	const char *path;
	enum verdict want;
	const char *reason;
};

/* Every row of the decision table gives its verdict and reason. */
static void
test_table(void **state)
{
	static const struct row rows[] = {
		{ "gate pages first", "10.0.0.9", "10.0.0.1", 80, true, false, false, false, NULL, "/", V_PORTAL, "gate" },
		{ "unknown client denied", "10.0.0.9", "198.51.100.1", 80, false, false, false, false, NULL, "/", V_DENY, "unknown_mac" },
		{ "probe gets 302", "10.0.0.9", "198.51.100.1", 80, false, false, false, false, NULL, "/generate_204", V_PROBE, "unknown_mac" },
		{ "probe prefix is not a probe", "10.0.0.9", "198.51.100.1", 80, false, false, false, false, NULL, "/generate_2045", V_DENY, "unknown_mac" },
		{ "walled garden port", "10.0.0.9", "203.0.113.5", 443, false, false, false, false, NULL, "/", V_FORWARD, "walled_garden" },
		{ "walled garden other port", "10.0.0.9", "203.0.113.5", 80, false, false, false, false, NULL, "/", V_DENY, "unknown_mac" },
		{ "walled garden prefix", "10.0.0.9", "192.0.2.77", 80, false, false, false, false, NULL, "/", V_FORWARD, "walled_garden" },
		{ "allow_ip subnet", "10.1.2.3", "198.51.100.1", 80, false, false, false, false, NULL, "/", V_FORWARD, "allow_ip" },
		{ "allow_mac", "10.0.0.9", "198.51.100.1", 80, false, true, false, false, "02:00:00:00:00:01", "/", V_FORWARD, "allow_mac" },
		{ "allow_mac vetoed by conflict", "10.0.0.9", "198.51.100.1", 80, false, true, true, false, "02:00:00:00:00:01", "/", V_DENY, "arp_conflict" },
		{ "session admits", "10.0.0.9", "198.51.100.1", 80, false, true, false, true, "02:00:00:00:00:02", "/", V_FORWARD, "session" },
		{ "session vetoed by conflict", "10.0.0.9", "198.51.100.1", 80, false, true, true, true, "02:00:00:00:00:02", "/", V_DENY, "arp_conflict" },
		{ "known mac without session", "10.0.0.9", "198.51.100.1", 80, false, true, false, false, "02:00:00:00:00:02", "/", V_DENY, "no_session" },
		{ "v6 client unknown", "fd00::9", "2001:db8::1", 80, false, false, false, false, NULL, "/", V_DENY, "unknown_mac" },
	};
	struct wk_conf c;
	struct conf_errors e;
	const char *text = "allow_ip 10.1.0.0/16\nwalled_garden 203.0.113.5:443\n"
			   "walled_garden 192.0.2.0/24\nallow_mac 02:00:00:00:00:01\n";

	(void)state;
	conf_defaults(&c);
	assert_int_equal(conf_parse(&c, text, strlen(text), "t", &e), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct policy_in in = { .conf = &c };
		struct wk_mac mac;
		const char *why = NULL;
		assert_int_equal(addr_ip_parse(r->client, &in.client), 0);
		assert_int_equal(addr_ip_parse(r->dst, &in.dst), 0);
		in.dst_port = r->port;
		in.dst_is_gate = r->gate;
		if (r->mac_known) {
			assert_int_equal(addr_mac_parse(r->mac, &mac), 0);
			in.mac = &mac;
		}
		in.mac_conflict = r->conflict;
		in.session_admitted = r->session;
		in.path = r->path;
		in.path_len = strlen(r->path);
		enum verdict v = policy_decide(&in, &why);
		if (v != r->want || strcmp(why, r->reason) != 0)
			fail_msg("%s: got %s/%s want %s/%s", r->name, policy_verdict_name(v),
			    why, policy_verdict_name(r->want), r->reason);
	}
}

/* probe_answer 511 turns probes into ordinary denials. */
static void
test_probe_511(void **state)
{
	struct wk_conf c;
	struct conf_errors e;
	struct policy_in in = { .conf = &c, .path = "/generate_204", .path_len = 13 };
	const char *why;

	(void)state;
	conf_defaults(&c);
	assert_int_equal(conf_parse(&c, "probe_answer 511\n", 17, "t", &e), 0);
	assert_int_equal(addr_ip_parse("10.0.0.9", &in.client), 0);
	assert_int_equal(addr_ip_parse("198.51.100.1", &in.dst), 0);
	assert_int_equal(policy_decide(&in, &why), V_DENY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_probe_511),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
