/* test_store: cmocka tables for proxy/store.c -- record encode/decode and
 * the documented example lines, every single-byte corruption caught, file
 * round trip, torn tail, corrupt middle line, expiry at restore, compaction. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define T0 1700000000ULL

/* The store's view of a fixture at wall time t, session clock = wall. */
#define SS(fx, t) (&(struct store_state){ (fx)->tab, (fx)->nc, NULL, (t), 0 })
#define SSX(fx, t, x) (&(struct store_state){ (fx)->tab, (fx)->nc, (x), (t), 0 })

/* The example lines of docs/grants.md (CRC-32 computed with zlib). */
#define EX_HEADER "H wicket-store 1 *f63d701a"
#define EX_SESSION "S 02:00:5e:10:00:01 admitted signed none 1700000000 " \
	"1700003600 1700000000 0 0 *6dd69751"
#define EX_NONCE "N n0nce-Example_01 1700003600 *125dd968"
#define EX_REVOKED "S 02:00:5e:10:00:01 revoked signed revoked 1700000000 " \
	"1700003600 1700000000 52311 1700000900 *840bea62"

/* A temporary directory and the state file in it. */
struct fixture {
	char dir[64];
	char path[96];
	struct session_table *tab;
	struct nonce_cache *nc;
};

/* Errors reported through the store callback. */
struct errs {
	unsigned n;
	unsigned long line[16];
	char msg[16][200];
};

/* Store error callback: remember line numbers and messages. */
static void
on_error(const char *path, unsigned long line, const char *msg, void *arg)
{
	struct errs *e = arg;

	assert_non_null(path);
	if (e->n < 16) {
		e->line[e->n] = line;
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	}
	e->n++;
}

/* A MAC from a number. */
static struct wk_mac
mac_n(unsigned n)
{
	struct wk_mac m = { { 0x02, 0x00, 0, (uint8_t)(n >> 16),
			      (uint8_t)(n >> 8), (uint8_t)n } };
	return m;
}

/* Fresh, empty table and nonce cache. */
static void
fx_reset(struct fixture *fx)
{
	struct session_conf c = { .timeout = 3600, .keep_ended = 60,
				  .capacity = 1024, .seed = 5 };

	session_table_free(fx->tab);
	nonce_cache_free(fx->nc);
	fx->tab = session_table_create(&c);
	fx->nc = nonce_cache_create(1024, 6);
	assert_non_null(fx->tab);
	assert_non_null(fx->nc);
}

/* Set up a temporary directory. */
static int
fx_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/wicket-store-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/state", fx->dir);
	fx_reset(fx);
	*state = fx;
	return 0;
}

/* Remove the temporary directory and everything in it. */
static int
fx_teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	char p[400];
	DIR *d = opendir(fx->dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->dir, de->d_name);
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(closedir(d), 0);
	assert_int_equal(rmdir(fx->dir), 0);
	session_table_free(fx->tab);
	nonce_cache_free(fx->nc);
	free(fx);
	return 0;
}

/* Write s as the whole content of path. */
static void
put_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(s, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Read path into buf (NUL-terminated). */
static size_t
get_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	assert_int_equal(fclose(f), 0);
	return n;
}

/* Encode one record and return the line without its newline. */
static void
encode_line(const struct store_record *r, char *out, size_t cap)
{
	int n = store_record_encode(r, out, cap);

	assert_true(n > 0);
	assert_int_equal(out[n - 1], '\n');
	out[n - 1] = '\0';
}

/* Compare two sessions field by field (struct padding is unspecified). */
static void
assert_sess_equal(const struct session *a, const struct session *b)
{
	assert_true(addr_mac_equal(&a->mac, &b->mac));
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->reason, b->reason);
	assert_int_equal(a->start, b->start);
	assert_int_equal(a->expires, b->expires);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->ended, b->ended);
	assert_int_equal(a->idle_limit, b->idle_limit);
	assert_int_equal(a->bytes_limit, b->bytes_limit);
}

/* A session record value. */
static struct session
sess(unsigned n, enum session_state st, enum session_source src,
    enum session_reason why, uint64_t start, uint64_t expires, uint64_t bytes,
    uint64_t ended)
{
	struct session s = { .mac = mac_n(n), .state = st, .source = src,
			     .reason = why, .start = start, .expires = expires,
			     .last_seen = start, .bytes = bytes, .ended = ended };
	return s;
}

/* The documented example lines are exactly what the encoder writes, and
 * decode back to the same records. */
static void
test_record_examples(void **state)
{
	struct store_record r = { .type = STORE_REC_HEADER, .version = 1 }, d;
	char line[STORE_LINE_MAX];
	const char *why;
	(void)state;

	encode_line(&r, line, sizeof(line));
	assert_string_equal(line, EX_HEADER);
	memset(&r, 0, sizeof(r));
	r.type = STORE_REC_SESSION;
	assert_int_equal(addr_mac_parse("02:00:5e:10:00:01", &r.session.mac), 0);
	r.session.source = SESSION_SRC_SIGNED;
	r.session.start = r.session.last_seen = T0;
	r.session.expires = T0 + 3600;
	encode_line(&r, line, sizeof(line));
	assert_string_equal(line, EX_SESSION);
	assert_int_equal(store_record_decode(line, strlen(line), &d, &why), 0);
	assert_sess_equal(&d.session, &r.session);
	r.session.state = SESSION_REVOKED;
	r.session.reason = SESSION_R_REVOKED;
	r.session.bytes = 52311;
	r.session.ended = T0 + 900;
	encode_line(&r, line, sizeof(line));
	assert_string_equal(line, EX_REVOKED);
	memset(&r, 0, sizeof(r));
	r.type = STORE_REC_NONCE;
	strcpy(r.nonce, "n0nce-Example_01");
	r.until = T0 + 3600;
	encode_line(&r, line, sizeof(line));
	assert_string_equal(line, EX_NONCE);
	assert_int_equal(store_record_decode(line, strlen(line), &d, &why), 0);
	assert_int_equal(d.type, STORE_REC_NONCE);
	assert_string_equal(d.nonce, "n0nce-Example_01");
	assert_int_equal(d.until, T0 + 3600);
	/* zlib's check value for "123456789". */
	assert_int_equal(store_crc32("123456789", 9), 0xcbf43926u);
}

