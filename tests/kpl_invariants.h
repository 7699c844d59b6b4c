/*
 * What must hold after any kpl_deaggregate call, whatever the input: shared by the unit
 * test's mutation loop (tests/unit/kpl_test.c) and the libFuzzer target
 * (tests/fuzz/kpl_fuzz.c), so both check the same contract. Header-only because the fuzz
 * target is built outside automake from a fixed list of sources.
 */
#ifndef KLS_TEST_KPL_INVARIANTS_H
#define KLS_TEST_KPL_INVARIANTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kpl.h"
#include "common/kpl_encode.h"

static int
kpl_inv_within(const void *p, size_t n, const unsigned char *in, size_t len)
{
	const unsigned char *q = p;

	return q >= in && q <= in + len && n <= (size_t)(in + len - q);
}

/*
 * Checks the result of rc = kpl_deaggregate(k, in, len, err). For an aggregate, re-encodes
 * its user records with kpl_encode, decodes that with k2 and compares: the decoder and the
 * encoder must agree on every user record. Returns NULL when all holds, else what failed.
 */
static const char *
kpl_check_invariants(struct kpl *k, struct kpl *k2, const unsigned char *in, size_t len, int rc,
    const struct kpl_error *err)
{
	struct kpl_entry *e;
	struct kls_buf b;
	struct kpl_error err2;
	const char *bad = NULL;

	if (rc == KPL_NOT_AGGREGATED) {
		if (err->reason == KPL_OK || err->message[0] == '\0' || err->offset > len)
			return "not aggregated without a reason, message and offset";
		if (k->n_records != 0)
			return "not aggregated but records left";
		if (len >= KPL_MAGIC_LEN && memcmp(in, kpl_magic, KPL_MAGIC_LEN) == 0 &&
		    err->reason == KPL_NO_MAGIC)
			return "magic present but reason no_magic";
		return NULL;
	}
	if (rc != KPL_AGGREGATED)
		return "kpl_deaggregate failed outright";
	if (err->reason != KPL_OK)
		return "aggregated with a reason";
	if (len <= KPL_MAGIC_LEN + KPL_MD5_LEN || memcmp(in, kpl_magic, KPL_MAGIC_LEN) != 0)
		return "aggregated without magic or trailer";
	if (k->n_records > k->lim.max_records || k->n_pk > k->lim.max_table_entries ||
	    k->n_ehk > k->lim.max_table_entries)
		return "a count above its limit";
	len -= KPL_MD5_LEN; /* no view may reach into the trailer */
	for (size_t i = 0; i < k->n_records; i++) {
		const struct kpl_user_record *u = &k->records[i];

		if (u->sub_sequence_number != i)
			return "sub-sequence numbers not 0..n-1";
		if (!kpl_inv_within(u->data, u->data_len, in, len) ||
		    !kpl_inv_within(u->partition_key, u->partition_key_len, in, len))
			return "a data or partition key view outside the input";
		if (u->partition_key_index >= k->n_pk ||
		    u->partition_key != k->pk_table[u->partition_key_index].ptr ||
		    u->partition_key_len > k->lim.max_partition_key)
			return "partition key does not match its table entry";
		if (u->explicit_hash_key != NULL) {
			struct kpl_u128 v;

			if (u->explicit_hash_key_index >= k->n_ehk || !kpl_inv_within(
			    u->explicit_hash_key, u->explicit_hash_key_len, in, len))
				return "an explicit hash key view outside the input or its table";
			if (kpl_u128_parse(u->explicit_hash_key, u->explicit_hash_key_len, &v) != 0)
				return "an explicit hash key that is not a 128-bit decimal";
		} else if (u->explicit_hash_key_index != UINT32_MAX) {
			return "explicit hash key index without a key";
		}
	}

	/* Round trip through the encoder. */
	e = calloc(k->n_records ? k->n_records : 1, sizeof(*e));
	if (e == NULL)
		return "out of memory";
	for (size_t i = 0; i < k->n_records; i++) {
		const struct kpl_user_record *u = &k->records[i];

		e[i] = (struct kpl_entry){ u->data, u->data_len, u->partition_key,
			u->partition_key_len, u->explicit_hash_key, u->explicit_hash_key_len };
	}
	buf_init(&b, 0);
	if (kpl_encode(&b, e, k->n_records) != 0) {
		bad = "kpl_encode failed";
	} else if (b.len <= KPL_MAGIC_LEN + KPL_MD5_LEN) {
		/* No records re-encode to an empty message, which KCL's rule calls too short. */
		if (k->n_records != 0 || kpl_deaggregate(k2, b.data, b.len, &err2) !=
		    KPL_NOT_AGGREGATED || err2.reason != KPL_TOO_SHORT)
			bad = "an empty re-encoding is not too short";
	} else if (kpl_deaggregate(k2, b.data, b.len, &err2) != KPL_AGGREGATED ||
	    k2->n_records != k->n_records) {
		bad = "re-encoded aggregate does not decode to as many records";
	} else {
		for (size_t i = 0; i < k->n_records && bad == NULL; i++) {
			const struct kpl_user_record *u = &k->records[i], *v = &k2->records[i];

			if (u->data_len != v->data_len ||
			    memcmp(u->data, v->data, u->data_len) != 0 ||
			    u->partition_key_len != v->partition_key_len ||
			    memcmp(u->partition_key, v->partition_key, u->partition_key_len) != 0 ||
			    (u->explicit_hash_key == NULL) != (v->explicit_hash_key == NULL) ||
			    u->explicit_hash_key_len != v->explicit_hash_key_len ||
			    (u->explicit_hash_key != NULL &&
				memcmp(u->explicit_hash_key, v->explicit_hash_key,
				    u->explicit_hash_key_len) != 0))
				bad = "re-encoded user record differs";
		}
	}
	buf_free(&b);
	free(e);
	return bad;
}

#endif
