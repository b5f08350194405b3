/* reply: exact bytes of the answers the gate generates. Every answer has
 * an exact Content-Length and Cache-Control: no-store, because a cached
 * portal page would keep an admitted client away from the real site. */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"

/* Append formatted text; *len becomes size when the buffer overflows. */
__attribute__((format(printf, 4, 5))) static void
put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		*len = size;
	else
		*len += (size_t)n;
}

/* Format an IMF-fixdate (RFC 9110 §5.6.7) for the Date field. */
static void
imf_date(int64_t now_s, char out[64])
{
	static const char *wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)now_s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday % 7],
	    tm.tm_mday, mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* Write status line, common fields and body; returns the length or 0
 * when the buffer was too small (the caller then answers 500). */
static size_t
finish(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *ctype, const char *extra_name, const char *extra_val,
    const char *body, size_t blen)
{
	char date[64];
	size_t len = 0;

	imf_date(rc->now_s, date);
	put(buf, size, &len, "HTTP/1.1 %u %s\r\nDate: %s\r\n", status,
	    http_reason(status), date);
	if (extra_name != NULL)
		put(buf, size, &len, "%s: %s\r\n", extra_name, extra_val);
	put(buf, size, &len,
	    "Content-Type: %s\r\nCache-Control: no-store\r\nContent-Length: %zu\r\n"
	    "Connection: %s\r\n\r\n",
	    ctype, blen, rc->close ? "close" : "keep-alive");
	if (!rc->head) {
		if (len + blen >= size)
			return 0;
		memcpy(buf + len, body, blen);
		len += blen;
	}
	return len >= size ? 0 : len;
}

/* HTML-escape s into out (NUL-terminated); returns the length, or size
 * when it did not fit. */
size_t
reply_html_escape(char *out, size_t size, const char *s)
{
	size_t len = 0;

	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: break;
		}
		size_t k = rep ? strlen(rep) : 1;
		if (len + k >= size)
			return size;
		if (rep)
			memcpy(out + len, rep, k);
		else
			out[len] = *s;
		len += k;
	}
	if (size > 0)
		out[len] = '\0';
	return len;
}

/* The 511 answer (RFC 6585 §6): a short page that links to and
 * meta-refreshes to the login page. No WWW-Authenticate: this is not an
 * HTTP authentication challenge, and no login form: the portal owns that. */
size_t
reply_511(char *buf, size_t size, const struct reply_ctx *rc, const char *link)
{
	char esc[6144], body[8192];
	int n;

	if (reply_html_escape(esc, sizeof(esc), link) >= sizeof(esc))
		return 0;
	n = snprintf(body, sizeof(body),
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Network Authentication Required</title>\n"
	    "<meta http-equiv=\"refresh\" content=\"0; url=%s\"></head>\n"
	    "<body><h1>Network Authentication Required</h1>\n"
	    "<p>You need to <a href=\"%s\">sign in to this network</a> "
	    "before you can use it.</p></body></html>\n",
	    esc, esc);
	if (n < 0 || (size_t)n >= sizeof(body))
		return 0;
	return finish(buf, size, rc, 511, "text/html; charset=utf-8", NULL, NULL,
	    body, (size_t)n);
}

/* A redirect (302 for probes, 303 after a form) with a small HTML body
 * for clients that do not follow Location. */
size_t
reply_302(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *location)
{
	char esc[6144], body[8192];
	int n;

	if (strpbrk(location, "\r\n") != NULL ||
	    reply_html_escape(esc, sizeof(esc), location) >= sizeof(esc))
		return 0;
	n = snprintf(body, sizeof(body),
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
	    "</head>\n<body><p><a href=\"%s\">Continue</a></p></body></html>\n",
	    http_reason(status), esc);
	if (n < 0 || (size_t)n >= sizeof(body))
		return 0;
	return finish(buf, size, rc, status, "text/html; charset=utf-8", "Location",
	    location, body, (size_t)n);
}

/* A page of the gate's own (splash, grant results): any status, one
 * optional extra field (Location, Allow), an HTML body built by the caller. */
size_t
reply_html(char *buf, size_t size, const struct reply_ctx *rc, unsigned status,
    const char *hname, const char *hval, const char *html, size_t len)
{
	if (hval != NULL && strpbrk(hval, "\r\n") != NULL)
		return 0;
	return finish(buf, size, rc, status, "text/html; charset=utf-8", hname,
	    hval, html, len);
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
	return finish(buf, size, rc, status, "text/plain; charset=utf-8", NULL, NULL,
	    body, (size_t)n);
}
