/*
 * klsd's view of the table and the stream: the lease table made at start, shard sync
 * (ListShards, paginated, then leases created for shards that have none and finished
 * leases cleaned up), and the take cycle (a consistent scan, the lease view updated,
 * our own leases re-adopted, then lease_plan_takes applied). Each network step runs on
 * the pool; its completion continues here on the main thread.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/klsd_int.h"
#include "supervisor/shard_sync.h"

/* Longest wait for a new table to become ACTIVE. */
#define TABLE_ACTIVE_TIMEOUT_MS 60000
/* Retry delay after a failed start-up step, doubling up to the cap. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

struct table_job {
	struct pool_job job;
	struct klsd *k;
	int rc;
	struct aws_error err;
};

struct sync_job {
	struct pool_job job;
	struct klsd *k;
	int rc;
	struct kinesis_shard_list list;
	struct aws_error err;
};

struct scan_job {
	struct pool_job job;
	struct klsd *k;
	kls_mono started;
	int rc;
	struct lease *v;
	size_t n, skipped;
	struct aws_error err;
};

/*
 * Runs job (embedded in the calloc'd j) on klsd's pool; while it runs, *busy is set and
 * *next (when it would start again) is never: its done() sets both. If the pool
 * refuses it, j is freed and the next tick tries again.
 */
static void
submit(struct klsd *k, struct pool_job *job, void *j, pool_run_fn run, pool_done_fn done,
    bool *busy, kls_mono *next)
{
	job->run = run;
	job->done = done;
	if (pool_submit(k->pool, job) < 0) {
		free(j);
		return;
	}
	*busy = true;
	*next = KLS_MONO_NEVER;
}

