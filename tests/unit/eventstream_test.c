/*
 * Tests of common/eventstream, the incremental AWS event stream decoder: every public
 * vector in testdata/eventstream (positive ones decode exactly to their JSON, negative
 * ones are refused for the stated reason), the same bytes in every chunking, several
 * messages in one stream, every truncation, the bounds on lengths and headers, every
 * header type at its edges, and 20,000 seeded mutations (under ASan) whose accepted
 * messages must re-encode to the very bytes they were decoded from.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/eventstream.h"
#include "common/retry.h"
#include "tests/eventstream_enc.h"
#include "tests/harness.h"

/* The vectors README.md lists; the test fails if any is missing. */
#define N_POSITIVE 5
#define N_NEGATIVE 4

/* ---- helpers ---- */

/* The same cases on every run: retry's seedable generator, from fixed seeds. */
static struct retry_rng rng_state;

static void
rng_seed(uint64_t s)
{
	retry_rng_seed(&rng_state, s);
}

static uint64_t
rng(void)
{
	return retry_rng_next(&rng_state);
}

static size_t
rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) && fread(p, 1, (size_t)n, f) == (size_t)n) {
		p[n] = '\0';
		*len = (size_t)n;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Sorted names of the files in testdata/eventstream/<sub>; returns the count. */
static size_t
list_vectors(const char *sub, char names[][64], size_t max)
{
	char path[512];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/eventstream/%s", test_data_dir(), sub);
	if (!(d = opendir(path))) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.' && strlen(e->d_name) < 64)
			memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
	closedir(d);
	qsort(names, n, 64, cmp_names);
	return n;
}

static unsigned char *
read_vector(const char *sub, const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/eventstream/%s/%s", test_data_dir(), sub, name);
	return read_file(path, len);
}

static void
put_hex(struct kls_buf *b, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%02x", c[i]);
}

/* Everything a message says, as text: two decodes agree when their texts do. */
static void
describe(struct kls_buf *b, const struct eventstream_message *m)
{
	buf_printf(b, "@%llu total=%u hlen=%u pcrc=%08x mcrc=%08x n=%zu\n",
	    (unsigned long long)m->offset, m->total_len, m->headers_len, m->prelude_crc,
	    m->message_crc, m->n_headers);
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct eventstream_header *h = &m->headers[i];
		put_hex(b, h->name, h->name_len);
		buf_printf(b, " t=%d num=%lld bytes=", (int)h->type, (long long)h->num);
		if (h->bytes)
			put_hex(b, h->bytes, h->bytes_len);
		else
			buf_puts(b, "-");
		buf_puts(b, "\n");
	}
	buf_puts(b, "payload=");
	put_hex(b, m->payload, m->payload_len);
	buf_puts(b, "\n");
}

/* What the promises of a returned message are; false (with a note) when one is broken. */
static bool
message_sane(const struct eventstream_message *m, const struct eventstream_limits *lim)
{
	if (m->total_len < 16 || m->total_len > lim->max_message ||
	    (size_t)m->headers_len + m->payload_len + 16 != m->total_len ||
	    m->n_headers > lim->max_headers || m->payload[m->payload_len] != '\0')
		return false;
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct eventstream_header *h = &m->headers[i];
		if (h->name_len < 1 || h->name_len > 255 || h->name[h->name_len] != '\0' ||
		    (int)h->type < 0 || h->type > EVENTSTREAM_UUID)
			return false;
		if ((h->type == EVENTSTREAM_BYTES || h->type == EVENTSTREAM_STRING ||
			h->type == EVENTSTREAM_UUID) &&
		    (!h->bytes || h->bytes[h->bytes_len] != '\0'))
			return false;
		if (h->type == EVENTSTREAM_UUID ? h->bytes_len != EVENTSTREAM_UUID_LEN :
		    h->bytes && h->bytes_len > lim->max_value_len)
			return false;
	}
	return true;
}

enum chunking { WHOLE, BYTES, RANDOM };

struct run {
	struct kls_buf text; /* describe() of each message, in order */
	size_t n_msgs;
	int rc;              /* of the call that failed, or of eventstream_finish */
	struct eventstream_error err;
	bool insane;         /* a message broke message_sane() */
	bool bad_after_fail; /* a call after a failure did not fail the same way */
};

/*
 * Feeds data[0..len) to a fresh decoder in chunks, each copied into its own exact-size
 * heap block (so ASan sees any read past a chunk) and freed once its bytes are
 * consumed, then ends the stream. Stops at the first failure.
 */
static void
run_stream(const unsigned char *data, size_t len, enum chunking how,
    const struct eventstream_limits *lim, struct run *r)
{
	struct eventstream_decoder d;
	struct eventstream_limits deflim;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->text, 0);
	if (!lim) {
		eventstream_limits_default(&deflim);
		lim = &deflim;
	}
	CU_ASSERT_FATAL(eventstream_init(&d, lim) == 0);
	while (pos < len) {
		size_t n = how == WHOLE ? len - pos : how == BYTES ? 1 : 1 + rng_below(40);
		unsigned char *chunk;
		const unsigned char *p;
		struct eventstream_message m;
		int rc;

		if (how == RANDOM && rng_below(8) == 0)
			n = 1 + rng_below(len - pos); /* now and then a long one */
		if (n > len - pos)
			n = len - pos;
		chunk = malloc(n);
		memcpy(chunk, data + pos, n);
		p = chunk;
		while ((rc = eventstream_next(&d, &p, &n, &m)) == 1) {
			r->n_msgs++;
			if (!message_sane(&m, lim))
				r->insane = true;
			describe(&r->text, &m);
		}
		pos = (size_t)(p - chunk) + pos;
		free(chunk);
		if (rc < 0) {
			const unsigned char *q = data;
			size_t left = 1;
			r->rc = -1;
			r->err = *eventstream_error(&d);
			/* Failed for good: nothing consumed, same error, finish fails too. */
			if (eventstream_next(&d, &q, &left, &m) != -1 || left != 1 ||
			    eventstream_finish(&d) != -1 ||
			    eventstream_error(&d)->kind != r->err.kind)
				r->bad_after_fail = true;
			eventstream_free(&d);
			return;
		}
		CU_ASSERT(n == 0);
	}
	r->rc = eventstream_finish(&d);
	r->err = *eventstream_error(&d);
	eventstream_free(&d);
}

