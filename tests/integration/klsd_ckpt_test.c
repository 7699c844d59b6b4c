/*
 * Coalesced automatic checkpoints ([reader] checkpoint_interval_ms) with klsd, the real
 * kls-reader and the filelog handler on the emulators, at the default lease timings
 * (failover 10 s, renew every 3.3 s):
 *   - DynamoDB UpdateItem calls per lease per minute while records flow and while idle,
 *     counted by a loopback proxy in front of DynamoDB, with one write per batch
 *     (interval 0, the old behaviour) and with the default interval: fewer writes than
 *     batches, every record delivered once, and once the records stop the table holds
 *     the last processed record of every shard;
 *   - SIGTERM while records flow: the pending checkpoints are flushed before the leases
 *     are released, so the table holds exactly the last record the handler processed,
 *     and a klsd started again goes on right after it (every record once);
 *   - a reader killed with SIGKILL after posting its checkpoint, with the interval and
 *     the renewal minutes away: klsd flushes the checkpoint at once, starts the next
 *     reader only after it landed, and that reader delivers nothing twice.
 *
 * Lines starting "measure:" report the numbers; the assertions are bounds no busy
 * 2-core machine can miss.
 */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "shm/table.h"
#include "tests/fleet.h"
#include "tests/harness.h"

#define SHARDS 2
#define RATE 100      /* records per second, over both shards */
#define FLOW_MS 20000 /* measuring window while records flow */
#define IDLE_MS 12000 /* measuring window once they stopped */
#define DEFAULT_INTERVAL NULL

/* One worker, its DynamoDB calls through a counting proxy; reader: more [reader] keys,
 * lease: a [lease] section ("" = the default lease timings). */
static int
setup_with(struct fleet *fl, const char *prefix, const char *reader, const char *lease)
{
	struct klsd_fixture *w = &fl->w[0];
	char text[2048];

	if (fleet_init(fl, prefix, SHARDS, 1, "KINESIS_ENDPOINT") < 0 || fleet_proxy(fl, 0) < 0)
		return -1;
	fixture_example(w, "filelog");
	snprintf(text, sizeof(text),
	    "max_records = 50\nidle_backoff_ms = 100\n%s%s"
	    "[aws]\nkinesis_endpoint = %s\ndynamodb_endpoint = http://127.0.0.1:%d\n"
	    "request_timeout_ms = 3000\n[handler]\npath = %s/out-%%s.log\n",
	    reader, lease, w->kinesis_url, tcp_proxy_port(fl->proxy[0]), fl->out);
	return fixture_write_config(w, text);
}

/* The default lease timings; interval: the checkpoint_interval_ms value, NULL = the
 * default. */
static int
setup(struct fleet *fl, const char *prefix, const char *interval)
{
	char iv[64] = "";

	if (interval)
		snprintf(iv, sizeof(iv), "checkpoint_interval_ms = %s\n", interval);
	return setup_with(fl, prefix, iv, "");
}

/* Starts the worker with records flowing; true once every shard has output. */
static bool
start_flowing(struct fleet *fl)
{
	kls_mono end;

	if (!fleet_start(fl, 0) || !fixture_wait_owned(&fl->w[0], fl->w[0].worker, SHARDS, 60000)) {
		CU_FAIL("worker did not take the leases");
		return false;
	}
	end = mono_add_ms(mono_now(), 60000);
	while (mono_before(mono_now(), end)) {
		size_t with = 0;
		if (ov_load(&fl->ov, fl->out) == 0)
			for (size_t s = 0; s < fl->ov.n; s++)
				with += fl->ov.s[s].n > 0;
		if (with == SHARDS)
			return true;
		sleep_ms(250);
	}
	CU_FAIL("no records delivered on every shard");
	return false;
}

/* Batches (runs of lines with one batch start) that started in [from, to). */
static long
batches(struct fleet *fl, int64_t from, int64_t to)
{
	long n = 0;

	if (ov_load(&fl->ov, fl->out) < 0)
		return -1;
	for (size_t s = 0; s < fl->ov.n; s++) {
		const struct ov_shard *sh = &fl->ov.s[s];
		for (size_t j = 0; j < sh->n; j++) {
			const struct ov_line *l = &sh->v[j];
			if (l->t0 < from || l->t0 >= to)
				continue;
			if (j == 0 || l->t0 != sh->v[j - 1].t0 || l->pid != sh->v[j - 1].pid)
				n++;
		}
	}
	return n;
}

