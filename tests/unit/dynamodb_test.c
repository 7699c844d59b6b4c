/*
 * Tests of common/dynamodb: write bodies from the builder, table and item parsing
 * (tables of good and bad bodies), then the client against a scripted loopback stub:
 * ConditionalCheckFailed with dynalite's exact body, table outcomes, Scan pagination.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/dynamodb.h"
#include "tests/harness.h"
#include "tests/stub_script.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
assert_contains(const char *hay, const char *needle, const char *label)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "\n%s: \"%s\" does not contain \"%s\"\n", label, hay, needle);
		CU_FAIL("message lacks the expected words");
	}
}

static void
assert_body(const struct ddb_write *w, const char *want)
{
	struct kls_buf b;
	struct aws_error err;

	buf_init(&b, 0);
	if (ddb_write_body(w, &b, &err) != DDB_OK) {
		fprintf(stderr, "\nddb_write_body: %s\n", err.message);
		CU_FAIL("ddb_write_body failed");
	} else {
		if (strcmp(b.data, want) != 0)
			fprintf(stderr, "\n got: %s\nwant: %s\n", b.data, want);
		CU_ASSERT_STRING_EQUAL(b.data, want);
	}
	buf_free(&b);
}

/* ---- the write builder ---- */

static void
test_dynamodb_update_body(void)
{
	struct ddb_write *w = ddb_update_new("leases", "leaseKey", ddb_s("shardId-1"));

	CU_ASSERT_STRING_EQUAL(ddb_write_action(w), "UpdateItem");
	ddb_set(w, "leaseOwner", ddb_s("host:1"));
	ddb_set(w, "leaseCounter", ddb_int(6));
	ddb_remove(w, "checkpointOwner");
	ddb_add(w, "ownerSwitchesSinceCheckpoint", ddb_n("1"));
	ddb_cond_eq(w, "leaseCounter", ddb_int(5));
	ddb_cond_not_exists(w, "checkpointOwner");
	assert_body(w,
	    "{\"TableName\":\"leases\",\"Key\":{\"leaseKey\":{\"S\":\"shardId-1\"}},"
	    "\"UpdateExpression\":\"SET #_0 = :_0, #_1 = :_1 REMOVE #_2 ADD #_3 :_2\","
	    "\"ConditionExpression\":\"#_1 = :_3 AND attribute_not_exists(#_2)\","
	    "\"ExpressionAttributeNames\":{\"#_0\":\"leaseOwner\",\"#_1\":\"leaseCounter\","
	    "\"#_2\":\"checkpointOwner\",\"#_3\":\"ownerSwitchesSinceCheckpoint\"},"
	    "\"ExpressionAttributeValues\":{\":_0\":{\"S\":\"host:1\"},\":_1\":{\"N\":\"6\"},"
	    "\":_2\":{\"N\":\"1\"},\":_3\":{\"N\":\"5\"}}}");
	ddb_write_free(w);
}

static void
test_dynamodb_put_body(void)
{
	static const char *const parents[] = { "shardId-0", "shardId-1" };
	struct ddb_write *w = ddb_put_new("leases");

	CU_ASSERT_STRING_EQUAL(ddb_write_action(w), "PutItem");
	ddb_set(w, "leaseKey", ddb_s("shardId-2"));
	ddb_set(w, "leaseCounter", ddb_int(0));
	ddb_set(w, "checkpoint", ddb_s("TRIM_HORIZON"));
	ddb_set(w, "parentShardId", ddb_ss(parents, 2));
	ddb_set(w, "done", ddb_bool(false));
	ddb_set(w, "note", ddb_null());
	ddb_cond_not_exists(w, "leaseKey");
	assert_body(w,
	    "{\"TableName\":\"leases\",\"Item\":{\"leaseKey\":{\"S\":\"shardId-2\"},"
	    "\"leaseCounter\":{\"N\":\"0\"},\"checkpoint\":{\"S\":\"TRIM_HORIZON\"},"
	    "\"parentShardId\":{\"SS\":[\"shardId-0\",\"shardId-1\"]},\"done\":{\"BOOL\":false},"
	    "\"note\":{\"NULL\":true}},"
	    "\"ConditionExpression\":\"attribute_not_exists(#_0)\","
	    "\"ExpressionAttributeNames\":{\"#_0\":\"leaseKey\"}}");
	ddb_write_free(w);
}

