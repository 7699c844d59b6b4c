/*
 * kls-reader with KPL aggregated records, end to end: a producer here writes
 * aggregates (common/kpl_encode) mixed with plain and broken records to kinesalite,
 * this test plays klsd (tests/fake_klsd.h) and the example handlers write one line per
 * user record (shard, sequence, sub-sequence, data). The lines must be every user
 * record exactly once and in order; across a crash inside an aggregate, nothing at or
 * before the persisted (sequence, sub-sequence) comes twice and nothing after it is
 * lost; broken aggregates arrive raw; aggregates outside the shard's hash-key range
 * are dropped and counted.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/buf.h"
#include "common/creds.h"
#include "common/kinesis.h"
#include "common/kpl.h"
#include "common/kpl_encode.h"
#include "tests/fake_klsd.h"
#include "tests/harness.h"
#include "tests/kinesis_fixture.h"

#define SHARD "shardId-000000000000"
#define MAX_KIN 64
#define MAX_USER 256
/* filelog escapes bytes outside printable ASCII as \xHH: the magic of a raw aggregate. */
#define ESCAPED_MAGIC "\\xf3\\x89\\x9a\\xc2"
/* 2^127 - 1 and 2^127: the shard in the range tests owns the lower half. */
#define LOW_END "170141183460469231731687303715884105727"
#define HIGH_START "170141183460469231731687303715884105728"
#define U128_MAX "340282366920938463463374607431768211455"

/* ---------------------------------------------------------------- the producer */

/* What a handler must see, in order. */
struct user {
	size_t kin;   /* index of its Kinesis record */
	uint64_t sub; /* sub-sequence number */
	char data[40];
	bool raw_aggregate; /* a broken aggregate delivered raw: data starts with the magic */
	bool last;          /* the last user record of its Kinesis record */
};

struct plan {
	char stream[64];
	struct kinesis_client *kc;
	struct aws_creds_provider *creds;
	size_t n_kin;
	char seq[MAX_KIN][KINESIS_SEQUENCE_MAX + 1];
	size_t n_user;
	struct user user[MAX_USER];
};

static int
plan_open(struct plan *p, const char *prefix)
{
	memset(p, 0, sizeof(*p));
	test_unique_name(p->stream, sizeof(p->stream), prefix);
	if (!(p->kc = test_kinesis_client("KINESIS_ENDPOINT", &p->creds)))
		return -1;
	return test_kinesis_create_stream(p->kc, p->stream, 1, 30000, NULL);
}

static void
plan_close(struct plan *p)
{
	if (p->kc)
		test_kinesis_delete_stream(p->kc, p->stream);
	kinesis_client_free(p->kc);
	creds_provider_free(p->creds);
}

/* One PutRecords call per record, so sequence numbers rise in put order. */
static void
put(struct plan *p, const void *data, size_t len, const char *pk)
{
	struct kinesis_put_result r;

	CU_ASSERT_FATAL(p->n_kin < MAX_KIN);
	if (test_kinesis_put_one(p->kc, p->stream, data, len, pk, &r) < 0)
		CU_FAIL_FATAL("PutRecords failed");
	memcpy(p->seq[p->n_kin++], r.sequence_number, sizeof(p->seq[0]));
}

static struct user *
expect(struct plan *p, uint64_t sub, const char *data)
{
	struct user *u = &p->user[p->n_user++];

	CU_ASSERT_FATAL(p->n_user <= MAX_USER);
	*u = (struct user){ .kin = p->n_kin, .sub = sub, .last = true };
	snprintf(u->data, sizeof(u->data), "%s", data);
	if (sub > 0)
		u[-1].last = false;
	return u;
}

static void
put_plain(struct plan *p, const char *text)
{
	expect(p, 0, text);
	put(p, text, strlen(text), "plain");
}

