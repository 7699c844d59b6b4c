/*
 * Checkpoint request rules and coalescing: see checkpoints.h.
 */
#include "config.h"

#include "supervisor/checkpoints.h"

#include <stdio.h>
#include <string.h>

#include "supervisor/lease.h"

/* The newest generation this lease has already dealt with in some way. */
static uint64_t
seen_gen(const struct ckpt_state *s)
{
	uint64_t g = s->answered_gen;

	if (s->inflight && s->writing.gen > g)
		g = s->writing.gen;
	if (s->pending && s->next.gen > g)
		g = s->next.gen;
	return g;
}

enum ckpt_verdict
ckpt_consider(struct ckpt_state *s, const struct kls_progress *pr, bool shard_closed, char *why,
    size_t whylen)
{
	int cmp;

	if (pr->req_gen <= seen_gen(s))
		return CKPT_NOTHING;
	if (strcmp(pr->req_seq, CHECKPOINT_SHARD_END) == 0) {
		if (!shard_closed)
			return CKPT_NEED_CLOSED;
	} else if (kls_seqnum_cmp(pr->req_seq, pr->req_subseq, pr->delivered_seq,
	               pr->delivered_subseq, &cmp) < 0) {
		/* Either side malformed: a delivered_seq that is not a sequence number means
		 * nothing was delivered yet, so nothing can be checkpointed. */
		snprintf(why, whylen,
		    "checkpoint %.40s/%llu refused: not a sequence number, or "
		    "nothing delivered yet (last delivered \"%.40s\")",
		    pr->req_seq, (unsigned long long)pr->req_subseq, pr->delivered_seq);
		return CKPT_REFUSED;
	} else if (cmp > 0) {
		snprintf(why, whylen,
		    "checkpoint %.60s/%llu refused: beyond the last delivered "
		    "record %.60s/%llu",
		    pr->req_seq, (unsigned long long)pr->req_subseq, pr->delivered_seq,
		    (unsigned long long)pr->delivered_subseq);
		return CKPT_REFUSED;
	}
	/* Once something pending is to be written at once, so is what replaces it: the
	 * request being replaced has a waiting reader, and this write answers it. */
	s->next.coalesce =
	    (pr->req_flags & KLS_REQ_COALESCE) != 0 && (!s->pending || s->next.coalesce);
	memcpy(s->next.seq, pr->req_seq, sizeof(s->next.seq));
	s->next.seq[sizeof(s->next.seq) - 1] = '\0';
	s->next.sub = pr->req_subseq;
	s->next.gen = pr->req_gen;
	s->pending = true;
	return CKPT_QUEUED;
}

bool
ckpt_start(struct ckpt_state *s, struct ckpt_req *out)
{
	if (!s->pending || s->inflight)
		return false;
	s->writing = s->next;
	s->pending = false;
	s->retry_at = KLS_MONO_ZERO;
	s->inflight = true;
	*out = s->writing;
	return true;
}

void
ckpt_finished(struct ckpt_state *s)
{
	if (!s->inflight)
		return;
	s->inflight = false;
	ckpt_answer(s, s->writing.gen);
}

void
ckpt_answer(struct ckpt_state *s, uint64_t gen)
{
	if (gen > s->answered_gen)
		s->answered_gen = gen;
}

uint64_t
ckpt_drop(struct ckpt_state *s)
{
	uint64_t g = seen_gen(s);

	s->pending = false;
	s->inflight = false;
	s->answered_gen = g;
	return g;
}

kls_mono
ckpt_due(const struct ckpt_state *s, const struct ckpt_timing *t)
{
	kls_mono due;

	if (!s->pending || s->inflight)
		return KLS_MONO_NEVER;
	if (!s->next.coalesce || t->flush || t->interval_ms <= 0 || t->last_write.ns == 0)
		due = KLS_MONO_ZERO;
	else if (mono_before(t->next_renew, (due = mono_add_ms(t->last_write, t->interval_ms))))
		due = t->next_renew;
	if (s->next.coalesce && mono_before(due, s->retry_at))
		due = s->retry_at;
	return due;
}

void
ckpt_retry(struct ckpt_state *s, const struct ckpt_req *failed, kls_mono retry_at)
{
	if (!s->pending) {
		s->next = *failed;
		s->pending = true;
	}
	s->retry_at = retry_at;
}
