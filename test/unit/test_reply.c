/* test_reply: exact bytes of the generated answers (511, 302, errors),
 * Content-Length equal to the body, HEAD without a body, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"

/* The body of a response and the value of its Content-Length. */
static void
split(const char *resp, size_t len, const char **body, size_t *blen, long *cl)
{
	const char *end = strstr(resp, "\r\n\r\n");
	const char *p = strstr(resp, "\r\nContent-Length: ");

	assert_non_null(end);
	assert_non_null(p);
	*cl = strtol(p + 18, NULL, 10);
	*body = end + 4;
	*blen = len - (size_t)(*body - resp);
}

/* The 511 answer, byte for byte (RFC 6585 §6). */
static void
test_511_exact(void **state)
{
	char buf[16384];
	struct reply_ctx rc = { .head = false, .close = false, .now_s = 1795000000 };
	size_t n = reply_511(buf, sizeof(buf), &rc, "http://10.0.0.1/p?a=1&b=<x>");
	static const char body[] =
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>Network Authentication Required</title>\n"
	    "<meta http-equiv=\"refresh\" content=\"0; url=http://10.0.0.1/p?a=1&amp;b=&lt;x&gt;\">\n"
	    "<style>body{margin:0;background:#eef2f5;color:#1b2228;"
	    "font:1.0625rem/1.55 system-ui,sans-serif}main{max-width:34rem;margin:0 auto;"
	    "padding:1.5rem 1.25rem}a{display:block;box-sizing:border-box;min-height:48px;"
	    "padding:.75rem 1rem;border-radius:10px;background:#0a62c2;color:#fff;"
	    "font-weight:600;text-align:center;text-decoration:none}</style></head>\n"
	    "<body><main><h1>Network Authentication Required</h1>\n"
	    "<p>You need to sign in to this network before you can use it.</p>\n"
	    "<p><a href=\"http://10.0.0.1/p?a=1&amp;b=&lt;x&gt;\">Sign in to this network</a></p>"
	    "</main></body></html>\n";
	char want[16384];

	(void)state;
	snprintf(want, sizeof(want),
	    "HTTP/1.1 511 Network Authentication Required\r\n"
	    "Date: Wed, 18 Nov 2026 11:06:40 GMT\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: keep-alive\r\n\r\n%s", sizeof(body) - 1, body);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	assert_null(strstr(buf, "WWW-Authenticate"));
	assert_null(strstr(buf, "<form"));
}

/* Every answer's Content-Length equals its body; HEAD keeps the length
 * but sends no body; close is announced. */
static void
test_lengths(void **state)
{
	char buf[16384];
	const char *body;
	size_t blen, n, nh;
	long cl;
	struct reply_ctx rc = { .now_s = 0 }, rh = { .head = true, .close = true };
	unsigned codes[] = { 400, 408, 411, 413, 414, 417, 431, 501, 502, 504, 505 };

	(void)state;
	n = reply_511(buf, sizeof(buf), &rc, "http://x/");
	split(buf, n, &body, &blen, &cl);
	assert_int_equal(cl, (long)blen);
	nh = reply_511(buf, sizeof(buf), &rh, "http://x/");
	assert_int_equal(nh, n - blen + strlen("close") - strlen("keep-alive"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		rc.close = true;
		n = reply_error(buf, sizeof(buf), &rc, codes[i], "a rule");
		assert_true(n > 0);
		split(buf, n, &body, &blen, &cl);
		assert_int_equal(cl, (long)blen);
		char line[64];
		snprintf(line, sizeof(line), "HTTP/1.1 %u ", codes[i]);
		assert_memory_equal(buf, line, strlen(line));
		assert_non_null(strstr(buf, "Connection: close\r\n"));
		assert_non_null(strstr(buf, "Cache-Control: no-store\r\n"));
	}
	n = reply_302(buf, sizeof(buf), &rc, 302, "http://gw/wicket/?url=x");
	assert_memory_equal(buf, "HTTP/1.1 302 Found\r\n", 20);
	assert_non_null(strstr(buf, "\r\nLocation: http://gw/wicket/?url=x\r\n"));
	split(buf, n, &body, &blen, &cl);
	assert_int_equal(cl, (long)blen);
	/* A Location with CR or LF would split the response: refused. */
	assert_int_equal(reply_302(buf, sizeof(buf), &rc, 302, "http://x/\r\nSet-Cookie: a"), 0);
	/* Too small a buffer is reported, not truncated. */
	assert_int_equal(reply_511(buf, 100, &rc, "http://x/"), 0);
}

/* HTML escaping covers every character that could end an attribute. */
static void
test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(reply_html_escape(out, sizeof(out), "<a href='x'>&\""), 37);
	assert_string_equal(out, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
	/* The counted form escapes exactly n bytes, NUL included as data. */
	assert_int_equal(reply_html_escape_mem(out, sizeof(out), "a<b\0c", 3), 6);
	assert_string_equal(out, "a&lt;b");
	assert_int_equal(reply_html_escape_mem(out, 6, "a<b", 3), 6);
	assert_int_equal(reply_html_escape_mem(out, 7, "a<b", 3), 6);
	assert_int_equal(reply_html_escape_mem(out, sizeof(out), "", 0), 0);
	assert_string_equal(out, "");
}

/* A link reply_link_fits accepts always builds a 511 and a 302 in the
 * 16 KiB answer buffer of txn.c, the longest escaped one included; one
 * that escapes to more is refused by both, so portal_link falls back. */
static void
test_link_fits(void **state)
{
	static char link[REPLY_LINK_ESC_MAX], buf[16384];
	struct reply_ctx rc = { .now_s = 1795000000 };
	size_t k;

	(void)state;
	/* "http://p/?" then '&' (5 bytes escaped) up to the limit exactly. */
	memcpy(link, "http://p/?", 10);
	k = (REPLY_LINK_ESC_MAX - 1 - 10) / 5;
	memset(link + 10, '&', k);
	memset(link + 10 + k, 'a', (REPLY_LINK_ESC_MAX - 1 - 10) % 5);
	link[10 + k + (REPLY_LINK_ESC_MAX - 1 - 10) % 5] = '\0';
	assert_true(reply_link_fits(link));
	assert_true(reply_511(buf, sizeof(buf), &rc, link) > 0);
	assert_true(reply_302(buf, sizeof(buf), &rc, 302, link) > 0);
	/* One '&' more escapes one past the limit: no 511 (portal_link falls
	 * back), a redirect whose body does not repeat it (a 303 after an
	 * accept to the client's own URL must not turn into a 500). */
	link[10 + k - 1] = '\0';
	strcat(link, "&&");
	assert_false(reply_link_fits(link));
	assert_int_equal(reply_511(buf, sizeof(buf), &rc, link), 0);
	assert_true(reply_302(buf, sizeof(buf), &rc, 303, link) > 0);
	assert_non_null(strstr(buf, "\r\nLocation: http://p/?&&&"));
	assert_null(strstr(buf, "href="));
	/* Short links need no look; 1023 bytes of the worst byte fit. */
	memset(link, '"', 1023);
	link[1023] = '\0';
	assert_true(reply_link_fits(link));
	assert_true(reply_link_fits("http://x/"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_511_exact),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_link_fits),
	};
	return cmocka_run_group_tests_name("reply", tests, NULL, NULL);
}
