/* txn: the client side of an intercepted connection -- accept, reads into
 * shared 128 KiB space, requests framed one by one, each decided, answered
 * locally or handed to the relay (relay.c), answers kept in request order
 * and written together, timeouts, one audit line per request. Reads
 * top-down from accept to the audit line. conn_free is the only function
 * that frees a connection. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "clock.h"
#include "dheap.h"
#include "garden.h"
#include "gate.h"
#include "grant.h"
#include "limiter.h"
#include "log.h"
#include "origdst.h"
#include "portal.h"
#include "reply.h"
#include "txn.h"

struct conn_io conn_io;

/* Every connection's next deadline, in one heap under one timer. */
static struct dheap deadlines;
static struct event *deadline_ev;
static uint64_t deadline_ev_at; /* when deadline_ev fires (0: not added) */

static void conn_on_event(evutil_socket_t fd, short what, void *arg);
static void conn_on_deadlines(evutil_socket_t fd, short what, void *arg);
static void conn_read(struct conn *c, bool fresh);
static size_t conn_feed(struct conn *c, const char *buf, size_t len);
static void conn_req_keep(struct conn *c);
static void conn_req_done(struct conn *c);
static void conn_request(struct conn *c, const char *buf);
static void conn_framing_error(struct conn *c, const char *buf,
    uint16_t status, const char *why);
static size_t conn_body(struct conn *c, const char *p, size_t n);
static void conn_client_eof(struct conn *c);
static void conn_on_timeout(struct conn *c);
static void conn_arm(struct conn *c);
static void conn_portal_body(struct conn *c, struct txn *t);
static void txn_set_answer(struct conn *c, struct txn *t, const char *buf,
    size_t n, unsigned status, const char *why, bool close);
static bool txn_render(struct conn *c, struct txn *t, unsigned status,
    const char *why, const char *location, bool close, int64_t now_s, size_t *np);
static void txn_take_answer(struct conn *c, struct txn *t, size_t n);
static char *conn_tx_room(struct conn *c, size_t need);
static void txn_free(struct txn *t);
static void txn_log(struct conn *c, const struct txn *t);

/* ------------------------------------------------------------------ */
/* Accept                                                              */
/* ------------------------------------------------------------------ */

/* Take a freshly accepted socket: find where it was going and who sent
 * it, and wait for its first request head. The listener has admitted it
 * through the per-client limiter already: a->hold is its claim there,
 * bound to the connection here and released by conn_free; a->ifindex and
 * a->local are what the kernel said of it at accept (ident_accepted,
 * asked once). */
void
conn_accept(struct gate *g, const struct gate_accepted *a)
{
	union wk_sockaddr dst;
	struct wk_ip lip, dip;
	struct conn *c;
	int redirected;

	if (deadline_ev == NULL)
		deadline_ev = evtimer_new(g->base, conn_on_deadlines, g);
	/* Not calloc, as for a txn (txn_new). */
	if (deadline_ev == NULL || (c = malloc(sizeof(*c))) == NULL) {
		limiter_release(g->lim, a->hold);
		close(a->fd);
		return;
	}
	*c = (struct conn){ .g = g, .fd = a->fd };
	redirected = origdst_get(a->fd, &a->local.sa, &dst);
	memcpy(&c->local, &a->local, addr_sa_len(&a->local.sa));
	memcpy(&c->dst, &dst, addr_sa_len(&dst.sa));
	addr_ip_from_sa(&a->peer.sa, &c->client);
	c->ifindex = a->ifindex;
	addr_ip_from_sa(&dst.sa, &dip);
	addr_ip_from_sa(&a->local.sa, &lip);
	c->dst_is_gate = redirected < 0 || addr_ip_equal(&dip, &lip) ||
	    origdst_is_local(&dip);
	c->t_wait = c->t_progress = clock_mono_ms();
	event_assign(&c->ev, g->base, a->fd, EV_READ | EV_PERSIST, conn_on_event, c);
	c->evmask = 0; /* added by conn_pump when it has to wait */
	c->lim_hold = a->hold;
	limiter_bind(g->lim, a->hold, c);
	c->next = g->conns;
	if (g->conns)
		g->conns->prev = c;
	g->conns = c;
	g->nconns++;
	g->st.accepted++;
	conn_arm(c);
	/* The request has usually arrived with the handshake: read it now.
	 * The event is added only if the connection has to wait, so a 511
	 * to a Connection: close request costs no epoll_ctl at all. */
	conn_read(c, true);
	conn_pump(c);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

/* The client socket is readable or writable. */
static void
conn_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if ((what & EV_WRITE) && c->ls != LS_DEAD) {
		c->wblocked = false;
		if (conn_write_client(c) && c->up && c->up->pipe)
			relay_splice_down(c);
	}
	if ((what & EV_READ) && c->ls != LS_DEAD) {
		if (c->up && c->up->upipe && (c->rs == RS_BODY || c->rs == RS_TUNNEL))
			relay_splice_up(c);
		else
			conn_read(c, true);
	}
	conn_pump(c);
}

/* Note that bytes moved, for the idle timeout: "idle" means no progress
 * in either direction. */
void
conn_progress(struct conn *c)
{
	c->t_progress = clock_mono_ms();
}

/* ------------------------------------------------------------------ */
/* Reading and framing requests                                        */
/* ------------------------------------------------------------------ */

/* Read what the client sent (fresh) or go on with bytes kept from
 * earlier (a head in part, or requests that waited for the pipeline):
 * they are put in front of the new bytes in the shared read space, so a
 * read takes up to IO_READ bytes in one recv(2), without FIONREAD. */
static void
conn_read(struct conn *c, bool fresh)
{
	char *b = conn_io.crx;
	size_t have = buf_len(&c->in), used;
	ssize_t n = 0;

	if (have > 0) {
		/* what was kept may be a form body behind a pipeline: no
		 * copy of it stays in freed memory */
		memcpy(b, buf_data(&c->in), have);
		explicit_bzero(buf_data(&c->in), have);
		buf_free(&c->in);
	}
	if (fresh) {
		/* Heads are small: a read that may stop at the pipeline's limit
		 * takes less, so that what waits in c->in stays small. */
		size_t room = (c->rs == RS_HEAD ? HEAD_READ : IO_READ) - have;
		if (have >= HEAD_READ)
			room = IO_READ - have;
		do
			n = recv(c->fd, b + have, room, 0);
		while (n < 0 && errno == EINTR);
		if (n > 0) {
			have += (size_t)n;
			conn_progress(c);
		} else if (n == 0) {
			c->client_eof = true;
		} else if (errno != EAGAIN) {
			c->ls = LS_DEAD;
			return;
		}
	}
	if (c->ls == LS_LINGER) {
		if (c->client_eof)
			c->ls = LS_DEAD; /* done lingering */
		return;
	}
	used = conn_feed(c, b, have);
	if (used < have && c->ls != LS_DEAD &&
	    buf_append(&c->in, b + used, have - used) < 0)
		c->ls = LS_DEAD;
	if (c->rx_secret) {
		/* a login form's password leaves no copy in the shared read
		 * space (the portal wipes the collected body, docs/security.md) */
		explicit_bzero(b, have);
		c->rx_secret = false;
	}
	if (c->client_eof && c->ls != LS_DEAD)
		conn_client_eof(c);
}

/* True when another request head may be framed now: the pipeline has
 * room, the client is taking its answers, and the upstream its bytes. */
static bool
conn_can_frame(const struct conn *c)
{
	if (c->ls != LS_OPEN || c->stop_after || c->nq >= MAX_PIPELINE)
		return false;
	if (buf_len(&c->out) + conn_io.cst.len > ANSWER_HIGH)
		return false;
	return c->up == NULL || (buf_len(&c->up->out) == 0 && !c->up->wblocked);
}

