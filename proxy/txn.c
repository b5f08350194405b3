/* txn: the client side of an intercepted connection -- accept, its
 * requests framed one by one, each decided, answered locally or handed to
 * the relay (relay.c), answers kept in request order, one audit line per
 * request. conn_free is the only function that frees a connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "audit.h"
#include "clock.h"
#include "garden.h"
#include "gate.h"
#include "grant.h"
#include "limiter.h"
#include "log.h"
#include "origdst.h"
#include "portal.h"
#include "reply.h"
#include "txn.h"

static void conn_on_client_read(struct bufferevent *bev, void *arg);
static void conn_on_client_write(struct bufferevent *bev, void *arg);
static void conn_on_client_event(struct bufferevent *bev, short what, void *arg);

/* Copy at most n bytes into a fixed field, NUL-terminated. */
static void
copy_field(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Write the audit record of a finished transaction. */
static void
txn_log(struct conn *c, const struct txn *t)
{
	char line[AUDIT_LINE_MAX];
	struct audit_req r = {
		.ts_ms = clock_wall_ms(),
		.client_ip = c->cip_s,
		.iface = ident_ifname(c->g, c->id.ifindex),
		.mac = c->id.mac ? c->mac_s : NULL,
		.mac_random = c->mac_random,
		.dst = c->dst_s,
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
	int64_t now = r.ts_ms;
	size_t n;

	r.ms = now > t->t0_ms ? (uint64_t)(now - t->t0_ms) : 0;
	n = audit_format_request(line, sizeof(line), &r);
	gate_count_request(c->g, t->verdict);
	audit_write(line, n);
}

/* Allocate a transaction and append it to the answer queue. */
static struct txn *
txn_new(struct conn *c)
{
	struct txn *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->t0_ms = clock_wall_ms();
	t->reason = "";
	if (c->qt)
		c->qt->next = t;
	else
		c->qh = t;
	c->qt = t;
	c->nq++;
	return t;
}

/* Release a transaction's memory. */
static void
txn_free(struct txn *t)
{
	if (t->answer)
		evbuffer_free(t->answer);
	if (t->collect)
		evbuffer_free(t->collect);
	free(t->preq);
	free(t);
}

/* Remove the head of the queue after its answer was delivered, logging it. */
void
txn_done(struct conn *c)
{
	struct txn *t = c->qh;

	txn_log(c, t);
	if (t->relayed && c->id.mac)
		grant_account(c->g, c->id.mac, t->bytes_in + t->bytes_out);
	c->g->st.bytes_in += t->bytes_in;
	c->g->st.bytes_out += t->bytes_out;
	if (t->close_after && c->ls == LS_OPEN)
		c->ls = LS_CLOSING;
	if (c->rtxn == t)
		c->rtxn = NULL;
	c->qh = t->next;
	if (c->qh == NULL)
		c->qt = NULL;
	c->nq--;
	txn_free(t);
}

/* Turn a transaction into a locally generated answer of the given status:
 * the bytes wait in t->answer until every earlier answer has gone out. */
void
txn_answer(struct txn *t, unsigned status, const char *why,
    const char *location, bool close)
{
	char buf[16384];
	struct reply_ctx rc = { .head = t->head, .close = close,
		.now_s = clock_wall_ms() / 1000 };
	size_t n;

	if (status == 511)
		n = reply_511(buf, sizeof(buf), &rc, location);
	else if (location != NULL)
		n = reply_302(buf, sizeof(buf), &rc, status, location);
	else
		n = reply_error(buf, sizeof(buf), &rc, status, why);
	if (n == 0) { /* the link did not fit: still answer, and close */
		rc.close = close = true;
		status = 500;
		n = reply_error(buf, sizeof(buf), &rc, status, "answer too large");
	}
	if (t->answer == NULL)
		t->answer = evbuffer_new();
	if (t->answer == NULL || evbuffer_add(t->answer, buf, n) < 0)
		close = true;
	t->status = status;
	t->close_after = t->close_after || close;
	if (why && status >= 400 && t->error == NULL)
		t->error = why;
}

/* Build the portal link for this request: the URL the user wanted
 * (absolute-form target, or Host plus target, or the destination address)
 * handed to portal_link. Returns -1 when it does not fit. */
static int
conn_link(struct conn *c, const char *target, size_t tlen, const char *host,
    size_t hlen, char *out, size_t size)
{
	char want[2048], gh[WK_SA_STRLEN];
	int n;

	if (tlen > 0 && target[0] != '/')
		n = snprintf(want, sizeof(want), "%.*s", (int)tlen, target);
	else if (hlen > 0)
		n = snprintf(want, sizeof(want), "http://%.*s%.*s", (int)hlen, host,
		    (int)tlen, target);
	else
		n = snprintf(want, sizeof(want), "http://%s%.*s", c->dst_s, (int)tlen,
		    target);
	if (n < 0 || (size_t)n >= sizeof(want))
		want[0] = '\0'; /* too long to carry: the portal shows its home */
	addr_sa_url_host(&c->local.sa, gh);
	return portal_link(c->g, &c->id, want, gh, out, size);
}

/* Store a complete answer built elsewhere (the portal) in a txn. */
static void
txn_set_answer(struct txn *t, const char *buf, size_t n, unsigned status,
    const char *why, bool close)
{
	if (t->answer == NULL)
		t->answer = evbuffer_new();
	if (t->answer == NULL || n == 0 || evbuffer_add(t->answer, buf, n) < 0) {
		if (t->answer)
			evbuffer_drain(t->answer, evbuffer_get_length(t->answer));
		txn_answer(t, 500, "answer too large", NULL, true);
		return;
	}
	t->status = status;
	t->close_after = t->close_after || close;
	if (why && t->error == NULL)
		t->error = why;
}

/* Answer a request to the gate's own pages, now or (for the accept form)
 * once its body has been collected. */
static void
conn_portal(struct conn *c, struct txn *t, const char *buf)
{
	const struct http_req *r = &c->req;
	struct portal_req *pr = calloc(1, sizeof(*pr));
	struct reply_ctx rc = { .head = t->head, .close = r->close,
		.now_s = clock_wall_ms() / 1000 };
	size_t osize = portal_answer_size(c->g);
	char *out;
	unsigned status = 500;
	const char *why = NULL;
	size_t n = 0;

	if (pr == NULL || r->target_len > PORTAL_TARGET_MAX) {
		free(pr);
		txn_answer(t, pr ? 414 : 500, pr ? "target too long for the portal"
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
	pr->have_mac = c->id.mac != NULL && !c->id.mac_conflict;
	if (pr->have_mac)
		pr->mac = *c->id.mac;
	pr->client = c->id.client;
	addr_sa_url_host(&c->local.sa, pr->gate_host);
	if (r->body == HTTP_BODY_LENGTH && portal_wants_body(pr) > 0) {
		t->collect = evbuffer_new();
		if (t->collect != NULL) {
			t->preq = pr;
			/* RFC 9110 §10.1.1: a client waiting for 100 gets it, if
			 * no earlier answer is still due (order is kept). */
			if (r->expect_continue && c->qh == t)
				evbuffer_add(bufferevent_get_output(c->cb),
				    "HTTP/1.1 100 Continue\r\n\r\n", 25);
			return;
		}
	}
	/* The splash holds the operator's terms: sized by the portal. */
	if ((out = malloc(osize)) != NULL)
		n = portal_answer(c->g, pr, NULL, 0, &rc, out, osize, &status, &why);
	free(pr);
	txn_set_answer(t, out, n, status, why, r->close);
	free(out);
}

/* The accept form's body is complete: let the portal answer. */
static void
conn_portal_body(struct conn *c, struct txn *t)
{
	struct reply_ctx rc = { .head = false, .close = t->close_after,
		.now_s = clock_wall_ms() / 1000 };
	size_t blen = evbuffer_get_length(t->collect);
	const char *body = (const char *)evbuffer_pullup(t->collect, -1);
	size_t osize = portal_answer_size(c->g);
	char *out = malloc(osize);
	unsigned status = 500;
	const char *why = NULL;
	size_t n = 0;

	if (body != NULL && out != NULL)
		n = portal_answer(c->g, t->preq, body, blen, &rc, out, osize,
		    &status, &why);
	txn_set_answer(t, out, n, status, why, false);
	free(out);
	evbuffer_free(t->collect);
	t->collect = NULL;
	free(t->preq);
	t->preq = NULL;
}

/* Stop or resume reading from a bufferevent for backpressure. */
void
conn_throttle(struct bufferevent *bev, bool *paused, bool pause)
{
	if (bev == NULL || *paused == pause)
		return;
	*paused = pause;
	if (pause)
		bufferevent_disable(bev, EV_READ);
	else
		bufferevent_enable(bev, EV_READ);
}

/* A 511 or 302 over the client's client_511_rate: the request is not
 * answered (nor audited: stats count it) and the connection is reset, so
 * a flood of requests costs the gate a reset, not a page each. */
static void
conn_shed_answer(struct conn *c, struct txn *t)
{
	static struct log_rate rl = LOG_RATE(5, 10000);
	struct txn **p = &c->qh;

	c->g->st.shed_511++;
	log_info_rated(&rl, "%s: client_511_rate exceeded: connection reset", c->cip_s);
	while (*p != t) /* t is the last of the queue: take it out unlogged */
		p = &(*p)->next;
	*p = NULL;
	c->qt = c->qh == NULL ? NULL : c->qt;
	for (struct txn *q = c->qh; q != NULL; q = q->next)
		c->qt = q;
	c->nq--;
	if (c->rtxn == t)
		c->rtxn = NULL;
	txn_free(t);
	c->shed = true;
	c->rs = RS_STOP;
}

/* Decide a complete request head and queue its answer or relay it. */
static void
conn_request(struct conn *c, struct evbuffer *in, const char *buf)
{
	const struct http_req *r = &c->req;
	struct txn *t = txn_new(c);
	const char *target = buf + r->target_off, *q;
	size_t plen;
	char link[4096];

	evtimer_del(c->timer); /* the head arrived in time */
	if (t == NULL) {
		c->rs = RS_STOP;
		c->ls = LS_CLOSING;
		return;
	}
	copy_field(t->method, sizeof(t->method), buf + r->method_off, r->method_len);
	if (r->n_host) {
		copy_field(t->host, sizeof(t->host), buf + r->host_off, r->host_len);
		t->has_host = true;
	}
	q = memchr(target, '?', r->target_len);
	plen = q ? (size_t)(q - target) : r->target_len;
	copy_field(t->path, sizeof(t->path), target, plen);
	t->head = http_token_eq(t->method, strlen(t->method), "head");
	t->upgrade = r->upgrade;
	t->bytes_in = r->head_len;

	c->id.path = target;
	c->id.path_len = plen;
	c->id.conf = c->g->conf; /* a reload applies from the next request */
	c->id.dst_in_garden_dns = garden_match(c->g->garden, &c->id.dst);
	if (c->g->identify)
		c->g->identify(c->g, &c->id);
	t->verdict = policy_decide(&c->id, &t->reason);
	if ((t->verdict == V_DENY || t->verdict == V_PROBE) &&
	    !limiter_answer(c->g->lim, c->lim_hold, clock_mono_ms())) {
		conn_shed_answer(c, t);
		return;
	}
	if (c->id.mac) {
		addr_mac_format(c->id.mac, c->mac_s);
		c->mac_random = c->id.mac_random;
	}
	c->rbody = r->body;
	c->rleft = r->content_length;
	http_chunked_init(&c->rch);
	c->rtxn = t;

	if (t->verdict == V_FORWARD && relay_open(c) == 0) {
		t->relayed = true;
		/* Byte for byte: the validated head goes out as received. */
		evbuffer_remove_buffer(in, bufferevent_get_output(c->ub), r->head_len);
		t->close_after = r->close;
		c->rs = r->body == HTTP_BODY_NONE ? (r->upgrade ? RS_WAIT : RS_HEAD) : RS_BODY;
		if (r->close && c->rs == RS_HEAD)
			c->rs = RS_STOP;
		return;
	}
	/* target and host point into `in`: build the answer before draining. */
	switch (t->verdict) {
	case V_FORWARD:
		c->g->st.upstream_errors++;
		txn_answer(t, 502, "cannot open upstream connection", NULL, true);
		break;
	case V_PROBE:
		if (conn_link(c, target, r->target_len, buf + r->host_off,
			r->host_len, link, sizeof(link)) < 0)
			link[0] = '\0';
		txn_answer(t, 302, NULL, link, r->close);
		break;
	case V_PORTAL:
		conn_portal(c, t, buf);
		break;
	case V_DENY:
		if (conn_link(c, target, r->target_len, buf + r->host_off,
			r->host_len, link, sizeof(link)) < 0)
			link[0] = '\0';
		txn_answer(t, 511, NULL, link, r->close);
		break;
	}
	evbuffer_drain(in, r->head_len);
	/* RFC 9110 §10.1.1: with 100-continue the client may never send the
	 * body once it has our final answer, so do not wait for it: close. */
	if (r->expect_continue && r->body != HTTP_BODY_NONE && t->collect == NULL) {
		t->close_after = true;
		c->rs = RS_STOP;
		return;
	}
	c->rs = r->body == HTTP_BODY_NONE ? RS_HEAD : RS_BODY;
	if (r->close && c->rs == RS_HEAD)
		c->rs = RS_STOP;
}

/* A request broke a framing rule: answer with its status and close, and
 * never read the bytes after it as a request (design: framing policy).
 * buf (may be NULL) holds the head so far: what the framer already
 * understood of it goes into the audit record. */
static void
conn_framing_error(struct conn *c, const char *buf, uint16_t status,
    const char *why)
{
	const struct http_req *r = &c->req;
	struct txn *t = txn_new(c);

	c->g->st.framing_errors++;
	c->rs = RS_STOP;
	if (t == NULL) {
		c->ls = LS_CLOSING;
		return;
	}
	if (buf != NULL && r->method_len > 0 && r->target_len > 0) {
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
	} else {
		copy_field(t->method, sizeof(t->method), "-", 1);
	}
	t->bytes_in = r->head_len > r->scan ? r->head_len : r->scan;
	t->verdict = V_DENY;
	t->reason = "framing";
	txn_answer(t, status, why, NULL, true);
}

/* Move (or drop) request body bytes; returns false when waiting. */
static bool
conn_request_body(struct conn *c, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), n = 0;
	bool fwd = c->rtxn != NULL && c->rtxn->relayed && c->ub != NULL;
	struct evbuffer *sink = c->rtxn ? c->rtxn->collect : NULL;
	int rc = HTTP_MORE;

	if (len == 0)
		return false;
	if (fwd && evbuffer_get_length(bufferevent_get_output(c->ub)) > OUT_HIGH) {
		conn_throttle(c->cb, &c->paused_c, true);
		return false;
	}
	if (c->rbody == HTTP_BODY_LENGTH) {
		n = len < c->rleft ? len : (size_t)c->rleft;
		c->rleft -= n;
		if (c->rleft == 0)
			rc = HTTP_DONE;
	} else {
		struct evbuffer_iovec v[8];
		int nv = evbuffer_peek(in, (ev_ssize_t)len, NULL, v, 8);
		for (int i = 0; i < nv && i < 8 && rc == HTTP_MORE; i++) {
			size_t used;
			rc = http_chunked_feed(&c->rch, v[i].iov_base, v[i].iov_len,
			    &used, &c->g->limits);
			n += used;
		}
		if (rc == HTTP_ERROR) {
			/* The answer for this request is already decided; the
			 * only safe thing left is to stop and close. */
			if (c->rtxn && c->rtxn->error == NULL)
				c->rtxn->error = c->rch.why;
			if (c->rtxn)
				c->rtxn->close_after = true;
			c->g->st.framing_errors++;
			if (fwd)
				relay_fail(c, c->rch.status, c->rch.why);
			c->rs = RS_STOP;
			return false;
		}
	}
	if (c->rtxn)
		c->rtxn->bytes_in += n;
	if (fwd)
		evbuffer_remove_buffer(in, bufferevent_get_output(c->ub), n);
	else if (sink)
		evbuffer_remove_buffer(in, sink, n);
	else
		evbuffer_drain(in, n);
	if (rc == HTTP_DONE && sink)
		conn_portal_body(c, c->rtxn);
	if (rc == HTTP_DONE) {
		bool close = c->rtxn ? c->rtxn->close_after : false;
		c->rs = (c->rtxn && c->rtxn->upgrade && fwd) ? RS_WAIT
		    : close ? RS_STOP : RS_HEAD;
	}
	return true;
}

/* Frame and dispatch as many client requests as the buffer holds. */
static void
conn_read_requests(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cb);
	const struct http_limits *lim = &c->g->limits;
	size_t cap = (size_t)lim->max_request_line + lim->max_header_bytes + 8;

	for (;;) {
		size_t len = evbuffer_get_length(in);
		if (c->rs == RS_TUNNEL) {
			if (len && c->ub) {
				c->tunnel_bytes += len;
				evbuffer_add_buffer(bufferevent_get_output(c->ub), in);
				relay_account_tunnel(c);
			}
			return;
		}
		if (c->rs == RS_STOP) {
			evbuffer_drain(in, len);
			return;
		}
		if (c->rs == RS_WAIT) { /* bytes after an upgrade wait, bounded */
			if (len > OUT_HIGH)
				conn_throttle(c->cb, &c->paused_c, true);
			return;
		}
		if (c->rs == RS_BODY) {
			if (!conn_request_body(c, in))
				return;
			continue;
		}
		if (len == 0)
			return;
		if (c->nq >= MAX_PIPELINE) { /* wait for answers to go out */
			conn_throttle(c->cb, &c->paused_c, true);
			return;
		}
		size_t n = len < cap ? len : cap;
		const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		if (buf == NULL) {
			c->ls = LS_CLOSING;
			c->rs = RS_STOP;
			return;
		}
		int rc = http_req_parse(&c->req, buf, n, lim);
		if (rc == HTTP_MORE && n == cap)
			rc = HTTP_ERROR, c->req.status = 431, c->req.why = "head too large";
		if (rc == HTTP_MORE)
			return;
		if (rc == HTTP_ERROR) {
			conn_framing_error(c, buf, c->req.status, c->req.why);
			return;
		}
		conn_request(c, in, buf);
		http_req_init(&c->req);
	}
}

/* Move locally generated answers that are now at the front of the queue
 * to the client, so that none overtakes an earlier relayed answer. */
void
txn_flush_answers(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->cb);

	while (c->qh != NULL && c->qh->answer != NULL && c->ls == LS_OPEN) {
		struct txn *t = c->qh;
		/* A local answer for a request whose body is still arriving
		 * may go out now: the client reads it while it sends. */
		t->bytes_out = evbuffer_get_length(t->answer);
		evbuffer_add_buffer(out, t->answer);
		txn_done(c);
	}
}

/* Start the lingering close: our side is done writing; read and discard
 * for a moment so that a client still sending does not get an RST that
 * destroys the answer it has not read yet (RFC 9112 §9.6). */
static void
conn_linger(struct conn *c)
{
	struct timeval tv = { LINGER_SECS, 0 };
	int fd = bufferevent_getfd(c->cb);

	if (c->ls == LS_LINGER)
		return;
	c->ls = LS_LINGER;
	relay_close(c);
	if (c->client_eof || fd < 0 || shutdown(fd, SHUT_WR) < 0) {
		conn_free(c);
		return;
	}
	c->paused_c = false;
	bufferevent_enable(c->cb, EV_READ);
	evtimer_add(c->timer, &tv);
}

/* Log and forget requests that will never be answered because the
 * connection is closing (an earlier answer said close, or the upstream
 * went away after answering): the client retries them elsewhere. */
static void
conn_drop_queue(struct conn *c)
{
	if (c->qh == NULL)
		return;
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
	relay_close(c);
}

/* True when the client may be read again: its answers, the upstream's
 * output and the pipeline all have room. */
static bool
conn_can_read_client(struct conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->cb)) > OUT_HIGH ||
	    c->nq >= MAX_PIPELINE)
		return false;
	if (c->ub && evbuffer_get_length(bufferevent_get_output(c->ub)) > OUT_HIGH)
		return false;
	return !(c->rs == RS_WAIT &&
	    evbuffer_get_length(bufferevent_get_input(c->cb)) > OUT_HIGH);
}

