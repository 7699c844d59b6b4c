/* Tests of supervisor/readers.c: exit meanings, restart backoff (doubling, cap, reset
 * after a healthy run), and a real fork+exec with the reader_proto.h arguments and
 * descriptors, then the process-table bookkeeping of the reap. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/readers.h"
#include "tests/harness.h"

#define MS(x) ((kls_mono){ (int64_t)(x)*1000000 })

static void
test_readers_verdicts(void)
{
	static const struct {
		int wstatus;
		enum reader_verdict v;
		const char *text;
	} cases[] = {
		{ 0 << 8, READER_V_DRAINED, "exited with status 0 (drained)" },
		{ 1 << 8, READER_V_RESTART, "exited with status 1 (transient failure)" },
		{ 2 << 8, READER_V_PERMANENT, "exited with status 2 (permanent failure)" },
		{ 3 << 8, READER_V_LEASE_LOST, "exited with status 3 (lease lost)" },
		{ 4 << 8, READER_V_SHARD_END, "exited with status 4 (shard end)" },
		{ 77 << 8, READER_V_RESTART, "exited with status 77 (unknown status)" },
		{ SIGSEGV | 0x80, READER_V_RESTART, "killed by signal 11 (SIGSEGV, core dumped)" },
		{ SIGKILL, READER_V_RESTART, "killed by signal 9 (SIGKILL)" },
		{ SIGABRT, READER_V_RESTART, "killed by signal 6 (SIGABRT)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[96];
		CU_ASSERT_EQUAL(reader_verdict(cases[i].wstatus), cases[i].v);
		reader_describe_exit(cases[i].wstatus, text, sizeof(text));
		if (strcmp(text, cases[i].text) != 0)
			fprintf(stderr, "\ncase %zu: \"%s\"\n", i, text);
		CU_ASSERT_STRING_EQUAL(text, cases[i].text);
	}
}

static void
test_readers_backoff(void)
{
	/* Crashes 1 s after each start: at once, then 100, 200, 400 ... capped at 30000. */
	static const int64_t want[] = { 0, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600,
		30000, 30000 };
	int64_t state = 0;
	kls_mono t = MS(1000000);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int64_t d = reader_restart_delay(&state, t, mono_add_ms(t, 1000), 100, 30000);
		CU_ASSERT_EQUAL(d, want[i]);
		t = mono_add_ms(t, 1000 + d);
	}
	/* A run of a healthy minute resets it: at once again, then the minimum. */
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, mono_add_ms(t, READER_HEALTHY_MS), 100,
	                    30000),
	    0);
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, mono_add_ms(t, 10), 100, 30000), 100);
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, mono_add_ms(t, 10), 100, 30000), 200);
	/* Just short of a healthy minute: the backoff goes on doubling. */
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, mono_add_ms(t, READER_HEALTHY_MS - 1),
	                    100, 30000),
	    400);
	/* Odd bounds: max below min, min below 1. */
	state = 0;
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, t, 500, 100), 0);
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, t, 500, 100), 500);
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, t, 500, 100), 500);
	state = 0;
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, t, 0, 10), 0);
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, t, 0, 10), 1);
	CU_ASSERT_EQUAL(reader_restart_delay(&state, t, t, 0, 10), 2);
}

/* A stand-in reader: checks the arguments and descriptors reader_proto.h promises and
 * the environment (klsd's, plus GnuTLS's implicit initialization turned off), reports
 * through its exit status (0 = all as promised), after writing a wake byte. */
static const char fake_script[] =
    "#!/bin/sh\n"
    "[ \"$1 $2 $3 $4 $5 $6 $7 $8\" = \"--config-fd 3 --shm /kls.x --slot 7 --wake-fd 4\" ] || exit "
    "10\n"
    "[ \"$(cat /proc/self/fd/3)\" = \"hello config\" ] || exit 11\n"
    "for fd in 5 6 7 8 9; do [ -e /proc/self/fd/$fd ] && exit 12; done\n"
    "grep -q '^SigBlk:[[:space:]]*0*$' /proc/self/status || exit 13\n"
    "printf x >&4 || exit 14\n"
    "[ \"$GNUTLS_NO_IMPLICIT_INIT\" = 1 ] || exit 15\n"
    "[ \"$KLS_READERS_TEST\" = kept ] || exit 16\n"
    "exit 0\n";

