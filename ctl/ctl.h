/*
 * kls-ctl: the administrator's tool. Subcommands live in one command table (ctl.c);
 * those that only read state (status) map the shm table read-only and never ask klsd,
 * so they work while klsd is wedged or stopped. Actions that change something
 * (workers, release, drain, reload) will go over klsd's control socket and are added
 * as new rows of the table. `import` migrates another consumer's checkpoints straight
 * into the lease table in DynamoDB. Everything takes its output streams as arguments so the
 * tests run the real commands in-process.
 */
#ifndef KLS_CTL_H
#define KLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/clock.h"
#include "shm/table.h"

/* Where shm_open objects appear on Linux; kls-ctl looks for kls.* tables there. */
#define CTL_SHM_DIR "/dev/shm"

struct ctl_command {
	const char *name;
	const char *args;    /* usage after the name */
	const char *summary; /* one line for the help text */
	/* argv[0] is the command name; returns the process exit status (0 ok, 1 error). */
	int (*run)(int argc, char **argv, FILE *out, FILE *err);
};

/* The whole program: dispatches argv[1] through the command table. */
int ctl_main(int argc, char **argv, FILE *out, FILE *err);

/*
 * Chooses the shm name to open: shm ("NAME" or "/NAME") if given, else "/kls.<app>" if
 * app is given, else the only kls.* object in dir. 0, or -1 with msg saying why (none,
 * several and which, bad name).
 */
int ctl_pick_table(const char *dir, const char *app, const char *shm, char *name, size_t size,
    char *msg, size_t msg_size);

/*
 * Chooses the control socket: sock if given, else "<dir>/<app>.sock" if app is given,
 * else the only "*.sock" in dir. 0, or -1 with msg (none, several and which, bad name).
 */
int ctl_pick_socket(const char *dir, const char *app, const char *sock, char *path,
    size_t size, char *msg, size_t msg_size);

/* One slot in use, as read from the table. A torn group is marked, its copy unused. */
struct ctl_row {
	uint32_t slot;
	uint32_t state; /* enum kls_slot_state (or a newer minor's value) */
	bool lease_torn;
	bool progress_torn;
	struct kls_lease lease;
	struct kls_progress progress;
};

struct ctl_status {
	char application[KLS_SHM_NAME_MAX];
	char stream[KLS_SHM_NAME_MAX];
	char worker_id[KLS_SHM_WORKER_MAX];
	long klsd_pid;
	bool klsd_alive; /* the recorded klsd (pid and start time) still runs */
	int64_t klsd_heartbeat_ns;
	uint32_t slot_count;
	kls_mono now; /* CLOCK_BOOTTIME when the table was read */
	size_t n;
	struct ctl_row *rows;
};

/* Reads every slot in use, each group with at most `tries` attempts. -1 on ENOMEM. */
int ctl_status_read(const struct kls_shm *t, unsigned tries, struct ctl_status *st);
void ctl_status_free(struct ctl_status *st);
/* Renders a status read; 0, or -1 when writing failed. */
int ctl_status_text(const struct ctl_status *st, FILE *out);
/* The row's read mode: "polling", "fan-out", or NULL (torn, not started, unknown). */
const char *ctl_row_mode(const struct ctl_row *r);
/* Fan-out rows: how long the current subscription has run (*age_ms; -1 between two
 * subscriptions) and the resubscriptions of the reader's run. false for other rows. */
bool ctl_row_fanout(const struct ctl_row *r, kls_mono now, int64_t *age_ms,
    uint64_t *resubscribes);
int ctl_status_json(const struct ctl_status *st, FILE *out);

/* ---- gokini import (import_gokini.c) ---- */

struct ddb_item;

/* One item of a gokini checkpoint table. Strings are "" when the attribute is absent. */
struct gokini_lease {
	char shard[129];       /* ShardID */
	char seq[130];         /* SequenceID: the last record processed */
	char assigned[257];    /* AssignedTo: the worker holding the lease */
	char timeout_text[64]; /* LeaseTimeout as written (RFC 3339) */
	int64_t timeout_ms;    /* ... parsed, ms since the epoch (when timeout_text is set) */
	bool closed;           /* Closed: the shard was read to its end */
	char parent[129];      /* ParentShardID */
	char claim[257];       /* ClaimRequest: a worker asking for the lease */
};

/* 0, or -1 with why filled (missing ShardID, wrong types, bad SequenceID or time). */
int gokini_lease_from_item(const struct ddb_item *it, struct gokini_lease *g, char *why,
    size_t whylen);
/* The kls checkpoint for a gokini lease: SHARD_END, its SequenceID, or TRIM_HORIZON. */
const char *gokini_kls_checkpoint(const struct gokini_lease *g);
/* Held (AssignedTo set) with a LeaseTimeout later than now_ms - margin_ms. */
bool gokini_lease_live(const struct gokini_lease *g, int64_t now_ms, int64_t margin_ms);
/* NULL when a and b are the same item, else the name of an attribute that differs. */
const char *gokini_lease_diff(const struct gokini_lease *a, const struct gokini_lease *b);

/* Copies s for a terminal: control characters become '?'. */
void ctl_fmt_safe(char *buf, size_t size, const char *s);

/* --watch (watch.c). Rates between two reads of one slot; known is false when they are
 * not of the same reader run (restart, another shard, a torn group) or seconds <= 0. */
struct ctl_rate {
	bool known;
	double records_s, bytes_s;
};
void ctl_watch_rate(const struct ctl_row *before, const struct ctl_row *now, double seconds,
    struct ctl_rate *out);
/* One refresh: the table of cur with rates against prev. 0, or -1 when writing failed. */
int ctl_watch_text(const struct ctl_status *prev, const struct ctl_status *cur, FILE *out);
/* Reads t every interval_ms and prints a table each time, count times (0: until killed).
 * The process exit status. */
int ctl_status_watch(const struct kls_shm *t, int64_t interval_ms, long count, FILE *out, FILE *err);

/* Commands. */
int ctl_cmd_status(int argc, char **argv, FILE *out, FILE *err);
/* status --klsd: klsd's own status over its control socket (actions.c). */
int ctl_klsd_status(const char *app, const char *sock, FILE *out, FILE *err);
/* Actions over klsd's control socket (actions.c). */
int ctl_cmd_workers(int argc, char **argv, FILE *out, FILE *err);
int ctl_cmd_release(int argc, char **argv, FILE *out, FILE *err);
int ctl_cmd_drain(int argc, char **argv, FILE *out, FILE *err);
int ctl_cmd_reload(int argc, char **argv, FILE *out, FILE *err);
/* `kls-ctl import gokini ...`: talks to DynamoDB, not to klsd. */
int ctl_cmd_import(int argc, char **argv, FILE *out, FILE *err);

#endif
