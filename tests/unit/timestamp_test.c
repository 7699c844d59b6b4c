/*
 * Tests of common/timestamp: RFC 3339 as AWS (credential Expiration) and Go (gokini's
 * RFC3339Nano LeaseTimeout) write it and as kls.conf takes it, what it refuses, the
 * calendar against the C library's timegm over every month of years 0000 to 9999, and
 * epoch seconds. The cases of the three parsers it replaced (creds_http.c,
 * import_gokini.c, conf_keys.c) are all here.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "common/timestamp.h"
#include "tests/harness.h"

/* 2024-05-01T12:00:00Z */
#define T0 INT64_C(1714564800000)
#define REJECTED INT64_MIN
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

struct tcase {
	const char *s;
	int64_t ms; /* REJECTED: -1 with EINVAL, *ms_out untouched */
};

/* Runs parse over cases[n]. */
static void
check_cases(int (*parse)(const char *, int64_t *), const struct tcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool rejected = cases[i].ms == REJECTED;
		int64_t ms = 42;
		int rc;

		errno = 0;
		rc = parse(cases[i].s, &ms);
		if (rejected ? rc != -1 || errno != EINVAL || ms != 42
		             : rc != 0 || ms != cases[i].ms)
			fprintf(stderr, "\n\"%s\": rc %d ms %lld, want %s %lld\n", cases[i].s, rc,
			    (long long)ms, rejected ? "EINVAL" : "0", (long long)cases[i].ms);
		if (rejected) {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_EQUAL(errno, EINVAL);
			CU_ASSERT_EQUAL(ms, 42);
		} else {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(ms, cases[i].ms);
		}
	}
}

static const struct tcase rfc3339_cases[] = {
	/* AWS: whole seconds, or milliseconds. */
	{ "2024-05-01T12:00:00Z", T0 },
	{ "2024-05-01T12:00:00.123Z", T0 + 123 },
	{ "2024-05-01T12:00:00+00:00", T0 },
	{ "2024-05-01T12:00:00-00:00", T0 },
	{ "1970-01-01T00:00:00Z", 0 },
	{ "2024-02-29T23:59:59Z", INT64_C(1709251199000) },
	{ "2024-02-29T23:59:59.999Z", INT64_C(1709251199999) },
	{ "2024-02-29T00:00:00Z", INT64_C(1709164800000) },
	/* Go's RFC3339Nano: 1 to 9 fraction digits, trailing zeros trimmed, any offset. */
	{ "2024-05-01T12:00:00.5Z", T0 + 500 },
	{ "2024-05-01T12:00:00.7Z", T0 + 700 },
	{ "2024-05-01T12:00:00.25Z", T0 + 250 },
	{ "2024-05-01T12:00:00.123456789Z", T0 + 123 },
	{ "2024-05-01T12:00:00.999999999Z", T0 + 999 },
	{ "2024-05-01T12:00:00.000000001Z", T0 },
	{ "2024-05-01T14:30:00+02:30", T0 },
	{ "2024-05-01T09:00:00-03:00", T0 },
	{ "2024-05-01T13:00:00.123456789+01:00", T0 + 123 },
	{ "2024-05-02T11:59:00+23:59", T0 },
	{ "2024-04-30T12:01:00-23:59", T0 },
	{ "2024-05-01t12:00:00z", T0 },
	/* Before the epoch (callers that need 1970 or later check the sign). */
	{ "1969-12-31T23:59:59Z", -1000 },
	{ "1969-12-31T23:59:59.5Z", -500 },
	{ "1970-01-01T00:30:00+01:00", -1800 * 1000 },
	{ "0001-01-01T00:00:00Z", INT64_C(-62135596800000) }, /* Go's zero time */
	{ "0000-01-01T00:00:00Z", INT64_C(-62167219200000) },
	{ "9999-12-31T23:59:59.999Z", INT64_C(253402300799999) },
	/* Leap years: every 4th, not every 100th, every 400th. */
	{ "2000-02-29T00:00:00Z", INT64_C(951782400000) },
	{ "1900-02-29T00:00:00Z", REJECTED },
	{ "2100-02-29T00:00:00Z", REJECTED },
	{ "2023-02-29T12:00:00Z", REJECTED },
	{ "2024-02-30T00:00:00Z", REJECTED },
	{ "2024-04-31T00:00:00Z", REJECTED },
	{ "2024-06-31T00:00:00Z", REJECTED },
	/* Fields out of range. */
	{ "2024-00-01T12:00:00Z", REJECTED },
	{ "2024-13-01T12:00:00Z", REJECTED },
	{ "2024-05-00T12:00:00Z", REJECTED },
	{ "2024-05-32T12:00:00Z", REJECTED },
	{ "2024-05-01T24:00:00Z", REJECTED },
	{ "2024-05-01T12:60:00Z", REJECTED },
	{ "2024-05-01T12:00:60Z", REJECTED }, /* no leap seconds */
	{ "2016-12-31T23:59:60Z", REJECTED },
	{ "2024-05-01T12:00:-1Z", REJECTED },
	{ "2024-05-01T12:00:00+24:00", REJECTED },
	{ "2024-05-01T12:00:00+23:60", REJECTED },
	/* Shapes RFC 3339 does not have. */
	{ "", REJECTED },
	{ "2024-05-01", REJECTED },
	{ "2024-05-01T12:00Z", REJECTED },
	{ "2024-05-01T12:00:00", REJECTED },
	{ "2024-05-01 12:00:00Z", REJECTED },
	{ "2024-5-1T12:00:00Z", REJECTED },
	{ "20240501T120000Z", REJECTED },
	{ "+2024-05-01T12:00:00Z", REJECTED },
	{ "-0001-05-01T12:00:00Z", REJECTED },
	{ " 2024-05-01T12:00:00Z", REJECTED },
	{ "2024-05-01T12:00:00.Z", REJECTED },
	{ "2024-05-01T12:00:00,5Z", REJECTED },
	{ "2024-05-01T12:00:00.1234567891Z", REJECTED },
	{ "2024-05-01T12:00:00+2:00", REJECTED },
	{ "2024-05-01T12:00:00+0200", REJECTED },
	{ "2024-05-01T12:00:00+02", REJECTED },
	{ "2024-05-01T12:00:00UTC", REJECTED },
	{ "2024-05-01T12:00:00Zjunk", REJECTED },
	{ "2024-05-01T12:00:00Z ", REJECTED },
	{ "2024-05-01T12:00:00+02:00Z", REJECTED },
	{ "1714564800", REJECTED },
};

