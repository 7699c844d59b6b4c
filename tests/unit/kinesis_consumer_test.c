/*
 * Tests of common/kinesis_consumer: response parsing and the SubscribeToShard body as
 * pure functions (tables), then the calls against a scripted loopback stub: the
 * registration race kinesis_ensure_consumer must survive (name taken, consumer being
 * deleted, still CREATING), ListStreamConsumers pages, and SubscribeToShard's stream and
 * its refusals.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/creds.h"
#include "common/http.h"
#include "common/kinesis_consumer.h"
#include "tests/harness.h"
#include "tests/stub_script.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define STREAM_ARN "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
#define CONSUMER_ARN STREAM_ARN "/consumer/app:1700000000"
#define CONSUMER(status)                                            \
	"{\"ConsumerName\":\"app\",\"ConsumerARN\":\"" CONSUMER_ARN \
	"\",\"ConsumerStatus\":\"" status "\",\"ConsumerCreationTimestamp\":1700000000.5}"

static void
assert_contains(const char *hay, const char *needle, const char *label)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "\n%s: \"%s\" does not contain \"%s\"\n", label, hay, needle);
		CU_FAIL("message lacks the expected words");
	}
}

/* ---- parsing ---- */

static void
test_kinesis_consumer_parse(void)
{
	static const struct {
		const char *key, *body;
		int rc;
		const char *want; /* status, or words of the error */
	} cases[] = {
		{ "Consumer", "{\"Consumer\":" CONSUMER("CREATING") "}", 0, "CREATING" },
		{ "ConsumerDescription",
		    "{\"ConsumerDescription\":{\"ConsumerName\":\"app\",\"ConsumerARN\":"
		    "\"" CONSUMER_ARN "\",\"ConsumerStatus\":\"ACTIVE\",\"StreamARN\":\"" STREAM_ARN
		    "\"}}",
		    0, "ACTIVE" },
		{ "Consumer",
		    "{\"Consumer\":{\"ConsumerName\":\"app\",\"ConsumerStatus\":\"ACTIVE\"}}", -1,
		    "ConsumerARN" },
		{ "Consumer",
		    "{\"Consumer\":{\"ConsumerName\":\"app\",\"ConsumerARN\":\"nope\","
		    "\"ConsumerStatus\":\"ACTIVE\"}}",
		    -1, "not an ARN" },
		{ "Consumer",
		    "{\"Consumer\":{\"ConsumerName\":7,\"ConsumerARN\":\"" CONSUMER_ARN
		    "\",\"ConsumerStatus\":\"ACTIVE\"}}",
		    -1, "ConsumerName" },
		{ "Consumer", "{\"Consumer\":[]}", -1, "Consumer" },
		{ "Consumer", "{\"Consumer\":", -1, "" },
		{ "ConsumerDescription", "{\"Consumer\":" CONSUMER("ACTIVE") "}", -1,
		    "ConsumerDescription" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct kinesis_consumer c;
		struct aws_error err;
		int rc = kinesis_parse_consumer(cases[i].body, strlen(cases[i].body), cases[i].key,
		    &c, &err);

		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (rc == 0) {
			CU_ASSERT_STRING_EQUAL(c.status, cases[i].want);
			CU_ASSERT_STRING_EQUAL(c.name, "app");
			CU_ASSERT_STRING_EQUAL(c.arn, CONSUMER_ARN);
		} else {
			CU_ASSERT_STRING_EQUAL(err.type, "BadResponse");
			assert_contains(err.message, cases[i].want, cases[i].body);
		}
	}
	{
		struct kinesis_consumer c;
		struct aws_error err;
		const char *b =
		    "{\"ConsumerDescription\":{\"ConsumerName\":\"app\",\"ConsumerARN\":"
		    "\"" CONSUMER_ARN "\",\"ConsumerStatus\":\"ACTIVE\",\"StreamARN\":\"" STREAM_ARN
		    "\",\"ConsumerCreationTimestamp\":1700000000.5}}";
		CU_ASSERT_EQUAL(kinesis_parse_consumer(b, strlen(b), "ConsumerDescription", &c,
		                    &err),
		    0);
		CU_ASSERT_STRING_EQUAL(c.stream_arn, STREAM_ARN);
		CU_ASSERT_DOUBLE_EQUAL(c.creation_timestamp, 1700000000.5, 0.001);
	}
}

/* Pages append, a null or empty NextToken ends the listing, the bound holds. */
static void
test_kinesis_consumer_parse_list(void)
{
	struct kinesis_consumer_list l = { 0 };
	struct aws_error err;
	char *tok;
	const char *p1 =
	    "{\"Consumers\":[" CONSUMER("ACTIVE") "," CONSUMER("CREATING") "],"
	                                                                   "\"NextToken\":\"t1\"}";
	const char *p2 = "{\"Consumers\":[],\"NextToken\":null}";
	const char *p3 = "{\"Consumers\":[" CONSUMER("DELETING") "],\"NextToken\":\"\"}";

	CU_ASSERT_EQUAL(kinesis_parse_list_consumers(p1, strlen(p1), &l, 10, &tok, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_STRING_EQUAL(tok, "t1");
	free(tok);
	CU_ASSERT_EQUAL(kinesis_parse_list_consumers(p2, strlen(p2), &l, 10, &tok, &err), 0);
	CU_ASSERT_PTR_NULL(tok);
	CU_ASSERT_EQUAL(kinesis_parse_list_consumers(p3, strlen(p3), &l, 10, &tok, &err), 0);
	CU_ASSERT_PTR_NULL(tok);
	CU_ASSERT_EQUAL_FATAL(l.n, 3);
	CU_ASSERT_STRING_EQUAL(l.consumers[1].status, "CREATING");
	CU_ASSERT_STRING_EQUAL(l.consumers[2].status, "DELETING");
	/* A fourth would pass a bound of 3. */
	CU_ASSERT_EQUAL(kinesis_parse_list_consumers(p3, strlen(p3), &l, 3, &tok, &err), -1);
	assert_contains(err.message, "more than 3 consumers", "bound");
	CU_ASSERT_EQUAL(l.n, 3);
	kinesis_consumer_list_free(&l);
}

static void
test_kinesis_consumer_subscribe_body(void)
{
	static const struct {
		struct kinesis_position pos;
		const char *want; /* the StartingPosition object, or NULL: refused */
	} cases[] = {
		{ { KINESIS_TRIM_HORIZON, NULL, 0 }, "{\"Type\":\"TRIM_HORIZON\"}" },
		{ { KINESIS_LATEST, NULL, 0 }, "{\"Type\":\"LATEST\"}" },
		{ { KINESIS_AFTER_SEQUENCE_NUMBER, "4959", 0 },
		    "{\"Type\":\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":\"4959\"}" },
		{ { KINESIS_AT_SEQUENCE_NUMBER, "4960", 0 },
		    "{\"Type\":\"AT_SEQUENCE_NUMBER\",\"SequenceNumber\":\"4960\"}" },
		{ { KINESIS_AT_TIMESTAMP, NULL, 1700000000123 },
		    "{\"Type\":\"AT_TIMESTAMP\",\"Timestamp\":1700000000.123}" },
		{ { KINESIS_AT_SEQUENCE_NUMBER, "12x", 0 }, NULL },
		{ { KINESIS_AFTER_SEQUENCE_NUMBER, NULL, 0 }, NULL },
		{ { KINESIS_AT_TIMESTAMP, NULL, -5 }, NULL },
		{ { (enum kinesis_iterator_type)42, NULL, 0 }, NULL },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct kls_buf b;
		struct aws_error err;
		char want[512];
		int rc;

		buf_init(&b, 0);
		rc = kinesis_subscribe_body(&b, CONSUMER_ARN, "shardId-000000000001", &cases[i].pos,
		    &err);
		if (cases[i].want) {
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			snprintf(want, sizeof(want),
			    "{\"ConsumerARN\":\"%s\",\"ShardId\":\"shardId-000000000001\","
			    "\"StartingPosition\":%s}",
			    CONSUMER_ARN, cases[i].want);
			CU_ASSERT_STRING_EQUAL(b.data, want);
		} else {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_STRING_EQUAL(err.type, "InvalidArgument");
		}
		buf_free(&b);
	}
	{
		struct kls_buf b;
		struct aws_error err;
		struct kinesis_position p = { KINESIS_LATEST, NULL, 0 };

		buf_init(&b, 0);
		CU_ASSERT_EQUAL(kinesis_subscribe_body(&b, "not-an-arn", "shardId-1", &p, &err),
		    -1);
		assert_contains(err.message, "consumer ARN", "bad arn");
		CU_ASSERT_EQUAL(kinesis_subscribe_body(&b, CONSUMER_ARN, "shard id", &p, &err), -1);
		CU_ASSERT_EQUAL(kinesis_subscribe_body(&b, CONSUMER_ARN, "shardId-1", NULL, &err),
		    -1);
		buf_free(&b);
	}
}

/* ---- against a scripted endpoint ---- */

struct fixture {
	struct stub_endpoint ep;
	struct kinesis_client *kc;
};

static void
fixture_start(struct fixture *f, struct stub_script *script)
{
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(stub_endpoint_start(&f->ep, script, kinesis_service_config), 0);
	f->kc = kinesis_client_new(&f->ep.cfg, &stub_no_retry, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->kc);
}

static void
fixture_stop(struct fixture *f, struct stub_script *script)
{
	kinesis_client_free(f->kc);
	stub_endpoint_stop(&f->ep);
	if (script->failure[0])
		fprintf(stderr, "\nscript: %s\n", script->failure);
	CU_ASSERT_STRING_EQUAL(script->failure, "");
}

#define IN_USE "{\"__type\":\"ResourceInUseException\",\"message\":\"Consumer app exists\"}"
#define NOT_FOUND \
	"{\"__type\":\"ResourceNotFoundException\",\"message\":\"Consumer app not found\"}"
#define REGISTER                                                                       \
	{                                                                              \
		"RegisterStreamConsumer",                                              \
		{                                                                      \
			"\"StreamARN\":\"" STREAM_ARN "\"", "\"ConsumerName\":\"app\"" \
		}
#define DESCRIBE                                                                       \
	{                                                                              \
		"DescribeStreamConsumer",                                              \
		{                                                                      \
			"\"StreamARN\":\"" STREAM_ARN "\"", "\"ConsumerName\":\"app\"" \
		}

/* Registered now, and waited for until ACTIVE. */
static const struct stub_step ensure_new[] = { REGISTER, { 0 }, 0,
	"{\"Consumer\":" CONSUMER("CREATING") "}" },
                              DESCRIBE, { 0 }, 0,
                              "{\"ConsumerDescription\":" CONSUMER("CREATING") "}"
}
, DESCRIBE, { 0 }, 0, "{\"ConsumerDescription\":" CONSUMER("ACTIVE") "}"
}
,
}
;
/* Another worker registered it first: described, not registered twice. */
static const struct stub_step ensure_taken[] = { REGISTER, { 0 }, 400, IN_USE }, DESCRIBE, { 0 }, 0,
                              "{\"ConsumerDescription\":" CONSUMER("ACTIVE") "}"
}
,
}
;
/* A consumer of that name being deleted: waited out, then registered again. */
static const struct stub_step ensure_deleting[] = { REGISTER, { 0 }, 400, IN_USE }, DESCRIBE, { 0 },
                              0, "{\"ConsumerDescription\":" CONSUMER("DELETING") "}"
}
, DESCRIBE, { 0 }, 400, NOT_FOUND
}
, REGISTER, { 0 }, 0, "{\"Consumer\":" CONSUMER("CREATING") "}"
}
, DESCRIBE, { 0 }, 0, "{\"ConsumerDescription\":" CONSUMER("ACTIVE") "}"
}
,
}
;
/* Anything else stops it, named. */
static const struct stub_step ensure_denied[] = { REGISTER, { 0 }, 400,
	"{\"__type\":\"AccessDeniedException\",\"message\":\"not allowed\"}" },
}
;

