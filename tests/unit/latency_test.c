/*
 * Tests of shm/latency (the latency histograms readers publish in their progress group
 * and klsd adds to its metrics): where an observation lands, what klsd refuses as
 * garbage (with a message naming it), and how klsd's totals stay monotonic when a
 * reader restarts from zero, including through a real progress group in a slot.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/latency.h"
#include "shm/table.h"
#include "tests/harness.h"

#define MS 1000000LL

/* Each value of a table lands in one bucket (or, past the last bound, in none). */
static void
test_latency_observe(void)
{
	static const struct {
		enum kls_lat_kind kind;
		int64_t ns;
		int bucket; /* -1: above the last bound */
	} cases[] = {
		{ KLS_LAT_GETRECORDS, 0, 0 },
		{ KLS_LAT_GETRECORDS, -5, 0 },     /* a clock step: counted as 0 */
		{ KLS_LAT_GETRECORDS, 5 * MS, 0 }, /* on the bound: that bucket */
		{ KLS_LAT_GETRECORDS, 5 * MS + 1, 1 },
		{ KLS_LAT_GETRECORDS, 250 * MS, 5 },
		{ KLS_LAT_GETRECORDS, 10000 * MS, 10 },
		{ KLS_LAT_GETRECORDS, 10000 * MS + 1, -1 },
		{ KLS_LAT_HANDLER, 1 * MS, 0 },
		{ KLS_LAT_HANDLER, 2 * MS, 1 },
		{ KLS_LAT_HANDLER, 30000 * MS, 12 },
		{ KLS_LAT_HANDLER, 3600000 * MS, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_latency h = { 0 };
		size_t n;
		char err[256];

		kls_lat_observe(&h, cases[i].kind, cases[i].ns);
		kls_lat_observe(&h, cases[i].kind, cases[i].ns);
		(void)kls_lat_bounds(cases[i].kind, &n);
		CU_ASSERT_EQUAL(h.nbounds, n);
		CU_ASSERT_EQUAL(h.count, 2);
		CU_ASSERT_EQUAL(h.sum_ns, cases[i].ns > 0 ? 2 * (uint64_t)cases[i].ns : 0);
		for (int b = 0; b < KLS_LAT_SLOTS; b++)
			CU_ASSERT_EQUAL(h.bucket[b], b == cases[i].bucket ? 2u : 0u);
		CU_ASSERT_EQUAL(kls_lat_check(&h, cases[i].kind, err, sizeof(err)), 0);
	}
}

/* kls_lat_bounds gives the shared lists, increasing. */
static void
test_latency_bounds(void)
{
	static const double gr[] = KLS_LAT_GETRECORDS_BOUNDS, hd[] = KLS_LAT_HANDLER_BOUNDS;
	size_t n;
	const double *b = kls_lat_bounds(KLS_LAT_GETRECORDS, &n);

	CU_ASSERT_EQUAL_FATAL(n, sizeof(gr) / sizeof(gr[0]));
	CU_ASSERT_EQUAL(memcmp(b, gr, sizeof(gr)), 0);
	b = kls_lat_bounds(KLS_LAT_HANDLER, &n);
	CU_ASSERT_EQUAL_FATAL(n, sizeof(hd) / sizeof(hd[0]));
	CU_ASSERT_EQUAL(memcmp(b, hd, sizeof(hd)), 0);
	for (size_t i = 1; i < n; i++)
		CU_ASSERT(b[i] > b[i - 1]);
	CU_ASSERT_PTR_NULL(kls_lat_bounds(KLS_LAT_KINDS, &n));
	CU_ASSERT_EQUAL(n, 0);
}

/* Garbage klsd must refuse, each with a message that says what was wrong. */
static void
test_latency_check_garbage(void)
{
	static const struct {
		const char *what;
		struct kls_latency h;
		const char *words;
	} cases[] = {
		{ "absent", { 0 }, NULL },
		{ "nothing observed yet, but a writer", { .nbounds = KLS_LAT_HANDLER_N }, NULL },
		{ "observations without a bucket list", { .count = 3 }, "no bucket count" },
		{ "another build's list", { .nbounds = 12, .count = 1 }, "12 buckets where" },
		{ "an unused slot in use",
		    { .nbounds = KLS_LAT_HANDLER_N, .count = 9, .bucket[KLS_LAT_HANDLER_N] = 1 },
		    "bucket 13 of 13 in use" },
		{ "more in the buckets than counted",
		    { .nbounds = KLS_LAT_HANDLER_N, .count = 3, .bucket = { 2, 2 } },
		    "more than its 3 observations" },
		{ "buckets that would overflow a sum",
		    { .nbounds = KLS_LAT_HANDLER_N,
		        .count = UINT64_MAX,
		        .bucket = { UINT64_MAX, 1 } },
		    "more than its" },
		{ "random words",
		    { .nbounds = 0xdeadbeef, .count = 0x1234, .sum_ns = 7, .bucket = { 99 } },
		    "another kls build, or a damaged table" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int rc = kls_lat_check(&cases[i].h, KLS_LAT_HANDLER, err, sizeof(err));

		if (!cases[i].words) {
			CU_ASSERT_EQUAL(rc, 0);
			continue;
		}
		CU_ASSERT_EQUAL(rc, -1);
		if (!strstr(err, cases[i].words) || !strstr(err, "handler histogram"))
			fprintf(stderr, "\n%s: \"%s\"\n", cases[i].what, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].words));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "handler histogram"));
	}
}

