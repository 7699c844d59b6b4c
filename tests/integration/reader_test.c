/*
 * kls-reader as klsd runs it, with this test playing klsd: it creates the shm table
 * and the slot's lease group, passes the configuration in a sealed memfd and a wake
 * pipe, execs reader/kls-reader with the example handlers, answers checkpoint
 * requests through the lease group and sends DRAIN/STOP. Kinesis is kinesalite
 * (KINESIS_ENDPOINT), or a scripted endpoint where kinesalite cannot misbehave
 * (throttling, 5xx, an expired iterator). Each test has its own stream, table and
 * scratch directory under the build tree (handler paths must pass the reader's
 * hygiene checks, which /tmp does not).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/kinesis.h"
#include "reader/checkpoint_ctx.h"
#include "shm/table.h"
#include "tests/fake_klsd.h"
#include "tests/harness.h"
#include "tests/kinesis_fixture.h"
#include "tests/stub_script.h"

#define MAX_RECORDS 400

/* ---------------------------------------------------------------- Kinesis side */

static struct kinesis_client *kc; /* the suite's, once client() has made it */

static struct kinesis_client *
client(void)
{
	return kc = test_kinesis_shared("KINESIS_ENDPOINT");
}

struct stream {
	char name[64];
	size_t n;                                        /* records put */
	char seq[MAX_RECORDS][KINESIS_SEQUENCE_MAX + 1]; /* in put order */
	char shard[MAX_RECORDS][KINESIS_SHARD_ID_MAX + 1];
};

static int
stream_create(struct stream *st, const char *prefix, int shards)
{
	memset(st, 0, sizeof(*st));
	test_unique_name(st->name, sizeof(st->name), prefix);
	if (!client())
		return -1;
	return test_kinesis_create_stream(kc, st->name, shards, 30000, NULL);
}

static void
stream_drop(struct stream *st)
{
	if (kc)
		test_kinesis_delete_stream(kc, st->name);
}

/* Puts n records "rec-NNNN" one call at a time (so sequence numbers rise in put order). */
static int
stream_put(struct stream *st, size_t n)
{
	while (n > 0 && st->n < MAX_RECORDS) {
		struct kinesis_put_entry e[100];
		struct kinesis_put_result r[100];
		char data[100][16];
		size_t k = n < 100 ? n : 100, failed;
		struct aws_error err;

		for (size_t i = 0; i < k; i++) {
			snprintf(data[i], sizeof(data[i]), "rec-%04zu", st->n + i);
			e[i] = (struct kinesis_put_entry){ data[i], strlen(data[i]), "pk", NULL };
		}
		if (kinesis_put_records(kc, st->name, e, k, r, &failed, &err) < 0 || failed) {
			fprintf(stderr, "\nput %s: %s\n", st->name,
			    failed ? "records refused" : err.message);
			return -1;
		}
		for (size_t i = 0; i < k; i++) {
			snprintf(st->seq[st->n + i], sizeof(st->seq[0]), "%s",
			    r[i].sequence_number);
			snprintf(st->shard[st->n + i], sizeof(st->shard[0]), "%s", r[i].shard_id);
		}
		st->n += k;
		n -= k;
	}
	return n == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- the record file */

struct line {
	char seq[KLS_SHM_SEQ_MAX];
	unsigned long long sub;
	long pid;
	char data[64];
};

/* The lines filelog (or fault) wrote for the shard; -1 when the file is missing. */
static int
read_lines(const struct fake_klsd *fx, struct line *out, size_t max, size_t *n)
{
	char path[PATH_MAX + 256], buf[1024], shard[KLS_SHM_SHARD_MAX], worker[128];
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "%s/out-%s.log", fx->dir, fx->shard_id);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(buf, sizeof(buf), f) && *n < max) {
		struct line *l = &out[*n];
		long long t0, t1;
		if (sscanf(buf, "%135s %135s %llu %127s %ld %lld %lld %63s", shard, l->seq, &l->sub,
		        worker, &l->pid, &t0, &t1, l->data) != 8) {
			fprintf(stderr, "\nbad line: %s", buf);
			CU_FAIL("a record line that does not parse");
			continue;
		}
		CU_ASSERT_STRING_EQUAL(shard, fx->shard_id);
		CU_ASSERT_STRING_EQUAL(worker, FK_WORKER_ID);
		(*n)++;
	}
	fclose(f);
	return 0;
}

