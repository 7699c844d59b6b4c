/*
 * klsd's metrics: the Prometheus registry of supervisor/metrics.h ([metrics] listen) and
 * the CloudWatch statistic sets of supervisor/cloudwatch.h ([metrics] cloudwatch), both
 * fed by one observation of klsd's own counters (renewals, takes, losses, reader
 * restarts, poison records, leases held) and of the progress group each reader publishes
 * in shm (records and bytes processed, millis behind latest). Prometheus labels them by
 * stream, shard and worker; CloudWatch gets one sample per observation (a counter's
 * increase, a gauge's value) and a statistic set per metric and shard per interval.
 * The GetRecords and handler latency histograms go to both: each observation's
 * difference (one kls_lat_take per shard and kind, so neither sink counts a bucket
 * twice) is added to the Prometheus histogram and to the interval's CloudWatch
 * distribution (KinesisDataFetcher.getRecords.Time, RecordProcessor.processRecords.Time).
 * Prometheus alone gets the read mode and, for fan-out, subscription age and
 * resubscriptions (CloudWatch has no definition for them: cw_acc_sample ignores them).
 *
 * klsd's own lease table writes are observed as each completes (observe_write, from
 * held.c's completion on the main thread): the time the pool thread measured around
 * the DynamoDB call (lease_store.c) goes to kls_lease_write_seconds by op and, for the
 * ops KCL names (RenewLease.Time, UpdateLease.Time, TakeLease.Time), to CloudWatch as
 * one sample in milliseconds; a write that did not take effect counts in
 * kls_lease_write_failures_total by op and reason. Each take cycle sets kls_workers
 * (CloudWatch NumWorkers).
 *
 * A reader's totals (histograms included) count from 0 in each run, so klsd counts what
 * it has seen of each run (held_svc.obs_*) and adds the difference, which keeps the
 * exported counters monotonic across reader restarts; at reap it adds the run's last
 * words, so a crash loses nothing that reached shm. A histogram that fails its checks
 * (shm/latency.h: another build's bucket list, buckets beyond the count, a total that
 * went back) is not added, and said once per run. A run's progress group is its own only
 * once the run has beaten its heartbeat: the reader publishes its fresh, zeroed group
 * before the first beat (reader/handshake.c), and until then the group still shows the
 * previous run, which was counted already.
 *
 * The values are refreshed every OBSERVE_MS and right before nothing else: a scrape sees
 * them at most that old, and the loop does not read every slot on every turn.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/cloudwatch.h"
#include "supervisor/klsd_int.h"
#include "supervisor/metrics.h"
#include "shm/latency.h"

#define OBSERVE_MS 1000

static const enum kls_metric counter_metric[SVC_NCOUNTERS] = {
	[SVC_RENEWALS] = KLS_M_LEASE_RENEWALS,
	[SVC_TAKES] = KLS_M_LEASE_TAKES,
	[SVC_LOSSES] = KLS_M_LEASES_LOST,
	/* Per shard: observe_tick counts them from each lease's restart count. */
	[SVC_READER_RESTARTS] = KLS_M_COUNT,
	[SVC_POISON_RECORDS] = KLS_M_POISON_RECORDS,
};

/* Attempts per PutMetricData request and their backoff: all of it well inside the
 * shortest interval, so retries do not make intervals queue up. */
static const struct aws_retry_policy cw_retry = { 3, 200, 2000 };

/* Starts the CloudWatch publisher ([metrics] cloudwatch on at start or by a reload). */
static int
cw_open(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;
	const struct config *c = &k->cfg;
	struct cwpub_config pc = {
		.region = c->kls.region,
		.endpoint = c->aws.cloudwatch_endpoint[0] ? c->aws.cloudwatch_endpoint : NULL,
		.creds = k->creds,
		.connect_timeout_ms = c->aws.connect_timeout_ms,
		.timeout_ms = c->aws.request_timeout_ms,
		.retry = cw_retry,
	};
	char err[512];

	if (!(s->cwacc = cw_acc_new()) || !(s->cw = cwpub_start(&pc, err, sizeof(err)))) {
		log_errorx("CloudWatch metrics: %s", s->cwacc ? err : "out of memory");
		cw_acc_free(s->cwacc);
		s->cwacc = NULL;
		return -1;
	}
	s->next_cw = mono_add_ms(now, c->metrics.cloudwatch_interval_ms);
	log_info("CloudWatch metrics: namespace %s, every %" PRIu32 " ms, to %s",
	    c->metrics.cloudwatch_namespace, c->metrics.cloudwatch_interval_ms,
	    pc.endpoint ? pc.endpoint : "the region's endpoint");
	return 0;
}

