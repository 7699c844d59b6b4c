/*
 * The multi-worker tests' output checker (tests/overlap.c): batches of different
 * readers of one shard that overlap in time are found, whatever their order in the
 * files; delivery counts records, duplicates and the first missing one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/overlap.h"

struct batch_case {
	const char *name;
	const char *lines; /* file contents: "<shard> <pid> <t0> <t1>" per batch, ';'-separated */
	bool overlap;
};

static const struct batch_case batch_cases[] = {
	{ "one after another", "s1 10 0 10;s1 11 20 30;s1 10 40 50", false },
	{ "same pid back to back", "s1 10 0 10;s1 10 5 30", false },
	{ "second starts inside the first", "s1 10 0 100;s1 11 50 60", true },
	{ "touching ends overlap", "s1 10 0 10;s1 11 10 20", true },
	/* A later batch of the first pid reaches into the second's: the sweep must not
	 * forget pid 11 once pid 10 leads again. */
	{ "back inside another pid", "s1 10 0 10;s1 11 20 30;s1 10 25 26", true },
	{ "long batch of a third pid", "s1 12 0 100;s1 10 10 20;s1 11 30 40", true },
	{ "out of file order", "s1 11 20 30;s1 10 0 25", true },
	{ "different shards never conflict", "s1 10 0 100;s2 11 50 60", false },
};

static char dir[64];

static void
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
clear_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f %s/out-*.log", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* The batch notation as filelog lines, two records per batch, one file per shard. */
static void
write_batches(const char *spec)
{
	char *copy = strdup(spec), *save = NULL, text[8192] = "";
	int n = 0;

	for (char *b = strtok_r(copy, ";", &save); b; b = strtok_r(NULL, ";", &save)) {
		char shard[16];
		long pid, t0, t1;
		size_t len = strlen(text);
		CU_ASSERT_EQUAL_FATAL(sscanf(b, "%15s %ld %ld %ld", shard, &pid, &t0, &t1), 4);
		for (int r = 0; r < 2; r++, n++)
			snprintf(text + len, sizeof(text) - len,
			    "%s %d 0 w-%ld %ld %ld %ld seq=%d abc\n", shard, 100 + n, pid, pid, t0,
			    t1, n),
			    len = strlen(text);
	}
	free(copy);
	/* One file holds every shard: the checker groups lines by their shard field. */
	write_file("out-all.log", text);
}

static void
test_overlap_batches(void)
{
	for (size_t i = 0; i < sizeof(batch_cases) / sizeof(batch_cases[0]); i++) {
		const struct batch_case *c = &batch_cases[i];
		struct ov_out o = { 0 };
		char why[512] = "";
		int rc;

		clear_dir();
		write_batches(c->lines);
		CU_ASSERT_EQUAL(ov_load(&o, dir), 0);
		rc = ov_check_overlap(&o, why, sizeof(why));
		if ((rc < 0) != c->overlap)
			fprintf(stderr, "\ncase \"%s\": overlap %s (%s)\n", c->name,
			    rc < 0 ? "found" : "missed", why);
		CU_ASSERT_EQUAL(rc < 0, c->overlap);
		ov_free(&o);
	}
}

static void
test_overlap_delivery(void)
{
	struct ov_out o = { 0 };
	struct ov_delivery d;
	struct ov_run *runs;
	size_t nruns;

	clear_dir();
	/* Records 0..4: 2 twice, 3 missing; a line with other data; a line still being
	 * written (no newline) is not read. */
	write_file("out-s1.log", "s1 1 0 w-a 10 0 5 seq=0 x y\n"
	                         "s1 2 0 w-a 10 0 5 seq=1 x\n"
	                         "s1 3 0 w-b 11 9 12 seq=2 x\n"
	                         "s1 4 0 w-b 11 9 12 hello\n");
	write_file("out-s2.log", "s2 1 0 w-a 12 0 5 seq=2 x\n"
	                         "s2 2 0 w-a 12 6 7 seq=4 x\n"
	                         "s2 3 0 w-a 12 8 9 seq=3 partial");
	CU_ASSERT_EQUAL_FATAL(ov_load(&o, dir), 0);
	CU_ASSERT_EQUAL(o.n, 2);
	ov_delivery(&o, 5, &d);
	CU_ASSERT_EQUAL(d.lines, 5);
	CU_ASSERT_EQUAL(d.distinct, 4);
	CU_ASSERT_EQUAL(d.dups, 1);
	CU_ASSERT_EQUAL(d.first_missing, 3);
	CU_ASSERT_EQUAL(ov_runs(ov_find(&o, "s1"), &runs, &nruns), 0);
	CU_ASSERT_EQUAL_FATAL(nruns, 2);
	CU_ASSERT_EQUAL(runs[0].pid, 10);
	CU_ASSERT_EQUAL(runs[0].lines, 2);
	CU_ASSERT_EQUAL(runs[1].pid, 11);
	CU_ASSERT_EQUAL(runs[1].first_t0, 9);
	CU_ASSERT_EQUAL(runs[1].last_t1, 12);
	CU_ASSERT_STRING_EQUAL(runs[1].worker, "w-b");
	free(runs);
	CU_ASSERT_EQUAL(ov_last_t1(ov_find(&o, "s2"), 12), 7);
	CU_ASSERT_EQUAL(ov_last_t1(ov_find(&o, "s2"), 10), 0);
	CU_ASSERT_EQUAL(ov_first_t0_after(ov_find(&o, "s1"), 10, 0), 9);
	CU_ASSERT_EQUAL(ov_first_t0_after(ov_find(&o, "s1"), 10, 9), INT64_MAX);
	ov_free(&o);
}

static int
suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kls-overlap.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
suite_clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static CU_TestInfo overlap_tests[] = {
	{ "batches of different readers overlapping", test_overlap_batches },
	{ "delivery, duplicates and runs", test_overlap_delivery },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "overlap", suite_init, suite_clean, NULL, NULL, overlap_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
