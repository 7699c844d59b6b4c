/*
 * The GetRecords hot path: a purpose-built, bounded scanner for the body of a Kinesis
 * GetRecords response (application/x-amz-json-1.1). A generic JSON DOM costs 10 to 40
 * times more CPU per record than kls's budget allows, so this scanner knows the one
 * response shape, decodes each record's fields straight into a caller-owned arena and
 * allocates nothing per record.
 *
 * It accepts exactly RFC 8259 JSON (any key order, any whitespace, every string escape,
 * every number form, unknown keys holding any value) and rejects everything else with a
 * message naming the field and the byte offset. Known keys may appear at most once in
 * their object: a response that says two things at once is refused, not guessed at.
 */
#ifndef KLS_GETRECORDS_H
#define KLS_GETRECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* A split has 2 children and a merge 1; 16 leaves room without an allocation. */
#define GETRECORDS_MAX_CHILD_SHARDS 16
/* A merged shard has 2 parents. */
#define GETRECORDS_MAX_PARENTS 2
/* Pattern 0|([1-9]\d{0,128}) in the API reference. */
#define GETRECORDS_MAX_SEQUENCE_LEN 129
/* Pattern 0|([1-9]\d{0,38}): a 128-bit number in decimal. */
#define GETRECORDS_MAX_HASH_KEY_LEN 39
/* ShardId: 1 to 128 of [a-zA-Z0-9_.-]. */
#define GETRECORDS_MAX_SHARD_ID_LEN 128
/* The skip stack for unknown values is one 64-bit word. */
#define GETRECORDS_DEPTH_LIMIT 64

struct getrecords_limits {
	size_t max_records;        /* GetRecords' Limit maximum: 10,000 */
	size_t max_data_bytes;     /* decoded Data of one record: 1 MiB */
	size_t max_partition_key;  /* characters (code points), as the API counts: 256 */
	size_t max_iterator;       /* NextShardIterator characters: 4096 (the API's is 512) */
	unsigned max_depth;        /* nesting inside an unknown key's value: 32, at most 64 */
};

enum getrecords_encryption {
	GETRECORDS_ENC_ABSENT = 0,
	GETRECORDS_ENC_NONE,
	GETRECORDS_ENC_KMS,
	GETRECORDS_ENC_OTHER, /* a value this version of kls does not know */
};

/* One record. Every pointer is into the arena given to getrecords_parse. */
struct getrecords_record {
	const unsigned char *data; /* decoded bytes, followed by a NUL not counted in data_len */
	size_t data_len;
	const char *partition_key; /* UTF-8, NUL-terminated (it may hold U+0000: use the length) */
	size_t partition_key_len;  /* bytes */
	const char *sequence_number; /* decimal digits, NUL-terminated */
	size_t sequence_number_len;
	uint64_t sub_sequence_number; /* always 0 here; KPL de-aggregation numbers sub-records */
	int64_t arrival_ms;          /* ApproximateArrivalTimestamp in epoch ms, -1 when absent */
	const char *explicit_hash_key; /* decimal digits, or NULL when absent */
	enum getrecords_encryption encryption;
};

struct getrecords_child_shard {
	const char *shard_id;
	const char *parents[GETRECORDS_MAX_PARENTS];
	size_t n_parents;
	const char *starting_hash_key;
	const char *ending_hash_key;
};

/* Reuse one result across calls: the records array grows geometrically and is kept. */
struct getrecords_result {
	struct getrecords_record *records;
	size_t n_records;
	size_t records_cap; /* allocated entries; private to getrecords.c */
	const char *next_iterator; /* NULL when null or absent: the shard is closed */
	size_t next_iterator_len;
	/* getrecords_parse_event only: ContinuationSequenceNumber, decimal digits; NULL when
	 * null (at the end of a closed shard). The key must be there. */
	const char *continuation_sequence;
	size_t continuation_sequence_len;
	int64_t millis_behind_latest; /* -1 when absent */
	struct getrecords_child_shard child_shards[GETRECORDS_MAX_CHILD_SHARDS];
	size_t n_child_shards;
};

struct getrecords_error {
	int errnum;    /* EINVAL malformed, EMSGSIZE over a limit, ENOMEM */
	size_t offset; /* byte offset in the body where the problem was found */
	/* "GetRecords response: Records[3].Data: invalid base64 at offset 1234" */
	char message[256];
};

/* The service's limits (see struct getrecords_limits). */
void getrecords_limits_default(struct getrecords_limits *lim);

void getrecords_result_init(struct getrecords_result *res);
void getrecords_result_free(struct getrecords_result *res);

/*
 * Scans body[0..len), which must be followed by a NUL (body[len] == '\0', as struct
 * kls_buf guarantees), into res. arena is reset and then reserved to len + 1 bytes in one
 * step, so the views in res stay valid until the next call with the same arena or until
 * it is freed; the body itself is not modified and may be freed at once. lim NULL means
 * the defaults. Returns 0, or -1 with errno and err set (res then holds no records).
 */
int getrecords_parse(const char *body, size_t len, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct getrecords_error *err);

/*
 * The same for the JSON payload of a SubscribeToShardEvent (enhanced fan-out), which has
 * the same Records, MillisBehindLatest and ChildShards, and ContinuationSequenceNumber
 * (read into continuation_sequence) where GetRecords has NextShardIterator (here an
 * unknown key, skipped). Messages start "SubscribeToShardEvent: ".
 */
int getrecords_parse_event(const char *body, size_t len, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct getrecords_error *err);

/*
 * getrecords_parse decoding in place: the records' strings and data are written over
 * the body itself, so a batch needs one buffer, not two (each decoded value is shorter
 * than its JSON text and lands on bytes already read). The views in res point into
 * body and stay valid until body is changed or freed; afterwards body holds nothing
 * else of use (on failure, nothing at all). Same rules and messages as getrecords_parse.
 */
int getrecords_parse_inplace(char *body, size_t len, const struct getrecords_limits *lim,
    struct getrecords_result *res, struct getrecords_error *err);

#endif
