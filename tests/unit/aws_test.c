/*
 * Tests of common/aws against loopback stubs: the request on the wire (target,
 * content type, date, token, a signature that matches the bytes sent), service
 * errors parsed from the services' own bodies, classification and retry counts, and
 * no secret in any debug output.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/aws.h"
#include "common/creds.h"
#include "common/log.h"
#include "common/sigv4.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

#define AKID "AKIDUNITTEST"
#define SECRET "SECRETunitTEST/abc+def"
#define TOKEN "TOKENunitTEST-session-0123456789"

/* DynamoDB's ConditionalCheckFailed body, exactly as dynalite and the service send it
 * (EMULATORS.md). */
static const char ccf_body[] = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
			       "ConditionalCheckFailedException\",\"message\":\"The conditional "
			       "request failed\"}";
static const char throttle_body[] = "{\"__type\":\"ProvisionedThroughputExceededException\","
				    "\"message\":\"Rate exceeded for shard shardId-000000000001\"}";

/* Replies in order; the last one repeats. */
struct reply {
	int status;
	const char *body;
	const char *headers;
};

struct script {
	const struct reply *replies;
	int n;
	/* What the stub saw on the last request. */
	char target[256], ctype[128], date[64], token[256], auth[512], host[256];
	char method[16], path[64], body[256];
	int signature_ok; /* the Authorization matches a signature of the bytes received */
};

/* Recomputes the signature from what arrived: proves the request sent is the one
 * that was signed (Host, body and headers unchanged by the HTTP layer). */
static int
verify_signature(const struct stub_request *req, struct script *s, const char *service)
{
	struct http_header h[4] = {
		{ "Host", s->host },
		{ "Content-Type", s->ctype },
		{ "X-Amz-Target", s->target },
		{ "X-Amz-Security-Token", s->token },
	};
	struct sigv4_request sr = { req->method, req->path, NULL, h, s->token[0] ? 4 : 3,
		req->body, req->body_len };
	struct sigv4_params sp = { AKID, SECRET, s->token[0] ? s->token : NULL, "us-east-1",
		service, s->date, true, false };
	struct sigv4_signed sig;
	int ok;

	sigv4_signed_init(&sig);
	ok = sigv4_sign(&sr, &sp, &sig, NULL) == 0 && strcmp(sig.authorization.data, s->auth) == 0;
	sigv4_signed_free(&sig);
	return ok;
}

static void
script_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct script *s = arg;
	const struct reply *r = &s->replies[req->index < s->n ? req->index : s->n - 1];

	s->target[0] = s->ctype[0] = s->date[0] = s->token[0] = s->auth[0] = s->host[0] = '\0';
	stub_header(req, "X-Amz-Target", s->target, sizeof(s->target));
	stub_header(req, "Content-Type", s->ctype, sizeof(s->ctype));
	stub_header(req, "X-Amz-Date", s->date, sizeof(s->date));
	stub_header(req, "X-Amz-Security-Token", s->token, sizeof(s->token));
	stub_header(req, "Authorization", s->auth, sizeof(s->auth));
	stub_header(req, "Host", s->host, sizeof(s->host));
	snprintf(s->method, sizeof(s->method), "%.15s", req->method);
	snprintf(s->path, sizeof(s->path), "%.63s", req->path);
	snprintf(s->body, sizeof(s->body), "%.255s", req->body);
	s->signature_ok = verify_signature(req, s, "dynamodb");

	resp->status = r->status;
	if (r->body)
		buf_puts(&resp->body, r->body);
	if (r->headers)
		snprintf(resp->headers, sizeof(resp->headers), "%s", r->headers);
}

struct fixture {
	struct stub_server *stub;
	struct aws_creds_provider *creds;
	struct aws_client *client;
	struct script script;
	struct kls_buf resp;
	struct aws_error err;
};

static void
fixture_start(struct fixture *f, const struct reply *replies, int n, const char *token)
{
	struct aws_service_config cfg = {
		.service = "dynamodb",
		.region = "us-east-1",
		.target_prefix = "DynamoDB_20120810",
		.content_type = "application/x-amz-json-1.0",
		.timeout_ms = 5000,
	};
	memset(f, 0, sizeof(*f));
	f->script.replies = replies;
	f->script.n = n;
	f->stub = stub_start(script_handler, &f->script);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->stub);
	f->creds = creds_provider_new_static(AKID, SECRET, token);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->creds);
	cfg.endpoint = stub_url(f->stub);
	cfg.creds = f->creds;
	f->client = aws_client_new(&cfg, &f->err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->client);
	buf_init(&f->resp, 0);
}

