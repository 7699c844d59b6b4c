/*
 * Tests of reader/checkpoint_ctx: what a handler's checkpoint calls are allowed to
 * do in each callback, the checks against the delivered and persisted positions,
 * the sink results, and sequence number ordering.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "reader/checkpoint_ctx.h"
#include "tests/harness.h"

/* A sink that records what it was asked to persist and answers `result'. */
struct sink_log {
	int calls;
	char seq[KLS_SEQUENCE_MAX + 1];
	uint64_t sub;
	int result;
};

static int
sink_persist(void *arg, const char *seq, uint64_t sub)
{
	struct sink_log *s = arg;

	s->calls++;
	snprintf(s->seq, sizeof(s->seq), "%s", seq);
	s->sub = sub;
	return s->result;
}

static void
setup(struct reader_ctx *rc, struct sink_log *s)
{
	struct checkpoint_sink sink = { .persist = sink_persist, .arg = s };

	memset(s, 0, sizeof(*s));
	reader_ctx_init(rc, "host:uuid", "shardId-000000000001", "test", &sink);
}

/* Posts (automatic checkpoints to coalesce) go to a second log. */
struct post_logs {
	struct sink_log persisted, posted;
};

static int
sink_post_persist(void *arg, const char *seq, uint64_t sub)
{
	return sink_persist(&((struct post_logs *)arg)->persisted, seq, sub);
}

static int
sink_post(void *arg, const char *seq, uint64_t sub)
{
	return sink_persist(&((struct post_logs *)arg)->posted, seq, sub);
}

static void
setup_post(struct reader_ctx *rc, struct post_logs *s)
{
	struct checkpoint_sink sink = { .persist = sink_post_persist, .arg = s, .post = sink_post };

	memset(s, 0, sizeof(*s));
	reader_ctx_init(rc, "host:uuid", "shardId-000000000001", "test", &sink);
}

static void
deliver(struct reader_ctx *rc, const char *seq, uint64_t sub)
{
	struct kls_record r = { .sequence_number = seq, .sub_sequence_number = sub };
	CU_ASSERT_EQUAL_FATAL(reader_ctx_delivered(rc, &r), 0);
}

static void
test_checkpoint_ctx_sequence_order(void)
{
	static const struct {
		const char *a;
		uint64_t sa;
		const char *b;
		uint64_t sb;
		int want;
	} cases[] = {
		{ "1", 0, "2", 0, -1 },
		{ "9", 0, "10", 0, -1 },
		{ "49590338271490256608559692538361571095921575989136588898", 0,
		    "49590338271490256608559692538361571095921575989136588899", 0, -1 },
		{ "100", 5, "100", 4, 1 },
		{ "100", 4, "100", 4, 0 },
		{ "0", 0, "0", 1, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL(ckpt_compare(cases[i].a, cases[i].sa, cases[i].b, cases[i].sb), cases[i].want);
		CU_ASSERT_EQUAL(ckpt_compare(cases[i].b, cases[i].sb, cases[i].a, cases[i].sa), -cases[i].want);
	}
}

static void
test_checkpoint_ctx_sequence_syntax(void)
{
	char longest[KLS_SEQUENCE_MAX + 2];
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "0", true }, { "1", true }, { "49590338271490256608559692538361571095921575989136588898", true },
		{ "", false }, { "01", false }, { "-1", false }, { "12a", false }, { " 1", false },
		{ "SHARD_END", false }, { "TRIM_HORIZON", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CU_ASSERT_EQUAL(ckpt_sequence_valid(cases[i].s), cases[i].ok);
	CU_ASSERT_FALSE(ckpt_sequence_valid(NULL));
	memset(longest, '7', KLS_SEQUENCE_MAX);
	longest[KLS_SEQUENCE_MAX] = '\0';
	CU_ASSERT_TRUE(ckpt_sequence_valid(longest));
	longest[KLS_SEQUENCE_MAX] = '7';
	longest[KLS_SEQUENCE_MAX + 1] = '\0';
	CU_ASSERT_FALSE(ckpt_sequence_valid(longest));
}

/* Which callbacks may checkpoint. */
static void
test_checkpoint_ctx_phases(void)
{
	static const struct {
		enum ckpt_phase phase;
		int want;
	} cases[] = {
		{ CKPT_PHASE_NONE, KLS_ERR_NOT_ALLOWED },
		{ CKPT_PHASE_INIT, KLS_ERR_NOT_ALLOWED },
		{ CKPT_PHASE_PROCESS, KLS_OK },
		{ CKPT_PHASE_SHUTDOWN, KLS_OK },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reader_ctx rc;
		struct sink_log s;
		setup(&rc, &s);
		deliver(&rc, "100", 0);
		reader_ctx_enter(&rc, cases[i].phase);
		CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), cases[i].want);
		CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "100", 0), cases[i].want);
		CU_ASSERT_EQUAL(s.calls, cases[i].want == KLS_OK ? 1 : 0);
		reader_ctx_leave(&rc);
	}
}

