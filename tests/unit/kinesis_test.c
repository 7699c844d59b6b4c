/*
 * Tests of common/kinesis: request bodies and response parsing as pure functions
 * (tables of good and bad bodies), then the client against a scripted loopback stub:
 * ListShards pagination, ExpiredNextToken restarts, errors that name call and stream.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/getrecords.h"
#include "common/kinesis.h"
#include "tests/harness.h"
#include "tests/stub_script.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
assert_contains(const char *hay, const char *needle, const char *label)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "\n%s: \"%s\" does not contain \"%s\"\n", label, hay, needle);
		CU_FAIL("message lacks the expected words");
	}
}

/* ---- request bodies ---- */

static void
test_kinesis_list_shards_body(void)
{
	static const struct {
		const char *next_token;
		struct kinesis_list_opts opts;
		const char *want;
	} cases[] = {
		{ NULL, { 0 }, "{\"StreamName\":\"orders\"}" },
		{ NULL, { .max_results = 2 }, "{\"StreamName\":\"orders\",\"MaxResults\":2}" },
		{ NULL, { .filter = KINESIS_FILTER_AT_TIMESTAMP, .filter_timestamp_ms = 1700000000123 },
		    "{\"StreamName\":\"orders\",\"ShardFilter\":{\"Type\":\"AT_TIMESTAMP\","
		    "\"Timestamp\":1700000000.123}}" },
		{ NULL, { .filter = KINESIS_FILTER_AFTER_SHARD_ID, .filter_shard_id = "shardId-000000000002" },
		    "{\"StreamName\":\"orders\",\"ShardFilter\":{\"Type\":\"AFTER_SHARD_ID\","
		    "\"ShardId\":\"shardId-000000000002\"}}" },
		{ NULL, { .filter = KINESIS_FILTER_AT_LATEST },
		    "{\"StreamName\":\"orders\",\"ShardFilter\":{\"Type\":\"AT_LATEST\"}}" },
		/* Follow-up pages: the token alone (the API refuses StreamName with it). */
		{ "tok/1+=", { .max_results = 2, .filter = KINESIS_FILTER_AT_LATEST },
		    "{\"NextToken\":\"tok/1+=\",\"MaxResults\":2}" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct kls_buf b;
		struct aws_error err;
		buf_init(&b, 0);
		CU_ASSERT_EQUAL_FATAL(kinesis_list_shards_body(&b, "orders", cases[i].next_token,
					  &cases[i].opts, &err),
		    0);
		CU_ASSERT_STRING_EQUAL(b.data, cases[i].want);
		buf_free(&b);
	}
}

static void
test_kinesis_list_shards_body_refuses(void)
{
	static const struct {
		const char *stream;
		struct kinesis_list_opts opts;
		const char *want;
	} cases[] = {
		{ "has space", { 0 }, "stream name" },
		{ "", { 0 }, "stream name" },
		{ NULL, { 0 }, "stream name" },
		{ "orders", { .max_results = 10001 }, "MaxResults 10001" },
		{ "orders", { .filter = KINESIS_FILTER_AFTER_SHARD_ID }, "shard id" },
		{ "orders", { .filter = (enum kinesis_shard_filter)42 }, "unknown shard filter" },
		{ "orders", { .filter = KINESIS_FILTER_FROM_TIMESTAMP, .filter_timestamp_ms = -5 },
		    "before the epoch" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct kls_buf b;
		struct aws_error err;
		buf_init(&b, 0);
		CU_ASSERT_EQUAL(kinesis_list_shards_body(&b, cases[i].stream, NULL, &cases[i].opts, &err),
		    -1);
		CU_ASSERT_STRING_EQUAL(err.type, "InvalidArgument");
		assert_contains(err.message, cases[i].want, "list_shards_body");
		buf_free(&b);
	}
}

static void
test_kinesis_shard_iterator_body(void)
{
	static const struct {
		struct kinesis_position pos;
		const char *want;
	} cases[] = {
		{ { .type = KINESIS_TRIM_HORIZON }, "\"ShardIteratorType\":\"TRIM_HORIZON\"}" },
		{ { .type = KINESIS_LATEST }, "\"ShardIteratorType\":\"LATEST\"}" },
		{ { KINESIS_AT_TIMESTAMP, .timestamp_ms = 1500000000005 },
		    "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1500000000.005}" },
		{ { KINESIS_AT_TIMESTAMP, .timestamp_ms = 0 },
		    "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":0.000}" },
		{ { KINESIS_AT_SEQUENCE_NUMBER, .sequence_number = "4959" },
		    "\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"4959\"}" },
		{ { KINESIS_AFTER_SEQUENCE_NUMBER, .sequence_number = "0" },
		    "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"0\"}" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct kls_buf b;
		struct aws_error err;
		char want[512];
		buf_init(&b, 0);
		CU_ASSERT_EQUAL_FATAL(kinesis_get_shard_iterator_body(&b, "orders",
					  "shardId-000000000001", &cases[i].pos, &err),
		    0);
		snprintf(want, sizeof(want),
		    "{\"StreamName\":\"orders\",\"ShardId\":\"shardId-000000000001\",%s", cases[i].want);
		CU_ASSERT_STRING_EQUAL(b.data, want);
		buf_free(&b);
	}
}

static void
test_kinesis_shard_iterator_body_refuses(void)
{
	static const struct {
		const char *shard;
		struct kinesis_position pos;
		const char *want;
	} cases[] = {
		{ "shardId-1", { KINESIS_AFTER_SEQUENCE_NUMBER, .sequence_number = NULL },
		    "AFTER_SEQUENCE_NUMBER needs a decimal sequence number" },
		{ "shardId-1", { KINESIS_AT_SEQUENCE_NUMBER, .sequence_number = "12a" }, "\"12a\"" },
		{ "shardId-1", { KINESIS_AT_SEQUENCE_NUMBER, .sequence_number = "012" }, "\"012\"" },
		{ "shardId-1", { KINESIS_AT_TIMESTAMP, .timestamp_ms = -1 }, "before the epoch" },
		{ "shardId-1", { .type = (enum kinesis_iterator_type)9 }, "no iterator type" },
		{ "shard/1", { .type = KINESIS_LATEST }, "shard id \"shard/1\"" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct kls_buf b;
		struct aws_error err;
		buf_init(&b, 0);
		CU_ASSERT_EQUAL(kinesis_get_shard_iterator_body(&b, "orders", cases[i].shard,
				    &cases[i].pos, &err),
		    -1);
		assert_contains(err.message, cases[i].want, "shard_iterator_body");
		assert_contains(err.message, "GetShardIterator orders", "shard_iterator_body");
		buf_free(&b);
	}
}

static void
test_kinesis_get_records_body(void)
{
	struct kls_buf b;
	struct aws_error err;
	char longit[KINESIS_ITERATOR_MAX + 2];

	buf_init(&b, 0);
	CU_ASSERT_EQUAL(kinesis_get_records_body(&b, "AAAA/b+c=", 10000, &err), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "{\"ShardIterator\":\"AAAA/b+c=\",\"Limit\":10000}");
	CU_ASSERT_EQUAL(kinesis_get_records_body(&b, "it", 0, &err), -1);
	assert_contains(err.message, "Limit 0", "get_records_body");
	CU_ASSERT_EQUAL(kinesis_get_records_body(&b, "it", 10001, &err), -1);
	CU_ASSERT_EQUAL(kinesis_get_records_body(&b, "", 1, &err), -1);
	assert_contains(err.message, "shard iterator of 0 bytes", "get_records_body");
	memset(longit, 'x', sizeof(longit) - 1);
	longit[sizeof(longit) - 1] = '\0';
	CU_ASSERT_EQUAL(kinesis_get_records_body(&b, longit, 1, &err), -1);
	assert_contains(err.message, "513 bytes", "get_records_body");
	buf_free(&b);
}

static void
test_kinesis_put_records_body(void)
{
	struct kinesis_put_entry e[2] = {
		{ "hello", 5, "pk-1", NULL },
		{ "\x00\xff", 2, "pk-2", "170141183460469231731687303715884105728" },
	};
	struct kls_buf b;
	struct aws_error err;

	buf_init(&b, 0);
	CU_ASSERT_EQUAL_FATAL(kinesis_put_records_body(&b, "orders", e, 2, &err), 0);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "{\"StreamName\":\"orders\",\"Records\":[{\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"pk-1\"},"
	    "{\"Data\":\"AP8=\",\"PartitionKey\":\"pk-2\","
	    "\"ExplicitHashKey\":\"170141183460469231731687303715884105728\"}]}");
	buf_free(&b);
}

static void
test_kinesis_put_records_body_refuses(void)
{
	static struct kinesis_put_entry many[501];
	char pk[300];
	struct kinesis_put_entry one;
	struct kls_buf b;
	struct aws_error err;

	buf_init(&b, 0);
	for (size_t i = 0; i < N(many); i++)
		many[i] = (struct kinesis_put_entry){ "x", 1, "k", NULL };
	CU_ASSERT_EQUAL(kinesis_put_records_body(&b, "orders", many, 501, &err), -1);
	assert_contains(err.message, "501 records", "put_records_body");
	CU_ASSERT_EQUAL(kinesis_put_records_body(&b, "orders", many, 0, &err), -1);

	one = (struct kinesis_put_entry){ "x", 1, "", NULL };
	CU_ASSERT_EQUAL(kinesis_put_records_body(&b, "orders", &one, 1, &err), -1);
	assert_contains(err.message, "record 0: partition key of 0 characters", "put_records_body");
	memset(pk, 'k', sizeof(pk) - 1);
	pk[257] = '\0';
	one.partition_key = pk;
	CU_ASSERT_EQUAL(kinesis_put_records_body(&b, "orders", &one, 1, &err), -1);
	one = (struct kinesis_put_entry){ "x", KINESIS_RECORD_DATA_MAX + 1, "k", NULL };
	CU_ASSERT_EQUAL(kinesis_put_records_body(&b, "orders", &one, 1, &err), -1);
	assert_contains(err.message, "1048577 bytes", "put_records_body");
	one = (struct kinesis_put_entry){ "x", 1, "k", "340282366920938463463374607431768211456" };
	CU_ASSERT_EQUAL(kinesis_put_records_body(&b, "orders", &one, 1, &err), -1);
	assert_contains(err.message, "explicit hash key", "put_records_body");
	buf_free(&b);
}

/* ---- responses ---- */

static const char two_shards[] =
    "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\","
    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"170141183460469231731687303715884105727\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"49590\",\"EndingSequenceNumber\":\"49599\"}},"
    "{\"ShardId\":\"shardId-000000000002\",\"ParentShardId\":\"shardId-000000000000\","
    "\"AdjacentParentShardId\":\"shardId-000000000001\","
    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"340282366920938463463374607431768211455\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"49600\"}}],"
    "\"NextToken\":\"AAAA-next\"}";

static void
test_kinesis_parse_list_shards(void)
{
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	char *tok;

	CU_ASSERT_EQUAL_FATAL(kinesis_parse_list_shards(two_shards, strlen(two_shards), &l, 100, &tok,
				  &err),
	    0);
	CU_ASSERT_EQUAL_FATAL(l.n, 2);
	CU_ASSERT_STRING_EQUAL(tok, "AAAA-next");
	CU_ASSERT_STRING_EQUAL(l.shards[0].shard_id, "shardId-000000000000");
	CU_ASSERT_STRING_EQUAL(l.shards[0].parent_shard_id, "");
	CU_ASSERT_STRING_EQUAL(l.shards[0].ending_hash_key, "170141183460469231731687303715884105727");
	CU_ASSERT_STRING_EQUAL(l.shards[0].ending_sequence_number, "49599");
	CU_ASSERT(kinesis_shard_closed(&l.shards[0]));
	CU_ASSERT_STRING_EQUAL(l.shards[1].parent_shard_id, "shardId-000000000000");
	CU_ASSERT_STRING_EQUAL(l.shards[1].adjacent_parent_shard_id, "shardId-000000000001");
	CU_ASSERT_STRING_EQUAL(l.shards[1].ending_hash_key, "340282366920938463463374607431768211455");
	CU_ASSERT_STRING_EQUAL(l.shards[1].starting_sequence_number, "49600");
	CU_ASSERT(!kinesis_shard_closed(&l.shards[1]));
	free(tok);

	/* A second page appends; the last page has no token. */
	CU_ASSERT_EQUAL(kinesis_parse_list_shards("{\"Shards\":[]}\r\n ", 16, &l, 100, &tok, &err), 0);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_PTR_NULL(tok);
	/* ... and the bound counts shards across pages. */
	CU_ASSERT_EQUAL(kinesis_parse_list_shards(two_shards, strlen(two_shards), &l, 3, &tok, &err),
	    -1);
	assert_contains(err.message, "more than 3 shards", "parse_list_shards");
	CU_ASSERT_EQUAL(l.n, 2);
	kinesis_shard_list_free(&l);
}

#define SHARD_OK_HASH "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"9\"}"
#define SHARD_OK_SEQ "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\"}"

static void
test_kinesis_parse_list_shards_rejects(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "", "empty response body" },
		{ "{\"Shards\":[{\"ShardId\":\"s", "truncated JSON" },
		{ "<html>busy</html>", "not JSON" },
		{ "{\"Shards\":[]} {}", "not JSON: unexpected character at byte 14" },
		{ "{\"Shards\":[],}", "not JSON" },
		{ "null", "JSON null" },
		{ "12", "JSON int, expected an object" },
		{ "[]", "JSON array, expected an object" },
		{ "{}", "Shards: missing" },
		{ "{\"Shards\":{}}", "Shards: object, expected an array" },
		{ "{\"Shards\":[],\"NextToken\":5}", "NextToken: int, expected a string" },
		{ "{\"Shards\":[7]}", "Shards[0]: int, expected an object" },
		{ "{\"Shards\":[{" SHARD_OK_HASH "," SHARD_OK_SEQ "}]}", "Shards[0].ShardId: missing" },
		{ "{\"Shards\":[{\"ShardId\":\"\"," SHARD_OK_HASH "," SHARD_OK_SEQ "}]}",
		    "Shards[0].ShardId: empty" },
		{ "{\"Shards\":[{\"ShardId\":\"a\"," SHARD_OK_SEQ "}]}",
		    "Shards[0].HashKeyRange: missing" },
		{ "{\"Shards\":[{\"ShardId\":\"a\",\"HashKeyRange\":{\"StartingHashKey\":\"0\","
		  "\"EndingHashKey\":\"1234567890123456789012345678901234567890\"}," SHARD_OK_SEQ "}]}",
		    "EndingHashKey: 40 bytes, longer than 39" },
		{ "{\"Shards\":[{\"ShardId\":\"a\",\"HashKeyRange\":{\"StartingHashKey\":\"0\","
		  "\"EndingHashKey\":\"340282366920938463463374607431768211456\"}," SHARD_OK_SEQ "}]}",
		    "not a 128-bit decimal" },
		{ "{\"Shards\":[{\"ShardId\":\"a\",\"HashKeyRange\":{\"StartingHashKey\":\"-1\","
		  "\"EndingHashKey\":\"5\"}," SHARD_OK_SEQ "}]}",
		    "not a 128-bit decimal" },
		{ "{\"Shards\":[{\"ShardId\":\"a\"," SHARD_OK_HASH ",\"SequenceNumberRange\":"
		  "{\"StartingSequenceNumber\":\"1\",\"EndingSequenceNumber\":\"x\"}}]}",
		    "sequence number is not decimal" },
		{ "{\"Shards\":[{\"ShardId\":\"a\"," SHARD_OK_HASH ",\"SequenceNumberRange\":{}}]}",
		    "Shards[0].SequenceNumberRange.StartingSequenceNumber: missing" },
		{ "{\"Shards\":[{\"ShardId\":\"a\",\"ParentShardId\":[]," SHARD_OK_HASH "," SHARD_OK_SEQ "}]}",
		    "Shards[0].ParentShardId: array, expected a string" },
		{ "{\"Shards\":[{\"ShardId\":\"a\\u0000b\"," SHARD_OK_HASH "," SHARD_OK_SEQ "}]}",
		    "NUL byte" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct kinesis_shard_list l = { 0 };
		struct aws_error err;
		char *tok = (char *)"unset";

		memset(&err, 0, sizeof(err));
		CU_ASSERT_EQUAL(kinesis_parse_list_shards(cases[i].body, strlen(cases[i].body), &l, 100,
				    &tok, &err),
		    -1);
		CU_ASSERT_EQUAL(l.n, 0);
		CU_ASSERT_PTR_NULL(tok);
		CU_ASSERT_EQUAL(err.cls, AWS_ERR_FATAL);
		CU_ASSERT_STRING_EQUAL(err.type, "BadResponse");
		assert_contains(err.message, cases[i].want, cases[i].body);
		kinesis_shard_list_free(&l);
	}
}

static void
test_kinesis_parse_list_shards_long_shard_id(void)
{
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	struct kls_buf b;
	char id[KINESIS_SHARD_ID_MAX + 2], *tok;

	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	buf_init(&b, 0);
	buf_printf(&b, "{\"Shards\":[{\"ShardId\":\"%s\"," SHARD_OK_HASH "," SHARD_OK_SEQ "}]}", id);
	CU_ASSERT_EQUAL(kinesis_parse_list_shards(b.data, b.len, &l, 10, &tok, &err), -1);
	assert_contains(err.message, "Shards[0].ShardId: 129 bytes, longer than 128", "long id");
	buf_free(&b);
	kinesis_shard_list_free(&l);
}

static void
test_kinesis_parse_stream_summary(void)
{
	static const char ok[] =
	    "{\"StreamDescriptionSummary\":{\"StreamName\":\"orders\",\"StreamARN\":"
	    "\"arn:aws:kinesis:us-east-1:000000000000:stream/orders\",\"StreamStatus\":\"ACTIVE\","
	    "\"RetentionPeriodHours\":24,\"StreamCreationTimestamp\":1700000000.5,"
	    "\"OpenShardCount\":4,\"ConsumerCount\":0,"
	    "\"StreamModeDetails\":{\"StreamMode\":\"PROVISIONED\"}}}";
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{\"StreamDescriptionSummary\":{\"StreamName\":\"o\"}}",
		    "StreamDescriptionSummary.StreamStatus: missing" },
		{ "{\"StreamDescriptionSummary\":{\"StreamName\":\"o\",\"StreamStatus\":\"ACTIVE\","
		  "\"OpenShardCount\":-1}}",
		    "OpenShardCount: -1 out of range" },
		{ "{\"StreamDescriptionSummary\":{\"StreamName\":\"o\",\"StreamStatus\":\"ACTIVE\","
		  "\"StreamModeDetails\":{}}}",
		    "StreamModeDetails.StreamMode: missing" },
		{ "{\"StreamDescriptionSummary\":\"x\"}", "StreamDescriptionSummary: string" },
		{ "{\"StreamDescriptionSummary\":{\"StreamName\":\"o\",\"StreamStatus\":\"ACTIVE\","
		  "\"StreamCreationTimestamp\":\"yesterday\"}}",
		    "StreamCreationTimestamp: string, expected a number" },
	};
	struct kinesis_stream_summary s;
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(kinesis_parse_stream_summary(ok, strlen(ok), &s, &err), 0);
	CU_ASSERT_STRING_EQUAL(s.stream_name, "orders");
	CU_ASSERT_STRING_EQUAL(s.status, "ACTIVE");
	CU_ASSERT_STRING_EQUAL(s.stream_mode, "PROVISIONED");
	CU_ASSERT_EQUAL(s.open_shard_count, 4);
	CU_ASSERT_EQUAL(s.retention_period_hours, 24);
	CU_ASSERT_DOUBLE_EQUAL(s.creation_timestamp, 1700000000.5, 1e-6);
	for (size_t i = 0; i < N(bad); i++) {
		CU_ASSERT_EQUAL(kinesis_parse_stream_summary(bad[i].body, strlen(bad[i].body), &s, &err),
		    -1);
		assert_contains(err.message, bad[i].want, bad[i].body);
	}
}

static void
test_kinesis_parse_shard_iterator(void)
{
	char it[KINESIS_ITERATOR_MAX + 1];
	struct aws_error err;
	struct kls_buf b;

	CU_ASSERT_EQUAL(kinesis_parse_shard_iterator("{\"ShardIterator\":\"AAA=\"}", 24, it, &err), 0);
	CU_ASSERT_STRING_EQUAL(it, "AAA=");
	CU_ASSERT_EQUAL(kinesis_parse_shard_iterator("{\"ShardIterator\":\"\"}", 20, it, &err), -1);
	assert_contains(err.message, "ShardIterator: empty", "iterator");
	CU_ASSERT_EQUAL(kinesis_parse_shard_iterator("{\"ShardIterator\":null}", 22, it, &err), -1);
	assert_contains(err.message, "ShardIterator: missing", "iterator");
	buf_init(&b, 0);
	buf_puts(&b, "{\"ShardIterator\":\"");
	for (int i = 0; i < KINESIS_ITERATOR_MAX + 1; i++)
		buf_puts(&b, "A");
	buf_puts(&b, "\"}");
	CU_ASSERT_EQUAL(kinesis_parse_shard_iterator(b.data, b.len, it, &err), -1);
	assert_contains(err.message, "513 bytes, longer than 512", "iterator");
	buf_free(&b);
}

static void
test_kinesis_parse_put_records(void)
{
	static const char mixed[] =
	    "{\"FailedRecordCount\":1,\"Records\":["
	    "{\"SequenceNumber\":\"4960\",\"ShardId\":\"shardId-000000000001\"},"
	    "{\"ErrorCode\":\"ProvisionedThroughputExceededException\",\"ErrorMessage\":\"Rate exceeded\"}]}";
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\":\"1\",\"ShardId\":\"s\"}]}",
		    "Records: 1 results for 2 records" },
		{ "{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\":\"1\",\"ShardId\":\"s\"},"
		  "{\"ErrorCode\":\"X\"}]}",
		    "FailedRecordCount 0 but 1 records carry an ErrorCode" },
		{ "{\"Records\":[{\"SequenceNumber\":\"1\"},{\"ErrorCode\":\"X\"}]}",
		    "Records[0].ShardId: missing" },
		{ "{\"FailedRecordCount\":3,\"Records\":[]}", "FailedRecordCount: 3 out of range" },
	};
	struct kinesis_put_result r[2];
	struct aws_error err;
	size_t failed = 99;

	CU_ASSERT_EQUAL_FATAL(kinesis_parse_put_records(mixed, strlen(mixed), 2, r, &failed, &err), 0);
	CU_ASSERT_EQUAL(failed, 1);
	CU_ASSERT_STRING_EQUAL(r[0].sequence_number, "4960");
	CU_ASSERT_STRING_EQUAL(r[0].shard_id, "shardId-000000000001");
	CU_ASSERT_STRING_EQUAL(r[0].error_code, "");
	CU_ASSERT_STRING_EQUAL(r[1].error_code, "ProvisionedThroughputExceededException");
	CU_ASSERT_STRING_EQUAL(r[1].error_message, "Rate exceeded");
	CU_ASSERT_STRING_EQUAL(r[1].sequence_number, "");
	CU_ASSERT_EQUAL(kinesis_parse_put_records(mixed, strlen(mixed), 2, NULL, &failed, &err), 0);
	for (size_t i = 0; i < N(bad); i++) {
		CU_ASSERT_EQUAL(kinesis_parse_put_records(bad[i].body, strlen(bad[i].body), 2, r,
				    &failed, &err),
		    -1);
		assert_contains(err.message, bad[i].want, bad[i].body);
	}
}

