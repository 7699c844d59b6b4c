/* Tests of supervisor/worker_id.c: the id is made once ("<host>:<uuid>", state
 * directory 0700, file 0600), read back unchanged, and a corrupt file is refused. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/worker_id.h"
#include "tests/harness.h"

static void
test_worker_id_made_once(void)
{
	char base[] = "/tmp/kls-wid-test.XXXXXX", dir[128], file[160], a[WORKER_ID_MAX + 1],
	     b[WORKER_ID_MAX + 1], why[256] = "";
	struct stat st;
	const char *colon;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/var/lib/kls/app", base);
	snprintf(file, sizeof(file), "%s/worker-id", dir);
	CU_ASSERT_EQUAL_FATAL(worker_id_load(dir, a, sizeof(a), why, sizeof(why)), 0);
	CU_ASSERT_TRUE(worker_id_valid(a));
	colon = strrchr(a, ':');
	CU_ASSERT_PTR_NOT_NULL_FATAL(colon);
	CU_ASSERT_EQUAL(strlen(colon + 1), 36);
	CU_ASSERT_EQUAL(colon[15], '4'); /* version 4 */
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	CU_ASSERT_EQUAL(stat(file, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	/* A restart finds the same id. */
	CU_ASSERT_EQUAL(worker_id_load(dir, b, sizeof(b), why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(a, b);

	/* A file that does not hold an id is refused, not replaced. */
	{
		int fd = open(file, O_WRONLY | O_TRUNC);
		CU_ASSERT_EQUAL(write(fd, "two words\n", 10), 10);
		close(fd);
	}
	CU_ASSERT_EQUAL(worker_id_load(dir, b, sizeof(b), why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not hold a worker id"));

	unlink(file);
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(dir, '/');
		rmdir(dir);
		*slash = '\0';
	}
	rmdir(base);
}

static void
test_worker_id_valid(void)
{
	char long_id[WORKER_ID_MAX + 2];

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	CU_ASSERT_TRUE(worker_id_valid("host:1234"));
	CU_ASSERT_FALSE(worker_id_valid(""));
	CU_ASSERT_FALSE(worker_id_valid("a b"));
	CU_ASSERT_FALSE(worker_id_valid("tab\there"));
	CU_ASSERT_FALSE(worker_id_valid(long_id));
	long_id[WORKER_ID_MAX] = '\0';
	CU_ASSERT_TRUE(worker_id_valid(long_id));
}

static void
test_worker_id_unwritable(void)
{
	char out[WORKER_ID_MAX + 1], why[256] = "";

	/* /proc is not a place for state: the error names the directory. */
	CU_ASSERT_EQUAL(worker_id_load("/proc/kls-no-such-dir", out, sizeof(out), why, sizeof(why)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "/proc/kls-no-such-dir"));
}

static CU_TestInfo worker_id_tests[] = {
	{ "made once, kept", test_worker_id_made_once },
	{ "valid ids", test_worker_id_valid },
	{ "unwritable state directory", test_worker_id_unwritable },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "worker_id", NULL, NULL, NULL, NULL, worker_id_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
