/*
 * The shared-memory table of one kls application on one host (/dev/shm/kls.<app>): its
 * layout, which klsd, every kls-reader and kls-ctl share, and the calls that create,
 * attach, validate and repair it. shm/README.md states the concurrency rules; the
 * comment on each field says who writes it and how the others read it consistently.
 *
 * Layout rules: no pointers, fixed-width integers, explicit padding, every offset pinned
 * by a _Static_assert below. A change that moves or resizes anything is a major version
 * bump; a new field taken from a reserved area (whose zero value means "absent") is a
 * minor bump. The first 64 bytes of the header are frozen across all major versions so
 * that any kls can tell whose table an object is.
 */
#ifndef KLS_SHM_TABLE_H
#define KLS_SHM_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/clock.h"
#include "shm/latency.h"

struct stat;

/* "KLS-SHM1" as a big-endian integer, stored native-endian: the table never leaves the host. */
#define KLS_SHM_MAGIC UINT64_C(0x4b4c532d53484d31)
#define KLS_SHM_MAJOR 1
/* Minor 1: lease.hash_start/hash_end, progress.kpl_* (KPL de-aggregation), and
 * lease.first_batch (poison records sent to the dead-letter directory).
 * Minor 2: progress.req_flags (coalesced automatic checkpoints), progress.writer_pid,
 * progress.fanout_* (subscription start, resubscribes), and the latency histograms
 * progress.getrecords/handler, which extend the progress group into what minor 1 called
 * slot.reserved1 (shm/README.md, "Versions"). */
#define KLS_SHM_MINOR 2

#define KLS_SHM_MAX_SLOTS 65536u
/* Kinesis allows 128-character shard ids and stream names and 129-digit sequence
 * numbers; each field holds that plus a NUL, rounded up to 8 bytes. */
#define KLS_SHM_SHARD_MAX 136
#define KLS_SHM_SEQ_MAX 136
#define KLS_SHM_NAME_MAX 136
#define KLS_SHM_WORKER_MAX 256
#define KLS_SHM_ERROR_MAX 256
/* A 128-bit hash key in decimal: 39 digits and a NUL. */
#define KLS_SHM_HASH_MAX 40
/* progress.kpl_invalid entries: one per enum kpl_reason (common/kpl.h), with room. */
#define KLS_SHM_KPL_REASONS 10

/* Slot states. One atomic word; transitions are compare-and-swap so the two writers
 * (klsd and the slot's reader) cannot overwrite each other's move. */
enum kls_slot_state {
	KLS_SLOT_UNUSED = 0,   /* free; klsd may claim it */
	KLS_SLOT_ASSIGNED = 1, /* klsd: lease group filled, reader (re)starting or not running */
	KLS_SLOT_ACTIVE = 2,   /* reader: attached and running; back to ASSIGNED on clean exit */
	KLS_SLOT_FAILED = 3,   /* klsd: reader exited 2 (permanent), no respawn; see lease.error */
};

/* What klsd asks of the reader (lease.command). */
enum kls_command {
	KLS_CMD_NONE = 0,  /* not yet set: the reader must not start */
	KLS_CMD_RUN = 1,   /* fetch and process */
	KLS_CMD_DRAIN = 2, /* shutdown_requested, final checkpoint, exit 0 */
	KLS_CMD_STOP = 3,  /* lease lost: lease_lost, no checkpoint, exit 3 */
};

/* What the reader does with the first batch of its run (lease.first_batch, minor 1). A
 * reader of minor 0 does not know the field and processes the batch as usual. */
enum kls_first_batch {
	KLS_BATCH_PROCESS = 0,     /* hand it to the handler, as every other batch */
	KLS_BATCH_DEAD_LETTER = 1, /* poison record: write it to [reader] dead_letter_dir
				    * instead, then checkpoint its last record */
};

/* How the reader's last run ended (lease.exit_kind), as klsd saw it in waitpid. */
enum kls_exit_kind {
	KLS_EXIT_NONE = 0,     /* no run has ended yet */
	KLS_EXIT_CODE = 1,     /* exit_value is the exit status (2 = permanent) */
	KLS_EXIT_SIGNAL = 2,   /* exit_value is the signal number */
	KLS_EXIT_CORE = 3,     /* signal, with a core dump */
};