/* The lines are exactly records [from, st->n) of the shard, in order, by pid. */
static void
check_lines(const struct fake_klsd *fx, const struct stream *st, size_t from, pid_t pid)
{
	static struct line lines[MAX_RECORDS];
	size_t n, k = 0;

	CU_ASSERT_EQUAL_FATAL(read_lines(fx, lines, MAX_RECORDS, &n), 0);
	for (size_t i = from; i < st->n; i++) {
		char want[32];
		if (strcmp(st->shard[i], fx->shard_id) != 0)
			continue;
		snprintf(want, sizeof(want), "rec-%04zu", i);
		if (k >= n) {
			fprintf(stderr, "\nrecord %zu (%s) missing\n", i, want);
			CU_FAIL("a record was not delivered");
			return;
		}
		CU_ASSERT_STRING_EQUAL(lines[k].data, want);
		CU_ASSERT_STRING_EQUAL(lines[k].seq, st->seq[i]);
		CU_ASSERT_EQUAL(lines[k].sub, 0);
		CU_ASSERT_EQUAL(lines[k].pid, pid);
		k++;
	}
	CU_ASSERT_EQUAL(n, k);
}

/* /proc/<pid>/cmdline up to its first NUL: the process title setproctitle wrote
 * ("" once the process is gone). */
static void
read_title(pid_t pid, char *title, size_t size)
{
	char path[64];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((f = fopen(path, "r"))) {
		n = fread(title, 1, size - 1, f);
		fclose(f);
	}
	title[n] = '\0';
}

static void
check_title(pid_t pid, const char *stream, const char *shard, bool draining)
{
	char title[512], want[512];

	read_title(pid, title, sizeof(title));
	snprintf(want, sizeof(want), "kls-reader: %s %s%s", stream, shard,
	    draining ? " [draining]" : "");
	if (strcmp(title, want) != 0)
		fprintf(stderr, "\ntitle \"%s\", want \"%s\"\n", title, want);
	CU_ASSERT_STRING_EQUAL(title, want);
}

/* A handler path buffer for tests that need only one. */
static char h_buf[PATH_MAX];

static const char *
example(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/examples/.libs/%s.so", test_builddir(), name);
	return buf;
}

static bool
has_records_120(const struct fake_klsd *fx)
{
	return fx->prog.records == 120;
}

static bool
all_checkpointed_250(const struct fake_klsd *fx)
{
	return fx->prog.records == 250 && fx->n_ckpts > 0 &&
	       strcmp(fx->l.ckpt_seq, fx->prog.delivered_seq) == 0;
}

static bool
checkpointed(const struct fake_klsd *fx)
{
	return fx->n_ckpts > 0 && strcmp(fx->l.ckpt_seq, fx->prog.delivered_seq) == 0;
}

static bool
request_pending(const struct fake_klsd *fx)
{
	return fx->prog.req_gen > fx->l.ckpt_gen;
}

/* One reader run: the lease klsd holds and the configuration it passes. */
struct run {
	const char *stream;
	const char *endpoint; /* NULL: KINESIS_ENDPOINT */
	const char *shard;    /* NULL: shardId-000000000000 */
	int64_t deadline_ms;  /* from now; 0: 30 s */
	const char *ckpt;     /* persisted checkpoint; NULL: none */
	uint64_t sub;
	const char *handler;       /* an example handler's name */
	const char *reader_lines;  /* more [reader] keys */
	const char *handler_lines; /* more [handler] keys, after path = <dir>/out-%s.log */
	bool frozen;               /* klsd renews nothing */
	bool hold;                 /* klsd leaves checkpoint requests unanswered */
};

static const char *example(const char *name, char *buf, size_t size);

/* Table, lease, configuration, and the reader started. */
static int
start(struct fake_klsd *fx, const struct run *r)
{
	char h[PATH_MAX], hl[PATH_MAX + 256];

	if (fk_open(fx, r->shard ? r->shard : "shardId-000000000000",
	        r->deadline_ms ? r->deadline_ms : 30000, r->ckpt ? r->ckpt : "", r->sub) < 0)
		return -1;
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log\n%s", fx->dir,
	    r->handler_lines ? r->handler_lines : "");
	if (fk_config(fx, r->stream, r->endpoint ? r->endpoint : test_env("KINESIS_ENDPOINT"),
	        example(r->handler, h, sizeof(h)), r->reader_lines ? r->reader_lines : "", hl) < 0)
		return -1;
	fx->renew = !r->frozen;
	fx->hold = r->hold;
	return fk_spawn(fx);
}

/* ---------------------------------------------------------------- tests */

/* The reader has posted a coalesced request at the last of 250 records. */
static bool
posted_all_250(const struct fake_klsd *fx)
{
	return fx->prog.records == 250 && fx->prog.req_gen > fx->l.ckpt_gen &&
	       strcmp(fx->prog.req_seq, fx->prog.delivered_seq) == 0;
}

