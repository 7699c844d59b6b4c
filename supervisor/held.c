/*
 * The leases this klsd holds, and every write of the lease protocol it makes (see
 * klsd_int.h for how the loop's files divide the work).
 *
 * One write per lease is in flight at a time: a renew and a checkpoint both require
 * leaseCounter = c and both bump it, so two at once would fence each other out. A
 * pending checkpoint goes first and counts as the renewal: the next renew is due a renew
 * interval after it. Automatic checkpoints wait up to checkpoint_interval_ms and at most
 * until the renewal they then replace (checkpoints.h, ckpt_due), so a lease whose
 * records flow costs one write per min(interval, renew interval) instead of one per
 * batch; they are flushed at once when the reader exits or drains or the lease goes.
 * When DynamoDB is slow the next renew comes sooner (lease_next_renew), so one slow
 * write does not drain a reader.
 *
 * Self-fencing: a lease's deadline is the time its last successful write was *sent*
 * (before the first attempt, so it is never late) plus failover_ms minus the safety
 * margin. Another worker can only take the lease after watching its counter stand
 * still for failover_ms after that write landed, so our deadline comes first; the
 * reader is drained before it and killed at it (supervise.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/klsd_int.h"

#define FINAL_TRIES 3 /* attempts at a release or handoff-done write before giving up */
/* Attempts at one handoff request whose only obstacle is the owner's own counter. */
#define HANDOFF_REQUEST_TRIES 3

struct held *
held_find(struct klsd *k, const char *key)
{
	for (size_t i = 0; i < k->nheld; i++)
		if (strcmp(k->held[i]->l.key, key) == 0)
			return k->held[i];
	return NULL;
}

struct held *
held_find_pid(struct klsd *k, pid_t pid)
{
	for (size_t i = 0; i < k->nheld; i++)
		if (k->held[i]->proc.pid == pid)
			return k->held[i];
	return NULL;
}

void
held_publish(struct held *h)
{
	kls_shm_lease_publish(h->s, &h->pub);
}

struct held *
held_add(struct klsd *k, const struct lease *l, enum held_state state)
{
	struct held *h;
	int slot;

	if (k->nheld == k->held_cap) {
		size_t ncap = k->held_cap ? k->held_cap * 2 : 16;
		struct held **nv = realloc(k->held, ncap * sizeof(*nv));
		if (!nv)
			return NULL;
		k->held = nv;
		k->held_cap = ncap;
	}
	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	h->l = *l;
	h->state = state;
	snprintf(h->pub.shard_id, sizeof(h->pub.shard_id), "%s", l->key);
	snprintf(h->pub.ckpt_seq, sizeof(h->pub.ckpt_seq), "%s", l->checkpoint);
	h->pub.ckpt_subseq = l->checkpoint_sub;
	/* The reader drops KPL aggregates outside the shard's range (shm minor 1). */
	snprintf(h->pub.hash_start, sizeof(h->pub.hash_start), "%s", l->starting_hash);
	snprintf(h->pub.hash_end, sizeof(h->pub.hash_end), "%s", l->ending_hash);
	h->pub.lease_counter = l->counter;
	h->pub.command = KLS_CMD_NONE;
	slot = kls_shm_slot_assign(k->shm, &h->pub);
	if (slot < 0) {
		free(h);
		return NULL;
	}
	h->slot = slot;
	h->s = kls_shm_slot(k->shm, (uint32_t)slot);
	reader_proc_init(&h->proc, l->key, slot);
	h->deadline = KLS_MONO_ZERO;
	h->next_renew = KLS_MONO_ZERO;
	k->held[k->nheld++] = h;
	return h;
}

void
held_remove(struct klsd *k, struct held *h)
{
	for (size_t i = 0; i < k->nheld; i++) {
		if (k->held[i] != h)
			continue;
		k->held[i] = k->held[--k->nheld];
		break;
	}
	kls_shm_slot_release(h->s);
	k->last_drop = mono_now();
	free(h);
}

bool
klsd_write_pending(const struct klsd *k, const char *key)
{
	for (const struct write_job *j = k->writes; j; j = j->next_out)
		if (strcmp(j->key, key) == 0)
			return true;
	return false;
}

static void write_run(struct pool_job *job, void *tctx);
static void write_done(struct pool_job *job);