static void
run_free(struct run *r)
{
	buf_free(&r->text);
}

/* ---- CRC ---- */

/* The bit-by-bit definition, as the oracle for the table. */
static uint32_t
crc_bitwise(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static void
test_eventstream_crc32(void)
{
	unsigned char buf[1024];

	CU_ASSERT_EQUAL(eventstream_crc32(0, "123456789", 9), 0xcbf43926u);
	CU_ASSERT_EQUAL(eventstream_crc32(0, "", 0), 0);
	/* Every table entry: each single byte value. */
	for (int c = 0; c < 256; c++) {
		unsigned char b = (unsigned char)c;
		CU_ASSERT_EQUAL(eventstream_crc32(0, &b, 1), crc_bitwise(&b, 1));
	}
	rng_seed(7);
	for (int round = 0; round < 50; round++) {
		size_t n = rng_below(sizeof(buf)), cut = rng_below(n + 1);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rng();
		CU_ASSERT_EQUAL(eventstream_crc32(0, buf, n), crc_bitwise(buf, n));
		/* Continuing from a previous result is the same as one pass. */
		CU_ASSERT_EQUAL(eventstream_crc32(eventstream_crc32(0, buf, cut), buf + cut, n - cut),
		    crc_bitwise(buf, n));
	}
}

/* ---- the public vectors ---- */

/* base64 of p[0..n) equals want. */
static bool
same_base64(const void *p, size_t n, const char *want)
{
	char *b = malloc(base64_encoded_len(n) + 1);
	bool ok;

	base64_encode(b, p, n);
	ok = strcmp(b, want) == 0;
	free(b);
	return ok;
}

/* NULL when m is exactly what the decoded JSON says, else what differs. */
static const char *
compare_with_json(const struct eventstream_message *m, json_object *want)
{
	json_object *v, *hs;

	if (!json_object_object_get_ex(want, "total_length", &v) ||
	    json_object_get_int64(v) != m->total_len)
		return "total_length";
	if (!json_object_object_get_ex(want, "headers_length", &v) ||
	    json_object_get_int64(v) != m->headers_len)
		return "headers_length";
	/* The JSON has the CRCs as signed 32-bit numbers. */
	if (!json_object_object_get_ex(want, "prelude_crc", &v) ||
	    json_object_get_int64(v) != (int32_t)m->prelude_crc)
		return "prelude_crc";
	if (!json_object_object_get_ex(want, "message_crc", &v) ||
	    json_object_get_int64(v) != (int32_t)m->message_crc)
		return "message_crc";
	if (!json_object_object_get_ex(want, "payload", &v) ||
	    !same_base64(m->payload, m->payload_len, json_object_get_string(v)))
		return "payload";
	if (!json_object_object_get_ex(want, "headers", &hs))
		return "headers (missing in the JSON)";
	if (json_object_array_length(hs) != m->n_headers)
		return "number of headers";
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct eventstream_header *h = &m->headers[i];
		json_object *jh = json_object_array_get_idx(hs, i), *name, *type, *val;
		if (!json_object_object_get_ex(jh, "name", &name) ||
		    !json_object_object_get_ex(jh, "type", &type) ||
		    !json_object_object_get_ex(jh, "value", &val))
			return "header fields (missing in the JSON)";
		if ((size_t)json_object_get_string_len(name) != h->name_len ||
		    memcmp(json_object_get_string(name), h->name, h->name_len) != 0)
			return "header name";
		if (json_object_get_int(type) != (int)h->type)
			return "header type";
		switch (h->type) {
		case EVENTSTREAM_BOOL_TRUE:
		case EVENTSTREAM_BOOL_FALSE:
			if (!json_object_is_type(val, json_type_boolean) ||
			    json_object_get_boolean(val) != (h->num == 1) ||
			    (h->num == 1) != (h->type == EVENTSTREAM_BOOL_TRUE))
				return "boolean header value";
			break;
		case EVENTSTREAM_BYTES:
		case EVENTSTREAM_STRING:
		case EVENTSTREAM_UUID:
			if (!same_base64(h->bytes, h->bytes_len, json_object_get_string(val)))
				return "bytes header value";
			break;
		default:
			if (!json_object_is_type(val, json_type_int) ||
			    json_object_get_int64(val) != h->num)
				return "number header value";
		}
	}
	return NULL;
}

