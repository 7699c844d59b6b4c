/*
 * klsd's CloudWatch metrics ([metrics] cloudwatch = on): KCL's metric names and
 * dimensions for kls's metrics, statistic sets (and, for the readers' latency
 * histograms, distributions) gathered per interval on klsd's main thread, and a
 * publisher thread that sends them with PutMetricData.
 *
 * Why a thread of its own: klsd's loop renews leases and must never wait on the network
 * (a renewal that comes late fences a reader). The loop only moves an interval's
 * statistic sets into a snapshot and appends it to a short queue under a mutex that the
 * publisher holds for pointer moves only, never across a request. The publisher encodes,
 * signs and sends, retrying throttling and 5xx with backoff; a request that still fails
 * is dropped and counted, and the first drop of an outage is logged (the next success is
 * logged too). When the queue is full the oldest snapshot is dropped the same way, so a
 * slow or unreachable CloudWatch costs at most CWPUB_QUEUE_MAX snapshots of memory.
 * The thread blocks every signal (they reach klsd's signalfd), and klsd forks readers
 * only into exec with async-signal-safe calls between, so a mutex held here at fork time
 * is never touched by a child.
 */
#ifndef KLS_SUPERVISOR_CLOUDWATCH_H
#define KLS_SUPERVISOR_CLOUDWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/aws.h"
#include "common/cloudwatch.h"
#include "common/conf.h"
#include "supervisor/lease_item.h"
#include "supervisor/metrics.h"
#include "shm/latency.h"

struct aws_creds_provider;

/* Snapshots waiting for the publisher; a further one drops the oldest. */
#define CWPUB_QUEUE_MAX 4
/* Shards an accumulator keeps per interval (held ones, plus those let go during it). */
#define CWACC_SHARDS_MAX 65536

/* KCL's name, operation, dimensions, unit and level of a kls metric; NULL for the
 * metrics CloudWatch does not get (the latency histograms come as a whole, through
 * cw_acc_sample_latency and cw_latency_def, not as samples). */
struct cw_metric_def {
	const char *name;
	const char *operation;
	int per_shard; /* ShardId dimension; else WorkerIdentifier */
	enum cw_unit unit;
	enum config_cw_level level;
	int events_only; /* zero samples are not kept: published only when it happened */
};
const struct cw_metric_def *cw_metric_def(enum kls_metric id);
/* The same for the latency of lease writes of op: one metric per op, as KCL names them
 * (RenewLease.Time, UpdateLease.Time, TakeLease.Time); NULL for the ops KCL has no
 * metric of (kls_lease_write_seconds in Prometheus has them all). */
const struct cw_metric_def *cw_write_def(enum lease_op op);
/* The same for a reader's latency histogram of kind (shm/latency.h): KCL's
 * KinesisDataFetcher.getRecords.Time and RecordProcessor.processRecords.Time; NULL for
 * an unknown kind. */
const struct cw_metric_def *cw_latency_def(enum kls_lat_kind kind);

/* ---- accumulator: klsd's main thread only ---- */
struct cw_acc;

struct cw_acc *cw_acc_new(void);
void cw_acc_free(struct cw_acc *a);
/* One sample of metric id for shard (NULL for a worker metric). Metrics without a
 * CloudWatch name are ignored. 0, or -1 with errno (EINVAL for a value that is not
 * finite, ENOSPC past CWACC_SHARDS_MAX shards, ENOMEM). */
int cw_acc_sample(struct cw_acc *a, enum kls_metric id, const char *shard, double v);
/* One lease write of op that took ms milliseconds (shard: the lease's, for the
 * per-shard UpdateLease.Time). Ops without a CloudWatch name are ignored. 0, or -1 with
 * errno as cw_acc_sample. */
int cw_acc_sample_write(struct cw_acc *a, enum lease_op op, const char *shard, double ms);
/*
 * What shard's reader observed of kind since the last call: d is a difference of two
 * snapshots of one run (kls_lat_take's *add), so counts only grow across reader
 * restarts. Sent as a distribution (Values and Counts in milliseconds), one value per
 * non-empty bucket: its midpoint, the first bucket's half its bound, and the overflow
 * bucket (above the last bound) at that bound. An empty d is ignored. 0, or -1 with
 * errno (EINVAL for a kind this build does not know or a d kls_lat_check refuses,
 * ENOSPC, ENOMEM as cw_acc_sample).
 */
int cw_acc_sample_latency(struct cw_acc *a, enum kls_lat_kind kind, const char *shard,
    const struct kls_latency *d);
/* Forgets every sample. */
void cw_acc_clear(struct cw_acc *a);
/* Statistic sets and distributions held (for tests). */
size_t cw_acc_count(const struct cw_acc *a);

/* ---- publisher ---- */
struct cwpub_config {
	const char *region;
	const char *endpoint; /* NULL = https://monitoring.<region>.amazonaws.com */
	struct aws_creds_provider *creds;
	long connect_timeout_ms, timeout_ms;
	struct aws_retry_policy retry; /* attempts per request, backoff */
	struct cw_limits limits;       /* zeroes = the service's */
};

struct cwpub_stats {
	uint64_t requests_sent; /* accepted by CloudWatch */
	uint64_t datums_sent;
	uint64_t requests_failed; /* given up after retries */
	uint64_t datums_dropped;  /* failed requests, queue overflow, refused datums */
};

struct cwpub;

/* Makes the client (a bad endpoint fails here, at start) and starts the thread. NULL
 * with err filled otherwise. */
struct cwpub *cwpub_start(const struct cwpub_config *cfg, char *err, size_t errlen);
/*
 * Moves a's statistic sets at level or below into a snapshot stamped ts_ms (wall clock,
 * the end of the interval) for namespace ns and worker, and queues it; a is left empty.
 * Never waits on the network. Returns the datums queued (0 when a held none).
 */
size_t cwpub_flush(struct cwpub *p, struct cw_acc *a, const char *ns, const char *worker,
    enum config_cw_level level, int64_t ts_ms);
void cwpub_stats(struct cwpub *p, struct cwpub_stats *out);
/* Sends what is queued, making no new attempt after wait_ms, then stops the thread and
 * frees p (so it returns within about wait_ms plus one request timeout). NULL is fine. */
void cwpub_stop(struct cwpub *p, int64_t wait_ms);

#endif