/* Encode/decode round trip over a table of sessions. */
static void
test_record_roundtrip(void **state)
{
	const struct session t[] = {
		sess(1, SESSION_ADMITTED, SESSION_SRC_CTL, SESSION_R_NONE, 0, 0, 0, 0),
		sess(2, SESSION_ADMITTED, SESSION_SRC_SPLASH, SESSION_R_NONE, T0,
		    UINT64_MAX, UINT64_MAX, 0),
		sess(0xffffff, SESSION_EXPIRED, SESSION_SRC_SIGNED,
		    SESSION_R_IDLE, T0, T0 + 1, 17, T0 + 1),
		sess(4, SESSION_EXPIRED, SESSION_SRC_CONFIG, SESSION_R_QUOTA,
		    UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX),
		sess(5, SESSION_REVOKED, SESSION_SRC_CTL, SESSION_R_REVOKED, 1, 2,
		    3, 4),
	};
	struct session lim[3];
	char buf[STORE_LINE_MAX];
	(void)state;

	/* A session's own limits (RADIUS, CoA) round-trip in the record. */
	lim[0] = sess(6, SESSION_ADMITTED, SESSION_SRC_RADIUS, SESSION_R_NONE, T0,
	    T0 + 600, 0, 0);
	lim[0].idle_limit = 300;
	lim[1] = lim[0];
	lim[1].idle_limit = 0;
	lim[1].bytes_limit = 50000000;
	lim[2] = lim[0];
	lim[2].idle_limit = lim[2].bytes_limit = UINT64_MAX;
	for (size_t i = 0; i < 3; i++) {
		struct store_record r = { .type = STORE_REC_SESSION,
					  .session = lim[i] }, d;
		const char *why = NULL;
		int n = store_record_encode(&r, buf, sizeof(buf));
		assert_true(n > 0);
		if (store_record_decode(buf, (size_t)n - 1, &d, &why) < 0)
			fail_msg("limits case %zu: %s", i, why);
		assert_sess_equal(&d.session, &lim[i]);
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct store_record r = { .type = STORE_REC_SESSION,
					  .session = t[i] }, d;
		const char *why = NULL;
		int n = store_record_encode(&r, buf, sizeof(buf));
		assert_true(n > 0 && n < STORE_LINE_MAX);
		if (store_record_decode(buf, (size_t)n - 1, &d, &why) < 0)
			fail_msg("case %zu: %s", i, why);
		assert_int_equal(d.type, STORE_REC_SESSION);
		assert_sess_equal(&d.session, &t[i]);
		/* Too small a buffer fails cleanly. */
		assert_int_equal(store_record_encode(&r, buf, (size_t)n), -1);
	}
	{
		struct store_record r = { .type = STORE_REC_NONCE };
		strcpy(r.nonce, "bad nonce");
		assert_int_equal(store_record_encode(&r, buf, sizeof(buf)), -1);
		r.type = (enum store_rec_type)9;
		assert_int_equal(store_record_encode(&r, buf, sizeof(buf)), -1);
	}
}

