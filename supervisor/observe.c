/*
 * klsd's Prometheus metrics ([metrics] listen): the registry of supervisor/metrics.h fed
 * from klsd's own counters (renewals, takes, losses, reader restarts, poison records,
 * leases held) and from the progress group each reader publishes in shm (records and
 * bytes processed, millis behind latest), labelled by stream, shard and worker.
 *
 * A reader's totals count from 0 in each run, so klsd counts what it has seen of each run
 * (held_svc.obs_*) and adds the difference; at reap it adds the run's last words, so a
 * crash loses nothing that reached shm. A run's progress group is its own only once the
 * run has beaten its heartbeat: the reader publishes its fresh, zeroed group before the
 * first beat (reader/handshake.c), and until then the group still shows the previous
 * run, which was counted already.
 *
 * The values are refreshed every OBSERVE_MS and right before nothing else: a scrape sees
 * them at most that old, and the loop does not read every slot on every turn.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/klsd_int.h"
#include "supervisor/metrics.h"

#define OBSERVE_MS 1000

static const enum kls_metric counter_metric[SVC_NCOUNTERS] = {
	[SVC_RENEWALS] = KLS_M_LEASE_RENEWALS,
	[SVC_TAKES] = KLS_M_LEASE_TAKES,
	[SVC_LOSSES] = KLS_M_LEASES_LOST,
	/* Per shard: observe_tick counts them from each lease's restart count. */
	[SVC_READER_RESTARTS] = KLS_M_COUNT,
	[SVC_POISON_RECORDS] = KLS_M_POISON_RECORDS,
};

int
observe_open(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;
	char err[512];

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
	s->next_observe = KLS_MONO_ZERO;
	return 0;
}

void
observe_close(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;

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
	return (struct metric_labels){ k->cfg.kls.stream, shard, k->me };
}

static void
add(struct klsd *k, enum kls_metric id, const char *shard, double v)
{
	struct metric_labels l = labels(k, shard);

	if (v > 0 && metrics_add(k->svc.m, id, &l, v) < 0)
		log_warn("metrics: %s", shard ? shard : "counter");
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

/* Counts what the run of h's reader did beyond what was counted already. */
static void
account(struct klsd *k, struct held *h, const struct kls_progress *pr)
{
	struct held_svc *o = &h->svc;

	if (o->obs_run.ns != h->proc.started_at.ns) {
		o->obs_run = h->proc.started_at;
		o->obs_records = o->obs_bytes = 0;
	}
	if (pr->records > o->obs_records)
		add(k, KLS_M_RECORDS_PROCESSED, h->l.key, (double)(pr->records - o->obs_records));
	if (pr->bytes > o->obs_bytes)
		add(k, KLS_M_BYTES_PROCESSED, h->l.key, (double)(pr->bytes - o->obs_bytes));
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
	if (k->svc.m && h->have_progress && run_published(h))
		account(k, h, &h->progress);
}

kls_mono
observe_tick(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;
	struct metric_labels l = labels(k, NULL);
	int64_t mhd;
	kls_mono next;

	if (!s->m)
		return KLS_MONO_NEVER;
	/* MHD's own timers (idle connections) run from here too. */
	mhd = metrics_http_timeout_ms(s->mh);
	if (mhd == 0 && metrics_http_handle(s->mh) < 0)
		log_warnx("/metrics: the HTTP server reported a failure");
	next = mhd >= 0 ? mono_add_ms(now, mhd > 0 ? mhd : OBSERVE_MS) : KLS_MONO_NEVER;
	if (mono_before(now, s->next_observe))
		return mono_before(s->next_observe, next) ? s->next_observe : next;
	s->next_observe = mono_add_ms(now, OBSERVE_MS);

	for (int c = 0; c < SVC_NCOUNTERS; c++) {
		if (counter_metric[c] == KLS_M_COUNT || c == SVC_POISON_RECORDS)
			continue;
		add(k, counter_metric[c], NULL, (double)(s->count[c] - s->count_published[c]));
		s->count_published[c] = s->count[c];
	}
	if (metrics_set(s->m, KLS_M_LEASES_HELD, &l, (double)k->nheld) < 0)
		log_warn("metrics: leases held");
	for (size_t i = 0; i < k->nheld; i++) {
		struct held *h = k->held[i];
		struct kls_progress pr;

		note_shard(s, h->l.key);
		if (h->proc.restarts > h->svc.obs_restarts) {
			add(k, KLS_M_READER_RESTARTS, h->l.key,
			    (double)(h->proc.restarts - h->svc.obs_restarts));
			h->svc.obs_restarts = h->proc.restarts;
		}
		if (!h->proc.pid || !run_published(h) ||
		    kls_shm_progress_read(h->s, &pr, KLS_SHM_READ_TRIES) < 0)
			continue;
		account(k, h, &pr);
		l.shard = h->l.key;
		if (pr.millis_behind >= 0 &&
		    metrics_set(s->m, KLS_M_MILLIS_BEHIND, &l, (double)pr.millis_behind) < 0)
			log_warn("metrics: millis behind %s", h->l.key);
	}
	/* Series of shards no longer held go (their gauges would lie). */
	for (size_t i = 0; i < s->nobserved;) {
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
observe_poison(struct klsd *k, const char *shard)
{
	if (k->svc.m)
		add(k, KLS_M_POISON_RECORDS, shard, 1);
}
