/*
 * fault: a handler that misbehaves on purpose, for kls's fault tests. It writes the
 * same record lines as filelog (when `path' is set) for the records it processed
 * before misbehaving, so a test can check delivery around every fault.
 *
 * [handler] keys:
 *   mode = segv|abort|hang|error|exit|none   what to do (required):
 *           segv   dies of SIGSEGV (a real invalid access; the default disposition
 *                  is restored first so that a sanitizer's or anyone's SEGV handler
 *                  cannot turn the crash into an exit)
 *           abort  abort(): dies of SIGABRT
 *           hang   never returns: sleeps until a signal kills it (the reader's
 *                  watchdog ends it with SIGKILL)
 *           error  process() returns KLS_HANDLER_ERROR
 *           exit   calls exit(exit_status) from inside process()
 *           none   behaves (only writes lines)
 *   at_record = N        fault at the Nth record this reader is given (1 = the first)
 *   at_data = TEXT       or: fault at every record whose data is exactly TEXT (a poison
 *                        record: every reader run that is given it faults there)
 *   probability = P      or: fault at each record with probability P ...
 *   seed = S             ... from a generator seeded with S, the shard id and the
 *                        fault count (default: time and pid), so runs repeat
 *   max_faults = N       fault at most N times, counted in state_file (default:
 *                        no limit); then behave
 *   state_file = FILE    where the fault count persists across reader restarts; "%s"
 *                        is replaced by the shard id (one count per shard). The count
 *                        is written and synced before each fault.
 *   exit_status = N      the status for mode = exit (default 1)
 *   checkpoint_before = yes|no   before faulting, checkpoint at the record before the
 *                        faulting one (kls_checkpoint_at; with path, its line is
 *                        written first), so the next reader starts exactly there
 *                        (default no). Inside a KPL aggregate that is a checkpoint
 *                        inside the aggregate.
 *   path = FILE, fsync = yes|no   the record lines, as in filelog (optional)
 *   shutdown_ms = N      a slow drain: shutdown_requested sleeps N ms, then returns
 *                        without a checkpoint (default 0; at most 600000). Keep it
 *                        below the reader's heartbeat_timeout_ms and klsd's
 *                        drain_timeout_ms, or the reader is killed as hung.
 *
 * Exactly one of at_record, at_data and probability is required unless mode = none.
 * A fault at record k of a batch writes the lines of the k-1 records before it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <kls/handler.h>

#include "examples/support.h"

enum fault_mode { FAULT_NONE, FAULT_SEGV, FAULT_ABORT, FAULT_HANG, FAULT_ERROR, FAULT_EXIT };

static const char *const mode_names[] = {
	[FAULT_NONE] = "none",
	[FAULT_SEGV] = "segv",
	[FAULT_ABORT] = "abort",
	[FAULT_HANG] = "hang",
	[FAULT_ERROR] = "error",
	[FAULT_EXIT] = "exit",
};

struct fault {
	enum fault_mode mode;
	uint64_t at_record;   /* 0 = not by record number */
	double probability;   /* used when at_record is 0 and at_data is NULL */
	const char *at_data;  /* the poison record's data; NULL = not by data */
	uint64_t seed;
	uint64_t rng;	      /* xorshift64* state, never 0 */
	uint64_t max_faults;  /* UINT64_MAX = no limit */
	uint64_t faults;      /* faults so far (from state_file) */
	uint64_t seen;	      /* records given to this reader so far */
	int exit_status;
	uint64_t shutdown_ms;
	int state_fd;	      /* -1 without state_file */
	char state_path[PATH_MAX];
	bool lines;
	bool checkpoint_before;
	/* The last record processed in an earlier batch, for checkpoint_before when the
	 * first record of a batch faults. */
	char last_seq[KLS_SEQUENCE_MAX + 1];
	uint64_t last_sub;
	struct linefile out;
	const char *shard_id;
	const char *worker_id;
};