/* Lines the decoder refuses, each with a reason. */
static void
test_record_decode_bad(void **state)
{
	static const struct {
		const char *line, *why;
	} t[] = {
		{ "", "no checksum" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 0", "no checksum" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 1 *6dd69751", "checksum mismatch" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 0 *6DD69751", "malformed checksum" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 0 *6dd6975", "no checksum" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 0 *6dd697511", "no checksum" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 0  *6dd69751", "checksum mismatch" },
		{ "H wicket-store 2 *", "no checksum" },
		{ "H wicket-store 1 *f63d701a\r", "control" },
		{ "X\x01 *00000000", "control" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1700000000 1700003600 "
		  "1700000000 0 0 \xe9*6dd69751", "non-ASCII" },
	};
	struct store_record d;
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *why = NULL;
		if (store_record_decode(t[i].line, strlen(t[i].line), &d, &why) == 0)
			fail_msg("case %zu accepted", i);
		if (why == NULL || strstr(why, t[i].why) == NULL)
			fail_msg("case %zu: reason '%s'", i, why ? why : "(null)");
	}
	/* Well checksummed but semantically bad bodies. */
	static const struct {
		const char *body, *why;
	} b[] = {
		{ "H wicket-store 2", "unsupported store version" },
		{ "H wicket-store", "malformed header" },
		{ "H wicket-stor 1", "malformed header" },
		{ "Q 1 2", "unknown record type" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 2 3 4", "wrong number" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 2 3 4 5 6", "wrong number" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 2 3 4 5 6 x", "bad number" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 2 3 4 5 -6 7", "bad number" },
		{ "S 02:00:5E:10:00:01 admitted signed none 1 2 3 4 5", "canonical" },
		{ "S 02:00:5e:10:00 admitted signed none 1 2 3 4 5", "bad MAC" },
		{ "S 02:00:5e:10:00:01 gone signed none 1 2 3 4 5", "bad state" },
		{ "S 02:00:5e:10:00:01 admitted web none 1 2 3 4 5", "bad state" },
		{ "S 02:00:5e:10:00:01 admitted signed none 01 2 3 4 5", "bad number" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 2 3 -4 5", "bad number" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 18446744073709551616 3 "
		  "4 5", "bad number" },
		{ "S 02:00:5e:10:00:01 admitted signed idle 1 2 3 4 5", "disagree" },
		{ "S 02:00:5e:10:00:01 revoked signed none 1 2 3 4 5", "disagree" },
		{ "S 02:00:5e:10:00:01 expired signed unknown 1 2 3 4 5", "disagree" },
		{ "S  02:00:5e:10:00:01 admitted signed none 1 2 3 4 5", "malformed fields" },
		{ "S 02:00:5e:10:00:01 admitted signed none 1 2 3 4 5 ", "malformed fields" },
		{ "N short 5", "malformed nonce" },
		{ "N n0nce-Example_01", "malformed nonce" },
		{ "N n0nce-Example_01 x", "malformed nonce" },
		{ "N a b c d e f g h i j k l m", "malformed fields" },
	};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		char line[STORE_LINE_MAX + 16];
		const char *why = NULL;
		int n = snprintf(line, sizeof(line), "%s *%08x", b[i].body,
		    (unsigned)store_crc32(b[i].body, strlen(b[i].body)));
		if (store_record_decode(line, (size_t)n, &d, &why) == 0)
			fail_msg("body case %zu accepted", i);
		if (why == NULL || strstr(why, b[i].why) == NULL)
			fail_msg("body case %zu: reason '%s'", i, why ? why : "(null)");
	}
	{
		char line[STORE_LINE_MAX + 1];
		const char *why = NULL;
		memset(line, 'x', sizeof(line));
		assert_int_equal(store_record_decode(line, STORE_LINE_MAX, &d, &why),
		    -1);
		assert_non_null(strstr(why, "too long"));
	}
}

/* Any single byte of a record changed to any other printable character is
 * detected (CRC-32 catches every single-byte error). */
static void
test_record_every_byte(void **state)
{
	static const char *const lines[] = { EX_HEADER, EX_SESSION, EX_NONCE,
					     EX_REVOKED };
	struct store_record d;
	(void)state;

	for (size_t l = 0; l < sizeof(lines) / sizeof(lines[0]); l++) {
		size_t n = strlen(lines[l]);
		char buf[STORE_LINE_MAX];
		assert_int_equal(store_record_decode(lines[l], n, &d, NULL), 0);
		for (size_t i = 0; i < n; i++)
			for (int c = 0x20; c < 0x7f; c++) {
				if (c == lines[l][i])
					continue;
				memcpy(buf, lines[l], n);
				buf[i] = (char)c;
				if (store_record_decode(buf, n, &d, NULL) == 0)
					fail_msg("line %zu byte %zu -> %c accepted",
					    l, i, c);
			}
		/* And every truncation. */
		for (size_t cut = 0; cut < n; cut++)
			if (store_record_decode(lines[l], cut, &d, NULL) == 0)
				fail_msg("line %zu cut at %zu accepted", l, cut);
	}
}

/* Grants journaled (with fsync) are all back after a "crash" (no close,
 * no compaction), and the nonces with them. */
static void
test_file_roundtrip(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct errs e = { 0 };
	struct store *st;
	char nonce[32];
	(void)state;

	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, &e,
	    &stats, &st), 0);
	assert_int_equal(stats.lines, 0);
	assert_int_equal(e.n, 0);
	for (unsigned i = 1; i <= 200; i++) {
		struct wk_mac m = mac_n(i);
		const struct session *s = session_grant(fx->tab, &m, T0, 600 + i,
		    i % 2 ? SESSION_SRC_SIGNED : SESSION_SRC_SPLASH);
		assert_non_null(s);
		if (i % 2) {
			snprintf(nonce, sizeof(nonce), "nonce-%05u", i);
			assert_int_equal(nonce_use(fx->nc, nonce, T0 + 600 + i, T0),
			    NONCE_OK);
			assert_int_equal(store_append_grant(st, SS(fx, T0), s, nonce,
			    T0 + 600 + i), 0);
		} else {
			assert_int_equal(store_append_grant(st, SS(fx, T0), s, NULL, 0), 0);
		}
	}
	{
		struct wk_mac m = mac_n(7);
		assert_int_equal(session_account(fx->tab, &m, 4242, T0 + 5), 0);
		assert_int_equal(store_append_session(st, SS(fx, T0), session_find(fx->tab, &m),
		    false), 0);
		assert_int_equal(store_sync(st), 0);
		assert_int_equal(store_append_nonce(st, "extra-nonce", T0 + 50,
		    true), 0);
	}
	assert_int_equal(store_journal_records(st), 1 + 300 + 2);
	store_close(st); /* the same as kill -9: every record was fsync'd */

	fx_reset(fx);
	assert_int_equal(store_load(fx->path, SS(fx, T0 + 10),
	    on_error, &e, &stats), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stats.lines, 303);
	assert_int_equal(stats.sessions, 200);
	assert_int_equal(stats.nonces, 101);
	assert_int_equal(session_count_admitted(fx->tab), 200);
	for (unsigned i = 1; i <= 200; i++) {
		struct wk_mac m = mac_n(i);
		const struct session *s = session_find(fx->tab, &m);
		assert_non_null(s);
		assert_int_equal(s->expires, T0 + 600 + i);
		assert_int_equal(s->start, T0);
		assert_int_equal(s->last_seen, T0 + 10);
		assert_int_equal(s->source, i % 2 ? SESSION_SRC_SIGNED
						  : SESSION_SRC_SPLASH);
		assert_int_equal(s->bytes, i == 7 ? 4242 : 0);
		if (i % 2) {
			snprintf(nonce, sizeof(nonce), "nonce-%05u", i);
			assert_int_equal(nonce_use(fx->nc, nonce, T0 + 600 + i,
			    T0 + 10), NONCE_REPLAY);
		}
	}
	assert_true(nonce_seen(fx->nc, "extra-nonce", T0 + 10));
}

