/*
 * kls-fixture's stream: the records of every shard turned into GetRecords JSON once,
 * and the Kinesis calls answered from that text (see fixture.h). No I/O here.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/base64.h"
#include "common/clock.h"
#include "tools/fixture.h"
#include "tools/payload.h"

/* Sequence number layout, 56 digits: "49" and a stream part (14 digits), the shard
 * (6 digits), the record index (36 digits). Only the last 19 index digits are used. */
#define SEQ_PREFIX "49628491037215"
#define SEQ_PREFIX_LEN 14
#define SEQ_SHARD_DIGITS 6
#define SEQ_INDEX_DIGITS 36
#define ITERATOR_PREFIX "kls-fixture-iterator:"
#define PARTITION_KEYS 1000
/* Room for one record's JSON besides its base64 Data. */
#define RECORD_OVERHEAD 192
#define REQUEST_DEPTH_MAX 8

_Static_assert(SEQ_PREFIX_LEN + SEQ_SHARD_DIGITS + SEQ_INDEX_DIGITS == FX_SEQUENCE_LEN,
    "sequence number layout");

void
fx_sequence(char *out, unsigned shard, uint64_t index)
{
	/* shard < FX_SHARDS_MAX; the modulo only tells the compiler it fits. */
	snprintf(out, FX_SEQUENCE_LEN + 1, "%s%0*u%0*" PRIu64, SEQ_PREFIX, SEQ_SHARD_DIGITS,
	    shard % 1000000u, SEQ_INDEX_DIGITS, index);
}

int
fx_parse_sequence(const char *seq, unsigned *shard, uint64_t *index)
{
	const char *idx = seq + SEQ_PREFIX_LEN + SEQ_SHARD_DIGITS;
	size_t i;
	unsigned s = 0;
	uint64_t v = 0;

	if (strlen(seq) != FX_SEQUENCE_LEN || strncmp(seq, SEQ_PREFIX, SEQ_PREFIX_LEN) != 0)
		return -1;
	for (i = SEQ_PREFIX_LEN; i < FX_SEQUENCE_LEN; i++)
		if (seq[i] < '0' || seq[i] > '9')
			return -1;
	for (i = SEQ_PREFIX_LEN; i < SEQ_PREFIX_LEN + SEQ_SHARD_DIGITS; i++)
		s = s * 10 + (unsigned)(seq[i] - '0');
	/* The index must fit in 19 digits: the leading ones are zeros. */
	for (i = 0; i < SEQ_INDEX_DIGITS - 19; i++)
		if (idx[i] != '0')
			return -1;
	for (; i < SEQ_INDEX_DIGITS; i++)
		v = v * 10 + (uint64_t)(idx[i] - '0');
	*shard = s;
	*index = v;
	return 0;
}

void
fx_iterator(char *out, size_t size, unsigned shard, uint64_t pos)
{
	snprintf(out, size, ITERATOR_PREFIX "%u:%" PRIu64, shard, pos);
}

int
fx_parse_iterator(const char *it, unsigned *shard, uint64_t *pos)
{
	unsigned long long p;
	unsigned s;
	int end = -1;

	if (strncmp(it, ITERATOR_PREFIX, strlen(ITERATOR_PREFIX)) != 0 ||
	    sscanf(it + strlen(ITERATOR_PREFIX), "%u:%llu%n", &s, &p, &end) != 2 || end < 0 ||
	    it[strlen(ITERATOR_PREFIX) + (size_t)end] != '\0')
		return -1;
	*shard = s;
	*pos = p;
	return 0;
}

static void
set_err(char *err, size_t size, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	errno = errnum;
}

/* A 128-bit number in decimal. */
static void
u128_decimal(char *out, unsigned __int128 v)
{
	char tmp[40];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	while (n)
		*out++ = tmp[--n];
	*out = '\0';
}

