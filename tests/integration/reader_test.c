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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/creds.h"
#include "common/kinesis.h"
#include "reader/checkpoint_ctx.h"
#include "shm/table.h"
#include "tests/harness.h"
#include "tests/stub_script.h"

#define MAX_RECORDS 400
#define MAX_CKPTS 256
/* Longest any one reader run may take here before the test kills it. */
#define RUN_TIMEOUT_MS 60000

/* ---------------------------------------------------------------- Kinesis side */

static struct aws_creds_provider *creds;
static struct kinesis_client *kc;

static struct kinesis_client *
client(void)
{
	struct aws_service_config cfg;
	struct aws_error err;
	const char *ep;

	if (kc)
		return kc;
	if (!(ep = test_env("KINESIS_ENDPOINT")))
		return NULL;
	creds = creds_provider_new_static("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	    NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(creds);
	kinesis_service_config(&cfg, "us-east-1", ep, creds);
	kc = kinesis_client_new(&cfg, NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(kc);
	return kc;
}

static int
suite_cleanup(void)
{
	kinesis_client_free(kc);
	creds_provider_free(creds);
	return 0;
}

struct stream {
	char name[64];
	size_t n;                                    /* records put */
	char seq[MAX_RECORDS][KINESIS_SEQUENCE_MAX + 1]; /* in put order */
	char shard[MAX_RECORDS][KINESIS_SHARD_ID_MAX + 1];
};

static int
stream_create(struct stream *st, const char *prefix, int shards)
{
	struct aws_error err;

	memset(st, 0, sizeof(*st));
	test_unique_name(st->name, sizeof(st->name), prefix);
	if (!client())
		return -1;
	if (kinesis_create_stream(kc, st->name, shards, &err) < 0 ||
	    kinesis_wait_active(kc, st->name, 30000, NULL, &err) < 0) {
		fprintf(stderr, "\nstream %s: %s\n", st->name, err.message);
		return -1;
	}
	return 0;
}

static void
stream_drop(struct stream *st)
{
	struct aws_error err;

	if (kc && kinesis_delete_stream(kc, st->name, &err) < 0)
		fprintf(stderr, "\ndelete %s: %s\n", st->name, err.message);
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
			fprintf(stderr, "\nput %s: %s\n", st->name, failed ? "records refused" : err.message);
			return -1;
		}
		for (size_t i = 0; i < k; i++) {
			snprintf(st->seq[st->n + i], sizeof(st->seq[0]), "%s", r[i].sequence_number);
			snprintf(st->shard[st->n + i], sizeof(st->shard[0]), "%s", r[i].shard_id);
		}
		st->n += k;
		n -= k;
	}
	return n == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- the test as klsd */

struct rfx {
	char dir[PATH_MAX];  /* scratch directory */
	char shm_name[64];
	char shard_id[KLS_SHM_SHARD_MAX];
	struct kls_shm *t;
	struct kls_shm_slot *s;
	struct kls_lease l; /* ours; published whole, as klsd does */
	int wake[2];
	int cfg_fd;
	pid_t pid;
	bool exited;
	int status;
	bool renew;                    /* keep pushing the deadline 30 s ahead */
	bool hold;                     /* leave checkpoint requests unanswered */
	enum kls_ckpt_result answer;   /* what to answer (a request beyond delivered: BEYOND) */
	struct kls_progress prog;      /* the last clean read of the progress group */
	size_t n_ckpts;                /* checkpoints persisted, in order */
	char ckpts[MAX_CKPTS][KLS_SHM_SEQ_MAX];
	uint32_t ckpt_state[MAX_CKPTS]; /* the reader's handler_state at each request */
};

static void
rfx_publish(struct rfx *fx)
{
	kls_shm_lease_publish(fx->s, &fx->l);
	kls_shm_wake_reader(fx->s);
}

/* A table with one slot for shard_id: RUN, deadline in deadline_ms (may be < 0),
 * persisted checkpoint ckpt ("" = none). */
static int
rfx_open(struct rfx *fx, const char *shard_id, int64_t deadline_ms, const char *ckpt,
    uint64_t subseq)
{
	struct kls_shm_params p = { .application = "readertest", .stream = "s",
		.worker_id = "testhost:7e57", .slot_count = 2 };
	struct kls_shm_err err;
	int idx;

	memset(fx, 0, sizeof(*fx));
	fx->wake[0] = fx->wake[1] = fx->cfg_fd = -1;
	fx->renew = true;
	snprintf(fx->dir, sizeof(fx->dir), "%s/tests/reader-XXXXXX", test_builddir());
	if (!mkdtemp(fx->dir)) {
		perror(fx->dir);
		return -1;
	}
	fx->shm_name[0] = '/';
	test_unique_name(fx->shm_name + 1, sizeof(fx->shm_name) - 1, "klstest-reader");
	p.name = fx->shm_name;
	if (kls_shm_create(&p, &fx->t, &err) < 0) {
		fprintf(stderr, "\n%s\n", err.msg);
		return -1;
	}
	snprintf(fx->shard_id, sizeof(fx->shard_id), "%s", shard_id);
	fx->l.command = KLS_CMD_RUN;
	memcpy(fx->l.shard_id, fx->shard_id, sizeof(fx->l.shard_id));
	fx->l.lease_counter = 3;
	fx->l.deadline_ns = mono_add_ms(mono_now(), deadline_ms).ns;
	snprintf(fx->l.ckpt_seq, sizeof(fx->l.ckpt_seq), "%s", ckpt);
	fx->l.ckpt_subseq = subseq;
	fx->l.ckpt_gen = 5; /* as if an earlier reader had checkpointed: numbering goes on */
	/* Slot 1, so a reader that took the wrong slot would fail. */
	CU_ASSERT_EQUAL(kls_shm_slot_assign(fx->t, &(struct kls_lease){ .shard_id = "other" }), 0);
	idx = kls_shm_slot_assign(fx->t, &fx->l);
	CU_ASSERT_EQUAL(idx, 1);
	fx->s = kls_shm_slot(fx->t, 1);
	if (pipe2(fx->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("pipe2");
		return -1;
	}
	return fx->s ? 0 : -1;
}

/* The configuration: [kls] and [reader] keys around the given extra lines. */
static int
rfx_config(struct rfx *fx, const char *stream, const char *endpoint, const char *handler,
    const char *reader_lines, const char *handler_lines)
{
	char text[4096];
	int n = snprintf(text, sizeof(text),
	    "[kls]\napplication = readertest\nstream = %s\nregion = us-east-1\n"
	    "[reader]\nhandler = %s\nidle_backoff_ms = 50\n%s\n"
	    "[aws]\nkinesis_endpoint = %s\nrequest_timeout_ms = 5000\n"
	    "[handler]\n%s\n",
	    stream, handler, reader_lines, endpoint, handler_lines);

	fx->cfg_fd = memfd_create("kls-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fx->cfg_fd < 0 || n < 0 || (size_t)n >= sizeof(text) ||
	    write(fx->cfg_fd, text, (size_t)n) != n ||
	    fcntl(fx->cfg_fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		perror("config memfd");
		return -1;
	}
	return 0;
}

/* fork + exec, as klsd does (the descriptors the reader gets are the only ones left
 * open across exec). */
static int
rfx_spawn(struct rfx *fx)
{
	char reader[PATH_MAX], cfd[16], wfd[16];

	snprintf(reader, sizeof(reader), "%s/reader/kls-reader", test_builddir());
	snprintf(cfd, sizeof(cfd), "%d", fx->cfg_fd);
	snprintf(wfd, sizeof(wfd), "%d", fx->wake[1]);
	fflush(NULL);
	fx->pid = fork();
	if (fx->pid == 0) {
		const char *asan = getenv("ASAN_OPTIONS");
		char opts[1024];

		/* A crash must stay a crash under AddressSanitizer, which would otherwise
		 * turn SIGSEGV into a report and exit status 1. */
		snprintf(opts, sizeof(opts), "%s%shandle_segv=0", asan ? asan : "", asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		fcntl(fx->cfg_fd, F_SETFD, 0);
		fcntl(fx->wake[1], F_SETFD, 0);
		execl(reader, reader, "--config-fd", cfd, "--shm", fx->shm_name, "--slot", "1",
		    "--wake-fd", wfd, (char *)NULL);
		perror(reader);
		_exit(127);
	}
	return fx->pid > 0 ? 0 : -1;
}

static bool
is_seq(const char *s)
{
	return s[0] >= '0' && s[0] <= '9';
}

/* Answers the reader's pending checkpoint request, as klsd would. */
static void
rfx_answer(struct rfx *fx, const struct kls_progress *pr)
{
	enum kls_ckpt_result res = fx->answer;
	int cmp = 0;

	/* klsd never trusts a request beyond what the reader says it delivered. */
	if (res == KLS_CKPT_OK && is_seq(pr->req_seq) &&
	    (kls_seqnum_cmp(pr->req_seq, pr->req_subseq, pr->delivered_seq, pr->delivered_subseq,
		 &cmp) < 0 || cmp > 0))
		res = KLS_CKPT_BEYOND;
	fx->l.ckpt_gen = pr->req_gen;
	fx->l.ckpt_result = res;
	fx->l.error[0] = '\0';
	if (res == KLS_CKPT_OK) {
		memcpy(fx->l.ckpt_seq, pr->req_seq, sizeof(fx->l.ckpt_seq));
		fx->l.ckpt_subseq = pr->req_subseq;
		if (fx->n_ckpts < MAX_CKPTS) {
			memcpy(fx->ckpts[fx->n_ckpts], pr->req_seq, sizeof(fx->ckpts[0]));
			fx->ckpt_state[fx->n_ckpts++] = pr->handler_state;
		}
	} else {
		snprintf(fx->l.error, sizeof(fx->l.error), "refused by the test (%d)", res);
	}
	rfx_publish(fx);
}

/* One turn of klsd's loop: wait up to ms for the wake pipe, answer, renew, reap. */
static void
rfx_serve(struct rfx *fx, int ms)
{
	struct pollfd p = { .fd = fx->wake[0], .events = POLLIN };
	struct kls_progress pr;
	char buf[64];

	(void)poll(&p, 1, ms);
	while (read(fx->wake[0], buf, sizeof(buf)) > 0)
		;
	if (kls_shm_progress_read(fx->s, &pr, KLS_SHM_READ_TRIES) == 0) {
		fx->prog = pr;
		if (!fx->hold && pr.req_gen > fx->l.ckpt_gen)
			rfx_answer(fx, &pr);
	}
	if (fx->renew && !fx->exited) {
		fx->l.deadline_ns = mono_add_ms(mono_now(), 30000).ns;
		kls_shm_lease_publish(fx->s, &fx->l);
	}
	if (!fx->exited && waitpid(fx->pid, &fx->status, WNOHANG) == fx->pid)
		fx->exited = true;
}

/* Serves until cond(fx) holds (NULL: until the reader exits) or timeout_ms passes. */
static bool
rfx_until(struct rfx *fx, bool (*cond)(const struct rfx *), int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	while (mono_before(mono_now(), end)) {
		rfx_serve(fx, 20);
		if (cond ? cond(fx) : fx->exited)
			return true;
		if (fx->exited)
			return false;
	}
	return false;
}

/* Serves until the reader exits; kills it after RUN_TIMEOUT_MS. Its wait status. */
static int
rfx_wait(struct rfx *fx)
{
	if (!fx->exited && !rfx_until(fx, NULL, RUN_TIMEOUT_MS)) {
		CU_FAIL("kls-reader did not exit in time");
		kill(fx->pid, SIGKILL);
		waitpid(fx->pid, &fx->status, 0);
		fx->exited = true;
	}
	/* The last words in the progress group. */
	(void)kls_shm_progress_read(fx->s, &fx->prog, KLS_SHM_READ_TRIES);
	return fx->status;
}

static bool
exited_with(const struct rfx *fx, int code)
{
	if (!WIFEXITED(fx->status) || WEXITSTATUS(fx->status) != code) {
		fprintf(stderr, "\nkls-reader: wait status 0x%x, want exit %d (last error \"%s\")\n",
		    fx->status, code, fx->prog.last_error);
		return false;
	}
	return true;
}

static void
rfx_command(struct rfx *fx, enum kls_command c)
{
	fx->l.command = c;
	rfx_publish(fx);
}

static void
rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	/* Our own scratch directory under the build tree, made by mkdtemp. */
	if (strstr(dir, "/tests/reader-") == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "\ncould not remove %s\n", dir);
}

static void
rfx_close(struct rfx *fx)
{
	if (fx->pid > 0 && !fx->exited) {
		kill(fx->pid, SIGKILL);
		waitpid(fx->pid, &fx->status, 0);
	}
	for (int i = 0; i < 2; i++)
		if (fx->wake[i] >= 0)
			close(fx->wake[i]);
	if (fx->cfg_fd >= 0)
		close(fx->cfg_fd);
	kls_shm_close(fx->t);
	kls_shm_unlink(fx->shm_name);
	rm_tree(fx->dir);
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
read_lines(const struct rfx *fx, struct line *out, size_t max, size_t *n)
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
		CU_ASSERT_STRING_EQUAL(worker, "testhost:7e57");
		(*n)++;
	}
	fclose(f);
	return 0;
}

/* The lines are exactly records [from, st->n) of the shard, in order, by pid. */
static void
check_lines(const struct rfx *fx, const struct stream *st, size_t from, pid_t pid)
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

static const char *
example(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/examples/.libs/%s.so", test_builddir(), name);
	return buf;
}

static bool
has_records_120(const struct rfx *fx)
{
	return fx->prog.records == 120;
}

static bool
all_checkpointed_250(const struct rfx *fx)
{
	return fx->prog.records == 250 && fx->n_ckpts > 0 &&
	    strcmp(fx->l.ckpt_seq, fx->prog.delivered_seq) == 0;
}

static bool
checkpointed(const struct rfx *fx)
{
	return fx->n_ckpts > 0 && strcmp(fx->l.ckpt_seq, fx->prog.delivered_seq) == 0;
}

static bool
request_pending(const struct rfx *fx)
{
	return fx->prog.req_gen > fx->l.ckpt_gen;
}

/* ---------------------------------------------------------------- tests */

/*
 * checkpoint = auto: every record in order, one checkpoint request per batch at its
 * last record; the reader waits for the persisted answer (and fetches nothing
 * meanwhile); DRAIN ends it with status 0.
 */
static void
test_reader_delivers_in_order_auto_checkpoints(void)
{
	struct stream st;
	struct rfx fx;
	char h[PATH_MAX], hl[PATH_MAX + 32];
	uint64_t records_held;

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-auto", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 250), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "max_records = 40", hl), 0);
	fx.hold = true;
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);

	/* The first batch's checkpoint request arrives; unanswered, the reader waits. */
	CU_ASSERT_FATAL(rfx_until(&fx, request_pending, RUN_TIMEOUT_MS));
	CU_ASSERT_EQUAL(fx.prog.req_gen, 6);
	CU_ASSERT_STRING_EQUAL(fx.prog.req_seq, st.seq[39]);
	CU_ASSERT_STRING_EQUAL(fx.prog.delivered_seq, st.seq[39]);
	records_held = fx.prog.records;
	CU_ASSERT_EQUAL(records_held, 40);
	rfx_until(&fx, NULL, 1500);
	CU_ASSERT(!fx.exited);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_CHECKPOINT);
	CU_ASSERT_EQUAL(fx.prog.records, records_held);

	fx.hold = false;
	CU_ASSERT(rfx_until(&fx, all_checkpointed_250, RUN_TIMEOUT_MS));
	rfx_command(&fx, KLS_CMD_DRAIN);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ASSIGNED);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_DONE);
	CU_ASSERT_EQUAL(fx.prog.records, 250);
	CU_ASSERT_EQUAL(fx.prog.bytes, 250 * 8);
	check_lines(&fx, &st, 0, fx.pid);
	/* One request per batch of at most 40, each at a batch end, rising. */
	CU_ASSERT(fx.n_ckpts >= 7);
	for (size_t i = 0; i < fx.n_ckpts; i++) {
		CU_ASSERT_EQUAL(fx.ckpt_state[i], KLS_HANDLER_CHECKPOINT);
		if (i > 0) {
			int cmp = 0;
			CU_ASSERT_EQUAL(kls_seqnum_cmp(fx.ckpts[i - 1], 0, fx.ckpts[i], 0, &cmp), 0);
			CU_ASSERT(cmp < 0);
		}
	}
	CU_ASSERT_STRING_EQUAL(fx.ckpts[0], st.seq[39]);
	CU_ASSERT_STRING_EQUAL(fx.l.ckpt_seq, st.seq[249]);
	rfx_close(&fx);
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
	struct rfx fx;
	char h[PATH_MAX], hl[PATH_MAX + 64];

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-manual", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 120), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log\ncheckpoint_every = 100000", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "checkpoint = manual\nmax_records = 50",
				  hl), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	CU_ASSERT_FATAL(rfx_until(&fx, has_records_120, RUN_TIMEOUT_MS));
	rfx_until(&fx, NULL, 300);
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_EQUAL(fx.prog.req_gen, 5);
	rfx_command(&fx, KLS_CMD_DRAIN);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	/* The one checkpoint came from shutdown_requested. */
	CU_ASSERT_EQUAL(fx.n_ckpts, 1);
	CU_ASSERT_EQUAL(fx.ckpt_state[0], KLS_HANDLER_CHECKPOINT);
	CU_ASSERT_STRING_EQUAL(fx.l.ckpt_seq, st.seq[119]);
	check_lines(&fx, &st, 0, fx.pid);
	rfx_close(&fx);

	/* Resume after record 99. */
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, st.seq[99], 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "", hl), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	CU_ASSERT(rfx_until(&fx, checkpointed, RUN_TIMEOUT_MS));
	rfx_until(&fx, NULL, 500);
	rfx_command(&fx, KLS_CMD_DRAIN);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	check_lines(&fx, &st, 100, fx.pid);
	rfx_close(&fx);

	/* Resume inside "aggregate" 99 (sub-sequence 2): record 99 comes again, whole. */
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, st.seq[99], 2), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "", hl), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	CU_ASSERT(rfx_until(&fx, checkpointed, RUN_TIMEOUT_MS));
	rfx_until(&fx, NULL, 500);
	rfx_command(&fx, KLS_CMD_STOP);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 0));
	check_lines(&fx, &st, 99, fx.pid);
	rfx_close(&fx);
	stream_drop(&st);
}

