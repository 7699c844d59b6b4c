/*
 * Lease table I/O: the blocking DynamoDB calls klsd makes, run on its pool threads
 * (never on the main loop). Each call fills a result that the main thread reads when
 * the job completes; nothing here logs or decides: a write that fails its condition
 * comes back with a consistent re-read of the item, and klsd's lease code decides
 * whether the lease is lost (lease_write_landed tells our own landed retry apart).
 */
#ifndef KLS_SUPERVISOR_LEASE_STORE_H
#define KLS_SUPERVISOR_LEASE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/dynamodb.h"
#include "supervisor/lease.h"
#include "supervisor/lease_item.h"

struct lease_write_result {
	int status;           /* DDB_OK, DDB_CONDITION_FAILED or DDB_ERROR */
	kls_mono sent;        /* before the first attempt: the self-fencing deadline counts
	                       * from here, so it can only be early, never late */
	bool reread;          /* after DDB_CONDITION_FAILED: current/exists are valid */
	bool exists;          /* the item exists */
	struct lease current; /* the consistent re-read */
	struct aws_error err; /* DDB_ERROR (of the write or of the re-read) */
	int write_status;     /* what the write itself returned, before any re-read */
	int64_t write_ns;     /* how long the write took (CLOCK_MONOTONIC, from `sent`, the
	                       * DynamoDB client's retries included, the re-read not) */
};

/*
 * Executes w (built by a lease_write_* builder for lease `key`). On
 * DDB_CONDITION_FAILED re-reads the item with a consistent GetItem; a failed re-read
 * makes the result DDB_ERROR (err says which call). Frees nothing: the caller owns w.
 */
void lease_store_write(struct ddb_client *c, const char *table, const char *key,
    const struct ddb_write *w, struct lease_write_result *res);

/* Why a write did not take effect: kls_lease_write_failures_total's reason. */
enum lease_fail {
	LEASE_FAIL_NONE,        /* it took effect */
	LEASE_FAIL_CONDITIONAL, /* ConditionalCheckFailed: someone else wrote the item */
	LEASE_FAIL_THROTTLED,   /* still throttled after the client's retries */
	LEASE_FAIL_OTHER,       /* network, 5xx, another error */
	LEASE_FAIL_COUNT
};

/* The reason of res; landed says whether the write took effect (DDB_OK, or a condition
 * failure that only our own earlier attempt caused: lease_write_landed). A condition
 * failure whose re-read then failed is still "conditional": that is what the write met. */
enum lease_fail lease_write_failure(const struct lease_write_result *res, bool landed);
/* "conditional", "throttled", "other"; NULL for LEASE_FAIL_NONE or another value. */
const char *lease_fail_name(enum lease_fail f);

/* Consistent read of one lease: DDB_OK (out filled), DDB_NOT_FOUND or DDB_ERROR. */
int lease_store_get(struct ddb_client *c, const char *table, const char *key, struct lease *out,
    struct aws_error *err);

/*
 * Every lease of the table (one full, paginated, consistent Scan). KCL's rows of other
 * kinds (entityType) are passed over; items that are not leases (no leaseKey, malformed
 * fields) are skipped and counted in *skipped, with the first one's reason in
 * err->message. *out is malloc'd (NULL when empty). DDB_OK or
 * DDB_ERROR.
 */
int lease_store_scan(struct ddb_client *c, const char *table, size_t max_items, struct lease **out,
    size_t *n, size_t *skipped, struct aws_error *err);

/* Creates the lease table unless it exists (on-demand, or provisioned per [lease]) and
 * waits until it is ACTIVE. DDB_OK or DDB_ERROR. */
int lease_store_ensure_table(struct ddb_client *c, const struct config *cfg, int timeout_ms,
    struct aws_error *err);

#endif
