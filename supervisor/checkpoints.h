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
 *     latest, and one write answers every generation up to its own.
 */
#ifndef KLS_SUPERVISOR_CHECKPOINTS_H
#define KLS_SUPERVISOR_CHECKPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/table.h"

struct ckpt_req {
	char seq[KLS_SHM_SEQ_MAX]; /* sequence number or "SHARD_END" */
	uint64_t sub;
	uint64_t gen;
};

struct ckpt_state {
	uint64_t answered_gen; /* highest generation answered (the lease group's ckpt_gen) */
	bool pending;          /* `next` waits for a write */
	struct ckpt_req next;
	bool inflight; /* `writing` is being written */
	struct ckpt_req writing;
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
