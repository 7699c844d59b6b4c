/*
 * Tests of reader/deagg.c (a GetRecords response into the handler's batch: user
 * records of aggregates with their keys, sub-sequence numbers and arrival times, broken
 * aggregates raw and counted, aggregates outside the shard's hash-key range dropped and
 * counted, key copies that stay valid across a whole batch) and of the resume filter
 * fetch_skip_done in reader/fetch.c (which user records a checkpoint covers). Batches
 * are built here with common/kpl_encode.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kpl.h"
#include "common/kpl_encode.h"
#include "reader/deagg.h"
#include "reader/reader.h"
#include "tests/harness.h"

/* 2^127 - 1 and 2^127: the two halves of the hash-key space. */
#define LOW_END "170141183460469231731687303715884105727"
#define HIGH_START "170141183460469231731687303715884105728"
#define U128_MAX "340282366920938463463374607431768211455"

#define MAX_IN 512

/* A GetRecords result built by hand; every record's bytes in a buffer of its own. */
struct batch {
	struct getrecords_result res;
	struct getrecords_record rec[MAX_IN];
	struct kls_buf data[MAX_IN];
	char seq[MAX_IN][32];
	size_t n;
};

static void
batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	b->res.records = b->rec;
}

static void
batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		buf_free(&b->data[i]);
}

/* Adds a record whose data the caller fills in the returned buffer. */
static struct kls_buf *
batch_add(struct batch *b, const char *pk)
{
	size_t i = b->n++;

	CU_ASSERT_FATAL(i < MAX_IN);
	buf_init(&b->data[i], 0);
	snprintf(b->seq[i], sizeof(b->seq[i]), "4959%020zu", 1000 + i);
	b->rec[i] = (struct getrecords_record){
		.partition_key = pk,
		.partition_key_len = strlen(pk),
		.sequence_number = b->seq[i],
		.sequence_number_len = strlen(b->seq[i]),
		.arrival_ms = 1700000000000 + (int64_t)i,
	};
	b->res.n_records = b->n;
	return &b->data[i];
}

/* Points the records at their (now final) buffers. */
static void
batch_seal(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		b->rec[i].data = (const unsigned char *)b->data[i].data;
		b->rec[i].data_len = b->data[i].len;
	}
}

static void
add_plain(struct batch *b, const char *text)
{
	CU_ASSERT_EQUAL(buf_puts(batch_add(b, "plain-pk"), text), 0);
}

/* An aggregate of n records "<tag>-<i>", partition keys pks[i], hash keys ehks[i]. */
static void
add_aggregate(struct batch *b, const char *tag, size_t n, const char *const *pks,
    const char *const *ehks)
{
	struct kpl_entry e[64];
	char data[64][32];

	CU_ASSERT_FATAL(n <= 64);
	for (size_t i = 0; i < n; i++) {
		snprintf(data[i], sizeof(data[i]), "%s-%zu", tag, i);
		e[i] = (struct kpl_entry){ data[i], strlen(data[i]), pks[i], strlen(pks[i]),
			ehks && ehks[i] ? ehks[i] : NULL, ehks && ehks[i] ? strlen(ehks[i]) : 0 };
	}
	CU_ASSERT_EQUAL(kpl_encode(batch_add(b, pks[0]), e, n), 0);
}

static struct deagg D;
static struct kls_record *recs;
static size_t recs_cap;

static int
suite_cleanup(void)
{
	deagg_free(&D);
	free(recs);
	return 0;
}

static void
check_user(const struct kls_record *r, const struct batch *b, size_t in, uint64_t sub,
    const char *data, const char *pk, const char *ehk)
{
	CU_ASSERT_EQUAL(r->data_len, strlen(data));
	CU_ASSERT(r->data_len == strlen(data) && memcmp(r->data, data, r->data_len) == 0);
	CU_ASSERT_STRING_EQUAL(r->partition_key, pk);
	if (ehk) {
		CU_ASSERT(r->explicit_hash_key && strcmp(r->explicit_hash_key, ehk) == 0);
	} else {
		CU_ASSERT_PTR_NULL(r->explicit_hash_key);
	}
	CU_ASSERT_PTR_EQUAL(r->sequence_number, b->seq[in]);
	CU_ASSERT_EQUAL(r->sub_sequence_number, sub);
	CU_ASSERT_EQUAL(r->approximate_arrival_ms, b->rec[in].arrival_ms);
	CU_ASSERT_EQUAL(r->flags, KLS_RECORD_AGGREGATED);
	CU_ASSERT_EQUAL(r->reserved, 0);
}

