/*
 * The edges of the graceful handoff (issue 4, DESIGN.md "Lease table"), with two klsd
 * workers and fake readers (tests/fake_reader.h) whose drain takes as long as the test
 * wants:
 *   - the worker that asked for a lease is stopped (SIGTERM) while the old owner still
 *     drains: it waits for the handoff to finish and releases the lease, instead of
 *     leaving it owned by nobody running until it expires;
 *   - the old owner freezes in the middle of a handoff: the new owner forces the take
 *     only after the handoff timeout and a full failover time, not before.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tests/fake_reader.h"
#include "tests/fleet.h"
#include "tests/harness.h"

#define SHARDS 2
#define HANDOFF_TIMEOUT_MS FLEET_MS(6000)
#define SLACK_MS FLEET_MS(6000)
#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Polls until a lease is owned by `owner` with checkpointOwner `from` (handoff asked),
 * or, with from NULL, owned by owner with no handoff; copies its key. */
static bool
wait_state(struct fleet *fl, const char *owner, const char *from, char *key, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	do {
		struct lease *v;
		int n = fixture_leases(&fl->w[0], &v);
		bool found = false;
		for (int i = 0; i < n && !found; i++) {
			found = strcmp(v[i].owner, owner) == 0 &&
			        strcmp(v[i].checkpoint_owner, from ? from : "") == 0 &&
			        (!key[0] || strcmp(v[i].key, key) == 0);
			if (found)
				snprintf(key, LEASE_KEY_MAX, "%s", v[i].key);
		}
		if (n > 0)
			free(v);
		if (found)
			return true;
		sleep_ms(50);
	} while (mono_before(mono_now(), end));
	return false;
}

static bool
start_pair(struct fleet *fl, const char *prefix, const char *extra, const char *old_mode)
{
	if (fleet_init(fl, prefix, SHARDS, 2, "KINESIS_ENDPOINT") < 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (fleet_config(fl, i, extra) < 0)
			return false;
	if (!fixture_start_owning(&fl->w[0], old_mode, SHARDS))
		return false;
	if (fixture_start(&fl->w[1], "run") < 0) {
		CU_FAIL("start klsd");
		return false;
	}
	return true;
}

static void
test_multi_handoff_to_stopping_worker(void)
{
	struct fleet fl;
	char key[LEASE_KEY_MAX] = "";

	if (!start_pair(&fl, "multi-ho-stop", NULL, "slowdrain:4000"))
		goto out;
	/* Worker 1 asks for one lease; worker 0's reader takes 4 s to drain. */
	if (!wait_state(&fl, fl.w[1].worker, fl.w[0].worker, key, 30000)) {
		CU_FAIL("no handoff requested");
		goto out;
	}
	/* Stopped before it got the lease: it waits for the handoff, then lets it go. */
	CU_ASSERT_EQUAL(fixture_clean_exit(&fl.w[1]), 0);
	CU_ASSERT_EQUAL(fixture_log_count(&fl.w[1], false,
	                    WORDS("lease ", key, "not read while shutting down; releasing it")),
	    1);
	CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], fl.w[1].worker), 0);
	/* So the remaining worker takes it back in a take cycle, not after expiry. */
	CU_ASSERT_TRUE(wait_state(&fl, fl.w[0].worker, NULL, key, FLEET_TAKE_MS + SLACK_MS));
	CU_ASSERT_EQUAL(fixture_clean_exit(&fl.w[0]), 0);
	CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], NULL), 0);
out:
	fleet_done(&fl);
}

static void
test_multi_handoff_forced_after_timeout(void)
{
	struct fleet fl;
	char key[LEASE_KEY_MAX] = "", extra[256];
	kls_mono asked;
	int64_t ms;

	snprintf(extra, sizeof(extra),
	    "[lease]\nhandoff_timeout_ms = %d\n[reader]\ndrain_timeout_ms = 1000\n",
	    HANDOFF_TIMEOUT_MS);
	/* The old owner's reader never finishes a drain by itself. */
	if (!start_pair(&fl, "multi-ho-force", extra, "slowdrain:600000"))
		goto out;
	if (!wait_state(&fl, fl.w[1].worker, fl.w[0].worker, key, 30000)) {
		CU_FAIL("no handoff requested");
		goto out;
	}
	asked = mono_now();
	kill(fl.w[0].pid, SIGSTOP);
	if (!wait_state(&fl, fl.w[1].worker, NULL, key,
	        HANDOFF_TIMEOUT_MS + FLEET_FAILOVER_MS + FLEET_TAKE_MS + 30000)) {
		CU_FAIL("the handoff was never forced");
		goto out;
	}
	ms = mono_diff_ms(asked, mono_now());
	fprintf(stderr,
	    "\nmeasure: handoff forced %lld ms after the request (handoff timeout %d "
	    "ms + failover %d ms)\n",
	    (long long)ms, HANDOFF_TIMEOUT_MS, FLEET_FAILOVER_MS);
	/* Never before both times ran out (a second for our own polling). */
	CU_ASSERT_TRUE(ms >= HANDOFF_TIMEOUT_MS + FLEET_FAILOVER_MS - 1000);
	CU_ASSERT_TRUE(ms <= HANDOFF_TIMEOUT_MS + FLEET_FAILOVER_MS + FLEET_TAKE_MS + SLACK_MS);
	CU_ASSERT_EQUAL(fixture_log_count(&fl.w[1], false,
	                    WORDS("lease ", key, "did not finish the handoff; taking it")),
	    1);
	kill(fl.w[0].pid, SIGCONT);
	/* Its next write fails: lost (it had not seen the request) or not handed over. */
	for (kls_mono end = mono_add_ms(mono_now(), 20000);; sleep_ms(100)) {
		int n = fixture_log_count(&fl.w[0], false, WORDS("lease ", key, " lost: ")) +
		        fixture_log_count(&fl.w[0], false,
		            WORDS("lease ", key, ": not handed over, someone else wrote it first"));
		if (n > 0 || !mono_before(mono_now(), end)) {
			CU_ASSERT_TRUE(n > 0);
			break;
		}
	}
	fleet_stop_all(&fl);
	CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], NULL), 0);
out:
	fleet_done(&fl);
}

static CU_TestInfo multi_handoff_tests[] = {
	{ "handoff to a worker stopped before it finished", test_multi_handoff_to_stopping_worker },
	{ "handoff forced only after timeout and failover",
	    test_multi_handoff_forced_after_timeout },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "multi_handoff", NULL, NULL, NULL, NULL, multi_handoff_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return fake_reader_test_main(argc, argv, suites);
}
