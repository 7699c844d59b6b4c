/*
 * Poison records, the reader's half: when klsd has seen this shard's reader crash again
 * and again at the same persisted checkpoint and [reader] poison_policy = dead-letter, it
 * sets lease.first_batch = KLS_BATCH_DEAD_LETTER before the next spawn. That run writes
 * its first batch (the one right after the checkpoint, which holds the record that kept
 * killing the handler) to [reader] dead_letter_dir instead of calling process(), and
 * deliver.c then checkpoints its last record, so reading moves past it.
 *
 * One file per batch, "<dir>/<shard>-<first sequence>.dead", written to a temporary
 * name, synced and renamed, so a crash never leaves half a file under the final name.
 * Its format, for tools that replay it:
 *
 *   kls-dead-letter 1 stream <stream> shard <shard> records <n> first <seq> last <seq>\n
 *   then per record:
 *   record <sequence> <sub-sequence> <arrival ms> <key bytes> <data bytes>\n
 *   <partition key bytes><data bytes>\n
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "reader/reader.h"

bool
dead_letter_due(struct reader *r)
{
	bool first = !r->first_batch_done;

	r->first_batch_done = true;
	return first && r->lease.first_batch == KLS_BATCH_DEAD_LETTER;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
write_batch(int fd, const struct reader *r, const struct kls_record *recs, size_t n)
{
	char line[512];
	int len;

	len = snprintf(line, sizeof(line),
	    "kls-dead-letter 1 stream %s shard %s records %zu first %s last %s\n",
	    r->cfg->kls.stream, r->shard_id, n, recs[0].sequence_number,
	    recs[n - 1].sequence_number);
	if (len < 0 || (size_t)len >= sizeof(line) || write_all(fd, line, (size_t)len) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct kls_record *x = &recs[i];
		size_t klen = strlen(x->partition_key);

		len = snprintf(line, sizeof(line), "record %s %" PRIu64 " %" PRId64 " %zu %zu\n",
		    x->sequence_number, x->sub_sequence_number, x->approximate_arrival_ms, klen,
		    x->data_len);
		if (len < 0 || (size_t)len >= sizeof(line) ||
		    write_all(fd, line, (size_t)len) < 0 ||
		    write_all(fd, x->partition_key, klen) < 0 ||
		    write_all(fd, x->data, x->data_len) < 0 || write_all(fd, "\n", 1) < 0)
			return -1;
	}
	return 0;
}

int
dead_letter_write(struct reader *r, const struct kls_record *recs, size_t n)
{
	const char *dir = r->cfg->reader.dead_letter_dir;
	char name[NAME_MAX + 1], path[PATH_MAX], tmp[PATH_MAX];
	int fd, dfd, len;

	if (!dir[0]) {
		progress_error(r, "dead-letter requested, but [reader] dead_letter_dir is not set");
		log_errorx("%s: dead-letter requested, but [reader] dead_letter_dir is not set",
		    r->shard_id);
		return -1;
	}
	len = snprintf(name, sizeof(name), "%s-%s.dead", r->shard_id, recs[0].sequence_number);
	if (len < 0 || (size_t)len >= sizeof(name) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp)) {
		progress_error(r, "dead-letter file name too long");
		log_errorx("%s: dead-letter file name for %s is too long", r->shard_id,
		    recs[0].sequence_number);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_batch(fd, r, recs, n) < 0 || fsync(fd) < 0) {
		int e = errno;
		log_error("%s: writing dead-letter file %s", r->shard_id, tmp);
		progress_error(r, "dead-letter %s: %s", tmp, strerror(e));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		log_error("%s: dead-letter rename %s -> %s", r->shard_id, tmp, path);
		progress_error(r, "dead-letter %s: %s", path, strerror(e));
		unlink(tmp);
		return -1;
	}
	/* The rename is durable only once the directory is synced. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) < 0)
			log_warn("%s: fsync %s", r->shard_id, dir);
		close(dfd);
	}
	log_warnx("%s: poison record: %zu records %s to %s written to %s instead of the handler",
	    r->shard_id, n, recs[0].sequence_number, recs[n - 1].sequence_number, path);
	return 0;
}
