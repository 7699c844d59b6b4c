/* Tests of supervisor/lease_item.c: lease items in KCL's attribute names (read from real
 * GetItem bodies, malformed ones refused) and the conditional writes of the protocol,
 * checked as resolved update and condition expressions. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/dynamodb.h"
#include "supervisor/lease_item.h"
#include "tests/harness.h"

/* ---- reading items ---- */

static int
item_from(const char *attrs, struct lease *l, char *why, size_t whylen)
{
	char body[4096];
	struct ddb_item it = { NULL };
	struct aws_error err;
	int rc;

	snprintf(body, sizeof(body), "{\"Item\":%s}", attrs);
	if (ddb_parse_get_item(body, strlen(body), &it, &err) != DDB_OK) {
		fprintf(stderr, "\nparse %s: %s\n", attrs, err.message);
		CU_FAIL("item did not parse");
		return -2;
	}
	rc = lease_from_item(&it, l, why, whylen);
	ddb_item_free(&it);
	return rc;
}

static void
test_lease_item_kcl_item(void)
{
	struct lease l;
	char why[256];

	/* As KCL 2.x writes it, with attributes kls does not use. */
	CU_ASSERT_EQUAL_FATAL(
	    item_from(
	        "{\"leaseKey\":{\"S\":\"shardId-000000000002\"},"
	        "\"leaseOwner\":{\"S\":\"host:abc\"},"
	        "\"leaseCounter\":{\"N\":\"42\"},"
	        "\"checkpoint\":{\"S\":"
	        "\"49590338271490256608559692538361571095921575989136588898\"},"
	        "\"checkpointSubSequenceNumber\":{\"N\":\"3\"},"
	        "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"1\"},"
	        "\"parentShardId\":{\"SS\":[\"shardId-000000000000\",\"shardId-000000000001\"]},"
	        "\"childShardIds\":{\"SS\":[\"shardId-000000000005\"]},"
	        "\"startingHashKey\":{\"S\":\"0\"},"
	        "\"endingHashKey\":{\"S\":\"340282366920938463463374607431768211455\"},"
	        "\"pendingCheckpoint\":{\"S\":\"x\"},"
	        "\"leaseKeyRange\":{\"M\":{}}}",
	        &l, why, sizeof(why)),
	    0);
	CU_ASSERT_STRING_EQUAL(l.key, "shardId-000000000002");
	CU_ASSERT_STRING_EQUAL(l.owner, "host:abc");
	CU_ASSERT_EQUAL(l.counter, 42);
	CU_ASSERT_STRING_EQUAL(l.checkpoint,
	    "49590338271490256608559692538361571095921575989136588898");
	CU_ASSERT_EQUAL(l.checkpoint_sub, 3);
	CU_ASSERT_EQUAL(l.owner_switches, 1);
	CU_ASSERT_EQUAL(l.nparents, 2);
	CU_ASSERT_EQUAL(l.nchildren, 1);
	CU_ASSERT_STRING_EQUAL(l.children[0], "shardId-000000000005");
	CU_ASSERT_STRING_EQUAL(l.ending_hash, "340282366920938463463374607431768211455");
	CU_ASSERT_STRING_EQUAL(l.checkpoint_owner, "");

	/* A free lease: no owner, and a parent written as a plain string. */
	CU_ASSERT_EQUAL_FATAL(
	    item_from("{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"0\"},"
	              "\"checkpoint\":{\"S\":\"TRIM_HORIZON\"},"
	              "\"parentShardId\":{\"S\":\"s0\"}}",
	        &l, why, sizeof(why)),
	    0);
	CU_ASSERT_STRING_EQUAL(l.owner, "");
	CU_ASSERT_EQUAL(l.nparents, 1);
	CU_ASSERT_STRING_EQUAL(l.parents[0], "s0");
}

/* KCL 3.5's single-table format keeps other rows in the lease table, told apart by
 * entityType (software.amazon.kinesis.leases.EntityType); shapes as KCL writes them. */
