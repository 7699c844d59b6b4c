/*
 * kls-fixture: a fast stand-in for Kinesis that scripts/bench reads from. kinesalite
 * serves ~40k records/s here, which would bound the bench's wall time; this serves
 * GetRecords responses whose records were turned into JSON once, at start-up, so a
 * response is a header, a slice of that text and a short tail (written with writev,
 * no copy). fixture_body.c builds the stream and answers the calls as data;
 * fixture.c is the HTTP/1.1 server around it.
 *
 * The shapes are the service's: 56-digit sequence numbers increasing within a shard,
 * base64 Data, ApproximateArrivalTimestamp (one millisecond apart, the newest about
 * the start-up time), MillisBehindLatest falling to 0 at the newest record, and
 * NextShardIterator null once the last record of a closed shard was returned (an
 * open shard answers an empty batch with an iterator at its end).
 */
#ifndef KLS_TOOLS_FIXTURE_H
#define KLS_TOOLS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define FX_SHARDS_MAX 1000
#define FX_RECORDS_MAX 100000000ULL /* per shard */
#define FX_RECORD_BYTES_MAX (1024 * 1024)
#define FX_BATCH_MAX 10000                      /* GetRecords' Limit maximum */
#define FX_RESPONSE_DATA_MAX (10 * 1024 * 1024) /* the service's 10 MiB per response */
#define FX_SEQUENCE_LEN 56
#define FX_ITERATOR_MAX 128
#define FX_SHARD_ID_LEN 20 /* shardId-000000000000 */

struct fx_opts {
	const char *stream;
	unsigned shards;
	uint64_t records; /* per shard */
	size_t record_bytes;
	unsigned batch; /* most records in one response */
	bool open;      /* open shards: an empty batch at the end, not a null iterator */
};

/* Counters the server keeps per shard (served at GET /stats). */
struct fx_shard_stats {
	uint64_t get_records, records_served, iterators;
	/* CLOCK_MONOTONIC ns of the first GetRecords after the latest GetShardIterator (how
	 * scripts/bench times a restarted reader), 0 until there was one. */
	int64_t first_fetch_ns;
	bool fetch_pending;
};

struct fx_shard {
	char id[FX_SHARD_ID_LEN + 1];
	char *text;    /* every record as a JSON object followed by ',' */
	uint64_t *off; /* off[i]: where record i starts; off[n]: the end of text */
	struct fx_shard_stats stats;
};

struct fx_stream {
	struct fx_opts o;
	struct fx_shard *shards;
	int64_t newest_arrival_ms;  /* arrival time of the last record of every shard */
	struct kls_buf list_shards; /* ListShards response body */
	struct kls_buf summary;     /* DescribeStreamSummary response body */
};

/* Builds every shard's records. 0, or -1 with errno and a message in err. */
int fx_stream_build(struct fx_stream *s, const struct fx_opts *o, char *err, size_t errsize);
void fx_stream_free(struct fx_stream *s);

/* Sequence number of record index-1 (index 0 is the shard's StartingSequenceNumber,
 * before its first record) into out[FX_SEQUENCE_LEN + 1]. */
void fx_sequence(char *out, unsigned shard, uint64_t index);
/* 0 with shard and index, or -1 when seq is not one of ours. */
int fx_parse_sequence(const char *seq, unsigned *shard, uint64_t *index);

void fx_iterator(char *out, size_t size, unsigned shard, uint64_t pos);
int fx_parse_iterator(const char *it, unsigned *shard, uint64_t *pos);

/* The service's answer to a call, as data: status 200 with a body, or an error. */
struct fx_reply {
	int status;        /* 200 or 400 */
	const char *error; /* __type when status is 400 */
	/* body = head + slice + tail; head and tail are the caller's buffers */
	struct kls_buf *head;
	const char *slice;
	size_t slice_len;
	struct kls_buf *tail;
};

/* One Kinesis call: action (the X-Amz-Target suffix) with its JSON body. A body that
 * is not valid or names another stream gets the service's error. now_ns: CLOCK_MONOTONIC
 * for the stats. */
void fx_call(struct fx_stream *s, const char *action, const char *body, size_t len, int64_t now_ns,
    struct fx_reply *r);

/* {"stream":..,"shards":[{"shard_id","records","last_sequence_number","get_records",
 * "records_served","iterators","first_fetch_ns"}]} into out. */
int fx_stats(const struct fx_stream *s, struct kls_buf *out);

#endif
