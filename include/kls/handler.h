/*
 * kls/handler.h - the kls record handler ABI, version 1.0 (installed, public)
 *
 * NAME
 *	kls_handler - a shared object that kls-reader loads to process the records of
 *	one Kinesis shard
 *
 * SYNOPSIS
 *	#include <kls/handler.h>
 *
 *	static int my_init(const struct kls_shard_info *shard,
 *	    const struct kls_handler_config *config, struct kls_ctx *ctx, void **state);
 *	static int my_process(void *state, const struct kls_record *records, size_t n,
 *	    struct kls_ctx *ctx);
 *	static void my_destroy(void *state);
 *
 *	KLS_HANDLER_EXPORT const struct kls_handler_v1 kls_handler = {
 *		KLS_HANDLER_V1_HEADER,
 *		.name = "my-handler",
 *		.init = my_init,
 *		.process = my_process,
 *		.destroy = my_destroy,
 *	};
 *
 *	cc -shared -fPIC $(pkg-config --cflags kls) -o my.so my.c
 *
 * DESCRIPTION
 *	klsd starts one kls-reader process per shard it holds a lease on. The reader
 *	loads the handler named by the configuration with dlopen(RTLD_NOW | RTLD_LOCAL),
 *	looks up the data symbol `kls_handler' (KLS_HANDLER_SYMBOL) and checks it before
 *	calling anything: the path must be absolute, the file and every directory above
 *	it must be owned by root or by the reader's user and writable by nobody else; the
 *	descriptor must carry KLS_HANDLER_MAGIC, ABI major KLS_HANDLER_ABI_MAJOR, an ABI
 *	minor not newer than the reader's, a size covering every field of that minor, a
 *	name, and the required callbacks init and process. A handler that fails any check
 *	is a permanent error: the reader exits with status 2, klsd does not restart it,
 *	and the message shows in the log and in `kls-ctl status'.
 *
 *	Each reader process serves exactly one shard, so a handler instance sees one
 *	shard, in order, from a single thread. Process isolation is kls's fault model: a
 *	handler that crashes, exits or hangs takes down only its own shard's reader,
 *	which klsd restarts (with backoff) from the last persisted checkpoint while it
 *	keeps the lease.
 *
 * LIFECYCLE
 *	init			once, before any record. Returns the handler state.
 *	process			zero or more times, each with one batch of records, in shard
 *				order (sequence number, then sub-sequence number).
 *	then at most one of:
 *	  shard_ended		the shard is closed (resharding) and every record of it
 *				has been delivered.
 *	  shutdown_requested	kls is stopping this reader cleanly: klsd shutting down,
 *				`kls-ctl release/drain', or a lease handoff to another
 *				worker. The last chance to checkpoint.
 *	  lease_lost		the lease is gone (its deadline passed, or another worker
 *				owns it). Another reader may already be processing this
 *				shard: do not write anything that assumes ownership.
 *	destroy			last, whenever init succeeded, on every clean path. A
 *				crash, SIGKILL or a hang ended by the watchdog skips it:
 *				persistent effects must not depend on destroy.
 *
 *	All callbacks are called from the reader's main thread, one at a time. A
 *	handler may start its own threads, but it calls the ctx functions only from the
 *	thread that is running a callback, while that callback runs.
 *
 * CALLBACKS
 *	int init(const struct kls_shard_info *shard, const struct kls_handler_config
 *	    *config, struct kls_ctx *ctx, void **state)
 *		Required. Sets *state (may be NULL) and returns KLS_HANDLER_OK. Any
 *		other value fails the reader: KLS_HANDLER_ERROR_PERMANENT (bad handler
 *		configuration, say) makes the failure permanent (reader exit status 2,
 *		no restart); any other non-zero value is transient (exit status 1,
 *		restarted with backoff). Log the reason through kls_log first. destroy
 *		is not called after a failed init: init cleans up after itself.
 *		Checkpoint calls from init return KLS_ERR_NOT_ALLOWED.
 *
 *	int process(void *state, const struct kls_record *records, size_t n,
 *	    struct kls_ctx *ctx)
 *		Required. Handles records[0..n-1] (n >= 1). Returns KLS_HANDLER_OK, or
 *		non-zero for an error: the batch is not checkpointed, the reader calls
 *		destroy and exits with status 1, and the new reader klsd starts after a
 *		backoff resumes from the last persisted checkpoint, so every record after
 *		it is delivered again. A batch that fails again and again is a poison
 *		batch: after `poison_retries' the configured poison policy applies.
 *		Record memory belongs to kls and is valid only until process returns:
 *		copy what you keep.
 *
 *	void lease_lost(void *state)
 *		Optional (default: nothing). The lease is gone. Checkpoint calls made
 *		now return KLS_ERR_NOT_ALLOWED (there is no ctx argument for that
 *		reason). Release resources that assume ownership; destroy follows.
 *		When klsd's deadline comes first the reader is killed instead and this
 *		is never called.
 *
 *	int shard_ended(void *state, struct kls_ctx *ctx)
 *		Optional. Every record of a closed shard has been delivered. The shard
 *		is finished only when the checkpoint SHARD_END is persisted: the handler
 *		calls kls_checkpoint(ctx), which in this callback checkpoints SHARD_END
 *		(flush anything buffered first). With `checkpoint = auto', or when the
 *		handler has no shard_ended callback, kls checkpoints SHARD_END itself
 *		after the callback returns KLS_HANDLER_OK if the handler did not. A
 *		non-zero return leaves SHARD_END unpersisted; the reader exits with
 *		status 1 and the records after the last checkpoint are delivered again.
 *		Only once SHARD_END is persisted do the child shards start.
 *
 *	int shutdown_requested(void *state, struct kls_ctx *ctx)
 *		Optional (default: nothing). kls is ending this reader cleanly; no more
 *		records will be delivered. In manual mode this is where a handler
 *		checkpoints what it has finished. A non-zero return is logged; the
 *		reader still ends cleanly.
 *
 *	void destroy(void *state)
 *		Optional (default: nothing). Frees the state. No ctx: no checkpoint.
 *
 * CHECKPOINTS
 *	A checkpoint is the position in the shard up to which records are done: after
 *	a restart or a lease move, delivery resumes after it. kls delivers records at
 *	least once; records after the last persisted checkpoint may be delivered again.
 *
 *	checkpoint = auto (the default; set in kls's configuration, not the handler's)
 *		kls checkpoints at the last record of every batch for which process
 *		returned KLS_HANDLER_OK, and SHARD_END after shard_ended. The handler
 *		need not call anything; its own checkpoint calls are still allowed.
 *		With checkpoint_interval_ms (default 5000) the batch checkpoints are
 *		written to the lease table at most once per interval, the newest one
 *		always, and at once when the reader stops (drain, shutdown, shard end);
 *		a crash of the host replays at most that interval's records. The
 *		handler's own calls are written at once and wait for the write.
 *	checkpoint = manual
 *		Only the handler's calls checkpoint (as in the Java KCL), except that
 *		kls checkpoints SHARD_END when the handler has no shard_ended callback.
 *
 *	kls_checkpoint(ctx)
 *		Checkpoints at the last record delivered so far (in process: the last
 *		record of the current batch; in shard_ended: SHARD_END).
 *	kls_checkpoint_at(ctx, sequence_number, sub_sequence_number)
 *		Checkpoints at the given record, which must have been delivered and
 *		must not be before the last checkpoint. sub_sequence_number is 0 for
 *		records that were not KPL-aggregated.
 *
 *	Both are synchronous: they return KLS_OK only once klsd has persisted the
 *	checkpoint in the lease table. Errors:
 *	KLS_ERR_LEASE_LOST	the lease is gone; stop, nothing more will be persisted.
 *	KLS_ERR_BEYOND_DELIVERED the value is past the last record delivered.
 *	KLS_ERR_WRITE_FAILED	persisting failed (the lease table write was refused or
 *				klsd could not reach DynamoDB); a later call may succeed.
 *	KLS_ERR_TIMEOUT		klsd did not confirm in time: the checkpoint may or may
 *				not have been persisted.
 *	KLS_ERR_INVALID		malformed sequence number, NULL argument, or a value
 *				before the last checkpoint.
 *	KLS_ERR_NOT_ALLOWED	called where checkpoints are not allowed (init,
 *				lease_lost, destroy, another thread, outside a callback).
 *
 * COMPATIBILITY
 *	The major version changes when a change breaks handlers built for the previous
 *	one (field moved or retyped, semantics changed); the reader refuses any other
 *	major. Minor versions only append: new fields at the end of struct
 *	kls_handler_v1, struct kls_shard_info, struct kls_ctx and struct kls_ctx_ops,
 *	each of which starts with its size as its creator compiled it. A reader
 *	accepts handlers of its major and any minor up to its own, reading fields a
 *	shorter descriptor lacks as NULL/0. A handler reads a field that a later minor
 *	added only after checking KLS_HAS_FIELD(ptr, field). struct kls_record is an
 *	array element and therefore fixed for the whole major version.
 *
 * SEE ALSO
 *	klsd(8), kls-reader(8), the example handlers in kls's examples/ directory.
 */