/* A torn last line is reported with its number and ignored; a tail that
 * lost only its newline is kept; the good records all survive. */
static void
test_truncated_tail(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct errs e = { 0 };
	char content[1024];
	(void)state;

	/* Cut in the middle of the third record. */
	snprintf(content, sizeof(content), "%s\n%s\n%.*s", EX_HEADER, EX_SESSION,
	    20, EX_NONCE);
	put_file(fx->path, content);
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.line[0], 3);
	assert_non_null(strstr(e.msg[0], "truncated"));
	assert_int_equal(stats.sessions, 1);
	assert_int_equal(stats.nonces, 0);
	assert_int_equal(stats.errors, 1);

	/* Only the newline missing: the record is whole and kept. */
	fx_reset(fx);
	memset(&e, 0, sizeof(e));
	snprintf(content, sizeof(content), "%s\n%s\n%s", EX_HEADER, EX_SESSION,
	    EX_NONCE);
	put_file(fx->path, content);
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stats.nonces, 1);

	/* Every possible cut of a two-record file: never an abort, the first
	 * record kept once it is whole, at most one error. */
	snprintf(content, sizeof(content), "%s\n%s\n", EX_SESSION, EX_NONCE);
	for (size_t cut = 0; cut <= strlen(content); cut++) {
		char part[1024];
		fx_reset(fx);
		memset(&e, 0, sizeof(e));
		memcpy(part, content, cut);
		part[cut] = '\0';
		put_file(fx->path, part);
		assert_int_equal(store_load(fx->path, SS(fx, T0),
		    on_error, &e, &stats), 0);
		assert_true(e.n <= 1);
		assert_int_equal(stats.sessions, cut >= strlen(EX_SESSION) ? 1 : 0);
		assert_int_equal(stats.nonces, cut >= strlen(content) - 1 ? 1 : 0);
	}
}

/* A corrupt line in the middle is reported (line number, reason); the
 * records before and after it are kept. */
static void
test_corrupt_middle(void **state)
{
	struct fixture *fx = *state;
	struct store_record r = { .type = STORE_REC_SESSION };
	struct store_stats stats;
	struct errs e = { 0 };
	char content[4096] = "", line[STORE_LINE_MAX];
	(void)state;

	strcat(content, EX_HEADER "\n");
	for (unsigned i = 1; i <= 5; i++) {
		r.session = sess(i, SESSION_ADMITTED, SESSION_SRC_CTL,
		    SESSION_R_NONE, T0, T0 + 100, 0, 0);
		assert_true(store_record_encode(&r, line, sizeof(line)) > 0);
		if (i == 3) {
			char *crc = strrchr(line, '*');
			crc[1] = crc[1] == '0' ? '1' : '0'; /* corrupt checksum */
		}
		if (i == 4)
			line[2] = line[2] == '0' ? '1' : '0'; /* corrupt body */
		strcat(content, line);
	}
	strcat(content, "garbage that is not a record\n\n");
	strcat(content, EX_NONCE "\n");
	put_file(fx->path, content);
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(e.n, 4);
	assert_int_equal(e.line[0], 4);
	assert_non_null(strstr(e.msg[0], "checksum mismatch"));
	assert_int_equal(e.line[1], 5);
	assert_non_null(strstr(e.msg[1], "checksum mismatch"));
	assert_int_equal(e.line[2], 7);
	assert_non_null(strstr(e.msg[2], "no checksum"));
	assert_int_equal(e.line[3], 8);
	assert_int_equal(stats.lines, 9);
	assert_int_equal(stats.sessions, 3);
	assert_int_equal(stats.nonces, 1);
	for (unsigned i = 1; i <= 5; i++) {
		struct wk_mac m = mac_n(i);
		assert_int_equal(session_find(fx->tab, &m) != NULL,
		    i != 3 && i != 4);
	}
}

/* Restore drops what has ended: expired grants and nonces, sessions
 * revoked or expired by a later record, config allowances; a grant after a
 * revoke brings the MAC back. */