/* Every lease's checkpoint is the last record of its shard in the output. Returns the
 * shards that match; prints the ones that do not. */
static int
leases_at_last_record(struct fleet *fl, bool report)
{
	struct lease *ls = NULL;
	int n = fixture_leases(&fl->w[0], &ls), ok = 0;

	if (ov_load(&fl->ov, fl->out) < 0)
		n = -1;
	for (int i = 0; i < n; i++) {
		const struct ov_shard *sh = ov_find(&fl->ov, ls[i].key);
		const struct ov_line *last = sh && sh->n ? &sh->v[sh->n - 1] : NULL;
		if (last && strcmp(last->seq, ls[i].checkpoint) == 0 &&
		    last->sub == ls[i].checkpoint_sub) {
			ok++;
			continue;
		}
		if (report)
			fprintf(stderr, "\n%s: checkpoint %s/%llu, last record processed %s/%llu\n",
			    ls[i].key, ls[i].checkpoint, (unsigned long long)ls[i].checkpoint_sub,
			    last ? last->seq : "(none)",
			    last ? (unsigned long long)last->sub : 0ULL);
	}
	free(ls);
	return ok;
}

static int
table_at_last_record(struct fleet *fl)
{
	return leases_at_last_record(fl, true);
}

/* Writes per lease per minute over a window of ms. */
static double
per_lease_minute(unsigned long writes, int64_t ms)
{
	return (double)writes / SHARDS * 60000.0 / (double)ms;
}

/* Runs the worker with interval, flowing then idle; returns false on a setup failure. */
static bool
measure(const char *prefix, const char *interval, double *flow, double *idle, long *nbatches,
    unsigned long *nwrites)
{
	struct fleet fl;
	struct ov_delivery d;
	unsigned long c0, c1, c2, c3;
	int64_t t0, t1, t2, t3;
	long long put;
	bool ok = false;

	if (setup(&fl, prefix, interval) < 0)
		goto out;
	if (fleet_produce_start(&fl, RATE) < 0 || !start_flowing(&fl))
		goto out;
	sleep_ms(2000); /* past the first batches' catching up */
	c0 = tcp_proxy_requests(fl.proxy[0], "UpdateItem");
	t0 = mono_now().ns;
	sleep_ms(FLOW_MS);
	c1 = tcp_proxy_requests(fl.proxy[0], "UpdateItem");
	t1 = mono_now().ns;
	*nbatches = batches(&fl, t0, t1);
	*nwrites = c1 - c0;
	*flow = per_lease_minute(c1 - c0, (t1 - t0) / 1000000);

	put = fleet_produce_stop(&fl);
	CU_ASSERT_TRUE(put > 0);
	if (put > 0) {
		CU_ASSERT_TRUE(fleet_wait_delivered(&fl, put, 60000, &d));
		CU_ASSERT_EQUAL(d.dups, 0);
	}
	/* The last batches' checkpoints go out with the next renewal at the latest. */
	sleep_ms(4000);
	c2 = tcp_proxy_requests(fl.proxy[0], "UpdateItem");
	t2 = mono_now().ns;
	sleep_ms(IDLE_MS);
	c3 = tcp_proxy_requests(fl.proxy[0], "UpdateItem");
	t3 = mono_now().ns;
	*idle = per_lease_minute(c3 - c2, (t3 - t2) / 1000000);
	CU_ASSERT_EQUAL(table_at_last_record(&fl), SHARDS);
	fleet_stop_all(&fl);
	CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], NULL), 0);
	ok = true;
out:
	fleet_done(&fl);
	return ok;
}

