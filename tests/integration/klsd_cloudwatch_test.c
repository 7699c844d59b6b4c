/*
 * klsd's CloudWatch metrics against a loopback stub standing in for CloudWatch, with
 * the real kls-reader and the file handler on the emulators: the RecordsProcessed sums
 * klsd sends equal the records the handler wrote, requests are signed for "monitoring"
 * with KCL's names and dimensions (the lease writes' RenewLease.Time and
 * UpdateLease.Time and NumWorkers among them), the latency distributions' Counts add
 * up to the process() calls the handler saw, and a CloudWatch that answers 500 or
 * never answers leaves lease renewal alone (logged once, not once per failure).
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "tests/harness.h"
#include "tests/klsd_fixture.h"
#include "tests/stub_http.h"

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
/* Renew every second; CloudWatch intervals of a second. */
#define FAST                                                                               \
	"[lease]\nfailover_ms = 6000\nrenew_interval_ms = 1000\ntake_interval_ms = 2000\n" \
	"[aws]\nrequest_timeout_ms = 2000\n"

/* The stub's view of PutMetricData, summed over every request it accepted. */
struct cw_stub {
	pthread_mutex_t mu;
	int requests, bad;
	double records, bytes; /* Sum of RecordsProcessed, DataBytesProcessed */
	double current_leases_max;
	double renew_time_n, update_time_n, num_workers_max; /* SampleCounts, Maximum */
	char update_time_op[64];
	/* Counts of KinesisDataFetcher.getRecords.Time, RecordProcessor.processRecords.Time */
	double getrecords_n, handler_n;
	char auth[512], target[128], ns[128], worker[128], op_records[64];
	int mode; /* 0 accept, 1 answer 500, 2 answer after 5 s (past the request timeout) */
};

static const char *
dim_value(json_object *d, const char *name)
{
	json_object *dims;

	if (!json_object_object_get_ex(d, "Dimensions", &dims))
		return NULL;
	for (size_t j = 0; j < json_object_array_length(dims); j++) {
		json_object *dm = json_object_array_get_idx(dims, j), *n, *v;
		if (json_object_object_get_ex(dm, "Name", &n) &&
		    json_object_object_get_ex(dm, "Value", &v) &&
		    strcmp(json_object_get_string(n), name) == 0)
			return json_object_get_string(v);
	}
	return NULL;
}

/* One latency distribution: KCL's name, ProcessTask by shard, in ms, as many Counts as
 * Values, values increasing; its Counts are added up. */
static void
tally_distribution(struct cw_stub *s, json_object *d, const char *n, json_object *vals)
{
	json_object *cnts, *unit, *sv;
	bool getrecords = strcmp(n, "KinesisDataFetcher.getRecords.Time") == 0;
	const char *op = dim_value(d, "Operation");
	size_t len = json_object_array_length(vals);
	double sum = 0, prev = 0;

	if ((!getrecords && strcmp(n, "RecordProcessor.processRecords.Time") != 0) ||
	    !json_object_object_get_ex(d, "Counts", &cnts) ||
	    !json_object_object_get_ex(d, "Unit", &unit) ||
	    json_object_object_get_ex(d, "StatisticValues", &sv) ||
	    strcmp(json_object_get_string(unit), "Milliseconds") != 0 || !op ||
	    strcmp(op, "ProcessTask") != 0 || !dim_value(d, "ShardId") || len == 0 ||
	    json_object_array_length(cnts) != len) {
		s->bad++;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		double v = json_object_get_double(json_object_array_get_idx(vals, i));
		double c = json_object_get_double(json_object_array_get_idx(cnts, i));
		if (v <= prev || c < 1) {
			s->bad++;
			return;
		}
		prev = v;
		sum += c;
	}
	*(getrecords ? &s->getrecords_n : &s->handler_n) += sum;
}

