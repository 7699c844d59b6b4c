/*
 * The handler calls of kls-reader, in the order include/kls/handler.h promises, each
 * behind the fence: no callback starts once the lease deadline has passed, and the
 * watchdog kills the reader if one is still running when it passes. Here too the
 * automatic checkpoints (checkpoint = auto after every accepted batch, SHARD_END after
 * shard_ended) and what each handler result means for the reader's exit status.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "common/log.h"
#include "reader/reader.h"

/*
 * Before a callback that needs the lease: the deadline (freshly read) must not have
 * passed. Then the progress group says where the handler is, the watchdog is armed
 * and checkpoints are allowed for the phase.
 */
static bool
call_begin(struct reader *r, enum ckpt_phase phase, enum kls_handler_state st, const char *what)
{
	kls_mono now = mono_now();

	(void)fence_refresh(&r->fence, &r->lease);
	if (!fence_open(&r->fence, now))
		return false;
	fence_beat(&r->fence, now);
	progress_state(r, st);
	fence_busy(&r->fence, FENCE_HANDLER, what);
	reader_ctx_enter(&r->ctx, phase);
	return true;
}

static void
call_end(struct reader *r)
{
	reader_ctx_leave(&r->ctx);
	fence_idle(&r->fence);
	fence_beat(&r->fence, mono_now());
	progress_state(r, KLS_HANDLER_IDLE);
}

/* The lease is gone (deadline passed, klsd said so, or a checkpoint was refused for
 * it): lease_lost, no checkpoint, exit 3. Past the deadline the watchdog is not armed:
 * lease_lost must not touch anything the lease protects, and klsd kills a reader that
 * hangs in it. */
static int
lease_lost(struct reader *r, const char *why)
{
	log_warnx("%s: %s: calling lease_lost and exiting", r->shard_id, why);
	progress_error(r, "lease lost: %s", why);
	reader_ctx_lease_lost(&r->ctx);
	if (r->inited) {
		progress_state(r, KLS_HANDLER_LEASE_LOST);
		handler_lease_lost(&r->h, r->state);
	}
	return READER_EXIT_LEASE_LOST;
}

static int
expired(struct reader *r)
{
	char why[96];

	snprintf(why, sizeof(why), "lease deadline passed %" PRId64 " ms ago",
	    -fence_ms_left(&r->fence, mono_now()));
	return lease_lost(r, why);
}

int
deliver_init(struct reader *r)
{
	const struct config *cfg = r->cfg;
	int rc;

	for (size_t i = 0; i < cfg->handler_count; i++) {
		r->pairs[i].key = cfg->handler[i].key;
		r->pairs[i].value = cfg->handler[i].value;
	}
	r->hconf.count = cfg->handler_count;
	r->hconf.pairs = r->pairs;
	if (!call_begin(r, CKPT_PHASE_INIT, KLS_HANDLER_INIT, "init"))
		return expired(r);
	rc = handler_init(&r->h, &r->info, &r->hconf, &r->ctx.pub, &r->state);
	call_end(r);
	if (rc == KLS_HANDLER_OK) {
		r->inited = true;
		return READER_CONTINUE;
	}
	if (rc == KLS_HANDLER_ERROR_PERMANENT) {
		log_errorx("%s: handler %s: init failed permanently (%d)", r->shard_id,
		    r->h.cb.name, rc);
		progress_error(r, "handler %s: init failed permanently", r->h.cb.name);
		return READER_EXIT_PERMANENT;
	}
	log_errorx("%s: handler %s: init failed (%d)", r->shard_id, r->h.cb.name, rc);
	progress_error(r, "handler %s: init failed (%d)", r->h.cb.name, rc);
	return READER_EXIT_TRANSIENT;
}

/* What a failed automatic checkpoint means; READER_CONTINUE when the reader goes on. */
static int
auto_checkpoint_failed(struct reader *r, int c, const char *what)
{
	switch (c) {
	case KLS_ERR_LEASE_LOST: return lease_lost(r, "checkpoint refused: lease lost");
	case KLS_ERR_WRITE_FAILED:
	case KLS_ERR_TIMEOUT:
		/* The records are processed; the next batch's checkpoint covers them too. */
		log_warnx("%s: %s checkpoint: %s; going on", r->shard_id, what, kls_strerror(c));
		return READER_CONTINUE;
	default:
		/* klsd and this reader disagree about what was delivered: start over from
		 * the persisted checkpoint rather than guess. */
		log_errorx("%s: %s checkpoint: %s", r->shard_id, what, kls_strerror(c));
		progress_error(r, "%s checkpoint: %s", what, kls_strerror(c));
		return READER_EXIT_TRANSIENT;
	}
}

