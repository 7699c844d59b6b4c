/*
 * kls-fixture, the bench's Kinesis endpoint, read through kls's own Kinesis client: its
 * ListShards and DescribeStreamSummary shapes, GetRecords bodies that the GetRecords
 * scanner accepts with 56-digit sequence numbers increasing in each shard and every
 * record delivered once, iterators at every position type, the end of closed and open
 * shards, the service's errors, keep-alive with pipelined requests, and a clean exit
 * on SIGTERM. Runs the built binary; needs no emulator.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/creds.h"
#include "common/getrecords.h"
#include "common/kinesis.h"
#include "tests/harness.h"
#include "tests/spawn.h"
#include "tools/payload.h"

#define SHARDS 3
#define RECORDS 2500
#define RECORD_BYTES 50
#define BATCH 700

struct fixture {
	pid_t pid;
	unsigned port;
	struct kinesis_client *kc;
};

static struct aws_creds_provider *creds;
static struct fixture closed_fx, open_fx;

/* Starts kls-fixture with args and a client for it; 0 or -1. */
static int
fixture_start(struct fixture *fx, const char *const *args)
{
	char line[32], url[64];
	struct aws_service_config cfg;
	struct aws_error err;
	ssize_t n;
	FILE *f;
	int fd;

	if ((fx->pid = spawn_program("tools/kls-fixture", args, NULL, &fd)) < 0)
		return -1;
	/* The first line is the port; the fixture builds its records before it prints it. */
	f = fdopen(fd, "r");
	n = f && fgets(line, sizeof(line), f) ? (ssize_t)strlen(line) : -1;
	if (f)
		fclose(f);
	else
		close(fd);
	if (n <= 0 || (fx->port = (unsigned)strtoul(line, NULL, 10)) == 0) {
		fprintf(stderr, "kls-fixture did not print its port\n");
		return -1;
	}
	if (!creds)
		creds = creds_provider_new_static("AKIDEXAMPLE", "secret", NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", fx->port);
	kinesis_service_config(&cfg, "us-east-1", url, creds);
	if ((fx->kc = kinesis_client_new(&cfg, &(struct aws_retry_policy){ 1, 0, 0 }, &err)) ==
	    NULL) {
		fprintf(stderr, "kinesis_client_new: %s\n", err.message);
		return -1;
	}
	return 0;
}

/* SIGTERM; the exit status (a sanitizer report makes it non-zero). */
static int
fixture_stop(struct fixture *fx)
{
	int status = -1;

	kinesis_client_free(fx->kc);
	fx->kc = NULL;
	if (fx->pid <= 0)
		return -1;
	kill(fx->pid, SIGTERM);
	while (waitpid(fx->pid, &status, 0) < 0 && errno == EINTR)
		;
	fx->pid = 0;
	return status;
}

static int
suite_init(void)
{
	static const char *const closed_args[] = { "--shards", "3", "--records", "2500",
		"--record-bytes", "50", "--batch", "700", "--stream", "fixture-closed", NULL };
	static const char *const open_args[] = { "--shards", "1", "--records", "10",
		"--record-bytes", "30", "--open", "--stream", "fixture-open", NULL };

	return fixture_start(&closed_fx, closed_args) < 0 || fixture_start(&open_fx, open_args) < 0
	           ? -1
	           : 0;
}

static int
suite_cleanup(void)
{
	if (closed_fx.pid)
		fixture_stop(&closed_fx);
	if (open_fx.pid)
		fixture_stop(&open_fx);
	creds_provider_free(creds);
	return 0;
}

static void
test_fixture_list_shards_shape(void)
{
	struct kinesis_shard_list l = { 0 };
	struct kinesis_stream_summary sum;
	struct aws_error err;
	unsigned __int128 prev_end = 0, start, end;
	size_t i, j;

	CU_ASSERT_EQUAL_FATAL(kinesis_list_shards(closed_fx.kc, "fixture-closed", NULL, &l, &err),
	    0);
	CU_ASSERT_EQUAL_FATAL(l.n, SHARDS);
	for (i = 0; i < l.n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "shardId-%012zu", i);
		CU_ASSERT_STRING_EQUAL(l.shards[i].shard_id, want);
		CU_ASSERT_EQUAL(strlen(l.shards[i].starting_sequence_number), 56);
		CU_ASSERT_EQUAL(strlen(l.shards[i].ending_sequence_number), 56);
		CU_ASSERT(kinesis_shard_closed(&l.shards[i]));
		CU_ASSERT_STRING_EQUAL(l.shards[i].parent_shard_id, "");
		/* The hash ranges tile 0 .. 2^128 - 1 without a gap. */
		start = end = 0;
		for (j = 0; l.shards[i].starting_hash_key[j]; j++)
			start = start * 10 + (unsigned)(l.shards[i].starting_hash_key[j] - '0');
		for (j = 0; l.shards[i].ending_hash_key[j]; j++)
			end = end * 10 + (unsigned)(l.shards[i].ending_hash_key[j] - '0');
		CU_ASSERT(i == 0 ? start == 0 : start == prev_end + 1);
		CU_ASSERT(start < end);
		prev_end = end;
	}
	CU_ASSERT(prev_end == ~(unsigned __int128)0);
	kinesis_shard_list_free(&l);

	CU_ASSERT_EQUAL_FATAL(kinesis_list_shards(open_fx.kc, "fixture-open", NULL, &l, &err), 0);
	CU_ASSERT_EQUAL_FATAL(l.n, 1);
	CU_ASSERT(!kinesis_shard_closed(&l.shards[0]));
	kinesis_shard_list_free(&l);

	CU_ASSERT_EQUAL_FATAL(kinesis_describe_stream_summary(closed_fx.kc, "fixture-closed", &sum,
	                          &err),
	    0);
	CU_ASSERT_STRING_EQUAL(sum.stream_name, "fixture-closed");
	CU_ASSERT_STRING_EQUAL(sum.status, "ACTIVE");
	CU_ASSERT_EQUAL(sum.open_shard_count, 0);
	CU_ASSERT_EQUAL_FATAL(kinesis_describe_stream_summary(open_fx.kc, "fixture-open", &sum,
	                          &err),
	    0);
	CU_ASSERT_EQUAL(sum.open_shard_count, 1);
}

