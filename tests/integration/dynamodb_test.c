/*
 * DynamoDB client against the emulator (DYNAMODB_ENDPOINT): idempotent table
 * creation, the lease protocol's conditional writes (one that must land and one that
 * must fail with DDB_CONDITION_FAILED), consistent reads, Scan pagination with Limit.
 * Each test makes its own table and deletes it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/creds.h"
#include "common/dynamodb.h"
#include "tests/harness.h"

static struct aws_creds_provider *creds;
static struct ddb_client *dc;

/* The client for this run, made on first use (test_env fails the test when the
 * emulators are not running). */
static struct ddb_client *
client(void)
{
	struct aws_service_config cfg;
	struct aws_error err;
	const char *ep;

	if (dc)
		return dc;
	if (!(ep = test_env("DYNAMODB_ENDPOINT")))
		return NULL;
	creds = creds_provider_new_static("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(creds);
	ddb_service_config(&cfg, "us-east-1", ep, creds);
	dc = ddb_client_new(&cfg, NULL, &err);
	if (!dc)
		fprintf(stderr, "ddb_client_new: %s\n", err.message);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	return dc;
}

static int
suite_cleanup(void)
{
	ddb_client_free(dc);
	creds_provider_free(creds);
	return 0;
}

static int
check(int rc, int want, const char *what, const struct aws_error *err)
{
	if (rc != want)
		fprintf(stderr, "\n%s: got %d, want %d: %s\n", what, rc, want, err->message);
	CU_ASSERT_EQUAL(rc, want);
	return rc == want ? 0 : -1;
}

static void
assert_words(const char *msg, const char *a, const char *b)
{
	char want[256];
	snprintf(want, sizeof(want), "%s%s", a, b);
	if (!strstr(msg, want))
		fprintf(stderr, "\n\"%s\" lacks \"%s\"\n", msg, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
}

static void
drop_table(struct ddb_client *c, const char *table)
{
	struct aws_error err;
	check(ddb_delete_table(c, table, &err), DDB_OK, "DeleteTable", &err);
}

static void
test_dynamodb_create_table_idempotent(void)
{
	struct ddb_client *c = client();
	struct ddb_table_spec prov = { "id", "N", true, 2, 3 };
	struct ddb_table_info info;
	struct aws_error err;
	char table[64], table2[64];

	test_unique_name(table, sizeof(table), "kls-it-leases");
	test_unique_name(table2, sizeof(table2), "kls-it-prov");
	if (check(ddb_ensure_table(c, table, NULL, 30000, &err), DDB_OK, "ensure", &err) < 0)
		return;
	/* Again: the table exists, which is not an error for ensure. */
	check(ddb_ensure_table(c, table, NULL, 30000, &err), DDB_OK, "ensure again", &err);
	check(ddb_create_table(c, table, NULL, &err), DDB_EXISTS, "create again", &err);
	CU_ASSERT_STRING_EQUAL(err.type, "ResourceInUseException");
	check(ddb_describe_table(c, table, &info, &err), DDB_OK, "describe", &err);
	CU_ASSERT_STRING_EQUAL(info.status, "ACTIVE");
	CU_ASSERT_STRING_EQUAL(info.key_name, "leaseKey");
	CU_ASSERT_STRING_EQUAL(info.billing_mode, "PAY_PER_REQUEST");

	if (check(ddb_ensure_table(c, table2, &prov, 30000, &err), DDB_OK, "provisioned", &err) == 0) {
		check(ddb_describe_table(c, table2, &info, &err), DDB_OK, "describe", &err);
		CU_ASSERT_STRING_EQUAL(info.key_name, "id");
		drop_table(c, table2);
	}
	drop_table(c, table);
	/* A deleted table reports DELETING for a while, then is not found. */
	for (int i = 0; i < 300; i++) {
		int rc = ddb_describe_table(c, table, &info, &err);
		if (rc != DDB_OK || strcmp(info.status, "DELETING") != 0)
			break;
		sleep_ms(20);
	}
	check(ddb_describe_table(c, table, &info, &err), DDB_NOT_FOUND, "describe deleted", &err);
	assert_words(err.message, "DescribeTable ", table);
	check(ddb_delete_table(c, table, &err), DDB_NOT_FOUND, "delete deleted", &err);
}

/* One renew of the lease protocol: counter c -> c + 1 if owner = me and counter = c. */
static int
renew(struct ddb_client *c, const char *table, const char *shard, const char *owner, int64_t counter,
    struct aws_error *err)
{
	struct ddb_write *w = ddb_update_new(table, "leaseKey", ddb_s(shard));
	int rc;

	ddb_set(w, "leaseCounter", ddb_int(counter + 1));
	ddb_cond_eq(w, "leaseOwner", ddb_s(owner));
	ddb_cond_eq(w, "leaseCounter", ddb_int(counter));
	ddb_cond_not_exists(w, "checkpointOwner");
	rc = ddb_execute(c, w, err);
	ddb_write_free(w);
	return rc;
}

static void
test_dynamodb_conditional_writes(void)
{
	static const char *const parents[] = { "shardId-000000000000" };
	struct ddb_client *c = client();
	struct ddb_item it = { NULL };
	struct ddb_write *w;
	struct aws_error err;
	char table[64];
	int64_t n = -1;

	test_unique_name(table, sizeof(table), "kls-it-cond");
	if (check(ddb_ensure_table(c, table, NULL, 30000, &err), DDB_OK, "ensure", &err) < 0)
		return;

	/* create: only when there is no lease yet */
	for (int i = 0; i < 2; i++) {
		w = ddb_put_new(table);
		ddb_set(w, "leaseKey", ddb_s("shardId-000000000001"));
		ddb_set(w, "leaseCounter", ddb_int(0));
		ddb_set(w, "checkpoint", ddb_s("TRIM_HORIZON"));
		ddb_set(w, "parentShardId", ddb_ss(parents, 1));
		ddb_cond_not_exists(w, "leaseKey");
		check(ddb_execute(c, w, &err), i == 0 ? DDB_OK : DDB_CONDITION_FAILED, "create", &err);
		ddb_write_free(w);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(err.type, "ConditionalCheckFailedException"));

	/* take: owner = me, counter + 1, if the counter is what the scan saw */
	w = ddb_update_new(table, "leaseKey", ddb_s("shardId-000000000001"));
	ddb_set(w, "leaseOwner", ddb_s("host-a:1"));
	ddb_set(w, "leaseCounter", ddb_int(1));
	ddb_add(w, "ownerSwitchesSinceCheckpoint", ddb_int(1));
	ddb_cond_eq(w, "leaseCounter", ddb_int(0));
	ddb_cond_not_exists(w, "leaseOwner");
	check(ddb_execute(c, w, &err), DDB_OK, "take", &err);
	/* The same take again must fail: the counter moved. */
	check(ddb_execute(c, w, &err), DDB_CONDITION_FAILED, "take twice", &err);
	ddb_write_free(w);

	check(renew(c, table, "shardId-000000000001", "host-a:1", 1, &err), DDB_OK, "renew", &err);
	check(renew(c, table, "shardId-000000000001", "host-b:2", 2, &err), DDB_CONDITION_FAILED,
	    "renew by another owner", &err);
	check(renew(c, table, "shardId-000000000001", "host-a:1", 1, &err), DDB_CONDITION_FAILED,
	    "renew with a stale counter", &err);

	if (check(ddb_get_item(c, table, "leaseKey", ddb_s("shardId-000000000001"), &it, &err), DDB_OK,
		"get", &err) == 0) {
		CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "leaseOwner"), "host-a:1");
		CU_ASSERT_EQUAL(ddb_item_int(&it, "leaseCounter", &n), 0);
		CU_ASSERT_EQUAL(n, 2);
		CU_ASSERT_EQUAL(ddb_item_int(&it, "ownerSwitchesSinceCheckpoint", &n), 0);
		CU_ASSERT_EQUAL(n, 1);
		CU_ASSERT_EQUAL(ddb_item_ss_count(&it, "parentShardId"), 1);
		CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "checkpoint"), "TRIM_HORIZON");
		ddb_item_free(&it);
	}

	/* release: remove the owner, if it is me */
	w = ddb_update_new(table, "leaseKey", ddb_s("shardId-000000000001"));
	ddb_remove(w, "leaseOwner");
	ddb_set(w, "leaseCounter", ddb_int(3));
	ddb_cond_eq(w, "leaseOwner", ddb_s("host-a:1"));
	check(ddb_execute(c, w, &err), DDB_OK, "release", &err);
	ddb_write_free(w);
	if (ddb_get_item(c, table, "leaseKey", ddb_s("shardId-000000000001"), &it, &err) == DDB_OK) {
		CU_ASSERT_EQUAL(ddb_item_type(&it, "leaseOwner"), DDB_T_NONE);
		ddb_item_free(&it);
	}

	/* delete: a raw condition with declared placeholders */
	for (int i = 0; i < 2; i++) {
		w = ddb_delete_new(table, "leaseKey", ddb_s("shardId-000000000001"));
		ddb_condition(w, "#cp = :th AND #lc >= :min");
		ddb_name(w, "#cp", "checkpoint");
		ddb_name(w, "#lc", "leaseCounter");
		ddb_value(w, ":th", ddb_s("TRIM_HORIZON"));
		ddb_value(w, ":min", ddb_int(i == 0 ? 4 : 3));
		check(ddb_execute(c, w, &err), i == 0 ? DDB_CONDITION_FAILED : DDB_OK, "delete", &err);
		ddb_write_free(w);
	}
	check(ddb_get_item(c, table, "leaseKey", ddb_s("shardId-000000000001"), &it, &err),
	    DDB_NOT_FOUND, "get deleted", &err);
	CU_ASSERT_PTR_NULL(it.attrs);
	drop_table(c, table);
}