/*
 * An aggregate of n user records "<tag>-<i>" with partition keys "<tag>-pk-<i>" and
 * hash keys ehk(i) (NULL: none). dropped: the reader must not deliver it.
 */
static void
put_aggregate(struct plan *p, const char *tag, size_t n, const char *(*ehk)(size_t i), bool dropped)
{
	struct kpl_entry e[32];
	char data[32][40], pk[32][40];
	struct kls_buf agg;

	CU_ASSERT_FATAL(n <= 32);
	buf_init(&agg, 0);
	for (size_t i = 0; i < n; i++) {
		const char *h = ehk ? ehk(i) : NULL;

		snprintf(data[i], sizeof(data[i]), "%s-%zu", tag, i);
		snprintf(pk[i], sizeof(pk[i]), "%s-pk-%zu", tag, i);
		e[i] = (struct kpl_entry){ data[i], strlen(data[i]), pk[i], strlen(pk[i]), h,
			h ? strlen(h) : 0 };
		if (!dropped)
			expect(p, i, data[i]);
	}
	CU_ASSERT_EQUAL_FATAL(kpl_encode(&agg, e, n), 0);
	put(p, agg.data, agg.len, pk[0]);
	buf_free(&agg);
}

/* Bytes with the KPL magic that are no valid aggregate: delivered raw. */
static void
put_broken(struct plan *p, const struct kls_buf *b)
{
	expect(p, 0, ESCAPED_MAGIC)->raw_aggregate = true;
	put(p, b->data, b->len, "broken");
}

/* The three kinds of broken aggregate the tests write, and a bad table index. */
enum broken { BROKEN_MD5, BROKEN_TRUNCATED, BROKEN_HUGE_LENGTH, BROKEN_INDEX };

static void
put_broken_kind(struct plan *p, enum broken kind)
{
	struct kpl_entry e[2] = { { "x1", 2, "k1", 2, NULL, 0 }, { "x2", 2, "k2", 2, NULL, 0 } };
	struct kls_buf b, proto;

	buf_init(&b, 0);
	buf_init(&proto, 0);
	switch (kind) {
	case BROKEN_MD5:
		CU_ASSERT_EQUAL(kpl_encode(&b, e, 2), 0);
		b.data[b.len - 1] ^= 0x40;
		break;
	case BROKEN_TRUNCATED:
		/* A correct MD5 around a protobuf cut three bytes short. */
		CU_ASSERT_EQUAL(kpl_encode(&proto, e, 2), 0);
		CU_ASSERT_EQUAL(kpl_frame(&b, proto.data + KPL_MAGIC_LEN,
		                    proto.len - KPL_MAGIC_LEN - KPL_MD5_LEN - 3),
		    0);
		break;
	case BROKEN_HUGE_LENGTH:
		CU_ASSERT_EQUAL(kpl_put_bytes(&proto, 1, "k", 1), 0);
		CU_ASSERT_EQUAL(kpl_put_key(&proto, 3, 2), 0);
		CU_ASSERT_EQUAL(kpl_put_varint(&proto, UINT64_C(1) << 62), 0);
		CU_ASSERT_EQUAL(kpl_frame(&b, proto.data, proto.len), 0);
		break;
	case BROKEN_INDEX: {
		struct kls_buf rec;

		buf_init(&rec, 0);
		CU_ASSERT_EQUAL(kpl_put_uint(&rec, 1, 5), 0); /* the table has one entry */
		CU_ASSERT_EQUAL(kpl_put_bytes(&rec, 3, "data", 4), 0);
		CU_ASSERT_EQUAL(kpl_put_bytes(&proto, 1, "k", 1), 0);
		CU_ASSERT_EQUAL(kpl_put_bytes(&proto, 3, rec.data, rec.len), 0);
		CU_ASSERT_EQUAL(kpl_frame(&b, proto.data, proto.len), 0);
		buf_free(&rec);
		break;
	}
	}
	put_broken(p, &b);
	buf_free(&b);
	buf_free(&proto);
}

