/* test_firewall: the nft command text of proxy/firewall.c byte for byte
 * (admit, revoke, reply sets, sync, probe), rejection of unusable input, and
 * the libnftables shell against real sets in a private network namespace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_NFTABLES
#include <nftables/libnftables.h>
#endif

#include "firewall.h"
#include "log.h"

#define MAC_A "02:99:00:00:00:0a"
#define MAC_B "02:99:00:00:00:0b"

/* A MAC from its text form (the test's own input). */
static struct wk_mac
mac_of(const char *s)
{
	struct wk_mac m;

	assert_int_equal(addr_mac_parse(s, &m), 0);
	return m;
}

/* An address from its text form. */
static struct wk_ip
ip_of(const char *s)
{
	struct wk_ip ip;

	assert_int_equal(addr_ip_parse(s, &ip), 0);
	return ip;
}

/* Run a builder into a large buffer and check it returned the text length. */
#define FORMAT(buf, call) do { \
	size_t n_ = (call); \
	assert_true(n_ > 0); \
	assert_true(n_ < sizeof(buf)); \
	assert_int_equal(n_, strlen(buf)); \
} while (0)

/* Admission of a MAC with IPv4, IPv6, a duplicate and an IPv4-mapped
 * address: one command per set, duplicates gone, mapped written as IPv4. */
static void
test_admit_text(void **state)
{
	struct wk_mac m = mac_of(MAC_A);
	struct wk_ip ips[4] = { ip_of("10.99.0.10"), ip_of("fd99::10"),
				ip_of("10.99.0.10"), ip_of("::ffff:10.99.0.11") };
	char buf[2048];

	(void)state;
	FORMAT(buf, firewall_format_admit(buf, sizeof(buf), "wicket", &m, ips,
	    4, true));
	assert_string_equal(buf,
	    "add element inet wicket allowed_mac { 02:99:00:00:00:0a }\n"
	    "add element inet wicket allowed4 { 02:99:00:00:00:0a . 10.99.0.10, "
	    "02:99:00:00:00:0a . 10.99.0.11 }\n"
	    "add element inet wicket allowed6 { 02:99:00:00:00:0a . fd99::10 }\n"
	    "add element inet wicket allowed4_dst { 10.99.0.10, 10.99.0.11 }\n"
	    "add element inet wicket allowed6_dst { fd99::10 }\n");
}

/* Revocation: every element is added, then deleted, so that a delete of an
 * element that was never there cannot fail the transaction. */
static void
test_revoke_text(void **state)
{
	struct wk_mac m = mac_of(MAC_A);
	struct wk_ip ips[2] = { ip_of("fd99::10"), ip_of("10.99.0.10") };
	char buf[2048];

	(void)state;
	FORMAT(buf, firewall_format_admit(buf, sizeof(buf), "gate_1", &m, ips,
	    2, false));
	assert_string_equal(buf,
	    "add element inet gate_1 allowed_mac { 02:99:00:00:00:0a }\n"
	    "delete element inet gate_1 allowed_mac { 02:99:00:00:00:0a }\n"
	    "add element inet gate_1 allowed4 { 02:99:00:00:00:0a . 10.99.0.10 }\n"
	    "delete element inet gate_1 allowed4 { 02:99:00:00:00:0a . 10.99.0.10 }\n"
	    "add element inet gate_1 allowed6 { 02:99:00:00:00:0a . fd99::10 }\n"
	    "delete element inet gate_1 allowed6 { 02:99:00:00:00:0a . fd99::10 }\n"
	    "add element inet gate_1 allowed4_dst { 10.99.0.10 }\n"
	    "delete element inet gate_1 allowed4_dst { 10.99.0.10 }\n"
	    "add element inet gate_1 allowed6_dst { fd99::10 }\n"
	    "delete element inet gate_1 allowed6_dst { fd99::10 }\n");
}

