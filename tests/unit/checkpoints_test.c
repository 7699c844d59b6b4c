/* Tests of supervisor/checkpoints.c: which reader requests klsd accepts (never beyond
 * the last delivered record, SHARD_END only for a closed shard) and how a burst
 * coalesces into one write per lease. */
#include "config.h"

#include <stdio.h>
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

static CU_TestInfo checkpoints_tests[] = {
	{ "requests accepted and refused", test_checkpoints_rules },
	{ "one write per lease, bursts coalesce", test_checkpoints_coalesce },
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
