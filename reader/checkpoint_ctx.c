/*
 * The kls_ctx operations kls-reader gives handlers: checkpoint requests checked
 * against what was delivered and what is persisted, then handed to the loop's sink;
 * and logging under the reader's identity. See checkpoint_ctx.h for the design.
 */
#include "config.h"

#include "reader/checkpoint_ctx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* Longest handler log line; longer ones are cut (kls_log documents it). */
#define CTX_LOG_MAX 1024

bool
ckpt_sequence_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\0')
		return false;
	if (s[0] == '0')
		return s[1] == '\0';
	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n == KLS_SEQUENCE_MAX)
			return false;
	}
	return true;
}

int
ckpt_compare(const char *seq_a, uint64_t sub_a, const char *seq_b, uint64_t sub_b)
{
	size_t la = strlen(seq_a), lb = strlen(seq_b);
	int c;

	/* Without leading zeros, a longer decimal number is a larger one. */
	if (la != lb)
		return la < lb ? -1 : 1;
	c = strcmp(seq_a, seq_b);
	if (c != 0)
		return c < 0 ? -1 : 1;
	if (sub_a != sub_b)
		return sub_a < sub_b ? -1 : 1;
	return 0;
}

static struct reader_ctx *
from_pub(struct kls_ctx *ctx)
{
	/* pub is the first member (checkpoint_ctx.h), so this is the containing struct. */
	return (struct reader_ctx *)(void *)ctx;
}

/* Whether a handler call may checkpoint now; a kls_result. */
static int
allowed(const struct reader_ctx *rc)
{
	if (!pthread_equal(pthread_self(), rc->thread))
		return KLS_ERR_NOT_ALLOWED;
	switch (rc->phase) {
	case CKPT_PHASE_PROCESS:
	case CKPT_PHASE_SHARD_ENDED:
	case CKPT_PHASE_SHUTDOWN:
		break;
	case CKPT_PHASE_NONE:
	case CKPT_PHASE_INIT:
		return KLS_ERR_NOT_ALLOWED;
	}
	return rc->lease_lost ? KLS_ERR_LEASE_LOST : KLS_OK;
}

/* Hands a checked value to the sink and records the outcome. */
static int
persist(struct reader_ctx *rc, const char *seq, uint64_t sub)
{
	int r = rc->sink.persist(rc->sink.arg, seq, sub);

	if (r == KLS_ERR_LEASE_LOST)
		rc->lease_lost = true;
	if (r != KLS_OK)
		return r;
	if (strcmp(seq, CKPT_SHARD_END) == 0) {
		rc->shard_end_done = true;
		return KLS_OK;
	}
	rc->have_checkpoint = true;
	memcpy(rc->checkpoint_seq, seq, strlen(seq) + 1);
	rc->checkpoint_sub = sub;
	return KLS_OK;
}

/* The checks every checkpoint at a sequence number passes, then persist. */
static int
checkpoint_at(struct reader_ctx *rc, const char *seq, uint64_t sub)
{
	if (rc->lease_lost)
		return KLS_ERR_LEASE_LOST;
	if (!ckpt_sequence_valid(seq))
		return KLS_ERR_INVALID;
	if (!rc->have_delivered || ckpt_compare(seq, sub, rc->delivered_seq, rc->delivered_sub) > 0)
		return KLS_ERR_BEYOND_DELIVERED;
	/* SHARD_END is past every record: nothing may move the checkpoint back. */
	if (rc->shard_end_done)
		return KLS_ERR_INVALID;
	/* Before an automatic checkpoint already handed to klsd would move the lease
	 * table back once klsd writes that one. */
	if (rc->have_posted && ckpt_compare(seq, sub, rc->posted_seq, rc->posted_sub) < 0)
		return KLS_ERR_INVALID;
	if (rc->have_checkpoint) {
		int c = ckpt_compare(seq, sub, rc->checkpoint_seq, rc->checkpoint_sub);
		if (c < 0)
			return KLS_ERR_INVALID;
		if (c == 0)
			return KLS_OK; /* already persisted: spare klsd a lease table write */
	}
	return persist(rc, seq, sub);
}

static int
op_checkpoint(struct kls_ctx *ctx)
{
	struct reader_ctx *rc = from_pub(ctx);
	int r = allowed(rc);

	if (r != KLS_OK)
		return r;
	if (rc->phase == CKPT_PHASE_SHARD_ENDED)
		return reader_ctx_checkpoint_shard_end(rc);
	if (!rc->have_delivered)
		return KLS_OK; /* nothing delivered: nothing to record */
	return checkpoint_at(rc, rc->delivered_seq, rc->delivered_sub);
}