static void
test_restore_drops(void **state)
{
	struct fixture *fx = *state;
	const struct session recs[] = {
		/* 1: expires exactly at restore time: dropped */
		sess(1, SESSION_ADMITTED, SESSION_SRC_CTL, SESSION_R_NONE, T0 - 100,
		    T0, 0, 0),
		/* 2: one second left: kept */
		sess(2, SESSION_ADMITTED, SESSION_SRC_CTL, SESSION_R_NONE, T0 - 100,
		    T0 + 1, 0, 0),
		/* 3: granted then revoked: dropped */
		sess(3, SESSION_ADMITTED, SESSION_SRC_SPLASH, SESSION_R_NONE, T0 - 9,
		    T0 + 100, 0, 0),
		sess(3, SESSION_REVOKED, SESSION_SRC_SPLASH, SESSION_R_REVOKED,
		    T0 - 9, T0 + 100, 0, T0 - 5),
		/* 4: revoked then granted again: kept */
		sess(4, SESSION_REVOKED, SESSION_SRC_CTL, SESSION_R_REVOKED, T0 - 9,
		    T0 + 100, 0, T0 - 5),
		sess(4, SESSION_ADMITTED, SESSION_SRC_SIGNED, SESSION_R_NONE, T0 - 4,
		    T0 + 200, 0, 0),
		/* 5: quota ended: dropped */
		sess(5, SESSION_ADMITTED, SESSION_SRC_CTL, SESSION_R_NONE, T0 - 9,
		    T0 + 100, 0, 0),
		sess(5, SESSION_EXPIRED, SESSION_SRC_CTL, SESSION_R_QUOTA, T0 - 9,
		    T0 + 100, 999, T0 - 1),
		/* 6: config allowance: the config re-creates it, not the store */
		sess(6, SESSION_ADMITTED, SESSION_SRC_CONFIG, SESSION_R_NONE, T0 - 9,
		    SESSION_FOREVER, 0, 0),
		/* 7: no hard end: kept */
		sess(7, SESSION_ADMITTED, SESSION_SRC_CTL, SESSION_R_NONE, T0 - 9,
		    SESSION_FOREVER, 0, 0),
	};
	static const struct {
		const char *nonce;
		uint64_t until;
	} nonces[] = {
		{ "nonce-expired", T0 },
		{ "nonce-live-1", T0 + 1 },
		{ "nonce-live-1", T0 + 1 }, /* duplicate: harmless */
		{ "nonce-expired-2", T0 - 50 },
	};
	struct store_stats stats;
	struct errs e = { 0 };
	struct store *st;
	char content[4096] = "", line[STORE_LINE_MAX];
	(void)state;

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		struct store_record r = { .type = STORE_REC_SESSION,
					  .session = recs[i] };
		assert_true(store_record_encode(&r, line, sizeof(line)) > 0);
		strcat(content, line);
	}
	for (size_t i = 0; i < sizeof(nonces) / sizeof(nonces[0]); i++) {
		struct store_record r = { .type = STORE_REC_NONCE,
					  .until = nonces[i].until };
		strcpy(r.nonce, nonces[i].nonce);
		assert_true(store_record_encode(&r, line, sizeof(line)) > 0);
		strcat(content, line);
	}
	put_file(fx->path, content);
	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, &e,
	    &stats, &st), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stats.sessions, 3);
	assert_int_equal(stats.nonces, 1);
	for (unsigned i = 1; i <= 7; i++) {
		struct wk_mac m = mac_n(i);
		bool want = i == 2 || i == 4 || i == 7;
		if ((session_find(fx->tab, &m) != NULL) != want)
			fail_msg("MAC %u restored wrongly", i);
	}
	assert_int_equal(session_find(fx->tab, &(struct wk_mac){ { 0x02, 0, 0, 0,
	    0, 4 } })->source, SESSION_SRC_SIGNED);
	assert_true(nonce_seen(fx->nc, "nonce-live-1", T0));
	assert_false(nonce_seen(fx->nc, "nonce-expired", T0 - 1));
	/* store_open compacted: the file now holds exactly the live state. */
	assert_int_equal(store_journal_records(st), 1 + 3 + 1);
	store_close(st);
	fx_reset(fx);
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(stats.lines, 5);
	assert_int_equal(stats.sessions, 3);
	assert_int_equal(stats.dropped, 0);
}

/* Compaction: the snapshot holds only live state, replaces the file by
 * rename (mode 0600, no .tmp left), and the journal continues after it. */
static void
test_compaction(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct errs e = { 0 };
	struct store *st;
	struct stat sb;
	char buf[65536], tmp[128];
	(void)state;

	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, &e,
	    &stats, &st), 0);
	for (unsigned round = 0; round < 10; round++)
		for (unsigned i = 1; i <= 150; i++) {
			struct wk_mac m = mac_n(i);
			const struct session *s = session_grant(fx->tab, &m,
			    T0 + round, i <= 100 ? 1000 : 5, SESSION_SRC_CTL);
			assert_non_null(s);
			assert_int_equal(store_append_session(st, SS(fx, T0), s, false), 0);
		}
	assert_int_equal(store_sync(st), 0);
	{
		struct wk_mac m = mac_n(1);
		assert_int_equal(session_revoke(fx->tab, &m, T0 + 11), 0);
		assert_int_equal(store_append_session(st, SS(fx, T0), session_find(fx->tab, &m),
		    true), 0);
	}
	assert_int_equal(nonce_use(fx->nc, "compact-nonce", T0 + 500, T0), NONCE_OK);
	assert_int_equal(store_append_nonce(st, "compact-nonce", T0 + 500, true),
	    0);
	assert_int_equal(nonce_use(fx->nc, "short-nonce", T0 + 12, T0), NONCE_OK);
	assert_int_equal(store_append_nonce(st, "short-nonce", T0 + 12, true), 0);
	assert_int_equal(store_journal_records(st), 1 + 1500 + 3);
	assert_true(store_should_compact(st, 150));
	/* At T0+20: MACs 101..150 (5 s grants) and short-nonce have ended. */
	assert_int_equal(store_compact(st, SS(fx, T0 + 20)), 0);
	assert_int_equal(store_journal_records(st), 1 + 99 + 1);
	assert_false(store_should_compact(st, 100));
	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	get_file(fx->path, buf, sizeof(buf));
	assert_memory_equal(buf, EX_HEADER "\n", strlen(EX_HEADER) + 1);
	/* Append after compaction goes to the new file. */
	{
		struct wk_mac m = mac_n(500);
		const struct session *s = session_grant(fx->tab, &m, T0 + 21, 100,
		    SESSION_SRC_SPLASH);
		assert_int_equal(store_append_grant(st, SS(fx, T0), s, NULL, 0), 0);
	}
	store_close(st);
	fx_reset(fx);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_load(fx->path, SS(fx, T0 + 20), on_error,
	    &e, &stats), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stats.lines, 102);
	assert_int_equal(stats.sessions, 100);
	assert_int_equal(stats.nonces, 1);
	for (unsigned i = 1; i <= 150; i++) {
		struct wk_mac m = mac_n(i);
		const struct session *s = session_find(fx->tab, &m);
		if ((s != NULL) != (i >= 2 && i <= 100))
			fail_msg("MAC %u after compaction", i);
		if (s != NULL)
			assert_int_equal(s->expires, T0 + 9 + 1000);
	}
	assert_true(nonce_seen(fx->nc, "compact-nonce", T0 + 20));
	assert_false(nonce_seen(fx->nc, "short-nonce", T0));
}

