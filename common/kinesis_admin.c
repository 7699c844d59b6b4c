/*
 * Kinesis calls for tools, tests and the demo, never on klsd's or a reader's path:
 * stream creation and deletion, resharding, and PutRecords (base64 with OpenSSL).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/awsjson.h"
#include "common/kinesis_int.h"

/* ---- stream management ---- */

/* Sends req, built when ok (else out of memory); failures name action and target. */
static int
send_built(struct kinesis_client *c, const char *action, const char *target, json_object *req,
    bool ok, struct aws_error *err)
{
	if (!ok) {
		json_object_put(req);
		return kin_no_memory(err, action, target);
	}
	if (awsj_send(&c->j, action, req, err) < 0) {
		awsj_context(err, "%s %s", action, target);
		return -1;
	}
	return 0;
}

int
kinesis_create_stream(struct kinesis_client *c, const char *stream, int shard_count,
    struct aws_error *err)
{
	json_object *req;

	if (kin_check_stream("CreateStream", stream, err) < 0)
		return -1;
	if (shard_count < 1 || shard_count > 100000) {
		awsj_local_error(err, "InvalidArgument", "CreateStream %s: shard count %d not in 1..100000",
		    stream, shard_count);
		return -1;
	}
	req = kin_new_stream_request(stream);
	return send_built(c, "CreateStream", stream, req,
	    req && awsj_add_int(req, "ShardCount", shard_count) == 0, err);
}

int
kinesis_delete_stream(struct kinesis_client *c, const char *stream, struct aws_error *err)
{
	json_object *req;

	if (kin_check_stream("DeleteStream", stream, err) < 0)
		return -1;
	req = kin_new_stream_request(stream);
	return send_built(c, "DeleteStream", stream, req, req != NULL, err);
}

int
kinesis_split_shard(struct kinesis_client *c, const char *stream, const char *shard_id,
    const char *new_starting_hash_key, struct aws_error *err)
{
	char target[KINESIS_STREAM_NAME_MAX + KINESIS_SHARD_ID_MAX + 2];
	json_object *req;

	if (kin_check_stream("SplitShard", stream, err) < 0 ||
	    kin_check_shard("SplitShard", stream, shard_id, err) < 0)
		return -1;
	snprintf(target, sizeof(target), "%s %s", stream, shard_id);
	if (!kin_valid_hash_key(new_starting_hash_key)) {
		awsj_local_error(err, "InvalidArgument",
		    "SplitShard %s: hash key \"%.*s\" is not a 128-bit decimal", target, 48,
		    new_starting_hash_key ? new_starting_hash_key : "(null)");
		return -1;
	}
	req = kin_new_stream_request(stream);
	return send_built(c, "SplitShard", target, req,
	    req && awsj_add_str(req, "ShardToSplit", shard_id) == 0 &&
		awsj_add_str(req, "NewStartingHashKey", new_starting_hash_key) == 0,
	    err);
}

int
kinesis_merge_shards(struct kinesis_client *c, const char *stream, const char *shard_id,
    const char *adjacent_shard_id, struct aws_error *err)
{
	char target[KINESIS_STREAM_NAME_MAX + 2 * KINESIS_SHARD_ID_MAX + 3];
	json_object *req;

	if (kin_check_stream("MergeShards", stream, err) < 0 ||
	    kin_check_shard("MergeShards", stream, shard_id, err) < 0 ||
	    kin_check_shard("MergeShards", stream, adjacent_shard_id, err) < 0)
		return -1;
	snprintf(target, sizeof(target), "%s %s+%s", stream, shard_id, adjacent_shard_id);
	req = kin_new_stream_request(stream);
	return send_built(c, "MergeShards", target, req,
	    req && awsj_add_str(req, "ShardToMerge", shard_id) == 0 &&
		awsj_add_str(req, "AdjacentShardToMerge", adjacent_shard_id) == 0,
	    err);
}

/* ---- PutRecords ---- */

static json_object *
put_records_request(const char *stream, const struct kinesis_put_entry *e, size_t n,
    struct aws_error *err)
{
	json_object *req, *recs;
	size_t total = 0;
	char *b64 = NULL;

	if (kin_check_stream("PutRecords", stream, err) < 0)
		return NULL;
	if (n < 1 || n > KINESIS_PUT_RECORDS_MAX) {
		awsj_local_error(err, "InvalidArgument", "PutRecords %s: %zu records, not 1..%d", stream,
		    n, KINESIS_PUT_RECORDS_MAX);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t klen = e[i].partition_key ? strlen(e[i].partition_key) : 0;
		if (klen < 1 || klen > KINESIS_PARTITION_KEY_MAX) {
			awsj_local_error(err, "InvalidArgument",
			    "PutRecords %s: record %zu: partition key of %zu characters, not 1..%d", stream,
			    i, klen, KINESIS_PARTITION_KEY_MAX);
			return NULL;
		}
		if (e[i].len > KINESIS_RECORD_DATA_MAX || (e[i].len && !e[i].data)) {
			awsj_local_error(err, "InvalidArgument",
			    "PutRecords %s: record %zu: %zu bytes of data, more than %d", stream, i,
			    e[i].len, KINESIS_RECORD_DATA_MAX);
			return NULL;
		}
		if (e[i].explicit_hash_key && !kin_valid_hash_key(e[i].explicit_hash_key)) {
			awsj_local_error(err, "InvalidArgument",
			    "PutRecords %s: record %zu: explicit hash key is not a 128-bit decimal", stream,
			    i);
			return NULL;
		}
		total += e[i].len + klen;
	}
	if (total > KINESIS_PUT_REQUEST_MAX) {
		awsj_local_error(err, "InvalidArgument", "PutRecords %s: %zu bytes of data and keys, more than %d",
		    stream, total, KINESIS_PUT_REQUEST_MAX);
		return NULL;
	}
	req = kin_new_stream_request(stream);
	recs = json_object_new_array_ext((int)n);
	if (!req || !recs || json_object_object_add(req, "Records", recs) < 0) {
		json_object_put(recs);
		recs = NULL;
		goto nomem;
	}
	if (!(b64 = malloc(4 * ((KINESIS_RECORD_DATA_MAX + 2) / 3) + 1)))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_new_object(), *d;
		int blen;