static void
test_lease_item_kcl3_rows(void)
{
	static const struct {
		const char *attrs;
		const char *why;
	} others[] = {
		{ "{\"leaseKey\":{\"S\":\"kcl-worker-1\"},"
		  "\"entityType\":{\"S\":\"WORKER_METRIC_STATS\"},\"lut\":{\"N\":\"1764140000\"},"
		  "\"sts\":{\"M\":{\"CPU\":{\"L\":[{\"N\":\"12.5\"}]}}},"
		  "\"opr\":{\"M\":{\"CPU\":{\"L\":[{\"N\":\"100\"}]}}},"
		  "\"sup\":{\"N\":\"1\"},\"slu\":{\"N\":\"1764140000\"}}",
		    "kcl-worker-1 is a KCL WORKER_METRIC_STATS item" },
		{ "{\"leaseKey\":{\"S\":\"Leader\"},\"entityType\":{\"S\":\"LEADER\"},"
		  "\"ownerName\":{\"S\":\"kcl-worker-1\"},\"leaseDuration\":{\"S\":\"10000\"},"
		  "\"recordVersionNumber\":{\"S\":\"0b5c\"}}",
		    "Leader is a KCL LEADER item" },
		{ "{\"leaseKey\":{\"S\":\"Migration3.0\"},"
		  "\"entityType\":{\"S\":\"CLIENT_VERSION_MIGRATION\"},"
		  "\"cv\":{\"S\":\"CLIENT_VERSION_3X\"},\"mb\":{\"S\":\"kcl-worker-1\"},"
		  "\"mts\":{\"N\":\"1764140000000\"}}",
		    "Migration3.0 is a KCL CLIENT_VERSION_MIGRATION item" },
		/* A kind newer than this code, and a malformed one: not leases either. */
		{ "{\"leaseKey\":{\"S\":\"x\"},\"entityType\":{\"S\":\"SOMETHING_NEW\"}}",
		    "SOMETHING_NEW" },
		{ "{\"leaseKey\":{\"S\":\"y\"},\"entityType\":{\"N\":\"1\"}}",
		    "non-string entityType" },
	};
	struct lease l;
	char why[256];

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		why[0] = '\0';
		CU_ASSERT_EQUAL(item_from(others[i].attrs, &l, why, sizeof(why)), 1);
		if (!strstr(why, others[i].why))
			fprintf(stderr, "\ncase %zu: why \"%s\"\n", i, why);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, others[i].why));
	}
	/* A lease that says so is a lease. */
	CU_ASSERT_EQUAL(item_from("{\"leaseKey\":{\"S\":\"shardId-000000000000\"},"
	                          "\"entityType\":{\"S\":\"LEASE\"},"
	                          "\"leaseCounter\":{\"N\":\"3\"},"
	                          "\"throughputKBps\":{\"N\":\"1.25\"},"
	                          "\"checkpoint\":{\"S\":\"SHARD_END\"}}",
	                    &l, why, sizeof(why)),
	    0);
	CU_ASSERT_STRING_EQUAL(l.checkpoint, "SHARD_END");
	CU_ASSERT_EQUAL(l.counter, 3);
}

/* klsOwner tells kls workers from others: a lease whose owner wrote klsOwner = itself. */
static void
test_lease_item_kls_owner(void)
{
	struct lease l;
	char why[256];

	CU_ASSERT_EQUAL_FATAL(item_from("{\"leaseKey\":{\"S\":\"s\"},"
	                                "\"leaseOwner\":{\"S\":\"h:1\"},"
	                                "\"klsOwner\":{\"S\":\"h:1\"}}",
	                          &l, why, sizeof(why)),
	    0);
	CU_ASSERT_STRING_EQUAL(l.kls_owner, "h:1");
	CU_ASSERT_TRUE(lease_owner_is_kls(&l));
	/* KCL took it from kls: the marker is stale. */
	snprintf(l.owner, sizeof(l.owner), "kcl-worker");
	CU_ASSERT_FALSE(lease_owner_is_kls(&l));
	/* A KCL lease never had one; a free lease has no owner to judge. */
	l.kls_owner[0] = '\0';
	CU_ASSERT_FALSE(lease_owner_is_kls(&l));
	l.owner[0] = '\0';
	CU_ASSERT_FALSE(lease_owner_is_kls(&l));
}

