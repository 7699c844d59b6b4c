/*
 * What one decoded event stream message of a Kinesis SubscribeToShard response means:
 * the initial response, a SubscribeToShardEvent (records, continuation, child shards),
 * or an exception the service sends instead of an HTTP error once the stream is open
 * (ResourceInUseException, KMS*, InternalFailureException, ...), classified like any
 * AWS error so the reader knows whether to back off, resubscribe or give up.
 *
 * Headers used (string-valued, each at most once):
 *   :message-type   event | exception | error
 *   :event-type     initial-response | SubscribeToShardEvent    (events)
 *   :exception-type ResourceInUseException, ...                 (exceptions)
 *   :error-code, :error-message                                 (errors)
 *   :content-type   application/json when present
 * The records payload is read by the GetRecords scanner (getrecords_parse_event), so
 * records have exactly the shape, limits and checks of polling mode.
 */
#ifndef KLS_SUBSCRIBE_EVENT_H
#define KLS_SUBSCRIBE_EVENT_H

#include <stdbool.h>

#include "common/aws.h"
#include "common/buf.h"
#include "common/eventstream.h"
#include "common/getrecords.h"

/* Longest exception or error payload read for its message; longer ones are not parsed. */
#define SUBSCRIBE_EVENT_MAX_EXCEPTION_PAYLOAD 65536

enum subscribe_event_kind {
	SUBSCRIBE_EVENT_INITIAL_RESPONSE, /* first message of a subscription; nothing to do */
	SUBSCRIBE_EVENT_RECORDS,          /* a SubscribeToShardEvent: see the result */
	SUBSCRIBE_EVENT_OTHER,            /* an event type this version does not know: skip it,
	                                   * as the SDKs do (event_type names it) */
	SUBSCRIBE_EVENT_EXCEPTION,        /* the service ended the subscription with an error */
	SUBSCRIBE_EVENT_MALFORMED,        /* the message breaks the protocol */
};

struct subscribe_event {
	enum subscribe_event_kind kind;
	/* :event-type for events, printable ASCII, truncated; "" otherwise. */
	char event_type[64];
	/* RECORDS: ContinuationSequenceNumber was null: the shard is closed, and the result's
	 * child_shards (if any) are its children. Checkpoint nothing past the last record. */
	bool shard_end;
};

/*
 * Interprets m. For an event of type SubscribeToShardEvent, res (with views into arena,
 * as getrecords_parse) holds its records, continuation_sequence, millis_behind_latest and
 * child shards; lim NULL means the scanner's defaults.
 * Returns 0 for events (INITIAL_RESPONSE, RECORDS, OTHER). Returns -1 with err filled for
 * EXCEPTION (err->type is the service's type, err->message its message, err->cls the
 * class: ResourceInUseException and throttling are AWS_ERR_THROTTLED, internal failures
 * AWS_ERR_RETRYABLE, ResourceNotFound and KMS errors other than throttling AWS_ERR_FATAL)
 * and for MALFORMED (err->type "BadResponse", AWS_ERR_FATAL: the same subscription would
 * send the same message again; err->message says what was wrong and where).
 */
int subscribe_event_parse(const struct eventstream_message *m, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct subscribe_event *ev,
    struct aws_error *err);

/* The class of an exception type sent on an open subscription (see above). */
enum aws_err_class subscribe_exception_class(const char *type);

#endif