static void
test_dynamodb_scan_pagination(void)
{
	struct ddb_client *c = client();
	struct ddb_scan_opts opts = { .limit = 10, .consistent = true };
	struct ddb_item_list l = { 0 };
	struct ddb_scan *s;
	struct aws_error err;
	char table[64], key[32];
	int seen[25] = { 0 };

	test_unique_name(table, sizeof(table), "kls-it-scan");
	if (check(ddb_ensure_table(c, table, NULL, 30000, &err), DDB_OK, "ensure", &err) < 0)
		return;
	for (int i = 0; i < 25; i++) {
		struct ddb_write *w = ddb_put_new(table);
		snprintf(key, sizeof(key), "shardId-%012d", i);
		ddb_set(w, "leaseKey", ddb_s(key));
		ddb_set(w, "leaseCounter", ddb_int(i));
		check(ddb_execute(c, w, &err), DDB_OK, "put", &err);
		ddb_write_free(w);
	}

	s = ddb_scan_new(table, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	while (!ddb_scan_done(s) && ddb_scan_pages(s) < 10) {
		size_t before = l.n;
		if (check(ddb_scan_next(c, s, &l, &err), DDB_OK, "scan", &err) < 0)
			break;
		CU_ASSERT(l.n - before <= 10);
	}
	CU_ASSERT(ddb_scan_done(s));
	CU_ASSERT(ddb_scan_pages(s) >= 3);
	CU_ASSERT_EQUAL(l.n, 25);
	for (size_t i = 0; i < l.n; i++) {
		int64_t n = -1;
		if (ddb_item_int(&l.v[i], "leaseCounter", &n) == 0 && n >= 0 && n < 25)
			seen[n]++;
	}
	for (int i = 0; i < 25; i++)
		CU_ASSERT_EQUAL(seen[i], 1);
	ddb_scan_free(s);

	opts.limit = 7;
	check(ddb_scan_all(c, table, &opts, &l, &err), DDB_OK, "scan all", &err);
	CU_ASSERT_EQUAL(l.n, 25);
	opts.limit = 0;
	opts.max_items = 20;
	check(ddb_scan_all(c, table, &opts, &l, &err), DDB_ERROR, "scan all bounded", &err);
	CU_ASSERT_EQUAL(l.n, 0);
	ddb_item_list_free(&l);
	drop_table(c, table);
}

static CU_TestInfo tests[] = {
	{ "create table idempotent", test_dynamodb_create_table_idempotent },
	{ "conditional writes", test_dynamodb_conditional_writes },
	{ "scan pagination", test_dynamodb_scan_pagination },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "dynamodb against the emulator", NULL, suite_cleanup, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
