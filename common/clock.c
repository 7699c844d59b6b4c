/* Clock reads for kls: see clock.h for why deadlines use CLOCK_BOOTTIME. */
#include "config.h"

#include "common/clock.h"

#include <errno.h>
#include <time.h>

kls_mono
mono_now(void)
{
	struct timespec ts;
	/* CLOCK_BOOTTIME cannot fail on Linux >= 2.6.39 with a valid pointer. */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (kls_mono){ (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec };
}

int64_t
wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
