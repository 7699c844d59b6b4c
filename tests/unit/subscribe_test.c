/*
 * kls-reader's fan-out loop (reader/subscribe.c) against a loopback stub that plays
 * Kinesis: DescribeStreamSummary and DescribeStreamConsumer, and SubscribeToShard
 * answered from a per-test script of event-stream bodies (built with
 * tests/eventstream_enc.h), cut off mid-message, followed by an exception, a refusal, a
 * corrupt message or silence. The test plays klsd (tests/fake_klsd.h) and the handler is
 * examples/filelog, so each case checks what a user sees: every record once, in order,
 * from the right starting position, the right exit status.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/base64.h"
#include "common/clock.h"
#include "reader/checkpoint_ctx.h"
#include "tests/eventstream_enc.h"
#include "tests/fake_klsd.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_STEPS 8
#define MAX_LINES 64

#define SEQ_BASE "49590338271490256608559692538361571095921575989136588"
#define STREAM_ARN "arn:aws:kinesis:us-east-1:123456789012:stream/fo"
#define CONSUMER_ARN STREAM_ARN "/consumer/app:1700000000"

/* Record i's sequence number (i from 1 up: rising in i). */
static const char *
seq(int i, char *buf, size_t size)
{
	snprintf(buf, size, SEQ_BASE "%03d", i);
	return buf;
}

/* ---- the stub ---- */

/* One SubscribeToShard answer. */
struct step {
	char must[256]; /* the request body contains this */
	struct kls_buf body;
	int status;         /* 0 = 200 */
	size_t truncate_to; /* send only this much of body, then close (or hold) */
	int hold_ms;        /* then stay silent this long */
};

struct fo_stub {
	bool consumer_missing;
	struct step steps[MAX_STEPS];
	size_t n;
	/* What the reader sent (written by the stub thread, read after the reader exits). */
	int subs;
	kls_mono at[MAX_STEPS];
	char failure[512];
};

/* Keeps the first mismatch (the stub runs on its own thread, where CUnit asserts are
 * not safe). */
static void
fail(struct fo_stub *st, const char *what, const char *detail)
{
	if (!st->failure[0])
		snprintf(st->failure, sizeof(st->failure), "%s %.400s", what, detail);
}

static void
fo_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct fo_stub *st = arg;
	char target[128] = "";
	const char *action;

	stub_header(req, "X-Amz-Target", target, sizeof(target));
	action = strrchr(target, '.') ? strrchr(target, '.') + 1 : target;
	snprintf(resp->headers, sizeof(resp->headers),
	    "Content-Type: application/x-amz-json-1.1\r\n");
	if (strcmp(action, "DescribeStreamSummary") == 0) {
		buf_puts(&resp->body,
		    "{\"StreamDescriptionSummary\":{\"StreamName\":\"fo\","
		    "\"StreamARN\":\"" STREAM_ARN "\",\"StreamStatus\":\"ACTIVE\"}}");
	} else if (strcmp(action, "DescribeStreamConsumer") == 0) {
		if (!strstr(req->body, "\"ConsumerName\":\"app\"") ||
		    !strstr(req->body, STREAM_ARN))
			fail(st, "DescribeStreamConsumer:", req->body);
		if (st->consumer_missing) {
			resp->status = 400;
			buf_puts(&resp->body, "{\"__type\":\"ResourceNotFoundException\","
			                      "\"message\":\"Consumer app not found\"}");
		} else {
			buf_puts(&resp->body,
			    "{\"ConsumerDescription\":{\"ConsumerName\":\"app\",\"ConsumerARN\":"
			    "\"" CONSUMER_ARN
			    "\",\"ConsumerStatus\":\"ACTIVE\",\"StreamARN\":\"" STREAM_ARN "\"}}");
		}
	} else if (strcmp(action, "SubscribeToShard") == 0) {
		int i = st->subs++;
		const struct step *s = &st->steps[i];

		if ((size_t)i >= st->n) {
			fail(st, "unexpected SubscribeToShard:", req->body);
			resp->status = 400;
			buf_puts(&resp->body, "{\"__type\":\"ResourceNotFoundException\","
			                      "\"message\":\"script ended\"}");
			return;
		}
		st->at[i] = mono_now();
		if (!strstr(req->body, s->must) || !strstr(req->body, CONSUMER_ARN))
			fail(st, s->must, req->body);
		resp->status = s->status ? s->status : 200;
		if (resp->status == 200)
			snprintf(resp->headers, sizeof(resp->headers),
			    "Content-Type: application/vnd.amazon.eventstream\r\n");
		buf_append(&resp->body, s->body.data, s->body.len);
		resp->truncate_to = s->truncate_to;
		resp->hold_ms = s->hold_ms;
	} else {
		fail(st, "unexpected action", target);
		resp->status = 400;
		buf_puts(&resp->body, "{\"__type\":\"UnknownOperationException\"}");
	}
}

