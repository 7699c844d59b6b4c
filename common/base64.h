/*
 * Strict base64 (RFC 4648 section 4: standard alphabet, '=' padding) for record data.
 * The decoder is on the GetRecords hot path, so it is table driven and does one pass;
 * it accepts only canonical text (length a multiple of 4, padding only at the end,
 * zero pad bits, no whitespace), so decode(encode(x)) == x and encode(decode(t)) == t.
 * base64_decode_to also finds where the text ends, so a scanner reads it only once.
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

/*
 * Decodes base64 that ends at the first `term` character (a JSON string's closing
 * quote; term must be neither '=' nor in the alphabet) in one pass, without finding the
 * end first. Reads at most in[0..avail); out needs room for base64_decoded_max(avail)
 * bytes and may be in itself or any place before it.
 *
 * Returns 0 when in[*n] is term and in[0..*n) is canonical base64, decoded to out
 * (*out_len bytes). Otherwise -1 with errno EINVAL: no term within avail, or a
 * character other than term stops the text, or the padding is wrong. Then *n is the
 * length of the whole unpadded quads that were decoded to out (*out_len bytes) and
 * in[*n..avail) is untouched (also when decoding in place), so the caller can look
 * there for the reason: base64_decode of the text from *n to the real end gives the
 * same verdict as for the whole text, offsets less *n.
 */
int base64_decode_to(void *out, const char *in, size_t avail, char term, size_t *n,
    size_t *out_len);

#endif