static void
test_eventstream_positive_vectors(void)
{
	char names[32][64];
	size_t n = list_vectors("encoded/positive", names, 32), checked = 0;

	CU_ASSERT_EQUAL(n, N_POSITIVE);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		size_t len, left;
		unsigned char *data = read_vector("encoded/positive", names[i], &len);
		const unsigned char *p = data;
		json_object *want;
		struct eventstream_decoder d;
		struct eventstream_message m;
		const char *why;

		snprintf(path, sizeof(path), "%s/eventstream/decoded/positive/%s", test_data_dir(),
		    names[i]);
		want = json_object_from_file(path);
		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
		CU_ASSERT_PTR_NOT_NULL_FATAL(want);
		CU_ASSERT_FATAL(eventstream_init(&d, NULL) == 0);
		left = len;
		CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), 1);
		CU_ASSERT_EQUAL(left, 0);
		if ((why = compare_with_json(&m, want))) {
			fprintf(stderr, "%s: %s differs\n", names[i], why);
			CU_FAIL("positive vector decoded differently");
		} else {
			checked++;
		}
		CU_ASSERT_EQUAL(m.offset, 0);
		CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), 0);
		CU_ASSERT_EQUAL(eventstream_finish(&d), 0);
		CU_ASSERT_EQUAL(eventstream_offset(&d), len);
		json_object_put(want);
		eventstream_free(&d);
		free(data);
	}
	CU_ASSERT_EQUAL(checked, N_POSITIVE);
}

static const struct {
	const char *expected; /* text in decoded/negative */
	enum eventstream_errkind kind;
	const char *ours;     /* what our message says */
} reasons[] = {
	{ "Prelude checksum mismatch", EVENTSTREAM_ERR_PRELUDE_CRC, "prelude CRC mismatch" },
	{ "Message checksum mismatch", EVENTSTREAM_ERR_MESSAGE_CRC, "message CRC mismatch" },
};

static void
test_eventstream_negative_vectors(void)
{
	char names[32][64];
	size_t n = list_vectors("encoded/negative", names, 32), checked = 0;

	CU_ASSERT_EQUAL(n, N_NEGATIVE);
	for (size_t i = 0; i < n; i++) {
		size_t len, elen, r;
		unsigned char *data = read_vector("encoded/negative", names[i], &len);
		char *expected = (char *)read_vector("decoded/negative", names[i], &elen);
		struct run run;

		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
		CU_ASSERT_PTR_NOT_NULL_FATAL(expected);
		for (r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++)
			if (strcmp(expected, reasons[r].expected) == 0)
				break;
		if (r == sizeof(reasons) / sizeof(reasons[0])) {
			fprintf(stderr, "%s: unknown expected error \"%s\"\n", names[i], expected);
			CU_FAIL("negative vector with an expectation this test does not know");
		} else {
			/* Whole, and byte by byte: the same refusal, and no message before it. */
			for (int how = WHOLE; how <= BYTES; how++) {
				run_stream(data, len, (enum chunking)how, NULL, &run);
				CU_ASSERT_EQUAL(run.rc, -1);
				CU_ASSERT_EQUAL(run.n_msgs, 0);
				CU_ASSERT_EQUAL(run.err.kind, reasons[r].kind);
				CU_ASSERT_EQUAL(run.err.errnum, EBADMSG);
				CU_ASSERT_FALSE(run.bad_after_fail);
				CU_ASSERT_PTR_NOT_NULL(strstr(run.err.message, reasons[r].ours));
				CU_ASSERT_PTR_NOT_NULL(strstr(run.err.message, "at stream offset"));
				if (run.err.kind == reasons[r].kind && how == BYTES)
					checked++;
				run_free(&run);
			}
		}
		free(expected);
		free(data);
	}
	CU_ASSERT_EQUAL(checked, N_NEGATIVE);
}

/* ---- chunkings, concatenation, truncation ---- */

static void
test_eventstream_every_chunking_agrees(void)
{
	char names[32][64];
	size_t n = list_vectors("encoded/positive", names, 32);

	CU_ASSERT_EQUAL(n, N_POSITIVE);
	rng_seed(11);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		unsigned char *data = read_vector("encoded/positive", names[i], &len);
		struct run whole, other;

		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
		run_stream(data, len, WHOLE, NULL, &whole);
		CU_ASSERT_EQUAL(whole.rc, 0);
		CU_ASSERT_EQUAL(whole.n_msgs, 1);
		run_stream(data, len, BYTES, NULL, &other);
		CU_ASSERT_EQUAL(other.rc, 0);
		CU_ASSERT_STRING_EQUAL(other.text.data, whole.text.data);
		run_free(&other);
		for (int k = 0; k < 100; k++) {
			run_stream(data, len, RANDOM, NULL, &other);
			CU_ASSERT_EQUAL(other.rc, 0);
			CU_ASSERT_FALSE(other.insane);
			CU_ASSERT_STRING_EQUAL(other.text.data, whole.text.data);
			run_free(&other);
		}
		run_free(&whole);
		free(data);
	}
}

/* All positive vectors, three times over, plus built messages: one stream. */
static void
build_stream(struct kls_buf *s, size_t *n_msgs)
{
	char names[32][64];
	size_t n = list_vectors("encoded/positive", names, 32);

	*n_msgs = 0;
	for (int copy = 0; copy < 3; copy++) {
		for (size_t i = 0; i < n; i++) {
			size_t len;
			unsigned char *data = read_vector("encoded/positive", names[i], &len);
			if (data)
				buf_append(s, data, len);
			free(data);
			(*n_msgs)++;
		}
		enc_strings(s, "{\"Records\":[]}", ":message-type", "event", ":event-type",
		    "SubscribeToShardEvent", (const char *)NULL);
		enc_message(s, NULL, 0, "", 0);
		*n_msgs += 2;
	}
}