static int
iterator(struct fixture *fx, const char *stream, const char *shard,
    const struct kinesis_position *pos, char *out)
{
	struct aws_error err;
	int rc = kinesis_get_shard_iterator(fx->kc, stream, shard, pos, out, &err);

	if (rc < 0)
		fprintf(stderr, "\nGetShardIterator: %s\n", err.message);
	return rc;
}

/* One GetRecords body, fetched raw and scanned with the GetRecords scanner. */
static int
fetch(struct fixture *fx, const char *it, int limit, struct kls_buf *body, struct kls_buf *arena,
    struct getrecords_result *res)
{
	struct getrecords_error gerr;
	struct aws_error err;

	if (kinesis_get_records_raw(fx->kc, "shard", it, limit, body, &err) < 0) {
		fprintf(stderr, "\nGetRecords: %s\n", err.message);
		return -1;
	}
	if (getrecords_parse(body->data, body->len, NULL, arena, res, &gerr) < 0) {
		fprintf(stderr, "\nscanner: %s\n", gerr.message);
		return -1;
	}
	return 0;
}

static void
test_fixture_every_record_in_order(void)
{
	struct kinesis_position trim = { .type = KINESIS_TRIM_HORIZON };
	struct getrecords_result res;
	struct kls_buf body, arena;
	char it[KINESIS_ITERATOR_MAX + 1], prev_seq[64], shard[32];
	int64_t prev_arrival, prev_behind;
	uint64_t want, got;
	size_t i, calls;
	int k;

	getrecords_result_init(&res);
	buf_init(&body, 0);
	buf_init(&arena, 0);
	for (k = 0; k < SHARDS; k++) {
		snprintf(shard, sizeof(shard), "shardId-%012d", k);
		CU_ASSERT_EQUAL_FATAL(iterator(&closed_fx, "fixture-closed", shard, &trim, it), 0);
		want = 0;
		prev_seq[0] = '\0';
		prev_arrival = -1;
		prev_behind = INT64_MAX;
		for (calls = 0; calls < 100; calls++) {
			CU_ASSERT_EQUAL_FATAL(fetch(&closed_fx, it, 1000, &body, &arena, &res), 0);
			/* --batch caps a response below the Limit asked for. */
			CU_ASSERT(res.n_records <= BATCH);
			for (i = 0; i < res.n_records; i++, want++) {
				const struct getrecords_record *r = &res.records[i];

				CU_ASSERT_EQUAL(r->sequence_number_len, 56);
				CU_ASSERT(strcmp(r->sequence_number, prev_seq) > 0);
				snprintf(prev_seq, sizeof(prev_seq), "%s", r->sequence_number);
				CU_ASSERT_EQUAL(r->data_len, RECORD_BYTES);
				CU_ASSERT(
				    payload_seq(r->data, r->data_len, &got) == 0 && got == want);
				CU_ASSERT(r->arrival_ms > prev_arrival);
				prev_arrival = r->arrival_ms;
				CU_ASSERT(r->partition_key_len > 0);
			}
			CU_ASSERT(res.millis_behind_latest >= 0 &&
			          res.millis_behind_latest < prev_behind);
			prev_behind = res.millis_behind_latest;
			if (res.next_iterator == NULL)
				break;
			snprintf(it, sizeof(it), "%s", res.next_iterator);
		}
		CU_ASSERT_EQUAL(want, RECORDS);
		CU_ASSERT_EQUAL(res.millis_behind_latest, 0);
		CU_ASSERT_PTR_NULL(res.next_iterator);
		/* ceil(2500 / 700) responses: the iterator turns null with the last records. */
		CU_ASSERT_EQUAL(calls + 1, (RECORDS + BATCH - 1) / BATCH);
	}
	getrecords_result_free(&res);
	buf_free(&body);
	buf_free(&arena);
}