int
klsd_submit_write(struct klsd *k, enum lease_write_kind kind, const struct lease *l,
    const struct ckpt_req *ck)
{
	struct write_job *j = calloc(1, sizeof(*j));
	const char *table = k->cfg.kls.table;

	/* After the loop ended, completions still run (pool_free) but nothing new may
	 * start: no thread would run it. */
	if (k->phase == PHASE_DONE || !j) {
		free(j);
		return -1;
	}
	j->k = k;
	j->kind = kind;
	j->before = *l;
	memcpy(j->key, l->key, sizeof(j->key));
	if (ck)
		j->ck = *ck;
	switch (kind) {
	case LW_CREATE: j->w = lease_write_create(table, l, &j->after); break;
	case LW_RENEW: j->w = lease_write_renew(table, l, k->me, &j->after); break;
	case LW_TAKE: j->w = lease_write_take(table, l, k->me, &j->after); break;
	case LW_CHECKPOINT:
	case LW_HANDOFF_CHECKPOINT:
		j->w = lease_write_checkpoint(table, kind, l, k->me, ck->seq, ck->sub, &j->after);
		break;
	case LW_RELEASE: j->w = lease_write_release(table, l, k->me, &j->after); break;
	case LW_HANDOFF_REQUEST:
		j->w = lease_write_handoff_request(table, l, k->me, &j->after);
		break;
	case LW_HANDOFF_DONE: j->w = lease_write_handoff_done(table, l, k->me, &j->after); break;
	case LW_DELETE:
		j->after = *l;
		j->w = lease_write_delete(table, l);
		break;
	}
	j->job.run = write_run;
	j->job.done = write_done;
	if (!j->w || pool_submit(k->pool, &j->job) < 0) {
		ddb_write_free(j->w);
		free(j);
		return -1;
	}
	j->next_out = k->writes;
	k->writes = j;
	return 0;
}

static void
write_run(struct pool_job *job, void *tctx)
{
	struct write_job *j = (struct write_job *)job;
	struct klsd_thread_ctx *t = tctx;

	lease_store_write(t->ddb, j->k->cfg.kls.table, j->key, j->w, &j->res);
}

/* Whether the write took effect: it succeeded, or its condition failed only because an
 * earlier attempt of this very write had landed. */
static bool
write_ok(const struct write_job *j)
{
	if (j->res.status == DDB_OK)
		return true;
	return j->res.status == DDB_CONDITION_FAILED && j->res.reread &&
	       lease_write_landed(j->kind, &j->after, &j->res.current, j->res.exists);
}

/* A write of ours on a held lease landed: adopt its result and extend the deadline. */
static void
held_wrote(struct klsd *k, struct held *h, const struct write_job *j, kls_mono now)
{
	const struct config_lease *c = &k->cfg.lease;

	h->l = j->after;
	h->deadline = lease_deadline(j->res.sent, c->failover_ms, c->safety_margin_ms);
	h->next_renew = lease_next_renew(j->res.sent, now, c->renew_interval_ms,
	    mono_add_ms(h->deadline, -klsd_drain_window_ms(&k->cfg)));
	h->last_write = j->res.sent;
	h->pub.lease_counter = h->l.counter;
	h->pub.deadline_ns = h->deadline.ns;
	held_publish(h);
	if (lease_view_update(&k->view, &h->l, now) < 0)
		log_warnx("lease %s: out of memory updating the lease view", h->l.key);
}

void
held_lost(struct klsd *k, struct held *h, const char *why)
{
	uint64_t g;

	if (h->state == HELD_LOST)
		return;
	log_warnx("lease %s lost: %s%s", h->l.key, why, h->proc.pid ? "; stopping its reader" : "");
	h->state = HELD_LOST;
	svc_count(k, SVC_LOSSES);
	g = ckpt_drop(&h->ck);
	if (g > h->pub.ckpt_gen)
		supervise_answer(h, g, KLS_CKPT_LEASE_LOST, "lease lost");
	if (h->proc.pid)
		supervise_command(h, KLS_CMD_STOP);
	else if (h->proc.state == READER_BACKOFF)
		h->proc.state = READER_IDLE;
}

void
held_ckpt_target(const struct held *h, const char **seq, uint64_t *sub)
{
	const struct ckpt_req *r = h->ck.pending    ? &h->ck.next
	                           : h->ck.inflight ? &h->ck.writing
	                                            : NULL;

	*seq = r ? r->seq : h->pub.ckpt_seq;
	*sub = r ? r->sub : h->pub.ckpt_subseq;
}

