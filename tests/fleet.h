/*
 * Several klsd workers of one application on this machine, for the multi-worker tests
 * (issue 4): each worker is a klsd_fixture with its own worker id, state directory,
 * shm name and log, all sharing one stream and one lease table; every reader writes
 * through the filelog handler into one output directory (tests/overlap.h checks it).
 * Around them: kls-produce putting records while the workers run, an optional TCP
 * proxy in front of DynamoDB per worker (tests/tcp_proxy.h), and a monitor thread
 * that polls the lease table for what must never happen (a checkpoint moving
 * backwards, a child shard's lease taken before its parents finished) and records
 * every change of owner, so tests can time takeovers and handoffs.
 *
 * All times are CLOCK_BOOTTIME ns (kls_mono), the clock of the handler output.
 */
#ifndef KLS_TEST_FLEET_H
#define KLS_TEST_FLEET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/table.h"
#include "supervisor/lease.h"
#include "tests/klsd_fixture.h"
#include "tests/overlap.h"
#include "tests/tcp_proxy.h"

#define FLEET_MAX 3
/* The tests' lease timings: renew every second, look for leases every 3 s. With the
 * take interval no longer than the failover time, a dead worker's leases are taken
 * within failover + one take interval of its last renew (see the SIGKILL test).
 * On a machine so loaded that klsd cannot renew within these times (it then fences its
 * own readers, as it should), the protocol runs N times slower: N from the load average
 * (fleet.c), or KLS_TEST_TIME_SCALE=N (1-10). Every bound the tests assert is stated in
 * these times, so nothing is weakened. */
int fleet_time_scale(void);
#define FLEET_MS(ms) ((ms)*fleet_time_scale())
#define FLEET_FAILOVER_MS FLEET_MS(3000)
#define FLEET_TAKE_MS FLEET_MS(3000)
#define FLEET_EVENTS_MAX 8192

/* A change of a lease seen by the monitor. */
struct fleet_event {
	int64_t t; /* when the scan that saw it returned */
	char key[LEASE_KEY_MAX];
	char owner[LEASE_OWNER_MAX];
	char checkpoint_owner[LEASE_OWNER_MAX];
	bool finished; /* checkpoint SHARD_END */
};

struct fleet_monitor {
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t mu; /* guards everything below */
	struct fleet_event *ev;
	size_t nev;
	struct lease *last; /* the previous scan */
	size_t nlast;
	struct lease *max; /* the highest checkpoint seen per lease */
	size_t nmax;
	int samples;
	int backwards;   /* a lease's checkpoint went below one seen before */
	int early_child; /* a child lease owned while a parent was not finished */
	char why[640];   /* the first of either */
};

struct fleet {
	struct klsd_fixture w[FLEET_MAX];   /* w[0] made the stream and the table */
	struct tcp_proxy *proxy[FLEET_MAX]; /* in front of DynamoDB for w[i], or NULL */
	int n;
	char out[128]; /* the handler output directory (w[0].dir) */
	pid_t producer;
	int producer_fd;
	struct fleet_monitor mon;
	struct ov_out ov; /* the output as last loaded */
};

/* The stream (shards, on the Kinesis endpoint named by kinesis_var), the table and n
 * workers' fixtures. -1 with a CUnit failure when something is missing. */
int fleet_init(struct fleet *fl, const char *prefix, int shards, int n, const char *kinesis_var);
/* Routes worker i's DynamoDB calls through a proxy of its own (before fleet_config). */
int fleet_proxy(struct fleet *fl, int i);
/* Worker i's configuration: the reader and lease timings above, the endpoints, filelog
 * into the output directory, then extra (INI text with its own section headers). */
int fleet_config(struct fleet *fl, int i, const char *extra);
bool fleet_start(struct fleet *fl, int i);
/* Stops the monitor, the producer and every worker, then removes stream and table. */
void fleet_done(struct fleet *fl);

/* Leases held by each worker (owner, no handoff in progress) among the unfinished
 * ones; *unheld counts the free, in-handoff and foreign ones. Returns the number of
 * unfinished leases, or -1 when the scan failed. */
int fleet_held(struct fleet *fl, int held[FLEET_MAX], int *unheld);
/* Polls until every unfinished lease is held, only by workers with live[i], each of
 * them holding lo..hi. Returns the ms it took, or -1 at the timeout. */
int64_t fleet_wait_spread(struct fleet *fl, const bool *live, int lo, int hi, int timeout_ms);
/* Polls until no lease changed owner and none was in handoff for stable_ms. */
bool fleet_wait_stable(struct fleet *fl, int stable_ms, int timeout_ms);
/* The keys of the leases worker i holds (no handoff in progress); count, or -1. */
int fleet_keys(struct fleet *fl, int i, char (*keys)[LEASE_KEY_MAX], int max);
/* Polls until none of keys is owned by worker i or free (all moved to others). The ms
 * it took, or -1 at the timeout. */
int64_t fleet_wait_moved(struct fleet *fl, int i, char (*keys)[LEASE_KEY_MAX], int n,
    int timeout_ms);

/* The lease groups of worker i's shm slots in use (ASSIGNED or ACTIVE): shard,
 * deadline, reader pid as its klsd last published them. Count, or -1. */
int fleet_shm_leases(struct fleet *fl, int i, struct kls_lease *out, int max);

/* kls-produce at rate records/s until fleet_produce_stop, which returns how many it
 * put (records 0..n-1), or -1. */
int fleet_produce_start(struct fleet *fl, int rate);
long long fleet_produce_stop(struct fleet *fl);

/* Loads the output until records 0..n-1 are all there (or the timeout); fills d. */
bool fleet_wait_delivered(struct fleet *fl, long long n, int timeout_ms, struct ov_delivery *d);
/* Duplicates in the loaded output that a graceful move caused: a record delivered by
 * one worker and again by another that got the shard from it by handoff or after a
 * release (both end with the old reader drained and its final checkpoint persisted, so
 * none may happen). Moves by expiry (a killed, frozen or cut-off worker) may repeat
 * records and are not counted. Needs the monitor's events (after fleet_monitor_stop). */
size_t fleet_graceful_dups(struct fleet *fl);
/* CUnit checks on the loaded output: no two readers of a shard overlap in time. */
void fleet_check_fencing(struct fleet *fl);

void fleet_monitor_start(struct fleet *fl);
/* Stops the monitor; CUnit checks that it sampled and saw nothing that must not happen. */
void fleet_monitor_stop(struct fleet *fl);
/* The first event at or after `after` where key's owner became `owner` with no
 * handoff in progress (owner "" = free); its time, or 0. checkpoint_owner_set: the
 * first one where a handoff to owner was requested instead. */
int64_t fleet_event_owner(struct fleet *fl, const char *key, const char *owner, int64_t after,
    bool checkpoint_owner_set);

/* SIGTERM to every running worker; CUnit checks each exits 0. */
void fleet_stop_all(struct fleet *fl);

/* The usual start of a test, after fleet_config: the monitor, records at rate, every
 * worker at once, then waits until each holds lo..hi leases and nothing moves. */
bool fleet_run_all(struct fleet *fl, int rate, int lo, int hi);
/* The usual end: stops the records, waits until all are delivered (none twice across a
 * graceful move), checks fencing and the monitor, stops the workers (exit 0, every
 * lease released). Returns the records put. */
long long fleet_finish(struct fleet *fl);

#endif