/*
 * checkpoint = auto with an interval (the default): the reader hands each batch's
 * checkpoint to klsd marked KLS_REQ_COALESCE and goes on without an answer, so a klsd
 * that holds the requests does not stop it; the newest request is the last record.
 */
static void
test_reader_posts_coalesced_checkpoints(void)
{
	struct stream st;
	struct fake_klsd fx;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-post", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 250), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .handler = "filelog",
	                                     .reader_lines = "max_records = 40\n"
	                                                     "checkpoint_interval_ms = 5000",
	                                     .hold = true }),
	    0);
	CU_ASSERT(fk_until(&fx, posted_all_250, RUN_TIMEOUT_MS));
	CU_ASSERT_EQUAL(fx.prog.req_flags, KLS_REQ_COALESCE);
	CU_ASSERT_STRING_EQUAL(fx.prog.req_seq, st.seq[249]);
	/* One request per batch of at most 40, none answered. */
	CU_ASSERT(fx.prog.req_gen >= fx.l.ckpt_gen + 7);
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_NOT_EQUAL(fx.prog.handler_state, KLS_HANDLER_CHECKPOINT);
	fk_command(&fx, KLS_CMD_DRAIN);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	check_lines(&fx, &st, 0, fx.pid);
	fk_close(&fx);
	stream_drop(&st);
}

/*
 * checkpoint = auto with checkpoint_interval_ms = 0: every record in order, one
 * checkpoint request per batch at its last record; the reader waits for the persisted
 * answer (and fetches nothing meanwhile); DRAIN ends it with status 0.
 */
static void
test_reader_delivers_in_order_auto_checkpoints(void)
{
	struct stream st;
	struct fake_klsd fx;
	uint64_t records_held;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-auto", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 250), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .handler = "filelog",
	                                     .reader_lines = "max_records = 40\n"
	                                                     "checkpoint_interval_ms = 0",
	                                     .hold = true }),
	    0);

	/* The first batch's checkpoint request arrives; unanswered, the reader waits. */
	CU_ASSERT_FATAL(fk_until(&fx, request_pending, RUN_TIMEOUT_MS));
	CU_ASSERT_EQUAL(fx.prog.req_gen, 6);
	CU_ASSERT_STRING_EQUAL(fx.prog.req_seq, st.seq[39]);
	CU_ASSERT_STRING_EQUAL(fx.prog.delivered_seq, st.seq[39]);
	records_held = fx.prog.records;
	CU_ASSERT_EQUAL(records_held, 40);
	fk_until(&fx, NULL, 1500);
	CU_ASSERT(!fx.exited);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_CHECKPOINT);
	CU_ASSERT_EQUAL(fx.prog.records, records_held);
	/* Waiting, it still beats; and ps shows what it reads. */
	CU_ASSERT(mono_diff_ms(kls_shm_heartbeat_get(fx.s), mono_now()) < 2000);
	CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ACTIVE);
	check_title(fx.pid, st.name, fx.shard_id, false);

	fx.hold = false;
	CU_ASSERT(fk_until(&fx, all_checkpointed_250, RUN_TIMEOUT_MS));
	fk_command(&fx, KLS_CMD_DRAIN);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ASSIGNED);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_DONE);
	CU_ASSERT_EQUAL(fx.prog.records, 250);
	CU_ASSERT_EQUAL(fx.prog.bytes, 250 * 8);
	check_lines(&fx, &st, 0, fx.pid);
	/* One request per batch of at most 40, each at a batch end, rising. */
	CU_ASSERT(fx.n_ckpts >= 7);
	/* The latency histograms of the run (shm minor 2): one handler observation per
	 * batch (each made one checkpoint request), a GetRecords call for each batch and
	 * maybe empty ones; polling, so no fan-out fields. */
	CU_ASSERT_EQUAL(fx.prog.writer_pid, fx.pid);
	CU_ASSERT_EQUAL(fx.prog.read_mode, KLS_READ_POLLING);
	if (fx.n_ckpts < MAX_CKPTS)
		CU_ASSERT_EQUAL(fx.prog.handler.count, fx.n_ckpts);
	CU_ASSERT(fx.prog.getrecords.count >= fx.prog.handler.count);
	CU_ASSERT(fx.prog.getrecords.sum_ns > 0);
	CU_ASSERT_EQUAL(fx.prog.fanout_resubscribes, 0);
	CU_ASSERT_EQUAL(fx.prog.fanout_started_ns, 0);
	for (size_t i = 0; i < fx.n_ckpts; i++) {
		CU_ASSERT_EQUAL(fx.ckpt_state[i], KLS_HANDLER_CHECKPOINT);
		if (i > 0) {
			int cmp = 0;
			CU_ASSERT_EQUAL(kls_seqnum_cmp(fx.ckpts[i - 1], 0, fx.ckpts[i], 0, &cmp),
			    0);
			CU_ASSERT(cmp < 0);
		}
	}
	CU_ASSERT_STRING_EQUAL(fx.ckpts[0], st.seq[39]);
	CU_ASSERT_STRING_EQUAL(fx.l.ckpt_seq, st.seq[249]);
	fk_close(&fx);
	stream_drop(&st);
}

