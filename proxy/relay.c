/* relay: the upstream side of a connection -- the socket to the original
 * destination, opened on the first relayed request; the response framer
 * that tells where each answer ends (RFC 9112 §6.3) and passes it to the
 * client in request order; splice(2) through a pooled pipe for long
 * bodies and tunnels. Reads top-down: open, write, read and frame, finish
 * an answer, end of stream, failures, splice and its pipe pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "txn.h"

#define SPLICE_MIN (768 * 1024) /* splice a body only with this much still to come
                                 * (measured: docs/benchmark.md, "Splice against copy") */
#define PIPE_SIZE (256 * 1024)  /* F_SETPIPE_SZ of a pooled pipe */
#define SPLICE_ROUNDS 16        /* pipe-fulls per event, for fairness */

/* One pipe of the pool: bytes in flight between two sockets. */
struct pipe_slot {
	struct pipe_slot *next;
	int rd, wr;
	uint32_t fill; /* bytes in the pipe */
	uint32_t cap;
};

static void relay_on_event(evutil_socket_t fd, short what, void *arg);
static void relay_read(struct conn *c);
static size_t relay_feed(struct conn *c, const char *buf, size_t len);
static void relay_response_done(struct conn *c);
static void relay_settle(struct conn *c);

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/* Open the upstream connection to the original destination, once per
 * client connection (again only after an idle upstream went away). The
 * request waits in up->out until the connect completes. */
int
relay_open(struct conn *c)
{
	struct upstream *u;
	int fd;

	if (c->up != NULL)
		return 0;
	fd = socket(c->dst.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, &c->dst.sa, addr_sa_len(&c->dst.sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		close(fd);
		return -1;
	}
	u->fd = fd;
	u->us = US_CONNECTING;
	u->ps = PS_HEAD;
	u->reuse_ok = true;
	u->evmask = EV_WRITE;
	http_resp_init(&u->resp);
	event_assign(&u->ev, c->g->base, fd, EV_WRITE | EV_PERSIST, relay_on_event, c);
	if (event_add(&u->ev, NULL) < 0) {
		close(fd);
		free(u);
		return -1;
	}
	c->up = u;
	u->t_connect = u->t_account = clock_mono_ms();
	return 0;
}

/* Close the upstream side and forget it. A pipe with bytes still in it
 * is closed, never pooled. */
void
relay_close(struct conn *c)
{
	struct upstream *u = c->up;

	if (u == NULL)
		return;
	conn_account(c, 0, true);
	if (u->pipe)
		relay_pipe_put(u->pipe);
	if (u->upipe) /* an upload's or a tunnel's pipe goes with it */
		relay_pipe_put(u->upipe);
	event_del(&u->ev);
	close(u->fd);
	buf_free(&u->in);
	buf_free(&u->out);
	free(u);
	c->up = NULL;
}

/* ------------------------------------------------------------------ */
/* Writing to the upstream                                             */
/* ------------------------------------------------------------------ */

/* Add n request bytes at p (valid until relay_flush: the client read
 * space) to what this event writes to the upstream; while it is still
 * connecting, or has not taken earlier bytes, they are kept in up->out. */
void
relay_stage(struct conn *c, const char *p, size_t n)
{
	struct upstream *u = c->up;
	struct stage *s = &conn_io.ust;

	if (n == 0 || u == NULL)
		return;
	conn_account(c, n, false);
	if (u->us != US_OPEN || u->wblocked || buf_len(&u->out) > 0 || s->n == IO_STAGE) {
		if (s->n > 0 && !relay_flush(c))
			return;
		if (u->us != US_OPEN || u->wblocked || buf_len(&u->out) > 0) {
			if (buf_append(&u->out, p, n) < 0)
				relay_fail(c, 502, "out of memory");
			return;
		}
	}
	if (s->n > 0 && (const char *)s->v[s->n - 1].iov_base + s->v[s->n - 1].iov_len == p) {
		s->v[s->n - 1].iov_len += n;
	} else {
		s->v[s->n].iov_base = (void *)(uintptr_t)p;
		s->v[s->n].iov_len = n;
		s->n++;
	}
	s->len += n;
}

/* Write what is queued for the upstream (up->out, then this event's
 * staged bytes) at once; what it does not take is kept and EV_WRITE waits
 * for room (while it is still connecting, everything waits). False when
 * the upstream failed (relay_fail has run). */
bool
relay_flush(struct conn *c)
{
	struct upstream *u = c->up;
	ssize_t n;

	if (u == NULL) {
		conn_io.ust.n = 0;
		conn_io.ust.len = 0;
		return false;
	}
	if (buf_len(&u->out) + conn_io.ust.len == 0)
		return true; /* wblocked may be a splice's EAGAIN: keep it */
	n = io_write(u->fd, &u->out, &conn_io.ust, u->us != US_OPEN || u->wblocked);
	if (n < 0) {
		relay_fail(c, 502, "upstream connection reset");
		return false;
	}
	if (n > 0)
		conn_progress(c);
	u->wblocked = u->us == US_OPEN && buf_len(&u->out) > 0;
	return true;
}

/* The upstream socket is readable, writable (or connected). */
static void
relay_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct upstream *u = c->up;

	(void)fd;
	if (u == NULL) /* defensive: the event goes with the upstream */
		return;
	if ((what & EV_WRITE) && u->us == US_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			log_debug("upstream connect: %s", strerror(err));
			relay_fail(c, 502, "upstream connection refused or unreachable");
			conn_pump(c);
			return;
		}
		u->us = US_OPEN;
		conn_progress(c);
	}
	if (what & EV_WRITE) {
		u->wblocked = false;
		if (relay_flush(c) && c->up && c->up->upipe && buf_len(&c->up->out) == 0)
			relay_splice_up(c);
	}
	if ((what & EV_READ) && c->up != NULL && c->ls != LS_DEAD) {
		if (c->up->pipe)
			relay_splice_down(c);
		else
			relay_read(c);
	}
	conn_pump(c);
}

