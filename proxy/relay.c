/* relay: the upstream side of a connection -- the socket to the original
 * destination, opened on the first relayed request; the response framer
 * that tells where each answer ends (RFC 9112 §6.3) and passes it to the
 * client in request order; tunnels after 101. Reads top-down: open,
 * frame, finish an answer, end of stream, failures, callbacks. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "grant.h"
#include "log.h"
#include "txn.h"

static void relay_on_read(struct bufferevent *bev, void *arg);
static void relay_on_write(struct bufferevent *bev, void *arg);
static void relay_on_event(struct bufferevent *bev, short what, void *arg);

/* Open the upstream connection to the original destination, once per
 * client connection (again only after an idle upstream went away). */
int
relay_open(struct conn *c)
{
	struct timeval tv = { c->g->conf->upstream_connect_timeout, 0 };

	if (c->ub != NULL)
		return 0;
	c->ub = bufferevent_socket_new(c->g->base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->ub == NULL)
		return -1;
	bufferevent_setcb(c->ub, relay_on_read, relay_on_write, relay_on_event, c);
	bufferevent_setwatermark(c->ub, EV_WRITE, OUT_HIGH / 2, 0);
	bufferevent_set_timeouts(c->ub, &tv, &tv); /* connect; reset on connect */
	c->us = US_CONNECTING;
	c->up_eof = c->u_shut = false;
	c->up_reuse_ok = true;
	c->ps = PS_HEAD;
	c->paused_u = false;
	http_resp_init(&c->resp);
	if (bufferevent_socket_connect(c->ub, &c->dst.sa, (int)addr_sa_len(&c->dst.sa)) < 0) {
		bufferevent_free(c->ub);
		c->ub = NULL;
		c->us = US_NONE;
		return -1;
	}
	bufferevent_enable(c->ub, EV_READ | EV_WRITE);
	return 0;
}

/* Close the upstream side and forget its state. */
void
relay_close(struct conn *c)
{
	if (c->ub) {
		bufferevent_free(c->ub);
		c->ub = NULL;
	}
	c->us = US_NONE;
	c->paused_u = false;
	c->ps = PS_HEAD;
}

/* The upstream failed before answering: every relayed request still
 * waiting gets a local error (502, or 504 on timeout), and the connection
 * closes after them, since their bodies may be half sent. */
void
relay_fail(struct conn *c, unsigned status, const char *why)
{
	struct txn *t;

	c->g->st.upstream_errors++;
	for (t = c->qh; t != NULL; t = t->next)
		if (t->relayed && t->answer == NULL) {
			if (t->sent) { /* part of an answer went out: cannot fix */
				if (c->ls == LS_OPEN)
					c->ls = LS_CLOSING;
				relay_close(c);
				return;
			}
			txn_answer(t, status, why, NULL, true);
		}
	relay_close(c);
	if (c->rs != RS_TUNNEL)
		c->rs = RS_STOP;
}

/* Count tunnelled bytes (WebSocket after 101) against the client's
 * session in batches, so that a long tunnel keeps its session alive and
 * uses its quota like any other traffic through the gate. */
void
relay_account_tunnel(struct conn *c)
{
	if (c->tunnel_bytes < 65536)
		return;
	if (c->id.mac != NULL && c->tunnel_bytes > 0)
		grant_account(c->g, c->id.mac, c->tunnel_bytes);
	c->tunnel_bytes = 0;
}

/* Finish the relayed answer at the front of the queue. */
static void
relay_response_done(struct conn *c)
{
	struct txn *t = c->qh;

	if (c->resp.close)
		c->up_reuse_ok = false;
	if (t->close_after || !c->up_reuse_ok)
		t->close_after = true;
	txn_done(c);
	http_resp_init(&c->resp);
	c->ps = PS_HEAD;
	if (!c->up_reuse_ok) {
		/* Requests already sent on this upstream will not be answered:
		 * close after what has been delivered (nothing fabricated). */
		relay_close(c);
		if (c->ls == LS_OPEN)
			c->ls = LS_CLOSING;
		c->rs = RS_STOP;
	}
	if (c->rs == RS_WAIT)
		c->rs = RS_HEAD;
}

/* The upstream sent FIN and every byte before it has been handled: a
 * close-delimited answer is complete, an answer cut short is not repaired,
 * and an idle keep-alive upstream simply goes away. */
static void
relay_settle(struct conn *c)
{
	if (c->ps == PS_TUNNEL)
		return; /* conn_half_close passes it on */
	if (c->ps == PS_CLOSE && c->qh && c->qh->relayed)
		relay_response_done(c);
	else if (c->qh && c->qh->relayed)
		relay_fail(c, 502, "upstream closed before answering");
	relay_close(c);
}