/* ---------------------------------------------------------------- reader runs */

struct kpl_run {
	const char *handler; /* example handler */
	const char *ckpt;    /* persisted checkpoint, NULL: none */
	uint64_t sub;
	const char *hash_start; /* the lease's hash-key range, NULL: none */
	const char *hash_end;
	const char *reader_lines;
	const char *handler_lines; /* after path = ... */
};

static int
spawn(struct fake_klsd *fx, const struct plan *p, const struct kpl_run *r)
{
	char h[PATH_MAX], hl[PATH_MAX + 256];

	if (fk_open(fx, SHARD, 30000, r->ckpt ? r->ckpt : "", r->sub) < 0)
		return -1;
	if (r->hash_start) {
		snprintf(fx->l.hash_start, sizeof(fx->l.hash_start), "%s", r->hash_start);
		snprintf(fx->l.hash_end, sizeof(fx->l.hash_end), "%s", r->hash_end);
		kls_shm_lease_publish(fx->s, &fx->l);
	}
	snprintf(h, sizeof(h), "%s/examples/.libs/%s.so", test_builddir(), r->handler);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log\n%s", fx->dir,
	    r->handler_lines ? r->handler_lines : "");
	if (fk_config(fx, p->stream, test_env("KINESIS_ENDPOINT"), h,
	        r->reader_lines ? r->reader_lines : "", hl) < 0)
		return -1;
	return fk_spawn(fx);
}

static size_t want_records;

/* Every expected record delivered and the last one's checkpoint persisted. */
static bool
all_checkpointed(const struct fake_klsd *fx)
{
	return fx->prog.records == want_records &&
	       strcmp(fx->l.ckpt_seq, fx->prog.delivered_seq) == 0 &&
	       fx->l.ckpt_subseq == fx->prog.delivered_subseq;
}

/* Serves until all_checkpointed, then DRAIN: a clean exit. */
static void
run_to_end(struct fake_klsd *fx, size_t records)
{
	want_records = records;
	CU_ASSERT(fk_until(fx, all_checkpointed, RUN_TIMEOUT_MS));
	fk_command(fx, KLS_CMD_DRAIN);
	fk_wait(fx);
	CU_ASSERT(exited_with(fx, 0));
}

/* ---------------------------------------------------------------- the lines */

struct kline {
	char seq[KLS_SHM_SEQ_MAX];
	unsigned long long sub;
	char data[512];
};

static size_t
read_klines(const struct fake_klsd *fx, struct kline *out, size_t max)
{
	char path[PATH_MAX + 64], buf[2048], shard[KLS_SHM_SHARD_MAX];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out-%s.log", fx->dir, SHARD);
	if (!(f = fopen(path, "r")))
		return 0;
	while (n < max && fgets(buf, sizeof(buf), f)) {
		struct kline *l = &out[n];

		if (sscanf(buf, "%135s %135s %llu %*s %*d %*d %*d %511s", shard, l->seq, &l->sub,
		        l->data) != 4) {
			fprintf(stderr, "\nbad line: %s", buf);
			CU_FAIL("a record line that does not parse");
			continue;
		}
		n++;
	}
	fclose(f);
	return n;
}

/* lines[0..n) are exactly the user records [from, to) of the plan, in order. */
static void
check_klines(const struct plan *p, const struct kline *lines, size_t n, size_t from, size_t to)
{
	if (n != to - from)
		fprintf(stderr, "\n%zu lines, want user records %zu..%zu\n", n, from, to);
	CU_ASSERT_EQUAL_FATAL(n, to - from);
	for (size_t i = 0; i < n; i++) {
		const struct user *u = &p->user[from + i];
		bool same = u->raw_aggregate ? strncmp(lines[i].data, u->data, strlen(u->data)) == 0
		                             : strcmp(lines[i].data, u->data) == 0;

		if (!same || strcmp(lines[i].seq, p->seq[u->kin]) != 0 || lines[i].sub != u->sub)
			fprintf(stderr, "\nline %zu: %s/%llu %s, want %s/%llu %s\n", i,
			    lines[i].seq, lines[i].sub, lines[i].data, p->seq[u->kin],
			    (unsigned long long)u->sub, u->data);
		CU_ASSERT(same);
		CU_ASSERT_STRING_EQUAL(lines[i].seq, p->seq[u->kin]);
		CU_ASSERT_EQUAL(lines[i].sub, u->sub);
	}
}

