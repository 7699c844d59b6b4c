/*
 * Kinesis client against the emulator (KINESIS_ENDPOINT): a 4-shard stream, 1,000
 * records put and every one read back through ListShards, GetShardIterator and
 * GetRecords with per-shard order checked; every iterator type; split and merge.
 * Each test makes its own stream and deletes it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/getrecords.h"
#include "common/kinesis.h"
#include "tests/harness.h"
#include "tests/kinesis_fixture.h"

#define NRECORDS 1000

/* kinesalite: fast, but ListShards never pages (EMULATORS.md). */
static struct kinesis_client *
client(void)
{
	return test_kinesis_shared("KINESIS_ENDPOINT");
}

static void
report(const char *what, const struct aws_error *err)
{
	fprintf(stderr, "\n%s: %s\n", what, err->message);
}

static int
make_stream(struct kinesis_client *c, const char *name, int shards)
{
	return test_kinesis_create_stream(c, name, shards, 30000, NULL);
}

static void
drop_stream(struct kinesis_client *c, const char *name)
{
	if (test_kinesis_delete_stream(c, name) < 0)
		CU_FAIL("DeleteStream failed");
}

/* Sequence numbers are decimals of different lengths: compare as numbers. */
static int
seqcmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

struct sent {
	char shard[KINESIS_SHARD_ID_MAX + 1];
	char seq[KINESIS_SEQUENCE_MAX + 1];
	int seen;
};

/* Puts records [from, from + n) as "record-%04d", retrying refused ones a few times. */
static int
put_batch(struct kinesis_client *c, const char *stream, int from, int n, struct sent *sent)
{
	struct kinesis_put_entry e[KINESIS_PUT_RECORDS_MAX];
	struct kinesis_put_result r[KINESIS_PUT_RECORDS_MAX];
	char data[KINESIS_PUT_RECORDS_MAX][16], pk[KINESIS_PUT_RECORDS_MAX][16];
	int idx[KINESIS_PUT_RECORDS_MAX];
	size_t m = (size_t)n, failed;
	struct aws_error err;

	for (int i = 0; i < n; i++) {
		idx[i] = from + i;
		snprintf(data[i], sizeof(data[i]), "record-%04d", from + i);
		snprintf(pk[i], sizeof(pk[i]), "pk-%d", from + i);
		e[i] = (struct kinesis_put_entry){ data[i], strlen(data[i]), pk[i], NULL };
	}
	for (int attempt = 0; m && attempt < 5; attempt++) {
		size_t keep = 0;
		if (kinesis_put_records(c, stream, e, m, r, &failed, &err) < 0) {
			report("put", &err);
			return -1;
		}
		for (size_t i = 0; i < m; i++) {
			if (r[i].error_code[0]) {
				e[keep] = e[i];
				idx[keep++] = idx[i];
				continue;
			}
			/* Same sizes on both sides, NUL-terminated by the parser. */
			memcpy(sent[idx[i]].shard, r[i].shard_id, sizeof(sent[idx[i]].shard));
			memcpy(sent[idx[i]].seq, r[i].sequence_number, sizeof(sent[idx[i]].seq));
		}
		CU_ASSERT_EQUAL(keep, failed);
		m = keep;
	}
	return m ? -1 : 0;
}

