/*
 * kls-produce, run as a program: against kinesalite (KINESIS_ENDPOINT) it creates the
 * stream and puts every record once, with the "seq=<n> " payload, the size and the
 * partition keys asked for, at the rate asked for, and stops cleanly on SIGTERM with
 * totals that match what the stream holds; against a scripted endpoint, the entries
 * PutRecords refuses are put again, and only those.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/getrecords.h"
#include "common/kinesis.h"
#include "tests/harness.h"
#include "tests/kinesis_fixture.h"
#include "tests/spawn.h"
#include "tests/stub_script.h"
#include "tools/payload.h"

static struct kinesis_client *kc; /* the suite's, once client() has made it */

struct run {
	pid_t pid;
	int out_fd;
	char out[4096]; /* its stdout */
	int status;
};

/* Starts kls-produce with args, KINESIS_ENDPOINT set to endpoint. */
static int
produce_start(struct run *r, const char *endpoint, const char *const *args)
{
	static char ep_var[512];
	const char *env[] = { ep_var, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=secret",
		getenv("AWS_REGION") ? NULL : "AWS_REGION=us-east-1", NULL };

	snprintf(ep_var, sizeof(ep_var), "KINESIS_ENDPOINT=%s", endpoint);
	r->pid = spawn_program("tools/kls-produce", args, env, &r->out_fd);
	return r->pid > 0 ? 0 : -1;
}

/* A fresh stream name in stream[64] and kls-produce started on the emulator with args
 * (which name that stream); 0, or -1 when the emulator is not there. */
static int
produce_start_new(struct run *r, char *stream, const char *const *args)
{
	const char *ep = test_env("KINESIS_ENDPOINT");

	if (!ep)
		return -1;
	test_unique_name(stream, 64, "produce");
	return produce_start(r, ep, args);
}

