/*
 * Error classification and full-jitter backoff for AWS calls: see retry.h. The
 * tables list the error types by name so a reader can check them against the AWS
 * documentation; anything not named falls back to the HTTP status.
 */
#include "config.h"

#include "common/retry.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Types the services use when a caller goes over a rate or a limit that clears with
 * time: back off harder, then retry. */
static const char *const throttling_types[] = {
	"Throttling",
	"ThrottlingException",
	"ThrottledException",
	"RequestThrottled",
	"RequestThrottledException",
	"TooManyRequestsException",
	"ProvisionedThroughputExceededException", /* Kinesis GetRecords/PutRecords, DynamoDB */
	"LimitExceededException",                 /* Kinesis control plane rate limits */
	"RequestLimitExceeded",                   /* DynamoDB account throughput */
	"BandwidthLimitExceeded",
	"SlowDown",
	"PriorRequestNotComplete",
	"EC2ThrottledException",
	"KMSThrottlingException", /* Kinesis on a KMS-encrypted stream */
};

/* Types that are transient whatever the status says. */
static const char *const retryable_types[] = {
	/* local kinds from common/http */
	"NetworkError",
	"Timeout",
	"TruncatedResponse",
	/* service kinds */
	"InternalFailure",
	"InternalServerError",
	"InternalError",
	"ServiceUnavailable",
	"ServiceUnavailableException",
	"RequestTimeout",
	"RequestTimeoutException",
	"IDPCommunicationError",
	"TransactionInProgressException", /* DynamoDB: the same transaction is still running */
	/* The cached token expired under us; the next attempt asks the provider again. */
	"ExpiredToken",
	"ExpiredTokenException",
};

/* Local kinds that retrying cannot fix. */
static const char *const fatal_types[] = {
	"ResponseTooLarge", "HeadersTooLarge", "Redirect", "TLSVerifyFailed",
	"InvalidEndpoint", "LocalError", "BadResponse",
};

static bool
in_list(const char *type, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(type, list[i]) == 0)
			return true;
	return false;
}

#define IN(type, list) in_list(type, list, sizeof(list) / sizeof(list[0]))

bool
retry_is_throttling(const char *error_type)
{
	return error_type && IN(error_type, throttling_types);
}

enum aws_err_class
retry_classify(long http_status, const char *error_type)
{
	const char *t = error_type ? error_type : "";

	if (*t) {
		if (IN(t, throttling_types))
			return AWS_ERR_THROTTLED;
		if (IN(t, retryable_types))
			return AWS_ERR_RETRYABLE;
		if (IN(t, fatal_types))
			return AWS_ERR_FATAL;
	}
	if (http_status == 429)
		return AWS_ERR_THROTTLED;
	if (http_status >= 500 && http_status <= 599)
		return AWS_ERR_RETRYABLE;
	if (http_status >= 200 && http_status <= 299 && !*t)
		return AWS_OK;
	/* 3xx, other 4xx, a 2xx that carried an error, or no response and no known kind. */
	return AWS_ERR_FATAL;
}

const char *
retry_class_name(enum aws_err_class cls)
{
	switch (cls) {
	case AWS_OK: return "ok";
	case AWS_ERR_THROTTLED: return "throttled";
	case AWS_ERR_RETRYABLE: return "retryable";
	case AWS_ERR_FATAL: return "fatal";
	}
	return "unknown";
}

void
retry_rng_seed(struct retry_rng *r, uint64_t seed)
{
	r->state = seed;
}

void
retry_rng_seed_random(struct retry_rng *r)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid() ^
		    (uint64_t)(uintptr_t)r;
	}
	r->state = seed;
}

uint64_t
retry_rng_next(struct retry_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int64_t
retry_backoff_ms(struct retry_rng *r, int attempt, int base_ms, int cap_ms)
{
	int64_t ceiling;

	if (attempt < 0)
		attempt = 0;
	if (base_ms < 0)
		base_ms = 0;
	if (cap_ms < 0)
		cap_ms = 0;
	/* base * 2^attempt without overflow: past 2^31 every int base exceeds any int cap. */
	ceiling = attempt >= 31 ? (int64_t)cap_ms : (int64_t)base_ms << attempt;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	/* Multiply-shift maps 64 random bits onto [0, ceiling] without modulo bias worth
	 * the name at these sizes. */
	return (int64_t)(((unsigned __int128)retry_rng_next(r) * (uint64_t)(ceiling + 1)) >> 64);
}
