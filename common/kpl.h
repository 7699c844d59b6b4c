/*
 * KPL de-aggregation: turns one Kinesis record written by the Kinesis Producer Library
 * (or any producer of its aggregation format) into the user records it carries.
 *
 *	bytes [0, 4)		magic F3 89 9A C2
 *	bytes [4, N - 16)	protobuf (proto2) message AggregatedRecord
 *	bytes [N - 16, N)	MD5 of bytes [4, N - 16)
 *
 *	message AggregatedRecord {
 *		repeated string partition_key_table = 1;
 *		repeated string explicit_hash_key_table = 2;
 *		repeated Record records = 3;
 *	}
 *	message Record {
 *		required uint64 partition_key_index = 1;
 *		optional uint64 explicit_hash_key_index = 2;
 *		required bytes data = 3;
 *		repeated Tag tags = 4;
 *	}
 *	message Tag { required string key = 1; optional string value = 2; }	// unused by KPL
 *
 * The module is pure and bounded: it decodes the protobuf wire format itself (no protobuf
 * library, no recursion, every length checked against the bytes that remain, every count
 * against struct kpl_limits), allocates only to grow arrays the caller reuses, and answers
 * every input with "aggregated, here are the user records" or "not aggregated, because".
 * A record that is not aggregated, or that fails any check, is delivered by the reader as
 * the raw record it is, as KCL does; the reason is for the log and the metrics.
 *
 * User records are views: data, partition key and explicit hash key point into the input
 * buffer, which must outlive them. Keys are therefore not NUL-terminated; kpl_terminate_keys
 * makes NUL-terminated copies of the (deduplicated) key tables for the handler ABI.
 *
 * Differences from KCL, on purpose: an index outside its table rejects the whole aggregate
 * (KCL keeps the user records before it); a known field with the wrong wire type, a varint
 * longer than 10 bytes or wider than 64 bits, a group, and an explicit hash key that is not
 * a 128-bit decimal are all malformed (a Java protobuf parser would skip or wrap some of
 * them). A repeated non-repeated field keeps its last value, as protobuf requires.
 */
#ifndef KLS_KPL_H
#define KLS_KPL_H

#include <stddef.h>
#include <stdint.h>

#define KPL_MAGIC_LEN 4
#define KPL_MD5_LEN 16
extern const unsigned char kpl_magic[KPL_MAGIC_LEN];

/* The ExplicitHashKey pattern 0|([1-9]\d{0,38}): a 128-bit number in decimal. */
#define KPL_MAX_HASH_KEY_DIGITS 39

struct kpl_limits {
	size_t max_records;          /* user records per aggregate: 100,000 */
	size_t max_table_entries;    /* entries per key table: 100,000 */
	size_t max_partition_key;    /* bytes: 1024 (Kinesis: 256 characters, 4 bytes each) */
};

void kpl_limits_default(struct kpl_limits *lim);

/* An unsigned 128-bit integer: Kinesis hash keys. */
struct kpl_u128 {
	uint64_t hi, lo;
};

/* A shard's hash-key range, both ends inclusive. */
struct kpl_hash_range {
	struct kpl_u128 start, end;
};

/* One entry of a key table: a view into the input, and its hash key once known. */
struct kpl_key {
	const char *ptr;
	size_t len;
	struct kpl_u128 hash_key; /* explicit hash keys: the value, always; partition keys:
				   * MD5 once kpl_check_hash_range needed it */
	int hash_key_known;
};

/* One user record: views into the input buffer. */
struct kpl_user_record {
	const unsigned char *data;
	size_t data_len;
	const char *partition_key;     /* not NUL-terminated until kpl_terminate_keys */
	size_t partition_key_len;
	const char *explicit_hash_key; /* decimal digits, or NULL when the record has none */
	size_t explicit_hash_key_len;
	uint64_t sub_sequence_number;  /* its position in the aggregate, 0..n-1 */
	uint32_t partition_key_index;
	uint32_t explicit_hash_key_index; /* UINT32_MAX when absent */
};

/* Why a record is not de-aggregated. KPL_NO_MAGIC is the ordinary case of a record that
 * was never aggregated; every other reason is a record that claims to be an aggregate and
 * is not a valid one (count and log it). */