/* klsd's answer to checkpoint request ckpt_gen (lease.ckpt_result). */
enum kls_ckpt_result {
	KLS_CKPT_OK = 0,         /* persisted: ckpt_seq/ckpt_subseq are the request */
	KLS_CKPT_FAILED = 1,     /* the DynamoDB write failed; lease.error says why */
	KLS_CKPT_BEYOND = 2,     /* refused: later than the last delivered record */
	KLS_CKPT_LEASE_LOST = 3, /* refused: the lease is gone */
};

/*
 * progress.req_flags (minor 2). KLS_REQ_COALESCE: an automatic checkpoint after a
 * batch. klsd may hold it back for up to [reader] checkpoint_interval_ms (a newer
 * request replaces it) and writes it at the latest with the next renewal, or at once
 * when the reader stops, drains or the lease is let go; the reader does not wait for
 * its answer. Without the flag klsd writes the request at once and answers it.
 */
#define KLS_REQ_COALESCE 1u

/* Where the handler is (progress.handler_state). */
enum kls_handler_state {
	KLS_HANDLER_IDLE = 0,        /* between batches, or fetching */
	KLS_HANDLER_INIT = 1,        /* in init() */
	KLS_HANDLER_PROCESS = 2,     /* in process() */
	KLS_HANDLER_CHECKPOINT = 3,  /* waiting for klsd to persist a checkpoint */
	KLS_HANDLER_SHUTDOWN = 4,    /* in shutdown_requested() */
	KLS_HANDLER_LEASE_LOST = 5,  /* in lease_lost() */
	KLS_HANDLER_SHARD_ENDED = 6, /* in shard_ended() */
	KLS_HANDLER_DONE = 7,        /* handler finished, reader exiting */
};

enum kls_read_mode {
	KLS_READ_NONE = 0,
	KLS_READ_POLLING = 1, /* GetRecords */
	KLS_READ_FANOUT = 2,  /* SubscribeToShard */
};

/*
 * The header. Written once by the klsd that creates the table, before it publishes the
 * magic with a release store; readers load the magic with acquire and then read the rest
 * without further synchronisation. Nothing but klsd_heartbeat_ns changes afterwards: a
 * klsd whose identity (worker id, stream, application) changes creates a new table, so
 * the header needs no sequence counter.
 */
struct kls_shm_header {
	/* --- frozen prefix (bytes 0-63): the same in every major version --- */
	_Atomic uint64_t magic;    /* KLS_SHM_MAGIC; 0 while the creator is still filling it */
	uint16_t major;            /* reader refuses a different major */
	uint16_t minor;            /* older readers ignore fields added by a newer minor */
	uint32_t header_size;      /* sizeof(struct kls_shm_header) of the creator */
	uint32_t slot_size;        /* sizeof(struct kls_shm_slot) of the creator */
	uint32_t slot_count;       /* slots after the header */
	int32_t klsd_pid;          /* creator; a stale table is replaced only if it is dead */
	uint32_t reserved0;
	uint64_t klsd_start_ticks; /* /proc/<pid>/stat field 22, tells a reused pid apart */
	int64_t created_ns;        /* CLOCK_BOOTTIME at creation */
	uint8_t reserved1[16];
	/* --- major 1 --- */
	_Atomic int64_t klsd_heartbeat_ns; /* klsd, one relaxed atomic store per loop turn */
	uint8_t reserved2[56];
	char worker_id[KLS_SHM_WORKER_MAX];  /* "<hostname>:<uuid>", NUL-terminated */
	char stream[KLS_SHM_NAME_MAX];       /* Kinesis stream name */
	char application[KLS_SHM_NAME_MAX];  /* kls application name */
	uint8_t reserved3[368];
};

/*
 * Lease group payload: klsd is its only writer, through kls_shm_lease_publish() (which
 * copies klsd's private struct under the group's sequence counter). Readers copy it out
 * with kls_shm_lease_read(). klsd never reads it back: it keeps the authoritative copy.
 */
