/*
 * Tests of common/cloudwatch: exact PutMetricData bodies (statistic sets and
 * distributions), the split at the datum-count and byte limits, escaping, and the values
 * and names the service would refuse.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/cloudwatch.h"
#include "tests/harness.h"

/* A statistic set's datum: no distribution. */
#define NOVALUES NULL, NULL, 0

static const struct cw_dimension shard_dims[] = {
	{ "Operation", "ProcessTask" },
	{ "ShardId", "shardId-000000000001" },
};

static struct cw_datum
datum(const char *name, double count, double sum, double min, double max)
{
	return (struct cw_datum){ name, shard_dims, 2, CW_UNIT_COUNT, 1700000000123, count, sum,
		min, max, NOVALUES };
}

static void
test_cloudwatch_exact_bodies(void)
{
	static const struct cw_dimension worker[] = { { "Operation", "RenewAllLeases" },
		{ "WorkerIdentifier", "host:1234" } };
	struct cw_datum d[3] = {
		datum("RecordsProcessed", 3, 30, 5, 15),
		{ "MillisBehindLatest", shard_dims, 2, CW_UNIT_MILLISECONDS, 1700000001000, 2, 0.5,
		    0.25, 0.25 + 1e-9, NOVALUES },
		{ "CurrentLeases", worker, 2, CW_UNIT_COUNT, 1700000002000, 1, 7, 7, 7, NOVALUES },
	};
	struct cw_limits lim = cw_limits_default();
	struct kls_buf b;
	char why[256];
	size_t used = 0;

	buf_init(&b, 0);
	CU_ASSERT_EQUAL_FATAL(cw_encode("orders", d, 1, &lim, &b, &used, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(used, 1);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "{\"Namespace\":\"orders\",\"MetricData\":[{\"MetricName\":\"RecordsProcessed\","
	    "\"Dimensions\":[{\"Name\":\"Operation\",\"Value\":\"ProcessTask\"},{\"Name\":"
	    "\"ShardId\",\"Value\":\"shardId-000000000001\"}],\"Timestamp\":1700000000.123,"
	    "\"StatisticValues\":{\"SampleCount\":3,\"Sum\":30,\"Minimum\":5,\"Maximum\":15},"
	    "\"Unit\":\"Count\"}]}");

	CU_ASSERT_EQUAL_FATAL(cw_encode("orders", d, 3, &lim, &b, &used, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(used, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "{\"MetricName\":\"MillisBehindLatest\",\"Dimensions\":[{\"Name\":\"Operation\","
	    "\"Value\":\"ProcessTask\"},{\"Name\":\"ShardId\",\"Value\":\"shardId-000000000001\"}],"
	    "\"Timestamp\":1700000001,\"StatisticValues\":{\"SampleCount\":2,\"Sum\":0.5,"
	    "\"Minimum\":0.25,\"Maximum\":0.250000001},\"Unit\":\"Milliseconds\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "},{\"MetricName\":\"CurrentLeases\",\"Dimensions\":[{\"Name\":\"Operation\","
	    "\"Value\":\"RenewAllLeases\"},{\"Name\":\"WorkerIdentifier\",\"Value\":"
	    "\"host:1234\"}],\"Timestamp\":1700000002,\"StatisticValues\":{\"SampleCount\":1,"
	    "\"Sum\":7,\"Minimum\":7,\"Maximum\":7},\"Unit\":\"Count\"}]}"));

	/* No dimensions: the key is left out; the body is JSON a parser reads back. */
	d[0].ndims = 0;
	d[0].unit = CW_UNIT_BYTES;
	CU_ASSERT_EQUAL_FATAL(cw_encode("a/b", d, 1, &lim, &b, &used, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "{\"Namespace\":\"a/b\",\"MetricData\":[{\"MetricName\":\"RecordsProcessed\","
	    "\"Timestamp\":1700000000.123,\"StatisticValues\":{\"SampleCount\":3,\"Sum\":30,"
	    "\"Minimum\":5,\"Maximum\":15},\"Unit\":\"Bytes\"}]}");
	buf_free(&b);
}

/* Values that are not integers read back exactly from the body. */
static void
test_cloudwatch_numbers_round_trip(void)
{
	static const double values[] = { 0.1, 1.0 / 3, 123456789.125, 1e100, -2.5e-300, 1e15,
		0x1p360 };
	struct cw_limits lim = cw_limits_default();
	struct kls_buf b;
	char why[256];
	size_t used;

	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct cw_datum d = datum("V", 1, values[i], values[i], values[i]);
		json_object *o, *md, *sv, *sum;
		if (cw_encode("ns", &d, 1, &lim, &b, &used, why, sizeof(why)) < 0) {
			fprintf(stderr, "%s\n", why);
			CU_FAIL("cw_encode");
			continue;
		}
		o = json_tokener_parse(b.data);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT_TRUE(json_object_object_get_ex(o, "MetricData", &md));
		CU_ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(md, 0),
		    "StatisticValues", &sv));
		CU_ASSERT_TRUE(json_object_object_get_ex(sv, "Sum", &sum));
		CU_ASSERT_EQUAL(json_object_get_double(sum), values[i]);
		json_object_put(o);
	}
	buf_free(&b);
}

