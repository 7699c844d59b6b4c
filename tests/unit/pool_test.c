/* Tests of supervisor/pool.c: jobs run on pool threads with their thread's context,
 * completions come back through the eventfd to the caller's thread, the queue bound
 * holds, and freeing the pool finishes every queued job. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "supervisor/pool.h"
#include "tests/harness.h"

struct ctx {
	int id;
	atomic_int ran;
};

struct tjob {
	struct pool_job job;
	int ctx_id; /* set by run: whose context it saw */
	pthread_t ran_on;
	bool done_on_main;
	pthread_t main;
	int *done_count;
	useconds_t sleep_us;
};

static void
tjob_run(struct pool_job *job, void *tctx)
{
	struct tjob *j = (struct tjob *)job;
	struct ctx *c = tctx;

	if (j->sleep_us)
		usleep(j->sleep_us);
	j->ctx_id = c->id;
	j->ran_on = pthread_self();
	atomic_fetch_add(&c->ran, 1);
}

static void
tjob_done(struct pool_job *job)
{
	struct tjob *j = (struct tjob *)job;

	j->done_on_main = pthread_equal(pthread_self(), j->main);
	(*j->done_count)++;
}

static void
init_jobs(struct tjob *jobs, size_t n, int *count, useconds_t sleep_us)
{
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct tjob){ .job = { tjob_run, tjob_done, NULL },
			.ctx_id = -1,
			.main = pthread_self(),
			.done_count = count,
			.sleep_us = sleep_us };
	}
}

static void
test_pool_runs_and_completes(void)
{
	struct ctx ctxs[3] = { { .id = 10 }, { .id = 11 }, { .id = 12 } };
	void *cp[3] = { &ctxs[0], &ctxs[1], &ctxs[2] };
	struct tjob jobs[50];
	struct pool *p = pool_new(3, 0, cp);
	int done = 0, waited = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	init_jobs(jobs, 50, &done, 1000);
	for (int i = 0; i < 50; i++)
		CU_ASSERT_EQUAL(pool_submit(p, &jobs[i].job), 0);
	CU_ASSERT_EQUAL(pool_pending(p), 50);
	/* The loop's way: poll the eventfd, then complete. */
	while (done < 50 && waited < 30000) {
		struct pollfd pfd = { .fd = pool_fd(p), .events = POLLIN };
		if (poll(&pfd, 1, 100) > 0)
			pool_complete(p);
		waited += 100;
	}
	CU_ASSERT_EQUAL(done, 50);
	CU_ASSERT_EQUAL(pool_pending(p), 0);
	for (int i = 0; i < 50; i++) {
		CU_ASSERT_TRUE(jobs[i].ctx_id >= 10 && jobs[i].ctx_id <= 12);
		CU_ASSERT_FALSE(pthread_equal(jobs[i].ran_on, pthread_self()));
		CU_ASSERT_TRUE(jobs[i].done_on_main);
	}
	CU_ASSERT_EQUAL(atomic_load(&ctxs[0].ran) + atomic_load(&ctxs[1].ran) +
	                    atomic_load(&ctxs[2].ran),
	    50);
	/* Nothing left: the eventfd is quiet and complete finds nothing. */
	CU_ASSERT_EQUAL(pool_complete(p), 0);
	pool_free(p);
}

static void
test_pool_bounded_queue(void)
{
	struct ctx c = { .id = 1 };
	void *cp[1] = { &c };
	struct tjob jobs[4];
	struct pool *p = pool_new(1, 2, cp);
	int done = 0, accepted = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* The one thread sleeps on the first job; two more fill the queue; later ones are
	 * refused until the queue moves. */
	init_jobs(jobs, 4, &done, 300000);
	for (int i = 0; i < 4; i++) {
		int rc = pool_submit(p, &jobs[i].job);
		if (rc == 0)
			accepted++;
		else
			CU_ASSERT_EQUAL(errno, EAGAIN);
		if (i == 0)
			usleep(100000); /* let the thread take the first job off the queue */
	}
	CU_ASSERT_EQUAL(accepted, 3);
	/* pool_free finishes the queued jobs and runs their done(). */
	pool_free(p);
	CU_ASSERT_EQUAL(done, 3);
	CU_ASSERT_EQUAL(atomic_load(&c.ran), 3);
}

static void
test_pool_bad_args(void)
{
	CU_ASSERT_PTR_NULL(pool_new(0, 0, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(pool_new(POOL_THREADS_MAX + 1, 0, NULL));
	pool_free(NULL);
}

static CU_TestInfo pool_tests[] = {
	{ "runs on threads, completes on caller", test_pool_runs_and_completes },
	{ "bounded queue", test_pool_bounded_queue },
	{ "bad arguments", test_pool_bad_args },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "pool", NULL, NULL, NULL, NULL, pool_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
