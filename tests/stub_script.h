/*
 * A scripted AWS endpoint on top of stub_http: answers the n-th request with the n-th
 * step and checks that request's X-Amz-Target and body. Mismatches are recorded (the
 * stub runs on its own thread, where CUnit asserts are not safe) for the test to
 * assert on afterwards.
 */
#ifndef KLS_TEST_STUB_SCRIPT_H
#define KLS_TEST_STUB_SCRIPT_H

#include <stddef.h>

#include "common/aws.h"
#include "tests/stub_http.h"

struct stub_step {
	const char *action;      /* expected end of X-Amz-Target ("ListShards"); NULL = any */
	const char *must[4];     /* substrings the request body must contain */
	const char *must_not[4]; /* substrings it must not contain */
	int status;              /* 0 = 200 */
	const char *body;        /* response body */
};

struct stub_script {
	const struct stub_step *steps;
	size_t n;
	const char *content_type; /* response Content-Type; NULL = application/x-amz-json-1.1 */
	int answered;
	char failure[1024];       /* the first mismatch; "" when every request was as expected */
	char last_body[16384];    /* the last request body (truncated) */
};

void stub_script_handler(void *arg, const struct stub_request *req, struct stub_response *resp);

/* A scripted server, dummy static credentials, and a service config aimed at the
 * server (fill: kinesis_service_config, ddb_service_config, ...; region us-east-1). */
struct stub_endpoint {
	struct stub_server *srv;
	struct aws_creds_provider *creds;
	struct aws_service_config cfg;
};

typedef void (*stub_config_fill)(struct aws_service_config *cfg, const char *region,
    const char *endpoint, struct aws_creds_provider *creds);

int stub_endpoint_start(struct stub_endpoint *e, struct stub_script *script, stub_config_fill fill);
void stub_endpoint_stop(struct stub_endpoint *e);

/* One attempt per call: a scripted answer is never retried past the script. */
extern const struct aws_retry_policy stub_no_retry;

#endif