static void
test_eventstream_concatenated(void)
{
	struct kls_buf s;
	struct run whole, other;
	size_t n_msgs;

	buf_init(&s, 0);
	build_stream(&s, &n_msgs);
	run_stream((unsigned char *)s.data, s.len, WHOLE, NULL, &whole);
	CU_ASSERT_EQUAL(whole.rc, 0);
	CU_ASSERT_EQUAL(whole.n_msgs, n_msgs);
	CU_ASSERT_FALSE(whole.insane);
	/* The offsets chain: each message starts where the one before ended. */
	{
		struct eventstream_decoder d;
		struct eventstream_message m;
		const unsigned char *p = (unsigned char *)s.data;
		size_t left = s.len;
		uint64_t at = 0;
		CU_ASSERT_FATAL(eventstream_init(&d, NULL) == 0);
		while (eventstream_next(&d, &p, &left, &m) == 1) {
			CU_ASSERT_EQUAL(m.offset, at);
			at += m.total_len;
		}
		CU_ASSERT_EQUAL(at, s.len);
		eventstream_free(&d);
	}
	rng_seed(13);
	for (int how = BYTES; how <= RANDOM; how++) {
		for (int k = 0; k < (how == BYTES ? 1 : 200); k++) {
			run_stream((unsigned char *)s.data, s.len, (enum chunking)how, NULL, &other);
			CU_ASSERT_EQUAL(other.rc, 0);
			CU_ASSERT_EQUAL(other.n_msgs, n_msgs);
			CU_ASSERT_STRING_EQUAL(other.text.data, whole.text.data);
			run_free(&other);
		}
	}
	run_free(&whole);
	buf_free(&s);
}

