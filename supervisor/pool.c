/*
 * The worker pool: see pool.h. One mutex guards both lists; it is held only to link
 * or unlink a job, never across run() or done().
 */
#include "config.h"

#include "supervisor/pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct pool_thread {
	struct pool *pool;
	pthread_t tid;
	void *ctx;
	bool started;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;                      /* queue not empty, or stopping */
	struct pool_job *q_head, *q_tail;       /* waiting to run */
	struct pool_job *done_head, *done_tail; /* ran, done() pending */
	size_t queued, max_queued;
	size_t pending; /* main thread only: submitted - completed */
	bool stopping;
	int efd;
	int nthreads;
	struct pool_thread threads[POOL_THREADS_MAX];
};

static void
push(struct pool_job **head, struct pool_job **tail, struct pool_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *
thread_main(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *p = t->pool;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct pool_job *j;
		uint64_t one = 1;

		while (!p->q_head && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->q_head)
			break; /* stopping, and the queue is drained */
		j = p->q_head;
		p->q_head = j->next;
		if (!p->q_head)
			p->q_tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);

		j->run(j, t->ctx);

		pthread_mutex_lock(&p->mu);
		push(&p->done_head, &p->done_tail, j);
		/* An eventfd counter cannot overflow at our rates; a failed write would
		 * only delay done() until the next completion, so its result is moot. */
		if (write(p->efd, &one, sizeof(one)) < 0) {
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct pool *
pool_new(int nthreads, size_t max_queued, void *const *thread_ctx)
{
	struct pool *p;
	sigset_t all, old;
	int err = 0;

	if (nthreads < 1 || nthreads > POOL_THREADS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	p->max_queued = max_queued;
	p->nthreads = nthreads;
	if ((p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* Threads start with every signal blocked, so SIGCHLD, SIGTERM... always reach
	 * the main thread's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < nthreads; i++) {
		p->threads[i].pool = p;
		p->threads[i].ctx = thread_ctx ? thread_ctx[i] : NULL;
		err = pthread_create(&p->threads[i].tid, NULL, thread_main, &p->threads[i]);
		if (err)
			break;
		p->threads[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pool_free(p);
		errno = err;
		return NULL;
	}
	return p;
}

int
pool_fd(const struct pool *p)
{
	return p->efd;
}

int
pool_submit(struct pool *p, struct pool_job *job)
{
	pthread_mutex_lock(&p->mu);
	if (p->max_queued && p->queued >= p->max_queued) {
		pthread_mutex_unlock(&p->mu);
		errno = EAGAIN;
		return -1;
	}
	push(&p->q_head, &p->q_tail, job);
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	p->pending++;
	return 0;
}

size_t
pool_complete(struct pool *p)
{
	struct pool_job *list, *next;
	uint64_t count;
	size_t n = 0;

	/* Reset the eventfd before taking the list: a completion after this point writes
	 * it again, so none is left without a wake-up. */
	if (read(p->efd, &count, sizeof(count)) < 0) {
	}
	pthread_mutex_lock(&p->mu);
	list = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	for (; list; list = next) {
		next = list->next;
		p->pending--;
		n++;
		list->done(list);
	}
	return n;
}

size_t
pool_pending(const struct pool *p)
{
	return p->pending;
}

void
pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		if (p->threads[i].started)
			pthread_join(p->threads[i].tid, NULL);
	pool_complete(p);
	close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
