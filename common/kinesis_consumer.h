/*
 * Enhanced fan-out on the Kinesis client (common/kinesis.h): the stream consumer that a
 * kls application registers once and every worker of it shares (RegisterStreamConsumer,
 * DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer, and
 * kinesis_ensure_consumer for klsd's start), and SubscribeToShard, whose response is an
 * event stream handed to the caller's callbacks as it arrives (common/eventstream.h
 * decodes it, common/subscribe_event.h says what each message means).
 *
 * Same conventions as kinesis.h: one client per thread, 0 or -1 with err whose message
 * names the call and its target, err->type the service's type. The control calls retry
 * with the client's policy; SubscribeToShard is never retried here (the reader decides).
 */
#ifndef KLS_KINESIS_CONSUMER_H
#define KLS_KINESIS_CONSUMER_H

#include <stddef.h>

#include "common/aws.h"
#include "common/buf.h"
#include "common/kinesis.h"

/* Bounds from the Kinesis API reference. */
#define KINESIS_CONSUMER_NAME_MAX 128
#define KINESIS_ARN_MAX 2048
/* Bounds on one listing: the service allows 20 consumers per stream, so these are far
 * past any real answer and only stop a server that never ends its pages. */
#define KINESIS_CONSUMERS_MAX 1000
#define KINESIS_CONSUMER_PAGES_MAX 100
/* How long kinesis_ensure_consumer waits for a new consumer to become ACTIVE (the
 * service takes seconds; klsd gives up and says so rather than start without it). */
#define KINESIS_CONSUMER_ACTIVE_TIMEOUT_MS 120000

struct kinesis_consumer {
	char name[KINESIS_CONSUMER_NAME_MAX + 1];
	char arn[KINESIS_ARN_MAX + 1];
	char status[16];                      /* CREATING, DELETING, ACTIVE */
	double creation_timestamp;            /* epoch seconds; 0 when not reported */
	char stream_arn[KINESIS_ARN_MAX + 1]; /* DescribeStreamConsumer only; else "" */
};

struct kinesis_consumer_list {
	struct kinesis_consumer *consumers; /* in the order the service listed them */
	size_t n;
	size_t cap;
};

void kinesis_consumer_list_free(struct kinesis_consumer_list *l);

/* Registers name on the stream; out (may be NULL) is the new consumer, CREATING.
 * ResourceInUseException when the name is taken (or the stream is not ACTIVE). */
int kinesis_register_stream_consumer(struct kinesis_client *c, const char *stream_arn,
    const char *name, struct kinesis_consumer *out, struct aws_error *err);

/* The consumer named name on stream_arn, or (stream_arn and name NULL) the one whose
 * ARN is consumer_arn. ResourceNotFoundException when there is none. */
int kinesis_describe_stream_consumer(struct kinesis_client *c, const char *stream_arn,
    const char *name, const char *consumer_arn, struct kinesis_consumer *out,
    struct aws_error *err);

/* Every consumer of the stream, following NextToken (StreamARN is sent with every page,
 * as the API requires), at most KINESIS_CONSUMERS_MAX in KINESIS_CONSUMER_PAGES_MAX
 * pages. out is reset first and left empty on failure. */
int kinesis_list_stream_consumers(struct kinesis_client *c, const char *stream_arn,
    struct kinesis_consumer_list *out, struct aws_error *err);

/* Deregisters by name (stream_arn and name) or by consumer_arn (the others NULL). */
int kinesis_deregister_stream_consumer(struct kinesis_client *c, const char *stream_arn,
    const char *name, const char *consumer_arn, struct aws_error *err);

/* Polls DescribeStreamConsumer until the consumer is ACTIVE, for at most timeout_ms.
 * out may be NULL. err->type "Timeout" when it is still not ACTIVE. */
int kinesis_wait_consumer_active(struct kinesis_client *c, const char *stream_arn, const char *name,
    int timeout_ms, struct kinesis_consumer *out, struct aws_error *err);

/*
 * The consumer name of stream_arn, registered if it is not yet, and ACTIVE: its ARN in
 * out_arn. Idempotent, and safe when several workers start at once: a name that is
 * already registered (ResourceInUseException) is described instead; one being deleted
 * is waited out and registered again. Gives up after KINESIS_CONSUMER_ACTIVE_TIMEOUT_MS.
 * The stream's ARN comes from kinesis_describe_stream_summary.
 */
int kinesis_ensure_consumer(struct kinesis_client *c, const char *stream_arn, const char *name,
    char out_arn[KINESIS_ARN_MAX + 1], struct aws_error *err);

/* Parses {"Consumer": {...}} (key "Consumer") or {"ConsumerDescription": {...}}. */
int kinesis_parse_consumer(const char *body, size_t len, const char *key,
    struct kinesis_consumer *out, struct aws_error *err);
/* Appends one ListStreamConsumers page to list (refusing more than max in all) and hands
 * out its NextToken (malloc'd, NULL when absent, null or empty). */
int kinesis_parse_list_consumers(const char *body, size_t len, struct kinesis_consumer_list *list,
    size_t max, char **next_token, struct aws_error *err);

/* ---- SubscribeToShard ---- */

struct http_stream;

/* The request body: {"ConsumerARN", "ShardId", "StartingPosition": {"Type",
 * "SequenceNumber" | "Timestamp"}}. */
int kinesis_subscribe_body(struct kls_buf *out, const char *consumer_arn, const char *shard_id,
    const struct kinesis_position *pos, struct aws_error *err);

/*
 * One SubscribeToShard call, signed like any JSON call, its event stream handed to
 * stream as it arrives (no body cap: the event stream decoder bounds each message; no
 * total timeout: stream->tick decides how long silence lasts). Returns 0 when the
 * service ended the stream normally (after up to 5 minutes). -1 with err otherwise: an
 * HTTP error is classified as an exception on the stream would be
 * (subscribe_exception_class: ResourceInUseException is throttling), a callback that
 * ended the transfer is err->type "Aborted", a dropped connection "NetworkError" or
 * "TruncatedResponse". Never retried here.
 */
int kinesis_subscribe_to_shard(struct kinesis_client *c, const char *consumer_arn,
    const char *shard_id, const struct kinesis_position *pos, const struct http_stream *stream,
    struct aws_error *err);

#endif