/* The index of the user record (seq, sub), or -1. */
static long
user_at(const struct plan *p, const char *seq, uint64_t sub)
{
	for (size_t i = 0; i < p->n_user; i++)
		if (strcmp(p->seq[p->user[i].kin], seq) == 0 && p->user[i].sub == sub)
			return (long)i;
	return -1;
}

static const char *
ehk_low(size_t i)
{
	static const char *const k[] = { "0", "12345", LOW_END };
	return k[i % 3];
}

/* ---------------------------------------------------------------- tests */

static struct kline lines[MAX_USER];

/*
 * Aggregates of several sizes (one of a single record, some with explicit hash keys)
 * between plain records and broken aggregates: filelog sees each user record once, in
 * order, with its sub-sequence number; the broken ones arrive raw and are counted by
 * reason; every automatic checkpoint is the last user record of its batch.
 */
static void
test_reader_kpl_exactly_once_in_order(void)
{
	static struct plan p;
	struct fake_klsd fx;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(plan_open(&p, "kls-kpl-order"), 0);
	put_plain(&p, "plain-0");
	put_aggregate(&p, "a", 5, NULL, false);
	put_aggregate(&p, "b", 1, NULL, false);
	put_broken_kind(&p, BROKEN_MD5);
	put_aggregate(&p, "c", 3, ehk_low, false);
	put_plain(&p, "plain-1");
	put_broken_kind(&p, BROKEN_TRUNCATED);
	put_aggregate(&p, "d", 20, NULL, false);
	put_broken_kind(&p, BROKEN_HUGE_LENGTH);
	put_broken_kind(&p, BROKEN_INDEX);
	put_aggregate(&p, "e", 7, ehk_low, false);
	put_plain(&p, "plain-2");

	CU_ASSERT_EQUAL_FATAL(spawn(&fx, &p,
	                          &(struct kpl_run){ .handler = "filelog",
	                              .hash_start = "0",
	                              .hash_end = U128_MAX,
	                              .reader_lines = "max_records = 3" }),
	    0);
	run_to_end(&fx, p.n_user);
	n = read_klines(&fx, lines, MAX_USER);
	check_klines(&p, lines, n, 0, p.n_user);
	CU_ASSERT_EQUAL(fx.prog.records, p.n_user);
	CU_ASSERT_EQUAL(fx.prog.kpl_aggregates, 5);
	CU_ASSERT_EQUAL(fx.prog.kpl_user_records, 5 + 1 + 3 + 20 + 7);
	CU_ASSERT_EQUAL(fx.prog.kpl_invalid[KPL_MD5_MISMATCH], 1);
	CU_ASSERT_EQUAL(fx.prog.kpl_invalid[KPL_MALFORMED], 2);
	CU_ASSERT_EQUAL(fx.prog.kpl_invalid[KPL_BAD_INDEX], 1);
	CU_ASSERT_EQUAL(fx.prog.kpl_dropped_aggregates, 0);
	/* Checkpoints at batch ends: each the last user record of a Kinesis record. */
	CU_ASSERT(fx.n_ckpts >= 4);
	for (size_t i = 0; i < fx.n_ckpts; i++) {
		long u = user_at(&p, fx.ckpts[i], fx.ckpt_subs[i]);
		CU_ASSERT(u >= 0 && p.user[u].last);
	}
	CU_ASSERT_STRING_EQUAL(fx.l.ckpt_seq, p.seq[p.n_kin - 1]);
	CU_ASSERT_EQUAL(fx.l.ckpt_subseq, 0);
	fk_close(&fx);
	plan_close(&p);
}