/* Adds up one accepted request (the stub holds mu). */
static void
tally(struct cw_stub *s, const char *body)
{
	json_object *o = json_tokener_parse(body), *md, *ns;

	if (!o || !json_object_object_get_ex(o, "MetricData", &md) ||
	    !json_object_object_get_ex(o, "Namespace", &ns)) {
		s->bad++;
		json_object_put(o);
		return;
	}
	snprintf(s->ns, sizeof(s->ns), "%s", json_object_get_string(ns));
	for (size_t i = 0; i < json_object_array_length(md); i++) {
		json_object *d = json_object_array_get_idx(md, i), *name, *sv, *sum, *max, *vals;
		const char *n;
		if (json_object_object_get_ex(d, "MetricName", &name) &&
		    json_object_object_get_ex(d, "Values", &vals)) {
			tally_distribution(s, d, json_object_get_string(name), vals);
			continue;
		}
		if (!json_object_object_get_ex(d, "MetricName", &name) ||
		    !json_object_object_get_ex(d, "StatisticValues", &sv) ||
		    !json_object_object_get_ex(sv, "Sum", &sum) ||
		    !json_object_object_get_ex(sv, "Maximum", &max)) {
			s->bad++;
			continue;
		}
		n = json_object_get_string(name);
		if (strcmp(n, "RecordsProcessed") == 0) {
			s->records += json_object_get_double(sum);
			snprintf(s->op_records, sizeof(s->op_records), "%s",
			    dim_value(d, "Operation") ? dim_value(d, "Operation") : "");
			if (!dim_value(d, "ShardId"))
				s->bad++;
		} else if (strcmp(n, "DataBytesProcessed") == 0) {
			s->bytes += json_object_get_double(sum);
		} else if (strcmp(n, "RenewLease.Time") == 0 ||
		           strcmp(n, "UpdateLease.Time") == 0) {
			json_object *cnt;
			bool renew = n[0] == 'R';
			if (!json_object_object_get_ex(sv, "SampleCount", &cnt) ||
			    json_object_get_double(sum) <= 0 ||
			    !dim_value(d, renew ? "WorkerIdentifier" : "ShardId")) {
				s->bad++;
				continue;
			}
			*(renew ? &s->renew_time_n : &s->update_time_n) +=
			    json_object_get_double(cnt);
			if (!renew)
				snprintf(s->update_time_op, sizeof(s->update_time_op), "%s",
				    dim_value(d, "Operation") ? dim_value(d, "Operation") : "");
		} else if (strcmp(n, "NumWorkers") == 0) {
			if (json_object_get_double(max) > s->num_workers_max)
				s->num_workers_max = json_object_get_double(max);
		} else if (strcmp(n, "CurrentLeases") == 0) {
			if (json_object_get_double(max) > s->current_leases_max)
				s->current_leases_max = json_object_get_double(max);
			snprintf(s->worker, sizeof(s->worker), "%s",
			    dim_value(d, "WorkerIdentifier") ? dim_value(d, "WorkerIdentifier")
			                                     : "");
		}
	}
	json_object_put(o);
}

static void
handle(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct cw_stub *s = arg;

	pthread_mutex_lock(&s->mu);
	s->requests++;
	stub_header(req, "Authorization", s->auth, sizeof(s->auth));
	stub_header(req, "X-Amz-Target", s->target, sizeof(s->target));
	if (s->mode == 1) {
		resp->status = 500;
		buf_puts(&resp->body, "{\"__type\":\"InternalServiceFault\",\"message\":\"down\"}");
	} else if (s->mode == 2) {
		resp->delay_ms = 5000;
	} else {
		tally(s, req->body ? req->body : "");
		buf_puts(&resp->body, "{}");
	}
	pthread_mutex_unlock(&s->mu);
}

