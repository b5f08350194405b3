/* test_conf: the configuration parser on good and bad files, with the
 * exact FILE:LINE messages, and the promise that proxy.conf.example
 * documents every key with its default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "conf.h"

/* Parse text on top of the defaults. */
static int
parse(struct wk_conf *c, const char *text, struct conf_errors *e)
{
	conf_defaults(c);
	return conf_parse(c, text, strlen(text), "t.conf", e);
}

/* Defaults match the table and make a usable configuration. */
static void
test_defaults(void **state)
{
	struct wk_conf c;
	struct conf_errors e;

	(void)state;
	assert_int_equal(parse(&c, "", &e), 0);
	assert_int_equal(c.n_listen, 2);
	assert_int_equal(c.max_request_line, 8192);
	assert_int_equal(c.max_header_bytes, 32768);
	assert_int_equal(c.max_headers, 100);
	assert_true(c.max_body_bytes == 1073741824ULL);
	assert_int_equal(c.n_require_length, 3);
	assert_string_equal(c.require_length[2], "PATCH");
	assert_int_equal(c.header_timeout, 10);
	assert_int_equal(c.probe_answer, PROBE_302);
	assert_true(c.n_probe_path >= 5);
	assert_string_equal(c.gateway_id, "wicket");
	assert_string_equal(c.audit_log, "-");
	assert_int_equal(c.firewall, FIREWALL_NONE);
}

/* Good values of every type, lists replacing defaults, suffixes. */
static void
test_good(void **state)
{
	struct wk_conf c;
	struct conf_errors e;
	const char *text =
	    "# comment\n"
	    "  listen 10.0.0.1:80   # trailing comment\n"
	    "listen [fd00::1]:8080\n"
	    "portal_url https://login.example.net/p?x=1#frag\n"
	    "max_body_bytes 10M\n"
	    "header_timeout 2m\n"
	    "require_length POST\n"
	    "require_length PUT\n"
	    "probe_path none\n"
	    "allow_ip 192.168.10.0/24\n"
	    "walled_garden 203.0.113.5:443\n"
	    "walled_garden [2001:db8::/32]:443\n"
	    "walled_garden_host login.example.net\n"
	    "allow_mac 02:00:00:00:00:01\n"
	    "firewall nft\n"
	    "interface br-lan\n"
	    "interface br-guest br-lan.20\n"
	    "\n";

	(void)state;
	assert_int_equal(parse(&c, text, &e), 0);
	assert_int_equal(c.n_listen, 2);
	assert_int_equal(c.listen[1].sa.sa_family, AF_INET6);
	assert_string_equal(c.portal_url, "https://login.example.net/p?x=1#frag");
	assert_true(c.max_body_bytes == 10ULL * 1024 * 1024);
	assert_int_equal(c.header_timeout, 120);
	assert_int_equal(c.n_require_length, 2);
	assert_string_equal(c.require_length[1], "PUT");
	assert_int_equal(c.n_probe_path, 0);
	assert_int_equal(c.n_allow_ip, 1);
	assert_int_equal(c.allow_ip[0].bits, 24);
	assert_int_equal(c.n_walled_garden, 2);
	assert_int_equal(c.walled_garden[0].port, 443);
	assert_int_equal(c.walled_garden[1].bits, 32);
	assert_int_equal(c.n_allow_mac, 1);
	assert_int_equal(c.firewall, FIREWALL_NFT);
	assert_int_equal(c.n_interface, 3);
	assert_string_equal(c.interface[0], "br-lan");
	assert_string_equal(c.interface[2], "br-lan.20");
}

