/*
 * klsd's reader processes: the process table (one entry per shard klsd holds: pid,
 * shard, slot, state, restarts, backoff, last exit), fork+exec of kls-reader exactly as
 * common/reader_proto.h says, and the pure rules for what an exit means and how long
 * to wait before a restart. Reaping itself is the loop's (waitpid on SIGCHLD); this
 * file turns a wait status into a decision and a log line.
 */
#ifndef KLS_SUPERVISOR_READERS_H
#define KLS_SUPERVISOR_READERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/clock.h"

/* A reader that ran this long before it died starts the backoff over. */
#define READER_HEALTHY_MS 60000
/* The watchdog's patience with a reader that has not sent its first heartbeat yet
 * (when heartbeat_timeout_ms is shorter). */
#define READER_STARTUP_GRACE_MS 10000

enum reader_state {
	READER_IDLE = 0, /* not running and nothing scheduled */
	READER_BACKOFF,  /* not running; spawn again at restart_at */
	READER_RUNNING,  /* pid is alive (or not reaped yet) */
	READER_FAILED,   /* exited 2 (permanent): never respawned */
};

struct reader_proc {
	char shard[136]; /* shard id, for log lines */
	int slot;        /* shm slot index */
	enum reader_state state;
	pid_t pid;            /* RUNNING: the child; 0 otherwise */
	uint64_t start_ticks; /* /proc start time of pid (0 when unknown) */
	int wake_fd;          /* read end of this run's wake pipe; -1 = none */
	kls_mono started_at;  /* spawn time of the current or last run */
	kls_mono restart_at;  /* READER_BACKOFF: when to spawn again */
	uint32_t restarts;    /* respawns since the lease was taken */
	int64_t backoff_ms;   /* delay before the next restart after a failure; 0 = min */
	int last_status;      /* wait status of the last run; -1 = none yet */
	/* Self-fencing and shutdown bookkeeping of the current run. */
	bool drain_sent;
	bool stop_sent;
	bool kill_sent;
	kls_mono kill_at; /* SIGKILL the run at this time if it is still alive */
};

void reader_proc_init(struct reader_proc *p, const char *shard, int slot);

/* ---- what an exit means ---- */

enum reader_verdict {
	READER_V_DRAINED,    /* exit 0: drained or handed off */
	READER_V_RESTART,    /* exit 1, a signal, or an unknown status: respawn with backoff */
	READER_V_PERMANENT,  /* exit 2: mark the slot failed, never respawn */
	READER_V_LEASE_LOST, /* exit 3 */
	READER_V_SHARD_END,  /* exit 4 */
};

enum reader_verdict reader_verdict(int wstatus);
/* "exited with status 1 (transient failure)", "killed by signal 11 (SIGSEGV, core
 * dumped)". */
void reader_describe_exit(int wstatus, char *out, size_t size);

/*
 * The delay before respawning a reader whose run (started at started_at) ended at
 * `now`, and the backoff state for the next failure: 0 for the first failure (fresh
 * state, or after a run of READER_HEALTHY_MS or more), then min_ms doubling up to
 * max_ms. *backoff_ms is the state (0 = fresh).
 */
int64_t reader_restart_delay(int64_t *backoff_ms, kls_mono started_at, kls_mono now, int64_t min_ms,
    int64_t max_ms);

/* ---- spawning ---- */

/*
 * The kls-reader to execute: $KLS_READER if set (absolute), else ../reader/kls-reader
 * next to this executable (the build tree) when it exists, else the installed
 * KLS_PKGLIBEXECDIR/kls-reader. 0, or -1 with errno.
 */
int reader_exe_path(char *out, size_t size);

/* Descriptors 0-2 stay; the reader receives these two at fixed numbers. */
#define READER_CONFIG_FD 3
#define READER_WAKE_FD 4

struct reader_spawn {
	const char *exe;      /* reader_exe_path */
	int config_fd;        /* sealed memfd with the effective configuration */
	const char *shm_name; /* "/kls.<app>" */
};

/*
 * fork+exec of one reader for p (from the main thread: PR_SET_PDEATHSIG follows the
 * thread that forks): `kls-reader --config-fd 3 --shm NAME --slot N --wake-fd 4`, with a
 * fresh O_NONBLOCK wake pipe whose read end goes to p->wake_fd, PR_SET_PDEATHSIG =
 * SIGKILL, default signal dispositions and an empty signal mask, and every other
 * descriptor closed. On success p is RUNNING with pid, start time and started_at set.
 * 0, or -1 with errno (nothing was started).
 */
int reader_spawn(const struct reader_spawn *s, struct reader_proc *p, kls_mono now);

/* Closes the wake pipe of a reaped run and marks p not running (state unchanged). */
void reader_reaped(struct reader_proc *p, int wstatus);

/* Makes the sealed, read-only memfd that carries the configuration text to readers.
 * -1 with errno on failure. */
int reader_config_memfd(const char *text, size_t len);

#endif
