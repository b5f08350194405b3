/* test_portal: the portal's helpers -- routes of the gate's pages, the
 * operator's terms turned into escaped paragraphs, which URLs a browser may
 * be sent on to, the page shell -- and, on a gate struct with a real
 * configuration, the 511 link (never empty, the wanted URL signed) and the
 * splash that takes a URL only when the gate signed it for that MAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "gate.h"
#include "policy.h"
#include "portal.h"
#include "token.h"

#define GATE_HOST "10.0.0.1"
#define WANT "http://10.98.0.2/news?id=1&lang=en"
#define WANT_ENC "http%3A%2F%2F10.98.0.2%2Fnews%3Fid%3D1%26lang%3Den"
#define ANSWER 65536

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

/* The page shell carries the title twice (escaped), the phone viewport,
 * lang and the stylesheet, and reports overflow as 0. */
static void
test_page(void **state)
{
	char out[4096];
	size_t n = portal_page(out, sizeof(out), "Welcome", "<p>x</p>");

	(void)state;
	assert_true(n > 0 && n == strlen(out));
	assert_non_null(strstr(out, "<title>Welcome</title>"));
	assert_non_null(strstr(out, "<h1>Welcome</h1>\n<div class=\"card\">\n<p>x</p>\n"));
	assert_non_null(strstr(out, "<html lang=\"en\">"));
	assert_non_null(strstr(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
	assert_non_null(strstr(out, "min-height:48px"));
	assert_true(portal_page(out, sizeof(out), "A & <b>", "") > 0);
	assert_non_null(strstr(out, "<h1>A &amp; &lt;b&gt;</h1>"));
	assert_int_equal(portal_page(out, 40, "Welcome", "<p>x</p>"), 0);
}

/* A gate with the default configuration (built-in splash, random key)
 * and a client MAC, for the link and splash tests. */
struct pt {
	struct gate g;
	struct wk_conf c;
	struct wk_mac mac, other;
	struct policy_in id;
};

/* Set up a gate whose portal is started with conf text applied. */
static struct pt *
pt_new(const char *conf)
{
	struct pt *t = calloc(1, sizeof(*t));
	struct conf_errors errs;
	char text[2048];

	assert_non_null(t);
	conf_defaults(&t->c);
	snprintf(text, sizeof(text), "listen 127.0.0.1:3990\n%s", conf);
	assert_int_equal(conf_parse(&t->c, text, strlen(text), "t.conf", &errs), 0);
	t->g.conf = &t->c;
	assert_int_equal(portal_start(&t->g), 0);
	assert_int_equal(addr_mac_parse("02:00:5e:10:00:01", &t->mac), 0);
	assert_int_equal(addr_mac_parse("02:00:5e:10:00:02", &t->other), 0);
	assert_int_equal(addr_ip_parse("10.0.0.23", &t->id.client), 0);
	t->id.mac = &t->mac;
	return t;
}

/* Free what pt_new made. */
static void
pt_free(struct pt *t)
{
	portal_stop(&t->g);
	free(t);
}

/* GET target from mac at the gate: the answer (NUL-terminated) and its
 * status. */
static unsigned
pt_get(struct pt *t, const char *target, const struct wk_mac *mac,
    char *out, size_t size)
{
	struct portal_req pr;
	struct reply_ctx rc = { .now_s = 1700000000 };
	unsigned status = 0;
	const char *why = NULL;
	size_t n;

	memset(&pr, 0, sizeof(pr));
	snprintf(pr.target, sizeof(pr.target), "%s", target);
	pr.get = true;
	pr.have_mac = mac != NULL;
	if (mac != NULL)
		pr.mac = *mac;
	pr.client = t->id.client;
	snprintf(pr.gate_host, sizeof(pr.gate_host), GATE_HOST);
	n = portal_answer(&t->g, &pr, NULL, 0, &rc, out, size - 1, &status, &why);
	out[n] = '\0';
	return n > 0 ? status : 0;
}

/* The url the splash form carries (the hidden field's value). */
static const char *
form_url(const char *page, char *buf, size_t size)
{
	const char *p = strstr(page, "name=\"url\" value=\"");
	const char *e;

	assert_non_null(p);
	p += strlen("name=\"url\" value=\"");
	e = strchr(p, '"');
	assert_non_null(e);
	snprintf(buf, size, "%.*s", (int)(e - p), p);
	return buf;
}

/* The built-in splash link carries the wanted URL with a return token;
 * following it gives a form bound to that URL. */
static void
test_link_roundtrip(void **state)
{
	struct pt *t = pt_new("");
	char link[4096], *out = malloc(ANSWER), u[4096];
	const char *target;

	(void)state;
	assert_int_equal(portal_link(&t->g, &t->id, WANT, GATE_HOST, link,
	    sizeof(link)), 0);
	assert_true(strncmp(link, "http://" GATE_HOST "/wicket/?url=" WANT_ENC
	    "&ts=", strlen("http://" GATE_HOST "/wicket/?url=" WANT_ENC "&ts=")) == 0);
	assert_non_null(strstr(link, "&sig="));
	target = link + strlen("http://" GATE_HOST);
	assert_int_equal(pt_get(t, target, &t->mac, out, ANSWER), 200);
	assert_string_equal(form_url(out, u, sizeof(u)),
	    "http://10.98.0.2/news?id=1&amp;lang=en");
	/* The same link from another device: its MAC is not the signed one. */
	assert_int_equal(pt_get(t, target, &t->other, out, ANSWER), 200);
	assert_string_equal(form_url(out, u, sizeof(u)), "");
	free(out);
	pt_free(t);
}

/* A URL the gate did not sign is dropped: the splash still works, and the
 * accept will end on a neutral page instead of redirecting anywhere. */
static void
test_splash_open_redirect(void **state)
{
	static const char *const targets[] = {
		"/wicket/?url=https%3A%2F%2Fevil.example%2F",
		"/wicket/?url=https%3A%2F%2Fevil.example%2F&ts=1700000000&sig="
		    "0000000000000000000000000000000000000000000000000000000000000000",
		"/?url=https%3A%2F%2Fevil.example%2F&ts=1&sig=x",
		"/wicket/?url=a&url=b",
		"/wicket/",
	};
	struct pt *t = pt_new("");
	char link[4096], forged[4096], *out = malloc(ANSWER), u[4096];
	char *p;

	(void)state;
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (pt_get(t, targets[i], &t->mac, out, ANSWER) != 200)
			fail_msg("splash %s: not 200", targets[i]);
		if (strcmp(form_url(out, u, sizeof(u)), "") != 0)
			fail_msg("splash %s kept url %s", targets[i], u);
		assert_null(strstr(out, "evil"));
	}
	/* A genuine token with the url swapped for another one. */
	assert_int_equal(portal_link(&t->g, &t->id, WANT, GATE_HOST, link,
	    sizeof(link)), 0);
	p = strstr(link, "&ts=");
	assert_non_null(p);
	snprintf(forged, sizeof(forged), "/wicket/?url=https%%3A%%2F%%2Fevil.example%%2F%s", p);
	assert_int_equal(pt_get(t, forged, &t->mac, out, ANSWER), 200);
	assert_string_equal(form_url(out, u, sizeof(u)), "");
	free(out);
	pt_free(t);
}

/* The link is never empty: a URL too long for the token, a URL whose
 * encoding does not fit the buffer, no MAC, or a URL that is not http(s)
 * gives the bare splash link (an empty one would reload the 511 forever). */
static void
test_link_fallbacks(void **state)
{
	struct pt *t = pt_new("");
	char link[4096], *want = malloc(TOKEN_URL_MAX + 2);
	struct policy_in nomac;

	(void)state;
	memcpy(want, "http://x/", 9);
	memset(want + 9, 'a', TOKEN_URL_MAX + 1 - 9);
	want[TOKEN_URL_MAX + 1] = '\0';
	assert_int_equal(portal_link(&t->g, &t->id, want, GATE_HOST, link,
	    sizeof(link)), 0);
	assert_string_equal(link, "http://" GATE_HOST "/wicket/");
	/* 2000 bytes that each encode to 3: fits the token, not the link. */
	memset(want + 9, '/', 2000 - 9);
	want[2000] = '\0';
	assert_int_equal(portal_link(&t->g, &t->id, want, GATE_HOST, link,
	    sizeof(link)), 0);
	assert_string_equal(link, "http://" GATE_HOST "/wicket/");
	nomac = t->id;
	nomac.mac = NULL;
	assert_int_equal(portal_link(&t->g, &nomac, WANT, GATE_HOST, link,
	    sizeof(link)), 0);
	assert_string_equal(link, "http://" GATE_HOST "/wicket/");
	assert_int_equal(portal_link(&t->g, &t->id, "", GATE_HOST, link,
	    sizeof(link)), 0);
	assert_string_equal(link, "http://" GATE_HOST "/wicket/");
	free(want);
	pt_free(t);
}

/* With an external login server a URL that does not fit leaves the link
 * without it, never empty. */
static void
test_link_external_fallback(void **state)
{
	struct pt *t = pt_new("portal_url http://portal.example/login\n"
	    "gateway_id gate-1\n");
	char link[4096], *want = malloc(2001);

	(void)state;
	assert_int_equal(portal_link(&t->g, &t->id, WANT, GATE_HOST, link,
	    sizeof(link)), 0);
	assert_non_null(strstr(link, "&url=" WANT_ENC "&"));
	memcpy(want, "http://x/", 9);
	memset(want + 9, '/', 2000 - 9);
	want[2000] = '\0';
	assert_int_equal(portal_link(&t->g, &t->id, want, GATE_HOST, link,
	    sizeof(link)), 0);
	assert_true(strncmp(link, "http://portal.example/login?ip=10.0.0.23&url=&ts=",
	    strlen("http://portal.example/login?ip=10.0.0.23&url=&ts=")) == 0);
	assert_non_null(strstr(link, "&gw=gate-1&mac=02:00:5e:10:00:01"));
	free(want);
	pt_free(t);
}

/* A portal_url of 990 '&' (5 KiB once escaped): every 511 and probe 302
 * still builds in txn.c's buffers; a wanted URL that would push the
 * escaped link past the page is left out, never the page. */
static void
test_link_ampersand_portal_url(void **state)
{
	char conf[1200], purl[1100], link[4096], buf[16384], *want = malloc(1600);
	struct reply_ctx rc = { .now_s = 1795000000 };
	struct pt *t;

	(void)state;
	snprintf(purl, sizeof(purl), "http://portal.example/login?");
	memset(purl + strlen(purl), '&', 990);
	purl[28 + 990] = '\0';
	snprintf(conf, sizeof(conf), "portal_url %s\ngateway_id gate-1\n", purl);
	t = pt_new(conf);
	memcpy(want, "http://x/", 9);
	memset(want + 9, 'a', 1500 - 9);
	want[1500] = '\0';
	for (int i = 0; i < 2; i++) {
		const char *w = i == 0 ? WANT : want;
		assert_int_equal(portal_link(&t->g, &t->id, w, GATE_HOST, link,
		    sizeof(link)), 0);
		assert_int_equal(strncmp(link, purl, strlen(purl)), 0);
		assert_true(reply_511(buf, sizeof(buf), &rc, link) > 0);
		assert_true(reply_302(buf, sizeof(buf), &rc, 302, link) > 0);
		if (i == 0)
			assert_non_null(strstr(link, "&url=" WANT_ENC "&"));
		else
			assert_non_null(strstr(link, "&url=&"));
	}
	free(want);
	pt_free(t);
}

/* Large terms: 32 KiB of the worst characters are rendered without a
 * stack copy and the splash carries all of them (the answer buffer is
 * sized by portal_answer_size); a larger or missing file is refused by the
 * check start-up, reload and `-n` share. */
static void
test_terms_limits(void **state)
{
	char path[] = "/tmp/test_portal_termsXXXXXX", *text, *html, *out;
	char conf[256];
	struct conf_errors errs;
	struct wk_conf c;
	struct pt *t;
	size_t n, big = PORTAL_TERMS_MAX;
	int fd;

	(void)state;
	text = malloc(big + 1);
	html = malloc(6 * big + 1024);
	for (size_t i = 0; i < big; i++)
		text[i] = (i % 80 == 79) ? '\n' : "<&>\"'"[i % 5];
	memcpy(text + big - 5, "\nEND\n", 5);
	n = portal_terms_html(html, 6 * big + 1024, text, big);
	assert_true(n > 4 * big && n < 6 * big + 1024);
	assert_int_equal(strncmp(html, "<p>&lt;&amp;&gt;&quot;&#39;", 27), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, big), (ssize_t)big);
	snprintf(conf, sizeof(conf), "splash_terms %s\n", path);
	t = pt_new(conf);
	assert_true(portal_answer_size(&t->g) > n);
	out = malloc(portal_answer_size(&t->g) + 1);
	assert_int_equal(pt_get(t, "/wicket/", &t->mac, out,
	    portal_answer_size(&t->g) + 1), 200);
	assert_non_null(strstr(out, " END</p>"));
	free(out);
	pt_free(t);
	/* One byte more than 32 KiB, then no file at all. */
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	conf_defaults(&c);
	snprintf(c.splash_terms, sizeof(c.splash_terms), "%s", path);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(portal_conf_check(&c, "t.conf", &errs), -1);
	assert_non_null(strstr(errs.text, "t.conf: splash_terms: "));
	assert_non_null(strstr(errs.text, "larger than 32 KiB"));
	unlink(path);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(portal_conf_check(&c, "t.conf", &errs), -1);
	assert_non_null(strstr(errs.text, "No such file"));
	free(text);
	free(html);
}