static void
test_kinesis_hash_key_split_point(void)
{
	static const struct {
		const char *start, *end, *want;
	} cases[] = {
		{ "0", "340282366920938463463374607431768211455", "170141183460469231731687303715884105728" },
		{ "0", "1", "1" },
		{ "10", "20", "16" },
		{ "170141183460469231731687303715884105728", "340282366920938463463374607431768211455",
		    "255211775190703847597530955573826158592" },
		{ "5", "5", NULL },
		{ "9", "5", NULL },
		{ "x", "5", NULL },
		{ "0", "340282366920938463463374607431768211456", NULL },
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[KINESIS_HASH_KEY_MAX + 1];
		int rc = kinesis_hash_key_split_point(cases[i].start, cases[i].end, out, sizeof(out));
		if (cases[i].want) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_STRING_EQUAL(out, cases[i].want);
		} else {
			CU_ASSERT_EQUAL(rc, -1);
		}
	}
}

/* ---- the client against a scripted stub ---- */

struct fixture {
	struct stub_endpoint ep;
	struct kinesis_client *kc;
};

static int
fixture_start(struct fixture *f, struct stub_script *script)
{
	struct aws_error err;

	memset(f, 0, sizeof(*f));
	if (stub_endpoint_start(&f->ep, script, kinesis_service_config) < 0)
		return -1;
	f->kc = kinesis_client_new(&f->ep.cfg, &stub_no_retry, &err);
	if (!f->kc)
		fprintf(stderr, "kinesis_client_new: %s\n", err.message);
	return f->kc ? 0 : -1;
}

