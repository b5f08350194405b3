/* http: the strict, incremental HTTP/1.1 message framer (RFC 9112). It
 * works on caller-owned byte buffers, never allocates and includes no event
 * or capture header, so cmocka and libFuzzer drive it directly. */
#ifndef WK_HTTP_H
#define WK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of every feed/parse call. */
#define HTTP_MORE 0   /* everything given was consumed; need more bytes */
#define HTTP_DONE 1   /* a head or a body is complete */
#define HTTP_ERROR -1 /* framing error: see ->status and ->why */

/* How the body of a message is delimited (RFC 9112 §6.3). */
enum http_body {
	HTTP_BODY_NONE,    /* no body follows the head */
	HTTP_BODY_LENGTH,  /* exactly content_length bytes */
	HTTP_BODY_CHUNKED, /* chunked coding: feed an http_chunked */
	HTTP_BODY_CLOSE,   /* responses only: until the server closes */
};

/* The limits the request framer enforces; config fills them. */
struct http_limits {
	uint32_t max_request_line; /* request line without CRLF -> 414 */
	uint32_t max_header_bytes; /* fields incl. CRLFs (and trailers) -> 431 */
	uint32_t max_headers;      /* field lines (and trailer lines) -> 431 */
	uint64_t max_body_bytes;   /* declared or decoded body -> 413 */
	const char *const *require_length; /* methods that must carry a length */
	size_t n_require_length;
};

#define HTTP_MAX_METHOD 32

/* One request head. Zero it (http_req_init) before the first call, then
 * call http_req_parse with the same buffer grown by new bytes each time. */
struct http_req {
	/* progress: bytes before `scan` are validated complete lines; bytes
	 * before `seen` are known to hold no LF of the current line */
	uint32_t scan;
	uint32_t seen;
	uint8_t phase;
	uint16_t nfields;
	/* results; offsets are into the caller's buffer */
	uint32_t head_len;
	uint32_t method_off, method_len;
	uint32_t target_off, target_len;
	uint32_t host_off, host_len;
	uint8_t minor;            /* HTTP/1.minor; 1 for any minor >= 1 */
	enum http_body body;
	uint64_t content_length;
	bool close;               /* no further request after this one */
	bool expect_continue;
	bool upgrade;             /* Upgrade field with "upgrade" in Connection */
	bool connect;
	/* bookkeeping across fields */
	uint8_t n_host, n_cl, n_te;
	bool te_chunked, te_other, conn_close, conn_keepalive, conn_upgrade;
	bool has_upgrade;
	/* on HTTP_ERROR */
	uint16_t status;
	const char *why;
};

/* One response head from an upstream (issue 3 relay). */
struct http_resp {
	uint32_t scan;
	uint32_t seen; /* as in http_req */
	uint8_t phase;
	uint16_t nfields;
	uint32_t head_len;
	uint16_t code;
	uint8_t minor;
	enum http_body body;
	uint64_t content_length;
	bool close;
	uint8_t n_cl, n_te;
	bool te_chunked, te_other, conn_close, conn_keepalive;
	uint16_t status; /* 502 on a framing error */
	const char *why;
};

/* Streaming state of one chunked body (RFC 9112 §7.1), including trailers. */
struct http_chunked {
	uint8_t state;
	uint8_t ndigits;
	uint64_t size;      /* current chunk size, then bytes left of it */
	uint64_t total;     /* decoded body bytes so far */
	uint32_t linebytes; /* bytes on the current size/extension line */
	uint32_t trailer_bytes;
	uint32_t ntrailers;
	uint16_t status;
	const char *why;
};

void http_req_init(struct http_req *r);
int http_req_parse(struct http_req *r, const char *buf, size_t len,
    const struct http_limits *lim);

void http_resp_init(struct http_resp *r);
int http_resp_parse(struct http_resp *r, const char *buf, size_t len,
    bool head_request, uint32_t max_head);

void http_chunked_init(struct http_chunked *c);
int http_chunked_feed(struct http_chunked *c, const char *p, size_t n,
    size_t *used, const struct http_limits *lim);

bool http_token_eq(const char *a, size_t alen, const char *lit);
bool http_tchar(unsigned char c);
const char *http_reason(unsigned status);

#endif