/*
 * checkpoint = manual: nothing is checkpointed until the handler asks; on DRAIN its
 * shutdown_requested checkpoints the last record and the reader exits 0. A second
 * reader resumes after that checkpoint; one resuming inside an aggregate (sub-sequence
 * > 0) reads that record again rather than lose what followed it.
 */
static void
test_reader_manual_drain_and_resume(void)
{
	struct stream st;
	struct fake_klsd fx;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-manual", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 120), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx,
	                          &(struct run){ .stream = st.name,
	                              .handler = "filelog",
	                              .reader_lines = "checkpoint = manual\nmax_records = 50",
	                              .handler_lines = "checkpoint_every = 100000" }),
	    0);
	CU_ASSERT_FATAL(fk_until(&fx, has_records_120, RUN_TIMEOUT_MS));
	fk_until(&fx, NULL, 300);
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_EQUAL(fx.prog.req_gen, 5);
	fk_command(&fx, KLS_CMD_DRAIN);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	/* The one checkpoint came from shutdown_requested. */
	CU_ASSERT_EQUAL(fx.n_ckpts, 1);
	CU_ASSERT_EQUAL(fx.ckpt_state[0], KLS_HANDLER_CHECKPOINT);
	CU_ASSERT_STRING_EQUAL(fx.l.ckpt_seq, st.seq[119]);
	check_lines(&fx, &st, 0, fx.pid);
	fk_close(&fx);

	/* Resume after record 99; then inside "aggregate" 99 (sub-sequence 2), where record
	 * 99, not de-aggregated, comes again whole; STOP ends that one. */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
		                                     .ckpt = st.seq[99],
		                                     .sub = (uint64_t)i * 2,
		                                     .handler = "filelog" }),
		    0);
		CU_ASSERT(fk_until(&fx, checkpointed, RUN_TIMEOUT_MS));
		fk_until(&fx, NULL, 500);
		fk_command(&fx, i == 0 ? KLS_CMD_DRAIN : KLS_CMD_STOP);
		fk_wait(&fx);
		CU_ASSERT(exited_with(&fx, 0));
		check_lines(&fx, &st, i == 0 ? 100 : 99, fx.pid);
		fk_close(&fx);
	}
	stream_drop(&st);
}

/* klsd refuses the checkpoint as beyond what was delivered: the reader does not go
 * on guessing, it exits 1 with the reason in the progress group. */
static void
test_reader_checkpoint_refused_beyond(void)
{
	struct stream st;
	struct fake_klsd fx;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-beyond", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 10), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name, .handler = "filelog" }),
	    0);
	fx.answer = KLS_CKPT_BEYOND;
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 1));
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_EQUAL(fx.l.ckpt_gen, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, "beyond"));
	CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ASSIGNED);
	fk_close(&fx);
	stream_drop(&st);
}

/*
 * The lease deadline: already past at start, no handler call at all (filelog would
 * create its file in init) and exit 3; passing while klsd is frozen (no renewals),
 * lease_lost and exit 3 without klsd's help.
 */
static void
test_reader_deadline(void)
{
	struct stream st;
	struct fake_klsd fx;
	char path[PATH_MAX + 256];
	size_t n;
	static struct line lines[16];

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-deadline", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 5), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .deadline_ms = -1000,
	                                     .handler = "filelog",
	                                     .frozen = true }),
	    0);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 3));
	snprintf(path, sizeof(path), "%s/out-%s.log", fx.dir, fx.shard_id);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, "lease"));
	CU_ASSERT_EQUAL(fx.prog.records, 0);
	fk_close(&fx);

	/* 3 s of lease and a frozen klsd: records delivered, then the reader stops. */
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .deadline_ms = 3000,
	                                     .handler = "filelog",
	                                     .frozen = true }),
	    0);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 3));
	CU_ASSERT_EQUAL(read_lines(&fx, lines, 16, &n), 0);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_DONE);
	fk_close(&fx);
	stream_drop(&st);
}

