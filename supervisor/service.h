/*
 * klsd as a host service: what sits around the lease and reader machinery of klsd.c,
 * held.c, sync.c and supervise.c, one file per concern:
 *   service.c   systemd notification (READY, WATCHDOG, STATUS, RELOADING, STOPPING),
 *               daemon mode and pidfile, the control socket and /metrics in the poll
 *               loop, and the shards klsd will not take for a while
 *   commands.c  the control socket's commands: status, workers, release, drain, reload
 *   observe.c   Prometheus and CloudWatch metrics from klsd's counters and the readers'
 *               progress groups (cloudwatch.c publishes the latter from a thread)
 *   reload.c    SIGHUP: re-read the configuration, refuse what needs a restart, apply the
 *               rest, restart readers one by one when what they read changed
 *   poison.c    poison records: a reader that keeps crashing at the same checkpoint
 * The loop's files reach all of this through the few svc_* hooks below; everything runs on
 * klsd's main thread (see klsd_int.h).
 */
#ifndef KLS_SUPERVISOR_SERVICE_H
#define KLS_SUPERVISOR_SERVICE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/clock.h"
#include "common/sdnotify.h"
#include "supervisor/control.h"
#include "shm/table.h"
#include "supervisor/lease.h"
#include "supervisor/lease_item.h"

struct klsd;
struct held;
struct metrics;
struct metrics_http;
struct cw_acc;
struct cwpub;
struct lease_write_result;

/* Counters of klsd's own events, for status and metrics. */
enum svc_counter {
	SVC_RENEWALS,
	SVC_TAKES,
	SVC_LOSSES,
	SVC_READER_RESTARTS,
	SVC_POISON_RECORDS,
	SVC_NCOUNTERS
};

/* Per-lease state of the service modules (a member of struct held). */
struct held_svc {
	/* poison.c: crashes in a row with a batch delivered past this persisted checkpoint */
	char crash_seq[KLS_SHM_SEQ_MAX];
	uint64_t crash_sub;
	uint32_t crashes;
	bool poison_applied; /* the policy was applied for this checkpoint */
	/* observe.c: what the metrics have counted of the reader run started at obs_run */
	kls_mono obs_run;
	uint64_t obs_records, obs_bytes;
	uint32_t obs_restarts;
	struct kls_lat_run obs_lat[KLS_LAT_KINDS]; /* the run's histograms as last added */
	uint64_t obs_resubscribes;
	bool obs_lat_bad;   /* a histogram of this run failed its checks (logged once) */
	uint32_t obs_mode;  /* enum kls_read_mode the kls_read_mode gauge shows as 1 */
	/* reload.c: the reader still runs with the previous configuration */
	bool reload_pending;
	pid_t reload_pid; /* the run reload.c drained */
};

/* A shard klsd does not take for a number of take cycles (kls-ctl release, poison). */
struct svc_avoid {
	char key[LEASE_KEY_MAX];
	unsigned cycles; /* take cycles left to skip it, counted once it is no longer held */
	char why[128];
};

/* Where the configuration came from, for reload (main.c's command line). */
struct svc_source {
	char file[4096];  /* absolute */
	char **overrides; /* -o arguments, copied */
	size_t noverrides;
	bool daemon; /* detached: logs go to syslog whatever log_target says */
};

struct svc_reload {
	bool rolling;                /* readers are being restarted one by one */
	kls_mono started;            /* readers spawned after this run the new configuration */
	char current[LEASE_KEY_MAX]; /* "" = none draining */
	kls_mono current_deadline;
	unsigned done, total;
	uint64_t applied, refused;
	char last[256]; /* outcome of the last reload, for status */
};