/* Appends a SubscribeToShardEvent with records first..last ("rec-NNNN"; none when
 * first > last) and ContinuationSequenceNumber cont (0: null, the shard's end). */
static void
event(struct kls_buf *out, int first, int last, int cont)
{
	struct kls_buf p;
	char s[96], data[16], b64[32];

	buf_init(&p, 0);
	buf_puts(&p, "{\"Records\":[");
	for (int i = first; i <= last; i++) {
		snprintf(data, sizeof(data), "rec-%04d", i);
		b64[base64_encode(b64, data, strlen(data))] = '\0';
		buf_printf(&p,
		    "%s{\"SequenceNumber\":\"%s\",\"Data\":\"%s\",\"PartitionKey\":\"k\","
		    "\"ApproximateArrivalTimestamp\":1.7e9}",
		    i > first ? "," : "", seq(i, s, sizeof(s)), b64);
	}
	if (cont)
		buf_printf(&p, "],\"ContinuationSequenceNumber\":\"%s\",", seq(cont, s, sizeof(s)));
	else
		buf_puts(&p, "],\"ContinuationSequenceNumber\":null,\"ChildShards\":[],");
	buf_puts(&p, "\"MillisBehindLatest\":0}");
	enc_strings(out, p.data, ":message-type", "event", ":event-type", "SubscribeToShardEvent",
	    ":content-type", "application/json", (const char *)NULL);
	buf_free(&p);
}

static void
exception(struct kls_buf *out, const char *type)
{
	enc_strings(out, "{\"message\":\"staged by the test\"}", ":message-type", "exception",
	    ":exception-type", type, ":content-type", "application/json", (const char *)NULL);
}

/* Step i must start after record cont (AFTER_SEQUENCE_NUMBER). */
static void
must_after(struct fo_stub *st, size_t i, int cont)
{
	char s[96];

	snprintf(st->steps[i].must, sizeof(st->steps[i].must),
	    "\"Type\":\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":\"%s\"",
	    seq(cont, s, sizeof(s)));
}

static void
stub_init(struct fo_stub *st, size_t n)
{
	memset(st, 0, sizeof(*st));
	st->n = n;
	for (size_t i = 0; i < MAX_STEPS; i++)
		buf_init(&st->steps[i].body, 0);
	snprintf(st->steps[0].must, sizeof(st->steps[0].must), "\"Type\":\"TRIM_HORIZON\"");
}

static void
stub_free(struct fo_stub *st)
{
	for (size_t i = 0; i < MAX_STEPS; i++)
		buf_free(&st->steps[i].body);
	if (st->failure[0])
		fprintf(stderr, "\nstub: %s\n", st->failure);
	CU_ASSERT_STRING_EQUAL(st->failure, "");
}

/* ---- the reader ---- */

struct run {
	struct fake_klsd fx;
	struct stub_server *srv;
	kls_mono t0;
};

static int
start(struct run *run, struct fo_stub *st, const char *ckpt, uint32_t request_timeout_ms)
{
	char h[PATH_MAX], hl[PATH_MAX + 64];

	run->srv = stub_start(fo_handler, st);
	if (!run->srv || fk_open(&run->fx, "shardId-000000000003", 30000, ckpt ? ckpt : "", 0) < 0)
		return -1;
	run->fx.request_timeout_ms = request_timeout_ms;
	snprintf(h, sizeof(h), "%s/examples/.libs/filelog.so", test_builddir());
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", run->fx.dir);
	if (fk_config(&run->fx, "fo", stub_url(run->srv), h,
	        "read_mode = fan-out\nconsumer_name = app", hl) < 0)
		return -1;
	run->t0 = mono_now();
	return fk_spawn(&run->fx);
}