static void
fixture_stop(struct fixture *f)
{
	aws_client_free(f->client);
	creds_provider_free(f->creds);
	stub_stop(f->stub);
	buf_free(&f->resp);
}

static int
call(struct fixture *f, const char *action, const char *body)
{
	return aws_call(f->client, action, body, strlen(body), &f->resp, &f->err);
}

static void
test_aws_success_and_wire_format(void)
{
	static const struct reply ok[] = { { 200, "{\"Item\":{\"leaseKey\":{\"S\":\"shard-1\"}}}",
		"Content-Type: application/x-amz-json-1.0\r\n" } };
	struct fixture f;
	char host[64];

	fixture_start(&f, ok, 1, TOKEN);
	CU_ASSERT_EQUAL(call(&f, "GetItem", "{\"TableName\":\"t\"}"), 0);
	CU_ASSERT_STRING_EQUAL(f.resp.data, ok[0].body);
	CU_ASSERT_STRING_EQUAL(f.script.method, "POST");
	CU_ASSERT_STRING_EQUAL(f.script.path, "/");
	CU_ASSERT_STRING_EQUAL(f.script.body, "{\"TableName\":\"t\"}");
	CU_ASSERT_STRING_EQUAL(f.script.target, "DynamoDB_20120810.GetItem");
	CU_ASSERT_STRING_EQUAL(f.script.ctype, "application/x-amz-json-1.0");
	CU_ASSERT_STRING_EQUAL(f.script.token, TOKEN);
	snprintf(host, sizeof(host), "127.0.0.1:%d", stub_port(f.stub));
	CU_ASSERT_STRING_EQUAL(f.script.host, host);
	CU_ASSERT_EQUAL(strlen(f.script.date), 16);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.script.auth, "Credential=" AKID "/"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.script.auth, "/us-east-1/dynamodb/aws4_request, "
						     "SignedHeaders=content-type;host;x-amz-date;"
						     "x-amz-security-token;x-amz-target, Signature="));
	CU_ASSERT_TRUE(f.script.signature_ok);
	/* A second call reuses the connection and is signed afresh. */
	CU_ASSERT_EQUAL(call(&f, "PutItem", "{}"), 0);
	CU_ASSERT_STRING_EQUAL(f.script.target, "DynamoDB_20120810.PutItem");
	CU_ASSERT_TRUE(f.script.signature_ok);
	fixture_stop(&f);
}

static void
test_aws_no_token_header_without_token(void)
{
	static const struct reply ok[] = { { 200, "{}", NULL } };
	struct fixture f;

	fixture_start(&f, ok, 1, NULL);
	CU_ASSERT_EQUAL(call(&f, "DescribeTable", "{}"), 0);
	CU_ASSERT_STRING_EQUAL(f.script.token, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(f.script.auth, "SignedHeaders=content-type;host;x-amz-date;"
						     "x-amz-target, "));
	CU_ASSERT_TRUE(f.script.signature_ok);
	fixture_stop(&f);
}

