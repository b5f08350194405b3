/* test_http: table tests for the HTTP/1.1 framer (proxy/http.c): valid
 * requests checked field by field, every prefix and every read split,
 * pipelining, each framing rule with its status, chunked bodies, responses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* ------------------------------------------------------------------ */
/* Limits and helpers                                                  */

static const char *const needs_len[] = { "POST", "PUT", "PATCH" };

/* The production defaults of the brief. */
static const struct http_limits LIM = {
	.max_request_line = 8192,
	.max_header_bytes = 32768,
	.max_headers = 100,
	.max_body_bytes = 1ULL << 30,
	.require_length = needs_len,
	.n_require_length = 3,
};

/* Small limits, so that 414/431/413 boundaries are cheap to reach. */
static const struct http_limits SMALL = {
	.max_request_line = 64,
	.max_header_bytes = 256,
	.max_headers = 4,
	.max_body_bytes = 1000,
	.require_length = needs_len,
	.n_require_length = 3,
};

/* A byte string literal with its length (it may hold NUL). */
#define B(s) s, (sizeof(s) - 1)

#define CHECK(name, cond)                                                   \
	do {                                                                \
		if (!(cond))                                                \
			fail_msg("row \"%s\": %s (%s:%d)", (name), #cond,   \
			    __FILE__, __LINE__);                            \
	} while (0)

#define CHECK_NUM(name, what, got, want)                                    \
	do {                                                                \
		long long g_ = (long long)(got), w_ = (long long)(want);    \
		if (g_ != w_)                                               \
			fail_msg("row \"%s\": %s = %lld, want %lld (%s:%d)", \
			    (name), (what), g_, w_, __FILE__, __LINE__);    \
	} while (0)

