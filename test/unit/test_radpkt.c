/* test_radpkt: cmocka tables for proxy/radpkt.c -- the RFC 2865 §7.1
 * example packets byte for byte, authenticators of every kind, every
 * truncation of a CoA-Request, attribute limits, vendor attributes and
 * the CoA/Access-Accept decoders. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "radpkt.h"

#define SECRET "xyzzy5461"
#define SLEN (sizeof(SECRET) - 1)

/* RFC 2865 §7.1: Access-Request for nemo/arctangent from 192.168.1.16
 * port 3, and the Access-Accept to it. */
static const uint8_t rfc_req[] = {
	0x01, 0x00, 0x00, 0x38, 0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57,
	0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a, 0x01, 0x06, 0x6e, 0x65,
	0x6d, 0x6f, 0x02, 0x12, 0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce,
	0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a, 0x0a, 0xee, 0x04, 0x06, 0xc0, 0xa8,
	0x01, 0x10, 0x05, 0x06, 0x00, 0x00, 0x00, 0x03,
};
static const uint8_t rfc_accept[] = {
	0x02, 0x00, 0x00, 0x26, 0x86, 0xfe, 0x22, 0x0e, 0x76, 0x24, 0xba, 0x2a,
	0x10, 0x05, 0xf6, 0xbf, 0x9b, 0x55, 0xe0, 0xb2, 0x06, 0x06, 0x00, 0x00,
	0x00, 0x01, 0x0f, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x06, 0xc0, 0xa8,
	0x01, 0x03,
};

/* The builder reproduces the RFC's Access-Request, hidden password included. */
static void
test_rfc2865_access_request(void **state)
{
	struct radpkt_builder b;
	uint8_t ip[4] = { 192, 168, 1, 16 };

	(void)state;
	radpkt_begin(&b, RAD_ACCESS_REQUEST, 0, rfc_req + 4);
	radpkt_put_str(&b, RAD_USER_NAME, "nemo");
	radpkt_put_password(&b, "arctangent", 10, (const uint8_t *)SECRET, SLEN);
	radpkt_put(&b, RAD_NAS_IP_ADDRESS, ip, 4);
	radpkt_put_u32(&b, RAD_NAS_PORT, 3);
	assert_int_equal(radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL),
	    sizeof(rfc_req));
	assert_memory_equal(b.buf, rfc_req, sizeof(rfc_req));
}

/* The RFC's Access-Accept verifies against its request and no other. */
static void
test_rfc2865_response(void **state)
{
	struct radpkt p;
	uint8_t bad[sizeof(rfc_accept)], ra[16];

	(void)state;
	assert_int_equal(radpkt_parse(rfc_accept, sizeof(rfc_accept), &p, NULL), 0);
	assert_int_equal(p.code, RAD_ACCESS_ACCEPT);
	assert_int_equal(p.nattrs, 3);
	assert_int_equal(radpkt_verify_response(&p, rfc_req + 4,
	    (const uint8_t *)SECRET, SLEN, false), 0);
	assert_int_equal(radpkt_verify_response(&p, rfc_req + 4,
	    (const uint8_t *)"xyzzy5462", SLEN, false), -1);
	memcpy(ra, rfc_req + 4, 16);
	ra[15] ^= 1;
	assert_int_equal(radpkt_verify_response(&p, ra, (const uint8_t *)SECRET, SLEN, false), -1);
	for (size_t i = 0; i < sizeof(rfc_accept); i++) {
		memcpy(bad, rfc_accept, sizeof(bad));
		bad[i] ^= 0x40;
		if (radpkt_parse(bad, sizeof(bad), &p, NULL) == 0)
			assert_int_equal(radpkt_verify_response(&p, rfc_req + 4,
			    (const uint8_t *)SECRET, SLEN, false), -1);
	}
	/* BLAST-RADIUS: the RFC's Accept has no Message-Authenticator, so a
	 * gate that requires one refuses it, authentic as it is. */
	assert_int_equal(radpkt_parse(rfc_accept, sizeof(rfc_accept), &p, NULL), 0);
	assert_int_equal(radpkt_verify_response(&p, rfc_req + 4,
	    (const uint8_t *)SECRET, SLEN, true), -1);
}

