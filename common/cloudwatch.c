/*
 * PutMetricData bodies (the contract is common/cloudwatch.h): validation of names and
 * values against the service's rules, number formatting that reads back exactly, and
 * the split of a long list of datums into requests within the count and size limits.
 */
#include "config.h"

#include "common/cloudwatch.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes after the last datum: "]}". */
#define BODY_TAIL 2

struct cw_limits
cw_limits_default(void)
{
	return (struct cw_limits){ CW_MAX_DATUMS, CW_MAX_REQUEST_BYTES };
}

const char *
cw_unit_name(enum cw_unit u)
{
	switch (u) {
	case CW_UNIT_COUNT: return "Count";
	case CW_UNIT_BYTES: return "Bytes";
	case CW_UNIT_MILLISECONDS: return "Milliseconds";
	case CW_UNIT_NONE: break;
	}
	return "None";
}

/* The service's rule for names and dimension values: ASCII, no control characters, at
 * least one character that is not a blank, within max bytes. */
static bool
text_ok(const char *s, size_t max)
{
	bool visible = false;
	size_t n = 0;

	if (!s)
		return false;
	for (; *s; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c != ' ')
			visible = true;
	}
	return visible && n <= max;
}

static bool
value_ok(double v)
{
	return isfinite(v) && fabs(v) <= CW_VALUE_LIMIT;
}

/* A distribution's values and counts. */
static int
values_check(const struct cw_datum *d, char *why, size_t whylen)
{
	if (d->nvalues > CW_MAX_VALUES || !d->values || !d->counts) {
		snprintf(why, whylen, "%s: %zu values (at most %d, with their counts)", d->name,
		    d->nvalues, CW_MAX_VALUES);
		return -1;
	}
	for (size_t i = 0; i < d->nvalues; i++)
		if (!value_ok(d->values[i]) || !value_ok(d->counts[i]) || !(d->counts[i] > 0)) {
			snprintf(why, whylen,
			    "%s: value %zu (%g, %g times) is NaN, infinite, beyond 2^360, or "
			    "its count is not positive",
			    d->name, i, d->values[i], d->counts[i]);
			return -1;
		}
	return 0;
}

int
cw_datum_check(const struct cw_datum *d, char *why, size_t whylen)
{
	if (!text_ok(d->name, CW_NAME_MAX)) {
		snprintf(why, whylen,
		    "metric name missing, too long or not printable ASCII (\"%.64s\")",
		    d->name ? d->name : "");
		return -1;
	}
	if (d->ndims > CW_MAX_DIMENSIONS) {
		snprintf(why, whylen, "%s: %zu dimensions (at most %d)", d->name, d->ndims,
		    CW_MAX_DIMENSIONS);
		return -1;
	}
	for (size_t i = 0; i < d->ndims; i++) {
		const struct cw_dimension *m = &d->dims[i];
		if (!text_ok(m->name, CW_NAME_MAX) || m->name[0] == ':' ||
		    !text_ok(m->value, CW_DIM_VALUE_MAX)) {
			snprintf(why, whylen,
			    "%s: dimension %zu (\"%.64s\" = \"%.64s\") is empty, too long, not "
			    "printable ASCII, or its name starts with ':'",
			    d->name, i, m->name ? m->name : "", m->value ? m->value : "");
			return -1;
		}
	}
	if (d->nvalues)
		return values_check(d, why, whylen);
	if (!value_ok(d->count) || !value_ok(d->sum) || !value_ok(d->min) || !value_ok(d->max)) {
		snprintf(why, whylen,
		    "%s: a statistic is NaN, infinite or beyond 2^360 (count %g, sum %g, min %g, "
		    "max %g)",
		    d->name, d->count, d->sum, d->min, d->max);
		return -1;
	}
	if (d->count < 1 || d->min > d->max) {
		snprintf(why, whylen, "%s: sample count %g below 1 or minimum %g above maximum %g",
		    d->name, d->count, d->min, d->max);
		return -1;
	}
	return 0;
}

/* The shortest decimal that reads back as v (v finite), as a JSON number. */
static int
put_number(struct kls_buf *b, double v)
{
	char tmp[40];

	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	} else {
		snprintf(tmp, sizeof(tmp), "%.15g", v);
		if (strtod(tmp, NULL) != v)
			snprintf(tmp, sizeof(tmp), "%.17g", v);
	}
	return buf_puts(b, tmp);
}

/* Epoch seconds with milliseconds: 1700000000.123 (a whole second prints without a
 * fraction). */
