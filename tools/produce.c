/*
 * kls-produce: puts records into a Kinesis stream, for the demo, the bench and tests.
 *
 *   kls-produce --stream S [--create SHARDS] [--rate R | --count N] [--bytes B]
 *               [--partition-keys K] [--seq-start N] [--quiet]
 *
 * Record n (counting from --seq-start) carries "seq=<n> " followed by letters up to B
 * bytes (a record is never shorter than its "seq=<n> " prefix), with partition key
 * "pk-<n mod K>", so a consumer's output can be checked for every record. --rate R
 * paces the puts at R records per second; with --count N it stops after N records,
 * without it at SIGINT or SIGTERM. PutRecords carries up to 500 records (and at most
 * 5 MiB); entries the service refuses (throttling, internal errors) are put again,
 * in their order, with backoff. The endpoint and region come from the variables kls
 * reads (KINESIS_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL; AWS_REGION,
 * AWS_DEFAULT_REGION), credentials from the standard chain.
 *
 * Prints one line of totals on stdout. Exit status 0 when every record it meant to
 * put was put, 1 on a failure, 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/creds.h"
#include "common/kinesis.h"
#include "common/log.h"
#include "tools/cli.h"
#include "tools/payload.h"

#define PK_MAX 32
#define CALL_ATTEMPTS_MAX 20  /* failed calls (after the client's own retries) per batch */
#define ENTRY_ATTEMPTS_MAX 50 /* puts of one refused entry */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

struct opts {
	const char *stream;
	int create_shards; /* 0 = do not create */
	double rate;       /* records per second; 0 = as fast as possible */
	uint64_t count;    /* 0 = until a signal (needs --rate) */
	size_t bytes;
	uint64_t partition_keys;
	uint64_t seq_start;
	int quiet;
};

struct totals {
	uint64_t records, bytes, retried, calls;
};