static void
test_lease_item_malformed(void)
{
	static const struct {
		const char *attrs;
		const char *why; /* substring of the reason */
	} cases[] = {
		{ "{\"leaseOwner\":{\"S\":\"w\"}}", "leaseKey is missing" },
		{ "{\"leaseKey\":{\"N\":\"1\"}}", "leaseKey is not a string" },
		{ "{\"leaseKey\":{\"S\":\"\"}}", "leaseKey is empty" },
		{ "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":{\"N\":\"-1\"}}",
		    "lease a: leaseCounter" },
		{ "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":{\"N\":\"1.5\"}}", "leaseCounter" },
		{ "{\"leaseKey\":{\"S\":\"a\"},\"leaseCounter\":{\"S\":\"1\"}}", "leaseCounter" },
		{ "{\"leaseKey\":{\"S\":\"a\"},\"parentShardId\":{\"SS\":[\"p\",\"q\",\"r\"]}}",
		    "3 shard ids" },
		{ "{\"leaseKey\":{\"S\":\"a\"},\"parentShardId\":{\"N\":\"1\"}}",
		    "not a string set" },
		{ "{\"leaseKey\":{\"S\":\"a\"},\"endingHashKey\":"
		  "{\"S\":\"3402823669209384634633746074317682114550000\"}}",
		    "endingHashKey is longer" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lease l;
		char why[256] = "";
		int rc = item_from(cases[i].attrs, &l, why, sizeof(why));
		if (rc != -1 || !strstr(why, cases[i].why))
			fprintf(stderr, "\ncase %zu: rc %d, why \"%s\"\n", i, rc, why);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, cases[i].why));
	}
}

/* ---- writes ---- */

/* Writes a DynamoDB value as text: numbers bare, strings quoted, sets in braces. */
static void
value_text(json_object *v, char *out, size_t size)
{
	json_object *x;

	if (json_object_object_get_ex(v, "N", &x))
		snprintf(out, size, "%s", json_object_get_string(x));
	else if (json_object_object_get_ex(v, "S", &x))
		snprintf(out, size, "'%s'", json_object_get_string(x));
	else if (json_object_object_get_ex(v, "SS", &x)) {
		size_t n = 0;
		n += (size_t)snprintf(out + n, size - n, "{");
		for (size_t i = 0; i < json_object_array_length(x); i++)
			n += (size_t)snprintf(out + n, size - n, "%s'%s'", i ? "," : "",
			    json_object_get_string(json_object_array_get_idx(x, i)));
		snprintf(out + n, size - n, "}");
	} else
		snprintf(out, size, "?");
}

/* The expression `field` of the request with every placeholder replaced by its name or
 * value ("leaseCounter = 5 AND attribute_not_exists(checkpointOwner)"). */
static void
resolved(const char *body, const char *field, char *out, size_t size)
{
	json_object *req = json_tokener_parse(body), *expr, *names = NULL, *values = NULL;
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	if (!json_object_object_get_ex(req, field, &expr)) {
		json_object_put(req);
		return;
	}
	json_object_object_get_ex(req, "ExpressionAttributeNames", &names);
	json_object_object_get_ex(req, "ExpressionAttributeValues", &values);
	for (p = json_object_get_string(expr); *p && n + 1 < size;) {
		if (*p == '#' || *p == ':') {
			char ph[32], text[256];
			size_t k = 0;
			json_object *v = NULL;
			ph[k++] = *p++;
			while (
			    (*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')) &&
			    k + 1 < sizeof(ph))
				ph[k++] = *p++;
			ph[k] = '\0';
			if (ph[0] == '#' && names && json_object_object_get_ex(names, ph, &v))
				snprintf(text, sizeof(text), "%s", json_object_get_string(v));
			else if (ph[0] == ':' && values &&
			         json_object_object_get_ex(values, ph, &v))
				value_text(v, text, sizeof(text));
			else
				snprintf(text, sizeof(text), "<%s?>", ph);
			n += (size_t)snprintf(out + n, size - n, "%s", text);
		} else {
			out[n++] = *p++;
			out[n] = '\0';
		}
	}
	json_object_put(req);
}

static struct lease
base_lease(void)
{
	struct lease l;
	memset(&l, 0, sizeof(l));
	snprintf(l.key, sizeof(l.key), "shardId-000000000001");
	snprintf(l.owner, sizeof(l.owner), "old");
	l.counter = 7;
	snprintf(l.checkpoint, sizeof(l.checkpoint), "100");
	l.owner_switches = 2;
	return l;
}

static void
test_lease_item_writes(void)
{
	struct lease l = base_lease(), free_l = base_lease(), child = base_lease();
	free_l.owner[0] = '\0';
	child.counter = 0;
	child.owner[0] = '\0';
	child.nparents = 1;
	snprintf(child.parents[0], sizeof(child.parents[0]), "shardId-000000000000");
	snprintf(child.starting_hash, sizeof(child.starting_hash), "0");
	snprintf(child.ending_hash, sizeof(child.ending_hash), "99");
	snprintf(child.checkpoint, sizeof(child.checkpoint), "TRIM_HORIZON");
	struct lease me_l = base_lease();
	snprintf(me_l.owner, sizeof(me_l.owner), "me");
	struct lease handing = me_l;
	snprintf(handing.owner, sizeof(handing.owner), "new");
	snprintf(handing.checkpoint_owner, sizeof(handing.checkpoint_owner), "me");
	struct lease done = me_l;
	snprintf(done.checkpoint, sizeof(done.checkpoint), "SHARD_END");

	struct {
		const char *name;
		struct ddb_write *w;
		const char *action, *update, *cond;
	} cases[] = {
		{ "renew", NULL, "UpdateItem", "SET leaseCounter = 8, klsOwner = 'me'",
		    "leaseCounter = 7 AND leaseOwner = 'me' AND "
		    "attribute_not_exists(checkpointOwner)" },
		{ "take expired", NULL, "UpdateItem",
		    "SET leaseOwner = 'me', klsOwner = 'me', leaseCounter = 8, "
		    "ownerSwitchesSinceCheckpoint = 3 REMOVE "
		    "checkpointOwner",
		    "leaseCounter = 7" },
		{ "take free", NULL, "UpdateItem",
		    "SET leaseOwner = 'me', klsOwner = 'me', leaseCounter = 8, "
		    "ownerSwitchesSinceCheckpoint = 3 REMOVE "
		    "checkpointOwner",
		    "leaseCounter = 7" },
		{ "checkpoint", NULL, "UpdateItem",
		    "SET checkpoint = '200', checkpointSubSequenceNumber = 4, leaseCounter = 8, "
		    "ownerSwitchesSinceCheckpoint = 0 REMOVE pendingCheckpoint, "
		    "pendingCheckpointSubSequenceNumber, pendingCheckpointState",
		    "leaseCounter = 7 AND leaseOwner = 'me'" },
		{ "handoff checkpoint", NULL, "UpdateItem",
		    "SET checkpoint = '200', checkpointSubSequenceNumber = 4, leaseCounter = 8, "
		    "ownerSwitchesSinceCheckpoint = 0 REMOVE pendingCheckpoint, "
		    "pendingCheckpointSubSequenceNumber, pendingCheckpointState",
		    "leaseCounter = 7 AND checkpointOwner = 'me'" },
		{ "release", NULL, "UpdateItem", "SET leaseCounter = 8 REMOVE leaseOwner",
		    "leaseOwner = 'me' AND leaseCounter = 7" },
		{ "handoff request", NULL, "UpdateItem",
		    "SET leaseOwner = 'me', klsOwner = 'me', checkpointOwner = 'old', "
		    "leaseCounter = 8",
		    "leaseOwner = 'old' AND leaseCounter = 7 AND "
		    "attribute_not_exists(checkpointOwner)" },
		{ "handoff done", NULL, "UpdateItem", "SET leaseCounter = 8 REMOVE checkpointOwner",
		    "checkpointOwner = 'me' AND leaseCounter = 7" },
		{ "delete", NULL, "DeleteItem", "", "checkpoint = 'SHARD_END'" },
		{ "create", NULL, "PutItem", "", "attribute_not_exists(leaseKey)" },
	};
	struct lease after[10];

	cases[0].w = lease_write_renew("leases", &me_l, "me", &after[0]);
	cases[1].w = lease_write_take("leases", &l, "me", &after[1]);
	cases[2].w = lease_write_take("leases", &free_l, "me", &after[2]);
	cases[3].w =
	    lease_write_checkpoint("leases", LW_CHECKPOINT, &me_l, "me", "200", 4, &after[3]);
	cases[4].w = lease_write_checkpoint("leases", LW_HANDOFF_CHECKPOINT, &handing, "me", "200",
	    4, &after[4]);
	cases[5].w = lease_write_release("leases", &me_l, "me", &after[5]);
	cases[6].w = lease_write_handoff_request("leases", &l, "me", &after[6]);
	cases[7].w = lease_write_handoff_done("leases", &handing, "me", &after[7]);
	cases[8].w = lease_write_delete("leases", &done);
	cases[9].w = lease_write_create("leases", &child, &after[9]);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_buf b;
		struct aws_error err;
		char upd[512], cond[512];

		CU_ASSERT_PTR_NOT_NULL_FATAL(cases[i].w);
		buf_init(&b, 0);
		if (ddb_write_body(cases[i].w, &b, &err) != 0) {
			fprintf(stderr, "\n%s: %s\n", cases[i].name, err.message);
			CU_FAIL("write body");
			buf_free(&b);
			ddb_write_free(cases[i].w);
			continue;
		}
		CU_ASSERT_STRING_EQUAL(ddb_write_action(cases[i].w), cases[i].action);
		resolved(b.data, "UpdateExpression", upd, sizeof(upd));
		resolved(b.data, "ConditionExpression", cond, sizeof(cond));
		if (strcmp(upd, cases[i].update) || strcmp(cond, cases[i].cond))
			fprintf(stderr, "\n%s:\n update %s\n   cond %s\n", cases[i].name, upd,
			    cond);
		CU_ASSERT_STRING_EQUAL(upd, cases[i].update);
		CU_ASSERT_STRING_EQUAL(cond, cases[i].cond);
		if (strcmp(cases[i].name, "create") == 0) {
			/* Parents and hash range go into the item; the counter starts at 0. */
			CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
			    "\"parentShardId\":{\"SS\":[\"shardId-000000000000\"]}"));
			CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"endingHashKey\":{\"S\":\"99\"}"));
			CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"leaseCounter\":{\"N\":\"0\"}"));
			CU_ASSERT_PTR_NOT_NULL(
			    strstr(b.data, "\"checkpoint\":{\"S\":\"TRIM_HORIZON\"}"));
			CU_ASSERT_PTR_NULL(strstr(b.data, "leaseOwner"));
			CU_ASSERT_PTR_NULL(strstr(b.data, "childShardIds"));
		}
		buf_free(&b);
		ddb_write_free(cases[i].w);
	}
	/* What each write leaves behind. */
	CU_ASSERT_EQUAL(after[0].counter, 8);
	CU_ASSERT_STRING_EQUAL(after[0].kls_owner, "me");
	CU_ASSERT_STRING_EQUAL(after[1].owner, "me");
	CU_ASSERT_STRING_EQUAL(after[1].kls_owner, "me");
	CU_ASSERT_TRUE(lease_owner_is_kls(&after[1]));
	CU_ASSERT_STRING_EQUAL(after[6].kls_owner, "me");
	CU_ASSERT_EQUAL(after[1].owner_switches, 3);
	CU_ASSERT_STRING_EQUAL(after[3].checkpoint, "200");
	CU_ASSERT_EQUAL(after[3].checkpoint_sub, 4);
	CU_ASSERT_EQUAL(after[3].owner_switches, 0);
	CU_ASSERT_STRING_EQUAL(after[5].owner, "");
	CU_ASSERT_STRING_EQUAL(after[6].owner, "me");
	CU_ASSERT_STRING_EQUAL(after[6].checkpoint_owner, "old");
	CU_ASSERT_STRING_EQUAL(after[7].checkpoint_owner, "");
	CU_ASSERT_STRING_EQUAL(after[7].owner, "new");
	CU_ASSERT_EQUAL(after[9].counter, 0);
}

