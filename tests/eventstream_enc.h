/*
 * A test-only encoder for AWS event stream messages, so tests can build any message
 * (every header type, chosen lengths, broken CRCs) instead of hand-writing bytes.
 */
#ifndef KLS_TEST_EVENTSTREAM_ENC_H
#define KLS_TEST_EVENTSTREAM_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct enc_header {
	const char *name;  /* NUL-terminated unless name_len is set */
	size_t name_len;   /* 0: strlen(name) */
	int type;          /* 0-9, or anything else to write a bad type byte */
	int64_t num;       /* types 2-5 and 8 */
	const void *bytes; /* types 6, 7 (NULL: strlen of a string is taken from str) */
	size_t len;        /* types 6, 7: length written in the u16 field */
	const char *str;   /* types 7 and 6 when bytes is NULL: value and length */
	const unsigned char *uuid; /* type 9: 16 bytes */
};

/* Appends the header block for h[0..n) to out. */
void enc_headers(struct kls_buf *out, const struct enc_header *h, size_t n);

/* Appends one message (headers block hb, payload) with correct lengths and CRCs. */
void enc_message_raw(struct kls_buf *out, const void *hb, size_t hlen, const void *payload,
    size_t plen);

/* Appends one message of headers h[0..n) and payload p (plen bytes). */
void enc_message(struct kls_buf *out, const struct enc_header *h, size_t n, const void *p,
    size_t plen);

/* Appends a message of string headers given as name, value pairs (NULL-terminated
 * list) and a text payload. */
void enc_strings(struct kls_buf *out, const char *payload, ...);

/* Appends a 12-byte prelude with the given lengths and a correct prelude CRC. */
void enc_prelude(struct kls_buf *out, uint32_t total, uint32_t hlen);

/* Recomputes both CRCs of the message at m (total length read from its first 4 bytes,
 * which must lie within n bytes); used to push mutations past the CRC checks. */
void enc_fix_crcs(unsigned char *m, size_t n);

void enc_be32(unsigned char *p, uint32_t v);

struct eventstream_message;

/* Appends the encoding of a decoded message (its headers and payload): a decoder that
 * accepted bytes must give back a message that encodes to those very bytes. -1 when it
 * has more headers than this encoder takes (128). */
int enc_reencode(struct kls_buf *out, const struct eventstream_message *m);

#endif