/* Whether anything consumes the observations. */
static bool
observing(const struct klsd_svc *s)
{
	return s->m || s->cwacc;
}

int
observe_open(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;
	char err[512];

	if (k->cfg.metrics.cloudwatch && cw_open(k, mono_now()) < 0)
		return -1;
	s->next_observe = KLS_MONO_ZERO;
	if (!k->cfg.metrics.listen[0])
		return 0;
	if (!(s->m = metrics_new())) {
		log_errorx("metrics: out of memory");
		return -1;
	}
	if (metrics_http_start(&s->mh, s->m, k->cfg.metrics.listen, err, sizeof(err)) < 0) {
		log_errorx("metrics: %s", err);
		metrics_free(s->m);
		s->m = NULL;
		return -1;
	}
	log_info("metrics: serving /metrics on %s (port %u)", k->cfg.metrics.listen,
	    (unsigned)metrics_http_port(s->mh));
	return 0;
}

static void observe_counters(struct klsd *k);

void
observe_close(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;

	if (s->cw) {
		/* The last interval too (readers reaped since the last look were counted at
		 * reap), then a request timeout's grace to send what waits. */
		if (k->cfg.metrics.cloudwatch) {
			observe_counters(k);
			cwpub_flush(s->cw, s->cwacc, k->cfg.metrics.cloudwatch_namespace, k->me,
			    k->cfg.metrics.cloudwatch_level, wall_now_ms());
		}
		cwpub_stop(s->cw, k->cfg.aws.request_timeout_ms);
	}
	cw_acc_free(s->cwacc);
	s->cw = NULL;
	s->cwacc = NULL;
	metrics_http_stop(s->mh);
	metrics_free(s->m);
	free(s->observed);
	s->mh = NULL;
	s->m = NULL;
	s->observed = NULL;
}

static struct metric_labels
labels(const struct klsd *k, const char *shard)
{
	return (struct metric_labels){ k->cfg.kls.stream, shard, k->me, NULL, NULL, NULL };
}

/* Samples go to the interval's accumulator while CloudWatch is on and it is open. */
static bool
cw_on(const struct klsd *k)
{
	return k->svc.cwacc && k->cfg.metrics.cloudwatch;
}

/* The accumulator refused one (no memory, or a damaged histogram): said once. */
static void
cw_not_kept(struct klsd *k, const char *what, const char *shard)
{
	if (k->svc.cw_warned)
		return;
	k->svc.cw_warned = true;
	log_warn("CloudWatch metrics: %s %s was not kept (not logged again)", what, shard);
}

static void
cw_sample(struct klsd *k, enum kls_metric id, const char *shard, double v)
{
	if (cw_on(k) && cw_acc_sample(k->svc.cwacc, id, shard, v) < 0)
		cw_not_kept(k, "a sample for", shard ? shard : "the worker");
}

/* What a reader's histogram of kind added, for the interval's CloudWatch distribution. */
static void
cw_latency(struct klsd *k, const char *shard, enum kls_lat_kind kind, const struct kls_latency *d)
{
	if (cw_on(k) && cw_acc_sample_latency(k->svc.cwacc, kind, shard, d) < 0)
		cw_not_kept(k, "a latency histogram of", shard);
}

/* One observation of a counter: its increase v (0 included: CloudWatch's sample count
 * and minimum want the quiet seconds too). */
