/* test_splash: the splash template engine (placeholders checked, text
 * escaped, HTML parts inserted, overflow reported) and the page shell's
 * phone-readable parts (viewport, lang, 44+ px touch targets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "splash.h"

/* One template and whether it passes the check (and why not). */
struct tpl_case {
	const char *tpl;
	int want;
	const char *why; /* substring of the reason */
};

static const struct tpl_case tpl_cases[] = {
	{ "{{form}}", 0, NULL },
	{ "<h1>{{ title }}</h1>{{terms}}{{form}}<a href=\"{{url}}\">{{network_name}}</a><style>{{style}}</style>", 0, NULL },
	{ "no form here", -1, "needs {{form}} exactly once (found 0)" },
	{ "{{form}}{{form}}", -1, "found 2" },
	{ "{{form}}{{nope}}", -1, "unknown or unclosed placeholder '{{nope}}'" },
	{ "{{form}}\n\n{{title", -1, "line 3: unknown or unclosed placeholder" },
	{ "{{Form}}", -1, "unknown" },
	{ "{ {form}} {form}", -1, "exactly once" },
	{ "{{}}{{form}}", -1, "unknown" },
};

/* Every row of the template-check table. */
static void
test_template_check(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(tpl_cases) / sizeof(tpl_cases[0]); i++) {
		const struct tpl_case *tc = &tpl_cases[i];
		err[0] = '\0';
		int got = splash_template_check(tc->tpl, strlen(tc->tpl), err, sizeof(err));
		if (got != tc->want || (tc->why && strstr(err, tc->why) == NULL))
			fail_msg("template '%s': got %d (%s), want %d (%s)", tc->tpl, got,
			    err, tc->want, tc->why ? tc->why : "");
	}
	assert_int_equal(splash_template_check("{{form}}\0x", 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	char *big = malloc(SPLASH_TEMPLATE_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', SPLASH_TEMPLATE_MAX + 1);
	memcpy(big, "{{form}}", 8);
	assert_int_equal(splash_template_check(big, SPLASH_TEMPLATE_MAX + 1, err, sizeof(err)), -1);
	assert_int_equal(splash_template_check(big, SPLASH_TEMPLATE_MAX, err, sizeof(err)), 0);
	free(big);
	/* the built-in template passes its own check */
	assert_int_equal(splash_template_check(splash_default_template,
	    strlen(splash_default_template), err, sizeof(err)), 0);
}

/* Text placeholders are escaped (an operator's network name or a URL
 * cannot inject markup); HTML ones go in as they are. */
static void
test_render_escaping(void **state)
{
	static const char tpl[] = "<title>{{title}}</title><h1>{{network_name}}</h1>"
	    "{{terms}}<a href=\"{{url}}\">back</a>{{form}}";
	struct splash_vars v = {
		.title = "Caf\xc3\xa9 & Bar",
		.network_name = "<script>alert(1)</script>",
		.terms_html = "<p>Be nice.</p>",
		.form_html = "<form></form>",
		.url = "http://x/?a=1&b=\"'><img>",
	};
	char out[1024];
	size_t n = splash_render(out, sizeof(out), tpl, sizeof(tpl) - 1, &v);

	(void)state;
	assert_true(n > 0 && n == strlen(out));
	assert_string_equal(out, "<title>Caf\xc3\xa9 &amp; Bar</title>"
	    "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1><p>Be nice.</p>"
	    "<a href=\"http://x/?a=1&amp;b=&quot;&#39;&gt;&lt;img&gt;\">back</a><form></form>");
	/* every shorter buffer: 0, never a cut page */
	for (size_t sz = 1; sz <= n; sz++)
		assert_int_equal(splash_render(out, sz, tpl, sizeof(tpl) - 1, &v), 0);
	assert_int_equal(splash_render(out, n + 1, tpl, sizeof(tpl) - 1, &v), n);
}

/* The built-in splash: lang, viewport, the stylesheet with 48 px buttons,
 * the network name as heading, the terms and the form. */
static void
test_default_splash(void **state)
{
	struct splash_vars v = { .title = "Caf\xc3\xa9 Blue", .network_name = "Caf\xc3\xa9 Blue",
		.terms_html = "<p>Terms.</p>\n", .form_html = "<form id=f></form>", .url = "" };
	char out[8192];
	size_t n = splash_render(out, sizeof(out), splash_default_template,
	    strlen(splash_default_template), &v);

	(void)state;
	assert_true(n > 0);
	assert_non_null(strstr(out, "<html lang=\"en\">"));
	assert_non_null(strstr(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
	assert_non_null(strstr(out, "<title>Caf\xc3\xa9 Blue</title>"));
	assert_non_null(strstr(out, "<h1>Caf\xc3\xa9 Blue</h1>"));
	assert_non_null(strstr(out, "<p>Terms.</p>"));
	assert_non_null(strstr(out, "<form id=f></form>"));
	assert_non_null(strstr(out, "button,.button{display:block"));
	assert_non_null(strstr(out, "min-height:48px"));
	assert_null(strstr(out, "{{"));
}

/* The shell of the other pages: escaped title, inner HTML, overflow 0. */
static void
test_page_shell(void **state)
{
	char out[4096];
	size_t n = splash_page(out, sizeof(out), "Not <found>", "<p>x</p>");

	(void)state;
	assert_true(n > 0 && n == strlen(out));
	assert_non_null(strstr(out, "<title>Not &lt;found&gt;</title>"));
	assert_non_null(strstr(out, "<div class=\"card\">\n<p>x</p>\n</div>"));
	assert_int_equal(splash_page(out, 100, "t", "<p>x</p>"), 0);
}

/* The render bound counts every placeholder as often as the template
 * has it (its own text is not subtracted: a bound, not a length), and a
 * render with each value at its bound fits it. */
static void
test_render_max(void **state)
{
	static const char tpl[] = "<h1>{{title}}</h1>{{terms}}<hr>{{ terms }}{{form}}"
	    "<p>{{url}}</p><style>{{style}}</style>";
	/* the placeholders' own text: title 9, terms 9 + 11, form 8, url 7, style 9 */
	const size_t ph = 9 + 9 + 11 + 8 + 7 + 9;
	const struct splash_max m = { .title = 6 * 3, .network_name = 1000,
		.terms = 10, .form = 13, .url = 6 * 2 };
	struct splash_vars v = { .title = "\"\"\"", .network_name = "",
		.terms_html = "0123456789", .form_html = "<form></form>", .url = "\"\"" };
	size_t max = splash_render_max(tpl, sizeof(tpl) - 1, &m);
	static char out[4096];

	(void)state;
	assert_int_equal(max, sizeof(tpl) - 1 + 1 + 18 + 2 * 10 + 13 + 12 +
	    strlen(splash_style));
	assert_int_equal(splash_render(out, sizeof(out), tpl, sizeof(tpl) - 1, &v),
	    max - 1 - ph);
	assert_true(splash_render(out, max, tpl, sizeof(tpl) - 1, &v) > 0);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template_check),
		cmocka_unit_test(test_render_escaping),
		cmocka_unit_test(test_default_splash),
		cmocka_unit_test(test_page_shell),
		cmocka_unit_test(test_render_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
