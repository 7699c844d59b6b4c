/*
 * KPL de-aggregation in kls-reader: one GetRecords response becomes the batch the
 * handler sees. Every Kinesis record goes through kpl_deaggregate (common/kpl.h):
 *
 *   - an aggregate becomes its n user records, sub-sequence numbers 0..n-1, each with
 *     the aggregate's sequence number and arrival time, its own data, partition key and
 *     explicit hash key (NUL-terminated copies), and KLS_RECORD_AGGREGATED;
 *   - a record that is not an aggregate, or claims to be one (KPL magic) and fails a
 *     check, is delivered raw: one record, sub-sequence 0. The failures are counted by
 *     reason in the progress group and logged once per reason per batch;
 *   - an aggregate with any user record outside the shard's hash-key range (the lease
 *     group's hash_start/hash_end) is dropped whole, as KCL does: after a reshard its
 *     records belong to a child shard, whose reader delivers them. Counted and logged
 *     once per batch. Without a range in the lease group nothing is dropped.
 *
 * Memory: user records' data points into the response arena (the aggregate's bytes);
 * keys are copied, per aggregate table entry (not per record), into one buffer that
 * is sized once per batch so the pointers into it never move. Each copy of an entry
 * needs its length plus a NUL, and the entry took at least its length plus a tag and
 * a length byte in the aggregate, so a batch's copies never exceed the bytes of its
 * aggregated records: the buffer is bounded by the response size.
 */
#ifndef KLS_READER_DEAGG_H
#define KLS_READER_DEAGG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/getrecords.h"
#include "common/kpl.h"
#include "kls/handler.h"
#include "shm/table.h"

struct deagg {
	struct kpl kpl;
	struct kpl_hash_range range;
	bool have_range;
	/* The batch's key copies (see above). */
	char *keys;
	size_t keys_len, keys_cap;
	/* One aggregate's table entries as copied: partition keys, then hash keys. */
	const char **tab;
	size_t tab_cap;
};

/*
 * Sets up the de-aggregator for a shard whose lease group says hash_start/hash_end
 * ("" for unknown: no range check). 0; -1 with errno ENOMEM or EINVAL (OpenSSL has no
 * MD5). An unparsable range is logged and treated as unknown: delivering a record
 * twice (once here, once by a child shard's reader) is better than losing one.
 */
int deagg_init(struct deagg *d, const char *shard_id, const char *hash_start, const char *hash_end);
void deagg_free(struct deagg *d);

/*
 * Fills (*recs)[0..*n) (grown as needed, *cap its size) with the batch for res, adding
 * to prog's kpl_* totals. The records point into res's arena and into d until the
 * next call. 0; -1 with errno ENOMEM (or EIO when OpenSSL fails), logged.
 */
int deagg_batch(struct deagg *d, const char *shard_id, const struct getrecords_result *res,
    struct kls_record **recs, size_t *cap, size_t *n, struct kls_progress *prog);

#endif
