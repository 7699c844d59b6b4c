/* Tests of common/buf: growth, the hard cap, JSON string escaping. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "tests/harness.h"

static void
test_buf_append_grows(void)
{
	struct kls_buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL_FATAL(buf_printf(&b, "%04d", i), 0);
	CU_ASSERT_EQUAL(b.len, 4000);
	CU_ASSERT_EQUAL(memcmp(b.data + 3996, "0999", 4), 0);
	CU_ASSERT_EQUAL(b.data[b.len], '\0');
	buf_free(&b);
}

static void
test_buf_limit_refuses(void)
{
	struct kls_buf b;
	buf_init(&b, 10);
	CU_ASSERT_EQUAL(buf_append(&b, "0123456789", 10), 0);
	errno = 0;
	CU_ASSERT_EQUAL(buf_append(&b, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	CU_ASSERT_EQUAL(b.len, 10);
	buf_free(&b);
}

static void
test_buf_json_string_escapes(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "q\"b\\", "\"q\\\"b\\\\\"" },
		{ "a\nb\tc\r", "\"a\\nb\\tc\\r\"" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"" },
		{ "", "\"\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_buf b;
		buf_init(&b, 0);
		CU_ASSERT_EQUAL(buf_json_string(&b, cases[i].in), 0);
		CU_ASSERT_STRING_EQUAL(b.data, cases[i].out);
		buf_free(&b);
	}
}

static CU_TestInfo buf_tests[] = {
	{ "append grows", test_buf_append_grows },
	{ "limit refuses", test_buf_limit_refuses },
	{ "json string escapes", test_buf_json_string_escapes },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "buf", NULL, NULL, NULL, NULL, buf_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
