/* test_token: cmocka tables for common/token.c -- canonical strings and the
 * known vectors of docs/grants.md, grant/link/splash sign and verify, every
 * byte and field tampered, expiry edges, replay, key file modes, queries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nonce.h"
#include "token.h"

/* The worked example of docs/grants.md: a 32-byte ASCII key. */
#define EX_KEY "0123456789abcdef0123456789abcdef"
#define EX_MAC "02:00:5e:10:00:01"
#define EX_NONCE "n0nce-Example_01"
#define EX_URL "http://example.com/news?id=1&lang=en"
/* Computed independently with `openssl dgst -sha256 -mac HMAC` and with
 * scripts/wicket-sign (python3 hmac); see docs/grants.md. */
#define EX_GRANT_SIG \
	"9000bef2a8be28a1c330d980ce8590746775a1285d40176ad7d14903a28d987b"
#define EX_LINK_SIG \
	"57440f114758d2c889c83e466d09f28144693ca84abec6ae723359dba97e606f"
#define EX_SPLASH_SIG \
	"e03dc6c0901ec669c4a568adfd85b0171efe111248e7c91228775c7884a2f4e9"
#define EX_RETURN_SIG \
	"aa4e7c297966a60b6db8d2fbef71a9cc8f0280c4b56ce7382c218c895bf9a968"

#define NOW 1700000000ULL
#define MAXG 86400ULL

/* Fill k with the example key. */
static void
ex_key(struct token_key *k)
{
	assert_int_equal(token_key_set(k, EX_KEY, strlen(EX_KEY)), 0);
}

/* Parse the example MAC. */
static struct wk_mac
ex_mac(void)
{
	struct wk_mac m;

	assert_int_equal(addr_mac_parse(EX_MAC, &m), 0);
	return m;
}

/* The three canonical strings are exactly the documented bytes. */
static void
test_canon_exact(void **state)
{
	char buf[4096];
	(void)state;

	assert_int_equal(token_canon_grant(buf, sizeof(buf), EX_MAC,
	    "1700003600", EX_NONCE), 78);
	assert_string_equal(buf, "wicket-grant-v1\nmac=02:00:5e:10:00:01\n"
	    "until=1700003600\nnonce=n0nce-Example_01\n");
	assert_true(token_canon_link(buf, sizeof(buf), EX_MAC, "10.0.0.23",
	    EX_URL, "1700000000", "gate-1") > 0);
	assert_string_equal(buf, "wicket-link-v1\nmac=02:00:5e:10:00:01\n"
	    "ip=10.0.0.23\nurl=" EX_URL "\nts=1700000000\ngw=gate-1\n");
	assert_true(token_canon_splash(buf, sizeof(buf), EX_MAC, "1700000000",
	    EX_URL) > 0);
	assert_string_equal(buf, "wicket-splash-v1\nmac=02:00:5e:10:00:01\n"
	    "ts=1700000000\nurl=" EX_URL "\n");
	assert_true(token_canon_return(buf, sizeof(buf), EX_MAC, "1700000000",
	    EX_URL) > 0);
	assert_string_equal(buf, "wicket-return-v1\nmac=02:00:5e:10:00:01\n"
	    "ts=1700000000\nurl=" EX_URL "\n");
	/* Too small a buffer, and values that could forge a line, fail. */
	assert_int_equal(token_canon_grant(buf, 78, EX_MAC, "1700003600",
	    EX_NONCE), -1);
	assert_int_equal(token_canon_splash(buf, sizeof(buf), EX_MAC, "1",
	    "http://a/\nnonce=x"), -1);
	assert_int_equal(token_canon_link(buf, sizeof(buf), EX_MAC,
	    "10.0.0.23", "", "1", "gw\n"), -1);
	assert_int_equal(token_canon_link(buf, sizeof(buf), EX_MAC,
	    "010.0.0.23", "", "1", "gw"), -1);
	assert_int_equal(token_canon_link(buf, sizeof(buf), EX_MAC,
	    "2001:DB8::1", "", "1", "gw"), -1);
	assert_true(token_canon_link(buf, sizeof(buf), EX_MAC,
	    "2001:db8::1", "", "1", "gw") > 0);
}

