/*
 * The reader's fence (reader/fence.c): the watchdog's rule as a table; the deadline
 * taken from the lease group, where a torn read keeps the last clean (earlier) one;
 * the watchdog thread killing a reader whose handler is still in a call when the
 * deadline passes; heartbeats while busy, and only for a bounded time; busy/idle steps
 * that wake the watchdog only when a deadline moved earlier than its next look. Each
 * test makes its own shm table.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reader/fence.h"
#include "tests/harness.h"

#define MS(x) ((int64_t)(x)*1000000)

static const struct {
	enum fence_busy busy;
	int64_t now, since, deadline, max;
	enum fence_action want;
} decide_cases[] = {
	{ FENCE_IDLE, MS(100), 0, MS(50), 0, FENCE_NOTHING },               /* idle: main beats */
	{ FENCE_HANDLER, MS(10), MS(5), MS(50), MS(100), FENCE_BEAT },      /* young call */
	{ FENCE_HANDLER, MS(50), MS(5), MS(50), MS(100), FENCE_KILL },      /* at the deadline */
	{ FENCE_HANDLER, MS(90), MS(5), MS(50), MS(100), FENCE_KILL },      /* past it */
	{ FENCE_HANDLER, MS(49), MS(5), MS(50), MS(100), FENCE_BEAT },      /* 1 ms before */
	{ FENCE_HANDLER, MS(300), MS(5), MS(900), MS(100), FENCE_NOTHING }, /* hung: no beats */
	{ FENCE_HANDLER, MS(300), MS(5), MS(900), 0, FENCE_BEAT },          /* no limit */
	{ FENCE_NETWORK, MS(90), MS(5), MS(50), MS(100), FENCE_BEAT }, /* no handler: no kill */
	{ FENCE_NETWORK, MS(200), MS(5), MS(50), MS(100), FENCE_NOTHING },
};

static void
test_fence_decide(void)
{
	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		enum fence_action a = fence_decide(decide_cases[i].busy, decide_cases[i].now,
		    decide_cases[i].since, decide_cases[i].deadline, decide_cases[i].max);
		if (a != decide_cases[i].want)
			fprintf(stderr, "\ncase %zu: action %d, want %d\n", i, a,
			    decide_cases[i].want);
		CU_ASSERT_EQUAL(a, decide_cases[i].want);
	}
}

/* A one-slot table with a lease whose deadline is `deadline`. */
struct fixture {
	char name[64];
	struct kls_shm *t;
	struct kls_shm_slot *s;
	struct kls_lease l;
};

static int
fixture_open(struct fixture *fx, kls_mono deadline)
{
	struct kls_shm_params p = { .application = "testapp",
		.stream = "teststream",
		.worker_id = "host1:0f4c",
		.slot_count = 1 };
	struct kls_shm_err err;
	int idx;

	memset(fx, 0, sizeof(*fx));
	fx->name[0] = '/';
	test_unique_name(fx->name + 1, sizeof(fx->name) - 1, "klstest-fence");
	p.name = fx->name;
	if (kls_shm_create(&p, &fx->t, &err) < 0) {
		fprintf(stderr, "kls_shm_create %s: %s\n", fx->name, err.msg);
		return -1;
	}
	fx->l.command = KLS_CMD_RUN;
	snprintf(fx->l.shard_id, sizeof(fx->l.shard_id), "shardId-000000000000");
	fx->l.deadline_ns = deadline.ns;
	idx = kls_shm_slot_assign(fx->t, &fx->l);
	fx->s = idx < 0 ? NULL : kls_shm_slot(fx->t, (uint32_t)idx);
	return fx->s ? 0 : -1;
}

static void
fixture_close(struct fixture *fx)
{
	kls_shm_close(fx->t);
	kls_shm_unlink(fx->name);
}

static void
test_fence_refresh_torn_keeps_earlier(void)
{
	kls_mono now = mono_now();
	struct fixture fx;
	struct fence f;
	struct kls_lease out;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(now, 1000)), 0);
	CU_ASSERT_EQUAL_FATAL(fence_init(&f, fx.s, &fx.l, 100, 0, 0), 0);
	CU_ASSERT(fence_open(&f, now));
	CU_ASSERT(!fence_open(&f, mono_add_ms(now, 1000)));

	/* A renewal moves it later. */
	fx.l.deadline_ns = mono_add_ms(now, 5000).ns;
	kls_shm_lease_publish(fx.s, &fx.l);
	CU_ASSERT_EQUAL(fence_refresh(&f, &out), 0);
	CU_ASSERT_EQUAL(out.deadline_ns, fx.l.deadline_ns);
	CU_ASSERT(fence_open(&f, mono_add_ms(now, 4000)));
	CU_ASSERT(fence_ms_left(&f, now) > 4000);

	/* klsd stopped half-way through the next publish: the counter stays odd and the
	 * new deadline is in place, but the fence keeps the last clean one. */
	atomic_fetch_add(&fx.s->lease.seq, 1);
	fx.s->lease.v.deadline_ns = mono_add_ms(now, 60000).ns;
	out.deadline_ns = 0;
	CU_ASSERT_EQUAL(fence_refresh(&f, &out), -1);
	CU_ASSERT_EQUAL(out.deadline_ns, 0);
	CU_ASSERT(fence_open(&f, mono_add_ms(now, 4000)));
	CU_ASSERT(!fence_open(&f, mono_add_ms(now, 5000)));

	/* klsd finishes: the new deadline is taken. */
	atomic_fetch_add(&fx.s->lease.seq, 1);
	CU_ASSERT_EQUAL(fence_refresh(&f, NULL), 0);
	CU_ASSERT(fence_open(&f, mono_add_ms(now, 50000)));

	/* An earlier deadline read cleanly is honoured too (klsd shortened it). */
	fx.l.deadline_ns = now.ns - 1;
	kls_shm_lease_publish(fx.s, &fx.l);
	CU_ASSERT_EQUAL(fence_refresh(&f, NULL), 0);
	CU_ASSERT(!fence_open(&f, now));
	fence_destroy(&f);
	fixture_close(&fx);
}

