/*
 * klsd with the real kls-reader and the example handlers against the emulators: a
 * 4-shard stream of 20,000 records consumed completely (every record once, per-shard
 * order, the final persisted checkpoint at each shard's last record, leases released on
 * SIGTERM), and readers crashing 5 times per shard at random points (fault.so)
 * restarted while the lease stays with its owner (leaseOwner and
 * ownerSwitchesSinceCheckpoint never show a take), repeating only records after the
 * last persisted checkpoint; klsd killed with SIGKILL takes its readers with it, and
 * its successor with the same worker id re-adopts the leases and loses no record.
 */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "shm/table.h"
#include "tests/harness.h"
#include "tests/klsd_fixture.h"

/* Records of the end-to-end test (the 20,000), and the most any test puts. */
#define RECORDS 20000
/* Records of the crash test: enough for 5 crashes per shard (see there). */
#define CRASH_RECORDS 2000
#define CRASHES_PER_SHARD 5
/* [reader] max_records of the crash and split tests: a batch is at most this many
 * records. The end-to-end test reads in batches of E2E_MAX_RECORDS. */
#define MAX_RECORDS 100
#define E2E_MAX_RECORDS 500
#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct line {
	char seq[KLS_SHM_SEQ_MAX];
	long pid;
	int rec; /* the N of "rec-N" */
};

struct shard_lines {
	char shard[KINESIS_SHARD_ID_MAX + 1];
	struct line *v;
	size_t n;
};

static struct shard_lines lines[4];
static int nshards;

static void
free_lines(void)
{
	for (int i = 0; i < nshards; i++) {
		free(lines[i].v);
		lines[i].v = NULL;
		lines[i].n = 0;
	}
}

/* Reads every shard's record file (filelog's format, see examples/support.h). */
static size_t
read_lines(const struct klsd_fixture *f)
{
	size_t total = 0;

	free_lines();
	for (int i = 0; i < nshards; i++) {
		char path[512], buf[1024], shard[160], seq[KLS_SHM_SEQ_MAX], worker[160], data[64];
		unsigned long long sub;
		long long t0, t1;
		long pid;
		FILE *fp;

		snprintf(path, sizeof(path), "%s/out-%s.log", f->dir, lines[i].shard);
		if (!(fp = fopen(path, "r")))
			continue;
		lines[i].v = calloc(RECORDS * 2, sizeof(struct line));
		while (lines[i].v && lines[i].n < RECORDS * 2 && fgets(buf, sizeof(buf), fp)) {
			struct line *l = &lines[i].v[lines[i].n];
			if (sscanf(buf, "%159s %135s %llu %159s %ld %lld %lld %63s", shard, seq,
			        &sub, worker, &pid, &t0, &t1, data) != 8 ||
			    strncmp(data, "rec-", 4) != 0)
				continue; /* a line being written right now */
			snprintf(l->seq, sizeof(l->seq), "%s", seq);
			l->pid = pid;
			l->rec = atoi(data + 4);
			lines[i].n++;
		}
		fclose(fp);
		total += lines[i].n;
	}
	return total;
}

/* Distinct records seen over all shards. */
static int
distinct_records(void)
{
	static bool seen[RECORDS];
	int n = 0;

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < nshards; i++)
		for (size_t j = 0; j < lines[i].n; j++) {
			int r = lines[i].v[j].rec;
			if (r >= 0 && r < RECORDS && !seen[r]) {
				seen[r] = true;
				n++;
			}
		}
	return n;
}

static int
list_shards(struct klsd_fixture *f)
{
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;

	if (kinesis_list_shards(f->kin, f->stream, NULL, &l, &err) < 0) {
		fprintf(stderr, "\n%s\n", err.message);
		return -1;
	}
	nshards = (int)(l.n < 4 ? l.n : 4);
	for (int i = 0; i < nshards; i++)
		snprintf(lines[i].shard, sizeof(lines[i].shard), "%s", l.shards[i].shard_id);
	kinesis_shard_list_free(&l);
	return 0;
}

