/* Tests of supervisor/shard_sync.c: leases created for new shards with parents, hash
 * ranges and the right starting position, and finished parents cleaned up only once
 * their children have started. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/shard_sync.h"
#include "tests/harness.h"

static struct kinesis_shard
shard(const char *id, const char *parent, const char *adjacent, bool closed)
{
	struct kinesis_shard s;
	memset(&s, 0, sizeof(s));
	snprintf(s.shard_id, sizeof(s.shard_id), "%s", id);
	snprintf(s.parent_shard_id, sizeof(s.parent_shard_id), "%s", parent);
	snprintf(s.adjacent_parent_shard_id, sizeof(s.adjacent_parent_shard_id), "%s", adjacent);
	snprintf(s.starting_hash_key, sizeof(s.starting_hash_key), "0");
	snprintf(s.ending_hash_key, sizeof(s.ending_hash_key), "100");
	snprintf(s.starting_sequence_number, sizeof(s.starting_sequence_number), "1");
	if (closed)
		snprintf(s.ending_sequence_number, sizeof(s.ending_sequence_number), "9");
	return s;
}

static struct lease
lease_at(const char *key, const char *checkpoint, const char *parent)
{
	struct lease l;
	memset(&l, 0, sizeof(l));
	snprintf(l.key, sizeof(l.key), "%s", key);
	snprintf(l.checkpoint, sizeof(l.checkpoint), "%s", checkpoint);
	if (parent)
		snprintf(l.parents[l.nparents++], sizeof(l.parents[0]), "%s", parent);
	return l;
}

static const struct lease *
find(const struct lease *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

static void
test_shard_sync_plan(void)
{
	/* s0 split into s2, s3; s1 and s2 merged into s4. */
	struct kinesis_shard sh[] = {
		shard("s0", "", "", true),
		shard("s1", "", "", true),
		shard("s2", "s0", "", true),
		shard("s3", "s0", "", false),
		shard("s4", "s1", "s2", false),
		shard("s5", "gone", "", false),
	};
	struct kinesis_shard_list list = { sh, 6, 6 };
	struct lease_view lv;
	struct lease existing[] = { lease_at("s1", "SHARD_END", NULL) };
	struct lease *out;
	size_t n;

	lease_view_init(&lv);
	CU_ASSERT_EQUAL_FATAL(lease_view_merge_scan(&lv, existing, 1, KLS_MONO_ZERO), 0);

	/* TRIM_HORIZON: every shard without a lease; children start at TRIM_HORIZON. */
	CU_ASSERT_EQUAL_FATAL(shard_sync_plan(&list, &lv, CONFIG_POSITION_TRIM_HORIZON, &out, &n),
	    0);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_PTR_NULL(find(out, n, "s1"));
	CU_ASSERT_STRING_EQUAL(find(out, n, "s4")->checkpoint, "TRIM_HORIZON");
	CU_ASSERT_EQUAL(find(out, n, "s4")->nparents, 2);
	CU_ASSERT_STRING_EQUAL(find(out, n, "s4")->parents[1], "s2");
	CU_ASSERT_STRING_EQUAL(find(out, n, "s0")->ending_hash, "100");
	CU_ASSERT_EQUAL(find(out, n, "s0")->counter, 0);
	CU_ASSERT_STRING_EQUAL(find(out, n, "s0")->owner, "");
	free(out);

	/* AT_TIMESTAMP: roots at the timestamp, children of leased parents at TRIM_HORIZON
	 * (their records all come after the parents'). */
	CU_ASSERT_EQUAL_FATAL(shard_sync_plan(&list, &lv, CONFIG_POSITION_AT_TIMESTAMP, &out, &n),
	    0);
	CU_ASSERT_STRING_EQUAL(find(out, n, "s0")->checkpoint, "AT_TIMESTAMP");
	CU_ASSERT_STRING_EQUAL(find(out, n, "s3")->checkpoint, "TRIM_HORIZON");
	CU_ASSERT_STRING_EQUAL(find(out, n, "s5")->checkpoint, "AT_TIMESTAMP"); /* parent gone */
	free(out);

	/* LATEST: no lease for closed shards; open shards whose parents have no lease start
	 * at LATEST; s4 has a leased parent (s1) and starts at TRIM_HORIZON. */
	CU_ASSERT_EQUAL_FATAL(shard_sync_plan(&list, &lv, CONFIG_POSITION_LATEST, &out, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_PTR_NULL(find(out, n, "s0"));
	CU_ASSERT_PTR_NULL(find(out, n, "s2"));
	CU_ASSERT_STRING_EQUAL(find(out, n, "s3")->checkpoint, "LATEST");
	CU_ASSERT_STRING_EQUAL(find(out, n, "s4")->checkpoint, "TRIM_HORIZON");
	CU_ASSERT_STRING_EQUAL(find(out, n, "s5")->checkpoint, "LATEST");
	free(out);

	/* Everything has a lease: nothing to do. */
	{
		struct lease all[6];
		for (int i = 0; i < 6; i++)
			all[i] = lease_at(sh[i].shard_id, "TRIM_HORIZON", NULL);
		CU_ASSERT_EQUAL(lease_view_merge_scan(&lv, all, 6, KLS_MONO_ZERO), 0);
		CU_ASSERT_EQUAL(shard_sync_plan(&list, &lv, CONFIG_POSITION_TRIM_HORIZON, &out, &n),
		    0);
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_PTR_NULL(out);
	}
	lease_view_free(&lv);
}

static void
test_shard_sync_cleanup(void)
{
	struct kinesis_shard sh[] = { shard("c1", "p", "", false), shard("c2", "p", "", false) };
	struct kinesis_shard_list list = { sh, 2, 2 };
	struct lease_view lv;
	char(*del)[LEASE_KEY_MAX];
	size_t n;
	struct lease v[] = {
		lease_at("p", "SHARD_END", NULL), lease_at("c1", "123", "p"),
		lease_at("c2", "TRIM_HORIZON", "p"),
		lease_at("q", "SHARD_END", NULL), /* no children known: kept */
	};

	lease_view_init(&lv);
	CU_ASSERT_EQUAL_FATAL(lease_view_merge_scan(&lv, v, 4, KLS_MONO_ZERO), 0);
	/* c2 has not started: p stays. */
	CU_ASSERT_EQUAL(shard_sync_cleanup(&list, &lv, &del, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(del);
	snprintf(v[2].checkpoint, sizeof(v[2].checkpoint), "SHARD_END");
	CU_ASSERT_EQUAL_FATAL(lease_view_merge_scan(&lv, v, 4, KLS_MONO_ZERO), 0);
	CU_ASSERT_EQUAL(shard_sync_cleanup(&list, &lv, &del, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(del[0], "p");
	free(del);
	/* A parent still listed by the stream is never deleted. */
	{
		struct kinesis_shard sh2[] = { sh[0], sh[1], shard("p", "", "", true) };
		struct kinesis_shard_list l2 = { sh2, 3, 3 };
		CU_ASSERT_EQUAL(shard_sync_cleanup(&l2, &lv, &del, &n), 0);
		CU_ASSERT_EQUAL(n, 0);
		free(del);
	}
	lease_view_free(&lv);
}

static CU_TestInfo shard_sync_tests[] = {
	{ "leases for new shards", test_shard_sync_plan },
	{ "finished parents cleaned up", test_shard_sync_cleanup },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "shard_sync", NULL, NULL, NULL, NULL, shard_sync_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