static void
test_kinesis_put_and_read_back(void)
{
	struct kinesis_client *c = client();
	struct kinesis_shard_list l = { 0 };
	struct kinesis_stream_summary sum;
	struct getrecords_result res;
	struct kls_buf resp, arena;
	struct aws_error err;
	struct sent *sent = calloc(NRECORDS, sizeof(*sent));
	char stream[64];
	int total = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sent);
	test_unique_name(stream, sizeof(stream), "kls-it-read");
	CU_ASSERT_EQUAL_FATAL(make_stream(c, stream, 4), 0);
	buf_init(&resp, 0);
	buf_init(&arena, 0);
	getrecords_result_init(&res);

	CU_ASSERT_EQUAL(kinesis_describe_stream_summary(c, stream, &sum, &err), 0);
	CU_ASSERT_STRING_EQUAL(sum.status, "ACTIVE");
	CU_ASSERT_EQUAL(sum.open_shard_count, 4);
	CU_ASSERT_EQUAL(kinesis_list_shards(c, stream, NULL, &l, &err), 0);
	CU_ASSERT_EQUAL(l.n, 4);
	/* The four ranges cover the whole key space, in order. */
	if (l.n == 4) {
		CU_ASSERT_STRING_EQUAL(l.shards[0].starting_hash_key, "0");
		CU_ASSERT_STRING_EQUAL(l.shards[3].ending_hash_key, "340282366920938463463374607431768211455");
		for (size_t i = 0; i < l.n; i++)
			CU_ASSERT(!kinesis_shard_closed(&l.shards[i]));
	}

	CU_ASSERT_EQUAL(put_batch(c, stream, 0, 500, sent), 0);
	CU_ASSERT_EQUAL(put_batch(c, stream, 500, 500, sent), 0);

	for (size_t s = 0; s < l.n; s++) {
		struct kinesis_position trim = { .type = KINESIS_TRIM_HORIZON };
		char it[KINESIS_ITERATOR_MAX + 1];
		int last = -1;
		const char *last_seq = "";
		char last_seq_buf[KINESIS_SEQUENCE_MAX + 1] = "";

		if (kinesis_get_shard_iterator(c, stream, l.shards[s].shard_id, &trim, it, &err) < 0) {
			report("iterator", &err);
			CU_FAIL("GetShardIterator failed");
			continue;
		}
		/* Small pages so a shard takes several calls; stop at the first empty page. */
		for (int calls = 0; calls < 200; calls++) {
			if (kinesis_get_records(c, l.shards[s].shard_id, it, 97, NULL, &resp, &arena, &res,
				&err) < 0) {
				report("get", &err);
				CU_FAIL("GetRecords failed");
				break;
			}
			for (size_t i = 0; i < res.n_records; i++) {
				const struct getrecords_record *r = &res.records[i];
				int n = -1;
				if (r->data_len == 11 && sscanf((const char *)r->data, "record-%4d", &n) == 1 &&
				    n >= 0 && n < NRECORDS) {
					sent[n].seen++;
					total++;
					/* Per-shard order: put order and rising sequence numbers. */
					CU_ASSERT(n > last);
					last = n;
					CU_ASSERT_STRING_EQUAL(sent[n].shard, l.shards[s].shard_id);
					CU_ASSERT_STRING_EQUAL(sent[n].seq, r->sequence_number);
					CU_ASSERT(seqcmp(last_seq, r->sequence_number) < 0);
					snprintf(last_seq_buf, sizeof(last_seq_buf), "%s", r->sequence_number);
					last_seq = last_seq_buf;
				} else {
					CU_FAIL("a record that was never put");
				}
			}
			if (res.n_records == 0 || !res.next_iterator)
				break;
			snprintf(it, sizeof(it), "%s", res.next_iterator);
		}
	}
	CU_ASSERT_EQUAL(total, NRECORDS);
	for (int i = 0; i < NRECORDS; i++)
		if (sent[i].seen != 1) {
			fprintf(stderr, "\nrecord %d seen %d times\n", i, sent[i].seen);
			CU_FAIL("a record was not read back exactly once");
			break;
		}
	drop_stream(c, stream);
	getrecords_result_free(&res);
	buf_free(&resp);
	buf_free(&arena);
	kinesis_shard_list_free(&l);
	free(sent);
}

/* The first record GetRecords returns from pos, into seq ("" when none). */
static void
first_record(struct kinesis_client *c, const char *stream, const char *shard,
    const struct kinesis_position *pos, char *seq, size_t size)
{
	char it[KINESIS_ITERATOR_MAX + 1];
	struct getrecords_result res;
	struct kls_buf resp, arena;
	struct aws_error err;

	seq[0] = '\0';
	buf_init(&resp, 0);
	buf_init(&arena, 0);
	getrecords_result_init(&res);
	if (kinesis_get_shard_iterator(c, stream, shard, pos, it, &err) < 0) {
		report("iterator", &err);
		CU_FAIL("GetShardIterator failed");
	} else if (kinesis_get_records(c, shard, it, 1, NULL, &resp, &arena, &res, &err) < 0) {
		report("get", &err);
		CU_FAIL("GetRecords failed");
	} else if (res.n_records == 1) {
		snprintf(seq, size, "%s", res.records[0].sequence_number);
	}
	getrecords_result_free(&res);
	buf_free(&resp);
	buf_free(&arena);
}

