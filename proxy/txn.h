/* txn: one intercepted client connection (struct conn) and its requests
 * (struct txn), shared by the client side (txn.c: framing, policy, the
 * answer queue, the audit line) and the upstream side (relay.c: the
 * original destination, the response framer, tunnels). */
#ifndef WK_TXN_H
#define WK_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "gate.h"
#include "http.h"
#include "policy.h"

#define OUT_HIGH (256 * 1024) /* stop reading the other side above this */
#define MAX_PIPELINE 16       /* requests in flight per connection */
#define LINGER_SECS 2         /* drain after the final answer (RFC 9112 §9.6) */
#define RESP_HEAD_MAX 65536

struct bufferevent;
struct evbuffer;
struct event;
struct portal_req;

/* Where the request side of a connection is. */
enum rstate {
	RS_HEAD,    /* framing the next request head */
	RS_BODY,    /* reading a request body (length or chunked) */
	RS_WAIT,    /* an upgrade request is out: wait for its answer */
	RS_TUNNEL,  /* after 101: opaque bytes both ways */
	RS_STOP,    /* no further request will be read */
};

/* Where the connection as a whole is, from accept to conn_free. */
enum lstate {
	LS_OPEN,    /* serving requests */
	LS_CLOSING, /* an answer said close: unanswered requests are dropped */
	LS_LINGER,  /* our side is shut: read and discard, then free */
};

/* Where the upstream connection is. */
enum ustate {
	US_NONE,       /* no upstream socket */
	US_CONNECTING, /* connect() in progress */
	US_OPEN,       /* connected (the response framer is in pstate) */
};

/* Where the response framer is on the upstream's bytes. */
enum pstate { PS_HEAD, PS_LENGTH, PS_CHUNKED, PS_CLOSE, PS_TUNNEL };

/* One request on the connection, from its head to the end of its answer. */
struct txn {
	struct txn *next;
	enum verdict verdict;
	const char *reason;
	const char *error;
	struct evbuffer *answer; /* local answer, once it is built */
	struct evbuffer *collect; /* body for the portal's accept form */
	struct portal_req *preq; /* the portal request waiting for its body */
	bool relayed;             /* the answer comes from the upstream */
	bool head, upgrade, close_after, sent;
	unsigned status, upstream_status;
	uint64_t bytes_in, bytes_out;
	int64_t t0_ms;
	char method[HTTP_MAX_METHOD + 1];
	char host[128];
	char path[256];
	bool has_host;
};

struct conn {
	struct conn *next, *prev;
	struct gate *g;
	struct bufferevent *cb, *ub;
	struct event *timer;
	union wk_sockaddr peer, local, dst;
	struct policy_in id;
	char cip_s[WK_IP_STRLEN], dst_s[WK_SA_STRLEN], mac_s[WK_MAC_STRLEN];
	bool mac_random;
	bool recheck;            /* conn_client_ended: decide again */
	enum lstate ls;
	/* request side */
	enum rstate rs;
	struct http_req req;
	struct http_chunked rch;
	enum http_body rbody;
	uint64_t rleft;
	struct txn *rtxn;        /* the txn whose body is being read */
	bool client_eof, c_shut, paused_c;
	/* answers in request order */
	struct txn *qh, *qt;
	unsigned nq;
	/* upstream */
	enum ustate us;
	enum pstate ps;
	struct http_resp resp;
	struct http_chunked pch;
	uint64_t pleft;
	bool up_eof, up_reuse_ok, u_shut, paused_u;
	uint64_t tunnel_bytes;   /* relayed after a 101, not yet accounted */
	uint32_t lim_hold;       /* its claim in the per-client limiter */
	bool shed;               /* over a limit: reset at once, no answer */
};

/* txn.c, for relay.c */
void conn_pump(struct conn *c);
void conn_free(struct conn *c);
void conn_throttle(struct bufferevent *bev, bool *paused, bool pause);
void txn_done(struct conn *c);
void txn_answer(struct txn *t, unsigned status, const char *why,
    const char *location, bool close);
void txn_flush_answers(struct conn *c);

/* relay.c, for txn.c */
int relay_open(struct conn *c);
void relay_close(struct conn *c);
void relay_fail(struct conn *c, unsigned status, const char *why);
void relay_read_responses(struct conn *c);
void relay_account_tunnel(struct conn *c);

#endif