static void
test_readers_spawn(void)
{
	char dir[] = "/tmp/kls-readers-test.XXXXXX", exe[64];
	struct reader_proc p;
	struct reader_spawn rs;
	sigset_t block, old;
	int fd, st = 0, cfd, extra;
	char byte = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/reader", dir);
	fd = open(exe, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, fake_script, sizeof(fake_script) - 1),
	    (ssize_t)sizeof(fake_script) - 1);
	close(fd);
	cfd = reader_config_memfd("hello config", 12);
	CU_ASSERT_TRUE_FATAL(cfd >= 0);
	/* The configuration cannot be changed once sealed. */
	CU_ASSERT_EQUAL(write(cfd, "x", 1), -1);
	/* A descriptor klsd has open without CLOEXEC must not reach the reader. */
	extra = open("/dev/null", O_RDONLY);
	/* klsd blocks its signals; the child must not inherit that. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);

	setenv("KLS_READERS_TEST", "kept", 1);
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	rs = (struct reader_spawn){ .exe = exe, .config_fd = cfd, .shm_name = "/kls.x" };
	reader_proc_init(&p, "shardId-000000000007", 7);
	CU_ASSERT_EQUAL(p.wake_fd, -1);
	CU_ASSERT_EQUAL(p.last_status, -1);
	CU_ASSERT_EQUAL_FATAL(reader_spawn(&rs, &p, MS(5)), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	CU_ASSERT_EQUAL(p.state, READER_RUNNING);
	CU_ASSERT_TRUE(p.pid > 0);
	CU_ASSERT_TRUE(p.wake_fd >= 0);
	CU_ASSERT_EQUAL(p.started_at.ns, MS(5).ns);
	CU_ASSERT_EQUAL(waitpid(p.pid, &st, 0), p.pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "\nfake reader: status 0x%x\n", (unsigned)st);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Its wake byte arrived on our end, which is non-blocking. */
	CU_ASSERT_EQUAL(read(p.wake_fd, &byte, 1), 1);
	CU_ASSERT_EQUAL(byte, 'x');
	CU_ASSERT_EQUAL(read(p.wake_fd, &byte, 1), 0); /* writer gone: EOF */
	CU_ASSERT_TRUE(fcntl(p.wake_fd, F_GETFL) & O_NONBLOCK);
	reader_reaped(&p, st);
	CU_ASSERT_EQUAL(p.pid, 0);
	CU_ASSERT_EQUAL(p.wake_fd, -1);
	CU_ASSERT_EQUAL(p.last_status, st);

	/* A missing executable: the child exits 127, which reads as transient. */
	snprintf(exe, sizeof(exe), "%s/missing", dir);
	CU_ASSERT_EQUAL_FATAL(reader_spawn(&rs, &p, MS(6)), 0);
	CU_ASSERT_EQUAL(waitpid(p.pid, &st, 0), p.pid);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 127);
	CU_ASSERT_EQUAL(reader_verdict(st), READER_V_RESTART);
	reader_reaped(&p, st);

	close(extra);
	close(cfd);
	snprintf(exe, sizeof(exe), "%s/reader", dir);
	unlink(exe);
	rmdir(dir);
}

static void
test_readers_exe_path(void)
{
	char path[4096];

	setenv("KLS_READER", "/opt/kls/kls-reader", 1);
	CU_ASSERT_EQUAL(reader_exe_path(path, sizeof(path)), 0);
	CU_ASSERT_STRING_EQUAL(path, "/opt/kls/kls-reader");
	setenv("KLS_READER", "relative/kls-reader", 1);
	CU_ASSERT_EQUAL(reader_exe_path(path, sizeof(path)), -1);
	unsetenv("KLS_READER");
	/* From the test program's directory there is no ../reader/kls-reader: the
	 * installed path. */
	CU_ASSERT_EQUAL(reader_exe_path(path, sizeof(path)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(path, "kls-reader"));
}

static CU_TestInfo readers_tests[] = {
	{ "exit verdicts and descriptions", test_readers_verdicts },
	{ "restart backoff", test_readers_backoff },
	{ "spawn per reader_proto.h, then reap", test_readers_spawn },
	{ "executable path", test_readers_exe_path },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "readers", NULL, NULL, NULL, NULL, readers_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
