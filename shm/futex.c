/* Futex wait/wake on shm words (Linux futex(2)): see futex.h. */
#include "config.h"

#include "shm/futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int
kls_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ms)
{
	struct timespec ts, *tp = NULL;
	long rc;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (timeout_ms % 1000) * 1000000;
		tp = &ts; /* FUTEX_WAIT takes a relative timeout on CLOCK_MONOTONIC */
	}
	/* The kernel compares *word with expected atomically with going to sleep, so a
	 * wake that lands after the caller read `expected` is not lost: we get EAGAIN. */
	rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tp, NULL, 0);
	if (rc == 0 || errno == EAGAIN)
		return 0;
	return -1;
}

int
kls_futex_wake(_Atomic uint32_t *word)
{
	long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return rc < 0 ? -1 : (int)rc;
}