/* A handler stuck in process() when the deadline passes, klsd frozen: the reader's own
 * watchdog kills it (SIGKILL), so no handler code runs past the deadline. */
static void
test_reader_watchdog_kills_hung_handler(void)
{
	struct stream st;
	struct fake_klsd fx;
	kls_mono t0;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-hang", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 3), 0);
	t0 = mono_now();
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .deadline_ms = 3000,
	                                     .handler = "fault",
	                                     .frozen = true,
	                                     .handler_lines = "mode = hang\nat_record = 2" }),
	    0);
	fk_wait(&fx);
	CU_ASSERT(WIFSIGNALED(fx.status) && WTERMSIG(fx.status) == SIGKILL);
	/* At the deadline (3 s), well before fk_wait would have given up. */
	CU_ASSERT(mono_diff_ms(t0, mono_now()) < 20000);
	CU_ASSERT(mono_diff_ms(t0, mono_now()) >= 2900);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_PROCESS);
	fk_close(&fx);
	stream_drop(&st);
}

static bool
in_shutdown(const struct fake_klsd *fx)
{
	return fx->prog.handler_state == KLS_HANDLER_SHUTDOWN;
}

/*
 * The process title: "kls-reader: <stream> <shard>" while reading, and " [draining]"
 * added as soon as klsd asks for a drain, while shutdown_requested still runs (fault's
 * shutdown_ms makes it take 3 s); then the reader exits 0 with every record written.
 */
static void
test_reader_title_draining(void)
{
	char title[512], want[512];
	struct stream st;
	struct fake_klsd fx;
	kls_mono t0;
	bool seen = false;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-title", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 120), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .handler = "fault",
	                                     .handler_lines = "mode = none\nshutdown_ms = 3000" }),
	    0);
	CU_ASSERT_FATAL(fk_until(&fx, has_records_120, RUN_TIMEOUT_MS));
	check_title(fx.pid, st.name, fx.shard_id, false);

	fk_command(&fx, KLS_CMD_DRAIN);
	snprintf(want, sizeof(want), "kls-reader: %s %s [draining]", st.name, fx.shard_id);
	t0 = mono_now();
	while (!fx.exited && !seen && mono_diff_ms(t0, mono_now()) < 20000) {
		fk_serve(&fx, 50);
		read_title(fx.pid, title, sizeof(title));
		seen = strcmp(title, want) == 0;
	}
	if (!seen)
		fprintf(stderr, "\ntitle \"%s\", want \"%s\"\n", title, want);
	CU_ASSERT(seen);
	/* And shown while shutdown_requested sleeps, not only after it. */
	CU_ASSERT(fk_until(&fx, in_shutdown, 20000));
	check_title(fx.pid, st.name, fx.shard_id, true);
	fk_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	CU_ASSERT(mono_diff_ms(t0, mono_now()) >= 2900);
	check_lines(&fx, &st, 0, fx.pid);
	fk_close(&fx);
	stream_drop(&st);
}

/* What the stand-in klsd of the parent-death test tells the test. */
struct orphan_note {
	pid_t reader;
	char shm_name[64];
	char dir[PATH_MAX];
};

/* klsd dies (SIGKILL): its reader goes with it (PR_SET_PDEATHSIG), at once. */
static void
test_reader_dies_with_klsd(void)
{
	struct stream st;
	struct orphan_note note;
	struct fake_klsd fx;
	int p[2], status;
	pid_t klsd;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-orphan", 1), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	fflush(NULL);
	klsd = fork();
	if (klsd == 0) {
		/* The stand-in klsd: creates the table (so it is the reader's klsd), starts
		 * the reader, says so once the slot is ACTIVE, and serves until killed. */
		memset(&note, 0, sizeof(note));
		if (fk_open(&fx, "shardId-000000000000", 30000, "", 0) < 0 ||
		    fk_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
		        example("filelog", h_buf, sizeof(h_buf)), "", "path = /dev/null") < 0 ||
		    fk_spawn(&fx) < 0)
			_exit(1);
		while (kls_shm_slot_state(fx.s) != KLS_SLOT_ACTIVE && !fx.exited)
			fk_serve(&fx, 20);
		note.reader = fx.pid;
		memcpy(note.shm_name, fx.shm_name, sizeof(note.shm_name));
		memcpy(note.dir, fx.dir, sizeof(note.dir));
		if (write(p[1], &note, sizeof(note)) != (ssize_t)sizeof(note))
			_exit(1);
		for (;;)
			fk_serve(&fx, 100);
	}
	CU_ASSERT_FATAL(klsd > 0);
	close(p[1]);
	CU_ASSERT_EQUAL(read(p[0], &note, sizeof(note)), (ssize_t)sizeof(note));
	close(p[0]);
	kill(klsd, SIGKILL);
	waitpid(klsd, &status, 0);
	if (note.reader > 0) {
		kls_mono end = mono_add_ms(mono_now(), 3000);
		while (kls_proc_alive(note.reader, 0) && mono_before(mono_now(), end))
			sleep_ms(10);
		CU_ASSERT(!kls_proc_alive(note.reader, 0));
	}
	/* Clean up what the stand-in made. */
	memset(&fx, 0, sizeof(fx));
	fx.wake[0] = fx.wake[1] = fx.cfg_fd = -1;
	fx.exited = true;
	memcpy(fx.shm_name, note.shm_name, sizeof(fx.shm_name));
	memcpy(fx.dir, note.dir, sizeof(fx.dir));
	if (fx.shm_name[0])
		fk_close(&fx);
	stream_drop(&st);
}