/* With require_ma: an Access-Accept, -Reject or -Challenge needs a valid
 * Message-Authenticator, an Accounting-Response does not (RFC 2866 has
 * none); without it only a present one is checked. */
static void
test_response_requires_ma(void **state)
{
	static const struct {
		uint8_t code;
		bool ma, tamper_ma, require;
		int want;
	} t[] = {
		{ RAD_ACCESS_ACCEPT, true, false, true, 0 },
		{ RAD_ACCESS_ACCEPT, false, false, true, -1 },
		{ RAD_ACCESS_ACCEPT, false, false, false, 0 },
		{ RAD_ACCESS_ACCEPT, true, true, false, -1 },
		{ RAD_ACCESS_ACCEPT, true, true, true, -1 },
		{ RAD_ACCESS_REJECT, true, false, true, 0 },
		{ RAD_ACCESS_REJECT, false, false, true, -1 },
		{ RAD_ACCESS_REJECT, false, false, false, 0 },
		{ RAD_ACCESS_CHALLENGE, false, false, true, -1 },
		{ RAD_ACCT_RESPONSE, false, false, true, 0 },
		{ RAD_ACCT_RESPONSE, true, true, true, -1 },
	};
	uint8_t req_auth[16];
	(void)state;

	for (size_t i = 0; i < 16; i++)
		req_auth[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct radpkt_builder r;
		struct radpkt p;
		int n;
		radpkt_begin(&r, t[i].code, 7, NULL);
		if (t[i].ma)
			radpkt_put_ma(&r);
		radpkt_put_u32(&r, RAD_SESSION_TIMEOUT, 600);
		n = radpkt_finish(&r, (const uint8_t *)SECRET, SLEN, req_auth);
		assert_true(n > 0);
		assert_int_equal(radpkt_parse(r.buf, (size_t)n, &p, NULL), 0);
		if (t[i].tamper_ma)
			r.buf[p.ma_off + 5] ^= 1;
		if (radpkt_verify_response(&p, req_auth, (const uint8_t *)SECRET, SLEN,
			t[i].require) != t[i].want)
			fail_msg("row %zu: code %u ma %d tampered %d require %d: not %d", i,
			    t[i].code, t[i].ma, t[i].tamper_ma, t[i].require, t[i].want);
	}
}

/* A Disconnect/CoA request as a server sends it: identification, a new
 * Session-Timeout, Event-Timestamp and Message-Authenticator. */
static size_t
build_coa(uint8_t *out, uint8_t code, bool ma)
{
	struct radpkt_builder b;
	int n;

	radpkt_begin(&b, code, 7, NULL);
	radpkt_put_str(&b, RAD_ACCT_SESSION_ID, "0123456789abcdef");
	radpkt_put_str(&b, RAD_CALLING_STATION_ID, "02-99-00-00-00-0A");
	if (code == RAD_COA_REQUEST)
		radpkt_put_u32(&b, RAD_SESSION_TIMEOUT, 120);
	radpkt_put_u32(&b, RAD_EVENT_TIMESTAMP, 1700000000u);
	if (ma)
		radpkt_put_ma(&b);
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL);
	assert_true(n > RADPKT_HDR);
	memcpy(out, b.buf, (size_t)n);
	return (size_t)n;
}

