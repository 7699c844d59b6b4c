/*
 * kls-reader's GetRecords loop: where reading starts (the persisted checkpoint, else
 * the configured initial position), one call per turn paced by pace.c, the records
 * handed to deliver.c as one batch per response, a fresh iterator after
 * ExpiredIteratorException, backoff on throttling and transient failures, and the end
 * of a closed shard (no NextShardIterator). Between calls the loop waits in
 * reader_wait, so a DRAIN or STOP from klsd and the lease deadline are seen at once.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/creds.h"
#include "common/log.h"
#include "reader/reader.h"

static const char *const position_names[] = {
	[CONFIG_POSITION_TRIM_HORIZON] = "TRIM_HORIZON",
	[CONFIG_POSITION_LATEST] = "LATEST",
	[CONFIG_POSITION_AT_TIMESTAMP] = "AT_TIMESTAMP",
};

static int
bad_checkpoint(struct reader *r, const char *why)
{
	log_errorx("%s: lease checkpoint \"%.40s\": %s", r->shard_id, r->lease.ckpt_seq, why);
	progress_error(r, "lease checkpoint \"%.40s\": %s", r->lease.ckpt_seq, why);
	return READER_EXIT_PERMANENT;
}

/* A position (no checkpoint yet): TRIM_HORIZON, LATEST or AT_TIMESTAMP. */
static int
from_position(struct reader *r, enum config_position p)
{
	r->start.type = p == CONFIG_POSITION_LATEST         ? KINESIS_LATEST
	                : p == CONFIG_POSITION_AT_TIMESTAMP ? KINESIS_AT_TIMESTAMP
	                                                    : KINESIS_TRIM_HORIZON;
	if (p == CONFIG_POSITION_AT_TIMESTAMP) {
		if (r->cfg->reader.initial_timestamp_ms < 0)
			return bad_checkpoint(r, "AT_TIMESTAMP without [reader] initial_timestamp");
		r->start.timestamp_ms = r->cfg->reader.initial_timestamp_ms;
	}
	r->info.checkpoint = position_names[p];
	r->info.checkpoint_sub_sequence = 0;
	r->info.resumed = 0;
	return READER_CONTINUE;
}

/* Reading resumes AT_SEQUENCE_NUMBER seq: records up to (seq, sub) are done. */
static void
skip_through(struct reader *r, const char *seq, uint64_t sub)
{
	r->skip_through = true;
	memcpy(r->skip_seq, seq, strlen(seq) + 1);
	r->skip_sub = sub;
}

int
fetch_position(struct reader *r)
{
	const char *cp = r->lease.ckpt_seq;

	memset(&r->start, 0, sizeof(r->start));
	if (strcmp(cp, CKPT_SHARD_END) == 0) {
		log_info("%s: checkpoint is SHARD_END: nothing left to read", r->shard_id);
		return READER_EXIT_SHARD_END;
	}
	if (cp[0] == '\0')
		return from_position(r, r->cfg->reader.initial_position);
	for (size_t i = 0; i < sizeof(position_names) / sizeof(position_names[0]); i++)
		if (strcmp(cp, position_names[i]) == 0)
			return from_position(r, (enum config_position)i);
	if (!ckpt_sequence_valid(cp))
		return bad_checkpoint(r, "not a sequence number or an initial position");
	memcpy(r->start_seq, cp, strlen(cp) + 1);
	r->start.sequence_number = r->start_seq;
	/* As KCL: at the checkpointed record itself, whose finished part fetch_skip_done
	 * drops. (seq, 0) may be sub-record 0 of an aggregate whose later sub-records are
	 * not done, so AFTER_SEQUENCE_NUMBER would lose them; reading one record again is
	 * the price. */
	r->start.type = KINESIS_AT_SEQUENCE_NUMBER;
	skip_through(r, cp, r->lease.ckpt_subseq);
	r->info.checkpoint = r->start_seq;
	r->info.checkpoint_sub_sequence = r->lease.ckpt_subseq;
	r->info.resumed = 1;
	if (reader_ctx_resume(&r->ctx, cp, r->lease.ckpt_subseq) < 0)
		return bad_checkpoint(r, "not a sequence number");
	return READER_CONTINUE;
}

