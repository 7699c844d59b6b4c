/*
 * One signed JSON request to an AWS service (Kinesis, DynamoDB, CloudWatch), over
 * the HTTP layer, signed with SigV4 from a credentials provider. Synchronous: a
 * caller that must not block (klsd's loop) runs calls on its own pool threads,
 * each thread with its own aws_client. Library code: returns errors, never logs
 * them (the caller logs once, where it decides what to do).
 */
#ifndef KLS_AWS_H
#define KLS_AWS_H

#include <stddef.h>

#include "common/buf.h"

struct aws_creds_provider;

/* How the caller should react to a failed call. */
enum aws_err_class {
	AWS_OK = 0,
	AWS_ERR_THROTTLED, /* throttling: back off harder, then retry */
	AWS_ERR_RETRYABLE, /* 5xx, network, timeout: retry with backoff */
	AWS_ERR_FATAL,     /* other 4xx, bad response, local error: do not retry */
};

struct aws_error {
	enum aws_err_class cls;
	long http_status; /* 0 when no HTTP response arrived */
	/* The service's error type without its namespace ("ConditionalCheckFailedException"),
	 * or a local kind ("NetworkError", "ResponseTooLarge", "BadResponse", "Credentials"). */
	char type[128];
	char message[512]; /* the service's message, or what went wrong locally */
};

struct aws_service_config {
	const char *service;        /* signing name: "kinesis", "dynamodb", "monitoring" */
	const char *region;         /* "us-east-1" */
	const char *endpoint;       /* base URL; NULL = https://<service>.<region>.amazonaws.com */
	const char *target_prefix;  /* X-Amz-Target prefix: "Kinesis_20131202", "DynamoDB_20120810" */
	const char *content_type;   /* "application/x-amz-json-1.1" (Kinesis) or "-1.0" (DynamoDB) */
	long connect_timeout_ms;    /* 0 = 3000 */
	long timeout_ms;            /* whole request; 0 = 10000 */
	size_t max_response_bytes;  /* 0 = 32 MiB */
	struct aws_creds_provider *creds; /* shared, thread-safe; not owned */
};

struct aws_client;

/* NULL with err filled when the configuration is unusable (bad endpoint URL, plain
 * http to a non-loopback host). */
struct aws_client *aws_client_new(const struct aws_service_config *cfg, struct aws_error *err);
void aws_client_free(struct aws_client *c);

/*
 * One attempt of action (e.g. "GetRecords") with a JSON body. On 2xx returns 0 with
 * the body in resp (reset first). Otherwise returns -1 with err classified and, for
 * service errors, the service's type and message.
 */
int aws_call(struct aws_client *c, const char *action, const char *body, size_t len,
    struct kls_buf *resp, struct aws_error *err);

struct http_stream;

/*
 * aws_call for an action whose 2xx response is a stream (SubscribeToShard): the body
 * goes to stream as it arrives (see common/http.h: no body cap, no total timeout, HTTP/2
 * where TLS offers it). A non-2xx response is an error as with aws_call, its body in
 * resp. 0 when a 2xx response ended normally; -1 with err otherwise, err->type
 * "Aborted" when a stream callback ended it.
 */
int aws_call_stream(struct aws_client *c, const char *action, const char *body, size_t len,
    const struct http_stream *stream, struct kls_buf *resp, struct aws_error *err);

struct aws_retry_policy {
	int max_attempts; /* including the first; 1 = no retry */
	int base_ms;      /* first backoff cap */
	int cap_ms;       /* largest backoff */
};

/* aws_call, retrying throttled and retryable failures with full-jitter backoff. */
int aws_call_retry(struct aws_client *c, const struct aws_retry_policy *policy,
    const char *action, const char *body, size_t len, struct kls_buf *resp,
    struct aws_error *err);

#endif