/* Collects its stdout and exit status; 0 when it exited with 0. */
static int
produce_wait(struct run *r)
{
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(r->out) - 1 &&
	       (n = read(r->out_fd, r->out + got, sizeof(r->out) - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	r->out[got] = '\0';
	close(r->out_fd);
	while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
		fprintf(stderr, "\nkls-produce: status %d, output: %s\n", r->status, r->out);
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 ? 0 : -1;
}

static struct kinesis_client *
client(void)
{
	return kc = test_kinesis_shared("KINESIS_ENDPOINT");
}

/*
 * Reads every shard of stream to its end and counts the records by payload number
 * (counts[n - first] for first <= n < first + max) and checks sizes and keys.
 * Returns the number of records read, or -1.
 */
static long
read_back(const char *stream, uint64_t first, size_t max, unsigned *counts, size_t bytes,
    unsigned keys)
{
	struct kinesis_position trim = { .type = KINESIS_TRIM_HORIZON };
	struct kinesis_shard_list l = { 0 };
	struct getrecords_result res;
	struct kls_buf body, arena;
	char it[KINESIS_ITERATOR_MAX + 1], key[32];
	struct aws_error err;
	long total = 0;
	size_t s, i;
	uint64_t n;
	int calls;

	if (kinesis_list_shards(client(), stream, NULL, &l, &err) < 0) {
		fprintf(stderr, "\n%s\n", err.message);
		return -1;
	}
	getrecords_result_init(&res);
	buf_init(&body, 0);
	buf_init(&arena, 0);
	for (s = 0; s < l.n && total >= 0; s++) {
		if (kinesis_get_shard_iterator(kc, stream, l.shards[s].shard_id, &trim, it, &err) <
		    0)
			goto fail;
		/* kinesalite's shards are open: read until an empty batch. */
		for (calls = 0; calls < 1000; calls++) {
			if (kinesis_get_records(kc, l.shards[s].shard_id, it, 10000, NULL, &body,
			        &arena, &res, &err) < 0)
				goto fail;
			for (i = 0; i < res.n_records; i++) {
				const struct getrecords_record *r = &res.records[i];

				CU_ASSERT_EQUAL(r->data_len, bytes);
				if (payload_seq(r->data, r->data_len, &n) < 0 || n < first ||
				    n - first >= max) {
					CU_FAIL("a record that kls-produce did not put");
					continue;
				}
				counts[n - first]++;
				snprintf(key, sizeof(key), "pk-%llu",
				    (unsigned long long)(n % keys));
				CU_ASSERT_STRING_EQUAL(r->partition_key, key);
				total++;
			}
			if (res.n_records == 0 || res.next_iterator == NULL)
				break;
			snprintf(it, sizeof(it), "%s", res.next_iterator);
		}
	}
	goto out;
fail:
	fprintf(stderr, "\n%s\n", err.message);
	total = -1;
out:
	kinesis_shard_list_free(&l);
	getrecords_result_free(&res);
	buf_free(&body);
	buf_free(&arena);
	return total;
}

static void
delete_stream(const char *stream)
{
	test_kinesis_delete_stream(client(), stream);
}

static void
test_produce_count_records_all_read_back(void)
{
	unsigned counts[1200] = { 0 };
	char stream[64];
	const char *args[] = { "--stream", stream, "--create", "2", "--count", "1200", "--bytes",
		"64", "--partition-keys", "50", NULL };
	struct run r;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(produce_start_new(&r, stream, args), 0);
	CU_ASSERT_EQUAL_FATAL(produce_wait(&r), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "put 1200 records (76800 bytes)"));
	CU_ASSERT_EQUAL(read_back(stream, 0, 1200, counts, 64, 50), 1200);
	for (i = 0; i < 1200; i++)
		if (counts[i] != 1) {
			fprintf(stderr, "\nseq=%zu read %u times\n", i, counts[i]);
			CU_FAIL("a record not read back exactly once");
			break;
		}
	delete_stream(stream);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --rate paces the puts: 100 records at 200/s take at least 0.45 s (a lower bound only,
 * which a busy machine can only lengthen). --seq-start numbers them from 5000. */
static void
test_produce_rate_and_seq_start(void)
{
	unsigned counts[100] = { 0 };
	char stream[64];
	const char *args[] = { "--stream", stream, "--create", "1", "--rate", "200", "--count",
		"100", "--seq-start", "5000", "--bytes", "30", NULL };
	const char *ep = test_env("KINESIS_ENDPOINT");
	struct run r;
	double t0;
	size_t i;

	if (!ep)
		return;
	test_unique_name(stream, sizeof(stream), "produce");
	/* Create first, so only the puts are timed. */
	CU_ASSERT_EQUAL_FATAL(kinesis_create_stream(client(), stream, 1, &(struct aws_error){ 0 }),
	    0);
	CU_ASSERT_EQUAL_FATAL(kinesis_wait_active(kc, stream, 30000, NULL,
	                          &(struct aws_error){ 0 }),
	    0);
	t0 = now_s();
	CU_ASSERT_EQUAL_FATAL(produce_start(&r, ep, args), 0);
	CU_ASSERT_EQUAL_FATAL(produce_wait(&r), 0);
	CU_ASSERT(now_s() - t0 >= 0.44);
	CU_ASSERT_EQUAL(read_back(stream, 5000, 100, counts, 30, 1000), 100);
	for (i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(counts[i], 1);
	delete_stream(stream);
}

/* Without --count it runs until SIGTERM, then says how many it put: all of them there. */
static void
test_produce_sigterm_stops_with_true_totals(void)
{
	unsigned counts[20000] = { 0 };
	char stream[64], want[64];
	const char *args[] = { "--stream", stream, "--create", "2", "--rate", "400", NULL };
	unsigned long put = 0;
	const char *p;
	struct run r;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(produce_start_new(&r, stream, args), 0);
	sleep(2);
	kill(r.pid, SIGTERM);
	CU_ASSERT_EQUAL_FATAL(produce_wait(&r), 0);
	p = strstr(r.out, "put ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	put = strtoul(p + 4, NULL, 10);
	CU_ASSERT(put > 0 && put < 20000);
	snprintf(want, sizeof(want), "put %lu records", put);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));
	CU_ASSERT_EQUAL(read_back(stream, 0, 20000, counts, 100, 1000), (long)put);
	for (i = 0; i < put && i < 20000; i++)
		CU_ASSERT_EQUAL(counts[i], 1);
	delete_stream(stream);
}

/* A refused entry is put again, alone; the ones that went in are not repeated. */
static void
test_produce_retries_only_refused_entries(void)
{
	static char b64[3][32];
	char raw[32];
	struct stub_step steps[2] = {
		{ .action = "PutRecords",
		    .must = { b64[0], b64[1], b64[2] },
		    .body = "{\"FailedRecordCount\":1,\"Records\":["
		            "{\"SequenceNumber\":\"1\",\"ShardId\":\"shardId-000000000000\"},"
		            "{\"ErrorCode\":\"ProvisionedThroughputExceededException\","
		            "\"ErrorMessage\":\"Rate exceeded\"},"
		            "{\"SequenceNumber\":\"3\",\"ShardId\":\"shardId-000000000000\"}]}" },
		{ .action = "PutRecords",
		    .must = { b64[1] },
		    .must_not = { b64[0], b64[2] },
		    .body = "{\"FailedRecordCount\":0,\"Records\":["
		            "{\"SequenceNumber\":\"2\",\"ShardId\":\"shardId-000000000000\"}]}" },
	};
	struct stub_script script = { .steps = steps, .n = 2 };
	const char *args[] = { "--stream", "s", "--count", "3", "--bytes", "12", NULL };
	struct stub_endpoint e;
	struct run r;
	int i;

	for (i = 0; i < 3; i++)
		base64_encode(b64[i], raw, payload_fill(raw, 12, (uint64_t)i));
	CU_ASSERT_EQUAL_FATAL(stub_endpoint_start(&e, &script, kinesis_service_config), 0);
	CU_ASSERT_EQUAL_FATAL(produce_start(&r, e.cfg.endpoint, args), 0);
	CU_ASSERT_EQUAL(produce_wait(&r), 0);
	stub_endpoint_stop(&e);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "put 3 records (36 bytes) to s"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "with 2 calls; 1 retried"));
}

static CU_TestInfo tests[] = {
	{ "--count: all read back once", test_produce_count_records_all_read_back },
	{ "--rate and --seq-start", test_produce_rate_and_seq_start },
	{ "SIGTERM stops with true totals", test_produce_sigterm_stops_with_true_totals },
	{ "retries only refused entries", test_produce_retries_only_refused_entries },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kls-produce", NULL, test_kinesis_shared_free, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