/* A MAC whose addresses are not known yet: only the MAC set changes. */
static void
test_admit_mac_only(void **state)
{
	struct wk_mac m = mac_of("ff:ee:dd:cc:bb:aa");
	char buf[512];

	(void)state;
	FORMAT(buf, firewall_format_admit(buf, sizeof(buf), "wicket", &m, NULL,
	    0, true));
	assert_string_equal(buf,
	    "add element inet wicket allowed_mac { ff:ee:dd:cc:bb:aa }\n");
	FORMAT(buf, firewall_format_admit(buf, sizeof(buf), "wicket", &m, NULL,
	    0, false));
	assert_string_equal(buf,
	    "add element inet wicket allowed_mac { ff:ee:dd:cc:bb:aa }\n"
	    "delete element inet wicket allowed_mac { ff:ee:dd:cc:bb:aa }\n");
}

/* The reply-set builder, used to keep an address another MAC still holds. */
static void
test_dst_text(void **state)
{
	struct wk_ip ips[3] = { ip_of("2001:db8::1"), ip_of("192.0.2.7"),
				ip_of("192.0.2.7") };
	char buf[512];

	(void)state;
	FORMAT(buf, firewall_format_dst(buf, sizeof(buf), "wicket", ips, 3,
	    true));
	assert_string_equal(buf,
	    "add element inet wicket allowed4_dst { 192.0.2.7 }\n"
	    "add element inet wicket allowed6_dst { 2001:db8::1 }\n");
	FORMAT(buf, firewall_format_dst(buf, sizeof(buf), "wicket", ips, 1,
	    false));
	assert_string_equal(buf,
	    "add element inet wicket allowed6_dst { 2001:db8::1 }\n"
	    "delete element inet wicket allowed6_dst { 2001:db8::1 }\n");
	assert_int_equal(firewall_format_dst(buf, sizeof(buf), "wicket", ips,
	    0, true), 0);
}

/* Sync: five flushes, then one add per set across all entries (entries
 * without addresses contribute their MAC only; a shared address twice,
 * which nft accepts in an add). */
static void
test_sync_text(void **state)
{
	struct firewall_entry e[3];
	char buf[4096];

	(void)state;
	memset(e, 0, sizeof(e));
	e[0].mac = mac_of(MAC_A);
	e[0].ips[0] = ip_of("10.99.0.10");
	e[0].ips[1] = ip_of("fd99::10");
	e[0].nips = 2;
	e[1].mac = mac_of(MAC_B);
	e[1].nips = 0;
	e[2].mac = mac_of("02:99:00:00:00:0c");
	e[2].ips[0] = ip_of("10.99.0.12");
	e[2].ips[1] = ip_of("10.99.0.10");
	e[2].nips = 2;
	FORMAT(buf, firewall_format_sync(buf, sizeof(buf), "wicket", e, 3));
	assert_string_equal(buf,
	    "flush set inet wicket allowed_mac\n"
	    "flush set inet wicket allowed4\n"
	    "flush set inet wicket allowed6\n"
	    "flush set inet wicket allowed4_dst\n"
	    "flush set inet wicket allowed6_dst\n"
	    "add element inet wicket allowed_mac { 02:99:00:00:00:0a, "
	    "02:99:00:00:00:0b, 02:99:00:00:00:0c }\n"
	    "add element inet wicket allowed4 { 02:99:00:00:00:0a . 10.99.0.10, "
	    "02:99:00:00:00:0c . 10.99.0.12, 02:99:00:00:00:0c . 10.99.0.10 }\n"
	    "add element inet wicket allowed6 { 02:99:00:00:00:0a . fd99::10 }\n"
	    "add element inet wicket allowed4_dst { 10.99.0.10, 10.99.0.12, "
	    "10.99.0.10 }\n"
	    "add element inet wicket allowed6_dst { fd99::10 }\n");
	/* Nobody admitted: the sets are emptied. */
	FORMAT(buf, firewall_format_sync(buf, sizeof(buf), "wicket", NULL, 0));
	assert_string_equal(buf,
	    "flush set inet wicket allowed_mac\n"
	    "flush set inet wicket allowed4\n"
	    "flush set inet wicket allowed6\n"
	    "flush set inet wicket allowed4_dst\n"
	    "flush set inet wicket allowed6_dst\n");
}

