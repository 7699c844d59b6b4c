/*
 * The metrics registry behind metrics.h and its Prometheus text rendering (exposition
 * format 0.0.4: HELP and TYPE lines, label values escaped, histogram buckets cumulative
 * with le="+Inf", then _sum and _count). klsd's loop is the only user, so no locking.
 */
#include "config.h"

#include "supervisor/metrics.h"
#include "shm/latency.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_type { M_COUNTER, M_GAUGE, M_HISTOGRAM };

enum { L_STREAM = 1, L_SHARD = 2, L_WORKER = 4, L_ALL = 7, L_MODE = 8, L_OP = 16, L_REASON = 32 };
#define NLABELS 6

struct family_def {
	const char *name;
	const char *help;
	enum metric_type type;
	unsigned labels;
	const double *buckets; /* upper bounds, increasing; +Inf is implied */
	size_t nbuckets;
};

/* The readers' lists (shm/latency.h): klsd adds their bucket counts as they are. */
static const double getrecords_buckets[] = KLS_LAT_GETRECORDS_BOUNDS;
static const double handler_buckets[] = KLS_LAT_HANDLER_BOUNDS;
/* klsd's own: a DynamoDB write answers in milliseconds; its client's retries (throttling,
 * 5xx) stretch it to seconds, which is what a lease's deadline has to absorb. */
static const double lease_write_buckets[] = { 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10 };
#define BUCKETS(b) b, sizeof(b) / sizeof(b[0])
/* Rendering formats a family's bounds into an array of this many. */
#define BUCKETS_MAX 16
_Static_assert(sizeof(getrecords_buckets) / sizeof(double) <= BUCKETS_MAX, "too many buckets");
_Static_assert(sizeof(handler_buckets) / sizeof(double) <= BUCKETS_MAX, "too many buckets");
_Static_assert(sizeof(lease_write_buckets) / sizeof(double) <= BUCKETS_MAX, "too many buckets");

static const struct family_def defs[KLS_M_COUNT] = {
    [KLS_M_RECORDS_PROCESSED] = {"kls_records_processed_total",
        "Records delivered to the handler and accepted by it.", M_COUNTER, L_ALL, NULL, 0},
    [KLS_M_BYTES_PROCESSED] = {"kls_bytes_processed_total",
        "Data bytes of the records the handler accepted.", M_COUNTER, L_ALL, NULL, 0},
    [KLS_M_MILLIS_BEHIND] = {"kls_millis_behind_latest",
        "How far the shard's reader is behind the tip of the stream, in milliseconds.", M_GAUGE,
        L_ALL, NULL, 0},
    [KLS_M_LEASES_HELD] = {"kls_leases_held", "Shard leases this worker holds.", M_GAUGE,
        L_STREAM | L_WORKER, NULL, 0},
    [KLS_M_LEASE_RENEWALS] = {"kls_lease_renewals_total",
        "Successful lease renewals in the lease table.", M_COUNTER, L_STREAM | L_WORKER, NULL, 0},
    [KLS_M_LEASE_TAKES] = {"kls_lease_takes_total", "Leases taken (free, expired or handed off).",
        M_COUNTER, L_STREAM | L_WORKER, NULL, 0},
    [KLS_M_LEASES_LOST] = {"kls_leases_lost_total", "Leases lost to another worker or to expiry.",
        M_COUNTER, L_STREAM | L_WORKER, NULL, 0},
    [KLS_M_GETRECORDS_SECONDS] = {"kls_getrecords_seconds",
        "GetRecords request latency in seconds (polling shards only).", M_HISTOGRAM, L_ALL,
        BUCKETS(getrecords_buckets)},
    [KLS_M_HANDLER_SECONDS] = {"kls_handler_seconds",
        "Time the handler spent on one batch, in seconds.", M_HISTOGRAM, L_ALL,
        BUCKETS(handler_buckets)},
    [KLS_M_READER_RESTARTS] = {"kls_reader_restarts_total",
        "Readers started again after they exited or crashed.", M_COUNTER, L_ALL, NULL, 0},
    [KLS_M_POISON_RECORDS] = {"kls_poison_records_total",
        "Times the poison-record policy was applied to a batch.", M_COUNTER, L_ALL, NULL, 0},
    [KLS_M_READ_MODE] = {"kls_read_mode",
        "How the shard's reader reads: 1 for its mode (polling or fan-out), 0 for a mode it "
        "no longer uses.", M_GAUGE, L_ALL | L_MODE, NULL, 0},
    [KLS_M_FANOUT_SUBSCRIPTION_AGE] = {"kls_fanout_subscription_age_seconds",
        "Age of the fan-out shard's current SubscribeToShard subscription, 0 between two.",
        M_GAUGE, L_ALL, NULL, 0},
    [KLS_M_FANOUT_RESUBSCRIBES] = {"kls_fanout_resubscribes_total",
        "SubscribeToShard calls after the first of each reader run (subscriptions renewed).",
        M_COUNTER, L_ALL, NULL, 0},
    [KLS_M_LEASE_WRITE_SECONDS] = {"kls_lease_write_seconds",
        "Lease table write latency in seconds, the DynamoDB client's retries included, by op: "
        "renew, checkpoint (which renews too), take, release, handoff, create, delete.",
        M_HISTOGRAM, L_STREAM | L_WORKER | L_OP, BUCKETS(lease_write_buckets)},
    [KLS_M_LEASE_WRITE_FAILURES] = {"kls_lease_write_failures_total",
        "Lease table writes that did not take effect, by op and reason: conditional (another "
        "writer changed the item first), throttled, other.", M_COUNTER,
        L_STREAM | L_WORKER | L_OP | L_REASON, NULL, 0},
    [KLS_M_WORKERS] = {"kls_workers",
        "Live workers at the last take cycle: owners of unexpired leases, this one included.",
        M_GAUGE, L_STREAM | L_WORKER, NULL, 0},
};