/* The C signer reproduces the independently computed example vectors. */
static void
test_known_vectors(void **state)
{
	struct token_key k;
	struct wk_mac m = ex_mac();
	struct wk_ip ip;
	char sig[TOKEN_SIG_HEXLEN + 1];
	(void)state;

	ex_key(&k);
	assert_int_equal(token_sign_grant(&k, &m, 1700003600, EX_NONCE, sig), 0);
	assert_string_equal(sig, EX_GRANT_SIG);
	assert_int_equal(addr_ip_parse("10.0.0.23", &ip), 0);
	assert_int_equal(token_sign_link(&k, &m, &ip, EX_URL, 1700000000,
	    "gate-1", sig), 0);
	assert_string_equal(sig, EX_LINK_SIG);
	assert_int_equal(token_sign_splash(&k, &m, 1700000000, EX_URL, sig), 0);
	assert_string_equal(sig, EX_SPLASH_SIG);
	assert_int_equal(token_sign_return(&k, &m, 1700000000, EX_URL, sig), 0);
	assert_string_equal(sig, EX_RETURN_SIG);
	token_key_wipe(&k);
	assert_int_equal(k.len, 0);
}

/* The grant URL printed by scripts/wicket-sign for the example parses and
 * verifies (this is the exact line from docs/grants.md). */
static void
test_signer_output_verifies(void **state)
{
	static const char q[] = "mac=02%3A00%3A5e%3A10%3A00%3A01&until="
	    "1700003600&nonce=n0nce-Example_01&sig=" EX_GRANT_SIG;
	struct token_grant_query gq;
	struct token_grant g;
	struct token_key k;
	struct wk_mac m = ex_mac();
	char err[128];
	(void)state;

	ex_key(&k);
	assert_int_equal(token_grant_query_parse(q, strlen(q), &gq, err,
	    sizeof(err)), 0);
	assert_int_equal(token_verify_grant(&k, gq.mac, gq.until, gq.nonce,
	    gq.sig, NOW, MAXG, &g), TOKEN_OK);
	assert_true(addr_mac_equal(&g.mac, &m));
	assert_int_equal(g.until, 1700003600);
	assert_string_equal(g.nonce, EX_NONCE);
}

/* Sign then verify a grant over a table of MACs, lengths and nonces. */
static void
test_grant_roundtrip(void **state)
{
	static const struct {
		const char *mac, *nonce;
		uint64_t secs;
	} t[] = {
		{ "02:00:5e:10:00:01", "abcdefgh", 1 },
		{ "a4:83:e7:00:ff:10", "________", 3600 },
		{ "00:00:00:00:00:01", "A-Z_a-z_0-9-----------------------------"
		    "-----------------------x", MAXG },
	};
	struct token_key k;
	char sig[TOKEN_SIG_HEXLEN + 1], until[32];
	(void)state;

	ex_key(&k);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct wk_mac m;
		struct token_grant g;
		assert_int_equal(addr_mac_parse(t[i].mac, &m), 0);
		assert_int_equal(token_sign_grant(&k, &m, NOW + t[i].secs,
		    t[i].nonce, sig), 0);
		snprintf(until, sizeof(until), "%llu",
		    (unsigned long long)(NOW + t[i].secs));
		if (token_verify_grant(&k, t[i].mac, until, t[i].nonce, sig, NOW,
		    MAXG, &g) != TOKEN_OK)
			fail_msg("case %zu did not verify", i);
		assert_true(addr_mac_equal(&g.mac, &m));
		assert_int_equal(g.until, NOW + t[i].secs);
	}
}

/* Every one of the 64 signature characters changed to another hex digit
 * gives BAD_SIG; changed to a non-lower-hex character, MALFORMED. */
