/* Tests of common/base64: RFC 4648 vectors, strictness, agreement with OpenSSL, in place,
 * and the one-pass decode to a closing quote. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "tests/harness.h"

/* RFC 4648 section 10. */
static const struct {
	const char *plain, *coded;
} rfc_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* Decodes text[0..n) into an exact-size heap buffer, so ASan sees any overrun. */
static int
decode(const char *text, size_t n, unsigned char **out, size_t *len, size_t *bad)
{
	*out = malloc(base64_decoded_max(n) + 1);
	return base64_decode(*out, text, n, len, bad);
}

static void
test_base64_rfc4648_vectors(void)
{
	for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		const char *plain = rfc_vectors[i].plain, *coded = rfc_vectors[i].coded;
		char enc[16];
		unsigned char *dec;
		size_t len = 99, bad;

		CU_ASSERT_EQUAL(base64_encode(enc, plain, strlen(plain)), strlen(coded));
		CU_ASSERT_STRING_EQUAL(enc, coded);
		CU_ASSERT_EQUAL(base64_encoded_len(strlen(plain)), strlen(coded));
		CU_ASSERT_EQUAL(decode(coded, strlen(coded), &dec, &len, &bad), 0);
		CU_ASSERT_EQUAL(len, strlen(plain));
		CU_ASSERT_EQUAL(memcmp(dec, plain, len), 0);
		free(dec);
	}
}

static void
test_base64_rejects_malformed(void)
{
	static const struct {
		const char *text;
		size_t n;   /* 0: strlen */
		size_t bad; /* offset of the first offending character */
	} cases[] = {
		{ "Zg=", 0, 3 },            /* not a multiple of 4 */
		{ "Zm9vY", 0, 5 },
		{ "Z===", 0, 1 },           /* padding too long */
		{ "====", 0, 0 },
		{ "Zg=a", 0, 2 },           /* padding before data */
		{ "Zg==Zg==", 0, 2 },       /* padding in the middle */
		{ "Zm9v====", 0, 4 },
		{ "Zh==", 0, 1 },           /* non-zero pad bits (one byte) */
		{ "Zm9=", 0, 2 },           /* non-zero pad bits (two bytes) */
		{ "Zm9v\n", 0, 4 },         /* no whitespace, anywhere */
		{ "Zm 9v", 0, 2 },
		{ " Zm9v", 0, 0 },
		{ "Zm9v\r\nZm9v", 0, 4 },
		{ "-_-_", 0, 0 },           /* the URL alphabet is another encoding */
		{ "Zm9vYmF\xff", 0, 7 },
		{ "Zm\0v", 4, 2 },          /* NUL inside */
		{ "Zm9vYmFyZm9vYmF!", 0, 15 }, /* in the unrolled loop's second quad */
		{ "Zm9v!m9vZm9vZm9v", 0, 4 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].text), len, bad = 999;
		unsigned char *dec;

		errno = 0;
		CU_ASSERT_EQUAL(decode(cases[i].text, n, &dec, &len, &bad), -1);
		CU_ASSERT_EQUAL(errno, EINVAL);
		if (bad != cases[i].bad)
			fprintf(stderr, "case %zu (%s): bad offset %zu, want %zu\n", i, cases[i].text,
			    bad, cases[i].bad);
		CU_ASSERT_EQUAL(bad, cases[i].bad);
		free(dec);
	}
}

