/* reply: exact bytes of the answers the gate generates. Every answer has
 * an exact Content-Length and Cache-Control: no-store, because a cached
 * portal page would keep an admitted client away from the real site. */
#include "reply.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"

/* An append cursor over a caller's buffer; len > size marks overflow.
 * Answers are built on every denied request, so no printf on this path. */
struct out {
	char *buf;
	size_t size, len;
};

/* Append n bytes. */
static void
out_mem(struct out *o, const char *s, size_t n)
{
	if (o->len > o->size || n > o->size - o->len) {
		o->len = o->size + 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Append a NUL-terminated string. */
static void
out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

#define OUT_LIT(o, lit) out_mem((o), (lit), sizeof(lit) - 1)

/* Append a number in decimal. */
static void
out_uint(struct out *o, uint64_t v)
{
	char num[24];
	size_t i = sizeof(num);

	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_mem(o, num + i, sizeof(num) - i);
}

/* The IMF-fixdate (RFC 9110 §5.6.7) of now_s for the Date field,
 * formatted once per second. */
static const char *
imf_date(int64_t now_s)
{
	static const char *wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static int64_t cached = INT64_MIN;
	static char date[64];
	time_t t = (time_t)now_s;
	struct tm tm;

	if (now_s == cached)
		return date;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    wd[tm.tm_wday % 7], tm.tm_mday, mo[tm.tm_mon % 12], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	cached = now_s;
	return date;
}

/* Write status line, common fields and body; returns the length or 0
 * when the buffer was too small (the caller then answers 500). */
static size_t
finish(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *ctype, const char *cache, const char *extra_name,
    const char *extra_val, const char *body, size_t blen)
{
	struct out o = { buf, size, 0 };

	OUT_LIT(&o, "HTTP/1.1 ");
	out_uint(&o, status);
	OUT_LIT(&o, " ");
	out_str(&o, http_reason(status));
	OUT_LIT(&o, "\r\nDate: ");
	out_str(&o, imf_date(rc->now_s));
	OUT_LIT(&o, "\r\n");
	if (extra_name != NULL) {
		out_str(&o, extra_name);
		OUT_LIT(&o, ": ");
		out_str(&o, extra_val);
		OUT_LIT(&o, "\r\n");
	}
	OUT_LIT(&o, "Content-Type: ");
	out_str(&o, ctype);
	OUT_LIT(&o, "\r\nCache-Control: ");
	out_str(&o, cache);
	OUT_LIT(&o, "\r\nContent-Length: ");
	out_uint(&o, blen);
	if (rc->close)
		OUT_LIT(&o, "\r\nConnection: close\r\n\r\n");
	else
		OUT_LIT(&o, "\r\nConnection: keep-alive\r\n\r\n");
	if (!rc->head)
		out_mem(&o, body, blen);
	/* Keep one byte free, as the callers always had. */
	return o.len >= size ? 0 : o.len;
}

/* HTML-escape the n bytes at s into out (NUL-terminated); returns the
 * length, or size when it did not fit. Plain runs are copied at once:
 * every 511 escapes its link. */
size_t
reply_html_escape_mem(char *out, size_t size, const char *s, size_t n)
{
	static const char *const rep[256] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;",
		['"'] = "&quot;", ['\''] = "&#39;",
	};
	size_t len = 0, i = 0;

	while (i < n) {
		size_t run = 0, k;
		while (i + run < n && rep[(unsigned char)s[i + run]] == NULL)
			run++;
		if (len + run >= size)
			return size;
		memcpy(out + len, s + i, run);
		len += run;
		i += run;
		if (i == n)
			break;
		k = strlen(rep[(unsigned char)s[i]]);
		if (len + k >= size)
			return size;
		memcpy(out + len, rep[(unsigned char)s[i]], k);
		len += k;
		i++;
	}
	if (len >= size)
		return size;
	out[len] = '\0';
	return len;
}

/* HTML-escape the string s into out (NUL-terminated); returns the length,
 * or size when it did not fit. */
size_t
reply_html_escape(char *out, size_t size, const char *s)
{
	return reply_html_escape_mem(out, size, s, strlen(s));
}

/* True when link, HTML-escaped, fits the 511 page and a 302's body
 * (REPLY_LINK_ESC_MAX). A byte escapes to at most 6, so a short link needs
 * no look: this runs for every 511. */
bool
reply_link_fits(const char *link)
{
	char esc[REPLY_LINK_ESC_MAX];
	size_t n = strlen(link);

	if (n < sizeof(esc) / 6)
		return true;
	return reply_html_escape_mem(esc, sizeof(esc), link, n) < sizeof(esc);
}

/* The 511 answer (RFC 6585 §6): a short page that links to and
 * meta-refreshes to the login page. No WWW-Authenticate: this is not an
 * HTTP authentication challenge, and no login form: the portal owns that. */
size_t
reply_511(char *buf, size_t size, const struct reply_ctx *rc, const char *link)
{
	/* The page carries the link twice (refresh and href). */
	char esc[REPLY_LINK_ESC_MAX], body[2 * REPLY_LINK_ESC_MAX + 2048];
	size_t elen = reply_html_escape(esc, sizeof(esc), link);
	struct out o = { body, sizeof(body), 0 };

	if (elen >= sizeof(esc))
		return 0;
	/* Phone-readable (viewport, type size, a 48 px tall link) with a
	 * few bytes of CSS: this page is sent on every denied request. */
	OUT_LIT(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>Network Authentication Required</title>\n"
	    "<meta http-equiv=\"refresh\" content=\"0; url=");
	out_mem(&o, esc, elen);
	OUT_LIT(&o, "\">\n<style>body{margin:0;background:#eef2f5;color:#1b2228;"
	    "font:1.0625rem/1.55 system-ui,sans-serif}main{max-width:34rem;margin:0 auto;"
	    "padding:1.5rem 1.25rem}a{display:block;box-sizing:border-box;min-height:48px;"
	    "padding:.75rem 1rem;border-radius:10px;background:#0a62c2;color:#fff;"
	    "font-weight:600;text-align:center;text-decoration:none}</style></head>\n"
	    "<body><main><h1>Network Authentication Required</h1>\n"
	    "<p>You need to sign in to this network before you can use it.</p>\n"
	    "<p><a href=\"");
	out_mem(&o, esc, elen);
	OUT_LIT(&o, "\">Sign in to this network</a></p></main></body></html>\n");
	if (o.len >= sizeof(body))
		return 0;
	return finish(buf, size, rc, 511, "text/html; charset=utf-8", "no-store",
	    NULL, NULL, body, o.len);
}

/* A redirect (302 for probes, 303 after a form) with a small HTML body
 * for clients that do not follow Location. A location too long to repeat
 * escaped in the body (a client's own odd URL after its accept) keeps the
 * redirect, with a body that only says so: Location is what browsers use. */
size_t
reply_302(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *location)
{
	char esc[REPLY_LINK_ESC_MAX], body[REPLY_LINK_ESC_MAX + 512];
	int n;

	if (strpbrk(location, "\r\n") != NULL)
		return 0;
	if (reply_html_escape(esc, sizeof(esc), location) < sizeof(esc))
		n = snprintf(body, sizeof(body),
		    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
		    "</head>\n<body><p><a href=\"%s\">Continue</a></p></body></html>\n",
		    http_reason(status), esc);
	else
		n = snprintf(body, sizeof(body),
		    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
		    "</head>\n<body><p>Your browser goes on to the page you asked for.</p>"
		    "</body></html>\n", http_reason(status));
	if (n < 0 || (size_t)n >= sizeof(body))
		return 0;
	return finish(buf, size, rc, status, "text/html; charset=utf-8", "no-store",
	    "Location", location, body, (size_t)n);
}

/* A page of the gate's own (splash, grant results): any status, one
 * optional extra field (Location, Allow), an HTML body built by the caller. */
size_t
reply_html(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *hname, const char *hval, const char *html, size_t len)
{
	if (hval != NULL && strpbrk(hval, "\r\n") != NULL)
		return 0;
	return finish(buf, size, rc, status, "text/html; charset=utf-8", "no-store",
	    hname, hval, html, len);
}

/* An answer of any media type and cache policy (the CAPPORT API's
 * application/captive+json with "private, no-store", RFC 8908 §5). */
size_t
reply_typed(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *ctype, const char *cache, const char *hname, const char *hval,
    const char *body, size_t len)
{
	if (hval != NULL && strpbrk(hval, "\r\n") != NULL)
		return 0;
	return finish(buf, size, rc, status, ctype, cache, hname, hval, body, len);
}

/* A framing or gateway error: plain text naming the status and the rule
 * that was broken (a fixed string, never request bytes). */
size_t
reply_error(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *why)
{
	char body[256];
	int n;

	n = snprintf(body, sizeof(body), "%u %s%s%s\n", status, http_reason(status),
	    why ? ": " : "", why ? why : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	return finish(buf, size, rc, status, "text/plain; charset=utf-8", "no-store",
	    NULL, NULL, body, (size_t)n);
}
