/*
 * The readers of the leases klsd holds: started when a lease is renewed and has time
 * left, drained before the lease's self-fencing deadline and killed at it, reaped with
 * the exit meanings of common/reader_proto.h, restarted with backoff while the lease
 * keeps being renewed, killed by the watchdog when their heartbeat stops; and their
 * checkpoint requests, read from the progress group when a wake byte arrives.
 *
 * klsd trusts nothing a reader writes: progress is read under its seqcount, a request
 * is checked against what the reader says it delivered (checkpoints.c), and a torn
 * group left by a dying reader is repaired only after waitpid says it is gone.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/klsd_int.h"

/* The lease group's error text: prefix and what, cut to the field. */
static void
set_error(struct held *h, const char *prefix, const char *what)
{
	size_t room = sizeof(h->pub.error) - 1, n = strlen(prefix);

	if (n > room)
		n = room;
	memcpy(h->pub.error, prefix, n);
	snprintf(h->pub.error + n, sizeof(h->pub.error) - n, "%.*s", (int)(room - n), what);
	h->pub.error_ns = mono_now().ns;
}

void
supervise_command(struct held *h, enum kls_command cmd)
{
	h->pub.command = cmd;
	held_publish(h);
	kls_shm_wake_reader(h->s);
	if (cmd == KLS_CMD_DRAIN)
		h->proc.drain_sent = true;
	if (cmd == KLS_CMD_STOP)
		h->proc.stop_sent = true;
}

void
supervise_kill(struct held *h, const char *why)
{
	if (!h->proc.pid || h->proc.kill_sent)
		return;
	log_warnx("reader %s pid %d: %s; killing it", h->l.key, (int)h->proc.pid, why);
	/* pid is our child and not reaped yet, so it cannot be someone else's. */
	if (kill(h->proc.pid, SIGKILL) < 0 && errno != ESRCH)
		log_error("kill %d (reader %s)", (int)h->proc.pid, h->l.key);
	h->proc.kill_sent = true;
}

void
supervise_answer(struct held *h, uint64_t gen, enum kls_ckpt_result result, const char *why)
{
	ckpt_answer(&h->ck, gen);
	/* A later generation already answered (a refusal while this write was in flight):
	 * its answer stands; the persisted position above is still published. */
	if (gen >= h->pub.ckpt_gen) {
		h->pub.ckpt_gen = gen;
		h->pub.ckpt_result = result;
	}
	if (why)
		set_error(h, "", why);
	held_publish(h);
	kls_shm_wake_reader(h->s);
}

void
supervise_checkpoint_request(struct klsd *k, struct held *h)
{
	struct kls_progress pr;
	char why[KLS_SHM_ERROR_MAX];

	/* A torn read means a newer publish is under way; its wake byte follows it. */
	if (kls_shm_progress_read(h->s, &pr, KLS_SHM_READ_TRIES) < 0)
		return;
	h->progress = pr;
	h->have_progress = true;
	if (h->state == HELD_LOST || h->state == HELD_ADOPTING) {
		if (pr.req_gen > h->ck.answered_gen)
			supervise_answer(h, pr.req_gen, KLS_CKPT_LEASE_LOST, "lease lost");
		return;
	}
	switch (ckpt_consider(&h->ck, &pr, klsd_shard_closed(k, h->l.key), why, sizeof(why))) {
	case CKPT_REFUSED:
		log_warnx("reader %s pid %d: %s", h->l.key, (int)h->proc.pid, why);
		supervise_answer(h, pr.req_gen, KLS_CKPT_BEYOND, why);
		break;
	case CKPT_NEED_CLOSED:
		/* Trust SHARD_END only for a shard the stream says is closed: list the
		 * shards now; sync.c asks again when the listing arrives. */
		if (!h->ckpt_need_closed) {
			h->ckpt_need_closed = true;
			if (k->sync_busy || k->phase == PHASE_TABLE)
				break;
			klsd_start_sync(k);
		}
		break;
	case CKPT_QUEUED:
	case CKPT_NOTHING: break;
	}
}

void
supervise_wake(struct klsd *k, struct held *h)
{
	char buf[256];

	for (;;) {
		ssize_t n = read(h->proc.wake_fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n == 0)
			h->wake_hup = true; /* the reader closed it (exiting): reap comes next */
		else if (errno == EINTR)
			continue;
		break;
	}
	supervise_checkpoint_request(k, h);
}

/* Room to start a reader: the lease is renewed and its deadline is not about to drain. */
static bool
can_run(const struct klsd *k, const struct held *h, kls_mono now)
{
	return h->state == HELD_ACTIVE && k->phase == PHASE_RUNNING && h->deadline.ns != 0 &&
	       mono_before(mono_add_ms(now, klsd_drain_window_ms(&k->cfg)), h->deadline) &&
	       kls_shm_slot_state(h->s) != KLS_SLOT_FAILED;
}