static void
test_eventstream_every_truncation(void)
{
	struct kls_buf s;
	struct run run;
	size_t n_msgs, bounds[64], nb = 0;
	size_t cuts = 0;

	buf_init(&s, 0);
	build_stream(&s, &n_msgs);
	/* Message boundaries, from the lengths in each prelude. */
	for (size_t at = 0; at < s.len && nb < 64;) {
		const unsigned char *b = (unsigned char *)s.data + at;
		at += (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		bounds[nb++] = at;
	}
	CU_ASSERT_EQUAL_FATAL(nb, n_msgs);
	rng_seed(17);
	for (size_t cut = 0; cut < s.len; cut++) {
		size_t whole = 0;
		while (whole < nb && bounds[whole] <= cut)
			whole++;
		run_stream((unsigned char *)s.data, cut, cut % 2 ? RANDOM : WHOLE, NULL, &run);
		/* The messages before the cut, then a refusal unless it fell on a boundary. */
		CU_ASSERT_EQUAL(run.n_msgs, whole);
		if (cut == 0 || (whole > 0 && bounds[whole - 1] == cut)) {
			CU_ASSERT_EQUAL(run.rc, 0);
		} else {
			CU_ASSERT_EQUAL(run.rc, -1);
			CU_ASSERT_EQUAL(run.err.kind, EVENTSTREAM_ERR_TRUNCATED);
			CU_ASSERT_EQUAL(run.err.offset, cut);
			CU_ASSERT_PTR_NOT_NULL(strstr(run.err.message, "stream ends inside a message"));
			cuts++;
		}
		run_free(&run);
	}
	CU_ASSERT_EQUAL(cuts, s.len - nb);
	buf_free(&s);
}

/* ---- bounds and malformed headers ---- */

struct bound_case {
	const char *what;
	/* The message: either a prelude with these lengths (and a valid CRC) followed by
	 * filler up to total, or headers bytes to wrap in a valid message. */
	uint32_t total, hlen;
	const char *hdr;
	size_t hdr_len;
	size_t max_message, max_headers, max_value_len; /* 0: default */
	enum eventstream_errkind kind;
	int errnum;
	const char *says;
	uint64_t offset;
};

static const struct bound_case bound_cases[] = {
	{ "total length 0", 0, 0, NULL, 0, 0, 0, 0, EVENTSTREAM_ERR_LENGTH, EBADMSG,
	    "total length 0 is below the 16-byte minimum", 0 },
	{ "total length 15", 15, 0, NULL, 0, 0, 0, 0, EVENTSTREAM_ERR_LENGTH, EBADMSG,
	    "total length 15 is below", 0 },
	{ "huge total length", 0xffffffffu, 0, NULL, 0, 0, 0, 0, EVENTSTREAM_ERR_LENGTH, EMSGSIZE,
	    "total length 4294967295 is over the limit of 16777216", 0 },
	{ "one over a small limit", 101, 0, NULL, 0, 100, 0, 0, EVENTSTREAM_ERR_LENGTH, EMSGSIZE,
	    "total length 101 is over the limit of 100", 0 },
	{ "headers length beyond total", 32, 17, NULL, 0, 0, 0, 0, EVENTSTREAM_ERR_LENGTH, EBADMSG,
	    "headers length 17 does not fit in total length 32", 4 },
	{ "headers length huge", 32, 0xfffffff0u, NULL, 0, 0, 0, 0, EVENTSTREAM_ERR_LENGTH, EBADMSG,
	    "does not fit in total length", 4 },
	{ "headers over their limit", 300000, 200000, NULL, 0, 0, 0, 0, EVENTSTREAM_ERR_LENGTH,
	    EMSGSIZE, "headers length 200000 is over the limit of 131072", 4 },
	{ "empty header name", 0, 0, "\x00\x07", 2, 0, 0, 0, EVENTSTREAM_ERR_HEADER, EBADMSG,
	    "header 0 has an empty name", 12 },
	{ "name past the block", 0, 0, "\x05" "abc", 4, 0, 0, 0, EVENTSTREAM_ERR_HEADER, EBADMSG,
	    "header 0: name of 5 bytes runs past the headers block", 12 },
	{ "no type byte", 0, 0, "\x03" "abc", 4, 0, 0, 0, EVENTSTREAM_ERR_HEADER, EBADMSG,
	    "runs past the headers block", 12 },
	{ "unknown type 10", 0, 0, "\x01" "a\x0a", 3, 0, 0, 0, EVENTSTREAM_ERR_HEADER, EBADMSG,
	    "header 0 (a): unknown value type 10", 14 },
	{ "unknown type 255", 0, 0, "\x01" "a\x00\x01" "b\xff", 6, 0, 0, 0, EVENTSTREAM_ERR_HEADER,
	    EBADMSG, "header 1 (b): unknown value type 255", 17 },
	{ "int32 cut short", 0, 0, "\x01" "a\x04\x00\x00", 5, 0, 0, 0, EVENTSTREAM_ERR_HEADER,
	    EBADMSG, "header 0 (a): int32 value of 4 bytes runs past", 15 },
	{ "uuid cut short", 0, 0, "\x01" "u\x09" "0123456789abcde", 18, 0, 0, 0,
	    EVENTSTREAM_ERR_HEADER, EBADMSG, "uuid value of 16 bytes runs past", 15 },
	{ "string length cut", 0, 0, "\x01" "s\x07\x00", 4, 0, 0, 0, EVENTSTREAM_ERR_HEADER,
	    EBADMSG, "header 0 (s): value length runs past", 15 },
	{ "string past the block", 0, 0, "\x01" "s\x07\x00\x05" "abcd", 9, 0, 0, 0,
	    EVENTSTREAM_ERR_HEADER, EBADMSG, "string value of 5 bytes runs past", 17 },
	{ "bytes over the value limit", 0, 0, "\x01" "b\x06\x00\x05" "abcde", 10, 0, 0, 4,
	    EVENTSTREAM_ERR_HEADER, EMSGSIZE, "byte array of 5 bytes is over the limit of 4", 15 },
	{ "too many headers", 0, 0, "\x01" "a\x00\x01" "b\x00\x01" "c\x00", 9, 0, 2, 0,
	    EVENTSTREAM_ERR_HEADER, EMSGSIZE, "more than 2 headers", 18 },
	{ "unprintable name quoted", 0, 0, "\x02" "\x01\xff\x0b", 4, 0, 0, 0,
	    EVENTSTREAM_ERR_HEADER, EBADMSG, "header 0 (?" "?): unknown value type 11", 15 },
};

static void
test_eventstream_bounds(void)
{
	for (size_t i = 0; i < sizeof(bound_cases) / sizeof(bound_cases[0]); i++) {
		const struct bound_case *c = &bound_cases[i];
		struct eventstream_limits lim;
		struct kls_buf s;
		struct run run;

		eventstream_limits_default(&lim);
		if (c->max_message)
			lim.max_message = c->max_message;
		if (c->max_headers)
			lim.max_headers = c->max_headers;
		if (c->max_value_len)
			lim.max_value_len = c->max_value_len;
		buf_init(&s, 0);
		/* A good message first, so offsets are stream offsets, not message ones. */
		enc_message(&s, NULL, 0, "x", 1);
		if (c->hdr) {
			enc_message_raw(&s, c->hdr, c->hdr_len, "{}", 2);
		} else {
			enc_prelude(&s, c->total, c->hlen);
			/* Filler, but never the whole of a huge length: the refusal comes first. */
			for (size_t k = 0; k < 64; k++)
				buf_append(&s, "\0", 1);
		}
		run_stream((unsigned char *)s.data, s.len, BYTES, &lim, &run);
		if (run.rc != -1 || run.err.kind != c->kind || run.err.errnum != c->errnum ||
		    !strstr(run.err.message, c->says) || run.err.offset != 17 + c->offset)
			fprintf(stderr, "case \"%s\": rc %d kind %d errno %d offset %llu: %s\n",
			    c->what, run.rc, (int)run.err.kind, run.err.errnum,
			    (unsigned long long)run.err.offset, run.err.message);
		CU_ASSERT_EQUAL(run.n_msgs, 1);
		CU_ASSERT_EQUAL(run.rc, -1);
		CU_ASSERT_EQUAL(run.err.kind, c->kind);
		CU_ASSERT_EQUAL(run.err.errnum, c->errnum);
		CU_ASSERT_PTR_NOT_NULL(strstr(run.err.message, c->says));
		CU_ASSERT_EQUAL(run.err.offset, 17 + c->offset);
		CU_ASSERT_FALSE(run.bad_after_fail);
		run_free(&run);
		buf_free(&s);
	}
}

/* Limits at their edges are accepted; unusable limits are refused at init. */
static void
test_eventstream_limits_edges(void)
{
	struct eventstream_limits lim;
	struct eventstream_decoder d;
	struct kls_buf s;
	struct run run;
	char big[40];
	struct enc_header h[3] = {
		{ .name = "a", .type = 0 },
		{ .name = "b", .type = 6, .bytes = big, .len = 8 },
		{ .name = "c", .type = 7, .str = "12345678" },
	};

	memset(big, 'x', sizeof(big));
	eventstream_limits_default(&lim);
	lim.max_headers = 3;
	lim.max_value_len = 8;
	buf_init(&s, 0);
	enc_message(&s, h, 3, "0123456789", 10);
	lim.max_message = s.len; /* exactly at the limit */
	run_stream((unsigned char *)s.data, s.len, BYTES, &lim, &run);
	CU_ASSERT_EQUAL(run.rc, 0);
	CU_ASSERT_EQUAL(run.n_msgs, 1);
	CU_ASSERT_FALSE(run.insane);
	run_free(&run);
	buf_free(&s);

	/* The empty message: 16 bytes, no headers, no payload. */
	buf_init(&s, 0);
	enc_message(&s, NULL, 0, "", 0);
	CU_ASSERT_EQUAL(s.len, 16);
	lim.max_message = 16;
	run_stream((unsigned char *)s.data, s.len, WHOLE, &lim, &run);
	CU_ASSERT_EQUAL(run.rc, 0);
	CU_ASSERT_EQUAL(run.n_msgs, 1);
	run_free(&run);
	buf_free(&s);

	eventstream_limits_default(&lim);
	lim.max_message = 15;
	CU_ASSERT_EQUAL(eventstream_init(&d, &lim), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	eventstream_limits_default(&lim);
	lim.max_message = (size_t)UINT32_MAX + 1;
	CU_ASSERT_EQUAL(eventstream_init(&d, &lim), -1);
	eventstream_limits_default(&lim);
	lim.max_headers = 0;
	CU_ASSERT_EQUAL(eventstream_init(&d, &lim), -1);
}

/* ---- header types ---- */

static void
test_eventstream_header_types(void)
{
	static const unsigned char uuid[16] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7,
		8, 9, 0xfe, 0xff };
	char *longval = malloc(32767);
	struct enc_header h[] = {
		{ .name = "t", .type = 0 },
		{ .name = "f", .type = 1 },
		{ .name = "byte-min", .type = 2, .num = -128 },
		{ .name = "byte-max", .type = 2, .num = 127 },
		{ .name = "i16-min", .type = 3, .num = INT16_MIN },
		{ .name = "i16-max", .type = 3, .num = INT16_MAX },
		{ .name = "i32-min", .type = 4, .num = INT32_MIN },
		{ .name = "i32-neg1", .type = 4, .num = -1 },
		{ .name = "i64-min", .type = 5, .num = INT64_MIN },
		{ .name = "i64-max", .type = 5, .num = INT64_MAX },
		{ .name = "bytes-empty", .type = 6, .bytes = "", .len = 0 },
		{ .name = "bytes-nul", .type = 6, .bytes = "a\0b", .len = 3 },
		{ .name = "str-empty", .type = 7, .str = "" },
		{ .name = "str-long", .type = 7, .bytes = NULL, .len = 0 },
		{ .name = "ts-neg", .type = 8, .num = -86400000 },
		{ .name = "uuid", .type = 9, .uuid = uuid },
		{ .name = "dup", .type = 7, .str = "first" },
		{ .name = "dup", .type = 7, .str = "second" },
		/* A name of 255 bytes, the most its u8 length can say. */
		{ .name = NULL, .name_len = 255, .type = 1 },
	};
	size_t nh = sizeof(h) / sizeof(h[0]);
	char name255[256];
	struct eventstream_decoder d;
	struct eventstream_message m;
	struct kls_buf s;
	const unsigned char *p;
	size_t left;

	memset(longval, 'L', 32767);
	h[13].bytes = longval; /* type 7 with explicit bytes */
	h[13].len = 32767;
	memset(name255, 'n', 255);
	name255[255] = '\0';
	h[nh - 1].name = name255;
	buf_init(&s, 0);
	enc_message(&s, h, nh, "payload", 7);
	CU_ASSERT_FATAL(eventstream_init(&d, NULL) == 0);
	p = (unsigned char *)s.data;
	left = s.len;
	CU_ASSERT_EQUAL_FATAL(eventstream_next(&d, &p, &left, &m), 1);
	CU_ASSERT_EQUAL_FATAL(m.n_headers, nh);
	for (size_t i = 0; i < nh; i++) {
		const struct eventstream_header *g = &m.headers[i];
		CU_ASSERT_EQUAL(g->name_len, strlen(h[i].name));
		CU_ASSERT_STRING_EQUAL(g->name, h[i].name);
		CU_ASSERT_EQUAL((int)g->type, h[i].type);
		switch (h[i].type) {
		case 0: CU_ASSERT_EQUAL(g->num, 1); CU_ASSERT_PTR_NULL(g->bytes); break;
		case 1: CU_ASSERT_EQUAL(g->num, 0); break;
		case 6:
		case 7: {
			const void *v = h[i].bytes ? h[i].bytes : h[i].str;
			size_t vl = h[i].bytes ? h[i].len : strlen(h[i].str);
			CU_ASSERT_EQUAL(g->bytes_len, vl);
			CU_ASSERT(memcmp(g->bytes, v, vl) == 0);
			CU_ASSERT_EQUAL(g->bytes[vl], '\0');
			break;
		}
		case 9:
			CU_ASSERT_EQUAL(g->bytes_len, 16);
			CU_ASSERT(memcmp(g->bytes, uuid, 16) == 0);
			break;
		default: CU_ASSERT_EQUAL(g->num, h[i].num);
		}
	}
	CU_ASSERT_STRING_EQUAL((const char *)eventstream_header_find(&m, "dup")->bytes, "first");
	CU_ASSERT_EQUAL(eventstream_header_count(&m, "dup"), 2);
	CU_ASSERT_EQUAL(eventstream_header_count(&m, "du"), 0);
	CU_ASSERT_PTR_NULL(eventstream_header_find(&m, "missing"));
	CU_ASSERT_EQUAL(m.payload_len, 7);
	CU_ASSERT_STRING_EQUAL((const char *)m.payload, "payload");
	CU_ASSERT_STRING_EQUAL(eventstream_type_name(9), "uuid");
	CU_ASSERT_STRING_EQUAL(eventstream_type_name(10), "unknown");
	CU_ASSERT_STRING_EQUAL(eventstream_type_name(-1), "unknown");
	eventstream_free(&d);
	buf_free(&s);
	free(longval);
}

/* A failed decoder stays failed; reset starts a new stream from offset 0. */
static void
test_eventstream_fail_then_reset(void)
{
	struct eventstream_decoder d;
	struct eventstream_message m;
	struct kls_buf s;
	const unsigned char *p;
	size_t left;

	buf_init(&s, 0);
	enc_message(&s, NULL, 0, "one", 3);
	CU_ASSERT_FATAL(eventstream_init(&d, NULL) == 0);
	p = (unsigned char *)s.data;
	left = s.len;
	s.data[s.len - 1] ^= 1; /* message CRC */
	CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), -1);
	CU_ASSERT_EQUAL(errno, EBADMSG);
	CU_ASSERT_EQUAL(eventstream_error(&d)->kind, EVENTSTREAM_ERR_MESSAGE_CRC);
	CU_ASSERT_EQUAL(eventstream_error(&d)->offset, s.len - 4);
	s.data[s.len - 1] ^= 1;
	p = (unsigned char *)s.data;
	left = s.len;
	CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), -1);
	CU_ASSERT_EQUAL(left, s.len);
	CU_ASSERT_EQUAL(eventstream_finish(&d), -1);
	eventstream_reset(&d);
	CU_ASSERT_EQUAL(eventstream_error(&d)->kind, EVENTSTREAM_ERR_NONE);
	CU_ASSERT_EQUAL(eventstream_offset(&d), 0);
	/* Half a message, reset (the subscription dropped), then a whole one. */
	left = 5;
	CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), 0);
	eventstream_reset(&d);
	p = (unsigned char *)s.data;
	left = s.len;
	CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), 1);
	CU_ASSERT_EQUAL(m.offset, 0);
	CU_ASSERT_EQUAL(m.payload_len, 3);
	CU_ASSERT_EQUAL(eventstream_finish(&d), 0);
	/* An empty chunk asks for more without doing anything. */
	left = 0;
	CU_ASSERT_EQUAL(eventstream_next(&d, &p, &left, &m), 0);
	eventstream_free(&d);
	buf_free(&s);
}