static void
test_grant_every_sig_byte(void **state)
{
	static const char other[] = "0123456789abcdef";
	struct token_key k;
	char sig[TOKEN_SIG_HEXLEN + 1];
	(void)state;

	ex_key(&k);
	for (int i = 0; i < TOKEN_SIG_HEXLEN; i++) {
		for (int d = 0; d < 16; d++) {
			memcpy(sig, EX_GRANT_SIG, sizeof(sig));
			if (sig[i] == other[d])
				continue;
			sig[i] = other[d];
			if (token_verify_grant(&k, EX_MAC, "1700003600", EX_NONCE,
			    sig, NOW, MAXG, NULL) != TOKEN_BAD_SIG)
				fail_msg("sig[%d]=%c not refused", i, other[d]);
		}
		memcpy(sig, EX_GRANT_SIG, sizeof(sig));
		sig[i] = 'G';
		assert_int_equal(token_verify_grant(&k, EX_MAC, "1700003600",
		    EX_NONCE, sig, NOW, MAXG, NULL), TOKEN_MALFORMED);
		if (sig[i] >= 'a' && sig[i] <= 'f') {
			sig[i] = (char)(sig[i] - 'a' + 'A');
			assert_int_equal(token_verify_grant(&k, EX_MAC,
			    "1700003600", EX_NONCE, sig, NOW, MAXG, NULL),
			    TOKEN_MALFORMED);
		}
	}
	/* Each of the 32 signature bytes flipped bit by bit, too. */
	for (int i = 0; i < 32; i++)
		for (int bit = 0; bit < 8; bit++) {
			static const char hex[] = "0123456789abcdef";
			unsigned v;
			memcpy(sig, EX_GRANT_SIG, sizeof(sig));
			assert_int_equal(sscanf(sig + 2 * i, "%2x", &v), 1);
			v ^= 1u << bit;
			sig[2 * i] = hex[v >> 4];
			sig[2 * i + 1] = hex[v & 15];
			if (token_verify_grant(&k, EX_MAC, "1700003600", EX_NONCE,
			    sig, NOW, MAXG, NULL) != TOKEN_BAD_SIG)
				fail_msg("byte %d bit %d not refused", i, bit);
		}
}

/* Each signed field changed (still well formed) gives BAD_SIG, as does a
 * wrong key. */
static void
test_grant_fields_tampered(void **state)
{
	static const struct {
		const char *mac, *until, *nonce;
	} t[] = {
		{ "02:00:5e:10:00:02", "1700003600", EX_NONCE },
		{ "12:00:5e:10:00:01", "1700003600", EX_NONCE },
		{ EX_MAC, "1700003601", EX_NONCE },
		{ EX_MAC, "1700003599", EX_NONCE },
		{ EX_MAC, "1700003600", "n0nce-Example_02" },
		{ EX_MAC, "1700003600", "N0nce-Example_01" },
		{ EX_MAC, "1700003600", "n0nce-Example_01x" },
		{ EX_MAC, "1700003600", "n0nce-Example_0" },
	};
	struct token_key k, wrong;
	(void)state;

	ex_key(&k);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (token_verify_grant(&k, t[i].mac, t[i].until, t[i].nonce,
		    EX_GRANT_SIG, NOW, MAXG, NULL) != TOKEN_BAD_SIG)
			fail_msg("tampered case %zu not refused", i);
	assert_int_equal(token_key_set(&wrong, "0123456789abcdef0123456789abcdeF",
	    32), 0);
	assert_int_equal(token_verify_grant(&wrong, EX_MAC, "1700003600",
	    EX_NONCE, EX_GRANT_SIG, NOW, MAXG, NULL), TOKEN_BAD_SIG);
	/* The same key with a trailing newline is a different key. */
	assert_int_equal(token_key_set(&wrong, EX_KEY "\n", 33), 0);
	assert_int_equal(token_verify_grant(&wrong, EX_MAC, "1700003600",
	    EX_NONCE, EX_GRANT_SIG, NOW, MAXG, NULL), TOKEN_BAD_SIG);
	/* No usable key at all fails closed. */
	memset(&wrong, 0, sizeof(wrong));
	assert_int_equal(token_verify_grant(&wrong, EX_MAC, "1700003600",
	    EX_NONCE, EX_GRANT_SIG, NOW, MAXG, NULL), TOKEN_BAD_SIG);
	assert_int_equal(token_key_set(&wrong, "short", 5), -1);
}

/* until == now is expired, now+1 and now+max are fine, now+max+1 is too
 * long; the same edges with max_grant_seconds 0 and near UINT64_MAX. */
