/*
 * Latency histograms a kls-reader publishes in its progress group (shm minor 2) and klsd
 * turns into the kls_getrecords_seconds and kls_handler_seconds Prometheus families: the
 * bucket bounds both sides share (the one definition), the reader's per-call observation,
 * and klsd's checks and differences of two snapshots.
 *
 * A histogram in shm holds totals since its reader started: observations per bucket (not
 * cumulative: bucket i counts values in (bound i-1, bound i]), their count and their sum
 * in nanoseconds. Values above the last bound are in count only (Prometheus's +Inf
 * bucket). A reader observes once per call or batch, never per record.
 */
#ifndef KLS_SHM_LATENCY_H
#define KLS_SHM_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/* Bucket slots in shm; a histogram uses its kind's count of them, the rest stay 0. */
#define KLS_LAT_SLOTS 16

/* Upper bounds in seconds, increasing. Initialisers rather than arrays, so every user
 * (shm/latency.c here, supervisor/metrics.c for the families) spells the same list
 * without a link dependency. Changing a list changes what a bucket index means in
 * shm: that needs a shm version bump (shm/README.md). */
/* GetRecords answers in tens to hundreds of milliseconds. */
#define KLS_LAT_GETRECORDS_BOUNDS { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
#define KLS_LAT_GETRECORDS_N 11
/* A handler may take seconds for a batch. */
#define KLS_LAT_HANDLER_BOUNDS \
	{ 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 }
#define KLS_LAT_HANDLER_N 13

enum kls_lat_kind {
	KLS_LAT_GETRECORDS = 0, /* one GetRecords call, answered or failed (polling only) */
	KLS_LAT_HANDLER = 1,    /* one process() call (a batch or a fan-out event) */
	KLS_LAT_KINDS
};

/* One histogram as it sits in shm (152 bytes, whole words). */
struct kls_latency {
	uint32_t nbounds; /* KLS_LAT_*_N of the writer; 0 = absent (nothing observed yet,
	                   * or a reader of an older minor) */
	uint32_t reserved;
	uint64_t count;  /* observations */
	uint64_t sum_ns; /* their sum */
	uint64_t bucket[KLS_LAT_SLOTS];
};
_Static_assert(sizeof(struct kls_latency) == 152, "kls_latency size");

/* The bounds of kind (KLS_LAT_*_BOUNDS) and their number; NULL for an unknown kind. */
const double *kls_lat_bounds(enum kls_lat_kind kind, size_t *n);

/* Reader: one observation of ns nanoseconds (a negative value counts as 0) in h, a
 * histogram of kind that starts all zero; sets nbounds, so klsd knows the writer's list. */
void kls_lat_observe(struct kls_latency *h, enum kls_lat_kind kind, int64_t ns);

/*
 * klsd: whether h, read from shm, is a histogram of kind this build understands: absent
 * (all zero), or nbounds equal to this build's, no bucket past it in use, and buckets
 * that add up to no more than count. 0, or -1 with err naming the first thing wrong
 * (a different kls build, or a damaged table).
 */
int kls_lat_check(const struct kls_latency *h, enum kls_lat_kind kind, char *err, size_t errlen);

/*
 * klsd: what one reader run observed between two snapshots of its histogram (prev an
 * earlier snapshot of the same run, or all zero for a new run): out = cur - prev, field
 * by field. -1 with err when cur fails kls_lat_check or any total went back (the group
 * was damaged, or prev is from another run); out is then all zero.
 */
int kls_lat_delta(const struct kls_latency *prev, const struct kls_latency *cur,
    enum kls_lat_kind kind, struct kls_latency *out, char *err, size_t errlen);

/* klsd's view of one shard's histogram of one kind across reader runs. */
struct kls_lat_run {
	int64_t run;             /* which reader run `seen` is of (klsd: its spawn time) */
	struct kls_latency seen; /* that run's histogram as last taken */
};

/*
 * klsd: takes snapshot cur of reader run `run` and says in *add what it adds to the
 * exported totals. A run other than t->run starts from zero (a restarted reader counts
 * from zero again, while the exported totals only grow). 0, or -1 with err (and *add
 * all zero) when kls_lat_delta refuses cur; t keeps its last good snapshot then.
 */
int kls_lat_take(struct kls_lat_run *t, int64_t run, const struct kls_latency *cur,
    enum kls_lat_kind kind, struct kls_latency *add, char *err, size_t errlen);

#endif
