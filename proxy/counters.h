/* counters: all of a client's traffic through the router, from the
 * nftables per-element counters of the admitted-client sets -- deltas per
 * element since the last read, attributed to the MAC, fed to the session
 * (quota, idle timer) and to RADIUS accounting. */
#ifndef WK_COUNTERS_H
#define WK_COUNTERS_H

#include <stdbool.h>

struct gate;
struct counters;

struct counters *counters_new(void);
void counters_free(struct counters *c);
/* Read the counters and account what moved since the last read. True
 * when the sets have counters (the relay then counts activity only). */
bool counters_poll(struct gate *g, struct counters *c);

#endif
