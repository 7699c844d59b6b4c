/*
 * Enhanced fan-out against kinesis-local (KINESIS_LOCAL_ENDPOINT), the emulator that
 * implements RegisterStreamConsumer and SubscribeToShard: the consumer calls and
 * kinesis_ensure_consumer as klsd uses them, then kls-reader in fan-out mode with this
 * test as klsd: every record put is delivered once and in order, a reader killed in the
 * middle of a subscription is replaced by one that resumes right after the persisted
 * checkpoint; and the delivery latency from PutRecords to the handler, fan-out against
 * polling, measured and printed (not asserted: kinesis-local, not kls, sets most of it:
 * it pushes one event a second).
 *
 * Not here: the end of a closed shard. kinesis-local 0.6.2 never ends a subscription to
 * a closed shard (it keeps sending empty events with a non-null continuation and no
 * ChildShards, where GetRecords gives a null iterator and ChildShards), so the stub
 * tests (tests/unit/subscribe_test.c) cover shard end.
 */
#include "config.h"

#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "common/kinesis.h"
#include "common/kinesis_consumer.h"
#include "ctl/ctl.h"
#include "reader/checkpoint_ctx.h"
#include "tests/fake_klsd.h"
#include "tests/harness.h"
#include "tests/kinesis_fixture.h"
#include "tests/klsd_fixture.h"

#define MAX_RECORDS 400
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static struct kinesis_client *kc; /* the suite's, once client() has made it */
static const char *endpoint;     /* ... and its endpoint */

/* Against kinesis-local: kinesalite has no enhanced fan-out. */
static struct kinesis_client *
client(void)
{
	if ((kc = test_kinesis_shared("KINESIS_LOCAL_ENDPOINT")))
		endpoint = getenv("KINESIS_LOCAL_ENDPOINT");
	return kc;
}

/* A stream of its own, the records put to it, and when each put was sent. */
struct stream {
	char name[64];
	char arn[KINESIS_ARN_MAX + 1];
	size_t n;
	char seq[MAX_RECORDS][KINESIS_SEQUENCE_MAX + 1];
	char shard[MAX_RECORDS][KINESIS_SHARD_ID_MAX + 1];
	int64_t put_ns[MAX_RECORDS]; /* CLOCK_BOOTTIME before the PutRecords call */
};

static int
stream_create(struct stream *st, const char *prefix, int shards)
{
	struct kinesis_stream_summary sum;

	memset(st, 0, sizeof(*st));
	test_unique_name(st->name, sizeof(st->name), prefix);
	if (!client() || test_kinesis_create_stream(kc, st->name, shards, 60000, &sum) < 0)
		return -1;
	snprintf(st->arn, sizeof(st->arn), "%s", sum.stream_arn);
	return st->arn[0] ? 0 : -1;
}

/* Deregisters the test's consumer (a stream with consumers cannot be deleted) and
 * deletes the stream. */
static void
stream_drop(struct stream *st)
{
	struct kinesis_consumer con;
	struct aws_error err;
	kls_mono end = mono_add_ms(mono_now(), 10000);

	if (!kc)
		return;
	if (kinesis_deregister_stream_consumer(kc, st->arn, "kls-fo", NULL, &err) == 0)
		while (kinesis_describe_stream_consumer(kc, st->arn, "kls-fo", NULL, &con, &err) ==
		           0 &&
		       mono_before(mono_now(), end))
			sleep_ms(50);
	test_kinesis_delete_stream(kc, st->name);
}

/* Puts n records "rec-NNNN", one per call, pause_ms apart; partition keys vary when
 * spread (so records land on every shard). */
static int
stream_put(struct stream *st, size_t n, int pause_ms, bool spread)
{
	for (size_t k = 0; k < n && st->n < MAX_RECORDS; k++) {
		struct kinesis_put_result r;
		char data[16], pk[16];

		snprintf(data, sizeof(data), "rec-%04zu", st->n);
		snprintf(pk, sizeof(pk), "k%zu", spread ? st->n : 0);
		st->put_ns[st->n] = mono_now().ns;
		if (test_kinesis_put_one(kc, st->name, data, strlen(data), pk, &r) < 0)
			return -1;
		memcpy(st->seq[st->n], r.sequence_number, sizeof(st->seq[0]));
		memcpy(st->shard[st->n], r.shard_id, sizeof(st->shard[0]));
		st->n++;
		if (pause_ms)
			sleep_ms(pause_ms);
	}
	return 0;
}

