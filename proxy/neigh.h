/* neigh: the kernel's neighbour table (ARP and NDP caches) read over
 * rtnetlink, without forking `ip neigh`. A pure parser of RTM_NEWNEIGH dump
 * buffers, and a bounded synchronous dump shell with a receive timeout. */
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

/* A rate limit for dumps on lookup misses: at most one per interval. */
struct neigh_limit {
	uint64_t interval_ms;
	uint64_t last_ms;
	int primed;
};

/* True (and the dump is charged) when a dump may run at now_ms. */
int neigh_limit_take(struct neigh_limit *l, uint64_t now_ms);

#endif