/* Half-close propagation: a side that sent FIN is told on to the other
 * side once everything before it has been written. Returns true when
 * both directions are finished (the connection can go). */
static bool
conn_half_close(struct conn *c)
{
	if (c->client_eof && c->ub && c->us == US_OPEN && !c->u_shut &&
	    evbuffer_get_length(bufferevent_get_output(c->ub)) == 0) {
		if (shutdown(bufferevent_getfd(c->ub), SHUT_WR) < 0)
			log_debug("%s: upstream shutdown: %s", c->cip_s, strerror(errno));
		c->u_shut = true;
	}
	if (c->rs != RS_TUNNEL)
		return false;
	if ((c->up_eof || c->ub == NULL) && !c->c_shut &&
	    evbuffer_get_length(bufferevent_get_output(c->cb)) == 0) {
		if (shutdown(bufferevent_getfd(c->cb), SHUT_WR) < 0)
			log_debug("%s: client shutdown: %s", c->cip_s, strerror(errno));
		c->c_shut = true;
	}
	return c->c_shut && (c->u_shut || c->ub == NULL);
}

/* Work out what the connection can do next after any event. This is the
 * last call of every callback, because it may free the connection. */
void
conn_pump(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->cb);

	if (c->ls == LS_LINGER)
		return;
	if (c->ls == LS_OPEN && !c->client_eof)
		conn_read_requests(c);
	if (c->shed) {
		conn_free(c);
		return;
	}
	txn_flush_answers(c);
	if (c->ls == LS_CLOSING)
		conn_drop_queue(c);
	if (conn_half_close(c)) {
		conn_free(c);
		return;
	}
	if (c->ub)
		conn_throttle(c->ub, &c->paused_u, evbuffer_get_length(out) > OUT_HIGH);
	if (!c->client_eof)
		conn_throttle(c->cb, &c->paused_c, !conn_can_read_client(c));
	if (c->rs == RS_TUNNEL)
		return;

	/* Done with requests: close once every answer is out. */
	bool done = c->ls == LS_CLOSING || c->rs == RS_STOP || c->client_eof;
	if (done && c->qh == NULL && evbuffer_get_length(out) == 0) {
		if (c->client_eof)
			conn_free(c);
		else
			conn_linger(c);
		return;
	}
	/* Arm the header timer while waiting for a request head. */
	if (c->rs == RS_HEAD && c->qh == NULL && !evtimer_pending(c->timer, NULL)) {
		struct timeval tv = { c->g->conf->header_timeout, 0 };
		evtimer_add(c->timer, &tv);
	}
}