struct kls_lease {
	uint32_t command;                 /* enum kls_command */
	uint32_t restarts;                /* reader respawns since the lease was taken */
	char shard_id[KLS_SHM_SHARD_MAX]; /* NUL-terminated */
	uint64_t lease_counter;           /* leaseCounter after klsd's last successful write */
	int64_t deadline_ns;              /* CLOCK_BOOTTIME; the reader stops calling the
					   * handler once it passes, even if klsd is frozen */
	char ckpt_seq[KLS_SHM_SEQ_MAX];   /* persisted checkpoint (or TRIM_HORIZON, SHARD_END...) */
	uint64_t ckpt_subseq;             /* persisted sub-sequence number */
	uint64_t ckpt_gen;                /* highest progress.req_gen answered (ckpt_result) */
	uint32_t exit_kind;               /* enum kls_exit_kind of the last reader run */
	int32_t exit_value;               /* exit status or signal number */
	int32_t reader_pid;               /* current (or last) reader; 0 = none spawned yet */
	uint32_t ckpt_result;             /* enum kls_ckpt_result of request ckpt_gen */
	uint64_t reader_start_ticks;      /* /proc/<pid>/stat field 22 of reader_pid */
	int64_t reader_started_ns;        /* CLOCK_BOOTTIME when klsd spawned it (uptime) */
	int64_t error_ns;                 /* CLOCK_BOOTTIME of error; 0 = none */
	char error[KLS_SHM_ERROR_MAX];    /* klsd's last word on this shard ("killed by
					   * SIGSEGV", "permanent: <reader error>", ...) */
	/* Minor 1. The shard's hash-key range, both ends inclusive, decimal, as the lease
	 * item's startingHashKey/endingHashKey (KCL's attributes) hold it; "" when klsd does
	 * not know it (an older klsd leaves zeroes). The reader drops a KPL aggregate with a
	 * user record outside it, as KCL does after a reshard, and checks nothing when "". */
	char hash_start[KLS_SHM_HASH_MAX];
	char hash_end[KLS_SHM_HASH_MAX];
	uint32_t first_batch;             /* enum kls_first_batch (minor 1); klsd sets it
					   * before a spawn and clears it once the
					   * checkpoint has moved */
	uint32_t reserved_pad;
	uint8_t reserved[64];
};

/*
 * Progress group payload: the slot's reader (one thread of it) is the only writer,
 * through kls_shm_progress_publish(); klsd writes it only when the reader is known dead
 * (kls_shm_slot_reaped repairs a torn group, kls_shm_slot_assign clears it).
 */
struct kls_progress {
	uint32_t handler_state;             /* enum kls_handler_state */
	uint32_t read_mode;                 /* enum kls_read_mode */
	char req_seq[KLS_SHM_SEQ_MAX];      /* checkpoint the handler asked for */
	uint64_t req_subseq;
	uint64_t req_gen;                   /* bumped per request; klsd acks via lease.ckpt_gen */
	char delivered_seq[KLS_SHM_SEQ_MAX]; /* last record handed to the handler */
	uint64_t delivered_subseq;
	uint64_t records;                   /* totals since the reader started */
	uint64_t bytes;
	int64_t millis_behind;              /* MillisBehindLatest of the last response; -1 unknown */
	int64_t error_ns;                   /* CLOCK_BOOTTIME of last_error; 0 = none */
	char last_error[KLS_SHM_ERROR_MAX];
	/* Minor 1: KPL de-aggregation totals since the reader started (0 from an older
	 * reader). records and bytes above count the user records delivered. */
	uint64_t kpl_aggregates;         /* Kinesis records de-aggregated */
	uint64_t kpl_user_records;       /* user records de-aggregated from them */
	uint64_t kpl_dropped_aggregates; /* aggregates outside the shard's hash-key range */
	uint64_t kpl_dropped_records;    /* the user records they held */
	/* Records that claimed to be aggregates (KPL magic) and failed a check, delivered
	 * raw, indexed by enum kpl_reason; entries 0 (KPL_OK) and 1 (KPL_NO_MAGIC: a
	 * plain record) stay 0. 32 bits: a rate for the metrics, which wraps rarely. */
	uint32_t kpl_invalid[KLS_SHM_KPL_REASONS];
	/* Minor 2: KLS_REQ_* flags of request req_gen. 0 (an older reader, or a handler's
	 * own checkpoint) asks for the write now and for an answer. */
	uint32_t req_flags;
	/* Minor 2. getpid() of the reader that writes the minor-2 fields past offset 752;
	 * klsd uses them only when it names the slot's current reader. A reader of an older
	 * minor writes 0 here (its reserved bytes) on every publish, and never writes past
	 * 752, where a previous reader of the slot may have left its histograms. */
	int32_t writer_pid;
	/* Minor 2, fan-out (read_mode KLS_READ_FANOUT): CLOCK_BOOTTIME when the current
	 * SubscribeToShard call was made, 0 between subscriptions; and the calls made after
	 * the first one of this run (subscriptions that ended and were made again). */
	int64_t fanout_started_ns;
	uint64_t fanout_resubscribes;
	uint8_t reserved[64];
	/* ---- minor 2: the group grows past minor 1's end (752), into minor 1's
	 * slot.reserved1; meaningful only when writer_pid is the reader's pid ---- */
	/* Totals since the reader started: GetRecords calls (polling only; empty in fan-out
	 * mode, where no call answers with records) and process() calls. */
	struct kls_latency getrecords;
	struct kls_latency handler;
};

