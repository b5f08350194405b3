/* fuzz_http: libFuzzer target for the HTTP/1.1 framer (proxy/http.c). The
 * input is framed as a pipelined request stream, a chunked body and a
 * response, in one call and at read boundaries drawn from the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                            \
	do {                                                                \
		if (!(c)) {                                                 \
			fprintf(stderr, "fuzz_http: invariant failed: %s "  \
			    "(%s:%d)\n", #c, __FILE__, __LINE__);           \
			abort();                                            \
		}                                                           \
	} while (0)

static const char *const needs_len[] = { "POST", "PUT", "PATCH" };

/* The production defaults and a small set that reaches every limit. */
static const struct http_limits lims[2] = {
	{ 8192, 32768, 100, 1ULL << 30, needs_len, 3 },
	{ 64, 256, 4, 1000, needs_len, 3 },
};

/* The limits conn.c uses for upstream chunked bodies. */
static const struct http_limits resp_lim = { 0, 65536, 1000, UINT64_MAX, NULL, 0 };

/* A tiny PRNG, so that the read boundaries are a function of the input. */
static uint32_t
rng_next(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Size of the next read: mostly small, sometimes large. */
static size_t
next_step(uint32_t *s, unsigned mode)
{
	static const size_t max[8] = { 1, 1, 2, 3, 8, 64, 512, 8192 };

	return 1 + rng_next(s) % max[mode & 7];
}

/* One framing event of the request stream. */
struct ev {
	int kind; /* 1 head, 2 head error, 3 body end, 4 body error */
	size_t at;
	uint32_t head_len, method_off, method_len, target_off, target_len;
	uint32_t host_off, host_len;
	uint8_t minor;
	int body;
	uint64_t cl, total;
	bool close, expect, upgrade;
	uint16_t status;
};

#define MAXEV 64

/* A caller's connection, framing requests one after another. */
struct walker {
	const struct http_limits *lim;
	enum { W_HEAD, W_LENGTH, W_CHUNKED, W_STOP } phase;
	size_t start, pos;
	uint64_t left;
	struct http_req r;
	struct http_chunked c;
	struct ev ev[MAXEV];
	size_t nev;
};

/* True for a status the request framer may produce. */
static bool
req_status_ok(unsigned st)
{
	return st == 400 || st == 411 || st == 413 || st == 414 || st == 417 ||
	    st == 431 || st == 501 || st == 505;
}

/* Check a completed request head against what the policy guarantees:
 * the bytes the gate forwards are clean CRLF-framed text. */
static void
check_head(const struct http_req *r, const uint8_t *h, const struct http_limits *lim)
{
	CHECK(r->head_len >= 4);
	CHECK(memcmp(h + r->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(r->method_len >= 1 && r->method_len <= HTTP_MAX_METHOD);
	CHECK(r->method_off <= 4);
	CHECK(r->target_off == r->method_off + r->method_len + 1);
	CHECK(r->target_len >= 1);
	/* " HTTP/1.x" CRLF, then at least the empty line. */
	CHECK(r->target_off + r->target_len + 13 <= r->head_len);
	CHECK(r->target_off + r->target_len + 9 - r->method_off <= lim->max_request_line);
	CHECK(memcmp(h + r->target_off + r->target_len, " HTTP/1.", 8) == 0);
	CHECK(r->host_off + r->host_len <= r->head_len);
	CHECK(r->minor <= 1);
	CHECK(r->minor == 0 || r->n_host == 1);
	CHECK(r->body == HTTP_BODY_NONE || r->body == HTTP_BODY_LENGTH ||
	    r->body == HTTP_BODY_CHUNKED);
	if (r->body == HTTP_BODY_LENGTH)
		CHECK(r->content_length > 0 && r->content_length <= lim->max_body_bytes);
	if (r->body == HTTP_BODY_CHUNKED)
		CHECK(r->minor == 1 && r->n_cl == 0);
	CHECK(!r->connect);
	CHECK(r->status == 0);
	CHECK(r->nfields <= lim->max_headers);
	for (uint32_t i = r->target_off; i < r->target_off + r->target_len; i++)
		CHECK(h[i] > 0x20 && h[i] < 0x7f);
	for (uint32_t i = 0; i < r->head_len; i++) {
		uint8_t b = h[i];
		CHECK(b == '\t' || b == '\r' || b == '\n' || (b >= 0x20 && b != 0x7f));
		if (b == '\n')
			CHECK(i > 0 && h[i - 1] == '\r');
		if (b == '\r')
			CHECK(i + 1 < r->head_len && h[i + 1] == '\n');
	}
}

/* Record one event, checking the stream's invariants on the way. */
static void
walker_event(struct walker *w, int kind, const uint8_t *s)
{
	struct ev *e;

	CHECK(w->nev < MAXEV);
	e = &w->ev[w->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->at = w->start;
	if (kind == 1 || kind == 2) {
		e->head_len = w->r.head_len;
		e->method_off = w->r.method_off;
		e->method_len = w->r.method_len;
		e->target_off = w->r.target_off;
		e->target_len = w->r.target_len;
		e->host_off = w->r.host_off;
		e->host_len = w->r.host_len;
		e->minor = w->r.minor;
		e->body = (int)w->r.body;
		e->cl = w->r.content_length;
		e->close = w->r.close;
		e->expect = w->r.expect_continue;
		e->upgrade = w->r.upgrade;
		e->status = w->r.status;
		if (kind == 1)
			check_head(&w->r, s + w->start, w->lim);
		else
			CHECK(req_status_ok(w->r.status) && w->r.why != NULL);
	} else {
		/* A body error reports no position (used is 0), so only
		 * the end of a complete body is compared. */
		e->at = kind == 3 ? w->pos : w->start;
		e->total = w->c.total;
		e->status = w->c.status;
		CHECK(w->c.total <= w->lim->max_body_bytes);
		if (kind == 3)
			CHECK(w->pos >= 5 && memcmp(s + w->pos - 2, "\r\n", 2) == 0);
		else
			CHECK((w->c.status == 400 || w->c.status == 413 ||
			    w->c.status == 431) && w->c.why != NULL);
	}
}

/* Frame what has arrived of the stream s[0..avail). */
static void
walker_run(struct walker *w, const uint8_t *s, size_t avail)
{
	for (;;) {
		switch (w->phase) {
		case W_STOP:
			return;
		case W_HEAD: {
			int rc;
			if (w->start == avail)
				return;
			rc = http_req_parse(&w->r, (const char *)s + w->start,
			    avail - w->start, w->lim);
			CHECK(rc == HTTP_MORE || rc == HTTP_DONE || rc == HTTP_ERROR);
			if (rc == HTTP_MORE) {
				CHECK(w->r.status == 0);
				return;
			}
			if (rc == HTTP_ERROR) {
				walker_event(w, 2, s);
				w->phase = W_STOP;
				return;
			}
			CHECK(w->start + w->r.head_len <= avail);
			walker_event(w, 1, s);
			w->pos = w->start + w->r.head_len;
			if (w->r.body == HTTP_BODY_LENGTH) {
				w->phase = W_LENGTH;
				w->left = w->r.content_length;
			} else if (w->r.body == HTTP_BODY_CHUNKED) {
				w->phase = W_CHUNKED;
				http_chunked_init(&w->c);
			} else if (w->r.close || w->nev >= MAXEV - 2) {
				w->phase = W_STOP;
			} else {
				w->start = w->pos;
				http_req_init(&w->r);
			}
			break;
		}
		case W_LENGTH: {
			size_t k = avail - w->pos;
			if (k > w->left)
				k = (size_t)w->left;
			w->pos += k;
			w->left -= k;
			if (w->left > 0)
				return;
			w->phase = w->r.close || w->nev >= MAXEV - 2 ? W_STOP : W_HEAD;
			w->start = w->pos;
			http_req_init(&w->r);
			break;
		}
		case W_CHUNKED: {
			size_t used = (size_t)-1, n = avail - w->pos;
			int rc = http_chunked_feed(&w->c, (const char *)s + w->pos, n,
			    &used, w->lim);
			CHECK(used <= n);
			if (rc == HTTP_MORE)
				CHECK(used == n);
			if (rc == HTTP_ERROR)
				CHECK(used == 0);
			w->pos += used;
			if (rc == HTTP_MORE)
				return;
			if (rc == HTTP_ERROR) {
				walker_event(w, 4, s);
				w->phase = W_STOP;
				return;
			}
			walker_event(w, 3, s);
			w->phase = w->r.close || w->nev >= MAXEV - 2 ? W_STOP : W_HEAD;
			w->start = w->pos;
			http_req_init(&w->r);
			break;
		}
		}
	}
}

/* Print one event, to explain a mismatch before aborting. */
static void
ev_dump(const char *who, const struct ev *e)
{
	fprintf(stderr, "%s: kind %d at %zu head_len %u method %u+%u target %u+%u "
	    "host %u+%u minor %u body %d cl %llu total %llu close %d expect %d "
	    "upgrade %d status %u\n", who, e->kind, e->at, e->head_len,
	    e->method_off, e->method_len, e->target_off, e->target_len,
	    e->host_off, e->host_len, e->minor, e->body,
	    (unsigned long long)e->cl, (unsigned long long)e->total, e->close,
	    e->expect, e->upgrade, e->status);
}

/* Frame the stream once whole and once in reads of random sizes, from a
 * buffer whose not-yet-arrived bytes are poisoned; the events match. */
static void
fuzz_requests(const uint8_t *d, size_t n, const struct http_limits *lim,
    uint32_t seed, unsigned mode)
{
	static struct walker one, inc;
	uint8_t *s = malloc(n ? n : 1);

	CHECK(s != NULL);
	if (n)
		memcpy(s, d, n);
	memset(&one, 0, sizeof(one));
	one.lim = lim;
	http_req_init(&one.r);
	walker_run(&one, s, n);

	memset(&inc, 0, sizeof(inc));
	inc.lim = lim;
	http_req_init(&inc.r);
	POISON(s, n);
	for (size_t avail = 0; avail < n && inc.phase != W_STOP; ) {
		size_t k = next_step(&seed, mode);
		if (k > n - avail)
			k = n - avail;
		UNPOISON(s + avail, k);
		avail += k;
		walker_run(&inc, s, avail);
	}
	UNPOISON(s, n);

	if (one.nev != inc.nev)
		fprintf(stderr, "events: whole %zu, in reads %zu\n", one.nev, inc.nev);
	for (size_t i = 0; i < one.nev && i < inc.nev; i++)
		if (memcmp(&one.ev[i], &inc.ev[i], sizeof(one.ev[i])) != 0) {
			ev_dump("whole", &one.ev[i]);
			ev_dump("reads", &inc.ev[i]);
		}
	CHECK(one.nev == inc.nev);
	for (size_t i = 0; i < one.nev; i++)
		CHECK(memcmp(&one.ev[i], &inc.ev[i], sizeof(one.ev[i])) == 0);
	CHECK(one.phase == inc.phase);
	if (one.phase != W_STOP) {
		CHECK(one.start == inc.start);
		CHECK(one.pos == inc.pos || one.phase == W_HEAD);
	}
	free(s);
}

/* Decode the input as a chunked body, whole and in random reads; each
 * read sees only its own bytes unpoisoned. */
static void
fuzz_chunked(const uint8_t *d, size_t n, const struct http_limits *lim,
    uint32_t seed, unsigned mode)
{
	struct http_chunked a, b;
	size_t used = 0, ua, off = 0;
	int ra, rb = HTTP_MORE;
	uint8_t *s = malloc(n ? n : 1);

	CHECK(s != NULL);
	if (n)
		memcpy(s, d, n);
	POISON(s, n);

	http_chunked_init(&a);
	ra = http_chunked_feed(&a, (const char *)d, n, &ua, lim);
	CHECK(ua <= n);
	if (ra == HTTP_DONE) {
		CHECK(ua >= 5 && memcmp(d + ua - 2, "\r\n", 2) == 0);
		CHECK(a.total <= lim->max_body_bytes);
	}

	http_chunked_init(&b);
	while (off < n && rb == HTTP_MORE) {
		size_t k = next_step(&seed, mode);
		if (k > n - off)
			k = n - off;
		UNPOISON(s + off, k);
		rb = http_chunked_feed(&b, (const char *)s + off, k, &used, lim);
		POISON(s + off, k);
		CHECK(used <= k);
		off += used;
	}
	UNPOISON(s, n);
	free(s);
	CHECK(ra == rb);
	CHECK(a.status == b.status);
	CHECK(a.total == b.total);
	if (ra == HTTP_DONE)
		CHECK(ua == off);
	if (ra == HTTP_MORE)
		CHECK(ua == n && off == n);
}

/* Frame the input as a response head, whole and grown in random reads;
 * then decode a chunked body behind it the same two ways. */
static void
fuzz_response(const uint8_t *d, size_t n, bool head_request, uint32_t max_head,
    uint32_t seed, unsigned mode)
{
	struct http_resp a, b;
	int ra, rb = HTTP_MORE;
	size_t avail = 0;
	uint8_t *s;

	http_resp_init(&a);
	ra = http_resp_parse(&a, (const char *)d, n, head_request, max_head);
	http_resp_init(&b);
	s = malloc(n ? n : 1);
	CHECK(s != NULL);
	if (n)
		memcpy(s, d, n);
	POISON(s, n);
	while (avail < n && rb == HTTP_MORE) {
		size_t k = next_step(&seed, mode);
		k = k > n - avail ? n - avail : k;
		UNPOISON(s + avail, k);
		avail += k;
		rb = http_resp_parse(&b, (const char *)s, avail, head_request, max_head);
	}
	if (n == 0)
		rb = http_resp_parse(&b, (const char *)s, 0, head_request, max_head);
	UNPOISON(s, n);
	free(s);
	CHECK(ra == rb);
	CHECK(a.status == b.status);
	if (ra == HTTP_ERROR)
		CHECK(a.status == 502 && a.why != NULL);
	if (ra != HTTP_DONE)
		return;
	CHECK(a.head_len == b.head_len && a.code == b.code && a.minor == b.minor &&
	    a.body == b.body && a.content_length == b.content_length &&
	    a.close == b.close);
	CHECK(a.head_len <= n && a.head_len <= max_head && a.head_len >= 14);
	CHECK(memcmp(d + a.head_len - 2, "\r\n", 2) == 0);
	CHECK(a.code >= 100 && a.code <= 999);
	if (head_request || a.code < 200 || a.code == 204 || a.code == 304)
		CHECK(a.body == HTTP_BODY_NONE);
	if (a.body == HTTP_BODY_CLOSE)
		CHECK(a.close);
	if (a.body == HTTP_BODY_LENGTH)
		CHECK(a.content_length > 0);
	if (a.body == HTTP_BODY_CHUNKED)
		fuzz_chunked(d + a.head_len, n - a.head_len, &resp_lim, seed, mode);
}

/* Input: a control byte (limits, read sizes, HEAD), then the bytes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2463534242u;
	unsigned ctl, mode;
	const struct http_limits *lim;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	for (size_t i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 16777619u;
	seed = seed ? seed : 1;
	lim = &lims[ctl & 1];
	mode = (ctl >> 1) & 7;

	fuzz_requests(data, size, lim, seed, mode);
	fuzz_chunked(data, size, lim, seed, mode);
	fuzz_response(data, size, (ctl & 0x10) != 0, (ctl & 0x20) ? 128 : 65536,
	    seed, mode);
	return 0;
}