/* Add the upstream event for exactly the directions wanted: read while
 * the client takes what we pass on (one read's worth is the most held
 * for a slow client), write while connecting or blocked. */
void
relay_update(struct conn *c)
{
	struct upstream *u = c->up;
	bool rd = u->us == US_OPEN && !u->eof && buf_len(&c->out) == 0 &&
	    !c->wblocked && (u->pipe == NULL || relay_pipe_empty(u->pipe));
	short mask = (rd ? EV_READ : 0) |
	    (u->us == US_CONNECTING || u->wblocked ? EV_WRITE : 0);

	if (mask == u->evmask)
		return;
	event_del(&u->ev);
	event_assign(&u->ev, c->g->base, u->fd, mask | EV_PERSIST, relay_on_event, c);
	u->evmask = mask;
	event_add(&u->ev, NULL);
}

/* ------------------------------------------------------------------ */
/* Reading and framing responses                                       */
/* ------------------------------------------------------------------ */

/* Read what the upstream sent, up to IO_READ bytes in one recv(2),
 * behind a response head kept in part from before, and frame it. */
static void
relay_read(struct conn *c)
{
	struct upstream *u = c->up;
	char *b = conn_io.urx;
	size_t have = buf_len(&u->in), used;
	ssize_t n;

	if (have >= IO_READ) { /* (relay_head bounds a head far below this) */
		relay_fail(c, 502, "upstream response head too large");
		return;
	}
	if (have > 0) {
		memcpy(b, buf_data(&u->in), have);
		buf_free(&u->in);
	}
	do
		n = recv(u->fd, b + have, IO_READ - have, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		have += (size_t)n;
		conn_progress(c);
	} else if (n == 0) {
		u->eof = true;
	} else if (errno != EAGAIN) {
		log_debug("upstream read: %s", strerror(errno));
		if (u->ps == PS_TUNNEL) {
			c->ls = LS_DEAD;
			return;
		}
		relay_fail(c, 502, "upstream connection reset");
		return;
	}
	used = relay_feed(c, b, have);
	if (c->up == NULL || c->ls == LS_DEAD)
		return;
	if (used < have && buf_append(&c->up->in, b + used, have - used) < 0) {
		relay_fail(c, 502, "out of memory");
		return;
	}
	if (c->up->eof)
		relay_settle(c);
}

/* Pass n response bytes at p to the client as part of t's answer. */
static void
relay_pass(struct conn *c, struct txn *t, const char *p, size_t n)
{
	conn_stage_client(c, p, n);
	conn_account(c, n, false);
	if (t)
		t->bytes_out += n;
}

