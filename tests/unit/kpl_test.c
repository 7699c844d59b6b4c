/*
 * Tests of common/kpl (de-aggregation, hash ranges) and common/kpl_encode: the public
 * vectors in testdata/kpl, aggregates built here (round trips, corrupt MD5, truncation at
 * every offset, huge lengths, varint overflow, bad indices, wrong wire types, limits), the
 * hash-key range check, and a deterministic mutation loop. Every decode goes through an
 * exact-size heap copy, so ASan sees any read past the input, and through the shared
 * invariant check of tests/kpl_invariants.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kpl.h"
#include "common/kpl_encode.h"
#include "tests/harness.h"
#include "tests/kpl_invariants.h"

/* The vectors testdata/kpl/README.md lists; the test fails if any is missing. */
#define KPL_VECTORS 5

/* 2^128 - 1 and 2^64 in decimal. */
#define U128_MAX_DEC "340282366920938463463374607431768211455"
#define U128_2P64_DEC "18446744073709551616"

static struct kpl K, K2;
static unsigned char *last_in; /* the input K's views point into */
static size_t last_len;

static int
suite_init(void)
{
	return kpl_init(&K, NULL) != 0 || kpl_init(&K2, NULL) != 0;
}

static int
suite_cleanup(void)
{
	kpl_free(&K);
	kpl_free(&K2);
	free(last_in);
	last_in = NULL;
	return 0;
}

/* De-aggregates an exact-size copy of p[0..n) with K and checks the invariants. */
static int
deagg(const void *p, size_t n, struct kpl_error *err)
{
	const char *bad;
	int rc;

	free(last_in);
	last_in = malloc(n ? n : 1);
	CU_ASSERT_FATAL(last_in != NULL);
	if (n)
		memcpy(last_in, p, n);
	last_len = n;
	rc = kpl_deaggregate(&K, last_in, n, err);
	bad = kpl_check_invariants(&K, &K2, last_in, n, rc, err);
	if (bad != NULL)
		fprintf(stderr, "invariant: %s (%s)\n", bad, err->message);
	CU_ASSERT_PTR_NULL(bad);
	return rc;
}

/* Frames proto[0..n) (magic, MD5) and de-aggregates it. */
static int
deagg_proto(const void *proto, size_t n, struct kpl_error *err)
{
	struct kls_buf f;
	int rc;

	buf_init(&f, 0);
	CU_ASSERT_FATAL(kpl_frame(&f, proto, n) == 0);
	rc = deagg(f.data, f.len, err);
	buf_free(&f);
	return rc;
}

/* Appends a length-delimited field holding msg (an embedded message). */
static void
put_msg(struct kls_buf *b, uint32_t field, const struct kls_buf *msg)
{
	CU_ASSERT_FATAL(kpl_put_bytes(b, field, msg->data, msg->len) == 0);
}

/* Appends Record { pk_index, [ehk_index], data } as field 3. ehk < 0: none. */
static void
put_record(struct kls_buf *b, uint64_t pk, long long ehk, const char *data)
{
	struct kls_buf r;

	buf_init(&r, 0);
	kpl_put_uint(&r, 1, pk);
	if (ehk >= 0)
		kpl_put_uint(&r, 2, (uint64_t)ehk);
	kpl_put_bytes(&r, 3, data, strlen(data));
	put_msg(b, 3, &r);
	buf_free(&r);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return p;
}

static void
to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static json_object *
jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	CU_ASSERT_FATAL(json_object_object_get_ex(o, key, &v));
	return v;
}

/* Compares K's key table with the expected JSON array of strings. */
static void
check_table(const struct kpl_key *table, size_t n, json_object *want)
{
	CU_ASSERT_EQUAL_FATAL(n, json_object_array_length(want));
	for (size_t i = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(want, i));

		CU_ASSERT_EQUAL(table[i].len, strlen(s));
		CU_ASSERT(memcmp(table[i].ptr, s, table[i].len) == 0);
	}
}

/* One vector: the .bin against its .expected.json. */
static void
check_vector(const char *dir, const char *name)
{
	char path[1024], hex[2 * 1024 * 16 + 1], sha[2 * 32 + 1];
	unsigned char digest[32], *bin;
	size_t len = 0, nbase = strlen(name) - strlen(".bin");
	json_object *exp, *recs;
	struct kpl_error err;
	unsigned dlen = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	bin = read_file(path, &len);
	CU_ASSERT_FATAL(bin != NULL);
	snprintf(path, sizeof(path), "%s/%.*s.expected.json", dir, (int)nbase, name);
	exp = json_object_from_file(path);
	if (exp == NULL)
		fprintf(stderr, "%s: %s\n", path, json_util_get_last_err());
	CU_ASSERT_FATAL(exp != NULL);

	/* The file is the one the expectations describe. */
	CU_ASSERT_EQUAL(json_object_get_int64(jget(exp, "bytes")), (int64_t)len);
	CU_ASSERT(EVP_Digest(bin, len, digest, &dlen, EVP_sha256(), NULL) == 1);
	to_hex(digest, 32, sha);
	CU_ASSERT_STRING_EQUAL(sha, jstr(exp, "sha256"));

	rc = deagg(bin, len, &err);
	recs = jget(exp, "user_records");
	if (!json_object_get_boolean(jget(exp, "is_aggregated"))) {
		CU_ASSERT_EQUAL(rc, KPL_NOT_AGGREGATED);
		CU_ASSERT_EQUAL(err.reason, KPL_NO_MAGIC);
		/* Delivered raw: the one user record is the record itself. */
		CU_ASSERT_EQUAL(json_object_array_length(recs), 1);
		to_hex(bin, len, hex);
		CU_ASSERT_STRING_EQUAL(hex, jstr(json_object_array_get_idx(recs, 0), "data_hex"));
		goto out;
	}
	if (rc != KPL_AGGREGATED)
		fprintf(stderr, "%s: %s\n", name, err.message);
	CU_ASSERT_EQUAL_FATAL(rc, KPL_AGGREGATED);
	to_hex(bin, KPL_MAGIC_LEN, hex);
	CU_ASSERT_STRING_EQUAL(hex, jstr(exp, "magic_hex"));
	to_hex(bin + len - KPL_MD5_LEN, KPL_MD5_LEN, hex);
	CU_ASSERT_STRING_EQUAL(hex, jstr(exp, "md5_trailer_hex"));
	CU_ASSERT_EQUAL(json_object_get_int64(jget(exp, "protobuf_bytes")),
	    (int64_t)(len - KPL_MAGIC_LEN - KPL_MD5_LEN));
	check_table(K.pk_table, K.n_pk, jget(exp, "partition_key_table"));
	check_table(K.ehk_table, K.n_ehk, jget(exp, "explicit_hash_key_table"));
	CU_ASSERT_EQUAL_FATAL(K.n_records, json_object_array_length(recs));
	for (size_t i = 0; i < K.n_records; i++) {
		const struct kpl_user_record *u = &K.records[i];
		json_object *w = json_object_array_get_idx(recs, i);
		const char *ehk = jstr(w, "explicit_hash_key"), *pk = jstr(w, "partition_key");

		CU_ASSERT_EQUAL(u->sub_sequence_number,
		    (uint64_t)json_object_get_int64(jget(w, "sub_sequence_number")));
		CU_ASSERT_EQUAL(u->partition_key_len, strlen(pk));
		CU_ASSERT(memcmp(u->partition_key, pk, u->partition_key_len) == 0);
		if (ehk == NULL) {
			CU_ASSERT_PTR_NULL(u->explicit_hash_key);
		} else {
			CU_ASSERT_FATAL(u->explicit_hash_key != NULL);
			CU_ASSERT_EQUAL(u->explicit_hash_key_len, strlen(ehk));
			CU_ASSERT(memcmp(u->explicit_hash_key, ehk, strlen(ehk)) == 0);
		}
		CU_ASSERT_FATAL(u->data_len < 1024 * 16);
		to_hex(u->data, u->data_len, hex);
		CU_ASSERT_STRING_EQUAL(hex, jstr(w, "data_hex"));
	}

	/* The README's derived negatives: a flipped last byte, a cut to 20 bytes. */
	bin[len - 1] ^= 1;
	CU_ASSERT_EQUAL(deagg(bin, len, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_MD5_MISMATCH);
	CU_ASSERT_EQUAL(deagg(bin, 20, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_TOO_SHORT);
out:
	json_object_put(exp);
	free(bin);
}

static void
test_kpl_vectors(void)
{
	const char *dir;
	char path[1024];
	struct dirent *de;
	DIR *d;
	size_t n_bin = 0;

	snprintf(path, sizeof(path), "%s/kpl", test_data_dir());
	dir = path;
	d = opendir(dir);
	CU_ASSERT_FATAL(d != NULL);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".bin") == 0) {
			check_vector(dir, de->d_name);
			n_bin++;
		}
	}
	closedir(d);
	CU_ASSERT(n_bin >= KPL_VECTORS);
}

