/* Tests of the lease protocol decisions (supervisor/lease.c): expiry by observed
 * counter changes, parents before children, balancing targets, takes and handoffs. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "supervisor/lease.h"
#include "tests/harness.h"

#define SEC(s) ((kls_mono){ (int64_t)(s) * 1000000000 })

static struct lease
mk(const char *key, const char *owner, uint64_t counter, const char *checkpoint)
{
	struct lease l;
	memset(&l, 0, sizeof(l));
	snprintf(l.key, sizeof(l.key), "%s", key);
	snprintf(l.owner, sizeof(l.owner), "%s", owner);
	/* kls workers' leases; foreign ones clear it. */
	snprintf(l.kls_owner, sizeof(l.kls_owner), "%s", owner);
	l.counter = counter;
	snprintf(l.checkpoint, sizeof(l.checkpoint), "%s", checkpoint);
	return l;
}

static void
add_parent(struct lease *l, const char *parent)
{
	snprintf(l->parents[l->nparents++], sizeof(l->parents[0]), "%s", parent);
}

static size_t
count_kind(const struct lease_plan *p, enum lease_action_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nactions; i++)
		n += p->actions[i].kind == k;
	return n;
}

static void
test_lease_merge_keeps_time_while_counter_still(void)
{
	struct lease_view lv;
	struct lease s1[] = { mk("a", "w1", 5, "TRIM_HORIZON"), mk("b", "w1", 7, "TRIM_HORIZON") };
	struct lease s2[] = { mk("a", "w1", 5, "TRIM_HORIZON"), mk("b", "w1", 8, "TRIM_HORIZON"),
		mk("c", "", 0, "TRIM_HORIZON") };
	struct lease s3[] = { mk("c", "", 0, "TRIM_HORIZON") };

	lease_view_init(&lv);
	CU_ASSERT_EQUAL_FATAL(lease_view_merge_scan(&lv, s1, 2, SEC(100)), 0);
	CU_ASSERT_EQUAL_FATAL(lease_view_merge_scan(&lv, s2, 3, SEC(105)), 0);
	CU_ASSERT_EQUAL(lease_view_find(&lv, "a")->changed_at.ns, SEC(100).ns);
	CU_ASSERT_EQUAL(lease_view_find(&lv, "b")->changed_at.ns, SEC(105).ns);
	CU_ASSERT_EQUAL(lease_view_find(&lv, "c")->changed_at.ns, SEC(105).ns);
	CU_ASSERT_EQUAL(lease_view_find(&lv, "a")->first_seen.ns, SEC(100).ns);
	/* a and b vanished from the table: dropped from the view */
	CU_ASSERT_EQUAL_FATAL(lease_view_merge_scan(&lv, s3, 1, SEC(106)), 0);
	CU_ASSERT_PTR_NULL(lease_view_find(&lv, "a"));
	CU_ASSERT_EQUAL(lv.n, 1);
	lease_view_free(&lv);
}

static void
test_lease_owner_change_resets_time(void)
{
	struct lease_view lv;
	struct lease s1[] = { mk("a", "w1", 5, "TRIM_HORIZON") };
	struct lease s2[] = { mk("a", "w2", 5, "TRIM_HORIZON") };

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s1, 1, SEC(100));
	lease_view_merge_scan(&lv, s2, 1, SEC(120));
	CU_ASSERT_EQUAL(lease_view_find(&lv, "a")->changed_at.ns, SEC(120).ns);
	lease_view_free(&lv);
}

static void
test_lease_expiry_by_observation(void)
{
	struct lease_view lv;
	struct lease s[] = { mk("a", "w1", 5, "TRIM_HORIZON"), mk("free", "", 3, "TRIM_HORIZON") };

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 2, SEC(100));
	CU_ASSERT_FALSE(lease_is_expired(lease_view_find(&lv, "a"), SEC(109), 10000));
	CU_ASSERT_TRUE(lease_is_expired(lease_view_find(&lv, "a"), SEC(110), 10000));
	CU_ASSERT_FALSE(lease_is_expired(lease_view_find(&lv, "free"), SEC(1000), 10000));
	/* the counter moved at 109: a full failover time counts again from there */
	s[0].counter = 6;
	lease_view_merge_scan(&lv, s, 2, SEC(109));
	CU_ASSERT_FALSE(lease_is_expired(lease_view_find(&lv, "a"), SEC(118), 10000));
	CU_ASSERT_TRUE(lease_is_expired(lease_view_find(&lv, "a"), SEC(119), 10000));
	lease_view_free(&lv);
}

