/*
 * Stream consumers and SubscribeToShard on the Kinesis client: see kinesis_consumer.h.
 * Control calls go through awsj_send like the rest of the client; SubscribeToShard goes
 * through aws_call_stream, once, so the reader owns its retries.
 */
#include "config.h"

#include "common/kinesis_consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/awsjson.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/kinesis_int.h"
#include "common/subscribe_event.h"

/* Longest pause between two looks while waiting for a consumer's state to change. */
#define WAIT_PAUSE_MAX_MS 2000

void
kinesis_consumer_list_free(struct kinesis_consumer_list *l)
{
	free(l->consumers);
	l->consumers = NULL;
	l->n = l->cap = 0;
}

/* ---- argument checks ---- */

static bool
valid_consumer_name(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= KINESIS_CONSUMER_NAME_MAX ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		        (s[n] >= '0' && s[n] <= '9') || strchr("_.-", s[n])))
			return false;
	return n > 0;
}

/* An ARN: "arn:" then printable ASCII without spaces, at most KINESIS_ARN_MAX. */
static bool
valid_arn(const char *s)
{
	size_t n = 0;

	if (!s || strncmp(s, "arn:", 4) != 0)
		return false;
	for (; s[n]; n++)
		if (n >= KINESIS_ARN_MAX || (unsigned char)s[n] <= 0x20 ||
		    (unsigned char)s[n] >= 0x7f)
			return false;
	return true;
}

static int
check_arn(const char *call, const char *what, const char *arn, struct aws_error *err)
{
	if (valid_arn(arn))
		return 0;
	awsj_local_error(err, "InvalidArgument",
	    "%s: %s \"%.*s\" is not an ARN of at most %d characters", call, what, 140,
	    arn ? arn : "(null)", KINESIS_ARN_MAX);
	return -1;
}

/* By name (stream_arn and name) or by consumer_arn, exactly one of the two. */
static int
check_target(const char *call, const char *stream_arn, const char *name, const char *consumer_arn,
    struct aws_error *err)
{
	if (consumer_arn && !stream_arn && !name)
		return check_arn(call, "consumer ARN", consumer_arn, err);
	if (consumer_arn || !stream_arn || !name) {
		awsj_local_error(err, "InvalidArgument",
		    "%s: give a stream ARN and a consumer name, or a consumer ARN alone", call);
		return -1;
	}
	if (check_arn(call, "stream ARN", stream_arn, err) < 0)
		return -1;
	if (!valid_consumer_name(name)) {
		awsj_local_error(err, "InvalidArgument",
		    "%s: consumer name \"%.*s\" is not 1..128 characters of [a-zA-Z0-9_.-]", call,
		    140, name);
		return -1;
	}
	return 0;
}

/* {"StreamARN", "ConsumerName"} or {"ConsumerARN"}; NULL when out of memory. */
static json_object *
target_request(const char *stream_arn, const char *name, const char *consumer_arn)
{
	json_object *req = json_object_new_object();

	if (req && (consumer_arn ? awsj_add_str(req, "ConsumerARN", consumer_arn) < 0
	                         : awsj_add_str(req, "StreamARN", stream_arn) < 0 ||
	                               awsj_add_str(req, "ConsumerName", name) < 0)) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

/* How errors name the consumer. */
static const char *
target_name(const char *name, const char *consumer_arn)
{
	return consumer_arn ? consumer_arn : name;
}

/* ---- responses ---- */

static int
parse_consumer_obj(json_object *o, const char *where, struct kinesis_consumer *out,
    struct aws_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(o, json_type_object)) {
		awsj_bad_response(err, "%s: %s, expected an object", where,
		    json_type_to_name(json_object_get_type(o)));
		return -1;
	}
	if (awsj_str(o, where, "ConsumerName", true, KINESIS_CONSUMER_NAME_MAX, out->name,
	        sizeof(out->name), err) < 0 ||
	    awsj_str(o, where, "ConsumerARN", true, KINESIS_ARN_MAX, out->arn, sizeof(out->arn),
	        err) < 0 ||
	    awsj_str(o, where, "ConsumerStatus", true, sizeof(out->status) - 1, out->status,
	        sizeof(out->status), err) < 0 ||
	    awsj_double(o, where, "ConsumerCreationTimestamp", false, &out->creation_timestamp,
	        err) < 0 ||
	    awsj_str(o, where, "StreamARN", false, KINESIS_ARN_MAX, out->stream_arn,
	        sizeof(out->stream_arn), err) < 0)
		return -1;
	if (!valid_arn(out->arn)) {
		awsj_bad_response(err, "%s.ConsumerARN: \"%.*s\" is not an ARN", where, 140,
		    out->arn);
		return -1;
	}
	if (!out->name[0] || !out->status[0]) {
		awsj_bad_response(err, "%s: empty ConsumerName or ConsumerStatus", where);
		return -1;
	}
	return 0;
}

