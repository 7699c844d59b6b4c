/*
 * The lease table as this klsd sees it, and the decisions of the lease protocol
 * (DESIGN.md "Lease table"): which leases are expired, which are ready to be read
 * (parents finished), how many this worker should hold, which to take and which to
 * ask another worker to hand off. Pure logic: no I/O, no clock reads (callers pass
 * "now"), so every rule is unit-tested. klsd's lease I/O applies the decisions with
 * conditional DynamoDB writes and feeds scan results back in.
 *
 * Expiry never compares another host's clock: we remember when, on our own
 * CLOCK_BOOTTIME, we last saw each lease's counter change.
 */
#ifndef KLS_SUPERVISOR_LEASE_H
#define KLS_SUPERVISOR_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"

#define LEASE_KEY_MAX 129    /* Kinesis shard ids are at most 128 characters */
#define LEASE_OWNER_MAX 257  /* "<hostname>:<uuid>" */
#define LEASE_SEQ_MAX 130    /* sequence numbers (<= 128 digits) and the sentinels */
#define LEASE_HASH_MAX 40    /* 2^128 - 1 has 39 digits */
#define LEASE_MAX_PARENTS 2  /* a merge has two parents */
#define LEASE_MAX_CHILDREN 2 /* a split has two children */

/* Checkpoint sentinels, KCL's spelling. */
#define CHECKPOINT_TRIM_HORIZON "TRIM_HORIZON"
#define CHECKPOINT_LATEST "LATEST"
#define CHECKPOINT_AT_TIMESTAMP "AT_TIMESTAMP"
#define CHECKPOINT_SHARD_END "SHARD_END"

/* One item of the lease table, in KCL's attribute names (see DESIGN.md). */
struct lease {
	char key[LEASE_KEY_MAX];                 /* leaseKey: the shard id */
	char owner[LEASE_OWNER_MAX];             /* leaseOwner; "" = free */
	uint64_t counter;                        /* leaseCounter */
	char checkpoint[LEASE_SEQ_MAX];          /* checkpoint: sequence number or sentinel */
	uint64_t checkpoint_sub;                 /* checkpointSubSequenceNumber */
	uint64_t owner_switches;                 /* ownerSwitchesSinceCheckpoint */
	char parents[LEASE_MAX_PARENTS][LEASE_KEY_MAX]; /* parentShardId (string set) */
	int nparents;
	char children[LEASE_MAX_CHILDREN][LEASE_KEY_MAX]; /* childShardIds (string set) */
	int nchildren;
	char checkpoint_owner[LEASE_OWNER_MAX];  /* checkpointOwner: handoff in progress; "" = none */
	char starting_hash[LEASE_HASH_MAX];      /* startingHashKey */
	char ending_hash[LEASE_HASH_MAX];        /* endingHashKey */
	char kls_owner[LEASE_OWNER_MAX];         /* klsOwner: the kls worker that last took or
	                                          * renewed it; leaseOwner != klsOwner means
	                                          * the owner is not a kls worker (KCL) */
};

/* Whether l's owner is a kls worker: it wrote klsOwner = itself when it took or last
 * renewed the lease. A KCL worker's lease has no klsOwner, or a stale one when KCL took
 * it from kls. */
bool lease_owner_is_kls(const struct lease *l);

/* Our observation of one lease across scans. */
struct lease_obs {
	struct lease l;
	kls_mono changed_at; /* when we first saw the current (counter, owner) */
	kls_mono first_seen; /* when a scan first returned this lease: "oldest first" */
};

struct lease_view {
	struct lease_obs *v;
	size_t n, cap;
};

void lease_view_init(struct lease_view *lv);
void lease_view_free(struct lease_view *lv);

/*
 * Merges a full scan (every item of the table) taken at `now`. A lease whose counter
 * and owner are unchanged keeps its changed_at; any change, or a lease seen for the
 * first time, counts from `now`. Leases missing from the scan are dropped.
 * Returns 0, or -1 with errno ENOMEM (the view is then unchanged).
 */