static void
check_raw(const struct kls_record *r, const struct batch *b, size_t in)
{
	CU_ASSERT_PTR_EQUAL(r->data, b->rec[in].data);
	CU_ASSERT_EQUAL(r->data_len, b->rec[in].data_len);
	CU_ASSERT_PTR_EQUAL(r->partition_key, b->rec[in].partition_key);
	CU_ASSERT_PTR_EQUAL(r->sequence_number, b->seq[in]);
	CU_ASSERT_EQUAL(r->sub_sequence_number, 0);
	CU_ASSERT_EQUAL(r->flags, 0);
	CU_ASSERT_EQUAL(r->approximate_arrival_ms, b->rec[in].arrival_ms);
}

/*
 * Plain records, aggregates (shared and distinct keys, with and without hash keys),
 * and records with the magic that are no aggregates: each broken one raw and counted
 * under its reason, the others de-aggregated in order.
 */
static void
test_deagg_mixed_batch(void)
{
	static const char *const pks3[] = { "alpha", "beta", "alpha" };
	static const char *const ehks3[] = { NULL, "12345", NULL };
	static const char *const pks2[] = { "same", "same" };
	struct batch b;
	struct kls_progress prog = { 0 };
	struct kls_buf *x;
	size_t n = 0;

	batch_init(&b);
	CU_ASSERT_EQUAL_FATAL(deagg_init(&D, "shardId-0", "", ""), 0);
	add_plain(&b, "first");                      /* 0 */
	add_aggregate(&b, "a", 3, pks3, ehks3);      /* 1 */
	add_aggregate(&b, "b", 2, pks2, NULL);       /* 2 */
	add_aggregate(&b, "bad-md5", 2, pks2, NULL); /* 3 */
	b.data[3].data[b.data[3].len - 1] ^= 1;
	x = batch_add(&b, "k"); /* 4: magic and 10 bytes */
	CU_ASSERT_EQUAL(buf_append(x, kpl_magic, KPL_MAGIC_LEN), 0);
	CU_ASSERT_EQUAL(buf_append(x, "0123456789", 10), 0);
	x = batch_add(&b, "k"); /* 5: a framed length field far past the end */
	{
		struct kls_buf proto;
		buf_init(&proto, 0);
		CU_ASSERT_EQUAL(kpl_put_key(&proto, 3, 2), 0);
		CU_ASSERT_EQUAL(kpl_put_varint(&proto, UINT64_C(1) << 40), 0);
		CU_ASSERT_EQUAL(kpl_frame(x, proto.data, proto.len), 0);
		buf_free(&proto);
	}
	add_plain(&b, "last"); /* 6 */
	batch_seal(&b);

	CU_ASSERT_EQUAL_FATAL(deagg_batch(&D, "shardId-0", &b.res, &recs, &recs_cap, &n, &prog), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1 + 3 + 2 + 3 + 1);
	check_raw(&recs[0], &b, 0);
	check_user(&recs[1], &b, 1, 0, "a-0", "alpha", NULL);
	check_user(&recs[2], &b, 1, 1, "a-1", "beta", "12345");
	check_user(&recs[3], &b, 1, 2, "a-2", "alpha", NULL);
	check_user(&recs[4], &b, 2, 0, "b-0", "same", NULL);
	check_user(&recs[5], &b, 2, 1, "b-1", "same", NULL);
	check_raw(&recs[6], &b, 3);
	check_raw(&recs[7], &b, 4);
	check_raw(&recs[8], &b, 5);
	check_raw(&recs[9], &b, 6);
	CU_ASSERT_EQUAL(prog.kpl_aggregates, 2);
	CU_ASSERT_EQUAL(prog.kpl_user_records, 5);
	CU_ASSERT_EQUAL(prog.kpl_invalid[KPL_MD5_MISMATCH], 1);
	CU_ASSERT_EQUAL(prog.kpl_invalid[KPL_TOO_SHORT], 1);
	CU_ASSERT_EQUAL(prog.kpl_invalid[KPL_MALFORMED], 1);
	CU_ASSERT_EQUAL(prog.kpl_invalid[KPL_NO_MAGIC], 0);
	CU_ASSERT_EQUAL(prog.kpl_dropped_aggregates, 0);

	/* An empty response: no records. */
	batch_free(&b);
	batch_init(&b);
	CU_ASSERT_EQUAL(deagg_batch(&D, "shardId-0", &b.res, &recs, &recs_cap, &n, &prog), 0);
	CU_ASSERT_EQUAL(n, 0);
	batch_free(&b);
	deagg_free(&D);
}

