/*
 * Tests of supervisor/metrics: the registry's rules, the exposition text read back by a
 * strict parser of format 0.0.4 (HELP/TYPE before samples, label escapes, cumulative
 * buckets), listen addresses, and /metrics scraped with libcurl from a server running
 * its poll loop in a thread.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/latency.h"
#include "supervisor/metrics.h"
#include "tests/harness.h"

/* ---- a strict exposition parser ---- */

#define SAMPLES_MAX 512
#define LABELS_MAX 6
#define TYPES_MAX 32

struct sample {
	char name[128];
	int nlabels;
	char key[LABELS_MAX][32];
	char val[LABELS_MAX][METRICS_LABEL_MAX + 1];
	double value;
};

struct exposition {
	size_t n;
	struct sample s[SAMPLES_MAX];
	char types[TYPES_MAX][2][64]; /* family name, type */
	size_t ntypes;
};

/* Parses one label value after its opening quote; returns the byte after the closing
 * quote, or NULL when the escaping is wrong. */
static const char *
parse_value(const char *p, char *out, size_t size)
{
	size_t n = 0;

	for (; *p && *p != '"'; p++) {
		char c = *p;
		if (c == '\n')
			return NULL; /* a raw newline must have been escaped */
		if (c == '\\') {
			p++;
			if (*p == 'n')
				c = '\n';
			else if (*p == '\\' || *p == '"')
				c = *p;
			else
				return NULL;
		}
		if (n + 1 >= size)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

static const char *
family_of(const char *name, const struct exposition *e)
{
	for (size_t i = 0; i < e->ntypes; i++) {
		size_t l = strlen(e->types[i][0]);
		if (!strncmp(name, e->types[i][0], l) &&
		    (!name[l] || !strcmp(name + l, "_bucket") || !strcmp(name + l, "_sum") ||
		        !strcmp(name + l, "_count")))
			return e->types[i][0];
	}
	return NULL;
}

/* Fails the current test on any line that does not follow the format. */
static void
parse_exposition(const char *text, struct exposition *e)
{
	char help_for[64] = "";
	const char *line = text;

	memset(e, 0, sizeof(*e));
	CU_ASSERT_FATAL(text[0] && text[strlen(text) - 1] == '\n');
	while (*line) {
		const char *end = strchr(line, '\n'), *p;
		char buf[2048];
		size_t len;

		CU_ASSERT_FATAL(end != NULL);
		len = (size_t)(end - line);
		CU_ASSERT_FATAL(len < sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		if (!strncmp(buf, "# HELP ", 7)) {
			CU_ASSERT_FATAL(sscanf(buf + 7, "%63s", help_for) == 1);
			continue;
		}
		if (!strncmp(buf, "# TYPE ", 7)) {
			CU_ASSERT_FATAL(e->ntypes < TYPES_MAX);
			CU_ASSERT_FATAL(sscanf(buf + 7, "%63s %63s", e->types[e->ntypes][0],
			                    e->types[e->ntypes][1]) == 2);
			/* HELP comes right before TYPE for the same family. */
			CU_ASSERT_STRING_EQUAL(help_for, e->types[e->ntypes][0]);
			e->ntypes++;
			continue;
		}
		CU_ASSERT_FATAL(buf[0] != '#' && e->n < SAMPLES_MAX);
		struct sample *s = &e->s[e->n++];
		p = buf;
		len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:0123456789");
		CU_ASSERT_FATAL(len > 0 && len < sizeof(s->name));
		memcpy(s->name, p, len);
		p += len;
		/* A sample belongs to the family whose TYPE was given last. */
		CU_ASSERT_FATAL(e->ntypes > 0);
		CU_ASSERT_PTR_EQUAL(family_of(s->name, e), e->types[e->ntypes - 1][0]);
		if (*p == '{') {
			p++;
			while (*p != '}') {
				CU_ASSERT_FATAL(s->nlabels < LABELS_MAX);
				len = strcspn(p, "=");
				CU_ASSERT_FATAL(
				    len > 0 && len < 32 && p[len] == '=' && p[len + 1] == '"');
				memcpy(s->key[s->nlabels], p, len);
				p = parse_value(p + len + 2, s->val[s->nlabels], sizeof(s->val[0]));
				CU_ASSERT_PTR_NOT_NULL_FATAL(p);
				s->nlabels++;
				if (*p == ',')
					p++;
				else
					CU_ASSERT_FATAL(*p == '}');
			}
			p++;
		}
		CU_ASSERT_FATAL(*p == ' ');
		p++;
		if (!strcmp(p, "+Inf"))
			s->value = INFINITY;
		else {
			char *vend;
			s->value = strtod(p, &vend);
			CU_ASSERT_FATAL(vend != p && *vend == '\0');
		}
	}
}

/* The value of the sample with this name and labels ("k=v" strings, NULL-terminated,
 * in any order; exactly these labels); NAN when there is none. */
static double
find(const struct exposition *e, const char *name, const char *const *labels)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct sample *s = &e->s[i];
		int n = 0, hit = 0;
		if (strcmp(s->name, name))
			continue;
		for (; labels[n]; n++)
			for (int j = 0; j < s->nlabels; j++) {
				size_t kl = strlen(s->key[j]);
				if (!strncmp(labels[n], s->key[j], kl) && labels[n][kl] == '=' &&
				    !strcmp(labels[n] + kl + 1, s->val[j]))
					hit++;
			}
		if (n == s->nlabels && hit == n)
			return s->value;
	}
	return NAN;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const weird_shard = "we\"ird\\sh\nard";

/* A registry as klsd would fill it for two shards. */
static struct metrics *
filled(void)
{
	struct metrics *m = metrics_new();
	struct metric_labels a = {"orders", "shardId-000000000000", "host-a:1", NULL, NULL, NULL};
	struct metric_labels b = {"orders", weird_shard, "host-a:1", NULL, NULL, NULL};

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_RECORDS_PROCESSED, &a, 100), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_RECORDS_PROCESSED, &a, 50), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_RECORDS_PROCESSED, &b, 7), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_BYTES_PROCESSED, &a, 1e12), 0);
	CU_ASSERT_EQUAL(metrics_set(m, KLS_M_MILLIS_BEHIND, &a, 2500), 0);
	CU_ASSERT_EQUAL(metrics_set(m, KLS_M_LEASES_HELD, &a, 2), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_LEASE_RENEWALS, &a, 1), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_LEASE_TAKES, &a, 2), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_LEASES_LOST, &a, 0), 0);
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_GETRECORDS_SECONDS, &a, 0.004), 0);
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_GETRECORDS_SECONDS, &a, 0.2), 0);
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_GETRECORDS_SECONDS, &a, 0.25), 0);
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_GETRECORDS_SECONDS, &a, 60), 0);
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_HANDLER_SECONDS, &b, 0.0005), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_READER_RESTARTS, &b, 1), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_POISON_RECORDS, &b, 1), 0);
	/* A fan-out shard: the mode label is the read mode's own. */
	a.mode = "fan-out";
	CU_ASSERT_EQUAL(metrics_set(m, KLS_M_READ_MODE, &a, 1), 0);
	a.mode = NULL;
	CU_ASSERT_EQUAL(metrics_set(m, KLS_M_FANOUT_SUBSCRIPTION_AGE, &a, 12.5), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_FANOUT_RESUBSCRIBES, &a, 3), 0);
	/* A reader's handler histogram from shm: 2 in (0.001, 0.005], 1 above 30 s. */
	{
		uint64_t bk[KLS_LAT_HANDLER_N] = { 0, 2 };
		struct metric_series *h = metrics_series(m, KLS_M_HANDLER_SECONDS, &a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		CU_ASSERT_EQUAL(metric_hist_add(h, bk, KLS_LAT_HANDLER_N, 3, 40.008), 0);
	}
	/* Lease writes: per worker and op, no shard (a shard given is not a label). */
	a.op = "renew";
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_LEASE_WRITE_SECONDS, &a, 0.004), 0);
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_LEASE_WRITE_SECONDS, &a, 0.012), 0);
	a.op = "checkpoint";
	CU_ASSERT_EQUAL(metrics_observe(m, KLS_M_LEASE_WRITE_SECONDS, &a, 3), 0);
	a.reason = "throttled";
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_LEASE_WRITE_FAILURES, &a, 1), 0);
	a.op = "take";
	a.reason = "conditional";
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_LEASE_WRITE_FAILURES, &a, 1), 0);
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_LEASE_WRITE_FAILURES, &a, 1), 0);
	a.op = a.reason = NULL;
	CU_ASSERT_EQUAL(metrics_set(m, KLS_M_WORKERS, &a, 3), 0);
	return m;
}

