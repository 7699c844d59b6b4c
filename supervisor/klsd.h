/*
 * klsd, the per-host supervisor of one kls application: the public face of its main
 * loop, for main.c (and a daemon mode or systemd notify later, around klsd_run).
 */
#ifndef KLS_SUPERVISOR_KLSD_H
#define KLS_SUPERVISOR_KLSD_H

#include "common/conf.h"

struct klsd;

/* Number of pool threads making DynamoDB and Kinesis calls. Renewing a lease takes one
 * short request every renew interval, so a few threads serve hundreds of leases. */
#define KLSD_POOL_THREADS 4

/*
 * Sets klsd up for cfg (copied) and worker_id: credentials, one DynamoDB and Kinesis
 * client per pool thread, the sealed configuration memfd for readers, and the shm
 * table (a stale table of a dead klsd is replaced after any reader it left is killed).
 * The caller has blocked SIGCHLD, SIGTERM, SIGINT and SIGHUP in every thread (before
 * any other thread exists). NULL on failure, after logging why.
 */
struct klsd *klsd_new(const struct config *cfg, const char *worker_id);

/*
 * Runs until SIGTERM or SIGINT has drained every reader and released every lease, or a
 * fatal error. Returns the process exit status (0 after a clean shutdown).
 */
int klsd_run(struct klsd *k);

/* Frees everything; the shm table is unlinked when klsd_run ended cleanly. */
void klsd_free(struct klsd *k);

#endif