/* Set by the signal handler, read by the put loop: stop after the current batch. */
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: kls-produce --stream S [--create SHARDS] [--rate R | --count N] "
	           "[--bytes B]\n"
	           "                   [--partition-keys K] [--seq-start N] [--quiet]\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "stream", required_argument, NULL, 's' },
		{ "create", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "partition-keys", required_argument, NULL, 'k' },
		{ "seq-start", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct opts){ .bytes = 100, .partition_keys = 1000 };
	while ((ch = getopt_long(argc, argv, "s:c:r:n:b:k:S:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->stream = optarg; break;
		case 'c':
			if (cli_u64("kls-produce", "--create", optarg, 1, 10000, &v) < 0)
				return -1;
			o->create_shards = (int)v;
			break;
		case 'r':
			if (cli_u64("kls-produce", "--rate", optarg, 1, 10000000, &v) < 0)
				return -1;
			o->rate = (double)v;
			break;
		case 'n':
			if (cli_u64("kls-produce", "--count", optarg, 1, UINT64_MAX / 2,
			        &o->count) < 0)
				return -1;
			break;
		case 'b':
			if (cli_u64("kls-produce", "--bytes", optarg, 1, KINESIS_RECORD_DATA_MAX,
			        &v) < 0)
				return -1;
			o->bytes = v;
			break;
		case 'k':
			if (cli_u64("kls-produce", "--partition-keys", optarg, 1, 1000000000,
			        &o->partition_keys) < 0)
				return -1;
			break;
		case 'S':
			if (cli_u64("kls-produce", "--seq-start", optarg, 0, UINT64_MAX / 2,
			        &o->seq_start) < 0)
				return -1;
			break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || o->stream == NULL || (o->count == 0 && o->rate == 0)) {
		if (optind == argc && o->stream != NULL)
			fprintf(stderr, "kls-produce: give --count, --rate or both\n");
		usage(stderr);
		return -1;
	}
	if (strlen(o->stream) > KINESIS_STREAM_NAME_MAX) {
		fprintf(stderr, "kls-produce: --stream: longer than %d characters\n",
		    KINESIS_STREAM_NAME_MAX);
		return -1;
	}
	return 0;
}

static const char *
first_env(const char *const *names)
{
	const char *v;

	for (; *names; names++)
		if ((v = getenv(*names)) != NULL && *v)
			return v;
	return NULL;
}

/* Room for one record's payload. */
static size_t
record_stride(const struct opts *o)
{
	return o->bytes > PAYLOAD_PREFIX_MAX ? o->bytes : PAYLOAD_PREFIX_MAX + 1;
}

/* Records per PutRecords call: 500, fewer when 5 MiB or the rate says so. */
static size_t
batch_size(const struct opts *o)
{
	size_t per = record_stride(o) + PK_MAX;
	size_t n = KINESIS_PUT_REQUEST_MAX / per;

	if (n > KINESIS_PUT_RECORDS_MAX)
		n = KINESIS_PUT_RECORDS_MAX;
	/* About 20 calls a second at the given rate, so the flow looks continuous. */
	if (o->rate > 0 && o->rate / 20 < (double)n)
		n = o->rate / 20 < 1 ? 1 : (size_t)(o->rate / 20);
	return n ? n : 1;
}

static int64_t
backoff_ms(int attempt)
{
	int64_t cap = BACKOFF_MIN_MS << (attempt < 6 ? attempt : 6);

	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	return cap / 2 + random() % (cap / 2 + 1);
}

/*
 * Puts entries[0..n) until every one is in, putting only the refused ones again (in
 * their order). 0, or -1 after a call failed CALL_ATTEMPTS_MAX times or an entry was
 * refused ENTRY_ATTEMPTS_MAX times (logged here), or when a stop was requested
 * during a backoff (*left then says how many are not in).
 */
static int
put_all(struct kinesis_client *kc, const char *stream, struct kinesis_put_entry *entries, size_t n,
    struct kinesis_put_result *results, struct totals *t, size_t *left)
{
	struct aws_error err;
	size_t failed, i, j;
	int call_fails = 0, refusals = 0;

	while (n > 0) {
		t->calls++;
		if (kinesis_put_records(kc, stream, entries, n, results, &failed, &err) < 0) {
			if (++call_fails >= CALL_ATTEMPTS_MAX) {
				log_errorx("%s (gave up after %d attempts)", err.message,
				    call_fails);
				*left = n;
				return -1;
			}
			log_warnx("%s; again in a moment", err.message);
			sleep_ms(backoff_ms(call_fails));
		} else {
			call_fails = 0;
			for (i = j = 0; i < n; i++) {
				if (results[i].error_code[0] == '\0') {
					t->records++;
					t->bytes += entries[i].len;
				} else {
					entries[j++] = entries[i];
				}
			}
			n = j;
			if (n == 0)
				break;
			t->retried += n;
			if (++refusals >= ENTRY_ATTEMPTS_MAX) {
				log_errorx("PutRecords %s: %zu records still refused after %d puts "
				           "(%s: %s)",
				    stream, n, refusals, results[0].error_code,
				    results[0].error_message);
				*left = n;
				return -1;
			}
			sleep_ms(backoff_ms(refusals));
		}
		if (stop_requested) {
			*left = n;
			return -1;
		}
	}
	*left = 0;
	return 0;
}

static int
create_stream(struct kinesis_client *kc, const struct opts *o)
{
	struct aws_error err;

	if (kinesis_create_stream(kc, o->stream, o->create_shards, &err) < 0 &&
	    strcmp(err.type, "ResourceInUseException") != 0) {
		log_errorx("%s", err.message);
		return -1;
	}
	if (kinesis_wait_active(kc, o->stream, 60000, NULL, &err) < 0) {
		log_errorx("%s", err.message);
		return -1;
	}
	return 0;
}

/* The put loop: batches until --count records are in or a stop is requested. */
static int
produce(struct kinesis_client *kc, const struct opts *o, struct totals *t)
{
	size_t bmax = batch_size(o), stride = record_stride(o);
	struct kinesis_put_entry *entries = calloc(bmax, sizeof(*entries));
	struct kinesis_put_result *results = calloc(bmax, sizeof(*results));
	char *data = malloc(bmax * stride), *keys = malloc(bmax * PK_MAX);
	kls_mono start = mono_now();
	uint64_t next = o->seq_start, end = o->count ? o->seq_start + o->count : UINT64_MAX;
	size_t n, i, left;
	int rc = 0;

	if (!entries || !results || !data || !keys) {
		log_errorx("out of memory for batches of %zu records", bmax);
		rc = -1;
		goto out;
	}
	while (next < end && !stop_requested) {
		n = end - next < bmax ? (size_t)(end - next) : bmax;
		if (o->rate > 0) {
			/* Record k is due k / rate seconds after the start. */
			int64_t due_ms =
			    (int64_t)((double)(next - o->seq_start) * 1000.0 / o->rate);
			int64_t wait = due_ms - mono_diff_ms(start, mono_now());

			if (wait > 0)
				sleep_ms(wait);
			if (stop_requested)
				break;
		}
		for (i = 0; i < n; i++) {
			char *d = data + i * stride, *k = keys + i * PK_MAX;

			snprintf(k, PK_MAX, "pk-%" PRIu64, (next + i) % o->partition_keys);
			entries[i] = (struct kinesis_put_entry){
				.data = d,
				.len = payload_fill(d, o->bytes, next + i),
				.partition_key = k,
			};
		}
		if (put_all(kc, o->stream, entries, n, results, t, &left) < 0) {
			/* A stop during a backoff is not a failure; the totals say what got in. */
			rc = stop_requested ? 0 : -1;
			break;
		}
		next += n;
	}
out:
	free(entries);
	free(results);
	free(data);
	free(keys);
	return rc;
}

int
main(int argc, char **argv)
{
	static const char *const endpoint_vars[] = { "KINESIS_ENDPOINT", "AWS_ENDPOINT_URL_KINESIS",
		"AWS_ENDPOINT_URL", NULL };
	static const char *const region_vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION", NULL };
	struct aws_service_config cfg;
	struct aws_creds_provider *creds = NULL;
	struct kinesis_client *kc = NULL;
	struct aws_error err;
	struct totals t = { 0 };
	struct opts o;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *region;
	kls_mono start;
	double secs;
	int rc = 1;

	log_init("kls-produce", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if ((region = first_env(region_vars)) == NULL) {
		fprintf(stderr, "kls-produce: set AWS_REGION (or AWS_DEFAULT_REGION)\n");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	srandom((unsigned)getpid());

	if ((creds = creds_provider_new(NULL)) == NULL)
		fatalx(1, "out of memory");
	kinesis_service_config(&cfg, region, first_env(endpoint_vars), creds);
	if ((kc = kinesis_client_new(&cfg, NULL, &err)) == NULL) {
		log_errorx("%s", err.message);
		goto out;
	}
	if (o.create_shards && create_stream(kc, &o) < 0)
		goto out;
	start = mono_now();
	rc = produce(kc, &o, &t) < 0 ? 1 : 0;
	secs = (double)mono_diff_ms(start, mono_now()) / 1000.0;
	if (!o.quiet || rc != 0)
		printf("kls-produce: put %" PRIu64 " records (%" PRIu64 " bytes) to %s in %.2f s "
		       "(%.0f records/s) with %" PRIu64 " calls; %" PRIu64 " retried\n",
		    t.records, t.bytes, o.stream, secs, secs > 0 ? (double)t.records / secs : 0.0,
		    t.calls, t.retried);
out:
	kinesis_client_free(kc);
	creds_provider_free(creds);
	return rc;
}
