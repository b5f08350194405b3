/* test_portal: the portal's pure helpers -- routes of the gate's pages,
 * the operator's terms turned into escaped paragraphs, which URLs a
 * browser may be sent on to, and the page shell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "portal.h"

/* Each target maps to its page; the query never matters. */
static void
test_routes(void **state)
{
	static const struct {
		const char *target;
		enum portal_route want;
	} rows[] = {
		{ "/", PORTAL_SPLASH },
		{ "/wicket", PORTAL_SPLASH },
		{ "/wicket/", PORTAL_SPLASH },
		{ "/wicket/?url=http%3A%2F%2Fx%2F", PORTAL_SPLASH },
		{ "/wicket/accept", PORTAL_ACCEPT },
		{ "/wicket/grant?mac=a&until=1", PORTAL_GRANT },
		{ "/wicket/grant/", PORTAL_NOTFOUND },
		{ "/wicket/acceptx", PORTAL_NOTFOUND },
		{ "//wicket/", PORTAL_NOTFOUND },
		{ "/favicon.ico", PORTAL_NOTFOUND },
		{ "http://10.0.0.1/", PORTAL_NOTFOUND },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (portal_route(rows[i].target, strlen(rows[i].target)) != rows[i].want)
			fail_msg("route of %s", rows[i].target);
}

/* Terms: blank lines split paragraphs, lines join, HTML is escaped. */
static void
test_terms(void **state)
{
	static const char text[] = "Be nice.\nNo <script>.\n\n \t\nPay & go \"now\".\n\n";
	char out[512];
	size_t n = portal_terms_html(out, sizeof(out), text, sizeof(text) - 1);

	(void)state;
	assert_string_equal(out, "<p>Be nice. No &lt;script&gt;.</p>\n"
				 "<p>Pay &amp; go &quot;now&quot;.</p>\n");
	assert_int_equal(n, strlen(out));
	assert_int_equal(portal_terms_html(out, 8, text, sizeof(text) - 1), 8);
	assert_int_equal(portal_terms_html(out, sizeof(out), "", 0), 0);
	assert_string_equal(out, "");
}

/* Only http(s) URLs of visible ASCII may be redirected to. */
static void
test_url_ok(void **state)
{
	(void)state;
	assert_true(portal_url_ok("http://10.0.0.2/news?a=1"));
	assert_true(portal_url_ok("https://example.net/"));
	assert_false(portal_url_ok("javascript:alert(1)"));
	assert_false(portal_url_ok("//evil.example/"));
	assert_false(portal_url_ok("http://x/\r\nSet-Cookie: a=b"));
	assert_false(portal_url_ok("http://x/ y"));
	assert_false(portal_url_ok("http://x/\x80"));
	assert_false(portal_url_ok(""));
}

/* The page shell carries the title twice and reports overflow as 0. */
static void
test_page(void **state)
{
	char out[512];
	size_t n = portal_page(out, sizeof(out), "Welcome", "<p>x</p>");

	(void)state;
	assert_true(n > 0 && n == strlen(out));
	assert_non_null(strstr(out, "<title>Welcome</title>"));
	assert_non_null(strstr(out, "<h1>Welcome</h1>\n<p>x</p>\n"));
	assert_int_equal(portal_page(out, 40, "Welcome", "<p>x</p>"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_url_ok),
		cmocka_unit_test(test_page),
	};
	return cmocka_run_group_tests_name("portal", tests, NULL, NULL);
}