int
deliver_batch(struct reader *r, const struct kls_record *recs, size_t n)
{
	const struct kls_record *last = &recs[n - 1];
	struct kls_progress before = r->prog;
	kls_mono t0;
	int rc, c;

	if (reader_ctx_delivered(&r->ctx, last) < 0) {
		log_errorx("%s: record with malformed sequence number \"%.40s\"", r->shard_id,
		    last->sequence_number);
		progress_error(r, "malformed sequence number in GetRecords response");
		return READER_EXIT_TRANSIENT;
	}
	/* Published before process() runs: klsd accepts checkpoints up to here. */
	snprintf(r->prog.delivered_seq, sizeof(r->prog.delivered_seq), "%s", last->sequence_number);
	r->prog.delivered_subseq = last->sub_sequence_number;
	if (dead_letter_due(r)) {
		/* klsd saw this batch kill the handler poison_retries times: set it aside
		 * and checkpoint past it, whatever the checkpoint mode. */
		if (dead_letter_write(r, recs, n) < 0)
			return READER_EXIT_TRANSIENT;
		c = reader_ctx_checkpoint_delivered(&r->ctx);
		return c == KLS_OK ? READER_CONTINUE : auto_checkpoint_failed(r, c, "dead-letter");
	}
	r->prog.records += n;
	for (size_t i = 0; i < n; i++)
		r->prog.bytes += recs[i].data_len;
	if (!call_begin(r, CKPT_PHASE_PROCESS, KLS_HANDLER_PROCESS, "process")) {
		r->prog = before; /* never handed over: not delivered */
		return expired(r);
	}
	t0 = mono_now();
	rc = handler_process(&r->h, r->state, recs, n, &r->ctx.pub);
	/* Published by call_end with the handler state: no publish of its own. */
	kls_lat_observe(&r->prog.handler, KLS_LAT_HANDLER, mono_now().ns - t0.ns);
	call_end(r);
	if (rc != KLS_HANDLER_OK) {
		log_errorx("%s: handler %s: process() returned %d for %zu records ending at %s: "
		           "exiting without a checkpoint",
		    r->shard_id, r->h.cb.name, rc, n, last->sequence_number);
		progress_error(r, "handler %s: process() returned %d", r->h.cb.name, rc);
		return READER_EXIT_TRANSIENT;
	}
	if (r->cfg->reader.checkpoint != CONFIG_CHECKPOINT_AUTO)
		return READER_CONTINUE;
	/* Coalesced by klsd when checkpoint_interval_ms > 0 (no wait here). */
	c = reader_ctx_checkpoint_batch(&r->ctx);
	return c == KLS_OK ? READER_CONTINUE : auto_checkpoint_failed(r, c, "batch");
}

int
deliver_shard_end(struct reader *r)
{
	int rc, c;

	if (!call_begin(r, CKPT_PHASE_SHARD_ENDED, KLS_HANDLER_SHARD_ENDED, "shard_ended"))
		return expired(r);
	rc = handler_shard_ended(&r->h, r->state, &r->ctx.pub);
	call_end(r);
	if (rc != KLS_HANDLER_OK) {
		log_errorx("%s: handler %s: shard_ended() returned %d: SHARD_END not persisted",
		    r->shard_id, r->h.cb.name, rc);
		progress_error(r, "handler %s: shard_ended() returned %d", r->h.cb.name, rc);
		return READER_EXIT_TRANSIENT;
	}
	if (!reader_ctx_shard_end_done(&r->ctx)) {
		/* A handler without the callback cannot checkpoint SHARD_END: kls must. */
		if (r->cfg->reader.shard_end_checkpoint != CONFIG_SHARD_END_AUTO &&
		    handler_has_shard_ended(&r->h)) {
			log_errorx("%s: handler %s: shard_ended() did not checkpoint SHARD_END "
			           "(shard_end_checkpoint = handler): the shard stays open",
			    r->shard_id, r->h.cb.name);
			progress_error(r, "shard_ended() did not checkpoint SHARD_END");
			return READER_EXIT_TRANSIENT;
		}
		c = reader_ctx_checkpoint_shard_end(&r->ctx);
		if (c == KLS_ERR_LEASE_LOST)
			return lease_lost(r, "SHARD_END checkpoint refused: lease lost");
		if (c != KLS_OK) {
			log_errorx("%s: SHARD_END checkpoint: %s", r->shard_id, kls_strerror(c));
			progress_error(r, "SHARD_END checkpoint: %s", kls_strerror(c));
			return READER_EXIT_TRANSIENT;
		}
	}
	log_info("%s: end of shard, SHARD_END persisted", r->shard_id);
	return READER_EXIT_SHARD_END;
}

int
deliver_finish(struct reader *r, enum look why)
{
	int rc;

	switch (why) {
	case LOOK_DRAIN:
		if (r->inited) {
			if (!call_begin(r, CKPT_PHASE_SHUTDOWN, KLS_HANDLER_SHUTDOWN,
			        "shutdown_requested"))
				return expired(r);
			rc = handler_shutdown_requested(&r->h, r->state, &r->ctx.pub);
			call_end(r);
			if (rc != KLS_HANDLER_OK)
				log_warnx("%s: handler %s: shutdown_requested() returned %d",
				    r->shard_id, r->h.cb.name, rc);
		}
		log_info("%s: drained", r->shard_id);
		return READER_EXIT_DRAINED;
	case LOOK_STOP:
		log_info("%s: stop requested (command %u)", r->shard_id, r->lease.command);
		return READER_EXIT_DRAINED;
	case LOOK_EXPIRED: return expired(r);
	case LOOK_RUN: break;
	}
	return READER_CONTINUE;
}

void
deliver_destroy(struct reader *r)
{
	if (!r->inited)
		return;
	r->inited = false;
	handler_destroy(&r->h, r->state);
	r->state = NULL;
}
