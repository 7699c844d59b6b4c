/*
 * klsd's CloudWatch metrics (see cloudwatch.h): the KCL mapping, the per-interval
 * accumulator of the main thread, and the publisher thread with its bounded queue.
 */
#include "config.h"

#include "supervisor/cloudwatch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/aws.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/retry.h"
#include "supervisor/lease.h"

/* Statistic slots: one per kls metric, then one per lease write op, then one per
 * reader latency histogram. Prometheus keeps the write latencies in one family labelled
 * by op; KCL names one metric per operation. A histogram slot's statistic set keeps its
 * observation count (what says the slot is in use) and sum; its buckets are in
 * acc_entry.hist. */
#define WRITE_SLOT(op) (KLS_M_COUNT + (op))
#define LAT_SLOT(kind) (KLS_M_COUNT + LEASE_OP_COUNT + (kind))
#define NSLOTS (KLS_M_COUNT + LEASE_OP_COUNT + KLS_LAT_KINDS)
/* A histogram's buckets as the accumulator keeps them: the shm buckets, then those
 * above the last bound (at index nbounds). */
#define HIST_N (KLS_LAT_SLOTS + 1)
_Static_assert(HIST_N <= CW_MAX_VALUES, "a histogram fits one datum's Values");

/* KCL's names (ProcessTask, DynamoDBLeaseRenewer, DynamoDBLeaseTaker) and levels; the
 * Reader operation is kls's own (KCL has no reader processes to restart). A checkpoint
 * is KCL's UpdateLease, which its checkpointer makes under the task's operation
 * (ProcessTask) with the shard's dimension; RenewLease.Time and TakeLease.Time carry
 * the worker's. */
static const struct cw_metric_def defs[NSLOTS] = {
	[KLS_M_RECORDS_PROCESSED] = { "RecordsProcessed", "ProcessTask", 1, CW_UNIT_COUNT,
	    CONFIG_CW_SUMMARY, 0 },
	[KLS_M_BYTES_PROCESSED] = { "DataBytesProcessed", "ProcessTask", 1, CW_UNIT_BYTES,
	    CONFIG_CW_SUMMARY, 0 },
	[KLS_M_MILLIS_BEHIND] = { "MillisBehindLatest", "ProcessTask", 1, CW_UNIT_MILLISECONDS,
	    CONFIG_CW_SUMMARY, 0 },
	[KLS_M_LEASES_HELD] = { "CurrentLeases", "RenewAllLeases", 0, CW_UNIT_COUNT,
	    CONFIG_CW_SUMMARY, 0 },
	[KLS_M_LEASE_RENEWALS] = { "RenewLease.Success", "RenewAllLeases", 0, CW_UNIT_COUNT,
	    CONFIG_CW_DETAILED, 0 },
	[KLS_M_LEASE_TAKES] = { "TakenLeases", "TakeLeases", 0, CW_UNIT_COUNT, CONFIG_CW_SUMMARY,
	    0 },
	[KLS_M_LEASES_LOST] = { "LostLeases", "RenewAllLeases", 0, CW_UNIT_COUNT, CONFIG_CW_SUMMARY,
	    0 },
	[KLS_M_READER_RESTARTS] = { "ReaderRestarts", "Reader", 1, CW_UNIT_COUNT, CONFIG_CW_SUMMARY,
	    1 },
	[KLS_M_POISON_RECORDS] = { "PoisonRecords", "Reader", 1, CW_UNIT_COUNT, CONFIG_CW_SUMMARY,
	    1 },
	[KLS_M_WORKERS] = { "NumWorkers", "TakeLeases", 0, CW_UNIT_COUNT, CONFIG_CW_SUMMARY, 0 },
	[WRITE_SLOT(LEASE_OP_RENEW)] = { "RenewLease.Time", "RenewAllLeases", 0,
	    CW_UNIT_MILLISECONDS, CONFIG_CW_DETAILED, 0 },
	[WRITE_SLOT(LEASE_OP_CHECKPOINT)] = { "UpdateLease.Time", "ProcessTask", 1,
	    CW_UNIT_MILLISECONDS, CONFIG_CW_DETAILED, 0 },
	[WRITE_SLOT(LEASE_OP_TAKE)] = { "TakeLease.Time", "TakeLeases", 0, CW_UNIT_MILLISECONDS,
	    CONFIG_CW_DETAILED, 0 },
	/* KCL's ProcessTask metrics of the fetch and of the record processor, at KCL's
	 * levels: getRecords.Time is detailed, processRecords.Time summary. */
	[LAT_SLOT(KLS_LAT_GETRECORDS)] = { "KinesisDataFetcher.getRecords.Time", "ProcessTask", 1,
	    CW_UNIT_MILLISECONDS, CONFIG_CW_DETAILED, 0 },
	[LAT_SLOT(KLS_LAT_HANDLER)] = { "RecordProcessor.processRecords.Time", "ProcessTask", 1,
	    CW_UNIT_MILLISECONDS, CONFIG_CW_SUMMARY, 0 },
};

