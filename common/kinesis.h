/*
 * Typed Kinesis Data Streams client over common/aws.h: shard discovery (ListShards,
 * paginated), stream state, shard iterators and GetRecords for klsd and the readers;
 * PutRecords, stream creation/deletion and resharding for tools, tests and the demo.
 *
 * One kinesis_client per thread (it wraps one aws_client and a response buffer).
 * Every call retries throttled and retryable failures with the client's policy and
 * returns 0, or -1 with err whose message names the call and the stream or shard
 * ("ListShards orders: ResourceNotFoundException: ..."); err->type keeps the
 * service's error type for the caller's decisions (e.g. "ExpiredIteratorException",
 * "ResourceNotFoundException", "ResourceInUseException", "LimitExceededException").
 *
 * The request builders and response parsers are exposed as pure functions so they are
 * tested without a network.
 */
#ifndef KLS_KINESIS_H
#define KLS_KINESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws.h"
#include "common/buf.h"

/* Bounds from the Kinesis API reference. */
#define KINESIS_STREAM_NAME_MAX 128
#define KINESIS_SHARD_ID_MAX 128
#define KINESIS_HASH_KEY_MAX 39  /* decimal digits of a 128-bit hash key */
#define KINESIS_SEQUENCE_MAX 129 /* decimal digits of a sequence number */
#define KINESIS_ITERATOR_MAX 512
#define KINESIS_NEXT_TOKEN_MAX 1048576
#define KINESIS_PAGE_SHARDS_MAX 10000 /* MaxResults limit: more in one page is a bad response */
#define KINESIS_SHARDS_MAX 100000     /* default bound on one listing */
#define KINESIS_PUT_RECORDS_MAX 500
#define KINESIS_RECORD_DATA_MAX (1024 * 1024)
#define KINESIS_PARTITION_KEY_MAX 256
#define KINESIS_PUT_REQUEST_MAX (5 * 1024 * 1024) /* data plus partition keys of one call */
#define KINESIS_GET_RECORDS_LIMIT_MAX 10000
#define KINESIS_LIST_RESTARTS_MAX 3 /* restarts of a listing after ExpiredNextToken */

struct kinesis_client;

/* Fills the Kinesis-specific fields of cfg (service, X-Amz-Target prefix, content
 * type) and zeroes the rest; endpoint NULL = the region's public endpoint. */
void kinesis_service_config(struct aws_service_config *cfg, const char *region,
    const char *endpoint, struct aws_creds_provider *creds);

/* retry NULL = 5 attempts, 100 ms first backoff, 5 s cap. A reader that does its own
 * backoff passes { 1, 0, 0 }. NULL with err when aws_client_new refuses cfg. */
struct kinesis_client *kinesis_client_new(const struct aws_service_config *cfg,
    const struct aws_retry_policy *retry, struct aws_error *err);
void kinesis_client_free(struct kinesis_client *c);

/* ---- shards ---- */

struct kinesis_shard {
	char shard_id[KINESIS_SHARD_ID_MAX + 1];
	char parent_shard_id[KINESIS_SHARD_ID_MAX + 1];          /* "" = none */
	char adjacent_parent_shard_id[KINESIS_SHARD_ID_MAX + 1]; /* "" = none (set by a merge) */
	char starting_hash_key[KINESIS_HASH_KEY_MAX + 1];        /* decimal */
	char ending_hash_key[KINESIS_HASH_KEY_MAX + 1];          /* decimal, inclusive */
	char starting_sequence_number[KINESIS_SEQUENCE_MAX + 1];
	char ending_sequence_number[KINESIS_SEQUENCE_MAX + 1]; /* "" = open shard */
};

static inline bool
kinesis_shard_closed(const struct kinesis_shard *s)
{
	return s->ending_sequence_number[0] != '\0';
}

struct kinesis_shard_list {
	struct kinesis_shard *shards; /* in the order the service listed them */
	size_t n;
	size_t cap;
};

void kinesis_shard_list_free(struct kinesis_shard_list *l);