static void
fixture_stop(struct fixture *f)
{
	kinesis_client_free(f->kc);
	stub_endpoint_stop(&f->ep);
}

#define SHARD(id)                                                                                  \
	"{\"ShardId\":\"" id "\"," SHARD_OK_HASH "," SHARD_OK_SEQ "}"

static const char page1[] = "{\"Shards\":[" SHARD("shardId-0") "," SHARD("shardId-1") "],\"NextToken\":\"t1\"}";
static const char page2[] = "{\"Shards\":[" SHARD("shardId-2") "," SHARD("shardId-3") "],\"NextToken\":\"t2\"}";
static const char page3[] = "{\"Shards\":[" SHARD("shardId-4") "]}";
static const char expired[] =
    "{\"__type\":\"ExpiredNextTokenException\",\"message\":\"The token has expired\"}";

static void
assert_ids(const struct kinesis_shard_list *l, size_t n)
{
	CU_ASSERT_EQUAL_FATAL(l->n, n);
	for (size_t i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "shardId-%zu", i);
		CU_ASSERT_STRING_EQUAL(l->shards[i].shard_id, id);
	}
}

static void
test_kinesis_list_shards_pages(void)
{
	static const struct stub_step steps[] = {
		{ "ListShards", { "\"StreamName\":\"orders\"", "\"MaxResults\":2" }, { "NextToken" }, 0, page1 },
		{ "ListShards", { "\"NextToken\":\"t1\"", "\"MaxResults\":2" }, { "StreamName", "ShardFilter" }, 0, page2 },
		{ "ListShards", { "\"NextToken\":\"t2\"" }, { "StreamName", "ShardFilter" }, 0, page3 },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct kinesis_list_opts opts = { .max_results = 2, .filter = KINESIS_FILTER_AT_TRIM_HORIZON };
	struct kinesis_shard_list l = { 0 };
	struct fixture f;
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(f.kc, "orders", &opts, &l, &err), 0);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, 3);
	assert_ids(&l, 5);
	kinesis_shard_list_free(&l);
	fixture_stop(&f);
}