/* What a scrape of filled() must say, whichever way the text was obtained. */
static void
check_filled(const char *text)
{
	static const char *const types[][2] = {
	    {"kls_records_processed_total", "counter"},
	    {"kls_bytes_processed_total", "counter"},
	    {"kls_millis_behind_latest", "gauge"},
	    {"kls_leases_held", "gauge"},
	    {"kls_lease_renewals_total", "counter"},
	    {"kls_lease_takes_total", "counter"},
	    {"kls_leases_lost_total", "counter"},
	    {"kls_getrecords_seconds", "histogram"},
	    {"kls_handler_seconds", "histogram"},
	    {"kls_reader_restarts_total", "counter"},
	    {"kls_poison_records_total", "counter"},
	    {"kls_read_mode", "gauge"},
	    {"kls_fanout_subscription_age_seconds", "gauge"},
	    {"kls_fanout_resubscribes_total", "counter"},
	    {"kls_lease_write_seconds", "histogram"},
	    {"kls_lease_write_failures_total", "counter"},
	    {"kls_workers", "gauge"},
	};
	static struct exposition e;
	const char *a[] = {"stream=orders", "shard=shardId-000000000000", "worker=host-a:1", NULL};
	char weird[64];

	parse_exposition(text, &e);
	CU_ASSERT_EQUAL_FATAL(e.ntypes, sizeof(types) / sizeof(types[0]));
	for (size_t i = 0; i < e.ntypes; i++) {
		CU_ASSERT_STRING_EQUAL(e.types[i][0], types[i][0]);
		CU_ASSERT_STRING_EQUAL(e.types[i][1], types[i][1]);
	}
	CU_ASSERT_EQUAL(find(&e, "kls_records_processed_total", a), 150);
	CU_ASSERT_EQUAL(find(&e, "kls_bytes_processed_total", a), 1e12);
	CU_ASSERT_EQUAL(find(&e, "kls_millis_behind_latest", a), 2500);
	/* Worker-level families carry no shard label. */
	CU_ASSERT_EQUAL(find(&e, "kls_leases_held", L("stream=orders", "worker=host-a:1")), 2);
	CU_ASSERT_EQUAL(
	    find(&e, "kls_lease_takes_total", L("stream=orders", "worker=host-a:1")), 2);
	CU_ASSERT_EQUAL(
	    find(&e, "kls_leases_lost_total", L("stream=orders", "worker=host-a:1")), 0);
	/* The escaped shard label reads back as it was given. */
	snprintf(weird, sizeof(weird), "shard=%s", weird_shard);
	CU_ASSERT_EQUAL(
	    find(&e, "kls_records_processed_total", L("stream=orders", weird, "worker=host-a:1")),
	    7);
	CU_ASSERT_EQUAL(
	    find(&e, "kls_poison_records_total", L("stream=orders", weird, "worker=host-a:1")), 1);
	/* Histogram: cumulative buckets; 0.25 falls in le="0.25"; 60 only in +Inf. */
	static const struct {
		const char *le;
		double count;
	} buckets[] = {
	    {"le=0.005", 1}, {"le=0.1", 1}, {"le=0.25", 3}, {"le=10", 3}, {"le=+Inf", 4}};
	for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
		CU_ASSERT_EQUAL(find(&e, "kls_getrecords_seconds_bucket",
		                    L("stream=orders", "shard=shardId-000000000000",
		                        "worker=host-a:1", buckets[i].le)),
		    buckets[i].count);
	CU_ASSERT_EQUAL(find(&e, "kls_getrecords_seconds_count", a), 4);
	CU_ASSERT(fabs(find(&e, "kls_getrecords_seconds_sum", a) - 60.454) < 1e-9);
	CU_ASSERT_EQUAL(find(&e, "kls_handler_seconds_bucket",
	                    L("stream=orders", weird, "worker=host-a:1", "le=0.001")),
	    1);
	/* Added from a reader's snapshot: cumulative like observed ones. */
	CU_ASSERT_EQUAL(find(&e, "kls_handler_seconds_bucket",
	                    L("stream=orders", "shard=shardId-000000000000", "worker=host-a:1",
	                        "le=0.001")),
	    0);
	CU_ASSERT_EQUAL(find(&e, "kls_handler_seconds_bucket",
	                    L("stream=orders", "shard=shardId-000000000000", "worker=host-a:1",
	                        "le=30")),
	    2);
	CU_ASSERT_EQUAL(find(&e, "kls_handler_seconds_bucket",
	                    L("stream=orders", "shard=shardId-000000000000", "worker=host-a:1",
	                        "le=+Inf")),
	    3);
	CU_ASSERT_EQUAL(find(&e, "kls_handler_seconds_count", a), 3);
	CU_ASSERT(fabs(find(&e, "kls_handler_seconds_sum", a) - 40.008) < 1e-9);
	CU_ASSERT_EQUAL(find(&e, "kls_read_mode",
	                    L("stream=orders", "shard=shardId-000000000000", "worker=host-a:1",
	                        "mode=fan-out")),
	    1);
	CU_ASSERT_EQUAL(find(&e, "kls_fanout_subscription_age_seconds", a), 12.5);
	CU_ASSERT_EQUAL(find(&e, "kls_fanout_resubscribes_total", a), 3);
	/* Lease writes by op: 4 ms and 12 ms renewals, a 3 s checkpoint. */
	static const struct {
		const char *op, *le;
		double count;
	} writes[] = {
	    {"op=renew", "le=0.0025", 0}, {"op=renew", "le=0.005", 1}, {"op=renew", "le=0.01", 1},
	    {"op=renew", "le=0.025", 2}, {"op=renew", "le=+Inf", 2},
	    {"op=checkpoint", "le=2.5", 0}, {"op=checkpoint", "le=5", 1},
	    {"op=checkpoint", "le=+Inf", 1},
	};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		CU_ASSERT_EQUAL(find(&e, "kls_lease_write_seconds_bucket",
		                    L("stream=orders", "worker=host-a:1", writes[i].op, writes[i].le)),
		    writes[i].count);
	CU_ASSERT_EQUAL(find(&e, "kls_lease_write_seconds_count",
	                    L("stream=orders", "worker=host-a:1", "op=renew")),
	    2);
	CU_ASSERT(fabs(find(&e, "kls_lease_write_seconds_sum",
	                   L("stream=orders", "worker=host-a:1", "op=renew")) -
	              0.016) < 1e-9);
	CU_ASSERT_EQUAL(find(&e, "kls_lease_write_seconds_count",
	                    L("stream=orders", "worker=host-a:1", "op=checkpoint")),
	    1);
	/* No series for an op that made no write. */
	CU_ASSERT(isnan(find(&e, "kls_lease_write_seconds_count",
	    L("stream=orders", "worker=host-a:1", "op=take"))));
	CU_ASSERT_EQUAL(find(&e, "kls_lease_write_failures_total",
	                    L("stream=orders", "worker=host-a:1", "op=take", "reason=conditional")),
	    2);
	CU_ASSERT_EQUAL(find(&e, "kls_lease_write_failures_total",
	                    L("stream=orders", "worker=host-a:1", "op=checkpoint",
	                        "reason=throttled")),
	    1);
	CU_ASSERT_EQUAL(find(&e, "kls_workers", L("stream=orders", "worker=host-a:1")), 3);
}

