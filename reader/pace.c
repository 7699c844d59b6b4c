/*
 * GetRecords pacing for one shard; see pace.h. The rate limit counts from call starts,
 * not ends: the service counts calls per second, so a slow response earns the next call
 * no extra wait.
 */
#include "config.h"

#include "reader/pace.h"

static kls_mono
later(kls_mono a, kls_mono b)
{
	return mono_before(a, b) ? b : a;
}

void
pace_init(struct pace *p, uint32_t max_calls_per_second, uint32_t idle_backoff_ms, uint64_t seed)
{
	if (max_calls_per_second == 0)
		max_calls_per_second = 1;
	/* Rounded up: n intervals must span a whole second, or n + 1 calls would fit. */
	p->interval_ns =
	    (1000000000 + (int64_t)max_calls_per_second - 1) / (int64_t)max_calls_per_second;
	p->idle_ns = (int64_t)idle_backoff_ms * 1000000;
	p->last_start = KLS_MONO_ZERO;
	p->attempt = 0;
	retry_rng_seed(&p->rng, seed);
}

kls_mono
pace_earliest(const struct pace *p)
{
	if (p->last_start.ns == 0)
		return KLS_MONO_ZERO;
	return (kls_mono){ p->last_start.ns + p->interval_ns };
}

void
pace_started(struct pace *p, kls_mono now)
{
	p->last_start = now;
}

kls_mono
pace_success(struct pace *p, kls_mono now, size_t n_records)
{
	kls_mono next = pace_earliest(p);

	p->attempt = 0;
	if (n_records == 0)
		next = later(next, (kls_mono){ now.ns + p->idle_ns });
	return next;
}

kls_mono
pace_failure(struct pace *p, kls_mono now, enum aws_err_class cls, int64_t *wait_ms)
{
	bool throttled = cls == AWS_ERR_THROTTLED;
	int64_t ms = retry_backoff_ms(&p->rng, p->attempt,
	    throttled ? PACE_THROTTLE_BASE_MS : PACE_RETRY_BASE_MS,
	    throttled ? PACE_THROTTLE_CAP_MS : PACE_RETRY_CAP_MS);

	if (p->attempt < PACE_ATTEMPT_MAX)
		p->attempt++;
	if (wait_ms)
		*wait_ms = ms;
	return later(pace_earliest(p), mono_add_ms(now, ms));
}
