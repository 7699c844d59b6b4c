/*
 * Code the example handlers share: parsing their [handler] configuration values, the
 * boot-time clock, and the one-line-per-record output file of the filelog and fault
 * handlers (so tests can check delivery the same way for both). Compiled into each
 * module that uses it; the modules export only their kls_handler descriptor, so
 * these names never clash with anything else in kls-reader.
 */
#ifndef KLS_EXAMPLES_SUPPORT_H
#define KLS_EXAMPLES_SUPPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kls/handler.h>

/*
 * Configuration values. Each returns 0 and stores the value (def when the key is
 * absent), or -1 with a message in err naming the key, the value and what is wrong.
 */
int ex_config_u64(const struct kls_handler_config *config, const char *key, uint64_t def,
    uint64_t max, uint64_t *out, char *err, size_t errlen);
/* yes/no, true/false, on/off, 1/0. */
int ex_config_bool(const struct kls_handler_config *config, const char *key, bool def,
    bool *out, char *err, size_t errlen);
/* A probability in [0, 1]. */
int ex_config_prob(const struct kls_handler_config *config, const char *key, double def,
    double *out, char *err, size_t errlen);

/* Nanoseconds on CLOCK_BOOTTIME: the clock klsd uses for lease deadlines, so the
 * batch times in the output file compare with them directly. */
int64_t ex_boottime_ns(void);

/*
 * Replaces every "%s" in pattern with shard_id (no other % sequence is special).
 * Returns 0, or -1 with errno ENAMETOOLONG.
 */
int ex_expand_path(char *out, size_t size, const char *pattern, const char *shard_id);

/*
 * The record file. One line per record, fields separated by one space, data last:
 *
 *   <shard> <sequence> <sub-sequence> <worker id> <reader pid> <t0> <t1> <data>
 *
 * t0 is CLOCK_BOOTTIME ns when process() was entered and t1 when the handler had
 * finished with the batch and was about to write it; the write is the handler's last
 * act in the batch, so for every pair of readers of one shard, "[t0, t1] intervals of
 * different pids never overlap" is what fencing must give. data is escaped so that a
 * record is exactly one line: printable ASCII except '\' as is, "\\", "\n", "\r", "\t",
 * any other byte as "\xHH" (lowercase hex).
 *
 * Writes: the file is opened with O_APPEND, and each write(2) carries whole lines,
 * a whole batch when it fits in LINEFILE_FLUSH bytes. Two processes appending to one
 * regular file: Linux serialises O_APPEND writes per inode on local filesystems, but
 * POSIX promises nothing for regular files (PIPE_BUF is about pipes), and a short
 * write (disk full, a signal) can split one. So a "%s" in the path gives each shard a
 * file of its own; then only the readers of one shard, which fencing keeps from
 * running at once, ever share a file. With sync, every batch is fdatasync'ed before
 * process() returns, and so before kls checkpoints it.
 */
#define LINEFILE_FLUSH (1024 * 1024)

struct linefile {
	int fd;
	bool sync;
	char *buf;
	size_t len, cap;
	char path[PATH_MAX];
};

/* Opens (creating, mode 0640) the file named by pattern expanded for shard_id.
 * Returns 0, or -1 with errno. */
int linefile_open(struct linefile *lf, const char *pattern, const char *shard_id, bool sync);
/* Writes the lines of records[0..n). Returns 0, or -1 with errno. */
int linefile_write(struct linefile *lf, const char *shard_id, const char *worker_id,
    const struct kls_record *records, size_t n, int64_t t0, int64_t t1);
void linefile_close(struct linefile *lf);

#endif