static void
test_lease_item_landed(void)
{
	struct lease me_l = base_lease(), after, cur;
	struct ddb_write *w;

	snprintf(me_l.owner, sizeof(me_l.owner), "me");
	w = lease_write_checkpoint("leases", LW_CHECKPOINT, &me_l, "me", "300", 0, &after);
	ddb_write_free(w);
	cur = after;
	CU_ASSERT_TRUE(lease_write_landed(LW_CHECKPOINT, &after, &cur, true));
	/* Same counter but another checkpoint: someone else's write. */
	snprintf(cur.checkpoint, sizeof(cur.checkpoint), "299");
	CU_ASSERT_FALSE(lease_write_landed(LW_CHECKPOINT, &after, &cur, true));
	cur = after;
	cur.counter++;
	CU_ASSERT_FALSE(lease_write_landed(LW_CHECKPOINT, &after, &cur, true));
	cur = after;
	snprintf(cur.checkpoint_owner, sizeof(cur.checkpoint_owner), "x");
	CU_ASSERT_FALSE(lease_write_landed(LW_CHECKPOINT, &after, &cur, true));
	CU_ASSERT_FALSE(lease_write_landed(LW_RENEW, &after, &after, false));

	w = lease_write_renew("leases", &me_l, "me", &after);
	ddb_write_free(w);
	cur = after;
	CU_ASSERT_TRUE(lease_write_landed(LW_RENEW, &after, &cur, true));
	snprintf(cur.owner, sizeof(cur.owner), "thief");
	CU_ASSERT_FALSE(lease_write_landed(LW_RENEW, &after, &cur, true));

	CU_ASSERT_TRUE(lease_write_landed(LW_CREATE, &after, &cur, true));
	CU_ASSERT_FALSE(lease_write_landed(LW_CREATE, &after, &cur, false));
	CU_ASSERT_TRUE(lease_write_landed(LW_DELETE, &after, &cur, false));
	CU_ASSERT_FALSE(lease_write_landed(LW_DELETE, &after, &cur, true));
}