static void
test_ckpt_writes_per_minute(void)
{
	double flow0, idle0, flow, idle;
	long b0, b;
	unsigned long w0, w;

	if (!measure("ckpt-every", "0", &flow0, &idle0, &b0, &w0))
		return;
	fprintf(stderr,
	    "\nmeasure: checkpoint_interval_ms = 0: %lu UpdateItem for %ld batches in %d s; "
	    "%.1f writes per lease per minute flowing, %.1f idle\n",
	    w0, b0, FLOW_MS / 1000, flow0, idle0);
	if (!measure("ckpt-coalesced", DEFAULT_INTERVAL, &flow, &idle, &b, &w))
		return;
	fprintf(stderr,
	    "measure: checkpoint_interval_ms default: %lu UpdateItem for %ld batches in %d s; "
	    "%.1f writes per lease per minute flowing, %.1f idle (KCL: about 18 renewals, "
	    "plus checkpoints)\n",
	    w, b, FLOW_MS / 1000, flow, idle);
	/* One write per batch before (renewals ride on them); far fewer now. */
	CU_ASSERT_TRUE(b0 > 0 && b > 0);
	CU_ASSERT_TRUE(w0 + 2 * SHARDS >= (unsigned long)b0 / 2);
	CU_ASSERT_TRUE(w < (unsigned long)b / 2);
	/* At the default (renew every 3.3 s, interval 5 s) about 18 per lease per minute,
	 * flowing or idle; 40 leaves room for retries on a loaded machine. */
	CU_ASSERT_TRUE(flow <= 40.0);
	CU_ASSERT_TRUE(idle <= 40.0);
}

static void
test_ckpt_sigterm(void)
{
	struct fleet fl;
	struct ov_delivery d;
	long long put;

	if (setup(&fl, "ckpt-term", DEFAULT_INTERVAL) < 0)
		goto out;
	if (fleet_produce_start(&fl, RATE) < 0 || !start_flowing(&fl))
		goto out;
	sleep_ms(3000);
	/* Mid-flow: each lease has a checkpoint pending, its reader is inside a batch or
	 * between two. */
	CU_ASSERT_EQUAL(fixture_clean_exit(&fl.w[0]), 0);
	CU_ASSERT_EQUAL(table_at_last_record(&fl), SHARDS);
	CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], NULL), 0);

	/* Started again, it goes on right after those checkpoints: nothing twice. */
	if (!fleet_start(&fl, 0))
		goto out;
	CU_ASSERT_TRUE(fixture_wait_owned(&fl.w[0], fl.w[0].worker, SHARDS, 60000));
	sleep_ms(3000);
	put = fleet_produce_stop(&fl);
	CU_ASSERT_TRUE(put > 0);
	if (put > 0) {
		CU_ASSERT_TRUE(fleet_wait_delivered(&fl, put, 60000, &d));
		fprintf(stderr,
		    "\nmeasure: SIGTERM mid-flow and restart: %lld records, %zu lines, "
		    "%zu duplicates\n",
		    put, d.lines, d.dups);
		CU_ASSERT_EQUAL(d.dups, 0);
	}
	fleet_stop_all(&fl);
	CU_ASSERT_EQUAL(table_at_last_record(&fl), SHARDS);
out:
	fleet_done(&fl);
}

/* ---------------------------------------------------------------- reader SIGKILL */

#define KILL_RECORDS 200 /* put before the kill */
#define MORE_RECORDS 100 /* put after it */

/* A shard of worker 0 as its shm slot shows it. */
struct slot_view {
	char shard[KLS_SHM_SHARD_MAX];
	pid_t pid;
	struct kls_progress pr;
};

/* The slots in use of worker 0 with a consistent progress group; count, or -1. */
static int
slot_views(struct fleet *fl, struct slot_view *out, int max)
{
	struct kls_shm *t;
	struct kls_shm_err err;
	int n = 0;

	if (kls_shm_attach_ro(fl->w[0].shm, &t, &err) < 0)
		return -1;
	for (uint32_t i = 0; i < kls_shm_slot_count(t) && n < max; i++) {
		const struct kls_shm_slot *slot = kls_shm_slot_ro(t, i);
		uint32_t st = kls_shm_slot_state(slot);
		struct kls_lease l;
		if ((st != KLS_SLOT_ASSIGNED && st != KLS_SLOT_ACTIVE) ||
		    kls_shm_lease_read(slot, &l, KLS_SHM_READ_TRIES) < 0 ||
		    kls_shm_progress_read(slot, &out[n].pr, KLS_SHM_READ_TRIES) < 0)
			continue;
		snprintf(out[n].shard, sizeof(out[n].shard), "%s", l.shard_id);
		out[n].pid = l.reader_pid;
		n++;
	}
	kls_shm_close(t);
	return n;
}

/* Whether every shard's reader has posted an automatic checkpoint request for the last
 * line of its output, which fl->ov holds; fills pids with the readers. */