/* metric_hist_add refuses what does not make a histogram, and then adds nothing. */
static void
test_metrics_hist_add(void)
{
	struct metrics *m = metrics_new();
	struct metric_labels a = {"s", "shardId-1", "w", NULL, NULL, NULL};
	uint64_t bk[KLS_LAT_GETRECORDS_N] = { 1, 1 };
	static const struct {
		enum kls_metric id;
		size_t nbucket;
		uint64_t count;
		double sum;
	} bad[] = {
		{ KLS_M_GETRECORDS_SECONDS, KLS_LAT_GETRECORDS_N - 1, 2, 1 }, /* bucket count */
		{ KLS_M_GETRECORDS_SECONDS, KLS_LAT_HANDLER_N, 2, 1 },
		{ KLS_M_GETRECORDS_SECONDS, KLS_LAT_GETRECORDS_N, 1, 1 },     /* 2 > count */
		{ KLS_M_GETRECORDS_SECONDS, KLS_LAT_GETRECORDS_N, 2, -1 },    /* sum < 0 */
		{ KLS_M_GETRECORDS_SECONDS, KLS_LAT_GETRECORDS_N, 2, NAN },
		{ KLS_M_RECORDS_PROCESSED, KLS_LAT_GETRECORDS_N, 2, 1 },      /* not a histogram */
	};
	struct kls_buf b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metric_series *s = metrics_series(m, bad[i].id, &a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		errno = 0;
		CU_ASSERT_EQUAL(metric_hist_add(s, bk, bad[i].nbucket, bad[i].count, bad[i].sum), -1);
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
	buf_init(&b, 0);
	CU_ASSERT_EQUAL_FATAL(metrics_render(m, &b), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "kls_getrecords_seconds_count{stream=\"s\","
	                                      "shard=\"shardId-1\",worker=\"w\"} 0\n"));
	buf_free(&b);
	metrics_free(m);
}

