/*
 * CPU time per record of one kls-reader consuming a shard, with this program playing
 * klsd (tests/fake_klsd.c) and Kinesis: a loopback endpoint that builds GetRecords
 * bodies of the service's shape (56-digit increasing sequence numbers, base64 data,
 * arrival timestamps, MillisBehindLatest) on request, so the emulator's speed does not
 * matter: only the reader's own CPU time is measured (getrusage of the waited-for
 * child). The handler is examples/counting.so with checkpoint = auto, so every batch
 * also goes through the checkpoint handshake.
 *
 *   make bench-reader [BENCH_READER_ARGS="--records N --record-bytes N --per-call N
 *       --aggregate K"]
 *
 * With --aggregate K > 1 every Kinesis record is a KPL aggregate of K user records of
 * record-bytes each (distinct 36-character partition keys, as KPL producers write them),
 * the lease carries the whole hash-key range (so the range check runs), --records counts
 * user records and --per-call Kinesis records; the cost is per user record delivered.
 *
 * Two runs: one of a single call (start-up and teardown cost) and the full one; the
 * difference divided by the extra records is the steady-state cost per record. Build
 * without sanitizers and with -O2 for numbers worth quoting. The reader keeps to
 * max_calls_per_second = 5, so a run takes records / per_call / 5 seconds of wall time.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/kpl_encode.h"
#include "tests/fake_klsd.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

struct feed {
	size_t records, record_bytes, per_call;
	size_t aggregate; /* user records per Kinesis record: 1 = plain records */
	char *b64;        /* one Kinesis record's Data */
};

/* Answers GetShardIterator with "it-0" and GetRecords "it-K" with records
 * [K * per_call, ...), the last page without NextShardIterator (a closed shard). */
static void
serve(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct feed *f = arg;
	const char *it = strstr(req->body, "\"it-");
	size_t k, from, to;

	if (!strstr(req->headers, "GetRecords")) {
		buf_puts(&resp->body, "{\"ShardIterator\":\"it-0\"}");
		return;
	}
	k = it ? strtoul(it + 4, NULL, 10) : 0;
	/* Kinesis records: records / aggregate of them. */
	from = k * f->per_call;
	to = from + f->per_call < f->records / f->aggregate ? from + f->per_call
	                                                    : f->records / f->aggregate;
	buf_reserve(&resp->body, (to - from) * (strlen(f->b64) + 160) + 256);
	buf_puts(&resp->body, "{\"Records\":[");
	for (size_t i = from; i < to; i++)
		buf_printf(&resp->body,
		    "%s{\"SequenceNumber\":\"4963%052zu\",\"ApproximateArrivalTimestamp\":1.7%"
		    "05zu0123E9,"
		    "\"Data\":\"%s\",\"PartitionKey\":\"%08zx-1f2e-4d3c-8b7a-%012zu\"}",
		    i > from ? "," : "", i + 1, i % 100000, f->b64, i * 2654435761u, i);
	buf_puts(&resp->body, "]");
	if (to < f->records / f->aggregate)
		buf_printf(&resp->body, ",\"NextShardIterator\":\"it-%zu\"", k + 1);
	buf_printf(&resp->body, ",\"MillisBehindLatest\":%zu}",
	    (f->records / f->aggregate - to) / 10);
}

struct result {
	double cpu_s, sys_s;
	long maxrss_kb;
	long minflt, nvcsw; /* page faults and voluntary context switches */
	double wall_s;
	int status;
};