/* Frame a response head at buf; returns the bytes used (0: need more). */
static size_t
relay_head(struct conn *c, struct txn *t, const char *buf, size_t len)
{
	struct upstream *u = c->up;
	int rc = http_resp_parse(&u->resp, buf, len < RESP_HEAD_MAX ? len : RESP_HEAD_MAX,
	    t->head, RESP_HEAD_MAX);
	size_t hl;

	if (rc == HTTP_MORE && len >= RESP_HEAD_MAX) {
		/* issue 8: an endless head must not grow us: 502 and close */
		relay_fail(c, 502, "upstream response head too large");
		return len;
	}
	if (rc == HTTP_MORE)
		return 0;
	if (rc == HTTP_ERROR) {
		relay_fail(c, 502, u->resp.why ? u->resp.why : "bad upstream response");
		return len;
	}
	hl = u->resp.head_len;
	if (u->resp.code == 101 && !t->upgrade) {
		relay_fail(c, 502, "101 without upgrade");
		return len;
	}
	t->sent = true;
	relay_pass(c, t, buf, hl);
	if (u->resp.code == 101) {
		t->status = t->upstream_status = 101;
		t->close_after = false;
		txn_done(c);
		u->ps = PS_TUNNEL;
		c->rs = RS_TUNNEL;
		return hl;
	}
	if (u->resp.code < 200) { /* interim: the final answer follows */
		http_resp_init(&u->resp);
		return hl;
	}
	t->status = t->upstream_status = u->resp.code;
	switch (u->resp.body) {
	case HTTP_BODY_NONE:
		relay_response_done(c);
		break;
	case HTTP_BODY_LENGTH:
		u->pleft = u->resp.content_length;
		u->ps = PS_LENGTH;
		if (u->pleft == 0)
			relay_response_done(c);
		break;
	case HTTP_BODY_CHUNKED:
		http_chunked_init(&u->ch);
		u->ps = PS_CHUNKED;
		break;
	case HTTP_BODY_CLOSE:
		u->ps = PS_CLOSE;
		u->reuse_ok = false;
		break;
	}
	return hl;
}

/* Frame upstream bytes and pass them to the client in order; returns
 * the bytes used (the rest is a head in part). A long Content-Length
 * body, a close-delimited one and a tunnel switch to splice. */
static size_t
relay_feed(struct conn *c, const char *buf, size_t len)
{
	static const struct http_limits rl = { 0, 65536, 1000, UINT64_MAX, NULL, 0 };
	size_t pos = 0;

	while (pos < len && c->up != NULL && c->ls != LS_DEAD) {
		struct upstream *u = c->up;
		struct txn *t = c->qh;
		size_t n = len - pos, k;

		if (u->ps == PS_TUNNEL) {
			relay_pass(c, NULL, buf + pos, n);
			if (u->pipe == NULL && relay_may_splice(c, UINT64_MAX))
				u->pipe = relay_pipe_get(c->g);
			return len;
		}
		if (t == NULL || !t->relayed) {
			/* Bytes no request asked for: refuse to pass them on. */
			log_debug("unsolicited upstream bytes");
			relay_close(c);
			return len;
		}
		switch (u->ps) {
		case PS_HEAD:
			k = relay_head(c, t, buf + pos, n);
			if (k == 0)
				return pos;
			pos += k;
			continue;
		case PS_LENGTH:
			k = n < u->pleft ? n : (size_t)u->pleft;
			relay_pass(c, t, buf + pos, k);
			u->pleft -= k;
			pos += k;
			if (u->pleft == 0)
				relay_response_done(c);
			else if (u->pipe == NULL && relay_may_splice(c, u->pleft))
				u->pipe = relay_pipe_get(c->g);
			continue;
		case PS_CHUNKED: {
			int rc = http_chunked_feed(&u->ch, buf + pos, n, &k, &rl);
			if (rc == HTTP_ERROR) {
				relay_fail(c, 502, u->ch.why);
				return len;
			}
			relay_pass(c, t, buf + pos, k);
			pos += k;
			if (rc == HTTP_DONE)
				relay_response_done(c);
			continue;
		}
		case PS_CLOSE:
			relay_pass(c, t, buf + pos, n);
			if (u->pipe == NULL && relay_may_splice(c, UINT64_MAX))
				u->pipe = relay_pipe_get(c->g);
			return len;
		case PS_TUNNEL:
			break;
		}
	}
	return c->up == NULL ? len : pos;
}

/* Finish the relayed answer at the front of the queue; local answers
 * queued behind it follow in the same write. */
static void
relay_response_done(struct conn *c)
{
	struct upstream *u = c->up;
	struct txn *t = c->qh;

	if (u->resp.close)
		u->reuse_ok = false;
	if (!u->reuse_ok)
		t->close_after = true;
	txn_done(c);
	http_resp_init(&u->resp);
	u->ps = PS_HEAD;
	if (!u->reuse_ok) {
		/* Requests already sent on this upstream will not be answered:
		 * close after what has been delivered (nothing fabricated). */
		relay_close(c);
		if (c->ls == LS_OPEN)
			c->ls = LS_CLOSING;
		if (c->rs != RS_BODY)
			c->rs = RS_STOP;
	} else if (c->rs == RS_WAIT) {
		c->rs = RS_HEAD;
	}
	txn_flush_answers(c);
}