static const struct cw_metric_def *
slot_def(unsigned slot)
{
	if (slot >= NSLOTS || !defs[slot].name)
		return NULL;
	return &defs[slot];
}

const struct cw_metric_def *
cw_metric_def(enum kls_metric id)
{
	return (unsigned)id < KLS_M_COUNT ? slot_def((unsigned)id) : NULL;
}

const struct cw_metric_def *
cw_write_def(enum lease_op op)
{
	return (unsigned)op < LEASE_OP_COUNT ? slot_def(WRITE_SLOT((unsigned)op)) : NULL;
}

const struct cw_metric_def *
cw_latency_def(enum kls_lat_kind kind)
{
	return (unsigned)kind < KLS_LAT_KINDS ? slot_def(LAT_SLOT((unsigned)kind)) : NULL;
}

static bool
is_lat_slot(unsigned slot)
{
	return slot >= LAT_SLOT(0) && slot < NSLOTS;
}

/* ---------------------------------------------------------------- accumulator */

struct cw_stat {
	double count, sum, min, max;
};

/* One shard's statistic sets ("" for the worker's). */
struct acc_entry {
	char shard[LEASE_KEY_MAX];
	uint64_t hash;
	struct cw_stat st[NSLOTS];
	uint64_t hist[KLS_LAT_KINDS][HIST_N];
};

struct cw_acc {
	struct acc_entry *e;
	size_t n, cap;
	size_t *slot;  /* entry index + 1; 0 = empty; open addressing */
	size_t nslots; /* a power of two, at least twice n */
};

struct cw_acc *
cw_acc_new(void)
{
	return calloc(1, sizeof(struct cw_acc));
}

void
cw_acc_free(struct cw_acc *a)
{
	if (!a)
		return;
	free(a->e);
	free(a->slot);
	free(a);
}

void
cw_acc_clear(struct cw_acc *a)
{
	a->n = 0;
	if (a->slot)
		memset(a->slot, 0, a->nslots * sizeof(*a->slot));
}

