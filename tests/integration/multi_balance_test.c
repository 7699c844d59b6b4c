/*
 * Several klsd workers on one 8-shard stream with records flowing (issue 4): workers
 * joining one after another get their share through graceful handoffs (drain, final
 * checkpoint, then the new owner starts: no record twice), and a worker stopped with
 * SIGTERM releases its leases so the others take them in their next take cycle. Every
 * record is delivered, and no two readers of a shard ever run at the same time.
 *
 * Lines starting "measure:" report the targets (not asserted beyond bounds of
 * seconds).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "tests/fleet.h"
#include "tests/harness.h"

#define SHARDS 8
#define RATE 100 /* records per second while the workers run */
/* A busy 2-core machine: what may come on top of the protocol's own times. */
#define SLACK_MS FLEET_MS(6000)

/* Handoff times to worker i since `since`: from the request (the table shows the new
 * owner with checkpointOwner set) to the new reader's first record. */
static void
report_handoffs(struct fleet *fl, int i, int64_t since)
{
	for (size_t s = 0; s < fl->ov.n; s++) {
		const struct ov_shard *sh = &fl->ov.s[s];
		int64_t asked = fleet_event_owner(fl, sh->id, fl->w[i].worker, since, true);
		int64_t first = INT64_MAX;
		if (!asked)
			continue;
		for (size_t j = 0; j < sh->n; j++)
			if (strcmp(sh->v[j].worker, fl->w[i].worker) == 0 && sh->v[j].t0 > asked &&
			    sh->v[j].t0 < first)
				first = sh->v[j].t0;
		if (first != INT64_MAX)
			fprintf(stderr,
			    "measure: handoff %s to worker %d: %.0f ms from request to "
			    "the new reader's first record\n",
			    sh->id, i, (double)(first - asked) / 1e6);
	}
}

static void
test_multi_join(void)
{
	struct fleet fl;
	bool live[FLEET_MAX] = { true, false, false };
	int64_t ms, joined;

	if (fleet_init(&fl, "multi-join", SHARDS, 3, "KINESIS_ENDPOINT") < 0)
		goto out;
	for (int i = 0; i < 3; i++)
		if (fleet_config(&fl, i, NULL) < 0)
			goto out;
	fleet_monitor_start(&fl);
	if (fleet_produce_start(&fl, RATE) < 0 || !fleet_start(&fl, 0))
		goto out;
	ms = fleet_wait_spread(&fl, live, SHARDS, SHARDS, 30000);
	CU_ASSERT_TRUE(ms >= 0);

	/* The second worker: half of the leases, one handoff per take cycle. */
	live[1] = true;
	if (!fleet_start(&fl, 1))
		goto out;
	ms = fleet_wait_spread(&fl, live, SHARDS / 2, SHARDS / 2, 60000);
	fprintf(stderr, "\nmeasure: second worker reached 4 of 8 leases in %lld ms\n",
	    (long long)ms);
	CU_ASSERT_TRUE(ms >= 0);

	/* The third: within three take cycles every worker holds 2 or 3. */
	live[2] = true;
	joined = mono_now().ns;
	if (!fleet_start(&fl, 2))
		goto out;
	ms = fleet_wait_spread(&fl, live, 2, 3, 3 * FLEET_TAKE_MS + 30000);
	fprintf(stderr,
	    "measure: third worker joined; every worker at 2 or 3 leases in %lld ms "
	    "(take interval %d ms)\n",
	    (long long)ms, FLEET_TAKE_MS);
	CU_ASSERT_TRUE(ms >= 0 && ms <= 3 * FLEET_TAKE_MS + SLACK_MS);

	/* Records keep flowing a little, so the last handoffs' new readers get some. */
	sleep_ms(2000);
	fleet_finish(&fl);
	report_handoffs(&fl, 1, 0);
	report_handoffs(&fl, 2, joined);
out:
	fleet_done(&fl);
}

static void
test_multi_sigterm(void)
{
	struct fleet fl;
	bool live[FLEET_MAX] = { true, true, true };
	char keys[SHARDS][LEASE_KEY_MAX];
	int n;
	int64_t ms;

	if (fleet_init(&fl, "multi-term", SHARDS, 3, "KINESIS_ENDPOINT") < 0)
		goto out;
	for (int i = 0; i < 3; i++)
		if (fleet_config(&fl, i, NULL) < 0)
			goto out;
	/* All three at once: they race for the free leases, then even out. */
	if (!fleet_run_all(&fl, RATE, 2, 3))
		goto out;
	n = fleet_keys(&fl, 1, keys, SHARDS);
	CU_ASSERT_TRUE(n >= 2);

	kill(fl.w[1].pid, SIGTERM);
	live[1] = false;
	ms = fleet_wait_moved(&fl, 1, keys, n, FLEET_TAKE_MS + 30000);
	fprintf(stderr,
	    "measure: SIGTERM: %d leases taken by the others in %lld ms (take "
	    "interval %d ms)\n",
	    n, (long long)ms, FLEET_TAKE_MS);
	CU_ASSERT_TRUE(ms >= 0 && ms <= FLEET_TAKE_MS + SLACK_MS);
	CU_ASSERT_EQUAL(fixture_clean_exit(&fl.w[1]), 0);
	CU_ASSERT_TRUE(fleet_wait_spread(&fl, live, 4, 4, 30000) >= 0);
	fleet_finish(&fl);
out:
	fleet_done(&fl);
}

static CU_TestInfo multi_balance_tests[] = {
	{ "three workers join one after another", test_multi_join },
	{ "SIGTERM: leases taken in one take interval", test_multi_sigterm },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "multi_balance", NULL, NULL, NULL, NULL, multi_balance_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