/* klsd refuses the checkpoint as beyond what was delivered: the reader does not go
 * on guessing, it exits 1 with the reason in the progress group. */
static void
test_reader_checkpoint_refused_beyond(void)
{
	struct stream st;
	struct rfx fx;
	char h[PATH_MAX], hl[PATH_MAX + 32];

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-beyond", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 10), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "", hl), 0);
	fx.answer = KLS_CKPT_BEYOND;
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 1));
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_EQUAL(fx.l.ckpt_gen, 6);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, "beyond"));
	CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ASSIGNED);
	rfx_close(&fx);
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
	struct rfx fx;
	char h[PATH_MAX], hl[PATH_MAX + 32], path[PATH_MAX + 256];
	size_t n;
	static struct line lines[16];

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-deadline", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 5), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", -1000, "", 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "", hl), 0);
	fx.renew = false;
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 3));
	snprintf(path, sizeof(path), "%s/out-%s.log", fx.dir, fx.shard_id);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, "lease"));
	CU_ASSERT_EQUAL(fx.prog.records, 0);
	rfx_close(&fx);

	/* 3 s of lease and a frozen klsd: records delivered, then the reader stops. */
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 3000, "", 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("filelog", h, sizeof(h)), "", hl), 0);
	fx.renew = false;
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	rfx_wait(&fx);
	CU_ASSERT(exited_with(&fx, 3));
	CU_ASSERT_EQUAL(read_lines(&fx, lines, 16, &n), 0);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_DONE);
	rfx_close(&fx);
	stream_drop(&st);
}