/* A template may repeat its placeholders: {{terms}} three times with
 * 30 KiB of terms that escape to 120 KiB, and {{style}} and {{url}} ten
 * times each, are all rendered (portal_answer_size follows the template),
 * not a 500 on every splash; one that could exceed 4 MiB is refused. */
static void
test_template_repeats(void **state)
{
	char tpath[] = "/tmp/test_portal_tplXXXXXX", spath[] = "/tmp/test_portal_trmXXXXXX";
	char conf[256], *text, *out;
	int tfd = mkstemp(tpath), sfd = mkstemp(spath);
	size_t big = 30 * 1024;
	struct conf_errors errs;
	struct wk_conf c;
	struct pt *t;
	FILE *fp;

	(void)state;
	assert_true(tfd >= 0 && sfd >= 0);
	fp = fdopen(tfd, "w");
	assert_non_null(fp);
	fputs("<html>{{terms}}<hr>{{terms}}<hr>{{terms}}{{form}}", fp);
	for (int i = 0; i < 10; i++)
		fputs("<style>{{style}}</style><p>{{url}}</p>", fp);
	fputs("<p>TEMPLATE-END</p></html>\n", fp);
	assert_int_equal(fclose(fp), 0);
	text = malloc(big);
	memset(text, '<', big);
	assert_int_equal(write(sfd, text, big), (ssize_t)big);
	close(sfd);
	snprintf(conf, sizeof(conf), "splash_template %s\nsplash_terms %s\n", tpath, spath);
	t = pt_new(conf);
	out = malloc(portal_answer_size(&t->g) + 1);
	assert_int_equal(pt_get(t, "/wicket/", &t->mac, out,
	    portal_answer_size(&t->g) + 1), 200);
	assert_non_null(strstr(out, "TEMPLATE-END"));
	assert_true(strlen(out) > 3 * 4 * big);
	free(out);
	pt_free(t);
	/* 40 times {{terms}}: a splash over 4 MiB, refused by the check that
	 * start-up, reload and -n share, naming the key. */
	fp = fopen(tpath, "w");
	assert_non_null(fp);
	for (int i = 0; i < 40; i++)
		fputs("{{terms}}", fp);
	fputs("{{form}}", fp);
	assert_int_equal(fclose(fp), 0);
	conf_defaults(&c);
	snprintf(c.splash_template, sizeof(c.splash_template), "%s", tpath);
	snprintf(c.splash_terms, sizeof(c.splash_terms), "%s", spath);
	memset(&errs, 0, sizeof(errs));
	assert_int_equal(portal_conf_check(&c, "t.conf", &errs), -1);
	assert_non_null(strstr(errs.text, "t.conf: splash_template: a splash could be "));
	free(text);
	unlink(tpath);
	unlink(spath);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_url_ok),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_link_roundtrip),
		cmocka_unit_test(test_splash_open_redirect),
		cmocka_unit_test(test_link_fallbacks),
		cmocka_unit_test(test_link_external_fallback),
		cmocka_unit_test(test_link_ampersand_portal_url),
		cmocka_unit_test(test_terms_limits),
		cmocka_unit_test(test_template_repeats),
	};
	return cmocka_run_group_tests_name("portal", tests, NULL, NULL);
}
