/*
 * Tests of common/subscribe_event: what each SubscribeToShard message means. Records
 * events decode like GetRecords bodies (with the continuation and shard end), every
 * exception type the API lists gets the class the reader acts on, and messages that
 * break the protocol are refused saying what and where. One test runs a whole
 * subscription's byte stream through the decoder in random chunks.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/eventstream.h"
#include "common/subscribe_event.h"
#include "tests/eventstream_enc.h"
#include "tests/harness.h"

struct fx {
	struct eventstream_decoder dec;
	struct kls_buf wire;  /* encoded messages */
	struct kls_buf arena;
	struct getrecords_result res;
	struct subscribe_event ev;
	struct aws_error err;
};

static void
fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	CU_ASSERT_FATAL(eventstream_init(&f->dec, NULL) == 0);
	buf_init(&f->wire, 0);
	buf_init(&f->arena, 0);
	getrecords_result_init(&f->res);
}

static void
fx_fini(struct fx *f)
{
	eventstream_free(&f->dec);
	buf_free(&f->wire);
	buf_free(&f->arena);
	getrecords_result_free(&f->res);
}

/* Decodes the one message in f->wire and interprets it; returns what parse returned. */
static int
fx_parse(struct fx *f)
{
	const unsigned char *p = (const unsigned char *)f->wire.data;
	size_t left = f->wire.len;
	struct eventstream_message m;

	eventstream_reset(&f->dec);
	CU_ASSERT_EQUAL_FATAL(eventstream_next(&f->dec, &p, &left, &m), 1);
	CU_ASSERT_EQUAL(left, 0);
	return subscribe_event_parse(&m, NULL, &f->arena, &f->res, &f->ev, &f->err);
}

static void
event(struct fx *f, const char *etype, const char *payload)
{
	buf_reset(&f->wire);
	enc_strings(&f->wire, payload, ":message-type", "event", ":event-type", etype,
	    ":content-type", "application/json", (const char *)NULL);
}

static void
exception(struct fx *f, const char *type, const char *payload)
{
	buf_reset(&f->wire);
	enc_strings(&f->wire, payload, ":message-type", "exception", ":exception-type", type,
	    ":content-type", "application/json", (const char *)NULL);
}

#define RECORDS_EVENT \
	"{\"Records\":[" \
	"{\"SequenceNumber\":\"49590338271490256608559692538361571095921575989136588898\"," \
	"\"ApproximateArrivalTimestamp\":1.7e9,\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"pk-1\"}," \
	"{\"SequenceNumber\":\"49590338271490256608559692538361571095921575989136588899\"," \
	"\"Data\":\"\",\"PartitionKey\":\"pk-2\",\"EncryptionType\":\"KMS\"}]," \
	"\"ContinuationSequenceNumber\":\"49590338271490256608559692538361571095921575989136588899\"," \
	"\"MillisBehindLatest\":1500}"