static void
spawn(struct klsd *k, struct held *h, kls_mono now)
{
	struct reader_spawn rs = {
		.exe = k->reader_exe,
		.config_fd = k->config_fd,
		.shm_name = k->shm_name,
	};
	struct kls_progress pr;

	/* The previous reader is gone, so its progress group is still. A new reader
	 * numbers its checkpoint requests after the last one there (or after the lease
	 * group's ckpt_gen); either way klsd must not treat them as answered. */
	if (kls_shm_progress_read(h->s, &pr, KLS_SHM_READ_TRIES) == 0) {
		h->progress = pr;
		h->have_progress = true;
		ckpt_answer(&h->ck, pr.req_gen);
		if (pr.req_gen > h->pub.ckpt_gen)
			h->pub.ckpt_gen = pr.req_gen;
	}
	h->pub.command = KLS_CMD_RUN;
	h->pub.restarts = h->proc.restarts;
	held_publish(h);
	if (reader_spawn(&rs, &h->proc, now) < 0) {
		int64_t ms = reader_restart_delay(&h->proc.backoff_ms, now, now,
		    k->cfg.reader.restart_backoff_min_ms, k->cfg.reader.restart_backoff_max_ms);
		log_error("fork kls-reader for %s; retry in %" PRId64 " ms", h->l.key, ms);
		h->proc.state = READER_BACKOFF;
		h->proc.restart_at = mono_add_ms(now, ms);
		return;
	}
	h->wake_hup = false;
	h->watchdog_kill = false;
	h->fence_kill = false;
	h->pub.reader_pid = h->proc.pid;
	h->pub.reader_start_ticks = h->proc.start_ticks;
	h->pub.reader_started_ns = now.ns;
	held_publish(h);
	log_info("reader %s pid %d started (slot %d, lease counter %" PRIu64 ")", h->l.key,
	    (int)h->proc.pid, h->slot, h->l.counter);
}

kls_mono
supervise_tick(struct klsd *k, struct held *h, kls_mono now)
{
	struct reader_proc *p = &h->proc;
	const struct config_reader *rc = &k->cfg.reader;
	kls_mono next = KLS_MONO_NEVER;

	switch (p->state) {
	case READER_RUNNING: {
		kls_mono drain_at = mono_add_ms(h->deadline, -klsd_drain_window_ms(&k->cfg));

		if (p->kill_sent || !p->pid)
			break;
		/* Self-fencing: no reader of ours may run past the lease's deadline. */
		if (h->deadline.ns == 0 || !mono_before(now, h->deadline)) {
			h->fence_kill = true;
			supervise_kill(h, "lease deadline reached (self-fencing)");
			break;
		}
		if (!p->drain_sent && !p->stop_sent && !mono_before(now, drain_at)) {
			log_warnx("lease %s not renewed in time: draining reader pid %d, %" PRId64
			          " ms before its deadline",
			    h->l.key, (int)p->pid, mono_diff_ms(now, h->deadline));
			supervise_command(h, KLS_CMD_DRAIN);
		}
		if (!mono_before(now, p->kill_at)) {
			supervise_kill(h, p->stop_sent ? "did not stop in time"
			                               : "did not drain within drain_timeout_ms");
			break;
		}
		if (rc->heartbeat_timeout_ms && h->state == HELD_ACTIVE && !p->drain_sent) {
			kls_mono hb = kls_shm_heartbeat_get(h->s);
			/* Until this run's first heartbeat (the word still holds the last
			 * run's), it is starting up: exec, shm, dlopen, handler init. */
			bool started = mono_before(p->started_at, hb);
			kls_mono base = started ? hb : p->started_at;
			int64_t limit = rc->heartbeat_timeout_ms;
			kls_mono due;
			if (!started && limit < READER_STARTUP_GRACE_MS)
				limit = READER_STARTUP_GRACE_MS;
			due = mono_add_ms(base, limit);
			if (!mono_before(now, due)) {
				char why[96];
				snprintf(why, sizeof(why), "%s for %" PRId64 " ms (hung handler?)",
				    started ? "no heartbeat" : "no first heartbeat",
				    mono_diff_ms(base, now));
				h->watchdog_kill = true;
				supervise_kill(h, why);
				break;
			}
			if (mono_before(due, next))
				next = due;
		}
		if (!p->drain_sent && mono_before(drain_at, next))
			next = drain_at;
		if (mono_before(h->deadline, next))
			next = h->deadline;
		if (mono_before(p->kill_at, next))
			next = p->kill_at;
		break;
	}
	case READER_BACKOFF:
		if (h->state != HELD_ACTIVE || k->phase != PHASE_RUNNING) {
			p->state = READER_IDLE;
			break;
		}
		if (mono_before(now, p->restart_at)) {
			next = p->restart_at;
			break;
		}
		if (can_run(k, h, now))
			spawn(k, h, now);
		break;
	case READER_IDLE:
		if (can_run(k, h, now))
			spawn(k, h, now);
		break;
	case READER_FAILED: break;
	}
	return next;
}