struct kls_shm_lease_group {
	_Atomic uint32_t seq; /* odd while klsd is writing v */
	uint32_t reserved;
	struct kls_lease v;
};

struct kls_shm_progress_group {
	_Atomic uint32_t seq; /* odd while the reader is writing v */
	uint32_t reserved;
	/* Reader, relaxed atomic store, outside the counter: a heartbeat thread may bump it
	 * while the main thread is in the middle of publishing v. */
	_Atomic int64_t heartbeat_ns;
	struct kls_progress v;
};

/* One slot per shard this host holds. Slots start at header_size + index * slot_size. */
struct kls_shm_slot {
	_Atomic uint32_t state; /* enum kls_slot_state; CAS by klsd and by the reader */
	/* klsd bumps it (atomic add, release) after publishing anything the reader may be
	 * waiting for (a persisted checkpoint, a command) and FUTEX_WAKEs it; the reader
	 * FUTEX_WAITs on it. A word of its own so lease renewals do not wake the reader. */
	_Atomic uint32_t wake;
	uint8_t reserved0[56];
	struct kls_shm_lease_group lease;       /* own cache lines: no false sharing */
	struct kls_shm_progress_group progress; /* between the two writers */
	uint8_t reserved1[144];
};

/* Cross-process atomics must be lock-free (a lock-based atomic is not address-free). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
    "atomic words have their plain size");

#define KLS_SHM_AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " moved")
KLS_SHM_AT(struct kls_shm_header, magic, 0);
KLS_SHM_AT(struct kls_shm_header, major, 8);
KLS_SHM_AT(struct kls_shm_header, minor, 10);
KLS_SHM_AT(struct kls_shm_header, header_size, 12);
KLS_SHM_AT(struct kls_shm_header, slot_size, 16);
KLS_SHM_AT(struct kls_shm_header, slot_count, 20);
KLS_SHM_AT(struct kls_shm_header, klsd_pid, 24);
KLS_SHM_AT(struct kls_shm_header, klsd_start_ticks, 32);
KLS_SHM_AT(struct kls_shm_header, created_ns, 40);
KLS_SHM_AT(struct kls_shm_header, klsd_heartbeat_ns, 64);
KLS_SHM_AT(struct kls_shm_header, worker_id, 128);
KLS_SHM_AT(struct kls_shm_header, stream, 384);
KLS_SHM_AT(struct kls_shm_header, application, 520);
_Static_assert(sizeof(struct kls_shm_header) == 1024, "header size");

KLS_SHM_AT(struct kls_lease, command, 0);
KLS_SHM_AT(struct kls_lease, restarts, 4);
KLS_SHM_AT(struct kls_lease, shard_id, 8);
KLS_SHM_AT(struct kls_lease, lease_counter, 144);
KLS_SHM_AT(struct kls_lease, deadline_ns, 152);
KLS_SHM_AT(struct kls_lease, ckpt_seq, 160);
KLS_SHM_AT(struct kls_lease, ckpt_subseq, 296);
KLS_SHM_AT(struct kls_lease, ckpt_gen, 304);
KLS_SHM_AT(struct kls_lease, exit_kind, 312);
KLS_SHM_AT(struct kls_lease, exit_value, 316);
KLS_SHM_AT(struct kls_lease, reader_pid, 320);
KLS_SHM_AT(struct kls_lease, ckpt_result, 324);
KLS_SHM_AT(struct kls_lease, reader_start_ticks, 328);
KLS_SHM_AT(struct kls_lease, reader_started_ns, 336);
KLS_SHM_AT(struct kls_lease, error_ns, 344);
KLS_SHM_AT(struct kls_lease, error, 352);
KLS_SHM_AT(struct kls_lease, hash_start, 608);
KLS_SHM_AT(struct kls_lease, hash_end, 648);
KLS_SHM_AT(struct kls_lease, first_batch, 688);
_Static_assert(sizeof(struct kls_lease) == 760, "lease payload size");

KLS_SHM_AT(struct kls_progress, handler_state, 0);
KLS_SHM_AT(struct kls_progress, read_mode, 4);
KLS_SHM_AT(struct kls_progress, req_seq, 8);
KLS_SHM_AT(struct kls_progress, req_subseq, 144);
KLS_SHM_AT(struct kls_progress, req_gen, 152);
KLS_SHM_AT(struct kls_progress, delivered_seq, 160);
KLS_SHM_AT(struct kls_progress, delivered_subseq, 296);
KLS_SHM_AT(struct kls_progress, records, 304);
KLS_SHM_AT(struct kls_progress, bytes, 312);
KLS_SHM_AT(struct kls_progress, millis_behind, 320);
KLS_SHM_AT(struct kls_progress, error_ns, 328);
KLS_SHM_AT(struct kls_progress, last_error, 336);
KLS_SHM_AT(struct kls_progress, kpl_aggregates, 592);
KLS_SHM_AT(struct kls_progress, kpl_user_records, 600);
KLS_SHM_AT(struct kls_progress, kpl_dropped_aggregates, 608);
KLS_SHM_AT(struct kls_progress, kpl_dropped_records, 616);
KLS_SHM_AT(struct kls_progress, kpl_invalid, 624);
KLS_SHM_AT(struct kls_progress, req_flags, 664);
KLS_SHM_AT(struct kls_progress, writer_pid, 668);
KLS_SHM_AT(struct kls_progress, fanout_started_ns, 672);
KLS_SHM_AT(struct kls_progress, fanout_resubscribes, 680);
KLS_SHM_AT(struct kls_progress, reserved, 688);
/* Minor 1's progress payload ended here; its slot.reserved1 started at 832 + 16 + 752. */
KLS_SHM_AT(struct kls_progress, getrecords, 752);
KLS_SHM_AT(struct kls_progress, handler, 904);
_Static_assert(sizeof(struct kls_progress) == 1056, "progress payload size");

