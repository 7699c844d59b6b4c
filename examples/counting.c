/*
 * counting: counts records and bytes and logs a summary every N records. The
 * smallest useful handler, and the one scripts/demo and scripts/bench run.
 *
 * [handler] keys:
 *   log_every = N   log a summary every N records (default 10000; 0 = only at
 *                   shard end and shutdown)
 *
 * With checkpoint = manual it checkpoints at each summary, at shard end and at
 * shutdown; with checkpoint = auto kls checkpoints every batch (coalesced by klsd:
 * see [reader] checkpoint_interval_ms).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>

#include <kls/handler.h>

#include "examples/support.h"

struct counting {
	const char *shard_id;
	bool manual;
	uint64_t log_every;
	uint64_t next_log; /* record count at which the next summary is due */
	uint64_t records, bytes, batches;
	int64_t started_ns;
};

static int
counting_init(const struct kls_shard_info *shard, const struct kls_handler_config *config,
    struct kls_ctx *ctx, void **state)
{
	char err[256];
	struct counting *c;
	uint64_t every;

	if (ex_config_u64(config, "log_every", 10000, UINT64_MAX, &every, err, sizeof(err)) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "counting: [handler] %s", err);
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "counting: out of memory");
		return KLS_HANDLER_ERROR;
	}
	c->shard_id = shard->shard_id;
	c->manual = shard->checkpoint_mode == KLS_CHECKPOINT_MANUAL;
	c->log_every = every;
	c->next_log = every ? every : UINT64_MAX;
	c->started_ns = ex_boottime_ns();
	kls_log(ctx, KLS_LOG_INFO, "counting: %s starting %s %s%s", c->shard_id,
	    shard->resumed ? "after" : "at", shard->checkpoint,
	    shard->restarts ? " (restarted reader)" : "");
	*state = c;
	return KLS_HANDLER_OK;
}

/* Logs the totals and, in manual mode, checkpoints. Returns the checkpoint result. */
static int
counting_summary(struct counting *c, struct kls_ctx *ctx, const char *when)
{
	int64_t ms = (ex_boottime_ns() - c->started_ns) / 1000000;
	int rc = KLS_OK;

	kls_log(ctx, KLS_LOG_INFO,
	    "counting: %s %s: %" PRIu64 " records, %" PRIu64 " bytes in %" PRIu64
	    " batches, %" PRId64 " ms (%" PRIu64 " records/s)",
	    c->shard_id, when, c->records, c->bytes, c->batches, ms,
	    ms > 0 ? c->records * 1000 / (uint64_t)ms : c->records);
	if (c->manual) {
		rc = kls_checkpoint(ctx);
		if (rc != KLS_OK)
			kls_log(ctx, KLS_LOG_WARN, "counting: checkpoint (%s): %s", when,
			    kls_strerror(rc));
	}
	return rc;
}

static int
counting_process(void *state, const struct kls_record *records, size_t n, struct kls_ctx *ctx)
{
	struct counting *c = state;

	for (size_t i = 0; i < n; i++)
		c->bytes += records[i].data_len;
	c->records += n;
	c->batches++;
	if (c->records >= c->next_log) {
		counting_summary(c, ctx, "progress");
		/* One summary per batch even when a batch crosses several multiples. */
		while (c->next_log <= c->records)
			c->next_log += c->log_every;
	}
	return KLS_HANDLER_OK;
}

static int
counting_shard_ended(void *state, struct kls_ctx *ctx)
{
	struct counting *c = state;

	if (counting_summary(c, ctx, "shard ended") != KLS_OK)
		return KLS_HANDLER_ERROR;
	return KLS_HANDLER_OK;
}

static int
counting_shutdown_requested(void *state, struct kls_ctx *ctx)
{
	return counting_summary(state, ctx, "shutdown") == KLS_OK ? KLS_HANDLER_OK
								  : KLS_HANDLER_ERROR;
}

static void
counting_destroy(void *state)
{
	free(state);
}

KLS_HANDLER_EXPORT const struct kls_handler_v1 kls_handler = {
	KLS_HANDLER_V1_HEADER,
	.name = "counting",
	.version = PACKAGE_VERSION,
	.init = counting_init,
	.process = counting_process,
	.shard_ended = counting_shard_ended,
	.shutdown_requested = counting_shutdown_requested,
	.destroy = counting_destroy,
};
