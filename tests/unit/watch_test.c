/*
 * kls-ctl status --watch (ctl/watch.c): rates from two reads of a slot, only when both
 * reads are of the same reader run, and the table they make.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "tests/harness.h"

static struct ctl_row
row(uint32_t slot, const char *shard, int32_t pid, uint64_t records, uint64_t bytes)
{
	struct ctl_row r;

	memset(&r, 0, sizeof(r));
	r.slot = slot;
	r.state = KLS_SLOT_ACTIVE;
	snprintf(r.lease.shard_id, sizeof(r.lease.shard_id), "%s", shard);
	r.lease.reader_pid = pid;
	r.progress.records = records;
	r.progress.bytes = bytes;
	r.progress.millis_behind = 1500;
	return r;
}

static void
test_watch_rate(void)
{
	static const struct {
		const char *what;
		uint32_t slot2;
		const char *shard2;
		int32_t pid2;
		uint64_t records2, bytes2;
		bool torn;
		double seconds;
		bool known;
		double records_s, bytes_s;
	} cases[] = {
		{ "same run", 1, "shardId-1", 10, 300, 3000, false, 2.0, true, 100, 1000 },
		{ "idle", 1, "shardId-1", 10, 100, 1000, false, 2.0, true, 0, 0 },
		{ "reader restarted", 1, "shardId-1", 11, 20, 200, false, 2.0, false, 0, 0 },
		{ "totals went back", 1, "shardId-1", 10, 50, 500, false, 2.0, false, 0, 0 },
		{ "slot reused for another shard", 1, "shardId-2", 10, 300, 3000, false, 2.0, false,
		    0, 0 },
		{ "other slot", 2, "shardId-1", 10, 300, 3000, false, 2.0, false, 0, 0 },
		{ "torn read", 1, "shardId-1", 10, 300, 3000, true, 2.0, false, 0, 0 },
		{ "no time passed", 1, "shardId-1", 10, 300, 3000, false, 0, false, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_row a = row(1, "shardId-1", 10, 100, 1000);
		struct ctl_row b = row(cases[i].slot2, cases[i].shard2, cases[i].pid2,
		    cases[i].records2, cases[i].bytes2);
		struct ctl_rate r;

		b.progress_torn = cases[i].torn;
		ctl_watch_rate(&a, &b, cases[i].seconds, &r);
		if (r.known != cases[i].known)
			fprintf(stderr, "\n  case \"%s\": known %d\n", cases[i].what, r.known);
		CU_ASSERT_EQUAL(r.known, cases[i].known);
		CU_ASSERT_DOUBLE_EQUAL(r.records_s, cases[i].records_s, 1e-9);
		CU_ASSERT_DOUBLE_EQUAL(r.bytes_s, cases[i].bytes_s, 1e-9);
	}
	/* A slot new since the last read has nothing to compare with. */
	{
		struct ctl_row b = row(1, "shardId-1", 10, 100, 1000);
		struct ctl_rate r;
		ctl_watch_rate(NULL, &b, 1.0, &r);
		CU_ASSERT_FALSE(r.known);
	}
}

static void
test_watch_text(void)
{
	struct ctl_row prev_rows[2] = { row(0, "shardId-000000000000", 10, 100, 1000),
		row(1, "shardId-000000000001", 20, 500, 5000) };
	/* Slot 0 read 250 more records in 2.5 s; slot 1's reader was restarted. */
	struct ctl_row cur_rows[2] = { row(0, "shardId-000000000000", 10, 350, 3500),
		row(1, "shardId-000000000001", 21, 7, 70) };
	struct ctl_status prev = { .klsd_pid = 42,
		.now = { 1000000000 },
		.n = 2,
		.rows = prev_rows };
	struct ctl_status cur = { .klsd_pid = 42, .now = { 3500000000 }, .n = 2, .rows = cur_rows };
	/* In the table's head. */
	static const char *const head[] = {
		"application orders  stream orders-stream",
		"(rates over 2.5 s)",
		"REC/S",
		" MODE ",
		" SUB_AGE ",
		" RESUBS",
	};
	/* In (or, where !in, not in) the line of shard 0 or 1. */
	static const struct {
		int shard;
		const char *part;
		bool in;
	} parts[] = {
		/* 100.0 records/s and 1000 bytes/s, then "-" for the restart. */
		{ 0, " 350 ", true },
		{ 0, " 100.0 ", true },
		{ 0, " 1000 ", true },
		{ 0, " 1500", true },
		{ 1, " 7 ", true },
		{ 1, "  - ", true },
		{ 1, "100.0", false },
		/* Modes; the fan-out columns only for the fan-out shard. */
		{ 0, " polling ", true },
		{ 0, "s ", false },
		{ 1, " fan-out ", true },
		{ 1, " 3s ", true },
	};
	char text[4096] = "", lines[2][256] = { "", "" };
	FILE *f = tmpfile();
	size_t n;

	/* Slot 0 polls; slot 1's new reader reads with fan-out, subscribed 3 s ago, after
	 * two subscriptions that ended. */
	cur_rows[0].progress.read_mode = KLS_READ_POLLING;
	cur_rows[1].progress.read_mode = KLS_READ_FANOUT;
	cur_rows[1].progress.fanout_started_ns = 500000000;
	cur_rows[1].progress.fanout_resubscribes = 2;
	snprintf(cur.application, sizeof(cur.application), "orders");
	snprintf(cur.stream, sizeof(cur.stream), "orders-stream");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(ctl_watch_text(&prev, &cur, f), 0);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
		if (!strstr(text, head[i]))
			fprintf(stderr, "\n  head lacks \"%s\"\n", head[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, head[i]));
	}
	/* The shard lines (strtok cuts text up: the head is checked above). */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strstr(line, "shardId-000000000000"))
			snprintf(lines[0], sizeof(lines[0]), "%s", line);
		if (strstr(line, "shardId-000000000001"))
			snprintf(lines[1], sizeof(lines[1]), "%s", line);
		if (strncmp(line, "total", 5) == 0)
			CU_ASSERT_STRING_EQUAL(line, "total 100.0 records/s");
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *line = lines[parts[i].shard];
		if (!strstr(line, parts[i].part) != !parts[i].in)
			fprintf(stderr, "\n  shard %d line \"%s\": \"%s\" %s\n", parts[i].shard,
			    line, parts[i].part, parts[i].in ? "missing" : "present");
		CU_ASSERT_EQUAL(strstr(line, parts[i].part) != NULL, parts[i].in);
	}
	CU_ASSERT_EQUAL(strcmp(lines[1] + strlen(lines[1]) - 2, " 2"), 0);
}

static CU_TestInfo watch_tests[] = {
	{ "rates only within one reader run", test_watch_rate },
	{ "the refreshed table", test_watch_text },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "watch", NULL, NULL, NULL, NULL, watch_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