static void
test_grant_time_edges(void **state)
{
	static const struct {
		uint64_t now, until, max;
		enum token_result want;
	} t[] = {
		{ NOW, NOW - 1, 3600, TOKEN_EXPIRED },
		{ NOW, NOW, 3600, TOKEN_EXPIRED },
		{ NOW, NOW + 1, 3600, TOKEN_OK },
		{ NOW, NOW + 3600, 3600, TOKEN_OK },
		{ NOW, NOW + 3601, 3600, TOKEN_TOO_LONG },
		{ NOW, NOW + 1, 0, TOKEN_TOO_LONG },
		{ NOW, 0, 3600, TOKEN_EXPIRED },
		{ NOW, UINT64_MAX, UINT64_MAX, TOKEN_OK },
		{ NOW, UINT64_MAX, 3600, TOKEN_TOO_LONG },
		{ UINT64_MAX, UINT64_MAX, 3600, TOKEN_EXPIRED },
	};
	struct token_key k;
	struct wk_mac m = ex_mac();
	char sig[TOKEN_SIG_HEXLEN + 1], until[32];
	(void)state;

	ex_key(&k);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum token_result r;
		assert_int_equal(token_sign_grant(&k, &m, t[i].until, EX_NONCE,
		    sig), 0);
		snprintf(until, sizeof(until), "%llu",
		    (unsigned long long)t[i].until);
		r = token_verify_grant(&k, EX_MAC, until, EX_NONCE, sig, t[i].now,
		    t[i].max, NULL);
		if (r != t[i].want)
			fail_msg("case %zu: got %s want %s", i, token_result_str(r),
			    token_result_str(t[i].want));
	}
}

/* Malformed fields are refused before the signature is looked at. */
static void
test_grant_malformed(void **state)
{
	static const struct {
		const char *mac, *until, *nonce, *sig;
	} t[] = {
		{ "02:00:5E:10:00:01", "1700003600", EX_NONCE, EX_GRANT_SIG },
		{ "02-00-5e-10-00-01", "1700003600", EX_NONCE, EX_GRANT_SIG },
		{ "02:00:5e:10:00", "1700003600", EX_NONCE, EX_GRANT_SIG },
		{ "", "1700003600", EX_NONCE, EX_GRANT_SIG },
		{ NULL, "1700003600", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "+1700003600", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "-1700003600", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "01700003600", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, " 1700003600", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "1700003600 ", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "1.7e9", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "0x6553f100", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "18446744073709551616", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "99999999999999999999", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "111111111111111111111", EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, NULL, EX_NONCE, EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "short7c", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "x1234567890123456789012345678901234567890"
		    "123456789012345678901234", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "n0nce.Example", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "n0nce Example", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "n0nce\nExample", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", "n0nce%Example", EX_GRANT_SIG },
		{ EX_MAC, "1700003600", NULL, EX_GRANT_SIG },
		{ EX_MAC, "1700003600", EX_NONCE, "" },
		{ EX_MAC, "1700003600", EX_NONCE, NULL },
		{ EX_MAC, "1700003600", EX_NONCE, EX_GRANT_SIG "0" },
		{ EX_MAC, "1700003600", EX_NONCE,
		  "9000bef2a8be28a1c330d980ce8590746775a1285d40176ad7d14903a28d987" },
		{ EX_MAC, "1700003600", EX_NONCE,
		  "9000BEF2A8BE28A1C330D980CE8590746775A1285D40176AD7D14903A28D987B" },
	};
	struct token_key k;
	(void)state;

	ex_key(&k);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (token_verify_grant(&k, t[i].mac, t[i].until, t[i].nonce,
		    t[i].sig, NOW, MAXG, NULL) != TOKEN_MALFORMED)
			fail_msg("malformed case %zu accepted as well formed", i);
	/* The 64-character nonce is the longest accepted. */
	assert_true(token_nonce_valid("1234567890123456789012345678901234567890"
	    "123456789012345678901234"));
	assert_false(token_nonce_valid("1234567890123456789012345678901234567890"
	    "1234567890123456789012345"));
}

/* Strict decimal parsing of until and ts. */
static void
test_u64_parse(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} t[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1 },
		{ "1700003600", 0, 1700003600ULL },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 },
		{ "18446744073709551620", -1, 0 },
		{ "00", -1, 0 },
		{ "01", -1, 0 },
		{ "", -1, 0 },
		{ "+1", -1, 0 },
		{ "-1", -1, 0 },
		{ "1a", -1, 0 },
		{ "1 ", -1, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;
		if (token_u64_parse(t[i].s, &v) != t[i].rc)
			fail_msg("case %zu (%s)", i, t[i].s);
		if (t[i].rc == 0)
			assert_int_equal(v, t[i].v);
	}
	assert_int_equal(token_u64_parse(NULL, NULL), -1);
}

/* A verified grant whose nonce was used once is refused the second time
 * (signature still good: the replay cache is what refuses it). */