static void
test_dynamodb_delete_body(void)
{
	struct ddb_write *w = ddb_delete_new("leases", "leaseKey", ddb_s("shardId-3"));

	ddb_cond_eq(w, "leaseOwner", ddb_s("me"));
	ddb_condition(w, "#c < :max OR attribute_not_exists(#c)");
	ddb_name(w, "#c", "leaseCounter");
	ddb_value(w, ":max", ddb_n("-1.5e3"));
	assert_body(w,
	    "{\"TableName\":\"leases\",\"Key\":{\"leaseKey\":{\"S\":\"shardId-3\"}},"
	    "\"ConditionExpression\":\"#_0 = :_0 AND (#c < :max OR attribute_not_exists(#c))\","
	    "\"ExpressionAttributeNames\":{\"#_0\":\"leaseOwner\",\"#c\":\"leaseCounter\"},"
	    "\"ExpressionAttributeValues\":{\":_0\":{\"S\":\"me\"},\":max\":{\"N\":\"-1.5e3\"}}}");
	ddb_write_free(w);

	/* Without conditions no expression maps are sent (the service refuses empty ones). */
	w = ddb_delete_new("leases", "leaseKey", ddb_n("42"));
	assert_body(w, "{\"TableName\":\"leases\",\"Key\":{\"leaseKey\":{\"N\":\"42\"}}}");
	ddb_write_free(w);
}

static void
test_dynamodb_builder_refuses(void)
{
	static const char *const dup[] = { "a", "a" };
	static const char *const withnull[] = { "a", NULL };
	static const struct {
		int kind; /* 0 put, 1 update, 2 delete */
		int op;
		const char *want;
	} cases[] = {
		{ 1, 0, "value for n: \"1.2.3\" is not a number" },
		{ 1, 1, "string set of 0 elements" },
		{ 1, 2, "string set repeats \"a\"" },
		{ 1, 3, "string set element 1 missing" },
		{ 0, 4, "ddb_remove on a PutItem" },
		{ 2, 5, "ddb_set on a DeleteItem" },
		{ 1, 6, "name placeholder \"#_x\"" },
		{ 1, 7, "value placeholder \"c\"" },
		{ 1, 8, "UpdateItem leases/k: nothing to update" },
		{ 0, 8, "PutItem leases: the item has no attributes" },
		{ 0, 9, "item attribute a given twice" },
		{ 1, 10, "condition expression empty" },
		{ 1, 11, "ddb_add x: only numbers and string sets" },
		{ 1, 12, "attribute name missing" },
		{ 1, 13, "value placeholder :v given twice" },
		{ 0, 14, "ddb_key on a PutItem" },
		{ 1, 15, "string value missing" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct ddb_write *w = cases[i].kind == 0 ? ddb_put_new("leases")
				    : cases[i].kind == 1 ? ddb_update_new("leases", "leaseKey", ddb_s("k"))
							 : ddb_delete_new("leases", "leaseKey", ddb_s("k"));
		struct kls_buf b;
		struct aws_error err;

		switch (cases[i].op) {
		case 0: ddb_set(w, "n", ddb_n("1.2.3")); break;
		case 1: ddb_set(w, "s", ddb_ss(dup, 0)); break;
		case 2: ddb_set(w, "s", ddb_ss(dup, 2)); break;
		case 3: ddb_set(w, "s", ddb_ss(withnull, 2)); break;
		case 4: ddb_remove(w, "x"); break;
		case 5: ddb_set(w, "x", ddb_int(1)); break;
		case 6: ddb_set(w, "x", ddb_int(1)); ddb_name(w, "#_x", "a"); break;
		case 7: ddb_set(w, "x", ddb_int(1)); ddb_value(w, "c", ddb_int(1)); break;
		case 8: break;
		case 9: ddb_set(w, "a", ddb_int(1)); ddb_set(w, "a", ddb_int(2)); break;
		case 10: ddb_set(w, "x", ddb_int(1)); ddb_condition(w, ""); break;
		case 11: ddb_add(w, "x", ddb_s("1")); break;
		case 12: ddb_set(w, "", ddb_int(1)); break;
		case 13:
			ddb_set(w, "x", ddb_int(1));
			ddb_value(w, ":v", ddb_int(1));
			ddb_value(w, ":v", ddb_int(2));
			break;
		case 14: ddb_key(w, "k", ddb_s("v")); break;
		case 15: ddb_set(w, "x", ddb_s(NULL)); break;
		}
		/* Later calls do not overwrite the first problem. */
		if (cases[i].op != 8)
			ddb_set(w, "y", ddb_n("bad"));
		buf_init(&b, 0);
		CU_ASSERT_EQUAL(ddb_write_body(w, &b, &err), DDB_ERROR);
		CU_ASSERT_STRING_EQUAL(err.type, "InvalidArgument");
		assert_contains(err.message, cases[i].want, "builder");
		buf_free(&b);
		ddb_write_free(w);
	}
}

static void
test_dynamodb_builder_limits(void)
{
	struct ddb_write *w = ddb_update_new("leases", "leaseKey", ddb_s("k"));
	struct kls_buf b;
	struct aws_error err;
	char name[32];

	for (int i = 0; i < DDB_WRITE_ATTRS_MAX; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		ddb_set(w, name, ddb_int(i));
	}
	buf_init(&b, 0);
	CU_ASSERT_EQUAL(ddb_write_body(w, &b, &err), DDB_ERROR);
	assert_contains(err.message, "more than 256 attributes", "limits");
	buf_free(&b);
	ddb_write_free(w);

	w = ddb_update_new("x", "leaseKey", ddb_s("k"));
	ddb_set(w, "a", ddb_int(1));
	buf_init(&b, 0);
	CU_ASSERT_EQUAL(ddb_write_body(w, &b, &err), DDB_ERROR);
	assert_contains(err.message, "table name \"x\"", "limits");
	buf_free(&b);
	ddb_write_free(w);
}

/* ---- tables ---- */

static void
test_dynamodb_create_table_body(void)
{
	struct ddb_table_spec prov = { "id", "N", true, 5, 0 };
	struct ddb_table_spec badtype = { "id", "X", false, 0, 0 };
	struct kls_buf b;
	struct aws_error err;

	buf_init(&b, 0);
	CU_ASSERT_EQUAL(ddb_create_table_body(&b, "leases", NULL, &err), DDB_OK);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "{\"TableName\":\"leases\",\"AttributeDefinitions\":[{\"AttributeName\":\"leaseKey\","
	    "\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":"
	    "\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}");
	CU_ASSERT_EQUAL(ddb_create_table_body(&b, "leases", &prov, &err), DDB_OK);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "{\"TableName\":\"leases\",\"AttributeDefinitions\":[{\"AttributeName\":\"id\","
	    "\"AttributeType\":\"N\"}],\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":"
	    "\"HASH\"}],\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":"
	    "{\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":10}}");
	CU_ASSERT_EQUAL(ddb_create_table_body(&b, "leases", &badtype, &err), DDB_ERROR);
	assert_contains(err.message, "type \"X\"", "create body");
	CU_ASSERT_EQUAL(ddb_create_table_body(&b, "a b", NULL, &err), DDB_ERROR);
	assert_contains(err.message, "CreateTable: table name \"a b\"", "create body");
	buf_free(&b);
}

