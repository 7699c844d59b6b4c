/*
 * klsd, the per-host supervisor of one kls application: the public face of its main
 * loop and of its daemon mode, for main.c.
 */
#ifndef KLS_SUPERVISOR_KLSD_H
#define KLS_SUPERVISOR_KLSD_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * Where the configuration came from, so that SIGHUP and `kls-ctl reload` read it the
 * same way: file (made absolute here) and the -o overrides (copied). daemon: klsd runs
 * detached, so log_target is syslog whatever the file says. 0, or -1 (ENOMEM, realpath).
 */
int klsd_set_source(struct klsd *k, const char *file, char *const *overrides, size_t n, bool daemon);

/* ---- daemon mode (service.c), for main.c before anything else starts ---- */
struct pidfh;
/*
 * Takes the pidfile (path may be NULL) through libbsd's pidfile_open; refuses with a
 * message when another klsd holds it. Then, when detach is set, forks: the parent waits
 * until the child calls klsd_daemon_ready (exit 0) or dies (exit 1); the child starts a
 * new session, moves to /, puts /dev/null on stdin, stdout and stderr, and writes its pid
 * to the pidfile. Returns 0 in the process that goes on (with *pfh, NULL without a
 * pidfile and *ready_fd, -1 in the foreground), -1 after logging why.
 */
int klsd_daemonize(const char *pidfile, bool detach, struct pidfh **pfh, int *ready_fd);
/* Setup is done: lets the waiting parent exit 0. ready_fd -1 is a no-op. */
void klsd_daemon_ready(int ready_fd);

#endif