static bool
posted_last(struct fleet *fl, pid_t pids[SHARDS])
{
	struct slot_view v[SHARDS];
	int n = slot_views(fl, v, SHARDS), ok = 0;

	for (int i = 0; i < n; i++) {
		const struct ov_shard *sh = ov_find(&fl->ov, v[i].shard);
		const struct ov_line *last = sh && sh->n ? &sh->v[sh->n - 1] : NULL;
		pids[i] = v[i].pid;
		ok += last && v[i].pid > 0 && strcmp(v[i].pr.req_seq, last->seq) == 0 &&
		      v[i].pr.req_subseq == last->sub && (v[i].pr.req_flags & KLS_REQ_COALESCE);
	}
	return n == SHARDS && ok == SHARDS;
}

/* The lease counter klsd's log names for reader pid's start of shard; -1 when absent. */
static int64_t
started_at_counter(const struct klsd_fixture *f, const char *shard, pid_t pid)
{
	char want[160], line[1024];
	FILE *fp = fopen(f->log, "r");
	int64_t c = -1;

	if (!fp)
		return -1;
	snprintf(want, sizeof(want), "reader %s pid %d started (", shard, (int)pid);
	while (fgets(line, sizeof(line), fp)) {
		const char *p = strstr(line, want);
		if (p && (p = strstr(p, "lease counter ")))
			c = strtoll(p + strlen("lease counter "), NULL, 10);
	}
	fclose(fp);
	return c;
}

/* Each of records first..first+n-1 is in the handler output exactly once; returns the
 * records that are not (and prints the first). */
static int
each_once(const struct klsd_fixture *f, int first, int n)
{
	int bad = 0;

	for (int r = first; r < first + n; r++) {
		char name[32];
		int got;
		snprintf(name, sizeof(name), "rec-%05d", r);
		got = fixture_handler_lines(f, "out", name);
		if (got == 1)
			continue;
		if (bad++ == 0)
			fprintf(stderr, "\n%s: %d lines\n", name, got);
	}
	return bad;
}