/* Starts letting go of h (RELEASING or HANDOFF): drain its reader for a final
 * checkpoint, then the last write (release or handoff done). */
static void
held_let_go(struct klsd *k, struct held *h, enum held_state state)
{
	h->state = state;
	h->final_done = false;
	h->final_tries = 0;
	h->next_final = KLS_MONO_ZERO;
	if (h->proc.pid) {
		supervise_command(h, KLS_CMD_DRAIN);
		h->proc.kill_at = mono_add_ms(mono_now(), k->cfg.reader.drain_timeout_ms);
	} else if (h->proc.state == READER_BACKOFF) {
		h->proc.state = READER_IDLE;
	}
}

void
held_release(struct klsd *k, struct held *h, const char *why)
{
	if (h->state == HELD_RELEASING || h->state == HELD_LOST || h->state == HELD_HANDOFF)
		return;
	log_info("lease %s: releasing (%s)%s", h->l.key, why,
	    h->proc.pid ? "; draining its reader" : "");
	held_let_go(k, h, HELD_RELEASING);
}

/* Another worker set itself owner and us checkpointOwner: hand the lease over. */
static void
held_handoff(struct klsd *k, struct held *h, const struct lease *cur)
{
	log_info("lease %s: worker %s asked for it; %s", h->l.key, cur->owner,
	    h->proc.pid ? "draining its reader for a final checkpoint" : "handing it over");
	h->l = *cur;
	held_let_go(k, h, HELD_HANDOFF);
}

/* A write's condition failed and the re-read shows someone else's state: react. */
static void
held_react(struct klsd *k, struct held *h, const struct write_job *j, kls_mono now)
{
	const struct lease *cur = &j->res.current;
	char why[LEASE_OWNER_MAX + 96];

	if (!j->res.exists) {
		held_lost(k, h, "the lease item was deleted");
		return;
	}
	if (lease_view_update(&k->view, cur, now) < 0)
		log_warnx("lease %s: out of memory updating the lease view", cur->key);
	if (strcmp(cur->checkpoint_owner, k->me) == 0 && strcmp(cur->owner, k->me) != 0 &&
	    h->state != HELD_LOST) {
		held_handoff(k, h, cur);
		return;
	}
	if (strcmp(cur->owner, k->me) == 0)
		snprintf(why, sizeof(why),
		    "counter moved to %" PRIu64 " by another writer with our worker id",
		    cur->counter);
	else if (cur->owner[0])
		snprintf(why, sizeof(why), "now owned by %s (counter %" PRIu64 ")", cur->owner,
		    cur->counter);
	else
		snprintf(why, sizeof(why), "released by someone else (counter %" PRIu64 ")",
		    cur->counter);
	held_lost(k, h, why);
}

static int64_t
renew_retry_ms(const struct klsd *k)
{
	int64_t ms = k->cfg.lease.renew_interval_ms / 3;
	return ms < 100 ? 100 : ms;
}

static void
done_renew(struct klsd *k, struct held *h, struct write_job *j, kls_mono now)
{
	if (write_ok(j)) {
		held_wrote(k, h, j, now);
		svc_count(k, SVC_RENEWALS);
		if (h->state == HELD_ADOPTING) {
			log_info("lease %s re-adopted (counter %" PRIu64 ")", h->l.key,
			    h->l.counter);
			h->state = HELD_ACTIVE;
			if (k->phase == PHASE_STOPPING)
				held_release(k, h, "shutting down");
		}
		return;
	}
	if (j->res.status == DDB_CONDITION_FAILED) {
		held_react(k, h, j, now);
		return;
	}
	h->next_renew = mono_add_ms(now, renew_retry_ms(k));
	log_warnx("renew %s: %s; retry in %" PRId64 " ms (deadline in %" PRId64 " ms)", h->l.key,
	    j->res.err.message, renew_retry_ms(k),
	    h->deadline.ns ? mono_diff_ms(now, h->deadline) : 0);
}