/* store_open on a damaged file reports, keeps the good records, and leaves
 * a clean file: a later append is not glued onto the torn tail. */
static void
test_open_repairs(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct errs e = { 0 };
	struct store *st;
	char content[1024];
	(void)state;

	snprintf(content, sizeof(content), "%s\n%s\n%.*s", EX_HEADER, EX_SESSION,
	    30, EX_REVOKED);
	put_file(fx->path, content);
	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, &e,
	    &stats, &st), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.line[0], 3);
	assert_int_equal(stats.sessions, 1);
	{
		struct wk_mac m = mac_n(77);
		const struct session *s = session_grant(fx->tab, &m, T0, 100,
		    SESSION_SRC_CTL);
		assert_int_equal(store_append_grant(st, SS(fx, T0), s, "after-repair", T0 + 100),
		    0);
	}
	store_close(st);
	fx_reset(fx);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stats.sessions, 2);
	assert_true(nonce_seen(fx->nc, "after-repair", T0));

	/* A file of another version is neither loaded nor compacted over. */
	fx_reset(fx);
	memset(&e, 0, sizeof(e));
	{
		char v2[128], after[128];
		snprintf(v2, sizeof(v2), "H wicket-store 2 *%08x\n%s\n",
		    (unsigned)store_crc32("H wicket-store 2", 16), EX_SESSION);
		put_file(fx->path, v2);
		assert_int_equal(store_open(fx->path, SS(fx, T0),
		    on_error, &e, &stats, &st), -1);
		assert_null(st);
		assert_int_equal(e.n, 1);
		assert_int_equal(e.line[0], 1);
		assert_non_null(strstr(e.msg[0], "unsupported store version"));
		get_file(fx->path, after, sizeof(after));
		assert_string_equal(after, v2);
	}

	/* A path that cannot be a state file: reported, not a crash. */
	fx_reset(fx);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_open(fx->dir, SS(fx, T0), on_error, &e,
	    &stats, &st), -1);
	assert_null(st);
	assert_true(e.n >= 1);
	assert_int_equal(e.line[0], 0);
	/* Nor can one in a directory that does not exist be written. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_open("/nonexistent/wicket/state", SS(fx, T0), on_error, &e, &stats, &st), -1);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.msg[0], "cannot write"));
	/* Invalid records are refused before anything is written. */
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(store_open(fx->path, SS(fx, T0), NULL, NULL,
	    NULL, &st), 0);
	assert_int_equal(store_append_nonce(st, "bad nonce", T0 + 5, true), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(store_append_grant(st, SS(fx, T0), &(struct session){ 0 }, "x", 5),
	    -1);
	store_close(st);
}

/* A write that fails midway (file size limit: EFBIG after a short write)
 * is cut back, so the file stays whole and the next append is clean; FIFOs
 * are refused without blocking. */
static void
test_short_write(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct errs e = { 0 };
	struct rlimit old, lim;
	struct store *st;
	struct stat sb;
	char fifo[128];
	(void)state;

	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, &e,
	    &stats, &st), 0);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 40;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	{
		struct wk_mac m = mac_n(1);
		const struct session *s = session_grant(fx->tab, &m, T0, 100,
		    SESSION_SRC_SIGNED);
		errno = 0;
		assert_int_equal(store_append_grant(st, SS(fx, T0), s, "short-write", T0 + 100),
		    -1);
		assert_int_equal(errno, EFBIG);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_size, strlen(EX_HEADER) + 1);
	{
		struct wk_mac m = mac_n(2);
		const struct session *s = session_grant(fx->tab, &m, T0, 100,
		    SESSION_SRC_SIGNED);
		assert_int_equal(store_append_grant(st, SS(fx, T0), s, "after-short", T0 + 100),
		    0);
	}
	store_close(st);
	fx_reset(fx);
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stats.lines, 3);
	assert_int_equal(stats.sessions, 1);
	assert_true(nonce_seen(fx->nc, "after-short", T0));
	assert_false(nonce_seen(fx->nc, "short-write", T0));

	/* A FIFO in place of the state file or the key: refused, no hang. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", fx->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(store_load(fifo, SS(fx, T0), on_error, &e,
	    &stats), -1);
	assert_non_null(strstr(e.msg[0], "not a readable regular file"));
	{
		struct token_key k;
		char err[200];
		assert_int_equal(token_key_load(fifo, &k, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not a regular file"));
	}
}

/* Extension records as radius.c keeps its accounting queue with them. */
struct ext_log {
	unsigned n;
	char rec[8][64];
	const char *keep; /* what dump writes back */
};

