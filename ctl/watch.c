/*
 * kls-ctl status --watch: the shm table read every N seconds and shown as a table with
 * each shard's lag (millis behind latest) and its records and bytes per second, computed
 * from two consecutive reads, and each shard's read mode (for fan-out, the current
 * subscription's age and the resubscriptions). Like status, it never asks klsd.
 *
 * A rate needs the same reader run in both reads (same slot, shard and reader pid, and
 * totals that did not go back): a reader restarted in between counts from 0 again, and
 * its rate is shown as "-" for one refresh rather than as a negative or invented number.
 */
#include "config.h"

#include "ctl/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A shard cell: an id and room for nothing else. */
#define WATCH_CELL (KLS_SHM_SHARD_MAX + 8)

void
ctl_watch_rate(const struct ctl_row *before, const struct ctl_row *now, double seconds,
    struct ctl_rate *out)
{
	memset(out, 0, sizeof(*out));
	if (!before || seconds <= 0 || before->lease_torn || before->progress_torn ||
	    now->lease_torn || now->progress_torn || before->slot != now->slot ||
	    strcmp(before->lease.shard_id, now->lease.shard_id) != 0 ||
	    before->lease.reader_pid != now->lease.reader_pid ||
	    now->progress.records < before->progress.records ||
	    now->progress.bytes < before->progress.bytes)
		return;
	out->known = true;
	out->records_s = (double)(now->progress.records - before->progress.records) / seconds;
	out->bytes_s = (double)(now->progress.bytes - before->progress.bytes) / seconds;
}

static const struct ctl_row *
find_slot(const struct ctl_status *st, uint32_t slot)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->rows[i].slot == slot)
			return &st->rows[i];
	return NULL;
}

int
ctl_watch_text(const struct ctl_status *prev, const struct ctl_status *cur, FILE *out)
{
	double seconds = (double)(cur->now.ns - prev->now.ns) / 1e9, total = 0;
	char app[KLS_SHM_NAME_MAX], stream[KLS_SHM_NAME_MAX];

	ctl_fmt_safe(app, sizeof(app), cur->application);
	ctl_fmt_safe(stream, sizeof(stream), cur->stream);
	fprintf(out, "application %s  stream %s  klsd pid %ld%s  %zu shards  (rates over %.1f s)\n",
	    app, stream, cur->klsd_pid, cur->klsd_alive ? "" : " (not running)", cur->n, seconds);
	fprintf(out, "%-5s %-28s %-9s %-8s %-8s %12s %10s %12s %10s %-7s %8s %6s\n", "SLOT",
	    "SHARD", "STATE", "PID", "RESTARTS", "RECORDS", "REC/S", "BYTES/S", "LAG_MS", "MODE",
	    "SUB_AGE", "RESUBS");
	for (size_t i = 0; i < cur->n; i++) {
		const struct ctl_row *r = &cur->rows[i];
		struct ctl_rate rate;
		char shard[WATCH_CELL], pid[24] = "-", recs[24] = "-", rs[24] = "-", bs[24] = "-",
		                        lag[24] = "-", sub_age[24] = "-", resubs[24] = "-";
		const char *mode = ctl_row_mode(r);
		int64_t age;
		uint64_t n_resubs;

		ctl_watch_rate(find_slot(prev, r->slot), r, seconds, &rate);
		ctl_fmt_safe(shard, sizeof(shard), r->lease_torn ? "-" : r->lease.shard_id);
		if (!r->lease_torn && r->lease.reader_pid > 0)
			snprintf(pid, sizeof(pid), "%ld", (long)r->lease.reader_pid);
		if (!r->progress_torn) {
			snprintf(recs, sizeof(recs), "%" PRIu64, r->progress.records);
			if (r->progress.millis_behind >= 0)
				snprintf(lag, sizeof(lag), "%" PRId64, r->progress.millis_behind);
		}
		if (ctl_row_fanout(r, cur->now, &age, &n_resubs)) {
			if (age >= 0)
				snprintf(sub_age, sizeof(sub_age), "%" PRId64 "s", age / 1000);
			snprintf(resubs, sizeof(resubs), "%" PRIu64, n_resubs);
		}
		if (rate.known) {
			snprintf(rs, sizeof(rs), "%.1f", rate.records_s);
			snprintf(bs, sizeof(bs), "%.0f", rate.bytes_s);
			total += rate.records_s;
		}
		fprintf(out,
		    "%-5u %-28s %-9s %-8s %-8" PRIu32 " %12s %10s %12s %10s %-7s %8s %6s\n",
		    r->slot, shard,
		    r->lease_torn || r->progress_torn ? "torn" : kls_slot_state_name(r->state), pid,
		    r->lease_torn ? 0 : r->lease.restarts, recs, rs, bs, lag, mode ? mode : "-",
		    sub_age, resubs);
	}
	fprintf(out, "total %.1f records/s\n", total);
	return ferror(out) ? -1 : 0;
}

int
ctl_status_watch(const struct kls_shm *t, int64_t interval_ms, long count, FILE *out, FILE *err)
{
	struct ctl_status a, b, *prev = &a, *cur = &b;
	bool tty = isatty(fileno(out));
	struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000 };
	int rc = 0;

	if (ctl_status_read(t, KLS_SHM_READ_TRIES, prev) < 0) {
		fprintf(err, "kls-ctl status: %s\n", strerror(errno));
		return 1;
	}
	for (long i = 0; count <= 0 || i < count; i++) {
		struct ctl_status *tmp;

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ts = (struct timespec){ interval_ms / 1000, (interval_ms % 1000) * 1000000 };
		if (ctl_status_read(t, KLS_SHM_READ_TRIES, cur) < 0) {
			fprintf(err, "kls-ctl status: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (tty)
			fputs("\033[H\033[2J", out); /* home, clear: a table in place */
		if (ctl_watch_text(prev, cur, out) < 0 || fflush(out) != 0) {
			fprintf(err, "kls-ctl status: writing output: %s\n", strerror(errno));
			ctl_status_free(cur);
			rc = 1;
			break;
		}
		ctl_status_free(prev);
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	ctl_status_free(prev);
	return rc;
}
