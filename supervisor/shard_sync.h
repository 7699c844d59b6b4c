/*
 * Shard sync decisions: from the stream's shard list (ListShards) and the lease table
 * as we last saw it, which leases to create and which finished leases to delete. Pure,
 * like lease.c; klsd's loop runs ListShards on a pool thread and applies the plan with
 * conditional writes (create: attribute_not_exists, so two hosts syncing at once agree).
 *
 * Where a new lease starts (its checkpoint before anyone reads it):
 *   - a child of a shard that has (or is about to get) a lease: TRIM_HORIZON, so
 *     nothing between the parents' end and the child's first checkpoint is lost;
 *   - otherwise the configured initial position (TRIM_HORIZON, LATEST, AT_TIMESTAMP);
 *   - with LATEST, closed shards get no lease at all: reading a closed shard from its
 *     tip yields nothing, and its children would then start at TRIM_HORIZON and read
 *     the history LATEST asked to skip (KCL behaves the same).
 */
#ifndef KLS_SUPERVISOR_SHARD_SYNC_H
#define KLS_SUPERVISOR_SHARD_SYNC_H

#include <stddef.h>

#include "common/conf.h"
#include "common/kinesis.h"
#include "supervisor/lease.h"

/* The checkpoint text of an initial position ("TRIM_HORIZON", ...). */
const char *shard_sync_position(enum config_position pos);

/*
 * Leases to create for shards that have none, in the order the service listed the
 * shards; *out is malloc'd (NULL when none). 0, or -1 with errno (ENOMEM; EINVAL for a
 * shard id, parent or hash key longer than a lease holds).
 */
int shard_sync_plan(const struct kinesis_shard_list *shards, const struct lease_view *lv,
    enum config_position pos, struct lease **out, size_t *nout);

/*
 * Finished leases (SHARD_END) of shards no longer in the listing whose every child
 * lease has started (checkpoint past its initial position): nothing can need them
 * again. Keys are copied into *out (malloc'd). 0 or -1 (ENOMEM).
 */
int shard_sync_cleanup(const struct kinesis_shard_list *shards, const struct lease_view *lv,
    char (**out)[LEASE_KEY_MAX], size_t *nout);

#endif