static void
test_subscribe_event_records(void)
{
	struct fx f;

	fx_init(&f);
	event(&f, "SubscribeToShardEvent", RECORDS_EVENT);
	CU_ASSERT_EQUAL(fx_parse(&f), 0);
	CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_RECORDS);
	CU_ASSERT_STRING_EQUAL(f.ev.event_type, "SubscribeToShardEvent");
	CU_ASSERT_FALSE(f.ev.shard_end);
	CU_ASSERT_EQUAL_FATAL(f.res.n_records, 2);
	CU_ASSERT_EQUAL(f.res.records[0].data_len, 5);
	CU_ASSERT(memcmp(f.res.records[0].data, "hello", 5) == 0);
	CU_ASSERT_STRING_EQUAL(f.res.records[0].partition_key, "pk-1");
	CU_ASSERT_EQUAL(f.res.records[0].arrival_ms, 1700000000000);
	CU_ASSERT_EQUAL(f.res.records[1].data_len, 0);
	CU_ASSERT_EQUAL(f.res.records[1].encryption, GETRECORDS_ENC_KMS);
	CU_ASSERT_STRING_EQUAL(f.res.continuation_sequence,
	    "49590338271490256608559692538361571095921575989136588899");
	CU_ASSERT_EQUAL(f.res.millis_behind_latest, 1500);
	CU_ASSERT_PTR_NULL(f.res.next_iterator);
	CU_ASSERT_EQUAL(f.res.n_child_shards, 0);

	/* No records: a heartbeat that still moves the continuation. */
	event(&f, "SubscribeToShardEvent",
	    "{\"Records\":[],\"ContinuationSequenceNumber\":\"7\",\"MillisBehindLatest\":0}");
	CU_ASSERT_EQUAL(fx_parse(&f), 0);
	CU_ASSERT_EQUAL(f.res.n_records, 0);
	CU_ASSERT_STRING_EQUAL(f.res.continuation_sequence, "7");
	CU_ASSERT_FALSE(f.ev.shard_end);

	/* The end of a closed shard: null continuation and its children. */
	event(&f, "SubscribeToShardEvent",
	    "{\"Records\":[],\"ContinuationSequenceNumber\":null,\"MillisBehindLatest\":0,"
	    "\"ChildShards\":[{\"ShardId\":\"shardId-000000000002\","
	    "\"ParentShards\":[\"shardId-000000000000\"],"
	    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"100\"}},"
	    "{\"ShardId\":\"shardId-000000000003\",\"ParentShards\":[\"shardId-000000000000\"],"
	    "\"HashKeyRange\":{\"StartingHashKey\":\"101\",\"EndingHashKey\":\"200\"}}]}");
	CU_ASSERT_EQUAL(fx_parse(&f), 0);
	CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_RECORDS);
	CU_ASSERT_TRUE(f.ev.shard_end);
	CU_ASSERT_PTR_NULL(f.res.continuation_sequence);
	CU_ASSERT_EQUAL_FATAL(f.res.n_child_shards, 2);
	CU_ASSERT_STRING_EQUAL(f.res.child_shards[1].shard_id, "shardId-000000000003");
	CU_ASSERT_STRING_EQUAL(f.res.child_shards[1].starting_hash_key, "101");

	/* Without :content-type (it is optional) the event still reads. */
	buf_reset(&f.wire);
	enc_strings(&f.wire, RECORDS_EVENT, ":message-type", "event", ":event-type",
	    "SubscribeToShardEvent", (const char *)NULL);
	CU_ASSERT_EQUAL(fx_parse(&f), 0);
	CU_ASSERT_EQUAL(f.res.n_records, 2);
	fx_fini(&f);
}

static void
test_subscribe_event_other_events(void)
{
	struct fx f;

	fx_init(&f);
	event(&f, "initial-response", "{}");
	CU_ASSERT_EQUAL(fx_parse(&f), 0);
	CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_INITIAL_RESPONSE);
	CU_ASSERT_STRING_EQUAL(f.ev.event_type, "initial-response");
	/* An event type from a later API version: skipped, not fatal. */
	event(&f, "SomeFutureEvent\x01", "whatever");
	CU_ASSERT_EQUAL(fx_parse(&f), 0);
	CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_OTHER);
	CU_ASSERT_STRING_EQUAL(f.ev.event_type, "SomeFutureEvent?");
	fx_fini(&f);
}

/* Every exception of SubscribeToShardEventStream in the API reference, and its class. */
static const struct {
	const char *type;
	enum aws_err_class cls;
} exceptions[] = {
	{ "ResourceInUseException", AWS_ERR_THROTTLED },
	{ "ResourceNotFoundException", AWS_ERR_FATAL },
	{ "KMSDisabledException", AWS_ERR_FATAL },
	{ "KMSInvalidStateException", AWS_ERR_FATAL },
	{ "KMSAccessDeniedException", AWS_ERR_FATAL },
	{ "KMSNotFoundException", AWS_ERR_FATAL },
	{ "KMSOptInRequired", AWS_ERR_FATAL },
	{ "KMSThrottlingException", AWS_ERR_THROTTLED },
	{ "InternalFailureException", AWS_ERR_RETRYABLE },
	/* Not in the list: a class from the name when it says one, else fatal. */
	{ "LimitExceededException", AWS_ERR_THROTTLED },
	{ "SomethingNewException", AWS_ERR_FATAL },
};

