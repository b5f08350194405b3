/* txn: one intercepted client connection (struct conn) and its requests
 * (struct txn), shared by the client side (txn.c: accept, framing, policy,
 * the answer queue, the audit line) and the upstream side (relay.c: the
 * original destination, the response framer, splice). Both sides do their
 * own socket I/O on libevent's loop (docs/design.md, "The relay"). */
#ifndef WK_TXN_H
#define WK_TXN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <event2/event_struct.h>

#include "addr.h"
#include "buf.h"
#include "gate.h"
#include "http.h"
#include "policy.h"

#define IO_READ (128 * 1024)   /* one read(2) of either socket, at most */
#define HEAD_READ (32 * 1024)  /* ... while framing heads */
#define TRIM_AFTER (1024 * 1024) /* malloc_trim once this much buffer was freed */
#define IO_STAGE 64            /* iovecs gathered for one writev */
#define ANSWER_HIGH (16 * 1024) /* queued local answers: stop framing above */
#define MAX_PIPELINE 16        /* requests in flight per connection */
#define RESUME_ROUNDS 8        /* rounds of waiting requests framed per event */
#define LINGER_SECS 2          /* drain after the final answer (RFC 9112 §9.6) */
#define RESP_HEAD_MAX 65536    /* an upstream response head, at most */
#define DRAIN_MAX (1024 * 1024) /* body bytes discarded after a local answer */
#define ACCOUNT_BYTES 65536    /* relayed bytes counted against the session in batches */
#define ACCOUNT_MS 1000        /* ... or at least this often while they flow */

struct portal_req;
struct pipe_slot;

/* Where the request side of a connection is. */
enum rstate {
	RS_HEAD,    /* framing the next request head */
	RS_BODY,    /* a request body: to the upstream, drained or collected */
	RS_WAIT,    /* an upgrade request is out: wait for its answer */
	RS_TUNNEL,  /* after 101: opaque bytes both ways */
	RS_STOP,    /* no further request will be read */
};

/* Where a request body's bytes go. */
enum sink {
	SINK_UPSTREAM, /* relayed byte for byte (copied, or spliced) */
	SINK_DRAIN,    /* discarded after a local answer (bounded) */
	SINK_COLLECT,  /* kept for the portal's accept form */
};

/* Where the connection as a whole is, from accept to conn_free. */
enum lstate {
	LS_OPEN,    /* serving requests */
	LS_CLOSING, /* no more requests: finish the answers queued, then close */
	LS_LINGER,  /* our side is shut: read and discard, then free */
	LS_DEAD,    /* the client socket failed: free at the end of this event */
};

/* Where the upstream connection is. */
enum ustate {
	US_CONNECTING, /* connect() in progress */
	US_OPEN,       /* connected */
};

/* Where the response framer is on the upstream's bytes. */
enum pstate {
	PS_HEAD,    /* a response head (or nothing is expected yet) */
	PS_LENGTH,  /* pleft more body bytes */
	PS_CHUNKED, /* through the chunk decoder */
	PS_CLOSE,   /* body until the upstream's FIN */
	PS_TUNNEL,  /* after 101 */
};

/* One request on the connection, from its head to the end of its answer. */
struct txn {
	struct txn *next;
	enum verdict verdict;
	const char *reason;
	const char *error;
	char *answer;             /* local answer waiting behind earlier ones */
	uint32_t answer_len;
	bool has_answer;          /* answered locally (answer, or sent already) */
	bool relayed;             /* the answer comes from the upstream */
	bool head, upgrade, close_after, sent, has_host;
	struct portal_req *preq;  /* the portal request waiting for its body */
	struct wk_buf collect;    /* ... and that body */
	unsigned status, upstream_status;
	uint64_t bytes_in, bytes_out;
	int64_t t0_ms;
	char method[HTTP_MAX_METHOD + 1];
	char host[128];
	char path[256];
};