/* ---------------------------------------------------------------- the reader */

struct line {
	char seq[KLS_SHM_SEQ_MAX];
	long pid;
	long long t0; /* CLOCK_BOOTTIME ns when process() began */
	int rec;      /* "rec-0042" is 42 */
};

static size_t
read_lines(const struct fake_klsd *fx, struct line *out, size_t max)
{
	char path[PATH_MAX + 256], buf[1024], shard[KLS_SHM_SHARD_MAX], worker[128], data[64];
	unsigned long long sub;
	long long t1;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out-%s.log", fx->dir, fx->shard_id);
	if (!(f = fopen(path, "r")))
		return 0;
	while (n < max && fgets(buf, sizeof(buf), f)) {
		struct line *l = &out[n];

		if (sscanf(buf, "%135s %135s %llu %127s %ld %lld %lld %63s", shard, l->seq, &sub,
		        worker, &l->pid, &l->t0, &t1, data) != 8 ||
		    strncmp(data, "rec-", 4) != 0) {
			CU_FAIL("a record line that does not parse");
			continue;
		}
		l->rec = atoi(data + 4);
		n++;
	}
	fclose(f);
	return n;
}

/* The lines are exactly the shard's records from index `from` on, in order. */
static void
check_lines(const struct fake_klsd *fx, const struct stream *st, size_t from)
{
	static struct line lines[MAX_RECORDS];
	size_t n = read_lines(fx, lines, MAX_RECORDS), k = 0;

	for (size_t i = from; i < st->n; i++) {
		if (strcmp(st->shard[i], fx->shard_id) != 0)
			continue;
		if (k >= n) {
			fprintf(stderr, "\nrecord %zu missing\n", i);
			CU_FAIL("a record was not delivered");
			return;
		}
		if (lines[k].rec != (int)i)
			fprintf(stderr, "\nline %zu: rec %d, want %zu\n", k, lines[k].rec, i);
		CU_ASSERT_EQUAL(lines[k].rec, (int)i);
		CU_ASSERT_STRING_EQUAL(lines[k].seq, st->seq[i]);
		k++;
	}
	CU_ASSERT_EQUAL(n, k);
}

static const char consumer_lines[] = "read_mode = fan-out\nconsumer_name = kls-fo";

static int
start(struct fake_klsd *fx, const struct stream *st, const char *shard, const char *ckpt,
    const char *reader_lines)
{
	char h[PATH_MAX], hl[PATH_MAX + 64];

	if (fk_open(fx, shard, 30000, ckpt ? ckpt : "", 0) < 0)
		return -1;
	snprintf(h, sizeof(h), "%s/examples/.libs/filelog.so", test_builddir());
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx->dir);
	if (fk_config(fx, st->name, endpoint, h, reader_lines, hl) < 0)
		return -1;
	return fk_spawn(fx);
}

static size_t want_records;

static bool
has_wanted(const struct fake_klsd *fx)
{
	return fx->prog.records >= want_records;
}

static bool
checkpointed_wanted(const struct fake_klsd *fx)
{
	return fx->prog.records >= want_records && fx->n_ckpts > 0 &&
	       strcmp(fx->l.ckpt_seq, fx->prog.delivered_seq) == 0;
}

