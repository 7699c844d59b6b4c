/*
 * libFuzzer target for the GetRecords scanner (`make fuzz`, clang only). Every input is
 * a body; the scanner must accept it sanely or refuse it with a message, never crash or
 * read out of bounds (ASan, UBSan). Accepted bodies are checked against json-c: whatever
 * the scanner accepts must be JSON that json-c also accepts, with the same records; and
 * every body is parsed in place too, which must read it exactly the same way.
 *   tests/fuzz/getrecords_fuzz -dict=tests/fuzz/getrecords.dict -max_total_time=180 \
 *       CORPUS_DIR tests/fuzz/seeds
 */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/getrecords.h"
#include "tests/fuzz/fuzz.h"

static void
check_against_jsonc(const char *body, size_t len, const struct getrecords_result *res)
{
	json_tokener *tok = json_tokener_new_ex(GETRECORDS_DEPTH_LIMIT + 8);
	json_object *root, *recs, *v;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, body, (int)len);
	/* json-c stops after the first value; a NUL is where our body ends too. */
	CHECK(root != NULL);
	CHECK(json_object_object_get_ex(root, "Records", &recs));
	CHECK(json_object_array_length(recs) == res->n_records);
	for (size_t i = 0; i < res->n_records; i++) {
		json_object *r = json_object_array_get_idx(recs, i);
		CHECK(json_object_object_get_ex(r, "SequenceNumber", &v));
		CHECK(strcmp(json_object_get_string(v), res->records[i].sequence_number) == 0);
	}
	json_object_put(root);
	json_tokener_free(tok);
}

/* getrecords_parse_inplace over a copy must say what getrecords_parse said. */
static void
check_inplace(const uint8_t *data, size_t size, const struct getrecords_limits *lim, int rc,
    const struct getrecords_result *want, const struct getrecords_error *werr)
{
	static struct getrecords_result res;
	struct getrecords_error err;
	char *body = malloc(size + 1);

	memcpy(body, data, size);
	body[size] = '\0';
	CHECK(getrecords_parse_inplace(body, size, lim, &res, &err) == rc);
	if (rc < 0) {
		CHECK(err.offset == werr->offset && strcmp(err.message, werr->message) == 0);
	} else {
		CHECK(res.n_records == want->n_records);
		for (size_t i = 0; i < res.n_records; i++) {
			const struct getrecords_record *a = &res.records[i], *b = &want->records[i];
			CHECK(a->data_len == b->data_len && memcmp(a->data, b->data, a->data_len) == 0);
			CHECK(a->partition_key_len == b->partition_key_len &&
			    memcmp(a->partition_key, b->partition_key, a->partition_key_len) == 0);
			CHECK(strcmp(a->sequence_number, b->sequence_number) == 0);
		}
		CHECK((res.next_iterator == NULL) == (want->next_iterator == NULL));
		CHECK(!res.next_iterator || strcmp(res.next_iterator, want->next_iterator) == 0);
	}
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Reused across inputs, as a reader reuses them across calls. */
	static struct kls_buf arena;
	static struct getrecords_result res;
	struct getrecords_limits lim;
	struct getrecords_error err;
	char *body = malloc(size + 1);

	memcpy(body, data, size);
	body[size] = '\0';
	getrecords_limits_default(&lim);
	lim.max_data_bytes = 4096; /* small limits get reached by small inputs */
	lim.max_records = 64;
	lim.max_depth = 8;
	int rc = getrecords_parse(body, size, &lim, &arena, &res, &err);

	check_inplace(data, size, &lim, rc, &res, &err);
	if (rc == 0) {
		const char *lo = arena.data, *hi = arena.data + arena.len;
		CHECK(res.n_records <= lim.max_records);
		for (size_t i = 0; i < res.n_records; i++) {
			const struct getrecords_record *r = &res.records[i];
			CHECK((const char *)r->data >= lo && (const char *)r->data + r->data_len < hi);
			CHECK(r->partition_key >= lo && r->partition_key + r->partition_key_len < hi);
			CHECK(r->sequence_number_len >= 1 && r->sequence_number_len <= 129);
			CHECK(strspn(r->sequence_number, "0123456789") == r->sequence_number_len);
			CHECK(r->data_len <= lim.max_data_bytes);
		}
		CHECK(arena.len <= size);
		check_against_jsonc(body, size, &res);
	} else {
		CHECK(err.message[0] != '\0' && err.offset <= size);
		CHECK(res.n_records == 0);
	}
	free(body);
	return 0;
}