static void
test_metrics_exposition(void)
{
	struct metrics *m = filled();
	struct kls_buf b;

	buf_init(&b, 0);
	CU_ASSERT_EQUAL_FATAL(metrics_render(m, &b), 0);
	check_filled(b.data);
	/* Exact spellings a scraper depends on. */
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "# HELP kls_records_processed_total Records delivered to the handler and accepted "
	    "by it.\n# TYPE kls_records_processed_total counter\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "kls_records_processed_total{stream=\"orders\",shard=\"we\\\"ird\\\\sh\\nard\","
	    "worker=\"host-a:1\"} 7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "kls_bytes_processed_total{stream=\"orders\","
	                                      "shard=\"shardId-000000000000\",worker=\"host-a:1\"} "
	                                      "1000000000000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, ",le=\"0.1\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, ",le=\"+Inf\"} 4\n"));
	buf_free(&b);
	metrics_free(m);
}

static void
test_metrics_rules(void)
{
	struct metrics *m = metrics_new();
	struct metric_labels a = {"s", "shardId-1", "w", NULL, NULL, NULL}, noshard = {"s", NULL, "w", NULL, NULL, NULL};
	struct metric_series *c, *g, *h, *held, *held2;
	char longlabel[METRICS_LABEL_MAX + 2];

	c = metrics_series(m, KLS_M_RECORDS_PROCESSED, &a);
	g = metrics_series(m, KLS_M_MILLIS_BEHIND, &a);
	h = metrics_series(m, KLS_M_HANDLER_SECONDS, &a);
	CU_ASSERT_FATAL(c && g && h);
	CU_ASSERT_PTR_EQUAL(metrics_series(m, KLS_M_RECORDS_PROCESSED, &a), c);
	errno = 0;
	CU_ASSERT_EQUAL(metric_add(c, -1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(metric_add(c, NAN), -1);
	CU_ASSERT_EQUAL(metric_set(c, 5), -1);
	CU_ASSERT_EQUAL(metric_observe(c, 5), -1);
	CU_ASSERT_EQUAL(metric_add(g, -5), 0); /* gauges go down */
	CU_ASSERT_EQUAL(metric_observe(g, 1), -1);
	CU_ASSERT_EQUAL(metric_add(h, 1), -1);
	CU_ASSERT_EQUAL(metric_observe(h, NAN), -1);

	/* A label the family does not use does not make a new series. */
	held = metrics_series(m, KLS_M_LEASES_HELD, &a);
	held2 = metrics_series(m, KLS_M_LEASES_HELD, &noshard);
	CU_ASSERT_PTR_EQUAL(held, held2);

	memset(longlabel, 'x', sizeof(longlabel) - 1);
	longlabel[sizeof(longlabel) - 1] = '\0';
	struct metric_labels bad = {"s", longlabel, "w", NULL, NULL, NULL};
	errno = 0;
	CU_ASSERT_PTR_NULL(metrics_series(m, KLS_M_RECORDS_PROCESSED, &bad));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(metrics_series(m, KLS_M_COUNT, &a));
	CU_ASSERT_EQUAL(errno, EINVAL);

	/* Bounded: a family stops growing at METRICS_SERIES_MAX. */
	for (int i = 1; i < METRICS_SERIES_MAX; i++) {
		char shard[32];
		struct metric_labels l = {"s", shard, "w", NULL, NULL, NULL};
		snprintf(shard, sizeof(shard), "shardId-x%d", i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(metrics_series(m, KLS_M_POISON_RECORDS, &l));
	}
	CU_ASSERT_PTR_NOT_NULL(metrics_series(m, KLS_M_POISON_RECORDS, &a));
	struct metric_labels more = {"s", "shardId-more", "w", NULL, NULL, NULL};
	errno = 0;
	CU_ASSERT_PTR_NULL(metrics_series(m, KLS_M_POISON_RECORDS, &more));
	CU_ASSERT_EQUAL(errno, ENOSPC);
	metrics_free(m);
}

/* A shard given up leaves no series behind; other shards and worker series stay. */
static void
test_metrics_forget_shard(void)
{
	struct metrics *m = filled();
	struct kls_buf b;

	metrics_forget_shard(m, "shardId-000000000000");
	/* The index still finds the series that stayed. */
	CU_ASSERT_EQUAL(metrics_add(m, KLS_M_RECORDS_PROCESSED,
	                    &(struct metric_labels){"orders", weird_shard, "host-a:1", NULL, NULL, NULL}, 1),
	    0);
	buf_init(&b, 0);
	CU_ASSERT_EQUAL_FATAL(metrics_render(m, &b), 0);
	CU_ASSERT_PTR_NULL(strstr(b.data, "shardId-000000000000"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "shard=\"we\\\"ird\\\\sh\\nard\",worker=\"host-a:1\"} 8\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "kls_leases_held{stream=\"orders\","
	                                      "worker=\"host-a:1\"} 2\n"));
	buf_free(&b);
	metrics_free(m);
}

static void
test_metrics_parse_listen(void)
{
	static const struct {
		const char *text;
		int rc;
		int family;
		unsigned port;
		const char *err;
	} cases[] = {
	    {"127.0.0.1:9100", 0, AF_INET, 9100, NULL},
	    {"0.0.0.0:0", 0, AF_INET, 0, NULL},
	    {"[::1]:9100", 0, AF_INET6, 9100, NULL},
	    {"[::]:65535", 0, AF_INET6, 65535, NULL},
	    {"localhost:9100", -1, 0, 0, "\"localhost\" is not a numeric IPv4"},
	    {"127.0.0.1", -1, 0, 0, "is not HOST:PORT"},
	    {"127.0.0.1:65536", -1, 0, 0, "is not a number from 0 to 65535"},
	    {"127.0.0.1:12ab", -1, 0, 0, "port \"12ab\" is not a number"},
	    {"127.0.0.1:-1", -1, 0, 0, "port \"-1\" is not a number"},
	    {"127.0.0.1:", -1, 0, 0, "port \"\" is not a number"},
	    {"1.2.3:80", -1, 0, 0, "\"1.2.3\" is not a numeric IPv4"},
	    {"::1:80", -1, 0, 0, "(IPv6 goes in brackets)"},
	    {"[127.0.0.1]:80", -1, 0, 0, "is not a numeric IPv6 address"},
	    {":80", -1, 0, 0, "no numeric IP address before the port"},
	    {"9100", -1, 0, 0, "is not HOST:PORT"},
	    {"", -1, 0, 0, "is not HOST:PORT"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char err[256] = "";
		int rc = metrics_parse_listen(cases[i].text, &ss, &len, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (rc == 0) {
			CU_ASSERT_EQUAL(ss.ss_family, cases[i].family);
			CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in *)&ss)->sin_port),
			    cases[i].port); /* same offset in sockaddr_in6 */
		} else {
			CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].err));
			if (!strstr(err, cases[i].err))
				fprintf(stderr, "case %zu: %s\n", i, err);
		}
	}
}