/* ---- mutations ---- */

/* Seeds for mutation: the vectors and messages built to reach every header type. */
static size_t
mutation_seeds(struct kls_buf *seeds, size_t *offs, size_t max)
{
	static const unsigned char uuid[16] = { 1, 2, 3 };
	struct enc_header all[] = {
		{ .name = ":message-type", .type = 7, .str = "event" },
		{ .name = "b", .type = 0 }, { .name = "c", .type = 1 },
		{ .name = "d", .type = 2, .num = -3 }, { .name = "e", .type = 3, .num = 300 },
		{ .name = "f", .type = 4, .num = -70000 }, { .name = "g", .type = 5, .num = 1 },
		{ .name = "h", .type = 6, .bytes = "\0\1\2", .len = 3 },
		{ .name = "i", .type = 8, .num = 1700000000000 },
		{ .name = "j", .type = 9, .uuid = uuid },
	};
	char names[32][64];
	size_t n = list_vectors("encoded/positive", names, 32), k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		size_t len;
		unsigned char *data = read_vector("encoded/positive", names[i], &len);
		offs[k++] = seeds->len;
		buf_append(seeds, data, len);
		free(data);
	}
	if (k < max) {
		offs[k++] = seeds->len;
		enc_message(seeds, all, sizeof(all) / sizeof(all[0]), "{\"Records\":[]}", 14);
	}
	offs[k] = seeds->len;
	return k;
}

