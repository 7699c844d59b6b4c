/*
 * One worker's wall clock moves an hour forward, back, and an hour back (issue 4), with
 * two klsd workers on one stream and records flowing: no lease changes hands, no reader
 * of that worker is drained or killed for its lease, and every record is delivered.
 *
 * The jump comes from libfaketime (Debian's faketime package) preloaded into that
 * worker's klsd and, through it, its readers, with the offset read from a file the test
 * rewrites. FAKETIME_DONT_FAKE_MONOTONIC=1 keeps CLOCK_MONOTONIC and CLOCK_BOOTTIME real,
 * as they are when an operator or NTP steps the wall clock: that is the event to prove
 * harmless. (Without it libfaketime shifts the monotonic clocks too, which no kernel
 * does.) SigV4 signs with the shifted wall clock; the emulators do not check
 * signatures, so that does not matter here.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/fleet.h"
#include "tests/harness.h"

#define SHARDS 4
#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char env_preload[] = "LD_PRELOAD=" FAKETIME_LIB;
static char env_file[320];
static char env_cache[] = "FAKETIME_CACHE_DURATION=1"; /* re-read the file every second */
static char env_mono[] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
static char env_asan[512];

static int
set_offset(const char *path, const char *offset)
{
	FILE *fp = fopen(path, "w");

	if (!fp)
		return -1;
	fprintf(fp, "%s\n", offset);
	return fclose(fp) == 0 ? 0 : -1;
}

/* The wall clock a process with the faked environment sees, minus ours, in s. */
static long
faked_offset(void)
{
	const char *const env[] = { env_preload, env_file, env_cache, env_mono, NULL };
	char out[64] = "";
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0)
		return 0;
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		for (int i = 0; env[i]; i++)
			putenv((char *)env[i]);
		execl("/bin/date", "date", "+%s", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	waitpid(pid, &st, 0);
	if (n <= 0)
		return 0;
	return atol(out) - (long)time(NULL);
}

/* Whether pid has libfaketime mapped. */
static bool
preloaded(pid_t pid)
{
	char path[64], line[512];
	bool found = false;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (!(fp = fopen(path, "r")))
		return false;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, "libfaketime") != NULL;
	fclose(fp);
	return found;
}

/* Owner changes the monitor saw at or after t. */
static int
owner_changes_since(struct fleet *fl, int64_t t)
{
	int n = 0;

	pthread_mutex_lock(&fl->mon.mu);
	for (size_t i = 0; i < fl->mon.nev; i++)
		n += fl->mon.ev[i].t >= t;
	pthread_mutex_unlock(&fl->mon.mu);
	return n;
}

/* Lines of worker i's readers with a batch starting at or after t. */
static size_t
lines_since(struct fleet *fl, int i, int64_t t)
{
	size_t n = 0;

	if (ov_load(&fl->ov, fl->out) < 0)
		return 0;
	for (size_t s = 0; s < fl->ov.n; s++)
		for (size_t j = 0; j < fl->ov.s[s].n; j++)
			n += fl->ov.s[s].v[j].t0 >= t &&
			     strcmp(fl->ov.s[s].v[j].worker, fl->w[i].worker) == 0;
	return n;
}

static void
test_multi_clock_jumps(void)
{
	static const char *const steps[] = { "+1h", "+0", "-1h", "+0" };
	struct fleet fl;
	char file[256];
	const char *asan = getenv("ASAN_OPTIONS");
	bool live[FLEET_MAX] = { true, true, false };
	static const char *const trouble[] = { "not renewed in time", "lease deadline", " lost: " };
	int before[2][3];
	int64_t stable;

	if (access(FAKETIME_LIB, R_OK) < 0) {
		fprintf(stderr,
		    "\n%s: %s (install Debian's faketime package; scripts/setup does)\n",
		    FAKETIME_LIB, strerror(errno));
		CU_FAIL("libfaketime is not installed");
		return;
	}
	if (fleet_init(&fl, "multi-clock", SHARDS, 2, "KINESIS_ENDPOINT") < 0)
		goto out;
	snprintf(file, sizeof(file), "%s/faketime", fl.w[1].dir);
	snprintf(env_file, sizeof(env_file), "FAKETIME_TIMESTAMP_FILE=%s", file);
	/* A preload ahead of the sanitizer runtime: tell ASan that is intended. */
	snprintf(env_asan, sizeof(env_asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
	    asan ? asan : "", asan && *asan ? ":" : "");
	fl.w[1].env[0] = env_preload;
	fl.w[1].env[1] = env_file;
	fl.w[1].env[2] = env_cache;
	fl.w[1].env[3] = env_mono;
	fl.w[1].env[4] = env_asan;
	if (set_offset(file, "+0") < 0) {
		CU_FAIL("faketime file");
		goto out;
	}
	for (int i = 0; i < 2; i++)
		if (fleet_config(&fl, i, NULL) < 0)
			goto out;
	if (!fleet_run_all(&fl, 100, SHARDS / 2, SHARDS / 2))
		goto out;
	stable = mono_now().ns;
	CU_ASSERT_TRUE(preloaded(fl.w[1].pid));
	CU_ASSERT_FALSE(preloaded(fl.w[0].pid));
	for (int i = 0; i < 2; i++)
		for (int w = 0; w < 3; w++)
			before[i][w] = fixture_log_count(&fl.w[i], false, WORDS(trouble[w]));

	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		long want = steps[k][1] == '0' ? 0 : steps[k][0] == '+' ? 3600 : -3600, got;
		int64_t t = mono_now().ns;
		CU_ASSERT_EQUAL(set_offset(file, steps[k]), 0);
		sleep_ms(1500); /* libfaketime re-reads the file within a second */
		got = faked_offset();
		fprintf(stderr, "\nwall clock of worker 1 now %+ld s off\n", got);
		CU_ASSERT_TRUE(labs(got - want) <= 5);
		/* More than a failover time at this offset: an hour's jump seen by any
		 * wall-clock use in the lease logic would expire, fence or take something. */
		sleep_ms(FLEET_FAILOVER_MS + 1000);
		/* Its readers keep delivering. */
		CU_ASSERT_TRUE(lines_since(&fl, 1, t) > 0);
	}
	CU_ASSERT_EQUAL(owner_changes_since(&fl, stable), 0);
	CU_ASSERT_TRUE(fleet_wait_spread(&fl, live, SHARDS / 2, SHARDS / 2, 1000) >= 0);
	/* Nothing was drained, killed or lost for its lease since the workers settled. */
	for (int i = 0; i < 2; i++)
		for (int w = 0; w < 3; w++) {
			int now = fixture_log_count(&fl.w[i], false, WORDS(trouble[w]));
			if (now != before[i][w])
				fprintf(stderr,
				    "\nworker %d logged \"%s\" %d times during the jumps\n", i,
				    trouble[w], now - before[i][w]);
			CU_ASSERT_EQUAL(now, before[i][w]);
		}
	fleet_finish(&fl);
out:
	fleet_done(&fl);
}

static CU_TestInfo multi_clock_tests[] = {
	{ "wall clock an hour forward and back on one worker", test_multi_clock_jumps },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "multi_clock", NULL, NULL, NULL, NULL, multi_clock_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
