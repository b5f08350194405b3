/* test_ctlproto: cmocka tables for proxy/ctlproto.c -- request lines to
 * parsed commands or exact error messages, and the exact bytes of every
 * answer (status lines, list/show/stats in text and JSON, overflow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctlproto.h"

#define MAC1 "02:00:00:00:00:01"
#define USAGE_ALLOW "(usage: allow MAC [DURATION])"
#define BADSEC " (expected 1..31536000 seconds, or a number with s, m, h or d, at most 365d)"
#define BADMAC " (expected aa:bb:cc:dd:ee:ff)"
#define NOTUNI ": not a unicast station address"
#define CMDS " (commands: allow, deny, list, show, stats, reload)"

/* One parse case: a request line and either the command or the error. */
struct pcase {
	const char *line;
	const char *err;	/* NULL: must parse */
	enum ctl_op op;
	bool json, by_ip;
	const char *arg;	/* the MAC or IP expected, as text */
	uint64_t seconds;
};

static const struct pcase pcases[] = {
	/* allow */
	{ "allow " MAC1 " 3600", NULL, CTL_ALLOW, false, false, MAC1, 3600 },
	{ "allow " MAC1, NULL, CTL_ALLOW, false, false, MAC1, 0 },
	{ "allow 02-00-00-00-00-01 1\n", NULL, CTL_ALLOW, false, false, MAC1, 1 },
	{ "allow 02:00:00:00:00:01 31536000\r\n", NULL, CTL_ALLOW, false, false, MAC1, 31536000 },
	{ "  allow \t02:00:00:00:00:01\t 60  ", NULL, CTL_ALLOW, false, false, MAC1, 60 },
	{ "allow 02:AB:cd:00:00:01 0060", NULL, CTL_ALLOW, false, false, "02:ab:cd:00:00:01", 60 },
	{ "allow " MAC1 " 0", "bad duration \"0\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 31536001", "bad duration \"31536001\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " -5", "bad duration \"-5\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " +5", "bad duration \"+5\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	/* the configuration's duration syntax (conf_parse_duration) */
	{ "allow " MAC1 " 5s", NULL, CTL_ALLOW, false, false, MAC1, 5 },
	{ "allow " MAC1 " 30m", NULL, CTL_ALLOW, false, false, MAC1, 1800 },
	{ "allow " MAC1 " 1h", NULL, CTL_ALLOW, false, false, MAC1, 3600 },
	{ "allow " MAC1 " 2d", NULL, CTL_ALLOW, false, false, MAC1, 172800 },
	{ "allow " MAC1 " 365d", NULL, CTL_ALLOW, false, false, MAC1, 31536000 },
	{ "allow " MAC1 " 366d", "bad duration \"366d\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 0h", "bad duration \"0h\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 1H", "bad duration \"1H\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 1hh", "bad duration \"1hh\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " h", "bad duration \"h\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 1w", "bad duration \"1w\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 0x10", "bad duration \"0x10\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 99999999999999999999999999",
	  "bad duration \"99999999999999999999999999\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " 60 x", "too many arguments " USAGE_ALLOW, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow " MAC1 " --json", "bad duration \"--json\"" BADSEC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow", "missing argument " USAGE_ALLOW, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 1 2 3 4 5 6 7 8 9 10", "too many arguments " USAGE_ALLOW, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 02:00:00:00:00", "bad MAC address \"02:00:00:00:00\"" BADMAC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 02:00:00:00:00:0g", "bad MAC address \"02:00:00:00:00:0g\"" BADMAC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 02:00-00:00:00:01", "bad MAC address \"02:00-00:00:00:01\"" BADMAC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 02:00:00:00:00:001", "bad MAC address \"02:00:00:00:00:001\"" BADMAC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 10.0.0.1", "bad MAC address \"10.0.0.1\"" BADMAC, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 01:00:5e:00:00:01", "bad MAC address \"01:00:5e:00:00:01\"" NOTUNI, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow 00:00:00:00:00:00", "bad MAC address \"00:00:00:00:00:00\"" NOTUNI, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "allow ff:ff:ff:ff:ff:ff 60", "bad MAC address \"ff:ff:ff:ff:ff:ff\"" NOTUNI, CTL_ALLOW, 0, 0, NULL, 0 },
	/* deny */
	{ "deny " MAC1, NULL, CTL_DENY, false, false, MAC1, 0 },
	{ "deny", "missing argument (usage: deny MAC)", CTL_DENY, 0, 0, NULL, 0 },
	{ "deny " MAC1 " 60", "too many arguments (usage: deny MAC)", CTL_DENY, 0, 0, NULL, 0 },
	{ "deny nobody", "bad MAC address \"nobody\"" BADMAC, CTL_DENY, 0, 0, NULL, 0 },
	/* list */
	{ "list", NULL, CTL_LIST, false, false, NULL, 0 },
	{ "list --json", NULL, CTL_LIST, true, false, NULL, 0 },
	{ "list --json\r\n", NULL, CTL_LIST, true, false, NULL, 0 },
	{ "list --xml", "unknown option \"--xml\" (usage: list [--json])", CTL_LIST, 0, 0, NULL, 0 },
	{ "list -j", "unknown option \"-j\" (usage: list [--json])", CTL_LIST, 0, 0, NULL, 0 },
	{ "list --json --json", "--json given twice (usage: list [--json])", CTL_LIST, 0, 0, NULL, 0 },
	{ "list all", "too many arguments (usage: list [--json])", CTL_LIST, 0, 0, NULL, 0 },
	{ "list -", "too many arguments (usage: list [--json])", CTL_LIST, 0, 0, NULL, 0 },
	/* show */
	{ "show " MAC1, NULL, CTL_SHOW, false, false, MAC1, 0 },
	{ "show 10.99.0.10", NULL, CTL_SHOW, false, true, "10.99.0.10", 0 },
	{ "show fd99::10", NULL, CTL_SHOW, false, true, "fd99::10", 0 },
	{ "show --json 10.0.0.1", NULL, CTL_SHOW, true, true, "10.0.0.1", 0 },
	{ "show 10.0.0.1 --json", NULL, CTL_SHOW, true, true, "10.0.0.1", 0 },
	{ "show 01:00:5e:00:00:01", NULL, CTL_SHOW, false, false, "01:00:5e:00:00:01", 0 },
	{ "show", "missing argument (usage: show [--json] MAC|IP)", CTL_SHOW, 0, 0, NULL, 0 },
	{ "show --json", "missing argument (usage: show [--json] MAC|IP)", CTL_SHOW, 0, 0, NULL, 0 },
	{ "show 1.2.3.4 5.6.7.8", "too many arguments (usage: show [--json] MAC|IP)", CTL_SHOW, 0, 0, NULL, 0 },
	{ "show foo", "bad address \"foo\" (expected a MAC or an IP address)", CTL_SHOW, 0, 0, NULL, 0 },
	{ "show 10.0.0.256", "bad address \"10.0.0.256\" (expected a MAC or an IP address)", CTL_SHOW, 0, 0, NULL, 0 },
	{ "show 10.0.0.0/8", "bad address \"10.0.0.0/8\" (expected a MAC or an IP address)", CTL_SHOW, 0, 0, NULL, 0 },
	/* stats, reload */
	{ "stats", NULL, CTL_STATS, false, false, NULL, 0 },
	{ "stats --json", NULL, CTL_STATS, true, false, NULL, 0 },
	{ "stats now", "too many arguments (usage: stats [--json | --prometheus])", CTL_STATS, 0, 0, NULL, 0 },
	{ "stats --prometheus", NULL, CTL_STATS, false, false, NULL, 0 },
	{ "stats --prometheus --json", "--json and --prometheus exclude each other (usage: stats [--json | --prometheus])", CTL_STATS, 0, 0, NULL, 0 },
	{ "stats --prometheus --prometheus", "--prometheus given twice (usage: stats [--json | --prometheus])", CTL_STATS, 0, 0, NULL, 0 },
	{ "list --prometheus", "unknown option \"--prometheus\" (usage: list [--json])", CTL_LIST, 0, 0, NULL, 0 },
	{ "reload", NULL, CTL_RELOAD, false, false, NULL, 0 },
	{ "reload now", "too many arguments (usage: reload)", CTL_RELOAD, 0, 0, NULL, 0 },
	{ "reload --json", "too many arguments (usage: reload)", CTL_RELOAD, 0, 0, NULL, 0 },
	/* the line itself */
	{ "", "empty request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ "\n", "empty request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ " \t \r\n", "empty request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ "ALLOW " MAC1, "unknown command \"ALLOW\"" CMDS, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "frobnicate a b", "unknown command \"frobnicate\"" CMDS, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "a b c d e f g h i j", "unknown command \"a\"" CMDS, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "foo\xc3\xa9", "unknown command \"foo??\"" CMDS, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "\"x\\", "unknown command \"?x?\"" CMDS, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	  "unknown command \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"" CMDS, CTL_ALLOW, 0, 0, NULL, 0 },
	{ "stats\x01", "control character in request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ "stats\x7f", "control character in request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ "stats\rx", "control character in request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ "stats\n\n", "control character in request", CTL_ALLOW, 0, 0, NULL, 0 },
	{ "list\nstats", "control character in request", CTL_ALLOW, 0, 0, NULL, 0 },
};

/* Every parse case: the command fields, or the exact error text. */
static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct ctl_cmd cmd;
		char err[256] = "";
		int rc = ctlproto_parse(c->line, strlen(c->line), &cmd, err, sizeof(err));

		if (c->err != NULL) {
			if (rc != -1 || strcmp(err, c->err) != 0)
				fail_msg("case %zu %s: want error '%s', got rc %d '%s'",
				    i, c->line, c->err, rc, err);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu %s: unexpected error '%s'", i, c->line, err);
		assert_int_equal(cmd.op, c->op);
		assert_int_equal(cmd.json, c->json);
		assert_int_equal(cmd.by_ip, c->by_ip);
		assert_int_equal(cmd.seconds, c->seconds);
		if (c->arg != NULL && c->by_ip) {
			char ip[WK_IP_STRLEN];
			addr_ip_format(&cmd.ip, ip);
			assert_string_equal(ip, c->arg);
		} else if (c->arg != NULL) {
			char mac[WK_MAC_STRLEN];
			addr_mac_format(&cmd.mac, mac);
			assert_string_equal(mac, c->arg);
		}
	}
}

/* The length limit is on the line without its LF or CRLF; NUL is a
 * control character even inside the given length. */
static void
test_parse_length(void **state)
{
	char line[CTL_LINE_MAX + 8], err[128];
	struct ctl_cmd cmd;

	(void)state;
	memset(line, ' ', sizeof(line));
	memcpy(line, "stats", 5);
	assert_int_equal(ctlproto_parse(line, CTL_LINE_MAX, &cmd, err, sizeof(err)), 0);
	line[CTL_LINE_MAX] = '\r';
	line[CTL_LINE_MAX + 1] = '\n';
	assert_int_equal(ctlproto_parse(line, CTL_LINE_MAX + 2, &cmd, err, sizeof(err)), 0);
	/* a final CR alone is the end of the line too */
	assert_int_equal(ctlproto_parse(line, CTL_LINE_MAX + 1, &cmd, err, sizeof(err)), 0);
	line[CTL_LINE_MAX] = ' ';
	assert_int_equal(ctlproto_parse(line, CTL_LINE_MAX + 1, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "request too long (more than 512 bytes)");
	assert_int_equal(ctlproto_parse("stats\0x", 7, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "control character in request");
	/* a tiny error buffer is still terminated */
	assert_int_equal(ctlproto_parse("nope", 4, &cmd, err, 8), -1);
	assert_string_equal(err, "unknown");
	assert_int_equal(ctlproto_parse("nope", 4, &cmd, NULL, 0), -1);
	assert_string_equal(ctlproto_op_name(CTL_ALLOW), "allow");
	assert_string_equal(ctlproto_op_name(CTL_RELOAD), "reload");
	assert_string_equal(ctlproto_op_name((enum ctl_op)99), "?");
	assert_true(ctlproto_is_command("allow"));
	assert_true(ctlproto_is_command("reload"));
	assert_false(ctlproto_is_command("Allow"));
	assert_false(ctlproto_is_command("allowx"));
	assert_false(ctlproto_is_command(""));
}

/* Status lines, the terminator and error answers, byte for byte. */
static void
test_status(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(ctlproto_ok(buf, sizeof(buf)), 3);
	assert_string_equal(buf, "ok\n");
	assert_int_equal(ctlproto_end(buf, sizeof(buf)), 1);
	assert_string_equal(buf, "\n");
	assert_int_equal(ctlproto_error("not found", buf, sizeof(buf)), 17);
	assert_string_equal(buf, "error not found\n\n");
	ctlproto_error("a.conf:1: bad\n\na.conf:2: worse \r\n", buf, sizeof(buf));
	assert_string_equal(buf, "error a.conf:1: bad\na.conf:2: worse\n\n");
	ctlproto_error("\n\nlate\n", buf, sizeof(buf));
	assert_string_equal(buf, "error late\n\n");
	ctlproto_error("", buf, sizeof(buf));
	assert_string_equal(buf, "error unknown error\n\n");
	ctlproto_error(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "error unknown error\n\n");
	ctlproto_error("x\x01y\tz\x7f\r\n", buf, sizeof(buf));
	assert_string_equal(buf, "error x?y?z?\n\n");
	/* too long: the first line is cut, later lines are dropped whole */
	assert_int_equal(ctlproto_error("abcdefghijklmnopqrstuvwxyz", buf, 16), 14);
	assert_string_equal(buf, "error abcdef\n\n");
	assert_int_equal(ctlproto_error("abc\ndefghijkl", buf, 16), 11);
	assert_string_equal(buf, "error abc\n\n");
	assert_int_equal(ctlproto_error("abc\nde", buf, 16), 14);
	assert_string_equal(buf, "error abc\nde\n\n");
	assert_int_equal(ctlproto_ok(buf, 3), 0);
	assert_string_equal(buf, "");
}

/* Timestamps: RFC 3339 UTC seconds, "never", registry monotonic times. */
static void
test_time(void **state)
{
	struct ctl_clock clk = { 1700000000000ULL, 1000000 };
	char ts[CTL_TS_LEN];

	(void)state;
	ctlproto_time(0, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00Z");
	ctlproto_time(1700000000, ts);
	assert_string_equal(ts, "2023-11-14T22:13:20Z");
	ctlproto_time(SESSION_FOREVER, ts);
	assert_string_equal(ts, "never");
	ctlproto_time(SESSION_FOREVER - 1, ts);
	assert_string_equal(ts, "9999-12-31T23:59:59Z");
	ctlproto_mono_time(&clk, 990000, ts);
	assert_string_equal(ts, "2023-11-14T22:13:10Z");
	ctlproto_mono_time(&clk, 2000000, ts); /* in the future: now */
	assert_string_equal(ts, "2023-11-14T22:13:20Z");
}

static const struct ctl_clock CLK = { 1700000000000ULL, 1000000 };

/* A client record: two addresses, the IPv6 one in conflict. */
static struct client_ident
ident_fixture(void)
{
	struct client_ident ci;

	memset(&ci, 0, sizeof(ci));
	assert_int_equal(addr_mac_parse("02:99:00:00:00:0a", &ci.mac), 0);
	ci.randomised = true;
	ci.conflict = true;
	assert_int_equal(addr_mac_parse("02:00:00:00:00:99", &ci.rival), 0);
	ci.first_seen_ms = 400000;
	ci.last_seen_ms = 990000;
	ci.naddrs = 2;
	assert_int_equal(addr_ip_parse("10.99.0.10", &ci.addrs[0].ip), 0);
	ci.addrs[0].last_seen_ms = 990000;
	assert_int_equal(addr_ip_parse("fd99::10", &ci.addrs[1].ip), 0);
	ci.addrs[1].last_seen_ms = 700000;
	ci.addrs[1].conflict = true;
	ci.addrs[1].rival = ci.rival;
	return ci;
}

/* An admitted session granted by wicketctl ten minutes ago for 70 minutes. */
static struct session
session_fixture(void)
{
	struct session s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(addr_mac_parse("02:99:00:00:00:0a", &s.mac), 0);
	s.state = SESSION_ADMITTED;
	s.source = SESSION_SRC_CTL;
	s.reason = SESSION_R_NONE;
	s.start = 1699999400;
	s.expires = 1700003000;
	s.last_seen = 1699999900;
	s.bytes = 12345;
	return s;
}

#define ROW_HDR "MAC                STATE            SOURCE  START                 " \
    "EXPIRES                      BYTES  ADDRESSES\n"

/* `list` in text: the header and one row per session, in every state. */
static void
test_list_text(void **state)
{
	struct client_ident ci = ident_fixture();
	struct session s = session_fixture();
	struct ctl_view v = { .mac = s.mac, .ci = &ci, .s = &s, .why = SESSION_R_NONE };
	char buf[CTL_OUT_LINE];

	(void)state;
	assert_int_equal(ctlproto_list_begin(false, buf, sizeof(buf)), strlen(ROW_HDR));
	assert_string_equal(buf, ROW_HDR);
	ctlproto_list_item(false, 0, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf, "02:99:00:00:00:0a  admitted         ctl     "
	    "2023-11-14T22:03:20Z  2023-11-14T23:03:20Z         12345  "
	    "10.99.0.10,fd99::10\n");
	/* past its idle limit but not swept yet; no registry record */
	v.why = SESSION_R_IDLE;
	v.ci = NULL;
	ctlproto_list_item(false, 1, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf, "02:99:00:00:00:0a  expired/idle     ctl     "
	    "2023-11-14T22:03:20Z  2023-11-14T23:03:20Z         12345  -\n");
	s.state = SESSION_REVOKED;
	s.reason = SESSION_R_REVOKED;
	s.ended = 1699999999;
	v.why = SESSION_R_REVOKED;
	s.source = SESSION_SRC_SPLASH;
	ctlproto_list_item(false, 2, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf, "02:99:00:00:00:0a  revoked          splash  "
	    "2023-11-14T22:03:20Z  2023-11-14T23:03:20Z         12345  -\n");
	s.state = SESSION_EXPIRED;
	s.reason = SESSION_R_TIMEOUT;
	s.expires = SESSION_FOREVER;
	s.source = SESSION_SRC_CONFIG;
	v.why = SESSION_R_TIMEOUT;
	ctlproto_list_item(false, 3, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf, "02:99:00:00:00:0a  expired/timeout  config  "
	    "2023-11-14T22:03:20Z  never                        12345  -\n");
	assert_int_equal(ctlproto_list_end(false, 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* no session: nothing; too small a buffer: 0 and empty */
	v.s = NULL;
	assert_int_equal(ctlproto_list_item(false, 0, &v, &CLK, buf, sizeof(buf)), 0);
	v.s = &s;
	assert_int_equal(ctlproto_list_item(false, 0, &v, &CLK, buf, 40), 0);
	assert_string_equal(buf, "");
}

#define ITEM_JSON "{\"mac\":\"02:99:00:00:00:0a\",\"state\":\"admitted\"," \
    "\"reason\":null,\"source\":\"ctl\",\"start\":\"2023-11-14T22:03:20Z\"," \
    "\"expires\":\"2023-11-14T23:03:20Z\",\"remaining\":3000," \
    "\"last_activity\":\"2023-11-14T22:11:40Z\",\"ended\":null," \
    "\"bytes\":12345,\"ips\":[\"10.99.0.10\",\"fd99::10\"]}"
#define ITEM2_JSON "{\"mac\":\"02:99:00:00:00:0b\",\"state\":\"expired\"," \
    "\"reason\":\"quota\",\"source\":\"signed\",\"start\":\"2023-11-14T22:03:20Z\"," \
    "\"expires\":null,\"remaining\":null," \
    "\"last_activity\":\"2023-11-14T22:11:40Z\",\"ended\":\"2023-11-14T22:12:00Z\"," \
    "\"bytes\":12345,\"ips\":[]}"

/* `list --json`: one JSON array, one object per line, whatever the count. */
static void
test_list_json(void **state)
{
	struct client_ident ci = ident_fixture();
	struct session s = session_fixture(), s2 = session_fixture();
	struct ctl_view v = { .mac = s.mac, .ci = &ci, .s = &s, .why = SESSION_R_NONE };
	struct ctl_view v2 = { .ci = NULL, .s = &s2, .why = SESSION_R_QUOTA };
	char all[4 * CTL_OUT_LINE], buf[CTL_OUT_LINE];
	size_t n = 0, k;

	(void)state;
	assert_int_equal(addr_mac_parse("02:99:00:00:00:0b", &v2.mac), 0);
	s2.state = SESSION_EXPIRED;
	s2.reason = SESSION_R_QUOTA;
	s2.source = SESSION_SRC_SIGNED;
	s2.expires = SESSION_FOREVER;
	s2.ended = 1699999920;
	k = ctlproto_list_begin(true, buf, sizeof(buf));
	memcpy(all + n, buf, k);
	n += k;
	k = ctlproto_list_item(true, 0, &v, &CLK, buf, sizeof(buf));
	assert_int_equal(k, strlen(buf));
	memcpy(all + n, buf, k);
	n += k;
	k = ctlproto_list_item(true, 1, &v2, &CLK, buf, sizeof(buf));
	memcpy(all + n, buf, k);
	n += k;
	k = ctlproto_list_end(true, 2, buf, sizeof(buf));
	memcpy(all + n, buf, k);
	n += k;
	all[n] = '\0';
	assert_string_equal(all, "[\n" ITEM_JSON ",\n" ITEM2_JSON "\n]\n");
	/* an empty list is still a valid array */
	n = ctlproto_list_begin(true, all, sizeof(all));
	n += ctlproto_list_end(true, 0, all + n, sizeof(all) - n);
	assert_string_equal(all, "[\n]\n");
	/* overflow */
	assert_int_equal(ctlproto_list_item(true, 1, &v, &CLK, buf, 64), 0);
	assert_string_equal(buf, "");
}

#define SHOW_TEXT \
	"mac: 02:99:00:00:00:0a\n" \
	"randomised: yes\n" \
	"conflict: yes, with 02:00:00:00:00:99\n" \
	"first_seen: 2023-11-14T22:03:20Z\n" \
	"last_seen: 2023-11-14T22:13:10Z\n" \
	"address: 10.99.0.10 (seen 2023-11-14T22:13:10Z)\n" \
	"address: fd99::10 (seen 2023-11-14T22:08:20Z, conflict with 02:00:00:00:00:99)\n" \
	"session: admitted\n" \
	"source: ctl\n" \
	"start: 2023-11-14T22:03:20Z\n" \
	"expires: 2023-11-14T23:03:20Z\n" \
	"remaining: 3000s\n" \
	"last_activity: 2023-11-14T22:11:40Z\n" \
	"bytes: 12345\n"

#define SHOW_JSON "{\"mac\":\"02:99:00:00:00:0a\",\"query\":\"10.99.0.10\"," \
    "\"client\":{\"randomised\":true,\"conflict\":true,\"rival\":\"02:00:00:00:00:99\"," \
    "\"first_seen\":\"2023-11-14T22:03:20Z\",\"last_seen\":\"2023-11-14T22:13:10Z\"," \
    "\"addresses\":[{\"ip\":\"10.99.0.10\",\"last_seen\":\"2023-11-14T22:13:10Z\"," \
    "\"conflict\":false,\"rival\":null},{\"ip\":\"fd99::10\",\"last_seen\":" \
    "\"2023-11-14T22:08:20Z\",\"conflict\":true,\"rival\":\"02:00:00:00:00:99\"}]}," \
    "\"session\":{\"state\":\"admitted\",\"reason\":null,\"source\":\"ctl\"," \
    "\"start\":\"2023-11-14T22:03:20Z\",\"expires\":\"2023-11-14T23:03:20Z\"," \
    "\"remaining\":3000,\"last_activity\":\"2023-11-14T22:11:40Z\",\"ended\":null," \
    "\"bytes\":12345}}\n"

/* `show`: registry record and session, text and JSON, and the partial
 * cases (no registry record, no session, ended session). */
static void
test_show(void **state)
{
	struct client_ident ci = ident_fixture();
	struct session s = session_fixture();
	struct ctl_view v = { .mac = s.mac, .ci = &ci, .s = &s, .why = SESSION_R_NONE };
	struct wk_ip q;
	char buf[CTL_OUT_LINE];

	(void)state;
	assert_int_equal(ctlproto_show(false, &v, &CLK, buf, sizeof(buf)), strlen(SHOW_TEXT));
	assert_string_equal(buf, SHOW_TEXT);
	assert_int_equal(addr_ip_parse("10.99.0.10", &q), 0);
	v.query = &q;
	assert_int_equal(ctlproto_show(true, &v, &CLK, buf, sizeof(buf)), strlen(SHOW_JSON));
	assert_string_equal(buf, SHOW_JSON);
	/* a session that ended, a MAC the registry does not know */
	v.query = NULL;
	v.ci = NULL;
	s.state = SESSION_REVOKED;
	s.reason = SESSION_R_REVOKED;
	s.ended = 1699999999;
	v.why = SESSION_R_REVOKED;
	ctlproto_show(false, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf,
	    "mac: 02:99:00:00:00:0a\n"
	    "client: not seen on the LAN\n"
	    "session: revoked\n"
	    "source: ctl\n"
	    "start: 2023-11-14T22:03:20Z\n"
	    "expires: 2023-11-14T23:03:20Z\n"
	    "last_activity: 2023-11-14T22:11:40Z\n"
	    "ended: 2023-11-14T22:13:19Z\n"
	    "bytes: 12345\n");
	ctlproto_show(true, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf, "{\"mac\":\"02:99:00:00:00:0a\",\"client\":null,"
	    "\"session\":{\"state\":\"revoked\",\"reason\":\"revoked\",\"source\":\"ctl\","
	    "\"start\":\"2023-11-14T22:03:20Z\",\"expires\":\"2023-11-14T23:03:20Z\","
	    "\"remaining\":null,\"last_activity\":\"2023-11-14T22:11:40Z\","
	    "\"ended\":\"2023-11-14T22:13:19Z\",\"bytes\":12345}}\n");
	/* known on the LAN, no session, no address left */
	ci.naddrs = 0;
	ci.conflict = false;
	v.ci = &ci;
	v.s = NULL;
	ctlproto_show(false, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf,
	    "mac: 02:99:00:00:00:0a\n"
	    "randomised: yes\n"
	    "conflict: no\n"
	    "first_seen: 2023-11-14T22:03:20Z\n"
	    "last_seen: 2023-11-14T22:13:10Z\n"
	    "address: none\n"
	    "session: none\n");
	ctlproto_show(true, &v, &CLK, buf, sizeof(buf));
	assert_string_equal(buf, "{\"mac\":\"02:99:00:00:00:0a\",\"client\":{"
	    "\"randomised\":true,\"conflict\":false,\"rival\":null,"
	    "\"first_seen\":\"2023-11-14T22:03:20Z\",\"last_seen\":\"2023-11-14T22:13:10Z\","
	    "\"addresses\":[]},\"session\":null}\n");
	/* eight addresses fit one line in both forms */
	ci.naddrs = REGISTRY_MAX_ADDRS;
	for (unsigned i = 0; i < REGISTRY_MAX_ADDRS; i++) {
		char ip[64];
		snprintf(ip, sizeof(ip), "fd99:ffff:ffff:ffff:ffff:ffff:ffff:%x", i);
		assert_int_equal(addr_ip_parse(ip, &ci.addrs[i].ip), 0);
		ci.addrs[i].conflict = true;
	}
	v.s = &s;
	assert_true(ctlproto_show(true, &v, &CLK, buf, sizeof(buf)) > 0);
	assert_true(ctlproto_show(false, &v, &CLK, buf, sizeof(buf)) > 0);
	assert_true(ctlproto_list_item(true, 5, &v, &CLK, buf, sizeof(buf)) > 0);
	assert_true(ctlproto_list_item(false, 5, &v, &CLK, buf, sizeof(buf)) > 0);
	/* overflow */
	assert_int_equal(ctlproto_show(true, &v, &CLK, buf, 100), 0);
	assert_string_equal(buf, "");
	assert_int_equal(ctlproto_show(false, &v, &CLK, buf, 100), 0);
	assert_string_equal(buf, "");
}

/* The figures of the stats tests: every field a different number. */
static void
stats_fill(struct ctl_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->gate = (struct gate_stats){ .accepted = 1, .refused = 2,
		.refused_client_connections = 60, .refused_client_rate = 61,
		.refused_full = 62, .refused_no_fds = 63, .shed = 64, .shed_511 = 65,
		.requests = 3,
		.forwarded = 4, .denied = 5, .probes = 6, .portal = 7, .framing_errors = 8,
		.upstream_errors = 9, .timeouts = 10, .bytes_in = 11, .bytes_out = 12 };
	st->connections = 13;
	st->have_sessions = true;
	st->sessions = 14;
	st->admitted = 15;
	st->expired = 40;
	st->revoked = 41;
	st->have_registry = true;
	st->reg = (struct registry_stats){ 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
		32, 33, 34, 35 };
	st->have_sniffer = true;
	st->sniff = (struct sniff_stats){ .seen = 50, .learned = 51, .ignored = 52,
		.malformed = 53, .mismatch = 54, .snapped = 55, .errors = 56, .reopens = 57,
		.kernel_drops = 58, .capturing = 1 };
	st->syslog.sent = 60;
	st->syslog.dropped = 61;
	st->ctl_clients = 28;
	st->ctl_requests = 29;
	st->ctl_errors = 30;
	st->ctl_rejected = 31;
	st->audit_lines = 70;
	st->audit_written = 71;
	st->audit_dropped = 72;
}

/* `stats`: every section in text and JSON, and sections that are off. */
static void
test_stats(void **state)
{
	struct ctl_stats st;
	char buf[16384];

	(void)state;
	stats_fill(&st);
	ctlproto_stats(CTL_TEXT, &st, buf, sizeof(buf));
	assert_string_equal(buf,
	    "paused: no\nconnections: 13\naccepted: 1\nrefused: 2\n"
	    "refused_client_connections: 60\nrefused_client_rate: 61\nrefused_full: 62\n"
	    "refused_no_fds: 63\nshed: 64\nshed_511: 65\nrequests: 3\n"
	    "forwarded: 4\ndenied: 5\nprobes: 6\nportal: 7\nframing_errors: 8\n"
	    "upstream_errors: 9\ntimeouts: 10\nbytes_in: 11\nbytes_out: 12\n"
	    "sessions_total: 14\nsessions_admitted: 15\nsessions_expired: 40\n"
	    "sessions_revoked: 41\n"
	    "registry_clients: 16\nregistry_addresses: 17\nregistry_max_clients: 18\n"
	    "registry_learned: 19\nregistry_rejected: 20\nregistry_new_clients: 21\n"
	    "registry_moves: 22\nregistry_conflicts: 23\nregistry_takeovers: 24\n"
	    "registry_evictions: 25\nregistry_expired: 26\nregistry_addresses_dropped: 27\n"
	    "registry_refused: 32\nregistry_rate_limited: 33\nregistry_admitted: 34\n"
	    "registry_held_moves: 35\n"
	    "sniffer_capturing: 1\nsniffer_seen: 50\nsniffer_learned: 51\n"
	    "sniffer_ignored: 52\nsniffer_malformed: 53\nsniffer_mismatch: 54\n"
	    "sniffer_snapped: 55\nsniffer_errors: 56\nsniffer_reopens: 57\n"
	    "sniffer_kernel_drops: 58\n"
	    "audit_lines: 70\naudit_written: 71\naudit_dropped: 72\n"
	    "audit_syslog_sent: 60\naudit_syslog_dropped: 61\n"
	    "control_clients: 28\ncontrol_requests: 29\ncontrol_errors: 30\n"
	    "control_rejected: 31\n");
	ctlproto_stats(CTL_JSON, &st, buf, sizeof(buf));
	assert_string_equal(buf,
	    "{\"gate\":{\"paused\":false,\"connections\":13,\"accepted\":1,\"refused\":2,"
	    "\"refused_client_connections\":60,\"refused_client_rate\":61,\"refused_full\":62,"
	    "\"refused_no_fds\":63,\"shed\":64,\"shed_511\":65,"
	    "\"requests\":3,\"forwarded\":4,\"denied\":5,\"probes\":6,\"portal\":7,"
	    "\"framing_errors\":8,\"upstream_errors\":9,\"timeouts\":10,\"bytes_in\":11,"
	    "\"bytes_out\":12},\"sessions\":{\"total\":14,\"admitted\":15,\"expired\":40,"
	    "\"revoked\":41},"
	    "\"registry\":{\"clients\":16,\"addresses\":17,\"max_clients\":18,"
	    "\"learned\":19,\"rejected\":20,\"new_clients\":21,\"moves\":22,"
	    "\"conflicts\":23,\"takeovers\":24,\"evictions\":25,\"expired\":26,"
	    "\"addresses_dropped\":27,\"refused\":32,\"rate_limited\":33,"
	    "\"admitted\":34,\"held_moves\":35},"
	    "\"sniffer\":{\"capturing\":1,\"seen\":50,\"learned\":51,\"ignored\":52,"
	    "\"malformed\":53,\"mismatch\":54,\"snapped\":55,\"errors\":56,\"reopens\":57,"
	    "\"kernel_drops\":58},"
	    "\"audit\":{\"lines\":70,\"written\":71,\"dropped\":72,"
	    "\"syslog_sent\":60,\"syslog_dropped\":61},"
	    "\"control\":{\"clients\":28,\"requests\":29,"
	    "\"errors\":30,\"rejected\":31}}\n");
	st.have_sessions = false;
	st.have_registry = false;
	st.have_sniffer = false;
	st.paused = true;
	ctlproto_stats(CTL_TEXT, &st, buf, sizeof(buf));
	assert_non_null(strstr(buf, "paused: yes\n"));
	assert_non_null(strstr(buf, "\nsessions: off\nregistry: off\nsniffer: off\naudit_lines: 70\n"));
	ctlproto_stats(CTL_JSON, &st, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"sessions\":null,\"registry\":null,\"sniffer\":null,\"audit\":{"));
	assert_non_null(strstr(buf, "{\"gate\":{\"paused\":true,"));
	assert_int_equal(ctlproto_stats(CTL_JSON, &st, buf, 64), 0);
	assert_string_equal(buf, "");
	assert_int_equal(ctlproto_stats(CTL_TEXT, &st, buf, 64), 0);
	assert_string_equal(buf, "");
	assert_int_equal(ctlproto_stats(CTL_PROMETHEUS, &st, buf, 64), 0);
	assert_string_equal(buf, "");
}

/* `stats --prometheus`: the text exposition format -- HELP and TYPE once
 * per family, counters ending in _total, the verdicts as one labelled
 * family, booleans as 0/1, sections that are off left out -- and every
 * line well formed. */
static void
test_stats_prometheus(void **state)
{
	struct ctl_stats st;
	char buf[16384], names[128][96];
	size_t nnames = 0;

	(void)state;
	stats_fill(&st);
	assert_true(ctlproto_stats(CTL_PROMETHEUS, &st, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "# TYPE wicket_paused gauge\nwicket_paused 0\n"));
	assert_non_null(strstr(buf, "# HELP wicket_connections client connections open now\n"
	    "# TYPE wicket_connections gauge\nwicket_connections 13\n"));
	assert_non_null(strstr(buf, "# TYPE wicket_accepted_total counter\nwicket_accepted_total 1\n"));
	assert_non_null(strstr(buf, "# TYPE wicket_requests_total counter\nwicket_requests_total 3\n"));
	assert_non_null(strstr(buf,
	    "# HELP wicket_requests_by_verdict_total request records by verdict, as in the audit log\n"
	    "# TYPE wicket_requests_by_verdict_total counter\n"
	    "wicket_requests_by_verdict_total{verdict=\"forward\"} 4\n"
	    "wicket_requests_by_verdict_total{verdict=\"deny\"} 5\n"
	    "wicket_requests_by_verdict_total{verdict=\"probe\"} 6\n"
	    "wicket_requests_by_verdict_total{verdict=\"portal\"} 7\n"));
	assert_non_null(strstr(buf, "# TYPE wicket_sessions_count gauge\nwicket_sessions_count 14\n"));
	assert_non_null(strstr(buf, "wicket_sessions_by_state{state=\"admitted\"} 15\n"
	    "wicket_sessions_by_state{state=\"expired\"} 40\n"
	    "wicket_sessions_by_state{state=\"revoked\"} 41\n"));
	assert_non_null(strstr(buf, "# TYPE wicket_registry_evictions_total counter\n"
	    "wicket_registry_evictions_total 25\n"));
	assert_non_null(strstr(buf, "wicket_sniffer_kernel_drops_total 58\n"));
	assert_non_null(strstr(buf, "wicket_control_rejected_total 31\n"));
	assert_non_null(strstr(buf, "wicket_audit_syslog_dropped_total 61\n"));
	assert_non_null(strstr(buf,
	    "# TYPE wicket_refused_by_reason_total counter\n"
	    "wicket_refused_by_reason_total{reason=\"client_connections\"} 60\n"
	    "wicket_refused_by_reason_total{reason=\"client_connect_rate\"} 61\n"
	    "wicket_refused_by_reason_total{reason=\"max_connections\"} 62\n"
	    "wicket_refused_by_reason_total{reason=\"no_fds\"} 63\n"));
	assert_non_null(strstr(buf, "wicket_shed_511_total 65\n"));
	assert_non_null(strstr(buf, "wicket_audit_dropped_total 72\n"));
	/* every line: a comment with HELP/TYPE, or NAME{LABELS} VALUE; each
	 * family's TYPE appears once */
	for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char name[96];
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%95s", name), 1);
			for (size_t i = 0; i < nnames; i++)
				if (strcmp(names[i], name) == 0)
					fail_msg("TYPE %s twice", name);
			assert_true(nnames < 128);
			snprintf(names[nnames++], sizeof(names[0]), "%s", name);
			continue;
		}
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		/* metric names: [a-zA-Z_:][a-zA-Z0-9_:]*, and ours start wicket_ */
		size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyz_0123456789");
		if (k == 0 || strncmp(line, "wicket_", 7) != 0)
			fail_msg("bad metric line '%s'", line);
		if (line[k] == '{') {
			char *end = strchr(line + k, '}');
			assert_non_null(end);
			k = (size_t)(end - line) + 1;
		}
		if (line[k] != ' ' || strspn(line + k + 1, "0123456789") != strlen(line + k + 1))
			fail_msg("bad sample '%s'", line);
	}
	assert_true(nnames > 40);
	/* off sections are left out */
	stats_fill(&st);
	st.have_registry = false;
	ctlproto_stats(CTL_PROMETHEUS, &st, buf, sizeof(buf));
	assert_null(strstr(buf, "wicket_registry_"));
	assert_non_null(strstr(buf, "wicket_sessions_count 14\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_length),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_list_text),
		cmocka_unit_test(test_list_json),
		cmocka_unit_test(test_show),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_stats_prometheus),
	};
	return cmocka_run_group_tests_name("ctlproto", tests, NULL, NULL);
}