static void
test_kinesis_list_shards_expired_token_restarts(void)
{
	static const struct stub_step steps[] = {
		{ "ListShards", { "\"StreamName\":\"orders\"" }, { "NextToken" }, 0, page1 },
		{ "ListShards", { "\"NextToken\":\"t1\"" }, { "StreamName" }, 400, expired },
		/* From scratch: the first page again, then the rest. */
		{ "ListShards", { "\"StreamName\":\"orders\"" }, { "NextToken" }, 0, page1 },
		{ "ListShards", { "\"NextToken\":\"t1\"" }, { "StreamName" }, 0, page2 },
		{ "ListShards", { "\"NextToken\":\"t2\"" }, { "StreamName" }, 0, page3 },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct kinesis_shard_list l = { 0 };
	struct fixture f;
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(f.kc, "orders", NULL, &l, &err), 0);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, 5);
	assert_ids(&l, 5); /* no shard twice */
	kinesis_shard_list_free(&l);
	fixture_stop(&f);
}

static void
test_kinesis_list_shards_expired_token_bounded(void)
{
	struct stub_step steps[2 * (KINESIS_LIST_RESTARTS_MAX + 1)];
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct kinesis_shard_list l = { 0 };
	struct fixture f;
	struct aws_error err;

	for (size_t i = 0; i < N(steps); i += 2) {
		steps[i] = (struct stub_step){ "ListShards", { "StreamName" }, { 0 }, 0, page1 };
		steps[i + 1] = (struct stub_step){ "ListShards", { "t1" }, { 0 }, 400, expired };
	}
	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(f.kc, "orders", NULL, &l, &err), -1);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, (int)N(steps));
	CU_ASSERT_EQUAL(stub_count(f.ep.srv), (int)N(steps));
	CU_ASSERT_STRING_EQUAL(err.type, "ExpiredNextTokenException");
	assert_contains(err.message, "ListShards orders (page 2): ExpiredNextTokenException",
	    "expired bounded");
	CU_ASSERT_EQUAL(l.n, 0);
	kinesis_shard_list_free(&l);
	fixture_stop(&f);
}

