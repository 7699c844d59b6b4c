/*
 * Sequence counters for the single-writer field groups of the shm table (one writer
 * process, any number of readers in other processes, no lock, no system call).
 *
 * Writer:  begin (counter becomes odd), store the data, end (counter becomes even).
 * Reader:  s = read_begin; copy the data; retry if s was odd or the counter moved.
 *
 * The data is moved as 8-byte words with relaxed atomic loads and stores, so a reader
 * racing a writer gets a stale or torn copy (which it then throws away) instead of a
 * C11 data race. The ordering between the counter and the data comes from the fences
 * below; each says which access it orders and why.
 */
#ifndef KLS_SHM_SEQCOUNT_H
#define KLS_SHM_SEQCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writer: makes the counter odd. If a previous writer died between begin and end the
 * counter is already odd; it stays odd (+2) so readers keep seeing "in progress".
 */
static inline void
kls_seq_write_begin(_Atomic uint32_t *seq)
{
	/* Relaxed: only this writer stores the counter, so it reads back its own value. */
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
	atomic_store_explicit(seq, s + 1 + (s & 1), memory_order_relaxed);
	/*
	 * Release fence: the odd counter must be visible before any of the data stores that
	 * follow. A reader that copies one of those stores and then runs the acquire fence in
	 * kls_seq_read_retry is synchronised with this fence, so its re-read of the counter
	 * sees this odd value (or a later one) and it discards its copy.
	 */
	atomic_thread_fence(memory_order_release);
}

/* Writer: makes the counter even again, publishing the data stored since begin. */
static inline void
kls_seq_write_end(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
	/* Release store: every data store above happens-before a reader's acquire load that
	 * sees this even value, so that reader copies complete data. */
	atomic_store_explicit(seq, s + 1, memory_order_release);
}

/* Reader: the counter value to check against; odd means a writer is inside. */
static inline uint32_t
kls_seq_read_begin(const _Atomic uint32_t *seq)
{
	/* Acquire: pairs with kls_seq_write_end's release, so the data loads below see at
	 * least everything the writer stored before making the counter this value. */
	return atomic_load_explicit((_Atomic uint32_t *)seq, memory_order_acquire);
}

/* Reader: true when the copy made since kls_seq_read_begin returned start is unusable. */
static inline bool
kls_seq_read_retry(const _Atomic uint32_t *seq, uint32_t start)
{
	/* Acquire fence: keeps the data loads above from moving below the counter re-read,
	 * and pairs with kls_seq_write_begin's release fence (see there). */
	atomic_thread_fence(memory_order_acquire);
	return (start & 1) ||
	    atomic_load_explicit((_Atomic uint32_t *)seq, memory_order_relaxed) != start;
}

/* Word copies with relaxed atomics; n is a multiple of 8, both pointers 8-aligned. */
void kls_seq_store_words(void *dst, const void *src, size_t n);
void kls_seq_load_words(void *dst, const void *src, size_t n);

/* Writer: begin, copy n bytes from src into the shared dst, end. */
void kls_seq_publish(_Atomic uint32_t *seq, void *dst, const void *src, size_t n);

/*
 * Reader: a consistent copy of the shared src into dst. Gives up after `tries` attempts
 * (spinning first, then sleeping 100 us between attempts so a preempted writer can run)
 * and returns -1 with errno EAGAIN: the group is torn, or its writer is stuck or dead
 * mid-update. 0 on success.
 */
int kls_seq_snapshot(const _Atomic uint32_t *seq, void *dst, const void *src, size_t n,
    unsigned tries);

/*
 * Repair, by whoever knows the writer is dead: if the counter is odd, writes src over
 * the group and makes the counter even. Returns true when it repaired.
 */
bool kls_seq_repair(_Atomic uint32_t *seq, void *dst, const void *src, size_t n);

#endif