/* A handler that cannot be loaded: exit 2, the reason in the progress group. */
static void
test_reader_handler_load_fails(void)
{
	static const char *const cases[] = { "missing", "world-writable" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rfx fx;
		char h[PATH_MAX], copy[PATH_MAX + 32], cmd[3 * PATH_MAX];

		CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
		snprintf(copy, sizeof(copy), "%s/handler.so", fx.dir);
		if (i == 1) {
			snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", example("filelog", h, sizeof(h)),
			    copy);
			CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
			CU_ASSERT_EQUAL_FATAL(chmod(copy, 0666), 0);
		}
		/* No Kinesis call comes before the handler loads: any endpoint will do. */
		CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, "nostream", "http://127.0.0.1:9", copy, "",
					  "path = /dev/null"), 0);
		CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
		rfx_wait(&fx);
		CU_ASSERT(exited_with(&fx, 2));
		CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, copy));
		CU_ASSERT_PTR_NOT_NULL(strstr(fx.prog.last_error, i == 0 ? "No such file" : "writable"));
		CU_ASSERT(fx.prog.error_ns > 0);
		CU_ASSERT_EQUAL(kls_shm_slot_state(fx.s), KLS_SLOT_ASSIGNED);
		rfx_close(&fx);
	}
}

/* A handler that segfaults: the reader dies of SIGSEGV (a crash for klsd to restart),
 * its slot still ACTIVE (died mid-use) and nothing checkpointed past the crash. */