/* Request authenticator and Message-Authenticator of a CoA-Request. */
static void
test_coa_authenticators(void **state)
{
	uint8_t pkt[RADPKT_MAX], bad[RADPKT_MAX];
	size_t n = build_coa(pkt, RAD_COA_REQUEST, true), nm;
	struct radpkt p;

	(void)state;
	assert_int_equal(radpkt_parse(pkt, n, &p, NULL), 0);
	assert_true(p.ma_off > 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)SECRET, SLEN, true), 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)"other", 5, true), -1);
	/* Any changed byte is refused (by the parser or the check). */
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, pkt, n);
		bad[i] ^= 0x01;
		if (radpkt_parse(bad, n, &p, NULL) == 0)
			assert_int_equal(radpkt_verify_request(&p,
			    (const uint8_t *)SECRET, SLEN, false), -1);
	}
	/* Without a Message-Authenticator: fine unless required. */
	nm = build_coa(pkt, RAD_COA_REQUEST, false);
	assert_int_equal(radpkt_parse(pkt, nm, &p, NULL), 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)SECRET, SLEN, false), 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)SECRET, SLEN, true), -1);
}

/* Every truncation of a CoA-Request: shorter datagrams are refused by the
 * parser; a Length field lowered to match cuts an attribute (refused) or
 * ends on a boundary (parses, but no longer verifies). */
static void
test_coa_every_truncation(void **state)
{
	uint8_t pkt[RADPKT_MAX], cut[RADPKT_MAX];
	size_t n = build_coa(pkt, RAD_DISCONNECT_REQUEST, true);
	struct radpkt p;
	const char *why;

	(void)state;
	for (size_t len = 0; len < n; len++) {
		memcpy(cut, pkt, n);
		assert_int_equal(radpkt_parse(cut, len, &p, &why), -1);
		if (len < RADPKT_HDR)
			continue;
		cut[2] = (uint8_t)(len >> 8);
		cut[3] = (uint8_t)len;
		if (radpkt_parse(cut, len, &p, &why) == 0)
			assert_int_equal(radpkt_verify_request(&p,
			    (const uint8_t *)SECRET, SLEN, false), -1);
	}
	/* Octets past Length are padding (RFC 2865 §3). */
	memcpy(cut, pkt, n);
	memset(cut + n, 0xee, 10);
	assert_int_equal(radpkt_parse(cut, n + 10, &p, NULL), 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)SECRET, SLEN, true), 0);
}

/* One row of the malformed-packet table. */
struct bad_row {
	const char *name;
	uint8_t bytes[64];
	size_t len;
};

/* Header and attribute limits. */
static void
test_attribute_limits(void **state)
{
	static const struct bad_row rows[] = {
		{ "length 19", { 43, 1, 0, 19 }, 20 },
		{ "length 4097", { 43, 1, 0x10, 0x01 }, 20 },
		{ "attr len 0", { 43, 1, 0, 22, [20] = 1, 0 }, 22 },
		{ "attr len 1", { 43, 1, 0, 22, [20] = 1, 1 }, 22 },
		{ "attr past end", { 43, 1, 0, 23, [20] = 1, 4, 'a' }, 23 },
		{ "half header", { 43, 1, 0, 21, [20] = 1 }, 21 },
		{ "type 0", { 43, 1, 0, 23, [20] = 0, 3, 'a' }, 23 },
		{ "MA short", { 43, 1, 0, 37, [20] = 80, 17 }, 37 },
		{ "two MAs", { 43, 1, 0, 56, [20] = 80, 18, [38] = 80, 18 }, 56 },
	};
	struct radpkt p;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		why = NULL;
		if (radpkt_parse(rows[i].bytes, rows[i].len, &p, &why) != -1)
			fail_msg("%s: parsed", rows[i].name);
		assert_non_null(why);
	}
}

/* More than RADPKT_MAX_ATTRS attributes are refused; exactly that many parse. */
static void
test_too_many_attributes(void **state)
{
	struct radpkt_builder b;
	struct radpkt p;
	int n;

	(void)state;
	radpkt_begin(&b, RAD_COA_REQUEST, 1, NULL);
	for (int i = 0; i < RADPKT_MAX_ATTRS; i++)
		radpkt_put(&b, RAD_CLASS, "x", 1);
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(p.nattrs, RADPKT_MAX_ATTRS);
	radpkt_begin(&b, RAD_COA_REQUEST, 1, NULL);
	for (int i = 0; i <= RADPKT_MAX_ATTRS; i++)
		radpkt_put(&b, RAD_CLASS, "x", 1);
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), -1);
}

