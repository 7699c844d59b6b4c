/*
 * klsd's private state, shared by the files of its main loop:
 *   klsd.c       setup, the poll loop, signals, timers, shutdown
 *   held.c       the leases this klsd holds: renew, take, adopt, release, handoff,
 *                self-fencing, and the write jobs that carry them to the pool
 *   sync.c       table creation, shard sync and the take cycle (scan + plan)
 *   supervise.c  the readers of held leases: spawn, reap, restart, watchdog, and the
 *                checkpoint requests they send through their wake pipes
 *   service.h    what makes klsd a host service (notify, control socket, metrics,
 *                reload, poison records), reached through a few svc_* hooks
 * Everything here is touched by the main thread only; pool threads see nothing but
 * their job and their own clients.
 */
#ifndef KLS_SUPERVISOR_KLSD_INT_H
#define KLS_SUPERVISOR_KLSD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/dynamodb.h"
#include "common/kinesis.h"
#include "shm/table.h"
#include "supervisor/checkpoints.h"
#include "supervisor/klsd.h"
#include "supervisor/lease.h"
#include "supervisor/lease_item.h"
#include "supervisor/lease_store.h"
#include "supervisor/pool.h"
#include "supervisor/readers.h"
#include "supervisor/service.h"

/* What klsd is doing with a lease it holds (or is letting go of). */
enum held_state {
	HELD_ADOPTING,  /* ours in the table (restart, or handed to us): the first renew must
	                 * land before a reader may start */
	HELD_ACTIVE,    /* renewed; its reader runs or restarts */
	HELD_HANDOFF,   /* another worker asked for it: drain, final checkpoint, handoff done */
	HELD_RELEASING, /* giving it up (shutdown, shard end): drain, then release */
	HELD_LOST,      /* gone (taken, deleted): reader told to STOP, killed at the deadline */
};

struct held {
	struct lease l; /* the item as our last successful write (or re-read) left it */
	enum held_state state;
	int slot;
	struct kls_shm_slot *s;
	struct kls_lease pub; /* klsd's private copy of the slot's lease group */
	struct reader_proc proc;
	struct ckpt_state ck;
	bool ckpt_need_closed;        /* a SHARD_END request waits for a shard listing */
	struct kls_progress progress; /* last consistent read of the progress group */
	bool have_progress;
	bool wake_hup;      /* the reader closed its wake pipe: stop polling it */
	bool watchdog_kill; /* the current run was killed for a stale heartbeat */
	bool fence_kill;    /* the current run was killed at the lease deadline */
	bool busy;          /* one write of this lease is in flight */
	bool final_done;    /* RELEASING/HANDOFF: the last write completed or gave up */
	int final_tries;
	kls_mono deadline; /* self-fencing: no reader past this; NEVER-less = ZERO until
	                    * the first write lands */
	kls_mono next_renew;
	kls_mono last_write; /* sent time of the last write of ours that landed (ckpt_due) */
	kls_mono next_final; /* earliest retry of a failed final write */
	struct held_svc svc; /* service.h: poison, metrics, reload */
};

/* One write of the lease protocol on its way through the pool. */
struct write_job {
	struct pool_job job;
	struct klsd *k;
	enum lease_write_kind kind;
	char key[LEASE_KEY_MAX];
	struct ddb_write *w;
	struct lease before, after;
	struct ckpt_req ck; /* LW_CHECKPOINT / LW_HANDOFF_CHECKPOINT */
	int attempt;        /* LW_HANDOFF_REQUEST: asked again after a counter race */
	struct lease_write_result res;
	struct write_job *next_out; /* klsd's list of writes in flight */
};

struct klsd_thread_ctx {
	struct ddb_client *ddb;
	struct kinesis_client *kin;
};

enum klsd_phase {
	PHASE_TABLE, /* making sure the lease table exists */
	PHASE_RUNNING,
	PHASE_STOPPING, /* SIGTERM/SIGINT: draining and releasing */
	PHASE_DONE,
};

struct klsd {
	struct config cfg;
	char me[LEASE_OWNER_MAX];
	char shm_name[CONFIG_VALUE_MAX + 2];
	char reader_exe[4096];
	int config_fd;
	struct aws_creds_provider *creds;
	struct klsd_thread_ctx tctx[KLSD_POOL_THREADS];
	struct pool *pool;
	struct kls_shm *shm;
	int sigfd;
	enum klsd_phase phase;
	int exit_status;