static void
test_reader_handler_crash(void)
{
	struct stream st;
	struct rfx fx;
	char h[PATH_MAX];

	CU_ASSERT_EQUAL_FATAL(stream_create(&st, "kls-rd-crash", 1), 0);
	CU_ASSERT_EQUAL_FATAL(stream_put(&st, 10), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
				  example("fault", h, sizeof(h)), "", "mode = segv\nat_record = 3"), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	rfx_wait(&fx);
	CU_ASSERT(WIFSIGNALED(fx.status) && WTERMSIG(fx.status) == SIGSEGV);
	CU_ASSERT_EQUAL(fx.n_ckpts, 0);
	CU_ASSERT_EQUAL(fx.prog.handler_state, KLS_HANDLER_PROCESS);
	CU_ASSERT(kls_shm_slot_reaped(fx.s, &fx.prog) & KLS_REAPED_WAS_ACTIVE);
	rfx_close(&fx);
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
	char h[PATH_MAX], hl[PATH_MAX + 32];
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
		CU_ASSERT_EQUAL_FATAL(kinesis_put_records(kc, st.name, &e, 1, &r, &failed, &err), 0);
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
		struct rfx fx;
		size_t n = 0;

		CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, shards[i], 30000, "", 0), 0);
		snprintf(hl, sizeof(hl), "path = %s/out-%%s.log%s", fx.dir,
		    i == 1 ? "\nmode = none" : "");
		CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
					  example(handlers[i], h, sizeof(h)), "max_records = 7", hl), 0);
		CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
		rfx_wait(&fx);
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
		rfx_close(&fx);
	}

	/* Already finished. */
	{
		struct rfx fx;
		CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, shards[0], 30000, CKPT_SHARD_END, 0), 0);
		CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, st.name, test_env("KINESIS_ENDPOINT"),
					  example("filelog", h, sizeof(h)), "", "path = /dev/null"), 0);
		CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
		rfx_wait(&fx);
		CU_ASSERT(exited_with(&fx, 4));
		CU_ASSERT_EQUAL(fx.prog.records, 0);
		rfx_close(&fx);
	}
	stream_drop(&st);
}

