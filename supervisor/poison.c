/*
 * Poison records (DESIGN.md, "Readers and handlers"): a reader that dies again and again
 * with a batch delivered past the same persisted checkpoint has a record there that kills
 * the handler. After [reader] poison_retries such deaths in a row, poison_policy says:
 *
 *   retry        keep restarting it, with the capped restart backoff (supervise.c);
 *   dead-letter  the next run writes its first batch (the one after the checkpoint) to
 *                dead_letter_dir instead of calling the handler and checkpoints past it
 *                (lease.first_batch, reader/dead_letter.c); cleared once the checkpoint
 *                has moved;
 *   release      give the lease up (drain, conditional release) and leave the shard alone
 *                for POISON_AVOID_CYCLES take cycles, reported by the status command.
 *
 * A death counts only when the run had published a batch beyond the checkpoint (its
 * progress group says so): a reader that dies in init or while fetching has no poison
 * record, and dead-lettering could not help it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/klsd_int.h"

/* Take cycles a shard given up for a poison record is left alone. */
#define POISON_AVOID_CYCLES 10

static bool
at_crash_checkpoint(const struct held *h)
{
	return strcmp(h->svc.crash_seq, h->pub.ckpt_seq) == 0 &&
	       h->svc.crash_sub == h->pub.ckpt_subseq;
}

/* The run that just ended had a batch past the persisted checkpoint in its hands. */
static bool
died_in_batch(const struct held *h)
{
	const struct kls_progress *p = &h->progress;

	/* h->progress is this run's only if the run published anything (see observe.c). */
	if (!h->have_progress || !mono_before(h->proc.started_at, kls_shm_heartbeat_get(h->s)))
		return false;
	return p->delivered_seq[0] && (strcmp(p->delivered_seq, h->pub.ckpt_seq) != 0 ||
	                                  p->delivered_subseq != h->pub.ckpt_subseq);
}

static void
set_error(struct held *h, const char *text)
{
	snprintf(h->pub.error, sizeof(h->pub.error), "%s", text);
	h->pub.error_ns = mono_now().ns;
}

bool
poison_reader_exited(struct klsd *k, struct held *h, int wstatus, kls_mono now)
{
	const struct config_reader *rc = &k->cfg.reader;
	struct held_svc *ps = &h->svc;
	char what[KLS_SHM_ERROR_MAX];
	bool first;

	(void)now;
	if (reader_verdict(wstatus) != READER_V_RESTART || h->state != HELD_ACTIVE ||
	    k->phase != PHASE_RUNNING || !died_in_batch(h))
		return false;
	if (ps->crashes == 0 || !at_crash_checkpoint(h)) {
		snprintf(ps->crash_seq, sizeof(ps->crash_seq), "%s", h->pub.ckpt_seq);
		ps->crash_sub = h->pub.ckpt_subseq;
		ps->crashes = 0;
		ps->poison_applied = false;
	}
	if (++ps->crashes < rc->poison_retries)
		return false;
	first = !ps->poison_applied;
	ps->poison_applied = true;
	snprintf(what, sizeof(what), "poison record after checkpoint %s: %u deaths in a row",
	    ps->crash_seq, ps->crashes);
	if (first || rc->poison_policy == CONFIG_POISON_RELEASE) {
		svc_count(k, SVC_POISON_RECORDS);
		observe_poison(k, h->l.key);
	}
	switch (rc->poison_policy) {
	case CONFIG_POISON_RETRY:
		if (first)
			log_warnx("lease %s: %s (batch up to %s); poison_policy = retry: "
			          "restarting it with backoff",
			    h->l.key, what, h->progress.delivered_seq);
		set_error(h, what);
		return false;
	case CONFIG_POISON_DEAD_LETTER:
		if (first)
			log_warnx("lease %s: %s (batch up to %s); poison_policy = dead-letter: the "
			          "next reader writes that batch to %s and checkpoints past it",
			    h->l.key, what, h->progress.delivered_seq, rc->dead_letter_dir);
		set_error(h, what);
		h->pub.first_batch = KLS_BATCH_DEAD_LETTER; /* published by the spawn */
		return false;
	case CONFIG_POISON_RELEASE: break;
	}
	log_warnx("lease %s: %s (batch up to %s); poison_policy = release: giving the lease up "
	          "for %d take cycles",
	    h->l.key, what, h->progress.delivered_seq, POISON_AVOID_CYCLES);
	set_error(h, what);
	held_publish(h);
	h->proc.state = READER_IDLE;
	held_release(k, h, "poison record");
	svc_avoid(k, h->l.key, POISON_AVOID_CYCLES, what);
	return true;
}

void
poison_tick(struct klsd *k, struct held *h)
{
	(void)k;
	if (h->pub.first_batch == KLS_BATCH_PROCESS || at_crash_checkpoint(h))
		return;
	log_info("lease %s: checkpoint moved past the poison record to %s", h->l.key,
	    h->pub.ckpt_seq);
	h->pub.first_batch = KLS_BATCH_PROCESS;
	h->svc.crashes = 0;
	h->svc.poison_applied = false;
	held_publish(h);
}
