/*
 * Tests of supervisor/cloudwatch: the KCL mapping, the per-interval statistic sets and
 * latency distributions,
 * and the publisher thread against a loopback stub: what it sends (signed for
 * "monitoring", JSON 1.0 target), retries on 5xx and throttling, drops that are counted,
 * the bounded queue, and a stop that does not wait for a hanging CloudWatch.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/creds.h"
#include "supervisor/cloudwatch.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

#define MAXREQ 64

/* What the stub saw, and how it answers: `fail` 500s first, then 200s; `hang_ms`
 * delays every answer. */
struct recorder {
	pthread_mutex_t mu;
	int n;
	char *body[MAXREQ];
	char auth[MAXREQ][512];
	char target[MAXREQ][128];
	char ctype[MAXREQ][64];
	int fail;
	int throttle;
	int hang_ms;
};

static void
record(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct recorder *r = arg;

	pthread_mutex_lock(&r->mu);
	if (r->n < MAXREQ) {
		r->body[r->n] = strdup(req->body ? req->body : "");
		stub_header(req, "Authorization", r->auth[r->n], sizeof(r->auth[0]));
		stub_header(req, "X-Amz-Target", r->target[r->n], sizeof(r->target[0]));
		stub_header(req, "Content-Type", r->ctype[r->n], sizeof(r->ctype[0]));
		r->n++;
	}
	if (r->throttle > 0) {
		r->throttle--;
		resp->status = 400;
		buf_puts(&resp->body, "{\"__type\":\"com.amazonaws.cloudwatch#Throttling\","
		                      "\"message\":\"Rate exceeded\"}");
	} else if (r->fail > 0) {
		r->fail--;
		resp->status = 500;
		buf_puts(&resp->body, "{\"__type\":\"InternalServiceFault\",\"message\":\"oops\"}");
	} else {
		buf_puts(&resp->body, "{}");
	}
	resp->delay_ms = r->hang_ms;
	pthread_mutex_unlock(&r->mu);
}

static void
recorder_free(struct recorder *r)
{
	for (int i = 0; i < r->n && i < MAXREQ; i++)
		free(r->body[i]);
	pthread_mutex_destroy(&r->mu);
}

static int
requests(struct recorder *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static bool
wait_requests(struct recorder *r, int n, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	while (requests(r) < n && mono_before(mono_now(), end))
		sleep_ms(10);
	return requests(r) >= n;
}

static struct cwpub *
start(struct stub_server *srv, struct aws_creds_provider *creds, long timeout_ms,
    struct cw_limits lim)
{
	struct cwpub_config c = { "us-east-1", stub_url(srv), creds, 2000, timeout_ms,
		{ 3, 10, 50 }, lim };
	char err[256];
	struct cwpub *p = cwpub_start(&c, err, sizeof(err));

	if (!p)
		fprintf(stderr, "cwpub_start: %s\n", err);
	return p;
}

/* A publisher at a recording stub, with an empty accumulator to feed it. */
struct rig {
	struct recorder r;
	struct stub_server *srv;
	struct aws_creds_provider *creds;
	struct cw_acc *a;
	struct cwpub *p;
};

static bool
rig_start(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->r.mu, NULL);
	g->srv = stub_start(record, &g->r);
	g->creds = creds_provider_new_static("AKIDEXAMPLE", "secret", NULL);
	g->a = cw_acc_new();
	if (g->srv && g->creds && g->a)
		g->p = start(g->srv, g->creds, 5000, (struct cw_limits){ 0, 0 });
	return g->p != NULL;
}

/* Stops the publisher (if the test has not) and frees everything. */
static void
rig_stop(struct rig *g)
{
	cwpub_stop(g->p, 1000);
	cw_acc_free(g->a);
	if (g->srv)
		stub_stop(g->srv);
	recorder_free(&g->r);
	creds_provider_free(g->creds);
}