/* Each bad line gives exactly this message (and parsing goes on). */
static void
test_bad(void **state)
{
	static const struct {
		const char *text, *msg;
	} rows[] = {
		{ "bogus 1\n", "t.conf:1: unknown key 'bogus'\n" },
		{ "\nheader_timeout\n", "t.conf:2: header_timeout: missing value\n" },
		{ "header_timeout 0\n", "t.conf:1: header_timeout: value out of range: '0'\n" },
		{ "header_timeout 5x\n",
		  "t.conf:1: header_timeout: expected seconds (suffix s, m, h or d allowed): '5x'\n" },
		{ "max_body_bytes -1\n",
		  "t.conf:1: max_body_bytes: expected a byte count (suffix K, M or G allowed): '-1'\n" },
		{ "gateway_id a\ngateway_id b\n", "t.conf:2: gateway_id: repeated key\n" },
		/* The token charset of docs/grants.md, so every link can carry it. */
		{ "gateway_id gw/1\n",
		  "t.conf:1: gateway_id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -: 'gw/1'\n" },
		{ "\ngateway_id "
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "t.conf:2: gateway_id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -: "
		  "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'\n" },
		{ "listen 10.0.0.1\n",
		  "t.conf:1: listen: expected ADDRESS:PORT or [IPv6]:PORT: '10.0.0.1'\n"
		  "t.conf: at least one listen address is required\n" },
		{ "listen fd00::1:80\n",
		  "t.conf:1: listen: expected ADDRESS:PORT or [IPv6]:PORT: 'fd00::1:80'\n"
		  "t.conf: at least one listen address is required\n" },
		{ "portal_url ftp://x/\n",
		  "t.conf:1: portal_url: expected an http:// or https:// URL: 'ftp://x/'\n" },
		{ "allow_ip 10.0.0.1/8\n", "t.conf:1: allow_ip: expected ADDRESS[/BITS]: '10.0.0.1/8'\n" },
		{ "allow_mac ff:ff:ff:ff:ff:ff\n",
		  "t.conf:1: allow_mac: expected a unicast MAC address: 'ff:ff:ff:ff:ff:ff'\n" },
		{ "interface br-lan\ninterface br-lan\n",
		  "t.conf:2: interface: interface given twice: 'br-lan'\n" },
		{ "interface abcdefghijklmnop\n",
		  "t.conf:1: interface: expected an interface name: 'abcdefghijklmnop'\n" },
		{ "allow_mac 00:11:22:33:44\n",
		  "t.conf:1: allow_mac: expected a MAC address aa:bb:cc:dd:ee:ff: '00:11:22:33:44'\n" },
		{ "require_length PO(ST\n",
		  "t.conf:1: require_length: expected HTTP method names: 'PO(ST'\n" },
		{ "probe_path nope\n",
		  "t.conf:1: probe_path: expected a path starting with '/' (no query): 'nope'\n" },
		{ "probe_answer 200\n", "t.conf:1: probe_answer: expected 302 or 511: '200'\n" },
		{ "firewall iptables\n", "t.conf:1: firewall: expected none or nft: 'iptables'\n" },
		{ "audit_log rel/path\n", "t.conf:1: audit_log: expected an absolute path: 'rel/path'\n" },
		{ "walled_garden_host bad_name\n",
		  "t.conf:1: walled_garden_host: expected a host name: 'bad_name'\n" },
		{ "listen none\n", "t.conf: at least one listen address is required\n" },
		{ "max_request_line 40000\n",
		  "t.conf: max_request_line must not exceed max_header_bytes\n" },
		{ "a 1\nb 2\n", "t.conf:1: unknown key 'a'\nt.conf:2: unknown key 'b'\n" },
		{ "log_level loud\n",
		  "t.conf:1: log_level: expected error, warning, info or debug: 'loud'\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct wk_conf c;
		struct conf_errors e;
		if (parse(&c, rows[i].text, &e) != -1 || strcmp(e.text, rows[i].msg) != 0)
			fail_msg("row %zu: input %s\nwant: %sgot:  %s", i, rows[i].text,
			    rows[i].msg, e.text);
	}
}

/* The reasons radius_auth / radius_acct give. */
#define BAD_NAME "expected an address or a host name (RFC 1123: letters, digits " \
	"and '-' in dot-separated labels)"
#define BAD_PORT "expected a port number 1-65535 after ':'"
#define BAD_FORM "expected ADDRESS, NAME, ADDRESS:PORT, NAME:PORT or [IPv6]:PORT"

/* radius_auth / radius_acct: address literals (default port, :PORT,
 * [IPv6]:PORT) and host names (RFC 1123 labels, with or without :PORT)
 * parse into the server; a name is kept to be resolved, never looked up
 * here; garbage is refused with the key and a reason. */
static void
test_radius_servers(void **state)
{
	static const struct {
		const char *value;
		int family;      /* of a literal; 0 for a name */
		const char *name; /* the name kept, or NULL for a literal */
		unsigned port;
		const char *err; /* NULL: accepted */
	} rows[] = {
		{ "192.0.2.10", AF_INET, NULL, 1812, NULL },
		{ "192.0.2.10:11812", AF_INET, NULL, 11812, NULL },
		{ "2001:db8::10", AF_INET6, NULL, 1812, NULL },
		{ "[2001:db8::10]:1645", AF_INET6, NULL, 1645, NULL },
		{ "radius.example.net", 0, "radius.example.net", 1812, NULL },
		{ "radius.example.net:1645", 0, "radius.example.net", 1645, NULL },
		{ "radius", 0, "radius", 1812, NULL },
		{ "r-1.x9.example:65535", 0, "r-1.x9.example", 65535, NULL },
		{ "3com.example", 0, "3com.example", 1812, NULL },
		{ "radius.example.net:0", 0, NULL, 0, BAD_PORT },
		{ "radius.example.net:65536", 0, NULL, 0, BAD_PORT },
		{ "radius.example.net:", 0, NULL, 0, BAD_PORT },
		{ "radius.example.net:18x", 0, NULL, 0, BAD_PORT },
		{ "192.0.2.10:0", 0, NULL, 0, BAD_PORT },
		{ "radius_1.example", 0, NULL, 0, BAD_NAME },
		{ "-radius.example", 0, NULL, 0, BAD_NAME },
		{ "radius-.example", 0, NULL, 0, BAD_NAME },
		{ "radius..example", 0, NULL, 0, BAD_NAME },
		{ "radius.example.", 0, NULL, 0, BAD_NAME },
		/* A mistyped address is an error, not a name to look up. */
		{ "192.0.2.300", 0, NULL, 0, BAD_NAME },
		{ "192.0.2.300:1812", 0, NULL, 0, BAD_NAME },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		  0, NULL, 0, BAD_NAME },
		/* IPv6 with a port keeps its brackets; a bad bracket is no name. */
		{ "2001:db8::10:1812:x", 0, NULL, 0, BAD_FORM },
		{ "[2001:db8::10]", 0, NULL, 0, BAD_FORM },
		{ "[radius.example]:1812", 0, NULL, 0, BAD_FORM },
		{ ":1812", 0, NULL, 0, BAD_FORM },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int acct = 0; acct < 2; acct++) {
			const char *key = acct ? "radius_acct" : "radius_auth";
			unsigned port = rows[i].port == 1812 && acct ? 1813 : rows[i].port;
			char text[512], want[512];
			struct wk_conf c;
			struct conf_errors e;
			const struct conf_radsrv *rs = acct ? &c.radius_acct[0] : &c.radius_auth[0];
			int rc;

			snprintf(text, sizeof(text), "radius_secret_file /etc/wicket/radius.secret\n"
			    "%s %s\n", key, rows[i].value);
			rc = parse(&c, text, &e);
			if (rows[i].err != NULL) {
				snprintf(want, sizeof(want), "t.conf:2: %s: %s: '%s'\n", key,
				    rows[i].err, rows[i].value);
				if (rc != -1 || strcmp(e.text, want) != 0)
					fail_msg("row %zu (%s): want %sgot %s", i, key, want, e.text);
				continue;
			}
			if (rc != 0)
				fail_msg("row %zu (%s): refused: %s", i, key, e.text);
			assert_int_equal(acct ? c.n_radius_acct : c.n_radius_auth, 1);
			assert_int_equal(rs->port, port);
			if (rows[i].name != NULL) {
				assert_string_equal(rs->name, rows[i].name);
				assert_int_equal(rs->sa.sa.sa_family, 0);
			} else {
				assert_string_equal(rs->name, "");
				assert_int_equal(rs->sa.sa.sa_family, rows[i].family);
				assert_int_equal(ntohs(rs->sa.sin.sin_port), port);
			}
		}
	}
}