/* A handler that cannot be loaded: exit 2, the reason in the progress group. */
static void
test_reader_handler_load_fails(void)
{
	static const char *const cases[] = { "missing", "world-writable" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_klsd fx;
		char h[PATH_MAX], copy[PATH_MAX + 32], cmd[3 * PATH_MAX];

		CU_ASSERT_EQUAL_FATAL(fk_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
		snprintf(copy, sizeof(copy), "%s/handler.so", fx.dir);
		if (i == 1) {
			snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", example("filelog", h, sizeof(h)),
			    copy);
			CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
			CU_ASSERT_EQUAL_FATAL(chmod(copy, 0666), 0);
		}
		/* No Kinesis call comes before the handler loads: any endpoint will do. */
		CU_ASSERT_EQUAL_FATAL(fk_config(&fx, "nostream", "http://127.0.0.1:9", copy, "",
		                          "path = /dev/null"),
		    0);
		CU_ASSERT_EQUAL_FATAL(fk_spawn(&fx), 0);
		fk_wait(&fx);
		CU_ASSERT(exited_with(&fx, 2));
		CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, copy));
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(fx.prog.last_error, i == 0 ? "No such file" : "writable"));
		CU_ASSERT(fx.prog.error_ns > 0);
		CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ASSIGNED);
		fk_close(&fx);
	}
}

/* A handler that segfaults: the reader dies of SIGSEGV (a crash for klsd to restart),
 * its slot still ACTIVE (died mid-use) and nothing checkpointed past the crash. */
static void
test_reader_handler_crash(void)
{
	struct stream st;
	struct fake_klsd fx;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-crash", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 10), 0);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = st.name,
	                                     .handler = "fault",
	                                     .handler_lines = "mode = segv\nat_record = 3" }),
	    0);
	fk_wait(&fx);
	CU_ASSERT(WIFSIGNALED(fx.status) && WTERMSIG(fx.status) == SIGSEGV);
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_PROCESS);
	CU_ASSERT(kls_shm_slot_reaped(fx.s, &fx.prog) & KLS_REAPED_WAS_ACTIVE);
	fk_close(&fx);
	stream_drop(&st);
}

/*
 * The end of closed shards (a merge closes both parents): shard_ended, SHARD_END
 * persisted, exit 4. filelog checkpoints SHARD_END itself; fault (mode none) has no
 * shard_ended, so kls does. A lease already at SHARD_END exits 4 at once.
 */