/* Frame and dispatch as many requests as buf holds; returns the bytes
 * used. What is left (a head in part, or requests that must wait) is
 * kept by the caller and fed again. */
static size_t
conn_feed(struct conn *c, const char *buf, size_t len)
{
	const struct http_limits *lim = &c->g->limits;
	size_t cap = (size_t)lim->max_request_line + lim->max_header_bytes + 8;
	size_t pos = 0;

	c->in_wait = false;
	while (pos < len && c->ls != LS_DEAD) {
		size_t n = len - pos, k;
		int rc;

		switch (c->rs) {
		case RS_STOP: /* never read as a request (framing policy) */
			c->linger = true; /* and more may follow: linger at close */
			return len;
		case RS_WAIT: /* bytes after an upgrade wait for its answer */
			c->in_wait = true;
			return pos;
		case RS_TUNNEL:
			if (c->up == NULL)
				return len;
			relay_stage(c, buf + pos, n);
			if (c->up->upipe == NULL && relay_may_splice(c, UINT64_MAX))
				c->up->upipe = relay_pipe_get(c->g);
			return len;
		case RS_BODY:
			k = conn_body(c, buf + pos, n);
			if (k == 0) {
				c->in_wait = true;
				return pos;
			}
			pos += k;
			continue;
		case RS_HEAD:
			break;
		}
		if (!conn_can_frame(c)) {
			c->in_wait = true;
			return pos;
		}
		if (c->req == NULL) { /* a fresh head: the shared framer state */
			c->req = &conn_io.req;
			http_req_init(c->req);
		}
		rc = http_req_parse(c->req, buf + pos, n < cap ? n : cap, lim);
		if (rc == HTTP_MORE && n >= cap)
			rc = HTTP_ERROR, c->req->status = 431, c->req->why = "head too large";
		if (rc == HTTP_MORE) {
			conn_req_keep(c);
			return pos;
		}
		if (rc == HTTP_ERROR) {
			conn_framing_error(c, buf + pos, c->req->status, c->req->why);
			conn_req_done(c);
			return len;
		}
		conn_request(c, buf + pos);
		pos += c->req->head_len;
		conn_req_done(c);
	}
	return pos;
}

/* A head stops in the middle: its framer state must outlive this read
 * (the shared one serves the next connection), so it gets its own. */
static void
conn_req_keep(struct conn *c)
{
	struct http_req *r;

	if (c->req != &conn_io.req)
		return;
	r = malloc(sizeof(*r));
	if (r == NULL) {
		c->ls = LS_DEAD;
		c->req = NULL;
		return;
	}
	*r = conn_io.req;
	c->req = r;
}

/* The head is framed (or refused): forget the framer state. */
static void
conn_req_done(struct conn *c)
{
	if (c->req != &conn_io.req)
		free(c->req);
	c->req = NULL;
}

/* ------------------------------------------------------------------ */
/* Deciding a request                                                  */
/* ------------------------------------------------------------------ */