/* The datum named name (with ShardId shard when not NULL) in a body; NULL if absent. */
static json_object *
find(json_object *body, const char *name, const char *shard)
{
	json_object *md;

	if (!json_object_object_get_ex(body, "MetricData", &md))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(md); i++) {
		json_object *d = json_object_array_get_idx(md, i), *v, *dims;
		const char *sh = NULL;
		json_object_object_get_ex(d, "MetricName", &v);
		if (strcmp(json_object_get_string(v), name) != 0)
			continue;
		json_object_object_get_ex(d, "Dimensions", &dims);
		for (size_t j = 0; j < json_object_array_length(dims); j++) {
			json_object *dm = json_object_array_get_idx(dims, j), *dn, *dv;
			json_object_object_get_ex(dm, "Name", &dn);
			json_object_object_get_ex(dm, "Value", &dv);
			if (strcmp(json_object_get_string(dn), "ShardId") == 0)
				sh = json_object_get_string(dv);
		}
		if (!shard || (sh && strcmp(sh, shard) == 0))
			return d;
	}
	return NULL;
}

static double
statv(json_object *d, const char *key)
{
	json_object *sv, *v;

	if (!d || !json_object_object_get_ex(d, "StatisticValues", &sv) ||
	    !json_object_object_get_ex(sv, key, &v))
		return -1;
	return json_object_get_double(v);
}

static const char *
dim(json_object *d, const char *name)
{
	json_object *dims;

	if (!d || !json_object_object_get_ex(d, "Dimensions", &dims))
		return NULL;
	for (size_t j = 0; j < json_object_array_length(dims); j++) {
		json_object *dm = json_object_array_get_idx(dims, j), *dn, *dv;
		json_object_object_get_ex(dm, "Name", &dn);
		json_object_object_get_ex(dm, "Value", &dv);
		if (strcmp(json_object_get_string(dn), name) == 0)
			return json_object_get_string(dv);
	}
	return NULL;
}