static void
add(struct klsd *k, enum kls_metric id, const char *shard, double v)
{
	struct metric_labels l = labels(k, shard);

	if (k->svc.m && v > 0 && metrics_add(k->svc.m, id, &l, v) < 0)
		log_warn("metrics: %s", shard ? shard : "counter");
	cw_sample(k, id, shard, v);
}

/* One observation of a gauge. */
static void
set(struct klsd *k, enum kls_metric id, const char *shard, double v)
{
	struct metric_labels l = labels(k, shard);

	if (k->svc.m && metrics_set(k->svc.m, id, &l, v) < 0)
		log_warn("metrics: %s", shard ? shard : "gauge");
	cw_sample(k, id, shard, v);
}

/* Remembers that shard has series, so they go when the lease goes. */
static void
note_shard(struct klsd_svc *s, const char *shard)
{
	for (size_t i = 0; i < s->nobserved; i++)
		if (strcmp(s->observed[i], shard) == 0)
			return;
	if (s->nobserved == s->observed_cap) {
		size_t ncap = s->observed_cap ? s->observed_cap * 2 : 16;
		char(*nv)[LEASE_KEY_MAX] = realloc(s->observed, ncap * sizeof(*nv));
		if (!nv)
			return;
		s->observed = nv;
		s->observed_cap = ncap;
	}
	snprintf(s->observed[s->nobserved++], LEASE_KEY_MAX, "%s", shard);
}

static const char *
mode_name(uint32_t mode)
{
	return mode == KLS_READ_FANOUT ? "fan-out" : "polling";
}

/* The run's histograms beyond what was added already. pid is the run's reader: the
 * minor-2 tail of the group is its only if it says so (shm/table.h, writer_pid). */
static void
account_latency(struct klsd *k, struct held *h, const struct kls_progress *pr, pid_t pid)
{
	static const enum kls_metric id[KLS_LAT_KINDS] = {
		[KLS_LAT_GETRECORDS] = KLS_M_GETRECORDS_SECONDS,
		[KLS_LAT_HANDLER] = KLS_M_HANDLER_SECONDS,
	};
	const struct kls_latency *cur[KLS_LAT_KINDS] = {
		[KLS_LAT_GETRECORDS] = &pr->getrecords,
		[KLS_LAT_HANDLER] = &pr->handler,
	};
	struct held_svc *o = &h->svc;
	struct metric_labels l = labels(k, h->l.key);

	if (!observing(&k->svc) || pid <= 0 || pr->writer_pid != pid)
		return;
	for (int kind = 0; kind < KLS_LAT_KINDS; kind++) {
		struct metric_series *s;
		struct kls_latency d;
		char err[256];

		if (kls_lat_take(&o->obs_lat[kind], h->proc.started_at.ns, cur[kind],
		        (enum kls_lat_kind)kind, &d, err, sizeof(err)) < 0) {
			if (!o->obs_lat_bad)
				log_warnx(
				    "metrics: %s: progress group of reader %d: %s: not counted",
				    h->l.key, (int)pid, err);
			o->obs_lat_bad = true;
			continue;
		}
		if (d.count == 0)
			continue;
		cw_latency(k, h->l.key, (enum kls_lat_kind)kind, &d);
		if (!k->svc.m)
			continue;
		s = metrics_series(k->svc.m, id[kind], &l);
		if (!s ||
		    metric_hist_add(s, d.bucket, d.nbounds, d.count, (double)d.sum_ns / 1e9) < 0)
			log_warn("metrics: %s histogram of %s", kind ? "handler" : "GetRecords",
			    h->l.key);
	}
}

