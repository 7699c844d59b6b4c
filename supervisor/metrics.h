/*
 * klsd's metrics: a registry of kls's fixed set of metric families (counters, gauges,
 * histograms with fixed buckets), each series labelled by some of stream, shard and
 * worker, rendered in Prometheus's text exposition format 0.0.4; and a /metrics HTTP
 * endpoint served by libmicrohttpd on the configured address.
 *
 * The HTTP server runs inside klsd's poll loop, not in a thread of its own: klsd forks
 * and execs readers, and a process without threads has no lock held by another thread at
 * fork time; the registry then needs no mutex either, and klsd's loop updates it with
 * plain stores. MHD's epoll mode gives one descriptor to poll (no FD_SETSIZE limit with a
 * thousand reader pipes open) and never blocks. Rendering does run in the loop: 1000
 * shards (the eleven families of then, 3.9 MB of text) took 35 ms at -O2 on a busy 2-core host,
 * small next to lease deadlines of seconds.
 *
 * Names follow KCL's metrics in Prometheus spelling (kls_records_processed_total, ...).
 */
#ifndef KLS_METRICS_H
#define KLS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"

enum kls_metric {
	KLS_M_RECORDS_PROCESSED,  /* counter: records the handler accepted */
	KLS_M_BYTES_PROCESSED,    /* counter: their data bytes */
	KLS_M_MILLIS_BEHIND,      /* gauge: MillisBehindLatest of the last GetRecords */
	KLS_M_LEASES_HELD,        /* gauge (stream, worker) */
	KLS_M_LEASE_RENEWALS,     /* counter (stream, worker) */
	KLS_M_LEASE_TAKES,        /* counter (stream, worker) */
	KLS_M_LEASES_LOST,        /* counter (stream, worker) */
	KLS_M_GETRECORDS_SECONDS, /* histogram: GetRecords latency */
	KLS_M_HANDLER_SECONDS,    /* histogram: handler process() time per batch */
	KLS_M_READER_RESTARTS,    /* counter: reader respawns */
	KLS_M_POISON_RECORDS,     /* counter: poison-record policy applications */
	KLS_M_READ_MODE,          /* gauge (all, and mode): 1 for the reader's read mode */
	KLS_M_FANOUT_SUBSCRIPTION_AGE, /* gauge: seconds since the current subscription */
	KLS_M_FANOUT_RESUBSCRIBES,     /* counter: SubscribeToShard calls after the first */
	KLS_M_LEASE_WRITE_SECONDS,  /* histogram (stream, worker, op): lease table writes */
	KLS_M_LEASE_WRITE_FAILURES, /* counter (stream, worker, op, reason): writes that did
	                             * not take effect */
	KLS_M_WORKERS,              /* gauge (stream, worker): live workers at the last take
	                             * cycle */
	KLS_M_COUNT
};

/* Label values; a metric uses the ones its family declares and ignores the others
 * (NULL counts as ""). Values are copied. */
struct metric_labels {
	const char *stream;
	const char *shard;
	const char *worker;
	const char *mode;   /* kls_read_mode only: "polling" or "fan-out" */
	const char *op;     /* lease writes only: lease_op_name (lease_item.h) */
	const char *reason; /* kls_lease_write_failures_total only: lease_fail_name */
};

/* Bounds on what the registry holds. */
#define METRICS_LABEL_MAX 256    /* bytes per label value */
#define METRICS_SERIES_MAX 16384 /* series per family */
#define METRICS_RENDER_MAX (64u << 20)

struct metrics;
struct metric_series;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * The series of metric id with these labels, created at zero on first use; the pointer
 * stays valid until metrics_forget_shard removes it or metrics_free (klsd keeps one per
 * shard and metric to avoid lookups). NULL with errno EINVAL (a label value too long),
 * ENOSPC (METRICS_SERIES_MAX reached) or ENOMEM.
 */
struct metric_series *metrics_series(
    struct metrics *m, enum kls_metric id, const struct metric_labels *l);
/* Counter and gauge: adds v (a counter refuses a negative or non-finite v: -1 EINVAL). */
int metric_add(struct metric_series *s, double v);
/* Gauge only: sets v (-1 EINVAL on another type). */
int metric_set(struct metric_series *s, double v);
/* Histogram only: records one observation (-1 EINVAL on another type or NaN). */
int metric_observe(struct metric_series *s, double v);
/* Histogram only: adds observations made elsewhere (a reader's, from shm): bucket[i]
 * observations in bucket i (not cumulative; nbucket must be the family's bucket count),
 * count in all (those above the last bound too), sum their sum. -1 EINVAL when it is no
 * histogram, nbucket differs, the buckets add up to more than count or sum is negative
 * or not finite; nothing is added then. */
int metric_hist_add(struct metric_series *s, const uint64_t *bucket, size_t nbucket,
    uint64_t count, double sum);
/* Look-up and update in one call; 0, or -1 with the errno of the calls above. */
int metrics_add(struct metrics *m, enum kls_metric id, const struct metric_labels *l, double v);
int metrics_set(struct metrics *m, enum kls_metric id, const struct metric_labels *l, double v);
int metrics_observe(struct metrics *m, enum kls_metric id, const struct metric_labels *l, double v);
/* Removes every series labelled with this shard (a lease no longer held), so a shard's
 * gauges do not linger; its counters restart from 0 if it comes back, which Prometheus's
 * rate() treats as a counter reset. */
void metrics_forget_shard(struct metrics *m, const char *shard);

/* Appends the exposition text: HELP and TYPE for every family, then its series. 0, or -1
 * with errno (ENOMEM, EMSGSIZE past METRICS_RENDER_MAX). */
int metrics_render(const struct metrics *m, struct kls_buf *out);

/*
 * Parses the [metrics] listen value: "IPv4:port" or "[IPv6]:port", numeric only (no host
 * names: klsd must not depend on DNS to start), port 0 to 65535 (0: any free port, for
 * tests). 0, or -1 with err.
 */
int metrics_parse_listen(
    const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen);

/* The /metrics endpoint. GET (and HEAD) /metrics: 200 with the exposition; other paths
 * 404, other methods 405. */
struct metrics_http;

/* Binds listen (metrics_parse_listen) and starts MHD without threads. 0 with *out, or -1
 * with err naming the address and the reason. */
int metrics_http_start(
    struct metrics_http **out, struct metrics *m, const char *listen, char *err, size_t errlen);
/* The descriptor to poll for POLLIN (MHD's epoll set). */
int metrics_http_fd(const struct metrics_http *h);
/* Longest klsd may wait before calling metrics_http_handle even without input (MHD's
 * connection timeouts), in ms; -1 for no limit. */
int64_t metrics_http_timeout_ms(const struct metrics_http *h);
/* Serves whatever is ready, without blocking. 0, or -1 when MHD reports a failure. */
int metrics_http_handle(struct metrics_http *h);
/* The bound port (useful after port 0). */
uint16_t metrics_http_port(const struct metrics_http *h);
/* Stops serving and closes every connection. NULL is a no-op. */
void metrics_http_stop(struct metrics_http *h);

#endif