static void
test_kinesis_iterator_types(void)
{
	struct kinesis_client *c = client();
	struct kinesis_put_entry e[3] = { { "a", 1, "k", NULL }, { "b", 1, "k", NULL },
		{ "c", 1, "k", NULL } };
	struct kinesis_put_result r[3];
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	char stream[64], seq[KINESIS_SEQUENCE_MAX + 1];
	int64_t before = wall_now_ms() - 60000;
	size_t failed = 0;

	test_unique_name(stream, sizeof(stream), "kls-it-iter");
	CU_ASSERT_EQUAL_FATAL(make_stream(c, stream, 1), 0);
	CU_ASSERT_EQUAL(kinesis_put_records(c, stream, e, 3, r, &failed, &err), 0);
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(c, stream, NULL, &l, &err), 0);
	if (l.n == 1 && failed == 0) {
		const char *shard = l.shards[0].shard_id;
		struct kinesis_position p;

		p = (struct kinesis_position){ .type = KINESIS_TRIM_HORIZON };
		first_record(c, stream, shard, &p, seq, sizeof(seq));
		CU_ASSERT_STRING_EQUAL(seq, r[0].sequence_number);
		p = (struct kinesis_position){ .type = KINESIS_AT_SEQUENCE_NUMBER, .sequence_number = r[1].sequence_number };
		first_record(c, stream, shard, &p, seq, sizeof(seq));
		CU_ASSERT_STRING_EQUAL(seq, r[1].sequence_number);
		p = (struct kinesis_position){ .type = KINESIS_AFTER_SEQUENCE_NUMBER, .sequence_number = r[1].sequence_number };
		first_record(c, stream, shard, &p, seq, sizeof(seq));
		CU_ASSERT_STRING_EQUAL(seq, r[2].sequence_number);
		/* A past timestamp (a future one hangs kinesalite: EMULATORS.md). */
		p = (struct kinesis_position){ .type = KINESIS_AT_TIMESTAMP, .timestamp_ms = before };
		first_record(c, stream, shard, &p, seq, sizeof(seq));
		CU_ASSERT_STRING_EQUAL(seq, r[0].sequence_number);
		p = (struct kinesis_position){ .type = KINESIS_LATEST };
		first_record(c, stream, shard, &p, seq, sizeof(seq));
		CU_ASSERT_STRING_EQUAL(seq, "");
	} else {
		CU_FAIL("expected one shard and three records");
	}
	drop_stream(c, stream);
	kinesis_shard_list_free(&l);
}

static const struct kinesis_shard *
find(const struct kinesis_shard_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->shards[i].shard_id, id) == 0)
			return &l->shards[i];
	return NULL;
}

static void
test_kinesis_split_and_merge(void)
{
	struct kinesis_client *c = client();
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	char stream[64], mid[KINESIS_HASH_KEY_MAX + 1], parent[KINESIS_SHARD_ID_MAX + 1];
	char kids[2][KINESIS_SHARD_ID_MAX + 1];
	int nkids = 0;

	test_unique_name(stream, sizeof(stream), "kls-it-reshard");
	CU_ASSERT_EQUAL_FATAL(make_stream(c, stream, 1), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(c, stream, NULL, &l, &err), 0);
	if (l.n != 1) {
		CU_FAIL("expected one shard");
		goto out;
	}
	snprintf(parent, sizeof(parent), "%s", l.shards[0].shard_id);
	CU_ASSERT_EQUAL(kinesis_hash_key_split_point(l.shards[0].starting_hash_key,
			    l.shards[0].ending_hash_key, mid, sizeof(mid)),
	    0);
	if (kinesis_split_shard(c, stream, parent, mid, &err) < 0) {
		report("split", &err);
		CU_FAIL("SplitShard failed");
		goto out;
	}
	CU_ASSERT_EQUAL(kinesis_wait_active(c, stream, 30000, NULL, &err), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(c, stream, NULL, &l, &err), 0);
	CU_ASSERT_EQUAL(l.n, 3);
	CU_ASSERT(find(&l, parent) && kinesis_shard_closed(find(&l, parent)));
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.shards[i].parent_shard_id, parent) == 0 && nkids < 2) {
			CU_ASSERT(!kinesis_shard_closed(&l.shards[i]));
			snprintf(kids[nkids++], sizeof(kids[0]), "%s", l.shards[i].shard_id);
		}
	CU_ASSERT_EQUAL(nkids, 2);
	if (nkids != 2)
		goto out;
	/* The lower child first: MergeShards wants adjacent ranges, either order works. */
	if (kinesis_merge_shards(c, stream, kids[0], kids[1], &err) < 0) {
		report("merge", &err);
		CU_FAIL("MergeShards failed");
		goto out;
	}
	CU_ASSERT_EQUAL(kinesis_wait_active(c, stream, 30000, NULL, &err), 0);
	CU_ASSERT_EQUAL(kinesis_list_shards(c, stream, NULL, &l, &err), 0);
	CU_ASSERT_EQUAL(l.n, 4);
	for (size_t i = 0; i < l.n; i++) {
		const struct kinesis_shard *s = &l.shards[i];
		if (!*s->adjacent_parent_shard_id)
			continue;
		CU_ASSERT(!kinesis_shard_closed(s));
		CU_ASSERT((!strcmp(s->parent_shard_id, kids[0]) &&
			      !strcmp(s->adjacent_parent_shard_id, kids[1])) ||
		    (!strcmp(s->parent_shard_id, kids[1]) && !strcmp(s->adjacent_parent_shard_id, kids[0])));
		CU_ASSERT_STRING_EQUAL(s->starting_hash_key, "0");
		nkids = -1;
	}
	CU_ASSERT_EQUAL(nkids, -1); /* the merged shard was listed */