static void
done_checkpoint(struct klsd *k, struct held *h, struct write_job *j, kls_mono now)
{
	ckpt_finished(&h->ck);
	if (write_ok(j)) {
		held_wrote(k, h, j, now);
		snprintf(h->pub.ckpt_seq, sizeof(h->pub.ckpt_seq), "%s", j->ck.seq);
		h->pub.ckpt_subseq = j->ck.sub;
		if (strcmp(j->ck.seq, CHECKPOINT_SHARD_END) == 0)
			log_info("lease %s: SHARD_END checkpointed", h->l.key);
		supervise_answer(h, j->ck.gen, KLS_CKPT_OK, NULL);
		return;
	}
	if (j->res.status == DDB_CONDITION_FAILED) {
		held_react(k, h, j, now);
		if (h->state == HELD_HANDOFF && !h->ck.pending) {
			/* The handoff came in just before: write this very checkpoint again,
			 * now as the checkpointOwner, so the new owner starts after it. */
			h->ck.next = j->ck;
			h->ck.pending = true;
		} else if (h->state == HELD_LOST) {
			supervise_answer(h, j->ck.gen, KLS_CKPT_LEASE_LOST, "lease lost");
		}
		return;
	}
	log_warnx("checkpoint %s at %s: %s", h->l.key, j->ck.seq, j->res.err.message);
	h->next_renew = mono_add_ms(now, renew_retry_ms(k));
	/* Nobody waits for a coalesced one, and it is the latest processed position: keep
	 * it. A lease being let go tries a few times, like its last write, then lets go
	 * (the next owner replays from the checkpoint before). */
	if (j->ck.coalesce && (h->state == HELD_ACTIVE || ++h->final_tries < FINAL_TRIES)) {
		ckpt_retry(&h->ck, &j->ck, h->next_renew);
		return;
	}
	supervise_answer(h, j->ck.gen, KLS_CKPT_FAILED, j->res.err.message);
}

/* Release and handoff-done: the last write of a lease we let go of. */
static void
done_final(struct klsd *k, struct held *h, struct write_job *j, kls_mono now)
{
	const char *what = j->kind == LW_RELEASE ? "released" : "handed over";
	const struct lease *cur = &j->res.current;

	if (h && j->kind == LW_RELEASE && !write_ok(j) && j->res.status == DDB_CONDITION_FAILED &&
	    j->res.reread && j->res.exists && strcmp(cur->checkpoint_owner, k->me) == 0 &&
	    strcmp(cur->owner, k->me) != 0) {
		/* Asked for while we let it go (its reader already drained): finish the
		 * handoff, or the new owner would wait for the handoff timeout. */
		log_info("lease %s: %s asked for it while we released it; handing it over", j->key,
		    cur->owner);
		h->l = *cur;
		h->state = HELD_HANDOFF;
		h->final_done = false;
		h->final_tries = 0;
		h->next_final = KLS_MONO_ZERO;
		return;
	}
	if (write_ok(j) || j->res.status == DDB_CONDITION_FAILED) {
		if (write_ok(j)) {
			log_info("lease %s %s (counter %" PRIu64 ")", j->key, what,
			    j->after.counter);
			lease_view_update(&k->view, &j->after, now);
		} else {
			log_info("lease %s: not %s, someone else wrote it first (owner \"%s\", "
			         "counter %" PRIu64 ")",
			    j->key, what, j->res.exists ? j->res.current.owner : "",
			    j->res.exists ? j->res.current.counter : 0);
			if (j->res.reread && j->res.exists)
				lease_view_update(&k->view, &j->res.current, now);
		}
		if (h)
			h->final_done = true;
		return;
	}
	if (!h)
		return;
	if (++h->final_tries >= FINAL_TRIES) {
		log_warnx("%s %s: %s; giving up, the lease will expire", lease_write_name(j->kind),
		    j->key, j->res.err.message);
		h->final_done = true;
		return;
	}
	log_warnx("%s %s: %s; retry in 1000 ms", lease_write_name(j->kind), j->key,
	    j->res.err.message);
	h->next_final = mono_add_ms(now, 1000);
}