/*
 * A reader crash (fault.so, SIGSEGV) at a chosen user record, then a reader from the
 * persisted checkpoint. With checkpoint_before the handler checkpointed the record
 * before the crash, anywhere in an aggregate: across both runs every user record is
 * delivered exactly once. With automatic checkpoints only, the crashed batch comes
 * again: nothing at or before the checkpoint twice, nothing after it lost.
 */
static void
test_reader_kpl_crash_resume(void)
{
	static const struct {
		const char *what;
		unsigned at; /* 1-based user record fault.so crashes at */
		bool before; /* checkpoint_before (manual) or automatic checkpoints */
		long ckpt;   /* expected checkpoint: a user record index; -1: any batch end */
	} cases[] = {
		{ "checkpoint inside an aggregate", 4, true, 2 },
		{ "checkpoint at sub-record 0 of an aggregate", 3, true, 1 },
		{ "checkpoint at an aggregate's last sub-record", 6, true, 4 },
		{ "checkpoint at a plain record", 10, true, 8 },
		{ "automatic checkpoints, crash inside an aggregate", 12, false, -1 },
	};
	static struct plan p;

	/* User records: P0 | a0..a3 | b0..b2 | P1 | c0..c4 | P2. */
	CU_ASSERT_EQUAL_FATAL(plan_open(&p, "kls-kpl-crash"), 0);
	put_plain(&p, "P0");
	put_aggregate(&p, "a", 4, NULL, false);
	put_aggregate(&p, "b", 3, NULL, false);
	put_plain(&p, "P1");
	put_aggregate(&p, "c", 5, NULL, false);
	put_plain(&p, "P2");
	CU_ASSERT_EQUAL_FATAL(p.n_user, 15);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_klsd fx;
		char hl[128], seq[KLS_SHM_SEQ_MAX];
		uint64_t sub;
		long at;
		size_t n;

		fprintf(stderr, "\n-- %s\n", cases[i].what);
		snprintf(hl, sizeof(hl), "mode = segv\nat_record = %u\ncheckpoint_before = %s",
		    cases[i].at, cases[i].before ? "yes" : "no");
		CU_ASSERT_EQUAL_FATAL(spawn(&fx, &p,
		                          &(struct kpl_run){ .handler = "fault",
		                              .reader_lines =
		                                  cases[i].before
		                                      ? "checkpoint = manual\nmax_records = 2"
		                                      : "max_records = 2",
		                              .handler_lines = hl }),
		    0);
		fk_wait(&fx);
		CU_ASSERT(WIFSIGNALED(fx.status) && WTERMSIG(fx.status) == SIGSEGV);
		/* The lines before the crash: records 0 .. at-2. */
		n = read_klines(&fx, lines, MAX_USER);
		check_klines(&p, lines, n, 0, cases[i].at - 1);
		memcpy(seq, fx.l.ckpt_seq, sizeof(seq));
		sub = fx.l.ckpt_subseq;
		at = user_at(&p, seq, sub);
		if (cases[i].ckpt >= 0) {
			CU_ASSERT_EQUAL(at, cases[i].ckpt);
		} else {
			/* A batch end before the crash. */
			CU_ASSERT(at >= 0 && at < (long)cases[i].at - 1 && p.user[at].last);
		}
		fk_close(&fx);
		if (at < 0)
			continue;

		/* The next reader, from the persisted (sequence, sub-sequence). */
		CU_ASSERT_EQUAL_FATAL(spawn(&fx, &p,
		                          &(struct kpl_run){ .handler = "filelog",
		                              .ckpt = seq,
		                              .sub = sub }),
		    0);
		run_to_end(&fx, p.n_user - (size_t)at - 1);
		n = read_klines(&fx, lines, MAX_USER);
		check_klines(&p, lines, n, (size_t)at + 1, p.n_user);
		fk_close(&fx);
	}
	plan_close(&p);
}