out:
	drop_stream(c, stream);
	kinesis_shard_list_free(&l);
}

static void
test_kinesis_missing_stream_names_it(void)
{
	struct kinesis_client *c = client();
	struct kinesis_shard_list l = { 0 };
	struct kinesis_stream_summary sum;
	struct aws_error err;
	char stream[64], want[128];

	test_unique_name(stream, sizeof(stream), "kls-it-missing");
	CU_ASSERT_EQUAL(kinesis_describe_stream_summary(c, stream, &sum, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceNotFoundException");
	snprintf(want, sizeof(want), "DescribeStreamSummary %s: ResourceNotFoundException", stream);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
	CU_ASSERT_EQUAL(kinesis_list_shards(c, stream, NULL, &l, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceNotFoundException");
	kinesis_shard_list_free(&l);
}

/* kinesis-local pages ListShards for real: MaxResults 2 over 5 shards is 3 pages,
 * the follow-ups carrying only NextToken (kinesalite would crash on those). */
static void
test_kinesis_list_shards_pages_on_kinesis_local(void)
{
	struct kinesis_client *c = test_kinesis_shared("KINESIS_LOCAL_ENDPOINT");
	struct kinesis_list_opts opts = { .max_results = 2 };
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	char stream[64];

	test_unique_name(stream, sizeof(stream), "kls-it-pages");
	CU_ASSERT_EQUAL_FATAL(make_stream(c, stream, 5), 0);
	if (kinesis_list_shards(c, stream, &opts, &l, &err) < 0)
		report("paged", &err);
	CU_ASSERT_EQUAL(l.n, 5);
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(l.shards[i].shard_id, l.shards[j].shard_id);
	if (l.n == 5) {
		char first[KINESIS_SHARD_ID_MAX + 1];
		snprintf(first, sizeof(first), "%s", l.shards[0].shard_id);
		opts.filter = KINESIS_FILTER_AFTER_SHARD_ID;
		opts.filter_shard_id = first;
		if (kinesis_list_shards(c, stream, &opts, &l, &err) < 0)
			report("filtered", &err);
		CU_ASSERT_EQUAL(l.n, 4);
		for (size_t i = 0; i < l.n; i++)
			CU_ASSERT_STRING_NOT_EQUAL(l.shards[i].shard_id, first);
	}
	drop_stream(c, stream);
	kinesis_shard_list_free(&l);
}

static CU_TestInfo tests[] = {
	{ "put and read back", test_kinesis_put_and_read_back },
	{ "iterator types", test_kinesis_iterator_types },
	{ "split and merge", test_kinesis_split_and_merge },
	{ "missing stream names it", test_kinesis_missing_stream_names_it },
	{ "list shards pages on kinesis-local", test_kinesis_list_shards_pages_on_kinesis_local },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kinesis against the emulator", NULL, test_kinesis_shared_free, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
