/*
 * The reader's side of the shm conversation with klsd: its progress group (the only
 * thing it writes in shm), looks at the lease group (command and deadline), waits
 * that stay responsive to klsd, and the checkpoint handshake behind the handler's
 * kls_checkpoint calls (shm/README.md, "Checkpoint handshake"):
 *
 *   1. publish req_seq/req_subseq with a new req_gen in the progress group;
 *   2. write one byte to the wake pipe so klsd's poll loop looks;
 *   3. wait, in slices of beat_ms, until klsd answers that generation in the lease
 *      group (futex on slot.wake), the lease is gone (STOP, deadline), or the
 *      checkpoint timeout passes. A DRAIN does not end the wait: klsd persists the
 *      final checkpoints of a drain.
 *
 * An automatic checkpoint with [reader] checkpoint_interval_ms > 0 stops after step 2
 * (handshake_post): the request carries KLS_REQ_COALESCE, klsd writes the newest one
 * within its interval (or when this reader exits or drains), and the reader goes on
 * with the next batch instead of waiting a DynamoDB round trip per batch.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "reader/reader.h"
#include "shm/futex.h"

void
progress_publish(struct reader *r)
{
	kls_shm_progress_publish(r->slot, &r->prog);
}

void
progress_start(struct reader *r)
{
	struct kls_progress prev;

	memset(&r->prog, 0, sizeof(r->prog));
	r->prog.read_mode = KLS_READ_POLLING;
	/* Claims the minor-2 fields (histograms from zero) for this run. */
	r->prog.writer_pid = (int32_t)getpid();
	r->prog.millis_behind = -1;
	r->req_gen = r->lease.ckpt_gen;
	/* A previous reader of this slot may have left a request klsd has not answered
	 * yet: keep it (klsd may still persist it, and it was valid), and number ours
	 * after it so an old answer is never taken for a new one. */
	if (kls_shm_progress_read(r->slot, &prev, KLS_SHM_READ_TRIES) == 0 &&
	    prev.req_gen > r->req_gen) {
		r->req_gen = prev.req_gen;
		memcpy(r->prog.req_seq, prev.req_seq, sizeof(r->prog.req_seq));
		r->prog.req_subseq = prev.req_subseq;
		memcpy(r->prog.delivered_seq, prev.delivered_seq, sizeof(r->prog.delivered_seq));
		r->prog.delivered_subseq = prev.delivered_subseq;
	}
	r->prog.req_gen = r->req_gen;
	progress_publish(r);
	kls_shm_heartbeat(r->slot, mono_now());
}

void
progress_state(struct reader *r, enum kls_handler_state st)
{
	r->prog.handler_state = st;
	progress_publish(r);
}

void
progress_error(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->prog.last_error, sizeof(r->prog.last_error), fmt, ap);
	va_end(ap);
	r->prog.error_ns = mono_now().ns;
	progress_publish(r);
}

void
handshake_wake(struct reader *r)
{
	static const char byte = 'c';
	ssize_t n;

	do
		n = write(r->wake_fd, &byte, 1);
	while (n == -1 && errno == EINTR);
	/* EAGAIN: the pipe is full of earlier wake-ups klsd has not read, so it will look
	 * anyway. EPIPE: klsd is gone; the parent-death signal ends us shortly. */
	if (n == -1 && errno != EAGAIN)
		log_debug("%s: wake pipe: %s", r->shard_id, strerror(errno));
}

enum look
reader_look(struct reader *r, kls_mono now)
{
	/* Torn: r->lease keeps the last clean copy, and the fence its earlier deadline. */
	(void)fence_refresh(&r->fence, &r->lease);
	if (!fence_open(&r->fence, now))
		return LOOK_EXPIRED;
	switch (r->lease.command) {
	case KLS_CMD_RUN: return LOOK_RUN;
	case KLS_CMD_DRAIN:
		/* Here, not in deliver_finish: a drain seen while a checkpoint waits for
		 * klsd (handshake_persist) does not end that wait, and shows all the same. */
		if (!r->title_draining)
			reader_title(r, true);
		return LOOK_DRAIN;
	default: return LOOK_STOP;
	}
}

/* Milliseconds to sleep from now: up to `until`, one beat at most, and not past the
 * lease deadline (so its passing is seen at once). At least 1. */
static int64_t
slice_ms(struct reader *r, kls_mono now, kls_mono until)
{
	int64_t ms = r->beat_ms, left = fence_ms_left(&r->fence, now) + 1;

	if (until.ns != INT64_MAX && (until.ns - now.ns + 999999) / 1000000 < ms)
		ms = (until.ns - now.ns + 999999) / 1000000;
	if (left < ms)
		ms = left;
	return ms < 1 ? 1 : ms;
}