static void
test_dynamodb_parse_table(void)
{
	static const char ok[] =
	    "{\"Table\":{\"TableName\":\"leases\",\"TableStatus\":\"CREATING\",\"ItemCount\":3,"
	    "\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}],"
	    "\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"}}}";
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{\"Table\":{\"TableName\":\"t\",\"KeySchema\":[]}}", "Table.TableStatus: missing" },
		{ "{\"Table\":{\"TableName\":\"t\",\"TableStatus\":\"ACTIVE\",\"KeySchema\":[]}}",
		    "Table.KeySchema: no HASH key" },
		{ "{\"Table\":{\"TableName\":\"t\",\"TableStatus\":\"ACTIVE\",\"KeySchema\":[3]}}",
		    "Table.KeySchema[0]: not an object" },
		{ "{\"TableDescription\":{}}", "Table: missing" },
		{ "{\"Table\":{\"TableName\":\"t\",\"TableStatus\":\"ACTIVE\"", "truncated" },
	};
	struct ddb_table_info t;
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(ddb_parse_table(ok, strlen(ok), &t, &err), DDB_OK);
	CU_ASSERT_STRING_EQUAL(t.name, "leases");
	CU_ASSERT_STRING_EQUAL(t.status, "CREATING");
	CU_ASSERT_STRING_EQUAL(t.key_name, "leaseKey");
	CU_ASSERT_STRING_EQUAL(t.billing_mode, "PAY_PER_REQUEST");
	CU_ASSERT_EQUAL(t.item_count, 3);
	for (size_t i = 0; i < N(bad); i++) {
		CU_ASSERT_EQUAL(ddb_parse_table(bad[i].body, strlen(bad[i].body), &t, &err), DDB_ERROR);
		assert_contains(err.message, bad[i].want, bad[i].body);
	}
}