/* Count the lines of s that start with prefix. */
static size_t
count_lines(const char *s, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);
	const char *p = s;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, pl) == 0)
			n++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* A large sync is split into commands of at most 256 elements, all of them
 * present once. */
static void
test_sync_chunks(void **state)
{
	enum { N = 600 };
	struct firewall_entry *e = calloc(N, sizeof(*e));
	size_t need;
	char *buf;

	(void)state;
	assert_non_null(e);
	for (unsigned i = 0; i < N; i++) {
		e[i].mac.b[0] = 0x02;
		e[i].mac.b[4] = (uint8_t)(i >> 8);
		e[i].mac.b[5] = (uint8_t)i;
		e[i].ips[0].family = AF_INET;
		e[i].ips[0].u.v4.s_addr = htonl(0x0a000000u + i);
		e[i].nips = 1;
	}
	need = firewall_format_sync(NULL, 0, "wicket", e, N);
	assert_true(need > 0);
	buf = malloc(need + 1);
	assert_non_null(buf);
	assert_int_equal(firewall_format_sync(buf, need + 1, "wicket", e, N), need);
	assert_int_equal(strlen(buf), need);
	/* 600 = 256 + 256 + 88 for each of the three non-empty sets */
	assert_int_equal(count_lines(buf, "add element inet wicket allowed_mac "), 3);
	assert_int_equal(count_lines(buf, "add element inet wicket allowed4 "), 3);
	assert_int_equal(count_lines(buf, "add element inet wicket allowed4_dst "), 3);
	assert_int_equal(count_lines(buf, "add element inet wicket allowed6"), 0);
	assert_non_null(strstr(buf, "02:00:00:00:02:57 . 10.0.2.87 }\n"));
	assert_non_null(strstr(buf, "{ 02:00:00:00:01:00 . 10.0.1.0, "));
	free(buf);
	free(e);
}

/* The dry-run probe names every set with a placeholder of its key type. */
static void
test_probe_text(void **state)
{
	char buf[1024];

	(void)state;
	FORMAT(buf, firewall_format_probe(buf, sizeof(buf), "wicket"));
	assert_string_equal(buf,
	    "add element inet wicket allowed_mac { 00:00:00:00:00:00 }\n"
	    "add element inet wicket allowed4 { 00:00:00:00:00:00 . 0.0.0.0 }\n"
	    "add element inet wicket allowed6 { 00:00:00:00:00:00 . :: }\n"
	    "add element inet wicket allowed4_dst { 0.0.0.0 }\n"
	    "add element inet wicket allowed6_dst { :: }\n");
}

/* Table names that could carry nft syntax, or that nft would not take,
 * are refused by every builder; good ones pass. */