	struct held **held;
	size_t nheld, held_cap;
	struct write_job *writes; /* in flight */

	struct lease_view view;
	struct kinesis_shard_list shards; /* last successful listing */
	bool have_shards;

	kls_mono next_table, next_sync, next_take;
	kls_mono next_handoff; /* earliest next handoff request: one per take interval */
	/* Live leases of workers that are not kls (KCL) as last logged, so the warning is
	 * repeated only when it changes. */
	int foreign_logged;
	bool table_busy, sync_busy, scan_busy;
	bool synced_once; /* the first shard sync (and its creates) finished */
	int creates_busy;
	bool created_some; /* a create of the current sync landed: take soon */
	int table_tries;
	kls_mono stop_hard;  /* STOPPING: give up waiting at this time */
	bool handed_pending; /* STOPPING: a lease handed to us is still being drained by its
	                      * old owner; release it once that is done (sync.c) */
	kls_mono last_drop;  /* when a held lease was last given up (released, lost) */
	bool clean_exit;
	struct klsd_svc svc; /* service.h: notify, control socket, metrics, reload */
};

/* Derived timings (ms). */
int64_t klsd_drain_window_ms(const struct config *cfg);
/* Replaces k->config_fd with a sealed memfd of k->cfg (k->config_fd unchanged on failure). */
int klsd_make_config_fd(struct klsd *k);
/* Starts a clean shutdown: drain every reader, release every lease, exit 0. */
void klsd_stop(struct klsd *k, const char *why);

/* ---- held.c ---- */
struct held *held_find(struct klsd *k, const char *key);
struct held *held_find_pid(struct klsd *k, pid_t pid);
struct held *held_add(struct klsd *k, const struct lease *l, enum held_state state);
void held_remove(struct klsd *k, struct held *h);
void held_publish(struct held *h);
/* Queues a protocol write; done comes back to held.c. -1 when it could not be queued. */
int klsd_submit_write(struct klsd *k, enum lease_write_kind kind, const struct lease *l,
    const struct ckpt_req *ck);
bool klsd_write_pending(const struct klsd *k, const char *key);
/* Per-lease timers (renew, pending checkpoint, fencing, final writes). Returns the next
 * time anything of h is due. */
kls_mono held_tick(struct klsd *k, struct held *h, kls_mono now);
/* Nothing left to do for h: the loop removes it (and frees its slot). */
bool held_finished(const struct held *h);
/* Stop using the lease: STOP the reader, answer pending checkpoints LEASE_LOST. */
void held_lost(struct klsd *k, struct held *h, const char *why);
/* The checkpoint h is heading for: the newest accepted request (pending or being
 * written), else the persisted one. */
void held_ckpt_target(const struct held *h, const char **seq, uint64_t *sub);
/* Start giving it up (shutdown or shard end). */
void held_release(struct klsd *k, struct held *h, const char *why);

/* ---- sync.c ---- */
void klsd_start_table(struct klsd *k);
void klsd_start_sync(struct klsd *k);
void klsd_start_scan(struct klsd *k);
/* At shutdown: whether leases handed to us (or ours, not held) wait for a release. */
void klsd_stopping_handed(struct klsd *k);
bool klsd_shard_closed(const struct klsd *k, const char *shard);

/* ---- supervise.c ---- */
/* Spawns, kills and watches h's reader as its state and the time require. */
kls_mono supervise_tick(struct klsd *k, struct held *h, kls_mono now);
void supervise_reap(struct klsd *k);
void supervise_wake(struct klsd *k, struct held *h);
/* Re-examines h's latest checkpoint request (e.g. after a shard listing). */
void supervise_checkpoint_request(struct klsd *k, struct held *h);
/* Answers a checkpoint generation through the lease group and wakes the reader. */
void supervise_answer(struct held *h, uint64_t gen, enum kls_ckpt_result result, const char *why);
void supervise_command(struct held *h, enum kls_command cmd);
void supervise_kill(struct held *h, const char *why);

#endif
