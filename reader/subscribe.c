/*
 * kls-reader's enhanced fan-out loop: SubscribeToShard instead of GetRecords, with every
 * guarantee of polling mode, because every record goes the way a GetRecords batch goes
 * (de-aggregation, the resume filter, deliver_batch with its fence, heartbeats and
 * automatic checkpoints, deliver_shard_end at the end of a closed shard).
 *
 *   consumer   the consumer ARN, read (never registered: klsd does that once for the
 *              application) with DescribeStreamSummary and DescribeStreamConsumer;
 *   subscribe  one SubscribeToShard at a time, at most SUBSCRIBE_PER_SECOND, from the
 *              start position (fetch_position) the first time and after the last
 *              ContinuationSequenceNumber afterwards. Its event stream goes through the
 *              decoder as libcurl hands it over; each SubscribeToShardEvent's records
 *              are delivered inside libcurl's write callback (the stream waits while
 *              the handler runs: TCP or HTTP/2 flow control holds the service back);
 *   ends       the service closes a subscription after 5 minutes: subscribe again at
 *              once. A dropped connection after events: the same. An exception or an
 *              HTTP refusal: backoff with full jitter (ResourceInUseException and
 *              throttling back off harder), or exit 1 when it cannot clear with time.
 *              No event for SUBSCRIBE_SILENCE_TIMEOUTS request timeouts: replaced. A
 *              null ContinuationSequenceNumber: end of shard, as in polling.
 *
 * While a subscription streams, libcurl's progress callback looks at the lease group
 * (DRAIN, STOP, the deadline) every SUBSCRIBE_LOOK_MS and beats the heartbeat, so the
 * reader answers klsd as it does between GetRecords calls.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/eventstream.h"
#include "common/http.h"
#include "common/kinesis_consumer.h"
#include "common/log.h"
#include "common/subscribe_event.h"
#include "reader/subscribe.h"

/* Why a subscription's transfer ended, as the callbacks saw it. */
enum sub_end {
	SUB_STREAMING = 0, /* not ended by us: the service or the network ended it */
	SUB_EXIT,          /* delivery decided the reader's exit status (exit_rc) */
	SUB_LOOK,          /* the lease group asks for something other than RUN (look) */
	SUB_SHARD_END,     /* ContinuationSequenceNumber null: the shard is closed */
	SUB_FAILED,        /* an exception event or a malformed stream (err) */
	SUB_SILENT,        /* no event for silence_ms */
};

struct sub {
	struct reader *r;
	/* A client of its own: a stream must not ride on an HTTP/1.1 connection left by a
	 * control call (common/http.h). */
	struct kinesis_client *kc;
	char consumer_arn[KINESIS_ARN_MAX + 1];
	bool consumer_fresh; /* looked up since the last ResourceNotFound on subscribe */
	char cont[KINESIS_SEQUENCE_MAX + 1]; /* the last ContinuationSequenceNumber, or "" */
	struct eventstream_decoder dec;
	/* The records of one event, decoded: the event's payload stays in the decoder's
	 * buffer (read-only), so fan-out decodes into an arena, not in place as polling. */
	struct kls_buf arena;
	struct getrecords_limits lim;
	int64_t silence_ms;
	uint64_t subscriptions;

	/* The subscription in progress. */
	kls_mono started, last_event, last_look;
	uint64_t events;
	enum sub_end end;
	int exit_rc;
	enum look look;
	struct aws_error err;
};

/* ---- the stream's callbacks ---- */

static int
stop(struct sub *s, enum sub_end why)
{
	s->end = why;
	return -1;
}

