/*
 * JSON plumbing shared by the control-plane clients (Kinesis except GetRecords, and
 * DynamoDB), built on json-c: parse a response body with an error that says what was
 * wrong (truncated, not JSON, wrong shape), read bounded fields, send a request object
 * through aws_call_retry, and put the call and its target in front of error messages
 * ("ListShards orders: ..."). Not a public API of its own: kinesis.c and dynamodb.c use it.
 */
#ifndef KLS_AWSJSON_H
#define KLS_AWSJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/aws.h"
#include "common/buf.h"

/* Deepest nesting accepted in a control-plane response (DynamoDB M/L values included). */
#define AWSJ_MAX_DEPTH 32

/* Fills err as a response that is not what the API promises: FATAL, type "BadResponse". */
void awsj_bad_response(struct aws_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Fills err as a local failure before any request was sent: FATAL, the given type
 * ("InvalidArgument", "NoMemory"). */
void awsj_local_error(struct aws_error *err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Puts "<context>: " in front of err->message (truncating at the end if needed). */
void awsj_context(struct aws_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when err carries the service error type, with or without its namespace
 * ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"). */
bool awsj_error_is(const struct aws_error *err, const char *type);

/* Parses a whole response body that must be one JSON object. NULL with err when the
 * body is empty, truncated, not JSON, followed by other data, nested deeper than
 * AWSJ_MAX_DEPTH or not an object. The caller json_object_put()s the result. */
json_object *awsj_parse(const char *body, size_t len, struct aws_error *err);

/*
 * Field readers for a parsed response. "where" names the enclosing object in errors
 * ("Shards[2]"). Each returns 0, 1 when an optional field is absent (out untouched),
 * or -1 with err saying which field is missing, of the wrong type or too long.
 */
int awsj_str(json_object *o, const char *where, const char *key, bool required, size_t max_len,
    char *out, size_t size, struct aws_error *err);
/* Like awsj_str but hands out the string inside o (valid while o lives). */
int awsj_str_ref(json_object *o, const char *where, const char *key, bool required,
    size_t max_len, const char **out, struct aws_error *err);
/* An integer (JSON number without fraction) in [min, max]. */
int awsj_int(json_object *o, const char *where, const char *key, bool required, int64_t min,
    int64_t max, int64_t *out, struct aws_error *err);
/* A number (integer or fraction), e.g. epoch seconds. */
int awsj_double(json_object *o, const char *where, const char *key, bool required, double *out,
    struct aws_error *err);
/* An object, or an array when want_array. */
int awsj_obj(json_object *o, const char *where, const char *key, bool required, bool want_array,
    json_object **out, struct aws_error *err);

/* Adds key: string to obj; -1 on allocation failure. */
int awsj_add_str(json_object *obj, const char *key, const char *val);
int awsj_add_int(json_object *obj, const char *key, int64_t val);

/* The part every json-c client shares: one aws_client, its retry policy and a
 * response buffer reused by every call (so one client per thread). */
struct awsj_client {
	struct aws_client *aws;
	struct aws_retry_policy retry;
	struct kls_buf resp;
};

/* Zeroes cfg and fills what every caller of one service gives the same way. */
void awsj_service_config(struct aws_service_config *cfg, const char *service,
    const char *target_prefix, const char *content_type, const char *region,
    const char *endpoint, struct aws_creds_provider *creds);

/* retry NULL = fallback. -1 with err when aws_client_new refuses cfg. */
int awsj_client_init(struct awsj_client *cl, const struct aws_service_config *cfg,
    const struct aws_retry_policy *retry, const struct aws_retry_policy *fallback,
    struct aws_error *err);
void awsj_client_fini(struct awsj_client *cl);

/* Sends req with aws_call_retry and puts it; on 2xx 0 with the body in cl->resp.
 * req NULL means building it failed: -1, err already says why. */
int awsj_send(struct awsj_client *cl, const char *action, json_object *req,
    struct aws_error *err);

/* Serializes req (compact) into out, reset first, and puts it. req NULL: -1 as above;
 * also -1 with err (NoMemory, or a request larger than out's limit). */
int awsj_body(json_object *req, struct kls_buf *out, struct aws_error *err);

/* True when s is 1..max_digits decimal digits without a leading zero (or "0"). */
bool awsj_is_decimal(const char *s, size_t max_digits);

#endif