int lease_view_merge_scan(struct lease_view *lv, const struct lease *scan, size_t n, kls_mono now);

/* Records a write of ours that landed (take, renew, checkpoint...): the new item state
 * counts as changed at `now`. Adds the lease if the view does not have it. */
int lease_view_update(struct lease_view *lv, const struct lease *l, kls_mono now);

struct lease_obs *lease_view_find(struct lease_view *lv, const char *key);

bool lease_is_finished(const struct lease *l);
/* Owned and its counter has not moved for failover_ms. Free leases are not "expired". */
bool lease_is_expired(const struct lease_obs *o, kls_mono now, int64_t failover_ms);
/* Every parent lease is finished (SHARD_END) or gone from the table. */
bool lease_parents_done(const struct lease_view *lv, const struct lease *l);

struct lease_plan_params {
	const char *me;          /* this worker's id */
	int64_t failover_ms;
	int max_leases;          /* 0 = no limit */
};

enum lease_action_kind {
	LEASE_TAKE,    /* free or expired: leaseOwner = me, counter + 1, switches + 1 */
	LEASE_HANDOFF, /* ask owner `from` to hand it over (checkpointOwner protocol) */
};

struct lease_action {
	enum lease_action_kind kind;
	char key[LEASE_KEY_MAX];
	uint64_t expect_counter; /* the counter our conditional write requires */
	char from[LEASE_OWNER_MAX]; /* current owner for HANDOFF and for an expired TAKE */
};

struct lease_plan {
	int live_workers;  /* owners of unexpired leases, plus me */
	/* Live leases of owners that are not kls workers (KCL): never taken or handed off
	 * before they expire. The owner holding most of them, for the log. */
	int foreign_leases;
	char foreign_owner[LEASE_OWNER_MAX];
	int foreign_owner_leases;
	int active_leases; /* leases to balance: not finished, parents done */
	int target;        /* ceil(active / live), capped by max_leases */
	int held;          /* active leases owned by me (handoffs to me included) */
	struct lease_action *actions;
	size_t nactions;
};

/*
 * One take cycle: free and expired ready leases first, oldest first, up to the target;
 * when none is free and I am still below target, one handoff from the most loaded
 * kls worker (only if it holds more than target, or more than I would after taking one,
 * so two workers never trade a lease back and forth). Owners that are not kls workers
 * (lease_owner_is_kls) count as live workers but are never asked for a handoff: a KCL
 * worker does not speak the protocol, so their leases move only once they expire.
 * Returns 0 or -1 (ENOMEM). plan->actions is allocated; free with lease_plan_free.
 */
int lease_plan_takes(const struct lease_view *lv, const struct lease_plan_params *p, kls_mono now,
    struct lease_plan *plan);
void lease_plan_free(struct lease_plan *plan);

/* Self-fencing: our deadline for a lease whose renew was *sent* at `sent`. */
static inline kls_mono
lease_deadline(kls_mono sent, int64_t failover_ms, int64_t safety_margin_ms)
{
	return mono_add_ms(sent, failover_ms - safety_margin_ms);
}

/*
 * When to send the next renewal of a lease whose last write was sent at `sent` and
 * landed at `landed`; drain_at is when klsd drains the reader if no newer write has
 * landed by then. Normally renew_interval_ms after `sent`. When DynamoDB is slow, sooner:
 * the next write is given twice the last one's latency to land before drain_at (never
 * before `landed`). A lease checkpointed after every batch used to renew back to back
 * and so rode out slow writes; with coalesced checkpoints a flowing lease renews like an
 * idle one, and this keeps it from being drained by one slow write. Fencing is
 * untouched: the deadline still counts from the send of the last write that landed.
 */
kls_mono lease_next_renew(kls_mono sent, kls_mono landed, int64_t renew_interval_ms,
    kls_mono drain_at);

#endif