/* A socket address of either family, no larger than it needs to be. */
union conn_sa {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* The upstream side, allocated while an upstream socket exists. */
struct upstream {
	struct event ev;         /* its fd: EV_READ, and EV_WRITE when needed */
	int fd;
	short evmask;            /* what ev is added for */
	enum ustate us;
	enum pstate ps;
	bool eof;                /* FIN received */
	bool shut;               /* our FIN sent (the client's, passed on) */
	bool reuse_ok;           /* may carry another request */
	bool wblocked;           /* a write got EAGAIN: wait for EV_WRITE */
	uint64_t t_connect;      /* mono ms: connect started */
	uint64_t t_account;      /* mono ms: last grant_account */
	uint64_t acct;           /* relayed bytes not yet counted to the session */
	struct http_resp resp;
	struct http_chunked ch;
	uint64_t pleft;          /* PS_LENGTH: body bytes still to come */
	struct wk_buf in;        /* a response head that arrived in part */
	struct wk_buf out;       /* bytes for the upstream it has not taken yet */
	struct pipe_slot *pipe;  /* splice, upstream -> client */
	struct pipe_slot *upipe; /* splice, client -> upstream */
};

/* One client connection. What an idle keep-alive connection holds is
 * kept small (docs/design.md, "Memory"): the request framer's state and
 * the chunk decoder are allocated only while a head is in part or a
 * chunked body is being read, the upstream only while it exists. */
struct conn {
	struct conn *next, *prev;
	struct gate *g;
	struct event ev;         /* client fd: EV_READ, and EV_WRITE when needed */
	int fd;
	short evmask;            /* what ev is added for */
	enum lstate ls : 8;
	enum rstate rs : 8;
	enum sink sink : 8;
	enum http_body rbody : 8;
	bool client_eof : 1;     /* FIN from the client */
	bool c_shut : 1;         /* our FIN to the client */
	bool wblocked : 1;       /* a write to the client got EAGAIN */
	bool has_mac : 1, mac_random : 1, mac_conflict : 1, dst_is_gate : 1;
	bool recheck : 1;        /* conn_client_ended: decide again */
	bool stop_after : 1;     /* graceful stop: close after the answers */
	bool linger : 1;         /* unread bytes may follow: linger before closing */
	bool in_wait : 1;        /* c->in holds bytes that wait for room, not more bytes */
	bool shed : 1;           /* over a limit: reset at once, no answer */
	bool rx_secret : 1;      /* this read held a form body (a password): wipe it */
	uint16_t nq;             /* transactions queued */
	struct wk_mac mac;
	uint32_t hidx;           /* its place in the deadline heap (dheap) */
	uint32_t lim_hold;       /* its claim in the per-client limiter */
	uint32_t drained;        /* SINK_DRAIN: body bytes discarded so far */
	int ifindex;             /* the LAN interface it came in on (0: unknown) */
	union conn_sa dst, local;
	struct wk_ip client;
	uint64_t t_wait;         /* mono ms: waiting for a head, draining, lingering since */
	uint64_t t_progress;     /* mono ms: last byte either way */
	uint64_t armed;          /* mono ms of its deadline-heap entry (0: none) */
	uint64_t rleft;          /* Content-Length body bytes still to come */
	struct http_req *req;    /* the framer while a head is in part */
	struct http_chunked *rch; /* a chunked request body's decoder */
	struct txn *rtxn;        /* the txn whose body is being read, if alive */
	struct wk_buf in;        /* unprocessed client bytes (a head in part) */
	struct wk_buf out;       /* bytes for the client it has not taken yet */
	struct txn *qh, *qt;     /* answers in request order */
	struct upstream *up;
};

/* Output gathered during one event for one socket: pointers into the read
 * buffers and the rendered answers, written with one writev at the end. */
struct stage {
	struct iovec v[IO_STAGE];
	int n;
	size_t len;
};

/* Scratch shared by every connection (one event loop, one thread). */
struct conn_io {
	char crx[IO_READ];        /* a read from a client */
	char urx[IO_READ];        /* a read from an upstream */
	char tx[IO_READ];         /* local answers rendered in this event */
	size_t txlen;
	struct stage cst;         /* for the client */
	struct stage ust;         /* for the upstream */
	struct http_req req;      /* the framer for a head that starts in this read */
};
extern struct conn_io conn_io;

/* txn.c, for relay.c */
ssize_t io_write(int fd, struct wk_buf *out, struct stage *s, bool queue);
void conn_pump(struct conn *c);
void conn_free(struct conn *c);
void conn_progress(struct conn *c);
void conn_stage_client(struct conn *c, const char *p, size_t n);
bool conn_write_client(struct conn *c);
void conn_account(struct conn *c, uint64_t n, bool now);
void txn_done(struct conn *c);
void txn_answer(struct conn *c, struct txn *t, unsigned status,
    const char *why, const char *location, bool close);
void txn_flush_answers(struct conn *c);
void conn_splice_body_done(struct conn *c);

/* relay.c, for txn.c */
int relay_open(struct conn *c);
void relay_close(struct conn *c);
void relay_fail(struct conn *c, unsigned status, const char *why);
void relay_stage(struct conn *c, const char *p, size_t n);
bool relay_flush(struct conn *c);
void relay_update(struct conn *c);
bool relay_splice_up(struct conn *c);
bool relay_splice_down(struct conn *c);
bool relay_may_splice(const struct conn *c, uint64_t left);
struct pipe_slot *relay_pipe_get(struct gate *g);
void relay_pipe_put(struct pipe_slot *p);
bool relay_pipe_empty(const struct pipe_slot *p);
void relay_pipes_free(void);

#endif
