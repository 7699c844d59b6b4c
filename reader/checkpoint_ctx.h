/*
 * The reader's side of struct kls_ctx (include/kls/handler.h): what a handler's
 * kls_checkpoint / kls_checkpoint_at / kls_log calls do inside kls-reader.
 *
 * Design. The reader loop owns one struct reader_ctx per process and passes
 * &rc->pub to every callback. This file decides whether a checkpoint request is
 * allowed and sane (callback phase and thread, lease state, sequence syntax, not past
 * the last record delivered, not before the last checkpoint) and keeps the positions;
 * the actual persistence is the reader loop's: it plugs in a checkpoint_sink whose
 * persist() publishes the request in the slot's progress group, wakes klsd through
 * the wake pipe, and waits (futex on the persisted generation, bounded by a timeout)
 * for klsd to write the lease table. So:
 *
 *   loop                                   this file
 *   ----                                   ---------
 *   reader_ctx_init(rc, ids, sink)
 *   reader_ctx_resume(rc, seq, sub)        if the lease has a sequence checkpoint
 *   reader_ctx_enter(rc, CKPT_PHASE_INIT); handler_init(..., &rc->pub, ...); leave
 *   per batch:
 *     reader_ctx_delivered(rc, &recs[n-1])
 *     enter(PROCESS); handler_process(); leave
 *     if rc == 0 and checkpoint = auto: reader_ctx_checkpoint_batch(rc)
 *   at shard end:
 *     enter(SHARD_ENDED); handler_shard_ended(); leave
 *     if rc == 0 and !reader_ctx_shard_end_done(rc) and (auto or no callback):
 *         reader_ctx_checkpoint_shard_end(rc)
 *   on drain: enter(SHUTDOWN); handler_shutdown_requested(); leave
 *   on lease loss: reader_ctx_lease_lost(rc); handler_lease_lost() (no phase: refused)
 *   handler_destroy()
 *
 * Single-threaded: everything here runs on the reader's main thread, and a call
 * from any other thread is refused with KLS_ERR_NOT_ALLOWED.
 */
#ifndef KLS_READER_CHECKPOINT_CTX_H
#define KLS_READER_CHECKPOINT_CTX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kls/handler.h"

/* The callback the handler is in; checkpoints are allowed in the last three. */
enum ckpt_phase {
	CKPT_PHASE_NONE = 0, /* between callbacks, lease_lost, destroy */
	CKPT_PHASE_INIT,
	CKPT_PHASE_PROCESS,
	CKPT_PHASE_SHARD_ENDED,
	CKPT_PHASE_SHUTDOWN,
};

/* The sequence value persisted when a shard is finished. */
#define CKPT_SHARD_END "SHARD_END"

struct checkpoint_sink {
	/*
	 * Persists (sequence, sub_sequence) — a sequence number or CKPT_SHARD_END — and
	 * returns only once klsd has written it, or failed. Returns a kls_result:
	 * KLS_OK, KLS_ERR_LEASE_LOST (lease gone or deadline passed), KLS_ERR_WRITE_FAILED
	 * (klsd's write was refused or failed), or KLS_ERR_TIMEOUT (no answer in time).
	 */
	int (*persist)(void *arg, const char *sequence, uint64_t sub_sequence);
	void *arg;
	/*
	 * Optional (NULL: persist is used). Hands an automatic checkpoint to klsd without
	 * waiting: klsd coalesces these and writes the newest within its checkpoint interval
	 * (shm KLS_REQ_COALESCE). Returns KLS_OK once published, or KLS_ERR_LEASE_LOST.
	 */
	int (*post)(void *arg, const char *sequence, uint64_t sub_sequence);
};

struct reader_ctx {
	struct kls_ctx pub; /* first, so the ops get back here from the handler's pointer */
	enum ckpt_phase phase;
	pthread_t thread; /* the reader's main thread, where callbacks run */
	bool lease_lost;  /* sticky: once lost, every checkpoint call says so */
	char handler_name[65];

	/* The last record delivered to the handler (the end of the current batch). */
	bool have_delivered;
	char delivered_seq[KLS_SEQUENCE_MAX + 1];
	uint64_t delivered_sub;

	/* The last checkpoint persisted, if any (the lease's, when resuming). */
	bool have_checkpoint;
	bool shard_end_done;
	char checkpoint_seq[KLS_SEQUENCE_MAX + 1];
	uint64_t checkpoint_sub;

	/* The last automatic checkpoint posted (sink.post), persisted or not yet: no
	 * checkpoint may go back before it, and the next post must move past it. */
	bool have_posted;
	char posted_seq[KLS_SEQUENCE_MAX + 1];
	uint64_t posted_sub;

	struct checkpoint_sink sink;
};

/* worker_id and shard_id must outlive rc (they become rc->pub's fields). */
void reader_ctx_init(struct reader_ctx *rc, const char *worker_id, const char *shard_id,
    const char *handler_name, const struct checkpoint_sink *sink);
/* Records the lease's persisted checkpoint. -1 (EINVAL) if it is not a sequence
 * number; the positions TRIM_HORIZON etc. are not checkpoints and need no call. */
int reader_ctx_resume(struct reader_ctx *rc, const char *sequence, uint64_t sub_sequence);

static inline void
reader_ctx_enter(struct reader_ctx *rc, enum ckpt_phase phase)
{
	rc->phase = phase;
}

static inline void
reader_ctx_leave(struct reader_ctx *rc)
{
	rc->phase = CKPT_PHASE_NONE;
}

/* The last record of the batch about to be given to process(). -1 (EINVAL) if its
 * sequence number is malformed (the loop should never deliver such a record). */
int reader_ctx_delivered(struct reader_ctx *rc, const struct kls_record *last);
/* From now on every checkpoint call returns KLS_ERR_LEASE_LOST. */
void reader_ctx_lease_lost(struct reader_ctx *rc);

/* checkpoint = auto after a successful batch: at the last record delivered, unless
 * that is already the checkpoint. Returns a kls_result. */
int reader_ctx_checkpoint_delivered(struct reader_ctx *rc);
/* checkpoint = auto after a successful batch: like reader_ctx_checkpoint_delivered,
 * but through sink.post when the sink has one (klsd writes it within its checkpoint
 * interval; the reader does not wait). Returns a kls_result. */
int reader_ctx_checkpoint_batch(struct reader_ctx *rc);
/* SHARD_END after shard_ended, when the handler did not. Returns a kls_result. */
int reader_ctx_checkpoint_shard_end(struct reader_ctx *rc);

static inline bool
reader_ctx_shard_end_done(const struct reader_ctx *rc)
{
	return rc->shard_end_done;
}

/*
 * Orders two Kinesis sequence numbers (decimal strings without leading zeros, up to
 * KLS_SEQUENCE_MAX digits) with their sub-sequence numbers: <0, 0, >0.
 */
int ckpt_compare(const char *seq_a, uint64_t sub_a, const char *seq_b, uint64_t sub_b);
/* True when s is "0" or [1-9][0-9]* of at most KLS_SEQUENCE_MAX digits. */
bool ckpt_sequence_valid(const char *s);

#endif