static int
run(struct feed *f, struct result *out)
{
	struct stub_server *srv = stub_start(serve, f);
	struct fake_klsd fx;
	struct rusage before, after;
	char handler[PATH_MAX], lines[128];
	kls_mono t0;
	int rc = -1;

	if (!srv || fk_open(&fx, "shardId-000000000000", 60000, "", 0) < 0)
		goto out;
	/* klsd gives the shard's range; a single-shard stream owns all of it. */
	snprintf(fx.l.hash_start, sizeof(fx.l.hash_start), "0");
	snprintf(fx.l.hash_end, sizeof(fx.l.hash_end), "340282366920938463463374607431768211455");
	kls_shm_lease_publish(fx.s, &fx.l);
	snprintf(handler, sizeof(handler), "%s/examples/.libs/counting.so", test_builddir());
	snprintf(lines, sizeof(lines), "max_records = %zu\nmax_calls_per_second = 5", f->per_call);
	if (fk_config(&fx, "bench", stub_url(srv), handler, lines, "log_every = 0") < 0)
		goto out;
	getrusage(RUSAGE_CHILDREN, &before);
	t0 = mono_now();
	if (fk_spawn(&fx) < 0)
		goto out;
	out->status = fk_wait(&fx);
	out->wall_s = (double)(mono_now().ns - t0.ns) / 1e9;
	getrusage(RUSAGE_CHILDREN, &after);
	out->cpu_s = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
	             (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
	             (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6 +
	             (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
	out->sys_s = (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
	             (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
	out->maxrss_kb = after.ru_maxrss;
	out->minflt = after.ru_minflt - before.ru_minflt;
	out->nvcsw = after.ru_nvcsw - before.ru_nvcsw;
	rc =
	    WIFEXITED(out->status) && WEXITSTATUS(out->status) == 4 && fx.prog.records == f->records
	        ? 0
	        : -1;
	if (rc < 0)
		fprintf(stderr, "reader_bench: wait status 0x%x, %" PRIu64 " of %zu records (%s)\n",
		    out->status, fx.prog.records, f->records, fx.prog.last_error);
out:
	fk_close(&fx);
	stub_stop(srv);
	return rc;
}

int
main(int argc, char **argv)
{
	struct feed f = { .records = 500000,
		.record_bytes = 100,
		.per_call = 10000,
		.aggregate = 1 };
	struct result small, full;
	struct kls_buf agg;
	unsigned char *data;

	for (int i = 1; i + 1 < argc; i += 2) {
		size_t v = strtoul(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--records") == 0)
			f.records = v;
		else if (strcmp(argv[i], "--record-bytes") == 0)
			f.record_bytes = v;
		else if (strcmp(argv[i], "--per-call") == 0)
			f.per_call = v;
		else if (strcmp(argv[i], "--aggregate") == 0)
			f.aggregate = v;
	}
	if (f.per_call < 1 || f.per_call > 10000 || f.record_bytes < 1 ||
	    f.record_bytes > 1024 * 1024 || f.aggregate < 1 || f.aggregate > 10000 ||
	    f.records % f.aggregate != 0 || f.records / f.aggregate <= f.per_call ||
	    f.aggregate * f.record_bytes > 1000 * 1000) {
		fprintf(stderr,
		    "usage: reader_bench [--records N] [--record-bytes 1..1MiB] "
		    "[--per-call 1..10000] [--aggregate 1..10000]\n"
		    "  records a multiple of aggregate, records / aggregate > per-call, "
		    "aggregate * record-bytes <= 1 MB\n");
		return 2;
	}
	data = malloc(f.record_bytes);
	for (size_t i = 0; i < f.record_bytes; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	buf_init(&agg, 0);
	if (f.aggregate == 1) {
		buf_append(&agg, data, f.record_bytes);
	} else {
		struct kpl_entry *e = calloc(f.aggregate, sizeof(*e));
		char(*pk)[64] = calloc(f.aggregate, sizeof(*pk));

		for (size_t i = 0; i < f.aggregate; i++) {
			snprintf(pk[i], sizeof(pk[i]), "%08zx-1f2e-4d3c-8b7a-%012zu",
			    i * 2654435761u, i);
			e[i] = (struct kpl_entry){ data, f.record_bytes, pk[i], strlen(pk[i]), NULL,
				0 };
		}
		if (kpl_encode(&agg, e, f.aggregate) < 0) {
			perror("kpl_encode");
			return 1;
		}
		free(e);
		free(pk);
	}
	f.b64 = malloc(base64_encoded_len(agg.len) + 1);
	base64_encode(f.b64, agg.data, agg.len);
	buf_free(&agg);
	free(data);

	{
		struct feed one = f;
		one.records = f.per_call * f.aggregate;
		if (run(&one, &small) < 0 || run(&f, &full) < 0)
			return 1;
	}
	{
		size_t first = f.per_call * f.aggregate; /* user records in the one-call run */
		size_t calls = (f.records / f.aggregate + f.per_call - 1) / f.per_call;

		printf("one call:  %zu records, %.3f s CPU (%.3f s system), max RSS %ld KiB, "
		       "%ld page faults, %ld voluntary switches\n",
		    first, small.cpu_s, small.sys_s, small.maxrss_kb, small.minflt, small.nvcsw);
		printf("full run:  %zu records of %zu bytes (%zu per Kinesis record), %.3f s CPU "
		       "(%.3f s system), %.1f s wall, max RSS %ld KiB, %ld page faults, "
		       "%ld voluntary switches\n",
		    f.records, f.record_bytes, f.aggregate, full.cpu_s, full.sys_s, full.wall_s,
		    full.maxrss_kb, full.minflt, full.nvcsw);
		printf("{\"records\":%zu,\"record_bytes\":%zu,\"aggregate\":%zu,"
		       "\"cpu_us_per_record\":%.3f,\"steady_cpu_us_per_record\":%.3f,"
		       "\"steady_system_us_per_record\":%.3f,\"startup_cpu_ms\":%.1f,"
		       "\"max_rss_kib\":%ld,\"steady_faults_per_call\":%.1f}\n",
		    f.records, f.record_bytes, f.aggregate, full.cpu_s * 1e6 / (double)f.records,
		    (full.cpu_s - small.cpu_s) * 1e6 / (double)(f.records - first),
		    (full.sys_s - small.sys_s) * 1e6 / (double)(f.records - first),
		    small.cpu_s * 1e3, full.maxrss_kb,
		    (double)(full.minflt - small.minflt) / (double)(calls - 1));
	}
	free(f.b64);
	return 0;
}