/* ---- the HTTP endpoint ---- */

struct server {
	struct metrics_http *h;
	pthread_t th;
	int stop[2];
};

static void *
serve(void *arg)
{
	struct server *sv = arg;

	for (;;) {
		struct pollfd p[2] = {
		    {metrics_http_fd(sv->h), POLLIN, 0}, {sv->stop[0], POLLIN, 0}};
		int64_t t = metrics_http_timeout_ms(sv->h);
		if (poll(p, 2, t < 0 || t > 1000 ? 1000 : (int)t) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		metrics_http_handle(sv->h);
	}
	return NULL;
}

struct fetched {
	long status;
	char ctype[128];
	struct kls_buf body;
};

static size_t
on_body(char *p, size_t size, size_t n, void *userdata)
{
	struct kls_buf *b = userdata;
	return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

static void
fetch(uint16_t port, const char *path, const char *method, struct fetched *f)
{
	char url[128];
	char *ct = NULL;
	CURL *c = curl_easy_init();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	buf_init(&f->body, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	CU_ASSERT_EQUAL_FATAL(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(f->ctype, sizeof(f->ctype), "%s", ct ? ct : "");
	curl_easy_cleanup(c);
}

static void
test_metrics_http_scrape(void)
{
	struct metrics *m = filled();
	struct metrics_http *other;
	struct fetched f;
	struct server sv;
	char err[256], addr[64];
	uint16_t port;

	CU_ASSERT_EQUAL_FATAL(metrics_http_start(&sv.h, m, "127.0.0.1:0", err, sizeof(err)), 0);
	port = metrics_http_port(sv.h);
	CU_ASSERT(port > 0);
	/* The port is taken now: a second server says so, naming the address. */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	CU_ASSERT_EQUAL(metrics_http_start(&other, m, addr, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot listen on 127.0.0.1:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Address already in use"));
	CU_ASSERT_EQUAL(metrics_http_start(&other, m, "localhost:0", err, sizeof(err)), -1);

	CU_ASSERT_FATAL(pipe(sv.stop) == 0);
	CU_ASSERT_FATAL(pthread_create(&sv.th, NULL, serve, &sv) == 0);

	fetch(port, "/metrics", "GET", &f);
	CU_ASSERT_EQUAL(f.status, 200);
	CU_ASSERT_STRING_EQUAL(f.ctype, "text/plain; version=0.0.4; charset=utf-8");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.body.data);
	check_filled(f.body.data);
	buf_free(&f.body);

	fetch(port, "/metrics", "HEAD", &f);
	CU_ASSERT_EQUAL(f.status, 200);
	CU_ASSERT_EQUAL(f.body.len, 0);
	buf_free(&f.body);
	fetch(port, "/", "GET", &f);
	CU_ASSERT_EQUAL(f.status, 404);
	buf_free(&f.body);
	fetch(port, "/metrics", "POST", &f);
	CU_ASSERT_EQUAL(f.status, 405);
	buf_free(&f.body);

	CU_ASSERT(write(sv.stop[1], "x", 1) == 1);
	pthread_join(sv.th, NULL);
	close(sv.stop[0]);
	close(sv.stop[1]);

	/* Values move between scrapes (the loop is stopped while we change them). */
	CU_ASSERT_EQUAL(
	    metrics_add(m, KLS_M_RECORDS_PROCESSED,
	        &(struct metric_labels){"orders", "shardId-000000000000", "host-a:1", NULL, NULL, NULL}, 850),
	    0);
	CU_ASSERT_FATAL(pipe(sv.stop) == 0);
	CU_ASSERT_FATAL(pthread_create(&sv.th, NULL, serve, &sv) == 0);
	fetch(port, "/metrics", "GET", &f);
	CU_ASSERT_EQUAL(f.status, 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.body.data, "shard=\"shardId-000000000000\","
	                                           "worker=\"host-a:1\"} 1000\n"));
	buf_free(&f.body);
	CU_ASSERT(write(sv.stop[1], "x", 1) == 1);
	pthread_join(sv.th, NULL);
	close(sv.stop[0]);
	close(sv.stop[1]);
	metrics_http_stop(sv.h);
	metrics_free(m);
}

static int
init_curl(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : 1;
}

static int
clean_curl(void)
{
	curl_global_cleanup();
	return 0;
}

static CU_TestInfo metrics_tests[] = {
    {"exposition", test_metrics_exposition},
    {"rules", test_metrics_rules},
    {"histogram from a reader", test_metrics_hist_add},
    {"forget shard", test_metrics_forget_shard},
    {"parse listen", test_metrics_parse_listen},
    {"http scrape", test_metrics_http_scrape},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"metrics", init_curl, clean_curl, NULL, NULL, metrics_tests},
    CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
