/* capport: the Captive Portal API of RFC 8908 -- which media types a
 * client accepts, the JSON object that tells it whether it is captive and
 * what is left of its session, and the HTTP answer around it. Pure. */
#include "capport.h"

#include <string.h>

#include "http.h"
#include "jsonw.h"

/* Matching state over one or more Accept field lines. */
struct accept_best {
	int spec;     /* specificity of the best matching range; 0: none */
	unsigned q;   /* its weight, 0..1000 */
	bool any;     /* at least one non-empty element was seen */
};

/* Skip optional whitespace (SP / HTAB). */
static size_t
skip_ows(const char *v, size_t len, size_t i)
{
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i;
}

/* Length of the token at v[i..], 0 when there is none. */
static size_t
token_len(const char *v, size_t len, size_t i)
{
	size_t s = i;

	while (i < len && http_tchar((unsigned char)v[i]))
		i++;
	return i - s;
}

/* Case-insensitive comparison of v[0..n) with a lower-case literal. */
static bool
eq_ci(const char *v, size_t n, const char *lit)
{
	return http_token_eq(v, n, lit);
}

/* Parse a qvalue (RFC 9110 §12.4.2) into 0..1000; -1 if malformed. */
static int
parse_qvalue(const char *v, size_t n)
{
	unsigned q = 0, scale = 100;

	if (n == 0 || (v[0] != '0' && v[0] != '1') || n > 5)
		return -1;
	if (n > 1 && v[1] != '.')
		return -1;
	for (size_t i = 2; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		q += (unsigned)(v[i] - '0') * scale;
		scale /= 10;
	}
	if (v[0] == '1')
		return q == 0 ? 1000 : -1;
	return (int)q;
}

/* Parse a quoted-string at v[i] (the opening DQUOTE); returns the index
 * after the closing DQUOTE, or 0 when it is malformed. */
static size_t
skip_quoted(const char *v, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			if (++i >= len)
				return 0;
			c = (unsigned char)v[i];
			if (c < 0x20 && c != '\t')
				return 0;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return 0;
		}
	}
	return 0;
}

/* Parse one Accept field value into the running best match for
 * application/captive+json; -1 on a syntax error. RFC 9110 §12.5.1:
 * the most specific matching range sets the weight; §5.6.1: empty list
 * elements are allowed and ignored. */
static int
accept_scan(const char *v, size_t len, struct accept_best *b)
{
	size_t i = 0;

	for (;;) {
		size_t tl, sl, ts, ss;
		int spec;
		unsigned q = 1000;
		bool other_param = false, seen_q = false;

		i = skip_ows(v, len, i);
		if (i == len)
			return 0;
		if (v[i] == ',') {
			i++;
			continue;
		}
		ts = i;
		tl = token_len(v, len, i);
		i += tl;
		if (tl == 0 || i >= len || v[i] != '/')
			return -1;
		ss = ++i;
		sl = token_len(v, len, i);
		i += sl;
		if (sl == 0)
			return -1;
		if (tl == 1 && v[ts] == '*') {
			if (!(sl == 1 && v[ss] == '*'))
				return -1; /* "*" only as "*" "/" "*" */
			spec = 1;
		} else if (!eq_ci(v + ts, tl, "application")) {
			spec = 0;
		} else if (sl == 1 && v[ss] == '*') {
			spec = 2;
		} else {
			spec = eq_ci(v + ss, sl, "captive+json") ? 3 : 0;
		}
		/* parameters = *( OWS ";" OWS [ parameter ] ) */
		for (;;) {
			size_t j = skip_ows(v, len, i), nl, ns;
			if (j >= len || v[j] != ';')
				break;
			i = skip_ows(v, len, j + 1);
			if (i >= len || v[i] == ',' || v[i] == ';')
				continue; /* an empty parameter */
			ns = i;
			nl = token_len(v, len, i);
			i += nl;
			if (nl == 0 || i >= len || v[i] != '=')
				return -1;
			size_t vs = ++i;
			if (i < len && v[i] == '"') {
				i = skip_quoted(v, len, i);
				if (i == 0)
					return -1;
			} else {
				size_t vl = token_len(v, len, i);
				if (vl == 0)
					return -1;
				i += vl;
			}
			if (seen_q)
				continue; /* extension parameters after the weight */
			if (eq_ci(v + ns, nl, "q")) {
				int qv = parse_qvalue(v + vs, i - vs);
				if (qv < 0)
					return -1;
				q = (unsigned)qv;
				seen_q = true;
			} else if (!(eq_ci(v + ns, nl, "charset") &&
					 (eq_ci(v + vs, i - vs, "utf-8") ||
					     eq_ci(v + vs, i - vs, "\"utf-8\"")))) {
				/* JSON is UTF-8 (RFC 8259 §8.1), so a charset of
				 * utf-8 still matches; any other parameter names a
				 * representation we do not have. */
				other_param = true;
			}
		}
		i = skip_ows(v, len, i);
		if (i < len && v[i] != ',')
			return -1;
		b->any = true;
		if (spec > 0 && !other_param) {
			if (spec > b->spec || (spec == b->spec && q > b->q)) {
				b->spec = spec;
				b->q = q;
			}
		}
	}
}

