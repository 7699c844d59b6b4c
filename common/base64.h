/*
 * Strict base64 (RFC 4648 section 4: standard alphabet, '=' padding) for record data.
 * The decoder is on the GetRecords hot path, so it is table driven and does one pass;
 * it accepts only canonical text (length a multiple of 4, padding only at the end,
 * zero pad bits, no whitespace), so decode(encode(x)) == x and encode(decode(t)) == t.
 */
#ifndef KLS_BASE64_H
#define KLS_BASE64_H

#include <stddef.h>

/* Characters base64_encode writes for n bytes, without the NUL. */
static inline size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Largest decoded size of n characters of base64 (padding not yet known). */
static inline size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

/* Writes base64_encoded_len(n) characters and a NUL to out; returns the characters written. */
size_t base64_encode(char *out, const void *in, size_t n);

/*
 * Decodes exactly n characters of in (no NUL needed) into out, which must have room
 * for base64_decoded_max(n) bytes; in and out may be the same buffer (decoding never
 * writes ahead of what it has read). Returns 0 with *out_len set to the exact decoded
 * length, or -1 with errno EINVAL and *bad_off set to the offset of the first character
 * that makes the text invalid (n itself when the length is not a multiple of 4).
 */
int base64_decode(void *out, const char *in, size_t n, size_t *out_len, size_t *bad_off);

#endif