/* Quotes and backslashes are escaped; the body still parses to the same strings. */
static void
test_cloudwatch_escaping(void)
{
	static const struct cw_dimension dims[] = { { "Quote\"d", "back\\slash \"x\"" } };
	struct cw_datum d = { "Name \"with\" \\", dims, 1, CW_UNIT_NONE, 0, 1, 1, 1, 1, NOVALUES };
	struct cw_limits lim = cw_limits_default();
	struct kls_buf b;
	char why[256];
	size_t used;
	json_object *o, *md, *x, *dim, *v;

	buf_init(&b, 0);
	CU_ASSERT_EQUAL_FATAL(cw_encode("ns \"q\"", &d, 1, &lim, &b, &used, why, sizeof(why)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"Namespace\":\"ns \\\"q\\\"\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"MetricName\":\"Name \\\"with\\\" \\\\\""));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "{\"Name\":\"Quote\\\"d\",\"Value\":\"back\\\\slash \\\"x\\\"\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"Timestamp\":0,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"Unit\":\"None\""));
	o = json_tokener_parse(b.data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	json_object_object_get_ex(o, "MetricData", &md);
	x = json_object_array_get_idx(md, 0);
	CU_ASSERT_TRUE(json_object_object_get_ex(x, "MetricName", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), d.name);
	CU_ASSERT_TRUE(json_object_object_get_ex(x, "Dimensions", &dim));
	CU_ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(dim, 0), "Value", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), dims[0].value);
	json_object_put(o);
	buf_free(&b);
}

