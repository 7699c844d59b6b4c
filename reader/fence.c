/*
 * The reader's fence: lease deadline checks and the watchdog/heartbeat thread. See
 * fence.h for the rules; this file is their mechanics.
 */
#include "config.h"

#include "reader/fence.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* Shortest sleep of the watchdog, so a deadline a few ns away does not spin. */
#define FENCE_MIN_SLEEP_NS 1000000

enum fence_action
fence_decide(enum fence_busy busy, int64_t now_ns, int64_t since_ns, int64_t deadline_ns,
    int64_t beat_max_ns)
{
	if (busy == FENCE_IDLE)
		return FENCE_NOTHING;
	if (busy == FENCE_HANDLER && now_ns >= deadline_ns)
		return FENCE_KILL;
	if (beat_max_ns == 0 || now_ns - since_ns < beat_max_ns)
		return FENCE_BEAT;
	return FENCE_NOTHING;
}

int
fence_init(struct fence *f, struct kls_shm_slot *slot, const struct kls_lease *l, int64_t beat_ms,
    int64_t handler_beat_max_ms, int64_t network_beat_max_ms)
{
	pthread_condattr_t ca;
	int e;

	memset(f, 0, sizeof(*f));
	f->slot = slot;
	atomic_init(&f->deadline_ns, l->deadline_ns);
	atomic_init(&f->busy, FENCE_IDLE);
	atomic_init(&f->busy_since_ns, 0);
	atomic_init(&f->busy_what, "");
	atomic_init(&f->wake_ns, 0);
	atomic_init(&f->wakeups, 0);
	f->beat_ns = beat_ms * 1000000;
	f->handler_beat_max_ns = handler_beat_max_ms * 1000000;
	f->network_beat_max_ns = network_beat_max_ms * 1000000;
	snprintf(f->shard_id, sizeof(f->shard_id), "%s", l->shard_id);
	/* The thread's sleeps are relative waits: CLOCK_MONOTONIC is as good as BOOTTIME
	 * for them (a suspend only makes the next look late, and the look uses BOOTTIME). */
	if ((e = pthread_condattr_init(&ca)) != 0 ||
	    (e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (e = pthread_cond_init(&f->cv, &ca)) != 0) {
		errno = e;
		return -1;
	}
	pthread_condattr_destroy(&ca);
	if ((e = pthread_mutex_init(&f->mu, NULL)) != 0) {
		pthread_cond_destroy(&f->cv);
		errno = e;
		return -1;
	}
	return 0;
}

int
fence_refresh(struct fence *f, struct kls_lease *out)
{
	struct kls_lease l;

	if (kls_shm_lease_read(f->slot, &l, KLS_SHM_READ_TRIES) < 0)
		return -1;
	atomic_store_explicit(&f->deadline_ns, l.deadline_ns, memory_order_relaxed);
	if (out)
		*out = l;
	return 0;
}

int64_t
fence_ms_left(const struct fence *f, kls_mono now)
{
	int64_t d = atomic_load_explicit(&f->deadline_ns, memory_order_relaxed);

	return (d - now.ns) / 1000000;
}

/* One look of the watchdog; returns when the next is due (CLOCK_BOOTTIME ns). */
static int64_t
look(struct fence *f, int64_t *last_since)
{
	/* Acquire pairs with fence_busy's release: since and what belong to this busy. */
	enum fence_busy busy = atomic_load_explicit(&f->busy, memory_order_acquire);
	int64_t since = atomic_load_explicit(&f->busy_since_ns, memory_order_relaxed);
	const char *what = atomic_load_explicit(&f->busy_what, memory_order_relaxed);
	kls_mono now = mono_now();
	int64_t deadline, max, sleep_ns = f->beat_ns;

	(void)fence_refresh(f, NULL);
	deadline = atomic_load_explicit(&f->deadline_ns, memory_order_relaxed);
	max = busy == FENCE_HANDLER ? f->handler_beat_max_ns : f->network_beat_max_ns;
	if (since != *last_since) {
		*last_since = since;
		f->warned = false;
	}
	switch (fence_decide(busy, now.ns, since, deadline, max)) {
	case FENCE_KILL:
		/* klsd normally kills us first; this is for a klsd that is frozen or gone.
		 * No handler code may run past the deadline: another worker may take the
		 * lease right after it. */
		log_errorx("%s: lease deadline passed %lld ms ago with the handler still in "
		           "%s(): killing the reader",
		    f->shard_id, (long long)((now.ns - deadline) / 1000000), what);
		raise(SIGKILL);
		break;
	case FENCE_BEAT: kls_shm_heartbeat(f->slot, now); break;
	case FENCE_NOTHING:
		if (busy != FENCE_IDLE && !f->warned) {
			f->warned = true;
			log_warnx("%s: %s() has run for %lld ms; heartbeats stop so that klsd's "
			          "watchdog restarts this reader if it does not return",
			    f->shard_id, what, (long long)((now.ns - since) / 1000000));
		}
		break;
	}
	/* Whatever the main thread is doing now: a handler call may start at any moment
	 * without waking us, and must find us due at its deadline. Once the deadline has
	 * passed no call starts (call_begin checks), and one that slips in wakes us. */
	if (deadline > now.ns && deadline - now.ns < sleep_ns)
		sleep_ns = deadline - now.ns;
	return now.ns + sleep_ns;
}

static void *
watchdog(void *arg)
{
	struct fence *f = arg;
	int64_t last_since = -1;

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		struct timespec ts;
		int64_t due, sleep_ns;
		kls_mono now;

		pthread_mutex_unlock(&f->mu);
		due = look(f, &last_since);
		pthread_mutex_lock(&f->mu);
		now = mono_now();
		sleep_ns = due - now.ns < FENCE_MIN_SLEEP_NS ? FENCE_MIN_SLEEP_NS : due - now.ns;
		/* Published before the check below (both seq_cst, as in fence_busy): a handler
		 * call that starts from here on sees it; one that started since look read
		 * busy is seen by the check. (The check takes due, not the rounded-up sleep,
		 * so that a deadline less than the shortest sleep away does not spin.) */
		atomic_store(&f->wake_ns, now.ns + sleep_ns);
		if (fence_must_wake(atomic_load(&f->busy),
		        atomic_load_explicit(&f->deadline_ns, memory_order_relaxed), due))
			continue;
		if (f->stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sleep_ns += ts.tv_nsec;
		ts.tv_sec += sleep_ns / 1000000000;
		ts.tv_nsec = sleep_ns % 1000000000;
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int
fence_start(struct fence *f)
{
	sigset_t all, old;
	int e;

	/* The thread takes no signals: they belong to the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&f->thread, NULL, watchdog, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		return -1;
	}
	f->started = true;
	return 0;
}

void
fence_stop(struct fence *f)
{
	if (!f->started)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	f->started = false;
}

void
fence_destroy(struct fence *f)
{
	fence_stop(f);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

void
fence_busy(struct fence *f, enum fence_busy kind, const char *what)
{
	kls_mono now = mono_now();

	/* The step's first beat; the watchdog's looks give the rest. */
	kls_shm_heartbeat(f->slot, now);
	atomic_store_explicit(&f->busy_since_ns, now.ns, memory_order_relaxed);
	atomic_store_explicit(&f->busy_what, what, memory_order_relaxed);
	/* seq_cst: the watchdog that sees this busy value sees since and what too (release),
	 * and the load of wake_ns below cannot move before it (see struct fence). */
	atomic_store(&f->busy, kind);
	if (!fence_must_wake(kind, atomic_load_explicit(&f->deadline_ns, memory_order_relaxed),
	        atomic_load(&f->wake_ns)))
		return;
	atomic_fetch_add_explicit(&f->wakeups, 1, memory_order_relaxed);
	pthread_mutex_lock(&f->mu);
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void
fence_idle(struct fence *f)
{
	/* No wake-up: the watchdog notices at its next look. */
	atomic_store_explicit(&f->busy, FENCE_IDLE, memory_order_release);
}
