/* Tests of supervisor/checkpoints.c: which reader requests klsd accepts (never beyond
 * the last delivered record, SHARD_END only for a closed shard) and how a burst
 * coalesces into one write per lease. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/checkpoints.h"
#include "tests/harness.h"

static struct kls_progress
req(const char *seq, uint64_t sub, uint64_t gen, const char *delivered, uint64_t dsub)
{
	struct kls_progress p;
	memset(&p, 0, sizeof(p));
	snprintf(p.req_seq, sizeof(p.req_seq), "%s", seq);
	p.req_subseq = sub;
	p.req_gen = gen;
	snprintf(p.delivered_seq, sizeof(p.delivered_seq), "%s", delivered);
	p.delivered_subseq = dsub;
	return p;
}

static void
test_checkpoints_rules(void)
{
	static const struct {
		const char *seq;
		uint64_t sub;
		const char *delivered;
		uint64_t dsub;
		bool closed;
		enum ckpt_verdict want;
	} cases[] = {
		{ "100", 0, "100", 0, false, CKPT_QUEUED },   /* at the last delivered */
		{ "99", 0, "100", 0, false, CKPT_QUEUED },    /* before it */
		{ "100", 1, "100", 0, false, CKPT_REFUSED },  /* sub-sequence beyond */
		{ "101", 0, "100", 5, false, CKPT_REFUSED },  /* beyond */
		{ "1000", 0, "999", 0, false, CKPT_REFUSED }, /* longer is larger */
		{ "12x", 0, "100", 0, false, CKPT_REFUSED },  /* not a number */
		{ "", 0, "100", 0, false, CKPT_REFUSED },
		{ "5", 0, "", 0, false, CKPT_REFUSED }, /* nothing delivered yet */
		{ "TRIM_HORIZON", 0, "100", 0, false, CKPT_REFUSED },
		{ "SHARD_END", 0, "", 0, true, CKPT_QUEUED },
		{ "SHARD_END", 0, "100", 0, false, CKPT_NEED_CLOSED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ckpt_state s = { 0 };
		struct kls_progress p =
		    req(cases[i].seq, cases[i].sub, 1, cases[i].delivered, cases[i].dsub);
		char why[256] = "";
		enum ckpt_verdict v = ckpt_consider(&s, &p, cases[i].closed, why, sizeof(why));
		if (v != cases[i].want)
			fprintf(stderr, "\ncase %zu: verdict %d (%s)\n", i, (int)v, why);
		CU_ASSERT_EQUAL(v, cases[i].want);
		if (v == CKPT_REFUSED)
			CU_ASSERT_PTR_NOT_NULL(strstr(why, "refused"));
		CU_ASSERT_EQUAL(s.pending, v == CKPT_QUEUED);
	}
}

static void
test_checkpoints_coalesce(void)
{
	struct ckpt_state s = { 0 };
	struct kls_progress p;
	struct ckpt_req w;
	char why[256];

	p = req("10", 0, 1, "10", 0);
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	CU_ASSERT_TRUE(ckpt_start(&s, &w));
	CU_ASSERT_EQUAL(w.gen, 1);
	CU_ASSERT_STRING_EQUAL(w.seq, "10");
	/* The same request seen again (a second wake byte): nothing new. */
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_NOTHING);
	/* A burst while the write is in flight: only the latest is kept. */
	p = req("20", 0, 2, "20", 0);
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	p = req("30", 2, 3, "30", 2);
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	CU_ASSERT_FALSE(ckpt_start(&s, &w)); /* one write per lease */
	ckpt_finished(&s);
	CU_ASSERT_EQUAL(s.answered_gen, 1);
	CU_ASSERT_TRUE(ckpt_start(&s, &w));
	CU_ASSERT_EQUAL(w.gen, 3);
	CU_ASSERT_STRING_EQUAL(w.seq, "30");
	CU_ASSERT_EQUAL(w.sub, 2);
	ckpt_finished(&s);
	CU_ASSERT_EQUAL(s.answered_gen, 3);
	CU_ASSERT_FALSE(ckpt_start(&s, &w));
	/* An old generation is never answered again, and answers never go backwards. */
	p = req("40", 0, 2, "40", 0);
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_NOTHING);
	ckpt_answer(&s, 2);
	CU_ASSERT_EQUAL(s.answered_gen, 3);
	/* Lease lost: everything pending is dropped and answered at the newest gen. */
	p = req("50", 0, 4, "50", 0);
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	CU_ASSERT_TRUE(ckpt_start(&s, &w));
	p = req("60", 0, 5, "60", 0);
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	CU_ASSERT_EQUAL(ckpt_drop(&s), 5);
	CU_ASSERT_FALSE(s.pending);
	CU_ASSERT_FALSE(ckpt_start(&s, &w));
}

/* ms on an arbitrary monotonic clock (0 would read as "no write yet"). */
static kls_mono
at(int64_t ms)
{
	return mono_add_ms((kls_mono){ 1000000000 }, ms);
}

/* When a pending request may be written (ckpt_due), case by case. Times in ms from
 * at(0); -1 = at once (KLS_MONO_ZERO), -2 = never. */
