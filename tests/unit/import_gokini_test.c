/*
 * Unit tests of ctl/import_gokini.c's pure parts: gokini items to leases (and the kls
 * checkpoint each gives), the live rule with its margin, and the comparison of two scans.
 * The LeaseTimeout forms are tested in tests/unit/timestamp_test.c, the command itself
 * against dynalite in tests/integration/import_gokini_test.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/dynamodb.h"
#include "common/timestamp.h"
#include "ctl/ctl.h"
#include "tests/harness.h"

/* 2024-05-01T12:00:00Z */
#define T0 1714564800000LL

/* An item from its DynamoDB JSON attribute map. */
static int
item(const char *json, struct ddb_item *it)
{
	json_object *o = json_tokener_parse(json);
	struct aws_error err;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	rc = ddb_item_from_json(o, "test", it, &err);
	json_object_put(o);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return rc;
}

static void
test_import_gokini_items(void)
{
	static const struct {
		const char *json;
		const char *why;        /* NULL: parses */
		const char *checkpoint; /* the kls checkpoint it gives */
	} cases[] = {
		/* gokini's item after a checkpoint, as CheckpointSequence writes it. */
		{ "{\"ShardID\":{\"S\":\"shardId-000000000001\"},\"SequenceID\":{\"S\":"
		  "\"49590338271490256608559692538361571095921575989136588818\"},"
		  "\"AssignedTo\":{\"S\":\"a1b2\"},\"LeaseTimeout\":{\"S\":\"2024-05-01T12:00:00."
		  "5Z\"},"
		  "\"Closed\":{\"BOOL\":false},\"ParentShardID\":{\"S\":\"shardId-000000000000\"}}",
		    NULL, "49590338271490256608559692538361571095921575989136588818" },
		{ "{\"ShardID\":{\"S\":\"shardId-000000000001\"},\"SequenceID\":{\"S\":\"42\"},"
		  "\"Closed\":{\"BOOL\":true}}",
		    NULL, "SHARD_END" },
		{ "{\"ShardID\":{\"S\":\"shardId-000000000001\"},\"AssignedTo\":{\"S\":\"a1b2\"}}",
		    NULL, "TRIM_HORIZON" },
		{ "{\"ShardID\":{\"S\":\"shardId-000000000001\"},\"SequenceID\":{\"S\":\"\"}}",
		    NULL, "TRIM_HORIZON" },
		{ "{\"SequenceID\":{\"S\":\"42\"}}", "ShardID is missing", NULL },
		{ "{\"ShardID\":{\"N\":\"1\"}}", "ShardID is not a string", NULL },
		{ "{\"ShardID\":{\"S\":\"s\"},\"SequenceID\":{\"S\":\"4x2\"}}",
		    "SequenceID \"4x2\" is not a sequence number", NULL },
		{ "{\"ShardID\":{\"S\":\"s\"},\"SequenceID\":{\"S\":\"042\"}}",
		    "SequenceID \"042\" is not a sequence number", NULL },
		{ "{\"ShardID\":{\"S\":\"s\"},\"Closed\":{\"S\":\"true\"}}",
		    "Closed is not a boolean", NULL },
		{ "{\"ShardID\":{\"S\":\"s\"},\"LeaseTimeout\":{\"S\":\"yesterday\"}}",
		    "LeaseTimeout \"yesterday\" is not an RFC 3339 time", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ddb_item it;
		struct gokini_lease g;
		char why[256] = "";
		int rc;

		item(cases[i].json, &it);
		rc = gokini_lease_from_item(&it, &g, why, sizeof(why));
		CU_ASSERT_EQUAL(rc, cases[i].why ? -1 : 0);
		if (cases[i].why) {
			CU_ASSERT_STRING_EQUAL(why, cases[i].why);
		} else if (rc == 0) {
			CU_ASSERT_STRING_EQUAL(gokini_kls_checkpoint(&g), cases[i].checkpoint);
		}
		ddb_item_free(&it);
	}
	/* Every field of the full item. */
	{
		struct ddb_item it;
		struct gokini_lease g;
		char why[256];

		item(cases[0].json, &it);
		CU_ASSERT_EQUAL_FATAL(gokini_lease_from_item(&it, &g, why, sizeof(why)), 0);
		CU_ASSERT_STRING_EQUAL(g.shard, "shardId-000000000001");
		CU_ASSERT_STRING_EQUAL(g.assigned, "a1b2");
		CU_ASSERT_EQUAL(g.timeout_ms, T0 + 500);
		CU_ASSERT_STRING_EQUAL(g.parent, "shardId-000000000000");
		CU_ASSERT_FALSE(g.closed);
		CU_ASSERT_STRING_EQUAL(g.claim, "");
		ddb_item_free(&it);
	}
}

static void
test_import_gokini_live_rule(void)
{
	static const struct {
		const char *assigned;
		const char *timeout; /* NULL: no LeaseTimeout */
		long long now, margin;
		bool live;
	} cases[] = {
		{ "w1", "2024-05-01T12:00:00Z", T0 - 1000, 60000, true },   /* in the future */
		{ "w1", "2024-05-01T12:00:00Z", T0 + 30000, 60000, true },  /* within the margin */
		{ "w1", "2024-05-01T12:00:00Z", T0 + 60000, 60000, false }, /* margin passed */
		{ "w1", "2024-05-01T12:00:00Z", T0 + 30000, 0, false },     /* no margin */
		{ "", "2024-05-01T12:00:00Z", T0 - 1000, 60000, false },    /* nobody holds it */
		{ "w1", NULL, T0, 60000, false }, /* no time: the second scan decides */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gokini_lease g;

		memset(&g, 0, sizeof(g));
		snprintf(g.shard, sizeof(g.shard), "shardId-000000000001");
		snprintf(g.assigned, sizeof(g.assigned), "%s", cases[i].assigned);
		if (cases[i].timeout) {
			snprintf(g.timeout_text, sizeof(g.timeout_text), "%s", cases[i].timeout);
			CU_ASSERT_EQUAL(rfc3339_parse_ms(g.timeout_text, &g.timeout_ms), 0);
		}
		CU_ASSERT_EQUAL(gokini_lease_live(&g, cases[i].now, cases[i].margin),
		    cases[i].live);
	}
}

static void
test_import_gokini_diff(void)
{
	struct gokini_lease a, b;

	memset(&a, 0, sizeof(a));
	snprintf(a.shard, sizeof(a.shard), "shardId-000000000001");
	snprintf(a.seq, sizeof(a.seq), "42");
	b = a;
	CU_ASSERT_PTR_NULL(gokini_lease_diff(&a, &b));
	snprintf(b.seq, sizeof(b.seq), "43");
	CU_ASSERT_STRING_EQUAL(gokini_lease_diff(&a, &b), "SequenceID");
	b = a;
	snprintf(b.timeout_text, sizeof(b.timeout_text), "2024-05-01T12:00:25Z");
	CU_ASSERT_STRING_EQUAL(gokini_lease_diff(&a, &b), "LeaseTimeout");
	b = a;
	b.closed = true;
	CU_ASSERT_STRING_EQUAL(gokini_lease_diff(&a, &b), "Closed");
	b = a;
	snprintf(b.claim, sizeof(b.claim), "w2");
	CU_ASSERT_STRING_EQUAL(gokini_lease_diff(&a, &b), "ClaimRequest");
}

static CU_TestInfo tests[] = {
	{ "gokini items", test_import_gokini_items },
	{ "live rule and margin", test_import_gokini_live_rule },
	{ "two scans compared", test_import_gokini_diff },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "gokini import", NULL, NULL, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