static double
get(struct cw_stub *s, const double *field)
{
	double v;

	pthread_mutex_lock(&s->mu);
	v = *field;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* The configuration: CloudWatch at the stub every second, on or off. */
static int
write_config(struct klsd_fixture *f, const struct stub_server *srv, bool on)
{
	char extra[2048];

	snprintf(extra, sizeof(extra),
	    "max_records = 50\nidle_backoff_ms = 100\n" FAST "cloudwatch_endpoint = %s\n"
	    "[metrics]\ncloudwatch = %s\ncloudwatch_interval_ms = 1000\n"
	    "[handler]\npath = %s/out-%%s.log\n",
	    stub_url(srv), on ? "on" : "off", f->dir);
	return fixture_write_config(f, extra);
}

/* A 2-shard stream, the file handler, CloudWatch at the stub. */
static bool
setup_with(struct klsd_fixture *f, const char *prefix, const struct stub_server *srv, bool on)
{
	if (fixture_init(f, prefix, 2) < 0)
		return false;
	fixture_example(f, "filelog");
	if (write_config(f, srv, on) < 0) {
		CU_FAIL("setup");
		return false;
	}
	return true;
}

static bool
setup(struct klsd_fixture *f, const char *prefix, const struct stub_server *srv)
{
	return setup_with(f, prefix, srv, true);
}

static void
test_klsd_cloudwatch_counts_records(void)
{
	struct cw_stub s = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct stub_server *srv = stub_start(handle, &s);
	struct klsd_fixture f;
	kls_mono end;
	int lines = -1, batches = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	if (!setup(&f, "cw-count", srv) || !fixture_start_owning(&f, NULL, 2))
		goto out;
	CU_ASSERT_TRUE(
	    fixture_wait_log(&f, false, WORDS("CloudWatch metrics: namespace"), 1, 5000));
	CU_ASSERT_EQUAL(fixture_put(&f, 0, 600), 0);
	end = mono_add_ms(mono_now(), 90000);
	while ((lines = fixture_handler_lines(&f, "out", "rec-")) < 600 &&
	       mono_before(mono_now(), end))
		sleep_ms(200);
	CU_ASSERT_EQUAL(lines, 600);
	/* Within a few intervals, the sums sent equal what the handler wrote (nothing
	 * crashed: every record once); bytes are "rec-NNNNN", 9 each. */
	end = mono_add_ms(mono_now(), 15000);
	while (get(&s, &s.records) < lines && mono_before(mono_now(), end))
		sleep_ms(200);
	CU_ASSERT_EQUAL(get(&s, &s.records), (double)lines);
	CU_ASSERT_EQUAL(get(&s, &s.bytes), 9.0 * lines);
	CU_ASSERT_EQUAL(get(&s, &s.current_leases_max), 2);
	/* The lease writes' times: checkpoints of those batches, renewals once idle (every
	 * second here), and the one live worker. */
	end = mono_add_ms(mono_now(), 15000);
	while ((get(&s, &s.update_time_n) <= 0 || get(&s, &s.renew_time_n) <= 0 ||
	           get(&s, &s.num_workers_max) < 1) &&
	       mono_before(mono_now(), end))
		sleep_ms(200);
	CU_ASSERT_TRUE(get(&s, &s.update_time_n) > 0);
	CU_ASSERT_TRUE(get(&s, &s.renew_time_n) > 0);
	CU_ASSERT_EQUAL(get(&s, &s.num_workers_max), 1);
	/* The handler's latency: one observation per process() call, so the Counts sent
	 * add up to the batches in the handler's files once the last call's observation
	 * (published right after it returns) has gone out; every batch came from a
	 * GetRecords call. */
	batches = fixture_handler_batches(&f, "out");
	CU_ASSERT_TRUE(batches > 0);
	end = mono_add_ms(mono_now(), 15000);
	while (get(&s, &s.handler_n) < batches && mono_before(mono_now(), end))
		sleep_ms(200);
	CU_ASSERT_EQUAL(get(&s, &s.handler_n), (double)batches);
	CU_ASSERT_TRUE(get(&s, &s.getrecords_n) >= batches);
	pthread_mutex_lock(&s.mu);
	CU_ASSERT_STRING_EQUAL(s.update_time_op, "ProcessTask");
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_STRING_EQUAL(s.target, "GraniteServiceVersion20100801.PutMetricData");
	CU_ASSERT_PTR_NOT_NULL(strstr(s.auth, "AWS4-HMAC-SHA256 Credential="));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.auth, "/us-east-1/monitoring/aws4_request"));
	CU_ASSERT_STRING_EQUAL(s.ns, f.app);
	CU_ASSERT_STRING_EQUAL(s.worker, f.worker);
	CU_ASSERT_STRING_EQUAL(s.op_records, "ProcessTask");
	pthread_mutex_unlock(&s.mu);
	/* Nothing is counted twice after a clean exit's last interval. */
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
	CU_ASSERT_EQUAL(get(&s, &s.records), (double)lines);
	CU_ASSERT_EQUAL(get(&s, &s.handler_n), (double)batches);
out:
	fixture_done(&f);
	stub_stop(srv);
}

/* Sum of the counters of the leases f's worker owns; -1 when the scan failed. */
static int64_t
counters(struct klsd_fixture *f, int *owned)
{
	struct lease *l = NULL;
	int n = fixture_leases(f, &l);
	int64_t sum = 0;

	*owned = 0;
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (strcmp(l[i].owner, f->worker) == 0) {
			sum += (int64_t)l[i].counter;
			(*owned)++;
		}
	free(l);
	return sum;
}

