/*
 * KPL aggregation, the producer side: builds aggregated records in the format kpl.h
 * decodes, for the test producer, end-to-end tests and tools. Also exposes the protobuf
 * wire primitives it is made of, so tests can craft malformed aggregates without a second
 * encoder. Nothing here validates content (an explicit hash key is written as given):
 * producing invalid aggregates on purpose is part of its job.
 */
#ifndef KLS_KPL_ENCODE_H
#define KLS_KPL_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* One user record to aggregate. */
struct kpl_entry {
	const void *data;
	size_t data_len;
	const char *partition_key; /* required */
	size_t partition_key_len;
	const char *explicit_hash_key; /* NULL: none */
	size_t explicit_hash_key_len;
};

/*
 * Appends to out one aggregated record holding e[0..n) in order: magic, AggregatedRecord
 * (partition key table, explicit hash key table, records; equal keys share one table
 * entry), MD5. 0, or -1 with errno ENOMEM, EMSGSIZE (past out's limit) or EINVAL (a NULL
 * partition key); out then holds what it held before.
 */
int kpl_encode(struct kls_buf *out, const struct kpl_entry *e, size_t n);

/* Appends the magic, proto[0..len) and the MD5 of proto: an aggregate around any bytes. */
int kpl_frame(struct kls_buf *out, const void *proto, size_t len);

/* Protobuf wire format. Each returns 0, or -1 with errno from buf_append. */
size_t kpl_varint_len(uint64_t v);
int kpl_put_varint(struct kls_buf *b, uint64_t v);
int kpl_put_key(struct kls_buf *b, uint32_t field, unsigned wire_type);
int kpl_put_uint(struct kls_buf *b, uint32_t field, uint64_t v);         /* wire type 0 */
int kpl_put_bytes(struct kls_buf *b, uint32_t field, const void *p, size_t n); /* 2 */

#endif
