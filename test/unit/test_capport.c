/* test_capport: the RFC 8908 API's pure parts -- Accept as a media-range
 * list with q-values and wildcards (RFC 9110 §12.5.1), the JSON object in
 * each state, and the complete answers (200, 400, 405, 406, HEAD). Also
 * session_remaining, which feeds seconds-remaining and bytes-remaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capport.h"
#include "session.h"

/* One Accept value and the verdict it must get. */
struct accept_case {
	const char *value;
	int want;
};

static const struct accept_case accept_cases[] = {
	{ "application/captive+json", CAPPORT_ACCEPT_YES },
	{ "Application/Captive+JSON", CAPPORT_ACCEPT_YES },
	{ "*/*", CAPPORT_ACCEPT_YES },
	{ "application/*", CAPPORT_ACCEPT_YES },
	{ "", CAPPORT_ACCEPT_YES },                      /* an empty list */
	{ " , ,", CAPPORT_ACCEPT_YES },                  /* only empty elements */
	{ "text/html, application/captive+json;q=0.5", CAPPORT_ACCEPT_YES },
	{ "text/html,*/*;q=0.8", CAPPORT_ACCEPT_YES },
	{ "application/captive+json ; q=1.000", CAPPORT_ACCEPT_YES },
	{ "application/captive+json;charset=utf-8", CAPPORT_ACCEPT_YES },
	{ "application/captive+json;charset=\"UTF-8\"", CAPPORT_ACCEPT_YES },
	{ "application/captive+json;q=0.1;ext=1", CAPPORT_ACCEPT_YES },
	{ "text/html", CAPPORT_ACCEPT_NO },
	{ "application/json", CAPPORT_ACCEPT_NO },      /* not our type */
	{ "application/captive+json;q=0", CAPPORT_ACCEPT_NO },
	{ "application/captive+json;q=0.000", CAPPORT_ACCEPT_NO },
	/* the most specific range decides, whatever the wildcard says */
	{ "application/captive+json;q=0, */*", CAPPORT_ACCEPT_NO },
	{ "*/*;q=0, application/captive+json", CAPPORT_ACCEPT_YES },
	{ "application/*;q=0, */*;q=1", CAPPORT_ACCEPT_NO },
	{ "application/*;q=0, application/captive+json;q=0.2", CAPPORT_ACCEPT_YES },
	{ "application/captive+json;version=2", CAPPORT_ACCEPT_NO }, /* a representation we lack */
	{ "application/captive+json;charset=latin1", CAPPORT_ACCEPT_NO },
	{ "*/*;q=0", CAPPORT_ACCEPT_NO },
	/* malformed */
	{ "application", CAPPORT_ACCEPT_BAD },
	{ "application/", CAPPORT_ACCEPT_BAD },
	{ "/json", CAPPORT_ACCEPT_BAD },
	{ "*/json", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;q=2", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;q=1.5", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;q=0.1234", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;q=", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;q", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;charset=\"utf-8", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json junk", CAPPORT_ACCEPT_BAD },
	{ "application/cap tive+json", CAPPORT_ACCEPT_BAD },
	{ "application/captive+json;;q=1", CAPPORT_ACCEPT_YES }, /* empty parameter */
};

/* Every row of the Accept table. */
static void
test_accept_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(accept_cases) / sizeof(accept_cases[0]); i++) {
		const struct accept_case *ac = &accept_cases[i];
		int got = capport_accept(ac->value, strlen(ac->value));
		if (got != ac->want)
			fail_msg("Accept '%s': got %d, want %d", ac->value, got, ac->want);
	}
}

/* Every proper prefix of a valid list either parses or is malformed,
 * never reads past its length (ASan checks the bound). */
static void
test_accept_prefixes(void **state)
{
	static const char v[] = "text/html;level=1;q=0.9, application/captive+json;charset=\"utf-8\";q=0.5, */*;q=0.1";

	(void)state;
	for (size_t n = 0; n <= sizeof(v) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, v, n);
		int got = capport_accept(copy, n);
		assert_true(got == CAPPORT_ACCEPT_YES || got == CAPPORT_ACCEPT_NO ||
		    got == CAPPORT_ACCEPT_BAD);
		free(copy);
	}
	assert_int_equal(capport_accept(v, sizeof(v) - 1), CAPPORT_ACCEPT_YES);
}

/* Accept lines in a request head: none means anything, several combine
 * into one list, other fields (Accept-Language) are not Accept. */