struct klsd_svc {
	struct svc_source src;
	struct sdnotify notify;
	uint64_t watchdog_ms; /* 0 = no watchdog */
	kls_mono next_watchdog;
	bool notify_warned;
	bool ready;
	uint64_t take_cycles;
	kls_mono first_cycle_at; /* when the first take cycle ran */
	kls_mono last_scan_at;   /* when the lease view last took a full scan */
	char status_sent[256];
	kls_mono started;
	struct control_server *ctl;
	struct metrics *m;
	struct metrics_http *mh;
	kls_mono next_observe;
	char (*observed)[LEASE_KEY_MAX]; /* shards with metric series */
	size_t nobserved, observed_cap;
	struct cw_acc *cwacc; /* [metrics] cloudwatch: this interval's statistic sets */
	struct cwpub *cw;     /* the publisher thread, started when cloudwatch is first on */
	kls_mono next_cw;     /* end of the interval */
	bool cw_warned;       /* a sample could not be kept (logged once) */
	uint64_t count[SVC_NCOUNTERS];
	uint64_t count_published[SVC_NCOUNTERS];
	struct svc_avoid *avoid;
	size_t navoid;
	struct svc_reload reload;
};

/* Most descriptors svc_pollfds adds. */
#define SVC_POLLFDS 2

/* ---- service.c: hooks of klsd.c ---- */
/* Notification socket, control socket, metrics endpoint (klsd_new, single-threaded). */
int svc_open(struct klsd *k);
void svc_close(struct klsd *k);
/* Everything due now (watchdog, readiness, status, metrics, reload steps); returns when
 * the next thing is due. */
kls_mono svc_tick(struct klsd *k, kls_mono now);
/* The descriptors to poll (at most SVC_POLLFDS), and their results. */
size_t svc_pollfds(struct klsd *k, struct pollfd *fds);
void svc_polled(struct klsd *k, const struct pollfd *fds, size_t n);
/* klsd starts to shut down (STOPPING=1). */
void svc_stopping(struct klsd *k, const char *why);

/* ---- service.c: hooks of held.c, sync.c, supervise.c ---- */
void svc_count(struct klsd *k, enum svc_counter c);
/* A take cycle begins with a fresh scan in k->view. */
void svc_take_cycle(struct klsd *k, kls_mono now);
/* The take cycle must leave this shard alone. */
bool svc_avoiding(const struct klsd *k, const char *key);
void svc_avoid(struct klsd *k, const char *key, unsigned cycles, const char *why);
/* A reader of h was reaped (before supervise.c decides what follows). True when the
 * service modules decided instead (poison policy release: the lease is let go). */
bool svc_reader_exited(struct klsd *k, struct held *h, int wstatus, kls_mono now);

/* ---- commands.c ---- */
extern const struct control_command svc_commands[];
extern const size_t svc_ncommands;

/* ---- observe.c ---- */
int observe_open(struct klsd *k);
kls_mono observe_tick(struct klsd *k, kls_mono now);
/* The run of h's reader ended: count what it did since the last look. */
void observe_reaped(struct klsd *k, struct held *h);
/* The poison-record policy was applied to a batch of shard. */
void observe_poison(struct klsd *k, const char *shard);
/* A lease table write of kind for lease `key` completed with res; landed: it took
 * effect (held.c's verdict). Its latency and, when it did not land, its failure. */
void observe_write(struct klsd *k, enum lease_write_kind kind, const char *key,
    const struct lease_write_result *res, bool landed);
/* A take cycle counted `live` live workers (lease_plan: this one included). */
void observe_workers(struct klsd *k, int live);
void observe_close(struct klsd *k);

/* ---- reload.c ---- */
/* Re-reads the configuration and applies it. 0 with msg saying what was done, or -1 with
 * msg saying why nothing was (errors in the file, a key that needs a restart). */
int reload_start(struct klsd *k, const char *why, char *msg, size_t msglen);
kls_mono reload_tick(struct klsd *k, kls_mono now);

/* ---- poison.c ---- */
/* See svc_reader_exited. */
bool poison_reader_exited(struct klsd *k, struct held *h, int wstatus, kls_mono now);
/* Clears a dead-letter request once the checkpoint has moved past the poison record. */
void poison_tick(struct klsd *k, struct held *h);

#endif