static void
test_kinesis_errors_name_call_and_target(void)
{
	static const struct stub_step steps[] = {
		{ "ListShards", { 0 }, { 0 }, 400,
		    "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream orders not found\"}" },
		{ "ListShards", { 0 }, { 0 }, 0, "{\"Shards\":[{\"ShardId\":" },
		{ "GetShardIterator", { "\"ShardIteratorType\":\"LATEST\"" }, { 0 }, 0, "{\"ShardIterator\":7}" },
		{ "GetRecords", { "\"ShardIterator\":\"it-1\"", "\"Limit\":25" }, { 0 }, 400,
		    "{\"__type\":\"ExpiredIteratorException\",\"message\":\"Iterator expired\"}" },
		{ "DescribeStreamSummary", { "\"StreamName\":\"orders\"" }, { 0 }, 0, "[]" },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct kinesis_position latest = { .type = KINESIS_LATEST };
	struct kinesis_shard_list l = { 0 };
	struct kinesis_stream_summary sum;
	char it[KINESIS_ITERATOR_MAX + 1];
	struct kls_buf resp;
	struct fixture f;
	struct aws_error err;

	buf_init(&resp, 0);
	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(f.kc, "orders", NULL, &l, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceNotFoundException");
	assert_contains(err.message, "ListShards orders (page 1): ResourceNotFoundException", "notfound");
	assert_contains(err.message, "Stream orders not found", "notfound");
	CU_ASSERT_EQUAL(kinesis_list_shards(f.kc, "orders", NULL, &l, &err), -1);
	assert_contains(err.message, "ListShards orders (page 1): BadResponse: truncated JSON", "trunc");
	CU_ASSERT_EQUAL(kinesis_get_shard_iterator(f.kc, "orders", "shardId-7", &latest, it, &err), -1);
	assert_contains(err.message,
	    "GetShardIterator orders shardId-7 LATEST: BadResponse: ShardIterator: int, expected a string",
	    "iterator");
	CU_ASSERT_EQUAL(kinesis_get_records_raw(f.kc, "shardId-7", "it-1", 25, &resp, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ExpiredIteratorException");
	assert_contains(err.message, "GetRecords shardId-7: ExpiredIteratorException", "getrecords");
	CU_ASSERT_EQUAL(kinesis_describe_stream_summary(f.kc, "orders", &sum, &err), -1);
	assert_contains(err.message, "DescribeStreamSummary orders: BadResponse", "summary");
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	kinesis_shard_list_free(&l);
	buf_free(&resp);
	fixture_stop(&f);
}

static void
test_kinesis_calls_through_stub(void)
{
	static const struct stub_step steps[] = {
		{ "GetRecords", { "{\"ShardIterator\":\"it-2\",\"Limit\":10}" }, { 0 }, 0,
		    "{\"Records\":[],\"NextShardIterator\":\"it-3\",\"MillisBehindLatest\":0}" },
		{ "PutRecords", { "\"StreamName\":\"orders\"", "\"Data\":\"YQ==\"" }, { 0 }, 0,
		    "{\"FailedRecordCount\":1,\"Records\":[{\"ErrorCode\":\"InternalFailure\","
		    "\"ErrorMessage\":\"try again\"},{\"SequenceNumber\":\"7\",\"ShardId\":\"shardId-0\"}]}" },
		{ "CreateStream", { "{\"StreamName\":\"orders\",\"ShardCount\":4}" }, { 0 }, 0, "" },
		{ "SplitShard", { "\"ShardToSplit\":\"shardId-0\"", "\"NewStartingHashKey\":\"5\"" }, { 0 }, 0, "" },
		{ "MergeShards", { "\"ShardToMerge\":\"shardId-1\"", "\"AdjacentShardToMerge\":\"shardId-2\"" }, { 0 }, 0, "" },
		{ "DescribeStreamSummary", { 0 }, { 0 }, 0,
		    "{\"StreamDescriptionSummary\":{\"StreamName\":\"orders\",\"StreamStatus\":\"UPDATING\"}}" },
		{ "DescribeStreamSummary", { 0 }, { 0 }, 0,
		    "{\"StreamDescriptionSummary\":{\"StreamName\":\"orders\",\"StreamStatus\":\"ACTIVE\",\"OpenShardCount\":3}}" },
		{ "DeleteStream", { "{\"StreamName\":\"orders\"}" }, { 0 }, 400,
		    "{\"__type\":\"ResourceInUseException\",\"message\":\"busy\"}" },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct kinesis_put_entry e[2] = { { "a", 1, "k1", NULL }, { "b", 1, "k2", NULL } };
	struct kinesis_put_result r[2];
	struct kinesis_stream_summary sum;
	struct kls_buf resp;
	struct fixture f;
	struct aws_error err;
	size_t failed = 0;

	buf_init(&resp, 0);
	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(kinesis_get_records_raw(f.kc, "shardId-0", "it-2", 10, &resp, &err), 0);
	CU_ASSERT_STRING_EQUAL(resp.data,
	    "{\"Records\":[],\"NextShardIterator\":\"it-3\",\"MillisBehindLatest\":0}");
	CU_ASSERT_EQUAL(kinesis_put_records(f.kc, "orders", e, 2, r, &failed, &err), 0);
	CU_ASSERT_EQUAL(failed, 1);
	CU_ASSERT_STRING_EQUAL(r[0].error_code, "InternalFailure");
	CU_ASSERT_STRING_EQUAL(r[1].sequence_number, "7");
	CU_ASSERT_EQUAL(kinesis_create_stream(f.kc, "orders", 4, &err), 0);
	CU_ASSERT_EQUAL(kinesis_split_shard(f.kc, "orders", "shardId-0", "5", &err), 0);
	CU_ASSERT_EQUAL(kinesis_merge_shards(f.kc, "orders", "shardId-1", "shardId-2", &err), 0);
	CU_ASSERT_EQUAL(kinesis_wait_active(f.kc, "orders", 10000, &sum, &err), 0);
	CU_ASSERT_EQUAL(sum.open_shard_count, 3);
	CU_ASSERT_EQUAL(kinesis_delete_stream(f.kc, "orders", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceInUseException");
	assert_contains(err.message, "DeleteStream orders: ResourceInUseException: busy", "delete");
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, (int)N(steps));
	buf_free(&resp);
	fixture_stop(&f);
}

static void
test_kinesis_get_records_scanned(void)
{
	static const struct stub_step steps[] = {
		{ "GetRecords", { "\"ShardIterator\":\"it-1\"" }, { 0 }, 0,
		    "{\"Records\":[{\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"pk\","
		    "\"SequenceNumber\":\"4960\",\"ApproximateArrivalTimestamp\":1700000000.25}],"
		    "\"NextShardIterator\":\"it-2\",\"MillisBehindLatest\":42}" },
		{ "GetRecords", { "\"ShardIterator\":\"it-2\"" }, { 0 }, 0,
		    "{\"Records\":[{\"Data\":\"!!\",\"PartitionKey\":\"pk\",\"SequenceNumber\":\"1\"}]}" },
		{ "GetRecords", { 0 }, { 0 }, 0, "{\"Records\":[],\"NextShardIterator\":null}" },
	};
	/* With an arena, and in place (arena NULL): the same answers. */
	for (int inplace = 0; inplace < 2; inplace++) {
		struct stub_script script = { .steps = steps, .n = N(steps) };
		struct getrecords_result res;
		struct kls_buf resp, arena_buf, *arena;
		struct fixture f;
		struct aws_error err;

		buf_init(&resp, 0);
		buf_init(&arena_buf, 0);
		arena = inplace ? NULL : &arena_buf;
		getrecords_result_init(&res);
		CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
		CU_ASSERT_EQUAL_FATAL(kinesis_get_records(f.kc, "shardId-1", "it-1", 100, NULL, &resp, arena,
					  &res, &err),
		    0);
		if (inplace)
			CU_ASSERT(res.records[0].data >= (const unsigned char *)resp.data &&
			    res.records[0].data < (const unsigned char *)resp.data + resp.len);
		CU_ASSERT_EQUAL_FATAL(res.n_records, 1);
		CU_ASSERT_EQUAL(res.records[0].data_len, 5);
		CU_ASSERT_EQUAL(memcmp(res.records[0].data, "hello", 5), 0);
		CU_ASSERT_STRING_EQUAL(res.records[0].sequence_number, "4960");
		CU_ASSERT_EQUAL(res.records[0].arrival_ms, 1700000000250);
		CU_ASSERT_STRING_EQUAL(res.next_iterator, "it-2");
		CU_ASSERT_EQUAL(res.millis_behind_latest, 42);
		CU_ASSERT_EQUAL(kinesis_get_records(f.kc, "shardId-1", "it-2", 100, NULL, &resp, arena, &res,
				    &err),
		    -1);
		CU_ASSERT_STRING_EQUAL(err.type, "BadResponse");
		assert_contains(err.message, "GetRecords shardId-1: BadResponse: ", "scanner");
		assert_contains(err.message, "Records[0].Data", "scanner");
		CU_ASSERT_EQUAL(kinesis_get_records(f.kc, "shardId-1", "it-3", 100, NULL, &resp, arena, &res,
				    &err),
		    0);
		CU_ASSERT_EQUAL(res.n_records, 0);
		CU_ASSERT_PTR_NULL(res.next_iterator); /* the end of a closed shard */
		CU_ASSERT_STRING_EQUAL(script.failure, "");
		getrecords_result_free(&res);
		buf_free(&resp);
		buf_free(&arena_buf);
		fixture_stop(&f);
	}
}

static void
test_kinesis_wait_active_gives_up(void)
{
	struct stub_step steps[64];
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct fixture f;
	struct aws_error err;

	for (size_t i = 0; i < N(steps); i++)
		steps[i] = (struct stub_step){ "DescribeStreamSummary", { 0 }, { 0 }, 0,
			"{\"StreamDescriptionSummary\":{\"StreamName\":\"orders\",\"StreamStatus\":\"CREATING\"}}" };
	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(kinesis_wait_active(f.kc, "orders", 100, NULL, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "Timeout");
	assert_contains(err.message, "stream orders still CREATING after 100 ms", "wait");
	CU_ASSERT(script.answered >= 2);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	fixture_stop(&f);
}

static CU_TestInfo pure_tests[] = {
	{ "list shards body", test_kinesis_list_shards_body },
	{ "list shards body refuses", test_kinesis_list_shards_body_refuses },
	{ "shard iterator body", test_kinesis_shard_iterator_body },
	{ "shard iterator body refuses", test_kinesis_shard_iterator_body_refuses },
	{ "get records body", test_kinesis_get_records_body },
	{ "put records body", test_kinesis_put_records_body },
	{ "put records body refuses", test_kinesis_put_records_body_refuses },
	{ "parse list shards", test_kinesis_parse_list_shards },
	{ "parse list shards rejects", test_kinesis_parse_list_shards_rejects },
	{ "parse list shards long shard id", test_kinesis_parse_list_shards_long_shard_id },
	{ "parse stream summary", test_kinesis_parse_stream_summary },
	{ "parse shard iterator", test_kinesis_parse_shard_iterator },
	{ "parse put records", test_kinesis_parse_put_records },
	{ "hash key split point", test_kinesis_hash_key_split_point },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo stub_tests[] = {
	{ "list shards pages", test_kinesis_list_shards_pages },
	{ "list shards expired token restarts", test_kinesis_list_shards_expired_token_restarts },
	{ "list shards expired token bounded", test_kinesis_list_shards_expired_token_bounded },
	{ "errors name call and target", test_kinesis_errors_name_call_and_target },
	{ "calls through stub", test_kinesis_calls_through_stub },
	{ "get records scanned", test_kinesis_get_records_scanned },
	{ "wait active gives up", test_kinesis_wait_active_gives_up },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kinesis requests and responses", NULL, NULL, NULL, NULL, pure_tests },
	{ "kinesis client against a stub", NULL, NULL, NULL, NULL, stub_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
