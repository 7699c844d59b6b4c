/*
 * Retry policy for AWS calls: which failures are worth retrying (classification from
 * the HTTP status and the AWS error type) and how long to wait (exponential backoff
 * with full jitter, from a random state the caller owns, so threads and processes
 * never share one and tests can replay a seed).
 */
#ifndef KLS_RETRY_H
#define KLS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/aws.h"

/* A small PRNG (splitmix64): fast, seedable, not for secrets. */
struct retry_rng {
	uint64_t state;
};

void retry_rng_seed(struct retry_rng *r, uint64_t seed);
/* Seeds from getrandom(2), falling back to the clock and pid when it is unavailable. */
void retry_rng_seed_random(struct retry_rng *r);
uint64_t retry_rng_next(struct retry_rng *r);

/*
 * Full jitter: a uniform random delay in [0, min(cap_ms, base_ms * 2^attempt)]
 * milliseconds, attempt counting from 0 for the wait after the first failure.
 * Negative inputs count as 0.
 */
int64_t retry_backoff_ms(struct retry_rng *r, int attempt, int base_ms, int cap_ms);

/*
 * The class of a failure from its HTTP status (0 when no response arrived) and its
 * error type (the service's type without namespace, or a local kind such as
 * "NetworkError"; NULL or "" when none). Throttling types and HTTP 429 are
 * AWS_ERR_THROTTLED; 5xx, network errors, timeouts and truncated responses are
 * AWS_ERR_RETRYABLE; other 4xx and 3xx, and local errors, are AWS_ERR_FATAL;
 * 2xx without an error type is AWS_OK.
 */
enum aws_err_class retry_classify(long http_status, const char *error_type);

/* Whether type names a throttling error (ThrottlingException, ...). */
bool retry_is_throttling(const char *error_type);

/* "ok", "throttled", "retryable", "fatal": for log lines. */
const char *retry_class_name(enum aws_err_class cls);

#endif