static void
test_reader_shard_end(void)
{
	struct stream st;
	struct aws_error err;
	char h[PATH_MAX];
	static const char *const handlers[] = { "filelog", "fault" };
	static const char *const shards[] = { "shardId-000000000000", "shardId-000000000001" };

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-end", 2), 0);
	/* Partition keys spread over both shards. */
	for (int i = 0; i < 40; i++) {
		struct kinesis_put_entry e;
		struct kinesis_put_result r;
		char data[16], pk[16];
		size_t failed;
		snprintf(data, sizeof(data), "rec-%04d", i);
		snprintf(pk, sizeof(pk), "k%d", i);
		e = (struct kinesis_put_entry){ data, strlen(data), pk, NULL };
		CU_ASSERT_EQUAL_FATAL(kinesis_put_records(kc, st.name, &e, 1, &r, &failed, &err),
		    0);
		memcpy(st.seq[i], r.sequence_number, sizeof(st.seq[0]));
		memcpy(st.shard[i], r.shard_id, sizeof(st.shard[0]));
		st.n++;
	}
	if (kinesis_merge_shards(kc, st.name, shards[0], shards[1], &err) < 0 ||
	    kinesis_wait_active(kc, st.name, 30000, NULL, &err) < 0) {
		fprintf(stderr, "\nmerge: %s\n", err.message);
		CU_FAIL_FATAL("MergeShards failed");
	}
	for (size_t i = 0; i < 2; i++) {
		struct fake_klsd fx;
		size_t n = 0;

		CU_ASSERT_EQUAL_FATAL(start(&fx,
		                          &(struct run){ .stream = st.name,
		                              .shard = shards[i],
		                              .handler = handlers[i],
		                              .reader_lines = "max_records = 7",
		                              .handler_lines = i == 1 ? "mode = none" : "" }),
		    0);
		fk_wait(&fx);
		CU_ASSERT(exited_with(&fx, 4));
		CU_ASSERT_STRING_EQUAL(fx.l.ckpt_seq, CKPT_SHARD_END);
		CU_ASSERT(fx.n_ckpts >= 2);
		if (fx.n_ckpts > 0) {
			CU_ASSERT_STRING_EQUAL(fx.ckpts[fx.n_ckpts - 1], CKPT_SHARD_END);
			CU_ASSERT_EQUAL(fx.ckpt_state[fx.n_ckpts - 1], KLS_HANDLER_CHECKPOINT);
		}
		for (size_t j = 0; j < st.n; j++)
			n += strcmp(st.shard[j], shards[i]) == 0;
		CU_ASSERT(n > 0);
		CU_ASSERT_EQUAL(fx.prog.records, n);
		check_lines(&fx, &st, 0, fx.pid);
		fk_close(&fx);
	}

	/* Already finished. */
	{
		struct fake_klsd fx;
		CU_ASSERT_EQUAL_FATAL(fk_open(&fx, shards[0], 30000, CKPT_SHARD_END, 0), 0);
		CU_ASSERT_EQUAL_FATAL(fk_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
		                          example("filelog", h, sizeof(h)), "", "path = /dev/null"),
		    0);
		CU_ASSERT_EQUAL_FATAL(fk_spawn(&fx), 0);
		fk_wait(&fx);
		CU_ASSERT(exited_with(&fx, 4));
		CU_ASSERT_EQUAL(fx.prog.records, 0);
		fk_close(&fx);
	}
	stream_drop(&st);
}

/*
 * A scripted Kinesis: throttling and a 500 are retried with backoff, an expired
 * iterator is replaced by one at the last record delivered (read again and skipped),
 * and the closed shard ends the run. Every request is checked against the script.
 */
#define REC(seq, data)                                                                  \
	"{\"SequenceNumber\":\"" seq "\",\"Data\":\"" data "\",\"PartitionKey\":\"k\"," \
	"\"ApproximateArrivalTimestamp\":1.7e9}"
#define SEQ1 "49590338271490256608559692538361571095921575989136588801"
#define SEQ2 "49590338271490256608559692538361571095921575989136588802"
#define SEQ3 "49590338271490256608559692538361571095921575989136588803"

static const struct stub_step scripted_steps[] = {
	{ "GetShardIterator", { "\"TRIM_HORIZON\"", "shardId-000000000007" }, { 0 }, 0,
	    "{\"ShardIterator\":\"it-1\"}" },
	{ "GetRecords", { "\"it-1\"" }, { 0 }, 400,
	    "{\"__type\":\"ProvisionedThroughputExceededException\",\"message\":\"Rate "
	    "exceeded\"}" },
	{ "GetRecords", { "\"it-1\"" }, { 0 }, 500,
	    "{\"__type\":\"InternalFailure\",\"message\":\"try again\"}" },
	{ "GetRecords", { "\"it-1\"" }, { 0 }, 0,
	    "{\"Records\":[" REC(SEQ1, "YQ==") "," REC(SEQ2,
	        "Yg==") "],"
	                "\"NextShardIterator\":\"it-2\",\"MillisBehindLatest\":1234}" },
	{ "GetRecords", { "\"it-2\"" }, { 0 }, 400,
	    "{\"__type\":\"ExpiredIteratorException\",\"message\":\"Iterator expired\"}" },
	/* At the last record delivered, which comes again and is skipped. */
	{ "GetShardIterator", { "\"AT_SEQUENCE_NUMBER\"", SEQ2 }, { "TRIM_HORIZON" }, 0,
	    "{\"ShardIterator\":\"it-3\"}" },
	{ "GetRecords", { "\"it-3\"" }, { 0 }, 0,
	    "{\"Records\":[" REC(SEQ2, "Yg==") "],\"NextShardIterator\":\"it-4\","
	                                       "\"MillisBehindLatest\":0}" },
	{ "GetRecords", { "\"it-4\"" }, { 0 }, 0,
	    "{\"Records\":[" REC(SEQ3, "Yw==") "],\"MillisBehindLatest\":0}" },
};