enum look
reader_wait(struct reader *r, kls_mono until)
{
	for (;;) {
		/* Load the wake word before looking: a command published after the look
		 * bumps it, and the futex wait then returns at once. Acquire pairs with
		 * kls_shm_wake_reader's release. */
		uint32_t w = atomic_load_explicit(&r->slot->wake, memory_order_acquire);
		kls_mono now = mono_now();
		enum look lk = reader_look(r, now);

		fence_beat(&r->fence, now);
		if (lk != LOOK_RUN)
			return lk;
		if (!mono_before(now, until))
			return LOOK_RUN;
		(void)kls_futex_wait(&r->slot->wake, w, slice_ms(r, now, until));
	}
}

static int
answer(struct reader *r, const struct kls_lease *l, const char *seq, uint64_t sub)
{
	switch (l->ckpt_result) {
	case KLS_CKPT_OK: return KLS_OK;
	case KLS_CKPT_BEYOND:
		log_warnx("%s: checkpoint %s/%llu refused by klsd: beyond the last record "
		          "delivered (%s)",
		    r->shard_id, seq, (unsigned long long)sub, l->error);
		return KLS_ERR_BEYOND_DELIVERED;
	case KLS_CKPT_LEASE_LOST:
		log_warnx("%s: checkpoint %s/%llu refused by klsd: lease lost (%s)", r->shard_id,
		    seq, (unsigned long long)sub, l->error);
		return KLS_ERR_LEASE_LOST;
	default:
		log_warnx("%s: checkpoint %s/%llu not persisted: %s", r->shard_id, seq,
		    (unsigned long long)sub, l->error[0] ? l->error : "klsd's write failed");
		return KLS_ERR_WRITE_FAILED;
	}
}

int
handshake_persist(void *arg, const char *seq, uint64_t sub)
{
	struct reader *r = arg;
	uint32_t before = r->prog.handler_state;
	kls_mono now = mono_now();
	kls_mono end = mono_add_ms(now, READER_CHECKPOINT_TIMEOUT_MS);
	enum look lk = reader_look(r, now);
	int result = KLS_ERR_TIMEOUT;
	uint64_t gen;

	if (lk == LOOK_EXPIRED || lk == LOOK_STOP)
		return KLS_ERR_LEASE_LOST;
	gen = ++r->req_gen;
	snprintf(r->prog.req_seq, sizeof(r->prog.req_seq), "%s", seq);
	r->prog.req_subseq = sub;
	r->prog.req_gen = gen;
	r->prog.req_flags = 0; /* write it now, and answer */
	progress_state(r, KLS_HANDLER_CHECKPOINT);
	handshake_wake(r);
	for (;;) {
		uint32_t w = atomic_load_explicit(&r->slot->wake, memory_order_acquire);
		struct kls_lease l;
		int rc = kls_shm_await_persisted(r->slot, gen, slice_ms(r, now, end), &l);

		now = mono_now();
		fence_beat(&r->fence, now);
		if (rc == 0) {
			result = answer(r, &l, seq, sub);
			break;
		}
		lk = reader_look(r, now);
		if (lk == LOOK_EXPIRED || lk == LOOK_STOP) {
			result = KLS_ERR_LEASE_LOST;
			break;
		}
		if (!mono_before(now, end)) {
			log_warnx("%s: checkpoint %s/%llu: klsd did not answer within %d ms",
			    r->shard_id, seq, (unsigned long long)sub,
			    READER_CHECKPOINT_TIMEOUT_MS);
			break;
		}
		/* await returns at once while the command is DRAIN: sleep here instead. */
		if (rc == 1)
			(void)kls_futex_wait(&r->slot->wake, w, slice_ms(r, now, end));
	}
	progress_state(r, before);
	return result;
}

int
handshake_post(void *arg, const char *seq, uint64_t sub)
{
	struct reader *r = arg;
	enum look lk = reader_look(r, mono_now());

	if (lk == LOOK_EXPIRED || lk == LOOK_STOP)
		return KLS_ERR_LEASE_LOST;
	snprintf(r->prog.req_seq, sizeof(r->prog.req_seq), "%s", seq);
	r->prog.req_subseq = sub;
	r->prog.req_gen = ++r->req_gen;
	r->prog.req_flags = KLS_REQ_COALESCE;
	progress_publish(r);
	handshake_wake(r);
	return KLS_OK;
}