/* ---- items ---- */

static void
test_dynamodb_parse_item(void)
{
	static const char body[] =
	    "{\"Item\":{\"leaseKey\":{\"S\":\"shardId-1\"},\"leaseCounter\":{\"N\":\"17\"},"
	    "\"big\":{\"N\":\"99999999999999999999\"},\"frac\":{\"N\":\"1.5\"},"
	    "\"parentShardId\":{\"SS\":[\"p0\",\"p1\"]},\"ok\":{\"BOOL\":true},"
	    "\"nothing\":{\"NULL\":true},\"map\":{\"M\":{\"a\":{\"S\":\"b\"}}}}}";
	struct ddb_item it;
	struct aws_error err;
	int64_t n = 0;
	bool b = false;

	CU_ASSERT_EQUAL_FATAL(ddb_parse_get_item(body, strlen(body), &it, &err), DDB_OK);
	CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "leaseKey"), "shardId-1");
	CU_ASSERT_PTR_NULL(ddb_item_s(&it, "leaseCounter")); /* an N, not an S */
	CU_ASSERT_PTR_NULL(ddb_item_s(&it, "absent"));
	CU_ASSERT_STRING_EQUAL(ddb_item_n(&it, "leaseCounter"), "17");
	CU_ASSERT_EQUAL(ddb_item_int(&it, "leaseCounter", &n), 0);
	CU_ASSERT_EQUAL(n, 17);
	CU_ASSERT_EQUAL(ddb_item_int(&it, "big", &n), -1);
	CU_ASSERT_EQUAL(ddb_item_int(&it, "frac", &n), -1);
	CU_ASSERT_EQUAL(ddb_item_int(&it, "leaseKey", &n), -1);
	CU_ASSERT_EQUAL(ddb_item_ss_count(&it, "parentShardId"), 2);
	CU_ASSERT_STRING_EQUAL(ddb_item_ss_at(&it, "parentShardId", 1), "p1");
	CU_ASSERT_PTR_NULL(ddb_item_ss_at(&it, "parentShardId", 2));
	CU_ASSERT_EQUAL(ddb_item_ss_count(&it, "leaseKey"), 0);
	CU_ASSERT_EQUAL(ddb_item_bool(&it, "ok", &b), 0);
	CU_ASSERT(b);
	CU_ASSERT_EQUAL(ddb_item_type(&it, "nothing"), DDB_T_NULL);
	CU_ASSERT_EQUAL(ddb_item_type(&it, "map"), DDB_T_OTHER);
	CU_ASSERT_EQUAL(ddb_item_type(&it, "absent"), DDB_T_NONE);
	CU_ASSERT_EQUAL(ddb_item_type(&it, "parentShardId"), DDB_T_SS);
	ddb_item_free(&it);

	CU_ASSERT_EQUAL(ddb_parse_get_item("{}", 2, &it, &err), DDB_NOT_FOUND);
	CU_ASSERT_PTR_NULL(it.attrs);
}

static void
test_dynamodb_parse_item_rejects(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{\"Item\":{\"a\":{\"S\":1}}}", "Item.a: S value is a JSON int" },
		{ "{\"Item\":{\"a\":{\"X\":\"1\"}}}", "Item.a: unknown attribute type \"X\"" },
		{ "{\"Item\":{\"a\":{\"S\":\"1\",\"N\":\"1\"}}}", "Item.a: not an attribute value" },
		{ "{\"Item\":{\"a\":\"plain\"}}", "Item.a: not an attribute value" },
		{ "{\"Item\":{\"a\":{\"N\":\"12abc\"}}}", "Item.a: N \"12abc\" is not a number" },
		{ "{\"Item\":{\"a\":{\"SS\":[\"x\",2]}}}", "Item.a: SS value is a JSON array" },
		{ "{\"Item\":{\"a\":{\"BOOL\":\"true\"}}}", "Item.a: BOOL value is a JSON string" },
		{ "{\"Item\":[]}", "Item: array, expected an object" },
		{ "{\"Item\":{\"a\":{\"S\":\"x\"}}", "truncated JSON" },
		{ "HTTP/1.1 200 OK", "not JSON" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct ddb_item it = { (struct json_object *)1 };
		struct aws_error err;
		CU_ASSERT_EQUAL(ddb_parse_get_item(cases[i].body, strlen(cases[i].body), &it, &err),
		    DDB_ERROR);
		CU_ASSERT_PTR_NULL(it.attrs);
		CU_ASSERT_STRING_EQUAL(err.type, "BadResponse");
		assert_contains(err.message, cases[i].want, cases[i].body);
	}
}