struct metric_series {
	const struct family_def *def;
	uint64_t hash;     /* of the label values, for the family's index */
	char *label[NLABELS]; /* stream, shard, worker, mode, op, reason; NULL when the
	                       * family does not use it */
	double value;      /* counter, gauge; histogram: sum */
	uint64_t count;    /* histogram observations */
	uint64_t *bucket;  /* histogram: observations per bucket (not cumulative) */
	char *labels_text; /* `stream="...",shard="..."` escaped, built once at creation */
};

/* A family's series in creation order (the rendering order), and an open-addressing
 * index over their labels so klsd's per-batch updates do not scan thousands of shards. */
struct family {
	struct metric_series **s;
	size_t n, cap;
	size_t *slot;  /* series index + 1; 0 = empty */
	size_t nslots; /* a power of two, at least twice n */
};

struct metrics {
	struct family fam[KLS_M_COUNT];
};

static const char *const label_names[NLABELS] = {"stream", "shard", "worker", "mode", "op",
    "reason"};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void
series_free(struct metric_series *s)
{
	for (int i = 0; i < NLABELS; i++)
		free(s->label[i]);
	free(s->bucket);
	free(s->labels_text);
	free(s);
}

void
metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (int f = 0; f < KLS_M_COUNT; f++) {
		for (size_t i = 0; i < m->fam[f].n; i++)
			series_free(m->fam[f].s[i]);
		free(m->fam[f].s);
		free(m->fam[f].slot);
	}
	free(m);
}

static bool
label_eq(const char *have, const char *want)
{
	return !strcmp(have ? have : "", want ? want : "");
}

/* Escapes a label value (backslash, double quote, newline) or, with help set, a HELP
 * text (backslash, newline). */
static int
put_escaped(struct kls_buf *b, const char *s, bool help)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		if (*s == '\\')
			rc = buf_puts(b, "\\\\");
		else if (*s == '\n')
			rc = buf_puts(b, "\\n");
		else if (*s == '"' && !help)
			rc = buf_puts(b, "\\\"");
		else
			rc = buf_append(b, s, 1);
	}
	return rc;
}

/* The series' label pairs as they appear between braces, escaped once for all scrapes. */
static char *
labels_text(const struct metric_series *s)
{
	struct kls_buf b;
	char *t;
	int rc;

	buf_init(&b, 0);
	rc = buf_puts(&b, ""); /* an empty text is still a string */
	for (int i = 0; i < NLABELS && !rc; i++) {
		if (!s->label[i])
			continue;
		rc = buf_printf(&b, "%s%s=\"", b.len ? "," : "", label_names[i]);
		rc = rc ? rc : put_escaped(&b, s->label[i], false);
		rc = rc ? rc : buf_puts(&b, "\"");
	}
	/* A copy of just the right size: one per series, kept for the series' life. */
	t = rc ? NULL : strdup(b.data);
	buf_free(&b);
	return t;
}