static void
mutate(unsigned char *m, size_t *len, size_t cap)
{
	static const uint32_t lengths[] = { 0, 1, 12, 15, 16, 17, 0x7fffffff, 0xffffffff };
	int ops = 1 + (int)rng_below(3);

	for (int k = 0; k < ops; k++) {
		size_t at = rng_below(*len);
		switch (rng_below(7)) {
		case 0: m[at] ^= (unsigned char)(1u << rng_below(8)); break;
		case 1: m[at] = (unsigned char)rng(); break;
		case 2: /* a length field, to something odd */
			enc_be32(m + (rng_below(2) ? 0 : 4), rng_below(2) ?
			    lengths[rng_below(sizeof(lengths) / sizeof(lengths[0]))] :
			    (uint32_t)(*len + rng_below(9) - 4));
			break;
		case 3: /* truncate */
			*len = 12 + rng_below(*len - 12 + 1);
			break;
		case 4: /* insert a byte */
			if (*len < cap) {
				memmove(m + at + 1, m + at, *len - at);
				m[at] = (unsigned char)rng();
				(*len)++;
			}
			break;
		case 5: /* delete a byte */
			if (*len > 16) {
				memmove(m + at, m + at + 1, *len - at - 1);
				(*len)--;
			}
			break;
		default: /* a header's type or length byte */
			if (*len > 13)
				m[12 + rng_below(*len - 12)] = (unsigned char)rng_below(12);
		}
	}
	/* Most of the time make the CRCs right again, so the checks behind them get tried. */
	if (rng_below(4) != 0) {
		uint32_t total;
		enc_be32(m + 8, eventstream_crc32(0, m, 8));
		total = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
		if (rng_below(3) == 0 && *len >= 16) {
			total = (uint32_t)*len; /* and make the length agree */
			enc_be32(m, total);
			enc_be32(m + 8, eventstream_crc32(0, m, 8));
		}
		enc_fix_crcs(m, *len);
	}
}