static void
done_take(struct klsd *k, struct write_job *j, kls_mono now)
{
	struct held *h;

	if (!write_ok(j)) {
		if (j->res.status == DDB_CONDITION_FAILED) {
			log_info(
			    "take %s: another worker wrote it first (owner \"%s\", counter %" PRIu64
			    ")",
			    j->key, j->res.exists ? j->res.current.owner : "",
			    j->res.exists ? j->res.current.counter : 0);
			if (j->res.exists)
				lease_view_update(&k->view, &j->res.current, now);
		} else {
			log_warnx("take %s: %s", j->key, j->res.err.message);
		}
		return;
	}
	if (j->before.owner[0])
		log_info("took lease %s from %s (expired; counter %" PRIu64 ")", j->key,
		    j->before.owner, j->after.counter);
	else
		log_info("took lease %s (counter %" PRIu64 ")", j->key, j->after.counter);
	if (!(h = held_add(k, &j->after, HELD_ACTIVE))) {
		log_errorx("lease %s: no free shm slot (%u slots); releasing it", j->key,
		    kls_shm_slot_count(k->shm));
		if (klsd_submit_write(k, LW_RELEASE, &j->after, NULL) < 0)
			log_errorx("release %s: cannot queue the write", j->key);
		return;
	}
	held_wrote(k, h, j, now);
	svc_count(k, SVC_TAKES);
	if (k->phase == PHASE_STOPPING)
		held_release(k, h, "shutting down");
}

/*
 * A handoff request failed its condition. When the re-read shows the same owner and
 * still no handoff, only the counter moved: the owner renewed or checkpointed between
 * our scan and the request, which a reader checkpointing every batch does several
 * times a second. Ask again at once with the counter just read; the reasons for the
 * request (the scan's counts) still hold. True when asked again.
 */
static bool
handoff_request_again(struct klsd *k, const struct write_job *j)
{
	const struct lease *cur = &j->res.current;

	if (j->attempt + 1 >= HANDOFF_REQUEST_TRIES || k->phase != PHASE_RUNNING ||
	    !j->res.reread || !j->res.exists || strcmp(cur->owner, j->before.owner) != 0 ||
	    cur->checkpoint_owner[0] || lease_is_finished(cur))
		return false;
	if (klsd_submit_write(k, LW_HANDOFF_REQUEST, cur, NULL) < 0)
		return false;
	k->writes->attempt = j->attempt + 1; /* the job just queued heads the list */
	log_debug("handoff request %s: %s moved the counter to %" PRIu64 " first; asking again",
	    j->key, cur->owner, cur->counter);
	return true;
}

static void
write_done(struct pool_job *job)
{
	struct write_job *j = (struct write_job *)job;
	struct klsd *k = j->k;
	kls_mono now = mono_now();
	struct held *h;

	for (struct write_job **pp = &k->writes; *pp; pp = &(*pp)->next_out)
		if (*pp == j) {
			*pp = j->next_out;
			break;
		}
	observe_write(k, j->kind, j->key, &j->res, write_ok(j));
	h = held_find(k, j->key);
	if (h && j->kind != LW_TAKE && j->kind != LW_CREATE && j->kind != LW_HANDOFF_REQUEST &&
	    j->kind != LW_DELETE)
		h->busy = false;
	switch (j->kind) {
	case LW_RENEW:
		if (h)
			done_renew(k, h, j, now);
		break;
	case LW_CHECKPOINT:
	case LW_HANDOFF_CHECKPOINT:
		if (h)
			done_checkpoint(k, h, j, now);
		break;
	case LW_RELEASE:
	case LW_HANDOFF_DONE: done_final(k, h, j, now); break;
	case LW_TAKE: done_take(k, j, now); break;
	case LW_CREATE:
		k->creates_busy--;
		if (write_ok(j) && j->res.status == DDB_OK) {
			log_info("created lease %s at %s", j->key, j->after.checkpoint);
			k->created_some = true;
		} else if (!write_ok(j)) {
			log_warnx("create lease %s: %s", j->key, j->res.err.message);
		}
		if (k->creates_busy == 0 && (k->created_some || !k->synced_once)) {
			/* New leases (or the first sync done): take them now, not a take
			 * interval from now. */
			k->synced_once = true;
			k->created_some = false;
			k->next_take = now;
		}
		break;
	case LW_HANDOFF_REQUEST:
		if (write_ok(j)) {
			log_info("lease %s: asked %s to hand it over", j->key, j->before.owner);
			lease_view_update(&k->view, &j->after, now);
			if (k->phase == PHASE_STOPPING)
				klsd_stopping_handed(k); /* asked just before SIGTERM */
		} else if (j->res.status == DDB_CONDITION_FAILED) {
			if (!handoff_request_again(k, j))
				log_info("handoff request %s: the lease changed first", j->key);
		} else {
			log_warnx("handoff request %s: %s", j->key, j->res.err.message);
		}
		break;
	case LW_DELETE:
		if (write_ok(j))
			log_info("deleted finished lease %s", j->key);
		else if (j->res.status == DDB_ERROR)
			log_warnx("delete lease %s: %s", j->key, j->res.err.message);
		break;
	}
	ddb_write_free(j->w);
	free(j);
}