/* Frame upstream responses and pass them to the client in order. */
void
relay_read_responses(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->ub);
	struct evbuffer *out = bufferevent_get_output(c->cb);

	while (c->ub != NULL) {
		size_t len = evbuffer_get_length(in);
		struct txn *t = c->qh;
		if (len == 0) {
			if (c->up_eof)
				relay_settle(c);
			return;
		}
		if (c->ps == PS_TUNNEL) {
			c->tunnel_bytes += len;
			evbuffer_add_buffer(out, in);
			relay_account_tunnel(c);
			return;
		}
		if (evbuffer_get_length(out) > OUT_HIGH) {
			conn_throttle(c->ub, &c->paused_u, true);
			return;
		}
		if (t == NULL || !t->relayed) {
			/* Bytes no request asked for: refuse to pass them on. */
			log_debug("%s: unsolicited upstream bytes", c->cip_s);
			relay_close(c);
			return;
		}
		if (c->ps == PS_HEAD) {
			size_t n = len < RESP_HEAD_MAX ? len : RESP_HEAD_MAX;
			const char *b = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
			int rc = b ? http_resp_parse(&c->resp, b, n, t->head, RESP_HEAD_MAX)
				   : HTTP_ERROR;
			if (rc == HTTP_MORE)
				return;
			if (rc == HTTP_ERROR) {
				relay_fail(c, 502, c->resp.why ? c->resp.why
				    : "bad upstream response");
				return;
			}
			unsigned code = c->resp.code;
			size_t hl = c->resp.head_len;
			t->sent = true;
			t->bytes_out += hl;
			evbuffer_remove_buffer(in, out, hl);
			if (code == 101) {
				if (!t->upgrade) {
					relay_fail(c, 502, "101 without upgrade");
					return;
				}
				t->status = t->upstream_status = code;
				t->close_after = false;
				txn_done(c);
				c->ps = PS_TUNNEL;
				c->rs = RS_TUNNEL;
				bufferevent_set_timeouts(c->ub, NULL, NULL);
				continue;
			}
			if (code < 200) { /* interim: the final answer follows */
				http_resp_init(&c->resp);
				continue;
			}
			t->status = t->upstream_status = code;
			switch (c->resp.body) {
			case HTTP_BODY_NONE:
				relay_response_done(c);
				txn_flush_answers(c);
				continue;
			case HTTP_BODY_LENGTH:
				c->pleft = c->resp.content_length;
				c->ps = PS_LENGTH;
				break;
			case HTTP_BODY_CHUNKED:
				http_chunked_init(&c->pch);
				c->ps = PS_CHUNKED;
				break;
			case HTTP_BODY_CLOSE:
				c->ps = PS_CLOSE;
				c->up_reuse_ok = false;
				break;
			}
			continue;
		}
		size_t n = len;
		bool done = false;
		if (c->ps == PS_LENGTH) {
			if (n >= c->pleft) {
				n = (size_t)c->pleft;
				done = true;
			}
			c->pleft -= n;
		} else if (c->ps == PS_CHUNKED) {
			static const struct http_limits rl = { 0, 65536, 1000, UINT64_MAX,
				NULL, 0 };
			struct evbuffer_iovec v[8];
			int nv = evbuffer_peek(in, (ev_ssize_t)len, NULL, v, 8);
			n = 0;
			for (int i = 0; i < nv && i < 8 && !done; i++) {
				size_t used;
				int rc = http_chunked_feed(&c->pch, v[i].iov_base,
				    v[i].iov_len, &used, &rl);
				if (rc == HTTP_ERROR) {
					relay_fail(c, 502, c->pch.why);
					return;
				}
				n += used;
				done = rc == HTTP_DONE;
			}
		}
		t->bytes_out += n;
		evbuffer_remove_buffer(in, out, n);
		if (done) {
			relay_response_done(c);
			txn_flush_answers(c);
		}
	}
}

/* Upstream bytes arrived. */
static void
relay_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	relay_read_responses(c);
	conn_pump(c);
}

/* The upstream's output drained: the client may send more body. */
static void
relay_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	conn_pump(c);
}

/* Connected, EOF, error or timeout on the upstream side. */
static void
relay_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval idle = { c->g->conf->idle_timeout, 0 };

	if (what & BEV_EVENT_CONNECTED) {
		c->us = US_OPEN;
		bufferevent_set_timeouts(bev, &idle, &idle);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		c->g->st.timeouts++;
		if (c->us != US_OPEN)
			relay_fail(c, 504, "upstream connect timeout");
		else if (c->qh && c->qh->relayed)
			relay_fail(c, 504, "upstream idle timeout");
		else
			relay_close(c);
		conn_pump(c);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->ps == PS_TUNNEL) {
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		log_debug("%s -> %s: upstream error: %s", c->cip_s, c->dst_s,
		    evutil_socket_error_to_string(err));
		relay_fail(c, 502, c->us == US_OPEN ? "upstream connection reset"
		    : "upstream connection refused or unreachable");
		conn_pump(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->up_eof = true;
		relay_read_responses(c);
		conn_pump(c);
	}
}
