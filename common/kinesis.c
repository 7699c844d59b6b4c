/*
 * Kinesis client: request bodies built with json-c (GetRecords by hand: it is the hot
 * path), responses checked field by field against the API's shapes and bounds before
 * anything reaches klsd or a reader. See kinesis.h for the contract.
 */
#include "config.h"

#include "common/kinesis_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/awsjson.h"
#include "common/clock.h"
#include "common/getrecords.h"

static const struct aws_retry_policy default_retry = { 5, 100, 5000 };

void
kinesis_service_config(struct aws_service_config *cfg, const char *region, const char *endpoint,
    struct aws_creds_provider *creds)
{
	awsj_service_config(cfg, "kinesis", "Kinesis_20131202", "application/x-amz-json-1.1",
	    region, endpoint, creds);
}

struct kinesis_client *
kinesis_client_new(const struct aws_service_config *cfg, const struct aws_retry_policy *retry,
    struct aws_error *err)
{
	struct kinesis_client *c = calloc(1, sizeof(*c));

	if (!c) {
		awsj_local_error(err, "NoMemory", "kinesis client: %s", strerror(errno));
		return NULL;
	}
	if (awsj_client_init(&c->j, cfg, retry, &default_retry, err) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

void
kinesis_client_free(struct kinesis_client *c)
{
	if (!c)
		return;
	awsj_client_fini(&c->j);
	free(c);
}

/* ---- argument checks: refuse locally what the service would refuse ---- */

static bool
valid_name(const char *s, size_t max)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= max || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		                    (s[n] >= '0' && s[n] <= '9') || strchr("_.-", s[n])))
			return false;
	return n > 0;
}

int
kin_check_stream(const char *call, const char *stream, struct aws_error *err)
{
	if (valid_name(stream, KINESIS_STREAM_NAME_MAX))
		return 0;
	awsj_local_error(err, "InvalidArgument",
	    "%s: stream name \"%.*s\" is not 1..128 characters of [a-zA-Z0-9_.-]", call, 140,
	    stream ? stream : "(null)");
	return -1;
}

int
kin_check_shard(const char *call, const char *stream, const char *shard, struct aws_error *err)
{
	if (valid_name(shard, KINESIS_SHARD_ID_MAX))
		return 0;
	awsj_local_error(err, "InvalidArgument",
	    "%s %s: shard id \"%.*s\" is not 1..128 characters of [a-zA-Z0-9_.-]", call, stream,
	    140, shard ? shard : "(null)");
	return -1;
}

