/* CUnit main shared by every test program: see harness.h. */
#include "config.h"

#include "tests/harness.h"

#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
test_main(int argc, char **argv, CU_SuiteInfo *suites)
{
	unsigned failures, ran, total;

	(void)argc;
	(void)argv;
	/* Like the daemons, tests take a peer's closed socket as an error return, not a
	 * process-killing SIGPIPE (loopback TLS servers in tests write with plain write). */
	signal(SIGPIPE, SIG_IGN);
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CU_initialize_registry: %s\n", CU_get_error_msg());
		return 1;
	}
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "CU_register_suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	ran = CU_get_number_of_tests_run();
	total = CU_get_registry()->uiNumberOfTests;
	CU_cleanup_registry();
	/* A suite whose setup failed runs fewer tests than it registered: that is a failure. */
	if (ran != total) {
		fprintf(stderr, "only %u of %u tests ran\n", ran, total);
		return 1;
	}
	return failures ? 1 : 0;
}

const char *
test_data_dir(void)
{
	const char *e = getenv("KLS_TESTDATA");
	return e && *e ? e : KLS_TESTDATA_DIR;
}

const char *
test_srcdir(void)
{
	return KLS_TOP_SRCDIR;
}

const char *
test_builddir(void)
{
	return KLS_TOP_BUILDDIR;
}

const char *
test_env(const char *name)
{
	const char *v = getenv(name);
	if (v && *v)
		return v;
	/* Say which variable first: CU_FAIL_FATAL leaves the test at once. */
	fprintf(stderr, "missing environment variable %s\n", name);
	CU_FAIL_FATAL("integration environment missing: run ./scripts/test, or "
		      "eval \"$(scripts/emulators env)\" after scripts/emulators start");
	return NULL;
}

void
test_unique_name(char *out, size_t size, const char *prefix)
{
	static unsigned counter; /* single-threaded test programs */
	snprintf(out, size, "%s-%ld-%u", prefix, (long)getpid(), counter++);
}
