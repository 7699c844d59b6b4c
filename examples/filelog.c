/*
 * filelog: appends one line per record to a file, for tests and for people to read.
 *
 * [handler] keys:
 *   path = FILE          required; "%s" is replaced by the shard id (one file per
 *                        shard: see examples/support.h for why that matters)
 *   fsync = yes|no       fdatasync each batch before returning (default no), so a line
 *                        is on disk before kls checkpoints its record
 *   checkpoint_every = N with checkpoint = manual: checkpoint after a batch once N
 *                        records have been written since the last checkpoint, and at
 *                        shard end and shutdown (default 1000). Ignored with
 *                        checkpoint = auto, where kls checkpoints every batch
 *                        (written at most once per checkpoint_interval_ms).
 *
 * The line format is in examples/support.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kls/handler.h>

#include "examples/support.h"

struct filelog {
	struct linefile out;
	const char *shard_id;
	const char *worker_id;
	struct kls_ctx *ctx;
	bool manual;
	uint64_t checkpoint_every;
	uint64_t since_checkpoint; /* records written since the last checkpoint */
};

static int
filelog_init(const struct kls_shard_info *shard, const struct kls_handler_config *config,
    struct kls_ctx *ctx, void **state)
{
	char err[256];
	const char *path = kls_config_get(config, "path");
	struct filelog *f;
	bool sync;
	uint64_t every;

	if (path == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "filelog: [handler] path is required");
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	if (ex_config_bool(config, "fsync", false, &sync, err, sizeof(err)) == -1 ||
	    ex_config_u64(config, "checkpoint_every", 1000, UINT64_MAX, &every, err, sizeof(err)) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "filelog: [handler] %s", err);
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "filelog: out of memory");
		return KLS_HANDLER_ERROR;
	}
	if (linefile_open(&f->out, path, shard->shard_id, sync) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "filelog: open %s: %s", f->out.path[0] ? f->out.path : path,
		    strerror(errno));
		linefile_close(&f->out);
		free(f);
		return KLS_HANDLER_ERROR;
	}
	f->shard_id = shard->shard_id;
	f->worker_id = shard->worker_id;
	f->ctx = ctx;
	f->manual = shard->checkpoint_mode == KLS_CHECKPOINT_MANUAL;
	f->checkpoint_every = every ? every : 1;
	*state = f;
	return KLS_HANDLER_OK;
}

/* A manual checkpoint at the last record delivered; returns the kls_result. */
static int
filelog_checkpoint(struct filelog *f, struct kls_ctx *ctx, const char *why)
{
	int rc = kls_checkpoint(ctx);

	if (rc == KLS_OK)
		f->since_checkpoint = 0;
	else
		kls_log(ctx, KLS_LOG_WARN, "filelog: checkpoint (%s): %s", why, kls_strerror(rc));
	return rc;
}

static int
filelog_process(void *state, const struct kls_record *records, size_t n, struct kls_ctx *ctx)
{
	struct filelog *f = state;
	int64_t t0 = ex_boottime_ns();

	if (linefile_write(&f->out, f->shard_id, f->worker_id, records, n, t0,
		ex_boottime_ns()) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "filelog: write %s: %s", f->out.path, strerror(errno));
		return KLS_HANDLER_ERROR;
	}
	f->since_checkpoint += n;
	/* A failed checkpoint is not a failed batch: the lines are written, and the
	 * next checkpoint covers these records too. */
	if (f->manual && f->since_checkpoint >= f->checkpoint_every)
		filelog_checkpoint(f, ctx, "batch");
	return KLS_HANDLER_OK;
}

static int
filelog_shard_ended(void *state, struct kls_ctx *ctx)
{
	struct filelog *f = state;

	/* Every line is already written (and synced with fsync = yes): SHARD_END may be
	 * persisted. With checkpoint = auto kls would do it; doing it here is the same. */
	return filelog_checkpoint(f, ctx, "shard end") == KLS_OK ? KLS_HANDLER_OK : KLS_HANDLER_ERROR;
}

static int
filelog_shutdown_requested(void *state, struct kls_ctx *ctx)
{
	struct filelog *f = state;

	if (f->manual && f->since_checkpoint > 0 && filelog_checkpoint(f, ctx, "shutdown") != KLS_OK)
		return KLS_HANDLER_ERROR;
	return KLS_HANDLER_OK;
}

static void
filelog_destroy(void *state)
{
	struct filelog *f = state;

	linefile_close(&f->out);
	free(f);
}

KLS_HANDLER_EXPORT const struct kls_handler_v1 kls_handler = {
	KLS_HANDLER_V1_HEADER,
	.name = "filelog",
	.version = PACKAGE_VERSION,
	.init = filelog_init,
	.process = filelog_process,
	.shard_ended = filelog_shard_ended,
	.shutdown_requested = filelog_shutdown_requested,
	.destroy = filelog_destroy,
};