static uint64_t
next_random(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Reads the persisted fault count (an empty or new file counts 0). */
static int
state_open(struct fault *f, const char *pattern)
{
	char text[32];
	ssize_t n;
	char *end;

	if (ex_expand_path(f->state_path, sizeof(f->state_path), pattern, f->shard_id) == -1)
		return -1;
	f->state_fd = open(f->state_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (f->state_fd == -1)
		return -1;
	n = pread(f->state_fd, text, sizeof(text) - 1, 0);
	if (n == -1)
		return -1;
	text[n] = '\0';
	f->faults = strtoull(text, &end, 10);
	if (end == text)
		f->faults = 0;
	return 0;
}

/* Persists faults + 1 before the fault happens: after it, nothing more runs. */
static int
state_count(struct fault *f)
{
	char text[32];
	int n;

	f->faults++;
	if (f->state_fd == -1)
		return 0;
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", f->faults);
	if (ftruncate(f->state_fd, 0) == -1 || pwrite(f->state_fd, text, (size_t)n, 0) != n ||
	    fsync(f->state_fd) == -1)
		return -1;
	return 0;
}

static void
fault_free(struct fault *f)
{
	if (f->state_fd != -1)
		close(f->state_fd);
	linefile_close(&f->out);
	free(f);
}

static int
parse_mode(const char *v, enum fault_mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(v, mode_names[i]) == 0) {
			*out = (enum fault_mode)i;
			return 0;
		}
	}
	return -1;
}

/* Reads the configuration into f; -1 with a message in err. */
static int
fault_configure(struct fault *f, const struct kls_handler_config *config, char *err,
    size_t errlen)
{
	const char *mode = kls_config_get(config, "mode");
	uint64_t seed, status;

	if (mode == NULL || parse_mode(mode, &f->mode) == -1) {
		snprintf(err, errlen, "mode = %s: expected segv, abort, hang, error, exit or none",
		    mode ? mode : "(missing)");
		return -1;
	}
	if (ex_config_u64(config, "at_record", 0, UINT64_MAX, &f->at_record, err, errlen) == -1 ||
	    ex_config_prob(config, "probability", 0.0, &f->probability, err, errlen) == -1 ||
	    ex_config_u64(config, "seed", (uint64_t)ex_boottime_ns() ^ ((uint64_t)getpid() << 32),
		UINT64_MAX, &seed, err, errlen) == -1 ||
	    ex_config_u64(config, "max_faults", UINT64_MAX, UINT64_MAX, &f->max_faults, err,
		errlen) == -1 ||
	    ex_config_u64(config, "exit_status", 1, 255, &status, err, errlen) == -1 ||
	    ex_config_bool(config, "checkpoint_before", false, &f->checkpoint_before, err,
		errlen) == -1 ||
	    ex_config_u64(config, "shutdown_ms", 0, 600000, &f->shutdown_ms, err, errlen) == -1)
		return -1;
	f->at_data = kls_config_get(config, "at_data");
	if (f->mode != FAULT_NONE &&
	    (kls_config_get(config, "at_record") != NULL) + (f->at_data != NULL) +
		    (kls_config_get(config, "probability") != NULL) !=
		1) {
		snprintf(err, errlen, "set exactly one of at_record, at_data and probability");
		return -1;
	}
	if (kls_config_get(config, "at_record") != NULL && f->at_record == 0) {
		snprintf(err, errlen, "at_record = 0: records count from 1");
		return -1;
	}
	f->exit_status = (int)status;
	f->seed = seed;
	return 0;
}

static int
fault_init(const struct kls_shard_info *shard, const struct kls_handler_config *config,
    struct kls_ctx *ctx, void **state)
{
	const char *path = kls_config_get(config, "path");
	const char *state_file = kls_config_get(config, "state_file");
	char err[256];
	struct fault *f;
	bool sync;

	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "fault: out of memory");
		return KLS_HANDLER_ERROR;
	}
	f->state_fd = -1;
	f->out.fd = -1;
	f->shard_id = shard->shard_id;
	f->worker_id = shard->worker_id;
	if (fault_configure(f, config, err, sizeof(err)) == -1 ||
	    ex_config_bool(config, "fsync", false, &sync, err, sizeof(err)) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "fault: [handler] %s", err);
		fault_free(f);
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	if (state_file != NULL && state_open(f, state_file) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "fault: state_file %s: %s",
		    f->state_path[0] ? f->state_path : state_file, strerror(errno));
		fault_free(f);
		return KLS_HANDLER_ERROR;
	}
	if (path != NULL) {
		if (linefile_open(&f->out, path, shard->shard_id, sync) == -1) {
			kls_log(ctx, KLS_LOG_ERROR, "fault: open %s: %s",
			    f->out.path[0] ? f->out.path : path, strerror(errno));
			fault_free(f);
			return KLS_HANDLER_ERROR;
		}
		f->lines = true;
	}
	/* Different faults per shard and after each counted fault, yet the same for the
	 * same seed: splitmix64's finalizer spreads the mixed inputs over the state. */
	f->rng = f->seed ^ fnv1a(f->shard_id) ^ (f->faults * 0x9e3779b97f4a7c15ULL);
	f->rng = (f->rng ^ (f->rng >> 30)) * 0xbf58476d1ce4e5b9ULL;
	f->rng = (f->rng ^ (f->rng >> 27)) * 0x94d049bb133111ebULL;
	f->rng ^= f->rng >> 31;
	if (f->rng == 0)
		f->rng = 1;
	*state = f;
	return KLS_HANDLER_OK;
}