/* Each error reply and the error it must give. */
static void
test_aws_service_errors(void)
{
	static const struct {
		struct reply reply;
		enum aws_err_class cls;
		const char *type;
		const char *message_has;
	} cases[] = {
		{ { 400, ccf_body, "Content-Type: application/x-amz-json-1.0\r\n" }, AWS_ERR_FATAL,
		    "ConditionalCheckFailedException", "The conditional request failed" },
		{ { 400, throttle_body, NULL }, AWS_ERR_THROTTLED,
		    "ProvisionedThroughputExceededException", "Rate exceeded for shard" },
		{ { 400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
			 "\"Message\":\"1 validation error detected\"}", NULL },
		    AWS_ERR_FATAL, "ValidationException", "1 validation error detected" },
		{ { 400, "{\"__type\":\"com.amazonaws.kinesis.v20131202#ResourceNotFoundException\","
			 "\"message\":\"Stream s not found\"}", NULL },
		    AWS_ERR_FATAL, "ResourceNotFoundException", "Stream s not found" },
		{ { 400, "{\"__type\":\"LimitExceededException\",\"message\":\"Rate exceeded\"}", NULL },
		    AWS_ERR_THROTTLED, "LimitExceededException", "Rate exceeded" },
		/* type only in the x-amzn-ErrorType header, with its ":..." suffix */
		{ { 403, "{\"Message\":\"User is not authorized\"}",
		      "x-amzn-ErrorType: AccessDeniedException:http://internal.amazon.com/x\r\n" },
		    AWS_ERR_FATAL, "AccessDeniedException", "User is not authorized" },
		{ { 500, "{\"__type\":\"InternalFailure\"}", NULL }, AWS_ERR_RETRYABLE,
		    "InternalFailure", "HTTP 500" },
		/* bodies that are not JSON, or empty: classified by status, status named */
		{ { 502, "<html><body>Bad Gateway</body></html>", NULL }, AWS_ERR_RETRYABLE,
		    "HttpError", "HTTP 502 with a body that is not JSON" },
		{ { 503, "{\"__type\":", NULL }, AWS_ERR_RETRYABLE, "HttpError", "HTTP 503" },
		{ { 400, "[1,2]", NULL }, AWS_ERR_FATAL, "HttpError", "HTTP 400" },
		{ { 500, "", NULL }, AWS_ERR_RETRYABLE, "HttpError", "HTTP 500 with an empty body" },
		{ { 429, "", NULL }, AWS_ERR_THROTTLED, "HttpError", "HTTP 429" },
		{ { 404, "not found\n\x1b[31m", NULL }, AWS_ERR_FATAL, "HttpError", "HTTP 404" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f;
		fixture_start(&f, &cases[i].reply, 1, TOKEN);
		CU_ASSERT_EQUAL(call(&f, "UpdateItem", "{}"), -1);
		if (f.err.cls != cases[i].cls || strcmp(f.err.type, cases[i].type) != 0 ||
		    !strstr(f.err.message, cases[i].message_has))
			fprintf(stderr, "case %zu: got cls %d type %s message %s\n", i, f.err.cls,
			    f.err.type, f.err.message);
		CU_ASSERT_EQUAL(f.err.cls, cases[i].cls);
		CU_ASSERT_EQUAL(f.err.http_status, cases[i].reply.status);
		CU_ASSERT_STRING_EQUAL(f.err.type, cases[i].type);
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, cases[i].message_has));
		CU_ASSERT_PTR_NULL(strchr(f.err.message, '\x1b'));
		CU_ASSERT_PTR_NULL(strstr(f.err.message, TOKEN));
		fixture_stop(&f);
	}
}

static void
test_aws_empty_success_body(void)
{
	static const struct reply ok[] = { { 200, "", NULL } };
	struct fixture f;

	fixture_start(&f, ok, 1, NULL);
	CU_ASSERT_EQUAL(call(&f, "DeleteStream", "{}"), 0);
	CU_ASSERT_EQUAL(f.resp.len, 0);
	fixture_stop(&f);
}

static void
test_aws_retry_throttled_then_ok(void)
{
	static const struct reply replies[] = {
		{ 400, throttle_body, NULL },
		{ 400, throttle_body, NULL },
		{ 200, "{\"Records\":[]}", NULL },
	};
	struct aws_retry_policy p = { 5, 1, 5 };
	struct fixture f;

	fixture_start(&f, replies, 3, TOKEN);
	CU_ASSERT_EQUAL(aws_call_retry(f.client, &p, "GetRecords", "{}", 2, &f.resp, &f.err), 0);
	CU_ASSERT_STRING_EQUAL(f.resp.data, "{\"Records\":[]}");
	CU_ASSERT_EQUAL(stub_count(f.stub), 3);
	fixture_stop(&f);
}

static void
test_aws_retry_gives_up_after_max_attempts(void)
{
	static const struct reply replies[] = { { 400, throttle_body, NULL } };
	struct aws_retry_policy p = { 3, 1, 5 };
	struct fixture f;

	fixture_start(&f, replies, 1, TOKEN);
	CU_ASSERT_EQUAL(aws_call_retry(f.client, &p, "GetRecords", "{}", 2, &f.resp, &f.err), -1);
	CU_ASSERT_EQUAL(stub_count(f.stub), 3);
	CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_THROTTLED);
	CU_ASSERT_STRING_EQUAL(f.err.type, "ProvisionedThroughputExceededException");
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err.message, "Rate exceeded for shard"));
	fixture_stop(&f);
}