/* When h's pending checkpoint may be written (ckpt_due). A coalesced one is flushed
 * as soon as its reader is gone or going, or the lease or klsd is winding down: then
 * nothing newer can come, and a release, handoff or respawn must start from it. */
static kls_mono
held_ckpt_due(const struct klsd *k, const struct held *h)
{
	const struct reader_proc *p = &h->proc;
	struct ckpt_timing t = {
		.last_write = h->last_write,
		.next_renew = h->next_renew,
		.interval_ms = k->cfg.reader.checkpoint_interval_ms,
		.flush = h->state != HELD_ACTIVE || k->phase != PHASE_RUNNING || !p->pid ||
		         p->drain_sent || p->stop_sent || p->kill_sent,
	};

	return ckpt_due(&h->ck, &t);
}

/* Starts h's next write if one is due. */
static void
held_next_write(struct klsd *k, struct held *h, kls_mono now)
{
	struct ckpt_req ck;
	enum lease_write_kind kind;

	if (h->busy)
		return;
	switch (h->state) {
	case HELD_ACTIVE:
	case HELD_RELEASING:
	case HELD_HANDOFF:
		if (!mono_before(now, held_ckpt_due(k, h)) && ckpt_start(&h->ck, &ck)) {
			kind = h->state == HELD_HANDOFF ? LW_HANDOFF_CHECKPOINT : LW_CHECKPOINT;
			if (klsd_submit_write(k, kind, &h->l, &ck) == 0) {
				h->busy = true;
				return;
			}
			/* Could not queue: answer, so the reader does not wait in vain. */
			ckpt_finished(&h->ck);
			supervise_answer(h, ck.gen, KLS_CKPT_FAILED,
			    "klsd could not queue the write");
			return;
		}
		break;
	default: break;
	}
	switch (h->state) {
	case HELD_ADOPTING:
	case HELD_ACTIVE:
		if (mono_before(now, h->next_renew))
			return;
		if (klsd_submit_write(k, LW_RENEW, &h->l, NULL) == 0)
			h->busy = true;
		else
			h->next_renew = mono_add_ms(now, renew_retry_ms(k));
		return;
	case HELD_RELEASING:
	case HELD_HANDOFF:
		if (h->proc.pid || h->ck.pending || h->final_done)
			break;
		if (mono_before(now, h->next_final))
			return;
		kind = h->state == HELD_RELEASING ? LW_RELEASE : LW_HANDOFF_DONE;
		if (klsd_submit_write(k, kind, &h->l, NULL) == 0)
			h->busy = true;
		else
			h->next_final = mono_add_ms(now, 1000);
		return;
	case HELD_LOST: break;
	}
	/* A releasing lease whose reader still drains keeps being renewed: the reader
	 * needs its deadline to move while it finishes. */
	if (h->state == HELD_RELEASING && h->proc.pid && !mono_before(now, h->next_renew)) {
		if (klsd_submit_write(k, LW_RENEW, &h->l, NULL) == 0)
			h->busy = true;
		else
			h->next_renew = mono_add_ms(now, renew_retry_ms(k));
	}
}

kls_mono
held_tick(struct klsd *k, struct held *h, kls_mono now)
{
	kls_mono next = KLS_MONO_NEVER;

	held_next_write(k, h, now);
	if (h->busy)
		return next; /* its completion wakes the loop */
	if (h->state == HELD_ADOPTING || h->state == HELD_ACTIVE ||
	    (h->state == HELD_RELEASING && h->proc.pid))
		next = h->next_renew;
	if (h->state == HELD_ACTIVE || h->state == HELD_RELEASING || h->state == HELD_HANDOFF) {
		kls_mono due = held_ckpt_due(k, h);
		if (mono_before(due, next))
			next = due;
	}
	if ((h->state == HELD_RELEASING || h->state == HELD_HANDOFF) && !h->final_done &&
	    !h->proc.pid && mono_before(now, h->next_final) && mono_before(h->next_final, next))
		next = h->next_final;
	return next;
}

bool
held_finished(const struct held *h)
{
	if (h->busy || h->proc.pid)
		return false;
	switch (h->state) {
	case HELD_LOST: return true;
	case HELD_RELEASING:
	case HELD_HANDOFF: return h->final_done;
	default: return false;
	}
}