/* Whether the record just counted in f->seen (r) is the one to fault at. */
static bool
fault_due(struct fault *f, const struct kls_record *r)
{
	if (f->mode == FAULT_NONE || f->faults >= f->max_faults)
		return false;
	if (f->at_data != NULL)
		return r->data_len == strlen(f->at_data) &&
		       memcmp(r->data, f->at_data, r->data_len) == 0;
	if (f->at_record != 0)
		return f->seen == f->at_record;
	/* 53 random bits as a double in [0, 1). */
	return (double)(next_random(&f->rng) >> 11) * 0x1.0p-53 < f->probability;
}

/* A real invalid write, so the kernel delivers SIGSEGV as for any crashing handler. */
static void
crash(void)
{
	struct sigaction sa;
	volatile char *page;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, NULL);
	page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED)
		page[0] = 1;
	raise(SIGSEGV); /* only if the mapping failed */
}

static int
fault_process(void *state, const struct kls_record *records, size_t n, struct kls_ctx *ctx)
{
	struct fault *f = state;
	int64_t t0 = ex_boottime_ns();
	size_t i;

	for (i = 0; i < n; i++) {
		f->seen++;
		if (fault_due(f, &records[i]))
			break;
	}
	if (f->lines && i > 0 &&
	    linefile_write(&f->out, f->shard_id, f->worker_id, records, i, t0, ex_boottime_ns()) == -1) {
		kls_log(ctx, KLS_LOG_ERROR, "fault: write %s: %s", f->out.path, strerror(errno));
		return KLS_HANDLER_ERROR;
	}
	if (i == n) {
		snprintf(f->last_seq, sizeof(f->last_seq), "%s", records[n - 1].sequence_number);
		f->last_sub = records[n - 1].sub_sequence_number;
		return KLS_HANDLER_OK;
	}
	if (f->checkpoint_before && (i > 0 || f->last_seq[0] != '\0')) {
		const char *seq = i > 0 ? records[i - 1].sequence_number : f->last_seq;
		uint64_t sub = i > 0 ? records[i - 1].sub_sequence_number : f->last_sub;
		int rc = kls_checkpoint_at(ctx, seq, sub);

		if (rc != KLS_OK)
			kls_log(ctx, KLS_LOG_WARN, "fault: checkpoint at %s/%" PRIu64 ": %s", seq, sub,
			    kls_strerror(rc));
	}

	if (state_count(f) == -1)
		kls_log(ctx, KLS_LOG_WARN, "fault: state_file %s: %s", f->state_path, strerror(errno));
	kls_log(ctx, KLS_LOG_WARN, "fault: %s %s at record %" PRIu64 " (%s/%" PRIu64 "), fault %" PRIu64,
	    mode_names[f->mode], f->shard_id, f->seen, records[i].sequence_number,
	    records[i].sub_sequence_number, f->faults);
	switch (f->mode) {
	case FAULT_SEGV:
		crash();
		break;
	case FAULT_ABORT:
		abort();
	case FAULT_HANG:
		for (;;)
			sleep(3600);
	case FAULT_EXIT:
		exit(f->exit_status);
	case FAULT_ERROR:
	case FAULT_NONE:
		break;
	}
	return KLS_HANDLER_ERROR;
}

static int
fault_shutdown_requested(void *state, struct kls_ctx *ctx)
{
	struct fault *f = state;
	struct timespec left = { (time_t)(f->shutdown_ms / 1000),
		(long)(f->shutdown_ms % 1000) * 1000000L };

	if (f->shutdown_ms == 0)
		return KLS_HANDLER_OK;
	kls_log(ctx, KLS_LOG_INFO, "fault: %s shutdown: sleeping %" PRIu64 " ms", f->shard_id,
	    f->shutdown_ms);
	/* A signal that does not kill us only shortens the sleep: sleep the rest. */
	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		;
	return KLS_HANDLER_OK;
}

static void
fault_destroy(void *state)
{
	fault_free(state);
}

KLS_HANDLER_EXPORT const struct kls_handler_v1 kls_handler = {
	KLS_HANDLER_V1_HEADER,
	.name = "fault",
	.version = PACKAGE_VERSION,
	.init = fault_init,
	.process = fault_process,
	.shutdown_requested = fault_shutdown_requested,
	.destroy = fault_destroy,
};