/* Every write kind has the op its metrics are labelled with. */
static void
test_lease_item_write_op(void)
{
	static const struct {
		enum lease_write_kind kind;
		const char *op;
	} cases[] = {
		{ LW_RENEW, "renew" },
		{ LW_CHECKPOINT, "checkpoint" },
		{ LW_HANDOFF_CHECKPOINT, "checkpoint" },
		{ LW_TAKE, "take" },
		{ LW_RELEASE, "release" },
		{ LW_HANDOFF_REQUEST, "handoff" },
		{ LW_HANDOFF_DONE, "handoff" },
		{ LW_CREATE, "create" },
		{ LW_DELETE, "delete" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = lease_op_name(lease_write_op(cases[i].kind));
		CU_ASSERT_PTR_NOT_NULL_FATAL(name);
		CU_ASSERT_STRING_EQUAL(name, cases[i].op);
	}
	CU_ASSERT_EQUAL(lease_write_op((enum lease_write_kind)99), LEASE_OP_COUNT);
	CU_ASSERT_PTR_NULL(lease_op_name(LEASE_OP_COUNT));
}

static CU_TestInfo lease_item_tests[] = {
	{ "KCL item", test_lease_item_kcl_item },
	{ "KCL 3.x rows that are not leases", test_lease_item_kcl3_rows },
	{ "klsOwner", test_lease_item_kls_owner },
	{ "malformed items refused", test_lease_item_malformed },
	{ "writes and their conditions", test_lease_item_writes },
	{ "landed retry told apart", test_lease_item_landed },
	{ "metrics op of each write", test_lease_item_write_op },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "lease_item", NULL, NULL, NULL, NULL, lease_item_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