/* Client bytes arrived. */
static void
conn_on_client_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->ls == LS_LINGER) {
		evbuffer_drain(bufferevent_get_input(c->cb),
		    evbuffer_get_length(bufferevent_get_input(c->cb)));
		return;
	}
	conn_pump(c);
}

/* The client's output drained below the low mark. */
static void
conn_on_client_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->ub) /* upstream bytes may wait in its input after a pause */
		relay_read_responses(c);
	conn_pump(c);
}

/* EOF, error or timeout on the client side. */
static void
conn_on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->ls == LS_LINGER || (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
		if (what & BEV_EVENT_TIMEOUT)
			c->g->st.timeouts++;
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Requests already read are still answered; a partial head
		 * left behind can never complete. */
		c->client_eof = true;
		conn_pump(c);
	}
}

/* Header timer: a stalled head gets 408, an idle connection just closes. */
static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->ls == LS_LINGER || c->rs != RS_HEAD) {
		if (c->ls == LS_LINGER)
			conn_free(c);
		return;
	}
	if (c->qh != NULL) { /* waiting on answers: not the client's fault */
		struct timeval tv = { c->g->conf->header_timeout, 0 };
		evtimer_add(c->timer, &tv);
		return;
	}
	c->g->st.timeouts++;
	if (evbuffer_get_length(bufferevent_get_input(c->cb)) == 0) {
		conn_free(c);
		return;
	}
	conn_framing_error(c, NULL, 408, "request head not completed in time");
	conn_pump(c);
}

