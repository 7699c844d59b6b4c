/*
 * The filelog handler's output as the multi-worker tests read it, and the checks that
 * fencing and delivery promise. Every worker of a test writes to one directory, one
 * file per shard ("out-<shard>.log", examples/support.h for the line format):
 *
 *   <shard> <sequence> <sub-sequence> <worker id> <reader pid> <t0> <t1> <data>
 *
 * t0/t1 are CLOCK_BOOTTIME ns at a batch's start and end, the same clock on every
 * process of the machine, so batches of different workers compare directly.
 */
#ifndef KLS_TEST_OVERLAP_H
#define KLS_TEST_OVERLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OV_ID_MAX 136     /* shard ids and sequence numbers (<= 128 characters) */
#define OV_WORKER_MAX 160 /* worker ids of the tests */

struct ov_line {
	char seq[OV_ID_MAX];
	uint64_t sub;
	char worker[OV_WORKER_MAX];
	long pid;
	int64_t t0, t1;
	long long rec; /* n of a kls-produce "seq=<n> " payload; -1 for other data */
};

struct ov_shard {
	char id[OV_ID_MAX];
	struct ov_line *v; /* in file order */
	size_t n, cap;
};

struct ov_out {
	struct ov_shard *s;
	size_t n;
};

/* Reads every out-*.log of dir (a line still being written is skipped). 0, or -1 with
 * errno (ENOMEM, or the directory could not be read). Frees what o held before. */
int ov_load(struct ov_out *o, const char *dir);
void ov_free(struct ov_out *o);
struct ov_shard *ov_find(const struct ov_out *o, const char *shard);

/* Fencing: for every shard, the [t0, t1] intervals of batches by different reader pids
 * never overlap. 0, or -1 with the first overlap described in why. */
int ov_check_overlap(const struct ov_out *o, char *why, size_t whylen);

struct ov_delivery {
	size_t lines;            /* lines with a kls-produce payload */
	size_t distinct;         /* distinct records of 0..n-1 seen */
	size_t dups;             /* lines beyond the first of a record */
	long long first_missing; /* lowest record of 0..n-1 not seen; -1 = none */
};

/* Which of kls-produce's records 0..n-1 were delivered, and how often. */
void ov_delivery(const struct ov_out *o, long long n, struct ov_delivery *d);

/* One reader process's part of a shard: its first batch start and last batch end. */
struct ov_run {
	long pid;
	char worker[OV_WORKER_MAX];
	int64_t first_t0, last_t1;
	size_t lines;
};

/* The runs of a shard in order of their first batch. *out is malloc'd (NULL when n is
 * 0). 0 or -1 (ENOMEM). */
int ov_runs(const struct ov_shard *s, struct ov_run **out, size_t *n);

/* The last t1 of reader pid's lines on shard (0 = none), and the first t0 of any other
 * reader's lines that start after `after` (INT64_MAX = none). */
int64_t ov_last_t1(const struct ov_shard *s, long pid);
int64_t ov_first_t0_after(const struct ov_shard *s, long not_pid, int64_t after);

#endif