/*
 * A batch without a KPL record (the usual one): every record raw, in order, nothing
 * counted, including data shorter than the magic, empty data and data that starts with
 * the magic's first bytes only; more records than the array's first allocation, and
 * again after an aggregate batch; then plain records followed by an aggregate.
 */
static void
test_deagg_plain_batch(void)
{
	static const char *const pks2[] = { "x", "y" };
	static const unsigned char near[] = { 0xF3, 0x89, 0x9A, 0xC3, 'z' };
	struct batch b;
	struct kls_progress prog = { 0 };
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(deagg_init(&D, "shardId-0", "", ""), 0);
	for (int round = 0; round < 2; round++) {
		batch_init(&b);
		add_plain(&b, "");
		add_plain(&b, "abc");
		CU_ASSERT_EQUAL(buf_append(batch_add(&b, "k"), near, sizeof(near)), 0);
		CU_ASSERT_EQUAL(buf_append(batch_add(&b, "k"), kpl_magic, KPL_MAGIC_LEN - 1), 0);
		for (int i = 0; i < 200; i++) {
			char t[16];
			snprintf(t, sizeof(t), "rec-%d", i);
			add_plain(&b, t);
		}
		batch_seal(&b);
		CU_ASSERT_EQUAL_FATAL(
		    deagg_batch(&D, "shardId-0", &b.res, &recs, &recs_cap, &n, &prog), 0);
		CU_ASSERT_EQUAL_FATAL(n, b.n);
		for (size_t i = 0; i < n; i++)
			check_raw(&recs[i], &b, i);
		CU_ASSERT_TRUE(recs_cap >= n);
		batch_free(&b);
		if (round == 0) {
			/* An aggregate batch in between: the next plain one is read afresh. */
			batch_init(&b);
			add_aggregate(&b, "agg", 2, pks2, NULL);
			batch_seal(&b);
			CU_ASSERT_EQUAL(
			    deagg_batch(&D, "shardId-0", &b.res, &recs, &recs_cap, &n, &prog), 0);
			CU_ASSERT_EQUAL(n, 2);
			batch_free(&b);
		}
	}
	/* Plain records past the array's first size, then an aggregate: the plain ones
	 * stay as they were, the aggregate's records follow them. */
	batch_init(&b);
	for (int i = 0; i < 100; i++)
		add_plain(&b, "p");
	add_aggregate(&b, "tail", 2, pks2, NULL);
	batch_seal(&b);
	CU_ASSERT_EQUAL_FATAL(deagg_batch(&D, "shardId-0", &b.res, &recs, &recs_cap, &n, &prog), 0);
	CU_ASSERT_EQUAL_FATAL(n, 102);
	for (size_t i = 0; i < 100; i++)
		check_raw(&recs[i], &b, i);
	check_user(&recs[100], &b, 100, 0, "tail-0", "x", NULL);
	check_user(&recs[101], &b, 100, 1, "tail-1", "y", NULL);
	batch_free(&b);
	CU_ASSERT_EQUAL(prog.kpl_aggregates, 2);
	CU_ASSERT_EQUAL(prog.kpl_user_records, 4);
	for (size_t i = 0; i < KLS_SHM_KPL_REASONS; i++)
		CU_ASSERT_EQUAL(prog.kpl_invalid[i], 0);
	deagg_free(&D);
}

/* A partition key whose MD5 lies in the upper (high) or lower half of the key space. */
static void
pick_key(char *out, size_t size, bool high, int from)
{
	for (int i = from;; i++) {
		struct kpl_u128 h;
		snprintf(out, size, "key-%d", i);
		CU_ASSERT_EQUAL_FATAL(kpl_partition_key_hash(out, strlen(out), &h), 0);
		if ((h.hi >> 63) == (uint64_t)high)
			return;
	}
}

/*
 * The shard owns the lower half: an aggregate with any user record above it (by
 * explicit hash key or by partition key) is dropped whole and counted; plain records
 * are never checked; without a usable range nothing is dropped.
 */