static void
test_cwpub_mapping(void)
{
	static const struct {
		enum kls_metric id;
		const char *name, *op;
		int per_shard;
		enum config_cw_level level;
	} want[] = {
		{ KLS_M_RECORDS_PROCESSED, "RecordsProcessed", "ProcessTask", 1,
		    CONFIG_CW_SUMMARY },
		{ KLS_M_BYTES_PROCESSED, "DataBytesProcessed", "ProcessTask", 1,
		    CONFIG_CW_SUMMARY },
		{ KLS_M_MILLIS_BEHIND, "MillisBehindLatest", "ProcessTask", 1, CONFIG_CW_SUMMARY },
		{ KLS_M_LEASES_HELD, "CurrentLeases", "RenewAllLeases", 0, CONFIG_CW_SUMMARY },
		{ KLS_M_LEASES_LOST, "LostLeases", "RenewAllLeases", 0, CONFIG_CW_SUMMARY },
		{ KLS_M_LEASE_RENEWALS, "RenewLease.Success", "RenewAllLeases", 0,
		    CONFIG_CW_DETAILED },
		{ KLS_M_LEASE_TAKES, "TakenLeases", "TakeLeases", 0, CONFIG_CW_SUMMARY },
		{ KLS_M_WORKERS, "NumWorkers", "TakeLeases", 0, CONFIG_CW_SUMMARY },
	};
	/* Lease write latencies: one metric per op KCL has one for. */
	static const struct {
		enum lease_op op;
		const char *name, *op_dim;
		int per_shard;
	} writes[] = {
		{ LEASE_OP_RENEW, "RenewLease.Time", "RenewAllLeases", 0 },
		{ LEASE_OP_CHECKPOINT, "UpdateLease.Time", "ProcessTask", 1 },
		{ LEASE_OP_TAKE, "TakeLease.Time", "TakeLeases", 0 },
		{ LEASE_OP_RELEASE, NULL, NULL, 0 },
		{ LEASE_OP_HANDOFF, NULL, NULL, 0 },
		{ LEASE_OP_CREATE, NULL, NULL, 0 },
		{ LEASE_OP_DELETE, NULL, NULL, 0 },
		{ LEASE_OP_COUNT, NULL, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		const struct cw_metric_def *d = cw_write_def(writes[i].op);
		if (!writes[i].name) {
			CU_ASSERT_PTR_NULL(d);
			continue;
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_STRING_EQUAL(d->name, writes[i].name);
		CU_ASSERT_STRING_EQUAL(d->operation, writes[i].op_dim);
		CU_ASSERT_EQUAL(d->per_shard, writes[i].per_shard);
		CU_ASSERT_EQUAL(d->unit, CW_UNIT_MILLISECONDS);
		CU_ASSERT_EQUAL(d->level, CONFIG_CW_DETAILED);
	}
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct cw_metric_def *d = cw_metric_def(want[i].id);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_STRING_EQUAL(d->name, want[i].name);
		CU_ASSERT_STRING_EQUAL(d->operation, want[i].op);
		CU_ASSERT_EQUAL(d->per_shard, want[i].per_shard);
		CU_ASSERT_EQUAL(d->level, want[i].level);
	}
	/* The latency histograms: KCL's ProcessTask metrics, at KCL's levels. */
	{
		const struct cw_metric_def *gr = cw_latency_def(KLS_LAT_GETRECORDS),
		                           *hd = cw_latency_def(KLS_LAT_HANDLER);
		CU_ASSERT_PTR_NOT_NULL_FATAL(gr);
		CU_ASSERT_PTR_NOT_NULL_FATAL(hd);
		CU_ASSERT_STRING_EQUAL(gr->name, "KinesisDataFetcher.getRecords.Time");
		CU_ASSERT_STRING_EQUAL(hd->name, "RecordProcessor.processRecords.Time");
		CU_ASSERT_STRING_EQUAL(gr->operation, "ProcessTask");
		CU_ASSERT_STRING_EQUAL(hd->operation, "ProcessTask");
		CU_ASSERT_TRUE(gr->per_shard && hd->per_shard);
		CU_ASSERT_EQUAL(gr->unit, CW_UNIT_MILLISECONDS);
		CU_ASSERT_EQUAL(gr->level, CONFIG_CW_DETAILED);
		CU_ASSERT_EQUAL(hd->level, CONFIG_CW_SUMMARY);
		CU_ASSERT_PTR_NULL(cw_latency_def(KLS_LAT_KINDS));
	}
	/* Not as samples: the histograms come whole, through cw_acc_sample_latency. */
	CU_ASSERT_PTR_NULL(cw_metric_def(KLS_M_GETRECORDS_SECONDS));
	CU_ASSERT_PTR_NULL(cw_metric_def(KLS_M_HANDLER_SECONDS));
	CU_ASSERT_PTR_NULL(cw_metric_def(KLS_M_LEASE_WRITE_SECONDS));
	CU_ASSERT_PTR_NULL(cw_metric_def(KLS_M_LEASE_WRITE_FAILURES));
	CU_ASSERT_PTR_NULL(cw_metric_def(KLS_M_COUNT));
}

/* Samples become one statistic set per metric and shard, sent signed for monitoring. */
static void
test_cwpub_statistic_sets(void)
{
	static struct rig g;
	struct recorder *r = &g.r;
	struct cw_acc *a;
	struct cwpub *p;
	json_object *body, *d;

	CU_ASSERT_TRUE_FATAL(rig_start(&g));
	a = g.a;
	p = g.p;
	/* Three observations of shard 0, two of shard 1, three of the worker. */
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_RECORDS_PROCESSED, "shardId-0", 10), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_RECORDS_PROCESSED, "shardId-0", 0), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_RECORDS_PROCESSED, "shardId-0", 25), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_RECORDS_PROCESSED, "shardId-1", 7), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_MILLIS_BEHIND, "shardId-1", 1500), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_LEASES_HELD, NULL, 2), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_LEASE_RENEWALS, NULL, 3), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_LEASE_RENEWALS, NULL, 0), 0);
	/* Restarts are published only when there were some. */
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_READER_RESTARTS, "shardId-1", 0), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_READER_RESTARTS, "shardId-0", 1), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_HANDLER_SECONDS, "shardId-0", 1), 0);
	CU_ASSERT_EQUAL(cw_acc_sample(a, KLS_M_RECORDS_PROCESSED, "shardId-0", NAN), -1);
	CU_ASSERT_EQUAL(cw_acc_count(a), 6);

	CU_ASSERT_EQUAL(cwpub_flush(p, a, "orders", "host:w1", CONFIG_CW_DETAILED, 1700000000000),
	    6);
	CU_ASSERT_EQUAL(cw_acc_count(a), 0);
	CU_ASSERT_TRUE_FATAL(wait_requests(r, 1, 10000));
	CU_ASSERT_STRING_EQUAL(r->target[0], "GraniteServiceVersion20100801.PutMetricData");
	CU_ASSERT_STRING_EQUAL(r->ctype[0], "application/x-amz-json-1.0");
	CU_ASSERT_PTR_NOT_NULL(strstr(r->auth[0], "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r->auth[0], "/us-east-1/monitoring/aws4_request"));
	body = json_tokener_parse(r->body[0]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	d = find(body, "RecordsProcessed", "shardId-0");
	CU_ASSERT_EQUAL(statv(d, "SampleCount"), 3);
	CU_ASSERT_EQUAL(statv(d, "Sum"), 35);
	CU_ASSERT_EQUAL(statv(d, "Minimum"), 0);
	CU_ASSERT_EQUAL(statv(d, "Maximum"), 25);
	CU_ASSERT_STRING_EQUAL(dim(d, "Operation"), "ProcessTask");
	CU_ASSERT_PTR_NULL(dim(d, "WorkerIdentifier"));
	CU_ASSERT_EQUAL(statv(find(body, "RecordsProcessed", "shardId-1"), "Sum"), 7);
	CU_ASSERT_EQUAL(statv(find(body, "MillisBehindLatest", "shardId-1"), "Maximum"), 1500);
	d = find(body, "CurrentLeases", NULL);
	CU_ASSERT_EQUAL(statv(d, "Sum"), 2);
	CU_ASSERT_STRING_EQUAL(dim(d, "Operation"), "RenewAllLeases");
	CU_ASSERT_STRING_EQUAL(dim(d, "WorkerIdentifier"), "host:w1");
	CU_ASSERT_EQUAL(statv(find(body, "RenewLease.Success", NULL), "SampleCount"), 2);
	CU_ASSERT_EQUAL(statv(find(body, "ReaderRestarts", "shardId-0"), "Sum"), 1);
	CU_ASSERT_PTR_NULL(find(body, "ReaderRestarts", "shardId-1"));
	json_object_put(body);

	/* Summary level leaves RenewLease.Success out. */
	cw_acc_sample(a, KLS_M_LEASE_RENEWALS, NULL, 1);
	cw_acc_sample(a, KLS_M_LEASES_HELD, NULL, 2);
	CU_ASSERT_EQUAL(cwpub_flush(p, a, "orders", "host:w1", CONFIG_CW_SUMMARY, 1700000010000),
	    1);
	CU_ASSERT_TRUE_FATAL(wait_requests(r, 2, 10000));
	body = json_tokener_parse(r->body[1]);
	CU_ASSERT_PTR_NULL(find(body, "RenewLease.Success", NULL));
	CU_ASSERT_PTR_NOT_NULL(find(body, "CurrentLeases", NULL));
	json_object_put(body);
	/* Nothing sampled: nothing sent. */
	CU_ASSERT_EQUAL(cwpub_flush(p, a, "orders", "host:w1", CONFIG_CW_DETAILED, 0), 0);

	cwpub_stop(p, 1000);
	g.p = NULL;
	CU_ASSERT_EQUAL(requests(r), 2);
	rig_stop(&g);
}

/* Lease write times: a statistic set per op (per shard for UpdateLease.Time), in ms;
 * summary level leaves them out, NumWorkers in. */
static void
test_cwpub_write_times(void)
{
	static struct rig g;
	json_object *body, *d;

	CU_ASSERT_TRUE_FATAL(rig_start(&g));
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_RENEW, "shardId-0", 4), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_RENEW, "shardId-1", 12), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_CHECKPOINT, "shardId-0", 7), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_CHECKPOINT, "shardId-0", 0), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_CHECKPOINT, "shardId-1", 30), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_TAKE, "shardId-2", 9), 0);
	/* No CloudWatch name: ignored. */
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_RELEASE, "shardId-0", 5), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_COUNT, "shardId-0", 5), 0);
	CU_ASSERT_EQUAL(cw_acc_sample_write(g.a, LEASE_OP_RENEW, "shardId-0", INFINITY), -1);
	CU_ASSERT_EQUAL(cw_acc_sample(g.a, KLS_M_WORKERS, NULL, 3), 0);
	/* RenewLease.Time and TakeLease.Time per worker, UpdateLease.Time for two shards. */
	CU_ASSERT_EQUAL(cw_acc_count(g.a), 5);
	CU_ASSERT_EQUAL(cwpub_flush(g.p, g.a, "orders", "host:w1", CONFIG_CW_DETAILED,
	                    1700000000000),
	    5);
	CU_ASSERT_TRUE_FATAL(wait_requests(&g.r, 1, 10000));
	body = json_tokener_parse(g.r.body[0]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	d = find(body, "RenewLease.Time", NULL);
	CU_ASSERT_EQUAL(statv(d, "SampleCount"), 2);
	CU_ASSERT_EQUAL(statv(d, "Sum"), 16);
	CU_ASSERT_EQUAL(statv(d, "Maximum"), 12);
	CU_ASSERT_STRING_EQUAL(dim(d, "Operation"), "RenewAllLeases");
	CU_ASSERT_STRING_EQUAL(dim(d, "WorkerIdentifier"), "host:w1");
	d = find(body, "UpdateLease.Time", "shardId-0");
	CU_ASSERT_EQUAL(statv(d, "SampleCount"), 2);
	CU_ASSERT_EQUAL(statv(d, "Minimum"), 0);
	CU_ASSERT_EQUAL(statv(d, "Maximum"), 7);
	CU_ASSERT_STRING_EQUAL(dim(d, "Operation"), "ProcessTask");
	CU_ASSERT_PTR_NULL(dim(d, "WorkerIdentifier"));
	CU_ASSERT_EQUAL(statv(find(body, "UpdateLease.Time", "shardId-1"), "Sum"), 30);
	d = find(body, "TakeLease.Time", NULL);
	CU_ASSERT_EQUAL(statv(d, "Sum"), 9);
	CU_ASSERT_STRING_EQUAL(dim(d, "Operation"), "TakeLeases");
	d = find(body, "NumWorkers", NULL);
	CU_ASSERT_EQUAL(statv(d, "Maximum"), 3);
	CU_ASSERT_STRING_EQUAL(dim(d, "Operation"), "TakeLeases");
	CU_ASSERT_STRING_EQUAL(dim(d, "WorkerIdentifier"), "host:w1");
	json_object_put(body);

	cw_acc_sample_write(g.a, LEASE_OP_RENEW, "shardId-0", 4);
	cw_acc_sample(g.a, KLS_M_WORKERS, NULL, 2);
	CU_ASSERT_EQUAL(cwpub_flush(g.p, g.a, "orders", "host:w1", CONFIG_CW_SUMMARY,
	                    1700000010000),
	    1);
	CU_ASSERT_TRUE_FATAL(wait_requests(&g.r, 2, 10000));
	body = json_tokener_parse(g.r.body[1]);
	CU_ASSERT_PTR_NULL(find(body, "RenewLease.Time", NULL));
	CU_ASSERT_PTR_NOT_NULL(find(body, "NumWorkers", NULL));
	json_object_put(body);

	rig_stop(&g);
}

