/*
 * The latency histograms of shm/latency.h: the reader's observations and klsd's checks
 * of what it reads back from shm, which it treats as input from another process.
 */
#include "config.h"

#include "shm/latency.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const double getrecords_bounds[] = KLS_LAT_GETRECORDS_BOUNDS;
static const double handler_bounds[] = KLS_LAT_HANDLER_BOUNDS;
_Static_assert(sizeof(getrecords_bounds) / sizeof(double) == KLS_LAT_GETRECORDS_N,
    "KLS_LAT_GETRECORDS_N");
_Static_assert(sizeof(handler_bounds) / sizeof(double) == KLS_LAT_HANDLER_N, "KLS_LAT_HANDLER_N");
_Static_assert(KLS_LAT_GETRECORDS_N <= KLS_LAT_SLOTS && KLS_LAT_HANDLER_N <= KLS_LAT_SLOTS,
    "bounds fit the shm slots");

static const char *const kind_names[KLS_LAT_KINDS] = { "GetRecords", "handler" };

const double *
kls_lat_bounds(enum kls_lat_kind kind, size_t *n)
{
	switch (kind) {
	case KLS_LAT_GETRECORDS: *n = KLS_LAT_GETRECORDS_N; return getrecords_bounds;
	case KLS_LAT_HANDLER: *n = KLS_LAT_HANDLER_N; return handler_bounds;
	default: *n = 0; return NULL;
	}
}

void
kls_lat_observe(struct kls_latency *h, enum kls_lat_kind kind, int64_t ns)
{
	size_t n;
	const double *b = kls_lat_bounds(kind, &n);
	double s;

	if (!b)
		return;
	if (ns < 0)
		ns = 0;
	s = (double)ns / 1e9;
	h->nbounds = (uint32_t)n; /* so klsd knows the writer's list */
	for (size_t i = 0; i < n; i++)
		if (s <= b[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum_ns += (uint64_t)ns;
}

int
kls_lat_check(const struct kls_latency *h, enum kls_lat_kind kind, char *err, size_t errlen)
{
	static const struct kls_latency zero;
	const char *name = (unsigned)kind < KLS_LAT_KINDS ? kind_names[kind] : "?";
	uint64_t sum = 0;
	size_t n;

	if (!kls_lat_bounds(kind, &n)) {
		snprintf(err, errlen, "unknown histogram kind %d", (int)kind);
		return -1;
	}
	if (h->nbounds == 0) {
		if (memcmp(h, &zero, sizeof(zero)) == 0)
			return 0;
		snprintf(err, errlen,
		    "%s histogram: no bucket count but observations in it "
		    "(a damaged table)",
		    name);
		return -1;
	}
	if (h->nbounds != n) {
		snprintf(err, errlen,
		    "%s histogram: %" PRIu32 " buckets where this klsd has %zu "
		    "(another kls build, or a damaged table)",
		    name, h->nbounds, n);
		return -1;
	}
	for (size_t i = 0; i < KLS_LAT_SLOTS; i++) {
		if (i >= n && h->bucket[i]) {
			snprintf(err, errlen,
			    "%s histogram: bucket %zu of %zu in use (a damaged "
			    "table)",
			    name, i, n);
			return -1;
		}
		/* Each term is at most count once the sum so far is: no overflow. */
		if (h->bucket[i] > h->count || sum > h->count - h->bucket[i]) {
			snprintf(err, errlen,
			    "%s histogram: buckets add up to more than its "
			    "%" PRIu64 " observations (a damaged table)",
			    name, h->count);
			return -1;
		}
		sum += h->bucket[i];
	}
	return 0;
}

/* cur - prev of one total into *out; -1 with err when it went back. */
static int
diff(const char *name, const char *what, uint64_t prev, uint64_t cur, uint64_t *out, char *err,
    size_t errlen)
{
	if (cur < prev) {
		snprintf(err, errlen,
		    "%s histogram: %s went back from %" PRIu64 " to %" PRIu64
		    " within one reader run (a damaged table)",
		    name, what, prev, cur);
		return -1;
	}
	*out = cur - prev;
	return 0;
}

int
kls_lat_delta(const struct kls_latency *prev, const struct kls_latency *cur, enum kls_lat_kind kind,
    struct kls_latency *out, char *err, size_t errlen)
{
	struct kls_latency d = { .nbounds = cur->nbounds };
	const char *name = (unsigned)kind < KLS_LAT_KINDS ? kind_names[kind] : "?";
	char what[16];
	int rc;

	memset(out, 0, sizeof(*out));
	if (kls_lat_check(cur, kind, err, errlen) < 0)
		return -1;
	rc = diff(name, "count", prev->count, cur->count, &d.count, err, errlen);
	rc = rc ? rc : diff(name, "sum", prev->sum_ns, cur->sum_ns, &d.sum_ns, err, errlen);
	for (size_t i = 0; i < KLS_LAT_SLOTS && !rc; i++) {
		snprintf(what, sizeof(what), "bucket %zu", i);
		rc = diff(name, what, prev->bucket[i], cur->bucket[i], &d.bucket[i], err, errlen);
	}
	if (rc)
		return -1;
	*out = d;
	return 0;
}

int
kls_lat_take(struct kls_lat_run *t, int64_t run, const struct kls_latency *cur,
    enum kls_lat_kind kind, struct kls_latency *add, char *err, size_t errlen)
{
	if (t->run != run) {
		memset(&t->seen, 0, sizeof(t->seen));
		t->run = run;
	}
	if (kls_lat_delta(&t->seen, cur, kind, add, err, errlen) < 0)
		return -1;
	t->seen = *cur;
	return 0;
}
