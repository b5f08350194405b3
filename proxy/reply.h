/* reply: builds the answers the gate generates itself -- 511 (RFC 6585
 * §6), 302 for OS connectivity probes, and the 4xx/5xx framing errors --
 * as exact bytes in a caller buffer. Pure: time is an argument. */
#ifndef WK_REPLY_H
#define WK_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest link (NUL included) the 511 page and a 302's body carry
 * once HTML-escaped; portal_link keeps its links within it (reply_link_fits)
 * so those answers always build in a 16 KiB buffer. */
#define REPLY_LINK_ESC_MAX 6144

/* What a generated answer needs to know about its request. */
struct reply_ctx {
	bool head;         /* HEAD: headers only, same Content-Length */
	bool close;        /* send Connection: close */
	int64_t now_s;     /* for the Date field (RFC 9110 §6.6.1) */
};

size_t reply_511(char *buf, size_t size, const struct reply_ctx *rc,
    const char *link);
size_t reply_302(char *buf, size_t size, const struct reply_ctx *rc,
    unsigned status, const char *location);
size_t reply_html(char *buf, size_t size, const struct reply_ctx *rc,
    unsigned status, const char *hname, const char *hval, const char *html,
    size_t len);
size_t reply_typed(char *buf, size_t size, const struct reply_ctx *rc,
    unsigned status, const char *ctype, const char *cache, const char *hname,
    const char *hval, const char *body, size_t len);
size_t reply_error(char *buf, size_t size, const struct reply_ctx *rc,
    unsigned status, const char *why);
size_t reply_html_escape(char *out, size_t size, const char *s);
size_t reply_html_escape_mem(char *out, size_t size, const char *s, size_t n);
bool reply_link_fits(const char *link);

#endif