/* Heap copy of exactly n bytes, so that ASan flags any read past n. */
static char *
dup_exact(const char *p, size_t n)
{
	char *d = malloc(n ? n : 1);

	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

/* One-shot request parse of buf[0..n) from an exact-size heap copy. */
static int
req_once(struct http_req *r, const char *buf, size_t n,
    const struct http_limits *lim)
{
	char *d = dup_exact(buf, n);
	int rc;

	http_req_init(r);
	rc = http_req_parse(r, d, n, lim);
	free(d);
	return rc;
}

/* Grow the same buffer one byte at a time, as a caller whose reads
 * deliver one byte each; stops at the first non-MORE result. The copies
 * are exact-size for short inputs so that over-reads are caught. */
static int
req_grow(struct http_req *r, const char *buf, size_t n,
    const struct http_limits *lim, size_t *stop)
{
	int rc = HTTP_MORE;
	size_t k;

	http_req_init(r);
	for (k = 0; k <= n; k++) {
		if (n < 2048) {
			char *d = dup_exact(buf, k);
			rc = http_req_parse(r, d, k, lim);
			free(d);
		} else {
			rc = http_req_parse(r, buf, k, lim);
		}
		if (rc != HTTP_MORE)
			break;
	}
	*stop = k;
	return rc;
}

/* Compare every result field of two request parses. */
static void
req_same(const char *name, const struct http_req *a, const struct http_req *b)
{
	CHECK_NUM(name, "head_len", a->head_len, b->head_len);
	CHECK_NUM(name, "method_off", a->method_off, b->method_off);
	CHECK_NUM(name, "method_len", a->method_len, b->method_len);
	CHECK_NUM(name, "target_off", a->target_off, b->target_off);
	CHECK_NUM(name, "target_len", a->target_len, b->target_len);
	CHECK_NUM(name, "host_off", a->host_off, b->host_off);
	CHECK_NUM(name, "host_len", a->host_len, b->host_len);
	CHECK_NUM(name, "minor", a->minor, b->minor);
	CHECK_NUM(name, "body", a->body, b->body);
	CHECK_NUM(name, "content_length", a->content_length, b->content_length);
	CHECK_NUM(name, "close", a->close, b->close);
	CHECK_NUM(name, "expect_continue", a->expect_continue, b->expect_continue);
	CHECK_NUM(name, "upgrade", a->upgrade, b->upgrade);
	CHECK_NUM(name, "connect", a->connect, b->connect);
	CHECK_NUM(name, "status", a->status, b->status);
}

/* Offset of the value of the (single) Host field in a head, OWS skipped. */
static size_t
host_value_off(const char *head)
{
	for (const char *p = head; (p = strchr(p, '\n')) != NULL; p++) {
		if (strncasecmp(p + 1, "host:", 5) != 0)
			continue;
		p += 6;
		while (*p == ' ' || *p == '\t')
			p++;
		return (size_t)(p - head);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Valid requests                                                      */

struct vreq {
	const char *name;
	const char *head;
	const char *body;    /* bytes of this request after the head */
	const char *method, *target, *host; /* host NULL: no Host field */
	size_t method_off;
	uint8_t minor;
	enum http_body kind;
	uint64_t cl;
	bool close, expect, upgrade;
	uint64_t decoded;    /* chunked: decoded body size */
};

static const struct vreq valid[] = {
	{ .name = "GET origin-form",
	  .head = "GET /index.html?q=1&r=%20 HTTP/1.1\r\nHost: example.com\r\n"
	      "User-Agent: t/1\r\nAccept: */*\r\n\r\n",
	  .method = "GET", .target = "/index.html?q=1&r=%20",
	  .host = "example.com", .minor = 1, .kind = HTTP_BODY_NONE },
	{ .name = "GET absolute-form",
	  .head = "GET http://example.com/a/b HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  .method = "GET", .target = "http://example.com/a/b",
	  .host = "example.com", .minor = 1 },
	{ .name = "GET absolute-form https, upper-case scheme",
	  .head = "GET HTTPS://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  .method = "GET", .target = "HTTPS://example.com/",
	  .host = "example.com", .minor = 1 },
	{ .name = "OPTIONS asterisk",
	  .head = "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  .method = "OPTIONS", .target = "*", .host = "example.com", .minor = 1 },
	{ .name = "HEAD",
	  .head = "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n",
	  .method = "HEAD", .target = "/x", .host = "a", .minor = 1 },
	{ .name = "HTTP/1.0 without Host closes",
	  .head = "GET / HTTP/1.0\r\n\r\n",
	  .method = "GET", .target = "/", .host = NULL, .minor = 0,
	  .close = true },
	{ .name = "HTTP/1.0 with Host and keep-alive",
	  .head = "GET /k HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n",
	  .method = "GET", .target = "/k", .host = "a", .minor = 0 },
	{ .name = "HTTP/1.0 POST with Content-Length",
	  .head = "POST /f HTTP/1.0\r\nContent-Length: 3\r\n\r\n", .body = "a=b",
	  .method = "POST", .target = "/f", .minor = 0,
	  .kind = HTTP_BODY_LENGTH, .cl = 3, .close = true },
	{ .name = "HTTP/1.1 Connection: close",
	  .head = "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .minor = 1, .close = true },
	{ .name = "POST with Content-Length",
	  .head = "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
	      "Content-Length: 11\r\n\r\n", .body = "hello world",
	  .method = "POST", .target = "/form", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_LENGTH, .cl = 11 },
	{ .name = "chunked POST with extensions and trailers",
	  .head = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .body = "5;name=val\r\nhello\r\n"
	      "6 ;q=\"a b\\\"c\";x\t;y = z\r\n world\r\n"
	      "0\r\nChecksum: abc\r\nX-T: 1\r\n\r\n",
	  .method = "POST", .target = "/up", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_CHUNKED, .decoded = 11 },
	{ .name = "chunked PUT, case-insensitive name and coding",
	  .head = "PUT /c HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n",
	  .body = "0\r\n\r\n",
	  .method = "PUT", .target = "/c", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_CHUNKED, .decoded = 0 },
	{ .name = "Expect: 100-continue",
	  .head = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	      "Content-Length: 3\r\n\r\n", .body = "abc",
	  .method = "PUT", .target = "/f", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_LENGTH, .cl = 3, .expect = true },
	{ .name = "Expect: 100-continue ignored in HTTP/1.0",
	  .head = "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n"
	      "Content-Length: 3\r\n\r\n", .body = "abc",
	  .method = "PUT", .target = "/f", .minor = 0,
	  .kind = HTTP_BODY_LENGTH, .cl = 3, .close = true },
	{ .name = "Upgrade with Connection: upgrade",
	  .head = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	      "Connection: keep-alive, Upgrade\r\n\r\n",
	  .method = "GET", .target = "/ws", .host = "a", .minor = 1,
	  .upgrade = true },
	{ .name = "Upgrade without Connection: upgrade",
	  .head = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
	  .method = "GET", .target = "/ws", .host = "a", .minor = 1 },
	{ .name = "leading CRLF before request line",
	  .head = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .method_off = 2,
	  .minor = 1 },
	{ .name = "two leading CRLFs",
	  .head = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .method_off = 4,
	  .minor = 1 },
	{ .name = "obs-text in a field value",
	  .head = "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \xff\x80\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .minor = 1 },
	{ .name = "Host with port",
	  .head = "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
	  .method = "GET", .target = "/", .host = "example.com:8080", .minor = 1 },
	{ .name = "Host IPv6 literal with port",
	  .head = "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
	  .method = "GET", .target = "/", .host = "[2001:db8::1]:8080", .minor = 1 },
	{ .name = "Host IPv6 literal, v4-mapped",
	  .head = "GET / HTTP/1.1\r\nHost: [::ffff:192.0.2.1]\r\n\r\n",
	  .method = "GET", .target = "/", .host = "[::ffff:192.0.2.1]", .minor = 1 },
	{ .name = "Host pct-encoded and sub-delims, OWS trimmed",
	  .head = "GET / HTTP/1.1\r\nHOST: \t a%41b-c.d_e~f!$&'()*+,;= \t\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a%41b-c.d_e~f!$&'()*+,;=",
	  .minor = 1 },
	{ .name = "empty Host in HTTP/1.1 absolute-form (Host is ignored)",
	  .head = "GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n",
	  .method = "GET", .target = "http://a/", .host = "", .minor = 1 },
	{ .name = "empty Host in HTTP/1.0",
	  .head = "GET / HTTP/1.0\r\nHost:\r\n\r\n",
	  .method = "GET", .target = "/", .host = "", .minor = 0, .close = true },
	{ .name = "HTTP/1.9 is treated as 1.1",
	  .head = "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .minor = 1 },
	{ .name = "Content-Length: 0 is no body",
	  .head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	  .method = "POST", .target = "/", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_NONE },
	{ .name = "Content-Length with OWS and leading zeros",
	  .head = "PATCH /p HTTP/1.1\r\nHost: a\r\ncontent-length:\t 007 \r\n\r\n",
	  .body = "1234567",
	  .method = "PATCH", .target = "/p", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_LENGTH, .cl = 7 },
	{ .name = "GET with a body length",
	  .head = "GET /q HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n", .body = "{}",
	  .method = "GET", .target = "/q", .host = "a", .minor = 1,
	  .kind = HTTP_BODY_LENGTH, .cl = 2 },
	{ .name = "DELETE without length needs none",
	  .head = "DELETE /d HTTP/1.1\r\nHost: a\r\n\r\n",
	  .method = "DELETE", .target = "/d", .host = "a", .minor = 1 },
	{ .name = "lower-case post is not POST (methods are case-sensitive)",
	  .head = "post / HTTP/1.1\r\nHost: a\r\n\r\n",
	  .method = "post", .target = "/", .host = "a", .minor = 1 },
	{ .name = "32-character extension method",
	  .head = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-12345 / HTTP/1.1\r\nHost: a\r\n\r\n",
	  .method = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-12345", .target = "/",
	  .host = "a", .minor = 1 },
	{ .name = "empty field value and no OWS",
	  .head = "GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Sp:   \r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .minor = 1 },
	{ .name = "Expect repeated",
	  .head = "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	      "Expect: 100-continue\r\n\r\n",
	  .method = "GET", .target = "/", .host = "a", .minor = 1, .expect = true },
};

#define NVALID (sizeof(valid) / sizeof(valid[0]))

/* Check a completed parse against a valid-table row. */
static void
check_vreq(const struct vreq *v, const struct http_req *r, const char *buf)
{
	const char *n = v->name;

	CHECK_NUM(n, "head_len", r->head_len, strlen(v->head));
	CHECK_NUM(n, "method_off", r->method_off, v->method_off);
	CHECK_NUM(n, "method_len", r->method_len, strlen(v->method));
	CHECK(n, memcmp(buf + r->method_off, v->method, r->method_len) == 0);
	CHECK_NUM(n, "target_off", r->target_off, v->method_off + strlen(v->method) + 1);
	CHECK_NUM(n, "target_len", r->target_len, strlen(v->target));
	CHECK(n, memcmp(buf + r->target_off, v->target, r->target_len) == 0);
	if (v->host == NULL) {
		CHECK_NUM(n, "host_off", r->host_off, 0);
		CHECK_NUM(n, "host_len", r->host_len, 0);
	} else {
		CHECK_NUM(n, "host_off", r->host_off, host_value_off(v->head));
		CHECK_NUM(n, "host_len", r->host_len, strlen(v->host));
		CHECK(n, memcmp(buf + r->host_off, v->host, r->host_len) == 0);
	}
	CHECK_NUM(n, "minor", r->minor, v->minor);
	CHECK_NUM(n, "body", r->body, v->kind);
	CHECK_NUM(n, "content_length", r->content_length, v->cl);
	CHECK_NUM(n, "close", r->close, v->close);
	CHECK_NUM(n, "expect_continue", r->expect_continue, v->expect);
	CHECK_NUM(n, "upgrade", r->upgrade, v->upgrade);
	CHECK_NUM(n, "connect", r->connect, false);
	CHECK_NUM(n, "status", r->status, 0);
}

/* Each valid request, parsed in one call with and without its body and a
 * following request in the buffer, gives exactly the expected fields. */
static void
test_valid_oneshot(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVALID; i++) {
		const struct vreq *v = &valid[i];
		const char *body = v->body ? v->body : "";
		const char *next = "GET /next HTTP/1.1\r\nHost: b\r\n\r\n";
		size_t hl = strlen(v->head), bl = strlen(body), nl = strlen(next);
		char *buf = malloc(hl + bl + nl);
		struct http_req r;

		assert_non_null(buf);
		memcpy(buf, v->head, hl);
		memcpy(buf + hl, body, bl);
		memcpy(buf + hl + bl, next, nl);
		for (size_t extra = 0; extra <= bl + nl; extra += bl + nl ? bl + nl : 1) {
			CHECK_NUM(v->name, "rc", req_once(&r, buf, hl + extra, &LIM), HTTP_DONE);
			check_vreq(v, &r, buf);
			/* DONE is sticky: calling again changes nothing. */
			CHECK_NUM(v->name, "rc again",
			    http_req_parse(&r, buf, hl + extra, &LIM), HTTP_DONE);
			check_vreq(v, &r, buf);
		}
		if (v->kind == HTTP_BODY_LENGTH)
			CHECK_NUM(v->name, "body bytes", bl, v->cl);
		if (v->kind == HTTP_BODY_NONE)
			CHECK_NUM(v->name, "body bytes", bl, 0);
		if (v->kind == HTTP_BODY_CHUNKED) {
			struct http_chunked c;
			size_t used = 99;
			http_chunked_init(&c);
			CHECK_NUM(v->name, "chunked rc",
			    http_chunked_feed(&c, buf + hl, bl + nl, &used, &LIM), HTTP_DONE);
			CHECK_NUM(v->name, "chunked used", used, bl);
			CHECK_NUM(v->name, "decoded", c.total, v->decoded);
		}
		free(buf);
	}
}

/* Every proper prefix of each valid head is "need more", never an error,
 * whether it is parsed fresh or by a parser that saw shorter prefixes. */
static void
test_valid_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVALID; i++) {
		const struct vreq *v = &valid[i];
		size_t hl = strlen(v->head);
		struct http_req r;

		for (size_t k = 0; k < hl; k++) {
			int rc = req_once(&r, v->head, k, &LIM);
			if (rc != HTTP_MORE)
				fail_msg("row \"%s\": prefix of %zu/%zu bytes gave rc %d "
				    "status %u (%s)", v->name, k, hl, rc, r.status,
				    r.why ? r.why : "");
			CHECK_NUM(v->name, "status on prefix", r.status, 0);
		}
	}
}

/* The same buffer grown one byte at a time, and every two-piece split,
 * give the one-shot result exactly at the last byte of the head. */
static void
test_valid_splits(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVALID; i++) {
		const struct vreq *v = &valid[i];
		size_t hl = strlen(v->head), stop;
		struct http_req one, r;

		CHECK_NUM(v->name, "one-shot", req_once(&one, v->head, hl, &LIM), HTTP_DONE);
		CHECK_NUM(v->name, "grow rc", req_grow(&r, v->head, hl, &LIM, &stop),
		    HTTP_DONE);
		CHECK_NUM(v->name, "grow DONE at byte", stop, hl);
		req_same(v->name, &r, &one);
		check_vreq(v, &r, v->head);

		for (size_t s = 0; s <= hl; s++) {
			char *d = dup_exact(v->head, s);
			int rc;

			http_req_init(&r);
			rc = http_req_parse(&r, d, s, &LIM);
			free(d);
			if (rc != (s == hl ? HTTP_DONE : HTTP_MORE))
				fail_msg("row \"%s\": split at %zu: first piece rc %d",
				    v->name, s, rc);
			d = dup_exact(v->head, hl);
			rc = http_req_parse(&r, d, hl, &LIM);
			free(d);
			if (rc != HTTP_DONE)
				fail_msg("row \"%s\": split at %zu: rc %d", v->name, s, rc);
			req_same(v->name, &r, &one);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Chunked bodies                                                      */

struct vchunk {
	const char *name;
	const char *body;
	size_t len;        /* 0: strlen */
	uint64_t decoded;
};

static const struct vchunk vchunks[] = {
	{ "one chunk", B("5\r\nhello\r\n0\r\n\r\n"), 5 },
	{ "empty body", B("0\r\n\r\n"), 0 },
	{ "upper-case hex", B("A\r\n0123456789\r\n0\r\n\r\n"), 10 },
	{ "several chunks", B("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n"), 6 },
	{ "token extensions", B("a;name=value;flag\r\n0123456789\r\n0;last\r\n\r\n"), 10 },
	{ "name-only extension then another", B("2;a;b=c\r\nxy\r\n0\r\n\r\n"), 2 },
	{ "BWS around ; and =, quoted values",
	  B("5 \t;a=b ; c = \"q\\\"x\" \t;d\r\nhello\r\n0\r\n\r\n"), 5 },
	{ "quoted string with obs-text, escapes, tab",
	  B("3;q=\"\xc3\xa9\\\\\t;,=\"\r\nabc\r\n0\r\n\r\n"), 3 },
	{ "16 size digits", B("0000000000000005\r\nhello\r\n0\r\n\r\n"), 5 },
	{ "data holding CRLF and a last-chunk lookalike",
	  B("7\r\n0\r\n\r\nab\r\n0\r\n\r\n"), 7 },
	{ "data holding NUL and high bytes", B("4\r\n\0\xff\r\n\r\n0\r\n\r\n"), 4 },
	{ "trailers", B("5\r\nhello\r\n0\r\nChecksum: abc\r\nX-Empty:\r\n"
	  "X-Obs: caf\xc3\xa9\r\nX-Ws:  a b \t\r\n\r\n"), 5 },
	{ "trailer names like framing fields but longer", B("0\r\nHostname: x\r\n"
	  "Content-Lengths: 1\r\nTransfer-Encoding-X: 1\r\n"
	  "A-Very-Long-Trailer-Field-Name-Indeed: 1\r\n\r\n"), 0 },
	{ "size line of exactly 4096 bytes with CRLF", NULL, 0, 5 },
};

#define NVCHUNK (sizeof(vchunks) / sizeof(vchunks[0]))

/* Storage for generated table bodies. */
static char genbuf[8192];

/* The bytes of a chunked-table row (generating the long one). */
static const char *
vchunk_bytes(const struct vchunk *v, size_t *len)
{
	if (v->body != NULL) {
		*len = v->len;
		return v->body;
	}
	/* "5;" + 4092 name bytes + CRLF = 4096 bytes on the size line. */
	size_t n = 0;
	memcpy(genbuf, "5;", 2);
	n = 2;
	memset(genbuf + n, 'e', 4092);
	n += 4092;
	memcpy(genbuf + n, "\r\nhello\r\n0\r\n\r\n", 14);
	n += 14;
	*len = n;
	return genbuf;
}

/* Each valid chunked body, followed by the next request's bytes: one
 * call, byte by byte and every two-piece split all end with DONE exactly
 * at the body's last byte, so the next request starts at the right one. */
static void
test_chunked_valid(void **state)
{
	static const char next[] = "GET / HTTP/1.1\r\n";
	(void)state;
	for (size_t i = 0; i < NVCHUNK; i++) {
		const struct vchunk *v = &vchunks[i];
		size_t bl, used, total;
		const char *body = vchunk_bytes(v, &bl);
		char *buf = malloc(bl + sizeof(next));
		struct http_chunked c;
		int rc;

		assert_non_null(buf);
		memcpy(buf, body, bl);
		memcpy(buf + bl, next, sizeof(next) - 1);
		total = bl + sizeof(next) - 1;

		/* One call with the next request behind the body. */
		http_chunked_init(&c);
		rc = http_chunked_feed(&c, buf, total, &used, &LIM);
		CHECK_NUM(v->name, "one-shot rc", rc, HTTP_DONE);
		CHECK_NUM(v->name, "one-shot used", used, bl);
		CHECK_NUM(v->name, "decoded", c.total, v->decoded);
		/* Once done, more bytes are not ours. */
		rc = http_chunked_feed(&c, buf + bl, total - bl, &used, &LIM);
		CHECK_NUM(v->name, "after done rc", rc, HTTP_DONE);
		CHECK_NUM(v->name, "after done used", used, 0);
		rc = http_chunked_feed(&c, buf, 0, &used, &LIM);
		CHECK_NUM(v->name, "after done, empty feed", rc, HTTP_DONE);

		/* Exactly the body, in one call. */
		http_chunked_init(&c);
		rc = http_chunked_feed(&c, buf, bl, &used, &LIM);
		CHECK_NUM(v->name, "exact rc", rc, HTTP_DONE);
		CHECK_NUM(v->name, "exact used", used, bl);

		/* Byte by byte: MORE with used 1 until the last byte. */
		http_chunked_init(&c);
		for (size_t k = 0; k < total; k++) {
			char *d = dup_exact(buf + k, 1);
			rc = http_chunked_feed(&c, d, 1, &used, &LIM);
			free(d);
			if (k + 1 < bl && (rc != HTTP_MORE || used != 1))
				fail_msg("row \"%s\": byte %zu: rc %d used %zu (%s)",
				    v->name, k, rc, used, c.why ? c.why : "");
			if (k + 1 == bl) {
				if (rc != HTTP_DONE || used != 1)
					fail_msg("row \"%s\": last byte: rc %d used %zu",
					    v->name, rc, used);
				break;
			}
		}
		CHECK_NUM(v->name, "byte-by-byte decoded", c.total, v->decoded);

		/* Two pieces split at every boundary. */
		for (size_t s = 0; s <= total; s++) {
			char *d = dup_exact(buf, s);
			size_t u1, u2 = 0;

			http_chunked_init(&c);
			rc = http_chunked_feed(&c, d, s, &u1, &LIM);
			free(d);
			if (s < bl) {
				if (rc != HTTP_MORE || u1 != s)
					fail_msg("row \"%s\": split %zu: first rc %d used %zu",
					    v->name, s, rc, u1);
				d = dup_exact(buf + s, total - s);
				rc = http_chunked_feed(&c, d, total - s, &u2, &LIM);
				free(d);
			} else {
				u2 = 0;
			}
			if (rc != HTTP_DONE || u1 + u2 != bl)
				fail_msg("row \"%s\": split %zu: rc %d used %zu+%zu, want %zu",
				    v->name, s, rc, u1, u2, bl);
			CHECK_NUM(v->name, "split decoded", c.total, v->decoded);
		}
		free(buf);
	}
}

/* ------------------------------------------------------------------ */
/* Pipelining                                                          */

static const char pipeline[] =
    "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 26\r\n\r\n"
    "GET /fake HTTP/1.1\r\nX: 1\r\n"
    "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4;x=1\r\nab\r\n\r\n"
    "1A\r\nGET /smuggled HTTP/1.1\r\n\r\n\r\n"
    "0\r\nT: 1\r\n\r\n"
    "\r\nGET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

static const char *const pipe_want[] = {
	"GET /one", "POST /two", "POST /three", "GET /four",
};

/* A caller's connection state: where the current message starts, which
 * part of it we are in, and what was framed so far. */
struct walker {
	enum { W_HEAD, W_LENGTH, W_CHUNKED } phase;
	size_t start, pos;
	uint64_t left;
	struct http_req r;
	struct http_chunked c;
	char seen[8][64];
	size_t nseen;
	bool failed;
	const char *why;
};

/* Frame what has arrived of the stream s[0..avail), as conn.c would:
 * parse the head at the message start, then skip the body, then go on. */
static void
walker_run(struct walker *w, const char *s, size_t avail)
{
	for (;;) {
		if (w->phase == W_HEAD) {
			int rc = http_req_parse(&w->r, s + w->start, avail - w->start, &LIM);
			if (rc == HTTP_MORE)
				return;
			if (rc == HTTP_ERROR || w->nseen == 8) {
				w->failed = true;
				w->why = rc == HTTP_ERROR ? w->r.why : "too many requests";
				return;
			}
			snprintf(w->seen[w->nseen++], sizeof(w->seen[0]), "%.*s %.*s",
			    (int)w->r.method_len, s + w->start + w->r.method_off,
			    (int)w->r.target_len, s + w->start + w->r.target_off);
			w->pos = w->start + w->r.head_len;
			if (w->r.body == HTTP_BODY_LENGTH) {
				w->phase = W_LENGTH;
				w->left = w->r.content_length;
			} else if (w->r.body == HTTP_BODY_CHUNKED) {
				w->phase = W_CHUNKED;
				http_chunked_init(&w->c);
			} else {
				w->start = w->pos;
				http_req_init(&w->r);
			}
		} else if (w->phase == W_LENGTH) {
			size_t k = avail - w->pos;
			if (k > w->left)
				k = (size_t)w->left;
			w->pos += k;
			w->left -= k;
			if (w->left > 0)
				return;
			w->phase = W_HEAD;
			w->start = w->pos;
			http_req_init(&w->r);
		} else {
			size_t used;
			int rc = http_chunked_feed(&w->c, s + w->pos, avail - w->pos,
			    &used, &LIM);
			w->pos += used;
			if (rc == HTTP_ERROR) {
				w->failed = true;
				w->why = w->c.why;
				return;
			}
			if (rc == HTTP_MORE)
				return;
			w->phase = W_HEAD;
			w->start = w->pos;
			http_req_init(&w->r);
		}
		if (w->phase == W_HEAD && w->start == avail)
			return;
	}
}

/* Four pipelined requests, two with bodies that look like requests, are
 * framed the same whatever the size of the reads that deliver them. */
static void
test_pipeline(void **state)
{
	size_t total = sizeof(pipeline) - 1;
	char name[48];

	(void)state;
	for (size_t step = 1; step <= total; step++) {
		struct walker w;

		memset(&w, 0, sizeof(w));
		http_req_init(&w.r);
		snprintf(name, sizeof(name), "pipeline in reads of %zu", step);
		for (size_t avail = 0; avail < total; ) {
			avail = avail + step > total ? total : avail + step;
			char *d = dup_exact(pipeline, avail);
			walker_run(&w, d, avail);
			free(d);
			if (w.failed)
				fail_msg("row \"%s\": failed at %zu (start %zu): %s", name,
				    avail, w.start, w.why);
		}
		CHECK_NUM(name, "requests framed", w.nseen, 4);
		for (size_t k = 0; k < 4; k++)
			if (strcmp(w.seen[k], pipe_want[k]) != 0)
				fail_msg("row \"%s\": request %zu is \"%s\", want \"%s\"",
				    name, k, w.seen[k], pipe_want[k]);
		CHECK_NUM(name, "stream end", w.start, total);
	}
	/* Two-piece splits at every byte. */
	for (size_t s = 0; s <= total; s++) {
		struct walker w;
		char *d;

		memset(&w, 0, sizeof(w));
		http_req_init(&w.r);
		snprintf(name, sizeof(name), "pipeline split at %zu", s);
		d = dup_exact(pipeline, s);
		walker_run(&w, d, s);
		free(d);
		d = dup_exact(pipeline, total);
		walker_run(&w, d, total);
		free(d);
		CHECK(name, !w.failed);
		CHECK_NUM(name, "requests framed", w.nseen, 4);
		CHECK_NUM(name, "stream end", w.start, total);
	}
}

/* ------------------------------------------------------------------ */
/* Request rules: bytes -> status (0: must be accepted)                */

struct rule {
	const char *name;
	const char *pre;
	size_t prelen;
	char fill;
	size_t nfill;
	const char *post;
	size_t postlen;
	unsigned status;
	const struct http_limits *lim;
};

#define H11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define P11 "POST / HTTP/1.1\r\nHost: a\r\n"
#define R(name, bytes, st) { name, B(bytes), 0, 0, B(""), st, &LIM }
#define RS(name, bytes, st) { name, B(bytes), 0, 0, B(""), st, &SMALL }
#define RF(name, pre, c, n, post, st, lim) { name, B(pre), c, n, B(post), st, lim }

static const struct rule rules[] = {
	/* Request line, RFC 9112 §3 and §2.3. */
	R("lower-case http", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
	R("HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
	R("HTTP/1.1.1", "GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", 400),
	R("HTTP/11", "GET / HTTP/11\r\nHost: a\r\n\r\n", 400),
	R("HTTP/1.x", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
	R("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
	R("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
	R("HTTP/3.1", "GET / HTTP/3.1\r\n\r\n", 505),
	R("missing version", "GET /\r\nHost: a\r\n\r\n", 400),
	R("missing target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	/* An http URI's authority is never empty (RFC 9110 §4.2.1, §7.2), so
	 * origin-form and asterisk-form need a non-empty Host (RFC 9112 §3.2). */
	R("empty Host, origin-form", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
	R("empty Host with OWS", "GET /x HTTP/1.1\r\nHost: \t \r\n\r\n", 400),
	R("empty Host, asterisk-form", "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n", 400),
	R("empty Host, POST with a body", "POST / HTTP/1.1\r\nHost:\r\n"
	  "Content-Length: 1\r\n\r\n", 400),
	R("method only", "GET\r\n\r\n", 400),
	R("double space after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("double space before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
	R("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("tab before version", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("CTL in target", "GET /a\x01" "b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("byte 0x80 in target", "GET /a\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("UTF-8 in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("relative target", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("asterisk on GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("authority-form on GET", "GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("scheme only", "GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("ftp absolute-form", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 501),
	R("CONNECT lower-case too", "connect a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("33-character method",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-123456 / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("three leading empty lines", "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("request line ends in bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
	R("bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
	R("bare CR ends request line", "GET / HTTP/1.1\r\rHost: a\r\n\r\n", 400),
	RF("414 long target", "GET /", 'a', 9000, " HTTP/1.1\r\nHost: a\r\n\r\n", 414, &LIM),
	RF("414 long target, no CRLF yet", "GET /", 'a', 9000, "", 414, &LIM),
	RF("414 long version part", "GET / HTTP/1.1", 'x', 9000, "\r\n\r\n", 414, &LIM),
	RF("501 long method, no space yet", "", 'M', 9000, "", 501, &LIM),
	RF("400 bad byte before the limit", "GET /\x01", 'a', 9000, "", 400, &LIM),
	RF("long line ending in bare LF", "GET /", 'a', 9000, "\n", 414, &LIM),
	RF("line of exactly max_request_line", "GET /", 'a', 64 - 14, " HTTP/1.1\r\nHost: a\r\n\r\n", 0, &SMALL),
	RF("line of max_request_line + 1", "GET /", 'a', 64 - 13, " HTTP/1.1\r\nHost: a\r\n\r\n", 414, &SMALL),
	RF("line of max + 1, bare LF", "GET /", 'a', 64 - 13, " HTTP/1.1\n", 400, &SMALL),
	RF("line of max + 2, bare LF", "GET /", 'a', 64 - 12, " HTTP/1.1\n", 414, &SMALL),
	RF("line of max + 1, no CRLF", "GET /", 'a', 64 - 13, " HTTP/1.1x", 414, &SMALL),
	/* Field lines, RFC 9112 §5 and §2.2. */
	R("bare LF after a field", H11 "X: b\n\r\n", 400),
	R("bare LF ends the head", H11 "\n", 400),
	R("bare CR inside a value", H11 "X: a\rb\r\n\r\n", 400),
	R("bare CR ends a value", H11 "X: a\r\r\n\r\n", 400),
	R("NUL in a value", H11 "X: a\0b\r\n\r\n", 400),
	R("CTL 0x01 in a value", H11 "X: a\x01" "b\r\n\r\n", 400),
	R("ESC in a value", H11 "X: \x1b[0m\r\n\r\n", 400),
	R("DEL in a value", H11 "X: a\x7f\r\n\r\n", 400),
	R("whitespace before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
	R("tab before colon", H11 "X\t: a\r\n\r\n", 400),
	R("obs-fold", H11 "X: a\r\n b\r\n\r\n", 400),
	R("obs-fold with tab", H11 "X: a\r\n\tb\r\n\r\n", 400),
	R("whitespace line after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
	R("empty field name", H11 ": x\r\n\r\n", 400),
	R("non-token field name", H11 "X(y): 1\r\n\r\n", 400),
	R("space inside field name", H11 "X y: 1\r\n\r\n", 400),
	R("high byte in field name", H11 "X\xc3\xa9: 1\r\n\r\n", 400),
	R("field line without colon", H11 "Xyz\r\n\r\n", 400),
	R("Transfer_Encoding", P11 "Transfer_Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400),
	R("Content_Length", P11 "Content_Length: 5\r\n\r\n", 400),
	R("content_length lower-case", P11 "content_length: 5\r\n\r\n", 400),
	R("other underscore name is fine", H11 "X_Forwarded_For: 1.2.3.4\r\n\r\n", 0),
	/* Field count and size, RFC 6585 §5. */
	RF("101 fields", H11, 0, 0, "", 431, &LIM), /* built in rule_bytes */
	RS("4 fields at max_headers 4", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 0),
	RS("5 fields at max_headers 4", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431),
	RF("header block too large", H11 "X: ", 'v', 40000, "\r\n\r\n", 431, &LIM),
	RF("header block too large, no CRLF yet", H11 "X: ", 'v', 40000, "", 431, &LIM),
	RF("header block too large, bare LF", H11 "X: ", 'v', 40000, "\n", 431, &LIM),
	RF("fields of max_header_bytes", H11 "X: ", 'v', 240, "\r\n\r\n", 0, &SMALL),
	RF("fields of max_header_bytes + 1", H11 "X: ", 'v', 241, "\r\n\r\n", 431, &SMALL),
	/* Host, RFC 9112 §3.2 and RFC 9110 §7.2. */
	R("no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400),
	R("two Hosts", H11 "Host: a\r\n\r\n", 400),
	R("two Hosts, HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
	R("space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
	R("userinfo in Host", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
	R("path in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
	R("non-digit port", "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400),
	R("unclosed IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
	R("empty IPv6 literal", "GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400),
	R("junk after IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
	R("non-digit port after IPv6 literal", "GET / HTTP/1.1\r\nHost: [::1]:8x\r\n\r\n", 400),
	R("non-hex in IPv6 literal", "GET / HTTP/1.1\r\nHost: [g::1]\r\n\r\n", 400),
	R("bad pct-encoding in Host", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400),
	R("obs-text in Host", "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400),
	/* Transfer-Encoding, RFC 9112 §6.1, §6.3, §7. */
	R("TE not ending in chunked", P11 "Transfer-Encoding: gzip\r\n\r\n", 400),
	R("TE identity", P11 "Transfer-Encoding: identity\r\n\r\n", 400),
	R("TE gzip, chunked", P11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
	R("TE gzip , chunked with BWS", P11 "Transfer-Encoding: gzip ,\tchunked\r\n\r\n", 501),
	R("TE gzip then chunked on two lines", P11 "Transfer-Encoding: gzip\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 501),
	R("TE chunked, gzip", P11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
	R("TE chunked, chunked", P11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
	R("TE chunked twice on two lines", P11 "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400),
	R("TE chunked;x=1", P11 "Transfer-Encoding: chunked;x=1\r\n\r\n", 400),
	R("TE chunked ;x=1", P11 "Transfer-Encoding: chunked ;x=1\r\n\r\n", 400),
	R("TE empty list element after", P11 "Transfer-Encoding: chunked,\r\n\r\n", 400),
	R("TE empty list element before", P11 "Transfer-Encoding: , chunked\r\n\r\n", 400),
	R("TE empty value", P11 "Transfer-Encoding:\r\n\r\n", 400),
	R("TE chunkedx", P11 "Transfer-Encoding: chunkedx\r\n\r\n", 400),
	R("TE non-token", P11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
	R("CL then TE", P11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	R("TE then CL", P11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
	R("CL 0 with TE", P11 "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	R("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	/* Content-Length, RFC 9110 §8.6 and RFC 9112 §6.3. */
	R("CL not digits", P11 "Content-Length: abc\r\n\r\n", 400),
	R("CL signed +", P11 "Content-Length: +5\r\n\r\n", 400),
	R("CL signed -", P11 "Content-Length: -5\r\n\r\n", 400),
	R("CL with a space inside", P11 "Content-Length: 5 5\r\n\r\n", 400),
	R("CL list 5, 5", P11 "Content-Length: 5, 5\r\n\r\n", 400),
	R("CL duplicated, same value", P11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
	R("CL different values", P11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
	R("CL empty", P11 "Content-Length:\r\n\r\n", 400),
	R("CL hex", P11 "Content-Length: 0x10\r\n\r\n", 400),
	R("CL decimal point", P11 "Content-Length: 5.0\r\n\r\n", 400),
	R("CL 20 digits", P11 "Content-Length: 00000000000000000005\r\n\r\n", 400),
	R("CL 2^64", P11 "Content-Length: 18446744073709551616\r\n\r\n", 400),
	R("CL 19 digits over max_body_bytes", P11 "Content-Length: 9999999999999999999\r\n\r\n", 413),
	R("CL max_body_bytes + 1", P11 "Content-Length: 1073741825\r\n\r\n", 413),
	R("CL max_body_bytes", P11 "Content-Length: 1073741824\r\n\r\n", 0),
	RS("CL 1001 at max 1000", P11 "Content-Length: 1001\r\n\r\n", 413),
	RS("CL 1000 at max 1000", P11 "Content-Length: 1000\r\n\r\n", 0),
	/* Length Required, RFC 9110 §15.5.12. */
	R("POST without length", P11 "\r\n", 411),
	R("PUT without length", "PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", 411),
	R("PATCH without length", "PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n", 411),
	R("POST HTTP/1.0 without length", "POST / HTTP/1.0\r\n\r\n", 411),
	R("GET without length is fine", H11 "\r\n", 0),
	/* Expect, RFC 9110 §10.1.1. */
	R("Expect something else", H11 "Expect: something-else\r\n\r\n", 417),
	R("Expect 100-continue with another", H11 "Expect: 100-continue, x\r\n\r\n", 417),
	R("Expect empty", H11 "Expect:\r\n\r\n", 417),
	/* Lists, RFC 9110 §5.6.1.2: a few empty elements are ignored outside
	 * framing fields (test_list_empty_elements); more than 8 are refused. */
	R("Connection too many empty elements", H11 "Connection: close,,,,,,,,,\r\n\r\n", 400),
	R("Connection non-token", H11 "Connection: \"close\"\r\n\r\n", 400),
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* Assemble a rule's bytes (pre, fill, post) into a fresh heap buffer. */
static char *
rule_bytes(const struct rule *t, size_t *len)
{
	char *b;
	size_t n = 0;

	if (strcmp(t->name, "101 fields") == 0) {
		/* Host + 100 more fields. */
		b = malloc(t->prelen + 101 * 16 + 2);
		assert_non_null(b);
		memcpy(b, t->pre, t->prelen);
		n = t->prelen;
		for (int k = 0; k < 100; k++)
			n += (size_t)sprintf(b + n, "X-%03d: v\r\n", k);
		memcpy(b + n, "\r\n", 2);
		*len = n + 2;
		return b;
	}
	b = malloc(t->prelen + t->nfill + t->postlen + 1);
	assert_non_null(b);
	memcpy(b, t->pre, t->prelen);
	n = t->prelen;
	memset(b + n, t->fill, t->nfill);
	n += t->nfill;
	memcpy(b + n, t->post, t->postlen);
	*len = n + t->postlen;
	return b;
}

/* Which two-piece splits to try: all for short inputs, a sample (and
 * every byte around the default limits and the end) for long ones. */
static bool
split_wanted(size_t s, size_t len)
{
	return len <= 2048 || s < 64 || s % 61 == 0 || s + 8 >= len ||
	    (s >= 8180 && s <= 8210) || (s >= 32770 && s <= 32810);
}

/* Each rule gives its status in one call, byte by byte and at every
 * two-piece split: the verdict does not depend on the read boundaries. */
static void
test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < NRULES; i++) {
		const struct rule *t = &rules[i];
		size_t len, stop;
		char *b = rule_bytes(t, &len);
		int want = t->status ? HTTP_ERROR : HTTP_DONE;
		struct http_req one, r;
		int rc;

		rc = req_once(&one, b, len, t->lim);
		if (rc != want || one.status != t->status)
			fail_msg("row \"%s\": rc %d status %u (%s), want status %u",
			    t->name, rc, one.status, one.why ? one.why : "-", t->status);
		if (rc == HTTP_ERROR)
			CHECK(t->name, one.why != NULL && one.why[0] != '\0');
		if (rc == HTTP_DONE)
			CHECK_NUM(t->name, "head_len", one.head_len, len);

		rc = req_grow(&r, b, len, t->lim, &stop);
		if (rc != want || r.status != t->status)
			fail_msg("row \"%s\": byte by byte: rc %d status %u (%s) at %zu, "
			    "want status %u", t->name, rc, r.status,
			    r.why ? r.why : "-", stop, t->status);
		req_same(t->name, &r, &one);

		/* Two-piece splits: every byte for short rows, a sample for
		 * the long ones (every 61st byte and around the limits). */
		for (size_t s = 0; s <= len; s++) {
			if (!split_wanted(s, len))
				continue;
			http_req_init(&r);
			rc = http_req_parse(&r, b, s, t->lim);
			if (rc == HTTP_MORE)
				rc = http_req_parse(&r, b, len, t->lim);
			if (rc != want || r.status != t->status)
				fail_msg("row \"%s\": split at %zu: rc %d status %u (%s)",
				    t->name, s, rc, r.status, r.why ? r.why : "-");
			req_same(t->name, &r, &one);
		}
		free(b);
	}
}

/* ------------------------------------------------------------------ */
/* Chunked decoder rules                                               */

struct chrule {
	const char *name;
	const char *pre;
	size_t prelen;
	char fill;
	size_t nfill;
	const char *post;
	size_t postlen;
	unsigned status;
	const struct http_limits *lim;
};

#define C(name, bytes, st) { name, B(bytes), 0, 0, B(""), st, &LIM }
#define CS(name, bytes, st) { name, B(bytes), 0, 0, B(""), st, &SMALL }
#define CF(name, pre, c, n, post, st, lim) { name, B(pre), c, n, B(post), st, lim }

static const struct chrule chrules[] = {
	C("bad hex digit", "g\r\n", 400),
	C("hex then junk", "5x\r\nhello\r\n0\r\n\r\n", 400),
	C("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400),
	C("empty size line", "\r\n", 400),
	C("leading space before size", " 5\r\nhello\r\n0\r\n\r\n", 400),
	C("negative size", "-5\r\n", 400),
	C("17 size digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
	C("data not followed by CRLF", "5\r\nhelloX\r\n0\r\n\r\n", 400),
	C("data followed by bare LF", "5\r\nhello\n0\r\n\r\n", 400),
	C("data followed by bare CR", "5\r\nhello\r0\r\n\r\n", 400),
	C("bare LF after size", "5\nhello\r\n0\r\n\r\n", 400),
	C("bare CR after size", "5\rhello\r\n0\r\n\r\n", 400),
	C("whitespace after size without ;", "5 \r\nhello\r\n0\r\n\r\n", 400),
	C("whitespace then junk after size", "5 x\r\nhello\r\n0\r\n\r\n", 400),
	C("empty extension", "5;\r\nhello\r\n0\r\n\r\n", 400),
	C("extension without name", "5;=x\r\nhello\r\n0\r\n\r\n", 400),
	C("non-token extension name", "5;a(b\r\nhello\r\n0\r\n\r\n", 400),
	C("extension with empty value", "5;a=\r\nhello\r\n0\r\n\r\n", 400),
	C("whitespace after extension name", "5;a \r\nhello\r\n0\r\n\r\n", 400),
	C("whitespace after extension value", "5;a=b \r\nhello\r\n0\r\n\r\n", 400),
	C("unterminated quoted string", "5;a=\"abc\r\nhello\r\n0\r\n\r\n", 400),
	C("junk after quoted string", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", 400),
	C("CTL in quoted string", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", 400),
	C("CTL in quoted pair", "5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", 400),
	C("non-token extension value", "5;a=b(c\r\nhello\r\n0\r\n\r\n", 400),
	CF("size line of 4097 bytes", "5;", 'e', 4093, "\r\nhello\r\n0\r\n\r\n", 400, &LIM),
	CF("size line without end", "5;", 'e', 9000, "", 400, &LIM),
	C("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", 400),
	/* Framing field names in a trailer: never merged, never framing, so
	 * the message is well framed and forwarded (RFC 9110 §6.5.1). */
	C("trailer Content-Length", "0\r\nContent-Length: 5\r\n\r\n", 0),
	C("trailer content_length", "0\r\ncontent_length: 5\r\n\r\n", 0),
	C("trailer Transfer-Encoding", "0\r\nTransfer-Encoding: chunked\r\n\r\n", 0),
	C("trailer Host", "0\r\nHOST: evil\r\n\r\n", 0),
	C("trailer Content-Length with a bad value", "0\r\nContent-Length: x, 5\r\n\r\n", 0),
	C("trailer framing name then obs-fold", "0\r\nContent-Length: 5\r\n 6\r\n\r\n", 400),
	C("trailer whitespace before colon", "0\r\nX : a\r\n\r\n", 400),
	C("trailer without colon", "0\r\nXyz\r\n\r\n", 400),
	C("trailer empty name", "0\r\n: a\r\n\r\n", 400),
	C("trailer bare LF", "0\r\nX: a\n\r\n", 400),
	C("trailer bare CR", "0\r\nX: a\rb\r\n\r\n", 400),
	C("trailer CTL", "0\r\nX: a\x01\r\n\r\n", 400),
	C("trailer NUL", "0\r\nX: a\0\r\n\r\n", 400),
	C("final bare LF", "0\r\n\n", 400),
	C("final bare CR", "0\r\n\rX", 400),
	CS("4 trailers at max_headers 4", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 0),
	CS("5 trailers at max_headers 4", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431),
	CF("trailer section too large", "0\r\nX: ", 'v', 300, "\r\n\r\n", 431, &SMALL),
	CS("decoded 1000 at max 1000", "3e8\r\n", 0), /* data added below */
	CS("decoded 1001 at max 1000", "3e9\r\n", 413),
	CS("second chunk crosses max", "258\r\n", 413), /* 600 + 600 */
	C("chunk larger than 1 GiB", "40000001\r\n", 413),
	C("16 f digits", "ffffffffffffffff\r\n", 413),
};

#define NCHRULES (sizeof(chrules) / sizeof(chrules[0]))

/* Assemble a chunked rule's bytes; two rows carry generated data. */
static char *
chrule_bytes(const struct chrule *t, size_t *len)
{
	size_t n = 0, cap = t->prelen + t->nfill + t->postlen + 1300;
	char *b = malloc(cap);

	assert_non_null(b);
	memcpy(b, t->pre, t->prelen);
	n = t->prelen;
	memset(b + n, t->fill, t->nfill);
	n += t->nfill;
	memcpy(b + n, t->post, t->postlen);
	n += t->postlen;
	if (strcmp(t->name, "decoded 1000 at max 1000") == 0) {
		memset(b + n, 'd', 1000);
		n += 1000;
		memcpy(b + n, "\r\n0\r\n\r\n", 7);
		n += 7;
	} else if (strcmp(t->name, "second chunk crosses max") == 0) {
		memset(b + n, 'd', 600);
		n += 600;
		memcpy(b + n, "\r\n258\r\n", 7);
		n += 7;
	}
	*len = n;
	return b;
}

/* After a framing error nothing is framed again until the framer is
 * re-initialised: the bytes after the bad head (here a valid request)
 * are never read as a request, whoever calls again (design: framing
 * policy); the chunked decoder likewise. */
static void
test_error_sticks(void **state)
{
	static const char next[] = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_chunked c;
	size_t used;

	(void)state;
	for (size_t i = 0; i < NRULES; i++) {
		const struct rule *t = &rules[i];
		size_t len;
		char *b = rule_bytes(t, &len), *all;
		struct http_req r;
		int rc;

		if (t->status == 0) {
			free(b);
			continue;
		}
		all = malloc(len + sizeof(next));
		assert_non_null(all);
		memcpy(all, b, len);
		memcpy(all + len, next, sizeof(next));
		http_req_init(&r);
		rc = http_req_parse(&r, all, len + sizeof(next) - 1, t->lim);
		if (rc != HTTP_ERROR || r.status != t->status)
			fail_msg("row \"%s\" + a request: rc %d status %u", t->name, rc,
			    r.status);
		for (int again = 0; again < 2; again++)
			if (http_req_parse(&r, all, len + sizeof(next) - 1, t->lim) !=
			    HTTP_ERROR || r.status != t->status)
				fail_msg("row \"%s\": framed again after its error", t->name);
		free(all);
		free(b);
	}
	http_chunked_init(&c);
	assert_int_equal(http_chunked_feed(&c, "zz\r\n", 4, &used, &LIM), HTTP_ERROR);
	assert_int_equal(http_chunked_feed(&c, "0\r\n\r\n", 5, &used, &LIM), HTTP_ERROR);
	assert_int_equal(c.status, 400);
}

/* Each chunked rule gives its status in one call and byte by byte. */
static void
test_chunked_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCHRULES; i++) {
		const struct chrule *t = &chrules[i];
		size_t len, used = 0, k;
		char *b = chrule_bytes(t, &len);
		int want = t->status ? HTTP_ERROR : HTTP_DONE, rc;
		struct http_chunked c;

		http_chunked_init(&c);
		rc = http_chunked_feed(&c, b, len, &used, t->lim);
		if (rc != want || c.status != t->status)
			fail_msg("row \"%s\": rc %d status %u (%s), want status %u",
			    t->name, rc, c.status, c.why ? c.why : "-", t->status);
		if (rc == HTTP_DONE)
			CHECK_NUM(t->name, "used", used, len);
		if (rc == HTTP_ERROR)
			CHECK(t->name, c.why != NULL);

		http_chunked_init(&c);
		for (k = 0, rc = HTTP_MORE; k < len && rc == HTTP_MORE; k++)
			rc = http_chunked_feed(&c, b + k, 1, &used, t->lim);
		if (rc != want || c.status != t->status)
			fail_msg("row \"%s\": byte by byte: rc %d status %u at %zu",
			    t->name, rc, c.status, k);
		if (rc == HTTP_DONE)
			CHECK_NUM(t->name, "DONE at last byte", k, len);
		free(b);
	}
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

struct vresp {
	const char *name;
	const char *bytes;
	bool head_request;
	int rc;
	unsigned code;
	uint8_t minor;
	enum http_body kind;
	uint64_t cl;
	bool close;
};

static const struct vresp resps[] = {
	{ "200 with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 5, false },
	{ "200 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_CHUNKED, 0, false },
	{ "gzip, chunked is chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_CHUNKED, 0, false },
	{ "chunked, gzip is close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_CLOSE, 0, true },
	{ "gzip alone is close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_CLOSE, 0, true },
	{ "no length is close-delimited", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_CLOSE, 0, true },
	{ "HEAD answer has no body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
	  true, HTTP_DONE, 200, 1, HTTP_BODY_NONE, 100, false },
	{ "HEAD answer, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  true, HTTP_DONE, 200, 1, HTTP_BODY_NONE, 0, false },
	{ "100 Continue", "HTTP/1.1 100 Continue\r\n\r\n",
	  false, HTTP_DONE, 100, 1, HTTP_BODY_NONE, 0, false },
	{ "101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: upgrade\r\n\r\n",
	  false, HTTP_DONE, 101, 1, HTTP_BODY_NONE, 0, false },
	{ "204 No Content", "HTTP/1.1 204 No Content\r\n\r\n",
	  false, HTTP_DONE, 204, 1, HTTP_BODY_NONE, 0, false },
	{ "304 with Content-Length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	  false, HTTP_DONE, 304, 1, HTTP_BODY_NONE, 10, false },
	{ "Content-Length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_NONE, 0, false },
	{ "repeated identical Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	  "Content-Length: 5\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 5, false },
	{ "identical Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 5, false },
	{ "no reason phrase", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 1, false },
	{ "empty reason phrase", "HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\n",
	  false, HTTP_DONE, 404, 1, HTTP_BODY_LENGTH, 1, false },
	{ "obs-text in reason", "HTTP/1.1 200 \xc3\x93K\r\nContent-Length: 1\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 1, false },
	{ "HTTP/1.0 response closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
	  false, HTTP_DONE, 200, 0, HTTP_BODY_LENGTH, 2, true },
	{ "HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
	  "Connection: keep-alive\r\n\r\n",
	  false, HTTP_DONE, 200, 0, HTTP_BODY_LENGTH, 2, false },
	{ "HTTP/1.0 keep-alive with TE closes", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "Connection: keep-alive\r\n\r\n",
	  false, HTTP_DONE, 200, 0, HTTP_BODY_CHUNKED, 0, true },
	{ "Connection: close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
	  false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 2, true },
	{ "conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "conflicting Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "CL and TE on a HEAD answer", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", true, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "two-digit status", "HTTP/1.1 20 OK\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "status below 100", "HTTP/1.1 099 X\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "lower-case http", "http/1.1 200 OK\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "no space after code", "HTTP/1.1 200OK\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "whitespace before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "Content_Length", "HTTP/1.1 200 OK\r\nContent_Length: 1\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
	{ "Connection empty element ignored", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	  "Connection: , close,\r\n\r\n", false, HTTP_DONE, 200, 1, HTTP_BODY_LENGTH, 1, true },
	{ "Content-Length list empty element", "HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n",
	  false, HTTP_ERROR, 0, 0, 0, 0, false },
};

#define NRESPS (sizeof(resps) / sizeof(resps[0]))

/* Each response: expected framing in one call, every prefix is "need
 * more" (or the same error), and byte by byte gives the one-shot result. */
static void
test_responses(void **state)
{
	(void)state;
	for (size_t i = 0; i < NRESPS; i++) {
		const struct vresp *v = &resps[i];
		size_t len = strlen(v->bytes), k;
		char *d = dup_exact(v->bytes, len);
		struct http_resp one, r;
		int rc;

		http_resp_init(&one);
		rc = http_resp_parse(&one, d, len, v->head_request, 16384);
		free(d);
		if (rc != v->rc)
			fail_msg("row \"%s\": rc %d (%s), want %d", v->name, rc,
			    one.why ? one.why : "-", v->rc);
		if (rc == HTTP_DONE) {
			CHECK_NUM(v->name, "head_len", one.head_len, len);
			CHECK_NUM(v->name, "code", one.code, v->code);
			CHECK_NUM(v->name, "minor", one.minor, v->minor);
			CHECK_NUM(v->name, "body", one.body, v->kind);
			CHECK_NUM(v->name, "content_length", one.content_length, v->cl);
			CHECK_NUM(v->name, "close", one.close, v->close);
		} else {
			CHECK_NUM(v->name, "status", one.status, 502);
			CHECK(v->name, one.why != NULL);
		}
		/* Fresh parses of proper prefixes never complete. */
		for (k = 0; k < len; k++) {
			d = dup_exact(v->bytes, k);
			http_resp_init(&r);
			rc = http_resp_parse(&r, d, k, v->head_request, 16384);
			free(d);
			if (rc == HTTP_DONE || (v->rc == HTTP_DONE && rc != HTTP_MORE))
				fail_msg("row \"%s\": prefix %zu gave rc %d", v->name, k, rc);
		}
		/* Grown byte by byte. */
		http_resp_init(&r);
		for (k = 0, rc = HTTP_MORE; k <= len && rc == HTTP_MORE; k++) {
			d = dup_exact(v->bytes, k);
			rc = http_resp_parse(&r, d, k, v->head_request, 16384);
			free(d);
		}
		CHECK_NUM(v->name, "grown rc", rc, v->rc);
		if (rc == HTTP_DONE) {
			CHECK_NUM(v->name, "grown head_len", r.head_len, one.head_len);
			CHECK_NUM(v->name, "grown body", r.body, one.body);
			CHECK_NUM(v->name, "grown content_length", r.content_length,
			    one.content_length);
			CHECK_NUM(v->name, "grown close", r.close, one.close);
			CHECK_NUM(v->name, "grown code", r.code, one.code);
		}
	}
}

/* The response head limit holds with and without the final CRLF. */
static void
test_response_limit(void **state)
{
	static const char big[] = "HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	struct http_resp r;

	(void)state;
	http_resp_init(&r);
	assert_int_equal(http_resp_parse(&r, big, sizeof(big) - 1, false, 32), HTTP_ERROR);
	assert_int_equal(r.status, 502);
	http_resp_init(&r);
	assert_int_equal(http_resp_parse(&r, big, 40, false, 32), HTTP_ERROR);
	http_resp_init(&r);
	assert_int_equal(http_resp_parse(&r, big, sizeof(big) - 1, false,
	    sizeof(big) - 1), HTTP_DONE);
	http_resp_init(&r);
	assert_int_equal(http_resp_parse(&r, big, sizeof(big) - 1, false,
	    sizeof(big) - 2), HTTP_ERROR);

	/* 1000 fields are accepted, 1001 are not. */
	for (int nf = 1000; nf <= 1001; nf++) {
		size_t n = 0;
		char *b = malloc(32 + (size_t)nf * 8);
		assert_non_null(b);
		n += (size_t)sprintf(b, "HTTP/1.1 204 No Content\r\n");
		for (int k = 0; k < nf; k++)
			n += (size_t)sprintf(b + n, "X: %d\r\n", k % 10);
		n += (size_t)sprintf(b + n, "\r\n");
		http_resp_init(&r);
		assert_int_equal(http_resp_parse(&r, b, n, false, 65536),
		    nf == 1000 ? HTTP_DONE : HTTP_ERROR);
		free(b);
	}
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

/* http_token_eq and http_reason behave as documented. */
static void
test_helpers(void **state)
{
	(void)state;
	assert_true(http_token_eq("Chunked", 7, "chunked"));
	assert_true(http_token_eq("CLOSE", 5, "close"));
	assert_false(http_token_eq("chunke", 6, "chunked"));
	assert_false(http_token_eq("chunked ", 8, "chunked"));
	assert_false(http_token_eq("chunkeD\x80", 7, "chunkex"));
	assert_string_equal(http_reason(400), "Bad Request");
	assert_string_equal(http_reason(411), "Length Required");
	assert_string_equal(http_reason(413), "Content Too Large");
	assert_string_equal(http_reason(414), "URI Too Long");
	assert_string_equal(http_reason(417), "Expectation Failed");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(501), "Not Implemented");
	assert_string_equal(http_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http_reason(511), "Network Authentication Required");
	assert_string_equal(http_reason(299), "Unknown");
	/* Every status the framer can produce has a reason phrase. */
	for (size_t i = 0; i < NRULES; i++)
		if (rules[i].status)
			CHECK(rules[i].name, strcmp(http_reason(rules[i].status), "Unknown") != 0);
}

/* RFC 9110 §5.6.1.2: empty elements of Connection are ignored (and the
 * options around them still count); in Transfer-Encoding they are not. */
static void
test_list_empty_elements(void **state)
{
	static const char ok[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: ,close, ,\r\n\r\n";
	static const char te[] = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked\r\n\r\n";
	struct http_req r;

	(void)state;
	http_req_init(&r);
	assert_int_equal(http_req_parse(&r, ok, sizeof(ok) - 1, &LIM), HTTP_DONE);
	assert_true(r.close);
	http_req_init(&r);
	assert_int_equal(http_req_parse(&r, te, sizeof(te) - 1, &LIM), HTTP_ERROR);
	assert_int_equal(r.status, 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_oneshot),
		cmocka_unit_test(test_valid_prefixes),
		cmocka_unit_test(test_valid_splits),
		cmocka_unit_test(test_chunked_valid),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_chunked_rules),
		cmocka_unit_test(test_error_sticks),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_response_limit),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_list_empty_elements),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