/* Counts what the run of h's reader (pid) did beyond what was counted already. */
static void
account(struct klsd *k, struct held *h, const struct kls_progress *pr, pid_t pid)
{
	struct held_svc *o = &h->svc;

	if (o->obs_run.ns != h->proc.started_at.ns) {
		/* A new run: its reader counts from zero again. */
		o->obs_run = h->proc.started_at;
		o->obs_records = o->obs_bytes = o->obs_resubscribes = 0;
		o->obs_lat_bad = false; /* kls_lat_take starts the histograms again itself */
	}
	account_latency(k, h, pr, pid);
	if (pr->fanout_resubscribes > o->obs_resubscribes) {
		add(k, KLS_M_FANOUT_RESUBSCRIBES, h->l.key,
		    (double)(pr->fanout_resubscribes - o->obs_resubscribes));
		o->obs_resubscribes = pr->fanout_resubscribes;
	}
	add(k, KLS_M_RECORDS_PROCESSED, h->l.key,
	    pr->records > o->obs_records ? (double)(pr->records - o->obs_records) : 0);
	add(k, KLS_M_BYTES_PROCESSED, h->l.key,
	    pr->bytes > o->obs_bytes ? (double)(pr->bytes - o->obs_bytes) : 0);
	if (pr->records > o->obs_records)
		o->obs_records = pr->records;
	if (pr->bytes > o->obs_bytes)
		o->obs_bytes = pr->bytes;
}

/* Whether the progress group belongs to the run started at h->proc.started_at. */
static bool
run_published(const struct held *h)
{
	return h->proc.started_at.ns != 0 &&
	       mono_before(h->proc.started_at, kls_shm_heartbeat_get(h->s));
}

void
observe_reaped(struct klsd *k, struct held *h)
{
	/* Reaped: proc.pid is cleared, the lease group still names the run's reader. */
	if (observing(&k->svc) && h->have_progress && run_published(h))
		account(k, h, &h->progress, h->pub.reader_pid);
}

/* The kls_read_mode info gauge and, for fan-out, the subscription's age. */
static void
observe_mode(struct klsd *k, struct held *h, const struct kls_progress *pr, kls_mono now)
{
	struct metric_labels l = labels(k, h->l.key);
	uint32_t mode = pr->read_mode;

	if (!k->svc.m)
		return; /* CloudWatch only */
	if (mode != KLS_READ_POLLING && mode != KLS_READ_FANOUT)
		return; /* none yet, or a newer minor's mode */
	if (h->svc.obs_mode != mode) {
		/* A reload changed it: the old mode's series says 0 rather than vanish. */
		if (h->svc.obs_mode) {
			l.mode = mode_name(h->svc.obs_mode);
			if (metrics_set(k->svc.m, KLS_M_READ_MODE, &l, 0) < 0)
				log_warn("metrics: read mode of %s", h->l.key);
		}
		l.mode = mode_name(mode);
		if (metrics_set(k->svc.m, KLS_M_READ_MODE, &l, 1) < 0)
			log_warn("metrics: read mode of %s", h->l.key);
		h->svc.obs_mode = mode;
	}
	if (mode == KLS_READ_FANOUT) {
		int64_t ns = pr->fanout_started_ns > 0 && pr->fanout_started_ns <= now.ns
		                 ? now.ns - pr->fanout_started_ns
		                 : 0;
		if (metrics_set(k->svc.m, KLS_M_FANOUT_SUBSCRIPTION_AGE, &l, (double)ns / 1e9) < 0)
			log_warn("metrics: subscription age of %s", h->l.key);
	}
}

/* klsd's own counters and the leases it holds. */
static void
observe_counters(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;

	for (int c = 0; c < SVC_NCOUNTERS; c++) {
		if (counter_metric[c] == KLS_M_COUNT || c == SVC_POISON_RECORDS)
			continue;
		add(k, counter_metric[c], NULL, (double)(s->count[c] - s->count_published[c]));
		s->count_published[c] = s->count[c];
	}
	set(k, KLS_M_LEASES_HELD, NULL, (double)k->nheld);
}

/* CloudWatch: turned on or off by a reload, and the end of an interval. */
static void
cw_tick(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;
	const struct config_metrics *c = &k->cfg.metrics;

	if (!c->cloudwatch) {
		if (s->cwacc)
			cw_acc_clear(s->cwacc);
		return;
	}
	if (!s->cw)
		return;
	if (mono_before(now, s->next_cw))
		return;
	s->next_cw = mono_add_ms(now, c->cloudwatch_interval_ms);
	cwpub_flush(s->cw, s->cwacc, c->cloudwatch_namespace, k->me, c->cloudwatch_level,
	    wall_now_ms());
}