/* ShardFilter types (the API's names). */
enum kinesis_shard_filter {
	KINESIS_FILTER_NONE = 0,
	KINESIS_FILTER_AFTER_SHARD_ID, /* needs shard_id */
	KINESIS_FILTER_AT_TRIM_HORIZON,
	KINESIS_FILTER_FROM_TRIM_HORIZON,
	KINESIS_FILTER_AT_LATEST,
	KINESIS_FILTER_AT_TIMESTAMP,   /* needs timestamp_ms */
	KINESIS_FILTER_FROM_TIMESTAMP, /* needs timestamp_ms */
};

struct kinesis_list_opts {
	enum kinesis_shard_filter filter;
	const char *filter_shard_id;
	int64_t filter_timestamp_ms; /* wall-clock ms since the epoch */
	int max_results;             /* per page, 1..10000; 0 = the service's default */
	size_t max_shards;           /* bound on the whole listing; 0 = KINESIS_SHARDS_MAX */
};

/*
 * Every shard of stream (opts may be NULL), following NextToken. Follow-up pages send
 * only NextToken (and MaxResults), as the API requires. ExpiredNextTokenException
 * restarts the listing from the first page, at most KINESIS_LIST_RESTARTS_MAX times.
 * out is reset first; on failure it is left empty.
 */
int kinesis_list_shards(struct kinesis_client *c, const char *stream,
    const struct kinesis_list_opts *opts, struct kinesis_shard_list *out, struct aws_error *err);

/* Request body of one ListShards page: next_token NULL = first page (StreamName and
 * filter), else NextToken (and MaxResults) only. */
int kinesis_list_shards_body(struct kls_buf *out, const char *stream, const char *next_token,
    const struct kinesis_list_opts *opts, struct aws_error *err);
/* Appends the page's shards to list (refusing more than max_shards in all) and
 * hands out its NextToken (malloc'd, NULL on the last page). */
int kinesis_parse_list_shards(const char *body, size_t len, struct kinesis_shard_list *list,
    size_t max_shards, char **next_token, struct aws_error *err);

/* ---- stream ---- */

struct kinesis_stream_summary {
	char stream_name[KINESIS_STREAM_NAME_MAX + 1];
	char stream_arn[2049];
	char status[16];          /* CREATING, DELETING, ACTIVE, UPDATING */
	char stream_mode[16];     /* PROVISIONED, ON_DEMAND; "" when not reported */
	int64_t open_shard_count; /* -1 when not reported */
	int64_t retention_period_hours;
	int64_t consumer_count;    /* -1 when not reported */
	double creation_timestamp; /* epoch seconds; 0 when not reported */
};

int kinesis_describe_stream_summary(struct kinesis_client *c, const char *stream,
    struct kinesis_stream_summary *out, struct aws_error *err);
int kinesis_parse_stream_summary(const char *body, size_t len, struct kinesis_stream_summary *out,
    struct aws_error *err);

/* Polls DescribeStreamSummary until the stream is ACTIVE, for at most timeout_ms.
 * out may be NULL. err->type "Timeout" when it is still not ACTIVE. */
int kinesis_wait_active(struct kinesis_client *c, const char *stream, int timeout_ms,
    struct kinesis_stream_summary *out, struct aws_error *err);

/* Provisioned stream with shard_count shards. */
int kinesis_create_stream(struct kinesis_client *c, const char *stream, int shard_count,
    struct aws_error *err);
int kinesis_delete_stream(struct kinesis_client *c, const char *stream, struct aws_error *err);
/* Splits shard at new_starting_hash_key (decimal, strictly inside the shard's range). */
int kinesis_split_shard(struct kinesis_client *c, const char *stream, const char *shard_id,
    const char *new_starting_hash_key, struct aws_error *err);
/* Merges shard_id with adjacent_shard_id (hash ranges must touch). */
int kinesis_merge_shards(struct kinesis_client *c, const char *stream, const char *shard_id,
    const char *adjacent_shard_id, struct aws_error *err);

/* The middle of a shard's hash key range, (start + end) / 2 + 1 when that stays
 * inside it: a valid split point. -1 when the range has one key or is not decimal. */
int kinesis_hash_key_split_point(const char *start, const char *end, char *out, size_t size);

/* ---- reading ---- */

