/*
 * Shared by the benchmark programs (the .c files here, built by `make bench-...`): the clock
 * they measure with. Process CPU time, so other load on a shared machine inflates the
 * numbers little.
 */
#ifndef KLS_TEST_BENCH_H
#define KLS_TEST_BENCH_H

#include <time.h>

static inline double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
