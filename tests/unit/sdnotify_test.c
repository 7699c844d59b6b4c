/*
 * Tests of common/sdnotify: a datagram socket in a temporary directory (and one in the
 * abstract namespace) stands in for systemd and must receive klsd's messages in order;
 * bad socket names, watchdog variables, and a full queue that must not block.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/sdnotify.h"
#include "tests/harness.h"

/* A bound datagram socket standing in for systemd's notify socket. */
struct fake_systemd {
	char dir[64];
	char path[128]; /* what NOTIFY_SOCKET would say */
	int fd;
};

static void
fake_open(struct fake_systemd *f, bool abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len;

	memset(f, 0, sizeof(*f));
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(f->fd >= 0);
	if (abstract) {
		snprintf(f->path, sizeof(f->path), "@kls-sdnotify-test-%ld", (long)getpid());
		memcpy(a.sun_path + 1, f->path + 1, strlen(f->path) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(f->path));
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/kls-sdnotify-XXXXXX");
		CU_ASSERT_FATAL(mkdtemp(f->dir) != NULL);
		snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
		CU_ASSERT_FATAL(strlen(f->path) < sizeof(a.sun_path));
		memcpy(a.sun_path, f->path, strlen(f->path) + 1);
		len = sizeof(a);
	}
	CU_ASSERT_FATAL(bind(f->fd, (struct sockaddr *)&a, len) == 0);
}

static void
fake_close(struct fake_systemd *f)
{
	close(f->fd);
	if (f->dir[0]) {
		unlink(f->path);
		rmdir(f->dir);
	}
}

/* The next datagram, NUL-terminated; waits at most a few seconds. */
static void
fake_recv(struct fake_systemd *f, char *buf, size_t size)
{
	struct timeval tv = {.tv_sec = 5};
	ssize_t r;

	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = recv(f->fd, buf, size - 1, 0);
	CU_ASSERT_FATAL(r >= 0);
	buf[r] = '\0';
}

static uint64_t
monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Startup, watchdog, reload, shutdown: what systemd must see, in this order. */
static void
run_lifecycle(bool abstract)
{
	struct fake_systemd f;
	struct sdnotify n;
	char buf[SDNOTIFY_MSG_MAX + 1];
	uint64_t before, after, stamp;

	fake_open(&f, abstract);
	CU_ASSERT_FATAL(sdnotify_open(&n, f.path) == 0);
	CU_ASSERT(sdnotify_enabled(&n));

	CU_ASSERT_EQUAL(sdnotify_mainpid(&n, 4242), 0);
	CU_ASSERT_EQUAL(sdnotify_status(&n, "taking leases"), 0);
	CU_ASSERT_EQUAL(sdnotify_ready(&n, "4 leases held"), 0);
	CU_ASSERT_EQUAL(sdnotify_watchdog(&n), 0);
	before = monotonic_usec();
	CU_ASSERT_EQUAL(sdnotify_reloading(&n, NULL), 0);
	after = monotonic_usec();
	CU_ASSERT_EQUAL(sdnotify_ready(&n, NULL), 0);
	CU_ASSERT_EQUAL(sdnotify_stopping(&n, "releasing leases"), 0);

	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "MAINPID=4242");
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "STATUS=taking leases");
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=4 leases held");
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "WATCHDOG=1");
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_EQUAL(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	CU_ASSERT_EQUAL(sscanf(buf + 27, "%" SCNu64, &stamp), 1);
	CU_ASSERT(stamp >= before && stamp <= after);
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "READY=1");
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "STOPPING=1\nSTATUS=releasing leases");

	sdnotify_close(&n);
	CU_ASSERT_FALSE(sdnotify_enabled(&n));
	fake_close(&f);
}

static void
test_sdnotify_path_socket_in_order(void)
{
	run_lifecycle(false);
}

static void
test_sdnotify_abstract_socket_in_order(void)
{
	run_lifecycle(true);
}

/* Without NOTIFY_SOCKET every call succeeds and does nothing. */
static void
test_sdnotify_off_is_noop(void)
{
	struct sdnotify n;

	CU_ASSERT_EQUAL(sdnotify_open(&n, NULL), 0);
	CU_ASSERT_FALSE(sdnotify_enabled(&n));
	CU_ASSERT_EQUAL(sdnotify_ready(&n, "x"), 0);
	CU_ASSERT_EQUAL(sdnotify_watchdog(&n), 0);
	CU_ASSERT_EQUAL(sdnotify_stopping(&n, NULL), 0);
	sdnotify_close(&n);
	CU_ASSERT_EQUAL(sdnotify_open(&n, ""), 0);
	CU_ASSERT_FALSE(sdnotify_enabled(&n));
}