static void
test_deagg_hash_range(void)
{
	static const char *const lo_ehk[] = { "0", "99", LOW_END };
	static const char *const hi_ehk[] = { "1", HIGH_START, "2" };
	static const char *const pk3[] = { "p", "p", "p" };
	char lo1[32], lo2[32], hi1[32];
	const char *lo_pks[2] = { lo1, lo2 }, *mixed_pks[2] = { lo1, hi1 };
	/* ehk decides over the partition key: this one is kept. */
	static const char *const ehk_wins[] = { "5", "6" };
	static const struct {
		const char *start, *end;
		size_t want;
	} ranges[] = {
		{ "0", LOW_END, 3 + 1 + 2 + 2 },
		{ "", "", 3 + 3 + 1 + 2 + 2 + 2 },
		{ "12x", "99", 3 + 3 + 1 + 2 + 2 + 2 },     /* unparsable: not checked */
		{ HIGH_START, "1", 3 + 3 + 1 + 2 + 2 + 2 }, /* start > end: not checked */
		{ "0", U128_MAX, 3 + 3 + 1 + 2 + 2 + 2 },
	};
	struct batch b;

	pick_key(lo1, sizeof(lo1), false, 0);
	pick_key(lo2, sizeof(lo2), false, atoi(lo1 + 4) + 1);
	pick_key(hi1, sizeof(hi1), true, 0);
	batch_init(&b);
	add_aggregate(&b, "lo", 3, pk3, lo_ehk);
	add_aggregate(&b, "hi", 3, pk3, hi_ehk);
	add_plain(&b, "plain");
	add_aggregate(&b, "lopk", 2, lo_pks, NULL);
	add_aggregate(&b, "mixedpk", 2, mixed_pks, NULL);
	{
		const char *hi_pks[2] = { hi1, hi1 };
		add_aggregate(&b, "ehkwins", 2, hi_pks, ehk_wins);
	}
	batch_seal(&b);
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		struct kls_progress prog = { 0 };
		size_t n = 0;
		bool checked = i == 0;

		CU_ASSERT_EQUAL_FATAL(deagg_init(&D, "shardId-0", ranges[i].start, ranges[i].end),
		    0);
		CU_ASSERT_EQUAL(D.have_range, i == 0 || i == 4);
		CU_ASSERT_EQUAL(deagg_batch(&D, "shardId-0", &b.res, &recs, &recs_cap, &n, &prog),
		    0);
		CU_ASSERT_EQUAL(n, ranges[i].want);
		CU_ASSERT_EQUAL(prog.kpl_aggregates, 5);
		CU_ASSERT_EQUAL(prog.kpl_dropped_aggregates, checked ? 2 : 0);
		CU_ASSERT_EQUAL(prog.kpl_dropped_records, checked ? 5 : 0);
		CU_ASSERT_EQUAL(prog.kpl_user_records, checked ? 7 : 12);
		if (checked && n == ranges[i].want) {
			check_user(&recs[0], &b, 0, 0, "lo-0", "p", "0");
			check_user(&recs[2], &b, 0, 2, "lo-2", "p", LOW_END);
			check_raw(&recs[3], &b, 2);
			check_user(&recs[4], &b, 3, 0, "lopk-0", lo1, NULL);
			check_user(&recs[5], &b, 3, 1, "lopk-1", lo2, NULL);
			check_user(&recs[7], &b, 5, 1, "ehkwins-1", hi1, "6");
		}
		deagg_free(&D);
	}
	batch_free(&b);
}

/*
 * Many aggregates with long distinct keys in one batch: every key copy is still right
 * when the batch is complete (the copies never move), in batches that grow and shrink.
 */
static void
test_deagg_keys_survive_the_batch(void)
{
	static const size_t sizes[] = { 40, 5, 300, 1 };
	struct kls_progress prog = { 0 };

	CU_ASSERT_EQUAL_FATAL(deagg_init(&D, "shardId-0", "0", U128_MAX), 0);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct batch *b = malloc(sizeof(*b));
		static char pk[MAX_IN][20][256];
		const char *pks[20];
		size_t n = 0, k = 0;

		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		batch_init(b);
		for (size_t a = 0; a < sizes[s]; a++) {
			char tag[24];
			for (size_t j = 0; j < 20; j++) {
				/* About 180 bytes, different in the first and last characters. */
				snprintf(pk[a][j], sizeof(pk[a][j]), "%03u-%02u-%0170u-%03u",
				    (unsigned)a, (unsigned)j, (unsigned)s, (unsigned)a);
				pks[j] = pk[a][j];
			}
			snprintf(tag, sizeof(tag), "r%zu", a);
			add_aggregate(b, tag, 20, pks, NULL);
		}
		batch_seal(b);
		CU_ASSERT_EQUAL(deagg_batch(&D, "shardId-0", &b->res, &recs, &recs_cap, &n, &prog),
		    0);
		CU_ASSERT_EQUAL_FATAL(n, sizes[s] * 20);
		for (size_t a = 0; a < sizes[s]; a++)
			for (size_t j = 0; j < 20; j++, k++) {
				char data[32];
				snprintf(data, sizeof(data), "r%zu-%zu", a, j);
				check_user(&recs[k], b, a, j, data, pk[a][j], NULL);
			}
		/* The key copies fit in the bytes of the batch's aggregates. */
		CU_ASSERT(D.keys_len <= D.keys_cap);
		batch_free(b);
		free(b);
	}
	deagg_free(&D);
}