/*
 * A scripted Kinesis: throttling and a 500 are retried with backoff, an expired
 * iterator is replaced by one after the last record delivered, and the closed shard
 * ends the run. Every request is checked against the script.
 */
#define REC(seq, data) \
	"{\"SequenceNumber\":\"" seq "\",\"Data\":\"" data "\",\"PartitionKey\":\"k\"," \
	"\"ApproximateArrivalTimestamp\":1.7e9}"
#define SEQ1 "49590338271490256608559692538361571095921575989136588801"
#define SEQ2 "49590338271490256608559692538361571095921575989136588802"
#define SEQ3 "49590338271490256608559692538361571095921575989136588803"

static const struct stub_step scripted_steps[] = {
	{ "GetShardIterator", { "\"TRIM_HORIZON\"", "shardId-000000000007" }, { 0 }, 0,
	    "{\"ShardIterator\":\"it-1\"}" },
	{ "GetRecords", { "\"it-1\"" }, { 0 }, 400,
	    "{\"__type\":\"ProvisionedThroughputExceededException\",\"message\":\"Rate exceeded\"}" },
	{ "GetRecords", { "\"it-1\"" }, { 0 }, 500,
	    "{\"__type\":\"InternalFailure\",\"message\":\"try again\"}" },
	{ "GetRecords", { "\"it-1\"" }, { 0 }, 0,
	    "{\"Records\":[" REC(SEQ1, "YQ==") "," REC(SEQ2, "Yg==") "],"
	    "\"NextShardIterator\":\"it-2\",\"MillisBehindLatest\":1234}" },
	{ "GetRecords", { "\"it-2\"" }, { 0 }, 400,
	    "{\"__type\":\"ExpiredIteratorException\",\"message\":\"Iterator expired\"}" },
	{ "GetShardIterator", { "\"AFTER_SEQUENCE_NUMBER\"", SEQ2 }, { "TRIM_HORIZON" }, 0,
	    "{\"ShardIterator\":\"it-3\"}" },
	{ "GetRecords", { "\"it-3\"" }, { 0 }, 0,
	    "{\"Records\":[],\"NextShardIterator\":\"it-4\",\"MillisBehindLatest\":0}" },
	{ "GetRecords", { "\"it-4\"" }, { 0 }, 0,
	    "{\"Records\":[" REC(SEQ3, "Yw==") "],\"MillisBehindLatest\":0}" },
};

