/* clock: wall and monotonic time for every module (see clock.h). One
 * place reads the clocks so that tests and readers find them in one file. */
#include "clock.h"

#include <time.h>

/* Milliseconds since the epoch, from the real-time clock. */
int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds since the epoch, from the real-time clock. */
uint64_t
clock_wall_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec;
}

/* Milliseconds of the monotonic clock (ageing, timeouts, rate limits). */
uint64_t
clock_mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