/* Record i of shard k as JSON, followed by ','. raw: room for the payload. */
static size_t
build_record(char *out, size_t room, const struct fx_stream *s, unsigned k, uint64_t i, char *raw)
{
	char seq[FX_SEQUENCE_LEN + 1];
	int64_t arrival = s->newest_arrival_ms - (int64_t)(s->o.records - 1 - i);
	size_t rawlen = payload_fill(raw, s->o.record_bytes, i), n;
	int len;

	fx_sequence(seq, k, i + 1);
	len = snprintf(out, room,
	    "{\"SequenceNumber\":\"%s\",\"ApproximateArrivalTimestamp\":%" PRId64 ".%03" PRId64
	    ",\"Data\":\"",
	    seq, arrival / 1000, arrival % 1000);
	n = (size_t)len;
	n += base64_encode(out + n, raw, rawlen);
	len = snprintf(out + n, room - n, "\",\"PartitionKey\":\"pk-%u-%" PRIu64 "\"},", k,
	    i % PARTITION_KEYS);
	return n + (size_t)len;
}

static int
build_shard(struct fx_stream *s, unsigned k, char *err, size_t errsize)
{
	struct fx_shard *sh = &s->shards[k];
	size_t raw_room =
	    s->o.record_bytes > PAYLOAD_PREFIX_MAX ? s->o.record_bytes : PAYLOAD_PREFIX_MAX + 1;
	size_t per = RECORD_OVERHEAD + base64_encoded_len(raw_room);
	char *raw = malloc(raw_room);
	uint64_t i, at = 0;

	snprintf(sh->id, sizeof(sh->id), "shardId-%012u", k);
	sh->off = calloc(s->o.records + 1, sizeof(*sh->off));
	sh->text = malloc(s->o.records * per + 1);
	if (!raw || !sh->off || !sh->text) {
		free(raw);
		set_err(err, errsize, ENOMEM, "out of memory for %" PRIu64 " records of %zu bytes",
		    s->o.records, s->o.record_bytes);
		return -1;
	}
	for (i = 0; i < s->o.records; i++) {
		sh->off[i] = at;
		at += build_record(sh->text + at, per, s, k, i, raw);
	}
	sh->off[i] = at;
	sh->text[at] = '\0';
	free(raw);
	return 0;
}

/* The ListShards and DescribeStreamSummary bodies, built once. */
static int
build_bodies(struct fx_stream *s)
{
	unsigned __int128 step = ~(unsigned __int128)0 / s->o.shards;
	char start[41], end[41], first[FX_SEQUENCE_LEN + 1], last[FX_SEQUENCE_LEN + 1];
	struct kls_buf *b = &s->list_shards;
	unsigned k;
	int rc = 0;

	rc |= buf_puts(b, "{\"Shards\":[");
	for (k = 0; k < s->o.shards; k++) {
		u128_decimal(start, step * k);
		u128_decimal(end,
		    k + 1 == s->o.shards ? ~(unsigned __int128)0 : step * (k + 1) - 1);
		fx_sequence(first, k, 0);
		fx_sequence(last, k, s->o.records);
		rc |= buf_printf(b,
		    "%s{\"ShardId\":\"%s\",\"HashKeyRange\":{\"StartingHashKey\":\"%s\","
		    "\"EndingHashKey\":\"%s\"},\"SequenceNumberRange\":{"
		    "\"StartingSequenceNumber\":\"%s\"",
		    k ? "," : "", s->shards[k].id, start, end, first);
		if (!s->o.open)
			rc |= buf_printf(b, ",\"EndingSequenceNumber\":\"%s\"", last);
		rc |= buf_puts(b, "}}");
	}
	rc |= buf_puts(b, "]}");

	b = &s->summary;
	rc |= buf_puts(b, "{\"StreamDescriptionSummary\":{\"StreamName\":");
	rc |= buf_json_string(b, s->o.stream);
	/* The name is [a-zA-Z0-9_.-] (fx_stream_build checks), so the ARN needs no escaping. */
	rc |= buf_printf(b,
	    ",\"StreamARN\":\"arn:aws:kinesis:us-east-1:000000000000:stream/%s\","
	    "\"StreamStatus\":\"ACTIVE\",\"StreamModeDetails\":{\"StreamMode\":"
	    "\"PROVISIONED\"},\"RetentionPeriodHours\":24,\"StreamCreationTimestamp\":%" PRId64
	    ",\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":[]}],\"EncryptionType\":\"NONE\","
	    "\"OpenShardCount\":%u,\"ConsumerCount\":0}}",
	    s->o.stream, s->newest_arrival_ms / 1000 - 86400, s->o.open ? s->o.shards : 0);
	return rc ? -1 : 0;
}