/*
 * In a child: a fence over fx with the given limits, busy as `kind` for busy_ms, then
 * exit 0. Returns the child's wait status.
 */
static int
run_child(struct fixture *fx, enum fence_busy kind, int64_t busy_ms, int64_t beat_max_ms)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct fence f;
		if (fence_init(&f, fx->s, &fx->l, 20, beat_max_ms, beat_max_ms) < 0 ||
		    fence_start(&f) < 0)
			_exit(10);
		fence_busy(&f, kind, "process");
		sleep_ms(busy_ms);
		fence_idle(&f);
		fence_destroy(&f);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	return status;
}

static void
test_fence_watchdog_kills_handler_past_deadline(void)
{
	struct fixture fx;
	kls_mono t0 = mono_now();
	int st;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(t0, 300)), 0);
	st = run_child(&fx, FENCE_HANDLER, 5000, 0);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* Killed at the deadline, long before the 5 s call would have ended. */
	CU_ASSERT(mono_diff_ms(t0, mono_now()) < 3000);
	fixture_close(&fx);
}

static void
test_fence_watchdog_spares_network_past_deadline(void)
{
	struct fixture fx;
	int st;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(mono_now(), 100)), 0);
	st = run_child(&fx, FENCE_NETWORK, 600, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fixture_close(&fx);
}

/* A renewal published while the handler runs moves the deadline the watchdog uses. */
static void
test_fence_watchdog_follows_renewals(void)
{
	struct fixture fx;
	int status = -1;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(mono_now(), 400)), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct fence f;
		if (fence_init(&f, fx.s, &fx.l, 20, 0, 0) < 0 || fence_start(&f) < 0)
			_exit(10);
		fence_busy(&f, FENCE_HANDLER, "process");
		sleep_ms(1200);
		fence_idle(&f);
		fence_destroy(&f);
		_exit(0);
	}
	CU_ASSERT_FATAL(pid > 0);
	fx.l.deadline_ns = mono_add_ms(mono_now(), 30000).ns;
	kls_shm_lease_publish(fx.s, &fx.l);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fixture_close(&fx);
}

/* Heartbeats while busy, and only up to the limit: a call stuck longer goes stale. */
static void
test_fence_heartbeats_bounded(void)
{
	struct fixture fx;
	kls_mono t0, beat;
	int st;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(mono_now(), 60000)), 0);
	kls_shm_heartbeat(fx.s, KLS_MONO_ZERO);
	t0 = mono_now();
	st = run_child(&fx, FENCE_HANDLER, 2500, 300);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	beat = kls_shm_heartbeat_get(fx.s);
	/* It beat (after the start) and stopped long before the 2.5 s call ended. */
	CU_ASSERT(!mono_before(beat, t0));
	CU_ASSERT(mono_diff_ms(t0, beat) < 1500);
	fixture_close(&fx);
}

/* The wake rule: only a handler call under a deadline earlier than the watchdog's next
 * look needs a system call. */
static const struct {
	enum fence_busy busy;
	int64_t deadline, wake;
	bool want;
} wake_cases[] = {
	{ FENCE_HANDLER, MS(900), MS(100), false }, /* looks again before the deadline */
	{ FENCE_HANDLER, MS(100), MS(100), false }, /* due exactly at it */
	{ FENCE_HANDLER, MS(99), MS(100), true },   /* deadline moved earlier */
	{ FENCE_HANDLER, MS(900), 0, false },       /* before the first look (it is looking) */
	{ FENCE_NETWORK, MS(10), MS(100), false },  /* not killed: no hurry */
	{ FENCE_IDLE, MS(10), MS(100), false },
};

static void
test_fence_must_wake(void)
{
	for (size_t i = 0; i < sizeof(wake_cases) / sizeof(wake_cases[0]); i++) {
		bool w =
		    fence_must_wake(wake_cases[i].busy, wake_cases[i].deadline, wake_cases[i].wake);
		if (w != wake_cases[i].want)
			fprintf(stderr, "\ncase %zu: wake %d, want %d\n", i, w, wake_cases[i].want);
		CU_ASSERT_EQUAL(w, wake_cases[i].want);
	}
}