/* The first record a position leads to: its payload number, or -1 for an empty batch. */
static int64_t
first_at(struct fixture *fx, const char *stream, const struct kinesis_position *pos,
    struct getrecords_result *res, bool *has_next)
{
	char it[KINESIS_ITERATOR_MAX + 1];
	struct kls_buf body, arena;
	uint64_t n = 0;
	int64_t rc = -2;

	buf_init(&body, 0);
	buf_init(&arena, 0);
	if (iterator(fx, stream, "shardId-000000000001", pos, it) == 0 &&
	    fetch(fx, it, 5, &body, &arena, res) == 0)
		rc = res->n_records == 0 ? -1
		     : payload_seq(res->records[0].data, res->records[0].data_len, &n) == 0
		         ? (int64_t)n
		         : -3;
	*has_next = res->next_iterator != NULL;
	/* The views die with the arena. */
	res->n_records = 0;
	res->next_iterator = NULL;
	buf_free(&body);
	buf_free(&arena);
	return rc;
}

static void
test_fixture_iterator_positions(void)
{
	struct getrecords_result res;
	struct kls_buf body, arena;
	char it[KINESIS_ITERATOR_MAX + 1], seq[64];
	struct kinesis_position pos = { .type = KINESIS_TRIM_HORIZON };
	int64_t arrival;
	bool has_next;

	getrecords_result_init(&res);
	buf_init(&body, 0);
	buf_init(&arena, 0);
	/* Record 1234's sequence number and arrival time, from a read that skips to it. */
	CU_ASSERT_EQUAL_FATAL(iterator(&closed_fx, "fixture-closed", "shardId-000000000001", &pos,
	                          it),
	    0);
	CU_ASSERT_EQUAL_FATAL(fetch(&closed_fx, it, 700, &body, &arena, &res), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res.next_iterator);
	snprintf(it, sizeof(it), "%s", res.next_iterator);
	CU_ASSERT_EQUAL_FATAL(fetch(&closed_fx, it, 700, &body, &arena, &res), 0);
	CU_ASSERT_EQUAL_FATAL(res.n_records, 700);
	snprintf(seq, sizeof(seq), "%s", res.records[1234 - 700].sequence_number);
	arrival = res.records[1234 - 700].arrival_ms;

	pos =
	    (struct kinesis_position){ .type = KINESIS_AT_SEQUENCE_NUMBER, .sequence_number = seq };
	CU_ASSERT_EQUAL(first_at(&closed_fx, "fixture-closed", &pos, &res, &has_next), 1234);
	pos.type = KINESIS_AFTER_SEQUENCE_NUMBER;
	CU_ASSERT_EQUAL(first_at(&closed_fx, "fixture-closed", &pos, &res, &has_next), 1235);
	pos = (struct kinesis_position){ .type = KINESIS_AT_TIMESTAMP, .timestamp_ms = arrival };
	CU_ASSERT_EQUAL(first_at(&closed_fx, "fixture-closed", &pos, &res, &has_next), 1234);
	pos = (struct kinesis_position){ .type = KINESIS_TRIM_HORIZON };
	CU_ASSERT_EQUAL(first_at(&closed_fx, "fixture-closed", &pos, &res, &has_next), 0);
	/* LATEST of a closed shard: nothing, and no iterator after it. */
	pos = (struct kinesis_position){ .type = KINESIS_LATEST };
	CU_ASSERT_EQUAL(first_at(&closed_fx, "fixture-closed", &pos, &res, &has_next), -1);
	CU_ASSERT(!has_next);

	getrecords_result_free(&res);
	buf_free(&body);
	buf_free(&arena);
}

