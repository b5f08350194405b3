/* limiter: the pure per-client limiter of the connection path -- how many
 * connections one client (IP address, and MAC when known) holds, token
 * buckets for its new connections and its 511/302 answers, and which
 * client gives way when the gate is full. Bounded tables, no I/O, no
 * clock of its own (docs/security.md, "Limits"). */
#ifndef WK_LIMITER_H
#define WK_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct limiter;

/* The per-client bounds (config keys client_*); a rate of 0 is no limit. */
struct limiter_conf {
	uint32_t max_conns;     /* connections at once per IP and per MAC */
	uint32_t connect_rate;  /* new connections per second, sustained */
	uint32_t connect_burst; /* ... and at once */
	uint32_t answer_rate;   /* 511 and probe 302 answers per second */
	uint32_t answer_burst;
};

/* What limiter_admit decided about a new connection. */
enum limiter_verdict {
	LIMITER_OK,    /* admitted */
	LIMITER_SHED,  /* admitted, once the caller has closed *victim */
	LIMITER_CONNS, /* refused: the client holds its maximum of connections */
	LIMITER_RATE,  /* refused: the client opens connections too fast */
	LIMITER_FULL,  /* refused: the gate is full and this client is the heaviest */
};

/* Counters and sizes for `wicketctl stats` and the tests. */
struct limiter_stats {
	uint32_t clients;   /* client records (IP and MAC) in the table */
	uint32_t holds;     /* connections held */
	uint32_t heaviest;  /* connections of the heaviest client */
	uint64_t evicted;   /* idle records dropped to make room */
};

/* Create a limiter for up to max_conns connections at once (the gate's
 * max_connections). The tables are reserved here, touched as used. NULL on
 * error (max_conns 0, out of memory). */
struct limiter *limiter_new(uint32_t max_conns, const struct limiter_conf *conf);
void limiter_free(struct limiter *l);

/* Apply new bounds (reload); the tables grow to max_conns connections
 * (they never shrink: live connections keep their records). -1 when the
 * memory cannot be had, with the old sizes and the new bounds in force. */
int limiter_configure(struct limiter *l, uint32_t max_conns,
    const struct limiter_conf *conf);

/* Decide a new connection from ip (and mac, NULL when not known) at
 * now_ms (monotonic). `full` says the gate holds all it may: the
 * connection is admitted only if a client holding at least two more
 * connections than this one gives one up (LIMITER_SHED, its oldest
 * connection's owner in *victim). On LIMITER_OK and LIMITER_SHED, *hold
 * names the connection for limiter_answer and limiter_release, and owner
 * is what a later shed hands back. Every attempt takes a connect token. */
enum limiter_verdict limiter_admit(struct limiter *l, const struct wk_ip *ip,
    const struct wk_mac *mac, uint64_t now_ms, bool full, void *owner,
    uint32_t *hold, void **victim);

/* Take one token of ip's connect bucket (connect_rate, connect_burst)
 * for something other than a connection -- radius.c's first-sight MAC-auth
 * requests per client address -- in the same bounded, least-recently-used
 * record table; false when its bucket is empty. */
bool limiter_take(struct limiter *l, const struct wk_ip *ip, uint64_t now_ms);

/* Name the owner of a hold (the connection, once it exists): what a shed
 * hands back. */
void limiter_bind(struct limiter *l, uint32_t hold, void *owner);

/* Take one answer token (a 511 or probe 302 about to be queued) for the
 * connection's client; false when its bucket is empty: shed instead. */
bool limiter_answer(struct limiter *l, uint32_t hold, uint64_t now_ms);

/* The connection is gone: its client holds one connection fewer.
 * limiter_bind, limiter_answer and limiter_release accept a NULL limiter
 * (none made, or freed first at shutdown) and a hold of UINT32_MAX (not
 * counted): nothing is limited then. */
void limiter_release(struct limiter *l, uint32_t hold);

/* The owner of the oldest connection of the heaviest client, NULL when no
 * connection is held (for shedding when file descriptors run out). */
void *limiter_heaviest(const struct limiter *l);

void limiter_stats(const struct limiter *l, struct limiter_stats *out);

/* A short name for a verdict ("conns", "rate", ...). */
const char *limiter_verdict_name(enum limiter_verdict v);

#endif
