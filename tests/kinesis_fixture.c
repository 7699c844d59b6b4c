/*
 * Kinesis emulator fixture for integration tests: see kinesis_fixture.h.
 */
#include "config.h"

#include "tests/kinesis_fixture.h"

#include <stdio.h>
#include <string.h>

#include "tests/harness.h"

/* test_kinesis_shared's clients. Global so that a suite's tests, which CUnit calls with
 * no argument, reach the same ones; test programs run their tests in one thread. */
static struct {
	const char *variable;
	struct aws_creds_provider *creds;
	struct kinesis_client *kc;
} shared[TEST_KINESIS_SHARED_MAX];

struct kinesis_client *
test_kinesis_client(const char *endpoint_variable, struct aws_creds_provider **creds)
{
	struct aws_service_config cfg;
	struct aws_error err;
	struct kinesis_client *kc;
	const char *ep;

	*creds = NULL;
	if (!(ep = test_env(endpoint_variable)))
		return NULL;
	*creds = creds_provider_new_static("AKIDEXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*creds);
	kinesis_service_config(&cfg, "us-east-1", ep, *creds);
	kc = kinesis_client_new(&cfg, NULL, &err);
	if (!kc) {
		fprintf(stderr, "\nkinesis_client_new (%s=%s): %s\n", endpoint_variable, ep,
		    err.message);
		creds_provider_free(*creds);
		*creds = NULL;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(kc);
	return kc;
}

struct kinesis_client *
test_kinesis_shared(const char *endpoint_variable)
{
	size_t i;

	for (i = 0; i < TEST_KINESIS_SHARED_MAX && shared[i].kc; i++)
		if (strcmp(shared[i].variable, endpoint_variable) == 0)
			return shared[i].kc;
	if (i == TEST_KINESIS_SHARED_MAX) {
		CU_FAIL_FATAL(
		    "test_kinesis_shared: more endpoint variables than TEST_KINESIS_SHARED_MAX");
		return NULL;
	}
	shared[i].kc = test_kinesis_client(endpoint_variable, &shared[i].creds);
	shared[i].variable = endpoint_variable;
	return shared[i].kc;
}

int
test_kinesis_shared_free(void)
{
	for (size_t i = 0; i < TEST_KINESIS_SHARED_MAX; i++) {
		kinesis_client_free(shared[i].kc);
		creds_provider_free(shared[i].creds);
		memset(&shared[i], 0, sizeof(shared[i]));
	}
	return 0;
}

int
test_kinesis_create_stream(struct kinesis_client *kc, const char *stream, int shards,
    int timeout_ms, struct kinesis_stream_summary *sum)
{
	struct aws_error err;

	if (kinesis_create_stream(kc, stream, shards, &err) < 0 ||
	    kinesis_wait_active(kc, stream, timeout_ms, sum, &err) < 0) {
		fprintf(stderr, "\nstream %s: %s\n", stream, err.message);
		return -1;
	}
	return 0;
}

int
test_kinesis_delete_stream(struct kinesis_client *kc, const char *stream)
{
	struct aws_error err;

	if (kinesis_delete_stream(kc, stream, &err) < 0) {
		fprintf(stderr, "\ndelete %s: %s\n", stream, err.message);
		return -1;
	}
	return 0;
}

int
test_kinesis_put_one(struct kinesis_client *kc, const char *stream, const void *data, size_t len,
    const char *partition_key, struct kinesis_put_result *r)
{
	struct kinesis_put_entry e = { data, len, partition_key, NULL };
	struct aws_error err;
	size_t failed = 0;

	if (kinesis_put_records(kc, stream, &e, 1, r, &failed, &err) < 0) {
		fprintf(stderr, "\nput %s: %s\n", stream, err.message);
		return -1;
	}
	if (failed) {
		fprintf(stderr, "\nput %s: refused: %s %s\n", stream, r->error_code,
		    r->error_message);
		return -1;
	}
	return 0;
}