/* The consumer every test's readers use, on the stream: as klsd registers it. */
static int
ensure(struct stream *st, char *arn)
{
	struct aws_error err;

	if (kinesis_ensure_consumer(kc, st->arn, "kls-fo", arn, &err) < 0) {
		fprintf(stderr, "\nensure: %s\n", err.message);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- tests */

/*
 * The consumer calls on kinesis-local: ensure registers and waits for ACTIVE, a second
 * ensure (another worker starting) finds the same consumer, register again is refused
 * as in use, list and describe by ARN agree, deregister removes it and ensure brings it
 * back under a new ARN.
 */
static void
test_fanout_consumer_calls(void)
{
	struct stream st;
	struct kinesis_consumer_list l = { 0 };
	struct kinesis_consumer con;
	struct aws_error err;
	char arn[KINESIS_ARN_MAX + 1], again[KINESIS_ARN_MAX + 1];

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-fo-cons", 1), 0);
	CU_ASSERT_EQUAL_FATAL(ensure(&st, arn), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(arn, st.arn));
	CU_ASSERT_EQUAL(ensure(&st, again), 0);
	CU_ASSERT_STRING_EQUAL(again, arn);
	CU_ASSERT_EQUAL(kinesis_register_stream_consumer(kc, st.arn, "kls-fo", NULL, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceInUseException");
	CU_ASSERT_EQUAL(kinesis_list_stream_consumers(kc, st.arn, &l, &err), 0);
	CU_ASSERT_EQUAL(l.n, 1);
	if (l.n == 1) {
		CU_ASSERT_STRING_EQUAL(l.consumers[0].arn, arn);
		CU_ASSERT_STRING_EQUAL(l.consumers[0].status, "ACTIVE");
	}
	CU_ASSERT_EQUAL(kinesis_describe_stream_consumer(kc, NULL, NULL, arn, &con, &err), 0);
	CU_ASSERT_STRING_EQUAL(con.name, "kls-fo");
	CU_ASSERT_STRING_EQUAL(con.stream_arn, st.arn);
	CU_ASSERT_EQUAL(kinesis_deregister_stream_consumer(kc, st.arn, "kls-fo", NULL, &err), 0);
	/* Gone (or on its way out); ensure waits that out and registers it anew. */
	CU_ASSERT_EQUAL(ensure(&st, again), 0);
	CU_ASSERT_EQUAL(kinesis_describe_stream_consumer(kc, st.arn, "kls-fo", NULL, &con, &err),
	    0);
	CU_ASSERT_STRING_EQUAL(con.status, "ACTIVE");
	CU_ASSERT_STRING_EQUAL(con.arn, again);
	kinesis_consumer_list_free(&l);
	stream_drop(&st);
}

/*
 * Every record put is delivered in order through SubscribeToShard, those put before the
 * reader started and those put while it streams. Killed (SIGKILL) in the middle of a
 * subscription, with records still arriving, it is replaced by a reader that resumes
 * right after the persisted checkpoint: nothing lost, nothing before it repeated.
 */
static void
test_fanout_delivers_and_resumes_after_kill(void)
{
	static struct line lines[MAX_RECORDS];
	struct stream st;
	struct fake_klsd fx;
	char arn[KINESIS_ARN_MAX + 1], ckpt[KLS_SHM_SEQ_MAX];
	size_t k = 0, n;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-fo-e2e", 1), 0);
	CU_ASSERT_EQUAL_FATAL(ensure(&st, arn), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 60, 0, false), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &st, "shardId-000000000000", NULL, consumer_lines), 0);
	want_records = 60;
	CU_ASSERT_FATAL(fk_until(&fx, checkpointed_wanted, RUN_TIMEOUT_MS));
	CU_ASSERT_EQUAL(fx.prog.read_mode, KLS_READ_FANOUT);
	CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ACTIVE);
	/* Pushed while it streams. */
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 40, 5, false), 0);
	want_records = 100;
	CU_ASSERT_FATAL(fk_until(&fx, checkpointed_wanted, RUN_TIMEOUT_MS));
	CU_ASSERT_EQUAL(fx.prog.records, 100);
	check_lines(&fx, &st, 0);
	fk_command(&fx, KLS_CMD_STOP);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	fk_close(&fx);

	/* Again from record 99's checkpoint; killed while records 100.. arrive. */
	snprintf(ckpt, sizeof(ckpt), "%s", st.seq[99]);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &st, "shardId-000000000000", ckpt, consumer_lines), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 30, 5, false), 0);
	want_records = 10;
	/* Not has_wanted: prog.records counts records handed to process(), published
	 * before the handler writes them. Killed then, the file could hold none. */
	CU_ASSERT_FATAL(fk_until(&fx, checkpointed_wanted, RUN_TIMEOUT_MS));
	kill(fx.pid, SIGKILL);
	fk_wait(&fx);
	CU_ASSERT(WIFSIGNALED(fx.status) && WTERMSIG(fx.status) == SIGKILL);
	/* The first run after the checkpoint started at record 100. */
	n = read_lines(&fx, lines, MAX_RECORDS);
	CU_ASSERT(n >= 10);
	CU_ASSERT(n > 0 && lines[0].rec == 100);
	snprintf(ckpt, sizeof(ckpt), "%s", fx.l.ckpt_seq);
	for (k = 0; k < st.n && strcmp(st.seq[k], ckpt) != 0; k++)
		;
	CU_ASSERT_FATAL(k >= 100 && k < st.n);
	fk_close(&fx);

	/* The replacement resumes after that checkpoint, and gets what comes later. */
	CU_ASSERT_EQUAL_FATAL(start(&fx, &st, "shardId-000000000000", ckpt, consumer_lines), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 20, 5, false), 0);
	want_records = st.n - (k + 1);
	CU_ASSERT(fk_until(&fx, checkpointed_wanted, RUN_TIMEOUT_MS));
	fk_command(&fx, KLS_CMD_DRAIN);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	check_lines(&fx, &st, k + 1);
	fk_close(&fx);
	stream_drop(&st);
}