/* Waits for the reader's exit and stops the stub (so its counters are final). */
static void
finish(struct run *run)
{
	fk_wait(&run->fx);
	stub_stop(run->srv);
	run->srv = NULL;
}

/* The data of the records filelog wrote, in order, as numbers ("rec-0007" is 7). */
static size_t
delivered(const struct fake_klsd *fx, int *out, size_t max)
{
	char path[PATH_MAX + 256], line[1024];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out-%s.log", fx->dir, fx->shard_id);
	if (!(f = fopen(path, "r")))
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		const char *d = strstr(line, "rec-");
		out[n++] = d ? atoi(d + 4) : -1;
	}
	fclose(f);
	return n;
}

/* CLOCK_BOOTTIME ns at which process() began for the first line (0 when none). */
static long long
first_t0(const struct fake_klsd *fx)
{
	char path[PATH_MAX + 256], line[1024];
	long long t0 = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out-%s.log", fx->dir, fx->shard_id);
	if ((f = fopen(path, "r"))) {
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%*s %*s %*s %*s %*s %lld", &t0) != 1)
			t0 = 0;
		fclose(f);
	}
	return t0;
}

/* Exactly records first..last were delivered, once each, in order. */
static void
check_records(const struct fake_klsd *fx, int first, int last)
{
	int got[MAX_LINES];
	size_t n = delivered(fx, got, MAX_LINES);

	CU_ASSERT_EQUAL(n, (size_t)(last - first + 1));
	for (size_t i = 0; i < n; i++) {
		if (got[i] != first + (int)i)
			fprintf(stderr, "\nline %zu: record %d, want %d\n", i, got[i],
			    first + (int)i);
		CU_ASSERT_EQUAL(got[i], first + (int)i);
	}
}

static void
check_shard_end(const struct fake_klsd *fx)
{
	CU_ASSERT(exited_with(fx, 4));
	CU_ASSERT(fx->n_ckpts > 0);
	if (fx->n_ckpts > 0)
		CU_ASSERT_STRING_EQUAL(fx->ckpts[fx->n_ckpts - 1], CKPT_SHARD_END);
	CU_ASSERT_EQUAL(fx->prog.read_mode, KLS_READ_FANOUT);
}

static bool
has_1_record(const struct fake_klsd *fx)
{
	return fx->prog.records == 1;
}

static bool
has_3_records(const struct fake_klsd *fx)
{
	return fx->prog.records == 3;
}

/* ---- cases ---- */

/*
 * The connection drops in the middle of the third event: the reader subscribes again
 * after the last continuation it received whole (record 3), and records 4 and 5 come
 * once, from the new subscription, which ends the shard.
 */
static void
test_subscribe_disconnect_resubscribes_from_continuation(void)
{
	struct fo_stub st;
	struct run run;
	char s[96];

	stub_init(&st, 2);
	event(&st.steps[0].body, 1, 2, 2);
	event(&st.steps[0].body, 3, 3, 3);
	st.steps[0].truncate_to = st.steps[0].body.len + 40;
	event(&st.steps[0].body, 4, 5, 5);
	must_after(&st, 1, 3);
	event(&st.steps[1].body, 4, 5, 0);
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 0), 0);
	finish(&run);
	check_shard_end(&run.fx);
	check_records(&run.fx, 1, 5);
	CU_ASSERT_EQUAL(st.subs, 2);
	/* What the reader published for kls-ctl and klsd's metrics (shm minor 2): fan-out,
	 * one resubscription, no subscription once the last one ended; a handler
	 * observation per event with records and no GetRecords call. */
	CU_ASSERT_EQUAL(run.fx.prog.read_mode, KLS_READ_FANOUT);
	CU_ASSERT_EQUAL(run.fx.prog.fanout_resubscribes, 1);
	CU_ASSERT_EQUAL(run.fx.prog.fanout_started_ns, 0);
	CU_ASSERT_EQUAL(run.fx.prog.handler.count, 3);
	CU_ASSERT_EQUAL(run.fx.prog.handler.nbounds, KLS_LAT_HANDLER_N);
	CU_ASSERT_EQUAL(run.fx.prog.getrecords.count, 0);
	CU_ASSERT_EQUAL(run.fx.prog.writer_pid, run.fx.pid);
	/* checkpoint = auto: one per event, at its last record. */
	CU_ASSERT(run.fx.n_ckpts >= 3);
	if (run.fx.n_ckpts >= 3) {
		CU_ASSERT_STRING_EQUAL(run.fx.ckpts[0], seq(2, s, sizeof(s)));
		CU_ASSERT_STRING_EQUAL(run.fx.ckpts[1], seq(3, s, sizeof(s)));
	}
	fk_close(&run.fx);
	stub_free(&st);
}

