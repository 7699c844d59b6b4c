/*
 * Three klsd workers on one 8-shard stream with records flowing, and one of them fails
 * (issue 4): killed with SIGKILL, frozen with SIGSTOP for three failover times, or cut
 * off from DynamoDB (a black-holing proxy in front of dynalite for that worker only).
 * In every case the others take its leases, no record is lost, no two readers of a
 * shard ever run at the same time (the overlap checker over the handler output), and
 * the table's checkpoints never move backwards. A frozen or partitioned worker's
 * readers stop by its lease deadlines, before anyone else starts; once it can write
 * again its writes fail and it drops those leases.
 *
 * Lines starting "measure:" report the targets.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "tests/fleet.h"
#include "tests/harness.h"

#define SHARDS 8
#define RATE 100
#define SLACK_MS FLEET_MS(6000) /* a busy 2-core machine on top of the protocol's times */
#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static bool
setup(struct fleet *fl, const char *prefix, int proxied)
{
	if (fleet_init(fl, prefix, SHARDS, 3, "KINESIS_ENDPOINT") < 0)
		return false;
	if (proxied >= 0 && fleet_proxy(fl, proxied) < 0)
		return false;
	for (int i = 0; i < 3; i++)
		if (fleet_config(fl, i, NULL) < 0)
			return false;
	return fleet_run_all(fl, RATE, 2, 3);
}

/* Every key of worker i's that another worker took: its log says it lost it. */
static void
check_dropped(struct fleet *fl, int i, char (*keys)[LEASE_KEY_MAX], int n)
{
	for (int k = 0; k < n; k++) {
		bool ok = fixture_wait_log(&fl->w[i], false, WORDS("lease ", keys[k], " lost: "), 1,
		    20000);
		if (!ok)
			fprintf(stderr, "\nworker %d never said it lost %s\n", i, keys[k]);
		CU_ASSERT_TRUE(ok);
	}
}

/* For each of the readers in sl (a worker's, when it failed at `since`): its last batch
 * ended before the first batch of any other reader of the shard that started after. */
static void
check_stopped_first(struct fleet *fl, const struct kls_lease *sl, int n, int64_t since)
{
	for (int k = 0; k < n; k++) {
		const struct ov_shard *s = ov_find(&fl->ov, sl[k].shard_id);
		int64_t last = ov_last_t1(s, sl[k].reader_pid);
		int64_t next = ov_first_t0_after(s, sl[k].reader_pid, since);
		if (!s || !last || next == INT64_MAX)
			continue; /* no record reached that shard around the failure */
		fprintf(stderr,
		    "measure: %s: the old reader's last batch ended %.0f ms before the "
		    "new reader's first\n",
		    sl[k].shard_id, (double)(next - last) / 1e6);
		CU_ASSERT_TRUE(last < next);
	}
}

/* Waits until the others hold every one of worker 1's keys; reports the time since
 * `since` (when worker 1 failed) and returns it, or -1 at the timeout. */
static int64_t
wait_taken(struct fleet *fl, char (*keys)[LEASE_KEY_MAX], int n, kls_mono since, const char *what)
{
	int64_t ms = fleet_wait_moved(fl, 1, keys, n, FLEET_FAILOVER_MS + FLEET_TAKE_MS + 30000);

	if (ms >= 0)
		ms = mono_diff_ms(since, mono_now());
	fprintf(stderr, "measure: %s: %d leases taken by the others %lld ms later\n", what, n,
	    (long long)ms);
	CU_ASSERT_TRUE(ms >= 0);
	return ms;
}

static void
test_multi_sigkill(void)
{
	struct fleet fl;
	char keys[SHARDS][LEASE_KEY_MAX];
	struct kls_lease sl[SHARDS];
	int n, nsl;
	int64_t ms;
	kls_mono killed;

	if (!setup(&fl, "multi-kill", -1))
		goto out;
	n = fleet_keys(&fl, 1, keys, SHARDS);
	nsl = fleet_shm_leases(&fl, 1, sl, SHARDS);
	CU_ASSERT_TRUE(n >= 2);
	killed = mono_now();
	fixture_stop(&fl.w[1], SIGKILL, 5000);
	/* Its readers die with it (parent-death signal), not at their deadlines. */
	sleep_ms(1000);
	for (int k = 0; k < nsl; k++)
		if (sl[k].reader_pid > 0 && fixture_alive(sl[k].reader_pid)) {
			fprintf(stderr, "\nreader %d of %s outlived its klsd\n",
			    (int)sl[k].reader_pid, sl[k].shard_id);
			CU_FAIL("a reader outlived its klsd");
		}
	/* Within failover time plus one take interval (see fleet.h). */
	ms = wait_taken(&fl, keys, n, killed, "SIGKILL");
	CU_ASSERT_TRUE(ms <= FLEET_FAILOVER_MS + FLEET_TAKE_MS + SLACK_MS);
	fleet_finish(&fl);
out:
	fleet_done(&fl);
}