static bool
stream_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 1 && n <= 128 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
	           n;
}

int
fx_stream_build(struct fx_stream *s, const struct fx_opts *o, char *err, size_t errsize)
{
	unsigned k;

	memset(s, 0, sizeof(*s));
	s->o = *o;
	buf_init(&s->list_shards, 0);
	buf_init(&s->summary, 0);
	if (!stream_name_ok(o->stream) || o->shards < 1 || o->shards > FX_SHARDS_MAX ||
	    o->records > FX_RECORDS_MAX || o->record_bytes < 1 ||
	    o->record_bytes > FX_RECORD_BYTES_MAX || o->batch < 1 || o->batch > FX_BATCH_MAX) {
		set_err(err, errsize, EINVAL,
		    "want a stream name of 1..128 [a-zA-Z0-9_.-], 1..%d shards, up to %llu records "
		    "of 1..%d bytes, batch 1..%d",
		    FX_SHARDS_MAX, FX_RECORDS_MAX, FX_RECORD_BYTES_MAX, FX_BATCH_MAX);
		return -1;
	}
	s->newest_arrival_ms = wall_now_ms();
	if ((s->shards = calloc(o->shards, sizeof(*s->shards))) == NULL) {
		set_err(err, errsize, ENOMEM, "out of memory");
		return -1;
	}
	for (k = 0; k < o->shards; k++)
		if (build_shard(s, k, err, errsize) < 0)
			return -1;
	if (build_bodies(s) < 0) {
		set_err(err, errsize, ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

void
fx_stream_free(struct fx_stream *s)
{
	unsigned k;

	if (s->shards)
		for (k = 0; k < s->o.shards; k++) {
			free(s->shards[k].text);
			free(s->shards[k].off);
		}
	free(s->shards);
	buf_free(&s->list_shards);
	buf_free(&s->summary);
	memset(s, 0, sizeof(*s));
}

static void
reply_error(struct fx_reply *r, const char *type, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = 400;
	r->error = type;
	r->slice = NULL;
	r->slice_len = 0;
	buf_reset(r->head);
	buf_reset(r->tail);
	if (buf_printf(r->head, "{\"__type\":\"%s\",\"message\":", type) < 0 ||
	    buf_json_string(r->head, msg) < 0 || buf_puts(r->head, "}") < 0)
		buf_reset(r->head);
}

static const char *
member_string(json_object *req, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The request names our stream (by name or ARN), or names none when none is needed. */
static bool
our_stream(const struct fx_stream *s, json_object *req, bool required)
{
	const char *name = member_string(req, "StreamName"), *arn = member_string(req, "StreamARN");
	const char *slash;

	if (name)
		return strcmp(name, s->o.stream) == 0;
	if (arn)
		return (slash = strrchr(arn, '/')) != NULL && strcmp(slash + 1, s->o.stream) == 0;
	return !required;
}

/* "shardId-000000000003" -> 3. */
static int
shard_index(const struct fx_stream *s, const char *id, unsigned *k)
{
	unsigned v;

	for (v = 0; v < s->o.shards; v++)
		if (strcmp(id, s->shards[v].id) == 0) {
			*k = v;
			return 0;
		}
	return -1;
}

static void
get_shard_iterator(struct fx_stream *s, json_object *req, struct fx_reply *r)
{
	const char *id = member_string(req, "ShardId"),
	           *type = member_string(req, "ShardIteratorType");
	const char *seq = member_string(req, "StartingSequenceNumber");
	uint64_t n = s->o.records, pos, index;
	unsigned k, seq_shard;
	char it[FX_ITERATOR_MAX];
	json_object *ts;

	if (!id || !type) {
		reply_error(r, "InvalidArgumentException",
		    "ShardId and ShardIteratorType are required");
		return;
	}
	if (shard_index(s, id, &k) < 0) {
		reply_error(r, "ResourceNotFoundException", "Shard %s in stream %s does not exist",
		    id, s->o.stream);
		return;
	}
	if (strcmp(type, "TRIM_HORIZON") == 0) {
		pos = 0;
	} else if (strcmp(type, "LATEST") == 0) {
		pos = n;
	} else if (strcmp(type, "AT_SEQUENCE_NUMBER") == 0 ||
	           strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0) {
		if (!seq || fx_parse_sequence(seq, &seq_shard, &index) < 0 || seq_shard != k) {
			reply_error(r, "InvalidArgumentException",
			    "StartingSequenceNumber %s used in GetShardIterator on shard %s is not "
			    "a sequence number of this shard",
			    seq ? seq : "(none)", id);
			return;
		}
		/* Record i has index i + 1; index 0 is the shard's starting number. */
		pos = type[1] == 'T' ? (index ? index - 1 : 0) : index;
		if (pos > n)
			pos = n;
	} else if (strcmp(type, "AT_TIMESTAMP") == 0) {
		double at_ms, first_ms = (double)(s->newest_arrival_ms - (int64_t)n + 1);

		if (!json_object_object_get_ex(req, "Timestamp", &ts) ||
		    !(json_object_is_type(ts, json_type_double) ||
		        json_object_is_type(ts, json_type_int))) {
			reply_error(r, "InvalidArgumentException",
			    "AT_TIMESTAMP needs a Timestamp");
			return;
		}
		/* Record i arrived at first_ms + i. */
		at_ms = json_object_get_double(ts) * 1000.0;
		pos = at_ms <= first_ms               ? 0
		      : at_ms - first_ms >= (double)n ? n
		                                      : (uint64_t)(at_ms - first_ms + 0.999);
	} else {
		reply_error(r, "InvalidArgumentException", "ShardIteratorType %s is not valid",
		    type);
		return;
	}
	s->shards[k].stats.iterators++;
	s->shards[k].stats.fetch_pending = true;
	fx_iterator(it, sizeof(it), k, pos);
	if (buf_printf(r->head, "{\"ShardIterator\":\"%s\"}", it) < 0)
		reply_error(r, "InternalFailure", "out of memory");
}

static void
get_records(struct fx_stream *s, json_object *req, int64_t now_ns, struct fx_reply *r)
{
	const char *it = member_string(req, "ShardIterator");
	uint64_t n = s->o.records, pos, take, q;
	unsigned k;
	int64_t limit = FX_BATCH_MAX;
	json_object *v;
	struct fx_shard *sh;
	char next[FX_ITERATOR_MAX];
	size_t data_cap = FX_RESPONSE_DATA_MAX / s->o.record_bytes;

	if (!it || fx_parse_iterator(it, &k, &pos) < 0 || k >= s->o.shards || pos > n) {
		reply_error(r, "InvalidArgumentException", "Invalid ShardIterator");
		return;
	}
	if (json_object_object_get_ex(req, "Limit", &v)) {
		limit = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
		if (limit < 1 || limit > FX_BATCH_MAX) {
			reply_error(r, "InvalidArgumentException", "Limit must be between 1 and %d",
			    FX_BATCH_MAX);
			return;
		}
	}
	sh = &s->shards[k];
	take = n - pos;
	if (take > (uint64_t)limit)
		take = (uint64_t)limit;
	if (take > s->o.batch)
		take = s->o.batch;
	if (take > data_cap)
		take = data_cap ? data_cap : 1;
	q = pos + take;

	sh->stats.get_records++;
	sh->stats.records_served += take;
	if (sh->stats.fetch_pending) {
		sh->stats.first_fetch_ns = now_ns;
		sh->stats.fetch_pending = false;
	}
	if (buf_puts(r->head, "{\"Records\":[") < 0)
		goto oom;
	if (take) {
		r->slice = sh->text + sh->off[pos];
		r->slice_len = sh->off[q] - sh->off[pos] - 1; /* without the last ',' */
	}
	if (q == n && !s->o.open) {
		if (buf_puts(r->tail, "],\"NextShardIterator\":null") < 0)
			goto oom;
	} else {
		fx_iterator(next, sizeof(next), k, q);
		if (buf_printf(r->tail, "],\"NextShardIterator\":\"%s\"", next) < 0)
			goto oom;
	}
	/* Each record arrived 1 ms after the one before: the newest is n - q ms ahead. */
	if (buf_printf(r->tail, ",\"MillisBehindLatest\":%" PRIu64 "}", n - q) < 0)
		goto oom;
	return;
oom:
	reply_error(r, "InternalFailure", "out of memory");
}

void
fx_call(struct fx_stream *s, const char *action, const char *body, size_t len, int64_t now_ns,
    struct fx_reply *r)
{
	struct json_tokener *tok = json_tokener_new_ex(REQUEST_DEPTH_MAX);
	json_object *req = NULL;

	r->status = 200;
	r->error = NULL;
	r->slice = NULL;
	r->slice_len = 0;
	buf_reset(r->head);
	buf_reset(r->tail);
	if (tok == NULL) {
		reply_error(r, "InternalFailure", "out of memory");
		return;
	}
	req = json_tokener_parse_ex(tok, body, (int)len);
	if (req == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(req, json_type_object)) {
		reply_error(r, "SerializationException", "the request body is not a JSON object");
		goto out;
	}
	if (strcmp(action, "GetRecords") == 0) {
		get_records(s, req, now_ns, r);
	} else if (strcmp(action, "GetShardIterator") == 0) {
		if (!our_stream(s, req, true))
			reply_error(r, "ResourceNotFoundException", "Stream not found");
		else
			get_shard_iterator(s, req, r);
	} else if (strcmp(action, "ListShards") == 0) {
		/* Every shard in one page, as kinesalite does; NextToken alone names no stream. */
		if (!our_stream(s, req, member_string(req, "NextToken") == NULL)) {
			reply_error(r, "ResourceNotFoundException", "Stream not found");
		} else {
			r->slice = s->list_shards.data;
			r->slice_len = s->list_shards.len;
		}
	} else if (strcmp(action, "DescribeStreamSummary") == 0) {
		if (!our_stream(s, req, true)) {
			reply_error(r, "ResourceNotFoundException", "Stream not found");
		} else {
			r->slice = s->summary.data;
			r->slice_len = s->summary.len;
		}
	} else {
		reply_error(r, "UnknownOperationException", "%s is not served by kls-fixture",
		    action);
	}
out:
	json_object_put(req);
	json_tokener_free(tok);
}

int
fx_stats(const struct fx_stream *s, struct kls_buf *out)
{
	char last[FX_SEQUENCE_LEN + 1];
	unsigned k;
	int rc = 0;

	buf_reset(out);
	rc |= buf_puts(out, "{\"stream\":");
	rc |= buf_json_string(out, s->o.stream);
	rc |= buf_puts(out, ",\"shards\":[");
	for (k = 0; k < s->o.shards; k++) {
		const struct fx_shard_stats *st = &s->shards[k].stats;

		fx_sequence(last, k, s->o.records);
		rc |= buf_printf(out,
		    "%s{\"shard_id\":\"%s\",\"records\":%" PRIu64 ",\"last_sequence_number\":"
		    "\"%s\",\"get_records\":%" PRIu64 ",\"records_served\":%" PRIu64
		    ",\"iterators\":%" PRIu64 ",\"first_fetch_ns\":%" PRId64 "}",
		    k ? "," : "", s->shards[k].id, s->o.records, last, st->get_records,
		    st->records_served, st->iterators, st->first_fetch_ns);
	}
	rc |= buf_puts(out, "]}");
	return rc ? -1 : 0;
}
