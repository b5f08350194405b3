/* clock: the daemon's two clocks in one leaf -- wall time (audit
 * timestamps, Date, signed-grant times) and monotonic time (timeouts,
 * ageing, rate limits), so no module depends on another for the time. */
#ifndef WK_CLOCK_H
#define WK_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms(void);
/* Seconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_wall_s(void);
/* Milliseconds of CLOCK_MONOTONIC: never steps when NTP sets the time. */
uint64_t clock_mono_ms(void);

#endif