static void
test_accept_head(void **state)
{
	(void)state;
#define H(s) capport_accept_head(s, sizeof(s) - 1)
	assert_int_equal(H("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), CAPPORT_ACCEPT_YES);
	assert_int_equal(H("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n"),
	    CAPPORT_ACCEPT_NO);
	assert_int_equal(H("GET / HTTP/1.1\r\nAccept: text/html\r\n"
	    "ACCEPT:   application/captive+json  \r\n\r\n"), CAPPORT_ACCEPT_YES);
	assert_int_equal(H("GET / HTTP/1.1\r\nAccept-Language: en\r\n\r\n"), CAPPORT_ACCEPT_YES);
	assert_int_equal(H("GET / HTTP/1.1\r\nAccept: a/b;q=9\r\n\r\n"), CAPPORT_ACCEPT_BAD);
	assert_int_equal(H("GET / HTTP/1.1\r\nAccept:\r\n\r\n"), CAPPORT_ACCEPT_YES);
	/* a body after the head is not read as fields */
	assert_int_equal(H("POST / HTTP/1.1\r\nHost: x\r\n\r\nAccept: text/html\r\n"),
	    CAPPORT_ACCEPT_YES);
#undef H
}

/* The JSON object in each state, byte for byte (RFC 8908 §5). */
static void
test_json_states(void **state)
{
	char out[CAPPORT_BODY_MAX + 1];
	struct capport_state st = { .captive = true,
		.user_portal_url = "https://portal.example/wicket/",
		.venue_info_url = "https://cafe.example/" };
	size_t n;

	(void)state;
	n = capport_json(out, sizeof(out), &st);
	assert_string_equal(out, "{\"captive\":true,\"user-portal-url\":"
	    "\"https://portal.example/wicket/\",\"venue-info-url\":\"https://cafe.example/\"}\n");
	assert_int_equal(n, strlen(out));

	/* admitted, limited, extendable: the remaining figures and the portal */
	st.captive = false;
	st.can_extend = true;
	st.have_seconds = true;
	st.seconds_remaining = 3599;
	st.have_bytes = true;
	st.bytes_remaining = 1048576;
	capport_json(out, sizeof(out), &st);
	assert_string_equal(out, "{\"captive\":false,\"user-portal-url\":"
	    "\"https://portal.example/wicket/\",\"venue-info-url\":\"https://cafe.example/\","
	    "\"can-extend-session\":true,\"seconds-remaining\":3599,\"bytes-remaining\":1048576}\n");

	/* admitted without limits and without extension: no portal URL */
	st.can_extend = false;
	st.have_seconds = st.have_bytes = false;
	st.venue_info_url = "";
	capport_json(out, sizeof(out), &st);
	assert_string_equal(out, "{\"captive\":false,\"can-extend-session\":false}\n");

	/* can_extend without a portal URL cannot be true */
	st.can_extend = true;
	st.user_portal_url = NULL;
	capport_json(out, sizeof(out), &st);
	assert_string_equal(out, "{\"captive\":false,\"can-extend-session\":false}\n");
}

/* The body never exceeds CAPPORT_BODY_MAX, whatever the URLs. */
static void
test_json_bounded(void **state)
{
	static char longurl[5000], out[8192];
	struct capport_state st = { .captive = true, .user_portal_url = longurl };

	(void)state;
	memset(longurl, 'a', sizeof(longurl) - 1);
	memcpy(longurl, "https://", 8);
	assert_int_equal(capport_json(out, sizeof(out), &st), 0);
	longurl[4000] = '\0';
	assert_true(capport_json(out, sizeof(out), &st) > 4000);
	assert_true(capport_json(out, sizeof(out), &st) <= CAPPORT_BODY_MAX);
}

/* The complete answers: 200 with the media type and private caching,
 * HEAD without a body, 405 with Allow, 406, 400. */
static void
test_answers(void **state)
{
	char out[8192];
	struct reply_ctx rc = { .now_s = 1795000000 };
	struct capport_state st = { .captive = true, .user_portal_url = "https://p.example/" };
	struct capport_req rq = { .get = true, .path = CAPPORT_PATH,
		.path_len = strlen(CAPPORT_PATH), .accept = CAPPORT_ACCEPT_YES };
	unsigned status = 0;
	const char *why;
	size_t n;
	static const char body[] = "{\"captive\":true,\"user-portal-url\":\"https://p.example/\"}\n";
	char want[1024];

	(void)state;
	n = capport_answer(out, sizeof(out), &rc, &rq, &st, &status, &why);
	snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\nDate: Wed, 18 Nov 2026 11:06:40 GMT\r\n"
	    "Content-Type: application/captive+json\r\nCache-Control: private, no-store\r\n"
	    "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n%s", sizeof(body) - 1, body);
	assert_int_equal(status, 200);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);

	rq.get = false;
	rq.head = rc.head = true;
	n = capport_answer(out, sizeof(out), &rc, &rq, &st, &status, &why);
	assert_int_equal(status, 200);
	assert_int_equal(n, strlen(want) - (sizeof(body) - 1));

	rq.head = rc.head = false;
	n = capport_answer(out, sizeof(out), &rc, &rq, &st, &status, &why);
	out[n] = '\0';
	assert_int_equal(status, 405);
	assert_non_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
	assert_non_null(strstr(out, "\r\nCache-Control: private, no-store\r\n"));

	rq.get = true;
	rq.accept = CAPPORT_ACCEPT_NO;
	n = capport_answer(out, sizeof(out), &rc, &rq, &st, &status, &why);
	out[n] = '\0';
	assert_int_equal(status, 406);
	assert_null(strstr(out, "captive\":"));

	rq.accept = CAPPORT_ACCEPT_BAD;
	capport_answer(out, sizeof(out), &rc, &rq, &st, &status, &why);
	assert_int_equal(status, 400);

	/* too small a buffer: 0, never a cut answer */
	rq.accept = CAPPORT_ACCEPT_YES;
	assert_int_equal(capport_answer(out, 100, &rc, &rq, &st, &status, &why), 0);
}