static void
test_reader_scripted_failures(void)
{
	struct stub_script script = { .steps = scripted_steps,
		.n = sizeof(scripted_steps) / sizeof(scripted_steps[0]) };
	struct stub_server *srv = stub_start(stub_script_handler, &script);
	struct fake_klsd fx;
	static struct line lines[8];
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_EQUAL_FATAL(start(&fx, &(struct run){ .stream = "scripted",
	                                     .endpoint = stub_url(srv),
	                                     .shard = "shardId-000000000007",
	                                     .handler = "filelog" }),
	    0);
	fk_wait(&fx);
	stub_stop(srv);
	CU_ASSERT(exited_with(&fx, 4));
	if (script.failure[0])
		fprintf(stderr, "\nscript: %s\n", script.failure);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, (int)(sizeof(scripted_steps) / sizeof(scripted_steps[0])));
	CU_ASSERT_EQUAL(read_lines(&fx, lines, 8, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(lines[0].seq, SEQ1);
	CU_ASSERT_STRING_EQUAL(lines[0].data, "a");
	CU_ASSERT_STRING_EQUAL(lines[1].data, "b");
	CU_ASSERT_STRING_EQUAL(lines[2].seq, SEQ3);
	CU_ASSERT_STRING_EQUAL(fx.ckpts[fx.n_ckpts - 1], CKPT_SHARD_END);
	CU_ASSERT_EQUAL(fx.prog.records, 3);
	CU_ASSERT_EQUAL(fx.prog.millis_behind, 0);
	fk_close(&fx);
}

/* A table that is not kls's, or no table: refused with exit 2 before anything runs. */
static void
test_reader_refuses_foreign_table(void)
{
	struct fake_klsd fx;
	char h[PATH_MAX], path[128];
	int fd;

	CU_ASSERT_EQUAL_FATAL(fk_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
	CU_ASSERT_EQUAL_FATAL(fk_config(&fx, "nostream", "http://127.0.0.1:9",
	                          example("filelog", h, sizeof(h)), "", "path = /dev/null"),
	    0);
	/* Overwrite the magic, as a foreign object with the same name would have it. */
	kls_shm_close(fx.t);
	fx.t = NULL;
	snprintf(path, sizeof(path), "/dev/shm%s", fx.shm_name);
	fd = open(path, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, "NOTKLS!!", 8, 0), 8);
	close(fd);
	{
		struct kls_shm_err err;
		struct kls_shm *t = NULL;
		/* fx.s must stay readable for fk_wait: map it again, read-write, by hand. */
		CU_ASSERT_EQUAL(kls_shm_attach(fx.shm_name, &t, &err), -1);
		CU_ASSERT_EQUAL(err.check, KLS_SHM_EMAGIC);
	}
	fx.s = NULL;
	CU_ASSERT_EQUAL_FATAL(fk_spawn(&fx), 0);
	if (waitpid(fx.pid, &fx.status, 0) == fx.pid)
		fx.exited = true;
	CU_ASSERT(exited_with(&fx, 2));
	fk_close(&fx);
}

static CU_TestInfo reader_tests[] = {
	{ "auto: in order, checkpoint per batch, waits, drain",
	    test_reader_delivers_in_order_auto_checkpoints },
	{ "auto with an interval: posted, no wait", test_reader_posts_coalesced_checkpoints },
	{ "manual: drain checkpoints, resume", test_reader_manual_drain_and_resume },
	{ "checkpoint refused beyond delivered", test_reader_checkpoint_refused_beyond },
	{ "lease deadline", test_reader_deadline },
	{ "watchdog kills a hung handler at the deadline",
	    test_reader_watchdog_kills_hung_handler },
	{ "process title shows [draining]", test_reader_title_draining },
	{ "dies with klsd", test_reader_dies_with_klsd },
	{ "handler load fails", test_reader_handler_load_fails },
	{ "handler crash", test_reader_handler_crash },
	{ "shard end", test_reader_shard_end },
	{ "throttling, 5xx, expired iterator", test_reader_scripted_failures },
	{ "foreign table refused", test_reader_refuses_foreign_table },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "reader", NULL, test_kinesis_shared_free, NULL, NULL, reader_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