static void
test_kinesis_consumer_ensure(void)
{
	static const struct {
		const char *name;
		const struct stub_step *steps;
		size_t n;
		const char *err; /* NULL: succeeds */
	} cases[] = {
		{ "new", ensure_new, N(ensure_new), NULL },
		{ "taken", ensure_taken, N(ensure_taken), NULL },
		{ "deleting", ensure_deleting, N(ensure_deleting), NULL },
		{ "denied", ensure_denied, N(ensure_denied),
		    "RegisterStreamConsumer app: AccessDenied" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct stub_script script = { .steps = cases[i].steps, .n = cases[i].n };
		struct fixture f;
		struct aws_error err;
		char arn[KINESIS_ARN_MAX + 1];
		int rc;

		fixture_start(&f, &script);
		rc = kinesis_ensure_consumer(f.kc, STREAM_ARN, "app", arn, &err);
		if (cases[i].err) {
			CU_ASSERT_EQUAL(rc, -1);
			assert_contains(err.message, cases[i].err, cases[i].name);
		} else {
			if (rc < 0)
				fprintf(stderr, "\n%s: %s\n", cases[i].name, err.message);
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_STRING_EQUAL(arn, CONSUMER_ARN);
		}
		CU_ASSERT_EQUAL(script.answered, (int)cases[i].n);
		fixture_stop(&f, &script);
	}
}

/* Pages follow NextToken with StreamARN each time, as kinesis-local and the API want. */
static const struct stub_step list_pages[] = {
	{ "ListStreamConsumers", { "\"StreamARN\":\"" STREAM_ARN "\"" }, { "NextToken" }, 0,
	    "{\"Consumers\":[" CONSUMER("ACTIVE") "],\"NextToken\":\"app\"}" },
	{ "ListStreamConsumers", { "\"StreamARN\":\"" STREAM_ARN "\"", "\"NextToken\":\"app\"" },
	    { 0 }, 0, "{\"Consumers\":[],\"NextToken\":null}" },
	{ "DeregisterStreamConsumer", { "\"ConsumerARN\":\"" CONSUMER_ARN "\"" }, { "StreamARN" },
	    0, "{}" },
	{ "DescribeStreamConsumer", { "\"ConsumerARN\":\"" CONSUMER_ARN "\"" }, { "StreamARN" },
	    400, NOT_FOUND },
};

static void
test_kinesis_consumer_list_and_deregister(void)
{
	struct stub_script script = { .steps = list_pages, .n = N(list_pages) };
	struct kinesis_consumer_list l = { 0 };
	struct kinesis_consumer c;
	struct fixture f;
	struct aws_error err;

	fixture_start(&f, &script);
	CU_ASSERT_EQUAL(kinesis_list_stream_consumers(f.kc, STREAM_ARN, &l, &err), 0);
	CU_ASSERT_EQUAL_FATAL(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.consumers[0].arn, CONSUMER_ARN);
	CU_ASSERT_EQUAL(kinesis_deregister_stream_consumer(f.kc, NULL, NULL, CONSUMER_ARN, &err),
	    0);
	CU_ASSERT_EQUAL(kinesis_describe_stream_consumer(f.kc, NULL, NULL, CONSUMER_ARN, &c, &err),
	    -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceNotFoundException");
	assert_contains(err.message, "DescribeStreamConsumer " CONSUMER_ARN, "describe");
	/* Both ways of naming one consumer at once is refused before any request. */
	CU_ASSERT_EQUAL(kinesis_deregister_stream_consumer(f.kc, STREAM_ARN, "app", CONSUMER_ARN,
	                    &err),
	    -1);
	CU_ASSERT_STRING_EQUAL(err.type, "InvalidArgument");
	CU_ASSERT_EQUAL(script.answered, (int)N(list_pages));
	kinesis_consumer_list_free(&l);
	fixture_stop(&f, &script);
}

/* ---- SubscribeToShard ---- */

/* A stream's bytes, collected. */
static int
collect(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* Answers SubscribeToShard with 200 and the bytes in arg (NULs and all). */
static void
binary_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	const struct kls_buf *b = arg;

	(void)req;
	snprintf(resp->headers, sizeof(resp->headers),
	    "Content-Type: application/vnd.amazon.eventstream\r\n");
	buf_append(&resp->body, b->data, b->len);
}

static void
test_kinesis_consumer_subscribe(void)
{
	static const unsigned char bytes[] = { 0, 0, 0, 16, 0, 0, 0, 0, 0xde, 0xad, 0, 1, 2, 3, 4,
		5 };
	static const struct stub_step refused[] = {
		{ "SubscribeToShard", { "\"ConsumerARN\":\"" CONSUMER_ARN "\"", "\"LATEST\"" },
		    { 0 }, 400, IN_USE },
		{ "SubscribeToShard", { 0 }, { 0 }, 500,
		    "{\"__type\":\"InternalFailure\",\"message\":\"oops\"}" },
		{ "SubscribeToShard", { 0 }, { 0 }, 400,
		    "{\"__type\":\"ResourceNotFoundException\",\"message\":\"no consumer\"}" },
	};
	static const enum aws_err_class classes[] = { AWS_ERR_THROTTLED, AWS_ERR_RETRYABLE,
		AWS_ERR_FATAL };
	struct kinesis_position pos = { KINESIS_LATEST, NULL, 0 };
	struct stub_script script = { .steps = refused, .n = N(refused) };
	struct kls_buf src, got;
	struct http_stream st = { collect, NULL, &got };
	struct aws_error err;
	struct fixture f;

	/* The body reaches the callback byte for byte. */
	buf_init(&src, 0);
	buf_init(&got, 0);
	buf_append(&src, bytes, sizeof(bytes));
	{
		struct stub_server *s = stub_start(binary_handler, &src);
		struct aws_creds_provider *creds =
		    creds_provider_new_static("AKIDEXAMPLE", "secret", NULL);
		struct aws_service_config cfg;
		struct kinesis_client *kc;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		kinesis_service_config(&cfg, "us-east-1", stub_url(s), creds);
		kc = kinesis_client_new(&cfg, &stub_no_retry, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(kc);
		CU_ASSERT_EQUAL(kinesis_subscribe_to_shard(kc, CONSUMER_ARN, "shardId-000000000001",
		                    &pos, &st, &err),
		    0);
		CU_ASSERT_EQUAL(got.len, sizeof(bytes));
		CU_ASSERT(got.len == sizeof(bytes) && memcmp(got.data, bytes, sizeof(bytes)) == 0);
		kinesis_client_free(kc);
		creds_provider_free(creds);
		stub_stop(s);
	}

	/* Refusals before the stream opens, classified as the same exception on it would be. */
	fixture_start(&f, &script);
	for (size_t i = 0; i < N(refused); i++) {
		buf_reset(&got);
		CU_ASSERT_EQUAL(kinesis_subscribe_to_shard(f.kc, CONSUMER_ARN,
		                    "shardId-000000000001", &pos, &st, &err),
		    -1);
		CU_ASSERT_EQUAL(err.cls, classes[i]);
		CU_ASSERT_EQUAL(got.len, 0);
		assert_contains(err.message, "SubscribeToShard shardId-000000000001", "refused");
	}
	fixture_stop(&f, &script);
	buf_free(&src);
	buf_free(&got);
}

static CU_TestInfo tests[] = {
	{ "parse consumer", test_kinesis_consumer_parse },
	{ "parse list pages", test_kinesis_consumer_parse_list },
	{ "subscribe body", test_kinesis_consumer_subscribe_body },
	{ "ensure: new, taken, deleting, denied", test_kinesis_consumer_ensure },
	{ "list pages, deregister, describe by ARN", test_kinesis_consumer_list_and_deregister },
	{ "subscribe: stream and refusals", test_kinesis_consumer_subscribe },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kinesis consumers", NULL, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