#ifndef KLS_HANDLER_H
#define KLS_HANDLER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "KLSH": the first four bytes of every handler descriptor. */
#define KLS_HANDLER_MAGIC 0x4b4c5348u
#define KLS_HANDLER_ABI_MAJOR 1
#define KLS_HANDLER_ABI_MINOR 0
/* The name of the data symbol a handler exports: const struct kls_handler_v1. */
#define KLS_HANDLER_SYMBOL "kls_handler"

/* Marks the descriptor as exported even when the handler is built with
 * -fvisibility=hidden (recommended: nothing else needs to be exported). In C++ it
 * also gives the const descriptor external, unmangled linkage. */
#ifdef __cplusplus
#define KLS_HANDLER_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define KLS_HANDLER_EXPORT __attribute__((visibility("default")))
#endif

/* True when the struct pointed to by p (which starts with a uint32_t size as its
 * creator compiled it) is long enough to hold field. */
#define KLS_HAS_FIELD(p, field)                                                         \
	((size_t)(p)->size >= offsetof(__typeof__(*(p)), field) + sizeof((p)->field))

/* Return values of init, process, shard_ended and shutdown_requested. */
#define KLS_HANDLER_OK 0
#define KLS_HANDLER_ERROR 1	      /* transient: the reader is restarted */
#define KLS_HANDLER_ERROR_PERMANENT 2 /* from init only: never restart this reader */