/* Observations of ms milliseconds each into h, as a reader makes them. */
static void
observe_ms(struct kls_latency *h, enum kls_lat_kind kind, const double *ms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kls_lat_observe(h, kind, (int64_t)(ms[i] * 1e6));
}

/* What klsd's observation does with the snapshots h of reader run `run`, one per kind:
 * the difference kls_lat_take finds goes into the interval's distribution. */
static void
take(struct cw_acc *a, struct kls_lat_run *t, int64_t run, const struct kls_latency *h)
{
	struct kls_latency add;
	char err[256];

	for (int kind = 0; kind < KLS_LAT_KINDS; kind++) {
		CU_ASSERT_EQUAL(kls_lat_take(&t[kind], run, &h[kind], (enum kls_lat_kind)kind, &add,
		                    err, sizeof(err)),
		    0);
		CU_ASSERT_EQUAL(cw_acc_sample_latency(a, (enum kls_lat_kind)kind, "shardId-0",
		                    &add),
		    0);
	}
}

/* Flushes an interval of `datums` at level, which makes request number nreq when it is
 * not empty; that request's body. */
static const char *
interval(struct rig *g, enum config_cw_level level, int64_t ts_ms, size_t datums, int nreq)
{
	CU_ASSERT_EQUAL(cwpub_flush(g->p, g->a, "orders", "host:w1", level, ts_ms), datums);
	if (!datums)
		return NULL;
	CU_ASSERT_TRUE_FATAL(wait_requests(&g->r, nreq, 10000));
	return g->r.body[nreq - 1];
}

