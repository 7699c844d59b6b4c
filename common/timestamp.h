/*
 * RFC 3339 date-times, the ISO 8601 profile that every timestamp kls reads is written in:
 * AWS credential Expiration ("2026-11-26T09:51:25Z", "2026-11-26T09:51:25.123Z"), Go's
 * time.RFC3339Nano in gokini's LeaseTimeout ("2026-11-26T09:51:25.123456789+01:00") and
 * kls.conf's initial_timestamp, which also takes epoch seconds ("1714564800.5"). Strict
 * parsers with no locale or time zone dependence (no strptime, no timegm).
 */
#ifndef KLS_TIMESTAMP_H
#define KLS_TIMESTAMP_H

#include <stdint.h>

/*
 * Parses exactly
 *     YYYY-MM-DD ('T'|'t') hh:mm:ss ['.' 1 to 9 digits] ('Z'|'z'|('+'|'-') hh:mm)
 * and nothing after it, into milliseconds since 1970-01-01T00:00:00Z (negative before).
 * Every field must be in range: year 0000-9999, a day that exists in its month (Gregorian
 * leap years), hour 00-23, minute 00-59, second 00-59, offset hours 00-23 and minutes
 * 00-59. A leap second (ss = 60) is refused: neither AWS nor Go writes one, and epoch time
 * has no place for it. The fraction is truncated to the millisecond, so the result never
 * lies past the written instant. A numeric offset is subtracted ("-00:00" counts as UTC).
 * A date alone, a space for the 'T', a missing zone or anything after it are refused.
 * Returns 0 with *ms_out set, or -1 with errno EINVAL and *ms_out unchanged.
 */
int rfc3339_parse_ms(const char *s, int64_t *ms_out);

/* Latest time either parser's UTC fields can write: 9999-12-31T23:59:59Z. */
#define EPOCH_SECONDS_MAX INT64_C(253402300799)

/*
 * Parses epoch seconds: 1 or more ASCII digits, then optionally '.' and 1 to 9 digits
 * (truncated to the millisecond), and nothing else; no sign, no space. The seconds may
 * be at most EPOCH_SECONDS_MAX, which bounds the digits read.
 * Returns 0 with *ms_out set, or -1 with errno EINVAL and *ms_out unchanged.
 */
int epoch_seconds_parse_ms(const char *s, int64_t *ms_out);

#endif