static int
put_timestamp(struct kls_buf *b, int64_t ms)
{
	int64_t s = ms / 1000, frac = ms % 1000;

	if (frac < 0) {
		s--;
		frac += 1000;
	}
	if (frac == 0)
		return buf_printf(b, "%" PRId64, s);
	return buf_printf(b, "%" PRId64 ".%03" PRId64, s, frac);
}

/* head, then v[0],v[1],... */
static int
put_numbers(struct kls_buf *b, const char *head, const double *v, size_t n)
{
	int rc = buf_puts(b, head);

	for (size_t i = 0; i < n && !rc; i++) {
		rc = i ? buf_puts(b, ",") : 0;
		rc = rc ? rc : put_number(b, v[i]);
	}
	return rc;
}

static int
put_datum(struct kls_buf *b, const struct cw_datum *d)
{
	int rc = buf_puts(b, "{\"MetricName\":");

	rc = rc ? rc : buf_json_string(b, d->name);
	if (d->ndims) {
		rc = rc ? rc : buf_puts(b, ",\"Dimensions\":[");
		for (size_t i = 0; i < d->ndims && !rc; i++) {
			rc = buf_puts(b, i ? ",{\"Name\":" : "{\"Name\":");
			rc = rc ? rc : buf_json_string(b, d->dims[i].name);
			rc = rc ? rc : buf_puts(b, ",\"Value\":");
			rc = rc ? rc : buf_json_string(b, d->dims[i].value);
			rc = rc ? rc : buf_puts(b, "}");
		}
		rc = rc ? rc : buf_puts(b, "]");
	}
	rc = rc ? rc : buf_puts(b, ",\"Timestamp\":");
	rc = rc ? rc : put_timestamp(b, d->timestamp_ms);
	if (d->nvalues) {
		rc = rc ? rc : put_numbers(b, ",\"Values\":[", d->values, d->nvalues);
		rc = rc ? rc : put_numbers(b, "],\"Counts\":[", d->counts, d->nvalues);
		rc = rc ? rc : buf_printf(b, "],\"Unit\":\"%s\"}", cw_unit_name(d->unit));
		return rc;
	}
	rc = rc ? rc : buf_puts(b, ",\"StatisticValues\":{\"SampleCount\":");
	rc = rc ? rc : put_number(b, d->count);
	rc = rc ? rc : buf_puts(b, ",\"Sum\":");
	rc = rc ? rc : put_number(b, d->sum);
	rc = rc ? rc : buf_puts(b, ",\"Minimum\":");
	rc = rc ? rc : put_number(b, d->min);
	rc = rc ? rc : buf_puts(b, ",\"Maximum\":");
	rc = rc ? rc : put_number(b, d->max);
	rc = rc ? rc : buf_printf(b, "},\"Unit\":\"%s\"}", cw_unit_name(d->unit));
	return rc;
}

int
cw_encode(const char *ns, const struct cw_datum *d, size_t n, const struct cw_limits *lim,
    struct kls_buf *out, size_t *used, char *why, size_t whylen)
{
	size_t k = 0;

	*used = 0;
	buf_reset(out);
	if (!text_ok(ns, CW_NAME_MAX) || strncmp(ns, "AWS/", 4) == 0) {
		snprintf(why, whylen,
		    "namespace \"%.64s\" is empty, too long, not printable ASCII or AWS/...",
		    ns ? ns : "");
		errno = EINVAL;
		return -1;
	}
	if (buf_puts(out, "{\"Namespace\":") < 0 || buf_json_string(out, ns) < 0 ||
	    buf_puts(out, ",\"MetricData\":[") < 0)
		goto nomem;
	for (; k < n && k < lim->max_datums; k++) {
		size_t mark = out->len;
		if (cw_datum_check(&d[k], why, whylen) < 0) {
			*used = k;
			errno = EINVAL;
			return -1;
		}
		if ((k && buf_puts(out, ",") < 0) || put_datum(out, &d[k]) < 0)
			goto nomem;
		if (out->len + BODY_TAIL > lim->max_bytes) {
			if (k == 0) {
				snprintf(why, whylen,
				    "%s: one datum makes a body of %zu bytes (limit %zu)",
				    d[k].name, out->len + BODY_TAIL, lim->max_bytes);
				errno = EMSGSIZE;
				return -1;
			}
			/* Cut it off again: it goes in the next request. */
			out->len = mark;
			out->data[mark] = '\0';
			break;
		}
	}
	if (buf_puts(out, "]}") < 0)
		goto nomem;
	*used = k;
	return 0;
nomem:
	snprintf(why, whylen, "out of memory encoding PutMetricData");
	errno = ENOMEM;
	*used = k;
	return -1;
}