/* What the service refuses is refused before sending, naming the field. */
static void
test_cloudwatch_refusals(void)
{
	char long_name[CW_NAME_MAX + 2], long_value[CW_DIM_VALUE_MAX + 2];
	struct cw_dimension bad_dims[][1] = {
		{ { "ctl", "a\tb" } },
		{ { ":colon", "x" } },
		{ { "Name", "   " } },
		{ { "Name", "caf\xc3\xa9" } },
		{ { "", "x" } },
		{ { "Name", long_value } },
	};
	struct cw_dimension many[CW_MAX_DIMENSIONS + 1];
	struct {
		struct cw_datum d;
		const char *why;
	} cases[] = {
		{ datum("NaN", 1, NAN, 0, 0), "NaN, infinite" },
		{ datum("Inf", 1, 1, -INFINITY, 0), "NaN, infinite" },
		{ datum("Big", 1, 0x1p361, 0, 0), "beyond 2^360" },
		{ datum("Zero", 0, 0, 0, 0), "sample count 0" },
		{ datum("MinMax", 1, 0, 2, 1), "above maximum" },
		{ datum("", 1, 1, 1, 1), "metric name" },
		{ datum(long_name, 1, 1, 1, 1), "metric name" },
		{ datum("Tab\tName", 1, 1, 1, 1), "metric name" },
		{ { "D", bad_dims[0], 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES }, "dimension 0" },
		{ { "D", bad_dims[1], 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES },
		    "starts with ':'" },
		{ { "D", bad_dims[2], 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES }, "dimension 0" },
		{ { "D", bad_dims[3], 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES }, "ASCII" },
		{ { "D", bad_dims[4], 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES }, "empty" },
		{ { "D", bad_dims[5], 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES }, "too long" },
		{ { "D", many, CW_MAX_DIMENSIONS + 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES },
		    "31 dimensions" },
	};
	struct cw_limits lim = cw_limits_default();
	struct kls_buf b;
	char why[512];
	size_t used;

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memset(long_value, 'v', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	for (size_t i = 0; i < CW_MAX_DIMENSIONS + 1; i++)
		many[i] = (struct cw_dimension){ "N", "v" };
	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cw_datum two[2] = { datum("Good", 1, 1, 1, 1), cases[i].d };
		why[0] = '\0';
		CU_ASSERT_EQUAL(cw_datum_check(&cases[i].d, why, sizeof(why)), -1);
		if (!strstr(why, cases[i].why))
			fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, why, cases[i].why);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, cases[i].why));
		/* In a list, the encoder says which one it refused. */
		errno = 0;
		CU_ASSERT_EQUAL(cw_encode("ns", two, 2, &lim, &b, &used, why, sizeof(why)), -1);
		CU_ASSERT_EQUAL(used, 1);
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
	/* The edges that are allowed. */
	long_name[CW_NAME_MAX] = '\0';
	long_value[CW_DIM_VALUE_MAX] = '\0';
	{
		struct cw_dimension ok_dims[] = { { "N:ok", long_value } };
		struct cw_datum ok[] = { datum(long_name, 1, 0x1p360, -0x1p360, 0x1p360),
			{ "D", ok_dims, 1, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES },
			{ "D", many, CW_MAX_DIMENSIONS, CW_UNIT_COUNT, 0, 1, 1, 1, 1, NOVALUES } };
		for (size_t i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(cw_datum_check(&ok[i], why, sizeof(why)), 0);
	}
	/* Namespaces: empty, AWS/, control characters. */
	{
		struct cw_datum d = datum("Good", 1, 1, 1, 1);
		CU_ASSERT_EQUAL(cw_encode("", &d, 1, &lim, &b, &used, why, sizeof(why)), -1);
		CU_ASSERT_EQUAL(cw_encode("AWS/Kinesis", &d, 1, &lim, &b, &used, why, sizeof(why)),
		    -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "AWS/"));
		CU_ASSERT_EQUAL(cw_encode("a\nb", &d, 1, &lim, &b, &used, why, sizeof(why)), -1);
		CU_ASSERT_EQUAL(used, 0);
	}
	buf_free(&b);
}

/* Splits: at the datum limit exactly, and at the byte limit with the next request
 * starting where the last ended; every datum sent once, in order. */