static void
test_subscribe_event_exceptions(void)
{
	struct fx f;

	fx_init(&f);
	for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++) {
		char payload[200];
		snprintf(payload, sizeof(payload), "{\"message\":\"because %zu\"}", i);
		exception(&f, exceptions[i].type, payload);
		errno = 0;
		CU_ASSERT_EQUAL(fx_parse(&f), -1);
		CU_ASSERT_EQUAL(errno, EPROTO);
		CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_EXCEPTION);
		CU_ASSERT_STRING_EQUAL(f.err.type, exceptions[i].type);
		CU_ASSERT_EQUAL(f.err.cls, exceptions[i].cls);
		CU_ASSERT_EQUAL(subscribe_exception_class(exceptions[i].type), exceptions[i].cls);
		snprintf(payload, sizeof(payload), "because %zu", i);
		CU_ASSERT_STRING_EQUAL(f.err.message, payload);
	}
	/* Message spellings and payloads that say nothing useful. */
	exception(&f, "ResourceInUseException", "{\"Message\":\"capital\\nM\"}");
	CU_ASSERT_EQUAL(fx_parse(&f), -1);
	CU_ASSERT_STRING_EQUAL(f.err.message, "capital?M");
	exception(&f, "ResourceInUseException", "not json");
	CU_ASSERT_EQUAL(fx_parse(&f), -1);
	CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_THROTTLED);
	CU_ASSERT_STRING_EQUAL(f.err.message, "(no message)");
	exception(&f, "ResourceInUseException", "{\"message\":42}");
	CU_ASSERT_EQUAL(fx_parse(&f), -1);
	CU_ASSERT_STRING_EQUAL(f.err.message, "(no message)");
	{
		size_t n = SUBSCRIBE_EVENT_MAX_EXCEPTION_PAYLOAD + 1;
		char *big = malloc(n + 1);
		memset(big, ' ', n);
		big[n] = '\0';
		exception(&f, "InternalFailureException", big);
		CU_ASSERT_EQUAL(fx_parse(&f), -1);
		CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_RETRYABLE);
		CU_ASSERT_STRING_EQUAL(f.err.message, "(payload of 65537 bytes not read)");
		free(big);
	}

	/* Unmodeled errors: code and message in headers, retried unless they say throttle. */
	buf_reset(&f.wire);
	enc_strings(&f.wire, "", ":message-type", "error", ":error-code", "InternalError",
	    ":error-message", "try again", (const char *)NULL);
	CU_ASSERT_EQUAL(fx_parse(&f), -1);
	CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_EXCEPTION);
	CU_ASSERT_STRING_EQUAL(f.err.type, "InternalError");
	CU_ASSERT_STRING_EQUAL(f.err.message, "try again");
	CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_RETRYABLE);
	buf_reset(&f.wire);
	enc_strings(&f.wire, "", ":message-type", "error", ":error-code", "ThrottlingException",
	    (const char *)NULL);
	CU_ASSERT_EQUAL(fx_parse(&f), -1);
	CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_THROTTLED);
	CU_ASSERT_STRING_EQUAL(f.err.message, "(no message)");
	fx_fini(&f);
}