static void
test_fixture_open_shard_ends_with_empty_batches(void)
{
	struct kinesis_position trim = { .type = KINESIS_TRIM_HORIZON };
	struct getrecords_result res;
	struct kls_buf body, arena;
	char it[KINESIS_ITERATOR_MAX + 1];
	int i;

	getrecords_result_init(&res);
	buf_init(&body, 0);
	buf_init(&arena, 0);
	CU_ASSERT_EQUAL_FATAL(iterator(&open_fx, "fixture-open", "shardId-000000000000", &trim, it),
	    0);
	CU_ASSERT_EQUAL_FATAL(fetch(&open_fx, it, 10000, &body, &arena, &res), 0);
	CU_ASSERT_EQUAL(res.n_records, 10);
	CU_ASSERT_EQUAL(res.millis_behind_latest, 0);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(res.next_iterator);
		snprintf(it, sizeof(it), "%s", res.next_iterator);
		CU_ASSERT_EQUAL_FATAL(fetch(&open_fx, it, 10000, &body, &arena, &res), 0);
		CU_ASSERT_EQUAL(res.n_records, 0);
		CU_ASSERT_EQUAL(res.millis_behind_latest, 0);
	}
	CU_ASSERT_PTR_NOT_NULL(res.next_iterator);
	getrecords_result_free(&res);
	buf_free(&body);
	buf_free(&arena);
}