kls_mono
observe_tick(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;
	int64_t mhd;
	kls_mono next = KLS_MONO_NEVER;

	/* A reload turned CloudWatch on (a failure to start was logged; not retried). */
	if (k->cfg.metrics.cloudwatch && !s->cwacc && !s->cw_warned && cw_open(k, now) < 0)
		s->cw_warned = true;
	if (!observing(s))
		return KLS_MONO_NEVER;
	if (s->mh) {
		/* MHD's own timers (idle connections) run from here too. */
		mhd = metrics_http_timeout_ms(s->mh);
		if (mhd == 0 && metrics_http_handle(s->mh) < 0)
			log_warnx("/metrics: the HTTP server reported a failure");
		next = mhd >= 0 ? mono_add_ms(now, mhd > 0 ? mhd : OBSERVE_MS) : KLS_MONO_NEVER;
	}
	if (mono_before(now, s->next_observe))
		return mono_before(s->next_observe, next) ? s->next_observe : next;
	s->next_observe = mono_add_ms(now, OBSERVE_MS);

	observe_counters(k);
	for (size_t i = 0; i < k->nheld; i++) {
		struct held *h = k->held[i];
		struct kls_progress pr;

		if (s->m)
			note_shard(s, h->l.key);
		if (h->proc.restarts > h->svc.obs_restarts) {
			add(k, KLS_M_READER_RESTARTS, h->l.key,
			    (double)(h->proc.restarts - h->svc.obs_restarts));
			h->svc.obs_restarts = h->proc.restarts;
		}
		if (!h->proc.pid || !run_published(h) ||
		    kls_shm_progress_read(h->s, &pr, KLS_SHM_READ_TRIES) < 0)
			continue;
		account(k, h, &pr, h->proc.pid);
		if (pr.millis_behind >= 0)
			set(k, KLS_M_MILLIS_BEHIND, h->l.key, (double)pr.millis_behind);
		observe_mode(k, h, &pr, now);
	}
	cw_tick(k, now);
	/* Series of shards no longer held go (their gauges would lie). */
	for (size_t i = 0; s->m && i < s->nobserved;) {
		if (held_find(k, s->observed[i])) {
			i++;
			continue;
		}
		metrics_forget_shard(s->m, s->observed[i]);
		memcpy(s->observed[i], s->observed[--s->nobserved], LEASE_KEY_MAX);
	}
	return mono_before(s->next_observe, next) ? s->next_observe : next;
}

void
observe_write(struct klsd *k, enum lease_write_kind kind, const char *key,
    const struct lease_write_result *res, bool landed)
{
	struct klsd_svc *s = &k->svc;
	enum lease_op op = lease_write_op(kind);
	enum lease_fail why = lease_write_failure(res, landed);
	struct metric_labels l = labels(k, NULL);
	double secs = res->write_ns > 0 ? (double)res->write_ns / 1e9 : 0;

	l.op = lease_op_name(op);
	if (s->m && metrics_observe(s->m, KLS_M_LEASE_WRITE_SECONDS, &l, secs) < 0)
		log_warn("metrics: %s write latency", l.op);
	if (s->m && why != LEASE_FAIL_NONE) {
		l.reason = lease_fail_name(why);
		if (metrics_add(s->m, KLS_M_LEASE_WRITE_FAILURES, &l, 1) < 0)
			log_warn("metrics: %s write failures", l.op);
	}
	if (cw_on(k) && cw_acc_sample_write(s->cwacc, op, key, secs * 1000) < 0)
		cw_not_kept(k, "a sample for", key);
}

void
observe_workers(struct klsd *k, int live)
{
	if (observing(&k->svc))
		set(k, KLS_M_WORKERS, NULL, (double)live);
}

void
observe_poison(struct klsd *k, const char *shard)
{
	if (observing(&k->svc))
		add(k, KLS_M_POISON_RECORDS, shard, 1);
}