/* The builder refuses empty, over-long and overflowing attributes. */
static void
test_builder_limits(void **state)
{
	struct radpkt_builder b;
	char big[300];

	(void)state;
	memset(big, 'a', sizeof(big));
	radpkt_begin(&b, RAD_ACCT_REQUEST, 1, NULL);
	radpkt_put(&b, RAD_USER_NAME, big, 253);
	assert_false(b.overflow);
	radpkt_put(&b, RAD_USER_NAME, big, 254);
	assert_true(b.overflow);
	assert_int_equal(radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL), -1);
	radpkt_begin(&b, RAD_ACCT_REQUEST, 1, NULL);
	radpkt_put(&b, RAD_USER_NAME, "", 0);
	assert_true(b.overflow);
	radpkt_begin(&b, RAD_ACCT_REQUEST, 1, NULL);
	for (int i = 0; i < 20; i++)
		radpkt_put(&b, RAD_CLASS, big, 250);
	assert_true(b.overflow);
	assert_true(b.len <= RADPKT_MAX);
	radpkt_begin(&b, RAD_ACCESS_REQUEST, 1, rfc_req + 4);
	radpkt_put_password(&b, big, 129, (const uint8_t *)SECRET, SLEN);
	assert_true(b.overflow);
	/* A response cannot be finished without its request. */
	radpkt_begin(&b, RAD_COA_ACK, 1, NULL);
	assert_int_equal(radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL), -1);
}

/* Accounting-Request and its response round trip; an Access-Request's
 * Message-Authenticator as FreeRADIUS checks it. */
static void
test_accounting_and_responses(void **state)
{
	struct radpkt_builder b, r;
	struct radpkt p;
	uint8_t req_auth[16];
	int n;

	(void)state;
	radpkt_begin(&b, RAD_ACCT_REQUEST, 9, NULL);
	radpkt_put_u32(&b, RAD_ACCT_STATUS_TYPE, RAD_ACCT_START);
	radpkt_put_str(&b, RAD_ACCT_SESSION_ID, "abc");
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)SECRET, SLEN, false), 0);
	memcpy(req_auth, b.buf + 4, 16);
	radpkt_begin(&r, RAD_ACCT_RESPONSE, 9, NULL);
	radpkt_put_ma(&r);
	n = radpkt_finish(&r, (const uint8_t *)SECRET, SLEN, req_auth);
	assert_int_equal(radpkt_parse(r.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(radpkt_verify_response(&p, req_auth, (const uint8_t *)SECRET, SLEN,
	    true), 0);
	r.buf[p.ma_off + 5] ^= 1;
	assert_int_equal(radpkt_verify_response(&p, req_auth, (const uint8_t *)SECRET, SLEN,
	    false), -1);
	/* An Access-Request is not a computed request. */
	radpkt_begin(&b, RAD_ACCESS_REQUEST, 2, rfc_req + 4);
	radpkt_put_str(&b, RAD_USER_NAME, "x");
	radpkt_put_ma(&b);
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL);
	assert_memory_equal(b.buf + 4, rfc_req + 4, 16);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(radpkt_verify_request(&p, (const uint8_t *)SECRET, SLEN, false), -1);
}

/* Vendor-Specific attributes: sub-attributes are found; a value not in
 * the RFC 2865 §5.26 layout stays one opaque attribute. */