static void
test_lease_parents_before_children(void)
{
	struct lease_view lv;
	struct lease s[4];
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 0 };

	s[0] = mk("p1", "", 1, "1234");
	s[1] = mk("p2", "", 1, CHECKPOINT_SHARD_END);
	s[2] = mk("merged", "", 0, "TRIM_HORIZON");
	add_parent(&s[2], "p1");
	add_parent(&s[2], "p2");
	s[3] = mk("orphan", "", 0, "TRIM_HORIZON");
	add_parent(&s[3], "gone");

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 4, SEC(1));
	CU_ASSERT_FALSE(lease_parents_done(&lv, &s[2]));
	CU_ASSERT_TRUE(lease_parents_done(&lv, &s[3]));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(2), &plan), 0);
	/* p1 and orphan are takeable; merged waits for p1; p2 is finished */
	CU_ASSERT_EQUAL(plan.active_leases, 2);
	CU_ASSERT_EQUAL(plan.nactions, 2);
	for (size_t i = 0; i < plan.nactions; i++) {
		CU_ASSERT_STRING_NOT_EQUAL(plan.actions[i].key, "merged");
		CU_ASSERT_STRING_NOT_EQUAL(plan.actions[i].key, "p2");
	}
	lease_plan_free(&plan);

	/* both parents finished: the child becomes takeable */
	strcpy(s[0].checkpoint, CHECKPOINT_SHARD_END);
	lease_view_merge_scan(&lv, s, 4, SEC(3));
	CU_ASSERT_TRUE(lease_parents_done(&lv, &s[2]));
	lease_view_free(&lv);
}

static void
test_lease_single_worker_takes_all_oldest_first(void)
{
	struct lease_view lv;
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 0 };
	struct lease a[] = { mk("s0", "", 0, "TRIM_HORIZON") };
	struct lease b[] = { mk("s0", "", 0, "TRIM_HORIZON"), mk("s1", "", 0, "LATEST"),
		mk("s2", "", 0, "LATEST"), mk("s3", "", 0, "LATEST") };

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, a, 1, SEC(1));
	lease_view_merge_scan(&lv, b, 4, SEC(2));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(3), &plan), 0);
	CU_ASSERT_EQUAL(plan.live_workers, 1);
	CU_ASSERT_EQUAL(plan.target, 4);
	CU_ASSERT_EQUAL_FATAL(plan.nactions, 4);
	CU_ASSERT_STRING_EQUAL(plan.actions[0].key, "s0"); /* seen first */
	CU_ASSERT_EQUAL(count_kind(&plan, LEASE_TAKE), 4);
	lease_plan_free(&plan);
	lease_view_free(&lv);
}

static void
test_lease_own_leases_count_as_held(void)
{
	/* A restarted klsd with the same id re-adopts its leases: they count as held and
	 * are never planned as takes. */
	struct lease_view lv;
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 0 };
	struct lease s[] = { mk("s0", "me", 9, "100"), mk("s1", "me", 4, "200") };

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 2, SEC(1));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(2), &plan), 0);
	CU_ASSERT_EQUAL(plan.held, 2);
	CU_ASSERT_EQUAL(plan.nactions, 0);
	lease_plan_free(&plan);
	lease_view_free(&lv);
}

static void
test_lease_expired_taken_and_owner_not_live(void)
{
	struct lease_view lv;
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 0 };
	struct lease s[] = { mk("s0", "dead", 3, "100"), mk("s1", "dead", 8, "100"),
		mk("s2", "alive", 1, "100"), mk("s3", "alive", 1, "100") };

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 4, SEC(0));
	/* alive renews at 9 s; dead does not */
	s[2].counter = 2;
	s[3].counter = 2;
	lease_view_merge_scan(&lv, s, 4, SEC(9));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(11), &plan), 0);
	CU_ASSERT_EQUAL(plan.live_workers, 2);
	CU_ASSERT_EQUAL(plan.target, 2);
	CU_ASSERT_EQUAL_FATAL(plan.nactions, 2);
	CU_ASSERT_EQUAL(count_kind(&plan, LEASE_TAKE), 2);
	CU_ASSERT_STRING_EQUAL(plan.actions[0].from, "dead");
	CU_ASSERT_EQUAL(plan.actions[0].expect_counter, 3);
	CU_ASSERT_EQUAL(plan.actions[1].expect_counter, 8);
	lease_plan_free(&plan);
	lease_view_free(&lv);
}

