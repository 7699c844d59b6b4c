/* Tests of common/retry: the classification table and full-jitter backoff bounds. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/retry.h"
#include "tests/harness.h"

static void
test_retry_classify_table(void)
{
	static const struct {
		long status;
		const char *type;
		enum aws_err_class want;
	} cases[] = {
		/* throttling */
		{ 400, "ThrottlingException", AWS_ERR_THROTTLED },
		{ 400, "ProvisionedThroughputExceededException", AWS_ERR_THROTTLED },
		{ 400, "LimitExceededException", AWS_ERR_THROTTLED },
		{ 400, "RequestLimitExceeded", AWS_ERR_THROTTLED },
		{ 400, "TooManyRequestsException", AWS_ERR_THROTTLED },
		{ 400, "KMSThrottlingException", AWS_ERR_THROTTLED },
		{ 503, "SlowDown", AWS_ERR_THROTTLED },
		{ 429, NULL, AWS_ERR_THROTTLED },
		{ 429, "", AWS_ERR_THROTTLED },
		{ 429, "HttpError", AWS_ERR_THROTTLED },
		/* retryable */
		{ 500, "InternalFailure", AWS_ERR_RETRYABLE },
		{ 500, NULL, AWS_ERR_RETRYABLE },
		{ 502, "HttpError", AWS_ERR_RETRYABLE },
		{ 503, "ServiceUnavailable", AWS_ERR_RETRYABLE },
		{ 504, "", AWS_ERR_RETRYABLE },
		{ 0, "NetworkError", AWS_ERR_RETRYABLE },
		{ 0, "Timeout", AWS_ERR_RETRYABLE },
		{ 200, "TruncatedResponse", AWS_ERR_RETRYABLE },
		{ 400, "RequestTimeoutException", AWS_ERR_RETRYABLE },
		{ 400, "ExpiredTokenException", AWS_ERR_RETRYABLE },
		/* fatal */
		{ 400, "ValidationException", AWS_ERR_FATAL },
		{ 400, "ResourceNotFoundException", AWS_ERR_FATAL },
		{ 400, "ConditionalCheckFailedException", AWS_ERR_FATAL },
		{ 400, "ResourceInUseException", AWS_ERR_FATAL },
		{ 400, "ExpiredIteratorException", AWS_ERR_FATAL },
		{ 403, "AccessDenied", AWS_ERR_FATAL },
		{ 403, "AccessDeniedException", AWS_ERR_FATAL },
		{ 400, "UnrecognizedClientException", AWS_ERR_FATAL },
		{ 404, NULL, AWS_ERR_FATAL },
		{ 301, "Redirect", AWS_ERR_FATAL },
		{ 302, NULL, AWS_ERR_FATAL },
		{ 200, "ResponseTooLarge", AWS_ERR_FATAL },
		{ 0, "InvalidEndpoint", AWS_ERR_FATAL },
		{ 0, "TLSVerifyFailed", AWS_ERR_FATAL },
		{ 0, NULL, AWS_ERR_FATAL },
		/* no error */
		{ 200, NULL, AWS_OK },
		{ 204, "", AWS_OK },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum aws_err_class got = retry_classify(cases[i].status, cases[i].type);
		if (got != cases[i].want)
			fprintf(stderr, "classify(%ld, %s) = %s, want %s\n", cases[i].status,
			    cases[i].type ? cases[i].type : "NULL", retry_class_name(got),
			    retry_class_name(cases[i].want));
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	CU_ASSERT_TRUE(retry_is_throttling("ThrottlingException"));
	CU_ASSERT_FALSE(retry_is_throttling("ValidationException"));
	CU_ASSERT_FALSE(retry_is_throttling(NULL));
}

/* Every delay within [0, min(cap, base*2^attempt)], the ceiling itself reached in
 * practice, and the mean growing with the attempt until the cap. */
static void
test_retry_backoff_bounds(void)
{
	enum { DRAWS = 20000, BASE = 50, CAP = 2000 };
	struct retry_rng r;
	double prev_mean = -1;

	retry_rng_seed(&r, 12345);
	for (int attempt = 0; attempt < 10; attempt++) {
		int64_t ceiling = (int64_t)BASE << attempt, max = -1, min = INT64_MAX;
		double sum = 0;
		if (ceiling > CAP)
			ceiling = CAP;
		for (int i = 0; i < DRAWS; i++) {
			int64_t d = retry_backoff_ms(&r, attempt, BASE, CAP);
			CU_ASSERT_FATAL(d >= 0 && d <= ceiling);
			sum += (double)d;
			if (d > max)
				max = d;
			if (d < min)
				min = d;
		}
		/* Full jitter spans the whole range: the extremes show up in 20,000 draws. */
		CU_ASSERT(min <= ceiling / 50);
		CU_ASSERT(max >= ceiling - ceiling / 50);
		/* Uniform on [0, ceiling]: the mean is close to ceiling/2. */
		CU_ASSERT(sum / DRAWS > ceiling * 0.45 && sum / DRAWS < ceiling * 0.55);
		if (ceiling < CAP)
			CU_ASSERT(sum / DRAWS > prev_mean);
		prev_mean = sum / DRAWS;
	}
}

static void
test_retry_backoff_edges(void)
{
	struct retry_rng r;
	retry_rng_seed_random(&r);
	for (int i = 0; i < 1000; i++) {
		CU_ASSERT(retry_backoff_ms(&r, 1000, 100, 5000) <= 5000);
		CU_ASSERT(retry_backoff_ms(&r, 62, INT32_MAX, INT32_MAX) <= INT32_MAX);
		CU_ASSERT_EQUAL(retry_backoff_ms(&r, 3, 0, 5000), 0);
		CU_ASSERT_EQUAL(retry_backoff_ms(&r, -1, -5, -5), 0);
	}
}

/* The state is the caller's: one seed gives one sequence, two states do not interfere. */
static void
test_retry_rng_caller_owned(void)
{
	struct retry_rng a, b, c;
	retry_rng_seed(&a, 7);
	retry_rng_seed(&b, 7);
	retry_rng_seed(&c, 8);
	for (int i = 0; i < 100; i++) {
		uint64_t x = retry_rng_next(&a);
		retry_rng_next(&c);
		CU_ASSERT_EQUAL(x, retry_rng_next(&b));
	}
	retry_rng_seed(&a, 7);
	retry_rng_seed(&c, 8);
	CU_ASSERT_NOT_EQUAL(retry_rng_next(&a), retry_rng_next(&c));
}

static CU_TestInfo retry_tests[] = {
	{ "classify table", test_retry_classify_table },
	{ "backoff bounds", test_retry_backoff_bounds },
	{ "backoff edges", test_retry_backoff_edges },
	{ "rng caller owned", test_retry_rng_caller_owned },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "retry", NULL, NULL, NULL, NULL, retry_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
