/*
 * The lease table's items in KCL's attribute names, and the conditional writes of the
 * lease protocol (DESIGN.md "Lease table") built as DynamoDB requests. Pure: nothing
 * here talks to the network, so the exact item shapes and conditions are unit-tested
 * through ddb_write_body. lease_store.c executes these writes.
 *
 * Every write also says what the item looks like after it (the `after` lease each
 * builder fills): on success klsd adopts that state, and when a retried write reports
 * ConditionalCheckFailed, comparing the re-read item with `after` tells whether our
 * own first attempt had landed (lease_write_landed).
 */
#ifndef KLS_SUPERVISOR_LEASE_ITEM_H
#define KLS_SUPERVISOR_LEASE_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/dynamodb.h"
#include "supervisor/lease.h"

/* KCL's attribute names. */
#define LA_KEY "leaseKey"
#define LA_OWNER "leaseOwner"
#define LA_COUNTER "leaseCounter"
#define LA_CHECKPOINT "checkpoint"
#define LA_CHECKPOINT_SUB "checkpointSubSequenceNumber"
#define LA_SWITCHES "ownerSwitchesSinceCheckpoint"
#define LA_PARENTS "parentShardId"
#define LA_CHILDREN "childShardIds"
#define LA_START_HASH "startingHashKey"
#define LA_END_HASH "endingHashKey"
#define LA_CHECKPOINT_OWNER "checkpointOwner"
#define LA_PENDING_CHECKPOINT "pendingCheckpoint"
#define LA_PENDING_CHECKPOINT_SUB "pendingCheckpointSubSequenceNumber"
#define LA_PENDING_CHECKPOINT_STATE "pendingCheckpointState"
/* KCL 3.5+ keeps other rows in the lease table (worker metrics, leader lock, migration
 * state), told apart by entityType; leases have none, or "LEASE". */
#define LA_ENTITY_TYPE "entityType"
#define LA_ENTITY_LEASE "LEASE"
/* Ours, not KCL's: the kls worker that took or last renewed the lease (see
 * lease_owner_is_kls). KCL ignores attributes it does not know. */
#define LA_KLS_OWNER "klsOwner"

/* The protocol's writes, for logs and for the landed check. */
enum lease_write_kind {
	LW_CREATE,     /* PutItem if the item does not exist */
	LW_RENEW,      /* counter + 1 if counter = c, owner = me, no checkpointOwner */
	LW_TAKE,       /* owner = me, counter + 1, switches + 1 if counter = c */
	LW_CHECKPOINT, /* checkpoint, sub, counter + 1, switches = 0 if owner = me, counter = c */
	LW_HANDOFF_CHECKPOINT, /* the same by the old owner of a handoff: checkpointOwner = me */
	LW_RELEASE,            /* remove owner, counter + 1 if owner = me, counter = c */
	LW_HANDOFF_REQUEST,    /* owner = me, checkpointOwner = old if owner = old, counter = c,
	                        * no checkpointOwner */
	LW_HANDOFF_DONE,       /* remove checkpointOwner, counter + 1 if checkpointOwner = me,
	                        * counter = c */
	LW_DELETE,             /* DeleteItem of a finished lease if checkpoint = SHARD_END */
};

const char *lease_write_name(enum lease_write_kind kind);

/* What a write does for the protocol, as the lease write metrics label it (op): a
 * handoff checkpoint is a checkpoint, and a handoff's request and done are both a
 * handoff. */
enum lease_op {
	LEASE_OP_RENEW,
	LEASE_OP_CHECKPOINT, /* renews too: it replaces the renewal that would follow */
	LEASE_OP_TAKE,
	LEASE_OP_RELEASE,
	LEASE_OP_HANDOFF,
	LEASE_OP_CREATE,
	LEASE_OP_DELETE,
	LEASE_OP_COUNT
};

enum lease_op lease_write_op(enum lease_write_kind kind);
/* "renew", "checkpoint", "take", "release", "handoff", "create", "delete"; NULL for
 * another value. */
const char *lease_op_name(enum lease_op op);

/*
 * Item -> lease. Unknown attributes are ignored (KCL writes more than we read).
 * 0; 1 with why naming it when the item is another kind of KCL row (an entityType other
 * than "LEASE"), which is not ours to read or write; or -1 with why filled (missing or
 * malformed leaseKey, a negative or fractional counter, a value longer than its field,
 * more parents or children than a shard has).
 */
int lease_from_item(const struct ddb_item *it, struct lease *out, char *why, size_t whylen);

/*
 * Builders. `l` is the lease as klsd last knew it (key, counter c, ...); `me` this
 * worker's id. Each returns a write for ddb_execute (NULL only when memory ran out) and
 * fills *after with the item as the write leaves it.
 */
struct ddb_write *lease_write_create(const char *table, const struct lease *l, struct lease *after);
struct ddb_write *lease_write_renew(const char *table, const struct lease *l, const char *me,
    struct lease *after);
struct ddb_write *lease_write_take(const char *table, const struct lease *l, const char *me,
    struct lease *after);
/* kind LW_CHECKPOINT or LW_HANDOFF_CHECKPOINT. */
struct ddb_write *lease_write_checkpoint(const char *table, enum lease_write_kind kind,
    const struct lease *l, const char *me, const char *seq, uint64_t sub, struct lease *after);
struct ddb_write *lease_write_release(const char *table, const struct lease *l, const char *me,
    struct lease *after);
/* l->owner is the owner asked to hand over. */
struct ddb_write *lease_write_handoff_request(const char *table, const struct lease *l,
    const char *me, struct lease *after);
struct ddb_write *lease_write_handoff_done(const char *table, const struct lease *l, const char *me,
    struct lease *after);
struct ddb_write *lease_write_delete(const char *table, const struct lease *l);

/*
 * Whether `current` (a consistent re-read after ConditionalCheckFailed) is exactly the
 * state our write would have left: then a retry of ours failed only because our first
 * attempt had landed. For LW_CREATE and LW_DELETE, pass exists = whether the item is
 * there: an existing item (create) or a missing one (delete) is what we wanted.
 */
bool lease_write_landed(enum lease_write_kind kind, const struct lease *after,
    const struct lease *current, bool exists);

#endif
