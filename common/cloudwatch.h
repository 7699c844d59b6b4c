/*
 * CloudWatch PutMetricData request bodies, as pure functions: datums in, one JSON body
 * out, split at the service's limits. No I/O, no clock, no global state, so the tests
 * can check the exact bytes; klsd's publisher (supervisor/cloudwatch.c) sends them.
 *
 * Protocol: AWS JSON 1.0 (POST /, X-Amz-Target GraniteServiceVersion20100801.PutMetricData,
 * Content-Type application/x-amz-json-1.0, SigV4 service "monitoring"). CloudWatch took
 * the JSON protocol alongside its older Query (form-encoded, XML answers) protocol in
 * 2025, and the AWS SDKs made it their default (botocore 1.42.7, aws-sdk-ruby's
 * cloudwatch 1.126.0); both are accepted by the real service. JSON lets kls send it
 * through common/aws.c unchanged (same signing path, same JSON error parsing and retry
 * classification as Kinesis and DynamoDB) instead of adding a form encoder and an XML
 * error parser for one call. Timestamps are epoch seconds, as awsJson1_0 wants.
 *
 * Each datum is a statistic set (SampleCount, Sum, Minimum, Maximum) for one interval,
 * or, for a latency histogram, a distribution (Values and Counts: each value and how
 * often it occurred), from which CloudWatch computes percentiles, which it cannot from a
 * statistic set: one datum per metric, shard and interval, never one per record.
 */
#ifndef KLS_CLOUDWATCH_H
#define KLS_CLOUDWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The service's limits (API reference, PutMetricData, MetricDatum, Dimension). */
#define CW_MAX_DATUMS 1000           /* different metrics per request */
#define CW_MAX_REQUEST_BYTES 1000000 /* 1 MB per HTTP POST; kept under 10^6 to be safe */
#define CW_MAX_DIMENSIONS 30
#define CW_NAME_MAX 255       /* namespace, metric and dimension names */
#define CW_DIM_VALUE_MAX 1024 /* dimension values */
#define CW_MAX_VALUES 150     /* Values (and Counts) of one datum */
/* Values must lie within -2^360..2^360 (NaN and infinities are refused too). */
#define CW_VALUE_LIMIT 0x1p360

#define CW_TARGET_PREFIX "GraniteServiceVersion20100801"
#define CW_CONTENT_TYPE "application/x-amz-json-1.0"
#define CW_SERVICE "monitoring"

enum cw_unit {
	CW_UNIT_COUNT,
	CW_UNIT_BYTES,
	CW_UNIT_MILLISECONDS,
	CW_UNIT_NONE,
};

struct cw_dimension {
	const char *name;
	const char *value;
};

struct cw_datum {
	const char *name;
	const struct cw_dimension *dims;
	size_t ndims;
	enum cw_unit unit;
	int64_t timestamp_ms; /* ms since the epoch (UTC); the end of the interval */
	/* The statistic set of the interval: count >= 1 samples, min <= max. */
	double count, sum, min, max;
	/* Or, when nvalues > 0, the interval's distribution instead: values[i] occurred
	 * counts[i] times (a count > 0); the statistic set above is then neither checked
	 * nor sent. nvalues at most CW_MAX_VALUES. */
	const double *values, *counts;
	size_t nvalues;
};

/* What one request may hold; cw_limits_default() is the service's. Tests shrink them. */
struct cw_limits {
	size_t max_datums;
	size_t max_bytes;
};

struct cw_limits cw_limits_default(void);

/* "Count", "Bytes", "Milliseconds", "None". */
const char *cw_unit_name(enum cw_unit u);

/*
 * Whether the service would take d: names and values ASCII without control characters,
 * with a non-blank character, within their lengths; a dimension name not starting with
 * ':'; at most CW_MAX_DIMENSIONS; finite values within CW_VALUE_LIMIT, count >= 1,
 * min <= max; for a distribution, at most CW_MAX_VALUES values within CW_VALUE_LIMIT and
 * finite positive counts. 0, or -1 with why naming the field.
 */
int cw_datum_check(const struct cw_datum *d, char *why, size_t whylen);

/*
 * Appends to out (reset first) one PutMetricData body for namespace ns holding d[0],
 * d[1], ... for as many datums as fit in lim, and sets *used to their number (at least
 * 1 when n > 0). The caller sends it and calls again from d + *used until all are sent.
 * 0, or -1 with why and out unusable: a bad namespace, a datum cw_datum_check refuses
 * (*used is then its index: check datums before encoding them), one datum alone larger
 * than lim (EMSGSIZE), or no memory.
 */
int cw_encode(const char *ns, const struct cw_datum *d, size_t n, const struct cw_limits *lim,
    struct kls_buf *out, size_t *used, char *why, size_t whylen);

#endif