/* store_ext.load: remember the payloads in order. */
static void
ext_load(const char *payload, void *arg)
{
	struct ext_log *l = arg;

	if (l->n < 8)
		snprintf(l->rec[l->n++], sizeof(l->rec[0]), "%s", payload);
}

/* store_ext.dump: write back one live record. */
static void
ext_dump(struct store *st, void *arg)
{
	struct ext_log *l = arg;

	if (l->keep != NULL)
		assert_int_equal(store_ext_put(st, l->keep), 0);
}

/* Extension records: appended in order, read back in order at load
 * (without a store_ext they are skipped), kept across compaction only when the
 * owner writes them back, and invalid payloads refused. */
static void
test_ext_records(void **state)
{
	struct fixture *fx = *state;
	struct ext_log l = { 0 };
	struct store_ext ext = { ext_load, ext_dump, &l };
	struct store_stats stats;
	struct errs e = { 0 };
	struct store *st;
	char big[STORE_EXT_MAX + 2];

	assert_int_equal(store_open(fx->path, SSX(fx, T0, &ext), on_error,
	    &e, &stats, &st), 0);
	assert_int_equal(store_append_ext(st, "Q:1:start", false), 0);
	assert_int_equal(store_append_ext(st, "Q:2:stop", true), 0);
	assert_int_equal(store_append_ext(st, "has space", false), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_append_ext(st, big, false), -1);
	big[STORE_EXT_MAX] = '\0';
	assert_int_equal(store_append_ext(st, big, true), 0);
	store_close(st);
	fx_reset(fx);
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e,
	    &stats), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(l.n, 0);
	fx_reset(fx);
	l.keep = "Q:2:stop";
	assert_int_equal(store_open(fx->path, SSX(fx, T0, &ext), on_error,
	    &e, &stats, &st), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.rec[0], "Q:1:start");
	assert_string_equal(l.rec[1], "Q:2:stop");
	store_close(st);
	/* store_open compacted: only what dump kept is left. */
	fx_reset(fx);
	l.n = 0;
	l.keep = NULL;
	assert_int_equal(store_open(fx->path, SSX(fx, T0, &ext), on_error,
	    &e, &stats, &st), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.rec[0], "Q:2:stop");
	store_close(st);
}

/* Compaction follows the journal's size: many dead records in a small
 * file wait (a rewrite would cost more than it saves), the same ratio in
 * a file over STORE_COMPACT_BYTES compacts; a pending change always does. */
static void
test_should_compact_by_size(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct store *st;
	struct wk_mac m = mac_n(7);
	const struct session *s;

	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, NULL,
	    &stats, &st), 0);
	s = session_grant(fx->tab, &m, T0, 100, SESSION_SRC_CTL);
	while (store_size(st) < STORE_COMPACT_BYTES / 2)
		assert_int_equal(store_append_session(st, SS(fx, T0), s, false), 0);
	assert_true(store_journal_records(st) > 2 * 10);
	assert_false(store_should_compact(st, 1));
	while (store_size(st) <= STORE_COMPACT_BYTES)
		assert_int_equal(store_append_session(st, SS(fx, T0), s, false), 0);
	assert_true(store_should_compact(st, 1));
	/* ... but not when most records are live. */
	assert_false(store_should_compact(st, store_journal_records(st)));
	assert_int_equal(store_compact(st, SS(fx, T0)), 0);
	assert_int_equal(store_journal_records(st), 2);
	assert_false(store_should_compact(st, 1));
	store_mark_pending(st);
	assert_true(store_pending(st));
	assert_true(store_should_compact(st, 1));
	assert_int_equal(store_maintain(st, SS(fx, T0), 1), 0);
	assert_false(store_pending(st));
	/* Compaction keeps a reserve for the next one on a full disk. */
	assert_true(store_reserve_size(st) >= STORE_RESERVE_MIN);
	store_close(st);
}

/* Set RLIMIT_FSIZE so that path may grow by at most extra bytes. */
static struct rlimit
limit_file(const char *path, off_t extra)
{
	struct rlimit old, lim;
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	lim = old;
	lim.rlim_cur = (rlim_t)(sb.st_size + extra);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	return old;
}

/* A journal that cannot grow (file size limit standing in for a full
 * disk) full of dead records: an append compacts and goes through, so
 * allow/deny churn never locks grants out; with live records filling the
 * room, the grant is refused and the file still holds the old state. */
static void
test_append_compacts_when_full(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct store *st;
	struct rlimit old;
	struct stat sb;

	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, NULL,
	    &stats, &st), 0);
	old = limit_file(fx->path, 4000);
	/* allow/deny pairs until the journal is at its limit */
	for (unsigned i = 0;; i++) {
		struct wk_mac m = mac_n(1 + i % 5);
		const struct session *s = session_grant(fx->tab, &m, T0, 100,
		    SESSION_SRC_CTL);
		if (store_append_grant(st, SS(fx, T0), s, NULL, 0) < 0) {
			fail_msg("grant %u refused with only dead records", i);
			break;
		}
		assert_int_equal(session_revoke(fx->tab, &m, T0), 0);
		assert_int_equal(store_append_session(st, SS(fx, T0),
		    session_find(fx->tab, &m), true), 0);
		if (i == 200)
			break;
	}
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_true(sb.st_size < 4000 + 64);
	/* Now fill the room with live sessions: the first that does not fit
	 * is refused, and nothing is lost from the file. */
	for (unsigned i = 100;; i++) {
		struct wk_mac m = mac_n(i);
		struct session ns;
		assert_int_equal(session_prepare(fx->tab, &m, T0, 100,
		    SESSION_SRC_CTL, &ns), 0);
		if (store_append_grant(st, SS(fx, T0), &ns, NULL, 0) < 0) {
			assert_true(errno == EFBIG);
			assert_null(session_find(fx->tab, &m));
			break;
		}
		assert_int_equal(session_restore(fx->tab, &ns), 0);
		assert_true(i < 200);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	store_close(st);
	{
		size_t live = session_count_admitted(fx->tab);
		fx_reset(fx);
		assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, NULL,
		    &stats), 0);
		assert_int_equal(stats.errors, 0);
		assert_int_equal(stats.sessions, live);
	}
}