static void
test_vsa(void **state)
{
	struct radpkt_builder b;
	struct radpkt p;
	struct radpkt_accept acc;
	uint8_t odd[7] = { 0, 0, 0x38, 0xdf, 3, 9, 1 };
	int n;

	(void)state;
	radpkt_begin(&b, RAD_ACCESS_ACCEPT, 1, NULL);
	radpkt_put_u32(&b, RAD_SESSION_TIMEOUT, 60);
	radpkt_put_u32(&b, RAD_IDLE_TIMEOUT, 30);
	radpkt_put_u32(&b, RAD_ACCT_INTERIM_INTERVAL, 10);
	radpkt_put_vsa_u32(&b, RAD_VENDOR_CHILLISPOT, RAD_CHILLI_MAX_TOTAL_OCTETS, 5000000);
	radpkt_put_vsa_u32(&b, RAD_VENDOR_CHILLISPOT, RAD_CHILLI_MAX_TOTAL_GIGAWORDS, 1);
	radpkt_put(&b, RAD_CLASS, "grp-7", 5);
	radpkt_put_str(&b, RAD_REPLY_MESSAGE, "welcome");
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, rfc_req + 4);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(radpkt_accept_decode(&p, &acc, NULL), 0);
	assert_int_equal(acc.session_timeout, 60);
	assert_int_equal(acc.idle_timeout, 30);
	assert_int_equal(acc.interim, 10);
	assert_true(acc.volume == (UINT64_C(1) << 32) + 5000000);
	assert_int_equal(acc.class_len, 5);
	assert_memory_equal(acc.class_, "grp-7", 5);
	assert_string_equal(acc.reply_message, "welcome");
	/* A bad sub-attribute length: opaque, and no volume found. */
	radpkt_begin(&b, RAD_ACCESS_ACCEPT, 1, NULL);
	radpkt_put(&b, RAD_VENDOR_SPECIFIC, odd, sizeof(odd));
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, rfc_req + 4);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(p.nattrs, 1);
	assert_int_equal(p.attrs[0].type, RAD_VENDOR_SPECIFIC);
	assert_int_equal(radpkt_accept_decode(&p, &acc, NULL), 0);
	assert_true(acc.volume == 0);
	/* A 3-octet Session-Timeout fails the whole Accept. */
	radpkt_begin(&b, RAD_ACCESS_ACCEPT, 1, NULL);
	radpkt_put(&b, RAD_SESSION_TIMEOUT, "abc", 3);
	n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, rfc_req + 4);
	assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
	assert_int_equal(radpkt_accept_decode(&p, &acc, NULL), -1);
}

/* One row of the CoA decoder table. */
struct coa_row {
	const char *name;
	uint8_t code;
	uint8_t type[4];   /* attributes to add (0 ends) */
	const char *val[4];
	int want;          /* 0 or the Error-Cause */
};

