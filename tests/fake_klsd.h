/*
 * The test as klsd, for tests that run the real reader/kls-reader: a shm table whose
 * slot 1 is assigned to one shard (slot 0 to another, so a reader that took the wrong
 * slot fails), the configuration in a sealed memfd, a wake pipe, fork+exec of the
 * reader as reader_proto.h describes, and klsd's side of the checkpoint handshake:
 * requests answered through the lease group (refused when beyond what the reader says
 * it delivered), deadlines renewed, commands sent, the reader reaped. Single-threaded:
 * the test drives it with fk_serve / fk_until. No CUnit calls: benchmarks use it too.
 */
#ifndef KLS_TEST_FAKE_KLSD_H
#define KLS_TEST_FAKE_KLSD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/table.h"

/* Checkpoints remembered per run (later ones are answered but not kept). */
#define MAX_CKPTS 256
/* Longest any one reader run may take before fk_wait kills it. */
#define RUN_TIMEOUT_MS 60000
/* The worker id the table carries. */
#define FK_WORKER_ID "testhost:7e57"

struct fake_klsd {
	char dir[PATH_MAX]; /* scratch directory */
	char shm_name[64];
	char shard_id[KLS_SHM_SHARD_MAX];
	struct kls_shm *t;
	struct kls_shm_slot *s;
	struct kls_lease l; /* ours; published whole, as klsd does */
	int wake[2];
	int cfg_fd;
	pid_t pid;
	bool exited;
	int status;
	bool renew;                  /* keep pushing the deadline 30 s ahead */
	uint32_t request_timeout_ms; /* [aws] request_timeout_ms fk_config writes; 0 = 5000 */
	bool hold;                   /* leave checkpoint requests unanswered */
	enum kls_ckpt_result answer; /* what to answer (a request beyond delivered: BEYOND) */
	struct kls_progress prog;    /* the last clean read of the progress group */
	size_t n_ckpts;              /* checkpoints persisted, in order */
	char ckpts[MAX_CKPTS][KLS_SHM_SEQ_MAX];
	uint64_t ckpt_subs[MAX_CKPTS];  /* their sub-sequence numbers */
	uint32_t ckpt_state[MAX_CKPTS]; /* the reader's handler_state at each request */
};

/* Table, slot and pipe for shard_id: RUN, deadline deadline_ms from now (may be < 0),
 * persisted checkpoint ckpt/subseq ("" = none), ckpt_gen 5; scratch directory
 * fx->dir made under the build tree. 0 or -1. */
int fk_open(struct fake_klsd *fx, const char *shard_id, int64_t deadline_ms, const char *ckpt,
    uint64_t subseq);
/* The configuration, [kls] and [reader] and [aws] keys around the extra lines given. */
int fk_config(struct fake_klsd *fx, const char *stream, const char *endpoint, const char *handler,
    const char *reader_lines, const char *handler_lines);
/* Starts $builddir/reader/kls-reader on slot 1 (with handle_segv=0 added to ASAN_OPTIONS,
 * so a crash stays a crash). */
int fk_spawn(struct fake_klsd *fx);
/* One turn of klsd's loop: waits up to ms for the wake pipe, answers a pending
 * checkpoint request (unless hold), renews the deadline (if renew), reaps. */
void fk_serve(struct fake_klsd *fx, int ms);
/* Serves until cond holds (NULL: until the reader exits); false on timeout or when
 * the reader exited first. */
bool fk_until(struct fake_klsd *fx, bool (*cond)(const struct fake_klsd *), int timeout_ms);
/* Serves until the reader exits (killed with SIGKILL after RUN_TIMEOUT_MS); its wait status.
 * fx->prog then holds the reader's last words. */
int fk_wait(struct fake_klsd *fx);
/* True when the reader exited with code; otherwise says what happened on stderr. */
bool exited_with(const struct fake_klsd *fx, int code);
/* Publishes a command and wakes the reader. */
void fk_command(struct fake_klsd *fx, enum kls_command c);
/* Kills a reader still running, closes and removes everything fk_open made. */
void fk_close(struct fake_klsd *fx);

#endif