static void
test_table_names(void **state)
{
	static const char *const bad[] = {
		"", "1abc", "_x", "a b", "wicket;flush ruleset", "w}", "w{",
		"w\"", "w\n", "w-x", "w.x", "w/x", "w#", "w$x", "w@x",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char *const good[] = { "wicket", "W", "gate_2",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	struct wk_mac m = mac_of(MAC_A);
	struct wk_ip ip = ip_of("10.0.0.1");
	char buf[512];

	(void)state;
	assert_false(firewall_table_valid(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(firewall_table_valid(bad[i]));
		strcpy(buf, "untouched");
		assert_int_equal(firewall_format_admit(buf, sizeof(buf), bad[i],
		    &m, &ip, 1, true), 0);
		assert_int_equal(firewall_format_sync(buf, sizeof(buf), bad[i],
		    NULL, 0), 0);
		assert_int_equal(firewall_format_dst(buf, sizeof(buf), bad[i],
		    &ip, 1, true), 0);
		assert_int_equal(firewall_format_probe(buf, sizeof(buf), bad[i]), 0);
		assert_string_equal(buf, "");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(firewall_table_valid(good[i]));
		assert_true(firewall_format_probe(NULL, 0, good[i]) > 0);
	}
}

/* Addresses of no known family, too many addresses in a sync entry, and
 * missing arrays are refused rather than written half. */
static void
test_invalid_input(void **state)
{
	struct wk_mac m = mac_of(MAC_A);
	struct wk_ip ips[2] = { ip_of("10.0.0.1"), ip_of("10.0.0.2") };
	struct firewall_entry e;
	char buf[512];

	(void)state;
	ips[1].family = AF_UNIX;
	assert_int_equal(firewall_format_admit(buf, sizeof(buf), "wicket", &m,
	    ips, 2, true), 0);
	assert_string_equal(buf, "");
	assert_int_equal(firewall_format_admit(buf, sizeof(buf), "wicket", &m,
	    ips, 2, false), 0);
	assert_int_equal(firewall_format_dst(buf, sizeof(buf), "wicket", ips,
	    2, true), 0);
	assert_int_equal(firewall_format_admit(buf, sizeof(buf), "wicket", &m,
	    NULL, 1, true), 0);
	assert_int_equal(firewall_format_admit(buf, sizeof(buf), "wicket", NULL,
	    ips, 1, true), 0);
	memset(&e, 0, sizeof(e));
	e.mac = m;
	e.nips = FIREWALL_ENTRY_IPS + 1;
	assert_int_equal(firewall_format_sync(buf, sizeof(buf), "wicket", &e, 1), 0);
	e.nips = 1;
	e.ips[0].family = 0;
	assert_int_equal(firewall_format_sync(buf, sizeof(buf), "wicket", &e, 1), 0);
	assert_int_equal(firewall_format_sync(buf, sizeof(buf), "wicket", NULL, 1), 0);
}

/* A short buffer: snprintf semantics (full length returned, a terminated
 * prefix written), and size 0 writes nothing. */
static void
test_truncation(void **state)
{
	struct wk_mac m = mac_of(MAC_A);
	struct wk_ip ip = ip_of("10.0.0.1");
	char full[512], part[40];
	size_t n;

	(void)state;
	n = firewall_format_admit(full, sizeof(full), "wicket", &m, &ip, 1, true);
	assert_true(n > sizeof(part));
	memset(part, 'x', sizeof(part));
	assert_int_equal(firewall_format_admit(part, sizeof(part), "wicket", &m,
	    &ip, 1, true), n);
	assert_int_equal(strlen(part), sizeof(part) - 1);
	assert_memory_equal(part, full, sizeof(part) - 1);
	part[0] = 'x';
	assert_int_equal(firewall_format_admit(part, 0, "wicket", &m, &ip, 1,
	    true), n);
	assert_int_equal(part[0], 'x');
}

/* True when every character of s is one that element lists may contain. */
static bool
only_element_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (strchr("0123456789abcdef:., ", s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

/* Any binary MAC and address (random bytes, both families) gives lines of
 * exactly the form `add|delete element inet wicket SET { ... }` whose
 * element text holds only hex digits, ':', '.', ',' and spaces: nothing a
 * client controls can become nft syntax. */
static void
test_no_injection(void **state)
{
	static const char *const heads[] = {
		"add element inet wicket allowed_mac { ",
		"add element inet wicket allowed4 { ",
		"add element inet wicket allowed6 { ",
		"add element inet wicket allowed4_dst { ",
		"add element inet wicket allowed6_dst { ",
		"delete element inet wicket allowed_mac { ",
		"delete element inet wicket allowed4 { ",
		"delete element inet wicket allowed6 { ",
		"delete element inet wicket allowed4_dst { ",
		"delete element inet wicket allowed6_dst { ",
	};
	unsigned seed = 12345;
	char buf[4096];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct wk_mac m;
		struct wk_ip ips[FIREWALL_ENTRY_IPS];
		size_t n = (size_t)(rand_r(&seed) % (FIREWALL_ENTRY_IPS + 1));

		for (int i = 0; i < 6; i++)
			m.b[i] = (uint8_t)rand_r(&seed);
		memset(ips, 0, sizeof(ips));
		for (size_t i = 0; i < n; i++) {
			ips[i].family = rand_r(&seed) & 1 ? AF_INET : AF_INET6;
			for (size_t k = 0; k < sizeof(ips[i].u.v6); k++)
				ips[i].u.v6.s6_addr[k] = (uint8_t)rand_r(&seed);
		}
		FORMAT(buf, firewall_format_admit(buf, sizeof(buf), "wicket",
		    &m, ips, n, round & 1));
		for (char *line = buf; *line; ) {
			char *nl = strchr(line, '\n');
			size_t hl = 0;
			bool known = false;

			assert_non_null(nl);
			for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]) && !known; h++) {
				hl = strlen(heads[h]);
				known = strncmp(line, heads[h], hl) == 0;
			}
			assert_true(known);
			assert_true(nl - line >= (ptrdiff_t)(hl + 2));
			assert_memory_equal(nl - 2, " }", 2);
			assert_true(only_element_chars(line + hl,
			    (size_t)(nl - 2 - (line + hl))));
			line = nl + 1;
		}
	}
}

#ifdef HAVE_NFTABLES

/* Whether this process could enter a network namespace of its own. */
static bool have_netns;

/* Write s to a /proc file; 0 or -1. */
static int
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Enter a private network namespace (and, when not root, a user namespace
 * that makes us root in it) so that nft changes touch nothing else. */
static int
group_setup(void **state)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	(void)state;
	log_init("test_firewall", 1, WK_LOG_ERR); /* expected failures stay quiet */
	if (unshare(CLONE_NEWNET) == 0) {
		have_netns = true;
		return 0;
	}
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
		return 0;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return 0;
	(void)write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return 0;
	have_netns = true;
	return 0;
}