enum kinesis_iterator_type {
	KINESIS_TRIM_HORIZON,
	KINESIS_LATEST,
	KINESIS_AT_TIMESTAMP,
	KINESIS_AT_SEQUENCE_NUMBER,
	KINESIS_AFTER_SEQUENCE_NUMBER,
};

struct kinesis_position {
	enum kinesis_iterator_type type;
	const char *sequence_number; /* AT_ / AFTER_SEQUENCE_NUMBER */
	int64_t timestamp_ms;        /* AT_TIMESTAMP: wall-clock ms since the epoch */
};

/* "TRIM_HORIZON", ...; NULL for a value out of range. */
const char *kinesis_iterator_type_name(enum kinesis_iterator_type t);

/* A shard iterator for shard_id at pos, into out[KINESIS_ITERATOR_MAX + 1]. */
int kinesis_get_shard_iterator(struct kinesis_client *c, const char *stream, const char *shard_id,
    const struct kinesis_position *pos, char out[KINESIS_ITERATOR_MAX + 1], struct aws_error *err);
int kinesis_get_shard_iterator_body(struct kls_buf *out, const char *stream, const char *shard_id,
    const struct kinesis_position *pos, struct aws_error *err);
int kinesis_parse_shard_iterator(const char *body, size_t len, char out[KINESIS_ITERATOR_MAX + 1],
    struct aws_error *err);

/* {"ShardIterator": iterator, "Limit": limit} built by hand: the hot path needs no
 * JSON library. limit 1..10000. */
int kinesis_get_records_body(struct kls_buf *out, const char *iterator, int limit,
    struct aws_error *err);
/* One GetRecords call; on 0 resp holds the raw JSON body for the GetRecords scanner.
 * shard_id only names the shard in errors. */
int kinesis_get_records_raw(struct kinesis_client *c, const char *shard_id, const char *iterator,
    int limit, struct kls_buf *resp, struct aws_error *err);

struct getrecords_limits;
struct getrecords_result;

/*
 * One GetRecords call scanned by common/getrecords: on 0 res holds the records,
 * NextShardIterator (NULL at the end of a closed shard), MillisBehindLatest and
 * ChildShards, as views into arena (valid until the next call with that arena).
 * arena NULL decodes in place, into resp (getrecords_parse_inplace): the views then
 * point into resp, valid until its next use, and a batch needs one buffer, not two.
 * resp is the caller's reusable body buffer; lim NULL = the service's limits. A body
 * the scanner refuses is err->type "BadResponse" with the scanner's message.
 */
int kinesis_get_records(struct kinesis_client *c, const char *shard_id, const char *iterator,
    int limit, const struct getrecords_limits *lim, struct kls_buf *resp, struct kls_buf *arena,
    struct getrecords_result *res, struct aws_error *err);

/* ---- writing (tools, tests, demo) ---- */

struct kinesis_put_entry {
	const void *data; /* up to KINESIS_RECORD_DATA_MAX bytes */
	size_t len;
	const char *partition_key;     /* 1..256 characters */
	const char *explicit_hash_key; /* NULL, or decimal up to 2^128 - 1 */
};

struct kinesis_put_result {
	char shard_id[KINESIS_SHARD_ID_MAX + 1];        /* "" when failed */
	char sequence_number[KINESIS_SEQUENCE_MAX + 1]; /* "" when failed */
	char error_code[64];                            /* "" when put */
	char error_message[256];
};

/*
 * PutRecords of n (1..500) entries, at most 5 MiB of data and keys. 0 when the call
 * succeeded, with *failed records refused (ErrorCode set in their result; retry those).
 * results: n entries, or NULL when only the count matters.
 */
int kinesis_put_records(struct kinesis_client *c, const char *stream,
    const struct kinesis_put_entry *entries, size_t n, struct kinesis_put_result *results,
    size_t *failed, struct aws_error *err);
int kinesis_put_records_body(struct kls_buf *out, const char *stream,
    const struct kinesis_put_entry *entries, size_t n, struct aws_error *err);
int kinesis_parse_put_records(const char *body, size_t len, size_t n,
    struct kinesis_put_result *results, size_t *failed, struct aws_error *err);

#endif