size_t
cw_acc_count(const struct cw_acc *a)
{
	size_t c = 0;

	for (size_t i = 0; i < a->n; i++)
		for (int m = 0; m < NSLOTS; m++)
			c += a->e[i].st[m].count > 0;
	return c;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void
slot_put(struct cw_acc *a, size_t i)
{
	size_t k = a->e[i].hash & (a->nslots - 1);

	while (a->slot[k])
		k = (k + 1) & (a->nslots - 1);
	a->slot[k] = i + 1;
}

static struct acc_entry *
entry(struct cw_acc *a, const char *shard)
{
	uint64_t h = hash_str(shard);
	struct acc_entry *e;

	for (size_t k = a->nslots ? h & (a->nslots - 1) : 0; a->nslots && a->slot[k];
	     k = (k + 1) & (a->nslots - 1)) {
		e = &a->e[a->slot[k] - 1];
		if (e->hash == h && strcmp(e->shard, shard) == 0)
			return e;
	}
	if (strlen(shard) >= LEASE_KEY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (a->n == CWACC_SHARDS_MAX + 1) { /* + 1: the worker's entry */
		errno = ENOSPC;
		return NULL;
	}
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		struct acc_entry *ne = realloc(a->e, ncap * sizeof(*ne));
		if (!ne)
			return NULL;
		a->e = ne;
		a->cap = ncap;
	}
	if (2 * (a->n + 1) > a->nslots) {
		size_t ns = a->nslots ? a->nslots * 2 : 32, *nslot = calloc(ns, sizeof(*nslot));
		if (!nslot)
			return NULL;
		free(a->slot);
		a->slot = nslot;
		a->nslots = ns;
		for (size_t i = 0; i < a->n; i++)
			slot_put(a, i);
	}
	e = &a->e[a->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->shard, sizeof(e->shard), "%s", shard);
	e->hash = h;
	slot_put(a, a->n++);
	return e;
}

static int
acc_sample(struct cw_acc *a, unsigned slot, const char *shard, double v)
{
	const struct cw_metric_def *d = slot_def(slot);
	struct acc_entry *e;
	struct cw_stat *st;

	if (!d)
		return 0;
	if (!isfinite(v)) {
		errno = EINVAL;
		return -1;
	}
	if (d->events_only && v == 0)
		return 0;
	if (!(e = entry(a, d->per_shard && shard ? shard : "")))
		return -1;
	st = &e->st[slot];
	if (st->count == 0) {
		st->min = st->max = v;
	} else {
		st->min = v < st->min ? v : st->min;
		st->max = v > st->max ? v : st->max;
	}
	st->count++;
	st->sum += v;
	return 0;
}

int
cw_acc_sample(struct cw_acc *a, enum kls_metric id, const char *shard, double v)
{
	return (unsigned)id < KLS_M_COUNT ? acc_sample(a, (unsigned)id, shard, v) : 0;
}

int
cw_acc_sample_write(struct cw_acc *a, enum lease_op op, const char *shard, double ms)
{
	return (unsigned)op < LEASE_OP_COUNT ? acc_sample(a, WRITE_SLOT((unsigned)op), shard, ms)
	                                     : 0;
}

int
cw_acc_sample_latency(struct cw_acc *a, enum kls_lat_kind kind, const char *shard,
    const struct kls_latency *d)
{
	struct acc_entry *e;
	struct cw_stat *st;
	uint64_t in_buckets = 0;
	char err[128];

	if ((unsigned)kind >= KLS_LAT_KINDS || kls_lat_check(d, kind, err, sizeof(err)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (d->count == 0)
		return 0;
	if (!(e = entry(a, shard ? shard : "")))
		return -1;
	for (uint32_t i = 0; i < d->nbounds; i++) {
		e->hist[kind][i] += d->bucket[i];
		in_buckets += d->bucket[i];
	}
	/* kls_lat_check saw that the buckets add up to no more than count. */
	e->hist[kind][d->nbounds] += d->count - in_buckets;
	st = &e->st[LAT_SLOT(kind)];
	st->count += (double)d->count;
	st->sum += (double)d->sum_ns / 1e6;
	return 0;
}

/* Bucket i's value in milliseconds (see cw_acc_sample_latency), rounded to the
 * microsecond so that it prints as the decimal it is (7.5, not 7.4999999999999991). */
static double
bucket_ms(const double *bounds, size_t nbounds, size_t i)
{
	double s;

	if (i >= nbounds)
		s = bounds[nbounds - 1];
	else if (i == 0)
		s = bounds[0] / 2;
	else
		s = (bounds[i - 1] + bounds[i]) / 2;
	return round(s * 1e6) / 1e3;
}

/* hist of kind as a distribution: one value per non-empty bucket, increasing. Returns
 * their number (at most HIST_N). */
static size_t
hist_values(enum kls_lat_kind kind, const uint64_t *hist, double *values, double *counts)
{
	size_t nb, n = 0;
	const double *bounds = kls_lat_bounds(kind, &nb);

	for (size_t i = 0; bounds && i <= nb; i++)
		if (hist[i]) {
			values[n] = bucket_ms(bounds, nb, i);
			counts[n++] = (double)hist[i];
		}
	return n;
}

/* ---------------------------------------------------------------- publisher */

/* One datum of a snapshot: the metric and its shard, copied, so the snapshot owns
 * everything the publisher reads. */
struct cw_item {
	unsigned slot; /* defs */
	char shard[LEASE_KEY_MAX];
	struct cw_stat st;
	uint64_t hist[HIST_N]; /* a latency slot's buckets */
};

struct snapshot {
	struct snapshot *next;
	char ns[CONFIG_VALUE_MAX + 1];
	char worker[LEASE_OWNER_MAX];
	int64_t ts_ms;
	size_t n;
	struct cw_item item[];
};

struct cwpub {
	pthread_t tid;
	bool started;
	/* mu guards the queue, stop, give_up_ns, stats and the outage fields; it is never
	 * held across a request or a wait for one. */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC: a new snapshot, or stop */
	struct snapshot *head, *tail;
	size_t queued;
	bool stop;
	int64_t give_up_ns; /* after stop: no new attempt past this monotonic time */
	struct cwpub_stats st;
	bool outage;           /* a drop was logged; the next success is logged too */
	uint64_t outage_drops; /* datums dropped since */
	/* The publisher thread's own. */
	struct aws_client *aws;
	struct aws_retry_policy retry;
	struct cw_limits limits;
	struct retry_rng rng;
	struct kls_buf body, resp;
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* n datums could not be delivered: counted always, logged once per outage. */
static void
dropped(struct cwpub *p, size_t n, bool request, const char *why)
{
	bool first;

	pthread_mutex_lock(&p->mu);
	p->st.datums_dropped += n;
	p->st.requests_failed += request;
	first = !p->outage;
	p->outage = true;
	p->outage_drops += n;
	pthread_mutex_unlock(&p->mu);
	if (first)
		log_warnx("CloudWatch PutMetricData: %s; %zu metrics dropped (further drops are "
		          "counted, not logged, until a request succeeds)",
		    why, n);
}

static void
delivered(struct cwpub *p, size_t n)
{
	bool was;
	uint64_t drops;

	pthread_mutex_lock(&p->mu);
	p->st.requests_sent++;
	p->st.datums_sent += n;
	was = p->outage;
	drops = p->outage_drops;
	p->outage = false;
	p->outage_drops = 0;
	pthread_mutex_unlock(&p->mu);
	if (was)
		log_info("CloudWatch PutMetricData succeeds again (%llu metrics were dropped)",
		    (unsigned long long)drops);
}

/* Whether klsd is stopping and the time to try has run out. */
static bool
giving_up(struct cwpub *p)
{
	bool r;

	pthread_mutex_lock(&p->mu);
	r = p->stop && mono_ns() >= p->give_up_ns;
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* Sleeps ms, or less when klsd starts to stop. */
static void
backoff(struct cwpub *p, int64_t ms)
{
	int64_t until = mono_ns() + ms * 1000000;
	struct timespec ts = { (time_t)(until / 1000000000), (long)(until % 1000000000) };

	pthread_mutex_lock(&p->mu);
	while (!p->stop && mono_ns() < until)
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&p->mu);
}

/* One request of n datums in p->body, with retries on throttling and 5xx. */
static void
send_request(struct cwpub *p, size_t n)
{
	struct aws_error err;
	char why[sizeof(err.type) + sizeof(err.message) + 32];

	for (int attempt = 0;; attempt++) {
		if (giving_up(p)) {
			dropped(p, n, true, "klsd is stopping and the time to send ran out");
			return;
		}
		if (aws_call(p->aws, "PutMetricData", p->body.data, p->body.len, &p->resp, &err) ==
		    0) {
			delivered(p, n);
			return;
		}
		if ((err.cls != AWS_ERR_THROTTLED && err.cls != AWS_ERR_RETRYABLE) ||
		    attempt + 1 >= p->retry.max_attempts) {
			snprintf(why, sizeof(why), "%s (HTTP %ld): %s, %d attempt%s", err.type,
			    err.http_status, err.message, attempt + 1, attempt ? "s" : "");
			dropped(p, n, true, why);
			return;
		}
		/* Throttling backs off harder, as aws_call_retry does. */
		backoff(p,
		    retry_backoff_ms(&p->rng, err.cls == AWS_ERR_THROTTLED ? attempt + 2 : attempt,
		        p->retry.base_ms, p->retry.cap_ms));
	}
}

static void
send_snapshot(struct cwpub *p, const struct snapshot *s)
{
	struct cw_datum *d = calloc(s->n ? s->n : 1, sizeof(*d));
	struct cw_dimension *dims = calloc(s->n ? 2 * s->n : 1, sizeof(*dims));
	/* Values and counts of the latency items. */
	double(*vc)[2][HIST_N] = calloc(s->n ? s->n : 1, sizeof(*vc));
	char why[512];
	size_t k = 0, used;

	if (!d || !dims || !vc) {
		dropped(p, s->n, false, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct cw_item *it = &s->item[i];
		const struct cw_metric_def *def = slot_def(it->slot);
		struct cw_dimension *dm = &dims[2 * k];
		dm[0] = (struct cw_dimension){ "Operation", def->operation };
		dm[1] = def->per_shard ? (struct cw_dimension){ "ShardId", it->shard }
		                       : (struct cw_dimension){ "WorkerIdentifier", s->worker };
		d[k] = (struct cw_datum){ def->name, dm, 2, def->unit, s->ts_ms, it->st.count,
			it->st.sum, it->st.min, it->st.max, NULL, NULL, 0 };
		if (is_lat_slot(it->slot)) {
			d[k].values = vc[k][0];
			d[k].counts = vc[k][1];
			d[k].nvalues = hist_values((enum kls_lat_kind)(it->slot - LAT_SLOT(0)),
			    it->hist, vc[k][0], vc[k][1]);
		}
		if (cw_datum_check(&d[k], why, sizeof(why)) < 0) {
			dropped(p, 1, false, why);
			continue;
		}
		k++;
	}
	for (size_t off = 0; off < k; off += used) {
		if (cw_encode(s->ns, d + off, k - off, &p->limits, &p->body, &used, why,
		        sizeof(why)) < 0) {
			dropped(p, k - off, false, why);
			break;
		}
		send_request(p, used);
	}
out:
	free(d);
	free(dims);
	free(vc);
}

static void *
pub_main(void *arg)
{
	struct cwpub *p = arg;
	struct snapshot *s;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!(s = p->head))
			break; /* stopping, and everything was sent or dropped */
		if (!(p->head = s->next))
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		send_snapshot(p, s);
		free(s);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
pub_free(struct cwpub *p)
{
	while (p->head) {
		struct snapshot *s = p->head;
		p->head = s->next;
		free(s);
	}
	aws_client_free(p->aws);
	buf_free(&p->body);
	buf_free(&p->resp);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct cwpub *
cwpub_start(const struct cwpub_config *cfg, char *err, size_t errlen)
{
	struct aws_service_config sc = {
		.service = CW_SERVICE,
		.region = cfg->region,
		.endpoint = cfg->endpoint,
		.target_prefix = CW_TARGET_PREFIX,
		.content_type = CW_CONTENT_TYPE,
		.connect_timeout_ms = cfg->connect_timeout_ms,
		.timeout_ms = cfg->timeout_ms,
		.max_response_bytes = 1u << 20, /* PutMetricData answers with an empty body */
		.creds = cfg->creds,
	};
	struct aws_error ae;
	pthread_condattr_t ca;
	sigset_t all, old;
	struct cwpub *p = calloc(1, sizeof(*p));
	int rc;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	buf_init(&p->body, 0);
	buf_init(&p->resp, 0);
	p->retry = cfg->retry;
	if (p->retry.max_attempts < 1)
		p->retry.max_attempts = 1;
	p->limits = cfg->limits.max_datums ? cfg->limits : cw_limits_default();
	retry_rng_seed_random(&p->rng);
	if (!(p->aws = aws_client_new(&sc, &ae))) {
		snprintf(err, errlen, "CloudWatch client: %s", ae.message);
		pub_free(p);
		return NULL;
	}
	/* Signals stay with the main thread's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->tid, NULL, pub_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "CloudWatch publisher thread: %s", strerror(rc));
		pub_free(p);
		return NULL;
	}
	p->started = true;
	return p;
}

size_t
cwpub_flush(struct cwpub *p, struct cw_acc *a, const char *ns, const char *worker,
    enum config_cw_level level, int64_t ts_ms)
{
	size_t n = 0, lost = 0;
	struct snapshot *s, *old = NULL;
	bool first = false;

	for (size_t i = 0; i < a->n; i++)
		for (int m = 0; m < NSLOTS; m++)
			n += a->e[i].st[m].count > 0 && defs[m].name && defs[m].level <= level;
	if (n == 0) {
		cw_acc_clear(a);
		return 0;
	}
	if (!(s = malloc(sizeof(*s) + n * sizeof(s->item[0])))) {
		cw_acc_clear(a);
		dropped(p, n, false, "out of memory for a snapshot");
		return 0;
	}
	s->next = NULL;
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	snprintf(s->worker, sizeof(s->worker), "%s", worker);
	s->ts_ms = ts_ms;
	s->n = 0;
	for (size_t i = 0; i < a->n; i++)
		for (int m = 0; m < NSLOTS; m++) {
			const struct cw_stat *st = &a->e[i].st[m];
			if (!(st->count > 0 && defs[m].name && defs[m].level <= level))
				continue;
			s->item[s->n].slot = (unsigned)m;
			memcpy(s->item[s->n].shard, a->e[i].shard, LEASE_KEY_MAX);
			if (is_lat_slot((unsigned)m))
				memcpy(s->item[s->n].hist, a->e[i].hist[m - LAT_SLOT(0)],
				    sizeof(s->item[0].hist));
			s->item[s->n++].st = *st;
		}
	cw_acc_clear(a);

	pthread_mutex_lock(&p->mu);
	if (p->queued == CWPUB_QUEUE_MAX) {
		/* The publisher is behind (CloudWatch slow or away): the oldest interval goes. */
		old = p->head;
		if (!(p->head = old->next))
			p->tail = NULL;
		p->queued--;
		lost = old->n;
		p->st.datums_dropped += lost;
		first = !p->outage;
		p->outage = true;
		p->outage_drops += lost;
	}
	if (p->tail)
		p->tail->next = s;
	else
		p->head = s;
	p->tail = s;
	p->queued++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	free(old);
	if (first)
		log_warnx(
		    "CloudWatch: %d intervals wait to be sent; dropping the oldest (%zu "
		    "metrics; further drops are counted, not logged, until a request succeeds)",
		    CWPUB_QUEUE_MAX, lost);
	return n;
}

void
cwpub_stats(struct cwpub *p, struct cwpub_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	pthread_mutex_unlock(&p->mu);
}

void
cwpub_stop(struct cwpub *p, int64_t wait_ms)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	p->give_up_ns = mono_ns() + wait_ms * 1000000;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->tid, NULL);
	pub_free(p);
}
