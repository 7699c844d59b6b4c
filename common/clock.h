/*
 * Time for kls. Deadlines and lease expiry never use the wall clock: they use
 * CLOCK_BOOTTIME (monotonic, and unlike CLOCK_MONOTONIC it keeps counting while the
 * host is suspended, so a suspended owner cannot believe its lease is still fresh).
 * kls_mono is a type of its own so a deadline cannot be mixed up with a wall time.
 * The wall clock is only for AWS request signing and for display.
 */
#ifndef KLS_CLOCK_H
#define KLS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Nanoseconds on CLOCK_BOOTTIME. The same clock in every process of one host. */
typedef struct {
	int64_t ns;
} kls_mono;

#define KLS_MONO_NEVER ((kls_mono){ INT64_MAX })
#define KLS_MONO_ZERO ((kls_mono){ 0 })

kls_mono mono_now(void);

static inline kls_mono
mono_add_ms(kls_mono t, int64_t ms)
{
	if (t.ns == INT64_MAX)
		return t;
	return (kls_mono){ t.ns + ms * 1000000 };
}

static inline bool
mono_before(kls_mono a, kls_mono b)
{
	return a.ns < b.ns;
}

/* Milliseconds from a to b, negative when b is before a. */
static inline int64_t
mono_diff_ms(kls_mono a, kls_mono b)
{
	return (b.ns - a.ns) / 1000000;
}

/* Milliseconds since the Unix epoch, for signing and display only. */
int64_t wall_now_ms(void);

/* Sleeps for ms milliseconds, resuming after signals. */
void sleep_ms(int64_t ms);

#endif