static void
test_ckpt_reader_sigkill(void)
{
	struct fleet fl;
	struct klsd_fixture *w = &fl.w[0];
	struct lease *ls = NULL;
	pid_t killed[SHARDS] = { 0 };
	uint64_t landed_counter[SHARDS] = { 0 };
	char shard[SHARDS][LEASE_KEY_MAX];
	char why[512];
	kls_mono end, t_kill;
	int64_t flush_ms = -1;
	int n;

	/* Automatic checkpoints may wait two minutes, renewals come every 150 s: in this
	 * test's time only the flush at the reader's exit writes a checkpoint. */
	if (setup_with(&fl, "ckpt-kill",
	        "checkpoint_interval_ms = 120000\nrestart_backoff_min_ms = 100\n"
	        "restart_backoff_max_ms = 1000\n",
	        "[lease]\nfailover_ms = 300000\nrenew_interval_ms = 150000\n"
	        "take_interval_ms = 3000\n") < 0)
		goto out;
	if (!fleet_start(&fl, 0) || !fixture_wait_owned(w, w->worker, SHARDS, 60000)) {
		CU_FAIL("worker did not take the leases");
		goto out;
	}
	if (fixture_put(w, 0, KILL_RECORDS) < 0) {
		CU_FAIL("put");
		goto out;
	}
	/* Every record written by the handler, and each reader's request for its shard's
	 * last line posted (prog.records alone runs ahead of the handler's writes). */
	end = mono_add_ms(mono_now(), 60000);
	while (mono_before(mono_now(), end) &&
	       !(fixture_handler_lines(w, "out", "rec-") == KILL_RECORDS &&
	           ov_load(&fl.ov, fl.out) == 0 && fl.ov.n == SHARDS && posted_last(&fl, killed)))
		sleep_ms(200);
	CU_ASSERT_EQUAL(fixture_handler_lines(w, "out", "rec-"), KILL_RECORDS);
	CU_ASSERT_EQUAL(fl.ov.n, SHARDS);
	if (fl.ov.n != SHARDS || !posted_last(&fl, killed)) {
		CU_FAIL("the readers did not post their last checkpoint");
		goto out;
	}
	/* Posted, not written: the table still has neither. */
	CU_ASSERT_EQUAL(leases_at_last_record(&fl, false), 0);

	t_kill = mono_now();
	for (int i = 0; i < SHARDS; i++)
		CU_ASSERT_EQUAL(kill(killed[i], SIGKILL), 0);
	/* klsd flushes at once; tens of seconds is a bound a busy machine keeps, well
	 * before the two-minute interval or the next renewal. */
	end = mono_add_ms(t_kill, 30000);
	while (mono_before(mono_now(), end) && leases_at_last_record(&fl, false) < SHARDS)
		sleep_ms(100);
	if (leases_at_last_record(&fl, true) == SHARDS)
		flush_ms = mono_diff_ms(t_kill, mono_now());
	CU_ASSERT_TRUE(flush_ms >= 0);
	fprintf(stderr,
	    "\nmeasure: reader SIGKILL: coalesced checkpoints in the table within %" PRId64 " ms\n",
	    flush_ms);
	/* The counters the flush writes left. */
	n = fixture_leases(w, &ls);
	CU_ASSERT_EQUAL(n, SHARDS);
	for (int i = 0; i < n && i < SHARDS; i++) {
		snprintf(shard[i], sizeof(shard[i]), "%s", ls[i].key);
		landed_counter[i] = ls[i].counter;
	}
	free(ls);

	/* The next readers run; klsd started each only once its flush had landed, so at
	 * the counter that write left (or later), never before it. */
	for (int i = 0; i < n && i < SHARDS; i++) {
		struct slot_view v[SHARDS];
		pid_t now_pid = 0;
		int64_t c = -1;
		end = mono_add_ms(mono_now(), 30000);
		while (mono_before(mono_now(), end)) {
			int k = slot_views(&fl, v, SHARDS);
			bool fresh;
			for (int j = 0; j < k; j++)
				if (strcmp(v[j].shard, shard[i]) == 0)
					now_pid = v[j].pid;
			fresh = now_pid > 0;
			for (int j = 0; j < SHARDS; j++)
				fresh = fresh && now_pid != killed[j];
			if (fresh && (c = started_at_counter(w, shard[i], now_pid)) >= 0)
				break;
			sleep_ms(200);
		}
		CU_ASSERT_TRUE(c >= 0);
		CU_ASSERT_TRUE(c >= (int64_t)landed_counter[i]);
		if (c < (int64_t)landed_counter[i])
			fprintf(stderr,
			    "\n%s: reader pid %d started at lease counter %lld, the "
			    "flush left %llu\n",
			    shard[i], (int)now_pid, (long long)c,
			    (unsigned long long)landed_counter[i]);
	}

	/* They go on after the flushed checkpoints: new records once, old ones not again. */
	if (fixture_put(w, KILL_RECORDS, MORE_RECORDS) < 0) {
		CU_FAIL("put");
		goto out;
	}
	end = mono_add_ms(mono_now(), 60000);
	while (mono_before(mono_now(), end) &&
	       fixture_handler_lines(w, "out", "rec-") < KILL_RECORDS + MORE_RECORDS)
		sleep_ms(200);
	sleep_ms(1000); /* a repeated batch would show by now */
	CU_ASSERT_EQUAL(fixture_handler_lines(w, "out", "rec-"), KILL_RECORDS + MORE_RECORDS);
	CU_ASSERT_EQUAL(each_once(w, 0, KILL_RECORDS + MORE_RECORDS), 0);
	CU_ASSERT_EQUAL(ov_load(&fl.ov, fl.out), 0);
	CU_ASSERT_EQUAL(ov_check_overlap(&fl.ov, why, sizeof(why)), 0);
	if (ov_check_overlap(&fl.ov, why, sizeof(why)) != 0)
		fprintf(stderr, "\n%s\n", why);
	fleet_stop_all(&fl);
	CU_ASSERT_EQUAL(table_at_last_record(&fl), SHARDS);
out:
	fleet_done(&fl);
}

static CU_TestInfo klsd_ckpt_tests[] = {
	{ "writes per lease per minute, flowing and idle", test_ckpt_writes_per_minute },
	{ "SIGTERM mid-flow: table at the last processed record", test_ckpt_sigterm },
	{ "reader SIGKILL: checkpoint flushed before the next reader", test_ckpt_reader_sigkill },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "klsd_ckpt", NULL, NULL, NULL, NULL, klsd_ckpt_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