static void
test_dynamodb_scan_pages_parse(void)
{
	static const char p1[] = "{\"Items\":[{\"leaseKey\":{\"S\":\"a\"}},{\"leaseKey\":{\"S\":\"b\"}}],"
				 "\"Count\":2,\"ScannedCount\":2,\"LastEvaluatedKey\":{\"leaseKey\":{\"S\":\"b\"}}}";
	static const char p2[] = "{\"Items\":[{\"leaseKey\":{\"S\":\"c\"}}],\"Count\":1}";
	static const char bad_item[] = "{\"Items\":[{\"leaseKey\":{\"S\":\"d\"}},{\"k\":{\"S\":5}}]}";
	struct ddb_scan_opts opts = { .limit = 2, .consistent = true };
	struct ddb_scan *s = ddb_scan_new("leases", &opts);
	struct ddb_item_list l = { 0 };
	struct kls_buf b;
	struct aws_error err;

	buf_init(&b, 0);
	CU_ASSERT_EQUAL(ddb_scan_body(s, &b, &err), DDB_OK);
	CU_ASSERT_STRING_EQUAL(b.data, "{\"TableName\":\"leases\",\"Limit\":2,\"ConsistentRead\":true}");
	CU_ASSERT_EQUAL(ddb_scan_parse(s, p1, strlen(p1), &l, &err), DDB_OK);
	CU_ASSERT(!ddb_scan_done(s));
	CU_ASSERT_EQUAL(ddb_scan_body(s, &b, &err), DDB_OK);
	CU_ASSERT_STRING_EQUAL(b.data, "{\"TableName\":\"leases\",\"Limit\":2,\"ConsistentRead\":true,"
				       "\"ExclusiveStartKey\":{\"leaseKey\":{\"S\":\"b\"}}}");
	/* The same key again would page forever. */
	CU_ASSERT_EQUAL(ddb_scan_parse(s, p1, strlen(p1), &l, &err), DDB_ERROR);
	assert_contains(err.message, "LastEvaluatedKey is empty or did not advance", "scan");
	CU_ASSERT_EQUAL(l.n, 2);
	/* A bad item leaves the list as it was. */
	CU_ASSERT_EQUAL(ddb_scan_parse(s, bad_item, strlen(bad_item), &l, &err), DDB_ERROR);
	assert_contains(err.message, "Items[1].k: S value is a JSON int", "scan");
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_EQUAL(ddb_scan_parse(s, p2, strlen(p2), &l, &err), DDB_OK);
	CU_ASSERT(ddb_scan_done(s));
	CU_ASSERT_EQUAL(ddb_scan_pages(s), 2);
	CU_ASSERT_EQUAL_FATAL(l.n, 3);
	CU_ASSERT_STRING_EQUAL(ddb_item_s(&l.v[2], "leaseKey"), "c");
	ddb_item_list_free(&l);
	ddb_scan_free(s);
	buf_free(&b);
}

/* ---- the client against a scripted stub ---- */

/* dynalite 4.0.0's answer to a failed condition, byte for byte (EMULATORS.md). */
static const char dynalite_ccf[] =
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
    "\"message\":\"The conditional request failed\"}";

struct fixture {
	struct stub_endpoint ep;
	struct ddb_client *dc;
};

static int
fixture_start(struct fixture *f, struct stub_script *script)
{
	struct aws_error err;

	memset(f, 0, sizeof(*f));
	script->content_type = "application/x-amz-json-1.0";
	if (stub_endpoint_start(&f->ep, script, ddb_service_config) < 0)
		return -1;
	f->dc = ddb_client_new(&f->ep.cfg, &stub_no_retry, &err);
	if (!f->dc)
		fprintf(stderr, "ddb_client_new: %s\n", err.message);
	return f->dc ? 0 : -1;
}

static void
fixture_stop(struct fixture *f)
{
	ddb_client_free(f->dc);
	stub_endpoint_stop(&f->ep);
}

