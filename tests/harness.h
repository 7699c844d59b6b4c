/*
 * Shared test support: a CUnit main that prints the basic run summary (scripts/test
 * sums those lines), and the paths and endpoints the tests are given.
 */
#ifndef KLS_TEST_HARNESS_H
#define KLS_TEST_HARNESS_H

#include <CUnit/CUnit.h>

/* Registers the suites, runs them in basic mode, returns the process exit status
 * (0 only when every test ran and passed). Usage: return test_main(argc, argv, suites); */
int test_main(int argc, char **argv, CU_SuiteInfo *suites);

/* Folder of the public test vectors (../shared/testdata), from configure or KLS_TESTDATA. */
const char *test_data_dir(void);
/* "$top_srcdir" and "$top_builddir" of this build, absolute. */
const char *test_srcdir(void);
const char *test_builddir(void);

/* The value of an environment variable that an integration test needs. When it is
 * missing the current test fails with a message that says how to run the suite
 * (scripts/test starts the emulators and sets it); returns NULL then. */
const char *test_env(const char *name);

/* A name unique to this test run, e.g. for streams and tables: "<prefix>-<pid>-<n>". */
void test_unique_name(char *out, size_t size, const char *prefix);

#endif