/* The upstream sent FIN and every byte before it has been handled: a
 * close-delimited answer is complete, an answer cut short is not repaired,
 * and an idle keep-alive upstream simply goes away. */
static void
relay_settle(struct conn *c)
{
	struct upstream *u = c->up;

	if (u->ps == PS_TUNNEL)
		return; /* conn_pump passes it on */
	if (u->ps == PS_CLOSE && c->qh && c->qh->relayed)
		relay_response_done(c);
	else if (c->qh && c->qh->relayed)
		relay_fail(c, 502, "upstream closed before answering");
	relay_close(c);
}

/* The upstream failed: every relayed request still waiting gets a local
 * error (502, or 504 on timeout) and the connection closes after them,
 * since their bodies may be half sent; if part of an answer went out
 * already nothing can be fixed, and the connection just closes. */
void
relay_fail(struct conn *c, unsigned status, const char *why)
{
	struct txn *t, *next;

	c->g->st.upstream_errors++;
	for (t = c->qh; t != NULL; t = next) {
		next = t->next;
		if (!t->relayed || t->has_answer)
			continue;
		if (t->sent) {
			if (t->error == NULL)
				t->error = why;
			if (c->ls == LS_OPEN)
				c->ls = LS_CLOSING;
			relay_close(c);
			return;
		}
		t->relayed = false; /* answered here, in order */
		txn_answer(c, t, status, why, NULL, true);
		if (c->ls == LS_DEAD)
			return;
	}
	relay_close(c);
	if (c->rs != RS_TUNNEL)
		c->rs = RS_STOP;
	c->linger = true;
	if (c->rs == RS_TUNNEL)
		c->ls = LS_DEAD;
}

/* ------------------------------------------------------------------ */
/* Splice                                                              */
/* ------------------------------------------------------------------ */

/* How a splice pass ended. */
enum spl {
	SPL_WAIT_IN,  /* the source has nothing now */
	SPL_WAIT_OUT, /* the destination takes nothing now */
	SPL_DONE,     /* *left reached 0 and the pipe is empty */
	SPL_EOF,      /* the source sent FIN and the pipe is empty */
	SPL_YIELD,    /* enough for one event: more later */
	SPL_ERR_IN,   /* the source failed */
	SPL_ERR_OUT,  /* the destination failed */
};

/* Move bytes from socket `from` to socket `to` through pipe p with
 * splice(2): never more than *left (NULL: unbounded), and the pipe is
 * emptied into `to` before more is taken from `from`, so an EAGAIN on
 * the way in always means the source is empty. *in counts the bytes
 * taken from the source. */