static void
test_aws_retry_5xx_then_ok(void)
{
	static const struct reply replies[] = {
		{ 500, "{\"__type\":\"InternalFailure\"}", NULL },
		{ 200, "{}", NULL },
	};
	struct aws_retry_policy p = { 3, 1, 5 };
	struct fixture f;

	fixture_start(&f, replies, 2, NULL);
	CU_ASSERT_EQUAL(aws_call_retry(f.client, &p, "ListShards", "{}", 2, &f.resp, &f.err), 0);
	CU_ASSERT_EQUAL(stub_count(f.stub), 2);
	fixture_stop(&f);
}

/* Fatal errors are returned at once, whatever the policy allows. */
static void
test_aws_retry_fatal_not_retried(void)
{
	static const struct reply replies[] = { { 400, ccf_body, NULL } };
	struct aws_retry_policy p = { 5, 1, 5 };
	struct fixture f;

	fixture_start(&f, replies, 1, NULL);
	CU_ASSERT_EQUAL(aws_call_retry(f.client, &p, "UpdateItem", "{}", 2, &f.resp, &f.err), -1);
	CU_ASSERT_EQUAL(stub_count(f.stub), 1);
	CU_ASSERT_STRING_EQUAL(f.err.type, "ConditionalCheckFailedException");
	CU_ASSERT_EQUAL(f.err.cls, AWS_ERR_FATAL);
	fixture_stop(&f);
}

static void
test_aws_network_error(void)
{
	struct aws_service_config cfg = { "kinesis", "us-east-1", NULL, "Kinesis_20131202",
		"application/x-amz-json-1.1", 1000, 2000, 0, NULL };
	struct stub_server *s = stub_start(NULL, NULL);
	struct aws_creds_provider *creds = creds_provider_new_static(AKID, SECRET, NULL);
	struct aws_client *c;
	struct aws_error err;
	struct kls_buf resp;
	char url[64];

	/* A port that was just closed: nothing listens there. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	snprintf(url, sizeof(url), "%s", stub_url(s));
	stub_stop(s);
	cfg.endpoint = url;
	cfg.creds = creds;
	c = aws_client_new(&cfg, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	buf_init(&resp, 0);
	CU_ASSERT_EQUAL(aws_call(c, "ListShards", "{}", 2, &resp, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "NetworkError");
	CU_ASSERT_EQUAL(err.cls, AWS_ERR_RETRYABLE);
	CU_ASSERT_EQUAL(err.http_status, 0);
	buf_free(&resp);
	aws_client_free(c);
	creds_provider_free(creds);
}

static void
test_aws_client_config_checks(void)
{
	struct aws_creds_provider *creds = creds_provider_new_static(AKID, SECRET, NULL);
	static const struct {
		const char *service, *region, *endpoint, *type;
	} cases[] = {
		{ "dynamodb", "us-east-1", "http://10.1.2.3:8000", "InvalidEndpoint" },
		{ "dynamodb", "us-east-1", "http://dynamodb.us-east-1.amazonaws.com", "InvalidEndpoint" },
		{ "dynamodb", "us-east-1", "http://127.0.0.1:8000/prefix", "InvalidEndpoint" },
		{ "dynamodb", "us-east-1", "http://127.0.0.1:8000/?x=1", "InvalidEndpoint" },
		{ "dynamodb", "us-east-1", "ftp://127.0.0.1/", "InvalidEndpoint" },
		{ "dynamodb", "us-east-1/evil", NULL, "LocalError" },
		{ "Dynamo DB", "us-east-1", NULL, "LocalError" },
		{ "", "us-east-1", NULL, "LocalError" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_service_config cfg = { cases[i].service, cases[i].region, cases[i].endpoint,
			"DynamoDB_20120810", "application/x-amz-json-1.0", 0, 0, 0, creds };
		struct aws_error err;
		CU_ASSERT_PTR_NULL(aws_client_new(&cfg, &err));
		CU_ASSERT_STRING_EQUAL(err.type, cases[i].type);
		CU_ASSERT_EQUAL(err.cls, AWS_ERR_FATAL);
	}
	{
		/* Accepted: https anywhere, http to loopback, with or without a final '/'. */
		static const char *const good[] = { NULL, "https://dynamodb.eu-west-1.amazonaws.com",
			"http://127.0.0.1:8000/", "http://localhost:8000" };
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			struct aws_service_config cfg = { "dynamodb", "eu-west-1", good[i],
				"DynamoDB_20120810", "application/x-amz-json-1.0", 0, 0, 0, creds };
			struct aws_error err;
			struct aws_client *c = aws_client_new(&cfg, &err);
			CU_ASSERT_PTR_NOT_NULL(c);
			aws_client_free(c);
		}
	}
	{
		struct aws_service_config cfg = { "dynamodb", "us-east-1", NULL, "DynamoDB_20120810",
			"application/x-amz-json-1.0", 0, 0, 0, NULL };
		struct aws_error err;
		CU_ASSERT_PTR_NULL(aws_client_new(&cfg, &err));
		CU_ASSERT_STRING_EQUAL(err.type, "Credentials");
	}
	creds_provider_free(creds);
}

