/*
 * GetRecords pacing (reader/pace.c): the per-shard rate limit counted from call
 * starts, the idle backoff after an empty response, and full-jitter backoff after
 * throttling and transient failures, bounded by its caps and reset by a success.
 */
#include "config.h"

#include "reader/pace.h"
#include "tests/harness.h"

#define MS(x) ((int64_t)(x)*1000000)
/* A start time far from 0 (0 means "no call yet"). */
#define T0 ((kls_mono){ MS(1000000) })

static kls_mono
at(int64_t ms)
{
	return (kls_mono){ T0.ns + MS(ms) };
}

static void
test_pace_first_call_at_once(void)
{
	struct pace p;

	pace_init(&p, 5, 500, 1);
	CU_ASSERT_EQUAL(pace_earliest(&p).ns, 0);
}

/* One case: rate, idle backoff, when the call started and returned, and its records. */
static const struct {
	uint32_t calls_per_second, idle_ms;
	int64_t returned_ms; /* after the start */
	size_t records;
	int64_t want_ms; /* next start, after the start */
} success_cases[] = {
	{ 5, 500, 50, 100, 200 },    /* records: only the rate limit */
	{ 5, 500, 350, 100, 200 },   /* a slow call earns no extra wait */
	{ 5, 500, 50, 0, 550 },      /* empty: idle backoff from the return */
	{ 5, 0, 50, 0, 200 },        /* no idle backoff: the rate limit still holds */
	{ 5, 100, 10, 0, 200 },      /* idle shorter than the interval */
	{ 1, 500, 10, 7, 1000 },     /* one call per second */
	{ 0, 500, 10, 7, 1000 },     /* 0 is taken as 1 */
	{ 3, 500, 10, 7, 333 },      /* 1 s / 3, in ns, truncated to ms here */
	{ 2, 600000, 5, 0, 600005 }, /* the largest idle backoff */
};

static void
test_pace_success(void)
{
	for (size_t i = 0; i < sizeof(success_cases) / sizeof(success_cases[0]); i++) {
		struct pace p;
		kls_mono next;

		pace_init(&p, success_cases[i].calls_per_second, success_cases[i].idle_ms, 7);
		pace_started(&p, T0);
		next = pace_success(&p, at(success_cases[i].returned_ms), success_cases[i].records);
		if (mono_diff_ms(T0, next) != success_cases[i].want_ms)
			fprintf(stderr, "\ncase %zu: next %lld ms, want %lld\n", i,
			    (long long)mono_diff_ms(T0, next), (long long)success_cases[i].want_ms);
		CU_ASSERT_EQUAL(mono_diff_ms(T0, next), success_cases[i].want_ms);
	}
}

/* Over a simulated minute of back-to-back calls that always return records, no
 * one-second window holds more calls than allowed. */
static void
test_pace_rate_limit_windows(void)
{
	for (uint32_t rate = 1; rate <= 5; rate++) {
		struct pace p;
		kls_mono now = T0, starts[400];
		size_t n = 0;

		pace_init(&p, rate, 500, rate);
		while (n < sizeof(starts) / sizeof(starts[0]) && mono_diff_ms(T0, now) < 60000) {
			kls_mono e = pace_earliest(&p);
			if (mono_before(now, e))
				now = e;
			starts[n++] = now;
			pace_started(&p, now);
			now = mono_add_ms(now, 3); /* the call's own time */
			(void)pace_success(&p, now, 10);
		}
		CU_ASSERT(n >= 60 * rate - 1);
		for (size_t i = 0; i < n; i++) {
			size_t in = 0;
			for (size_t j = i; j < n && starts[j].ns - starts[i].ns < MS(1000); j++)
				in++;
			CU_ASSERT(in <= rate);
		}
	}
}

static void
check_backoff(enum aws_err_class cls, int64_t base, int64_t cap)
{
	struct pace p;
	int64_t biggest_late = 0;

	pace_init(&p, 5, 500, 42);
	pace_started(&p, T0);
	for (int attempt = 0; attempt < 30; attempt++) {
		int64_t wait, bound = base << (attempt < 20 ? attempt : 20);
		kls_mono now = at(10), next = pace_failure(&p, now, cls, &wait);

		if (bound > cap)
			bound = cap;
		CU_ASSERT(wait >= 0 && wait <= bound);
		/* Never sooner than the rate limit, else exactly the backoff drawn. */
		CU_ASSERT(!mono_before(next, pace_earliest(&p)));
		if (mono_before(pace_earliest(&p), mono_add_ms(now, wait)))
			CU_ASSERT_EQUAL(next.ns, mono_add_ms(now, wait).ns);
		CU_ASSERT_EQUAL(p.attempt,
		    attempt < PACE_ATTEMPT_MAX ? attempt + 1 : PACE_ATTEMPT_MAX);
		if (attempt >= 10 && wait > biggest_late)
			biggest_late = wait;
	}
	/* Twenty draws up to the cap: the backoff did grow (odds of failing ~1e-12). */
	CU_ASSERT(biggest_late > cap / 4);
	/* A success starts over from the smallest backoff. */
	(void)pace_success(&p, at(20), 1);
	CU_ASSERT_EQUAL(p.attempt, 0);
	for (int i = 0; i < 50; i++) {
		int64_t wait;
		(void)pace_failure(&p, at(30), cls, &wait);
		CU_ASSERT(wait <= base);
		(void)pace_success(&p, at(40), 1);
	}
}

static void
test_pace_throttled_backoff(void)
{
	check_backoff(AWS_ERR_THROTTLED, PACE_THROTTLE_BASE_MS, PACE_THROTTLE_CAP_MS);
}

static void
test_pace_retryable_backoff(void)
{
	check_backoff(AWS_ERR_RETRYABLE, PACE_RETRY_BASE_MS, PACE_RETRY_CAP_MS);
}

/* The same seed draws the same waits (tests can replay a run). */
static void
test_pace_seeded(void)
{
	struct pace a, b;

	pace_init(&a, 5, 0, 99);
	pace_init(&b, 5, 0, 99);
	for (int i = 0; i < 10; i++) {
		int64_t wa, wb;
		(void)pace_failure(&a, T0, AWS_ERR_THROTTLED, &wa);
		(void)pace_failure(&b, T0, AWS_ERR_THROTTLED, &wb);
		CU_ASSERT_EQUAL(wa, wb);
	}
}

static CU_TestInfo pace_tests[] = {
	{ "first call at once", test_pace_first_call_at_once },
	{ "success: rate limit and idle backoff", test_pace_success },
	{ "no one-second window over the rate", test_pace_rate_limit_windows },
	{ "throttled: full jitter, capped, reset", test_pace_throttled_backoff },
	{ "retryable: full jitter, capped, reset", test_pace_retryable_backoff },
	{ "seeded draws repeat", test_pace_seeded },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "pace", NULL, NULL, NULL, NULL, pace_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
