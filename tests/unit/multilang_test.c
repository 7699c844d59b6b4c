/*
 * Tests of examples/multilang.so driven through the handler ABI with a fake ctx, the
 * child being tests/multilang/sample_app.py (a MultiLang record processor written
 * from the protocol for these tests): every record delivered with its fields,
 * checkpoints the child asks for reach the ctx at the right (sequence, sub-sequence)
 * and the child hears back only after them, KCL error names, shard end, lease loss,
 * shutdown, a child killed mid-batch (process fails, and a restart from the last
 * checkpoint loses nothing), a hung child timed out and killed, protocol errors that
 * name the message, stdout noise skipped, stderr logged, configuration errors.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/handler_load.h"
#include "tests/harness.h"

#define SHARD "shardId-000000000042"
#define WORKER "testhost:6c1e1a57-2c0b-4f7e-9d3e-0b6f7b1d2a10"

/* ---- files ---- */

static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (f == NULL)
		return calloc(1, 1);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	fclose(f);
	return s;
}

/* Lines of path that start with prefix. */
static int
count_prefixed(const char *path, const char *prefix)
{
	char *s = read_text(path), *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		n += strncmp(line, prefix, strlen(prefix)) == 0;
	free(s);
	return n;
}

static bool
has_line(const char *path, const char *want)
{
	char *s = read_text(path), *line, *save = NULL;
	bool found = false;

	for (line = strtok_r(s, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
		found = strcmp(line, want) == 0;
	free(s);
	if (!found)
		fprintf(stderr, "\n%s has no line \"%s\"\n", path, want);
	return found;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* ---- the fake reader context ---- */

struct call {
	char seq[64]; /* what was checkpointed ("SHARD_END" at shard end) */
	uint64_t sub;
	bool at;          /* kls_checkpoint_at (else kls_checkpoint) */
	int replies_seen; /* the child's answered checkpoints when the call came */
};

struct fake {
	struct kls_ctx pub;
	const char *out; /* the app's record file */
	/* What kls_checkpoint means now: the last record of the batch, or SHARD_END. */
	char last_seq[64];
	uint64_t last_sub;
	int ncalls;
	struct call calls[64];
	int results[64]; /* the result of call i (KLS_OK unless set) */
	char log[65536];
};

static int
answered(const char *out)
{
	return count_prefixed(out, "ckpt-ok") + count_prefixed(out, "ckpt-error");
}

static int
record_call(struct fake *f, const char *seq, uint64_t sub, bool at)
{
	struct call *c;

	if (f->ncalls == 64)
		return KLS_ERR_INVALID;
	c = &f->calls[f->ncalls];
	snprintf(c->seq, sizeof(c->seq), "%s", seq);
	c->sub = sub;
	c->at = at;
	/* The child is blocked on this checkpoint: it must not have its answer yet. */
	c->replies_seen = answered(f->out);
	return f->results[f->ncalls++];
}

static int
fake_checkpoint(struct kls_ctx *ctx)
{
	struct fake *f = (struct fake *)(void *)ctx;
	return record_call(f, f->last_seq, f->last_sub, false);
}

static int
fake_checkpoint_at(struct kls_ctx *ctx, const char *seq, uint64_t sub)
{
	return record_call((struct fake *)(void *)ctx, seq, sub, true);
}

static void
fake_vlog(struct kls_ctx *ctx, int level, const char *fmt, va_list ap)
{
	struct fake *f = (struct fake *)(void *)ctx;
	size_t len = strlen(f->log);

	if (len + 2 < sizeof(f->log)) {
		vsnprintf(f->log + len, sizeof(f->log) - len - 1, fmt, ap);
		strcat(f->log, "\n");
	}
}

static const struct kls_ctx_ops fake_ops = {
	.size = sizeof(struct kls_ctx_ops),
	.checkpoint = fake_checkpoint,
	.checkpoint_at = fake_checkpoint_at,
	.vlog = fake_vlog,
};

static bool
logged(const struct fake *f, const char *want)
{
	if (strstr(f->log, want))
		return true;
	fprintf(stderr, "\nlog lacks \"%s\"; log:\n%s\n", want, f->log);
	return false;
}

/* ---- one handler instance with its child ---- */

struct run {
	char dir[512];
	char out[PATH_MAX];
	char command[3 * PATH_MAX];
	struct handler h;
	struct fake f;
	struct kls_shard_info info;
	struct kls_handler_config_pair pairs[8];
	struct kls_handler_config cfg;
	void *state;
	bool inited;
	/* The records given so far. */
	struct kls_record r[64];
	char seq[64][64];
	char data[64][32];
};

/* Record i (0-based): sequence numbers that sort like Kinesis's, sub-sequence i % 4
 * as if every record were one of a KPL aggregate, data that needs escaping. */
static void
make_record(struct run *r, unsigned i)
{
	snprintf(r->seq[i], sizeof(r->seq[i]),
	    "4959033827149025660855969253836157109592157598913%07u", i);
	snprintf(r->data[i], sizeof(r->data[i]), "rec %u \"q\"\n\x01", i);
	r->r[i] = (struct kls_record){
		.data = r->data[i],
		.data_len = strlen(r->data[i]),
		.partition_key = i % 2 ? "pk-odd" : "pk-even",
		.sequence_number = r->seq[i],
		.sub_sequence_number = i % 4,
		.approximate_arrival_ms = 1700000000000 + i,
	};
}

static struct run *
run_new(void)
{
	struct run *r = calloc(1, sizeof(*r));
	char path[PATH_MAX];
	struct handler_error err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(r->dir, sizeof(r->dir), "%s/tests/multilang.XXXXXX", test_builddir());
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(r->dir));
	snprintf(r->out, sizeof(r->out), "%s/out", r->dir);
	r->f.pub.size = sizeof(r->f.pub);
	r->f.pub.ops = &fake_ops;
	r->f.pub.worker_id = WORKER;
	r->f.pub.shard_id = SHARD;
	r->f.out = r->out;
	r->info = (struct kls_shard_info){
		.size = sizeof(struct kls_shard_info),
		.checkpoint_mode = KLS_CHECKPOINT_MANUAL,
		.application = "app",
		.stream = "stream",
		.shard_id = SHARD,
		.worker_id = WORKER,
		.checkpoint = "TRIM_HORIZON",
	};
	for (unsigned i = 0; i < 64; i++)
		make_record(r, i);
	snprintf(path, sizeof(path), "%s/examples/.libs/multilang.so", test_builddir());
	CU_ASSERT_EQUAL_FATAL(handler_load(path, &r->h, &err), 0);
	return r;
}

/* init with the sample app and its options, plus extra key/value pairs. */
static int
run_init(struct run *r, const char *app_opts, const char *const *kv)
{
	size_t n = 0;
	int rc;

	snprintf(r->command, sizeof(r->command),
	    "python3 '%s/tests/multilang/sample_app.py' --out \"%s\" %s", test_srcdir(), r->out,
	    app_opts);
	r->pairs[n++] = (struct kls_handler_config_pair){ "command", r->command };
	for (; kv && kv[0] && n < 8; kv += 2)
		r->pairs[n++] = (struct kls_handler_config_pair){ kv[0], kv[1] };
	r->cfg = (struct kls_handler_config){ n, r->pairs };
	rc = handler_init(&r->h, &r->info, &r->cfg, &r->f.pub, &r->state);
	r->inited = rc == KLS_HANDLER_OK;
	return rc;
}

/* Gives records [from, from + n) to process. */
static int
run_batch(struct run *r, unsigned from, unsigned n)
{
	snprintf(r->f.last_seq, sizeof(r->f.last_seq), "%s", r->seq[from + n - 1]);
	r->f.last_sub = r->r[from + n - 1].sub_sequence_number;
	return handler_process(&r->h, r->state, r->r + from, n, &r->f.pub);
}

static void
run_free(struct run *r)
{
	if (r->inited)
		handler_destroy(&r->h, r->state);
	handler_unload(&r->h);
	CU_ASSERT_EQUAL(nftw(r->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(r);
}

/* The line the app writes for record i. */
static void
rec_line(const struct run *r, unsigned i, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *d = r->r[i].data;
	int o = snprintf(out, size, "rec %s %llu %s ", r->seq[i],
	    (unsigned long long)r->r[i].sub_sequence_number, r->r[i].partition_key);

	for (size_t k = 0; k < r->r[i].data_len && (size_t)o + 3 < size; k++) {
		out[o++] = hex[d[k] >> 4];
		out[o++] = hex[d[k] & 15];
	}
	snprintf(out + o, size - (size_t)o, " %lld", (long long)r->r[i].approximate_arrival_ms);
}

/* pid of the app, from its "pid" line; -1 if none. */
static long
app_pid(const char *out)
{
	char *s = read_text(out), *p = strstr(s, "pid ");
	long pid = p ? strtol(p + 4, NULL, 10) : -1;

	free(s);
	return pid;
}

/* ---- tests ---- */

static void
test_multilang_delivers_and_checkpoints(void)
{
	struct run *r = run_new();
	char want[512];
	static const unsigned batches[][2] = { { 0, 5 }, { 5, 7 }, { 12, 3 } };
	const char *const kv[] = { "directory", "/", "env.KLS_SAMPLE_TAG", "tag-1", NULL };

	CU_ASSERT_EQUAL_FATAL(run_init(r, "--every 4", kv), KLS_HANDLER_OK);
	snprintf(want, sizeof(want), "init %s TRIM_HORIZON 0", SHARD);
	CU_ASSERT(has_line(r->out, want));
	/* The working directory and the environment come from the configuration. */
	snprintf(want, sizeof(want), "pid %ld / tag-1", app_pid(r->out));
	CU_ASSERT(has_line(r->out, want));
	for (size_t b = 0; b < 3; b++)
		CU_ASSERT_EQUAL(run_batch(r, batches[b][0], batches[b][1]), KLS_HANDLER_OK);
	/* Every record, each field as given. */
	CU_ASSERT_EQUAL(count_prefixed(r->out, "rec "), 15);
	for (unsigned i = 0; i < 15; i++) {
		rec_line(r, i, want, sizeof(want));
		CU_ASSERT(has_line(r->out, want));
	}
	/* Records 4, 8 and 12 (indexes 3, 7, 11), at their sub-sequence numbers, each
	 * answered only after the ctx had it. */
	CU_ASSERT_EQUAL_FATAL(r->f.ncalls, 3);
	for (int c = 0; c < 3; c++) {
		unsigned i = 3 + 4 * (unsigned)c;
		CU_ASSERT(r->f.calls[c].at);
		CU_ASSERT_STRING_EQUAL(r->f.calls[c].seq, r->seq[i]);
		CU_ASSERT_EQUAL(r->f.calls[c].sub, r->r[i].sub_sequence_number);
		CU_ASSERT_EQUAL(r->f.calls[c].replies_seen, c);
		snprintf(want, sizeof(want), "ckpt-ok %s %llu", r->seq[i],
		    (unsigned long long)r->r[i].sub_sequence_number);
		CU_ASSERT(has_line(r->out, want));
	}
	/* shutdownRequested with a checkpointer: a null sequence number is the last
	 * record delivered. */
	CU_ASSERT_EQUAL(handler_shutdown_requested(&r->h, r->state, &r->f.pub), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL_FATAL(r->f.ncalls, 4);
	CU_ASSERT_FALSE(r->f.calls[3].at);
	CU_ASSERT_STRING_EQUAL(r->f.calls[3].seq, r->seq[14]);
	CU_ASSERT_EQUAL(r->f.calls[3].replies_seen, 3);
	CU_ASSERT(has_line(r->out, "ckpt-ok - -"));
	CU_ASSERT(has_line(r->out, "shutdownRequested"));
	/* The child's stderr is in kls's log. */
	snprintf(want, sizeof(want), "multilang %s: stderr: sample-app: initialized %s", SHARD,
	    SHARD);
	CU_ASSERT(logged(&r->f, want));
	/* destroy closes its stdin: it exits on its own. */
	handler_destroy(&r->h, r->state);
	r->inited = false;
	CU_ASSERT(has_line(r->out, "exit"));
	CU_ASSERT(logged(&r->f, "child ended: exit status 0"));
	run_free(r);
}

static void
test_multilang_checkpoint_errors(void)
{
	static const struct {
		int result;
		const char *name;
	} cases[] = {
		{ KLS_OK, NULL },
		{ KLS_ERR_LEASE_LOST, "ShutdownException" },
		{ KLS_ERR_BEYOND_DELIVERED, "IllegalArgumentException" },
		{ KLS_ERR_WRITE_FAILED, "KinesisClientLibDependencyException" },
		{ KLS_ERR_TIMEOUT, "KinesisClientLibDependencyException" },
		{ KLS_ERR_INVALID, "IllegalArgumentException" },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct run *r = run_new();
	char want[256];

	for (size_t i = 0; i < n; i++)
		r->f.results[i] = cases[i].result;
	CU_ASSERT_EQUAL_FATAL(run_init(r, "--batch-end", NULL), KLS_HANDLER_OK);
	/* A refused checkpoint fails the child's call, not the batch: the child decides. */
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(run_batch(r, (unsigned)i, 1), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(r->f.ncalls, (int)n);
	snprintf(want, sizeof(want), "ckpt-ok - -");
	CU_ASSERT_EQUAL(count_prefixed(r->out, want), 1);
	for (size_t i = 1; i < n; i++) {
		CU_ASSERT_FALSE(r->f.calls[i].at);
		CU_ASSERT_STRING_EQUAL(r->f.calls[i].seq, r->seq[i]);
		snprintf(want, sizeof(want), "ckpt-error %s", cases[i].name);
		CU_ASSERT(has_line(r->out, want));
	}
	CU_ASSERT(logged(&r->f, "for the child: lease lost"));
	run_free(r);
}

static void
test_multilang_shard_ended(void)
{
	struct run *r = run_new();

	CU_ASSERT_EQUAL_FATAL(run_init(r, "", NULL), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(run_batch(r, 0, 3), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(r->f.ncalls, 0);
	/* In shard_ended, the ctx's kls_checkpoint is SHARD_END. */
	snprintf(r->f.last_seq, sizeof(r->f.last_seq), "SHARD_END");
	CU_ASSERT_EQUAL(handler_shard_ended(&r->h, r->state, &r->f.pub), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL_FATAL(r->f.ncalls, 1);
	CU_ASSERT_FALSE(r->f.calls[0].at);
	CU_ASSERT_STRING_EQUAL(r->f.calls[0].seq, "SHARD_END");
	CU_ASSERT(has_line(r->out, "shardEnded"));
	CU_ASSERT(has_line(r->out, "ckpt-ok - -"));
	handler_destroy(&r->h, r->state);
	r->inited = false;
	CU_ASSERT(has_line(r->out, "exit"));
	run_free(r);
}

static void
test_multilang_lease_lost(void)
{
	struct run *r = run_new();

	CU_ASSERT_EQUAL_FATAL(run_init(r, "--ckpt-on-lost", NULL), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(run_batch(r, 0, 2), KLS_HANDLER_OK);
	handler_lease_lost(&r->h, r->state);
	/* No checkpointer after the lease is gone: refused without reaching kls. */
	CU_ASSERT(has_line(r->out, "leaseLost"));
	CU_ASSERT(has_line(r->out, "ckpt-error InvalidStateException"));
	CU_ASSERT_EQUAL(r->f.ncalls, 0);
	CU_ASSERT(logged(&r->f, "during leaseLost, where none is allowed"));
	handler_destroy(&r->h, r->state);
	r->inited = false;
	CU_ASSERT(has_line(r->out, "exit"));
	run_free(r);
}

static void
test_multilang_child_killed_mid_batch(void)
{
	struct run *r = run_new();
	char want[512];
	long pid;

	/* Checkpoints at records 2, 4, 6; dies on the 7th, in the middle of a batch of 10. */
	CU_ASSERT_EQUAL_FATAL(run_init(r, "--every 2 --die-after 7", NULL), KLS_HANDLER_OK);
	pid = app_pid(r->out);
	CU_ASSERT_EQUAL(run_batch(r, 0, 10), KLS_HANDLER_ERROR);
	snprintf(want, sizeof(want),
	    "multilang %s: child closed its stdout while kls waited for the status "
	    "of processRecords (killed by signal 9",
	    SHARD);
	CU_ASSERT(logged(&r->f, want));
	CU_ASSERT_EQUAL(kill((pid_t)pid, 0), -1);
	CU_ASSERT_EQUAL(errno, ESRCH);
	/* Later calls fail at once. */
	CU_ASSERT_EQUAL(run_batch(r, 10, 1), KLS_HANDLER_ERROR);
	CU_ASSERT(logged(&r->f, "the child was stopped after an earlier failure"));
	CU_ASSERT_EQUAL_FATAL(r->f.ncalls, 3);
	CU_ASSERT_STRING_EQUAL(r->f.calls[2].seq, r->seq[5]);
	handler_destroy(&r->h, r->state);
	r->inited = false;

	/* What the restarted reader does: a new instance resumed after the last
	 * persisted checkpoint (record 6) gets records 7 to 10 again. */
	r->info.checkpoint = r->seq[5];
	r->info.checkpoint_sub_sequence = r->r[5].sub_sequence_number;
	r->info.resumed = 1;
	r->info.restarts = 1;
	r->f.ncalls = 0;
	CU_ASSERT_EQUAL_FATAL(run_init(r, "--every 2", NULL), KLS_HANDLER_OK);
	snprintf(want, sizeof(want), "init %s %s %llu", SHARD, r->seq[5],
	    (unsigned long long)r->r[5].sub_sequence_number);
	CU_ASSERT(has_line(r->out, want));
	CU_ASSERT_EQUAL(run_batch(r, 6, 4), KLS_HANDLER_OK);
	/* Nothing lost: every record of the batch reached an app exactly once here. */
	for (unsigned i = 0; i < 10; i++) {
		rec_line(r, i, want, sizeof(want));
		CU_ASSERT(has_line(r->out, want));
	}
	CU_ASSERT_EQUAL(count_prefixed(r->out, "rec "), 10);
	run_free(r);
}

static void
test_multilang_hung_child_times_out(void)
{
	struct run *r = run_new();
	const char *const kv[] = { "timeout_ms", "8000", NULL };
	char want[256];
	long pid;

	CU_ASSERT_EQUAL_FATAL(run_init(r, "--hang-after 2", kv), KLS_HANDLER_OK);
	pid = app_pid(r->out);
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(run_batch(r, 0, 3), KLS_HANDLER_ERROR);
	snprintf(want, sizeof(want),
	    "multilang %s: child did not answer processRecords within 8000 ms: killed it", SHARD);
	CU_ASSERT(logged(&r->f, want));
	/* Killed and reaped: the pid is gone. */
	CU_ASSERT_EQUAL(kill((pid_t)pid, 0), -1);
	CU_ASSERT_EQUAL(errno, ESRCH);
	run_free(r);
}

static void
test_multilang_protocol_error_names_message(void)
{
	struct run *r = run_new();
	char want[512];

	CU_ASSERT_EQUAL_FATAL(run_init(r, "--bad-action-after 3", NULL), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(run_batch(r, 0, 5), KLS_HANDLER_ERROR);
	snprintf(want, sizeof(want),
	    "multilang %s: child sent {\"action\": \"chekpoint\", \"sequenceNumber\": \"%s\"}: "
	    "unknown action",
	    SHARD, r->seq[2]);
	CU_ASSERT(logged(&r->f, want));
	run_free(r);
}

static void
test_multilang_skips_stdout_noise(void)
{
	struct run *r = run_new();

	CU_ASSERT_EQUAL_FATAL(run_init(r, "--noise --every 1", NULL), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(run_batch(r, 0, 2), KLS_HANDLER_OK);
	CU_ASSERT_EQUAL(r->f.ncalls, 2);
	CU_ASSERT(logged(&r->f, "stdout (not a protocol message): a library talking on stdout"));
	CU_ASSERT(logged(&r->f, "stdout (not a protocol message): {\"level\": \"info\""));
	run_free(r);
}

/* Records of 1 MiB (Kinesis's largest) make a message far bigger than a pipe, and a
 * child that floods stderr before answering would block if kls did not read it while
 * it waits: both directions at once must not deadlock. */
static void
test_multilang_large_messages(void)
{
	enum { BIG = 1024 * 1024, NBIG = 3 };
	struct run *r = run_new();
	char *data = malloc((size_t)NBIG * BIG), *want = malloc(2 * BIG + 256);

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_EQUAL_FATAL(run_init(r, "--stderr-lines 3000", NULL), KLS_HANDLER_OK);
	CU_ASSERT(logged(&r->f, "stderr: sample-app: stderr line 0 xxxx"));
	for (unsigned i = 0; i < NBIG; i++) {
		for (size_t k = 0; k < BIG; k++)
			data[(size_t)i * BIG + k] = (char)(k * 7 + i);
		r->r[i].data = data + (size_t)i * BIG;
		r->r[i].data_len = BIG;
	}
	CU_ASSERT_EQUAL(run_batch(r, 0, NBIG), KLS_HANDLER_OK);
	for (unsigned i = 0; i < NBIG; i++) {
		rec_line(r, i, want, 2 * BIG + 256);
		CU_ASSERT(strlen(want) > 2 * BIG);
		CU_ASSERT(has_line(r->out, want));
	}
	run_free(r);
	free(data);
	free(want);
}

static void
test_multilang_config_errors(void)
{
	static const struct {
		const char *kv[4];
		int rc;
		const char *msg;
	} cases[] = {
		{ { "command", "", NULL }, KLS_HANDLER_ERROR_PERMANENT,
		    "command = : command is empty" },
		{ { "command", "python3 'x", NULL }, KLS_HANDLER_ERROR_PERMANENT,
		    "unterminated ' quote" },
		{ { "command", "kls-no-such-program-7", NULL }, KLS_HANDLER_ERROR_PERMANENT,
		    "kls-no-such-program-7: not found in PATH" },
		{ { "command", "/nonexistent/app", NULL }, KLS_HANDLER_ERROR_PERMANENT,
		    "start /nonexistent/app: exec /nonexistent/app: No such file or directory" },
		{ { "command", "/bin/true", "directory", "/nonexistent-dir" },
		    KLS_HANDLER_ERROR_PERMANENT,
		    "chdir /nonexistent-dir: No such file or directory" },
		{ { "command", "/bin/true", "env.1BAD", "x" }, KLS_HANDLER_ERROR_PERMANENT,
		    "env.1BAD: \"1BAD\" is not an environment variable name" },
		{ { "command", "/bin/true", "timeout", "5" }, KLS_HANDLER_ERROR_PERMANENT,
		    "[handler] unknown key timeout" },
		{ { "command", "/bin/true", "max_line_bytes", "10" }, KLS_HANDLER_ERROR_PERMANENT,
		    "max_line_bytes = 10: at least 1024" },
		/* A program that exits after reading the first message: a transient failure
		 * of this reader. */
		{ { "command", "/bin/sh -c 'read x; exit 0'", NULL }, KLS_HANDLER_ERROR,
		    "child closed its stdout while kls waited for the status of initialize (exit "
		    "status 0)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run *r = run_new();
		size_t n = 0;

		for (; n < 2 && cases[i].kv[2 * n]; n++)
			r->pairs[n] = (struct kls_handler_config_pair){ cases[i].kv[2 * n],
				cases[i].kv[2 * n + 1] };
		r->cfg = (struct kls_handler_config){ n, r->pairs };
		CU_ASSERT_EQUAL(handler_init(&r->h, &r->info, &r->cfg, &r->f.pub, &r->state),
		    cases[i].rc);
		CU_ASSERT(logged(&r->f, cases[i].msg));
		run_free(r);
	}
	{
		struct run *r = run_new();
		r->cfg = (struct kls_handler_config){ 0, r->pairs };
		CU_ASSERT_EQUAL(handler_init(&r->h, &r->info, &r->cfg, &r->f.pub, &r->state),
		    KLS_HANDLER_ERROR_PERMANENT);
		CU_ASSERT(logged(&r->f, "multilang: [handler] command is required"));
		run_free(r);
	}
}

static CU_TestInfo tests[] = {
	{ "delivers records and checkpoints", test_multilang_delivers_and_checkpoints },
	{ "checkpoint errors carry KCL names", test_multilang_checkpoint_errors },
	{ "shard ended", test_multilang_shard_ended },
	{ "lease lost", test_multilang_lease_lost },
	{ "child killed mid-batch", test_multilang_child_killed_mid_batch },
	{ "hung child times out", test_multilang_hung_child_times_out },
	{ "protocol error names the message", test_multilang_protocol_error_names_message },
	{ "skips stdout noise", test_multilang_skips_stdout_noise },
	{ "large messages both ways", test_multilang_large_messages },
	{ "configuration errors", test_multilang_config_errors },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "multilang handler", NULL, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