static void
test_aws_bad_action_refused(void)
{
	static const struct reply ok[] = { { 200, "{}", NULL } };
	struct fixture f;

	fixture_start(&f, ok, 1, NULL);
	CU_ASSERT_EQUAL(call(&f, "Get\r\nX-Evil: 1", "{}"), -1);
	CU_ASSERT_STRING_EQUAL(f.err.type, "LocalError");
	CU_ASSERT_EQUAL(call(&f, "", "{}"), -1);
	CU_ASSERT_EQUAL(stub_count(f.stub), 0);
	fixture_stop(&f);
}

/* Runs a call at debug level with stderr captured, then looks for secrets in what
 * was written: the trace must show the request with the secrets redacted. */
static void
test_aws_debug_output_has_no_secrets(void)
{
	static const struct reply replies[] = { { 400, ccf_body, NULL }, { 200, "{}", NULL } };
	char path[] = "/tmp/kls-aws-test-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	struct fixture f;
	struct kls_buf out;
	char chunk[4096], sig[80] = "";
	ssize_t n;
	const char *s;

	CU_ASSERT_FATAL(fd >= 0 && saved >= 0);
	unlink(path);
	log_init("aws_test", LOG_TARGET_STDERR, LOG_LEVEL_DEBUG);
	dup2(fd, 2);
	fixture_start(&f, replies, 2, TOKEN);
	call(&f, "UpdateItem", "{}");
	call(&f, "UpdateItem", "{}");
	fixture_stop(&f);
	dup2(saved, 2);
	close(saved);
	log_set_level(LOG_LEVEL_INFO);

	s = strstr(f.script.auth, "Signature=");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	snprintf(sig, sizeof(sig), "%s", s + strlen("Signature="));
	buf_init(&out, 0);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&out, chunk, (size_t)n);
	close(fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out.data);
	/* The debug path really ran... */
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "X-Amz-Target: DynamoDB_20120810.UpdateItem"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "Authorization: [redacted]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "X-Amz-Security-Token: [redacted]"));
	/* ...and said nothing secret. */
	CU_ASSERT_EQUAL(strlen(sig), 64);
	CU_ASSERT_PTR_NULL(strstr(out.data, sig));
	CU_ASSERT_PTR_NULL(strstr(out.data, TOKEN));
	CU_ASSERT_PTR_NULL(strstr(out.data, SECRET));
	CU_ASSERT_PTR_NULL(strstr(out.data, AKID));
	buf_free(&out);
}

static CU_TestInfo aws_tests[] = {
	{ "success and wire format", test_aws_success_and_wire_format },
	{ "no token header without token", test_aws_no_token_header_without_token },
	{ "service errors", test_aws_service_errors },
	{ "empty success body", test_aws_empty_success_body },
	{ "retry throttled then ok", test_aws_retry_throttled_then_ok },
	{ "retry gives up after max attempts", test_aws_retry_gives_up_after_max_attempts },
	{ "retry 5xx then ok", test_aws_retry_5xx_then_ok },
	{ "retry fatal not retried", test_aws_retry_fatal_not_retried },
	{ "network error", test_aws_network_error },
	{ "client config checks", test_aws_client_config_checks },
	{ "bad action refused", test_aws_bad_action_refused },
	{ "debug output has no secrets", test_aws_debug_output_has_no_secrets },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "aws", NULL, NULL, NULL, NULL, aws_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