/* Results of the checkpoint calls. */
enum kls_result {
	KLS_OK = 0,
	KLS_ERR_LEASE_LOST = 1,
	KLS_ERR_BEYOND_DELIVERED = 2,
	KLS_ERR_WRITE_FAILED = 3,
	KLS_ERR_TIMEOUT = 4,
	KLS_ERR_INVALID = 5,
	KLS_ERR_NOT_ALLOWED = 6,
};

/* Levels for kls_log. */
enum kls_log_level {
	KLS_LOG_ERROR = 0,
	KLS_LOG_WARN = 1,
	KLS_LOG_INFO = 2,
	KLS_LOG_DEBUG = 3,
};

/* kls's checkpoint setting for this application, as shard info reports it. */
enum kls_checkpoint_mode {
	KLS_CHECKPOINT_AUTO = 0,
	KLS_CHECKPOINT_MANUAL = 1,
};

/* Longest sequence number Kinesis issues ("0|([1-9]\d{0,128})"), without NUL. */
#define KLS_SEQUENCE_MAX 129

/*
 * The shard a reader serves, given to init. Every pointer stays valid until destroy
 * returns, so a handler may keep them in its state.
 */
struct kls_shard_info {
	uint32_t size;		  /* sizeof(struct kls_shard_info) as kls compiled it */
	uint32_t checkpoint_mode; /* enum kls_checkpoint_mode */
	const char *application;  /* the application name (lease table owner) */
	const char *stream;	  /* the stream name */
	const char *shard_id;	  /* "shardId-000000000000" */
	const char *worker_id;	  /* "<hostname>:<uuid>" of this host's klsd */
	/*
	 * Where reading starts. When resumed is 1, the last persisted checkpoint: a
	 * sequence number with its sub-sequence number, and delivery starts after that
	 * record. When resumed is 0, no checkpoint exists yet and checkpoint is the
	 * configured initial position, "TRIM_HORIZON", "LATEST" or "AT_TIMESTAMP"
	 * (checkpoint_sub_sequence 0).
	 */
	const char *checkpoint;
	uint64_t checkpoint_sub_sequence;
	uint32_t resumed;
	/* How many times klsd has restarted this shard's reader since it took the lease
	 * (crashes, errors, hangs); 0 for the first reader. */
	uint32_t restarts;
};