static void
test_checkpoints_due(void)
{
	static const struct {
		const char *what;
		bool pending, inflight, coalesce, flush;
		int64_t interval, last_write, next_renew, retry_at; /* retry_at -1 = none */
		int64_t want;
	} cases[] = {
		{ "nothing pending", false, false, true, false, 5000, 0, 3333, -1, -2 },
		{ "a write in flight", true, true, true, false, 5000, 0, 3333, -1, -2 },
		{ "handler request: now", true, false, false, false, 5000, 0, 3333, -1, -1 },
		{ "interval 0: every batch now", true, false, true, false, 0, 0, 3333, -1, -1 },
		{ "flush: now", true, false, true, true, 5000, 0, 3333, -1, -1 },
		{ "interval after the last write", true, false, true, false, 1000, 0, 3333, -1,
		    1000 },
		{ "renewal comes first: ride on it", true, false, true, false, 5000, 0, 3333, -1,
		    3333 },
		{ "interval already over: now", true, false, true, false, 1000, -2000, 1333, -1,
		    -1000 },
		{ "failed write: not before retry", true, false, true, false, 1000, -2000, 1333,
		    400, 400 },
		{ "failed write, flushed: still waits", true, false, true, true, 1000, -2000, 1333,
		    400, 400 },
		{ "handler request ignores retry", true, false, false, false, 1000, -2000, 1333,
		    400, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ckpt_state s = { 0 };
		struct ckpt_timing t = {
			.last_write = at(cases[i].last_write),
			.next_renew = at(cases[i].next_renew),
			.interval_ms = cases[i].interval,
			.flush = cases[i].flush,
		};
		kls_mono want = cases[i].want == -2   ? KLS_MONO_NEVER
		                : cases[i].want == -1 ? KLS_MONO_ZERO
		                                      : at(cases[i].want);
		kls_mono got;

		s.pending = cases[i].pending;
		s.inflight = cases[i].inflight;
		s.next.coalesce = cases[i].coalesce;
		if (cases[i].retry_at != -1)
			s.retry_at = at(cases[i].retry_at);
		got = ckpt_due(&s, &t);
		if (got.ns != want.ns)
			fprintf(stderr, "\ncase \"%s\": due %lld, want %lld\n", cases[i].what,
			    (long long)got.ns, (long long)want.ns);
		CU_ASSERT_EQUAL(got.ns, want.ns);
	}
}

/* Whether the merged pending request may wait, as requests arrive in order: once one
 * that must be written now is pending, so is whatever replaces it before its write. */
static void
test_checkpoints_coalesce_flags(void)
{
	static const struct {
		const char *what;
		uint32_t flags[3];
		size_t n;
		bool want_coalesce;
	} cases[] = {
		{ "automatic only", { KLS_REQ_COALESCE, KLS_REQ_COALESCE, KLS_REQ_COALESCE }, 3,
		    true },
		{ "handler's last", { KLS_REQ_COALESCE, KLS_REQ_COALESCE, 0 }, 3, false },
		{ "handler's first", { 0, KLS_REQ_COALESCE, KLS_REQ_COALESCE }, 3, false },
		{ "older reader (no flags)", { 0 }, 1, false },
	};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ckpt_state s = { 0 };
		struct ckpt_req w;

		for (size_t j = 0; j < cases[i].n; j++) {
			char seq[8];
			struct kls_progress p;
			snprintf(seq, sizeof(seq), "%zu", 10 * (j + 1));
			p = req(seq, 0, j + 1, "100", 0);
			p.req_flags = cases[i].flags[j];
			CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)),
			    CKPT_QUEUED);
		}
		if (s.next.coalesce != cases[i].want_coalesce)
			fprintf(stderr, "\ncase \"%s\"\n", cases[i].what);
		CU_ASSERT_EQUAL(s.next.coalesce, cases[i].want_coalesce);
		/* The newest position and generation are what gets written. */
		CU_ASSERT_TRUE(ckpt_start(&s, &w));
		CU_ASSERT_EQUAL(w.gen, cases[i].n);
		CU_ASSERT_EQUAL(strtoull(w.seq, NULL, 10), 10 * cases[i].n);
	}
}

/* A failed coalesced write keeps its position pending unless a newer one came. */
static void
test_checkpoints_retry(void)
{
	struct ckpt_state s = { 0 };
	struct kls_progress p;
	struct ckpt_req w, again;
	char why[256];

	p = req("10", 0, 1, "10", 0);
	p.req_flags = KLS_REQ_COALESCE;
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	CU_ASSERT_TRUE(ckpt_start(&s, &w));
	ckpt_finished(&s);
	ckpt_retry(&s, &w, at(500));
	CU_ASSERT_TRUE(s.pending);
	CU_ASSERT_STRING_EQUAL(s.next.seq, "10");
	CU_ASSERT_EQUAL(s.retry_at.ns, at(500).ns);
	/* The same generation is not taken for a new request. */
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_NOTHING);
	CU_ASSERT_TRUE(ckpt_start(&s, &again));
	CU_ASSERT_EQUAL(again.gen, 1);
	CU_ASSERT_EQUAL(s.retry_at.ns, 0);
	/* A newer request while the failed one was in flight wins over the retry. */
	p = req("20", 0, 2, "20", 0);
	p.req_flags = KLS_REQ_COALESCE;
	CU_ASSERT_EQUAL(ckpt_consider(&s, &p, false, why, sizeof(why)), CKPT_QUEUED);
	ckpt_finished(&s);
	ckpt_retry(&s, &again, at(900));
	CU_ASSERT_STRING_EQUAL(s.next.seq, "20");
	CU_ASSERT_EQUAL(s.next.gen, 2);
}

static CU_TestInfo checkpoints_tests[] = {
	{ "requests accepted and refused", test_checkpoints_rules },
	{ "one write per lease, bursts coalesce", test_checkpoints_coalesce },
	{ "when a pending checkpoint is written", test_checkpoints_due },
	{ "automatic and handler requests merged", test_checkpoints_coalesce_flags },
	{ "a failed coalesced write is kept", test_checkpoints_retry },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "checkpoints", NULL, NULL, NULL, NULL, checkpoints_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
