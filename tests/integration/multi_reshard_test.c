/*
 * Resharding under two klsd workers with records flowing (issue 4): one shard of a
 * 3-shard stream is split and the other two merged. Every parent is read to its end
 * and checkpointed SHARD_END; no record of a child is delivered before all its parents
 * finished (the handler output's times, and the lease table monitor, which never sees
 * a child owned while a parent is unfinished); every record is delivered.
 *
 * On kinesalite, GetRecords at a shard's end carries no ChildShards, so the children
 * come from shard sync. On kinesis-local it does; klsd still learns the children from
 * the shard sync it runs at once when a reader reports the end of its shard (the
 * reader does not pass ChildShards on: klsd trusts its own ListShards, not what a
 * reader says), so this run checks that path against the more faithful emulator.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tests/fleet.h"
#include "tests/harness.h"

#define SHARDS 3

/* The stream's shards in order of their hash ranges. -1 on failure. */
static int
list_shards(struct fleet *fl, struct kinesis_shard_list *l)
{
	struct aws_error err;

	if (kinesis_list_shards(fl->w[0].kin, fl->w[0].stream, NULL, l, &err) < 0) {
		fprintf(stderr, "\nListShards: %s\n", err.message);
		return -1;
	}
	return 0;
}

/* Split the first shard at its middle, then merge the other two. */
static int
reshard(struct fleet *fl, char parents[SHARDS][KINESIS_SHARD_ID_MAX + 1])
{
	struct kinesis_shard_list l = { 0 };
	struct aws_error err;
	char split[KINESIS_HASH_KEY_MAX + 1];
	int rc = -1;

	if (list_shards(fl, &l) < 0 || l.n != SHARDS)
		goto out;
	for (int i = 0; i < SHARDS; i++)
		snprintf(parents[i], KINESIS_SHARD_ID_MAX + 1, "%s", l.shards[i].shard_id);
	if (kinesis_hash_key_split_point(l.shards[0].starting_hash_key, l.shards[0].ending_hash_key,
	        split, sizeof(split)) < 0 ||
	    kinesis_split_shard(fl->w[0].kin, fl->w[0].stream, parents[0], split, &err) < 0 ||
	    kinesis_wait_active(fl->w[0].kin, fl->w[0].stream, 30000, NULL, &err) < 0 ||
	    kinesis_merge_shards(fl->w[0].kin, fl->w[0].stream, parents[1], parents[2], &err) < 0 ||
	    kinesis_wait_active(fl->w[0].kin, fl->w[0].stream, 30000, NULL, &err) < 0) {
		fprintf(stderr, "\nreshard %s: %s\n", fl->w[0].stream, err.message);
		goto out;
	}
	rc = 0;
out:
	kinesis_shard_list_free(&l);
	return rc;
}

/* Polls until the 3 parents are finished and the 3 children held by the workers. */
static bool
wait_children(struct fleet *fl, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	do {
		struct lease *v;
		int n = fixture_leases(&fl->w[0], &v), finished = 0, children = 0;
		for (int i = 0; i < n; i++) {
			finished += lease_is_finished(&v[i]);
			children += v[i].nparents > 0 && v[i].owner[0] && !v[i].checkpoint_owner[0];
		}
		if (n > 0)
			free(v);
		if (finished == SHARDS && children == 3)
			return true;
		sleep_ms(200);
	} while (mono_before(mono_now(), end));
	return false;
}

/* Every child's first batch started after every parent's last batch ended. */
static void
check_order(struct fleet *fl, struct lease *v, int n)
{
	for (int i = 0; i < n; i++) {
		const struct ov_shard *child = ov_find(&fl->ov, v[i].key);
		int64_t first = INT64_MAX;
		if (!v[i].nparents)
			continue;
		for (size_t j = 0; child && j < child->n; j++)
			if (child->v[j].t0 < first)
				first = child->v[j].t0;
		CU_ASSERT_PTR_NOT_NULL(child); /* records reached every child */
		for (int p = 0; child && p < v[i].nparents; p++) {
			const struct ov_shard *par = ov_find(&fl->ov, v[i].parents[p]);
			int64_t last = 0;
			for (size_t j = 0; par && j < par->n; j++)
				if (par->v[j].t1 > last)
					last = par->v[j].t1;
			fprintf(stderr, "measure: %s started %.0f ms after its parent %s ended\n",
			    v[i].key, (double)(first - last) / 1e6, v[i].parents[p]);
			CU_ASSERT_TRUE(last < first);
		}
	}
}

static void
run(const char *prefix, const char *kinesis_var, int rate)
{
	struct fleet fl;
	char parents[SHARDS][KINESIS_SHARD_ID_MAX + 1];
	struct lease *v = NULL;
	int n, kids = 0;
	kls_mono t;
	int64_t ms;

	if (fleet_init(&fl, prefix, SHARDS, 2, kinesis_var) < 0)
		goto out;
	for (int i = 0; i < 2; i++)
		if (fleet_config(&fl, i, NULL) < 0)
			goto out;
	if (!fleet_run_all(&fl, rate, 1, 2))
		goto out;
	sleep_ms(2000);
	t = mono_now();
	if (reshard(&fl, parents) < 0) {
		CU_FAIL("reshard");
		goto out;
	}
	CU_ASSERT_TRUE(wait_children(&fl, 60000));
	ms = mono_diff_ms(t, mono_now());
	fprintf(stderr,
	    "measure: split and merge: parents finished and children held %lld ms "
	    "after the reshard began\n",
	    (long long)ms);
	/* Records keep going to the children for a while. */
	sleep_ms(3000);
	fleet_finish(&fl);
	n = fixture_leases(&fl.w[0], &v);
	CU_ASSERT_EQUAL(n, SHARDS + 3);
	for (int i = 0; i < n; i++) {
		bool parent = false;
		for (int p = 0; p < SHARDS; p++)
			parent |= strcmp(v[i].key, parents[p]) == 0;
		if (parent)
			CU_ASSERT_STRING_EQUAL(v[i].checkpoint, CHECKPOINT_SHARD_END);
		kids += v[i].nparents > 0;
	}
	CU_ASSERT_EQUAL(kids, 3);
	check_order(&fl, v, n);
out:
	if (v)
		free(v);
	fleet_done(&fl);
}

static void
test_multi_reshard_kinesalite(void)
{
	run("multi-reshard", "KINESIS_ENDPOINT", 60);
}

static void
test_multi_reshard_kinesis_local(void)
{
	/* kinesis-local puts ~170 records/s at most: a gentle flow. */
	run("multi-reshard-kl", "KINESIS_LOCAL_ENDPOINT", 15);
}

static CU_TestInfo multi_reshard_tests[] = {
	{ "split and merge on kinesalite (children from shard sync)",
	    test_multi_reshard_kinesalite },
	{ "split and merge on kinesis-local (ChildShards at shard end)",
	    test_multi_reshard_kinesis_local },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "multi_reshard", NULL, NULL, NULL, NULL, multi_reshard_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