KLS_SHM_AT(struct kls_shm_lease_group, v, 8);
KLS_SHM_AT(struct kls_shm_progress_group, heartbeat_ns, 8);
KLS_SHM_AT(struct kls_shm_progress_group, v, 16);
KLS_SHM_AT(struct kls_shm_slot, state, 0);
KLS_SHM_AT(struct kls_shm_slot, wake, 4);
KLS_SHM_AT(struct kls_shm_slot, lease, 64);
KLS_SHM_AT(struct kls_shm_slot, progress, 832);
KLS_SHM_AT(struct kls_shm_slot, reserved1, 1904);
_Static_assert(sizeof(struct kls_shm_slot) == 2048, "slot size");
/* The group copies move 8-byte words. */
_Static_assert(sizeof(struct kls_lease) % 8 == 0 && sizeof(struct kls_progress) % 8 == 0,
    "payloads are whole words");

/* ---------------------------------------------------------------- handle and errors */

/* Which check refused a table (for callers and tests; msg says it in words). */
enum kls_shm_check {
	KLS_SHM_OK = 0,
	KLS_SHM_ESYS,   /* a system call failed (errno kept) */
	KLS_SHM_EARG,   /* bad name or parameters */
	KLS_SHM_EMAGIC, /* not a kls table (or one still being created) */
	KLS_SHM_EMAJOR, /* a layout major version this build does not read */
	KLS_SHM_ESIZE,  /* header/slot size or object size inconsistent */
	KLS_SHM_EOWNER, /* not owned by our effective uid */
	KLS_SHM_EMODE,  /* mode is not 0600 */
	KLS_SHM_EALIVE, /* the klsd recorded in the table is still running */
	KLS_SHM_ESTATE, /* slot not ready for this reader (state, shard, command, torn) */
};

