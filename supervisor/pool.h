/*
 * klsd's small, bounded pool of worker threads for blocking network calls (DynamoDB
 * writes and scans, ListShards), so the main loop never blocks on the network and a
 * slow request can never make it miss a self-fencing deadline.
 *
 * Each thread owns one context the caller made for it (its own DynamoDB and Kinesis
 * clients: those are not shared between threads). A job's run() executes on some pool
 * thread with that thread's context; its done() executes later on the thread that calls
 * pool_complete() (klsd's main loop), which polls pool_fd() for readability. So the
 * main thread's state is only ever touched by the main thread.
 *
 * Jobs are the caller's memory (embed struct pool_job and use container_of); the pool
 * never allocates per job. Threads block every signal: signals reach klsd's signalfd.
 */
#ifndef KLS_SUPERVISOR_POOL_H
#define KLS_SUPERVISOR_POOL_H

#include <stddef.h>

#define POOL_THREADS_MAX 64

struct pool_job;
typedef void (*pool_run_fn)(struct pool_job *job, void *thread_ctx);
typedef void (*pool_done_fn)(struct pool_job *job);

struct pool_job {
	pool_run_fn run;       /* on a pool thread */
	pool_done_fn done;     /* on the thread calling pool_complete */
	struct pool_job *next; /* the pool's */
};

struct pool;

/*
 * Starts nthreads (1..POOL_THREADS_MAX) threads; thread i passes thread_ctx[i] to the
 * jobs it runs (the array is copied; the contexts stay the caller's). At most
 * max_queued jobs wait to start (0 = no bound). NULL with errno on failure.
 */
struct pool *pool_new(int nthreads, size_t max_queued, void *const *thread_ctx);
/* Readable when completed jobs wait for pool_complete (an eventfd). */
int pool_fd(const struct pool *p);
/* Queues job (run and done set). 0, or -1 with EAGAIN when max_queued jobs wait. */
int pool_submit(struct pool *p, struct pool_job *job);
/* Runs done() of every job that finished; returns how many. */
size_t pool_complete(struct pool *p);
/* Jobs submitted whose done() has not run yet. */
size_t pool_pending(const struct pool *p);
/* Runs every queued job to its end, joins the threads, runs the remaining done()s and
 * frees the pool. NULL is fine. */
void pool_free(struct pool *p);

#endif