static void
test_dynamodb_condition_failed_code(void)
{
	static const struct stub_step steps[] = {
		{ "UpdateItem", { "\"ConditionExpression\":\"#_1 = :_1\"" }, { 0 }, 400, dynalite_ccf },
		{ "PutItem", { "attribute_not_exists(#_0)" }, { 0 }, 400, dynalite_ccf },
		{ "DeleteItem", { 0 }, { 0 }, 400, dynalite_ccf },
		{ "UpdateItem", { 0 }, { 0 }, 400,
		    "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"bad expression\"}" },
		{ "UpdateItem", { 0 }, { 0 }, 0, "{}" },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct fixture f;
	struct aws_error err;
	struct ddb_write *w;

	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	w = ddb_update_new("leases", "leaseKey", ddb_s("shardId-1"));
	ddb_set(w, "leaseOwner", ddb_s("me"));
	ddb_cond_eq(w, "leaseCounter", ddb_int(3));
	CU_ASSERT_EQUAL(ddb_execute(f.dc, w, &err), DDB_CONDITION_FAILED);
	CU_ASSERT_EQUAL(err.http_status, 400);
	assert_contains(err.type, "ConditionalCheckFailedException", "ccf type");
	assert_contains(err.message, "UpdateItem leases/shardId-1: ", "ccf message");
	assert_contains(err.message, "The conditional request failed", "ccf message");
	ddb_write_free(w);

	w = ddb_put_new("leases");
	ddb_set(w, "leaseKey", ddb_s("shardId-2"));
	ddb_cond_not_exists(w, "leaseKey");
	CU_ASSERT_EQUAL(ddb_execute(f.dc, w, &err), DDB_CONDITION_FAILED);
	assert_contains(err.message, "PutItem leases: ", "ccf put");
	ddb_write_free(w);

	w = ddb_delete_new("leases", "leaseKey", ddb_s("shardId-3"));
	ddb_cond_exists(w, "leaseOwner");
	CU_ASSERT_EQUAL(ddb_execute(f.dc, w, &err), DDB_CONDITION_FAILED);
	assert_contains(err.message, "DeleteItem leases/shardId-3", "ccf delete");
	ddb_write_free(w);

	/* Another 400 is a plain failure, not a failed condition. */
	w = ddb_update_new("leases", "leaseKey", ddb_s("shardId-1"));
	ddb_set(w, "leaseOwner", ddb_s("me"));
	CU_ASSERT_EQUAL(ddb_execute(f.dc, w, &err), DDB_ERROR);
	assert_contains(err.message, "bad expression", "validation");
	CU_ASSERT_EQUAL(ddb_execute(f.dc, w, &err), DDB_OK);
	ddb_write_free(w);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	fixture_stop(&f);
}

static void
test_dynamodb_table_outcomes(void)
{
	static const char creating[] =
	    "{\"Table\":{\"TableName\":\"leases\",\"TableStatus\":\"CREATING\","
	    "\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}]}}";
	static const char active[] =
	    "{\"Table\":{\"TableName\":\"leases\",\"TableStatus\":\"ACTIVE\","
	    "\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}]}}";
	static const struct stub_step steps[] = {
		{ "CreateTable", { "PAY_PER_REQUEST" }, { 0 }, 400,
		    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceInUseException\","
		    "\"message\":\"Table already exists: leases\"}" },
		{ "DescribeTable", { 0 }, { 0 }, 0, creating },
		{ "DescribeTable", { 0 }, { 0 }, 0, creating },
		{ "DescribeTable", { 0 }, { 0 }, 0, active },
		{ "DescribeTable", { 0 }, { 0 }, 400,
		    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
		    "\"message\":\"Requested resource not found: Table: gone not found\"}" },
		{ "DeleteTable", { 0 }, { 0 }, 400,
		    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
		    "\"message\":\"Requested resource not found\"}" },
		{ "GetItem", { "\"ConsistentRead\":true", "\"Key\":{\"leaseKey\":{\"S\":\"shardId-9\"}}" }, { 0 }, 0, "{}" },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct ddb_table_info info;
	struct ddb_item it;
	struct fixture f;
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(ddb_ensure_table(f.dc, "leases", NULL, 10000, &err), DDB_OK);
	CU_ASSERT_EQUAL(script.answered, 4);
	CU_ASSERT_EQUAL(ddb_describe_table(f.dc, "gone", &info, &err), DDB_NOT_FOUND);
	assert_contains(err.message, "DescribeTable gone", "not found");
	CU_ASSERT_EQUAL(ddb_delete_table(f.dc, "gone", &err), DDB_NOT_FOUND);
	CU_ASSERT_EQUAL(ddb_get_item(f.dc, "leases", "leaseKey", ddb_s("shardId-9"), &it, &err),
	    DDB_NOT_FOUND);
	CU_ASSERT_PTR_NULL(it.attrs);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	fixture_stop(&f);
}

static void
test_dynamodb_scan_pagination(void)
{
	static const struct stub_step steps[] = {
		{ "Scan", { "\"Limit\":2", "\"ConsistentRead\":true" }, { "ExclusiveStartKey" }, 0,
		    "{\"Items\":[{\"k\":{\"S\":\"1\"}},{\"k\":{\"S\":\"2\"}}],\"LastEvaluatedKey\":{\"k\":{\"S\":\"2\"}}}" },
		{ "Scan", { "\"ExclusiveStartKey\":{\"k\":{\"S\":\"2\"}}" }, { 0 }, 0,
		    "{\"Items\":[{\"k\":{\"S\":\"3\"}},{\"k\":{\"S\":\"4\"}}],\"LastEvaluatedKey\":{\"k\":{\"S\":\"4\"}}}" },
		{ "Scan", { "\"ExclusiveStartKey\":{\"k\":{\"S\":\"4\"}}" }, { 0 }, 0,
		    "{\"Items\":[{\"k\":{\"S\":\"5\"}}]}" },
		/* ddb_scan_all with a bound of 3 items stops after page 2 */
		{ "Scan", { 0 }, { "ExclusiveStartKey" }, 0,
		    "{\"Items\":[{\"k\":{\"S\":\"1\"}},{\"k\":{\"S\":\"2\"}}],\"LastEvaluatedKey\":{\"k\":{\"S\":\"2\"}}}" },
		{ "Scan", { 0 }, { 0 }, 0,
		    "{\"Items\":[{\"k\":{\"S\":\"3\"}},{\"k\":{\"S\":\"4\"}}],\"LastEvaluatedKey\":{\"k\":{\"S\":\"4\"}}}" },
	};
	struct stub_script script = { .steps = steps, .n = N(steps) };
	struct ddb_scan_opts opts = { .limit = 2, .consistent = true };
	struct ddb_item_list l = { 0 };
	struct fixture f;
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(fixture_start(&f, &script), 0);
	CU_ASSERT_EQUAL(ddb_scan_all(f.dc, "leases", &opts, &l, &err), DDB_OK);
	CU_ASSERT_EQUAL_FATAL(l.n, 5);
	for (size_t i = 0; i < 5; i++) {
		char want[4];
		snprintf(want, sizeof(want), "%zu", i + 1);
		CU_ASSERT_STRING_EQUAL(ddb_item_s(&l.v[i], "k"), want);
	}
	opts.max_items = 3;
	CU_ASSERT_EQUAL(ddb_scan_all(f.dc, "leases", &opts, &l, &err), DDB_ERROR);
	assert_contains(err.message, "more than 3 items", "bound");
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_STRING_EQUAL(script.failure, "");
	CU_ASSERT_EQUAL(script.answered, 5);
	ddb_item_list_free(&l);
	fixture_stop(&f);
}

static CU_TestInfo pure_tests[] = {
	{ "update body", test_dynamodb_update_body },
	{ "put body", test_dynamodb_put_body },
	{ "delete body", test_dynamodb_delete_body },
	{ "builder refuses", test_dynamodb_builder_refuses },
	{ "builder limits", test_dynamodb_builder_limits },
	{ "create table body", test_dynamodb_create_table_body },
	{ "parse table", test_dynamodb_parse_table },
	{ "parse item", test_dynamodb_parse_item },
	{ "parse item rejects", test_dynamodb_parse_item_rejects },
	{ "scan pages parse", test_dynamodb_scan_pages_parse },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo stub_tests[] = {
	{ "condition failed code", test_dynamodb_condition_failed_code },
	{ "table outcomes", test_dynamodb_table_outcomes },
	{ "scan pagination", test_dynamodb_scan_pagination },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "dynamodb requests and responses", NULL, NULL, NULL, NULL, pure_tests },
	{ "dynamodb client against a stub", NULL, NULL, NULL, NULL, stub_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