/* Within each reader run (pid), records come in sequence order. */
static void
check_order(void)
{
	for (int i = 0; i < nshards; i++)
		for (size_t j = 1; j < lines[i].n; j++) {
			const struct line *a = &lines[i].v[j - 1], *b = &lines[i].v[j];
			int cmp = 0;
			if (a->pid != b->pid)
				continue;
			CU_ASSERT_EQUAL(kls_seqnum_cmp(a->seq, 0, b->seq, 0, &cmp), 0);
			CU_ASSERT_TRUE(cmp < 0);
		}
}

static const char *
config_for(struct klsd_fixture *f, int max_records, int failover_ms, const char *handler_keys,
    char *out, size_t size)
{
	snprintf(out, size,
	    "max_records = %d\nidle_backoff_ms = 100\n"
	    "[lease]\nfailover_ms = %d\nrenew_interval_ms = 1000\n"
	    "[handler]\npath = %s/out-%%s.log\n%s",
	    max_records, failover_ms, f->dir, handler_keys);
	return out;
}

/* A test's stream of `shards` shards (named after `name`) and the example handler
 * `example` for klsd; false when the test cannot go on. */
static bool
begin(struct klsd_fixture *f, const char *name, int shards, const char *example)
{
	if (fixture_init(f, name, shards) < 0 || list_shards(f) < 0)
		return false;
	fixture_example(f, example);
	return true;
}

/* klsd's configuration (config_for), records 0..records-1 put, then klsd started and
 * waited for until it owns all `shards`; false when it does not. */
static bool
start_reading(struct klsd_fixture *f, int max_records, int failover_ms, const char *handler_keys,
    int records, int shards)
{
	char extra[1024];

	CU_ASSERT_EQUAL_FATAL(fixture_write_config(f, config_for(f, max_records, failover_ms,
	                                                  handler_keys, extra, sizeof(extra))),
	    0);
	CU_ASSERT_EQUAL_FATAL(fixture_put(f, 0, records), 0);
	return fixture_start_owning(f, NULL, shards);
}

/* SIGTERM: klsd exits cleanly and releases every lease. */
static void
stop_klsd(struct klsd_fixture *f)
{
	CU_ASSERT_EQUAL(fixture_clean_exit(f), 0);
	CU_ASSERT_EQUAL(fixture_owned(f, NULL), 0);
}

/* Reads the record files until `want` distinct records are there or timeout_ms has
 * passed, every step_ms. */
static void
wait_distinct(struct klsd_fixture *f, int want, int timeout_ms, int step_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	while (mono_before(mono_now(), end) && (read_lines(f), distinct_records()) < want)
		sleep_ms(step_ms);
}

static void
test_klsd_reader_consumes_stream(void)
{
	struct klsd_fixture f;
	kls_mono end;
	size_t total = 0;

	if (!begin(&f, "klsd-e2e", 4, "filelog") ||
	    !start_reading(&f, E2E_MAX_RECORDS, 6000, "", RECORDS / 2, 4))
		goto out;
	/* Records keep flowing while the readers run. */
	CU_ASSERT_EQUAL_FATAL(fixture_put(&f, RECORDS / 2, RECORDS / 2), 0);
	/* A bound for a loaded machine, not a speed test (idle: about 10 s). */
	end = mono_add_ms(mono_now(), 240000);
	while (mono_before(mono_now(), end) && (total = read_lines(&f)) < RECORDS)
		sleep_ms(500);
	/* Every record exactly once (no crash, so no redelivery). */
	CU_ASSERT_EQUAL(total, RECORDS);
	CU_ASSERT_EQUAL(distinct_records(), RECORDS);
	check_order();
	/* The last batch of each shard is checkpointed (auto): the table's checkpoint
	 * reaches the shard's last record. */
	for (int i = 0; i < nshards; i++) {
		const char *last = lines[i].n ? lines[i].v[lines[i].n - 1].seq : NULL;
		bool ok = false;
		CU_ASSERT_PTR_NOT_NULL(last);
		for (kls_mono e = mono_add_ms(mono_now(), 15000);
		     last && !ok && mono_before(mono_now(), e);) {
			struct lease *v;
			int n = fixture_leases(&f, &v);
			for (int j = 0; j < n; j++)
				if (strcmp(v[j].key, lines[i].shard) == 0)
					ok = strcmp(v[j].checkpoint, last) == 0;
			if (n > 0)
				free(v);
			if (!ok)
				sleep_ms(200);
		}
		CU_ASSERT_TRUE(ok);
	}
	stop_klsd(&f);
out:
	free_lines();
	fixture_done(&f);
}

