/*
 * Strict base64 for record data. Decoding is the larger half of kls's per-record CPU
 * cost, so each character's value comes from a table that already holds it shifted to
 * its place in the 24-bit group: a quad costs four loads, three ORs and one test, and
 * an invalid character anywhere in the quad sets bit 24 so a single test catches it.
 * The tables are built by the preprocessor, so there is no start-up step and no
 * mutable global state. (Measured against OpenSSL's EVP_DecodeBlock, which also needs
 * a second pass for the checks it does not make: see tests/bench/scan_bench.c.)
 */
#include "config.h"

#include "common/base64.h"

#include <errno.h>
#include <stdint.h>

#define B64_BAD 0x1000000u

/* Value of character c in the standard alphabet, or 64 when it is not in it. */
#define B64V(c) \
	((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' \
	: (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 \
	: (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 \
	: (c) == '+' ? 62 : (c) == '/' ? 63 : 64)
#define B64S(c, sh) (B64V(c) == 64 ? B64_BAD : (uint32_t)B64V(c) << (sh))
#define B64R4(b, sh) B64S(b, sh), B64S((b) + 1, sh), B64S((b) + 2, sh), B64S((b) + 3, sh)
#define B64R16(b, sh) B64R4(b, sh), B64R4((b) + 4, sh), B64R4((b) + 8, sh), B64R4((b) + 12, sh)
#define B64R64(b, sh) \
	B64R16(b, sh), B64R16((b) + 16, sh), B64R16((b) + 32, sh), B64R16((b) + 48, sh)
#define B64TABLE(sh) { B64R64(0, sh), B64R64(64, sh), B64R64(128, sh), B64R64(192, sh) }

/* Value of a character placed as the first, second, third or fourth of a quad. */
static const uint32_t dec0[256] = B64TABLE(18);
static const uint32_t dec1[256] = B64TABLE(12);
static const uint32_t dec2[256] = B64TABLE(6);
static const uint32_t dec3[256] = B64TABLE(0);

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(char *out, const void *inv, size_t n)
{
	const unsigned char *in = inv;
	char *o = out;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = enc[x >> 18];
		*o++ = enc[(x >> 12) & 63];
		*o++ = enc[(x >> 6) & 63];
		*o++ = enc[x & 63];
	}
	if (n - i == 1) {
		uint32_t x = (uint32_t)in[i] << 16;
		*o++ = enc[x >> 18];
		*o++ = enc[(x >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*o++ = enc[x >> 18];
		*o++ = enc[(x >> 12) & 63];
		*o++ = enc[(x >> 6) & 63];
		*o++ = '=';
	}
	*o = '\0';
	return (size_t)(o - out);
}

/* Offset of the first of s[0..k) that is not in the alphabet, or k. */
static size_t
first_bad(const unsigned char *s, size_t k)
{
	size_t i;

	for (i = 0; i < k; i++)
		if (dec3[s[i]] & B64_BAD)
			break;
	return i;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/*
 * 32 characters at a time with AVX2, for the long Data of 1 KB records where the
 * table loop above costs ~5.7 instructions per character. Each character's high and
 * low nibbles index two 16-entry tables of bits; a character is in the alphabet exactly
 * when the two share no bit:
 *   high nibble 2 -> 0x01, 3 -> 0x02, 4 and 6 -> 0x04, 5 and 7 -> 0x08, others -> 0x10;
 *   low nibble  -> the bits of the high nibbles for which it is NOT in the alphabet
 *   (0x10 always): 0 -> ' ' '@' '`' out; 1-9 -> only row 2 out; A -> '*' ':' out;
 *   B -> ';' '[' '{' out ('+' in); C-E -> rows 2, 3, 5 and 7 out; F -> '?' '_' DEL out.
 * Values come from adding an offset chosen by the high nibble ('/' gets its own: its
 * nibble index is moved down by one): +19 for '+', +16 for '/', +4 for digits, -65 for
 * A-Z, -71 for a-z. Then four 6-bit values are packed into 3 bytes per 32-bit lane
 * with two multiply-adds, and the lanes' 12-byte halves joined into 24 bytes.
 * Returns the characters consumed, a multiple of 32, stopping before the first block
 * that holds anything else (the scalar loop then finds it and its exact offset).
 * Each store writes 32 bytes for 24 decoded, so it runs only while that stays inside
 * the room base64_decode's contract gives (and, decoding in place, behind what has
 * been read).
 */
__attribute__((target("avx2"))) static size_t
decode_avx2(unsigned char *o, const unsigned char *s, size_t n)
{
	const __m256i lut_lo = _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	    0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11,
	    0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
	const __m256i lut_hi = _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
	    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08,
	    0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
	const __m256i lut_add = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i nib = _mm256_set1_epi8(0x0f), slash = _mm256_set1_epi8('/');
	const __m256i pack6 = _mm256_set1_epi32(0x01400140), pack12 = _mm256_set1_epi32(0x00011000);
	const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
	    2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
	size_t done = 0;

	/* The store for characters [done, done + 32) ends 32 bytes past 3/4 of done: within
	 * base64_decoded_max(n) while 32 * 4/3 (43) characters are left from done. */
	while (n - done >= 43) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(s + done));
		__m256i hi = _mm256_and_si256(_mm256_srli_epi32(v, 4), nib);
		__m256i lo = _mm256_and_si256(v, nib);
		__m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo),
		    _mm256_shuffle_epi8(lut_hi, hi));
		__m256i add;

		if (!_mm256_testz_si256(bad, bad))
			break;
		add = _mm256_shuffle_epi8(lut_add,
		    _mm256_add_epi8(hi, _mm256_cmpeq_epi8(v, slash)));
		v = _mm256_add_epi8(v, add);
		v = _mm256_madd_epi16(_mm256_maddubs_epi16(v, pack6), pack12);
		v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, order), join);
		_mm256_storeu_si256((__m256i *)o, v);
		o += 24;
		done += 32;
	}
	return done;
}

