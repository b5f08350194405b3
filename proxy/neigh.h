/* neigh: the kernel's neighbour table (ARP and NDP caches) read over
 * rtnetlink, without forking `ip neigh`. A pure parser of RTM_NEWNEIGH dump
 * buffers, a bounded synchronous dump shell for start-up, and a
 * single-entry lookup that never waits, for the event loop. */
#ifndef WK_NEIGH_H
#define WK_NEIGH_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* One usable kernel neighbour entry. */
struct neigh_entry {
	int ifindex;
	struct wk_ip ip;
	struct wk_mac mac;
	uint16_t state;		/* NUD_* (REACHABLE, STALE, DELAY, PROBE, PERMANENT) */
	uint8_t flags;		/* NTF_* */
	uint32_t age_cs;	/* NDA_CACHEINFO: 1/100 s since last confirmed or
				 * updated; UINT32_MAX when the kernel gave none */
};

typedef void (*neigh_cb)(const struct neigh_entry *e, void *arg);

/* Return values of neigh_parse. */
#define NEIGH_MORE	0	/* buffer consumed, the dump goes on */
#define NEIGH_DONE	1	/* NLMSG_DONE seen: the dump is complete */
#define NEIGH_ERROR	(-1)	/* malformed buffer, NLMSG_ERROR or OVERRUN */

/* Parse one netlink receive buffer of a RTM_GETNEIGH dump, calling cb for
 * each entry on ifindex (0: any) whose state is not INCOMPLETE, FAILED,
 * NOARP or NONE, whose MAC is unicast and which is not a proxy entry.
 * Entries before an error in the same buffer are still delivered. On an
 * NLMSG_ERROR, *err (if not NULL) gets the negative errno. */
int neigh_parse(const void *buf, size_t len, int ifindex, neigh_cb cb, void *arg,
    int *err);

/* Dump the kernel's IPv4 and IPv6 neighbour tables (on ifindex, 0: all)
 * into cb. Synchronous but bounded: every receive has a timeout and the
 * whole dump a deadline (NEIGH_DUMP_DEADLINE_MS), so it can never hang.
 * Returns the number of entries delivered, or -1 with errno set. */
#define NEIGH_DUMP_DEADLINE_MS 500
int neigh_dump(int ifindex, neigh_cb cb, void *arg);

/* A non-blocking, close-on-exec rtnetlink socket for neigh_get; -1 with
 * errno. */
int neigh_socket(void);

/* The kernel's entry for ip on ifindex with one RTM_GETNEIGH request
 * (Linux >= 4.20), filtered like neigh_parse; ifindex 0: the interface of
 * the kernel's route to ip (one RTM_GETROUTE first). It never waits: the kernel
 * answers a netlink request inside sendmsg, so the reply is queued when
 * that returns, and a missing reply is an error (EAGAIN), not a reason to
 * block. 1 found (in *out), 0 no usable entry, -1 with errno set
 * (EOPNOTSUPP: a kernel too old for single-entry requests). */
int neigh_get(int fd, int ifindex, const struct wk_ip *ip, struct neigh_entry *out);

/* A rate limit for kernel lookups on lookup misses: one token per
 * interval, at most burst (0: 1) saved up. */
struct neigh_limit {
	uint64_t interval_ms;
	unsigned burst;
	uint64_t last_ms;
	unsigned tokens;
	int primed;
};

/* True (and a token is taken) when a lookup may run at now_ms. */
int neigh_limit_take(struct neigh_limit *l, uint64_t now_ms);

#endif