/* The API path matches exactly (no prefix, no trailing slash). */
static void
test_path(void **state)
{
	(void)state;
	assert_true(capport_is_path(CAPPORT_PATH, strlen(CAPPORT_PATH)));
	assert_false(capport_is_path(CAPPORT_PATH "/", strlen(CAPPORT_PATH) + 1));
	assert_false(capport_is_path("/wicket/", 8));
	assert_false(capport_is_path("", 0));
}

/* session_remaining: seconds to the hard end and bytes to the quota, by
 * the rule that admits; nothing once the session stops admitting. */
static void
test_session_remaining(void **state)
{
	struct session_conf sc = { .timeout = 600, .bytes = 1000, .keep_ended = 60,
		.capacity = 16, .seed = 1 };
	struct session_table *tab = session_table_create(&sc);
	struct wk_mac m = { { 0x02, 0, 0, 0, 0, 1 } };
	uint64_t secs, bytes;
	enum session_source src;

	(void)state;
	assert_non_null(tab);
	assert_false(session_remaining(tab, &m, 1000, &secs, &bytes, &src));
	assert_non_null(session_grant(tab, &m, 1000, 0, SESSION_SRC_SPLASH));
	assert_true(session_remaining(tab, &m, 1100, &secs, &bytes, &src));
	assert_int_equal(secs, 500);
	assert_int_equal(bytes, 1000);
	assert_int_equal(src, SESSION_SRC_SPLASH);
	assert_int_equal(session_account(tab, &m, 400, 1100), 0);
	assert_true(session_remaining(tab, &m, 1100, &secs, &bytes, &src));
	assert_int_equal(bytes, 600);
	assert_false(session_remaining(tab, &m, 1600, &secs, &bytes, &src)); /* expired */
	assert_non_null(session_grant(tab, &m, 2000, SESSION_FOREVER, SESSION_SRC_CTL));
	assert_true(session_remaining(tab, &m, 2000, &secs, &bytes, &src));
	assert_true(secs == SESSION_FOREVER);
	assert_int_equal(session_account(tab, &m, 1000, 2001), 0);
	assert_false(session_remaining(tab, &m, 2001, &secs, &bytes, &src)); /* quota */
	/* a per-session quota (RADIUS) counts instead of session_bytes */
	assert_non_null(session_grant(tab, &m, 3000, 600, SESSION_SRC_CTL));
	assert_int_equal(session_set_limits(tab, &m, 3600, 0, 5000), 0);
	assert_int_equal(session_account(tab, &m, 1500, 3001), 0);
	assert_true(session_remaining(tab, &m, 3001, &secs, &bytes, &src));
	assert_int_equal(bytes, 3500);
	session_table_free(tab);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_table),
		cmocka_unit_test(test_accept_prefixes),
		cmocka_unit_test(test_accept_head),
		cmocka_unit_test(test_json_states),
		cmocka_unit_test(test_json_bounded),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_session_remaining),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
