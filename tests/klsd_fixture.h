/*
 * Running klsd in integration tests: a stream of its own on the Kinesis emulator, a
 * configuration file in a temporary directory (own application, table and shm names),
 * klsd started as a child process with its log captured, and the lease table read
 * directly to check what klsd did.
 */
#ifndef KLS_TEST_KLSD_FIXTURE_H
#define KLS_TEST_KLSD_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/dynamodb.h"
#include "common/kinesis.h"
#include "supervisor/lease.h"

#define FIXTURE_ENV_MAX 8

struct klsd_fixture {
	char dir[128]; /* temporary directory: config, state, log, fake reader files */
	char conf[192];
	char log[192]; /* klsd's stderr */
	char sock[200]; /* [kls] control_socket (set by fixture_write_config) */
	char app[64];
	char stream[64];
	char shm[80];
	char worker[64];       /* [kls] worker_id */
	char handler[512];     /* [reader] handler; "" = a path nothing loads (fake readers) */
	char kinesis_url[256]; /* the Kinesis endpoint of the stream */
	bool shared;           /* another fixture's stream and table: fixture_done leaves them */
	const char *env[FIXTURE_ENV_MAX]; /* NAME=value added to klsd's environment (the
	                                   * caller keeps the strings); NULL ends */
	pid_t pid;                        /* running klsd, 0 = none */
	struct aws_creds_provider *creds;
	struct kinesis_client *kin;
	struct ddb_client *ddb;
};

/* Names, directory and clients; a stream of `shards` shards (0 = none). -1 with a
 * CUnit failure recorded when the emulators are not there. */
int fixture_init(struct klsd_fixture *f, const char *prefix, int shards);
/* The same with the Kinesis endpoint from kinesis_var (e.g. KINESIS_LOCAL_ENDPOINT). */
int fixture_init_kinesis(struct klsd_fixture *f, const char *prefix, int shards,
    const char *kinesis_var);
/* Worker n (1, 2, ...) of f's application: a directory, configuration, log, shm name and
 * worker id of its own, f's stream and table (which f's fixture_done removes). */
int fixture_init_worker(struct klsd_fixture *w, const struct klsd_fixture *f, int n);
/* Stops klsd if running (SIGKILL), deletes the stream and the table, removes files. */
void fixture_done(struct klsd_fixture *f);

/* Writes the configuration: the required keys plus `extra` (INI text, may be NULL). */
int fixture_write_config(struct klsd_fixture *f, const char *extra);

/* Starts klsd -d -c conf (in the foreground) with KLS_READER = this test program and
 * FAKE_READER = mode, or with the real kls-reader of the build tree when fake_mode is
 * NULL. */
int fixture_start(struct klsd_fixture *f, const char *fake_mode);
/* Sends sig to klsd and waits up to timeout_ms for it to exit. Returns its wait status,
 * or -1 on timeout (it is then killed). */
int fixture_stop(struct klsd_fixture *f, int sig, int timeout_ms);

/* Puts records "rec-NNNNN" numbered first..first+n-1 with partition keys "pk-N"
 * (spread over the shards), 100 per call. 0 or -1. */
int fixture_put(struct klsd_fixture *f, int first, int n);
/* The absolute path of an example handler of the build tree ("filelog"). */
void fixture_example(struct klsd_fixture *f, const char *name);

/* SIGTERM, then checks klsd exited 0 within 30 s (its log is printed otherwise). */
int fixture_clean_exit(struct klsd_fixture *f);
/* Starts klsd and waits until it owns n leases (a CUnit failure otherwise). */
bool fixture_start_owning(struct klsd_fixture *f, const char *fake_mode, int n);

/* Every lease in the table: count, or -1. *out is malloc'd. */
int fixture_leases(struct klsd_fixture *f, struct lease **out);
/* Leases owned by owner (NULL = by anyone). -1 when the scan failed. */
int fixture_owned(struct klsd_fixture *f, const char *owner);
/* Polls until fixture_owned(f, owner) == n, for at most timeout_ms. */
bool fixture_wait_owned(struct klsd_fixture *f, const char *owner, int n, int timeout_ms);

/* Lines of a log (klsd's, or the fake reader's when fake is true) containing all of
 * the given substrings (NULL-terminated list). */
int fixture_log_count(const struct klsd_fixture *f, bool fake, const char *const *words);
/* Polls until fixture_log_count >= n. */
bool fixture_wait_log(const struct klsd_fixture *f, bool fake, const char *const *words, int n,
    int timeout_ms);
/* Prints klsd's log to stderr (for a failing test). */
void fixture_dump_log(const struct klsd_fixture *f);

/* Lines containing `containing` in the file handler's output files
 * <dir>/<prefix>-shardId-* (prefix "out", "out2"); -1 when they could not be read. */
int fixture_handler_lines(const struct klsd_fixture *f, const char *prefix,
    const char *containing);
/* process() calls the file handler saw in those files: distinct (shard, reader pid, t0)
 * of their lines (examples/support.h: the lines of one batch share its t0). */
int fixture_handler_batches(const struct klsd_fixture *f, const char *prefix);

/* Whether a process is alive (not a zombie). */
bool fixture_alive(pid_t pid);
/* The pids of the fake readers that logged "start" lines, for liveness checks. */
int fixture_reader_pids(const struct klsd_fixture *f, pid_t *out, int max);
/* Kills klsd with SIGKILL, then waits up to timeout_ms for the n processes in pids (its
 * readers) to be gone. Milliseconds from just before the kill until they all were, or
 * -1 when one is still alive at the timeout. */
int64_t fixture_kill_readers_gone(struct klsd_fixture *f, const pid_t *pids, int n, int timeout_ms);

#endif
