/*
 * Checkpoint requests from readers, klsd's side (DESIGN.md "Checkpoint handshake"): a
 * reader publishes a request in its progress group and writes a wake byte; klsd checks
 * it, persists it with a fenced write, and answers through the lease group.
 *
 * This file holds the per-lease bookkeeping and the rules, pure and unit-tested:
 *   - what a reader asks is input from another process: a sequence checkpoint is
 *     accepted only if it is well formed and not beyond the last record the reader
 *     says it delivered (kls_seqnum_cmp); SHARD_END only for a shard the stream lists
 *     as closed;
 *   - one write in flight per lease: requests arriving meanwhile coalesce into the
 *     latest, and one write answers every generation up to its own;
 *   - automatic checkpoints (KLS_REQ_COALESCE) wait: at most one write per
 *     checkpoint_interval_ms while records flow, and never later than the lease's next
 *     renewal, which the checkpoint write then replaces (it bumps leaseCounter under the
 *     same fence). A request without the flag is due at once, and so is everything
 *     pending when klsd flushes (the reader exited or drains, the lease is let go, klsd
 *     stops). The newest request is always the one written (ckpt_due).
 */
#ifndef KLS_SUPERVISOR_CHECKPOINTS_H
#define KLS_SUPERVISOR_CHECKPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "shm/table.h"

struct ckpt_req {
	char seq[KLS_SHM_SEQ_MAX]; /* sequence number or "SHARD_END" */
	uint64_t sub;
	uint64_t gen;
	bool coalesce; /* every request merged into it was KLS_REQ_COALESCE: it may wait */
};

struct ckpt_state {
	uint64_t answered_gen; /* highest generation answered (the lease group's ckpt_gen) */
	bool pending;          /* `next` waits for a write */
	struct ckpt_req next;
	bool inflight; /* `writing` is being written */
	struct ckpt_req writing;
	kls_mono retry_at; /* a failed coalesced write is tried again from here */
};

enum ckpt_verdict {
	CKPT_NOTHING,     /* no request newer than what is answered, queued or in flight */
	CKPT_QUEUED,      /* accepted into `next` (replacing an older pending request) */
	CKPT_REFUSED,     /* answer it now with KLS_CKPT_BEYOND; why says why */
	CKPT_NEED_CLOSED, /* SHARD_END for a shard not known closed: learn more, then ask again */
};

/*
 * Looks at a consistent copy of the progress group. shard_closed: the last shard
 * listing says the shard is closed. On CKPT_REFUSED the caller answers generation
 * pr->req_gen (ckpt_answer) and the request is dropped.
 */
enum ckpt_verdict ckpt_consider(struct ckpt_state *s, const struct kls_progress *pr,
    bool shard_closed, char *why, size_t whylen);

/* When klsd may start the pending request's write. */
struct ckpt_timing {
	kls_mono last_write; /* sent time of the lease's last successful write; ZERO = none */
	kls_mono next_renew; /* when the lease's next renewal is due */
	int64_t interval_ms; /* [reader] checkpoint_interval_ms; 0 = no coalescing */
	bool flush;          /* write whatever is pending now (see above) */
};

/*
 * The earliest time the pending request may be written: KLS_MONO_NEVER when nothing is
 * pending or a write is in flight; otherwise at once (KLS_MONO_ZERO) for a request
 * without KLS_REQ_COALESCE, a flush or a 0 interval; else last_write + interval, but no
 * later than next_renew. A coalesced request waits for retry_at after a failed write
 * (a flush included: the write just failed); a request without the flag never does.
 */
kls_mono ckpt_due(const struct ckpt_state *s, const struct ckpt_timing *t);

/* A coalesced write failed without an answer anyone waits for: keep its position
 * pending (unless a newer request replaced it) and try again from retry_at. */
void ckpt_retry(struct ckpt_state *s, const struct ckpt_req *failed, kls_mono retry_at);

/* Starts the pending request's write: moves `next` to `writing`. False when nothing is
 * pending or a write is already in flight. */
bool ckpt_start(struct ckpt_state *s, struct ckpt_req *out);

/* The write of `writing` ended (whatever its outcome): it answers its generation. */
void ckpt_finished(struct ckpt_state *s);

/* Marks generation gen answered (a refusal), keeping answered_gen monotonic. */
void ckpt_answer(struct ckpt_state *s, uint64_t gen);

/* Forget everything pending (the lease is gone: the caller answers LEASE_LOST). Returns
 * the highest generation seen, to answer. */
uint64_t ckpt_drop(struct ckpt_state *s);

#endif