/* Every byte value in every position of a quad: valid exactly when in the alphabet. */
static void
test_base64_alphabet_exhaustive(void)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int wrong = 0;

	for (int c = 0; c < 256; c++) {
		const char *pos = c ? strchr(alphabet, c) : NULL;
		int valid = pos != NULL;
		for (int at = 0; at < 8; at++) {
			char text[8];
			unsigned char out[6];
			size_t len, bad;
			memcpy(text, "QUJDREVG", 8); /* "ABCDEF" */
			text[at] = (char)c;
			int rc = base64_decode(out, text, 8, &len, &bad);
			/* "REV=" is refused at the 'V', whose pad bits are not zero. */
			size_t want = c == '=' && at == 7 ? 6 : (size_t)at;
			if ((rc == 0) != valid || (rc < 0 && bad != want))
				wrong++;
		}
		/* Last data character before '=': also its pad bits must be zero. */
		char t2[4] = { 'Q', 'U', (char)c, '=' };
		unsigned char o2[3];
		size_t l2, b2;
		int ok2 = valid && ((pos - alphabet) & 3) == 0;
		if ((base64_decode(o2, t2, 4, &l2, &b2) == 0) != ok2)
			wrong++;
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

/* The same in long texts, where the decoder works 32 characters at a time: every byte
 * value at every offset of a 160-character text (five blocks), valid exactly when in
 * the alphabet, refused at exactly its offset otherwise, the rest decoded as before. */
static void
test_base64_alphabet_in_long_text(void)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char plain[120], *dec, want[120];
	char text[161], mut[161];
	size_t len, bad;
	int wrong = 0;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)(i * 37 + 11);
	CU_ASSERT_EQUAL_FATAL(base64_encode(text, plain, sizeof(plain)), 160);
	for (size_t at = 0; at < 160; at++) {
		for (int c = 0; c < 256; c++) {
			const char *pos = c ? strchr(alphabet, c) : NULL;
			int rc;

			memcpy(mut, text, sizeof(mut));
			mut[at] = (char)c;
			rc = decode(mut, 160, &dec, &len, &bad);
			if (pos) {
				/* Valid: the bytes are those of the changed text. */
				unsigned char *ref = malloc(120);
				size_t rlen = 0, rbad;
				char quad[4];
				memcpy(want, plain, sizeof(want));
				memcpy(quad, mut + at / 4 * 4, 4);
				if (base64_decode(ref, quad, 4, &rlen, &rbad) == 0 && rlen == 3)
					memcpy(want + at / 4 * 3, ref, 3);
				if (rc != 0 || len != 120 || memcmp(dec, want, 120) != 0)
					wrong++;
				free(ref);
			} else if (c == '=' && at >= 156) {
				/* Padding in the last quad: the tail's own rules (tested above). */
			} else if (rc != -1 || bad != at) {
				if (wrong < 3)
					fprintf(stderr, "byte 0x%02x at %zu: rc %d, bad %zu\n", c, at, rc, bad);
				wrong++;
			}
			free(dec);
		}
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

/* Random bytes of every length 0..600: our encoding equals OpenSSL's, decoding it gives
 * the bytes back, both into a fresh buffer and in place, and OpenSSL agrees. */
static void
test_base64_roundtrip_matches_openssl(void)
{
	unsigned seed = 7;
	int wrong = 0;

	for (size_t n = 0; n <= 600; n++) {
		unsigned char *in = malloc(n + 1), *dec, *ossl = malloc(n + 3);
		char *enc = malloc(base64_encoded_len(n) + 1), *ossl_enc = malloc(base64_encoded_len(n) + 1);
		size_t elen, dlen, bad;

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = (unsigned char)(seed >> 16);
		}
		elen = base64_encode(enc, in, n);
		EVP_EncodeBlock((unsigned char *)ossl_enc, in, (int)n);
		if (elen != base64_encoded_len(n) || strcmp(enc, ossl_enc) != 0)
			wrong++;
		if (decode(enc, elen, &dec, &dlen, &bad) != 0 || dlen != n || memcmp(dec, in, n) != 0)
			wrong++;
		/* OpenSSL counts padding as zero bytes: its length is ours rounded up to 3. */
		if (EVP_DecodeBlock(ossl, (unsigned char *)enc, (int)elen) != (int)base64_decoded_max(elen) ||
		    memcmp(ossl, in, n) != 0)
			wrong++;
		/* In place: the decoder never writes ahead of what it has read. */
		if (base64_decode(enc, enc, elen, &dlen, &bad) != 0 || dlen != n || memcmp(enc, in, n) != 0)
			wrong++;
		free(in);
		free(dec);
		free(ossl);
		free(enc);
		free(ossl_enc);
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

/*
 * base64_decode_to against base64_decode on the text up to the first quote, which is
 * what the scanner used to do with a separate search: same verdict, same bytes, and on
 * an error the text after the decoded quads untouched (also in place) and giving the
 * same offset. The input is an exact-size heap copy without a NUL and the output
 * exactly base64_decoded_max(avail), so ASan sees any read or write past either.
 * Returns the number of disagreements.
 */
static int
check_decode_to(const char *text, size_t avail, bool show)
{
	const char *qp = memchr(text, '"', avail);
	size_t k = qp ? (size_t)(qp - text) : 0, n = 99, len = 99, rn = 99, rlen, rbad = 0;
	size_t room = base64_decoded_max(avail) ? base64_decoded_max(avail) : 1;
	char *in = malloc(avail ? avail : 1), *mine = malloc(avail ? avail : 1);
	unsigned char *out = malloc(room), *ref = malloc(room);
	int rc, rrc = -1, rc2, wrong = 0;

	memcpy(in, text, avail);
	memcpy(mine, text, avail);
	if (qp)
		rrc = base64_decode(ref, text, k, &rlen, &rbad);
	errno = 0;
	rc = base64_decode_to(out, in, avail, '"', &n, &len);
	if (rc != rrc)
		wrong++;
	else if (rc == 0 && (n != k || len != rlen || memcmp(out, ref, len) != 0))
		wrong++;
	else if (rc < 0) {
		size_t plen, pbad = 0, sbad = 0;
		unsigned char *pre = malloc(base64_decoded_max(n) + 1);
		if (errno != EINVAL || n % 4 != 0 || n > (qp ? k : avail) || len != n / 4 * 3)
			wrong++;
		/* The quads before n are valid and decoded as such. */
		else if (base64_decode(pre, text, n, &plen, &pbad) != 0 || plen != len ||
		         memcmp(pre, out, len) != 0)
			wrong++;
		/* What is after them gives the verdict on the whole, offsets less n. */
		else if (qp && (base64_decode(pre, text + n, k - n, &plen, &sbad) == 0 ||
		                   sbad + n != rbad))
			wrong++;
		free(pre);
	}
	/* In place: the same result, and the text from n on as it was. */
	rc2 = base64_decode_to(mine, mine, avail, '"', &rn, &rlen);
	if (rc2 != rc || rn != n || rlen != len || memcmp(mine, out, len) != 0 ||
	    (rc < 0 && memcmp(mine + n, text + n, avail - n) != 0))
		wrong++;
	if (wrong && show)
		fprintf(stderr,
		    "\ndecode_to(%.*s): rc %d n %zu len %zu; reference rc %d k %zu bad %zu\n",
		    (int)avail, text, rc, n, len, rrc, k, rbad);
	free(in);
	free(mine);
	free(out);
	free(ref);
	return wrong;
}

/*
 * Valid texts of every length up to 100 bytes (so the quote falls at every offset mod
 * 32 that a valid text allows, and the 32-character blocks run), then the same with one
 * character changed at every position to a quote (so it ends at every offset), a
 * backslash (an escape: refused here, the scanner unescapes), padding, a character
 * outside the alphabet, a NUL, one in it; and cut short with no quote at all.
 */
static void
test_base64_decode_to_finds_the_end(void)
{
	static const char subst[] = { '"', '\\', '=', '!', '\0', 'A', ' ', (char)0xff };
	unsigned char plain[100];
	char text[200];
	int wrong = 0, shown = 0;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)(i * 101 + 7);
	for (size_t n = 0; n <= sizeof(plain); n++) {
		size_t elen = base64_encode(text, plain, n), tail;

		/* What follows the quote in a body: more JSON, which the decoder must not
		 * read as its own (it has quotes and base64 characters in it). */
		tail = (size_t)snprintf(text + elen, sizeof(text) - elen,
		    "\",\"PartitionKey\":\"k\"}");
		wrong += check_decode_to(text, elen + tail, shown < 3);
		shown += wrong > shown;
		for (size_t at = 0; at <= elen; at++) {
			/* No closing quote within the buffer: the body ends inside the string. */
			wrong += check_decode_to(text, at, shown < 3);
			shown += wrong > shown;
			for (size_t c = 0; c < sizeof(subst) && at < elen; c++) {
				char mut[200];
				memcpy(mut, text, elen + tail);
				mut[at] = subst[c];
				wrong += check_decode_to(mut, elen + tail, shown < 3);
				shown += wrong > shown;
			}
		}
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

/* The one-pass decode takes exactly the canonical texts: a few by name. */
static void
test_base64_decode_to_cases(void)
{
	static const struct {
		const char *text;
		int rc;
		size_t n, len; /* characters and bytes decoded */
	} cases[] = {
		{ "\"", 0, 0, 0 },
		{ "Zg==\"", 0, 4, 1 },
		{ "Zm8=\"", 0, 4, 2 },
		{ "Zm9v\"", 0, 4, 3 },
		{ "Zm9vZg==\"x", 0, 8, 4 },
		{ "Zm9v", -1, 4, 3 },       /* no quote */
		{ "Zg==", -1, 0, 0 },       /* padded, then no quote */
		{ "Zg==Zg==\"", -1, 0, 0 }, /* padding in the middle */
		{ "Zh==\"", -1, 0, 0 },     /* non-zero pad bits */
		{ "Zm9=\"", -1, 0, 0 },
		{ "Zm9v\\/w==\"", -1, 4, 3 }, /* an escape stops it after the quads before */
		{ "Zm9vY\"", -1, 4, 3 },      /* length */
		{ "Zm9v===\"", -1, 4, 3 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char out[16];
		size_t n = 99, len = 99;
		int rc = base64_decode_to(out, cases[i].text, strlen(cases[i].text), '"', &n, &len);

		if (rc != cases[i].rc || n != cases[i].n || len != cases[i].len)
			fprintf(stderr, "\ncase %zu (%s): rc %d n %zu len %zu\n", i, cases[i].text,
			    rc, n, len);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		CU_ASSERT_EQUAL(n, cases[i].n);
		CU_ASSERT_EQUAL(len, cases[i].len);
	}
}

static CU_TestInfo base64_tests[] = {
	{ "RFC 4648 vectors", test_base64_rfc4648_vectors },
	{ "rejects malformed text at the right offset", test_base64_rejects_malformed },
	{ "alphabet, exhaustively", test_base64_alphabet_exhaustive },
	{ "alphabet in long texts", test_base64_alphabet_in_long_text },
	{ "round trip matches OpenSSL", test_base64_roundtrip_matches_openssl },
	{ "one-pass decode finds the end, or where and why not",
	    test_base64_decode_to_finds_the_end },
	{ "one-pass decode, by name", test_base64_decode_to_cases },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "base64", NULL, NULL, NULL, NULL, base64_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