/* Latency histograms: each interval's difference as Values and Counts (bucket midpoints
 * in ms, the overflow at the last bound), exact body; an interval without observations
 * sends nothing; a restarted reader counts from zero again without going negative or
 * counting twice; summary level keeps processRecords.Time only. */
static void
test_cwpub_latency(void)
{
	static const double gr1[] = { 3, 3, 70, 20000 }, hd1[] = { 0.2, 0.2 }, gr2[] = { 4 },
	                    ms30[] = { 30 };
	static struct rig g;
	struct kls_latency h[KLS_LAT_KINDS] = { { 0 } }, empty = { 0 }, bad;
	struct kls_lat_run t[KLS_LAT_KINDS] = { { 0 } };
	const char *body;

	CU_ASSERT_TRUE_FATAL(rig_start(&g));
	/* Run 100: four GetRecords calls (two in the first bucket, one in (50, 100] ms, one
	 * above 10 s) and two handler calls under 1 ms. */
	observe_ms(&h[KLS_LAT_GETRECORDS], KLS_LAT_GETRECORDS, gr1, 4);
	observe_ms(&h[KLS_LAT_HANDLER], KLS_LAT_HANDLER, hd1, 2);
	take(g.a, t, 100, h);
	CU_ASSERT_EQUAL(cw_acc_count(g.a), 2);
	body = interval(&g, CONFIG_CW_DETAILED, 1700000000000, 2, 1);
	CU_ASSERT_STRING_EQUAL(body,
	    "{\"Namespace\":\"orders\",\"MetricData\":[{\"MetricName\":"
	    "\"KinesisDataFetcher.getRecords.Time\",\"Dimensions\":[{\"Name\":\"Operation\","
	    "\"Value\":\"ProcessTask\"},{\"Name\":\"ShardId\",\"Value\":\"shardId-0\"}],"
	    "\"Timestamp\":1700000000,\"Values\":[2.5,75,10000],\"Counts\":[2,1,1],"
	    "\"Unit\":\"Milliseconds\"},{\"MetricName\":\"RecordProcessor.processRecords."
	    "Time\",\"Dimensions\":[{\"Name\":\"Operation\",\"Value\":\"ProcessTask\"},"
	    "{\"Name\":\"ShardId\",\"Value\":\"shardId-0\"}],\"Timestamp\":1700000000,"
	    "\"Values\":[0.5],\"Counts\":[2],\"Unit\":\"Milliseconds\"}]}");

	/* Nothing new in run 100, and an absent histogram: nothing to send. */
	take(g.a, t, 100, h);
	CU_ASSERT_EQUAL(cw_acc_sample_latency(g.a, KLS_LAT_HANDLER, "shardId-1", &empty), 0);
	CU_ASSERT_EQUAL(cw_acc_count(g.a), 0);
	interval(&g, CONFIG_CW_DETAILED, 1700000010000, 0, 0);

	/* One more call in run 100: only it is sent. */
	observe_ms(&h[KLS_LAT_GETRECORDS], KLS_LAT_GETRECORDS, gr2, 1);
	take(g.a, t, 100, h);
	body = interval(&g, CONFIG_CW_DETAILED, 1700000020000, 1, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"Values\":[2.5],\"Counts\":[1],"));

	/* The reader restarts (run 200): its histograms start from zero, below what run
	 * 100 had; the interval gets run 200's one call, not a negative or doubled count.
	 * The handler's run 200 has nothing yet. */
	memset(h, 0, sizeof(h));
	observe_ms(&h[KLS_LAT_GETRECORDS], KLS_LAT_GETRECORDS, ms30, 1);
	take(g.a, t, 200, h);
	CU_ASSERT_EQUAL(cw_acc_count(g.a), 1);
	body = interval(&g, CONFIG_CW_DETAILED, 1700000030000, 1, 3);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "\"MetricName\":\"KinesisDataFetcher.getRecords.Time\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"Values\":[37.5],\"Counts\":[1],"));
	CU_ASSERT_PTR_NULL(strstr(body, "processRecords"));

	/* Summary level: processRecords.Time goes, getRecords.Time (detailed) does not;
	 * 30 ms is in (25, 50] ms in the handler's bounds too. */
	observe_ms(&h[KLS_LAT_GETRECORDS], KLS_LAT_GETRECORDS, ms30, 1);
	observe_ms(&h[KLS_LAT_HANDLER], KLS_LAT_HANDLER, ms30, 1);
	take(g.a, t, 200, h);
	body = interval(&g, CONFIG_CW_SUMMARY, 1700000040000, 1, 4);
	CU_ASSERT_PTR_NULL(strstr(body, "getRecords"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(body, "\"MetricName\":\"RecordProcessor.processRecords.Time\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"Values\":[37.5],\"Counts\":[1],"));

	/* Refused: another build's bucket list, an unknown kind. */
	bad = h[KLS_LAT_GETRECORDS];
	bad.nbounds = KLS_LAT_GETRECORDS_N + 1;
	errno = 0;
	CU_ASSERT_EQUAL(cw_acc_sample_latency(g.a, KLS_LAT_GETRECORDS, "shardId-0", &bad), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(cw_acc_sample_latency(g.a, KLS_LAT_KINDS, "shardId-0", &bad), -1);
	CU_ASSERT_EQUAL(cw_acc_count(g.a), 0);
	rig_stop(&g);
}

/* One CurrentLeases sample flushed; the stats once the stub has seen `requests`. */
static void
one_interval(struct cwpub *p, struct cw_acc *a, struct recorder *r, int requests,
    struct cwpub_stats *st)
{
	cw_acc_sample(a, KLS_M_LEASES_HELD, NULL, 1);
	cwpub_flush(p, a, "ns", "w", CONFIG_CW_DETAILED, 1000);
	CU_ASSERT_TRUE(wait_requests(r, requests, 10000));
	/* The publisher counts right after the stub answers. */
	sleep_ms(100);
	cwpub_stats(p, st);
}

/* 5xx and throttling are retried; a request that fails every attempt is dropped and
 * counted; the next one goes through. Many datums are split into several requests. */
static void
test_cwpub_retry_drop_split(void)
{
	struct recorder r = { .mu = PTHREAD_MUTEX_INITIALIZER, .fail = 1, .throttle = 1 };
	struct stub_server *srv = stub_start(record, &r);
	struct aws_creds_provider *creds = creds_provider_new_static("AKID", "secret", NULL);
	struct cw_acc *a = cw_acc_new();
	struct cwpub *p;
	struct cwpub_stats st;
	char shard[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	p = start(srv, creds, 5000, (struct cw_limits){ 4, CW_MAX_REQUEST_BYTES });
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* Throttled, then 500, then accepted: 3 requests, one delivery. */
	one_interval(p, a, &r, 3, &st);
	CU_ASSERT_EQUAL(st.requests_sent, 1);
	CU_ASSERT_EQUAL(st.datums_sent, 1);
	CU_ASSERT_EQUAL(st.datums_dropped, 0);
	/* Three 500s: all attempts fail, the datum is dropped and counted. */
	pthread_mutex_lock(&r.mu);
	r.fail = 3;
	pthread_mutex_unlock(&r.mu);
	one_interval(p, a, &r, 6, &st);
	CU_ASSERT_EQUAL(st.requests_failed, 1);
	CU_ASSERT_EQUAL(st.datums_dropped, 1);
	/* Ten shards at 4 datums per request: 3 requests, all delivered. */
	for (int i = 0; i < 10; i++) {
		snprintf(shard, sizeof(shard), "shardId-%d", i);
		cw_acc_sample(a, KLS_M_RECORDS_PROCESSED, shard, i);
	}
	CU_ASSERT_EQUAL(cwpub_flush(p, a, "ns", "w", CONFIG_CW_DETAILED, 3000), 10);
	CU_ASSERT_TRUE(wait_requests(&r, 9, 10000));
	sleep_ms(100);
	cwpub_stats(p, &st);
	CU_ASSERT_EQUAL(st.requests_sent, 4);
	CU_ASSERT_EQUAL(st.datums_sent, 11);
	cwpub_stop(p, 1000);
	cw_acc_free(a);
	stub_stop(srv);
	recorder_free(&r);
	creds_provider_free(creds);
}

/* A CloudWatch that never answers in time: flush never waits, the queue stays bounded
 * (the oldest intervals are dropped and counted), and stop returns within its grace
 * plus one request timeout. */
static void
test_cwpub_hanging_endpoint(void)
{
	struct recorder r = { .mu = PTHREAD_MUTEX_INITIALIZER, .hang_ms = 3000 };
	struct stub_server *srv = stub_start(record, &r);
	struct aws_creds_provider *creds = creds_provider_new_static("AKID", "secret", NULL);
	struct cw_acc *a = cw_acc_new();
	struct cwpub *p;
	struct cwpub_stats st;
	kls_mono t0;
	int flushes = CWPUB_QUEUE_MAX + 4;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	p = start(srv, creds, 1000, (struct cw_limits){ 0, 0 });
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	t0 = mono_now();
	for (int i = 0; i < flushes; i++) {
		cw_acc_sample(a, KLS_M_LEASES_HELD, NULL, i);
		CU_ASSERT_EQUAL(cwpub_flush(p, a, "ns", "w", CONFIG_CW_DETAILED, 1000 * i), 1);
	}
	/* Flushing never waited for the network. */
	CU_ASSERT_TRUE(mono_diff_ms(t0, mono_now()) < 500);
	cwpub_stats(p, &st);
	/* The publisher holds at most one snapshot, the queue CWPUB_QUEUE_MAX more. */
	CU_ASSERT_TRUE(st.datums_dropped >= (uint64_t)(flushes - CWPUB_QUEUE_MAX - 1));
	t0 = mono_now();
	cwpub_stop(p, 500);
	/* Grace 0.5 s, each attempt times out after 1 s: well within 5 s. */
	CU_ASSERT_TRUE(mono_diff_ms(t0, mono_now()) < 5000);
	cw_acc_free(a);
	stub_stop(srv);
	recorder_free(&r);
	creds_provider_free(creds);
}

/* A plain-http endpoint that is not loopback is refused at start. */
static void
test_cwpub_bad_endpoint(void)
{
	struct aws_creds_provider *creds = creds_provider_new_static("AKID", "secret", NULL);
	struct cwpub_config c = { "us-east-1", "http://monitoring.example.com", creds, 1000, 1000,
		{ 1, 10, 10 }, { 0, 0 } };
	char err[256] = "";

	CU_ASSERT_PTR_NULL(cwpub_start(&c, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "CloudWatch client"));
	creds_provider_free(creds);
}

static CU_TestInfo cwpub_tests[] = {
	{ "KCL mapping", test_cwpub_mapping },
	{ "statistic sets, signed for monitoring", test_cwpub_statistic_sets },
	{ "lease write times", test_cwpub_write_times },
	{ "latency distributions", test_cwpub_latency },
	{ "retry, drop, split", test_cwpub_retry_drop_split },
	{ "hanging endpoint", test_cwpub_hanging_endpoint },
	{ "bad endpoint", test_cwpub_bad_endpoint },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "cwpub", NULL, NULL, NULL, NULL, cwpub_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