static void
test_multi_sigstop(void)
{
	struct fleet fl;
	char keys[SHARDS][LEASE_KEY_MAX];
	struct kls_lease sl[SHARDS];
	int n, nsl;
	kls_mono stopped;

	if (!setup(&fl, "multi-stop", -1))
		goto out;
	n = fleet_keys(&fl, 1, keys, SHARDS);
	CU_ASSERT_TRUE(n >= 2);
	stopped = mono_now();
	kill(fl.w[1].pid, SIGSTOP);
	/* Frozen, its klsd publishes nothing: these deadlines are final. */
	nsl = fleet_shm_leases(&fl, 1, sl, SHARDS);
	CU_ASSERT_EQUAL(nsl, n);
	wait_taken(&fl, keys, n, stopped, "SIGSTOP");
	while (mono_diff_ms(stopped, mono_now()) < 3 * FLEET_FAILOVER_MS)
		sleep_ms(100);
	/* Its readers are gone: they stopped themselves at their deadlines. */
	for (int k = 0; k < nsl; k++)
		if (sl[k].reader_pid > 0 && fixture_alive(sl[k].reader_pid)) {
			fprintf(stderr, "\nreader %d of %s still runs\n", (int)sl[k].reader_pid,
			    sl[k].shard_id);
			CU_FAIL("a reader of the frozen klsd outlived its deadline");
		}
	kill(fl.w[1].pid, SIGCONT);
	check_dropped(&fl, 1, keys, n);
	CU_ASSERT_TRUE(fixture_alive(fl.w[1].pid));
	fleet_finish(&fl);
	/* No batch of those readers ended after its lease's deadline. */
	for (int k = 0; k < nsl; k++) {
		const struct ov_shard *s = ov_find(&fl.ov, sl[k].shard_id);
		int64_t late = 0;
		for (size_t j = 0; s && j < s->n; j++)
			if (s->v[j].pid == sl[k].reader_pid && s->v[j].t1 > sl[k].deadline_ns &&
			    s->v[j].t1 - sl[k].deadline_ns > late)
				late = s->v[j].t1 - sl[k].deadline_ns;
		if (late)
			fprintf(stderr,
			    "\n%s: reader %d ended a batch %.3f ms after its deadline\n",
			    sl[k].shard_id, (int)sl[k].reader_pid, (double)late / 1e6);
		CU_ASSERT_EQUAL(late, 0);
	}
	check_stopped_first(&fl, sl, nsl, stopped.ns);
out:
	fleet_done(&fl);
}

static void
test_multi_blackhole(void)
{
	struct fleet fl;
	char keys[SHARDS][LEASE_KEY_MAX];
	unsigned long before[3], after[3];
	const char *ops[3] = { "UpdateItem", "Scan", "GetItem" };
	struct kls_lease sl[SHARDS];
	int n, nsl;
	kls_mono cut;

	if (!setup(&fl, "multi-hole", 1))
		goto out;
	/* Steady state first: how often one worker calls DynamoDB per lease it holds. */
	sleep_ms(2000);
	n = fleet_keys(&fl, 1, keys, SHARDS);
	for (int o = 0; o < 3; o++)
		before[o] = tcp_proxy_requests(fl.proxy[1], ops[o]);
	sleep_ms(10000);
	for (int o = 0; o < 3; o++)
		after[o] = tcp_proxy_requests(fl.proxy[1], ops[o]);
	fprintf(stderr,
	    "measure: steady state, %d leases, records flowing, renew every %d ms: "
	    "per lease per minute %.1f UpdateItem, %.1f Scan, %.1f GetItem\n",
	    n, FLEET_FAILOVER_MS / 3, (double)(after[0] - before[0]) * 6 / n,
	    (double)(after[1] - before[1]) * 6 / n, (double)(after[2] - before[2]) * 6 / n);
	n = fleet_keys(&fl, 1, keys, SHARDS);
	nsl = fleet_shm_leases(&fl, 1, sl, SHARDS);
	CU_ASSERT_TRUE(n >= 2);

	cut = mono_now();
	tcp_proxy_set_mode(fl.proxy[1], TCP_PROXY_BLACKHOLE);
	wait_taken(&fl, keys, n, cut, "DynamoDB black-holed");
	/* klsd saw its renewals miss and stopped the readers itself. */
	CU_ASSERT_TRUE(fixture_wait_log(&fl.w[1], false, WORDS("not renewed in time"), 1, 10000));
	sleep_ms(2000);
	tcp_proxy_set_mode(fl.proxy[1], TCP_PROXY_FORWARD);
	check_dropped(&fl, 1, keys, n);
	fleet_finish(&fl);
	check_stopped_first(&fl, sl, nsl, cut.ns);
out:
	fleet_done(&fl);
}

static CU_TestInfo multi_failover_tests[] = {
	{ "SIGKILL: leases taken after failover", test_multi_sigkill },
	{ "SIGSTOP: readers fenced, writes fail after SIGCONT", test_multi_sigstop },
	{ "DynamoDB black-holed for one worker", test_multi_blackhole },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "multi_failover", NULL, NULL, NULL, NULL, multi_failover_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