/* A NUL byte or CR in the file is an error, not a silent truncation. */
static void
test_binary(void **state)
{
	struct wk_conf c;
	struct conf_errors e;
	static const char text[] = "gateway_id a\0b\nheader_timeout 3\r\n";

	(void)state;
	conf_defaults(&c);
	assert_int_equal(conf_parse(&c, text, sizeof(text) - 1, "t.conf", &e), -1);
	assert_string_equal(e.text, "t.conf:1: NUL or CR in line\nt.conf:2: NUL or CR in line\n");
}

/* proxy.conf.example parses, and names every key with its default. */
static void
test_example_documents_every_key(void **state)
{
	static char buf[1 << 16];
	struct wk_conf c;
	struct conf_errors e;
	FILE *f = fopen(SRCDIR "/proxy.conf.example", "r");
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	conf_defaults(&c);
	assert_int_equal(conf_parse(&c, buf, n, "proxy.conf.example", &e), 0);
	for (size_t i = 0; i < conf_nkeys(); i++) {
		const char *k = conf_key_name(i), *d = conf_key_default(i);
		char want[1200];
		if (strcmp(k, "listen") == 0)
			continue; /* active lines, checked by the parse above */
		if (d[0] == '\0')
			snprintf(want, sizeof(want), "\n#%s\n", k);
		else
			snprintf(want, sizeof(want), "\n#%s %s\n", k, d);
		if (strstr(buf, want) == NULL &&
		    !(strchr(d, ' ') == NULL && d[0] == '\0' &&
			snprintf(want, sizeof(want), "\n#%s none\n", k) > 0 &&
			strstr(buf, want) != NULL))
			fail_msg("proxy.conf.example lacks the line '#%s %s'", k, d);
	}
}

/* A later check (wicketd -n: files, interface) names the line the key was
 * set on, or the file alone for a default. */
static void
test_key_error_line(void **state)
{
	struct wk_conf c;
	struct conf_errors e, later;

	(void)state;
	assert_int_equal(parse(&c, "# x\n\nsplash_terms /nope\n", &e), 0);
	memset(&later, 0, sizeof(later));
	conf_key_error(&later, &c, "t.conf", "splash_terms", "/nope: missing");
	conf_key_error(&later, &c, "t.conf", "grant_key", "default");
	assert_string_equal(later.text, "t.conf:3: splash_terms: /nope: missing\n"
	    "t.conf: grant_key: default\n");
	assert_int_equal(later.count, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_radius_servers),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_key_error_line),
		cmocka_unit_test(test_example_documents_every_key),
	};
	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