static enum spl
relay_splice(struct conn *c, struct pipe_slot *p, int from, int to,
    uint64_t *left, uint64_t *in)
{
	for (int round = 0;; round++) {
		ssize_t n;
		size_t want;

		while (p->fill > 0) {
			n = splice(p->rd, NULL, to, NULL, p->fill,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno == EAGAIN ? SPL_WAIT_OUT : SPL_ERR_OUT;
			p->fill -= (uint32_t)n;
			conn_progress(c);
		}
		if (left != NULL && *left == 0)
			return SPL_DONE;
		if (round >= SPLICE_ROUNDS)
			return SPL_YIELD;
		want = p->cap;
		if (left != NULL && *left < want)
			want = (size_t)*left;
		do
			n = splice(from, NULL, p->wr, NULL, want,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return SPL_EOF;
		if (n < 0)
			return errno == EAGAIN ? SPL_WAIT_IN : SPL_ERR_IN;
		p->fill += (uint32_t)n;
		*in += (uint64_t)n;
		if (left != NULL)
			*left -= (uint64_t)n;
		conn_progress(c);
	}
}

/* Splice the response body (or tunnel) from the upstream to the client,
 * once everything before it has been written. */
bool
relay_splice_down(struct conn *c)
{
	struct upstream *u = c->up;
	struct txn *t = c->qh;
	uint64_t in = 0;
	enum spl r;

	if (u == NULL || u->pipe == NULL || buf_len(&c->out) > 0 || c->wblocked)
		return true;
	r = relay_splice(c, u->pipe, u->fd, c->fd, u->ps == PS_LENGTH ? &u->pleft : NULL,
	    &in);
	conn_account(c, in, false);
	if (t != NULL && t->relayed)
		t->bytes_out += in;
	switch (r) {
	case SPL_WAIT_IN:
	case SPL_YIELD:
		return true;
	case SPL_WAIT_OUT:
		c->wblocked = true;
		return true;
	case SPL_DONE: /* a Content-Length body is complete */
		relay_pipe_put(u->pipe);
		u->pipe = NULL;
		relay_response_done(c);
		return true;
	case SPL_EOF:
		relay_pipe_put(u->pipe);
		u->pipe = NULL;
		u->eof = true;
		relay_settle(c);
		return true;
	case SPL_ERR_OUT:
		c->ls = LS_DEAD;
		return false;
	case SPL_ERR_IN:
		if (u->ps == PS_TUNNEL) {
			c->ls = LS_DEAD;
			return false;
		}
		relay_fail(c, 502, "upstream connection reset");
		return false;
	}
	return true;
}

/* Splice the request body (or tunnel) from the client to the upstream,
 * once the upstream took everything before it. */
bool
relay_splice_up(struct conn *c)
{
	struct upstream *u = c->up;
	uint64_t in = 0;
	enum spl r;

	if (u == NULL || u->upipe == NULL)
		return true;
	if (u->us != US_OPEN || buf_len(&u->out) > 0 || u->wblocked)
		return true;
	r = relay_splice(c, u->upipe, c->fd, u->fd, c->rs == RS_BODY ? &c->rleft : NULL,
	    &in);
	conn_account(c, in, false);
	if (c->rtxn)
		c->rtxn->bytes_in += in;
	switch (r) {
	case SPL_WAIT_IN:
	case SPL_YIELD:
		return true;
	case SPL_WAIT_OUT:
		u->wblocked = true;
		return true;
	case SPL_DONE:
		relay_pipe_put(u->upipe);
		u->upipe = NULL;
		conn_splice_body_done(c);
		return true;
	case SPL_EOF:
		relay_pipe_put(u->upipe);
		u->upipe = NULL;
		c->client_eof = true;
		if (c->rs == RS_BODY) { /* cut short (RFC 9112 §8): close both */
			for (struct txn *t = c->qh; t != NULL; t = t->next)
				if (t->error == NULL)
					t->error = "request body cut short";
			c->ls = LS_DEAD;
		}
		return true;
	case SPL_ERR_IN:
		c->ls = LS_DEAD;
		return false;
	case SPL_ERR_OUT:
		if (c->rs == RS_TUNNEL) {
			c->ls = LS_DEAD;
			return false;
		}
		relay_fail(c, 502, "upstream connection reset");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* The pipe pool                                                       */
/* ------------------------------------------------------------------ */

static struct {
	struct pipe_slot *free;
	unsigned nfree, nbusy;
} pool;

/* True when a body of `left` more bytes is worth a pipe (measured:
 * docs/benchmark.md) and the pool is switched on. */
bool
relay_may_splice(const struct conn *c, uint64_t left)
{
	return left >= SPLICE_MIN && c->g->conf->splice_pipes > 0;
}

/* A pipe from the pool, or a new one while the pool is below
 * splice_pipes; NULL (the caller copies) when none is to be had. */
struct pipe_slot *
relay_pipe_get(struct gate *g)
{
	struct pipe_slot *p = pool.free;
	int fds[2], sz;

	if (p != NULL) {
		pool.free = p->next;
		pool.nfree--;
		pool.nbusy++;
		return p;
	}
	if (pool.nbusy >= g->conf->splice_pipes)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(p);
		return NULL;
	}
	p->rd = fds[0];
	p->wr = fds[1];
	if (fcntl(p->wr, F_SETPIPE_SZ, PIPE_SIZE) < 0)
		log_debug("F_SETPIPE_SZ: %s", strerror(errno));
	sz = fcntl(p->wr, F_GETPIPE_SZ);
	p->cap = sz > 0 ? (uint32_t)sz : 65536;
	pool.nbusy++;
	return p;
}

/* Give a pipe back: an empty one is kept for the next body, one with
 * bytes still in it (a connection cut mid-body) is closed. */
void
relay_pipe_put(struct pipe_slot *p)
{
	pool.nbusy--;
	if (p->fill == 0) {
		p->next = pool.free;
		pool.free = p;
		pool.nfree++;
		return;
	}
	close(p->rd);
	close(p->wr);
	free(p);
}

/* True when nothing waits in the pipe. */
bool
relay_pipe_empty(const struct pipe_slot *p)
{
	return p->fill == 0;
}

/* Close every pooled pipe (shutdown). */
void
relay_pipes_free(void)
{
	while (pool.free) {
		struct pipe_slot *p = pool.free;
		pool.free = p->next;
		close(p->rd);
		close(p->wr);
		free(p);
	}
	pool.nfree = 0;
}
