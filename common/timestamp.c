/*
 * RFC 3339 date-times and epoch seconds to epoch milliseconds (see timestamp.h). The
 * calendar arithmetic is done here rather than by timegm so that the result depends on
 * nothing but the text (no TZ, no 32-bit time_t), and so that a field out of range is
 * refused as written instead of being normalised (timegm turns Feb 30 into Mar 1).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/timestamp.h"

/* Exactly n ASCII digits at *p (no sign, no space, no locale): their value, and *p moved
 * past them. It stops at the first non-digit, so it never reads past a NUL. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* The character c at *p, and *p moved past it. */
static bool
literal(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static bool
leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* m: 1 to 12. */
static int
days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 0000-01-01 to y-01-01 (proleptic Gregorian, y >= 0): 365 a year plus one for
 * each leap year before y, i.e. the multiples of 4, less those of 100, plus those of 400
 * in [0, y). */
static int64_t
days_before_year(int y)
{
	return (int64_t)365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
}

/* Days from 1970-01-01 to y-m-d, a date that exists. */
static int64_t
days_since_epoch(int y, int m, int d)
{
	static const int before_month[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304,
		334 };

	return days_before_year(y) - days_before_year(1970) + before_month[m - 1] +
	       (m > 2 && leap_year(y)) + d - 1;
}

/* Optional ".d{1,9}" at *p: milliseconds, truncated. More than 9 digits (finer than a
 * nanosecond) is refused, so the loop is bounded. */
static bool
fraction_ms(const char **p, int *ms)
{
	int n = 0;

	*ms = 0;
	if (!literal(p, '.'))
		return true;
	for (; **p >= '0' && **p <= '9'; (*p)++, n++) {
		if (n == 9)
			return false;
		if (n < 3)
			*ms = *ms * 10 + (**p - '0');
	}
	if (n == 0)
		return false;
	for (; n < 3; n++)
		*ms *= 10;
	return true;
}

/* 'Z', 'z', "+hh:mm" or "-hh:mm" at *p: the offset east of UTC in seconds. */
static bool
zone(const char **p, int *offset_s)
{
	int sign, oh, om;

	if (literal(p, 'Z') || literal(p, 'z')) {
		*offset_s = 0;
		return true;
	}
	if (literal(p, '+'))
		sign = 1;
	else if (literal(p, '-'))
		sign = -1;
	else
		return false;
	if (!digits(p, 2, &oh) || !literal(p, ':') || !digits(p, 2, &om) || oh > 23 || om > 59)
		return false;
	*offset_s = sign * (oh * 3600 + om * 60);
	return true;
}

int
rfc3339_parse_ms(const char *s, int64_t *ms_out)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, ms, offset_s;
	int64_t secs;

	if (s == NULL || !digits(&p, 4, &y) || !literal(&p, '-') || !digits(&p, 2, &mo) ||
	    !literal(&p, '-') || !digits(&p, 2, &d) || !(literal(&p, 'T') || literal(&p, 't')) ||
	    !digits(&p, 2, &h) || !literal(&p, ':') || !digits(&p, 2, &mi) || !literal(&p, ':') ||
	    !digits(&p, 2, &sec) || !fraction_ms(&p, &ms) || !zone(&p, &offset_s) || *p != '\0')
		goto invalid;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		goto invalid;
	secs = days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
	*ms_out = secs * 1000 + ms;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

int
epoch_seconds_parse_ms(const char *s, int64_t *ms_out)
{
	const char *p = s;
	int64_t secs = 0;
	int ms;

	if (s == NULL || *p < '0' || *p > '9')
		goto invalid;
	/* Stops one digit past the bound at the latest, so a long string costs no more. */
	for (; *p >= '0' && *p <= '9' && secs <= EPOCH_SECONDS_MAX; p++)
		secs = secs * 10 + (*p - '0');
	if (secs > EPOCH_SECONDS_MAX || !fraction_ms(&p, &ms) || *p != '\0')
		goto invalid;
	*ms_out = secs * 1000 + ms;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}