/* Run nft text in the private namespace; returns nft's status. Output (of
 * list commands) is copied into out. */
static int
nft_do(const char *text, char *out, size_t outlen)
{
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	assert_non_null(c);
	assert_int_equal(nft_ctx_buffer_output(c), 0);
	assert_int_equal(nft_ctx_buffer_error(c), 0);
	rc = nft_run_cmd_from_buffer(c, text);
	if (out != NULL)
		snprintf(out, outlen, "%s", nft_ctx_get_output_buffer(c));
	nft_ctx_free(c);
	return rc;
}

#define TABLE_TEXT \
	"add table inet wkt\n" \
	"delete table inet wkt\n" \
	"table inet wkt {\n" \
	"  set allowed_mac { type ether_addr; }\n" \
	"  set allowed4 { type ether_addr . ipv4_addr; }\n" \
	"  set allowed6 { type ether_addr . ipv6_addr; }\n" \
	"  set allowed4_dst { type ipv4_addr; }\n" \
	"  set allowed6_dst { type ipv6_addr; }\n" \
	"}\n"

/* Skip unless we are in a private namespace; then install fresh sets. */
static void
fresh_table(void)
{
	if (!have_netns)
		skip();
	assert_int_equal(nft_do(TABLE_TEXT, NULL, 0), 0);
}

/* The elements of one set, as `nft list set` prints them ("" if none). */
static void
set_elems(const char *set, char *out, size_t outlen)
{
	char cmd[128], list[8192];
	const char *p, *q;

	snprintf(cmd, sizeof(cmd), "list set inet wkt %s", set);
	assert_int_equal(nft_do(cmd, list, sizeof(list)), 0);
	out[0] = '\0';
	p = strstr(list, "elements = { ");
	if (p == NULL)
		return;
	p += strlen("elements = { ");
	q = strstr(p, " }");
	assert_non_null(q);
	snprintf(out, outlen, "%.*s", (int)(q - p), p);
}

/* Assert that set holds exactly the elements listed in want ("" none),
 * in any order (nft prints hash sets in its own order). */