/* What to do after a run of h's reader ended with wait status st. */
static void
after_exit(struct klsd *k, struct held *h, int st, unsigned reaped, kls_mono now)
{
	struct reader_proc *p = &h->proc;
	const struct config_reader *rc = &k->cfg.reader;
	enum reader_verdict v = reader_verdict(st);
	bool keep = h->state == HELD_ACTIVE && k->phase == PHASE_RUNNING;
	char how[96], extra[KLS_SHM_ERROR_MAX + 64] = "";
	int pid = (int)h->pub.reader_pid;

	reader_describe_exit(st, how, sizeof(how));
	if (reaped & KLS_REAPED_REPAIRED)
		log_warnx("reader %s pid %d died in the middle of publishing its progress; "
		          "slot %d repaired",
		    h->l.key, pid, h->slot);
	if (h->watchdog_kill)
		snprintf(extra, sizeof(extra), " by the watchdog");
	switch (v) {
	case READER_V_PERMANENT:
		p->state = READER_FAILED;
		set_error(h, "permanent failure: ",
		    h->have_progress && h->progress.last_error[0] ? h->progress.last_error
		                                                  : "see the log");
		kls_shm_slot_fail(h->s, &h->pub);
		log_errorx("reader %s pid %d %s: %s; not restarting it (the lease is kept)",
		    h->l.key, pid, how, h->pub.error);
		return;
	case READER_V_SHARD_END:
		p->state = READER_IDLE;
		if (lease_is_finished(&h->l)) {
			log_info("reader %s pid %d reached the end of the shard", h->l.key, pid);
			held_release(k, h, "shard ended");
			/* Its children may have no lease yet (sync), or wait for this
			 * parent to finish (take): both now, not an interval from now. */
			k->next_sync = now;
			k->next_take = now;
			return;
		}
		log_warnx("reader %s pid %d %s, but SHARD_END is not checkpointed; restarting it",
		    h->l.key, pid, how);
		break;
	case READER_V_DRAINED:
		if (keep) {
			/* Drained for fencing and renewed since: run again at once. */
			p->state = READER_IDLE;
			log_info("reader %s pid %d %s; starting it again", h->l.key, pid, how);
		} else {
			p->state = READER_IDLE;
			log_info("reader %s pid %d %s", h->l.key, pid, how);
		}
		return;
	case READER_V_LEASE_LOST:
	case READER_V_RESTART: break;
	}
	if (keep && (v == READER_V_LEASE_LOST || h->fence_kill)) {
		/* The fence stopped it: the lease went unrenewed up to its deadline
		 * (DynamoDB slow or unreachable, klsd paused), no fault of the reader's. It
		 * starts again once a renew lands (can_run), without the crash backoff,
		 * which could leave the shard idle long after DynamoDB recovered. */
		p->state = READER_IDLE;
		log_info("reader %s pid %d %s at the lease deadline; it starts again once the "
		         "lease is renewed",
		    h->l.key, pid, how);
		return;
	}
	if (!keep) {
		p->state = READER_IDLE;
		log_info("reader %s pid %d %s%s", h->l.key, pid, how, extra);
		return;
	}
	{
		int64_t ms = reader_restart_delay(&p->backoff_ms, p->started_at, now,
		    rc->restart_backoff_min_ms, rc->restart_backoff_max_ms);
		p->restarts++;
		p->state = READER_BACKOFF;
		p->restart_at = mono_add_ms(now, ms);
		set_error(h, "", how);
		held_publish(h);
		log_warnx("reader %s pid %d %s%s; restart %u in %" PRId64 " ms", h->l.key, pid, how,
		    extra, p->restarts, ms);
	}
}

void
supervise_reap(struct klsd *k)
{
	kls_mono now = mono_now();
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct held *h = held_find_pid(k, pid);
		struct kls_progress pr;
		unsigned flags;

		if (!h) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		/* Last words first: a checkpoint request still unseen, its last error. */
		if (h->proc.wake_fd >= 0 && !h->wake_hup)
			supervise_wake(k, h);
		if (kls_shm_progress_read(h->s, &pr, 3) == 0) {
			h->progress = pr;
			h->have_progress = true;
		}
		flags = kls_shm_slot_reaped(h->s, h->have_progress ? &h->progress : NULL);
		reader_reaped(&h->proc, st);
		if (WIFSIGNALED(st)) {
			h->pub.exit_kind = WCOREDUMP(st) ? KLS_EXIT_CORE : KLS_EXIT_SIGNAL;
			h->pub.exit_value = WTERMSIG(st);
		} else {
			h->pub.exit_kind = KLS_EXIT_CODE;
			h->pub.exit_value = WEXITSTATUS(st);
		}
		h->pub.command = KLS_CMD_NONE;
		held_publish(h);
		if (svc_reader_exited(k, h, st, now))
			continue;
		after_exit(k, h, st, flags, now);
	}
}
