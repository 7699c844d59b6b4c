/*
 * The record payload kls-produce puts and kls-fixture serves: "seq=<n> " followed by
 * letters up to the record size, so a consumer's output (the filelog example, a test)
 * can be checked for every record by its number.
 */
#ifndef KLS_TOOLS_PAYLOAD_H
#define KLS_TOOLS_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* Longest "seq=<n> " prefix, without a NUL. */
#define PAYLOAD_PREFIX_MAX 25

/* Writes record n's payload of size bytes to out (room for max(size,
 * PAYLOAD_PREFIX_MAX + 1) bytes; no NUL is counted) and returns its length: size, or
 * the prefix's length when size is smaller than the prefix. */
size_t payload_fill(char *out, size_t size, uint64_t n);

/* The n of a payload that starts "seq=<n> ", or -1 when it does not. */
int payload_seq(const void *data, size_t len, uint64_t *n);

#endif