static void
test_reader_scripted_failures(void)
{
	struct stub_script script = { .steps = scripted_steps,
		.n = sizeof(scripted_steps) / sizeof(scripted_steps[0]) };
	struct stub_server *srv = stub_start(stub_script_handler, &script);
	struct rfx fx;
	char h[PATH_MAX], hl[PATH_MAX + 32];
	static struct line lines[8];
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000007", 30000, "", 0), 0);
	snprintf(hl, sizeof(hl), "path = %s/out-%%s.log", fx.dir);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, "scripted", stub_url(srv),
				  example("filelog", h, sizeof(h)), "", hl), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	rfx_wait(&fx);
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
	rfx_close(&fx);
}

/* A table that is not kls's, or no table: refused with exit 2 before anything runs. */
static void
test_reader_refuses_foreign_table(void)
{
	struct rfx fx;
	char h[PATH_MAX], path[128];
	int fd;

	CU_ASSERT_EQUAL_FATAL(rfx_open(&fx, "shardId-000000000000", 30000, "", 0), 0);
	CU_ASSERT_EQUAL_FATAL(rfx_config(&fx, "nostream", "http://127.0.0.1:9",
				  example("filelog", h, sizeof(h)), "", "path = /dev/null"), 0);
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
		/* fx.s must stay readable for rfx_wait: map it again, read-write, by hand. */
		CU_ASSERT_EQUAL(kls_shm_attach(fx.shm_name, &t, &err), -1);
		CU_ASSERT_EQUAL(err.check, KLS_SHM_EMAGIC);
	}
	fx.s = NULL;
	CU_ASSERT_EQUAL_FATAL(rfx_spawn(&fx), 0);
	if (waitpid(fx.pid, &fx.status, 0) == fx.pid)
		fx.exited = true;
	CU_ASSERT(exited_with(&fx, 2));
	rfx_close(&fx);
}

static CU_TestInfo reader_tests[] = {
	{ "auto: in order, checkpoint per batch, waits, drain", test_reader_delivers_in_order_auto_checkpoints },
	{ "manual: drain checkpoints, resume", test_reader_manual_drain_and_resume },
	{ "checkpoint refused beyond delivered", test_reader_checkpoint_refused_beyond },
	{ "lease deadline", test_reader_deadline },
	{ "handler load fails", test_reader_handler_load_fails },
	{ "handler crash", test_reader_handler_crash },
	{ "shard end", test_reader_shard_end },
	{ "throttling, 5xx, expired iterator", test_reader_scripted_failures },
	{ "foreign table refused", test_reader_refuses_foreign_table },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "reader", NULL, suite_cleanup, NULL, NULL, reader_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	/* The reader takes its credentials from the environment, as under klsd. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 0);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 0);
	signal(SIGPIPE, SIG_IGN);
	return test_main(argc, argv, suites);
}
