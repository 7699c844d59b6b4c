/*
 * The Kinesis side of integration tests: a client for one of the emulators (its endpoint
 * in an environment variable that scripts/test sets), and streams made, fed and dropped
 * through it, each failure printed with the stream's name. Shared by the tests that link
 * only tests/libklstest.a (reader, reader_kpl, produce, kinesis) and those that also use
 * tests/klsd_fixture (fanout, klsd).
 */
#ifndef KLS_TEST_KINESIS_FIXTURE_H
#define KLS_TEST_KINESIS_FIXTURE_H

#include <stddef.h>

#include "common/creds.h"
#include "common/kinesis.h"

/*
 * A client for the emulator whose endpoint is in endpoint_variable ("KINESIS_ENDPOINT":
 * kinesalite, "KINESIS_LOCAL_ENDPOINT": kinesis-local), region us-east-1, default retry
 * policy, signing with static test keys (the emulators check no signature) that it
 * stores in *creds. The caller frees both: kinesis_client_free, then
 * creds_provider_free. When the variable is unset or the client cannot be made the
 * current test fails fatally (CUnit leaves it); NULL is returned only outside a test.
 */
struct kinesis_client *test_kinesis_client(const char *endpoint_variable,
    struct aws_creds_provider **creds);

/* How many endpoint variables test_kinesis_shared keeps a client for. */
#define TEST_KINESIS_SHARED_MAX 4

/*
 * test_kinesis_client made on the first call for endpoint_variable and returned again by
 * every later one, for the tests of a suite to share; test_kinesis_shared_free (a CUnit
 * suite cleanup function) frees them all. Fails the test as test_kinesis_client does,
 * and when more than TEST_KINESIS_SHARED_MAX variables are asked for.
 */
struct kinesis_client *test_kinesis_shared(const char *endpoint_variable);
int test_kinesis_shared_free(void);

/* Creates stream with shards shards and waits up to timeout_ms for it to be ACTIVE,
 * with its summary in *sum (may be NULL). 0, or -1 with the reason printed. */
int test_kinesis_create_stream(struct kinesis_client *kc, const char *stream, int shards,
    int timeout_ms, struct kinesis_stream_summary *sum);

/* Deletes stream. 0, or -1 with the reason printed. */
int test_kinesis_delete_stream(struct kinesis_client *kc, const char *stream);

/* One PutRecords call of one record (so that sequence numbers rise in the order of the
 * calls), its shard and sequence number in *r. 0, or -1 with the reason printed (the
 * call's error, or the record's when it alone was refused). */
int test_kinesis_put_one(struct kinesis_client *kc, const char *stream, const void *data,
    size_t len, const char *partition_key, struct kinesis_put_result *r);

#endif