static void
assert_set(const char *set, const char *want)
{
	char got[8192], w[1024], *save = NULL;
	size_t count = 0, gcount = 0;

	set_elems(set, got, sizeof(got));
	snprintf(w, sizeof(w), "%s", want);
	for (char *tok = strtok_r(w, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (strstr(got, tok) == NULL)
			fail_msg("set %s: missing %s; has { %s }", set, tok, got);
		count++;
	}
	for (const char *p = got; *p; p++)
		gcount += *p == ',';
	if (got[0] != '\0')
		gcount++;
	if (gcount != count)
		fail_msg("set %s: has { %s }, want exactly { %s }", set, got, want);
}

/* firewall_open refuses a missing table, a missing set and a set of the
 * wrong type with a message naming the script; it accepts the real one. */
static void
test_open_checks(void **state)
{
	char err[512];
	struct firewall *fw;

	(void)state;
	if (!have_netns)
		skip();
	assert_int_equal(nft_do("add table inet wkt\ndelete table inet wkt\n",
	    NULL, 0), 0);
	fw = firewall_open("wkt", err, sizeof(err));
	assert_null(fw);
	assert_non_null(strstr(err, "table inet wkt"));
	assert_non_null(strstr(err, "scripts/wicket-firewall up"));
	/* allowed6 declared with the wrong key type */
	assert_int_equal(nft_do("table inet wkt {\n"
	    "  set allowed_mac { type ether_addr; }\n"
	    "  set allowed4 { type ether_addr . ipv4_addr; }\n"
	    "  set allowed6 { type ether_addr . ipv4_addr; }\n"
	    "  set allowed4_dst { type ipv4_addr; }\n"
	    "  set allowed6_dst { type ipv6_addr; }\n"
	    "}\n", NULL, 0), 0);
	assert_null(firewall_open("wkt", err, sizeof(err)));
	/* allowed6_dst missing */
	assert_int_equal(nft_do("add table inet wkt\ndelete table inet wkt\n"
	    "table inet wkt {\n"
	    "  set allowed_mac { type ether_addr; }\n"
	    "  set allowed4 { type ether_addr . ipv4_addr; }\n"
	    "  set allowed6 { type ether_addr . ipv6_addr; }\n"
	    "  set allowed4_dst { type ipv4_addr; }\n"
	    "}\n", NULL, 0), 0);
	assert_null(firewall_open("wkt", err, sizeof(err)));
	assert_non_null(strstr(err, "allowed6_dst"));
	assert_null(firewall_open("bad name", err, sizeof(err)));
	assert_non_null(strstr(err, "not a valid table name"));
	/* the real thing; the probe's placeholders were never committed */
	fresh_table();
	fw = firewall_open("wkt", err, sizeof(err));
	assert_non_null(fw);
	assert_set("allowed_mac", "");
	assert_set("allowed4", "");
	assert_set("allowed6_dst", "");
	firewall_close(fw);
}

/* Admit puts the MAC, pairs and reply addresses in; admitting again is
 * fine; revoke takes them out, including pairs admitted earlier that the
 * caller no longer passes; revoking again (absent) succeeds. */
static void
test_admit_revoke_kernel(void **state)
{
	struct wk_mac a = mac_of(MAC_A);
	struct wk_ip ips[2] = { ip_of("10.99.0.10"), ip_of("fd99::10") };
	struct wk_ip later = ip_of("10.99.0.99");
	struct firewall *fw;
	char err[512];

	(void)state;
	fresh_table();
	fw = firewall_open("wkt", err, sizeof(err));
	assert_non_null(fw);
	assert_int_equal(firewall_admit(fw, &a, ips, 2), 0);
	assert_int_equal(firewall_admit(fw, &a, ips, 2), 0);
	assert_int_equal(firewall_admit(fw, &a, &later, 1), 0);
	assert_set("allowed_mac", MAC_A);
	assert_set("allowed4", MAC_A " . 10.99.0.10, " MAC_A " . 10.99.0.99");
	assert_set("allowed6", MAC_A " . fd99::10");
	assert_set("allowed4_dst", "10.99.0.10, 10.99.0.99");
	assert_set("allowed6_dst", "fd99::10");
	/* the caller only knows the current address */
	assert_int_equal(firewall_revoke(fw, &a, &later, 1), 0);
	assert_set("allowed_mac", "");
	assert_set("allowed4", "");
	assert_set("allowed6", "");
	assert_set("allowed4_dst", "");
	assert_set("allowed6_dst", "");
	assert_int_equal(firewall_revoke(fw, &a, ips, 2), 0);
	assert_int_equal(firewall_revoke(fw, &a, NULL, 0), 0);
	firewall_close(fw);
}

/* An address held by two MACs (a lease that moved) keeps its reply entry
 * when only one of them is revoked. */
static void
test_revoke_shared_address(void **state)
{
	struct wk_mac a = mac_of(MAC_A), b = mac_of(MAC_B);
	struct wk_ip x = ip_of("10.99.0.50"), y = ip_of("10.99.0.51");
	struct wk_ip both[2] = { x, y };
	struct firewall *fw;
	char err[512];

	(void)state;
	fresh_table();
	fw = firewall_open("wkt", err, sizeof(err));
	assert_non_null(fw);
	assert_int_equal(firewall_admit(fw, &a, both, 2), 0);
	assert_int_equal(firewall_admit(fw, &b, &x, 1), 0);
	assert_int_equal(firewall_revoke(fw, &a, both, 2), 0);
	assert_set("allowed_mac", MAC_B);
	assert_set("allowed4", MAC_B " . 10.99.0.50");
	assert_set("allowed4_dst", "10.99.0.50");
	assert_int_equal(firewall_revoke(fw, &b, NULL, 0), 0);
	assert_set("allowed4", "");
	assert_set("allowed4_dst", "");
	firewall_close(fw);
}

/* Sync replaces whatever the sets held (including elements someone added
 * by hand) with exactly the entries; an empty sync empties them. */
static void
test_sync_kernel(void **state)
{
	struct firewall_entry e[2];
	struct firewall *fw;
	char err[512];

	(void)state;
	fresh_table();
	assert_int_equal(nft_do("add element inet wkt allowed4 { "
	    "02:00:00:00:00:99 . 192.0.2.99 }\n"
	    "add element inet wkt allowed_mac { 02:00:00:00:00:99 }\n", NULL, 0), 0);
	fw = firewall_open("wkt", err, sizeof(err));
	assert_non_null(fw);
	memset(e, 0, sizeof(e));
	e[0].mac = mac_of(MAC_A);
	e[0].ips[0] = ip_of("10.99.0.10");
	e[0].ips[1] = ip_of("fd99::10");
	e[0].nips = 2;
	e[1].mac = mac_of(MAC_B);
	e[1].ips[0] = ip_of("10.99.0.10"); /* shared: listed twice in the add */
	e[1].nips = 1;
	assert_int_equal(firewall_sync(fw, e, 2), 0);
	assert_set("allowed_mac", MAC_A ", " MAC_B);
	assert_set("allowed4", MAC_A " . 10.99.0.10, " MAC_B " . 10.99.0.10");
	assert_set("allowed6", MAC_A " . fd99::10");
	assert_set("allowed4_dst", "10.99.0.10");
	assert_set("allowed6_dst", "fd99::10");
	/* the sync also taught the handle what it holds */
	assert_int_equal(firewall_revoke(fw, &e[0].mac, NULL, 0), 0);
	assert_set("allowed6", "");
	assert_set("allowed4_dst", "10.99.0.10");
	assert_int_equal(firewall_sync(fw, NULL, 0), 0);
	assert_set("allowed_mac", "");
	assert_set("allowed4", "");
	assert_set("allowed4_dst", "");
	firewall_close(fw);
}

/* When nft refuses a transaction (the table went away under us), the
 * calls return -1 and the daemon goes on. */
static void
test_errors_kernel(void **state)
{
	struct wk_mac a = mac_of(MAC_A);
	struct wk_ip ip = ip_of("10.99.0.10");
	struct firewall_entry e;
	struct firewall *fw;
	char err[512];

	(void)state;
	fresh_table();
	fw = firewall_open("wkt", err, sizeof(err));
	assert_non_null(fw);
	assert_int_equal(nft_do("delete table inet wkt\n", NULL, 0), 0);
	assert_int_equal(firewall_admit(fw, &a, &ip, 1), -1);
	assert_int_equal(firewall_revoke(fw, &a, &ip, 1), -1);
	memset(&e, 0, sizeof(e));
	e.mac = a;
	assert_int_equal(firewall_sync(fw, &e, 1), -1);
	/* invalid input is refused before nft sees it */
	e.nips = FIREWALL_ENTRY_IPS + 1;
	assert_int_equal(firewall_sync(fw, &e, 1), -1);
	/* the table is back: the same handle works again */
	fresh_table();
	assert_int_equal(firewall_admit(fw, &a, &ip, 1), 0);
	assert_set("allowed4", MAC_A " . 10.99.0.10");
	firewall_close(fw);
	firewall_close(NULL);
}

#endif /* HAVE_NFTABLES */

/* Collects parsed counter elements. */
struct ctr_seen {
	int n;
	struct firewall_count c[8];
};

/* firewall_parse_counters callback. */
static void
ctr_cb(const struct firewall_count *c, void *arg)
{
	struct ctr_seen *s = arg;

	if (s->n < 8)
		s->c[s->n++] = *c;
}

/* `nft list set` text as nft 1.0.6 prints it: pairs, bare addresses,
 * wrapped lines, an empty set, a set without counters, garbage. */
static void
test_parse_counters(void **state)
{
	static const char pairs[] =
	    "table inet wicket {\n\tset allowed4 {\n\t\ttype ether_addr . ipv4_addr\n"
	    "\t\tcounter\n\t\telements = { 02:99:00:00:00:0a . 10.99.0.10 counter packets 12 bytes 3456,\n"
	    "\t\t\t     02:99:00:00:00:0b . 10.99.0.11 counter packets 0 bytes 0 }\n\t}\n}\n";
	static const char dst6[] =
	    "table inet wicket {\n\tset allowed6_dst {\n\t\ttype ipv6_addr\n\t\tcounter\n"
	    "\t\telements = { fd99::10 counter packets 7 bytes 9000000000 }\n\t}\n}\n";
	static const char empty[] =
	    "table inet wicket {\n\tset allowed4_dst {\n\t\ttype ipv4_addr\n\t\tcounter\n\t}\n}\n";
	static const char nocounter[] =
	    "table inet wicket {\n\tset allowed4_dst {\n\t\ttype ipv4_addr\n"
	    "\t\telements = { 10.99.0.10 }\n\t}\n}\n";
	struct ctr_seen s = { 0 };

	(void)state;
	assert_int_equal(firewall_parse_counters(pairs, strlen(pairs), ctr_cb, &s), 2);
	assert_true(s.c[0].pair && s.c[0].counted);
	assert_int_equal(s.c[0].mac.b[5], 0x0a);
	assert_int_equal(s.c[0].ip.family, AF_INET);
	assert_true(s.c[0].packets == 12 && s.c[0].bytes == 3456);
	assert_true(s.c[1].counted && s.c[1].bytes == 0);
	s.n = 0;
	assert_int_equal(firewall_parse_counters(dst6, strlen(dst6), ctr_cb, &s), 1);
	assert_true(!s.c[0].pair && s.c[0].ip.family == AF_INET6);
	assert_true(s.c[0].bytes == 9000000000ULL);
	s.n = 0;
	assert_int_equal(firewall_parse_counters(empty, strlen(empty), ctr_cb, &s), 0);
	assert_int_equal(firewall_parse_counters(nocounter, strlen(nocounter), ctr_cb, &s), 1);
	assert_false(s.c[0].counted);
	assert_int_equal(firewall_parse_counters("garbage", 7, ctr_cb, &s), -1);
	assert_int_equal(firewall_parse_counters("elements = { 1.2.3.4", 20, ctr_cb, &s), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_counters),
		cmocka_unit_test(test_admit_text),
		cmocka_unit_test(test_revoke_text),
		cmocka_unit_test(test_admit_mac_only),
		cmocka_unit_test(test_dst_text),
		cmocka_unit_test(test_sync_text),
		cmocka_unit_test(test_sync_chunks),
		cmocka_unit_test(test_probe_text),
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_invalid_input),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_no_injection),
#ifdef HAVE_NFTABLES
		cmocka_unit_test(test_open_checks),
		cmocka_unit_test(test_admit_revoke_kernel),
		cmocka_unit_test(test_revoke_shared_address),
		cmocka_unit_test(test_sync_kernel),
		cmocka_unit_test(test_errors_kernel),
#endif
	};

#ifdef HAVE_NFTABLES
	return cmocka_run_group_tests(tests, group_setup, NULL);
#else
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
