/*
 * A scripted AWS endpoint on top of stub_http: answers the n-th request with the n-th
 * step and checks that request's X-Amz-Target and body. Mismatches are recorded (the
 * stub runs on its own thread, where CUnit asserts are not safe) for the test to
 * assert on afterwards.
 */
#ifndef KLS_TEST_STUB_SCRIPT_H
#define KLS_TEST_STUB_SCRIPT_H

#include <stddef.h>

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

#endif