size_t
fetch_skip_done(struct reader *r, const struct kls_record *recs, size_t n)
{
	size_t i = 0;

	if (!r->skip_through)
		return 0;
	/* KCL's filter: records at or before (skip_seq, skip_sub) are done. One exception,
	 * at least once rather than lost: a record at skip_seq that was not
	 * de-aggregated while the checkpoint is inside an aggregate (a reader that read it
	 * differently wrote it) is delivered again whole. */
	for (; i < n; i++) {
		const struct kls_record *k = &recs[i];
		int c = ckpt_compare(k->sequence_number, k->sub_sequence_number, r->skip_seq,
		    r->skip_sub);

		/* c < 0 at skip_seq: a raw record (sub 0) under a checkpoint inside it. */
		if (c > 0 || (c < 0 && !(k->flags & KLS_RECORD_AGGREGATED) &&
		                 strcmp(k->sequence_number, r->skip_seq) == 0))
			break;
	}
	/* The first record after the checkpoint ends the skipping. */
	if (i < n)
		r->skip_through = false;
	return i;
}

struct kinesis_client *
fetch_client_new(struct reader *r)
{
	const struct config *cfg = r->cfg;
	/* The loops do their own pacing and backoff: one attempt per client call. */
	const struct aws_retry_policy once = { 1, 0, 0 };
	struct aws_service_config sc;
	struct aws_error err;
	struct kinesis_client *kc;

	kinesis_service_config(&sc, cfg->kls.region,
	    cfg->aws.kinesis_endpoint[0] ? cfg->aws.kinesis_endpoint : NULL, r->creds);
	sc.connect_timeout_ms = cfg->aws.connect_timeout_ms;
	sc.timeout_ms = cfg->aws.request_timeout_ms;
	sc.max_response_bytes = cfg->aws.max_response_bytes;
	if (!(kc = kinesis_client_new(&sc, &once, &err))) {
		log_errorx("%s: Kinesis client: %s", r->shard_id, err.message);
		progress_error(r, "Kinesis client: %s", err.message);
	}
	return kc;
}

int
fetch_open(struct reader *r)
{
	const struct config *cfg = r->cfg;
	struct creds_config cc = { .profile = cfg->aws.profile[0] ? cfg->aws.profile : NULL };

	r->creds = creds_provider_new(&cc);
	if (!r->creds) {
		log_errorx("%s: credentials provider: out of memory", r->shard_id);
		return READER_EXIT_TRANSIENT;
	}
	if (!(r->kc = fetch_client_new(r)))
		return READER_EXIT_PERMANENT;
	if (deagg_init(&r->deagg, r->shard_id, r->lease.hash_start, r->lease.hash_end) < 0) {
		/* EINVAL: OpenSSL has no MD5 (a FIPS-only configuration), which no restart
		 * mends. */
		int permanent = errno == EINVAL;

		log_error("%s: KPL de-aggregation", r->shard_id);
		progress_error(r, "KPL de-aggregation: %s", strerror(errno));
		return permanent ? READER_EXIT_PERMANENT : READER_EXIT_TRANSIENT;
	}
	buf_init(&r->resp, 0);
	getrecords_result_init(&r->res);
	return READER_CONTINUE;
}

void
fetch_close(struct reader *r)
{
	kinesis_client_free(r->kc);
	r->kc = NULL;
	creds_provider_free(r->creds);
	r->creds = NULL;
	buf_free(&r->resp);
	getrecords_result_free(&r->res);
	deagg_free(&r->deagg);
	free(r->recs);
	r->recs = NULL;
	r->recs_cap = 0;
}

int
fetch_failed(struct reader *r, const struct aws_error *err, kls_mono now, kls_mono *next)
{
	int64_t ms;

	if (err->cls == AWS_ERR_THROTTLED || err->cls == AWS_ERR_RETRYABLE) {
		*next = pace_failure(&r->pace, now, err->cls, &ms);
		log_warnx("%s, retry %d in %" PRId64 " ms", err->message, r->pace.attempt, ms);
		return READER_CONTINUE;
	}
	log_errorx("%s (%s): exiting", err->message, retry_class_name(err->cls));
	progress_error(r, "%s", err->message);
	return READER_EXIT_TRANSIENT;
}

