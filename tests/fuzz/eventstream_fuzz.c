/*
 * libFuzzer target for the event stream decoder (`make fuzz`, clang only). The input is
 * a byte stream, fed to the decoder in chunks whose sizes come from a hash of the input
 * (so one input is always cut the same way); every message it returns is checked for
 * the decoder's promises, must re-encode to exactly the bytes it came from, and goes on
 * through subscribe_event (and so the GetRecords scanner). Refusals must say what and
 * where. Crashes and out-of-bounds reads are ASan's and UBSan's to find.
 *   tests/fuzz/eventstream_fuzz -max_total_time=120 CORPUS_DIR \
 *       ../shared/testdata/eventstream/encoded/positive
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/eventstream.h"
#include "common/subscribe_event.h"
#include "tests/eventstream_enc.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
			abort(); \
		} \
	} while (0)

static void
check_message(const struct eventstream_message *m, const struct eventstream_limits *lim,
    const uint8_t *stream, size_t size)
{
	struct kls_buf s;

	CHECK(m->offset + m->total_len <= size);
	CHECK((size_t)m->headers_len + m->payload_len + 16 == m->total_len);
	CHECK(m->total_len <= lim->max_message && m->n_headers <= lim->max_headers);
	CHECK(m->payload[m->payload_len] == '\0');
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct eventstream_header *g = &m->headers[i];
		CHECK(g->name_len >= 1 && g->name[g->name_len] == '\0');
		CHECK(g->type <= EVENTSTREAM_UUID);
	}
	buf_init(&s, 0);
	CHECK(enc_reencode(&s, m) == 0);
	CHECK(s.len == m->total_len && memcmp(s.data, stream + m->offset, s.len) == 0);
	buf_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Reused across inputs, as a reader reuses them across messages. */
	static struct kls_buf arena;
	static struct getrecords_result res;
	struct eventstream_limits lim;
	struct eventstream_decoder d;
	struct getrecords_limits glim;
	uint64_t h = 1469598103934665603u;
	size_t pos = 0;
	int rc = 0;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	eventstream_limits_default(&lim);
	/* Small limits, so small inputs reach them. */
	lim.max_message = 1 << 16;
	lim.max_headers = 64;
	lim.max_headers_len = 4096;
	lim.max_value_len = 1024;
	getrecords_limits_default(&glim);
	glim.max_records = 64;
	glim.max_data_bytes = 4096;
	glim.max_depth = 8;
	CHECK(eventstream_init(&d, &lim) == 0);
	while (pos < size && rc >= 0) {
		size_t n = 1 + (size_t)(h % 257);
		uint8_t *chunk;
		const unsigned char *p;
		size_t left;
		struct eventstream_message m;

		h = h * 6364136223846793005u + 1442695040888963407u;
		h ^= h >> 29;
		if (n > size - pos)
			n = size - pos;
		chunk = malloc(n);
		memcpy(chunk, data + pos, n);
		p = chunk;
		left = n;
		while ((rc = eventstream_next(&d, &p, &left, &m)) == 1) {
			struct subscribe_event ev;
			struct aws_error err;
			check_message(&m, &lim, data, size);
			if (subscribe_event_parse(&m, &glim, &arena, &res, &ev, &err) == 0) {
				CHECK(ev.kind == SUBSCRIBE_EVENT_RECORDS ||
				    ev.kind == SUBSCRIBE_EVENT_INITIAL_RESPONSE ||
				    ev.kind == SUBSCRIBE_EVENT_OTHER);
				if (ev.kind == SUBSCRIBE_EVENT_RECORDS)
					CHECK(res.n_records <= glim.max_records &&
					    ev.shard_end == (res.continuation_sequence == NULL));
			} else {
				CHECK(ev.kind == SUBSCRIBE_EVENT_EXCEPTION ||
				    ev.kind == SUBSCRIBE_EVENT_MALFORMED);
				CHECK(err.type[0] != '\0' && err.message[0] != '\0');
			}
		}
		CHECK(rc == -1 || left == 0);
		pos += n - left;
		free(chunk);
	}
	if (rc >= 0)
		rc = eventstream_finish(&d);
	if (rc < 0) {
		const struct eventstream_error *e = eventstream_error(&d);
		CHECK(e->kind != EVENTSTREAM_ERR_NONE && e->offset <= size);
		CHECK(strncmp(e->message, "event stream: ", 14) == 0);
		CHECK(strstr(e->message, "at stream offset") != NULL);
	} else {
		CHECK(eventstream_offset(&d) == size);
	}
	eventstream_free(&d);
	return 0;
}