/* Release a connection and everything it owns: both sockets, the timer
 * and every queued transaction. The only place a conn is freed. */
void
conn_free(struct conn *c)
{
	struct gate *g = c->g;

	if (c->id.mac != NULL && c->tunnel_bytes > 0)
		grant_account(g, c->id.mac, c->tunnel_bytes);
	while (c->qh) {
		struct txn *t = c->qh;
		c->qh = t->next;
		if (t->error == NULL) /* never answered: logged with status 0 */
			t->error = "not answered: connection closed";
		txn_log(c, t);
		txn_free(t);
	}
	if (c->ub)
		bufferevent_free(c->ub);
	if (c->cb) {
		if (c->shed) { /* the short close of limits: reset, send nothing */
			struct linger lg = { 1, 0 };
			if (setsockopt(bufferevent_getfd(c->cb), SOL_SOCKET, SO_LINGER,
				&lg, sizeof(lg)) < 0)
				log_debug("%s: SO_LINGER: %s", c->cip_s, strerror(errno));
		}
		bufferevent_free(c->cb);
	}
	limiter_release(g->lim, c->lim_hold);
	if (c->timer)
		event_free(c->timer);
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

/* Take a freshly accepted socket: find where it was going and who sent
 * it, and start framing its requests. */
void
conn_accept(struct gate *g, int fd, const struct sockaddr *peer, int plen,
    uint32_t hold)
{
	struct conn *c = calloc(1, sizeof(*c));
	socklen_t llen = sizeof(union wk_sockaddr);
	struct timeval idle = { g->conf->idle_timeout, 0 };
	struct timeval hdr = { g->conf->header_timeout, 0 };
	struct wk_ip lip;
	int redirected;

	if (c == NULL || getsockname(fd, &c->local.sa, &llen) < 0) {
		free(c);
		limiter_release(g->lim, hold);
		close(fd);
		return;
	}
	memcpy(&c->peer, peer, (size_t)plen < sizeof(c->peer) ? (size_t)plen : sizeof(c->peer));
	c->g = g;
	redirected = origdst_get(fd, &c->local.sa, &c->dst);
	addr_ip_from_sa(&c->peer.sa, &c->id.client);
	c->id.ifindex = ident_socket_ifindex(fd);
	addr_ip_from_sa(&c->dst.sa, &c->id.dst);
	addr_ip_from_sa(&c->local.sa, &lip);
	c->id.conf = g->conf;
	c->id.dst_port = addr_sa_port(&c->dst.sa);
	c->id.dst_is_gate = redirected < 0 || addr_ip_equal(&c->id.dst, &lip) ||
	    origdst_is_local(&c->id.dst);
	addr_ip_format(&c->id.client, c->cip_s);
	addr_sa_format(&c->dst.sa, c->dst_s);

	c->cb = bufferevent_socket_new(g->base, fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	c->timer = evtimer_new(g->base, conn_on_timer, c);
	if (c->cb == NULL || c->timer == NULL) {
		if (c->cb)
			bufferevent_free(c->cb);
		else
			close(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		limiter_release(g->lim, hold);
		return;
	}
	c->lim_hold = hold;
	limiter_bind(g->lim, hold, c);
	bufferevent_setcb(c->cb, conn_on_client_read, conn_on_client_write,
	    conn_on_client_event, c);
	bufferevent_setwatermark(c->cb, EV_WRITE, OUT_HIGH / 2, 0);
	bufferevent_set_timeouts(c->cb, &idle, &idle);
	bufferevent_enable(c->cb, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &hdr);
	c->next = g->conns;
	if (g->conns)
		g->conns->prev = c;
	g->conns = c;
	g->nconns++;
	g->st.accepted++;
}

/* True when the connection relays something right now: a request or
 * answer in flight to or from the upstream, or a tunnel. */
static bool
conn_relaying(const struct conn *c)
{
	if (c->rs == RS_TUNNEL || c->rs == RS_WAIT)
		return true;
	for (const struct txn *t = c->qh; t != NULL; t = t->next)
		if (t->relayed)
			return true;
	return false;
}

/* Decide a connection again, as its next request head would be, against
 * the current sessions and configuration: true when still forwarded. */
static bool
conn_still_admitted(struct conn *c)
{
	const char *why;

	c->id.conf = c->g->conf;
	c->id.path = NULL;
	c->id.path_len = 0;
	c->id.session_admitted = c->id.mac != NULL && grant_check(c->g, c->id.mac);
	c->id.dst_in_garden_dns = garden_match(c->g->garden, &c->id.dst);
	return policy_decide(&c->id, &why) == V_FORWARD;
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
			relay_close(c);
			continue;
		}
		for (struct txn *t = c->qh; t != NULL; t = t->next)
			if (t->error == NULL)
				t->error = "session ended";
		log_debug("%s: session ended; closing a relayed connection", c->cip_s);
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
			if (c->id.mac != NULL && addr_mac_equal(c->id.mac, mac))
				c->recheck = true;
	event_active(g->recheck, EV_TIMEOUT, 1);
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
}