/* Copy at most n bytes into a fixed field, NUL-terminated. */
static void
copy_field(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Allocate a transaction and append it to the answer queue. */
static struct txn *
txn_new(struct conn *c)
{
	/* Not calloc: glibc's (before 2.41) skips malloc's per-thread cache,
	 * and this runs for every request. */
	struct txn *t = malloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	*t = (struct txn){ .reason = "", .t0_ms = clock_wall_ms() };
	if (c->qt)
		c->qt->next = t;
	else
		c->qh = t;
	c->qt = t;
	c->nq++;
	return t;
}

/* Record method, host and path of a framed (or partly framed) head. */
static void
txn_describe(struct txn *t, const struct http_req *r, const char *buf)
{
	const char *target = buf + r->target_off;
	const char *q = memchr(target, '?', r->target_len);

	copy_field(t->method, sizeof(t->method), buf + r->method_off, r->method_len);
	copy_field(t->path, sizeof(t->path), target,
	    q ? (size_t)(q - target) : r->target_len);
	if (r->n_host) {
		copy_field(t->host, sizeof(t->host), buf + r->host_off, r->host_len);
		t->has_host = true;
	}
	t->head = http_token_eq(t->method, strlen(t->method), "head");
}

/* The policy input of this connection for a request (path may be NULL):
 * who the client is, right now, and where it was going. */
static void
conn_identify(struct conn *c, struct policy_in *in, const char *path,
    size_t plen)
{
	memset(in, 0, sizeof(*in));
	in->conf = c->g->conf; /* a reload applies from the next request */
	in->client = c->client;
	in->ifindex = c->ifindex;
	addr_ip_from_sa(&c->dst.sa, &in->dst);
	in->dst_port = addr_sa_port(&c->dst.sa);
	in->dst_is_gate = c->dst_is_gate;
	in->path = path;
	in->path_len = plen;
	in->dst_in_garden_dns = garden_match(c->g->garden, &in->dst);
	if (c->g->identify)
		c->g->identify(c->g, in);
	c->has_mac = in->mac != NULL;
	if (c->has_mac)
		c->mac = *in->mac;
	c->mac_random = in->mac_random;
	c->mac_conflict = in->mac_conflict;
}

/* Append n bytes to a string being built in want[WANT_MAX]; false when
 * they do not fit. */
#define WANT_MAX 2048
static bool
want_add(char *want, size_t *len, const char *p, size_t n)
{
	if (n >= WANT_MAX - *len)
		return false;
	memcpy(want + *len, p, n);
	*len += n;
	return true;
}

/* Build the portal link for this request: the URL the user wanted
 * (absolute-form target, or Host plus target, or the destination address)
 * handed to portal_link. Returns -1 when it does not fit. */
static int
conn_link(struct conn *c, const struct policy_in *in, const char *target,
    size_t tlen, const char *host, size_t hlen, char *out, size_t size)
{
	char want[WANT_MAX], gh[WK_SA_STRLEN], dst_s[WK_SA_STRLEN];
	size_t n = 0;
	bool ok;

	if (tlen > 0 && target[0] != '/') {
		ok = want_add(want, &n, target, tlen);
	} else {
		if (hlen == 0) {
			addr_sa_format(&c->dst.sa, dst_s);
			host = dst_s;
			hlen = strlen(dst_s);
		}
		ok = want_add(want, &n, "http://", 7) && want_add(want, &n, host, hlen) &&
		    want_add(want, &n, target, tlen);
	}
	want[ok ? n : 0] = '\0'; /* too long to carry: the portal shows its home */
	addr_sa_url_host(&c->local.sa, gh);
	return portal_link(c->g, in, want, gh, out, size);
}

/* True when two socket addresses are the same, byte for byte as far as
 * their family goes (the rest of the union is not theirs). */
static bool
conn_sa_same(const union conn_sa *a, const union conn_sa *b)
{
	return a->sa.sa_family == b->sa.sa_family &&
	    memcmp(a, b, addr_sa_len(&a->sa)) == 0;
}

/* The last 511 or 302 answered with a portal link, and everything its
 * bytes were made of: a client that asks for the same URL again within
 * the same second (a browser's or an app's retries, an OS probe, a
 * pipelined burst) gets the same bytes without the link being built,
 * signed and escaped again. They are the bytes a fresh rendering would
 * give: the link's ts and the Date have one-second resolution, the
 * signature is a function of mac, ip, url and ts, and a reload (which
 * may change the key, portal_url or gateway_id) bumps g->conf_gen. */
#define MEMO_REQ 1024    /* target and Host bytes kept for the comparison */
#define MEMO_ANSWER 4096 /* a 511 with a link of usual length fits */
static struct {
	bool valid, head, close, has_mac;
	unsigned status;
	uint64_t gen;
	int64_t now_s;
	struct wk_mac mac;
	struct wk_ip client;
	union conn_sa local, dst;
	size_t tlen, hlen, n;
	char req[MEMO_REQ];
	char answer[MEMO_ANSWER];
} link_memo;

/* True when the memo holds the answer this request would get. */
static bool
link_memo_match(const struct conn *c, const struct txn *t,
    const struct policy_in *in, unsigned status, const char *target,
    size_t tlen, const char *host, size_t hlen, bool close, int64_t now_s)
{
	return link_memo.valid && link_memo.now_s == now_s &&
	    link_memo.status == status && link_memo.gen == c->g->conf_gen &&
	    link_memo.head == t->head && link_memo.close == close &&
	    link_memo.tlen == tlen && link_memo.hlen == hlen &&
	    link_memo.has_mac == (in->mac != NULL) &&
	    (in->mac == NULL || addr_mac_equal(&link_memo.mac, in->mac)) &&
	    addr_ip_equal(&link_memo.client, &in->client) &&
	    conn_sa_same(&link_memo.local, &c->local) &&
	    conn_sa_same(&link_memo.dst, &c->dst) &&
	    memcmp(link_memo.req, target, tlen) == 0 &&
	    memcmp(link_memo.req + tlen, host, hlen) == 0;
}

/* Keep the answer just rendered (n bytes at p) with what it was made of. */
static void
link_memo_keep(const struct conn *c, const struct txn *t,
    const struct policy_in *in, unsigned status, const char *target,
    size_t tlen, const char *host, size_t hlen, bool close, int64_t now_s,
    const char *p, size_t n)
{
	link_memo.valid = false;
	if (tlen + hlen > sizeof(link_memo.req) || n > sizeof(link_memo.answer))
		return;
	link_memo.now_s = now_s;
	link_memo.status = status;
	link_memo.gen = c->g->conf_gen;
	link_memo.head = t->head;
	link_memo.close = close;
	link_memo.tlen = tlen;
	link_memo.hlen = hlen;
	link_memo.has_mac = in->mac != NULL;
	if (in->mac != NULL)
		link_memo.mac = *in->mac;
	link_memo.client = in->client;
	link_memo.local = c->local;
	link_memo.dst = c->dst;
	memcpy(link_memo.req, target, tlen);
	memcpy(link_memo.req + tlen, host, hlen);
	memcpy(link_memo.answer, p, n);
	link_memo.n = n;
	link_memo.valid = true;
}

/* Answer a denied request (511) or a probe (302) with the portal link
 * for the URL it wanted: from the memo when the last such answer was
 * made of the same facts, else built, rendered and kept. */
static void
conn_answer_link(struct conn *c, struct txn *t, const struct policy_in *in,
    unsigned status, const char *target, size_t tlen, const char *host,
    size_t hlen, bool close)
{
	int64_t now_s = clock_wall_ms() / 1000;
	char link[4096], *p;
	size_t n;

	if (link_memo_match(c, t, in, status, target, tlen, host, hlen, close, now_s)) {
		if ((p = conn_tx_room(c, link_memo.n)) == NULL) {
			c->ls = LS_DEAD;
			return;
		}
		memcpy(p, link_memo.answer, link_memo.n);
		t->status = status;
		t->close_after = t->close_after || close;
		txn_take_answer(c, t, link_memo.n);
		return;
	}
	if (conn_link(c, in, target, tlen, host, hlen, link, sizeof(link)) < 0)
		link[0] = '\0';
	if (!txn_render(c, t, status, NULL, link, close, now_s, &n))
		return;
	p = conn_io.tx + conn_io.txlen;
	if (t->status == status) /* not the 500 of a link too long */
		link_memo_keep(c, t, in, status, target, tlen, host, hlen, close,
		    now_s, p, n);
	txn_take_answer(c, t, n);
}

/* Answer a request to the gate's own pages, now or (for the accept form)
 * once its body has been collected. */
static void
conn_portal(struct conn *c, struct txn *t, const char *buf)
{
	const struct http_req *r = c->req;
	struct portal_req *pr = calloc(1, sizeof(*pr));
	struct reply_ctx rc = { .head = t->head, .close = r->close,
		.now_s = clock_wall_ms() / 1000 };
	size_t osize = portal_answer_size(c->g);
	unsigned status = 500;
	const char *why = NULL;
	size_t n = 0, want;
	char *out;

	if (pr == NULL || r->target_len > PORTAL_TARGET_MAX) {
		free(pr);
		txn_answer(c, t, pr ? 414 : 500, pr ? "target too long for the portal"
		    : "out of memory", NULL, true);
		return;
	}
	memcpy(pr->target, buf + r->target_off, r->target_len);
	pr->target[r->target_len] = '\0';
	pr->get = http_token_eq(t->method, strlen(t->method), "get");
	pr->head = t->head;
	pr->post = http_token_eq(t->method, strlen(t->method), "post");
	pr->has_length = r->n_cl > 0;
	pr->length = r->content_length;
	pr->have_mac = c->has_mac && !c->mac_conflict;
	if (pr->have_mac)
		pr->mac = c->mac;
	pr->client = c->client;
	addr_sa_url_host(&c->local.sa, pr->gate_host);
	if (r->body == HTTP_BODY_LENGTH && (want = portal_wants_body(pr)) > 0) {
		/* room for the whole form at once: a growing buffer would
		 * leave parts of a password behind in freed memory */
		if (buf_reserve(&t->collect, want) == NULL) {
			free(pr);
			txn_answer(c, t, 500, "out of memory", NULL, true);
			return;
		}
		t->preq = pr;
		c->sink = SINK_COLLECT;
		c->rs = RS_BODY;
		/* RFC 9110 §10.1.1: a client waiting for 100 gets it, if no
		 * earlier answer is still due (order is kept). */
		if (r->expect_continue && c->qh == t)
			conn_stage_client(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		return;
	}
	/* The splash holds the operator's terms: sized by the portal. */
	if ((out = malloc(osize)) != NULL)
		n = portal_answer(c->g, pr, NULL, 0, &rc, out, osize, &status, &why);
	free(pr);
	txn_set_answer(c, t, out, n, status, why,
	    r->close || (r->expect_continue && r->body != HTTP_BODY_NONE));
	free(out);
}

/* A 511 or 302 over the client's client_511_rate: the request is not
 * answered (nor audited: stats count it) and the connection is reset, so
 * a flood of requests costs the gate a reset, not a page each. t is the
 * last of the queue. */
static void
conn_shed_answer(struct conn *c, struct txn *t)
{
	static struct log_rate rl = LOG_RATE(5, 10000);
	char cip[WK_IP_STRLEN];
	struct txn **p = &c->qh;

	c->g->st.shed_511++;
	addr_ip_format(&c->client, cip);
	log_info_rated(&rl, "%s: client_511_rate exceeded: connection reset", cip);
	while (*p != t)
		p = &(*p)->next;
	*p = NULL;
	c->qt = NULL;
	for (struct txn *q = c->qh; q != NULL; q = q->next)
		c->qt = q;
	c->nq--;
	if (c->rtxn == t)
		c->rtxn = NULL;
	txn_free(t);
	c->shed = true;
	c->rs = RS_STOP;
	c->ls = LS_DEAD;
}

/* Decide a complete request head: relay it, or answer it locally. buf
 * holds the head (c->req), valid for this call only. */
static void
conn_request(struct conn *c, const char *buf)
{
	const struct http_req *r = c->req;
	struct txn *t = txn_new(c);
	const char *target = buf + r->target_off, *q;
	struct policy_in in;
	size_t plen;
	bool skip;

	if (t == NULL) {
		c->rs = RS_STOP;
		c->ls = LS_CLOSING;
		return;
	}
	txn_describe(t, r, buf);
	t->upgrade = r->upgrade;
	t->bytes_in = r->head_len;
	q = memchr(target, '?', r->target_len);
	plen = q ? (size_t)(q - target) : r->target_len;
	conn_identify(c, &in, target, plen);
	t->verdict = policy_decide(&in, &t->reason);
	if ((t->verdict == V_DENY || t->verdict == V_PROBE) &&
	    !limiter_answer(c->g->lim, c->lim_hold, clock_mono_ms())) {
		conn_shed_answer(c, t);
		return;
	}
	c->rbody = r->body;
	c->rleft = r->content_length;
	c->drained = 0;
	if (r->body == HTTP_BODY_CHUNKED) {
		if (c->rch == NULL && (c->rch = malloc(sizeof(*c->rch))) == NULL) {
			c->ls = LS_DEAD;
			return;
		}
		http_chunked_init(c->rch);
	}
	c->rtxn = t;
	c->rs = r->body == HTTP_BODY_NONE ? RS_HEAD : RS_BODY;
	c->t_wait = c->t_progress;

	if (t->verdict == V_FORWARD && relay_open(c) == 0) {
		t->relayed = true;
		t->close_after = r->close;
		c->sink = SINK_UPSTREAM;
		/* Byte for byte: the validated head goes out as received. */
		relay_stage(c, buf, r->head_len);
		if (c->rs == RS_HEAD && r->upgrade)
			c->rs = RS_WAIT;
		else if (c->rs == RS_HEAD && r->close)
			c->rs = RS_STOP;
		return;
	}
	c->sink = SINK_DRAIN;
	/* RFC 9110 §10.1.1: with 100-continue the client may never send the
	 * body once it has our final answer, so do not wait for it: close. */
	skip = r->expect_continue && r->body != HTTP_BODY_NONE;
	if (skip || (r->close && c->rs == RS_HEAD))
		c->rs = RS_STOP;
	/* target and host point into buf: the answer is built now. Per-client
	 * limits on 511 and 302 answers decide just before they are queued. */
	switch (t->verdict) {
	case V_FORWARD:
		c->g->st.upstream_errors++;
		txn_answer(c, t, 502, "cannot open upstream connection", NULL, true);
		break;
	case V_PROBE:
		conn_answer_link(c, t, &in, 302, target, r->target_len,
		    buf + r->host_off, r->host_len, r->close || skip);
		break;
	case V_PORTAL:
		conn_portal(c, t, buf);
		break;
	case V_DENY:
		conn_answer_link(c, t, &in, 511, target, r->target_len,
		    buf + r->host_off, r->host_len, r->close || skip);
		break;
	}
}

/* A request broke a framing rule: answer with its status and close, and
 * never read the bytes after it as a request (design: framing policy).
 * buf (may be NULL) holds the head so far: what the framer already
 * understood of it goes into the audit record, and so does the client's
 * identity (issue 11: a 411 from a known client names its MAC). */
static void
conn_framing_error(struct conn *c, const char *buf, uint16_t status,
    const char *why)
{
	const struct http_req *r = c->req;
	struct txn *t = txn_new(c);
	struct policy_in in;

	c->g->st.framing_errors++;
	c->rs = RS_STOP;
	c->linger = true;
	if (t == NULL) {
		c->ls = LS_CLOSING;
		return;
	}
	if (buf != NULL && r != NULL && r->method_len > 0 && r->target_len > 0)
		txn_describe(t, r, buf);
	else
		copy_field(t->method, sizeof(t->method), "-", 1);
	conn_identify(c, &in, NULL, 0);
	if (r != NULL)
		t->bytes_in = r->head_len > r->scan ? r->head_len : r->scan;
	else
		t->bytes_in = buf_len(&c->in);
	t->verdict = V_DENY;
	t->reason = "framing";
	txn_answer(c, t, status, why, NULL, true);
}

/* ------------------------------------------------------------------ */
/* Request bodies                                                      */
/* ------------------------------------------------------------------ */

/* The request body ended: read the next head, or wait for the upgrade's
 * answer, or stop; a collected form is answered now (which may free
 * its txn, so that comes last). */
static void
conn_body_done(struct conn *c)
{
	struct txn *t = c->rtxn;

	if (c->sink == SINK_UPSTREAM && t != NULL && t->upgrade)
		c->rs = RS_WAIT;
	else if (t != NULL && t->close_after)
		c->rs = RS_STOP;
	else
		c->rs = RS_HEAD;
	c->rtxn = NULL;
	c->t_wait = c->t_progress;
	free(c->rch);
	c->rch = NULL;
	if (c->sink == SINK_COLLECT && t != NULL)
		conn_portal_body(c, t);
}

/* Move, drop or keep n request body bytes at p; returns how many were
 * taken (0: wait). Content-Length bodies stop exactly at their end;
 * chunked ones pass the strict decoder; a long Content-Length body
 * relayed to an upstream that takes bytes goes on by splice. */
static size_t
conn_body(struct conn *c, const char *p, size_t n)
{
	size_t k = n;
	bool done = false;

	if (c->rbody == HTTP_BODY_LENGTH) {
		if (k > c->rleft)
			k = (size_t)c->rleft;
		c->rleft -= k;
		done = c->rleft == 0;
	} else {
		int rc = http_chunked_feed(c->rch, p, n, &k, &c->g->limits);
		if (rc == HTTP_ERROR) {
			/* The answer for this request is already decided; the
			 * only safe thing left is to stop and close. */
			if (c->rtxn && c->rtxn->error == NULL)
				c->rtxn->error = c->rch->why;
			if (c->rtxn)
				c->rtxn->close_after = true;
			c->g->st.framing_errors++;
			if (c->sink == SINK_UPSTREAM && c->up)
				relay_fail(c, c->rch->status, c->rch->why);
			c->rs = RS_STOP;
			c->linger = true;
			return n;
		}
		done = rc == HTTP_DONE;
	}
	if (c->rtxn)
		c->rtxn->bytes_in += k;
	switch (c->sink) {
	case SINK_UPSTREAM:
		if (c->up)
			relay_stage(c, p, k);
		if (!done && c->rbody == HTTP_BODY_LENGTH && c->up && c->up->upipe == NULL &&
		    relay_may_splice(c, c->rleft))
			c->up->upipe = relay_pipe_get(c->g);
		break;
	case SINK_DRAIN:
		/* issue 12: a body after a local answer is bounded in bytes
		 * (and in time, see conn_deadline) */
		c->drained += k;
		if (c->drained > DRAIN_MAX) {
			c->rs = RS_STOP;
			c->linger = true;
			if (c->ls == LS_OPEN)
				c->ls = LS_CLOSING;
			return n;
		}
		break;
	case SINK_COLLECT:
		c->rx_secret = true;
		if (c->rtxn && buf_append(&c->rtxn->collect, p, k) < 0) {
			c->ls = LS_DEAD;
			return n;
		}
		break;
	}
	if (done)
		conn_body_done(c);
	return k;
}

/* Called by relay.c when a spliced request body reached its end. */
void
conn_splice_body_done(struct conn *c)
{
	conn_body_done(c);
}

/* The client sent FIN. Requests already read are still answered, a head
 * in part can never complete; a body cut short must not reach an answer
 * as if it were whole (RFC 9112 §8): both sides close at once. */
static void
conn_client_eof(struct conn *c)
{
	buf_free(&c->in);
	if (c->rs == RS_BODY) {
		for (struct txn *t = c->qh; t != NULL; t = t->next)
			if (t->error == NULL)
				t->error = "request body cut short";
		if (c->sink == SINK_UPSTREAM || c->sink == SINK_COLLECT)
			c->ls = LS_DEAD;
		else
			c->rs = RS_STOP;
	}
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */
/* ------------------------------------------------------------------ */

/* Room for an answer of up to need bytes in the shared render space;
 * what is staged goes out first when it is short of room. */
static char *
conn_tx_room(struct conn *c, size_t need)
{
	if (IO_READ - conn_io.txlen < need)
		conn_write_client(c);
	return IO_READ - conn_io.txlen < need ? NULL : conn_io.tx + conn_io.txlen;
}

/* Hand an answer rendered at conn_io.tx + txlen (n bytes) to its txn:
 * staged at once when nothing is queued ahead of it (it goes out with
 * this event's one write), else kept until the answers ahead are out. */
static void
txn_take_answer(struct conn *c, struct txn *t, size_t n)
{
	char *p = conn_io.tx + conn_io.txlen;

	t->has_answer = true;
	if (c->qh == t) {
		conn_io.txlen += n;
		t->bytes_out = n;
		conn_stage_client(c, p, n);
		txn_done(c);
		return;
	}
	t->answer = malloc(n);
	if (t->answer == NULL) {
		t->close_after = true;
		t->error = "out of memory";
		return;
	}
	memcpy(t->answer, p, n);
	t->answer_len = (uint32_t)n;
}

/* Render t's local answer with the given status at the end of the
 * shared render space (*np bytes), and set its status and error; false
 * when there is no room (the connection is then LS_DEAD). now_s is the
 * Date's second. */
static bool
txn_render(struct conn *c, struct txn *t, unsigned status, const char *why,
    const char *location, bool close, int64_t now_s, size_t *np)
{
	struct reply_ctx rc = { .head = t->head, .close = close, .now_s = now_s };
	const size_t size = 16384;
	char *buf = conn_tx_room(c, size);
	size_t n = 0;

	if (buf == NULL) {
		c->ls = LS_DEAD;
		return false;
	}
	if (status == 511)
		n = reply_511(buf, size, &rc, location);
	else if (location != NULL)
		n = reply_302(buf, size, &rc, status, location);
	else
		n = reply_error(buf, size, &rc, status, why);
	if (n == 0) { /* the link did not fit: still answer, and close */
		rc.close = close = true;
		status = 500;
		n = reply_error(buf, size, &rc, status, "answer too large");
	}
	t->status = status;
	t->close_after = t->close_after || close;
	if (why && status >= 400 && t->error == NULL)
		t->error = why;
	*np = n;
	return true;
}

/* Answer t locally with the given status: rendered once, into the
 * shared render space. The answer cannot overtake an earlier relayed one
 * (responses keep request order). */
void
txn_answer(struct conn *c, struct txn *t, unsigned status, const char *why,
    const char *location, bool close)
{
	size_t n;

	if (txn_render(c, t, status, why, location, close, clock_wall_ms() / 1000, &n))
		txn_take_answer(c, t, n);
}

/* Store a complete answer built elsewhere (the portal) in a txn. One
 * larger than the render space (a splash with long terms) goes straight
 * to the client's queue when nothing is ahead of it, else waits in t. */
static void
txn_set_answer(struct conn *c, struct txn *t, const char *buf, size_t n,
    unsigned status, const char *why, bool close)
{
	char *dst;

	if (buf == NULL || n == 0) {
		txn_answer(c, t, 500, "answer too large", NULL, true);
		return;
	}
	t->status = status;
	t->close_after = t->close_after || close;
	if (why && t->error == NULL)
		t->error = why;
	if (n > IO_READ / 2) {
		t->has_answer = true;
		if (c->qh == t) {
			if (!conn_write_client(c) || buf_append(&c->out, buf, n) < 0) {
				c->ls = LS_DEAD;
				return;
			}
			t->bytes_out = n;
			txn_done(c);
		} else if ((t->answer = malloc(n)) != NULL) {
			memcpy(t->answer, buf, n);
			t->answer_len = (uint32_t)n;
		} else {
			c->ls = LS_DEAD;
		}
		return;
	}
	dst = conn_tx_room(c, n);
	if (dst == NULL) {
		c->ls = LS_DEAD;
		return;
	}
	memcpy(dst, buf, n);
	txn_take_answer(c, t, n);
}

/* The accept form's body is complete: let the portal answer. */
static void
conn_portal_body(struct conn *c, struct txn *t)
{
	struct reply_ctx rc = { .head = false, .close = t->close_after,
		.now_s = clock_wall_ms() / 1000 };
	size_t osize = portal_answer_size(c->g);
	char *out = malloc(osize);
	unsigned status = 500;
	const char *why = NULL;
	size_t n = 0;

	if (out != NULL)
		n = portal_answer(c->g, t->preq, buf_data(&t->collect), buf_len(&t->collect),
		    &rc, out, osize, &status, &why);
	buf_free(&t->collect);
	free(t->preq);
	t->preq = NULL;
	txn_set_answer(c, t, out, n, status, why, false);
	free(out);
}

/* Move local answers that are now at the front of the queue to the
 * client, so that none overtakes an earlier relayed answer. */
void
txn_flush_answers(struct conn *c)
{
	while (c->qh != NULL && c->qh->has_answer && c->ls == LS_OPEN) {
		struct txn *t = c->qh;
		char *p;

		if (t->answer_len > IO_READ / 2) {
			if (!conn_write_client(c) ||
			    buf_append(&c->out, t->answer, t->answer_len) < 0) {
				c->ls = LS_DEAD;
				return;
			}
			t->bytes_out = t->answer_len;
			txn_done(c);
			continue;
		}
		p = t->answer_len ? conn_tx_room(c, t->answer_len) : NULL;
		if (t->answer_len && p == NULL) {
			c->ls = LS_DEAD;
			return;
		}
		if (p != NULL) {
			memcpy(p, t->answer, t->answer_len);
			conn_io.txlen += t->answer_len;
			conn_stage_client(c, p, t->answer_len);
		}
		t->bytes_out = t->answer_len;
		txn_done(c);
	}
}

/* Release a transaction's memory. */
static void
txn_free(struct txn *t)
{
	free(t->answer);
	buf_free(&t->collect);
	free(t->preq);
	free(t);
}

/* Remove the head of the queue after its answer was handed to the
 * client, writing its audit line. */
void
txn_done(struct conn *c)
{
	struct txn *t = c->qh;

	txn_log(c, t);
	c->g->st.bytes_in += t->bytes_in;
	c->g->st.bytes_out += t->bytes_out;
	if (t->relayed)
		conn_account(c, 0, true);
	if (t->close_after && c->ls == LS_OPEN)
		c->ls = LS_CLOSING;
	if (c->rtxn == t)
		c->rtxn = NULL;
	c->qh = t->next;
	if (c->qh == NULL) {
		c->qt = NULL;
		if (c->rs == RS_HEAD)
			c->t_wait = c->t_progress;
	}
	c->nq--;
	txn_free(t);
}

/* ------------------------------------------------------------------ */
/* Writing to the client                                               */
/* ------------------------------------------------------------------ */

/* Add n bytes at p to what this event writes to the client. p must stay
 * valid until conn_write_client (a read buffer or the render space). */
void
conn_stage_client(struct conn *c, const char *p, size_t n)
{
	struct stage *s = &conn_io.cst;

	if (n == 0)
		return;
	if (s->n > 0 && (const char *)s->v[s->n - 1].iov_base +
	    s->v[s->n - 1].iov_len == p) {
		s->v[s->n - 1].iov_len += n;
	} else {
		if (s->n == IO_STAGE && !conn_write_client(c))
			return;
		s->v[s->n].iov_base = (void *)(uintptr_t)p;
		s->v[s->n].iov_len = n;
		s->n++;
	}
	s->len += n;
}

/* Write out (what an earlier write left) and then the staged pieces to
 * fd at once: one send(2) for one piece, one writev(2) for several. What
 * the kernel does not take is appended to out; with `queue` nothing is
 * written now, only queued. The stage is emptied. The bytes written (0
 * on EAGAIN), or -1 when the socket failed or memory ran out. Both sides
 * of a connection write through here. */
ssize_t
io_write(int fd, struct wk_buf *out, struct stage *s, bool queue)
{
	struct iovec v[IO_STAGE + 1];
	size_t olen = buf_len(out), skip;
	ssize_t n = 0;
	int nv = 0;

	if (olen + s->len == 0)
		return 0;
	if (!queue) {
		if (olen > 0) {
			v[nv].iov_base = buf_data(out);
			v[nv++].iov_len = olen;
		}
		memcpy(v + nv, s->v, (size_t)s->n * sizeof(v[0]));
		nv += s->n;
		do
			n = nv == 1 ? send(fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL)
				    : writev(fd, v, nv);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			s->n = 0;
			s->len = 0;
			return -1;
		}
		if (n < 0)
			n = 0;
	}
	skip = (size_t)n < olen ? 0 : (size_t)n - olen;
	buf_consume(out, (size_t)n < olen ? (size_t)n : olen);
	for (int i = 0; i < s->n; i++) {
		size_t l = s->v[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (buf_append(out, (char *)s->v[i].iov_base + skip, l - skip) < 0)
			n = -1;
		skip = 0;
	}
	s->n = 0;
	s->len = 0;
	return n;
}

/* Write what is queued for the client (c->out, then this event's staged
 * bytes) at once; what the kernel does not take is kept and EV_WRITE
 * waits for room. False when the client is gone (the connection is then
 * LS_DEAD). */
bool
conn_write_client(struct conn *c)
{
	ssize_t n;

	if (c->ls == LS_DEAD) {
		conn_io.cst.n = 0;
		conn_io.cst.len = 0;
	} else if (buf_len(&c->out) + conn_io.cst.len == 0) {
		/* nothing to write: wblocked may be a splice's EAGAIN */
	} else if ((n = io_write(c->fd, &c->out, &conn_io.cst, c->wblocked)) < 0) {
		c->ls = LS_DEAD;
	} else {
		if (n > 0)
			conn_progress(c);
		c->wblocked = buf_len(&c->out) > 0;
	}
	conn_io.txlen = 0;
	return c->ls != LS_DEAD;
}

/* Count relayed bytes against the client's session (quota, idle) in
 * batches, and at least once a second while they flow, so that a long
 * download or tunnel uses its quota as it goes; relay_close counts the
 * rest. */
void
conn_account(struct conn *c, uint64_t n, bool now)
{
	struct upstream *u = c->up;

	if (u == NULL)
		return;
	u->acct += n;
	if (u->acct == 0)
		return;
	if (!now && u->acct < ACCOUNT_BYTES && c->t_progress - u->t_account < ACCOUNT_MS)
		return;
	if (c->has_mac)
		grant_account(c->g, &c->mac, u->acct);
	u->acct = 0;
	u->t_account = c->t_progress;
}

/* ------------------------------------------------------------------ */
/* After every event                                                   */
/* ------------------------------------------------------------------ */

/* Log and forget requests that will never be answered because the
 * connection is closing (an earlier answer said close, or the upstream
 * went away after answering): the client retries them elsewhere. */
static void
conn_drop_queue(struct conn *c)
{
	while (c->qh) {
		struct txn *t = c->qh;
		if (t->error == NULL)
			t->error = "not answered: connection closing";
		c->qh = t->next;
		txn_log(c, t);
		txn_free(t);
	}
	c->qt = c->rtxn = NULL;
	c->nq = 0;
	if (c->up)
		relay_close(c);
}

/* True when the connection relays something right now: a request or
 * answer in flight to or from the upstream, a request body, or a tunnel. */
static bool
conn_relaying(const struct conn *c)
{
	if (c->rs == RS_TUNNEL || c->rs == RS_WAIT ||
	    (c->rs == RS_BODY && c->sink == SINK_UPSTREAM))
		return true;
	for (const struct txn *t = c->qh; t != NULL; t = t->next)
		if (t->relayed)
			return true;
	return false;
}

/* True when the client socket should be read now. */
static bool
conn_wants_read(const struct conn *c)
{
	const struct upstream *u = c->up;

	if (c->ls == LS_LINGER)
		return true;
	if (c->client_eof || c->ls != LS_OPEN)
		return false;
	switch (c->rs) {
	case RS_HEAD:
		return conn_can_frame(c) && !c->in_wait;
	case RS_BODY:
		if (c->sink != SINK_UPSTREAM || u == NULL)
			return buf_len(&c->out) <= ANSWER_HIGH;
		/* FALLTHROUGH */
	case RS_TUNNEL:
		return u != NULL && u->us == US_OPEN && buf_len(&u->out) == 0 &&
		    !u->wblocked && (u->upipe == NULL || relay_pipe_empty(u->upipe));
	case RS_WAIT:
		return false;
	case RS_STOP:
		return true; /* discard, and see the client's FIN */
	}
	return false;
}

/* Add the client event for exactly the directions wanted. */
static void
conn_update(struct conn *c)
{
	short mask = (conn_wants_read(c) ? EV_READ : 0) | (c->wblocked ? EV_WRITE : 0);

	if (mask == c->evmask)
		return;
	event_del(&c->ev);
	event_assign(&c->ev, c->g->base, c->fd, mask | EV_PERSIST, conn_on_event, c);
	c->evmask = mask;
	if (mask != 0 && event_add(&c->ev, NULL) < 0)
		log_debug("cannot add a client event; its deadline will close it");
}

/* Our side is done writing: read and discard for a moment so that a
 * client still sending does not get an RST that destroys the answer it
 * has not read yet (RFC 9112 §9.6). */
static void
conn_linger(struct conn *c)
{
	if (c->up)
		relay_close(c);
	if (c->client_eof || shutdown(c->fd, SHUT_WR) < 0) {
		c->ls = LS_DEAD;
		return;
	}
	c->ls = LS_LINGER;
	c->t_wait = clock_mono_ms();
}

/* Work out what the connection does next after any event: write what
 * the event produced, pass half-closes on, close when done, then add the
 * events and the deadline it now needs. This is the last call of every
 * callback, because it may free the connection. */
void
conn_pump(struct conn *c)
{
	bool done, resume = false;

	/* Requests that waited for room: framed in rounds, each written
	 * before the next (answers staged count against ANSWER_HIGH); more
	 * than a few rounds wait for the next loop pass, for fairness. */
	for (int round = 0; c->ls == LS_OPEN && c->in_wait; round++) {
		if (conn_io.cst.len > 0 && !conn_write_client(c))
			break;
		if (!conn_can_frame(c))
			break;
		if (round == RESUME_ROUNDS) {
			resume = true;
			break;
		}
		conn_read(c, false);
	}
	if (c->up && c->ls != LS_DEAD)
		relay_flush(c);
	if (c->ls != LS_DEAD)
		txn_flush_answers(c);
	if (c->ls != LS_DEAD)
		conn_write_client(c);
	if (c->ls == LS_DEAD) {
		conn_free(c);
		return;
	}
	if (c->ls == LS_LINGER)
		goto events;
	if (c->ls == LS_CLOSING)
		conn_drop_queue(c);
	/* Half-closes are passed on once everything before them is out. */
	if (c->client_eof && c->up && c->up->us == US_OPEN && !c->up->shut &&
	    buf_len(&c->up->out) == 0 && (c->up->upipe == NULL || relay_pipe_empty(c->up->upipe))) {
		if (shutdown(c->up->fd, SHUT_WR) < 0)
			log_debug("upstream shutdown: %s", strerror(errno));
		c->up->shut = true;
	}
	if (c->rs == RS_TUNNEL) {
		if (!c->c_shut && (c->up == NULL || c->up->eof) && buf_len(&c->out) == 0 &&
		    (c->up == NULL || c->up->pipe == NULL || relay_pipe_empty(c->up->pipe))) {
			if (shutdown(c->fd, SHUT_WR) < 0)
				log_debug("client shutdown: %s", strerror(errno));
			c->c_shut = true;
		}
		if (c->c_shut && (c->up == NULL || c->up->shut)) {
			conn_free(c);
			return;
		}
		goto events;
	}
	done = c->ls == LS_CLOSING || c->rs == RS_STOP || c->client_eof || c->stop_after;
	if (done && c->qh == NULL && buf_len(&c->out) == 0 &&
	    !(c->rs == RS_BODY && c->sink == SINK_UPSTREAM)) {
		if (c->client_eof || !c->linger) {
			conn_free(c);
			return;
		}
		conn_linger(c);
		if (c->ls == LS_DEAD) {
			conn_free(c);
			return;
		}
	}
events:
	conn_update(c);
	if (c->up)
		relay_update(c);
	conn_arm(c);
	if (resume) /* after conn_update: a del there would cancel it */
		event_active(&c->ev, EV_READ, 1);
}

/* ------------------------------------------------------------------ */
/* Timeouts                                                            */
/* ------------------------------------------------------------------ */

/* The next moment something times out (mono ms), or 0: lingering ends,
 * an upstream connect gives up, a relay with no progress either way is
 * idle, a local answer's body drain ends, a head must be complete. */
static uint64_t
conn_deadline(const struct conn *c)
{
	const struct wk_conf *cf = c->g->conf;
	uint64_t d = 0, idle = c->t_progress + (uint64_t)cf->idle_timeout * 1000;
	uint64_t hdr = c->t_wait + (uint64_t)cf->header_timeout * 1000;

	if (c->ls == LS_LINGER)
		return c->t_wait + LINGER_SECS * 1000;
	if (c->up && c->up->us == US_CONNECTING)
		d = c->up->t_connect + (uint64_t)cf->upstream_connect_timeout * 1000;
	if (conn_relaying(c) || c->wblocked || (c->up && c->up->wblocked))
		d = d == 0 || idle < d ? idle : d;
	else if (c->rs == RS_BODY || (c->rs == RS_HEAD && c->qh == NULL))
		d = d == 0 || hdr < d ? hdr : d;
	return d;
}

/* Add the timer for the earliest deadline of all connections. A timer
 * already set to fire earlier stays: it comes due, finds nothing (or
 * less) to do and is set again, so that a new connection, whose deadline
 * is usually the latest, costs no timer work (the heap's own rule, one
 * level up). */
static void
conn_timer_update(void)
{
	uint64_t first = dheap_first(&deadlines), now;
	struct timeval tv;

	if (first == 0 || (deadline_ev_at != 0 && deadline_ev_at <= first))
		return;
	now = clock_mono_ms();
	tv.tv_sec = first > now ? (time_t)((first - now) / 1000) : 0;
	tv.tv_usec = first > now ? (suseconds_t)((first - now) % 1000) * 1000 : 0;
	if (event_add(deadline_ev, &tv) == 0)
		deadline_ev_at = first;
}

/* Put the connection's next deadline in the heap. A later deadline
 * leaves an earlier entry in place: it comes due, finds nothing to do,
 * and is moved on, so steady traffic costs no timer work at all (libevent's
 * own timeouts on the socket event would be pushed back at every read). */
static void
conn_arm(struct conn *c)
{
	uint64_t d = conn_deadline(c);

	if (d == 0 || (c->armed != 0 && c->armed <= d))
		return;
	if (dheap_set(&deadlines, &c->hidx, d, c) < 0) {
		c->ls = LS_DEAD; /* no timeout is no option: let it go */
		return;
	}
	c->armed = d;
	conn_timer_update();
}

/* The timer: every connection whose deadline is due acts on it. */
static void
conn_on_deadlines(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = clock_mono_ms();
	struct conn *c;

	(void)fd;
	(void)what;
	(void)arg;
	deadline_ev_at = 0;
	while ((c = dheap_pop_due(&deadlines, now)) != NULL) {
		c->armed = 0;
		conn_on_timeout(c);
		conn_pump(c);
	}
	conn_timer_update();
}

/* The alarm went off: act on whatever is due. */
static void
conn_on_timeout(struct conn *c)
{
	const struct wk_conf *cf = c->g->conf;
	uint64_t now = clock_mono_ms(), d = conn_deadline(c);
	struct txn *t = c->qh;

	if (d == 0 || now < d)
		return; /* nothing due yet: conn_pump arms it again */
	c->g->st.timeouts++;
	if (c->ls == LS_LINGER) {
		c->ls = LS_DEAD;
		return;
	}
	if (c->up && c->up->us == US_CONNECTING &&
	    now >= c->up->t_connect + (uint64_t)cf->upstream_connect_timeout * 1000) {
		relay_fail(c, 504, "upstream connect timeout");
		return;
	}
	if (conn_relaying(c) || c->wblocked || (c->up && c->up->wblocked)) {
		/* idle: nothing moved either way for idle_timeout */
		if (t != NULL && t->relayed && !t->sent && c->rs != RS_BODY) {
			relay_fail(c, 504, "upstream idle timeout");
			return;
		}
		for (; t != NULL; t = t->next)
			if (t->error == NULL)
				t->error = "idle timeout";
		c->ls = LS_DEAD;
		return;
	}
	if (c->rs == RS_BODY) { /* a drained or collected body took too long */
		if (c->rtxn && c->rtxn->error == NULL)
			c->rtxn->error = "request body not completed in time";
		c->rs = RS_STOP;
		c->linger = false; /* its answer went out header_timeout ago */
		if (c->ls == LS_OPEN && c->sink == SINK_COLLECT)
			c->ls = LS_DEAD;
		else if (c->ls == LS_OPEN)
			c->ls = LS_CLOSING;
		return;
	}
	if (c->rs == RS_HEAD && c->qh == NULL) {
		if (buf_len(&c->in) == 0) { /* an idle connection just closes */
			c->ls = LS_DEAD;
			return;
		}
		conn_framing_error(c, NULL, 408, "request head not completed in time");
		buf_free(&c->in);
		conn_req_done(c);
	}
}

/* ------------------------------------------------------------------ */
/* Sessions ending, stopping                                           */
/* ------------------------------------------------------------------ */

/* Decide a connection again, as its next request head would be, against
 * the current sessions and configuration: true when still forwarded. */
static bool
conn_still_admitted(struct conn *c)
{
	struct policy_in in;
	const char *why;

	conn_identify(c, &in, NULL, 0);
	return policy_decide(&in, &why) == V_FORWARD;
}

/* conn_client_ended's pass: every marked connection that relays for a
 * client no longer admitted is closed, answers in flight included (the
 * router opened the upstream itself, so the firewall cannot cut it); one
 * that is idle keeps its client socket, drops its upstream and answers
 * 511 at its next head, since every head is decided anew. */
static void
conn_on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	bool all = g->recheck_all;
	struct conn *c, *next;

	(void)fd;
	(void)what;
	g->recheck_all = false;
	for (c = g->conns; c != NULL; c = next) {
		next = c->next;
		if (!all && !c->recheck)
			continue;
		c->recheck = false;
		if (c->ls == LS_LINGER || conn_still_admitted(c))
			continue;
		if (!conn_relaying(c)) {
			if (c->up)
				relay_close(c);
			continue;
		}
		for (struct txn *t = c->qh; t != NULL; t = t->next)
			if (t->error == NULL)
				t->error = "session ended";
		log_debug("session ended; closing a relayed connection");
		conn_free(c);
	}
}

/* Mark the connections of mac (NULL: all of them) to be decided again
 * in this loop pass. Deferred, so that callers in the middle of changing
 * the session table (expiry sweep, revoke) never see a connection freed
 * under them. */
void
conn_client_ended(struct gate *g, const struct wk_mac *mac)
{
	if (g->recheck == NULL) {
		g->recheck = event_new(g->base, -1, 0, conn_on_recheck, g);
		if (g->recheck == NULL) {
			log_err("cannot schedule the session-end check");
			return;
		}
	}
	if (mac == NULL)
		g->recheck_all = true;
	else
		for (struct conn *c = g->conns; c != NULL; c = c->next)
			if (c->has_mac && addr_mac_equal(&c->mac, mac))
				c->recheck = true;
	event_active(g->recheck, EV_TIMEOUT, 1);
}

/* Graceful stop (SIGTERM): idle connections close now, tunnels too;
 * the others finish the answers in flight and then close. */
void
conn_stop_all(struct gate *g)
{
	struct conn *c, *next;

	for (c = g->conns; c != NULL; c = next) {
		next = c->next;
		c->stop_after = true;
		if (c->rs == RS_TUNNEL || (c->qh == NULL && buf_len(&c->out) == 0 &&
		    !(c->rs == RS_BODY && c->sink == SINK_UPSTREAM)))
			conn_free(c);
	}
}

/* ------------------------------------------------------------------ */
/* The end: free, and the audit line                                   */
/* ------------------------------------------------------------------ */

/* Give freed heap memory back to the system once connections that held
 * buffers (a pipelined flood that never read its answers) have released
 * a few MiB: glibc would otherwise keep the fragmented heap resident. */
static void
conn_trim(size_t freed)
{
	static size_t since;

	since += freed;
	if (since >= TRIM_AFTER) {
		malloc_trim(0);
		since = 0;
	}
}

/* Release a connection and everything it owns: both sockets, its
 * buffers, its pipe and every queued transaction (each logged). The only
 * place a conn is freed. */
void
conn_free(struct conn *c)
{
	struct gate *g = c->g;

	while (c->qh) {
		struct txn *t = c->qh;
		c->qh = t->next;
		if (t->error == NULL) /* never answered: logged with status 0 */
			t->error = "not answered: connection closed";
		txn_log(c, t);
		txn_free(t);
	}
	if (c->up)
		relay_close(c);
	dheap_remove(&deadlines, &c->hidx);
	event_del(&c->ev);
	if (c->shed) { /* the short close of limits: reset, send nothing */
		struct linger lg = { 1, 0 };
		if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			log_debug("SO_LINGER: %s", strerror(errno));
	}
	close(c->fd);
	limiter_release(g->lim, c->lim_hold);
	conn_trim((size_t)c->in.cap + c->out.cap);
	buf_free(&c->in);
	buf_free(&c->out);
	conn_req_done(c);
	free(c->rch);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->nconns--;
	free(c);
}

/* Close a connection the limiter chose to make room for a lighter client
 * (the gate is full, or out of descriptors): reset, like a refusal. */
void
conn_shed(struct gate *g, void *conn)
{
	struct conn *c = conn;

	(void)g;
	c->shed = true;
	conn_free(c);
}

/* Free every connection (shutdown). */
void
conn_free_all(struct gate *g)
{
	while (g->conns)
		conn_free(g->conns);
	if (g->recheck != NULL)
		event_free(g->recheck);
	g->recheck = NULL;
	if (deadline_ev != NULL)
		event_free(deadline_ev);
	deadline_ev = NULL;
	deadline_ev_at = 0;
	dheap_free(&deadlines);
	relay_pipes_free();
}

/* The connection's members of the last audit line (client_ip to dst,
 * audit_format_who) and what they were made of: consecutive lines are
 * mostly of one client, through one interface, to one destination. */
static struct {
	bool valid, has_mac, mac_random, has_iface;
	struct wk_ip client;
	union conn_sa dst;
	struct wk_mac mac;
	char iface[64];
	size_t len;
	char who[WK_IP_STRLEN + WK_SA_STRLEN + WK_MAC_STRLEN + 160];
} log_memo;

/* Give r the connection's members of c's audit line: log_memo's, made
 * again when c differs in one of them. r's client_ip, dst and mac point
 * to the caller's buffers, which are filled then; when the members do not
 * fit the memo (an odd interface name), r->who stays NULL and the line
 * formats them itself. */
static void
txn_log_who(const struct conn *c, struct audit_req *r, char *cip, char *dst,
    char *mac)
{
	const char *iface = r->iface;

	if (log_memo.valid && addr_ip_equal(&log_memo.client, &c->client) &&
	    conn_sa_same(&log_memo.dst, &c->dst) &&
	    log_memo.has_mac == c->has_mac &&
	    (!c->has_mac || addr_mac_equal(&log_memo.mac, &c->mac)) &&
	    log_memo.mac_random == c->mac_random &&
	    log_memo.has_iface == (iface != NULL) &&
	    (iface == NULL || strcmp(log_memo.iface, iface) == 0)) {
		r->who = log_memo.who;
		r->who_len = log_memo.len;
		return;
	}
	addr_ip_format(&c->client, cip);
	addr_sa_format(&c->dst.sa, dst);
	if (c->has_mac)
		addr_mac_format(&c->mac, mac);
	log_memo.valid = false;
	if (iface != NULL && strlen(iface) >= sizeof(log_memo.iface))
		return;
	log_memo.len = audit_format_who(log_memo.who, sizeof(log_memo.who), r);
	if (log_memo.len == 0)
		return;
	log_memo.client = c->client;
	log_memo.dst = c->dst;
	log_memo.has_mac = c->has_mac;
	if (c->has_mac)
		log_memo.mac = c->mac;
	log_memo.mac_random = c->mac_random;
	log_memo.has_iface = iface != NULL;
	if (iface != NULL)
		strcpy(log_memo.iface, iface);
	log_memo.valid = true;
	r->who = log_memo.who;
	r->who_len = log_memo.len;
}

/* Write the audit record of a finished transaction, straight into the
 * audit queue of this loop pass. */
static void
txn_log(struct conn *c, const struct txn *t)
{
	char cip[WK_IP_STRLEN], dst[WK_SA_STRLEN], mac[WK_MAC_STRLEN];
	struct audit_req r = {
		.ts_ms = clock_wall_ms(),
		.client_ip = cip,
		.iface = ident_ifname(c->g, c->ifindex),
		.mac = c->has_mac ? mac : NULL,
		.mac_random = c->mac_random,
		.dst = dst,
		.method = t->method,
		.host = t->has_host ? t->host : NULL,
		.path = t->path,
		.verdict = policy_verdict_name(t->verdict),
		.reason = t->reason,
		.status = t->status,
		.upstream_status = t->upstream_status,
		.bytes_in = t->bytes_in,
		.bytes_out = t->bytes_out,
		.error = t->error,
	};
	char *line = audit_line_begin(AUDIT_LINE_MAX);

	gate_count_request(c->g, t->verdict);
	if (line == NULL)
		return;
	txn_log_who(c, &r, cip, dst, mac);
	r.ms = r.ts_ms > t->t0_ms ? (uint64_t)(r.ts_ms - t->t0_ms) : 0;
	audit_line_end(audit_format_request(line, AUDIT_LINE_MAX, &r));
}