struct kls_shm_err {
	enum kls_shm_check check;
	char msg[256]; /* names the table and the failed check */
};

struct kls_shm; /* opaque: fd, mapping, validated slot count, access mode */

struct kls_shm_params {
	const char *name;        /* "/kls.<app>" (kls_shm_name) */
	const char *application;
	const char *stream;
	const char *worker_id;
	uint32_t slot_count;     /* 1..KLS_SHM_MAX_SLOTS */
	/* Optional: before a stale table with this layout is removed, called with the lease
	 * of each slot in use, so klsd can make sure no reader of the dead klsd still runs
	 * (kls_proc_alive(l->reader_pid, l->reader_start_ticks)) before re-adopting leases. */
	void (*stale_lease)(void *arg, uint32_t idx, const struct kls_lease *l);
	void *stale_arg;
};

/* "/kls.<app>". -1 (EINVAL) when app is empty, too long, or has a character outside
 * [A-Za-z0-9._-] or starts with '.'. */
int kls_shm_name(char *out, size_t size, const char *app);

/*
 * klsd: creates the table with O_CREAT|O_EXCL, mode 0600, and holds an exclusive flock
 * on it for as long as the handle is open. An existing table is replaced only when its
 * klsd is gone (lock free, and recorded pid dead or reused); it is refused when that
 * klsd is alive (KLS_SHM_EALIVE, message names the pid), when it is not a kls table, or
 * when its owner or mode is wrong. Returns 0, or -1 with errno and err filled.
 */
int kls_shm_create(const struct kls_shm_params *p, struct kls_shm **out, struct kls_shm_err *err);
/* kls-reader: maps read-write after checking owner == euid, mode 0600, magic, major
 * version and sizes. */
int kls_shm_attach(const char *name, struct kls_shm **out, struct kls_shm_err *err);
/* kls-ctl: the same checks (root may read any owner's table), PROT_READ mapping. */
int kls_shm_attach_ro(const char *name, struct kls_shm **out, struct kls_shm_err *err);
/* The owner and mode checks of attach, on an fstat result (read_only: root may read a
 * table of any owner). 0, or -1 with err filled (KLS_SHM_EOWNER, KLS_SHM_EMODE). */
int kls_shm_check_stat(const struct stat *st, uid_t euid, bool read_only, const char *name,
    struct kls_shm_err *err);
/* Unmaps and closes (releasing klsd's lock); the object stays. NULL is fine. */
void kls_shm_close(struct kls_shm *t);
/* Removes the name (klsd at clean exit); mapped handles stay valid. */
int kls_shm_unlink(const char *name);

const struct kls_shm_header *kls_shm_header(const struct kls_shm *t);
uint32_t kls_shm_slot_count(const struct kls_shm *t);
const char *kls_shm_name_of(const struct kls_shm *t);
/* NULL when idx is out of range; kls_shm_slot is also NULL on a read-only handle. */
struct kls_shm_slot *kls_shm_slot(struct kls_shm *t, uint32_t idx);
const struct kls_shm_slot *kls_shm_slot_ro(const struct kls_shm *t, uint32_t idx);

/* ---------------------------------------------------------------- groups */

/* Tries for readers that must not wait long (kls-ctl, the reader's deadline check): with
 * the back-off in kls_seq_snapshot this gives a writer ~20 ms to finish. */
#define KLS_SHM_READ_TRIES 200u

/* klsd: copies its private lease into the slot under the lease counter. */
void kls_shm_lease_publish(struct kls_shm_slot *s, const struct kls_lease *l);
/* Anyone: consistent copy, strings NUL-terminated. -1 with errno EAGAIN ("torn") when
 * the counter stayed odd or kept moving for `tries` attempts. */