/* The AVX2 loop when this CPU has AVX2 (libgcc's cpu model, read once per call). */
static size_t
decode_wide(unsigned char *o, const unsigned char *s, size_t n)
{
	return __builtin_cpu_supports("avx2") ? decode_avx2(o, s, n) : 0;
}
#else
static size_t
decode_wide(unsigned char *o, const unsigned char *s, size_t n)
{
	(void)o, (void)s, (void)n;
	return 0;
}
#endif

/*
 * Decodes whole quads of alphabet characters from s into o, at most `quads` of them,
 * stopping before the first quad with anything else in it; returns the quads decoded.
 * o needs room for quads * 3 bytes (the wide loop's stores stay within that).
 */
static size_t
decode_quads(unsigned char *o, const unsigned char *s, size_t quads)
{
	/* Long runs go 32 characters at a time first; the quads after them, and a block
	 * with a bad character in it, take the loops below. */
	size_t wide = decode_wide(o, s, quads * 4), q;
	uint32_t x;

	s += wide;
	o += wide / 4 * 3;
	/* Two quads per turn: their loads are independent, so they overlap in the CPU. */
	for (q = wide / 4; q + 2 <= quads; q += 2, s += 8, o += 6) {
		uint32_t y;
		x = dec0[s[0]] | dec1[s[1]] | dec2[s[2]] | dec3[s[3]];
		y = dec0[s[4]] | dec1[s[5]] | dec2[s[6]] | dec3[s[7]];
		if ((x | y) & B64_BAD)
			break;
		o[0] = (unsigned char)(x >> 16);
		o[1] = (unsigned char)(x >> 8);
		o[2] = (unsigned char)x;
		o[3] = (unsigned char)(y >> 16);
		o[4] = (unsigned char)(y >> 8);
		o[5] = (unsigned char)y;
	}
	for (; q < quads; q++, s += 4, o += 3) {
		x = dec0[s[0]] | dec1[s[1]] | dec2[s[2]] | dec3[s[3]];
		if (x & B64_BAD)
			break;
		o[0] = (unsigned char)(x >> 16);
		o[1] = (unsigned char)(x >> 8);
		o[2] = (unsigned char)x;
	}
	return q;
}