		if (!r || json_object_array_add(recs, r) < 0) {
			json_object_put(r);
			goto nomem;
		}
		blen = EVP_EncodeBlock((unsigned char *)b64, e[i].data, (int)e[i].len);
		d = json_object_new_string_len(b64, blen);
		if (!d || json_object_object_add(r, "Data", d) < 0) {
			json_object_put(d);
			goto nomem;
		}
		if (awsj_add_str(r, "PartitionKey", e[i].partition_key) < 0 ||
		    (e[i].explicit_hash_key &&
			awsj_add_str(r, "ExplicitHashKey", e[i].explicit_hash_key) < 0))
			goto nomem;
	}
	free(b64);
	return req;
nomem:
	free(b64);
	json_object_put(req); /* owns recs once added */
	kin_no_memory(err, "PutRecords", stream);
	return NULL;
}

int
kinesis_put_records_body(struct kls_buf *out, const char *stream,
    const struct kinesis_put_entry *entries, size_t n, struct aws_error *err)
{
	return awsj_body(put_records_request(stream, entries, n, err), out, err);
}

int
kinesis_parse_put_records(const char *body, size_t len, size_t n,
    struct kinesis_put_result *results, size_t *failed, struct aws_error *err)
{
	json_object *o, *recs;
	int64_t count;
	size_t nfail = 0;
	int rc = -1;

	if (!(o = awsj_parse(body, len, err)))
		return -1;
	if (awsj_int(o, "", "FailedRecordCount", false, 0, (int64_t)n, &count, err) < 0 ||
	    awsj_obj(o, "", "Records", true, true, &recs, err) < 0)
		goto out;
	if (json_object_array_length(recs) != n) {
		awsj_bad_response(err, "Records: %zu results for %zu records",
		    json_object_array_length(recs), n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(recs, i);
		struct kinesis_put_result tmp = { 0 };
		struct kinesis_put_result *res = results ? &results[i] : &tmp;
		char where[48];

		snprintf(where, sizeof(where), "Records[%zu]", i);
		memset(res, 0, sizeof(*res));
		if (!json_object_is_type(r, json_type_object)) {
			awsj_bad_response(err, "%s: %s, expected an object", where,
			    json_type_to_name(json_object_get_type(r)));
			goto out;
		}
		if (awsj_str(r, where, "ErrorCode", false, sizeof(res->error_code) - 1,
			res->error_code, sizeof(res->error_code), err) < 0)
			goto out;
		if (*res->error_code) {
			const char *msg = NULL;
			/* The message is informational: keep what fits. */
			if (awsj_str_ref(r, where, "ErrorMessage", false, 65536, &msg, err) < 0)
				goto out;
			snprintf(res->error_message, sizeof(res->error_message), "%s", msg ? msg : "");
			nfail++;
			continue;
		}
		if (awsj_str(r, where, "ShardId", true, KINESIS_SHARD_ID_MAX, res->shard_id,
			sizeof(res->shard_id), err) < 0 ||
		    awsj_str(r, where, "SequenceNumber", true, KINESIS_SEQUENCE_MAX,
			res->sequence_number, sizeof(res->sequence_number), err) < 0)
			goto out;
		if (!awsj_is_decimal(res->sequence_number, KINESIS_SEQUENCE_MAX)) {
			awsj_bad_response(err, "%s.SequenceNumber: not decimal", where);
			goto out;
		}
	}
	if (json_object_object_get_ex(o, "FailedRecordCount", NULL) && (size_t)count != nfail) {
		awsj_bad_response(err, "FailedRecordCount %lld but %zu records carry an ErrorCode",
		    (long long)count, nfail);
		goto out;
	}
	*failed = nfail;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int
kinesis_put_records(struct kinesis_client *c, const char *stream,
    const struct kinesis_put_entry *entries, size_t n, struct kinesis_put_result *results,
    size_t *failed, struct aws_error *err)
{
	json_object *req = put_records_request(stream, entries, n, err);
	int rc;

	if (!req)
		return -1;
	rc = awsj_send(&c->j, "PutRecords", req, err);
	if (rc == 0)
		rc = kinesis_parse_put_records(c->j.resp.data, c->j.resp.len, n, results, failed, err);
	if (rc < 0)
		awsj_context(err, "PutRecords %s", stream);
	return rc;
}