/* One SubscribeToShardEvent: its records to the handler, then its continuation. */
static int
on_records(struct sub *s, const struct subscribe_event *ev)
{
	struct reader *r = s->r;
	size_t n = r->res.n_records, first;
	int rc;

	if (deagg_batch(&r->deagg, r->shard_id, &r->res, &r->recs, &r->recs_cap, &n, &r->prog) <
	    0) {
		s->exit_rc = READER_EXIT_TRANSIENT;
		return stop(s, SUB_EXIT);
	}
	r->prog.millis_behind = r->res.millis_behind_latest;
	first = fetch_skip_done(r, r->recs, n);
	if (first < n) {
		rc = deliver_batch(r, r->recs + first, n - first);
		/* Back in the stream: the watchdog beats for it again. */
		fence_busy(&r->fence, FENCE_NETWORK, "SubscribeToShard");
		if (rc != READER_CONTINUE) {
			s->exit_rc = rc;
			return stop(s, SUB_EXIT);
		}
	} else {
		progress_publish(r);
	}
	if (ev->shard_end)
		return stop(s, SUB_SHARD_END);
	/* The scanner bounds it to GETRECORDS_MAX_SEQUENCE_LEN, our buffer's size. */
	memcpy(s->cont, r->res.continuation_sequence, r->res.continuation_sequence_len);
	s->cont[r->res.continuation_sequence_len] = '\0';
	return 0;
}

static int
on_message(struct sub *s, const struct eventstream_message *m)
{
	struct reader *r = s->r;
	struct subscribe_event ev;

	if (subscribe_event_parse(m, &s->lim, &s->arena, &r->res, &ev, &s->err) < 0) {
		/* The service's words, with the call, the shard and the type in front. */
		char what[sizeof(s->err.message)];

		memcpy(what, s->err.message, sizeof(what));
		snprintf(s->err.message, sizeof(s->err.message),
		    "SubscribeToShard %.*s: %.*s: %.*s", 128, r->shard_id, 64, s->err.type, 280,
		    what);
		return stop(s, SUB_FAILED);
	}
	s->last_event = mono_now();
	switch (ev.kind) {
	case SUBSCRIBE_EVENT_RECORDS: s->events++; return on_records(s, &ev);
	case SUBSCRIBE_EVENT_OTHER:
		log_debug("%s: SubscribeToShard event %s skipped", r->shard_id, ev.event_type);
		return 0;
	default: return 0; /* the initial response */
	}
}

static int
on_data(void *arg, const void *p, size_t n)
{
	struct sub *s = arg;
	const unsigned char *d = p;
	struct eventstream_message m;
	int rc;

	while ((rc = eventstream_next(&s->dec, &d, &n, &m)) == 1)
		if (on_message(s, &m) < 0)
			return -1;
	if (rc < 0) {
		/* A corrupt stream cannot be resynchronised: a new subscription can. */
		memset(&s->err, 0, sizeof(s->err));
		s->err.cls = AWS_ERR_RETRYABLE;
		snprintf(s->err.type, sizeof(s->err.type), "BadEventStream");
		snprintf(s->err.message, sizeof(s->err.message), "SubscribeToShard %s: %s",
		    s->r->shard_id, eventstream_error(&s->dec)->message);
		return stop(s, SUB_FAILED);
	}
	return 0;
}

static int
on_tick(void *arg)
{
	struct sub *s = arg;
	struct reader *r = s->r;
	kls_mono now = mono_now();

	if (mono_diff_ms(s->last_look, now) < SUBSCRIBE_LOOK_MS)
		return 0;
	s->last_look = now;
	s->look = reader_look(r, now);
	if (s->look != LOOK_RUN)
		return stop(s, SUB_LOOK);
	fence_beat(&r->fence, now);
	/* Still streaming, not stuck: the watchdog's bound on a network call starts again. */
	fence_busy(&r->fence, FENCE_NETWORK, "SubscribeToShard");
	if (mono_diff_ms(s->last_event, now) > s->silence_ms)
		return stop(s, SUB_SILENT);
	return 0;
}

/* ---- the loop ---- */