int
kinesis_parse_consumer(const char *body, size_t len, const char *key, struct kinesis_consumer *out,
    struct aws_error *err)
{
	json_object *o, *d;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!(o = awsj_parse(body, len, err)))
		return -1;
	if (awsj_obj(o, "", key, true, false, &d, err) == 0)
		rc = parse_consumer_obj(d, key, out, err);
	json_object_put(o);
	return rc;
}

static int
parse_consumer_item(json_object *o, const char *where, void *out, struct aws_error *err)
{
	return parse_consumer_obj(o, where, out, err);
}

int
kinesis_parse_list_consumers(const char *body, size_t len, struct kinesis_consumer_list *list,
    size_t max, char **next_token, struct aws_error *err)
{
	static const struct kin_page page = { "Consumers", "consumers",
		sizeof(struct kinesis_consumer), KINESIS_CONSUMERS_MAX, parse_consumer_item };
	void *items = list->consumers;
	int rc =
	    kin_parse_page(body, len, &page, &items, &list->n, &list->cap, max, next_token, err);

	list->consumers = items;
	return rc;
}

/* ---- calls ---- */

int
kinesis_register_stream_consumer(struct kinesis_client *c, const char *stream_arn, const char *name,
    struct kinesis_consumer *out, struct aws_error *err)
{
	struct kinesis_consumer tmp;
	json_object *req;
	int rc;

	if (check_target("RegisterStreamConsumer", stream_arn, name, NULL, err) < 0)
		return -1;
	if (!(req = target_request(stream_arn, name, NULL)))
		return kin_no_memory(err, "RegisterStreamConsumer", name);
	rc = awsj_send(&c->j, "RegisterStreamConsumer", req, err);
	if (rc == 0)
		rc = kinesis_parse_consumer(c->j.resp.data, c->j.resp.len, "Consumer",
		    out ? out : &tmp, err);
	if (rc < 0)
		awsj_context(err, "RegisterStreamConsumer %s", name);
	return rc;
}

int
kinesis_describe_stream_consumer(struct kinesis_client *c, const char *stream_arn, const char *name,
    const char *consumer_arn, struct kinesis_consumer *out, struct aws_error *err)
{
	json_object *req;
	int rc;

	if (check_target("DescribeStreamConsumer", stream_arn, name, consumer_arn, err) < 0)
		return -1;
	if (!(req = target_request(stream_arn, name, consumer_arn)))
		return kin_no_memory(err, "DescribeStreamConsumer",
		    target_name(name, consumer_arn));
	rc = awsj_send(&c->j, "DescribeStreamConsumer", req, err);
	if (rc == 0)
		rc = kinesis_parse_consumer(c->j.resp.data, c->j.resp.len, "ConsumerDescription",
		    out, err);
	if (rc < 0)
		awsj_context(err, "DescribeStreamConsumer %s", target_name(name, consumer_arn));
	return rc;
}

int
kinesis_list_stream_consumers(struct kinesis_client *c, const char *stream_arn,
    struct kinesis_consumer_list *out, struct aws_error *err)
{
	char *token = NULL;
	int page;