/*
 * A padded last quad s[0..4) (s[3] is '='): writes its one byte (s[2] also '=') or two
 * to o and returns how many, or -1 with *bad the offset in s of the character at fault.
 * The bits a padded quad leaves over must be zero, so each text has one decoding.
 */
static int
decode_padded(unsigned char *o, const unsigned char *s, size_t *bad)
{
	uint32_t x = dec0[s[0]] | dec1[s[1]];

	if (x & B64_BAD) {
		*bad = first_bad(s, 2);
		return -1;
	}
	if (s[2] == '=') {
		/* One byte: the 4 low bits of the second character must be zero. */
		if (x & (15u << 12)) {
			*bad = 1;
			return -1;
		}
		o[0] = (unsigned char)(x >> 16);
		return 1;
	}
	/* Two bytes: the third character is in the alphabet and its 2 low bits are zero
	 * (dec0 and dec1 hold none of the bits tested here). */
	x |= dec2[s[2]];
	if (x & (B64_BAD | 3u << 6)) {
		*bad = 2;
		return -1;
	}
	o[0] = (unsigned char)(x >> 16);
	o[1] = (unsigned char)(x >> 8);
	return 2;
}

int
base64_decode(void *outv, const char *in, size_t n, size_t *out_len, size_t *bad_off)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *o = outv;
	size_t quads = n / 4, fast, q, at;
	uint32_t x;

	/* Every quad but a padded last one goes through the loop without a branch per
	 * character; the last quad of a well-sized text is checked for padding below. */
	fast = n % 4 == 0 && quads > 0 ? quads - 1 : quads;
	q = decode_quads(o, s, fast);
	if (q < fast) {
		at = q * 4 + first_bad(s + q * 4, 4);
		goto fail;
	}
	s += fast * 4;
	o += fast * 3;
	if (n % 4) {
		/* A character outside the alphabet in the tail says more than "wrong length"
		 * does; '=' there only means the text was cut short. */
		for (at = 0; at < n % 4; at++)
			if (s[at] != '=' && (dec3[s[at]] & B64_BAD))
				break;
		at += fast * 4;
		goto fail;
	}
	if (quads > 0 && s[3] == '=') {
		int k = decode_padded(o, s, &at);

		if (k < 0) {
			at += fast * 4;
			goto fail;
		}
		o += k;
	} else if (quads > 0) {
		x = dec0[s[0]] | dec1[s[1]] | dec2[s[2]] | dec3[s[3]];
		if (x & B64_BAD) {
			at = fast * 4 + first_bad(s, 4);
			goto fail;
		}
		*o++ = (unsigned char)(x >> 16);
		*o++ = (unsigned char)(x >> 8);
		*o++ = (unsigned char)x;
	}
	*out_len = (size_t)(o - (unsigned char *)outv);
	return 0;
fail:
	*bad_off = at;
	errno = EINVAL;
	return -1;
}

int
base64_decode_to(void *outv, const char *in, size_t avail, char term, size_t *n, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *o = outv, t = (unsigned char)term;
	size_t q = decode_quads(o, s, avail / 4), rem = avail - q * 4, bad;
	int k;

	s += q * 4;
	o += q * 3;
	*n = q * 4;
	*out_len = q * 3;
	/* decode_quads stopped before a quad that is not four alphabet characters, or with
	 * fewer than four left: the end, or a padded last quad and then the end. */
	if (rem >= 1 && s[0] == t)
		return 0;
	if (rem >= 5 && s[3] == '=' && s[4] == t && (k = decode_padded(o, s, &bad)) > 0) {
		*n += 4;
		*out_len += (size_t)k;
		return 0;
	}
	errno = EINVAL;
	return -1;
}