static void
test_checkpoint_ctx_positions(void)
{
	struct reader_ctx rc;
	struct sink_log s;

	setup(&rc, &s);
	CU_ASSERT_EQUAL(reader_ctx_resume(&rc, "100", 2), 0);
	deliver(&rc, "200", 1);
	reader_ctx_enter(&rc, CKPT_PHASE_PROCESS);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "200", 2), KLS_ERR_BEYOND_DELIVERED);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "201", 0), KLS_ERR_BEYOND_DELIVERED);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "100", 1), KLS_ERR_INVALID); /* before resume */
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "0150", 0), KLS_ERR_INVALID);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "SHARD_END", 0), KLS_ERR_INVALID);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, NULL, 0), KLS_ERR_INVALID);
	CU_ASSERT_EQUAL(s.calls, 0);
	/* The persisted position itself needs no write. */
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "100", 2), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 0);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "150", 9), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_STRING_EQUAL(s.seq, "150");
	CU_ASSERT_EQUAL(s.sub, 9);
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "120", 0), KLS_ERR_INVALID); /* backwards */
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_OK);
	CU_ASSERT_STRING_EQUAL(s.seq, "200");
	CU_ASSERT_EQUAL(s.sub, 1);
	CU_ASSERT_EQUAL(s.calls, 2);
	reader_ctx_leave(&rc);
	/* checkpoint = auto after that batch: already there, no write. */
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_delivered(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 2);
	deliver(&rc, "300", 0);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_delivered(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 3);
	CU_ASSERT_STRING_EQUAL(s.seq, "300");
}

/* What the sink says comes back to the handler; a lost lease stays lost. */
static void
test_checkpoint_ctx_sink_results(void)
{
	struct reader_ctx rc;
	struct sink_log s;

	setup(&rc, &s);
	deliver(&rc, "10", 0);
	reader_ctx_enter(&rc, CKPT_PHASE_PROCESS);
	s.result = KLS_ERR_WRITE_FAILED;
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_ERR_WRITE_FAILED);
	s.result = KLS_ERR_TIMEOUT;
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_ERR_TIMEOUT);
	/* Not persisted, so the same value is tried again. */
	s.result = KLS_OK;
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 3);
	deliver(&rc, "11", 0);
	s.result = KLS_ERR_LEASE_LOST;
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_ERR_LEASE_LOST);
	s.result = KLS_OK;
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "11", 0), KLS_ERR_LEASE_LOST);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_shard_end(&rc), KLS_ERR_LEASE_LOST);
	CU_ASSERT_EQUAL(s.calls, 4);
	reader_ctx_leave(&rc);

	setup(&rc, &s);
	deliver(&rc, "10", 0);
	reader_ctx_lease_lost(&rc);
	reader_ctx_enter(&rc, CKPT_PHASE_PROCESS);
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_ERR_LEASE_LOST);
	CU_ASSERT_EQUAL(s.calls, 0);
}

static void
test_checkpoint_ctx_shard_end(void)
{
	struct reader_ctx rc;
	struct sink_log s;

	setup(&rc, &s);
	deliver(&rc, "10", 0);
	reader_ctx_enter(&rc, CKPT_PHASE_SHARD_ENDED);
	CU_ASSERT_FALSE(reader_ctx_shard_end_done(&rc));
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_OK);
	CU_ASSERT_STRING_EQUAL(s.seq, CKPT_SHARD_END);
	CU_ASSERT_TRUE(reader_ctx_shard_end_done(&rc));
	/* Nothing moves a finished shard's checkpoint back. */
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "10", 0), KLS_ERR_INVALID);
	reader_ctx_leave(&rc);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_shard_end(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 1);

	/* The reader's own SHARD_END when the handler did not checkpoint. */
	setup(&rc, &s);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_shard_end(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_STRING_EQUAL(s.seq, CKPT_SHARD_END);
}

static void *
checkpoint_from_thread(void *arg)
{
	static int r;
	r = kls_checkpoint(arg);
	return &r;
}