static int
op_checkpoint_at(struct kls_ctx *ctx, const char *seq, uint64_t sub)
{
	struct reader_ctx *rc = from_pub(ctx);
	int r = allowed(rc);

	if (r != KLS_OK)
		return r;
	return checkpoint_at(rc, seq, sub);
}

static void
op_vlog(struct kls_ctx *ctx, int level, const char *fmt, va_list ap)
{
	struct reader_ctx *rc = from_pub(ctx);
	char line[CTX_LOG_MAX];

	if (fmt == NULL)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	switch (level) {
	case KLS_LOG_ERROR:
		log_errorx("%s %s: %s", rc->handler_name, rc->pub.shard_id, line);
		break;
	case KLS_LOG_WARN:
		log_warnx("%s %s: %s", rc->handler_name, rc->pub.shard_id, line);
		break;
	case KLS_LOG_INFO:
		log_info("%s %s: %s", rc->handler_name, rc->pub.shard_id, line);
		break;
	default:
		log_debug("%s %s: %s", rc->handler_name, rc->pub.shard_id, line);
		break;
	}
}

static const struct kls_ctx_ops reader_ctx_ops = {
	.size = sizeof(struct kls_ctx_ops),
	.checkpoint = op_checkpoint,
	.checkpoint_at = op_checkpoint_at,
	.vlog = op_vlog,
};

void
reader_ctx_init(struct reader_ctx *rc, const char *worker_id, const char *shard_id,
    const char *handler_name, const struct checkpoint_sink *sink)
{
	memset(rc, 0, sizeof(*rc));
	rc->pub.size = sizeof(rc->pub);
	rc->pub.ops = &reader_ctx_ops;
	rc->pub.worker_id = worker_id;
	rc->pub.shard_id = shard_id;
	rc->thread = pthread_self();
	snprintf(rc->handler_name, sizeof(rc->handler_name), "%s", handler_name);
	rc->sink = *sink;
}

int
reader_ctx_resume(struct reader_ctx *rc, const char *sequence, uint64_t sub_sequence)
{
	if (!ckpt_sequence_valid(sequence)) {
		errno = EINVAL;
		return -1;
	}
	rc->have_checkpoint = true;
	memcpy(rc->checkpoint_seq, sequence, strlen(sequence) + 1);
	rc->checkpoint_sub = sub_sequence;
	return 0;
}

int
reader_ctx_delivered(struct reader_ctx *rc, const struct kls_record *last)
{
	if (!ckpt_sequence_valid(last->sequence_number)) {
		errno = EINVAL;
		return -1;
	}
	rc->have_delivered = true;
	memcpy(rc->delivered_seq, last->sequence_number, strlen(last->sequence_number) + 1);
	rc->delivered_sub = last->sub_sequence_number;
	return 0;
}

void
reader_ctx_lease_lost(struct reader_ctx *rc)
{
	rc->lease_lost = true;
}

int
reader_ctx_checkpoint_delivered(struct reader_ctx *rc)
{
	if (!rc->have_delivered)
		return KLS_OK; /* nothing delivered, nothing to record */
	return checkpoint_at(rc, rc->delivered_seq, rc->delivered_sub);
}

int
reader_ctx_checkpoint_batch(struct reader_ctx *rc)
{
	int r;

	if (!rc->sink.post)
		return reader_ctx_checkpoint_delivered(rc);
	if (!rc->have_delivered)
		return KLS_OK;
	if (rc->lease_lost)
		return KLS_ERR_LEASE_LOST;
	if (rc->shard_end_done)
		return KLS_ERR_INVALID;
	/* Nothing new since the last post or persisted checkpoint: nothing to hand over. */
	if (rc->have_posted &&
	    ckpt_compare(rc->delivered_seq, rc->delivered_sub, rc->posted_seq, rc->posted_sub) <= 0)
		return KLS_OK;
	if (rc->have_checkpoint && ckpt_compare(rc->delivered_seq, rc->delivered_sub,
	                               rc->checkpoint_seq, rc->checkpoint_sub) <= 0)
		return KLS_OK;
	r = rc->sink.post(rc->sink.arg, rc->delivered_seq, rc->delivered_sub);
	if (r == KLS_ERR_LEASE_LOST)
		rc->lease_lost = true;
	if (r != KLS_OK)
		return r;
	rc->have_posted = true;
	memcpy(rc->posted_seq, rc->delivered_seq, strlen(rc->delivered_seq) + 1);
	rc->posted_sub = rc->delivered_sub;
	return KLS_OK;
}

int
reader_ctx_checkpoint_shard_end(struct reader_ctx *rc)
{
	if (rc->lease_lost)
		return KLS_ERR_LEASE_LOST;
	if (rc->shard_end_done)
		return KLS_OK;
	return persist(rc, CKPT_SHARD_END, 0);
}