static void
test_cloudwatch_batch_split(void)
{
	enum { N = 2503 };
	static struct cw_datum d[N];
	static char names[N][16];
	struct cw_limits lim = cw_limits_default();
	struct kls_buf b;
	char why[256];
	size_t used, off, requests, sizes[8];

	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "M%zu", i);
		d[i] = datum(names[i], 1, (double)i, (double)i, (double)i);
	}
	buf_init(&b, 0);
	/* The service's limits: 1000, 1000, 503. */
	for (off = 0, requests = 0; off < N; off += used, requests++) {
		CU_ASSERT_EQUAL_FATAL(cw_encode("ns", d + off, N - off, &lim, &b, &used, why,
		                          sizeof(why)),
		    0);
		if (requests >= 8) {
			CU_FAIL("too many requests");
			break;
		}
		sizes[requests] = used;
		CU_ASSERT_TRUE(b.len <= CW_MAX_REQUEST_BYTES);
	}
	CU_ASSERT_EQUAL(requests, 3);
	CU_ASSERT_EQUAL(sizes[0], 1000);
	CU_ASSERT_EQUAL(sizes[1], 1000);
	CU_ASSERT_EQUAL(sizes[2], 503);

	/* A byte limit that fits exactly three datums of this size. */
	{
		size_t one, three;
		struct cw_datum same[7];
		for (size_t i = 0; i < 7; i++)
			same[i] = datum("Same", 1, 1, 1, 1);
		CU_ASSERT_EQUAL_FATAL(cw_encode("ns", same, 1, &lim, &b, &used, why, sizeof(why)),
		    0);
		one = b.len;
		CU_ASSERT_EQUAL_FATAL(cw_encode("ns", same, 3, &lim, &b, &used, why, sizeof(why)),
		    0);
		three = b.len;
		lim.max_bytes = three;
		CU_ASSERT_EQUAL(cw_encode("ns", same, 7, &lim, &b, &used, why, sizeof(why)), 0);
		CU_ASSERT_EQUAL(used, 3);
		CU_ASSERT_EQUAL(b.len, three);
		CU_ASSERT_EQUAL(b.data[b.len - 1], '}');
		{
			json_object *o = json_tokener_parse(b.data);
			CU_ASSERT_PTR_NOT_NULL(o);
			json_object_put(o);
		}
		lim.max_bytes = three - 1;
		CU_ASSERT_EQUAL(cw_encode("ns", same, 7, &lim, &b, &used, why, sizeof(why)), 0);
		CU_ASSERT_EQUAL(used, 2);
		/* A limit below one datum: refused, not an endless loop of empty requests. */
		lim.max_bytes = one - 1;
		errno = 0;
		CU_ASSERT_EQUAL(cw_encode("ns", same, 7, &lim, &b, &used, why, sizeof(why)), -1);
		CU_ASSERT_EQUAL(errno, EMSGSIZE);
		/* Datum limit below the byte limit. */
		lim = (struct cw_limits){ 2, CW_MAX_REQUEST_BYTES };
		CU_ASSERT_EQUAL(cw_encode("ns", same, 7, &lim, &b, &used, why, sizeof(why)), 0);
		CU_ASSERT_EQUAL(used, 2);
	}
	buf_free(&b);
}

/* Distributions (Values and Counts): the exact body, the refusals, and the split of
 * requests whose datums carry the most values the service takes. */