enum kpl_reason {
	KPL_OK = 0,
	KPL_NO_MAGIC,        /* shorter than 4 bytes, or another first 4 bytes */
	KPL_TOO_SHORT,       /* magic, but 16 or fewer bytes after it (KCL's rule) */
	KPL_MD5_MISMATCH,
	KPL_MALFORMED,       /* not a protobuf AggregatedRecord: truncated, bad varint, ... */
	KPL_MISSING_FIELD,   /* a required field is absent */
	KPL_BAD_INDEX,       /* a key index outside its table */
	KPL_BAD_HASH_KEY,    /* an explicit hash key that is not a 128-bit decimal */
	KPL_LIMIT,           /* more records or table entries, or a longer key, than allowed */
};

struct kpl_error {
	enum kpl_reason reason;
	size_t offset;     /* byte offset in the input where the check failed */
	char message[128]; /* names the field and what was wrong, for the log */
};

/* The de-aggregator: limits, reusable arrays, the MD5 implementation. Callers read
 * records[0..n_records) (and the tables) after kpl_deaggregate returned KPL_AGGREGATED;
 * the rest is private. One per reader; not for concurrent use. */
struct kpl {
	struct kpl_limits lim;
	struct kpl_user_record *records;
	size_t n_records;
	struct kpl_key *pk_table, *ehk_table;
	size_t n_pk, n_ehk;
	/* private */
	size_t cap_records, cap_pk, cap_ehk;
	char *keys; /* kpl_terminate_keys' copies */
	size_t keys_cap;
	int keys_copied; /* the views already point into keys */
	void *md5;     /* EVP_MD *, fetched once */
	void *md5_ctx; /* EVP_MD_CTX *, reused */
};

/* lim NULL: kpl_limits_default. 0, or -1 with errno (ENOMEM, or EINVAL when OpenSSL has
 * no MD5, e.g. under a FIPS-only configuration). */
int kpl_init(struct kpl *k, const struct kpl_limits *lim);
void kpl_free(struct kpl *k);

#define KPL_AGGREGATED 1
#define KPL_NOT_AGGREGATED 0

/*
 * De-aggregates buf[0..len). Returns KPL_AGGREGATED with k->records[0..k->n_records) (which
 * may be empty: a valid aggregate of no user records, which KCL also delivers as nothing),
 * KPL_NOT_AGGREGATED with err->reason and err->message saying why (deliver the record raw),
 * or -1 with errno ENOMEM (or EIO when OpenSSL fails) and err->message set. The previous
 * result is invalid after the call either way.
 */
int kpl_deaggregate(struct kpl *k, const void *buf, size_t len, struct kpl_error *err);

/* A short stable name for a reason, for metric labels: "no_magic", "md5_mismatch", ... */
const char *kpl_reason_name(enum kpl_reason reason);

/*
 * Whether every user record of the last aggregate lies in range: its explicit hash key if
 * it has one, else the MD5 of its partition key read as a big-endian 128-bit integer (how
 * Kinesis maps partition keys to shards). Returns 1 when all do (also when there are none),
 * 0 with *first_outside the index of the first one that does not (KCL then drops the whole
 * aggregate: its records belong to another shard after a reshard), -1 with errno EIO when
 * OpenSSL fails. Each distinct partition key is hashed at most once per aggregate.
 */
int kpl_check_hash_range(struct kpl *k, const struct kpl_hash_range *range, size_t *first_outside);

/*
 * Copies the key tables of the last aggregate into storage owned by k, NUL-terminated,
 * and points every user record's partition_key and explicit_hash_key at the copies (the
 * handler ABI wants C strings). At most one allocation, of the total key bytes; calling it
 * again for the same aggregate does nothing. 0, or -1 with errno ENOMEM (the views are then
 * unchanged).
 */
int kpl_terminate_keys(struct kpl *k);

/* Parses s[0..len): 1 to 39 decimal digits (leading zeros allowed) of a value below 2^128.
 * 0, or -1 with errno EINVAL. */
int kpl_u128_parse(const char *s, size_t len, struct kpl_u128 *out);
/* <0, 0, >0 as a is below, equal to, above b. */
int kpl_u128_cmp(struct kpl_u128 a, struct kpl_u128 b);
/* A shard's StartingHashKey and EndingHashKey (NUL-terminated). 0, or -1 with errno EINVAL
 * when either is not a 128-bit decimal or start > end. */
int kpl_hash_range_parse(struct kpl_hash_range *range, const char *start, const char *end);
/* The hash key Kinesis derives from a partition key: MD5 as a big-endian integer. 0, or -1
 * with errno EIO when OpenSSL fails. */
int kpl_partition_key_hash(const void *pk, size_t len, struct kpl_u128 *out);

#endif
