/*
 * libFuzzer target for KPL de-aggregation (`make fuzz`, clang only). Each input is tried
 * twice: as a Kinesis record, as it is (so the magic, length and MD5 checks are fuzzed),
 * and as a protobuf wrapped in a fresh magic and MD5 (so the decoder behind the MD5 check
 * is fuzzed; when the input already looks like an aggregate, its protobuf part is used,
 * so the public vectors make good seeds). Every result must satisfy the invariants of
 * tests/kpl_invariants.h, including the round trip through the encoder; the hash-range
 * check and the key copies run on every aggregate too.
 *   tests/fuzz/kpl_fuzz -max_total_time=120 CORPUS_DIR ../shared/testdata/kpl
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kpl.h"
#include "common/kpl_encode.h"
#include "tests/fuzz/fuzz.h"
#include "tests/kpl_invariants.h"

/* Reused across inputs, as a reader reuses them across records. */
static struct kpl k, k2;

static void
run(const uint8_t *data, size_t size)
{
	uint8_t *in = malloc(size ? size : 1); /* exact size: ASan sees any overrun */
	struct kpl_error err;
	const char *bad;
	int rc;

	memcpy(in, data, size);
	rc = kpl_deaggregate(&k, in, size, &err);
	bad = kpl_check_invariants(&k, &k2, in, size, rc, &err);
	if (bad != NULL) {
		fprintf(stderr, "invariant: %s (%s)\n", bad, err.message);
		abort();
	}
	if (rc == KPL_AGGREGATED) {
		/* An upper half that depends on the input, so both answers occur. */
		uint64_t hi = size > 40 ? (uint64_t)in[size - 20] << 56 : 0;
		struct kpl_hash_range r = { { hi, 0 }, { UINT64_MAX, UINT64_MAX } };
		size_t first = SIZE_MAX;

		rc = kpl_check_hash_range(&k, &r, &first);
		CHECK(rc == 1 || (rc == 0 && first < k.n_records));
		CHECK(kpl_terminate_keys(&k) == 0);
		for (size_t i = 0; i < k.n_records; i++) {
			CHECK(strlen(k.records[i].partition_key) <= k.records[i].partition_key_len);
			CHECK(k.records[i].explicit_hash_key == NULL ||
			    strlen(k.records[i].explicit_hash_key) ==
				k.records[i].explicit_hash_key_len);
		}
	}
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct kls_buf f;
	const uint8_t *proto = data;
	size_t len = size;

	if (!ready) {
		struct kpl_limits lim;

		/* Small limits, so small inputs reach them. */
		kpl_limits_default(&lim);
		lim.max_records = 64;
		lim.max_table_entries = 16;
		lim.max_partition_key = 64;
		CHECK(kpl_init(&k, &lim) == 0 && kpl_init(&k2, NULL) == 0);
		ready = 1;
	}
	run(data, size);
	if (size > KPL_MAGIC_LEN + KPL_MD5_LEN && memcmp(data, kpl_magic, KPL_MAGIC_LEN) == 0) {
		proto = data + KPL_MAGIC_LEN;
		len = size - KPL_MAGIC_LEN - KPL_MD5_LEN;
	}
	buf_init(&f, 0);
	CHECK(kpl_frame(&f, proto, len) == 0);
	run((const uint8_t *)f.data, f.len);
	buf_free(&f);
	return 0;
}
