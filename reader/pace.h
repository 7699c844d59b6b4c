/*
 * When kls-reader may call GetRecords next: the per-shard call rate (at most
 * max_calls_per_second, which the service caps at 5), the idle backoff after an empty
 * response, and exponential backoff with full jitter after throttling or a transient
 * failure. Pure arithmetic on times the caller passes in, so every rule is unit-tested
 * without a clock or a network.
 */
#ifndef KLS_READER_PACE_H
#define KLS_READER_PACE_H

#include <stddef.h>
#include <stdint.h>

#include "common/aws.h"
#include "common/clock.h"
#include "common/retry.h"

/* Backoff after throttling (ProvisionedThroughputExceeded and kin): the first wait is up
 * to PACE_THROTTLE_BASE_MS and doubles up to PACE_THROTTLE_CAP_MS. The service refills a
 * shard's read budget every second, so waits start near one call interval and stop
 * growing at a few seconds. */
#define PACE_THROTTLE_BASE_MS 250
#define PACE_THROTTLE_CAP_MS 10000
/* Backoff after a 5xx, a network error or a timeout. */
#define PACE_RETRY_BASE_MS 100
#define PACE_RETRY_CAP_MS 5000
/* Failures counted no further: 2^20 times any base is far past every cap. */
#define PACE_ATTEMPT_MAX 20

struct pace {
	int64_t interval_ns; /* least time between the starts of two GetRecords calls */
	int64_t idle_ns;     /* pause after an empty response */
	kls_mono last_start; /* start of the last call; KLS_MONO_ZERO before the first */
	int attempt;         /* failures in a row (0 after a success) */
	struct retry_rng rng;
};

/* max_calls_per_second 1..5 (0 is taken as 1); idle_backoff_ms as configured. */
void pace_init(struct pace *p, uint32_t max_calls_per_second, uint32_t idle_backoff_ms,
    uint64_t seed);

/* The earliest time the next call may start: one interval after the last start. */
kls_mono pace_earliest(const struct pace *p);

/* A GetRecords call starts now. */
void pace_started(struct pace *p, kls_mono now);

/* The call that started last returned n records at now: when the next one may start
 * (the rate limit, and the idle backoff when n is 0). Resets the failure count. */
kls_mono pace_success(struct pace *p, kls_mono now, size_t n_records);

/*
 * A call failed with class cls (AWS_ERR_THROTTLED or AWS_ERR_RETRYABLE) at now: when the
 * next attempt may start, a full-jitter backoff that grows with each failure in a row,
 * never sooner than the rate limit allows. *wait_ms (optional) gets the backoff drawn,
 * for the log line.
 */
kls_mono pace_failure(struct pace *p, kls_mono now, enum aws_err_class cls, int64_t *wait_ms);

#endif