static void
test_fixture_errors_are_the_services(void)
{
	static const struct {
		const char *stream, *shard, *sequence, *iterator;
		const char *want;
	} cases[] = {
		{ "no-such-stream", "shardId-000000000000", NULL, NULL,
		    "ResourceNotFoundException" },
		{ "fixture-closed", "shardId-000000000009", NULL, NULL,
		    "ResourceNotFoundException" },
		/* a sequence number of shard 0 used on shard 1 */
		{ "fixture-closed", "shardId-000000000001",
		    "49628491037215000000000000000000000000000000000000000005", NULL,
		    "InvalidArgumentException" },
		{ "fixture-closed", "shardId-000000000001", "12345", NULL,
		    "InvalidArgumentException" },
		{ NULL, NULL, NULL, "kls-fixture-iterator:1:999999", "InvalidArgumentException" },
		{ NULL, NULL, NULL, "kls-fixture-iterator:7:0", "InvalidArgumentException" },
		{ NULL, NULL, NULL, "AAAAAAAAAAE=", "InvalidArgumentException" },
	};
	char it[KINESIS_ITERATOR_MAX + 1];
	struct kls_buf body;
	struct aws_error err;
	size_t i;
	int rc;

	buf_init(&body, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].iterator) {
			rc = kinesis_get_records_raw(closed_fx.kc, "shard", cases[i].iterator, 10,
			    &body, &err);
		} else {
			struct kinesis_position pos = { .type = cases[i].sequence
				                                    ? KINESIS_AT_SEQUENCE_NUMBER
				                                    : KINESIS_TRIM_HORIZON,
				.sequence_number = cases[i].sequence };

			rc = kinesis_get_shard_iterator(closed_fx.kc, cases[i].stream,
			    cases[i].shard, &pos, it, &err);
		}
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_EQUAL(err.http_status, 400);
		if (strcmp(err.type, cases[i].want) != 0)
			fprintf(stderr, "\ncase %zu: %s: %s\n", i, err.type, err.message);
		CU_ASSERT_STRING_EQUAL(err.type, cases[i].want);
	}
	buf_free(&body);
}

/* Two requests written at once on one connection get two answers, in order. */
static void
test_fixture_keep_alive_pipelined(void)
{
	static const char req[] = "POST / HTTP/1.1\r\nHost: x\r\n"
	                          "X-Amz-Target: Kinesis_20131202.ListShards\r\n"
	                          "Content-Type: application/x-amz-json-1.1\r\n"
	                          "Content-Length: 29\r\n\r\n{\"StreamName\":\"fixture-open\"}"
	                          "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)open_fx.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char resp[8192], *shards;
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CU_ASSERT_EQUAL_FATAL(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	/* Until the stats body (the second answer) has ended. */
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0) {
		got += (size_t)n;
		resp[got] = '\0';
		if (strstr(resp, "\"first_fetch_ns\"") && resp[got - 1] == '}')
			break;
	}
	close(fd);
	resp[got] = '\0';
	CU_ASSERT_EQUAL(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	shards = strstr(resp, "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(shards);
	CU_ASSERT_PTR_NOT_NULL(strstr(shards, "HTTP/1.1 200 OK\r\n"));
	/* The open fixture was read by the tests before: one shard, 3 GetRecords. */
	CU_ASSERT_PTR_NOT_NULL(strstr(resp, "\"get_records\":3,\"records_served\":10"));
}

static void
test_fixture_stops_cleanly_on_sigterm(void)
{
	int status = fixture_stop(&closed_fx);

	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = fixture_stop(&open_fx);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static CU_TestInfo tests[] = {
	{ "ListShards and DescribeStreamSummary shapes", test_fixture_list_shards_shape },
	{ "every record once, in order", test_fixture_every_record_in_order },
	{ "iterator positions", test_fixture_iterator_positions },
	{ "open shard ends with empty batches", test_fixture_open_shard_ends_with_empty_batches },
	{ "errors are the service's", test_fixture_errors_are_the_services },
	{ "keep-alive, pipelined", test_fixture_keep_alive_pipelined },
	{ "stops cleanly on SIGTERM", test_fixture_stops_cleanly_on_sigterm },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kls-fixture", suite_init, suite_cleanup, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