/* Records rec-<first>.. of one shard file of klsd's readers: appends their numbers to
 * out (at most max in all); -1 when a shard's records are not in rising order. */
static int
klsd_shard_records(const struct klsd_fixture *f, const char *shard, int *out, size_t *n, size_t max)
{
	char path[512], buf[1024];
	int last = -1, rc = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/out-%s.log", f->dir, shard);
	if (!(fp = fopen(path, "r")))
		return 0;
	while (*n < max && fgets(buf, sizeof(buf), fp)) {
		const char *d = strstr(buf, " rec-");
		int rec;

		if (!d || !strchr(buf, '\n'))
			continue; /* a line being written right now */
		rec = atoi(d + 5);
		if (rec <= last)
			rc = -1;
		last = rec;
		out[(*n)++] = rec;
	}
	fclose(fp);
	return rc;
}

/* Every record 0..n-1 delivered exactly once over both shards, each shard in order. */
static size_t
klsd_delivered(const struct klsd_fixture *f, bool *ordered)
{
	static const char *const shards[] = { "shardId-000000000000", "shardId-000000000001" };
	static int recs[2 * MAX_RECORDS];
	static bool seen[MAX_RECORDS];
	size_t n = 0, distinct = 0;

	*ordered = true;
	for (size_t i = 0; i < 2; i++)
		if (klsd_shard_records(f, shards[i], recs, &n, N_OF(recs)) < 0)
			*ordered = false;
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++)
		if (recs[i] >= 0 && recs[i] < MAX_RECORDS && !seen[recs[i]]) {
			seen[recs[i]] = true;
			distinct++;
		}
	return distinct == n ? n : 0;
}

/* The shards of `kls-ctl status --json` that read with fan-out and show a subscription
 * age and a resubscribe count; -1 when the command or its output failed. */
static int
status_fanout_shards(const struct klsd_fixture *f, int64_t *min_age_ms)
{
	char shm[sizeof(f->shm)], buf[65536];
	FILE *out = tmpfile(), *err = fopen("/dev/null", "w");
	json_object *root = NULL, *shards;
	int n = -1, rc;
	size_t len;

	snprintf(shm, sizeof(shm), "%s", f->shm);
	if (!out || !err)
		goto done;
	rc = ctl_main(5, (char *[]){ "kls-ctl", "status", "--json", "--shm", shm, NULL }, out, err);
	rewind(out);
	len = fread(buf, 1, sizeof(buf) - 1, out);
	buf[len] = '\0';
	if (rc != 0 || !(root = json_tokener_parse(buf)) ||
	    !json_object_object_get_ex(root, "shards", &shards))
		goto done;
	n = 0;
	*min_age_ms = INT64_MAX;
	for (size_t i = 0; i < json_object_array_length(shards); i++) {
		json_object *s = json_object_array_get_idx(shards, i), *mode, *age, *resubs;

		if (json_object_object_get_ex(s, "read_mode", &mode) && mode &&
		    strcmp(json_object_get_string(mode), "fan-out") == 0 &&
		    json_object_object_get_ex(s, "subscription_age_ms", &age) && age &&
		    json_object_get_int64(age) >= 0 &&
		    json_object_object_get_ex(s, "resubscribes", &resubs) && resubs &&
		    json_object_get_type(resubs) == json_type_int) {
			n++;
			if (json_object_get_int64(age) < *min_age_ms)
				*min_age_ms = json_object_get_int64(age);
		}
	}
done:
	json_object_put(root);
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	return n;
}