/* Whether one Accept field value admits application/captive+json. */
int
capport_accept(const char *v, size_t len)
{
	struct accept_best b = { 0, 0, false };

	if (accept_scan(v, len, &b) < 0)
		return CAPPORT_ACCEPT_BAD;
	if (!b.any)
		return CAPPORT_ACCEPT_YES; /* an empty list: no preference */
	return b.spec > 0 && b.q > 0 ? CAPPORT_ACCEPT_YES : CAPPORT_ACCEPT_NO;
}

/* Whether a validated request head (from the request line to the blank
 * line, CRLF endings as the framer guarantees) admits our media type:
 * every Accept line counts, as one combined list (RFC 9110 §5.3); no
 * Accept at all admits anything (RFC 9110 §12.5.1). */
int
capport_accept_head(const char *head, size_t len)
{
	struct accept_best b = { 0, 0, false };
	const char *p = memchr(head, '\n', len), *end = head + len;
	bool present = false;

	while (p != NULL && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t ll;
		if (eol == NULL)
			break;
		ll = (size_t)(eol - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break; /* the blank line ends the head */
		if (ll >= 7 && p[6] == ':' && eq_ci(p, 6, "accept")) {
			size_t vl = ll - 7, s = 0;
			const char *val = p + 7;
			while (vl > 0 && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
				vl--;
			s = skip_ows(val, vl, 0);
			present = true;
			if (accept_scan(val + s, vl - s, &b) < 0)
				return CAPPORT_ACCEPT_BAD;
		}
		p = eol;
	}
	if (!present || !b.any)
		return CAPPORT_ACCEPT_YES;
	return b.spec > 0 && b.q > 0 ? CAPPORT_ACCEPT_YES : CAPPORT_ACCEPT_NO;
}

/* True when a path (no query) is the API's URI path. */
bool
capport_is_path(const char *path, size_t len)
{
	return len == sizeof(CAPPORT_PATH) - 1 && memcmp(path, CAPPORT_PATH, len) == 0;
}

/* The API's JSON object (RFC 8908 §5): captive always; user-portal-url
 * while captive or when the session can be extended there; venue-info-url
 * in both states; the remaining time and volume only while admitted and
 * limited. Returns the length (NUL-terminated), or 0 when it exceeds
 * size or CAPPORT_BODY_MAX. */
size_t
capport_json(char *out, size_t size, const struct capport_state *st)
{
	struct jsonw j;
	bool extend = !st->captive && st->can_extend &&
	    st->user_portal_url != NULL && st->user_portal_url[0] != '\0';
	size_t n;

	if (size > CAPPORT_BODY_MAX + 1)
		size = CAPPORT_BODY_MAX + 1;
	jsonw_begin(&j, out, size);
	jsonw_bool(&j, "captive", st->captive);
	if ((st->captive || extend) && st->user_portal_url != NULL &&
	    st->user_portal_url[0] != '\0')
		jsonw_str(&j, "user-portal-url", st->user_portal_url);
	if (st->venue_info_url != NULL && st->venue_info_url[0] != '\0')
		jsonw_str(&j, "venue-info-url", st->venue_info_url);
	if (!st->captive) {
		jsonw_bool(&j, "can-extend-session", extend);
		if (st->have_seconds)
			jsonw_uint(&j, "seconds-remaining", st->seconds_remaining);
		if (st->have_bytes)
			jsonw_uint(&j, "bytes-remaining", st->bytes_remaining);
	}
	n = jsonw_end(&j);
	if (n == 0 || n >= size)
		return 0;
	out[n] = '\0';
	return n;
}

/* The complete answer to a request for the API's path: 405 for methods
 * other than GET and HEAD, 400 for an Accept that does not parse, 406
 * when it excludes application/captive+json, else 200 with the JSON.
 * Every answer is "Cache-Control: private, no-store": it describes one
 * client at one moment (RFC 8908 §5). Returns 0 when out is too small. */
size_t
capport_answer(char *out, size_t size, const struct reply_ctx *rc,
    const struct capport_req *rq, const struct capport_state *st,
    unsigned *status, const char **why)
{
	static const char cache[] = "private, no-store";
	char body[CAPPORT_BODY_MAX + 1];
	size_t n;

	*why = NULL;
	if (!rq->get && !rq->head) {
		*status = 405;
		*why = "method not allowed";
		return reply_typed(out, size, rc, 405, "text/plain; charset=utf-8",
		    cache, "Allow", "GET, HEAD", "405 Method Not Allowed\n", 23);
	}
	if (rq->accept == CAPPORT_ACCEPT_BAD || rq->accept == CAPPORT_ACCEPT_NO) {
		bool bad = rq->accept == CAPPORT_ACCEPT_BAD;
		*status = bad ? 400 : 406;
		*why = bad ? "malformed Accept" : "Accept excludes " CAPPORT_MEDIA;
		n = (size_t)(bad ? sizeof("400 Bad Request: malformed Accept\n") - 1
			: sizeof("406 Not Acceptable: the API answers " CAPPORT_MEDIA "\n") - 1);
		return reply_typed(out, size, rc, *status, "text/plain; charset=utf-8",
		    cache, NULL, NULL, bad ? "400 Bad Request: malformed Accept\n"
		    : "406 Not Acceptable: the API answers " CAPPORT_MEDIA "\n", n);
	}
	n = capport_json(body, sizeof(body), st);
	if (n == 0) {
		*status = 500;
		*why = "API answer too large";
		return reply_error(out, size, rc, 500, *why);
	}
	*status = 200;
	return reply_typed(out, size, rc, 200, CAPPORT_MEDIA, cache, NULL, NULL,
	    body, n);
}