/*
 * ResourceInUseException as an event on the stream, then as an HTTP refusal: the reader
 * backs off (at most one SubscribeToShard a second) and subscribes again from where it
 * was, without losing or repeating a record.
 */
static void
test_subscribe_exception_backs_off(void)
{
	struct fo_stub st;
	struct run run;

	stub_init(&st, 3);
	event(&st.steps[0].body, 1, 1, 1);
	exception(&st.steps[0].body, "ResourceInUseException");
	must_after(&st, 1, 1);
	st.steps[1].status = 400;
	buf_puts(&st.steps[1].body,
	    "{\"__type\":\"ResourceInUseException\",\"message\":\"another subscription\"}");
	must_after(&st, 2, 1);
	event(&st.steps[2].body, 2, 2, 0);
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 0), 0);
	finish(&run);
	check_shard_end(&run.fx);
	check_records(&run.fx, 1, 2);
	CU_ASSERT_EQUAL_FATAL(st.subs, 3);
	CU_ASSERT(mono_diff_ms(st.at[0], st.at[1]) >= 900);
	CU_ASSERT(mono_diff_ms(st.at[1], st.at[2]) >= 900);
	fk_close(&run.fx);
	stub_free(&st);
}

/*
 * A subscription that goes silent (the connection stays open, nothing comes) is
 * replaced after 3 request timeouts (1 s here); meanwhile the reader keeps beating.
 */
static void
test_subscribe_silence_replaced(void)
{
	struct fo_stub st;
	struct run run;

	stub_init(&st, 2);
	event(&st.steps[0].body, 1, 1, 1);
	st.steps[0].truncate_to = st.steps[0].body.len;
	buf_puts(&st.steps[0].body, "advertised, never sent");
	st.steps[0].hold_ms = 30000;
	must_after(&st, 1, 1);
	event(&st.steps[1].body, 2, 2, 0);
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 1000), 0);
	CU_ASSERT_FATAL(fk_until(&run.fx, has_1_record, RUN_TIMEOUT_MS));
	fk_until(&run.fx, NULL, 2000);
	CU_ASSERT(!run.fx.exited);
	CU_ASSERT(mono_diff_ms(kls_shm_heartbeat_get(run.fx.s), mono_now()) < 1500);
	CU_ASSERT_EQUAL(kls_shm_slot_state(run.fx.s), KLS_SLOT_ACTIVE);
	finish(&run);
	check_shard_end(&run.fx);
	check_records(&run.fx, 1, 2);
	CU_ASSERT_EQUAL_FATAL(st.subs, 2);
	CU_ASSERT(mono_diff_ms(st.at[0], st.at[1]) >= 2900);
	CU_ASSERT(mono_diff_ms(st.at[0], st.at[1]) < 20000);
	fk_close(&run.fx);
	stub_free(&st);
}

/*
 * The service ends a subscription (as it does after 5 minutes): a new one follows from
 * the continuation. A DRAIN while the second streams is seen promptly: shutdown, exit 0.
 */
static void
test_subscribe_ends_then_drain(void)
{
	struct fo_stub st;
	struct run run;
	kls_mono t;

	stub_init(&st, 2);
	event(&st.steps[0].body, 1, 2, 2);
	must_after(&st, 1, 2);
	event(&st.steps[1].body, 3, 3, 3);
	st.steps[1].truncate_to = st.steps[1].body.len;
	buf_puts(&st.steps[1].body, "never sent");
	st.steps[1].hold_ms = 30000;
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 0), 0);
	CU_ASSERT_FATAL(fk_until(&run.fx, has_3_records, RUN_TIMEOUT_MS));
	t = mono_now();
	fk_command(&run.fx, KLS_CMD_DRAIN);
	finish(&run);
	CU_ASSERT(exited_with(&run.fx, 0));
	CU_ASSERT(mono_diff_ms(t, mono_now()) < 10000);
	check_records(&run.fx, 1, 3);
	CU_ASSERT_EQUAL(st.subs, 2);
	fk_close(&run.fx);
	stub_free(&st);
}

