/* counters: all of a client's traffic through the router, from the
 * nftables per-element counters of the admitted-client sets -- the last
 * value of each element, and the growth since then, computed only from a
 * complete read of the four sets (all or nothing). Pure: grant.c reads the
 * sets and bills the growth to sessions and RADIUS. */
#ifndef WK_COUNTERS_H
#define WK_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "firewall.h"

struct counters;

/* The growth of one element since the last commit. */
typedef void (*counters_delta_cb)(const struct firewall_count *e,
    uint64_t bytes, uint64_t packets, void *arg);

struct counters *counters_new(void);
void counters_free(struct counters *c);

/* Start a read: what is staged until counters_commit bills nothing. */
void counters_begin(struct counters *c);
/* Stage one element of the read (firewall_count_cb shape; arg is the
 * counters). Elements without a counter are ignored. */
void counters_stage(const struct firewall_count *e, void *arg);
/* The read is complete: call cb with the growth of every element that
 * grew (an element that is new, or went back to a smaller value because
 * it was re-added, counts its whole value) and keep the staged values as
 * the last ones. The number of counted elements staged, or -1 when staging
 * ran out of memory (nothing billed, the last values kept). */
int counters_commit(struct counters *c, counters_delta_cb cb, void *arg);
/* The read failed part way: drop what was staged; the next complete read
 * bills the growth since the last commit, nothing twice. */
void counters_abort(struct counters *c);

/* Every element was flushed and re-added at zero (a reconcile): forget
 * the last values, so the next read counts whole values. */
void counters_forget_all(struct counters *c);
/* mac's pairs were deleted, and with them the reply entries of their
 * addresses (re-added at zero when another MAC holds one): forget those. */
void counters_forget_mac(struct counters *c, const struct wk_mac *mac);

#endif