/* 128-bit decimal hash keys: parse with overflow check. */
static int
parse_u128(const char *s, unsigned __int128 *out)
{
	unsigned __int128 v = 0;
	const unsigned __int128 max = ~(unsigned __int128)0;

	if (!awsj_is_decimal(s, KINESIS_HASH_KEY_MAX))
		return -1;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static void
format_u128(unsigned __int128 v, char *out, size_t size)
{
	char tmp[KINESIS_HASH_KEY_MAX + 1];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

bool
kin_valid_hash_key(const char *s)
{
	unsigned __int128 v;
	return parse_u128(s, &v) == 0;
}

int
kinesis_hash_key_split_point(const char *start, const char *end, char *out, size_t size)
{
	unsigned __int128 a, b, mid;

	if (parse_u128(start, &a) < 0 || parse_u128(end, &b) < 0 || b <= a ||
	    size < KINESIS_HASH_KEY_MAX + 1)
		return -1;
	mid = a + (b - a) / 2 + 1;
	format_u128(mid, out, size);
	return 0;
}

/* ---- shared call path ---- */

json_object *
kin_new_stream_request(const char *stream)
{
	json_object *req = json_object_new_object();
	if (req && awsj_add_str(req, "StreamName", stream) < 0) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

int
kin_no_memory(struct aws_error *err, const char *call, const char *target)
{
	awsj_local_error(err, "NoMemory", "%s %s: out of memory building the request", call,
	    target);
	return -1;
}

/* ---- ListShards ---- */

static const char *const filter_names[] = {
	[KINESIS_FILTER_AFTER_SHARD_ID] = "AFTER_SHARD_ID",
	[KINESIS_FILTER_AT_TRIM_HORIZON] = "AT_TRIM_HORIZON",
	[KINESIS_FILTER_FROM_TRIM_HORIZON] = "FROM_TRIM_HORIZON",
	[KINESIS_FILTER_AT_LATEST] = "AT_LATEST",
	[KINESIS_FILTER_AT_TIMESTAMP] = "AT_TIMESTAMP",
	[KINESIS_FILTER_FROM_TIMESTAMP] = "FROM_TIMESTAMP",
};

/* Epoch seconds with a millisecond fraction, as the JSON protocol encodes timestamps. */
static json_object *
new_timestamp(int64_t ms)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
	return json_object_new_double_s((double)ms / 1000.0, s);
}

static int
add_timestamp(json_object *obj, const char *key, int64_t ms)
{
	json_object *t = new_timestamp(ms);
	if (!t || json_object_object_add(obj, key, t) < 0) {
		json_object_put(t);
		return -1;
	}
	return 0;
}

static json_object *
shard_filter(const struct kinesis_list_opts *o, const char *stream, struct aws_error *err)
{
	json_object *f;

	if (o->filter < KINESIS_FILTER_AFTER_SHARD_ID ||
	    o->filter > KINESIS_FILTER_FROM_TIMESTAMP) {
		awsj_local_error(err, "InvalidArgument", "ListShards %s: unknown shard filter %d",
		    stream, (int)o->filter);
		return NULL;
	}
	if (o->filter == KINESIS_FILTER_AFTER_SHARD_ID &&
	    kin_check_shard("ListShards", stream, o->filter_shard_id, err) < 0)
		return NULL;
	if ((o->filter == KINESIS_FILTER_AT_TIMESTAMP ||
	        o->filter == KINESIS_FILTER_FROM_TIMESTAMP) &&
	    o->filter_timestamp_ms < 0) {
		awsj_local_error(err, "InvalidArgument",
		    "ListShards %s: filter timestamp %" PRId64 " is before the epoch", stream,
		    o->filter_timestamp_ms);
		return NULL;
	}
	f = json_object_new_object();
	if (!f || awsj_add_str(f, "Type", filter_names[o->filter]) < 0 ||
	    (o->filter == KINESIS_FILTER_AFTER_SHARD_ID &&
	        awsj_add_str(f, "ShardId", o->filter_shard_id) < 0) ||
	    ((o->filter == KINESIS_FILTER_AT_TIMESTAMP ||
	         o->filter == KINESIS_FILTER_FROM_TIMESTAMP) &&
	        add_timestamp(f, "Timestamp", o->filter_timestamp_ms) < 0)) {
		json_object_put(f);
		kin_no_memory(err, "ListShards", stream);
		return NULL;
	}
	return f;
}

static json_object *
list_shards_request(const char *stream, const char *next_token, const struct kinesis_list_opts *o,
    struct aws_error *err)
{
	static const struct kinesis_list_opts none;
	json_object *req;

	if (!o)
		o = &none;
	if (kin_check_stream("ListShards", stream, err) < 0)
		return NULL;
	if (o->max_results < 0 || o->max_results > KINESIS_PAGE_SHARDS_MAX) {
		awsj_local_error(err, "InvalidArgument",
		    "ListShards %s: MaxResults %d not in 1..%d", stream, o->max_results,
		    KINESIS_PAGE_SHARDS_MAX);
		return NULL;
	}
	if (next_token && (!*next_token || strlen(next_token) > KINESIS_NEXT_TOKEN_MAX)) {
		awsj_local_error(err, "InvalidArgument",
		    "ListShards %s: NextToken is empty or too long", stream);
		return NULL;
	}
	req = json_object_new_object();
	if (!req)
		goto nomem;
	if (next_token) {
		/* The token names the stream and the filter: sending them again is an error. */
		if (awsj_add_str(req, "NextToken", next_token) < 0)
			goto nomem;
	} else {
		if (awsj_add_str(req, "StreamName", stream) < 0)
			goto nomem;
		if (o->filter != KINESIS_FILTER_NONE) {
			json_object *f = shard_filter(o, stream, err);
			if (!f) {
				json_object_put(req);
				return NULL;
			}
			if (json_object_object_add(req, "ShardFilter", f) < 0) {
				json_object_put(f);
				goto nomem;
			}
		}
	}
	if (o->max_results && awsj_add_int(req, "MaxResults", o->max_results) < 0)
		goto nomem;
	return req;
nomem:
	json_object_put(req);
	kin_no_memory(err, "ListShards", stream);
	return NULL;
}

int
kinesis_list_shards_body(struct kls_buf *out, const char *stream, const char *next_token,
    const struct kinesis_list_opts *opts, struct aws_error *err)
{
	return awsj_body(list_shards_request(stream, next_token, opts, err), out, err);
}

void
kinesis_shard_list_free(struct kinesis_shard_list *l)
{
	free(l->shards);
	l->shards = NULL;
	l->n = l->cap = 0;
}

static int
parse_shard(json_object *o, const char *where, struct kinesis_shard *s, struct aws_error *err)
{
	json_object *range, *seq;
	char w[96];

	memset(s, 0, sizeof(*s));
	if (!json_object_is_type(o, json_type_object)) {
		awsj_bad_response(err, "%s: %s, expected an object", where,
		    json_type_to_name(json_object_get_type(o)));
		return -1;
	}
	if (awsj_str(o, where, "ShardId", true, KINESIS_SHARD_ID_MAX, s->shard_id,
	        sizeof(s->shard_id), err) < 0 ||
	    awsj_str(o, where, "ParentShardId", false, KINESIS_SHARD_ID_MAX, s->parent_shard_id,
	        sizeof(s->parent_shard_id), err) < 0 ||
	    awsj_str(o, where, "AdjacentParentShardId", false, KINESIS_SHARD_ID_MAX,
	        s->adjacent_parent_shard_id, sizeof(s->adjacent_parent_shard_id), err) < 0 ||
	    awsj_obj(o, where, "HashKeyRange", true, false, &range, err) < 0 ||
	    awsj_obj(o, where, "SequenceNumberRange", true, false, &seq, err) < 0)
		return -1;
	if (!*s->shard_id) {
		awsj_bad_response(err, "%s.ShardId: empty", where);
		return -1;
	}
	snprintf(w, sizeof(w), "%s.HashKeyRange", where);
	if (awsj_str(range, w, "StartingHashKey", true, KINESIS_HASH_KEY_MAX, s->starting_hash_key,
	        sizeof(s->starting_hash_key), err) < 0 ||
	    awsj_str(range, w, "EndingHashKey", true, KINESIS_HASH_KEY_MAX, s->ending_hash_key,
	        sizeof(s->ending_hash_key), err) < 0)
		return -1;
	if (!kin_valid_hash_key(s->starting_hash_key) || !kin_valid_hash_key(s->ending_hash_key)) {
		awsj_bad_response(err, "%s: hash key \"%s\"..\"%s\" is not a 128-bit decimal", w,
		    s->starting_hash_key, s->ending_hash_key);
		return -1;
	}
	snprintf(w, sizeof(w), "%s.SequenceNumberRange", where);
	if (awsj_str(seq, w, "StartingSequenceNumber", true, KINESIS_SEQUENCE_MAX,
	        s->starting_sequence_number, sizeof(s->starting_sequence_number), err) < 0 ||
	    awsj_str(seq, w, "EndingSequenceNumber", false, KINESIS_SEQUENCE_MAX,
	        s->ending_sequence_number, sizeof(s->ending_sequence_number), err) < 0)
		return -1;
	if (!awsj_is_decimal(s->starting_sequence_number, KINESIS_SEQUENCE_MAX) ||
	    (*s->ending_sequence_number &&
	        !awsj_is_decimal(s->ending_sequence_number, KINESIS_SEQUENCE_MAX))) {
		awsj_bad_response(err, "%s: sequence number is not decimal", w);
		return -1;
	}
	return 0;
}

int
kin_parse_page(const char *body, size_t len, const struct kin_page *pg, void **items, size_t *n,
    size_t *cap, size_t max, char **next_token, struct aws_error *err)
{
	json_object *o, *arr;
	const char *tok = NULL;
	size_t k;
	int rc = -1;

	*next_token = NULL;
	if (!(o = awsj_parse(body, len, err)))
		return -1;
	if (awsj_obj(o, "", pg->key, true, true, &arr, err) < 0 ||
	    awsj_str_ref(o, "", "NextToken", false, KINESIS_NEXT_TOKEN_MAX, &tok, err) < 0)
		goto out;
	k = json_object_array_length(arr);
	if (k > pg->page_max) {
		awsj_bad_response(err, "%s: %zu in one page, more than %zu", pg->key, k,
		    pg->page_max);
		goto out;
	}
	if (k > max || *n > max - k) {
		awsj_bad_response(err, "more than %zu %s", max, pg->what);
		goto out;
	}
	if (*n + k > *cap) {
		size_t ncap = *cap ? *cap : 16;
		void *p;
		while (ncap < *n + k)
			ncap *= 2;
		if (!(p = reallocarray(*items, ncap, pg->size))) {
			awsj_local_error(err, "NoMemory", "%zu %s: %s", ncap, pg->what,
			    strerror(errno));
			goto out;
		}
		*items = p;
		*cap = ncap;
	}
	for (size_t i = 0; i < k; i++) {
		char where[48];
		snprintf(where, sizeof(where), "%s[%zu]", pg->key, i);
		if (pg->parse(json_object_array_get_idx(arr, i), where,
		        (char *)*items + (*n + i) * pg->size, err) < 0)
			goto out;
	}
	if (tok && !*tok)
		tok = NULL;
	if (tok && !(*next_token = strdup(tok))) {
		awsj_local_error(err, "NoMemory", "NextToken: %s", strerror(errno));
		goto out;
	}
	*n += k;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

static int
parse_shard_item(json_object *o, const char *where, void *out, struct aws_error *err)
{
	return parse_shard(o, where, out, err);
}

int
kinesis_parse_list_shards(const char *body, size_t len, struct kinesis_shard_list *list,
    size_t max_shards, char **next_token, struct aws_error *err)
{
	static const struct kin_page page = { "Shards", "shards", sizeof(struct kinesis_shard),
		KINESIS_PAGE_SHARDS_MAX, parse_shard_item };
	void *items = list->shards;
	int rc = kin_parse_page(body, len, &page, &items, &list->n, &list->cap, max_shards,
	    next_token, err);

	list->shards = items;
	return rc;
}

int
kinesis_list_shards(struct kinesis_client *c, const char *stream,
    const struct kinesis_list_opts *opts, struct kinesis_shard_list *out, struct aws_error *err)
{
	size_t max = opts && opts->max_shards ? opts->max_shards : KINESIS_SHARDS_MAX;
	char *token = NULL;
	int restarts = 0, page = 0;

	out->n = 0;
	for (;;) {
		json_object *req = list_shards_request(stream, token, opts, err);
		int rc;

		if (!req)
			goto fail;
		rc = awsj_send(&c->j, "ListShards", req, err);
		if (rc < 0 && token && awsj_error_is(err, "ExpiredNextTokenException") &&
		    restarts < KINESIS_LIST_RESTARTS_MAX) {
			/* Pages took longer than the token lives: start the listing again. */
			restarts++;
			free(token);
			token = NULL;
			out->n = 0;
			page = 0;
			continue;
		}
		if (rc < 0) {
			awsj_context(err, "ListShards %s (page %d)", stream, page + 1);
			goto fail;
		}
		free(token);
		if (kinesis_parse_list_shards(c->j.resp.data, c->j.resp.len, out, max, &token,
		        err) < 0) {
			awsj_context(err, "ListShards %s (page %d)", stream, page + 1);
			goto fail;
		}
		page++;
		if (!token)
			return 0;
	}
fail:
	free(token);
	out->n = 0;
	return -1;
}

/* ---- DescribeStreamSummary and waiting ---- */

int
kinesis_parse_stream_summary(const char *body, size_t len, struct kinesis_stream_summary *out,
    struct aws_error *err)
{
	json_object *o, *d, *mode;
	const char *w = "StreamDescriptionSummary";
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->open_shard_count = out->consumer_count = -1;
	if (!(o = awsj_parse(body, len, err)))
		return -1;
	if (awsj_obj(o, "", w, true, false, &d, err) < 0 ||
	    awsj_str(d, w, "StreamName", true, KINESIS_STREAM_NAME_MAX, out->stream_name,
	        sizeof(out->stream_name), err) < 0 ||
	    awsj_str(d, w, "StreamARN", false, sizeof(out->stream_arn) - 1, out->stream_arn,
	        sizeof(out->stream_arn), err) < 0 ||
	    awsj_str(d, w, "StreamStatus", true, sizeof(out->status) - 1, out->status,
	        sizeof(out->status), err) < 0 ||
	    awsj_int(d, w, "OpenShardCount", false, 0, INT32_MAX, &out->open_shard_count, err) <
	        0 ||
	    awsj_int(d, w, "RetentionPeriodHours", false, 0, INT32_MAX,
	        &out->retention_period_hours, err) < 0 ||
	    awsj_int(d, w, "ConsumerCount", false, 0, INT32_MAX, &out->consumer_count, err) < 0 ||
	    awsj_double(d, w, "StreamCreationTimestamp", false, &out->creation_timestamp, err) < 0)
		goto out;
	switch (awsj_obj(d, w, "StreamModeDetails", false, false, &mode, err)) {
	case -1: goto out;
	case 0:
		if (awsj_str(mode, "StreamDescriptionSummary.StreamModeDetails", "StreamMode", true,
		        sizeof(out->stream_mode) - 1, out->stream_mode, sizeof(out->stream_mode),
		        err) < 0)
			goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int
kinesis_describe_stream_summary(struct kinesis_client *c, const char *stream,
    struct kinesis_stream_summary *out, struct aws_error *err)
{
	json_object *req;
	int rc;

	if (kin_check_stream("DescribeStreamSummary", stream, err) < 0)
		return -1;
	if (!(req = kin_new_stream_request(stream)))
		return kin_no_memory(err, "DescribeStreamSummary", stream);
	rc = awsj_send(&c->j, "DescribeStreamSummary", req, err);
	if (rc == 0)
		rc = kinesis_parse_stream_summary(c->j.resp.data, c->j.resp.len, out, err);
	if (rc < 0)
		awsj_context(err, "DescribeStreamSummary %s", stream);
	return rc;
}

int
kinesis_wait_active(struct kinesis_client *c, const char *stream, int timeout_ms,
    struct kinesis_stream_summary *out, struct aws_error *err)
{
	struct kinesis_stream_summary s;
	kls_mono deadline = mono_add_ms(mono_now(), timeout_ms);
	int64_t pause = 10;

	for (;;) {
		if (kinesis_describe_stream_summary(c, stream, &s, err) < 0)
			return -1;
		if (strcmp(s.status, "ACTIVE") == 0) {
			if (out)
				*out = s;
			return 0;
		}
		if (!mono_before(mono_now(), deadline)) {
			awsj_local_error(err, "Timeout", "stream %s still %s after %d ms", stream,
			    s.status, timeout_ms);
			return -1;
		}
		sleep_ms(pause);
		pause = pause * 2 > 500 ? 500 : pause * 2;
	}
}

/* ---- GetShardIterator ---- */

static const char *const iterator_names[] = {
	[KINESIS_TRIM_HORIZON] = "TRIM_HORIZON",
	[KINESIS_LATEST] = "LATEST",
	[KINESIS_AT_TIMESTAMP] = "AT_TIMESTAMP",
	[KINESIS_AT_SEQUENCE_NUMBER] = "AT_SEQUENCE_NUMBER",
	[KINESIS_AFTER_SEQUENCE_NUMBER] = "AFTER_SEQUENCE_NUMBER",
};

const char *
kinesis_iterator_type_name(enum kinesis_iterator_type t)
{
	if ((unsigned)t >= sizeof(iterator_names) / sizeof(iterator_names[0]))
		return NULL;
	return iterator_names[t];
}

static json_object *
shard_iterator_request(const char *stream, const char *shard_id, const struct kinesis_position *pos,
    struct aws_error *err)
{
	const char *type = pos ? kinesis_iterator_type_name(pos->type) : NULL;
	json_object *req;

	if (kin_check_stream("GetShardIterator", stream, err) < 0 ||
	    kin_check_shard("GetShardIterator", stream, shard_id, err) < 0)
		return NULL;
	if (!type) {
		awsj_local_error(err, "InvalidArgument", "GetShardIterator %s %s: no iterator type",
		    stream, shard_id);
		return NULL;
	}
	if ((pos->type == KINESIS_AT_SEQUENCE_NUMBER ||
	        pos->type == KINESIS_AFTER_SEQUENCE_NUMBER) &&
	    !awsj_is_decimal(pos->sequence_number, KINESIS_SEQUENCE_MAX)) {
		awsj_local_error(err, "InvalidArgument",
		    "GetShardIterator %s %s: %s needs a decimal sequence number, got \"%.*s\"",
		    stream, shard_id, type, 140,
		    pos->sequence_number ? pos->sequence_number : "(null)");
		return NULL;
	}
	if (pos->type == KINESIS_AT_TIMESTAMP && pos->timestamp_ms < 0) {
		awsj_local_error(err, "InvalidArgument",
		    "GetShardIterator %s %s: timestamp %" PRId64 " is before the epoch", stream,
		    shard_id, pos->timestamp_ms);
		return NULL;
	}
	req = kin_new_stream_request(stream);
	if (!req || awsj_add_str(req, "ShardId", shard_id) < 0 ||
	    awsj_add_str(req, "ShardIteratorType", type) < 0 ||
	    ((pos->type == KINESIS_AT_SEQUENCE_NUMBER ||
	         pos->type == KINESIS_AFTER_SEQUENCE_NUMBER) &&
	        awsj_add_str(req, "StartingSequenceNumber", pos->sequence_number) < 0) ||
	    (pos->type == KINESIS_AT_TIMESTAMP &&
	        add_timestamp(req, "Timestamp", pos->timestamp_ms) < 0)) {
		json_object_put(req);
		kin_no_memory(err, "GetShardIterator", stream);
		return NULL;
	}
	return req;
}

int
kinesis_get_shard_iterator_body(struct kls_buf *out, const char *stream, const char *shard_id,
    const struct kinesis_position *pos, struct aws_error *err)
{
	return awsj_body(shard_iterator_request(stream, shard_id, pos, err), out, err);
}

int
kinesis_parse_shard_iterator(const char *body, size_t len, char out[KINESIS_ITERATOR_MAX + 1],
    struct aws_error *err)
{
	json_object *o = awsj_parse(body, len, err);
	int rc;

	if (!o)
		return -1;
	rc = awsj_str(o, "", "ShardIterator", true, KINESIS_ITERATOR_MAX, out,
	    KINESIS_ITERATOR_MAX + 1, err);
	if (rc == 0 && !*out) {
		awsj_bad_response(err, "ShardIterator: empty");
		rc = -1;
	}
	json_object_put(o);
	return rc;
}

int
kinesis_get_shard_iterator(struct kinesis_client *c, const char *stream, const char *shard_id,
    const struct kinesis_position *pos, char out[KINESIS_ITERATOR_MAX + 1], struct aws_error *err)
{
	json_object *req = shard_iterator_request(stream, shard_id, pos, err);
	int rc;

	if (!req)
		return -1;
	rc = awsj_send(&c->j, "GetShardIterator", req, err);
	if (rc == 0)
		rc = kinesis_parse_shard_iterator(c->j.resp.data, c->j.resp.len, out, err);
	if (rc < 0)
		awsj_context(err, "GetShardIterator %s %s %s", stream, shard_id,
		    kinesis_iterator_type_name(pos->type));
	return rc;
}

/* ---- GetRecords ---- */

int
kinesis_get_records_body(struct kls_buf *out, const char *iterator, int limit,
    struct aws_error *err)
{
	size_t n = iterator ? strlen(iterator) : 0;

	if (n == 0 || n > KINESIS_ITERATOR_MAX) {
		awsj_local_error(err, "InvalidArgument",
		    "GetRecords: shard iterator of %zu bytes, not 1..%d", n, KINESIS_ITERATOR_MAX);
		return -1;
	}
	if (limit < 1 || limit > KINESIS_GET_RECORDS_LIMIT_MAX) {
		awsj_local_error(err, "InvalidArgument", "GetRecords: Limit %d not in 1..%d", limit,
		    KINESIS_GET_RECORDS_LIMIT_MAX);
		return -1;
	}
	buf_reset(out);
	if (buf_puts(out, "{\"ShardIterator\":") < 0 || buf_json_string(out, iterator) < 0 ||
	    buf_printf(out, ",\"Limit\":%d}", limit) < 0) {
		awsj_local_error(err, "NoMemory", "GetRecords: request body: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
kinesis_get_records_raw(struct kinesis_client *c, const char *shard_id, const char *iterator,
    int limit, struct kls_buf *resp, struct aws_error *err)
{
	struct kls_buf body;
	char req[KINESIS_ITERATOR_MAX * 6 + 64];
	int rc;

	/* The body lives on the stack: no allocation per call on the hot path. */
	body.data = req;
	body.len = 0;
	body.cap = sizeof(req);
	body.limit = sizeof(req) - 1;
	rc = kinesis_get_records_body(&body, iterator, limit, err);
	if (rc == 0)
		rc = aws_call_retry(c->j.aws, &c->j.retry, "GetRecords", body.data, body.len, resp,
		    err);
	if (rc < 0)
		awsj_context(err, "GetRecords %s", shard_id ? shard_id : "?");
	return rc;
}

int
kinesis_get_records(struct kinesis_client *c, const char *shard_id, const char *iterator, int limit,
    const struct getrecords_limits *lim, struct kls_buf *resp, struct kls_buf *arena,
    struct getrecords_result *res, struct aws_error *err)
{
	struct getrecords_error gerr;

	if (kinesis_get_records_raw(c, shard_id, iterator, limit, resp, err) < 0)
		return -1;
	if (!resp->data && buf_reserve(resp, 0) < 0) {
		awsj_local_error(err, "NoMemory", "GetRecords %s: empty body: %s",
		    shard_id ? shard_id : "?", strerror(errno));
		return -1;
	}
	if ((arena ? getrecords_parse(resp->data, resp->len, lim, arena, res, &gerr)
	           : getrecords_parse_inplace(resp->data, resp->len, lim, res, &gerr)) < 0) {
		if (gerr.errnum == ENOMEM)
			awsj_local_error(err, "NoMemory", "%s", gerr.message);
		else
			awsj_bad_response(err, "%s", gerr.message);
		awsj_context(err, "GetRecords %s", shard_id ? shard_id : "?");
		return -1;
	}
	return 0;
}