static void
test_lease_handoff_from_most_loaded(void)
{
	struct lease_view lv;
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 0 };
	struct lease s[8];

	for (int i = 0; i < 8; i++) {
		char key[16];
		snprintf(key, sizeof(key), "s%d", i);
		s[i] = mk(key, i < 5 ? "wa" : "wb", 1, "100");
	}
	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 8, SEC(0));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(1), &plan), 0);
	CU_ASSERT_EQUAL(plan.target, 3);
	CU_ASSERT_EQUAL_FATAL(plan.nactions, 1); /* one handoff per cycle */
	CU_ASSERT_EQUAL(plan.actions[0].kind, LEASE_HANDOFF);
	CU_ASSERT_STRING_EQUAL(plan.actions[0].from, "wa");
	lease_plan_free(&plan);

	/* a lease already in handoff is not asked for again */
	for (int i = 0; i < 5; i++)
		strcpy(s[i].checkpoint_owner, "other");
	lease_view_merge_scan(&lv, s, 8, SEC(2));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(2), &plan), 0);
	CU_ASSERT_EQUAL(plan.nactions, 0);
	lease_plan_free(&plan);
	lease_view_free(&lv);
}

/* A worker that is not kls (a KCL worker still running: no klsOwner on its leases) is
 * never asked for a handoff, however many leases it holds; once its counters stand still
 * for failover_ms its leases are taken like any expired ones. */
static void
test_lease_foreign_owner_waits_for_expiry(void)
{
	struct lease_view lv;
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 0 };
	struct lease s[5];

	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof(key), "s%d", i);
		s[i] = mk(key, i < 4 ? "kcl" : "wb", 1, "100");
		if (i < 4)
			s[i].kls_owner[0] = '\0';
	}
	/* One of KCL's leases still carries the marker of the kls worker it was taken
	 * from: stale, so still foreign. */
	strcpy(s[3].kls_owner, "wb");
	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 5, SEC(0));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(1), &plan), 0);
	/* wb (a kls worker) holds 1, KCL 4: wb is not above us by two, and KCL is never
	 * asked. */
	CU_ASSERT_EQUAL(plan.live_workers, 3);
	CU_ASSERT_EQUAL(plan.target, 2);
	CU_ASSERT_EQUAL(plan.nactions, 0);
	CU_ASSERT_EQUAL(plan.foreign_leases, 4);
	CU_ASSERT_STRING_EQUAL(plan.foreign_owner, "kcl");
	CU_ASSERT_EQUAL(plan.foreign_owner_leases, 4);
	lease_plan_free(&plan);

	/* The renewers keep going: still nothing. */
	for (int i = 0; i < 5; i++)
		s[i].counter++;
	lease_view_merge_scan(&lv, s, 5, SEC(9));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(18), &plan), 0);
	CU_ASSERT_EQUAL(plan.nactions, 0);
	lease_plan_free(&plan);

	/* KCL stopped at SEC(9): expired at SEC(19), taken then (up to target); wb goes
	 * on renewing. */
	s[4].counter++;
	lease_view_merge_scan(&lv, s, 5, SEC(19));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(19), &plan), 0);
	CU_ASSERT_EQUAL(plan.foreign_leases, 0);
	CU_ASSERT_EQUAL(plan.live_workers, 2);
	CU_ASSERT_EQUAL(count_kind(&plan, LEASE_TAKE), 3);
	CU_ASSERT_EQUAL(count_kind(&plan, LEASE_HANDOFF), 0);
	lease_plan_free(&plan);
	lease_view_free(&lv);
}

static void
test_lease_balanced_no_ping_pong(void)
{
	/* 3, 3 and 2 of 8: everyone within one of target; no handoff either way. */
	struct lease_view lv;
	struct lease_plan plan;
	struct lease s[8];
	const char *owners[8] = { "wa", "wa", "wa", "wb", "wb", "wb", "me", "me" };

	for (int i = 0; i < 8; i++) {
		char key[16];
		snprintf(key, sizeof(key), "s%d", i);
		s[i] = mk(key, owners[i], 1, "100");
	}
	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 8, SEC(0));
	for (int w = 0; w < 3; w++) {
		const char *who[] = { "me", "wa", "wb" };
		struct lease_plan_params pp = { who[w], 10000, 0 };
		CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(1), &plan), 0);
		CU_ASSERT_EQUAL(plan.nactions, 0);
		lease_plan_free(&plan);
	}
	lease_view_free(&lv);
}