/*
 * A restarted reader starts after the last persisted checkpoint: with checkpoint = auto
 * that is the end of the last batch before the crash, so within each shard a new reader
 * run (pid) repeats only records of the batch it crashed in (fewer than max_records),
 * and only at its start: once it delivers a record no earlier run had, it repeats none.
 */
static void
check_repeats_after_checkpoint(void)
{
	static bool seen[RECORDS];

	for (int i = 0; i < nshards; i++) {
		int repeated = 0;
		bool fresh = false;

		memset(seen, 0, sizeof(seen));
		for (size_t j = 0; j < lines[i].n; j++) {
			const struct line *l = &lines[i].v[j];
			if (j == 0 || l->pid != lines[i].v[j - 1].pid) {
				repeated = 0;
				fresh = false;
			}
			if (l->rec < 0 || l->rec >= RECORDS)
				continue;
			if (!seen[l->rec]) {
				seen[l->rec] = true;
				fresh = true;
				continue;
			}
			repeated++;
			if (fresh || repeated >= MAX_RECORDS) {
				fprintf(stderr, "\n%s: pid %ld repeats rec-%05d (%s)\n",
				    lines[i].shard, l->pid, l->rec,
				    fresh ? "after new records" : "more than one batch");
				CU_FAIL("a reader repeated records before the last checkpoint");
				break;
			}
		}
	}
}

/*
 * fault.so segfaults CRASHES_PER_SHARD times per shard, at random records (probability
 * 0.02 per record from seed 7). The fault points are fixed by the seed, the shard id
 * and the fault count: fault k comes j_k records after the reader's start, and the
 * sums of j_1..j_5 (190 to 221 for these four shards) stay below the smallest shard's
 * share of CRASH_RECORDS (462), so every shard reaches all five.
 */
static void
test_klsd_reader_crashes_restarted(void)
{
	struct klsd_fixture f;
	char keys[512];
	kls_mono end;
	int faults = 0, samples = 0;
	bool owner_kept = true;

	if (!begin(&f, "klsd-faults", 4, "fault"))
		goto out;
	snprintf(keys, sizeof(keys),
	    "mode = segv\nprobability = 0.02\nseed = 7\nmax_faults = %d\nstate_file = "
	    "%s/faults-%%s\n",
	    CRASHES_PER_SHARD, f.dir);
	if (!start_reading(&f, MAX_RECORDS, 6000, keys, CRASH_RECORDS, 4))
		goto out;
	end = mono_add_ms(mono_now(), 180000);
	while (mono_before(mono_now(), end)) {
		struct lease *v;
		int n = fixture_leases(&f, &v);
		/* Throughout: every lease with this worker, never taken again (a take would
		 * make ownerSwitchesSinceCheckpoint 2, or change the owner). */
		for (int j = 0; j < n; j++)
			owner_kept &= strcmp(v[j].owner, f.worker) == 0 && v[j].owner_switches <= 1;
		if (n > 0)
			free(v);
		samples++;
		read_lines(&f);
		if (distinct_records() == CRASH_RECORDS)
			break;
		sleep_ms(300);
	}
	CU_ASSERT_EQUAL(distinct_records(), CRASH_RECORDS);
	CU_ASSERT_TRUE(owner_kept);
	CU_ASSERT_TRUE(samples > 1);
	check_order();
	check_repeats_after_checkpoint();
	for (int i = 0; i < nshards; i++) {
		char path[512], text[32] = "";
		FILE *fp;
		int k = 0;
		snprintf(path, sizeof(path), "%s/faults-%s", f.dir, lines[i].shard);
		if ((fp = fopen(path, "r"))) {
			if (fgets(text, sizeof(text), fp))
				k = atoi(text);
			fclose(fp);
		}
		if (k != CRASHES_PER_SHARD)
			fprintf(stderr, "\n%s: %d crashes\n", lines[i].shard, k);
		CU_ASSERT_EQUAL(k, CRASHES_PER_SHARD);
		faults += k;
	}
	/* Every fault was a crash that klsd logged with shard, pid and signal. */
	CU_ASSERT_EQUAL(fixture_log_count(&f, false,
	                    WORDS("reader shardId-", " pid ", "killed by signal 11 (SIGSEGV",
	                        "; restart ")),
	    faults);
	stop_klsd(&f);
out:
	free_lines();
	fixture_done(&f);
}

