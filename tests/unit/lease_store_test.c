/*
 * Unit tests for supervisor/lease_store: what the lease write metrics take from a
 * write's result. The time is measured around the DynamoDB call and nothing else (a
 * loopback stub answers late, then fails a condition and the re-read), and the failure
 * reason follows what the write itself met.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/creds.h"
#include "common/dynamodb.h"
#include "supervisor/lease_item.h"
#include "supervisor/lease_store.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char ccf[] =
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
    "\"message\":\"The conditional request failed\"}";
static const char throttled[] =
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
    "\"message\":\"slow down\"}";

/* One answer of the stub per request, in order. */
struct answer {
	const char *action; /* expected end of X-Amz-Target */
	int status;
	const char *body;
	int delay_ms;
};

struct script {
	pthread_mutex_t mu;
	const struct answer *a;
	size_t n, next;
	char failure[256];
};

static void
handle(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct script *s = arg;
	char target[128] = "";
	const struct answer *a;
	size_t tl, al;

	pthread_mutex_lock(&s->mu);
	stub_header(req, "X-Amz-Target", target, sizeof(target));
	if (s->next >= s->n) {
		snprintf(s->failure, sizeof(s->failure), "request %zu unexpected (%s)", s->next,
		    target);
		resp->status = 500;
		s->next++;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	a = &s->a[s->next++];
	tl = strlen(target);
	al = strlen(a->action);
	if (!s->failure[0] && (tl < al || strcmp(target + tl - al, a->action) != 0))
		snprintf(s->failure, sizeof(s->failure), "request %zu: %s, not %s", s->next - 1,
		    target, a->action);
	resp->status = a->status ? a->status : 200;
	resp->delay_ms = a->delay_ms;
	buf_puts(&resp->body, a->body);
	snprintf(resp->headers, sizeof(resp->headers),
	    "Content-Type: application/x-amz-json-1.0\r\n");
	pthread_mutex_unlock(&s->mu);
}

static const struct aws_retry_policy one_attempt = { 1, 10, 10 };

/* A renew write of lease shardId-1 (counter 4) through lease_store_write, against a
 * stub answering a[0..n-1] in order (checked here); returns the ns the call took. */
static int64_t
run_renew(const struct answer *a, size_t n, struct lease_write_result *res)
{
	struct script s = { .mu = PTHREAD_MUTEX_INITIALIZER, .a = a, .n = n };
	struct stub_server *srv = stub_start(handle, &s);
	struct aws_creds_provider *creds = creds_provider_new_static("AKID", "secret", NULL);
	struct aws_service_config cfg;
	struct ddb_client *c;
	struct aws_error err;
	struct lease l = { .counter = 4 }, after;
	struct ddb_write *w;
	kls_mono t0;
	int64_t took;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(creds);
	ddb_service_config(&cfg, "us-east-1", stub_url(srv), creds);
	c = ddb_client_new(&cfg, &one_attempt, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	snprintf(l.key, sizeof(l.key), "shardId-1");
	snprintf(l.owner, sizeof(l.owner), "me");
	w = lease_write_renew("leases", &l, "me", &after);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	t0 = mono_now();
	lease_store_write(c, "leases", l.key, w, res);
	took = mono_now().ns - t0.ns;
	ddb_write_free(w);
	ddb_client_free(c);
	stub_stop(srv);
	creds_provider_free(creds);
	pthread_mutex_lock(&s.mu);
	CU_ASSERT_STRING_EQUAL(s.failure, "");
	CU_ASSERT_EQUAL(s.next, n);
	pthread_mutex_unlock(&s.mu);
	return took;
}

/* The write's own time, from before it was sent, with a late answer in it. */
static void
test_lease_store_write_time(void)
{
	static const struct answer late[] = { { "UpdateItem", 0, "{}", 400 } };
	struct lease_write_result res;
	int64_t took = run_renew(late, N(late), &res);

	CU_ASSERT_EQUAL(res.status, DDB_OK);
	CU_ASSERT_EQUAL(res.write_status, DDB_OK);
	CU_ASSERT_TRUE(res.sent.ns > 0);
	CU_ASSERT_TRUE(res.write_ns >= 400 * 1000000LL);
	CU_ASSERT_TRUE(res.write_ns <= took);
	CU_ASSERT_EQUAL(lease_write_failure(&res, true), LEASE_FAIL_NONE);
}

/* A failed condition whose re-read is slow and then fails: the time is the write's
 * alone, and the reason stays "conditional" although the result is DDB_ERROR. */
static void
test_lease_store_condition_then_reread(void)
{
	static const struct answer steps[] = {
		{ "UpdateItem", 400, ccf, 0 },
		{ "GetItem", 400,
		    "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
		    "\"message\":\"no\"}",
		    1500 },
	};
	struct lease_write_result res;
	int64_t took = run_renew(steps, N(steps), &res);

	CU_ASSERT_EQUAL(res.status, DDB_ERROR);
	CU_ASSERT_EQUAL(res.write_status, DDB_CONDITION_FAILED);
	CU_ASSERT_FALSE(res.reread);
	CU_ASSERT_TRUE(res.write_ns > 0);
	/* The call took the re-read's 1.5 s answer too; the write's time does not. */
	CU_ASSERT_TRUE(res.write_ns <= took - 1500 * 1000000LL);
	CU_ASSERT_EQUAL(lease_write_failure(&res, false), LEASE_FAIL_CONDITIONAL);
}

/* Throttling left after the client's attempts. */
static void
test_lease_store_throttled(void)
{
	static const struct answer steps[] = { { "UpdateItem", 400, throttled, 0 } };
	struct lease_write_result res;

	run_renew(steps, N(steps), &res);
	CU_ASSERT_EQUAL(res.status, DDB_ERROR);
	CU_ASSERT_EQUAL(lease_write_failure(&res, false), LEASE_FAIL_THROTTLED);
	CU_ASSERT_STRING_EQUAL(lease_fail_name(lease_write_failure(&res, false)), "throttled");
}

/* The reason from the write's own status and error class, and the landed verdict. */
static void
test_lease_store_failure_reason(void)
{
	static const struct {
		int write_status, status;
		enum aws_err_class cls;
		bool landed;
		enum lease_fail want;
		const char *name;
	} cases[] = {
		{ DDB_OK, DDB_OK, AWS_OK, true, LEASE_FAIL_NONE, NULL },
		/* Our own earlier attempt had landed: not a failure. */
		{ DDB_CONDITION_FAILED, DDB_CONDITION_FAILED, AWS_ERR_FATAL, true, LEASE_FAIL_NONE,
		    NULL },
		{ DDB_CONDITION_FAILED, DDB_CONDITION_FAILED, AWS_ERR_FATAL, false,
		    LEASE_FAIL_CONDITIONAL, "conditional" },
		{ DDB_CONDITION_FAILED, DDB_ERROR, AWS_ERR_RETRYABLE, false, LEASE_FAIL_CONDITIONAL,
		    "conditional" },
		{ DDB_ERROR, DDB_ERROR, AWS_ERR_THROTTLED, false, LEASE_FAIL_THROTTLED,
		    "throttled" },
		{ DDB_ERROR, DDB_ERROR, AWS_ERR_RETRYABLE, false, LEASE_FAIL_OTHER, "other" },
		{ DDB_ERROR, DDB_ERROR, AWS_ERR_FATAL, false, LEASE_FAIL_OTHER, "other" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct lease_write_result r = { .status = cases[i].status,
			.write_status = cases[i].write_status };
		enum lease_fail f;
		r.err.cls = cases[i].cls;
		f = lease_write_failure(&r, cases[i].landed);
		CU_ASSERT_EQUAL(f, cases[i].want);
		if (cases[i].name) {
			CU_ASSERT_STRING_EQUAL(lease_fail_name(f), cases[i].name);
		} else {
			CU_ASSERT_PTR_NULL(lease_fail_name(f));
		}
	}
	CU_ASSERT_PTR_NULL(lease_fail_name(LEASE_FAIL_COUNT));
}

static CU_TestInfo lease_store_tests[] = {
	{ "write time around the call", test_lease_store_write_time },
	{ "condition failed, re-read failed", test_lease_store_condition_then_reread },
	{ "throttled", test_lease_store_throttled },
	{ "failure reasons", test_lease_store_failure_reason },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "lease_store", NULL, NULL, NULL, NULL, lease_store_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