/* Renewals (one a second per lease) go on for `ms` while CloudWatch misbehaves. */
static void
check_renewing(struct klsd_fixture *f, int ms)
{
	int owned0, owned1;
	int64_t before = counters(f, &owned0), after;

	sleep_ms(ms);
	after = counters(f, &owned1);
	CU_ASSERT_EQUAL(owned0, 2);
	CU_ASSERT_EQUAL(owned1, 2);
	/* Two leases renewed about every second: at least ms/1000 each, with slack for a
	 * busy machine. */
	CU_ASSERT_TRUE(after - before >= 2 * (ms / 1000 - 2));
	if (after - before < 2 * (ms / 1000 - 2))
		fprintf(stderr, "\n  lease counters moved by %lld in %d ms\n",
		    (long long)(after - before), ms);
}

static void
test_klsd_cloudwatch_failing_endpoint(void)
{
	struct cw_stub s = { .mu = PTHREAD_MUTEX_INITIALIZER, .mode = 1 };
	struct stub_server *srv = stub_start(handle, &s);
	struct klsd_fixture f;
	int requests;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	if (!setup(&f, "cw-fail", srv) || !fixture_start_owning(&f, NULL, 2))
		goto out;
	/* 500 on every attempt of every interval. */
	check_renewing(&f, 8000);
	pthread_mutex_lock(&s.mu);
	requests = s.requests;
	s.mode = 2; /* now: no answer within the request timeout */
	pthread_mutex_unlock(&s.mu);
	/* Each interval was tried three times and dropped; logged once for the outage. */
	CU_ASSERT_TRUE(requests >= 6);
	CU_ASSERT_EQUAL(fixture_log_count(&f, false,
	                    WORDS("CloudWatch PutMetricData", "InternalServiceFault",
	                        "metrics dropped")),
	    1);
	check_renewing(&f, 8000);
	/* Meanwhile intervals queued up and the oldest were dropped: still the one line. */
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("CloudWatch", "dropp")), 1);
	/* The shutdown waits a request timeout at most for CloudWatch, then exits 0. */
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
	CU_ASSERT_EQUAL(fixture_owned(&f, f.worker), 0);
out:
	fixture_done(&f);
	stub_stop(srv);
}

static int
requests(struct cw_stub *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* [metrics] cloudwatch is live: a reload turns publishing on, and off again. */
static void
test_klsd_cloudwatch_reload(void)
{
	struct cw_stub s = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct stub_server *srv = stub_start(handle, &s);
	struct klsd_fixture f;
	kls_mono end;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	if (!setup_with(&f, "cw-reload", srv, false) || !fixture_start_owning(&f, NULL, 2))
		goto out;
	sleep_ms(3000);
	CU_ASSERT_EQUAL(requests(&s), 0);
	CU_ASSERT_EQUAL(write_config(&f, srv, true), 0);
	CU_ASSERT_EQUAL(kill(f.pid, SIGHUP), 0);
	end = mono_add_ms(mono_now(), 15000);
	while (requests(&s) < 2 && mono_before(mono_now(), end))
		sleep_ms(100);
	CU_ASSERT_TRUE(requests(&s) >= 2);
	CU_ASSERT_EQUAL(get(&s, &s.current_leases_max), 2);
	CU_ASSERT_EQUAL(write_config(&f, srv, false), 0);
	CU_ASSERT_EQUAL(kill(f.pid, SIGHUP), 0);
	CU_ASSERT_TRUE(fixture_wait_log(&f, false, WORDS("configuration applied"), 2, 10000));
	/* An interval in flight may still land; then nothing more. */
	sleep_ms(2000);
	n = requests(&s);
	sleep_ms(3000);
	CU_ASSERT_EQUAL(requests(&s), n);
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
out:
	fixture_done(&f);
	stub_stop(srv);
}

static CU_TestInfo klsd_cloudwatch_tests[] = {
	{ "RecordsProcessed sums and processRecords.Time counts equal what the handler saw",
	    test_klsd_cloudwatch_counts_records },
	{ "a failing or hanging CloudWatch leaves renewals alone",
	    test_klsd_cloudwatch_failing_endpoint },
	{ "reload turns it on and off", test_klsd_cloudwatch_reload },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "klsd_cloudwatch", NULL, NULL, NULL, NULL, klsd_cloudwatch_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