/* A new shard iterator: after the last record delivered, else where reading started. */
static int
new_iterator(struct reader *r, kls_mono *next)
{
	struct kinesis_position pos = r->start;
	struct aws_error err;
	kls_mono now = mono_now();
	int rc;

	if (r->ctx.have_delivered) {
		/* At the last record delivered, then skipped, as when resuming. */
		pos.type = KINESIS_AT_SEQUENCE_NUMBER;
		pos.sequence_number = r->ctx.delivered_seq;
		skip_through(r, r->ctx.delivered_seq, r->ctx.delivered_sub);
	}
	/* GetShardIterator has a budget of its own: it does not count as a GetRecords
	 * call, so a fresh reader reads at once. */
	fence_busy(&r->fence, FENCE_NETWORK, "GetShardIterator");
	rc = kinesis_get_shard_iterator(r->kc, r->cfg->kls.stream, r->shard_id, &pos, r->iterator,
	    &err);
	fence_idle(&r->fence);
	now = mono_now();
	if (rc < 0) {
		r->iterator[0] = '\0';
		return fetch_failed(r, &err, now, next);
	}
	log_debug("%s: iterator %s%s%s", r->shard_id, kinesis_iterator_type_name(pos.type),
	    pos.sequence_number ? " " : "", pos.sequence_number ? pos.sequence_number : "");
	*next = pace_earliest(&r->pace);
	return READER_CONTINUE;
}

/* One GetRecords call and its batch. */
static int
get_batch(struct reader *r, const struct getrecords_limits *lim, kls_mono *next)
{
	struct aws_error err;
	kls_mono now = mono_now();
	size_t n, first;
	int rc;

	pace_started(&r->pace, now);
	fence_busy(&r->fence, FENCE_NETWORK, "GetRecords");
	/* Decoded in place: the batch's records live in the response body, so a batch
	 * costs one body's memory, not two. */
	rc = kinesis_get_records(r->kc, r->shard_id, r->iterator, (int)r->cfg->reader.max_records,
	    lim, &r->resp, NULL, &r->res, &err);
	fence_idle(&r->fence);
	now = mono_now();
	/* Every call, answered or not: a throttled or timed-out call took that long too.
	 * Published with the batch (or the next publish after a failure). */
	kls_lat_observe(&r->prog.getrecords, KLS_LAT_GETRECORDS, now.ns - r->pace.last_start.ns);
	if (rc < 0) {
		if (strcmp(err.type, "ExpiredIteratorException") == 0) {
			log_info("%s: shard iterator expired; getting a new one", r->shard_id);
			r->iterator[0] = '\0';
			*next = pace_earliest(&r->pace);
			return READER_CONTINUE;
		}
		return fetch_failed(r, &err, now, next);
	}
	if (deagg_batch(&r->deagg, r->shard_id, &r->res, &r->recs, &r->recs_cap, &n, &r->prog) < 0)
		return READER_EXIT_TRANSIENT;
	r->prog.millis_behind = r->res.millis_behind_latest;
	first = fetch_skip_done(r, r->recs, n);
	if (first < n) {
		rc = deliver_batch(r, r->recs + first, n - first);
		if (rc != READER_CONTINUE)
			return rc;
	} else {
		progress_publish(r);
	}
	if (!r->res.next_iterator)
		return deliver_shard_end(r);
	/* The scanner bounds it by lim->max_iterator, which is our buffer's size. */
	memcpy(r->iterator, r->res.next_iterator, r->res.next_iterator_len);
	r->iterator[r->res.next_iterator_len] = '\0';
	/* Kinesis records, not user records: a response of dropped aggregates is no idle
	 * shard. */
	*next = pace_success(&r->pace, now, r->res.n_records);
	return READER_CONTINUE;
}

int
fetch_run(struct reader *r)
{
	struct getrecords_limits lim;
	kls_mono next = KLS_MONO_ZERO;

	getrecords_limits_default(&lim);
	lim.max_iterator = KINESIS_ITERATOR_MAX;
	pace_init(&r->pace, r->cfg->reader.max_calls_per_second, r->cfg->reader.idle_backoff_ms,
	    (uint64_t)mono_now().ns ^ ((uint64_t)getpid() << 32));
	for (;;) {
		enum look lk = reader_wait(r, next);
		int rc;

		if (lk != LOOK_RUN)
			return deliver_finish(r, lk);
		if (r->iterator[0] == '\0')
			rc = new_iterator(r, &next);
		else
			rc = get_batch(r, &lim, &next);
		if (rc != READER_CONTINUE)
			return rc;
	}
}