/* From a persisted checkpoint: the first subscription starts at it, and the record the
 * checkpoint names is not delivered again. */
static void
test_subscribe_resumes_from_checkpoint(void)
{
	struct fo_stub st;
	struct run run;
	char s[96];

	stub_init(&st, 1);
	snprintf(st.steps[0].must, sizeof(st.steps[0].must), "\"SequenceNumber\":\"%s\"",
	    seq(2, s, sizeof(s)));
	event(&st.steps[0].body, 2, 4, 0);
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, seq(2, s, sizeof(s)), 0), 0);
	finish(&run);
	check_shard_end(&run.fx);
	check_records(&run.fx, 3, 4);
	/* kls's own part of fan-out latency: the stub answers, the event is decoded and its
	 * records reach process() (printed, not asserted). */
	if (first_t0(&run.fx) > st.at[0].ns)
		fprintf(stderr, "\nSubscribeToShard answered to process(): %.2f ms\n",
		    (double)(first_t0(&run.fx) - st.at[0].ns) / 1e6);
	fk_close(&run.fx);
	stub_free(&st);
}

/* A message whose CRC does not match: that subscription is dropped, the next starts
 * after the last good event. */
static void
test_subscribe_corrupt_message(void)
{
	struct fo_stub st;
	struct run run;
	size_t at;

	stub_init(&st, 2);
	event(&st.steps[0].body, 1, 1, 1);
	at = st.steps[0].body.len;
	event(&st.steps[0].body, 2, 2, 2);
	/* A byte in the second message's payload. */
	st.steps[0].body.data[st.steps[0].body.len - 20] ^= 0x01;
	CU_ASSERT(st.steps[0].body.len - 20 > at);
	must_after(&st, 1, 1);
	event(&st.steps[1].body, 2, 2, 0);
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 0), 0);
	finish(&run);
	check_shard_end(&run.fx);
	check_records(&run.fx, 1, 2);
	fk_close(&run.fx);
	stub_free(&st);
}

/* A stream that ends before any event (a live subscription always sends some) is a
 * failure: backed off from, not resubscribed to at once; then reading goes on. */
static void
test_subscribe_empty_stream(void)
{
	struct fo_stub st;
	struct run run;

	stub_init(&st, 3);
	snprintf(st.steps[1].must, sizeof(st.steps[1].must), "\"Type\":\"TRIM_HORIZON\"");
	snprintf(st.steps[2].must, sizeof(st.steps[2].must), "\"Type\":\"TRIM_HORIZON\"");
	event(&st.steps[2].body, 1, 1, 0);
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 0), 0);
	finish(&run);
	check_shard_end(&run.fx);
	check_records(&run.fx, 1, 1);
	CU_ASSERT_EQUAL(st.subs, 3);
	fk_close(&run.fx);
	stub_free(&st);
}

/* No consumer of that name: the reader never registers one, it exits 1 and says so. */
static void
test_subscribe_consumer_missing(void)
{
	struct fo_stub st;
	struct run run;

	stub_init(&st, 0);
	st.consumer_missing = true;
	CU_ASSERT_EQUAL_FATAL(start(&run, &st, NULL, 0), 0);
	finish(&run);
	CU_ASSERT(exited_with(&run.fx, 1));
	CU_ASSERT_PTR_NOT_NULL(strstr(run.fx.prog.last_error, "consumer app is not registered"));
	CU_ASSERT_EQUAL(st.subs, 0);
	fk_close(&run.fx);
	stub_free(&st);
}

static CU_TestInfo tests[] = {
	{ "disconnect: resubscribe from the continuation",
	    test_subscribe_disconnect_resubscribes_from_continuation },
	{ "exception and refusal: back off", test_subscribe_exception_backs_off },
	{ "silence: replaced, heartbeats go on", test_subscribe_silence_replaced },
	{ "subscription ends, then drain", test_subscribe_ends_then_drain },
	{ "resumes from the checkpoint", test_subscribe_resumes_from_checkpoint },
	{ "corrupt message", test_subscribe_corrupt_message },
	{ "empty stream", test_subscribe_empty_stream },
	{ "consumer missing", test_subscribe_consumer_missing },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "fan-out reader against a stub", NULL, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