/* An extension record the journal cannot take (radius.c's accounting
 * queue on a full disk) is still in its owner's memory: the store asks for
 * a compaction, and the next store_maintain with room writes it from
 * there, so a kill -9 before the next grant does not lose it. */
static void
test_ext_append_full_is_compacted(void **state)
{
	struct fixture *fx = *state;
	struct ext_log l = { .keep = "Q:7:start" };
	struct store_ext ext = { ext_load, ext_dump, &l };
	struct store_stats stats;
	struct store *st;
	struct rlimit old;

	assert_int_equal(store_open(fx->path, SSX(fx, T0, &ext), on_error,
	    NULL, &stats, &st), 0);
	store_close(st);
	l.keep = NULL;
	assert_int_equal(store_open(fx->path, SSX(fx, T0, &ext), on_error,
	    NULL, &stats, &st), 0);
	assert_false(store_pending(st));
	old = limit_file(fx->path, 4);
	l.keep = "Q:8:start"; /* queued in memory, then journalled: fails */
	assert_int_equal(store_append_ext(st, "Q:8:start", true), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(store_pending(st));
	assert_int_equal(store_maintain(st, SSX(fx, T0, &ext), 0), 0);
	assert_false(store_pending(st));
	store_close(st);
	fx_reset(fx);
	l.n = 0;
	assert_int_equal(store_load(fx->path, SSX(fx, T0, &ext), on_error, NULL,
	    &stats), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.rec[0], "Q:8:start");
}

/* A start that cannot compact (no room for the copy) still restores every
 * session and goes on with the journal as it is: a torn tail is cut back
 * first, appends work, and the store asks for a compaction. */
static void
test_open_without_room(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct errs e = { 0 };
	struct store *st;
	struct rlimit old;
	put_file(fx->path, EX_HEADER "\n" EX_SESSION "\n" EX_NONCE "\n"
	    "S 02:00:5e:10:0");
	old = limit_file(fx->path, -(off_t)sizeof("S 02:00:5e:10:0")); /* < a clean copy */
	assert_int_equal(store_open(fx->path, SS(fx, T0), on_error, &e, &stats,
	    &st), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_false(stats.compacted);
	assert_int_equal(stats.sessions, 1);
	assert_int_equal(stats.nonces, 1);
	assert_true(e.n >= 2); /* the torn tail, and "no space to compact" */
	assert_non_null(strstr(e.msg[e.n - 1], "no space to compact"));
	assert_true(store_pending(st));
	{
		struct wk_mac m = mac_n(3);
		const struct session *s = session_grant(fx->tab, &m, T0, 100,
		    SESSION_SRC_CTL);
		assert_int_equal(store_append_grant(st, SS(fx, T0), s, NULL, 0), 0);
	}
	store_close(st);
	fx_reset(fx);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_load(fx->path, SS(fx, T0), on_error, &e, &stats), 0);
	assert_int_equal(e.n, 0); /* the torn tail was cut, nothing glued */
	assert_int_equal(stats.sessions, 2);
}

/* Session times are written in wall time and read back on the session
 * clock of the next run: a session keeps its remaining time whatever the
 * offset between the clocks (a stepped wall clock, another boot). */
static void
test_clock_offset(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	struct store *st;
	struct wk_mac m = mac_n(9);
	const struct session *s;
	struct store_state a = { fx->tab, fx->nc, NULL, T0, (int64_t)T0 - 5000 };
	char buf[4096];

	assert_int_equal(store_open(fx->path, &a, on_error, NULL, &stats, &st), 0);
	/* session clock 5000 == wall T0; a 600 s grant */
	s = session_grant(fx->tab, &m, 5000, 600, SESSION_SRC_CTL);
	assert_int_equal(store_append_grant(st, &a, s, NULL, 0), 0);
	store_close(st);
	get_file(fx->path, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 1700000000 1700000600 "));
	/* next run: 100 s later in wall time, session clock now 90000 */
	fx_reset(fx);
	a.tab = fx->tab;
	a.nc = fx->nc;
	a.now = T0 + 100;
	a.session_off = (int64_t)(T0 + 100) - 90000;
	assert_int_equal(store_load(fx->path, &a, on_error, NULL, &stats), 0);
	s = session_find(fx->tab, &m);
	assert_non_null(s);
	assert_int_equal(s->expires, 90000 + 500);
	assert_int_equal(s->last_seen, 90000);
	assert_true(session_check(fx->tab, &m, 90000 + 499, NULL));
	assert_false(session_check(fx->tab, &m, 90000 + 500, NULL));
}

/* Run the store tests, each in its own temporary directory. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_examples),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_decode_bad),
		cmocka_unit_test(test_record_every_byte),
		cmocka_unit_test_setup_teardown(test_file_roundtrip, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_truncated_tail, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_restore_drops, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_should_compact_by_size,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ext_append_full_is_compacted,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_append_compacts_when_full,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_without_room, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_clock_offset, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_compaction, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_repairs, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_short_write, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_ext_records, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