static int64_t
retry_after_ms(int tries)
{
	int64_t ms = RETRY_MIN_MS;

	for (int i = 1; i < tries && ms < RETRY_MAX_MS; i++)
		ms *= 2;
	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

/* ---------------------------------------------------------------- the table */

static void
table_run(struct pool_job *job, void *tctx)
{
	struct table_job *j = (struct table_job *)job;
	struct klsd_thread_ctx *t = tctx;

	j->rc = lease_store_ensure_table(t->ddb, &j->k->cfg, TABLE_ACTIVE_TIMEOUT_MS, &j->err);
}

static void
table_done(struct pool_job *job)
{
	struct table_job *j = (struct table_job *)job;
	struct klsd *k = j->k;
	kls_mono now = mono_now();

	k->table_busy = false;
	if (j->rc == DDB_OK) {
		log_info("lease table %s is ready", k->cfg.kls.table);
		if (k->phase == PHASE_TABLE) {
			k->phase = PHASE_RUNNING;
			/* Shard sync first, so the first take cycle sees every shard's lease. */
			k->next_sync = now;
		}
	} else {
		int64_t ms = retry_after_ms(++k->table_tries);
		log_errorx("lease table %s: %s; retry in %" PRId64 " ms", k->cfg.kls.table,
		    j->err.message, ms);
		k->next_table = mono_add_ms(now, ms);
	}
	free(j);
}

void
klsd_start_table(struct klsd *k)
{
	struct table_job *j;

	if (k->table_busy || !(j = calloc(1, sizeof(*j))))
		return;
	j->k = k;
	submit(k, &j->job, j, table_run, table_done, &k->table_busy, &k->next_table);
}

/* ---------------------------------------------------------------- shard sync */

bool
klsd_shard_closed(const struct klsd *k, const char *shard)
{
	for (size_t i = 0; k->have_shards && i < k->shards.n; i++)
		if (strcmp(k->shards.shards[i].shard_id, shard) == 0)
			return kinesis_shard_closed(&k->shards.shards[i]);
	return false;
}

static void
sync_run(struct pool_job *job, void *tctx)
{
	struct sync_job *j = (struct sync_job *)job;
	struct klsd_thread_ctx *t = tctx;

	j->rc = kinesis_list_shards(t->kin, j->k->cfg.kls.stream, NULL, &j->list, &j->err);
}

static void
sync_apply(struct klsd *k)
{
	struct lease *create = NULL;
	char(*del)[LEASE_KEY_MAX] = NULL;
	size_t ncreate = 0, ndel = 0;

	if (shard_sync_plan(&k->shards, &k->view, k->cfg.reader.initial_position, &create,
	        &ncreate) < 0) {
		log_error("shard sync %s: planning new leases", k->cfg.kls.stream);
		return;
	}
	for (size_t i = 0; i < ncreate; i++) {
		if (klsd_write_pending(k, create[i].key))
			continue;
		if (klsd_submit_write(k, LW_CREATE, &create[i], NULL) == 0)
			k->creates_busy++;
		else
			log_errorx("create lease %s: cannot queue the write", create[i].key);
	}
	free(create);
	if (shard_sync_cleanup(&k->shards, &k->view, &del, &ndel) == 0) {
		for (size_t i = 0; i < ndel; i++) {
			struct lease_obs *o = lease_view_find(&k->view, del[i]);
			if (o && !held_find(k, del[i]) && !klsd_write_pending(k, del[i]) &&
			    klsd_submit_write(k, LW_DELETE, &o->l, NULL) < 0)
				log_errorx("delete lease %s: cannot queue the write", del[i]);
		}
		free(del);
	}
}

static void
sync_done(struct pool_job *job)
{
	struct sync_job *j = (struct sync_job *)job;
	struct klsd *k = j->k;
	kls_mono now = mono_now();

	k->sync_busy = false;
	k->next_sync = mono_add_ms(now, k->cfg.lease.shard_sync_interval_ms);
	if (j->rc == 0) {
		size_t open = 0;
		for (size_t i = 0; i < j->list.n; i++)
			open += !kinesis_shard_closed(&j->list.shards[i]);
		log_debug("shard sync %s: %zu shards, %zu open", k->cfg.kls.stream, j->list.n,
		    open);
		kinesis_shard_list_free(&k->shards);
		k->shards = j->list;
		k->have_shards = true;
		if (k->phase == PHASE_RUNNING)
			sync_apply(k);
		/* SHARD_END requests that waited for the listing. */
		for (size_t i = 0; i < k->nheld; i++)
			if (k->held[i]->ckpt_need_closed) {
				k->held[i]->ckpt_need_closed = false;
				supervise_checkpoint_request(k, k->held[i]);
			}
	} else {
		kinesis_shard_list_free(&j->list);
		log_errorx("shard sync %s: %s; retry in %d ms", k->cfg.kls.stream, j->err.message,
		    RETRY_MIN_MS * 5);
		k->next_sync = mono_add_ms(now, RETRY_MIN_MS * 5);
	}
	if (!k->synced_once && k->creates_busy == 0) {
		/* Nothing to create (or the listing failed): take what the table has. */
		k->synced_once = true;
		k->next_take = now;
	}
	free(j);
}

void
klsd_start_sync(struct klsd *k)
{
	struct sync_job *j;

	if (k->sync_busy || k->phase == PHASE_TABLE || !(j = calloc(1, sizeof(*j))))
		return;
	j->k = k;
	submit(k, &j->job, j, sync_run, sync_done, &k->sync_busy, &k->next_sync);
}

/* ---------------------------------------------------------------- take cycle */

static void
scan_run(struct pool_job *job, void *tctx)
{
	struct scan_job *j = (struct scan_job *)job;
	struct klsd_thread_ctx *t = tctx;

	j->rc =
	    lease_store_scan(t->ddb, j->k->cfg.kls.table, 0, &j->v, &j->n, &j->skipped, &j->err);
}

static bool
take_pending(const struct klsd *k, const char *key)
{
	return held_find((struct klsd *)k, key) || klsd_write_pending(k, key);
}

/* Our own leases that we do not hold: a previous klsd with our worker id held them
 * (its readers are gone: klsd_new made sure), or a handoff to us completed. */
static void
adopt_own(struct klsd *k, kls_mono now)
{
	const struct config_lease *c = &k->cfg.lease;

	for (size_t i = 0; i < k->view.n; i++) {
		struct lease_obs *o = &k->view.v[i];
		const struct lease *l = &o->l;

		if (take_pending(k, l->key) || lease_is_finished(l))
			continue;
		if (strcmp(l->owner, k->me) == 0 && l->checkpoint_owner[0] == '\0') {
			if (!lease_parents_done(&k->view, l))
				continue;
			if (!held_add(k, l, HELD_ADOPTING)) {
				log_errorx("lease %s: no free shm slot to adopt it", l->key);
				continue;
			}
			log_info("lease %s is ours (counter %" PRIu64 "): re-adopting it", l->key,
			    l->counter);
		} else if (strcmp(l->owner, k->me) == 0 &&
		           strcmp(l->checkpoint_owner, k->me) != 0) {
			/* Handed to us; the old owner is still draining. Force it only after
			 * the handoff timeout and a full failover time without a write. */
			if (mono_diff_ms(o->changed_at, now) >=
			    (int64_t)c->handoff_timeout_ms + c->failover_ms) {
				log_warnx("lease %s: %s did not finish the handoff; taking it",
				    l->key, l->checkpoint_owner);
				if (klsd_submit_write(k, LW_TAKE, l, NULL) < 0)
					log_errorx("take %s: cannot queue the write", l->key);
			}
		} else if (strcmp(l->checkpoint_owner, k->me) == 0 &&
		           strcmp(l->owner, k->me) != 0) {
			/* We were asked to hand it over, but we have no reader for it (a
			 * restart): nothing to drain, finish the handoff now. */
			log_info("lease %s: finishing the handoff to %s", l->key, l->owner);
			if (klsd_submit_write(k, LW_HANDOFF_DONE, l, NULL) < 0)
				log_errorx("handoff done %s: cannot queue the write", l->key);
		}
	}
}

static void
take_cycle(struct klsd *k, kls_mono scan_started, kls_mono now)
{
	struct lease_plan_params p = {
		.me = k->me,
		.failover_ms = k->cfg.lease.failover_ms,
		.max_leases = (int)k->cfg.lease.max_leases,
	};
	struct lease_plan plan;
	bool waiting = false;

	/* A lease we gave up while the scan ran may still show us as owner in it: adopt
	 * only from a scan that began after our last release. */
	svc_take_cycle(k, now);
	if (!mono_before(scan_started, k->last_drop))
		adopt_own(k, now);
	if (lease_plan_takes(&k->view, &p, now, &plan) < 0) {
		log_error("take cycle: planning");
		return;
	}
	log_debug("take cycle: %zu leases, %d live workers, target %d, held %d, %zu actions",
	    k->view.n, plan.live_workers, plan.target, plan.held, plan.nactions);
	observe_workers(k, plan.live_workers);
	if (plan.foreign_leases != k->foreign_logged) {
		if (plan.foreign_leases)
			log_warnx(
			    "worker %s, which is not a kls worker (KCL?), still holds %d live "
			    "leases (%d by workers that are not kls in all): not taking them "
			    "until their leaseCounter stands still for %" PRId64 " ms",
			    plan.foreign_owner, plan.foreign_owner_leases, plan.foreign_leases,
			    (int64_t)k->cfg.lease.failover_ms);
		else
			log_info("no live leases of workers that are not kls are left");
		k->foreign_logged = plan.foreign_leases;
	}
	for (size_t i = 0; i < plan.nactions; i++) {
		const struct lease_action *a = &plan.actions[i];
		struct lease_obs *o = lease_view_find(&k->view, a->key);
		enum lease_write_kind kind = a->kind == LEASE_TAKE ? LW_TAKE : LW_HANDOFF_REQUEST;

		if (!o || take_pending(k, a->key) || svc_avoiding(k, a->key))
			continue;
		/* The quicker cycles below must not ask for more than one lease per take
		 * interval. */
		if (kind == LW_HANDOFF_REQUEST) {
			if (mono_before(now, k->next_handoff))
				continue;
			k->next_handoff = mono_add_ms(now, k->cfg.lease.take_interval_ms);
			waiting = true;
		}
		if (klsd_submit_write(k, kind, &o->l, NULL) < 0)
			log_errorx("%s %s: cannot queue the write", lease_write_name(kind), a->key);
	}
	lease_plan_free(&plan);
	for (size_t i = 0; i < k->view.n && !waiting; i++) {
		const struct lease *l = &k->view.v[i].l;
		waiting = strcmp(l->owner, k->me) == 0 && l->checkpoint_owner[0] &&
		          strcmp(l->checkpoint_owner, k->me) != 0;
	}
	/* A handoff to us is under way: its old owner drains and finishes in about a
	 * drain's time. Look again after a renew interval, not a take interval, so the
	 * shard does not sit idle for most of a take interval after the handoff. */
	if (waiting) {
		kls_mono soon = mono_add_ms(now, k->cfg.lease.renew_interval_ms);
		if (mono_before(soon, k->next_take))
			k->next_take = soon;
	}
}

/* Leases the table gives us that we do not hold: handed over to us, or ours from a
 * scan taken before we started them. Release those ready (so the others take them in
 * their next cycle instead of after they expire); true while a handoff to us is still
 * drained by its old owner (one whose counter stood still for failover_ms has stalled:
 * it is left to expire). Submits writes only with `release`. */
static bool
handed_to_us(struct klsd *k, bool release)
{
	kls_mono now = mono_now();
	bool pending = false;

	for (size_t i = 0; i < k->view.n; i++) {
		const struct lease *l = &k->view.v[i].l;

		if (strcmp(l->owner, k->me) != 0 || lease_is_finished(l) || take_pending(k, l->key))
			continue;
		if (l->checkpoint_owner[0]) {
			pending |= strcmp(l->checkpoint_owner, k->me) != 0 &&
			           !lease_is_expired(&k->view.v[i], now, k->cfg.lease.failover_ms);
			continue;
		}
		pending |= !release;
		if (!release)
			continue;
		log_info("lease %s: ours but not read while shutting down; releasing it", l->key);
		if (klsd_submit_write(k, LW_RELEASE, l, NULL) < 0)
			log_errorx("release %s: cannot queue the write", l->key);
	}
	return pending;
}

void
klsd_stopping_handed(struct klsd *k)
{
	k->handed_pending = handed_to_us(k, false);
	if (k->handed_pending)
		k->next_take = mono_now();
}

static void
scan_done(struct pool_job *job)
{
	struct scan_job *j = (struct scan_job *)job;
	struct klsd *k = j->k;
	kls_mono now = mono_now();

	k->scan_busy = false;
	k->next_take = mono_add_ms(now, k->cfg.lease.take_interval_ms);
	if (j->rc != DDB_OK) {
		int64_t ms =
		    k->cfg.lease.take_interval_ms < 2000 ? k->cfg.lease.take_interval_ms : 2000;
		log_errorx("take cycle: %s; retry in %" PRId64 " ms", j->err.message, ms);
		k->next_take = mono_add_ms(now, ms);
		free(j);
		return;
	}
	if (j->skipped)
		log_warnx("take cycle: %zu items of %s are not leases, ignored (first: %s)",
		    j->skipped, k->cfg.kls.table, j->err.message);
	/* "now" is after the scan: a counter first seen in it changed at or before now, so
	 * counting from here can only make expiry later, never early. */
	if (lease_view_merge_scan(&k->view, j->v, j->n, now) < 0)
		log_errorx("take cycle: out of memory merging the scan");
	else if (k->phase == PHASE_RUNNING)
		take_cycle(k, j->started, now);
	else if (k->phase == PHASE_STOPPING && !mono_before(j->started, k->last_drop))
		k->handed_pending = handed_to_us(k, true);
	if (k->phase == PHASE_STOPPING && k->handed_pending)
		k->next_take = mono_add_ms(now, k->cfg.lease.renew_interval_ms);
	free(j->v);
	free(j);
}

void
klsd_start_scan(struct klsd *k)
{
	struct scan_job *j;

	if (k->scan_busy || (k->phase != PHASE_RUNNING && k->phase != PHASE_STOPPING) ||
	    !(j = calloc(1, sizeof(*j))))
		return;
	j->k = k;
	j->started = mono_now();
	submit(k, &j->job, j, scan_run, scan_done, &k->scan_busy, &k->next_take);
}