	out->n = 0;
	if (check_arn("ListStreamConsumers", "stream ARN", stream_arn, err) < 0)
		return -1;
	for (page = 1; page <= KINESIS_CONSUMER_PAGES_MAX; page++) {
		json_object *req = json_object_new_object();
		int rc;

		if (!req || awsj_add_str(req, "StreamARN", stream_arn) < 0 ||
		    (token && awsj_add_str(req, "NextToken", token) < 0)) {
			json_object_put(req);
			kin_no_memory(err, "ListStreamConsumers", stream_arn);
			goto fail;
		}
		free(token);
		token = NULL;
		rc = awsj_send(&c->j, "ListStreamConsumers", req, err);
		if (rc == 0)
			rc = kinesis_parse_list_consumers(c->j.resp.data, c->j.resp.len, out,
			    KINESIS_CONSUMERS_MAX, &token, err);
		if (rc < 0) {
			awsj_context(err, "ListStreamConsumers %s (page %d)", stream_arn, page);
			goto fail;
		}
		if (!token)
			return 0;
	}
	awsj_bad_response(err, "ListStreamConsumers %s: still a NextToken after %d pages",
	    stream_arn, KINESIS_CONSUMER_PAGES_MAX);
fail:
	free(token);
	out->n = 0;
	return -1;
}

int
kinesis_deregister_stream_consumer(struct kinesis_client *c, const char *stream_arn,
    const char *name, const char *consumer_arn, struct aws_error *err)
{
	json_object *req;

	if (check_target("DeregisterStreamConsumer", stream_arn, name, consumer_arn, err) < 0)
		return -1;
	if (!(req = target_request(stream_arn, name, consumer_arn)))
		return kin_no_memory(err, "DeregisterStreamConsumer",
		    target_name(name, consumer_arn));
	if (awsj_send(&c->j, "DeregisterStreamConsumer", req, err) < 0) {
		awsj_context(err, "DeregisterStreamConsumer %s", target_name(name, consumer_arn));
		return -1;
	}
	return 0;
}

/* Sleeps *pause ms (not past deadline) and doubles it for next time; false once the
 * deadline has passed. */
static bool
pause_until(kls_mono deadline, int64_t *pause)
{
	kls_mono now = mono_now();
	int64_t left;

	if (!mono_before(now, deadline))
		return false;
	left = mono_diff_ms(now, deadline);
	sleep_ms(*pause < left ? *pause : left);
	*pause = *pause * 2 > WAIT_PAUSE_MAX_MS ? WAIT_PAUSE_MAX_MS : *pause * 2;
	return true;
}

/* Waits until the consumer is ACTIVE (0 with *out) or gone (1), until deadline. */
static int
wait_settled(struct kinesis_client *c, const char *stream_arn, const char *name, kls_mono deadline,
    int timeout_ms, struct kinesis_consumer *out, struct aws_error *err)
{
	int64_t pause = 50;

	for (;;) {
		if (kinesis_describe_stream_consumer(c, stream_arn, name, NULL, out, err) < 0)
			return awsj_error_is(err, "ResourceNotFoundException") ? 1 : -1;
		if (strcmp(out->status, "ACTIVE") == 0)
			return 0;
		if (!pause_until(deadline, &pause)) {
			awsj_local_error(err, "Timeout", "consumer %s still %s after %d ms", name,
			    out->status, timeout_ms);
			return -1;
		}
	}
}

int
kinesis_wait_consumer_active(struct kinesis_client *c, const char *stream_arn, const char *name,
    int timeout_ms, struct kinesis_consumer *out, struct aws_error *err)
{
	struct kinesis_consumer tmp;
	int rc = wait_settled(c, stream_arn, name, mono_add_ms(mono_now(), timeout_ms), timeout_ms,
	    out ? out : &tmp, err);

	if (rc == 1)
		awsj_context(err, "waiting for consumer %s to become ACTIVE", name);
	return rc == 0 ? 0 : -1;
}

int
kinesis_ensure_consumer(struct kinesis_client *c, const char *stream_arn, const char *name,
    char out_arn[KINESIS_ARN_MAX + 1], struct aws_error *err)
{
	const int timeout = KINESIS_CONSUMER_ACTIVE_TIMEOUT_MS;
	kls_mono deadline = mono_add_ms(mono_now(), timeout);
	struct kinesis_consumer con;
	int64_t pause = 50;

	out_arn[0] = '\0';
	for (;;) {
		int rc;

		if (kinesis_register_stream_consumer(c, stream_arn, name, &con, err) < 0 &&
		    !awsj_error_is(err, "ResourceInUseException"))
			return -1;
		/* Registered now (CREATING), or already (by another worker, an earlier run, or
		 * one being deleted), or the stream is busy: the consumer's own state says
		 * which, and ResourceNotFound here means "register again". */
		rc = wait_settled(c, stream_arn, name, deadline, timeout, &con, err);
		if (rc == 0)
			break;
		if (rc < 0)
			return -1;
		if (!pause_until(deadline, &pause)) {
			awsj_local_error(err, "Timeout",
			    "consumer %s: not registered and ACTIVE within %d ms", name, timeout);
			return -1;
		}
	}
	memcpy(out_arn, con.arn, strlen(con.arn) + 1);
	return 0;
}