/* The pids of the readers klsd's log says it started ("reader S pid N started"). */
static int
started_pids(const struct klsd_fixture *f, pid_t *out, int max)
{
	char line[1024];
	FILE *fp = fopen(f->log, "r");
	int n = 0;

	if (!fp)
		return 0;
	while (n < max && fgets(line, sizeof(line), fp)) {
		const char *p = strstr(line, " pid ");
		if (strstr(line, "reader shardId-") && strstr(line, " started (slot") && p)
			out[n++] = (pid_t)atoi(p + 5);
	}
	fclose(fp);
	return n;
}

/*
 * klsd killed with SIGKILL while its four readers work through the stream: every reader
 * gone within the 1 second (PR_SET_PDEATHSIG); klsd restarted with the same
 * worker id re-adopts its leases at once (failover_ms is 30 s: an expiry would show),
 * none taken again; no record lost, including those put while klsd was down.
 */
static void
test_klsd_reader_sigkill_readopt(void)
{
	struct klsd_fixture f;
	struct lease *v = NULL;
	pid_t pids[8];
	kls_mono t0;
	int64_t gone_ms;
	int n, np;

	if (!begin(&f, "klsd-kill9", 4, "filelog") ||
	    !start_reading(&f, MAX_RECORDS, 30000, "", CRASH_RECORDS, 4))
		goto out;
	wait_distinct(&f, 200, 60000, 100);
	CU_ASSERT_TRUE(distinct_records() >= 200);
	np = started_pids(&f, pids, 8);
	CU_ASSERT_EQUAL_FATAL(np, 4);

	gone_ms = fixture_kill_readers_gone(&f, pids, np, 5000);
	fprintf(stderr, "\nkls-readers gone %" PRId64 " ms after klsd's SIGKILL\n", gone_ms);
	CU_ASSERT_TRUE(gone_ms >= 0 && gone_ms <= 1000);

	/* More records while no klsd runs; then the same worker again. */
	CU_ASSERT_EQUAL_FATAL(fixture_put(&f, CRASH_RECORDS, CRASH_RECORDS), 0);
	t0 = mono_now();
	if (fixture_start(&f, NULL) < 0) {
		CU_FAIL("restart klsd");
		goto out;
	}
	if (!fixture_wait_log(&f, false, WORDS("lease shardId-", " re-adopted"), 4, 15000)) {
		fixture_dump_log(&f);
		CU_FAIL("leases not re-adopted");
	}
	fprintf(stderr, "leases re-adopted %" PRId64 " ms after the restart\n",
	    mono_diff_ms(t0, mono_now()));
	wait_distinct(&f, 2 * CRASH_RECORDS, 120000, 300);
	CU_ASSERT_EQUAL(distinct_records(), 2 * CRASH_RECORDS);
	check_order();
	n = fixture_leases(&f, &v);
	CU_ASSERT_EQUAL(n, 4);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(v[i].owner, f.worker);
		/* Renewed, never taken again (checkpoints reset the count, as in KCL). */
		CU_ASSERT_TRUE(v[i].owner_switches <= 1);
	}
	stop_klsd(&f);