/* The consumer's ARN, by name, once it is ACTIVE. */
static int
find_consumer(struct sub *s, kls_mono *next)
{
	struct reader *r = s->r;
	const struct config *cfg = r->cfg;
	struct kinesis_stream_summary sum = { 0 };
	struct kinesis_consumer con;
	struct aws_error err = { 0 };
	int rc;

	fence_busy(&r->fence, FENCE_NETWORK, "DescribeStreamConsumer");
	rc = kinesis_describe_stream_summary(r->kc, cfg->kls.stream, &sum, &err);
	if (rc == 0 && !sum.stream_arn[0]) {
		snprintf(err.message, sizeof(err.message),
		    "DescribeStreamSummary %s: no StreamARN in the answer", cfg->kls.stream);
		err.cls = AWS_ERR_FATAL;
		rc = -1;
	}
	if (rc == 0)
		rc = kinesis_describe_stream_consumer(r->kc, sum.stream_arn,
		    cfg->reader.consumer_name, NULL, &con, &err);
	fence_idle(&r->fence);
	if (rc < 0 && strcmp(err.type, "ResourceNotFoundException") == 0 && sum.stream_arn[0]) {
		/* klsd registers it before it starts any reader: gone means someone removed it. */
		log_errorx("%s: consumer %s is not registered on stream %s (klsd registers it at "
		           "start): exiting",
		    r->shard_id, cfg->reader.consumer_name, cfg->kls.stream);
		progress_error(r, "consumer %s is not registered on stream %s",
		    cfg->reader.consumer_name, cfg->kls.stream);
		return READER_EXIT_TRANSIENT;
	}
	if (rc < 0)
		return fetch_failed(r, &err, mono_now(), next);
	if (strcmp(con.status, "ACTIVE") != 0) {
		memset(&err, 0, sizeof(err));
		snprintf(err.message, sizeof(err.message), "%s: consumer %s is %s, not ACTIVE yet",
		    r->shard_id, con.name, con.status);
		err.cls = AWS_ERR_RETRYABLE;
		return fetch_failed(r, &err, mono_now(), next);
	}
	memcpy(s->consumer_arn, con.arn, strlen(con.arn) + 1);
	s->consumer_fresh = true;
	log_info("%s: enhanced fan-out as consumer %s (%s)", r->shard_id, con.name, con.arn);
	*next = pace_earliest(&r->pace);
	return READER_CONTINUE;
}

/* Where this subscription starts: after the last continuation, else where reading
 * started (with fetch_skip_done dropping what the checkpoint says was done). */
static struct kinesis_position
start_of(const struct sub *s)
{
	struct kinesis_position pos = s->r->start;

	if (s->cont[0]) {
		pos.type = KINESIS_AFTER_SEQUENCE_NUMBER;
		pos.sequence_number = s->cont;
	}
	return pos;
}

/* After a transfer the service or the network ended. */
static int
ended(struct sub *s, int rc, const struct aws_error *err, kls_mono now, kls_mono *next)
{
	struct reader *r = s->r;
	int64_t age = mono_diff_ms(s->started, now);
	struct aws_error empty;

	if (rc == 0 && eventstream_finish(&s->dec) == 0 && s->events > 0) {
		log_debug("%s: subscription ended by the service after %" PRId64 " ms, %" PRIu64
		          " events",
		    r->shard_id, age, s->events);
		*next = pace_success(&r->pace, now, 1);
		return READER_CONTINUE;
	}
	if (s->events > 0) {
		/* A connection that carried events and dropped (or stopped mid-message): the
		 * shard is fine, the path was not. Subscribe again from the continuation. */
		log_warnx("%s: subscription dropped after %" PRId64 " ms and %" PRIu64
		          " events (%s): subscribing again",
		    r->shard_id, age, s->events,
		    rc == 0 ? eventstream_error(&s->dec)->message : err->message);
		*next = pace_success(&r->pace, now, 1);
		return READER_CONTINUE;
	}
	if (rc == 0) {
		bool bad = eventstream_error(&s->dec)->kind != EVENTSTREAM_ERR_NONE;

		/* A live subscription always sends events: one that ends without any is a
		 * failure to back off from, not a reason to subscribe again at once. */
		memset(&empty, 0, sizeof(empty));
		empty.cls = AWS_ERR_RETRYABLE;
		snprintf(empty.type, sizeof(empty.type), "NoEvent");
		snprintf(empty.message, sizeof(empty.message),
		    "SubscribeToShard %s: the stream ended after %" PRId64
		    " ms without an event%s%s",
		    r->shard_id, age, bad ? ": " : "",
		    bad ? eventstream_error(&s->dec)->message : "");
		return fetch_failed(r, &empty, now, next);
	}
	if (strcmp(err->type, "ResourceNotFoundException") == 0 && !s->consumer_fresh) {
		/* The consumer may have been registered again under a new ARN. */
		log_warnx("%s: look up the consumer again", err->message);
		s->consumer_arn[0] = '\0';
		*next = now;
		return READER_CONTINUE;
	}
	return fetch_failed(r, err, now, next);
}