/* klsd's totals across two reader runs: the second starts from zero, the totals only
 * grow, and a snapshot that goes back within one run is refused. */
static void
test_latency_restart(void)
{
	struct kls_lat_run t = { 0 };
	struct kls_latency cur = { 0 }, add;
	uint64_t total = 0, sum = 0;
	char err[256];

	/* Run 1: 5 observations, then 2 more. */
	for (int i = 0; i < 5; i++)
		kls_lat_observe(&cur, KLS_LAT_GETRECORDS, 20 * MS);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 100, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(add.count, 5);
	CU_ASSERT_EQUAL(add.bucket[2], 5);
	total += add.count;
	sum += add.sum_ns;
	kls_lat_observe(&cur, KLS_LAT_GETRECORDS, 20 * MS);
	kls_lat_observe(&cur, KLS_LAT_GETRECORDS, 20000 * MS);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 100, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(add.count, 2);
	CU_ASSERT_EQUAL(add.bucket[2], 1);
	CU_ASSERT_EQUAL(add.sum_ns, 20020 * MS);
	total += add.count;
	sum += add.sum_ns;
	/* The same snapshot again adds nothing. */
	CU_ASSERT_EQUAL(kls_lat_take(&t, 100, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(add.count, 0);
	CU_ASSERT_EQUAL(add.sum_ns, 0);

	/* The reader restarts (run 2): its histogram starts from zero again. */
	memset(&cur, 0, sizeof(cur));
	kls_lat_observe(&cur, KLS_LAT_GETRECORDS, 1 * MS);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 200, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(add.count, 1);
	CU_ASSERT_EQUAL(add.bucket[0], 1);
	total += add.count;
	sum += add.sum_ns;
	CU_ASSERT_EQUAL(total, 8);
	CU_ASSERT_EQUAL(sum, 100 * MS + 20020 * MS + 1 * MS);

	/* Within run 2, a count that goes back (a damaged group) is refused, and the
	 * last good snapshot stays: the next good one adds only what is new. */
	memset(&cur, 0, sizeof(cur));
	cur.nbounds = KLS_LAT_GETRECORDS_N;
	CU_ASSERT_EQUAL(kls_lat_take(&t, 200, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "GetRecords histogram: count went back from 1 to 0"));
	CU_ASSERT_EQUAL(add.count, 0);
	cur = t.seen;
	kls_lat_observe(&cur, KLS_LAT_GETRECORDS, 1 * MS);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 200, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(add.count, 1);
	/* A bucket that went back alone is named. */
	cur.bucket[0] = 0;
	cur.bucket[1] = 2;
	CU_ASSERT_EQUAL(kls_lat_take(&t, 200, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bucket 0 went back from 2 to 0"));
	/* A handler-kind snapshot offered as GetRecords: another list length. */
	memset(&cur, 0, sizeof(cur));
	kls_lat_observe(&cur, KLS_LAT_HANDLER, 1 * MS);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 300, &cur, KLS_LAT_GETRECORDS, &add, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "13 buckets where this klsd has 11"));
}

/* Through a progress group: what a reader publishes is what klsd reads and takes; a
 * group a dead writer left odd is never read; garbage written into the histogram bytes
 * of a group (a damaged table) reads back consistent but is refused by its checks. */
static void
test_latency_through_shm(void)
{
	struct kls_shm_slot *slot = aligned_alloc(64, sizeof(*slot));
	struct kls_progress p = { .millis_behind = -1 }, got;
	struct kls_lat_run t = { 0 };
	struct kls_latency add;
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(slot);
	memset(slot, 0, sizeof(*slot));
	p.writer_pid = 4242;
	kls_lat_observe(&p.handler, KLS_LAT_HANDLER, 3 * MS);
	kls_lat_observe(&p.getrecords, KLS_LAT_GETRECORDS, 30 * MS);
	kls_shm_progress_publish(slot, &p);
	CU_ASSERT_EQUAL_FATAL(kls_shm_progress_read(slot, &got, KLS_SHM_READ_TRIES), 0);
	CU_ASSERT_EQUAL(got.writer_pid, 4242);
	CU_ASSERT_EQUAL(memcmp(&got.handler, &p.handler, sizeof(p.handler)), 0);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 1, &got.handler, KLS_LAT_HANDLER, &add, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(add.count, 1);
	CU_ASSERT_EQUAL(add.bucket[1], 1);

	/* A writer that died between the counter bumps: torn, never read. */
	atomic_fetch_add(&slot->progress.seq, 1);
	errno = 0;
	CU_ASSERT_EQUAL(kls_shm_progress_read(slot, &got, 3), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	atomic_fetch_add(&slot->progress.seq, 1);

	/* Damaged bytes under an even counter. */
	memset(&slot->progress.v.handler, 0xa5, sizeof(slot->progress.v.handler));
	CU_ASSERT_EQUAL_FATAL(kls_shm_progress_read(slot, &got, KLS_SHM_READ_TRIES), 0);
	CU_ASSERT_EQUAL(kls_lat_take(&t, 1, &got.handler, KLS_LAT_HANDLER, &add, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "handler histogram"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "damaged table"));
	CU_ASSERT_EQUAL(add.count, 0);
	free(slot);
}

/* The minor-2 layout keeps every minor-1 offset and the slot size (shm/README.md). */
static void
test_latency_layout(void)
{
	CU_ASSERT_EQUAL(KLS_SHM_MINOR, 2);
	CU_ASSERT_EQUAL(offsetof(struct kls_shm_slot, progress) +
	                    offsetof(struct kls_shm_progress_group, v) +
	                    offsetof(struct kls_progress, getrecords),
	    832 + 16 + 752); /* where minor 1's slot.reserved1 began */
	CU_ASSERT_EQUAL(sizeof(struct kls_shm_slot), 2048);
	CU_ASSERT_EQUAL(offsetof(struct kls_progress, kpl_invalid), 624);
}

static CU_TestInfo latency_tests[] = {
	{ "observations land in their bucket", test_latency_observe },
	{ "shared bounds", test_latency_bounds },
	{ "garbage refused with a message", test_latency_check_garbage },
	{ "reader restart: totals stay monotonic", test_latency_restart },
	{ "through a progress group", test_latency_through_shm },
	{ "minor 2 layout", test_latency_layout },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "latency", NULL, NULL, NULL, NULL, latency_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