/* CoA/Disconnect decoding: identification, changes, refusals. */
static void
test_coa_decode(void **state)
{
	static const struct coa_row rows[] = {
		{ "disconnect by sid", RAD_DISCONNECT_REQUEST, { RAD_ACCT_SESSION_ID }, { "s1" }, 0 },
		{ "disconnect by mac", RAD_DISCONNECT_REQUEST, { RAD_CALLING_STATION_ID }, { "02-99-00-00-00-0a" }, 0 },
		{ "disconnect by user", RAD_DISCONNECT_REQUEST, { RAD_USER_NAME }, { "alice" }, 0 },
		{ "no identification", RAD_DISCONNECT_REQUEST, { RAD_NAS_IDENTIFIER }, { "gw" }, RAD_ERR_MISSING_ATTRIBUTE },
		{ "bad mac", RAD_DISCONNECT_REQUEST, { RAD_CALLING_STATION_ID }, { "02-99-00-00-00" }, RAD_ERR_INVALID_ATTRIBUTE_VALUE },
		{ "filter-id refused", RAD_COA_REQUEST, { RAD_USER_NAME, RAD_FILTER_ID }, { "a", "f" }, RAD_ERR_UNSUPPORTED_ATTRIBUTE },
		{ "service-type refused", RAD_COA_REQUEST, { RAD_USER_NAME, RAD_SERVICE_TYPE }, { "a", "\0\0\0\x11" }, RAD_ERR_UNSUPPORTED_SERVICE },
		{ "timeout on disconnect", RAD_DISCONNECT_REQUEST, { RAD_USER_NAME, RAD_SESSION_TIMEOUT }, { "a", "\0\0\0\x10" }, RAD_ERR_UNSUPPORTED_ATTRIBUTE },
		{ "control char in user", RAD_COA_REQUEST, { RAD_USER_NAME }, { "a\tb" }, RAD_ERR_INVALID_ATTRIBUTE_VALUE },
	};
	struct radpkt_builder b;
	struct radpkt p;
	struct radpkt_coa c;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		radpkt_begin(&b, rows[i].code, 1, NULL);
		for (int k = 0; k < 4 && rows[i].type[k]; k++)
			radpkt_put(&b, rows[i].type[k], rows[i].val[k],
			    rows[i].type[k] == RAD_SERVICE_TYPE || rows[i].type[k] == RAD_SESSION_TIMEOUT
			    ? 4 : strlen(rows[i].val[k]));
		int n = radpkt_finish(&b, (const uint8_t *)SECRET, SLEN, NULL);
		assert_true(n > 0);
		assert_int_equal(radpkt_parse(b.buf, (size_t)n, &p, NULL), 0);
		if (radpkt_coa_decode(&p, &c) != rows[i].want)
			fail_msg("%s: got %d", rows[i].name, radpkt_coa_decode(&p, &c));
	}
	/* A full CoA: values come out. */
	uint8_t pkt[RADPKT_MAX];
	size_t n = build_coa(pkt, RAD_COA_REQUEST, true);
	assert_int_equal(radpkt_parse(pkt, n, &p, NULL), 0);
	assert_int_equal(radpkt_coa_decode(&p, &c), 0);
	assert_false(c.disconnect);
	assert_true(c.has_sid && c.has_mac && c.has_session_timeout && c.has_event_ts);
	assert_string_equal(c.sid, "0123456789abcdef");
	assert_int_equal(c.mac.b[5], 0x0a);
	assert_int_equal(c.session_timeout, 120);
	assert_int_equal(c.event_ts, 1700000000u);
}

/* Event-Timestamp window edges and MAC formats. */
static void
test_ts_and_mac(void **state)
{
	struct wk_mac m;
	char s[WK_MAC_STRLEN];

	(void)state;
	assert_int_equal(radpkt_ts_check(1000, 1300, 300), 0);
	assert_int_equal(radpkt_ts_check(1000, 1301, 300), -1);
	assert_int_equal(radpkt_ts_check(1300, 1000, 300), 0);
	assert_int_equal(radpkt_ts_check(1301, 1000, 300), -1);
	assert_int_equal(radpkt_mac_parse("02-99-00-00-00-0A", 17, &m), 0);
	assert_int_equal(m.b[0], 0x02);
	assert_int_equal(m.b[5], 0x0a);
	assert_int_equal(radpkt_mac_parse("02:99:00:00:00:0a", 17, &m), 0);
	assert_int_equal(radpkt_mac_parse("0299000000aB", 12, &m), 0);
	assert_int_equal(m.b[5], 0xab);
	assert_int_equal(radpkt_mac_parse("02:99-00:00:00:0a", 17, &m), -1);
	assert_int_equal(radpkt_mac_parse("02:99:00:00:00:0g", 17, &m), -1);
	assert_int_equal(radpkt_mac_parse("0299000000a", 11, &m), -1);
	m = (struct wk_mac){ { 0x02, 0x99, 0, 0, 0, 0xab } };
	radpkt_mac_format(&m, s);
	assert_string_equal(s, "02-99-00-00-00-AB");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2865_access_request),
		cmocka_unit_test(test_rfc2865_response),
		cmocka_unit_test(test_response_requires_ma),
		cmocka_unit_test(test_coa_authenticators),
		cmocka_unit_test(test_coa_every_truncation),
		cmocka_unit_test(test_attribute_limits),
		cmocka_unit_test(test_too_many_attributes),
		cmocka_unit_test(test_builder_limits),
		cmocka_unit_test(test_accounting_and_responses),
		cmocka_unit_test(test_vsa),
		cmocka_unit_test(test_coa_decode),
		cmocka_unit_test(test_ts_and_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