/* Waits (up to 10 s) until the watchdog has looked and is due no later than by. */
static bool
wait_due_by(struct fence *f, int64_t by)
{
	for (int i = 0; i < 1000; i++) {
		int64_t w = atomic_load(&f->wake_ns);
		if (w != 0 && w <= by)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Cycles of idle -> busy -> idle, handler and network, as a reader does per batch. */
static void
cycles(struct fence *f, int n)
{
	for (int i = 0; i < n; i++) {
		fence_busy(f, FENCE_NETWORK, "GetRecords");
		fence_idle(f);
		fence_busy(f, FENCE_HANDLER, "process");
		fence_idle(f);
	}
}

/*
 * Steady state costs the watchdog no wake-up; a deadline moved earlier than its next
 * look costs exactly one, and none after it has looked again. The heartbeat period is
 * long (30 s) so that the watchdog's own looks cannot hide a missing wake-up.
 */
static void
test_fence_busy_wakes_only_for_earlier_deadline(void)
{
	kls_mono now = mono_now();
	struct fixture fx;
	struct fence f;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(now, 120000)), 0);
	CU_ASSERT_EQUAL_FATAL(fence_init(&f, fx.s, &fx.l, 30000, 0, 0), 0);
	CU_ASSERT_EQUAL_FATAL(fence_start(&f), 0);
	CU_ASSERT_FATAL(wait_due_by(&f, mono_add_ms(now, 31000).ns));
	cycles(&f, 10000);
	CU_ASSERT_EQUAL(atomic_load(&f.wakeups), 0);

	/* klsd shortens the lease to 20 s, before the watchdog's look due in ~30 s. */
	fx.l.deadline_ns = mono_add_ms(mono_now(), 20000).ns;
	kls_shm_lease_publish(fx.s, &fx.l);
	CU_ASSERT_EQUAL(fence_refresh(&f, NULL), 0);
	fence_busy(&f, FENCE_HANDLER, "process");
	fence_idle(&f);
	CU_ASSERT_EQUAL(atomic_load(&f.wakeups), 1);
	/* It looked, and now sleeps no later than the new deadline: no more wake-ups. */
	CU_ASSERT_FATAL(wait_due_by(&f, fx.l.deadline_ns));
	cycles(&f, 10000);
	CU_ASSERT_EQUAL(atomic_load(&f.wakeups), 1);

	/* A renewal (later deadline) needs none either. */
	fx.l.deadline_ns = mono_add_ms(mono_now(), 120000).ns;
	kls_shm_lease_publish(fx.s, &fx.l);
	CU_ASSERT_EQUAL(fence_refresh(&f, NULL), 0);
	cycles(&f, 1000);
	CU_ASSERT_EQUAL(atomic_load(&f.wakeups), 1);
	fence_destroy(&f);
	fixture_close(&fx);
}

/* The wake-up is what stops a handler that hangs under a shortened deadline: with a 30 s
 * heartbeat period the watchdog would otherwise look again only after the call ended. */
static void
test_fence_watchdog_kills_after_shortened_deadline(void)
{
	struct fixture fx;
	kls_mono t0 = mono_now();
	int status = -1;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, mono_add_ms(t0, 120000)), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct fence f;
		if (fence_init(&f, fx.s, &fx.l, 30000, 0, 0) < 0 || fence_start(&f) < 0)
			_exit(10);
		if (!wait_due_by(&f, mono_add_ms(t0, 31000).ns))
			_exit(11);
		cycles(&f, 100);
		fx.l.deadline_ns = mono_add_ms(mono_now(), 300).ns;
		kls_shm_lease_publish(fx.s, &fx.l);
		if (fence_refresh(&f, NULL) < 0)
			_exit(12);
		fence_busy(&f, FENCE_HANDLER, "process");
		sleep_ms(8000);
		fence_idle(&f);
		fence_destroy(&f);
		_exit(0);
	}
	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CU_ASSERT(mono_diff_ms(t0, mono_now()) < 6000);
	fixture_close(&fx);
}

static CU_TestInfo fence_tests[] = {
	{ "watchdog rule", test_fence_decide },
	{ "torn lease keeps the earlier deadline", test_fence_refresh_torn_keeps_earlier },
	{ "watchdog kills a handler past the deadline",
	    test_fence_watchdog_kills_handler_past_deadline },
	{ "watchdog spares a network call", test_fence_watchdog_spares_network_past_deadline },
	{ "watchdog follows renewals", test_fence_watchdog_follows_renewals },
	{ "heartbeats while busy, bounded", test_fence_heartbeats_bounded },
	{ "wake rule", test_fence_must_wake },
	{ "busy/idle cycles wake the watchdog only for an earlier deadline",
	    test_fence_busy_wakes_only_for_earlier_deadline },
	{ "watchdog kills a hung handler after the deadline was shortened",
	    test_fence_watchdog_kills_after_shortened_deadline },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "fence", NULL, NULL, NULL, NULL, fence_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