/* Aggregates built with kpl_encode decode to the same user records, tables shared. */
static void
test_kpl_round_trip(void)
{
	static char big[70100]; /* a 3-byte length varint */
	static const struct {
		const char *name;
		size_t n;
		int shared_pk, with_ehk; /* with_ehk: 0 none, 1 all, 2 every other record */
		size_t data_len;
		size_t want_pk, want_ehk; /* table sizes */
	} cases[] = {
		{ "one record", 1, 0, 0, 5, 1, 0 },
		{ "100 records, one partition key", 100, 1, 0, 100, 1, 0 },
		{ "100 records, 100 partition keys", 100, 0, 0, 100, 100, 0 },
		{ "explicit hash keys on all", 10, 0, 1, 7, 10, 10 },
		{ "explicit hash keys on every other", 10, 1, 2, 7, 1, 5 },
		{ "empty data", 3, 1, 0, 0, 1, 0 },
		{ "70000-byte data", 2, 0, 0, 70000, 2, 0 },
	};

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct kpl_entry e[100];
		char pk[100][24], ehk[100][48];
		struct kls_buf b;
		struct kpl_error err;

		for (size_t i = 0; i < cases[c].n; i++) {
			snprintf(pk[i], sizeof(pk[i]), "pk-%zu", cases[c].shared_pk ? 0 : i);
			snprintf(ehk[i], sizeof(ehk[i]), "%zu%s", i, U128_2P64_DEC);
			e[i] = (struct kpl_entry){ big + i, cases[c].data_len, pk[i], strlen(pk[i]),
				NULL, 0 };
			if (cases[c].with_ehk == 1 || (cases[c].with_ehk == 2 && i % 2 == 1)) {
				e[i].explicit_hash_key = ehk[i];
				e[i].explicit_hash_key_len = strlen(ehk[i]);
			}
		}
		buf_init(&b, 0);
		CU_ASSERT_FATAL(kpl_encode(&b, e, cases[c].n) == 0);
		CU_ASSERT_EQUAL_FATAL(deagg(b.data, b.len, &err), KPL_AGGREGATED);
		CU_ASSERT_EQUAL(K.n_records, cases[c].n);
		CU_ASSERT_EQUAL(K.n_pk, cases[c].want_pk);
		CU_ASSERT_EQUAL(K.n_ehk, cases[c].want_ehk);
		for (size_t i = 0; i < K.n_records; i++) {
			const struct kpl_user_record *u = &K.records[i];

			CU_ASSERT_EQUAL(u->sub_sequence_number, i);
			CU_ASSERT(u->data_len == e[i].data_len &&
			    memcmp(u->data, e[i].data, u->data_len) == 0);
			CU_ASSERT(u->partition_key_len == strlen(pk[i]) &&
			    memcmp(u->partition_key, pk[i], u->partition_key_len) == 0);
			if (e[i].explicit_hash_key == NULL) {
				CU_ASSERT_PTR_NULL(u->explicit_hash_key);
			} else {
				CU_ASSERT(u->explicit_hash_key_len == strlen(ehk[i]) &&
				    memcmp(u->explicit_hash_key, ehk[i], strlen(ehk[i])) == 0);
			}
		}
		buf_free(&b);
	}
}

/* A corrupt MD5 trailer, or a changed protobuf byte under the old trailer: delivered raw. */
static void
test_kpl_corrupt_md5(void)
{
	struct kpl_entry e[3] = {
		{ "a", 1, "k1", 2, NULL, 0 },
		{ "bb", 2, "k2", 2, NULL, 0 },
		{ "c", 1, "k1", 2, NULL, 0 },
	};
	struct kls_buf b;
	struct kpl_error err;

	buf_init(&b, 0);
	CU_ASSERT_FATAL(kpl_encode(&b, e, 3) == 0);
	for (size_t i = KPL_MAGIC_LEN; i < b.len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			b.data[i] ^= (char)(1u << bit);
			CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_NOT_AGGREGATED);
			CU_ASSERT_EQUAL(err.reason, KPL_MD5_MISMATCH);
			b.data[i] ^= (char)(1u << bit);
		}
	}
	CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_AGGREGATED);
	buf_free(&b);
}