/* Messages that break the protocol: headers, then payloads. */
static void
test_subscribe_event_malformed(void)
{
	static const struct {
		const char *what;
		const char *h1, *v1, *h2, *v2, *h3, *v3;
		const char *payload;
		const char *says;
	} cases[] = {
		{ "no :message-type", ":event-type", "SubscribeToShardEvent", NULL, NULL, NULL, NULL,
		    "{}", "no :message-type header" },
		{ "twice :message-type", ":message-type", "event", ":message-type", "event", NULL,
		    NULL, "{}", "header :message-type appears 2 times" },
		{ "unknown :message-type", ":message-type", "gossip", NULL, NULL, NULL, NULL, "{}",
		    "unknown :message-type \"gossip\"" },
		{ "event without type", ":message-type", "event", NULL, NULL, NULL, NULL, "{}",
		    "event without :event-type" },
		{ "empty event type", ":message-type", "event", ":event-type", "", NULL, NULL, "{}",
		    "event without :event-type" },
		{ "twice :event-type", ":message-type", "event", ":event-type", "initial-response",
		    ":event-type", "initial-response", "{}", "header :event-type appears 2 times" },
		{ "not JSON", ":message-type", "event", ":event-type", "SubscribeToShardEvent",
		    ":content-type", "application/x-amz-cbor-1.1", "{}",
		    "event with :content-type \"application/x-amz-cbor-1.1\"" },
		{ "exception without type", ":message-type", "exception", NULL, NULL, NULL, NULL,
		    "{}", "exception without :exception-type" },
		{ "error without code", ":message-type", "error", ":error-message", "x", NULL, NULL,
		    "", "error without :error-code" },
		{ "no continuation", ":message-type", "event", ":event-type",
		    "SubscribeToShardEvent", NULL, NULL, "{\"Records\":[],\"MillisBehindLatest\":0}",
		    "SubscribeToShardEvent: no ContinuationSequenceNumber at offset 0" },
		{ "bad continuation", ":message-type", "event", ":event-type",
		    "SubscribeToShardEvent", NULL, NULL,
		    "{\"Records\":[],\"ContinuationSequenceNumber\":\"12a\"}",
		    "SubscribeToShardEvent: ContinuationSequenceNumber: not a decimal number at "
		    "offset 43" },
		{ "bad record", ":message-type", "event", ":event-type", "SubscribeToShardEvent",
		    NULL, NULL,
		    "{\"Records\":[{\"SequenceNumber\":\"1\",\"Data\":\"!!!!\",\"PartitionKey\":\"k\"}],"
		    "\"ContinuationSequenceNumber\":\"1\"}",
		    "SubscribeToShardEvent: Records[0].Data: invalid base64 at offset 42" },
		{ "truncated payload", ":message-type", "event", ":event-type",
		    "SubscribeToShardEvent", NULL, NULL, "{\"Records\":[", "SubscribeToShardEvent: " },
	};
	struct fx f;

	fx_init(&f);
	/* Put a good message first so the offset in the error is a stream offset. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct eventstream_message *m;
		struct eventstream_message mm;
		const unsigned char *p;
		size_t left;
		int rc;

		buf_reset(&f.wire);
		enc_message(&f.wire, NULL, 0, "", 0);
		if (cases[i].h3)
			enc_strings(&f.wire, cases[i].payload, cases[i].h1, cases[i].v1, cases[i].h2,
			    cases[i].v2, cases[i].h3, cases[i].v3, (const char *)NULL);
		else if (cases[i].h2)
			enc_strings(&f.wire, cases[i].payload, cases[i].h1, cases[i].v1, cases[i].h2,
			    cases[i].v2, (const char *)NULL);
		else
			enc_strings(&f.wire, cases[i].payload, cases[i].h1, cases[i].v1, (const char *)NULL);
		eventstream_reset(&f.dec);
		p = (const unsigned char *)f.wire.data;
		left = f.wire.len;
		CU_ASSERT_EQUAL_FATAL(eventstream_next(&f.dec, &p, &left, &mm), 1);
		CU_ASSERT_EQUAL_FATAL(eventstream_next(&f.dec, &p, &left, &mm), 1);
		m = &mm;
		errno = 0;
		rc = subscribe_event_parse(m, NULL, &f.arena, &f.res, &f.ev, &f.err);
		if (rc != -1 || f.ev.kind != SUBSCRIBE_EVENT_MALFORMED || !strstr(f.err.message,
		    cases[i].says))
			fprintf(stderr, "case \"%s\": rc %d kind %d: %s\n", cases[i].what, rc,
			    (int)f.ev.kind, f.err.message);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_MALFORMED);
		CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_FATAL);
		CU_ASSERT_STRING_EQUAL(f.err.type, "BadResponse");
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, cases[i].says));
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message,
		    "SubscribeToShard message at stream offset 16: "));
		CU_ASSERT(errno == EBADMSG || errno == EINVAL || errno == EMSGSIZE);
		CU_ASSERT_EQUAL(f.res.n_records, 0);
	}

	/* A :message-type that is not a string. */
	{
		struct enc_header h[] = { { .name = ":message-type", .type = 4, .num = 1 } };
		buf_reset(&f.wire);
		enc_message(&f.wire, h, 1, "{}", 2);
		CU_ASSERT_EQUAL(fx_parse(&f), -1);
		CU_ASSERT_EQUAL(f.ev.kind, SUBSCRIBE_EVENT_MALFORMED);
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "header :message-type is a int32, not a string"));
	}
	/* Over the scanner's record limit: refused with EMSGSIZE. */
	{
		struct getrecords_limits lim;
		struct eventstream_message mm;
		const unsigned char *p;
		size_t left;

		getrecords_limits_default(&lim);
		lim.max_records = 1;
		event(&f, "SubscribeToShardEvent", RECORDS_EVENT);
		eventstream_reset(&f.dec);
		p = (const unsigned char *)f.wire.data;
		left = f.wire.len;
		CU_ASSERT_EQUAL_FATAL(eventstream_next(&f.dec, &p, &left, &mm), 1);
		errno = 0;
		CU_ASSERT_EQUAL(subscribe_event_parse(&mm, &lim, &f.arena, &f.res, &f.ev, &f.err), -1);
		CU_ASSERT_EQUAL(errno, EMSGSIZE);
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "more than 1 records"));
	}
	fx_fini(&f);
}