/*
 * After a reshard: the lease says the shard owns the lower half of the hash-key space.
 * Aggregates with a user record above it, by explicit hash key or by the MD5 of its
 * partition key, are dropped whole and counted; plain records are not checked. A
 * lease without a range drops nothing.
 */
static const char *
ehk_second_high(size_t i)
{
	return i == 1 ? HIGH_START : "7";
}

static const char *
ehk_all_high(size_t i)
{
	(void)i;
	return HIGH_START;
}

static void
test_reader_kpl_out_of_range_dropped(void)
{
	static struct plan p;
	struct fake_klsd fx;
	size_t n, kept;
	struct kpl_u128 h;
	bool some_high = false;

	CU_ASSERT_EQUAL_FATAL(plan_open(&p, "kls-kpl-range"), 0);
	put_aggregate(&p, "in", 3, ehk_low, false);
	put_aggregate(&p, "out", 3, ehk_second_high, true);
	put_plain(&p, "plain");
	put_aggregate(&p, "allout", 2, ehk_all_high, true);
	/* Without hash keys the partition keys decide: of "pk-<i>" for 16 records, some
	 * hash into the upper half (checked below), so the aggregate is dropped. */
	for (int i = 0; i < 16; i++) {
		char pk[40];
		snprintf(pk, sizeof(pk), "bypk-pk-%d", i);
		CU_ASSERT_EQUAL(kpl_partition_key_hash(pk, strlen(pk), &h), 0);
		some_high |= (h.hi >> 63) != 0;
	}
	CU_ASSERT_FATAL(some_high);
	put_aggregate(&p, "bypk", 16, NULL, true);
	put_aggregate(&p, "last", 2, ehk_low, false);
	kept = p.n_user;
	CU_ASSERT_EQUAL(kept, 3 + 1 + 2);

	CU_ASSERT_EQUAL_FATAL(spawn(&fx, &p,
	                          &(struct kpl_run){ .handler = "filelog",
	                              .hash_start = "0",
	                              .hash_end = LOW_END,
	                              .reader_lines = "max_records = 2" }),
	    0);
	run_to_end(&fx, kept);
	n = read_klines(&fx, lines, MAX_USER);
	check_klines(&p, lines, n, 0, kept);
	CU_ASSERT_EQUAL(fx.prog.kpl_aggregates, 5);
	CU_ASSERT_EQUAL(fx.prog.kpl_dropped_aggregates, 3);
	CU_ASSERT_EQUAL(fx.prog.kpl_dropped_records, 3 + 2 + 16);
	CU_ASSERT_EQUAL(fx.prog.kpl_user_records, 3 + 2);
	fk_close(&fx);

	/* No range in the lease: all 27 user records. */
	CU_ASSERT_EQUAL_FATAL(spawn(&fx, &p, &(struct kpl_run){ .handler = "filelog" }), 0);
	run_to_end(&fx, 3 + 3 + 1 + 2 + 16 + 2);
	n = read_klines(&fx, lines, MAX_USER);
	CU_ASSERT_EQUAL(n, 27);
	CU_ASSERT_EQUAL(fx.prog.kpl_dropped_aggregates, 0);
	fk_close(&fx);
	plan_close(&p);
}

static CU_TestInfo kpl_tests[] = {
	{ "aggregates, plain and broken: each user record once, in order",
	    test_reader_kpl_exactly_once_in_order },
	{ "crash inside an aggregate, resume from (sequence, sub-sequence)",
	    test_reader_kpl_crash_resume },
	{ "aggregates outside the shard's hash-key range dropped",
	    test_reader_kpl_out_of_range_dropped },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "reader_kpl", NULL, NULL, NULL, NULL, kpl_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