/* ---------------------------------------------------------------- resume filter */

#define S1 "49590338271490256608559692538361571095921575989136588801"
#define S2 "49590338271490256608559692538361571095921575989136588802"
#define S3 "49590338271490256608559692538361571095921575989136588803"
#define S9 "9" /* shorter: an earlier sequence number */

struct rec_spec {
	const char *seq;
	uint64_t sub;
	bool agg;
};

/*
 * Checkpoint (seq, sub) means "done up to and including that user record", as in KCL.
 * Reading resumes AT seq; the filter drops what the checkpoint covers.
 */
static void
test_deagg_resume_filter(void)
{
	static const struct {
		const char *what;
		const char *seq;
		uint64_t sub;
		struct rec_spec recs[6];
		size_t n, first;
		bool still_skipping;
	} cases[] = {
		{ "plain record checkpointed", S2, 0, { { S2, 0, 0 }, { S3, 0, 0 } }, 2, 1, false },
		{ "sub-record 0 of an aggregate: the rest comes", S2, 0,
		    { { S2, 0, 1 }, { S2, 1, 1 }, { S2, 2, 1 }, { S3, 0, 0 } }, 4, 1, false },
		{ "in the middle", S2, 1,
		    { { S2, 0, 1 }, { S2, 1, 1 }, { S2, 2, 1 }, { S3, 0, 0 } }, 4, 2, false },
		{ "last sub-record: on with the next record", S2, 2,
		    { { S2, 0, 1 }, { S2, 1, 1 }, { S2, 2, 1 }, { S3, 0, 1 }, { S3, 1, 1 } }, 5, 3,
		    false },
		{ "aggregate now raw: delivered whole again", S2, 2, { { S2, 0, 0 }, { S3, 0, 0 } },
		    2, 0, false },
		{ "raw at a checkpoint of sub 0: done", S2, 0, { { S2, 0, 0 } }, 1, 1, true },
		{ "sub-sequence past the aggregate's end", S2, 5,
		    { { S2, 0, 1 }, { S2, 1, 1 }, { S3, 0, 0 } }, 3, 2, false },
		{ "earlier records (shorter number) dropped", S2, 0,
		    { { S9, 0, 0 }, { S1, 0, 0 }, { S1, 3, 1 }, { S2, 0, 0 }, { S3, 0, 0 } }, 5, 4,
		    false },
		{ "the whole batch done: still skipping", S2, 1, { { S2, 0, 1 }, { S2, 1, 1 } }, 2,
		    2, true },
		{ "nothing delivered yet: still skipping", S2, 0, { { 0 } }, 0, 0, true },
		{ "next record first", S2, 3, { { S3, 0, 1 } }, 1, 0, false },
	};
	static struct reader r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_record rec[6];
		size_t first;

		memset(rec, 0, sizeof(rec));
		for (size_t j = 0; j < cases[i].n; j++) {
			rec[j].sequence_number = cases[i].recs[j].seq;
			rec[j].sub_sequence_number = cases[i].recs[j].sub;
			rec[j].flags = cases[i].recs[j].agg ? KLS_RECORD_AGGREGATED : 0;
		}
		r.skip_through = true;
		snprintf(r.skip_seq, sizeof(r.skip_seq), "%s", cases[i].seq);
		r.skip_sub = cases[i].sub;
		first = fetch_skip_done(&r, rec, cases[i].n);
		if (first != cases[i].first || r.skip_through != cases[i].still_skipping)
			fprintf(stderr, "\n%s: first %zu, want %zu\n", cases[i].what, first,
			    cases[i].first);
		CU_ASSERT_EQUAL(first, cases[i].first);
		CU_ASSERT_EQUAL(r.skip_through, cases[i].still_skipping);
	}
	/* Once off, nothing is skipped. */
	{
		struct kls_record one = { .sequence_number = S1 };
		r.skip_through = false;
		CU_ASSERT_EQUAL(fetch_skip_done(&r, &one, 1), 0);
	}
}

static CU_TestInfo deagg_tests[] = {
	{ "mixed batch: aggregates, plain, broken", test_deagg_mixed_batch },
	{ "plain batch: every record raw, nothing counted", test_deagg_plain_batch },
	{ "hash-key range: dropped and counted", test_deagg_hash_range },
	{ "key copies survive the batch", test_deagg_keys_survive_the_batch },
	{ "resume filter (checkpoint boundaries)", test_deagg_resume_filter },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "deagg", NULL, suite_cleanup, NULL, NULL, deagg_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