/*
 * klsd with read_mode = fan-out: it registers the consumer at start (ACTIVE before any
 * reader runs), its readers find it by name and deliver every record of a 2-shard
 * stream once, per-shard order kept, also those put while they stream. The
 * registration outlives klsd's clean exit: it belongs to the application, not a worker.
 */
static void
test_fanout_klsd_registers_and_readers_deliver(void)
{
	const char *kl = test_env("KINESIS_LOCAL_ENDPOINT");
	char *saved = getenv("KINESIS_ENDPOINT") ? strdup(getenv("KINESIS_ENDPOINT")) : NULL;
	struct klsd_fixture f;
	struct kinesis_stream_summary sum;
	struct kinesis_consumer con;
	struct aws_error err;
	char extra[1024];
	bool ordered = false;
	size_t total = 0;
	kls_mono end;

	if (!kl)
		return;
	/* The fixture and klsd both take Kinesis from KINESIS_ENDPOINT. */
	setenv("KINESIS_ENDPOINT", kl, 1);
	if (fixture_init(&f, "kls-fo-klsd", 2) < 0)
		goto out;
	fixture_example(&f, "filelog");
	snprintf(extra, sizeof(extra),
	    "read_mode = fan-out\nconsumer_name = kls-fo-d\n"
	    "[lease]\nfailover_ms = 6000\nrenew_interval_ms = 1000\n"
	    "[handler]\npath = %s/out-%%s.log\n",
	    f.dir);
	CU_ASSERT_EQUAL_FATAL(fixture_write_config(&f, extra), 0);
	CU_ASSERT_EQUAL_FATAL(fixture_put(&f, 0, 100), 0);
	if (!fixture_start_owning(&f, NULL, 2))
		goto out;
	CU_ASSERT_EQUAL_FATAL(fixture_put(&f, 100, 50), 0);
	end = mono_add_ms(mono_now(), 90000);
	while (mono_before(mono_now(), end) && (total = klsd_delivered(&f, &ordered)) < 150)
		sleep_ms(250);
	CU_ASSERT_EQUAL(total, 150);
	CU_ASSERT(ordered);
	CU_ASSERT(
	    fixture_log_count(&f, false,
	        (const char *const[]){ "enhanced fan-out: consumer kls-fo-d is arn:", NULL }) == 1);
	/* Both readers read through the subscription, not GetRecords. */
	CU_ASSERT(fixture_log_count(&f, false,
	              (const char *const[]){ "enhanced fan-out as consumer kls-fo-d", NULL }) >= 2);
	/* kls-ctl status --json shows it per shard: mode fan-out, the current
	 * subscription's age (null only between two subscriptions) and its resubscribe
	 * count. A second look a while later sees the subscriptions older. */
	{
		int64_t age = -1, later = -1;
		int n = 0;

		end = mono_add_ms(mono_now(), 20000);
		while (mono_before(mono_now(), end) && (n = status_fanout_shards(&f, &age)) < 2)
			sleep_ms(250);
		CU_ASSERT_EQUAL(n, 2);
		sleep_ms(1500);
		end = mono_add_ms(mono_now(), 20000);
		while (mono_before(mono_now(), end) &&
		       (n = status_fanout_shards(&f, &later)) < 2)
			sleep_ms(250);
		CU_ASSERT_EQUAL(n, 2);
		/* Unless both were replaced in between (they last 5 minutes). */
		CU_ASSERT(later > age || later < 1500);
	}
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
	if (kinesis_describe_stream_summary(f.kin, f.stream, &sum, &err) == 0) {
		CU_ASSERT_EQUAL(kinesis_describe_stream_consumer(f.kin, sum.stream_arn, "kls-fo-d",
		                    NULL, &con, &err),
		    0);
		CU_ASSERT_STRING_EQUAL(con.status, "ACTIVE");
		/* Gone before the stream can be deleted. */
		kinesis_deregister_stream_consumer(f.kin, sum.stream_arn, "kls-fo-d", NULL, &err);
		end = mono_add_ms(mono_now(), 10000);
		while (kinesis_describe_stream_consumer(f.kin, sum.stream_arn, "kls-fo-d", NULL,
		           &con, &err) == 0 &&
		       mono_before(mono_now(), end))
			sleep_ms(50);
	}
out:
	if (total != 150)
		fixture_dump_log(&f);
	fixture_done(&f);
	if (saved)
		setenv("KINESIS_ENDPOINT", saved, 1);
	else
		unsetenv("KINESIS_ENDPOINT");
	free(saved);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Milliseconds from each PutRecords call to the handler's process() for n records put
 * pause_ms apart while the reader runs; prints median, 90th percentile and max. */
static void
measure(const char *label, const char *reader_lines)
{
	static struct line lines[MAX_RECORDS];
	int64_t ms[64];
	struct stream st;
	struct fake_klsd fx;
	char arn[KINESIS_ARN_MAX + 1];
	size_t n, m = 0;
	const size_t count = 40;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-fo-lat", 1), 0);
	CU_ASSERT_EQUAL_FATAL(ensure(&st, arn), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &st, "shardId-000000000000", NULL, reader_lines), 0);
	/* Running and reading before the first put: the slot is ACTIVE and it has had time
	 * to subscribe or make its first call. */
	fk_until(&fx, NULL, 3000);
	CU_ASSERT_FATAL(!fx.exited);
	for (size_t i = 0; i < count; i++) {
		CU_ASSERT_EQUAL_FATAL(stream_put(&st, 1, 0, false), 0);
		fk_until(&fx, NULL, 250);
	}
	want_records = count;
	CU_ASSERT(fk_until(&fx, has_wanted, RUN_TIMEOUT_MS));
	fk_command(&fx, KLS_CMD_STOP);
	fk_wait(&fx);
	n = read_lines(&fx, lines, MAX_RECORDS);
	CU_ASSERT_EQUAL(n, count);
	for (size_t i = 0; i < n && m < 64; i++)
		if (lines[i].rec >= 0 && (size_t)lines[i].rec < st.n)
			ms[m++] = (lines[i].t0 - st.put_ns[lines[i].rec]) / 1000000;
	if (m > 0) {
		qsort(ms, m, sizeof(ms[0]), cmp_i64);
		fprintf(stderr,
		    "\n%s: PutRecords to process(), %zu records 250 ms apart on kinesis-local: "
		    "median %lld ms, p90 %lld ms, max %lld ms\n",
		    label, m, (long long)ms[m / 2], (long long)ms[(m * 9) / 10],
		    (long long)ms[m - 1]);
	}
	fk_close(&fx);
	stream_drop(&st);
}

static void
test_fanout_latency_against_polling(void)
{
	measure("fan-out", consumer_lines);
	/* Polling at its fastest: 5 calls a second, 50 ms idle backoff (fk_config's). */
	measure("polling", "max_calls_per_second = 5");
}

static CU_TestInfo tests[] = {
	{ "consumer calls and ensure", test_fanout_consumer_calls },
	{ "delivers in order, resumes after a kill", test_fanout_delivers_and_resumes_after_kill },
	{ "klsd registers, its readers deliver", test_fanout_klsd_registers_and_readers_deliver },
	{ "latency: fan-out against polling (printed)", test_fanout_latency_against_polling },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "enhanced fan-out on kinesis-local", NULL, test_kinesis_shared_free, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