static void
test_timestamp_rfc3339_cases(void)
{
	check_cases(rfc3339_parse_ms, rfc3339_cases, N_OF(rfc3339_cases));
}

/* The first and last second of every month of every year the format can write agree with
 * timegm, and the day after the last one of each month is refused. */
static void
test_timestamp_rfc3339_calendar_matches_timegm(void)
{
	static const int last_day[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int first = sizeof(time_t) >= 8 ? 0 : 1902, last = sizeof(time_t) >= 8 ? 9999 : 2037;
	int failures = 0;

	for (int y = first; y <= last; y++) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (int m = 1; m <= 12; m++) {
			int dmax = last_day[m - 1] + (m == 2 && leap);
			int days[2] = { 1, dmax };
			for (int k = 0; k < 2; k++) {
				struct tm tm = {
					.tm_year = y - 1900,
					.tm_mon = m - 1,
					.tm_mday = days[k],
					.tm_hour = k ? 23 : 0,
					.tm_min = k ? 59 : 0,
					.tm_sec = k ? 59 : 0,
				};
				char s[40];
				int64_t ms = 0;
				snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m,
				    days[k], tm.tm_hour, tm.tm_min, tm.tm_sec);
				int64_t want = (int64_t)timegm(&tm) * 1000;
				if (rfc3339_parse_ms(s, &ms) != 0 || ms != want) {
					if (failures++ < 5)
						fprintf(stderr, "\n%s: %lld, timegm %lld\n", s,
						    (long long)ms, (long long)want);
				}
			}
			char past[40];
			int64_t ms;
			snprintf(past, sizeof(past), "%04d-%02d-%02dT00:00:00Z", y, m, dmax + 1);
			if (rfc3339_parse_ms(past, &ms) != -1 && failures++ < 5)
				fprintf(stderr, "\n%s accepted\n", past);
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

static const struct tcase epoch_cases[] = {
	{ "0", 0 },
	{ "1714564800", T0 },
	{ "1714564800.5", T0 + 500 },
	{ "1714564800.25", T0 + 250 },
	{ "1714564800.123456789", T0 + 123 },
	{ "253402300799", INT64_C(253402300799000) },
	{ "253402300799.999", INT64_C(253402300799999) },
	{ "00001714564800", T0 },
	{ "253402300800", REJECTED },
	{ "99999999999999999999", REJECTED },
	{ "99999999999999999999999999999999999999999999999999999999999999999999", REJECTED },
	{ "", REJECTED },
	{ "-5", REJECTED },
	{ "+5", REJECTED },
	{ " 5", REJECTED },
	{ "5 ", REJECTED },
	{ "1714564800.", REJECTED },
	{ ".5", REJECTED },
	{ "1714564800.1234567891", REJECTED },
	{ "12a", REJECTED },
	{ "1e9", REJECTED },
	{ "2024-05-01T12:00:00Z", REJECTED },
};

static void
test_timestamp_epoch_seconds(void)
{
	check_cases(epoch_seconds_parse_ms, epoch_cases, N_OF(epoch_cases));
}

static CU_TestInfo timestamp_tests[] = {
	{ "RFC 3339 cases", test_timestamp_rfc3339_cases },
	{ "RFC 3339 calendar matches timegm", test_timestamp_rfc3339_calendar_matches_timegm },
	{ "epoch seconds", test_timestamp_epoch_seconds },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "timestamp", NULL, NULL, NULL, NULL, timestamp_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