static void
test_lease_max_leases_caps_target(void)
{
	struct lease_view lv;
	struct lease_plan plan;
	struct lease_plan_params pp = { "me", 10000, 2 };
	struct lease s[] = { mk("a", "", 0, "LATEST"), mk("b", "", 0, "LATEST"),
		mk("c", "", 0, "LATEST") };

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 3, SEC(0));
	CU_ASSERT_EQUAL_FATAL(lease_plan_takes(&lv, &pp, SEC(0), &plan), 0);
	CU_ASSERT_EQUAL(plan.target, 2);
	CU_ASSERT_EQUAL(plan.nactions, 2);
	lease_plan_free(&plan);
	lease_view_free(&lv);
}

static void
test_lease_update_records_our_write(void)
{
	struct lease_view lv;
	struct lease s[] = { mk("a", "w1", 5, "100") };
	struct lease mine = mk("a", "me", 6, "100");

	lease_view_init(&lv);
	lease_view_merge_scan(&lv, s, 1, SEC(0));
	CU_ASSERT_EQUAL(lease_view_update(&lv, &mine, SEC(20)), 0);
	CU_ASSERT_STRING_EQUAL(lease_view_find(&lv, "a")->l.owner, "me");
	CU_ASSERT_EQUAL(lease_view_find(&lv, "a")->changed_at.ns, SEC(20).ns);
	CU_ASSERT_EQUAL(lease_view_find(&lv, "a")->first_seen.ns, SEC(0).ns);
	mine = mk("new", "me", 1, "TRIM_HORIZON");
	CU_ASSERT_EQUAL(lease_view_update(&lv, &mine, SEC(21)), 0);
	CU_ASSERT_EQUAL(lv.n, 2);
	lease_view_free(&lv);
}

/* The next renewal: the renew interval after the send, sooner when the last write was
 * slow (twice its latency before the drain point), never before it landed. Times in ms
 * from an origin; the fleet tests' timings (renew 1000, drain at 1800) and the
 * defaults' (renew 3333, drain at 6000). */
static void
test_lease_next_renew(void)
{
	static const struct {
		int64_t landed, renew, drain_at, want;
	} cases[] = {
		{ 50, 1000, 1800, 1000 },   /* fast write: the interval */
		{ 400, 1000, 1800, 1000 },  /* 1800 - 800 = 1000: still the interval */
		{ 600, 1000, 1800, 600 },   /* slow: sooner, right away */
		{ 500, 1000, 1800, 800 },   /* 1800 - 1000 */
		{ 2500, 1000, 1800, 2500 }, /* landed past the drain point: at once */
		{ 300, 3333, 6000, 3333 },  /* the defaults: the interval */
		{ 2000, 3333, 6000, 2000 }, /* 6000 - 4000 */
	};
	kls_mono o = { 5000000000 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kls_mono got = lease_next_renew(o, mono_add_ms(o, cases[i].landed), cases[i].renew,
		    mono_add_ms(o, cases[i].drain_at));
		CU_ASSERT_EQUAL(mono_diff_ms(o, got), cases[i].want);
	}
}

static CU_TestInfo lease_tests[] = {
	{ "foreign owner waits for expiry", test_lease_foreign_owner_waits_for_expiry },
	{ "merge keeps time while counter still", test_lease_merge_keeps_time_while_counter_still },
	{ "owner change resets time", test_lease_owner_change_resets_time },
	{ "expiry by observation", test_lease_expiry_by_observation },
	{ "parents before children", test_lease_parents_before_children },
	{ "single worker takes all, oldest first", test_lease_single_worker_takes_all_oldest_first },
	{ "own leases count as held", test_lease_own_leases_count_as_held },
	{ "expired taken, owner not live", test_lease_expired_taken_and_owner_not_live },
	{ "handoff from most loaded", test_lease_handoff_from_most_loaded },
	{ "balanced: no ping-pong", test_lease_balanced_no_ping_pong },
	{ "max_leases caps target", test_lease_max_leases_caps_target },
	{ "update records our write", test_lease_update_records_our_write },
	{ "next renewal sooner when writes are slow", test_lease_next_renew },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "lease", NULL, NULL, NULL, NULL, lease_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