/* FNV-1a over the values, each ended by a byte no value contains at that spot. */
static uint64_t
hash_labels(const char *const v[NLABELS])
{
	uint64_t h = 14695981039346656037ull;

	for (int i = 0; i < NLABELS; i++) {
		for (const char *p = v[i] ? v[i] : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	return h;
}

static void
index_put(struct family *f, size_t i)
{
	size_t k = f->s[i]->hash & (f->nslots - 1);

	while (f->slot[k])
		k = (k + 1) & (f->nslots - 1);
	f->slot[k] = i + 1;
}

/* Sizes the index for `want` series and refills it; -1 on ENOMEM (index unchanged). */
static int
index_rebuild(struct family *f, size_t want)
{
	size_t nslots = 16, *slot;

	while (nslots < 2 * want)
		nslots *= 2;
	slot = calloc(nslots, sizeof(*slot));
	if (!slot)
		return -1;
	free(f->slot);
	f->slot = slot;
	f->nslots = nslots;
	for (size_t i = 0; i < f->n; i++)
		index_put(f, i);
	return 0;
}

static struct metric_series *
index_find(const struct family *f, uint64_t hash, const char *const want[NLABELS])
{
	if (!f->nslots)
		return NULL;
	for (size_t k = hash & (f->nslots - 1); f->slot[k]; k = (k + 1) & (f->nslots - 1)) {
		struct metric_series *s = f->s[f->slot[k] - 1];
		bool eq = s->hash == hash;
		for (int i = 0; i < NLABELS && eq; i++)
			eq = label_eq(s->label[i], want[i]);
		if (eq)
			return s;
	}
	return NULL;
}

struct metric_series *
metrics_series(struct metrics *m, enum kls_metric id, const struct metric_labels *l)
{
	uint64_t hash;
	const char *want[NLABELS] = {l ? l->stream : NULL, l ? l->shard : NULL,
	    l ? l->worker : NULL, l ? l->mode : NULL, l ? l->op : NULL, l ? l->reason : NULL};
	const struct family_def *d;
	struct family *f;
	struct metric_series *s;

	if ((unsigned)id >= KLS_M_COUNT) {
		errno = EINVAL;
		return NULL;
	}
	d = &defs[id];
	f = &m->fam[id];
	for (int i = 0; i < NLABELS; i++) {
		if (!(d->labels & (1u << i)))
			want[i] = NULL;
		else if (want[i] && strlen(want[i]) > METRICS_LABEL_MAX) {
			errno = EINVAL;
			return NULL;
		}
	}
	hash = hash_labels(want);
	s = index_find(f, hash, want);
	if (s)
		return s;
	if (f->n == METRICS_SERIES_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct metric_series **ns = realloc(f->s, ncap * sizeof(*ns));
		if (!ns)
			return NULL;
		f->s = ns;
		f->cap = ncap;
	}
	if (2 * (f->n + 1) > f->nslots && index_rebuild(f, f->n + 1) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->def = d;
	s->hash = hash;
	for (int i = 0; i < NLABELS; i++)
		if ((d->labels & (1u << i)) && !(s->label[i] = strdup(want[i] ? want[i] : ""))) {
			series_free(s);
			return NULL;
		}
	if (!(s->labels_text = labels_text(s)) ||
	    (d->type == M_HISTOGRAM && !(s->bucket = calloc(d->nbuckets, sizeof(*s->bucket))))) {
		series_free(s);
		return NULL;
	}
	f->s[f->n++] = s;
	index_put(f, f->n - 1);
	return s;
}

int
metric_add(struct metric_series *s, double v)
{
	if (s->def->type == M_HISTOGRAM || !isfinite(v) || (s->def->type == M_COUNTER && v < 0)) {
		errno = EINVAL;
		return -1;
	}
	s->value += v;
	return 0;
}

int
metric_set(struct metric_series *s, double v)
{
	if (s->def->type != M_GAUGE || isnan(v)) {
		errno = EINVAL;
		return -1;
	}
	s->value = v;
	return 0;
}

int
metric_observe(struct metric_series *s, double v)
{
	if (s->def->type != M_HISTOGRAM || isnan(v)) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < s->def->nbuckets; i++)
		if (v <= s->def->buckets[i]) {
			s->bucket[i]++;
			break;
		}
	s->count++;
	s->value += v;
	return 0;
}

int
metric_hist_add(struct metric_series *s, const uint64_t *bucket, size_t nbucket, uint64_t count,
    double sum)
{
	uint64_t total = 0;

	if (s->def->type != M_HISTOGRAM || nbucket != s->def->nbuckets || !isfinite(sum) ||
	    sum < 0) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < nbucket; i++) {
		if (bucket[i] > count - total) {
			errno = EINVAL;
			return -1;
		}
		total += bucket[i];
	}
	for (size_t i = 0; i < nbucket; i++)
		s->bucket[i] += bucket[i];
	s->count += count;
	s->value += sum;
	return 0;
}

int
metrics_add(struct metrics *m, enum kls_metric id, const struct metric_labels *l, double v)
{
	struct metric_series *s = metrics_series(m, id, l);
	return s ? metric_add(s, v) : -1;
}

int
metrics_set(struct metrics *m, enum kls_metric id, const struct metric_labels *l, double v)
{
	struct metric_series *s = metrics_series(m, id, l);
	return s ? metric_set(s, v) : -1;
}

int
metrics_observe(struct metrics *m, enum kls_metric id, const struct metric_labels *l, double v)
{
	struct metric_series *s = metrics_series(m, id, l);
	return s ? metric_observe(s, v) : -1;
}

void
metrics_forget_shard(struct metrics *m, const char *shard)
{
	for (int f = 0; f < KLS_M_COUNT; f++) {
		struct family *fam = &m->fam[f];
		size_t keep = 0;
		for (size_t i = 0; i < fam->n; i++) {
			struct metric_series *s = fam->s[i];
			if (s->label[1] && !strcmp(s->label[1], shard))
				series_free(s);
			else
				fam->s[keep++] = s;
		}
		if (keep == fam->n)
			continue;
		fam->n = keep;
		/* Same size or smaller: on ENOMEM the old slots would point at freed series,
		 * so clear them instead (a lookup then misses and recreates). */
		if (index_rebuild(fam, keep) < 0) {
			memset(fam->slot, 0, fam->nslots * sizeof(*fam->slot));
			for (size_t i = 0; i < fam->n; i++)
				index_put(fam, i);
		}
	}
}

/* The shortest decimal that reads back as v, or +Inf/-Inf/NaN as Prometheus spells them,
 * in tmp. Whole numbers (counters, nearly always) skip the round-trip check. */
static const char *
fmt_double(char tmp[40], double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(tmp, 40, "%lld", (long long)v);
		return tmp;
	}
	snprintf(tmp, 40, "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, 40, "%.17g", v);
	return tmp;
}

/* One line: name, suffix, {labels[,le="le"]}, value text. */
static int
put_line(struct kls_buf *b, const struct metric_series *s, const char *suffix, const char *le,
    const char *value)
{
	const char *sep = s->labels_text[0] ? "," : "";

	if (le)
		return buf_printf(b, "%s%s{%s%sle=\"%s\"} %s\n", s->def->name, suffix,
		    s->labels_text, sep, le, value);
	if (s->labels_text[0])
		return buf_printf(b, "%s%s{%s} %s\n", s->def->name, suffix, s->labels_text, value);
	return buf_printf(b, "%s%s %s\n", s->def->name, suffix, value);
}

/* le is the family's bucket bounds as text, computed once per rendering. */
static int
put_series(struct kls_buf *b, const struct metric_series *s, char (*le)[40])
{
	char n[32], v[40];
	uint64_t cum = 0;
	int rc = 0;

	if (s->def->type != M_HISTOGRAM)
		return put_line(b, s, "", NULL, fmt_double(v, s->value));
	for (size_t i = 0; i < s->def->nbuckets && !rc; i++) {
		cum += s->bucket[i];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)cum);
		rc = put_line(b, s, "_bucket", le[i], n);
	}
	snprintf(n, sizeof(n), "%llu", (unsigned long long)s->count);
	rc = rc ? rc : put_line(b, s, "_bucket", "+Inf", n);
	rc = rc ? rc : put_line(b, s, "_sum", NULL, fmt_double(v, s->value));
	return rc ? rc : put_line(b, s, "_count", NULL, n);
}

int
metrics_render(const struct metrics *m, struct kls_buf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	int rc = 0;

	for (int f = 0; f < KLS_M_COUNT && !rc; f++) {
		const struct family_def *d = &defs[f];
		rc = buf_printf(out, "# HELP %s ", d->name);
		rc = rc ? rc : put_escaped(out, d->help, true);
		rc = rc ? rc : buf_printf(out, "\n# TYPE %s %s\n", d->name, type_names[d->type]);
		char le[BUCKETS_MAX][40];
		for (size_t i = 0; i < d->nbuckets; i++) {
			char tmp[40];
			snprintf(le[i], sizeof(le[i]), "%s", fmt_double(tmp, d->buckets[i]));
		}
		for (size_t i = 0; i < m->fam[f].n && !rc; i++)
			rc = put_series(out, m->fam[f].s[i], le);
		if (!rc && out->len > METRICS_RENDER_MAX) {
			errno = EMSGSIZE;
			rc = -1;
		}
	}
	return rc ? -1 : 0;
}