static void
test_checkpoint_ctx_other_thread(void)
{
	struct reader_ctx rc;
	struct sink_log s;
	pthread_t t;
	void *ret;

	setup(&rc, &s);
	deliver(&rc, "10", 0);
	reader_ctx_enter(&rc, CKPT_PHASE_PROCESS);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, checkpoint_from_thread, &rc.pub), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_join(t, &ret), 0);
	CU_ASSERT_EQUAL(*(int *)ret, KLS_ERR_NOT_ALLOWED);
	CU_ASSERT_EQUAL(s.calls, 0);
}

/* kls_log lines go through kls's log with the handler name and shard. */
static void
test_checkpoint_ctx_log(void)
{
	char path[] = "/tmp/kls-ctxlog.XXXXXX";
	struct reader_ctx rc;
	struct sink_log s;
	char buf[512] = { 0 };
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);

	CU_ASSERT_FATAL(fd != -1 && saved != -1);
	log_init("kls-reader", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	setup(&rc, &s);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	kls_log(&rc.pub, KLS_LOG_WARN, "disk %d%% full", 93);
	kls_log(&rc.pub, KLS_LOG_DEBUG, "not shown at info");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	CU_ASSERT(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
	close(fd);
	unlink(path);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "test shardId-000000000001: disk 93% full"));
	CU_ASSERT_PTR_NULL(strstr(buf, "not shown"));
}

/*
 * Automatic checkpoints through post (klsd coalesces them): each new batch end is
 * posted once; a handler's own checkpoint still persists (and waits), even at a
 * posted position; none may go back before a posted one; without post, the batch
 * checkpoint persists as before.
 */
static void
test_checkpoint_ctx_posted(void)
{
	struct reader_ctx rc;
	struct post_logs s;
	struct sink_log plain;

	setup_post(&rc, &s);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_OK); /* nothing delivered */
	CU_ASSERT_EQUAL(s.posted.calls, 0);
	deliver(&rc, "100", 0);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.posted.calls, 1);
	CU_ASSERT_STRING_EQUAL(s.posted.seq, "100");
	CU_ASSERT_EQUAL(s.persisted.calls, 0);
	/* Nothing new delivered: not posted again. */
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.posted.calls, 1);
	deliver(&rc, "200", 3);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.posted.calls, 2);
	CU_ASSERT_STRING_EQUAL(s.posted.seq, "200");
	CU_ASSERT_EQUAL(s.posted.sub, 3);

	/* The handler's checkpoint at the posted position is persisted, not skipped. */
	reader_ctx_enter(&rc, CKPT_PHASE_SHUTDOWN);
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_OK);
	CU_ASSERT_EQUAL(s.persisted.calls, 1);
	CU_ASSERT_STRING_EQUAL(s.persisted.seq, "200");
	/* Before a posted one: refused, it would move the table back. */
	CU_ASSERT_EQUAL(kls_checkpoint_at(&rc.pub, "150", 0), KLS_ERR_INVALID);
	CU_ASSERT_EQUAL(s.persisted.calls, 1);
	reader_ctx_leave(&rc);
	/* Already persisted: nothing posted. */
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_OK);
	CU_ASSERT_EQUAL(s.posted.calls, 2);

	/* A post that finds the lease gone makes every later call say so. */
	deliver(&rc, "300", 0);
	s.posted.result = KLS_ERR_LEASE_LOST;
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_ERR_LEASE_LOST);
	reader_ctx_enter(&rc, CKPT_PHASE_PROCESS);
	CU_ASSERT_EQUAL(kls_checkpoint(&rc.pub), KLS_ERR_LEASE_LOST);
	reader_ctx_leave(&rc);

	/* No post in the sink (checkpoint_interval_ms = 0): persisted per batch. */
	setup(&rc, &plain);
	deliver(&rc, "100", 0);
	CU_ASSERT_EQUAL(reader_ctx_checkpoint_batch(&rc), KLS_OK);
	CU_ASSERT_EQUAL(plain.calls, 1);
	CU_ASSERT_STRING_EQUAL(plain.seq, "100");
}

static CU_TestInfo ctx_tests[] = {
	{ "sequence order", test_checkpoint_ctx_sequence_order },
	{ "sequence syntax", test_checkpoint_ctx_sequence_syntax },
	{ "phases", test_checkpoint_ctx_phases },
	{ "positions", test_checkpoint_ctx_positions },
	{ "sink results", test_checkpoint_ctx_sink_results },
	{ "shard end", test_checkpoint_ctx_shard_end },
	{ "other thread", test_checkpoint_ctx_other_thread },
	{ "log", test_checkpoint_ctx_log },
	{ "automatic checkpoints posted", test_checkpoint_ctx_posted },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "checkpoint ctx", NULL, NULL, NULL, NULL, ctx_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