out:
	free(v);
	free_lines();
	fixture_done(&f);
}

static void
test_klsd_reader_split(void)
{
	struct klsd_fixture f;
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	char split[KINESIS_HASH_KEY_MAX + 1], parent[KINESIS_SHARD_ID_MAX + 1];
	struct lease *v = NULL;
	kls_mono end;
	int n, children = 0;

	if (!begin(&f, "klsd-split", 1, "filelog") ||
	    !start_reading(&f, MAX_RECORDS, 6000, "", 100, 1))
		goto out;
	end = mono_add_ms(mono_now(), 60000);
	while (mono_before(mono_now(), end) && read_lines(&f) < 100)
		sleep_ms(200);
	CU_ASSERT_EQUAL_FATAL(distinct_records(), 100);

	/* Split the shard while it is read; new records go to the children. */
	CU_ASSERT_EQUAL_FATAL(kinesis_list_shards(f.kin, f.stream, NULL, &l, &err), 0);
	snprintf(parent, sizeof(parent), "%s", l.shards[0].shard_id);
	CU_ASSERT_EQUAL_FATAL(kinesis_hash_key_split_point(l.shards[0].starting_hash_key,
	                          l.shards[0].ending_hash_key, split, sizeof(split)),
	    0);
	kinesis_shard_list_free(&l);
	CU_ASSERT_EQUAL_FATAL(kinesis_split_shard(f.kin, f.stream, parent, split, &err), 0);
	CU_ASSERT_EQUAL_FATAL(kinesis_wait_active(f.kin, f.stream, 30000, NULL, &err), 0);
	CU_ASSERT_EQUAL_FATAL(list_shards(&f), 0);
	CU_ASSERT_EQUAL(nshards, 3);
	CU_ASSERT_EQUAL_FATAL(fixture_put(&f, 100, 100), 0);
	wait_distinct(&f, 200, 90000, 250);
	CU_ASSERT_EQUAL(distinct_records(), 200);
	check_order();
	/* The parent finished with SHARD_END; the children have leases naming it and are
	 * held by this worker. */
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("lease ", "SHARD_END checkpointed")), 1);
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("reached the end of the shard")), 1);
	n = fixture_leases(&f, &v);
	CU_ASSERT_EQUAL(n, 3);
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i].key, parent) == 0) {
			CU_ASSERT_STRING_EQUAL(v[i].checkpoint, "SHARD_END");
			CU_ASSERT_STRING_EQUAL(v[i].owner, "");
			continue;
		}
		children++;
		CU_ASSERT_EQUAL(v[i].nparents, 1);
		CU_ASSERT_STRING_EQUAL(v[i].parents[0], parent);
		CU_ASSERT_STRING_EQUAL(v[i].owner, f.worker);
	}
	CU_ASSERT_EQUAL(children, 2);
	stop_klsd(&f);
out:
	free(v);
	free_lines();
	fixture_done(&f);
}

static CU_TestInfo klsd_reader_tests[] = {
	{ "4 shards consumed end to end", test_klsd_reader_consumes_stream },
	{ "crashing readers restarted, lease kept", test_klsd_reader_crashes_restarted },
	{ "klsd SIGKILL: readers gone, leases re-adopted, nothing lost",
	    test_klsd_reader_sigkill_readopt },
	{ "split: parent to SHARD_END, then its children", test_klsd_reader_split },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "klsd_reader", NULL, NULL, NULL, NULL, klsd_reader_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