static int
subscribe_once(struct sub *s, kls_mono *next)
{
	struct reader *r = s->r;
	const struct http_stream stream = { on_data, on_tick, s };
	struct kinesis_position pos = start_of(s);
	struct aws_error err;
	kls_mono now = mono_now();
	int rc;

	eventstream_reset(&s->dec);
	s->end = SUB_STREAMING;
	s->started = s->last_event = s->last_look = now;
	s->events = 0;
	s->subscriptions++;
	/* For kls-ctl status and the metrics: one publish per call, none per event. */
	r->prog.fanout_started_ns = now.ns;
	r->prog.fanout_resubscribes = s->subscriptions - 1;
	progress_publish(r);
	log_debug("%s: SubscribeToShard %s%s%s (subscription %" PRIu64 ")", r->shard_id,
	    kinesis_iterator_type_name(pos.type), pos.sequence_number ? " " : "",
	    pos.sequence_number ? pos.sequence_number : "", s->subscriptions);
	pace_started(&r->pace, now);
	fence_busy(&r->fence, FENCE_NETWORK, "SubscribeToShard");
	rc = kinesis_subscribe_to_shard(s->kc, s->consumer_arn, r->shard_id, &pos, &stream, &err);
	fence_idle(&r->fence);
	now = mono_now();
	/* No subscription until the next call: kls-ctl must not show a backoff as age. */
	r->prog.fanout_started_ns = 0;
	progress_publish(r);
	if (s->events > 0)
		s->consumer_fresh = false;
	switch (s->end) {
	case SUB_EXIT: return s->exit_rc;
	case SUB_LOOK: return deliver_finish(r, s->look);
	case SUB_SHARD_END: return deliver_shard_end(r);
	case SUB_FAILED: return fetch_failed(r, &s->err, now, next);
	case SUB_SILENT:
		log_warnx("%s: no event for %" PRId64 " ms on subscription %" PRIu64
		          ": subscribing again",
		    r->shard_id, s->silence_ms, s->subscriptions);
		*next = pace_earliest(&r->pace);
		return READER_CONTINUE;
	case SUB_STREAMING: break;
	}
	return ended(s, rc, &err, now, next);
}

static int
sub_open(struct sub *s, struct reader *r)
{
	const struct config *cfg = r->cfg;

	memset(s, 0, sizeof(*s));
	s->r = r;
	s->silence_ms = (int64_t)SUBSCRIBE_SILENCE_TIMEOUTS * cfg->aws.request_timeout_ms;
	getrecords_limits_default(&s->lim);
	buf_init(&s->arena, 0);
	if (eventstream_init(&s->dec, NULL) < 0) {
		log_error("%s: event stream decoder", r->shard_id);
		return READER_EXIT_TRANSIENT;
	}
	if (!(s->kc = fetch_client_new(r))) {
		eventstream_free(&s->dec);
		return READER_EXIT_PERMANENT;
	}
	/* One call a second; no idle pause: the service pushes. */
	pace_init(&r->pace, SUBSCRIBE_PER_SECOND, 0,
	    (uint64_t)mono_now().ns ^ ((uint64_t)getpid() << 32));
	r->prog.read_mode = KLS_READ_FANOUT;
	progress_publish(r);
	return READER_CONTINUE;
}

static void
sub_close(struct sub *s)
{
	kinesis_client_free(s->kc);
	eventstream_free(&s->dec);
	buf_free(&s->arena);
}

int
subscribe_run(struct reader *r)
{
	struct sub s;
	kls_mono next = KLS_MONO_ZERO;
	int rc;

	if ((rc = sub_open(&s, r)) != READER_CONTINUE)
		return rc;
	for (;;) {
		enum look lk = reader_wait(r, next);

		if (lk != LOOK_RUN) {
			rc = deliver_finish(r, lk);
			break;
		}
		rc = s.consumer_arn[0] ? subscribe_once(&s, &next) : find_consumer(&s, &next);
		if (rc != READER_CONTINUE)
			break;
	}
	log_info("%s: %" PRIu64 " subscriptions", r->shard_id, s.subscriptions);
	sub_close(&s);
	return rc;
}