static void
test_grant_replay(void **state)
{
	struct nonce_cache *nc = nonce_cache_create(16, 7);
	struct token_grant g;
	struct token_key k;
	(void)state;

	assert_non_null(nc);
	ex_key(&k);
	assert_int_equal(token_verify_grant(&k, EX_MAC, "1700003600", EX_NONCE,
	    EX_GRANT_SIG, NOW, MAXG, &g), TOKEN_OK);
	assert_int_equal(nonce_use(nc, g.nonce, g.until, NOW), NONCE_OK);
	assert_int_equal(token_verify_grant(&k, EX_MAC, "1700003600", EX_NONCE,
	    EX_GRANT_SIG, NOW + 10, MAXG, &g), TOKEN_OK);
	assert_int_equal(nonce_use(nc, g.nonce, g.until, NOW + 10), NONCE_REPLAY);
	/* Once until has passed the grant itself is expired. */
	assert_int_equal(token_verify_grant(&k, EX_MAC, "1700003600", EX_NONCE,
	    EX_GRANT_SIG, 1700003600, MAXG, &g), TOKEN_EXPIRED);
	nonce_cache_free(nc);
}

/* Write a key file with the given content and mode; its path in buf. */
static void
write_key(char *path, const char *content, size_t len, mode_t mode)
{
	int fd;

	strcpy(path, "/tmp/wicket-test-key-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Key files: modes with any group/other bit are refused, 0600 and 0400
 * accepted; length limits after trimming one newline; errors never echo
 * the key. */
static void
test_key_load(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		int rc;
		size_t len;
	} t[] = {
		{ EX_KEY "\n", 0600, 0, 32 },
		{ EX_KEY, 0600, 0, 32 },
		{ EX_KEY "\r\n", 0400, 0, 32 },
		{ EX_KEY "\n\n", 0600, 0, 33 },
		{ "0123456789abcdef", 0600, 0, 16 },
		{ "0123456789abcdef\n", 0600, 0, 16 },
		{ "0123456789abcde\n", 0600, -1, 0 },
		{ "0123456789abcde", 0600, -1, 0 },
		{ "\n", 0600, -1, 0 },
		{ "", 0600, -1, 0 },
		{ EX_KEY "\n", 0644, -1, 0 },
		{ EX_KEY "\n", 0640, -1, 0 },
		{ EX_KEY "\n", 0604, -1, 0 },
		{ EX_KEY "\n", 0620, -1, 0 },
		{ EX_KEY "\n", 0602, -1, 0 },
		{ EX_KEY "\n", 0610, -1, 0 },
		{ EX_KEY "\n", 0601, -1, 0 },
		{ EX_KEY "\n", 0666, -1, 0 },
	};
	char path[64], err[256];
	struct token_key k;
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc;
		write_key(path, t[i].content, strlen(t[i].content), t[i].mode);
		err[0] = '\0';
		rc = token_key_load(path, &k, err, sizeof(err));
		assert_int_equal(unlink(path), 0);
		if (rc != t[i].rc)
			fail_msg("case %zu: rc %d (%s)", i, rc, err);
		if (rc == 0) {
			assert_int_equal(k.len, t[i].len);
			assert_memory_equal(k.k, t[i].content, t[i].len);
		} else {
			assert_true(strlen(err) > 0);
			assert_non_null(strstr(err, path));
			assert_null(strstr(err, "0123456789abcde"));
			assert_int_equal(k.len, 0);
		}
		if (t[i].mode != 0600 && t[i].mode != 0400)
			assert_non_null(strstr(err, "chmod 600"));
	}
	/* Too long, missing, a directory. */
	{
		char big[TOKEN_KEY_MAX + 2];
		memset(big, 'k', sizeof(big));
		write_key(path, big, TOKEN_KEY_MAX, 0600);
		assert_int_equal(token_key_load(path, &k, err, sizeof(err)), 0);
		assert_int_equal(k.len, TOKEN_KEY_MAX);
		assert_int_equal(unlink(path), 0);
		write_key(path, big, TOKEN_KEY_MAX + 1, 0600);
		assert_int_equal(token_key_load(path, &k, err, sizeof(err)), -1);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(token_key_load("/nonexistent/wicket.key", &k, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(token_key_load("/tmp", &k, err, sizeof(err)), -1);
	assert_int_equal(token_key_load("/tmp", &k, NULL, 0), -1);
}

/* The 511 link: exact query, verification by a login server, tampering
 * and age; a portal URL that already has a query gets '&'. */
static void
test_link(void **state)
{
	static const char want[] = "http://portal.example/login?mac="
	    "02%3A00%3A5e%3A10%3A00%3A01&ip=10.0.0.23&url=http%3A%2F%2F"
	    "example.com%2Fnews%3Fid%3D1%26lang%3Den&ts=1700000000&gw=gate-1"
	    "&sig=" EX_LINK_SIG;
	char out[1024], mac[32], ip[64], url[TOKEN_URL_MAX + 1], ts[32],
	    gw[TOKEN_GW_MAX + 1], sig[80], err[128];
	struct token_qparam p[] = {
		{ "mac", mac, sizeof(mac), false },
		{ "ip", ip, sizeof(ip), false },
		{ "url", url, sizeof(url), false },
		{ "ts", ts, sizeof(ts), false },
		{ "gw", gw, sizeof(gw), false },
		{ "sig", sig, sizeof(sig), false },
	};
	struct token_key k;
	struct wk_mac m = ex_mac();
	struct wk_ip a;
	const char *q;
	(void)state;

	ex_key(&k);
	assert_int_equal(addr_ip_parse("10.0.0.23", &a), 0);
	assert_int_equal(token_link_build(&k, "http://portal.example/login", &m,
	    &a, EX_URL, 1700000000, "gate-1", out, sizeof(out)),
	    (int)strlen(want));
	assert_string_equal(out, want);
	assert_int_equal(token_link_build(&k, "http://portal.example/login",
	    &m, &a, EX_URL, 1700000000, "gate-1", out, strlen(want)), -1);
	q = strchr(out, '?') + 1;
	assert_int_equal(token_query_parse(q, strlen(q), p, 6, err,
	    sizeof(err)), 0);
	assert_string_equal(url, EX_URL);
	assert_int_equal(token_verify_link(&k, mac, ip, url, ts, gw, sig, NOW,
	    300), TOKEN_OK);
	assert_int_equal(token_verify_link(&k, mac, ip, url, ts, gw, sig,
	    NOW + 300, 300), TOKEN_OK);
	assert_int_equal(token_verify_link(&k, mac, ip, url, ts, gw, sig,
	    NOW + 301, 300), TOKEN_EXPIRED);
	assert_int_equal(token_verify_link(&k, mac, "10.0.0.24", url, ts, gw,
	    sig, NOW, 300), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_link(&k, mac, ip, "http://evil/", ts, gw,
	    sig, NOW, 300), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_link(&k, mac, ip, url, ts, "gate-2", sig,
	    NOW, 300), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_link(&k, mac, ip, url, ts, "gate 1", sig,
	    NOW, 300), TOKEN_MALFORMED);
	assert_true(token_link_build(&k, "http://p/x?lang=en", &m, &a, "", 1,
	    "g", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "http://p/x?lang=en&mac="));
	assert_int_equal(token_link_build(&k, "http://p/#frag", &m, &a, "", 1,
	    "g", out, sizeof(out)), -1);
	assert_int_equal(token_link_build(&k, "http://p/", &m, &a, "a b", 1,
	    "g", out, sizeof(out)), -1);
	/* An IPv6 client. */
	assert_int_equal(addr_ip_parse("2001:db8::17", &a), 0);
	assert_true(token_link_build(&k, "https://p/", &m, &a, "", 1, "g", out,
	    sizeof(out)) > 0);
	assert_non_null(strstr(out, "&ip=2001%3Adb8%3A%3A17&"));
}

/* The splash token is bound to MAC, time and redirect URL; age edges. */
static void
test_splash(void **state)
{
	static const struct {
		uint64_t now;
		enum token_result want;
	} t[] = {
		{ NOW, TOKEN_OK },
		{ NOW + 600, TOKEN_OK },
		{ NOW + 601, TOKEN_EXPIRED },
		{ NOW - TOKEN_SPLASH_SKEW, TOKEN_OK },
		{ NOW - TOKEN_SPLASH_SKEW - 1, TOKEN_EXPIRED },
	};
	struct token_key k;
	struct wk_mac m = ex_mac(), other;
	char sig[TOKEN_SIG_HEXLEN + 1];
	(void)state;

	ex_key(&k);
	assert_int_equal(token_sign_splash(&k, &m, NOW, EX_URL, sig), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (token_verify_splash(&k, &m, "1700000000", EX_URL, sig, t[i].now,
		    600) != t[i].want)
			fail_msg("splash age case %zu", i);
	assert_int_equal(addr_mac_parse("02:00:5e:10:00:02", &other), 0);
	assert_int_equal(token_verify_splash(&k, &other, "1700000000", EX_URL,
	    sig, NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_splash(&k, &m, "1700000001", EX_URL, sig,
	    NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_splash(&k, &m, "1700000000",
	    "http://evil.example/", sig, NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_splash(&k, &m, "1700000000", EX_URL, "",
	    NOW, 600), TOKEN_MALFORMED);
	assert_int_equal(token_verify_splash(&k, &m, "x", EX_URL, sig, NOW,
	    600), TOKEN_MALFORMED);
	/* An empty URL is allowed and signed as such. */
	assert_int_equal(token_sign_splash(&k, &m, NOW, "", sig), 0);
	assert_int_equal(token_verify_splash(&k, &m, "1700000000", "", sig, NOW,
	    600), TOKEN_OK);
}

/* The return token (511 link -> built-in splash) is bound to MAC, time
 * and URL like the splash form, and the two kinds never verify as each
 * other (domain separation), so a link cannot stand in for an accept. */
static void
test_return(void **state)
{
	struct token_key k;
	struct wk_mac m = ex_mac(), other;
	char sig[TOKEN_SIG_HEXLEN + 1];
	(void)state;

	ex_key(&k);
	assert_int_equal(addr_mac_parse("02:00:5e:10:00:02", &other), 0);
	assert_int_equal(token_verify_return(&k, &m, "1700000000", EX_URL,
	    EX_RETURN_SIG, NOW, 600), TOKEN_OK);
	assert_int_equal(token_verify_return(&k, &m, "1700000000", EX_URL,
	    EX_RETURN_SIG, NOW + 601, 600), TOKEN_EXPIRED);
	assert_int_equal(token_verify_return(&k, &other, "1700000000", EX_URL,
	    EX_RETURN_SIG, NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_return(&k, &m, "1700000000",
	    "https://evil.example/", EX_RETURN_SIG, NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_return(&k, &m, "1700000000", EX_URL,
	    EX_SPLASH_SIG, NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_verify_splash(&k, &m, "1700000000", EX_URL,
	    EX_RETURN_SIG, NOW, 600), TOKEN_BAD_SIG);
	assert_int_equal(token_sign_return(&k, &m, NOW, "http://a/\n", sig), -1);
}

/* Percent-encoding keeps exactly the RFC 3986 unreserved set. */
static void
test_url_encode(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "", "" },
		{ "AZaz09-._~", "AZaz09-._~" },
		{ "a b", "a%20b" },
		{ "a+b&c=d#e?f/g:h", "a%2Bb%26c%3Dd%23e%3Ff%2Fg%3Ah" },
		{ "%", "%25" },
		{ "\xc3\xa9\x01\x7f", "%C3%A9%01%7F" },
	};
	char out[64];
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(token_url_encode(t[i].in, out, sizeof(out)),
		    (int)strlen(t[i].out));
		assert_string_equal(out, t[i].out);
	}
	assert_int_equal(token_url_encode("abc", out, 3), -1);
	assert_int_equal(token_url_encode("abc", out, 4), 3);
	assert_int_equal(token_url_encode(" ", out, 3), -1);
	assert_int_equal(token_url_encode(" ", out, 4), 3);
}

/* The strict query parser over a table of accepted and refused inputs. */
static void
test_query_parse(void **state)
{
	static const struct {
		const char *q;
		int rc;
		const char *a, *b; /* decoded values when rc == 0 (NULL: absent) */
	} t[] = {
		{ "a=1&b=2", 0, "1", "2" },
		{ "b=2&a=1", 0, "1", "2" },
		{ "a=1", 0, "1", NULL },
		{ "", 0, NULL, NULL },
		{ "a=", 0, "", NULL },
		{ "a=x%20y+z&b=%41%4a%4A", 0, "x y z", "AJJ" },
		{ "%61=1&%62=%2526", 0, "1", "%26" },
		{ "zz=9&a=1&other=%2F", 0, "1", NULL },
		{ "a=1&a=2", -1, NULL, NULL },
		{ "a=1&%61=2", -1, NULL, NULL },
		{ "a=1&b=2&a=1", -1, NULL, NULL },
		{ "a=%", -1, NULL, NULL },
		{ "a=%4", -1, NULL, NULL },
		{ "a=%zz", -1, NULL, NULL },
		{ "a=%g0", -1, NULL, NULL },
		{ "a=%00", -1, NULL, NULL },
		{ "x=%0", -1, NULL, NULL },
		{ "%zz=1", -1, NULL, NULL },
		{ "&a=1", -1, NULL, NULL },
		{ "a=1&", -1, NULL, NULL },
		{ "a=1&&b=2", -1, NULL, NULL },
		{ "a", -1, NULL, NULL },
		{ "a=1&b", -1, NULL, NULL },
		{ "a=1 2", -1, NULL, NULL },
		{ "a=1\t", -1, NULL, NULL },
		{ "a=1#frag", -1, NULL, NULL },
		{ "a=\xc3\xa9", -1, NULL, NULL },
		{ "a=1234567", -1, NULL, NULL }, /* longer than a's buffer */
		{ "a=1234567%", -1, NULL, NULL },
		{ "a=123456", 0, "123456", NULL },
	};
	char a[7], b[16], err[128];
	struct token_qparam p[] = {
		{ "a", a, sizeof(a), false },
		{ "b", b, sizeof(b), false },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc;
		err[0] = '\0';
		rc = token_query_parse(t[i].q, strlen(t[i].q), p, 2, err,
		    sizeof(err));
		if (rc != t[i].rc)
			fail_msg("case %zu (%s): rc %d", i, t[i].q, rc);
		if (rc < 0) {
			assert_true(strlen(err) > 0);
			continue;
		}
		assert_int_equal(p[0].found, t[i].a != NULL);
		assert_int_equal(p[1].found, t[i].b != NULL);
		if (t[i].a != NULL)
			assert_string_equal(a, t[i].a);
		if (t[i].b != NULL)
			assert_string_equal(b, t[i].b);
	}
	/* The length bounds the input: no read past it. */
	assert_int_equal(token_query_parse("a=1&b=2", 3, p, 2, err, sizeof(err)),
	    0);
	assert_false(p[1].found);
	assert_int_equal(token_query_parse("a=%41", 4, p, 2, err, sizeof(err)),
	    -1);
}

/* The grant query: all four parameters required, each once. */
static void
test_grant_query(void **state)
{
	static const struct {
		const char *q;
		const char *err; /* substring of the error, NULL: accepted */
	} t[] = {
		{ "mac=a&until=1&nonce=n&sig=s", NULL },
		{ "sig=s&nonce=n&until=1&mac=a&utm_source=x", NULL },
		{ "mac=a&until=1&nonce=n", "missing query parameter sig" },
		{ "until=1&nonce=n&sig=s", "missing query parameter mac" },
		{ "mac=a&until=1&nonce=n&sig=s&sig=s", "duplicate query parameter sig" },
		{ "mac=a&until=1&nonce=n&sig=%", "bad byte or escape in query parameter sig" },
		{ "mac=a&until=1&nonce=n&sig=s&x123456789012345678901234567890123456789"
		  "01234567890123456789012345678%=1", "bad byte or escape" },
		{ "mac=a&until=1&nonce=n&sig=s&x123456789012345678901234567890123456789"
		  "012345678901234567890123456789=1", NULL },
		{ "mac=02%3A00%3A5e%3A10%3A00%3A01%3A00&until=1&nonce=n&sig=s",
		  "query parameter mac too long" },
	};
	struct token_grant_query gq;
	char err[128];
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = token_grant_query_parse(t[i].q, strlen(t[i].q), &gq, err,
		    sizeof(err));
		if ((rc == 0) != (t[i].err == NULL))
			fail_msg("case %zu: rc %d", i, rc);
		if (t[i].err != NULL && strstr(err, t[i].err) == NULL)
			fail_msg("case %zu: error '%s'", i, err);
	}
	assert_string_equal(token_result_str(TOKEN_TOO_LONG), "too_long");
}

/* Run the token tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_exact),
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_signer_output_verifies),
		cmocka_unit_test(test_grant_roundtrip),
		cmocka_unit_test(test_grant_every_sig_byte),
		cmocka_unit_test(test_grant_fields_tampered),
		cmocka_unit_test(test_grant_time_edges),
		cmocka_unit_test(test_grant_malformed),
		cmocka_unit_test(test_u64_parse),
		cmocka_unit_test(test_grant_replay),
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_splash),
		cmocka_unit_test(test_return),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_grant_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