/*
 * An aggregate cut at every offset. Re-framed (a valid MD5 over the cut protobuf), it is an
 * aggregate exactly when the cut falls between two top-level fields, and then holds the
 * records before the cut; anywhere else it is malformed. Not re-framed, it never passes.
 */
static void
test_kpl_truncated_every_offset(void)
{
	struct kls_buf p, rec, tag;
	size_t boundary[32], n_boundary = 0, records_before[32];
	size_t n_records = 0;
	struct kpl_error err;

	buf_init(&p, 0);
	buf_init(&rec, 0);
	buf_init(&tag, 0);
	boundary[n_boundary] = 0;
	records_before[n_boundary++] = 0;
#define MARK() (boundary[n_boundary] = p.len, records_before[n_boundary++] = n_records)
	kpl_put_bytes(&p, 1, "partition-key-0", 15);
	MARK();
	kpl_put_bytes(&p, 1, "partition-key-1", 15);
	MARK();
	kpl_put_bytes(&p, 2, U128_MAX_DEC, strlen(U128_MAX_DEC));
	MARK();
	kpl_put_uint(&p, 15, 300); /* an unknown field */
	MARK();
	for (int i = 0; i < 4; i++) {
		buf_reset(&rec);
		buf_reset(&tag);
		kpl_put_uint(&rec, 1, (uint64_t)(i % 2));
		if (i == 1)
			kpl_put_uint(&rec, 2, 0);
		kpl_put_bytes(&rec, 3, "user record data", 16);
		if (i == 2) {
			kpl_put_bytes(&tag, 1, "tag-key", 7);
			kpl_put_bytes(&tag, 2, "tag-value", 9);
			put_msg(&rec, 4, &tag);
		}
		put_msg(&p, 3, &rec);
		n_records++;
		MARK();
	}
#undef MARK
	for (size_t cut = 0; cut <= p.len; cut++) {
		size_t j = 0;
		int rc;

		while (j < n_boundary && boundary[j] != cut)
			j++;
		rc = deagg_proto(p.data, cut, &err);
		if (cut == 0) {
			CU_ASSERT_EQUAL(rc, KPL_NOT_AGGREGATED);
			CU_ASSERT_EQUAL(err.reason, KPL_TOO_SHORT);
		} else if (j < n_boundary) {
			CU_ASSERT_EQUAL(rc, KPL_AGGREGATED);
			CU_ASSERT_EQUAL(K.n_records, records_before[j]);
		} else {
			CU_ASSERT_EQUAL(rc, KPL_NOT_AGGREGATED);
			CU_ASSERT_EQUAL(err.reason, KPL_MALFORMED);
		}
	}
	{
		struct kls_buf f;

		buf_init(&f, 0);
		CU_ASSERT_FATAL(kpl_frame(&f, p.data, p.len) == 0);
		for (size_t cut = 0; cut < f.len; cut++)
			CU_ASSERT_EQUAL(deagg(f.data, cut, &err), KPL_NOT_AGGREGATED);
		CU_ASSERT_EQUAL(deagg(f.data, f.len, &err), KPL_AGGREGATED);
		CU_ASSERT_EQUAL(K.n_records, 4);
		buf_free(&f);
	}
	buf_free(&p);
	buf_free(&rec);
	buf_free(&tag);
}

/* Raw protobuf cases: bytes after the magic (MD5 recomputed), and what must come out. */
struct raw_case {
	const char *name;
	const char *proto;
	size_t len;
	int rc;
	enum kpl_reason reason;
	size_t n_records;
};

#define RAW(s) s, sizeof(s) - 1
/* The expected outcome: not an aggregate for this reason, or an aggregate of n records. */
#define BAD(reason) KPL_NOT_AGGREGATED, reason, 0
#define GOOD(n) KPL_AGGREGATED, KPL_OK, n
/* A valid table (pk "k") and a valid record (index 0, data "d"), for prefixing. */
#define PK "\x0a\x01k"
#define REC "\x1a\x05\x08\x00\x1a\x01" "d"

static void
run_raw_cases(const struct raw_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct kpl_error err;
		int rc = deagg_proto(c[i].proto, c[i].len, &err);

		if (rc != c[i].rc || (rc == KPL_NOT_AGGREGATED && err.reason != c[i].reason) ||
		    (rc == KPL_AGGREGATED && K.n_records != c[i].n_records))
			fprintf(stderr, "case \"%s\": rc %d reason %s (%s)\n", c[i].name, rc,
			    kpl_reason_name(err.reason), err.message);
		CU_ASSERT_EQUAL(rc, c[i].rc);
		if (rc == KPL_NOT_AGGREGATED) {
			CU_ASSERT_EQUAL(err.reason, c[i].reason);
		} else {
			CU_ASSERT_EQUAL(K.n_records, c[i].n_records);
		}
	}
}

