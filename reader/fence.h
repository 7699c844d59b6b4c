/*
 * Self-fencing and liveness for kls-reader: the lease deadline that klsd publishes in
 * the slot's lease group, checked before every handler call; a watchdog thread that
 * kills the reader if the handler is still inside a call when that deadline passes
 * (even when klsd is frozen and cannot do it); and heartbeats while the main thread is
 * busy in a handler call or a network call, so klsd can tell slow from hung.
 *
 * The deadline used is the last one read cleanly. Renewals only move it later, so a torn
 * read (klsd stopped or dead in the middle of publishing) keeps an older, earlier
 * deadline: the reader stops early rather than late.
 *
 * Heartbeats: the main thread beats between steps (fence_beat). While it is busy, the
 * watchdog thread beats for it, but only for a bounded time: a handler call is beaten
 * for at most heartbeat_timeout_ms, a network call for its request timeout plus slack.
 * A call stuck longer stops beating, its heartbeat goes stale, and klsd's watchdog
 * restarts the reader; a merely slow call keeps a fresh heartbeat until then.
 *
 * Waking: entering and leaving a step costs no system call in the common case. The
 * watchdog looks at least every heartbeat period whatever the main thread does, and
 * never sleeps past the deadline it last read while that deadline is ahead; it
 * publishes when its next look is due (wake_ns). fence_busy wakes it only when a handler
 * call starts under a deadline earlier than that (klsd shortened the lease, or the
 * deadline passed between the check and the call): the one case where sleeping on
 * would let handler code run past the deadline. A busy step is beaten by fence_busy at
 * its start and by the watchdog at each look after, so no beat is ever further apart
 * than a period.
 */
#ifndef KLS_READER_FENCE_H
#define KLS_READER_FENCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "shm/table.h"

enum fence_busy {
	FENCE_IDLE = 0,    /* the main thread is between steps and beats itself */
	FENCE_HANDLER = 1, /* inside a handler callback: the deadline kills */
	FENCE_NETWORK = 2, /* inside an AWS call: beaten, not killed */
};

/* What the watchdog does on one look (fence_decide). */
enum fence_action {
	FENCE_NOTHING = 0,
	FENCE_BEAT,
	FENCE_KILL,
};

struct fence {
	struct kls_shm_slot *slot;
	/* Last deadline read cleanly (CLOCK_BOOTTIME ns). Written by both threads; either
	 * store is a value klsd published, and a lost race leaves the earlier one. */
	_Atomic int64_t deadline_ns;
	/* What the main thread is doing, and since when: set by the main thread, read by
	 * the watchdog. busy is stored last (release) so since/what are seen with it. */
	_Atomic uint32_t busy;
	_Atomic int64_t busy_since_ns;
	const char *_Atomic busy_what; /* the callback's name, for the kill message */
	int64_t beat_ns;               /* heartbeat period */
	int64_t handler_beat_max_ns;   /* 0 = beat a handler call for as long as it runs */
	int64_t network_beat_max_ns;
	char shard_id[KLS_SHM_SHARD_MAX];

	/* When the watchdog's next look is due (CLOCK_BOOTTIME ns; 0 before the first):
	 * written by it before it sleeps, read by fence_busy. Both sides store before they
	 * load (seq_cst), so either fence_busy sees the new value or the watchdog sees the
	 * busy step and does not sleep past its deadline. */
	_Atomic int64_t wake_ns;
	/* Test hook: how many times fence_busy had to wake the watchdog. */
	_Atomic uint64_t wakeups;

	/* The watchdog thread sleeps on cv between looks; mu makes a wake-up between its
	 * last check and its wait impossible to lose. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool started;
	bool warned; /* a handler call outlived its heartbeats (logged once per call) */
	pthread_t thread;
};

/*
 * Sets up f for slot, starting from the lease l read at attach. beat_ms: heartbeat
 * period; handler_beat_max_ms: heartbeat_timeout_ms (0 = no limit); network_beat_max_ms:
 * the longest an AWS call can take. Does not start the thread.
 */
int fence_init(struct fence *f, struct kls_shm_slot *slot, const struct kls_lease *l,
    int64_t beat_ms, int64_t handler_beat_max_ms, int64_t network_beat_max_ms);
/* Starts the watchdog thread. 0, or -1 with errno. */
int fence_start(struct fence *f);
/* Stops and joins it (main thread, idle). Safe when never started. */
void fence_stop(struct fence *f);
void fence_destroy(struct fence *f);

/*
 * Reads the lease group. On a clean read stores its deadline, copies the lease to out
 * (when not NULL) and returns 0; when torn returns -1 (errno EAGAIN) and keeps the old
 * deadline (out untouched).
 */
int fence_refresh(struct fence *f, struct kls_lease *out);

/* True while now is before the last deadline read cleanly. */
static inline bool
fence_open(const struct fence *f, kls_mono now)
{
	return now.ns < atomic_load_explicit(&f->deadline_ns, memory_order_relaxed);
}

/* Milliseconds left before the deadline (negative once passed). */
int64_t fence_ms_left(const struct fence *f, kls_mono now);

/* The main thread enters or leaves a busy step (what: the callback or call name, a
 * string constant). fence_busy beats; neither makes a system call unless the watchdog
 * must look sooner than it planned to (see the top of this file). */
void fence_busy(struct fence *f, enum fence_busy kind, const char *what);
void fence_idle(struct fence *f);

/* A heartbeat from the main thread. */
static inline void
fence_beat(struct fence *f, kls_mono now)
{
	kls_shm_heartbeat(f->slot, now);
}

/*
 * The watchdog's rule, alone so it can be tested: kill when a handler call is still
 * running at or after the deadline; beat while a busy step is younger than its limit
 * (beat_max_ns 0 = no limit); otherwise nothing.
 */
enum fence_action fence_decide(enum fence_busy busy, int64_t now_ns, int64_t since_ns,
    int64_t deadline_ns, int64_t beat_max_ns);

/*
 * The wake rule, alone so it can be tested: true when the watchdog, whose next look is
 * due at wake_ns, must be woken because the main thread entered `busy` under
 * deadline_ns.
 */
static inline bool
fence_must_wake(enum fence_busy busy, int64_t deadline_ns, int64_t wake_ns)
{
	return busy == FENCE_HANDLER && deadline_ns < wake_ns;
}

#endif