static void
test_sdnotify_bad_socket_names(void)
{
	char longpath[200], longabs[200];
	const struct {
		const char *path;
		int err;
	} cases[] = {
	    {"relative/notify", EINVAL},
	    {"notify", EINVAL},
	    {longpath, ENAMETOOLONG},
	    {longabs, ENAMETOOLONG},
	};

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	memset(longabs, 'b', sizeof(longabs) - 1);
	longabs[0] = '@';
	longabs[sizeof(longabs) - 1] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sdnotify n;
		errno = 0;
		CU_ASSERT_EQUAL(sdnotify_open(&n, cases[i].path), -1);
		CU_ASSERT_EQUAL(errno, cases[i].err);
		CU_ASSERT_FALSE(sdnotify_enabled(&n));
	}
}

/* A status must not smuggle extra assignments in; oversized messages are refused. */
static void
test_sdnotify_bad_messages(void)
{
	struct fake_systemd f;
	struct sdnotify n;
	char big[SDNOTIFY_MSG_MAX + 2];

	fake_open(&f, false);
	CU_ASSERT_FATAL(sdnotify_open(&n, f.path) == 0);
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_ready(&n, "ok\nWATCHDOG=trigger"), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_status(&n, "a\nb"), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_send(&n, big), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	errno = 0;
	CU_ASSERT_EQUAL(sdnotify_status(&n, big), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	sdnotify_close(&n);
	fake_close(&f);
}

/* A systemd that stops reading must not stall klsd's loop: sends fail with EAGAIN. */
static void
test_sdnotify_full_queue_does_not_block(void)
{
	struct fake_systemd f;
	struct sdnotify n;
	int rc = 0, i;

	fake_open(&f, false);
	CU_ASSERT_FATAL(sdnotify_open(&n, f.path) == 0);
	for (i = 0; i < 100000 && rc == 0; i++)
		rc = sdnotify_watchdog(&n);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	sdnotify_close(&n);
	fake_close(&f);
}

static void
test_sdnotify_watchdog_parse(void)
{
	const struct {
		const char *usec, *pid;
		int rc;
		uint64_t interval, period_ms;
	} cases[] = {
	    {NULL, NULL, 0, 0, 0},
	    {"", NULL, 0, 0, 0},
	    {"30000000", NULL, 0, 30000000, 15000},
	    {"30000000", "1000", 0, 30000000, 15000}, /* 1000 is self below */
	    {"30000000", "1001", 0, 0, 0},            /* meant for another process */
	    {"1", NULL, 0, 1, 1},                     /* never a zero period */
	    {"0", NULL, -1, 0, 0},
	    {"-5", NULL, -1, 0, 0},
	    {"12s", NULL, -1, 0, 0},
	    {" 5", NULL, -1, 0, 0},
	    {"99999999999999999999999", NULL, -1, 0, 0},
	    {"30000000", "abc", -1, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t interval = 77;
		int rc = sdnotify_watchdog_parse(cases[i].usec, cases[i].pid, 1000, &interval);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		if (rc < 0) {
			CU_ASSERT_EQUAL(errno, EINVAL);
			continue;
		}
		CU_ASSERT_EQUAL(interval, cases[i].interval);
		CU_ASSERT_EQUAL(sdnotify_watchdog_period_ms(interval), cases[i].period_ms);
	}
}

/* Readers exec'd after start-up must not inherit the notify socket or watchdog. */
static void
test_sdnotify_env_consumed(void)
{
	struct fake_systemd f;
	struct sdnotify n;
	char pid[32], buf[64];
	uint64_t interval;

	fake_open(&f, false);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", f.path, 1);
	setenv("WATCHDOG_USEC", "20000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	CU_ASSERT_EQUAL(sdnotify_watchdog_env(&interval), 0);
	CU_ASSERT_EQUAL(interval, 20000000);
	CU_ASSERT_EQUAL(sdnotify_open_env(&n), 0);
	CU_ASSERT(sdnotify_enabled(&n));
	CU_ASSERT_PTR_NULL(getenv("NOTIFY_SOCKET"));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_USEC"));
	CU_ASSERT_PTR_NULL(getenv("WATCHDOG_PID"));
	CU_ASSERT_EQUAL(sdnotify_ready(&n, NULL), 0);
	fake_recv(&f, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "READY=1");
	sdnotify_close(&n);
	fake_close(&f);
}

static CU_TestInfo sdnotify_tests[] = {
    {"path socket in order", test_sdnotify_path_socket_in_order},
    {"abstract socket in order", test_sdnotify_abstract_socket_in_order},
    {"off is a no-op", test_sdnotify_off_is_noop},
    {"bad socket names", test_sdnotify_bad_socket_names},
    {"bad messages", test_sdnotify_bad_messages},
    {"full queue does not block", test_sdnotify_full_queue_does_not_block},
    {"watchdog parse", test_sdnotify_watchdog_parse},
    {"environment consumed", test_sdnotify_env_consumed},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"sdnotify", NULL, NULL, NULL, NULL, sdnotify_tests},
    CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
