/*
 * kls-reader's process state, shared by the files of reader/ (each does one job:
 * main.c the setup order, fetch.c the GetRecords loop, deliver.c the handler calls,
 * handshake.c the checkpoint handshake and progress group, fence.c deadlines and the
 * watchdog, pace.c call pacing). One struct reader per process, owned by main.
 *
 * Steps return READER_CONTINUE to go on, or the enum reader_exit status
 * (common/reader_proto.h) the process should end with.
 */
#ifndef KLS_READER_READER_H
#define KLS_READER_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/getrecords.h"
#include "common/kinesis.h"
#include "common/reader_proto.h"
#include "kls/handler.h"
#include "reader/checkpoint_ctx.h"
#include "reader/deagg.h"
#include "reader/fence.h"
#include "reader/handler_load.h"
#include "reader/pace.h"
#include "shm/table.h"

#define READER_CONTINUE (-1)

/* How long one checkpoint waits for klsd's answer before KLS_ERR_TIMEOUT. */
#define READER_CHECKPOINT_TIMEOUT_MS 10000
/* Longest a wait sleeps between looks at the lease group (commands, deadline) and
 * heartbeats, when heartbeat_timeout_ms does not ask for less. */
#define READER_BEAT_MAX_MS 1000

struct reader {
	const struct config *cfg;
	struct kls_shm *shm;
	struct kls_shm_slot *slot;
	uint32_t slot_idx;
	int wake_fd;
	char shard_id[KLS_SHM_SHARD_MAX];
	int64_t beat_ms; /* heartbeat and look period of the main thread's waits */

	/* The last clean read of the lease group (klsd's): command, deadline, checkpoint. */
	struct kls_lease lease;
	/* The progress group's private copy: changed here, published whole. */
	struct kls_progress prog;
	uint64_t req_gen; /* generation of the last checkpoint request */

	struct fence fence;

	/* The handler. */
	struct handler h;
	void *state;
	bool inited; /* init succeeded: destroy is owed on every clean path */
	struct reader_ctx ctx;
	struct kls_shard_info info;
	struct kls_handler_config hconf;
	struct kls_handler_config_pair pairs[CONFIG_HANDLER_MAX];

	/* Reading. */
	struct aws_creds_provider *creds;
	struct kinesis_client *kc;
	struct pace pace;
	struct kls_buf resp; /* the GetRecords body, and the batch decoded in place */
	struct getrecords_result res;
	struct deagg deagg;
	struct kls_record *recs; /* the batch as handed to the handler (deagg.c) */
	size_t recs_cap;
	char iterator[KINESIS_ITERATOR_MAX + 1];
	/* Where reading started, for a new iterator before anything was delivered. */
	struct kinesis_position start;
	char start_seq[KLS_SHM_SEQ_MAX];
	/* Resuming from a checkpoint or the last delivered record, read again
	 * AT_SEQUENCE_NUMBER: records up to (seq, sub) were done. */
	bool skip_through;
	char skip_seq[KLS_SHM_SEQ_MAX];
	uint64_t skip_sub;
	bool first_batch_done; /* dead_letter.c: lease.first_batch applies to one batch */
	bool title_draining;   /* title.c: the process title says [draining] */
};

/* ---- title.c: the process title ---- */

/* "kls-reader: <stream> <shard>", with " [draining]" when draining. */
void reader_title(struct reader *r, bool draining);

/* ---- handshake.c: the progress group and the checkpoint sink ---- */

/* Starts the progress group for this run (read_mode, generation past klsd's last answer). */
void progress_start(struct reader *r);
/* Publishes r->prog. */
void progress_publish(struct reader *r);
void progress_state(struct reader *r, enum kls_handler_state st);
/* Stores an error text for kls-ctl and klsd (and publishes it). */
void progress_error(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The checkpoint_sink persist() for reader_ctx: see checkpoint_ctx.h. */
int handshake_persist(void *arg, const char *sequence, uint64_t sub_sequence);
/* The checkpoint_sink post() (checkpoint_interval_ms > 0): publish, wake, no wait. */
int handshake_post(void *arg, const char *sequence, uint64_t sub_sequence);
/* Wakes klsd's loop through the wake pipe (a full pipe already wakes it). */
void handshake_wake(struct reader *r);

/*
 * Re-reads the lease group (a torn read keeps the last clean copy) and says what it
 * asks: READER_CONTINUE while RUN and before the deadline, else the step to take,
 * one of the LOOK_* values. The first DRAIN seen sets the [draining] title.
 */
enum look {
	LOOK_RUN = 0,
	LOOK_DRAIN,
	LOOK_STOP,
	LOOK_EXPIRED, /* the lease deadline has passed */
};
enum look reader_look(struct reader *r, kls_mono now);

/*
 * Sleeps until `until` (beating and looking at the lease group every beat_ms, and at
 * once when klsd wakes the slot). Returns LOOK_RUN at `until`, or the first other look.
 */
enum look reader_wait(struct reader *r, kls_mono until);

/* ---- deliver.c: the handler calls ---- */

/* init; READER_CONTINUE or an exit status. */
int deliver_init(struct reader *r);
/* process() of one batch, then the automatic checkpoint. */
int deliver_batch(struct reader *r, const struct kls_record *recs, size_t n);
/* End of a closed shard: shard_ended, SHARD_END persisted. */
int deliver_shard_end(struct reader *r);
/* A look other than LOOK_RUN: drain, stop or lease loss, and the status to exit with. */
int deliver_finish(struct reader *r, enum look why);
/* destroy, when init succeeded (every clean exit). */
void deliver_destroy(struct reader *r);

/* ---- dead_letter.c: poison records ---- */

/* True for the first batch of this run when klsd asked for it to be dead-lettered
 * (lease.first_batch); false for every later batch. */
bool dead_letter_due(struct reader *r);
/* Writes the batch to [reader] dead_letter_dir. 0, or -1 (logged, in progress). */
int dead_letter_write(struct reader *r, const struct kls_record *recs, size_t n);

/* ---- fetch.c: the GetRecords loop ---- */

/* Decides where reading starts from the lease's checkpoint and the configuration.
 * READER_CONTINUE, READER_EXIT_SHARD_END for a finished shard, or
 * READER_EXIT_PERMANENT when the checkpoint cannot be used (logged, in progress). */
int fetch_position(struct reader *r);
/* Creates the Kinesis client; READER_CONTINUE or an exit status. */
int fetch_open(struct reader *r);
/* A Kinesis client on r's configuration and credentials, one attempt per call (the
 * polling and fan-out loops pace and back off themselves); NULL after logging why and
 * publishing it in progress. */
struct kinesis_client *fetch_client_new(struct reader *r);
/* The loop, until a reason to exit. */
int fetch_run(struct reader *r);
/* A failed call (GetRecords, SubscribeToShard, ...) at now: back off (READER_CONTINUE
 * with *next set) when its class says time may mend it, else log, record and exit 1. */
int fetch_failed(struct reader *r, const struct aws_error *err, kls_mono now, kls_mono *next);
void fetch_close(struct reader *r);

/* Keeps the records the handler has already finished when resuming: those at or
 * before (skip_seq, skip_sub), as KCL filters them (see fetch.c for the one
 * exception). Returns the index of the first record to deliver. */
size_t fetch_skip_done(struct reader *r, const struct kls_record *recs, size_t n);

#endif