static void
test_kpl_huge_lengths(void)
{
	static const struct raw_case cases[] = {
		{ "table entry one past the end", RAW("\x0a\x02k"), BAD(KPL_MALFORMED) },
		{ "table entry 2^31", RAW("\x0a\x80\x80\x80\x80\x08k"), BAD(KPL_MALFORMED) },
		{ "table entry 2^63", RAW("\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01k"),
		    BAD(KPL_MALFORMED) },
		{ "table entry 2^64-1", RAW("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01k"),
		    BAD(KPL_MALFORMED) },
		{ "record past the end", RAW(PK "\x1a\x06\x08\x00\x1a\x01" "d"),
		    BAD(KPL_MALFORMED) },
		/* The data field fits the aggregate but not its Record. */
		{ "data past its record", RAW(PK "\x1a\x05\x08\x00\x1a\x02" "d" REC),
		    BAD(KPL_MALFORMED) },
		{ "data 2^64-1",
		    RAW(PK "\x1a\x0e\x08\x00\x1a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" "d"),
		    BAD(KPL_MALFORMED) },
		{ "tag key past its tag", RAW(PK "\x1a\x0a\x08\x00\x1a\x01" "d\x22\x03\x0a\x05k"),
		    BAD(KPL_MALFORMED) },
		{ "unknown field past the end", RAW(PK REC "\x7a\x7f" "abc"), BAD(KPL_MALFORMED) },
		{ "truncated fixed64", RAW(PK REC "\x79\x01\x02\x03"), BAD(KPL_MALFORMED) },
		{ "truncated fixed32", RAW(PK REC "\x7d\x01\x02\x03"), BAD(KPL_MALFORMED) },
	};

	run_raw_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_kpl_varint_overflow(void)
{
	static const struct raw_case cases[] = {
		/* 10 bytes, last 0x01: 2^64-1, a valid varint but no table has that many. */
		{ "pk index 2^64-1", RAW(PK "\x1a\x0e\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
		    "\x1a\x01" "d"), BAD(KPL_BAD_INDEX) },
		{ "pk index 0 in 10 bytes", RAW(PK "\x1a\x0e\x08\x80\x80\x80\x80\x80\x80\x80\x80"
		    "\x80\x00\x1a\x01" "d"), GOOD(1) },
		{ "tenth byte 0x02", RAW(PK "\x1a\x0e\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"
		    "\x1a\x01" "d"), BAD(KPL_MALFORMED) },
		{ "eleven bytes", RAW(PK "\x1a\x0f\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"
		    "\x1a\x01" "d"), BAD(KPL_MALFORMED) },
		{ "key varint eleven bytes", RAW(PK "\x88\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"),
		    BAD(KPL_MALFORMED) },
		{ "key field number 2^29", RAW(PK "\x80\x80\x80\x80\x10\x00"), BAD(KPL_MALFORMED) },
		{ "key field number 2^29-1", RAW(PK REC "\xf8\xff\xff\xff\x0f\x00"), GOOD(1) },
		{ "varint cut at the end", RAW(PK REC "\x78\x80"), BAD(KPL_MALFORMED) },
		{ "key cut at the end", RAW(PK REC "\x80"), BAD(KPL_MALFORMED) },
		{ "length cut at the end", RAW(PK REC "\x0a\x80"), BAD(KPL_MALFORMED) },
	};

	run_raw_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_kpl_bad_indices(void)
{
	static const struct raw_case cases[] = {
		{ "pk index 0 of 1", RAW(PK REC), GOOD(1) },
		{ "pk index 1 of 1", RAW(PK "\x1a\x05\x08\x01\x1a\x01" "d"), BAD(KPL_BAD_INDEX) },
		{ "pk index 99 of 1", RAW(PK "\x1a\x05\x08\x63\x1a\x01" "d"), BAD(KPL_BAD_INDEX) },
		{ "no partition key table", RAW(REC), BAD(KPL_BAD_INDEX) },
		{ "ehk index with no table", RAW(PK "\x1a\x07\x08\x00\x10\x00\x1a\x01" "d"),
		    BAD(KPL_BAD_INDEX) },
		{ "ehk index 1 of 1", RAW(PK "\x12\x01" "5" "\x1a\x07\x08\x00\x10\x01\x1a\x01" "d"),
		    BAD(KPL_BAD_INDEX) },
		{ "ehk index 0 of 1", RAW(PK "\x12\x01" "5" "\x1a\x07\x08\x00\x10\x00\x1a\x01" "d"),
		    GOOD(1) },
		/* A bad index in the last record rejects all of them (KCL would keep 2). */
		{ "bad index after good records", RAW(PK REC REC "\x1a\x05\x08\x07\x1a\x01" "d"),
		    BAD(KPL_BAD_INDEX) },
		/* Tables after the records are still tables. */
		{ "table after the records", RAW(REC PK), GOOD(1) },
	};
	struct kpl_error err;

	run_raw_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* The message names the record, the field and the table, for the log. */
	CU_ASSERT_EQUAL(deagg_proto(RAW(PK REC REC "\x1a\x05\x08\x07\x1a\x01" "d"), &err),
	    KPL_NOT_AGGREGATED);
	CU_ASSERT_STRING_EQUAL(err.message,
	    "records[2]: partition_key_index 7, table has 1 entries");
	CU_ASSERT_EQUAL(err.offset, KPL_MAGIC_LEN + 3 + 7 + 7 + 2); /* the third Record's body */
}

static void
test_kpl_wire_types(void)
{
	static const struct raw_case cases[] = {
		{ "pk table as varint", RAW("\x08\x01" REC), BAD(KPL_MALFORMED) },
		{ "ehk table as fixed32", RAW(PK "\x15\x01\x02\x03\x04" REC), BAD(KPL_MALFORMED) },
		{ "records as fixed64", RAW(PK "\x19\x01\x02\x03\x04\x05\x06\x07\x08"),
		    BAD(KPL_MALFORMED) },
		{ "pk index as bytes", RAW(PK "\x1a\x06\x0a\x01\x00\x1a\x01" "d"),
		    BAD(KPL_MALFORMED) },
		{ "ehk index as fixed64", RAW(PK "\x12\x01" "5" "\x1a\x0e\x08\x00\x11\x00\x00\x00"
		    "\x00\x00\x00\x00\x00\x1a\x01" "d"), BAD(KPL_MALFORMED) },
		{ "data as varint", RAW(PK "\x1a\x04\x08\x00\x18\x01"), BAD(KPL_MALFORMED) },
		{ "tags as varint", RAW(PK "\x1a\x07\x08\x00\x1a\x01" "d\x20\x01"),
		    BAD(KPL_MALFORMED) },
		/* Found by the fuzzer: a tags field of the wrong type before any other field. */
		{ "tags as varint, first", RAW(PK "\x1a\x07\x20\x01\x08\x00\x1a\x01" "d"),
		    BAD(KPL_MALFORMED) },
		{ "tag key as varint", RAW(PK "\x1a\x09\x08\x00\x1a\x01" "d\x22\x02\x08\x01"),
		    BAD(KPL_MALFORMED) },
		{ "start group at the top", RAW(PK REC "\x7b\x7c"), BAD(KPL_MALFORMED) },
		{ "end group in a record", RAW(PK "\x1a\x06\x08\x00\x1a\x01" "d\x7c"),
		    BAD(KPL_MALFORMED) },
		{ "wire type 6", RAW(PK REC "\x7e\x00"), BAD(KPL_MALFORMED) },
		{ "wire type 7", RAW(PK REC "\x7f\x00"), BAD(KPL_MALFORMED) },
		{ "field number 0", RAW(PK REC "\x02\x00"), BAD(KPL_MALFORMED) },
		/* Unknown fields of every valid wire type, at every level, are skipped. */
		{ "unknown fields everywhere",
		    RAW("\x78\x01" PK "\x79\x01\x02\x03\x04\x05\x06\x07\x08" "\x7a\x02zz"
		    "\x7d\x01\x02\x03\x04" "\x1a\x19\x78\x05\x08\x00\x7a\x01z\x1a\x01" "d"
		    "\x22\x0d\x0a\x01k\x12\x01v\x78\x00\x7d\x00\x00\x00\x00" REC),
		    GOOD(2) },
		/* A repeated scalar keeps its last value, as in protobuf. */
		{ "pk index twice, last valid", RAW(PK "\x1a\x07\x08\x05\x08\x00\x1a\x01" "d"),
		    GOOD(1) },
		{ "pk index twice, last invalid", RAW(PK "\x1a\x07\x08\x00\x08\x05\x1a\x01" "d"),
		    BAD(KPL_BAD_INDEX) },
	};

	run_raw_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_kpl_missing_fields(void)
{
	static const struct raw_case cases[] = {
		{ "no partition_key_index", RAW(PK "\x1a\x03\x1a\x01" "d"),
		    BAD(KPL_MISSING_FIELD) },
		{ "no data", RAW(PK "\x1a\x02\x08\x00"), BAD(KPL_MISSING_FIELD) },
		{ "empty record", RAW(PK "\x1a\x00"), BAD(KPL_MISSING_FIELD) },
		{ "tag without key", RAW(PK "\x1a\x0a\x08\x00\x1a\x01" "d\x22\x03\x12\x01v"),
		    BAD(KPL_MISSING_FIELD) },
		{ "tag with key only", RAW(PK "\x1a\x0a\x08\x00\x1a\x01" "d\x22\x03\x0a\x01k"),
		    GOOD(1) },
		{ "empty data", RAW(PK "\x1a\x04\x08\x00\x1a\x00"), GOOD(1) },
	};

	run_raw_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Aggregates with nothing in them, and records that are not aggregates at all. */
static void
test_kpl_empty_and_not_aggregated(void)
{
	static const struct raw_case cases[] = {
		/* KCL: 16 bytes or fewer after the magic are not an aggregate. */
		{ "empty AggregatedRecord", RAW(""), BAD(KPL_TOO_SHORT) },
		/* A valid message without records: nothing to deliver, as in KCL. */
		{ "only a partition key table", RAW(PK), GOOD(0) },
		{ "only an unknown field", RAW("\x78\x01"), GOOD(0) },
	};
	static const struct {
		const char *bytes;
		size_t len;
		enum kpl_reason reason;
	} raw[] = {
		{ "", 0, KPL_NO_MAGIC },
		{ "\xf3", 1, KPL_NO_MAGIC },
		{ "\xf3\x89\x9a", 3, KPL_NO_MAGIC },
		{ "\xf3\x89\x9a\xc2", 4, KPL_TOO_SHORT },
		{ "\xf3\x89\x9a\xc3" "0123456789abcdef0123", 24, KPL_NO_MAGIC },
		{ "\xf2\x89\x9a\xc2" "0123456789abcdef0123", 24, KPL_NO_MAGIC },
		{ "\xf3\x89\x9a\xc2" "0123456789abcdef", 20, KPL_TOO_SHORT },
		{ "\xf3\x89\x9a\xc2" "0123456789abcdef0", 21, KPL_MD5_MISMATCH },
		{ "{\"json\": \"a plain record\"}", 26, KPL_NO_MAGIC },
	};
	struct kpl_error err;
	struct kls_buf b;

	run_raw_cases(cases, sizeof(cases) / sizeof(cases[0]));
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		CU_ASSERT_EQUAL(deagg(raw[i].bytes, raw[i].len, &err), KPL_NOT_AGGREGATED);
		CU_ASSERT_EQUAL(err.reason, raw[i].reason);
		CU_ASSERT_STRING_NOT_EQUAL(err.message, "");
	}
	CU_ASSERT_EQUAL(kpl_deaggregate(&K, NULL, 0, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_NO_MAGIC);
	/* kpl_encode of no records writes the 20-byte empty aggregate. */
	buf_init(&b, 0);
	CU_ASSERT_FATAL(kpl_encode(&b, NULL, 0) == 0);
	CU_ASSERT_EQUAL(b.len, 20);
	CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_TOO_SHORT);
	buf_free(&b);
	CU_ASSERT_STRING_EQUAL(kpl_reason_name(KPL_MD5_MISMATCH), "md5_mismatch");
	CU_ASSERT_STRING_EQUAL(kpl_reason_name((enum kpl_reason)99), "unknown");
}

/* Counts and lengths beyond the limits, and explicit hash keys that are not numbers. */
static void
test_kpl_limits_and_hash_keys(void)
{
	struct kpl_limits lim;
	struct kpl small;
	struct kpl_entry e[5];
	struct kls_buf b;
	struct kpl_error err;
	char pk[5][8], longpk[1025];
	static const struct {
		const char *ehk;
		int ok;
	} ehks[] = {
		{ "0", 1 }, { U128_MAX_DEC, 1 }, { "000000000000000000000000000000000000007", 1 },
		{ "340282366920938463463374607431768211456", 0 }, /* 2^128 */
		{ "999999999999999999999999999999999999999", 0 },
		{ "0000000000000000000000000000000000000000", 0 }, /* 40 digits */
		{ "", 0 }, { "12a", 0 }, { "-1", 0 }, { "+1", 0 }, { " 1", 0 },
	};

	kpl_limits_default(&lim);
	lim.max_records = 3;
	lim.max_table_entries = 4;
	lim.max_partition_key = 5;
	CU_ASSERT_FATAL(kpl_init(&small, &lim) == 0);
	for (size_t i = 0; i < 5; i++) {
		snprintf(pk[i], sizeof(pk[i]), "k%zu", i);
		e[i] = (struct kpl_entry){ "x", 1, pk[i], strlen(pk[i]), NULL, 0 };
	}
	buf_init(&b, 0);
	kpl_encode(&b, e, 3);
	CU_ASSERT_EQUAL(kpl_deaggregate(&small, b.data, b.len, &err), KPL_AGGREGATED);
	buf_reset(&b);
	kpl_encode(&b, e, 4);
	CU_ASSERT_EQUAL(kpl_deaggregate(&small, b.data, b.len, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_LIMIT);
	/* Five distinct keys, three records: the table limit. */
	buf_reset(&b);
	{
		struct kls_buf p;

		buf_init(&p, 0);
		for (size_t i = 0; i < 5; i++)
			kpl_put_bytes(&p, 1, pk[i], 2);
		put_record(&p, 0, -1, "x");
		kpl_frame(&b, p.data, p.len);
		CU_ASSERT_EQUAL(kpl_deaggregate(&small, b.data, b.len, &err), KPL_NOT_AGGREGATED);
		CU_ASSERT_EQUAL(err.reason, KPL_LIMIT);
		buf_reset(&b);
		buf_reset(&p);
		for (size_t i = 0; i < 5; i++)
			kpl_put_bytes(&p, 2, "1", 1);
		kpl_put_bytes(&p, 1, "k", 1);
		put_record(&p, 0, 0, "x");
		kpl_frame(&b, p.data, p.len);
		CU_ASSERT_EQUAL(kpl_deaggregate(&small, b.data, b.len, &err), KPL_NOT_AGGREGATED);
		CU_ASSERT_EQUAL(err.reason, KPL_LIMIT);
		buf_free(&p);
	}
	/* Partition key length: 5 bytes pass, 6 do not. */
	e[0].partition_key = "12345";
	e[0].partition_key_len = 5;
	buf_reset(&b);
	kpl_encode(&b, e, 1);
	CU_ASSERT_EQUAL(kpl_deaggregate(&small, b.data, b.len, &err), KPL_AGGREGATED);
	e[0].partition_key = "123456";
	e[0].partition_key_len = 6;
	buf_reset(&b);
	kpl_encode(&b, e, 1);
	CU_ASSERT_EQUAL(kpl_deaggregate(&small, b.data, b.len, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_LIMIT);
	kpl_free(&small);
	/* The default limit: 1024 bytes. */
	memset(longpk, 'p', sizeof(longpk));
	e[0].partition_key = longpk;
	e[0].partition_key_len = 1024;
	buf_reset(&b);
	kpl_encode(&b, e, 1);
	CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_AGGREGATED);
	e[0].partition_key_len = 1025;
	buf_reset(&b);
	kpl_encode(&b, e, 1);
	CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_LIMIT);

	e[0].partition_key = "k";
	e[0].partition_key_len = 1;
	for (size_t i = 0; i < sizeof(ehks) / sizeof(ehks[0]); i++) {
		e[0].explicit_hash_key = ehks[i].ehk;
		e[0].explicit_hash_key_len = strlen(ehks[i].ehk);
		buf_reset(&b);
		CU_ASSERT_FATAL(kpl_encode(&b, e, 1) == 0);
		CU_ASSERT_EQUAL(deagg(b.data, b.len, &err),
		    ehks[i].ok ? KPL_AGGREGATED : KPL_NOT_AGGREGATED);
		if (!ehks[i].ok)
			CU_ASSERT_EQUAL(err.reason, KPL_BAD_HASH_KEY);
	}
	buf_free(&b);
}

/* The default record limit, 100,000, reached with the smallest records. */
static void
test_kpl_max_records(void)
{
	struct kls_buf p, b;
	struct kpl_error err;

	buf_init(&p, 0);
	buf_init(&b, 0);
	kpl_put_bytes(&p, 1, "k", 1);
	for (int i = 0; i < 100000; i++)
		buf_append(&p, REC, sizeof(REC) - 1);
	kpl_frame(&b, p.data, p.len);
	CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_AGGREGATED);
	CU_ASSERT_EQUAL(K.n_records, 100000);
	CU_ASSERT_EQUAL(K.records[99999].sub_sequence_number, 99999);
	buf_append(&p, REC, sizeof(REC) - 1);
	buf_reset(&b);
	kpl_frame(&b, p.data, p.len);
	CU_ASSERT_EQUAL(deagg(b.data, b.len, &err), KPL_NOT_AGGREGATED);
	CU_ASSERT_EQUAL(err.reason, KPL_LIMIT);
	buf_free(&p);
	buf_free(&b);
}

static void
test_kpl_u128(void)
{
	static const struct {
		const char *s;
		int ok;
		uint64_t hi, lo;
	} cases[] = {
		{ "0", 1, 0, 0 },
		{ "1", 1, 0, 1 },
		{ "18446744073709551615", 1, 0, UINT64_MAX },
		{ U128_2P64_DEC, 1, 1, 0 },
		{ "170141183460469231731687303715884105728", 1, 1ull << 63, 0 }, /* 2^127 */
		{ U128_MAX_DEC, 1, UINT64_MAX, UINT64_MAX },
		{ "340282366920938463463374607431768211456", 0, 0, 0 },
		{ "1000000000000000000000000000000000000000", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "1x", 0, 0, 0 },
	};
	struct kpl_hash_range r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kpl_u128 v = { 7, 7 };
		int rc = kpl_u128_parse(cases[i].s, strlen(cases[i].s), &v);

		CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
		if (cases[i].ok) {
			CU_ASSERT(v.hi == cases[i].hi && v.lo == cases[i].lo);
		} else {
			CU_ASSERT_EQUAL(errno, EINVAL);
		}
	}
	CU_ASSERT(kpl_u128_cmp((struct kpl_u128){ 0, 1 }, (struct kpl_u128){ 1, 0 }) < 0);
	CU_ASSERT(kpl_u128_cmp((struct kpl_u128){ 1, 0 }, (struct kpl_u128){ 0, UINT64_MAX }) > 0);
	CU_ASSERT(kpl_u128_cmp((struct kpl_u128){ 1, 2 }, (struct kpl_u128){ 1, 3 }) < 0);
	CU_ASSERT(kpl_u128_cmp((struct kpl_u128){ 5, 5 }, (struct kpl_u128){ 5, 5 }) == 0);
	CU_ASSERT_EQUAL(kpl_hash_range_parse(&r, "0", U128_MAX_DEC), 0);
	CU_ASSERT_EQUAL(kpl_hash_range_parse(&r, "5", "5"), 0);
	CU_ASSERT_EQUAL(kpl_hash_range_parse(&r, "6", "5"), -1);
	CU_ASSERT_EQUAL(kpl_hash_range_parse(&r, "0", "340282366920938463463374607431768211456"),
	    -1);
	CU_ASSERT_EQUAL(kpl_hash_range_parse(&r, "", "5"), -1);
}

/* Decodes one user record with partition key pk and explicit hash key ehk (or none). */
static void
decode_one(const char *pk, const char *ehk)
{
	struct kpl_entry e = { "d", 1, pk, strlen(pk), ehk, ehk ? strlen(ehk) : 0 };
	struct kls_buf b;
	struct kpl_error err;

	buf_init(&b, 0);
	CU_ASSERT_FATAL(kpl_encode(&b, &e, 1) == 0);
	CU_ASSERT_EQUAL_FATAL(deagg(b.data, b.len, &err), KPL_AGGREGATED);
	buf_free(&b);
}

/* 1 in range, 0 not, for the one record decode_one left in K. */
static int
in_range(const char *start, const char *end)
{
	struct kpl_hash_range r;
	size_t first = 99;
	int rc;

	CU_ASSERT_FATAL(kpl_hash_range_parse(&r, start, end) == 0);
	rc = kpl_check_hash_range(&K, &r, &first);
	CU_ASSERT(rc == 1 || (rc == 0 && first == 0));
	return rc;
}

static void
test_kpl_hash_range(void)
{
	/* MD5("") = d41d8cd98f00b204e9800998ecf8427e, and that as a decimal number. */
	static const char md5_empty[] = "281949768489412648962353822266799178366";
	static const char md5_empty_m1[] = "281949768489412648962353822266799178365";
	static const char md5_empty_p1[] = "281949768489412648962353822266799178367";
	struct kpl_u128 h;

	CU_ASSERT_EQUAL(kpl_partition_key_hash("", 0, &h), 0);
	CU_ASSERT(h.hi == 0xd41d8cd98f00b204ull && h.lo == 0xe9800998ecf8427eull);

	decode_one("", NULL);
	CU_ASSERT_EQUAL(in_range("0", U128_MAX_DEC), 1);
	CU_ASSERT_EQUAL(in_range(md5_empty, md5_empty), 1);
	CU_ASSERT_EQUAL(in_range(md5_empty_m1, md5_empty), 1);
	CU_ASSERT_EQUAL(in_range(md5_empty, md5_empty_p1), 1);
	CU_ASSERT_EQUAL(in_range(md5_empty_p1, U128_MAX_DEC), 0);
	CU_ASSERT_EQUAL(in_range("0", md5_empty_m1), 0);

	/* The explicit hash key wins over the partition key. */
	decode_one("", "0");
	CU_ASSERT_EQUAL(in_range("0", "0"), 1);
	CU_ASSERT_EQUAL(in_range("1", U128_MAX_DEC), 0);
	CU_ASSERT_EQUAL(in_range(md5_empty, md5_empty), 0);
	decode_one("", U128_MAX_DEC);
	CU_ASSERT_EQUAL(in_range(U128_MAX_DEC, U128_MAX_DEC), 1);
	CU_ASSERT_EQUAL(in_range("0", "340282366920938463463374607431768211454"), 0);
	decode_one("", U128_2P64_DEC);
	CU_ASSERT_EQUAL(in_range(U128_2P64_DEC, U128_2P64_DEC), 1);
	CU_ASSERT_EQUAL(in_range("0", "18446744073709551615"), 0);
}

/*
 * A split shard's two halves against the real 8-key aggregate: each record belongs to the
 * half the top bit of MD5(partition key) names, and the check reports the first record
 * that belongs to the other half.
 */
static void
test_kpl_hash_range_after_split(void)
{
	static const char *half[2][2] = {
		{ "0", "170141183460469231731687303715884105727" },
		{ "170141183460469231731687303715884105728", U128_MAX_DEC },
	};
	char path[1024];
	unsigned char *bin;
	size_t len = 0;
	struct kpl_error err;

	snprintf(path, sizeof(path), "%s/kpl/kpl-real-no-ehks.bin", test_data_dir());
	bin = read_file(path, &len);
	CU_ASSERT_FATAL(bin != NULL);
	CU_ASSERT_EQUAL_FATAL(deagg(bin, len, &err), KPL_AGGREGATED);
	for (int h = 0; h < 2; h++) {
		struct kpl_hash_range r;
		size_t first = SIZE_MAX, want = K.n_records;
		int rc;

		for (size_t i = 0; i < K.n_records && want == K.n_records; i++) {
			unsigned char d[16];
			unsigned dl;

			const struct kpl_user_record *u = &K.records[i];

			EVP_Digest(u->partition_key, u->partition_key_len, d, &dl, EVP_md5(), NULL);
			if ((d[0] >= 0x80) != h)
				want = i;
		}
		CU_ASSERT_FATAL(kpl_hash_range_parse(&r, half[h][0], half[h][1]) == 0);
		rc = kpl_check_hash_range(&K, &r, &first);
		CU_ASSERT_EQUAL(rc, want == K.n_records);
		if (rc == 0)
			CU_ASSERT_EQUAL(first, want);
	}
	free(bin);
}

/* NUL-terminated key copies for the handler ABI; the input stays as it was. */
static void
test_kpl_terminate_keys(void)
{
	struct kpl_entry e[4] = {
		{ "a", 1, "key-one", 7, NULL, 0 },
		{ "b", 1, "key-two", 7, "42", 2 },
		{ "c", 1, "key-one", 7, "42", 2 },
		{ "d", 1, "k", 1, U128_MAX_DEC, strlen(U128_MAX_DEC) },
	};
	static const char *want_pk[4] = { "key-one", "key-two", "key-one", "k" };
	static const char *want_ehk[4] = { NULL, "42", "42", U128_MAX_DEC };
	struct kls_buf b;
	struct kpl_error err;
	unsigned char *copy;

	buf_init(&b, 0);
	for (int round = 0; round < 2; round++) {
		buf_reset(&b);
		CU_ASSERT_FATAL(kpl_encode(&b, e + round, 4 - round) == 0);
		CU_ASSERT_EQUAL_FATAL(deagg(b.data, b.len, &err), KPL_AGGREGATED);
		copy = malloc(last_len);
		memcpy(copy, last_in, last_len);
		CU_ASSERT_EQUAL_FATAL(kpl_terminate_keys(&K), 0);
		CU_ASSERT_EQUAL_FATAL(kpl_terminate_keys(&K), 0); /* again: a no-op */
		CU_ASSERT(memcmp(copy, last_in, last_len) == 0);
		for (size_t i = 0; i < K.n_records; i++) {
			const struct kpl_user_record *u = &K.records[i];

			CU_ASSERT_STRING_EQUAL(u->partition_key, want_pk[i + round]);
			CU_ASSERT_EQUAL(u->partition_key_len, strlen(want_pk[i + round]));
			if (want_ehk[i + round] == NULL) {
				CU_ASSERT_PTR_NULL(u->explicit_hash_key);
			} else {
				CU_ASSERT_STRING_EQUAL(u->explicit_hash_key, want_ehk[i + round]);
			}
			CU_ASSERT_EQUAL(u->data[0], (unsigned char)('a' + i + round));
		}
		free(copy);
	}
	buf_free(&b);
}

/* xorshift64*: a fixed sequence, so a failure reproduces. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/*
 * Deterministic mutations of the vectors and of a built aggregate with every feature:
 * bit flips, random bytes, inserted and deleted runs, cuts, copied chunks. Three in four
 * get a fresh MD5 so they reach the protobuf decoder; the others must fail the MD5 check
 * unless they changed nothing. Every result goes through the invariant check.
 */
static void
test_kpl_mutation_loop(void)
{
	enum { ITERATIONS = 40000, MAX_BASES = 16 };
	struct kls_buf base[MAX_BASES], m, f;
	size_t n_base = 0, counts[2] = { 0, 0 };
	uint64_t seed = 0x6b706c2d6d757461ull;
	char path[1024];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/kpl", test_data_dir());
	d = opendir(path);
	CU_ASSERT_FATAL(d != NULL);
	while ((de = readdir(d)) != NULL && n_base < MAX_BASES - 1) {
		size_t n = strlen(de->d_name), len;
		unsigned char *bin;
		char file[1100];

		if (n <= 4 || strcmp(de->d_name + n - 4, ".bin") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		bin = read_file(file, &len);
		CU_ASSERT_FATAL(bin != NULL);
		buf_init(&base[n_base], 0);
		buf_append(&base[n_base++], bin, len);
		free(bin);
	}
	closedir(d);
	/* Tags, unknown fields, explicit hash keys, tables after records. */
	buf_init(&base[n_base], 0);
	{
		static const char proto[] = "\x78\x01" PK "\x12\x02" "42"
		    "\x1a\x19\x78\x05\x08\x00\x7a\x01z\x1a\x01" "d"
		    "\x22\x0d\x0a\x01k\x12\x01v\x78\x00\x7d\x00\x00\x00\x00"
		    "\x1a\x07\x08\x01\x10\x00\x1a\x01" "e" "\x0a\x02k2";

		kpl_frame(&base[n_base++], proto, sizeof(proto) - 1);
	}
	buf_init(&m, 0);
	buf_init(&f, 0);
	for (int it = 0; it < ITERATIONS; it++) {
		const struct kls_buf *src = &base[rnd(&seed) % n_base];
		int reframe = rnd(&seed) % 4 != 0, rc, nmut = 1 + (int)(rnd(&seed) % 4);
		size_t skip = 0, trail = 0;
		struct kpl_error err;

		/* Mutate the protobuf only when re-framing, the whole record otherwise. */
		if (reframe && src->len > KPL_MAGIC_LEN + KPL_MD5_LEN &&
		    memcmp(src->data, kpl_magic, KPL_MAGIC_LEN) == 0) {
			skip = KPL_MAGIC_LEN;
			trail = KPL_MD5_LEN;
		}
		buf_reset(&m);
		buf_append(&m, src->data + skip, src->len - skip - trail);
		for (int k = 0; k < nmut; k++) {
			size_t pos = m.len ? rnd(&seed) % m.len : 0, n;

			switch (rnd(&seed) % 7) {
			case 0: /* flip a bit */
				if (m.len)
					m.data[pos] ^= (char)(1u << (rnd(&seed) % 8));
				break;
			case 1: /* an interesting byte */
				if (m.len) {
					static const unsigned char v[] = { 0, 1, 0x7f, 0x80, 0xff,
						0x08, 0x0a, 0x12, 0x1a, 0x22, 0x7b };
					m.data[pos] = (char)v[rnd(&seed) % sizeof(v)];
				}
				break;
			case 2: /* delete a run */
				n = rnd(&seed) % 8;
				if (n > m.len - pos)
					n = m.len - pos;
				memmove(m.data + pos, m.data + pos + n, m.len - pos - n);
				m.len -= n;
				break;
			case 3: /* insert random bytes */
				n = 1 + rnd(&seed) % 4;
				buf_reserve(&m, n);
				memmove(m.data + pos + n, m.data + pos, m.len - pos);
				for (size_t j = 0; j < n; j++)
					m.data[pos + j] = (char)rnd(&seed);
				m.len += n;
				break;
			case 4: /* cut */
				m.len = pos;
				break;
			case 5: { /* copy a chunk over another place */
				size_t from = m.len ? rnd(&seed) % m.len : 0;

				n = rnd(&seed) % 16;
				if (n > m.len - from)
					n = m.len - from;
				if (n > m.len - pos)
					n = m.len - pos;
				memmove(m.data + pos, m.data + from, n);
				break;
			}
			default: /* a varint of all continuation bytes */
				for (size_t j = pos; j < m.len && j < pos + 11; j++)
					m.data[j] = (char)0x80;
				break;
			}
		}
		if (skip) {
			buf_reset(&f);
			kpl_frame(&f, m.data, m.len);
			rc = deagg(f.data, f.len, &err);
		} else {
			rc = deagg(m.data, m.len, &err);
			if (m.len != src->len || memcmp(m.data, src->data, m.len) != 0)
				CU_ASSERT(rc == KPL_NOT_AGGREGATED);
		}
		CU_ASSERT(rc == KPL_AGGREGATED || rc == KPL_NOT_AGGREGATED);
		counts[rc == KPL_AGGREGATED]++;
	}
	/* Both outcomes occur: the loop reaches deep into the decoder. */
	CU_ASSERT(counts[0] > ITERATIONS / 10 && counts[1] > ITERATIONS / 100);
	fprintf(stderr, "mutations: %zu aggregated, %zu not\n", counts[1], counts[0]);
	for (size_t i = 0; i < n_base; i++)
		buf_free(&base[i]);
	buf_free(&m);
	buf_free(&f);
}

static CU_TestInfo kpl_tests[] = {
	{ "public vectors", test_kpl_vectors },
	{ "round trip through the encoder", test_kpl_round_trip },
	{ "corrupt MD5", test_kpl_corrupt_md5 },
	{ "truncated at every offset", test_kpl_truncated_every_offset },
	{ "huge length fields", test_kpl_huge_lengths },
	{ "varint overflow", test_kpl_varint_overflow },
	{ "indices out of range", test_kpl_bad_indices },
	{ "wire types", test_kpl_wire_types },
	{ "missing required fields", test_kpl_missing_fields },
	{ "empty and non-aggregated records", test_kpl_empty_and_not_aggregated },
	{ "limits and explicit hash keys", test_kpl_limits_and_hash_keys },
	{ "100,000 records", test_kpl_max_records },
	{ "128-bit decimals", test_kpl_u128 },
	{ "hash-key range", test_kpl_hash_range },
	{ "hash-key range after a split", test_kpl_hash_range_after_split },
	{ "NUL-terminated keys", test_kpl_terminate_keys },
	{ "mutation loop", test_kpl_mutation_loop },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kpl", suite_init, suite_cleanup, NULL, NULL, kpl_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