/* One key = value line of the [handler] section of kls's configuration, in file
 * order. kls's own settings are not in that section. */
struct kls_handler_config_pair {
	const char *key;
	const char *value;
};

/* The handler's configuration. Valid until destroy returns. Keys are unique. */
struct kls_handler_config {
	size_t count;
	const struct kls_handler_config_pair *pairs;
};

#define KLS_RECORD_AGGREGATED 0x1u /* came out of a KPL aggregated record */

/*
 * One Kinesis record (a KPL aggregated record is delivered as its user records,
 * each with the aggregate's sequence number and its own sub-sequence number). The
 * memory belongs to kls and is valid only during the process call. Fixed for ABI
 * major 1: it is an array element, so it cannot grow.
 */
struct kls_record {
	const void *data;	       /* the record bytes (not NUL-terminated); */
	size_t data_len;	       /* ... and their number, up to 1 MiB */
	const char *partition_key;     /* NUL-terminated */
	const char *sequence_number;   /* decimal digits, NUL-terminated */
	const char *explicit_hash_key; /* decimal, or NULL when the producer set none */
	uint64_t sub_sequence_number;  /* index inside a KPL aggregate; 0 otherwise */
	int64_t approximate_arrival_ms; /* milliseconds since the Unix epoch (Kinesis's
					 * ApproximateArrivalTimestamp) */
	uint32_t flags;			/* KLS_RECORD_AGGREGATED */
	uint32_t reserved;		/* 0 */
};

struct kls_ctx;

/*
 * The functions kls provides to a handler. Call them through the inline wrappers
 * below (kls_checkpoint, kls_checkpoint_at, kls_log), not directly.
 */
struct kls_ctx_ops {
	uint32_t size; /* sizeof(struct kls_ctx_ops) as kls compiled it */
	uint32_t reserved;
	int (*checkpoint)(struct kls_ctx *ctx);
	int (*checkpoint_at)(struct kls_ctx *ctx, const char *sequence_number,
	    uint64_t sub_sequence_number);
	void (*vlog)(struct kls_ctx *ctx, int level, const char *fmt, va_list ap);
};

/*
 * The reader's context, passed to init, process, shard_ended and shutdown_requested.
 * The same pointer is valid from init until destroy returns. Its visible fields are
 * read-only for the handler; kls keeps private state after them.
 */
struct kls_ctx {
	uint32_t size; /* sizeof(struct kls_ctx) as kls compiled it */
	uint32_t reserved;
	const struct kls_ctx_ops *ops;
	const char *worker_id; /* as in kls_shard_info */
	const char *shard_id;
};

/* Checkpoint at the last record delivered (SHARD_END inside shard_ended). Returns an
 * enum kls_result. */
static inline int
kls_checkpoint(struct kls_ctx *ctx)
{
	if (ctx == NULL || ctx->ops == NULL || ctx->ops->checkpoint == NULL)
		return KLS_ERR_INVALID;
	return ctx->ops->checkpoint(ctx);
}