/* A whole subscription as it comes off the wire, in random chunks. */
static void
test_subscribe_event_stream(void)
{
	struct fx f;
	uint64_t rng = 99;
	int round;

	fx_init(&f);
	enc_strings(&f.wire, "{}", ":message-type", "event", ":event-type", "initial-response",
	    ":content-type", "application/json", (const char *)NULL);
	for (int i = 0; i < 3; i++) {
		char payload[300];
		snprintf(payload, sizeof(payload),
		    "{\"Records\":[{\"SequenceNumber\":\"%d\",\"Data\":\"AAEC/w==\","
		    "\"PartitionKey\":\"p%d\"}],\"ContinuationSequenceNumber\":\"%d\","
		    "\"MillisBehindLatest\":%d}", 100 + i, i, 100 + i, 10 - i);
		enc_strings(&f.wire, payload, ":message-type", "event", ":event-type",
		    "SubscribeToShardEvent", ":content-type", "application/json", (const char *)NULL);
	}
	enc_strings(&f.wire, "{\"message\":\"Another active subscription exists for this consumer\"}",
	    ":message-type", "exception", ":exception-type", "ResourceInUseException", (const char *)NULL);
	for (round = 0; round < 50; round++) {
		const unsigned char *data = (const unsigned char *)f.wire.data;
		size_t pos = 0, seen = 0, records = 0;
		bool ended_with_exception = false;

		eventstream_reset(&f.dec);
		while (pos < f.wire.len) {
			struct eventstream_message m;
			size_t n, left;
			const unsigned char *p;
			int rc;

			rng = rng * 6364136223846793005u + 1442695040888963407u;
			n = 1 + (size_t)(rng >> 33) % 97;
			if (n > f.wire.len - pos)
				n = f.wire.len - pos;
			p = data + pos;
			left = n;
			while ((rc = eventstream_next(&f.dec, &p, &left, &m)) == 1) {
				int pr = subscribe_event_parse(&m, NULL, &f.arena, &f.res, &f.ev, &f.err);
				if (seen == 0)
					CU_ASSERT(pr == 0 && f.ev.kind == SUBSCRIBE_EVENT_INITIAL_RESPONSE);
				if (seen >= 1 && seen <= 3) {
					char want[8];
					CU_ASSERT_EQUAL_FATAL(pr, 0);
					CU_ASSERT_EQUAL_FATAL(f.res.n_records, 1);
					CU_ASSERT_EQUAL(f.res.records[0].data_len, 4);
					CU_ASSERT(memcmp(f.res.records[0].data, "\0\1\2\377", 4) == 0);
					snprintf(want, sizeof(want), "%zu", 99 + seen);
					CU_ASSERT_STRING_EQUAL(f.res.continuation_sequence, want);
					CU_ASSERT_EQUAL(f.res.millis_behind_latest, 11 - (int64_t)seen);
					records++;
				}
				if (seen == 4) {
					CU_ASSERT_EQUAL(pr, -1);
					CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_THROTTLED);
					ended_with_exception = true;
				}
				seen++;
			}
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			pos += n;
		}
		CU_ASSERT_EQUAL(eventstream_finish(&f.dec), 0);
		CU_ASSERT_EQUAL(seen, 5);
		CU_ASSERT_EQUAL(records, 3);
		CU_ASSERT_TRUE(ended_with_exception);
	}
	fx_fini(&f);
}

static CU_TestInfo subscribe_event_tests[] = {
	{ "records events", test_subscribe_event_records },
	{ "initial response and unknown events", test_subscribe_event_other_events },
	{ "exceptions and errors classified", test_subscribe_event_exceptions },
	{ "malformed messages refused", test_subscribe_event_malformed },
	{ "a whole subscription in random chunks", test_subscribe_event_stream },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "subscribe_event", NULL, NULL, NULL, NULL, subscribe_event_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