/* An accepted message must be exactly its own encoding. */
static bool
reencodes(const struct eventstream_message *m, const unsigned char *orig)
{
	struct kls_buf s;
	bool same;

	buf_init(&s, 0);
	same = enc_reencode(&s, m) == 0 && s.len == m->total_len &&
	    memcmp(s.data, orig, s.len) == 0;
	buf_free(&s);
	return same;
}

static void
test_eventstream_mutations(void)
{
	struct kls_buf seeds;
	size_t offs[16], n_seeds, accepted = 0, refused = 0, kinds[8] = { 0 };
	unsigned char m[1024];
	struct eventstream_limits small;

	buf_init(&seeds, 0);
	n_seeds = mutation_seeds(&seeds, offs, 15);
	CU_ASSERT_EQUAL(n_seeds, N_POSITIVE + 1);
	if (n_seeds != N_POSITIVE + 1) {
		buf_free(&seeds);
		return;
	}
	eventstream_limits_default(&small);
	small.max_message = 256;
	small.max_headers = 6;
	small.max_value_len = 12;
	small.max_headers_len = 200;
	rng_seed(20240601);
	for (int iter = 0; iter < 20000; iter++) {
		size_t si = rng_below(n_seeds), len = offs[si + 1] - offs[si];
		const struct eventstream_limits *lim = iter % 5 == 0 ? &small : NULL;
		struct eventstream_decoder d;
		struct eventstream_message msg;
		const unsigned char *p;
		unsigned char *chunk;
		size_t left, pos = 0;
		int rc = 0;

		memcpy(m, seeds.data + offs[si], len);
		mutate(m, &len, sizeof(m) - 1);
		CU_ASSERT_FATAL(eventstream_init(&d, lim) == 0);
		while (pos < len && rc >= 0) {
			size_t n = 1 + rng_below(len - pos);
			chunk = malloc(n);
			memcpy(chunk, m + pos, n);
			p = chunk;
			left = n;
			while ((rc = eventstream_next(&d, &p, &left, &msg)) == 1) {
				struct eventstream_limits deflim;
				eventstream_limits_default(&deflim);
				if (!message_sane(&msg, lim ? lim : &deflim) ||
				    !reencodes(&msg, m + msg.offset)) {
					fprintf(stderr, "iteration %d: accepted message is not sane\n",
					    iter);
					CU_FAIL("accepted message broke a promise");
				}
				accepted++;
			}
			pos += n - left;
			free(chunk);
		}
		if (rc >= 0)
			rc = eventstream_finish(&d);
		if (rc < 0) {
			const struct eventstream_error *e = eventstream_error(&d);
			refused++;
			kinds[e->kind & 7]++;
			if (strncmp(e->message, "event stream: ", 14) != 0 ||
			    !strstr(e->message, "at stream offset") || e->offset > len ||
			    e->kind == EVENTSTREAM_ERR_NONE)
				CU_FAIL("refusal without a proper message");
		}
		eventstream_free(&d);
	}
	/* The loop reached every kind of refusal, and accepted plenty. */
	CU_ASSERT(accepted > 2000);
	CU_ASSERT(kinds[EVENTSTREAM_ERR_PRELUDE_CRC] > 100);
	CU_ASSERT(kinds[EVENTSTREAM_ERR_MESSAGE_CRC] > 100);
	CU_ASSERT(kinds[EVENTSTREAM_ERR_LENGTH] > 100);
	CU_ASSERT(kinds[EVENTSTREAM_ERR_HEADER] > 100);
	CU_ASSERT(kinds[EVENTSTREAM_ERR_TRUNCATED] > 100);
	fprintf(stderr, "\n  mutations: %zu messages accepted, %zu streams refused "
	    "(prelude CRC %zu, message CRC %zu, length %zu, header %zu, truncated %zu)\n",
	    accepted, refused, kinds[1], kinds[2], kinds[3], kinds[4], kinds[5]);
	buf_free(&seeds);
}

static CU_TestInfo eventstream_tests[] = {
	{ "CRC-32 against its definition", test_eventstream_crc32 },
	{ "positive vectors decode exactly", test_eventstream_positive_vectors },
	{ "negative vectors refused for the stated reason", test_eventstream_negative_vectors },
	{ "every chunking agrees", test_eventstream_every_chunking_agrees },
	{ "several messages in one stream", test_eventstream_concatenated },
	{ "every truncation refused", test_eventstream_every_truncation },
	{ "bounds and malformed headers", test_eventstream_bounds },
	{ "limits at their edges", test_eventstream_limits_edges },
	{ "every header type at its edges", test_eventstream_header_types },
	{ "failed stays failed; reset", test_eventstream_fail_then_reset },
	{ "20,000 mutations: sane or refused", test_eventstream_mutations },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "eventstream", NULL, NULL, NULL, NULL, eventstream_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