static void
test_cloudwatch_distributions(void)
{
	static const double v[] = { 2.5, 75, 10000 }, c[] = { 2, 1, 1 };
	static double many_v[CW_MAX_VALUES + 1], many_c[CW_MAX_VALUES + 1];
	static const double nan_v[] = { NAN }, one[] = { 1 }, zero[] = { 0 };
	struct cw_datum d = datum("KinesisDataFetcher.getRecords.Time", 0, 0, 0, 0);
	struct cw_limits lim = cw_limits_default();
	struct kls_buf b;
	char why[256];
	size_t used;

	d.unit = CW_UNIT_MILLISECONDS;
	d.values = v;
	d.counts = c;
	d.nvalues = 3;
	buf_init(&b, 0);
	/* The statistic set (all zero here) is neither checked nor sent. */
	CU_ASSERT_EQUAL_FATAL(cw_encode("orders", &d, 1, &lim, &b, &used, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "{\"Namespace\":\"orders\",\"MetricData\":[{\"MetricName\":"
	    "\"KinesisDataFetcher.getRecords.Time\",\"Dimensions\":[{\"Name\":\"Operation\","
	    "\"Value\":\"ProcessTask\"},{\"Name\":\"ShardId\",\"Value\":"
	    "\"shardId-000000000001\"}],\"Timestamp\":1700000000.123,\"Values\":[2.5,75,10000],"
	    "\"Counts\":[2,1,1],\"Unit\":\"Milliseconds\"}]}");

	/* Refused: too many values, no arrays, a NaN value, a count that is not positive. */
	for (size_t i = 0; i <= CW_MAX_VALUES; i++) {
		many_v[i] = (double)i / 4;
		many_c[i] = (double)i + 1;
	}
	d.values = many_v;
	d.counts = many_c;
	d.nvalues = CW_MAX_VALUES;
	CU_ASSERT_EQUAL(cw_datum_check(&d, why, sizeof(why)), 0);
	d.nvalues = CW_MAX_VALUES + 1;
	CU_ASSERT_EQUAL(cw_datum_check(&d, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "151 values"));
	d.nvalues = 1;
	d.counts = NULL;
	CU_ASSERT_EQUAL(cw_datum_check(&d, why, sizeof(why)), -1);
	d.values = nan_v;
	d.counts = one;
	CU_ASSERT_EQUAL(cw_datum_check(&d, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "value 0"));
	d.values = one;
	d.counts = zero;
	CU_ASSERT_EQUAL(cw_datum_check(&d, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "not positive"));

	/* 1000 datums of 150 values each: about 2 kB apiece, so the byte limit splits
	 * them before the datum limit; every body within 1 MB and valid JSON, every datum
	 * sent once, in order. */
	{
		enum { N = 1000 };
		static struct cw_datum big[N];
		size_t off, requests = 0, seen = 0;

		for (size_t i = 0; i < N; i++) {
			big[i] = datum("RecordProcessor.processRecords.Time", 0, 0, 0, 0);
			big[i].values = many_v;
			big[i].counts = many_c;
			big[i].nvalues = CW_MAX_VALUES;
			big[i].timestamp_ms = 1700000000000 + (int64_t)i;
		}
		for (off = 0; off < N && requests < 100; off += used, requests++) {
			json_object *o, *md;
			CU_ASSERT_EQUAL_FATAL(cw_encode("ns", big + off, N - off, &lim, &b, &used,
			                          why, sizeof(why)),
			    0);
			CU_ASSERT_TRUE(used > 0 && used < N);
			CU_ASSERT_TRUE(b.len <= CW_MAX_REQUEST_BYTES);
			/* Full: one more datum would not have fitted. */
			if (off + used < N)
				CU_ASSERT_TRUE(b.len + 2000 > CW_MAX_REQUEST_BYTES);
			o = json_tokener_parse(b.data);
			CU_ASSERT_PTR_NOT_NULL_FATAL(o);
			CU_ASSERT_TRUE(json_object_object_get_ex(o, "MetricData", &md));
			CU_ASSERT_EQUAL(json_object_array_length(md), used);
			for (size_t j = 0; j < used; j++) {
				json_object *dj = json_object_array_get_idx(md, j), *ts, *vals;
				json_object_object_get_ex(dj, "Timestamp", &ts);
				json_object_object_get_ex(dj, "Values", &vals);
				CU_ASSERT_EQUAL(json_object_get_double(ts),
				    (double)(1700000000000 + (int64_t)seen) / 1000);
				CU_ASSERT_EQUAL(json_object_array_length(vals), CW_MAX_VALUES);
				seen++;
			}
			json_object_put(o);
		}
		CU_ASSERT_EQUAL(seen, N);
		CU_ASSERT_TRUE(requests >= 2);
	}
	buf_free(&b);
}

static CU_TestInfo cloudwatch_tests[] = {
	{ "exact bodies", test_cloudwatch_exact_bodies },
	{ "numbers round trip", test_cloudwatch_numbers_round_trip },
	{ "escaping", test_cloudwatch_escaping },
	{ "refusals", test_cloudwatch_refusals },
	{ "batch split", test_cloudwatch_batch_split },
	{ "distributions", test_cloudwatch_distributions },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "cloudwatch", NULL, NULL, NULL, NULL, cloudwatch_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
