/* http: strict incremental framing of HTTP/1.1 requests and responses and a
 * streaming chunked-body decoder (RFC 9112 §2-7, RFC 9110). Ambiguous input
 * is rejected with the status the policy names, never repaired. */
#include "http.h"

#include "addr.h"

#include <string.h>

enum { PH_START, PH_FIELDS, PH_DONE, PH_ERROR };

#define LIST_EMPTY_OK 8 /* empty elements ignored in non-framing lists */

/* RFC 9110 §5.6.2 tchar: the bytes allowed in a token. */
static const uint8_t tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* True for a token byte. */
static inline bool
is_tchar(uint8_t c)
{
	return tchar[c] != 0;
}

/* True for an RFC 9110 §5.6.2 tchar, for other parsers of field values
 * (capport.c's Accept): the one table of token bytes. */
bool
http_tchar(unsigned char c)
{
	return tchar[c] != 0;
}

/* True for a field-value byte (RFC 9110 §5.5): VCHAR, obs-text, SP, HTAB. */
static inline bool
is_fvchar(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Lower-case an ASCII letter. */
static inline uint8_t
lc(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

/* Case-insensitive comparison of a token with a lower-case literal. */
bool
http_token_eq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lc((uint8_t)a[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

/* The reason phrase we send for each status we generate (RFC 9110 §15). */
const char *
http_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 302: return "Found";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}

/* Find the LF ending the line that starts at off, resuming the search at
 * *seen so that a line arriving byte by byte is searched once: false while
 * no LF has arrived, else true with *raw the bytes before the LF and *bare
 * set when they do not end in CR (RFC 9112 §2.2: we do not accept a bare
 * LF as a line terminator). Callers check limits before *bare, so that the
 * verdict does not depend on where the reads split the bytes. */
static bool
head_line(const char *buf, size_t len, size_t off, uint32_t *seen, size_t *raw,
    bool *bare)
{
	size_t from = *seen > off ? *seen : off;
	const char *lf = NULL;

	if (from < len)
		lf = memchr(buf + from, '\n', len - from);
	if (lf == NULL) {
		*seen = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
		return false;
	}
	*raw = (size_t)(lf - (buf + off));
	*bare = *raw == 0 || buf[off + *raw - 1] != '\r';
	*seen = (uint32_t)(off + *raw + 1);
	return true;
}

/* A field line split into name and trimmed value. */
struct field {
	const char *name, *value;
	size_t nlen, vlen;
};

/* Split and validate one field line (RFC 9112 §5): token name, colon with
 * no whitespace before it, value bytes without CTLs. Returns NULL or why. */
static const char *
field_split(const char *line, size_t n, struct field *f)
{
	size_t i = 0, vs, ve;

	if (line[0] == ' ' || line[0] == '\t')
		return "obs-fold";
	while (i < n && is_tchar((uint8_t)line[i]))
		i++;
	if (i == 0)
		return "empty or invalid field name";
	if (i == n)
		return "field line without colon";
	if (line[i] != ':')
		return (line[i] == ' ' || line[i] == '\t') ?
		    "whitespace before colon" : "invalid field name";
	f->name = line;
	f->nlen = i;
	vs = i + 1;
	while (vs < n && (line[vs] == ' ' || line[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (!is_fvchar((uint8_t)line[k]))
			return "control character in field value";
	f->value = line + vs;
	f->vlen = ve - vs;
	/* Names a lenient back end might fold into a framing field. */
	if (memchr(line, '_', i) != NULL) {
		char norm[18];
		if (i == 14 || i == 17) {
			for (size_t k = 0; k < i; k++)
				norm[k] = line[k] == '_' ? '-' : line[k];
			if (http_token_eq(norm, i, "content-length") ||
			    http_token_eq(norm, i, "transfer-encoding"))
				return "framing field name with underscore";
		}
	}
	return NULL;
}

/* Parse a Content-Length value: 1*DIGIT, no sign, no list, no overflow. */
static int
parse_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* Walk a comma-separated list value (RFC 9110 §5.6.1) calling fn on each
 * trimmed element. RFC 9110 §5.6.1.2 asks a recipient to ignore a
 * reasonable number of empty elements: up to max_empty are ignored; in
 * framing fields (max_empty 0) any is an error, because a gate in front of
 * unknown back ends must not guess how they count elements. */
static const char *
list_walk(const char *v, size_t n, unsigned max_empty,
    const char *(*fn)(void *, const char *, size_t), void *arg)
{
	size_t i = 0;
	unsigned empty = 0;

	for (;;) {
		size_t s = i, e;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e == s) {
			if (++empty > max_empty)
				return "empty list element";
		} else {
			const char *why = fn(arg, v + s, e - s);
			if (why != NULL)
				return why;
		}
		if (i == n)
			return NULL;
		i++;
	}
}

/* Transfer-Encoding bookkeeping shared by requests and responses. */
struct te_state {
	bool *chunked, *other;
	bool request;
};

/* One transfer-coding element: "chunked" must be last and appear once
 * (RFC 9112 §6.1, §7); any other coding is a token with parameters. In a
 * request a coding after chunked is a 400 (§6.3); in a response it makes
 * the body close-delimited (§6.3 rule 4). */
static const char *
te_element(void *arg, const char *e, size_t n)
{
	struct te_state *st = arg;
	size_t i = 0;

	if (http_token_eq(e, n, "chunked")) {
		if (*st->chunked)
			return "chunked applied twice";
		*st->chunked = true;
		return NULL;
	}
	while (i < n && is_tchar((uint8_t)e[i]))
		i++;
	if (i == 0 || (i < n && e[i] != ';' && e[i] != ' ' && e[i] != '\t'))
		return "invalid transfer coding";
	if (http_token_eq(e, i, "chunked"))
		return "chunked with parameters";
	if (*st->chunked) {
		if (st->request)
			return "transfer coding after chunked";
		*st->chunked = false;
	}
	*st->other = true;
	return NULL;
}

/* Connection options we act on (RFC 9110 §7.6.1). */
struct conn_state {
	bool *close, *keepalive, *upgrade;
};

/* One Connection option: close, keep-alive or upgrade; others ignored. */
static const char *
conn_element(void *arg, const char *e, size_t n)
{
	struct conn_state *st = arg;

	for (size_t i = 0; i < n; i++)
		if (!is_tchar((uint8_t)e[i]))
			return "invalid Connection option";
	if (http_token_eq(e, n, "close"))
		*st->close = true;
	else if (http_token_eq(e, n, "keep-alive"))
		*st->keepalive = true;
	else if (st->upgrade != NULL && http_token_eq(e, n, "upgrade"))
		*st->upgrade = true;
	return NULL;
}

/* Validate a Host value as uri-host [":" port] (RFC 9110 §7.2, RFC 3986
 * §3.2.2); an empty value passes here (RFC 9112 §3.2) and req_finish
 * decides whether the target form allows it. */
static bool
host_valid(const char *v, size_t n)
{
	size_t i = 0, end = n;

	if (n > 0 && v[0] == '[') {
		while (i + 1 < n && v[i + 1] != ']')
			i++;
		if (i + 1 >= n || i == 0)
			return false;
		for (size_t k = 1; k <= i; k++)
			if (addr_hexval((uint8_t)v[k]) < 0 && v[k] != ':' && v[k] != '.')
				return false;
		i += 2;
		if (i == n)
			return true;
		if (v[i] != ':')
			return false;
		for (size_t k = i + 1; k < n; k++)
			if (v[k] < '0' || v[k] > '9')
				return false;
		return true;
	}
	for (size_t k = n; k > 0; k--)
		if (v[k - 1] == ':') {
			end = k - 1;
			for (size_t p = k; p < n; p++)
				if (v[p] < '0' || v[p] > '9')
					return false;
			break;
		}
	for (i = 0; i < end; i++) {
		uint8_t c = (uint8_t)v[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ||
		    (c != 0 && strchr("-._~!$&'()*+,;=", c) != NULL))
			continue;
		if (c == '%' && i + 2 < end &&
		    addr_hexval((uint8_t)v[i + 1]) >= 0 && addr_hexval((uint8_t)v[i + 2]) >= 0) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

/* Record an error on a request and return HTTP_ERROR. The error sticks
 * until http_req_init: nothing after a framing error is ever framed as a
 * request (design: framing policy), whoever calls again. */
static int
req_fail(struct http_req *r, uint16_t status, const char *why)
{
	r->status = status;
	r->why = why;
	r->phase = PH_ERROR;
	return HTTP_ERROR;
}

/* Zero a request parser. */
void
http_req_init(struct http_req *r)
{
	memset(r, 0, sizeof(*r));
}

/* Parse the request line (RFC 9112 §3): method SP target SP version.
 * When whole is false, n is max_request_line + 1 bytes of a longer line:
 * the verdict then depends on those bytes only (an error in them, else 414,
 * RFC 9112 §3), so it is the same whether the CRLF has arrived or not. */
static int
req_start(struct http_req *r, const char *buf, size_t off, size_t n,
    bool whole)
{
	const char *l = buf + off;
	size_t i = 0, t, ts;

	while (i < n && is_tchar((uint8_t)l[i]))
		i++;
	if (i == 0 || (i < n && l[i] != ' ') || (i == n && whole))
		return req_fail(r, 400, "malformed request line");
	if (i > HTTP_MAX_METHOD)
		return req_fail(r, 501, "method too long");
	if (i == n)
		return req_fail(r, 414, "request line too long");
	r->method_off = (uint32_t)off;
	r->method_len = (uint32_t)i;
	ts = t = i + 1;
	while (t < n && l[t] > 0x20 && l[t] < 0x7f)
		t++;
	if (t == n && !whole)
		return req_fail(r, 414, "request target too long");
	if (t == ts || t == n || l[t] != ' ')
		return req_fail(r, 400, "invalid request target");
	if (!whole)
		return req_fail(r, 414, "request line too long");
	r->target_off = (uint32_t)(off + ts);
	r->target_len = (uint32_t)(t - ts);
	t++;
	/* HTTP-version is case-sensitive "HTTP/" DIGIT "." DIGIT (§2.3). */
	if (n - t != 8 || memcmp(l + t, "HTTP/", 5) != 0 ||
	    l[t + 5] < '0' || l[t + 5] > '9' || l[t + 6] != '.' ||
	    l[t + 7] < '0' || l[t + 7] > '9')
		return req_fail(r, 400, "malformed HTTP version");
	if (l[t + 5] != '1')
		return req_fail(r, 505, "unsupported HTTP major version");
	r->minor = l[t + 7] == '0' ? 0 : 1;
	if (http_token_eq(l, i, "connect")) {
		r->connect = true;
		return req_fail(r, 501, "CONNECT is not served by a transparent gate");
	}
	/* Origin-form, absolute-form, or "*" for OPTIONS (§3.2). */
	const char *tg = l + ts;
	size_t tl = t - 1 - ts;
	if (tg[0] == '/' ||
	    (tl == 1 && tg[0] == '*' && http_token_eq(l, i, "options")) ||
	    (tl > 7 && http_token_eq(tg, 7, "http://")) ||
	    (tl > 8 && http_token_eq(tg, 8, "https://")))
		return HTTP_MORE;
	return req_fail(r, 400, "invalid request target form");
}

/* Apply one request field's meaning to the framing state. */
static int
req_field(struct http_req *r, const char *buf, const struct field *f,
    const struct http_limits *lim)
{
	const char *why;

	if (http_token_eq(f->name, f->nlen, "host")) {
		if (++r->n_host > 1)
			return req_fail(r, 400, "more than one Host");
		if (!host_valid(f->value, f->vlen))
			return req_fail(r, 400, "invalid Host");
		r->host_off = (uint32_t)(f->value - buf);
		r->host_len = (uint32_t)f->vlen;
	} else if (http_token_eq(f->name, f->nlen, "content-length")) {
		if (++r->n_cl > 1)
			return req_fail(r, 400, "duplicate Content-Length");
		if (parse_length(f->value, f->vlen, &r->content_length) < 0)
			return req_fail(r, 400, "invalid Content-Length");
		if (r->content_length > lim->max_body_bytes)
			return req_fail(r, 413, "body larger than max_body_bytes");
	} else if (http_token_eq(f->name, f->nlen, "transfer-encoding")) {
		struct te_state st = { &r->te_chunked, &r->te_other, true };
		if (r->n_te < 255)
			r->n_te++;
		if (r->minor == 0)
			return req_fail(r, 400, "Transfer-Encoding in HTTP/1.0");
		if ((why = list_walk(f->value, f->vlen, 0, te_element, &st)) != NULL)
			return req_fail(r, 400, why);
	} else if (http_token_eq(f->name, f->nlen, "connection")) {
		struct conn_state st = { &r->conn_close, &r->conn_keepalive,
			&r->conn_upgrade };
		if ((why = list_walk(f->value, f->vlen, LIST_EMPTY_OK, conn_element, &st)) != NULL)
			return req_fail(r, 400, why);
	} else if (http_token_eq(f->name, f->nlen, "expect")) {
		/* RFC 9110 §10.1.1: only 100-continue is defined, and a
		 * server must ignore it in an HTTP/1.0 request. */
		if (!http_token_eq(f->value, f->vlen, "100-continue"))
			return req_fail(r, 417, "unsupported expectation");
		if (r->minor >= 1)
			r->expect_continue = true;
	} else if (http_token_eq(f->name, f->nlen, "upgrade")) {
		r->has_upgrade = true;
	}
	return HTTP_MORE;
}

/* True when the method must carry a body length (require_length). */
static bool
method_needs_length(const char *m, size_t n, const struct http_limits *lim)
{
	for (size_t i = 0; i < lim->n_require_length; i++) {
		size_t k = strlen(lim->require_length[i]);
		if (k == n && memcmp(m, lim->require_length[i], n) == 0)
			return true;
	}
	return false;
}

/* Decide the body length once the head is complete (RFC 9112 §6.3). */
static int
req_finish(struct http_req *r, const char *buf, const struct http_limits *lim)
{
	if (r->minor == 1 && r->n_host == 0)
		return req_fail(r, 400, "HTTP/1.1 request without Host");
	/* RFC 9112 §3.2: an empty Host is for a target without an authority,
	 * and an http URI's authority is never empty (RFC 9110 §4.2.1, §7.2);
	 * absolute-form carries its own (§3.2.2, Host is then ignored). */
	if (r->minor == 1 && r->host_len == 0 &&
	    (buf[r->target_off] == '/' || buf[r->target_off] == '*'))
		return req_fail(r, 400, "empty Host");
	if (r->n_te > 0) {
		if (r->n_cl > 0)
			return req_fail(r, 400, "both Content-Length and Transfer-Encoding");
		if (!r->te_chunked)
			return req_fail(r, 400, "Transfer-Encoding does not end in chunked");
		if (r->te_other)
			return req_fail(r, 501, "unsupported transfer coding");
		r->body = HTTP_BODY_CHUNKED;
	} else if (r->n_cl > 0) {
		r->body = r->content_length > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else if (method_needs_length(buf + r->method_off, r->method_len, lim)) {
		return req_fail(r, 411, "body without a defined length");
	} else {
		r->body = HTTP_BODY_NONE;
	}
	r->close = r->conn_close || (r->minor == 0 && !r->conn_keepalive);
	r->upgrade = r->has_upgrade && r->conn_upgrade;
	return HTTP_DONE;
}

/* Frame one request head in buf[0..len): HTTP_DONE with head_len and the
 * body kind set, HTTP_MORE for a valid prefix, HTTP_ERROR with a status.
 * Each call resumes after the last complete line and the LF search where
 * it stopped, so total work stays linear in the head size however the
 * bytes arrive, and the verdict is the same for every split of them. */
int
http_req_parse(struct http_req *r, const char *buf, size_t len,
    const struct http_limits *lim)
{
	size_t ll, next, raw, maxline = (size_t)lim->max_request_line + 1;
	bool bare;
	struct field f;

	if (r->phase == PH_DONE)
		return HTTP_DONE;
	if (r->phase == PH_ERROR)
		return HTTP_ERROR;
	for (;;) {
		if (!head_line(buf, len, r->scan, &r->seen, &raw, &bare)) {
			/* RFC 9112 §3 and RFC 6585 §5: refuse an overlong
			 * request line or field block before its end arrives. */
			if (r->phase == PH_START && len - r->scan > maxline)
				return req_start(r, buf, r->scan, maxline, false);
			if (r->phase == PH_FIELDS &&
			    len - r->head_len > lim->max_header_bytes)
				return req_fail(r, 431, "header block too large");
			return HTTP_MORE;
		}
		next = r->scan + raw + 1;
		if (r->phase == PH_START) {
			if (raw > maxline)
				return req_start(r, buf, r->scan, maxline, false);
			if (bare)
				return req_fail(r, 400, "bare LF or CR");
			ll = raw - 1;
			/* RFC 9112 §2.2: ignore empty lines before the request
			 * line, but not without bound. */
			if (ll == 0) {
				if (next > 4)
					return req_fail(r, 400, "empty lines before request");
				r->scan = (uint32_t)next;
				continue;
			}
			if (req_start(r, buf, r->scan, ll, true) == HTTP_ERROR)
				return HTTP_ERROR;
			r->phase = PH_FIELDS;
			r->scan = (uint32_t)next;
			r->head_len = (uint32_t)next; /* start of the field block */
			continue;
		}
		if (next - r->head_len > lim->max_header_bytes)
			return req_fail(r, 431, "header block too large");
		if (bare)
			return req_fail(r, 400, "bare LF or CR");
		ll = raw - 1;
		if (ll == 0) {
			r->scan = (uint32_t)next;
			r->head_len = (uint32_t)next;
			r->phase = PH_DONE;
			return req_finish(r, buf, lim);
		}
		if (r->nfields >= lim->max_headers || r->nfields == UINT16_MAX)
			return req_fail(r, 431, "too many header fields");
		r->nfields++;
		const char *why = field_split(buf + r->scan, ll, &f);
		if (why != NULL)
			return req_fail(r, 400, why);
		if (req_field(r, buf, &f, lim) == HTTP_ERROR)
			return HTTP_ERROR;
		r->scan = (uint32_t)next;
	}
}

/* Record an upstream framing error and return HTTP_ERROR. */
static int
resp_fail(struct http_resp *r, const char *why)
{
	r->status = 502;
	r->why = why;
	return HTTP_ERROR;
}

/* Zero a response parser. */
void
http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
}

/* Parse a status line (RFC 9112 §4); the reason phrase may be empty, and
 * a missing SP before an empty reason is tolerated from upstreams. */
static int
resp_start(struct http_resp *r, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' ||
	    l[8] != ' ')
		return resp_fail(r, "malformed status line");
	for (int i = 9; i < 12; i++)
		if (l[i] < '0' || l[i] > '9')
			return resp_fail(r, "malformed status code");
	if (n > 12 && l[12] != ' ')
		return resp_fail(r, "malformed status line");
	for (size_t i = 13; i < n; i++)
		if (!is_fvchar((uint8_t)l[i]))
			return resp_fail(r, "control character in reason");
	r->code = (uint16_t)((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
	if (r->code < 100)
		return resp_fail(r, "status code below 100");
	r->minor = l[7] == '0' ? 0 : 1;
	return HTTP_MORE;
}

/* Content-Length list element of a response: identical repeats are one
 * value (RFC 9110 §8.6); different values are an error. */
static const char *
resp_cl_element(void *arg, const char *e, size_t n)
{
	struct http_resp *r = arg;
	uint64_t v;

	if (parse_length(e, n, &v) < 0)
		return "invalid Content-Length";
	if (r->n_cl > 0 && v != r->content_length)
		return "conflicting Content-Length";
	r->content_length = v;
	r->n_cl = 1;
	return NULL;
}

/* Frame one response head; head_request says the request was HEAD, whose
 * answer has no body whatever its fields say (RFC 9110 §9.3.2). */
int
http_resp_parse(struct http_resp *r, const char *buf, size_t len,
    bool head_request, uint32_t max_head)
{
	size_t ll, next = 0, raw;
	bool bare;
	struct field f;
	const char *why;

	if (r->phase == PH_DONE)
		return HTTP_DONE;
	for (;;) {
		if (!head_line(buf, len, r->scan, &r->seen, &raw, &bare))
			return len > max_head ? resp_fail(r, "head too large") : HTTP_MORE;
		next = r->scan + raw + 1;
		if (next > max_head)
			return resp_fail(r, "head too large");
		if (bare)
			return resp_fail(r, "bare LF or CR");
		ll = raw - 1;
		if (r->phase == PH_START) {
			if (resp_start(r, buf + r->scan, ll) == HTTP_ERROR)
				return HTTP_ERROR;
			r->phase = PH_FIELDS;
			r->scan = (uint32_t)next;
			continue;
		}
		if (ll == 0)
			break;
		if (++r->nfields > 1000)
			return resp_fail(r, "too many fields");
		if ((why = field_split(buf + r->scan, ll, &f)) != NULL)
			return resp_fail(r, why);
		if (http_token_eq(f.name, f.nlen, "content-length")) {
			if ((why = list_walk(f.value, f.vlen, 0, resp_cl_element, r)) != NULL)
				return resp_fail(r, why);
		} else if (http_token_eq(f.name, f.nlen, "transfer-encoding")) {
			struct te_state st = { &r->te_chunked, &r->te_other, false };
			r->n_te = 1;
			if ((why = list_walk(f.value, f.vlen, 0, te_element, &st)) != NULL)
				return resp_fail(r, why);
		} else if (http_token_eq(f.name, f.nlen, "connection")) {
			struct conn_state st = { &r->conn_close, &r->conn_keepalive, NULL };
			if ((why = list_walk(f.value, f.vlen, LIST_EMPTY_OK, conn_element, &st)) != NULL)
				return resp_fail(r, why);
		}
		r->scan = (uint32_t)next;
	}
	r->scan = (uint32_t)next;
	r->head_len = (uint32_t)next;
	r->phase = PH_DONE;
	/* RFC 9112 §6.3 rule 3: both is a smuggling signal; refuse it. */
	if (r->n_te && r->n_cl)
		return resp_fail(r, "both Content-Length and Transfer-Encoding");
	/* RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means close after. */
	r->close = r->conn_close || (r->minor == 0 && !r->conn_keepalive) ||
	    (r->minor == 0 && r->n_te);
	if (head_request || r->code < 200 || r->code == 204 || r->code == 304)
		r->body = HTTP_BODY_NONE;
	else if (r->n_te) /* §6.3 rule 4: chunked only when it is the last coding */
		r->body = r->te_chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_CLOSE;
	else if (r->n_cl)
		r->body = r->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	else
		r->body = HTTP_BODY_CLOSE;
	if (r->body == HTTP_BODY_CLOSE)
		r->close = true;
	return HTTP_DONE;
}

/* States of the chunked decoder, one per grammar position (§7.1). */
enum {
	CH_SIZE0, CH_SIZE, CH_BWS, CH_EXT_NAME0, CH_EXT_NAME, CH_EXT_AFTER,
	CH_EXT_VAL0, CH_EXT_TOK, CH_EXT_QS, CH_EXT_QP, CH_EXT_QEND, CH_SIZE_LF,
	CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TR0, CH_TR_NAME, CH_TR_VAL,
	CH_TR_LF, CH_END_LF, CH_DONE
};

#define CH_MAX_LINE 4096 /* size line with extensions (§7.1.1: limit it) */

/* Zero a chunked decoder. */
void
http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
}

/* Record a chunked-body error; like a request's, it sticks (the bytes
 * after it are never read as a message). */
static int
ch_fail(struct http_chunked *c, uint16_t status, const char *why)
{
	c->status = status;
	c->why = why;
	return HTTP_ERROR;
}

/* Feed body bytes to the chunked decoder. Sets *used to the bytes that
 * belong to this body; HTTP_DONE when the last CRLF was consumed (bytes
 * after it start the next message), HTTP_MORE when all n were consumed. */
int
http_chunked_feed(struct http_chunked *c, const char *p, size_t n,
    size_t *used, const struct http_limits *lim)
{
	size_t i = 0;

	*used = 0;
	if (c->state == CH_DONE)
		return HTTP_DONE;
	if (c->status != 0)
		return HTTP_ERROR;
	while (i < n) {
		uint8_t b = (uint8_t)p[i];
		if (c->state <= CH_SIZE_LF && ++c->linebytes > CH_MAX_LINE)
			return ch_fail(c, 400, "chunk extension too long");
		switch (c->state) {
		case CH_SIZE0:
		case CH_SIZE: {
			int h = addr_hexval(b);
			if (h >= 0) {
				if (c->ndigits >= 16)
					return ch_fail(c, 400, "chunk size too long");
				c->ndigits++;
				c->size = c->size << 4 | (uint64_t)h;
				c->state = CH_SIZE;
			} else if (c->state == CH_SIZE0) {
				return ch_fail(c, 400, "missing chunk size");
			} else if (b == ';') {
				c->state = CH_EXT_NAME0;
			} else if (b == ' ' || b == '\t') {
				c->state = CH_BWS;
			} else if (b == '\r') {
				c->state = CH_SIZE_LF;
			} else {
				return ch_fail(c, 400, "invalid chunk size");
			}
			break;
		}
		case CH_BWS: /* BWS is only allowed before ';' */
			if (b == ';')
				c->state = CH_EXT_NAME0;
			else if (b != ' ' && b != '\t')
				return ch_fail(c, 400, "invalid chunk extension");
			break;
		case CH_EXT_NAME0:
			if (is_tchar(b))
				c->state = CH_EXT_NAME;
			else if (b != ' ' && b != '\t')
				return ch_fail(c, 400, "invalid chunk extension name");
			break;
		case CH_EXT_NAME:
			if (is_tchar(b))
				break;
			if (b == '=')
				c->state = CH_EXT_VAL0;
			else if (b == ';')
				c->state = CH_EXT_NAME0;
			else if (b == ' ' || b == '\t')
				c->state = CH_EXT_AFTER;
			else if (b == '\r')
				c->state = CH_SIZE_LF;
			else
				return ch_fail(c, 400, "invalid chunk extension name");
			break;
		case CH_EXT_AFTER:
			if (b == '=')
				c->state = CH_EXT_VAL0;
			else if (b == ';')
				c->state = CH_EXT_NAME0;
			else if (b != ' ' && b != '\t')
				return ch_fail(c, 400, "invalid chunk extension");
			break;
		case CH_EXT_VAL0:
			if (b == '"')
				c->state = CH_EXT_QS;
			else if (is_tchar(b))
				c->state = CH_EXT_TOK;
			else if (b != ' ' && b != '\t')
				return ch_fail(c, 400, "invalid chunk extension value");
			break;
		case CH_EXT_TOK:
			if (is_tchar(b))
				break;
			if (b == ';')
				c->state = CH_EXT_NAME0;
			else if (b == ' ' || b == '\t')
				c->state = CH_BWS;
			else if (b == '\r')
				c->state = CH_SIZE_LF;
			else
				return ch_fail(c, 400, "invalid chunk extension value");
			break;
		case CH_EXT_QS: /* qdtext (RFC 9110 §5.6.4) */
			if (b == '"')
				c->state = CH_EXT_QEND;
			else if (b == '\\')
				c->state = CH_EXT_QP;
			else if (!(b == '\t' || b == ' ' || b == 0x21 ||
				     (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b != 0x7f)))
				return ch_fail(c, 400, "invalid quoted string");
			break;
		case CH_EXT_QP:
			if (!is_fvchar(b))
				return ch_fail(c, 400, "invalid quoted pair");
			c->state = CH_EXT_QS;
			break;
		case CH_EXT_QEND:
			if (b == ';')
				c->state = CH_EXT_NAME0;
			else if (b == ' ' || b == '\t')
				c->state = CH_BWS;
			else if (b == '\r')
				c->state = CH_SIZE_LF;
			else
				return ch_fail(c, 400, "invalid chunk extension");
			break;
		case CH_SIZE_LF:
			if (b != '\n')
				return ch_fail(c, 400, "bare CR in chunk size line");
			c->linebytes = 0;
			c->ndigits = 0;
			if (c->size == 0) {
				c->state = CH_TR0;
				break;
			}
			if (c->size > lim->max_body_bytes - c->total)
				return ch_fail(c, 413, "body larger than max_body_bytes");
			c->total += c->size;
			c->state = CH_DATA;
			break;
		case CH_DATA: {
			size_t k = n - i;
			if (k > c->size)
				k = (size_t)c->size;
			c->size -= k;
			i += k;
			if (c->size == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
			if (b != '\r')
				return ch_fail(c, 400, "chunk data not followed by CRLF");
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (b != '\n')
				return ch_fail(c, 400, "chunk data not followed by CRLF");
			c->state = CH_SIZE0;
			break;
		case CH_TR0:
			if (b == '\r') {
				c->state = CH_END_LF;
			} else if (is_tchar(b)) {
				if (++c->ntrailers > lim->max_headers)
					return ch_fail(c, 431, "too many trailer fields");
				c->state = CH_TR_NAME;
			} else {
				return ch_fail(c, 400, "invalid trailer field");
			}
			break;
		case CH_TR_NAME:
			/* RFC 9110 §6.5.1: a trailer is never merged into the
			 * header section nor used for framing, so a trailer
			 * named Content-Length or Transfer-Encoding changes
			 * nothing: the message is well framed and its bytes go
			 * on as they came (RFC 9112 §7.1.2). */
			if (b == ':')
				c->state = CH_TR_VAL;
			else if (!is_tchar(b))
				return ch_fail(c, 400, "invalid trailer field name");
			break;
		case CH_TR_VAL:
			if (b == '\r')
				c->state = CH_TR_LF;
			else if (!is_fvchar(b))
				return ch_fail(c, 400, "control character in trailer");
			break;
		case CH_TR_LF:
			if (b != '\n')
				return ch_fail(c, 400, "bare CR in trailer");
			c->state = CH_TR0;
			break;
		case CH_END_LF:
			if (b != '\n')
				return ch_fail(c, 400, "bare CR after trailers");
			c->state = CH_DONE;
			*used = i + 1;
			return HTTP_DONE;
		default:
			*used = i;
			return HTTP_DONE;
		}
		if (c->state >= CH_TR0 && c->state != CH_DONE &&
		    ++c->trailer_bytes > lim->max_header_bytes)
			return ch_fail(c, 431, "trailer section too large");
		i++;
	}
	*used = n;
	return HTTP_MORE;
}
