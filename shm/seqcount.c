/* Sequence-counter group copies for the shm table: see seqcount.h for the protocol. */
#include "config.h"

#include "shm/seqcount.h"

#include <errno.h>
#include <time.h>

/* A 64-bit word that may alias the group structs (char arrays and integers). */
typedef uint64_t __attribute__((may_alias)) kls_word;

/* Attempts that spin before kls_seq_snapshot starts sleeping between tries: a writer
 * that is running finishes a group (under a microsecond) well within them. */
#define SPIN_TRIES 16u

void
kls_seq_store_words(void *dst, const void *src, size_t n)
{
	kls_word *d = dst;
	const kls_word *s = src;

	for (size_t i = 0; i < n / sizeof(kls_word); i++)
		__atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

void
kls_seq_load_words(void *dst, const void *src, size_t n)
{
	kls_word *d = dst;
	const kls_word *s = src;

	for (size_t i = 0; i < n / sizeof(kls_word); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void
kls_seq_publish(_Atomic uint32_t *seq, void *dst, const void *src, size_t n)
{
	kls_seq_write_begin(seq);
	kls_seq_store_words(dst, src, n);
	kls_seq_write_end(seq);
}

int
kls_seq_snapshot(const _Atomic uint32_t *seq, void *dst, const void *src, size_t n,
    unsigned tries)
{
	for (unsigned i = 0; i < tries; i++) {
		uint32_t s = kls_seq_read_begin(seq);
		if (!(s & 1)) {
			kls_seq_load_words(dst, src, n);
			if (!kls_seq_read_retry(seq, s))
				return 0;
		}
		if (i >= SPIN_TRIES) {
			struct timespec ts = { 0, 100000 };
			nanosleep(&ts, NULL);
		}
	}
	errno = EAGAIN;
	return -1;
}

bool
kls_seq_repair(_Atomic uint32_t *seq, void *dst, const void *src, size_t n)
{
	/* Acquire: if the dead writer did finish, we must not overwrite data it published
	 * with an older base; if it did not, the counter is odd and we own the group. */
	uint32_t s = atomic_load_explicit(seq, memory_order_acquire);
	if (!(s & 1))
		return false;
	kls_seq_store_words(dst, src, n);
	/* Release: readers that see the even counter also see the repaired data. */
	atomic_store_explicit(seq, s + 1, memory_order_release);
	return true;
}
