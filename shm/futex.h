/*
 * Futex wait and wake on a 32-bit word of the shm table, for the checkpoint handshake:
 * the reader sleeps on slot.wake until klsd bumps it and wakes it. The table is shared
 * between processes, so these are the shared (not FUTEX_PRIVATE) operations. The other
 * direction (reader -> klsd) goes through the reader's pipe/eventfd into klsd's poll
 * loop, not through a futex: klsd must never block on one reader.
 */
#ifndef KLS_SHM_FUTEX_H
#define KLS_SHM_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * Sleeps while *word == expected, at most timeout_ms (< 0: no limit). Returns 0 when
 * woken, when *word no longer equals expected, or spuriously: callers re-check their
 * condition. -1 with errno ETIMEDOUT or EINTR otherwise.
 */
int kls_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ms);
/* Wakes every process sleeping on word. Returns how many, or -1 with errno. */
int kls_futex_wake(_Atomic uint32_t *word);

#endif