int kls_shm_lease_read(const struct kls_shm_slot *s, struct kls_lease *out, unsigned tries);
/* Reader: copies its private progress into the slot under the progress counter. */
void kls_shm_progress_publish(struct kls_shm_slot *s, const struct kls_progress *p);
int kls_shm_progress_read(const struct kls_shm_slot *s, struct kls_progress *out, unsigned tries);

/* Reader heartbeat (any reader thread) and klsd heartbeat: single atomic words. */
void kls_shm_heartbeat(struct kls_shm_slot *s, kls_mono now);
kls_mono kls_shm_heartbeat_get(const struct kls_shm_slot *s);
void kls_shm_klsd_heartbeat(struct kls_shm *t, kls_mono now);
kls_mono kls_shm_klsd_heartbeat_get(const struct kls_shm *t);

/* ---------------------------------------------------------------- slot life */

uint32_t kls_shm_slot_state(const struct kls_shm_slot *s);
/* "unused", "assigned", "active", "failed", or "unknown" (a newer minor's state). */
const char *kls_slot_state_name(uint32_t state);
/* klsd: claims the first UNUSED slot, clears its progress group, publishes l, sets
 * ASSIGNED. Returns the slot index, or -1 with ENOSPC. */
int kls_shm_slot_assign(struct kls_shm *t, const struct kls_lease *l);
/* klsd: the shard is no longer ours and its reader is gone: clears the slot, UNUSED. */
void kls_shm_slot_release(struct kls_shm_slot *s);
/* klsd: the reader exited 2. Publishes l (whose error says why) and marks the slot
 * FAILED so nothing respawns it; kls-ctl shows "failed" with that error. */
void kls_shm_slot_fail(struct kls_shm_slot *s, const struct kls_lease *l);

/* Reader: checks that slot idx is ASSIGNED to shard_id with command RUN and moves it to
 * ACTIVE. NULL with err filled when it is not. */
struct kls_shm_slot *kls_shm_slot_activate(struct kls_shm *t, uint32_t idx, const char *shard_id,
    struct kls_shm_err *err);
/* Reader, on clean exit: ACTIVE -> ASSIGNED. */
void kls_shm_slot_deactivate(struct kls_shm_slot *s);

#define KLS_REAPED_WAS_ACTIVE 1u /* the reader died without deactivating: died mid-use */
#define KLS_REAPED_REPAIRED 2u   /* its progress group was torn and has been repaired */
/*
 * klsd, after waitpid() reaped the slot's reader (so nobody writes the progress group):
 * repairs a torn progress group by writing `last_good` (klsd's last consistent read of
 * it, so totals survive; NULL = zeroes) and making the counter even, then moves ACTIVE
 * back to ASSIGNED. Returns KLS_REAPED_* flags.
 */
unsigned kls_shm_slot_reaped(struct kls_shm_slot *s, const struct kls_progress *last_good);

/* ---------------------------------------------------------------- checkpoint handshake */

/* klsd: after publishing a persisted checkpoint or a new command, wakes the reader. */
void kls_shm_wake_reader(struct kls_shm_slot *s);
/*
 * Reader: waits until klsd has answered request gen: lease.ckpt_gen >= gen (0; the
 * answer is lease.ckpt_result), the command is no longer RUN (1), or
 * timeout_ms passes (-1, ETIMEDOUT; also when klsd stays mid-write: EAGAIN). The last
 * consistent lease seen is copied to *out when out is not NULL.
 */
int kls_shm_await_persisted(struct kls_shm_slot *s, uint64_t gen, int64_t timeout_ms,
    struct kls_lease *out);

/* Compares two checkpoints (decimal sequence number, sub-sequence): *cmp < 0, 0, > 0.
 * -1 (EINVAL) when either is not a decimal sequence number. klsd uses it to refuse a
 * requested checkpoint beyond the last delivered record. */
int kls_seqnum_cmp(const char *a, uint64_t a_sub, const char *b, uint64_t b_sub, int *cmp);

/* ---------------------------------------------------------------- processes */

/* Field 22 of /proc/<pid>/stat (start time in clock ticks since boot). 0 or -1/errno. */
int kls_proc_start_ticks(pid_t pid, uint64_t *ticks);
/* True when pid runs and is not a zombie and, if start_ticks is not 0, started then. */
bool kls_proc_alive(pid_t pid, uint64_t start_ticks);

#endif