/* ---- SubscribeToShard ---- */

int
kinesis_subscribe_body(struct kls_buf *out, const char *consumer_arn, const char *shard_id,
    const struct kinesis_position *pos, struct aws_error *err)
{
	const char *type = pos ? kinesis_iterator_type_name(pos->type) : NULL;
	bool by_seq = pos && (pos->type == KINESIS_AT_SEQUENCE_NUMBER ||
	                         pos->type == KINESIS_AFTER_SEQUENCE_NUMBER);
	json_object *req, *sp;

	if (check_arn("SubscribeToShard", "consumer ARN", consumer_arn, err) < 0 ||
	    kin_check_shard("SubscribeToShard", "consumer", shard_id, err) < 0)
		return -1;
	if (!type) {
		awsj_local_error(err, "InvalidArgument",
		    "SubscribeToShard %s: no starting position", shard_id);
		return -1;
	}
	if (by_seq && !awsj_is_decimal(pos->sequence_number, KINESIS_SEQUENCE_MAX)) {
		awsj_local_error(err, "InvalidArgument",
		    "SubscribeToShard %s: %s needs a decimal sequence number, got \"%.*s\"",
		    shard_id, type, 140, pos->sequence_number ? pos->sequence_number : "(null)");
		return -1;
	}
	if (pos->type == KINESIS_AT_TIMESTAMP && pos->timestamp_ms < 0) {
		awsj_local_error(err, "InvalidArgument",
		    "SubscribeToShard %s: timestamp %" PRId64 " is before the epoch", shard_id,
		    pos->timestamp_ms);
		return -1;
	}
	if (!(req = json_object_new_object()))
		goto nomem;
	if (awsj_add_str(req, "ConsumerARN", consumer_arn) < 0 ||
	    awsj_add_str(req, "ShardId", shard_id) < 0)
		goto nomem;
	sp = json_object_new_object();
	if (!sp || json_object_object_add(req, "StartingPosition", sp) < 0) {
		json_object_put(sp);
		goto nomem;
	}
	if (awsj_add_str(sp, "Type", type) < 0 ||
	    (by_seq && awsj_add_str(sp, "SequenceNumber", pos->sequence_number) < 0))
		goto nomem;
	if (pos->type == KINESIS_AT_TIMESTAMP) {
		/* Epoch seconds with a millisecond fraction, as the JSON protocol has it. */
		char s[32];
		json_object *t;

		snprintf(s, sizeof(s), "%" PRId64 ".%03d", pos->timestamp_ms / 1000,
		    (int)(pos->timestamp_ms % 1000));
		t = json_object_new_double_s((double)pos->timestamp_ms / 1000.0, s);
		if (!t || json_object_object_add(sp, "Timestamp", t) < 0) {
			json_object_put(t);
			goto nomem;
		}
	}
	return awsj_body(req, out, err);
nomem:
	json_object_put(req);
	return kin_no_memory(err, "SubscribeToShard", shard_id);
}

int
kinesis_subscribe_to_shard(struct kinesis_client *c, const char *consumer_arn, const char *shard_id,
    const struct kinesis_position *pos, const struct http_stream *stream, struct aws_error *err)
{
	struct kls_buf body;
	int rc;

	buf_init(&body, 0);
	rc = kinesis_subscribe_body(&body, consumer_arn, shard_id, pos, err);
	if (rc == 0) {
		rc = aws_call_stream(c->j.aws, "SubscribeToShard", body.data, body.len, stream,
		    &c->j.resp, err);
		/* Refused before the stream opened: the same exception sent on the stream would
		 * be classified so (ResourceInUseException clears with time). */
		if (rc < 0 && err->http_status >= 400 && err->http_status <= 499)
			err->cls = subscribe_exception_class(err->type);
	}
	if (rc < 0)
		awsj_context(err, "SubscribeToShard %s", shard_id ? shard_id : "?");
	buf_free(&body);
	return rc;
}
