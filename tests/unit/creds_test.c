/* Tests of common/creds: the static provider and the standard chain. */
#include "config.h"

#include <string.h>

#include "common/creds.h"
#include "tests/harness.h"

static void
test_creds_static(void)
{
	struct aws_creds_provider *p = creds_provider_new_static("AKID", "SECRET", NULL);
	struct aws_credentials c;
	struct aws_error err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKID");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "SECRET");
	CU_ASSERT_STRING_EQUAL(c.session_token, "");
	CU_ASSERT_EQUAL(c.expires_ms, 0);
	CU_ASSERT_STRING_EQUAL(c.source, "static");
	creds_provider_free(p);
}

static CU_TestInfo creds_tests[] = {
	{ "static", test_creds_static },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "creds", NULL, NULL, NULL, NULL, creds_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