/* Checkpoint at a delivered record. Returns an enum kls_result. */
static inline int
kls_checkpoint_at(struct kls_ctx *ctx, const char *sequence_number,
    uint64_t sub_sequence_number)
{
	if (ctx == NULL || ctx->ops == NULL || ctx->ops->checkpoint_at == NULL ||
	    sequence_number == NULL)
		return KLS_ERR_INVALID;
	return ctx->ops->checkpoint_at(ctx, sequence_number, sub_sequence_number);
}

/* Logs through kls (stderr/journald or syslog, with the reader's identity and the
 * shard). level is an enum kls_log_level. Lines longer than about 1 KiB are cut. */
static inline void kls_log(struct kls_ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void
kls_log(struct kls_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	if (ctx == NULL || ctx->ops == NULL || ctx->ops->vlog == NULL)
		return;
	va_start(ap, fmt);
	ctx->ops->vlog(ctx, level, fmt, ap);
	va_end(ap);
}

/* The worker id of this host's klsd ("<hostname>:<uuid>"). */
static inline const char *
kls_worker_id(const struct kls_ctx *ctx)
{
	return ctx != NULL ? ctx->worker_id : NULL;
}

/* A constant English description of a kls_result. */
static inline const char *
kls_strerror(int result)
{
	switch (result) {
	case KLS_OK:
		return "success";
	case KLS_ERR_LEASE_LOST:
		return "lease lost";
	case KLS_ERR_BEYOND_DELIVERED:
		return "checkpoint beyond the last record delivered";
	case KLS_ERR_WRITE_FAILED:
		return "checkpoint write failed";
	case KLS_ERR_TIMEOUT:
		return "checkpoint not confirmed in time";
	case KLS_ERR_INVALID:
		return "invalid checkpoint argument";
	case KLS_ERR_NOT_ALLOWED:
		return "checkpoint not allowed here";
	default:
		return "unknown kls result";
	}
}

/* The value of key in the handler's configuration, or NULL. */
static inline const char *
kls_config_get(const struct kls_handler_config *config, const char *key)
{
	if (config == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < config->count; i++) {
		if (config->pairs[i].key != NULL && strcmp(config->pairs[i].key, key) == 0)
			return config->pairs[i].value;
	}
	return NULL;
}

/*
 * The descriptor a handler exports as `const struct kls_handler_v1 kls_handler'.
 * Start its initializer with KLS_HANDLER_V1_HEADER.
 */
struct kls_handler_v1 {
	uint32_t magic;	    /* KLS_HANDLER_MAGIC */
	uint16_t abi_major; /* KLS_HANDLER_ABI_MAJOR the handler was built with */
	uint16_t abi_minor; /* KLS_HANDLER_ABI_MINOR the handler was built with */
	uint32_t size;	    /* sizeof(struct kls_handler_v1) the handler was built with */
	uint32_t reserved;  /* 0 */
	const char *name;    /* required: short name for logs and kls-ctl */
	const char *version; /* optional: the handler's own version, for logs */

	int (*init)(const struct kls_shard_info *shard, const struct kls_handler_config *config,
	    struct kls_ctx *ctx, void **state);
	int (*process)(void *state, const struct kls_record *records, size_t n,
	    struct kls_ctx *ctx);
	void (*lease_lost)(void *state);
	int (*shard_ended)(void *state, struct kls_ctx *ctx);
	int (*shutdown_requested)(void *state, struct kls_ctx *ctx);
	void (*destroy)(void *state);
};

#define KLS_HANDLER_V1_HEADER                                                           \
	.magic = KLS_HANDLER_MAGIC, .abi_major = KLS_HANDLER_ABI_MAJOR,                 \
	.abi_minor = KLS_HANDLER_ABI_MINOR, .size = sizeof(struct kls_handler_v1)

/* The handler's descriptor, declared so that a definition of another type fails to
 * compile. kls-reader never refers to it by name (it uses dlsym). */
#ifndef KLS_HANDLER_NO_DECLARATION
extern const struct kls_handler_v1 kls_handler;
#endif

#ifdef __cplusplus
}
#endif

#endif
